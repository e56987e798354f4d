//! Evaluating rule groups, as Prometheus' rule manager does.
//!
//! A [`Group`] is built from a loaded [`crate::rules::RuleGroup`]. Each
//! [`Group::eval`] runs the rules in order at one timestamp against a
//! [`RuleStore`], appending every output (recorded series, `ALERTS`,
//! `ALERTS_FOR_STATE`, stale markers) so later rules of the same evaluation
//! see it. A [`MemoryStorage`] is a `RuleStore` by itself; an
//! [`OverlayStore`] evaluates over any [`Storage`]
//! (a remote-read endpoint, say) and sends the outputs to an
//! [`Appender`] (a remote-write appender, say).
//!
//! ```
//! use promql_engine::Engine;
//! use promql_engine::model::Labels;
//! use promql_engine::rules::eval::{Group, GroupOptions};
//! use promql_engine::rules::{load_rule_file, LoadOptions};
//! use promql_engine::storage::MemoryStorage;
//!
//! let text = "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n";
//! let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
//! let mut group = Group::new(&file.groups[0], "f.yml", &GroupOptions::default());
//! let mut storage = MemoryStorage::new();
//! storage.add(&Labels::from_pairs(&[("__name__", "up"), ("job", "a")]), 0, 1.0);
//! group.eval(&Engine::default(), &mut storage, 0);
//! assert!(group.rules[0].last_error.is_none());
//! assert_eq!(storage.series_count(), 2);
//! ```

pub mod alerting;
pub mod recording;
pub mod store;

use std::collections::BTreeSet;

use crate::Engine;
use crate::model::{Labels, Sample, SampleValue, Value, stale_nan};
use crate::parser::Expr;
use crate::rules::model::{RuleGroup, RuleKind};
use crate::rules::template::exec::QuerySample;
use crate::storage::Storage;
#[cfg(doc)]
use crate::storage::{Appender, MemoryStorage};

pub use alerting::{Alert, AlertState, AlertingRule, TemplateContext, TemplatedEntry};
pub use recording::RecordingRule;
pub use store::{Discard, OverlayStore, RuleStore};

/// What one [`Group::eval`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EvalSummary {
    /// Samples appended (recorded samples, `ALERTS`, `ALERTS_FOR_STATE`,
    /// stale markers; floats and histograms).
    pub samples: usize,
    /// Rules whose evaluation failed (their `last_error` says why).
    pub failed_rules: usize,
    /// Appends the store refused (also set as the rule's `last_error`).
    pub append_errors: usize,
}

/// Why a rule's evaluation failed (Prometheus' `LastError` text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleEvalError(pub String);

/// Settings shared by the groups of a rule manager.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupOptions {
    /// Interval of groups without `interval:`, milliseconds (default 1m).
    pub default_interval_ms: Option<i64>,
    /// Query offset of groups without `query_offset:`, milliseconds
    /// (Prometheus' global `rule_query_offset`; default 0).
    pub default_query_offset_ms: i64,
    /// `$externalLabels`.
    pub external_labels: Vec<(String, String)>,
    /// `$externalURL`.
    pub external_url: String,
}

/// A recording or alerting rule.
#[derive(Clone, Debug)]
pub enum RuleBody {
    /// `record:`
    Recording(RecordingRule),
    /// `alert:`
    Alerting(AlertingRule),
}

/// One rule of a group and its evaluation state.
#[derive(Clone, Debug)]
pub struct GroupRule {
    /// The rule.
    pub body: RuleBody,
    /// The error of the last evaluation, if it failed.
    pub last_error: Option<RuleEvalError>,
    /// Series the rule wrote in its last successful evaluation (for stale markers).
    pub previous_series: BTreeSet<Labels>,
}

impl GroupRule {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        match &self.body {
            RuleBody::Recording(r) => &r.name,
            RuleBody::Alerting(a) => &a.name,
        }
    }

    fn expr(&self) -> &Expr {
        match &self.body {
            RuleBody::Recording(r) => &r.expr,
            RuleBody::Alerting(a) => &a.expr,
        }
    }
}

