//! Rule evaluation over any storage: an [`OverlayStore`] over a read-only
//! source gives the same outputs, alerts and stale markers as evaluating in
//! a `MemoryStorage` that holds the data itself, and reports refused appends.

use std::sync::Arc;

use promql_engine::Engine;
use promql_engine::model::{FloatHistogram, Labels, MatchOp, Matcher};
use promql_engine::rules::eval::{Discard, Group, GroupOptions, OverlayStore};
use promql_engine::rules::{LoadOptions, load_rule_file};
use promql_engine::storage::load::load_data;
use promql_engine::storage::{Appender, MemoryStorage, SelectHints, Storage, StorageError};

const RULE_FILES: [&str; 4] = [
    "testdata/demo/rules/application.rules.yml",
    "testdata/demo/rules/business.rules.yml",
    "testdata/demo/rules/performance.rules.yml",
    "testdata/demo/rules/system.rules.yml",
];

fn demo_storage() -> MemoryStorage {
    let bytes = std::fs::read("testdata/demo/demo.om").unwrap();
    let mut storage = MemoryStorage::new();
    load_data(&bytes, &mut storage, 0).unwrap();
    storage.commit();
    storage
}

fn groups(path: &str) -> Vec<Group> {
    let text = std::fs::read_to_string(path).unwrap();
    let loaded = load_rule_file(&text, &LoadOptions::default());
    assert!(loaded.errors.is_empty(), "{path}: {:?}", loaded.errors);
    let file = loaded.file.unwrap();
    file.groups
        .iter()
        .map(|g| Group::new(g, path, &GroupOptions::default()))
        .collect()
}

/// Every sample of every series matching `{__name__=~"name"}`, as text.
fn dump(storage: &dyn Storage, names: &str) -> Vec<String> {
    let hints = SelectHints::window(i64::MIN / 2, i64::MAX / 2);
    let matcher = Matcher::new(MatchOp::Regex, "__name__", names).unwrap();
    let mut out = Vec::new();
    for s in storage.select(&[matcher], &hints).unwrap() {
        for p in s.floats.iter() {
            out.push(format!("{} {} {:x}", s.labels, p.t, p.v.to_bits()));
        }
        for p in s.histograms.iter() {
            out.push(format!("{} {} {:?}", s.labels, p.t, p.h));
        }
    }
    out
}

/// Records every append, in order.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Appender for Recorder {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), StorageError> {
        self.0.push(format!("{labels} {t} {:x}", v.to_bits()));
        Ok(())
    }

    fn append_histogram(
        &mut self,
        labels: &Labels,
        t: i64,
        h: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        self.0.push(format!("{labels} {t} {h:?}"));
        Ok(())
    }
}

#[test]
fn overlay_over_a_source_matches_evaluating_in_memory() {
    let source = demo_storage();
    let engine = Engine::default();
    let times: Vec<i64> = (0..40).map(|i| 1_700_000_000_000 + i * 300_000).collect();
    let mut compared = 0;
    for path in RULE_FILES {
        let mut direct_groups = groups(path);
        let mut overlay_groups = groups(path);
        let mut direct = demo_storage();
        let mut store = OverlayStore::new(&source, Recorder::default());
        for &t in &times {
            for (d, o) in direct_groups.iter_mut().zip(overlay_groups.iter_mut()) {
                d.eval(&engine, &mut direct, t);
                let summary = o.eval(&engine, &mut store, t);
                assert_eq!(summary.append_errors, 0);
                for (a, b) in d.rules.iter().zip(&o.rules) {
                    assert_eq!(a.last_error, b.last_error, "{path} {} at {t}", a.name());
                }
            }
        }
        // Everything the overlay kept is what the direct store gained...
        let outputs = dump(store.outputs(), ".+");
        let mut gained = dump(&direct, ".+");
        let before = dump(&source, ".+");
        gained.retain(|s| !before.contains(s));
        assert_eq!(outputs, gained, "{path}");
        // ...the sink saw each output once...
        let mut recorded = store.sink().0.clone();
        recorded.sort();
        let mut sorted = outputs.clone();
        sorted.sort();
        assert_eq!(recorded, sorted, "{path}");
        // ...and alerts agree.
        for (d, o) in direct_groups.iter().zip(&overlay_groups) {
            for rule in &d.rules {
                let a: Vec<_> = d.alerts(rule.name()).collect();
                let b: Vec<_> = o.alerts(rule.name()).collect();
                assert_eq!(a, b, "{path} {}", rule.name());
            }
        }
        // The source was never written.
        assert_eq!(dump(&source, ".+"), before);
        compared += outputs.len();
    }
    assert!(compared > 100, "only {compared} outputs compared");
}

