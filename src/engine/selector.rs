//! Instant and range selection: the lookback window `(t - lookback, t]`,
//! left-open range windows `(t - range, t]`, stale markers, offset and `@`,
//! and the experimental `anchored`/`smoothed` modifiers.

use std::borrow::Cow;
use std::sync::Arc;

use super::EvalError;
use super::eval::Ev;
use super::plan::{MatSel, Sel};
use super::types::{ESeries, Matrix, PointSink, Points, TOUCH_BLOCK, hist_samples, hpoint_samples};
use crate::model::value::any_stale;
use crate::model::{FPoint, FloatHistogram, HPoint, Labels, is_stale_nan};
use crate::storage::{SelectHints, SelectedSeries, StartTimestamps};

/// For each `(step time, read time, floor)` of `steps` (read times never
/// decreasing): the latest float sample at or before the read time and
/// after the floor, unless it is a stale marker, appended to `out` at the
/// step time. `floats` is sorted by time. Returns how many samples lie at
/// or before the last read time.
// Not inlined: its loop is tighter on its own.
#[inline(never)]
fn latest_at_steps(
    floats: &[FPoint],
    steps: impl Iterator<Item = (i64, i64, i64)>,
    out: &mut impl PointSink,
) -> usize {
    // `ahead` holds the samples after the read time, `latest` the last one
    // at or before it: each sample is looked at once.
    let mut ahead = floats;
    let mut latest: Option<FPoint> = None;
    for (ts, read, floor) in steps {
        while let [p, rest @ ..] = ahead {
            if p.t > read {
                break;
            }
            latest = Some(*p);
            ahead = rest;
        }
        if let Some(p) = latest
            && p.t > floor
            && !is_stale_nan(p.v)
        {
            out.push_point(FPoint { t: ts, v: p.v });
        }
    }
    floats.len() - ahead.len()
}

/// [`latest_at_steps`] for one step, by bisection: an instant query reads
/// the last sample of its lookback window, so walking the window from its
/// start would look at every sample in it. A storage that returns just the
/// window (as it is asked) has that sample last: no bisection then.
fn latest_at_one_step(floats: &[FPoint], ts: i64, read: i64, floor: i64, out: &mut impl PointSink) {
    if let Some(v) = latest_at(floats, read, floor) {
        out.push_point(FPoint { t: ts, v });
    }
}

/// The value of the latest sample at or before `read` and after `floor`,
/// unless it is a stale marker: [`latest_at_one_step`]'s answer.
fn latest_at(floats: &[FPoint], read: i64, floor: i64) -> Option<f64> {
    let ahead = match floats.last() {
        Some(last) if last.t <= read => floats.len(),
        _ => floats.partition_point(|p| p.t <= read),
    };
    let p = floats[..ahead].last()?;
    (p.t > floor && !is_stale_nan(p.v)).then_some(p.v)
}

/// Evaluation steps at a fixed interval whose times, read times and floors
/// all fit in an `i64`: what [`Ev::plain_steps`] iterates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepGrid {
    /// The first step's time.
    first: i64,
    /// Milliseconds between steps (at least 1).
    interval: i64,
    /// Number of steps.
    count: usize,
    /// Subtracted from a step's time to give its read time.
    offset: i64,
    /// Subtracted from a read time to give its floor.
    back: i64,
}

impl StepGrid {
    /// `(step time, read time, floor)` of each step.
    fn iter(self) -> impl Iterator<Item = (i64, i64, i64)> {
        let (interval, offset, back) = (self.interval, self.offset, self.back);
        // The step after the last is never used, but must not overflow.
        let times = (0..self.count).scan(self.first, move |ts, _| {
            let step = *ts;
            *ts = ts.wrapping_add(interval);
            Some(step)
        });
        times.map(move |ts| (ts, ts - offset, ts - offset - back))
    }
}

/// [`latest_at_steps`] over a step grid, appending to a vector. Where the
/// samples come at the steps' interval or at a fraction of it (as scrapes
/// of a target do), step after step picks the next sample, or every
/// second, fourth...: such a run is measured in one pass over its
/// timestamps and copied out at once, instead of moving a cursor and
/// testing each step's sample.
fn latest_at_grid_steps(floats: &[FPoint], grid: StepGrid, out: &mut Vec<FPoint>) {
    // After a look for a run that found none, the cursor takes this many
    // steps before the next look (samples off the grid would otherwise
    // pay for a look at every step); shorter runs are left to it too.
    const CURSOR_STEPS: usize = 64;
    const MIN_RUN: usize = 8;
    let (interval, count, offset, back) = (grid.interval, grid.count, grid.offset, grid.back);
    // `floats[..ahead]` are the samples at or before step `k`'s read time.
    let (mut k, mut ahead) = (0, 0);
    while k < count {
        // Within the grid, so neither overflows (see `Ev::plain_steps`).
        let ts = grid.first + k as i64 * interval;
        let read = ts - offset;
        ahead += floats[ahead..].iter().take_while(|p| p.t <= read).count();
        let latest = ahead.checked_sub(1);
        if let Some(i) = latest
            && let Some(start) = RunStart::at(floats, i, interval, read, back)
        {
            // Steps and samples move by the same interval. (The shift may
            // wrap where the offset and lookback are huge; the step times
            // it gives do not.)
            let shift = ts.wrapping_sub(floats[i].t);
            let limit = start.stride.saturating_mul(count - k - 1).saturating_add(1);
            let base = out.len();
            // The run's samples are copied as they are measured (one pass
            // over memory instead of a pass to measure and one to copy),
            // then cut back to its steps.
            let regular = copy_regular_run(&floats[i..], limit, start, out);
            let run = start.run(floats, i, regular, read);
            if run.steps >= MIN_RUN {
                out.truncate(base + run.steps);
                if shift != 0 {
                    out[base..]
                        .iter_mut()
                        .for_each(|p| p.t = p.t.wrapping_add(shift));
                }
                k += run.steps;
                ahead = i + run.samples;
                continue;
            }
            out.truncate(base);
        }
        let steps = StepGrid {
            first: ts,
            count: CURSOR_STEPS.min(count - k),
            ..grid
        };
        let from = latest.unwrap_or(0);
        ahead = from + latest_at_steps(&floats[from..], steps.iter(), out);
        k += steps.count;
    }
}

