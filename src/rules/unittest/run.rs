//! Running one test group: load series, evaluate the rule groups step by
//! step, compare alerts and PromQL results with the expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Engine;
use crate::model::float_format::{format_go_e, format_go_f};

use crate::model::{Labels, SampleValue};
use crate::promqltest::tsdb_hints::ChunkState;
use crate::rules::duration::format_duration;
use crate::rules::eval::{AlertState, Group, GroupOptions, RuleBody, run_query};
use crate::rules::load_rule_file;
use crate::rules::model::RuleGroup;
use crate::rules::template::value::format_go_duration;
use crate::storage::MemoryStorage;
use crate::storage::series_notation::{SeqValue, SeriesDesc, parse_series};

use super::TestOptions;
use super::format::{TestFile, TestGroup};

/// Prometheus' `labels.Labels.String()`: `{__name__="x", a="b"}`.
pub fn labels_string(labels: &Labels) -> String {
    labels.to_prometheus_string()
}

fn go_quote(s: &str) -> String {
    crate::rules::template::lexer::go_quote(s)
}

fn model_duration(ms: i64) -> String {
    format_duration(std::time::Duration::from_millis(
        u64::try_from(ms).unwrap_or(0),
    ))
}

/// Go's `%E` with shortest digits (`6E+01`, `9.95E-01`).
fn float_e(v: f64) -> String {
    format_go_e(v)
        .to_uppercase()
        .replace("INF", "Inf")
        .replace("NAN", "NaN")
}

#[derive(Clone, Debug, PartialEq)]
struct ParsedSample {
    labels: Labels,
    value: f64,
    histogram: String,
}

impl ParsedSample {
    fn show(&self) -> String {
        if self.histogram.is_empty() {
            format!("{} {}", labels_string(&self.labels), float_e(self.value))
        } else {
            format!("{} {}", labels_string(&self.labels), self.histogram)
        }
    }
}

fn samples_string(samples: &[ParsedSample]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(ParsedSample::show)
        .collect::<Vec<_>>()
        .join(", ")
}

fn floats_equal(a: f64, b: f64, fuzzy: bool) -> bool {
    if a == b {
        return true;
    }
    fuzzy
        && a.is_finite()
        && b.is_finite()
        && (a.to_bits().abs_diff(b.to_bits()) == 1 && a.signum() == b.signum())
}

type AlertSet = Vec<(Labels, Labels)>;

fn alerts_string(alerts: &AlertSet) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, (labels, annotations)) in alerts.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "\n{i}:\n  Labels:{}\n  Annotations:{}",
            labels_string(labels),
            labels_string(annotations)
        ));
    }
    s.push_str("\n]");
    s
}

fn indent_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// Rule files after joining with the test file's directory and globbing.
pub fn resolve_rule_files(
    base: &Path,
    patterns: &[String],
    warnings: &mut Vec<String>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pattern in patterns {
        let path = if Path::new(pattern).is_absolute() || pattern.is_empty() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let matched = glob(&path);
        if matched.is_empty() {
            warnings.push(format!(
                "  WARNING: no file match pattern {}",
                path.display()
            ));
        }
        out.extend(matched);
    }
    out
}

