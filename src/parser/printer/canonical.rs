//! The canonical one-line form, as Prometheus' `String()` prints it.
//!
//! Everything writes into a `&mut dyn Write`, so the same code serves
//! `Display`, the pretty printer and the pretty printer's length checks
//! (which stop writing as soon as a line is too long).

use std::fmt::{self, Write};

use super::text::{
    is_bare_metric_name, seconds_to_millis, write_duration_millis, write_float, write_float_v,
    write_go_quoted, write_label_name, write_list_label_name, write_timestamp_millis,
};
use crate::model::{METRIC_NAME, MatchOp, Matcher};
use crate::parser::ast::{
    AggregateExpr, AtModifier, BinaryExpr, BinaryOp, Call, DurationExpr, Expr, FillValues,
    Grouping, MatrixSelector, NumberLiteral, ParenExpr, StringLiteral, SubqueryExpr, UnaryExpr,
    UnaryOp, VectorMatchCardinality, VectorMatching, VectorSelector,
};

/// Writes any expression.
pub(crate) fn expr(w: &mut dyn Write, e: &Expr) -> fmt::Result {
    match e {
        Expr::Aggregate(a) => aggregate(w, a),
        Expr::Binary(b) => binary(w, b),
        Expr::Call(c) => call(w, c),
        Expr::MatrixSelector(m) => matrix_selector(w, m),
        Expr::Subquery(s) => subquery(w, s),
        Expr::NumberLiteral(n) => number(w, n),
        Expr::Paren(p) => paren(w, p),
        Expr::StringLiteral(s) => string(w, s),
        Expr::Unary(u) => unary(w, u),
        Expr::VectorSelector(v) => vector_selector(w, v),
    }
}

/// `sum by (job) (x)`, `topk(3, x)`.
pub(crate) fn aggregate(w: &mut dyn Write, a: &AggregateExpr) -> fmt::Result {
    aggregate_head(w, a)?;
    w.write_char('(')?;
    if let Some(param) = &a.param {
        expr(w, param)?;
        w.write_str(", ")?;
    }
    expr(w, &a.expr)?;
    w.write_char(')')
}

/// The operator and grouping clause, with a trailing space after a clause:
/// `sum`, `sum by (job) `, `sum without () `.
pub(crate) fn aggregate_head(w: &mut dyn Write, a: &AggregateExpr) -> fmt::Result {
    w.write_str(a.op.as_str())?;
    match &a.grouping {
        Some(g) if g.without || !g.labels.is_empty() => {
            w.write_char(' ')?;
            grouping(w, g)?;
            w.write_char(' ')
        }
        _ => Ok(()),
    }
}

/// `by (a, b)` or `without (a)`.
pub(crate) fn grouping(w: &mut dyn Write, g: &Grouping) -> fmt::Result {
    w.write_str(if g.without { "without (" } else { "by (" })?;
    label_list(w, &g.labels)?;
    w.write_char(')')
}

fn label_list(w: &mut dyn Write, labels: &[String]) -> fmt::Result {
    for (i, name) in labels.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        write_list_label_name(w, name)?;
    }
    Ok(())
}

/// `a + on (b) group_left (c) d`.
pub(crate) fn binary(w: &mut dyn Write, b: &BinaryExpr) -> fmt::Result {
    binary_lhs(w, b)?;
    w.write_char(' ')?;
    binary_operator(w, b)?;
    w.write_char(' ')?;
    expr(w, &b.rhs)
}

/// The left operand of a binary expression. A positive infinity before `^`
/// is written `Inf`, not `+Inf`: `+Inf ^ 2` reads back as `+(Inf ^ 2)`, as
/// `^` binds tighter than a sign (Prometheus prints `+Inf ^ 2` there).
pub(crate) fn binary_lhs(w: &mut dyn Write, b: &BinaryExpr) -> fmt::Result {
    match &b.lhs {
        Expr::NumberLiteral(n)
            if b.op == BinaryOp::Pow && !n.is_duration && n.value == f64::INFINITY =>
        {
            w.write_str("Inf")
        }
        lhs => expr(w, lhs),
    }
}

