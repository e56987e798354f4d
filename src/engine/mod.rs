//! The evaluator: runs a checked [`Expr`] over a [`Storage`] at one instant
//! or over a range of steps, with Prometheus 3.x semantics.
//!
//! How it works, as in Prometheus: the expression is lowered into a plan
//! (parentheses gone, durations and `@ start()`/`@ end()` resolved, `start()`,
//! `end()`, `range()`, `step()` folded) and every node is evaluated for all
//! steps at once into a matrix; an instant query is a range of one step.
//! Subqueries run a child evaluator whose steps are aligned to absolute
//! multiples of the subquery step. Series flagged for name removal keep
//! `__name__` until the end when [`EngineOptions::delayed_name_removal`] is on.
//!
//! Modules: `plan` (lowering), `eval` (core loop, limits), `selector`
//! (lookback, range windows, staleness, `anchored`/`smoothed`), `binary`,
//! `aggregate`, `functions/*` (instant kernels, range kernels, labels, sort,
//! classic and native histograms, `info`), `annotations` (messages as
//! Prometheus), `histops` (native-histogram outcomes and errors turned into
//! annotations; the math itself lives in [`crate::model::histogram`]).
//! Selectors below `histogram_count`/`histogram_sum`/`histogram_avg` read
//! histograms as count/sum only, as Prometheus' stats iterator does.

use std::time::{Duration, Instant};

mod aggregate;
mod annotations;
mod binary;
mod eval;
mod functions;
mod grouping;
mod histops;
mod kahan;
mod plan;
mod pointwise;
mod selector;
mod stats_read;
mod types;

use crate::model::{Sample, SampleValue, Series, Timestamp, Value, ValueType};
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
    /// Worker threads for evaluating range-vector functions over many series
    /// (default 1: everything on the caller's thread). Results do not depend
    /// on it.
    pub threads: usize,
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
            threads: 1,
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
    /// Samples read from storage (each sample of a selected window once).
    pub samples_read: u64,
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
        "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
        thousands(*limit)
    )]
    TooManyPoints {
        /// The configured limit.
        limit: usize,
    },
    /// A runtime error Prometheus reports with this message, e.g.
    /// `vector cannot contain metrics with the same labelset`.
    #[error("{0}")]
    Execution(String),
    /// The query's parameters are invalid (e.g. a zero or negative step).
    #[error("{0}")]
    BadQuery(String),
}

/// Nesting depth up to which evaluation runs on the caller's thread.
const SHALLOW_DEPTH: usize = 64;

/// The nesting depth of an expression, computed without recursion.
fn expr_depth(expr: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        stack.extend(e.children().into_iter().map(|c| (c, d + 1)));
    }
    max
}

/// `11000` as `11,000`, as Prometheus writes the limit.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
        self.run(storage, expr, t, t, 0)
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
        if step <= 0 {
            return Err(EvalError::BadQuery(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(EvalError::BadQuery(
                "end timestamp must not be before start time".into(),
            ));
        }
        let points = (end as i128 - start as i128) / step as i128 + 1;
        if points > self.options.max_points_per_series as i128 {
            return Err(EvalError::TooManyPoints {
                limit: self.options.max_points_per_series,
            });
        }
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(EvalError::BadQuery(format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    other.document_name()
                )));
            }
        }
        self.run(storage, expr, start, end, step)
    }

    /// Evaluates on the current thread, or on a helper thread with a stack
    /// sized for the expression when it is deeply nested (the evaluator
    /// recurses once per level).
    fn run(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        start: Timestamp,
        end: Timestamp,
        step: i64,
    ) -> Result<QueryResult, EvalError> {
        let depth = expr_depth(expr);
        if depth <= SHALLOW_DEPTH {
            return self.run_here(storage, expr, start, end, step);
        }
        let stack = (16usize << 20).saturating_add(depth.saturating_mul(64 << 10));
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("promql-eval".into())
                .stack_size(stack.min(1 << 30))
                .spawn_scoped(scope, || self.run_here(storage, expr, start, end, step))
                .map_err(|e| EvalError::Execution(format!("cannot start evaluation thread: {e}")))?
                .join()
                .unwrap_or_else(|_| Err(EvalError::Execution("evaluation thread panicked".into())))
        })
    }

    fn run_here(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        start: Timestamp,
        end: Timestamp,
        step: i64,
    ) -> Result<QueryResult, EvalError> {
        let began = Instant::now();
        let frame = plan::QueryFrame {
            start,
            end,
            step,
            default_subquery_step: self.options.no_step_subquery_interval.max(1),
            experimental_functions: self.options.experimental_functions,
        };
        let node = plan::lower(expr, &frame)?;
        let shared = eval::Shared::new(storage, &self.options);
        let ev = eval::Ev::new(&shared, start, end, if step == 0 { 1 } else { step });
        let val = ev.eval(&node)?;
        let mut mat = match val {
            types::Val::Str(v) => {
                return Ok(QueryResult {
                    value: Value::String { t: start, v },
                    annotations: shared.annos.into_inner().into_vec(),
                    stats: QueryStats {
                        eval_time: began.elapsed(),
                        ..Default::default()
                    },
                });
            }
            types::Val::Matrix(m) => m,
        };
        if self.options.delayed_name_removal {
            for s in &mut mat {
                if s.drop_name {
                    types::drop_metadata_owned(&mut s.labels);
                }
            }
            mat = eval::merge_same_labelsets(mat)?;
        }
        let ty = node.ty();
        let value = if step == 0 && ty == ValueType::Vector {
            Value::Vector(
                mat.into_iter()
                    .filter_map(|s| {
                        let value = match (s.floats.first(), s.hists.first()) {
                            (_, Some(h)) => SampleValue::Histogram(h.h.clone()),
                            (Some(f), None) => SampleValue::Float(f.v),
                            (None, None) => return None,
                        };
                        Some(Sample {
                            labels: s.labels,
                            t: start,
                            value,
                        })
                    })
                    .collect(),
            )
        } else if step == 0 && ty == ValueType::Scalar {
            let v = mat
                .first()
                .and_then(|s| s.floats.first())
                .map_or(f64::NAN, |p| p.v);
            Value::Scalar { t: start, v }
        } else {
            let mut out: Vec<Series> = mat
                .into_iter()
                .map(|s| Series {
                    labels: s.labels,
                    floats: s.floats.into_vec(),
                    histograms: s.hists.into_vec(),
                })
                .collect();
            // Label sets are distinct here, so an unstable sort gives the same order.
            out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
            Value::Matrix(out)
        };
        Ok(QueryResult {
            value,
            annotations: shared.annos.into_inner().into_vec(),
            stats: QueryStats {
                total_samples: shared.total.get(),
                peak_samples: shared.peak.get() as u64,
                samples_read: shared.read.get(),
                prepare_time: Duration::ZERO,
                eval_time: began.elapsed(),
            },
        })
    }
}
