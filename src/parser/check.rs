//! The type checker: value types and Prometheus' semantic rules.
//!
//! Runs after a successful parse, visiting nodes in the order Prometheus'
//! `checkAST` does, so that the first error found is the one Prometheus
//! reports. It also normalises binary expressions as Prometheus does: set
//! operators get many-to-many matching, and operations that are not between
//! two instant vectors lose their (meaningless) vector matching.

use crate::model::ValueType;
use crate::parser::ast::{
    AggregateOp, BinaryExpr, Call, Expr, VectorMatchCardinality, VectorSelector,
};
use crate::parser::functions::Arity;
use crate::parser::quote::go_quote;
use crate::parser::{ParseError, ParseErrorKind, Span};

const METRIC_NAME: &str = "__name__";

/// Checks `expr` (parsed from `source`) against Prometheus' typing rules.
pub fn check(expr: &Expr, source: &str) -> Result<(), ParseError> {
    let mut copy = expr.clone();
    check_and_normalize(&mut copy, source)
}

/// Checks `expr` and normalises its vector matching (see the module docs).
pub(crate) fn check_and_normalize(expr: &mut Expr, source: &str) -> Result<(), ParseError> {
    Checker { src: source }.check(expr, false).map(|_| ())
}

struct Checker<'a> {
    src: &'a str,
}

type CResult = Result<ValueType, ParseError>;

