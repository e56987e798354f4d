//! The opt-in checks: each looks at one rule (its expression's syntax tree,
//! its name, `for` and annotations) and describes what looks wrong.

use crate::model::MatchOp;
use crate::parser::{AggregateOp, BinaryOp, Expr, VectorSelector};
use crate::rules::lint::selfmatch::pairs_series_with_itself;
use crate::rules::lint::{LintCheck, LintFinding};
use crate::rules::model::{Rule, RuleFile, RuleKind};

/// Name suffixes of counters (and of the counter parts of histograms and summaries).
const COUNTER_SUFFIXES: &[&str] = &["_total", "_count", "_sum", "_bucket"];

/// Characters that make a regex more than a plain string.
const REGEX_METACHARACTERS: &[char] = &[
    '.', '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\',
];

fn looks_like_counter(name: &str) -> bool {
    COUNTER_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Runs `checks` on every rule of `file` (whose expressions were parsed by
/// validation; rules without a parsed expression get only the name checks).
/// Findings are in rule order, then in [`LintCheck::ALL`] order.
pub fn lint_file(file: &RuleFile, checks: &[LintCheck]) -> Vec<LintFinding> {
    let mut findings = Vec::new();
    if checks.is_empty() {
        return findings;
    }
    for group in &file.groups {
        for (i, rule) in group.rules.iter().enumerate() {
            for check in LintCheck::ALL {
                if !checks.contains(&check) {
                    continue;
                }
                for (pos, message) in run_check(check, rule) {
                    findings.push(LintFinding {
                        check,
                        pos,
                        group: group.name.value.clone(),
                        index: i + 1,
                        rule_name: rule.name().to_string(),
                        message,
                    });
                }
            }
        }
    }
    findings
}

type Found = Vec<(crate::rules::yaml::Pos, String)>;

fn run_check(check: LintCheck, rule: &Rule) -> Found {
    let expr_pos = rule.expr.as_ref().map_or(rule.pos, |e| e.pos);
    let name_pos = match rule.kind() {
        RuleKind::Alerting => rule.alert.as_ref().map_or(rule.pos, |a| a.pos),
        RuleKind::Recording => rule.record.as_ref().map_or(rule.pos, |r| r.pos),
    };
    let at = |pos, messages: Vec<String>| messages.into_iter().map(|m| (pos, m)).collect();
    let expr = rule.parsed_expr.as_ref();
    match check {
        LintCheck::RateNonCounter => at(expr_pos, expr.map(rate_non_counter).unwrap_or_default()),
        LintCheck::HistogramQuantileLe => {
            at(expr_pos, expr.map(histogram_quantile_le).unwrap_or_default())
        }
        LintCheck::RawCounterComparison => {
            at(expr_pos, expr.map(raw_counter_comparison).unwrap_or_default())
        }
        LintCheck::PlainRegex => at(expr_pos, expr.map(plain_regex).unwrap_or_default()),
        LintCheck::SelfDivision => at(expr_pos, expr.map(self_division).unwrap_or_default()),
        LintCheck::AlertComparison => match (rule.kind(), expr) {
            (RuleKind::Alerting, Some(e)) if !has_condition(e) => at(
                expr_pos,
                vec!["alert query has no comparison: every series it returns fires, whatever its value".into()],
            ),
            _ => Vec::new(),
        },
        LintCheck::AlertFor => match rule.kind() {
            RuleKind::Alerting if rule.for_duration().is_zero() => at(
                name_pos,
                vec!["alert has no `for`: a single evaluation fires it".into()],
            ),
            _ => Vec::new(),
        },
        LintCheck::AlertAnnotations => {
            let described = rule
                .annotations
                .iter()
                .any(|a| a.name == "summary" || a.name == "description");
            match rule.kind() {
                RuleKind::Alerting if !described => at(
                    name_pos,
                    vec!["alert has neither a `summary` nor a `description` annotation".into()],
                ),
                _ => Vec::new(),
            }
        }
        LintCheck::RecordName => match rule.kind() {
            RuleKind::Recording if !follows_record_convention(rule.record_name()) => at(
                name_pos,
                vec![format!(
                    "recording rule name {:?} does not follow level:metric:operations",
                    rule.record_name()
                )],
            ),
            _ => Vec::new(),
        },
    }
}

/// Every vector selector, including those of range selectors.
fn selectors(expr: &Expr) -> Vec<&VectorSelector> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::VectorSelector(v) => out.push(v.as_ref()),
            Expr::MatrixSelector(m) => out.push(&m.selector),
            _ => stack.extend(e.children().into_iter().rev()),
        }
    }
    out
}

