//! Nesting and length limits: deep inputs return errors instead of
//! overflowing the stack, even in debug builds on a 2 MiB thread stack.

use promql_engine::parser::{ParseErrorKind, ParseOptions, parse, parse_with};

/// Runs `f` on a thread with the default 2 MiB test-thread stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic");
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * n + inner.len());
    for _ in 0..n {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..n {
        s.push_str(close);
    }
    s
}

fn assert_too_deep(input: &str) {
    match parse(input) {
        Err(e) => assert!(
            matches!(e.kind(), ParseErrorKind::TooDeep { limit: 1000 }),
            "{e}"
        ),
        Ok(_) => panic!("{} bytes of nesting parsed", input.len()),
    }
}

#[test]
fn hundred_thousand_parentheses_are_an_error() {
    on_small_stack(|| assert_too_deep(&nested("(", "1", ")", 100_000)));
}

#[test]
fn deep_nesting_of_every_kind_is_an_error() {
    on_small_stack(|| {
        let n = 100_000;
        assert_too_deep(&nested("abs(", "x", ")", n));
        assert_too_deep(&nested("sum(", "x", ")", n));
        assert_too_deep(&nested("-", "1", "", n));
        assert_too_deep(&nested("-(", "x", ")", n));
        assert_too_deep(&vec!["x"; n].join(" + "));
        assert_too_deep(&vec!["2"; n].join(" ^ "));
        assert_too_deep(&format!("x{}", "[1m:]".repeat(n)));
        assert_too_deep(&format!("x[{}]", nested("(", "1m", ")", n)));
        assert_too_deep(&format!("x offset {}", nested("(", "1m", ")", n)));
    });
}

#[test]
fn nesting_just_below_the_limit_parses_on_a_small_stack() {
    on_small_stack(|| {
        let n = 990;
        let opts = ParseOptions::all();
        for input in [
            nested("(", "1", ")", n),
            nested("abs(", "x", ")", n),
            nested("sum(", "x", ")", n),
            nested("-(", "x", ")", n / 2),
            nested("rate(", "x[5m]", ")[5m:])", 1).replace("rate(", "max_over_time(rate("),
            vec!["x"; n].join(" + "),
            vec!["x"; n].join(" ^ "),
            format!("x[{}]", nested("(", "1m", ")", n)),
        ] {
            if let Err(e) = parse_with(&input, &opts) {
                panic!("{e} for input of {} bytes", input.len());
            }
        }
    });
}

#[test]
fn max_depth_and_max_length_are_configurable() {
    let opts = ParseOptions::new().with_max_depth(3);
    assert!(parse_with("((1))", &opts).is_ok());
    assert!(matches!(
        parse_with("(((1)))", &opts).unwrap_err().kind(),
        ParseErrorKind::TooDeep { limit: 3 }
    ));
    let opts = ParseOptions::new().with_max_length(5);
    assert!(parse_with("1 + 2", &opts).is_ok());
    assert!(matches!(
        parse_with("1 + 23", &opts).unwrap_err().kind(),
        ParseErrorKind::TooLong { len: 6, limit: 5 }
    ));
}

#[test]
fn long_flat_inputs_are_fine() {
    // Many matchers and many function arguments are not nesting.
    let matchers: Vec<String> = (0..20_000).map(|i| format!("l{i}=\"v\"")).collect();
    let input = format!("x{{{}}}", matchers.join(","));
    assert!(parse(&input).is_ok());
    let args = vec!["\"a\""; 20_000].join(", ");
    assert!(parse(&format!("label_join(x, \"dst\", \",\", {args})")).is_ok());
}

/// Found by the `roundtrip` fuzz target: `NaN` did not equal itself after a round trip.
#[test]
fn nan_literal_round_trips() {
    let options = promql_engine::ParseOptions::all();
    for src in ["NaN", "-NaN", "x + NaN", "clamp(x, NaN, nan)"] {
        let e = promql_engine::parse_with(src, &options).unwrap();
        let again = promql_engine::parse_with(&e.to_string(), &options).unwrap();
        assert!(e.eq_ignore_spans(&again), "{src}");
    }
}

/// Found by the `roundtrip` fuzz target: the canonical form sorts matchers
/// (as Prometheus does), so the round trip must ignore their order.
#[test]
fn matcher_order_is_not_significant_in_round_trips() {
    let options = promql_engine::ParseOptions::all();
    let src = r#"info(http_request_counter_total{namespace="zzz"}, {foo="bar", bar="baz"})"#;
    let e = promql_engine::parse_with(src, &options).unwrap();
    let printed = e.to_string();
    let again = promql_engine::parse_with(&printed, &options).unwrap();
    assert!(e.eq_ignore_spans(&again), "{printed}");
    assert_eq!(again.to_string(), printed);
}

