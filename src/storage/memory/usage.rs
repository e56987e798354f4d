//! Accounting of the memory a [`MemoryStorage`] holds.
//!
//! Every buffer is counted at its capacity, with the `Arc` header of shared
//! allocations, and every shared allocation (label strings, label sets,
//! histograms) once however many series, index entries or samples point to
//! it. Hash tables are counted as a SwissTable lays them out: a power-of-two
//! number of buckets (at most 7/8 full) of entry plus one control byte. What
//! the allocator adds per allocation (headers, size-class rounding) is not
//! counted.

use std::collections::HashSet;
use std::mem::size_of;
use std::sync::Arc;

use super::postings::NameValues;
use super::{FloatChunk, MemSeries, MemoryStorage, SeriesExtra};
use crate::model::{BucketSpan, FPoint, FloatHistogram, HPoint, Label, Labels, Timestamp};

/// Bytes held by a [`MemoryStorage`], by purpose. See
/// [`MemoryStorage::memory_usage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryUsage {
    /// Float samples: uncompressed columns plus compressed chunks (with
    /// their bookkeeping).
    pub float_bytes: usize,
    /// Histogram samples and the histograms they point to.
    pub histogram_bytes: usize,
    /// Per-series records, label sets and label strings.
    pub series_bytes: usize,
    /// The label-set map, the postings index, the values by label name and
    /// the cached label order.
    pub index_bytes: usize,
    /// Float samples stored.
    pub float_samples: usize,
    /// Histogram samples stored.
    pub histogram_samples: usize,
}

impl MemoryUsage {
    /// All bytes.
    pub fn total(&self) -> usize {
        self.float_bytes + self.histogram_bytes + self.series_bytes + self.index_bytes
    }

    /// All bytes divided by all samples (0 for an empty store).
    pub fn bytes_per_sample(&self) -> f64 {
        let samples = self.float_samples + self.histogram_samples;
        if samples == 0 {
            0.0
        } else {
            self.total() as f64 / samples as f64
        }
    }
}

/// Size of an `Arc<T>` allocation holding `payload` bytes (two counters).
fn arc_bytes(payload: usize) -> usize {
    2 * size_of::<usize>() + payload
}

/// Bytes of a hash table with this capacity and entry type.
pub(super) fn table_bytes<E>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (size_of::<E>() + 1) + 16
}

/// Counts shared allocations once, by address.
#[derive(Default)]
struct Seen(HashSet<usize>);

impl Seen {
    fn first<T: ?Sized>(&mut self, a: &Arc<T>) -> bool {
        self.0.insert(Arc::as_ptr(a) as *const u8 as usize)
    }

    fn string(&mut self, s: &Arc<str>) -> usize {
        if self.first(s) { arc_bytes(s.len()) } else { 0 }
    }

    fn labels(&mut self, labels: &Labels) -> usize {
        // A label set is a view of an `Arc<[Label]>`, perhaps shared with
        // other sets (a block of packed sets): count the allocation once,
        // and the strings of every view.
        let (address, len) = labels.allocation();
        let allocation = if self.0.insert(address) {
            arc_bytes(len * size_of::<Label>())
        } else {
            0
        };
        let strings: usize = labels
            .iter()
            .map(|l| self.string(&l.name) + self.string(&l.value))
            .sum();
        allocation + strings
    }

    fn histogram(&mut self, h: &Arc<FloatHistogram>) -> usize {
        if !self.first(h) {
            return 0;
        }
        let spans = h.positive_spans.capacity() + h.negative_spans.capacity();
        let floats = h.positive_buckets.capacity()
            + h.negative_buckets.capacity()
            + h.custom_values.capacity();
        arc_bytes(size_of::<FloatHistogram>())
            + spans * size_of::<BucketSpan>()
            + floats * size_of::<f64>()
    }
}

fn chunk_bytes(c: &FloatChunk) -> usize {
    c.data.len()
}

pub(super) fn measure(store: &MemoryStorage) -> MemoryUsage {
    let mut seen = Seen::default();
    let mut u = MemoryUsage {
        series_bytes: store.series.capacity() * size_of::<MemSeries>(),
        ..MemoryUsage::default()
    };
    for s in &store.series {
        u.series_bytes += seen.labels(&s.labels);
        u.float_bytes += s.floats.capacity() * size_of::<FPoint>()
            + s.chunks.capacity() * size_of::<FloatChunk>()
            + s.chunks.iter().map(chunk_bytes).sum::<usize>();
        u.float_samples += s.floats.len() + s.chunks.iter().map(FloatChunk::len).sum::<usize>();
        if let Some(extra) = &s.extra {
            u.series_bytes += size_of::<SeriesExtra>()
                + table_bytes::<(Timestamp, Timestamp)>(extra.start_timestamps.capacity());
            u.histogram_bytes += extra.histograms.capacity() * size_of::<HPoint>()
                + extra
                    .histograms
                    .iter()
                    .map(|p| seen.histogram(&p.h))
                    .sum::<usize>();
            u.histogram_samples += extra.histograms.len();
        }
    }
    u.index_bytes = store.order.bytes()
        + table_bytes::<(Labels, usize)>(store.by_labels.capacity())
        + table_bytes::<(Arc<str>, NameValues)>(store.postings.capacity());
    for (name, values) in store.postings.iter() {
        u.index_bytes += seen.string(name) + values.own_bytes();
        u.index_bytes += table_bytes::<(Arc<str>, usize)>(values.positions_capacity());
        u.index_bytes += values
            .values()
            .iter()
            .map(|v| seen.string(v))
            .sum::<usize>();
        u.index_bytes += values
            .id_lists()
            .iter()
            .filter(|ids| ids.spilled())
            .map(|ids| ids.capacity() * size_of::<usize>())
            .sum::<usize>();
    }
    for labels in store.by_labels.keys() {
        u.index_bytes += seen.labels(labels);
    }
    u
}
