//! Go's `strconv.Quote`, which Prometheus uses to print strings and label
//! names and values: one implementation for the printer, label sets and
//! messages; and the entities Go's HTML and XML escapers share.

use std::fmt::{self, Write};

/// Writes `s` double-quoted as Go's `strconv.Quote` does: `"` and `\`
/// escaped, printable characters as they are, the rest as `\n`, `\x1b`,
/// `\u00ad`, `\U000e0001`.
pub fn write_go_quoted(w: &mut dyn Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    write_escaped(w, s, '"')?;
    w.write_char('"')
}

/// The entity Go writes for one of the five markup characters, in
/// `text/template`'s `html` and in `encoding/xml` alike: numeric for the
/// quotes (`&#34;`, `&#39;`), named for `&`, `<` and `>`; `None` for any
/// other character.
pub fn go_markup_entity(c: char) -> Option<&'static str> {
    match c {
        '"' => Some("&#34;"),
        '\'' => Some("&#39;"),
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// `s` quoted as Go's `strconv.Quote` (and `%q`) does.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_go_quoted(&mut out, s);
    out
}

/// A character quoted as Go's `%q` for runes does: `'a'`, `'\n'`, `'\''`.
pub fn go_quote_rune(c: char) -> String {
    let mut out = String::with_capacity(4);
    out.push('\'');
    let mut buf = [0u8; 4];
    let _ = write_escaped(&mut out, c.encode_utf8(&mut buf), '\'');
    out.push('\'');
    out
}

/// Writes bytes double-quoted as Go's `strconv.Quote` does for a string that
/// is not valid UTF-8: valid runs as in [`write_go_quoted`], each invalid
/// byte as `\xNN`.
pub fn write_go_quoted_bytes(w: &mut dyn Write, bytes: &[u8]) -> fmt::Result {
    w.write_char('"')?;
    for chunk in bytes.utf8_chunks() {
        write_escaped(w, chunk.valid(), '"')?;
        for b in chunk.invalid() {
            write!(w, "\\x{b:02x}")?;
        }
    }
    w.write_char('"')
}

/// [`write_go_quoted_bytes`] into a new string.
pub fn go_quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    let _ = write_go_quoted_bytes(&mut out, bytes);
    out
}

/// Writes `s` with Go's escapes; `quote` is the delimiter to escape.
fn write_escaped(w: &mut dyn Write, s: &str, quote: char) -> fmt::Result {
    for c in s.chars() {
        match c {
            c if c == quote => {
                w.write_char('\\')?;
                w.write_char(c)?;
            }
            '\\' => w.write_str("\\\\")?,
            c if is_go_printable(c) => w.write_char(c)?,
            '\u{7}' => w.write_str("\\a")?,
            '\u{8}' => w.write_str("\\b")?,
            '\u{c}' => w.write_str("\\f")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            '\u{b}' => w.write_str("\\v")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(w, "\\x{:02x}", c as u32)?,
            c if (c as u32) < 0x10000 => write!(w, "\\u{:04x}", c as u32)?,
            c => write!(w, "\\U{:08x}", c as u32)?,
        }
    }
    Ok(())
}

/// Approximates Go's `strconv.IsPrint`: letters, marks, numbers,
/// punctuation, symbols and the ASCII space are printable; controls, other
/// spaces and separators, format characters and private-use characters
/// are not. (Unassigned code points are treated as printable, as we carry
/// no Unicode category table.)
fn is_go_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control() || c.is_whitespace() || is_format_char(c) || is_private_use(c))
}

/// Unicode general category Cf (format characters).
fn is_format_char(c: char) -> bool {
    matches!(
        c as u32,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

fn is_private_use(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}
