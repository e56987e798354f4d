//! Floats formatted exactly as Go's `strconv.FormatFloat(v, fmt, -1, 64)`,
//! which is what Prometheus prints everywhere: the shortest digits that read
//! back as the same float, with Go's tie-break (when two shortest candidates
//! are equally close, the one with the even last digit), and Go's spellings
//! `NaN`, `+Inf`, `-Inf`, `1e+06`, `1e-07`.
//!
//! One implementation for the whole crate: the printer (number literals),
//! the HTTP API encoding, label values made from numbers (`count_values`,
//! OpenMetrics `le`) and the command line all go through here.

/// Go's `'f'` format: never an exponent (`1e21` prints as 22 digits).
pub fn format_go_f(v: f64) -> String {
    match Shortest::of(v) {
        Err(special) => special.into(),
        Ok(s) => s.positional(),
    }
}

/// Go's `'e'` format: `d.ddde±XX`, at least two exponent digits.
pub fn format_go_e(v: f64) -> String {
    match Shortest::of(v) {
        Err(special) => special.into(),
        Ok(s) => s.scientific(),
    }
}

/// Go's `'g'` format (and `fmt`'s `%v`): scientific when the decimal exponent
/// is below -4 or at least 6 (`1e+06`, `1.5e-05`), positional otherwise.
pub fn format_go_g(v: f64) -> String {
    match Shortest::of(v) {
        Err(special) => special.into(),
        Ok(s) => {
            let exp = s.point - 1;
            if s.digits == "0" || (-4..6).contains(&exp) {
                s.positional()
            } else {
                s.scientific()
            }
        }
    }
}

/// The format of sample values in Prometheus' HTTP API: scientific below
/// 1e-6 and from 1e21 in magnitude, positional otherwise.
pub fn format_api(v: f64) -> String {
    let abs = v.abs();
    if abs != 0.0 && abs.is_finite() && !(1e-6..1e21).contains(&abs) {
        format_go_e(v)
    } else {
        format_go_f(v)
    }
}

/// Shortest round-trip decimal digits of a finite float:
/// `value = ±0.digits × 10^point`.
struct Shortest {
    negative: bool,
    /// Significant digits without leading or trailing zeros (`"0"` for zero).
    digits: String,
    /// Position of the decimal point relative to the first digit.
    point: i32,
}

impl Shortest {
    fn of(v: f64) -> Result<Shortest, &'static str> {
        if v.is_nan() {
            return Err("NaN");
        }
        if v.is_infinite() {
            return Err(if v > 0.0 { "+Inf" } else { "-Inf" });
        }
        let negative = v.is_sign_negative();
        if v == 0.0 {
            return Ok(Shortest {
                negative,
                digits: "0".into(),
                point: 1,
            });
        }
        // Rust's `{:e}` gives the shortest round-trip digits: `1.2345e3`.
        let sci = format!("{:e}", v.abs());
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let mut point = exp + 1;
        if let Some((even, even_point)) = tie_to_even(v.abs(), &digits, exp) {
            digits = even;
            point = even_point;
        }
        Ok(Shortest {
            negative,
            digits,
            point,
        })
    }

    fn sign(&self) -> &'static str {
        if self.negative { "-" } else { "" }
    }

    fn positional(&self) -> String {
        let (d, p) = (&self.digits, self.point);
        let n = d.len() as i32;
        let body = if d == "0" {
            "0".to_string()
        } else if p <= 0 {
            format!("0.{}{d}", "0".repeat((-p) as usize))
        } else if p >= n {
            format!("{d}{}", "0".repeat((p - n) as usize))
        } else {
            format!("{}.{}", &d[..p as usize], &d[p as usize..])
        };
        format!("{}{body}", self.sign())
    }

    fn scientific(&self) -> String {
        let d = &self.digits;
        let exp = if d == "0" { 0 } else { self.point - 1 };
        let mantissa = if d.len() > 1 {
            format!("{}.{}", &d[..1], &d[1..])
        } else {
            d.clone()
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}{mantissa}e{exp_sign}{:02}",
            self.sign(),
            exp.unsigned_abs()
        )
    }
}

