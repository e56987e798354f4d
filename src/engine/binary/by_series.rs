//! Vector matching planned once for all steps of a range evaluation.
//!
//! The step-by-step evaluation (as Prometheus does it) rebuilds the match of
//! every sample at every step, visiting every series' cursor, label set and
//! output column per step: a working set that outgrows the caches at 100k
//! series. When the match cannot depend on the step, it is made once per
//! pair of series and each pair is then computed front to back:
//!
//! - floats only (no histogram arithmetic, so no per-step annotations), an
//!   arithmetic or comparison operator without `fill`;
//! - signatures unique on the "one" side (and, one-to-one, on both sides),
//!   so that the "duplicate series" and "multiple matches" errors, which
//!   depend on which series have a sample at a step, cannot occur;
//! - every pair yields a different result label set, so that no two results
//!   can collide at a step.
//!
//! Anything else goes the step-by-step way. Results, their order (by the step
//! of their first point, then input order, as the step loop creates them),
//! the sample accounting and the limits are those of the step-by-step path.

use super::{ResultLabels, btof, elem_binop, result_metric};
use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::plan::BinN;
use crate::engine::pointwise::StepGrid;
use crate::engine::types::{ESeries, Matrix};
use crate::model::FPoint;
use crate::parser::{BinaryOp, VectorMatchCardinality};

/// No series on the "one" side has this signature.
const NONE: usize = usize::MAX;

/// Evaluates `lhs op rhs` pair by pair, or `None` when the match may depend
/// on the step (then the caller evaluates step by step).
pub(super) fn eval_by_series(
    ev: &Ev<'_, '_>,
    b: &BinN,
    lhs: &Matrix,
    rhs: &Matrix,
    (lsig, rsig, nsigs): (&[usize], &[usize], usize),
    cache: &mut ResultLabels,
) -> Option<Result<Matrix, EvalError>> {
    use BinaryOp as B;
    let m = &b.matching;
    if ev.is_instant()
        || ev.interval <= 0
        || matches!(
            b.op,
            B::And | B::Or | B::Unless | B::TrimUpper | B::TrimLower
        )
        || m.card == VectorMatchCardinality::ManyToMany
        || m.fill.lhs.is_some()
        || m.fill.rhs.is_some()
        || lhs.iter().chain(rhs).any(|s| !s.hists.is_empty())
    {
        return None;
    }
    let swapped = m.card == VectorMatchCardinality::OneToMany;
    let (many, many_sig, one, one_sig) = if swapped {
        (rhs, rsig, lhs, lsig)
    } else {
        (lhs, lsig, rhs, rsig)
    };
    let one_by_sig = unique_by_sig(one_sig, nsigs)?;
    if m.card == VectorMatchCardinality::OneToOne {
        unique_by_sig(many_sig, nsigs)?;
    }
    let steps = StepGrid::new(ev);
    // Input points per step, as the step loop gathers them; a point off the
    // step grid would be skipped there, so it sends us there too.
    let mut gathered = vec![0usize; steps.count];
    for s in lhs.iter().chain(rhs) {
        let mut cursor = steps.cursor();
        for p in &s.floats {
            *gathered.get_mut(cursor.index(&steps, p.t)?)? += 1;
        }
    }
    let drop_name = !ev.delayed() && b.return_bool;
    let mut id_used: Vec<bool> = Vec::new();
    let mut produced = vec![0usize; steps.count];
    // (step of the first point, position on the "many" side, result)
    let mut results: Vec<(usize, usize, ESeries)> = Vec::new();
    for (mi, ms) in many.iter().enumerate() {
        let Some(&oi) = many_sig.get(mi).and_then(|&sig| one_by_sig.get(sig)) else {
            continue;
        };
        let Some(os) = one.get(oi) else {
            continue;
        };
        let (labels, id) = cache.get((mi, oi), true, || {
            result_metric(&ms.labels, &os.labels, b.op, m, drop_name)
        });
        if id_used.len() <= id {
            id_used.resize(id + 1, false);
        }
        if std::mem::replace(&mut id_used[id], true) {
            return None;
        }
        if let Err(e) = ev.tick_by(ms.floats.len() + os.floats.len()) {
            return Some(Err(e));
        }
        let mut out = ESeries::new(labels, b.return_bool);
        // At most one result per point of the shorter side.
        out.floats
            .reserve_exact(ms.floats.len().min(os.floats.len()));
        join_points(&ms.floats, &os.floats, |t, mv, ov| {
            let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
            let (v, keep) = elem_binop(b.op, l, r);
            if b.return_bool {
                out.floats.push(FPoint { t, v: btof(keep) });
            } else if keep {
                out.floats.push(FPoint { t, v });
            }
        });
        let mut cursor = steps.cursor();
        let mut first_step = None;
        for p in &out.floats {
            let k = cursor.index(&steps, p.t)?;
            first_step.get_or_insert(k);
            *produced.get_mut(k)? += 1;
        }
        let Some(first_step) = first_step else {
            continue;
        };
        results.push((first_step, mi, out));
    }
    if let Err(e) = ev.account_steps(lhs.iter().chain(rhs), &gathered, &produced) {
        return Some(Err(e));
    }
    results.sort_unstable_by_key(|&(step, mi, _)| (step, mi));
    Some(Ok(results.into_iter().map(|(_, _, s)| s).collect()))
}

/// Series index by signature; `None` when two series share a signature.
fn unique_by_sig(sigs: &[usize], nsigs: usize) -> Option<Vec<usize>> {
    let mut by_sig = vec![NONE; nsigs];
    for (i, &sig) in sigs.iter().enumerate() {
        let slot = by_sig.get_mut(sig)?;
        if *slot != NONE {
            return None;
        }
        *slot = i;
    }
    Some(by_sig)
}

/// Calls `f(t, a, b)` for every timestamp both sorted point lists have.
fn join_points(a: &[FPoint], b: &[FPoint], mut f: impl FnMut(i64, f64, f64)) {
    let (mut i, mut j) = (0, 0);
    while let (Some(p), Some(q)) = (a.get(i), b.get(j)) {
        match p.t.cmp(&q.t) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                f(p.t, p.v, q.v);
                i += 1;
                j += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(ts: &[i64]) -> Vec<FPoint> {
        ts.iter().map(|&t| FPoint { t, v: t as f64 }).collect()
    }

    #[test]
    fn join_visits_common_timestamps_in_order() {
        let mut seen = Vec::new();
        join_points(
            &pts(&[1, 2, 4, 7, 9]),
            &pts(&[2, 3, 4, 9, 10]),
            |t, a, b| seen.push((t, a, b)),
        );
        assert_eq!(seen, vec![(2, 2.0, 2.0), (4, 4.0, 4.0), (9, 9.0, 9.0)]);
    }

    #[test]
    fn repeated_signatures_are_refused() {
        assert_eq!(unique_by_sig(&[2, 0, 1], 3), Some(vec![1, 2, 0]));
        assert_eq!(unique_by_sig(&[0, 1, 0], 2), None);
        assert_eq!(unique_by_sig(&[5], 2), None);
    }
}
