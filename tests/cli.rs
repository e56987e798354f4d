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
