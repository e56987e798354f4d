//! Range-vector kernels on native histograms: the rate family (extrapolated,
//! anchored and smoothed), `irate`/`idelta`, and `sum_over_time` /
//! `avg_over_time`.

use std::sync::Arc;

use super::extrapolation::{extrapolation_factor, zero_ratio};
use super::range::{Out, Window, first_start_timestamp, start_time_overlap, start_timestamp_reset};
use crate::engine::eval::Ev;
use crate::engine::histops::{
    HistOp, add_annotated, info_reconciled, note_error, sub_annotated, warn_mixed_schemas,
    warn_not_counter, warn_not_gauge, warn_reset_collision,
};
use crate::model::histogram::rate::{self, RateNotes};
use crate::model::histogram::{HistogramError, HistogramMean, HistogramSum};
use crate::model::{CounterResetHint as Hint, FloatHistogram, HPoint};
use crate::parser::Span;

/// The histogram between `p1` and `p2` at `t`, linearly interpolated; for
/// counters, a reset between them is modelled as a counter starting from
/// zero. Reconciled custom bounds are reported.
pub(crate) fn interpolate_hist(
    ev: &Ev<'_, '_>,
    p1: &HPoint,
    p2: &HPoint,
    t: i64,
    is_counter: bool,
    span: Span,
) -> Result<FloatHistogram, HistogramError> {
    let (h, notes) = rate::interpolate(&p1.h, p1.t, &p2.h, p2.t, t, is_counter)?;
    report_notes(ev, notes, "", span);
    Ok(h)
}

/// Turns what a rate helper noticed into annotations.
fn report_notes(ev: &Ev<'_, '_>, notes: RateNotes, metric: &str, span: Span) {
    if notes.not_counter {
        warn_not_counter(ev, metric, span);
    }
    if notes.not_gauge {
        warn_not_gauge(ev, metric, span);
    }
    if notes.mixed_schemas {
        warn_mixed_schemas(ev, metric, span);
    }
    if notes.reconciled_in_sub {
        info_reconciled(ev, HistOp::Sub, span);
    }
    if notes.reconciled_in_add {
        info_reconciled(ev, HistOp::Add, span);
    }
}

/// `rate`, `increase` and `delta` over histogram samples (no float in the
/// window): the difference with counter resets corrected, before
/// extrapolation. `None` (with an annotation) when the samples cannot be
/// combined.
fn histogram_rate(
    ev: &Ev<'_, '_>,
    w: &Window<'_>,
    sts: &[i64],
    is_counter: bool,
) -> Option<FloatHistogram> {
    let points = w.hists;
    let hists: Vec<&FloatHistogram> = points.iter().map(|p| &*p.h).collect();
    let st_reset = |i: usize| {
        i >= 1
            && i < sts.len()
            && start_timestamp_reset(sts[i - 1], points[i - 1].t, sts[i], points[i].t)
    };
    let (result, notes) = rate::increase(&hists, is_counter, st_reset);
    report_notes(ev, notes, w.name, w.span);
    if result.is_some() && is_counter {
        // Start times overlapping the previous sample are reported once.
        let overlap = points.windows(2).enumerate().any(|(i, pair)| {
            i + 1 < sts.len() && start_time_overlap(sts[i], pair[0].t, sts[i + 1])
        });
        if overlap {
            ev.sh.annos.borrow_mut().start_time_overlap(w.name, w.span);
        }
    }
    result
}

