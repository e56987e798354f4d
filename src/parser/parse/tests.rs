//! Unit tests for the parser: tree shapes (as compact S-expressions) and
//! error messages with their positions.

use std::fmt::Write;

use crate::parser::ast::{
    AtModifier, DurationExpr, Expr, UnaryOp, VectorMatchCardinality, VectorSelector,
};
use crate::parser::{ParseOptions, parse, parse_selector, parse_with};

/// A compact rendering of a tree's structure, independent of the printer.
fn shape(e: &Expr) -> String {
    let mut out = String::new();
    write_shape(&mut out, e);
    out
}

fn write_shape(out: &mut String, e: &Expr) {
    match e {
        Expr::NumberLiteral(n) => {
            let _ = write!(out, "{}", n.value);
            if n.is_duration {
                out.push('d');
            }
        }
        Expr::StringLiteral(s) => {
            let _ = write!(out, "{:?}", s.value);
        }
        Expr::Paren(p) => {
            out.push_str("(paren ");
            write_shape(out, &p.expr);
            out.push(')');
        }
        Expr::Unary(u) => {
            out.push_str(if u.op == UnaryOp::Neg {
                "(neg "
            } else {
                "(pos "
            });
            write_shape(out, &u.expr);
            out.push(')');
        }
        Expr::Binary(b) => {
            let _ = write!(out, "({}", b.op.as_str());
            if b.return_bool {
                out.push_str(" bool");
            }
            if let Some(m) = &b.matching {
                let card = match m.card {
                    VectorMatchCardinality::OneToOne => "1:1",
                    VectorMatchCardinality::ManyToOne => "n:1",
                    VectorMatchCardinality::OneToMany => "1:n",
                    VectorMatchCardinality::ManyToMany => "n:n",
                };
                let _ = write!(out, " [{card}");
                if m.on || !m.matching_labels.is_empty() {
                    let kw = if m.on { "on" } else { "ignoring" };
                    let _ = write!(out, " {kw}{:?}", m.matching_labels);
                }
                if !m.include.is_empty() {
                    let _ = write!(out, " incl{:?}", m.include);
                }
                if let Some(v) = m.fill.lhs {
                    let _ = write!(out, " fl={v}");
                }
                if let Some(v) = m.fill.rhs {
                    let _ = write!(out, " fr={v}");
                }
                out.push(']');
            }
            out.push(' ');
            write_shape(out, &b.lhs);
            out.push(' ');
            write_shape(out, &b.rhs);
            out.push(')');
        }
        Expr::Call(c) => {
            let _ = write!(out, "({}", c.func.name);
            for a in &c.args {
                out.push(' ');
                write_shape(out, a);
            }
            out.push(')');
        }
        Expr::Aggregate(a) => {
            let _ = write!(out, "({}", a.op.as_str());
            if let Some(g) = &a.grouping {
                let kw = if g.without { "without" } else { "by" };
                let _ = write!(out, " {kw}{:?}", g.labels);
            }
            if let Some(p) = &a.param {
                out.push(' ');
                write_shape(out, p);
            }
            out.push(' ');
            write_shape(out, &a.expr);
            out.push(')');
        }
        Expr::VectorSelector(v) => write_selector(out, v),
        Expr::MatrixSelector(m) => {
            out.push_str("(range ");
            write_selector(out, &m.selector);
            let _ = write!(out, " {})", dur(&m.range));
        }
        Expr::Subquery(s) => {
            out.push_str("(subquery ");
            write_shape(out, &s.expr);
            let _ = write!(out, " {}", dur(&s.range));
            if let Some(step) = &s.step {
                let _ = write!(out, " step={}", dur(step));
            }
            modifiers(out, s.offset.as_ref(), s.at);
            out.push(')');
        }
    }
}

fn write_selector(out: &mut String, v: &VectorSelector) {
    out.push_str("(vs");
    if let Some(n) = &v.name {
        let _ = write!(out, " {n}");
    }
    for m in &v.matchers {
        let _ = write!(out, " {}{}{:?}", m.name, m.op.as_str(), m.value);
    }
    modifiers(out, v.offset.as_ref(), v.at);
    if v.anchored {
        out.push_str(" anchored");
    }
    if v.smoothed {
        out.push_str(" smoothed");
    }
    out.push(')');
}

