//! Aggregation operators: sum, avg, count, min, max, group, stddev, stdvar,
//! quantile, topk, bottomk, limitk, limit_ratio and count_values, with
//! `by`/`without` grouping.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::EvalError;
use super::annotations::go_g;
use super::eval::Ev;
use super::functions::HintTracker;
use super::grouping::{KeptRuns, KeyLabels, group_by_kept_labels};
use super::histops::{HistOp, info_reconciled, note_error, warn_reset_collision};
use super::kahan::{go_max, go_min, kahan_inc, quantile};
use super::plan::{AggN, Node};
use super::pointwise::StepGrid;
use super::types::{ESample, ESeries, FastMap, Matrix, in_key};
use crate::model::float_format::format_go_f as format_value;
use crate::model::histogram::{HistogramMean, HistogramSum};
use crate::model::{FloatHistogram, Label, Labels};
use crate::parser::AggregateOp as Op;

/// The output labels (and grouping key) of a series.
pub(crate) fn group_labels(labels: &Labels, grouping: &[String], without: bool) -> Labels {
    labels.filter(|l| in_key(l, grouping, without))
}

struct Params {
    values: Vec<f64>,
    min: f64,
    max: f64,
    any_nan: bool,
}

fn params(ev: &Ev<'_, '_>, p: Option<&Node>) -> Result<Params, EvalError> {
    let Some(p) = p else {
        return Ok(Params {
            values: vec![0.0; ev.num_steps()],
            min: 0.0,
            max: 0.0,
            any_nan: false,
        });
    };
    let values = ev.eval_scalar_steps(p)?;
    let (mut min, mut max, mut any_nan) = (f64::MAX, -f64::MAX, false);
    for &v in &values {
        max = go_max(max, v);
        min = go_min(min, v);
        any_nan |= v.is_nan();
    }
    Ok(Params {
        values,
        min,
        max,
        any_nan,
    })
}

#[derive(Default, Clone)]
struct Group {
    /// The float accumulator (with whether the group was seen at this step
    /// and its name-dropping flag).
    acc: Cell,
    has_float: bool,
    has_hist: bool,
    values: Vec<f64>,
    /// The running histogram sum (`sum`) or mean (`avg`).
    hist_sum: Option<HistogramSum>,
    hist_mean: Option<HistogramMean>,
    /// Histograms of this group could not be combined.
    incompatible: bool,
    hints: HintTracker,
}

