//! Prometheus remote write 1.0: an [`Appender`] that sends what is appended
//! to an endpoint such as Prometheus' `/api/v1/write` (started with
//! `--web.enable-remote-write-receiver`), Mimir, Thanos or VictoriaMetrics.
//!
//! Samples are gathered per series into batches of at most
//! [`RemoteWriteBuilder::max_samples_per_send`] samples and histograms; a
//! full batch is sent at once, the rest on [`RemoteWriteAppender::flush`].
//! Each batch is one `prometheus.WriteRequest`, snappy-compressed, with the
//! remote-write 1.0 headers. Server errors (5xx), 429 and connection
//! failures are retried as [`RetryPolicy`] says (honouring `Retry-After`);
//! other refusals (4xx) are final. Nothing is dropped silently: every sample
//! is counted in [`WriteStats`] as sent or failed, and a failure is returned
//! by `append` (for the batch it filled) and again by the next `flush`.
//!
//! Float samples are sent as they are (a stale marker keeps its NaN bit
//! pattern); native histograms as protobuf float histograms, or, with
//! [`HistogramEncoding::IntegerWhenExact`], as integer histograms when their
//! counts are whole numbers (as Prometheus' own remote write sends integer
//! data).
//!
//! ```no_run
//! use std::time::Duration;
//! use promql_engine::model::Labels;
//! use promql_engine::storage::Appender;
//! use promql_engine::storage::remote::{RemoteWriteClient, RetryPolicy};
//!
//! let client = RemoteWriteClient::builder("http://127.0.0.1:9090/api/v1/write")
//!     .timeout(Duration::from_secs(30))
//!     .basic_auth("user", "secret")
//!     .max_samples_per_send(500)
//!     .retry(RetryPolicy { max_attempts: 5, ..RetryPolicy::default() })
//!     .build()?;
//! let mut appender = client.appender();
//! appender.append(&Labels::from_pairs(&[("__name__", "job:up:sum")]), 1_700_000_000_000, 3.0)?;
//! let stats = appender.flush()?;
//! assert_eq!(stats.samples_sent, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::http::{HttpSettings, tls_hint};
use crate::model::{FloatHistogram, Labels, Timestamp};
use crate::storage::{Appender, StorageError};

mod encode;
mod error;
mod proto;
mod retry;
#[cfg(test)]
mod tests;

pub use encode::HistogramEncoding;
pub use error::{RemoteWriteError, WriteFailure, WriteStats};
pub use retry::{MAX_RETRY_AFTER, RetryPolicy};

use encode::Batch;

/// Configures a [`RemoteWriteClient`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RemoteWriteBuilder {
    http: HttpSettings,
    max_samples_per_send: usize,
    retry: RetryPolicy,
    histogram_encoding: HistogramEncoding,
}

impl RemoteWriteBuilder {
    /// Gives up on one attempt (sending it and reading the answer) after
    /// `timeout`. Default: 1 minute (Prometheus' default `remote_timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    crate::storage::remote::http::auth_builder_methods!();

    #[cfg(feature = "remote-tls")]
    crate::storage::remote::tls::tls_builder_methods!();

    /// Most samples and histograms per request (at least 1). Default: 2000
    /// (Prometheus' `max_samples_per_send`).
    pub fn max_samples_per_send(mut self, n: usize) -> Self {
        self.max_samples_per_send = n.max(1);
        self
    }

    /// How failed requests are retried. Default: [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: policy.max_attempts.max(1),
            ..policy
        };
        self
    }

    /// How native histograms are encoded. Default:
    /// [`HistogramEncoding::Float`].
    pub fn histogram_encoding(mut self, encoding: HistogramEncoding) -> Self {
        self.histogram_encoding = encoding;
        self
    }

    /// Checks the URL and headers, reads and checks the TLS certificates
    /// and keys (with `remote-tls`), and builds the client. No request is made.
    pub fn build(mut self) -> Result<RemoteWriteClient, RemoteWriteError> {
        let agent = self.http.agent("write")?;
        Ok(RemoteWriteClient {
            agent,
            config: Arc::new(self),
        })
    }
}

/// A remote-write endpoint. Cheap to clone and share; each
/// [`appender`](Self::appender) batches on its own.
#[derive(Clone, Debug)]
pub struct RemoteWriteClient {
    agent: ureq::Agent,
    config: Arc<RemoteWriteBuilder>,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    Refused(WriteFailure),
    /// A retryable failure: its description, and the server's `Retry-After`.
    Retry(String, Option<Duration>),
}

impl RemoteWriteClient {
    /// Starts configuring a client writing to `url` (e.g.
    /// `http://localhost:9090/api/v1/write`).
    pub fn builder(url: impl Into<String>) -> RemoteWriteBuilder {
        RemoteWriteBuilder {
            http: HttpSettings::new(url.into()),
            max_samples_per_send: 2000,
            retry: RetryPolicy::default(),
            histogram_encoding: HistogramEncoding::default(),
        }
    }

    /// A client writing to `url` with the default settings.
    pub fn new(url: impl Into<String>) -> Result<Self, RemoteWriteError> {
        Self::builder(url).build()
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.config.http.url
    }

