//! Binary operators: scalar/vector arithmetic and comparisons, set
//! operators, vector matching with `on`/`ignoring`, `group_left`/`group_right`
//! and the experimental `fill` modifiers.

mod by_series;
mod scalar_side;
mod set_ops;

pub(crate) use scalar_side::eval_vector_scalar;

use super::EvalError;
use super::eval::Ev;
use super::plan::BinN;
use std::borrow::Cow;
use std::sync::Arc;

use super::grouping::{KeptRuns, KeyLabels};
use super::histops::{HistOp, info_reconciled, warn_reset_collision};
use super::types::{
    ESample, FastMap, FastSet, Matrix, MetadataAgreement, TOUCH_BLOCK, Vector, drop_metadata,
    drop_metadata_owned, has_metadata_labels, in_key, is_metadata_name, prom_labels_string,
    touching_blocks,
};
use crate::model::labels::{SetsInBlocks, merge_disjoint};
use crate::model::{FloatHistogram, Label, Labels};
use crate::parser::{BinaryOp, VectorMatchCardinality, VectorMatching};

/// Applies `op` to two scalars (comparisons yield 1 or 0).
pub(crate) fn scalar_binop(op: BinaryOp, l: f64, r: f64) -> f64 {
    match op {
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Pow => l.powf(r),
        BinaryOp::Mod => go_mod(l, r),
        BinaryOp::Atan2 => l.atan2(r),
        BinaryOp::Eql => btof(l == r),
        BinaryOp::Neq => btof(l != r),
        BinaryOp::Gtr => btof(l > r),
        BinaryOp::Lss => btof(l < r),
        BinaryOp::Gte => btof(l >= r),
        BinaryOp::Lte => btof(l <= r),
        BinaryOp::And
        | BinaryOp::Or
        | BinaryOp::Unless
        | BinaryOp::TrimUpper
        | BinaryOp::TrimLower => f64::NAN,
    }
}

/// Go's `math.Mod` (sign of the dividend), which Rust's `%` matches.
fn go_mod(l: f64, r: f64) -> f64 {
    l % r
}

fn btof(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Operators after which the value no longer has the metric's meaning.
pub(crate) fn changes_metric_schema(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Atan2
    )
}

/// The value and whether to keep the element, for two floats.
fn elem_binop(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinaryOp::Eql => (l, l == r),
        BinaryOp::Neq => (l, l != r),
        BinaryOp::Gtr => (l, l > r),
        BinaryOp::Lss => (l, l < r),
        BinaryOp::Gte => (l, l >= r),
        BinaryOp::Lte => (l, l <= r),
        _ => (scalar_binop(op, l, r), true),
    }
}

/// Applies `op` to two elements of which any may be a histogram: the value,
/// the histogram result and whether to keep the element; `None` (with an
/// annotation) when the operation is not defined for these types or the
/// histograms cannot be combined. In vector/vector operations
/// (`vector_vector`) a counter-reset collision also drops the element, as
/// upstream.
fn elem_binop_any(
    ev: &Ev<'_, '_>,
    b: &BinN,
    lf: f64,
    rf: f64,
    lh: Option<&Arc<FloatHistogram>>,
    rh: Option<&Arc<FloatHistogram>>,
    vector_vector: bool,
) -> Option<(f64, Option<Arc<FloatHistogram>>, bool)> {
    use BinaryOp as B;
    let op = b.op;
    let incompatible = |lt: &str, rt: &str| {
        incompatible_types(ev, b, lt, rt);
        None
    };
    let done = |mut h: FloatHistogram| {
        h.compact(0);
        Some((0.0, Some(Arc::new(h)), true))
    };
    match (lh, rh) {
        (None, None) => match op {
            B::TrimUpper | B::TrimLower => incompatible("float", "float"),
            _ => {
                let (v, keep) = elem_binop(op, lf, rf);
                Some((v, None, keep))
            }
        },
        (None, Some(r)) => match op {
            B::Mul => {
                let mut h = (**r).clone();
                h.mul(lf);
                done(h)
            }
            _ => incompatible("float", "histogram"),
        },
        (Some(l), None) => {
            let mut h = (**l).clone();
            match op {
                B::Mul => {
                    h.mul(rf);
                    done(h)
                }
                B::Div => {
                    h.div(rf);
                    done(h)
                }
                B::TrimUpper | B::TrimLower => {
                    h.trim(rf, op == B::TrimUpper);
                    Some((0.0, Some(Arc::new(h)), true))
                }
                _ => incompatible("histogram", "float"),
            }
        }
        (Some(l), Some(r)) => match op {
            B::Add | B::Sub => {
                let mut h = (**l).clone();
                let (res, hop) = if op == B::Add {
                    (h.add(r), HistOp::Add)
                } else {
                    (h.sub(r), HistOp::Sub)
                };
                let outcome = match res {
                    Ok(o) => o,
                    Err(_) => {
                        ev.warn(
                            format!(
                                "incompatible bucket layout encountered for binary operator {}",
                                op.as_str()
                            ),
                            b.span,
                        );
                        return None;
                    }
                };
                if op == B::Sub {
                    h.counter_reset_hint = crate::model::CounterResetHint::Gauge;
                }
                if outcome.custom_bounds_reconciled {
                    info_reconciled(ev, hop, b.span);
                }
                if outcome.counter_reset_collision {
                    warn_reset_collision(ev, hop, b.span);
                    if vector_vector {
                        return None;
                    }
                }
                done(h)
            }
            B::Eql | B::Neq => {
                let eq = l.equals(r);
                Some((0.0, Some(l.clone()), if op == B::Eql { eq } else { !eq }))
            }
            _ => incompatible("histogram", "histogram"),
        },
    }
}

