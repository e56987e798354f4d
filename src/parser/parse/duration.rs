//! Ranges, subqueries, `offset`, `@`, `anchored`/`smoothed`, and duration
//! expressions (`[5m+step()]`, `offset -(1m*2)`, `min_of(a, b)`).

use super::number::duration_out_of_range;
use super::{Ctx, PResult, Parser};
use crate::parser::ast::{
    AtModifier, BinaryOp, DurationExpr, Expr, MatrixSelector, NumberLiteral, SubqueryExpr, UnaryOp,
    VectorSelector, seconds_to_millis,
};
use crate::parser::lexer::{Kw, Tok, Token};

const RANGE_START: Ctx = Ctx {
    what: "subquery or range selector",
    expected: "number, duration, step(), or range()",
};
const RANGE_AFTER: Ctx = Ctx {
    what: "subquery or range",
    expected: "\":\" or \"]\"",
};
const SUBQUERY_STEP: Ctx = Ctx {
    what: "subquery selector",
    expected: "number, duration, step(), range(), or \"]\"",
};
const SUBQUERY_END: Ctx = Ctx {
    what: "subquery selector",
    expected: "\"]\"",
};
const OFFSET: Ctx = Ctx {
    what: "offset",
    expected: "number, duration, step(), or range()",
};
const AT: Ctx = Ctx {
    what: "@",
    expected: "timestamp",
};

const NOT_ENABLED: &str = "experimental duration expression is not enabled";

