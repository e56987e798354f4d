//! Arbitrary text never makes the test-script parser panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::promqltest::Script;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Script::parse(text);
    }
});
