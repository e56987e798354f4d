//! The native-histogram math against Prometheus' own expectations.
//!
//! Runs the `eval`s of the upstream `native_histograms.test` whose query is a
//! histogram function, a trim operator or a `sum`/`avg` applied directly to
//! a selector: the selector is evaluated by the engine (plain data loading
//! and selection), the function by the histogram model, and the result is
//! compared with upstream's expected values using upstream's tolerance.
//! Skipped when the upstream scripts are not present.

use std::path::PathBuf;

use promql_engine::engine::{Engine, EngineOptions};
use promql_engine::model::histogram::{HistogramMean, HistogramSum};
use promql_engine::model::{CounterResetHint, FloatHistogram, Labels, SampleValue, Value};
use promql_engine::parser;
use promql_engine::promqltest::compare::{EPSILON, almost_equal, histograms_match};
use promql_engine::promqltest::{Command, EvalCmd, EvalTime, ExpectedResult, Script, load_into};
use promql_engine::storage::MemoryStorage;
use promql_engine::storage::series_notation::SeqValue;

/// What to compute from each selected histogram (or all of them).
enum Op {
    PerSample(Box<dyn Fn(&FloatHistogram) -> Computed>),
    Sum,
    Avg,
    /// `lhs + ignoring(...) rhs` or `lhs - ignoring(...) rhs`, one series
    /// on each side.
    Binary {
        rhs: String,
        subtract: bool,
    },
    /// `resets(sel[d])` or `changes(sel[d])`: counts over the window.
    Window(fn(&[FloatHistogram]) -> Option<Computed>),
}

fn resets(window: &[FloatHistogram]) -> Option<Computed> {
    let n = window
        .windows(2)
        .filter(|w| w[1].detect_reset(&w[0]))
        .count();
    Some(Computed::Float(n as f64))
}

fn changes(window: &[FloatHistogram]) -> Option<Computed> {
    let n = window.windows(2).filter(|w| !w[1].equals(&w[0])).count();
    Some(Computed::Float(n as f64))
}

fn sum_over_time(window: &[FloatHistogram]) -> Option<Computed> {
    let (first, rest) = window.split_first()?;
    let mut sum = HistogramSum::new(first.clone());
    for h in rest {
        sum.add(h).ok()?;
    }
    Some(Computed::Hist(sum.finish()))
}

fn avg_over_time(window: &[FloatHistogram]) -> Option<Computed> {
    let (first, rest) = window.split_first()?;
    let mut mean = HistogramMean::new(first.clone());
    for h in rest {
        mean.add(h).ok()?;
    }
    Some(Computed::Hist(mean.finish()))
}

#[derive(Debug)]
enum Computed {
    Float(f64),
    /// A float with the infos the engine is to report for it.
    Noted(f64, Vec<&'static str>),
    Hist(FloatHistogram),
}

const QUANTILE_NAN: &str = "input to histogram_quantile has NaN observations, result is NaN";
const QUANTILE_SKEW: &str =
    "input to histogram_quantile has NaN observations, result is skewed higher";
const FRACTION_NAN: &str =
    "input to histogram_fraction has NaN observations, which are excluded from all fractions";

fn quantile_noted(h: &FloatHistogram, q: f64) -> Computed {
    let r = h.quantile(q);
    let mut notes = Vec::new();
    if r.nan_result {
        notes.push(QUANTILE_NAN);
    }
    if r.nan_skew {
        notes.push(QUANTILE_SKEW);
    }
    Computed::Noted(r.value, notes)
}

fn fraction_noted(h: &FloatHistogram, lo: f64, hi: f64) -> Computed {
    let r = h.fraction(lo, hi);
    let notes = if r.nan_observations {
        vec![FRACTION_NAN]
    } else {
        Vec::new()
    };
    Computed::Noted(r.value, notes)
}

fn parse_number(s: &str) -> Option<f64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        t => t.parse().ok(),
    }
}

fn is_selector(s: &str) -> bool {
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    if name_end == 0 {
        return false;
    }
    let rest = &s[name_end..];
    rest.is_empty() || (rest.starts_with('{') && rest.ends_with('}') && !rest[1..].contains('{'))
}