/// An appender that refuses everything.
struct Refuse;

impl Appender for Refuse {
    fn append(&mut self, _: &Labels, _: i64, _: f64) -> Result<(), StorageError> {
        Err(StorageError::Limit("sink is full".into()))
    }

    fn append_histogram(
        &mut self,
        _: &Labels,
        _: i64,
        _: Arc<FloatHistogram>,
    ) -> Result<(), StorageError> {
        Err(StorageError::Limit("sink is full".into()))
    }
}

#[test]
fn refused_appends_are_rule_errors_but_later_rules_still_see_the_outputs() {
    let text = "groups:\n- name: g\n  rules:\n  - record: a:sum\n    expr: sum(up)\n  - record: a:double\n    expr: a:sum * 2\n";
    let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
    let mut group = Group::new(&file.groups[0], "f.yml", &GroupOptions::default());
    let mut source = MemoryStorage::new();
    source.add(
        &Labels::from_pairs(&[("__name__", "up"), ("job", "a")]),
        0,
        1.0,
    );
    source.add(
        &Labels::from_pairs(&[("__name__", "up"), ("job", "b")]),
        0,
        1.0,
    );
    source.commit();
    let mut store = OverlayStore::new(&source, Refuse);
    let summary = group.eval(&Engine::default(), &mut store, 0);
    assert_eq!(
        (summary.samples, summary.append_errors, summary.failed_rules),
        (2, 2, 2)
    );
    for rule in &group.rules {
        let err = rule.last_error.as_ref().expect("append error recorded");
        assert!(err.0.contains("sink is full"), "{err}");
    }
    assert_eq!(
        dump(store.outputs(), "a:double"),
        dump(
            &{
                let mut m = MemoryStorage::new();
                m.add(&Labels::from_pairs(&[("__name__", "a:double")]), 0, 4.0);
                m
            },
            "a:double"
        )
    );
}

#[test]
fn a_discarding_overlay_only_keeps_outputs_in_memory() {
    let text = "groups:\n- name: g\n  rules:\n  - record: x\n    expr: vector(1)\n";
    let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
    let mut group = Group::new(&file.groups[0], "f.yml", &GroupOptions::default());
    let source = MemoryStorage::new();
    let mut store = OverlayStore::new(&source, Discard);
    group.eval(&Engine::default(), &mut store, 60_000);
    assert_eq!(store.outputs().series_count(), 1);
    store.clear_outputs();
    assert_eq!(store.outputs().series_count(), 0);
}

#[test]
fn old_outputs_can_be_forgotten() {
    let text = "groups:\n- name: g\n  rules:\n  - record: x\n    expr: vector(1)\n  - record: y\n    expr: vector(2) and on() (vector(time()) < 120)\n";
    let file = load_rule_file(text, &LoadOptions::default()).file.unwrap();
    let mut group = Group::new(&file.groups[0], "f.yml", &GroupOptions::default());
    let source = MemoryStorage::new();
    let mut store = OverlayStore::new(&source, Discard);
    for t in [0, 60_000, 120_000, 180_000] {
        group.eval(&Engine::default(), &mut store, t);
    }
    // x at 0, 60s, 120s, 180s; y at 0, 60s and its stale marker at 120s.
    assert_eq!(store.outputs().sample_count(), 7);
    store.forget_outputs_before(120_000);
    let kept = dump(store.outputs(), ".+");
    let times: Vec<&str> = kept.iter().map(|s| s.split(' ').nth(1).unwrap()).collect();
    assert_eq!(times, vec!["120000", "180000", "120000"], "{kept:?}");
    store.forget_outputs_before(1_000_000);
    assert_eq!(store.outputs().series_count(), 0);
}
