//! Statistics of one histogram (`histogram_stdvar`, `histogram_stddev`) and
//! the count/sum-only view the engine reads when a query needs nothing else.

use super::arith::kahan_inc;
use super::{CounterResetHint, FloatHistogram};
use crate::model::is_stale_nan;

impl FloatHistogram {
    /// `histogram_stdvar`: the variance of the observations, estimated by
    /// placing each bucket's observations at one representative value — the
    /// arithmetic midpoint for custom buckets, zero for the zero bucket, and
    /// the geometric midpoint for exponential buckets — around the mean
    /// `sum / count` (Kahan-compensated).
    pub fn stdvar(&self) -> f64 {
        let mean = self.sum / self.count;
        let custom = self.uses_custom_buckets();
        let (mut variance, mut comp) = (0.0, 0.0);
        for b in self.all_bucket_iter().filter(|b| b.count != 0.0) {
            let representative = if custom {
                (b.upper + b.lower) / 2.0
            } else if b.lower <= 0.0 && b.upper >= 0.0 {
                0.0
            } else {
                let geometric = (b.upper * b.lower).sqrt();
                if b.upper < 0.0 { -geometric } else { geometric }
            };
            let delta = representative - mean;
            (variance, comp) = kahan_inc(b.count * delta * delta, variance, comp);
        }
        (variance + comp) / self.count
    }

    /// `histogram_stddev`: the square root of [`stdvar`](Self::stdvar).
    pub fn stddev(&self) -> f64 {
        self.stdvar().sqrt()
    }

    /// The histogram without buckets: hint, schema, count and sum only.
    pub fn stats_only(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            count: self.count,
            sum: self.sum,
            ..Default::default()
        }
    }
}

/// Reduces a series' histograms to count and sum (as Prometheus does for
/// queries that only need `histogram_count`/`histogram_sum`/`histogram_avg`),
/// resolving `Unknown` counter-reset hints on the way: the reduced histograms
/// no longer have buckets to detect resets with later.
#[derive(Clone, Debug, Default)]
pub struct StatsTracker {
    last: Option<FloatHistogram>,
}

impl StatsTracker {
    /// A tracker at the start of a series.
    pub fn new() -> Self {
        StatsTracker::default()
    }

    /// Forgets the previous histogram (a new series, or a jump ahead).
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// The count/sum view of the next histogram of the series. An `Unknown`
    /// hint becomes `CounterReset` or `NotCounterReset` by comparison with
    /// the previous histogram, if there is one. Stale markers pass through
    /// unchanged and are not remembered.
    pub fn next(&mut self, h: &FloatHistogram) -> FloatHistogram {
        let mut out = h.stats_only();
        if is_stale_nan(h.sum) {
            return out;
        }
        if h.counter_reset_hint == CounterResetHint::Unknown {
            if let Some(last) = &self.last {
                out.counter_reset_hint = if h.detect_reset(last) {
                    CounterResetHint::CounterReset
                } else {
                    CounterResetHint::NotCounterReset
                };
            }
        }
        let mut last = h.clone();
        last.counter_reset_hint = out.counter_reset_hint;
        self.last = Some(last);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;
    use crate::model::stale_nan;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    #[test]
    fn variance_uses_geometric_midpoints() {
        // Two observations in (1,4] at schema -1: midpoint 2, mean 2.
        let h = FloatHistogram {
            schema: -1,
            count: 2.0,
            sum: 4.0,
            positive_spans: vec![span(1, 1)],
            positive_buckets: vec![2.0],
            ..Default::default()
        };
        assert_eq!(h.stdvar(), 0.0);
        // One at midpoint 2 (bucket (1,4]) and one at midpoint 8 ((4,16]).
        let h = FloatHistogram {
            schema: -1,
            count: 2.0,
            sum: 10.0,
            positive_spans: vec![span(1, 2)],
            positive_buckets: vec![1.0, 1.0],
            ..Default::default()
        };
        assert_eq!(h.stdvar(), 9.0);
        assert_eq!(h.stddev(), 3.0);
    }

    #[test]
    fn variance_zero_bucket_and_custom() {
        let h = FloatHistogram {
            count: 2.0,
            sum: 0.0,
            zero_threshold: 1.0,
            zero_count: 2.0,
            ..Default::default()
        };
        assert_eq!(h.stdvar(), 0.0);
        let c = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![0.0, 2.0, 6.0],
            count: 2.0,
            sum: 6.0,
            positive_spans: vec![span(1, 2)],
            positive_buckets: vec![1.0, 1.0],
            ..Default::default()
        };
        // Midpoints 1 and 4 around mean 3: (4 + 1) / 2.
        assert_eq!(c.stdvar(), 2.5);
    }

    #[test]
    fn tracker_resolves_hints() {
        let h = |count: f64| FloatHistogram {
            count,
            sum: count,
            positive_spans: vec![span(0, 1)],
            positive_buckets: vec![count],
            ..Default::default()
        };
        let mut t = StatsTracker::new();
        let first = t.next(&h(5.0));
        assert_eq!(first.counter_reset_hint, CounterResetHint::Unknown);
        assert!(first.positive_buckets.is_empty());
        assert_eq!(
            t.next(&h(6.0)).counter_reset_hint,
            CounterResetHint::NotCounterReset
        );
        assert_eq!(
            t.next(&h(1.0)).counter_reset_hint,
            CounterResetHint::CounterReset
        );
        let mut stale = h(1.0);
        stale.sum = stale_nan();
        assert_eq!(t.next(&stale).counter_reset_hint, CounterResetHint::Unknown);
        assert_eq!(
            t.next(&h(2.0)).counter_reset_hint,
            CounterResetHint::NotCounterReset,
            "compared with the last real histogram"
        );
    }
}