/// Evaluates an aggregation over all steps.
pub(crate) fn eval_aggregate(ev: &Ev<'_, '_>, a: &AggN) -> Result<Matrix, EvalError> {
    if a.op == Op::CountValues {
        return count_values(ev, a);
    }
    let ps = params(ev, a.param.as_ref())?;
    // Without grouping labels (`sum(x)`, `topk(5, x)`, `by ()`), every
    // series is in the one group.
    let grouped = !a.grouping.is_empty() || a.without;
    let key = KeyLabels {
        names: &a.grouping,
        without: a.without,
        noted: &[],
    };
    let (input, runs) = if grouped {
        ev.eval_matrix_keyed(&a.expr, key)?
    } else {
        (ev.eval_matrix(&a.expr)?, None)
    };
    let param_span = a.param.as_ref().map(Node::span).unwrap_or(a.span);
    let is_k = matches!(a.op, Op::Topk | Op::Bottomk | Op::Limitk | Op::LimitRatio);
    match a.op {
        Op::Topk | Op::Bottomk | Op::Limitk => {
            if ps.max < 1.0 {
                return Ok(Vec::new());
            }
            if ps.any_nan {
                return Err(EvalError::Execution("Parameter value is NaN".into()));
            }
            if ps.min <= i64::MIN as f64 {
                return Err(EvalError::Execution(format!(
                    "Scalar value {} underflows int64",
                    go_g(ps.min)
                )));
            }
            if ps.max >= i64::MAX as f64 {
                return Err(EvalError::Execution(format!(
                    "Scalar value {} overflows int64",
                    go_g(ps.max)
                )));
            }
        }
        Op::LimitRatio => {
            if ps.max == 0.0 && ps.min == 0.0 {
                return Ok(Vec::new());
            }
            if ps.any_nan {
                return Err(EvalError::Execution("Ratio value is NaN".into()));
            }
            if ps.max > 1.0 {
                ev.warn(
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to 1",
                        go_g(ps.max)
                    ),
                    param_span,
                );
            }
            if ps.min < -1.0 {
                ev.warn(
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to -1",
                        go_g(ps.min)
                    ),
                    param_span,
                );
            }
        }
        Op::Quantile => {
            let msg = |q: f64| format!("quantile value should be between 0 and 1, got {}", go_g(q));
            if ps.any_nan {
                ev.warn(msg(f64::NAN), param_span);
            }
            if ps.max > 1.0 {
                ev.warn(msg(ps.max), param_span);
            }
            if ps.min < 0.0 {
                ev.warn(msg(ps.min), param_span);
            }
        }
        _ => {}
    }

    // Map input series to groups.
    let (series_group, firsts) = if grouped {
        KeptRuns::recorded_or_of(runs, &input, key).groups(|i| &input[i].labels, |l| key.keeps(l))
    } else {
        let firsts = if input.is_empty() { vec![] } else { vec![0] };
        (vec![0; input.len()], firsts)
    };
    let mut out: Matrix = firsts
        .iter()
        .map(|&i| {
            ESeries::new(
                group_labels(&input[i].labels, &a.grouping, a.without),
                false,
            )
        })
        .collect();
    let group_count = out.len();
    // (An instant query has one cell per group, which the step loop fills
    // just as fast.)
    if is_cell_op(a.op)
        && !ev.is_instant()
        && input.iter().all(|s| s.hists.is_empty())
        && group_count.saturating_mul(ev.num_steps()) <= FLOAT_CELLS
    {
        return float_cells(ev, a.op, &input, &series_group, out);
    }
    if matches!(a.op, Op::Topk | Op::Bottomk)
        && !ev.is_instant()
        && input.iter().all(|s| s.hists.is_empty())
        && group_count.saturating_mul(ev.num_steps()) <= FLOAT_TOPK_CELLS
    {
        let ks = ps
            .values
            .iter()
            .map(|&p| {
                usize::try_from((p as i64).min(input.len() as i64))
                    .ok()
                    .filter(|&k| k >= 1)
            })
            .collect::<Vec<_>>();
        return float_topk(
            ev,
            &input,
            &series_group,
            group_count,
            &ks,
            a.op == Op::Topk,
        );
    }
    let mut groups = vec![Group::default(); group_count];
    let mut cursors = vec![(0usize, 0usize); input.len()];
    let expr_span = a.expr.span();
    let mut k_out: Matrix = Vec::new();
    let mut k_index: FastMap<Labels, usize> = FastMap::default();
    let mut k_members: Vec<Vec<ESample>> = vec![Vec::new(); groups.len()];
    let mut k_best: Vec<Best> = (0..groups.len()).map(|_| Best::default()).collect();
    let input_total: usize = input.iter().map(ESeries::samples).sum();
    let base = ev.sh.current.get().saturating_sub(input_total);
    for (step, ts) in ev.steps().enumerate() {
        ev.tick()?;
        let param = ps.values.get(step).copied().unwrap_or(f64::NAN);
        for g in groups.iter_mut() {
            g.acc.seen = false;
        }
        for m in k_members.iter_mut() {
            m.clear();
        }
        for b in k_best.iter_mut() {
            b.clear();
        }
        let mut k_stop = false;
        for (si, s) in input.iter().enumerate() {
            let c = &mut cursors[si];
            let (f, h) = if let Some(p) = s.floats.get(c.0).filter(|p| p.t == ts) {
                c.0 += 1;
                (p.v, None)
            } else if let Some(p) = s.hists.get(c.1).filter(|p| p.t == ts) {
                c.1 += 1;
                (0.0, Some(p.h.clone()))
            } else {
                continue;
            };
            if k_stop {
                continue;
            }
            let gi = series_group[si];
            if is_k {
                // The sample is built (its labels shared) only when kept.
                let sample = |f: f64, h: Option<Arc<FloatHistogram>>| ESample {
                    labels: s.labels.clone(),
                    t: ts,
                    f,
                    h,
                    drop_name: s.drop_name,
                };
                match a.op {
                    Op::LimitRatio => {
                        let r = param.clamp(-1.0, 1.0);
                        if param == 0.0 {
                            k_stop = true;
                            continue;
                        }
                        if ratio_selects(r, &s.labels) {
                            k_members[gi].push(sample(f, h));
                        }
                        groups[gi].acc.seen = true;
                    }
                    _ => {
                        let k = (param as i64).min(input.len() as i64);
                        if k < 1 {
                            k_stop = true;
                            continue;
                        }
                        if h.is_some() && a.op != Op::Limitk {
                            ev.info(
                                format!("ignored histogram in {} aggregation", a.op.as_str()),
                                a.span,
                            );
                            continue;
                        }
                        groups[gi].acc.seen = true;
                        let k = k as usize;
                        if a.op == Op::Limitk {
                            let members = &mut k_members[gi];
                            if members.len() < k {
                                members.push(sample(f, h));
                            }
                        } else {
                            k_best[gi].offer(f, si, k, a.op == Op::Topk);
                        }
                        groups[gi].acc.count = k as f64;
                    }
                }
                continue;
            }
            aggregate_one(ev, a, &mut groups[gi], f, h.as_deref(), s, expr_span);
        }
        if is_k {
            let mut step_out: Vec<ESample> = Vec::new();
            if !k_stop {
                for (gi, members) in k_members.iter_mut().enumerate() {
                    if !groups[gi].acc.seen {
                        continue;
                    }
                    if matches!(a.op, Op::Topk | Op::Bottomk) {
                        k_best[gi].drain_sorted(&input, ts, &mut step_out);
                    }
                    step_out.append(members);
                }
            }
            ev.add_samples(step_out.iter().map(ESample::samples).sum())?;
            if ev.is_instant() {
                return Ok(step_out
                    .into_iter()
                    .map(|s| {
                        let mut ser = ESeries::new(s.labels, s.drop_name);
                        ser.push(ts, s.f, s.h);
                        ser
                    })
                    .collect());
            }
            for s in step_out {
                let i = *k_index.entry(s.labels.clone()).or_insert_with(|| {
                    k_out.push(ESeries::new(s.labels.clone(), s.drop_name));
                    k_out.len() - 1
                });
                k_out[i].push(ts, s.f, s.h);
            }
            continue;
        }
        let mut produced = 0;
        for (gi, g) in groups.iter_mut().enumerate() {
            if !g.acc.seen {
                continue;
            }
            if let Some((v, h)) = finish(ev, a, g, param, expr_span) {
                produced += h.as_deref().map_or(1, super::types::hist_samples);
                out[gi].push(ts, v, h);
                out[gi].drop_name = g.acc.drop_name;
            }
        }
        ev.add_samples(produced)?;
    }
    ev.sh.current.set(base);
    if is_k {
        ev.add_samples(k_out.iter().map(ESeries::samples).sum())?;
        return Ok(k_out);
    }
    out.retain(|s| s.len() > 0);
    ev.add_samples(out.iter().map(ESeries::samples).sum())?;
    Ok(out)
}

