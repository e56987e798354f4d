//! Printing and parsing are inverse: for well-typed trees of every node
//! kind, parsing the canonical form (`Display`) or the pretty form
//! (`format`) gives the same tree back (spans and printer normalisations
//! aside), and printing the reparsed tree gives the same text.
//!
//! The same is checked for every `eval` query of the upstream test scripts
//! and every `expr:` of the shared rule-file corpus, when present.

mod support;

use promql_engine::model::{MatchOp, Matcher, ValueType};
use promql_engine::parser::printer::format_with_width;
use promql_engine::parser::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, DurationExpr, Expr,
    FUNCTIONS, FillValues, Grouping, MatrixSelector, NumberLiteral, ParenExpr, ParseOptions, Span,
    StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp, VectorMatchCardinality, VectorMatching,
    VectorSelector, format, parse_with,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use support::canonical_tree;

const NO_SPAN: Span = Span::new(0, 0);
const MAX_DEPTH: usize = 4;

type Strat = BoxedStrategy<Expr>;

/// One strategy per value type, indexed by [`slot`].
type ByType = [Strat; 4];

fn slot(t: ValueType) -> usize {
    match t {
        ValueType::Scalar => 0,
        ValueType::Vector => 1,
        ValueType::Matrix => 2,
        ValueType::String => 3,
    }
}

