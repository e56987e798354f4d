//! The functions templates can call: Go's builtins and Prometheus' additions.

use std::collections::BTreeMap;

use super::exec::Expander;
use super::gofmt::{format_g_prec, sprint, sprintf, sprintln};
use super::value::TValue;
use crate::model::quote::go_markup_entity;

type FResult = Result<TValue, String>;

fn arity(name: &str, args: &[TValue], want: usize) -> Result<(), String> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        ))
    }
}

fn want_str(v: &TValue) -> Result<String, String> {
    match v {
        TValue::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}

fn want_sample(v: &TValue) -> Result<(&BTreeMap<String, String>, f64), String> {
    match v {
        TValue::Sample { labels, value } => Ok((labels, *value)),
        other => Err(format!(
            "wrong type for value; expected *template.sample; got {}",
            other.type_name()
        )),
    }
}

fn want_list(v: &TValue) -> Result<Vec<TValue>, String> {
    match v {
        TValue::List(items) => Ok(items.clone()),
        TValue::Nil => Ok(Vec::new()),
        other => Err(format!(
            "wrong type for value; expected template.queryResult; got {}",
            other.type_name()
        )),
    }
}

/// Prometheus' `ConvertToFloat`: floats, ints, numeric strings, durations.
pub fn to_float(v: &TValue) -> Result<f64, String> {
    match v {
        TValue::Float(f) => Ok(*f),
        TValue::Int(i) => Ok(*i as f64),
        TValue::Str(s) => parse_go_float(s).ok_or_else(|| {
            format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                super::lexer::go_quote(s)
            )
        }),
        TValue::Duration(ns) => Ok(*ns as f64 / 1e9),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    match body {
        "inf" | "infinity" => Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        "nan" => Some(f64::NAN),
        _ => s.parse::<f64>().ok(),
    }
}

fn scaled(mut v: f64, up: &[&str], down: &[&str], base: f64) -> String {
    let mut prefix = "";
    if v.abs() >= 1.0 || down.is_empty() {
        for p in up {
            if v.abs() < base {
                break;
            }
            prefix = p;
            v /= base;
        }
    } else {
        for p in down {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= base;
        }
    }
    format!("{}{prefix}", format_g_prec(v, 4))
}

/// `humanize`: SI prefixes, four significant digits (`1.235M`, `123u`).
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g_prec(v, 4);
    }
    scaled(
        v,
        &["k", "M", "G", "T", "P", "E", "Z", "Y"],
        &["m", "u", "n", "p", "f", "a", "z", "y"],
        1000.0,
    )
}

/// `humanize1024`: binary prefixes (`2ki`).
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g_prec(v, 4);
    }
    scaled(
        v,
        &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
        &[],
        1024.0,
    )
}

/// `humanizeDuration`: seconds as `1d 1h 1m 1s`, `1.5s`, `150ms`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_g_prec(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", format_g_prec(v, 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let total = v as i64;
        let (s, m, h, d) = (
            total % 60,
            (total / 60) % 60,
            (total / 3600) % 24,
            total / 86400,
        );
        if d != 0 {
            return format!("{sign}{d}d {h}h {m}m {s}s");
        }
        if h != 0 {
            return format!("{sign}{h}h {m}m {s}s");
        }
        if m != 0 {
            return format!("{sign}{m}m {s}s");
        }
        return format!("{sign}{}s", format_g_prec(v, 4));
    }
    format!(
        "{}s",
        scaled(v, &[], &["m", "u", "n", "p", "f", "a", "z", "y"], 1000.0)
    )
}

fn float_to_time(v: f64) -> Result<i128, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".into());
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            crate::model::float_format::format_go_g(v)
        ));
    }
    Ok(ns as i128)
}

fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !(c.is_alphanumeric() || c == '\'' || c == '_');
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match (c, go_markup_entity(c)) {
            (_, Some(entity)) => out.push_str(entity),
            ('\0', None) => out.push('\u{FFFD}'),
            (c, None) => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn compare(name: &str, a: &TValue, b: &TValue) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    let ordered = matches!(name, "lt" | "le" | "gt" | "ge");
    match (a, b) {
        (TValue::Int(x), TValue::Int(y)) => Ok(x.cmp(y)),
        (TValue::Float(x), TValue::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(if ordered {
            Ordering::Greater
        } else {
            Ordering::Less
        })),
        (TValue::Str(x), TValue::Str(y)) => Ok(x.cmp(y)),
        (TValue::Bool(x), TValue::Bool(y)) if !ordered => Ok(x.cmp(y)),
        (TValue::Bool(_), TValue::Bool(_)) => Err("invalid type for comparison".into()),
        (TValue::Nil, _) | (_, TValue::Nil) if !ordered => {
            Err("invalid type for comparison".into())
        }
        (
            TValue::Int(_) | TValue::Float(_) | TValue::Str(_) | TValue::Bool(_),
            TValue::Int(_) | TValue::Float(_) | TValue::Str(_) | TValue::Bool(_),
        ) => Err("incompatible types for comparison".into()),
        _ => Err("invalid type for comparison".into()),
    }
}

fn index(args: &[TValue]) -> FResult {
    let Some((first, keys)) = args.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    let mut value = first.clone();
    for key in keys {
        value = match (&value, key) {
            (TValue::Map { entries, missing }, TValue::Str(k)) => entries
                .get(k)
                .cloned()
                .unwrap_or_else(|| (**missing).clone()),
            (TValue::List(items), TValue::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .ok_or_else(|| format!("index out of range: {i}"))?,
            (TValue::Nil, _) => return Err("index of untyped nil".into()),
            (v, k) => {
                return Err(format!(
                    "cannot index {} with {}",
                    v.type_name(),
                    k.type_name()
                ));
            }
        };
    }
    Ok(value)
}

/// Go's `slice`: `slice x` is `x[:]`, `slice x i` is `x[i:]`, `slice x i j`
/// is `x[i:j]` and `slice x i j k` is `x[i:j:k]` (lists only). Strings are
/// sliced by bytes, as in Go; a cut inside a UTF-8 sequence leaves U+FFFD.
fn slice(args: &[TValue]) -> FResult {
    let Some((item, indexes)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    if *item == TValue::Nil {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        TValue::Str(_) if indexes.len() == 3 => {
            return Err("cannot 3-index slice a string".into());
        }
        TValue::Str(s) => s.len(),
        TValue::List(items) => items.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    // A list's capacity is its length, so the third index is at most `len`.
    let mut bounds = [0, len, len];
    for (bound, index) in bounds.iter_mut().zip(indexes) {
        *bound = match index {
            TValue::Int(i) => usize::try_from(*i)
                .ok()
                .filter(|&i| i <= len)
                .ok_or_else(|| format!("index out of range: {i}"))?,
            TValue::Nil => return Err("cannot index slice/array with nil".into()),
            other => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    other.type_name()
                ));
            }
        };
    }
    let [lo, hi, max] = bounds;
    if lo > hi {
        return Err(format!("invalid slice index: {lo} > {hi}"));
    }
    if hi > max {
        return Err(format!("invalid slice index: {hi} > {max}"));
    }
    Ok(match item {
        TValue::Str(s) => TValue::Str(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned()),
        TValue::List(items) => TValue::List(items[lo..hi].to_vec()),
        _ => TValue::Nil,
    })
}

