//! Arbitrary bytes never make the parser panic, hang or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::{ParseOptions, parse_with};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_with(text, &ParseOptions::default());
        if let Err(e) = parse_with(text, &ParseOptions::all()) {
            // Rendering the caret error must not panic either.
            let _ = e.render(text);
        }
    }
});
