//! A storage that breaks its contract (ignores matchers and windows, returns
//! unsorted and duplicate samples, duplicate series, malformed histograms,
//! misaligned start timestamps, or fails) cannot make the engine panic.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use promql_engine::engine::{Engine, EngineOptions, EvalError};
use promql_engine::model::histogram::BucketSpan;
use promql_engine::model::{FPoint, FloatHistogram, HPoint, Labels, Matcher, stale_nan};
use promql_engine::parser::functions::FUNCTIONS;
use promql_engine::parser::{ParseOptions, parse, parse_with};
use promql_engine::storage::{SelectHints, SelectedSeries, StartTimestamps, Storage, StorageError};

/// Histograms whose parts disagree with each other.
fn malformed_histograms() -> Vec<FloatHistogram> {
    let span = |offset, length| BucketSpan { offset, length };
    vec![
        FloatHistogram::default(),
        // More spans than buckets, and the reverse.
        FloatHistogram {
            schema: 0,
            count: 3.0,
            sum: 1.0,
            positive_spans: vec![span(0, 5)],
            positive_buckets: vec![1.0],
            negative_spans: vec![],
            negative_buckets: vec![1.0, 2.0, 3.0],
            ..Default::default()
        },
        // Schema out of range, huge offsets and lengths.
        FloatHistogram {
            schema: 1000,
            count: f64::NAN,
            sum: f64::INFINITY,
            zero_threshold: -1.0,
            zero_count: f64::NEG_INFINITY,
            positive_spans: vec![span(i32::MAX, 1), span(i32::MIN, 1)],
            positive_buckets: vec![1.0, f64::NAN],
            negative_spans: vec![span(0, u32::MAX)],
            negative_buckets: vec![1.0],
            ..Default::default()
        },
        FloatHistogram {
            schema: -1000,
            count: -5.0,
            sum: f64::NAN,
            positive_spans: vec![span(-3, 2), span(-10, 2)],
            positive_buckets: vec![-1.0, 0.0, f64::INFINITY, 2.0],
            ..Default::default()
        },
        // Custom buckets without bounds, with unsorted and infinite bounds.
        FloatHistogram {
            schema: -53,
            count: 2.0,
            sum: 1.0,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![1.0, 1.0, 1.0],
            custom_values: vec![],
            ..Default::default()
        },
        FloatHistogram {
            schema: -53,
            count: 2.0,
            sum: 1.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1.0, 1.0],
            custom_values: vec![5.0, f64::NAN, 1.0, f64::INFINITY],
            ..Default::default()
        },
        // Exponential histogram with custom bounds attached.
        FloatHistogram {
            schema: 3,
            count: 1.0,
            sum: 1.0,
            custom_values: vec![1.0, 2.0],
            ..Default::default()
        },
    ]
}

/// Returns the same unruly data for every selection.
struct Hostile {
    series: Vec<(Labels, Vec<FPoint>, Vec<HPoint>)>,
}

impl Hostile {
    fn new() -> Self {
        let floats: Vec<FPoint> = [
            (60_000, 1.0),
            (0, f64::NAN),
            (60_000, 2.0),
            (i64::MAX, 3.0),
            (i64::MIN, -1.0),
            (30_000, stale_nan()),
            (-30_000, f64::INFINITY),
            (90_000, f64::NEG_INFINITY),
            (120_000, 1e308),
        ]
        .into_iter()
        .map(|(t, v)| FPoint { t, v })
        .collect();
        let hists: Vec<HPoint> = malformed_histograms()
            .into_iter()
            .enumerate()
            .map(|(i, h)| HPoint {
                t: 120_000 - (i as i64) * 15_000,
                h: Arc::new(h),
            })
            .chain(std::iter::once(HPoint {
                t: 60_000,
                h: Arc::new(FloatHistogram::default()),
            }))
            .collect();
        let labels = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs);
        Hostile {
            series: vec![
                (
                    labels(&[("__name__", "x"), ("i", "a")]),
                    floats.clone(),
                    vec![],
                ),
                // The same series twice.
                (
                    labels(&[("__name__", "x"), ("i", "a")]),
                    floats.clone(),
                    vec![],
                ),
                (
                    labels(&[("__name__", "x"), ("i", "b")]),
                    vec![],
                    hists.clone(),
                ),
                // Floats and histograms at the same timestamps.
                (
                    labels(&[("__name__", "x"), ("i", "c")]),
                    floats.clone(),
                    hists,
                ),
                // No name, empty labels, a bucket label that is not a number.
                (labels(&[("i", "d")]), floats.clone(), vec![]),
                (Labels::empty(), floats.clone(), vec![]),
                (
                    labels(&[("__name__", "x_bucket"), ("le", "abc")]),
                    floats.clone(),
                    vec![],
                ),
                (
                    labels(&[("__name__", "x_bucket"), ("le", "+Inf")]),
                    floats,
                    vec![],
                ),
            ],
        }
    }
}

