//! Tokens of Go's text/template language.
//!
//! The lexer turns the whole input into tokens up front; a lexical error
//! becomes an [`TokenKind::Error`] token that ends the stream, so the parser
//! reports whichever problem comes first in the text.

/// A keyword inside an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// `block`
    Block,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `define`
    Define,
    /// `else`
    Else,
    /// `end`
    End,
    /// `if`
    If,
    /// `range`
    Range,
    /// `template`
    Template,
    /// `with`
    With,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "block" => Keyword::Block,
            "break" => Keyword::Break,
            "continue" => Keyword::Continue,
            "define" => Keyword::Define,
            "else" => Keyword::Else,
            "end" => Keyword::End,
            "if" => Keyword::If,
            "range" => Keyword::Range,
            "template" => Keyword::Template,
            "with" => Keyword::With,
            _ => return None,
        })
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Plain text outside actions (after whitespace trimming).
    Text,
    /// `{{` (or `{{- `).
    LeftDelim,
    /// `}}` (or ` -}}`).
    RightDelim,
    /// A run of spaces inside an action (separates arguments).
    Space,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// `|`
    Pipe,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `,` (between range variables)
    Comma,
    /// Any other printable ASCII character (only ever an error for the parser).
    Punct,
    /// `.` alone (the cursor).
    Dot,
    /// `.Name`
    Field,
    /// `$` or `$name`
    Variable,
    /// A function name.
    Identifier,
    /// A keyword.
    Keyword(Keyword),
    /// `true` or `false`.
    Bool,
    /// A number (syntax checked loosely; the parser checks it).
    Number,
    /// A complex constant such as `1+2i`.
    Complex,
    /// A character constant `'a'`.
    Char,
    /// A quoted string `"..."`.
    String,
    /// A raw string `` `...` ``.
    RawString,
    /// `nil`
    Nil,
    /// `{{/* ... */}}`.
    Comment,
    /// End of input.
    Eof,
    /// A lexical error; the token's text is the message.
    Error,
}

/// A token with its text, byte offset and 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The kind.
    pub kind: TokenKind,
    /// The token's text (for [`TokenKind::Error`], the message).
    pub text: String,
    /// Byte offset of its start.
    pub offset: usize,
    /// Line of its start, from 1.
    pub line: u32,
}

impl Token {
    /// How Go describes the token in "unexpected X" messages.
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::Eof => "EOF".to_string(),
            TokenKind::Error => self.text.clone(),
            TokenKind::Keyword(_) => format!("<{}>", self.text),
            _ if self.text.chars().count() > 10 => {
                let head: String = self.text.chars().take(10).collect();
                format!("{}...", go_quote(&head))
            }
            _ => go_quote(&self.text),
        }
    }
}

/// Quotes like Go's `%q`.
pub use crate::model::quote::go_quote;