/// A candidate of `topk`/`bottomk` (a float sample of input series `pos`):
/// its place in the sorted order is its value (NaN last), then its input
/// position, so that among equal values the earlier series wins, as with a
/// stable sort. The value's place is folded into one integer (`rank`), so
/// candidates compare as two integers.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    rank: u64,
    pos: usize,
    f: f64,
}

impl Candidate {
    /// The candidate for value `f` of input `pos`, for `topk` (`top`: the
    /// largest first) or `bottomk`.
    fn new(f: f64, pos: usize, top: bool) -> Self {
        let rank = if f.is_nan() {
            u64::MAX
        } else {
            // `-0` and `0` are equal values; adding zero makes both `0`.
            let bits = (f + 0.0).to_bits();
            // Flipping the bits this way makes the integers ascend with the
            // values they come from.
            let ascending = if bits >> 63 == 1 {
                !bits
            } else {
                bits | 1 << 63
            };
            // Below `u64::MAX` either way (it would be a NaN's pattern).
            if top { !ascending } else { ascending }
        };
        Candidate { rank, pos, f }
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        (self.rank, self.pos) == (other.rank, other.pos)
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.rank, self.pos).cmp(&(other.rank, other.pos))
    }
}

/// The best `k` candidates of one group at one step. Offers go into a
/// buffer; when it holds `2k` (16 for a smaller `k`), a selection keeps the
/// best `k` and remembers the worst of them, below which later offers are
/// turned away at once. So each offer costs O(1) on average (a heap would
/// sift O(log k) for each candidate that enters), and at most `max(2k, 16)`
/// are held (never more than the group's offers). Candidates are
/// totally ordered (value, then input position), so the `k` kept are the
/// same whatever the order of the offers.
#[derive(Default)]
struct Best {
    kept: Vec<Candidate>,
    /// How many to keep (the `k` of the offers).
    k: usize,
    /// The worst of the `k` kept at the last selection: an offer that does
    /// not rank before it cannot be among the best `k`.
    bar: Option<Candidate>,
}

