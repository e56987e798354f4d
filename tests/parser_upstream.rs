//! Runs the expression cases of Prometheus' `parse_test.go` (extracted to
//! `tests/data/prometheus_parse_cases.jsonl`: input, whether it fails, the
//! first error message and its byte offset) against our parser.

use promql_engine::parser::{ParseOptions, parse_with};

#[derive(serde::Deserialize)]
struct Case {
    input: String,
    fail: bool,
    err: Option<String>,
    pos: Option<u32>,
}

/// Cases where we knowingly differ from Prometheus (none at present; string
/// literals with escapes that are not UTF-8 are kept as bytes, as in Go).
const KNOWN_DEVIATIONS: usize = 0;

#[test]
fn prometheus_parse_test_cases() {
    let data = include_str!("data/prometheus_parse_cases.jsonl");
    // Prometheus' test parser enables everything except fill modifiers.
    let opts = ParseOptions::all().with_binop_fill_modifiers(false);
    let verbose = std::env::var("VERBOSE").is_ok();
    let (mut passed, mut failed) = (0, 0);
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).expect("valid case line");
        let got = parse_with(&case.input, &opts);
        let ok = match (&got, case.fail) {
            (Ok(_), false) => true,
            (Err(e), true) => {
                let msg_ok = case.err.as_deref().is_none_or(|m| e.message() == m);
                let pos_ok = case.pos.is_none_or(|p| e.span().start == p);
                msg_ok && pos_ok
            }
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failed += 1;
            if verbose {
                match &got {
                    Ok(_) => println!(
                        "FAIL {:?}: parsed, want error {:?} at {:?}",
                        case.input, case.err, case.pos
                    ),
                    Err(e) => println!(
                        "FAIL {:?}: got {:?} at {}, want {:?} at {:?}",
                        case.input,
                        e.message(),
                        e.span().start,
                        case.err,
                        case.pos
                    ),
                }
            }
        }
    }
    println!(
        "prometheus parse cases: {passed} passed, {failed} failed ({KNOWN_DEVIATIONS} known deviations)"
    );
    assert!(passed > 300);
    assert_eq!(
        failed, KNOWN_DEVIATIONS,
        "rerun with VERBOSE=1 to see the failures"
    );
}

/// Facts about the expected tree of each successful case of `parse_test.go`
/// (`tests/data/prometheus_parse_trees.jsonl`): offsets, ranges and steps in
/// seconds, `@` timestamps in milliseconds, `@ start()`/`end()`, matchers,
/// functions, grouping and matching labels, cardinalities, operators and
/// flags — each as a sorted multiset over the whole tree.
#[derive(serde::Deserialize)]
struct TreeFacts {
    input: String,
    offsets: Vec<f64>,
    ranges: Vec<f64>,
    steps: Vec<f64>,
    ts: Vec<i64>,
    se: Vec<String>,
    matchers: Vec<String>,
    funcs: Vec<String>,
    groupings: Vec<Vec<String>>,
    mlabels: Vec<Vec<String>>,
    incl: Vec<Vec<String>>,
    cards: Vec<String>,
    ops: Vec<String>,
    rb: usize,
    without: usize,
    on: usize,
}

mod facts {
    use promql_engine::parser::{
        AggregateOp, AtModifier, BinaryOp, DurationExpr, Expr, UnaryOp, VectorMatchCardinality,
        VectorSelector,
    };

    /// The same facts collected from our tree.
    #[derive(Default, Debug, PartialEq)]
    pub struct Collected {
        pub offsets: Vec<f64>,
        pub ranges: Vec<f64>,
        pub steps: Vec<f64>,
        pub ts: Vec<i64>,
        pub se: Vec<String>,
        pub matchers: Vec<String>,
        pub funcs: Vec<String>,
        pub groupings: Vec<Vec<String>>,
        pub mlabels: Vec<Vec<String>>,
        pub incl: Vec<Vec<String>>,
        pub cards: Vec<String>,
        pub ops: Vec<String>,
        pub rb: usize,
        pub without: usize,
        pub on: usize,
    }

    fn literal(d: &DurationExpr) -> Option<f64> {
        match d {
            DurationExpr::Literal(n) => Some((n.value * 1e6).round() / 1e6),
            _ => None,
        }
    }

    fn agg(op: AggregateOp) -> String {
        op.as_str().to_ascii_uppercase()
    }

