//! Criterion benchmarks of the engine alone (data already loaded): range
//! queries over 1 h at 15 s on 10,000 counters with 2 h of 15 s samples.
//! `scripts/bench-vs-prometheus` compares the same queries with Prometheus.

mod data;

use criterion::{Criterion, criterion_group, criterion_main};
use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, parse};

fn eval(c: &mut Criterion) {
    let series = std::env::var("BENCH_SERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let hours = 2;
    let mut storage = MemoryStorage::new();
    data::generate(series, hours, |l, t, v| storage.add(l, t, v));
    storage.commit();
    let end = data::timestamp(data::points(hours) - 1);
    let start = end - 3_600_000;
    let engine = Engine::new(EngineOptions::default());

    let mut group = c.benchmark_group(format!("range_1h_15s_{series}_series"));
    group.sample_size(10);
    for q in ["rate(x_total[5m])", "sum by (job) (rate(x_total[5m]))"] {
        let expr = parse(q).expect("benchmark query parses");
        group.bench_function(q, |b| {
            b.iter(|| {
                engine
                    .range(&storage, &expr, start, end, 15_000)
                    .expect("query runs")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, eval);
criterion_main!(benches);
