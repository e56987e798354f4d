//! Every function of the function table, every aggregation and every binary
//! operator, fed NaN, ±Inf, stale markers, huge values and NaN-laden native
//! and classic histograms, as instant and range queries: no panic, ever.

use std::panic::{AssertUnwindSafe, catch_unwind};

use promql_engine::engine::{Engine, EngineOptions};
use promql_engine::model::ValueType;
use promql_engine::parser::functions::FUNCTIONS;
use promql_engine::parser::{ParseOptions, parse_with};
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::load::load_data;

const DATA: &str = r#"load 1m
  d{i="a"} NaN Inf -Inf stale 1e308 -1e308 0 1 NaN stale 3
  d{i="b"} -Inf 0 NaN 5 stale Inf -1 _ 2 Inf
  d{i="c"} stale Inf NaN -Inf
  d{i="d"} 1e-308 -1e-308 4.9e-324 1.7976931348623157e308 0 0 0
  h_bucket{i="a", le="0.1"} NaN 1 Inf 2 stale 3
  h_bucket{i="a", le="1"} 1 NaN Inf -Inf 2 3
  h_bucket{i="a", le="+Inf"} Inf NaN 1 5 stale 3
  h_bucket{i="b", le="NaN"} 1 2 3
  h_bucket{i="b", le="x"} 1 2 3
  nh{i="a"} {{schema:0 sum:NaN count:Inf buckets:[1 2 1]}} {{schema:0 sum:Inf count:NaN z_bucket:NaN buckets:[Inf 1]}} {{schema:-53 sum:1 count:1 custom_values:[-2 3] buckets:[1]}} stale {{schema:8 sum:-Inf count:1 n_buckets:[1]}}
  nh{i="b"} {{}} NaN {{schema:-4 sum:0 count:0}} Inf
"#;

fn storage() -> MemoryStorage {
    let mut s = MemoryStorage::new();
    load_data(DATA.as_bytes(), &mut s, 0).expect("the test data loads");
    assert!(s.series_count() >= 10);
    s
}

const SELECTORS: &[&str] = &["d", "h_bucket", "nh", "{__name__=~\"d|nh\"}"];
const SCALARS: &[&str] = &["NaN", "Inf", "-Inf", "0", "-1", "0.5", "1e308", "-0"];
const STRINGS: &[&str] = &["i", "", "(.*)", "__name__", "$1", "le", "\\xff"];

/// Argument lists for a function of `arg_types`, taking `n` arguments.
fn argument_lists(arg_types: &[ValueType], n: usize) -> Vec<Vec<String>> {
    let ty = |i: usize| arg_types.get(i).or(arg_types.last()).copied();
    let mut out = Vec::new();
    let build = |sel: &str, scalar: &str, string: &str| -> Vec<String> {
        (0..n)
            .map(|i| match ty(i) {
                Some(ValueType::Vector) => sel.to_string(),
                Some(ValueType::Matrix) => format!("{sel}[5m]"),
                Some(ValueType::Scalar) => scalar.to_string(),
                Some(ValueType::String) => format!("\"{string}\""),
                None => String::new(),
            })
            .collect()
    };
    for sel in SELECTORS {
        for scalar in SCALARS {
            out.push(build(sel, scalar, STRINGS[0]));
        }
        for string in STRINGS {
            out.push(build(sel, "0.5", string));
        }
        // Subqueries in place of range selectors.
        out.push(
            build(sel, "0.5", "i")
                .into_iter()
                .map(|a| a.replace("[5m]", "[5m:30s]"))
                .collect(),
        );
    }
    // Scalar arguments that are themselves NaN-laden vectors.
    out.push(build("d", "scalar(d)", "i"));
    out
}

struct Runner {
    engines: Vec<Engine>,
    storage: MemoryStorage,
    opts: ParseOptions,
    evaluated: usize,
    succeeded: usize,
    panics: Vec<String>,
}

