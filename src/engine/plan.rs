//! Lowering a checked [`Expr`] into the evaluator's plan: parentheses
//! removed, durations resolved to milliseconds, `start()`/`end()`/`range()`/
//! `step()` folded into numbers and `@ start()`/`@ end()` into timestamps.

use crate::engine::EvalError;
use crate::model::{Matcher, ValueType};
use crate::parser::{
    AggregateOp, AtModifier, BinaryOp, DurationExpr, Expr, Function, Span, VectorMatching,
};

/// The query's time frame, needed to resolve query-context values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueryFrame {
    pub start: i64,
    pub end: i64,
    /// The step of a range query; 0 for instant queries.
    pub step: i64,
    /// Default subquery step.
    pub default_subquery_step: i64,
    /// Whether experimental functions and aggregations may run.
    pub experimental_functions: bool,
}

/// An instant selector with resolved modifiers.
#[derive(Debug)]
pub(crate) struct Sel {
    pub matchers: Vec<Matcher>,
    pub offset: i64,
    pub at: Option<i64>,
    pub anchored: bool,
    pub smoothed: bool,
    /// Only histogram count and sum are needed (the selector sits below
    /// `histogram_count`/`histogram_sum`/`histogram_avg` and below no
    /// subquery, quantile/fraction function or trim operator): histograms
    /// are read as Prometheus' stats iterator reads them.
    pub stats_only: bool,
    pub span: Span,
}

/// A range selector.
#[derive(Debug)]
pub(crate) struct MatSel {
    pub sel: Sel,
    pub range: i64,
    pub span: Span,
}

/// A subquery with resolved range, step and modifiers.
#[derive(Debug)]
pub(crate) struct Subq {
    pub expr: Node,
    pub range: i64,
    pub step: i64,
    pub offset: i64,
    pub at: Option<i64>,
    pub span: Span,
}

/// A function call.
#[derive(Debug)]
pub(crate) struct CallN {
    pub func: &'static Function,
    pub args: Vec<Node>,
    pub span: Span,
}

/// An aggregation.
#[derive(Debug)]
pub(crate) struct AggN {
    pub op: AggregateOp,
    pub expr: Node,
    pub param: Option<Node>,
    /// Sorted grouping labels.
    pub grouping: Vec<String>,
    pub without: bool,
    pub span: Span,
}

/// A binary operation.
#[derive(Debug)]
pub(crate) struct BinN {
    pub op: BinaryOp,
    pub lhs: Node,
    pub rhs: Node,
    pub matching: VectorMatching,
    pub return_bool: bool,
    pub span: Span,
}

/// A plan node.
#[derive(Debug)]
pub(crate) enum Node {
    Number(f64, Span),
    Str(String, Span),
    Selector(Box<Sel>),
    Matrix(Box<MatSel>),
    Subquery(Box<Subq>),
    Call(Box<CallN>),
    Agg(Box<AggN>),
    Binary(Box<BinN>),
    Neg(Box<Node>, Span),
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Number(_, s) | Node::Str(_, s) | Node::Neg(_, s) => *s,
            Node::Selector(s) => s.span,
            Node::Matrix(m) => m.span,
            Node::Subquery(s) => s.span,
            Node::Call(c) => c.span,
            Node::Agg(a) => a.span,
            Node::Binary(b) => b.span,
        }
    }

    pub fn ty(&self) -> ValueType {
        match self {
            Node::Number(..) => ValueType::Scalar,
            Node::Str(..) => ValueType::String,
            Node::Selector(_) | Node::Agg(_) => ValueType::Vector,
            Node::Matrix(_) | Node::Subquery(_) => ValueType::Matrix,
            Node::Call(c) => c.func.return_type,
            Node::Binary(b) => {
                if b.lhs.ty() == ValueType::Scalar && b.rhs.ty() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Node::Neg(e, _) => e.ty(),
        }
    }
}

/// Lowers `expr` for a query over `frame`.
pub(crate) fn lower(expr: &Expr, frame: &QueryFrame) -> Result<Node, EvalError> {
    Lowerer {
        frame,
        stats: std::cell::Cell::new(StatsContext::default()),
    }
    .lower(expr)
}

/// What the ancestors of the node being lowered say about reading only
/// histogram statistics.
#[derive(Clone, Copy, Default)]
struct StatsContext {
    /// Below `histogram_count`, `histogram_sum` or `histogram_avg`.
    wanted: bool,
    /// Below a subquery, a quantile/fraction function or a trim operator.
    blocked: bool,
}

struct Lowerer<'a> {
    frame: &'a QueryFrame,
    stats: std::cell::Cell<StatsContext>,
}

