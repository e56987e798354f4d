//! Counter resets of a series found once, for windows that slide over it.
//!
//! `rate` and `increase` add the value before every reset (a sample below
//! its predecessor) in their window. Scanning each window costs one
//! comparison per sample and step; a range query's windows overlap, so the
//! resets are found once per series and each window takes the ones between
//! its bounds, in order. The sum is taken in the same order as a scan, so
//! the results are bit for bit the same.

use crate::model::FPoint;

/// Positions of the counter resets of one series, with a cursor over the
/// windows of consecutive steps (which only move forward).
#[derive(Debug, Default)]
pub(crate) struct ResetMarks {
    /// Every `i` with `floats[i].v < floats[i - 1].v`, ascending.
    at: Vec<usize>,
    /// The marks of the current window: `at[lo..hi]`.
    lo: usize,
    hi: usize,
}

/// Whether any sample of `floats` is below its predecessor, by a loop that
/// does not branch on the data (most series have no reset).
pub(crate) fn has_reset(floats: &[FPoint]) -> bool {
    let Some(rest) = floats.get(1..) else {
        return false;
    };
    // Two slices zipped: a plain indexed loop.
    rest.iter()
        .zip(floats)
        .fold(false, |any, (cur, prev)| any | (cur.v < prev.v))
}

impl ResetMarks {
    /// Finds the resets of `floats`.
    pub(crate) fn new(floats: &[FPoint]) -> Self {
        if !has_reset(floats) {
            return ResetMarks::default();
        }
        let at = floats
            .windows(2)
            .enumerate()
            .filter(|(_, pair)| pair[1].v < pair[0].v)
            .map(|(i, _)| i + 1)
            .collect();
        ResetMarks { at, lo: 0, hi: 0 }
    }

    /// Moves to the window `floats[start..end]` (both bounds at or after
    /// the previous window's) and returns its resets.
    pub(crate) fn advance(&mut self, start: usize, end: usize) -> WindowResets<'_> {
        // A reset at `i` is inside the window when its predecessor is.
        while self.lo < self.at.len() && self.at[self.lo] <= start {
            self.lo += 1;
        }
        self.hi = self.hi.max(self.lo);
        while self.hi < self.at.len() && self.at[self.hi] < end {
            self.hi += 1;
        }
        WindowResets {
            at: &self.at[self.lo..self.hi],
            base: start,
        }
    }
}

/// The counter resets inside one window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowResets<'a> {
    /// Positions in the series (not the window), ascending.
    at: &'a [usize],
    /// The series position of the window's first sample.
    base: usize,
}

impl WindowResets<'_> {
    /// The values just before each reset, in order, read from the window.
    pub(crate) fn values_before<'w>(
        &self,
        window: &'w [FPoint],
    ) -> impl Iterator<Item = f64> + use<'w, '_> {
        let base = self.base;
        self.at
            .iter()
            .filter_map(move |&i| window.get(i.checked_sub(base + 1)?).map(|p| p.v))
    }
}

/// The value before every reset in `floats`, in order, by scanning.
pub(crate) fn scan_values_before(floats: &[FPoint]) -> impl Iterator<Item = f64> + '_ {
    // Find the first reset with comparisons only (no dependent additions),
    // then walk on from there: most windows have no reset at all.
    let first = floats.windows(2).position(|p| p[1].v < p[0].v);
    let rest = first.map_or(&[][..], |i| &floats[i..]);
    rest.windows(2).filter(|p| p[1].v < p[0].v).map(|p| p[0].v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(vs: &[f64]) -> Vec<FPoint> {
        vs.iter()
            .enumerate()
            .map(|(i, &v)| FPoint {
                t: i as i64 * 1000,
                v,
            })
            .collect()
    }

    #[test]
    fn sliding_windows_see_the_resets_a_scan_sees() {
        let f = points(&[1.0, 5.0, 2.0, 3.0, f64::NAN, 1.0, 0.5, 7.0, 6.0, 6.0, 1.0]);
        let mut marks = ResetMarks::new(&f);
        for len in 1..=4 {
            let mut m = ResetMarks::new(&f);
            for start in 0..f.len() {
                let end = (start + len).min(f.len());
                let w = &f[start..end];
                let got: Vec<u64> = m
                    .advance(start, end)
                    .values_before(w)
                    .map(f64::to_bits)
                    .collect();
                let want: Vec<u64> = scan_values_before(w).map(f64::to_bits).collect();
                assert_eq!(got, want, "window {start}..{end}");
            }
        }
        // Windows that stand still or jump ahead.
        for (start, end) in [(0, 3), (0, 3), (2, 9), (9, 11), (11, 11)] {
            let w = &f[start..end];
            let got: Vec<f64> = marks.advance(start, end).values_before(w).collect();
            let want: Vec<f64> = scan_values_before(w).collect();
            assert_eq!(got, want, "window {start}..{end}");
        }
    }

    #[test]
    fn scan_finds_every_reset_in_order() {
        let f = points(&[3.0, 1.0, 2.0, 0.0, 5.0, 4.0]);
        let got: Vec<f64> = scan_values_before(&f).collect();
        assert_eq!(got, vec![3.0, 2.0, 5.0]);
        assert_eq!(scan_values_before(&points(&[1.0, 2.0])).count(), 0);
        assert_eq!(scan_values_before(&[]).count(), 0);
    }
}
