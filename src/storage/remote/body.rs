//! The server's message in a failed response, read up to a bound.

use std::io::Read;

/// Longest server message kept from a failed response.
pub(crate) const MAX_ERROR_BODY: u64 = 1024;

/// The start of a failed response's body as text: at most
/// [`MAX_ERROR_BODY`] bytes (marked `[truncated]` when there was more),
/// whatever the size of the body, and never an error of its own.
pub(crate) fn error_message(body: ureq::Body) -> String {
    let mut bytes = Vec::new();
    let read = body
        .into_reader()
        .take(MAX_ERROR_BODY + 1)
        .read_to_end(&mut bytes);
    let truncated = bytes.len() as u64 > MAX_ERROR_BODY;
    bytes.truncate(MAX_ERROR_BODY as usize);
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    match read {
        Err(e) if text.is_empty() => format!("(no readable body: {e})"),
        _ if truncated => format!("{text} [truncated]"),
        _ => text,
    }
}