/// Steps that read samples at a fixed stride: see [`RunStart::run`].
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Number of steps.
    steps: usize,
    /// Samples from the first read to the last read, both included.
    samples: usize,
}

/// A sample that may start a run of steps: the latest at or before a
/// step's read time, followed by samples at a spacing that divides the
/// steps' interval.
#[derive(Clone, Copy, Debug)]
struct RunStart {
    /// Milliseconds between the sample and the next.
    spacing: i64,
    /// Samples per step: the interval over the spacing.
    stride: usize,
}

impl RunStart {
    /// Sample `i`, the latest at or before `read`, as the start of a run;
    /// `None` when it is stale, older than `back` or not followed by a
    /// sample at a spacing that divides `interval`.
    fn at(floats: &[FPoint], i: usize, interval: i64, read: i64, back: i64) -> Option<Self> {
        let p = floats[i];
        let spacing = floats.get(i + 1)?.t.wrapping_sub(p.t);
        if spacing <= 0 || interval % spacing != 0 || p.t <= read - back || is_stale_nan(p.v) {
            return None;
        }
        let stride = usize::try_from(interval / spacing).ok()?;
        Some(RunStart { spacing, stride })
    }

    /// The steps that, from the reading at `read`, read every `stride`-th
    /// sample from `i` on, where `floats[i..i + regular]` are equally
    /// spaced and not stale (and `regular` is at most the samples the
    /// remaining steps can read).
    ///
    /// Step `j` of the run reads sample `i + stride * j`, which lies as far
    /// behind its read time as sample `i` lies behind `read` (inside the
    /// lookback), while the sample after it lies after that read time (as
    /// sample `i + 1` lies after `read`). The sample after the run may come
    /// sooner than the spacing: then it, not the run's last, is the latest
    /// at the run's last step, which is left out.
    fn run(self, floats: &[FPoint], i: usize, regular: usize, read: i64) -> Run {
        let stride = self.stride;
        let interval = self.spacing.wrapping_mul(stride as i64);
        let mut steps = (regular - 1) / stride + 1;
        let last = stride * (steps - 1);
        if last + 1 == regular
            && let Some(after) = floats.get(i + regular)
            && after.t <= read + (steps as i64 - 1) * interval
        {
            steps -= 1;
        }
        Run {
            steps,
            samples: stride * steps.saturating_sub(1) + 1,
        }
    }
}

/// How many of the first `limit` of `floats` (at least the first) follow
/// each other `start.spacing` apart without a stale marker; every
/// `start.stride`-th of them, from the first, is appended to `out`.
///
/// Blocks are copied as they are tested, so that memory is read once for
/// both; consecutive samples (stride 1) are copied before they are tested
/// and the part of the last block after the run is then dropped.
fn copy_regular_run(
    floats: &[FPoint],
    limit: usize,
    start: RunStart,
    out: &mut Vec<FPoint>,
) -> usize {
    const BLOCK: usize = 32;
    let (spacing, stride) = (start.spacing, start.stride);
    let floats = &floats[..limit.min(floats.len())];
    let base = out.len();
    out.push(floats[0]);
    let mut run = 1;
    for block in floats[1..].chunks(BLOCK) {
        if stride == 1 {
            out.extend_from_slice(block);
        }
        let good = regular_prefix(block, floats[run - 1].t, spacing);
        if stride > 1 {
            let picked = floats.get(run.next_multiple_of(stride)..run + good);
            out.extend(picked.unwrap_or_default().iter().step_by(stride));
        }
        run += good;
        if good < block.len() {
            break;
        }
    }
    if stride == 1 {
        out.truncate(base + run);
    }
    run
}

/// How many of the first of `floats` follow `prev` (the time of the
/// sample before them) and each other `spacing` apart without a stale
/// marker. Blocks of eight are tested without a branch per sample.
fn regular_prefix(floats: &[FPoint], prev: i64, spacing: i64) -> usize {
    let due = |j: usize| prev.wrapping_add(spacing.wrapping_mul(j as i64 + 1));
    let on_time = |j: usize, p: &FPoint| (p.t == due(j)) & !is_stale_nan(p.v);
    let mut good = 0;
    for block in floats.chunks_exact(8) {
        let all = block
            .iter()
            .enumerate()
            .fold(true, |all, (j, p)| all & on_time(good + j, p));
        if !all {
            break;
        }
        good += 8;
    }
    good + floats[good..]
        .iter()
        .enumerate()
        .take_while(|&(j, p)| on_time(good + j, p))
        .count()
}