impl Lowerer<'_> {
    fn duration(&self, d: &DurationExpr) -> Result<i64, EvalError> {
        d.eval_millis(
            self.frame.step,
            self.frame.end.saturating_sub(self.frame.start),
        )
        .ok_or_else(|| EvalError::BadQuery(format!("invalid duration expression: {d:?}")))
    }

    fn at(&self, at: Option<AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Timestamp(t) => t,
            AtModifier::Start => self.frame.start,
            AtModifier::End => self.frame.end,
        })
    }

    fn selector(&self, v: &crate::parser::VectorSelector) -> Result<Sel, EvalError> {
        Ok(Sel {
            matchers: v.matchers.clone(),
            offset: match &v.offset {
                Some(d) => self.duration(d)?,
                None => 0,
            },
            at: self.at(v.at),
            anchored: v.anchored,
            smoothed: v.smoothed,
            stats_only: {
                let c = self.stats.get();
                c.wanted && !c.blocked
            },
            span: v.span,
        })
    }

    /// Lowers `e` with the statistics context changed by `f`.
    fn lower_in(&self, e: &Expr, f: impl FnOnce(&mut StatsContext)) -> Result<Node, EvalError> {
        let saved = self.stats.get();
        let mut c = saved;
        f(&mut c);
        self.stats.set(c);
        let r = self.lower(e);
        self.stats.set(saved);
        r
    }

    fn lower(&self, expr: &Expr) -> Result<Node, EvalError> {
        // Iterative descent through parentheses; recursion elsewhere is bounded
        // by the parser's depth limit.
        let mut e = expr;
        while let Expr::Paren(p) = e {
            e = &p.expr;
        }
        Ok(match e {
            Expr::Paren(_) => unreachable_paren(),
            Expr::NumberLiteral(n) => Node::Number(n.value, n.span),
            Expr::StringLiteral(s) => Node::Str(s.value.clone(), s.span),
            Expr::VectorSelector(v) => Node::Selector(Box::new(self.selector(v)?)),
            Expr::MatrixSelector(m) => Node::Matrix(Box::new(MatSel {
                sel: self.selector(&m.selector)?,
                range: self.duration(&m.range)?,
                span: m.span,
            })),
            Expr::Subquery(s) => {
                let step = match &s.step {
                    Some(d) => self.duration(d)?,
                    None => 0,
                };
                Node::Subquery(Box::new(Subq {
                    expr: self.lower_in(&s.expr, |c| c.blocked = true)?,
                    range: self.duration(&s.range)?,
                    step: if step > 0 {
                        step
                    } else {
                        self.frame.default_subquery_step
                    },
                    offset: match &s.offset {
                        Some(d) => self.duration(d)?,
                        None => 0,
                    },
                    at: self.at(s.at),
                    span: s.span,
                }))
            }
            Expr::Unary(u) => {
                let inner = self.lower(&u.expr)?;
                match u.op {
                    crate::parser::UnaryOp::Pos => inner,
                    crate::parser::UnaryOp::Neg => match inner {
                        Node::Number(v, _) => Node::Number(-v, u.span),
                        other => Node::Neg(Box::new(other), u.span),
                    },
                }
            }
            Expr::Call(c) => {
                check_label_name_args(c)?;
                let f = self.frame;
                if c.func.experimental && !f.experimental_functions {
                    return Err(EvalError::BadQuery(format!(
                        "function {:?} is not enabled",
                        c.func.name
                    )));
                }
                let folded = match c.func.name {
                    "start" => Some(f.start as f64 / 1000.0),
                    "end" => Some(f.end as f64 / 1000.0),
                    "range" => Some(f.end.saturating_sub(f.start) as f64 / 1000.0),
                    "step" => Some(if f.start == f.end {
                        0.0
                    } else {
                        f.step as f64 / 1000.0
                    }),
                    _ => None,
                };
                if let Some(v) = folded {
                    return Ok(Node::Number(v, c.span));
                }
                let args = c
                    .args
                    .iter()
                    .map(|a| {
                        self.lower_in(a, |ctx| match c.func.name {
                            "histogram_count" | "histogram_sum" | "histogram_avg" => {
                                ctx.wanted = true;
                            }
                            "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => {
                                ctx.blocked = true;
                            }
                            _ => {}
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Node::Call(Box::new(CallN {
                    func: c.func,
                    args,
                    span: c.span,
                }))
            }
            Expr::Aggregate(a) => {
                if let (AggregateOp::CountValues, Some(Expr::StringLiteral(s))) = (a.op, &a.param) {
                    if let Some(bytes) = &s.invalid_utf8 {
                        return Err(invalid_label_name(bytes));
                    }
                }
                if a.op.is_experimental() && !self.frame.experimental_functions {
                    return Err(EvalError::BadQuery(format!(
                        "{}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                        a.op.as_str()
                    )));
                }
                let mut grouping = a
                    .grouping
                    .as_ref()
                    .map(|g| g.labels.clone())
                    .unwrap_or_default();
                grouping.sort();
                grouping.dedup();
                Node::Agg(Box::new(AggN {
                    op: a.op,
                    expr: self.lower(&a.expr)?,
                    param: a.param.as_ref().map(|p| self.lower(p)).transpose()?,
                    grouping,
                    without: a.grouping.as_ref().is_some_and(|g| g.without),
                    span: a.span,
                }))
            }
            Expr::Binary(b) => {
                let mut matching = b.matching.clone().unwrap_or_default();
                if b.op.is_set_operator() {
                    matching.card = crate::parser::VectorMatchCardinality::ManyToMany;
                }
                let trim = matches!(
                    b.op,
                    crate::parser::BinaryOp::TrimUpper | crate::parser::BinaryOp::TrimLower
                );
                Node::Binary(Box::new(BinN {
                    op: b.op,
                    lhs: self.lower_in(&b.lhs, |c| c.blocked |= trim)?,
                    rhs: self.lower_in(&b.rhs, |c| c.blocked |= trim)?,
                    matching,
                    return_bool: b.return_bool,
                    span: b.span,
                }))
            }
        })
    }
}

fn unreachable_paren() -> Node {
    // The loop above strips every parenthesis.
    Node::Number(f64::NAN, Span::default())
}

/// The error for a label name that is not valid UTF-8 (a string literal with
/// byte escapes), as Prometheus reports it.
fn invalid_label_name(bytes: &[u8]) -> EvalError {
    EvalError::Execution(format!(
        "invalid label name {}",
        crate::model::quote::go_quote_bytes(bytes)
    ))
}

/// Label-name arguments of `label_replace` and `label_join` that are string
/// literals with bytes that are not UTF-8 are invalid label names; the rest
/// of the checks happen at evaluation.
fn check_label_name_args(c: &crate::parser::Call) -> Result<(), EvalError> {
    let invalid = |i: usize| match c.args.get(i) {
        Some(Expr::StringLiteral(s)) => s.invalid_utf8.is_some().then(|| s.value.clone()),
        _ => None,
    };
    let fail = |what: &str, name: String| {
        Err(EvalError::Execution(format!(
            "invalid {what} label name in {}(): {name}",
            c.func.name
        )))
    };
    match c.func.name {
        "label_replace" => {
            if let Some(dst) = invalid(1) {
                return fail("destination", dst);
            }
        }
        "label_join" => {
            if let Some(dst) = invalid(1) {
                return fail("destination", dst);
            }
            if let Some(src) = (3..c.args.len()).find_map(invalid) {
                return fail("source", src);
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `stats_only` flag of every selector of `query`, in source order.
    fn stats_flags(query: &str) -> Vec<(String, bool)> {
        let expr = crate::parser::parse(query).expect("test queries parse");
        let frame = QueryFrame {
            start: 0,
            end: 0,
            step: 0,
            default_subquery_step: 60_000,
            experimental_functions: true,
        };
        let node = lower(&expr, &frame).expect("test queries lower");
        let mut out = Vec::new();
        collect(&node, &mut out);
        out
    }

    fn collect(node: &Node, out: &mut Vec<(String, bool)>) {
        let name = |s: &Sel| {
            s.matchers
                .iter()
                .find(|m| m.name == crate::model::METRIC_NAME)
                .map(|m| m.value.clone())
                .unwrap_or_default()
        };
        match node {
            Node::Selector(s) => out.push((name(s), s.stats_only)),
            Node::Matrix(m) => out.push((name(&m.sel), m.sel.stats_only)),
            Node::Subquery(s) => collect(&s.expr, out),
            Node::Call(c) => c.args.iter().for_each(|a| collect(a, out)),
            Node::Agg(a) => {
                if let Some(p) = &a.param {
                    collect(p, out);
                }
                collect(&a.expr, out);
            }
            Node::Binary(b) => {
                collect(&b.lhs, out);
                collect(&b.rhs, out);
            }
            Node::Neg(e, _) => collect(e, out),
            Node::Number(..) | Node::Str(..) => {}
        }
    }

    fn flags(query: &str) -> Vec<bool> {
        stats_flags(query).into_iter().map(|(_, f)| f).collect()
    }

    #[test]
    fn stats_only_below_count_sum_avg() {
        assert_eq!(flags("histogram_count(rate(a[5m]))"), [true]);
        assert_eq!(flags("histogram_sum(sum by (x) (a))"), [true]);
        assert_eq!(flags("histogram_avg(a) + b"), [true, false]);
        assert_eq!(flags("a"), [false]);
        assert_eq!(flags("rate(a[5m])"), [false]);
    }

    #[test]
    fn buckets_needed_below_subquery_quantile_or_trim() {
        assert_eq!(flags("histogram_count(increase(a[40m:9m]))"), [false]);
        assert_eq!(
            flags("histogram_quantile(0.5, histogram_count(a))"),
            [false]
        );
        assert_eq!(
            flags("histogram_count(histogram_fraction(0, 1, a))"),
            [false]
        );
        assert_eq!(flags("histogram_count(a </ 3)"), [false]);
        // Any such ancestor wins, even above the statistics function.
        assert_eq!(flags("histogram_count(a) </ 3"), [false]);
        assert_eq!(flags("histogram_count(last_over_time(a[5m:1m]))"), [false]);
    }
}
