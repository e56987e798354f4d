//! Any expression that parses evaluates over a small fixed data set without
//! panicking, within small limits, as instant and as range query.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use promql_engine::model::Labels;
use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, ParseOptions, parse_with};

fn storage() -> &'static MemoryStorage {
    static STORAGE: OnceLock<MemoryStorage> = OnceLock::new();
    STORAGE.get_or_init(|| {
        let mut s = MemoryStorage::new();
        for (i, job) in ["a", "b", "c"].iter().enumerate() {
            for le in ["0.1", "1", "+Inf"] {
                let l = Labels::from_pairs(&[("__name__", "h_bucket"), ("job", job), ("le", le)]);
                for k in 0..20 {
                    s.add(&l, k * 15_000, (k as usize * (i + 1)) as f64);
                }
            }
            let l = Labels::from_pairs(&[("__name__", "x_total"), ("job", job), ("instance", "i")]);
            for k in 0..20 {
                let v = if k == 7 { f64::NAN } else { (k * 3 + i as i64) as f64 };
                s.add(&l, k * 15_000 + 1, v);
            }
        }
        s.commit();
        s
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(expr) = parse_with(text, &ParseOptions::all()) else { return };
    let mut options = EngineOptions::upstream_tests();
    options.max_samples = 100_000;
    options.timeout = Some(Duration::from_secs(2));
    let engine = Engine::new(options);
    let _ = engine.instant(storage(), &expr, 150_000);
    let _ = engine.range(storage(), &expr, 0, 300_000, 30_000);
});
