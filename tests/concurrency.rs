//! One store, one engine and one set of parsed queries shared by eight
//! threads: every concurrent result equals the serial one, series order
//! included, and a failing query on one thread does not disturb the others.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use promql_engine::engine::{Engine, EngineOptions, EvalError, QueryResult};
use promql_engine::model::Labels;
use promql_engine::parser::{Expr, ParseError, ParseOptions, parse_with};
use promql_engine::storage::{MemoryStorage, Storage};

const THREADS: usize = 8;
const ROUNDS: usize = 3;

/// Compile-time proof that the shared types can cross and be shared between threads.
#[test]
fn public_types_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Engine>();
    both::<EngineOptions>();
    both::<MemoryStorage>();
    both::<Arc<dyn Storage>>();
    both::<Expr>();
    both::<QueryResult>();
    both::<EvalError>();
    both::<ParseError>();
    both::<Labels>();
}

fn store() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    for job in ["api", "db", "web"] {
        for instance in 0..6 {
            let inst = instance.to_string();
            let counter = Labels::from_pairs(&[
                ("__name__", "requests_total"),
                ("job", job),
                ("instance", &inst),
            ]);
            let gauge =
                Labels::from_pairs(&[("__name__", "temp"), ("job", job), ("instance", &inst)]);
            for k in 0..60i64 {
                let t = k * 15_000;
                // A counter with a reset, and a gauge with a NaN.
                let c = if k == 30 {
                    1.0
                } else {
                    (k * (instance + 1)) as f64
                };
                s.add(&counter, t, c);
                let g = if k == 17 {
                    f64::NAN
                } else {
                    ((k * 7 + instance) % 23) as f64
                };
                s.add(&gauge, t, g);
            }
            for le in ["0.1", "1", "10", "+Inf"] {
                let bucket = Labels::from_pairs(&[
                    ("__name__", "lat_bucket"),
                    ("job", job),
                    ("instance", &inst),
                    ("le", le),
                ]);
                let w: f64 = le.parse().unwrap_or(100.0);
                for k in 0..60i64 {
                    s.add(&bucket, k * 15_000, k as f64 * w.min(20.0));
                }
            }
        }
    }
    s.commit();
    s
}

const QUERIES: &[&str] = &[
    "requests_total",
    "rate(requests_total[1m])",
    "sum by (job) (rate(requests_total[2m]))",
    "topk(3, temp)",
    "bottomk by (job) (2, temp)",
    "sort_desc(temp)",
    "sort_by_label(temp, \"instance\")",
    "temp > on(job, instance) group_left rate(requests_total[1m])",
    "avg_over_time(temp[5m])",
    "quantile_over_time(0.9, temp[5m])",
    "histogram_quantile(0.9, sum by (le, job) (rate(lat_bucket[2m])))",
    "max_over_time(deriv(temp[2m])[5m:30s])",
    "count_values(\"v\", temp)",
    "label_replace(temp, \"j\", \"$1\", \"job\", \"(.)b\")",
    "absent(nope)",
    "resets(requests_total[15m])",
    "temp unless on(instance) requests_total > 100",
    "scalar(sum(temp)) * time()",
    "limitk(2, temp)",
    "quantile by (job) (0.5, temp)",
];

/// One query run: an instant query at 10m and a range query over 15 min.
fn run(engine: &Engine, storage: &dyn Storage, expr: &Expr) -> String {
    let render = |r: Result<QueryResult, EvalError>| match r {
        // Debug renders NaN, and keeps series order.
        Ok(r) => format!("{:?} {:?}", r.value, r.annotations),
        Err(e) => format!("error: {e}"),
    };
    format!(
        "{}\n{}",
        render(engine.instant(storage, expr, 600_000)),
        render(engine.range(storage, expr, 0, 900_000, 30_000))
    )
}

#[test]
fn concurrent_results_equal_serial_results() {
    let storage: Arc<MemoryStorage> = Arc::new(store());
    let engine = Arc::new(Engine::new(EngineOptions::upstream_tests()));
    let exprs: Arc<Vec<Expr>> = Arc::new(
        QUERIES
            .iter()
            .map(|q| parse_with(q, &ParseOptions::all()).unwrap_or_else(|e| panic!("{q}: {e}")))
            .collect(),
    );
    let serial: Vec<String> = exprs
        .iter()
        .map(|e| run(&engine, storage.as_ref(), e))
        .collect();
    assert!(
        serial.iter().all(|s| !s.contains("error:")),
        "the fixture queries succeed serially"
    );
    // Determinism on one thread first.
    for (e, want) in exprs.iter().zip(&serial) {
        assert_eq!(&run(&engine, storage.as_ref(), e), want);
    }

    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (storage, engine, exprs, barrier) = (
                Arc::clone(&storage),
                Arc::clone(&engine),
                Arc::clone(&exprs),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let mut out = Vec::new();
                // Each thread walks the queries from a different start, so
                // different queries overlap in time.
                for round in 0..ROUNDS {
                    for k in 0..exprs.len() {
                        let i = (k + thread * 3 + round) % exprs.len();
                        out.push((i, run(&engine, storage.as_ref(), &exprs[i])));
                    }
                }
                out
            })
        })
        .collect();
    let mut compared = 0;
    for h in handles {
        for (i, got) in h.join().expect("no thread panicked") {
            assert_eq!(got, serial[i], "{} differs under concurrency", QUERIES[i]);
            compared += 1;
        }
    }
    assert_eq!(compared, THREADS * ROUNDS * QUERIES.len());
}

#[test]
fn a_failing_query_does_not_disturb_other_threads() {
    let storage = Arc::new(store());
    let good = Engine::default();
    let mut opts = EngineOptions::default();
    opts.max_samples = 10;
    opts.timeout = Some(Duration::from_nanos(1));
    let strict = Engine::new(opts);
    let expr = parse_with(
        "sum by (job) (rate(requests_total[2m]))",
        &ParseOptions::default(),
    )
    .expect("parses");
    let want = run(&good, storage.as_ref(), &expr);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for thread in 0..THREADS {
            let (storage, good, strict, expr, want) = (&storage, &good, &strict, &expr, &want);
            handles.push(scope.spawn(move || {
                for _ in 0..ROUNDS * 4 {
                    if thread % 2 == 0 {
                        let got = run(strict, storage.as_ref(), expr);
                        assert!(got.starts_with("error:"), "{got}");
                    } else {
                        assert_eq!(&run(good, storage.as_ref(), expr), want);
                    }
                }
            }));
        }
        for h in handles {
            h.join().expect("no thread panicked");
        }
    });
}
