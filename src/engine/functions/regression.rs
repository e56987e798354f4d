//! The least-squares line of `deriv` and `predict_linear`, with the
//! compensated sums Prometheus uses.
//!
//! A fit sums four things over its window: the times `x` (seconds from an
//! intercept time), their squares, the values `y` and the products `x * y`.
//! The first two depend only on where the samples sit relative to the
//! intercept time. With regular scrapes, consecutive windows of a range
//! query have the same shape (as many samples, the same spacing, the same
//! offset from the intercept time), so [`SlidingFit`] keeps the times and
//! their sums from one window to the next and sums only the values. Each
//! sum is its own chain of additions in sample order, so the results are
//! bit for bit those of a fresh fit.

use crate::engine::kahan::kahan_inc;
use crate::model::FPoint;

/// The sums over a window's times.
#[derive(Clone, Copy, Default)]
struct TimeSums {
    n: f64,
    x: f64,
    x_c: f64,
    xx: f64,
    xx_c: f64,
}

impl TimeSums {
    #[inline(always)]
    fn add(&mut self, x: f64) {
        self.n += 1.0;
        (self.x, self.x_c) = kahan_inc(x, self.x, self.x_c);
        (self.xx, self.xx_c) = kahan_inc(x * x, self.xx, self.xx_c);
    }
}

/// The sums over a window's values.
#[derive(Clone, Copy, Default)]
struct ValueSums {
    y: f64,
    y_c: f64,
    xy: f64,
    xy_c: f64,
}

impl ValueSums {
    #[inline(always)]
    fn add(&mut self, x: f64, y: f64) {
        (self.y, self.y_c) = kahan_inc(y, self.y, self.y_c);
        (self.xy, self.xy_c) = kahan_inc(x * y, self.xy, self.xy_c);
    }
}

/// A sample's time in seconds from `intercept_time` (milliseconds).
fn seconds_from(t: i64, intercept_time: i64) -> f64 {
    (t as f64 - intercept_time as f64) / 1e3
}

/// The line's slope and its value at the intercept time.
fn line(window: &[FPoint], time: &TimeSums, values: &ValueSums) -> (f64, f64) {
    let first = window[0].v;
    if window[1..].iter().all(|p| p.v == first) {
        // A constant series has no slope (an infinite one has no line).
        if first.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first);
    }
    let n = time.n;
    let (sx, sx2) = (time.x + time.x_c, time.xx + time.xx_c);
    let (sy, sxy) = (values.y + values.y_c, values.xy + values.xy_c);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// The least-squares line through a window of at least two samples: its
/// slope (per second) and its value at `intercept_time`.
pub(crate) fn linear_regression(window: &[FPoint], intercept_time: i64) -> (f64, f64) {
    let (mut time, mut values) = (TimeSums::default(), ValueSums::default());
    for p in window {
        let x = seconds_from(p.t, intercept_time);
        time.add(x);
        values.add(x, p.v);
    }
    line(window, &time, &values)
}

/// Fits over the windows of one series, whose bounds only move forward,
/// keeping the times of the last regular window shape.
pub(crate) struct SlidingFit {
    /// For each position `i`, the first position of the run of equally
    /// spaced samples that ends at `i`.
    run_start: Vec<usize>,
    /// The last shape `(samples, spacing, first sample - intercept time)`,
    /// its times and their sums.
    shape: Option<(usize, i64, i64)>,
    xs: Vec<f64>,
    time: TimeSums,
}

/// Times whose conversion to `f64` is exact, so that a time's distance from
/// the intercept time is all that its `x` depends on.
const EXACT_TIME: i64 = 1 << 53;

impl SlidingFit {
    /// A fitter for windows of `floats`.
    pub(crate) fn new(floats: &[FPoint]) -> Self {
        // Times ascend, so a wrapping difference is the true spacing (as an
        // unsigned number) even for times at the ends of the range.
        let spacing = |i: usize| floats[i].t.wrapping_sub(floats[i - 1].t);
        let mut run_start = Vec::with_capacity(floats.len());
        for i in 0..floats.len() {
            let start = if i >= 2 && spacing(i) == spacing(i - 1) {
                run_start[i - 1]
            } else {
                i.saturating_sub(1)
            };
            run_start.push(start);
        }
        SlidingFit {
            run_start,
            shape: None,
            xs: Vec::new(),
            time: TimeSums::default(),
        }
    }