/// A series with its samples, stale markers removed, ready for windowing.
#[derive(Debug, Clone)]
pub(crate) struct RangeSeries<'a> {
    /// The series' labels: taken over from a selection or a subquery's
    /// result, or borrowed from a selection that is kept.
    pub labels: Cow<'a, Labels>,
    /// The storage's samples when there is nothing to remove, else a copy.
    pub floats: Cow<'a, [FPoint]>,
    pub hists: Cow<'a, [HPoint]>,
    pub drop_name: bool,
    /// Start timestamps aligned with `floats` (empty when unknown).
    pub float_sts: Vec<i64>,
    /// Start timestamps aligned with `hists` (empty when unknown).
    pub hist_sts: Vec<i64>,
}

impl<'a> RangeSeries<'a> {
    /// `s` as it is: its labels and samples borrowed, no start timestamps.
    pub(crate) fn borrowed(s: &'a SelectedSeries<'_>) -> Self {
        RangeSeries {
            labels: Cow::Borrowed(&s.labels),
            floats: Cow::Borrowed(&s.floats),
            hists: Cow::Borrowed(&s.histograms),
            drop_name: false,
            float_sts: Vec::new(),
            hist_sts: Vec::new(),
        }
    }

    /// `s` as it is, taken over: its labels and its samples (borrowed from
    /// the store, or the copy it holds) move, no start timestamps.
    pub(crate) fn from_selected(s: SelectedSeries<'a>) -> Self {
        RangeSeries {
            labels: Cow::Owned(s.labels),
            floats: s.floats,
            hists: s.histograms,
            drop_name: false,
            float_sts: Vec::new(),
            hist_sts: Vec::new(),
        }
    }
}

fn is_stale_hist(h: &FloatHistogram) -> bool {
    is_stale_nan(h.sum)
}

