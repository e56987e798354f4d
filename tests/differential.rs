//! Differential test against a real Prometheus (2.42, as Debian packages it).
//!
//! Builds a TSDB from `testdata/demo/demo.om` with `promtool`, starts
//! `prometheus` on a loopback port, and evaluates every query of
//! `testdata/differential/queries.promql` (and of the cross products in
//! `differential/generated.rs`) both there (HTTP API) and in our
//! engine (library API, rendered with `model::api_json` and read back), as
//! instant queries at [`INSTANT_TIMES_MS`] and as range queries over [`RANGES`].
//! Results must agree: result type, series, timestamps, values within a
//! relative 1e-9 (NaN equals NaN), and the text of values that are equal
//! (so float formatting is compared too). Queries that fail must fail on
//! both sides with the same `errorType`; messages are not compared (2.x and
//! 3.x word some differently). Warnings and infos are not compared:
//! Prometheus 2.42 has no PromQL annotations.
//!
//! Times and windows avoid what 2.x and 3.x do differently (see
//! [`INSTANT_TIMES_MS`] and the header of `queries.promql`).
//!
//! Cases listed in `testdata/differential/KNOWN_DIFFERENCES`
//! (`instant|range <query> ## <reason>`) may differ; the test fails on any
//! other difference, and on a listed case that agrees (so the list only shrinks).
//!
//! Skipped, with a notice, when `prometheus` or `promtool` is not on `PATH`
//! or `PROMQL_SKIP_DIFFERENTIAL=1`. CI installs them with
//! `apt-get update -qq && apt-get install -y -qq prometheus`.
//!
//! Environment: `PROMQL_DIFFERENTIAL_FILTER=text` runs only queries containing
//! `text`; `PROMQL_DIFFERENTIAL_BLESS=1` rewrites `KNOWN_DIFFERENCES` from
//! the run (keeping hand-written reasons); `PROMQL_DIFFERENTIAL_VERBOSE=1` also prints known differences,
//! passes without data, and the messages of queries that fail on both sides;
//! `PROMQL_DIFFERENTIAL_COMPRESSED=1` evaluates over a compressed `MemoryStorage`.

#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/generated.rs"]
mod generated;
#[path = "differential/prometheus.rs"]
mod prometheus;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use compare::{Outcome, compare};
use prometheus::Prometheus;
use promql_engine::model::api_json;
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::load::load_data;
use promql_engine::{Engine, EngineOptions, EvalError, ParseOptions, parse_with};

const DATA: &str = "testdata/demo/demo.om";
const QUERIES: &str = "testdata/differential/queries.promql";
const KNOWN_DIFFERENCES: &str = "testdata/differential/KNOWN_DIFFERENCES";

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
const INSTANT_TIMES_MS: [i64; 7] = [
    1_700_003_940_000,
    1_700_005_020_000,
    1_700_006_580_000,
    1_700_007_540_000,
    1_700_010_720_000,
    1_699_999_920_000,
    1_700_008_880_500,
];

/// The sub-second part allowed for an instant time that is not on the grid.
const OFF_GRID_MS: i64 = 500;

/// Range queries (start, end, step in seconds): the rest of the data and 5
/// minutes beyond its end at 5m steps; the outage and the counter reset at
/// 1m steps; and 7m steps, which do not line up with the 5m subquery steps.
const RANGES: [(i64, i64, i64); 3] = [
    (1_700_003_940, 1_700_011_140, 300),
    (1_700_005_680, 1_700_007_780, 60),
    (1_700_004_000, 1_700_010_900, 420),
];

/// Evaluation times must be multiples of this (seconds); see [`INSTANT_TIMES_MS`].
const GRID: i64 = 60;

/// Our 3.x name for the 2.x `holt_winters` (experimental in 3.x).
const HOLT_WINTERS_2X: &str = "holt_winters(";
const HOLT_WINTERS_3X: &str = "double_exponential_smoothing(";

/// How a query is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Instant,
    Range,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Instant => "instant",
            Mode::Range => "range",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        match s {
            "instant" => Some(Mode::Instant),
            "range" => Some(Mode::Range),
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    prometheus::harness_main("differential", "PROMQL_SKIP_DIFFERENTIAL", run)
}

/// Outcomes of all cases.
#[derive(Default)]
struct Tally {
    passed: usize,
    /// Passing cases where neither side returned any data.
    vacuous: Vec<String>,
    /// Messages of evaluations that failed on both sides.
    both_failed: Vec<String>,
    /// Differences not listed in `KNOWN_DIFFERENCES`: case, message.
    unexpected: Vec<String>,
    /// Listed differences seen again.
    known_seen: usize,
    /// Listed cases that agree now, or are no longer queries.
    stale: Vec<String>,
    /// Every differing case and its message, for a bless run.
    differing: Vec<((Mode, String), String)>,
}

