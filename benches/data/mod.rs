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

/// Upper bounds of the classic buckets (the `+Inf` bucket comes on top).
pub const BUCKET_BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Observations per step that land in each bucket of histogram `i`.
fn per_bucket_rate(i: usize) -> f64 {
    (i % 5 + 1) as f64
}

/// Calls `f(labels, t, v)` for every sample of `histograms` classic
/// histograms (`h_bucket` series, one per `le`, cumulative) over `hours`.
pub fn generate_classic(histograms: usize, hours: usize, mut f: impl FnMut(&Labels, i64, f64)) {
    for i in 0..histograms {
        let job = format!("job-{}", i % 10);
        let instance = format!("inst-{i}");
        let les: Vec<String> = BUCKET_BOUNDS
            .iter()
            .map(|b| b.to_string())
            .chain(std::iter::once("+Inf".to_string()))
            .collect();
        for (b, le) in les.iter().enumerate() {
            let labels = Labels::from_pairs(&[
                ("__name__", "h_bucket"),
                ("job", job.as_str()),
                ("instance", instance.as_str()),
                ("le", le.as_str()),
            ]);
            for k in 0..points(hours) {
                f(
                    &labels,
                    timestamp(k),
                    k as f64 * per_bucket_rate(i) * (b + 1) as f64,
                );
            }
        }
    }
}

/// The same observations as [`generate_classic`], as native histograms with
/// custom buckets (the same bounds): one `h` series per histogram.
pub fn generate_native(
    histograms: usize,
    hours: usize,
    mut f: impl FnMut(&Labels, i64, promql_engine::model::FloatHistogram),
) {
    use promql_engine::model::{BucketSpan, FloatHistogram};
    let n = BUCKET_BOUNDS.len() + 1;
    for i in 0..histograms {
        let job = format!("job-{}", i % 10);
        let instance = format!("inst-{i}");
        let labels = Labels::from_pairs(&[
            ("__name__", "h"),
            ("job", job.as_str()),
            ("instance", instance.as_str()),
        ]);
        for k in 0..points(hours) {
            let per_bucket = k as f64 * per_bucket_rate(i);
            f(
                &labels,
                timestamp(k),
                FloatHistogram {
                    schema: -53,
                    count: per_bucket * n as f64,
                    sum: per_bucket * 0.3 * n as f64,
                    positive_spans: vec![BucketSpan {
                        offset: 0,
                        length: n as u32,
                    }],
                    positive_buckets: vec![per_bucket; n],
                    custom_values: BUCKET_BOUNDS.to_vec(),
                    ..Default::default()
                },
            );
        }
    }
}
