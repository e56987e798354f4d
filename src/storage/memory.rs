//! The in-memory store: an inverted index from label pairs to series, and
//! per-series columns of samples.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::{Appender, SelectHints, SelectedSeries, StartTimestamps, Storage, StorageError};
use crate::model::{FPoint, FloatHistogram, HPoint, Labels, Matcher, Timestamp};

/// Series in memory, indexed by label pairs.
///
/// Samples may be appended in any order; each series is sorted lazily on the
/// first read after a write (a later sample at the same timestamp replaces
/// the earlier one).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    series: Vec<MemSeries>,
    by_labels: HashMap<Labels, usize>,
    /// (label name, label value) -> ids of series with that pair, ascending.
    postings: HashMap<(Arc<str>, Arc<str>), Vec<usize>>,
}

/// A handle to one series of a [`MemoryStorage`], from
/// [`MemoryStorage::series_ref`], for appending without looking the labels
/// up again. It is only meaningful for the store that issued it, until that
/// store is cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesRef(usize);

#[derive(Debug, Default)]
struct MemSeries {
    labels: Labels,
    floats: Vec<FPoint>,
    histograms: Vec<HPoint>,
    sorted: bool,
    /// Start timestamps by sample timestamp (floats and histograms alike).
    start_timestamps: HashMap<Timestamp, Timestamp>,
}

impl MemSeries {
    fn sort(&mut self) {
        if self.sorted {
            return;
        }
        // Stable sort, then keep the last sample written for each timestamp.
        self.floats.sort_by_key(|p| p.t);
        dedup_keep_last(&mut self.floats, |p| p.t);
        self.histograms.sort_by_key(|p| p.t);
        dedup_keep_last(&mut self.histograms, |p| p.t);
        self.sorted = true;
    }
}

fn dedup_keep_last<T>(v: &mut Vec<T>, key: impl Fn(&T) -> Timestamp) {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for p in v.drain(..) {
        match out.last_mut() {
            Some(last) if key(last) == key(&p) => *last = p,
            _ => out.push(p),
        }
    }
    *v = out;
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Total number of samples (floats and histograms).
    pub fn sample_count(&self) -> usize {
        self.series
            .iter()
            .map(|s| s.floats.len() + s.histograms.len())
            .sum()
    }

    /// The earliest and latest sample timestamps, if there are samples.
    pub fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        let mut range: Option<(Timestamp, Timestamp)> = None;
        let times = self.series.iter().flat_map(|s| {
            let floats = s.floats.iter().map(|p| p.t);
            let hists = s.histograms.iter().map(|p| p.t);
            floats.chain(hists)
        });
        for t in times {
            range = Some(match range {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        }
        range
    }

    /// Removes all series.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn series_id(&mut self, labels: &Labels) -> usize {
        if let Some(&id) = self.by_labels.get(labels) {
            return id;
        }
        let id = self.series.len();
        for l in labels.iter() {
            self.postings
                .entry((l.name.clone(), l.value.clone()))
                .or_default()
                .push(id);
        }
        self.by_labels.insert(labels.clone(), id);
        self.series.push(MemSeries {
            labels: labels.clone(),
            sorted: true,
            ..Default::default()
        });
        id
    }

    /// Adds a float sample.
    pub fn add(&mut self, labels: &Labels, t: Timestamp, v: f64) {
        let id = self.series_id(labels);
        self.add_to(SeriesRef(id), t, v);
    }

    /// The series with these labels, created (empty) if it does not exist.
    pub fn series_ref(&mut self, labels: &Labels) -> SeriesRef {
        SeriesRef(self.series_id(labels))
    }

    /// Adds a float sample to `series`, like [`MemoryStorage::add`] with its
    /// labels. Returns false (and adds nothing) if the store has no such
    /// series, e.g. because it was cleared since.
    pub fn add_to(&mut self, series: SeriesRef, t: Timestamp, v: f64) -> bool {
        let Some(s) = self.series.get_mut(series.0) else {
            return false;
        };
        if s.floats.last().is_some_and(|p| p.t >= t) {
            s.sorted = false;
        }
        s.floats.push(FPoint { t, v });
        true
    }

    /// Adds a native-histogram sample.
    pub fn add_histogram(&mut self, labels: &Labels, t: Timestamp, h: Arc<FloatHistogram>) {
        let id = self.series_id(labels);
        let s = &mut self.series[id];
        if s.histograms.last().is_some_and(|p| p.t >= t) {
            s.sorted = false;
        }
        s.histograms.push(HPoint { t, h });
    }

    /// Records the start (created) timestamp `st` of the sample of series
    /// `labels` at time `t`.
    pub fn set_start_timestamp(&mut self, labels: &Labels, t: Timestamp, st: Timestamp) {
        let id = self.series_id(labels);
        self.series[id].start_timestamps.insert(t, st);
    }

    /// Sorts every series that received out-of-order samples. Reads need a
    /// sorted store; [`Storage::select`] on an unsorted store sorts copies.
    pub fn commit(&mut self) {
        for s in &mut self.series {
            s.sort();
        }
    }

    /// Candidate series ids for `matchers`, using the postings of `=` matchers
    /// with non-empty values to narrow the scan.
    fn candidates(&self, matchers: &[Matcher]) -> Vec<usize> {
        let mut best: Option<&Vec<usize>> = None;
        for m in matchers {
            if m.op == crate::model::MatchOp::Equal && !m.value.is_empty() {
                let key = (
                    Arc::<str>::from(m.name.as_str()),
                    Arc::<str>::from(m.value.as_str()),
                );
                match self.postings.get(&key) {
                    None => return vec![],
                    Some(p) if best.is_none_or(|b| p.len() < b.len()) => best = Some(p),
                    _ => {}
                }
            }
        }
        match best {
            Some(p) => p.clone(),
            None => (0..self.series.len()).collect(),
        }
    }
}

