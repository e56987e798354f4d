//! The multi-line pretty form of Prometheus' `Prettify` (`promtool promql format`).
//!
//! A node whose canonical form fits in the line width is printed on one
//! line. A longer node is split: aggregations and calls put each argument on
//! its own line, one level deeper; binary expressions put the operator on
//! its own line between the operands, which go one level deeper;
//! parentheses put the inner expression on its own line. Selectors and
//! literals are never split. Every level indents by two spaces.

use std::fmt::{self, Write};

use super::canonical;
use crate::parser::ast::{
    AggregateExpr, BinaryExpr, Call, Expr, ParenExpr, SubqueryExpr, UnaryExpr,
};

/// The longest line [`format()`] leaves unsplit, in bytes (as Prometheus counts).
pub const MAX_LINE_WIDTH: usize = 100;

const INDENT: &str = "  ";

/// Pretty-prints `expr` over several lines, as `promtool promql format` does:
/// nodes longer than [`MAX_LINE_WIDTH`] are split, two spaces per level.
///
/// ```
/// let expr = promql_engine::parse(
///     r#"sum by (job, instance) (rate(http_requests_total{job="api-server",handler="/api/v1/query"}[5m])) / 100"#,
/// ).unwrap();
/// let expected = concat!(
///     "  sum by (job, instance) (rate(http_requests_total{handler=\"/api/v1/query\",job=\"api-server\"}[5m]))\n",
///     "/\n",
///     "  100",
/// );
/// assert_eq!(promql_engine::format(&expr), expected);
/// assert_eq!(format!("{expr:#}"), expected);
/// ```
pub fn format(expr: &Expr) -> String {
    format_with_width(expr, MAX_LINE_WIDTH)
}

/// [`format()`] with another line width (in bytes).
pub fn format_with_width(expr: &Expr, width: usize) -> String {
    render(width, |p| p.expr(expr, 0))
}

/// Runs `print` on a fresh pretty printer and returns what it wrote.
pub(crate) fn render(width: usize, print: impl FnOnce(&mut Pretty)) -> String {
    let mut p = Pretty {
        out: String::new(),
        width,
    };
    print(&mut p);
    p.out
}

/// The pretty printer's state: the text so far and the line width.
pub(crate) struct Pretty {
    out: String,
    width: usize,
}

type Canonical<'a> = &'a dyn Fn(&mut dyn Write) -> fmt::Result;

impl Pretty {
    /// Prints `e` at indentation `level`, starting with its indentation.
    pub(crate) fn expr(&mut self, e: &Expr, level: usize) {
        match e {
            Expr::Aggregate(a) => self.aggregate(a, level),
            Expr::Binary(b) => self.binary(b, level),
            Expr::Call(c) => self.call(c, level),
            Expr::Paren(p) => self.paren(p, level),
            Expr::Subquery(s) => self.subquery(s, level),
            Expr::Unary(u) => self.unary(u, level),
            Expr::MatrixSelector(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_) => {
                self.indent(level);
                self.canonical(&|w| canonical::expr(w, e));
            }
        }
    }

    pub(crate) fn aggregate(&mut self, a: &AggregateExpr, level: usize) {
        self.indent(level);
        if self.one_line(&|w| canonical::aggregate(w, a)) {
            return;
        }
        self.canonical(&|w| canonical::aggregate_head(w, a));
        self.out.push_str("(\n");
        if let Some(param) = &a.param {
            self.expr(param, level + 1);
            self.out.push_str(",\n");
        }
        self.expr(&a.expr, level + 1);
        self.close(level);
    }

    pub(crate) fn binary(&mut self, b: &BinaryExpr, level: usize) {
        let start = self.out.len();
        self.indent(level);
        if self.one_line(&|w| canonical::binary(w, b)) {
            return;
        }
        // The left operand indents itself one level deeper (a number is
        // written as the one-line form writes it).
        self.out.truncate(start);
        if matches!(b.lhs, Expr::NumberLiteral(_)) {
            self.indent(level + 1);
            self.canonical(&|w| canonical::binary_lhs(w, b));
        } else {
            self.expr(&b.lhs, level + 1);
        }
        self.out.push('\n');
        self.indent(level);
        self.canonical(&|w| canonical::binary_operator(w, b));
        self.out.push('\n');
        self.expr(&b.rhs, level + 1);
    }

    pub(crate) fn call(&mut self, c: &Call, level: usize) {
        self.indent(level);
        if self.one_line(&|w| canonical::call(w, c)) {
            return;
        }
        self.out.push_str(c.func.name);
        self.out.push_str("(\n");
        for (i, arg) in c.args.iter().enumerate() {
            if i > 0 {
                self.out.push_str(",\n");
            }
            if let Expr::VectorSelector(_) = arg {
                self.indent(level + 1);
                self.canonical(&|w| canonical::call_argument(w, c, i, arg));
            } else {
                self.expr(arg, level + 1);
            }
        }
        self.close(level);
    }

    pub(crate) fn paren(&mut self, p: &ParenExpr, level: usize) {
        self.indent(level);
        if self.one_line(&|w| canonical::paren(w, p)) {
            return;
        }
        self.out.push_str("(\n");
        self.expr(&p.expr, level + 1);
        self.close(level);
    }

    /// A long subquery splits its inner expression and keeps the suffix
    /// (`[5m:1m] @ start() offset 1m`) after the inner expression's last line.
    pub(crate) fn subquery(&mut self, s: &SubqueryExpr, level: usize) {
        let start = self.out.len();
        // Prometheus omits the indentation of a subquery that fits on its
        // line; we indent it like every other node.
        self.indent(level);
        if self.one_line(&|w| canonical::subquery(w, s)) {
            return;
        }
        self.out.truncate(start);
        self.expr(&s.expr, level);
        self.canonical(&|w| canonical::subquery_suffix(w, s));
    }

    /// The operator goes right before the operand's first line, whose
    /// indentation is dropped.
    pub(crate) fn unary(&mut self, u: &UnaryExpr, level: usize) {
        let operand = render(self.width, |p| p.expr(&u.expr, level));
        self.indent(level);
        self.out.push_str(u.op.as_str());
        self.out.push_str(operand.trim_start_matches(' '));
    }

    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str(INDENT);
        }
    }

    /// Writes `)` on its own line at `level`.
    fn close(&mut self, level: usize) {
        self.out.push('\n');
        self.indent(level);
        self.out.push(')');
    }

    /// Appends the canonical form when it fits in the width; says whether it did.
    fn one_line(&mut self, write: Canonical<'_>) -> bool {
        let fits = write(&mut LengthLimit {
            len: 0,
            limit: self.width,
        })
        .is_ok();
        if fits {
            self.canonical(write);
        }
        fits
    }

    fn canonical(&mut self, write: Canonical<'_>) {
        // Writing to a String cannot fail.
        let _ = write(&mut self.out);
    }
}

/// A writer that only counts bytes and fails once there are more than
/// `limit`, so checking whether a huge node fits costs at most `limit`.
struct LengthLimit {
    len: usize,
    limit: usize,
}

impl Write for LengthLimit {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.len += s.len();
        if self.len > self.limit {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}
