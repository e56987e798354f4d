//! Whatever parses prints to text that parses back to the same tree, and
//! printing is a fixpoint, for the canonical and the pretty form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::{ParseOptions, format, parse_with};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let options = ParseOptions::all();
    let Ok(expr) = parse_with(text, &options) else { return };
    for printed in [expr.to_string(), format(&expr)] {
        let reparsed = match parse_with(&printed, &options) {
            Ok(e) => e,
            Err(e) => panic!("printed form does not parse: {printed:?} from {text:?}: {e}"),
        };
        assert!(expr.eq_ignore_spans(&reparsed), "AST changed: {text:?} -> {printed:?}");
        assert_eq!(reparsed.to_string(), expr.to_string(), "canonical form is not a fixpoint");
    }
});
