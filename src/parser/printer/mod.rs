//! Turning an [`Expr`] back into PromQL text.
//!
//! - `Display` (`expr.to_string()`, `{}`) gives the canonical one-line form,
//!   the same text as Prometheus' `String()`: `sum by (job) (rate(x[5m]))`,
//!   `a + on (b) group_left (c) d`, `x offset -5m @ 100.000`, matchers
//!   sorted with the metric name first, durations as `1h30m`, numbers and
//!   strings as Go formats them.
//! - [`format()`] (and the alternate flag, `{:#}`) gives the multi-line pretty
//!   form of Prometheus' `Prettify`, split at [`MAX_LINE_WIDTH`] bytes.
//!
//! Parsing the printed text gives back the same tree (spans aside), up to
//! what Prometheus' printer also normalises: `by ()` and an empty
//! `ignoring ()` are dropped, matchers are sorted, a unary `+` in a duration
//! expression and a zero `offset` are dropped, and a plain number in a range,
//! step or offset prints as a duration (`[300]` as `[5m]`).
//!
//! Two deliberate differences from Prometheus: a metric name that is not a
//! legacy name prints quoted inside the braces (`{"my.metric"}`, where
//! Prometheus writes `{__name__="my.metric"}`), so that it reparses to the
//! same tree; and in the pretty form a subquery that fits on its line is
//! indented like every other node (Prometheus leaves it at column 0).

mod canonical;
mod pretty;
mod text;

use std::fmt;

pub use pretty::{MAX_LINE_WIDTH, format, format_with_width};
pub use text::format_duration;

use super::ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, DurationExpr, Expr,
    Grouping, MatrixSelector, NumberLiteral, ParenExpr, StringLiteral, SubqueryExpr, UnaryExpr,
    UnaryOp, VectorSelector,
};

/// `Display` for a node with a pretty form: `{}` is canonical, `{:#}` pretty.
macro_rules! display_with_pretty {
    ($($ty:ty => $canonical:ident, $pretty:ident;)*) => {$(
        /// `{}` prints the canonical one-line PromQL, `{:#}` the pretty multi-line form.
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if f.alternate() {
                    f.write_str(&pretty::render(MAX_LINE_WIDTH, |p| p.$pretty(self, 0)))
                } else {
                    canonical::$canonical(f, self)
                }
            }
        }
    )*};
}

display_with_pretty! {
    Expr => expr, expr;
    AggregateExpr => aggregate, aggregate;
    BinaryExpr => binary, binary;
    Call => call, call;
    ParenExpr => paren, paren;
    SubqueryExpr => subquery, subquery;
    UnaryExpr => unary, unary;
}

/// `Display` for a node that is always printed on one line.
macro_rules! display_one_line {
    ($($ty:ty => $canonical:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                canonical::$canonical(f, self)
            }
        }
    )*};
}

display_one_line! {
    MatrixSelector => matrix_selector, "Prints `x{a=\"b\"}[5m] @ 1.000 offset 1m` (never split).";
    VectorSelector => vector_selector, "Prints `x{a=\"b\"} @ 1.000 offset 1m` (never split).";
    NumberLiteral => number, "Prints the number as Go does (`1`, `0.5`, `+Inf`), or a duration (`5m`).";
    StringLiteral => string, "Prints the string double-quoted with Go escapes.";
    DurationExpr => duration, "Prints the duration as in a range or offset: `5m`, `step() * 2`.";
    AtModifier => at_modifier, "Prints `@ 100.000`, `@ start()` or `@ end()`.";
    Grouping => grouping, "Prints `by (a, b)` or `without (c)`.";
}

/// Prints the keyword, e.g. `count_values`.
impl fmt::Display for AggregateOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints the operator, e.g. `+` or `unless`.
impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints `-` or `+`.
impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