    fn bin(op: BinaryOp) -> &'static str {
        match op {
            BinaryOp::Add => "ADD",
            BinaryOp::Sub => "SUB",
            BinaryOp::Mul => "MUL",
            BinaryOp::Div => "DIV",
            BinaryOp::Mod => "MOD",
            BinaryOp::Pow => "POW",
            BinaryOp::Atan2 => "ATAN2",
            BinaryOp::Eql => "EQLC",
            BinaryOp::Neq => "NEQ",
            BinaryOp::Gtr => "GTR",
            BinaryOp::Lss => "LSS",
            BinaryOp::Gte => "GTE",
            BinaryOp::Lte => "LTE",
            BinaryOp::And => "LAND",
            BinaryOp::Or => "LOR",
            BinaryOp::Unless => "LUNLESS",
            BinaryOp::TrimUpper => "TRIM_UPPER",
            BinaryOp::TrimLower => "TRIM_LOWER",
        }
    }

    impl Collected {
        fn modifiers(&mut self, offset: Option<&DurationExpr>, at: Option<AtModifier>) {
            if let Some(o) = offset.and_then(literal).filter(|o| *o != 0.0) {
                self.offsets.push(o);
            }
            match at {
                Some(AtModifier::Timestamp(t)) => self.ts.push(t),
                Some(AtModifier::Start) => self.se.push("START".into()),
                Some(AtModifier::End) => self.se.push("END".into()),
                None => {}
            }
        }

        fn selector(&mut self, v: &VectorSelector) {
            for m in &v.matchers {
                self.matchers
                    .push(format!("{}{}{}", m.name, m.op.as_str(), m.value));
            }
            self.modifiers(v.offset.as_ref(), v.at);
        }

        pub fn from(e: &Expr) -> Collected {
            let mut c = Collected::default();
            e.walk(|n| match n {
                Expr::VectorSelector(v) => c.selector(v),
                Expr::MatrixSelector(m) => {
                    c.selector(&m.selector);
                    c.ranges.extend(literal(&m.range));
                }
                Expr::Subquery(s) => {
                    c.modifiers(s.offset.as_ref(), s.at);
                    c.ranges.extend(literal(&s.range));
                    c.steps.extend(s.step.as_ref().and_then(literal));
                }
                Expr::Call(call) => c.funcs.push(call.func.name.to_string()),
                Expr::Aggregate(a) => {
                    c.ops.push(agg(a.op));
                    if let Some(g) = &a.grouping {
                        c.groupings.push(g.labels.clone());
                        c.without += usize::from(g.without);
                    }
                }
                Expr::Unary(u) => c
                    .ops
                    .push(if u.op == UnaryOp::Neg { "SUB" } else { "ADD" }.to_string()),
                Expr::Binary(b) => {
                    c.ops.push(bin(b.op).to_string());
                    c.rb += usize::from(b.return_bool);
                    if let Some(m) = &b.matching {
                        c.cards.push(
                            match m.card {
                                VectorMatchCardinality::OneToOne => "CardOneToOne",
                                VectorMatchCardinality::ManyToOne => "CardManyToOne",
                                VectorMatchCardinality::OneToMany => "CardOneToMany",
                                VectorMatchCardinality::ManyToMany => "CardManyToMany",
                            }
                            .to_string(),
                        );
                        if !m.matching_labels.is_empty() {
                            c.mlabels.push(m.matching_labels.clone());
                        }
                        if !m.include.is_empty() {
                            c.incl.push(m.include.clone());
                        }
                        c.on += usize::from(m.on);
                    }
                }
                _ => {}
            });
            let sort_f = |v: &mut Vec<f64>| v.sort_by(f64::total_cmp);
            sort_f(&mut c.offsets);
            sort_f(&mut c.ranges);
            sort_f(&mut c.steps);
            c.ts.sort();
            c.se.sort();
            c.matchers.sort();
            c.funcs.sort();
            c.groupings.sort();
            c.mlabels.sort();
            c.incl.sort();
            c.cards.sort();
            c.ops.sort();
            c
        }
    }
}

#[test]
fn prometheus_parse_test_trees() {
    let data = include_str!("data/prometheus_parse_trees.jsonl");
    let opts = ParseOptions::all().with_binop_fill_modifiers(false);
    let (mut checked, mut mismatched) = (0, Vec::new());
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let want: TreeFacts = serde_json::from_str(line).expect("valid tree line");
        let Ok(expr) = parse_with(&want.input, &opts) else {
            continue; // Reported by `prometheus_parse_test_cases`.
        };
        let got = facts::Collected::from(&expr);
        let nonempty =
            |v: Vec<Vec<String>>| v.into_iter().filter(|l| !l.is_empty()).collect::<Vec<_>>();
        // Duration expressions carry operators of their own in Prometheus' tree.
        let has_durations = want.input.contains('[') || want.input.contains("offset");
        // `OriginalOffset: 0` in Prometheus' tree means no offset.
        let want_offsets: Vec<f64> = want
            .offsets
            .iter()
            .filter(|o| **o != 0.0)
            .copied()
            .collect();
        let same = got.offsets == want_offsets
            && got.ranges == want.ranges
            && got
                .steps
                .iter()
                .filter(|s| **s != 0.0)
                .copied()
                .collect::<Vec<_>>()
                == want.steps
            && got.ts == want.ts
            && got.se == want.se
            && got.matchers == want.matchers
            && got.funcs == want.funcs
            && got.groupings == want.groupings
            && got.mlabels == nonempty(want.mlabels)
            && got.incl == nonempty(want.incl)
            && got.cards == want.cards
            && (has_durations || got.ops == want.ops)
            && got.rb == want.rb
            && got.without == want.without
            && got.on == want.on;
        checked += 1;
        if !same {
            mismatched.push(format!("{:?}: got {got:?}", want.input));
        }
    }
    println!(
        "prometheus parse trees: {checked} checked, {} mismatched",
        mismatched.len()
    );
    assert!(checked > 200);
    assert!(mismatched.is_empty(), "{}", mismatched.join("\n"));
}
