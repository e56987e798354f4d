//! The step-invariance re-run of instant queries: every selector and
//! top-level subquery gets `@ <eval time>`, and the query is evaluated at
//! other times, where it must give the same result.

use crate::parser::{AtModifier, Expr};

/// Functions whose result depends on the evaluation time even when their
/// arguments are pinned with `@`; queries calling them are not re-run.
const AT_UNSAFE_FUNCTIONS: [&str; 15] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// Whether the expression calls a function that makes an `@` re-run meaningless.
fn calls_unsafe_function(expr: &Expr) -> bool {
    let mut unsafe_call = false;
    expr.walk(|e| {
        if let Expr::Call(c) = e {
            unsafe_call |= AT_UNSAFE_FUNCTIONS.contains(&c.func.name);
        }
    });
    unsafe_call
}

/// Pins `expr` to `t` (milliseconds): every selector without an explicit
/// timestamp gets `@ t`; subqueries get it too and shield their insides.
/// `@ start()` / `@ end()` count as no timestamp, as upstream.
fn pin(expr: &mut Expr, t: i64) {
    let mut stack: Vec<&mut Expr> = vec![expr];
    let pin_at = |at: &mut Option<AtModifier>| {
        if !matches!(at, Some(AtModifier::Timestamp(_))) {
            *at = Some(AtModifier::Timestamp(t));
        }
    };
    while let Some(e) = stack.pop() {
        match e {
            Expr::VectorSelector(v) => pin_at(&mut v.at),
            Expr::MatrixSelector(m) => pin_at(&mut m.selector.at),
            // The subquery now has a timestamp, so nothing inside changes.
            Expr::Subquery(s) => pin_at(&mut s.at),
            Expr::Aggregate(a) => {
                stack.push(&mut a.expr);
                if let Some(p) = &mut a.param {
                    stack.push(p);
                }
            }
            Expr::Binary(b) => {
                stack.push(&mut b.lhs);
                stack.push(&mut b.rhs);
            }
            Expr::Call(c) => stack.extend(c.args.iter_mut()),
            Expr::Paren(p) => stack.push(&mut p.expr),
            Expr::Unary(u) => stack.push(&mut u.expr),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        }
    }
}

/// The pinned expression and the evaluation times to re-run it at, or
/// `None` when the query is not step invariant by construction.
pub fn rerun_cases(expr: &Expr, t: i64) -> Option<(Expr, Vec<i64>)> {
    if calls_unsafe_function(expr) {
        return None;
    }
    let mut pinned = expr.clone();
    pin(&mut pinned, t);
    let times = if t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![t.saturating_mul(-10), 0, t / 5, t, t.saturating_mul(10)]
    };
    Some((pinned, times))
}
