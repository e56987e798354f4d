//! Arbitrary bytes never make the exposition, OpenMetrics or test-script
//! loaders panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::exposition::{ExpositionFormat, parse_exposition};
use promql_engine::storage::load::load_data;

fuzz_target!(|data: &[u8]| {
    let _ = parse_exposition(data, ExpositionFormat::Text);
    let _ = parse_exposition(data, ExpositionFormat::OpenMetrics);
    let mut storage = MemoryStorage::new();
    let _ = load_data(data, &mut storage, 0);
});
