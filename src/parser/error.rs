//! Parse and type errors, with spans and a caret renderer.

use std::fmt;

use crate::parser::span::{Position, Span};

/// What went wrong. Each variant's `Display` is the message Prometheus gives
/// for the same problem, where Prometheus has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A token the grammar does not allow here, e.g. `unexpected "}" in label matching, expected string`.
    #[error("{0}")]
    Syntax(String),
    /// A type or semantic rule was broken, e.g. `expected type instant vector in aggregation expression, got range vector`.
    #[error("{0}")]
    Type(String),
    /// Nesting deeper than [`ParseOptions::max_depth`](crate::parser::ParseOptions::max_depth).
    #[error("expression nests too deeply (limit {limit})")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// Input longer than [`ParseOptions::max_length`](crate::parser::ParseOptions::max_length).
    #[error("expression is too long ({len} bytes, limit {limit})")]
    TooLong {
        /// The input length in bytes.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
}

/// A parse or type error at a position in the query.
///
/// `Display` gives `line:col: message` (`1:14: unexpected ...`);
/// [`ParseError::render`] adds the source line with a caret.
///
/// The error is one pointer wide (its details are boxed), so that results
/// passed up a deep recursive descent stay small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    inner: Box<ErrorInner>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorInner {
    kind: ParseErrorKind,
    span: Span,
    position: Position,
}

impl ParseError {
    /// Creates an error at `span` of `source`.
    pub fn new(kind: ParseErrorKind, span: Span, source: &str) -> Self {
        ParseError {
            inner: Box::new(ErrorInner {
                kind,
                span,
                position: Position::locate(source, span.start),
            }),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.inner.kind
    }

    /// Where, as byte offsets into the query.
    pub fn span(&self) -> Span {
        self.inner.span
    }

    /// Line and column of the span's start.
    pub fn position(&self) -> Position {
        self.inner.position
    }

    /// The message without the position.
    pub fn message(&self) -> String {
        self.inner.kind.to_string()
    }

    /// The error with the offending source line and a caret line under the span:
    ///
    /// ```text
    /// 1:5: unexpected end of input
    ///   |
    /// 1 | sum(
    ///   |     ^
    /// ```
    pub fn render(&self, source: &str) -> String {
        let line_no = self.inner.position.line as usize;
        let line = source.lines().nth(line_no - 1).unwrap_or("");
        let col = self.inner.position.column as usize;
        let span_chars = {
            let start = (self.inner.span.start as usize).min(source.len());
            let end = (self.inner.span.end as usize).clamp(start, source.len());
            source
                .get(start..end)
                .map_or(1, |s| s.chars().take_while(|&c| c != '\n').count().max(1))
        };
        let gutter = line_no.to_string().len();
        let pad = " ".repeat(gutter);
        format!(
            "{self}\n{pad} |\n{line_no} | {line}\n{pad} | {}{}",
            " ".repeat(col - 1),
            "^".repeat(span_chars)
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.position, self.inner.kind)
    }
}

impl std::error::Error for ParseError {}
