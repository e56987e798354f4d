//! Arbitrary text never makes the Go-template parser panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::rules::template::parse_alert_template;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_alert_template("Fuzz", text);
    }
});
