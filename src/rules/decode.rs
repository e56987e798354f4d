//! YAML tree → typed [`RuleFile`], with the strictness and messages of
//! Prometheus' rule loader.
//!
//! Decoding goes on after a type problem (collecting every `line N: ...`
//! message, as Go's yaml package does), except for an invalid duration,
//! which stops it at once.

use std::collections::HashMap;

use crate::rules::duration::parse_duration;
use crate::rules::model::{LabelEntry, Rule, RuleFile, RuleGroup, Spanned};
use crate::rules::template::lexer::go_quote;
use crate::rules::yaml::{Node, NodeKind, Pos, YamlError, YamlTag, parse_int};

/// Which Go types Prometheus decodes into. It decodes every file twice: once
/// strictly into the rule types, once leniently into "node" types that keep
/// positions (unknown fields ignored; `record`, `alert` and `expr` taken as
/// raw YAML nodes, so any YAML there is accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `rulefmt.RuleGroups` with unknown fields rejected.
    Strict,
    /// `rulefmt.ruleGroups` (node types), unknown fields ignored.
    Nodes,
    /// `rulefmt.RuleGroups` with unknown fields ignored (`--ignore-unknown-fields`).
    IgnoreUnknownFields,
}

impl View {
    fn type_names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            View::Strict | View::IgnoreUnknownFields => {
                ("rulefmt.RuleGroups", "rulefmt.RuleGroup", "rulefmt.Rule")
            }
            View::Nodes => (
                "rulefmt.ruleGroups",
                "rulefmt.RuleGroupNode",
                "rulefmt.RuleNode",
            ),
        }
    }
}

/// Why a rule file could not be decoded. `Display` gives Prometheus' text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// YAML syntax error.
    #[error(transparent)]
    Syntax(#[from] YamlError),
    /// Type and unknown-field problems, each `line N: ...`.
    #[error("yaml: unmarshal errors:\n  {}", .0.join("\n  "))]
    Unmarshal(Vec<String>),
    /// A problem that stops decoding (an invalid duration).
    #[error("{0}")]
    Fatal(String),
}

/// Decodes the root node of a rule file (`None` for an empty document).
pub fn decode_rule_file(root: Option<&Node>, view: View) -> Result<RuleFile, DecodeError> {
    let mut decoder = Decoder {
        view,
        errors: Vec::new(),
        fatal: None,
    };
    let file = match root {
        Some(node) => decoder.file(node),
        None => RuleFile::default(),
    };
    if let Some(fatal) = decoder.fatal {
        return Err(DecodeError::Fatal(fatal));
    }
    if !decoder.errors.is_empty() {
        return Err(DecodeError::Unmarshal(decoder.errors));
    }
    Ok(file)
}

struct Decoder {
    view: View,
    errors: Vec<String>,
    fatal: Option<String>,
}

fn key_text(node: &Node) -> &str {
    node.as_scalar().map_or("", |s| s.value.as_str())
}

impl Decoder {
    fn type_error(&mut self, node: &Node, target: &str) {
        let tag = node.tag();
        let shown = match &node.kind {
            NodeKind::Scalar(s) => {
                let chars: Vec<char> = s.value.chars().collect();
                if chars.len() > 10 {
                    format!(" `{}...`", chars.iter().take(7).collect::<String>())
                } else {
                    format!(" `{}`", s.value)
                }
            }
            _ => String::new(),
        };
        self.errors.push(format!(
            "line {}: cannot unmarshal {tag}{shown} into {target}",
            node.pos.line
        ));
    }

