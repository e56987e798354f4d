//! What a remote-write client reports: counts of what was sent, retried and
//! lost, and why a request failed.

use std::fmt;

use super::super::http::HttpConfigError;
use crate::storage::StorageError;

/// Counts kept by a [`RemoteWriteAppender`](super::RemoteWriteAppender) over
/// its lifetime. Every appended sample ends up either sent, failed or still
/// pending (not yet flushed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Requests that were sent again after a retryable failure.
    pub retries: u64,
    /// Float samples (stale markers included) the endpoint accepted.
    pub samples_sent: u64,
    /// Native-histogram samples the endpoint accepted.
    pub histograms_sent: u64,
    /// Float samples in requests that had to be retried (counted per retry).
    pub samples_retried: u64,
    /// Histogram samples in requests that had to be retried (counted per retry).
    pub histograms_retried: u64,
    /// Float samples the endpoint refused or that could not be delivered.
    pub samples_failed: u64,
    /// Histogram samples the endpoint refused or that could not be delivered.
    pub histograms_failed: u64,
}

impl WriteStats {
    /// Whether some samples were not delivered.
    pub fn has_failures(&self) -> bool {
        self.samples_failed > 0 || self.histograms_failed > 0
    }
}

impl fmt::Display for WriteStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests ({} retries); sent {} samples, {} histograms; \
             retried {} samples, {} histograms; failed {} samples, {} histograms",
            self.requests,
            self.retries,
            self.samples_sent,
            self.histograms_sent,
            self.samples_retried,
            self.histograms_retried,
            self.samples_failed,
            self.histograms_failed
        )
    }
}

/// Why a batch of samples was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteFailure {
    /// The endpoint refused the request with a status that is not retried
    /// (4xx other than 429, or an unexpected status).
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The start of the response body (the server's message).
        message: String,
    },
    /// Every attempt failed with a retryable error.
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure: a status and message, or the
        /// connection error.
        last: String,
    },
    /// The request could not be built.
    Encode(String),
}

impl fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteFailure::Rejected { status, message } => {
                write!(f, "HTTP status {status} (not retried): {message}")
            }
            WriteFailure::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            WriteFailure::Encode(reason) => f.write_str(reason),
        }
    }
}

/// A remote-write failure: a bad configuration, or samples that were not
/// delivered (with the counts so far).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteWriteError {
    /// The URL or a header is not usable.
    #[error(transparent)]
    Config(#[from] HttpConfigError),
    /// Samples were not delivered. `failed_batches` counts the batches lost
    /// since the last flush; `failure` is the first of them.
    #[error("remote write to {url}: {failure} ({failed_batches} failed batches; {stats})")]
    Failed {
        /// The endpoint.
        url: String,
        /// Why the first failed batch was not delivered.
        failure: WriteFailure,
        /// Batches not delivered since the last flush.
        failed_batches: u64,
        /// The counts of the appender at the time of the error.
        stats: Box<WriteStats>,
    },
}

impl RemoteWriteError {
    /// The appender's counts, for a delivery failure.
    pub fn stats(&self) -> Option<&WriteStats> {
        match self {
            RemoteWriteError::Failed { stats, .. } => Some(stats),
            RemoteWriteError::Config(_) => None,
        }
    }
}

impl From<RemoteWriteError> for StorageError {
    fn from(e: RemoteWriteError) -> Self {
        StorageError::Backend(Box::new(e))
    }
}
