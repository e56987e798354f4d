//! `promql rules eval` and `promql rules run` over data files (and, with the
//! `remote` feature, writing to a fake remote-write endpoint).
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const DATA: &str = "testdata/demo/demo.om";
const PERFORMANCE: &str = "testdata/demo/rules/performance.rules.yml";
const APPLICATION: &str = "testdata/demo/rules/application.rules.yml";
/// Inside the demo data.
const AT: &str = "1700007540";

fn promql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promql"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the promql binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A rule file written to a fresh temporary path.
fn rule_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promql-cli-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// `query instant` of `expr` at `AT`, as (job label, value) pairs.
fn query_by_job(expr: &str) -> Vec<(String, String)> {
    let o = promql(&[
        "query", "instant", "--data", DATA, "--time", AT, "--output", "json", expr,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut out: Vec<(String, String)> = json(&o)["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["job"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn rule<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name} in {doc}"))
}

fn samples_by_job(rule: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = rule["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["job"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn eval_records_what_the_query_gives_and_chains_rules() {
    let o = promql(&[
        "rules",
        "eval",
        "--data",
        DATA,
        "--at",
        AT,
        "--output",
        "json",
        PERFORMANCE,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    let group = &doc["groups"][0];
    assert_eq!(group["name"], "performance.rules");
    assert_eq!(group["timestamp"], 1_700_007_540.0);
    assert_eq!(group["failedRules"], 0);
    let rate = rule(&doc, "job:http_requests:rate5m");
    assert_eq!(rate["health"], "ok");
    assert_eq!(
        rate["samples"][0]["metric"]["__name__"],
        "job:http_requests:rate5m"
    );
    assert_eq!(
        samples_by_job(rate),
        query_by_job("sum by (job) (rate(http_requests_total[5m]))")
    );
    // job:http_error_rate:ratio divides two earlier outputs of the same evaluation.
    let ratio = samples_by_job(rule(&doc, "job:http_error_rate:ratio"));
    assert_eq!(
        ratio,
        query_by_job(
            "sum by (job) (rate(http_requests_total{status=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total[5m]))"
        )
    );
    assert_eq!(ratio.len(), 2);
}

#[test]
fn eval_text_lists_records_and_alert_states() {
    let o = promql(&[
        "rules",
        "eval",
        "--data",
        DATA,
        "--at",
        AT,
        APPLICATION,
        PERFORMANCE,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("group \"application.rules\" (testdata/demo/rules/application.rules.yml) at 2023-11-15T00:19:00.000Z"),
        "{text}"
    );
    assert!(
        text.contains("  alert HighErrorRate\n    pending {alertname=\"HighErrorRate\""),
        "{text}"
    );
    let (job, value) = &query_by_job("sum by (job) (rate(http_requests_total[5m]))")[0];
    assert!(
        text.contains(&format!(
            "    job:http_requests:rate5m{{job=\"{job}\"}} {value}\n"
        )),
        "{text}"
    );
}

#[test]
fn eval_json_reports_alerts_like_the_rules_api() {
    let o = promql(&[
        "rules",
        "eval",
        "--data",
        DATA,
        "--at",
        AT,
        "--output",
        "json",
        APPLICATION,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    let alert = rule(&doc, "HighErrorRate");
    assert_eq!(alert["type"], "alerting");
    let alerts = alert["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{alert}");
    for a in alerts {
        assert_eq!(a["state"], "pending");
        assert_eq!(a["labels"]["severity"], "warning");
        assert_eq!(a["activeAt"], "2023-11-15T00:19:00.000Z");
        assert!(
            a["annotations"]["summary"]
                .as_str()
                .unwrap()
                .starts_with("High error rate on ")
        );
    }
    // One ALERTS sample per pending alert, plus ALERTS_FOR_STATE.
    let names: Vec<&str> = alert["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"]["__name__"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "ALERTS").count(),
        alerts.len()
    );
    assert_eq!(
        names.iter().filter(|n| **n == "ALERTS_FOR_STATE").count(),
        alerts.len()
    );
}

#[test]
fn a_failing_rule_is_reported_and_exits_1() {
    let path = rule_file(
        "limit.yml",
        "groups:\n- name: limited\n  limit: 1\n  rules:\n  - record: up:copy\n    expr: up\n",
    );
    let path = path.to_string_lossy();
    let o = promql(&["rules", "eval", "--data", DATA, "--at", AT, &path]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("1 failed"), "{text}");
    assert!(
        text.contains("record up:copy: error: exceeded limit of 1 with"),
        "{text}"
    );
}

#[test]
fn invalid_rule_files_are_reported_with_their_name() {
    let path = rule_file(
        "bad.yml",
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n",
    );
    let path = path.to_string_lossy();
    let o = promql(&["rules", "eval", "--data", DATA, "--at", AT, &path]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{path}: ")), "{}", stderr(&o));
}

#[test]
fn run_on_a_simulated_clock_evaluates_each_interval() {
    let path = rule_file(
        "run.yml",
        "groups:\n- name: r\n  interval: 1m\n  rules:\n  - record: up:sum\n    expr: sum(up)\n",
    );
    let path = path.to_string_lossy();
    let o = promql(&[
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
        &path,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: Vec<f64> = lines
        .iter()
        .map(|l| l["timestamp"].as_f64().unwrap())
        .collect();
    assert_eq!(
        times,
        vec![1_700_007_540.0, 1_700_007_600.0, 1_700_007_660.0]
    );
    let err = stderr(&o);
    assert_eq!(err.matches("group \"r\"").count(), 3, "{err}");
    assert!(err.contains("rules run: done after 3 evaluations"), "{err}");
}

#[test]
fn series_that_disappear_get_stale_markers() {
    // The output exists at the first evaluation only.
    let path = rule_file(
        "stale.yml",
        "groups:\n- name: s\n  rules:\n  - record: up:early\n    expr: sum(up) and on() (vector(time()) < 1700007600)\n",
    );
    let path = path.to_string_lossy();
    let o = promql(&[
        "rules",
        "run",
        "--data",
        DATA,
        "--start",
        AT,
        "--iterations",
        "2",
        &path,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let (first, second) = text
        .split_once("group \"s\"")
        .and_then(|(_, rest)| rest.split_once("group \"s\""))
        .unwrap();
    assert!(
        first.contains("    up:early 3\n") && !first.contains(" stale\n"),
        "{text}"
    );
    assert!(second.contains("    up:early stale\n"), "{text}");
}

#[test]
fn run_for_a_simulated_duration_stops_at_its_end() {
    let o = promql(&[
        "rules",
        "run",
        "--data",
        DATA,
        "--start",
        AT,
        "--for",
        "2m",
        "--output",
        "json",
        PERFORMANCE,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // 30s interval over [start, start+2m]: 5 evaluations.
    assert_eq!(stdout(&o).lines().count(), 5);
}

#[test]
fn run_with_a_start_needs_a_bound() {
    let o = promql(&["rules", "run", "--data", DATA, "--start", AT, PERFORMANCE]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--start needs --iterations or --for"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_on_the_wall_clock_stops_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promql"))
        .args(["rules", "run", "--data", DATA, PERFORMANCE])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("group \"performance.rules\""), "{first}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        rest.last()
            .is_some_and(|l| l.starts_with("rules run: interrupted after")),
        "{rest:?}"
    );
}

#[cfg(feature = "remote")]
mod remote_write {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// Answers every request with `status` and reports each request head.
    fn server(status: &'static str) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let request_head = loop {
                    let Ok(n) = conn.read(&mut buf) else {
                        break None;
                    };
                    if n == 0 {
                        break None;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break Some(head);
                    }
                };
                let Some(head) = request_head else { continue };
                let body = "refused by test";
                let _ = conn.write_all(
                    format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                        .as_bytes(),
                );
                let _ = tx.send(head);
            }
        });
        (url, rx)
    }

    #[test]
    fn outputs_are_sent_and_counted() {
        let (url, requests) = server("204 No Content");
        let o = promql(&[
            "rules",
            "eval",
            "--data",
            DATA,
            "--at",
            AT,
            "--remote-write",
            &url,
            PERFORMANCE,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(requests.try_iter().count(), 1);
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "remote write to {url}: 1 requests (0 retries); sent 15 samples"
            )),
            "{err}"
        );
    }

    #[test]
    fn remote_headers_and_authentication_are_sent() {
        let (url, requests) = server("204 No Content");
        let token = rule_file("token", "s3cret\n");
        let o = promql(&[
            "rules",
            "eval",
            "--data",
            DATA,
            "--at",
            AT,
            "--remote-write",
            &url,
            "--remote-header",
            "X-Scope-OrgID: tenant-1",
            "--remote-bearer-token-file",
            &token.to_string_lossy(),
            PERFORMANCE,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let head = requests.try_iter().next().expect("one request");
        for line in [
            "authorization: bearer s3cret",
            "x-scope-orgid: tenant-1",
            "x-prometheus-remote-write-version: 0.1.0",
            "content-encoding: snappy",
        ] {
            assert!(
                head.lines().any(|l| l.trim() == line),
                "{line} not in {head}"
            );
        }
        let o = promql(&[
            "rules",
            "eval",
            "--data",
            DATA,
            "--remote-write",
            &url,
            "--remote-header",
            "no colon",
            PERFORMANCE,
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("want `Name: value`"), "{}", stderr(&o));
    }

    #[test]
    fn a_refusal_fails_with_counts_and_the_server_message() {
        let (url, requests) = server("400 Bad Request");
        let o = promql(&[
            "rules",
            "eval",
            "--data",
            DATA,
            "--at",
            AT,
            "--remote-write",
            &url,
            "--max-samples-per-send",
            "10",
            "--output",
            "json",
            PERFORMANCE,
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(
            requests.try_iter().count(),
            2,
            "15 samples in batches of 10, none retried"
        );
        let err = stderr(&o);
        assert!(
            err.contains("HTTP status 400 (not retried): refused by test"),
            "{err}"
        );
        assert!(err.contains("failed 15 samples"), "{err}");
        let doc = json(&o);
        assert_eq!(doc["remoteWrite"]["samplesFailed"], 15);
        assert_eq!(doc["remoteWrite"]["requests"], 2);
    }
}