impl Parser<'_> {
    // ----- ranges and subqueries ----------------------------------------------

    /// `expr[range]` or `expr[range:step]` / `expr[range:]`; at `[`.
    pub(super) fn range_or_subquery(&mut self, expr: Expr) -> PResult<Expr> {
        let open = self.bump()?;
        let saved = self.set_ctx(RANGE_START);
        let range = self.positive_duration()?;
        self.ctx = RANGE_AFTER;
        let tok = self.peek()?;
        let result = match tok.kind {
            Tok::RBracket => {
                self.bump()?;
                let brackets = open.span.to(tok.span);
                let selector = match expr {
                    Expr::VectorSelector(vs) => *vs,
                    _ => {
                        return Err(
                            self.error(brackets, "ranges only allowed for vector selectors")
                        );
                    }
                };
                if selector.offset.is_some() {
                    return Err(self.error(brackets, "no offset modifiers allowed before range"));
                }
                if selector.at.is_some() {
                    return Err(self.error(brackets, "no @ modifiers allowed before range"));
                }
                let span = selector.span.to(tok.span);
                Expr::MatrixSelector(Box::new(MatrixSelector {
                    selector,
                    range,
                    span,
                }))
            }
            Tok::Colon => {
                self.bump()?;
                self.ctx = SUBQUERY_STEP;
                let step = if self.peek()?.kind == Tok::RBracket {
                    None
                } else {
                    let step = self.positive_duration()?;
                    self.ctx = SUBQUERY_END;
                    Some(step)
                };
                let close = self.expect(Tok::RBracket)?;
                let span = expr.span().to(close.span);
                Expr::Subquery(Box::new(SubqueryExpr {
                    expr,
                    range,
                    step,
                    offset: None,
                    at: None,
                    span,
                }))
            }
            _ => return Err(self.unexpected(tok)),
        };
        self.ctx = saved;
        Ok(result)
    }

    /// A duration expression that must be positive if it is a literal: at
    /// least one millisecond once rounded to the milliseconds evaluation
    /// works in (a shorter one would select nothing and print as `0s`).
    fn positive_duration(&mut self) -> PResult<DurationExpr> {
        let d = self.duration_expr(0)?;
        if let DurationExpr::Literal(n) = &d {
            if n.value <= 0.0 || seconds_to_millis(n.value) <= 0 {
                return Err(self.error(n.span, "duration must be greater than 0"));
            }
        }
        Ok(d)
    }

    // ----- duration expressions -----------------------------------------------

    /// A duration expression with binary operators of at least `min_prec`.
    fn duration_expr(&mut self, min_prec: u8) -> PResult<DurationExpr> {
        self.enter_at_next()?;
        let mut lhs = self.duration_unary()?;
        while let Some(op) = self.duration_operator(min_prec)? {
            let rhs = self.duration_expr(super::next_min_precedence(op.0))?;
            lhs = self.duration_binary(op, lhs, rhs)?;
        }
        self.leave();
        Ok(lhs)
    }

    /// Consumes an arithmetic operator binding at least as tightly as `min_prec`.
    fn duration_operator(&mut self, min_prec: u8) -> PResult<Option<(BinaryOp, Token)>> {
        let tok = self.peek()?;
        let op = match tok.kind {
            Tok::Add => BinaryOp::Add,
            Tok::Sub => BinaryOp::Sub,
            Tok::Mul => BinaryOp::Mul,
            Tok::Div => BinaryOp::Div,
            Tok::Mod => BinaryOp::Mod,
            Tok::Pow => BinaryOp::Pow,
            _ => return Ok(None),
        };
        if op.precedence() < min_prec {
            return Ok(None);
        }
        self.bump()?;
        Ok(Some((op, tok)))
    }

    fn duration_binary(
        &self,
        (op, tok): (BinaryOp, Token),
        lhs: DurationExpr,
        rhs: DurationExpr,
    ) -> PResult<DurationExpr> {
        self.duration_gate(&lhs)?;
        if let (BinaryOp::Div | BinaryOp::Mod, DurationExpr::Literal(n)) = (op, &rhs) {
            if n.value == 0.0 {
                let what = if op == BinaryOp::Div {
                    "division by zero"
                } else {
                    "modulo by zero"
                };
                return Err(self.error(tok.span, what));
            }
        }
        let span = lhs.span().to(rhs.span());
        Ok(DurationExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        })
    }

    /// `-d`, `+d` or an atom.
    fn duration_unary(&mut self) -> PResult<DurationExpr> {
        let tok = self.peek()?;
        if !matches!(tok.kind, Tok::Add | Tok::Sub) {
            return self.duration_atom();
        }
        self.bump()?;
        let operand = self.duration_expr(super::POW_PRECEDENCE)?;
        self.apply_unary(tok, operand)
    }

    /// Applies a sign to a duration: folds it into a literal, drops `+`,
    /// wraps anything else in a negation.
    fn apply_unary(&self, sign: Token, operand: DurationExpr) -> PResult<DurationExpr> {
        match operand {
            DurationExpr::Literal(mut n) => {
                if sign.kind == Tok::Sub {
                    n.value = -n.value;
                }
                if duration_out_of_range(n.value) {
                    return Err(self.error(sign.span, "duration out of range"));
                }
                n.span.start = sign.span.start;
                Ok(DurationExpr::Literal(n))
            }
            other if sign.kind == Tok::Add => Ok(other),
            other => {
                let span = sign.span.to(other.span());
                Ok(DurationExpr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(other),
                    span,
                })
            }
        }
    }

    /// A literal, `step()`, `range()`, `min_of(a, b)`, `max_of(a, b)` or `(d)`.
    fn duration_atom(&mut self) -> PResult<DurationExpr> {
        let tok = self.peek()?;
        match tok.kind {
            Tok::LParen => {
                let paren = self.duration_paren()?;
                self.duration_gate_inner(&paren)?;
                Ok(paren)
            }
            Tok::Ident if matches!(tok.kw, Kw::MinOf | Kw::MaxOf) => self.min_max_of(true),
            _ => self.duration_leaf(tok),
        }
    }

    /// `( d )`, not gated here.
    fn duration_paren(&mut self) -> PResult<DurationExpr> {
        let open = self.bump()?;
        let inner = self.duration_expr(0)?;
        self.finish_duration_paren(open, inner)
    }

    fn finish_duration_paren(&mut self, open: Token, inner: DurationExpr) -> PResult<DurationExpr> {
        let close = self.expect(Tok::RParen)?;
        Ok(DurationExpr::Paren {
            expr: Box::new(inner),
            span: open.span.to(close.span),
        })
    }

    /// Gates the expression inside a parenthesis (Prometheus reports it there).
    fn duration_gate_inner(&self, paren: &DurationExpr) -> PResult<()> {
        match paren {
            DurationExpr::Paren { expr, .. } => self.duration_gate(expr),
            other => self.duration_gate(other),
        }
    }

    /// A number or duration literal, `step()` or `range()`.
    fn duration_leaf(&mut self, tok: Token) -> PResult<DurationExpr> {
        match tok.kind {
            Tok::Number(kind) => {
                self.bump()?;
                let n = self.number_literal(tok, kind)?;
                self.checked_literal(n)
            }
            Tok::Ident if matches!(tok.kw, Kw::Step | Kw::Range) => self.step_or_range(true),
            _ => Err(self.unexpected(tok)),
        }
    }

    fn checked_literal(&self, n: NumberLiteral) -> PResult<DurationExpr> {
        if duration_out_of_range(n.value) {
            return Err(self.error(n.span, "duration out of range"));
        }
        Ok(DurationExpr::Literal(n))
    }

    /// `step()` or `range()`.
    /// `gate`: check the feature flag here (else the caller does).
    fn step_or_range(&mut self, gate: bool) -> PResult<DurationExpr> {
        let name = self.bump()?;
        self.expect(Tok::LParen)?;
        let close = self.expect(Tok::RParen)?;
        let span = name.span.to(close.span);
        let d = if name.kw == Kw::Step {
            DurationExpr::Step(span)
        } else {
            DurationExpr::Range(span)
        };
        if gate {
            self.duration_gate(&d)?;
        }
        Ok(d)
    }

    /// `min_of(a, b)` or `max_of(a, b)`.
    /// `gate`: check the feature flag here (else the caller does).
    fn min_max_of(&mut self, gate: bool) -> PResult<DurationExpr> {
        let name = self.min_max_open()?;
        let a = self.duration_expr(0)?;
        self.expect(Tok::Comma)?;
        let b = self.duration_expr(0)?;
        self.finish_min_max(name, a, b, gate)
    }

    fn min_max_open(&mut self) -> PResult<Token> {
        let name = self.bump()?;
        self.expect(Tok::LParen)?;
        Ok(name)
    }

    fn finish_min_max(
        &mut self,
        name: Token,
        a: DurationExpr,
        b: DurationExpr,
        gate: bool,
    ) -> PResult<DurationExpr> {
        let close = self.expect(Tok::RParen)?;
        let d = DurationExpr::MinMax {
            is_max: name.kw == Kw::MaxOf,
            a: Box::new(a),
            b: Box::new(b),
            span: name.span.to(close.span),
        };
        if gate {
            self.duration_gate(&d)?;
        }
        Ok(d)
    }

    /// Fails unless duration expressions are enabled (reported at `d`).
    /// Prometheus places `min_of`/`max_of` at their arguments.
    fn duration_gate(&self, d: &DurationExpr) -> PResult<()> {
        if self.opts.duration_expressions {
            return Ok(());
        }
        let span = match d {
            DurationExpr::MinMax { a, b, .. } => a.span().to(b.span()),
            other => other.span(),
        };
        Err(self.error(span, NOT_ENABLED))
    }

    /// The argument of `offset`: a signed literal, `step()`, `range()`,
    /// `min_of`/`max_of` or a parenthesised expression — never a bare binary
    /// expression, so `x offset 1m + 2` is `(x offset 1m) + 2`.
    fn offset_duration(&mut self) -> PResult<DurationExpr> {
        let tok = self.peek()?;
        if !matches!(tok.kind, Tok::Add | Tok::Sub) {
            return self.duration_atom();
        }
        self.bump()?;
        let next = self.peek()?;
        match next.kind {
            Tok::Number(_) => {
                let lit = self.duration_atom()?;
                self.apply_unary(tok, lit)
            }
            Tok::LParen => {
                let paren = self.duration_paren()?;
                self.apply_unary(tok, paren)
            }
            Tok::Ident if matches!(next.kw, Kw::Step | Kw::Range | Kw::MinOf | Kw::MaxOf) => {
                let inner = if matches!(next.kw, Kw::Step | Kw::Range) {
                    self.step_or_range(false)?
                } else {
                    self.min_max_of(false)?
                };
                let span = tok.span.to(inner.span());
                let op = if tok.kind == Tok::Sub {
                    UnaryOp::Neg
                } else {
                    UnaryOp::Pos
                };
                let d = DurationExpr::Unary {
                    op,
                    expr: Box::new(inner),
                    span,
                };
                self.duration_gate(&d)?;
                Ok(d)
            }
            Tok::Add | Tok::Sub => {
                let operand = self.duration_unary()?;
                self.apply_unary(tok, operand)
            }
            _ => Err(self.unexpected(next)),
        }
    }

    // ----- offset, @, anchored, smoothed ---------------------------------------

    /// `expr offset d`; at `offset`.
    pub(super) fn offset_modifier(&mut self, mut expr: Expr) -> PResult<Expr> {
        self.bump()?;
        let saved = self.set_ctx(OFFSET);
        let offset = self.offset_duration()?;
        self.ctx = saved;
        let end = self.last_end();
        let span = expr.span();
        let (slot, expr_span) = match &mut expr {
            Expr::VectorSelector(vs) => (&mut vs.offset, &mut vs.span),
            Expr::MatrixSelector(ms) => (&mut ms.selector.offset, &mut ms.span),
            Expr::Subquery(sq) => (&mut sq.offset, &mut sq.span),
            _ => {
                return Err(self.error(
                    span,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        let already = match slot {
            None => false,
            Some(DurationExpr::Literal(n)) => n.value != 0.0,
            Some(_) => true,
        };
        if already {
            return Err(self.error(span, "offset may not be set multiple times"));
        }
        *slot = Some(offset);
        expr_span.end = expr_span.end.max(end);
        Ok(expr)
    }

    /// `expr @ t`, `expr @ start()`, `expr @ end()`; at `@`.
    pub(super) fn at_modifier(&mut self, mut expr: Expr) -> PResult<Expr> {
        self.bump()?;
        let saved = self.set_ctx(AT);
        let tok = self.peek()?;
        let at = match tok.kind {
            Tok::Ident if matches!(tok.kw, Kw::Start | Kw::End) => {
                self.bump()?;
                self.expect(Tok::LParen)?;
                self.expect(Tok::RParen)?;
                if tok.kw == Kw::Start {
                    AtModifier::Start
                } else {
                    AtModifier::End
                }
            }
            _ => {
                let seconds = self.signed_number()?;
                if !seconds.is_finite() || seconds >= i64::MAX as f64 || seconds <= i64::MIN as f64
                {
                    return Err(self.error(
                        expr.span(),
                        format!(
                            "timestamp out of bounds for @ modifier: {}",
                            go_float_f(seconds)
                        ),
                    ));
                }
                AtModifier::Timestamp((seconds * 1000.0).round() as i64)
            }
        };
        self.ctx = saved;
        let end = self.last_end();
        let span = expr.span();
        let (slot, expr_span) = match &mut expr {
            Expr::VectorSelector(vs) => (&mut vs.at, &mut vs.span),
            Expr::MatrixSelector(ms) => (&mut ms.selector.at, &mut ms.span),
            Expr::Subquery(sq) => (&mut sq.at, &mut sq.span),
            _ => {
                return Err(self.error(
                    span,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if slot.is_some() {
            return Err(self.error(span, "@ <timestamp> may not be set multiple times"));
        }
        *slot = Some(at);
        expr_span.end = expr_span.end.max(end);
        Ok(expr)
    }

    /// `[+|-] (number | duration)` in seconds.
    fn signed_number(&mut self) -> PResult<f64> {
        let mut tok = self.peek()?;
        let mut negate = false;
        if matches!(tok.kind, Tok::Add | Tok::Sub) {
            negate = tok.kind == Tok::Sub;
            self.bump()?;
            tok = self.peek()?;
        }
        let Tok::Number(kind) = tok.kind else {
            return Err(self.unexpected(tok));
        };
        self.bump()?;
        let n = self.number_literal(tok, kind)?;
        Ok(if negate { -n.value } else { n.value })
    }

    /// `expr anchored` / `expr smoothed`; at the keyword.
    pub(super) fn range_modifier(&mut self, mut expr: Expr, tok: Token) -> PResult<Expr> {
        self.bump()?;
        let anchored = tok.kw == Kw::Anchored;
        let name = if anchored { "anchored" } else { "smoothed" };
        let span = expr.span();
        if !self.opts.extended_range_selectors {
            return Err(self.error(
                span,
                format!("{name} modifier is experimental and not enabled"),
            ));
        }
        let selector: &mut VectorSelector = match &mut expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &mut ms.selector,
            Expr::Subquery(_) => {
                return Err(self.error(
                    span,
                    format!("{name} modifier is not supported for subqueries"),
                ));
            }
            _ => {
                return Err(self.error(span, format!("{name} modifier not implemented")));
            }
        };
        if anchored {
            selector.anchored = true;
        } else {
            selector.smoothed = true;
        }
        if selector.anchored && selector.smoothed {
            return Err(self.error(
                span,
                "anchored and smoothed modifiers cannot be used together",
            ));
        }
        Ok(expr)
    }
}

/// Go's `%f`: six decimals, `+Inf`, `-Inf`, `NaN`.
fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:.6}")
    }
}
