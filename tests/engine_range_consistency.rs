//! A range query is the instant query at each of its steps: for vector
//! matching and `topk`/`bottomk` this compares the range evaluation (which
//! may work series by series) with instant evaluations (always step by
//! step) on random data with gaps, repeated signatures, ties, NaNs and
//! comparisons.

use promql_engine::engine::{Engine, EngineOptions};
use promql_engine::model::{Labels, SampleValue, Value};
use promql_engine::parse;
use promql_engine::storage::MemoryStorage;
use proptest::prelude::*;

const STEP_MS: i64 = 15_000;
const STEPS: i64 = 12;

/// Queries whose match may or may not depend on the step, depending on the
/// data: duplicate signatures, colliding results, bool and filtering
/// comparisons, both group directions and one-to-one matching.
const QUERIES: &[&str] = &[
    "a * on (job) group_left b",
    "a > on (job) group_left b",
    "a > bool on (job) group_left b",
    "b - on (job) group_right a",
    "b <= on (job) group_right (inst) a",
    "a / ignoring (inst) group_left b",
    "a + c",
    "a == c",
    "a != bool c",
    "a * on (job) b",
    "a * on (job, inst) group_left (extra) c",
    "a % on (job) group_left a",
    "sum by (job) (a * on (job) group_left b)",
    // Ties, NaNs and a k that changes from step to step, for `topk`'s
    // series-by-series evaluation.
    "topk(2, a)",
    "bottomk by (job) (1, a)",
    "topk by (inst) (1, a + c)",
    "bottomk(scalar(sum(b)), a)",
    // Sliding windows with resets and gaps, for the rate loop's cursors,
    // reset marks and extrapolation memo.
    "rate(a[45s])",
    "increase(a[1m] offset 15s)",
    "rate(c[30s]) * on (job, inst) group_left a",
    // Sliding extremes with ties, NaNs and gaps, for their dedicated step
    // loop (`@` takes the saturating steps).
    "max_over_time(a[45s])",
    "min_over_time(a[1m] offset 15s)",
    "max_over_time(c[30s] @ 90)",
    // Other functions over float windows, for their step loop without
    // per-step limits (the instant queries take the general loop).
    "irate(a[45s])",
    "idelta(c[1m] offset 15s)",
    "delta(a[1m])",
    "changes(a[45s])",
    "resets(c[1m])",
    "avg_over_time(a[1m])",
    "sum_over_time(c[30s])",
    "last_over_time(a[45s] @ 60)",
    "count_over_time(a[1m])",
    "deriv(c[1m])",
    "stddev_over_time(a[45s])",
    // Running totals (`changes`, `resets`) and windows taken four at a
    // time (`stddev_over_time`, `stdvar_over_time`).
    "changes(c[2m] @ 120)",
    "resets(a[1m] offset 15s)",
    "stdvar_over_time(c[2m])",
    "stddev_over_time(a[1m] offset 15s)",
    // Scalar arguments that change from step to step.
    "predict_linear(a[1m], 30)",
    "quantile_over_time(scalar(sum(b)) / 4, a[45s])",
    // `count_values` keeps each (group, value) pair's labels across steps.
    "count_values(\"v\", a)",
    "count_values without (inst) (\"job\", a)",
    "count_values without (v, inst) (\"v\", a)",
    "count_values by (job) (\"v\", c)",
    // Vector/scalar operations and element-wise functions, series by
    // series in both (their step loop has its own proptests).
    "a * 2 > bool 1",
    "abs(c - 1)",
    "a and on (job) b",
    "a or c",
    "c unless ignoring (extra) a",
    // Aggregations series by series with an accumulator per (group,
    // step), against the step loop of the instant queries (over selectors:
    // a computed argument can list its series in another order in a range
    // query than at one step, and NaN payloads and rounding follow the
    // order; the accumulators are compared bit for bit in the unit tests).
    "sum(a)",
    "avg by (job) (a)",
    "avg without (inst) (c)",
    "count by (inst) (a)",
    "group by (job) (c)",
    "min(a)",
    "max by (job) (a)",
    "stddev(a)",
    "stdvar by (inst) (c)",
    // Classic histograms, group by group over the steps: bounds written
    // two ways, malformed ones, groups that collide once the metric name
    // is dropped, quantiles that change from step to step.
    "histogram_quantile(0.5, h)",
    "histogram_quantile(0.9, rate(h[45s]))",
    "histogram_quantile(scalar(sum(b)) / 4, h)",
    "histogram_quantile(0.75, sum by (job, le) (h))",
    "histogram_quantile(0.5, {__name__=~\"h|k\"})",
    "histogram_fraction(0, 0.75, h)",
    "histogram_fraction(scalar(sum(b)), 1, rate(h[45s]))",
    // The selector's step loop, reading sample times instead of values.
    "timestamp(a)",
    "timestamp(c offset 15s)",
    "timestamp(a @ 60)",
];

