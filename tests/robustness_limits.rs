//! Every documented limit (see GUARANTEES.md): hitting it returns the
//! documented error kind and message, and the engine, parser and loaders stay
//! usable for the next call.

use std::time::{Duration, Instant};

use promql_engine::engine::{Engine, EngineOptions, EvalError};
use promql_engine::model::{Labels, SampleValue, Value};
use promql_engine::parser::{ParseErrorKind, ParseOptions, parse, parse_with};
use promql_engine::rules::decode::DecodeError;
use promql_engine::rules::load::{LoadOptions, load_rule_file};
use promql_engine::rules::template::parse_alert_template;
use promql_engine::rules::validate::RuleError;
use promql_engine::rules::yaml::MAX_DEPTH as YAML_MAX_DEPTH;
use promql_engine::rules::{CheckOptions, check_named_sources};
use promql_engine::storage::MemoryStorage;

/// `series` series `x{i="<n>"}` with a sample every 15 s for `minutes`.
fn store(series: usize, minutes: i64) -> MemoryStorage {
    let mut s = MemoryStorage::new();
    for i in 0..series {
        let labels = Labels::from_pairs(&[("__name__", "x"), ("i", &i.to_string())]);
        for k in 0..=(minutes * 4) {
            s.add(&labels, k * 15_000, (k as f64) * (i as f64 + 1.0));
        }
    }
    s.commit();
    s
}

/// The engine still answers a small query correctly after a failure.
fn assert_still_usable(engine: &Engine, storage: &MemoryStorage) {
    let expr = parse("count(x)").expect("parses");
    let result = engine
        .instant(storage, &expr, 60_000)
        .expect("a small query succeeds after a limit was hit");
    match result.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 1);
            let expected = storage.series_count() as f64;
            assert!(matches!(v[0].value, SampleValue::Float(c) if c == expected));
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---- parser ----------------------------------------------------------------

#[test]
fn parser_depth_limit_default_and_custom() {
    assert_eq!(ParseOptions::default().max_depth, 1000);
    let deep = format!("{}1{}", "(".repeat(1001), ")".repeat(1001));
    let e = parse(&deep).unwrap_err();
    assert!(
        matches!(e.kind(), ParseErrorKind::TooDeep { limit: 1000 }),
        "{e}"
    );
    assert_eq!(e.message(), "expression nests too deeply (limit 1000)");
    // The parser holds no state between calls.
    assert!(parse("sum(rate(x[5m]))").is_ok());

    let opts = ParseOptions::default().with_max_depth(10);
    let e = parse_with(&format!("{}x{}", "abs(".repeat(11), ")".repeat(11)), &opts).unwrap_err();
    assert!(
        matches!(e.kind(), ParseErrorKind::TooDeep { limit: 10 }),
        "{e}"
    );
    assert!(parse_with(&format!("{}x{}", "abs(".repeat(5), ")".repeat(5)), &opts).is_ok());
}

#[test]
fn parser_length_limit_default_and_custom() {
    assert_eq!(ParseOptions::default().max_length, 64 << 20);
    let opts = ParseOptions::default().with_max_length(1024);
    let long = format!("x{{a=\"{}\"}}", "v".repeat(2000));
    let e = parse_with(&long, &opts).unwrap_err();
    assert!(
        matches!(e.kind(), ParseErrorKind::TooLong { len, limit: 1024 } if *len == long.len()),
        "{e}"
    );
    assert_eq!(
        e.message(),
        format!("expression is too long ({} bytes, limit 1024)", long.len())
    );
    assert!(parse_with("x{a=\"v\"}", &opts).is_ok());
}

// ---- engine ----------------------------------------------------------------

