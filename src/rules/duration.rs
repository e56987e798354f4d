//! Prometheus durations as written in rule files (`5m`, `1h30m`, `0`, `1w2d`).

use std::time::Duration;

/// Why a duration string was rejected. `Display` gives Prometheus' message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string was empty.
    #[error("empty duration string")]
    Empty,
    /// Not of the form `[Ny][Nw][Nd][Nh][Nm][Ns][Nms]` (units in this order, each at most once).
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// Larger than Prometheus can represent (about 292 years).
    #[error("duration out of range")]
    OutOfRange,
}

/// Units in the order they must appear, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration. `"0"` is zero; otherwise each unit (`y w d
/// h m s ms`) may appear once, in that order, after a decimal integer.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid(text.to_string());
    let mut rest = text;
    let mut next_unit = 0;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return Err(invalid());
        }
        let (digits, after) = rest.split_at(digits_len);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after_unit) = after.split_at(unit_len);
        let index = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(invalid)?;
        if index < next_unit {
            return Err(invalid());
        }
        next_unit = index + 1;
        let amount: u64 = digits.parse().map_err(|_| DurationError::OutOfRange)?;
        let ms = amount
            .checked_mul(UNITS[index].1)
            .ok_or(DurationError::OutOfRange)?;
        total_ms = total_ms.checked_add(ms).ok_or(DurationError::OutOfRange)?;
        rest = after_unit;
    }
    if total_ms > i64::MAX as u64 {
        return Err(DurationError::OutOfRange);
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration as Prometheus does (`1h30m`, `90ms`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (name, size) in UNITS {
        let count = ms / size;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(name);
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1w2d"), Ok(Duration::from_secs(9 * 86400)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn rejects_bad_durations() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("5").unwrap_err().to_string(),
            "not a valid duration string: \"5\""
        );
        assert!(parse_duration("5m1h").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("5m5m").is_err());
        assert_eq!(
            parse_duration("99999999999y"),
            Err(DurationError::OutOfRange)
        );
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
    }
}
