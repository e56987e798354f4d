//! Prometheus remote read as a [`Storage`]: every selection becomes one
//! remote-read request to an endpoint such as Prometheus' `/api/v1/read`.
//!
//! Matchers and the time window are pushed down; the selection hints (step,
//! surrounding function, grouping, range) travel as `ReadHints`. Both response
//! types are understood: SAMPLES (one snappy-compressed protobuf message) and
//! STREAMED_XOR_CHUNKS (checksummed frames of TSDB chunks, decoded by
//! [`crate::storage::chunk`]). A response that ends early, fails its checksum or does not decode
//! is an error: a partial answer is never returned as if complete.
//!
//! Native histograms are read from both: SAMPLES responses carry them as
//! protobuf histograms, streamed responses as integer or float histogram
//! chunks. A chunk of an unknown encoding gives an
//! [`RemoteReadError::Unsupported`] error naming the series.
//!
//! ```no_run
//! use std::time::Duration;
//! use promql_engine::storage::remote::{RemoteReadStorage, ResponseType};
//!
//! let storage = RemoteReadStorage::builder("http://127.0.0.1:9090/api/v1/read")
//!     .timeout(Duration::from_secs(30))
//!     .bearer_token("secret")
//!     .header("X-Scope-OrgID", "tenant-1")
//!     .response_type(ResponseType::StreamedXorChunks)
//!     .build()?;
//! # Ok::<(), promql_engine::storage::remote::RemoteReadError>(())
//! ```

use std::borrow::Cow;
use std::time::Duration;

use prost::Message;

use super::{SelectHints, SelectedSeries, Storage, StorageError};
use crate::model::{MatchOp, Matcher};

mod body;
mod decode;
mod error;
pub mod frames;
mod histogram;
mod http;
#[cfg(test)]
mod http_tests;
mod proto;
#[cfg(feature = "remote-tls")]
mod server_name;
#[cfg(feature = "remote-tls")]
mod tls;
pub mod write;
pub mod xor;

pub use error::RemoteReadError;
pub use http::HttpConfigError;
#[cfg(feature = "remote-tls")]
pub use tls::TlsConfigError;
pub use write::{
    HistogramEncoding, RemoteWriteAppender, RemoteWriteBuilder, RemoteWriteClient,
    RemoteWriteError, RetryPolicy, WriteFailure, WriteStats,
};

use http::HttpSettings;

use decode::{DecodedSeries, Window};
use frames::FrameReader;

/// Content type of a SAMPLES response.
const SAMPLES_CONTENT_TYPE: &str = "application/x-protobuf";
/// Content type of a STREAMED_XOR_CHUNKS response.
const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// Which response type to ask the endpoint for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseType {
    /// Accept both, preferring streamed chunks (what Prometheus itself does);
    /// the endpoint picks one and the client reads whichever arrives.
    #[default]
    Negotiate,
    /// Only SAMPLES: one snappy-compressed `ReadResponse`.
    Samples,
    /// Only STREAMED_XOR_CHUNKS: frames of XOR chunks.
    StreamedXorChunks,
}

impl ResponseType {
    fn accepted(self) -> Vec<i32> {
        let samples = proto::ResponseType::Samples as i32;
        let streamed = proto::ResponseType::StreamedXorChunks as i32;
        match self {
            ResponseType::Negotiate => vec![streamed, samples],
            ResponseType::Samples => vec![samples],
            ResponseType::StreamedXorChunks => vec![streamed],
        }
    }
}

/// Configures a [`RemoteReadStorage`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RemoteReadBuilder {
    http: HttpSettings,
    response_type: ResponseType,
    max_frame_bytes: u64,
    max_response_bytes: u64,
}

impl RemoteReadBuilder {
    /// Gives up on a request (sending it and reading the whole response)
    /// after `timeout`. Default: 1 minute (Prometheus' default `remote_timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Which response type to accept. Default: [`ResponseType::Negotiate`].
    pub fn response_type(mut self, response_type: ResponseType) -> Self {
        self.response_type = response_type;
        self
    }