#[test]
fn max_samples_limit_on_selectors_and_subqueries() {
    let storage = store(20, 10);
    let mut opts = EngineOptions::default();
    assert_eq!(opts.max_samples, 50_000_000);
    opts.max_samples = 100;
    let engine = Engine::new(opts);
    for q in [
        "x[10m]",                   // 20 series x 40 samples
        "max_over_time(x[10m:1s])", // subquery with 600 steps per series
        "x",                        // 20 series over a 30-point range query
    ] {
        let expr = parse(q).unwrap();
        let err = if q == "x" {
            engine.range(&storage, &expr, 0, 600_000, 20_000)
        } else {
            engine.instant(&storage, &expr, 600_000)
        }
        .expect_err(q);
        assert!(matches!(err, EvalError::TooManySamples), "{q}: {err}");
        assert_eq!(
            err.to_string(),
            "query processing would load too many samples into memory in query execution"
        );
        assert_still_usable(&engine, &storage);
    }
    // Under the limit the same engine answers.
    let expr = parse("sum(x)").unwrap();
    assert!(engine.instant(&storage, &expr, 600_000).is_ok());
    // A range function holds one series' window at a time, as Prometheus
    // counts it: 20 results plus the last 40-sample window fit in 100...
    let expr = parse("sum_over_time(x[10m])").unwrap();
    let r = engine.instant(&storage, &expr, 600_000).unwrap();
    assert_eq!(r.stats.peak_samples, 60);
    // `vector(1)` holds its one series once (31 steps), not the number
    // and then its copy.
    let vector_one = parse("vector(1)").unwrap();
    let r = engine
        .range(&storage, &vector_one, 0, 600_000, 20_000)
        .unwrap();
    assert_eq!(r.stats.peak_samples, 31);
    // ...but a window larger than the limit does not.
    let mut small = EngineOptions::default();
    small.max_samples = 30;
    let err = Engine::new(small)
        .instant(&storage, &expr, 600_000)
        .expect_err("a 40-sample window exceeds 30");
    assert!(matches!(err, EvalError::TooManySamples), "{err}");
}

