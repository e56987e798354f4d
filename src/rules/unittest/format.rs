//! The rule unit-test file format (`promtool test rules`), decoded strictly
//! like promtool: unknown fields are errors.

use crate::rules::duration::parse_duration;
use crate::rules::yaml::{Node, NodeKind, parse_first_document};

/// A whole test file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestFile {
    /// `rule_files:` as written (relative to the test file).
    pub rule_files: Vec<String>,
    /// `evaluation_interval:`, milliseconds (0 when absent).
    pub evaluation_interval_ms: i64,
    /// `group_eval_order:`.
    pub group_eval_order: Vec<String>,
    /// `tests:`.
    pub tests: Vec<TestGroup>,
    /// `fuzzy_compare:`: floats one ULP apart are equal.
    pub fuzzy_compare: bool,
}

/// One entry of `tests:`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestGroup {
    /// `interval:`, milliseconds (0: the evaluation interval).
    pub interval_ms: i64,
    /// `input_series:` as `(series, values)`.
    pub input_series: Vec<(String, String)>,
    /// `alert_rule_test:`.
    pub alert_rule_tests: Vec<AlertTestCase>,
    /// `promql_expr_test:`.
    pub promql_expr_tests: Vec<PromqlTestCase>,
    /// `external_labels:`.
    pub external_labels: Vec<(String, String)>,
    /// `external_url:`.
    pub external_url: String,
    /// `name:`.
    pub name: String,
    /// `start_timestamp:` in milliseconds (0 when absent).
    pub start_timestamp_ms: i64,
}

/// Label or annotation pairs, in file order.
pub type Pairs = Vec<(String, String)>;

/// One `alert_rule_test` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertTestCase {
    /// `eval_time:`, milliseconds.
    pub eval_time_ms: i64,
    /// `alertname:`.
    pub alertname: String,
    /// `exp_alerts:` as `(labels, annotations)`.
    pub exp_alerts: Vec<(Pairs, Pairs)>,
}

/// One `promql_expr_test` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PromqlTestCase {
    /// `expr:`.
    pub expr: String,
    /// `eval_time:`, milliseconds.
    pub eval_time_ms: i64,
    /// `exp_samples:`.
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpSample {
    /// `labels:` in series notation (`metric{a="b"}`).
    pub labels: String,
    /// `value:`.
    pub value: f64,
    /// `histogram:` (series notation); when set, `value` is ignored.
    pub histogram: String,
}

struct Decoder {
    errors: Vec<String>,
}

fn scalar(node: &Node) -> Option<&str> {
    node.as_scalar().map(|s| s.value.as_str())
}

impl Decoder {
    fn type_error(&mut self, node: &Node, want: &str) {
        let shown = scalar(node).map_or_else(|| "!!seq or !!map".to_string(), |s| format!("`{s}`"));
        self.errors.push(format!(
            "line {}: cannot unmarshal {} into {want}",
            node.pos.line, shown
        ));
    }

    fn string(&mut self, node: &Node) -> String {
        if node.is_null() {
            return String::new();
        }
        match scalar(node) {
            Some(s) => s.to_string(),
            None => {
                self.type_error(node, "string");
                String::new()
            }
        }
    }

