//! Leaf formatting that must match Go's output byte for byte: quoted
//! strings (`strconv.Quote`), floats (`strconv.FormatFloat` and `%v`),
//! durations (`model.Duration`) and `@` timestamps.

use std::fmt::{self, Write};

use crate::model::float_format::{format_go_f, format_go_g};
use crate::model::labels::{is_valid_legacy_label_name, is_valid_legacy_metric_name};
pub(crate) use crate::model::quote::write_go_quoted;

const MILLIS_PER_SECOND: u64 = 1000;
const MILLIS_PER_MINUTE: u64 = 60 * MILLIS_PER_SECOND;
const MILLIS_PER_HOUR: u64 = 60 * MILLIS_PER_MINUTE;
const MILLIS_PER_DAY: u64 = 24 * MILLIS_PER_HOUR;
const MILLIS_PER_WEEK: u64 = 7 * MILLIS_PER_DAY;
const MILLIS_PER_YEAR: u64 = 365 * MILLIS_PER_DAY;

/// Duration units, largest first. Years and weeks are used only when they
/// divide the whole duration (`90d` reads better than `12w6d`).
const DURATION_UNITS: [(&str, u64, bool); 7] = [
    ("y", MILLIS_PER_YEAR, true),
    ("w", MILLIS_PER_WEEK, true),
    ("d", MILLIS_PER_DAY, false),
    ("h", MILLIS_PER_HOUR, false),
    ("m", MILLIS_PER_MINUTE, false),
    ("s", MILLIS_PER_SECOND, false),
    ("ms", 1, false),
];

/// Formats a duration given in milliseconds as PromQL writes it:
/// `1h30m`, `1s500ms`, `2w`, `0s`, and `-5m` for negative durations.
///
/// ```
/// use promql_engine::parser::printer::format_duration;
/// assert_eq!(format_duration(5_400_000), "1h30m");
/// assert_eq!(format_duration(1_500), "1s500ms");
/// assert_eq!(format_duration(-300_000), "-5m");
/// assert_eq!(format_duration(0), "0s");
/// ```
pub fn format_duration(millis: i64) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_duration_millis(&mut s, millis);
    s
}

/// Writes `millis` as a duration (see [`format_duration`]).
pub(crate) fn write_duration_millis(w: &mut dyn Write, millis: i64) -> fmt::Result {
    if millis == 0 {
        return w.write_str("0s");
    }
    if millis < 0 {
        w.write_char('-')?;
    }
    let mut rest = millis.unsigned_abs();
    for (unit, size, only_if_exact) in DURATION_UNITS {
        if only_if_exact && rest % size != 0 {
            continue;
        }
        let count = rest / size;
        if count > 0 {
            write!(w, "{count}{unit}")?;
            rest -= count * size;
        }
    }
    Ok(())
}

pub(crate) use crate::parser::ast::seconds_to_millis;

/// Writes a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the
/// shortest digits that round-trip, never an exponent; `+Inf`, `-Inf`, `NaN`.
pub(crate) fn write_float(w: &mut dyn Write, v: f64) -> fmt::Result {
    w.write_str(&format_go_f(v))
}

/// Writes a float as Go's `fmt` verb `%v` does (`%g` with the shortest
/// precision): exponent form when the decimal exponent is below -4 or at
/// least 6 (`1e+06`, `1.5e-05`), plain decimals otherwise.
pub(crate) fn write_float_v(w: &mut dyn Write, v: f64) -> fmt::Result {
    w.write_str(&format_go_g(v))
}

