//! Binary operations computed series by series for all steps at once.
//!
//! **A vector and a scalar.** The step loop gathers every series' sample at
//! each step, applies the operator and looks each result's label set up to
//! place it in its output series (an instant query hashes every result's
//! labels to look for two alike). Over floats, a series' results depend on
//! that series and the scalar at each step only, and its result labels are
//! the same at every step: each series is computed front to back, and
//! results are known distinct when no labels are dropped or all series
//! carry the same metadata labels (else the step loop reports collisions).
//! See [`eval_vector_scalar`].
//!
//! **Two vectors.** Vector matching is planned once for all steps of a
//! range evaluation ([`eval_by_series`]).
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

use super::{
    ResultLabels, btof, changes_metric_schema, elem_binop, result_metric, vector_scalar_value,
};
use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::plan::BinN;
use crate::engine::types::{ESeries, Matrix, Points, drop_metadata, same_metadata};
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
        for p in &s.floats {
            *gathered.get_mut(steps.index(p.t)?)? += 1;
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
        join_points(&ms.floats, &os.floats, |t, mv, ov| {
            let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
            let (v, keep) = elem_binop(b.op, l, r);
            if b.return_bool {
                out.floats.push(FPoint { t, v: btof(keep) });
            } else if keep {
                out.floats.push(FPoint { t, v });
            }
        });
        let Some(first) = out.floats.first() else {
            continue;
        };
        let first_step = steps.index(first.t)?;
        for p in &out.floats {
            *produced.get_mut(steps.index(p.t)?)? += 1;
        }
        results.push((first_step, mi, out));
    }
    if let Err(e) = ev.account_steps(lhs.iter().chain(rhs), &gathered, &produced) {
        return Some(Err(e));
    }
    results.sort_unstable_by_key(|&(step, mi, _)| (step, mi));
    Some(Ok(results.into_iter().map(|(_, _, s)| s).collect()))
}

/// Evaluates `vector op scalar` (`scalar op vector` when `swap`) series by
/// series, or `None` when the step loop must (histograms, an operator
/// undefined for floats, results that may collide, points off the step
/// grid). Results, their order (by the step of their first point, then
/// input order), the sample accounting and the limits are the step loop's.
pub(crate) fn eval_vector_scalar(
    ev: &Ev<'_, '_>,
    b: &BinN,
    vector: &Matrix,
    scalar: &Matrix,
    swap: bool,
) -> Option<Result<Matrix, EvalError>> {
    if ev.interval <= 0
        || matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower)
        || scalar.len() > 1
        || vector.iter().chain(scalar).any(|s| !s.hists.is_empty())
    {
        return None;
    }
    let renames = changes_metric_schema(b.op) || b.return_bool;
    let drop_labels = renames && !ev.delayed();
    if drop_labels && !same_metadata(vector.iter().map(|s| &s.labels)) {
        return None;
    }
    let steps = StepGrid::new(ev);
    let mut gathered = vec![0usize; steps.count];
    // The scalar at each step, NaN where it has no point (as in the loop).
    let mut scalar_at = vec![f64::NAN; steps.count];
    for p in scalar.iter().flat_map(|s| s.floats.iter()) {
        let k = steps.index(p.t)?;
        scalar_at[k] = p.v;
        gathered[k] += 1;
    }
    let mut produced = vec![0usize; steps.count];
    // (step of the first point, position in `vector`, result)
    let mut results: Vec<(usize, usize, ESeries)> = Vec::with_capacity(vector.len());
    for (i, s) in vector.iter().enumerate() {
        if let Err(e) = ev.tick_by(s.floats.len()) {
            return Some(Err(e));
        }
        let labels = if drop_labels {
            drop_metadata(&s.labels)
        } else {
            s.labels.clone()
        };
        let mut points = Vec::with_capacity(s.floats.len());
        let mut cursor = steps.cursor();
        for p in &s.floats {
            let k = cursor.index(&steps, p.t)?;
            gathered[k] += 1;
            let (l, r) = if swap {
                (scalar_at[k], p.v)
            } else {
                (p.v, scalar_at[k])
            };
            let (v, keep) = elem_binop(b.op, l, r);
            if let Some(v) = vector_scalar_value(b, swap, p.v, v, keep) {
                points.push(FPoint { t: p.t, v });
                produced[k] += 1;
            }
        }
        let Some(first) = points.first().and_then(|p| steps.index(p.t)) else {
            continue;
        };
        let mut out = ESeries::new(labels, s.drop_name || renames);
        out.floats = Points::from_vec(points);
        results.push((first, i, out));
    }
    if let Err(e) = ev.account_steps(vector.iter().chain(scalar), &gathered, &produced) {
        return Some(Err(e));
    }
    // Input order already is the order of first points for series that all
    // start at the first step (the usual case): a stable sort keeps it.
    results.sort_by_key(|&(step, _, _)| step);
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

