//! Native histograms (float form) and their math, with the semantics of
//! Prometheus 3.x.
//!
//! - [`bounds`]: bucket boundaries of exponential (-4..=8) and custom (-53)
//!   schemas.
//! - [`buckets`]: iterating buckets with their bounds, per bucket or
//!   cumulatively, and the bucket list of the HTTP API.
//! - [`layout`]: spans, compaction and layout comparison.
//! - [`arith`]: addition, subtraction, scaling, schema reduction and
//!   Kahan-compensated sums and means.
//! - [`reset`]: counter-reset detection.
//! - [`rate`]: the histogram increase behind `rate`/`increase`/`delta` and
//!   `irate`/`idelta`, and interpolation for smoothed rates.
//! - [`quantile`]: `histogram_quantile` and `histogram_fraction`.
//! - [`stats`]: `histogram_stddev`/`histogram_stdvar` and the reduced
//!   count/sum view of the stats iterator.
//! - [`trim`]: the `</` and `>/` trim operators.
//! - [`display`]: the test notation (`{{schema:0 count:4 ...}}`) and the
//!   short form Prometheus prints.
//!
//! ```
//! use promql_engine::model::{BucketSpan, FloatHistogram};
//!
//! // One observation in (0.5, 1], two in (1, 2], one in (2, 4].
//! let h = FloatHistogram {
//!     count: 4.0,
//!     sum: 5.0,
//!     positive_spans: vec![BucketSpan { offset: 0, length: 3 }],
//!     positive_buckets: vec![1.0, 2.0, 1.0],
//!     ..Default::default()
//! };
//! assert_eq!(h.quantile(1.0).value, 4.0);
//! assert_eq!(h.fraction(1.0, 2.0).value, 0.5);
//!
//! let mut twice = h.clone();
//! twice.add(&h).unwrap();
//! twice.compact(0);
//! assert_eq!(twice.to_string(), "{{count:8 sum:10 buckets:[2 4 2]}}");
//! assert!(!twice.detect_reset(&h));
//! assert!(h.detect_reset(&twice));
//! ```

pub mod arith;
pub mod bounds;
pub mod buckets;
pub mod display;
pub mod layout;
pub mod quantile;
pub mod rate;
pub mod reset;
pub mod stats;
mod table;
pub mod trim;

pub use arith::{AddOutcome, HistogramError, HistogramMean, HistogramSum};
pub use bounds::{CUSTOM_BUCKETS_SCHEMA, EXPONENTIAL_SCHEMA_MAX, EXPONENTIAL_SCHEMA_MIN};
pub use buckets::{ApiBucket, Bucket};
pub use quantile::{FractionResult, QuantileResult};
pub use stats::StatsTracker;

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

impl FloatHistogram {
    /// Whether the histogram uses custom buckets (schema -53).
    pub fn uses_custom_buckets(&self) -> bool {
        bounds::is_custom_buckets_schema(self.schema)
    }

    /// `histogram_avg`: the mean observation, `sum / count`.
    pub fn avg(&self) -> f64 {
        self.sum / self.count
    }

    /// Whether any count, the sum or a custom bound is infinite, which
    /// happens when a sum of histograms overflows.
    pub fn has_overflow(&self) -> bool {
        [self.zero_count, self.count, self.sum]
            .iter()
            .chain(&self.positive_buckets)
            .chain(&self.negative_buckets)
            .chain(&self.custom_values)
            .any(|v| v.is_infinite())
    }
}
