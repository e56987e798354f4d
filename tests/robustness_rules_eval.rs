//! `promql rules eval` and `promql rules run` on hostile flags and rule
//! files: a clear error (exit 2 for a bad command line, 1 for bad input),
//! never a panic (exit 101) or a hang; and the bound `--keep-outputs` relies
//! on keeps the outputs of a long run from growing.
#![cfg(feature = "cli")]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use promql_engine::Engine;
use promql_engine::model::Labels;
use promql_engine::rules::eval::{Discard, Group, GroupOptions, OverlayStore};
use promql_engine::rules::{LoadOptions, load_rule_file};
use promql_engine::storage::MemoryStorage;

const DATA: &str = "testdata/demo/demo.om";
/// Inside the demo data.
const AT: &str = "1700007540";
const AT_MS: i64 = 1_700_007_540_000;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `promql` with `args`; a run longer than `limit` is a hang: the
/// child is killed and the test fails.
fn promql_within(args: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promql"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the promql binary runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("promql {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert_ne!(
        run.code,
        Some(101),
        "promql {args:?} panicked: {}",
        run.stderr
    );
    run
}

fn promql(args: &[&str]) -> Run {
    promql_within(args, Duration::from_secs(60))
}

/// A rule file written to a fresh temporary path.
fn rule_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promql-robustness-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn one_rule(name: &str, interval: &str) -> String {
    let path = rule_file(
        name,
        &format!(
            "groups:\n- name: g\n  interval: {interval}\n  rules:\n  - record: up:sum\n    expr: sum(up)\n"
        ),
    );
    path.to_string_lossy().into_owned()
}

/// Evaluation timestamps (seconds) of a `--output json` run.
fn times(run: &Run) -> Vec<f64> {
    run.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["timestamp"].as_f64().unwrap()
        })
        .collect()
}

#[test]
fn bad_at_and_start_values_are_usage_errors_naming_the_flag() {
    let rules = one_rule("at.yml", "1m");
    for at in [
        "abc",
        "",
        "NaN",
        "inf",
        "-inf",
        "1e400",
        "9.3e15",
        "-9.3e15",
        "2023-13-45T00:00:00Z",
        "1700000000s",
    ] {
        let at_flag = format!("--at={at}");
        let start_flag = format!("--start={at}");
        let run = promql(&["rules", "eval", "--data", DATA, &at_flag, &rules]);
        assert_eq!(run.code, Some(2), "--at {at:?}: {}", run.stderr);
        assert!(run.stderr.contains("--at: "), "--at {at:?}: {}", run.stderr);
        let run = promql(&[
            "rules",
            "run",
            "--data",
            DATA,
            &start_flag,
            "--iterations",
            "1",
            &rules,
        ]);
        assert_eq!(run.code, Some(2), "--start {at:?}: {}", run.stderr);
        assert!(run.stderr.contains("--start: "), "{}", run.stderr);
    }
}