fn modifiers(out: &mut String, offset: Option<&DurationExpr>, at: Option<AtModifier>) {
    if let Some(o) = offset {
        let _ = write!(out, " offset={}", dur(o));
    }
    match at {
        Some(AtModifier::Timestamp(ms)) => {
            let _ = write!(out, " @{ms}ms");
        }
        Some(AtModifier::Start) => out.push_str(" @start"),
        Some(AtModifier::End) => out.push_str(" @end"),
        None => {}
    }
}

fn dur(d: &DurationExpr) -> String {
    match d {
        DurationExpr::Literal(n) => format!("{}", n.value),
        DurationExpr::Step(_) => "step()".into(),
        DurationExpr::Range(_) => "range()".into(),
        DurationExpr::Unary { op, expr, .. } => format!("({} {})", op.as_str(), dur(expr)),
        DurationExpr::Binary { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.as_str(), dur(lhs), dur(rhs))
        }
        DurationExpr::MinMax { is_max, a, b, .. } => {
            let f = if *is_max { "max_of" } else { "min_of" };
            format!("({f} {} {})", dur(a), dur(b))
        }
        DurationExpr::Paren { expr, .. } => format!("[{}]", dur(expr)),
    }
}

fn check_shape(q: &str, want: &str) {
    let got = match parse_with(q, &ParseOptions::all()) {
        Ok(e) => shape(&e),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, want, "{q}");
}

#[allow(dead_code)]
fn shape_all(q: &str) -> String {
    match parse_with(q, &ParseOptions::all()) {
        Ok(e) => shape(&e),
        Err(e) => panic!("{q:?}: {e}"),
    }
}

#[test]
fn precedence_and_associativity() {
    for (q, want) in [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("1 * 2 + 3", "(+ (* 1 2) 3)"),
        (
            "a - b - c",
            "(- [1:1] (- [1:1] (vs a __name__=\"a\") (vs b __name__=\"b\")) (vs c __name__=\"c\"))",
        ),
        ("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"),
        ("-2 ^ 2", "(neg (^ 2 2))"),
        ("-2", "-2"),
        ("+2", "2"),
        ("- -2", "2"),
        ("-(2)", "(neg (paren 2))"),
        (
            "-a * b",
            "(* [1:1] (neg (vs a __name__=\"a\")) (vs b __name__=\"b\"))",
        ),
        ("2 * -3 ^ 2", "(* 2 (neg (^ 3 2)))"),
        ("1 < bool 2 == bool 3", "(== bool (< bool 1 2) 3)"),
        (
            "a or b and c unless d",
            "(or [n:n] (vs a __name__=\"a\") (unless [n:n] (and [n:n] (vs b __name__=\"b\") (vs c __name__=\"c\")) (vs d __name__=\"d\")))",
        ),
        (
            "a atan2 b + 1",
            "(+ (atan2 [1:1] (vs a __name__=\"a\") (vs b __name__=\"b\")) 1)",
        ),
        ("1 + 2 / 3 % 4", "(+ 1 (% (/ 2 3) 4))"),
        ("h </ 0.5", "(</ (vs h __name__=\"h\") 0.5)"),
        ("h >/ -Inf", "(>/ (vs h __name__=\"h\") -inf)"),
    ] {
        check_shape(q, want);
    }
}