#[test]
fn points_per_series_limit() {
    let storage = store(2, 1);
    let engine = Engine::default();
    assert_eq!(engine.options().max_points_per_series, 11_000);
    let expr = parse("x").unwrap();
    // 11,000 points pass, 11,001 do not.
    assert!(engine.range(&storage, &expr, 0, 10_999, 1).is_ok());
    let err = engine.range(&storage, &expr, 0, 11_000, 1).unwrap_err();
    assert!(matches!(err, EvalError::TooManyPoints { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );
    assert_still_usable(&engine, &storage);
}

#[test]
fn points_per_series_limit_is_configurable() {
    let storage = store(2, 1);
    let mut opts = EngineOptions::default();
    opts.max_points_per_series = 100;
    let engine = Engine::new(opts);
    let expr = parse("x").unwrap();
    assert!(engine.range(&storage, &expr, 0, 99, 1).is_ok());
    let err = engine.range(&storage, &expr, 0, 100, 1).unwrap_err();
    assert!(matches!(err, EvalError::TooManyPoints { .. }), "{err}");
}

/// BUG (src/engine/mod.rs, `EvalError::TooManyPoints`): the message always
/// says 11,000 (Prometheus' constant), even when
/// `EngineOptions::max_points_per_series` is set to something else.
#[test]
fn points_per_series_message_names_the_configured_limit() {
    let storage = store(1, 1);
    let mut opts = EngineOptions::default();
    opts.max_points_per_series = 100;
    let engine = Engine::new(opts);
    let err = engine
        .range(&storage, &parse("x").unwrap(), 0, 100, 1)
        .unwrap_err();
    assert!(err.to_string().contains(" 100 points"), "{err}");
}

#[test]
fn bad_range_parameters_are_errors() {
    let storage = store(1, 1);
    let engine = Engine::default();
    let expr = parse("x").unwrap();
    for (start, end, step) in [(0, 10, 0), (0, 10, -1), (10, 0, 1)] {
        let err = engine.range(&storage, &expr, start, end, step).unwrap_err();
        assert!(matches!(err, EvalError::BadQuery(_)), "{err}");
    }
    let err = engine
        .range(&storage, &parse("x[5m]").unwrap(), 0, 10, 1)
        .unwrap_err();
    assert!(matches!(err, EvalError::BadQuery(_)), "{err}");
    assert_still_usable(&engine, &storage);
}

/// Runs `query` with a 100 ms timeout and returns how long it took to fail.
/// Like [`time_out_once`], but a late run is repeated once and the faster
/// run counts, so that a thread descheduled by a busy machine does not fail
/// the test (a slow loop is late every time).
fn time_out(storage: &MemoryStorage, query: &str, range: Option<(i64, i64, i64)>) -> Duration {
    let took = time_out_once(storage, query, range);
    if took < Duration::from_millis(100) + TIMEOUT_SLACK {
        return took;
    }
    took.min(time_out_once(storage, query, range))
}

fn time_out_once(storage: &MemoryStorage, query: &str, range: Option<(i64, i64, i64)>) -> Duration {
    let timeout = Duration::from_millis(100);
    let mut opts = EngineOptions::default();
    opts.timeout = Some(timeout);
    opts.max_samples = usize::MAX;
    let engine = Engine::new(opts);
    let expr = parse(query).unwrap();
    let began = Instant::now();
    let result = match range {
        Some((start, end, step)) => engine.range(storage, &expr, start, end, step),
        None => engine.instant(storage, &expr, 86_400_000),
    };
    let took = began.elapsed();
    match result {
        Err(EvalError::Timeout) => {}
        Err(e) => panic!("{query}: expected a timeout, got {e}"),
        Ok(_) => panic!("{query}: finished in {took:?}; make it slower"),
    }
    assert_eq!(
        EvalError::Timeout.to_string(),
        "query timed out in query execution"
    );
    assert_still_usable(&engine, storage);
    took
}

/// Slack allowed past the deadline (debug builds on a loaded 2-core machine).
const TIMEOUT_SLACK: Duration = Duration::from_millis(150);

/// How many times more series the timeout tests use in optimized builds, so
/// that their queries still outlast the deadline there.
const RELEASE_SCALE: usize = if cfg!(debug_assertions) { 1 } else { 10 };

#[test]
fn timeout_is_honoured_inside_a_long_subquery() {
    // 120 series of one day; the subquery has 86,400 steps per series and
    // takes about 4 s to finish without a timeout (debug build).
    let storage = store(120 * RELEASE_SCALE, 24 * 60);
    let took = time_out(&storage, "max_over_time(rate(x[5m])[1d:1s])", None);
    println!("subquery timed out after {took:?}");
    assert!(
        took < Duration::from_millis(100) + TIMEOUT_SLACK,
        "{took:?}"
    );
    // The same query still runs past a deadline ten times later: it is slow.
    // No sample limit, which a fast machine would reach first.
    let mut opts = EngineOptions::default();
    opts.timeout = Some(Duration::from_secs(1));
    opts.max_samples = usize::MAX;
    let engine = Engine::new(opts);
    let expr = parse("max_over_time(rate(x[5m])[1d:1s])").unwrap();
    let began = Instant::now();
    let err = engine.instant(&storage, &expr, 86_400_000).unwrap_err();
    assert!(matches!(err, EvalError::Timeout), "{err}");
    let took = began.elapsed();
    assert!(took < Duration::from_secs(1) + TIMEOUT_SLACK, "{took:?}");
}

/// Whatever the query shape, evaluation stops close to the deadline.
#[test]
fn every_query_shape_stops_near_the_deadline() {
    let storage = store(200, 60);
    let mut opts = EngineOptions::default();
    opts.timeout = Some(Duration::from_millis(100));
    opts.max_samples = usize::MAX;
    opts.experimental_functions = true;
    let engine = Engine::new(opts);
    let mut late = Vec::new();
    for q in [
        "x",
        "-x",
        "abs(x)",
        "timestamp(x)",
        "x > 10",
        "x and x",
        "x or x",
        "x unless x",
        "x + on(i) group_left x",
        "count_values(\"v\", x)",
        "sort(x)",
        "sort_by_label(x, \"i\")",
        "histogram_quantile(0.9, x)",
        "quantile(0.5, x)",
        "count by (i) (x)",
        "absent(x)",
        "changes(x[1h])",
        "quantile_over_time(0.5, x[1h])",
        "absent_over_time(x[1h])",
        "label_join(x, \"j\", \",\", \"i\", \"i\")",
        "sum_over_time(x[1h:1s])",
        "max_over_time(sum(x)[1h:1s])",
        "scalar(sum(x)) * x",
        "x offset 5m",
        "limitk(10, x)",
    ] {
        let expr = promql_engine::parse_with(q, &ParseOptions::all()).unwrap();
        let run = || {
            let began = Instant::now();
            let result = engine.range(&storage, &expr, 0, 3_600_000, 1_000);
            (result, began.elapsed())
        };
        let (mut result, mut took) = run();
        if took > Duration::from_millis(100) + TIMEOUT_SLACK {
            // Once more, in case the machine was busy (see `time_out`).
            (result, took) = run();
        }
        let outcome = match &result {
            Ok(_) => "finished".to_string(),
            Err(e) => e.to_string(),
        };
        println!("{q}: {outcome} after {took:?}");
        if took > Duration::from_millis(100) + TIMEOUT_SLACK {
            late.push(format!("{q}: {outcome} after {took:?}"));
        }
        if let Err(e) = &result {
            assert!(matches!(e, EvalError::Timeout), "{q}: {e}");
        }
    }
    assert!(late.is_empty(), "past the deadline:\n{}", late.join("\n"));
    assert_still_usable(&engine, &storage);
}

#[test]
fn timeout_is_honoured_in_range_queries_over_many_series() {
    // Big enough that each query needs several times the 100 ms deadline
    // (7.2M points at a 500 ms step, ten times more in optimized builds).
    let storage = store(1000 * RELEASE_SCALE, 60);
    for q in [
        "sum by (i) (rate(x[5m]))",
        "quantile_over_time(0.9, x[30m])",
        "label_replace(x, \"j\", \"$1\", \"i\", \"(.*)\")",
        "topk(5, x)",
        "x / on(i) x",
    ] {
        let took = time_out(&storage, q, Some((0, 3_600_000, 500)));
        println!("{q}: timed out after {took:?}");
        assert!(
            took < Duration::from_millis(100) + TIMEOUT_SLACK,
            "{q}: {took:?}"
        );
    }
}

#[test]
fn no_timeout_means_no_deadline() {
    let storage = store(3, 10);
    let mut opts = EngineOptions::default();
    opts.timeout = None;
    let engine = Engine::new(opts);
    assert!(
        engine
            .instant(&storage, &parse("rate(x[5m])").unwrap(), 600_000)
            .is_ok()
    );
}

// ---- rule files and templates -----------------------------------------------

fn first_error(text: &str) -> RuleError {
    let loaded = load_rule_file(text, &LoadOptions::default());
    assert!(loaded.file.is_none());
    loaded.errors.into_iter().next().expect("an error")
}

const VALID_RULES: &str =
    "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(up)\n";

#[test]
fn rule_file_yaml_depth_limit() {
    assert_eq!(YAML_MAX_DEPTH, 128);
    let deep = format!("groups: {}1{}\n", "[".repeat(200), "]".repeat(200));
    let err = first_error(&deep);
    assert!(
        matches!(&err, RuleError::Decode(DecodeError::Syntax(e)) if e.message == "exceeded max depth of 128"),
        "{err}"
    );
    // Deep block-style nesting too.
    let mut block = String::from("groups:\n");
    for d in 0..200 {
        block.push_str(&" ".repeat(2 * d + 2));
        block.push_str("- \n");
    }
    assert!(
        !load_rule_file(&block, &LoadOptions::default())
            .errors
            .is_empty()
    );
    // 100,000 levels, flow sequences and flow mappings, on a small stack.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for (open, close) in [("[", "]"), ("{a: ", "}")] {
                let text = format!(
                    "groups: {}1{}\n",
                    open.repeat(100_000),
                    close.repeat(100_000)
                );
                let began = Instant::now();
                let err = first_error(&text);
                assert!(began.elapsed() < Duration::from_secs(5));
                // Ours, or the YAML parser's own limit for flow collections.
                let shown = err.to_string();
                assert!(
                    shown.contains("exceeded max depth of 128")
                        || shown.contains("recursion limit exceeded"),
                    "{shown}"
                );
            }
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    let ok = load_rule_file(VALID_RULES, &LoadOptions::default());
    assert!(ok.errors.is_empty(), "{:?}", ok.errors);
}

#[test]
fn rule_file_alias_expansion_limit() {
    // A "billion laughs" document: each level doubles ten times.
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("groups: *a9\n");
    let began = Instant::now();
    let err = first_error(&text);
    assert!(began.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&err, RuleError::Decode(DecodeError::Syntax(e)) if e.message == "document contains excessive aliasing"),
        "{err}"
    );
    assert!(
        load_rule_file(VALID_RULES, &LoadOptions::default())
            .errors
            .is_empty()
    );
}