#[test]
fn extreme_but_valid_times_evaluate() {
    let rules = one_rule("far.yml", "1m");
    for at in [
        "-9.1e15",
        "9.1e15",
        "0",
        "-1",
        "0.0005",
        "1970-01-01T00:00:00Z",
    ] {
        let (at_flag, start_flag) = (format!("--at={at}"), format!("--start={at}"));
        let run = promql(&["rules", "eval", "--data", DATA, &at_flag, &rules]);
        assert_eq!(run.code, Some(0), "--at {at}: {}", run.stderr);
        assert!(run.stdout.contains("group \"g\""), "{}", run.stdout);
        let run = promql(&[
            "rules",
            "run",
            "--data",
            DATA,
            &start_flag,
            "--iterations",
            "3",
            &rules,
        ]);
        assert_eq!(run.code, Some(0), "--start {at}: {}", run.stderr);
        assert!(
            run.stderr.contains("done after 3 evaluations"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn empty_rule_files_evaluate_nothing_and_exit_at_once() {
    for (name, text) in [
        ("empty.yml", ""),
        ("comment.yml", "# nothing here\n"),
        ("nogroups.yml", "groups: []\n"),
    ] {
        let path = rule_file(name, text);
        let path = path.to_string_lossy();
        let run = promql(&["rules", "eval", "--data", DATA, "--at", AT, &path]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{name}");
        // On the wall clock with no bound: nothing is ever due, so it ends.
        let run = promql_within(
            &["rules", "run", "--data", DATA, &path],
            Duration::from_secs(30),
        );
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("done after 0 evaluations"),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn rule_files_with_errors_are_reported_with_file_and_line_and_not_run() {
    for (name, text, want) in [
        (
            "syntax.yml",
            "groups:\n- name: g\n  rules:\n  - record: r\n    expr: sum(\n",
            "syntax.yml: 5:",
        ),
        ("yaml.yml", "groups: [\n", "yaml.yml: "),
        (
            "interval.yml",
            "groups:\n- name: g\n  interval: 1e9y\n  rules:\n  - record: r\n    expr: up\n",
            "interval.yml: ",
        ),
        (
            "overflow.yml",
            "groups:\n- name: g\n  interval: 300000000y\n  rules:\n  - record: r\n    expr: up\n",
            "overflow.yml: ",
        ),
    ] {
        let path = rule_file(name, text);
        let path = path.to_string_lossy();
        for args in [
            vec!["rules", "eval", "--data", DATA, "--at", AT, &path],
            vec!["rules", "run", "--data", DATA, &path],
        ] {
            let run = promql(&args);
            assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
            assert!(run.stderr.contains(want), "{name}: {}", run.stderr);
            assert_eq!(run.stdout, "", "{name}");
        }
    }
}

#[test]
fn an_interval_near_the_end_of_time_runs_once_on_the_wall_clock() {
    // Found by the audit: the catch-up loop added the interval twice and
    // overflowed (a panic in debug builds, a jump back in time in release).
    let rules = one_rule("forever.yml", "292000000y");
    let run = promql_within(
        &["rules", "run", "--data", DATA, "--for", "1s", &rules],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("done after 1 evaluations"),
        "{}",
        run.stderr
    );
}

#[test]
fn huge_intervals_on_a_simulated_clock_stop_before_the_end_of_time() {
    // AT + 292000000y still fits in i64 milliseconds; the next one does not,
    // so the group is done after two evaluations, not stuck at i64::MAX.
    let rules = one_rule("huge.yml", "292000000y");
    let run = promql(&[
        "rules",
        "run",
        "--data",
        DATA,
        "--start",
        AT,
        "--iterations",
        "5",
        "--output",
        "json",
        &rules,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let interval_s = 292_000_000.0 * 31_536_000.0;
    let at: f64 = AT.parse().unwrap();
    assert_eq!(times(&run), vec![at, at + interval_s]);

    let rules = one_rule("long.yml", "100000y");
    let run = promql(&[
        "rules",
        "run",
        "--data",
        DATA,
        "--start",
        AT,
        "--iterations",
        "3",
        "--output",
        "json",
        &rules,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let year = 31_536_000.0;
    assert_eq!(
        times(&run),
        vec![at, at + 100_000.0 * year, at + 200_000.0 * year]
    );
}

#[test]
fn a_zero_interval_means_the_default_as_in_prometheus() {
    // Found by the audit: `interval: 0s` evaluated every millisecond.
    for zero in ["0s", "0", "0ms"] {
        let rules = one_rule("zero.yml", zero);
        let run = promql(&[
            "rules",
            "run",
            "--data",
            DATA,
            "--start",
            AT,
            "--iterations",
            "3",
            "--output",
            "json",
            &rules,
        ]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let at: f64 = AT.parse().unwrap();
        assert_eq!(times(&run), vec![at, at + 60.0, at + 120.0], "{zero}");
    }
}

#[test]
fn negative_and_malformed_durations_are_usage_errors() {
    let rules = one_rule("durations.yml", "1m");
    for (flag, value) in [
        ("--for", "-300"),
        ("--for", "-5m"),
        ("--for", "5x"),
        ("--for", ""),
        ("--for", "1e300"),
        ("--for", "100000000000y"),
        ("--keep-outputs", "-1"),
        ("--keep-outputs", "1h-"),
        ("--timeout", "-5"),
        ("--timeout", "NaN"),
    ] {
        let run = promql(&[
            "rules",
            "run",
            "--data",
            DATA,
            "--start",
            AT,
            "--iterations",
            "1",
            &format!("{flag}={value}"),
            &rules,
        ]);
        assert_eq!(run.code, Some(2), "{flag} {value:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{flag}: "))
                || run.stderr.contains(&format!("{flag} must not be negative")),
            "{flag} {value:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn zero_and_extreme_bounds_are_honoured() {
    let rules = one_rule("bounds.yml", "1m");
    let base = ["rules", "run", "--data", DATA, "--start", AT];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        args.push(&rules);
        promql(&args)
    };
    let run = with(&["--iterations", "0"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("done after 0 evaluations"),
        "{}",
        run.stderr
    );
    let run = with(&["--for", "0s"]);
    assert!(
        run.stderr.contains("done after 1 evaluations"),
        "{}",
        run.stderr
    );
    let run = with(&["--for", "100000y", "--iterations", "2"]);
    assert!(
        run.stderr.contains("done after 2 evaluations"),
        "{}",
        run.stderr
    );
    let run = with(&["--iterations", "3", "--keep-outputs", "0s"]);
    assert!(
        run.stderr.contains("done after 3 evaluations"),
        "{}",
        run.stderr
    );
    let run = with(&["--iterations", "2", "--keep-outputs", "292000000y"]);
    assert!(
        run.stderr.contains("done after 2 evaluations"),
        "{}",
        run.stderr
    );
    let run = with(&["--iterations", "18446744073709551615", "--for", "3m"]);
    assert!(
        run.stderr.contains("done after 4 evaluations"),
        "{}",
        run.stderr
    );
    let run = with(&["--iterations", "18446744073709551616"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn sigint_on_the_wall_clock_finishes_cleanly() {
    let rules = one_rule("sigint.yml", "1h");
    let mut child = Command::new(env!("CARGO_BIN_EXE_promql"))
        .args(["rules", "run", "--data", DATA, &rules])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Wait for the first evaluation's log line, then interrupt.
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains('\n') {
        if stderr.read(&mut byte).unwrap() == 0 {
            break;
        }
        seen.push(byte[0]);
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(
        rest.contains("rules run: interrupted after 1 evaluations"),
        "{rest}"
    );
}

#[test]
fn forgetting_old_outputs_bounds_what_a_long_run_keeps() {
    // What `rules run --keep-outputs` relies on: outputs older than the
    // window are dropped, so memory stays proportional to the window.
    let text = "groups:\n- name: g\n  interval: 1s\n  rules:\n  - record: r\n    expr: up\n";
    let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
    let mut group = Group::new(&file.groups[0], "f.yml", &GroupOptions::default());
    let mut source = MemoryStorage::new();
    for job in 0..20 {
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", &job.to_string())]);
        source.add(&l, AT_MS, 1.0);
    }
    source.commit();
    let engine = Engine::default();
    let mut store = OverlayStore::new(&source, Discard);
    let keep_ms = 60_000;
    let mut most = 0;
    for i in 0..600 {
        let t = AT_MS + i * 1000;
        group.eval(&engine, &mut store, t);
        if i % 50 == 0 {
            store.forget_outputs_before(t - keep_ms);
        }
        most = most.max(store.outputs().sample_count());
    }
    // 20 series, one sample a second, a 60 s window plus 50 s between trims
    // (the source sample goes stale after 5 minutes, so later outputs stop).
    assert!(most <= 20 * (60 + 50 + 1), "{most}");
    assert!(store.outputs().sample_count() <= 20 * (60 + 50 + 1));
}