    /// A new, empty appender sending through this client.
    pub fn appender(&self) -> RemoteWriteAppender {
        RemoteWriteAppender {
            client: self.clone(),
            batch: Batch::default(),
            stats: WriteStats::default(),
            failure: None,
            failed_batches: 0,
        }
    }

    /// Sends one batch, retrying as configured, and counts the outcome.
    fn send(&self, batch: &Batch, stats: &mut WriteStats) -> Result<(), WriteFailure> {
        let outcome = self.deliver(batch, stats);
        let (samples, histograms) = (batch.samples as u64, batch.histograms as u64);
        match outcome {
            Ok(()) => {
                stats.samples_sent += samples;
                stats.histograms_sent += histograms;
            }
            Err(_) => {
                stats.samples_failed += samples;
                stats.histograms_failed += histograms;
            }
        }
        outcome
    }

    fn deliver(&self, batch: &Batch, stats: &mut WriteStats) -> Result<(), WriteFailure> {
        let body = batch.encode().map_err(WriteFailure::Encode)?;
        let policy = self.config.retry;
        let mut attempt = 1;
        loop {
            stats.requests += 1;
            let (last, retry_after) = match self.attempt(&body) {
                Attempt::Delivered => return Ok(()),
                Attempt::Refused(failure) => return Err(failure),
                Attempt::Retry(last, retry_after) => (last, retry_after),
            };
            if attempt >= policy.max_attempts {
                return Err(WriteFailure::RetriesExhausted {
                    attempts: attempt,
                    last,
                });
            }
            std::thread::sleep(policy.delay(attempt, retry_after));
            attempt += 1;
            stats.retries += 1;
            stats.samples_retried += batch.samples as u64;
            stats.histograms_retried += batch.histograms as u64;
        }
    }

    /// One POST of a compressed `WriteRequest`.
    fn attempt(&self, body: &[u8]) -> Attempt {
        let sent = self
            .config
            .http
            .post(&self.agent)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send(body);
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let hint = tls_hint(&e);
                return Attempt::Retry(format!("request failed: {e}{hint}"), None);
            }
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let message = super::body::error_message(response.into_body());
        if retry::is_retryable(status) {
            Attempt::Retry(format!("HTTP status {status}: {message}"), retry_after)
        } else {
            Attempt::Refused(WriteFailure::Rejected { status, message })
        }
    }
}

/// An [`Appender`] that batches samples and sends them with a
/// [`RemoteWriteClient`]. Call [`flush`](Self::flush) when done: samples
/// still pending when the appender is dropped are not sent.
#[derive(Debug)]
pub struct RemoteWriteAppender {
    client: RemoteWriteClient,
    batch: Batch,
    stats: WriteStats,
    /// The first failure since the last flush.
    failure: Option<WriteFailure>,
    failed_batches: u64,
}

impl RemoteWriteAppender {
    /// The counts so far.
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// Samples and histograms appended but not sent yet.
    pub fn pending(&self) -> usize {
        self.batch.len()
    }

    /// Sends everything pending. Returns the counts, or the first failure
    /// since the previous flush (with the counts); either way nothing is
    /// pending afterwards.
    pub fn flush(&mut self) -> Result<WriteStats, RemoteWriteError> {
        if !self.batch.is_empty() {
            let _ = self.send_batch();
        }
        match self.failure.take() {
            None => Ok(self.stats),
            Some(failure) => {
                let failed_batches = std::mem::take(&mut self.failed_batches);
                Err(self.error(failure, failed_batches))
            }
        }
    }

    fn error(&self, failure: WriteFailure, failed_batches: u64) -> RemoteWriteError {
        RemoteWriteError::Failed {
            url: self.client.url().to_string(),
            failure,
            failed_batches,
            stats: Box::new(self.stats),
        }
    }

    /// Sends the current batch; a failure is remembered for `flush` too.
    fn send_batch(&mut self) -> Result<(), RemoteWriteError> {
        let batch = std::mem::take(&mut self.batch);
        match self.client.send(&batch, &mut self.stats) {
            Ok(()) => Ok(()),
            Err(failure) => {
                self.failed_batches += 1;
                let err = self.error(failure.clone(), 1);
                self.failure.get_or_insert(failure);
                Err(err)
            }
        }
    }

    fn send_if_full(&mut self) -> Result<(), StorageError> {
        if self.batch.len() >= self.client.config.max_samples_per_send {
            self.send_batch()?;
        }
        Ok(())
    }
}

impl Appender for RemoteWriteAppender {
    /// Queues a float sample; sends the batch when it is full. An error means
    /// that batch was not delivered (it is counted as failed).
    fn append(&mut self, labels: &Labels, t: Timestamp, v: f64) -> Result<(), StorageError> {
        self.batch.push_sample(labels, t, v);
        self.send_if_full()
    }

    /// Queues a native-histogram sample; sends the batch when it is full.
    fn append_histogram(
        &mut self,
        labels: &Labels,
        t: Timestamp,
        h: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        let encoding = self.client.config.histogram_encoding;
        self.batch.push_histogram(labels, t, &h, encoding);
        self.send_if_full()
    }
}
