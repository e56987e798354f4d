//! Function calls: dispatch to instant-vector kernels, range-vector kernels
//! and the series-level functions (`label_replace`, `label_join`, `info`).

mod bucket_steps;
mod calendar;
mod extrapolation;
mod hist_range;
mod histogram;
mod info;
mod instant;
mod label;
mod lanes;
mod range;
mod range_fn;
mod regression;
mod reset_marks;
mod sliding_count;
mod sliding_extreme;
mod sort;

pub(crate) use hist_range::{HintTracker, interpolate_hist};

use super::EvalError;
use super::eval::Ev;
use super::grouping::{KeptRuns, KeyLabels};
use super::plan::{CallN, Node};
use super::pointwise::{StepGrid, map_points};
use super::types::{self, ESample, ESeries, Matrix, Points};
use crate::model::{FPoint, Labels};

/// Evaluates a function call over all steps.
pub(crate) fn eval_call(ev: &Ev<'_, '_>, c: &CallN) -> Result<Matrix, EvalError> {
    check_arity(c)?;
    let name = c.func.name;
    match name {
        "label_replace" => return label::label_replace(ev, c),
        "label_join" => return label::label_join(ev, c),
        "info" => return info::eval_info(ev, c),
        "timestamp" => {
            if let Some(Node::Selector(sel)) = c.args.first() {
                return instant::timestamp_of_selector(ev, sel);
            }
        }
        // `vector(1)`: the number's own series (one sample per step, no
        // labels) is the result; counting the number and then its copy
        // would hold twice the samples (Prometheus evaluates the constant
        // once).
        "vector" => {
            if let Some(number @ Node::Number(..)) = c.args.first() {
                return ev.eval_matrix(number);
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
    if let Some(i) = range_arg(c) {
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
        if let Some(arg) = c.args.first() {
            return sort_over_steps(ev, name, arg);
        }
    }
    if name == "absent"
        && !ev.is_instant()
        && let Some(arg) = c.args.first()
    {
        let m = ev.eval_matrix(arg)?;
        return absent_over_steps(ev, arg, &m);
    }
    let mut inputs = Vec::new();
    let mut strings = Vec::new();
    for a in &c.args {
        match a {
            Node::Str(s, _) => strings.push(s.clone()),
            other => inputs.push(ev.eval_matrix(other)?),
        }
    }
    if let Some((vector, scalars)) = inputs.split_first_mut() {
        let scalars: Vec<&Matrix> = scalars.iter().collect();
        if let Some(result) = by_series(ev, name, vector, &scalars) {
            return result;
        }
    }
    if let Some(func) = bucket_steps::BucketFn::from_name(name)
        && let Some(result) = bucket_steps::over_steps(ev, c, func, &inputs)
    {
        return result;
    }
    let mut state = instant::CallState::default();
    ev.range_eval(inputs, |v, series, ts| {
        instant::call(ev, c, v, series, &mut state, &strings, ts)
    })
}

/// [`eval_call`], also recording the `key` labels of every result series
/// where a range function makes its series one by one from a selector's
/// (see [`KeptRuns`]): `None` for other calls.
pub(crate) fn eval_call_keyed(
    ev: &Ev<'_, '_>,
    c: &CallN,
    key: KeyLabels<'_>,
) -> Result<(Matrix, Option<KeptRuns>), EvalError> {
    check_arity(c)?;
    match range_arg(c) {
        Some(i) => range::eval_range_call_keyed(ev, c, i, Some(key)),
        None => Ok((eval_call(ev, c)?, None)),
    }
}

fn check_arity(c: &CallN) -> Result<(), EvalError> {
    let n = c.args.len();
    if n < c.func.min_args() || c.func.max_args().is_some_and(|max| n > max) {
        return Err(EvalError::BadQuery(format!(
            "wrong number of arguments for function {}(): {n}",
            c.func.name
        )));
    }
    Ok(())
}

/// The position of a call's range-vector argument, if it has one.
fn range_arg(c: &CallN) -> Option<usize> {
    c.args
        .iter()
        .position(|a| matches!(a, Node::Matrix(_) | Node::Subquery(_)))
}

/// An element-wise function, or `timestamp` of a computed vector (each
/// point's step time is its value), evaluated series by series: `None`
/// for other functions and where the step loop must do it (see
/// [`map_points`]).
fn by_series(
    ev: &Ev<'_, '_>,
    name: &str,
    vector: &mut Matrix,
    scalars: &[&Matrix],
) -> Option<Result<Matrix, EvalError>> {
    if name == "timestamp" {
        return map_points(ev, vector, scalars, true, |p, _| Some(p.t as f64 / 1000.0));
    }
    let f = instant::elementwise(name)?;
    map_points(ev, vector, scalars, true, |p, args| f(p.v, args))
}

/// A sort function over more than one step: the order of a vector means
/// nothing in a matrix, so the argument is the result, less the histogram
/// samples `sort` and `sort_desc` leave out at every step.
fn sort_over_steps(ev: &Ev<'_, '_>, name: &str, arg: &Node) -> Result<Matrix, EvalError> {
    let mut m = ev.eval_matrix(arg)?;
    if matches!(name, "sort" | "sort_desc") {
        for s in &mut m {
            // Counted when the argument was evaluated.
            ev.sub_samples(s.hists.iter().map(|p| types::hist_samples(&p.h)).sum());
            s.hists = types::HistPoints::default();
        }
        m.retain(|s| !s.floats.is_empty());
    }
    Ok(m)
}

/// `absent` over more than one step: a point at every step at which the
/// evaluated argument `m` has none, found from each series' point times
/// instead of gathering every sample at every step (the accounting is the
/// step loop's).
fn absent_over_steps(ev: &Ev<'_, '_>, arg: &Node, m: &Matrix) -> Result<Matrix, EvalError> {
    let grid = StepGrid::new(ev);
    let mut gathered = vec![0usize; grid.count];
    for s in m {
        let mut cursor = grid.cursor();
        for p in s.floats.iter() {
            if let Some(k) = cursor.index(&grid, p.t) {
                gathered[k] += 1;
            }
        }
        let mut cursor = grid.cursor();
        for p in &s.hists {
            if let Some(k) = cursor.index(&grid, p.t) {
                gathered[k] += types::hist_samples(&p.h);
            }
        }
    }
    let produced: Vec<usize> = gathered.iter().map(|&g| usize::from(g == 0)).collect();
    ev.account_steps(m.iter(), &gathered, &produced)?;
    let points: Vec<FPoint> = ev
        .steps()
        .zip(&produced)
        .filter(|(_, absent)| **absent == 1)
        .map(|(t, _)| FPoint { t, v: 1.0 })
        .collect();
    if points.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = ESeries::new(absent_labels(arg), false);
    out.floats = Points::from_vec(points);
    Ok(vec![out])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pointwise::testing::{cases, plan, run_both};
    use proptest::prelude::*;

    /// Element-wise calls and how many scalar arguments follow the vector
    /// (the test supplies them; the numbers in the text only type-check).
    const CALLS: [(&str, usize); 18] = [
        ("abs(x)", 0),
        ("hour(x)", 0),
        ("day_of_week(x)", 0),
        ("days_in_month(x)", 0),
        ("sgn(x)", 0),
        ("ln(x)", 0),
        ("sqrt(x)", 0),
        ("exp(x)", 0),
        ("floor(x)", 0),
        ("deg(x)", 0),
        ("atanh(x)", 0),
        ("round(x)", 0),
        ("round(x, 1)", 1),
        ("clamp(x, 0, 1)", 2),
        ("clamp_min(x, 0)", 1),
        ("clamp_max(x, 0)", 1),
        ("log2(x)", 0),
        ("timestamp(x)", 0),
    ];

    #[test]
    fn date_functions_read_values_as_seconds() {
        let part = |name: &str, x: f64| instant::elementwise(name).expect(name)(x, &[]);
        // 2023-11-14T22:13:20Z, a Tuesday in a 30-day month.
        let t = 1_700_000_000.0;
        assert_eq!(part("day_of_week", t), Some(2.0));
        assert_eq!(part("hour", t), Some(22.0));
        assert_eq!(part("minute", t + 59.9), Some(14.0));
        assert_eq!(part("days_in_month", t), Some(30.0));
        assert_eq!(part("year", -1.0), Some(1969.0));
        assert_eq!(part("day_of_year", -1.0), Some(365.0));
        // Beyond the years chrono represents (Prometheus 2.42 gives the same).
        assert_eq!(part("year", 1e16), Some(316_889_355.0));
    }

    #[test]
    fn clamp_drops_samples_only_for_an_empty_range() {
        let clamp = instant::elementwise("clamp").expect("clamp is element-wise");
        assert_eq!(clamp(5.0, &[0.0, 1.0]), Some(1.0));
        assert_eq!(clamp(5.0, &[2.0, 1.0]), None);
        // A NaN bound makes no empty range: the sample stays (as NaN).
        let clamp_min = instant::elementwise("clamp_min").expect("clamp_min is element-wise");
        assert!(clamp_min(5.0, &[f64::NAN]).is_some_and(f64::is_nan));
        assert!(clamp(5.0, &[f64::NAN, 1.0]).is_some());
    }

    proptest! {
        /// Where an element-wise function is evaluated series by series,
        /// it gives what the step loop gives: results, their order, errors
        /// and sample counters.
        #[test]
        fn elementwise_by_series_equals_the_step_loop(which in 0..CALLS.len(), case in cases(2)) {
            let (query, n) = CALLS[which];
            let Node::Call(c) = plan(query) else {
                panic!("{query} is not a call");
            };
            let scalars: Vec<&Matrix> = case.scalars[..n].iter().collect();
            let fast = |ev: &Ev<'_, '_>| {
                let mut taken = case.vector.clone();
                let result = by_series(ev, c.func.name, &mut taken, &scalars);
                // Left to the step loop, the input is as it was.
                assert!(result.is_some() || format!("{taken:?}") == format!("{:?}", case.vector));
                result
            };
            let slow = |ev: &Ev<'_, '_>| {
                let mut inputs = vec![case.vector.clone()];
                inputs.extend(scalars.iter().map(|m| (*m).clone()));
                let mut state = instant::CallState::default();
                ev.range_eval(inputs, |v, series, ts| {
                    instant::call(ev, &c, v, series, &mut state, &[], ts)
                })
            };
            if let Some((fast, slow)) = run_both(&case, fast, slow) {
                prop_assert_eq!(fast, slow);
            }
        }

        /// `absent` over the steps gives what the step loop gives (results,
        /// errors, sample counters), from the series' point times alone.
        #[test]
        fn absent_over_steps_equals_the_step_loop(case in cases(0)) {
            let Node::Call(c) = plan("absent(x{a=\"b\"})") else {
                panic!("a call");
            };
            let fast = |ev: &Ev<'_, '_>| {
                (!ev.is_instant()).then(|| absent_over_steps(ev, &c.args[0], &case.vector))
            };
            let slow = |ev: &Ev<'_, '_>| {
                let mut state = instant::CallState::default();
                ev.range_eval(vec![case.vector.clone()], |v, series, ts| {
                    instant::call(ev, &c, v, series, &mut state, &[], ts)
                })
            };
            if let Some((fast, slow)) = run_both(&case, fast, slow) {
                prop_assert_eq!(fast, slow);
            }
        }
    }
}
