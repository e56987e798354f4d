//! Times our engine on the benchmark queries over the generated data and
//! prints one line per query and shape:
//! `query<TAB>shape<TAB>median seconds<TAB>peak samples<TAB>samples read`.
//! `scripts/bench-vs-prometheus` runs this next to Prometheus.
//!
//! Usage: `cargo run --release --example bench_queries -- SERIES HOURS RUNS [THREADS]`
//! (shapes that need more data than `HOURS` are skipped; `BENCH_FILTER=text`
//! keeps only the queries or shapes containing `text`; `BENCH_JITTER=ms` moves
//! each sample up to `ms` milliseconds off the 15 s grid; `BENCH_COLD=1` reads
//! 96 MiB before every run, so that each run starts with the data out of the
//! caches, as between Prometheus' runs in `scripts/bench-vs-prometheus`;
//! `BENCH_COMPRESSED=1` keeps the samples in XOR chunks). With
//! `BENCH_STDIN=1`
//! it prints `ready<TAB>memory read bandwidth in bytes per second` once the
//! data is loaded and then answers one
//! `shape<TAB>query` line from stdin at a time.

#[path = "../benches/data/mod.rs"]
mod data;

use std::time::Instant;

use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, parse};

fn main() {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let hours: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);

    // `BENCH_FILTER` keeps only queries or shapes whose text contains it.
    let filter = std::env::var("BENCH_FILTER").ok();
    let set = data::Mixed::new(series, hours);
    // `BENCH_COMPRESSED=1` keeps the samples in XOR chunks.
    let mut storage = if std::env::var("BENCH_COMPRESSED").is_ok_and(|v| v == "1") {
        MemoryStorage::compressed()
    } else {
        MemoryStorage::new()
    };
    // `BENCH_JITTER=ms` moves each sample up to that many milliseconds off
    // the 15 s grid, as scrapes are when Prometheus does not align them.
    let jitter: i64 = std::env::var("BENCH_JITTER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut sample = 0i64;
    set.generate(|l, t, v| {
        sample += 1;
        let off = (sample.wrapping_mul(7919)).rem_euclid(2 * jitter + 1) - jitter;
        storage.add(l, t + off, v)
    });
    storage.commit();

    let last = set.last_timestamp();
    let mut options = EngineOptions::default();
    options.max_samples = 500_000_000;
    options.threads = threads;
    let engine = Engine::new(options);
    // `BENCH_COLD=1`: a buffer larger than the last-level cache, read before
    // every run to evict the data.
    let evict: Vec<f64> = if std::env::var("BENCH_COLD").is_ok_and(|v| v == "1") {
        (0..12usize << 20).map(|i| i as f64).collect()
    } else {
        Vec::new()
    };
    let run = |q: &str, shape: data::Shape| {
        let (start, end, step) = shape.window(last);
        let expr = parse(q).expect("benchmark query parses");
        let mut times = Vec::with_capacity(runs);
        let mut stats = promql_engine::engine::QueryStats::default();
        for _ in 0..runs.max(1) {
            std::hint::black_box(data::sum_in_lanes(&evict));
            let t0 = Instant::now();
            let result = if step == 0 {
                engine.instant(&storage, &expr, end)
            } else {
                engine.range(&storage, &expr, start, end, step)
            }
            .expect("benchmark query runs");
            times.push(t0.elapsed().as_secs_f64());
            stats = result.stats;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{q}\t{}\t{:.9}\t{}\t{}",
            shape.name(),
            times[times.len() / 2],
            stats.peak_samples,
            stats.samples_read
        );
    };
    if std::env::var("BENCH_STDIN").is_ok_and(|v| v == "1") {
        // One `shape<TAB>query` per input line, answered as it arrives, so
        // that a caller can interleave our runs with another engine's.
        // The read bandwidth lets the caller compare each query with the
        // time needed just to read the samples it touches.
        println!("ready\t{:.0}", data::read_bandwidth());
        for line in std::io::stdin().lines().map_while(Result::ok) {
            let Some((shape, q)) = line.split_once('\t') else {
                continue;
            };
            match data::Shape::ALL.iter().find(|s| s.name() == shape) {
                Some(&shape) => run(q, shape),
                None => println!("{q}\t{shape}\tnan\t0\t0"),
            }
        }
        return;
    }
    for shape in data::Shape::ALL {
        if shape.hours_needed() > hours {
            continue;
        }
        for q in data::QUERIES {
            if filter
                .as_deref()
                .is_some_and(|f| !q.contains(f) && !shape.name().contains(f))
            {
                continue;
            }
            run(q, shape);
        }
    }
}