impl Best {
    fn clear(&mut self) {
        self.kept.clear();
        self.bar = None;
    }

    /// Offers the value of input series `pos`; keeps it if it may be among
    /// the best `k`.
    #[inline]
    fn offer(&mut self, f: f64, pos: usize, k: usize, top: bool) {
        let c = Candidate::new(f, pos, top);
        if self.bar.is_some_and(|bar| c >= bar) {
            return;
        }
        self.k = k;
        self.kept.push(c);
        if self.kept.len() >= k.saturating_mul(2).max(16) {
            self.select();
        }
    }

    /// Keeps only the best `k` and raises the bar to the worst of them.
    fn select(&mut self) {
        let k = self.k;
        if k == 0 {
            self.kept.clear();
            return;
        }
        if self.kept.len() > k {
            self.kept.select_nth_unstable(k - 1);
            self.kept.truncate(k);
            self.bar = Some(self.kept[k - 1]);
        }
    }

    /// Moves the kept samples at step `t`, best first, to `out`.
    fn drain_sorted(&mut self, input: &[ESeries], t: i64, out: &mut Vec<ESample>) {
        self.select();
        self.kept.sort_unstable();
        out.extend(self.kept.drain(..).filter_map(|c| {
            let s = input.get(c.pos)?;
            Some(ESample {
                labels: s.labels.clone(),
                t,
                f: c.f,
                h: None,
                drop_name: s.drop_name,
            })
        }));
        self.bar = None;
    }
}

/// Most (group, step) heaps [`float_topk`] allocates.
const FLOAT_TOPK_CELLS: usize = 1 << 20;

/// `topk`/`bottomk` over float-only input, series by series: each (group,
/// step) has its own heap of (value, input position), which orders
/// candidates the same whatever order they are offered in, so the result
/// is the step-by-step one while each input series is read once, front to
/// back. `ks[step]` is `k` at that step (`None`: nothing is selected).
fn float_topk(
    ev: &Ev<'_, '_>,
    input: &Matrix,
    series_group: &[usize],
    groups: usize,
    ks: &[Option<usize>],
    top: bool,
) -> Result<Matrix, EvalError> {
    let steps = ev.num_steps();
    let interval = ev.interval.max(1);
    let mut heaps: Vec<Best> = (0..groups.saturating_mul(steps))
        .map(|_| Best::default())
        .collect();
    let grid = StepGrid::new(ev);
    for (si, (s, &gi)) in input.iter().zip(series_group).enumerate() {
        ev.tick_by(s.floats.len())?;
        let mut cursor = grid.cursor();
        for p in &s.floats {
            // (Evaluated points lie on the steps.)
            let step = cursor.index(&grid, p.t).unwrap_or(usize::MAX);
            let Some(&Some(k)) = ks.get(step) else {
                continue;
            };
            if let Some(best) = heaps.get_mut(gi * steps + step) {
                best.offer(p.v, si, k, top);
            }
        }
    }
    // Results by step, then group, best first: the order in which the step
    // loop meets (and so creates) the output series. Only the winners that
    // start a new output series need that order; the others add their
    // point to the series their input position already feeds.
    let mut out: Matrix = Vec::new();
    let mut index: FastMap<Labels, usize> = FastMap::default();
    let mut out_of_input: Vec<Option<usize>> = vec![None; input.len()];
    let mut fresh: Vec<Candidate> = Vec::new();
    for step in 0..steps {
        let t = ev.start + step as i64 * interval;
        for gi in 0..groups {
            let Some(best) = heaps.get_mut(gi * steps + step) else {
                continue;
            };
            best.select();
            for c in best.kept.drain(..) {
                match out_of_input[c.pos] {
                    Some(i) => out[i].push(t, c.f, None),
                    None => fresh.push(c),
                }
            }
            fresh.sort_unstable();
            for c in fresh.drain(..) {
                let s = &input[c.pos];
                let i = *index.entry(s.labels.clone()).or_insert_with(|| {
                    out.push(ESeries::new(s.labels.clone(), s.drop_name));
                    out.len() - 1
                });
                out_of_input[c.pos] = Some(i);
                out[i].push(t, c.f, None);
            }
        }
    }
    release_input(ev, input, out)
}

