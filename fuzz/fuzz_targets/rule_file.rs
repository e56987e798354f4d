//! Arbitrary text never makes the rule-file loader and checker panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::rules::{CheckOptions, check_named_sources};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let report = check_named_sources(&[("fuzz.yml", text)], &CheckOptions::default());
        assert!(matches!(report.exit_code, 0 | 1 | 3));
    }
});
