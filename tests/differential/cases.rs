//! The cases of the differential test, shared with `tests/remote_read.rs`:
//! the evaluation times and ranges (chosen to avoid what Prometheus 2.x and
//! 3.x do differently), and the comparison of one query's outcome in our
//! engine over any `Storage` with Prometheus' own HTTP API answers.

use std::panic::AssertUnwindSafe;

use super::compare::{self, Outcome, compare};
use super::prometheus::Prometheus;
use promql_engine::model::api_json;
use promql_engine::storage::Storage;
use promql_engine::{Engine, EngineOptions, EvalError, ParseOptions, parse_with};

/// Instant evaluation times (Unix milliseconds). All but one are multiples of 60 s, so
/// they never meet a sample (those sit 20.25 s and 50.25 s past the minute)
/// nor, with the subquery ranges of the query file, a subquery step.
/// No window reaches before 1699999980 (20 s before the first sample), as
/// 2.x and 3.x extrapolate `rate()` of a counter starting mid-window
/// differently. The times: inside the error burst and latency spike
/// (1h in, where the longest windows fit); a quiet time; inside `api-2`'s
/// outage; 40 s after `web-1`'s counter reset; 50 s before the last sample;
/// and before the first sample.
/// One more time is half a second off the grid ([`OFF_GRID_MS`]): it meets
/// no sample either, and no subquery step, and checks fractional timestamps.
pub const INSTANT_TIMES_MS: [i64; 7] = [
    1_700_003_940_000,
    1_700_005_020_000,
    1_700_006_580_000,
    1_700_007_540_000,
    1_700_010_720_000,
    1_699_999_920_000,
    1_700_008_880_500,
];

/// The sub-second part allowed for an instant time that is not on the grid.
pub const OFF_GRID_MS: i64 = 500;

/// Range queries (start, end, step in seconds): the rest of the data and 5
/// minutes beyond its end at 5m steps; the outage and the counter reset at
/// 1m steps; and 7m steps, which do not line up with the 5m subquery steps.
pub const RANGES: [(i64, i64, i64); 3] = [
    (1_700_003_940, 1_700_011_140, 300),
    (1_700_005_680, 1_700_007_780, 60),
    (1_700_004_000, 1_700_010_900, 420),
];

/// Evaluation times must be multiples of this (seconds); see [`INSTANT_TIMES_MS`].
pub const GRID: i64 = 60;

/// Our 3.x name for the 2.x `holt_winters` (experimental in 3.x).
pub const HOLT_WINTERS_2X: &str = "holt_winters(";
pub const HOLT_WINTERS_3X: &str = "double_exponential_smoothing(";

/// How a query is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Instant,
    Range,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Instant => "instant",
            Mode::Range => "range",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "instant" => Some(Mode::Instant),
            "range" => Some(Mode::Range),
            _ => None,
        }
    }
}