#[derive(Debug, Clone)]
struct SeriesSpec {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
    /// Per step: `None` for no sample, else the value.
    values: Vec<Option<f64>>,
}

fn value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        2 => Just(None),
        6 => (-2i32..4).prop_map(|v| Some(f64::from(v))),
        1 => Just(Some(f64::NAN)),
        1 => Just(Some(promql_engine::model::stale_nan())),
    ]
}

fn series(name: &'static str, with_inst: bool) -> impl Strategy<Value = SeriesSpec> {
    (
        0u8..2,
        0u8..3,
        0u8..2,
        proptest::collection::vec(value(), STEPS as usize),
    )
        .prop_map(move |(job, inst, extra, values)| {
            let mut labels = vec![("job", format!("j{job}"))];
            if with_inst {
                labels.push(("inst", format!("i{inst}")));
            }
            if name == "c" {
                labels.push(("extra", format!("e{extra}")));
            }
            SeriesSpec {
                name,
                labels,
                values,
            }
        })
}

/// A classic histogram bucket: `job` and an `le` bound (some written
/// alike, one malformed).
fn bucket(name: &'static str) -> impl Strategy<Value = SeriesSpec> {
    const BOUNDS: [&str; 5] = ["0.5", "1", "1.0", "+Inf", "x"];
    (
        0u8..2,
        0..BOUNDS.len(),
        proptest::collection::vec(value(), STEPS as usize),
    )
        .prop_map(move |(job, bound, values)| SeriesSpec {
            name,
            labels: vec![("job", format!("j{job}")), ("le", BOUNDS[bound].into())],
            values,
        })
}

fn data() -> impl Strategy<Value = Vec<SeriesSpec>> {
    (
        proptest::collection::vec(series("a", true), 1..5),
        proptest::collection::vec(series("b", false), 0..3),
        proptest::collection::vec(series("c", true), 0..3),
        proptest::collection::vec(bucket("h"), 0..6),
        proptest::collection::vec(bucket("k"), 0..2),
    )
        .prop_map(|(a, b, c, h, k)| a.into_iter().chain(b).chain(c).chain(h).chain(k).collect())
}

fn store(specs: &[SeriesSpec]) -> MemoryStorage {
    let mut s = MemoryStorage::new();
    for spec in specs {
        let mut pairs: Vec<(&str, &str)> = vec![("__name__", spec.name)];
        pairs.extend(spec.labels.iter().map(|(n, v)| (*n, v.as_str())));
        let labels = Labels::from_pairs(&pairs);
        for (k, v) in spec.values.iter().enumerate() {
            if let Some(v) = v {
                s.add(&labels, k as i64 * STEP_MS, *v);
            }
        }
    }
    s.commit();
    s
}

/// (labels, value bits) sorted, so that NaNs compare equal.
fn key(labels: &Labels, v: f64) -> (String, u64) {
    (labels.to_string(), v.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn range_steps_equal_instant_queries(specs in data()) {
        let storage = store(&specs);
        let mut opts = EngineOptions::default();
        // A missing sample leaves a gap at its step.
        opts.lookback_delta = 10_000;
        let engine = Engine::new(opts);
        for q in QUERIES {
            let expr = parse(q).unwrap();
            let range = engine.range(&storage, &expr, 0, (STEPS - 1) * STEP_MS, STEP_MS);
            let instants: Vec<_> = (0..STEPS)
                .map(|k| engine.instant(&storage, &expr, k * STEP_MS))
                .collect();
            match range {
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(
                        instants.iter().any(|r| matches!(r, Err(ie) if ie.to_string() == msg)),
                        "{q}: the range query failed ({msg}) but no step did"
                    );
                }
                Ok(r) => {
                    let Value::Matrix(m) = r.value else {
                        panic!("{q}: a range query returns a matrix");
                    };
                    for (k, inst) in instants.into_iter().enumerate() {
                        let t = k as i64 * STEP_MS;
                        let inst = match inst {
                            Ok(inst) => inst,
                            Err(e) => return Err(TestCaseError::fail(format!(
                                "{q}: step {t} failed alone ({e}) but not in the range query"
                            ))),
                        };
                        let Value::Vector(v) = inst.value else {
                            panic!("{q}: an instant query returns a vector");
                        };
                        let mut want: Vec<_> = v
                            .iter()
                            .map(|s| match s.value {
                                SampleValue::Float(f) => key(&s.labels, f),
                                SampleValue::Histogram(_) => unreachable!("floats only"),
                            })
                            .collect();
                        let mut got: Vec<_> = m
                            .iter()
                            .flat_map(|s| s.floats.iter().filter(|p| p.t == t).map(|p| key(&s.labels, p.v)))
                            .collect();
                        want.sort();
                        got.sort();
                        prop_assert_eq!(got, want, "{} at {}", q, t);
                    }
                }
            }
        }
    }
}