/// Most (group, step) accumulators [`float_cells`] allocates.
const FLOAT_CELLS: usize = 1 << 21;

/// The aggregations [`float_cells`] computes.
fn is_cell_op(op: Op) -> bool {
    matches!(
        op,
        Op::Sum | Op::Avg | Op::Count | Op::Group | Op::Min | Op::Max | Op::Stddev | Op::Stdvar
    )
}

/// A float accumulator: one per (group, step) in [`float_cells`], and the
/// float part of each [`Group`] of the step loop.
#[derive(Clone, Copy, Default)]
struct Cell {
    value: f64,
    mean: f64,
    comp: f64,
    count: f64,
    seen: bool,
    incremental_mean: bool,
    drop_name: bool,
}

impl Cell {
    /// The first sample of the cell.
    fn first(op: Op, f: f64, drop_name: bool) -> Self {
        let value = match op {
            Op::Stddev | Op::Stdvar if f.is_nan() || f.is_infinite() => f64::NAN,
            Op::Stddev | Op::Stdvar => 0.0,
            Op::Group => 1.0,
            _ => f,
        };
        Cell {
            value,
            mean: f,
            comp: 0.0,
            count: 1.0,
            seen: true,
            incremental_mean: false,
            drop_name,
        }
    }

    /// Every later sample.
    #[inline(always)]
    fn add(&mut self, op: Op, f: f64) {
        match op {
            Op::Sum => (self.value, self.comp) = kahan_inc(f, self.value, self.comp),
            Op::Avg => {
                self.count += 1.0;
                if !self.incremental_mean {
                    let (nv, nc) = kahan_inc(f, self.value, self.comp);
                    if !nv.is_infinite() {
                        (self.value, self.comp) = (nv, nc);
                        return;
                    }
                    self.incremental_mean = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.comp /= self.count - 1.0;
                }
                let q = (self.count - 1.0) / self.count;
                (self.mean, self.comp) = kahan_inc(f / self.count, q * self.mean, q * self.comp);
            }
            Op::Max if self.value < f || self.value.is_nan() => self.value = f,
            Op::Min if self.value > f || self.value.is_nan() => self.value = f,
            Op::Count => self.count += 1.0,
            Op::Stddev | Op::Stdvar => {
                self.count += 1.0;
                let delta = f - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (f - self.mean);
            }
            _ => {}
        }
    }

    /// The aggregate.
    fn result(&self, op: Op) -> f64 {
        match op {
            Op::Avg if self.incremental_mean => self.mean + self.comp,
            Op::Avg => self.value / self.count + self.comp / self.count,
            Op::Sum => self.value + self.comp,
            Op::Count => self.count,
            Op::Stdvar => self.value / self.count,
            Op::Stddev => (self.value / self.count).sqrt(),
            _ => self.value,
        }
    }
}

