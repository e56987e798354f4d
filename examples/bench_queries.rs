//! Times our engine on the benchmark queries over the generated data and
//! prints one line per query: `query<TAB>median seconds<TAB>peak samples`.
//! `scripts/bench-vs-prometheus` runs this next to Prometheus.
//!
//! Usage: `cargo run --release --example bench_queries -- SERIES HOURS RUNS`

#[path = "../benches/data/mod.rs"]
mod data;

use std::time::Instant;

use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, parse};

/// The queries, shared with `scripts/bench-vs-prometheus` (one per line on stdin overrides).
const QUERIES: &[&str] = &["rate(x_total[5m])", "sum by (job) (rate(x_total[5m]))"];

fn main() {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let hours: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);

    let mut storage = MemoryStorage::new();
    data::generate(series, hours, |l, t, v| storage.add(l, t, v));
    storage.commit();

    // Range query over the last hour of data at a 15 s step.
    let end = data::timestamp(data::points(hours) - 1);
    let start = end - 3_600_000;
    let step = 15_000;
    let engine = Engine::new(EngineOptions::default());
    for q in QUERIES {
        let expr = parse(q).expect("benchmark query parses");
        let mut times = Vec::with_capacity(runs);
        let mut peak = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let result = engine
                .range(&storage, &expr, start, end, step)
                .expect("benchmark query runs");
            times.push(t0.elapsed().as_secs_f64());
            peak = result.stats.peak_samples;
        }
        times.sort_by(f64::total_cmp);
        println!("{q}\t{:.6}\t{peak}", times[times.len() / 2]);
    }
}
