//! Number and duration literals with Go's and Prometheus' rules.

use crate::parser::quote::go_quote;

/// Parses a number token as Prometheus does: first as a Go integer with
/// base prefix (`0x1f`, `017` octal, `1_000`), then as a Go float (`1e3`,
/// `.5`, `Inf`, `NaN`). The error is the text after `error parsing number: `.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    if let Some(v) = parse_go_int(text) {
        return Ok(v as f64);
    }
    parse_go_float(text).ok_or_else(|| {
        let why = if float_syntax_ok(text) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        format!("strconv.ParseFloat: parsing {}: {why}", go_quote(text))
    })
}

/// Go's `strconv.ParseInt(s, 0, 64)` for unsigned input; `None` on any error.
fn parse_go_int(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (base, digits, prefixed) = if b.len() >= 2 && b[0] == b'0' {
        match b[1].to_ascii_lowercase() {
            b'x' => (16, &s[2..], true),
            b'b' => (2, &s[2..], true),
            b'o' => (8, &s[2..], true),
            _ => (8, &s[1..], true),
        }
    } else {
        (10, s, false)
    };
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    let mut value: i64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(base)?;
        value = value.checked_mul(base as i64)?.checked_add(d as i64)?;
        any = true;
    }
    // "0" alone and "0_0"-style octal with no digits after the prefix.
    if !(any || (prefixed && base == 8 && !digits.is_empty())) {
        return if s == "0" { Some(0) } else { None };
    }
    Some(value)
}

/// Go's rule: underscores only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Whether `s` is syntactically a Go decimal float (so that a failure means overflow).
fn float_syntax_ok(s: &str) -> bool {
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    let lower = cleaned.to_ascii_lowercase();
    if lower.starts_with("0x") {
        return false;
    }
    (!s.contains('_') || underscores_ok(s)) && lower.parse::<f64>().is_ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms the lexer produces.
fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => return Some(f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if lower.starts_with("0x") {
        // Hexadecimal floats need a 'p' exponent, which the lexer never produces.
        return None;
    }
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    if !lower
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    let v: f64 = cleaned.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Nanoseconds in each duration unit, largest first, with its order.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1_000_000_000),
    ("w", 7 * 24 * 3600 * 1_000_000_000),
    ("d", 24 * 3600 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
];

/// Parses a Prometheus duration (`1h30m`, `5m`, `100ms`, `0`) to seconds.
pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    match s {
        "0" => return Ok(0.0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit = 0usize;
    while !rest.is_empty() {
        let ndigits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if ndigits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..ndigits].parse().map_err(|_| invalid())?;
        rest = &rest[ndigits..];
        let nunit = rest.bytes().take_while(|c| !c.is_ascii_digit()).count();
        if nunit == 0 {
            return Err(invalid());
        }
        let unit = &rest[..nunit];
        rest = &rest[nunit..];
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                go_quote(unit),
                go_quote(s)
            ));
        };
        let order = pos + 1;
        if order <= last_unit {
            return Err(invalid());
        }
        last_unit = order;
        let mult = UNITS[pos].1;
        if value > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        total = total
            .checked_add(value * mult)
            .filter(|t| *t < (1u64 << 63))
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    let secs = total / 1_000_000_000;
    let nanos = total % 1_000_000_000;
    Ok(secs as f64 + nanos as f64 / 1e9)
}

/// Whether `seconds` does not fit a Go `time.Duration` (int64 nanoseconds).
/// (NaN is not out of range, as in Prometheus.)
#[allow(clippy::excessive_precision, clippy::manual_range_contains)]
pub(crate) fn duration_out_of_range(seconds: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036.854_775_808;
    seconds > LIMIT || seconds < -LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1").unwrap(), 1.0);
        assert_eq!(parse_number("0x1f").unwrap(), 31.0);
        assert_eq!(parse_number("010").unwrap(), 8.0);
        assert_eq!(parse_number("09").unwrap(), 9.0);
        assert_eq!(parse_number("1_000").unwrap(), 1000.0);
        assert_eq!(parse_number("1e3").unwrap(), 1000.0);
        assert_eq!(parse_number(".5").unwrap(), 0.5);
        assert_eq!(parse_number("5.").unwrap(), 5.0);
        assert_eq!(parse_number("Inf").unwrap(), f64::INFINITY);
        assert!(parse_number("nAn").unwrap().is_nan());
        assert_eq!(
            parse_number("1e999").unwrap_err(),
            "strconv.ParseFloat: parsing \"1e999\": value out of range"
        );
        assert_eq!(
            parse_number("0x").unwrap_err(),
            "strconv.ParseFloat: parsing \"0x\": invalid syntax"
        );
        assert_eq!(
            parse_number("9223372036854775808").unwrap(),
            9.223372036854776e18
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), 300.0);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400.0);
        assert_eq!(parse_duration("100ms").unwrap(), 0.1);
        assert_eq!(parse_duration("1y").unwrap(), 365.0 * 86400.0);
        assert_eq!(
            parse_duration("1s1m").unwrap_err(),
            "not a valid duration string: \"1s1m\""
        );
        assert_eq!(
            parse_duration("5hs").unwrap_err(),
            "unknown unit \"hs\" in duration \"5hs\""
        );
        assert_eq!(
            parse_duration("999999999999y").unwrap_err(),
            "duration out of range"
        );
    }
}
