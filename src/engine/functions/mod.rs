//! Function calls: dispatch to instant-vector kernels, range-vector kernels
//! and the series-level functions (`label_replace`, `label_join`, `info`).

mod extrapolation;
mod hist_range;
mod histogram;
mod info;
mod instant;
mod label;
mod range;
mod range_fn;
mod reset_marks;
mod sliding_extreme;
mod sort;

pub(crate) use hist_range::{HintTracker, interpolate_hist};

use super::EvalError;
use super::eval::Ev;
use super::plan::{CallN, Node};
use super::types::{ESample, Matrix};
use crate::model::Labels;

/// Evaluates a function call over all steps.
pub(crate) fn eval_call(ev: &Ev<'_, '_>, c: &CallN) -> Result<Matrix, EvalError> {
    let name = c.func.name;
    let n = c.args.len();
    if n < c.func.min_args() || c.func.max_args().is_some_and(|max| n > max) {
        return Err(EvalError::BadQuery(format!(
            "wrong number of arguments for function {name}(): {n}"
        )));
    }
    match name {
        "label_replace" => return label::label_replace(ev, c),
        "label_join" => return label::label_join(ev, c),
        "info" => return info::eval_info(ev, c),
        "timestamp" => {
            if let Some(Node::Selector(sel)) = c.args.first() {
                return instant::timestamp_of_selector(ev, sel);
            }
        }
        "start_timestamp" => {
            return match c.args.first() {
                Some(Node::Selector(sel)) => instant::start_timestamp_of_selector(ev, sel),
                // Start timestamps do not survive expressions.
                _ => Ok(Vec::new()),
            };
        }
        _ => {}
    }
    if let Some(i) = c
        .args
        .iter()
        .position(|a| matches!(a, Node::Matrix(_) | Node::Subquery(_)))
    {
        return range::eval_range_call(ev, c, i);
    }
    if matches!(
        name,
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
    ) && !ev.is_instant()
    {
        ev.warn(
            "sort is ineffective for range queries since results are always ordered by labels"
                .into(),
            c.span,
        );
    }
    let mut inputs = Vec::new();
    let mut strings = Vec::new();
    for a in &c.args {
        match a {
            Node::Str(s, _) => strings.push(s.clone()),
            other => inputs.push(ev.eval_matrix(other)?),
        }
    }
    let mut state = instant::CallState::default();
    ev.range_eval(inputs, |v, series, ts| {
        instant::call(ev, c, v, series, &mut state, &strings, ts)
    })
}

/// The labels `absent()` and `absent_over_time()` give their result: the
/// equality matchers of a selector argument (each name only once).
pub(crate) fn absent_labels(arg: &Node) -> Labels {
    let matchers = match arg {
        Node::Selector(s) => &s.matchers,
        Node::Matrix(m) => &m.sel.matchers,
        _ => return Labels::empty(),
    };
    let mut b = Labels::empty().builder();
    let mut has = std::collections::HashSet::new();
    for m in matchers {
        if m.name == crate::model::METRIC_NAME {
            continue;
        }
        if m.op == crate::model::MatchOp::Equal && !has.contains(&m.name) {
            b.set_mut(m.name.as_str(), m.value.as_str());
            has.insert(m.name.clone());
        } else {
            b.remove_mut(&m.name);
        }
    }
    b.build()
}

/// A float sample without labels.
pub(crate) fn bare(f: f64) -> ESample {
    ESample::float(Labels::empty(), f)
}

/// The metric name of a series, or "".
pub(crate) fn metric_name(l: &Labels) -> &str {
    l.metric_name().unwrap_or("")
}
