//! Comparing query results with the expected values of an `eval`, with
//! upstream's tolerance rules.

use crate::model::float_format::format_go_g as format_float;
use std::collections::HashMap;

use super::script::{EvalCmd, EvalTime, ExpectedResult, ExpectedSeries};
use crate::model::{FPoint, FloatHistogram, Labels, SampleValue, Series, Value, is_stale_nan};
use crate::storage::series_notation::SeqValue;
use crate::storage::series_notation::histogram_ops::nonzero_buckets;

/// Relative error allowed between expected and actual values.
pub const EPSILON: f64 = 0.000_001;

/// Whether `a` and `b` are equal within relative error `epsilon`. Two stale
/// markers are equal, a stale marker equals nothing else, and any two other
/// NaNs are equal.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Whether two histograms match: schema, custom bounds and zero threshold
/// exactly, counts within tolerance, buckets compared after dropping empty
/// ones, and the counter-reset hint only when the expectation wrote one.
pub fn histograms_match(
    expected: &FloatHistogram,
    actual: &FloatHistogram,
    check_hint: bool,
) -> bool {
    let buckets_match = |e: Vec<(i32, f64)>, a: Vec<(i32, f64)>| {
        e.len() == a.len()
            && e.iter()
                .zip(&a)
                .all(|((ei, ev), (ai, av))| ei == ai && almost_equal(*ev, *av, EPSILON))
    };
    expected.schema == actual.schema
        && almost_equal(expected.count, actual.count, EPSILON)
        && almost_equal(expected.sum, actual.sum, EPSILON)
        && (expected.schema != -53 || expected.custom_values == actual.custom_values)
        && expected.zero_threshold == actual.zero_threshold
        && almost_equal(expected.zero_count, actual.zero_count, EPSILON)
        && buckets_match(
            nonzero_buckets(&expected.negative_spans, &expected.negative_buckets),
            nonzero_buckets(&actual.negative_spans, &actual.negative_buckets),
        )
        && buckets_match(
            nonzero_buckets(&expected.positive_spans, &expected.positive_buckets),
            nonzero_buckets(&actual.positive_spans, &actual.positive_buckets),
        )
        && (!check_hint || expected.counter_reset_hint == actual.counter_reset_hint)
}

/// The histogram in the series notation, for messages (the model's
/// `Display`, which writes it as Prometheus' `TestExpression` does).
pub fn histogram_expression(h: &FloatHistogram) -> String {
    h.to_string()
}

fn fmt_value(v: &SeqValue) -> String {
    match v {
        SeqValue::Omitted => "_".into(),
        SeqValue::Float(f) if is_stale_nan(*f) => "stale".into(),
        SeqValue::Float(f) => format_float(*f),
        SeqValue::Histogram { histogram, .. } => histogram_expression(histogram),
    }
}

fn fmt_floats(points: &[FPoint]) -> String {
    let items: Vec<String> = points
        .iter()
        .map(|p| format!("{} @[{}]", format_float(p.v), p.t))
        .collect();
    format!("[{}]", items.join(" "))
}

fn fmt_series(s: &Series) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let hs: Vec<String> = s
        .histograms
        .iter()
        .map(|p| format!("{} @[{}]", histogram_expression(&p.h), p.t))
        .collect();
    format!(
        "{} float point{} {} and {} histogram point{} [{}]",
        s.floats.len(),
        plural(s.floats.len()),
        fmt_floats(&s.floats),
        s.histograms.len(),
        plural(s.histograms.len()),
        hs.join(" ")
    )
}

fn fmt_sample_value(v: &SampleValue) -> String {
    match v {
        SampleValue::Float(f) => format_float(*f),
        SampleValue::Histogram(h) => histogram_expression(h),
    }
}

/// Checks that matrix series are sorted by labels.
pub fn assert_sorted(series: &[Series]) -> Result<(), String> {
    for (i, pair) in series.windows(2).enumerate() {
        if pair[0].labels > pair[1].labels {
            return Err(format!(
                "matrix results should always be sorted by labels, but matrix is not sorted: series at index {} with labels {} sorts before series at index {} with labels {}",
                i + 1,
                pair[1].labels,
                i,
                pair[0].labels
            ));
        }
    }
    Ok(())
}

