//! Prometheus' extrapolation of `rate`, `increase` and `delta` from the
//! sampled interval to the whole window, shared by floats and histograms.
//!
//! Most of it depends only on where the first and last samples sit in the
//! window, not on their values, and it costs several dependent divisions.
//! Over a range query with regular scrapes consecutive windows have the
//! same shape, so [`ShapeMemo`] keeps the last shape's part: the same
//! expressions on the same inputs, so the results are bit for bit those
//! computed afresh.

use std::cell::Cell;

use super::range::Window;

/// Seconds from `a` to `b` (milliseconds), as Prometheus computes them.
fn seconds(a: i64, b: i64) -> f64 {
    (b as f64 - a as f64) / 1000.0
}

/// The value-independent part of one window's extrapolation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Shape {
    /// Seconds extrapolated before the first sample (before the counter
    /// rule that never extrapolates below zero).
    to_start: f64,
    /// Seconds extrapolated after the last sample.
    to_end: f64,
    /// Seconds between the first and the last sample.
    sampled: f64,
    /// The factor with `to_start` as is (divided by the range for rates).
    factor: f64,
}

impl Shape {
    fn new(w: &Window<'_>, first_t: i64, last_t: i64, intervals: usize, is_rate: bool) -> Shape {
        let sampled = seconds(first_t, last_t);
        let avg_interval = average_interval(sampled, intervals);
        let threshold = avg_interval * 1.1;
        let mut to_start = seconds(w.range_start, first_t);
        if to_start >= threshold {
            to_start = avg_interval / 2.0;
        }
        let to_end = capped_to_end(w, last_t, avg_interval, threshold);
        Shape {
            to_start,
            to_end,
            sampled,
            factor: factor(w, sampled, to_start, to_end, is_rate),
        }
    }
}

fn average_interval(sampled: f64, intervals: usize) -> f64 {
    if intervals > 0 {
        sampled / intervals as f64
    } else {
        0.0
    }
}

fn capped_to_end(w: &Window<'_>, last_t: i64, avg_interval: f64, threshold: f64) -> f64 {
    let to_end = seconds(last_t, w.range_end);
    if to_end >= threshold {
        avg_interval / 2.0
    } else {
        to_end
    }
}

fn factor(w: &Window<'_>, sampled: f64, to_start: f64, to_end: f64, is_rate: bool) -> f64 {
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if is_rate {
        factor /= w.range as f64 / 1000.0;
    }
    factor
}

/// Where a window's first and last samples sit, relative to the window,
/// with the range and the function: what a [`Shape`] depends on.
///
/// A struct rather than an array: its derived comparison is inlined
/// field by field, where an array's goes through `memcmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShapeKey {
    lead: i64,
    trail: i64,
    span: i64,
    intervals: usize,
    range: i64,
    is_rate: bool,
}

/// The last window shape of one series and its [`Shape`].
#[derive(Debug, Default)]
pub(crate) struct ShapeMemo(Cell<Option<(ShapeKey, Shape)>>);

impl ShapeMemo {
    #[inline(always)]
    fn shape(
        &self,
        w: &Window<'_>,
        first_t: i64,
        last_t: i64,
        intervals: usize,
        is_rate: bool,
    ) -> Shape {
        // Differences stand for the times themselves only while every time
        // converts to f64 exactly (then so do the differences).
        const EXACT: i64 = 1 << 53;
        let exact = [first_t, last_t, w.range_start, w.range_end]
            .iter()
            .all(|t| t.unsigned_abs() <= EXACT as u64);
        if !exact {
            return Shape::new(w, first_t, last_t, intervals, is_rate);
        }
        let key = ShapeKey {
            lead: first_t - w.range_start,
            trail: w.range_end - last_t,
            span: last_t - first_t,
            intervals,
            range: w.range,
            is_rate,
        };
        if let Some((k, shape)) = self.0.get()
            && k == key
        {
            return shape;
        }
        let shape = Shape::new(w, first_t, last_t, intervals, is_rate);
        self.0.set(Some((key, shape)));
        shape
    }
}

/// The first sample's share of a counter's increase, `first / increase`,
/// where the counter rule (never extrapolate below zero) may use it: `None`
/// where it cannot change the factor.
///
/// The rule extrapolates to the start by `sampled * ratio` seconds when that
/// is less than the `to_start` of the window's [`Shape`], which is below
/// 1.1 average intervals, so below 1.1 `sampled`. A ratio of 2 or more gives
/// at least `2 * sampled` (rounding is monotonic and doubling exact), which
/// never is: the division, slow next to the rest of a window, is skipped,
/// as it is for most windows of a counter that did not just start.
pub(crate) fn zero_ratio(first: f64, increase: f64) -> Option<f64> {
    (increase > 0.0 && first >= 0.0 && first < 2.0 * increase).then(|| first / increase)
}