/// Writes an `@` timestamp (milliseconds) as seconds with exactly three
/// decimals, as Go's `%.3f` does: `100.000`, `-1.500`.
pub(crate) fn write_timestamp_millis(w: &mut dyn Write, millis: i64) -> fmt::Result {
    let sign = if millis < 0 { "-" } else { "" };
    let abs = millis.unsigned_abs();
    write!(w, "{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// Writes a label name, quoted when it is not a legacy name (`job`, `"a.b"`).
pub(crate) fn write_label_name(w: &mut dyn Write, name: &str) -> fmt::Result {
    if is_valid_legacy_label_name(name) {
        w.write_str(name)
    } else {
        write_go_quoted(w, name)
    }
}

/// Writes a label name in a `by`/`without`/`on`/`ignoring`/`group_x` list:
/// as in a matcher, but `inf` and `nan` (numbers to the lexer) and
/// `without` (the one keyword the grammar does not take as a label there)
/// are quoted too.
pub(crate) fn write_list_label_name(w: &mut dyn Write, name: &str) -> fmt::Result {
    if is_number_word(name) || name.eq_ignore_ascii_case("without") {
        write_go_quoted(w, name)
    } else {
        write_label_name(w, name)
    }
}

/// Whether a metric name can be written bare before the braces: a legacy
/// name that the lexer does not read as a number or as a keyword that
/// cannot start a selector (`on`, `bool`, `atan2`, ...).
pub(crate) fn is_bare_metric_name(name: &str) -> bool {
    const NOT_SELECTORS: [&str; 6] = [
        "atan2",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
    ];
    is_valid_legacy_metric_name(name)
        && !is_number_word(name)
        && !NOT_SELECTORS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// `inf` and `nan` in any case.
fn is_number_word(name: &str) -> bool {
    name.eq_ignore_ascii_case("inf") || name.eq_ignore_ascii_case("nan")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_go_quoted(&mut out, s).unwrap();
        out
    }

    fn float_v(v: f64) -> String {
        let mut out = String::new();
        write_float_v(&mut out, v).unwrap();
        out
    }

    fn float_f(v: f64) -> String {
        let mut out = String::new();
        write_float(&mut out, v).unwrap();
        out
    }

    fn timestamp(ms: i64) -> String {
        let mut out = String::new();
        write_timestamp_millis(&mut out, ms).unwrap();
        out
    }

    #[test]
    fn durations_use_largest_units_with_exact_years_and_weeks() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(1), "1ms");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(90 * 60_000), "1h30m");
        assert_eq!(format_duration(14 * MILLIS_PER_DAY as i64), "2w");
        assert_eq!(format_duration(90 * MILLIS_PER_DAY as i64), "90d");
        assert_eq!(format_duration(365 * MILLIS_PER_DAY as i64), "1y");
        assert_eq!(format_duration(366 * MILLIS_PER_DAY as i64), "366d");
        assert_eq!(format_duration(86_400_000 + 1), "1d1ms");
        assert_eq!(format_duration(-7 * 60_000), "-7m");
        assert!(format_duration(i64::MIN).starts_with('-'));
    }

    #[test]
    fn floats_match_go_f_format() {
        assert_eq!(float_f(1.0), "1");
        assert_eq!(float_f(0.5), "0.5");
        assert_eq!(float_f(-2.25), "-2.25");
        assert_eq!(float_f(1e21), "1000000000000000000000");
        assert_eq!(float_f(1e-7), "0.0000001");
        assert_eq!(float_f(f64::INFINITY), "+Inf");
        assert_eq!(float_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float_f(f64::NAN), "NaN");
        assert_eq!(float_f(-0.0), "-0");
    }

    #[test]
    fn floats_match_go_v_verb() {
        assert_eq!(float_v(-23.0), "-23");
        assert_eq!(float_v(123456.0), "123456");
        assert_eq!(float_v(1e6), "1e+06");
        assert_eq!(float_v(1234567.0), "1.234567e+06");
        assert_eq!(float_v(0.0001), "0.0001");
        assert_eq!(float_v(0.00001), "1e-05");
        assert_eq!(float_v(1.5e300), "1.5e+300");
        assert_eq!(float_v(0.0), "0");
        assert_eq!(float_v(f64::NAN), "NaN");
    }

    #[test]
    fn timestamps_have_three_decimals() {
        assert_eq!(timestamp(100_000), "100.000");
        assert_eq!(timestamp(1_500), "1.500");
        assert_eq!(timestamp(-500), "-0.500");
        assert_eq!(timestamp(0), "0.000");
    }

    #[test]
    fn quoting_matches_go_strconv_quote() {
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("\n\t\r\u{7}\u{8}\u{c}\u{b}"), r#""\n\t\r\a\b\f\v""#);
        assert_eq!(quoted("\u{1b}\u{7f}\0"), r#""\x1b\x7f\x00""#);
        assert_eq!(quoted("üñí 日本"), "\"üñí 日本\"");
        assert_eq!(quoted("\u{ad}\u{a0}\u{2028}"), r#""\u00ad\u00a0\u2028""#);
        assert_eq!(quoted("\u{e0001}\u{f0000}"), r#""\U000e0001\U000f0000""#);
        assert_eq!(quoted("😀"), "\"😀\"");
    }
}