/// The timestamps expected values line up with: the range query's steps,
/// or the `expect range vector` window.
fn matrix_window(cmd: &EvalCmd) -> (i64, i64, i64) {
    match (cmd.time, cmd.range_vector) {
        (EvalTime::Range { start, end, step }, _) => (start, end, step),
        (EvalTime::Instant(_), Some(w)) => w,
        (EvalTime::Instant(t), None) => (t, t, 0),
    }
}

/// Compares a query result with the eval's expectations.
pub fn compare_result(cmd: &EvalCmd, value: &Value) -> Result<(), String> {
    let ordered = cmd.expect.ordered;
    let expected: &[ExpectedSeries] = match &cmd.result {
        ExpectedResult::Series(s) => s,
        _ => &[],
    };
    let by_labels: HashMap<&Labels, &ExpectedSeries> =
        expected.iter().map(|s| (&s.labels, s)).collect();
    let expect_scalar = matches!(cmd.result, ExpectedResult::Scalar(_));
    match value {
        Value::Matrix(series) => {
            if ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if expect_scalar {
                return Err(format!(
                    "expected scalar result, but got matrix with {} series",
                    series.len()
                ));
            }
            assert_sorted(series)?;
            let (start, end, step) = matrix_window(cmd);
            for s in series {
                let exp = by_labels.get(&s.labels).ok_or_else(|| {
                    format!(
                        "unexpected metric {} in result, has {}",
                        s.labels,
                        fmt_series(s)
                    )
                })?;
                compare_series(exp, s, start, end, step)?;
            }
            for e in expected {
                if !series.iter().any(|s| s.labels == e.labels) {
                    return Err(format!("expected metric {} not found", e.labels));
                }
            }
        }
        Value::Vector(samples) => {
            if expect_scalar {
                return Err(format!(
                    "expected scalar result, but got vector with {} samples",
                    samples.len()
                ));
            }
            for (pos, s) in samples.iter().enumerate() {
                let exp = by_labels.get(&s.labels).ok_or_else(|| {
                    format!(
                        "unexpected metric {} in result, has value {}",
                        s.labels,
                        fmt_sample_value(&s.value)
                    )
                })?;
                let first = exp.values.first().unwrap_or(&SeqValue::Omitted);
                if ordered && exp.position != pos + 1 {
                    return Err(format!(
                        "expected metric {} with [{}] at position {} but was at {}",
                        s.labels,
                        fmt_value(first),
                        exp.position,
                        pos + 1
                    ));
                }
                compare_sample(first, &s.value, &s.labels)?;
            }
            for e in expected {
                if !samples.iter().any(|s| s.labels == e.labels) {
                    let vals: Vec<String> = e.values.iter().map(fmt_value).collect();
                    return Err(format!(
                        "expected metric {} with [{}] not found",
                        e.labels,
                        vals.join(" ")
                    ));
                }
            }
        }
        Value::Scalar { v, .. } => {
            let ExpectedResult::Scalar(exp) = cmd.result else {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {}",
                    format_float(*v)
                ));
            };
            if !almost_equal(exp, *v, EPSILON) {
                return Err(format!(
                    "expected scalar {} but got {}",
                    format_float(exp),
                    format_float(*v)
                ));
            }
        }
        Value::String { v, .. } => {
            let exp = match &cmd.result {
                ExpectedResult::String(s) => s.as_str(),
                _ => "",
            };
            if exp != v {
                return Err(format!("expected string \"{exp}\" but got \"{v}\""));
            }
        }
    }
    Ok(())
}

