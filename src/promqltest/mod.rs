//! The PromQL test-script language (`load`, `clear`, `eval`, `expect`, ...),
//! as used by Prometheus' `promql/promqltest`.
//!
//! ```
//! use promql_engine::promqltest::{RunOptions, Script};
//!
//! let script = Script::parse(
//!     "load 1m\n  up{job=\"a\"} 1 2 3\n\neval instant at 2m up\n  up{job=\"a\"} 3\n",
//! )
//! .unwrap();
//! let report = script.run(&RunOptions::default());
//! assert_eq!(report.cases.len(), 1);
//! assert_eq!(report.cases[0].line, 4);
//! ```
//!
//! Each `eval` is one case. Instant queries are also re-run as a range
//! query around the evaluation time and, when the query is step invariant
//! by construction, with every selector pinned by `@` at other times, as
//! upstream does (the pinned query is printed and parsed again, so the
//! printer takes part and annotation positions refer to the printed text). Values match when their relative difference is below
//! [`compare::EPSILON`]; NaN matches NaN, a stale marker only a stale marker.

pub mod compare;
mod duration;
mod nhcb;
mod run;
mod script;
mod step_invariance;
pub(crate) mod tsdb_hints;

pub use duration::parse_duration;
pub use run::{CaseResult, RunOptions, ScriptReport, check_annotations, load_into};
pub use script::{
    Command, EvalCmd, EvalTime, Expectations, ExpectedResult, ExpectedSeries, LoadCmd, LoadSeries,
    MessageMatch, Script, ScriptError,
};
