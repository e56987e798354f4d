//! Loading throughput: OpenMetrics text into a `MemoryStorage`, reported in
//! bytes per second (criterion's throughput), on the bundled demo data.
//!
//! Set `LOAD_BENCH_FILE=/path/to/file.om` to also measure a larger file,
//! e.g. one written by `cargo run --release --example bench_data -- 2000 2`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::load::load_data;

fn bench_file(c: &mut Criterion, name: &str, bytes: &[u8]) {
    let mut group = c.benchmark_group("load");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut storage = MemoryStorage::new();
            load_data(bytes, &mut storage, 0).expect("the data loads");
            storage.commit();
            storage.sample_count()
        })
    });
    group.finish();
}

fn load(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/demo/demo.om");
    let bytes = std::fs::read(path).expect("demo data is bundled");
    bench_file(c, "openmetrics_demo", &bytes);
    if let Ok(extra) = std::env::var("LOAD_BENCH_FILE") {
        let bytes = std::fs::read(&extra).expect("LOAD_BENCH_FILE is readable");
        bench_file(c, "openmetrics_file", &bytes);
    }
}

criterion_group!(benches, load);
criterion_main!(benches);
