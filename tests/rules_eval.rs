//! Rule group evaluation: recording and alerting rules against a MemoryStorage.

use promql_engine::Engine;
use promql_engine::model::{Labels, Matcher, is_stale_nan};
use promql_engine::rules::eval::{AlertState, Group, GroupOptions, RuleBody};
use promql_engine::rules::{LoadOptions, load_rule_file};
use promql_engine::storage::{MemoryStorage, SelectHints, Storage};

const MIN: i64 = 60_000;

fn group(yaml: &str) -> Group {
    let loaded = load_rule_file(yaml, &LoadOptions::default());
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let file = loaded.file.expect("rule file");
    let options = GroupOptions {
        external_labels: vec![("cluster".into(), "eu1".into())],
        external_url: "http://prom.example".into(),
        ..GroupOptions::default()
    };
    Group::new(&file.groups[0], "rules.yml", &options)
}

fn series(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

/// Samples of the series named `name`, as (labels, t, v), sorted.
fn samples(storage: &MemoryStorage, name: &str) -> Vec<(Labels, i64, f64)> {
    let hints = SelectHints::window(i64::MIN / 2, i64::MAX / 2);
    let mut out = Vec::new();
    for s in storage
        .select(&[Matcher::equal("__name__", name)], &hints)
        .unwrap()
    {
        for p in s.floats.iter() {
            out.push((s.labels.clone(), p.t, p.v));
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out
}

fn eval_at(group: &mut Group, storage: &mut MemoryStorage, times: impl IntoIterator<Item = i64>) {
    let engine = Engine::default();
    for t in times {
        group.eval(&engine, storage, t);
    }
}

#[test]
fn recording_rules_chain_within_one_evaluation() {
    let mut g = group(
        "groups:\n- name: g\n  labels:\n    team: a\n  rules:\n  - record: job:x:sum\n    expr: sum by (job) (x)\n    labels:\n      kind: total\n  - record: job:x:double\n    expr: job:x:sum * 2\n",
    );
    let mut st = MemoryStorage::new();
    st.add(
        &series(&[("__name__", "x"), ("job", "a"), ("i", "1")]),
        0,
        3.0,
    );
    st.add(
        &series(&[("__name__", "x"), ("job", "a"), ("i", "2")]),
        0,
        4.0,
    );
    eval_at(&mut g, &mut st, [0]);
    let sum = samples(&st, "job:x:sum");
    assert_eq!(
        sum,
        vec![(
            series(&[
                ("__name__", "job:x:sum"),
                ("job", "a"),
                ("kind", "total"),
                ("team", "a")
            ]),
            0,
            7.0
        )]
    );
    // The second rule sees the first one's output at the same timestamp.
    let double = samples(&st, "job:x:double");
    assert_eq!(double.len(), 1);
    assert_eq!(double[0].2, 14.0);
    assert_eq!(double[0].0.get("team"), Some("a"));
}

#[test]
fn vanished_series_get_stale_markers() {
    let mut g = group("groups:\n- name: g\n  rules:\n  - record: r\n    expr: x > 0\n");
    let mut st = MemoryStorage::new();
    let a = series(&[("__name__", "x"), ("i", "a")]);
    st.add(&a, 0, 1.0);
    st.add(&a, MIN, -1.0);
    eval_at(&mut g, &mut st, [0, MIN, 2 * MIN]);
    let out = samples(&st, "r");
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!((out[0].1, out[0].2), (0, 1.0));
    assert_eq!(out[1].1, MIN);
    assert!(is_stale_nan(out[1].2));
}

#[test]
fn alerts_go_pending_then_firing_and_write_alerts_series() {
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: High\n    expr: x > 10\n    for: 2m\n    labels:\n      severity: page\n      where: '{{ $labels.i }}@{{ $externalLabels.cluster }}'\n    annotations:\n      summary: 'value {{ $value | humanize }} at {{ $externalURL }}'\n",
    );
    let mut st = MemoryStorage::new();
    let x = series(&[("__name__", "x"), ("i", "a")]);
    for m in 0..10 {
        st.add(&x, m * MIN, if m < 5 { 20.0 } else { 1.0 });
    }
    let engine = Engine::default();
    let state = |g: &Group| -> Option<AlertState> {
        let RuleBody::Alerting(a) = &g.rules[0].body else {
            panic!("alerting rule")
        };
        a.alerts().next().map(|a| a.state)
    };
    g.eval(&engine, &mut st, 0);
    assert_eq!(state(&g), Some(AlertState::Pending));
    g.eval(&engine, &mut st, MIN);
    assert_eq!(state(&g), Some(AlertState::Pending));
    g.eval(&engine, &mut st, 2 * MIN);
    assert_eq!(state(&g), Some(AlertState::Firing));
    let RuleBody::Alerting(a) = &g.rules[0].body else {
        panic!()
    };
    let alert = a.alerts().next().unwrap();
    assert_eq!(alert.labels.get("where"), Some("a@eu1"));
    assert_eq!(alert.labels.get("alertname"), Some("High"));
    assert_eq!(
        alert.annotations.get("summary"),
        Some("value 20 at http://prom.example")
    );

    let alerts = samples(&st, "ALERTS");
    let states: Vec<(i64, &str)> = alerts
        .iter()
        .map(|(l, t, _)| (*t, l.get("alertstate").unwrap()))
        .collect();
    assert!(
        states.contains(&(0, "pending")) && states.contains(&(2 * MIN, "firing")),
        "{states:?}"
    );
    let for_state = samples(&st, "ALERTS_FOR_STATE");
    assert!(for_state.iter().all(|(_, _, v)| *v == 0.0));

    // Resolves at 5m (x drops), is kept as inactive for 15m, then dropped.
    eval_at(&mut g, &mut st, (3..=5).map(|m| m * MIN));
    assert_eq!(state(&g), Some(AlertState::Inactive));
    let last_alerts = samples(&st, "ALERTS");
    assert!(
        is_stale_nan(last_alerts.last().unwrap().2),
        "stale ALERTS after resolution"
    );
    eval_at(&mut g, &mut st, (6..=20).map(|m| m * MIN));
    assert_eq!(state(&g), Some(AlertState::Inactive));
    eval_at(&mut g, &mut st, [21 * MIN]);
    assert_eq!(state(&g), None);
}

#[test]
fn keep_firing_for_holds_a_resolved_alert() {
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 0\n    keep_firing_for: 2m\n",
    );
    let mut st = MemoryStorage::new();
    let x = series(&[("__name__", "x")]);
    st.add(&x, 0, 1.0);
    st.add(&x, MIN, 0.0);
    let engine = Engine::default();
    let state = |g: &Group| {
        let RuleBody::Alerting(a) = &g.rules[0].body else {
            panic!()
        };
        a.alerts().next().map(|a| a.state)
    };
    g.eval(&engine, &mut st, 0);
    assert_eq!(state(&g), Some(AlertState::Firing));
    g.eval(&engine, &mut st, MIN);
    assert_eq!(state(&g), Some(AlertState::Firing));
    g.eval(&engine, &mut st, 2 * MIN);
    assert_eq!(state(&g), Some(AlertState::Firing));
    g.eval(&engine, &mut st, 3 * MIN);
    assert_eq!(state(&g), Some(AlertState::Inactive));
}

#[test]
fn limits_fail_the_rule() {
    let mut g = group(
        "groups:\n- name: g\n  limit: 1\n  rules:\n  - alert: A\n    expr: x > 0\n  - record: r\n    expr: x\n",
    );
    let mut st = MemoryStorage::new();
    st.add(&series(&[("__name__", "x"), ("i", "1")]), 0, 1.0);
    st.add(&series(&[("__name__", "x"), ("i", "2")]), 0, 1.0);
    eval_at(&mut g, &mut st, [0]);
    let errors: Vec<String> = g
        .rules
        .iter()
        .map(|r| r.last_error.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "exceeded limit of 1 with 2 alerts",
            "exceeded limit of 1 with 2 series"
        ]
    );
    assert!(samples(&st, "r").is_empty());
}

