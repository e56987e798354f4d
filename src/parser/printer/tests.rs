//! Printer tests on hand-built trees (independent of the parser).

use super::*;
use crate::model::{MatchOp, Matcher};
use crate::parser::ast::{FillValues, VectorMatchCardinality, VectorMatching};
use crate::parser::functions::lookup;
use crate::parser::span::Span;

fn selector(name: Option<&str>, matchers: &[(&str, MatchOp, &str)]) -> VectorSelector {
    let mut all: Vec<Matcher> = matchers
        .iter()
        .map(|(n, op, v)| Matcher::new(*op, *n, *v).unwrap())
        .collect();
    if let Some(name) = name {
        all.push(Matcher::equal("__name__", name));
    }
    VectorSelector {
        name: name.map(String::from),
        matchers: all,
        offset: None,
        at: None,
        anchored: false,
        smoothed: false,
        span: Span::default(),
    }
}

fn vs(name: &str) -> Expr {
    Expr::VectorSelector(Box::new(selector(Some(name), &[])))
}

fn num(value: f64) -> Expr {
    Expr::NumberLiteral(NumberLiteral {
        value,
        is_duration: false,
        span: Span::default(),
    })
}

fn dur(millis: i64) -> DurationExpr {
    DurationExpr::from_millis(millis, Span::default())
}

fn lit(value: f64) -> DurationExpr {
    DurationExpr::Literal(NumberLiteral {
        value,
        is_duration: false,
        span: Span::default(),
    })
}

fn dbin(op: BinaryOp, lhs: DurationExpr, rhs: DurationExpr) -> DurationExpr {
    DurationExpr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        span: Span::default(),
    }
}

fn dunary(op: UnaryOp, expr: DurationExpr) -> DurationExpr {
    DurationExpr::Unary {
        op,
        expr: Box::new(expr),
        span: Span::default(),
    }
}

fn dparen(expr: DurationExpr) -> DurationExpr {
    DurationExpr::Paren {
        expr: Box::new(expr),
        span: Span::default(),
    }
}

fn matrix(sel: VectorSelector, range: DurationExpr) -> Expr {
    Expr::MatrixSelector(Box::new(MatrixSelector {
        selector: sel,
        range,
        span: Span::default(),
    }))
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    bin_with(op, lhs, rhs, None, false)
}

fn bin_with(
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    matching: Option<VectorMatching>,
    return_bool: bool,
) -> Expr {
    Expr::Binary(Box::new(BinaryExpr {
        op,
        lhs,
        rhs,
        matching,
        return_bool,
        span: Span::default(),
    }))
}

fn matching(
    on: bool,
    labels: &[&str],
    card: VectorMatchCardinality,
    include: &[&str],
) -> VectorMatching {
    VectorMatching {
        card,
        matching_labels: labels.iter().map(|s| s.to_string()).collect(),
        on,
        include: include.iter().map(|s| s.to_string()).collect(),
        fill: FillValues::default(),
    }
}

fn agg(
    op: AggregateOp,
    grouping: Option<(bool, &[&str])>,
    param: Option<Expr>,
    expr: Expr,
) -> Expr {
    Expr::Aggregate(Box::new(AggregateExpr {
        op,
        expr,
        param,
        grouping: grouping.map(|(without, labels)| Grouping {
            without,
            labels: labels.iter().map(|s| s.to_string()).collect(),
        }),
        span: Span::default(),
    }))
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Box::new(Call {
        func: lookup(name).unwrap(),
        args,
        span: Span::default(),
    }))
}

fn paren(expr: Expr) -> Expr {
    Expr::Paren(Box::new(ParenExpr {
        expr,
        span: Span::default(),
    }))
}

fn string(value: &str) -> Expr {
    Expr::StringLiteral(StringLiteral {
        value: value.into(),
        invalid_utf8: None,
        span: Span::default(),
    })
}