/// `rate`/`increase`/`delta` with extrapolation over a window of histograms.
pub(crate) fn extrapolated_hist_rate(
    ev: &Ev<'_, '_>,
    w: &Window<'_>,
    is_counter: bool,
    is_rate: bool,
) -> Out {
    let h = w.hists;
    let Some(n1) = h.len().checked_sub(1) else {
        return Out::None;
    };
    let sts: &[i64] = if is_counter && w.hist_sts.len() == h.len() {
        w.hist_sts
    } else {
        &[]
    };
    let mut result = None;
    if n1 > 0 {
        match histogram_rate(ev, w, sts, is_counter) {
            Some(r) => result = Some(r),
            None => return Out::None,
        }
    }
    let (first_t, last_t) = (h[0].t, h[n1].t);
    let st0 = first_start_timestamp(w, sts, first_t);
    if st0.is_some() {
        // A zero-valued histogram is assumed at the first sample's start time.
        match &mut result {
            None => result = Some((*h[0].h).clone()),
            Some(r) => {
                if !add_annotated(ev, r, &h[0].h, w.name, w.span) {
                    return Out::None;
                }
            }
        }
    } else if n1 == 0 {
        return Out::None;
    }
    let zero_ratio = result
        .as_ref()
        .and_then(|r| zero_ratio(h[0].h.count, r.count));
    let factor = extrapolation_factor(w, first_t, last_t, n1, st0, zero_ratio, is_counter, is_rate);
    match result {
        Some(mut r) => {
            r.mul(factor);
            Out::Hist(Arc::new(r))
        }
        None => Out::None,
    }
}

/// The counter-reset correction between the boundary histograms of an
/// anchored or smoothed window: the sum of the histograms just before each
/// reset. `Err` when histograms cannot be combined.
fn reset_correction(
    ev: &Ev<'_, '_>,
    w: &Window<'_>,
    first: usize,
    last: usize,
    left: &FloatHistogram,
    right: &FloatHistogram,
) -> Result<Option<FloatHistogram>, ()> {
    let h = w.hists;
    let mut from = first + 1;
    let mut prev: &FloatHistogram = left;
    if w.smoothed
        && h[first].t < w.range_start
        && let Some(next) = h.get(first + 1)
        && next.h.detect_reset(&h[first].h)
    {
        prev = &next.h;
        from += 1;
    }
    // The last sample is represented by `right`.
    if from > last {
        return Ok(None);
    }
    let mut correction: Option<FloatHistogram> = None;
    let mut add = |c: &FloatHistogram| -> Result<(), ()> {
        match &mut correction {
            None => {
                correction = Some(c.clone());
                Ok(())
            }
            Some(acc) => {
                if add_annotated(ev, acc, c, w.name, w.span) {
                    Ok(())
                } else {
                    Err(())
                }
            }
        }
    };
    for p in &h[from..last] {
        if p.h.detect_reset(prev) {
            add(prev)?;
        }
        prev = &p.h;
    }
    if right.detect_reset(prev) {
        add(prev)?;
    }
    Ok(correction)
}

/// `rate`/`increase`/`delta` over an anchored or smoothed window of
/// histograms.
pub(crate) fn extended_hist_rate(
    ev: &Ev<'_, '_>,
    w: &Window<'_>,
    is_counter: bool,
    is_rate: bool,
) -> Out {
    let h = w.hists;
    let Some(mut last) = h.len().checked_sub(1) else {
        return Out::None;
    };
    let first = h[..last]
        .partition_point(|p| p.t <= w.range_start)
        .saturating_sub(1);
    if w.smoothed {
        last = h[..last].partition_point(|p| p.t < w.range_end);
    }
    if h[last].t <= w.range_start || (w.smoothed && h[first].t > w.range_end) {
        return Out::None;
    }
    let custom = h[first].h.uses_custom_buckets();
    for p in &h[first..=last] {
        if p.h.uses_custom_buckets() != custom {
            warn_mixed_schemas(ev, w.name, w.span);
            return Out::None;
        }
        if is_counter && p.h.counter_reset_hint == Hint::Gauge {
            warn_not_counter(ev, w.name, w.span);
        }
    }
    let left = if w.smoothed && h[first].t < w.range_start && first + 1 < h.len() {
        interpolate_hist(
            ev,
            &h[first],
            &h[first + 1],
            w.range_start,
            is_counter,
            w.span,
        )
    } else {
        Ok((*h[first].h).clone())
    };
    let right = if w.smoothed && last > 0 && h[last].t > w.range_end {
        interpolate_hist(ev, &h[last - 1], &h[last], w.range_end, is_counter, w.span)
    } else {
        Ok((*h[last].h).clone())
    };
    let (left, right) = match (left, right) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) | (_, Err(e)) => {
            note_error(ev, e, w.name, w.span);
            return Out::None;
        }
    };
    if !is_counter
        && (left.counter_reset_hint != Hint::Gauge || right.counter_reset_hint != Hint::Gauge)
    {
        warn_not_gauge(ev, w.name, w.span);
    }
    let mut result = right.clone();
    if !sub_annotated(ev, &mut result, &left, w.name, w.span) {
        return Out::None;
    }
    if is_counter {
        match reset_correction(ev, w, first, last, &left, &right) {
            Err(()) => return Out::None,
            Ok(Some(c)) => {
                if !add_annotated(ev, &mut result, &c, w.name, w.span) {
                    return Out::None;
                }
            }
            Ok(None) => {}
        }
    }
    if is_rate {
        result.div(w.range as f64 / 1000.0);
    }
    result.counter_reset_hint = Hint::Gauge;
    result.compact(0);
    Out::Hist(Arc::new(result))
}

