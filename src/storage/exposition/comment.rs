//! `#` lines: HELP, TYPE, UNIT, `# EOF` and free comments.

use super::Metadata;
use super::sample::{quoted, split_name};

/// What a `#` line turned out to be.
pub(super) enum Comment {
    /// `# EOF` (OpenMetrics).
    Eof,
    /// HELP, TYPE or UNIT.
    Meta(Metadata),
    /// A free comment (text format only).
    Other,
}

/// Parses what follows `#`.
pub(super) fn parse_comment(rest: &str, om: bool) -> Result<Comment, String> {
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
        quoted(after, om)?
    } else {
        let (name, text) = split_name(after, true);
        if name.is_empty() || after.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected metric name after {keyword}"));
        }
        (name.to_string(), text)
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
