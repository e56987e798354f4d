//! Criterion benchmarks of the in-memory store's compression: decoding one
//! 120-sample XOR chunk (per-sample cost), and the same range queries over a
//! plain and a compressed `MemoryStorage` holding the same data (1,000
//! counters, 2 h at 15 s), so their ratio is the query-time cost of
//! compression.

mod data;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use promql_engine::model::FPoint;
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::chunk::{decode_xor, encode_xor};
use promql_engine::{Engine, EngineOptions, parse};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("xor_chunk_120_samples");
    let counter: Vec<FPoint> = (0..120)
        .map(|k| FPoint {
            t: data::timestamp(k),
            v: data::counter_value(7, k),
        })
        .collect();
    let gauge: Vec<FPoint> = (0..120)
        .map(|k| FPoint {
            t: data::timestamp(k) + (k as i64 * 7919) % 5,
            v: ((k * 7919) % 10_000) as f64 / 100.0,
        })
        .collect();
    group.throughput(Throughput::Elements(120));
    for (name, points) in [("counter", &counter), ("gauge", &gauge)] {
        let chunk = encode_xor(points).expect("chunk encodes");
        group.bench_with_input(BenchmarkId::new("decode", name), &chunk, |b, chunk| {
            b.iter(|| decode_xor(chunk).expect("chunk decodes"))
        });
        group.bench_with_input(BenchmarkId::new("encode", name), points, |b, points| {
            b.iter(|| encode_xor(points).expect("chunk encodes"))
        });
    }
    group.finish();
}

fn query(c: &mut Criterion) {
    let series = 1_000;
    let hours = 2;
    let mut plain = MemoryStorage::new();
    let mut packed = MemoryStorage::compressed();
    data::generate(series, hours, |l, t, v| {
        plain.add(l, t, v);
        packed.add(l, t, v);
    });
    plain.shrink_to_fit();
    packed.shrink_to_fit();
    let end = data::timestamp(data::points(hours) - 1);
    let start = end - 3_600_000;
    let engine = Engine::new(EngineOptions::default());
    let mut group = c.benchmark_group(format!("storage_range_1h_15s_{series}_series"));
    group.sample_size(10);
    for q in ["rate(x_total[5m])", "sum by (job) (x_total)"] {
        let expr = parse(q).expect("benchmark query parses");
        for (name, storage) in [("plain", &plain), ("compressed", &packed)] {
            group.bench_function(BenchmarkId::new(name, q), |b| {
                b.iter(|| {
                    engine
                        .range(storage, &expr, start, end, 15_000)
                        .expect("query runs")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decode, query);
criterion_main!(benches);
