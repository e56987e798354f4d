//! Alerting rules: the pending → firing → resolved life cycle of alerts,
//! their templated labels and annotations, and the `ALERTS` /
//! `ALERTS_FOR_STATE` series.

use std::collections::BTreeMap;

use crate::model::{Labels, LabelsBuilder, Sample, SampleValue};
use crate::parser::Expr;
use crate::rules::template::exec::{AlertData, Expander, QueryFn};
use crate::rules::template::{Template, parse_alert_template};

use super::RuleEvalError;

/// How long a resolved alert is kept (and reported) after it resolved.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// Where an alert is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    /// Resolved (kept for [`RESOLVED_RETENTION_MS`]).
    Inactive,
    /// Active, waiting for `for` to pass.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: one per distinct output label set.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Labels after templating, including `alertname`.
    pub labels: Labels,
    /// Annotations after templating.
    pub annotations: Labels,
    /// The value of the sample that last triggered the alert.
    pub value: f64,
    /// The state.
    pub state: AlertState,
    /// When the alert became active, milliseconds.
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it resolved.
    pub resolved_at: Option<i64>,
    /// Since when it is kept firing by `keep_firing_for`.
    pub keep_firing_since: Option<i64>,
}

/// A label or annotation template: its name, source and parsed form.
#[derive(Clone, Debug)]
pub struct TemplatedEntry {
    /// Label or annotation name.
    pub name: String,
    /// Template text.
    pub source: String,
    /// Parsed template (`Err` holds the parse error text).
    pub template: Result<Template, String>,
}

impl TemplatedEntry {
    /// Parses `source` as a template of alert `alert`.
    pub fn new(alert: &str, name: &str, source: &str) -> Self {
        TemplatedEntry {
            name: name.to_string(),
            source: source.to_string(),
            template: parse_alert_template(alert, source).map_err(|e| e.to_string()),
        }
    }
}

/// What alert templates see besides the alert itself.
#[allow(missing_debug_implementations)]
pub struct TemplateContext<'a> {
    /// `$externalLabels`.
    pub external_labels: &'a [(String, String)],
    /// `$externalURL`.
    pub external_url: &'a str,
    /// Runs `query` in templates.
    pub query: &'a QueryFn<'a>,
}

/// An alerting rule with its active alerts.
#[derive(Clone, Debug)]
pub struct AlertingRule {
    /// `alert:`.
    pub name: String,
    /// The parsed expression.
    pub expr: Expr,
    /// `for:` in milliseconds.
    pub hold_ms: i64,
    /// `keep_firing_for:` in milliseconds.
    pub keep_firing_for_ms: i64,
    /// Label templates (group labels merged in).
    pub labels: Vec<TemplatedEntry>,
    /// Annotation templates.
    pub annotations: Vec<TemplatedEntry>,
    /// Active, pending and recently resolved alerts by label set.
    pub active: BTreeMap<Labels, Alert>,
}

fn expand(entry: &TemplatedEntry, data: &AlertData, ts: i64, ctx: &TemplateContext<'_>) -> String {
    let template = match &entry.template {
        Ok(t) => t,
        Err(e) => return format!("<error expanding template: error parsing template: {e}>"),
    };
    let mut expander = Expander::new(ts);
    expander.external_url = ctx.external_url.to_string();
    expander.query = Some(ctx.query);
    match expander.expand_alert(template, &entry.source, data) {
        Ok(text) => text,
        Err(e) => format!(
            "<error expanding template: error executing template {}: {e}>",
            template.name
        ),
    }
}

impl AlertingRule {
    /// Every alert in the rule (active, pending, and resolved within retention).
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Feeds the query result at `ts` into the alert states and returns the
    /// `ALERTS` and `ALERTS_FOR_STATE` samples (stamped `ts - offset_ms`).
    pub fn eval(
        &mut self,
        samples: Vec<Sample>,
        ts: i64,
        offset_ms: i64,
        limit: usize,
        ctx: &TemplateContext<'_>,
    ) -> Result<Vec<Sample>, RuleEvalError> {
        let mut current: BTreeMap<Labels, (Labels, f64)> = BTreeMap::new();
        for sample in samples {
            let value = match &sample.value {
                SampleValue::Float(f) => *f,
                SampleValue::Histogram(_) => f64::NAN,
            };
            let data = AlertData {
                labels: sample
                    .labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                external_labels: ctx.external_labels.to_vec(),
                external_url: ctx.external_url.to_string(),
                value,
            };
            let mut builder = sample.labels.builder();
            builder.remove_mut("__name__");
            for entry in &self.labels {
                let text = expand(entry, &data, ts, ctx);
                if text.is_empty() {
                    builder.remove_mut(&entry.name);
                } else {
                    builder.set_mut(entry.name.as_str(), text);
                }
            }
            builder.set_mut("alertname", self.name.as_str());
            let labels = builder.build();
            let mut annotations = LabelsBuilder::new();
            for entry in &self.annotations {
                let text = expand(entry, &data, ts, ctx);
                if !text.is_empty() {
                    annotations.set_mut(entry.name.as_str(), text);
                }
            }
            if current.contains_key(&labels) {
                return Err(RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                ));
            }
            current.insert(labels, (annotations.build(), value));
        }

        for (labels, (annotations, value)) in &current {
            match self.active.get_mut(labels) {
                Some(alert) if alert.state != AlertState::Inactive => {
                    alert.value = *value;
                    alert.annotations = annotations.clone();
                }
                _ => {
                    self.active.insert(
                        labels.clone(),
                        Alert {
                            labels: labels.clone(),
                            annotations: annotations.clone(),
                            value: *value,
                            state: AlertState::Pending,
                            active_at: ts,
                            fired_at: None,
                            resolved_at: None,
                            keep_firing_since: None,
                        },
                    );
                }
            }
        }

        let mut out = Vec::new();
        let mut active_count = 0usize;
        let mut remove = Vec::new();
        let rule_labels = &self.labels;
        for (key, alert) in &mut self.active {
            if current.contains_key(key) {
                alert.keep_firing_since = None;
            } else {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *alert.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for_ms;
                }
                let expired = alert
                    .resolved_at
                    .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS);
                if alert.state == AlertState::Pending || expired {
                    remove.push(key.clone());
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            }
            active_count += 1;
            if alert.state == AlertState::Pending && ts - alert.active_at >= self.hold_ms {
                alert.state = AlertState::Firing;
                alert.fired_at = Some(ts);
            }
            let t = ts - offset_ms;
            // As Prometheus: the rule's labels as written, overridden by the
            // alert's (a label whose template expanded to "" keeps its text).
            let series_labels = |name: &str| {
                let mut b = LabelsBuilder::new();
                for entry in rule_labels {
                    b.set_mut(entry.name.as_str(), entry.source.as_str());
                }
                for l in alert.labels.iter() {
                    b.set_mut(l.name.clone(), l.value.clone());
                }
                b.set_mut("__name__", name);
                b
            };
            let mut alerts = series_labels("ALERTS");
            alerts.set_mut("alertstate", alert.state.as_str());
            out.push(Sample {
                labels: alerts.build(),
                t,
                value: SampleValue::Float(1.0),
            });
            out.push(Sample {
                labels: series_labels("ALERTS_FOR_STATE").build(),
                t,
                value: SampleValue::Float(alert.active_at.div_euclid(1000) as f64),
            });
        }
        for key in remove {
            self.active.remove(&key);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(RuleEvalError(format!(
                "exceeded limit of {limit} with {active_count} alerts"
            )));
        }
        Ok(out)
    }
}