#[test]
fn rule_expr_uses_the_parser_limits() {
    let deep = format!("{}1{}", "(".repeat(2000), ")".repeat(2000));
    let text =
        format!("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: '{deep}'\n");
    let loaded = load_rule_file(&text, &LoadOptions::default());
    assert!(loaded.file.is_none());
    let shown: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    assert!(
        shown.iter().any(|e| e.contains("1000")),
        "errors: {shown:?}"
    );
}

#[test]
fn template_nesting_limits() {
    let deep_if = format!("{}x{}", "{{ if 1 }}".repeat(101), "{{ end }}".repeat(101));
    let err = parse_alert_template("A", &deep_if).unwrap_err();
    assert!(
        err.message.contains("exceeded max nesting depth of 100"),
        "{err}"
    );
    let deep_paren = format!("{{{{ {}1{} }}}}", "(".repeat(101), ")".repeat(101));
    let err = parse_alert_template("A", &deep_paren).unwrap_err();
    assert!(
        err.message.contains("max expression depth exceeded"),
        "{err}"
    );
    // Just under both limits parses.
    let ok_if = format!("{}x{}", "{{ if 1 }}".repeat(99), "{{ end }}".repeat(99));
    assert!(parse_alert_template("A", &ok_if).is_ok());
    let ok_paren = format!("{{{{ {}1{} }}}}", "(".repeat(99), ")".repeat(99));
    assert!(parse_alert_template("A", &ok_paren).is_ok());
    // And 100,000 levels are an error, not a stack overflow.
    let huge = format!(
        "{}x{}",
        "{{ if 1 }}".repeat(100_000),
        "{{ end }}".repeat(100_000)
    );
    assert!(parse_alert_template("A", &huge).is_err());
}