/// The selector and the operation of a supported query.
fn classify(expr: &str) -> Option<(String, Op)> {
    let expr = expr.trim();
    for (op, subtract) in [(" + ignoring", false), (" - ignoring", true)] {
        if let Some((lhs, rest)) = expr.split_once(op) {
            let (_, rhs) = rest.split_once(')')?;
            let (lhs, rhs) = (lhs.trim(), rhs.trim());
            if !is_selector(lhs) || !is_selector(rhs) {
                return None;
            }
            let rhs = rhs.to_string();
            return Some((lhs.to_string(), Op::Binary { rhs, subtract }));
        }
    }
    for (op, upper) in [(" </ ", true), (" >/ ", false)] {
        if let Some((lhs, rhs)) = expr.split_once(op) {
            let (lhs, rhs) = (lhs.trim(), parse_number(rhs)?);
            if !is_selector(lhs) {
                return None;
            }
            let f = move |h: &FloatHistogram| {
                let mut h = h.clone();
                h.trim(rhs, upper);
                Computed::Hist(h)
            };
            return Some((lhs.to_string(), Op::PerSample(Box::new(f))));
        }
    }
    let open = expr.find('(')?;
    if !expr.ends_with(')') {
        return None;
    }
    let func = &expr[..open];
    let inner = &expr[open + 1..expr.len() - 1];
    if let (Some(window), Some((sel, _))) = (
        match func {
            "resets" => Some(resets as fn(&[FloatHistogram]) -> Option<Computed>),
            "changes" => Some(changes as fn(&[FloatHistogram]) -> Option<Computed>),
            "sum_over_time" => Some(sum_over_time as fn(&[FloatHistogram]) -> Option<Computed>),
            "avg_over_time" => Some(avg_over_time as fn(&[FloatHistogram]) -> Option<Computed>),
            _ => None,
        },
        inner.strip_suffix(']').and_then(|i| i.split_once('[')),
    ) {
        if !is_selector(sel) || inner.contains(' ') {
            return None;
        }
        return Some((inner.to_string(), Op::Window(window)));
    }
    let args: Vec<&str> = expr[open + 1..expr.len() - 1]
        .split(',')
        .map(str::trim)
        .collect();
    let sel = args.last()?.to_string();
    if !is_selector(&sel) {
        return None;
    }
    let nums: Option<Vec<f64>> = args[..args.len() - 1]
        .iter()
        .map(|a| parse_number(a))
        .collect();
    let nums = nums?;
    let per = |f: Box<dyn Fn(&FloatHistogram) -> Computed>| Some((sel.clone(), Op::PerSample(f)));
    match (func, nums.as_slice()) {
        ("histogram_quantile", &[q]) => per(Box::new(move |h| quantile_noted(h, q))),
        ("histogram_fraction", &[lo, hi]) => per(Box::new(move |h| fraction_noted(h, lo, hi))),
        ("histogram_count", &[]) => per(Box::new(|h| Computed::Float(h.count))),
        ("histogram_sum", &[]) => per(Box::new(|h| Computed::Float(h.sum))),
        ("histogram_avg", &[]) => per(Box::new(|h| Computed::Float(h.avg()))),
        ("histogram_stddev", &[]) => per(Box::new(|h| Computed::Float(h.stddev()))),
        ("histogram_stdvar", &[]) => per(Box::new(|h| Computed::Float(h.stdvar()))),
        ("sum", &[]) => Some((sel, Op::Sum)),
        ("avg", &[]) => Some((sel, Op::Avg)),
        _ => None,
    }
}