    crate::storage::remote::http::auth_builder_methods!();

    #[cfg(feature = "remote-tls")]
    crate::storage::remote::tls::tls_builder_methods!();

    /// Largest STREAMED_XOR_CHUNKS frame accepted. Default: 50 MiB (as Prometheus).
    pub fn max_frame_bytes(mut self, limit: u64) -> Self {
        self.max_frame_bytes = limit;
        self
    }

    /// Largest response accepted: a SAMPLES body, compressed and
    /// decompressed, or all the frames of a STREAMED_XOR_CHUNKS response
    /// together. Default: 1 GiB.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Checks the URL and headers, reads and checks the TLS certificates
    /// and keys (with `remote-tls`), and builds the storage. No request is made.
    pub fn build(mut self) -> Result<RemoteReadStorage, RemoteReadError> {
        let agent = self.http.agent("read")?;
        Ok(RemoteReadStorage {
            agent,
            config: self,
        })
    }
}

/// A [`Storage`] that answers every selection with a Prometheus remote-read
/// request. Cheap to share between threads; each `select` is one request.
#[derive(Debug)]
pub struct RemoteReadStorage {
    agent: ureq::Agent,
    config: RemoteReadBuilder,
}

impl RemoteReadStorage {
    /// Starts configuring a storage reading from `url` (e.g.
    /// `http://localhost:9090/api/v1/read`).
    pub fn builder(url: impl Into<String>) -> RemoteReadBuilder {
        RemoteReadBuilder {
            http: HttpSettings::new(url.into()),
            response_type: ResponseType::default(),
            max_frame_bytes: 50 << 20,
            max_response_bytes: 1 << 30,
        }
    }

    /// A storage reading from `url` with the default settings.
    pub fn new(url: impl Into<String>) -> Result<Self, RemoteReadError> {
        Self::builder(url).build()
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.config.http.url
    }

    /// Reads the series matching `matchers` with samples in
    /// `hints.start..=hints.end` (series without any are left out), with the
    /// remote-read error type (the [`Storage`] impl converts it).
    pub fn read(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'static>>, RemoteReadError> {
        let body = encode_request(matchers, hints, self.config.response_type);
        let url = self.config.http.url.as_str();
        let transport = |source: ureq::Error| RemoteReadError::Transport {
            url: url.to_string(),
            source,
        };
        let response = self
            .config
            .http
            .post(&self.agent)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("Accept-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .send(body)
            .map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = response.into_body();
        if !(200..300).contains(&status) {
            return Err(RemoteReadError::Status {
                url: url.to_string(),
                status,
                body: body::error_message(body),
            });
        }
        let window = Window {
            url,
            start: hints.start,
            end: hints.end,
        };
        let series = if content_type.starts_with(STREAMED_CONTENT_TYPE) {
            let reader = body.into_with_config().limit(u64::MAX).reader();
            let mut frames = FrameReader::new(reader, self.config.max_frame_bytes)
                .with_total_limit(self.config.max_response_bytes);
            decode::decode_stream(&mut frames, &window)?
        } else if content_type.starts_with(SAMPLES_CONTENT_TYPE) {
            let compressed = body
                .with_config()
                .limit(self.config.max_response_bytes)
                .read_to_vec()
                .map_err(|source| RemoteReadError::Body {
                    url: url.to_string(),
                    source,
                })?;
            decode::decode_samples(&compressed, self.config.max_response_bytes, &window)?
        } else {
            return Err(RemoteReadError::ContentType {
                url: url.to_string(),
                content_type,
            });
        };
        Ok(series
            .into_iter()
            .filter(|s| !s.floats.is_empty() || !s.histograms.is_empty())
            .map(|s: DecodedSeries| SelectedSeries {
                labels: s.labels,
                floats: Cow::Owned(s.floats),
                histograms: Cow::Owned(s.histograms),
            })
            .collect())
    }
}

impl Storage for RemoteReadStorage {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        Ok(self.read(matchers, hints)?)
    }
}

