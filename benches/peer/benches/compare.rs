//! promql-engine's parser against the `promql-parser` crate, on the same inputs.
//! Each group has one function per parser; `scripts/bench-parse` prints the ratios.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promql_engine::{ParseOptions, parse_with};
use promql_parse_bench_peer::inputs;

fn compare(c: &mut Criterion) {
    let inputs = inputs();
    eprintln!(
        "compare: {} upstream queries ({} skipped: not accepted by both), {} large, {} sized",
        inputs.queries.len(),
        inputs.skipped,
        inputs.large.len(),
        inputs.sized.len()
    );
    let options = ParseOptions::all();

    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    if !inputs.queries.is_empty() {
        cases.push(("corpus".into(), inputs.queries.clone()));
    }
    for (name, expr) in &inputs.large {
        cases.push((format!("large_{name}"), vec![expr.clone()]));
    }
    for (kib, expr) in &inputs.sized {
        cases.push((format!("linear_{kib}KiB"), vec![expr.clone()]));
    }

    for (name, batch) in &cases {
        let bytes: usize = batch.iter().map(String::len).sum();
        let mut group = c.benchmark_group(name.as_str());
        group.throughput(Throughput::Bytes(bytes as u64));
        if bytes > 100_000 {
            group.sample_size(10);
        }
        group.bench_function("promql-engine", |b| {
            b.iter(|| {
                for q in batch {
                    black_box(parse_with(black_box(q), &options).ok());
                }
            })
        });
        group.bench_function("promql-parser", |b| {
            b.iter(|| {
                for q in batch {
                    black_box(promql_parser::parser::parse(black_box(q)).ok());
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, compare);
criterion_main!(benches);