/// `sum`, `avg`, `count`, `group`, `min`, `max`, `stddev` and `stdvar`
/// over float-only input for a range evaluation, series by series: each
/// (group, step) has its own accumulator and receives the series' values in
/// input order, so the result is bit for bit the step-by-step one, while
/// each input series is read once, front to back.
fn float_cells(
    ev: &Ev<'_, '_>,
    op: Op,
    input: &Matrix,
    series_group: &[usize],
    mut out: Matrix,
) -> Result<Matrix, EvalError> {
    let steps = ev.num_steps();
    let interval = ev.interval.max(1);
    let mut cells = vec![Cell::default(); out.len().saturating_mul(steps)];
    // One loop per operation, so that none decides the operation per point.
    let fill = |cells: &mut [Cell], add: fn(&mut Cell, f64)| -> Result<(), EvalError> {
        let grid = StepGrid::new(ev);
        for (s, &gi) in input.iter().zip(series_group) {
            ev.tick()?;
            let row = gi * steps;
            let mut cursor = grid.cursor();
            for p in &s.floats {
                // (Evaluated points lie on the steps.)
                let step = cursor.index(&grid, p.t).unwrap_or(usize::MAX);
                let Some(c) = cells.get_mut(row + step).filter(|_| step < steps) else {
                    continue;
                };
                if c.seen {
                    c.drop_name |= s.drop_name;
                    add(c, p.v);
                } else {
                    *c = Cell::first(op, p.v, s.drop_name);
                }
            }
        }
        Ok(())
    };
    match op {
        Op::Sum => fill(&mut cells, |c, f| c.add(Op::Sum, f)),
        Op::Avg => fill(&mut cells, |c, f| c.add(Op::Avg, f)),
        Op::Count => fill(&mut cells, |c, f| c.add(Op::Count, f)),
        Op::Min => fill(&mut cells, |c, f| c.add(Op::Min, f)),
        Op::Max => fill(&mut cells, |c, f| c.add(Op::Max, f)),
        Op::Stddev | Op::Stdvar => fill(&mut cells, |c, f| c.add(Op::Stddev, f)),
        _ => fill(&mut cells, |c, f| c.add(Op::Group, f)),
    }?;
    for (gi, o) in out.iter_mut().enumerate() {
        let row = cells.get(gi * steps..(gi + 1) * steps).unwrap_or(&[]);
        for (step, c) in row.iter().enumerate() {
            if c.seen {
                o.floats.push(crate::model::FPoint {
                    t: ev.start + step as i64 * interval,
                    v: c.result(op),
                });
                // As the step loop does: the flag of the last step wins.
                o.drop_name = c.drop_name;
            }
        }
    }
    out.retain(|s| s.len() > 0);
    release_input(ev, input, out)
}

/// The sample accounting of an aggregation computed series by series:
/// `input` and the results `out` were held together, then the input is
/// released and the results stay.
fn release_input(ev: &Ev<'_, '_>, input: &Matrix, out: Matrix) -> Result<Matrix, EvalError> {
    let input_total: usize = input.iter().map(ESeries::samples).sum();
    let base = ev.sh.current.get().saturating_sub(input_total);
    let results: usize = out.iter().map(ESeries::samples).sum();
    ev.add_samples(results)?;
    ev.sh.current.set(base);
    ev.add_samples(results)?;
    Ok(out)
}