fn incompatible_types(ev: &Ev<'_, '_>, b: &BinN, lt: &str, rt: &str) {
    let op = b.op.as_str();
    ev.info(
        format!(
            "incompatible sample types encountered for binary operator \"{op}\": {lt} {op} {rt}"
        ),
        b.span,
    );
}

/// `vector op scalar` (or `scalar op vector` when `swap`).
pub(crate) fn vector_scalar_binop(
    ev: &Ev<'_, '_>,
    b: &BinN,
    vec: &Vector,
    scalar: f64,
    swap: bool,
) -> Vector {
    let mut out = Vec::with_capacity(vec.len());
    for s in vec {
        let (lf, rf, lh, rh) = if swap {
            (scalar, s.f, None, s.h.as_ref())
        } else {
            (s.f, scalar, s.h.as_ref(), None)
        };
        let Some((v, h, keep)) = elem_binop_any(ev, b, lf, rf, lh, rh, false) else {
            continue;
        };
        let Some(v) = vector_scalar_value(b, swap, s.f, v, keep) else {
            continue;
        };
        let mut o = s.clone();
        o.f = v;
        o.h = if b.return_bool { None } else { h };
        if changes_metric_schema(b.op) || b.return_bool {
            if !ev.delayed() {
                drop_metadata_owned(&mut o.labels);
            }
            o.drop_name = true;
        }
        out.push(o);
    }
    out
}

/// One step of `and`, `or` or `unless`: each side's samples with their
/// signatures.
fn set_op_step(op: BinaryOp, (l, ls): (&Vector, &[usize]), (r, rs): (&Vector, &[usize])) -> Vector {
    match op {
        BinaryOp::And => {
            if l.is_empty() || r.is_empty() {
                return Vec::new();
            }
            let present: FastSet<usize> = rs.iter().copied().collect();
            l.iter()
                .zip(ls)
                .filter(|(_, s)| present.contains(s))
                .map(|(x, _)| x.clone())
                .collect()
        }
        BinaryOp::Or => {
            let present: FastSet<usize> = ls.iter().copied().collect();
            let mut out = l.clone();
            out.extend(
                r.iter()
                    .zip(rs)
                    .filter(|(_, s)| !present.contains(s))
                    .map(|(x, _)| x.clone()),
            );
            out
        }
        _ => {
            let present: FastSet<usize> = rs.iter().copied().collect();
            l.iter()
                .zip(ls)
                .filter(|(_, s)| !present.contains(s))
                .map(|(x, _)| x.clone())
                .collect()
        }
    }
}

/// The value of a vector/scalar operation on a vector element `x`, from
/// [`elem_binop`]'s `(v, keep)`: a comparison with the scalar on the left
/// keeps the element's own value, `bool` gives the outcome as 0 or 1;
/// `None` when a comparison drops the element.
fn vector_scalar_value(b: &BinN, swap: bool, x: f64, v: f64, keep: bool) -> Option<f64> {
    if b.return_bool {
        return Some(btof(keep));
    }
    let v = if b.op.is_comparison() && swap { x } else { v };
    keep.then_some(v)
}

