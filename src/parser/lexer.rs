//! Tokens (logos) and a token source with lookahead.
//!
//! The logos lexer ([`Tok`]) is context-free. Prometheus' lexer is not: it
//! has different rules inside `{...}` (keywords are plain label names, only
//! matcher operators are allowed) and inside `[...]` (`:` separates range and
//! step, only duration keywords are allowed). [`TokenSource`] tracks those
//! states the same way Prometheus does — from the characters seen, not from
//! the parser — and turns logos tokens into [`Token`]s, reporting the same
//! lexical errors at the same positions.

use logos::Logos;

use super::quote::{go_quote, go_quote_rune};
use crate::parser::ast::AggregateOp;
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

/// Scans a number or duration starting at the token start; bumps the lexer
/// to its end.
fn lex_number(lex: &mut logos::Lexer<'_, Tok>) -> Result<NumKind, LexError> {
    let start = lex.span().start;
    let bytes = lex.source().as_bytes();
    let (end, kind) = scan_number_or_duration(bytes, start);
    let already = lex.span().end;
    if end > already {
        lex.bump(end - already);
    }
    kind.ok_or_else(|| LexError {
        msg: format!(
            "bad number or duration syntax: {}",
            go_quote(lex.source().get(start..end).unwrap_or(""))
        ),
    })
}

fn is_alnum(c: Option<u8>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Scans a number (Prometheus' rules: decimal, `0x` hex, `.`, exponent,
/// `_` separators) or else a duration. Returns the end offset and the kind,
/// or `None` with the offset the scan stopped at for a bad literal.
pub(crate) fn scan_number_or_duration(b: &[u8], start: usize) -> (usize, Option<NumKind>) {
    match scan_number(b, start) {
        Ok(end) => (end, Some(NumKind::Number)),
        Err(pos) => scan_duration_rest(b, pos),
    }
}

/// Returns `Ok(end)` for a well-formed number, `Err(pos)` with the position
/// the scanner reached otherwise.
fn scan_number(b: &[u8], start: usize) -> Result<usize, usize> {
    let at = |i: usize| b.get(i).copied();
    let mut i = start;
    let mut hex = false;
    if at(i) == Some(b'0') {
        i += 1;
        if matches!(at(i), Some(b'x' | b'X')) {
            i += 1;
            hex = true;
            if at(i) == Some(b'_') {
                i += 1;
            }
        }
    }
    let is_digit = |c: u8| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    if at(i) == Some(b'.') {
        i += 1;
    }
    if at(i).is_some_and(is_digit) {
        i += 1;
    }
    let (mut dot, mut exp) = (false, false);
    while let Some(c) = at(i) {
        let is_exp = c == b'e' || c == b'E';
        if !(is_digit(c) || c == b'.' || c == b'_' || is_exp) {
            break;
        }
        if c == b'.' {
            i += 1;
            if dot {
                return Err(i);
            }
            dot = true;
            if matches!(at(i), Some(b'_' | b'.')) {
                return Err(i + 1);
            }
            if hex {
                return Err(i);
            }
            continue;
        }
        if is_exp {
            i += 1;
            if exp {
                return Err(i);
            }
            exp = true;
            if matches!(at(i), Some(b'+' | b'-')) {
                i += 1;
            }
            match at(i) {
                Some(b'.' | b'_' | b'e' | b'E') => return Err(i + 1),
                None => return Err(i),
                _ => {}
            }
            continue;
        }
        if c == b'_' {
            i += 1;
            match at(i) {
                Some(b'.' | b'_' | b'e' | b'E') => return Err(i + 1),
                None => return Err(i),
                _ => {}
            }
            continue;
        }
        while at(i).is_some_and(is_digit) {
            i += 1;
        }
    }
    if i == start || is_alnum(at(i)) {
        return Err(i);
    }
    Ok(i)
}

/// Continues a failed number scan as a duration (`5m`, `1h30m`).
fn scan_duration_rest(b: &[u8], mut i: usize) -> (usize, Option<NumKind>) {
    let at = |i: usize| b.get(i).copied();
    let accept = |i: &mut usize, set: &[u8]| -> bool {
        match at(*i) {
            Some(c) if set.contains(&c) => {
                *i += 1;
                true
            }
            _ => false,
        }
    };
    if !accept(&mut i, b"smhdwy") {
        return (i, None);
    }
    accept(&mut i, b"s");
    while accept(&mut i, b"0123456789") {
        while accept(&mut i, b"0123456789") {}
        if !accept(&mut i, b"smhdw") {
            return (i, None);
        }
        accept(&mut i, b"s");
    }
    if is_alnum(at(i)) {
        // Prometheus consumed the offending character before failing.
        let width = std::str::from_utf8(&b[i..])
            .ok()
            .and_then(|s| s.chars().next())
            .map_or(1, char::len_utf8);
        return ((i + width).min(b.len()), None);
    }
    (i, Some(NumKind::Duration))
}

/// Validates a `"` or `'` string (escapes as in Go) and bumps to its end.
fn lex_string(lex: &mut logos::Lexer<'_, Tok>) -> Result<(), LexError> {
    let start = lex.span().start;
    let src = lex.source();
    let quote = src.as_bytes()[start] as char;
    let rest = src.get(start + 1..).unwrap_or("");
    let mut chars = rest.char_indices();
    let err = |msg: String| LexError { msg };
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => validate_escape(&mut chars, quote).map_err(err)?,
            '\n' => return Err(err("unterminated quoted string".into())),
            c if c == quote => {
                lex.bump(i + 1);
                return Ok(());
            }
            _ => {}
        }
    }
    lex.bump(rest.len());
    Err(err("unterminated quoted string".into()))
}

