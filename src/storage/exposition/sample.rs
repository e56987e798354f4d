//! Sample lines: the series part (`name{label="value",...}`) and what
//! follows it (value, timestamp, exemplar).

use std::collections::HashSet;
use std::sync::Arc;

use super::number::{open_metrics_float, parse_timestamp, parse_value};
use crate::model::{Label, Labels, METRIC_NAME, Timestamp};

/// How `le` / `quantile` label values are normalized, from the family type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Normalize {
    /// Values are kept as written.
    None,
    /// A histogram: `le` values are normalized.
    Le,
    /// A summary: `quantile` values are normalized.
    Quantile,
}

impl Normalize {
    /// The normalization for a family of type `kind`.
    pub(super) fn for_type(kind: &str) -> Normalize {
        match kind {
            "histogram" => Normalize::Le,
            "summary" => Normalize::Quantile,
            _ => Normalize::None,
        }
    }

    fn applies_to(self, label_name: &str) -> bool {
        match self {
            Normalize::None => false,
            Normalize::Le => label_name == "le",
            Normalize::Quantile => label_name == "quantile",
        }
    }
}

/// Shares one allocation between equal label names and values.
#[derive(Default)]
pub(super) struct Interner {
    strings: HashSet<Arc<str>>,
}

impl Interner {
    pub(super) fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone());
        a
    }
}

fn is_name_byte(b: u8, allow_colon: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || (allow_colon && b == b':')
}

/// Splits a leading name (`[a-zA-Z0-9_]`, plus `:` for metric names) off `s`.
pub(super) fn split_name(s: &str, allow_colon: bool) -> (&str, &str) {
    let end = s
        .bytes()
        .position(|b| !is_name_byte(b, allow_colon))
        .unwrap_or(s.len());
    // `end` is at an ASCII byte or the end, so a char boundary.
    s.split_at(end)
}

fn skip_ws(s: &str, om: bool) -> &str {
    if om {
        s
    } else {
        s.trim_start_matches([' ', '\t'])
    }
}

/// The byte length of the series part of a sample line, found without
/// validating it: the metric name, or everything up to the `}` that closes
/// the label set (quoted strings skipped). Used as a cache key; the full
/// parse decides what is valid.
pub(super) fn series_span(line: &[u8], om: bool) -> Option<usize> {
    let mut i = 0;
    if line.first() != Some(&b'{') {
        i = line
            .iter()
            .position(|&b| !is_name_byte(b, true))
            .unwrap_or(line.len());
        let mut j = i;
        if !om {
            while matches!(line.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
        }
        if line.get(j) != Some(&b'{') {
            return Some(i);
        }
        i = j;
    }
    // `line[i]` is the opening brace.
    i += 1;
    let mut in_quotes = false;
    while let Some(&b) = line.get(i) {
        match b {
            b'\\' if in_quotes => i += 1,
            b'"' => in_quotes = !in_quotes,
            b'}' if !in_quotes => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses the series part of a sample line into its labels (interned) and
/// returns them with the rest of the line.
pub(super) fn parse_series<'a>(
    line: &'a str,
    om: bool,
    normalize: Normalize,
    interner: &mut Interner,
) -> Result<(Labels, &'a str), String> {
    let mut labels: Vec<Label> = Vec::new();
    let mut metric_name: Option<Arc<str>> = None;
    let mut rest = line;
    if !rest.starts_with('{') {
        let (name, after) = split_name(rest, true);
        if name.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a valid start token".into());
        }
        metric_name = Some(interner.intern(name));
        rest = after;
        let peek = skip_ws(rest, om);
        if peek.starts_with('{') {
            rest = peek;
        }
    }
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = skip_ws(rest, om);
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, was_quoted) = if rest.starts_with('"') {
                let (n, r) = quoted(rest, om)?;
                rest = r;
                (interner.intern(&n), true)
            } else {
                let (n, r) = split_name(rest, false);
                if n.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err("expected label name".into());
                }
                rest = r;
                (interner.intern(n), false)
            };
            rest = skip_ws(rest, om);
            if was_quoted && (rest.starts_with(',') || rest.starts_with('}')) {
                if metric_name.is_some() {
                    return Err(format!("metric name already set while parsing: {line:?}"));
                }
                metric_name = Some(name);
            } else {
                rest = rest.strip_prefix('=').ok_or("expected equal")?;
                rest = skip_ws(rest, om);
                let (mut value, r) =
                    quoted(rest, om).map_err(|_| "expected label value".to_string())?;
                rest = r;
                if normalize.applies_to(&name)
                    && let Ok(f) = parse_value(&value)
                {
                    value = open_metrics_float(f);
                }
                if *name == *METRIC_NAME || labels.iter().any(|l| l.name == name) {
                    return Err(format!("duplicate label name {:?}", &*name));
                }
                labels.push(Label {
                    name,
                    value: interner.intern(&value),
                });
            }
            rest = skip_ws(rest, om);
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err("expected ',' or '}' in the label set".into());
            }
        }
    }
    let name = metric_name.ok_or_else(|| format!("metric name not set while parsing: {line:?}"))?;
    labels.push(Label {
        name: interner.intern(METRIC_NAME),
        value: name,
    });
    Ok((Labels::new(labels), rest))
}

