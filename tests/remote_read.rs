//! Remote read against a real Prometheus (2.42, as Debian packages it).
//!
//! Builds a TSDB from `testdata/demo/demo.om` with `promtool`, starts
//! `prometheus` on a loopback port, and evaluates the queries of
//! `testdata/differential/queries.promql` with our engine twice: over a
//! [`RemoteReadStorage`] reading from that Prometheus (with each response
//! type, SAMPLES and STREAMED_XOR_CHUNKS) and over a [`MemoryStorage`] loaded
//! from the same file. Results must agree (series, timestamps, values within
//! a relative 1e-9, and error messages). Then, with every response type,
//! each query as an instant query at the differential test's times and as
//! range queries over its ranges, through remote read, against Prometheus'
//! own `/api/v1/query` and `/api/v1/query_range` answers
//! (`differential/cases.rs`).
//!
//! Then the failure paths: a response cut short at several points (by a proxy
//! that relays part of Prometheus' real answer), Prometheus killed mid-response,
//! and a query to the dead server, must each give a clear storage error.
//!
//! Skipped, with a notice, when `prometheus` or `promtool` is not on `PATH`
//! or `PROMQL_SKIP_REMOTE=1`. `PROMQL_REMOTE_FILTER=text` runs only queries
//! containing `text`. Prints `remote read: N passed, N failed`.

#[allow(dead_code)]
#[path = "differential/cases.rs"]
mod cases;
#[allow(dead_code)]
#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/prometheus.rs"]
mod prometheus;
#[path = "remote/proxy.rs"]
mod proxy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cases::{Mode, compare_query};
use compare::{Outcome, compare};
use prometheus::Prometheus;
use promql_engine::model::api_json;
use promql_engine::storage::load::load_data;
use promql_engine::storage::remote::{RemoteReadStorage, ResponseType};
use promql_engine::storage::{MemoryStorage, Storage};
use promql_engine::{Engine, EngineOptions, EvalError, ParseOptions, parse_with};

const DATA: &str = "testdata/demo/demo.om";
const QUERIES: &str = "testdata/differential/queries.promql";

/// Instant evaluation times (Unix ms): inside the data, at its end, before it.
const INSTANT_TIMES_MS: [i64; 6] = [
    1_700_003_940_000,
    1_700_005_020_000,
    1_700_006_580_000,
    1_700_007_540_000,
    1_700_010_720_000,
    1_699_999_920_000,
];

/// Range queries (start, end, step), milliseconds.
const RANGES_MS: [(i64, i64, i64); 3] = [
    (1_700_003_940_000, 1_700_011_140_000, 300_000),
    (1_700_005_680_000, 1_700_007_780_000, 60_000),
    (1_700_000_000_000, 1_700_010_900_000, 420_000),
];

/// Both response types, each compared with the in-memory result.
const RESPONSE_TYPES: [ResponseType; 2] = [ResponseType::Samples, ResponseType::StreamedXorChunks];
/// The response types of the comparisons: both, and negotiation (where
/// Prometheus picks streamed chunks).
const COMPARED_RESPONSE_TYPES: [ResponseType; 3] = [
    ResponseType::Samples,
    ResponseType::StreamedXorChunks,
    ResponseType::Negotiate,
];

/// A query that selects every series over the whole data: a large response.
const EVERYTHING: &str = r#"count_over_time({__name__=~".+"}[4h])"#;
const EVERYTHING_AT_MS: i64 = 1_700_010_800_000;

fn main() -> ExitCode {
    prometheus::harness_main("remote read", "PROMQL_SKIP_REMOTE", run)
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
    with_data: usize,
}

impl Tally {
    fn record(&mut self, case: String, result: Result<bool, String>) {
        match result {
            Ok(had_data) => {
                self.passed += 1;
                self.with_data += usize::from(had_data);
            }
            Err(e) => self.failed.push(format!("{case}\n    {e}")),
        }
    }
}