fn neg(expr: Expr) -> Expr {
    Expr::Unary(Box::new(UnaryExpr {
        op: UnaryOp::Neg,
        expr,
        span: Span::default(),
    }))
}

fn subquery(expr: Expr, range: i64, step: Option<i64>) -> SubqueryExpr {
    SubqueryExpr {
        expr,
        range: dur(range),
        step: step.map(dur),
        offset: None,
        at: None,
        span: Span::default(),
    }
}

const M: i64 = 60_000;

#[test]
fn aggregations() {
    let x = || vs("task:errors:rate10s");
    assert_eq!(
        agg(AggregateOp::Sum, None, None, x()).to_string(),
        "sum(task:errors:rate10s)"
    );
    assert_eq!(
        agg(AggregateOp::Sum, Some((false, &[])), None, x()).to_string(),
        "sum(task:errors:rate10s)"
    );
    assert_eq!(
        agg(AggregateOp::Sum, Some((true, &[])), None, x()).to_string(),
        "sum without () (task:errors:rate10s)"
    );
    assert_eq!(
        agg(
            AggregateOp::Count,
            Some((false, &["ööö", "job", "foo.bar"])),
            None,
            x()
        )
        .to_string(),
        r#"count by ("ööö", job, "foo.bar") (task:errors:rate10s)"#
    );
    assert_eq!(
        agg(AggregateOp::Topk, None, Some(num(5.0)), x()).to_string(),
        "topk(5, task:errors:rate10s)"
    );
    assert_eq!(
        agg(
            AggregateOp::CountValues,
            Some((false, &["a"])),
            Some(string("value")),
            x()
        )
        .to_string(),
        r#"count_values by (a) ("value", task:errors:rate10s)"#
    );
}

#[test]
fn binary_modifiers() {
    use VectorMatchCardinality::*;
    let (a, c) = (|| vs("a"), || vs("c"));
    let case = |m: VectorMatching| bin_with(BinaryOp::Sub, a(), c(), Some(m), false).to_string();
    assert_eq!(case(matching(true, &[], OneToOne, &[])), "a - on () c");
    assert_eq!(case(matching(true, &["b"], OneToOne, &[])), "a - on (b) c");
    assert_eq!(
        case(matching(true, &["b"], ManyToOne, &["x", "y"])),
        "a - on (b) group_left (x, y) c"
    );
    assert_eq!(
        case(matching(true, &["b"], OneToMany, &[])),
        "a - on (b) group_right () c"
    );
    assert_eq!(
        case(matching(false, &["b"], OneToOne, &[])),
        "a - ignoring (b) c"
    );
    assert_eq!(case(matching(false, &[], OneToOne, &[])), "a - c");
    assert_eq!(
        case(matching(false, &[], ManyToOne, &[])),
        "a - ignoring () group_left () c"
    );
    assert_eq!(
        case(matching(true, &["äää"], OneToMany, &["ööö"])),
        r#"a - on ("äää") group_right ("ööö") c"#
    );
    let set = bin_with(
        BinaryOp::And,
        a(),
        c(),
        Some(matching(false, &[], ManyToMany, &[])),
        false,
    );
    assert_eq!(set.to_string(), "a and c");
    let set = bin_with(
        BinaryOp::Unless,
        a(),
        c(),
        Some(matching(true, &["x"], ManyToMany, &[])),
        false,
    );
    assert_eq!(set.to_string(), "a unless on (x) c");
    assert_eq!(
        bin_with(BinaryOp::Gtr, vs("up"), num(0.0), None, true).to_string(),
        "up > bool 0"
    );
    assert_eq!(bin(BinaryOp::Atan2, a(), c()).to_string(), "a atan2 c");
}

