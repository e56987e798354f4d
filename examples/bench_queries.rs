//! Times our engine on the benchmark queries over the generated data and
//! prints one line per query and shape:
//! `query<TAB>shape<TAB>median seconds<TAB>peak samples<TAB>samples read<TAB>read floor seconds<TAB>page faults`.
//!
//! The read floor is the time needed just to read every sample the query's
//! selectors return, where the store keeps them and in the order the engine
//! asks for them, with the caches as the timed runs have them (emptied first
//! with `BENCH_COLD=1`, else holding what the run before left; median of the
//! runs): what no engine over this layout can go below. The samples of an
//! instant query lie in a few cache lines per series all over memory, so
//! reading them from memory is bound by the latency of those lines rather
//! than by the bandwidth. The page faults are the median of the minor page
//! faults the process took during a timed run (Linux; 0 elsewhere): memory
//! the query wrote that the allocator had just taken from the system, as
//! glibc's `malloc` gives large freed blocks back at once.
//! `scripts/bench-vs-prometheus` runs this next to Prometheus.
//!
//! Usage: `cargo run --release --example bench_queries -- SERIES HOURS RUNS [THREADS]`
//! (shapes that need more data than `HOURS` are skipped; `BENCH_FILTER=text`
//! keeps only the queries or shapes containing `text`; `BENCH_JITTER=ms` moves
//! each sample up to `ms` milliseconds off the 15 s grid; `BENCH_COLD=1` reads
//! twice the last-level cache (at least 96 MiB) before every run, so that
//! each run starts with the data out of the caches, as between Prometheus'
//! runs in `scripts/bench-vs-prometheus`; `BENCH_COMPRESSED=1` keeps the
//! samples in XOR chunks). With `BENCH_STDIN=1` it prints `ready<TAB>memory read bandwidth in bytes per second` once the
//! data is loaded and then answers one
//! `shape<TAB>query` line from stdin at a time.

#[path = "../benches/data/mod.rs"]
mod data;

use std::sync::Mutex;
use std::time::Instant;

use promql_engine::model::Matcher;
use promql_engine::storage::{MemoryStorage, SelectHints, SelectedSeries, Storage, StorageError};
use promql_engine::{Engine, EngineOptions, parse};

/// A storage that passes selections through and writes down what was asked.
struct Recorder<'s> {
    inner: &'s MemoryStorage,
    asked: Mutex<Vec<(Vec<Matcher>, SelectHints)>>,
}

impl Storage for Recorder<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push((matchers.to_vec(), hints.clone()));
        }
        self.inner.select(matchers, hints)
    }
}

/// Reads every sample of `selections` once, in order: one load per sample
/// and a one-cycle dependency between them.
fn read_all(selections: &[Vec<SelectedSeries<'_>>]) -> u64 {
    let mut acc = 0u64;
    for series in selections.iter().flatten() {
        for p in series.floats.iter() {
            acc ^= p.v.to_bits();
        }
        for p in series.histograms.iter() {
            acc ^= p.t as u64;
        }
    }
    acc
}

/// The size of this machine's last-level cache, from the kernel's
/// description of the first processor's caches (`None` where it has none).
/// The minor page faults this process has taken so far (the tenth field of
/// `/proc/self/stat`, counted after the command name); 0 where unknown.
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let (_, fields) = stat.rsplit_once(')')?;
            // Fields from the third on: state is the first here.
            fields.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

fn last_level_cache_bytes() -> Option<usize> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).ok();
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let level: u32 = read(entry.path().join("level"))?.trim().parse().ok()?;
            // Sizes read like `491520K`.
            let size = read(entry.path().join("size"))?;
            let size = size.trim();
            let (digits, unit) = match size.strip_suffix('K') {
                Some(digits) => (digits, 1 << 10),
                None => match size.strip_suffix('M') {
                    Some(digits) => (digits, 1 << 20),
                    None => (size, 1),
                },
            };
            Some((level, digits.parse::<usize>().ok()? * unit))
        })
        .max()
        .map(|(_, bytes)| bytes)
}

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
    // `BENCH_COLD=1`: a buffer twice the last-level cache (at least 96 MiB),
    // read before every run to evict the data.
    let cold = std::env::var("BENCH_COLD").is_ok_and(|v| v == "1");
    let evict: Vec<f64> = if cold {
        let bytes = (2 * last_level_cache_bytes().unwrap_or(0)).max(96 << 20);
        (0..bytes / 8).map(|i| i as f64).collect()
    } else {
        Vec::new()
    };
    let run = |q: &str, shape: data::Shape| {
        let (start, end, step) = shape.window(last);
        let expr = parse(q).expect("benchmark query parses");
        let mut times = Vec::with_capacity(runs);
        let mut faults = Vec::with_capacity(runs);
        let mut stats = promql_engine::engine::QueryStats::default();
        for _ in 0..runs.max(1) {
            if cold {
                std::hint::black_box(data::sum_in_lanes(&evict));
            }
            let f0 = minor_faults();
            let t0 = Instant::now();
            let result = if step == 0 {
                engine.instant(&storage, &expr, end)
            } else {
                engine.range(&storage, &expr, start, end, step)
            }
            .expect("benchmark query runs");
            times.push(t0.elapsed().as_secs_f64());
            faults.push(minor_faults().saturating_sub(f0));
            stats = result.stats;
        }
        times.sort_by(f64::total_cmp);
        faults.sort_unstable();
        // The read floor: the selections the query made, read with the
        // caches as the timed runs had them.
        let recorder = Recorder {
            inner: &storage,
            asked: Mutex::new(Vec::new()),
        };
        let _ = if step == 0 {
            engine.instant(&recorder, &expr, end)
        } else {
            engine.range(&recorder, &expr, start, end, step)
        };
        let asked = recorder.asked.into_inner().unwrap_or_default();
        let selections: Vec<_> = asked
            .iter()
            .map(|(m, h)| storage.select(m, h).expect("benchmark selection"))
            .collect();
        let mut floors: Vec<f64> = (0..runs.max(1))
            .map(|_| {
                if cold {
                    std::hint::black_box(data::sum_in_lanes(&evict));
                }
                let t0 = Instant::now();
                std::hint::black_box(read_all(&selections));
                t0.elapsed().as_secs_f64()
            })
            .collect();
        floors.sort_by(f64::total_cmp);
        println!(
            "{q}\t{}\t{:.9}\t{}\t{}\t{:.9}\t{}",
            shape.name(),
            times[times.len() / 2],
            stats.peak_samples,
            stats.samples_read,
            floors[floors.len() / 2],
            faults[faults.len() / 2]
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
                None => println!("{q}\t{shape}\tnan\t0\t0\tnan\t0"),
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
