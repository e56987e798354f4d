//! `histogram_quantile` and `histogram_fraction` over classic bucket series
//! for all steps at once, group by group.
//!
//! The step loop gathers every bucket sample of a step into a vector,
//! groups the samples by their labels without `le`, sorts each group's
//! buckets and places each result in its output series by its labels. A
//! bucket series belongs to the same group, with the same upper bound, at
//! every step: here the groups are formed once, each group's members are
//! put in the order the sort would give them once, and each group is then
//! computed step after step from its members' points.
//!
//! Results, their order (by the step of their first point, then as the
//! step loop meets the groups at that step), annotations, the sample
//! accounting and the limits are those of the step loop, which still does
//! what this path declines: instant queries, native histograms, points off
//! the step grid and groups whose results could collide.

use super::histogram::{
    BoundParser, Bucket, QuantileResult, bucket_fraction, bucket_quantile, out_labels,
    validate_quantile, warn_malformed_le,
};
use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::grouping::group_by_kept_labels;
use crate::engine::plan::CallN;
use crate::engine::pointwise::StepGrid;
use crate::engine::types::{ESeries, Matrix, Points};
use crate::model::{FPoint, Labels};

/// One group of bucket series: the series that share their labels
/// without `le`.
struct Group {
    labels: Labels,
    /// `(upper bound, input series)`, in the order the buckets are sorted
    /// in (by bound, then input order), or in input order when a bound is
    /// NaN (whose place only the sort itself decides).
    members: Vec<(f64, usize)>,
}

/// The functions over classic buckets this path computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BucketFn {
    /// `histogram_quantile(q, buckets)`.
    Quantile,
    /// `histogram_fraction(lower, upper, buckets)`.
    Fraction,
}

impl BucketFn {
    /// The function called `name`, if this path computes it.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "histogram_quantile" => Some(BucketFn::Quantile),
            "histogram_fraction" => Some(BucketFn::Fraction),
            _ => None,
        }
    }
}

/// `func` for a range evaluation, from the evaluated arguments (the
/// scalars, then the buckets): `None` where the step loop must do it.
pub(crate) fn over_steps(
    ev: &Ev<'_, '_>,
    c: &CallN,
    func: BucketFn,
    inputs: &[Matrix],
) -> Option<Result<Matrix, EvalError>> {
    let (buckets, scalars) = inputs.split_last()?;
    if ev.is_instant()
        || ev.interval <= 0
        || scalars.len() != c.args.len() - 1
        || scalars.iter().any(|m| m.len() != 1)
        || inputs.iter().flatten().any(|s| !s.hists.is_empty())
    {
        return None;
    }
    let steps = StepGrid::new(ev);
    let vspan = c.args[scalars.len()].span();
    // Every input point, by step, as the step loop gathers them.
    let mut gathered = vec![0usize; steps.count];
    // The scalar arguments at each step, one row per step.
    let width = scalars.len();
    let mut table = vec![None; steps.count * width];
    for (j, m) in scalars.iter().enumerate() {
        for p in m.iter().flat_map(|s| s.floats.iter()) {
            let k = steps.index(p.t)?;
            table[k * width + j] = Some(p.v);
            gathered[k] += 1;
        }
    }
    // A step without its scalars gives nothing, and warns of nothing.
    let table: Vec<f64> = table.into_iter().collect::<Option<_>>()?;
    let mut first_step = Vec::with_capacity(buckets.len());
    for s in buckets {
        let mut cursor = steps.cursor();
        for p in s.floats.iter() {
            gathered[cursor.index(&steps, p.t)?] += 1;
        }
        first_step.push(s.floats.first().and_then(|p| steps.index(p.t)));
    }
    if func == BucketFn::Quantile {
        for &q in &table {
            validate_quantile(ev, q, c.args[0].span());
        }
    }
    let groups = group(ev, buckets, vspan)?;

    let mut produced = vec![0usize; steps.count];
    // (step of the first result, first member present then, result)
    let mut results: Vec<(usize, usize, ESeries)> = Vec::with_capacity(groups.len());
    let mut scratch: Vec<Bucket> = Vec::new();
    for g in &groups {
        if let Err(e) = ev.tick_by(g.members.len().saturating_mul(steps.count)) {
            return Some(Err(e));
        }
        let mut out = ESeries::new(out_labels(ev, &g.labels), true);
        // Each member's points not yet gathered.
        let mut rest: Vec<(f64, &[FPoint])> = g
            .members
            .iter()
            .map(|&(upper, i)| (upper, &buckets[i].floats[..]))
            .collect();
        let mut points: Vec<FPoint> = Vec::new();
        for (k, args) in table.chunks_exact(width).enumerate() {
            let ts = ev.start + k as i64 * ev.interval;
            scratch.clear();
            for (upper, member) in rest.iter_mut() {
                if let [p, after @ ..] = *member
                    && p.t == ts
                {
                    scratch.push(Bucket {
                        upper: *upper,
                        count: p.v,
                    });
                    *member = after;
                }
            }
            if scratch.is_empty() {
                continue;
            }
            let r = match func {
                BucketFn::Quantile => bucket_quantile(args[0], &mut scratch),
                BucketFn::Fraction => QuantileResult {
                    value: bucket_fraction(args[0], args[1], &mut scratch),
                    forced: None,
                },
            };
            r.note_forced(ev, &g.labels, vspan, ts);
            points.push(FPoint { t: ts, v: r.value });
            produced[k] += 1;
        }
        let Some(first) = points.first().and_then(|p| steps.index(p.t)) else {
            continue;
        };
        // The step loop meets the groups at a step in the order of their
        // first sample there.
        let leader = g
            .members
            .iter()
            .map(|&(_, i)| i)
            .filter(|&i| first_step[i] == Some(first))
            .min()
            .unwrap_or(usize::MAX);
        out.floats = Points::from_vec(points);
        results.push((first, leader, out));
    }
    if let Err(e) = ev.account_steps(inputs.iter().flatten(), &gathered, &produced) {
        return Some(Err(e));
    }
    results.sort_unstable_by_key(|&(step, leader, _)| (step, leader));
    Some(Ok(results.into_iter().map(|(_, _, s)| s).collect()))
}