/// The steps of the evaluation, to place a point on them.
struct StepGrid {
    start: i64,
    interval: i64,
    count: usize,
}

impl StepGrid {
    fn new(ev: &Ev<'_, '_>) -> Self {
        StepGrid {
            start: ev.start,
            interval: ev.interval.max(1),
            count: ev.num_steps(),
        }
    }

    /// A cursor for placing the ascending times of one series.
    fn cursor(&self) -> StepCursor {
        StepCursor {
            next: 0,
            at: self.start,
        }
    }

    /// The step a point at `t` belongs to, if it is on the grid.
    fn index(&self, t: i64) -> Option<usize> {
        let d = t.checked_sub(self.start)?;
        if d < 0 || d % self.interval != 0 {
            return None;
        }
        usize::try_from(d / self.interval)
            .ok()
            .filter(|&i| i < self.count)
    }
}

/// Places the ascending times of one series on a [`StepGrid`]: a point at
/// the step after the previous point's costs a comparison, not a division.
struct StepCursor {
    /// The step after the last point placed, and its time.
    next: usize,
    at: i64,
}

impl StepCursor {
    /// The step of a point at `t` (see [`StepGrid::index`]).
    fn index(&mut self, grid: &StepGrid, t: i64) -> Option<usize> {
        let k = if t == self.at && self.next < grid.count {
            self.next
        } else {
            grid.index(t)?
        };
        self.next = k + 1;
        // Past the last step (or beyond `i64`) the next time matches no
        // point, which then goes through `StepGrid::index`.
        self.at = t.wrapping_add(grid.interval);
        Some(k)
    }
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

    mod vector_scalar {
        use super::super::super::vector_scalar_binop;
        use super::*;
        use crate::engine::eval::Shared;
        use crate::engine::plan::{Node, QueryFrame, lower};
        use crate::engine::{EngineOptions, types::Points};
        use crate::model::Labels;
        use crate::storage::MemoryStorage;
        use proptest::prelude::*;

        const STEP: i64 = 15_000;
        const STEPS: usize = 6;
        const OPS: [&str; 13] = [
            "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=",
        ];

        fn value() -> impl Strategy<Value = Option<f64>> {
            prop_oneof![
                3 => (-3i32..4).prop_map(|v| Some(f64::from(v) / 2.0)),
                1 => Just(Some(f64::NAN)),
                1 => Just(None),
            ]
        }

        fn labels(meta: usize, inst: usize) -> Labels {
            let inst = inst.to_string();
            match meta {
                0 => Labels::from_pairs(&[("__name__", "a"), ("inst", &inst)]),
                1 => Labels::from_pairs(&[("__name__", "b"), ("inst", &inst)]),
                2 => Labels::from_pairs(&[("__name__", "a"), ("__unit__", "s"), ("inst", &inst)]),
                _ => Labels::from_pairs(&[("inst", inst.as_str())]),
            }
        }

        fn series(labels: Labels, values: &[Option<f64>], times: &[i64], drop: bool) -> ESeries {
            let mut s = ESeries::new(labels, drop);
            s.floats = values
                .iter()
                .zip(times)
                .filter_map(|(v, &t)| v.map(|v| FPoint { t, v }))
                .collect::<Points>();
            s
        }

        fn binary(op: &str, bool_: bool, swap: bool) -> BinN {
            let op = if bool_ {
                format!("{op} bool")
            } else {
                op.to_string()
            };
            let text = if swap {
                format!("1 {op} x")
            } else {
                format!("x {op} 1")
            };
            let expr = crate::parse(&text).expect("test query parses");
            let frame = QueryFrame {
                start: 0,
                end: 0,
                step: 0,
                default_subquery_step: STEP,
                experimental_functions: false,
            };
            match lower(&expr, &frame).expect("test query lowers") {
                Node::Binary(b) => *b,
                other => panic!("not a binary operation: {other:?}"),
            }
        }