impl Storage for MemoryStorage {
    fn start_timestamps(
        &self,
        labels: &Labels,
        hints: &SelectHints,
    ) -> Result<StartTimestamps, StorageError> {
        Ok(self.start_timestamps_of(labels, hints))
    }

    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        let mut out = Vec::new();
        for id in self.candidates(matchers) {
            let s = &self.series[id];
            if !matchers.iter().all(|m| m.matches_labels(&s.labels)) {
                continue;
            }
            let (floats, histograms): (Cow<'_, [FPoint]>, Cow<'_, [HPoint]>) = if s.sorted {
                (
                    Cow::Borrowed(window(&s.floats, hints, |p| p.t)),
                    Cow::Borrowed(window(&s.histograms, hints, |p| p.t)),
                )
            } else {
                let mut copy = MemSeries {
                    floats: s.floats.clone(),
                    histograms: s.histograms.clone(),
                    ..Default::default()
                };
                copy.sort();
                (
                    Cow::Owned(window(&copy.floats, hints, |p| p.t).to_vec()),
                    Cow::Owned(window(&copy.histograms, hints, |p| p.t).to_vec()),
                )
            };
            if floats.is_empty() && histograms.is_empty() {
                continue;
            }
            out.push(SelectedSeries {
                labels: s.labels.clone(),
                floats,
                histograms,
            });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

impl MemoryStorage {
    fn start_timestamps_of(&self, labels: &Labels, hints: &SelectHints) -> StartTimestamps {
        let Some(&id) = self.by_labels.get(labels) else {
            return StartTimestamps::default();
        };
        let s = &self.series[id];
        if s.start_timestamps.is_empty() {
            return StartTimestamps::default();
        }
        let st = |t: Timestamp| s.start_timestamps.get(&t).copied().unwrap_or(0);
        let mut copy;
        let (floats, histograms) = if s.sorted {
            (&s.floats, &s.histograms)
        } else {
            copy = MemSeries {
                floats: s.floats.clone(),
                histograms: s.histograms.clone(),
                ..Default::default()
            };
            copy.sort();
            (&copy.floats, &copy.histograms)
        };
        StartTimestamps {
            floats: window(floats, hints, |p| p.t)
                .iter()
                .map(|p| st(p.t))
                .collect(),
            histograms: window(histograms, hints, |p| p.t)
                .iter()
                .map(|p| st(p.t))
                .collect(),
        }
    }
}

/// The sub-slice of time-sorted `points` inside `hints.start..=hints.end`.
fn window<'a, T>(points: &'a [T], hints: &SelectHints, t: impl Fn(&T) -> Timestamp) -> &'a [T] {
    let lo = points.partition_point(|p| t(p) < hints.start);
    let hi = points.partition_point(|p| t(p) <= hints.end);
    &points[lo..hi.max(lo)]
}

impl Appender for MemoryStorage {
    fn append(&mut self, labels: &Labels, t: Timestamp, v: f64) -> Result<(), StorageError> {
        self.add(labels, t, v);
        Ok(())
    }

    fn append_histogram(
        &mut self,
        labels: &Labels,
        t: Timestamp,
        h: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        self.add_histogram(labels, t, h);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MatchOp;

    #[test]
    fn select_by_matchers_and_window_sorts_out_of_order_input() {
        let mut s = MemoryStorage::new();
        let a = Labels::from_pairs(&[("__name__", "x"), ("job", "a")]);
        let b = Labels::from_pairs(&[("__name__", "x"), ("job", "b")]);
        s.add(&a, 2000, 2.0);
        s.add(&a, 1000, 1.0);
        s.add(&a, 2000, 3.0);
        s.add(&b, 1000, 5.0);
        let got = s
            .select(
                &[Matcher::equal("__name__", "x")],
                &SelectHints::window(0, 5000),
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].floats.as_ref(),
            &[FPoint { t: 1000, v: 1.0 }, FPoint { t: 2000, v: 3.0 }]
        );
        s.commit();
        let m = Matcher::new(MatchOp::Regex, "job", "b|c").unwrap();
        let got = s.select(&[m], &SelectHints::window(1000, 1000)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels, b);
        assert!(
            s.select(
                &[Matcher::equal("job", "zzz")],
                &SelectHints::window(0, 5000)
            )
            .unwrap()
            .is_empty()
        );
    }
}
