//! The typed model of a rule file, with a position for every field.

use std::time::Duration;

use crate::parser::Expr;
use crate::rules::yaml::Pos;

/// A value and the position of the YAML node it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where its node starts.
    pub pos: Pos,
}

impl<T> Spanned<T> {
    /// Pairs `value` with `pos`.
    pub fn new(value: T, pos: Pos) -> Self {
        Spanned { value, pos }
    }
}

/// A rule file: a list of rule groups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleFile {
    /// The groups, in file order.
    pub groups: Vec<RuleGroup>,
}

impl RuleFile {
    /// The number of rules (alerting and recording) in all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// A label or annotation: name and value, each with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelEntry {
    /// The name (map key).
    pub name: String,
    /// Where the name is written.
    pub name_pos: Pos,
    /// The value (may be a template).
    pub value: String,
    /// Where the value is written.
    pub value_pos: Pos,
}

/// A group of rules evaluated together, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleGroup {
    /// Where the group's mapping starts.
    pub pos: Pos,
    /// `name:` (empty and at `0:0` if missing).
    pub name: Spanned<String>,
    /// `interval:` (the global evaluation interval applies when absent).
    pub interval: Option<Spanned<Duration>>,
    /// `query_offset:`.
    pub query_offset: Option<Spanned<Duration>>,
    /// `limit:` (0 means no limit).
    pub limit: Option<Spanned<i64>>,
    /// `labels:` added to every rule of the group, in file order.
    pub labels: Vec<LabelEntry>,
    /// `rules:`, in file order.
    pub rules: Vec<Rule>,
}

/// Whether a rule records a series or fires alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// `record:`
    Recording,
    /// `alert:`
    Alerting,
}

/// An alerting or recording rule.
///
/// The model keeps what the file says, even when invalid (both `record` and
/// `alert`, neither, `for` on a recording rule); validation reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rule {
    /// Where the rule's mapping starts.
    pub pos: Pos,
    /// `record:` (the recorded metric name).
    pub record: Option<Spanned<String>>,
    /// `alert:` (the alert name).
    pub alert: Option<Spanned<String>>,
    /// `expr:` as written.
    pub expr: Option<Spanned<String>>,
    /// The parsed expression, set by validation when `expr` parses.
    pub parsed_expr: Option<Expr>,
    /// `for:` (alerting rules only).
    pub for_: Option<Spanned<Duration>>,
    /// `keep_firing_for:` (alerting rules only).
    pub keep_firing_for: Option<Spanned<Duration>>,
    /// `labels:`, in file order.
    pub labels: Vec<LabelEntry>,
    /// `annotations:`, in file order.
    pub annotations: Vec<LabelEntry>,
}

impl Rule {
    /// The `record:` value, or `""` when absent.
    pub fn record_name(&self) -> &str {
        self.record.as_ref().map_or("", |r| r.value.as_str())
    }

    /// The `alert:` value, or `""` when absent.
    pub fn alert_name(&self) -> &str {
        self.alert.as_ref().map_or("", |a| a.value.as_str())
    }

    /// The `expr:` text, or `""` when absent.
    pub fn expr_text(&self) -> &str {
        self.expr.as_ref().map_or("", |e| e.value.as_str())
    }

    /// The rule's name: the alert name if set, else the record name.
    pub fn name(&self) -> &str {
        if self.alert_name().is_empty() {
            self.record_name()
        } else {
            self.alert_name()
        }
    }

    /// Alerting if `alert:` is non-empty, else recording.
    pub fn kind(&self) -> RuleKind {
        if self.alert_name().is_empty() {
            RuleKind::Recording
        } else {
            RuleKind::Alerting
        }
    }

    /// `for:`, zero when absent.
    pub fn for_duration(&self) -> Duration {
        self.for_.as_ref().map_or(Duration::ZERO, |d| d.value)
    }

    /// `keep_firing_for:`, zero when absent.
    pub fn keep_firing_for_duration(&self) -> Duration {
        self.keep_firing_for
            .as_ref()
            .map_or(Duration::ZERO, |d| d.value)
    }
}
