//! What can go wrong talking to a remote-read endpoint.

use super::frames::FrameError;
use super::http::{HttpConfigError, tls_hint};
#[cfg(feature = "remote-tls")]
use super::tls::TlsConfigError;
use super::xor::XorError;
use crate::storage::StorageError;
use crate::storage::chunk::HistogramChunkError;

/// A remote-read failure. Converted into [`StorageError::Timeout`] when the
/// endpoint was too slow, and [`StorageError::Backend`] otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteReadError {
    /// The endpoint URL is not usable.
    #[error("invalid remote-read URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A custom header name or value is not valid HTTP.
    #[error("invalid header {name:?}: {reason}")]
    BadHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS option (CA certificate, client certificate or key) is not usable.
    #[cfg(feature = "remote-tls")]
    #[error(transparent)]
    Tls(TlsConfigError),
    /// The request could not be sent or the response head not received.
    #[error("remote read from {url}: request failed: {source}{}", tls_hint(.source))]
    Transport {
        /// The endpoint.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: ureq::Error,
    },
    /// The body of a SAMPLES response could not be read to its end
    /// (connection lost, server died, timeout, size limit).
    #[error("remote read from {url}: SAMPLES response interrupted or incomplete: {source}")]
    Body {
        /// The endpoint.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: ureq::Error,
    },
    /// The endpoint answered with a non-2xx status.
    #[error("remote read from {url}: HTTP status {status}: {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (the server's message).
        body: String,
    },
    /// The response has a content type this client does not understand.
    #[error("remote read from {url}: unsupported response content type {content_type:?}")]
    ContentType {
        /// The endpoint.
        url: String,
        /// The `Content-Type` header received.
        content_type: String,
    },
    /// A SAMPLES response could not be decompressed or decoded.
    #[error("remote read from {url}: malformed SAMPLES response: {reason}")]
    MalformedSamples {
        /// The endpoint.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A STREAMED_XOR_CHUNKS response stream failed (truncated, corrupt, I/O).
    #[error("remote read from {url}: chunked response stream failed: {source}")]
    Stream {
        /// The endpoint.
        url: String,
        /// The framing error.
        #[source]
        source: FrameError,
    },
    /// A frame of a STREAMED_XOR_CHUNKS response could not be decoded.
    #[error("remote read from {url}: malformed chunked response frame: {reason}")]
    MalformedFrame {
        /// The endpoint.
        url: String,
        /// What failed.
        reason: String,
    },
    /// An XOR chunk could not be decoded.
    #[error("remote read from {url}: series {series}: {source}")]
    Chunk {
        /// The endpoint.
        url: String,
        /// The series the chunk belongs to.
        series: String,
        /// The decoder's error.
        #[source]
        source: XorError,
    },
    /// A native-histogram chunk could not be decoded.
    #[error("remote read from {url}: series {series}: {source}")]
    HistogramChunk {
        /// The endpoint.
        url: String,
        /// The series the chunk belongs to.
        series: String,
        /// The decoder's error.
        #[source]
        source: HistogramChunkError,
    },
    /// The response holds data this client cannot read yet.
    #[error("remote read from {url}: series {series}: {what} are not supported by this client")]
    Unsupported {
        /// The endpoint.
        url: String,
        /// The series that carries it.
        series: String,
        /// What is unsupported (e.g. "native-histogram chunks").
        what: String,
    },
}

impl RemoteReadError {
    /// Whether the failure is the endpoint being too slow.
    pub fn is_timeout(&self) -> bool {
        match self {
            RemoteReadError::Transport { source, .. } | RemoteReadError::Body { source, .. } => {
                ureq_timeout(source)
            }
            RemoteReadError::Stream {
                source: FrameError::Io { source, .. },
                ..
            } => io_timeout(source),
            _ => false,
        }
    }
}

fn ureq_timeout(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => io_timeout(io),
        _ => false,
    }
}

fn io_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) || e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
        .is_some_and(ureq_timeout)
}

impl From<RemoteReadError> for StorageError {
    fn from(e: RemoteReadError) -> Self {
        if e.is_timeout() {
            StorageError::Timeout(e.to_string())
        } else {
            StorageError::Backend(Box::new(e))
        }
    }
}

impl From<HttpConfigError> for RemoteReadError {
    fn from(e: HttpConfigError) -> Self {
        match e {
            HttpConfigError::BadUrl { url, reason, .. } => RemoteReadError::BadUrl { url, reason },
            HttpConfigError::BadHeader { name, reason } => {
                RemoteReadError::BadHeader { name, reason }
            }
            #[cfg(feature = "remote-tls")]
            HttpConfigError::Tls(e) => RemoteReadError::Tls(e),
        }
    }
}
