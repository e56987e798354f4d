//! Functions over range vectors: the rate family (with Prometheus'
//! extrapolation), `*_over_time`, `deriv`, `predict_linear`, `changes`,
//! `resets`, `double_exponential_smoothing` and `absent_over_time`.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::extrapolation::{ShapeMemo, extrapolation_factor, zero_ratio};
use super::hist_range;
use super::lanes::{self, LANES};
use super::range_fn::RangeFn;
use super::regression::{SlidingFit, linear_regression};
use super::reset_marks::{ResetMarks, has_reset, scan_values_before};
use super::sliding_count::SlidingPairCount;
use super::sliding_extreme::SlidingExtreme;
use super::{absent_labels, metric_name};
use crate::engine::EvalError;
use crate::engine::annotations::{go_g, go_quote};
use crate::engine::eval::DUPLICATE_LABELSET;
use crate::engine::eval::{Ev, Shared};
use crate::engine::grouping::{KeptRuns, KeyLabels};
use crate::engine::kahan::{kahan_inc, quantile};
use crate::engine::plan::{CallN, MatSel, Node};
use crate::engine::selector::{
    RangeSeries, first_index, left_value, right_value, to_range_series, window_range,
    with_start_timestamps,
};
use crate::engine::types::{
    ESeries, HistPoints, Matrix, MetadataAgreement, PointSink, Points, TOUCH_BLOCK,
    drop_metadata_owned, has_duplicate_labels, hpoint_samples,
};
use crate::model::value::any_stale;
use crate::model::{FPoint, FloatHistogram, HPoint};
use crate::parser::Span;
use crate::storage::{SelectHints, SelectedSeries, SelectionSink};

const ANCHORED_SAFE: [&str; 5] = ["changes", "delta", "increase", "rate", "resets"];
const SMOOTHED_SAFE: [&str; 3] = ["delta", "increase", "rate"];

/// The window of one step handed to a kernel.
pub(crate) struct Window<'a> {
    pub floats: &'a [FPoint],
    /// Start timestamps aligned with `floats` (empty when unknown).
    pub float_sts: &'a [i64],
    /// Start timestamps aligned with `hists` (empty when unknown).
    pub hist_sts: &'a [i64],
    pub hists: &'a [HPoint],
    pub ts: i64,
    pub range: i64,
    pub range_start: i64,
    pub range_end: i64,
    pub anchored: bool,
    pub smoothed: bool,
    pub name: &'a str,
    pub args: &'a [f64],
    pub span: Span,
    /// The last window shape's extrapolation, kept across the steps of one
    /// series (see [`ShapeMemo`]).
    pub shapes: Option<&'a ShapeMemo>,
}

/// What a kernel produced for one step.
pub(crate) enum Out {
    None,
    Float(f64),
    Hist(Arc<FloatHistogram>),
}

/// Evaluates a function whose argument `mi` is a range vector.
pub(crate) fn eval_range_call(ev: &Ev<'_, '_>, c: &CallN, mi: usize) -> Result<Matrix, EvalError> {
    Ok(eval_range_call_keyed(ev, c, mi, None)?.0)
}

/// [`eval_range_call`], also recording the `key` labels of every result
/// series as the series is made, while its label set is in the cache: the
/// runs (in the result's order) when the argument is a selector, `None`
/// otherwise.
pub(crate) fn eval_range_call_keyed(
    ev: &Ev<'_, '_>,
    c: &CallN,
    mi: usize,
    key: Option<KeyLabels<'_>>,
) -> Result<(Matrix, Option<KeptRuns>), EvalError> {
    let name = c.func.name;
    let Some(func) = RangeFn::from_name(name) else {
        return Err(EvalError::Execution(format!(
            "function {name:?} is not supported over range vectors"
        )));
    };
    let arg = &c.args[mi];
    let (range, offset, at, anchored, smoothed) = match arg {
        Node::Matrix(m) => (
            m.range,
            m.sel.offset,
            m.sel.at,
            m.sel.anchored,
            m.sel.smoothed,
        ),
        Node::Subquery(s) => (s.range, s.offset, s.at, false, false),
        _ => return Err(EvalError::Execution("expected a range vector".into())),
    };
    if anchored && !ANCHORED_SAFE.contains(&name) {
        return Err(EvalError::Execution(format!(
            "anchored modifier can only be used with: {} - not with {name}",
            ANCHORED_SAFE.join(", ")
        )));
    }
    if smoothed && !SMOOTHED_SAFE.contains(&name) {
        return Err(EvalError::Execution(format!(
            "smoothed modifier can only be used with: {} - not with {name}",
            SMOOTHED_SAFE.join(", ")
        )));
    }
    // Scalar arguments, one value per step.
    let mut scalar_args: Vec<Vec<f64>> = Vec::new();
    for (i, a) in c.args.iter().enumerate() {
        if i != mi {
            scalar_args.push(ev.eval_scalar_steps(a)?);
        }
    }
    // The same, step by step: each step's arguments side by side.
    let steps_with_args = if scalar_args.is_empty() {
        0
    } else {
        ev.num_steps()
    };
    let step_args: Vec<f64> = (0..steps_with_args)
        .flat_map(|step| {
            scalar_args
                .iter()
                .map(move |a| a.get(step).copied().unwrap_or(f64::NAN))
        })
        .collect();
    let use_sts =
        ev.sh.opts.start_timestamps && matches!(name, "rate" | "irate" | "increase" | "resets");
    let lb = ev.lookback();
    let drop_name = name != "last_over_time" && name != "first_over_time";
    // Prometheus reports kernel annotations at the first argument.
    let arg_span = c.args.first().map_or(c.span, Node::span);
    let call = RangeCall {
        func,
        range,
        offset,
        at,
        anchored,
        smoothed,
        lb,
        drop_name,
        arg_span,
        n_args: scalar_args.len(),
        step_args: &step_args,
    };
    let mut out: Matrix = Vec::new();
    let mut runs = None;
    // Whether the results are known to have distinct label sets: the series
    // of one selection are distinct (a storage returns each label set
    // once), and stay so unless dropping the metadata labels merges some.
    let mut distinct = false;
    match arg {
        Node::Matrix(m) => {
            let mut hints = ev.select_hints(&m.sel, Some(m.range));
            hints.func = Some(c.func.name);
            let threads = ev.sh.opts.threads.max(1);
            let made = if threads == 1 && !m.sel.stats_only {
                call.streamed(ev, m, use_sts, &hints, key)?
            } else {
                let mut selected = ev.sh.storage.select(&m.sel.matchers, &hints)?;
                if m.sel.stats_only {
                    let seeks = ev.range_seeks(&m.sel, m.range);
                    crate::engine::stats_read::read_stats_only(&mut selected, &seeks);
                }
                if threads > 1 && selected.len() >= 2 * threads {
                    call.parallel(ev, selected, threads, use_sts, &hints, key)?
                } else {
                    call.all_series(ev, selected, use_sts, &hints, key)?
                }
            };
            out = made.out;
            runs = made.runs;
            distinct = !drop_name || made.metadata.holds();
        }
        Node::Subquery(sq) => {
            let inner = ev.run_subquery(sq)?;
            let shapes = ShapeMemo::default();
            // The subquery's result was counted when it was evaluated; it is
            // released series by series as it is consumed.
            for s in inner {
                let n = s.samples();
                let rs = RangeSeries {
                    labels: std::borrow::Cow::Owned(s.labels),
                    floats: std::borrow::Cow::Owned(s.floats.into_vec()),
                    hists: std::borrow::Cow::Owned(forget_reset_hints(s.hists.into_vec())),
                    drop_name: s.drop_name,
                    float_sts: Vec::new(),
                    hist_sts: Vec::new(),
                };
                let res = call.series(ev, rs, &shapes)?;
                ev.sub_samples(n);
                if let Some(ss) = res {
                    out.push(ss);
                }
            }
        }
        _ => {}
    }
    if name == "absent_over_time" {
        return Ok((absent_over_time(ev, c, mi, out)?, None));
    }
    // Prometheus rejects any two output series with the same labels here,
    // even when their points would not collide.
    if !ev.delayed() && !distinct && has_duplicate_labels(out.iter().map(|s| &s.labels)) {
        return Err(EvalError::Execution(DUPLICATE_LABELSET.into()));
    }
    Ok((out, runs))
}