#[test]
fn fill_modifiers() {
    use VectorMatchCardinality::*;
    let case = |lhs: Option<f64>, rhs: Option<f64>, card| {
        let mut m = matching(
            card == ManyToOne,
            &["b"][..usize::from(card == ManyToOne)],
            card,
            &[],
        );
        m.fill = FillValues { lhs, rhs };
        bin_with(BinaryOp::Add, vs("a"), vs("c"), Some(m), false).to_string()
    };
    assert_eq!(case(Some(-23.0), Some(-23.0), OneToOne), "a + fill (-23) c");
    assert_eq!(case(Some(-23.0), None, OneToOne), "a + fill_left (-23) c");
    assert_eq!(case(None, Some(42.0), OneToOne), "a + fill_right (42) c");
    assert_eq!(
        case(Some(-23.0), Some(42.0), OneToOne),
        "a + fill_left (-23) fill_right (42) c"
    );
    assert_eq!(
        case(Some(1e6), Some(1e6), ManyToOne),
        "a + on (b) group_left () fill (1e+06) c"
    );
    assert_eq!(
        case(Some(f64::NAN), Some(f64::NAN), OneToOne),
        "a + fill_left (NaN) fill_right (NaN) c"
    );
    assert_eq!(
        case(Some(f64::INFINITY), Some(f64::INFINITY), OneToOne),
        "a + fill (+Inf) c"
    );
}