/// The operator with its modifiers: `+`, `> bool`, `* on (a) group_left ()`.
pub(crate) fn binary_operator(w: &mut dyn Write, b: &BinaryExpr) -> fmt::Result {
    w.write_str(b.op.as_str())?;
    if b.return_bool {
        w.write_str(" bool")?;
    }
    match &b.matching {
        Some(m) => vector_matching(w, m),
        None => Ok(()),
    }
}

/// The matching modifiers, each preceded by a space. An empty `ignoring ()`
/// is dropped unless a `group_*` modifier needs it.
fn vector_matching(w: &mut dyn Write, m: &VectorMatching) -> fmt::Result {
    let group = match m.card {
        VectorMatchCardinality::ManyToOne => Some("group_left"),
        VectorMatchCardinality::OneToMany => Some("group_right"),
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => None,
    };
    if m.on || !m.matching_labels.is_empty() || group.is_some() {
        w.write_str(if m.on { " on (" } else { " ignoring (" })?;
        label_list(w, &m.matching_labels)?;
        w.write_char(')')?;
    }
    if let Some(group) = group {
        write!(w, " {group} (")?;
        label_list(w, &m.include)?;
        w.write_char(')')?;
    }
    fill(w, &m.fill)
}

fn fill(w: &mut dyn Write, fill: &FillValues) -> fmt::Result {
    let clause = |w: &mut dyn Write, name: &str, v: f64| {
        write!(w, " {name} (")?;
        write_float_v(w, v)?;
        w.write_char(')')
    };
    match (fill.lhs, fill.rhs) {
        // NaN never equals NaN, so `fill_left (NaN) fill_right (NaN)` stays split, as in Go.
        (Some(l), Some(r)) if l == r => clause(w, "fill", l),
        (l, r) => {
            if let Some(l) = l {
                clause(w, "fill_left", l)?;
            }
            if let Some(r) = r {
                clause(w, "fill_right", r)?;
            }
            Ok(())
        }
    }
}

/// `rate(x[5m])`.
pub(crate) fn call(w: &mut dyn Write, c: &Call) -> fmt::Result {
    w.write_str(c.func.name)?;
    w.write_char('(')?;
    for (i, arg) in c.args.iter().enumerate() {
        if i > 0 {
            w.write_str(", ")?;
        }
        call_argument(w, c, i, arg)?;
    }
    w.write_char(')')
}

/// Argument `i` of a call. `info`'s label selector argument keeps its
/// metric name inside the braces (`{"target_info",a="b"}`): there a name
/// before the braces is an error.
pub(crate) fn call_argument(w: &mut dyn Write, c: &Call, i: usize, arg: &Expr) -> fmt::Result {
    match arg {
        Expr::VectorSelector(v) if i == 1 && c.func.name == "info" => {
            selector_with_modifiers(w, v, NamePlacement::InsideBraces)
        }
        _ => expr(w, arg),
    }
}

/// `x{a="b"}[5m] anchored @ 100.000 offset 1m`: the modifiers follow the range.
pub(crate) fn matrix_selector(w: &mut dyn Write, m: &MatrixSelector) -> fmt::Result {
    let v = &m.selector;
    selector_matchers(w, v, NamePlacement::BeforeBraces)?;
    w.write_char('[')?;
    duration(w, &m.range)?;
    w.write_char(']')?;
    extended_range(w, v)?;
    at(w, v.at.as_ref())?;
    offset(w, v.offset.as_ref())
}

/// `expr[30m:1m] @ start() offset 5m`.
pub(crate) fn subquery(w: &mut dyn Write, s: &SubqueryExpr) -> fmt::Result {
    expr(w, &s.expr)?;
    subquery_suffix(w, s)
}

/// Everything after the inner expression: `[30m:1m] @ 1.000 offset 5m`.
pub(crate) fn subquery_suffix(w: &mut dyn Write, s: &SubqueryExpr) -> fmt::Result {
    w.write_char('[')?;
    duration(w, &s.range)?;
    w.write_char(':')?;
    if let Some(step) = &s.step {
        duration(w, step)?;
    }
    w.write_char(']')?;
    at(w, s.at.as_ref())?;
    offset(w, s.offset.as_ref())
}