#[test]
fn selectors_can_be_rewritten_in_place() {
    let mut e = promql_engine::parse("sum(rate(a[5m])) / on() group_left b{x=\"1\"}").unwrap();
    e.for_each_selector_mut(|v| {
        v.matchers
            .push(promql_engine::model::Matcher::equal("tenant", "t1"))
    });
    assert_eq!(
        e.to_string(),
        r#"sum(rate(a{tenant="t1"}[5m])) / on () group_left () b{tenant="t1",x="1"}"#
    );
}

/// Found by the `roundtrip` fuzz target: `up[300]` prints as `up[5m]`.
#[test]
fn seconds_and_durations_in_ranges_round_trip_as_the_same_query() {
    let e = promql_engine::parse("up[300]").unwrap();
    let again = promql_engine::parse(&e.to_string()).unwrap();
    assert_eq!(e.to_string(), "up[5m]");
    assert!(e.eq_ignore_spans(&again));
    assert!(!e.eq_ignore_spans(&promql_engine::parse("up[301]").unwrap()));
}

/// Found by the `roundtrip` fuzz target: an empty quoted metric name
/// (`{"", jo="x"}`) printed both as the name and as a `__name__=""` matcher.
#[test]
fn empty_quoted_metric_name_round_trips() {
    let options = promql_engine::ParseOptions::all();
    for src in [
        r#"{"", jo="x"}"#,
        r#"{""}"#,
        r#"{"", __name__=""}"#,
        r#"{__name__="", a="b"}"#,
    ] {
        let Ok(e) = promql_engine::parse_with(src, &options) else {
            continue;
        };
        let printed = e.to_string();
        let again = promql_engine::parse_with(&printed, &options)
            .unwrap_or_else(|err| panic!("{src} printed as {printed}: {err}"));
        assert!(e.eq_ignore_spans(&again), "{src} printed as {printed}");
        assert_eq!(again.to_string(), printed);
    }
    let e = promql_engine::parse(r#"{"", jo="x"}"#).unwrap();
    assert_eq!(e.to_string(), r#"{"",jo="x"}"#);
}

/// Found by the `roundtrip` fuzz target: `info`'s label selector argument
/// may be empty (`{}`), and it printed as nothing, leaving `info(x, )`.
#[test]
fn empty_info_label_selector_round_trips() {
    let options = promql_engine::ParseOptions::all();
    for src in [
        "info(up, {})",
        r#"info({job="i"}, {})"#,
        "info(rate(x[5m]), {})",
    ] {
        let e = promql_engine::parse_with(src, &options).expect("info with {} parses");
        let printed = e.to_string();
        assert!(printed.ends_with(", {})"), "{src} printed as {printed}");
        let again = promql_engine::parse_with(&printed, &options)
            .unwrap_or_else(|err| panic!("{src} printed as {printed}: {err}"));
        assert!(e.eq_ignore_spans(&again), "{src} printed as {printed}");
        let pretty = promql_engine::format(&e);
        let again = promql_engine::parse_with(&pretty, &options)
            .unwrap_or_else(|err| panic!("{src} pretty-printed as {pretty}: {err}"));
        assert!(
            e.eq_ignore_spans(&again),
            "{src} pretty-printed as {pretty}"
        );
    }
}

/// Found by the `roundtrip` fuzz target: a metric name inside the braces of
/// `info`'s label selector argument (`{"target_info", a="b"}`) printed before
/// them (`target_info{a="b"}`), where the checker rejects it.
#[test]
fn info_label_selector_keeps_its_name_inside_the_braces() {
    let options = promql_engine::ParseOptions::all();
    let long = format!(
        r#"info(rate({}[5m]), {{"build_info", foo="bar"}})"#,
        "x".repeat(200)
    );
    for (src, canonical) in [
        (
            r#"info(x{namespace="zzz"}, {foo="bar","beqnanaz"})"#,
            r#"info(x{namespace="zzz"}, {"beqnanaz",foo="bar"})"#,
        ),
        (r#"info(x, {"target_info"})"#, r#"info(x, {"target_info"})"#),
        (r#"info(x, {"a.b", c=~"d"})"#, r#"info(x, {"a.b",c=~"d"})"#),
        (long.as_str(), ""),
    ] {
        let e = promql_engine::parse_with(src, &options).expect("info parses");
        let printed = e.to_string();
        if !canonical.is_empty() {
            assert_eq!(printed, canonical);
        }
        for text in [printed, promql_engine::format(&e)] {
            let again = promql_engine::parse_with(&text, &options)
                .unwrap_or_else(|err| panic!("{src} printed as {text}: {err}"));
            assert!(e.eq_ignore_spans(&again), "{src} printed as {text}");
        }
    }
    // Outside `info` the name still folds before the braces.
    let e = promql_engine::parse(r#"{"up", job="a"}"#).unwrap();
    assert_eq!(e.to_string(), r#"up{job="a"}"#);
}
