//! The label part of a series description: `name{label="value", ...}`,
//! `{__name__="name"}`, `{"utf8.name", "a.b"="c"}` (equality only).

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take_while;
use nom::character::complete::{char, multispace0, satisfy};
use nom::combinator::recognize;

use super::quoted::take_quoted;
use crate::model::{Label, Labels, METRIC_NAME};

/// A label-set parse failure: the byte offset where it went wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetricError {
    pub offset: usize,
    pub message: String,
}

fn metric_identifier(i: &str) -> IResult<&str, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic() || c == '_' || c == ':'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
    ))
    .parse(i)
}

fn label_identifier(i: &str) -> IResult<&str, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

fn skip_ws(i: &str) -> &str {
    multispace0::<&str, nom::error::Error<&str>>(i)
        .map(|(rest, _)| rest)
        .unwrap_or(i)
}

/// Parses the metric at the start of `input`; returns the labels and the
/// unparsed rest (starting right after the name or the closing `}`).
pub(crate) fn parse_metric(input: &str) -> Result<(Labels, &str), MetricError> {
    let err = |rest: &str, message: String| MetricError {
        offset: input.len() - rest.len(),
        message,
    };
    let mut labels = Vec::new();
    let mut rest = skip_ws(input);
    if let Ok((r, name)) = metric_identifier(rest) {
        labels.push(Label::new(METRIC_NAME, name));
        rest = r;
    }
    if let Ok((r, _)) = char::<&str, nom::error::Error<&str>>('{').parse(rest) {
        rest = parse_label_list(r, &mut labels).map_err(|(at, msg)| err(at, msg))?;
    } else if labels.is_empty() {
        return Err(err(rest, "expected a metric name or '{'".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for l in &labels {
        if !seen.insert(l.name.clone()) {
            return Err(err(rest, format!("duplicate label name {:?}", &*l.name)));
        }
    }
    Ok((Labels::new(labels), rest))
}

/// Parses `label="value", ... }` after the `{`; returns the rest after `}`.
fn parse_label_list<'a>(
    mut rest: &'a str,
    labels: &mut Vec<Label>,
) -> Result<&'a str, (&'a str, String)> {
    loop {
        rest = skip_ws(rest);
        if let Some(r) = rest.strip_prefix('}') {
            return Ok(r);
        }
        let (r, name, quoted) = if let Ok((r, name)) = label_identifier(rest) {
            (r, name.to_string(), false)
        } else if rest.starts_with(['"', '\'', '`']) {
            let (name, r) = take_quoted(rest).map_err(|e| (rest, e))?;
            (r, name, true)
        } else {
            return Err((rest, "expected a label name or '}'".into()));
        };
        rest = skip_ws(r);
        if let Some(r) = rest.strip_prefix('=') {
            if r.starts_with('~') {
                return Err((rest, "only '=' matchers are allowed in a series".into()));
            }
            rest = skip_ws(r);
            let (value, r) = take_quoted(rest).map_err(|e| (rest, e))?;
            labels.push(Label::new(name, value));
            rest = skip_ws(r);
        } else if quoted {
            labels.push(Label::new(METRIC_NAME, name));
        } else {
            return Err((rest, "expected '=' after the label name".into()));
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err((rest, "expected ',' or '}'".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_labels() {
        let (l, rest) = parse_metric(r#"http_requests{job="api", "a.b"='c',} 1 2"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs(&[("__name__", "http_requests"), ("job", "api"), ("a.b", "c")])
        );
        assert_eq!(rest, " 1 2");
        let (l, rest) = parse_metric(r#"{"my.metric", x="y"}"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs(&[("__name__", "my.metric"), ("x", "y")])
        );
        assert_eq!(rest, "");
        let (l, _) = parse_metric("{} 1").unwrap();
        assert!(l.is_empty());
        let (l, rest) = parse_metric("a:b_c 1").unwrap();
        assert_eq!(l.metric_name(), Some("a:b_c"));
        assert_eq!(rest, " 1");
    }

    #[test]
    fn errors_carry_offsets() {
        let e = parse_metric(r#"m{a=~"x"}"#).unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(parse_metric("1 2").is_err());
        assert!(parse_metric(r#"m{a="1",a="2"}"#).is_err());
        assert!(parse_metric(r#"m{a="1""#).is_err());
    }
}
