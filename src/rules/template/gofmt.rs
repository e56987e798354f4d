//! A subset of Go's `fmt` verbs: what `printf` in rule templates uses
//! (`%s %d %f %.2f %v %q %g %e %x %t %%`, widths, `-`, `+`, `0` flags).

use super::lexer::go_quote;
use super::value::TValue;
use crate::model::float_format::format_go_g;

/// Go's `%.<prec>g`: `prec` significant digits, trailing zeros dropped,
/// scientific when the exponent is below -4 or at least `prec`.
pub fn format_g_prec(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i64 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = usize::try_from(prec as i64 - 1 - exp).unwrap_or(0);
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Go's `%e` with `prec` digits after the point (`1.500000e+00`).
pub fn format_e_prec(v: f64, prec: usize, upper: bool) -> String {
    if !v.is_finite() {
        return format_g_prec(v, 1);
    }
    let sci = format!("{:.*e}", prec, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    let e = if upper { 'E' } else { 'e' };
    format!("{mantissa}{e}{sign}{:02}", exp.abs())
}

fn format_float_verb(v: f64, verb: char, prec: Option<usize>) -> String {
    match verb {
        'f' | 'F' => {
            if !v.is_finite() {
                format_g_prec(v, 1)
            } else {
                format!("{v:.*}", prec.unwrap_or(6))
            }
        }
        'e' | 'E' => format_e_prec(v, prec.unwrap_or(6), verb == 'E'),
        'g' | 'G' => match prec {
            Some(p) => format_g_prec(v, p),
            None => format_go_g(v),
        },
        _ => format_go_g(v),
    }
}

/// Widths and precisions above this end formatting (Go's `%!(BADWIDTH)`, `%!(NOVERB)`).
const MAX_WIDTH: usize = 1_000_000;

struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else { return s };
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match s.strip_prefix(['-', '+']) {
            Some(rest) => (&s[..1], rest),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, arg: &TValue) -> String {
    format!("%!{verb}({}={})", arg.type_name(), arg.to_go_string())
}

fn signed(s: String, spec: &Spec, non_negative: bool) -> String {
    if non_negative && spec.plus {
        format!("+{s}")
    } else if non_negative && spec.space {
        format!(" {s}")
    } else {
        s
    }
}

fn format_one(verb: char, spec: &Spec, arg: &TValue) -> String {
    let (text, numeric) = match (verb, arg) {
        ('v', TValue::Float(f)) if spec.prec.is_some() || spec.plus => (
            signed(
                format_float_verb(*f, 'g', spec.prec),
                spec,
                *f >= 0.0 && !f.is_nan(),
            ),
            true,
        ),
        ('v', TValue::Str(s)) if spec.prec.is_some() => {
            (s.chars().take(spec.prec.unwrap_or(0)).collect(), false)
        }
        ('v', other) => (other.to_go_string(), false),
        ('s', TValue::Str(s)) => match spec.prec {
            Some(p) => (s.chars().take(p).collect(), false),
            None => (s.clone(), false),
        },
        ('s', TValue::Float(_) | TValue::Int(_) | TValue::Bool(_)) => (bad_verb(verb, arg), false),
        ('s', other) => (other.to_go_string(), false),
        ('q', TValue::Str(s)) => (go_quote(s), false),
        ('q', TValue::Int(i)) => match u32::try_from(*i).ok().and_then(char::from_u32) {
            Some(c) => (format!("'{c}'"), false),
            None => (bad_verb(verb, arg), false),
        },
        ('d', TValue::Int(i)) => (signed(i.to_string(), spec, *i >= 0), true),
        ('x' | 'X', TValue::Int(i)) => {
            let s = if verb == 'x' {
                format!("{:x}", i.unsigned_abs())
            } else {
                format!("{:X}", i.unsigned_abs())
            };
            (if *i < 0 { format!("-{s}") } else { s }, true)
        }
        ('x' | 'X', TValue::Str(s)) => {
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            (if verb == 'X' { hex.to_uppercase() } else { hex }, false)
        }
        ('f' | 'F' | 'e' | 'E' | 'g' | 'G', TValue::Float(f)) => (
            signed(
                format_float_verb(*f, verb, spec.prec),
                spec,
                *f >= 0.0 && !f.is_nan(),
            ),
            true,
        ),
        ('t', TValue::Bool(b)) => (b.to_string(), false),
        ('c', TValue::Int(i)) => (
            u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .map_or_else(|| "\u{FFFD}".into(), String::from),
            false,
        ),
        _ => (bad_verb(verb, arg), false),
    };
    pad(text, spec, numeric)
}

/// Go's `fmt.Sprintf(format, args...)` for the verbs listed in the module docs.
pub fn sprintf(format: &str, args: &[TValue]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec {
            minus: false,
            plus: false,
            zero: false,
            space: false,
            width: None,
            prec: None,
        };
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut digits = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        spec.width = digits.parse().ok();
        // Go gives up on the rest of the format after a too-large number.
        if spec.width.is_none_or(|w| w > MAX_WIDTH) && !digits.is_empty() {
            out.push_str("%!(BADWIDTH)%!(NOVERB)");
            break;
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            spec.prec = Some(if digits.is_empty() {
                0
            } else {
                digits.parse().unwrap_or(usize::MAX)
            });
            if spec.prec.is_some_and(|p| p > MAX_WIDTH) {
                out.push_str("%!(NOVERB)");
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => out.push_str(&format_one(verb, &spec, arg)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next_arg += 1;
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.to_go_string()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// Go's `fmt.Sprint(args...)`: a space between operands when neither is a string.
pub fn sprint(args: &[TValue]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_str = matches!(arg, TValue::Str(_));
        let prev_str = i > 0 && matches!(args.get(i - 1), Some(TValue::Str(_)));
        if i > 0 && !is_str && !prev_str {
            out.push(' ');
        }
        out.push_str(&arg.to_go_string());
    }
    out
}

/// Go's `fmt.Sprintln(args...)`: spaces between all operands, newline at the end.
pub fn sprintln(args: &[TValue]) -> String {
    let parts: Vec<String> = args.iter().map(TValue::to_go_string).collect();
    format!("{}\n", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_with_precision_matches_go() {
        assert_eq!(format_g_prec(1.2345678, 4), "1.235");
        assert_eq!(format_g_prec(2.0, 4), "2");
        assert_eq!(format_g_prec(12345.0, 4), "1.234e+04");
        assert_eq!(format_g_prec(0.000123, 4), "0.000123");
        assert_eq!(format_g_prec(0.0, 4), "0");
        assert_eq!(format_g_prec(f64::NAN, 4), "NaN");
    }

    #[test]
    fn printf_verbs() {
        let f = TValue::Float(0.25);
        assert_eq!(sprintf("%.3f", std::slice::from_ref(&f)), "0.250");
        assert_eq!(sprintf("%.1f%%", &[TValue::Float(99.95)]), "100.0%");
        assert_eq!(sprintf("%d items", &[TValue::Int(150)]), "150 items");
        assert_eq!(sprintf("%q", &[TValue::Str("a\"b".into())]), "\"a\\\"b\"");
        assert_eq!(sprintf("%v|%s", &[f, TValue::Str("x".into())]), "0.25|x");
        assert_eq!(sprintf("%d", &[TValue::Str("x".into())]), "%!d(string=x)");
        assert_eq!(
            sprintf("%5.1f|%-4d|", &[TValue::Float(4.25), TValue::Int(7)]),
            "  4.2|7   |"
        );
        assert_eq!(
            sprintf("%x %e", &[TValue::Int(255), TValue::Float(1500.0)]),
            "ff 1.500000e+03"
        );
        assert_eq!(sprintf("%s", &[]), "%!s(MISSING)");
    }
}