    fn duration(&mut self, node: &Node) -> i64 {
        let text = self.string(node);
        if text.is_empty() {
            return 0;
        }
        match parse_duration(&text) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => {
                self.errors.push(e.to_string());
                0
            }
        }
    }

    fn list<T>(&mut self, node: &Node, mut item: impl FnMut(&mut Self, &Node) -> T) -> Vec<T> {
        match &node.kind {
            NodeKind::Sequence(items) => items.iter().map(|n| item(self, n)).collect(),
            _ if node.is_null() => Vec::new(),
            _ => {
                self.type_error(node, "[]");
                Vec::new()
            }
        }
    }

    fn string_map(&mut self, node: &Node) -> Vec<(String, String)> {
        if node.is_null() {
            return Vec::new();
        }
        if !matches!(node.kind, NodeKind::Mapping(_)) {
            self.type_error(node, "map[string]string");
            return Vec::new();
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in node.entries() {
            let key = self.string(k);
            let value = self.string(v);
            match out.iter_mut().find(|(n, _)| *n == key) {
                Some(slot) => slot.1 = value,
                None => out.push((key, value)),
            }
        }
        out
    }

    /// Calls `field` for every key of mapping `node`; unknown keys are errors.
    fn fields(
        &mut self,
        node: &Node,
        type_name: &str,
        known: &[&str],
        mut field: impl FnMut(&mut Self, &str, &Node),
    ) {
        if node.is_null() {
            return;
        }
        if !matches!(node.kind, NodeKind::Mapping(_)) {
            self.type_error(node, type_name);
            return;
        }
        for (k, v) in node.entries() {
            let key = scalar(k).unwrap_or_default().to_string();
            if known.contains(&key.as_str()) {
                field(self, &key, v);
            } else {
                self.errors.push(format!(
                    "line {}: field {key} not found in type {type_name}",
                    k.pos.line
                ));
            }
        }
    }

    fn float(&mut self, node: &Node) -> f64 {
        let text = self.string(node);
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            ".nan" => f64::NAN,
            ".inf" | "+.inf" => f64::INFINITY,
            "-.inf" => f64::NEG_INFINITY,
            _ => match text.replace('_', "").parse::<f64>() {
                Ok(v) if !lower.contains("nan") && !lower.contains("inf") => v,
                _ => {
                    self.type_error(node, "float64");
                    0.0
                }
            },
        }
    }

    fn timestamp(&mut self, node: &Node) -> i64 {
        let text = self.string(node);
        if text.is_empty() {
            return 0;
        }
        if let Ok(secs) = text.parse::<f64>() {
            return (secs * 1000.0).round() as i64;
        }
        match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(t) => t.timestamp_millis(),
            Err(_) => {
                self.errors
                    .push(format!("cannot parse {text:?} to a valid timestamp"));
                0
            }
        }
    }

    fn test_group(&mut self, node: &Node) -> TestGroup {
        let mut g = TestGroup::default();
        let known = [
            "interval",
            "input_series",
            "alert_rule_test",
            "promql_expr_test",
            "external_labels",
            "external_url",
            "name",
            "start_timestamp",
        ];
        self.fields(node, "main.testGroup", &known, |d, key, v| match key {
            "interval" => g.interval_ms = d.duration(v),
            "input_series" => {
                g.input_series = d.list(v, |d, n| {
                    let mut s = (String::new(), String::new());
                    d.fields(n, "main.series", &["series", "values"], |d, key, v| {
                        if key == "series" {
                            s.0 = d.string(v);
                        } else {
                            s.1 = d.string(v);
                        }
                    });
                    s
                })
            }
            "alert_rule_test" => g.alert_rule_tests = d.list(v, Decoder::alert_test),
            "promql_expr_test" => g.promql_expr_tests = d.list(v, Decoder::promql_test),
            "external_labels" => g.external_labels = d.string_map(v),
            "external_url" => g.external_url = d.string(v),
            "name" => g.name = d.string(v),
            _ => g.start_timestamp_ms = d.timestamp(v),
        });
        g
    }

    fn alert_test(&mut self, node: &Node) -> AlertTestCase {
        let mut t = AlertTestCase::default();
        let known = ["eval_time", "alertname", "exp_alerts"];
        self.fields(node, "main.alertTestCase", &known, |d, key, v| match key {
            "eval_time" => t.eval_time_ms = d.duration(v),
            "alertname" => t.alertname = d.string(v),
            _ => {
                t.exp_alerts = d.list(v, |d, n| {
                    let mut a = (Vec::new(), Vec::new());
                    let known = ["exp_labels", "exp_annotations"];
                    d.fields(n, "main.alert", &known, |d, key, v| {
                        if key == "exp_labels" {
                            a.0 = d.string_map(v);
                        } else {
                            a.1 = d.string_map(v);
                        }
                    });
                    a
                })
            }
        });
        t
    }

    fn promql_test(&mut self, node: &Node) -> PromqlTestCase {
        let mut t = PromqlTestCase::default();
        let known = ["expr", "eval_time", "exp_samples"];
        self.fields(node, "main.promqlTestCase", &known, |d, key, v| match key {
            "expr" => t.expr = d.string(v),
            "eval_time" => t.eval_time_ms = d.duration(v),
            _ => {
                t.exp_samples = d.list(v, |d, n| {
                    let mut s = ExpSample::default();
                    let known = ["labels", "value", "histogram"];
                    d.fields(n, "main.sample", &known, |d, key, v| match key {
                        "labels" => s.labels = d.string(v),
                        "value" => s.value = d.float(v),
                        _ => s.histogram = d.string(v),
                    });
                    s
                })
            }
        });
        t
    }
}

/// Decodes a test file; the error is promtool's text (`yaml: ...`).
pub fn parse_test_file(text: &str) -> Result<TestFile, String> {
    let doc = parse_first_document(text).map_err(|e| e.to_string())?;
    let mut file = TestFile::default();
    let Some(root) = doc.root else {
        return Ok(file);
    };
    let mut d = Decoder { errors: Vec::new() };
    let known = [
        "rule_files",
        "evaluation_interval",
        "group_eval_order",
        "tests",
        "fuzzy_compare",
    ];
    d.fields(&root, "main.unitTestFile", &known, |d, key, v| match key {
        "rule_files" => file.rule_files = d.list(v, Decoder::string),
        "evaluation_interval" => file.evaluation_interval_ms = d.duration(v),
        "group_eval_order" => file.group_eval_order = d.list(v, Decoder::string),
        "tests" => file.tests = d.list(v, Decoder::test_group),
        _ => file.fuzzy_compare = d.string(v) == "true",
    });
    if d.errors.is_empty() {
        Ok(file)
    } else if d.errors.iter().all(|e| e.starts_with("line ")) {
        Err(format!(
            "yaml: unmarshal errors:\n  {}",
            d.errors.join("\n  ")
        ))
    } else {
        Err(d.errors.join("\n"))
    }
}
