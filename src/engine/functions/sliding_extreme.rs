//! `max_over_time` and friends over windows that slide forward.
//!
//! The windows of consecutive steps overlap (a subquery's 30 m window at a
//! 15 s step shares all but a sample or two with the previous one), so
//! rescanning each window repeats the same comparisons. A queue of
//! candidates, ordered so that its front is the window's answer, makes each
//! step cost what enters and leaves the window. The answer is the sample
//! the scan in the kernel would pick, ties and NaNs included:
//!
//! - the extreme of the non-NaN values, the first of equal ones for
//!   `max_over_time`/`min_over_time` and the last for the `ts_of_` forms
//!   (which compare with `>=`/`<=`); `-0` and `+0` are equal;
//! - when every value is NaN, the last one (the scan replaces a NaN best
//!   with whatever comes next).

use super::range_fn::RangeFn;
use crate::model::FPoint;

/// The sample a `max_over_time`, `min_over_time`, `ts_of_max_over_time` or
/// `ts_of_min_over_time` window picks, for windows whose bounds only move
/// forward.
#[derive(Debug)]
pub(crate) struct SlidingExtreme {
    max: bool,
    /// Whether a later sample equal to the best replaces it (`ts_of_`).
    later_ties: bool,
    /// Positions of the non-NaN samples that can still be a window's
    /// answer: from `candidates[head]` on, each beats every later one.
    /// (A vector with a moving front rather than a ring buffer: positions
    /// only grow, so it never holds more than the series' samples.)
    candidates: Vec<usize>,
    /// The first live entry of `candidates`.
    head: usize,
    /// Samples before this position have been offered.
    offered: usize,
}

impl SlidingExtreme {
    /// The tracker for `func`, or `None` for other functions.
    pub(crate) fn new(func: RangeFn) -> Option<Self> {
        let (max, later_ties) = match func {
            RangeFn::MaxOverTime => (true, false),
            RangeFn::MinOverTime => (false, false),
            RangeFn::TsOfMaxOverTime => (true, true),
            RangeFn::TsOfMinOverTime => (false, true),
            _ => return None,
        };
        Some(SlidingExtreme {
            max,
            later_ties,
            candidates: Vec::new(),
            head: 0,
            offered: 0,
        })
    }

    /// Whether a `later` value takes the place of an `earlier` candidate.
    fn displaces(&self, earlier: f64, later: f64) -> bool {
        match (self.max, self.later_ties) {
            (true, false) => earlier < later,
            (true, true) => earlier <= later,
            (false, false) => earlier > later,
            (false, true) => earlier >= later,
        }
    }

    /// Moves to the window `floats[lo..hi]` (both bounds at or after the
    /// previous window's) and returns the position of the sample the scan
    /// would pick, or `None` for an empty window.
    // Always inlined: called once per step, where most steps offer nothing
    // new, so a call's register saves and restores cost as much as the work.
    #[inline(always)]
    pub(crate) fn advance(&mut self, floats: &[FPoint], lo: usize, hi: usize) -> Option<usize> {
        let hi = hi.min(floats.len());
        if self.offered < lo {
            // Everything offered so far has left the window.
            self.candidates.clear();
            self.head = 0;
            self.offered = lo;
        }
        while self.offered < hi {
            let i = self.offered;
            self.offered += 1;
            let v = floats[i].v;
            if v.is_nan() {
                continue;
            }
            while self.candidates.len() > self.head
                && let Some(&last) = self.candidates.last()
                && self.displaces(floats[last].v, v)
            {
                self.candidates.pop();
            }
            self.candidates.push(i);
        }
        while self
            .candidates
            .get(self.head)
            .is_some_and(|&first| first < lo)
        {
            self.head += 1;
        }
        if lo >= hi {
            return None;
        }
        // No candidate: every value in the window is NaN.
        Some(self.candidates.get(self.head).copied().unwrap_or(hi - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The kernel's scan, as in `range.rs`.
    fn scan(func: RangeFn, f: &[FPoint]) -> usize {
        let is_max = matches!(func, RangeFn::MaxOverTime | RangeFn::TsOfMaxOverTime);
        let ts_of = matches!(func, RangeFn::TsOfMaxOverTime | RangeFn::TsOfMinOverTime);
        let (mut best, mut at) = (f[0].v, 0);
        for (i, p) in f.iter().enumerate() {
            let better = match (ts_of, is_max) {
                (true, true) => p.v >= best,
                (true, false) => p.v <= best,
                (false, true) => p.v > best,
                (false, false) => p.v < best,
            };
            if better || best.is_nan() {
                best = p.v;
                at = i;
            }
        }
        at
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-3i8..3).prop_map(f64::from),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ]
    }

    proptest! {
        #[test]
        fn picks_what_the_scan_picks(
            values in proptest::collection::vec(value(), 0..60),
            moves in proptest::collection::vec((0usize..4, 0usize..6), 1..40),
            which in 0usize..4,
        ) {
            let func = [
                RangeFn::MaxOverTime,
                RangeFn::MinOverTime,
                RangeFn::TsOfMaxOverTime,
                RangeFn::TsOfMinOverTime,
            ][which];
            let floats: Vec<FPoint> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| FPoint { t: i as i64, v })
                .collect();
            let mut x = SlidingExtreme::new(func).unwrap();
            let (mut lo, mut hi) = (0, 0);
            for (start_by, end_by) in moves {
                lo = (lo + start_by).min(floats.len());
                hi = (hi.max(lo) + end_by).min(floats.len());
                let got = x.advance(&floats, lo, hi);
                let want = (lo < hi).then(|| lo + scan(func, &floats[lo..hi]));
                prop_assert_eq!(got, want, "window {}..{}", lo, hi);
            }
        }
    }
}
