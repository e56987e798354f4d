//! Loading the Prometheus text exposition format and OpenMetrics text into
//! an [`Appender`].
//!
//! ```
//! use promql_engine::storage::exposition::{load_exposition, ExpositionFormat};
//! use promql_engine::storage::MemoryStorage;
//!
//! let text = "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027 1395066363000\n";
//! let mut store = MemoryStorage::new();
//! let n = load_exposition(text.as_bytes(), ExpositionFormat::Text, 0, &mut store).unwrap();
//! assert_eq!(n, 1);
//! ```
//!
//! Differences between the formats, as Prometheus parses them: text-format
//! timestamps are integer milliseconds, OpenMetrics timestamps are seconds
//! with an optional fraction; OpenMetrics input must end with `# EOF` and
//! has no blank lines or free comments; OpenMetrics knows `# UNIT` and
//! exemplars (` # {trace_id="x"} 1`), which are skipped here. In both, the
//! `le` label of histograms and the `quantile` label of summaries are
//! normalized (`1` becomes `1.0`).

use crate::model::{Label, Labels, METRIC_NAME, Timestamp};
use crate::storage::{Appender, StorageError};

/// Which text format the input is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// The classic Prometheus text format (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl ExpositionFormat {
    /// OpenMetrics when the last non-blank line is `# EOF`, text otherwise.
    pub fn detect(input: &[u8]) -> ExpositionFormat {
        let last = input
            .split(|b| *b == b'\n')
            .rev()
            .find(|l| !l.iter().all(u8::is_ascii_whitespace));
        match last {
            Some(l) if l.trim_ascii() == b"# EOF" => ExpositionFormat::OpenMetrics,
            _ => ExpositionFormat::Text,
        }
    }
}

/// A metric family's metadata line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metadata {
    /// `# HELP name text` (text unescaped).
    Help {
        /// The metric family name.
        name: String,
        /// The help text.
        text: String,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: String,
        /// `counter`, `gauge`, `histogram`, `summary`, `untyped`, ...
        kind: String,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family name.
        name: String,
        /// The unit.
        unit: String,
    },
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct ExposedSample {
    /// Series labels, `__name__` included.
    pub labels: Labels,
    /// The sample's own timestamp in milliseconds, if it has one.
    pub timestamp: Option<Timestamp>,
    /// The value.
    pub value: f64,
}

/// A parsed exposition: samples and metadata in input order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    /// The samples.
    pub samples: Vec<ExposedSample>,
    /// HELP, TYPE and UNIT lines.
    pub metadata: Vec<Metadata>,
}

/// Why an exposition could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpositionError {
    /// The input is malformed at this 1-based line.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The appender refused a sample from this line.
    #[error("line {line}: {source}")]
    Storage {
        /// 1-based line number.
        line: usize,
        /// The appender's error.
        #[source]
        source: StorageError,
    },
}

/// Parses an exposition without storing it.
pub fn parse_exposition(
    input: &[u8],
    format: ExpositionFormat,
) -> Result<Exposition, ExpositionError> {
    parse_with_lines(input, format).map(|(e, _)| e)
}

/// Parses `input` and appends every sample to `app`; samples without a
/// timestamp get `default_timestamp`. Nothing is appended when the input is
/// malformed. Returns the number of samples appended.
pub fn load_exposition(
    input: &[u8],
    format: ExpositionFormat,
    default_timestamp: Timestamp,
    app: &mut dyn Appender,
) -> Result<usize, ExpositionError> {
    let (exposition, lines) = parse_with_lines(input, format)?;
    for (s, line) in exposition.samples.iter().zip(lines) {
        app.append(&s.labels, s.timestamp.unwrap_or(default_timestamp), s.value)
            .map_err(|source| ExpositionError::Storage { line, source })?;
    }
    Ok(exposition.samples.len())
}