/// A number: Go's shortest decimal form, or a duration when written as one.
pub(crate) fn number(w: &mut dyn Write, n: &NumberLiteral) -> fmt::Result {
    if n.is_duration {
        write_duration_millis(w, seconds_to_millis(n.value))
    } else {
        write_float(w, n.value)
    }
}

/// `(expr)`.
pub(crate) fn paren(w: &mut dyn Write, p: &ParenExpr) -> fmt::Result {
    w.write_char('(')?;
    expr(w, &p.expr)?;
    w.write_char(')')
}

/// A double-quoted string with Go escapes.
pub(crate) fn string(w: &mut dyn Write, s: &StringLiteral) -> fmt::Result {
    match &s.invalid_utf8 {
        Some(bytes) => crate::model::quote::write_go_quoted_bytes(w, bytes),
        None => write_go_quoted(w, &s.value),
    }
}

/// `-expr`, `+expr`.
pub(crate) fn unary(w: &mut dyn Write, u: &UnaryExpr) -> fmt::Result {
    w.write_str(u.op.as_str())?;
    expr(w, &u.expr)
}

/// `x{a="b"} @ 1.000 anchored offset 5m`.
pub(crate) fn vector_selector(w: &mut dyn Write, v: &VectorSelector) -> fmt::Result {
    selector_with_modifiers(w, v, NamePlacement::BeforeBraces)
}

/// The name and matchers (the name placed as `place` says), then `@`, the
/// extended range modifiers and `offset`.
fn selector_with_modifiers(
    w: &mut dyn Write,
    v: &VectorSelector,
    place: NamePlacement,
) -> fmt::Result {
    selector_matchers(w, v, place)?;
    at(w, v.at.as_ref())?;
    extended_range(w, v)?;
    offset(w, v.offset.as_ref())
}

/// Where [`selector_matchers`] writes a metric name.
#[derive(Clone, Copy, PartialEq)]
enum NamePlacement {
    /// `x{a="b"}`; a name that is not a legacy metric name goes inside.
    BeforeBraces,
    /// Always quoted inside: `{"x",a="b"}`.
    InsideBraces,
}

/// The name and matchers, without modifiers. Matchers are sorted by their
/// printed form; the `__name__` matcher that repeats the name is folded into
/// it. A name that is not a legacy metric name is quoted inside the braces:
/// `{"my.metric",a="b"}`.
fn selector_matchers(w: &mut dyn Write, v: &VectorSelector, place: NamePlacement) -> fmt::Result {
    let is_name_matcher = |m: &Matcher| {
        m.name == METRIC_NAME
            && m.op == MatchOp::Equal
            && v.name.as_deref() == Some(m.value.as_str())
    };
    let mut printed: Vec<String> = v
        .matchers
        .iter()
        .filter(|m| !is_name_matcher(m))
        .map(matcher_string)
        .collect();
    printed.sort_unstable();

    let quoted_name = match v.name.as_deref() {
        Some(name) if place == NamePlacement::BeforeBraces && is_bare_metric_name(name) => {
            w.write_str(name)?;
            None
        }
        other => other,
    };
    if quoted_name.is_none() && printed.is_empty() {
        // A selector with neither name nor matchers (only valid as `info`'s
        // label selector argument) prints as `{}`, so that it parses back.
        // Prometheus prints nothing there, which does not parse.
        if v.name.is_none() {
            w.write_str("{}")?;
        }
        return Ok(());
    }
    w.write_char('{')?;
    let mut first = true;
    if let Some(name) = quoted_name {
        write_go_quoted(w, name)?;
        first = false;
    }
    for item in &printed {
        if !first {
            w.write_char(',')?;
        }
        w.write_str(item)?;
        first = false;
    }
    w.write_char('}')
}