/// Checks one tree: both printed forms reparse to the same tree and are fixpoints.
fn check_roundtrip(e: &Expr) -> Result<(), String> {
    let options = ParseOptions::all();
    let want = canonical_tree(e);
    let printed = e.to_string();
    let forms = [
        ("display", printed.clone()),
        ("format", format(e)),
        ("format(width 20)", format_with_width(e, 20)),
    ];
    for (form, text) in forms {
        let reparsed = parse_with(&text, &options)
            .map_err(|err| format!("{form} does not parse:\n{text}\n{}", err.render(&text)))?;
        if canonical_tree(&reparsed) != want {
            return Err(format!(
                "{form} reparses to another tree:\n{text}\nwant {want}\ngot  {}",
                canonical_tree(&reparsed)
            ));
        }
        let again = match form {
            "display" => reparsed.to_string(),
            "format" => format(&reparsed),
            _ => format_with_width(&reparsed, 20),
        };
        if again != text {
            return Err(format!("{form} is not a fixpoint:\n{text}\nthen\n{again}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 768,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn printed_trees_parse_back(e in any_expr()) {
        if let Err(msg) = check_roundtrip(&e) {
            prop_assert!(false, "{}", msg);
        }
    }
}

/// A positive infinity before `^` (found by the `roundtrip` fuzz target):
/// printed `+Inf ^ 2`, it read back as `+(Inf ^ 2)`.
#[test]
fn positive_infinity_before_a_power_round_trips() {
    for query in ["inf ^ 2", "x % inf ^ ---y", "Inf ^ inf ^ +Inf", "-inf ^ 2"] {
        let expr = parse_with(query, &ParseOptions::all()).unwrap();
        if let Err(msg) = check_roundtrip(&expr) {
            panic!("{query}: {msg}");
        }
    }
}

#[test]
fn roundtrip_upstream_eval_queries() {
    let dir = support::promqltest_dir();
    let Some(queries) = support::eval_queries(&dir) else {
        println!("roundtrip corpus: skipped, {} not found", dir.display());
        return;
    };
    let options = ParseOptions::all();
    let (mut passed, mut failed, mut unparsable) = (0, 0, 0);
    for (file, line, query) in &queries {
        let Ok(expr) = parse_with(query, &options) else {
            unparsable += 1;
            continue;
        };
        match check_roundtrip(&expr) {
            Ok(()) => passed += 1,
            Err(msg) => {
                failed += 1;
                println!("{file}:{line}: {query}\n{msg}\n");
            }
        }
    }
    println!(
        "roundtrip corpus: {passed} passed, {failed} failed ({unparsable} queries do not parse)"
    );
    assert!(passed > 0, "no query of {} parsed", dir.display());
    assert_eq!(failed, 0, "some upstream queries do not round-trip");
}

#[test]
fn roundtrip_rule_corpus_exprs() {
    let Some(dir) = support::rule_corpus_dir() else {
        println!("rule corpus roundtrip: skipped, ../shared/rules/corpus not found");
        return;
    };
    let options = ParseOptions::all();
    let (mut passed, mut failed, mut unparsable) = (0, 0, 0);
    for (file, line, expr_text) in support::rule_exprs(&dir) {
        let Ok(expr) = parse_with(&expr_text, &options) else {
            unparsable += 1;
            continue;
        };
        match check_roundtrip(&expr) {
            Ok(()) => passed += 1,
            Err(msg) => {
                failed += 1;
                println!("{file}:{line}: {expr_text}\n{msg}\n");
            }
        }
    }
    println!(
        "rule corpus roundtrip: {passed} passed, {failed} failed ({unparsable} extracted values do not parse)"
    );
    assert!(passed > 0, "no rule expression parsed");
    assert_eq!(failed, 0, "some rule expressions do not round-trip");
}

// ---------------------------------------------------------------------------
// Strategies. They build only trees the parser itself would build: operands
// are parenthesised where precedence needs it, and every node is well typed.

/// An expression of any type, up to [`MAX_DEPTH`] levels of nesting.
fn any_expr() -> Strat {
    let levels = typed_levels(MAX_DEPTH);
    let top = &levels[MAX_DEPTH];
    prop_oneof![
        5 => top[slot(ValueType::Vector)].clone(),
        2 => top[slot(ValueType::Scalar)].clone(),
        2 => top[slot(ValueType::Matrix)].clone(),
        1 => top[slot(ValueType::String)].clone(),
    ]
    .boxed()
}

/// `levels[d]` generates trees of depth at most `d`, per type.
fn typed_levels(max_depth: usize) -> Vec<ByType> {
    let mut levels = vec![[
        number_literal(),
        vector_selector_expr(),
        matrix_selector(),
        string_literal(),
    ]];
    for _ in 0..max_depth {
        let prev = levels.last().cloned().expect("level 0 exists");
        levels.push(compound(&prev));
    }
    levels
}

fn compound(prev: &ByType) -> ByType {
    let scalar = prev[slot(ValueType::Scalar)].clone();
    let vector = prev[slot(ValueType::Vector)].clone();
    let matrix = prev[slot(ValueType::Matrix)].clone();
    let string = prev[slot(ValueType::String)].clone();
    [
        prop_oneof![
            3 => scalar.clone(),
            3 => scalar_binary(scalar.clone()),
            2 => calls_returning(ValueType::Scalar, prev),
            1 => unary(scalar.clone()),
            1 => scalar.clone().prop_map(paren),
        ]
        .boxed(),
        prop_oneof![
            3 => vector.clone(),
            3 => aggregate(vector.clone(), scalar.clone()),
            4 => vector_binary(vector.clone(), scalar.clone()),
            4 => calls_returning(ValueType::Vector, prev),
            1 => unary(vector.clone()),
            1 => vector.clone().prop_map(paren),
        ]
        .boxed(),
        prop_oneof![
            3 => matrix.clone(),
            3 => subquery(vector),
            1 => matrix.prop_map(paren),
        ]
        .boxed(),
        string,
    ]
}

// --- leaves ----------------------------------------------------------------

fn number_literal() -> Strat {
    let plain = select(vec![
        0.0,
        1.0,
        2.5,
        -3.0,
        0.1,
        1e-7,
        1e21,
        1048576.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ])
    .prop_map(|value| number(value, false));
    let duration = signed_millis().prop_map(|ms| number(ms as f64 / 1000.0, true));
    prop_oneof![4 => plain, 1 => duration].boxed()
}

fn number(value: f64, is_duration: bool) -> Expr {
    Expr::NumberLiteral(NumberLiteral {
        value,
        is_duration,
        span: NO_SPAN,
    })
}

fn string_literal() -> Strat {
    text_value().prop_map(string).boxed()
}

fn string(value: String) -> Expr {
    Expr::StringLiteral(StringLiteral {
        value,
        invalid_utf8: None,
        span: NO_SPAN,
    })
}

/// Strings that are also valid regexes and label values.
fn text_value() -> impl Strategy<Value = String> + Clone {
    select(vec![
        "",
        "x",
        "api",
        "a\"b",
        "new\nline",
        "tab\t",
        "ü日本",
        "\\d+",
        ".*",
        "a|b",
        "(.*):.*",
        "$1",
        "\\\\",
        "'",
        "`",
        "\u{1b}",
    ])
    .prop_map(String::from)
}

fn label_name() -> impl Strategy<Value = String> + Clone {
    select(vec![
        "job", "instance", "le", "_0", "a.b", "ü", "on", "by", "offset", "sum", "bool", "0x",
        "without", "Inf",
    ])
    .prop_map(String::from)
}

fn metric_name() -> impl Strategy<Value = String> + Clone {
    select(vec![
        "up",
        "http_requests_total",
        "foo:bar",
        "a",
        "my.metric",
        "ünïcode",
        "with space",
        "inf",
        "nan",
        "offset",
    ])
    .prop_map(String::from)
}

fn match_op() -> impl Strategy<Value = MatchOp> + Clone {
    select(vec![
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::Regex,
        MatchOp::NotRegex,
    ])
}

fn at_modifier() -> impl Strategy<Value = AtModifier> + Clone {
    prop_oneof![
        select(vec![0, 10_000, 1_500, -500, 1_603_775_091_000]).prop_map(AtModifier::Timestamp),
        Just(AtModifier::Start),
        Just(AtModifier::End),
    ]
}

/// A selector with a name or a non-empty matcher, and optional modifiers.
fn selector(with_modifiers: bool) -> impl Strategy<Value = VectorSelector> {
    let matchers = prop::collection::vec((label_name(), match_op(), text_value()), 0..3);
    let modifiers = (
        prop::option::weighted(0.3, offset_duration()),
        prop::option::weighted(0.2, at_modifier()),
        select(vec![0u8, 0, 0, 0, 1, 2]),
    );
    (
        prop::option::weighted(0.85, metric_name()),
        matchers,
        modifiers,
    )
        .prop_map(move |(name, matchers, (offset, at, extended))| {
            let mut all: Vec<Matcher> = Vec::new();
            if name.is_none() {
                all.push(Matcher::equal("job", "api"));
            }
            for (label, op, value) in matchers {
                all.push(Matcher::new(op, label, value).expect("pool values are valid regexes"));
            }
            if let Some(name) = &name {
                all.push(Matcher::equal("__name__", name.as_str()));
            }
            let mut v = VectorSelector {
                name,
                matchers: all,
                offset: None,
                at: None,
                anchored: false,
                smoothed: false,
                span: NO_SPAN,
            };
            if with_modifiers {
                v.offset = offset;
                v.at = at;
                v.anchored = extended == 1;
                v.smoothed = extended == 2;
            }
            v
        })
}

fn vector_selector_expr() -> Strat {
    selector(true)
        .prop_map(|v| Expr::VectorSelector(Box::new(v)))
        .boxed()
}

fn matrix_selector() -> Strat {
    (selector(true), range_duration())
        .prop_map(|(selector, range)| {
            Expr::MatrixSelector(Box::new(MatrixSelector {
                selector,
                range,
                span: NO_SPAN,
            }))
        })
        .boxed()
}

// --- durations -------------------------------------------------------------

fn positive_millis() -> impl Strategy<Value = i64> + Clone {
    select(vec![
        1,
        1_500,
        1_000,
        60_000,
        300_000,
        5_400_000,
        86_400_000,
        604_800_000,
        31_536_000_000,
        7_776_000_000,
    ])
}

fn signed_millis() -> impl Strategy<Value = i64> + Clone {
    (positive_millis(), any::<bool>()).prop_map(|(ms, neg)| if neg { -ms } else { ms })
}

/// A literal duration: written as a duration (`5m`) or as seconds (`300`).
fn duration_literal(millis: impl Strategy<Value = i64>) -> impl Strategy<Value = DurationExpr> {
    (millis, any::<bool>()).prop_map(|(ms, is_duration)| {
        DurationExpr::Literal(NumberLiteral {
            value: ms as f64 / 1000.0,
            is_duration,
            span: NO_SPAN,
        })
    })
}

/// A duration expression (for inside brackets, where anything goes).
fn duration_expr() -> BoxedStrategy<DurationExpr> {
    let leaf = prop_oneof![
        3 => duration_literal(positive_millis()),
        1 => duration_literal(positive_millis().prop_map(|ms| -ms)),
        1 => Just(DurationExpr::Step(NO_SPAN)),
        1 => Just(DurationExpr::Range(NO_SPAN)),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            3 => (
                select(vec![
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::Mod,
                    BinaryOp::Pow,
                ]),
                inner.clone(),
                inner.clone(),
            )
                .prop_map(|(op, lhs, rhs)| duration_binary(op, lhs, rhs)),
            1 => (any::<bool>(), inner.clone(), inner.clone()).prop_map(|(is_max, a, b)| {
                DurationExpr::MinMax {
                    is_max,
                    a: Box::new(a),
                    b: Box::new(b),
                    span: NO_SPAN,
                }
            }),
            1 => inner.clone().prop_map(duration_paren),
            1 => inner.prop_map(duration_neg),
        ]
    })
    .boxed()
}

fn contains_literal(d: &DurationExpr) -> bool {
    match d {
        DurationExpr::Literal(_) => true,
        DurationExpr::Step(_) | DurationExpr::Range(_) => false,
        DurationExpr::Unary { expr, .. } | DurationExpr::Paren { expr, .. } => {
            contains_literal(expr)
        }
        DurationExpr::Binary { lhs: a, rhs: b, .. } | DurationExpr::MinMax { a, b, .. } => {
            contains_literal(a) || contains_literal(b)
        }
    }
}

fn literal_millis(ms: i64) -> DurationExpr {
    DurationExpr::Literal(NumberLiteral {
        value: ms as f64 / 1000.0,
        is_duration: true,
        span: NO_SPAN,
    })
}

fn duration_paren(d: DurationExpr) -> DurationExpr {
    DurationExpr::Paren {
        expr: Box::new(d),
        span: NO_SPAN,
    }
}

/// `-d`; a literal is negated in place (the parser folds `-5m`), a binary
/// operand other than `^` is parenthesised.
fn duration_neg(d: DurationExpr) -> DurationExpr {
    match d {
        DurationExpr::Literal(n) => DurationExpr::Literal(NumberLiteral {
            value: -n.value,
            ..n
        }),
        DurationExpr::Binary { op, .. } if op != BinaryOp::Pow => DurationExpr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(duration_paren(d)),
            span: NO_SPAN,
        },
        d => DurationExpr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(d),
            span: NO_SPAN,
        },
    }
}

