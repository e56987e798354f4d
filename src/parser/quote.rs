//! Go-style quoting (for error messages) and unquoting of PromQL strings.

use std::borrow::Cow;

pub(crate) use crate::model::quote::{go_quote, go_quote_rune};

/// Removes the quotes of a string token and resolves its escapes (Go rules;
/// raw strings in backticks are taken verbatim). The token was validated by
/// the lexer; errors here are escapes that produce invalid UTF-8.
pub(crate) fn unquote(token: &str) -> Result<Cow<'_, str>, String> {
    match unquote_bytes(token)? {
        Unquoted::Text(s) => Ok(s),
        Unquoted::Bytes(_) => Err("invalid UTF-8 in string literal".to_string()),
    }
}

/// The result of unquoting: text, or bytes that are not valid UTF-8.
pub(crate) enum Unquoted<'a> {
    /// Valid UTF-8.
    Text(Cow<'a, str>),
    /// The escapes produced these bytes, which are not valid UTF-8.
    Bytes(Vec<u8>),
}

/// Like [`unquote`], but returns invalid UTF-8 as bytes instead of an error.
pub(crate) fn unquote_bytes(token: &str) -> Result<Unquoted<'_>, String> {
    let Some(quote) = token.chars().next() else {
        return Err("empty string token".into());
    };
    let inner = token
        .get(1..token.len().saturating_sub(1))
        .ok_or_else(|| "invalid string token".to_string())?;
    if quote == '`' || !inner.contains('\\') {
        return Ok(Unquoted::Text(Cow::Borrowed(inner)));
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or("escape sequence not terminated")?;
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            bytes.push(b);
            continue;
        }
        let (first, n, base) = match e {
            '0'..='7' => (Some(e), 3, 8),
            'x' => (None, 2, 16),
            'u' => (None, 4, 16),
            'U' => (None, 8, 16),
            _ => return Err(format!("unknown escape sequence \\{e}")),
        };
        let mut value: u32 = 0;
        let mut pending = first;
        for _ in 0..n {
            let d = pending
                .take()
                .or_else(|| chars.next())
                .and_then(|c| c.to_digit(base))
                .ok_or("invalid escape sequence")?;
            value = value * base + d;
        }
        if matches!(e, 'u' | 'U') {
            let c = char::from_u32(value).ok_or("invalid Unicode code point")?;
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            bytes.push(u8::try_from(value).map_err(|_| "octal escape value > 255")?);
        }
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => Unquoted::Text(Cow::Owned(s)),
        Err(e) => Unquoted::Bytes(e.into_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(go_quote_rune('\''), r"'\''");
        assert_eq!(go_quote_rune('*'), "'*'");
        assert_eq!(go_quote("é"), "\"é\"");
        assert_eq!(go_quote("a\u{a0}b\u{200b}"), r#""a\u00a0b\u200b""#);
    }

    #[test]
    fn unquotes_escapes() {
        assert_eq!(unquote(r#""a\tb""#).unwrap(), "a\tb");
        assert_eq!(unquote(r"'a\'b'").unwrap(), "a'b");
        assert_eq!(unquote(r#""\u00e9\x41\101""#).unwrap(), "éAA");
        assert_eq!(unquote(r#""\xc3\xa9""#).unwrap(), "é");
        assert_eq!(unquote(r"`a\tb`").unwrap(), r"a\tb");
        assert!(unquote(r#""\xff""#).is_err());
    }
}