/// Checks one escape sequence after the backslash.
fn validate_escape(chars: &mut std::str::CharIndices<'_>, quote: char) -> Result<(), String> {
    let Some((_, c)) = chars.next() else {
        return Err("escape sequence not terminated".into());
    };
    let (digits, base, max): (usize, u32, u32) = match c {
        'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
        c if c == quote => return Ok(()),
        '0'..='7' => (3, 8, 255),
        'x' => (2, 16, 255),
        'u' => (4, 16, 0x10FFFF),
        'U' => (8, 16, 0x10FFFF),
        c => return Err(format!("unknown escape sequence {}", go_unicode(c))),
    };
    let mut value: u32 = 0;
    let mut current = if matches!(c, '0'..='7') {
        Some(c)
    } else {
        chars.next().map(|(_, c)| c)
    };
    for n in (0..digits).rev() {
        let Some(ch) = current else {
            return Err("escape sequence not terminated".into());
        };
        let digit = ch.to_digit(16).filter(|d| *d < base);
        let Some(d) = digit else {
            return Err(format!(
                "illegal character {} in escape sequence",
                go_unicode(ch)
            ));
        };
        value = value.saturating_mul(base).saturating_add(d);
        if n > 0 {
            current = chars.next().map(|(_, c)| c);
        }
    }
    if value > max || (0xD800..0xE000).contains(&value) {
        return Err("escape sequence is an invalid Unicode code point".into());
    }
    Ok(())
}

/// Go's `%#U`: `U+0071 'q'`.
fn go_unicode(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

/// Finds the end of a raw string and bumps to it.
fn lex_raw_string(lex: &mut logos::Lexer<'_, Tok>) -> Result<(), LexError> {
    let rest = lex.remainder();
    match rest.find('`') {
        Some(i) => {
            lex.bump(i + 1);
            Ok(())
        }
        None => {
            lex.bump(rest.len());
            Err(LexError {
                msg: "unterminated raw string".into(),
            })
        }
    }
}

/// A lexical error with its position, as the token source reports it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LexFailure {
    /// The message.
    pub msg: String,
    /// The byte offset Prometheus reports.
    pub at: u32,
}

