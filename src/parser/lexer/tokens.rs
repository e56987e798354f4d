//! The raw tokens: the logos token enum, keywords, and token descriptions
//! for error messages.

use logos::Logos;

use super::scan::{lex_number, lex_raw_string, lex_string};
use crate::parser::ast::AggregateOp;
use crate::parser::quote::go_quote;
use crate::parser::span::Span;

/// A lexical error: a message and the byte offset it is reported at.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LexError {
    /// The message; empty means "unexpected character" at the token start.
    pub msg: String,
}

/// Whether a numeric token is a plain number or a duration (`5m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumKind {
    /// `1`, `0x1f`, `1e3`, `.5`.
    Number,
    /// `5m`, `1h30m`, `100ms`.
    Duration,
}

/// Raw tokens as logos sees them.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n]+")]
pub(crate) enum Tok {
    /// `# ...` up to the end of the line.
    #[regex(r"#[^\r\n]*", allow_greedy = true)]
    Comment,
    /// Identifiers and metric names (may contain `:`).
    #[regex(r"[a-zA-Z_:][a-zA-Z0-9_:]*")]
    Ident,
    /// Numbers and durations (scanned by [`lex_number`]).
    #[regex(r"[0-9]", lex_number)]
    #[regex(r"\.[0-9]", lex_number)]
    Number(NumKind),
    /// A quoted string, quotes included (validated by [`lex_string`]).
    #[token("\"", lex_string)]
    #[token("'", lex_string)]
    #[token("`", lex_raw_string)]
    Str,
    /// `,`
    #[token(",")]
    Comma,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `=`
    #[token("=")]
    Eql,
    /// `==`
    #[token("==")]
    EqlC,
    /// `=~`
    #[token("=~")]
    EqlRegex,
    /// `!=`
    #[token("!=")]
    Neq,
    /// `!~`
    #[token("!~")]
    NeqRegex,
    /// `<`
    #[token("<")]
    Lss,
    /// `<=`
    #[token("<=")]
    Lte,
    /// `</`
    #[token("</")]
    TrimUpper,
    /// `>`
    #[token(">")]
    Gtr,
    /// `>=`
    #[token(">=")]
    Gte,
    /// `>/`
    #[token(">/")]
    TrimLower,
    /// `+`
    #[token("+")]
    Add,
    /// `-`
    #[token("-")]
    Sub,
    /// `*`
    #[token("*")]
    Mul,
    /// `/`
    #[token("/")]
    Div,
    /// `%`
    #[token("%")]
    Mod,
    /// `^`
    #[token("^")]
    Pow,
    /// `@`
    #[token("@")]
    At,
    /// `:` inside brackets (never produced by logos itself).
    Colon,
    /// End of input (never produced by logos itself).
    Eof,
}

/// Keywords, recognised case-insensitively in identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kw {
    /// Not a keyword.
    None,
    /// An aggregation operator.
    Agg(AggregateOp),
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
    /// `atan2`
    Atan2,
    /// `offset`
    Offset,
    /// `smoothed`
    Smoothed,
    /// `anchored`
    Anchored,
    /// `by`
    By,
    /// `without`
    Without,
    /// `on`
    On,
    /// `ignoring`
    Ignoring,
    /// `group_left`
    GroupLeft,
    /// `group_right`
    GroupRight,
    /// `fill` (only when followed by `(`)
    Fill,
    /// `fill_left` (only when followed by `(`)
    FillLeft,
    /// `fill_right` (only when followed by `(`)
    FillRight,
    /// `bool`
    Bool,
    /// `start`
    Start,
    /// `end`
    End,
    /// `step`
    Step,
    /// `range`
    Range,
    /// `max_of`
    MaxOf,
    /// `min_of`
    MinOf,
}

