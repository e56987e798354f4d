//! The histogram parts of `rate`/`increase`/`delta`, `irate`/`idelta` and of
//! the interpolation of smoothed rates: the raw increase over a window with
//! counter resets accounted for. Extrapolation to the window boundaries and
//! the per-second division stay with the engine (they are the same as for
//! floats and only scale the result with [`FloatHistogram::mul`]).

use super::{AddOutcome, CounterResetHint, FloatHistogram, HistogramError};

/// What a histogram rate computation asks the engine to report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateNotes {
    /// A gauge histogram went into a counter function (warning "this native
    /// histogram metric is not a counter").
    pub not_counter: bool,
    /// A counter histogram went into `delta`/`idelta` (warning "this native
    /// histogram metric is not a gauge").
    pub not_gauge: bool,
    /// Exponential and custom buckets were mixed; there is no result
    /// (warning "vector contains a mix of histograms with exponential and
    /// custom buckets schemas").
    pub mixed_schemas: bool,
    /// Custom buckets with different bounds were subtracted (info
    /// "mismatched custom buckets were reconciled during subtraction").
    pub reconciled_in_sub: bool,
    /// ... or added (info "... during addition").
    pub reconciled_in_add: bool,
}

impl RateNotes {
    fn note(&mut self, outcome: AddOutcome, subtraction: bool) {
        if outcome.custom_bounds_reconciled {
            if subtraction {
                self.reconciled_in_sub = true;
            } else {
                self.reconciled_in_add = true;
            }
        }
    }
}

/// The increase from the first to the last histogram of a window (at least
/// two, oldest first), as Prometheus' `rate`, `increase` and `delta` compute
/// it before extrapolation.
///
/// With `is_counter`, the result is reduced to the smallest schema in the
/// window, and at every counter reset (by [`FloatHistogram::detect_reset`] or
/// `start_reset(i)`, which tells whether start timestamps show a reset
/// between `points[i - 1]` and `points[i]`) the histogram before the reset
/// is added back. A reset right after the first histogram makes it count as
/// empty. Without `is_counter` (for `delta`) it is simply last minus first.
/// The result is a compacted gauge histogram; `None` if the schemas mix
/// exponential and custom buckets (see [`RateNotes::mixed_schemas`]).
pub fn increase(
    points: &[&FloatHistogram],
    is_counter: bool,
    start_reset: impl Fn(usize) -> bool,
) -> (Option<FloatHistogram>, RateNotes) {
    let mut notes = RateNotes::default();
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return (None, notes);
    };
    if is_counter
        && (first.counter_reset_hint == CounterResetHint::Gauge
            || last.counter_reset_hint == CounterResetHint::Gauge)
    {
        notes.not_counter = true;
    }
    // After a reset between the first two points, the first one is an empty
    // histogram of the second one's layout, whatever its own.
    let empty_first;
    let mut prev: &FloatHistogram = first;
    if is_counter {
        if let Some(&second) = points.get(1) {
            if start_reset(1) || second.detect_reset(first) {
                empty_first = FloatHistogram {
                    schema: second.schema,
                    custom_values: second.custom_values.clone(),
                    ..Default::default()
                };
                prev = &empty_first;
            }
        }
    }
    let custom = prev.uses_custom_buckets();
    if last.uses_custom_buckets() != custom {
        notes.mixed_schemas = true;
        return (None, notes);
    }
    let mut min_schema = last.schema.min(prev.schema);
    let inner = points.get(1..points.len().saturating_sub(1)).unwrap_or(&[]);
    if is_counter {
        for h in inner {
            if h.counter_reset_hint == CounterResetHint::Gauge {
                notes.not_counter = true;
            }
            min_schema = min_schema.min(h.schema);
            if h.uses_custom_buckets() != custom {
                return (
                    None,
                    RateNotes {
                        mixed_schemas: true,
                        ..RateNotes::default()
                    },
                );
            }
        }
    }
    let Ok(mut result) = last.copy_to_schema(min_schema) else {
        notes.mixed_schemas = true;
        return (None, notes);
    };
    match result.sub(prev) {
        Ok(outcome) => notes.note(outcome, true),
        Err(_) => {
            return (
                None,
                RateNotes {
                    mixed_schemas: true,
                    ..RateNotes::default()
                },
            );
        }
    }
    if is_counter {
        for (i, &curr) in points.iter().enumerate().skip(1) {
            if start_reset(i) || curr.detect_reset(prev) {
                match result.add(prev) {
                    Ok(outcome) => notes.note(outcome, false),
                    Err(_) => {
                        return (
                            None,
                            RateNotes {
                                mixed_schemas: true,
                                ..RateNotes::default()
                            },
                        );
                    }
                }
            }
            prev = curr;
        }
    } else if first.counter_reset_hint != CounterResetHint::Gauge
        || last.counter_reset_hint != CounterResetHint::Gauge
    {
        notes.not_gauge = true;
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    result.compact(0);
    (Some(result), notes)
}

