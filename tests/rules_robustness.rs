//! Loading never panics, whatever the input: random text, and valid rule
//! files with random edits.

use promql_engine::rules::load::{LoadOptions, load_rule_file};
use promql_engine::rules::template::parse_alert_template;
use proptest::prelude::*;

const SEED: &str = "groups:
  - name: example
    interval: 30s
    labels:
      team: a
    rules:
      - alert: HighLoad
        expr: node_load1{job=\"node\"} > 4
        for: 5m
        labels:
          severity: page
        annotations:
          summary: \"{{ $labels.instance }} at {{ $value | humanize }}\"
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: other
    rules:
      - <<: &base {alert: A, expr: up == 0}
        for: 1m
";

fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_string()),
            Just("  ".to_string()),
            Just("- ".to_string()),
            Just(": ".to_string()),
            Just("groups".to_string()),
            Just("rules".to_string()),
            Just("expr".to_string()),
            Just("alert".to_string()),
            Just("record".to_string()),
            Just("labels".to_string()),
            Just("{{".to_string()),
            Just("}}".to_string()),
            Just("&a ".to_string()),
            Just("*a".to_string()),
            Just("<<".to_string()),
            Just("---\n".to_string()),
            "[ -~]{0,6}",
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

/// Mostly well-formed templates: text and actions, with control structures.
fn template_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("x ".to_string()),
        Just("{{ $value }}".to_string()),
        Just("{{ $labels.instance }}".to_string()),
        Just("{{ $value | humanize }}".to_string()),
        Just("{{ printf \"%.2f\" $value }}".to_string()),
        Just("{{- /* note */ -}}".to_string()),
        Just("{{ (index $labels \"job\").x }}".to_string()),
        Just("{{ $v := 1.5e3 }}{{ $v }}".to_string()),
        Just("{{ 'c' }}{{ -0x1F }}{{ `raw` }}{{ nil }}{{ true }}".to_string()),
    ];
    atom.prop_recursive(4, 32, 4, |inner| {
        let body = proptest::collection::vec(inner, 0..4).prop_map(|v| v.concat());
        (0usize..5, body.clone(), body).prop_map(|(kind, a, b)| match kind {
            0 => format!("{{{{ if gt $value 1.0 }}}}{a}{{{{ else }}}}{b}{{{{ end }}}}"),
            1 => format!("{{{{ range $k, $v := $labels }}}}{a}{{{{ if $v }}}}{{{{ break }}}}{{{{ end }}}}{{{{ end }}}}"),
            2 => format!("{{{{ with query \"up\" }}}}{a}{{{{ else with $labels }}}}{b}{{{{ end }}}}"),
            3 => format!("{{{{ if 1 }}}}{a}{{{{ else if 2 }}}}{b}{{{{ end }}}}"),
            _ => format!("{a}{b}"),
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let loaded = load_rule_file(&text, &LoadOptions::default());
        prop_assert!(loaded.file.is_some() || !loaded.errors.is_empty());
    }

    #[test]
    fn yaml_like_text_never_panics(text in yamlish()) {
        let loaded = load_rule_file(&text, &LoadOptions::default());
        prop_assert!(loaded.file.is_some() || !loaded.errors.is_empty());
    }

    #[test]
    fn edited_rule_files_never_panic(at in 0usize..SEED.len(), cut in 0usize..20, insert in "[ -~\n]{0,8}") {
        let start = (0..=at).rev().find(|&i| SEED.is_char_boundary(i)).unwrap_or(0);
        let end = (start + cut).min(SEED.len());
        let end = (end..=SEED.len()).find(|&i| SEED.is_char_boundary(i)).unwrap_or(SEED.len());
        let text = format!("{}{}{}", &SEED[..start], insert, &SEED[end..]);
        let loaded = load_rule_file(&text, &LoadOptions::default());
        prop_assert!(loaded.file.is_some() || !loaded.errors.is_empty());
    }

    #[test]
    fn templates_never_panic(text in "(\\{\\{|\\}\\}|[ -~]|\\$[a-z]+|\\.[A-Za-z]+|\\(|\\)|\\|| if | end | range | else ){0,40}") {
        let _ = parse_alert_template("A", &text);
    }

    #[test]
    fn parsed_templates_print_and_reparse_identically(text in template_text()) {
        let template = parse_alert_template("A", &text);
        prop_assert!(template.is_ok(), "{text:?}: {template:?}");
        let shown = template.map(|t| t.to_string()).unwrap_or_default();
        let again = parse_alert_template("A", &shown);
        prop_assert!(again.is_ok(), "{text:?} printed as {shown:?}: {again:?}");
        prop_assert_eq!(again.map(|t| t.to_string()).unwrap_or_default(), shown);
    }
}

#[test]
fn seed_is_valid() {
    let loaded = load_rule_file(SEED, &LoadOptions::default());
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.file.map(|f| f.rule_count()), Some(3));
}