#[test]
fn query_offset_shifts_evaluation_and_output_time() {
    let mut g =
        group("groups:\n- name: g\n  query_offset: 1m\n  rules:\n  - record: r\n    expr: x\n");
    let mut st = MemoryStorage::new();
    let x = series(&[("__name__", "x")]);
    st.add(&x, 0, 1.0);
    st.add(&x, 2 * MIN, 5.0);
    eval_at(&mut g, &mut st, [2 * MIN]);
    assert_eq!(samples(&st, "r")[0].1, MIN);
    assert_eq!(samples(&st, "r")[0].2, 1.0);
}

#[test]
fn template_errors_are_kept_in_the_text_and_queries_work() {
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    annotations:\n      bad: '{{ \"abc\" | humanize }}'\n      q: '{{ with query \"sum(x)\" }}{{ . | first | value }}{{ end }}'\n",
    );
    let mut st = MemoryStorage::new();
    st.add(&series(&[("__name__", "x")]), 0, 4.0);
    eval_at(&mut g, &mut st, [0]);
    let RuleBody::Alerting(a) = &g.rules[0].body else {
        panic!()
    };
    let alert = a.alerts().next().unwrap();
    let bad = alert.annotations.get("bad").unwrap();
    assert!(
        bad.starts_with(
            "<error expanding template: error executing template __alert_A: template: __alert_A:1:"
        ),
        "{bad}"
    );
    assert!(bad.contains("error calling humanize"), "{bad}");
    assert_eq!(alert.annotations.get("q"), Some("4"));
}

