//! What one group evaluation produced, per rule, as text or JSON.

use std::time::{Duration, Instant};

use promql_engine::Engine;
use promql_engine::model::api_json;
use promql_engine::model::float_format::format_api as format_float;
use promql_engine::model::{Labels, Sample, SampleValue, Value, is_stale_nan};
use promql_engine::rules::eval::{Alert, EvalSummary, Group, OverlayStore, RuleBody};

use super::super::format_time;
use super::sink::Sink;

/// One rule's part of an evaluation.
struct RuleReport {
    alerting: bool,
    name: String,
    error: Option<String>,
    /// The samples it appended (for alerting rules, `ALERTS` and
    /// `ALERTS_FOR_STATE`), stale markers included.
    samples: Vec<Sample>,
    /// Its alerts after the evaluation (alerting rules).
    alerts: Vec<Alert>,
}

/// One evaluation of one group.
pub(crate) struct GroupReport {
    name: String,
    file: String,
    t: i64,
    took: Duration,
    summary: EvalSummary,
    rules: Vec<RuleReport>,
}

/// Whether an output sample belongs to the rule: its record name, or the
/// alert series of its alert name.
fn produced_by(sample: &Sample, alerting: bool, name: &str) -> bool {
    let metric = sample.labels.get("__name__").unwrap_or("");
    if alerting {
        (metric == "ALERTS" || metric == "ALERTS_FOR_STATE")
            && sample.labels.get("alertname") == Some(name)
    } else {
        metric == name
    }
}

impl GroupReport {
    /// Evaluates `group` at `t` and gathers what each rule produced.
    pub(crate) fn evaluate(
        engine: &Engine,
        group: &mut Group,
        store: &mut OverlayStore<'_, Sink>,
        t: i64,
    ) -> GroupReport {
        let started = Instant::now();
        let summary = group.eval(engine, store, t);
        let took = started.elapsed();
        let recorded = store.sink_mut().take_recorded();
        let rules = group
            .rules
            .iter()
            .map(|rule| {
                let alerting = matches!(rule.body, RuleBody::Alerting(_));
                let name = rule.name().to_string();
                let samples = recorded
                    .iter()
                    .filter(|s| produced_by(s, alerting, &name))
                    .cloned()
                    .collect();
                let alerts = match &rule.body {
                    RuleBody::Alerting(a) => a.alerts().cloned().collect(),
                    RuleBody::Recording(_) => Vec::new(),
                };
                RuleReport {
                    alerting,
                    name,
                    error: rule.last_error.as_ref().map(|e| e.0.clone()),
                    samples,
                    alerts,
                }
            })
            .collect();
        GroupReport {
            name: group.name.clone(),
            file: group.file.clone(),
            t,
            took,
            summary,
            rules,
        }
    }

    /// Whether a rule failed.
    pub(crate) fn failed(&self) -> bool {
        self.summary.failed_rules > 0
    }

    /// One log line (and one per failed rule) for `rules run`.
    pub(crate) fn log_line(&self) -> String {
        let mut line = format!(
            "{} group {:?} ({}) evaluated at {} in {:.3}ms: {} samples, {} failed rules",
            format_time(chrono::Utc::now().timestamp_millis()),
            self.name,
            self.file,
            format_time(self.t),
            self.took.as_secs_f64() * 1000.0,
            self.summary.samples,
            self.summary.failed_rules,
        );
        for rule in &self.rules {
            if let Some(e) = &rule.error {
                line.push_str(&format!("\n  rule {:?}: error: {e}", rule.name));
            }
        }
        line
    }

    /// The human form: a header, then per rule its samples or alerts.
    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "group {:?} ({}) at {}: {} rules, {} samples, {} failed\n",
            self.name,
            self.file,
            format_time(self.t),
            self.rules.len(),
            self.summary.samples,
            self.summary.failed_rules
        );
        for rule in &self.rules {
            let kind = if rule.alerting { "alert" } else { "record" };
            match &rule.error {
                Some(e) => out.push_str(&format!("  {kind} {}: error: {e}\n", rule.name)),
                None => out.push_str(&format!("  {kind} {}\n", rule.name)),
            }
            if rule.alerting {
                for alert in &rule.alerts {
                    out.push_str(&format!(
                        "    {} {} value={} active_since={}\n",
                        alert.state.as_str(),
                        alert.labels,
                        format_float(alert.value),
                        format_time(alert.active_at)
                    ));
                }
            } else {
                for s in &rule.samples {
                    out.push_str(&format!("    {} {}\n", s.labels, value_text(&s.value)));
                }
            }
        }
        out
    }

    /// The JSON form, after Prometheus' `/api/v1/rules`.
    pub(crate) fn json(&self) -> serde_json::Value {
        let rules: Vec<serde_json::Value> = self.rules.iter().map(RuleReport::json).collect();
        serde_json::json!({
            "name": self.name,
            "file": self.file,
            "evaluationTime": format_time(self.t),
            "timestamp": self.t as f64 / 1000.0,
            "durationSeconds": self.took.as_secs_f64(),
            "samples": self.summary.samples,
            "failedRules": self.summary.failed_rules,
            "rules": rules,
        })
    }
}

impl RuleReport {
    fn json(&self) -> serde_json::Value {
        let mut json = serde_json::json!({
            "type": if self.alerting { "alerting" } else { "recording" },
            "name": self.name,
            "health": if self.error.is_some() { "err" } else { "ok" },
            "lastError": self.error.clone().unwrap_or_default(),
            "samples": samples_json(&self.samples),
        });
        if self.alerting {
            json["alerts"] = self
                .alerts
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "labels": labels_json(&a.labels),
                        "annotations": labels_json(&a.annotations),
                        "state": a.state.as_str(),
                        "activeAt": format_time(a.active_at),
                        "value": format_float(a.value),
                    })
                })
                .collect();
        }
        json
    }
}

fn value_text(value: &SampleValue) -> String {
    match value {
        SampleValue::Float(v) if is_stale_nan(*v) => "stale".into(),
        SampleValue::Float(v) => format_float(*v),
        SampleValue::Histogram(h) => h.to_string(),
    }
}

fn labels_json(labels: &Labels) -> serde_json::Value {
    labels
        .iter()
        .map(|l| {
            (
                l.name.to_string(),
                serde_json::Value::String(l.value.to_string()),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Samples as the HTTP API writes a vector's `result`.
fn samples_json(samples: &[Sample]) -> serde_json::Value {
    let data = api_json::data_json(&Value::Vector(samples.to_vec()));
    serde_json::from_str::<serde_json::Value>(&data)
        .ok()
        .and_then(|mut d| d.get_mut("result").map(serde_json::Value::take))
        .unwrap_or_default()
}
