//! Rule-file validation: promtool's messages and positions for each kind of
//! problem, on small inline files.

use promql_engine::rules::load::{LoadOptions, MULTI_DOCUMENT_WARNING};
use promql_engine::rules::yaml::Pos;
use promql_engine::rules::{
    CheckOptions, NameValidation, RuleError, check_named_sources, load_rule_file,
};

fn errors(text: &str) -> Vec<String> {
    load_rule_file(text, &LoadOptions::default())
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn group(rules: &str) -> String {
    format!("groups:\n  - name: g\n    rules:\n{rules}")
}

#[test]
fn valid_file_loads_with_positions_and_parsed_exprs() {
    let text = group(
        "      - alert: HighLoad\n        expr: node_load1 > 4\n        for: 5m\n        keep_firing_for: 1m\n        labels:\n          severity: page\n        annotations:\n          summary: \"{{ $labels.instance }} load {{ $value | humanize }}\"\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
    );
    let loaded = load_rule_file(&text, &LoadOptions::default());
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let file = loaded.file.expect("valid file");
    assert_eq!(file.rule_count(), 2);
    let alert = &file.groups[0].rules[0];
    assert_eq!(alert.pos, Pos::new(4, 9));
    assert_eq!(alert.alert.as_ref().map(|a| a.pos), Some(Pos::new(4, 16)));
    assert_eq!(alert.expr.as_ref().map(|e| e.pos), Some(Pos::new(5, 15)));
    assert_eq!(alert.for_duration().as_secs(), 300);
    assert_eq!(alert.keep_firing_for_duration().as_secs(), 60);
    assert_eq!(alert.labels[0].name_pos, Pos::new(9, 11));
    assert_eq!(alert.annotations[0].value_pos, Pos::new(11, 20));
    assert!(alert.parsed_expr.is_some());
    assert!(file.groups[0].rules[1].parsed_expr.is_some());
}

#[test]
fn group_name_problems() {
    let text = "groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n  - rules: []\n";
    assert_eq!(
        errors(text),
        vec![
            "4:5: groupname: \"a\" is repeated in the same file",
            "6:5: Groupname must not be empty",
        ]
    );
}

#[test]
fn record_and_alert_problems() {
    assert_eq!(
        errors(&group(
            "      - record: r\n        alert: a\n        expr: '1'\n"
        )),
        vec![
            "4:17: 5:16: group \"g\", rule 1, \"a\": only one of 'record' and 'alert' must be set"
        ]
    );
    assert_eq!(
        errors(&group("      - expr: '1'\n")),
        vec!["0:0: 0:0: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set"]
    );
    assert_eq!(
        errors(&group("      - alert: a\n")),
        vec!["0:0: group \"g\", rule 1, \"a\": field 'expr' must be set in rule"]
    );
}

#[test]
fn recording_rule_restrictions() {
    let text = group(
        "      - record: 'r{a=\"b\"}'\n        expr: '1'\n        for: 1m\n        keep_firing_for: 1m\n        annotations:\n          x: y\n",
    );
    let prefix = "4:17: group \"g\", rule 1, \"r{a=\\\"b\\\"}\": ";
    assert_eq!(
        errors(&text),
        vec![
            format!("{prefix}invalid field 'annotations' in recording rule"),
            format!("{prefix}invalid field 'for' in recording rule"),
            format!("{prefix}invalid field 'keep_firing_for' in recording rule"),
            format!(
                "{prefix}braces present in the recording rule name; should it be in expr?: r{{a=\"b\"}}"
            ),
        ]
    );
}

#[test]
fn label_and_annotation_names() {
    let text = "groups:\n  - name: g\n    labels:\n      __name__: x\n    rules:\n      - alert: a\n        expr: '1'\n        labels:\n          __name__: x\n          \"\": y\n          ins-tance: z\n        annotations:\n          \"\": v\n";
    assert_eq!(
        errors(text),
        vec![
            "invalid label name: __name__",
            "group \"g\", rule 1, \"a\": invalid label name: __name__",
            "group \"g\", rule 1, \"a\": invalid label name: ",
            "group \"g\", rule 1, \"a\": invalid annotation name: ",
        ]
    );
    // The 2.x scheme also rejects `ins-tance`.
    let legacy = LoadOptions {
        name_validation: NameValidation::Legacy,
        ..LoadOptions::default()
    };
    let loaded = load_rule_file(text, &legacy);
    assert!(
        loaded
            .errors
            .iter()
            .any(|e| e.to_string().ends_with("invalid label name: ins-tance"))
    );
}

#[test]
fn label_problems_point_at_the_label() {
    let loaded = load_rule_file(
        &group(
            "      - alert: a\n        expr: '1'\n        labels:\n          __name__: x\n        annotations:\n          d: '{{ $nope }}'\n",
        ),
        &LoadOptions::default(),
    );
    let positions: Vec<Option<Pos>> = loaded.errors.iter().map(RuleError::pos).collect();
    assert_eq!(
        positions,
        vec![Some(Pos::new(7, 11)), Some(Pos::new(9, 14))]
    );
}

#[test]
fn templates_are_parsed_for_alerts_only() {
    assert_eq!(
        errors(&group(
            "      - alert: A\n        expr: '1'\n        labels:\n          x: '{{ .Labels'\n        annotations:\n          s: \"{{ $label.foo }}\"\n"
        )),
        vec![
            "group \"g\", rule 1, \"A\": label \"x\": template: __alert_A:1: unclosed action",
            "group \"g\", rule 1, \"A\": annotation \"s\": template: __alert_A:1: undefined variable \"$label\"",
        ]
    );
    // A recording rule's labels are not templates.
    assert!(
        errors(&group(
            "      - record: r\n        expr: '1'\n        labels:\n          x: '{{ .Labels'\n"
        ))
        .is_empty()
    );
}

#[test]
fn expression_errors_carry_the_expr_position() {
    assert_eq!(
        errors(&group("      - record: r\n        expr: rate(x)\n")),
        vec![
            "5:15: group \"g\", rule 1, \"r\": could not parse expression: 1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        ]
    );
}

#[test]
fn decode_errors_are_reported_like_go_yaml() {
    // Unknown fields: strict decode only, so reported once.
    assert_eq!(
        errors("groups:\n  - name: g\n    owner: x\n    rules: []\ntests: []\n"),
        vec![
            "yaml: unmarshal errors:\n  line 3: field owner not found in type rulefmt.RuleGroup\n  line 5: field tests not found in type rulefmt.RuleGroups"
        ]
    );
    // Type errors fail both of Prometheus' decodes, so they appear twice.
    let twice = errors("groups:\n  - name: [g]\n");
    assert_eq!(twice.len(), 2);
    assert_eq!(
        twice[0],
        "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into string"
    );
    // An invalid duration stops decoding.
    assert_eq!(
        errors(&group(
            "      - alert: a\n        expr: '1'\n        for: 5\n"
        )),
        vec![
            "not a valid duration string: \"5\"",
            "not a valid duration string: \"5\""
        ]
    );
    // YAML syntax errors.
    assert_eq!(
        errors("groups:\n  - name: a: b\n"),
        vec![
            "yaml: line 2: mapping values are not allowed in this context",
            "yaml: line 2: mapping values are not allowed in this context",
        ]
    );
    // Duplicate keys.
    assert_eq!(
        errors("groups:\n  - name: a\n    name: b\n")[0],
        "yaml: unmarshal errors:\n  line 3: mapping key \"name\" already defined at line 2"
    );
}

#[test]
fn ignore_unknown_fields() {
    let options = LoadOptions {
        ignore_unknown_fields: true,
        ..LoadOptions::default()
    };
    let loaded = load_rule_file(
        "groups:\n  - name: g\n    owner: x\n    rules: []\n",
        &options,
    );
    assert!(loaded.errors.is_empty());
}

#[test]
fn only_the_first_document_is_read() {
    let loaded = load_rule_file(
        &format!(
            "{}---\ngroups: [\n",
            group("      - record: r\n        expr: '1'\n")
        ),
        &LoadOptions::default(),
    );
    assert!(loaded.errors.is_empty());
    assert_eq!(loaded.file.map(|f| f.rule_count()), Some(1));
    assert_eq!(loaded.warnings, vec![MULTI_DOCUMENT_WARNING.to_string()]);
}

#[test]
fn experimental_syntax_needs_feature_flags() {
    let text = "groups:\n  - name: features\n    rules:\n      - record: promql-experimental-functions\n        expr: sort_by_label(up, \"instance\")\n      - record: promql-duration-expr\n        expr: rate(up[1m * 2])\n      - record: promql-extended-range-selectors\n        expr: rate(up[1m] anchored)\n      - record: promql-binop-fill-modifiers\n        expr: rate(up[5m]) + fill(0) rate(down[5m])\n";
    // promtool 3.x: duration expressions are always on; the rest need flags.
    let report = check_named_sources(&[("features.yml", text)], &CheckOptions::default());
    assert_eq!(report.exit_code, 1);
    let failing: Vec<String> = report
        .stderr()
        .lines()
        .filter_map(|l| {
            l.split(", \"")
                .nth(1)
                .map(|s| s.split('"').next().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(
        failing,
        vec![
            "promql-experimental-functions",
            "promql-extended-range-selectors",
            "promql-binop-fill-modifiers"
        ]
    );
    let mut options = CheckOptions::default();
    for feature in [
        "promql-experimental-functions",
        "promql-extended-range-selectors",
        "promql-binop-fill-modifiers",
    ] {
        assert!(options.enable_feature(feature));
    }
    assert!(!options.enable_feature("no-such-feature"));
    let report = check_named_sources(&[("features.yml", text)], &options);
    assert_eq!(report.exit_code, 0, "{}", report.stderr());
    assert_eq!(
        report.stdout(),
        "Checking features.yml\n  SUCCESS: 4 rules found\n\n"
    );
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let text =
        "\u{feff}groups:\r\n  - name: g\r\n    rules:\r\n      - record: r\r\n        expr: up\r\n";
    let loaded = load_rule_file(text, &LoadOptions::default());
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.file.map(|f| f.rule_count()), Some(1));
}

/// Cases from upstream's rulefmt tests (TestTemplateParsing, TestUniqueErrorNodes,
/// TestMultiDocParse), checked against our loader.
mod upstream_cases {
    use super::*;

    fn alert_with(labels: &str, annotations: &str) -> String {
        format!(
            "groups:\n- name: example\n  rules:\n  - alert: InstanceDown\n    expr: up == 0\n    for: 5m\n    labels:\n{labels}    annotations:\n{annotations}"
        )
    }

    #[test]
    fn template_parsing() {
        let good = alert_with(
            "      severity: \"page\"\n",
            "      summary: \"Instance {{ $labels.instance }} down\"\n",
        );
        assert!(errors(&good).is_empty());
        for (labels, annotations, message) in [
            (
                "      severity: \"page\"\n",
                "      summary: \"Instance {{ $label.instance }} down\"\n",
                "annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\"",
            ),
            (
                "      severity: \"{{$this_is_wrong}}\"\n",
                "      summary: \"Instance {{ $labels.instance }} down\"\n",
                "label \"severity\": template: __alert_InstanceDown:1: undefined variable \"$this_is_wrong\"",
            ),
            (
                "      severity: \"page\"\n",
                "      description: \"{{$labels.quantile * 100}}\"\n",
                "annotation \"description\": template: __alert_InstanceDown:1: unexpected \"*\" in operand",
            ),
        ] {
            let found = errors(&alert_with(labels, annotations));
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].ends_with(message),
                "{} does not end with {message}",
                found[0]
            );
        }
    }

    #[test]
    fn each_error_has_its_own_node() {
        let text = "groups:\n- name: example\n  rules:\n  - alert: InstanceDown\n    expr: up ===== 0\n  - alert: InstanceUp\n    expr: up ===== 1\n";
        let loaded = load_rule_file(text, &LoadOptions::default());
        let positions: Vec<Option<Pos>> = loaded.errors.iter().map(RuleError::pos).collect();
        assert_eq!(
            positions,
            vec![Some(Pos::new(5, 11)), Some(Pos::new(7, 11))]
        );
    }

    #[test]
    fn multi_document_files() {
        let valid =
            "groups:\n- name: example\n  rules:\n  - alert: InstanceDown\n    expr: up == 0\n";
        let multi = format!(
            "{valid}---\ngroups:\n- name: example2\n  rules:\n  - alert: InstanceDown2\n    expr: up == 0\n"
        );
        let multi_empty = format!("{valid}---\n");
        let single = load_rule_file(valid, &LoadOptions::default());
        assert!(single.warnings.is_empty());
        for text in [multi, multi_empty] {
            let loaded = load_rule_file(&text, &LoadOptions::default());
            assert!(loaded.errors.is_empty());
            assert_eq!(loaded.file.map(|f| f.groups.len()), Some(1));
            assert_eq!(loaded.warnings, vec![MULTI_DOCUMENT_WARNING.to_string()]);
        }
    }
}

#[test]
fn ignore_unknown_fields_accepts_upstream_extra_fields_file() {
    // Same shape as upstream's cmd/promtool/testdata/rules_extrafields.yml.
    let text = "groups:\n  - name: alerts\n    namespace: \"foobar\"\n    rules:\n      - alert: InstanceDown\n        expr: up == 0\n      - alert: AlwaysFiring\n        expr: 1\n  - name: rules\n    ownership:\n      service: \"test\"\n    rules:\n      - record: fixed_data\n        expr: 1\n";
    let strict = check_named_sources(&[("x.yml", text)], &CheckOptions::default());
    assert_eq!(strict.exit_code, 1);
    assert!(
        strict
            .stderr()
            .contains("line 3: field namespace not found in type rulefmt.RuleGroup")
    );
    assert!(
        strict
            .stderr()
            .contains("line 10: field ownership not found in type rulefmt.RuleGroup")
    );
    let lenient = CheckOptions {
        ignore_unknown_fields: true,
        ..CheckOptions::default()
    };
    let report = check_named_sources(&[("x.yml", text)], &lenient);
    assert_eq!(report.exit_code, 0, "{}", report.stderr());
    assert!(report.stdout().contains("SUCCESS: 3 rules found"));
}

#[test]
fn errors_render_with_the_source_line() {
    let text = group("      - record: r\n        expr: rate(x)\n");
    let loaded = load_rule_file(&text, &LoadOptions::default());
    let rendered = loaded.errors[0].render(&text);
    let lines: Vec<&str> = rendered.lines().collect();
    assert!(lines[0].starts_with("5:15: group \"g\", rule 1, \"r\": could not parse expression"));
    assert_eq!(
        lines[1..],
        ["  |", "5 |         expr: rate(x)", "  |               ^"]
    );
}
