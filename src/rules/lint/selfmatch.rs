//! Does a one-to-one binary operation pair every series with itself?
//!
//! Both operands must be the same expression, up to label matchers. With
//! one-to-one matching on all labels, a left series meets the right series
//! with the same labels. When every label whose matchers differ between the
//! two sides survives to the output on both sides (no aggregation drops
//! it), the two output series were computed from the very same input
//! series, so `a / b` is 1 and `a - b` is 0 wherever there is a result.

use std::collections::BTreeSet;

use crate::model::{MatchOp, ValueType};
use crate::parser::{AggregateOp, BinaryExpr, Expr, VectorMatchCardinality};

/// Which labels of the input series reach the output.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kept {
    /// All but these.
    Except(BTreeSet<String>),
    /// Only these.
    Only(BTreeSet<String>),
}

impl Kept {
    fn all() -> Kept {
        Kept::Except(BTreeSet::new())
    }

    fn contains(&self, label: &str) -> bool {
        match self {
            Kept::Except(dropped) => !dropped.contains(label),
            Kept::Only(kept) => kept.contains(label),
        }
    }

    fn keep_only(self, labels: &[String]) -> Kept {
        Kept::Only(
            labels
                .iter()
                .filter(|l| self.contains(l))
                .cloned()
                .collect(),
        )
    }

    fn drop(self, labels: &[String]) -> Kept {
        match self {
            Kept::Except(mut dropped) => {
                dropped.extend(labels.iter().cloned());
                Kept::Except(dropped)
            }
            Kept::Only(mut kept) => {
                kept.retain(|l| !labels.contains(l));
                Kept::Only(kept)
            }
        }
    }
}

/// Functions whose output labels are not the input's (minus `__name__`).
const RELABELLING_FUNCTIONS: &[&str] = &[
    "label_replace",
    "label_join",
    "absent",
    "absent_over_time",
    "vector",
    "scalar",
    "time",
    "info",
];

fn has_selector(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(|e| {
        found |= matches!(e, Expr::VectorSelector(_) | Expr::MatrixSelector(_));
    });
    found
}

/// The labels a chain of label-preserving operations over one selector keeps,
/// or `None` when the expression is not such a chain.
fn kept_labels(expr: &Expr) -> Option<Kept> {
    match expr {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => Some(Kept::all()),
        Expr::Paren(p) => kept_labels(&p.expr),
        Expr::Unary(u) => kept_labels(&u.expr),
        Expr::Subquery(s) => kept_labels(&s.expr),
        Expr::Call(call) => {
            if RELABELLING_FUNCTIONS.contains(&call.func.name) {
                return None;
            }
            let mut series_args = call.args.iter().filter(|a| has_selector(a));
            let inner = series_args.next()?;
            if series_args.next().is_some() {
                return None;
            }
            let kept = kept_labels(inner)?;
            if call.func.name == "histogram_quantile" {
                Some(kept.drop(&["le".to_string()]))
            } else {
                Some(kept)
            }
        }
        Expr::Aggregate(agg) => {
            if agg.op == AggregateOp::CountValues || agg.param.as_ref().is_some_and(has_selector) {
                return None;
            }
            let inner = kept_labels(&agg.expr)?;
            let selects_series = matches!(
                agg.op,
                AggregateOp::Topk
                    | AggregateOp::Bottomk
                    | AggregateOp::Limitk
                    | AggregateOp::LimitRatio
            );
            if selects_series {
                return Some(inner);
            }
            Some(match &agg.grouping {
                None => Kept::Only(BTreeSet::new()),
                Some(g) if g.without => inner.drop(&g.labels),
                Some(g) => inner.keep_only(&g.labels),
            })
        }
        Expr::Binary(_) | Expr::NumberLiteral(_) | Expr::StringLiteral(_) => None,
    }
}

type MatcherKey = (String, MatchOp, String);