/// Which of Prometheus' lexer states applies inside brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BracketState {
    /// Not inside `[...]`.
    Closed,
    /// Right after `[` until the first number: Prometheus' duration-expression state.
    DurationExpr,
    /// After a number inside the brackets: the statement state with a bracket open.
    Statements,
}

/// Turns logos tokens into parser tokens, tracking Prometheus' lexer states
/// (braces, brackets, parenthesis depth).
pub(crate) struct TokenSource<'a> {
    src: &'a str,
    lex: logos::Lexer<'a, Tok>,
    base: usize,
    peeked: Option<Token>,
    paren_depth: i64,
    brace_open: bool,
    bracket: BracketState,
    got_colon: bool,
    got_duration: bool,
    /// End offset of the last token handed out.
    last_end: u32,
}

impl<'a> TokenSource<'a> {
    /// A token source over `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        TokenSource {
            src,
            lex: Tok::lexer(src),
            base: 0,
            peeked: None,
            paren_depth: 0,
            brace_open: false,
            bracket: BracketState::Closed,
            got_colon: false,
            got_duration: false,
            last_end: 0,
        }
    }

    /// The end offset of the last consumed token.
    pub(crate) fn last_end(&self) -> u32 {
        self.last_end
    }

    /// The next token without consuming it.
    /// (A lexical error ends the token stream for the parser.)
    pub(crate) fn peek(&mut self) -> Result<Token, LexFailure> {
        if let Some(t) = self.peeked {
            return Ok(t);
        }
        let t = self.lex_next()?;
        self.peeked = Some(t);
        Ok(t)
    }

    /// Consumes and returns the next token.
    pub(crate) fn next(&mut self) -> Result<Token, LexFailure> {
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lex_next()?,
        };
        self.last_end = t.span.end;
        Ok(t)
    }

    /// Restarts logos at byte offset `pos`.
    fn reseat(&mut self, pos: usize) {
        self.base = pos;
        self.lex = Tok::lexer(self.src.get(pos..).unwrap_or(""));
    }

    fn fail<T>(&self, msg: String, at: usize) -> Result<T, LexFailure> {
        Err(LexFailure { msg, at: at as u32 })
    }

    fn char_at(&self, pos: usize) -> char {
        self.src
            .get(pos..)
            .and_then(|s| s.chars().next())
            .unwrap_or('\u{fffd}')
    }

    fn token(&self, kind: Tok, kw: Kw, start: usize, end: usize) -> Token {
        Token {
            kind,
            kw,
            span: Span::new(start as u32, end as u32),
        }
    }

    fn lex_next(&mut self) -> Result<Token, LexFailure> {
        loop {
            let raw = self.lex.next();
            let r = self.lex.span();
            let (start, end) = (self.base + r.start, self.base + r.end);
            let tok = match raw {
                None => return self.at_eof(),
                Some(Ok(Tok::Comment)) if !self.in_duration_expr_state() => continue,
                Some(t) => t,
            };
            if self.brace_open {
                return self.inside_braces(tok, start, end);
            }
            if self.bracket == BracketState::DurationExpr {
                return self.in_duration_expr(tok, start, end);
            }
            return self.in_statements(tok, start, end);
        }
    }

    fn in_duration_expr_state(&self) -> bool {
        !self.brace_open && self.bracket == BracketState::DurationExpr
    }

    fn at_eof(&mut self) -> Result<Token, LexFailure> {
        let len = self.src.len();
        if self.brace_open {
            return self.fail("unexpected end of input inside braces".into(), len);
        }
        if self.bracket == BracketState::DurationExpr {
            return self.fail("unexpected end of input in duration expression".into(), len);
        }
        if self.paren_depth != 0 {
            return self.fail("unclosed left parenthesis".into(), len);
        }
        if self.bracket != BracketState::Closed {
            return self.fail("unclosed left bracket".into(), len);
        }
        Ok(self.token(Tok::Eof, Kw::None, len, len))
    }

    fn inside_braces(
        &mut self,
        tok: Result<Tok, LexError>,
        start: usize,
        end: usize,
    ) -> Result<Token, LexFailure> {
        let unexpected = |me: &Self, at: usize| {
            me.fail(
                format!(
                    "unexpected character inside braces: {}",
                    go_quote_rune(me.char_at(at))
                ),
                at,
            )
        };
        match tok {
            Ok(Tok::Ident) => {
                let text = self.src.get(start..end).unwrap_or("");
                match text.find(':') {
                    Some(0) => unexpected(self, start),
                    Some(i) => {
                        self.reseat(start + i);
                        Ok(self.token(Tok::Ident, Kw::None, start, start + i))
                    }
                    None => Ok(self.token(Tok::Ident, Kw::None, start, end)),
                }
            }
            Ok(Tok::EqlC) => {
                self.reseat(start + 1);
                Ok(self.token(Tok::Eql, Kw::None, start, start + 1))
            }
            Ok(
                kind
                @ (Tok::Str | Tok::Comma | Tok::Eql | Tok::Neq | Tok::EqlRegex | Tok::NeqRegex),
            ) => Ok(self.token(kind, Kw::None, start, end)),
            Ok(Tok::RBrace) => {
                self.brace_open = false;
                Ok(self.token(Tok::RBrace, Kw::None, start, end))
            }
            Ok(Tok::LBrace) => self.fail("unexpected left brace '{'".into(), start),
            Ok(_) => unexpected(self, start),
            Err(e) if !e.msg.is_empty() => self.fail(e.msg, start),
            Err(_) => {
                if self.char_at(start) == '!' {
                    let next = self.char_at(start + 1);
                    self.fail(
                        format!(
                            "unexpected character after '!' inside braces: {}",
                            go_quote_rune(next)
                        ),
                        start,
                    )
                } else {
                    unexpected(self, start)
                }
            }
        }
    }

    fn in_duration_expr(
        &mut self,
        tok: Result<Tok, LexError>,
        start: usize,
        end: usize,
    ) -> Result<Token, LexFailure> {
        let unexpected = |me: &Self| {
            me.fail(
                format!(
                    "unexpected character in duration expression: {}",
                    go_quote_rune(me.char_at(start))
                ),
                start,
            )
        };
        match tok {
            Ok(Tok::RBracket) => {
                self.bracket = BracketState::Closed;
                self.got_colon = false;
                Ok(self.token(Tok::RBracket, Kw::None, start, end))
            }
            Ok(Tok::Ident) => {
                if self.char_at(start) == ':' {
                    self.reseat(start + 1);
                    if !self.got_duration {
                        return self.fail(
                            "unexpected colon before duration in duration expression".into(),
                            start + 1,
                        );
                    }
                    if self.got_colon {
                        return self.fail(
                            "unexpected repeated colon in duration expression".into(),
                            start + 1,
                        );
                    }
                    self.got_colon = true;
                    return Ok(self.token(Tok::Colon, Kw::None, start, start + 1));
                }
                match self.duration_keyword(start, end) {
                    Some(t) => Ok(t),
                    None => unexpected(self),
                }
            }
            Ok(Tok::LParen) => {
                self.paren_depth += 1;
                Ok(self.token(Tok::LParen, Kw::None, start, end))
            }
            Ok(Tok::RParen) => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.fail("unexpected right parenthesis ')'".into(), end);
                }
                Ok(self.token(Tok::RParen, Kw::None, start, end))
            }
            Ok(
                kind @ (Tok::Add
                | Tok::Sub
                | Tok::Mul
                | Tok::Div
                | Tok::Mod
                | Tok::Pow
                | Tok::Comma),
            ) => Ok(self.token(kind, Kw::None, start, end)),
            Ok(Tok::Number(kind)) => {
                self.got_duration = true;
                self.bracket = BracketState::Statements;
                Ok(self.token(Tok::Number(kind), Kw::None, start, end))
            }
            Err(e) if !e.msg.is_empty() && self.char_at(start).is_ascii_digit() => {
                self.fail(e.msg, start)
            }
            Err(e) if !e.msg.is_empty() && self.char_at(start) == '.' => self.fail(e.msg, start),
            _ => unexpected(self),
        }
    }

    /// A duration keyword (`step`, `range`, `min_of`, `max_of`) at the start
    /// of the identifier `start..end`, reseating after it if it is shorter.
    fn duration_keyword(&mut self, start: usize, end: usize) -> Option<Token> {
        let text = self.src.get(start..end)?;
        let alpha = text
            .bytes()
            .take_while(|c| c.is_ascii_alphabetic() || *c == b'_')
            .count();
        let kw = Kw::classify(&text[..alpha]);
        if !matches!(kw, Kw::Step | Kw::Range | Kw::MinOf | Kw::MaxOf) {
            return None;
        }
        if alpha < text.len() {
            self.reseat(start + alpha);
        }
        Some(self.token(Tok::Ident, kw, start, start + alpha))
    }

    fn in_statements(
        &mut self,
        tok: Result<Tok, LexError>,
        start: usize,
        end: usize,
    ) -> Result<Token, LexFailure> {
        let bracket_open = self.bracket != BracketState::Closed;
        match tok {
            Ok(Tok::Ident) if bracket_open => {
                if self.char_at(start) == ':' {
                    if self.got_colon {
                        return self.fail("unexpected colon ':'".into(), start);
                    }
                    self.reseat(start + 1);
                    self.got_colon = true;
                    return Ok(self.token(Tok::Colon, Kw::None, start, start + 1));
                }
                match self.duration_keyword(start, end) {
                    Some(t) => Ok(t),
                    None => self.fail(
                        format!(
                            "unexpected character: {}, expected ':'",
                            go_quote_rune(self.char_at(start))
                        ),
                        start,
                    ),
                }
            }
            Ok(Tok::Ident) => {
                let text = self.src.get(start..end).unwrap_or("");
                let mut kw = Kw::classify(text);
                if matches!(kw, Kw::Fill | Kw::FillLeft | Kw::FillRight)
                    && !self.followed_by_paren(end)
                {
                    kw = Kw::None;
                }
                if kw == Kw::None
                    && (text.eq_ignore_ascii_case("inf") || text.eq_ignore_ascii_case("nan"))
                {
                    return Ok(self.token(Tok::Number(NumKind::Number), kw, start, end));
                }
                Ok(self.token(Tok::Ident, kw, start, end))
            }
            Ok(Tok::EqlRegex) => self.fail("unexpected character after '=': '~'".into(), start),
            Ok(Tok::NeqRegex) => self.fail("unexpected character after '!': '~'".into(), start),
            Ok(Tok::LParen) => {
                self.paren_depth += 1;
                Ok(self.token(Tok::LParen, Kw::None, start, end))
            }
            Ok(Tok::RParen) => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.fail("unexpected right parenthesis ')'".into(), end);
                }
                Ok(self.token(Tok::RParen, Kw::None, start, end))
            }
            Ok(Tok::LBrace) => {
                self.brace_open = true;
                Ok(self.token(Tok::LBrace, Kw::None, start, end))
            }
            Ok(Tok::RBrace) => self.fail("unexpected character: '}'".into(), start),
            Ok(Tok::LBracket) => {
                if bracket_open {
                    return self.fail("unexpected left bracket '['".into(), end);
                }
                self.got_colon = false;
                self.bracket = BracketState::DurationExpr;
                Ok(self.token(Tok::LBracket, Kw::None, start, end))
            }
            Ok(Tok::RBracket) => {
                if !bracket_open {
                    return self.fail("unexpected right bracket ']'".into(), end);
                }
                self.bracket = BracketState::Closed;
                Ok(self.token(Tok::RBracket, Kw::None, start, end))
            }
            Ok(kind) => Ok(self.token(kind, Kw::None, start, end)),
            Err(e) if !e.msg.is_empty() => self.fail(e.msg, start),
            Err(_) => {
                let c = self.char_at(start);
                if c == '!' {
                    let next = self.char_at(start + 1);
                    let next = if start + 1 >= self.src.len() {
                        "U+FFFD".to_string()
                    } else {
                        go_quote_rune(next)
                    };
                    return self.fail(format!("unexpected character after '!': {next}"), start);
                }
                self.fail(format!("unexpected character: {}", go_quote_rune(c)), start)
            }
        }
    }

    /// Whether the next non-space character after `pos` is `(`.
    fn followed_by_paren(&self, pos: usize) -> bool {
        self.src
            .get(pos..)
            .unwrap_or("")
            .bytes()
            .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            == Some(b'(')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        let mut ts = TokenSource::new(src);
        let mut out = vec![];
        loop {
            let t = ts.next().unwrap();
            out.push(t.kind);
            if t.kind == Tok::Eof {
                return out;
            }
        }
    }

    fn lex_err(src: &str) -> (String, u32) {
        let mut ts = TokenSource::new(src);
        loop {
            match ts.next() {
                Ok(t) if t.kind == Tok::Eof => panic!("no error lexing {src:?}"),
                Ok(_) => {}
                Err(e) => return (e.msg, e.at),
            }
        }
    }

    #[test]
    fn numbers_and_durations() {
        use NumKind::*;
        for (src, want) in [
            ("1", Number),
            ("0x1f", Number),
            ("1e3", Number),
            (".5", Number),
            ("1_000", Number),
            ("5m", Duration),
            ("1h30m", Duration),
            ("100ms", Duration),
            ("1y2w", Duration),
        ] {
            assert_eq!(kinds(src), vec![Tok::Number(want), Tok::Eof], "{src}");
        }
    }

    #[test]
    fn bad_numbers() {
        assert_eq!(
            lex_err("2.5."),
            ("bad number or duration syntax: \"2.5.\"".into(), 0)
        );
        assert_eq!(
            lex_err("100..4"),
            ("bad number or duration syntax: \"100..\"".into(), 0)
        );
        assert_eq!(
            lex_err("0deadbeef"),
            ("bad number or duration syntax: \"0de\"".into(), 0)
        );
    }

    #[test]
    fn brackets_split_colons() {
        assert_eq!(
            kinds("a[5m:1m]"),
            vec![
                Tok::Ident,
                Tok::LBracket,
                Tok::Number(NumKind::Duration),
                Tok::Colon,
                Tok::Number(NumKind::Duration),
                Tok::RBracket,
                Tok::Eof
            ]
        );
        assert_eq!(
            kinds("a[5m:]"),
            vec![
                Tok::Ident,
                Tok::LBracket,
                Tok::Number(NumKind::Duration),
                Tok::Colon,
                Tok::RBracket,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lexer_errors() {
        assert_eq!(
            lex_err("(1))"),
            ("unexpected right parenthesis ')'".into(), 4)
        );
        assert_eq!(lex_err("((1)"), ("unclosed left parenthesis".into(), 4));
        assert_eq!(lex_err("."), ("unexpected character: '.'".into(), 0));
        assert_eq!(
            lex_err("{a*}"),
            ("unexpected character inside braces: '*'".into(), 2)
        );
        assert_eq!(
            lex_err("\"a\\qb\""),
            ("unknown escape sequence U+0071 'q'".into(), 0)
        );
        assert_eq!(lex_err("\"abc"), ("unterminated quoted string".into(), 0));
        assert_eq!(
            lex_err("a =~ b"),
            ("unexpected character after '=': '~'".into(), 2)
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(Kw::classify("SUM"), Kw::Agg(AggregateOp::Sum));
        assert_eq!(Kw::classify("Offset"), Kw::Offset);
        assert_eq!(Kw::classify("foo"), Kw::None);
    }
}