/// `name="value"`, the name quoted when it is not a legacy label name.
fn matcher_string(m: &Matcher) -> String {
    let mut s = String::with_capacity(m.name.len() + m.value.len() + 5);
    // Writing to a String cannot fail.
    let _ = write_label_name(&mut s, &m.name)
        .and_then(|_| s.write_str(m.op.as_str()))
        .and_then(|_| write_go_quoted(&mut s, &m.value));
    s
}

fn extended_range(w: &mut dyn Write, v: &VectorSelector) -> fmt::Result {
    if v.anchored {
        w.write_str(" anchored")
    } else if v.smoothed {
        w.write_str(" smoothed")
    } else {
        Ok(())
    }
}

fn at(w: &mut dyn Write, at: Option<&AtModifier>) -> fmt::Result {
    match at {
        Some(at) => {
            w.write_char(' ')?;
            at_modifier(w, at)
        }
        None => Ok(()),
    }
}

/// `@ 100.000`, `@ start()`, `@ end()`.
pub(crate) fn at_modifier(w: &mut dyn Write, at: &AtModifier) -> fmt::Result {
    match at {
        AtModifier::Timestamp(ms) => {
            w.write_str("@ ")?;
            write_timestamp_millis(w, *ms)
        }
        AtModifier::Start => w.write_str("@ start()"),
        AtModifier::End => w.write_str("@ end()"),
    }
}

/// ` offset 5m`; nothing for a zero literal offset (as Prometheus).
///
/// After `offset` a sign followed by an atom ends the duration (`x offset
/// -2 ^ 2` is `(x offset -2) ^ 2`); only two signs in a row make the parser
/// read a power expression (`x offset -+2 ^ 2` is `x offset -(2 ^ 2)`). An
/// offset that is a power, or the negation of one, is printed that way.
fn offset(w: &mut dyn Write, offset: Option<&DurationExpr>) -> fmt::Result {
    let Some(d) = offset.filter(|d| d.as_literal_millis() != Some(0)) else {
        return Ok(());
    };
    w.write_str(" offset ")?;
    match d {
        DurationExpr::Binary { .. } => {
            w.write_str("++")?;
            duration_expr(w, d)
        }
        DurationExpr::Unary {
            op: UnaryOp::Neg,
            expr,
            ..
        } if matches!(**expr, DurationExpr::Binary { .. }) => {
            w.write_str("-+")?;
            duration_expr(w, expr)
        }
        _ => duration(w, d),
    }
}

/// A duration in a range, step or offset position. A plain number there is
/// a duration in seconds and prints as one (`[300]` prints `[5m]`); numbers
/// inside a duration expression print as written (`[200 - step()]`).
pub(crate) fn duration(w: &mut dyn Write, d: &DurationExpr) -> fmt::Result {
    match d {
        DurationExpr::Literal(n) => write_duration_millis(w, seconds_to_millis(n.value)),
        other => duration_expr(w, other),
    }
}

fn duration_expr(w: &mut dyn Write, d: &DurationExpr) -> fmt::Result {
    match d {
        DurationExpr::Literal(n) => number(w, n),
        DurationExpr::Step(_) => w.write_str("step()"),
        DurationExpr::Range(_) => w.write_str("range()"),
        // Unary plus is not printed, as in Prometheus.
        DurationExpr::Unary { op, expr, .. } => {
            if *op == UnaryOp::Neg {
                w.write_char('-')?;
            }
            duration_expr(w, expr)
        }
        DurationExpr::Binary { op, lhs, rhs, .. } => {
            duration_expr(w, lhs)?;
            write!(w, " {} ", op.as_str())?;
            duration_expr(w, rhs)
        }
        DurationExpr::MinMax { is_max, a, b, .. } => {
            w.write_str(if *is_max { "max_of(" } else { "min_of(" })?;
            duration_expr(w, a)?;
            w.write_str(", ")?;
            duration_expr(w, b)?;
            w.write_char(')')
        }
        DurationExpr::Paren { expr, .. } => {
            w.write_char('(')?;
            duration_expr(w, expr)?;
            w.write_char(')')
        }
    }
}
