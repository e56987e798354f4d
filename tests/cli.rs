//! Runs the built `promql` binary and checks its output and exit codes.
#![cfg(feature = "cli")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn promql(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promql"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the promql binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn parse_prints_the_canonical_form() {
    let o = promql(&["parse", "sum(rate(x[5m])) by(job)"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "sum by (job) (rate(x[5m]))\n");
}

#[test]
fn parse_reads_stdin_and_prints_json() {
    let o = promql(&["parse", "--json", "-"], Some("up == 0"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["type"], "Binary");
    assert_eq!(v["op"], "eql");
}

#[test]
fn parse_error_has_position_and_caret_and_exit_1() {
    let o = promql(&["parse", "sum(rate(x[5m])"], None);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("1:"), "{err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn experimental_syntax_needs_the_feature_flag() {
    let o = promql(&["parse", "limitk(2, x)"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = promql(
        &[
            "parse",
            "--enable-feature",
            "promql-experimental-functions",
            "limitk(2, x)",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "limitk(2, x)\n");
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(promql(&["parse"], None).status.code(), Some(2));
    assert_eq!(promql(&["no-such-command"], None).status.code(), Some(2));
    assert_eq!(
        promql(&["parse", "--enable-feature", "bogus", "x"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn fmt_pretty_prints_from_stdin() {
    let o = promql(&["fmt"], Some("sum(rate(x[5m])) by (job)\n"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "sum by (job) (rate(x[5m]))\n");
}

#[test]
fn query_instant_json_over_exposition_data() {
    let dir = std::env::temp_dir().join(format!("promql-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.prom");
    std::fs::write(
        &data,
        "# TYPE x counter\nx_total{job=\"a\"} 10 1000000\nx_total{job=\"a\"} 70 1060000\nx_total{job=\"b\"} 5 1060000\n",
    )
    .unwrap();
    let o = promql(
        &[
            "query",
            "instant",
            "--data",
            data.to_str().unwrap(),
            "--time",
            "1060",
            "--output",
            "json",
            "sum(x_total)",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["value"][0], 1060);
    assert_eq!(v["data"]["result"][0]["value"][1], "75");
}

#[test]
fn query_range_over_a_test_script_and_errors_as_json() {
    let dir = std::env::temp_dir().join(format!("promql-cli-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.test");
    std::fs::write(&data, "load 1m\n  up{job=\"a\"} 1 1 0 1\n").unwrap();
    let o = promql(
        &[
            "query",
            "range",
            "--data",
            data.to_str().unwrap(),
            "--start",
            "0",
            "--end",
            "180",
            "--step",
            "1m",
            "--output",
            "json",
            "up == 0",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(
        v["data"]["result"][0]["values"],
        serde_json::json!([[120, "0"]])
    );

    let o = promql(
        &[
            "query",
            "instant",
            "--data",
            data.to_str().unwrap(),
            "--output",
            "json",
            "sum(",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
}

#[test]
fn promqltest_reports_counts_and_exit_code() {
    let dir = std::env::temp_dir().join(format!("promql-cli-pt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.test");
    std::fs::write(&good, "load 1m\n  x 1 2 3\n\neval instant at 2m x\n  x 3\n").unwrap();
    let o = promql(&["promqltest", good.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).ends_with("1 passed, 0 failed\n"),
        "{}",
        stdout(&o)
    );

    let bad = dir.join("bad.test");
    std::fs::write(&bad, "load 1m\n  x 1 2 3\n\neval instant at 2m x\n  x 4\n").unwrap();
    let o = promql(&["promqltest", bad.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("0 passed, 1 failed"), "{}", stdout(&o));
}

#[test]
fn check_rules_matches_promtool_exit_codes_and_output() {
    let dir = std::env::temp_dir().join(format!("promql-cli-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yml");
    std::fs::write(
        &good,
        "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n      - alert: Down\n        expr: up == 0\n        for: 5m\n",
    )
    .unwrap();
    let o = promql(&["check", "rules", good.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("SUCCESS: 2 rules found"),
        "{}",
        stdout(&o)
    );

    let bad = dir.join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n",
    )
    .unwrap();
    let o = promql(&["check", "rules", bad.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("FAILED"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("5:"),
        "error names the line: {}",
        stderr(&o)
    );
}

#[test]
fn series_and_labels_over_demo_data() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/demo.om");
    let o = promql(
        &[
            "series",
            "--data",
            demo,
            "--output",
            "json",
            r#"up{job="api"}"#,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["instance"], "api-1:8080");

    let o = promql(
        &[
            "labels", "--data", demo, "--output", "json", "job", "--match", "up",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["data"], serde_json::json!(["api", "web"]));

    let o = promql(&["labels", "--data", demo, "--output", "table"], None);
    assert!(
        stdout(&o).lines().any(|l| l == "mountpoint"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let o = promql(&["completions", shell], None);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("promql"), "{shell}");
    }
}

#[test]
fn table_output_over_demo_data() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/demo.om");
    let instant = promql(
        &[
            "query",
            "instant",
            "--data",
            demo,
            "--time",
            "2023-11-14T23:30:00Z",
            "--output",
            "table",
            "sum by (job, status) (rate(http_requests_total[5m]))",
        ],
        None,
    );
    assert_eq!(instant.status.code(), Some(0), "{}", stderr(&instant));
    insta::assert_snapshot!("table_instant", stdout(&instant));
    let range = promql(
        &[
            "query",
            "range",
            "--data",
            demo,
            "--start",
            "2023-11-14T23:20:00Z",
            "--end",
            "2023-11-14T23:40:00Z",
            "--step",
            "10m",
            "--output",
            "table",
            "histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))",
        ],
        None,
    );
    assert_eq!(range.status.code(), Some(0), "{}", stderr(&range));
    insta::assert_snapshot!("table_range", stdout(&range));
}

/// Writes a rule file `r.yml` and a unit-test file `t.yml` into a fresh
/// temporary directory named by `tag`; returns the test file's path.
fn unit_test_files(tag: &str, rules: &str, tests: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("promql-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("r.yml"), rules).unwrap();
    let test = dir.join("t.yml");
    std::fs::write(&test, tests).unwrap();
    test
}

#[test]
fn test_rules_runs_promtool_unit_tests() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/demo/rules/seed_rules_test.yml"
    );
    let o = promql(&["test", "rules", seed], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("SUCCESS"), "{}", stdout(&o));

    let test = unit_test_files(
        "ut",
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n",
        "rule_files: [r.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'up{job=\"a\"}'\n        values: '1 1 1'\n    alert_rule_test:\n      - eval_time: 2m\n        alertname: Down\n        exp_alerts:\n          - exp_labels: {job: a}\n",
    );
    let dir = test.parent().unwrap().to_path_buf();
    let o = promql(&["test", "rules", test.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("FAILED"), "{}", stderr(&o));

    // `--junit` (before or after `rules`, as promtool's kingpin flags go)
    // writes one suite per file and one case per test group, failures in
    // the failing group; the exit code and output are unchanged.
    let junit = dir.join("junit.xml");
    for args in [
        ["test", "--junit", junit.to_str().unwrap(), "rules"],
        ["test", "rules", "--junit", junit.to_str().unwrap()],
    ] {
        let mut args = args.to_vec();
        args.extend([test.to_str().unwrap(), seed]);
        let j = promql(&args, None);
        assert_eq!(j.status.code(), Some(1), "{}", stderr(&j));
        assert_eq!(
            stderr(&j),
            stderr(&o) + &stderr(&promql(&["test", "rules", seed], None))
        );
        let xml = std::fs::read_to_string(&junit).unwrap();
        let t = test.to_str().unwrap();
        assert!(xml.starts_with(&format!("<testsuites><testsuite name=\"{t}\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\" timestamp=\"")), "{xml}");
        assert!(
            xml.contains("<testcase name=\"unnamed#0\"><failure>    alertname: Down, time: 2m, "),
            "{xml}"
        );
        assert!(
            xml.contains(&format!(
                "<testsuite name=\"{seed}\" tests=\"7\" failures=\"0\" errors=\"0\""
            )),
            "{xml}"
        );
        assert!(xml.ends_with("</testsuite></testsuites>"), "{xml}");
        std::fs::remove_file(&junit).unwrap();
    }
    let bad = promql(
        &["test", "--junit", "/nonexistent-dir/j.xml", "rules", seed],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).starts_with("open /nonexistent-dir/j.xml: "),
        "{}",
        stderr(&bad)
    );
    assert!(stdout(&bad).is_empty(), "{}", stdout(&bad));
}

#[test]
fn test_rules_debug_dumps_every_series() {
    let test = unit_test_files(
        "debug",
        "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
        "rule_files: [r.yml]\ntests:\n  - name: one\n    interval: 1m\n    input_series:\n      - series: 'up{job=\"a\",instance=\"x\"}'\n        values: '1 0 1.5'\n    promql_expr_test:\n      - expr: job:up:sum\n        eval_time: 90s\n        exp_samples:\n          - labels: 'job:up:sum{job=\"a\"}'\n            value: 0\n",
    );
    let o = promql(&["test", "rules", "--debug", test.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    // The dump covers whole seconds past the last eval_time (90 s -> 1m31s),
    // left-open as every 3.x range: the samples at 0 s are outside it.
    assert_eq!(
        lines[..6],
        [
            "DEBUG: Starting test one",
            "DEBUG: Dump of all data (input_series and rules) at 1m31s:",
            "{__name__=\"job:up:sum\", job=\"a\"} =>",
            "0 @[60000]",
            "{__name__=\"up\", instance=\"x\", job=\"a\"} =>",
            "0 @[60000]",
        ],
        "{err}"
    );
    assert!(
        lines[6].starts_with("DEBUG: Test one finished, took "),
        "{err}"
    );
    assert_eq!(lines.len(), 7, "{err}");
    // Without --debug, nothing of it.
    let quiet = promql(&["test", "rules", test.to_str().unwrap()], None);
    assert!(!stderr(&quiet).contains("DEBUG"), "{}", stderr(&quiet));
}

/// `--output json` over the demo data equals the expected files in
/// `testdata/cli/expected/` (compared as parsed JSON).
#[test]
fn expected_json_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let demo = format!("{root}/testdata/demo/demo.om");
    let queries = std::fs::read_to_string(format!("{root}/testdata/cli/queries.txt")).unwrap();
    let bless = std::env::var_os("CLI_BLESS").is_some();
    let mut checked = 0;
    for (n, line) in queries
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (kind, rest) = line.split_once(' ').unwrap();
        let args: Vec<String> = match kind {
            "instant" => {
                let (time, expr) = rest.split_once(' ').unwrap();
                [
                    "query", "instant", "--data", &demo, "--time", time, "--output", "json", expr,
                ]
                .map(String::from)
                .to_vec()
            }
            "range" => {
                let parts: Vec<&str> = rest.splitn(4, ' ').collect();
                let (start, end, step, expr) = (parts[0], parts[1], parts[2], parts[3]);
                [
                    "query", "range", "--data", &demo, "--start", start, "--end", end, "--step",
                    step, "--output", "json", expr,
                ]
                .map(String::from)
                .to_vec()
            }
            other => panic!("line {}: unknown kind {other}", n + 1),
        };
        let run = |extra: Option<&str>| -> serde_json::Value {
            let args: Vec<&str> = args.iter().map(String::as_str).chain(extra).collect();
            let o = promql(&args, None);
            serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| {
                panic!(
                    "line {}: not JSON ({e}): {}{}",
                    n + 1,
                    stdout(&o),
                    stderr(&o)
                )
            })
        };
        let got = run(None);
        let path = format!("{root}/testdata/cli/expected/{}.json", n + 1);
        if bless {
            std::fs::create_dir_all(format!("{root}/testdata/cli/expected")).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        }
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(got, want, "line {}: {line}", n + 1);
        // The same answer with the samples kept in XOR chunks.
        assert_eq!(
            run(Some("--compress")),
            want,
            "line {}: {line} --compress",
            n + 1
        );
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}
