//! Our samples as remote-write protobuf: labels, float samples (stale
//! markers keep their NaN bit pattern) and float native histograms, gathered
//! per series into one batch, then one snappy-compressed `WriteRequest`.

use std::collections::HashMap;

use prost::Message;

use super::super::proto;
use super::proto::WriteRequest;
use crate::model::{BucketSpan, CounterResetHint, FloatHistogram, Labels};

/// How native histograms are put on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HistogramEncoding {
    /// Always as float histograms (`count_float`, absolute bucket counts).
    #[default]
    Float,
    /// As integer histograms (`count_int`, bucket deltas) when every count
    /// is a whole number (what Prometheus' own remote write sends for
    /// integer data, for receivers that expect it); as float histograms
    /// otherwise.
    IntegerWhenExact,
}

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
    pub(crate) fn push_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: &FloatHistogram,
        encoding: HistogramEncoding,
    ) {
        let integer = match encoding {
            HistogramEncoding::Float => None,
            HistogramEncoding::IntegerWhenExact => to_integer_histogram(h, t),
        };
        let encoded = integer.unwrap_or_else(|| to_proto_histogram(h, t));
        self.series_mut(labels).histograms.push(encoded);
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

/// Largest count an integer histogram carries exactly (2^53).
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A whole, non-negative count that converts exactly.
fn whole(v: f64) -> Option<u64> {
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_EXACT).then_some(v as u64)
}

/// Bucket counts as deltas from the previous bucket, if all are whole.
fn deltas(counts: &[f64]) -> Option<Vec<i64>> {
    let mut previous = 0i64;
    counts
        .iter()
        .map(|&c| {
            let c = i64::try_from(whole(c)?).ok()?;
            let d = c - previous;
            previous = c;
            Some(d)
        })
        .collect()
}

/// An integer histogram (`*_int` counts, bucket deltas), or `None` if some
/// count is not a whole number.
pub(crate) fn to_integer_histogram(h: &FloatHistogram, t: i64) -> Option<proto::Histogram> {
    let float = to_proto_histogram(h, t);
    Some(proto::Histogram {
        count_int: Some(whole(h.count)?),
        count_float: None,
        zero_count_int: Some(whole(h.zero_count)?),
        zero_count_float: None,
        negative_deltas: deltas(&h.negative_buckets)?,
        negative_counts: Vec::new(),
        positive_deltas: deltas(&h.positive_buckets)?,
        positive_counts: Vec::new(),
        ..float
    })
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
