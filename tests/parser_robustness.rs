//! The parser never panics, and its errors and spans stay inside the input,
//! for arbitrary text and for soups of PromQL tokens.

use promql_engine::parser::{Expr, ParseOptions, parse_with};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "foo",
    "bar:baz",
    "sum",
    "rate",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "atan2",
    "topk",
    "count_values",
    "label_replace",
    "histogram_quantile",
    "step",
    "range",
    "min_of",
    "max_of",
    "start",
    "end",
    "anchored",
    "smoothed",
    "fill",
    "fill_left",
    "Inf",
    "NaN",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "!=",
    "=~",
    "!~",
    "<",
    ">",
    "<=",
    ">=",
    "</",
    ">/",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "@",
    "1",
    "0x1f",
    "1.5e3",
    "5m",
    "1h30m",
    "0",
    "\"a\"",
    "'b'",
    "`c`",
    "\"\\q\"",
    "\"unterminated",
    "#c\n",
    " ",
    "\n",
    "é",
    "\"x.y\"",
    "__name__",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.join(" "))
}

fn check_spans(e: &Expr, len: u32) {
    e.walk(|n| {
        let s = n.span();
        assert!(
            s.start <= s.end && s.end <= len,
            "span {s:?} outside 0..{len}"
        );
    });
}

fn run(input: &str) {
    let len = input.len() as u32;
    for opts in [ParseOptions::default(), ParseOptions::all()] {
        match parse_with(input, &opts) {
            Ok(e) => check_spans(&e, len),
            Err(e) => {
                assert!(
                    e.span().start <= len && e.span().end <= len,
                    "{e} in {input:?}"
                );
                let _ = e.render(input);
                assert!(!e.message().is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn token_soups_never_panic(input in token_soup()) {
        run(&input);
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,40}") {
        run(&input);
    }
}

#[test]
fn known_valid_queries_keep_spans_inside_input() {
    for q in [
        "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m] offset 1m)) / 2",
        "-foo @ 100 offset -5m",
        "foo[1h:5m] @ end()",
        "topk(3, x) + on(a) group_left(b) y",
    ] {
        run(q);
        assert!(parse_with(q, &ParseOptions::all()).is_ok(), "{q}");
    }
}