impl Ev<'_, '_> {
    /// Asks the storage for the series of `sel` over the window the
    /// evaluator's steps need; `range` is the range of a range selector.
    pub fn select(
        &self,
        sel: &Sel,
        range: Option<i64>,
    ) -> Result<Vec<SelectedSeries<'_>>, EvalError> {
        let hints = self.select_hints(sel, range);
        let mut series = self.sh.storage.select(&sel.matchers, &hints)?;
        if sel.stats_only {
            let seeks = match range {
                None => self.instant_seeks(sel),
                Some(r) => self.range_seeks(sel, r),
            };
            super::stats_read::read_stats_only(&mut series, &seeks);
        }
        Ok(series)
    }

    /// The storage hints for selecting `sel` (with `range` for range selectors).
    pub fn select_hints(&self, sel: &Sel, range: Option<i64>) -> SelectHints {
        let (mut start, mut end) = match sel.at {
            Some(t) => (t, t),
            None => (self.start, self.end),
        };
        start = start.saturating_sub(sel.offset);
        end = end.saturating_sub(sel.offset);
        let lb = self.lookback();
        match range {
            None => {
                start = start.saturating_sub(lb - 1);
                if sel.smoothed {
                    end = end.saturating_add(lb);
                }
            }
            Some(r) => {
                start = start.saturating_sub(r.saturating_sub(1));
                if sel.anchored || sel.smoothed {
                    start = start.saturating_sub(lb);
                }
                if sel.smoothed {
                    end = end.saturating_add(lb);
                }
            }
        }
        let mut hints = SelectHints::window(start, end);
        hints.step = self.interval;
        hints.range = range.unwrap_or(0);
        hints
    }

    /// Evaluates an instant vector selector at every step.
    pub fn eval_selector(&self, sel: &Sel) -> Result<Matrix, EvalError> {
        let series = self.select(sel, None)?;
        if sel.smoothed {
            return self.smooth_series(sel, &series);
        }
        let lb = self.lookback();
        let one_step = match self.saturating_steps(sel.at, sel.offset, lb).next() {
            Some(step) if self.num_steps() == 1 => Some(step),
            _ => None,
        };
        let mut out = Vec::with_capacity(series.len());
        let mut rest = series.into_iter();
        while !rest.as_slice().is_empty() {
            let taken = TOUCH_BLOCK.min(rest.len());
            // An instant query reads one sample of each series: those of a
            // block are read first, loads from different series that the
            // processor overlaps, where one series after another would wait
            // for each cache miss in turn.
            let mut latest = [None; TOUCH_BLOCK];
            if let Some((ts, read, floor)) = one_step {
                for (s, latest) in rest.as_slice()[..taken].iter().zip(&mut latest) {
                    *latest = latest_at(&s.floats, read, floor).map(|v| FPoint { t: ts, v });
                }
            }
            for (s, latest) in rest.by_ref().take(taken).zip(latest) {
                self.tick()?;
                // The selection is consumed: its label sets move to the result.
                let SelectedSeries {
                    labels,
                    floats,
                    histograms,
                } = s;
                let mut ss = ESeries::new(labels, false);
                if histograms.is_empty() {
                    ss.floats = match one_step {
                        Some(_) => latest.into_iter().collect(),
                        None => self.latest_floats(sel, lb, &floats)?,
                    };
                    let held = ss.floats.len();
                    self.add_samples(held)?;
                    self.count_read(held);
                } else {
                    for ts in self.steps() {
                        self.tick()?;
                        let r = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                        if let Some((_, f, h)) = lookup(&floats, &histograms, r, lb) {
                            let n = h.as_deref().map_or(1, hist_samples);
                            self.add_samples(n)?;
                            self.count_read(n);
                            ss.push(ts, f, h);
                        }
                    }
                }
                if ss.len() > 0 {
                    out.push(ss);
                }
            }
        }
        Ok(out)
    }

    /// What the instant selector `sel` gives a series of floats only at
    /// every step: the latest sample at or before the step's read time, if
    /// within the lookback `lb` and not a stale marker. The samples are not
    /// counted; the clock is looked at once.
    pub(crate) fn latest_floats(
        &self,
        sel: &Sel,
        lb: i64,
        floats: &[FPoint],
    ) -> Result<Points, EvalError> {
        // The steps move forward, and so does the latest sample at or
        // before each: follow it with a cursor, a bounded amount of work
        // per step.
        self.tick_by(self.num_steps())?;
        if self.num_steps() > 1 {
            let mut points = Vec::with_capacity(self.points_bound(floats.len(), lb));
            match self.step_grid(sel.at, sel.offset, lb) {
                Some(grid) => latest_at_grid_steps(floats, grid, &mut points),
                None => self.latest_at_each_step(sel, lb, floats, &mut points),
            }
            Ok(Points::from_vec(points))
        } else {
            let mut points = Points::new();
            match self.saturating_steps(sel.at, sel.offset, lb).next() {
                Some((ts, read, floor)) if self.num_steps() == 1 => {
                    latest_at_one_step(floats, ts, read, floor, &mut points);
                }
                _ => self.latest_at_each_step(sel, lb, floats, &mut points),
            }
            Ok(points)
        }
    }

    /// [`latest_at_steps`] over this evaluation's steps.
    fn latest_at_each_step(&self, sel: &Sel, lb: i64, floats: &[FPoint], out: &mut impl PointSink) {
        match self.plain_steps(sel.at, sel.offset, lb) {
            Some(steps) => latest_at_steps(floats, steps, out),
            None => latest_at_steps(floats, self.saturating_steps(sel.at, sel.offset, lb), out),
        };
    }

    /// The `(step time, read time, floor)` of each step, where the read
    /// time is the step time (or `at`) less `offset` and the floor is
    /// `back` before it, in saturating arithmetic.
    pub(crate) fn saturating_steps(
        &self,
        at: Option<i64>,
        offset: i64,
        back: i64,
    ) -> impl Iterator<Item = (i64, i64, i64)> + use<> {
        self.steps().map(move |ts| {
            let read = at.unwrap_or(ts).saturating_sub(offset);
            (ts, read, read.saturating_sub(back))
        })
    }

    /// The steps of [`Self::saturating_steps`] in plain arithmetic, for a
    /// `back` (a lookback or a range) that is not negative: `None` with
    /// `@` or when some sum could overflow (then the caller saturates).
    pub(crate) fn plain_steps(
        &self,
        at: Option<i64>,
        offset: i64,
        back: i64,
    ) -> Option<impl Iterator<Item = (i64, i64, i64)> + use<>> {
        Some(self.step_grid(at, offset, back)?.iter())
    }

    /// The grid [`Self::plain_steps`] iterates, under the same conditions.
    pub(crate) fn step_grid(&self, at: Option<i64>, offset: i64, back: i64) -> Option<StepGrid> {
        if at.is_some() || self.end < self.start || back < 0 {
            return None;
        }
        let (first, interval) = (self.start, self.interval.max(1));
        let count = self.num_steps();
        let steps = i64::try_from(count).ok()?;
        // The last step, and the earliest and latest times read (every
        // sum in between lies between these).
        let last = first.checked_add((steps - 1).checked_mul(interval)?)?;
        last.checked_sub(offset)?;
        first.checked_sub(offset)?.checked_sub(back)?;
        Some(StepGrid {
            first,
            interval,
            count,
            offset,
            back,
        })
    }

    /// The smoothed histogram at `data_ts`: the sample there, else the
    /// interpolation between its neighbours (as a counter unless both are
    /// gauges), else the previous sample without its counter-reset hint.
    fn smooth_hist(
        &self,
        hists: &[HPoint],
        data_ts: i64,
        name: &str,
        span: crate::parser::Span,
    ) -> Option<Arc<FloatHistogram>> {
        use crate::model::CounterResetHint as Hint;
        let i = hists.partition_point(|p| p.t < data_ts);
        if let Some(p) = hists.get(i).filter(|p| p.t == data_ts) {
            return Some(p.h.clone());
        }
        let prev = hists.get(i.checked_sub(1)?)?;
        let Some(next) = hists.get(i) else {
            let mut h = (*prev.h).clone();
            h.counter_reset_hint = Hint::Unknown;
            return Some(Arc::new(h));
        };
        if prev.h.uses_custom_buckets() != next.h.uses_custom_buckets() {
            super::histops::warn_mixed_schemas(self, name, span);
            return None;
        }
        let is_counter =
            prev.h.counter_reset_hint != Hint::Gauge || next.h.counter_reset_hint != Hint::Gauge;
        match super::functions::interpolate_hist(self, prev, next, data_ts, is_counter, span) {
            Ok(h) => Some(Arc::new(h)),
            Err(e) => {
                super::histops::note_error(self, e, name, span);
                None
            }
        }
    }

    fn smooth_series(&self, sel: &Sel, series: &[SelectedSeries<'_>]) -> Result<Matrix, EvalError> {
        let lb = self.lookback();
        let mut out = Vec::new();
        for s in series {
            let rs = to_range_series(s);
            let mut ss = ESeries::new(s.labels.clone(), false);
            let name = s.labels.metric_name().unwrap_or("").to_string();
            for ts in self.steps() {
                self.tick()?;
                let data_ts = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                let floats = window(
                    &rs.floats,
                    data_ts.saturating_sub(lb),
                    data_ts.saturating_add(lb),
                );
                let hists = window_h(
                    &rs.hists,
                    data_ts.saturating_sub(lb),
                    data_ts.saturating_add(lb),
                );
                if floats.is_empty() && hists.is_empty() {
                    continue;
                }
                if !floats.is_empty() && !hists.is_empty() {
                    self.warn(
                        format!(
                            "encountered a mix of histograms and floats for metric name {}",
                            super::annotations::go_quote(&name)
                        ),
                        sel.span,
                    );
                    continue;
                }
                if !hists.is_empty() {
                    if let Some(h) = self.smooth_hist(hists, data_ts, &name, sel.span) {
                        ss.hists.push(HPoint { t: ts, h });
                    }
                    continue;
                }
                let i = floats.partition_point(|p| p.t < data_ts);
                if i < floats.len() && floats[i].t == data_ts {
                    ss.floats.push(FPoint {
                        t: ts,
                        v: floats[i].v,
                    });
                } else if i > 0 && i < floats.len() {
                    let v = interpolate(floats[i - 1], floats[i], data_ts, false);
                    ss.floats.push(FPoint { t: ts, v });
                } else if i > 0 {
                    ss.floats.push(FPoint {
                        t: ts,
                        v: floats[i - 1].v,
                    });
                }
            }
            self.add_samples(ss.samples())?;
            self.count_read(ss.samples());
            if ss.len() > 0 {
                out.push(ss);
            }
        }
        Ok(out)
    }

    /// Evaluates a range selector at the top level (instant queries only).
    pub fn eval_matrix_selector(&self, m: &MatSel) -> Result<Matrix, EvalError> {
        if !self.is_instant() {
            return Err(EvalError::BadQuery(
                "cannot do range evaluation of matrix selector".into(),
            ));
        }
        let sel = &m.sel;
        let series = self.select(sel, Some(m.range))?;
        let maxt = sel.at.unwrap_or(self.start).saturating_sub(sel.offset);
        let mint = maxt.saturating_sub(m.range);
        let lb = self.lookback();
        let mut out = Vec::new();
        for s in &series {
            self.tick()?;
            let rs = to_range_series(s);
            let (lo, hi) = if sel.anchored {
                (mint.saturating_sub(lb), maxt)
            } else if sel.smoothed {
                (mint.saturating_sub(lb), maxt.saturating_add(lb))
            } else {
                (mint, maxt)
            };
            let mut floats = window(&rs.floats, lo, hi).to_vec();
            let hists = window_h(&rs.hists, lo, hi).to_vec();
            if sel.anchored || sel.smoothed {
                if !hists.is_empty() {
                    return Err(EvalError::Execution(format!(
                        "{} modifier is not supported with histograms",
                        if sel.anchored { "anchored" } else { "smoothed" }
                    )));
                }
                if floats.is_empty() {
                    continue;
                }
                floats = extend_floats(&floats, mint, maxt, sel.smoothed);
            }
            let n = floats.len() + hpoint_samples(&hists);
            self.add_samples(n)?;
            self.count_read(n);
            if n > 0 {
                out.push(ESeries {
                    labels: s.labels.clone(),
                    floats: Points::from_vec(floats),
                    hists: hists.into(),
                    drop_name: false,
                });
            }
        }
        Ok(out)
    }
}

