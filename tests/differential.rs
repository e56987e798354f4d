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
//! `PROMQL_DIFFERENTIAL_COMPRESSED=1` evaluates over a compressed `MemoryStorage`;
//! `PROMQL_DIFFERENTIAL_RANDOM=count` (with `PROMQL_DIFFERENTIAL_SEED=n`)
//! compares that many random nested queries (`differential/random.rs`)
//! instead of the query file.

#[path = "differential/cases.rs"]
mod cases;
#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/generated.rs"]
mod generated;
#[path = "differential/prometheus.rs"]
mod prometheus;
#[path = "differential/random.rs"]
mod random;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use cases::{GRID, INSTANT_TIMES_MS, Mode, OFF_GRID_MS, RANGES, compare_query};
use compare::Outcome;
use prometheus::Prometheus;
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::load::load_data;

const DATA: &str = "testdata/demo/demo.om";
const QUERIES: &str = "testdata/differential/queries.promql";
const KNOWN_DIFFERENCES: &str = "testdata/differential/KNOWN_DIFFERENCES";

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

/// With `PROMQL_DIFFERENTIAL_RANDOM=count`, that many distinct random
/// queries (seeded by `PROMQL_DIFFERENTIAL_SEED`, default 1) instead of the
/// query file and the cross products.
fn random_queries() -> Result<Option<Vec<String>>, String> {
    let Ok(count) = std::env::var("PROMQL_DIFFERENTIAL_RANDOM") else {
        return Ok(None);
    };
    let count: usize = count
        .parse()
        .map_err(|e| format!("PROMQL_DIFFERENTIAL_RANDOM={count}: {e}"))?;
    let seed: u64 = match std::env::var("PROMQL_DIFFERENTIAL_SEED") {
        Ok(s) => s
            .parse()
            .map_err(|e| format!("PROMQL_DIFFERENTIAL_SEED={s}: {e}"))?,
        Err(_) => 1,
    };
    let mut rng = random::Rng::new(seed);
    let mut queries: Vec<String> = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::new();
    // Bounded: small depths repeat, so ask a few times more than needed.
    for _ in 0..count.saturating_mul(20) {
        if queries.len() == count {
            break;
        }
        let q = random::query(&mut rng, 3);
        if seen.insert(q.clone()) {
            queries.push(q);
        }
    }
    println!(
        "differential: {} random queries (seed {seed})",
        queries.len()
    );
    Ok(Some(queries))
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
    let random = random_queries()?;
    let random_mode = random.is_some();
    if random_mode && bless {
        return Err("PROMQL_DIFFERENTIAL_BLESS needs the query file, not random queries".into());
    }
    let queries: Vec<String> = match random {
        Some(queries) => queries,
        None => read_queries(&root.join(QUERIES))?
            .into_iter()
            .chain(generated::queries())
            .collect(),
    };
    let queries: Vec<String> = queries
        .into_iter()
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
    if filter.is_empty() && !random_mode {
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