#[test]
fn rule_files_have_no_size_limit_and_load_in_linear_time() {
    let file = |rules: usize| {
        let mut text = String::from("groups:\n  - name: g\n    rules:\n");
        for i in 0..rules {
            text.push_str(&format!(
                "      - alert: A{i}\n        expr: sum by (job) (rate(x_total{{i=\"{i}\"}}[5m])) > {i}\n        labels: {{severity: page}}\n        annotations: {{summary: \"{{{{ $labels.job }}}} at {{{{ $value | humanize }}}}\"}}\n"
            ));
        }
        text
    };
    let small = file(200);
    let large = file(2_000);
    let time = |text: &str| {
        let began = Instant::now();
        let loaded = load_rule_file(text, &LoadOptions::default());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors.first());
        (
            began.elapsed(),
            loaded.file.map(|f| f.rule_count()).unwrap_or(0),
        )
    };
    let (t_small, n_small) = time(&small);
    let (t_large, n_large) = time(&large);
    assert_eq!((n_small, n_large), (200, 2_000));
    println!(
        "{} KiB: {t_small:?}, {} KiB: {t_large:?}",
        small.len() >> 10,
        large.len() >> 10
    );
    assert!(
        t_large < t_small * 30 + Duration::from_millis(100),
        "{t_small:?} vs {t_large:?}"
    );
    // The full check (load, lint for duplicates, report) is linear too.
    let check = |text: &str| {
        let began = Instant::now();
        let report = check_named_sources(&[("rules.yml", text)], &CheckOptions::default());
        assert_eq!(report.exit_code, 0);
        began.elapsed()
    };
    let (c_small, c_large) = (check(&small), check(&large));
    println!("check: {c_small:?} vs {c_large:?}");
    assert!(
        c_large < c_small * 30 + Duration::from_millis(100),
        "{c_small:?} vs {c_large:?}"
    );
    // Identical rules: the duplicate lint reports them without quadratic work.
    let duplicates = |rules: usize| {
        let mut text = String::from("groups:\n  - name: g\n    rules:\n");
        for _ in 0..rules {
            text.push_str("      - record: job:up:sum\n        expr: sum by (job) (up)\n");
        }
        let began = Instant::now();
        let report = check_named_sources(&[("rules.yml", &text)], &CheckOptions::default());
        assert_ne!(report.exit_code, 3);
        began.elapsed()
    };
    let (d_small, d_large) = (duplicates(300), duplicates(3_000));
    println!("duplicates: {d_small:?} vs {d_large:?}");
    assert!(
        d_large < d_small * 30 + Duration::from_millis(100),
        "{d_small:?} vs {d_large:?}"
    );
}