impl Kw {
    /// Classifies an identifier (case-insensitively, without allocating).
    pub(crate) fn classify(word: &str) -> Kw {
        let bytes = word.as_bytes();
        if bytes.len() < 2 || bytes.len() > 12 {
            return Kw::None;
        }
        let mut buf = [0u8; 12];
        for (dst, src) in buf.iter_mut().zip(bytes) {
            *dst = src.to_ascii_lowercase();
        }
        match &buf[..bytes.len()] {
            b"and" => Kw::And,
            b"or" => Kw::Or,
            b"unless" => Kw::Unless,
            b"atan2" => Kw::Atan2,
            b"sum" => Kw::Agg(AggregateOp::Sum),
            b"avg" => Kw::Agg(AggregateOp::Avg),
            b"count" => Kw::Agg(AggregateOp::Count),
            b"min" => Kw::Agg(AggregateOp::Min),
            b"max" => Kw::Agg(AggregateOp::Max),
            b"group" => Kw::Agg(AggregateOp::Group),
            b"stddev" => Kw::Agg(AggregateOp::Stddev),
            b"stdvar" => Kw::Agg(AggregateOp::Stdvar),
            b"topk" => Kw::Agg(AggregateOp::Topk),
            b"bottomk" => Kw::Agg(AggregateOp::Bottomk),
            b"count_values" => Kw::Agg(AggregateOp::CountValues),
            b"quantile" => Kw::Agg(AggregateOp::Quantile),
            b"limitk" => Kw::Agg(AggregateOp::Limitk),
            b"limit_ratio" => Kw::Agg(AggregateOp::LimitRatio),
            b"offset" => Kw::Offset,
            b"smoothed" => Kw::Smoothed,
            b"anchored" => Kw::Anchored,
            b"by" => Kw::By,
            b"without" => Kw::Without,
            b"on" => Kw::On,
            b"ignoring" => Kw::Ignoring,
            b"group_left" => Kw::GroupLeft,
            b"group_right" => Kw::GroupRight,
            b"fill" => Kw::Fill,
            b"fill_left" => Kw::FillLeft,
            b"fill_right" => Kw::FillRight,
            b"bool" => Kw::Bool,
            b"start" => Kw::Start,
            b"end" => Kw::End,
            b"step" => Kw::Step,
            b"range" => Kw::Range,
            b"max_of" => Kw::MaxOf,
            b"min_of" => Kw::MinOf,
            _ => Kw::None,
        }
    }

    /// Whether this keyword is one of the binary-operator keywords.
    fn is_operator(self) -> bool {
        matches!(self, Kw::And | Kw::Or | Kw::Unless | Kw::Atan2)
    }

    /// Whether Prometheus counts this as a "keyword" item (printed `<kw>`).
    fn is_keyword_item(self) -> bool {
        matches!(
            self,
            Kw::Bool
                | Kw::By
                | Kw::GroupLeft
                | Kw::GroupRight
                | Kw::Fill
                | Kw::FillLeft
                | Kw::FillRight
                | Kw::Ignoring
                | Kw::Offset
                | Kw::Smoothed
                | Kw::Anchored
                | Kw::On
                | Kw::Without
        )
    }
}

/// A token handed to the parser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Token {
    /// What kind of token.
    pub kind: Tok,
    /// For identifiers: the keyword it spells, if any.
    pub kw: Kw,
    /// Where it is.
    pub span: Span,
}

impl Token {
    /// The token's text.
    pub(crate) fn text<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.span.range()).unwrap_or("")
    }

    /// Whether this is an identifier spelling `kw`.
    pub(crate) fn is_kw(&self, kw: Kw) -> bool {
        self.kind == Tok::Ident && self.kw == kw
    }

    /// Describes the token as Prometheus' parser does in "unexpected ..." errors.
    pub(crate) fn describe(&self, src: &str) -> String {
        let text = self.text(src);
        match self.kind {
            Tok::Eof => "end of input".to_string(),
            Tok::Ident => match self.kw {
                Kw::Agg(_) => format!("<aggr:{text}>"),
                kw if kw.is_operator() => format!("<op:{text}>"),
                kw if kw.is_keyword_item() => format!("<{text}>"),
                Kw::None => {
                    if text.eq_ignore_ascii_case("inf") || text.eq_ignore_ascii_case("nan") {
                        format!("number {}", go_quote(text))
                    } else if text.contains(':') {
                        format!("metric identifier {}", go_quote(text))
                    } else {
                        format!("identifier {}", go_quote(text))
                    }
                }
                _ => go_quote(text),
            },
            Tok::Number(kind) => {
                let what = match kind {
                    NumKind::Number => "number",
                    NumKind::Duration => "duration",
                };
                format!("{what} {}", truncated_quote(text))
            }
            Tok::Str => format!("string {}", truncated_quote(text)),
            Tok::Comma
            | Tok::LParen
            | Tok::RParen
            | Tok::LBrace
            | Tok::RBrace
            | Tok::LBracket
            | Tok::RBracket
            | Tok::Eql
            | Tok::Colon
            | Tok::Comment => go_quote(text),
            _ => format!("<op:{text}>"),
        }
    }
}

/// `%.10q...` for long values, `%q` otherwise (as Prometheus' `Item.String`).
fn truncated_quote(text: &str) -> String {
    if text.len() > 10 {
        let short: String = text.chars().take(10).collect();
        format!("{}...", go_quote(&short))
    } else {
        go_quote(text)
    }
}
