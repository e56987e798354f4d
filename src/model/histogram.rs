//! Native histograms (float form).
//!
//! Placeholder shape: the native-histogram issue fills in schemas, spans,
//! arithmetic and counter-reset detection. The type already exists so that
//! samples, storage and values can carry histograms from the start.

/// Counter-reset hint attached to a native histogram sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum CounterResetHint {
    /// Nothing is known.
    #[default]
    Unknown,
    /// This sample is known to follow a counter reset.
    CounterReset,
    /// This sample is known not to follow a counter reset.
    NotCounterReset,
    /// The histogram is a gauge histogram.
    Gauge,
}

/// A span of consecutive buckets: `offset` is the gap from the previous span's
/// end (or from index 0 for the first span), `length` the number of buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct BucketSpan {
    /// Gap in bucket indices before this span.
    pub offset: i32,
    /// Number of consecutive buckets in the span.
    pub length: u32,
}

/// A native histogram with float counts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: -4..=8 for exponential buckets, -53 for custom buckets.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total number of observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of positive buckets.
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket counts (absolute, not deltas).
    pub positive_buckets: Vec<f64>,
    /// Spans of negative buckets.
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket counts (absolute, not deltas).
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of custom buckets (schema -53 only).
    pub custom_values: Vec<f64>,
}
