//! Running a parsed script against the engine over an in-memory store.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::LazyLock;

use regex::Regex;

use super::compare::{assert_sorted, compare_result};
use super::script::{Command, EvalCmd, EvalTime, LoadCmd, MessageMatch, Script};
use super::tsdb_hints::ChunkState;
use super::{nhcb, step_invariance};
use crate::engine::{Annotation, AnnotationLevel, Engine, EngineOptions, QueryResult};
use crate::model::{FloatHistogram, Labels, Sample, SampleValue, Value};
use crate::parser::{Expr, ParseOptions, parse_with};
use crate::storage::MemoryStorage;
use crate::storage::series_notation::SeqValue;

/// Queries using these functions depend on the query's range and step, so
/// their instant result is not re-checked in range mode.
static QUERY_CONTEXT_FUNCS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(start|end|range|step)\(\)").unwrap_or_else(|e| panic!("built-in pattern: {e}"))
});

/// How to run scripts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunOptions {
    /// Engine settings (default: [`EngineOptions::upstream_tests`]).
    pub engine: EngineOptions,
    /// Parser settings (default: [`ParseOptions::all`]).
    pub parse: ParseOptions,
    /// Re-run instant queries as a range query around the evaluation time
    /// and compare the middle step (default on, as upstream).
    pub range_check: bool,
    /// Re-run instant queries with every selector pinned by `@` at other
    /// evaluation times (default on, as upstream).
    pub step_invariance_check: bool,
    /// Store loaded histograms with the counter-reset hints Prometheus' TSDB
    /// reads them back with (`unknown` at a chunk start, `not_reset` after,
    /// `gauge` for gauges) instead of the hints as written (default on, as
    /// upstream's expectations assume).
    pub tsdb_hints: bool,
    /// Run over a [`MemoryStorage::compressed`] store, every loaded float
    /// sample in XOR chunks (default off).
    pub compressed_storage: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            engine: EngineOptions::upstream_tests(),
            parse: ParseOptions::all(),
            range_check: true,
            step_invariance_check: true,
            tsdb_hints: true,
            compressed_storage: false,
        }
    }
}

/// The outcome of one command that can fail: an `eval`, or a `load` whose
/// data could not be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// 1-based line of the command.
    pub line: usize,
    /// The query (empty for a `load`).
    pub expr: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// `line 12: ok sum(x)` or `line 12: FAILED sum(x): <why>`.
impl std::fmt::Display for CaseResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.expr.is_empty() {
            "load"
        } else {
            &self.expr
        };
        match &self.failure {
            None => write!(f, "line {}: ok {what}", self.line),
            Some(why) => write!(f, "line {}: FAILED {what}: {why}", self.line),
        }
    }
}

/// Results of running one script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptReport {
    /// One entry per `eval` (and per failed `load`), in script order.
    pub cases: Vec<CaseResult>,
}