fn compare_sample(
    expected: &SeqValue,
    actual: &SampleValue,
    labels: &Labels,
) -> Result<(), String> {
    match (expected, actual) {
        (
            SeqValue::Histogram {
                histogram,
                hint_set,
            },
            SampleValue::Histogram(h),
        ) => {
            if !histograms_match(histogram, h, *hint_set) {
                return Err(format!(
                    "expected {} for {labels} but got {}",
                    histogram_expression(histogram),
                    histogram_expression(h)
                ));
            }
        }
        (SeqValue::Histogram { histogram, .. }, SampleValue::Float(f)) => {
            return Err(format!(
                "expected histogram {} for {labels} but got float value {}",
                histogram_expression(histogram),
                format_float(*f)
            ));
        }
        (e, SampleValue::Histogram(h)) => {
            return Err(format!(
                "expected float value {} for {labels} but got histogram {}",
                fmt_value(e),
                histogram_expression(h)
            ));
        }
        (e, SampleValue::Float(f)) => {
            let exp = match e {
                SeqValue::Float(v) => *v,
                _ => 0.0,
            };
            if !almost_equal(exp, *f, EPSILON) {
                return Err(format!(
                    "expected {} for {labels} but got {}",
                    format_float(exp),
                    format_float(*f)
                ));
            }
        }
    }
    Ok(())
}