/// Whether `limit_ratio(r)` keeps the series, by a stable hash of its labels.
fn ratio_selects(r: f64, labels: &Labels) -> bool {
    let mut h = std::hash::DefaultHasher::new();
    labels.hash(&mut h);
    let offset = h.finish() as f64 / u64::MAX as f64;
    (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
}

fn aggregate_one(
    ev: &Ev<'_, '_>,
    a: &AggN,
    g: &mut Group,
    f: f64,
    h: Option<&FloatHistogram>,
    series: &ESeries,
    span: crate::parser::Span,
) {
    let is_hist = h.is_some();
    let drop_name = series.drop_name;
    let ignored = |op: &str| ev.info(format!("ignored histogram in {op} aggregation"), span);
    if !g.acc.seen {
        *g = Group {
            acc: Cell::first(a.op, f, drop_name),
            ..Group::default()
        };
        match a.op {
            Op::Sum | Op::Avg => match h {
                Some(h) => {
                    g.has_hist = true;
                    g.hints.see(h);
                    if a.op == Op::Sum {
                        g.hist_sum = Some(HistogramSum::new(h.clone()));
                    } else {
                        g.hist_mean = Some(HistogramMean::new(h.clone()));
                    }
                }
                None => g.has_float = true,
            },
            Op::Quantile => {
                if is_hist {
                    g.acc.seen = false;
                    ignored("quantile");
                }
                g.values = vec![f];
            }
            Op::Min | Op::Max | Op::Stddev | Op::Stdvar if is_hist => {
                g.acc.seen = false;
                ignored(a.op.as_str());
            }
            _ => {}
        }
        return;
    }
    if g.incompatible {
        return;
    }
    if drop_name {
        g.acc.drop_name = true;
    }
    let add_hist = |g: &mut Group, h: &FloatHistogram| {
        g.has_hist = true;
        let r = match (&mut g.hist_sum, &mut g.hist_mean) {
            (Some(sum), _) => sum.add(h),
            (_, Some(mean)) => mean.add(h),
            // The group holds floats: the result is dropped anyway.
            (None, None) => return,
        };
        g.hints.see(h);
        match r {
            Ok(o) => {
                if o.custom_bounds_reconciled {
                    info_reconciled(ev, HistOp::Agg, span);
                }
            }
            Err(e) => {
                note_error(ev, e, series.labels.metric_name().unwrap_or(""), span);
                g.incompatible = true;
            }
        }
    };
    match a.op {
        Op::Sum | Op::Avg if is_hist => {
            if a.op == Op::Avg {
                g.acc.count += 1.0;
            }
            if let Some(h) = h {
                add_hist(g, h);
            }
        }
        Op::Sum | Op::Avg => {
            g.has_float = true;
            g.acc.add(a.op, f);
        }
        Op::Max | Op::Min | Op::Stddev | Op::Stdvar if is_hist => ignored(a.op.as_str()),
        Op::Max | Op::Min | Op::Stddev | Op::Stdvar | Op::Count => g.acc.add(a.op, f),
        Op::Group => {}
        Op::Quantile => {
            if is_hist {
                ignored("quantile");
            } else {
                g.values.push(f);
            }
        }
        _ => {}
    }
}

fn finish(
    ev: &Ev<'_, '_>,
    a: &AggN,
    g: &mut Group,
    q: f64,
    span: crate::parser::Span,
) -> Option<(f64, Option<Arc<FloatHistogram>>)> {
    let mixed = "encountered a mix of histograms and floats for aggregation";
    if matches!(a.op, Op::Sum | Op::Avg) {
        if g.has_float && g.has_hist {
            ev.warn(mixed.into(), span);
            return None;
        }
        if g.incompatible {
            return None;
        }
        if g.has_hist {
            let h = match (g.hist_sum.take(), g.hist_mean.take()) {
                (Some(sum), _) => sum.finish(),
                (_, Some(mean)) => mean.finish(),
                (None, None) => return None,
            };
            if g.hints.collided() {
                warn_reset_collision(ev, HistOp::Agg, span);
            }
            return Some((0.0, Some(Arc::new(h))));
        }
    }
    let v = match a.op {
        Op::Quantile => quantile(q, &mut g.values),
        op => g.acc.result(op),
    };
    Some((v, None))
}

fn count_values(ev: &Ev<'_, '_>, a: &AggN) -> Result<Matrix, EvalError> {
    let label = match &a.param {
        Some(Node::Str(s, _)) => s.clone(),
        _ => {
            return Err(EvalError::Execution(
                "count_values needs a string parameter".into(),
            ));
        }
    };
    if label.is_empty() {
        return Err(EvalError::Execution(format!(
            "invalid label name {}",
            super::annotations::go_quote(&label)
        )));
    }
    let mut grouping = a.grouping.clone();
    if !a.without {
        grouping.push(label.clone());
        grouping.sort();
    }
    let input = ev.eval_matrix(&a.expr)?;
    // The output labels of a sample are its series' grouping labels other
    // than `label` (its group's base labels), plus `label` set to the value
    // when the grouping keeps it: a function of the series' group and the
    // value alone. So each series' group is found once, and each (group,
    // value) pair's labels are built once, the first time a step meets it.
    let keep = |l: &Label| *l.name != *label && in_key(l, &grouping, a.without);
    let (groups, firsts) = group_by_kept_labels(input.iter().map(|s| &s.labels), keep);
    let bases: Vec<Labels> = firsts
        .iter()
        .map(|&i| input[i].labels.filter(|l| keep(l)))
        .collect();
    // Without it, the values of a group meet in one output.
    let keeps_value = in_key(&Label::new(label.as_str(), ""), &grouping, a.without);
    let mut outputs: FastMap<(usize, ValueKey), usize> = FastMap::default();
    let mut out_labels: Vec<Labels> = Vec::new();
    // Each output's count at the current step, and the outputs the step
    // has met in order of first appearance.
    let mut counts: Vec<usize> = Vec::new();
    let mut met: Vec<usize> = Vec::new();
    ev.range_eval(vec![input], |v, idxs, _| {
        for (s, &si) in v[0].iter().zip(&idxs[0]) {
            let (key, text) = match &s.h {
                _ if !keeps_value => (ValueKey::Float(0), None),
                None => (ValueKey::float(s.f), None),
                Some(h) => {
                    let text = h.go_string();
                    (ValueKey::Text(text.clone()), Some(text))
                }
            };
            let group = groups[si];
            let id = *outputs.entry((group, key)).or_insert_with(|| {
                let base = &bases[group];
                out_labels.push(if keeps_value {
                    let value = text.unwrap_or_else(|| format_value(s.f));
                    base.builder().set(label.as_str(), value).build()
                } else {
                    base.clone()
                });
                counts.push(0);
                out_labels.len() - 1
            });
            if counts[id] == 0 {
                met.push(id);
            }
            counts[id] += 1;
        }
        Ok(met
            .drain(..)
            .map(|id| {
                let n = std::mem::take(&mut counts[id]) as f64;
                ESample::float(out_labels[id].clone(), n)
            })
            .collect())
    })
}

/// A sample's value as `count_values` tells values apart: floats by their
/// bits (every NaN alike, as all print `NaN`; `-0` prints apart from `0`),
/// histograms by their text.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    Float(u64),
    Text(String),
}