/// Evaluates `query` in `mode` on both sides; `Err` describes the first
/// difference, `Ok(false)` says that no evaluation returned any data.
/// Error messages of evaluations that fail on both sides go to `both_failed`.
pub fn compare_query(
    server: &Prometheus,
    storage: &dyn Storage,
    query: &str,
    mode: Mode,
    both_failed: &mut Vec<String>,
) -> Result<bool, String> {
    // Notes the first evaluation of this query that fails on both sides.
    let mut noted = false;
    let mut note = |ours: &Outcome, theirs: &Outcome| {
        if let (Outcome::Error { message: a, .. }, Outcome::Error { message: b, .. }, false) =
            (ours, theirs, noted)
        {
            both_failed.push(format!("{} {query}\n    {a}\n    {b}", mode.name()));
            noted = true;
        }
    };
    let mut seen_data = false;
    // Vector order is part of the answer only for `sort` and `sort_desc`.
    let ordered = query.starts_with("sort(") || query.starts_with("sort_desc(");
    match mode {
        Mode::Instant => {
            for t in INSTANT_TIMES_MS {
                let at = |e: String| format!("at {}: {e}", compare::fmt_time(t));
                let (theirs, their_body) = prometheus_outcome(server.query(query, t))?;
                let (ours, our_body) =
                    our_outcome(query, |engine, expr| engine.instant(storage, expr, t))
                        .map_err(at)?;
                compare(&ours, &theirs, ordered).map_err(at)?;
                if let Some(body) = &our_body {
                    compare::compare_text(body, &their_body, ordered).map_err(at)?;
                }
                seen_data |= theirs.has_data();
                note(&ours, &theirs);
            }
        }
        Mode::Range => {
            for (start, end, step) in RANGES {
                let within = |e: String| format!("range {start}..{end} step {step}s: {e}");
                let (theirs, their_body) =
                    prometheus_outcome(server.query_range(query, start * 1000, end * 1000, step))?;
                let (ours, our_body) = our_outcome(query, |engine, expr| {
                    engine.range(storage, expr, start * 1000, end * 1000, step * 1000)
                })
                .map_err(within)?;
                // Range results are sorted by labels: order matters.
                compare(&ours, &theirs, true).map_err(within)?;
                if let Some(body) = &our_body {
                    compare::compare_text(body, &their_body, true).map_err(within)?;
                }
                seen_data |= theirs.has_data();
                note(&ours, &theirs);
            }
        }
    }
    Ok(seen_data)
}

/// Prometheus' outcome and response body.
pub fn prometheus_outcome(
    response: Result<(u16, String), String>,
) -> Result<(Outcome, String), String> {
    let (status, body) = response.map_err(|e| format!("prometheus request failed: {e}"))?;
    let outcome =
        Outcome::from_api_json(&body).map_err(|e| format!("prometheus answered {status}: {e}"))?;
    Ok((outcome, body))
}

/// Parses and evaluates `query` with our engine and reads back the API JSON
/// we render for it; the JSON too when the query succeeded.
pub fn our_outcome(
    query: &str,
    eval: impl Fn(
        &Engine,
        &promql_engine::Expr,
    ) -> Result<promql_engine::QueryResult, promql_engine::EvalError>,
) -> Result<(Outcome, Option<String>), String> {
    let renamed = query.contains(HOLT_WINTERS_2X);
    let query = query.replace(HOLT_WINTERS_2X, HOLT_WINTERS_3X);
    let mut options = EngineOptions::default();
    options.experimental_functions = renamed;
    let parse_options = ParseOptions::new().with_experimental_functions(renamed);
    let expr = match parse_with(&query, &parse_options) {
        Ok(e) => e,
        Err(e) => {
            let error = Outcome::Error {
                kind: "bad_data".into(),
                message: e.to_string(),
            };
            return Ok((error, None));
        }
    };
    let engine = Engine::new(options);
    // A panic in our engine is a finding for this query, not the end of the run.
    let evaluated =
        std::panic::catch_unwind(AssertUnwindSafe(|| eval(&engine, &expr))).map_err(|panic| {
            let text = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("?");
            format!("our engine panicked: {text}")
        })?;
    match evaluated {
        Ok(result) => {
            let body = api_json::success_json(&result.value, &[], &[], None);
            let outcome = Outcome::from_api_json(&body)
                .map_err(|e| format!("our API JSON does not read back: {e}"))?;
            Ok((outcome, Some(body)))
        }
        Err(e) => {
            let error = Outcome::Error {
                kind: error_type(&e).into(),
                message: e.to_string(),
            };
            Ok((error, None))
        }
    }
}

/// The API `errorType` for one of our errors, as the HTTP API assigns them.
fn error_type(e: &EvalError) -> &'static str {
    match e {
        EvalError::Timeout => "timeout",
        EvalError::BadQuery(_) | EvalError::TooManyPoints { .. } => "bad_data",
        _ => "execution",
    }
}