/// A rule group ready for evaluation.
#[derive(Clone, Debug)]
pub struct Group {
    /// `name:`.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Evaluation interval, milliseconds.
    pub interval_ms: i64,
    /// `query_offset:`, milliseconds.
    pub query_offset_ms: i64,
    /// `limit:` (0: none).
    pub limit: usize,
    /// The rules, in order.
    pub rules: Vec<GroupRule>,
    external_labels: Vec<(String, String)>,
    external_url: String,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn merged_labels(group: &RuleGroup, rule: &[crate::rules::LabelEntry]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = group
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    for l in rule {
        match out.iter_mut().find(|(n, _)| *n == l.name) {
            Some(slot) => slot.1 = l.value.clone(),
            None => out.push((l.name.clone(), l.value.clone())),
        }
    }
    out
}

impl Group {
    /// Builds a group from a validated rule group (rules whose expression
    /// did not parse are skipped).
    pub fn new(group: &RuleGroup, file: &str, options: &GroupOptions) -> Self {
        let mut rules = Vec::new();
        for rule in &group.rules {
            let Some(expr) = rule.parsed_expr.clone() else {
                continue;
            };
            let labels = merged_labels(group, &rule.labels);
            let body = match rule.kind() {
                RuleKind::Recording => RuleBody::Recording(RecordingRule {
                    name: rule.record_name().to_string(),
                    expr,
                    labels,
                }),
                RuleKind::Alerting => {
                    let name = rule.alert_name();
                    RuleBody::Alerting(AlertingRule {
                        name: name.to_string(),
                        expr,
                        hold_ms: ms(rule.for_duration()),
                        keep_firing_for_ms: ms(rule.keep_firing_for_duration()),
                        labels: labels
                            .iter()
                            .map(|(n, v)| TemplatedEntry::new(name, n, v))
                            .collect(),
                        annotations: rule
                            .annotations
                            .iter()
                            .map(|a| TemplatedEntry::new(name, &a.name, &a.value))
                            .collect(),
                        active: Default::default(),
                    })
                }
            };
            rules.push(GroupRule {
                body,
                last_error: None,
                previous_series: BTreeSet::new(),
            });
        }
        Group {
            name: group.name.value.clone(),
            file: file.to_string(),
            interval_ms: group
                .interval
                .as_ref()
                .map(|i| ms(i.value))
                // As in Prometheus, `interval: 0s` means the default.
                .filter(|&ms| ms > 0)
                .or(options.default_interval_ms.filter(|&ms| ms > 0))
                .unwrap_or(60_000),
            query_offset_ms: group
                .query_offset
                .as_ref()
                .map_or(options.default_query_offset_ms, |o| ms(o.value)),
            limit: group
                .limit
                .as_ref()
                .map_or(0, |l| usize::try_from(l.value).unwrap_or(0)),
            rules,
            external_labels: options.external_labels.clone(),
            external_url: options.external_url.clone(),
        }
    }

    /// Evaluates every rule in order at `ts` (milliseconds), appending the
    /// outputs to `store` (queried by later rules). Failures are kept in each
    /// rule's `last_error`, as Prometheus does; an output the store refuses
    /// is one too.
    pub fn eval<S: RuleStore + ?Sized>(
        &mut self,
        engine: &Engine,
        store: &mut S,
        ts: i64,
    ) -> EvalSummary {
        let mut summary = EvalSummary::default();
        for i in 0..self.rules.len() {
            let output = self.rule_output(i, engine, store.queryable(), ts);
            let query_ts = ts - self.query_offset_ms;
            let Some(rule) = self.rules.get_mut(i) else {
                break;
            };
            let samples = match output {
                Ok(samples) => samples,
                Err(e) => {
                    rule.last_error = Some(e);
                    summary.failed_rules += 1;
                    continue;
                }
            };
            rule.last_error = None;
            let appender = store.appender();
            let mut seen = BTreeSet::new();
            let mut append_error = None;
            let mut note = |result: Result<(), crate::storage::StorageError>| {
                summary.samples += 1;
                if let Err(e) = result {
                    summary.append_errors += 1;
                    append_error.get_or_insert_with(|| RuleEvalError(e.to_string()));
                }
            };
            for sample in &samples {
                note(match &sample.value {
                    SampleValue::Float(f) => appender.append(&sample.labels, sample.t, *f),
                    SampleValue::Histogram(h) => {
                        appender.append_histogram(&sample.labels, sample.t, h.clone())
                    }
                });
                seen.insert(sample.labels.clone());
            }
            for gone in rule.previous_series.difference(&seen) {
                note(appender.append(gone, query_ts, stale_nan()));
            }
            rule.previous_series = seen;
            if append_error.is_some() {
                summary.failed_rules += 1;
                rule.last_error = append_error;
            }
            store.commit();
        }
        summary
    }

