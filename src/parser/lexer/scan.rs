//! Scanning of numbers, durations and strings with Prometheus' (Go's) rules.

use super::tokens::{LexError, NumKind, Tok};
use crate::parser::quote::go_quote;

/// Scans a number or duration starting at the token start; bumps the lexer
/// to its end.
pub(super) fn lex_number(lex: &mut logos::Lexer<'_, Tok>) -> Result<NumKind, LexError> {
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
pub(super) fn lex_string(lex: &mut logos::Lexer<'_, Tok>) -> Result<(), LexError> {
    let start = lex.span().start;
    let src = lex.source();
    let quote = src.as_bytes().get(start).map_or('"', |&b| b as char);
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
pub(super) fn lex_raw_string(lex: &mut logos::Lexer<'_, Tok>) -> Result<(), LexError> {
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
