//! Hostile queries and data: every case returns a result or a clear error,
//! quickly and without unbounded memory, and never panics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use promql_engine::engine::{Engine, EngineOptions, EvalError};
use promql_engine::model::{Labels, SampleValue, Value, stale_nan};
use promql_engine::parser::{ParseErrorKind, ParseOptions, parse, parse_with};
use promql_engine::storage::exposition::{ExpositionError, ExpositionFormat, load_exposition};
use promql_engine::storage::load::{LoadDataError, load_data};
use promql_engine::storage::{MemoryStorage, SelectHints, Storage};

fn small_store() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    for i in 0..3 {
        let labels = Labels::from_pairs(&[("__name__", "x"), ("i", &i.to_string())]);
        for k in 0..40 {
            s.add(&labels, k * 15_000, k as f64);
        }
    }
    s.commit();
    s
}

/// Runs `f` on a thread with a 2 MiB stack, the default for test threads
/// and smaller than a main thread's.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic")
}

fn vector_len(v: &Value) -> usize {
    match v {
        Value::Vector(v) => v.len(),
        Value::Matrix(m) => m.len(),
        _ => 1,
    }
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Vector(v) => v
            .iter()
            .filter_map(|s| match s.value {
                SampleValue::Float(f) => Some(f),
                SampleValue::Histogram(_) => None,
            })
            .collect(),
        Value::Scalar { v, .. } => vec![*v],
        Value::Matrix(m) => m
            .iter()
            .flat_map(|s| s.floats.iter().map(|p| p.v))
            .collect(),
        Value::String { .. } => vec![],
    }
}

// ---- deep and long queries ---------------------------------------------------

