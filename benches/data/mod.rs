//! Deterministic benchmark data shared by `benches/eval.rs` and
//! `examples/bench_data.rs` (which writes it as OpenMetrics for Prometheus),
//! so both engines see exactly the same samples.

#![allow(dead_code)]

use promql_engine::model::Labels;

/// Scrape interval of the generated data, in milliseconds.
pub const INTERVAL_MS: i64 = 15_000;

/// Start of the generated data (Unix milliseconds), 2023-11-14T22:13:20Z.
pub const START_MS: i64 = 1_700_000_000_000;

/// The labels of counter series `i` of `x_total`.
pub fn series_labels(i: usize) -> Labels {
    let job = format!("job-{}", i % 10);
    let instance = format!("inst-{i}");
    Labels::from_pairs(&[
        ("__name__", "x_total"),
        ("job", job.as_str()),
        ("instance", instance.as_str()),
    ])
}

/// Value of counter series `i` at step `k`: integer arithmetic only, so that
/// the OpenMetrics text round-trips exactly.
pub fn counter_value(i: usize, k: usize) -> f64 {
    let rate = (i % 13 + 1) as u64;
    let k = k as u64;
    (k * rate * 10 + (k * 7 + i as u64) % 5) as f64
}

/// Timestamp of step `k` in milliseconds.
pub fn timestamp(k: usize) -> i64 {
    START_MS + k as i64 * INTERVAL_MS
}

/// Number of samples per series for `hours` of data.
pub fn points(hours: usize) -> usize {
    hours * 3600 * 1000 / INTERVAL_MS as usize
}

/// Calls `f(labels, t, v)` for every sample of `series` series over `hours`.
pub fn generate(series: usize, hours: usize, mut f: impl FnMut(&Labels, i64, f64)) {
    for i in 0..series {
        let labels = series_labels(i);
        for k in 0..points(hours) {
            f(&labels, timestamp(k), counter_value(i, k));
        }
    }
}