impl ScriptReport {
    /// Number of passed cases.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    /// Number of failed cases.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

impl Script {
    /// Runs every command in order against a fresh in-memory store.
    pub fn run(&self, options: &RunOptions) -> ScriptReport {
        let runner = Runner {
            engine: Engine::new(options.engine.clone()),
            options,
        };
        let mut storage = if options.compressed_storage {
            MemoryStorage::compressed()
        } else {
            MemoryStorage::new()
        };
        let fresh_hints = || options.tsdb_hints.then(HashMap::new);
        let mut hints = fresh_hints();
        let mut report = ScriptReport::default();
        for cmd in &self.commands {
            match cmd {
                Command::Clear { .. } => {
                    storage.clear();
                    hints = fresh_hints();
                }
                Command::Load(load) => {
                    if let Err(e) = load_with_hints(&mut storage, &mut hints, load) {
                        report.cases.push(CaseResult {
                            line: load.line,
                            expr: String::new(),
                            failure: Some(format!("load failed: {e}")),
                        });
                    }
                }
                Command::Eval(eval) => {
                    let outcome = catch_unwind(AssertUnwindSafe(|| runner.eval(&storage, eval)))
                        .unwrap_or_else(|panic| {
                            Err(format!("panicked: {}", panic_message(&panic)))
                        });
                    report.cases.push(CaseResult {
                        line: eval.line,
                        expr: eval.expr.clone(),
                        failure: outcome.err(),
                    });
                }
            }
        }
        report
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// Adds a `load` block's samples (and converted histograms) to the store,
/// with histogram counter-reset hints as Prometheus' TSDB reads them back.
pub fn load_into(storage: &mut MemoryStorage, load: &LoadCmd) -> Result<(), String> {
    load_with_hints(storage, &mut Some(HashMap::new()), load)
}

/// Per-series TSDB chunk state, kept across `load` commands until `clear`;
/// `None` stores histograms with their hints as written.
type HintState = Option<HashMap<Labels, ChunkState>>;

fn add_histogram(
    storage: &mut MemoryStorage,
    hints: &mut HintState,
    labels: &Labels,
    t: i64,
    h: &Arc<FloatHistogram>,
) {
    let h = match hints {
        Some(states) => states.entry(labels.clone()).or_default().histogram(h),
        None => Arc::clone(h),
    };
    storage.add_histogram(labels, t, h);
}

fn load_with_hints(
    storage: &mut MemoryStorage,
    hints: &mut HintState,
    load: &LoadCmd,
) -> Result<(), String> {
    for s in &load.series {
        let labels = &s.desc.labels;
        let mut t: i64 = 0;
        for (i, v) in s.desc.values.iter().enumerate() {
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(f) => {
                    if let Some(states) = hints.as_mut()
                        && let Some(state) = states.get_mut(labels)
                    {
                        state.float(*f);
                    }
                    storage.add(labels, t, *f);
                }
                SeqValue::Histogram { histogram, .. } => {
                    add_histogram(storage, hints, labels, t, histogram)
                }
            }
            // A `metric@st` line gives the sample's start timestamp as an offset.
            if !matches!(v, SeqValue::Omitted)
                && let Some(Some(offset)) = s.start_offsets.as_ref().and_then(|o| o.get(i))
            {
                storage.set_start_timestamp(labels, t, t.saturating_add(*offset));
            }
            t = t.saturating_add(load.interval);
        }
    }
    if load.with_nhcb {
        for (labels, points) in nhcb::convert(load)? {
            for (t, h) in points {
                add_histogram(storage, hints, &labels, t, &h);
            }
        }
    }
    if storage.is_compressed() {
        // Compress everything, so that queries read chunks.
        storage.shrink_to_fit();
    } else {
        storage.commit();
    }
    Ok(())
}

struct Runner<'a> {
    engine: Engine,
    options: &'a RunOptions,
}

impl Runner<'_> {
    fn eval(&self, storage: &MemoryStorage, cmd: &EvalCmd) -> Result<(), String> {
        let expr = match parse_with(&cmd.expr, &self.options.parse) {
            Ok(e) => e,
            Err(e) => {
                return match &cmd.expect.fail {
                    Some(m) if m.matches(&e.to_string()) => Ok(()),
                    _ => Err(format!(
                        "error parsing query {:?} (line {}): {e}",
                        cmd.expr, cmd.line
                    )),
                };
            }
        };
        match (cmd.time, cmd.instant_time()) {
            (EvalTime::Range { start, end, step }, _) => {
                self.range_eval(storage, cmd, &expr, start, end, step)
            }
            (_, Some(t)) => {
                self.instant_eval(storage, cmd, &expr, &cmd.expr, t, "")?;
                if self.options.step_invariance_check
                    && let Some((pinned, times)) = step_invariance::rerun_cases(&expr, t)
                {
                    // As upstream: print the pinned expression and parse it
                    // again, so annotation positions refer to the new text.
                    let text = pinned.to_string();
                    let reparsed = match parse_with(&text, &self.options.parse) {
                        Ok(e) => e,
                        // A query expected to fail may fail here too, as upstream.
                        Err(e)
                            if cmd
                                .expect
                                .fail
                                .as_ref()
                                .is_some_and(|m| m.matches(&e.to_string())) =>
                        {
                            return Ok(());
                        }
                        Err(e) => {
                            return Err(format!(
                                "step-invariance re-run: the pinned query {text:?} does not parse: {e}"
                            ));
                        }
                    };
                    for at in times {
                        let ctx =
                            format!(" (step-invariance re-run as {text:?} evaluated at {at}ms)");
                        self.instant_eval(storage, cmd, &reparsed, &text, at, &ctx)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Checks a query error against `expect fail`: `Ok` when the failure was
    /// expected (the case is done), the failure message otherwise.
    fn check_error(cmd: &EvalCmd, error: &str, ctx: &str) -> Result<(), String> {
        match &cmd.expect.fail {
            Some(m) if m.matches(error) => Ok(()),
            Some(m) => Err(format!(
                "expected error matching {} evaluating query {:?} (line {}){ctx}, but got: {error}",
                m.describe(),
                cmd.expr,
                cmd.line
            )),
            None => Err(format!(
                "error evaluating query {:?} (line {}){ctx}: {error}",
                cmd.expr, cmd.line
            )),
        }
    }

    fn range_eval(
        &self,
        storage: &MemoryStorage,
        cmd: &EvalCmd,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(), String> {
        let res = match self.engine.range(storage, expr, start, end, step) {
            Ok(r) => r,
            Err(e) => return Self::check_error(cmd, &e.to_string(), ""),
        };
        self.check_success(cmd, &cmd.expr, &res, "")
    }

    /// The checks after a query succeeded: no failure expected, annotations, values.
    fn check_success(
        &self,
        cmd: &EvalCmd,
        query: &str,
        res: &QueryResult,
        ctx: &str,
    ) -> Result<(), String> {
        if cmd.expect.fail.is_some() {
            return Err(format!(
                "expected error evaluating query {:?} (line {}){ctx} but got none",
                cmd.expr, cmd.line
            ));
        }
        check_annotations(cmd, query, &res.annotations).map_err(|e| format!("{e}{ctx}"))?;
        compare_result(cmd, &res.value)
            .map_err(|e| format!("error in eval {} (line {}){ctx}: {e}", cmd.expr, cmd.line))
    }

    fn instant_eval(
        &self,
        storage: &MemoryStorage,
        cmd: &EvalCmd,
        expr: &Expr,
        query: &str,
        t: i64,
        ctx: &str,
    ) -> Result<(), String> {
        let res = match self.engine.instant(storage, expr, t) {
            Ok(r) => r,
            Err(e) => return Self::check_error(cmd, &e.to_string(), ctx),
        };
        self.check_success(cmd, query, &res, ctx)?;
        if !self.options.range_check
            || cmd.exclude_from_range_check()
            || QUERY_CONTEXT_FUNCS.is_match(query)
        {
            return Ok(());
        }
        let ctx = format!("{ctx} in range mode");
        let range = self
            .engine
            .range(
                storage,
                expr,
                t.saturating_sub(60_000),
                t.saturating_add(60_000),
                60_000,
            )
            .map_err(|e| {
                format!(
                    "error evaluating query {:?} (line {}){ctx}: {e}",
                    cmd.expr, cmd.line
                )
            })?;
        if cmd.expect.ordered {
            // Range results are sorted by labels, so an expected order cannot hold.
            return Ok(());
        }
        let Value::Matrix(series) = &range.value else {
            return Err(format!(
                "range query returned a {} instead of a matrix{ctx}",
                range.value.value_type()
            ));
        };
        assert_sorted(series).map_err(|e| format!("{e}{ctx}"))?;
        let mut samples = Vec::new();
        for s in series {
            if let Some(p) = s.floats.iter().find(|p| p.t == t) {
                samples.push(Sample {
                    labels: s.labels.clone(),
                    t,
                    value: SampleValue::Float(p.v),
                });
            }
            if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
                samples.push(Sample {
                    labels: s.labels.clone(),
                    t,
                    value: SampleValue::Histogram(p.h.clone()),
                });
            }
        }
        let value = if matches!(res.value, Value::Scalar { .. }) {
            let Some(SampleValue::Float(v)) = samples.first().map(|s| &s.value) else {
                return Err(format!(
                    "range query returned no float at t={t} for a scalar query{ctx}"
                ));
            };
            Value::Scalar { t, v: *v }
        } else {
            Value::Vector(samples)
        };
        compare_result(cmd, &value)
            .map_err(|e| format!("error in eval {} (line {}){ctx}: {e}", cmd.expr, cmd.line))
    }
}

/// Checks annotations against `expect warn/info/no_warn/no_info` (and the
/// legacy `eval_warn`/`eval_info`); positions are rendered against `query`.
pub fn check_annotations(
    cmd: &EvalCmd,
    query: &str,
    annotations: &[Annotation],
) -> Result<(), String> {
    let rendered = |level: AnnotationLevel| -> Vec<String> {
        let set: BTreeSet<String> = annotations
            .iter()
            .filter(|a| a.level == level)
            .map(|a| a.render(query))
            .collect();
        set.into_iter().collect()
    };
    let warnings = rendered(AnnotationLevel::Warning);
    let infos = rendered(AnnotationLevel::Info);
    let (expr, line) = (&cmd.expr, cmd.line);
    let e = &cmd.expect;
    if e.legacy_warn && warnings.is_empty() {
        return Err(format!(
            "expected warnings evaluating query {expr:?} (line {line}) but got none"
        ));
    }
    if e.legacy_info && infos.is_empty() {
        return Err(format!(
            "expected info annotations evaluating query {expr:?} (line {line}) but got none"
        ));
    }
    check_expected(&e.warn, &warnings, "warn", cmd)?;
    check_expected(&e.info, &infos, "info", cmd)?;
    if e.no_warn && !warnings.is_empty() {
        return Err(format!(
            "unexpected warning annotations evaluating query {expr:?} (line {line}): {warnings:?}"
        ));
    }
    if e.no_info && !infos.is_empty() {
        return Err(format!(
            "unexpected info annotations evaluating query {expr:?} (line {line}): {infos:?}"
        ));
    }
    Ok(())
}

fn check_expected(
    expected: &[MessageMatch],
    actual: &[String],
    kind: &str,
    cmd: &EvalCmd,
) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    let (expr, line) = (&cmd.expr, cmd.line);
    if actual.is_empty() {
        return Err(format!(
            "expected {kind} annotations but none were found for query {expr:?} (line {line})"
        ));
    }
    for m in expected {
        if !actual.iter().any(|a| m.matches(a)) {
            return Err(format!(
                "expected {kind} annotation matching {} but no matching annotation was found for query {expr:?} (line {line}), found: {actual:?}",
                m.describe()
            ));
        }
    }
    for a in actual {
        if !expected.iter().any(|m| m.matches(a)) {
            return Err(format!(
                "unexpected {kind} annotation {a:?} found for query {expr} (line {line})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Span;

    fn eval(script: &str) -> EvalCmd {
        match Script::parse(script).unwrap().commands.into_iter().last() {
            Some(Command::Eval(e)) => *e,
            other => panic!("last command is not an eval: {other:?}"),
        }
    }

    fn anno(level: AnnotationLevel, message: &str, start: u32) -> Annotation {
        Annotation {
            level,
            message: message.into(),
            span: Some(Span {
                start,
                end: start + 1,
            }),
        }
    }

    #[test]
    fn annotation_expectations() {
        let warn = anno(AnnotationLevel::Warning, "bad thing", 4);
        let info = anno(AnnotationLevel::Info, "fyi", 0);
        let exact =
            eval("eval instant at 0 sum(x)\n  expect warn msg: PromQL warning: bad thing (1:5)\n");
        check_annotations(&exact, &exact.expr, std::slice::from_ref(&warn)).unwrap();
        assert!(
            check_annotations(&exact, &exact.expr, &[])
                .unwrap_err()
                .contains("none were found")
        );
        // An info is not constrained by warn expectations.
        check_annotations(&exact, &exact.expr, &[warn.clone(), info.clone()]).unwrap();
        let other = anno(AnnotationLevel::Warning, "other", 4);
        assert!(
            check_annotations(&exact, &exact.expr, &[warn.clone(), other])
                .unwrap_err()
                .contains("unexpected warn")
        );
        let regex =
            eval("eval instant at 0 sum(x)\n  expect warn regex: bad \\w+\n  expect no_info\n");
        check_annotations(&regex, &regex.expr, std::slice::from_ref(&warn)).unwrap();
        assert!(
            check_annotations(&regex, &regex.expr, &[warn.clone(), info.clone()])
                .unwrap_err()
                .contains("unexpected info")
        );
        let none = eval("eval instant at 0 sum(x)\n  expect no_warn\n");
        assert!(check_annotations(&none, &none.expr, std::slice::from_ref(&warn)).is_err());
        check_annotations(&none, &none.expr, std::slice::from_ref(&info)).unwrap();
        let unconstrained = eval("eval instant at 0 sum(x)\n");
        check_annotations(&unconstrained, &unconstrained.expr, &[warn.clone(), info]).unwrap();
        let legacy = eval("eval_warn instant at 0 sum(x)\n");
        assert!(check_annotations(&legacy, &legacy.expr, &[]).is_err());
        check_annotations(&legacy, &legacy.expr, &[warn]).unwrap();
    }

    #[test]
    fn failed_loads_and_unparsable_queries_are_cases() {
        let script = Script::parse(
            "load_with_nhcb 1m\n  h_bucket{le=\"1\"} 5\n  h_bucket{le=\"2\"} 3\n\neval instant at 0 sum(\n  expect fail\n\neval instant at 0 sum(\n",
        )
        .unwrap();
        let report = script.run(&RunOptions::default());
        assert_eq!(report.cases.len(), 3);
        assert_eq!(report.cases[0].line, 1);
        assert!(
            report.cases[0]
                .failure
                .as_deref()
                .unwrap_or("")
                .contains("load failed")
        );
        // `expect fail` accepts a parse error; without it the case fails.
        assert!(report.cases[1].passed());
        assert!(!report.cases[2].passed());
        assert_eq!((report.passed(), report.failed()), (1, 2));
        assert!(
            report.cases[0]
                .to_string()
                .starts_with("line 1: FAILED load: load failed")
        );
        assert_eq!(report.cases[1].to_string(), "line 5: ok sum(");
    }
}
