//! Memory footprint of the in-memory store at a realistic scale: 10,000
//! series scraped every 15 s for 2 hours (4.8 million float samples), counted
//! by `MemoryStorage::memory_usage` (every buffer at its capacity, shared
//! strings once, hash tables as laid out; allocator overhead not included).
//!
//! Run with `--nocapture` to see the numbers.

use promql_engine::model::Labels;
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::memory::MemoryUsage;

const SERIES: usize = 10_000;
/// 2 h at 15 s.
const SAMPLES: i64 = 2 * 3600 / 15;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Counters with whole increments (4 in 10 series), counters with
/// fractional increments (1 in 10, e.g. seconds), gauges with two decimals
/// (3 in 10), constant `up`-like gauges (2 in 10). Half of the series have a
/// few milliseconds of scrape jitter.
fn fill(store: &mut MemoryStorage, only_kind: Option<usize>) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let names: Vec<String> = (0..10).map(|k| format!("metric_kind_{k}")).collect();
    for i in 0..SERIES {
        let kind = i % 10;
        if only_kind.is_some_and(|k| k != kind) {
            continue;
        }
        let instance = format!("10.0.{}.{}:9100", i / 10 / 250, i / 10 % 250);
        let job = format!("job{}", i % 7);
        let labels = Labels::from_pairs(&[
            ("__name__", names[kind].as_str()),
            ("instance", instance.as_str()),
            ("job", job.as_str()),
        ]);
        let series = store.series_ref(&labels);
        let mut value = (rng.next() % 1000) as f64;
        for n in 0..SAMPLES {
            let jitter = if i % 2 == 0 {
                (rng.next() % 5) as i64
            } else {
                0
            };
            let t = 1_700_000_000_000 + n * 15_000 + jitter;
            value = match kind {
                0..=3 => value + (rng.next() % 1000) as f64,
                4 => value + (rng.next() % 1000) as f64 * 0.001,
                5..=7 => (rng.next() % 10_000) as f64 / 100.0,
                _ => 1.0,
            };
            assert!(store.add_to(series, t, value));
        }
    }
}

fn report(name: &str, u: &MemoryUsage) {
    let per = |b: usize| b as f64 / u.float_samples as f64;
    eprintln!(
        "{name}: {:.2} bytes/sample total ({:.2} samples, {:.2} series, {:.2} index); {} samples, {} bytes",
        u.bytes_per_sample(),
        per(u.float_bytes),
        per(u.series_bytes),
        per(u.index_bytes),
        u.float_samples,
        u.total(),
    );
}

#[test]
fn bytes_per_sample_at_ten_thousand_series_for_two_hours() {
    let mut plain = MemoryStorage::new();
    fill(&mut plain, None);
    plain.commit();
    let grown = plain.memory_usage();
    report("plain, as appended", &grown);
    plain.shrink_to_fit();
    let plain_usage = plain.memory_usage();
    report("plain, shrunk", &plain_usage);
    assert_eq!(plain_usage.float_samples, SERIES * SAMPLES as usize);
    // 16 bytes is the size of one uncompressed sample (timestamp and value),
    // which the plain store lends to queries without copying; per-series and
    // index overhead come on top of it.
    assert!(plain_usage.bytes_per_sample() <= 17.5);
    assert!(plain_usage.total() < grown.total());
    drop(plain);

    let mut packed = MemoryStorage::compressed();
    fill(&mut packed, None);
    packed.shrink_to_fit();
    let packed_usage = packed.memory_usage();
    report("compressed, shrunk", &packed_usage);
    assert_eq!(packed_usage.float_samples, SERIES * SAMPLES as usize);
    assert!(packed_usage.bytes_per_sample() <= 16.0);
    assert!(packed_usage.bytes_per_sample() < plain_usage.bytes_per_sample() / 2.0);
    drop(packed);

    // Compressed sample bytes by kind of series.
    for (kind, what) in [
        (0, "counter, whole increments"),
        (4, "counter, fractional increments"),
        (5, "gauge, two decimals"),
        (8, "constant"),
    ] {
        let mut one = MemoryStorage::compressed();
        fill(&mut one, Some(kind));
        one.shrink_to_fit();
        let u = one.memory_usage();
        eprintln!(
            "compressed {what}: {:.2} sample bytes per sample",
            u.float_bytes as f64 / u.float_samples as f64
        );
        assert!(u.float_bytes < u.float_samples * 16);
    }
}