    /// Reports keys written twice in one mapping (merged keys excepted):
    /// every later occurrence against every earlier one, in Go's order.
    fn duplicate_keys(&mut self, node: &Node) {
        let NodeKind::Mapping(pairs) = &node.kind else {
            return;
        };
        let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, (key, _)) in pairs.iter().enumerate() {
            if let Some(scalar) = key.as_scalar() {
                if scalar.value != "<<" {
                    by_key.entry(scalar.value.as_str()).or_default().push(i);
                }
            }
        }
        let mut duplicates: Vec<(usize, usize)> = Vec::new();
        for indices in by_key.values().filter(|v| v.len() > 1) {
            for (n, &first) in indices.iter().enumerate() {
                duplicates.extend(indices.iter().skip(n + 1).map(|&later| (first, later)));
            }
        }
        duplicates.sort_unstable();
        for (first, later) in duplicates {
            if let (Some((a, _)), Some((b, _))) = (pairs.get(first), pairs.get(later)) {
                self.errors.push(format!(
                    "line {}: mapping key {} already defined at line {}",
                    b.pos.line,
                    go_quote(key_text(b)),
                    a.pos.line
                ));
            }
        }
    }

    /// Starts decoding a struct: `Some(entries)` for a mapping without
    /// duplicate keys, `None` otherwise (after reporting the duplicates or a
    /// type error; nulls are silently empty). Like Go's yaml package, a
    /// mapping with duplicate keys is not decoded at all.
    fn struct_entries<'n>(
        &mut self,
        node: &'n Node,
        type_name: &str,
    ) -> Option<Vec<(&'n Node, &'n Node)>> {
        match &node.kind {
            NodeKind::Mapping(_) => {
                let before = self.errors.len();
                self.duplicate_keys(node);
                (self.errors.len() == before).then(|| node.entries())
            }
            _ if node.is_null() => None,
            _ => {
                self.type_error(node, type_name);
                None
            }
        }
    }

    fn unknown_field(&mut self, key: &Node, type_name: &str) {
        if self.view == View::Strict {
            self.errors.push(format!(
                "line {}: field {} not found in type {type_name}",
                key.pos.line,
                key_text(key)
            ));
        }
    }

    fn file(&mut self, node: &Node) -> RuleFile {
        let (file_type, _, _) = self.view.type_names();
        let mut file = RuleFile::default();
        let Some(entries) = self.struct_entries(node, file_type) else {
            return file;
        };
        for (key, value) in entries {
            if self.fatal.is_some() {
                break;
            }
            match key_text(key) {
                "groups" => file.groups = self.groups(value),
                _ => self.unknown_field(key, file_type),
            }
        }
        file
    }

    fn sequence<'n>(&mut self, node: &'n Node, type_name: &str) -> &'n [Node] {
        match &node.kind {
            NodeKind::Sequence(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.type_error(node, &format!("[]{type_name}"));
                &[]
            }
        }
    }

    fn groups(&mut self, node: &Node) -> Vec<RuleGroup> {
        let (_, group_type, _) = self.view.type_names();
        let mut groups = Vec::new();
        for item in self.sequence(node, group_type) {
            if self.fatal.is_some() {
                break;
            }
            // Go's yaml package silently drops null elements of a slice of structs.
            if !item.is_null() {
                groups.push(self.group(item));
            }
        }
        groups
    }

    fn group(&mut self, node: &Node) -> RuleGroup {
        let (_, group_type, _) = self.view.type_names();
        let mut group = RuleGroup {
            pos: node.pos,
            ..RuleGroup::default()
        };
        let Some(entries) = self.struct_entries(node, group_type) else {
            return group;
        };
        for (key, value) in entries {
            if self.fatal.is_some() {
                break;
            }
            match key_text(key) {
                "name" => group.name = self.string(value),
                "interval" => group.interval = self.duration(value),
                "query_offset" => group.query_offset = self.duration(value),
                "limit" => group.limit = self.int(value),
                "rules" => group.rules = self.rules(value),
                "labels" => group.labels = self.string_map(value),
                _ => self.unknown_field(key, group_type),
            }
        }
        group
    }

    fn rules(&mut self, node: &Node) -> Vec<Rule> {
        let (_, _, rule_type) = self.view.type_names();
        let mut rules = Vec::new();
        for item in self.sequence(node, rule_type) {
            if self.fatal.is_some() {
                break;
            }
            if !item.is_null() {
                rules.push(self.rule(item));
            }
        }
        rules
    }

    fn rule(&mut self, node: &Node) -> Rule {
        let (_, _, rule_type) = self.view.type_names();
        let mut rule = Rule {
            pos: node.pos,
            ..Rule::default()
        };
        let Some(entries) = self.struct_entries(node, rule_type) else {
            return rule;
        };
        for (key, value) in entries {
            if self.fatal.is_some() {
                break;
            }
            match key_text(key) {
                "record" => rule.record = Some(self.raw_or_string(value)),
                "alert" => rule.alert = Some(self.raw_or_string(value)),
                "expr" => rule.expr = Some(self.raw_or_string(value)),
                "for" => rule.for_ = self.duration(value),
                "keep_firing_for" => rule.keep_firing_for = self.duration(value),
                "labels" => rule.labels = self.string_map(value),
                "annotations" => rule.annotations = self.string_map(value),
                _ => self.unknown_field(key, rule_type),
            }
        }
        rule
    }

    /// `record`, `alert` and `expr` are strings, except in the node view
    /// where any YAML node is accepted.
    fn raw_or_string(&mut self, node: &Node) -> Spanned<String> {
        if self.view == View::Nodes {
            let text = node
                .as_scalar()
                .map(|s| s.value.clone())
                .unwrap_or_default();
            return Spanned::new(text, node.pos);
        }
        self.string(node)
    }

    fn string(&mut self, node: &Node) -> Spanned<String> {
        let value = match &node.kind {
            NodeKind::Scalar(_) if node.is_null() => String::new(),
            NodeKind::Scalar(s) => s.value.clone(),
            _ => {
                self.type_error(node, "string");
                String::new()
            }
        };
        Spanned::new(value, node.pos)
    }

    fn int(&mut self, node: &Node) -> Option<Spanned<i64>> {
        let Some(scalar) = node.as_scalar() else {
            self.type_error(node, "int");
            return None;
        };
        let value = match node.tag() {
            YamlTag::Null => 0,
            YamlTag::Int => parse_int(&scalar.value).unwrap_or_default(),
            // Go's yaml package truncates floats that fit an int.
            YamlTag::Float => match scalar.value.replace('_', "").parse::<f64>() {
                Ok(f) if f.is_finite() && f.abs() < 9.2e18 => f.trunc() as i64,
                _ => {
                    self.type_error(node, "int");
                    0
                }
            },
            _ => {
                self.type_error(node, "int");
                0
            }
        };
        Some(Spanned::new(value, node.pos))
    }

    fn duration(&mut self, node: &Node) -> Option<Spanned<std::time::Duration>> {
        if node.is_null() {
            return None;
        }
        let text = self.string(node);
        if !matches!(node.kind, NodeKind::Scalar(_)) {
            return None;
        }
        match parse_duration(&text.value) {
            Ok(d) => Some(Spanned::new(d, node.pos)),
            Err(e) => {
                self.fatal = Some(e.to_string());
                None
            }
        }
    }

    fn string_map(&mut self, node: &Node) -> Vec<LabelEntry> {
        let mut out = Vec::new();
        let entries = match &node.kind {
            NodeKind::Mapping(_) => {
                let before = self.errors.len();
                self.duplicate_keys(node);
                if self.errors.len() > before {
                    // Go's yaml package leaves such a map undecoded.
                    return out;
                }
                node.entries()
            }
            _ if node.is_null() => return out,
            _ => {
                self.type_error(node, "map[string]string");
                return out;
            }
        };
        let mut index: HashMap<String, usize> = HashMap::new();
        for (key, value) in entries {
            let name = self.string(key);
            let value = self.string(value);
            let entry = LabelEntry {
                name: name.value,
                name_pos: name.pos,
                value: value.value,
                value_pos: value.pos,
            };
            // Keys that decode to the same string (a non-scalar key is "",
            // after its type error): the last wins, as in a Go map.
            match index.get(&entry.name).and_then(|&i| out.get_mut(i)) {
                Some(existing) => *existing = entry,
                None => {
                    index.insert(entry.name.clone(), out.len());
                    out.push(entry);
                }
            }
        }
        out
    }
}

