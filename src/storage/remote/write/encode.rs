//! Our samples as remote-write protobuf: labels, float samples (stale
//! markers keep their NaN bit pattern) and float native histograms, gathered
//! per series into one batch, then one snappy-compressed `WriteRequest`.

use std::collections::HashMap;

use prost::Message;

use super::super::proto;
use super::proto::WriteRequest;
use crate::model::{BucketSpan, CounterResetHint, FloatHistogram, Labels};

/// Samples waiting to be sent, grouped per series in first-append order.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    series: Vec<proto::TimeSeries>,
    index: HashMap<Labels, usize>,
    /// Float samples in the batch.
    pub(crate) samples: usize,
    /// Histogram samples in the batch.
    pub(crate) histograms: usize,
}

impl Batch {
    /// Samples and histograms together (what `max_samples_per_send` counts).
    pub(crate) fn len(&self) -> usize {
        self.samples + self.histograms
    }

    /// Whether nothing is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn series_mut(&mut self, labels: &Labels) -> &mut proto::TimeSeries {
        let next = self.series.len();
        let i = *self.index.entry(labels.clone()).or_insert(next);
        if i == next {
            self.series.push(proto::TimeSeries {
                labels: to_proto_labels(labels),
                samples: Vec::new(),
                histograms: Vec::new(),
            });
        }
        &mut self.series[i]
    }

    /// Adds a float sample (a stale marker is sent bit for bit).
    pub(crate) fn push_sample(&mut self, labels: &Labels, t: i64, v: f64) {
        self.series_mut(labels).samples.push(proto::Sample {
            value: v,
            timestamp: t,
        });
        self.samples += 1;
    }

    /// Adds a native-histogram sample.
    pub(crate) fn push_histogram(&mut self, labels: &Labels, t: i64, h: &FloatHistogram) {
        self.series_mut(labels)
            .histograms
            .push(to_proto_histogram(h, t));
        self.histograms += 1;
    }

    /// The snappy-compressed `WriteRequest` carrying the batch, or why it
    /// cannot be compressed (only bodies over 4 GiB).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        let request = WriteRequest {
            timeseries: self.series.clone(),
        };
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .map_err(|e| format!("cannot compress the request: {e}"))
    }
}

/// Labels in their (sorted) order, as remote write requires.
fn to_proto_labels(labels: &Labels) -> Vec<proto::Label> {
    labels
        .iter()
        .map(|l| proto::Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

/// A float histogram: the `*_float` members of the count oneofs and
/// absolute bucket counts.
pub(crate) fn to_proto_histogram(h: &FloatHistogram, t: i64) -> proto::Histogram {
    proto::Histogram {
        count_int: None,
        count_float: Some(h.count),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count_int: None,
        zero_count_float: Some(h.zero_count),
        negative_spans: to_proto_spans(&h.negative_spans),
        negative_deltas: Vec::new(),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: to_proto_spans(&h.positive_spans),
        positive_deltas: Vec::new(),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: match h.counter_reset_hint {
            CounterResetHint::Unknown => 0,
            CounterResetHint::CounterReset => 1,
            CounterResetHint::NotCounterReset => 2,
            CounterResetHint::Gauge => 3,
        },
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

fn to_proto_spans(spans: &[BucketSpan]) -> Vec<proto::BucketSpan> {
    spans
        .iter()
        .map(|s| proto::BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}