/// A selected series without stale markers (borrowed when it has none).
pub(crate) fn to_range_series<'a>(s: &'a SelectedSeries<'_>) -> RangeSeries<'a> {
    if !any_stale(&s.floats) && !s.histograms.iter().any(|p| is_stale_hist(&p.h)) {
        return RangeSeries::borrowed(s);
    }
    with_start_timestamps(s, StartTimestamps::default())
}

/// A selected series without stale markers (borrowed when it has none),
/// keeping the start timestamps of the remaining samples when they are known.
pub(crate) fn with_start_timestamps<'a>(
    s: &'a SelectedSeries<'_>,
    sts: StartTimestamps,
) -> RangeSeries<'a> {
    let aligned = |v: Vec<i64>, len: usize| if v.len() == len { v } else { Vec::new() };
    let stale_floats = any_stale(&s.floats);
    let stale_hists = s.histograms.iter().any(|p| is_stale_hist(&p.h));
    if !stale_floats && !stale_hists {
        return RangeSeries {
            float_sts: aligned(sts.floats, s.floats.len()),
            hist_sts: aligned(sts.histograms, s.histograms.len()),
            ..RangeSeries::borrowed(s)
        };
    }
    let keep_f: Vec<bool> = s.floats.iter().map(|p| !is_stale_nan(p.v)).collect();
    let keep_h: Vec<bool> = s.histograms.iter().map(|p| !is_stale_hist(&p.h)).collect();
    let pick = |v: Vec<i64>, keep: &[bool]| -> Vec<i64> {
        if v.len() != keep.len() {
            return Vec::new();
        }
        v.into_iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(t, _)| t)
            .collect()
    };
    RangeSeries {
        labels: Cow::Borrowed(&s.labels),
        floats: Cow::Owned(
            s.floats
                .iter()
                .zip(&keep_f)
                .filter(|(_, k)| **k)
                .map(|(p, _)| *p)
                .collect(),
        ),
        hists: Cow::Owned(
            s.histograms
                .iter()
                .zip(&keep_h)
                .filter(|(_, k)| **k)
                .map(|(p, _)| p.clone())
                .collect(),
        ),
        drop_name: false,
        float_sts: pick(sts.floats, &keep_f),
        hist_sts: pick(sts.histograms, &keep_h),
    }
}

