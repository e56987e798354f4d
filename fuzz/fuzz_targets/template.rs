//! Arbitrary text never makes the Go-template parser or executor panic, and
//! execution stays within its limits (nesting, output size, iterations).
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::rules::template::parse_alert_template;
use promql_engine::rules::template::exec::{AlertData, Expander, QuerySample};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(template) = parse_alert_template("Fuzz", text) else { return };
    let alert = AlertData::new(
        &[("instance", "host:9100"), ("job", "node")],
        &[("cluster", "c1")],
        "http://prometheus.example:9090",
        0.123,
    );
    let query = |q: &str| -> Result<Vec<QuerySample>, String> {
        if q.len() % 2 == 0 { Ok(Vec::new()) } else { Err("no storage".into()) }
    };
    let mut expander = Expander::new(1_700_000_000_000);
    expander.query = Some(&query);
    if let Ok(out) = expander.expand_alert(&template, text, &alert) {
        assert!(out.len() <= 2 << 20, "template output exceeds its limit");
    }
});
