//! The in-memory store: an inverted index from label pairs to series, and
//! per-series columns of samples, optionally compressed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::chunk::{decode_xor_into, decode_xor_until, encode_xor, sample_count};
use super::{
    Appender, SelectHints, SelectedSeries, SelectionSink, StartTimestamps, Storage, StorageError,
};
use crate::model::labels::TOUCH_BLOCK;
use crate::model::matcher::ValueSet;
use crate::model::{FPoint, FloatHistogram, HPoint, Labels, MatchOp, Matcher, Timestamp};

mod order;
mod postings;
mod usage;
mod window;

pub use usage::MemoryUsage;

use order::LabelOrder;
use postings::Postings;
use window::{partition_point_from_end, window, window_between};

/// The store's hash maps: keyed by label text that scrape targets control,
/// so seeded per map (resistant to chosen collisions), and much faster
/// than SipHash on short strings.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Samples per compressed chunk, as in Prometheus' TSDB.
const CHUNK_SAMPLES: usize = 120;

/// Series in memory, indexed by label pairs.
///
/// Samples may be appended in any order; each series is sorted lazily on the
/// first read after a write (a later sample at the same timestamp replaces
/// the earlier one).
///
/// With [`MemoryStorage::compressed`], float samples are kept in XOR chunks
/// of up to 120 samples (the Gorilla encoding of Prometheus' TSDB, about
/// 1-2 bytes per sample for typical scrapes instead of 16); reads decode the
/// chunks that overlap the asked window. The newest samples of each series
/// stay uncompressed until a chunk is full, or until
/// [`shrink_to_fit`](MemoryStorage::shrink_to_fit).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    series: Vec<MemSeries>,
    by_labels: FastMap<Labels, usize>,
    /// Label name -> value -> ids of the series with that pair.
    postings: Postings,
    /// Whether float samples are compressed into chunks.
    compress: bool,
    /// Rank of each series in label order, the order `select` returns.
    order: LabelOrder,
    /// Series before this id have their label sets packed together
    /// ([`MemoryStorage::pack_labels`]).
    packed: usize,
}

/// A handle to one series of a [`MemoryStorage`], from
/// [`MemoryStorage::series_ref`], for appending without looking the labels
/// up again. It is only meaningful for the store that issued it, until that
/// store is cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesRef(usize);

/// A compressed run of float samples.
#[derive(Debug)]
struct FloatChunk {
    min_t: Timestamp,
    max_t: Timestamp,
    /// An XOR chunk (see [`crate::storage::chunk::xor`]).
    data: Box<[u8]>,
}

impl FloatChunk {
    /// The number of samples the chunk holds.
    fn len(&self) -> usize {
        sample_count(&self.data).unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct MemSeries {
    labels: Labels,
    /// Compressed float samples, oldest first. When the series is sorted,
    /// they are ordered, do not overlap, and all precede `floats`.
    chunks: Vec<FloatChunk>,
    /// Float samples not (yet) compressed: all of them without compression.
    floats: Vec<FPoint>,
    /// The times of the first and last of `floats` (zero when there are
    /// none), kept here so that finding a window starts from the record
    /// rather than from two reads of the samples (see [`Self::note_floats`]).
    floats_ends: (Timestamp, Timestamp),
    /// Whether the times of `floats` are evenly spaced (each the first's
    /// plus its index times one step), so that a window's bounds follow
    /// from `floats_ends` without reading a sample (see
    /// [`window::evenly_spaced`]).
    floats_even: bool,
    sorted: bool,
    /// What few series have, kept out of line so that the record of a
    /// float series stays small (104 bytes instead of 168).
    extra: Option<Box<SeriesExtra>>,
}

/// The parts of a series that most series lack.
#[derive(Debug, Default)]
struct SeriesExtra {
    /// Native-histogram samples.
    histograms: Vec<HPoint>,
    /// Start timestamps by sample timestamp (floats and histograms alike).
    start_timestamps: HashMap<Timestamp, Timestamp>,
}

impl MemSeries {
    /// The native-histogram samples.
    fn histograms(&self) -> &[HPoint] {
        self.extra.as_ref().map_or(&[], |e| &e.histograms)
    }

    /// The start timestamps by sample timestamp, when any were recorded.
    fn start_timestamps(&self) -> Option<&HashMap<Timestamp, Timestamp>> {
        self.extra
            .as_ref()
            .map(|e| &e.start_timestamps)
            .filter(|m| !m.is_empty())
    }

    /// The out-of-line parts, created on first use.
    fn extra_mut(&mut self) -> &mut SeriesExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Sorts and de-duplicates samples written out of order; compressed
    /// samples are decoded and merged with the rest.
    fn sort(&mut self) {
        if self.sorted {
            return;
        }
        if !self.chunks.is_empty() {
            let mut all = Vec::with_capacity(self.chunks.len() * CHUNK_SAMPLES + self.floats.len());
            for c in self.chunks.drain(..) {
                // Chunks are written by this store; a failure would be a bug, and
                // the samples decoded before it are kept.
                let _ = decode_xor_into(&c.data, &mut all);
            }
            all.append(&mut self.floats);
            self.floats = all;
        }
        // Stable sort, then keep the last sample written for each timestamp.
        self.floats.sort_by_key(|p| p.t);
        dedup_keep_last(&mut self.floats, |p| p.t);
        self.note_floats();
        if let Some(extra) = &mut self.extra {
            extra.histograms.sort_by_key(|p| p.t);
            dedup_keep_last(&mut extra.histograms, |p| p.t);
        }
        self.sorted = true;
    }

    /// Compresses the uncompressed floats of a sorted series: every full
    /// chunk, and with `all` the remainder too.
    fn seal(&mut self, all: bool) {
        if !self.sorted {
            return;
        }
        let full = self.floats.len() / CHUNK_SAMPLES * CHUNK_SAMPLES;
        let upto = if all { self.floats.len() } else { full };
        if upto == 0 {
            return;
        }
        let mut sealed = 0;
        'runs: for run in self.floats[..upto].chunks(CHUNK_SAMPLES) {
            // Neighbours more than `i64::MAX` apart cannot share a chunk;
            // a sorted series has at most one such gap: cut the run there.
            let cut = run
                .windows(2)
                .position(|w| w[1].t.checked_sub(w[0].t).is_none())
                .map_or(run.len(), |i| i + 1);
            let (head, tail) = run.split_at(cut);
            for part in [head, tail] {
                let (Some(first), Some(last)) = (part.first(), part.last()) else {
                    continue;
                };
                // Sorted, de-duplicated parts always encode; should one not,
                // it and the rest stay uncompressed rather than be lost.
                let Ok(data) = encode_xor(part) else {
                    break 'runs;
                };
                self.chunks.push(FloatChunk {
                    min_t: first.t,
                    max_t: last.t,
                    data: data.into_boxed_slice(),
                });
                sealed += part.len();
            }
        }
        self.floats.drain(..sealed);
        self.note_floats();
    }

    /// Records the times of the first and last uncompressed float samples
    /// after `floats` changed other than by a push.
    fn note_floats(&mut self) {
        let time = |p: Option<&FPoint>| p.map_or(0, |p| p.t);
        self.floats_ends = (time(self.floats.first()), time(self.floats.last()));
        self.floats_even = window::is_evenly_spaced(self.floats.iter().map(|p| p.t));
    }

    /// The uncompressed float samples in `start..=end` (of a sorted series).
    fn head_in(&self, start: Timestamp, end: Timestamp) -> &[FPoint] {
        debug_assert_eq!(
            self.floats_ends,
            (
                self.floats.first().map_or(0, |p| p.t),
                self.floats.last().map_or(0, |p| p.t)
            ),
        );
        let even = self
            .floats_even
            .then(|| window::evenly_spaced(self.floats.len(), self.floats_ends, start, end))
            .flatten();
        if let Some(range) = even {
            debug_assert!(
                self.floats[range.clone()]
                    .iter()
                    .map(|p| p.t)
                    .eq(
                        window_between(&self.floats, self.floats_ends, start, end, |p| p.t)
                            .iter()
                            .map(|p| p.t)
                    )
            );
            return &self.floats[range];
        }
        window_between(&self.floats, self.floats_ends, start, end, |p| p.t)
    }

    /// The float samples in `start..=end`, borrowed when none are compressed.
    fn floats_in(&self, start: Timestamp, end: Timestamp) -> Cow<'_, [FPoint]> {
        let head = self.head_in(start, end);
        if self.chunks.is_empty() {
            return Cow::Borrowed(head);
        }
        let first = partition_point_from_end(&self.chunks, |c| c.max_t < start);
        let chunks = || self.chunks[first..].iter().take_while(|c| c.min_t <= end);
        // Sized once from the chunks' sample counts.
        let announced: usize = chunks().map(FloatChunk::len).sum();
        let mut out = Vec::with_capacity(announced + head.len());
        for c in chunks() {
            let from = out.len();
            // Decoding stops at the window's end; samples before its start
            // are decoded (a chunk is read from its first) and dropped.
            let _ = decode_xor_until(&c.data, end, &mut out);
            if c.min_t < start {
                let lo = out[from..].partition_point(|p| p.t < start);
                out.drain(from..from + lo);
            }
        }
        out.extend_from_slice(head);
        Cow::Owned(out)
    }