/// Index range of the points with `mint < t <= maxt`.
pub(crate) fn window_range(
    ts: impl Fn(usize) -> i64,
    len: usize,
    mint: i64,
    maxt: i64,
) -> std::ops::Range<usize> {
    if len == 0 {
        return 0..0;
    }
    // A storage usually returns just the window: check its ends first.
    let lo = if ts(0) > mint {
        0
    } else {
        partition(len, |i| ts(i) <= mint)
    };
    let hi = if ts(len - 1) <= maxt {
        len
    } else {
        partition(len, |i| ts(i) <= maxt)
    };
    lo..hi.max(lo)
}

fn partition(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Which sample is the latest at or before `r` and after `r - lookback`
/// (`(true, i)` for histogram `i`), unless it is a stale marker.
pub(crate) fn lookup_index(
    floats: &[FPoint],
    hists: &[HPoint],
    r: i64,
    lookback: i64,
) -> Option<(bool, usize)> {
    let fi = floats.partition_point(|p| p.t <= r);
    let hi = hists.partition_point(|p| p.t <= r);
    pick_latest(floats, hists, fi, hi, r, lookback)
}

/// [`lookup_index`] for read times that never decrease (the steps of one
/// series): each search starts where the last one ended.
pub(crate) struct LatestIndex<'a> {
    floats: &'a [FPoint],
    hists: &'a [HPoint],
    /// `floats[..f]` are at or before the last read time; `hists[..h]` too.
    f: usize,
    h: usize,
}

impl<'a> LatestIndex<'a> {
    pub(crate) fn new(floats: &'a [FPoint], hists: &'a [HPoint]) -> Self {
        Self {
            floats,
            hists,
            f: 0,
            h: 0,
        }
    }

    /// `lookup_index(floats, hists, r, lookback)`, for `r` at or after the
    /// previous call's.
    #[inline]
    pub(crate) fn at(&mut self, r: i64, lookback: i64) -> Option<(bool, usize)> {
        self.f += self.floats[self.f..]
            .iter()
            .take_while(|p| p.t <= r)
            .count();
        self.h += self.hists[self.h..].iter().take_while(|p| p.t <= r).count();
        pick_latest(self.floats, self.hists, self.f, self.h, r, lookback)
    }
}

/// Of `floats[..f]` and `hists[..h]` (the samples at or before `r`), which
/// is the latest, if it is after `r - lookback` and not a stale marker.
#[inline]
fn pick_latest(
    floats: &[FPoint],
    hists: &[HPoint],
    f: usize,
    h: usize,
    r: i64,
    lookback: i64,
) -> Option<(bool, usize)> {
    let (is_hist, i, t) = match (f.checked_sub(1), h.checked_sub(1)) {
        (Some(f), Some(h)) if hists[h].t > floats[f].t => (true, h, hists[h].t),
        (Some(f), _) => (false, f, floats[f].t),
        (None, Some(h)) => (true, h, hists[h].t),
        (None, None) => return None,
    };
    if t <= r.saturating_sub(lookback) {
        return None;
    }
    let stale = if is_hist {
        is_stale_hist(&hists[i].h)
    } else {
        is_stale_nan(floats[i].v)
    };
    (!stale).then_some((is_hist, i))
}

/// The latest sample at or before `r` and after `r - lookback`, unless it is a
/// stale marker: its timestamp, float value and histogram.
pub(crate) fn lookup(
    floats: &[FPoint],
    hists: &[HPoint],
    r: i64,
    lookback: i64,
) -> Option<(i64, f64, Option<Arc<FloatHistogram>>)> {
    match lookup_index(floats, hists, r, lookback)? {
        (true, i) => Some((hists[i].t, 0.0, Some(hists[i].h.clone()))),
        (false, i) => Some((floats[i].t, floats[i].v, None)),
    }
}

