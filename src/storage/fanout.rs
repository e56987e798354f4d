//! Two storages read as one: a primary (a remote store, loaded files) and a
//! secondary (typically a [`MemoryStorage`](super::MemoryStorage) of
//! recording-rule outputs not yet visible in the primary), merged per series.
//!
//! A series present in both gets the union of their samples, sorted by time;
//! at equal timestamps the secondary's sample wins (it is the newer write).
//! Start timestamps are not merged: none are reported.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{SelectHints, SelectedSeries, Storage, StorageError};
use crate::model::{Labels, Matcher, Timestamp};

/// A primary and a secondary [`Storage`] merged per series.
#[derive(Clone, Copy)]
pub struct FanoutStorage<'a> {
    primary: &'a dyn Storage,
    secondary: &'a dyn Storage,
}

impl std::fmt::Debug for FanoutStorage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FanoutStorage")
    }
}

impl<'a> FanoutStorage<'a> {
    /// Reads `primary` and `secondary` together; `secondary` wins ties.
    pub fn new(primary: &'a dyn Storage, secondary: &'a dyn Storage) -> Self {
        FanoutStorage { primary, secondary }
    }

    /// [`Storage::select`], with samples borrowed from the two stores
    /// rather than from this value.
    pub fn select_merged(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'a>>, StorageError> {
        let (primary, secondary) = (self.primary, self.secondary);
        let mut merged: BTreeMap<Labels, SelectedSeries<'a>> = BTreeMap::new();
        for s in primary.select(matchers, hints)? {
            merged.insert(s.labels.clone(), s);
        }
        for s in secondary.select(matchers, hints)? {
            let series = match merged.remove(&s.labels) {
                None => s,
                Some(old) => SelectedSeries {
                    floats: Cow::Owned(merge_by_time(&old.floats, &s.floats, |p| p.t)),
                    histograms: Cow::Owned(merge_by_time(&old.histograms, &s.histograms, |p| p.t)),
                    labels: s.labels,
                },
            };
            merged.insert(series.labels.clone(), series);
        }
        Ok(merged.into_values().collect())
    }
}

impl Storage for FanoutStorage<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        self.select_merged(matchers, hints)
    }
}

/// Merges two time-sorted lists; at equal times the element of `newer` is kept.
fn merge_by_time<T: Clone>(older: &[T], newer: &[T], time: impl Fn(&T) -> Timestamp) -> Vec<T> {
    let mut out = Vec::with_capacity(older.len() + newer.len());
    let (mut a, mut b) = (older.iter().peekable(), newer.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (Some(x), Some(y)) => {
                let (tx, ty) = (time(x), time(y));
                if tx < ty {
                    a.next()
                } else {
                    if tx == ty {
                        a.next();
                    }
                    b.next()
                }
            }
        };
        out.extend(next.cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    fn series(name: &str) -> Labels {
        Labels::from_pairs(&[("__name__", name)])
    }

    #[test]
    fn series_are_merged_and_the_secondary_wins_ties() {
        let mut primary = MemoryStorage::new();
        let mut secondary = MemoryStorage::new();
        for (t, v) in [(0, 1.0), (10, 2.0), (20, 3.0)] {
            primary.add(&series("a"), t, v);
        }
        primary.add(&series("only_primary"), 0, 9.0);
        for (t, v) in [(10, 20.0), (30, 40.0)] {
            secondary.add(&series("a"), t, v);
        }
        secondary.add(&series("only_secondary"), 5, 7.0);
        let fanout = FanoutStorage::new(&primary, &secondary);
        let got = fanout
            .select(
                &[Matcher::new(crate::model::MatchOp::Regex, "__name__", ".+").unwrap()],
                &SelectHints::window(0, 100),
            )
            .unwrap();
        let names: Vec<&str> = got
            .iter()
            .map(|s| s.labels.get("__name__").unwrap_or(""))
            .collect();
        assert_eq!(names, vec!["a", "only_primary", "only_secondary"]);
        let a: Vec<(i64, f64)> = got[0].floats.iter().map(|p| (p.t, p.v)).collect();
        assert_eq!(a, vec![(0, 1.0), (10, 20.0), (20, 3.0), (30, 40.0)]);
    }

    #[test]
    fn merge_keeps_order_with_empty_sides() {
        let t = |x: &i64| *x;
        assert_eq!(merge_by_time(&[1, 3], &[], t), vec![1, 3]);
        assert_eq!(merge_by_time(&[], &[2], t), vec![2]);
        assert_eq!(
            merge_by_time(&[1, 2, 5], &[2, 3, 6], t),
            vec![1, 2, 3, 5, 6]
        );
    }
}
