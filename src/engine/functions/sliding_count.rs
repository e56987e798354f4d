//! `changes` and `resets` over float windows that slide forward.
//!
//! Both count the neighbouring pairs of a window whose second value
//! differs from the first (`changes`: unequal, two NaNs count as equal) or
//! is below it (`resets`). The count of a window is a difference of two
//! running totals over the series, one at each end of the window, and
//! both ends only move forward: each pair is looked at twice in all,
//! however many windows it belongs to. The counts are integers, so they are
//! exactly what a scan of each window gives.

use super::range_fn::RangeFn;
use crate::model::FPoint;

/// The `changes` or `resets` of float windows whose bounds only move
/// forward.
#[derive(Debug)]
pub(crate) struct SlidingPairCount {
    resets: bool,
    /// The running total at the window's first sample.
    first: RunningTotal,
    /// The running total at the window's last sample.
    last: RunningTotal,
}

/// The number of counted pairs `(i - 1, i)` for `1 <= i <= at`.
#[derive(Debug, Default)]
struct RunningTotal {
    at: usize,
    total: u64,
}

impl SlidingPairCount {
    /// The counter for `func`, or `None` for other functions.
    pub(crate) fn new(func: RangeFn) -> Option<Self> {
        let resets = match func {
            RangeFn::Changes => false,
            RangeFn::Resets => true,
            _ => return None,
        };
        Some(SlidingPairCount {
            resets,
            first: RunningTotal::default(),
            last: RunningTotal::default(),
        })
    }

    /// The count of the non-empty window `floats[lo..hi]`; neither bound
    /// may be before the previous window's.
    pub(crate) fn count(&mut self, floats: &[FPoint], lo: usize, hi: usize) -> u64 {
        debug_assert!(lo < hi && hi <= floats.len());
        self.first.advance(floats, lo, self.resets);
        self.last.advance(floats, hi - 1, self.resets);
        self.last.total - self.first.total
    }
}

impl RunningTotal {
    /// Moves the total on to position `to` (not before the current one).
    fn advance(&mut self, floats: &[FPoint], to: usize, resets: bool) {
        while self.at < to {
            self.at += 1;
            let (prev, cur) = (floats[self.at - 1].v, floats[self.at].v);
            let counted = if resets {
                cur < prev
            } else {
                cur != prev && !(cur.is_nan() && prev.is_nan())
            };
            self.total += u64::from(counted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[f64]) -> Vec<FPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| FPoint {
                t: i as i64 * 1000,
                v,
            })
            .collect()
    }

    /// The count of one window by a plain scan.
    fn scan(floats: &[FPoint], resets: bool) -> u64 {
        floats
            .windows(2)
            .filter(|p| {
                let (prev, cur) = (p[0].v, p[1].v);
                if resets {
                    cur < prev
                } else {
                    cur != prev && !(cur.is_nan() && prev.is_nan())
                }
            })
            .count() as u64
    }

    #[test]
    fn sliding_counts_match_a_scan_of_each_window() {
        let values = [
            1.0,
            1.0,
            0.0,
            f64::NAN,
            f64::NAN,
            5.0,
            -0.0,
            0.0,
            3.0,
            2.0,
            2.0,
            f64::INFINITY,
            1.0,
        ];
        let floats = points(&values);
        for func in [RangeFn::Changes, RangeFn::Resets] {
            let resets = func == RangeFn::Resets;
            for width in 1..=floats.len() {
                for stride in 1..=3 {
                    let mut counter = SlidingPairCount::new(func).unwrap();
                    let mut lo = 0;
                    while lo + width <= floats.len() {
                        let hi = lo + width;
                        assert_eq!(
                            counter.count(&floats, lo, hi),
                            scan(&floats[lo..hi], resets),
                            "{func:?} over {lo}..{hi}"
                        );
                        lo += stride;
                    }
                }
            }
        }
    }

    #[test]
    fn growing_and_repeated_windows_match_a_scan() {
        let floats = points(&[3.0, 1.0, 1.0, 4.0, f64::NAN, 2.0, 2.0, 0.5]);
        for func in [RangeFn::Changes, RangeFn::Resets] {
            let resets = func == RangeFn::Resets;
            let mut counter = SlidingPairCount::new(func).unwrap();
            // The same window twice (an `@` modifier), then growing ends.
            for (lo, hi) in [(1, 3), (1, 3), (1, 5), (2, 5), (2, 8), (7, 8)] {
                assert_eq!(
                    counter.count(&floats, lo, hi),
                    scan(&floats[lo..hi], resets),
                    "{func:?} over {lo}..{hi}"
                );
            }
        }
    }

    #[test]
    fn other_functions_have_no_counter() {
        assert!(SlidingPairCount::new(RangeFn::Rate).is_none());
    }
}
