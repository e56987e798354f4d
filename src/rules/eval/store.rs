//! Where a rule group reads and writes: [`RuleStore`].
//!
//! Prometheus' rule manager queries its local TSDB, which also receives the
//! rule outputs, so a rule sees what earlier rules of the same evaluation
//! recorded. A [`MemoryStorage`] plays both parts on its own. For any other
//! [`Storage`] (a remote-read endpoint, files), an [`OverlayStore`] keeps the
//! outputs in a local `MemoryStorage` merged over the source (see
//! [`FanoutStorage`]) and forwards them to a sink [`Appender`] (a remote-write
//! appender, a recorder, or nothing).

use std::sync::Arc;

use crate::model::Matcher;
use crate::model::{FloatHistogram, Labels, Timestamp};
use crate::storage::{
    Appender, FanoutStorage, MemoryStorage, SelectHints, SelectedSeries, Storage, StorageError,
};

/// What a rule group evaluates against: a storage to query, which includes
/// the outputs appended so far, and an appender for new outputs.
pub trait RuleStore {
    /// The storage the rules' queries read.
    fn queryable(&self) -> &dyn Storage;
    /// Where outputs (recorded samples, `ALERTS`, stale markers) go.
    fn appender(&mut self) -> &mut dyn Appender;
    /// Called after each rule's outputs are appended, before the next rule
    /// queries.
    fn commit(&mut self) {}
}

impl RuleStore for MemoryStorage {
    fn queryable(&self) -> &dyn Storage {
        self
    }

    fn appender(&mut self) -> &mut dyn Appender {
        self
    }

    fn commit(&mut self) {
        MemoryStorage::commit(self);
    }
}

/// An appender that discards everything (for an [`OverlayStore`] whose
/// outputs only need to be visible to later rules).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Appender for Discard {
    fn append(&mut self, _: &Labels, _: Timestamp, _: f64) -> Result<(), StorageError> {
        Ok(())
    }

    fn append_histogram(
        &mut self,
        _: &Labels,
        _: Timestamp,
        _: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        Ok(())
    }
}

/// A source storage overlaid with the rule outputs kept in memory.
struct Overlay<'a> {
    source: &'a dyn Storage,
    outputs: MemoryStorage,
}

impl Storage for Overlay<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        FanoutStorage::new(self.source, &self.outputs).select_merged(matchers, hints)
    }
}

/// Rule evaluation over any [`Storage`]: queries read `source` merged with
/// the outputs appended so far (kept in memory), and every output is also
/// appended to `sink`.
///
/// ```
/// use promql_engine::Engine;
/// use promql_engine::model::Labels;
/// use promql_engine::rules::eval::{Discard, Group, GroupOptions, OverlayStore};
/// use promql_engine::rules::{load_rule_file, LoadOptions};
/// use promql_engine::storage::MemoryStorage;
///
/// let text = "groups:\n- name: g\n  rules:\n  - record: a:sum\n    expr: sum(up)\n  - record: a:double\n    expr: a:sum * 2\n";
/// let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
/// let mut group = Group::new(&file.groups[0], "f.yml", &GroupOptions::default());
/// let mut source = MemoryStorage::new();
/// source.add(&Labels::from_pairs(&[("__name__", "up"), ("job", "a")]), 0, 1.0);
/// source.commit();
/// let mut store = OverlayStore::new(&source, Discard);
/// let summary = group.eval(&Engine::default(), &mut store, 0);
/// assert_eq!((summary.samples, summary.failed_rules), (2, 0));
/// assert_eq!(store.outputs().series_count(), 2); // a:double saw a:sum
/// assert_eq!(source.series_count(), 1); // the source is only read
/// ```
pub struct OverlayStore<'a, A: Appender> {
    overlay: Overlay<'a>,
    sink: A,
}

impl<A: Appender + std::fmt::Debug> std::fmt::Debug for OverlayStore<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlayStore")
            .field("outputs", &self.overlay.outputs.series_count())
            .field("sink", &self.sink)
            .finish()
    }
}

impl<'a, A: Appender> OverlayStore<'a, A> {
    /// Reads `source` (never written), sends outputs to `sink`.
    pub fn new(source: &'a dyn Storage, sink: A) -> Self {
        OverlayStore {
            overlay: Overlay {
                source,
                outputs: MemoryStorage::new(),
            },
            sink,
        }
    }

    /// The outputs appended so far.
    pub fn outputs(&self) -> &MemoryStorage {
        &self.overlay.outputs
    }

    /// Forgets the outputs kept in memory (e.g. once the source has them).
    pub fn clear_outputs(&mut self) {
        self.overlay.outputs.clear();
    }

    /// Forgets the outputs older than `t` (milliseconds), so that a long run
    /// keeps a bounded window of them. Series left without samples are
    /// dropped. Rebuilds the in-memory store: call it now and then, not
    /// after every evaluation.
    pub fn forget_outputs_before(&mut self, t: Timestamp) {
        let mut kept = MemoryStorage::new();
        let hints = SelectHints::window(t, Timestamp::MAX);
        // No matchers: every series.
        if let Ok(series) = self.overlay.outputs.select(&[], &hints) {
            for s in series {
                for p in s.floats.iter() {
                    kept.add(&s.labels, p.t, p.v);
                }
                for p in s.histograms.iter() {
                    kept.add_histogram(&s.labels, p.t, Arc::clone(&p.h));
                }
            }
        }
        kept.commit();
        self.overlay.outputs = kept;
    }

    /// The sink.
    pub fn sink(&self) -> &A {
        &self.sink
    }

    /// The sink, mutably (e.g. to flush it).
    pub fn sink_mut(&mut self) -> &mut A {
        &mut self.sink
    }

    /// Gives the sink back.
    pub fn into_sink(self) -> A {
        self.sink
    }
}

impl<A: Appender> Appender for OverlayStore<'_, A> {
    fn append(&mut self, labels: &Labels, t: Timestamp, v: f64) -> Result<(), StorageError> {
        self.overlay.outputs.add(labels, t, v);
        self.sink.append(labels, t, v)
    }

    fn append_histogram(
        &mut self,
        labels: &Labels,
        t: Timestamp,
        h: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        self.overlay
            .outputs
            .add_histogram(labels, t, Arc::clone(&h));
        self.sink.append_histogram(labels, t, h)
    }
}

impl<A: Appender> RuleStore for OverlayStore<'_, A> {
    fn queryable(&self) -> &dyn Storage {
        &self.overlay
    }

    fn appender(&mut self) -> &mut dyn Appender {
        self
    }

    fn commit(&mut self) {
        self.overlay.outputs.commit();
    }
}
