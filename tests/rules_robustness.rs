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
}

#[test]
fn seed_is_valid() {
    let loaded = load_rule_file(SEED, &LoadOptions::default());
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.file.map(|f| f.rule_count()), Some(3));
}