fn compare_series(
    exp: &ExpectedSeries,
    s: &Series,
    start: i64,
    end: i64,
    step: i64,
) -> Result<(), String> {
    let mut floats = Vec::new();
    let mut hists = Vec::new();
    for (i, v) in exp.values.iter().enumerate() {
        let t = start.saturating_add((i as i64).saturating_mul(step));
        if t > end {
            return Err(format!(
                "expected {} points for {}, but query time range cannot return this many points",
                exp.values.len(),
                exp.labels
            ));
        }
        match v {
            SeqValue::Omitted => {}
            SeqValue::Float(f) => floats.push((t, *f)),
            SeqValue::Histogram {
                histogram,
                hint_set,
            } => hists.push((t, histogram, *hint_set)),
        }
    }
    if floats.len() != s.floats.len() || hists.len() != s.histograms.len() {
        return Err(format!(
            "expected {} float points and {} histogram points for {}, but got {}",
            floats.len(),
            hists.len(),
            exp.labels,
            fmt_series(s)
        ));
    }
    for (i, ((t, v), actual)) in floats.iter().zip(&s.floats).enumerate() {
        if *t != actual.t {
            return Err(format!(
                "expected float value at index {i} for {} to have timestamp {t}, but it had timestamp {} (result has {})",
                exp.labels,
                actual.t,
                fmt_series(s)
            ));
        }
        if !almost_equal(actual.v, *v, EPSILON) {
            return Err(format!(
                "expected float value at index {i} (t={t}) for {} to be {}, but got {} (result has {})",
                exp.labels,
                format_float(*v),
                format_float(actual.v),
                fmt_series(s)
            ));
        }
    }
    for (i, ((t, h, hint), actual)) in hists.iter().zip(&s.histograms).enumerate() {
        if *t != actual.t {
            return Err(format!(
                "expected histogram value at index {i} for {} to have timestamp {t}, but it had timestamp {} (result has {})",
                exp.labels,
                actual.t,
                fmt_series(s)
            ));
        }
        if !histograms_match(h, &actual.h, *hint) {
            return Err(format!(
                "expected histogram value at index {i} (t={t}) for {} to be {}, but got {} (result has {})",
                exp.labels,
                histogram_expression(h),
                histogram_expression(&actual.h),
                fmt_series(s)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{BucketSpan, HPoint, Sample, stale_nan};
    use crate::promqltest::script::{Command, Script};

    fn eval(script: &str) -> EvalCmd {
        let s = Script::parse(script).unwrap();
        match s.commands.into_iter().last() {
            Some(Command::Eval(e)) => *e,
            other => panic!("last command is not an eval: {other:?}"),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs)
    }

    fn float_sample(l: Labels, v: f64) -> Sample {
        Sample {
            labels: l,
            t: 0,
            value: SampleValue::Float(v),
        }
    }

    #[test]
    fn tolerance_and_special_values() {
        assert!(almost_equal(1.0, 1.0 + 1e-7, EPSILON));
        assert!(!almost_equal(1.0, 1.0 + 1e-5, EPSILON));
        assert!(almost_equal(f64::NAN, -f64::NAN, EPSILON));
        assert!(!almost_equal(f64::NAN, stale_nan(), EPSILON));
        assert!(almost_equal(stale_nan(), stale_nan(), EPSILON));
        assert!(!almost_equal(0.0, 1e-300, EPSILON));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, EPSILON));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, EPSILON));
    }

    #[test]
    fn vector_results() {
        let cmd = eval("eval instant at 1m x\n  x{a=\"1\"} 1\n  x{a=\"2\"} NaN\n");
        let good = Value::Vector(vec![
            float_sample(labels(&[("__name__", "x"), ("a", "2")]), f64::NAN),
            float_sample(labels(&[("__name__", "x"), ("a", "1")]), 1.000_000_1),
        ]);
        compare_result(&cmd, &good).unwrap();
        let wrong_value = Value::Vector(vec![
            float_sample(labels(&[("__name__", "x"), ("a", "1")]), 2.0),
            float_sample(labels(&[("__name__", "x"), ("a", "2")]), f64::NAN),
        ]);
        assert!(
            compare_result(&cmd, &wrong_value)
                .unwrap_err()
                .contains("expected 1")
        );
        let missing = Value::Vector(vec![float_sample(
            labels(&[("__name__", "x"), ("a", "1")]),
            1.0,
        )]);
        assert!(
            compare_result(&cmd, &missing)
                .unwrap_err()
                .contains("not found")
        );
        let extra = Value::Vector(vec![float_sample(labels(&[("a", "1")]), 1.0)]);
        assert!(
            compare_result(&cmd, &extra)
                .unwrap_err()
                .contains("unexpected metric")
        );
        assert!(compare_result(&cmd, &Value::Scalar { t: 0, v: 1.0 }).is_err());
    }

    #[test]
    fn ordered_vectors() {
        let cmd =
            eval("eval instant at 1m sort(x)\n  expect ordered\n  {a=\"1\"} 1\n  {a=\"2\"} 2\n");
        let in_order = vec![
            float_sample(labels(&[("a", "1")]), 1.0),
            float_sample(labels(&[("a", "2")]), 2.0),
        ];
        compare_result(&cmd, &Value::Vector(in_order.clone())).unwrap();
        let reversed: Vec<Sample> = in_order.into_iter().rev().collect();
        assert!(
            compare_result(&cmd, &Value::Vector(reversed))
                .unwrap_err()
                .contains("at position 2")
        );
        assert!(
            compare_result(&cmd, &Value::Matrix(vec![]))
                .unwrap_err()
                .contains("ordered")
        );
    }

    #[test]
    fn matrix_results() {
        let cmd = eval("eval range from 0 to 2m step 1m x\n  x 1 _ stale\n");
        let series = |floats: Vec<FPoint>| Series {
            labels: labels(&[("__name__", "x")]),
            floats,
            histograms: vec![],
        };
        let ok = series(vec![
            FPoint { t: 0, v: 1.0 },
            FPoint {
                t: 120_000,
                v: stale_nan(),
            },
        ]);
        compare_result(&cmd, &Value::Matrix(vec![ok])).unwrap();
        let shifted = series(vec![
            FPoint { t: 0, v: 1.0 },
            FPoint {
                t: 60_000,
                v: stale_nan(),
            },
        ]);
        assert!(
            compare_result(&cmd, &Value::Matrix(vec![shifted]))
                .unwrap_err()
                .contains("timestamp")
        );
        let not_stale = series(vec![
            FPoint { t: 0, v: 1.0 },
            FPoint {
                t: 120_000,
                v: f64::NAN,
            },
        ]);
        assert!(compare_result(&cmd, &Value::Matrix(vec![not_stale])).is_err());
        let too_many = eval("eval range from 0 to 1m step 1m x\n  x 1 2 3\n");
        assert!(
            compare_result(&too_many, &Value::Matrix(vec![series(vec![])]))
                .unwrap_err()
                .contains("cannot return this many")
        );
        let unsorted = Value::Matrix(vec![
            Series {
                labels: labels(&[("a", "2")]),
                ..Default::default()
            },
            Series {
                labels: labels(&[("a", "1")]),
                ..Default::default()
            },
        ]);
        assert!(
            compare_result(&cmd, &unsorted)
                .unwrap_err()
                .contains("not sorted")
        );
    }

    #[test]
    fn range_vector_expectation_on_instant_query() {
        let cmd = eval(
            "eval instant at 1m x[1m]\n  expect range vector from 40s to 1m step 10s\n  x 4 5 6\n",
        );
        let s = Series {
            labels: labels(&[("__name__", "x")]),
            floats: vec![
                FPoint { t: 40_000, v: 4.0 },
                FPoint { t: 50_000, v: 5.0 },
                FPoint { t: 60_000, v: 6.0 },
            ],
            histograms: vec![],
        };
        compare_result(&cmd, &Value::Matrix(vec![s])).unwrap();
    }

    #[test]
    fn histograms_compare_layout_independently() {
        let cmd = eval("eval instant at 0 h\n  h {{schema:0 sum:5 count:4 buckets:[1 0 3]}}\n");
        let same = FloatHistogram {
            sum: 5.0,
            count: 4.0,
            positive_spans: vec![
                BucketSpan {
                    offset: 0,
                    length: 1,
                },
                BucketSpan {
                    offset: 1,
                    length: 1,
                },
            ],
            positive_buckets: vec![1.0, 3.0],
            counter_reset_hint: crate::model::CounterResetHint::Gauge,
            ..Default::default()
        };
        let value = |h: FloatHistogram| {
            Value::Vector(vec![Sample {
                labels: labels(&[("__name__", "h")]),
                t: 0,
                value: SampleValue::Histogram(Arc::new(h)),
            }])
        };
        // The hint is not compared because the expectation does not write one.
        compare_result(&cmd, &value(same.clone())).unwrap();
        let mut other = same.clone();
        other.positive_buckets = vec![1.0, 2.0];
        assert!(compare_result(&cmd, &value(other)).is_err());
        let with_hint = eval(
            "eval instant at 0 h\n  h {{sum:5 count:4 buckets:[1 0 3] counter_reset_hint:reset}}\n",
        );
        assert!(compare_result(&with_hint, &value(same.clone())).is_err());
        assert!(
            compare_result(
                &cmd,
                &Value::Vector(vec![float_sample(labels(&[("__name__", "h")]), 4.0)])
            )
            .unwrap_err()
            .contains("got float")
        );
        let m = Value::Matrix(vec![Series {
            labels: labels(&[("__name__", "h")]),
            floats: vec![],
            histograms: vec![HPoint {
                t: 0,
                h: Arc::new(same),
            }],
        }]);
        compare_result(&cmd, &m).unwrap();
    }

    #[test]
    fn scalars_and_strings() {
        let cmd = eval("eval instant at 0 1+1\n  2\n");
        compare_result(&cmd, &Value::Scalar { t: 0, v: 2.0 }).unwrap();
        assert!(compare_result(&cmd, &Value::Scalar { t: 0, v: 3.0 }).is_err());
        assert!(compare_result(&cmd, &Value::Vector(vec![])).is_err());
        let cmd = eval("eval instant at 0 \"a\"\n  expect string \"a\"\n");
        compare_result(
            &cmd,
            &Value::String {
                t: 0,
                v: "a".into(),
            },
        )
        .unwrap();
        assert!(
            compare_result(
                &cmd,
                &Value::String {
                    t: 0,
                    v: "b".into()
                }
            )
            .is_err()
        );
        // No expected lines: an empty vector, and nothing else, matches.
        let cmd = eval("eval instant at 0 x\n");
        compare_result(&cmd, &Value::Vector(vec![])).unwrap();
        assert!(compare_result(&cmd, &Value::Scalar { t: 0, v: 1.0 }).is_err());
    }
}