/// The labels used to match a series with the other side.
pub(crate) fn match_labels(labels: &Labels, m: &VectorMatching) -> Labels {
    labels.filter(|l| in_key(l, &m.matching_labels, !m.on))
}

/// The labels of a match signature: the `on` labels, or all but the
/// `ignoring` ones and the metric name. The `group_left`/`group_right`
/// labels are noted where a side is recorded (see
/// [`many_side_results_distinct`]).
pub(crate) fn signature_key(m: &VectorMatching) -> KeyLabels<'_> {
    KeyLabels {
        names: &m.matching_labels,
        without: !m.on,
        noted: &m.include,
    }
}

/// Numbers the match signatures of the series of both sides (the labels
/// [`match_labels`] keeps) in order of first appearance: one id per series
/// of each side, and the number of distinct signatures. `runs` holds a
/// side's signatures where they were recorded as the side was evaluated.
fn signature_ids(
    sides: [&Matrix; 2],
    m: &VectorMatching,
    runs: [Option<KeptRuns>; 2],
) -> ([Vec<usize>; 2], usize) {
    let key = signature_key(m);
    let [left_runs, right_runs] = runs;
    let mut runs = KeptRuns::recorded_or_of(left_runs, sides[0], key);
    runs.append(KeptRuns::recorded_or_of(right_runs, sides[1], key));
    let n = sides[0].len();
    let set = |i: usize| match i.checked_sub(n) {
        None => &sides[0][i].labels,
        Some(j) => &sides[1][j].labels,
    };
    let (mut left, firsts) = runs.groups(set, |l| key.keeps(l));
    let right = left.split_off(n);
    ([left, right], firsts.len())
}

/// Evaluates a vector-vector binary operation over all steps. `runs` holds
/// a side's match signatures where they were recorded as the side was
/// evaluated ([`Ev::eval_matrix_keyed`]).
pub(crate) fn eval_vector_binop(
    ev: &Ev<'_, '_>,
    b: &BinN,
    lhs: Matrix,
    rhs: Matrix,
    runs: [Option<KeptRuns>; 2],
) -> Result<Matrix, EvalError> {
    // Result labels by (left series, right series): the same pair always
    // yields the same labels.
    let mut cache = ResultLabels::new(lhs.len().max(rhs.len()), ev.num_steps() > 1);
    let many = match b.matching.card {
        VectorMatchCardinality::ManyToOne => Some((&lhs, &runs[0])),
        VectorMatchCardinality::OneToMany => Some((&rhs, &runs[1])),
        _ => None,
    };
    cache.distinct = many.is_some_and(|(many, runs)| {
        // A side recorded as it was made noted its `group_left` labels
        // and metadata labels: when it held none, no pass is needed.
        let unnoted = runs.as_ref().is_some_and(|runs| !runs.noted());
        debug_assert!(!unnoted || many_side_results_distinct(many, &b.matching));
        unnoted || many_side_results_distinct(many, &b.matching)
    });
    // Signatures per input series, shared by all steps.
    let ([lsig, rsig], nsigs) = signature_ids([&lhs, &rhs], &b.matching, runs);
    if let Some(result) =
        by_series::eval_by_series(ev, b, &lhs, &rhs, (&lsig, &rsig, nsigs), &mut cache)
    {
        return result;
    }
    if let Some(result) = set_ops::eval_set_op(ev, b, (&lhs, &rhs), (&lsig, &rsig, nsigs)) {
        return result;
    }
    let mut scratch = StepScratch::default();
    let (mut ls, mut rs) = (Vec::new(), Vec::new());
    let distinct = match b.matching.card {
        VectorMatchCardinality::OneToOne => one_to_one_results_distinct(&b.matching),
        VectorMatchCardinality::ManyToOne | VectorMatchCardinality::OneToMany => cache.distinct,
        VectorMatchCardinality::ManyToMany => false,
    };
    let step = |v: &[Vector], idx: &[Vec<usize>], _: i64| {
        ls.clear();
        ls.extend(idx[0].iter().map(|&i| lsig[i]));
        rs.clear();
        rs.extend(idx[1].iter().map(|&i| rsig[i]));
        match b.op {
            BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => {
                Ok(set_op_step(b.op, (&v[0], &ls), (&v[1], &rs)))
            }
            _ => vector_binop(
                ev,
                b,
                Side {
                    v: &v[0],
                    sig: &ls,
                    series: &idx[0],
                },
                Side {
                    v: &v[1],
                    sig: &rs,
                    series: &idx[1],
                },
                nsigs,
                &mut cache,
                &mut scratch,
            ),
        }
    };
    if distinct {
        ev.range_eval_distinct(vec![lhs, rhs], step)
    } else {
        ev.range_eval(vec![lhs, rhs], step)
    }
}