impl Storage for Hostile {
    fn select(
        &self,
        _matchers: &[Matcher],
        _hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        Ok(self
            .series
            .iter()
            .map(|(labels, floats, hists)| SelectedSeries {
                labels: labels.clone(),
                floats: Cow::Borrowed(floats),
                histograms: Cow::Borrowed(hists),
            })
            .collect())
    }

    fn start_timestamps(
        &self,
        _labels: &Labels,
        _hints: &SelectHints,
    ) -> Result<StartTimestamps, StorageError> {
        // Misaligned: one entry, whatever was selected.
        Ok(StartTimestamps {
            floats: vec![i64::MAX],
            histograms: vec![],
        })
    }
}

/// Fails every selection.
struct Failing;

impl Storage for Failing {
    fn select(
        &self,
        _matchers: &[Matcher],
        _hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        Err(StorageError::Timeout("the backend is gone".into()))
    }
}

fn queries() -> Vec<String> {
    let mut out: Vec<String> = [
        "x",
        "x[5m]",
        "x + x",
        "x / on(i) group_left x",
        "x and x",
        "x or x",
        "sum(x)",
        "avg by (i) (x)",
        "count_values(\"v\", x)",
        "topk(2, x)",
        "quantile(0.5, x)",
        "histogram_quantile(0.9, x_bucket)",
        "histogram_quantile(0.9, x)",
        "histogram_fraction(0, 1, x)",
        "max_over_time(x[5m:1m])",
        "x @ 60",
        "x offset -1m",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for f in FUNCTIONS {
        let args: Vec<String> = (0..f.min_args().max(1))
            .filter_map(|i| {
                Some(match f.arg_type(i)? {
                    promql_engine::model::ValueType::Vector => "x".to_string(),
                    promql_engine::model::ValueType::Matrix => "x[5m]".to_string(),
                    promql_engine::model::ValueType::Scalar => "0.5".to_string(),
                    promql_engine::model::ValueType::String => "\"i\"".to_string(),
                })
            })
            .collect();
        out.push(format!("{}({})", f.name, args.join(", ")));
    }
    out
}

#[test]
fn a_contract_breaking_storage_cannot_make_the_engine_panic() {
    let storage = Hostile::new();
    let mut options = EngineOptions::upstream_tests();
    options.max_samples = 1_000_000;
    let engines = [
        Engine::new(options.clone()),
        Engine::new({
            options.delayed_name_removal = false;
            options.start_timestamps = false;
            options
        }),
    ];
    let mut panics = Vec::new();
    let mut evaluated = 0;
    for q in queries() {
        let Ok(expr) = parse_with(&q, &ParseOptions::all()) else {
            continue;
        };
        for engine in &engines {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let _ = engine.instant(&storage, &expr, 120_000);
                let _ = engine.instant(&storage, &expr, i64::MAX);
                let _ = engine.range(&storage, &expr, 0, 300_000, 30_000);
            }));
            if outcome.is_err() {
                panics.push(q.clone());
            }
            evaluated += 1;
        }
    }
    println!("{evaluated} evaluations over a hostile storage");
    assert!(evaluated > 200);
    assert!(
        panics.is_empty(),
        "{} queries panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
}

#[test]
fn storage_errors_become_eval_errors() {
    let engine = Engine::default();
    for q in [
        "x",
        "rate(x[5m])",
        "sum(x) + 1",
        "max_over_time(x[5m:1m])",
        "absent(x)",
    ] {
        let expr = parse(q).unwrap();
        let err = engine.instant(&Failing, &expr, 0).unwrap_err();
        assert!(matches!(err, EvalError::Storage(_)), "{q}: {err}");
        assert_eq!(err.to_string(), "storage timeout: the backend is gone");
        let err = engine
            .range(&Failing, &expr, 0, 60_000, 10_000)
            .unwrap_err();
        assert!(matches!(err, EvalError::Storage(_)), "{q}: {err}");
    }
    // Queries that select nothing do not touch the storage.
    let expr = parse("vector(1) + time()").unwrap();
    assert!(engine.instant(&Failing, &expr, 0).is_ok());
}