fn duration_binary(op: BinaryOp, lhs: DurationExpr, rhs: DurationExpr) -> DurationExpr {
    let binds = |d: &DurationExpr| match d {
        DurationExpr::Binary { op, .. } => Binding::Binary(*op),
        DurationExpr::Unary { .. } => Binding::Prefix,
        DurationExpr::Literal(n) if n.value.is_sign_negative() => Binding::Prefix,
        _ => Binding::Atom,
    };
    let lhs = if needs_parens(binds(&lhs), op, Side::Left) {
        duration_paren(lhs)
    } else {
        lhs
    };
    let rhs = if needs_parens(binds(&rhs), op, Side::Right) {
        duration_paren(rhs)
    } else {
        rhs
    };
    DurationExpr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        span: NO_SPAN,
    }
}

/// A range or step: a positive literal or a duration expression (a bare
/// literal there must be positive).
fn range_duration() -> BoxedStrategy<DurationExpr> {
    prop_oneof![
        4 => duration_literal(positive_millis()),
        1 => duration_expr().prop_map(|d| match d {
            DurationExpr::Literal(n) => DurationExpr::Literal(NumberLiteral {
                value: n.value.abs(),
                ..n
            }),
            d => d,
        }),
    ]
    .boxed()
}

/// An offset: a signed literal, or a duration expression that cannot be
/// mistaken for the start of a binary expression after the offset.
fn offset_duration() -> BoxedStrategy<DurationExpr> {
    prop_oneof![
        4 => duration_literal(signed_millis()),
        1 => duration_expr().prop_map(|d| {
            let safe = |d: &DurationExpr| {
                matches!(
                    d,
                    DurationExpr::Step(_)
                        | DurationExpr::Range(_)
                        | DurationExpr::MinMax { .. }
                        | DurationExpr::Paren { .. }
                )
            };
            let ok = match &d {
                DurationExpr::Literal(_) => true,
                DurationExpr::Unary { expr, .. } => safe(expr),
                other => safe(other),
            };
            if ok { d } else { duration_paren(d) }
        }),
    ]
    .boxed()
}