impl Checker<'_> {
    fn error(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError::new(ParseErrorKind::Type(msg.into()), span, self.src)
    }

    /// Checks `expr` and returns its type. `bypass_empty` skips the
    /// non-empty-matcher rule (for `info`'s second argument).
    fn check(&self, expr: &mut Expr, bypass_empty: bool) -> CResult {
        match expr {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression")?;
                let wanted = match a.op {
                    AggregateOp::Topk
                    | AggregateOp::Bottomk
                    | AggregateOp::Quantile
                    | AggregateOp::Limitk
                    | AggregateOp::LimitRatio => Some(ValueType::Scalar),
                    AggregateOp::CountValues => Some(ValueType::String),
                    _ => None,
                };
                if let (Some(want), Some(param)) = (wanted, a.param.as_mut()) {
                    self.expect_type(param, want, "aggregation parameter")?;
                }
                Ok(ValueType::Vector)
            }
            Expr::Binary(b) => self.binary(b),
            Expr::Call(c) => self.call(c),
            Expr::Paren(p) => self.check(&mut p.expr, false),
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr, false)?;
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.error(
                        u.span,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            go_quote(t.document_name())
                        ),
                    ));
                }
                Ok(t)
            }
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr, false)?;
                if t != ValueType::Vector {
                    return Err(self.error(
                        s.span,
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            t.as_str()
                        ),
                    ));
                }
                Ok(ValueType::Matrix)
            }
            Expr::MatrixSelector(m) => {
                self.selector(&m.selector, false)?;
                Ok(ValueType::Matrix)
            }
            Expr::VectorSelector(v) => {
                self.selector(v, bypass_empty)?;
                Ok(ValueType::Vector)
            }
            Expr::NumberLiteral(_) => Ok(ValueType::Scalar),
            Expr::StringLiteral(_) => Ok(ValueType::String),
        }
    }

    fn expect_type(
        &self,
        expr: &mut Expr,
        want: ValueType,
        context: &str,
    ) -> Result<(), ParseError> {
        let t = self.check(expr, false)?;
        if t != want {
            return Err(self.error(
                expr.span(),
                format!(
                    "expected type {} in {context}, got {}",
                    want.document_name(),
                    t.document_name()
                ),
            ));
        }
        Ok(())
    }

    /// The span of the operator (and its modifiers) between the operands.
    fn operator_span(&self, b: &BinaryExpr) -> Span {
        let bytes = self.src.as_bytes();
        let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
        let mut start = b.lhs.span().end as usize;
        while bytes.get(start).copied().is_some_and(is_space) {
            start += 1;
        }
        let mut end = (b.rhs.span().start as usize).max(start);
        while end > start && bytes.get(end - 1).copied().is_some_and(is_space) {
            end -= 1;
        }
        Span::new(start as u32, end as u32)
    }

    fn binary(&self, b: &mut BinaryExpr) -> CResult {
        let lt = self.check(&mut b.lhs, false)?;
        let rt = self.check(&mut b.rhs, false)?;
        let op = b.op;
        if b.return_bool && !op.is_comparison() {
            return Err(self.error(
                self.operator_span(b),
                "bool modifier can only be used on comparison operators",
            ));
        }
        if op.is_comparison()
            && !b.return_bool
            && lt == ValueType::Scalar
            && rt == ValueType::Scalar
        {
            return Err(self.error(
                self.operator_span(b),
                "comparisons between scalars must use BOOL modifier",
            ));
        }
        if let Some(m) = b.matching.as_mut() {
            if op.is_set_operator() && m.card == VectorMatchCardinality::OneToOne {
                m.card = VectorMatchCardinality::ManyToMany;
            }
        }
        if let Some(m) = b.matching.as_ref() {
            if m.on {
                if let Some(l) = m.matching_labels.iter().find(|l| m.include.contains(l)) {
                    return Err(self.error(
                        self.operator_span(b),
                        format!(
                            "label {} must not occur in ON and GROUP clause at once",
                            go_quote(l)
                        ),
                    ));
                }
            }
        }
        let operand_ok = |t: ValueType| t == ValueType::Scalar || t == ValueType::Vector;
        if !operand_ok(lt) {
            return Err(self.error(
                b.lhs.span(),
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        if !operand_ok(rt) {
            return Err(self.error(
                b.rhs.span(),
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        if let Some(m) = b.matching.as_ref() {
            let filled = m.fill.lhs.is_some() || m.fill.rhs.is_some();
            if !both_vectors {
                if !m.matching_labels.is_empty() {
                    return Err(self.error(
                        b.span,
                        "vector matching only allowed between instant vectors",
                    ));
                }
                if filled {
                    return Err(self.error(
                        b.span,
                        "filling in missing series only allowed between instant vectors",
                    ));
                }
            } else if op.is_set_operator() {
                if matches!(
                    m.card,
                    VectorMatchCardinality::OneToMany | VectorMatchCardinality::ManyToOne
                ) {
                    return Err(self.error(
                        b.span,
                        format!(
                            "no grouping allowed for {} operation",
                            go_quote(op.as_str())
                        ),
                    ));
                }
                if m.card != VectorMatchCardinality::ManyToMany {
                    return Err(self.error(b.span, "set operations must always be many-to-many"));
                }
                if filled {
                    return Err(self.error(
                        b.span,
                        "filling in missing series not allowed for set operators",
                    ));
                }
            }
        }
        if !both_vectors {
            b.matching = None;
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set_operator() {
            return Err(self.error(
                b.span,
                format!(
                    "set operator {} not allowed in binary scalar expression",
                    go_quote(op.as_str())
                ),
            ));
        }
        Ok(if lt == ValueType::Scalar && rt == ValueType::Scalar {
            ValueType::Scalar
        } else {
            ValueType::Vector
        })
    }

    fn call(&self, c: &mut Call) -> CResult {
        let f = c.func;
        let name = || go_quote(f.name);
        let nargs = f.arg_types.len();
        let got = c.args.len();
        match f.arity {
            Arity::Exact => {
                if nargs != got {
                    return Err(self.error(
                        c.span,
                        format!(
                            "expected {nargs} argument(s) in call to {}, got {got}",
                            name()
                        ),
                    ));
                }
            }
            Arity::Optional(_) | Arity::Unbounded => {
                let min = nargs.saturating_sub(1);
                if min > got {
                    return Err(self.error(
                        c.span,
                        format!(
                            "expected at least {min} argument(s) in call to {}, got {got}",
                            name()
                        ),
                    ));
                }
                if let Some(max) = f.max_args() {
                    if got > max {
                        return Err(self.error(
                            c.span,
                            format!(
                                "expected at most {max} argument(s) in call to {}, got {got}",
                                name()
                            ),
                        ));
                    }
                }
            }
        }
        let mut bypass_second = false;
        if f.name == "info" {
            if let Some(second) = c.args.get(1) {
                let t = second.value_type();
                if t != ValueType::Vector {
                    return Err(self.error(
                        c.span,
                        format!(
                            "expected type instant vector in call to function {}, got {}",
                            name(),
                            t.document_name()
                        ),
                    ));
                }
                match second {
                    Expr::VectorSelector(vs) if self.name_outside_braces(vs) => {
                        return Err(self.error(
                            second.span(),
                            "expected label selectors only, got vector selector instead",
                        ));
                    }
                    Expr::VectorSelector(_) => bypass_second = true,
                    _ => {
                        return Err(self.error(second.span(), "expected label selectors only"));
                    }
                }
            }
        }
        for (i, arg) in c.args.iter_mut().enumerate() {
            let idx = if i >= nargs {
                if f.arity == Arity::Exact {
                    break;
                }
                nargs.saturating_sub(1)
            } else {
                i
            };
            let Some(&want) = f.arg_types.get(idx) else {
                break;
            };
            let t = self.check(arg, i == 1 && bypass_second)?;
            if t != want {
                return Err(self.error(
                    arg.span(),
                    format!(
                        "expected type {} in call to function {}, got {}",
                        want.document_name(),
                        name(),
                        t.document_name()
                    ),
                ));
            }
        }
        Ok(f.return_type)
    }

    /// Whether the selector's metric name was written before the braces
    /// (rather than as a quoted name inside them).
    fn name_outside_braces(&self, vs: &VectorSelector) -> bool {
        vs.name.is_some() && self.src.as_bytes().get(vs.span.start as usize) != Some(&b'{')
    }

    fn selector(&self, vs: &VectorSelector, bypass_empty: bool) -> Result<(), ParseError> {
        if self.name_outside_braces(vs) {
            let name = vs.name.as_deref().unwrap_or("");
            let others = &vs.matchers[..vs.matchers.len().saturating_sub(1)];
            if let Some(m) = others.iter().find(|m| m.name == METRIC_NAME) {
                return Err(self.error(
                    vs.span,
                    format!(
                        "metric name must not be set twice: {} or {}",
                        go_quote(name),
                        go_quote(&m.value)
                    ),
                ));
            }
            return Ok(());
        }
        if !bypass_empty && vs.matchers.iter().all(|m| m.matches_empty()) {
            return Err(self.error(
                vs.span,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(())
    }
}