/// The points with `mint < t <= maxt`.
pub(crate) fn window(points: &[FPoint], mint: i64, maxt: i64) -> &[FPoint] {
    let lo = points.partition_point(|p| p.t <= mint);
    let hi = points.partition_point(|p| p.t <= maxt);
    &points[lo..hi.max(lo)]
}

/// The histogram points with `mint < t <= maxt`.
pub(crate) fn window_h(points: &[HPoint], mint: i64, maxt: i64) -> &[HPoint] {
    let lo = points.partition_point(|p| p.t <= mint);
    let hi = points.partition_point(|p| p.t <= maxt);
    &points[lo..hi.max(lo)]
}

/// Linear interpolation between two points; for counters a drop is treated
/// as a reset from zero.
pub(crate) fn interpolate(p1: FPoint, p2: FPoint, t: i64, is_counter: bool) -> f64 {
    let mut y1 = p1.v;
    let y2 = p2.v;
    if is_counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t as f64 - p1.t as f64) / (p2.t as f64 - p1.t as f64)
}

/// Index of the last sample at or before `range_start` (or 0), among the
/// first `last` samples.
pub(crate) fn first_index(floats: &[FPoint], last: usize, range_start: i64) -> usize {
    let n = floats[..last].partition_point(|p| p.t <= range_start);
    n.saturating_sub(1)
}

/// The value at the left boundary, interpolated when smoothed.
pub(crate) fn left_value(
    floats: &[FPoint],
    first: usize,
    range_start: i64,
    smoothed: bool,
    is_counter: bool,
) -> f64 {
    if smoothed && floats[first].t < range_start && first + 1 < floats.len() {
        return interpolate(floats[first], floats[first + 1], range_start, is_counter);
    }
    floats[first].v
}

/// The value at the right boundary, interpolated when smoothed.
pub(crate) fn right_value(
    floats: &[FPoint],
    last: usize,
    range_end: i64,
    smoothed: bool,
    is_counter: bool,
) -> f64 {
    if smoothed && last > 0 && floats[last].t > range_end {
        return interpolate(floats[last - 1], floats[last], range_end, is_counter);
    }
    floats[last].v
}