/// The parse, plus the line number of each sample.
fn parse_with_lines(
    input: &[u8],
    format: ExpositionFormat,
) -> Result<(Exposition, Vec<usize>), ExpositionError> {
    let om = format == ExpositionFormat::OpenMetrics;
    let mut out = Exposition::default();
    let mut sample_lines = Vec::new();
    let mut current_type = String::new();
    let mut saw_eof = false;
    let mut raw_lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    if raw_lines.last().is_some_and(|l| l.is_empty()) {
        raw_lines.pop();
    }
    for (idx, raw) in raw_lines.iter().enumerate() {
        let line_no = idx + 1;
        let syntax = |message: String| ExpositionError::Syntax {
            line: line_no,
            message,
        };
        if saw_eof {
            return Err(syntax("unexpected data after # EOF".into()));
        }
        let line = std::str::from_utf8(raw)
            .map_err(|e| syntax(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        // The text format allows blanks before a line's first token.
        let line = if om {
            line
        } else {
            line.trim_start_matches([' ', '\t'])
        };
        if line.trim().is_empty() {
            if om {
                return Err(syntax("unexpected empty line".into()));
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            match parse_comment(comment, om).map_err(syntax)? {
                Comment::Eof => saw_eof = true,
                Comment::Meta(m) => {
                    if let Metadata::Type { kind, .. } = &m {
                        current_type.clone_from(kind);
                    }
                    out.metadata.push(m);
                }
                Comment::Other => {}
            }
            continue;
        }
        let sample = parse_sample(line, om, &current_type).map_err(syntax)?;
        out.samples.push(sample);
        sample_lines.push(line_no);
    }
    if om && !saw_eof {
        return Err(ExpositionError::Syntax {
            line: raw_lines.len().max(1),
            message: "data does not end with # EOF".into(),
        });
    }
    Ok((out, sample_lines))
}

enum Comment {
    Eof,
    Meta(Metadata),
    Other,
}

/// Parses what follows `#`.
fn parse_comment(rest: &str, om: bool) -> Result<Comment, String> {
    let body = rest.trim_start_matches([' ', '\t']);
    let had_space = body.len() < rest.len();
    if om && body.trim_end() == "EOF" && had_space {
        return Ok(Comment::Eof);
    }
    let keyword_end = body.find([' ', '\t']);
    let (keyword, after) = match keyword_end {
        Some(i) if had_space => (&body[..i], body[i..].trim_start_matches([' ', '\t'])),
        _ => ("", ""),
    };
    let known_keyword = matches!(keyword, "HELP" | "TYPE") || (om && keyword == "UNIT");
    if !known_keyword {
        return if om {
            Err(format!("invalid comment in OpenMetrics: #{rest}"))
        } else {
            Ok(Comment::Other)
        };
    }
    let (name, text) = if after.starts_with('"') {
        let (name, r) = quoted(after, om)?;
        (name, r)
    } else {
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(after.len());
        if end == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected metric name after {keyword}"));
        }
        (after[..end].to_string(), &after[end..])
    };
    if !(text.is_empty() || text.starts_with([' ', '\t'])) {
        return Err(format!(
            "unexpected {text:?} after the metric name in {keyword}"
        ));
    }
    let text = text.strip_prefix([' ', '\t']).unwrap_or(text);
    Ok(Comment::Meta(match keyword {
        "HELP" => Metadata::Help {
            name,
            text: unescape_help(text),
        },
        "TYPE" => {
            let known: &[&str] = if om {
                &[
                    "counter",
                    "gauge",
                    "histogram",
                    "gaugehistogram",
                    "summary",
                    "info",
                    "stateset",
                    "unknown",
                ]
            } else {
                &["counter", "gauge", "histogram", "summary", "untyped"]
            };
            if !known.contains(&text) {
                return Err(format!("invalid metric type {text:?}"));
            }
            Metadata::Type {
                name,
                kind: text.to_string(),
            }
        }
        _ => Metadata::Unit {
            name,
            unit: text.to_string(),
        },
    }))
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// A `"..."` string at the start of `s` with the exposition escapes
/// (`\\`, `\"`, `\n`; other escapes are kept as written). Returns the value and the rest.
fn quoted(s: &str, om: bool) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or("expected '\"'")?;
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

fn skip_ws(s: &str, om: bool) -> &str {
    if om {
        s
    } else {
        s.trim_start_matches([' ', '\t'])
    }
}

/// A sample value; Go float syntax without hex floats or underscores.
fn parse_value(text: &str) -> Result<f64, String> {
    if text.contains(['p', 'P', '_']) || text.starts_with("0x") || text.starts_with("0X") {
        return Err(format!("unsupported character in float: {text:?}"));
    }
    let v: f64 = text
        .parse()
        .map_err(|_| format!("invalid value {text:?}"))?;
    Ok(if v.is_nan() { f64::NAN } else { v })
}

/// `123.456` in OpenMetrics, `1400000000000` (ms) in the text format.
fn parse_timestamp(text: &str, om: bool) -> Result<Timestamp, String> {
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
fn open_metrics_float(f: f64) -> String {
    let s = crate::model::float_format::format_go_g(f);
    if s.contains(['e', '.', 'N', 'I']) {
        s
    } else {
        s + ".0"
    }
}

fn parse_sample(line: &str, om: bool, current_type: &str) -> Result<ExposedSample, String> {
    let mut labels: Vec<Label> = Vec::new();
    let mut metric_name: Option<String> = None;
    let mut rest = line;
    if !rest.starts_with('{') {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        if end == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a valid start token".into());
        }
        metric_name = Some(rest[..end].to_string());
        rest = &rest[end..];
        let peek = skip_ws(rest, om);
        if peek.starts_with('{') {
            rest = peek;
        }
    }
    let normalize = matches!(current_type, "histogram" | "summary");
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
                (n, true)
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if end == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err("expected label name".into());
                }
                let n = rest[..end].to_string();
                rest = &rest[end..];
                (n, false)
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
                if normalize
                    && ((current_type == "histogram" && name == "le")
                        || (current_type == "summary" && name == "quantile"))
                    && let Ok(f) = parse_value(&value)
                {
                    value = open_metrics_float(f);
                }
                if name == METRIC_NAME || labels.iter().any(|l| *l.name == *name) {
                    return Err(format!("duplicate label name {name:?}"));
                }
                labels.push(Label::new(name, value));
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
    labels.push(Label::new(METRIC_NAME, name));
    let after = rest.trim_start_matches([' ', '\t']);
    if after.len() == rest.len() {
        return Err("expected value after metric".into());
    }
    let mut fields = after.splitn(2, [' ', '\t']);
    let value = parse_value(fields.next().unwrap_or(""))?;
    let tail = fields.next().unwrap_or("").trim_start_matches([' ', '\t']);
    let (ts_text, exemplar) = match tail.split_once([' ', '\t']) {
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
    Ok(ExposedSample {
        labels: Labels::new(labels),
        timestamp,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn text_format() {
        let input = "# HELP http_requests_total The total.\\nSecond line.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\nhttp_requests_total { code = \"400\" } +Inf\n\n# a free comment\n{\"my.metric\", \"a.b\"=\"x\\\"y\\\\z\\n\"} NaN\n";
        let e = parse_exposition(input.as_bytes(), ExpositionFormat::Text).unwrap();
        assert_eq!(e.samples.len(), 3);
        assert_eq!(e.samples[0].timestamp, Some(1_395_066_363_000));
        let indented =
            parse_exposition(b"  \t# TYPE a gauge\n  a 1\n", ExpositionFormat::Text).unwrap();
        assert_eq!(indented.samples.len(), 1);
        assert_eq!(indented.metadata.len(), 1);
        assert_eq!(e.samples[0].labels.get("code"), Some("200"));
        assert_eq!(e.samples[1].value, f64::INFINITY);
        assert_eq!(e.samples[2].labels.metric_name(), Some("my.metric"));
        assert_eq!(e.samples[2].labels.get("a.b"), Some("x\"y\\z\n"));
        assert!(e.samples[2].value.is_nan());
        assert_eq!(
            e.metadata[0],
            Metadata::Help {
                name: "http_requests_total".into(),
                text: "The total.\nSecond line.".into()
            }
        );
    }

    #[test]
    fn open_metrics() {
        let input = "# TYPE foo histogram\n# UNIT foo seconds\nfoo_bucket{le=\"1\"} 2 1520879607.789 # {trace_id=\"x\"} 1 1520879607.7\nfoo_bucket{le=\"+Inf\"} 3\n# EOF\n";
        assert_eq!(
            ExpositionFormat::detect(input.as_bytes()),
            ExpositionFormat::OpenMetrics
        );
        let mut store = MemoryStorage::new();
        let n = load_exposition(
            input.as_bytes(),
            ExpositionFormat::OpenMetrics,
            5,
            &mut store,
        )
        .unwrap();
        assert_eq!(n, 2);
        let e = parse_exposition(input.as_bytes(), ExpositionFormat::OpenMetrics).unwrap();
        assert_eq!(e.samples[0].timestamp, Some(1_520_879_607_789));
        assert_eq!(e.samples[0].labels.get("le"), Some("1.0"));
        assert_eq!(e.samples[1].labels.get("le"), Some("+Inf"));
        assert_eq!(e.samples[1].timestamp, None);
    }

    #[test]
    fn errors_have_line_numbers() {
        let bad = |input: &[u8], format| match parse_exposition(input, format) {
            Err(ExpositionError::Syntax { line, .. }) => line,
            other => panic!("expected a syntax error, got {other:?}"),
        };
        assert_eq!(bad(b"a 1\nb{x=\"\xff\"} 1\n", ExpositionFormat::Text), 2);
        assert_eq!(bad(b"a 1\n# TYPE a bogus\n", ExpositionFormat::Text), 2);
        assert_eq!(bad(b"a 1 1.5\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a{b=\"1\",b=\"2\"} 1\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a 0x1p3\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a 1\n", ExpositionFormat::OpenMetrics), 1);
        assert_eq!(bad(b"a 1\n# EOF\nb 2\n", ExpositionFormat::OpenMetrics), 3);
        assert_eq!(bad(b"a 1\n\n# EOF\n", ExpositionFormat::OpenMetrics), 2);
        assert_eq!(bad(b"{\"a\", \"b\"} 1\n", ExpositionFormat::Text), 1);
    }

    #[test]
    fn normalizes_floats_like_go() {
        assert_eq!(open_metrics_float(1.0), "1.0");
        assert_eq!(open_metrics_float(0.25), "0.25");
        assert_eq!(open_metrics_float(100000.0), "100000.0");
        assert_eq!(open_metrics_float(1e6), "1e+06");
        assert_eq!(open_metrics_float(0.00001), "1e-05");
        assert_eq!(open_metrics_float(0.0001), "0.0001");
    }
}

#[cfg(test)]
mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_exposition(&bytes, ExpositionFormat::Text);
            let _ = parse_exposition(&bytes, ExpositionFormat::OpenMetrics);
        }

        #[test]
        fn parser_never_panics_on_near_valid_lines(s in r#"(# (HELP|TYPE|UNIT|EOF) )?[a-z_]{0,5}(\{[a-z"=, \\]{0,20}\})? ?[0-9.eE+\-]{0,8} ?[0-9.]{0,6}\n?"#) {
            let _ = parse_exposition(s.as_bytes(), ExpositionFormat::Text);
            let _ = parse_exposition(s.as_bytes(), ExpositionFormat::OpenMetrics);
        }
    }
}
