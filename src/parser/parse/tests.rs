//! Unit tests for the parser: shapes of parsed trees and error messages.

use crate::parser::{ParseOptions, parse_with};

fn all() -> ParseOptions {
    ParseOptions::all()
}

#[test]
fn smoke() {
    let e = parse_with("sum by (job) (rate(http_requests_total[5m]))", &all()).unwrap();
    assert!(matches!(e, crate::parser::Expr::Aggregate(_)));
}