/// `irate` (`is_rate`) and `idelta` on the last two histograms of a window:
/// `curr - prev`, or `curr` alone after a counter reset (only for `irate`;
/// `start_reset` tells whether start timestamps show one). The result is a
/// compacted gauge histogram, not yet divided by the interval; `None` if the
/// schemas mix exponential and custom buckets.
pub fn instant_delta(
    prev: &FloatHistogram,
    curr: &FloatHistogram,
    is_rate: bool,
    start_reset: bool,
) -> (Option<FloatHistogram>, RateNotes) {
    let mut notes = RateNotes::default();
    let gauge = |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
    if is_rate && (gauge(curr) || gauge(prev)) {
        notes.not_counter = true;
    }
    if !is_rate && (!gauge(curr) || !gauge(prev)) {
        notes.not_gauge = true;
    }
    let mut result = curr.clone();
    if !is_rate || (!start_reset && !curr.detect_reset(prev)) {
        match result.sub(prev) {
            Ok(outcome) => notes.note(outcome, true),
            Err(HistogramError::MixedSchemas) => {
                notes.mixed_schemas = true;
                return (None, notes);
            }
            Err(_) => return (None, notes),
        }
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    result.compact(0);
    (Some(result), notes)
}

/// The histogram at `t` on the line from `h1` at `t1` to `h2` at `t2`, for
/// smoothed rates. For counters (`is_counter`) a reset between them makes the
/// line start at zero: the result is `h2` scaled by the time fraction.
pub fn interpolate(
    h1: &FloatHistogram,
    t1: i64,
    h2: &FloatHistogram,
    t2: i64,
    t: i64,
    is_counter: bool,
) -> Result<(FloatHistogram, RateNotes), HistogramError> {
    let mut notes = RateNotes::default();
    if t == t1 {
        return Ok((h1.clone(), notes));
    }
    if t == t2 {
        return Ok((h2.clone(), notes));
    }
    let fraction = (t - t1) as f64 / (t2 - t1) as f64;
    let mut result = h2.clone();
    if is_counter && h2.detect_reset(h1) {
        result.mul(fraction);
        return Ok((result, notes));
    }
    notes.note(result.sub(h1)?, true);
    result.mul(fraction);
    notes.note(result.add(h1)?, false);
    Ok((result, notes))
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn h(schema: i32, buckets: &[f64]) -> FloatHistogram {
        let count = buckets.iter().sum();
        FloatHistogram {
            schema,
            count,
            sum: count,
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: u32::try_from(buckets.len()).unwrap_or(0),
            }],
            positive_buckets: buckets.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn increase_without_resets() {
        let (a, b, c) = (h(0, &[1.0, 1.0]), h(0, &[2.0, 3.0]), h(0, &[4.0, 4.0]));
        let (r, notes) = increase(&[&a, &b, &c], true, |_| false);
        let r = r.expect("compatible");
        assert_eq!(r.positive_buckets, vec![3.0, 3.0]);
        assert_eq!(r.count, 6.0);
        assert_eq!(r.counter_reset_hint, CounterResetHint::Gauge);
        assert_eq!(notes, RateNotes::default());
    }

    #[test]
    fn increase_adds_back_before_resets() {
        // 1,1 -> 3,3 -> reset to 1,0 -> 2,2: increase 2+2 (before) + 2+2.
        let pts = [
            h(0, &[1.0, 1.0]),
            h(0, &[3.0, 3.0]),
            h(0, &[1.0, 0.0]),
            h(0, &[2.0, 2.0]),
        ];
        let refs: Vec<&FloatHistogram> = pts.iter().collect();
        let (r, _) = increase(&refs, true, |_| false);
        assert_eq!(r.expect("compatible").positive_buckets, vec![4.0, 4.0]);
        // A reset right after the first point: the first counts as empty.
        let pts = [h(0, &[5.0, 5.0]), h(0, &[1.0, 1.0]), h(0, &[2.0, 3.0])];
        let refs: Vec<&FloatHistogram> = pts.iter().collect();
        let (r, _) = increase(&refs, true, |_| false);
        assert_eq!(r.expect("compatible").positive_buckets, vec![2.0, 3.0]);
        // Start timestamps can signal a reset the counts do not show.
        let pts = [h(0, &[1.0]), h(0, &[2.0]), h(0, &[3.0])];
        let refs: Vec<&FloatHistogram> = pts.iter().collect();
        let (r, _) = increase(&refs, true, |i| i == 2);
        assert_eq!(r.expect("compatible").positive_buckets, vec![4.0]);
    }

    #[test]
    fn increase_uses_the_smallest_schema() {
        let (a, b, c) = (h(1, &[1.0, 1.0]), h(0, &[2.0, 2.0]), h(1, &[2.0, 2.0, 2.0]));
        let (r, _) = increase(&[&a, &b, &c], true, |_| false);
        assert_eq!(r.expect("compatible").schema, 0);
    }

    #[test]
    fn delta_and_notes() {
        let mut a = h(0, &[1.0]);
        let b = h(0, &[3.0]);
        let (r, notes) = increase(&[&a, &b], false, |_| false);
        assert_eq!(r.expect("compatible").positive_buckets, vec![2.0]);
        assert!(notes.not_gauge);
        a.counter_reset_hint = CounterResetHint::Gauge;
        let (_, notes) = increase(&[&a, &b], true, |_| false);
        assert!(notes.not_counter);
        let mut c = h(0, &[1.0]);
        c.schema = CUSTOM_BUCKETS_SCHEMA;
        c.custom_values = vec![1.0];
        let (r, notes) = increase(&[&b, &b, &c], true, |_| false);
        assert!(r.is_none() && notes.mixed_schemas);
        // A reset right after the first point drops it, layout and all.
        let (r, notes) = increase(&[&b, &c], true, |_| false);
        assert!(r.is_some() && !notes.mixed_schemas);
    }

    #[test]
    fn irate_and_idelta() {
        let (a, b) = (h(0, &[5.0]), h(0, &[2.0]));
        let (r, notes) = instant_delta(&a, &b, true, false);
        assert_eq!(
            r.expect("compatible").positive_buckets,
            vec![2.0],
            "reset: curr"
        );
        assert!(!notes.not_counter);
        let (r, notes) = instant_delta(&a, &b, false, false);
        assert_eq!(r.expect("compatible").positive_buckets, vec![-3.0]);
        assert!(notes.not_gauge);
    }

    #[test]
    fn interpolation() {
        let (a, b) = (h(0, &[2.0]), h(0, &[4.0]));
        let (r, _) = interpolate(&a, 0, &b, 10, 5, true).expect("compatible");
        assert_eq!(r.positive_buckets, vec![3.0]);
        let (r, _) = interpolate(&b, 0, &a, 10, 5, true).expect("compatible");
        assert_eq!(r.positive_buckets, vec![1.0], "after a reset, from zero");
    }
}