impl ValueKey {
    fn float(v: f64) -> Self {
        ValueKey::Float(if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The order `topk` (`top`) or `bottomk` puts values in, NaN last,
    /// written out plainly.
    fn by_value(a: f64, b: f64, top: bool) -> std::cmp::Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if top => b.partial_cmp(&a).unwrap(),
            _ => a.partial_cmp(&b).unwrap(),
        }
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-3i32..4).prop_map(f64::from),
            Just(-0.0),
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MAX),
            any::<f64>(),
        ]
    }

    proptest! {
        /// Candidates order as their values do (NaN last, `-0` equal to
        /// `0`), then by position.
        #[test]
        fn candidates_order_by_value_then_position(
            a in value(), b in value(), top in any::<bool>(), pa in 0usize..3, pb in 0usize..3,
        ) {
            let (x, y) = (Candidate::new(a, pa, top), Candidate::new(b, pb, top));
            prop_assert_eq!(x.cmp(&y), by_value(a, b, top).then(pa.cmp(&pb)));
        }

        /// A (group, step) cell of the series-by-series path accumulates
        /// and finishes as the step loop's group does, bit for bit: NaNs,
        /// infinities, `-0`, sums that overflow into `avg`'s incremental
        /// mean.
        #[test]
        fn cells_equal_the_step_loop_groups(
            which in 0usize..8,
            values in proptest::collection::vec(
                prop_oneof![4 => value(), 1 => Just(f64::MAX), 1 => Just(1e308)],
                1..12,
            ),
        ) {
            const QUERIES: [&str; 8] = [
                "sum(x)", "avg(x)", "count(x)", "group(x)", "min(x)", "max(x)", "stddev(x)",
                "stdvar(x)",
            ];
            let Node::Agg(a) = crate::engine::pointwise::testing::plan(QUERIES[which]) else {
                panic!("an aggregation");
            };
            prop_assert!(is_cell_op(a.op));
            let storage = crate::storage::MemoryStorage::new();
            let opts = crate::engine::EngineOptions::default();
            let sh = crate::engine::eval::Shared::new(&storage, &opts);
            let ev = Ev::new(&sh, 0, 0, 1);
            let series = ESeries::new(Labels::empty(), false);
            let mut g = Group::default();
            let mut cell = Cell::default();
            for &f in &values {
                aggregate_one(&ev, &a, &mut g, f, None, &series, a.span);
                if cell.seen {
                    cell.add(a.op, f);
                } else {
                    cell = Cell::first(a.op, f, false);
                }
            }
            // Any NaN is NaN: the compiler may commute an addition, and with
            // it which operand's NaN payload comes out.
            let bits = |v: f64| if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() };
            let want = finish(&ev, &a, &mut g, f64::NAN, a.span).map(|(v, _)| bits(v));
            prop_assert_eq!(Some(bits(cell.result(a.op))), want);
        }

        /// The kept candidates are the `k` best of a full sort, best first,
        /// whatever the order of the offers.
        #[test]
        fn best_keeps_the_k_best_of_a_sort(
            values in proptest::collection::vec(value(), 0..80),
            k in 1usize..40,
            top in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut order: Vec<usize> = (0..values.len()).collect();
            // A fixed shuffle of the offers.
            let mut x = seed | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut best = Best::default();
            for &pos in &order {
                best.offer(values[pos], pos, k, top);
            }
            best.select();
            best.kept.sort_unstable();
            let got: Vec<usize> = best.kept.iter().map(|c| c.pos).collect();
            let mut want: Vec<usize> = (0..values.len()).collect();
            want.sort_by(|&a, &b| by_value(values[a], values[b], top).then(a.cmp(&b)));
            want.truncate(k);
            prop_assert_eq!(got, want);
        }
    }
}