impl Runner {
    fn new() -> Self {
        let mut delayed = EngineOptions::upstream_tests();
        delayed.max_samples = 1_000_000;
        let mut immediate = delayed.clone();
        immediate.delayed_name_removal = false;
        Runner {
            engines: vec![Engine::new(delayed), Engine::new(immediate)],
            storage: storage(),
            opts: ParseOptions::all(),
            evaluated: 0,
            succeeded: 0,
            panics: Vec::new(),
        }
    }

    /// Evaluates `q` if it parses; returns whether it did.
    fn run(&mut self, q: &str) -> bool {
        let Ok(expr) = parse_with(q, &self.opts) else {
            return false;
        };
        for engine in &self.engines {
            let storage = &self.storage;
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                for t in [0, 150_000, 1_200_000] {
                    let _ = engine.instant(storage, &expr, t);
                }
                let _ = engine.range(storage, &expr, -60_000, 60_000, 7_000);
                let ok = engine.instant(storage, &expr, 600_000).is_ok();
                ok & engine.range(storage, &expr, 0, 900_000, 30_000).is_ok()
            }));
            match outcome {
                Ok(true) => self.succeeded += 1,
                Ok(false) => {}
                Err(_) => self.panics.push(q.to_string()),
            }
            self.evaluated += 1;
        }
        true
    }

    fn finish(self, what: &str) {
        println!(
            "{what}: {} evaluations (query x engine), {} without error",
            self.evaluated, self.succeeded
        );
        // Most calls are valid: the data is odd, not the queries.
        assert!(
            self.succeeded * 2 > self.evaluated,
            "only {} of {} succeeded",
            self.succeeded,
            self.evaluated
        );
        assert!(
            self.panics.is_empty(),
            "{} queries panicked:\n{}",
            self.panics.len(),
            self.panics.join("\n")
        );
    }
}

#[test]
fn every_function_survives_special_values() {
    let mut runner = Runner::new();
    let mut never_ran = Vec::new();
    for f in FUNCTIONS {
        let mut counts = vec![f.min_args()];
        match f.max_args() {
            Some(max) if max > f.min_args() => counts.push(max),
            Some(_) => {}
            None => counts.push(f.min_args() + 2),
        }
        let mut ran = false;
        for n in counts {
            for args in argument_lists(f.arg_types, n) {
                ran |= runner.run(&format!("{}({})", f.name, args.join(", ")));
            }
        }
        if !ran {
            never_ran.push(f.name);
        }
    }
    assert!(
        never_ran.is_empty(),
        "no call of these functions parsed: {never_ran:?}"
    );
    runner.finish("functions");
}

#[test]
fn every_aggregation_survives_special_values() {
    let mut runner = Runner::new();
    let params = SCALARS.iter().copied().chain(["1e19", "-1e19", "9.3e18"]);
    let params: Vec<&str> = params.collect();
    for sel in SELECTORS {
        for op in [
            "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
        ] {
            for grouping in ["", " by (i)", " without (i)", " by (__name__)"] {
                assert!(runner.run(&format!("{op}{grouping} ({sel})")));
            }
        }
        for op in ["topk", "bottomk", "quantile", "limitk", "limit_ratio"] {
            for p in &params {
                assert!(runner.run(&format!("{op} by (i) ({p}, {sel})")));
            }
        }
        for label in STRINGS {
            runner.run(&format!("count_values(\"{label}\", {sel})"));
        }
    }
    runner.finish("aggregations");
}

#[test]
fn every_binary_operator_survives_special_values() {
    let mut runner = Runner::new();
    let ops = [
        "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=", "== bool",
        "> bool", "and", "or", "unless",
    ];
    for op in ops {
        for lhs in SELECTORS.iter().chain(SCALARS) {
            for rhs in SELECTORS.iter().chain(SCALARS) {
                runner.run(&format!("{lhs} {op} {rhs}"));
                runner.run(&format!("{lhs} {op} on(i) group_left {rhs}"));
                runner.run(&format!("{lhs} {op} ignoring(le) {rhs}"));
            }
        }
    }
    for u in ["-d", "-nh", "-(-Inf)", "--NaN"] {
        assert!(runner.run(u));
    }
    runner.finish("binary operators");
}
