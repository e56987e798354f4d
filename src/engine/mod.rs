//! The evaluator: runs a checked [`Expr`] over a [`Storage`] at one instant
//! or over a range of steps, with Prometheus 3.x semantics.

use std::time::Duration;

use crate::model::{Timestamp, Value};
use crate::parser::{Expr, Span};
use crate::storage::{Storage, StorageError};

/// Engine settings, named after Prometheus' engine options.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample (default 5m), in milliseconds.
    pub lookback_delta: i64,
    /// Most samples a query may hold in memory at once (default 50,000,000).
    pub max_samples: usize,
    /// Wall-clock limit for one query (default 2 minutes).
    pub timeout: Option<Duration>,
    /// Most points a range query may produce per series (default 11,000).
    pub max_points_per_series: usize,
    /// Default subquery step when none is written (`[30m:]`), in milliseconds (default 1m).
    pub no_step_subquery_interval: i64,
    /// Keep `__name__` until the end of evaluation and drop it only where a
    /// function or operator would have (Prometheus' `EnableDelayedNameRemoval`).
    pub delayed_name_removal: bool,
    /// Allow experimental functions at evaluation time.
    pub experimental_functions: bool,
    /// Use start timestamps (created timestamps) where available (Prometheus' `UseStartTimestamps`).
    pub start_timestamps: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            max_points_per_series: 11_000,
            no_step_subquery_interval: 60 * 1000,
            delayed_name_removal: false,
            experimental_functions: false,
            start_timestamps: false,
        }
    }
}

impl EngineOptions {
    /// The options the upstream test scripts run with: experimental functions,
    /// delayed name removal and start timestamps on.
    pub fn upstream_tests() -> Self {
        EngineOptions {
            delayed_name_removal: true,
            experimental_functions: true,
            start_timestamps: true,
            ..Default::default()
        }
    }
}

/// Severity of an [`Annotation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnnotationLevel {
    /// `PromQL warning: ...`: the result may be wrong or incomplete.
    Warning,
    /// `PromQL info: ...`: something worth knowing, the result is fine.
    Info,
}

/// A warning or info attached to a query result, with the position of the
/// expression it is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Annotation {
    /// Warning or info.
    pub level: AnnotationLevel,
    /// The message without prefix or position, e.g.
    /// `metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "foo"`.
    pub message: String,
    /// The expression the annotation is about.
    pub span: Option<Span>,
}

impl Annotation {
    /// The annotation as Prometheus' API renders it:
    /// `PromQL warning: <message> (<line>:<col>)`.
    pub fn render(&self, query: &str) -> String {
        let prefix = match self.level {
            AnnotationLevel::Warning => "PromQL warning",
            AnnotationLevel::Info => "PromQL info",
        };
        match self.span {
            Some(span) => {
                let pos = crate::parser::Position::locate(query, span.start);
                format!("{prefix}: {} ({pos})", self.message)
            }
            None => format!("{prefix}: {}", self.message),
        }
    }
}

/// Counters about one query's work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples read from storage and processed.
    pub total_samples: u64,
    /// Most samples held in memory at once.
    pub peak_samples: u64,
    /// Time spent preparing (selecting series).
    pub prepare_time: Duration,
    /// Time spent evaluating.
    pub eval_time: Duration,
}

/// A query's value, annotations and statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// The result: for range queries always a [`Value::Matrix`].
    pub value: Value,
    /// Warnings and infos, deduplicated, in the order found.
    pub annotations: Vec<Annotation>,
    /// Work counters.
    pub stats: QueryStats,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// More samples than [`EngineOptions::max_samples`] would be held at once.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query ran past [`EngineOptions::timeout`].
    #[error("query timed out in query execution")]
    Timeout,
    /// A range query would produce more than [`EngineOptions::max_points_per_series`] points.
    #[error(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    )]
    TooManyPoints,
    /// A runtime error Prometheus reports with this message, e.g.
    /// `vector cannot contain metrics with the same labelset`.
    #[error("{0}")]
    Execution(String),
    /// The query's parameters are invalid (e.g. a zero or negative step).
    #[error("{0}")]
    BadQuery(String),
}

/// The query engine. Cheap to create; holds only options, so one engine can
/// serve many threads.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(options: EngineOptions) -> Self {
        Engine { options }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `expr` at time `t` (milliseconds).
    pub fn instant(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        t: Timestamp,
    ) -> Result<QueryResult, EvalError> {
        let _ = (storage, expr, t);
        Err(EvalError::Execution("evaluator not implemented".into()))
    }

    /// Evaluates `expr` at every step from `start` to `end` inclusive
    /// (milliseconds); the result is a matrix.
    pub fn range(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        start: Timestamp,
        end: Timestamp,
        step: i64,
    ) -> Result<QueryResult, EvalError> {
        let _ = (storage, expr, start, end, step);
        Err(EvalError::Execution("evaluator not implemented".into()))
    }
}
