//! Executing a parsed template with Go text/template semantics.
//!
//! ```
//! use promql_engine::rules::template::{parse_alert_template, exec::{AlertData, Expander}};
//!
//! let text = "{{ $labels.instance }} at {{ $value | humanize }}";
//! let tmpl = parse_alert_template("X", text).unwrap();
//! let data = AlertData::new(&[("instance", "a:80")], &[], "http://x", 1234.0);
//! let out = Expander::new(0).expand_alert(&tmpl, text, &data).unwrap();
//! assert_eq!(out, "a:80 at 1.234k");
//! ```

use super::ast::{Arg, Branch, Command, List, Node, Pipeline, Template, TemplatePos};
use super::funcs::call_function;
use super::value::TValue;

/// Most nested template calls and control structures during one execution.
pub const MAX_EXEC_DEPTH: usize = 100;

/// Largest output one execution may produce, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// Most `range` iterations one execution may run (all loops together).
pub const MAX_RANGE_ITERATIONS: usize = 1_000_000;

/// Length Prometheus' variable definitions add before the first line of an
/// alert template (`{{$labels := .Labels}}{{$externalLabels := ...}}...`).
pub const ALERT_PREFIX_LEN: usize = 112;

/// One sample of a `query` result.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    /// Labels including `__name__`.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Runs a PromQL query for the `query` template function.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<Vec<QuerySample>, String> + 'a;

/// A template execution error, worded like Go's:
/// `template: NAME:LINE:COL: executing "NAME" at <node>: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// The data of an alert's label and annotation templates.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertData {
    /// `$labels`.
    pub labels: Vec<(String, String)>,
    /// `$externalLabels`.
    pub external_labels: Vec<(String, String)>,
    /// `$externalURL`.
    pub external_url: String,
    /// `$value`.
    pub value: f64,
}

impl AlertData {
    /// Builds alert data from borrowed pairs.
    pub fn new(
        labels: &[(&str, &str)],
        external_labels: &[(&str, &str)],
        external_url: &str,
        value: f64,
    ) -> Self {
        let own = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect()
        };
        AlertData {
            labels: own(labels),
            external_labels: own(external_labels),
            external_url: external_url.to_string(),
            value,
        }
    }

    fn to_value(&self) -> TValue {
        let map = |p: &[(String, String)]| {
            TValue::label_map(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        };
        TValue::Struct(vec![
            ("Labels".into(), map(&self.labels)),
            ("ExternalLabels".into(), map(&self.external_labels)),
            ("ExternalURL".into(), TValue::Str(self.external_url.clone())),
            ("Value".into(), TValue::Float(self.value)),
        ])
    }
}

/// Settings for expanding templates: evaluation time, external URL and the
/// query callback.
pub struct Expander<'q> {
    /// Evaluation time in milliseconds (`now`).
    pub timestamp_ms: i64,
    /// `externalURL` / `pathPrefix`.
    pub external_url: String,
    /// Runs `query`; without it `query` fails.
    pub query: Option<&'q QueryFn<'q>>,
}

impl std::fmt::Debug for Expander<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expander")
            .field("timestamp_ms", &self.timestamp_ms)
            .field("external_url", &self.external_url)
            .field("query", &self.query.is_some())
            .finish()
    }
}

impl<'q> Expander<'q> {
    /// An expander at `timestamp_ms` without query support.
    pub fn new(timestamp_ms: i64) -> Self {
        Expander {
            timestamp_ms,
            external_url: String::new(),
            query: None,
        }
    }

    /// Expands an alert label or annotation template (parsed with
    /// [`super::parse_alert_template`]) the way Prometheus does.
    pub fn expand_alert(
        &self,
        template: &Template,
        source: &str,
        data: &AlertData,
    ) -> Result<String, ExecError> {
        let root = data.to_value();
        let field = |name: &str| match &root {
            TValue::Struct(fields) => fields
                .iter()
                .find(|(n, _)| n == name)
                .map_or(TValue::Nil, |(_, v)| v.clone()),
            _ => TValue::Nil,
        };
        let vars = vec![
            ("$".to_string(), root.clone()),
            ("$labels".to_string(), field("Labels")),
            ("$externalLabels".to_string(), field("ExternalLabels")),
            ("$externalURL".to_string(), field("ExternalURL")),
            ("$value".to_string(), field("Value")),
        ];
        self.execute(template, source, ALERT_PREFIX_LEN, root, vars)
    }