fn glob(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return vec![];
    };
    if !name.contains(['*', '?', '[']) {
        return if path.exists() {
            vec![path.to_path_buf()]
        } else {
            vec![]
        };
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let re_text: String = name
        .chars()
        .map(|c| match c {
            '*' => "[^/]*".to_string(),
            '?' => "[^/]".to_string(),
            '[' | ']' | '-' | '^' => c.to_string(),
            c => regex::escape(&c.to_string()),
        })
        .collect();
    let Ok(re) = regex::Regex::new(&format!("^{re_text}$")) else {
        return vec![];
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_str().is_some_and(|n| re.is_match(n)))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Appends an input series, giving histograms the counter-reset hints
/// Prometheus' TSDB reports when reading them back.
fn load_series(storage: &mut MemoryStorage, desc: &SeriesDesc, start: i64, interval: i64) {
    let mut chunk = ChunkState::default();
    let mut t = start;
    for value in &desc.values {
        match value {
            SeqValue::Omitted => {}
            SeqValue::Float(v) => {
                chunk.float(*v);
                storage.add(&desc.labels, t, *v);
            }
            SeqValue::Histogram { histogram, .. } => {
                let stored = chunk.histogram(histogram);
                storage.add_histogram(&desc.labels, t, stored);
            }
        }
        t = t.saturating_add(interval);
    }
}

/// The rule groups of a test file's rule files, loaded once.
#[derive(Clone, Debug, Default)]
pub struct LoadedRules {
    /// Each group with the file it came from.
    pub groups: Vec<(RuleGroup, String)>,
    /// Load errors (`FILE: message`); every test group reports them.
    pub errors: Vec<String>,
}

impl LoadedRules {
    /// Reads and validates `paths` in order.
    pub fn load(paths: &[PathBuf], options: &TestOptions) -> Self {
        let mut out = LoadedRules::default();
        for path in paths {
            let shown = path.display().to_string();
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    out.errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let loaded = load_rule_file(&text, &options.load_options);
            out.errors
                .extend(loaded.errors.iter().map(|e| format!("{shown}: {e}")));
            if let Some(file) = loaded.file {
                out.groups
                    .extend(file.groups.into_iter().map(|g| (g, shown.clone())));
            }
        }
        out
    }
}

/// Runs one test group; returns its failure messages (empty: passed). With
/// [`TestOptions::debug`], a group that runs to its end adds promtool's dump
/// of every series to `debug`.
pub fn run_test_group(
    file: &TestFile,
    tg: &TestGroup,
    rules: &LoadedRules,
    options: &TestOptions,
    debug: &mut Vec<String>,
) -> Vec<String> {
    let eval_interval = file.evaluation_interval_ms;
    let mut storage = MemoryStorage::new();
    let mint = tg.start_timestamp_ms;
    for (i, (series, values)) in tg.input_series.iter().enumerate() {
        let line = format!("{series} {values}");
        match parse_series(&line) {
            Ok(desc) => load_series(&mut storage, &desc, mint, tg.interval_ms),
            Err(e) => {
                return vec![format!(
                    "{}:{}: parse error: {}",
                    i + 1,
                    e.column,
                    e.message
                )];
            }
        }
    }
    storage.commit();

    // Load the rule groups.
    let group_options = GroupOptions {
        default_interval_ms: Some(tg.interval_ms),
        external_labels: tg.external_labels.clone(),
        external_url: tg.external_url.clone(),
        default_query_offset_ms: 0,
    };
    if !rules.errors.is_empty() {
        return rules.errors.clone();
    }
    let mut groups: Vec<Group> = rules
        .groups
        .iter()
        .map(|(g, file)| Group::new(g, file, &group_options))
        .collect();
    let order = |g: &Group| {
        file.group_eval_order
            .iter()
            .position(|n| *n == g.name)
            .unwrap_or(0)
    };
    groups.sort_by_key(order);

    let mut engine_options = options.engine_options.clone();
    engine_options.no_step_subquery_interval = eval_interval;
    let engine = Engine::new(engine_options);

    let mut alert_times: Vec<i64> = Vec::new();
    for test in &tg.alert_rule_tests {
        if test.alertname.is_empty() {
            let group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{group}",
                model_duration(test.eval_time_ms)
            )];
        }
        alert_times.push(test.eval_time_ms);
    }
    alert_times.sort_unstable();
    alert_times.dedup();

    let max_eval = tg
        .alert_rule_tests
        .iter()
        .map(|t| t.eval_time_ms)
        .chain(tg.promql_expr_tests.iter().map(|t| t.eval_time_ms))
        .max()
        .unwrap_or(0);
    let maxt = mint.saturating_add(max_eval);
    let name_prefix = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };

    let mut errs = Vec::new();
    let mut curr = 0usize;
    let mut ts = mint;
    while ts <= maxt && eval_interval > 0 {
        let mut eval_errs = Vec::new();
        for group in &mut groups {
            group.eval(&engine, &mut storage, ts);
            for rule in &group.rules {
                if let Some(e) = &rule.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        rule.name(),
                        format_go_duration(ts.saturating_mul(1_000_000))
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        while let Some(&t) = alert_times.get(curr) {
            if !(ts - mint <= t && t < ts + eval_interval - mint) {
                break;
            }
            let wanted: BTreeSet<&str> = tg
                .alert_rule_tests
                .iter()
                .filter(|a| a.eval_time_ms == t)
                .map(|a| a.alertname.as_str())
                .collect();
            let mut got: BTreeMap<&str, AlertSet> = BTreeMap::new();
            for group in &groups {
                for rule in &group.rules {
                    let RuleBody::Alerting(ar) = &rule.body else {
                        continue;
                    };
                    if !wanted.contains(ar.name.as_str()) {
                        continue;
                    }
                    let entry = got
                        .entry(wanted.get(ar.name.as_str()).copied().unwrap_or(""))
                        .or_default();
                    entry.extend(
                        ar.alerts()
                            .filter(|a| a.state == AlertState::Firing)
                            .map(|a| (a.labels.clone(), a.annotations.clone())),
                    );
                }
            }
            for test in tg.alert_rule_tests.iter().filter(|a| a.eval_time_ms == t) {
                let mut got_alerts = got
                    .get(test.alertname.as_str())
                    .cloned()
                    .unwrap_or_default();
                let mut exp_alerts: AlertSet = test
                    .exp_alerts
                    .iter()
                    .map(|(labels, annotations)| {
                        let mut l: Vec<(&str, &str)> = labels
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect();
                        l.retain(|(k, _)| *k != "alertname");
                        l.push(("alertname", test.alertname.as_str()));
                        let a: Vec<(&str, &str)> = annotations
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect();
                        (Labels::from_pairs(&l), Labels::from_pairs(&a))
                    })
                    .collect();
                got_alerts.sort();
                exp_alerts.sort();
                if got_alerts != exp_alerts {
                    let indent = "            ";
                    errs.push(format!(
                        "{name_prefix}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        test.alertname,
                        model_duration(test.eval_time_ms),
                        indent_lines(&alerts_string(&exp_alerts), indent),
                        indent_lines(&alerts_string(&got_alerts), indent)
                    ));
                }
            }
            curr += 1;
        }
        ts += eval_interval;
    }

    'tests: for test in &tg.promql_expr_tests {
        let shown_time = model_duration(test.eval_time_ms);
        let expr = match crate::parser::parse_with(&test.expr, &options.load_options.parse_options)
        {
            Ok(e) => e,
            Err(e) => {
                errs.push(format!(
                    "    expr: {}, time: {shown_time}, err: {e}",
                    go_quote(&test.expr)
                ));
                continue;
            }
        };
        let got = match run_query(&engine, &storage, &expr, mint + test.eval_time_ms) {
            Ok(samples) => samples,
            Err(e) => {
                errs.push(format!(
                    "    expr: {}, time: {shown_time}, err: {e}",
                    go_quote(&test.expr)
                ));
                continue;
            }
        };
        let mut got: Vec<ParsedSample> = got
            .into_iter()
            .map(|s| match s.value {
                SampleValue::Float(v) => ParsedSample {
                    labels: s.labels,
                    value: v,
                    histogram: String::new(),
                },
                SampleValue::Histogram(h) => ParsedSample {
                    labels: s.labels,
                    value: 0.0,
                    histogram: h.to_string(),
                },
            })
            .collect();
        let mut exp = Vec::new();
        for s in &test.exp_samples {
            let metric = if s.labels.trim().is_empty() {
                Ok(Labels::empty())
            } else {
                parse_series(&s.labels)
                    .map(|d| d.labels)
                    .map_err(|e| e.to_string())
            };
            let parsed = metric.and_then(|labels| {
                if s.histogram.is_empty() {
                    return Ok((labels, String::new()));
                }
                let h =
                    parse_series(&format!("{{}} {}", s.histogram)).map_err(|e| e.to_string())?;
                match h.values.as_slice() {
                    [SeqValue::Histogram { histogram, .. }] => Ok((labels, histogram.to_string())),
                    [other] => Err(format!("expected histogram, got {other:?}")),
                    values => Err(format!("expected 1 value, got {}", values.len())),
                }
            });
            match parsed {
                Ok((labels, histogram)) => exp.push(ParsedSample {
                    labels,
                    value: s.value,
                    histogram,
                }),
                Err(e) => {
                    errs.push(format!(
                        "    expr: {}, time: {shown_time}, err: labels {}: {e}",
                        go_quote(&test.expr),
                        go_quote(&s.labels)
                    ));
                    continue 'tests;
                }
            }
        }
        exp.sort_by(|a, b| a.labels.cmp(&b.labels));
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        let equal = exp.len() == got.len()
            && exp.iter().zip(&got).all(|(e, g)| {
                e.labels == g.labels
                    && e.histogram == g.histogram
                    && floats_equal(e.value, g.value, file.fuzzy_compare)
            });
        if !equal {
            errs.push(format!(
                "    expr: {}, time: {shown_time},\n        exp: {}\n        got: {}",
                go_quote(&test.expr),
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    if options.debug {
        debug.extend(dump_all(&engine, &storage, mint, max_eval));
    }
    errs
}

/// promtool's `--debug` dump: every series (input and rule outputs) from the
/// group's start to past its last `eval_time`, as Go prints a matrix.
fn dump_all(engine: &Engine, storage: &MemoryStorage, mint: i64, max_eval: i64) -> Vec<String> {
    // Whole seconds past the last eval_time: a range cannot be fractional.
    let span_ms = max_eval
        .div_euclid(1000)
        .saturating_add(1)
        .saturating_mul(1000);
    let span = format_go_duration(span_ms.saturating_mul(1_000_000));
    let text = format!("{{__name__=~\".+\"}}[{span}]");
    let expr = match crate::parser::parse(&text) {
        Ok(e) => e,
        Err(e) => {
            return vec![format!(
                "DEBUG: Failed querying, expr: {}, err: {e}",
                go_quote(&text)
            )];
        }
    };
    match engine.instant(storage, &expr, mint.saturating_add(span_ms)) {
        Ok(result) => match result.value {
            crate::model::Value::Matrix(series) => vec![
                format!("DEBUG: Dump of all data (input_series and rules) at {span}:"),
                series
                    .iter()
                    .map(series_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ],
            other => vec![format!("DEBUG: Got unexpected type {}", other.value_type())],
        },
        Err(e) => vec![format!(
            "DEBUG: Failed query exec, expr: {}, err: {e}",
            go_quote(&text)
        )],
    }
}

/// Go's `promql.Series.String()`: the labels, ` =>`, then one `value @[ms]`
/// line per float point and per histogram point.
fn series_string(s: &crate::model::Series) -> String {
    let floats = s
        .floats
        .iter()
        .map(|p| format!("{} @[{}]", format_go_f(p.v), p.t));
    let hists = s
        .histograms
        .iter()
        .map(|p| format!("{} @[{}]", p.h.go_string(), p.t));
    let points: Vec<String> = floats.chain(hists).collect();
    format!("{} =>\n{}", labels_string(&s.labels), points.join("\n"))
}
