//! Prometheus' validation rules for a decoded rule file.
//!
//! The checks and their order follow Prometheus 3.x: group names (empty,
//! repeated), group labels, then for each rule: `record` vs `alert`, `expr`
//! present and parseable, recording-rule restrictions (no `annotations`,
//! `for`, `keep_firing_for`; a valid metric name without braces), label and
//! annotation names, and for alerting rules the templates in labels and
//! annotations.

use std::collections::HashSet;
use std::fmt;

use crate::model::labels::{is_valid_legacy_label_name, is_valid_legacy_metric_name};
use crate::parser::{ParseError, parse_with};
use crate::rules::decode::{DecodeError, pos_of};
use crate::rules::load::LoadOptions;
use crate::rules::model::{Rule, RuleFile};
use crate::rules::template::lexer::go_quote;
use crate::rules::template::{TemplateError, parse_alert_template};
use crate::rules::yaml::Pos;

/// Which label and metric names are valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameValidation {
    /// Prometheus 3.x default: any non-empty UTF-8 name.
    #[default]
    Utf8,
    /// Prometheus 2.x: `[a-zA-Z_][a-zA-Z0-9_]*` (metric names may also contain `:`).
    Legacy,
}

impl NameValidation {
    fn label_name_ok(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_valid_legacy_label_name(name),
        }
    }

    fn metric_name_ok(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_valid_legacy_metric_name(name),
        }
    }
}

/// What is wrong with one rule. `Display` gives Prometheus' message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RuleProblem {
    /// Both `record:` and `alert:` are set.
    #[error("only one of 'record' and 'alert' must be set")]
    BothRecordAndAlert,
    /// Neither `record:` nor `alert:` is set.
    #[error("one of 'record' or 'alert' must be set")]
    NeitherRecordNorAlert,
    /// `expr:` is missing or empty.
    #[error("field 'expr' must be set in rule")]
    MissingExpr,
    /// `expr:` does not parse.
    #[error("could not parse expression: {}: parse error: {}", .0.position(), .0.message())]
    BadExpr(ParseError),
    /// A recording rule with annotations.
    #[error("invalid field 'annotations' in recording rule")]
    AnnotationsInRecordingRule,
    /// A recording rule with `for:`.
    #[error("invalid field 'for' in recording rule")]
    ForInRecordingRule,
    /// A recording rule with `keep_firing_for:`.
    #[error("invalid field 'keep_firing_for' in recording rule")]
    KeepFiringForInRecordingRule,
    /// The record name is not a valid metric name.
    #[error("invalid recording rule name: {0}")]
    InvalidRecordName(String),
    /// The record name contains `{` or `}` (probably an expression).
    #[error("braces present in the recording rule name; should it be in expr?: {0}")]
    BracesInRecordName(String),
    /// A rule label name is invalid (or `__name__`).
    #[error("invalid label name: {0}")]
    InvalidLabelName(String),
    /// An annotation name is invalid.
    #[error("invalid annotation name: {0}")]
    InvalidAnnotationName(String),
    /// A label value of an alerting rule is not a valid template.
    #[error("label {}: {error}", go_quote(.name))]
    LabelTemplate {
        /// The label's name.
        name: String,
        /// The template error.
        error: TemplateError,
    },
    /// An annotation of an alerting rule is not a valid template.
    #[error("annotation {}: {error}", go_quote(.name))]
    AnnotationTemplate {
        /// The annotation's name.
        name: String,
        /// The template error.
        error: TemplateError,
    },
}

