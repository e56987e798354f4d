//! Tokens (logos) and a token source with lookahead.
//!
//! The logos lexer ([`Tok`]) is context-free. Prometheus' lexer is not: it
//! has different rules inside `{...}` (keywords are plain label names, only
//! matcher operators are allowed) and inside `[...]` (`:` separates range and
//! step, only duration keywords are allowed). [`TokenSource`] tracks those
//! states the same way Prometheus does — from the characters seen, not from
//! the parser — and turns logos tokens into [`Token`]s, reporting the same
//! lexical errors at the same positions.

mod scan;
mod tokens;

use logos::Logos;

pub(crate) use tokens::{Kw, NumKind, Tok, Token};

use crate::parser::quote::go_quote_rune;
use crate::parser::span::Span;
use tokens::LexError;

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
            Err(e) if matches!(self.char_at(start), '"' | '\'' | '`') => self.fail(e.msg, start),
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
                    return self.fail("unexpected left bracket '['".into(), start);
                }
                self.got_colon = false;
                self.bracket = BracketState::DurationExpr;
                Ok(self.token(Tok::LBracket, Kw::None, start, end))
            }
            Ok(Tok::RBracket) => {
                if !bracket_open {
                    return self.fail("unexpected right bracket ']'".into(), start);
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
    use crate::parser::ast::AggregateOp;

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
