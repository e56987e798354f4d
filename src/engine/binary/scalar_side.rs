//! `vector op scalar` and `scalar op vector` over floats, series by series
//! (see [`crate::engine::pointwise`]).

use super::{changes_metric_schema, elem_binop, vector_scalar_value};
use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::plan::BinN;
use crate::engine::pointwise::map_points;
use crate::engine::types::Matrix;
use crate::parser::BinaryOp;

/// Evaluates `vector op scalar` (`scalar op vector` when `swap`) series by
/// series, or `None` when the step loop must (see [`map_points`]; the trim
/// operators, undefined for floats, annotate at each step).
pub(crate) fn eval_vector_scalar(
    ev: &Ev<'_, '_>,
    b: &BinN,
    vector: &mut Matrix,
    scalar: &Matrix,
    swap: bool,
) -> Option<Result<Matrix, EvalError>> {
    if matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower) {
        return None;
    }
    let renames = changes_metric_schema(b.op) || b.return_bool;
    // The four arithmetic operators each get their own loop, which does not
    // decide the operator at every point (the others are rarer, or cost
    // more than the decision).
    let mut arith = |f: fn(f64, f64) -> f64| {
        map_points(ev, vector, &[scalar], renames, move |p, at| {
            let (l, r) = if swap { (at[0], p.v) } else { (p.v, at[0]) };
            Some(f(l, r))
        })
    };
    match b.op {
        BinaryOp::Add => arith(|l, r| l + r),
        BinaryOp::Sub => arith(|l, r| l - r),
        BinaryOp::Mul => arith(|l, r| l * r),
        BinaryOp::Div => arith(|l, r| l / r),
        _ => map_points(ev, vector, &[scalar], renames, |p, at| {
            let (x, s) = (p.v, at[0]);
            let (l, r) = if swap { (s, x) } else { (x, s) };
            let (v, keep) = elem_binop(b.op, l, r);
            vector_scalar_value(b, swap, x, v, keep)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::vector_scalar_binop;
    use super::*;
    use crate::engine::plan::Node;
    use crate::engine::pointwise::testing::{cases, plan, run_both};
    use proptest::prelude::*;

    const OPS: [&str; 13] = [
        "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=",
    ];

    proptest! {
        /// Where the series-by-series evaluation of a vector and a scalar
        /// applies, it gives what the step loop gives: the same results in
        /// the same order, the same errors (the samples limit) and the same
        /// sample counters.
        #[test]
        fn by_series_equals_the_step_loop(
            op in 0usize..OPS.len(),
            bool_ in any::<bool>(),
            swap in any::<bool>(),
            case in cases(1),
        ) {
            let op = if bool_ && op >= 7 { format!("{} bool", OPS[op]) } else { OPS[op].to_string() };
            let query = if swap { format!("1 {op} x") } else { format!("x {op} 1") };
            let Node::Binary(b) = plan(&query) else {
                panic!("{query} is not a binary operation");
            };
            let (vector, scalar) = (&case.vector, &case.scalars[0]);
            let fast = |ev: &Ev<'_, '_>| {
                let mut taken = vector.clone();
                let result = eval_vector_scalar(ev, &b, &mut taken, scalar, swap);
                // Left to the step loop, the input is as it was.
                assert!(result.is_some() || format!("{taken:?}") == format!("{vector:?}"));
                result
            };
            let slow = |ev: &Ev<'_, '_>| {
                let (vi, si) = if swap { (1, 0) } else { (0, 1) };
                let inputs = if swap {
                    vec![scalar.clone(), vector.clone()]
                } else {
                    vec![vector.clone(), scalar.clone()]
                };
                ev.range_eval(inputs, |v, _, _| {
                    let s = v[si].first().map_or(f64::NAN, |s| s.f);
                    Ok(vector_scalar_binop(ev, &b, &v[vi], s, swap))
                })
            };
            if let Some((fast, slow)) = run_both(&case, fast, slow) {
                prop_assert_eq!(fast, slow);
            }
        }
    }
}