fn run(prometheus: &Path, promtool: &Path) -> Result<bool, String> {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let filter = std::env::var("PROMQL_REMOTE_FILTER").unwrap_or_default();
    let queries: Vec<String> = std::fs::read_to_string(root.join(QUERIES))
        .map_err(|e| format!("cannot read {QUERIES}: {e}"))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && l.contains(&filter))
        .map(String::from)
        .collect();
    let memory = load_storage(&root.join(DATA))?;
    let server = Prometheus::start(prometheus, promtool, &root.join(DATA))?;
    let url = format!("http://127.0.0.1:{}/api/v1/read", server.port());
    println!(
        "remote read: prometheus {} (pid {}) at {url}, ready after {:.1}s",
        server.version(),
        server.pid(),
        started.elapsed().as_secs_f64()
    );
    let remotes: Vec<(ResponseType, RemoteReadStorage)> = COMPARED_RESPONSE_TYPES
        .iter()
        .map(|&rt| {
            RemoteReadStorage::builder(url.clone())
                .timeout(Duration::from_secs(30))
                .response_type(rt)
                .build()
                .map(|s| (rt, s))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;

    let mut tally = Tally::default();
    let compared = Instant::now();
    for query in &queries {
        for (rt, remote) in &remotes {
            for t in INSTANT_TIMES_MS {
                let case = format!("{rt:?} instant {query} at {t}");
                let result = same_outcome(
                    query,
                    &|engine, expr, storage| engine.instant(storage, expr, t),
                    &memory,
                    remote,
                );
                tally.record(case, result);
            }
            for (start, end, step) in RANGES_MS {
                let case = format!("{rt:?} range {query} over {start}..{end} step {step}");
                let result = same_outcome(
                    query,
                    &|engine, expr, storage| engine.range(storage, expr, start, end, step),
                    &memory,
                    remote,
                );
                tally.record(case, result);
            }
        }
    }
    println!(
        "remote read: {} comparisons ({} with data) in {:.1}s",
        tally.passed + tally.failed.len(),
        tally.with_data,
        compared.elapsed().as_secs_f64()
    );

    // Directly against Prometheus' own answers (its HTTP API), at the
    // differential test's times, which avoid what 2.x and 3.x do differently.
    let direct = Instant::now();
    let before = tally.passed + tally.failed.len();
    for (rt, remote) in &remotes {
        for query in &queries {
            for mode in [Mode::Instant, Mode::Range] {
                let case = format!("{rt:?} {} {query} against Prometheus' API", mode.name());
                let result = compare_query(&server, remote, query, mode, &mut Vec::new());
                tally.record(case, result);
            }
        }
    }
    println!(
        "remote read: {} comparisons with Prometheus' own answers in {:.1}s",
        tally.passed + tally.failed.len() - before,
        direct.elapsed().as_secs_f64()
    );

    for (case, result) in cli_cases(&root.join(DATA), &url) {
        tally.record(case, result.map(|()| true));
    }
    for (case, result) in failure_cases(&server, &url) {
        tally.record(case, result.map(|()| false));
    }

    for failure in &tally.failed {
        println!("FAILED {failure}");
    }
    println!(
        "remote read: {} passed, {} failed",
        tally.passed,
        tally.failed.len()
    );
    Ok(tally.failed.is_empty())
}

fn load_storage(path: &Path) -> Result<MemoryStorage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut storage = MemoryStorage::new();
    load_data(&bytes, &mut storage, 0).map_err(|e| format!("{}: {e}", path.display()))?;
    storage.commit();
    Ok(storage)
}

/// Evaluates a parsed query with an engine over a storage.
type Eval<'a> = dyn Fn(&Engine, &promql_engine::Expr, &dyn Storage) -> Result<promql_engine::QueryResult, EvalError>
    + 'a;

/// Evaluates `query` over both storages; `Ok(true)` when they agree on data,
/// `Ok(false)` when they agree on an error or an empty result.
fn same_outcome(
    query: &str,
    eval: &Eval<'_>,
    memory: &MemoryStorage,
    remote: &RemoteReadStorage,
) -> Result<bool, String> {
    // Our 3.x name for the 2.x `holt_winters` in the query file.
    let renamed = query.contains("holt_winters(");
    let query = query.replace("holt_winters(", "double_exponential_smoothing(");
    let mut options = EngineOptions::default();
    options.experimental_functions = renamed;
    let Ok(expr) = parse_with(
        &query,
        &ParseOptions::new().with_experimental_functions(renamed),
    ) else {
        return Ok(false); // Not a storage matter; the differential test covers it.
    };
    let engine = Engine::new(options);
    let ours = outcome(eval(&engine, &expr, memory))?;
    let remote = outcome(eval(&engine, &expr, remote))?;
    let ordered = query.starts_with("sort(") || query.starts_with("sort_desc(");
    match (&remote, &ours) {
        (Outcome::Error { message: a, .. }, Outcome::Error { message: b, .. }) if a != b => {
            Err(format!("error over remote read: {a}\nover memory: {b}"))
        }
        _ => compare(&remote, &ours, ordered)
            .map(|()| ours.has_data())
            .map_err(|e| e.replace("ours", "remote").replace("prometheus", "memory")),
    }
}

fn outcome(result: Result<promql_engine::QueryResult, EvalError>) -> Result<Outcome, String> {
    match result {
        Ok(r) => Outcome::from_api_json(&api_json::success_json(&r.value, &[], &[], None)),
        Err(e) => Ok(Outcome::Error {
            kind: "execution".into(),
            message: e.to_string(),
        }),
    }
}

