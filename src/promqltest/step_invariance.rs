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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Matcher;
    use crate::parser::{Call, DurationExpr, Span, SubqueryExpr, VectorSelector, functions};

    fn selector(name: &str, at: Option<AtModifier>) -> Expr {
        Expr::VectorSelector(Box::new(VectorSelector {
            name: Some(name.into()),
            matchers: vec![Matcher::equal("__name__", name)],
            offset: None,
            at,
            anchored: false,
            smoothed: false,
            span: Span::default(),
        }))
    }

    fn call(name: &str, args: Vec<Expr>) -> Expr {
        let func = functions::lookup(name).unwrap_or_else(|| panic!("no function {name}"));
        Expr::Call(Box::new(Call {
            func,
            args,
            span: Span::default(),
        }))
    }

    fn at_of(e: &Expr) -> Option<AtModifier> {
        match e {
            Expr::VectorSelector(v) => v.at,
            Expr::Subquery(s) => s.at,
            _ => None,
        }
    }

    #[test]
    fn pins_selectors_but_not_inside_subqueries() {
        let inner = selector("a", None);
        let sub = Expr::Subquery(Box::new(SubqueryExpr {
            expr: inner,
            range: DurationExpr::from_millis(60_000, Span::default()),
            step: None,
            offset: None,
            at: Some(AtModifier::Start),
            span: Span::default(),
        }));
        let expr = call("max_over_time", vec![sub]);
        let (pinned, times) = rerun_cases(&expr, 5000).unwrap();
        assert_eq!(times, vec![-50_000, 0, 1000, 5000, 50_000]);
        let Expr::Call(c) = &pinned else {
            panic!("not a call")
        };
        assert_eq!(at_of(&c.args[0]), Some(AtModifier::Timestamp(5000)));
        let Expr::Subquery(s) = &c.args[0] else {
            panic!("not a subquery")
        };
        assert_eq!(at_of(&s.expr), None);

        let kept = selector("b", Some(AtModifier::Timestamp(1)));
        let (pinned, times) = rerun_cases(&call("abs", vec![kept]), 0).unwrap();
        assert_eq!(times, vec![-1000, 0, 1000]);
        let Expr::Call(c) = &pinned else {
            panic!("not a call")
        };
        assert_eq!(at_of(&c.args[0]), Some(AtModifier::Timestamp(1)));
    }

    #[test]
    fn skips_time_dependent_functions() {
        assert!(rerun_cases(&call("time", vec![]), 1000).is_none());
        assert!(rerun_cases(&call("timestamp", vec![selector("a", None)]), 1000).is_none());
    }
}