/// A problem found while loading a rule file. `Display` gives promtool's
/// text (without the file name prefix).
#[derive(Clone, Debug, PartialEq)]
pub enum RuleError {
    /// The YAML could not be read or decoded.
    Decode(DecodeError),
    /// A group has no name.
    EmptyGroupName {
        /// Where the group starts.
        pos: Pos,
    },
    /// Two groups share a name.
    RepeatedGroupName {
        /// Where the later group starts.
        pos: Pos,
        /// The name.
        name: String,
    },
    /// A group label name is invalid (or `__name__`).
    InvalidGroupLabelName(String),
    /// A problem with one rule.
    Rule {
        /// The group's name.
        group: String,
        /// 1-based index of the rule in its group.
        index: usize,
        /// The rule's name (alert name, else record name).
        rule_name: String,
        /// Positions promtool prints (zero, one or two; `0:0` for a missing field).
        positions: Vec<Pos>,
        /// The most specific node the problem is about (the field, the label
        /// name, the template value, else the rule), even where promtool
        /// prints no position.
        node: Pos,
        /// What is wrong.
        problem: RuleProblem,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Decode(e) => write!(f, "{e}"),
            RuleError::EmptyGroupName { pos } => write!(f, "{pos}: Groupname must not be empty"),
            RuleError::RepeatedGroupName { pos, name } => {
                write!(
                    f,
                    "{pos}: groupname: \"{name}\" is repeated in the same file"
                )
            }
            RuleError::InvalidGroupLabelName(name) => write!(f, "invalid label name: {name}"),
            RuleError::Rule {
                group,
                index,
                rule_name,
                positions,
                problem,
                ..
            } => {
                for pos in positions {
                    write!(f, "{pos}: ")?;
                }
                write!(
                    f,
                    "group {}, rule {index}, {}: {problem}",
                    go_quote(group),
                    go_quote(rule_name)
                )
            }
        }
    }
}

impl std::error::Error for RuleError {}

/// Validates a decoded rule file, storing each parsed expression in its rule.
pub fn validate(file: &mut RuleFile, options: &LoadOptions) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for group in &mut file.groups {
        if group.name.value.is_empty() {
            errors.push(RuleError::EmptyGroupName { pos: group.pos });
        }
        if seen.contains(&group.name.value) {
            errors.push(RuleError::RepeatedGroupName {
                pos: group.pos,
                name: group.name.value.clone(),
            });
        }
        for label in &group.labels {
            if !options.name_validation.label_name_ok(&label.name) || label.name == "__name__" {
                errors.push(RuleError::InvalidGroupLabelName(label.name.clone()));
            }
        }
        seen.insert(group.name.value.clone());
        for (i, rule) in group.rules.iter_mut().enumerate() {
            for (positions, problem) in validate_rule(rule, options) {
                let node = problem_node(rule, &positions, &problem);
                errors.push(RuleError::Rule {
                    group: group.name.value.clone(),
                    index: i + 1,
                    rule_name: rule.name().to_string(),
                    positions,
                    node,
                    problem,
                });
            }
        }
    }
    errors
}

/// The most specific position for `problem` in `rule`.
fn problem_node(rule: &Rule, printed: &[Pos], problem: &RuleProblem) -> Pos {
    let label = |entries: &[crate::rules::model::LabelEntry], name: &str, value: bool| {
        entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| if value { e.value_pos } else { e.name_pos })
    };
    let found = match problem {
        RuleProblem::InvalidLabelName(name) => label(&rule.labels, name, false),
        RuleProblem::InvalidAnnotationName(name) => label(&rule.annotations, name, false),
        RuleProblem::LabelTemplate { name, .. } => label(&rule.labels, name, true),
        RuleProblem::AnnotationTemplate { name, .. } => label(&rule.annotations, name, true),
        _ => printed.iter().copied().find(|p| *p != Pos::default()),
    };
    found.unwrap_or(rule.pos)
}