/// Splits `s` at its first blank (space or tab): before, and after it.
fn split_at_blank(s: &str) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == b' ' || b == b'\t')?;
    // A blank is ASCII, so `i` and `i + 1` are char boundaries.
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Parses what follows the series part: blanks, the value, an optional
/// timestamp and (OpenMetrics) an optional exemplar.
pub(super) fn parse_value_and_timestamp(
    rest: &str,
    om: bool,
) -> Result<(f64, Option<Timestamp>), String> {
    let after = rest.trim_start_matches([' ', '\t']);
    if after.len() == rest.len() {
        return Err("expected value after metric".into());
    }
    let (value_text, tail) = split_at_blank(after).unwrap_or((after, ""));
    let value = parse_value(value_text)?;
    let tail = tail.trim_start_matches([' ', '\t']);
    let (ts_text, exemplar) = match split_at_blank(tail) {
        _ if tail.starts_with('#') => ("", tail),
        Some((ts, ex)) => (ts, ex.trim_start_matches([' ', '\t'])),
        None => (tail, ""),
    };
    let timestamp = if ts_text.is_empty() {
        None
    } else {
        Some(parse_timestamp(ts_text, om)?)
    };
    let exemplar_ok = exemplar.trim().is_empty() || (om && exemplar.starts_with("# {"));
    if !exemplar_ok {
        return Err(format!(
            "expected timestamp or new record, got {exemplar:?}"
        ));
    }
    Ok((value, timestamp))
}

/// A `"..."` string at the start of `s` with the exposition escapes
/// (`\\`, `\"`, `\n`; other escapes are kept as written). Returns the value and the rest.
pub(super) fn quoted(s: &str, om: bool) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or("expected '\"'")?;
    // Fast path: no escapes before the closing quote.
    if let Some(end) = body
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b == b'\n')
        && body.as_bytes().get(end) == Some(&b'"')
        && let (Some(value), Some(rest)) = (body.get(..end), body.get(end + 1..))
    {
        return Ok((value.to_string(), rest));
    }
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            '\n' if om => break,
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_span_ends_where_the_label_set_ends() {
        fn span(s: &str, om: bool) -> Option<&str> {
            series_span(s.as_bytes(), om).map(|n| &s[..n])
        }
        assert_eq!(span("up 1", true), Some("up"));
        assert_eq!(span("up{a=\"}\\\"\"} 1", true), Some("up{a=\"}\\\"\"}"));
        assert_eq!(span("up {a=\"b\"} 1", false), Some("up {a=\"b\"}"));
        assert_eq!(span("up {a=\"b\"} 1", true), Some("up"));
        assert_eq!(span("{\"x\"} 1", true), Some("{\"x\"}"));
        assert_eq!(span("up{a=\"b\" 1", true), None);
    }

    #[test]
    fn value_timestamp_and_exemplar() {
        assert_eq!(
            parse_value_and_timestamp(" 1 1.5 # {a=\"b\"} 1", true),
            Ok((1.0, Some(1500)))
        );
        assert_eq!(parse_value_and_timestamp("\t2", false), Ok((2.0, None)));
        assert!(parse_value_and_timestamp("2", false).is_err());
        assert!(parse_value_and_timestamp(" 2 3 x", false).is_err());
    }

    #[test]
    fn quoted_strings_with_and_without_escapes() {
        assert_eq!(quoted("\"ab\" x", true), Ok(("ab".into(), " x")));
        assert_eq!(
            quoted("\"a\\\"b\\n\\\\\\q\"", true),
            Ok(("a\"b\n\\\\q".into(), ""))
        );
        assert!(quoted("\"ab", false).is_err());
    }
}
