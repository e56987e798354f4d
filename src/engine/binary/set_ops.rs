//! `and`, `or` and `unless` over floats, series by series.
//!
//! The step loop looks up, at every step, which signatures the other side
//! has a sample for. Over a range evaluation each side's presence is found
//! once instead, as one bit per (signature, step), and every series is
//! filtered front to back against it. Results keep their input labels, so
//! they are distinct unless a right-hand series of `or` has the labels of a
//! left-hand one (then the step loop merges them). Results, their order (by
//! the step of their first point, left before right, then input order),
//! the sample accounting and the limits are the step loop's.

use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::plan::BinN;
use crate::engine::pointwise::StepGrid;
use crate::engine::types::{ESeries, FastSet, Matrix, Points};
use crate::model::Labels;
use crate::parser::BinaryOp;

/// The most (signature, step) bits the presence of one side may take
/// (8 MiB); beyond it the step loop runs.
const MAX_PRESENCE_BITS: usize = 1 << 26;

/// Evaluates `lhs and/or/unless rhs` series by series (`lsig`, `rsig`: the
/// signature of each series, below `nsigs`), or `None` when the step loop
/// must (histograms, points off the step grid, an `or` whose right side
/// repeats a left label set, or a presence too large to hold).
pub(super) fn eval_set_op(
    ev: &Ev<'_, '_>,
    b: &BinN,
    (lhs, rhs): (&Matrix, &Matrix),
    (lsig, rsig, nsigs): (&[usize], &[usize], usize),
) -> Option<Result<Matrix, EvalError>> {
    if ev.interval <= 0
        || !matches!(b.op, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
        || lhs.iter().chain(rhs).any(|s| !s.hists.is_empty())
    {
        return None;
    }
    let steps = StepGrid::new(ev);
    if nsigs.checked_mul(steps.count)? > MAX_PRESENCE_BITS {
        return None;
    }
    if b.op == BinaryOp::Or {
        let left: FastSet<&Labels> = lhs.iter().map(|s| &s.labels).collect();
        if rhs.iter().any(|s| left.contains(&s.labels)) {
            return None;
        }
    }
    // Input points per step, as the step loop gathers them.
    let mut gathered = vec![0usize; steps.count];
    let mut produced = vec![0usize; steps.count];
    let mut count = |side: &Matrix| -> Option<()> {
        for s in side {
            let mut cursor = steps.cursor();
            for p in &s.floats {
                gathered[cursor.index(&steps, p.t)?] += 1;
            }
        }
        Some(())
    };
    count(lhs)?;
    count(rhs)?;
    // (step of the first point, side, position, result)
    let mut results: Vec<(usize, u8, usize, ESeries)> = Vec::new();
    let mut keep = |side: u8, i: usize, s: &ESeries, filter: &dyn Fn(usize) -> bool| {
        let mut cursor = steps.cursor();
        let mut points = Points::new();
        let mut first = None;
        for p in &s.floats {
            // Every point was placed on the grid when counting.
            let Some(k) = cursor.index(&steps, p.t) else {
                continue;
            };
            if filter(k) {
                points.push(*p);
                produced[k] += 1;
                first.get_or_insert(k);
            }
        }
        if let Some(first) = first {
            let mut out = ESeries::new(s.labels.clone(), s.drop_name);
            out.floats = points;
            results.push((first, side, i, out));
        }
    };
    match b.op {
        BinaryOp::Or => {
            let left = Presence::of(lhs, lsig, &steps, nsigs);
            for (i, s) in lhs.iter().enumerate() {
                keep(0, i, s, &|_| true);
            }
            for (i, s) in rhs.iter().enumerate() {
                keep(1, i, s, &|k| !left.has(rsig[i], k));
            }
        }
        op => {
            let right = Presence::of(rhs, rsig, &steps, nsigs);
            let wanted = op == BinaryOp::And;
            for (i, s) in lhs.iter().enumerate() {
                keep(0, i, s, &|k| right.has(lsig[i], k) == wanted);
            }
        }
    }
    if let Err(e) = ev.account_steps(lhs.iter().chain(rhs), &gathered, &produced) {
        return Some(Err(e));
    }
    results.sort_unstable_by_key(|&(step, side, i, _)| (step, side, i));
    Some(Ok(results.into_iter().map(|(.., s)| s).collect()))
}

/// Which signatures one side has a point for at each step.
struct Presence {
    bits: Vec<u64>,
    steps: usize,
}

impl Presence {
    fn of(side: &Matrix, sigs: &[usize], grid: &StepGrid, nsigs: usize) -> Presence {
        let steps = grid.count;
        let mut bits = vec![0u64; (nsigs * steps).div_ceil(64)];
        for (s, &sig) in side.iter().zip(sigs) {
            let mut cursor = grid.cursor();
            for p in &s.floats {
                if let Some(k) = cursor.index(grid, p.t) {
                    let bit = sig * steps + k;
                    bits[bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        Presence { bits, steps }
    }

    fn has(&self, sig: usize, step: usize) -> bool {
        let bit = sig * self.steps + step;
        self.bits
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{set_op_step, signature_ids};
    use super::*;
    use crate::engine::plan::Node;
    use crate::engine::pointwise::testing::{cases, plan, run_both};
    use proptest::prelude::*;

    const OPS: [&str; 3] = ["and", "or", "unless"];
    const MATCHING: [&str; 4] = ["", " on (inst)", " ignoring (inst)", " on ()"];

    proptest! {
        /// Where `and`, `or` and `unless` are evaluated series by series,
        /// they give what the step loop gives: results, their order,
        /// errors and sample counters.
        #[test]
        fn by_series_equals_the_step_loop(
            op in 0usize..OPS.len(),
            matching in 0usize..MATCHING.len(),
            case in cases(0),
        ) {
            let query = format!("x {}{} y", OPS[op], MATCHING[matching]);
            let Node::Binary(b) = plan(&query) else {
                panic!("{query} is not a binary operation");
            };
            let (lhs, rhs) = (&case.vector, &case.other);
            let ([lsig, rsig], nsigs) = signature_ids([lhs, rhs], &b.matching, [None, None]);
            let fast = |ev: &Ev<'_, '_>| eval_set_op(ev, &b, (lhs, rhs), (&lsig, &rsig, nsigs));
            let slow = |ev: &Ev<'_, '_>| {
                ev.range_eval(vec![lhs.clone(), rhs.clone()], |v, idx, _| {
                    let ls: Vec<usize> = idx[0].iter().map(|&i| lsig[i]).collect();
                    let rs: Vec<usize> = idx[1].iter().map(|&i| rsig[i]).collect();
                    Ok(set_op_step(b.op, (&v[0], &ls), (&v[1], &rs)))
                })
            };
            if let Some((fast, slow)) = run_both(&case, fast, slow) {
                prop_assert_eq!(fast, slow);
            }
        }
    }
}