// --- compound nodes --------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

/// How an operand binds, for deciding on parentheses.
#[derive(Clone, Copy)]
enum Binding {
    /// A binary operation.
    Binary(BinaryOp),
    /// A prefix `-`/`+` (also a number printed with a sign).
    Prefix,
    /// Anything else.
    Atom,
}

/// Whether an operand must be parenthesised under `op` to parse back the same.
fn needs_parens(operand: Binding, op: BinaryOp, side: Side) -> bool {
    match operand {
        Binding::Binary(inner) => {
            let (p, q) = (inner.precedence(), op.precedence());
            p < q || (p == q && (side == Side::Left) == op.is_right_associative())
        }
        // `-a ^ b` is `-(a ^ b)`.
        Binding::Prefix => side == Side::Left && op == BinaryOp::Pow,
        Binding::Atom => false,
    }
}

fn binding(e: &Expr) -> Binding {
    match e {
        Expr::Binary(b) => Binding::Binary(b.op),
        Expr::Unary(_) => Binding::Prefix,
        Expr::NumberLiteral(n) if n.to_string().starts_with(['-', '+']) => Binding::Prefix,
        _ => Binding::Atom,
    }
}

fn paren(e: Expr) -> Expr {
    Expr::Paren(Box::new(ParenExpr {
        expr: e,
        span: NO_SPAN,
    }))
}