/// `irate`/`idelta` when the last two samples are histograms.
pub(crate) fn instant_hist_value(
    ev: &Ev<'_, '_>,
    w: &Window<'_>,
    p0: &HPoint,
    p1: &HPoint,
    st0: i64,
    st1: i64,
    is_rate: bool,
) -> Out {
    let interval = p1.t.saturating_sub(p0.t);
    if interval == 0 {
        return Out::None;
    }
    let st_reset = start_timestamp_reset(st0, p0.t, st1, p1.t);
    let (r, notes) = rate::instant_delta(&p0.h, &p1.h, is_rate, st_reset);
    report_notes(ev, notes, w.name, w.span);
    let Some(mut r) = r else {
        return Out::None;
    };
    if is_rate {
        r.div(interval as f64 / 1000.0);
    }
    Out::Hist(Arc::new(r))
}

/// Remembers which explicit counter-reset hints a sum has seen.
#[derive(Clone, Default)]
pub(crate) struct HintTracker {
    reset: bool,
    not_reset: bool,
}

impl HintTracker {
    pub(crate) fn see(&mut self, h: &FloatHistogram) {
        match h.counter_reset_hint {
            Hint::CounterReset => self.reset = true,
            Hint::NotCounterReset => self.not_reset = true,
            _ => {}
        }
    }

    pub(crate) fn collided(&self) -> bool {
        self.reset && self.not_reset
    }
}

/// `sum_over_time` (`avg == false`) or `avg_over_time` of a window holding
/// only histograms.
pub(crate) fn sum_avg_hists(ev: &Ev<'_, '_>, w: &Window<'_>, avg: bool) -> Out {
    let Some((first, rest)) = w.hists.split_first() else {
        return Out::None;
    };
    let mut hints = HintTracker::default();
    hints.see(&first.h);
    let mut reconciled = false;
    let mut sum = HistogramSum::new((*first.h).clone());
    let mut mean = HistogramMean::new((*first.h).clone());
    for p in rest {
        hints.see(&p.h);
        let r = if avg { mean.add(&p.h) } else { sum.add(&p.h) };
        match r {
            Ok(o) => reconciled |= o.custom_bounds_reconciled,
            Err(e) => {
                note_error(ev, e, w.name, w.span);
                return Out::None;
            }
        }
    }
    if hints.collided() {
        warn_reset_collision(ev, HistOp::Agg, w.span);
    }
    if reconciled {
        info_reconciled(ev, HistOp::Agg, w.span);
    }
    let h = if avg { mean.finish() } else { sum.finish() };
    Out::Hist(Arc::new(h))
}