/// The position Prometheus prints for a field that may be missing (`0:0`).
pub fn pos_of<T>(field: &Option<Spanned<T>>) -> Pos {
    field.as_ref().map_or(Pos::default(), |f| f.pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::yaml::parse_first_document;

    fn decode(text: &str, view: View) -> Result<RuleFile, DecodeError> {
        let doc = parse_first_document(text).unwrap();
        decode_rule_file(doc.root.as_ref(), view)
    }

    #[test]
    fn decodes_a_group_with_positions() {
        let file = decode(
            "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 5m\n        labels:\n          severity: page\n",
            View::Strict,
        )
        .unwrap();
        let group = &file.groups[0];
        assert_eq!(group.pos, Pos::new(2, 5));
        assert_eq!(group.name.value, "g");
        assert_eq!(group.interval.as_ref().unwrap().value.as_secs(), 30);
        let rule = &group.rules[0];
        assert_eq!(rule.alert.as_ref().unwrap().pos, Pos::new(5, 16));
        assert_eq!(rule.expr.as_ref().unwrap().pos, Pos::new(6, 15));
        assert_eq!(rule.for_duration().as_secs(), 300);
        assert_eq!(rule.labels[0].name, "severity");
        assert_eq!(rule.labels[0].name_pos, Pos::new(9, 11));
    }

    #[test]
    fn unknown_fields_are_errors_in_strict_view_only() {
        let text = "groups:\n  - name: g\n    owner: me\n    rules: []\nfoo: 1\n";
        let err = decode(text, View::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml: unmarshal errors:\n  line 3: field owner not found in type rulefmt.RuleGroup\n  line 5: field foo not found in type rulefmt.RuleGroups"
        );
        assert!(decode(text, View::Nodes).is_ok());
        assert!(decode(text, View::IgnoreUnknownFields).is_ok());
    }

    #[test]
    fn type_errors_and_duplicates() {
        let err = decode(
            "groups:\n  - name: [a]\n    name: b\n    limit: x\n    bogus: 1\n",
            View::Strict,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml: unmarshal errors:\n  line 3: mapping key \"name\" already defined at line 2"
        );
        // Without duplicates, the same mapping reports each problem.
        let err = decode(
            "groups:\n  - name: [a]\n    limit: x\n    labels: {a: 1, a: 2}\n",
            View::Strict,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into string\n  line 3: cannot unmarshal !!str `x` into int\n  line 4: mapping key \"a\" already defined at line 4"
        );
        let file = decode("groups:\n  - name: g\n    limit: 2.7\n", View::Strict).unwrap();
        assert_eq!(file.groups[0].limit.as_ref().map(|l| l.value), Some(2));
        let err = decode("- a\n", View::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into rulefmt.RuleGroups"
        );
    }

    #[test]
    fn every_duplicate_pair_is_reported() {
        let err = decode(
            "groups:\n  - name: g\n    labels:\n      a: 1\n      b: 2\n      a: 3\n      a: 4\n",
            View::Nodes,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml: unmarshal errors:\n  line 6: mapping key \"a\" already defined at line 4\n  line 7: mapping key \"a\" already defined at line 4\n  line 7: mapping key \"a\" already defined at line 6"
        );
    }

    #[test]
    fn null_list_items_are_dropped_and_collections_are_not_ints() {
        let file = decode("groups:\n  -\n  - name: g\n    rules: [~]\n", View::Strict).unwrap();
        assert_eq!(file.groups.len(), 1);
        assert!(file.groups[0].rules.is_empty());
        let err = decode("groups:\n  - name: g\n    limit: [1]\n", View::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!seq into int"
        );
    }

    #[test]
    fn bad_duration_stops_decoding() {
        let err = decode(
            "groups:\n  - name: g\n    interval: 5\n    bogus: 1\n",
            View::Strict,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "not a valid duration string: \"5\"");
    }
}