fn unary(operand: Strat) -> Strat {
    (select(vec![UnaryOp::Neg, UnaryOp::Pos]), operand)
        .prop_map(|(op, e)| {
            // The parser folds a sign into a number literal; `-a * b` is `(-a) * b`.
            let wrap = match &e {
                Expr::NumberLiteral(_) => true,
                Expr::Binary(b) => b.op != BinaryOp::Pow,
                _ => false,
            };
            Expr::Unary(Box::new(UnaryExpr {
                op,
                expr: if wrap { paren(e) } else { e },
                span: NO_SPAN,
            }))
        })
        .boxed()
}

fn binary(
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    matching: Option<VectorMatching>,
    return_bool: bool,
) -> Expr {
    let lhs = if needs_parens(binding(&lhs), op, Side::Left) {
        paren(lhs)
    } else {
        lhs
    };
    let rhs = if needs_parens(binding(&rhs), op, Side::Right) {
        paren(rhs)
    } else {
        rhs
    };
    Expr::Binary(Box::new(BinaryExpr {
        op,
        lhs,
        rhs,
        matching,
        return_bool,
        span: NO_SPAN,
    }))
}

const ARITHMETIC: [BinaryOp; 7] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::Pow,
    BinaryOp::Atan2,
];
const COMPARISON: [BinaryOp; 6] = [
    BinaryOp::Eql,
    BinaryOp::Neq,
    BinaryOp::Gtr,
    BinaryOp::Lss,
    BinaryOp::Gte,
    BinaryOp::Lte,
];
const SET: [BinaryOp; 3] = [BinaryOp::And, BinaryOp::Or, BinaryOp::Unless];
/// Native histogram trims: `</`, `>/`.
const TRIM: [BinaryOp; 2] = [BinaryOp::TrimUpper, BinaryOp::TrimLower];

fn scalar_binary(scalar: Strat) -> Strat {
    let ops: Vec<BinaryOp> = ARITHMETIC.iter().chain(&COMPARISON).copied().collect();
    (select(ops), scalar.clone(), scalar)
        .prop_map(|(op, lhs, rhs)| {
            // Comparisons between scalars need `bool`.
            binary(op, lhs, rhs, None, op.is_comparison())
        })
        .boxed()
}

fn label_list(max: usize) -> impl Strategy<Value = Vec<String>> + Clone {
    prop::collection::vec(label_name(), 0..=max)
}

fn fill_values() -> impl Strategy<Value = FillValues> {
    let value = select(vec![0.0, -23.0, 42.0, 1e6, 0.5, f64::INFINITY, f64::NAN]);
    prop_oneof![
        6 => Just(FillValues::default()),
        1 => (value.clone(), value.clone(), select(vec![0u8, 1, 2, 3])).prop_map(|(l, r, which)| {
            match which {
                0 => FillValues { lhs: Some(l), rhs: Some(l) },
                1 => FillValues { lhs: Some(l), rhs: None },
                2 => FillValues { lhs: None, rhs: Some(r) },
                _ => FillValues { lhs: Some(l), rhs: Some(r) },
            }
        }),
    ]
}

/// Matching modifiers for a vector/vector operation.
fn vector_matching(set_operator: bool) -> impl Strategy<Value = Option<VectorMatching>> {
    let card = select(vec![
        VectorMatchCardinality::OneToOne,
        VectorMatchCardinality::ManyToOne,
        VectorMatchCardinality::OneToMany,
    ]);
    (
        any::<bool>(),
        label_list(2),
        card,
        label_list(2),
        fill_values(),
        select(vec![0u8, 1, 1, 1]),
    )
        .prop_map(move |(on, labels, card, include, fill, present)| {
            if present == 0 {
                return None;
            }
            if set_operator {
                return Some(VectorMatching {
                    card: VectorMatchCardinality::ManyToMany,
                    matching_labels: labels,
                    on,
                    include: Vec::new(),
                    fill: FillValues::default(),
                });
            }
            let grouped = card != VectorMatchCardinality::OneToOne;
            // A label may not be both in `on (...)` and in `group_x (...)`.
            let include = if grouped {
                include
                    .into_iter()
                    .filter(|l| !(on && labels.contains(l)))
                    .collect()
            } else {
                Vec::new()
            };
            Some(VectorMatching {
                card,
                matching_labels: labels,
                on,
                include,
                fill,
            })
        })
}

