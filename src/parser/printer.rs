//! Canonical one-line printing (`Display`) and the multi-line pretty form. (Being written.)

use std::fmt;

use super::Expr;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<unprinted>")
    }
}

/// Pretty-prints `expr` over several lines, as `promtool promql format` does.
pub fn format(expr: &Expr) -> String {
    expr.to_string()
}
