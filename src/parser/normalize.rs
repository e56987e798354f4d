//! Canonical form of a tree: what parsing its printed text gives back.
//!
//! The canonical printer (Prometheus' `String()`) drops a few distinctions
//! that carry no meaning: an empty `by ()`, an empty one-to-one or
//! many-to-many `ignoring ()`, the order of matchers, a unary `+` or
//! `-literal` in duration expressions, a zero offset, and whether a range,
//! step or offset was written as seconds (`[300]`) or as a duration
//! (`[5m]`). [`Expr::normalize`] applies the same folding to a tree, so that
//! two trees that mean the same query compare equal.

use super::ast::{DurationExpr, Expr, NumberLiteral, UnaryOp, VectorSelector};

impl Expr {
    /// Rewrites the tree into the form that parsing its canonical printing
    /// gives back. Spans are kept.
    ///
    /// The canonical printer drops distinctions that carry no meaning: an
    /// empty `by ()`, an empty one-to-one or many-to-many `ignoring ()`, the
    /// order of matchers, a unary `+` or `-literal` in duration expressions,
    /// a zero offset, and whether a range, step or offset was written as
    /// seconds (`[300]`) or as a duration (`[5m]`).
    pub fn normalize(&mut self) {
        normalize(self);
    }
}

fn normalize(e: &mut Expr) {
    match e {
        Expr::Aggregate(a) => {
            if matches!(&a.grouping, Some(g) if !g.without && g.labels.is_empty()) {
                a.grouping = None;
            }
            if let Some(p) = &mut a.param {
                normalize(p);
            }
            normalize(&mut a.expr);
        }
        Expr::Binary(b) => {
            if let Some(m) = &b.matching {
                let trivial = !m.on
                    && m.matching_labels.is_empty()
                    && m.include.is_empty()
                    && m.fill.lhs.is_none()
                    && m.fill.rhs.is_none()
                    && matches!(
                        m.card,
                        super::ast::VectorMatchCardinality::OneToOne
                            | super::ast::VectorMatchCardinality::ManyToMany
                    );
                if trivial {
                    b.matching = None;
                }
            }
            normalize(&mut b.lhs);
            normalize(&mut b.rhs);
        }
        Expr::Call(c) => c.args.iter_mut().for_each(normalize),
        Expr::MatrixSelector(m) => {
            normalize_selector(&mut m.selector);
            normalize_duration_position(&mut m.range);
        }
        Expr::Subquery(s) => {
            normalize(&mut s.expr);
            normalize_duration_position(&mut s.range);
            if let Some(step) = &mut s.step {
                normalize_duration_position(step);
            }
            normalize_offset(&mut s.offset);
        }
        Expr::Paren(p) => normalize(&mut p.expr),
        Expr::Unary(u) => normalize(&mut u.expr),
        Expr::VectorSelector(v) => normalize_selector(v),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
    }
}

fn normalize_selector(v: &mut VectorSelector) {
    v.matchers.sort_by(|a, b| {
        (a.name.as_str(), a.op, a.value.as_str()).cmp(&(b.name.as_str(), b.op, b.value.as_str()))
    });
    normalize_offset(&mut v.offset);
}

fn normalize_offset(offset: &mut Option<DurationExpr>) {
    if let Some(d) = offset {
        normalize_duration_position(d);
        if d.as_literal_millis() == Some(0) {
            *offset = None;
        }
    }
}

fn normalize_duration_position(d: &mut DurationExpr) {
    normalize_duration(d);
    if let DurationExpr::Literal(n) = d {
        let millis = (n.value * 1000.0).round();
        *n = NumberLiteral {
            value: millis / 1000.0,
            is_duration: true,
            span: n.span,
        };
    }
}

fn normalize_duration(d: &mut DurationExpr) {
    match d {
        DurationExpr::Unary { op, expr, .. } => {
            let op = *op;
            normalize_duration(expr);
            let inner = std::mem::replace(&mut **expr, DurationExpr::Step(Default::default()));
            *d = match (op, inner) {
                (UnaryOp::Pos, inner) => inner,
                (UnaryOp::Neg, DurationExpr::Literal(n)) => DurationExpr::Literal(NumberLiteral {
                    value: -n.value,
                    ..n
                }),
                (op, inner) => DurationExpr::Unary {
                    op,
                    expr: Box::new(inner),
                    span: Default::default(),
                },
            };
        }
        DurationExpr::Binary { lhs, rhs, .. } => {
            normalize_duration(lhs);
            normalize_duration(rhs);
        }
        DurationExpr::MinMax { a, b, .. } => {
            normalize_duration(a);
            normalize_duration(b);
        }
        DurationExpr::Paren { expr, .. } => normalize_duration(expr),
        DurationExpr::Literal(_) | DurationExpr::Step(_) | DurationExpr::Range(_) => {}
    }
}