/// One operand at one step: samples, their match signatures and the index
/// of the series each came from.
struct Side<'a> {
    v: &'a Vector,
    sig: &'a [usize],
    series: &'a [usize],
}

const FILLED: usize = usize::MAX;

/// The label-set id of results whose uniqueness needs no check.
const NO_ID: usize = usize::MAX;

/// Whether the results of a one-to-one match are known to be distinct at
/// every step. Each signature is matched once (or the step fails); with
/// `on`, a result is its left series' `on` labels: the signature itself,
/// unless a metadata label among them is dropped (`a + on (__name__) b`
/// gives `{}` for every name). With `ignoring`, the signature holds
/// `__type__` and `__unit__`, which a result may lose: not claimed.
fn one_to_one_results_distinct(m: &VectorMatching) -> bool {
    m.on && !m.matching_labels.iter().any(|n| is_metadata_name(n))
}

/// Whether the results of a many-to-one (or one-to-many) match are
/// distinct whenever their "many" side series are: then no two results of
/// a step can share a label set, and their ids need not be computed.
///
/// A result is its "many" side series' labels, without the metadata labels
/// when they are dropped, with the `group_left`/`group_right` labels set
/// from the "one" side series its signature matched (the same for equal
/// signatures). Two distinct series can only give equal results if they
/// differ in those labels alone: so it is enough that no series has one of
/// them, and that all carry the same metadata labels.
fn many_side_results_distinct(many: &Matrix, m: &VectorMatching) -> bool {
    // One pass over the label sets, in touched blocks: the sets of a large
    // "many" side are rarely in the caches.
    let mut metadata = MetadataAgreement::default();
    for s in touching_blocks(many, |s| &s.labels) {
        if s.labels.iter().any(|l| in_key(l, &m.include, false)) {
            return false;
        }
        metadata.see(&s.labels);
        if !metadata.holds() {
            return false;
        }
    }
    true
}

