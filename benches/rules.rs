//! Rule-file benchmarks.
//!
//! - `rules_lint`: every YAML file of the shared rule corpus
//!   (`../shared/rules/corpus`, or `RULES_CORPUS`), read into memory once,
//!   (a) checked as `promql check rules --lint=all` does (YAML, PromQL,
//!   validation, all lints) and (b) linted only (files already loaded).
//!   Throughput is in rules. Skipped with a notice when the corpus is absent.
//! - `rules_eval`: one evaluation of a group of 100 rules (60 recording, 40
//!   alerting: `rate`, `sum by`, `histogram_quantile`, comparisons) over
//!   10,000 series (8,999 `x_total` counters and 91 classic histograms of 11
//!   `h_bucket` series) with the last 10 minutes of 15 s samples. Each
//!   iteration gets a freshly loaded store (not timed), since an evaluation
//!   appends its outputs.

mod data;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promql_engine::Engine;
use promql_engine::model::Labels;
use promql_engine::rules::eval::{Group, GroupOptions};
use promql_engine::rules::lint::{find_duplicate_rules, lint_file};
use promql_engine::rules::{CheckOptions, LoadOptions, RuleFile, check_source, load_rule_file};
use promql_engine::storage::MemoryStorage;

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RULES_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/rules/corpus", "../../shared/rules/corpus"]
        .iter()
        .map(|p| manifest.join(p))
        .find(|p| p.is_dir())
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

fn lint(c: &mut Criterion) {
    let Some(dir) = corpus_dir() else {
        eprintln!("rules_lint: skipped, no rule corpus (../shared/rules/corpus or RULES_CORPUS)");
        return;
    };
    let mut paths = Vec::new();
    yaml_files(&dir, &mut paths);
    paths.sort();
    let sources: Vec<(String, String)> = paths
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    let mut options = CheckOptions::default();
    assert!(options.set_lint("all").is_empty());
    let loaded: Vec<RuleFile> = sources
        .iter()
        .filter_map(|(_, text)| load_rule_file(text, &LoadOptions::default()).file)
        .collect();
    let rules: usize = loaded.iter().map(RuleFile::rule_count).sum();
    eprintln!(
        "rules_lint: {} files, {} of them valid, {rules} rules",
        sources.len(),
        loaded.len()
    );

    let mut group = c.benchmark_group("rules_lint");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rules as u64));
    group.bench_function("check_corpus_lint_all", |b| {
        b.iter(|| {
            for (name, text) in &sources {
                black_box(check_source(name, text, &options));
            }
        })
    });
    group.bench_function("lint_only_corpus", |b| {
        b.iter(|| {
            for file in &loaded {
                black_box(find_duplicate_rules(file));
                black_box(lint_file(file, &options.lint_checks));
            }
        })
    });
    group.finish();
}

/// Number of classic histograms (11 bucket series each).
const HISTOGRAMS: usize = 91;
/// Counters, so that counters and bucket series make 10,000 series.
const COUNTERS: usize = 10_000 - HISTOGRAMS * 11;
/// Samples per series: the last 10 minutes at 15 s.
const POINTS: usize = 40;

/// The benchmark group: 100 rules, in five kinds of 20.
fn rule_group_yaml() -> String {
    let mut text = String::from("groups:\n- name: bench\n  rules:\n");
    for i in 0..100 {
        let job = i % 10;
        let rule = match i % 5 {
            0 => format!(
                "  - record: instance:x:rate5m_{i}\n    expr: rate(x_total{{job=\"job-{job}\"}}[5m])\n"
            ),
            1 => format!(
                "  - record: job:x:rate5m_{i}\n    expr: sum by (job) (rate(x_total[5m]))\n"
            ),
            2 => format!(
                "  - record: job:h:p99_{i}\n    expr: histogram_quantile(0.99, sum by (job, le) (rate(h_bucket[5m])))\n"
            ),
            3 => format!(
                "  - alert: HighRate{i}\n    expr: sum by (job) (rate(x_total[5m])) > {}\n    for: 5m\n    labels: {{severity: warning}}\n    annotations:\n      summary: '{{{{ $labels.job }}}} at {{{{ $value }}}}'\n",
                1000 + i * 10
            ),
            _ => format!(
                "  - alert: SlowRequests{i}\n    expr: histogram_quantile(0.9, sum by (job, le) (rate(h_bucket{{job=\"job-{job}\"}}[5m]))) > 0.1\n    annotations:\n      summary: '{{{{ $labels.job }}}} p90 is {{{{ $value }}}}'\n"
            ),
        };
        text.push_str(&rule);
    }
    text
}