/// Calls function `name` with evaluated `args`. Errors are the messages Go
/// puts after `error calling NAME: ` (or a `wrong number of args` text).
pub fn call_function(name: &str, args: Vec<TValue>, ctx: &Expander<'_>) -> FResult {
    let a = args.as_slice();
    let one = |n: &str| arity(n, a, 1).map(|()| &a[0]);
    match name {
        "not" => Ok(TValue::Bool(!one(name)?.truthy())),
        "len" => match one(name)? {
            TValue::Str(s) => Ok(TValue::Int(s.len() as i64)),
            TValue::List(l) => Ok(TValue::Int(l.len() as i64)),
            TValue::Map { entries, .. } => Ok(TValue::Int(entries.len() as i64)),
            other => Err(format!("len of type {}", other.type_name())),
        },
        "index" => index(a),
        "print" => Ok(TValue::Str(sprint(a))),
        "println" => Ok(TValue::Str(sprintln(a))),
        "printf" => {
            let Some((format, rest)) = a.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Ok(TValue::Str(sprintf(&want_str(format)?, rest)))
        }
        "html" => Ok(TValue::Str(html_escape(&sprint(a)))),
        "js" => Ok(TValue::Str(js_escape(&sprint(a)))),
        "urlquery" | "urlQueryEscape" => Ok(TValue::Str(query_escape(&sprint(a)))),
        "eq" => {
            let Some((first, rest)) = a.split_first() else {
                return Err("wrong number of args for eq: want at least 1 got 0".into());
            };
            if rest.is_empty() {
                return Err("missing argument for comparison".into());
            }
            for other in rest {
                if compare(name, first, other)? == std::cmp::Ordering::Equal {
                    return Ok(TValue::Bool(true));
                }
            }
            Ok(TValue::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, a, 2)?;
            let ord = compare(name, &a[0], &a[1])?;
            let nan = matches!((&a[0], &a[1]), (TValue::Float(x), TValue::Float(y)) if x.is_nan() || y.is_nan());
            use std::cmp::Ordering::*;
            Ok(TValue::Bool(match name {
                "ne" => ord != Equal,
                _ if nan => false,
                "lt" => ord == Less,
                "le" => ord != Greater,
                "gt" => ord == Greater,
                _ => ord != Less,
            }))
        }
        "slice" => slice(a),
        "call" => Err(format!("{name} is not supported")),
        "query" => {
            let q = want_str(one(name)?)?;
            let Some(run) = ctx.query else {
                return Err("query is not available here".into());
            };
            let samples = run(&q)?;
            Ok(TValue::List(
                samples
                    .into_iter()
                    .map(|s| TValue::Sample {
                        labels: s.labels.into_iter().collect(),
                        value: s.value,
                    })
                    .collect(),
            ))
        }
        "first" => want_list(one(name)?)?
            .into_iter()
            .next()
            .ok_or_else(|| "first() called on vector with no elements".into()),
        "label" => {
            arity(name, a, 2)?;
            let label = want_str(&a[0])?;
            let (labels, _) = want_sample(&a[1])?;
            Ok(TValue::Str(labels.get(&label).cloned().unwrap_or_default()))
        }
        "value" => Ok(TValue::Float(want_sample(one(name)?)?.1)),
        "strvalue" => Ok(TValue::Str(
            want_sample(one(name)?)?
                .0
                .get("__value__")
                .cloned()
                .unwrap_or_default(),
        )),
        "args" => Ok(TValue::Map {
            entries: a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v.clone()))
                .collect(),
            missing: Box::new(TValue::Nil),
        }),
        "reReplaceAll" => {
            arity(name, a, 3)?;
            let (pattern, repl, text) = (want_str(&a[0])?, want_str(&a[1])?, want_str(&a[2])?);
            let re = regex::Regex::new(&pattern).map_err(|e| {
                format!("regexp: Compile({}): {e}", super::lexer::go_quote(&pattern))
            })?;
            Ok(TValue::Str(
                re.replace_all(&text, repl.as_str()).into_owned(),
            ))
        }
        "match" => {
            arity(name, a, 2)?;
            let (pattern, text) = (want_str(&a[0])?, want_str(&a[1])?);
            let re = regex::Regex::new(&pattern).map_err(|e| e.to_string())?;
            Ok(TValue::Bool(re.is_match(&text)))
        }
        "safeHtml" => Ok(TValue::Str(want_str(one(name)?)?)),
        "title" => Ok(TValue::Str(title(&want_str(one(name)?)?))),
        "toUpper" => Ok(TValue::Str(want_str(one(name)?)?.to_uppercase())),
        "toLower" => Ok(TValue::Str(want_str(one(name)?)?.to_lowercase())),
        "graphLink" | "tableLink" => {
            let expr = want_str(one(name)?)?;
            let tab = if name == "graphLink" { 0 } else { 1 };
            Ok(TValue::Str(format!(
                "/graph?g0.expr={}&g0.tab={tab}",
                query_escape(&expr)
            )))
        }
        "sortByLabel" => {
            arity(name, a, 2)?;
            let label = want_str(&a[0])?;
            let mut items = want_list(&a[1])?;
            items.sort_by(|x, y| {
                let get = |v: &TValue| match v {
                    TValue::Sample { labels, .. } => {
                        labels.get(&label).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                };
                get(x).cmp(&get(y))
            });
            Ok(TValue::List(items))
        }
        "stripPort" => {
            let s = want_str(one(name)?)?;
            Ok(TValue::Str(split_host_port(&s).map_or(s, |(h, _)| h)))
        }
        "stripDomain" => {
            let s = want_str(one(name)?)?;
            let (host, port) = split_host_port(&s).unwrap_or((s.clone(), String::new()));
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Ok(TValue::Str(s));
            }
            let short = host.split('.').next().unwrap_or("").to_string();
            Ok(TValue::Str(if port.is_empty() {
                short
            } else {
                join_host_port(&short, &port)
            }))
        }
        "humanize" => Ok(TValue::Str(humanize(to_float(one(name)?)?))),
        "humanize1024" => Ok(TValue::Str(humanize1024(to_float(one(name)?)?))),
        "humanizeDuration" => Ok(TValue::Str(humanize_duration(to_float(one(name)?)?))),
        "humanizePercentage" => Ok(TValue::Str(format!(
            "{}%",
            format_g_prec(to_float(one(name)?)? * 100.0, 4)
        ))),
        "humanizeTimestamp" => {
            let v = to_float(one(name)?)?;
            if !v.is_finite() {
                return Ok(TValue::Str(format_g_prec(v, 4)));
            }
            Ok(TValue::Str(super::value::format_go_time(float_to_time(v)?)))
        }
        "toTime" => Ok(TValue::Time(float_to_time(to_float(one(name)?)?)?)),
        "toDuration" => {
            let v = to_float(one(name)?)?;
            let ns = v * 1e9;
            let ns = if ns.is_nan() { i64::MIN } else { ns as i64 };
            Ok(TValue::Duration(ns))
        }
        "now" => {
            arity(name, a, 0)?;
            Ok(TValue::Float(ctx.timestamp_ms as f64 / 1000.0))
        }
        "pathPrefix" => {
            arity(name, a, 0)?;
            let path = ctx
                .external_url
                .split_once("://")
                .map_or("", |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
            Ok(TValue::Str(path.to_string()))
        }
        "externalURL" => {
            arity(name, a, 0)?;
            Ok(TValue::Str(ctx.external_url.clone()))
        }
        "parseDuration" => {
            let s = want_str(one(name)?)?;
            let (neg, body) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            let d = crate::rules::duration::parse_duration(body).map_err(|_| {
                format!(
                    "not a valid duration string: {}",
                    super::lexer::go_quote(&s)
                )
            })?;
            let secs = d.as_secs_f64();
            Ok(TValue::Float(if neg { -secs } else { secs }))
        }
        other => Err(format!(
            "function {} not defined",
            super::lexer::go_quote(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizers_match_prometheus() {
        assert_eq!(humanize(0.000123), "123u");
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize1024(2048.0), "2ki");
        assert_eq!(humanize1024(0.5), "0.5");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(5400.0), "1h 30m 0s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.15), "150ms");
        assert_eq!(humanize_duration(0.0), "0s");
    }

    #[test]
    fn host_helpers() {
        assert_eq!(split_host_port("a:80"), Some(("a".into(), "80".into())));
        assert_eq!(
            split_host_port("[::1]:80"),
            Some(("::1".into(), "80".into()))
        );
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(title("disk almost full"), "Disk Almost Full");
        assert_eq!(query_escape("a b&c"), "a+b%26c");
    }
}
