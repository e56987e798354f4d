//! Evaluator semantics beyond the basics: name removal modes, staleness,
//! extended range selectors, functions' label handling, ordering, errors,
//! annotations and the timeout.

use std::time::Duration;

use promql_engine::engine::{Engine, EngineOptions, EvalError};
use promql_engine::model::{Labels, SampleValue, Value, stale_nan};
use promql_engine::parser::{ParseOptions, parse_with};
use promql_engine::storage::MemoryStorage;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

fn store() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    // Counters sampled every minute for 10 minutes.
    for (job, step) in [("a", 1.0), ("b", 3.0)] {
        let lbl = l(&[("__name__", "req_total"), ("job", job)]);
        for i in 0..=10 {
            s.add(&lbl, i * 60_000, i as f64 * step);
        }
    }
    // A gauge that goes stale at 3m.
    let g = l(&[("__name__", "temp"), ("room", "x")]);
    s.add(&g, 0, 20.0);
    s.add(&g, 60_000, 21.0);
    s.add(&g, 180_000, stale_nan());
    // Two counters with the same labels apart from the name, at disjoint times.
    for (name, times) in [
        ("early_total", [0, 60_000]),
        ("late_total", [540_000, 600_000]),
    ] {
        let lbl = l(&[("__name__", name), ("job", "c")]);
        for (i, t) in times.into_iter().enumerate() {
            s.add(&lbl, t, i as f64);
        }
    }
    // Classic histogram buckets with a non-monotonic bucket.
    for (le, v) in [("0.1", 10.0), ("0.5", 8.0), ("1", 20.0), ("+Inf", 20.0)] {
        s.add(&l(&[("__name__", "lat_bucket"), ("le", le)]), 0, v);
    }
    s
}

fn run(q: &str, t: i64, opts: EngineOptions) -> Result<promql_engine::QueryResult, EvalError> {
    let expr = parse_with(q, &ParseOptions::all()).expect("query parses");
    Engine::new(opts).instant(&store(), &expr, t)
}

fn samples(q: &str, t: i64, opts: EngineOptions) -> Vec<(String, f64)> {
    match run(q, t, opts).expect("query evaluates").value {
        Value::Vector(v) => v
            .into_iter()
            .map(|s| {
                let f = match s.value {
                    SampleValue::Float(f) => f,
                    SampleValue::Histogram(_) => f64::NAN,
                };
                (s.labels.to_string(), f)
            })
            .collect(),
        other => panic!("expected a vector, got {other:?}"),
    }
}

fn sorted(mut v: Vec<(String, f64)>) -> Vec<(String, f64)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn delayed_name_removal_keeps_name_until_the_end() {
    let delayed = EngineOptions::upstream_tests();
    // The name survives `sum by (__name__)` and is dropped at the end.
    assert_eq!(
        samples(
            "sum by (__name__) (rate(req_total{job=\"a\"}[5m]))",
            600_000,
            delayed.clone()
        ),
        vec![("{}".to_string(), 1.0 / 60.0)]
    );
    // label_replace onto __name__ keeps it.
    assert_eq!(
        samples(
            r#"label_replace(rate(req_total{job="a"}[5m]), "__name__", "r_$1", "__name__", "(.+)")"#,
            600_000,
            delayed
        )[0]
            .0,
        r#"r_req_total{job="a"}"#
    );
    // Immediate mode drops the name at the function already.
    assert_eq!(
        samples(
            "sum by (__name__) (rate(req_total{job=\"a\"}[5m]))",
            600_000,
            EngineOptions::default()
        ),
        vec![("{}".to_string(), 1.0 / 60.0)]
    );
}