/// One range-function call, applied to one series at a time.
#[derive(Clone, Copy)]
struct RangeCall<'e> {
    func: RangeFn,
    range: i64,
    offset: i64,
    at: Option<i64>,
    anchored: bool,
    smoothed: bool,
    lb: i64,
    drop_name: bool,
    arg_span: Span,
    /// How many scalar arguments the function takes.
    n_args: usize,
    /// The scalar arguments of every step, `n_args` per step.
    step_args: &'e [f64],
}

impl RangeCall<'_> {
    /// Evaluates the function over every step for one series; `None` when
    /// no step produced a value.
    ///
    /// `shapes` keeps the last window shape's extrapolation; one memo serves
    /// all the series of a call (series scraped together share shapes).
    ///
    /// The series' labels move to the result (the metadata labels dropped
    /// at the end, in place), so that a selected series' set is handed on
    /// without a reference count going up and down.
    fn series(
        &self,
        ev: &Ev<'_, '_>,
        s: RangeSeries<'_>,
        shapes: &ShapeMemo,
    ) -> Result<Option<ESeries>, EvalError> {
        ev.tick()?;
        let sdrop = self.drop_name || s.drop_name;
        let mut ss = ESeries::new(s.labels.into_owned(), sdrop);
        let mname = metric_name(&ss.labels);
        let (floats_all, hists_all): (&[FPoint], &[HPoint]) = (&s.floats, &s.hists);
        if hists_all.is_empty() {
            let reach = self.range.saturating_add(self.lb.saturating_mul(2));
            ss.floats
                .reserve_exact(ev.points_bound(floats_all.len(), reach));
        }
        // The windows only move forward: keep the float window's bounds and
        // advance them instead of searching the whole series at every step.
        let mut fwin = ForwardWindow::default();
        let mut last_window = 0usize;
        if self.func.is_counter_rate()
            && hists_all.is_empty()
            && s.float_sts.is_empty()
            && !self.anchored
            && !self.smoothed
        {
            last_window = if ev.num_steps() > 1 {
                let mut points = std::mem::take(&mut ss.floats).into_vec();
                let last = self.sliding_counter_rate(ev, floats_all, shapes, mname, &mut points);
                ss.floats = Points::from_vec(points);
                last?
            } else {
                self.single_counter_rate(ev, floats_all, shapes, mname, &mut ss.floats)?
            };
        } else if ev.num_steps() > 1
            && hists_all.is_empty()
            && !self.anchored
            && !self.smoothed
            && let Some(mut extreme) = SlidingExtreme::new(self.func)
        {
            // `max_over_time` and friends over floats keep their candidates
            // from one window to the next instead of rescanning it (a single
            // window is scanned: there is nothing to keep).
            let mut points = std::mem::take(&mut ss.floats).into_vec();
            let last = self.sliding_extreme(ev, floats_all, &mut extreme, &mut points);
            ss.floats = Points::from_vec(points);
            last_window = last?;
        } else if ev.num_steps() > 1
            && hists_all.is_empty()
            && s.float_sts.is_empty()
            && !self.anchored
            && !self.smoothed
        {
            let mut points = std::mem::take(&mut ss.floats).into_vec();
            let last =
                self.float_windows(ev, floats_all, shapes, mname, &mut points, &mut ss.hists);
            ss.floats = Points::from_vec(points);
            last_window = last?;
        } else {
            for (step, ts) in ev.steps().enumerate() {
                ev.tick()?;
                let range_end = self.at.unwrap_or(ts).saturating_sub(self.offset);
                let range_start = range_end.saturating_sub(self.range);
                let (lo, hi) = if self.anchored {
                    (range_start.saturating_sub(self.lb), range_end)
                } else if self.smoothed {
                    (
                        range_start.saturating_sub(self.lb),
                        range_end.saturating_add(self.lb),
                    )
                } else {
                    (range_start, range_end)
                };
                let fr = fwin.advance(floats_all, lo, hi);
                let floats = &floats_all[fr.clone()];
                let float_sts = s.float_sts.get(fr).unwrap_or(&[]);
                let (hists, hist_sts) = if hists_all.is_empty() {
                    (&[][..], &[][..])
                } else {
                    let hr = window_range(|i| hists_all[i].t, hists_all.len(), lo, hi);
                    (&hists_all[hr.clone()], s.hist_sts.get(hr).unwrap_or(&[]))
                };
                if floats.is_empty() && hists.is_empty() {
                    continue;
                }
                // The window is what this step holds in memory (as Prometheus
                // counts its buffered window), on top of the results so far.
                last_window = floats.len() + hpoint_samples(hists);
                ev.hold_briefly(last_window)?;
                let w = Window {
                    floats,
                    float_sts,
                    hists,
                    hist_sts,
                    ts,
                    range: self.range,
                    range_start,
                    range_end,
                    anchored: self.anchored,
                    smoothed: self.smoothed,
                    name: mname,
                    args: self.args_at(step),
                    span: self.arg_span,
                    shapes: Some(shapes),
                };
                // The rate family directly; every other kernel by name.
                let res = match self.func {
                    RangeFn::Rate => rate(ev, &w, true, true),
                    RangeFn::Increase => rate(ev, &w, true, false),
                    func => kernel(ev, func, &w)?,
                };
                match res {
                    Out::None => {}
                    Out::Float(v) => ss.floats.push(FPoint { t: ts, v }),
                    Out::Hist(h) => ss.hists.push(HPoint { t: ts, h }),
                }
            }
        }
        if ss.len() == 0 {
            return Ok(None);
        }
        ev.add_samples(ss.samples())?;
        // The last window is still buffered when the series' results are
        // added (as in Prometheus, which releases it at the next series).
        ev.hold_briefly(last_window)?;
        if self.func.is_counter_rate()
            && !mname.is_empty()
            && !ss.floats.is_empty()
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suf| mname.ends_with(suf))
        {
            ev.info(
                format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                    go_quote(mname)
                ),
                self.arg_span,
            );
        }
        if !ev.delayed() && sdrop {
            drop_metadata_owned(&mut ss.labels);
        }
        Ok(Some(ss))
    }

    /// The steps of `max_over_time`, `min_over_time` and their `ts_of_`
    /// forms over float samples without extended windows: the general step
    /// loop with everything that cannot apply left out, the candidates kept
    /// from one window to the next by `extreme`. Returns the size of the
    /// last window.
    // Not inlined: `series` keeps the inlining budget its general loop needs.
    #[inline(never)]
    fn sliding_extreme(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        extreme: &mut SlidingExtreme,
        out: &mut Vec<FPoint>,
    ) -> Result<usize, EvalError> {
        match ev.plain_steps(self.at, self.offset, self.range) {
            Some(steps) => self.sliding_extreme_over(ev, floats, extreme, out, steps),
            None => {
                let steps = ev.saturating_steps(self.at, self.offset, self.range);
                self.sliding_extreme_over(ev, floats, extreme, out, steps)
            }
        }
    }

    /// [`Self::sliding_extreme`] over the given windows.
    fn sliding_extreme_over(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        extreme: &mut SlidingExtreme,
        out: &mut Vec<FPoint>,
        steps: impl Iterator<Item = (i64, i64, i64)>,
    ) -> Result<usize, EvalError> {
        let ts_of = self.func.is_ts_of();
        let mut window = ForwardWindow::default();
        // One look at the clock per series (each step does a bounded amount
        // of work, and the windows walk each sample once).
        ev.tick_by(ev.num_steps().saturating_add(floats.len()))?;
        // The largest window: what the steps held in memory at most, on top
        // of what is held (which does not change during the loop).
        let (mut largest, mut last_window) = (0usize, 0usize);
        for (ts, range_end, range_start) in steps {
            let std::ops::Range { start: lo, end: hi } =
                window.advance(floats, range_start, range_end);
            let n = hi - lo;
            if n == 0 {
                continue;
            }
            last_window = n;
            largest = largest.max(n);
            if let Some(i) = extreme.advance(floats, lo, hi) {
                let p = floats[i];
                let v = if ts_of { p.t as f64 / 1000.0 } else { p.v };
                out.push(FPoint { t: ts, v });
            }
        }
        ev.hold_briefly(largest)?;
        Ok(last_window)
    }

    /// The steps of any other function over float samples without start
    /// timestamps or extended windows: the general step loop with what
    /// cannot apply left out, each window handed to the function's kernel
    /// as the general loop would, except for the functions with a loop of
    /// their own (see [`Self::float_windows_over`]). Returns the size of the
    /// last window.
    // Not inlined: `series` keeps the inlining budget its general loop needs.
    #[inline(never)]
    fn float_windows(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        shapes: &ShapeMemo,
        mname: &str,
        out: &mut Vec<FPoint>,
        hists: &mut HistPoints,
    ) -> Result<usize, EvalError> {
        match ev.plain_steps(self.at, self.offset, self.range) {
            Some(steps) => self.float_windows_over(ev, floats, shapes, mname, (out, hists), steps),
            None => {
                let steps = ev.saturating_steps(self.at, self.offset, self.range);
                self.float_windows_over(ev, floats, shapes, mname, (out, hists), steps)
            }
        }
    }

    /// [`Self::float_windows`] over the given windows.
    fn float_windows_over(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        shapes: &ShapeMemo,
        mname: &str,
        (out, hists): (&mut Vec<FPoint>, &mut HistPoints),
        steps: impl Iterator<Item = (i64, i64, i64)>,
    ) -> Result<usize, EvalError> {
        // One look at the clock per series (each step does a bounded amount
        // of work besides its kernel, which is linear in its window).
        ev.tick_by(ev.num_steps().saturating_add(floats.len()))?;
        // Each mode has a loop of its own (`each_window` is compiled once
        // for each closure), so no step tests for the others.
        let (largest, last_window) = if let Some(of_window) = window_only(self.func) {
            // Functions of the window's bounds alone.
            each_window(floats, steps, |_, ts, _, r| {
                out.push(FPoint {
                    t: ts,
                    v: of_window(floats, r),
                });
                Ok(())
            })?
        } else if let Some(mut pairs) = SlidingPairCount::new(self.func) {
            // `changes` and `resets` keep running totals.
            each_window(floats, steps, |_, ts, _, r| {
                let v = pairs.count(floats, r.start, r.end) as f64;
                out.push(FPoint { t: ts, v });
                Ok(())
            })?
        } else if matches!(self.func, RangeFn::Deriv | RangeFn::PredictLinear) {
            // `deriv` and `predict_linear` keep the times of regular windows.
            let mut fit = SlidingFit::new(floats);
            each_window(floats, steps, |step, ts, _, r| {
                if r.len() >= 2 {
                    let first = floats[r.start].t;
                    let v = fitted(self.func, first, ts, self.args_at(step), |at| {
                        fit.fit(floats, r.start, r.end, at)
                    });
                    out.push(FPoint { t: ts, v });
                }
                Ok(())
            })?
        } else if lanes::in_lanes(self.func) {
            // `stddev_over_time` and `stdvar_over_time` take windows `LANES`
            // at a time.
            let mut pending: Vec<(i64, std::ops::Range<usize>)> = Vec::with_capacity(LANES);
            let sizes = each_window(floats, steps, |_, ts, _, r| {
                pending.push((ts, r));
                if let Ok(full) = <&[_; LANES]>::try_from(&pending[..]) {
                    let windows = full.clone().map(|(_, r)| r);
                    let values = lanes::each(self.func, floats, &windows).unwrap_or_default();
                    for ((t, _), v) in pending.drain(..).zip(values) {
                        out.push(FPoint { t, v });
                    }
                }
                Ok(())
            })?;
            for (t, r) in pending {
                let v = lanes::one(self.func, &floats[r]).unwrap_or(f64::NAN);
                out.push(FPoint { t, v });
            }
            sizes
        } else {
            let mut w = self.float_window(mname, shapes);
            each_window(floats, steps, |step, ts, (range_start, range_end), r| {
                w.floats = &floats[r];
                w.ts = ts;
                w.range_start = range_start;
                w.range_end = range_end;
                w.args = self.args_at(step);
                match kernel(ev, self.func, &w)? {
                    Out::None => {}
                    Out::Float(v) => out.push(FPoint { t: ts, v }),
                    Out::Hist(h) => hists.push(HPoint { t: ts, h }),
                }
                Ok(())
            })?
        };
        // What the steps held in memory at most, on top of what is held.
        ev.hold_briefly(largest)?;
        Ok(last_window)
    }

    /// The steps of `rate` or `increase` over float samples without start
    /// timestamps or extended windows, the commonest range function: the
    /// general step loop and kernel, with everything that cannot apply
    /// left out, and the series' counter resets found once (each window
    /// takes those between its bounds, added in the order a scan would).
    /// The results are those of [`rate`]. Returns the size of the last
    /// window.
    // Not inlined: `series` keeps the inlining budget its general loop needs.
    #[inline(never)]
    fn sliding_counter_rate(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        shapes: &ShapeMemo,
        mname: &str,
        out: &mut impl PointSink,
    ) -> Result<usize, EvalError> {
        // Each step's window `(step, end, start)`: plain arithmetic where
        // nothing can overflow, the general loop's saturating sums else.
        match ev.plain_steps(self.at, self.offset, self.range) {
            Some(steps) => self.sliding_counter_rate_over(ev, floats, shapes, mname, out, steps),
            None => {
                let steps = ev.saturating_steps(self.at, self.offset, self.range);
                self.sliding_counter_rate_over(ev, floats, shapes, mname, out, steps)
            }
        }
    }

    /// [`Self::sliding_counter_rate`] over the given windows.
    // Not inlined: compiled once per sink, each copy keeps the inlining
    // budget its loop needs.
    #[inline(never)]
    fn sliding_counter_rate_over(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        shapes: &ShapeMemo,
        mname: &str,
        out: &mut impl PointSink,
        steps: impl Iterator<Item = (i64, i64, i64)>,
    ) -> Result<usize, EvalError> {
        let is_rate = self.func == RangeFn::Rate;
        let mut marks = ResetMarks::new(floats);
        let (mut lo, mut hi) = (0usize, 0usize);
        // How far each bound moved at the last step: with regular scrapes
        // and steps, how far it moves at this one.
        let (mut lo_stride, mut hi_stride) = (0usize, 0usize);
        let mut last_window = 0usize;
        // One window value for every step; only its bounds change.
        let mut w = self.float_window(mname, shapes);
        // One look at the clock per series (each step does a bounded amount
        // of work, and the windows walk each sample once).
        ev.tick_by(ev.num_steps().saturating_add(floats.len()))?;
        // The largest window: what the steps held in memory at most, on top
        // of what is held (which does not change during the loop).
        let mut largest = 0usize;
        for (ts, range_end, range_start) in steps {
            let next_lo = first_after(floats, lo, lo_stride, range_start);
            lo_stride = next_lo - lo;
            lo = next_lo;
            if hi <= lo {
                // A first window (or one past a gap): bisect rather than
                // walk, as an instant query has only this one.
                hi = lo + floats[lo..].partition_point(|p| p.t <= range_end);
            } else {
                let next_hi = first_after(floats, hi, hi_stride, range_end);
                hi_stride = next_hi - hi;
                hi = next_hi;
            }
            let n = hi - lo;
            if n == 0 {
                continue;
            }
            last_window = n;
            largest = largest.max(n);
            if n < 2 {
                continue;
            }
            let window = &floats[lo..hi];
            let (first, last) = (window[0], window[n - 1]);
            let mut result = last.v - first.v;
            marks
                .advance(lo, hi)
                .values_before(window)
                .for_each(|v| result += v);
            w.floats = window;
            w.ts = ts;
            w.range_start = range_start;
            w.range_end = range_end;
            let zero_ratio = zero_ratio(first.v, result);
            let factor =
                extrapolation_factor(&w, first.t, last.t, n - 1, None, zero_ratio, true, is_rate);
            out.push_point(FPoint {
                t: ts,
                v: result * factor,
            });
        }
        ev.hold_briefly(largest)?;
        Ok(last_window)
    }

    /// The scalar arguments of step `step`.
    #[inline]
    fn args_at(&self, step: usize) -> &[f64] {
        if self.n_args == 0 {
            return &[];
        }
        let from = step.saturating_mul(self.n_args);
        self.step_args
            .get(from..from.saturating_add(self.n_args))
            .unwrap_or(&[])
    }

    /// A window over float samples alone (no start timestamps or extended
    /// bounds), to be given its samples, bounds and arguments.
    fn float_window<'w>(&self, mname: &'w str, shapes: &'w ShapeMemo) -> Window<'w> {
        Window {
            floats: &[],
            float_sts: &[],
            hists: &[],
            hist_sts: &[],
            ts: 0,
            range: self.range,
            range_start: 0,
            range_end: 0,
            anchored: false,
            smoothed: false,
            name: mname,
            args: &[],
            span: self.arg_span,
            shapes: Some(shapes),
        }
    }

    /// [`Self::sliding_counter_rate`] for the one window of an instant
    /// query: the same result, without the cursors and reset marks that
    /// pay off only when windows slide. Returns the size of the window.
    fn single_counter_rate(
        &self,
        ev: &Ev<'_, '_>,
        floats: &[FPoint],
        shapes: &ShapeMemo,
        mname: &str,
        out: &mut impl PointSink,
    ) -> Result<usize, EvalError> {
        ev.tick_by(floats.len().saturating_add(1))?;
        let ts = ev.start;
        let range_end = self.at.unwrap_or(ts).saturating_sub(self.offset);
        let range_start = range_end.saturating_sub(self.range);
        let window = &floats[window_range(|i| floats[i].t, floats.len(), range_start, range_end)];
        let n = window.len();
        ev.hold_briefly(n)?;
        let (Some(&first), Some(&last)) = (window.first(), window.last()) else {
            return Ok(n);
        };
        if n < 2 {
            return Ok(n);
        }
        let mut result = last.v - first.v;
        if has_reset(window) {
            scan_values_before(window).for_each(|v| result += v);
        }
        let w = Window {
            floats: window,
            ts,
            range_start,
            range_end,
            ..self.float_window(mname, shapes)
        };
        let is_rate = self.func == RangeFn::Rate;
        let zero_ratio = zero_ratio(first.v, result);
        let factor =
            extrapolation_factor(&w, first.t, last.t, n - 1, None, zero_ratio, true, is_rate);
        out.push_point(FPoint {
            t: ts,
            v: result * factor,
        });
        Ok(n)
    }

    /// Evaluates the function for selected series, series by series: only
    /// one series' samples are looked at (and, when stale markers must be
    /// removed, copied) at a time. With a `key`, each result series' key
    /// labels are recorded as it is made.
    fn all_series(
        &self,
        ev: &Ev<'_, '_>,
        selected: Vec<SelectedSeries<'_>>,
        use_sts: bool,
        hints: &SelectHints,
        key: Option<KeyLabels<'_>>,
    ) -> Result<Made, EvalError> {
        let mut run = SeriesRun::new(self, ev, use_sts, hints, key);
        run.expect(selected.len());
        let mut rest = selected.into_iter();
        while !rest.as_slice().is_empty() {
            let taken = TOUCH_BLOCK.min(rest.len());
            let clean = run.look(&rest.as_slice()[..taken]);
            run.take(rest.by_ref().take(taken), &clean)?;
        }
        Ok(run.made)
    }

    /// [`Self::all_series`] of the series `m` selects, taken from the store
    /// one block at a time ([`Storage::select_each`]): the selection is never
    /// held whole.
    ///
    /// [`Storage::select_each`]: crate::storage::Storage::select_each
    fn streamed(
        &self,
        ev: &Ev<'_, '_>,
        m: &MatSel,
        use_sts: bool,
        hints: &SelectHints,
        key: Option<KeyLabels<'_>>,
    ) -> Result<Made, EvalError> {
        let mut sink = BlockSink {
            run: SeriesRun::new(self, ev, use_sts, hints, key),
            block: Vec::with_capacity(TOUCH_BLOCK),
            failed: None,
        };
        ev.sh
            .storage
            .select_each(&m.sel.matchers, hints, &mut sink)?;
        if let Some(e) = sink.failed {
            return Err(e);
        }
        sink.flush()?;
        Ok(sink.run.made)
    }

    /// [`Self::all_series`] on `threads` scoped threads, each taking one
    /// contiguous share of the series with its own counters and annotations;
    /// the shares are joined in order, so results, annotations and errors
    /// are those of the sequential evaluation.
    fn parallel(
        &self,
        ev: &Ev<'_, '_>,
        selected: Vec<SelectedSeries<'_>>,
        threads: usize,
        use_sts: bool,
        hints: &SelectHints,
        key: Option<KeyLabels<'_>>,
    ) -> Result<Made, EvalError> {
        let (storage, opts, deadline) = (ev.sh.storage, ev.sh.opts, ev.sh.deadline);
        let (start, end, interval) = (ev.start, ev.end, ev.interval);
        let share = selected.len().div_ceil(threads).max(1);
        let call = *self;
        let count = selected.len();
        // Contiguous shares, each moved to its worker (split from the end,
        // so that every series moves once).
        let mut shares = Vec::with_capacity(threads);
        let mut rest = selected;
        while rest.len() > share {
            let at = (rest.len() - 1) / share * share;
            shares.push(rest.split_off(at));
        }
        shares.push(rest);
        shares.reverse();
        let parts: Vec<Result<Worker, EvalError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|part| {
                    scope.spawn(move || {
                        let mut shared = Shared::new(storage, opts);
                        shared.deadline = deadline;
                        let wev = Ev::new(&shared, start, end, interval);
                        let made = call.all_series(&wev, part, use_sts, hints, key)?;
                        Ok(Worker {
                            made,
                            peak: shared.peak.get(),
                            total: shared.total.get(),
                            read: shared.read.get(),
                            annos: shared.annos.into_inner(),
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EvalError::Execution("evaluation thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut all = Made {
            out: Vec::with_capacity(count),
            metadata: MetadataAgreement::default(),
            runs: key.map(|_| KeptRuns::with_capacity(count)),
        };
        let mut peaks = 0usize;
        for part in parts {
            let Worker {
                made,
                peak,
                total,
                read,
                annos,
            } = part?;
            all.metadata.merge(made.metadata);
            if let (Some(runs), Some(part)) = (&mut all.runs, made.runs) {
                runs.append(part);
            }
            peaks = peaks.saturating_add(peak);
            // The worker counted its results in its total; they are counted
            // again below, as held by this evaluation.
            let results: usize = made.out.iter().map(ESeries::samples).sum();
            ev.absorb_worker(total.saturating_sub(results as u64), read, annos);
            all.out.extend(made.out);
        }
        // The shares ran at the same time: at worst all their peaks coincided.
        ev.hold_briefly(peaks)?;
        ev.add_samples(all.out.iter().map(ESeries::samples).sum())?;
        Ok(all)
    }
}

/// [`RangeCall::all_series`] under way: the results so far and what each
/// series is evaluated with.
struct SeriesRun<'r, 'e, 'k> {
    call: &'r RangeCall<'r>,
    ev: &'r Ev<'e, 'e>,
    use_sts: bool,
    hints: &'r SelectHints,
    key: Option<KeyLabels<'k>>,
    shapes: ShapeMemo,
    made: Made,
}

impl<'r, 'e, 'k> SeriesRun<'r, 'e, 'k> {
    fn new(
        call: &'r RangeCall<'r>,
        ev: &'r Ev<'e, 'e>,
        use_sts: bool,
        hints: &'r SelectHints,
        key: Option<KeyLabels<'k>>,
    ) -> Self {
        SeriesRun {
            call,
            ev,
            use_sts,
            hints,
            key,
            shapes: ShapeMemo::default(),
            made: Made {
                out: Vec::new(),
                metadata: MetadataAgreement::default(),
                runs: key.map(|_| KeptRuns::default()),
            },
        }
    }

    /// Room for `series` results.
    fn expect(&mut self, series: usize) {
        self.made.out.reserve(series);
        if let Some(runs) = &mut self.made.runs {
            runs.reserve(series);
        }
    }

    /// Looks a block of series over first (labels, stale markers): loads
    /// from different series that the processor overlaps, where one series
    /// after another would wait for each cache miss in turn. Returns which
    /// series hold no stale marker and no histogram.
    fn look(&mut self, block: &[SelectedSeries<'_>]) -> [bool; TOUCH_BLOCK] {
        let mut clean = [false; TOUCH_BLOCK];
        let mut touched = 0;
        for (s, clean) in block.iter().zip(&mut clean) {
            self.made.metadata.see(&s.labels);
            if self.key.is_some() {
                // The key is read from the whole set.
                touched ^= s.labels.touch();
            }
            *clean = s.histograms.is_empty() && !any_stale(&s.floats);
        }
        std::hint::black_box(touched);
        clean
    }

    /// Evaluates the series of a block [`Self::look`] looked over, each
    /// dropped (its samples' handles; its labels move on) as soon as it is
    /// done, while it is in the cache.
    fn take<'a>(
        &mut self,
        block: impl Iterator<Item = SelectedSeries<'a>>,
        clean: &[bool],
    ) -> Result<(), EvalError> {
        let ev = self.ev;
        for (s, &clean) in block.zip(clean) {
            let rs = if self.use_sts {
                let sts = ev.sh.storage.start_timestamps(&s.labels, self.hints)?;
                with_start_timestamps(&s, sts)
            } else if clean {
                RangeSeries::from_selected(s)
            } else {
                to_range_series(&s)
            };
            ev.count_read(rs.floats.len() + hpoint_samples(&rs.hists));
            if let Some(ss) = self.call.series(ev, rs, &self.shapes)? {
                if let (Some(key), Some(runs)) = (&self.key, &mut self.made.runs) {
                    runs.record(&ss.labels, |l| key.keeps(l));
                    runs.note(&ss.labels, key.noted);
                }
                self.made.out.push(ss);
            }
        }
        Ok(())
    }
}

/// Takes a selection from the store into [`SeriesRun`] block by block; the
/// first error ends the selection and is kept for the caller.
struct BlockSink<'a, 'r, 'e, 'k> {
    run: SeriesRun<'r, 'e, 'k>,
    block: Vec<SelectedSeries<'a>>,
    failed: Option<EvalError>,
}

impl BlockSink<'_, '_, '_, '_> {
    /// Evaluates the series gathered so far.
    fn flush(&mut self) -> Result<(), EvalError> {
        let clean = self.run.look(&self.block);
        self.run.take(self.block.drain(..), &clean)
    }
}

impl<'a> SelectionSink<'a> for BlockSink<'a, '_, '_, '_> {
    fn expect(&mut self, upper: usize) {
        self.run.expect(upper);
    }

    fn take(&mut self, series: SelectedSeries<'a>) -> ControlFlow<()> {
        self.block.push(series);
        if self.block.len() < TOUCH_BLOCK {
            return ControlFlow::Continue(());
        }
        match self.flush() {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// What [`RangeCall::all_series`] makes of a selection.
struct Made {
    /// The result series.
    out: Matrix,
    /// Whether the series share their metadata labels.
    metadata: MetadataAgreement,
    /// The key labels of each result series, when a key was asked for.
    runs: Option<KeptRuns>,
}

/// What one worker of [`RangeCall::parallel`] hands back.
struct Worker {
    made: Made,
    peak: usize,
    total: u64,
    read: u64,
    annos: crate::engine::annotations::Annotations,
}

/// A function's value from the samples and its window's positions.
type WindowValue = fn(&[FPoint], std::ops::Range<usize>) -> f64;

/// The value of a float-only function that needs only its non-empty
/// window's position in the samples (as the kernel computes it):
/// `count_over_time`, `present_over_time`, `last_over_time`.
fn window_only(func: RangeFn) -> Option<WindowValue> {
    Some(match func {
        RangeFn::CountOverTime => |_, r| r.len() as f64,
        RangeFn::PresentOverTime => |_, _| 1.0,
        RangeFn::LastOverTime => |floats, r| floats[r.end - 1].v,
        _ => return None,
    })
}

/// Calls `f(step, ts, (range_start, range_end), positions)` for each step's
/// non-empty window of `floats` (the windows' bounds only move forward);
/// returns the largest window's size and the last one's.
fn each_window(
    floats: &[FPoint],
    steps: impl Iterator<Item = (i64, i64, i64)>,
    mut f: impl FnMut(usize, i64, (i64, i64), std::ops::Range<usize>) -> Result<(), EvalError>,
) -> Result<(usize, usize), EvalError> {
    let mut window = ForwardWindow::default();
    let (mut largest, mut last_window) = (0usize, 0usize);
    for (step, (ts, range_end, range_start)) in steps.enumerate() {
        let r = window.advance(floats, range_start, range_end);
        if r.is_empty() {
            continue;
        }
        last_window = r.len();
        largest = largest.max(r.len());
        f(step, ts, (range_start, range_end), r)?;
    }
    Ok((largest, last_window))
}

/// The bounds of windows that only move forward over time-sorted samples:
/// each is found from the last one's (see [`first_after`]) instead of by a
/// search of the whole series.
#[derive(Clone, Copy, Debug, Default)]
struct ForwardWindow {
    lo: usize,
    hi: usize,
    /// How far each bound moved at the last step.
    lo_stride: usize,
    hi_stride: usize,
}

impl ForwardWindow {
    /// Moves to the samples in `(start, end]`, neither bound before the
    /// last window's, and returns their positions.
    fn advance(&mut self, floats: &[FPoint], start: i64, end: i64) -> std::ops::Range<usize> {
        let lo = first_after(floats, self.lo, self.lo_stride, start);
        self.lo_stride = lo - self.lo;
        self.lo = lo;
        let from = self.hi.max(lo);
        self.hi = first_after(floats, from, self.hi_stride, end);
        self.hi_stride = self.hi - from;
        lo..self.hi
    }
}

/// The first position at or after `from` whose sample is after `bound`,
/// where no sample before `from` is (times ascending). `guess` is how far
/// the answer probably is from `from` (how far the previous step's moved):
/// with regular scrapes and steps it is right, and two comparisons confirm
/// it; else the samples are walked one by one.
fn first_after(floats: &[FPoint], from: usize, guess: usize, bound: i64) -> usize {
    let at = from + guess;
    let last_in = guess == 0 || floats.get(at - 1).is_some_and(|p| p.t <= bound);
    if last_in && floats.get(at).is_none_or(|p| p.t > bound) && at <= floats.len() {
        return at;
    }
    let mut i = from;
    while i < floats.len() && floats[i].t <= bound {
        i += 1;
    }
    i
}

/// Subquery results lose their explicit counter-reset hints: a subquery may
/// skip the sample after a reset or return it several times.
fn forget_reset_hints(mut hists: Vec<HPoint>) -> Vec<HPoint> {
    use crate::model::CounterResetHint as Hint;
    for p in &mut hists {
        if matches!(
            p.h.counter_reset_hint,
            Hint::CounterReset | Hint::NotCounterReset
        ) {
            let mut h = (*p.h).clone();
            h.counter_reset_hint = Hint::Unknown;
            p.h = Arc::new(h);
        }
    }
    hists
}

/// One series with 1 at every step where no series of `mat` has a point,
/// or none when every step has one.
fn absent_over_time(
    ev: &Ev<'_, '_>,
    c: &CallN,
    mi: usize,
    mat: Matrix,
) -> Result<Matrix, EvalError> {
    let (start, interval) = (ev.start, ev.interval.max(1));
    // Results lie on the step grid: mark each step that has a point.
    let mut found = vec![false; ev.num_steps()];
    for s in &mat {
        ev.tick_by(s.floats.len() + s.hists.len())?;
        let times = s
            .floats
            .iter()
            .map(|p| p.t)
            .chain(s.hists.iter().map(|p| p.t));
        for t in times {
            let step = t
                .checked_sub(start)
                .filter(|d| *d >= 0 && d % interval == 0)
                .and_then(|d| usize::try_from(d / interval).ok());
            if let Some(seen) = step.and_then(|i| found.get_mut(i)) {
                *seen = true;
            }
        }
    }
    let missing: Vec<FPoint> = ev
        .steps()
        .zip(&found)
        .filter(|(_, seen)| !**seen)
        .map(|(t, _)| FPoint { t, v: 1.0 })
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![ESeries {
        labels: absent_labels(&c.args[mi]),
        floats: Points::from_vec(missing),
        hists: HistPoints::default(),
        drop_name: true,
    }])
}

fn mixed_warning(ev: &Ev<'_, '_>, w: &Window<'_>) {
    ev.warn(
        format!(
            "encountered a mix of histograms and floats for metric name {}",
            go_quote(w.name)
        ),
        w.span,
    );
}

fn ignored_hist_info(ev: &Ev<'_, '_>, w: &Window<'_>) {
    ev.info(
        format!(
            "ignored histograms in a range containing both floats and histograms for metric name {}",
            go_quote(w.name)
        ),
        w.span,
    );
}

fn kernel(ev: &Ev<'_, '_>, func: RangeFn, w: &Window<'_>) -> Result<Out, EvalError> {
    use RangeFn as F;
    let f = w.floats;
    Ok(match func {
        F::Rate => rate(ev, w, true, true),
        F::Increase => rate(ev, w, true, false),
        F::Delta => rate(ev, w, false, false),
        F::Irate => instant_value(ev, w, true),
        F::Idelta => instant_value(ev, w, false),
        F::CountOverTime => Out::Float((f.len() + w.hists.len()) as f64),
        F::PresentOverTime => Out::Float(1.0),
        F::AbsentOverTime => Out::Float(1.0),
        F::LastOverTime => {
            let lf = f.last();
            let lh = w.hists.last();
            match (lf, lh) {
                (Some(p), Some(h)) if h.t > p.t => Out::Hist(h.h.clone()),
                (Some(p), _) => Out::Float(p.v),
                (None, Some(h)) => Out::Hist(h.h.clone()),
                (None, None) => Out::None,
            }
        }
        F::FirstOverTime => {
            let ff = f.first();
            let fh = w.hists.first();
            match (ff, fh) {
                (Some(p), Some(h)) if h.t < p.t => Out::Hist(h.h.clone()),
                (Some(p), _) => Out::Float(p.v),
                (None, Some(h)) => Out::Hist(h.h.clone()),
                (None, None) => Out::None,
            }
        }
        F::TsOfLastOverTime => {
            let t = f
                .last()
                .map_or(0, |p| p.t)
                .max(w.hists.last().map_or(0, |p| p.t));
            Out::Float(t as f64 / 1000.0)
        }
        F::TsOfFirstOverTime => {
            let t = f
                .first()
                .map_or(i64::MAX, |p| p.t)
                .min(w.hists.first().map_or(i64::MAX, |p| p.t));
            Out::Float(t as f64 / 1000.0)
        }
        F::SumOverTime | F::AvgOverTime => {
            if !f.is_empty() && !w.hists.is_empty() {
                mixed_warning(ev, w);
                return Ok(Out::None);
            }
            if f.is_empty() {
                return Ok(hist_range::sum_avg_hists(ev, w, func == F::AvgOverTime));
            }
            if func == F::SumOverTime {
                let (mut sum, mut c) = (0.0, 0.0);
                for p in f {
                    (sum, c) = kahan_inc(p.v, sum, c);
                }
                Out::Float(if sum.is_infinite() { sum } else { sum + c })
            } else {
                Out::Float(avg(f))
            }
        }
        F::MaxOverTime | F::MinOverTime | F::TsOfMaxOverTime | F::TsOfMinOverTime => {
            if f.is_empty() {
                return Ok(Out::None);
            }
            if !w.hists.is_empty() {
                ignored_hist_info(ev, w);
            }
            let is_max = matches!(func, F::MaxOverTime | F::TsOfMaxOverTime);
            let ts_of = func.is_ts_of();
            let mut best = f[0].v;
            let mut best_t = f[0].t;
            for p in f {
                let better = if ts_of {
                    if is_max { p.v >= best } else { p.v <= best }
                } else if is_max {
                    p.v > best
                } else {
                    p.v < best
                };
                if better || best.is_nan() {
                    best = p.v;
                    best_t = p.t;
                }
            }
            Out::Float(if ts_of { best_t as f64 / 1000.0 } else { best })
        }
        F::QuantileOverTime => {
            let q = w.args.first().copied().unwrap_or(f64::NAN);
            if f.is_empty() {
                return Ok(Out::None);
            }
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                ev.warn(
                    format!("quantile value should be between 0 and 1, got {}", go_g(q)),
                    w.span,
                );
            }
            if !w.hists.is_empty() {
                ignored_hist_info(ev, w);
            }
            let mut vals: Vec<f64> = f.iter().map(|p| p.v).collect();
            Out::Float(quantile(q, &mut vals))
        }
        F::MadOverTime => {
            if f.is_empty() {
                return Ok(Out::None);
            }
            if !w.hists.is_empty() {
                ignored_hist_info(ev, w);
            }
            if f.iter().any(|p| p.v.is_nan()) {
                return Ok(Out::Float(f64::NAN));
            }
            let mut vals: Vec<f64> = f.iter().map(|p| p.v).collect();
            let median = quantile(0.5, &mut vals);
            let mut dev: Vec<f64> = vals.iter().map(|v| (v - median).abs()).collect();
            Out::Float(quantile(0.5, &mut dev))
        }
        F::StddevOverTime | F::StdvarOverTime => {
            if f.is_empty() {
                return Ok(Out::None);
            }
            if !w.hists.is_empty() {
                ignored_hist_info(ev, w);
            }
            Out::Float(lanes::one(func, f).unwrap_or(f64::NAN))
        }
        F::Deriv | F::PredictLinear => {
            if f.len() < 2 {
                if f.len() == 1 && !w.hists.is_empty() {
                    ignored_hist_info(ev, w);
                }
                return Ok(Out::None);
            }
            if !w.hists.is_empty() {
                ignored_hist_info(ev, w);
            }
            Out::Float(fitted(func, f[0].t, w.ts, w.args, |at| {
                linear_regression(f, at)
            }))
        }
        F::Changes | F::Resets => changes_resets(w, func == F::Resets),
        F::DoubleExponentialSmoothing => {
            let sf = w.args.first().copied().unwrap_or(f64::NAN);
            let tf = w.args.get(1).copied().unwrap_or(f64::NAN);
            if sf <= 0.0 || sf >= 1.0 || sf.is_nan() {
                return Err(EvalError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if tf <= 0.0 || tf >= 1.0 || tf.is_nan() {
                return Err(EvalError::Execution(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                )));
            }
            if f.len() < 2 {
                if f.len() == 1 && !w.hists.is_empty() {
                    ignored_hist_info(ev, w);
                }
                return Ok(Out::None);
            }
            let (mut s0, mut s1) = (0.0, f[0].v);
            let mut b = f[1].v - f[0].v;
            for (i, p) in f.iter().enumerate().skip(1) {
                let x = sf * p.v;
                if i > 1 {
                    b = tf * (s1 - s0) + (1.0 - tf) * b;
                }
                let y = (1.0 - sf) * (s1 + b);
                s0 = s1;
                s1 = x + y;
            }
            if !w.hists.is_empty() {
                ignored_hist_info(ev, w);
            }
            Out::Float(s1)
        }
    })
}

/// What `deriv` (the slope of the line through the window, whose first
/// sample is at `first`) or `predict_linear` (the line's value its scalar
/// argument's seconds after the step `ts`) returns; `fit` gives the line's
/// slope and its value at the time it is given.
fn fitted(
    func: RangeFn,
    first: i64,
    ts: i64,
    args: &[f64],
    fit: impl FnOnce(i64) -> (f64, f64),
) -> f64 {
    if func == RangeFn::Deriv {
        fit(first).0
    } else {
        let d = args.first().copied().unwrap_or(f64::NAN);
        let (slope, intercept) = fit(ts);
        slope * d + intercept
    }
}

fn avg(f: &[FPoint]) -> f64 {
    let (mut sum, mut count) = (f[0].v, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, p) in f.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn changes_resets(w: &Window<'_>, resets: bool) -> Out {
    let (floats, hists) = (w.floats, w.hists);
    if floats.is_empty() && hists.is_empty() {
        return Out::None;
    }
    // Anchored: start from the last sample at or before the range start.
    let (mut fi, mut hi) = (0usize, 0usize);
    if w.anchored {
        let lf = floats.partition_point(|p| p.t <= w.range_start) as i64 - 1;
        let lh = hists.partition_point(|p| p.t <= w.range_start) as i64 - 1;
        if (lf + 1) as usize >= floats.len() && (lh + 1) as usize >= hists.len() {
            return Out::None;
        }
        if lf < 0 && lh < 0 {
        } else if lh < 0 || (lf >= 0 && floats[lf as usize].t >= hists[lh as usize].t) {
            fi = lf as usize;
            hi = (lh + 1) as usize;
        } else {
            fi = (lf + 1) as usize;
            hi = lh as usize;
        }
    }
    let sts = if w.float_sts.len() == floats.len() {
        w.float_sts
    } else {
        &[]
    };
    let mut count = 0;
    let mut prev: Option<(f64, Option<&FloatHistogram>, i64, i64)> = None;
    while fi < floats.len() || hi < hists.len() {
        let cur = if hi >= hists.len() || (fi < floats.len() && floats[fi].t < hists[hi].t) {
            fi += 1;
            let st = sts.get(fi - 1).copied().unwrap_or(0);
            (floats[fi - 1].v, None, floats[fi - 1].t, st)
        } else {
            hi += 1;
            let st = if w.hist_sts.len() == hists.len() {
                w.hist_sts.get(hi - 1).copied().unwrap_or(0)
            } else {
                0
            };
            (0.0, Some(&*hists[hi - 1].h), hists[hi - 1].t, st)
        };
        if let Some(p) = prev {
            let changed = match (p.1, cur.1) {
                (None, None) => {
                    if resets {
                        cur.0 < p.0 || start_timestamp_reset(p.3, p.2, cur.3, cur.2)
                    } else {
                        cur.0 != p.0 && !(cur.0.is_nan() && p.0.is_nan())
                    }
                }
                (Some(a), Some(b)) => {
                    if resets {
                        start_timestamp_reset(p.3, p.2, cur.3, cur.2) || b.detect_reset(a)
                    } else {
                        !a.equals(b)
                    }
                }
                _ => true,
            };
            if changed {
                count += 1;
            }
        }
        prev = Some(cur);
    }
    Out::Float(count as f64)
}

/// `irate` (`is_rate`) or `idelta` from the last two float samples and
/// their start timestamps.
fn float_instant_value(p0: FPoint, p1: FPoint, st0: i64, st1: i64, is_rate: bool) -> Out {
    let interval = p1.t.saturating_sub(p0.t);
    if interval == 0 {
        return Out::None;
    }
    let mut v = p1.v;
    if !is_rate || !(p1.v < p0.v || start_timestamp_reset(st0, p0.t, st1, p1.t)) {
        v = p1.v - p0.v;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Out::Float(v)
}

fn instant_value(ev: &Ev<'_, '_>, w: &Window<'_>, is_rate: bool) -> Out {
    let (f, h) = (w.floats, w.hists);
    if f.len() + h.len() < 2 {
        return Out::None;
    }
    if let ([.., p0, p1], []) = (f, h) {
        // Floats only: the last two samples.
        let st = |i: usize| w.float_sts.get(i).copied().unwrap_or(0);
        return float_instant_value(*p0, *p1, st(f.len() - 2), st(f.len() - 1), is_rate);
    }
    // The last two samples of either kind, oldest first, with start times.
    #[derive(Clone, Copy)]
    enum P<'a> {
        F(FPoint),
        H(&'a HPoint),
    }
    let t_of = |p: &P<'_>| match p {
        P::F(x) => x.t,
        P::H(x) => x.t,
    };
    let mut ss: smallvec::SmallVec<[(P<'_>, i64); 2]> = smallvec::SmallVec::new();
    for (i, p) in f.iter().enumerate().skip(f.len().saturating_sub(2)) {
        ss.push((P::F(*p), w.float_sts.get(i).copied().unwrap_or(0)));
    }
    for (i, p) in h.iter().enumerate().skip(h.len().saturating_sub(2)) {
        let s = (P::H(p), w.hist_sts.get(i).copied().unwrap_or(0));
        let t = p.t;
        match ss.len() {
            0 => ss.push(s),
            1 => {
                if t < t_of(&ss[0].0) {
                    ss.insert(0, s);
                } else {
                    ss.push(s);
                }
            }
            _ => {
                if t < t_of(&ss[0].0) {
                } else if t > t_of(&ss[1].0) {
                    ss[0] = ss[1];
                    ss[1] = s;
                } else {
                    ss[0] = s;
                }
            }
        }
    }
    let [(s0, st0), (s1, st1)] = [ss[0], ss[1]];
    match (s0, s1) {
        (P::F(p0), P::F(p1)) => float_instant_value(p0, p1, st0, st1, is_rate),
        (P::H(p0), P::H(p1)) => hist_range::instant_hist_value(ev, w, p0, p1, st0, st1, is_rate),
        _ => {
            if t_of(&s1) != t_of(&s0) {
                mixed_warning(ev, w);
            }
            Out::None
        }
    }
}

fn rate(ev: &Ev<'_, '_>, w: &Window<'_>, is_counter: bool, is_rate: bool) -> Out {
    let (f, h) = (w.floats, w.hists);
    if !f.is_empty() && !h.is_empty() {
        mixed_warning(ev, w);
        return Out::None;
    }
    if !h.is_empty() {
        if w.anchored || w.smoothed {
            return hist_range::extended_hist_rate(ev, w, is_counter, is_rate);
        }
        return hist_range::extrapolated_hist_rate(ev, w, is_counter, is_rate);
    }
    if w.anchored || w.smoothed {
        return extended_rate(w, is_counter, is_rate);
    }
    let Some(n1) = f.len().checked_sub(1) else {
        return Out::None;
    };
    let sts = if is_counter && w.float_sts.len() == f.len() {
        w.float_sts
    } else {
        &[]
    };
    let (first, last) = (f[0], f[n1]);
    let mut result = last.v - first.v;
    if is_counter && sts.is_empty() {
        // Without start timestamps only value drops count as resets.
        scan_values_before(f).for_each(|v| result += v);
    } else if is_counter {
        let mut overlap = false;
        for (i, pair) in f.windows(2).enumerate() {
            let (prev, cur) = (pair[0], pair[1]);
            if !overlap && i + 1 < sts.len() && start_time_overlap(sts[i], prev.t, sts[i + 1]) {
                ev.sh.annos.borrow_mut().start_time_overlap(w.name, w.span);
                overlap = true;
            }
            let st_reset =
                i + 1 < sts.len() && start_timestamp_reset(sts[i], prev.t, sts[i + 1], cur.t);
            if cur.v < prev.v || st_reset {
                result += prev.v;
            }
        }
    }
    let st0 = first_start_timestamp(w, sts, first.t);
    if st0.is_some() {
        // A zero-valued sample is assumed at the first sample's start time.
        result += first.v;
    } else if n1 == 0 {
        return Out::None;
    }
    let zero_ratio = zero_ratio(first.v, result);
    let factor = extrapolation_factor(w, first.t, last.t, n1, st0, zero_ratio, is_counter, is_rate);
    Out::Float(result * factor)
}

/// The first sample's start timestamp, when it lies inside the window and
/// before the sample (then a zero is assumed there instead of extrapolating).
pub(crate) fn first_start_timestamp(w: &Window<'_>, sts: &[i64], first_t: i64) -> Option<i64> {
    sts.first()
        .copied()
        .filter(|&st| st != 0 && st > w.range_start && st < first_t)
}

fn extended_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Out {
    let f = w.floats;
    let Some(mut last) = f.len().checked_sub(1) else {
        return Out::None;
    };
    let mut first = first_index(f, last, w.range_start);
    if w.smoothed {
        last = f[..last].partition_point(|p| p.t < w.range_end);
    }
    if f[last].t <= w.range_start {
        return Out::None;
    }
    if w.smoothed && f[first].t > w.range_end {
        return Out::None;
    }
    let left = left_value(f, first, w.range_start, w.smoothed, is_counter);
    let right = right_value(f, last, w.range_end, w.smoothed, is_counter);
    let mut result = right - left;
    if is_counter {
        if f[first].t <= w.range_start {
            first += 1;
        }
        let mut last_i = last as i64;
        if f[last].t >= w.range_end {
            last_i -= 1;
        }
        let inner: &[FPoint] = if last_i >= first as i64 {
            &f[first..=last_i as usize]
        } else {
            &[]
        };
        let mut correction = 0.0;
        let mut prev = left;
        for p in inner {
            if p.v < prev {
                correction += prev;
            }
            prev = p.v;
        }
        if right < prev {
            correction += prev;
        }
        result += correction;
    }
    if is_rate {
        result /= w.range as f64 / 1000.0;
    }
    Out::Float(result)
}

/// Whether the current sample's start timestamp marks a counter reset
/// (OpenTelemetry delta and cumulative semantics, as Prometheus reads them).
pub(crate) fn start_timestamp_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    // cur_st == prev_t: a delta sample, unless the previous start time is
    // unknown (cumulative with unknown start) or invalid.
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

/// Whether a start timestamp overlaps the previous sample.
pub(crate) fn start_time_overlap(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `first_after` finds what walking the samples finds, whatever the
        /// guess: right, a little off, or anywhere (also past the end), with
        /// bounds on sample times, between them and outside them.
        #[test]
        fn first_after_equals_a_walk(
            gaps in proptest::collection::vec(0i64..4, 0..60),
            from_frac in 0.0f64..1.0,
            bound_at in proptest::option::of(0usize..60),
            bound in -2i64..250,
            off in -2i64..3,
            far in proptest::option::weighted(0.2, 0usize..70),
        ) {
            let mut t = 0;
            let floats: Vec<FPoint> = gaps
                .iter()
                .map(|g| {
                    t += g;
                    FPoint { t, v: 0.0 }
                })
                .collect();
            let bound = bound_at
                .and_then(|i| floats.get(i))
                .map_or(bound, |p| p.t);
            // Any start with no sample before it after the bound.
            let max_from = floats.partition_point(|p| p.t <= bound);
            let from = (max_from as f64 * from_frac) as usize;
            let walked = from + floats[from..].iter().take_while(|p| p.t <= bound).count();
            let near = usize::try_from((walked - from) as i64 + off).unwrap_or(0);
            let guess = far.unwrap_or(near);
            proptest::prop_assert_eq!(first_after(&floats, from, guess, bound), walked);
        }
    }
}