    /// Runs rule `i` at `ts` over `storage` and returns the samples to append.
    fn rule_output(
        &mut self,
        i: usize,
        engine: &Engine,
        storage: &dyn Storage,
        ts: i64,
    ) -> Result<Vec<Sample>, RuleEvalError> {
        let query_ts = ts - self.query_offset_ms;
        let Some(rule) = self.rules.get(i) else {
            return Ok(Vec::new());
        };
        let result = run_query(engine, storage, rule.expr(), query_ts);
        let external_labels = &self.external_labels;
        let external_url = &self.external_url;
        let limit = self.limit;
        let offset = self.query_offset_ms;
        let template_query = |q: &str| -> Result<Vec<QuerySample>, String> {
            let expr = crate::parser::parse(q).map_err(|e| e.to_string())?;
            let samples = run_query(engine, storage, &expr, ts).map_err(|e| e.0)?;
            Ok(samples
                .into_iter()
                .map(|s| QuerySample {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    value: match s.value {
                        SampleValue::Float(f) => f,
                        SampleValue::Histogram(_) => f64::NAN,
                    },
                })
                .collect())
        };
        let Some(rule) = self.rules.get_mut(i) else {
            return Ok(Vec::new());
        };
        result.and_then(|samples| match &mut rule.body {
            RuleBody::Recording(r) => r.output(samples, limit),
            RuleBody::Alerting(a) => {
                let ctx = TemplateContext {
                    external_labels,
                    external_url,
                    query: &template_query,
                };
                a.eval(samples, ts, offset, limit, &ctx)
            }
        })
    }
}

impl Group {
    /// Evaluates at `start`, `start + interval`, ... up to `end` inclusive,
    /// as the rule manager's ticker would.
    pub fn eval_range<S: RuleStore + ?Sized>(
        &mut self,
        engine: &Engine,
        storage: &mut S,
        start: i64,
        end: i64,
    ) {
        let step = self.interval_ms.max(1);
        let mut t = start;
        while t <= end {
            self.eval(engine, storage, t);
            t = match t.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
    }

    /// The alerts of the group's alerting rules named `name` (all states).
    pub fn alerts<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Alert> + 'a {
        self.rules
            .iter()
            .flat_map(move |r| match &r.body {
                RuleBody::Alerting(a) if a.name == name => Some(a.alerts()),
                _ => None,
            })
            .flatten()
    }
}

/// Runs `expr` at `t` as Prometheus' rule query function does: a scalar
/// becomes a one-sample vector without labels, other types are errors.
pub fn run_query(
    engine: &Engine,
    storage: &dyn Storage,
    expr: &Expr,
    t: i64,
) -> Result<Vec<Sample>, RuleEvalError> {
    let result = engine
        .instant(storage, expr, t)
        .map_err(|e| RuleEvalError(e.to_string()))?;
    match result.value {
        Value::Vector(samples) => Ok(samples),
        Value::Scalar { t, v } => Ok(vec![Sample {
            labels: Labels::empty(),
            t,
            value: SampleValue::Float(v),
        }]),
        _ => Err(RuleEvalError(
            "rule result is not a vector or scalar".into(),
        )),
    }
}