/// Selected histograms per step: `(step index, labels without name,
/// histogram)`; `None` if floats (classic histograms) are selected too, which
/// is not the model's business.
fn select(
    storage: &MemoryStorage,
    sel: &str,
    eval: &EvalCmd,
) -> Option<Vec<(usize, Labels, FloatHistogram)>> {
    let engine = Engine::new(EngineOptions::upstream_tests());
    let expr = parser::parse(sel).ok()?;
    let mut out = Vec::new();
    match eval.time {
        EvalTime::Instant(_) => {
            let t = eval.instant_time()?;
            if let Ok(r) = engine.instant(storage, &expr, t) {
                if let Value::Matrix(series) = &r.value {
                    // A window: one step per histogram, in order.
                    for s in series {
                        if !s.floats.is_empty() {
                            return None;
                        }
                        for (i, p) in s.histograms.iter().enumerate() {
                            out.push((i, s.labels.without_metric_name(), (*p.h).clone()));
                        }
                    }
                }
                if let Value::Vector(samples) = r.value {
                    for s in samples {
                        match s.value {
                            SampleValue::Histogram(h) => {
                                out.push((0, s.labels.without_metric_name(), (*h).clone()))
                            }
                            SampleValue::Float(_) => return None,
                        }
                    }
                }
            }
        }
        EvalTime::Range { start, end, step } => {
            if let Ok(r) = engine.range(storage, &expr, start, end, step) {
                if let Value::Matrix(series) = r.value {
                    for s in series {
                        if !s.floats.is_empty() {
                            return None;
                        }
                        for p in &s.histograms {
                            let i = usize::try_from((p.t - start) / step).unwrap_or(0);
                            out.push((i, s.labels.without_metric_name(), (*p.h).clone()));
                        }
                    }
                }
            }
        }
    }
    Some(out)
}

fn compute(
    op: &Op,
    selected: Vec<(usize, Labels, FloatHistogram)>,
    rhs: Vec<(usize, Labels, FloatHistogram)>,
) -> Vec<(usize, Labels, Computed)> {
    match op {
        Op::Binary { subtract, .. } => {
            let mut out = Vec::new();
            for (step, _, mut lhs) in selected {
                let mut rs = rhs.iter().filter(|r| r.0 == step);
                let (Some(r), None) = (rs.next(), rs.next()) else {
                    continue;
                };
                let result = if *subtract {
                    lhs.sub(&r.2).map(|_| {
                        lhs.counter_reset_hint = CounterResetHint::Gauge;
                    })
                } else {
                    lhs.add(&r.2).map(|_| ())
                };
                if result.is_ok() {
                    lhs.compact(0);
                    out.push((step, Labels::default(), Computed::Hist(lhs)));
                }
            }
            out
        }
        Op::Window(f) => {
            let mut by_series: Vec<(Labels, Vec<FloatHistogram>)> = Vec::new();
            for (_, l, h) in selected {
                match by_series.iter_mut().find(|(k, _)| *k == l) {
                    Some((_, v)) => v.push(h),
                    None => by_series.push((l, vec![h])),
                }
            }
            by_series
                .into_iter()
                .filter_map(|(l, hs)| Some((0, l, f(&hs)?)))
                .collect()
        }
        Op::PerSample(f) => selected
            .into_iter()
            .map(|(i, l, h)| (i, l, f(&h)))
            .collect(),
        Op::Sum | Op::Avg => {
            let steps = selected.iter().map(|s| s.0).max().map_or(0, |m| m + 1);
            let mut out = Vec::new();
            for step in 0..steps {
                let mut hs = selected.iter().filter(|s| s.0 == step).map(|s| &s.2);
                let Some(first) = hs.next() else { continue };
                let result = if matches!(op, Op::Sum) {
                    let mut acc = HistogramSum::new(first.clone());
                    hs.try_for_each(|h| acc.add(h).map(|_| ()))
                        .ok()
                        .map(|()| acc.finish())
                } else {
                    let mut acc = HistogramMean::new(first.clone());
                    hs.try_for_each(|h| acc.add(h).map(|_| ()))
                        .ok()
                        .map(|()| acc.finish())
                };
                if let Some(h) = result {
                    out.push((step, Labels::default(), Computed::Hist(h)));
                }
            }
            out
        }
    }
}

fn matches(expected: &SeqValue, actual: &Computed) -> bool {
    match (expected, actual) {
        (SeqValue::Float(e), Computed::Float(a) | Computed::Noted(a, _)) => {
            almost_equal(*e, *a, EPSILON)
        }
        (
            SeqValue::Histogram {
                histogram,
                hint_set,
            },
            Computed::Hist(a),
        ) => histograms_match(histogram, a, *hint_set),
        _ => false,
    }
}