fn strip_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

fn rate_non_counter(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    expr.walk(|e| {
        let Expr::Call(call) = e else { return };
        if !matches!(call.func.name, "rate" | "increase" | "irate") {
            return;
        }
        for arg in &call.args {
            if let Expr::MatrixSelector(m) = strip_parens(arg)
                && let Some(name) = &m.selector.name
                && !looks_like_counter(name)
            {
                out.push(format!(
                    "{}() over {name:?}, which does not look like a counter (no _total, _count, _sum or _bucket suffix); use deriv() or delta() for gauges",
                    call.func.name
                ));
            }
        }
    });
    out
}

fn histogram_quantile_le(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    expr.walk(|e| {
        let Expr::Call(call) = e else { return };
        if call.func.name != "histogram_quantile" {
            return;
        }
        let Some(Expr::Aggregate(agg)) = call.args.get(1).map(strip_parens) else {
            return;
        };
        let over_buckets = selectors(&agg.expr)
            .iter()
            .any(|s| s.name.as_deref().is_some_and(|n| n.ends_with("_bucket")));
        let keeps_le = match &agg.grouping {
            None => false,
            Some(g) => g.labels.iter().any(|l| l == "le") != g.without,
        };
        if over_buckets && !keeps_le {
            out.push(format!(
                "histogram_quantile() over classic buckets aggregated by {} without keeping `le`: the result is NaN",
                agg.op.as_str()
            ));
        }
    });
    out
}

/// A counter's raw value: a counter selector, maybe aggregated or parenthesised.
fn raw_counter(expr: &Expr) -> Option<&str> {
    match strip_parens(expr) {
        Expr::VectorSelector(v) => v.name.as_deref().filter(|n| looks_like_counter(n)),
        Expr::Aggregate(a)
            if matches!(
                a.op,
                AggregateOp::Sum | AggregateOp::Min | AggregateOp::Max | AggregateOp::Avg
            ) =>
        {
            raw_counter(&a.expr)
        }
        _ => None,
    }
}

fn raw_counter_comparison(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    expr.walk(|e| {
        let Expr::Binary(b) = e else { return };
        if !b.op.is_comparison() {
            return;
        }
        for side in [&b.lhs, &b.rhs] {
            if let Some(name) = raw_counter(side) {
                out.push(format!(
                    "comparison of the raw counter {name:?}: compare its rate() or increase() instead"
                ));
            }
        }
    });
    out
}

fn plain_regex(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    for selector in selectors(expr) {
        for m in &selector.matchers {
            let suggestion = match m.op {
                MatchOp::Regex => "=",
                MatchOp::NotRegex => "!=",
                MatchOp::Equal | MatchOp::NotEqual => continue,
            };
            if !m.value.contains(REGEX_METACHARACTERS) {
                out.push(format!(
                    "regex matcher {}{}{:?} has no regex metacharacters: use {}{suggestion}{:?}",
                    m.name, m.op, m.value, m.name, m.value
                ));
            }
        }
    }
    out
}

fn self_division(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    expr.walk(|e| {
        let Expr::Binary(b) = e else { return };
        let constant = match b.op {
            BinaryOp::Div => "1",
            BinaryOp::Sub => "0",
            _ => return,
        };
        if pairs_series_with_itself(b) {
            out.push(format!(
                "both sides of `{}` select the same series and match one-to-one, so the result is always {constant}; aggregate away the label, or use ignoring()/on()",
                b.op.as_str()
            ));
        }
    });
    out
}

/// Whether an alert expression filters: a non-`bool` comparison, or `absent()`.
fn has_condition(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(|e| match e {
        Expr::Binary(b) if b.op.is_comparison() && !b.return_bool => found = true,
        Expr::Binary(b) if matches!(b.op, BinaryOp::And | BinaryOp::Unless) => found = true,
        Expr::Call(c) if matches!(c.func.name, "absent" | "absent_over_time") => found = true,
        _ => {}
    });
    found
}