/// Runs the comparison; `Ok(false)` when unexpected differences were found.
fn run(prometheus: &Path, promtool: &Path) -> Result<bool, String> {
    let started = Instant::now();
    compare::self_check()?;
    check_grid()?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let filter = std::env::var("PROMQL_DIFFERENTIAL_FILTER").unwrap_or_default();
    let verbose = std::env::var("PROMQL_DIFFERENTIAL_VERBOSE").is_ok_and(|v| v == "1");
    let bless = std::env::var("PROMQL_DIFFERENTIAL_BLESS").is_ok_and(|v| v == "1");
    if bless && !filter.is_empty() {
        return Err("PROMQL_DIFFERENTIAL_BLESS needs the full run (no filter)".into());
    }
    let queries: Vec<String> = read_queries(&root.join(QUERIES))?
        .into_iter()
        .chain(generated::queries())
        .filter(|q| q.contains(&filter))
        .collect();
    let known = read_known_differences(&root.join(KNOWN_DIFFERENCES))?;

    let storage = load_storage(&root.join(DATA))?;
    let server = Prometheus::start(prometheus, promtool, &root.join(DATA))?;
    println!(
        "differential: prometheus {} (pid {}) ready after {:.1}s",
        server.version(),
        server.pid(),
        started.elapsed().as_secs_f64()
    );
    sanity_check(&server)?;

    let mut tally = Tally::default();
    for query in &queries {
        for mode in [Mode::Instant, Mode::Range] {
            let result = compare_query(&server, &storage, query, mode, &mut tally.both_failed);
            let case = format!("{} {query}", mode.name());
            let key = (mode, query.clone());
            match (result, known.get(&key)) {
                (Ok(seen_data), None) => {
                    tally.passed += 1;
                    if !seen_data {
                        tally.vacuous.push(case);
                    }
                }
                (Ok(_), Some(_)) => tally.stale.push(case),
                (Err(msg), Some(reason)) => {
                    if verbose {
                        println!("  known: {case}\n    {msg}\n    ({reason})");
                    }
                    tally.known_seen += 1;
                    tally.differing.push((key, msg));
                }
                (Err(msg), None) => {
                    tally.unexpected.push(format!("{case}\n    {msg}"));
                    tally.differing.push((key, msg));
                }
            }
        }
    }
    drop(server);
    if filter.is_empty() {
        for (mode, query) in known.keys() {
            if !queries.contains(query) {
                tally
                    .stale
                    .push(format!("{} {query} (no longer a query)", mode.name()));
            }
        }
    }
    print_report(&tally, verbose, started);
    if bless {
        write_known_differences(&root.join(KNOWN_DIFFERENCES), &known, &tally.differing)?;
        println!("blessed: {KNOWN_DIFFERENCES} rewritten");
        return Ok(true);
    }
    if !tally.unexpected.is_empty() || !tally.stale.is_empty() {
        println!("\n(PROMQL_DIFFERENTIAL_BLESS=1 rewrites {KNOWN_DIFFERENCES} from this run)");
        return Ok(false);
    }
    Ok(true)
}

fn print_report(tally: &Tally, verbose: bool, started: Instant) {
    let failed = tally.unexpected.len() + tally.known_seen;
    println!(
        "differential: {} passed, {failed} failed ({} listed in {KNOWN_DIFFERENCES}) in {:.1}s",
        tally.passed,
        tally.known_seen,
        started.elapsed().as_secs_f64()
    );
    if !tally.vacuous.is_empty() {
        println!(
            "differential: {} of the passes saw no data on either side (errors or empty results){}",
            tally.vacuous.len(),
            if verbose { ":" } else { "" }
        );
        if verbose {
            for v in &tally.vacuous {
                println!("  {v}");
            }
        }
    }
    if verbose && !tally.both_failed.is_empty() {
        println!("differential: queries that fail on both sides (ours / Prometheus):");
        for f in &tally.both_failed {
            println!("  {f}");
        }
    }
    if !tally.unexpected.is_empty() {
        println!(
            "\n{} unexpected differences (ours vs Prometheus):",
            tally.unexpected.len()
        );
        for u in &tally.unexpected {
            println!("  {u}");
        }
    }
    if !tally.stale.is_empty() {
        println!(
            "\n{} entries of {KNOWN_DIFFERENCES} no longer differ; remove them:",
            tally.stale.len()
        );
        for s in &tally.stale {
            println!("  {s}");
        }
    }
}