impl RuleError {
    /// Where the problem is in the file, when known: the node for rule
    /// problems, the group for group-name problems.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            RuleError::Rule { node, .. } => Some(*node),
            RuleError::EmptyGroupName { pos } | RuleError::RepeatedGroupName { pos, .. } => {
                Some(*pos)
            }
            RuleError::Decode(DecodeError::Syntax(e)) => Some(Pos::new(e.line, 0)),
            _ => None,
        }
    }

    /// The message followed by the offending line of `source` (the rule
    /// file's text) with a caret under the node, when the position is known:
    ///
    /// ```text
    /// 5:15: group "g", rule 1, "r": could not parse expression: ...
    ///   |
    /// 5 |         expr: rate(x)
    ///   |               ^
    /// ```
    pub fn render(&self, source: &str) -> String {
        let message = self.to_string();
        let Some(pos) = self.pos().filter(|p| p.line > 0) else {
            return message;
        };
        let Some(line) = source.lines().nth(pos.line as usize - 1) else {
            return message;
        };
        let number = pos.line.to_string();
        let pad = " ".repeat(number.len());
        let mut out = format!("{message}\n{pad} |\n{number} | {line}");
        if pos.column > 0 {
            // Keep tabs so the caret lines up under tab-indented text.
            let indent: String = line
                .chars()
                .take(pos.column as usize - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("\n{pad} | {indent}^"));
        }
        out
    }
}

fn validate_rule(rule: &mut Rule, options: &LoadOptions) -> Vec<(Vec<Pos>, RuleProblem)> {
    let mut problems = Vec::new();
    let record_pos = pos_of(&rule.record);
    let alert_pos = pos_of(&rule.alert);
    let record = rule.record_name().to_string();
    let alert = rule.alert_name().to_string();
    if !record.is_empty() && !alert.is_empty() {
        problems.push((vec![record_pos, alert_pos], RuleProblem::BothRecordAndAlert));
    }
    if record.is_empty() && alert.is_empty() {
        problems.push((
            vec![record_pos, alert_pos],
            RuleProblem::NeitherRecordNorAlert,
        ));
    }
    let expr_pos = pos_of(&rule.expr);
    if rule.expr_text().is_empty() {
        problems.push((vec![expr_pos], RuleProblem::MissingExpr));
    } else {
        match parse_with(rule.expr_text(), &options.parse_options) {
            Ok(expr) => rule.parsed_expr = Some(expr),
            Err(e) => problems.push((vec![expr_pos], RuleProblem::BadExpr(e))),
        }
    }
    if !record.is_empty() {
        if !rule.annotations.is_empty() {
            problems.push((vec![record_pos], RuleProblem::AnnotationsInRecordingRule));
        }
        if !rule.for_duration().is_zero() {
            problems.push((vec![record_pos], RuleProblem::ForInRecordingRule));
        }
        if !rule.keep_firing_for_duration().is_zero() {
            problems.push((vec![record_pos], RuleProblem::KeepFiringForInRecordingRule));
        }
        if !options.name_validation.metric_name_ok(&record) {
            problems.push((
                vec![record_pos],
                RuleProblem::InvalidRecordName(record.clone()),
            ));
        }
        if record.contains(['{', '}']) {
            problems.push((
                vec![record_pos],
                RuleProblem::BracesInRecordName(record.clone()),
            ));
        }
    }
    for label in &rule.labels {
        if !options.name_validation.label_name_ok(&label.name) || label.name == "__name__" {
            problems.push((vec![], RuleProblem::InvalidLabelName(label.name.clone())));
        }
    }
    for annotation in &rule.annotations {
        if !options.name_validation.label_name_ok(&annotation.name) {
            problems.push((
                vec![],
                RuleProblem::InvalidAnnotationName(annotation.name.clone()),
            ));
        }
    }
    if !alert.is_empty() {
        for label in &rule.labels {
            if let Err(error) = parse_alert_template(&alert, &label.value) {
                problems.push((
                    vec![],
                    RuleProblem::LabelTemplate {
                        name: label.name.clone(),
                        error,
                    },
                ));
            }
        }
        for annotation in &rule.annotations {
            if let Err(error) = parse_alert_template(&alert, &annotation.value) {
                problems.push((
                    vec![],
                    RuleProblem::AnnotationTemplate {
                        name: annotation.name.clone(),
                        error,
                    },
                ));
            }
        }
    }
    problems
}
