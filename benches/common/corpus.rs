//! The parse benchmark's inputs: the `eval` queries of the upstream test
//! scripts, a few large generated expressions, and expressions of a chosen
//! size (up to 1 MiB) for the linearity check.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the upstream test scripts are: `$PROMQLTEST_DIR`, else
/// `../shared/promqltest` next to the promql-engine crate root (or one
/// level further up, for git worktrees in a subdirectory).
pub fn promqltest_dir(crate_root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("PROMQLTEST_DIR") {
        return PathBuf::from(dir);
    }
    let near = crate_root.join("../shared/promqltest");
    [near.clone(), crate_root.join("../../shared/promqltest")]
        .into_iter()
        .find(|d| d.is_dir())
        .unwrap_or(near)
}

/// The query of every `eval` line of the `*.test` files in `dir` (empty
/// when the directory is absent).
pub fn promqltest_queries(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(eval_query)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `eval[_x] instant at T QUERY` or `eval[_x] range from A to B step S QUERY`.
fn eval_query(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let cmd_end = line.find(char::is_whitespace)?;
    let cmd = &line[..cmd_end];
    if cmd != "eval" && !cmd.starts_with("eval_") {
        return None;
    }
    let mut rest = line[cmd_end..].trim_start();
    let skip = |s: &mut &str, n: usize| -> Option<()> {
        for _ in 0..n {
            let t = s.trim_start();
            let end = t.find(char::is_whitespace)?;
            *s = &t[end..];
        }
        Some(())
    };
    if rest.starts_with("instant ") {
        skip(&mut rest, 3)?; // instant at T
    } else if rest.starts_with("range ") {
        skip(&mut rest, 7)?; // range from A to B step S
    } else {
        return None;
    }
    let q = rest.trim();
    (!q.is_empty()).then_some(q)
}

/// A few large, realistic expressions.
pub fn large_expressions() -> Vec<(&'static str, String)> {
    let wide_sum = balanced(256, &mut |i, s| {
        write!(
            s,
            r#"rate(http_requests_total{{job="api-{i}",instance=~"10\\.0\\.0\\.{i}:9090"}}[5m])"#
        )
        .ok();
    });
    let mut many_matchers = String::from("up{");
    for i in 0..1000 {
        if i > 0 {
            many_matchers.push(',');
        }
        write!(many_matchers, r#"label_{i}=~"value-{i}|other-{i}""#).ok();
    }
    many_matchers.push('}');
    let nested_calls = format!("{}up{}", "abs(".repeat(200), ")".repeat(200));
    let mut nested_aggregations = String::from("node_cpu_seconds_total");
    for i in 0..50 {
        nested_aggregations = format!(
            "sum by (job, instance) (rate(({nested_aggregations})[5m:1m] offset {}m) * on (job) group_left (team) team_info)",
            i + 1
        );
    }
    vec![
        ("wide_sum", wide_sum),
        ("many_matchers", many_matchers),
        ("nested_calls", nested_calls),
        ("nested_aggregations", nested_aggregations),
    ]
}

/// A balanced sum of rate() terms of about `target_bytes` bytes.
pub fn sized_expression(target_bytes: usize) -> String {
    const LEAF_LEN: usize = 70;
    let leaves = (target_bytes / (LEAF_LEN + 5)).max(1);
    balanced(leaves, &mut |i, s| {
        write!(
            s,
            r#"rate(http_requests_total{{job="api",instance="host-{i:06}:9090"}}[5m])"#
        )
        .ok();
    })
}

/// `leaves` terms combined pairwise with `+` in a balanced tree of parentheses.
fn balanced(leaves: usize, leaf: &mut dyn FnMut(usize, &mut String)) -> String {
    fn build(lo: usize, hi: usize, leaf: &mut dyn FnMut(usize, &mut String), out: &mut String) {
        if hi - lo == 1 {
            leaf(lo, out);
            return;
        }
        let mid = lo + (hi - lo) / 2;
        out.push('(');
        build(lo, mid, leaf, out);
        out.push_str(" + ");
        build(mid, hi, leaf, out);
        out.push(')');
    }
    let mut out = String::new();
    build(0, leaves.max(1), leaf, &mut out);
    out
}