#[test]
fn selectors_sort_matchers_and_fold_the_name() {
    let s = selector(
        Some("foo"),
        &[("b", MatchOp::Equal, "y"), ("a", MatchOp::NotRegex, "x")],
    );
    assert_eq!(s.to_string(), r#"foo{a!~"x",b="y"}"#);
    let s = selector(None, &[("__name__", MatchOp::Equal, "a")]);
    assert_eq!(s.to_string(), r#"{__name__="a"}"#);
    let s = selector(
        None,
        &[("a", MatchOp::Equal, "x"), ("__name__", MatchOp::Equal, "")],
    );
    assert_eq!(s.to_string(), r#"{__name__="",a="x"}"#);
    let s = selector(
        None,
        &[
            ("a.b", MatchOp::Equal, "c"),
            ("", MatchOp::Equal, "0"),
            ("_0", MatchOp::Regex, "1"),
        ],
    );
    assert_eq!(s.to_string(), r#"{""="0","a.b"="c",_0=~"1"}"#);
    let s = selector(Some("my.metric"), &[]);
    assert_eq!(s.to_string(), r#"{"my.metric"}"#);
    let s = selector(
        Some("my.metric"),
        &[("z", MatchOp::NotEqual, "1"), ("a", MatchOp::Equal, "\n\"")],
    );
    assert_eq!(s.to_string(), r#"{"my.metric",a="\n\"",z!="1"}"#);
    let s = selector(Some("foo"), &[("__name__", MatchOp::Regex, "bar")]);
    assert_eq!(s.to_string(), r#"foo{__name__=~"bar"}"#);
}

#[test]
fn selector_modifiers() {
    let mut s = selector(Some("a"), &[]);
    s.offset = Some(dur(M));
    assert_eq!(s.to_string(), "a offset 1m");
    s.offset = Some(dur(-7 * M));
    assert_eq!(s.to_string(), "a offset -7m");
    s.offset = Some(dur(0));
    assert_eq!(s.to_string(), "a");
    s.offset = Some(dur(90 * M));
    s.at = Some(AtModifier::Timestamp(10_000));
    assert_eq!(s.to_string(), "a @ 10.000 offset 1h30m");
    s.at = Some(AtModifier::Start);
    s.anchored = true;
    assert_eq!(s.to_string(), "a @ start() anchored offset 1h30m");
    s.anchored = false;
    s.smoothed = true;
    s.at = Some(AtModifier::End);
    s.offset = None;
    assert_eq!(s.to_string(), "a @ end() smoothed");

    let mut inner = selector(Some("a"), &[("b", MatchOp::Equal, "c")]);
    inner.anchored = true;
    inner.at = Some(AtModifier::Start);
    inner.offset = Some(dur(M));
    assert_eq!(
        matrix(inner, dur(5 * M)).to_string(),
        r#"a{b="c"}[5m] anchored @ start() offset 1m"#
    );
    let mut inner = selector(Some("a"), &[]);
    inner.at = Some(AtModifier::Timestamp(-1500));
    assert_eq!(matrix(inner, lit(300.0)).to_string(), "a[5m] @ -1.500");
}

#[test]
fn subqueries() {
    let mut s = subquery(vs("a"), 60 * M, Some(5 * M));
    s.offset = Some(dur(M));
    assert_eq!(s.to_string(), "a[1h:5m] offset 1m");
    let mut s = subquery(
        call("rate", vec![matrix(selector(Some("x"), &[]), dur(5 * M))]),
        10 * M,
        None,
    );
    s.at = Some(AtModifier::Timestamp(1_603_775_091_000));
    s.offset = Some(dur(-4 * M));
    assert_eq!(
        s.to_string(),
        "rate(x[5m])[10m:] @ 1603775091.000 offset -4m"
    );
}

#[test]
fn numbers_and_strings() {
    assert_eq!(num(1048576.0).to_string(), "1048576");
    assert_eq!(num(-0.5).to_string(), "-0.5");
    assert_eq!(num(f64::INFINITY).to_string(), "+Inf");
    assert_eq!(num(f64::NAN).to_string(), "NaN");
    let d = NumberLiteral {
        value: 5400.0,
        is_duration: true,
        span: Span::default(),
    };
    assert_eq!(d.to_string(), "1h30m");
    let d = NumberLiteral { value: -1.5, ..d };
    assert_eq!(d.to_string(), "-1s500ms");
    assert_eq!(string("a\"b\\\u{1}").to_string(), r#""a\"b\\\x01""#);
    assert_eq!(
        neg(paren(bin(BinaryOp::Pow, vs("a"), num(2.0)))).to_string(),
        "-(a ^ 2)"
    );
}

#[test]
fn duration_expressions() {
    use BinaryOp::*;
    let step = || DurationExpr::Step(Span::default());
    let range = || DurationExpr::Range(Span::default());
    let minmax = |is_max, a, b| DurationExpr::MinMax {
        is_max,
        a: Box::new(a),
        b: Box::new(b),
        span: Span::default(),
    };
    let foo = || selector(Some("foo"), &[]);
    assert_eq!(matrix(foo(), step()).to_string(), "foo[step()]");
    assert_eq!(
        matrix(foo(), dunary(UnaryOp::Neg, dparen(step()))).to_string(),
        "foo[-(step())]"
    );
    assert_eq!(matrix(foo(), dparen(lit(5.0))).to_string(), "foo[(5)]");
    let d = dbin(
        Sub,
        lit(200.0),
        minmax(
            false,
            dbin(
                Pow,
                dunary(UnaryOp::Neg, step()),
                dunary(UnaryOp::Pos, step()),
            ),
            lit(1.0),
        ),
    );
    assert_eq!(
        matrix(foo(), d).to_string(),
        "foo[200 - min_of(-step() ^ step(), 1)]"
    );
    let mut s = foo();
    s.offset = Some(dunary(UnaryOp::Pos, dparen(lit(5.0))));
    assert_eq!(s.to_string(), "foo offset (5)");
    s.offset = Some(dunary(
        UnaryOp::Neg,
        minmax(false, dur(10_000), minmax(true, range(), dur(2_000))),
    ));
    assert_eq!(
        s.to_string(),
        "foo offset -min_of(10s, max_of(range(), 2s))"
    );
    // A power after `offset` needs two signs in front to stay the offset's
    // (one sign and an atom end the offset); see `offset_powers_round_trip`.
    let pow = || dbin(Pow, step(), lit(2.0));
    s.offset = Some(pow());
    assert_eq!(s.to_string(), "foo offset ++step() ^ 2");
    s.offset = Some(dunary(UnaryOp::Neg, pow()));
    assert_eq!(s.to_string(), "foo offset -+step() ^ 2");
    s.offset = Some(dunary(UnaryOp::Neg, dunary(UnaryOp::Neg, pow())));
    assert_eq!(s.to_string(), "foo offset --step() ^ 2");
    let mut sq = subquery(vs("foo"), 0, None);
    sq.range = dparen(dur(5 * M));
    sq.step = Some(dbin(Mul, dur(M), lit(2.0)));
    assert_eq!(sq.to_string(), "foo[(5m):1m * 2]");
}

#[test]
fn offset_powers_round_trip() {
    // One sign and an atom end an offset; two signs start a power.
    let options = crate::ParseOptions::all();
    for (text, printed) in [
        (
            "x offset -+min_of(step(), 1s)^0",
            "x offset -+min_of(step(), 1s) ^ 0",
        ),
        ("x offset +-step()^2", "x offset -+step() ^ 2"),
        ("x offset ++step()^2", "x offset ++step() ^ 2"),
        ("x offset ++-step()^2", "x offset -+step() ^ 2"),
        ("x offset --(2^3)^2", "x offset --(2 ^ 3) ^ 2"),
        ("x[5m] offset -+2^2", "x[5m] offset -+2 ^ 2"),
        ("x offset -2^2", "x offset -2s ^ 2"),
    ] {
        let expr = crate::parse_with(text, &options).unwrap();
        assert_eq!(expr.to_string(), printed, "{text}");
        let again = crate::parse_with(printed, &options).unwrap();
        assert!(expr.eq_ignore_spans(&again), "{text} -> {printed}");
        assert_eq!(crate::format(&expr), printed, "{text}");
    }
}

#[test]
fn pretty_splits_long_binary_chains() {
    use BinaryOp::Add;
    let chain = bin(Add, bin(Add, vs("foo_1"), vs("foo_2")), vs("foo_3"));
    assert_eq!(
        format_with_width(&chain, 10),
        "    foo_1\n  +\n    foo_2\n+\n  foo_3"
    );
    let chain = bin(Add, bin(Add, vs("foo"), vs("baar")), vs("foo_3"));
    assert_eq!(format_with_width(&chain, 10), "  foo + baar\n+\n  foo_3");
    assert_eq!(format_with_width(&bin(Add, vs("a"), vs("b")), 10), "a + b");
    let m = matching(false, &["job"], VectorMatchCardinality::ManyToOne, &[]);
    let e = bin_with(Add, vs("a"), vs("b"), Some(m), false);
    assert_eq!(
        format_with_width(&e, 10),
        "  a\n+ ignoring (job) group_left ()\n  b"
    );
}

#[test]
fn positive_infinity_before_a_power_has_no_sign() {
    // `+Inf ^ 2` would read back as `+(Inf ^ 2)`: `^` binds tighter than a sign.
    let pow = bin(BinaryOp::Pow, num(f64::INFINITY), vs("a"));
    assert_eq!(pow.to_string(), "Inf ^ a");
    let long = bin(BinaryOp::Pow, num(f64::INFINITY), vs("a_rather_long_name"));
    assert_eq!(
        format_with_width(&long, 10),
        "  Inf\n^\n  a_rather_long_name"
    );
    // Elsewhere the sign stays, as Prometheus prints it.
    let mul = bin(BinaryOp::Mul, num(f64::INFINITY), vs("a"));
    assert_eq!(mul.to_string(), "+Inf * a");
    let rhs = bin(BinaryOp::Pow, vs("a"), num(f64::INFINITY));
    assert_eq!(rhs.to_string(), "a ^ +Inf");
}

#[test]
fn pretty_splits_aggregations_calls_and_parens() {
    let x = || {
        Expr::VectorSelector(Box::new(selector(
            Some("task:errors:rate10s"),
            &[("job", MatchOp::Equal, "s")],
        )))
    };
    let e = agg(AggregateOp::Sum, Some((true, &["job", "foo"])), None, x());
    assert_eq!(
        format_with_width(&e, 10),
        "sum without (job, foo) (\n  task:errors:rate10s{job=\"s\"}\n)"
    );
    let e = agg(AggregateOp::Topk, None, Some(num(10.0)), x());
    assert_eq!(
        format_with_width(&e, 10),
        "topk(\n  10,\n  task:errors:rate10s{job=\"s\"}\n)"
    );
    let e = call(
        "histogram_quantile",
        vec![
            num(0.9),
            call("rate", vec![matrix(selector(Some("foo"), &[]), dur(M))]),
        ],
    );
    assert_eq!(
        format_with_width(&e, 10),
        "histogram_quantile(\n  0.9,\n  rate(\n    foo[1m]\n  )\n)"
    );
    assert_eq!(
        format_with_width(&paren(paren(vs("foo_long"))), 10),
        "(\n  (foo_long)\n)"
    );
    assert_eq!(format_with_width(&paren(vs("foo")), 10), "(foo)");
    let e = neg(call(
        "rate",
        vec![matrix(selector(Some("foo"), &[]), dur(M))],
    ));
    assert_eq!(format_with_width(&e, 10), "-rate(\n  foo[1m]\n)");
    assert_eq!(
        format_with_width(&paren(neg(vs("vector_selector"))), 10),
        "(\n  -vector_selector\n)"
    );
}

#[test]
fn pretty_subquery_keeps_suffix_after_split_inner() {
    let inner = call(
        "rate",
        vec![matrix(
            selector(Some("demo_api_request_duration_seconds_count"), &[]),
            dur(M),
        )],
    );
    let mut sq = subquery(inner, M, None);
    sq.at = Some(AtModifier::Start);
    sq.offset = Some(dur(M));
    let e = call("max_over_time", vec![Expr::Subquery(Box::new(sq))]);
    assert_eq!(
        format_with_width(&e, 10),
        "max_over_time(\n  rate(\n    demo_api_request_duration_seconds_count[1m]\n  )[1m:] @ start() offset 1m\n)"
    );
    // A short subquery nested in a split node is indented with its level.
    let e = call(
        "max_over_time",
        vec![Expr::Subquery(Box::new(subquery(vs("a"), M, None)))],
    );
    assert_eq!(format_with_width(&e, 10), "max_over_time(\n  a[1m:]\n)");
}

#[test]
fn alternate_display_is_pretty() {
    let long = (0..30).fold(vs("m0"), |acc, i| {
        bin(BinaryOp::Add, acc, vs(&format!("m{}", i + 1)))
    });
    let pretty = format!("{long:#}");
    assert_eq!(pretty, format(&long));
    assert!(pretty.lines().count() > 1);
    // The width limits what follows the indentation, as in Prometheus.
    assert!(
        pretty
            .lines()
            .all(|l| l.trim_start().len() <= MAX_LINE_WIDTH)
    );
    assert_eq!(format!("{long}").lines().count(), 1);
}

#[test]
fn names_the_lexer_would_misread_are_quoted() {
    assert_eq!(selector(Some("on"), &[]).to_string(), r#"{"on"}"#);
    assert_eq!(selector(Some("NaN"), &[]).to_string(), r#"{"NaN"}"#);
    assert_eq!(selector(Some("bool"), &[]).to_string(), r#"{"bool"}"#);
    // Keywords that the grammar accepts as metric names stay bare, as in Prometheus.
    assert_eq!(selector(Some("sum"), &[]).to_string(), "sum");
    assert_eq!(selector(Some("offset"), &[]).to_string(), "offset");
    // Matchers inside braces never need it; grouping lists do for numbers.
    let s = selector(Some("x"), &[("inf", MatchOp::Equal, "1")]);
    assert_eq!(s.to_string(), r#"x{inf="1"}"#);
    let e = agg(
        AggregateOp::Sum,
        Some((false, &["inf", "on", "bool"])),
        None,
        vs("x"),
    );
    assert_eq!(e.to_string(), r#"sum by ("inf", on, bool) (x)"#);
}
