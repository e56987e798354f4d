//! `histogram_quantile(0.99, sum by (le) (rate(...)))` over classic buckets
//! versus the same over native histograms with the same (custom) buckets,
//! on the same observations, in one run: the ratio shows what native
//! histograms cost or save. 1,000 histograms, 2 h at 15 s, range query over
//! the last hour at a 1 m step.

mod data;

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use promql_engine::model::Value;
use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, parse};

fn histogram_quantile(c: &mut Criterion) {
    let histograms = std::env::var("BENCH_HISTOGRAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let hours = 2;
    let mut storage = MemoryStorage::new();
    data::generate_classic(histograms, hours, |l, t, v| storage.add(l, t, v));
    data::generate_native(histograms, hours, |l, t, h| {
        storage.add_histogram(l, t, Arc::new(h))
    });
    storage.commit();
    let end = data::timestamp(data::points(hours) - 1);
    let start = end - 3_600_000;
    let engine = Engine::new(EngineOptions::default());

    let classic = parse("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))").unwrap();
    let native = parse("histogram_quantile(0.99, sum(rate(h[5m])))").unwrap();
    // Both forms must give the same quantiles before their speed is compared.
    let values = |q| match engine.range(&storage, q, start, end, 60_000).unwrap().value {
        Value::Matrix(series) => series
            .into_iter()
            .flat_map(|s| s.floats)
            .map(|p| p.v)
            .collect::<Vec<_>>(),
        other => panic!("expected a matrix, got {other:?}"),
    };
    let (a, b) = (values(&classic), values(&native));
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            "classic {x} vs native {y}"
        );
    }

    let mut group = c.benchmark_group(format!("histogram_quantile_{histograms}"));
    group.sample_size(10);
    group.bench_function("classic", |bench| {
        bench.iter(|| {
            engine
                .range(&storage, &classic, start, end, 60_000)
                .unwrap()
        })
    });
    group.bench_function("native", |bench| {
        bench.iter(|| engine.range(&storage, &native, start, end, 60_000).unwrap())
    });
    group.finish();
}

criterion_group!(benches, histogram_quantile);
criterion_main!(benches);