#[test]
fn eval_range_follows_the_group_interval() {
    let mut g = group(
        "groups:\n- name: g\n  interval: 30s\n  rules:\n  - alert: A\n    expr: x > 0\n    for: 1m\n",
    );
    assert_eq!(g.interval_ms, 30_000);
    let mut st = MemoryStorage::new();
    st.add(&series(&[("__name__", "x")]), 0, 1.0);
    g.eval_range(&Engine::default(), &mut st, 0, 2 * MIN);
    let times: Vec<i64> = samples(&st, "ALERTS_FOR_STATE")
        .iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(times, [0, 30_000, 60_000, 90_000, 120_000]);
    let states: Vec<AlertState> = g.alerts("A").map(|a| a.state).collect();
    assert_eq!(states, [AlertState::Firing]);
}

/// Every label and annotation template of the shared rule corpus executes
/// (with sample data and a `query` that returns one sample) without error.
#[test]
fn corpus_templates_execute() {
    use promql_engine::rules::template::exec::{AlertData, Expander, QuerySample};
    use promql_engine::rules::template::parse_alert_template;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = [
        root.join("../shared/rules"),
        root.join("../../shared/rules"),
    ]
    .into_iter()
    .find(|p| p.exists());
    let Some(shared) = shared else {
        eprintln!("shared rule data not found; skipping");
        return;
    };
    let manifest = std::fs::read_to_string(shared.join("MANIFEST.tsv")).unwrap();
    let query = |_: &str| -> Result<Vec<QuerySample>, String> {
        Ok(vec![QuerySample {
            labels: vec![
                ("__name__".into(), "m".into()),
                ("instance".into(), "h:1".into()),
            ],
            value: 0.5,
        }])
    };
    let mut expander = Expander::new(1_700_000_000_000);
    expander.external_url = "http://prometheus:9090".into();
    expander.query = Some(&query);
    let (mut executed, mut failures) = (0, Vec::new());
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.get(1) != Some(&"rules") || cols.get(4) != Some(&"0") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(shared.join(cols[0])) else {
            continue;
        };
        let Some(file) = load_rule_file(&text, &LoadOptions::default()).file else {
            continue;
        };
        for rule in file.groups.iter().flat_map(|g| &g.rules) {
            if rule.alert.is_none() {
                continue;
            }
            let data = AlertData::new(
                &[
                    ("instance", "host:9100"),
                    ("job", "node"),
                    ("namespace", "ns"),
                    ("pod", "p"),
                ],
                &[("cluster", "c1")],
                "http://prometheus:9090",
                0.75,
            );
            for entry in rule.labels.iter().chain(&rule.annotations) {
                let template = parse_alert_template(rule.alert_name(), &entry.value).unwrap();
                executed += 1;
                if let Err(e) = expander.expand_alert(&template, &entry.value, &data) {
                    failures.push(format!("{}: {}: {e}", cols[0], rule.alert_name()));
                }
            }
        }
    }
    println!(
        "corpus templates executed: {executed}, failed: {}",
        failures.len()
    );
    assert!(executed > 1000, "only {executed} templates");
    // Only upstream's rulefmt fixtures fail, as in Go: they write
    // `$.labels.service`, but the data's field is `Labels`.
    let unexpected: Vec<&String> = failures
        .iter()
        .filter(|f| {
            !(f.contains("rulefmt/testdata/")
                && f.contains("can't evaluate field labels in type struct {"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

#[test]
fn labels_expanding_to_empty_are_dropped_from_the_alert_but_not_from_alerts_series() {
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    labels:\n      gone: '{{ $labels.nope }}'\n      kept: 'k'\n",
    );
    let mut st = MemoryStorage::new();
    st.add(&series(&[("__name__", "x"), ("i", "1")]), 0, 1.0);
    eval_at(&mut g, &mut st, [0]);
    let alert = g.alerts("A").next().unwrap();
    assert_eq!(
        alert.labels,
        series(&[("alertname", "A"), ("i", "1"), ("kept", "k")])
    );
    let alerts = samples(&st, "ALERTS");
    assert_eq!(alerts[0].0.get("gone"), Some("{{ $labels.nope }}"));
    assert_eq!(alerts[0].0.get("alertstate"), Some("firing"));
}