fn vector_binop(
    ev: &Ev<'_, '_>,
    b: &BinN,
    left: Side<'_>,
    right_side: Side<'_>,
    nsigs: usize,
    cache: &mut ResultLabels,
    scratch: &mut StepScratch,
) -> Result<Vector, EvalError> {
    let (lhs, rhs) = (left.v, right_side.v);
    let m = &b.matching;
    let fill = m.fill;
    if (lhs.is_empty() && rhs.is_empty())
        || ((lhs.is_empty() || rhs.is_empty()) && fill.lhs.is_none() && fill.rhs.is_none())
    {
        return Ok(Vec::new());
    }
    let swapped = m.card == VectorMatchCardinality::OneToMany;
    let (left, right_side) = if swapped {
        (right_side, left)
    } else {
        (left, right_side)
    };
    let (lhs, lsig, lser) = (left.v, left.sig, left.series);
    let (rhs, rsig, rser) = (right_side.v, right_side.sig, right_side.series);
    scratch.next_step(nsigs);
    // The "one" side by signature: (sample, series index).
    for (ri, (s, sig)) in rhs.iter().zip(rsig).enumerate() {
        if let Some(dup) = scratch.right(*sig) {
            let dup = &rhs[dup.0];
            let one_side = if swapped { "left" } else { "right" };
            let matched = prom_labels_string(&match_labels(&s.labels, m));
            let (mut a, mut c) = (
                prom_labels_string(&s.labels),
                prom_labels_string(&dup.labels),
            );
            if a > c {
                std::mem::swap(&mut a, &mut c);
            }
            return Err(EvalError::Execution(format!(
                "found duplicate series for the match group {matched} on the {one_side} hand-side of the operation: [{a}, {c}];many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
        scratch.set_right(*sig, ri, rser[ri]);
    }
    let one_to_one = m.card == VectorMatchCardinality::OneToOne;
    // One-to-one matches are checked by signature alone.
    let need_id = !one_to_one && !cache.distinct;
    let mut out = Vec::with_capacity(lhs.len());
    // Where result sets need no id and are not kept for later steps, they
    // are built into shared blocks and handed to the results at the end.
    let mut packed =
        (!cache.many_steps && !need_id).then(|| SetsInBlocks::with_capacity(lhs.len()));
    let mut do_op = |ls: &ESample,
                     rs: &ESample,
                     sig: usize,
                     key: (usize, usize),
                     out: &mut Vector,
                     scratch: &mut StepScratch|
     -> Result<(), EvalError> {
        let (l, r) = if swapped { (rs, ls) } else { (ls, rs) };
        let Some((mut v, out_h, mut keep)) =
            elem_binop_any(ev, b, l.f, r.f, l.h.as_ref(), r.h.as_ref(), true)
        else {
            return Ok(());
        };
        if b.return_bool {
            v = btof(keep);
        }
        let drop_name = !ev.delayed() && b.return_bool;
        let (metric, id) = match packed {
            Some(_) => (Labels::empty(), NO_ID),
            None => cache.get(key, need_id, || {
                result_metric(&ls.labels, &rs.labels, b.op, m, drop_name)
            }),
        };
        if one_to_one {
            if !scratch.match_sig(sig) {
                return Err(EvalError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
        } else {
            scratch.match_sig(sig);
            if need_id && !scratch.matched_many.insert((sig, id)) {
                return Err(EvalError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
        }
        if b.return_bool {
            keep = true;
        }
        if !keep {
            return Ok(());
        }
        if let Some(packed) = &mut packed {
            match one_label_copied(&ls.labels, &rs.labels, b.op, m, drop_name) {
                Some(runs) => packed.push_runs(&runs),
                None => {
                    packed.push(result_labels(&ls.labels, &rs.labels, b.op, m, drop_name).cloned())
                }
            }
        }
        out.push(ESample {
            labels: metric,
            t: ls.t,
            f: v,
            h: if b.return_bool { None } else { out_h },
            drop_name: b.return_bool,
        });
        Ok(())
    };
    // A block at a time. An instant query touches each block's label
    // strings first (see `Labels::touch_strings`), as a result's label set
    // shares them; over many steps the results' label sets are built once
    // and then found in `cache`.
    let touch = ev.is_instant();
    let blocks = lhs.chunks(TOUCH_BLOCK).zip(lsig.chunks(TOUCH_BLOCK));
    for ((block, sigs), sers) in blocks.zip(lser.chunks(TOUCH_BLOCK)) {
        if touch {
            std::hint::black_box(
                block
                    .iter()
                    .fold(0, |acc, s| acc ^ s.labels.touch_strings()),
            );
        }
        for ((ls, sig), &lser) in block.iter().zip(sigs).zip(sers) {
            match scratch.right(*sig) {
                Some((ri, rser)) => do_op(ls, &rhs[ri], *sig, (lser, rser), &mut out, scratch)?,
                None => {
                    if let Some(f) = fill.rhs {
                        let rs = ESample::float(match_labels(&ls.labels, m), f);
                        do_op(ls, &rs, *sig, (lser, FILLED), &mut out, scratch)?;
                    }
                }
            }
        }
    }
    let fill_other = fill.lhs;
    if let Some(f) = fill_other {
        for ((rs, sig), &rser) in rhs.iter().zip(rsig).zip(rser) {
            let done = scratch.is_matched(*sig);
            if done {
                continue;
            }
            let ls = ESample::float(match_labels(&rs.labels, m), f);
            do_op(&ls, rs, *sig, (FILLED, rser), &mut out, scratch)?;
        }
    }
    if let Some(packed) = packed {
        for (s, labels) in out.iter_mut().zip(packed.finish()) {
            s.labels = labels;
        }
    }
    Ok(out)
}

/// What [`vector_binop`] tracks within one step, kept across steps so that
/// no step allocates: the "one" side by signature, the signatures matched,
/// and the (signature, result label set id) pairs produced. Entries are
/// stamped with the step they belong to instead of being cleared.
#[derive(Default)]
struct StepScratch {
    step: u64,
    /// By signature: (step, sample index, series index) of the "one" side.
    right: Vec<(u64, usize, usize)>,
    /// By signature: the step at which it last matched.
    matched: Vec<u64>,
    matched_many: FastSet<(usize, usize)>,
}

impl StepScratch {
    /// Starts a step over `nsigs` signatures.
    fn next_step(&mut self, nsigs: usize) {
        self.step += 1;
        if self.right.len() < nsigs {
            self.right.resize(nsigs, (0, 0, 0));
            self.matched.resize(nsigs, 0);
        }
        self.matched_many.clear();
    }

    /// The "one" side sample (index, series) with this signature at this step.
    fn right(&self, sig: usize) -> Option<(usize, usize)> {
        match self.right.get(sig) {
            Some(&(step, i, ser)) if step == self.step => Some((i, ser)),
            _ => None,
        }
    }

    fn set_right(&mut self, sig: usize, i: usize, ser: usize) {
        if let Some(slot) = self.right.get_mut(sig) {
            *slot = (self.step, i, ser);
        }
    }

    /// Marks the signature matched; false when it already was at this step.
    fn match_sig(&mut self, sig: usize) -> bool {
        match self.matched.get_mut(sig) {
            Some(at) if *at == self.step => false,
            Some(at) => {
                *at = self.step;
                true
            }
            None => true,
        }
    }

    fn is_matched(&self, sig: usize) -> bool {
        self.matched.get(sig) == Some(&self.step)
    }
}

/// Result label sets of a vector-vector operation, computed once per pair of
/// input series (the same pair always yields the same labels), each with an
/// id that stands for its label set.
#[derive(Default)]
struct ResultLabels {
    /// By left series: the right series last paired with it, and the result.
    /// A left series usually meets the same right series at every step.
    by_left: Vec<Option<(usize, Labels, usize)>>,
    by_pair: FastMap<(usize, usize), (Labels, usize)>,
    ids: FastMap<Labels, usize>,
    /// Whether pairs recur (more than one step): then they are cached.
    many_steps: bool,
    /// How many label sets to expect (the larger side's series).
    expected: usize,
    /// Whether distinct "many" side series always give distinct results
    /// (see [`many_side_results_distinct`]).
    distinct: bool,
}

impl ResultLabels {
    /// A cache for `left_series` series; with `many_steps` false (an
    /// instant evaluation, where each pair is met once) only the label-set
    /// ids are kept.
    fn new(left_series: usize, many_steps: bool) -> Self {
        ResultLabels {
            by_left: if many_steps {
                vec![None; left_series]
            } else {
                Vec::new()
            },
            expected: left_series,
            many_steps,
            ..Default::default()
        }
    }

    /// The labels for the pair `key` (computing them with `make` the first
    /// time) and their id; pairs involving a filled side are not cached.
    /// Without `need_id`, an instant evaluation (each pair met once) makes
    /// the labels and numbers nothing: the id is [`NO_ID`].
    fn get(
        &mut self,
        key: (usize, usize),
        need_id: bool,
        make: impl FnOnce() -> Labels,
    ) -> (Labels, usize) {
        if !self.many_steps && !need_id {
            return (make(), NO_ID);
        }
        if let Some(Some((r, l, id))) = self.by_left.get(key.0)
            && *r == key.1
        {
            return (l.clone(), *id);
        }
        if let Some((l, id)) = self.by_pair.get(&key) {
            return (l.clone(), *id);
        }
        let labels = make();
        if self.ids.capacity() == 0 {
            // Sized on first use: evaluations that need no ids allocate none.
            self.ids.reserve(self.expected);
        }
        let n = self.ids.len();
        let id = *self.ids.entry(labels.clone()).or_insert(n);
        if self.many_steps && key.0 != FILLED && key.1 != FILLED {
            self.by_pair.insert(key, (labels.clone(), id));
            if let Some(slot) = self.by_left.get_mut(key.0) {
                *slot = Some((key.1, labels.clone(), id));
            }
        }
        (labels, id)
    }
}

/// The labels [`result_metric`] gives the result of `lhs op rhs`, in
/// order, before they are collected into a set.
fn result_labels<'a>(
    lhs: &'a Labels,
    rhs: &'a Labels,
    op: BinaryOp,
    m: &'a VectorMatching,
    drop_name: bool,
) -> impl Iterator<Item = &'a Label> {
    let drop_metadata = drop_name || changes_metric_schema(op);
    let one_to_one = m.card == VectorMatchCardinality::OneToOne;
    let named = |names: &[String], l: &Label| names.iter().any(|n| *n == *l.name);
    // Dropped: metadata labels (where the operation drops them), those a
    // one-to-one match does not keep, and those taken from the other side.
    let dropped = move |l: &Label| {
        (drop_metadata && is_metadata_name(&l.name))
            || (one_to_one && m.on != named(&m.matching_labels, l))
            || named(&m.include, l)
    };
    let mine = lhs.iter().filter(move |l| !dropped(l));
    let theirs = rhs.iter().filter(move |l| named(&m.include, l));
    merge_disjoint(mine, theirs)
}

/// [`result_labels`] as three runs of labels, where the result is the
/// left set with the one label `group_left`/`group_right` names taken from
/// the right (the usual `* on (job) group_left (team) info` join) and
/// nothing else dropped: the left set is split where the label goes,
/// without testing each label. `None` in every other case.
fn one_label_copied<'a>(
    lhs: &'a Labels,
    rhs: &'a Labels,
    op: BinaryOp,
    m: &VectorMatching,
    drop_name: bool,
) -> Option<[&'a [Label]; 3]> {
    let [name] = &m.include[..] else {
        return None;
    };
    if m.card == VectorMatchCardinality::OneToOne
        || ((drop_name || changes_metric_schema(op)) && has_metadata_labels(lhs))
    {
        return None;
    }
    Some(lhs.runs_with_one_copied_from(rhs, name))
}

fn result_metric(
    lhs: &Labels,
    rhs: &Labels,
    op: BinaryOp,
    m: &VectorMatching,
    drop_name: bool,
) -> Labels {
    // The left set is borrowed until a step makes a new set: a result
    // built from it moves no reference count of an intermediate copy.
    let mut labels = if (drop_name || changes_metric_schema(op)) && has_metadata_labels(lhs) {
        Cow::Owned(drop_metadata(lhs))
    } else {
        Cow::Borrowed(lhs)
    };
    if m.card == VectorMatchCardinality::OneToOne {
        labels = Cow::Owned(if m.on {
            labels.keep_only(&m.matching_labels)
        } else {
            labels.without(&m.matching_labels)
        });
    }
    if !m.include.is_empty() {
        return labels.with_copied_from(rhs, &m.include);
    }
    labels.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::FillValues;
    use proptest::prelude::*;

    /// Label sets over a few names, with or without metadata labels.
    fn label_set() -> impl Strategy<Value = Labels> {
        let name = prop_oneof![
            Just("__name__".to_string()),
            Just("__type__".to_string()),
            (0u8..6).prop_map(|n| format!("n{n}")),
        ];
        proptest::collection::vec((name, 0u8..3), 0..8).prop_map(|pairs| {
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(n, v)| (n, format!("v{v}")))
                .collect();
            Labels::from_pairs(&pairs)
        })
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec((0u8..6).prop_map(|n| format!("n{n}")), 0..3)
    }

    proptest! {
        #[test]
        fn result_labels_in_blocks_equal_the_result_metric(
            lhs in label_set(),
            rhs in label_set(),
            matching_labels in names(),
            include in names(),
            on in any::<bool>(),
            one_to_one in any::<bool>(),
            op in prop_oneof![Just(BinaryOp::Add), Just(BinaryOp::Gtr), Just(BinaryOp::And)],
            drop_name in any::<bool>(),
        ) {
            let m = VectorMatching {
                card: if one_to_one {
                    VectorMatchCardinality::OneToOne
                } else {
                    VectorMatchCardinality::ManyToOne
                },
                matching_labels,
                on,
                include: if one_to_one { Vec::new() } else { include },
                fill: FillValues::default(),
            };
            let mut blocks = SetsInBlocks::default();
            blocks.push(result_labels(&lhs, &rhs, op, &m, drop_name).cloned());
            if let Some(runs) = one_label_copied(&lhs, &rhs, op, &m, drop_name) {
                blocks.push_runs(&runs);
            }
            let built = blocks.finish();
            let want = result_metric(&lhs, &rhs, op, &m, drop_name);
            prop_assert_eq!(&built[0], &want);
            if let Some(runs) = built.get(1) {
                prop_assert_eq!(runs, &want);
            }
        }
    }
}
