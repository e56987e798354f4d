//! Conformance runner: every `*.test` script in `testdata/promqltest/` and in
//! `../shared/promqltest/` (the upstream Prometheus scripts, when present).
//!
//! Cases listed in `testdata/promqltest/KNOWN_FAILURES` (`file:line reason`)
//! may fail. The run fails when an unlisted case fails, and when a listed
//! case passes (so the list only shrinks). Reasons starting with `[auto]`
//! were written by a bless run and are refreshed by the next one; other
//! reasons are kept.
//!
//! Environment:
//! - `PROMQLTEST_BLESS=1` rewrites `KNOWN_FAILURES` from this run's results.
//! - `PROMQLTEST_FILTER=text` runs only files whose name contains `text`.
//! - `PROMQLTEST_VERBOSE=1` prints every failure, not only unexpected ones.
//! - `PROMQLTEST_THREADS=n` evaluates with `EngineOptions::threads = n`.
//! - `PROMQLTEST_SHARED_DIR=path` reads the upstream scripts from `path`.
//! - `PROMQLTEST_COMPRESSED=1` runs over a compressed `MemoryStorage`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use promql_engine::promqltest::{CaseResult, Command, RunOptions, Script, ScriptReport};

const KNOWN_FAILURES: &str = "testdata/promqltest/KNOWN_FAILURES";
/// Name of the threads that run scripts.
const WORKER: &str = "promqltest-worker";
/// A script still running after this long is reported as failed.
const FILE_TIMEOUT: Duration = Duration::from_secs(300);

fn script_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
}

/// `file:line` -> reason.
fn read_known_failures(root: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root.join(KNOWN_FAILURES)).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((k, r)) => (k.to_string(), r.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Prefix of reasons written by a bless run; these are refreshed by the next
/// bless, hand-written reasons are kept.
const AUTO: &str = "[auto]";

/// A one-line reason for the list: the failure message without the query
/// text and line number (the key already identifies the case).
fn short_reason(message: &str, expr: &str, line: usize) -> String {
    let message = message
        .replace(&format!("{expr:?}"), "<query>")
        .replace(expr, "<query>")
        .replace(&format!(" (line {line})"), "");
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = one_line.len().min(120);
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{AUTO} {}", &one_line[..end])
}

/// Runs one file in a worker thread, so a hanging query cannot stop the suite.
fn run_file(text: String) -> Result<ScriptReport, String> {
    let script = Script::parse(&text).map_err(|e| e.to_string())?;
    let evals: Vec<(usize, String)> = script
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Eval(e) => Some((e.line, e.expr.clone())),
            _ => None,
        })
        .collect();
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(WORKER.into())
        .spawn(move || {
            let mut options = RunOptions::default();
            options.compressed_storage = std::env::var_os("PROMQLTEST_COMPRESSED").is_some();
            // PROMQLTEST_THREADS=n evaluates with n worker threads
            // (EngineOptions::threads); results must not change.
            if let Some(n) = std::env::var("PROMQLTEST_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                options.engine.threads = n;
            }
            let _ = tx.send(script.run(&options));
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start a worker thread: {e}"));
    }
    match rx.recv_timeout(FILE_TIMEOUT) {
        Ok(report) => Ok(report),
        Err(_) => Ok(ScriptReport {
            cases: evals
                .into_iter()
                .map(|(line, expr)| CaseResult {
                    line,
                    expr,
                    failure: Some(format!("script timed out after {FILE_TIMEOUT:?}")),
                })
                .collect(),
        }),
    }
}

/// Sorts `file:line` keys by file, then numerically by line.
fn sort_key(key: &str) -> (String, usize) {
    match key.rsplit_once(':') {
        Some((f, l)) => (f.to_string(), l.parse().unwrap_or(0)),
        None => (key.to_string(), 0),
    }
}

