//! Evaluating range functions on several threads (`EngineOptions::threads`)
//! gives exactly the sequential result: values, series order, annotations
//! and statistics counters that do not depend on timing. Grouping keys and
//! match signatures recorded as a range function makes its series, on one
//! thread or several, group as a later pass over the result does.

use promql_engine::model::Labels;
use promql_engine::storage::MemoryStorage;
use promql_engine::{Engine, EngineOptions, QueryResult, parse};

fn storage() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    for i in 0..40usize {
        let instance = format!("i{i}");
        let job = format!("j{}", i % 3);
        // A name without a counter suffix, so rate() adds an info annotation.
        let name = if i % 2 == 0 { "req_total" } else { "req" };
        let labels = Labels::from_pairs(&[
            ("__name__", name),
            ("instance", instance.as_str()),
            ("job", job.as_str()),
        ]);
        for k in 0..200i64 {
            // Counter resets every 50 samples, and a stale marker in series 7.
            let v = if i == 7 && k == 120 {
                f64::from_bits(0x7ff0_0000_0000_0002)
            } else {
                ((k % 50) * (i as i64 + 1)) as f64
            };
            s.add(&labels, k * 15_000, v);
        }
    }
    s.commit();
    s
}

fn run(threads: usize, q: &str, range: bool) -> QueryResult {
    let mut options = EngineOptions::default();
    options.threads = threads;
    let engine = Engine::new(options);
    let expr = parse(q).unwrap();
    let s = storage();
    if range {
        engine.range(&s, &expr, 600_000, 2_900_000, 30_000).unwrap()
    } else {
        engine.instant(&s, &expr, 2_000_000).unwrap()
    }
}

#[test]
fn parallel_range_functions_match_sequential() {
    for q in [
        "rate({__name__=~\"req.*\"}[5m])",
        "sum by (job) (increase({__name__=~\"req.*\"}[10m]))",
        "max_over_time({__name__=~\"req.*\"}[3m])",
        "resets(req_total[20m])",
        "topk(3, deriv(req[5m]))",
        "sum without (instance) (rate({__name__=~\"req.*\"}[5m]))",
        "rate(req_total[5m]) * on (job) group_left max by (job) (rate(req[5m]))",
        "rate(req_total[5m]) and on (job) rate(req[5m])",
    ] {
        for range in [false, true] {
            let one = run(1, q, range);
            for threads in [2, 3, 8] {
                let many = run(threads, q, range);
                assert_eq!(one.value, many.value, "{q} range={range} threads={threads}");
                assert_eq!(one.annotations, many.annotations, "{q} threads={threads}");
                assert_eq!(one.stats.samples_read, many.stats.samples_read, "{q}");
                assert_eq!(one.stats.total_samples, many.stats.total_samples, "{q}");
            }
        }
    }
    // The info about a non-counter name is found on a worker thread and kept.
    let r = run(4, "rate({__name__=~\"req.*\"}[5m])", true);
    assert_eq!(r.annotations.len(), 1);
    assert!(r.annotations[0].message.contains("might not be a counter"));
}

#[test]
fn keys_recorded_as_series_are_made_group_like_a_later_pass() {
    // Each query, then the same with its range functions' results passed
    // through `+ 0`, which hides them from the aggregation or match above:
    // that one groups in a pass of its own.
    for (recorded, later) in [
        (
            "sum by (job) (rate({__name__=~\"req.*\"}[5m]))",
            "sum by (job) (rate({__name__=~\"req.*\"}[5m]) + 0)",
        ),
        (
            "count without (instance) (changes(req[10m]))",
            "count without (instance) (changes(req[10m]) + 0)",
        ),
        (
            "rate(req_total[5m]) * on (job) group_left max by (job) (rate(req[5m]))",
            "(rate(req_total[5m]) + 0) * on (job) group_left max by (job) (rate(req[5m]) + 0)",
        ),
        (
            "rate(req_total[5m]) / ignoring (instance) group_left rate(req_total{instance=\"i0\"}[5m])",
            "(rate(req_total[5m]) + 0) / ignoring (instance) group_left () (rate(req_total{instance=\"i0\"}[5m]) + 0)",
        ),
    ] {
        for range in [false, true] {
            for threads in [1, 3] {
                let (a, b) = (run(threads, recorded, range), run(threads, later, range));
                assert_eq!(
                    a.value, b.value,
                    "{recorded} range={range} threads={threads}"
                );
            }
        }
    }
}

#[test]
fn label_sets_that_collide_once_names_are_dropped_fail_on_any_thread_count() {
    // `a{i="k"}` and `b{i="k"}` both become `{i="k"}` under rate(): the two
    // series of a pair may land with different workers.
    let mut s = MemoryStorage::new();
    for i in 0..20usize {
        let i = i.to_string();
        for name in ["a", "b"] {
            let labels = Labels::from_pairs(&[("__name__", name), ("i", i.as_str())]);
            for k in 0..40i64 {
                s.add(&labels, k * 15_000, k as f64);
            }
        }
    }
    s.commit();
    let expr = parse("rate({i=~\".+\"}[5m])").unwrap();
    let one_name = parse("rate(a[5m])").unwrap();
    for threads in [1, 2, 3, 8] {
        let mut options = EngineOptions::default();
        options.threads = threads;
        let engine = Engine::new(options);
        let err = engine.instant(&s, &expr, 500_000).unwrap_err();
        assert!(
            err.to_string().contains("same labelset"),
            "{threads}: {err}"
        );
        let ok = engine.instant(&s, &one_name, 500_000).unwrap();
        let promql_engine::model::Value::Vector(v) = ok.value else {
            panic!("{threads}: not a vector");
        };
        assert_eq!(v.len(), 20, "{threads}");
    }
}

#[test]
fn a_sample_limit_reached_inside_a_selection_fails_alike_on_any_thread_count() {
    // On one thread the selection is taken from the store a block of series
    // at a time, on several it is collected first: the limit is reached
    // part-way through it either way, and reported the same.
    let s = storage();
    let expr = parse("rate({__name__=~\"req.*\"}[5m])").unwrap();
    let mut errors = Vec::new();
    for threads in [1, 2] {
        let mut options = EngineOptions::default();
        options.threads = threads;
        // A window of 20 samples is held with the results so far, one per
        // series: the 31st of the 40 series goes over.
        options.max_samples = 50;
        let err = Engine::new(options)
            .instant(&s, &expr, 2_000_000)
            .unwrap_err();
        errors.push(err.to_string());
    }
    assert!(errors[0].contains("too many samples"), "{}", errors[0]);
    assert_eq!(errors[0], errors[1]);
}
