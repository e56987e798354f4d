//! The label order of a store's series, cached as one rank per series so
//! that `select` orders its result with an integer sort instead of
//! comparing label sets.

use std::sync::OnceLock;

use super::MemSeries;

/// Ranks of series ids in label order: `ranks[id]` is the position of series
/// `id` among all series sorted by labels. Computed on first use after the
/// set of series changed; appending samples to existing series keeps it.
#[derive(Default)]
pub(super) struct LabelOrder(OnceLock<Box<[usize]>>);

impl std::fmt::Debug for LabelOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get() {
            Some(ranks) => write!(f, "LabelOrder({} ranks)", ranks.len()),
            None => f.write_str("LabelOrder(not computed)"),
        }
    }
}

impl LabelOrder {
    /// Forgets the ranks: call it whenever a series is added.
    pub(super) fn invalidate(&mut self) {
        self.0.take();
    }

    /// The rank of every series, by id, computing them if needed.
    pub(super) fn ranks(&self, series: &[MemSeries]) -> &[usize] {
        self.0.get_or_init(|| {
            let mut ids: Vec<usize> = (0..series.len()).collect();
            // Label sets are unique within a store, so the order is total.
            ids.sort_unstable_by(|&a, &b| series[a].labels.cmp(&series[b].labels));
            let mut ranks = vec![0; series.len()];
            for (rank, id) in ids.into_iter().enumerate() {
                ranks[id] = rank;
            }
            ranks.into_boxed_slice()
        })
    }

    /// Bytes held by the cached ranks.
    pub(super) fn bytes(&self) -> usize {
        self.0
            .get()
            .map_or(0, |r| std::mem::size_of_val::<[usize]>(r))
    }
}