/// When `v` lies exactly halfway between two shortest candidates, Go picks
/// the one whose last digit is even; Rust may pick the other. Returns the
/// even candidate (digits and point) when it differs from `digits` and
/// still reads back as `v`.
fn tie_to_even(v: f64, digits: &str, exp: i32) -> Option<(String, i32)> {
    let last = digits.bytes().last()? - b'0';
    if last % 2 == 0 {
        return None;
    }
    let n = digits.len();
    // One digit more than the shortest form, and many more, both exact
    // roundings of the true binary value.
    let next = format!("{:.*e}", n, v);
    let long = format!("{:.*e}", n + 40, v);
    let next_digits: String = next
        .split('e')
        .next()?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let long_digits: String = long
        .split('e')
        .next()?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let exact_is_half = next_digits.ends_with('5')
        && long_digits.starts_with(&next_digits)
        && long_digits[next_digits.len()..].bytes().all(|b| b == b'0')
        && next.split('e').nth(1) == long.split('e').nth(1);
    if !exact_is_half {
        return None;
    }
    // The two candidates are the truncation and the truncation plus one unit.
    let truncated = &next_digits[..n];
    let (candidate, point) = if truncated == digits {
        (increment(truncated), exp + 1)
    } else {
        (truncated.to_string(), exp + 1)
    };
    let (candidate, point) = match candidate {
        // A carry added a digit (999 + 1 = 1000): the point moves right.
        c if c.len() > n => (c[..n].to_string(), point + 1),
        c => (c, point),
    };
    let candidate = candidate.trim_end_matches('0').to_string();
    let candidate = if candidate.is_empty() {
        "0".to_string()
    } else {
        candidate
    };
    if (candidate.bytes().last()? - b'0') % 2 != 0 {
        return None;
    }
    let reread: f64 = format!("0.{candidate}e{point}").parse().ok()?;
    (reread == v).then_some((candidate, point))
}

/// Adds one to a decimal digit string (`"129"` → `"130"`, `"99"` → `"100"`).
fn increment(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    let mut out = String::from("1");
    out.push_str(&String::from_utf8(bytes).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_like_go_f() {
        assert_eq!(format_go_f(1.0), "1");
        assert_eq!(format_go_f(-2.5), "-2.5");
        assert_eq!(format_go_f(0.1), "0.1");
        assert_eq!(format_go_f(1e-7), "0.0000001");
        assert_eq!(format_go_f(1e22), "10000000000000000000000");
        assert_eq!(format_go_f(123456789.125), "123456789.125");
        assert_eq!(format_go_f(0.0), "0");
        assert_eq!(format_go_f(-0.0), "-0");
        assert_eq!(format_go_f(f64::NAN), "NaN");
        assert_eq!(format_go_f(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn scientific_and_general_like_go() {
        assert_eq!(format_go_e(1e21), "1e+21");
        assert_eq!(format_go_e(1.5e-7), "1.5e-07");
        assert_eq!(format_go_e(123.0), "1.23e+02");
        assert_eq!(format_go_g(1e6), "1e+06");
        assert_eq!(format_go_g(123456.0), "123456");
        assert_eq!(format_go_g(1234567.0), "1.234567e+06");
        assert_eq!(format_go_g(0.0001), "0.0001");
        assert_eq!(format_go_g(0.00001), "1e-05");
        assert_eq!(format_go_g(0.0), "0");
    }

    #[test]
    fn api_format_switches_at_1e_minus_6_and_1e21() {
        assert_eq!(format_api(1e20), "100000000000000000000");
        assert_eq!(format_api(1e21), "1e+21");
        assert_eq!(format_api(1e-6), "0.000001");
        assert_eq!(format_api(1e-7), "1e-07");
        assert_eq!(format_api(f64::INFINITY), "+Inf");
    }

    #[test]
    fn exact_ties_round_to_even_like_go() {
        // Found by the differential test against Prometheus.
        assert_eq!(format_go_f(1209040004760535.0 + 0.25), "1209040004760535.2");
        assert_eq!(format_go_f(1209040004760535.0 + 0.75), "1209040004760535.8");
    }

    #[test]
    fn every_output_reads_back_as_the_same_float() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            for s in [
                format_go_f(v),
                format_go_e(v),
                format_go_g(v),
                format_api(v),
            ] {
                assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
            }
        }
    }
}
