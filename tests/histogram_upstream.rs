//! The native-histogram math against Prometheus' own expectations.
//!
//! Runs the `eval`s of the upstream `native_histograms.test` whose query is a
//! histogram function, a trim operator or a `sum`/`avg` applied directly to
//! a selector: the selector is evaluated by the engine (plain data loading
//! and selection), the function by the histogram model, and the result is
//! compared with upstream's expected values using upstream's tolerance.
//! Skipped when the upstream scripts are not present.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use promql_engine::engine::{Engine, EngineOptions};
use promql_engine::model::histogram::{HistogramMean, HistogramSum, rate};
use promql_engine::model::{CounterResetHint, FloatHistogram, Labels, SampleValue, Value};
use promql_engine::parser;
use promql_engine::promqltest::compare::{EPSILON, almost_equal, histograms_match};
use promql_engine::promqltest::{
    Command, EvalCmd, EvalTime, ExpectedResult, Script, load_into, parse_duration,
};
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
    /// A function of the histograms of a range (`resets(sel[d])`, ...)
    /// and the evaluation time.
    Window(Box<WindowFn>),
}

type WindowFn = dyn Fn(&[(i64, FloatHistogram)], i64) -> Option<Computed>;

fn histograms(window: &[(i64, FloatHistogram)]) -> Vec<&FloatHistogram> {
    window.iter().map(|(_, h)| h).collect()
}

fn resets(window: &[(i64, FloatHistogram)]) -> Option<Computed> {
    let hs = histograms(window);
    let n = hs.windows(2).filter(|w| w[1].detect_reset(w[0])).count();
    Some(Computed::Float(n as f64))
}

fn changes(window: &[(i64, FloatHistogram)]) -> Option<Computed> {
    let hs = histograms(window);
    let n = hs.windows(2).filter(|w| !w[1].equals(w[0])).count();
    Some(Computed::Float(n as f64))
}

fn sum_over_time(window: &[(i64, FloatHistogram)]) -> Option<Computed> {
    let ((_, first), rest) = window.split_first()?;
    let mut sum = HistogramSum::new(first.clone());
    for (_, h) in rest {
        sum.add(h).ok()?;
    }
    Some(Computed::Hist(sum.finish()))
}

fn avg_over_time(window: &[(i64, FloatHistogram)]) -> Option<Computed> {
    let ((_, first), rest) = window.split_first()?;
    let mut mean = HistogramMean::new(first.clone());
    for (_, h) in rest {
        mean.add(h).ok()?;
    }
    Some(Computed::Hist(mean.finish()))
}