        /// What an evaluation left behind: its result (or error) and the
        /// evaluator's sample counters.
        type Outcome = (
            Result<Vec<(Labels, bool, Vec<(i64, u64)>)>, String>,
            [u64; 3],
        );

        fn outcome(sh: &Shared<'_>, r: Result<Matrix, EvalError>) -> Outcome {
            let r = r
                .map(|m| {
                    m.into_iter()
                        .map(|s| {
                            let pts = s.floats.iter().map(|p| (p.t, p.v.to_bits())).collect();
                            (s.labels, s.drop_name, pts)
                        })
                        .collect()
                })
                .map_err(|e| e.to_string());
            let counters = [
                sh.current.get() as u64,
                sh.peak.get() as u64,
                sh.total.get(),
            ];
            (r, counters)
        }

        proptest! {
            /// Where the series-by-series evaluation of a vector and a
            /// scalar applies, it gives what the step loop gives: the same
            /// results in the same order, the same errors (the samples
            /// limit) and the same sample counters.
            #[test]
            fn by_series_equals_the_step_loop(
                op in 0usize..OPS.len(),
                bool_ in any::<bool>(),
                swap in any::<bool>(),
                delayed in any::<bool>(),
                instant in any::<bool>(),
                max_samples in prop_oneof![Just(usize::MAX), 0usize..40],
                specs in proptest::collection::vec((0usize..4, 0usize..3, proptest::collection::vec(value(), STEPS)), 0..6),
                scalar_values in proptest::collection::vec(value(), STEPS),
            ) {
                let comparison = op >= 7;
                let b = binary(OPS[op], bool_ && comparison, swap);
                let (start, end, interval) = if instant {
                    (STEP, STEP, 1)
                } else {
                    (0, STEP * (STEPS as i64 - 1), STEP)
                };
                let times: Vec<i64> = if instant {
                    vec![STEP]
                } else {
                    (0..STEPS as i64).map(|k| k * STEP).collect()
                };
                // Distinct label sets, as every evaluated matrix has.
                let mut vector: Matrix = Vec::new();
                for (meta, inst, values) in &specs {
                    let l = labels(*meta, *inst);
                    if vector.iter().all(|s| s.labels != l) {
                        vector.push(series(l, values, &times, false));
                    }
                }
                let scalar = vec![series(Labels::empty(), &scalar_values, &times, false)];
                let storage = MemoryStorage::new();
                let opts = EngineOptions {
                    delayed_name_removal: delayed,
                    max_samples,
                    ..EngineOptions::default()
                };
                let held: usize = vector.iter().chain(&scalar).map(ESeries::samples).sum();

                let sh = Shared::new(&storage, &opts);
                sh.current.set(held);
                let ev = Ev::new(&sh, start, end, interval);
                let Some(fast) = eval_vector_scalar(&ev, &b, &vector, &scalar, swap) else {
                    return Ok(());
                };
                let fast = outcome(&sh, fast);

                let sh = Shared::new(&storage, &opts);
                sh.current.set(held);
                let ev = Ev::new(&sh, start, end, interval);
                let (vi, si) = if swap { (1, 0) } else { (0, 1) };
                let inputs = if swap { vec![scalar, vector] } else { vec![vector, scalar] };
                let slow = ev.range_eval(inputs, |v, _, _| {
                    let s = v[si].first().map_or(f64::NAN, |s| s.f);
                    Ok(vector_scalar_binop(&ev, &b, &v[vi], s, swap))
                });
                let slow = outcome(&sh, slow);
                prop_assert_eq!(fast, slow);
            }
        }
    }

    #[test]
    fn repeated_signatures_are_refused() {
        assert_eq!(unique_by_sig(&[2, 0, 1], 3), Some(vec![1, 2, 0]));
        assert_eq!(unique_by_sig(&[0, 1, 0], 2), None);
        assert_eq!(unique_by_sig(&[5], 2), None);
    }
}
