//! Loading throughput: OpenMetrics text into a `MemoryStorage`, reported in
//! bytes per second (criterion's throughput), on the bundled demo data.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::load::load_data;

fn load(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/demo.om");
    let bytes = std::fs::read(path).expect("demo data is bundled");
    let mut group = c.benchmark_group("load");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function("openmetrics_demo", |b| {
        b.iter(|| {
            let mut storage = MemoryStorage::new();
            load_data(&bytes, &mut storage, 0).expect("demo data loads");
            storage.commit();
            storage.sample_count()
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