#[test]
fn hundred_thousand_parentheses_error_fast_on_a_small_stack() {
    let took = on_small_stack(|| {
        let input = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        let began = Instant::now();
        let e = parse(&input).unwrap_err();
        assert!(matches!(e.kind(), ParseErrorKind::TooDeep { .. }), "{e}");
        began.elapsed()
    });
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn nesting_just_under_the_limit_evaluates() {
    // The evaluator recurses once per level; it must cope with anything the
    // parser accepts, on a small caller stack.
    on_small_stack(|| {
        let storage = small_store();
        let engine = Engine::default();
        for q in [
            format!("{}x{}", "(".repeat(990), ")".repeat(990)),
            format!("{}x{}", "abs(".repeat(990), ")".repeat(990)),
            format!("{}x{}", "-".repeat(990), ""),
            vec!["x"; 990].join(" + "),
            vec!["x"; 990].join(" or "),
            format!("{}x{}", "sum(".repeat(990), ")".repeat(990)),
        ] {
            let expr = parse(&q).unwrap_or_else(|e| panic!("{e}"));
            let r = engine.instant(&storage, &expr, 300_000).expect("evaluates");
            assert!(vector_len(&r.value) >= 1);
            let r = engine
                .range(&storage, &expr, 0, 300_000, 60_000)
                .expect("evaluates");
            assert!(vector_len(&r.value) >= 1);
        }
    });
}

#[test]
fn ten_megabyte_or_chain_is_a_depth_error_in_linear_time() {
    let short = vec!["x"; 20_000].join(" or ");
    let long = vec!["x"; 2_000_001].join(" or "); // 10 MB
    assert!(long.len() >= 10_000_000);
    for input in [&short, &long] {
        let e = parse(input).unwrap_err();
        assert!(matches!(e.kind(), ParseErrorKind::TooDeep { .. }), "{e}");
    }
    let began = Instant::now();
    let _ = parse(&long);
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// Median of three timings of `f`.
fn timed(f: impl Fn()) -> Duration {
    let mut t: Vec<Duration> = (0..3)
        .map(|_| {
            let began = Instant::now();
            f();
            began.elapsed()
        })
        .collect();
    t.sort();
    t[1]
}

#[test]
fn ten_megabyte_label_value_parses_in_linear_time() {
    let query = |n: usize| format!("x{{a=\"{}\"}}", "v".repeat(n));
    let one = query(1 << 20);
    let ten = query(10 << 20);
    let t1 = timed(|| {
        let e = parse(&one).expect("parses");
        assert_eq!(e.to_string().len(), one.len());
    });
    let began = Instant::now();
    let e = parse(&ten).expect("parses");
    let t10 = began.elapsed();
    assert_eq!(e.to_string().len(), ten.len());
    println!("1 MiB: {t1:?}, 10 MiB: {t10:?}");
    // Linear: ten times the input takes about ten times as long (a quadratic
    // parser would take a hundred times).
    assert!(
        t10 < t1 * 30 + Duration::from_millis(50),
        "{t1:?} vs {t10:?}"
    );
    // Also over the length limit it is a clean error.
    let e = parse_with(&ten, &ParseOptions::default().with_max_length(1 << 20)).unwrap_err();
    assert!(matches!(e.kind(), ParseErrorKind::TooLong { .. }), "{e}");
}

#[test]
fn huge_or_deep_regexes_are_errors() {
    // A few bytes that would compile to far more than the regex size limit.
    let blowup = r#"x{a=~"(abc|def){1000}{1000}"}"#;
    let e = parse(blowup).unwrap_err();
    assert!(e.message().contains("regex too large"), "{}", e.message());
    // Nested deeper than the regex parser allows.
    let deep = format!("x{{a=~\"{}a{}\"}}", "(".repeat(10_000), ")".repeat(10_000));
    let e = on_small_stack(move || parse(&deep).map(|_| ()).unwrap_err().message().to_string());
    assert!(e.contains("nested"), "{e}");
    // In label_replace the same patterns are evaluation errors.
    let storage = small_store();
    let engine = Engine::default();
    let q = r#"label_replace(x, "d", "$1", "i", "(abc|def){1000}{1000}")"#;
    let err = engine.instant(&storage, &parse(q).unwrap(), 0).unwrap_err();
    assert!(
        err.to_string().contains("invalid regular expression"),
        "{err}"
    );
    assert!(engine.instant(&storage, &parse("x").unwrap(), 0).is_ok());
}

// ---- huge ranges, steps and subqueries --------------------------------------

#[test]
fn hundred_year_ranges_are_bounded_by_the_data() {
    let storage = small_store();
    let engine = Engine::default();
    for q in [
        "x[100y]",
        "rate(x[100y])",
        "quantile_over_time(0.5, x[100y])",
        "x[100y] offset 50y",
    ] {
        let expr = parse(q).unwrap();
        let began = Instant::now();
        let r = engine.instant(&storage, &expr, 600_000).expect(q);
        assert!(began.elapsed() < Duration::from_secs(2), "{q}");
        assert!(vector_len(&r.value) <= 3, "{q}");
    }
    // Over the year as a range query, with a coarse step.
    let expr = parse("sum_over_time(x[100y])").unwrap();
    let r = engine
        .range(&storage, &expr, 0, 365 * 86_400_000, 86_400_000)
        .unwrap();
    assert_eq!(vector_len(&r.value), 3);
}

#[test]
fn fine_subqueries_over_a_hundred_years_are_refused() {
    let storage = small_store();
    let engine = Engine::default();
    for q in [
        "x[100y:1ms]",
        "max_over_time(x[100y:1ms])",
        "sum_over_time(rate(x[5m])[100y:1ms])",
        "max_over_time(x[100y:1ms])[1y:1ms]",
    ] {
        let Ok(expr) = parse(q) else { continue };
        let began = Instant::now();
        let err = engine.instant(&storage, &expr, 600_000).unwrap_err();
        assert!(matches!(err, EvalError::TooManySamples), "{q}: {err}");
        assert!(began.elapsed() < Duration::from_secs(1), "{q}");
    }
    // A coarse subquery over the same range is fine.
    let expr = parse("max_over_time(x[100y:1y])").unwrap();
    assert!(engine.instant(&storage, &expr, 600_000).is_ok());
}

#[test]
fn millisecond_step_over_a_year_is_an_error_not_an_allocation() {
    let storage = small_store();
    let engine = Engine::default();
    let expr = parse("rate(x[5m])").unwrap();
    let began = Instant::now();
    let err = engine
        .range(&storage, &expr, 0, 365 * 86_400_000, 1)
        .unwrap_err();
    assert!(matches!(err, EvalError::TooManyPoints { .. }), "{err}");
    // The whole i64 range with step 1 too.
    let err = engine
        .range(&storage, &expr, i64::MIN, i64::MAX, 1)
        .unwrap_err();
    assert!(matches!(err, EvalError::TooManyPoints { .. }), "{err}");
    assert!(began.elapsed() < Duration::from_millis(100));
}

// ---- regexes -----------------------------------------------------------------

#[test]
fn catastrophic_backtracking_patterns_run_in_linear_time() {
    let mut storage = MemoryStorage::new();
    let long = format!("{}!", "a".repeat(100_000));
    for (i, v) in [long.as_str(), "aaaa", "b"].iter().enumerate() {
        let labels = Labels::from_pairs(&[("__name__", "x"), ("v", v), ("i", &i.to_string())]);
        storage.add(&labels, 0, 1.0);
    }
    storage.commit();
    let engine = Engine::default();
    for (q, want) in [
        (r#"x{v=~"(a+)+$"}"#, 1),
        (r#"x{v=~"(a|a)*$"}"#, 1),
        (r#"x{v=~"(a|aa)+"}"#, 1),
        (r#"x{v=~"(a*)*b"}"#, 1),
        (r#"x{v!~"(a+)+"}"#, 2),
        (r#"count(label_replace(x, "w", "$1", "v", "((a+)+)!"))"#, 1),
    ] {
        let expr = parse(q).unwrap();
        let began = Instant::now();
        let r = engine.instant(&storage, &expr, 0).expect(q);
        let took = began.elapsed();
        assert!(took < Duration::from_millis(500), "{q}: {took:?}");
        assert_eq!(vector_len(&r.value), want, "{q}");
    }
}

// ---- hostile data ------------------------------------------------------------

#[test]
fn invalid_utf8_in_exposition_is_a_clear_error() {
    let mut storage = MemoryStorage::new();
    let input = b"ok 1 1000\nbad{l=\"\xff\xfe\"} 1 1000\n";
    let err = load_exposition(input, ExpositionFormat::Text, 0, &mut storage).unwrap_err();
    match &err {
        ExpositionError::Syntax { line, message } => {
            assert_eq!(*line, 2);
            assert!(message.contains("UTF-8"), "{message}");
        }
        other => panic!("{other}"),
    }
    // Nothing was stored from the malformed input.
    assert_eq!(storage.series_count(), 0);
    // Through the kind-detecting loader as well, in both formats.
    let err = load_data(input, &mut storage, 0).unwrap_err();
    assert!(matches!(err, LoadDataError::Exposition(_)), "{err}");
    let om = b"# TYPE a gauge\na{l=\"\xc3\x28\"} 1\n# EOF\n";
    let err = load_data(om, &mut storage, 0).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
    // A test script with invalid UTF-8.
    let script = b"load 1m\n  x{l=\"\xff\"} 1 2\n";
    let err = load_data(script, &mut storage, 0).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
    // The store still loads good input afterwards.
    assert_eq!(load_data(b"ok 1 1000\n", &mut storage, 0).unwrap().1, 1);
}

#[test]
fn duplicate_series_in_loaded_data_keep_one_series() {
    let mut storage = MemoryStorage::new();
    let text = b"d{a=\"1\"} 1 1000\nd{a=\"1\"} 2 2000\nd{a=\"1\"} 3 2000\n";
    assert_eq!(load_data(text, &mut storage, 0).unwrap().1, 3);
    let script = b"load 1m\n  s{a=\"1\"} 1 2 3\n  s{a=\"1\"} 4 5 6\n";
    assert!(load_data(script, &mut storage, 0).is_ok());
    let engine = Engine::default();
    for q in [
        "d",
        "s",
        "count(d) + count(s)",
        "rate(d[1m])",
        "s + on() group_left d",
    ] {
        let expr = parse(q).unwrap();
        let _ = engine.instant(&storage, &expr, 2_000);
        let _ = engine.range(&storage, &expr, 0, 180_000, 1_000);
    }
    // Whatever the loaders accepted, a series is stored once.
    let hints = SelectHints::window(i64::MIN, i64::MAX);
    let d = storage
        .select(
            &[promql_engine::model::Matcher::equal("__name__", "d")],
            &hints,
        )
        .unwrap();
    assert_eq!(d.len(), 1);
    // The last sample written for a timestamp wins, in both loaders.
    let at = |q: &str, t: i64| {
        floats(
            &engine
                .instant(&storage, &parse(q).unwrap(), t)
                .unwrap()
                .value,
        )
    };
    assert_eq!(at("d", 2_000), vec![3.0]);
    assert_eq!(at("s", 0), vec![4.0]);
    assert_eq!(at("count(s)", 0), vec![1.0]);
    // Direct appends of the same series and timestamp: the last write wins.
    let mut storage = MemoryStorage::new();
    let labels = Labels::from_pairs(&[("__name__", "x")]);
    storage.add(&labels, 1_000, 1.0);
    storage.add(&labels, 1_000, 2.0);
    storage.commit();
    let r = engine
        .instant(&storage, &parse("x").unwrap(), 1_000)
        .unwrap();
    assert_eq!(floats(&r.value), vec![2.0]);
}

#[test]
fn ten_thousand_labels_on_one_series() {
    let mut pairs: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("l{i:05}"), format!("v{i}")))
        .collect();
    pairs.push(("__name__".into(), "big".into()));
    let labels = Labels::from_pairs(&pairs);
    let mut storage = MemoryStorage::new();
    for k in 0..10 {
        storage.add(&labels, k * 60_000, k as f64);
    }
    storage.commit();
    let engine = Engine::new(EngineOptions::upstream_tests());
    let began = Instant::now();
    for q in [
        "big",
        "rate(big[5m])",
        "sum without (l00001) (big)",
        "count by (l05000) (big)",
        "big * on(l09999) group_left big",
        "label_replace(big, \"new\", \"$1\", \"l00042\", \"(.*)\")",
        "label_join(big, \"new\", \",\", \"l00001\", \"l00002\")",
        "topk(1, big)",
        "sort_by_label(big, \"l00003\")",
        "big{l07777=\"v7777\"}",
    ] {
        let expr = parse_with(q, &ParseOptions::all()).unwrap();
        let began = Instant::now();
        let r = engine.instant(&storage, &expr, 540_000).expect(q);
        println!("{q}: {:?}", began.elapsed());
        assert_eq!(vector_len(&r.value), 1, "{q}");
        let r = engine.range(&storage, &expr, 0, 540_000, 60_000).expect(q);
        assert_eq!(vector_len(&r.value), 1, "{q}");
    }
    assert!(began.elapsed() < Duration::from_secs(10));
    // The same series through the exposition loader.
    let line = format!(
        "big{{{}}} 1 1000\n",
        (0..10_000)
            .map(|i| format!("l{i:05}=\"v{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut store = MemoryStorage::new();
    assert_eq!(load_data(line.as_bytes(), &mut store, 0).unwrap().1, 1);
}

#[test]
fn empty_storage_answers_every_kind_of_query() {
    let storage = MemoryStorage::new();
    let engine = Engine::new(EngineOptions::upstream_tests());
    for (q, empty) in [
        ("x", true),
        ("rate(x[5m])", true),
        ("sum(x)", true),
        ("count(x)", true),
        ("x + on() group_left y", true),
        ("topk(3, x)", true),
        ("histogram_quantile(0.9, x)", true),
        ("max_over_time(x[1h:1m])", true),
        ("absent(x)", false),
        ("absent_over_time(x[5m])", false),
        ("vector(1)", false),
        ("scalar(x)", false),
        ("time()", false),
    ] {
        let expr = parse_with(q, &ParseOptions::all()).unwrap();
        let r = engine.instant(&storage, &expr, 1_000).expect(q);
        assert_eq!(vector_len(&r.value) == 0, empty, "{q}");
        let r = engine.range(&storage, &expr, 0, 600_000, 60_000).expect(q);
        assert_eq!(vector_len(&r.value) == 0, empty, "{q}");
    }
    let r = engine
        .instant(&storage, &parse("scalar(x)").unwrap(), 0)
        .unwrap();
    assert!(floats(&r.value)[0].is_nan());
}

// ---- extreme times -----------------------------------------------------------

fn extreme_store() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    let labels = Labels::from_pairs(&[("__name__", "x")]);
    for t in [
        i64::MIN,
        i64::MIN + 1,
        i64::MIN + 60_000,
        -1,
        0,
        1,
        i64::MAX - 60_000,
        i64::MAX - 1,
        i64::MAX,
    ] {
        s.add(&labels, t, t as f64);
    }
    let stale = Labels::from_pairs(&[("__name__", "x"), ("s", "1")]);
    s.add(&stale, i64::MAX, stale_nan());
    s.add(&stale, i64::MIN, f64::INFINITY);
    s.commit();
    s
}

const TIME_QUERIES: &[&str] = &[
    "x",
    "x offset 1m",
    "x offset -1m",
    "rate(x[5m])",
    "deriv(x[1h])",
    "predict_linear(x[1h], 3600)",
    "timestamp(x)",
    "x @ start()",
    "x @ end()",
    "max_over_time(x[10m:1m])",
    "max_over_time(x[10m:1m] offset 1y)",
    "time()",
    "minute(x)",
    "year(timestamp(x))",
    "days_in_month(x)",
    "resets(x[1y])",
];

#[test]
fn timestamps_near_the_ends_of_i64() {
    let storage = extreme_store();
    let engine = Engine::new(EngineOptions::upstream_tests());
    let mut panics = Vec::new();
    for q in TIME_QUERIES {
        let expr = parse_with(q, &ParseOptions::all()).unwrap();
        for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            if catch_unwind(AssertUnwindSafe(|| engine.instant(&storage, &expr, t))).is_err() {
                panics.push(format!("{q} instant at {t}"));
            }
        }
        for (start, end, step) in [
            (i64::MIN, i64::MIN + 120_000, 60_000),
            (i64::MAX - 120_000, i64::MAX, 60_000),
            (i64::MAX - 10, i64::MAX, 1),
            (i64::MIN, i64::MIN + 10, 1),
            (0, i64::MAX, i64::MAX),
        ] {
            let run = || engine.range(&storage, &expr, start, end, step);
            if catch_unwind(AssertUnwindSafe(run)).is_err() {
                panics.push(format!("{q} range {start}..{end} step {step}"));
            }
        }
    }
    assert!(panics.is_empty(), "panicked:\n{}", panics.join("\n"));
    // Plain selection at the very end of time finds the last sample.
    let r = engine
        .instant(&storage, &parse("x").unwrap(), i64::MAX)
        .unwrap();
    assert_eq!(floats(&r.value), vec![i64::MAX as f64]);
}

/// BUG (src/engine/plan.rs, `Lowerer::duration`): `frame.end - frame.start`
/// overflows for a range query spanning more than `i64::MAX` milliseconds
/// with few enough steps to pass the points check; a debug build panics
/// ("attempt to subtract with overflow"), a release build wraps and passes a
/// negative `range()` to duration expressions.
#[test]
fn range_query_spanning_all_of_i64() {
    let storage = extreme_store();
    let engine = Engine::default();
    for q in ["x offset 1m", "rate(x[5m])"] {
        let expr = parse(q).unwrap();
        // Must not panic; a result, if any, is a matrix.
        for start in [-1, i64::MIN] {
            if let Ok(r) = engine.range(&storage, &expr, start, i64::MAX, i64::MAX) {
                assert!(matches!(r.value, Value::Matrix(_)), "{q}");
            }
        }
    }
}

#[test]
fn at_modifier_far_in_the_past_and_future() {
    let storage = extreme_store();
    let engine = Engine::default();
    for q in [
        "x @ 1e18",
        "x @ -1e18",
        "x @ 9.2e15",
        "x @ -9.2e15",
        "x @ 9223372036854775.807",
        "x @ -9223372036854775.808",
        "rate(x[5m] @ 1e300)",
        "x @ 1e308 offset 1y",
        "sum_over_time(x[1y:1d] @ -1e17)",
        "x @ Inf",
        "x @ NaN",
    ] {
        match parse(q) {
            Ok(expr) => {
                let _ = engine.instant(&storage, &expr, 0);
                let _ = engine.range(&storage, &expr, 0, 120_000, 60_000);
            }
            Err(e) => assert!(!e.message().is_empty(), "{q}"),
        }
    }
}

#[test]
fn offsets_that_overflow() {
    let storage = extreme_store();
    let engine = Engine::default();
    for q in [
        "x offset 292y",
        "x offset -292y",
        "x offset 100000000y",
        "x offset 9223372036854775807ms",
        "x offset -9223372036854775807ms",
        "x[5m] offset 292y",
        "x[292y] offset -292y",
        "rate(x[292y] offset 292y)",
        "max_over_time(x[292y:1y] offset 292y)",
        "x @ 9.2e15 offset -292y",
    ] {
        match parse(q) {
            Ok(expr) => {
                for t in [i64::MIN, 0, i64::MAX] {
                    let _ = engine.instant(&storage, &expr, t);
                }
                let _ = engine.range(&storage, &expr, 0, 120_000, 60_000);
            }
            Err(e) => assert!(!e.message().is_empty(), "{q}"),
        }
    }
}

/// BUG (src/engine/functions, `label_join` and `label_replace`): the label
/// values they build are not accounted against any limit, so a query of a
/// few dozen KiB makes a label of hundreds of MiB (quadratic in the query
/// length: a 1 MiB query can ask for tens of GiB and abort the process).
/// Wanted: an error once a built label value passes a bound (here: the
/// parser's default `max_length`, 64 MiB).
#[test]
#[ignore = "engine bug: label_join/label_replace output size is unbounded"]
fn label_functions_cannot_amplify_a_small_query_into_huge_labels() {
    let storage = small_store();
    let engine = Engine::default();
    let separator = "s".repeat(40_000);
    let sources = vec!["\"i\""; 2_000].join(", "); // 80 MB of separators
    let join = format!("label_join(x, \"j\", \"{separator}\", {sources})");
    let replacement = "$1".repeat(30_000);
    let replace = format!(
        "label_replace(label_replace(x, \"i\", \"{separator}\", \"\", \"\"), \"j\", \"{replacement}\", \"i\", \"(.*)\")"
    );
    for q in [join, replace] {
        assert!(q.len() < 100_000);
        let expr = parse(&q).unwrap();
        match engine.instant(&storage, &expr, 0) {
            Err(_) => {}
            Ok(r) => {
                let longest = match &r.value {
                    Value::Vector(v) => v
                        .iter()
                        .flat_map(|s| s.labels.iter().map(|l| l.value.len()))
                        .max()
                        .unwrap_or(0),
                    _ => 0,
                };
                assert!(
                    longest <= 64 << 20,
                    "a {} byte query built a {longest} byte label",
                    q.len()
                );
            }
        }
    }
}

// ---- series notation expansion --------------------------------------------------

#[test]
fn series_notation_expansion_is_bounded_per_series() {
    let mut storage = MemoryStorage::new();
    // Each item is under the per-item limit, together they are over it;
    // the check happens before anything is allocated.
    for script in [
        "load 1m\n  x 1 0x10000000\n",
        "load 1m\n  x _x5000000 _x5000001\n",
        "load 1m\n  x 0+1x99999999999\n",
    ] {
        let began = Instant::now();
        let err = load_data(script.as_bytes(), &mut storage, 0).unwrap_err();
        assert!(err.to_string().contains("10000000"), "{err}");
        assert!(began.elapsed() < Duration::from_secs(2), "{script}");
    }
    assert_eq!(storage.series_count(), 0);
}

#[test]
fn series_notation_expansion_is_bounded_per_script() {
    let mut storage = MemoryStorage::new();
    // Eleven series of a million values each: over the script's total.
    let mut script = String::from("load 1m\n");
    for i in 0..11 {
        script.push_str(&format!("  x{{i=\"{i}\"}} 0+1x999999\n"));
    }
    let err = load_data(script.as_bytes(), &mut storage, 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("the script expands to more than 10000000 values"),
        "{err}"
    );
    assert_eq!(storage.series_count(), 0);
    // A normal script still loads.
    assert_eq!(
        load_data(b"load 1m\n  x 0+1x9\n", &mut storage, 0)
            .unwrap()
            .1,
        10
    );
}

#[test]
fn exposition_extreme_values_and_timestamps() {
    let engine = Engine::default();
    for (format, lines) in [
        (
            "text",
            vec![
                "a 1 9223372036854775807",
                "a 1 -9223372036854775808",
                "a 1 99999999999999999999",
                "a 1 -99999999999999999999",
                "a NaN 0",
                "a +Inf 1",
                "a -Inf 2",
                "a 1e309 3",
                "a 0x1p3 4",
                "a 1_000 5",
                "a nan",
                "a{l=\"\\\\\\n\\\"\"} 1",
                "a{l=\"\u{1F600}\"} 1",
            ],
        ),
        (
            "openmetrics",
            vec![
                "a 1 1e300",
                "a 1 -1e300",
                "a 1 NaN",
                "a 1 Inf",
                "a 1 9223372036854775.807",
                "a 1 0.0000001",
                "a_total 1 1 # {id=\"x\"} 1 1e300",
            ],
        ),
    ] {
        for line in lines {
            let input = if format == "openmetrics" {
                format!("# TYPE a unknown\n{line}\n# EOF\n")
            } else {
                format!("{line}\n")
            };
            let mut storage = MemoryStorage::new();
            match load_data(input.as_bytes(), &mut storage, 1_000) {
                Ok(_) => {
                    for q in ["a", "rate(a[5m])", "timestamp(a)"] {
                        let expr = parse(q).unwrap();
                        for t in [i64::MIN, 0, 1_000, i64::MAX] {
                            let _ = engine.instant(&storage, &expr, t);
                        }
                    }
                }
                Err(e) => assert!(!e.to_string().is_empty(), "{line}"),
            }
        }
    }
}

// ---- extreme engine options ---------------------------------------------------

#[test]
fn extreme_engine_options_never_panic() {
    let storage = extreme_store();
    let mut panics = Vec::new();
    let queries: Vec<_> = [
        "x",
        "rate(x[5m])",
        "max_over_time(x[10m:])",
        "x offset 1m",
        "sum(x) / count(x)",
    ]
    .iter()
    .map(|q| parse(q).unwrap())
    .collect();
    for lookback in [i64::MIN, -1, 0, 1, i64::MAX] {
        for subquery_step in [i64::MIN, 0, 15_000, i64::MAX] {
            // (A non-positive default subquery step means 1 ms: 600,000 steps for
            // `[10m:]`, so the sample limit stays moderate to keep the test fast.)
            for (max_samples, max_points) in [(0, 0), (1, 1), (100_000, usize::MAX)] {
                for timeout in [Some(Duration::ZERO), Some(Duration::MAX), None] {
                    let mut opts = EngineOptions::default();
                    opts.lookback_delta = lookback;
                    opts.no_step_subquery_interval = subquery_step;
                    opts.max_samples = max_samples;
                    opts.max_points_per_series = max_points;
                    opts.timeout = timeout;
                    let engine = Engine::new(opts.clone());
                    for expr in &queries {
                        let run = || {
                            for t in [i64::MIN, 0, 120_000, i64::MAX] {
                                let _ = engine.instant(&storage, expr, t);
                            }
                            let _ = engine.range(&storage, expr, 0, 120_000, 60_000);
                            let _ =
                                engine.range(&storage, expr, i64::MAX - 120_000, i64::MAX, 60_000);
                        };
                        if catch_unwind(AssertUnwindSafe(run)).is_err() {
                            panics.push(format!("{expr} with {opts:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n")
    );
}
