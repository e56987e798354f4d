//! Parser throughput: the upstream `eval` queries, a few large generated
//! expressions, and 16 KiB to 1 MiB expressions to show that parsing time
//! grows linearly with input size.
//!
//! `cargo bench --bench parse`. The comparison with the `promql-parser`
//! crate lives in `benches/peer` (run `scripts/bench-parse`).

#[path = "common/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promql_engine::{ParseOptions, parse_with};

fn parse_benchmarks(c: &mut Criterion) {
    let options = ParseOptions::all();
    let dir = corpus::promqltest_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    let queries: Vec<String> = corpus::promqltest_queries(&dir)
        .into_iter()
        .filter(|q| parse_with(q, &options).is_ok())
        .collect();
    if queries.is_empty() {
        eprintln!(
            "parse bench: no upstream queries found in {}",
            dir.display()
        );
    } else {
        let bytes: usize = queries.iter().map(String::len).sum();
        let mut group = c.benchmark_group("corpus");
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("promql-engine", |b| {
            b.iter(|| {
                for q in &queries {
                    black_box(parse_with(black_box(q), &options).ok());
                }
            })
        });
        group.finish();
    }

    let mut group = c.benchmark_group("large");
    for (name, expr) in corpus::large_expressions() {
        assert!(parse_with(&expr, &options).is_ok(), "{name} must parse");
        group.throughput(Throughput::Bytes(expr.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| black_box(parse_with(black_box(&expr), &options).ok()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("linear");
    group.sample_size(10);
    for kib in [16, 128, 1024] {
        let expr = corpus::sized_expression(kib * 1024);
        assert!(
            parse_with(&expr, &options).is_ok(),
            "{kib} KiB expression must parse"
        );
        group.throughput(Throughput::Bytes(expr.len() as u64));
        group.bench_function(format!("{kib}KiB"), |b| {
            b.iter(|| black_box(parse_with(black_box(&expr), &options).ok()))
        });
    }
    group.finish();
}

criterion_group!(benches, parse_benchmarks);
criterion_main!(benches);