/// The matchers of the only selector in `expr`.
fn matchers(expr: &Expr) -> BTreeSet<MatcherKey> {
    let mut out = BTreeSet::new();
    expr.walk(|e| {
        let selector = match e {
            Expr::VectorSelector(v) => v.as_ref(),
            Expr::MatrixSelector(m) => &m.selector,
            _ => return,
        };
        for m in &selector.matchers {
            out.insert((m.name.clone(), m.op, m.value.clone()));
        }
    });
    out
}

/// `expr` with every matcher except the metric name's removed.
fn shape(expr: &Expr) -> Expr {
    let mut shape = expr.clone();
    shape.for_each_selector_mut(|s| s.matchers.retain(|m| m.name == "__name__"));
    shape
}

/// Whether `binary` (a `/` or `-` with one-to-one matching) combines every
/// series with itself, so that its value is constant.
pub(crate) fn pairs_series_with_itself(binary: &BinaryExpr) -> bool {
    let one_to_one = binary
        .matching
        .as_ref()
        .is_none_or(|m| m.card == VectorMatchCardinality::OneToOne);
    if !one_to_one
        || binary.lhs.value_type() != ValueType::Vector
        || binary.rhs.value_type() != ValueType::Vector
        || !has_selector(&binary.lhs)
    {
        return false;
    }
    // Cheap test first: both sides must select the same metric names.
    let names = |e: &Expr| {
        matchers(e)
            .into_iter()
            .filter(|(label, _, _)| label == "__name__")
            .collect::<Vec<_>>()
    };
    if names(&binary.lhs) != names(&binary.rhs) {
        return false;
    }
    if binary.lhs.eq_ignore_spans(&binary.rhs) {
        return true;
    }
    // Beyond identical operands: no `on`/`ignoring`, same shape, and every
    // label constrained differently on the two sides is kept by both.
    if binary
        .matching
        .as_ref()
        .is_some_and(|m| m.on || !m.matching_labels.is_empty())
    {
        return false;
    }
    if !shape(&binary.lhs).eq_ignore_spans(&shape(&binary.rhs)) {
        return false;
    }
    let (Some(lhs_kept), Some(rhs_kept)) = (kept_labels(&binary.lhs), kept_labels(&binary.rhs))
    else {
        return false;
    };
    let (lhs, rhs) = (matchers(&binary.lhs), matchers(&binary.rhs));
    lhs.symmetric_difference(&rhs)
        .all(|(label, _, _)| lhs_kept.contains(label) && rhs_kept.contains(label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    fn pairs(query: &str) -> bool {
        let expr = parse(query).unwrap();
        let mut found = false;
        expr.walk(|e| {
            if let Expr::Binary(b) = e {
                found |= pairs_series_with_itself(b);
            }
        });
        found
    }

    #[test]
    fn identical_operands() {
        assert!(pairs(
            r#"sum(rate(x{code=~"5.."}[5m])) by (job) / sum(rate(x{code=~"5.."}[5m])) by (job)"#
        ));
        assert!(pairs("x / x"));
        assert!(!pairs("x / y"));
        assert!(!pairs("1 / 1"));
        assert!(!pairs("x / on(a) group_left x"));
    }

    #[test]
    fn operands_differing_in_kept_labels() {
        assert!(pairs(
            r#"rate(http_requests_total{status=~"5.."}[5m]) / rate(http_requests_total[5m]) > 0.05"#
        ));
        assert!(pairs(
            r#"sum by (job, code) (rate(x{code=~"5.."}[5m])) / sum by (job, code) (rate(x[5m]))"#
        ));
        assert!(!pairs(
            r#"sum by (job) (rate(x{code=~"5.."}[5m])) / sum by (job) (rate(x[5m]))"#
        ));
        assert!(!pairs(
            r#"sum without (code) (rate(x{code=~"5.."}[5m])) / sum without (code) (rate(x[5m]))"#
        ));
        assert!(!pairs(
            r#"rate(x{code=~"5.."}[5m]) / ignoring(code) group_left rate(x[5m])"#
        ));
        assert!(!pairs(r#"rate(x{code=~"5.."}[5m]) / rate(x[10m])"#));
    }
}
