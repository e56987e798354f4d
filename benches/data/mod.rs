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

/// The labels of gauge series `i` of `g`.
pub fn gauge_labels(i: usize) -> Labels {
    let job = format!("job-{}", i % 10);
    let instance = format!("inst-{i}");
    Labels::from_pairs(&[
        ("__name__", "g"),
        ("job", job.as_str()),
        ("instance", instance.as_str()),
    ])
}

/// Value of gauge series `i` at step `k`: a small integer that goes up and
/// down, exact in text.
pub fn gauge_value(i: usize, k: usize) -> f64 {
    ((i * 31 + k * 17) % 1000) as f64
}

/// Number of `job` label values (`job-0` .. `job-9`).
pub const JOBS: usize = 10;

/// The labels of the `job_info` series of job `j` (the "one" side of the
/// `group_left` join benchmark).
pub fn job_info_labels(j: usize) -> Labels {
    let job = format!("job-{j}");
    let team = format!("team-{}", j % 3);
    Labels::from_pairs(&[
        ("__name__", "job_info"),
        ("job", job.as_str()),
        ("team", team.as_str()),
    ])
}

/// The mixed benchmark data set for a series count `n`: `n` counters
/// (`x_total`), `n / 10` gauges (`g`), `n / 10` classic histograms
/// (`h_bucket`, 11 buckets each, so `1.1 n` series) and one `job_info`
/// series per job; `hours` of samples every 15 s, fully deterministic.
#[derive(Clone, Copy, Debug)]
pub struct Mixed {
    /// Counter series.
    pub counters: usize,
    /// Gauge series.
    pub gauges: usize,
    /// Classic histograms (each `BUCKET_BOUNDS.len() + 1` series).
    pub histograms: usize,
    /// Hours of data.
    pub hours: usize,
}

impl Mixed {
    /// The data set for `n` counters over `hours`.
    pub fn new(n: usize, hours: usize) -> Self {
        Mixed {
            counters: n,
            gauges: n / 10,
            histograms: n / 10,
            hours,
        }
    }

    /// Total number of series.
    pub fn series(&self) -> usize {
        self.counters + self.gauges + self.histograms * (BUCKET_BOUNDS.len() + 1) + JOBS
    }

    /// Timestamp of the last sample.
    pub fn last_timestamp(&self) -> i64 {
        timestamp(points(self.hours) - 1)
    }

    /// Calls `f(labels, t, v)` for every sample, one series after another,
    /// each series in time order, family by family (counters, gauges,
    /// `job_info`, histogram buckets).
    pub fn generate(&self, mut f: impl FnMut(&Labels, i64, f64)) {
        generate(self.counters, self.hours, &mut f);
        for i in 0..self.gauges {
            let labels = gauge_labels(i);
            for k in 0..points(self.hours) {
                f(&labels, timestamp(k), gauge_value(i, k));
            }
        }
        for j in 0..JOBS {
            let labels = job_info_labels(j);
            for k in 0..points(self.hours) {
                f(&labels, timestamp(k), 1.0);
            }
        }
        generate_classic(self.histograms, self.hours, &mut f);
    }
}

/// A query shape: an instant query at the last sample, or a range query
/// ending there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One evaluation at the last sample's time.
    Instant,
    /// 1 h at a 15 s step.
    Range1h15s,
    /// 24 h at a 1 m step.
    Range24h1m,
}

impl Shape {
    /// All shapes, in report order.
    pub const ALL: [Shape; 3] = [Shape::Instant, Shape::Range1h15s, Shape::Range24h1m];

    /// Short name used in reports and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Instant => "instant",
            Shape::Range1h15s => "range_1h_15s",
            Shape::Range24h1m => "range_24h_1m",
        }
    }

    /// `(start, end, step)` in milliseconds for data ending at `end`; step 0
    /// for an instant query.
    pub fn window(self, end: i64) -> (i64, i64, i64) {
        match self {
            Shape::Instant => (end, end, 0),
            Shape::Range1h15s => (end - 3_600_000, end, 15_000),
            Shape::Range24h1m => (end - 86_400_000, end, 60_000),
        }
    }

    /// Hours of data the shape needs (its range plus the longest selector
    /// range of the queries, 1 h).
    pub fn hours_needed(self) -> usize {
        match self {
            Shape::Instant => 2,
            Shape::Range1h15s => 2,
            Shape::Range24h1m => 25,
        }
    }
}

/// The benchmark queries (shared by `benches/eval.rs`,
/// `examples/bench_queries.rs` and `scripts/bench-vs-prometheus`).
pub const QUERIES: &[&str] = &[
    "rate(x_total[5m])",
    "sum by (job) (rate(x_total[5m]))",
    "histogram_quantile(0.99, sum by (le, job) (rate(h_bucket[5m])))",
    "topk(10, rate(x_total[5m]))",
    "rate(x_total[5m]) * on (job) group_left (team) job_info",
    "count_over_time(g[1h])",
    "max_over_time(rate(x_total[5m])[30m:1m])",
    "x_total{instance=~\"inst-[0-9]*7\"}",
];

/// Sums `data` in four independent lanes, so that the loop runs at the
/// speed memory delivers the values rather than at the latency of one
/// chain of additions.
pub fn sum_in_lanes(data: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    for chunk in data.chunks_exact(4) {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum()
}

/// This machine's memory read bandwidth in bytes per second: the best of
/// five sums of a 256 MiB `f64` array (far beyond the caches).
pub fn read_bandwidth() -> f64 {
    const N: usize = 32 << 20;
    let data: Vec<f64> = (0..N).map(|i| (i % 1000) as f64).collect();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        std::hint::black_box(sum_in_lanes(std::hint::black_box(&data)));
        best = best.min(t0.elapsed().as_secs_f64());
    }
    (N * 8) as f64 / best
}