/// Prometheus' extrapolation factor for a window.
///
/// `intervals` is the number of sample intervals (samples - 1), `start` the
/// first sample's start timestamp when it applies (see
/// [`super::range::first_start_timestamp`]), and `zero_ratio` the first
/// sample's share of the increase (for counters: extrapolation never goes
/// below zero).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn extrapolation_factor(
    w: &Window<'_>,
    first_t: i64,
    last_t: i64,
    intervals: usize,
    start: Option<i64>,
    zero_ratio: Option<f64>,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    if let Some(st0) = start {
        // A zero is assumed at the start time: nothing is extrapolated
        // before the first sample, and the sampled interval begins there.
        let avg_interval = average_interval(seconds(first_t, last_t), intervals);
        let to_end = capped_to_end(w, last_t, avg_interval, avg_interval * 1.1);
        return factor(w, seconds(st0, last_t), 0.0, to_end, is_rate);
    }
    let shape = match w.shapes {
        Some(memo) => memo.shape(w, first_t, last_t, intervals, is_rate),
        None => Shape::new(w, first_t, last_t, intervals, is_rate),
    };
    if is_counter && let Some(ratio) = zero_ratio {
        let to_zero = shape.sampled * ratio;
        if to_zero < shape.to_start {
            return factor(w, shape.sampled, to_zero, shape.to_end, is_rate);
        }
    }
    shape.factor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Span;

    fn window(range_end: i64, range: i64, shapes: Option<&ShapeMemo>) -> Window<'_> {
        Window {
            floats: &[],
            float_sts: &[],
            hists: &[],
            hist_sts: &[],
            ts: range_end,
            range,
            range_start: range_end.saturating_sub(range),
            range_end,
            anchored: false,
            smoothed: false,
            name: "x",
            args: &[],
            span: Span::default(),
            shapes,
        }
    }

    proptest::proptest! {
        /// A factor taken from the memo of an earlier window with the same
        /// shape is the factor computed afresh, bit for bit, also for times
        /// beyond 2^53 (which are not memoized) and with the counter rule.
        #[test]
        fn memoized_factors_equal_fresh_ones(
            windows in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        -1_000_000_000i64..1_000_000_000,
                        (1i64 << 53) - 100_000..(1i64 << 53) + 100_000,
                        proptest::strategy::Just(i64::MAX - 10),
                    ],
                    0usize..3,
                    proptest::bool::ANY,
                    0i64..2,
                ),
                1..8,
            ),
            range in 1i64..600_000,
            first_off in 0i64..600_000,
            len in 0i64..600_000,
            intervals in 0usize..50,
            ratio in proptest::option::of(0.0f64..2.0),
            is_counter in proptest::bool::ANY,
        ) {
            // Windows at several times, most of the same shape, some with
            // another sample count, function or range.
            let memo = ShapeMemo::default();
            for (end, more, is_rate, wider) in windows {
                let range = range + wider * 15_000;
                let intervals = intervals + more;
                let w = window(end, range, Some(&memo));
                let first_t = w.range_start.saturating_add(first_off % range);
                let last_t = first_t.saturating_add(len).min(end);
                let memoized = extrapolation_factor(&w, first_t, last_t, intervals, None, ratio, is_counter, is_rate);
                let fresh = extrapolation_factor(&window(end, range, None), first_t, last_t, intervals, None, ratio, is_counter, is_rate);
                proptest::prop_assert_eq!(memoized.to_bits(), fresh.to_bits());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// Skipping the ratio where it is 2 or more never changes a factor.
        #[test]
        fn skipped_zero_ratios_do_not_change_the_factor(
            end in -1_000_000_000i64..1_000_000_000,
            sampled in 0i64..600_000,
            intervals in proptest::prop_oneof![3 => 1usize..3, 1 => 0usize..50],
            // Time before the first sample, in average intervals: mostly
            // under the 1.1 at which Prometheus stops extrapolating to it.
            lead in 0.0f64..1.2,
            trail in 0i64..100_000,
            // The first value in increases, or any value.
            share in proptest::option::weighted(0.8, 0.0f64..3.0),
            first in proptest::prop_oneof![
                proptest::strategy::Just(0.0),
                proptest::strategy::Just(f64::INFINITY),
                proptest::num::f64::ANY,
            ],
            increase in proptest::prop_oneof![
                4 => 0.0f64..1e12,
                1 => proptest::strategy::Just(f64::INFINITY),
                1 => proptest::num::f64::ANY,
            ],
            is_rate in proptest::bool::ANY,
        ) {
            let lead = (sampled as f64 / intervals.max(1) as f64 * lead) as i64;
            let range = (lead + sampled + trail).max(1);
            let w = window(end, range, None);
            let first_t = w.range_start + lead;
            let last_t = first_t + sampled;
            let first = share.map_or(first, |share| increase * share);
            let always = (increase > 0.0 && first >= 0.0).then(|| first / increase);
            let f = |ratio| extrapolation_factor(&w, first_t, last_t, intervals, None, ratio, true, is_rate);
            proptest::prop_assert_eq!(f(zero_ratio(first, increase)).to_bits(), f(always).to_bits());
        }
    }

    #[test]
    fn windows_of_the_same_shape_share_the_memo() {
        let memo = ShapeMemo::default();
        let a = window(100_000, 60_000, Some(&memo));
        let b = window(115_000, 60_000, Some(&memo));
        let fa = extrapolation_factor(&a, 45_000, 90_000, 3, None, None, true, true);
        let fb = extrapolation_factor(&b, 60_000, 105_000, 3, None, None, true, true);
        assert_eq!(fa.to_bits(), fb.to_bits());
        // Prometheus: 45 s sampled, 5 s before (under 1.1 x 15 s), 10 s
        // after, over a 60 s window.
        assert_eq!(fa, (45.0 + 5.0 + 10.0) / 45.0 / 60.0);
    }
}
