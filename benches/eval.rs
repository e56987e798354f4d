//! Criterion benchmarks of the engine alone (data already loaded): every
//! query of `data::QUERIES` as an instant query and as range queries (1 h at
//! 15 s; 24 h at 1 m), on the mixed data set of `data::Mixed` (counters,
//! gauges, `job_info`, classic histogram buckets at 15 s), plus a
//! memory-bandwidth baseline (summing a large `f64` array) to compare the
//! cost per sample with the cost of just reading it.
//!
//! Series counts: `BENCH_SERIES` (comma-separated counter counts, default
//! `1000,10000`) for the instant and 1 h shapes on 2 h of data, and
//! `BENCH_SERIES_24H` (default `1000`) for the 24 h shape on 25 h of data;
//! e.g. `BENCH_SERIES=100000 cargo bench --bench eval`. `BENCH_THREADS` sets
//! `EngineOptions::threads` (default 1).
//! `scripts/bench-vs-prometheus` compares the same queries with Prometheus.

mod data;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use data::{Mixed, QUERIES, Shape};
use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, parse};

fn counts(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn engine() -> Engine {
    let mut options = EngineOptions::default();
    options.max_samples = 500_000_000;
    options.threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Engine::new(options)
}

fn bench_shapes(c: &mut Criterion, series: usize, hours: usize, shapes: &[Shape]) {
    let set = Mixed::new(series, hours);
    let mut storage = MemoryStorage::new();
    set.generate(|l, t, v| storage.add(l, t, v));
    storage.commit();
    let engine = engine();
    for &shape in shapes {
        let (start, end, step) = shape.window(set.last_timestamp());
        let mut group = c.benchmark_group(format!("{}/{series}", shape.name()));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for q in QUERIES {
            let expr = parse(q).expect("benchmark query parses");
            let run = || {
                if step == 0 {
                    engine.instant(&storage, &expr, end)
                } else {
                    engine.range(&storage, &expr, start, end, step)
                }
                .expect("benchmark query runs")
            };
            // Throughput in samples read from storage, so that criterion
            // reports samples per second next to the time.
            group.throughput(Throughput::Elements(run().stats.samples_read.max(1)));
            group.bench_function(*q, |b| b.iter(|| black_box(run())));
        }
        group.finish();
    }
}

fn eval(c: &mut Criterion) {
    for series in counts("BENCH_SERIES", "1000,10000") {
        bench_shapes(c, series, 2, &[Shape::Instant, Shape::Range1h15s]);
    }
    for series in counts("BENCH_SERIES_24H", "1000") {
        bench_shapes(c, series, 25, &[Shape::Range24h1m]);
    }
}

/// Reading memory as fast as this machine can: the sum of 32 Mi `f64`s
/// (256 MiB, far beyond the caches), in four independent lanes.
fn bandwidth(c: &mut Criterion) {
    const N: usize = 32 << 20;
    let data: Vec<f64> = (0..N).map(|i| (i % 1000) as f64).collect();
    let mut group = c.benchmark_group("memory_bandwidth");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes((N * 8) as u64));
    group.bench_function("sum_f64_256MiB", |b| {
        b.iter(|| black_box(data::sum_in_lanes(black_box(&data))))
    });
    group.finish();
}

criterion_group!(benches, bandwidth, eval);
criterion_main!(benches);