    /// Executes `template` with `dot` as data and `vars` predeclared.
    /// `line1_shift` is added to columns on the first line (text Prometheus
    /// prepended before parsing).
    pub fn execute(
        &self,
        template: &Template,
        source: &str,
        line1_shift: usize,
        dot: TValue,
        vars: Vec<(String, TValue)>,
    ) -> Result<String, ExecError> {
        let mut state = State {
            expander: self,
            template,
            source,
            line1_shift,
            vars,
            out: String::new(),
            depth: 0,
            iterations: 0,
            current: template.name.clone(),
        };
        state.list(&template.root, &dot)?;
        Ok(state.out)
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a, 'q> {
    expander: &'a Expander<'q>,
    template: &'a Template,
    source: &'a str,
    line1_shift: usize,
    vars: Vec<(String, TValue)>,
    out: String,
    depth: usize,
    /// `range` iterations run so far.
    iterations: usize,
    /// Name of the template being executed (for messages).
    current: String,
}

type R<T> = Result<T, ExecError>;

impl State<'_, '_> {
    fn error_at(&self, pos: TemplatePos, node: &str, message: &str) -> ExecError {
        let before = self.source.get(..pos.offset).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let mut col = before.len() - line_start;
        if pos.line <= 1 {
            col += self.line1_shift;
        }
        ExecError(format!(
            "template: {}:{}:{}: executing \"{}\" at <{}>: {}",
            self.template.name,
            pos.line.max(1),
            col,
            self.current,
            node,
            message
        ))
    }

    fn emit(&mut self, text: &str, pos: TemplatePos) -> R<()> {
        if self.out.len() + text.len() > MAX_OUTPUT_BYTES {
            return Err(self.error_at(
                pos,
                "",
                &format!("template output exceeds {MAX_OUTPUT_BYTES} bytes"),
            ));
        }
        self.out.push_str(text);
        Ok(())
    }