/// Prefix of reasons a bless run wrote; hand-written reasons are kept.
const AUTO: &str = "[auto]";

/// The header of `KNOWN_DIFFERENCES`, written by a bless run.
const KNOWN_HEADER: &str = "\
# Known differences between our engine and Prometheus 2.42 in
# tests/differential.rs: `instant|range <query> ## <reason>`, the query exactly
# as in queries.promql (or differential/generated.rs). A listed case that
# agrees fails the test, so the list only shrinks. PROMQL_DIFFERENTIAL_BLESS=1
# rewrites this file from a run, keeping hand-written reasons; reasons starting
# with [auto] were written by such a run.
";

/// Rewrites `KNOWN_DIFFERENCES` with the differing cases.
fn write_known_differences(
    path: &Path,
    known: &BTreeMap<(Mode, String), String>,
    differing: &[((Mode, String), String)],
) -> Result<(), String> {
    let mut text = String::from(KNOWN_HEADER);
    for (key, msg) in differing {
        let reason = match known.get(key) {
            Some(reason) if !reason.starts_with(AUTO) => reason.clone(),
            _ => {
                let first: String = msg.lines().next().unwrap_or("").chars().take(200).collect();
                format!("{AUTO} {first}")
            }
        };
        text.push_str(&format!("{} {} ## {reason}\n", key.0.name(), key.1));
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Guards the choice of times (see [`INSTANT_TIMES_MS`]).
fn check_grid() -> Result<(), String> {
    let times = RANGES
        .iter()
        .flat_map(|&(start, end, step)| [start, end, step]);
    if let Some(t) = times.into_iter().find(|t| t % GRID != 0) {
        return Err(format!(
            "range time or step {t} is not a multiple of {GRID} s"
        ));
    }
    match INSTANT_TIMES_MS
        .iter()
        .find(|&&t| t % (GRID * 1000) != 0 && t % 1000 != OFF_GRID_MS)
    {
        Some(t) => Err(format!(
            "instant time {t} ms is neither a multiple of {GRID} s nor {OFF_GRID_MS} ms past a second"
        )),
        None => Ok(()),
    }
}

/// Non-comment, non-blank lines.
fn read_queries(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// `(mode, query)` -> reason, from lines `instant|range <query> ## <reason>`.
fn read_known_differences(path: &Path) -> Result<BTreeMap<(Mode, String), String>, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut known = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            format!(
                "{}:{}: expected `instant|range <query> ## <reason>`",
                path.display(),
                i + 1
            )
        };
        let (mode, rest) = line.split_once(' ').ok_or_else(bad)?;
        let mode = Mode::parse(mode).ok_or_else(bad)?;
        let (query, reason) = rest.rsplit_once(" ## ").ok_or_else(bad)?;
        known.insert((mode, query.trim().to_string()), reason.trim().to_string());
    }
    Ok(known)
}

fn load_storage(path: &Path) -> Result<MemoryStorage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut storage = if std::env::var_os("PROMQL_DIFFERENTIAL_COMPRESSED").is_some() {
        MemoryStorage::compressed()
    } else {
        MemoryStorage::new()
    };
    load_data(&bytes, &mut storage, 0).map_err(|e| format!("{}: {e}", path.display()))?;
    storage.commit();
    Ok(storage)
}

/// Fails early, with a clear message, if Prometheus did not load the data.
fn sanity_check(server: &Prometheus) -> Result<(), String> {
    let (_, body) = server.query("count(up)", INSTANT_TIMES_MS[0])?;
    match Outcome::from_api_json(&body)? {
        Outcome::Data(compare::Data::Vector(v)) if v.len() == 1 && v[0].2.value == 3.0 => Ok(()),
        other => Err(format!(
            "Prometheus does not see the demo data (count(up) = {other:?}); was the TSDB built?"
        )),
    }
}

/// Evaluates `query` in `mode` on both sides; `Err` describes the first
/// difference, `Ok(false)` says that no evaluation returned any data.
/// Error messages of evaluations that fail on both sides go to `both_failed`.
fn compare_query(
    server: &Prometheus,
    storage: &MemoryStorage,
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
fn prometheus_outcome(
    response: Result<(u16, String), String>,
) -> Result<(Outcome, String), String> {
    let (status, body) = response.map_err(|e| format!("prometheus request failed: {e}"))?;
    let outcome =
        Outcome::from_api_json(&body).map_err(|e| format!("prometheus answered {status}: {e}"))?;
    Ok((outcome, body))
}

/// Parses and evaluates `query` with our engine and reads back the API JSON
/// we render for it; the JSON too when the query succeeded.
fn our_outcome(
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
