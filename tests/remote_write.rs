//! Remote write and rules over remote storage against a real Prometheus
//! (2.42, as Debian packages it), started over a TSDB built from
//! `testdata/demo/demo.om` with `--web.enable-remote-write-receiver` and
//! `--enable-feature=native-histograms`.
//!
//! (a) The recording rules of `testdata/demo/rules/performance.rules.yml`,
//!     evaluated over remote read and written with remote write (through
//!     the library, then through `promql rules eval --remote-read
//!     --remote-write`), are queried back from `/api/v1/query` and must equal
//!     the same rules evaluated over the file in memory (relative 1e-9).
//! (b) A sample Prometheus refuses (out of bounds: older than its head) gives
//!     a 400 that is not retried and is reported with counts and message.
//! (c) 503 and 429 answers (from a proxy that fails the first requests) are
//!     retried with backoff, then the samples arrive.
//! (e) A native histogram, written as a float and as an integer histogram,
//!     is answered by `/api/v1/query` as our engine answers it in memory.
//! (d) Once the server is stopped, writing fails with a clear error and
//!     failure counts (library and CLI), without a panic.
//!
//! Skipped, with a notice, when `prometheus` or `promtool` is not on `PATH`
//! or `PROMQL_SKIP_REMOTE=1`. Prints `remote write: N passed, N failed`.

#[path = "remote/flaky.rs"]
mod flaky;
#[path = "differential/prometheus.rs"]
mod prometheus;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flaky::FlakyProxy;
use prometheus::Prometheus;
use promql_engine::Engine;
use std::sync::Arc;

use promql_engine::model::api_json;
use promql_engine::model::{BucketSpan, FloatHistogram, Labels, Matcher};
use promql_engine::rules::eval::{Discard, Group, GroupOptions, OverlayStore};
use promql_engine::rules::{LoadOptions, load_rule_file};
use promql_engine::storage::load::load_data;
use promql_engine::storage::remote::{
    HistogramEncoding, RemoteReadStorage, RemoteWriteClient, RemoteWriteError, RetryPolicy,
    WriteFailure,
};
use promql_engine::storage::{Appender, MemoryStorage, SelectHints, Storage};

const DATA: &str = "testdata/demo/demo.om";
const RULES: &str = "testdata/demo/rules/performance.rules.yml";
/// Evaluation times (ms): after the last block of the TSDB (the head
/// accepts them) and within the lookback of the last samples.
const LIBRARY_AT: i64 = 1_700_010_800_000;
const CLI_AT: i64 = 1_700_010_830_000;
/// Times of the retry cases' samples (in order per series).
const RETRY_AT: i64 = 1_700_010_900_000;
/// Older than the TSDB's head: Prometheus refuses it as out of bounds.
const TOO_OLD: i64 = 1_700_000_000_000;

fn main() -> ExitCode {
    prometheus::harness_main("remote write", "PROMQL_SKIP_REMOTE", run)
}

type Case = (String, Result<(), String>);

fn run(prometheus: &Path, promtool: &Path) -> Result<bool, String> {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let server = Prometheus::start_with_args(
        prometheus,
        promtool,
        &root.join(DATA),
        &[
            "--web.enable-remote-write-receiver",
            "--enable-feature=native-histograms",
        ],
    )?;
    let base = format!("http://127.0.0.1:{}", server.port());
    println!(
        "remote write: prometheus {} (pid {}) at {base}, ready after {:.1}s",
        server.version(),
        server.pid(),
        started.elapsed().as_secs_f64()
    );
    let memory = load_memory(&root.join(DATA))?;
    let rules = std::fs::read_to_string(root.join(RULES)).map_err(|e| e.to_string())?;

    let mut cases: Vec<Case> = vec![
        (
            "(a) library: rules over remote read, outputs by remote write, queried back".into(),
            library_round_trip(&server, &base, &memory, &rules),
        ),
        (
            "(a) cli: promql rules eval --remote-read --remote-write, queried back".into(),
            cli_round_trip(&server, &base, &memory, &rules, &root),
        ),
        (
            "(b) an out-of-bounds sample is refused with 400, not retried, counted".into(),
            refused_not_retried(&base),
        ),
    ];
    for (what, failures) in [
        ("503", vec!["503 Service Unavailable\r\n".to_string(); 3]),
        (
            "429 with Retry-After",
            vec!["429 Too Many Requests\r\nRetry-After: 1\r\n".to_string(); 1],
        ),
    ] {
        let case = format!("(c) {what} answers are retried with backoff and then delivered");
        cases.push((case, retried_then_delivered(&server, failures)));
    }
    for encoding in [
        HistogramEncoding::IntegerWhenExact,
        HistogramEncoding::Float,
    ] {
        cases.push((
            format!("(e) a native histogram written with {encoding:?} encoding, queried back"),
            histogram_round_trip(&server, &base, encoding),
        ));
    }
    let dead = base.clone();
    drop(server);
    cases.push((
        "(d) library: a stopped server gives a clear error with counts".into(),
        stopped_server_library(&dead),
    ));
    cases.push((
        "(d) cli: a stopped server makes `rules eval --remote-write` exit 1 with counts".into(),
        stopped_server_cli(&dead, &root),
    ));

    let mut failed = 0;
    for (case, result) in &cases {
        match result {
            Ok(()) => println!("ok     {case}"),
            Err(e) => {
                failed += 1;
                println!("FAILED {case}\n    {e}");
            }
        }
    }
    println!(
        "remote write: {} passed, {failed} failed",
        cases.len() - failed
    );
    Ok(failed == 0)
}

