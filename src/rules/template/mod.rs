//! Go text/template: lexer, parser and execution ([`exec`]).
//!
//! Prometheus writes alert labels and annotations as Go templates
//! (`{{ $labels.instance }}`, `{{ $value | humanize }}`). This module parses
//! them into a tree ([`ast`]) with Go's parse-time checks and messages, e.g.
//! `template: __alert_X:1: undefined variable "$label"`.
//!
//! ```
//! use promql_engine::rules::template::parse_alert_template;
//!
//! assert!(parse_alert_template("HighLoad", "{{ $labels.instance }} is at {{ $value | humanize }}").is_ok());
//! let err = parse_alert_template("InstanceDown", "{{ $label.foo }}").unwrap_err();
//! assert_eq!(err.to_string(), r#"template: __alert_InstanceDown:1: undefined variable "$label""#);
//! ```

pub mod ast;
pub mod exec;
pub mod funcs;
pub mod gofmt;
pub mod lexer;
mod parse;
pub mod value;

pub use ast::Template;
pub use parse::{ParseConfig, parse_template, unquote};

/// A template parse error. `Display` gives Go's text:
/// `template: NAME:LINE: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct TemplateError {
    /// The template's name.
    pub name: String,
    /// 1-based line of the problem.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

/// Functions every Go template has.
pub const BUILTIN_FUNCTIONS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Functions Prometheus adds for alert and console templates.
pub const PROMETHEUS_FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "now",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "urlQueryEscape",
];

/// Variables Prometheus defines before an alert's label and annotation templates.
pub const ALERT_VARIABLES: &[&str] = &["$labels", "$externalLabels", "$externalURL", "$value"];

/// Whether `name` is a builtin or Prometheus template function.
pub fn is_prometheus_function(name: &str) -> bool {
    BUILTIN_FUNCTIONS.contains(&name) || PROMETHEUS_FUNCTIONS.contains(&name)
}

/// Parses a label or annotation template of alert `alert_name` as Prometheus
/// does: named `__alert_<name>`, with [`ALERT_VARIABLES`] in scope and the
/// Prometheus function set.
pub fn parse_alert_template(alert_name: &str, text: &str) -> Result<Template, TemplateError> {
    let config = ParseConfig {
        has_function: &is_prometheus_function,
        predeclared: ALERT_VARIABLES,
    };
    parse_template(&format!("__alert_{alert_name}"), text, &config)
}

#[cfg(test)]
mod tests {
    use super::ast::{Arg, Node};
    use super::*;

    fn err(text: &str) -> String {
        parse_alert_template("A", text).unwrap_err().to_string()
    }