/// A rune as Go's `%#U` shows it: `U+0023 '#'` (no quoted form for
/// unprintable runes).
fn go_rune(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

/// Go's `bad character %#U` message.
fn bad_character(c: char) -> String {
    format!("bad character {}", go_rune(c))
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    line: u32,
    tokens: Vec<Token>,
    paren_depth: usize,
}

/// Splits `input` into tokens. The last token is [`TokenKind::Eof`] or
/// [`TokenKind::Error`].
pub fn tokenize(input: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        line: 1,
        tokens: Vec::new(),
        paren_depth: 0,
    };
    lexer.run();
    lexer.tokens
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn advance(&mut self, bytes: usize) {
        let end = (self.pos + bytes).min(self.input.len());
        let skipped = self.input.get(self.pos..end).unwrap_or("");
        self.line += u32::try_from(skipped.matches('\n').count()).unwrap_or(0);
        self.pos = end;
    }

    fn emit(&mut self, kind: TokenKind, start: usize, line: u32) {
        let text = self.input.get(start..self.pos).unwrap_or("").to_string();
        self.tokens.push(Token {
            kind,
            text,
            offset: start,
            line,
        });
    }

    fn error(&mut self, message: String, start: usize, line: u32) {
        self.tokens.push(Token {
            kind: TokenKind::Error,
            text: message,
            offset: start,
            line,
        });
    }

    /// Whether the input at the cursor is a right delimiter, possibly with a
    /// trim marker; returns (is delimiter, trims).
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if rest.starts_with(" -}}")
            || rest.starts_with("\t-}}")
            || rest.starts_with("\r-}}")
            || rest.starts_with("\n-}}")
        {
            return (true, true);
        }
        (rest.starts_with(RIGHT), false)
    }

    fn run(&mut self) {
        loop {
            // Text up to the next left delimiter.
            let start = self.pos;
            let line = self.line;
            let Some(found) = self.rest().find(LEFT) else {
                self.advance(self.input.len() - self.pos);
                if self.pos > start {
                    self.emit(TokenKind::Text, start, line);
                }
                self.emit(TokenKind::Eof, self.pos, self.line);
                return;
            };
            let delim_at = self.pos + found;
            let after = self.input.get(delim_at + LEFT.len()..).unwrap_or("");
            let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
            let mut text_end = delim_at;
            if trim_left {
                let text = self.input.get(start..delim_at).unwrap_or("");
                text_end = start + text.trim_end_matches(is_space).len();
            }
            if text_end > start {
                let text = self.input.get(start..text_end).unwrap_or("").to_string();
                self.tokens.push(Token {
                    kind: TokenKind::Text,
                    text,
                    offset: start,
                    line,
                });
            }
            self.advance(delim_at - self.pos);
            if !self.left_delim(trim_left) {
                return;
            }
        }
    }

    /// Lexes from a left delimiter through its right delimiter. Returns false
    /// when the token stream has ended (error).
    fn left_delim(&mut self, trim: bool) -> bool {
        let start = self.pos;
        let line = self.line;
        self.advance(LEFT.len());
        if trim {
            self.advance(2);
        }
        // A comment must follow the delimiter (and trim marker) directly.
        if self.rest().starts_with("/*") {
            return self.comment(start, line);
        }
        self.emit(TokenKind::LeftDelim, start, line);
        self.paren_depth = 0;
        self.inside_action()
    }

    fn comment(&mut self, start: usize, line: u32) -> bool {
        let Some(end) = self.rest().find("*/") else {
            self.error("unclosed comment".into(), start, line);
            return false;
        };
        self.advance(end + 2);
        let (delim, trim) = self.at_right_delim();
        if !delim {
            self.error("comment ends before closing delimiter".into(), start, line);
            return false;
        }
        self.advance(if trim { 4 } else { 2 });
        self.emit(TokenKind::Comment, start, line);
        if trim {
            self.skip_leading_space();
        }
        true
    }

    fn skip_leading_space(&mut self) {
        let n = self.rest().len() - self.rest().trim_start_matches(is_space).len();
        self.advance(n);
    }

    fn inside_action(&mut self) -> bool {
        loop {
            let (delim, trim) = self.at_right_delim();
            if delim {
                if self.paren_depth > 0 {
                    self.error("unclosed left paren".into(), self.pos, self.line);
                    return false;
                }
                let start = self.pos;
                let line = self.line;
                if trim {
                    // The space before the dash belongs to the delimiter.
                    self.advance(4);
                    self.emit(TokenKind::RightDelim, start, line);
                    self.skip_leading_space();
                } else {
                    self.advance(2);
                    self.emit(TokenKind::RightDelim, start, line);
                }
                return true;
            }
            let start = self.pos;
            let line = self.line;
            let Some(c) = self.peek_char() else {
                self.error("unclosed action".into(), start, line);
                return false;
            };
            match c {
                c if is_space(c) => {
                    // Spaces up to (not including) a trim-marked right delimiter.
                    while let Some(c) = self.peek_char() {
                        if !is_space(c) || self.at_right_delim().1 {
                            break;
                        }
                        self.advance(c.len_utf8());
                    }
                    self.emit(TokenKind::Space, start, line);
                }
                ':' => {
                    self.advance(1);
                    if self.peek_char() != Some('=') {
                        self.error("expected :=".into(), start, line);
                        return false;
                    }
                    self.advance(1);
                    self.emit(TokenKind::Declare, start, line);
                }
                '=' => self.single(TokenKind::Assign, start, line),
                '|' => self.single(TokenKind::Pipe, start, line),
                ',' => self.single(TokenKind::Comma, start, line),
                '(' => {
                    self.paren_depth += 1;
                    self.single(TokenKind::LeftParen, start, line);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        self.error("unexpected right paren".into(), start, line);
                        return false;
                    }
                    self.paren_depth -= 1;
                    self.single(TokenKind::RightParen, start, line);
                }
                '"' => {
                    if !self.quoted(start, line) {
                        return false;
                    }
                }
                '`' => {
                    self.advance(1);
                    let Some(end) = self.rest().find('`') else {
                        self.error("unterminated raw quoted string".into(), start, line);
                        return false;
                    };
                    self.advance(end + 1);
                    self.emit(TokenKind::RawString, start, line);
                }
                '\'' => {
                    if !self.char_constant(start, line) {
                        return false;
                    }
                }
                '$' => {
                    self.advance(1);
                    self.word_tail();
                    if !self.terminated(start, line) {
                        return false;
                    }
                    self.emit(TokenKind::Variable, start, line);
                }
                '.' => {
                    let next = self.rest().chars().nth(1);
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        if !self.number(start, line) {
                            return false;
                        }
                    } else if next.is_some_and(is_alphanumeric) {
                        self.advance(1);
                        self.word_tail();
                        if !self.terminated(start, line) {
                            return false;
                        }
                        self.emit(TokenKind::Field, start, line);
                    } else {
                        self.single(TokenKind::Dot, start, line);
                    }
                }
                '+' | '-' | '0'..='9' => {
                    if !self.number(start, line) {
                        return false;
                    }
                }
                c if is_alphanumeric(c) => {
                    self.word_tail();
                    if !self.terminated(start, line) {
                        return false;
                    }
                    let word = self.input.get(start..self.pos).unwrap_or("");
                    let kind = if let Some(kw) = Keyword::from_word(word) {
                        TokenKind::Keyword(kw)
                    } else {
                        match word {
                            "true" | "false" => TokenKind::Bool,
                            "nil" => TokenKind::Nil,
                            _ => TokenKind::Identifier,
                        }
                    };
                    self.emit(kind, start, line);
                }
                c if c.is_ascii_graphic() => self.single(TokenKind::Punct, start, line),
                c => {
                    let message = format!("unrecognized character in action: {}", go_rune(c));
                    self.error(message, start, line);
                    return false;
                }
            }
        }
    }

    fn single(&mut self, kind: TokenKind, start: usize, line: u32) {
        self.advance(1);
        self.emit(kind, start, line);
    }

    fn word_tail(&mut self) {
        let n: usize = self
            .rest()
            .chars()
            .take_while(|&c| is_alphanumeric(c))
            .map(char::len_utf8)
            .sum();
        self.advance(n);
    }

    /// After a word, the next character must end it.
    fn terminated(&mut self, start: usize, line: u32) -> bool {
        let ok = match self.peek_char() {
            None => true,
            Some(c) => {
                is_space(c)
                    || matches!(c, '.' | ',' | '|' | ':' | ')' | '(')
                    || self.rest().starts_with(RIGHT)
            }
        };
        if !ok {
            let c = self.peek_char().unwrap_or(' ');
            self.error(bad_character(c), start, line);
        }
        ok
    }

    fn quoted(&mut self, start: usize, line: u32) -> bool {
        self.delimited(
            '"',
            TokenKind::String,
            "unterminated quoted string",
            start,
            line,
        )
    }

    fn char_constant(&mut self, start: usize, line: u32) -> bool {
        self.delimited(
            '\'',
            TokenKind::Char,
            "unterminated character constant",
            start,
            line,
        )
    }

    /// Scans a `quote`-delimited literal with backslash escapes on one line.
    fn delimited(
        &mut self,
        quote: char,
        kind: TokenKind,
        unterminated: &str,
        start: usize,
        line: u32,
    ) -> bool {
        self.advance(1);
        loop {
            match self.peek_char() {
                Some('\\') => {
                    self.advance(1);
                    match self.peek_char() {
                        Some('\n') | None => {
                            self.error(unterminated.into(), start, line);
                            return false;
                        }
                        Some(c) => self.advance(c.len_utf8()),
                    }
                }
                Some('\n') | None => {
                    self.error(unterminated.into(), start, line);
                    return false;
                }
                Some(c) if c == quote => {
                    self.advance(1);
                    self.emit(kind, start, line);
                    return true;
                }
                Some(c) => self.advance(c.len_utf8()),
            }
        }
    }

    fn number(&mut self, start: usize, line: u32) -> bool {
        let rest = self.rest();
        let bad = |len: usize| {
            let end = (0..=len.min(rest.len()))
                .rev()
                .find(|&i| rest.is_char_boundary(i))
                .unwrap_or(0);
            format!("bad number syntax: {}", go_quote(&rest[..end]))
        };
        let mut len = match scan_number(rest, 0) {
            Ok(len) => len,
            Err(len) => {
                let message = bad(len);
                self.error(message, start, line);
                return false;
            }
        };
        let mut kind = TokenKind::Number;
        if matches!(rest.as_bytes().get(len), Some(b'+' | b'-')) {
            // A complex constant such as `1+2i`: no spaces, must end in `i`.
            match scan_number(rest, len) {
                Ok(end) if rest.as_bytes().get(end.saturating_sub(1)) == Some(&b'i') => len = end,
                Ok(end) | Err(end) => {
                    let message = bad(end);
                    self.error(message, start, line);
                    return false;
                }
            }
            kind = TokenKind::Complex;
        }
        self.advance(len);
        self.emit(kind, start, line);
        true
    }
}