fn load_memory(path: &Path) -> Result<MemoryStorage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut storage = MemoryStorage::new();
    load_data(&bytes, &mut storage, 0).map_err(|e| format!("{}: {e}", path.display()))?;
    storage.commit();
    Ok(storage)
}

fn groups(rules: &str) -> Result<Vec<Group>, String> {
    let loaded = load_rule_file(rules, &LoadOptions::default());
    let file = loaded.file.ok_or_else(|| format!("{:?}", loaded.errors))?;
    Ok(file
        .groups
        .iter()
        .map(|g| Group::new(g, RULES, &GroupOptions::default()))
        .collect())
}

/// The outputs of the rules evaluated at `t` over the file in memory:
/// (labels text, value), sorted.
fn expected_outputs(
    memory: &MemoryStorage,
    rules: &str,
    t: i64,
) -> Result<Vec<(String, f64)>, String> {
    let mut store = OverlayStore::new(memory, Discard);
    for mut group in groups(rules)? {
        group.eval(&Engine::default(), &mut store, t);
    }
    let outputs = store.outputs();
    let mut out = Vec::new();
    let all = [
        Matcher::new(promql_engine::model::MatchOp::Regex, "__name__", ".+")
            .map_err(|e| e.to_string())?,
    ];
    for s in outputs
        .select(&all, &SelectHints::window(t, t))
        .map_err(|e| e.to_string())?
    {
        for p in s.floats.iter() {
            out.push((s.labels.to_string(), p.v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The samples Prometheus holds at exactly `t` for every recorded series
/// (a range selector, so that the sample timestamps are shown), sorted.
fn queried_back(server: &Prometheus, t: i64) -> Result<Vec<(String, f64)>, String> {
    let (status, body) = server.query(r#"{__name__=~"job:.+|instance:.+"}[1s]"#, t)?;
    if status != 200 {
        return Err(format!("query failed ({status}): {body}"));
    }
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for s in json["data"]["result"].as_array().ok_or("no result")? {
        let mut pairs: Vec<(String, String)> = s["metric"]
            .as_object()
            .ok_or("no metric")?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        pairs.sort();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let labels = Labels::from_pairs(&refs);
        let [point] = s["values"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        else {
            return Err(format!("{labels}: not one sample in the last second: {s}"));
        };
        let v: f64 = point[1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .ok_or("bad value")?;
        let sample_t = point[0].as_f64().ok_or("bad time")?;
        if (sample_t * 1000.0).round() as i64 != t {
            return Err(format!("{labels} has a sample at {sample_t}, not {t}"));
        }
        out.push((labels.to_string(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Prometheus' answer for the recorded series at `t` equals the local
/// evaluation (values within a relative 1e-9; only series written at `t`).
fn same_as_local(
    server: &Prometheus,
    memory: &MemoryStorage,
    rules: &str,
    t: i64,
) -> Result<usize, String> {
    let want = expected_outputs(memory, rules, t)?;
    let got = queried_back(server, t)?;
    let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    let same = want.len() == got.len()
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| w.0 == g.0 && close(w.1, g.1));
    if same && !want.is_empty() {
        Ok(want.len())
    } else {
        Err(format!(
            "local evaluation gave\n{want:?}\nprometheus answers\n{got:?}"
        ))
    }
}

fn library_round_trip(
    server: &Prometheus,
    base: &str,
    memory: &MemoryStorage,
    rules: &str,
) -> Result<(), String> {
    let read = RemoteReadStorage::builder(format!("{base}/api/v1/read"))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let client = RemoteWriteClient::builder(format!("{base}/api/v1/write"))
        .timeout(Duration::from_secs(30))
        .max_samples_per_send(4)
        .build()
        .map_err(|e| e.to_string())?;
    let mut store = OverlayStore::new(&read, client.appender());
    let mut samples = 0;
    for mut group in groups(rules)? {
        let summary = group.eval(&Engine::default(), &mut store, LIBRARY_AT);
        if summary.failed_rules > 0 {
            let errors: Vec<String> = group
                .rules
                .iter()
                .filter_map(|r| r.last_error.as_ref().map(|e| format!("{}: {e}", r.name())))
                .collect();
            return Err(format!("rules failed: {errors:?}"));
        }
        samples += summary.samples;
    }
    let stats = store.sink_mut().flush().map_err(|e| e.to_string())?;
    if stats.samples_sent != samples as u64 || stats.requests != (samples as u64).div_ceil(4) {
        return Err(format!("{samples} outputs but {stats}"));
    }
    let n = same_as_local(server, memory, rules, LIBRARY_AT)?;
    println!("remote write: library: {n} series queried back; {stats}");
    Ok(())
}

fn promql_bin() -> Option<&'static str> {
    option_env!("CARGO_BIN_EXE_promql")
}

fn cli_round_trip(
    server: &Prometheus,
    base: &str,
    memory: &MemoryStorage,
    rules: &str,
    root: &Path,
) -> Result<(), String> {
    let Some(bin) = promql_bin() else {
        println!("remote write: CLI case skipped (the `cli` feature is off)");
        return Ok(());
    };
    let out = std::process::Command::new(bin)
        .args(["rules", "eval", "--remote-read"])
        .arg(format!("{base}/api/v1/read"))
        .arg("--remote-write")
        .arg(format!("{base}/api/v1/write"))
        .args(["--at", &(CLI_AT / 1000).to_string()])
        .arg(root.join(RULES))
        .output()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("promql rules eval failed: {stderr}"));
    }
    if !stderr.contains("1 requests (0 retries); sent 15 samples") {
        return Err(format!("unexpected report: {stderr}"));
    }
    let n = same_as_local(server, memory, rules, CLI_AT)?;
    println!(
        "remote write: cli: {n} series queried back; {}",
        stderr.trim()
    );
    Ok(())
}

fn refused_not_retried(base: &str) -> Result<(), String> {
    let client = RemoteWriteClient::builder(format!("{base}/api/v1/write"))
        .retry(RetryPolicy {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_attempts: 5,
        })
        .build()
        .map_err(|e| e.to_string())?;
    let mut appender = client.appender();
    let labels = Labels::from_pairs(&[("__name__", "promql_test_too_old")]);
    appender
        .append(&labels, TOO_OLD, 1.0)
        .map_err(|e| e.to_string())?;
    match appender.flush() {
        Ok(stats) => Err(format!("an out-of-bounds sample was accepted: {stats}")),
        Err(e) => {
            let text = e.to_string();
            let RemoteWriteError::Failed {
                failure:
                    WriteFailure::Rejected {
                        status: 400,
                        message,
                    },
                stats,
                ..
            } = &e
            else {
                return Err(format!("not a 400 refusal: {text}"));
            };
            if stats.requests != 1 || stats.retries != 0 || stats.samples_failed != 1 {
                return Err(format!("wrong counts: {text}"));
            }
            if !message.contains("out of bounds") {
                return Err(format!("server message missing: {text}"));
            }
            println!("remote write: as expected: {text}");
            Ok(())
        }
    }
}

fn retried_then_delivered(server: &Prometheus, failures: Vec<String>) -> Result<(), String> {
    let injected = failures.len();
    let proxy = FlakyProxy::start(server.port(), failures)?;
    let client =
        RemoteWriteClient::builder(format!("http://127.0.0.1:{}/api/v1/write", proxy.port()))
            .retry(RetryPolicy {
                min_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                max_attempts: 6,
            })
            .build()
            .map_err(|e| e.to_string())?;
    let mut appender = client.appender();
    let name = format!("promql_test_retried_{}", proxy.port());
    let labels = Labels::from_pairs(&[("__name__", &name)]);
    let started = Instant::now();
    appender
        .append(&labels, RETRY_AT, 42.0)
        .map_err(|e| e.to_string())?;
    let stats = appender.flush().map_err(|e| e.to_string())?;
    let waited = started.elapsed();
    if stats.retries != injected as u64
        || stats.requests != injected as u64 + 1
        || stats.samples_sent != 1
        || stats.samples_retried != injected as u64
        || proxy.requests() != injected + 1
    {
        return Err(format!(
            "unexpected counts after {injected} failures: {stats}"
        ));
    }
    // 3 × 503: backoff 20 + 40 + 80 ms; 429 with Retry-After: 1 s.
    let least = if injected == 1 {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(140)
    };
    if waited < least {
        return Err(format!(
            "retried after {waited:?}, before the backoff of {least:?}"
        ));
    }
    let (status, body) = server.query(&name, RETRY_AT)?;
    if status != 200 || !body.contains(r#""42""#) {
        return Err(format!(
            "sample not found after the retries ({status}): {body}"
        ));
    }
    println!("remote write: {stats} in {waited:?}");
    Ok(())
}

fn stopped_server_library(base: &str) -> Result<(), String> {
    let client = RemoteWriteClient::builder(format!("{base}/api/v1/write"))
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy {
            min_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_attempts: 3,
        })
        .build()
        .map_err(|e| e.to_string())?;
    let mut appender = client.appender();
    let labels = Labels::from_pairs(&[("__name__", "promql_test_dead")]);
    for i in 0..3 {
        appender
            .append(&labels, RETRY_AT + i * 1000, 1.0)
            .map_err(|e| e.to_string())?;
    }
    match appender.flush() {
        Ok(stats) => Err(format!("writing to a stopped server succeeded: {stats}")),
        Err(e) => {
            let text = e.to_string();
            let ok = matches!(
                &e,
                RemoteWriteError::Failed {
                    failure: WriteFailure::RetriesExhausted { attempts: 3, .. },
                    ..
                }
            ) && e
                .stats()
                .is_some_and(|s| s.samples_failed == 3 && s.requests == 3)
                && text.contains(base)
                && text.contains("request failed");
            if ok {
                println!("remote write: as expected: {text}");
                Ok(())
            } else {
                Err(format!("unclear error: {text}"))
            }
        }
    }
}

fn stopped_server_cli(base: &str, root: &Path) -> Result<(), String> {
    let Some(bin) = promql_bin() else {
        return Ok(());
    };
    let out = std::process::Command::new(bin)
        .args(["rules", "eval", "--data"])
        .arg(root.join(DATA))
        .arg("--remote-write")
        .arg(format!("{base}/api/v1/write"))
        .args([
            "--remote-write-attempts",
            "2",
            "--at",
            &(CLI_AT / 1000).to_string(),
        ])
        .arg(root.join(RULES))
        .output()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let printed = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(1)
        && stderr.contains("gave up after 2 attempts")
        && stderr.contains("failed 15 samples")
        && printed.contains("job:http_requests:rate5m")
        && !stderr.contains("panicked")
    {
        println!("remote write: as expected: {}", stderr.trim());
        Ok(())
    } else {
        Err(format!("exit {:?}, stderr: {stderr}", out.status.code()))
    }
}

/// Writes a native histogram and queries it back: Prometheus' answer must
/// equal our engine's answer over the same histogram in memory. (Prometheus
/// 2.42's remote read leaves histograms out, so the query API is used.)
fn histogram_round_trip(
    server: &Prometheus,
    base: &str,
    encoding: HistogramEncoding,
) -> Result<(), String> {
    let h = Arc::new(FloatHistogram {
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 2.0,
        count: 14.0,
        sum: 18.5,
        positive_spans: vec![
            BucketSpan {
                offset: 0,
                length: 2,
            },
            BucketSpan {
                offset: 2,
                length: 1,
            },
        ],
        positive_buckets: vec![3.0, 5.0, 1.0],
        negative_spans: vec![BucketSpan {
            offset: 1,
            length: 1,
        }],
        negative_buckets: vec![3.0],
        ..FloatHistogram::default()
    });
    let client = RemoteWriteClient::builder(format!("{base}/api/v1/write"))
        .histogram_encoding(encoding)
        .retry(RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        })
        .build()
        .map_err(|e| e.to_string())?;
    let name = format!("promql_test_histogram_{encoding:?}").to_lowercase();
    let labels = Labels::from_pairs(&[("__name__", &name)]);
    let mut appender = client.appender();
    appender
        .append_histogram(&labels, RETRY_AT, Arc::clone(&h))
        .map_err(|e| e.to_string())?;
    let stats = appender.flush().map_err(|e| e.to_string())?;
    if stats.histograms_sent != 1 {
        return Err(format!("unexpected counts: {stats}"));
    }
    let (status, body) = server.query(&name, RETRY_AT)?;
    let theirs: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let mut memory = MemoryStorage::new();
    memory.add_histogram(&labels, RETRY_AT, h);
    memory.commit();
    let expr = promql_engine::parse(&name).map_err(|e| e.to_string())?;
    let ours = Engine::default()
        .instant(&memory, &expr, RETRY_AT)
        .map_err(|e| e.to_string())?;
    let ours: serde_json::Value =
        serde_json::from_str(&api_json::success_json(&ours.value, &[], &[], None))
            .map_err(|e| e.to_string())?;
    let result = &theirs["data"]["result"];
    if status == 200
        && result.as_array().is_some_and(|r| r.len() == 1)
        && *result == ours["data"]["result"]
    {
        Ok(())
    } else {
        Err(format!("prometheus answers {body}\nours: {ours}"))
    }
}