    fn ok(text: &str) -> Template {
        parse_alert_template("A", text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn accepts_common_alert_templates() {
        ok("{{ $labels.instance }} of job {{ $labels.job }} has been down");
        ok("{{ $value | humanize }}");
        ok("{{ printf \"%.2f\" $value }}%");
        ok("{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}");
        ok("{{ range $i, $e := $labels }}{{ $i }}={{ $e }}{{ else }}none{{ end }}");
        ok("{{ if gt $value 1.0 }}big{{ else if lt $value 0.5 }}small{{ else }}mid{{ end }}");
        ok("{{- /* comment */ -}} {{ $.labels.service }}");
        ok("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}");
        ok("{{ range . }}{{ if . }}{{ break }}{{ end }}{{ continue }}{{ end }}");
        ok("{{ define \"t\" }}x{{ end }}{{ template \"t\" . }}");
        ok("{{ (index $labels \"a\").b }} {{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ `raw` }}");
        ok("{{ $labels.instance\n}}");
    }

    #[test]
    fn displays_like_go_and_reparses() {
        let cases = [
            ("a {{- $value | humanize -}} b", "a{{$value | humanize}}b"),
            (
                "{{ if gt $value 1.0 }}x{{ else if lt $value 0.5 }}y{{ end }}",
                "{{if gt $value 1.0}}x{{else}}{{if lt $value 0.5}}y{{end}}{{end}}",
            ),
            (
                "{{ range $k, $v := $labels }}{{ $k }}={{ $v }}{{ end }}",
                "{{range $k, $v := $labels}}{{$k}}={{$v}}{{end}}",
            ),
            ("{{ (index $labels `a`).b }}", "{{(index $labels \"a\").b}}"),
            (
                "{{ define \"t\" }}T{{ end }}{{ template \"t\" . }}",
                "{{define \"t\"}}T{{end}}{{template \"t\" .}}",
            ),
            (
                "{{/* c */}}{{ $x := 1 }}{{ $x = 2 }}",
                "{{/* c */}}{{$x := 1}}{{$x = 2}}",
            ),
        ];
        for (input, shown) in cases {
            let text = ok(input).to_string();
            assert_eq!(text, shown, "{input}");
            assert_eq!(ok(&text).to_string(), text, "reparse of {input}");
        }
    }

    #[test]
    fn builds_a_tree() {
        let template = ok("a{{ $value | humanize }}");
        assert_eq!(template.root.nodes.len(), 2);
        let Node::Action(pipe) = &template.root.nodes[1] else {
            panic!("expected an action")
        };
        assert_eq!(pipe.commands.len(), 2);
        assert_eq!(
            pipe.commands[0].args,
            vec![Arg::Variable {
                name: "$value".into(),
                fields: vec![]
            }]
        );
        assert_eq!(
            pipe.commands[1].args,
            vec![Arg::Function("humanize".into())]
        );
    }

    #[test]
    fn scopes_follow_go() {
        // Range variables end with the range...
        assert_eq!(
            err("{{ range $i, $e := . }}{{ $i }}{{ end }}{{ $i }}"),
            "template: __alert_A:1: undefined variable \"$i\""
        );
        // ...but are visible in its else branch.
        ok("{{ with $x := 1 }}{{ $x }}{{ else }}{{ $x }}{{ end }}");
        // Definitions start with only `$`.
        assert_eq!(
            err("{{ define \"t\" }}{{ $labels }}{{ end }}"),
            "template: __alert_A:1: undefined variable \"$labels\""
        );
        // `break` is fine anywhere inside a range, also nested in `if`.
        ok("{{ range . }}{{ if . }}{{ break }}{{ end }}{{ end }}");
        assert_eq!(
            err("{{ range . }}{{ define \"x\" }}{{ end }}{{ end }}"),
            "template: __alert_A:1: unexpected <define> in command"
        );
    }

    #[test]
    fn else_if_chains_nest() {
        let template = ok("{{ if 1 }}a{{ else if 2 }}b{{ else }}c{{ end }}");
        let Some(Node::If(outer)) = template.root.nodes.first() else {
            panic!("expected if")
        };
        let else_list = outer.else_list.as_ref().expect("else branch");
        let Some(Node::If(inner)) = else_list.nodes.first() else {
            panic!("expected nested if")
        };
        assert!(inner.else_list.is_some());
        ok("{{ with .a }}x{{ else with .b }}y{{ end }}");
    }

    #[test]
    fn multi_line_errors_name_the_action_start() {
        assert_eq!(
            err("{{ $labels\n.x"),
            "template: __alert_A:2: unclosed action started at __alert_A:1"
        );
        assert_eq!(
            err("a\nb\n{{ $value | nope }}"),
            "template: __alert_A:3: function \"nope\" not defined"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(50), ")".repeat(50));
        ok(&parens);
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(
            err(&parens),
            "template: __alert_A:1: max expression depth exceeded"
        );
        let ifs = format!(
            "{}{}",
            "{{ if 1 }}".repeat(10_000),
            "{{ end }}".repeat(10_000)
        );
        assert!(err(&ifs).contains("exceeded max nesting depth"));
    }

    #[test]
    fn errors_are_reported_at_the_furthest_line_read() {
        // Go reports the line of the last token read, look-ahead included.
        assert_eq!(
            err("{{ if 1 }}\n\n"),
            "template: __alert_A:3: unexpected EOF"
        );
        assert_eq!(
            err("{{ $nope\n}}"),
            "template: __alert_A:2: undefined variable \"$nope\""
        );
    }

    #[test]
    fn definitions_may_not_clash() {
        ok("{{ define \"t\" }} {{ end }}{{ define \"t\" }}x{{ end }}");
        ok("{{ define \"t\" }}x{{ end }}{{ define \"t\" }}{{/* c */}}{{ end }}");
        assert_eq!(
            err("{{ define \"t\" }}x{{ end }}{{ define \"t\" }}y{{ end }}"),
            "template: __alert_A:1: template: multiple definition of template \"t\""
        );
        assert_eq!(
            err("{{ define \"__alert_A\" }}x{{ end }}body"),
            "template: __alert_A:1: template: multiple definition of template \"__alert_A\""
        );
    }

    #[test]
    fn complex_and_odd_numbers() {
        ok("{{ 1+2i }} {{ 0b101 }} {{ 0o17 }} {{ 1_000 }} {{ 0x1p-2 }}");
        assert_eq!(
            err("{{ 08 }}"),
            "template: __alert_A:1: integer overflow: \"08\""
        );
        ok("{{ 18446744073709551615 }}");
        assert_eq!(
            err("{{ 'ab' }}"),
            "template: __alert_A:1: malformed character constant: 'ab'"
        );
        assert_eq!(err("{{ '\\q' }}"), "template: __alert_A:1: invalid syntax");
        assert_eq!(
            err("{{ '\\nq' }}"),
            "template: __alert_A:1: malformed character constant: '\\nq'"
        );
        ok("{{ '\\x41' }}{{ '\\u00e9' }}{{ '\\101' }}{{ '\\'' }}");
        assert_eq!(
            err("{{ 18446744073709551616 }}"),
            "template: __alert_A:1: integer overflow: \"18446744073709551616\""
        );
        assert_eq!(
            err("{{ 1e }}"),
            "template: __alert_A:1: illegal number syntax: \"1e\""
        );
    }

    #[test]
    fn reports_go_errors() {
        assert_eq!(
            err("{{ $label.foo }}"),
            "template: __alert_A:1: undefined variable \"$label\""
        );
        assert_eq!(
            err("x\n{{ nope 1 }}"),
            "template: __alert_A:2: function \"nope\" not defined"
        );
        assert_eq!(
            err("{{ end }}"),
            "template: __alert_A:1: unexpected {{end}}"
        );
        assert_eq!(
            err("{{ else }}"),
            "template: __alert_A:1: unexpected {{else}}"
        );
        assert_eq!(err("{{ if 1 }}"), "template: __alert_A:1: unexpected EOF");
        assert_eq!(
            err("{{ if }}{{ end }}"),
            "template: __alert_A:1: missing value for if"
        );
        assert_eq!(
            err("{{ }}"),
            "template: __alert_A:1: missing value for command"
        );
        assert_eq!(err("{{ .x"), "template: __alert_A:1: unclosed action");
        assert_eq!(
            err("{{ break }}"),
            "template: __alert_A:1: {{break}} outside {{range}}"
        );
        assert_eq!(
            err("{{ 1 | 2 }}"),
            "template: __alert_A:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            err("{{ \"a\".b }}"),
            "template: __alert_A:1: unexpected . after term \"\\\"a\\\"\""
        );
        assert_eq!(
            err("{{ if 1 }}{{ else }}{{ else }}{{ end }}"),
            "template: __alert_A:1: expected end; found {{else}}"
        );
        assert_eq!(
            err("{{ .a }"),
            "template: __alert_A:1: unexpected \"}\" in operand"
        );
        assert_eq!(
            err("{{ if 1 }}{{ $y := 1 }}{{ end }}{{ $y }}"),
            "template: __alert_A:1: undefined variable \"$y\""
        );
        assert_eq!(
            err("{{ range $a, $b, $c := . }}{{ end }}"),
            "template: __alert_A:1: too many declarations in range"
        );
    }
}