fn write_known_failures(
    root: &Path,
    known: &BTreeMap<String, String>,
    failures_now: BTreeMap<String, String>,
    files_run: &[String],
) -> std::io::Result<()> {
    // Keep entries of files not run (filtered out or absent), refresh the rest.
    let mut out: BTreeMap<String, String> = known
        .iter()
        .filter(|(k, _)| {
            !files_run
                .iter()
                .any(|f| k.rsplit_once(':').is_some_and(|(file, _)| file == f))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, reason) in failures_now {
        let reason = known
            .get(&k)
            .filter(|r| !r.is_empty() && !r.starts_with(AUTO))
            .cloned()
            .unwrap_or(reason);
        out.insert(k, reason);
    }
    let mut entries: Vec<_> = out.into_iter().collect();
    entries.sort_by_key(|(k, _)| sort_key(k));
    let mut text = String::from(
        "# promqltest cases known to fail: `file:line reason`.\n# Regenerate with: PROMQLTEST_BLESS=1 cargo test --test promqltest\n",
    );
    for (k, r) in entries {
        text.push_str(&format!("{k} {r}\n"));
    }
    std::fs::write(root.join(KNOWN_FAILURES), text)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let env_on = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
    let (bless, verbose) = (env_on("PROMQLTEST_BLESS"), env_on("PROMQLTEST_VERBOSE"));
    let filter = std::env::var("PROMQLTEST_FILTER").unwrap_or_default();
    // Engine panics are caught per case and reported as failures; keep the
    // output readable by silencing them, but only on the worker threads.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some(WORKER) {
            default_hook(info);
        }
    }));

    let mut files = script_files(&root.join("testdata/promqltest"));
    let shared = std::env::var_os("PROMQLTEST_SHARED_DIR")
        .map_or_else(|| root.join("../shared/promqltest"), PathBuf::from);
    if shared.is_dir() {
        files.extend(script_files(&shared));
    } else {
        println!(
            "note: {} not found; running only this crate's scripts",
            shared.display()
        );
    }
    files.retain(|f| f.to_string_lossy().contains(&filter));

    let known = read_known_failures(&root);
    let mut failures_now: BTreeMap<String, String> = BTreeMap::new();
    let mut unexpected_failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    let mut files_run = Vec::new();
    let (mut total_pass, mut total_fail) = (0, 0);

    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        files_run.push(name.clone());
        let report = match std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(run_file)
        {
            Ok(r) => r,
            Err(e) => {
                // The whole script is unusable: one failure at line 0.
                let key = format!("{name}:0");
                println!("{name}: 0 passed, 1 failed ({e})");
                total_fail += 1;
                if !known.contains_key(&key) {
                    unexpected_failures.push(format!("{key} {e}"));
                }
                failures_now.insert(key, short_reason(&e, "", 0));
                continue;
            }
        };
        for case in &report.cases {
            let key = format!("{name}:{}", case.line);
            match &case.failure {
                Some(msg) => {
                    if !known.contains_key(&key) {
                        unexpected_failures.push(format!("{key} {}: {msg}", case.expr));
                    } else if verbose {
                        println!("  known failure {key} {}: {msg}", case.expr);
                    }
                    failures_now.insert(key, short_reason(msg, &case.expr, case.line));
                }
                None if known.contains_key(&key) => unexpected_passes.push(key),
                None => {}
            }
        }
        println!(
            "{name}: {} passed, {} failed",
            report.passed(),
            report.failed()
        );
        total_pass += report.passed();
        total_fail += report.failed();
    }
    for key in known.keys() {
        // Entries for lines that are no longer cases (e.g. a script changed) also count as stale.
        let file_ran = key
            .rsplit_once(':')
            .is_some_and(|(f, _)| files_run.iter().any(|r| r == f));
        if file_ran && !failures_now.contains_key(key) && !unexpected_passes.contains(key) {
            unexpected_passes.push(key.clone());
        }
    }
    println!("total: {total_pass} passed, {total_fail} failed");

    if bless {
        if let Err(e) = write_known_failures(&root, &known, failures_now, &files_run) {
            eprintln!("cannot write {KNOWN_FAILURES}: {e}");
            std::process::exit(1);
        }
        println!("blessed: {KNOWN_FAILURES} rewritten");
        return;
    }

    let mut ok = true;
    if !unexpected_failures.is_empty() {
        ok = false;
        println!(
            "\n{} unexpected failures (not in {KNOWN_FAILURES}):",
            unexpected_failures.len()
        );
        for f in &unexpected_failures {
            println!("  {f}");
        }
    }
    if !unexpected_passes.is_empty() {
        ok = false;
        println!(
            "\n{} entries of {KNOWN_FAILURES} no longer fail; remove them:",
            unexpected_passes.len()
        );
        for p in &unexpected_passes {
            println!("  {p}");
        }
    }
    if !ok {
        println!("\n(PROMQLTEST_BLESS=1 rewrites the list from this run)");
        std::process::exit(1);
    }
}