    fn enter(&mut self, pos: TemplatePos) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_EXEC_DEPTH {
            return Err(self.error_at(
                pos,
                "",
                &format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})"),
            ));
        }
        Ok(())
    }

    fn list(&mut self, list: &List, dot: &TValue) -> R<Flow> {
        for node in &list.nodes {
            match self.node(node, dot)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, node: &Node, dot: &TValue) -> R<Flow> {
        match node {
            Node::Text { text, pos } => self.emit(text, *pos)?,
            Node::Comment { .. } => {}
            Node::Action(pipe) => {
                let value = self.pipeline(pipe, dot)?;
                if pipe.declarations.is_empty() {
                    let text = value.to_go_string();
                    self.emit(&text, pipe.pos)?;
                }
            }
            Node::If(branch) => return self.branch(branch, dot, false),
            Node::With(branch) => return self.branch(branch, dot, true),
            Node::Range(branch) => return self.range(branch, dot),
            Node::TemplateCall { name, pipe, pos } => {
                let arg = match pipe {
                    Some(p) => self.pipeline(p, dot)?,
                    None => TValue::Nil,
                };
                self.call_template(name, arg, *pos)?;
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn call_template(&mut self, name: &str, arg: TValue, pos: TemplatePos) -> R<()> {
        let body = if let Some(def) = self.template.definitions.iter().find(|d| d.name == name) {
            &def.body
        } else if name == self.template.name {
            &self.template.root
        } else {
            return Err(self.error_at(
                pos,
                &format!("template {}", super::lexer::go_quote(name)),
                &format!("template \"{name}\" not defined"),
            ));
        };
        self.enter(pos)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), arg.clone())]);
        let saved_name = std::mem::replace(&mut self.current, name.to_string());
        let result = self.list(body, &arg);
        self.vars = saved_vars;
        self.current = saved_name;
        self.depth -= 1;
        result.map(|_| ())
    }

    fn branch(&mut self, branch: &Branch, dot: &TValue, is_with: bool) -> R<Flow> {
        self.enter(branch.pipe.pos)?;
        let mark = self.vars.len();
        let value = self.pipeline(&branch.pipe, dot)?;
        let result = if value.truthy() {
            let new_dot = if is_with { value } else { dot.clone() };
            self.list(&branch.list, &new_dot)
        } else if let Some(else_list) = &branch.else_list {
            self.list(else_list, dot)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        result
    }

    fn range(&mut self, branch: &Branch, dot: &TValue) -> R<Flow> {
        self.enter(branch.pipe.pos)?;
        let mark = self.vars.len();
        // The range pipeline declares its variables itself, per element.
        let mut pipe = branch.pipe.clone();
        let decls = std::mem::take(&mut pipe.declarations);
        let source = self.pipeline(&pipe, dot)?;
        let items: Box<dyn Iterator<Item = (TValue, TValue)>> = match source {
            TValue::List(items) => Box::new(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (TValue::Int(i64::try_from(i).unwrap_or(i64::MAX)), v)),
            ),
            TValue::Map { entries, .. } => {
                Box::new(entries.into_iter().map(|(k, v)| (TValue::Str(k), v)))
            }
            TValue::Int(n) => Box::new((0..n.max(0)).map(|i| (TValue::Int(i), TValue::Int(i)))),
            TValue::Nil => Box::new(std::iter::empty()),
            other => {
                return Err(self.error_at(
                    branch.pipe.pos,
                    &branch.pipe.to_string(),
                    &format!("range can't iterate over {}", other.to_go_string()),
                ));
            }
        };
        let mut items = items.peekable();
        let mut result = Ok(Flow::Normal);
        if items.peek().is_none() {
            if let Some(else_list) = &branch.else_list {
                result = self.list(else_list, dot);
            }
        }
        for (key, elem) in items {
            self.iterations += 1;
            if self.iterations > MAX_RANGE_ITERATIONS {
                result = Err(self.error_at(
                    branch.pipe.pos,
                    &branch.pipe.to_string(),
                    &format!("more than {MAX_RANGE_ITERATIONS} range iterations"),
                ));
                break;
            }
            self.vars.truncate(mark);
            match decls.as_slice() {
                [] => {}
                [v] => self.vars.push((v.clone(), elem.clone())),
                [k, v, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), elem.clone()));
                }
            }
            match self.list(&branch.list, &elem) {
                Ok(Flow::Break) => break,
                Ok(_) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        result.map(|_| Flow::Normal)
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &TValue) -> R<TValue> {
        let mut value: Option<TValue> = None;
        for command in &pipe.commands {
            value = Some(self.command(command, dot, value)?);
        }
        let value = value.unwrap_or(TValue::Nil);
        for name in &pipe.declarations {
            if pipe.is_assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(&mut self, command: &Command, dot: &TValue, last: Option<TValue>) -> R<TValue> {
        let Some(first) = command.args.first() else {
            return Ok(TValue::Nil);
        };
        if let Arg::Function(name) = first {
            return self.function(name, &command.args[1..], dot, last, command.pos);
        }
        if command.args.len() > 1 || last.is_some() {
            return Err(self.error_at(
                command.pos,
                &first.to_string(),
                &format!("can't give argument to non-function {first}"),
            ));
        }
        self.arg(first, dot, command.pos)
    }

    fn function(
        &mut self,
        name: &str,
        args: &[Arg],
        dot: &TValue,
        last: Option<TValue>,
        pos: TemplatePos,
    ) -> R<TValue> {
        // `and` / `or` stop at the first deciding operand.
        if name == "and" || name == "or" {
            let count = args.len() + usize::from(last.is_some());
            if count == 0 {
                return Err(self.error_at(
                    pos,
                    name,
                    &format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut value = TValue::Nil;
            for arg in args {
                value = self.arg(arg, dot, pos)?;
                if value.truthy() == (name == "or") {
                    return Ok(value);
                }
            }
            if let Some(last) = last {
                value = last;
            }
            return Ok(value);
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.arg(arg, dot, pos)?);
        }
        values.extend(last);
        call_function(name, values, self.expander).map_err(|message| {
            let message = if message.starts_with("wrong number of args")
                || message.starts_with("wrong type")
            {
                message
            } else {
                format!("error calling {name}: {message}")
            };
            self.error_at(pos, name, &message)
        })
    }

    fn arg(&mut self, arg: &Arg, dot: &TValue, pos: TemplatePos) -> R<TValue> {
        match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Nil => Err(self.error_at(pos, "nil", "nil is not a command")),
            Arg::Bool(b) => Ok(TValue::Bool(*b)),
            Arg::Number(n) => {
                let text = n.text.to_ascii_lowercase();
                let floaty = !text.starts_with("0x") && !text.starts_with('\'');
                let looks_float = floaty && text.contains(['.', 'e', 'p']);
                match (n.int, n.float) {
                    (_, Some(f)) if looks_float => Ok(TValue::Float(f)),
                    (Some(i), _) => Ok(TValue::Int(i)),
                    (None, Some(f)) => Ok(TValue::Float(f)),
                    _ => Err(self.error_at(pos, &n.text, "complex numbers are not supported")),
                }
            }
            Arg::String(s) => Ok(TValue::Str(s.clone())),
            Arg::Field(fields) => self.fields(dot.clone(), fields, pos, &arg.to_string()),
            Arg::Variable { name, fields } => {
                let base = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        self.error_at(pos, name, &format!("undefined variable: {name}"))
                    })?;
                self.fields(base, fields, pos, &arg.to_string())
            }
            Arg::Function(name) => self.function(name, &[], dot, None, pos),
            Arg::Pipe(pipe) => {
                let mark = self.vars.len();
                let value = self.pipeline(pipe, dot);
                self.vars.truncate(mark);
                value
            }
            Arg::Chain { base, fields } => {
                let base = self.arg(base, dot, pos)?;
                self.fields(base, fields, pos, &arg.to_string())
            }
        }
    }

    fn fields(
        &self,
        mut value: TValue,
        fields: &[String],
        pos: TemplatePos,
        shown: &str,
    ) -> R<TValue> {
        for field in fields {
            value = match value {
                TValue::Map { entries, missing } => entries.get(field).cloned().unwrap_or(*missing),
                TValue::Struct(items) => {
                    let type_name = TValue::Struct(Vec::new()).type_name();
                    match items.into_iter().find(|(n, _)| n == field) {
                        Some((_, v)) => v,
                        None => {
                            return Err(self.error_at(
                                pos,
                                shown,
                                &format!("can't evaluate field {field} in type {type_name}"),
                            ));
                        }
                    }
                }
                TValue::Sample { labels, value } => match field.as_str() {
                    "Labels" => {
                        TValue::label_map(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    }
                    "Value" => TValue::Float(value),
                    _ => {
                        return Err(self.error_at(
                            pos,
                            shown,
                            &format!("can't evaluate field {field} in type *template.sample"),
                        ));
                    }
                },
                TValue::Nil => {
                    return Err(self.error_at(
                        pos,
                        shown,
                        &format!("nil pointer evaluating interface {{}}.{field}"),
                    ));
                }
                other => {
                    return Err(self.error_at(
                        pos,
                        shown,
                        &format!("can't evaluate field {field} in type {}", other.type_name()),
                    ));
                }
            };
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::template::parse_alert_template;

    fn run(text: &str, value: f64) -> Result<String, ExecError> {
        let tmpl = parse_alert_template("T", text).map_err(|e| ExecError(e.to_string()))?;
        let data = AlertData::new(
            &[("instance", "a2:8080"), ("job", "app")],
            &[("cluster", "eu1")],
            "http://prom:9090/p",
            value,
        );
        let query = |q: &str| -> Result<Vec<QuerySample>, String> {
            if q == "bad" {
                return Err("parse error".into());
            }
            Ok(vec![
                QuerySample {
                    labels: vec![("x".into(), "2".into())],
                    value: 7.0,
                },
                QuerySample {
                    labels: vec![("x".into(), "1".into())],
                    value: 9.0,
                },
            ])
        };
        let mut expander = Expander::new(60_000);
        expander.external_url = "http://prom:9090/p".into();
        expander.query = Some(&query);
        expander.expand_alert(&tmpl, text, &data)
    }

    fn ok(text: &str, value: f64) -> String {
        run(text, value).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn variables_and_printing() {
        assert_eq!(
            ok("{{ $labels.instance }} {{ $labels.nope }}|", 1.0),
            "a2:8080 |"
        );
        assert_eq!(ok("{{ $value }}", 4294967296.0), "4.294967296e+09");
        assert_eq!(
            ok("{{ $externalLabels.cluster }} {{ $externalURL }}", 0.0),
            "eu1 http://prom:9090/p"
        );
        assert_eq!(ok("{{ .Labels.job }} {{ $.Value }}", 2.5), "app 2.5");
        assert_eq!(ok("{{ $labels }}", 0.0), "map[instance:a2:8080 job:app]");
        assert_eq!(ok("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", 0.0), "2");
    }

    #[test]
    fn control_flow() {
        assert_eq!(
            ok(
                "{{ if gt $value 1.0 }}big{{ else if lt $value 0.5 }}small{{ else }}mid{{ end }}",
                0.7
            ),
            "mid"
        );
        assert_eq!(
            ok(
                "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
                0.0
            ),
            "instance=a2:8080;job=app;"
        );
        assert_eq!(
            ok("{{ with $labels.nope }}x{{ else }}none{{ end }}", 0.0),
            "none"
        );
        assert_eq!(
            ok(
                "{{ range $i, $s := query \"q\" }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $i }}:{{ .Value }}{{ end }}",
                0.0
            ),
            "0:7"
        );
        assert_eq!(
            ok(
                "{{ define \"t\" }}<{{ . }}>{{ end }}{{ template \"t\" $labels.job }}",
                0.0
            ),
            "<app>"
        );
        assert_eq!(
            ok(
                "{{ and 1 0 }} {{ or 0 \"\" \"x\" }} {{ not true }} {{ len $labels }}",
                0.0
            ),
            "0 x false 2"
        );
    }

    #[test]
    fn prometheus_functions() {
        assert_eq!(
            ok("{{ query \"q\" | sortByLabel \"x\" | first | value }}", 0.0),
            "9"
        );
        assert_eq!(
            ok(
                "{{ with query \"q\" }}{{ . | first | label \"x\" }}{{ end }}",
                0.0
            ),
            "2"
        );
        assert_eq!(
            ok(
                "{{ printf \"%.2f\" $value }} {{ $value | humanizePercentage }}",
                0.256
            ),
            "0.26 25.6%"
        );
        assert_eq!(
            ok(
                "{{ $labels.instance | stripPort }} {{ \"node1.example.com:9100\" | stripDomain }}",
                0.0
            ),
            "a2 node1:9100"
        );
        assert_eq!(
            ok(
                "{{ reReplaceAll \"(a+)\" \"<$1>\" \"caat\" }} {{ match \"^a\" \"abc\" }}",
                0.0
            ),
            "c<aa>t true"
        );
        assert_eq!(
            ok(
                "{{ 0 | humanizeTimestamp }} {{ now }} {{ pathPrefix }}",
                0.0
            ),
            "1970-01-01 00:00:00 +0000 UTC 60 /p"
        );
        assert_eq!(
            ok(
                "{{ parseDuration \"1m30s\" }} {{ 90 | toDuration }} {{ (args 1 \"a\").arg1 }}",
                0.0
            ),
            "90 1m30s a"
        );
        assert_eq!(
            ok(
                "{{ \"ab\" | toUpper }} {{ title \"hello world\" }} {{ html \"<a>\" }}",
                0.0
            ),
            "AB Hello World &lt;a&gt;"
        );
    }

    #[test]
    fn go_printing_rules() {
        assert_eq!(
            ok("{{ 1.5 }} {{ 1e3 }} {{ 3 }} {{ 0x10 }}", 0.0),
            "1.5 1000 3 16"
        );
        assert_eq!(ok("{{ print 1 2 \"a\" 3 }}", 0.0), "1 2a3");
        assert_eq!(ok("{{ \"a\" | printf \"%s-%s\" \"b\" }}", 0.0), "b-a");
        assert_eq!(ok("{{ $value | printf \"%.2f\" }}", 1.0 / 3.0), "0.33");
        assert_eq!(
            ok("{{ printf \"%v %s\" 1e21 1.5 }}", 0.0),
            "1e+21 %!s(float64=1.5)"
        );
        assert_eq!(
            ok(
                "{{ eq \"a\" \"b\" \"a\" }} {{ not 0 }} {{ len \"h\u{e9}\" }}",
                0.0
            ),
            "true true 3"
        );
        assert_eq!(
            ok(
                "{{ range $k, $v := args 1 \"x\" }}{{ $k }}={{ $v }} {{ end }}",
                0.0
            ),
            "arg0=1 arg1=x "
        );
        assert_eq!(
            ok("{{ (args).arg0 }}|{{ index $labels \"job\" }}", 0.0),
            "<no value>|app"
        );
        assert_eq!(
            ok(
                "{{ with $x := 5 }}{{ $x }}{{ end }}{{ range 3 }}{{ . }}{{ end }}",
                0.0
            ),
            "5012"
        );
        assert_eq!(ok("{{ $value }}", f64::NAN), "NaN");
    }

    #[test]
    fn slice_and_index_follow_go() {
        assert_eq!(
            ok(
                "{{ slice $labels.instance 0 2 }}|{{ slice $labels.instance 3 }}|{{ slice \"abc\" }}|{{ slice \"abc\" 3 3 }}",
                0.0
            ),
            "a2|8080|abc|"
        );
        // A query result slices as a list: one sample left, then none.
        assert_eq!(
            ok(
                "{{ len (slice (query \"q\") 1) }} {{ len (slice (query \"q\") 0 1 1) }} {{ range slice (query \"q\") 0 0 }}x{{ end }}",
                0.0
            ),
            "1 1 "
        );
        let err = |text: &str| {
            let e = run(text, 0.0).unwrap_err().to_string();
            e.split_once(": error calling ")
                .map_or(e.clone(), |(_, m)| format!("error calling {m}"))
        };
        assert_eq!(
            err("{{ slice \"abc\" 2 1 }}"),
            "error calling slice: invalid slice index: 2 > 1"
        );
        assert_eq!(
            err("{{ slice \"abc\" 0 4 }}"),
            "error calling slice: index out of range: 4"
        );
        assert_eq!(
            err("{{ slice \"abc\" -1 }}"),
            "error calling slice: index out of range: -1"
        );
        assert_eq!(
            err("{{ slice \"abc\" 1 2 3 }}"),
            "error calling slice: cannot 3-index slice a string"
        );
        assert_eq!(
            err("{{ slice (query \"q\") 0 1 0 }}"),
            "error calling slice: invalid slice index: 1 > 0"
        );
        assert_eq!(
            err("{{ slice \"abc\" 1 2 3 4 }}"),
            "error calling slice: too many slice indexes: 4"
        );
        assert_eq!(
            err("{{ slice \"abc\" 1.5 }}"),
            "error calling slice: cannot index slice/array with type float64"
        );
        assert_eq!(
            err("{{ slice \"abc\" (args).arg0 }}"),
            "error calling slice: cannot index slice/array with nil"
        );
        assert_eq!(
            err("{{ slice (args).arg0 }}"),
            "error calling slice: slice of untyped nil"
        );
        assert_eq!(
            err("{{ slice 3 }}"),
            "error calling slice: can't slice item of type int"
        );
        assert_eq!(
            err("{{ index (query \"q\") 5 }}"),
            "error calling index: index out of range: 5"
        );
        assert_eq!(
            err("{{ index (args).arg0 1 }}"),
            "error calling index: index of untyped nil"
        );
    }

    #[test]
    fn comparisons_follow_go_types() {
        let err = run("{{ gt $value 1 }}", 2.0).unwrap_err().to_string();
        assert!(
            err.ends_with("error calling gt: incompatible types for comparison"),
            "{err}"
        );
        assert_eq!(
            ok("{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ ne 1.5 1.5 }}", 0.0),
            "true true false"
        );
    }

    #[test]
    fn errors_are_go_shaped() {
        let err = run("{{ query \"bad\" }}", 0.0).unwrap_err().to_string();
        assert_eq!(
            err,
            "template: __alert_T:1:115: executing \"__alert_T\" at <query>: error calling query: parse error"
        );
        let err = run("{{ \"x\" | humanize }}", 0.0).unwrap_err().to_string();
        assert!(
            err.contains("error calling humanize: strconv.ParseFloat"),
            "{err}"
        );
        let err = run(
            "{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}",
            0.0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("exceeded maximum template depth"), "{err}");
        let err = run(
            "{{ range 100000 }}{{ range 100000 }}xxxxxxxxxxxxxxx{{ end }}{{ end }}",
            0.0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("template output exceeds"), "{err}");
        let err = run("{{ range 1000000000000 }}{{ end }}", 0.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("range iterations"), "{err}");
        assert_eq!(
            ok("{{ printf \"a%2000000d|%d\" 1 2 }}", 0.0),
            "a%!(BADWIDTH)%!(NOVERB)%!(EXTRA int=1, int=2)"
        );
        assert_eq!(
            ok("{{ printf \"%.2000000f|\" 1.0 }}", 0.0),
            "%!(NOVERB)%!(EXTRA float64=1)"
        );
        let err = run(
            "{{ first (query \"bad2\" | sortByLabel \"x\" | len) }}",
            0.0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("wrong type for value"), "{err}");
    }
}