    /// A sorted copy of an unsorted series (floats, histograms).
    fn sorted_copy(&self) -> MemSeries {
        let histograms = self.histograms().to_vec();
        let mut copy = MemSeries {
            floats: self.floats_in(Timestamp::MIN, Timestamp::MAX).into_owned(),
            extra: (!histograms.is_empty()).then(|| {
                Box::new(SeriesExtra {
                    histograms,
                    ..Default::default()
                })
            }),
            ..Default::default()
        };
        copy.sort();
        copy
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

    /// An empty store that compresses float samples into XOR chunks.
    pub fn compressed() -> Self {
        MemoryStorage {
            compress: true,
            ..Self::default()
        }
    }

    /// Whether float samples are compressed.
    pub fn is_compressed(&self) -> bool {
        self.compress
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Total number of samples (floats and histograms).
    pub fn sample_count(&self) -> usize {
        self.series
            .iter()
            .map(|s| {
                let compressed: usize = s.chunks.iter().map(FloatChunk::len).sum();
                compressed + s.floats.len() + s.histograms().len()
            })
            .sum()
    }

    /// The earliest and latest sample timestamps, if there are samples.
    pub fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        let mut range: Option<(Timestamp, Timestamp)> = None;
        let times = self.series.iter().flat_map(|s| {
            let chunks = s.chunks.iter().flat_map(|c| [c.min_t, c.max_t]);
            let floats = s.floats.iter().map(|p| p.t);
            let hists = s.histograms().iter().map(|p| p.t);
            chunks.chain(floats).chain(hists)
        });
        for t in times {
            range = Some(match range {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        }
        range
    }

    /// Removes all series (the compression setting is kept).
    pub fn clear(&mut self) {
        *self = MemoryStorage {
            compress: self.compress,
            ..Self::default()
        };
    }

    fn series_id(&mut self, labels: &Labels) -> usize {
        if let Some(&id) = self.by_labels.get(labels) {
            return id;
        }
        let id = self.series.len();
        // Strings already stored are shared rather than kept once per
        // series: a label name is stored once, and so is each distinct
        // value of it. Besides the memory, this keeps the strings that most
        // series share (names, jobs) in few cache lines.
        let interned = labels
            .iter()
            .map(|l| self.postings.add(&l.name, &l.value, id))
            .collect();
        let labels = Labels::new(interned);
        self.by_labels.insert(labels.clone(), id);
        self.order.invalidate();
        self.series.push(MemSeries {
            labels,
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
        let compress = self.compress;
        let Some(s) = self.series.get_mut(series.0) else {
            return false;
        };
        let latest = if s.floats.is_empty() {
            s.chunks.last().map(|c| c.max_t)
        } else {
            Some(s.floats_ends.1)
        };
        if latest.is_some_and(|latest| latest >= t) {
            s.sorted = false;
        }
        if s.floats.is_empty() {
            s.floats_ends.0 = t;
        }
        // Still evenly spaced when the step from the last sample repeats the
        // one before it (out of order, `sort` decides again).
        s.floats_even = match s.floats.len() {
            0 | 1 => true,
            n => {
                let last_two = [s.floats[n - 2].t, s.floats_ends.1];
                s.floats_even && window::is_evenly_spaced(last_two.into_iter().chain([t]))
            }
        };
        s.floats.push(FPoint { t, v });
        s.floats_ends.1 = t;
        if compress && s.floats.len() >= CHUNK_SAMPLES {
            s.seal(false);
        }
        true
    }

    /// Adds a native-histogram sample.
    pub fn add_histogram(&mut self, labels: &Labels, t: Timestamp, h: Arc<FloatHistogram>) {
        let id = self.series_id(labels);
        let s = &mut self.series[id];
        if s.histograms().last().is_some_and(|p| p.t >= t) {
            s.sorted = false;
        }
        s.extra_mut().histograms.push(HPoint { t, h });
    }

    /// Records the start (created) timestamp `st` of the sample of series
    /// `labels` at time `t`.
    pub fn set_start_timestamp(&mut self, labels: &Labels, t: Timestamp, st: Timestamp) {
        let id = self.series_id(labels);
        self.series[id].extra_mut().start_timestamps.insert(t, st);
    }

    /// Sorts every series that received out-of-order samples. Reads need a
    /// sorted store; [`Storage::select`] on an unsorted store sorts copies.
    /// With compression, full chunks of the sorted samples are compressed.
    /// The label order of the series, which `select` returns them in, is
    /// computed here (or by the first select) when series were added, and
    /// the label sets of the series added since the last commit are laid out
    /// together, in shared allocations of about 128 labels (a query over
    /// many series then reads them from consecutive memory). The label
    /// values first seen since the last commit get strings of the store's
    /// own, laid out in the same order: until then the store shares the
    /// strings of the label sets it was given, afterwards a caller that
    /// kept those sets holds its strings apart from the store's.
    pub fn commit(&mut self) {
        let compress = self.compress;
        for s in &mut self.series {
            s.sort();
            if compress {
                s.seal(false);
            }
        }
        self.pack_labels();
        // Ready the label order now rather than in the first query; it
        // is only recomputed after new series were added.
        self.order.ranks(&self.series);
    }

    /// Lays the label sets of the series added since the last commit out
    /// together, in the order the series were added ([`Labels::pack`]),
    /// and with them the strings of the values first seen since then
    /// ([`Postings::settle`]): however a load interleaved them with the
    /// growth of sample buffers, a query over many series then reads their
    /// sets and strings from consecutive memory, and copies and releases of
    /// the sets count references in blocks of dozens of series.
    fn pack_labels(&mut self) {
        let MemoryStorage {
            series, postings, ..
        } = self;
        let new = series.get_mut(self.packed..).unwrap_or_default();
        if new.is_empty() {
            return;
        }
        Labels::pack(new.iter_mut().map(|s| &mut s.labels), |l| {
            postings.settle(l)
        });
        postings.mark_settled();
        // The index keys the same sets: replace its copies of the former
        // allocations with views of the blocks.
        for (id, s) in self.series.iter().enumerate().skip(self.packed) {
            self.by_labels.remove(&s.labels);
            self.by_labels.insert(s.labels.clone(), id);
        }
        self.packed = self.series.len();
    }

    /// Commits, compresses every float sample (with compression on), and
    /// releases spare capacity of every buffer and index: call it when a
    /// bulk load is done. Appending afterwards is fine but starts new
    /// chunks and buffers.
    pub fn shrink_to_fit(&mut self) {
        let compress = self.compress;
        for s in &mut self.series {
            s.sort();
            if compress {
                s.seal(true);
            }
            s.chunks.shrink_to_fit();
            s.floats.shrink_to_fit();
            if let Some(extra) = &mut s.extra {
                extra.histograms.shrink_to_fit();
                extra.start_timestamps.shrink_to_fit();
            }
        }
        self.pack_labels();
        self.order.ranks(&self.series);
        self.series.shrink_to_fit();
        self.by_labels.shrink_to_fit();
        self.postings.shrink_to_fit();
    }

    /// An account of the memory the store holds (see [`MemoryUsage`]).
    pub fn memory_usage(&self) -> MemoryUsage {
        usage::measure(self)
    }

    /// Candidate series ids for `matchers`, using the postings of `=` matchers
    /// with non-empty values, and of `=~` matchers whose pattern lists its
    /// values (`a|b|c`, without the empty string), to narrow the scan: the
    /// ids of the most selective one with its index in `matchers` (every
    /// candidate satisfies that matcher), or `None` when no matcher narrows
    /// the scan.
    fn candidates(&self, matchers: &[Matcher]) -> Option<(Cow<'_, [usize]>, usize)> {
        let mut best: Option<(&[usize], usize)> = None;
        for (i, m) in matchers.iter().enumerate() {
            if m.op == MatchOp::Equal && !m.value.is_empty() {
                match self.postings.ids(&m.name, &m.value) {
                    None => return Some((Cow::Borrowed(&[]), i)),
                    Some(p) if best.is_none_or(|(b, _)| p.len() < b.len()) => {
                        best = Some((p, i));
                    }
                    _ => {}
                }
            }
        }
        // The listed values' series, when fewer than the best `=` gives.
        let mut fewest = best.map_or(usize::MAX, |(b, _)| b.len());
        let mut union: Option<(Vec<&[usize]>, usize)> = None;
        for (i, m) in matchers.iter().enumerate() {
            let Some(ValueSet::Exactly(listed)) = m.regex_values() else {
                continue;
            };
            if m.matches("") {
                continue;
            }
            let Some((_, values)) = self.postings.get(&m.name) else {
                return Some((Cow::Borrowed(&[]), i));
            };
            let lists: Vec<&[usize]> = values.ids_of(listed).collect();
            let count = lists.iter().map(|l| l.len()).sum();
            if count < fewest {
                fewest = count;
                union = Some((lists, i));
            }
        }
        if let Some((lists, i)) = union {
            let mut ids = lists.concat();
            ids.sort_unstable();
            return Some((Cow::Owned(ids), i));
        }
        best.map(|(ids, i)| (Cow::Borrowed(ids), i))
    }

    /// The ids in `ids` (ascending) whose series a `=~` matcher selects,
    /// found through the label's distinct values (each tested once, however
    /// many series share it; a pattern that lists its values looks each up
    /// instead), or `None` when that is not cheaper than testing the series
    /// of `ids` one by one. Only for regexes that do not match the empty
    /// string: those select only series that have the label.
    fn narrow_by_regex(&self, m: &Matcher, ids: &[usize]) -> Option<Vec<usize>> {
        let set = m.regex_values()?;
        if m.matches("") {
            return None;
        }
        let Some((_, values)) = self.postings.get(&m.name) else {
            return Some(Vec::new());
        };
        let lookups = match set {
            ValueSet::Exactly(listed) => listed.len(),
            ValueSet::Affixes { .. } => values.len(),
        };
        if lookups > ids.len() {
            return None;
        }
        // The selected series as a bit set: no sorting of the matching
        // values' id lists, one pass over `ids` to keep them.
        let mut selected = vec![0u64; self.series.len().div_ceil(64)];
        let select = |series: &[usize]| {
            for &id in series {
                if let Some(word) = selected.get_mut(id / 64) {
                    *word |= 1 << (id % 64);
                }
            }
        };
        match set {
            ValueSet::Exactly(listed) => values.ids_of(listed).for_each(select),
            ValueSet::Affixes { prefix, suffix } => values
                .ids_where(prefix, suffix, |v| m.matches(v))
                .for_each(select),
        }
        let is_selected = |id: usize| {
            selected
                .get(id / 64)
                .is_some_and(|word| word & (1 << (id % 64)) != 0)
        };
        Some(ids.iter().copied().filter(|&id| is_selected(id)).collect())
    }

    /// The series matching `matchers`, in id order (the order the series
    /// records lie in memory), and how many there are when every matcher
    /// was settled by the index (else 0: the count is not known).
    fn matching<'s, 'm>(
        &'s self,
        matchers: &'m [Matcher],
    ) -> (
        usize,
        impl Iterator<Item = (usize, &'s MemSeries)> + use<'s, 'm>,
    ) {
        let mut satisfied = vec![false; matchers.len()];
        let mut ids: Cow<'s, [usize]> = match self.candidates(matchers) {
            Some((ids, i)) => {
                satisfied[i] = true;
                ids
            }
            None => Cow::Owned((0..self.series.len()).collect()),
        };
        // Further `=` and `!=` matchers (with a value: `=""` and `!=""` are
        // about the label's absence) narrow the candidates through their
        // value's series list, without reading any series' labels.
        for (i, m) in matchers.iter().enumerate() {
            if satisfied[i] || m.value.is_empty() {
                continue;
            }
            let listed = || self.postings.ids(&m.name, &m.value).unwrap_or(&[]);
            ids = Cow::Owned(match m.op {
                MatchOp::Equal => postings::intersect_ascending(&ids, listed()),
                MatchOp::NotEqual => postings::subtract_ascending(&ids, listed()),
                _ => continue,
            });
            satisfied[i] = true;
        }
        // Regex matchers over labels with fewer values than candidates
        // narrow the candidates through the values instead of per series.
        for (i, m) in matchers.iter().enumerate() {
            if satisfied[i] {
                continue;
            }
            if let Some(kept) = self.narrow_by_regex(m, &ids) {
                ids = Cow::Owned(kept);
                satisfied[i] = true;
            }
        }
        let known = if satisfied.iter().all(|&done| done) {
            ids.len()
        } else {
            0
        };
        let series = (0..ids.len()).filter_map(move |k| {
            let id = ids[k];
            let s = self.series.get(id)?;
            let matches = matchers
                .iter()
                .zip(&satisfied)
                .all(|(m, &done)| done || m.matches_labels(&s.labels));
            matches.then_some((id, s))
        });
        (known, series)
    }
}

/// The ids of `keys` (`(rank, id)` pairs, ranks unique and below
/// `rank_count`) by ascending rank. A selection of a good part of all
/// series is placed by rank in one pass; a small one is sorted.
fn ids_by_rank(mut keys: Vec<(usize, usize)>, rank_count: usize) -> Vec<usize> {
    if !keys.is_sorted() {
        let dense = keys.len().saturating_mul(8) >= rank_count;
        if dense && keys.iter().all(|&(rank, _)| rank < rank_count) {
            let mut by_rank = vec![usize::MAX; rank_count];
            for &(rank, id) in &keys {
                by_rank[rank] = id;
            }
            by_rank.retain(|&id| id != usize::MAX);
            return by_rank;
        }
        sort_by_rank(&mut keys);
    }
    keys.into_iter().map(|(_, id)| id).collect()
}

/// Sorts `keys` by their unique ranks: a byte-wise radix sort (a pass
/// per byte the largest rank needs, each moving every key once) where
/// there are enough keys to pay for its counting tables, else a
/// comparison sort.
fn sort_by_rank(keys: &mut Vec<(usize, usize)>) {
    const RADIX_FROM: usize = 64;
    if keys.len() < RADIX_FROM {
        keys.sort_unstable();
        return;
    }
    let max = keys.iter().map(|&(rank, _)| rank).max().unwrap_or(0);
    let mut spare = vec![(0, 0); keys.len()];
    let mut shift = 0;
    while shift < usize::BITS && max >> shift != 0 {
        let digit = |rank: usize| (rank >> shift) & 0xff;
        let mut starts = [0usize; 257];
        for &(rank, _) in keys.iter() {
            starts[digit(rank) + 1] += 1;
        }
        for d in 0..256 {
            starts[d + 1] += starts[d];
        }
        for &key in keys.iter() {
            let slot = &mut starts[digit(key.0)];
            spare[*slot] = key;
            *slot += 1;
        }
        std::mem::swap(keys, &mut spare);
        shift += 8;
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
        self.select_into(matchers, hints, &mut out);
        Ok(out)
    }

    fn select_each<'a>(
        &'a self,
        matchers: &[Matcher],
        hints: &SelectHints,
        sink: &mut dyn SelectionSink<'a>,
    ) -> Result<(), StorageError> {
        self.select_into(matchers, hints, sink);
        Ok(())
    }
}

impl MemoryStorage {
    /// The selection of [`Storage::select`], handed to `sink` series by
    /// series.
    fn select_into<'a>(
        &'a self,
        matchers: &[Matcher],
        hints: &SelectHints,
        sink: &mut (impl SelectionSink<'a> + ?Sized),
    ) {
        let ranks = self.order.ranks(&self.series);
        // The matching series in label order first (a rank per series, so
        // no label sets are compared), then each one's samples: every
        // selected series is handed on once, in its final order.
        let (known, matching) = self.matching(matchers);
        let mut keys = Vec::with_capacity(known);
        keys.extend(matching.map(|(id, _)| (ranks.get(id).copied().unwrap_or(usize::MAX), id)));
        let ids = ids_by_rank(keys, ranks.len());
        sink.expect(ids.len());
        let (start, end) = (hints.start, hints.end);
        for block in ids.chunks(TOUCH_BLOCK) {
            // The block's series records and the counts its label sets'
            // copies increment are read first: loads from different series
            // that the processor overlaps, where an increment (an atomic
            // operation) waits for its cache miss before anything after it.
            let looked = block
                .iter()
                .filter_map(|&id| self.series.get(id))
                .fold(0, |acc, s| acc ^ s.labels.touch_count() ^ s.floats.len());
            std::hint::black_box(looked);
            for s in block.iter().filter_map(|&id| self.series.get(id)) {
                let series = if s.sorted && s.chunks.is_empty() && s.extra.is_none() {
                    // Most series: floats only, none compressed.
                    let floats = s.head_in(start, end);
                    if floats.is_empty() {
                        continue;
                    }
                    SelectedSeries {
                        labels: s.labels.clone(),
                        floats: Cow::Borrowed(floats),
                        histograms: Cow::Borrowed(&[]),
                    }
                } else {
                    let (floats, histograms): (Cow<'_, [FPoint]>, Cow<'_, [HPoint]>) = if s.sorted {
                        (
                            s.floats_in(start, end),
                            Cow::Borrowed(window(s.histograms(), start, end, |p| p.t)),
                        )
                    } else {
                        let copy = s.sorted_copy();
                        (
                            Cow::Owned(window(&copy.floats, start, end, |p| p.t).to_vec()),
                            Cow::Owned(window(copy.histograms(), start, end, |p| p.t).to_vec()),
                        )
                    };
                    if floats.is_empty() && histograms.is_empty() {
                        continue;
                    }
                    SelectedSeries {
                        labels: s.labels.clone(),
                        floats,
                        histograms,
                    }
                };
                if sink.take(series).is_break() {
                    return;
                }
            }
        }
    }

    fn start_timestamps_of(&self, labels: &Labels, hints: &SelectHints) -> StartTimestamps {
        let Some(&id) = self.by_labels.get(labels) else {
            return StartTimestamps::default();
        };
        let s = &self.series[id];
        let Some(starts) = s.start_timestamps() else {
            return StartTimestamps::default();
        };
        let st = |t: Timestamp| starts.get(&t).copied().unwrap_or(0);
        let (start, end) = (hints.start, hints.end);
        let copy;
        let (floats, histograms) = if s.sorted {
            (s.floats_in(start, end), s.histograms())
        } else {
            copy = s.sorted_copy();
            (
                Cow::Borrowed(window(&copy.floats, start, end, |p| p.t)),
                copy.histograms(),
            )
        };
        StartTimestamps {
            floats: floats.iter().map(|p| st(p.t)).collect(),
            histograms: window(histograms, start, end, |p| p.t)
                .iter()
                .map(|p| st(p.t))
                .collect(),
        }
    }
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

    /// Counts what it is told and keeps the first `keep` series.
    struct FirstFew<'a> {
        keep: usize,
        expected: Option<usize>,
        taken: Vec<SelectedSeries<'a>>,
    }

    impl<'a> SelectionSink<'a> for FirstFew<'a> {
        fn expect(&mut self, upper: usize) {
            self.expected = Some(upper);
        }

        fn take(&mut self, series: SelectedSeries<'a>) -> std::ops::ControlFlow<()> {
            self.taken.push(series);
            if self.taken.len() < self.keep {
                std::ops::ControlFlow::Continue(())
            } else {
                std::ops::ControlFlow::Break(())
            }
        }
    }

    #[test]
    fn select_each_hands_out_the_selection_in_order_until_told_to_stop() {
        let mut s = MemoryStorage::new();
        for (i, job) in ["d", "a", "c", "b"].into_iter().enumerate() {
            let l = Labels::from_pairs(&[("__name__", "x"), ("job", job)]);
            s.add(&l, 1000, i as f64);
            s.add(&l, 2000, 10.0 + i as f64);
        }
        // One series with a sample out of order and a histogram too.
        let d = Labels::from_pairs(&[("__name__", "x"), ("job", "d")]);
        s.add(&d, 1500, 7.0);
        s.add_histogram(&d, 1700, Arc::new(FloatHistogram::default()));
        s.commit();
        let matchers = [Matcher::equal("__name__", "x")];
        let hints = SelectHints::window(1000, 1800);
        let all = s.select(&matchers, &hints).unwrap();
        assert_eq!(all.len(), 4);
        let whole = |keep| {
            let mut sink = FirstFew {
                keep,
                expected: None,
                taken: Vec::new(),
            };
            s.select_each(&matchers, &hints, &mut sink).unwrap();
            sink
        };
        let every = whole(usize::MAX);
        assert_eq!(every.expected, Some(4));
        assert_eq!(every.taken, all);
        let two = whole(2);
        assert_eq!(two.taken, all[..2]);
        // A `Vec` is a sink that collects.
        let mut collected = Vec::new();
        s.select_each(&matchers, &hints, &mut collected).unwrap();
        assert_eq!(collected, all);
    }

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

    fn select_all(s: &MemoryStorage, start: i64, end: i64) -> Selection {
        selection(s, &[Matcher::equal("__name__", "x")], start, end)
    }

    #[test]
    fn compressed_store_seals_full_chunks_and_decodes_windows() {
        let mut plain = MemoryStorage::new();
        let mut packed = MemoryStorage::compressed();
        let l = Labels::from_pairs(&[("__name__", "x")]);
        for i in 0..1000 {
            let v = if i % 97 == 0 {
                crate::model::stale_nan()
            } else {
                (i / 3) as f64
            };
            plain.add(&l, i * 15_000, v);
            packed.add(&l, i * 15_000, v);
        }
        assert_eq!(packed.series[0].chunks.len(), 8);
        assert_eq!(packed.series[0].floats.len(), 40);
        for (a, b) in [
            (0, i64::MAX),
            (-5, 14_999),
            (1_799_999, 1_800_000),
            (3_000_000, 9_000_000),
        ] {
            assert_eq!(
                select_all(&plain, a, b),
                select_all(&packed, a, b),
                "{a}..{b}"
            );
        }
        packed.shrink_to_fit();
        assert!(packed.series[0].floats.is_empty());
        assert_eq!(packed.sample_count(), 1000);
        assert_eq!(packed.time_range(), plain.time_range());
        assert_eq!(
            select_all(&plain, 0, i64::MAX),
            select_all(&packed, 0, i64::MAX)
        );
        packed.clear();
        assert!(packed.is_compressed());
    }

    proptest::proptest! {
        #[test]
        fn compressed_store_answers_like_the_plain_one(
            writes in proptest::collection::vec((0usize..3, 0i64..2_000, -3i32..4), 0..700),
            windows in proptest::collection::vec((-10i64..2_100, 0i64..2_100), 1..6),
            commit_every in 1usize..400,
        ) {
            let mut plain = MemoryStorage::new();
            let mut packed = MemoryStorage::compressed();
            for (n, &(series, t, v)) in writes.iter().enumerate() {
                let l = Labels::from_pairs(&[("__name__", "x"), ("s", &series.to_string())]);
                let v = if v == -3 { f64::NAN } else { f64::from(v) };
                plain.add(&l, t * 10, v);
                packed.add(&l, t * 10, v);
                if n % commit_every == 0 {
                    packed.commit();
                }
                if n % (commit_every * 3 + 1) == 0 {
                    packed.shrink_to_fit();
                }
            }
            for &(start, len) in &windows {
                let (a, b) = (start * 10, (start + len) * 10);
                proptest::prop_assert_eq!(select_all(&plain, a, b), select_all(&packed, a, b));
            }
            plain.commit();
            packed.commit();
            proptest::prop_assert_eq!(plain.sample_count(), packed.sample_count());
            for &(start, len) in &windows {
                let (a, b) = (start * 10, (start + len) * 10);
                proptest::prop_assert_eq!(select_all(&plain, a, b), select_all(&packed, a, b));
            }
        }
    }

    /// One step of a random store history: an append (series index, time,
    /// value; most go to series 0, so that it fills compressed chunks), a
    /// commit, or a query (matcher set index, window start, length).
    #[derive(Clone, Debug)]
    enum Step {
        Append(usize, i64, i32),
        Commit,
        Query(usize, i64, i64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (0usize..40, 0i64..300, -2i32..5)
                .prop_map(|(s, t, v)| Step::Append(if s < 12 { s } else { 0 }, t, v)),
            1 => Just(Step::Commit),
            2 => (0usize..21, -10i64..310, 0i64..320).prop_map(|(m, a, l)| Step::Query(m, a, l)),
        ]
    }

    /// Label sets that do not sort in the order they are created in.
    fn history_labels(i: usize) -> Labels {
        let name = if i % 3 == 0 { "y" } else { "x" };
        let inst = format!("i-{}", 11 - i);
        match i % 4 {
            0 => Labels::from_pairs(&[("__name__", name), ("inst", &inst)]),
            1 => Labels::from_pairs(&[("__name__", name), ("inst", &inst), ("job", "a")]),
            _ => Labels::from_pairs(&[
                ("__name__", name),
                ("job", if i % 2 == 0 { "b" } else { "a" }),
                ("z", &inst),
            ]),
        }
    }

    fn history_matchers(i: usize) -> Vec<Matcher> {
        let re = |n: &str, v: &str| Matcher::new(MatchOp::Regex, n, v).unwrap();
        let ne = |n: &str, v: &str| Matcher::new(MatchOp::NotEqual, n, v).unwrap();
        match i {
            0 => vec![Matcher::equal("__name__", "x")],
            1 => vec![Matcher::equal("__name__", "x"), Matcher::equal("job", "a")],
            2 => vec![re("inst", "i-1.*")],
            3 => vec![Matcher::equal("job", ""), re("__name__", ".+")],
            4 => vec![ne("job", "a"), Matcher::equal("__name__", "y")],
            5 => vec![Matcher::equal("job", "b"), Matcher::equal("__name__", "x")],
            // Regexes answered through the values of a label: with and
            // without an equality matcher, on a label some series lack,
            // matching the empty string (then series without the label
            // match too), and on a label no series has.
            6 => vec![Matcher::equal("__name__", "x"), re("inst", "i-(1|3|5).*")],
            7 => vec![re("z", "i-[0-9]"), re("job", "a|b")],
            8 => vec![Matcher::equal("__name__", "y"), re("z", "i-1.*|")],
            9 => vec![re("__name__", "x|y"), re("nothere", "a.*")],
            10 => vec![re("job", "b"), ne("inst", "i-9")],
            // Regexes that list their values are looked up value by value:
            // alone, next to an equality matcher with more series, with
            // values no series has, listing the empty string (then series
            // without the label match too), and on a label no series has.
            11 => vec![re("inst", "i-3|i-7|i-99")],
            12 => vec![Matcher::equal("__name__", "x"), re("z", "i-2|i-5|i-10")],
            13 => vec![re("inst", "i-11|"), Matcher::equal("__name__", "y")],
            14 => vec![re("nothere", "a|b"), Matcher::equal("__name__", "x")],
            15 => vec![re("job", "a"), re("inst", "i-1|i-4|i-8|i-9|i-10|i-11")],
            // Values tested for a suffix first, and for both affixes.
            16 => vec![re("inst", ".*1"), ne("job", "b")],
            17 => vec![re("z", "i-.*0"), Matcher::equal("__name__", "x")],
            // Equality matchers after the first narrow through their
            // series lists: three of them, and two next to a regex.
            18 => vec![
                Matcher::equal("job", "a"),
                Matcher::equal("__name__", "y"),
                Matcher::equal("inst", "i-2"),
            ],
            19 => vec![
                re("inst", "i-1.*"),
                Matcher::equal("__name__", "x"),
                Matcher::equal("job", "a"),
            ],
            _ => vec![Matcher::equal("job", "zzz")],
        }
    }

    type Selection = Vec<(Labels, Vec<(i64, u64)>)>;

    fn selection(s: &MemoryStorage, matchers: &[Matcher], start: i64, end: i64) -> Selection {
        s.select(matchers, &SelectHints::window(start, end))
            .unwrap()
            .into_iter()
            .map(|sel| {
                let pts = sel.floats.iter().map(|p| (p.t, p.v.to_bits())).collect();
                (sel.labels, pts)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn select_equals_a_naive_filter_and_sort(
            steps in proptest::collection::vec(step(), 0..700),
            compressed in proptest::bool::ANY,
        ) {
            use std::collections::BTreeMap;
            let mut store = if compressed { MemoryStorage::compressed() } else { MemoryStorage::new() };
            // The model: labels -> time -> value, the last write winning.
            let mut model: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
            for step in steps {
                match step {
                    Step::Append(i, t, v) => {
                        let l = history_labels(i);
                        let v = if v == -2 { crate::model::stale_nan() } else { f64::from(v) };
                        store.add(&l, t * 10, v);
                        model.entry(l).or_default().insert(t * 10, v);
                    }
                    Step::Commit => store.commit(),
                    Step::Query(m, a, len) => {
                        let matchers = history_matchers(m);
                        let (start, end) = (a * 10, (a + len) * 10);
                        let want: Selection = model
                            .iter()
                            .filter(|(l, _)| matchers.iter().all(|m| m.matches_labels(l)))
                            .map(|(l, pts)| {
                                let pts = pts
                                    .range(start..=end)
                                    .map(|(&t, v)| (t, v.to_bits()))
                                    .collect::<Vec<_>>();
                                (l.clone(), pts)
                            })
                            .filter(|(_, pts)| !pts.is_empty())
                            .collect();
                        proptest::prop_assert_eq!(selection(&store, &matchers, start, end), want);
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn ids_by_rank_sorts_dense_or_sparse(
            ranks in proptest::sample::subsequence((0..3_000usize).collect::<Vec<_>>(), 0..300),
            rank_count in 3_000usize..40_000,
            seed in proptest::num::u64::ANY,
        ) {
            // The ranks in a scrambled order, each id the rank plus one
            // million (ids and ranks differ).
            let mut scrambled: Vec<usize> = ranks.clone();
            let n = scrambled.len().max(1);
            scrambled.rotate_left((seed as usize) % n);
            if seed % 2 == 0 {
                scrambled.reverse();
            }
            let keys: Vec<(usize, usize)> = scrambled.iter().map(|&r| (r, r + 1_000_000)).collect();
            let want: Vec<usize> = ranks.iter().map(|&r| r + 1_000_000).collect();
            proptest::prop_assert_eq!(ids_by_rank(keys, rank_count), want);
        }

        /// The radix sort orders as a comparison sort does, over ranks
        /// that need one byte or all eight.
        #[test]
        fn sorting_by_rank_equals_a_comparison_sort(
            ranks in proptest::collection::hash_set(
                proptest::prop_oneof![0usize..300, proptest::num::usize::ANY],
                0..400,
            ),
        ) {
            let mut keys: Vec<(usize, usize)> = ranks.into_iter().zip(0..).collect();
            let mut want = keys.clone();
            want.sort_unstable();
            sort_by_rank(&mut keys);
            proptest::prop_assert_eq!(keys, want);
        }
    }

    #[test]
    fn compressed_store_keeps_samples_more_than_i64_max_apart() {
        // Found by the audit: a run of 120 samples holding both i64::MIN and
        // i64::MAX could not be encoded and was dropped when sealed.
        let l = Labels::from_pairs(&[("__name__", "x")]);
        // i64::MIN and 0 are 2^63 apart, one more than a delta can hold.
        let mut times = vec![i64::MIN];
        times.extend(0..118);
        times.push(i64::MAX);
        for (store_all, extra) in [(false, 0), (true, 0), (true, 5)] {
            let mut plain = MemoryStorage::new();
            let mut packed = MemoryStorage::compressed();
            for (i, &t) in times
                .iter()
                .chain(&[i64::MAX - 10][..extra.min(1)])
                .enumerate()
            {
                let v = f64::from_bits(0x7ff8_0000_dead_0000 | i as u64);
                plain.add(&l, t, v);
                packed.add(&l, t, v);
            }
            if store_all {
                packed.shrink_to_fit();
            }
            plain.commit();
            packed.commit();
            assert_eq!(packed.sample_count(), plain.sample_count());
            for (a, b) in [(i64::MIN, i64::MAX), (i64::MIN, 0), (1, i64::MAX), (-3, 3)] {
                assert_eq!(
                    select_all(&plain, a, b),
                    select_all(&packed, a, b),
                    "{a}..{b}"
                );
            }
            assert_eq!(packed.time_range(), plain.time_range());
        }
    }

    /// Timestamps crowded at the ends of `i64` and around zero.
    fn extreme_time() -> impl proptest::strategy::Strategy<Value = i64> {
        use proptest::prelude::*;
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64),
            i64::MIN..i64::MIN + 2_000,
            i64::MAX - 2_000..=i64::MAX,
            -2_000i64..2_000,
            any::<i64>(),
        ]
    }

    proptest::proptest! {
        #[test]
        fn compressed_store_answers_like_the_plain_one_at_extreme_times(
            writes in proptest::collection::vec(
                (0usize..2, extreme_time(), proptest::prelude::any::<u64>()), 0..500),
            windows in proptest::collection::vec((extreme_time(), extreme_time()), 1..5),
            commit_every in 1usize..300,
        ) {
            let mut plain = MemoryStorage::new();
            let mut packed = MemoryStorage::compressed();
            for (n, &(series, t, bits)) in writes.iter().enumerate() {
                let l = Labels::from_pairs(&[("__name__", "x"), ("s", &series.to_string())]);
                // Any bit pattern: NaN payloads, stale markers, infinities.
                let v = f64::from_bits(bits);
                plain.add(&l, t, v);
                packed.add(&l, t, v);
                if n % commit_every == 0 {
                    packed.commit();
                }
                if n % (commit_every * 2 + 1) == 0 {
                    packed.shrink_to_fit();
                }
            }
            let all = (i64::MIN, i64::MAX);
            for &(a, b) in windows.iter().chain([&all]) {
                let (a, b) = (a.min(b), a.max(b));
                proptest::prop_assert_eq!(select_all(&plain, a, b), select_all(&packed, a, b));
            }
            plain.commit();
            packed.shrink_to_fit();
            proptest::prop_assert_eq!(plain.sample_count(), packed.sample_count());
            proptest::prop_assert_eq!(plain.time_range(), packed.time_range());
            proptest::prop_assert_eq!(select_all(&plain, all.0, all.1), select_all(&packed, all.0, all.1));
        }
    }

    #[test]
    fn a_commit_lays_the_new_series_label_sets_out_in_shared_blocks() {
        let mut s = MemoryStorage::new();
        let set = |i: usize| Labels::from_pairs(&[("__name__", "x"), ("i", &i.to_string())]);
        for i in 0..100 {
            s.add(&set(i), 0, 1.0);
        }
        let scattered = s.memory_usage().series_bytes;
        s.commit();
        let block = |l: &Labels| l.allocation().0;
        let blocks: std::collections::HashSet<usize> =
            s.series.iter().map(|x| block(&x.labels)).collect();
        // 200 labels: a block of 128 and one of 72.
        assert_eq!(blocks.len(), 2);
        for (labels, &id) in &s.by_labels {
            assert_eq!(block(labels), block(&s.series[id].labels));
            assert_eq!(labels, &set(id));
        }
        // Fewer allocations; the series are found by their labels as before.
        assert!(s.memory_usage().series_bytes < scattered);
        s.add(&set(5), 1, 2.0);
        s.add(&set(100), 1, 2.0);
        assert_eq!(s.series_count(), 101);
        s.commit();
        assert_eq!(
            s.series
                .iter()
                .map(|x| block(&x.labels))
                .collect::<std::collections::HashSet<_>>()
                .len(),
            3
        );
        let got = s
            .select(&[Matcher::equal("i", "5")], &SelectHints::window(-10, 10))
            .unwrap();
        assert_eq!((&got[0].labels, got[0].floats.len()), (&set(5), 2));
    }

    #[test]
    fn a_series_is_known_to_be_evenly_spaced_while_it_is() {
        let mut s = MemoryStorage::new();
        let a = Labels::from_pairs(&[("__name__", "a")]);
        let b = Labels::from_pairs(&[("__name__", "b")]);
        for t in [0, 10, 20, 30] {
            s.add(&a, t, t as f64);
        }
        // Out of order, then sorted at the commit: evenly spaced again.
        for t in [0, 10, 30, 20] {
            s.add(&b, t, t as f64);
        }
        assert!(s.series[0].floats_even);
        s.commit();
        assert!(s.series[1].floats_even);
        s.add(&a, 45, 45.0);
        assert!(!s.series[0].floats_even);
        s.add(&b, 40, 40.0);
        assert!(s.series[1].floats_even);
        let times = |s: &MemoryStorage, name: &str, start: i64, end: i64| -> Vec<i64> {
            let got = s
                .select(
                    &[Matcher::equal("__name__", name)],
                    &SelectHints::window(start, end),
                )
                .unwrap();
            got.iter()
                .flat_map(|x| x.floats.iter().map(|p| p.t))
                .collect()
        };
        for (start, end) in [(-5, 100), (5, 25), (10, 20), (11, 19), (31, 44), (41, 100)] {
            let want = |all: &[i64]| -> Vec<i64> {
                all.iter()
                    .copied()
                    .filter(|t| (start..=end).contains(t))
                    .collect()
            };
            assert_eq!(times(&s, "a", start, end), want(&[0, 10, 20, 30, 45]));
            assert_eq!(times(&s, "b", start, end), want(&[0, 10, 20, 30, 40]));
        }
    }

    #[test]
    fn a_commit_gives_the_values_first_seen_since_the_last_strings_of_the_stores_own() {
        let mut s = MemoryStorage::new();
        let set = |i: usize| Labels::from_pairs(&[("__name__", "x"), ("i", &i.to_string())]);
        let given: Vec<Labels> = (0..10).map(set).collect();
        for labels in &given {
            s.add(labels, 0, 1.0);
        }
        let value = |labels: &Labels, name: &str| Arc::clone(&labels.label(name).unwrap().value);
        // Until the commit the store shares the strings it was given.
        assert!(Arc::ptr_eq(
            &value(&s.series[3].labels, "i"),
            &value(&given[3], "i")
        ));
        s.commit();
        let index_value = |s: &MemoryStorage, name: &str, v: &str| {
            let (_, values) = s.postings.get(name).unwrap();
            let at = values.values().iter().position(|x| &**x == v).unwrap();
            Arc::clone(&values.values()[at])
        };
        for (id, labels) in given.iter().enumerate() {
            let stored = value(&s.series[id].labels, "i");
            assert_eq!(&*stored, &*value(labels, "i"));
            assert!(!Arc::ptr_eq(&stored, &value(labels, "i")));
            // The series and the index hold the same new string.
            assert!(Arc::ptr_eq(&stored, &index_value(&s, "i", &id.to_string())));
            assert_eq!(s.series_id(labels), id);
        }
        // A later commit leaves the strings of values seen before alone and
        // gives the new ones theirs.
        let x = value(&s.series[0].labels, "__name__");
        let five = value(&s.series[5].labels, "i");
        let later = set(10);
        s.add(&set(5), 1, 2.0);
        s.add(&later, 1, 2.0);
        s.commit();
        assert!(Arc::ptr_eq(&value(&s.series[10].labels, "__name__"), &x));
        assert!(Arc::ptr_eq(&value(&s.series[5].labels, "i"), &five));
        assert!(!Arc::ptr_eq(
            &value(&s.series[10].labels, "i"),
            &value(&later, "i")
        ));
        let got = s
            .select(&[Matcher::equal("i", "10")], &SelectHints::window(-10, 10))
            .unwrap();
        assert_eq!((&got[0].labels, got[0].floats.len()), (&later, 1));
    }

    #[test]
    fn memory_usage_counts_capacity_and_shared_strings_once() {
        let mut s = MemoryStorage::new();
        assert_eq!(s.memory_usage().total(), 0);
        let a = Labels::from_pairs(&[("__name__", "x"), ("job", "a")]);
        for t in 0..100 {
            s.add(&a, t, 1.0);
        }
        let before = s.memory_usage();
        assert_eq!(before.float_samples, 100);
        assert!(before.float_bytes >= 100 * 16);
        s.shrink_to_fit();
        let after = s.memory_usage();
        assert_eq!(after.float_bytes, 100 * 16);
        assert!(after.total() < before.total());
        // A second series sharing the strings `__name__`, `x` and `job` adds
        // its record, its label set and the one new string `b`.
        let [name, job] = a.as_slice() else {
            panic!("two labels")
        };
        let b = Labels::new(vec![
            name.clone(),
            crate::model::Label::new(job.name.clone(), "b"),
        ]);
        s.add(&b, 0, 1.0);
        s.shrink_to_fit();
        let two = s.memory_usage();
        let arc = |n: usize| 2 * std::mem::size_of::<usize>() + n;
        let label = std::mem::size_of::<crate::model::Label>();
        assert_eq!(
            two.series_bytes - after.series_bytes,
            std::mem::size_of::<MemSeries>() + arc(2 * label) + arc(1),
        );
        // Start timestamps and histograms live out of line, counted once
        // they exist.
        s.set_start_timestamp(&b, 0, -5);
        s.add_histogram(&b, 1, Arc::new(FloatHistogram::default()));
        s.shrink_to_fit();
        let extra = s.memory_usage();
        let starts = s.series[1].start_timestamps().unwrap();
        assert_eq!(
            extra.series_bytes - two.series_bytes,
            std::mem::size_of::<SeriesExtra>()
                + usage::table_bytes::<(Timestamp, Timestamp)>(starts.capacity())
        );
        assert_eq!(extra.histogram_samples, 1);
        assert!(extra.histogram_bytes >= std::mem::size_of::<HPoint>());
        let got = s
            .select(&[Matcher::equal("job", "b")], &SelectHints::window(-10, 10))
            .unwrap();
        assert_eq!((got[0].floats.len(), got[0].histograms.len()), (1, 1));
        let sts = s
            .start_timestamps(&b, &SelectHints::window(-10, 10))
            .unwrap();
        assert_eq!(sts.floats, vec![-5]);
    }
}