#[test]
fn stale_marker_ends_the_series() {
    let o = EngineOptions::default();
    assert_eq!(samples("temp", 120_000, o.clone()).len(), 1);
    assert!(samples("temp", 180_000, o.clone()).is_empty());
    // The range selector skips the stale marker itself.
    assert_eq!(
        samples("count_over_time(temp[10m])", 240_000, o),
        vec![(r#"{room="x"}"#.to_string(), 2.0)]
    );
}

#[test]
fn anchored_and_smoothed_rates() {
    let o = EngineOptions::upstream_tests();
    assert_eq!(
        samples(
            "increase(req_total{job=\"b\"}[2m] anchored)",
            300_000,
            o.clone()
        ),
        vec![(r#"{job="b"}"#.to_string(), 6.0)]
    );
    assert_eq!(
        samples(
            "increase(req_total{job=\"b\"}[90s] smoothed)",
            300_000,
            o.clone()
        ),
        vec![(r#"{job="b"}"#.to_string(), 4.5)]
    );
    let err = run("max_over_time(req_total[2m] anchored)", 300_000, o).unwrap_err();
    assert_eq!(
        err.to_string(),
        "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with max_over_time"
    );
}

#[test]
fn sort_and_topk_order() {
    let o = EngineOptions::default();
    let got = samples("sort_desc(req_total)", 600_000, o.clone());
    assert_eq!(got[0].1, 30.0);
    assert_eq!(got[1].1, 10.0);
    let got = samples("bottomk(1, req_total)", 600_000, o);
    assert_eq!(got, vec![(r#"req_total{job="a"}"#.to_string(), 10.0)]);
}

#[test]
fn absent_derives_labels_from_equality_matchers() {
    let o = EngineOptions::default();
    assert_eq!(
        samples(r#"absent(nope{job="x", env=~"p.*"})"#, 0, o.clone()),
        vec![(r#"{job="x"}"#.to_string(), 1.0)]
    );
    assert!(samples("absent(req_total)", 0, o).is_empty());
}

#[test]
fn count_values_and_label_join() {
    let o = EngineOptions::default();
    assert_eq!(
        sorted(samples(
            r#"count_values("v", req_total)"#,
            60_000,
            o.clone()
        )),
        vec![
            (r#"{v="1"}"#.to_string(), 1.0),
            (r#"{v="3"}"#.to_string(), 1.0)
        ]
    );
    assert_eq!(
        sorted(samples(
            r#"label_join(req_total, "x", "-", "job", "job")"#,
            60_000,
            o
        ))[0]
            .0,
        r#"req_total{job="a", x="a-a"}"#
    );
}

#[test]
fn errors_carry_prometheus_messages() {
    let o = EngineOptions::default();
    let err = run(
        r#"label_replace(req_total, "x", "y", "job", "(")"#,
        0,
        o.clone(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid regular expression in label_replace(): ("
    );
    let err = run("req_total + ignoring(job) req_total", 0, o).unwrap_err();
    assert!(err.to_string().starts_with("found duplicate series for the match group {} on the right hand-side of the operation: [{__name__=\"req_total\", job=\"a\"}, {__name__=\"req_total\", job=\"b\"}]"), "{err}");
}

#[test]
fn histogram_quantile_monotonicity_info() {
    let q = "histogram_quantile(0.5, lat_bucket)";
    let res = run(q, 0, EngineOptions::upstream_tests()).unwrap();
    match &res.value {
        Value::Vector(v) => assert_eq!(v.len(), 1),
        other => panic!("{other:?}"),
    }
    let rendered: Vec<String> = res.annotations.iter().map(|a| a.render(q)).collect();
    assert_eq!(rendered.len(), 1);
    assert!(
        rendered[0].starts_with(
            "PromQL info: input to histogram_quantile needed to be fixed for monotonicity"
        ),
        "{rendered:?}"
    );
    assert!(rendered[0].ends_with("(1:25)"), "{rendered:?}");
}

#[test]
fn timeout_stops_long_evaluations() {
    let mut o = EngineOptions::default();
    o.timeout = Some(Duration::ZERO);
    let err = run("sum_over_time(vector(1)[1d:1s])", 0, o).unwrap_err();
    assert!(matches!(err, EvalError::Timeout), "{err}");
}

#[test]
fn deeply_nested_queries_do_not_overflow_the_stack() {
    let n = 900;
    for q in [
        format!("{}req_total{}", "abs(".repeat(n), ")".repeat(n)),
        vec!["req_total"; n].join(" + "),
    ] {
        let expr = parse_with(&q, &ParseOptions::all()).expect("query parses");
        let res = Engine::new(EngineOptions::default())
            .range(&store(), &expr, 0, 600_000, 60_000)
            .expect("query evaluates");
        match res.value {
            Value::Matrix(m) => assert_eq!(m.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn experimental_functions_need_the_option() {
    let q = "mad_over_time(req_total[5m])";
    let err = run(q, 600_000, EngineOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "function \"mad_over_time\" is not enabled");
    assert_eq!(
        samples(q, 600_000, EngineOptions::upstream_tests()).len(),
        2
    );
    let err = run("limitk(1, req_total)", 600_000, EngineOptions::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("limitk() is experimental"),
        "{err}"
    );
}

#[test]
fn series_of_one_name_collide_when_their_type_labels_are_dropped() {
    // Same name and labels but for `__type__`: dropping the metadata labels
    // makes them one label set, which immediate removal rejects; with one
    // `__type__` (or functions that keep the name) the results are distinct.
    let mut s = MemoryStorage::new();
    for kind in ["counter", "gauge"] {
        let lbl = l(&[("__name__", "m_total"), ("__type__", kind), ("a", "1")]);
        for i in 0..=5 {
            s.add(&lbl, i * 60_000, i as f64);
        }
    }
    let eval = |q: &str| {
        let expr = parse_with(q, &ParseOptions::all()).unwrap();
        Engine::new(EngineOptions::default()).instant(&s, &expr, 300_000)
    };
    assert_eq!(
        eval("rate(m_total[5m])").unwrap_err().to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    for q in [
        r#"rate(m_total{__type__="gauge"}[5m])"#,
        "last_over_time(m_total[5m])",
    ] {
        match eval(q).unwrap().value {
            Value::Vector(v) => assert_eq!(v.len(), 1 + usize::from(q.starts_with("last")), "{q}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn one_to_one_results_that_lose_their_signature_collide() {
    // Immediate name removal: the vector matching itself lets these pairs
    // through, and the step's result must still be checked for equal label
    // sets (an instant query as much as a range query).
    let mut s = MemoryStorage::new();
    for (name, kind) in [
        ("other", "gauge"),
        ("spare", "gauge"),
        ("m", "counter"),
        ("m", "gauge"),
    ] {
        let lbl = l(&[("__name__", name), ("__type__", kind), ("job", "a")]);
        s.add(&lbl, 0, 1.0);
    }
    let opts = EngineOptions::default();
    assert!(!opts.delayed_name_removal);
    let engine = Engine::new(opts);
    let expr = |q: &str| parse_with(q, &ParseOptions::all()).expect("query parses");
    for q in [
        // `on (__name__)` keeps only the dropped name: every result is `{}`.
        r#"{__name__=~"other|spare"} + on (__name__) {__name__=~"other|spare"}"#,
        // The signature holds `__type__`, which the results lose.
        "m + ignoring (job) m",
    ] {
        let instant = engine.instant(&s, &expr(q), 0).unwrap_err();
        assert_eq!(
            instant.to_string(),
            "vector cannot contain metrics with the same labelset",
            "{q}"
        );
        let range = engine.range(&s, &expr(q), 0, 60_000, 60_000).unwrap_err();
        assert_eq!(
            range.to_string(),
            "vector cannot contain metrics with the same labelset",
            "{q}"
        );
    }
    // Matching on an ordinary label: each result is its signature.
    let ok = engine
        .instant(&s, &expr("other + on (job) spare"), 0)
        .unwrap();
    match ok.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].labels, l(&[("job", "a")]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn name_removal_collisions_depend_on_the_mode() {
    let q = parse_with(r#"rate({job="c"}[5m])"#, &ParseOptions::all()).unwrap();
    // Immediate removal: two series with the same labels is an error, even
    // when their points never meet.
    let err = Engine::new(EngineOptions::default())
        .range(&store(), &q, 0, 600_000, 60_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    // Delayed removal merges them at the end.
    let res = Engine::new(EngineOptions::upstream_tests())
        .range(&store(), &q, 0, 600_000, 60_000)
        .unwrap();
    match res.value {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].labels.to_string(), r#"{job="c"}"#);
            let ts: Vec<i64> = m[0].floats.iter().map(|p| p.t).collect();
            assert_eq!(ts, vec![60_000, 120_000, 180_000, 240_000, 600_000]);
        }
        other => panic!("{other:?}"),
    }
}

/// An instant selector reads the latest sample of a block of series before
/// it works through them: over many series of every kind (fresh, stale,
/// too old, with a later sample, a histogram) it must give each series
/// what that series gives when selected alone.
#[test]
fn an_instant_selector_over_many_series_gives_each_what_it_gives_alone() {
    const T: i64 = 3_600_000;
    let mut s = MemoryStorage::new();
    for i in 0..53 {
        let lbl = l(&[("__name__", "m"), ("k", &i.to_string())]);
        match i % 5 {
            0 => s.add(&lbl, T - 15_000, i as f64),
            1 => {
                s.add(&lbl, T - 60_000, i as f64);
                s.add(&lbl, T - 30_000, stale_nan());
            }
            // Older than the five-minute lookback.
            2 => s.add(&lbl, T - 360_000, i as f64),
            3 => {
                let h = promql_engine::model::FloatHistogram {
                    count: i as f64,
                    sum: 1.0,
                    ..Default::default()
                };
                s.add_histogram(&lbl, T - 15_000, std::sync::Arc::new(h));
            }
            _ => {
                s.add(&lbl, T - 45_000, i as f64);
                s.add(&lbl, T + 15_000, -1.0);
            }
        }
    }
    s.commit();
    let eval = |q: &str| {
        let expr = parse_with(q, &ParseOptions::all()).expect("query parses");
        match Engine::new(EngineOptions::default()).instant(&s, &expr, T) {
            Ok(r) => match r.value {
                Value::Vector(v) => v,
                other => panic!("{q}: a vector expected, got {other:?}"),
            },
            Err(e) => panic!("{q}: {e}"),
        }
    };
    let all = eval("m");
    let mut alone = Vec::new();
    for i in 0..53 {
        alone.extend(eval(&format!("m{{k=\"{i}\"}}")));
    }
    alone.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut sorted_all = all.clone();
    sorted_all.sort_by(|a, b| a.labels.cmp(&b.labels));
    assert_eq!(format!("{sorted_all:?}"), format!("{alone:?}"));
    // Fresh, histogram and earlier-than-a-later-sample series.
    let kept = (0..53).filter(|i| matches!(i % 5, 0 | 3 | 4)).count();
    assert_eq!(all.len(), kept);
    let value_of = |k: &str| {
        all.iter()
            .find(|s| s.labels.get("k") == Some(k))
            .map(|s| s.value.clone())
    };
    assert_eq!(value_of("4"), Some(SampleValue::Float(4.0)));
    assert_eq!(value_of("5"), Some(SampleValue::Float(5.0)));
    assert_eq!(value_of("6"), None, "stale");
    assert_eq!(value_of("7"), None, "too old");
    assert!(matches!(value_of("8"), Some(SampleValue::Histogram(_))));
}