fn vector_binary(vector: Strat, scalar: Strat) -> Strat {
    let all_ops: Vec<BinaryOp> = ARITHMETIC
        .iter()
        .chain(&COMPARISON)
        .chain(&SET)
        .chain(&TRIM)
        .copied()
        .collect();
    let sides = select(vec![0u8, 0, 1, 2]); // vector/vector, vector/scalar, scalar/vector
    (
        select(all_ops),
        sides,
        (vector.clone(), vector, scalar),
        vector_matching(false),
        vector_matching(true),
        any::<bool>(),
    )
        .prop_map(
            |(op, sides, (v1, v2, s), matching, set_matching, bool_mod)| {
                let return_bool = op.is_comparison() && bool_mod;
                if op.is_set_operator() {
                    return binary(op, v1, v2, set_matching, false);
                }
                match sides {
                    0 => binary(op, v1, v2, matching, return_bool),
                    1 => binary(op, v1, s, None, return_bool),
                    _ => binary(op, s, v1, None, return_bool),
                }
            },
        )
        .boxed()
}

fn aggregate(vector: Strat, scalar: Strat) -> Strat {
    let grouping = prop::option::weighted(
        0.6,
        (any::<bool>(), label_list(3)).prop_map(|(without, labels)| Grouping { without, labels }),
    );
    (
        select(AggregateOp::ALL.to_vec()),
        grouping,
        scalar,
        text_value(),
        vector,
    )
        .prop_map(|(op, grouping, scalar_param, string_param, expr)| {
            let param = match op {
                AggregateOp::CountValues => Some(string(string_param)),
                op if op.takes_param() => Some(scalar_param),
                _ => None,
            };
            Expr::Aggregate(Box::new(AggregateExpr {
                op,
                expr,
                param,
                grouping,
                span: NO_SPAN,
            }))
        })
        .boxed()
}

/// Calls of every function that returns `ty`, with well-typed arguments.
fn calls_returning(ty: ValueType, prev: &ByType) -> Strat {
    let calls: Vec<Strat> = FUNCTIONS
        .iter()
        .filter(|f| f.return_type == ty)
        .map(|func| {
            let min = func.min_args();
            // `info`'s optional second argument must be a bare label selector.
            let max = if func.name == "info" {
                1
            } else {
                func.max_args().unwrap_or(min + 2).min(min + 2)
            };
            let args: Vec<Strat> = (0..max)
                .filter_map(|i| func.arg_type(i))
                .map(|t| prev[slot(t)].clone())
                .collect();
            (args, min..=max)
                .prop_map(move |(mut args, n)| {
                    args.truncate(n);
                    Expr::Call(Box::new(Call {
                        func,
                        args,
                        span: NO_SPAN,
                    }))
                })
                .boxed()
        })
        .collect();
    Union::new(calls).boxed()
}

/// A subquery over an instant-vector expression.
fn subquery(vector: Strat) -> Strat {
    (
        vector,
        range_duration(),
        prop::option::weighted(0.7, range_duration()),
        prop::option::weighted(0.3, offset_duration()),
        prop::option::weighted(0.2, at_modifier()),
    )
        .prop_map(|(expr, range, step, offset, at)| {
            // Only a primary expression can take `[...]` without parentheses.
            let wrap = match &expr {
                Expr::Binary(_) | Expr::Unary(_) => true,
                Expr::VectorSelector(v) => {
                    v.offset.is_some() || v.at.is_some() || v.anchored || v.smoothed
                }
                _ => false,
            };
            // As in Prometheus' lexer, a subquery range must contain a number
            // before the colon (`[step():]` is an error, `[step() + 1m:]` is not).
            let range = if contains_literal(&range) {
                range
            } else {
                duration_binary(BinaryOp::Add, range, literal_millis(60_000))
            };
            Expr::Subquery(Box::new(SubqueryExpr {
                expr: if wrap { paren(expr) } else { expr },
                range,
                step,
                offset,
                at,
                span: NO_SPAN,
            }))
        })
        .boxed()
}