/// Every sample of the data set, generated once.
fn samples() -> Vec<(Labels, Vec<(i64, f64)>)> {
    let total = data::points(1);
    let first = total - POINTS;
    let mut out: Vec<(Labels, Vec<(i64, f64)>)> = (0..COUNTERS)
        .map(|i| {
            let points = (first..total)
                .map(|k| (data::timestamp(k), data::counter_value(i, k)))
                .collect();
            (data::series_labels(i), points)
        })
        .collect();
    let mut current: Option<Labels> = None;
    data::generate_classic(HISTOGRAMS, 1, |labels, t, v| {
        if t < data::timestamp(first) {
            return;
        }
        if current.as_ref() != Some(labels) {
            current = Some(labels.clone());
            out.push((labels.clone(), Vec::with_capacity(POINTS)));
        }
        if let Some((_, points)) = out.last_mut() {
            points.push((t, v));
        }
    });
    out
}

fn store(samples: &[(Labels, Vec<(i64, f64)>)]) -> MemoryStorage {
    let mut storage = MemoryStorage::new();
    for (labels, points) in samples {
        for (t, v) in points {
            storage.add(labels, *t, *v);
        }
    }
    storage.commit();
    storage
}

fn eval(c: &mut Criterion) {
    let text = rule_group_yaml();
    let loaded = load_rule_file(&text, &LoadOptions::default());
    let Some(file) = loaded.file else {
        panic!("benchmark rules do not load: {:?}", loaded.errors);
    };
    let samples = samples();
    let series = samples.len();
    let ts = data::timestamp(data::points(1) - 1);
    let engine = Engine::default();
    // Check once that every rule evaluates.
    let mut group_state = Group::new(&file.groups[0], "bench.yml", &GroupOptions::default());
    let mut storage = store(&samples);
    group_state.eval(&engine, &mut storage, ts);
    let failed: Vec<_> = group_state
        .rules
        .iter()
        .filter_map(|r| r.last_error.as_ref())
        .collect();
    assert!(failed.is_empty(), "rule errors: {failed:?}");
    eprintln!(
        "rules_eval: {} rules over {series} series; one evaluation stores {} series in all",
        group_state.rules.len(),
        storage.series_count()
    );

    // One timed evaluation per kind of rule, to show where the time goes.
    for (kind, rule) in file.groups[0].rules.iter().take(5).enumerate() {
        let mut single = file.groups[0].clone();
        single.rules = vec![rule.clone()];
        let mut rules = Group::new(&single, "bench.yml", &GroupOptions::default());
        let mut storage = store(&samples);
        let start = Instant::now();
        rules.eval(&engine, &mut storage, ts);
        eprintln!(
            "rules_eval: kind {kind} ({}) once: {:?}",
            rule.expr_text(),
            start.elapsed()
        );
    }

    let mut group = c.benchmark_group("rules_eval");
    group.sample_size(10);
    group.bench_function(format!("group_100_rules_{series}_series"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut storage = store(&samples);
                let mut rules = Group::new(&file.groups[0], "bench.yml", &GroupOptions::default());
                let start = Instant::now();
                rules.eval(&engine, &mut storage, ts);
                total += start.elapsed();
                black_box(&rules);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, lint, eval);
criterion_main!(benches);
