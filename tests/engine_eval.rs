//! Evaluator tests over a small in-memory store: selection, arithmetic,
//! aggregation, the rate family, subqueries, annotations and limits.

use promql_engine::engine::{AnnotationLevel, Engine, EngineOptions, EvalError};
use promql_engine::model::{Labels, SampleValue, Value};
use promql_engine::parser::{ParseOptions, parse_with};
use promql_engine::storage::MemoryStorage;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

/// `http_requests_total{job="a"}` grows by 10 every 30s from 0 to 600 (20m);
/// `{job="b"}` by 20; `gauge` holds 1, 5, 3.
fn store() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    let a = labels(&[("__name__", "http_requests_total"), ("job", "a")]);
    let b = labels(&[("__name__", "http_requests_total"), ("job", "b")]);
    for i in 0..=40 {
        s.add(&a, i * 30_000, (i * 10) as f64);
        s.add(&b, i * 30_000, (i * 20) as f64);
    }
    let g = labels(&[("__name__", "gauge"), ("job", "a")]);
    for (i, v) in [1.0, 5.0, 3.0].into_iter().enumerate() {
        s.add(&g, i as i64 * 60_000, v);
    }
    s
}

fn instant(q: &str, t: i64) -> Result<promql_engine::QueryResult, EvalError> {
    let expr = parse_with(q, &ParseOptions::all()).expect("query parses");
    Engine::new(EngineOptions::upstream_tests()).instant(&store(), &expr, t)
}

fn vector(q: &str, t: i64) -> Vec<(String, f64)> {
    match instant(q, t).expect("query evaluates").value {
        Value::Vector(v) => {
            let mut out: Vec<(String, f64)> = v
                .into_iter()
                .map(|s| match s.value {
                    SampleValue::Float(f) => (s.labels.to_string(), f),
                    SampleValue::Histogram(_) => (s.labels.to_string(), f64::NAN),
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("expected a vector, got {other:?}"),
    }
}

#[test]
fn instant_selector_uses_lookback_and_keeps_name() {
    assert_eq!(
        vector("gauge", 150_000),
        vec![(r#"gauge{job="a"}"#.to_string(), 3.0)]
    );
    // 5m lookback: the last sample (at 2m) is gone at 7m.
    assert!(vector("gauge", 420_001).is_empty());
}

#[test]
fn rate_extrapolates_to_the_window() {
    let got = vector("rate(http_requests_total[5m])", 600_000);
    let want = [(r#"{job="a"}"#, 10.0 / 30.0), (r#"{job="b"}"#, 20.0 / 30.0)];
    assert_eq!(got.len(), want.len());
    for ((gl, gv), (wl, wv)) in got.iter().zip(want) {
        assert_eq!(gl, wl);
        assert!((gv - wv).abs() < 1e-12, "{gv} != {wv}");
    }
}

#[test]
fn sum_and_binary_matching() {
    assert_eq!(
        vector("sum(http_requests_total)", 600_000),
        vec![("{}".to_string(), 600.0)]
    );
    assert_eq!(
        vector(
            r#"http_requests_total / on(job) group_left sum by (job) (http_requests_total)"#,
            600_000
        ),
        vec![
            (r#"{job="a"}"#.to_string(), 1.0),
            (r#"{job="b"}"#.to_string(), 1.0)
        ]
    );
    let err = instant("http_requests_total + on() gauge", 120_000).unwrap_err();
    assert!(
        err.to_string()
            .contains("many-to-many matching not allowed")
            || err.to_string().contains("multiple matches"),
        "{err}"
    );
}

#[test]
fn non_counter_rate_is_annotated() {
    let res = instant("rate(gauge[5m])", 120_000).unwrap();
    let a = &res.annotations[0];
    assert_eq!(a.level, AnnotationLevel::Info);
    assert_eq!(
        a.render("rate(gauge[5m])"),
        r#"PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "gauge" (1:6)"#
    );
}

#[test]
fn subquery_steps_are_aligned() {
    // Steps at 4m30s... no: [1m:30s] at 10m15s covers 9m30s, 10m.
    assert_eq!(
        vector(
            "count_over_time(http_requests_total{job=\"a\"}[1m:30s])",
            615_000
        ),
        vec![(r#"{job="a"}"#.to_string(), 2.0)]
    );
}

#[test]
fn range_query_limits() {
    let expr = parse_with("gauge", &ParseOptions::all()).unwrap();
    let engine = Engine::new(EngineOptions::default());
    assert!(matches!(
        engine.range(&store(), &expr, 0, 1000, 0),
        Err(EvalError::BadQuery(_))
    ));
    assert!(matches!(
        engine.range(&store(), &expr, 0, 12_000_000, 1),
        Err(EvalError::TooManyPoints { .. })
    ));
    let mut opts = EngineOptions::default();
    opts.max_samples = 10;
    let engine = Engine::new(opts);
    assert!(matches!(
        engine.range(&store(), &expr, 0, 600_000, 1000),
        Err(EvalError::TooManySamples)
    ));
}

#[test]
fn range_query_yields_a_matrix() {
    let expr = parse_with("gauge * 2", &ParseOptions::all()).unwrap();
    let res = Engine::new(EngineOptions::default())
        .range(&store(), &expr, 0, 120_000, 60_000)
        .unwrap();
    match res.value {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            let vals: Vec<f64> = m[0].floats.iter().map(|p| p.v).collect();
            assert_eq!(vals, vec![2.0, 10.0, 6.0]);
            assert_eq!(m[0].labels.to_string(), r#"{job="a"}"#);
        }
        other => panic!("expected a matrix, got {other:?}"),
    }
}