/// The snappy-compressed `ReadRequest` for one selection.
fn encode_request(
    matchers: &[Matcher],
    hints: &SelectHints,
    response_type: ResponseType,
) -> Vec<u8> {
    let query = proto::Query {
        start_timestamp_ms: hints.start,
        end_timestamp_ms: hints.end,
        matchers: matchers.iter().map(to_proto_matcher).collect(),
        hints: Some(proto::ReadHints {
            step_ms: hints.step,
            func: hints.func.unwrap_or_default().to_string(),
            start_ms: hints.start,
            end_ms: hints.end,
            grouping: hints.grouping.clone(),
            by: hints.by,
            range_ms: hints.range,
        }),
    };
    let request = proto::ReadRequest {
        queries: vec![query],
        accepted_response_types: response_type.accepted(),
    };
    // Compressing a byte slice cannot fail except for inputs over 4 GiB, which
    // a request built from matchers never reaches; send it uncompressed-framed
    // as an empty body would only get a clear server error.
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap_or_default()
}

fn to_proto_matcher(m: &Matcher) -> proto::LabelMatcher {
    let kind = match m.op {
        MatchOp::Equal => proto::MatcherType::Eq,
        MatchOp::NotEqual => proto::MatcherType::Neq,
        MatchOp::Regex => proto::MatcherType::Re,
        MatchOp::NotRegex => proto::MatcherType::Nre,
    };
    proto::LabelMatcher {
        r#type: kind as i32,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_matchers_window_and_hints() {
        let matchers = [
            Matcher::equal("__name__", "http_requests_total"),
            Matcher::new(MatchOp::NotRegex, "job", "api|web").unwrap(),
        ];
        let hints = SelectHints {
            start: 1000,
            end: 61_000,
            step: 15_000,
            range: 300_000,
            func: Some("rate"),
            grouping: vec!["job".into()],
            by: true,
        };
        let body = encode_request(&matchers, &hints, ResponseType::Samples);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request = proto::ReadRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(request.accepted_response_types, vec![0]);
        let [query] = request.queries.as_slice() else {
            panic!("one query expected");
        };
        assert_eq!(
            (query.start_timestamp_ms, query.end_timestamp_ms),
            (1000, 61_000)
        );
        assert_eq!(query.matchers.len(), 2);
        assert_eq!(query.matchers[1].r#type, proto::MatcherType::Nre as i32);
        assert_eq!(query.matchers[1].value, "api|web");
        let h = query.hints.as_ref().unwrap();
        assert_eq!(
            (h.step_ms, h.range_ms, h.func.as_str()),
            (15_000, 300_000, "rate")
        );
        assert_eq!((h.grouping.clone(), h.by), (vec!["job".to_string()], true));
    }

    #[test]
    fn builder_rejects_bad_urls_and_headers() {
        let err = RemoteReadStorage::new("ftp://x/api/v1/read").unwrap_err();
        assert!(err.to_string().contains("scheme must be http"), "{err}");
        let err = RemoteReadStorage::new("not a url").unwrap_err();
        assert!(err.to_string().contains("invalid remote-read URL"), "{err}");
        let err = RemoteReadStorage::builder("http://x/")
            .header("bad header", "v")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("invalid header"), "{err}");
        #[cfg(not(feature = "remote-tls"))]
        {
            let err = RemoteReadStorage::new("https://x/").unwrap_err();
            assert!(err.to_string().contains("remote-tls"), "{err}");
        }
    }

    #[test]
    fn connection_refused_is_a_backend_error_naming_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/api/v1/read");
        let storage = RemoteReadStorage::new(url.clone()).unwrap();
        let err = storage
            .select(
                &[Matcher::equal("__name__", "up")],
                &SelectHints::window(0, 1),
            )
            .unwrap_err();
        assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
        assert!(err.to_string().contains(&url), "{err}");
    }
}