/// A query through a storage, which must fail with a storage error whose
/// message contains each of `expected`.
fn expect_storage_error(storage: &RemoteReadStorage, expected: &[&str]) -> Result<(), String> {
    let expr = parse_with(EVERYTHING, &ParseOptions::new()).map_err(|e| e.to_string())?;
    match Engine::new(EngineOptions::default()).instant(storage, &expr, EVERYTHING_AT_MS) {
        Ok(r) => Err(format!(
            "a broken response gave a result ({} series) instead of an error",
            match &r.value {
                promql_engine::model::Value::Vector(v) => v.len(),
                _ => 0,
            }
        )),
        Err(EvalError::Storage(e)) => {
            let text = e.to_string();
            let missing: Vec<&&str> = expected.iter().filter(|s| !text.contains(**s)).collect();
            if missing.is_empty() {
                println!("remote read: as expected: {text}");
                Ok(())
            } else {
                Err(format!("error {text:?} does not mention {missing:?}"))
            }
        }
        Err(e) => Err(format!("not a storage error: {e}")),
    }
}

/// `promql query --remote-read URL` prints what `promql query --data FILE` does.
fn cli_cases(data: &Path, url: &str) -> Vec<(String, Result<(), String>)> {
    let Some(bin) = option_env!("CARGO_BIN_EXE_promql") else {
        println!("remote read: CLI cases skipped (the `cli` feature is off)");
        return Vec::new();
    };
    let run = |source: [&str; 2], args: &[&str]| -> Result<String, String> {
        let out = std::process::Command::new(bin)
            .args(["query"])
            .args(args.get(..1).unwrap_or_default())
            .args(source)
            .args(args.get(1..).unwrap_or_default())
            .output()
            .map_err(|e| format!("cannot run {bin}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{bin} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| e.to_string())
    };
    let data = data.to_string_lossy();
    let calls: [&[&str]; 3] = [
        &[
            "instant",
            "--time",
            "1700005020",
            "--output",
            "json",
            "sum by (job) (rate(http_requests_total[5m]))",
        ],
        &[
            "range",
            "--start",
            "1700003940",
            "--end",
            "1700011140",
            "--step",
            "5m",
            "--output",
            "json",
            "max_over_time(up[10m])",
        ],
        &[
            "instant",
            "--time",
            "1700007540",
            "--output",
            "table",
            "topk(3, node_memory_available_bytes)",
        ],
    ];
    calls
        .iter()
        .map(|args| {
            let case = format!("cli: promql query {}", args.join(" "));
            let result = run(["--remote-read", url], args).and_then(|remote| {
                let local = run(["--data", &data], args)?;
                if remote == local && !remote.trim().is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "--remote-read printed\n{remote}\n--data printed\n{local}"
                    ))
                }
            });
            (case, result)
        })
        .collect()
}

/// The failure paths; the last one kills `server`.
fn failure_cases(server: &Prometheus, url: &str) -> Vec<(String, Result<(), String>)> {
    let mut cases = Vec::new();
    let storage_via = |port: u16, rt: ResponseType| {
        RemoteReadStorage::builder(format!("http://127.0.0.1:{port}/api/v1/read"))
            .timeout(Duration::from_secs(20))
            .response_type(rt)
            .build()
            .map_err(|e| e.to_string())
    };
    for rt in RESPONSE_TYPES {
        for percent in [0, 30, 70, 99] {
            let case = format!("{rt:?} response cut at {percent}%");
            // 0% relays one byte (inside the status line); the others cut the body.
            let what = match (percent, rt) {
                (0, _) => "request failed",
                (_, ResponseType::Samples) => "SAMPLES response interrupted or incomplete",
                _ => "chunked response stream failed: connection lost while reading frame",
            };
            let result = proxy::CutProxy::start(server.port(), percent, None).and_then(|p| {
                let storage = storage_via(p.port(), rt)?;
                expect_storage_error(&storage, &["remote read from", "/api/v1/read", what])
            });
            cases.push((case, result));
        }
    }
    // A response that arrives too slowly is a timeout.
    let case = "slow response is a timeout".to_string();
    let result = proxy::CutProxy::start_stalling(server.port()).and_then(|p| {
        let storage =
            RemoteReadStorage::builder(format!("http://127.0.0.1:{}/api/v1/read", p.port()))
                .timeout(Duration::from_millis(500))
                .build()
                .map_err(|e| e.to_string())?;
        expect_storage_error(&storage, &["storage timeout", "remote read from"])
    });
    cases.push((case, result));

    let pid = server.pid();
    let case = format!("prometheus (pid {pid}) killed mid-response");
    let result = proxy::CutProxy::start(server.port(), 50, Some(pid)).and_then(|p| {
        let storage = storage_via(p.port(), ResponseType::StreamedXorChunks)?;
        expect_storage_error(&storage, &["remote read from"])
    });
    cases.push((case, result));

    let case = "query to the killed prometheus".to_string();
    let result = RemoteReadStorage::new(url.to_string())
        .map_err(|e| e.to_string())
        .and_then(|s| expect_storage_error(&s, &["storage error", url]));
    cases.push((case, result));
    cases
}