/// Checks one eval; `None` if it is not of a supported form.
fn check(storage: &MemoryStorage, eval: &EvalCmd) -> Option<Result<(), String>> {
    if eval.expect.fail.is_some() {
        return None;
    }
    let (sel, op) = classify(&eval.expr)?;
    let ExpectedResult::Series(expected) = &eval.result else {
        return None;
    };
    if matches!(op, Op::Window(_)) && matches!(eval.time, EvalTime::Range { .. }) {
        return None;
    }
    let rhs = match &op {
        Op::Binary { rhs, .. } => select(storage, rhs, eval)?,
        _ => Vec::new(),
    };
    let actual = compute(&op, select(storage, &sel, eval)?, rhs);
    for series in expected {
        let labels = series.labels.without_metric_name();
        for (step, value) in series.values.iter().enumerate() {
            if matches!(value, SeqValue::Omitted) {
                continue;
            }
            let found = actual.iter().find(|(i, l, _)| *i == step && *l == labels);
            match found {
                Some((_, _, a)) if matches(value, a) => {}
                other => {
                    return Some(Err(format!(
                        "line {} `{}` {labels:?} step {step}: expected {value:?}, got {:?}",
                        eval.line,
                        eval.expr,
                        other.map(|o| &o.2)
                    )));
                }
            }
        }
    }
    let unexpected = actual.iter().find(|(_, l, _)| {
        !expected
            .iter()
            .any(|e| e.labels.without_metric_name() == *l)
    });
    if let Some(u) = unexpected {
        return Some(Err(format!(
            "line {} `{}`: unexpected result {u:?}",
            eval.line, eval.expr
        )));
    }
    // The NaN-observation infos: produced exactly where expected.
    let produced: std::collections::BTreeSet<&str> = actual
        .iter()
        .filter_map(|(_, _, c)| match c {
            Computed::Noted(_, notes) => Some(notes.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let expected_infos: Vec<String> = eval.expect.info.iter().map(|m| m.describe()).collect();
    for note in [QUANTILE_NAN, QUANTILE_SKEW, FRACTION_NAN] {
        let wanted = expected_infos.iter().any(|d| d.contains(note));
        if wanted != produced.contains(note) {
            return Some(Err(format!(
                "line {} `{}`: info {note:?} expected {wanted}, produced {}",
                eval.line, eval.expr, !wanted
            )));
        }
    }
    Some(Ok(()))
}

fn upstream_script(name: &str) -> Option<String> {
    let dir = std::env::var("PROMQLTEST_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/promqltest"));
    std::fs::read_to_string(dir.join(name))
        .or_else(|_| std::fs::read_to_string(PathBuf::from("/work/shared/promqltest").join(name)))
        .ok()
}

/// Checks the supported evals of one script: `(checked, failures)`.
fn check_script(text: &str) -> (usize, Vec<String>) {
    let script = Script::parse(text).expect("the upstream script parses");
    let mut storage = MemoryStorage::new();
    let (mut checked, mut failures) = (0, Vec::new());
    for command in &script.commands {
        match command {
            Command::Load(load) => load_into(&mut storage, load).expect("loads"),
            Command::Clear { .. } => storage = MemoryStorage::new(),
            Command::Eval(eval) => match check(&storage, eval) {
                None => {}
                Some(Ok(())) => checked += 1,
                Some(Err(e)) => {
                    checked += 1;
                    failures.push(e);
                }
            },
        }
    }
    (checked, failures)
}

#[test]
fn native_histogram_math_matches_upstream_expectations() {
    let (mut checked, mut failures) = (0, Vec::new());
    for name in [
        "native_histograms.test",
        "histograms.test",
        "aggregators.test",
        "functions.test",
        "operators.test",
    ] {
        let Some(text) = upstream_script(name) else {
            eprintln!("upstream script {name} not found; skipped");
            continue;
        };
        let (c, f) = check_script(&text);
        eprintln!("{name}: checked {c} evals, {} failed", f.len());
        checked += c;
        failures.extend(f.into_iter().map(|e| format!("{name}: {e}")));
    }
    if checked == 0 {
        return;
    }
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(
        checked >= 300,
        "only {checked} evals were of a checkable form"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} failed",
        failures.len()
    );
}
