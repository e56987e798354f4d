//! `stddev_over_time` and `stdvar_over_time` over several windows at once.
//!
//! Their kernel is one chain of dependent operations per window: a running
//! mean and sum of squares with compensation, each sample waiting for the
//! previous one's division. The processor spends most of each sample
//! waiting, so a series' consecutive windows go through the loop together,
//! one sample of each per round ([`LANES`] independent chains that overlap).
//! Each window still sees exactly its own samples in order, so every result
//! is bit for bit the one-window loop's.

use std::ops::Range;

use crate::engine::kahan::kahan_inc;
use crate::model::FPoint;

/// How many windows go through the loop together.
pub(crate) const LANES: usize = 4;

/// The running mean and sum of squared deviations of one window, with
/// compensation (as Prometheus computes them).
#[derive(Clone, Copy, Default)]
pub(crate) struct Variance {
    count: f64,
    mean: f64,
    mean_c: f64,
    squares: f64,
    squares_c: f64,
}

impl Variance {
    /// Takes in the window's next value.
    #[inline(always)]
    pub(crate) fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - (self.mean + self.mean_c);
        (self.mean, self.mean_c) = kahan_inc(delta / self.count, self.mean, self.mean_c);
        let spread = delta * (v - (self.mean + self.mean_c));
        (self.squares, self.squares_c) = kahan_inc(spread, self.squares, self.squares_c);
    }

    /// The population variance of the values taken in (NaN for none).
    pub(crate) fn variance(&self) -> f64 {
        (self.squares + self.squares_c) / self.count
    }

    /// The variance of one window's values.
    pub(crate) fn of(window: &[FPoint]) -> f64 {
        let mut acc = Variance::default();
        for p in window {
            acc.add(p.v);
        }
        acc.variance()
    }

    /// The variance of each of [`LANES`] windows of `floats`, as
    /// [`Variance::of`] gives it for each.
    pub(crate) fn of_each(floats: &[FPoint], windows: &[Range<usize>; LANES]) -> [f64; LANES] {
        let mut acc = [Variance::default(); LANES];
        let shortest = windows.iter().map(Range::len).min().unwrap_or(0);
        let starts: [&[FPoint]; LANES] = std::array::from_fn(|k| &floats[windows[k].clone()]);
        for i in 0..shortest {
            for k in 0..LANES {
                acc[k].add(starts[k][i].v);
            }
        }
        for k in 0..LANES {
            for p in &starts[k][shortest..] {
                acc[k].add(p.v);
            }
        }
        acc.map(|a| a.variance())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_together_give_each_window_alone_bit_for_bit() {
        let values = [
            1e16,
            1.0,
            -1e16,
            3.5,
            f64::NAN,
            2.0,
            0.1,
            0.2,
            0.3,
            f64::INFINITY,
            7.0,
            -0.0,
            1e-300,
            12.0,
        ];
        let floats: Vec<FPoint> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| FPoint {
                t: i as i64 * 1000,
                v,
            })
            .collect();
        let n = floats.len();
        let windows = [0..n, 2..5, 5..6, 6..n];
        let together = Variance::of_each(&floats, &windows);
        for (w, got) in windows.iter().zip(together) {
            let alone = Variance::of(&floats[w.clone()]);
            assert_eq!(got.to_bits(), alone.to_bits(), "{w:?}: {got} vs {alone}");
        }
        // Windows without NaN or infinities have finite variances.
        assert!(together[2] == 0.0);
        assert!(Variance::of(&floats[5..9]).is_finite());
        assert!(Variance::of(&[]).is_nan());
    }
}
