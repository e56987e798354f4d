//! Native-histogram operations as the evaluator applies them: the math lives
//! in [`crate::model::histogram`]; this module turns its outcomes and errors
//! into Prometheus' annotations.

use super::annotations::go_quote;
use super::eval::Ev;
use crate::model::FloatHistogram;
use crate::model::histogram::{AddOutcome, HistogramError};
use crate::parser::Span;

/// Which operation an outcome annotation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HistOp {
    Add,
    Sub,
    Agg,
}

impl HistOp {
    fn as_str(self) -> &'static str {
        match self {
            HistOp::Add => "addition",
            HistOp::Sub => "subtraction",
            HistOp::Agg => "aggregation",
        }
    }
}

/// Warning: exponential and custom-bucket histograms were combined.
pub(crate) fn warn_mixed_schemas(ev: &Ev<'_, '_>, metric: &str, span: Span) {
    ev.warn(
        format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {}",
            go_quote(metric)
        ),
        span,
    );
}

/// Info: custom-bucket histograms with different bounds were reconciled.
pub(crate) fn info_reconciled(ev: &Ev<'_, '_>, op: HistOp, span: Span) {
    ev.info(
        format!(
            "mismatched custom buckets were reconciled during {}",
            op.as_str()
        ),
        span,
    );
}

/// Warning: a `CounterReset` and a `NotCounterReset` histogram were combined.
pub(crate) fn warn_reset_collision(ev: &Ev<'_, '_>, op: HistOp, span: Span) {
    ev.warn(
        format!(
            "conflicting counter resets during histogram {}",
            op.as_str()
        ),
        span,
    );
}

/// Warning: a counter function got a gauge histogram.
pub(crate) fn warn_not_counter(ev: &Ev<'_, '_>, metric: &str, span: Span) {
    ev.warn(
        format!(
            "this native histogram metric is not a counter: {}",
            go_quote(metric)
        ),
        span,
    );
}

/// Warning: a gauge function got a counter histogram.
pub(crate) fn warn_not_gauge(ev: &Ev<'_, '_>, metric: &str, span: Span) {
    ev.warn(
        format!(
            "this native histogram metric is not a gauge: {}",
            go_quote(metric)
        ),
        span,
    );
}

/// Reports what an addition or subtraction noticed, as the rate family
/// does (reconciled bounds only; counter-reset collisions are expected there).
pub(crate) fn note_outcome(ev: &Ev<'_, '_>, outcome: AddOutcome, op: HistOp, span: Span) {
    if outcome.custom_bounds_reconciled {
        info_reconciled(ev, op, span);
    }
}

/// Reports an error of an addition or subtraction: only mixing schemas has
/// an annotation.
pub(crate) fn note_error(ev: &Ev<'_, '_>, err: HistogramError, metric: &str, span: Span) {
    if err == HistogramError::MixedSchemas {
        warn_mixed_schemas(ev, metric, span);
    }
}

/// `base += other`, annotated; false if the histograms cannot be combined.
pub(crate) fn add_annotated(
    ev: &Ev<'_, '_>,
    base: &mut FloatHistogram,
    other: &FloatHistogram,
    metric: &str,
    span: Span,
) -> bool {
    match base.add(other) {
        Ok(o) => {
            note_outcome(ev, o, HistOp::Add, span);
            true
        }
        Err(e) => {
            note_error(ev, e, metric, span);
            false
        }
    }
}

/// `base -= other`, annotated; false if the histograms cannot be combined.
pub(crate) fn sub_annotated(
    ev: &Ev<'_, '_>,
    base: &mut FloatHistogram,
    other: &FloatHistogram,
    metric: &str,
    span: Span,
) -> bool {
    match base.sub(other) {
        Ok(o) => {
            note_outcome(ev, o, HistOp::Sub, span);
            true
        }
        Err(e) => {
            note_error(ev, e, metric, span);
            false
        }
    }
}