/// `rate`/`increase`/`delta` as upstream's `extrapolatedRate` (without start
/// timestamps): the model's increase, extrapolated towards the window edges.
fn extrapolated(
    window: &[(i64, FloatHistogram)],
    eval_time: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<Computed> {
    if window.len() < 2 {
        return None;
    }
    let (first_t, first) = window.first()?;
    let (last_t, _) = window.last()?;
    let (result, notes) = rate::increase(&histograms(window), is_counter, |_| false);
    let Some(mut result) = result else {
        return Some(Computed::Noted(
            Box::new(Computed::Absent),
            rate_notes(notes),
        ));
    };
    let range_start = eval_time - range_ms;
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (eval_time - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average = sampled / (window.len() - 1) as f64;
    let threshold = average * 1.1;
    if to_start >= threshold {
        to_start = average / 2.0;
    }
    if is_counter && result.count > 0.0 && first.count >= 0.0 {
        to_start = to_start.min(sampled * (first.count / result.count));
    }
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    result.mul(factor);
    Some(Computed::Noted(
        Box::new(Computed::Hist(result)),
        rate_notes(notes),
    ))
}

/// `irate`/`idelta`: the last two histograms.
fn instant(window: &[(i64, FloatHistogram)], is_rate: bool) -> Option<Computed> {
    let [.., (t0, h0), (t1, h1)] = window else {
        return None;
    };
    let (result, notes) = rate::instant_delta(h0, h1, is_rate, false);
    let Some(mut result) = result else {
        return Some(Computed::Noted(
            Box::new(Computed::Absent),
            rate_notes(notes),
        ));
    };
    if is_rate {
        result.div((t1 - t0) as f64 / 1000.0);
    }
    Some(Computed::Noted(
        Box::new(Computed::Hist(result)),
        rate_notes(notes),
    ))
}

#[derive(Debug)]
enum Computed {
    Float(f64),
    /// No result (but maybe annotations).
    Absent,
    /// A value with the annotations the engine is to report for it.
    Noted(Box<Computed>, Vec<&'static str>),
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
    Computed::Noted(Box::new(Computed::Float(r.value)), notes)
}

fn fraction_noted(h: &FloatHistogram, lo: f64, hi: f64) -> Computed {
    let r = h.fraction(lo, hi);
    let notes = if r.nan_observations {
        vec![FRACTION_NAN]
    } else {
        Vec::new()
    };
    Computed::Noted(Box::new(Computed::Float(r.value)), notes)
}

const NOT_COUNTER: &str = "this native histogram metric is not a counter";
const NOT_GAUGE: &str = "this native histogram metric is not a gauge";
const MIXED_SCHEMAS: &str =
    "vector contains a mix of histograms with exponential and custom buckets schemas";
const RECONCILED_SUB: &str = "mismatched custom buckets were reconciled during subtraction";
const RECONCILED_ADD: &str = "mismatched custom buckets were reconciled during addition";

fn rate_notes(notes: rate::RateNotes) -> Vec<&'static str> {
    [
        (notes.not_counter, NOT_COUNTER),
        (notes.not_gauge, NOT_GAUGE),
        (notes.mixed_schemas, MIXED_SCHEMAS),
        (notes.reconciled_in_sub, RECONCILED_SUB),
        (notes.reconciled_in_add, RECONCILED_ADD),
    ]
    .into_iter()
    .filter_map(|(on, text)| on.then_some(text))
    .collect()
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
    if let Some((sel, range)) = inner.strip_suffix(']').and_then(|i| i.split_once('[')) {
        if !is_selector(sel) || inner.contains(' ') {
            return None;
        }
        let range_ms = parse_duration(range.split(':').next()?).ok()?;
        let window: Box<WindowFn> = match func {
            "resets" => Box::new(|w, _| resets(w)),
            "changes" => Box::new(|w, _| changes(w)),
            "sum_over_time" => Box::new(|w, _| sum_over_time(w)),
            "avg_over_time" => Box::new(|w, _| avg_over_time(w)),
            "rate" => Box::new(move |w, t| extrapolated(w, t, range_ms, true, true)),
            "increase" => Box::new(move |w, t| extrapolated(w, t, range_ms, true, false)),
            "delta" => Box::new(move |w, t| extrapolated(w, t, range_ms, false, false)),
            "irate" => Box::new(|w, _| instant(w, true)),
            "idelta" => Box::new(|w, _| instant(w, false)),
            _ => return None,
        };
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

/// A selected histogram: step index (position in the window for range
/// vectors), labels without the name, timestamp, histogram.
type Selected = (usize, Labels, i64, FloatHistogram);

/// Selected histograms per step; `None` if floats (classic histograms) are selected too, which
/// is not the model's business.
fn select(storage: &MemoryStorage, sel: &str, eval: &EvalCmd) -> Option<Vec<Selected>> {
    let engine = Engine::new(EngineOptions::upstream_tests());
    let expr = parser::parse(sel).ok()?;
    let subquery = sel.rsplit_once('[').is_some_and(|(_, r)| r.contains(':'));
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
                            let mut h = (*p.h).clone();
                            if subquery && h.counter_reset_hint != CounterResetHint::Gauge {
                                // As upstream's subquery evaluation: the
                                // stored hints no longer describe neighbours.
                                h.counter_reset_hint = CounterResetHint::Unknown;
                            }
                            out.push((i, s.labels.without_metric_name(), p.t, h));
                        }
                    }
                }
                if let Value::Vector(samples) = r.value {
                    for s in samples {
                        match s.value {
                            SampleValue::Histogram(h) => {
                                out.push((0, s.labels.without_metric_name(), t, (*h).clone()))
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
                            out.push((i, s.labels.without_metric_name(), p.t, (*p.h).clone()));
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
    selected: Vec<Selected>,
    rhs: Vec<Selected>,
    eval_time: i64,
) -> Vec<(usize, Labels, Computed)> {
    match op {
        Op::Binary { subtract, .. } => {
            let mut out = Vec::new();
            for (step, _, _, mut lhs) in selected {
                let mut rs = rhs.iter().filter(|r| r.0 == step);
                let (Some(r), None) = (rs.next(), rs.next()) else {
                    continue;
                };
                let result = if *subtract {
                    lhs.sub(&r.3).map(|_| {
                        lhs.counter_reset_hint = CounterResetHint::Gauge;
                    })
                } else {
                    lhs.add(&r.3).map(|_| ())
                };
                if result.is_ok() {
                    lhs.compact(0);
                    out.push((step, Labels::default(), Computed::Hist(lhs)));
                }
            }
            out
        }
        Op::Window(f) => {
            let mut by_series: Vec<(Labels, Vec<(i64, FloatHistogram)>)> = Vec::new();
            for (_, l, t, h) in selected {
                match by_series.iter_mut().find(|(k, _)| *k == l) {
                    Some((_, v)) => v.push((t, h)),
                    None => by_series.push((l, vec![(t, h)])),
                }
            }
            by_series
                .into_iter()
                .filter_map(|(l, hs)| Some((0, l, f(&hs, eval_time)?)))
                .collect()
        }
        Op::PerSample(f) => selected
            .into_iter()
            .map(|(i, l, _, h)| (i, l, f(&h)))
            .collect(),
        Op::Sum | Op::Avg => {
            let steps = selected.iter().map(|s| s.0).max().map_or(0, |m| m + 1);
            let mut out = Vec::new();
            for step in 0..steps {
                let mut hs = selected.iter().filter(|s| s.0 == step).map(|s| &s.3);
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

/// Float results equal to upstream's bit for bit, and merely within tolerance.
static EXACT_FLOATS: AtomicUsize = AtomicUsize::new(0);
static INEXACT_FLOATS: AtomicUsize = AtomicUsize::new(0);

fn is_absent(c: &Computed) -> bool {
    match c {
        Computed::Absent => true,
        Computed::Noted(inner, _) => is_absent(inner),
        _ => false,
    }
}

fn matches(expected: &SeqValue, actual: &Computed) -> bool {
    match (expected, actual) {
        (_, Computed::Noted(inner, _)) => matches(expected, inner),
        (SeqValue::Float(e), Computed::Float(a)) => {
            let counter = if e.to_bits() == a.to_bits() || e.is_nan() && a.is_nan() {
                &EXACT_FLOATS
            } else {
                &INEXACT_FLOATS
            };
            counter.fetch_add(1, Ordering::Relaxed);
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
    let actual = compute(
        &op,
        select(storage, &sel, eval)?,
        rhs,
        eval.instant_time().unwrap_or(0),
    );
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
    let unexpected = actual.iter().find(|(_, l, c)| {
        !is_absent(c)
            && !expected
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
    // (note, is a warning) pairs this eval can produce.
    let mut checked_notes = vec![
        (QUANTILE_NAN, false),
        (QUANTILE_SKEW, false),
        (FRACTION_NAN, false),
    ];
    if matches!(op, Op::Window(_)) {
        checked_notes.extend([
            (NOT_COUNTER, true),
            (NOT_GAUGE, true),
            (MIXED_SCHEMAS, true),
            (RECONCILED_SUB, false),
            (RECONCILED_ADD, false),
        ]);
    }
    for (note, warning) in checked_notes {
        let (expectations, none_expected) = if warning {
            (&eval.expect.warn, eval.expect.no_warn)
        } else {
            (&eval.expect.info, eval.expect.no_info)
        };
        let wanted = expectations.iter().any(|m| m.describe().contains(note));
        // Without expectations of its level, a script does not check it.
        let checked = none_expected || !expectations.is_empty();
        let produced = produced.contains(note);
        if wanted && !produced || produced && !wanted && checked {
            return Some(Err(format!(
                "line {} `{}`: {note:?} expected {wanted}, produced {produced}",
                eval.line, eval.expr
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
    eprintln!(
        "float results: {} bit-exact, {} within tolerance",
        EXACT_FLOATS.load(Ordering::Relaxed),
        INEXACT_FLOATS.load(Ordering::Relaxed)
    );
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
