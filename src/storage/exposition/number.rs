//! Sample values and timestamps, with a fast path for plain decimals.

use crate::model::Timestamp;

/// Powers of ten that are exact in an `f64`.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The largest integer up to which every integer is exact in an `f64`.
const MAX_EXACT_MANTISSA: u64 = 1 << 53;

/// `[+-]digits[.digits]` whose digits, read as an integer, are exact in an
/// `f64` and with at most 22 fraction digits. Then the value is one exact
/// integer divided by one exact power of ten, and IEEE division rounds that
/// correctly — the same result `str::parse` gives. Anything else is `None`.
pub(super) fn parse_plain_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut digit_count = 0usize;
    let mut fraction_digits: Option<usize> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                if mantissa > MAX_EXACT_MANTISSA {
                    return None;
                }
                digit_count += 1;
                if let Some(f) = fraction_digits.as_mut() {
                    *f += 1;
                }
            }
            b'.' if fraction_digits.is_none() => fraction_digits = Some(0),
            _ => return None,
        }
    }
    if digit_count == 0 {
        return None;
    }
    let scale = EXACT_POWERS_OF_TEN.get(fraction_digits.unwrap_or(0))?;
    // Exact conversion: the mantissa is at most 2^53.
    let magnitude = mantissa as f64 / scale;
    Some(if negative { -magnitude } else { magnitude })
}

/// A sample value; Go float syntax without hex floats or underscores.
pub(super) fn parse_value(text: &str) -> Result<f64, String> {
    if let Some(v) = parse_plain_decimal(text.as_bytes()) {
        return Ok(v);
    }
    if text.contains(['p', 'P', '_']) || text.starts_with("0x") || text.starts_with("0X") {
        return Err(format!("unsupported character in float: {text:?}"));
    }
    let v: f64 = text
        .parse()
        .map_err(|_| format!("invalid value {text:?}"))?;
    Ok(if v.is_nan() { f64::NAN } else { v })
}

/// `123.456` in OpenMetrics, `1400000000000` (ms) in the text format.
pub(super) fn parse_timestamp(text: &str, om: bool) -> Result<Timestamp, String> {
    if om {
        let secs = parse_value(text)?;
        if !secs.is_finite() {
            return Err(format!("invalid timestamp {text}"));
        }
        Ok((secs * 1000.0) as i64)
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>()
            .map_err(|e| format!("invalid timestamp {text:?}: {e}"))
    } else {
        Err(format!("invalid timestamp {text:?}"))
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` with `.0` appended to integers,
/// as Prometheus normalizes `le` and `quantile` values.
pub(super) fn open_metrics_float(f: f64) -> String {
    let s = crate::model::float_format::format_go_g(f);
    if s.contains(['e', '.', 'N', 'I']) {
        s
    } else {
        s + ".0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_decimals_match_the_standard_parser() {
        for text in [
            "0",
            "-0",
            "+0.0",
            "1",
            "1.",
            ".5",
            "-.5",
            "1700000000.250",
            "0.1",
            "0.3000000000000001",
            "9007199254740992",
            "123456789.1234567",
            "0.0000000000000000000001",
        ] {
            let fast = parse_plain_decimal(text.as_bytes());
            let slow: f64 = text.parse().unwrap();
            assert_eq!(fast.map(f64::to_bits), Some(slow.to_bits()), "{text}");
        }
    }

    #[test]
    fn other_syntax_takes_the_slow_path() {
        for text in [
            "",
            ".",
            "-",
            "1e3",
            "NaN",
            "+Inf",
            "1.2.3",
            "0x10",
            "1_000",
            "9007199254740993",
            "0.30000000000000004",
            "0.00000000000000000000001",
        ] {
            assert_eq!(parse_plain_decimal(text.as_bytes()), None, "{text}");
        }
        assert_eq!(parse_value("1e3"), Ok(1000.0));
        assert!(parse_value("1_000").is_err());
        assert_eq!(parse_value("9007199254740993"), Ok(9007199254740993.0));
    }

    proptest! {
        #[test]
        fn fast_path_is_bit_exact(text in r"[+-]?[0-9]{0,17}(\.[0-9]{0,23})?") {
            if let Some(fast) = parse_plain_decimal(text.as_bytes()) {
                let slow: f64 = text.parse().unwrap();
                prop_assert_eq!(fast.to_bits(), slow.to_bits());
            }
        }
    }
}
