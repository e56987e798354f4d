//! Go-style quoted strings as PromQL writes them: `"..."` and `'...'` with
//! backslash escapes, and raw `` `...` `` strings.

/// Splits a quoted string off the front of `input`: returns the unescaped
/// value and the rest of the input after the closing quote.
pub(crate) fn take_quoted(input: &str) -> Result<(String, &str), String> {
    let mut chars = input.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('"' | '\'' | '`'))) => q,
        _ => return Err("expected a quoted string".into()),
    };
    let mut out = String::new();
    if quote == '`' {
        for (i, c) in chars {
            if c == '`' {
                return Ok((out, &input[i + 1..]));
            }
            out.push(c);
        }
        return Err("unterminated raw string".into());
    }
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, &input[i + 1..])),
            '\n' => return Err("unterminated quoted string".into()),
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                match e {
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' | '\'' if e == quote => out.push(e),
                    'x' => out.push(hex_escape(&mut chars, 2)?),
                    'u' => out.push(hex_escape(&mut chars, 4)?),
                    'U' => out.push(hex_escape(&mut chars, 8)?),
                    '0'..='7' => {
                        let mut v = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            let d = chars
                                .next()
                                .and_then(|(_, c)| c.to_digit(8))
                                .ok_or("invalid octal escape")?;
                            v = v * 8 + d;
                        }
                        if v > 255 {
                            return Err("octal escape value > 255".into());
                        }
                        out.push(char::from_u32(v).ok_or("invalid octal escape")?);
                    }
                    other => return Err(format!("unknown escape sequence \\{other}")),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

fn hex_escape(chars: &mut std::str::CharIndices<'_>, digits: usize) -> Result<char, String> {
    let mut v: u32 = 0;
    for _ in 0..digits {
        let d = chars
            .next()
            .and_then(|(_, c)| c.to_digit(16))
            .ok_or("invalid hexadecimal escape")?;
        v = v * 16 + d;
    }
    char::from_u32(v)
        .ok_or_else(|| format!("escape sequence is an invalid Unicode code point: {v:#x}"))
}

/// Unquotes a whole string literal (`"a\nb"`, `` `raw` ``): the input must be
/// exactly one quoted string.
pub(crate) fn unquote(input: &str) -> Result<String, String> {
    let (value, rest) = take_quoted(input)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(format!("unexpected text after the closing quote: {rest:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_rest() {
        assert_eq!(
            take_quoted(r#""a\"b\n\u00e4\x41\101" rest"#).unwrap(),
            ("a\"b\näAA".to_string(), " rest")
        );
        assert_eq!(take_quoted("'it''s").unwrap(), ("it".to_string(), "'s"));
        assert_eq!(take_quoted("`a\\n`").unwrap(), ("a\\n".to_string(), ""));
        assert!(take_quoted("\"open").is_err());
        assert!(take_quoted(r#""\q""#).is_err());
        assert!(unquote(r#""a" b"#).is_err());
        assert_eq!(unquote("\"ü\"").unwrap(), "ü");
    }
}