#[test]
fn numbers_and_strings() {
    for (q, want) in [
        ("0x1F", "31"),
        ("010", "8"),
        ("1e3", "1000"),
        (".5", "0.5"),
        ("1_000", "1000"),
        ("Inf", "inf"),
        ("-inF", "-inf"),
        ("5m", "300d"),
        ("1h30m", "5400d"),
        ("100ms", "0.1d"),
        (r#""a\tb""#, r#""a\tb""#),
        (r"'it\'s'", r#""it's""#),
        (r"`raw\n`", r#""raw\\n""#),
        ("\"\\u00e9\"", "\"é\""),
    ] {
        check_shape(q, want);
    }
    assert!(matches!(parse("NaN").unwrap(), Expr::NumberLiteral(n) if n.value.is_nan()));
}

#[test]
fn selectors() {
    for (q, want) in [
        ("foo", "(vs foo __name__=\"foo\")"),
        (
            "foo:bar:rate5m",
            "(vs foo:bar:rate5m __name__=\"foo:bar:rate5m\")",
        ),
        (
            r#"foo{a="b", c!="d", e=~"f.*", g!~"h",}"#,
            r#"(vs foo a="b" c!="d" e=~"f.*" g!~"h" __name__="foo")"#,
        ),
        (r#"{"my.metric"}"#, r#"(vs my.metric __name__="my.metric")"#),
        (
            r#"{"my.metric", "a.b"="x"}"#,
            r#"(vs my.metric __name__="my.metric" a.b="x")"#,
        ),
        (r#"{__name__="foo"}"#, r#"(vs __name__="foo")"#),
        (r#"{a="b"}"#, r#"(vs a="b")"#),
        ("sum", "(vs sum __name__=\"sum\")"),
        ("offset", "(vs offset __name__=\"offset\")"),
        ("by{a=\"b\"}", "(vs by a=\"b\" __name__=\"by\")"),
        (
            r#"foo{sum="x", offset="y", by="z"}"#,
            r#"(vs foo sum="x" offset="y" by="z" __name__="foo")"#,
        ),
        ("foo # comment\n", "(vs foo __name__=\"foo\")"),
        (
            "fill + fill_left",
            "(+ [1:1] (vs fill __name__=\"fill\") (vs fill_left __name__=\"fill_left\"))",
        ),
    ] {
        check_shape(q, want);
    }
}

#[test]
fn ranges_subqueries_and_modifiers() {
    for (q, want) in [
        ("foo[5m]", "(range (vs foo __name__=\"foo\") 300)"),
        (
            "foo[5m] offset 1m",
            "(range (vs foo __name__=\"foo\" offset=60) 300)",
        ),
        ("foo offset -7m", "(vs foo __name__=\"foo\" offset=-420)"),
        ("foo @ 100", "(vs foo __name__=\"foo\" @100000ms)"),
        ("foo @ -1.5", "(vs foo __name__=\"foo\" @-1500ms)"),
        (
            "foo @ start() offset 1m",
            "(vs foo __name__=\"foo\" offset=60 @start)",
        ),
        (
            "foo[1m] @ end()",
            "(range (vs foo __name__=\"foo\" @end) 60)",
        ),
        (
            "foo[10m:1m]",
            "(subquery (vs foo __name__=\"foo\") 600 step=60)",
        ),
        ("foo[10m:]", "(subquery (vs foo __name__=\"foo\") 600)"),
        (
            "rate(foo[5m])[30m:1m] offset 5m @ 10",
            "(subquery (rate (range (vs foo __name__=\"foo\") 300)) 1800 step=60 offset=300 @10000ms)",
        ),
        ("foo[300]", "(range (vs foo __name__=\"foo\") 300)"),
        (
            "foo[5m] anchored",
            "(range (vs foo __name__=\"foo\" anchored) 300)",
        ),
        ("foo smoothed", "(vs foo __name__=\"foo\" smoothed)"),
    ] {
        check_shape(q, want);
    }
}

#[test]
fn duration_expressions() {
    for (q, want) in [
        (
            "foo[5m+step()]",
            "(range (vs foo __name__=\"foo\") (+ 300 step()))",
        ),
        (
            "foo[2*(1m+30s)]",
            "(range (vs foo __name__=\"foo\") (* 2 [(+ 60 30)]))",
        ),
        (
            "foo[min_of(step(), 1m)]",
            "(range (vs foo __name__=\"foo\") (min_of step() 60))",
        ),
        (
            "foo[1m:step()]",
            "(subquery (vs foo __name__=\"foo\") 60 step=step())",
        ),
        // As in Prometheus' lexer: a colon right after a non-literal range.
        (
            "foo[range():step()]",
            "error: 1:13: unexpected colon before duration in duration expression",
        ),
        (
            "foo[1h:-1m+2m]",
            "(subquery (vs foo __name__=\"foo\") 3600 step=(+ -60 120))",
        ),
        // `offset` takes a single signed term: the rest is an ordinary operator.
        (
            "foo offset -2^2",
            "(^ (vs foo __name__=\"foo\" offset=-2) 2)",
        ),
        (
            "foo offset 100 + 2",
            "(+ (vs foo __name__=\"foo\" offset=100) 2)",
        ),
        (
            "foo offset (100 + 2)",
            "(vs foo __name__=\"foo\" offset=[(+ 100 2)])",
        ),
        (
            "foo offset -(5)",
            "(vs foo __name__=\"foo\" offset=(- [5]))",
        ),
        (
            "foo offset -step()*2",
            "(* (vs foo __name__=\"foo\" offset=(- step())) 2)",
        ),
        (
            "foo offset max_of(step(), 5s)",
            "(vs foo __name__=\"foo\" offset=(max_of step() 5))",
        ),
    ] {
        check_shape(q, want);
    }
}

#[test]
fn aggregations_calls_and_matching() {
    for (q, want) in [
        (
            "sum by (job) (x)",
            "(sum by[\"job\"] (vs x __name__=\"x\"))",
        ),
        (
            "sum(x) without (a, b,)",
            "(sum without[\"a\", \"b\"] (vs x __name__=\"x\"))",
        ),
        ("topk(3, x)", "(topk 3 (vs x __name__=\"x\"))"),
        (
            "count_values(\"v\", x)",
            "(count_values \"v\" (vs x __name__=\"x\"))",
        ),
        (
            "sum by (\"a.b\", sum, offset) (x)",
            "(sum by[\"a.b\", \"sum\", \"offset\"] (vs x __name__=\"x\"))",
        ),
        ("sum by () (x)", "(sum by[] (vs x __name__=\"x\"))"),
        ("time()", "(time)"),
        ("start()", "(start)"),
        ("round(x, 5)", "(round (vs x __name__=\"x\") 5)"),
        (
            "a + on(b) group_left(c) d",
            "(+ [n:1 on[\"b\"] incl[\"c\"]] (vs a __name__=\"a\") (vs d __name__=\"d\"))",
        ),
        (
            "a * ignoring(b) group_right d",
            "(* [1:n ignoring[\"b\"]] (vs a __name__=\"a\") (vs d __name__=\"d\"))",
        ),
        (
            "a and on() b",
            "(and [n:n on[]] (vs a __name__=\"a\") (vs b __name__=\"b\"))",
        ),
        ("1 + on() x", "(+ 1 (vs x __name__=\"x\"))"),
        (
            "a + fill(0) b",
            "(+ [1:1 fl=0 fr=0] (vs a __name__=\"a\") (vs b __name__=\"b\"))",
        ),
        (
            "a + fill_right(-1) fill_left(2) b",
            "(+ [1:1 fl=2 fr=-1] (vs a __name__=\"a\") (vs b __name__=\"b\"))",
        ),
    ] {
        check_shape(q, want);
    }
}

/// `(message, byte offset)` of the error for `q` under `opts`.
fn error_with(q: &str, opts: &ParseOptions) -> (String, u32) {
    match parse_with(q, opts) {
        Ok(e) => panic!("{q:?} parsed as {}", shape(&e)),
        Err(e) => (e.message(), e.span().start),
    }
}

#[test]
fn syntax_errors() {
    let opts = ParseOptions::all();
    for (q, msg, at) in [
        ("", "no expression found in input", 0),
        ("1 +", "unexpected end of input", 3),
        ("sum(1 2)", "unexpected number \"2\" in aggregation", 6),
        ("foo(1 2)", "unexpected number \"2\"", 6),
        ("unknown(x)", "unknown function with name \"unknown\"", 0),
        (
            "rate(x[5m],)",
            "trailing commas not allowed in function call args",
            10,
        ),
        (
            "sum by x (y)",
            "unexpected identifier \"x\" in grouping opts, expected \"(\"",
            7,
        ),
        (
            "sum by (a b) (y)",
            "unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"",
            10,
        ),
        (
            "sum by (without) (y)",
            "unexpected <without> in grouping opts, expected label",
            8,
        ),
        (
            "{a}",
            "unexpected \"}\" in label matching, expected label matching operator",
            2,
        ),
        (
            "{a=}",
            "unexpected \"}\" in label matching, expected string",
            3,
        ),
        (
            "{a=\"b\" c}",
            "unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
            7,
        ),
        ("{a*}", "unexpected character inside braces: '*'", 2),
        (
            "foo offset",
            "unexpected end of input in offset, expected number, duration, step(), or range()",
            10,
        ),
        (
            "foo @",
            "unexpected end of input in @, expected timestamp",
            5,
        ),
        ("foo[", "unexpected end of input in duration expression", 4),
        ("foo[5m", "unclosed left bracket", 6),
        (
            "foo[5m 1]",
            "unexpected number \"1\" in subquery or range, expected \":\" or \"]\"",
            7,
        ),
        ("foo[0]", "duration must be greater than 0", 4),
        ("foo[-5m]", "duration must be greater than 0", 4),
        ("foo[5m:0]", "duration must be greater than 0", 7),
        // Below half a millisecond: nothing once rounded to milliseconds.
        ("foo[0.0004]", "duration must be greater than 0", 4),
        ("foo[52e-60]", "duration must be greater than 0", 4),
        ("foo[5m:0.0004]", "duration must be greater than 0", 7),
        ("foo[1m/0]", "division by zero", 6),
        ("foo[1s1m]", "not a valid duration string: \"1s1m\"", 4),
        ("(foo)[5m]", "ranges only allowed for vector selectors", 5),
        (
            "foo offset 1m[5m]",
            "no offset modifiers allowed before range",
            13,
        ),
        ("foo @ 1 [5m]", "no @ modifiers allowed before range", 8),
        (
            "foo offset 1m offset 2m",
            "offset may not be set multiple times",
            0,
        ),
        (
            "foo @ 1 @ 2",
            "@ <timestamp> may not be set multiple times",
            0,
        ),
        (
            "sum(foo) offset 1m",
            "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            0,
        ),
        (
            "foo @ Inf",
            "timestamp out of bounds for @ modifier: +Inf",
            0,
        ),
        (
            "foo anchored smoothed",
            "anchored and smoothed modifiers cannot be used together",
            0,
        ),
        (
            "foo[5m:1m] anchored",
            "anchored modifier is not supported for subqueries",
            0,
        ),
        ("sum()", "no arguments for aggregate expression provided", 0),
        (
            "topk(x)",
            "wrong number of arguments for aggregate expression provided, expected 2, got 1",
            0,
        ),
        ("a + group_left b", "unexpected <group_left>", 4),
        ("bool", "unexpected <bool>", 0),
        ("1 =~ 2", "unexpected character after '=': '~'", 2),
        ("\"abc", "unterminated quoted string", 0),
        ("(1))", "unexpected right parenthesis ')'", 4),
        (
            "0x",
            "error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax",
            0,
        ),
    ] {
        let got = match parse_with(q, &opts) {
            Ok(e) => (format!("parsed as {}", shape(&e)), 0),
            Err(e) => (e.message(), e.span().start),
        };
        assert_eq!(got, (msg.to_string(), at), "{q}");
    }
}

#[test]
fn type_errors() {
    let opts = ParseOptions::all();
    for (q, msg, at) in [
        (
            "rate(foo)",
            "expected type range vector in call to function \"rate\", got instant vector",
            5,
        ),
        (
            "abs()",
            "expected 1 argument(s) in call to \"abs\", got 0",
            0,
        ),
        (
            "round()",
            "expected at least 1 argument(s) in call to \"round\", got 0",
            0,
        ),
        (
            "round(a, 1, 2)",
            "expected at most 2 argument(s) in call to \"round\", got 3",
            0,
        ),
        (
            "sum(foo[5m])",
            "expected type instant vector in aggregation expression, got range vector",
            4,
        ),
        (
            "topk(\"a\", foo)",
            "expected type scalar in aggregation parameter, got string",
            5,
        ),
        (
            "count_values(1, foo)",
            "expected type string in aggregation parameter, got scalar",
            13,
        ),
        (
            "1 == 1",
            "comparisons between scalars must use BOOL modifier",
            2,
        ),
        (
            "a + bool b",
            "bool modifier can only be used on comparison operators",
            2,
        ),
        (
            "1 and 1",
            "set operator \"and\" not allowed in binary scalar expression",
            0,
        ),
        (
            "a and on(x) group_left b",
            "no grouping allowed for \"and\" operation",
            0,
        ),
        (
            "a + on(x) group_left(x) b",
            "label \"x\" must not occur in ON and GROUP clause at once",
            2,
        ),
        (
            "1 + on(x) a",
            "vector matching only allowed between instant vectors",
            0,
        ),
        (
            "a[5m] + 1",
            "binary expression must contain only scalar and instant vector types",
            0,
        ),
        (
            "-foo[5m]",
            "unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"",
            0,
        ),
        (
            "foo[5m][10m:]",
            "subquery is only allowed on instant vector, got matrix instead",
            0,
        ),
        (
            "{}",
            "vector selector must contain at least one non-empty matcher",
            0,
        ),
        (
            "{a=~\".*\"}",
            "vector selector must contain at least one non-empty matcher",
            0,
        ),
        (
            "foo{__name__=\"bar\"}",
            "metric name must not be set twice: \"foo\" or \"bar\"",
            0,
        ),
        (
            "info(foo, bar)",
            "expected label selectors only, got vector selector instead",
            10,
        ),
        (
            "info(foo, 1)",
            "expected type instant vector in call to function \"info\", got scalar",
            0,
        ),
        (
            "a + fill(1) 2",
            "filling in missing series only allowed between instant vectors",
            0,
        ),
        (
            "a or fill(1) b",
            "filling in missing series not allowed for set operators",
            0,
        ),
    ] {
        let got = match parse_with(q, &opts) {
            Ok(e) => (format!("parsed as {}", shape(&e)), 0),
            Err(e) => (e.message(), e.span().start),
        };
        assert_eq!(got, (msg.to_string(), at), "{q}");
    }
    assert!(parse_with("info(foo, {a=~\".*\"})", &opts).is_ok());
}

#[test]
fn experimental_features_are_gated() {
    let default = ParseOptions::default();
    for (q, msg, at) in [
        (
            "limitk(1, x)",
            "limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
            0,
        ),
        (
            "sort_by_label(x, \"a\")",
            "function \"sort_by_label\" is not enabled",
            0,
        ),
        (
            "foo[5m+1m]",
            "experimental duration expression is not enabled",
            4,
        ),
        (
            "foo[step()]",
            "experimental duration expression is not enabled",
            4,
        ),
        (
            "foo offset (1m)",
            "experimental duration expression is not enabled",
            12,
        ),
        (
            "foo[min_of(1m, 2m)]",
            "experimental duration expression is not enabled",
            11,
        ),
        (
            "foo offset -step()",
            "experimental duration expression is not enabled",
            11,
        ),
        (
            "foo offset -max_of(1, 2)",
            "experimental duration expression is not enabled",
            11,
        ),
        (
            "foo[5m] anchored",
            "anchored modifier is experimental and not enabled",
            0,
        ),
        (
            "a + fill(0) b",
            "binop fill modifiers are experimental and not enabled",
            0,
        ),
    ] {
        assert_eq!(error_with(q, &default), (msg.to_string(), at), "{q}");
    }
    for q in [
        "foo[5m]",
        "foo offset -5m",
        "topk(1, x)",
        "foo offset 1m + 2",
        // Prometheus' grammar does not gate a signed parenthesis after `offset`.
        "foo offset -(1m)",
    ] {
        assert!(parse_with(q, &default).is_ok(), "{q}");
    }
}

#[test]
fn errors_display_line_and_column() {
    let e = parse("sum(\n  rate(x[5m]) +\n)").unwrap_err();
    assert_eq!(e.to_string(), "3:1: unexpected \")\" in aggregation");
    assert!(e.render("sum(\n  rate(x[5m]) +\n)").contains("3 | )"));
}

#[test]
fn selector_entry_point() {
    let sel = parse_selector(r#"up{job="x"}"#).unwrap();
    assert_eq!(sel.name.as_deref(), Some("up"));
    assert_eq!(sel.matchers.len(), 2);
    assert!(parse_selector("up + 1").is_err());
    assert!(parse_selector("{}").is_ok());
}
