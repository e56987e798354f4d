//! Where series come from: the [`Storage`] trait, the in-memory store and loaders.
//!
//! The engine asks a `Storage` for the series that match a selector's
//! matchers within a time window. Implement the trait to run PromQL over your
//! own data: a database, a remote-read endpoint, a file.

use std::borrow::Cow;
use std::ops::ControlFlow;

use crate::model::{FPoint, HPoint, Labels, Matcher, Timestamp};

pub mod chunk;
pub mod exposition;
pub mod fanout;
pub mod load;
pub mod memory;
#[cfg(feature = "remote")]
pub mod remote;
pub mod series_notation;

pub use fanout::FanoutStorage;
pub use memory::MemoryStorage;

/// Context about a selection that a storage may use to prune or pre-aggregate.
/// All of it is advisory: returning more data than asked is always correct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectHints {
    /// Earliest timestamp needed (inclusive), milliseconds.
    pub start: Timestamp,
    /// Latest timestamp needed (inclusive), milliseconds.
    pub end: Timestamp,
    /// Query step in milliseconds (0 for instant queries).
    pub step: i64,
    /// Range of the enclosing range selector in milliseconds (0 for instant selectors).
    pub range: i64,
    /// Name of the function wrapping the selector, if any (e.g. `rate`).
    pub func: Option<&'static str>,
    /// Grouping labels of an enclosing aggregation.
    pub grouping: Vec<String>,
    /// Whether `grouping` is a `by` (true) or `without` (false) list.
    pub by: bool,
}

impl SelectHints {
    /// Hints for the window `start..=end` with nothing else known.
    pub fn window(start: Timestamp, end: Timestamp) -> Self {
        SelectHints {
            start,
            end,
            ..Default::default()
        }
    }
}

/// One selected series: its labels and its samples inside the asked window,
/// each sorted by time. Borrowed where the storage can lend its own buffers.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectedSeries<'a> {
    /// The series labels (including `__name__`).
    pub labels: Labels,
    /// Float samples, sorted by time (stale markers included).
    pub floats: Cow<'a, [FPoint]>,
    /// Native-histogram samples, sorted by time.
    pub histograms: Cow<'a, [HPoint]>,
}

/// Start timestamps (created timestamps) of the samples of one series,
/// aligned one-to-one with the float and histogram samples that
/// [`Storage::select`] returns for the same window. `0` means unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartTimestamps {
    /// One start timestamp per float sample (empty when none are known).
    pub floats: Vec<Timestamp>,
    /// One start timestamp per histogram sample (empty when none are known).
    pub histograms: Vec<Timestamp>,
}

/// Errors a storage can report. The engine passes them to the caller unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend failed (I/O, protocol, remote error).
    #[error("storage error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend gave up waiting.
    #[error("storage timeout: {0}")]
    Timeout(String),
    /// The selection would return more than the storage allows.
    #[error("storage limit exceeded: {0}")]
    Limit(String),
}

/// A source of series for the engine.
///
/// Only [`select`](Storage::select) is required; label look-ups have default
/// implementations on top of it.
///
/// ```
/// use std::borrow::Cow;
/// use promql_engine::model::{FPoint, Labels, Matcher};
/// use promql_engine::storage::{SelectHints, SelectedSeries, Storage, StorageError};
///
/// /// One constant series, for illustration.
/// struct Constant;
///
/// impl Storage for Constant {
///     fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
///         let labels = Labels::from_pairs(&[("__name__", "answer")]);
///         if !matchers.iter().all(|m| m.matches_labels(&labels)) {
///             return Ok(vec![]);
///         }
///         let floats = (hints.start.div_euclid(1000)..=hints.end.div_euclid(1000))
///             .map(|s| FPoint { t: s * 1000, v: 42.0 })
///             .filter(|p| p.t >= hints.start && p.t <= hints.end)
///             .collect();
///         Ok(vec![SelectedSeries { labels, floats: Cow::Owned(floats), histograms: Cow::Borrowed(&[]) }])
///     }
/// }
/// # let s = Constant;
/// # assert_eq!(s.select(&[Matcher::equal("__name__", "answer")], &SelectHints::window(0, 2000)).unwrap()[0].floats.len(), 3);
/// ```
pub trait Storage: Send + Sync {
    /// The series matching all `matchers`, with their samples in
    /// `hints.start..=hints.end`. Series without samples in the window may be
    /// omitted. Each label set appears at most once: a backend holding one
    /// series in several places merges them (as [`FanoutStorage`] does); the
    /// engine relies on it.
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError>;

    /// The series [`select`](Storage::select) returns, in the same order,
    /// handed to `sink` one at a time until it asks to stop. A store that
    /// can hand them out without collecting them first overrides this (the
    /// engine then never holds the whole selection); the default collects
    /// them with `select`. While a selection is handed out, the engine may
    /// ask the store for other things (such as
    /// [`start_timestamps`](Storage::start_timestamps)) from `sink`.
    fn select_each<'a>(
        &'a self,
        matchers: &[Matcher],
        hints: &SelectHints,
        sink: &mut dyn SelectionSink<'a>,
    ) -> Result<(), StorageError> {
        let selected = self.select(matchers, hints)?;
        sink.expect(selected.len());
        for series in selected {
            if sink.take(series).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Start timestamps of the samples of the series with exactly `labels`
    /// in `hints.start..=hints.end`, aligned with what [`select`](Storage::select)
    /// returns for that series. The default knows none.
    fn start_timestamps(
        &self,
        labels: &Labels,
        hints: &SelectHints,
    ) -> Result<StartTimestamps, StorageError> {
        let _ = (labels, hints);
        Ok(StartTimestamps::default())
    }

    /// Label names of the series matching `matchers` in the window, sorted and unique.
    fn label_names(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self
            .select(matchers, hints)?
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.to_string()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Values of label `name` on the series matching `matchers` in the window, sorted and unique.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<String>, StorageError> {
        let mut values: Vec<String> = self
            .select(matchers, hints)?
            .iter()
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

/// What takes the series of a selection one at a time, from
/// [`Storage::select_each`].
pub trait SelectionSink<'a> {
    /// At most how many series follow, told once before the first when the
    /// store knows it: room to reserve.
    fn expect(&mut self, upper: usize) {
        let _ = upper;
    }

    /// One more series; [`ControlFlow::Break`] ends the selection.
    fn take(&mut self, series: SelectedSeries<'a>) -> ControlFlow<()>;
}

/// Collects the whole selection.
impl<'a> SelectionSink<'a> for Vec<SelectedSeries<'a>> {
    fn expect(&mut self, upper: usize) {
        self.reserve(upper);
    }

    fn take(&mut self, series: SelectedSeries<'a>) -> ControlFlow<()> {
        self.push(series);
        ControlFlow::Continue(())
    }
}

/// Something that accepts samples: the in-memory store, a remote-write
/// client, a recording-rule sink.
pub trait Appender {
    /// Adds a float sample (a stale marker is [`crate::model::stale_nan`]).
    fn append(&mut self, labels: &Labels, t: Timestamp, v: f64) -> Result<(), StorageError>;
    /// Adds a native-histogram sample.
    fn append_histogram(
        &mut self,
        labels: &Labels,
        t: Timestamp,
        h: std::sync::Arc<crate::model::FloatHistogram>,
    ) -> Result<(), StorageError>;
}