// ---- unsafe code policy -------------------------------------------------------

#[test]
fn library_and_binary_forbid_unsafe_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["src/lib.rs", "src/bin/promql.rs"] {
        let text = std::fs::read_to_string(root.join(file)).expect("readable");
        assert!(
            text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{file} must forbid unsafe code"
        );
    }
}

/// The highest depth any options allow (`MAX_DEPTH_CEILING`, 4,000) still
/// parses, evaluates and drops on a 2 MiB stack in a debug build. (Between
/// 5,000 and 10,000 levels the recursive drop of the tree would overflow
/// such a stack, so `max_depth` is capped below that.)
#[test]
fn the_depth_ceiling_fits_a_small_stack() {
    let n = promql_engine::parser::MAX_DEPTH_CEILING - 2;
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let opts = ParseOptions::default().with_max_depth(usize::MAX);
            let storage = store(1, 1);
            for q in [
                format!("{}x{}", "(".repeat(n), ")".repeat(n)),
                format!("{}x{}", "abs(".repeat(n), ")".repeat(n)),
                format!("{}x", "-".repeat(n)),
                vec!["x"; n].join(" + "),
                format!(
                    "{}x{}",
                    "max_over_time(".repeat(n / 10),
                    "[1m:])".repeat(n / 10)
                ),
            ] {
                let expr = parse_with(&q, &opts).unwrap_or_else(|e| panic!("{e}"));
                let _ = Engine::default().instant(&storage, &expr, 0);
                drop(expr);
            }
        })
        .expect("spawn")
        .join()
        .expect("no panic");
}

#[test]
fn max_depth_is_capped_at_the_ceiling() {
    let opts = ParseOptions::default().with_max_depth(usize::MAX);
    let n = promql_engine::parser::MAX_DEPTH_CEILING + 10;
    let q = format!("{}x{}", "(".repeat(n), ")".repeat(n));
    let err = parse_with(&q, &opts).unwrap_err();
    assert!(err.to_string().contains("nests too deeply"), "{err}");
}
