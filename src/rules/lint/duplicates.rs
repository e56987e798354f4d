//! Duplicate-rule lint (`duplicate-rules`), as `promtool check rules` does it.
//!
//! Two rules are duplicates when they have the same name (alert or record)
//! and the same static labels (group labels overridden by rule labels);
//! expressions are not compared. N copies count as one duplicate.

use std::cmp::Ordering;

use crate::rules::model::RuleFile;

/// A rule name and label set that occurs more than once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateRule {
    /// The alert or record name.
    pub metric: String,
    /// The static labels, sorted by name.
    pub labels: Vec<(String, String)>,
}

fn compare(a: &DuplicateRule, b: &DuplicateRule) -> Ordering {
    a.metric
        .cmp(&b.metric)
        .then_with(|| a.labels.cmp(&b.labels))
}

/// Finds duplicate rules across all groups of `file`, sorted by name, then labels.
pub fn find_duplicate_rules(file: &RuleFile) -> Vec<DuplicateRule> {
    let mut keys: Vec<DuplicateRule> = Vec::new();
    for group in &file.groups {
        for rule in &group.rules {
            let mut labels: Vec<(String, String)> = Vec::new();
            for entry in group.labels.iter().chain(rule.labels.iter()) {
                labels.retain(|(name, _)| *name != entry.name);
                labels.push((entry.name.clone(), entry.value.clone()));
            }
            labels.sort();
            keys.push(DuplicateRule {
                metric: rule.name().to_string(),
                labels,
            });
        }
    }
    keys.sort_by(compare);
    let mut duplicates: Vec<DuplicateRule> = Vec::new();
    for pair in keys.windows(2) {
        if let [previous, current] = pair {
            let already = duplicates
                .last()
                .is_some_and(|last| compare(last, current) == Ordering::Equal);
            if compare(previous, current) == Ordering::Equal && !already {
                duplicates.push(current.clone());
            }
        }
    }
    duplicates
}

/// promtool's lint message for `duplicates` (without the `lint error ` prefix
/// handling: the text starts with `lint error`).
pub fn format_duplicates(duplicates: &[DuplicateRule]) -> String {
    let mut out = format!("lint error {} duplicate rule(s) found.\n", duplicates.len());
    for duplicate in duplicates {
        out.push_str(&format!("Metric: {}\nLabel(s):\n", duplicate.metric));
        for (name, value) in &duplicate.labels {
            out.push_str(&format!("\t{name}: {value}\n"));
        }
    }
    out.push_str("Might cause inconsistency while recording expressions");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::load::{LoadOptions, load_rule_file};

    #[test]
    fn finds_duplicates_by_name_and_labels() {
        let text = "groups:\n- name: a\n  labels: {team: x}\n  rules:\n  - record: r\n    expr: '1'\n  - record: r\n    expr: '2'\n  - record: r\n    expr: '3'\n    labels: {team: y}\n- name: b\n  rules:\n  - record: r\n    expr: '1'\n    labels: {team: x}\n";
        let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
        let duplicates = find_duplicate_rules(&file);
        assert_eq!(
            duplicates,
            vec![DuplicateRule {
                metric: "r".into(),
                labels: vec![("team".into(), "x".into())]
            }]
        );
        assert_eq!(
            format_duplicates(&duplicates),
            "lint error 1 duplicate rule(s) found.\nMetric: r\nLabel(s):\n\tteam: x\nMight cause inconsistency while recording expressions"
        );
    }
}
