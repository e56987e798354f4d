//! Where rule outputs go besides the in-memory overlay: a record for
//! printing, and a remote-write appender when `--remote-write` is given.

use std::sync::Arc;

use promql_engine::model::{FloatHistogram, Labels, Sample, SampleValue};
use promql_engine::storage::{Appender, StorageError};

/// Records every output and forwards it to remote write, if any.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    recorded: Vec<Sample>,
    #[cfg(feature = "remote")]
    remote: Option<promql_engine::storage::remote::RemoteWriteAppender>,
}

/// How a remote-write flush went, ready to print.
pub(crate) struct WriteOutcome {
    failed: bool,
    text: String,
    json: serde_json::Value,
}

impl WriteOutcome {
    /// Whether samples were not delivered.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// One line for standard error.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The counts (and error) as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        self.json.clone()
    }
}

impl Sink {
    /// A sink that also sends to a remote-write endpoint.
    #[cfg(feature = "remote")]
    pub(crate) fn remote(appender: promql_engine::storage::remote::RemoteWriteAppender) -> Self {
        Sink {
            recorded: Vec::new(),
            remote: Some(appender),
        }
    }

    /// The outputs recorded since the last call.
    pub(crate) fn take_recorded(&mut self) -> Vec<Sample> {
        std::mem::take(&mut self.recorded)
    }

    /// Sends what remote write has pending; `None` without remote write.
    #[cfg(feature = "remote")]
    pub(crate) fn flush(&mut self) -> Option<WriteOutcome> {
        use promql_engine::storage::remote::WriteStats;
        let remote = self.remote.as_mut()?;
        let stats_json = |s: &WriteStats| {
            serde_json::json!({
                "requests": s.requests,
                "retries": s.retries,
                "samplesSent": s.samples_sent,
                "histogramsSent": s.histograms_sent,
                "samplesRetried": s.samples_retried,
                "histogramsRetried": s.histograms_retried,
                "samplesFailed": s.samples_failed,
                "histogramsFailed": s.histograms_failed,
            })
        };
        Some(match remote.flush() {
            Ok(stats) => WriteOutcome {
                failed: false,
                text: format!("remote write to {}: {stats}", remote_url(remote)),
                json: stats_json(&stats),
            },
            Err(e) => {
                let mut json = e.stats().map(stats_json).unwrap_or_default();
                json["error"] = serde_json::Value::String(e.to_string());
                WriteOutcome {
                    failed: true,
                    text: format!("error: {e}"),
                    json,
                }
            }
        })
    }

    /// Without the `remote` feature there is nothing to flush.
    #[cfg(not(feature = "remote"))]
    pub(crate) fn flush(&mut self) -> Option<WriteOutcome> {
        None
    }
}

#[cfg(feature = "remote")]
fn remote_url(appender: &promql_engine::storage::remote::RemoteWriteAppender) -> &str {
    appender.url()
}

impl Appender for Sink {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), StorageError> {
        self.recorded.push(Sample {
            labels: labels.clone(),
            t,
            value: SampleValue::Float(v),
        });
        #[cfg(feature = "remote")]
        if let Some(remote) = &mut self.remote {
            return remote.append(labels, t, v);
        }
        Ok(())
    }

    fn append_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        self.recorded.push(Sample {
            labels: labels.clone(),
            t,
            value: SampleValue::Histogram(Arc::clone(&h)),
        });
        #[cfg(feature = "remote")]
        if let Some(remote) = &mut self.remote {
            return remote.append_histogram(labels, t, h);
        }
        Ok(())
    }
}
