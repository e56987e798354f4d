//! The type checker: value types and Prometheus' semantic rules. (Being written.)

use super::{Expr, ParseError};

/// Checks `expr` (parsed from `source`) against Prometheus' typing rules.
pub fn check(_expr: &Expr, _source: &str) -> Result<(), ParseError> {
    Ok(())
}