/// The bucket series of `buckets` grouped by their labels without `le`,
/// in order of first appearance, warning of series whose `le` is missing
/// or malformed (which belong to no group); `None` when two groups would
/// give results with the same labels.
fn group(ev: &Ev<'_, '_>, buckets: &Matrix, span: crate::parser::Span) -> Option<Vec<Group>> {
    let (of_series, firsts) =
        group_by_kept_labels(buckets.iter().map(|s| &s.labels), |l| &*l.name != "le");
    let mut groups: Vec<Group> = firsts
        .iter()
        .map(|&i| Group {
            labels: buckets[i].labels.without(&["le"]),
            members: Vec::new(),
        })
        .collect();
    let mut bounds = BoundParser::default();
    for (i, (s, &g)) in buckets.iter().zip(&of_series).enumerate() {
        match bounds.bound(&s.labels) {
            Some(upper) => groups[g].members.push((upper, i)),
            None if !s.floats.is_empty() => warn_malformed_le(ev, &s.labels, span),
            None => {}
        }
    }
    // Series whose `le` does not parse belong to no group.
    groups.retain(|g| !g.members.is_empty());
    // Results of two groups with the same labels would collide where both
    // have points: the step loop reports that.
    let mut seen = std::collections::HashSet::with_capacity(groups.len());
    if !groups
        .iter()
        .all(|g| seen.insert(out_labels(ev, &g.labels)))
    {
        return None;
    }
    for g in &mut groups {
        if !g.members.iter().any(|m| m.0.is_nan()) {
            // As the buckets are sorted (stable, and -0 equal to 0): equal
            // bounds stay in input order and are summed in that order.
            g.members
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        }
    }
    Some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::functions::instant;
    use crate::engine::plan::Node;
    use crate::engine::pointwise::testing::{Case, bucket_cases, plan, run_both};
    use proptest::test_runner::TestCaseError;

    /// Runs `query` (a call whose last argument is the buckets) both ways.
    fn compare(query: &str, func: BucketFn, case: &Case) -> Result<(), TestCaseError> {
        let Node::Call(c) = plan(query) else {
            panic!("a call");
        };
        let mut inputs = case.scalars.clone();
        inputs.push(case.vector.clone());
        let fast = |ev: &Ev<'_, '_>| over_steps(ev, &c, func, &inputs);
        let slow = |ev: &Ev<'_, '_>| {
            let mut state = instant::CallState::default();
            ev.range_eval(inputs.clone(), |v, series, ts| {
                instant::call(ev, &c, v, series, &mut state, &[], ts)
            })
        };
        if let Some((fast, slow)) = run_both(case, fast, slow) {
            proptest::prop_assert_eq!(fast, slow);
        }
        Ok(())
    }

    proptest::proptest! {
        /// Group by group, `histogram_quantile` gives what the step loop
        /// gives: results, their order, errors, annotations and sample
        /// counters.
        #[test]
        fn quantile_over_steps_equals_the_step_loop(case in bucket_cases(1)) {
            compare("histogram_quantile(0.5, x)", BucketFn::Quantile, &case)?;
        }

        /// And so does `histogram_fraction`.
        #[test]
        fn fraction_over_steps_equals_the_step_loop(case in bucket_cases(2)) {
            compare("histogram_fraction(0, 1, x)", BucketFn::Fraction, &case)?;
        }
    }
}