/// `level:metric:operations`: at least three non-empty, colon-separated parts.
fn follows_record_convention(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    parts.len() >= 3 && parts.iter().all(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::load::{LoadOptions, load_rule_file};

    fn lint_expr(check: LintCheck, expr: &str) -> Vec<LintFinding> {
        let text = format!("groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: '{expr}'\n");
        let file = load_rule_file(&text, &LoadOptions::default()).file.unwrap();
        lint_file(&file, &[check])
    }

    #[test]
    fn rate_over_gauge() {
        let found = lint_expr(LintCheck::RateNonCounter, "rate(node_load1[5m])");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pos.to_string(), "5:11");
        assert!(found[0].message.contains("\"node_load1\""));
        for ok in [
            "rate(x_total[5m])",
            "increase(h_bucket[1h])",
            "irate(s_count[1m])",
            "deriv(g[5m])",
        ] {
            assert!(lint_expr(LintCheck::RateNonCounter, ok).is_empty(), "{ok}");
        }
    }

    #[test]
    fn histogram_quantile_without_le() {
        let bad = "histogram_quantile(0.9, sum by (job) (rate(h_bucket[5m])))";
        assert_eq!(lint_expr(LintCheck::HistogramQuantileLe, bad).len(), 1);
        let bad = "histogram_quantile(0.9, sum without (le) (rate(h_bucket[5m])))";
        assert_eq!(lint_expr(LintCheck::HistogramQuantileLe, bad).len(), 1);
        for ok in [
            "histogram_quantile(0.9, sum by (job, le) (rate(h_bucket[5m])))",
            "histogram_quantile(0.9, sum without (instance) (rate(h_bucket[5m])))",
            "histogram_quantile(0.9, sum(rate(native[5m])))",
        ] {
            assert!(
                lint_expr(LintCheck::HistogramQuantileLe, ok).is_empty(),
                "{ok}"
            );
        }
    }

    #[test]
    fn counter_comparisons() {
        assert_eq!(
            lint_expr(LintCheck::RawCounterComparison, "x_total > 5").len(),
            1
        );
        assert_eq!(
            lint_expr(LintCheck::RawCounterComparison, "5 < sum(x_total)").len(),
            1
        );
        assert!(lint_expr(LintCheck::RawCounterComparison, "rate(x_total[5m]) > 5").is_empty());
        assert!(lint_expr(LintCheck::RawCounterComparison, "up == 0").is_empty());
    }

    #[test]
    fn plain_regexes() {
        let found = lint_expr(LintCheck::PlainRegex, r#"up{job=~"api", env!~"dev"}"#);
        assert_eq!(found.len(), 2);
        assert!(
            found[0].message.contains("use job=\"api\""),
            "{}",
            found[0].message
        );
        assert!(lint_expr(LintCheck::PlainRegex, r#"up{job=~"api|web", code=~"5.."}"#).is_empty());
    }

    #[test]
    fn self_divisions() {
        let bad =
            r#"sum(rate(x{code=~"5.."}[5m])) by (job) / sum(rate(x{code=~"5.."}[5m])) by (job)"#;
        assert_eq!(lint_expr(LintCheck::SelfDivision, bad).len(), 1);
        let good = r#"sum(rate(x{code=~"5.."}[5m])) by (job) / sum(rate(x[5m])) by (job)"#;
        assert!(lint_expr(LintCheck::SelfDivision, good).is_empty());
    }

    fn lint_rule(check: LintCheck, rule: &str) -> Vec<LintFinding> {
        let text = format!("groups:\n- name: g\n  rules:\n  - {rule}\n");
        let file = load_rule_file(&text, &LoadOptions::default()).file.unwrap();
        lint_file(&file, &[check])
    }

    #[test]
    fn alert_checks() {
        let bare = "alert: A\n    expr: up == 0";
        let found = lint_rule(LintCheck::AlertFor, bare);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pos.to_string(), "4:12");
        assert_eq!(lint_rule(LintCheck::AlertAnnotations, bare).len(), 1);
        let full = "alert: A\n    expr: up == 0\n    for: 5m\n    annotations: {summary: down}";
        assert!(lint_rule(LintCheck::AlertFor, full).is_empty());
        assert!(lint_rule(LintCheck::AlertAnnotations, full).is_empty());
        assert!(lint_rule(LintCheck::AlertComparison, bare).is_empty());
        assert_eq!(
            lint_rule(LintCheck::AlertComparison, "alert: A\n    expr: up").len(),
            1
        );
        assert!(lint_rule(LintCheck::AlertComparison, "alert: A\n    expr: absent(up)").is_empty());
    }

    #[test]
    fn record_names() {
        assert_eq!(
            lint_rule(LintCheck::RecordName, "record: foo\n    expr: up").len(),
            1
        );
        assert_eq!(
            lint_rule(LintCheck::RecordName, "record: job::sum\n    expr: up").len(),
            1
        );
        assert!(lint_rule(LintCheck::RecordName, "record: job:up:sum\n    expr: up").is_empty());
        assert!(lint_rule(LintCheck::RecordName, "alert: foo\n    expr: up").is_empty());
    }
}