/// Scans a number in `text` from byte `from`: optional sign, digits (with
/// `0x`/`0o`/`0b` prefixes and `_`), fraction, exponent, `i`. Returns the end
/// offset, or `Err(end)` when a letter or digit follows the number.
fn scan_number(text: &str, from: usize) -> Result<usize, usize> {
    let bytes = text.as_bytes();
    let mut len = from;
    if matches!(bytes.get(len), Some(b'+' | b'-')) {
        len += 1;
    }
    let mut digits: &[u8] = b"0123456789_";
    let mut exponent: &[u8] = b"eE";
    if bytes.get(len) == Some(&b'0') {
        len += 1;
        match bytes.get(len) {
            Some(b'x' | b'X') => {
                len += 1;
                digits = b"0123456789abcdefABCDEF_";
                exponent = b"pP";
            }
            Some(b'o' | b'O') => {
                len += 1;
                digits = b"01234567_";
                exponent = b"";
            }
            Some(b'b' | b'B') => {
                len += 1;
                digits = b"01_";
                exponent = b"";
            }
            _ => {}
        }
    }
    let run = |from: usize, set: &[u8]| {
        bytes
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| set.contains(b))
            .count()
    };
    len += run(len, digits);
    if bytes.get(len) == Some(&b'.') {
        len += 1;
        len += run(len, digits);
    }
    if !exponent.is_empty() && bytes.get(len).is_some_and(|b| exponent.contains(b)) {
        len += 1;
        if matches!(bytes.get(len), Some(b'+' | b'-')) {
            len += 1;
        }
        len += run(len, b"0123456789_");
    }
    if bytes.get(len) == Some(&b'i') {
        len += 1;
    }
    match text.get(len..).and_then(|r| r.chars().next()) {
        Some(c) if is_alphanumeric(c) => Err(len + c.len_utf8()),
        _ => Ok(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexes_actions_and_text() {
        use TokenKind::*;
        assert_eq!(
            kinds("a {{ $labels.x | humanize }} b"),
            vec![
                Text, LeftDelim, Space, Variable, Field, Space, Pipe, Space, Identifier, Space,
                RightDelim, Text, Eof
            ]
        );
    }

    #[test]
    fn trims_whitespace() {
        let tokens = tokenize("a  {{- 1 -}}  b");
        assert_eq!(tokens[0].text, "a");
        assert_eq!(tokens.last().map(|t| t.kind.clone()), Some(TokenKind::Eof));
        let text: Vec<_> = tokens
            .iter()
            .filter(|t| t.kind == TokenKind::Text)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(text, vec!["a", "b"]);
        // `{{-3}}` is the number -3, not a trim marker.
        assert!(
            tokenize("{{-3}}")
                .iter()
                .any(|t| t.kind == TokenKind::Number && t.text == "-3")
        );
    }

    #[test]
    fn reports_lexical_errors() {
        let last = |s: &str| tokenize(s).pop().map(|t| t.text).unwrap_or_default();
        assert_eq!(last("{{ .x "), "unclosed action");
        assert_eq!(last("{{ \"abc }}"), "unterminated quoted string");
        assert_eq!(last("{{ a# }}"), "bad character U+0023 '#'");
        assert_eq!(
            last("{{ \u{7} }}"),
            "unrecognized character in action: U+0007"
        );
        assert_eq!(
            last("{{ € }}"),
            "unrecognized character in action: U+20AC '€'"
        );
        assert_eq!(last("{{ 1+2 }}"), "bad number syntax: \"1+2\"");
        assert_eq!(last("{{ 3x }}"), "bad number syntax: \"3x\"");
        assert_eq!(last("{{ ( }}"), "unclosed left paren");
        assert_eq!(last("{{ ) }}"), "unexpected right paren");
        assert_eq!(
            last("{{/* x */ }}"),
            "comment ends before closing delimiter"
        );
    }

    #[test]
    fn lines_are_counted() {
        let tokens = tokenize("a\nb\n{{ $x }}");
        let var = tokens
            .iter()
            .find(|t| t.kind == TokenKind::Variable)
            .unwrap();
        assert_eq!(var.line, 3);
    }
}