    /// [`linear_regression`] of `floats[lo..hi]` (at least two samples).
    pub(crate) fn fit(
        &mut self,
        floats: &[FPoint],
        lo: usize,
        hi: usize,
        intercept_time: i64,
    ) -> (f64, f64) {
        let window = &floats[lo..hi];
        let (first, last) = (window[0].t, window[window.len() - 1].t);
        let exact = [first, last, intercept_time]
            .iter()
            .all(|t| t.unsigned_abs() < EXACT_TIME as u64);
        if !exact || self.run_start[hi - 1] > lo {
            return linear_regression(window, intercept_time);
        }
        let shape = (window.len(), window[1].t - first, first - intercept_time);
        if self.shape != Some(shape) {
            self.xs.clear();
            self.xs
                .extend(window.iter().map(|p| seconds_from(p.t, intercept_time)));
            self.time = TimeSums::default();
            for &x in &self.xs {
                self.time.add(x);
            }
            self.shape = Some(shape);
        }
        let mut values = ValueSums::default();
        for (&x, p) in self.xs.iter().zip(window) {
            values.add(x, p.v);
        }
        line(window, &self.time, &values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn series(times: &[i64], values: &[f64]) -> Vec<FPoint> {
        times
            .iter()
            .zip(values)
            .map(|(&t, &v)| FPoint { t, v })
            .collect()
    }

    proptest! {
        /// Sliding fits equal fresh fits bit for bit, over regular and
        /// irregular spacing, constant stretches, NaNs and infinities.
        #[test]
        fn sliding_fits_equal_fresh_fits(
            gaps in proptest::collection::vec(prop_oneof![4 => Just(15_000i64), 1 => 1i64..40_000], 2..60),
            values in proptest::collection::vec(prop_oneof![
                4 => (-50i32..50).prop_map(f64::from),
                1 => Just(3.0),
                1 => any::<f64>(),
                1 => Just(f64::INFINITY),
            ], 60),
            width in 2usize..12,
            lag in -40_000i64..40_000,
            start in prop_oneof![Just(1_700_000_000_000i64), Just(-5_000i64), Just(i64::MAX / 2), Just(i64::MIN)],
        ) {
            let mut times = vec![start];
            for g in &gaps {
                times.push(times[times.len() - 1] + g);
            }
            let floats = series(&times, &values[..times.len()]);
            let mut fit = SlidingFit::new(&floats);
            let mut lo = 0;
            while lo + width <= floats.len() {
                let hi = lo + width;
                let intercept = floats[hi - 1].t.saturating_add(lag);
                let (a, b) = fit.fit(&floats, lo, hi, intercept);
                let (c, d) = linear_regression(&floats[lo..hi], intercept);
                prop_assert_eq!((a.to_bits(), b.to_bits()), (c.to_bits(), d.to_bits()), "{}..{}", lo, hi);
                lo += 1 + lo % 2;
            }
        }
    }

    #[test]
    fn a_line_through_two_points() {
        let floats = series(&[0, 10_000], &[1.0, 3.0]);
        assert_eq!(linear_regression(&floats, 0), (0.2, 1.0));
        let constant = series(&[0, 10_000], &[f64::INFINITY; 2]);
        assert!(linear_regression(&constant, 0).0.is_nan());
        // Spacings beyond 63 bits neither overflow nor count as regular.
        let extreme = series(&[i64::MIN, 0, i64::MAX], &[1.0, 2.0, 4.0]);
        let mut fit = SlidingFit::new(&extreme);
        let fresh = linear_regression(&extreme, 0);
        let slid = fit.fit(&extreme, 0, 3, 0);
        assert_eq!(
            (slid.0.to_bits(), slid.1.to_bits()),
            (fresh.0.to_bits(), fresh.1.to_bits())
        );
    }
}
