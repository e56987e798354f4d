//! Counter-reset detection between consecutive histograms of a series.

use super::bounds::{bucket_bound, exponential_bound};
use super::layout::to_indexed;
use super::{CounterResetHint, FloatHistogram};

/// Whether `prev` has a populated bucket that `curr` lacks or a bucket whose
/// count is higher than in `curr`. Both lists are sorted by index.
fn buckets_decreased(curr: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    let mut ci = curr.iter().peekable();
    for &(idx, count) in prev {
        while ci.next_if(|c| c.0 < idx).is_some() {}
        match ci.peek() {
            Some(&&(cidx, ccount)) if cidx == idx => {
                if ccount < count {
                    return true;
                }
            }
            _ => {
                if count != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

impl FloatHistogram {
    /// Whether this histogram follows a counter reset relative to `previous`
    /// (Prometheus' `DetectReset`). The hints `CounterReset` and
    /// `NotCounterReset` decide on their own; otherwise (also for gauges) a
    /// reset is a smaller count, a populated bucket that disappeared or
    /// shrank, a smaller zero count, a higher resolution, a smaller zero
    /// threshold, or a zero threshold that splits a populated bucket of
    /// `previous`. A lower resolution compares against `previous` merged to
    /// it; custom buckets with different bounds compare on shared bounds.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            CounterResetHint::Unknown | CounterResetHint::Gauge => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if self.custom_values != previous.custom_values {
                return self.custom_reset_on_shared_bounds(previous);
            }
        }
        if self.schema > previous.schema {
            return true;
        }
        if self.zero_threshold < previous.zero_threshold {
            return true;
        }
        match self.reset_with_same_layout(previous) {
            Some(reset) => reset,
            None => self.reset_between_layouts(previous),
        }
    }

    /// The rest of [`detect_reset`](Self::detect_reset) for any layouts:
    /// zero buckets and buckets compared after merging to a shared layout.
    fn reset_between_layouts(&self, previous: &FloatHistogram) -> bool {
        let (prev_zero, threshold) = previous.zero_count_up_to(self.zero_threshold);
        if threshold != self.zero_threshold {
            return true;
        }
        if self.zero_count < prev_zero {
            return true;
        }
        for positive in [true, false] {
            let curr = self.side_above(positive, self.zero_threshold, self.schema);
            let prev = previous.side_above(positive, self.zero_threshold, self.schema);
            if buckets_decreased(&curr, &prev) {
                return true;
            }
        }
        false
    }

    /// Reset detection when both histograms have the same schema, zero
    /// threshold and bucket spans (the common case between consecutive
    /// samples): the general rules reduce to comparing zero counts and each
    /// bucket with its counterpart, skipping the leading buckets at or below
    /// the zero threshold as the general path does. `None` when the layouts
    /// differ.
    fn reset_with_same_layout(&self, previous: &FloatHistogram) -> Option<bool> {
        if self.schema != previous.schema
            || self.zero_threshold != previous.zero_threshold
            || self.positive_spans != previous.positive_spans
            || self.negative_spans != previous.negative_spans
            || self.positive_buckets.len() != previous.positive_buckets.len()
            || self.negative_buckets.len() != previous.negative_buckets.len()
        {
            return None;
        }
        if self.zero_count < previous.zero_count {
            return Some(true);
        }
        let check_bounds = self.zero_threshold != 0.0 && !self.uses_custom_buckets();
        let sides = [
            (
                &self.positive_spans,
                &self.positive_buckets,
                &previous.positive_buckets,
            ),
            (
                &self.negative_spans,
                &self.negative_buckets,
                &previous.negative_buckets,
            ),
        ];
        for (n, (spans, curr, prev)) in sides.into_iter().enumerate() {
            if n == 1 && self.uses_custom_buckets() {
                // Custom-bucket histograms have no negative side.
                break;
            }
            let skip = super::layout::canonical_skip(spans, curr.len(), |index| {
                check_bounds && exponential_bound(index, self.schema) <= self.zero_threshold
            })?;
            let (Some(curr), Some(prev)) = (curr.get(skip..), prev.get(skip..)) else {
                return None;
            };
            if curr.iter().zip(prev).any(|(c, p)| c < p) {
                return Some(true);
            }
        }
        Some(false)
    }

    /// One side merged to `schema` without the leading buckets whose upper
    /// bound is at most `threshold` (exponential schemas only).
    fn side_above(&self, positive: bool, threshold: f64, schema: i32) -> Vec<(i32, f64)> {
        let Some(mut buckets) = self.reduced_side(positive, schema) else {
            return Vec::new();
        };
        if threshold != 0.0 && !self.uses_custom_buckets() {
            let skip = buckets
                .iter()
                .take_while(|b| exponential_bound(i64::from(b.0), schema) <= threshold)
                .count();
            buckets.drain(..skip);
        }
        buckets
    }

    /// The zero count this histogram would have with the (larger) zero
    /// threshold `larger`, and the threshold that needs: raised to the upper
    /// bound of a populated bucket the requested one would split.
    fn zero_count_up_to(&self, mut larger: f64) -> (f64, f64) {
        if larger == self.zero_threshold || self.uses_custom_buckets() || larger.is_nan() {
            return (self.zero_count, larger);
        }
        let schema = self.schema;
        let pos = to_indexed(&self.positive_spans, &self.positive_buckets);
        let neg = to_indexed(&self.negative_spans, &self.negative_buckets);
        'restart: loop {
            let mut count = self.zero_count;
            for (side, restart) in [(&pos, false), (&neg, true)] {
                for &(i, v) in side {
                    if exponential_bound(i64::from(i) - 1, schema) >= larger {
                        break;
                    }
                    count += v;
                    let upper = exponential_bound(i64::from(i), schema);
                    if upper > larger {
                        if v != 0.0 {
                            larger = upper;
                            if restart {
                                continue 'restart;
                            }
                        }
                        break;
                    }
                }
            }
            return (count, larger);
        }
    }

    /// Reset detection between custom-bucket histograms with different
    /// bounds: cumulative counts up to each shared bound must not decrease.
    fn custom_reset_on_shared_bounds(&self, previous: &FloatHistogram) -> bool {
        let shared =
            super::arith::intersect_custom_bounds(&self.custom_values, &previous.custom_values);
        let rollup = |h: &FloatHistogram| -> Vec<f64> {
            let buckets = to_indexed(&h.positive_spans, &h.positive_buckets);
            let mut sums = vec![0.0; shared.len() + 1];
            let mut bi = buckets.iter().peekable();
            for (k, &bound) in shared
                .iter()
                .chain(std::iter::once(&f64::INFINITY))
                .enumerate()
            {
                while let Some(&&(i, v)) = bi.peek() {
                    if bucket_bound(i64::from(i), h.schema, &h.custom_values) > bound {
                        break;
                    }
                    if let Some(s) = sums.get_mut(k) {
                        *s += v;
                    }
                    bi.next();
                }
            }
            sums
        };
        let (curr, prev) = (rollup(self), rollup(previous));
        curr.iter().zip(&prev).any(|(c, p)| c < p)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn h(schema: i32, count: f64, offset: i32, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count,
            positive_spans: vec![BucketSpan {
                offset,
                length: u32::try_from(buckets.len()).unwrap_or(0),
            }],
            positive_buckets: buckets.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn hints_decide() {
        let mut a = h(0, 10.0, 0, &[10.0]);
        let b = h(0, 1.0, 0, &[1.0]);
        a.counter_reset_hint = CounterResetHint::CounterReset;
        assert!(a.detect_reset(&b));
        let mut c = b.clone();
        c.counter_reset_hint = CounterResetHint::NotCounterReset;
        assert!(!c.detect_reset(&a));
    }

    #[test]
    fn decreasing_counts_are_resets() {
        let prev = h(0, 3.0, 0, &[1.0, 2.0]);
        assert!(!h(0, 4.0, 0, &[2.0, 2.0]).detect_reset(&prev));
        assert!(h(0, 2.0, 0, &[1.0, 1.0]).detect_reset(&prev));
        assert!(h(0, 5.0, 0, &[3.0, 1.0, 1.0]).detect_reset(&prev));
        // A missing bucket that was empty is fine, a populated one is not.
        assert!(!h(0, 3.0, 1, &[3.0]).detect_reset(&h(0, 3.0, 0, &[0.0, 3.0])));
        assert!(h(0, 3.0, 1, &[3.0]).detect_reset(&h(0, 3.0, 0, &[1.0, 2.0])));
    }

    #[test]
    fn schema_changes() {
        let prev = h(0, 3.0, 0, &[1.0, 2.0]);
        assert!(h(1, 3.0, 0, &[1.0, 2.0]).detect_reset(&prev));
        // Schema 1 buckets 1,2 merge into schema 0 bucket 1, bucket 3 into 2.
        let fine = h(1, 4.0, 1, &[1.0, 1.0, 2.0]);
        assert!(!h(0, 4.0, 1, &[2.0, 2.0]).detect_reset(&fine));
        assert!(h(0, 4.0, 1, &[3.0, 1.0]).detect_reset(&fine));
    }

    #[test]
    fn zero_threshold_changes() {
        let mut prev = h(0, 3.0, 0, &[1.0, 2.0]);
        prev.zero_threshold = 0.5;
        let mut curr = prev.clone();
        curr.zero_threshold = 0.25;
        assert!(curr.detect_reset(&prev), "narrower zero bucket");
        let mut wider = prev.clone();
        wider.zero_threshold = 1.0;
        wider.zero_count = 1.0;
        wider.positive_spans = vec![BucketSpan {
            offset: 1,
            length: 1,
        }];
        wider.positive_buckets = vec![2.0];
        assert!(!wider.detect_reset(&prev));
        wider.zero_threshold = 0.7;
        assert!(
            wider.detect_reset(&prev),
            "threshold splits a populated bucket"
        );
    }

    #[test]
    fn custom_bounds() {
        let nhcb = |cv: &[f64], b: &[f64]| FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: cv.to_vec(),
            count: b.iter().sum(),
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: u32::try_from(b.len()).unwrap_or(0),
            }],
            positive_buckets: b.to_vec(),
            ..Default::default()
        };
        let prev = nhcb(&[1.0, 2.0], &[1.0, 1.0, 1.0]);
        assert!(!nhcb(&[2.0], &[2.0, 1.0]).detect_reset(&prev));
        assert!(nhcb(&[2.0], &[1.0, 2.0]).detect_reset(&prev));
        assert!(nhcb(&[1.0, 2.0], &[1.0, 1.0, 1.0]).detect_reset(&h(0, 1.0, 0, &[1.0])));
    }

    proptest::proptest! {
        /// The same-layout shortcut decides exactly as the general rules.
        #[test]
        fn same_layout_shortcut_agrees_with_the_general_rules(
            schema in proptest::prop_oneof![-4i32..=8, proptest::strategy::Just(CUSTOM_BUCKETS_SCHEMA)],
            threshold in proptest::prop_oneof![
                proptest::strategy::Just(0.0),
                proptest::strategy::Just(1e-3),
                proptest::strategy::Just(1.0),
                proptest::strategy::Just(4.0),
            ],
            spans in proptest::collection::vec((-3i32..4, 0u32..4), 0..4),
            counts in proptest::collection::vec((0u8..5, 0u8..5), 16),
            zero in (0u8..3, 0u8..3),
        ) {
            let spans: Vec<BucketSpan> =
                spans.iter().map(|&(offset, length)| BucketSpan { offset, length }).collect();
            let n: usize = spans.iter().map(|s| s.length as usize).sum();
            let make = |pick: fn(&(u8, u8)) -> u8, zero_count: u8| FloatHistogram {
                schema,
                zero_threshold: if schema == CUSTOM_BUCKETS_SCHEMA { 0.0 } else { threshold },
                zero_count: f64::from(zero_count),
                count: 1000.0,
                positive_spans: spans.clone(),
                positive_buckets: counts.iter().take(n).map(|c| f64::from(pick(c))).collect(),
                negative_spans: spans.clone(),
                negative_buckets: counts.iter().rev().take(n).map(|c| f64::from(pick(c))).collect(),
                custom_values: if schema == CUSTOM_BUCKETS_SCHEMA {
                    (1..=16).map(f64::from).collect()
                } else {
                    vec![]
                },
                ..Default::default()
            };
            let prev = make(|c| c.0, zero.0);
            let curr = make(|c| c.1, zero.1);
            if let Some(fast) = curr.reset_with_same_layout(&prev) {
                proptest::prop_assert_eq!(fast, curr.reset_between_layouts(&prev));
            }
        }
    }
}