/// The anchored/smoothed view of a range: boundary points at `mint` and
/// `maxt` plus the samples strictly inside.
pub(crate) fn extend_floats(
    floats: &[FPoint],
    mint: i64,
    maxt: i64,
    smoothed: bool,
) -> Vec<FPoint> {
    let Some(mut last) = floats.len().checked_sub(1) else {
        return Vec::new();
    };
    let mut first = first_index(floats, last, mint);
    if smoothed {
        last = floats[..last].partition_point(|p| p.t < maxt);
    }
    if floats[last].t <= mint {
        return Vec::new();
    }
    let left = left_value(floats, first, mint, smoothed, false);
    let right = right_value(floats, last, maxt, smoothed, false);
    if floats[first].t <= mint {
        first += 1;
    }
    let mut last_incl = last as i64;
    if floats[last].t >= maxt {
        last_incl -= 1;
    }
    let mut out = Vec::with_capacity(floats.len() + 2);
    out.push(FPoint { t: mint, v: left });
    if last_incl >= first as i64 {
        out.extend_from_slice(&floats[first..=last_incl as usize]);
    }
    out.push(FPoint { t: maxt, v: right });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineOptions;
    use crate::engine::eval::Shared;
    use crate::storage::MemoryStorage;

    proptest::proptest! {
        /// The forward-only cursor picks what a search per step picks, over
        /// floats and histograms interleaved (stale markers included).
        #[test]
        fn latest_index_equals_lookup_index(
            samples in proptest::collection::vec((1i64..30, 0u8..6), 0..60),
            first_read in -20i64..100,
            gaps in proptest::collection::vec(0i64..40, 0..40),
            lookback in 1i64..50,
        ) {
            let (mut floats, mut hists) = (Vec::new(), Vec::new());
            let mut t = 0;
            for &(gap, kind) in &samples {
                t += gap;
                match kind {
                    0 => floats.push(FPoint { t, v: crate::model::stale_nan() }),
                    1 => {
                        let h = FloatHistogram { sum: crate::model::stale_nan(), ..FloatHistogram::default() };
                        hists.push(HPoint { t, h: Arc::new(h) });
                    }
                    2 => hists.push(HPoint { t, h: Arc::new(FloatHistogram::default()) }),
                    _ => floats.push(FPoint { t, v: f64::from(kind) }),
                }
            }
            let mut cursor = LatestIndex::new(&floats, &hists);
            let mut r = first_read;
            for gap in gaps {
                proptest::prop_assert_eq!(
                    cursor.at(r, lookback),
                    lookup_index(&floats, &hists, r, lookback),
                    "read time {}", r
                );
                r += gap;
            }
        }

        /// Where `plain_steps` answers, it gives the windows of saturating
        /// arithmetic, step for step; near the ends of `i64` it declines.
        #[test]
        fn plain_steps_equal_saturating_steps(
            start in proptest::prop_oneof![
                -1_000_000i64..1_000_000,
                i64::MIN..i64::MIN + 1_000_000,
                i64::MAX - 1_000_000..i64::MAX,
            ],
            steps in 0i64..50,
            interval in 1i64..100_000,
            offset in proptest::prop_oneof![-1_000_000i64..1_000_000, proptest::num::i64::ANY],
            back in proptest::prop_oneof![0i64..1_000_000, 0i64..i64::MAX],
            at in proptest::option::weighted(0.1, proptest::num::i64::ANY),
        ) {
            let storage = MemoryStorage::new();
            let opts = EngineOptions::default();
            let shared = Shared::new(&storage, &opts);
            let end = start.saturating_add(steps.saturating_mul(interval));
            let ev = Ev::new(&shared, start, end, interval);
            let saturating: Vec<(i64, i64, i64)> = ev
                .steps()
                .map(|ts| {
                    let read = at.unwrap_or(ts).saturating_sub(offset);
                    (ts, read, read.saturating_sub(back))
                })
                .collect();
            if let Some(plain) = ev.plain_steps(at, offset, back) {
                proptest::prop_assert!(at.is_none());
                proptest::prop_assert_eq!(plain.collect::<Vec<_>>(), saturating);
            } else {
                // Declined only for `@` or where a sum saturates.
                let exact = saturating.iter().all(|&(ts, read, floor)| {
                    ts.checked_sub(offset) == Some(read) && read.checked_sub(back) == Some(floor)
                });
                proptest::prop_assert!(at.is_some() || !exact || saturating.is_empty());
            }
        }

        /// On a step grid, copying out runs of samples at the steps'
        /// interval or a fraction of it gives what the per-step cursor
        /// gives: mostly regular samples (long runs, to reach the blocks of
        /// eight), with stale markers, gaps shorter and longer than the
        /// spacing, and duplicate steps of one sample.
        #[test]
        fn grid_steps_equal_the_cursor(
            gaps in proptest::collection::vec(
                (proptest::prop_oneof![4 => proptest::strategy::Just(0i64), 1 => -14i64..40], 0u8..40),
                0..200,
            ),
            spacing in 1i64..30,
            stride in proptest::prop_oneof![2 => proptest::strategy::Just(1i64), 1 => 2i64..5],
            first in -100i64..400,
            count in 0usize..140,
            offset in -40i64..40,
            back in 0i64..200,
        ) {
            let interval = spacing * stride;
            let mut t = 0;
            let floats: Vec<FPoint> = gaps
                .iter()
                .map(|&(extra, kind)| {
                    // `extra` 0 is a gap of exactly the spacing.
                    t += (spacing + extra).max(1);
                    let v = if kind == 0 { crate::model::stale_nan() } else { f64::from(kind) };
                    FPoint { t, v }
                })
                .collect();
            let grid = StepGrid { first, interval, count, offset, back };
            let mut want: Vec<FPoint> = Vec::new();
            latest_at_steps(&floats, grid.iter(), &mut want);
            let mut got: Vec<FPoint> = Vec::new();
            latest_at_grid_steps(&floats, grid, &mut got);
            proptest::prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                proptest::prop_assert!(g.t == w.t && g.v.to_bits() == w.v.to_bits(), "{g:?} {w:?}");
            }
        }

        /// The cursor of `latest_at_steps` finds, at every step, what a
        /// search of all samples finds: the last sample at or before the
        /// read time, kept when it is after the floor and not stale.
        #[test]
        fn latest_at_steps_equals_a_search_per_step(
            gaps in proptest::collection::vec((1i64..40, 0u8..8), 0..40),
            first_read in -50i64..200,
            interval in 1i64..30,
            count in 0usize..40,
            back in 0i64..60,
            // Repeated read times, as `@` gives.
            repeat in proptest::bool::weighted(0.2),
        ) {
            let mut t = 0;
            let floats: Vec<FPoint> = gaps
                .iter()
                .map(|&(gap, kind)| {
                    t += gap;
                    let v = if kind == 0 { crate::model::stale_nan() } else { f64::from(kind) };
                    FPoint { t, v }
                })
                .collect();
            let reads: Vec<i64> = (0..count as i64)
                .map(|i| if repeat { first_read } else { first_read + i * interval })
                .collect();
            let steps = reads.iter().enumerate().map(|(i, &r)| (i as i64, r, r - back));
            let mut got: Vec<FPoint> = Vec::new();
            latest_at_steps(&floats, steps, &mut got);
            let want: Vec<FPoint> = reads
                .iter()
                .enumerate()
                .filter_map(|(i, &read)| {
                    let p = floats.iter().rev().find(|p| p.t <= read)?;
                    (p.t > read - back && !is_stale_nan(p.v)).then_some(FPoint { t: i as i64, v: p.v })
                })
                .collect();
            proptest::prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                proptest::prop_assert!(g.t == w.t && g.v.to_bits() == w.v.to_bits());
            }
            // Each step alone, by bisection, finds what the cursor found.
            let mut one: Vec<FPoint> = Vec::new();
            for (i, &read) in reads.iter().enumerate() {
                latest_at_one_step(&floats, i as i64, read, read - back, &mut one);
            }
            proptest::prop_assert_eq!(one.len(), want.len());
            for (g, w) in one.iter().zip(&want) {
                proptest::prop_assert!(g.t == w.t && g.v.to_bits() == w.v.to_bits());
            }
        }
    }
}
