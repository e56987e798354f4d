//! Function calls, aggregations and `by`/`without`/`on`/`ignoring` label lists.

use super::{Ctx, Node, PResult, Parser};
use crate::parser::Span;
use crate::parser::ast::{AggregateExpr, AggregateOp, Call, Expr, Grouping};
use crate::parser::functions;
use crate::parser::lexer::{Kw, Tok, Token};
use crate::parser::quote::go_quote;

const AGGREGATION: Ctx = Ctx {
    what: "aggregation",
    expected: "",
};
const GROUPING_OPEN: Ctx = Ctx {
    what: "grouping opts",
    expected: "\"(\"",
};
const GROUPING_LABEL: Ctx = Ctx {
    what: "grouping opts",
    expected: "label",
};
const GROUPING_NEXT: Ctx = Ctx {
    what: "grouping opts",
    expected: "\",\" or \")\"",
};

/// Arguments of a call or aggregation, their tree depth and the closing `)`.
struct Args {
    args: Vec<Expr>,
    depth: u32,
    close: Span,
    closed: bool,
}

impl Parser<'_> {
    /// `name(args...)`; the name is consumed, the next token is `(`.
    pub(super) fn call(&mut self, name: Token) -> PResult<Node> {
        let args = self.call_args()?;
        self.finish_call(name, args)
    }

    fn finish_call(
        &self,
        name: Token,
        Args {
            args, depth, close, ..
        }: Args,
    ) -> PResult<Node> {
        let text = self.text(&name);
        let Some(func) = functions::lookup(text) else {
            return Err(self.error(
                name.span,
                format!("unknown function with name {}", go_quote(text)),
            ));
        };
        if func.experimental && !self.opts.experimental_functions {
            return Err(self.error(
                name.span,
                format!("function {} is not enabled", go_quote(text)),
            ));
        }
        Ok((
            Expr::Call(Box::new(Call {
                func,
                args,
                span: name.span.to(close),
            })),
            depth + 1,
        ))
    }

    /// `( [expr {, expr}] )`.
    fn call_args(&mut self) -> PResult<Args> {
        let mut args = self.open_args()?;
        while !self.args_closed(&mut args)? {
            let arg = self.expr(0)?;
            self.push_arg(&mut args, arg)?;
        }
        Ok(args)
    }

    /// Consumes `(`.
    fn open_args(&mut self) -> PResult<Args> {
        self.expect(Tok::LParen)?;
        Ok(Args {
            args: Vec::new(),
            depth: 0,
            close: Span::default(),
            closed: false,
        })
    }

    /// Whether the argument list is complete (consuming `)` of an empty list).
    fn args_closed(&mut self, args: &mut Args) -> PResult<bool> {
        if args.closed {
            return Ok(true);
        }
        if args.args.is_empty() {
            let tok = self.peek()?;
            if tok.kind == Tok::RParen {
                self.bump()?;
                args.close = tok.span;
                args.closed = true;
            }
        }
        Ok(args.closed)
    }

    /// Adds a parsed argument and consumes the `,` or `)` after it.
    fn push_arg(&mut self, args: &mut Args, (arg, depth): Node) -> PResult<()> {
        args.depth = args.depth.max(depth);
        args.args.push(arg);
        let tok = self.peek()?;
        match tok.kind {
            Tok::Comma => {
                self.bump()?;
                if self.peek()?.kind == Tok::RParen {
                    return Err(self.error(
                        tok.span,
                        "trailing commas not allowed in function call args",
                    ));
                }
                Ok(())
            }
            Tok::RParen => {
                self.bump()?;
                args.close = tok.span;
                args.closed = true;
                Ok(())
            }
            _ => Err(self.unexpected(tok)),
        }
    }

    /// `op [by|without (labels)] (args) [by|without (labels)]`; `op` is consumed.
    pub(super) fn aggregation(&mut self, op_tok: Token, op: AggregateOp) -> PResult<Node> {
        let head = self.aggregation_head()?;
        let args = self.call_args()?;
        self.aggregation_tail(op_tok, op, head, args)
    }

    /// Enters the aggregation context and parses a leading grouping clause.
    fn aggregation_head(&mut self) -> PResult<(Ctx, Option<Grouping>)> {
        let saved = self.set_ctx(AGGREGATION);
        let grouping = self.maybe_grouping()?;
        let tok = self.peek()?;
        if tok.kind != Tok::LParen {
            return Err(self.unexpected(tok));
        }
        Ok((saved, grouping))
    }

    /// Parses a trailing grouping clause and builds the aggregation.
    fn aggregation_tail(
        &mut self,
        op_tok: Token,
        op: AggregateOp,
        (saved, mut grouping): (Ctx, Option<Grouping>),
        Args {
            args, depth, close, ..
        }: Args,
    ) -> PResult<Node> {
        let mut end = close.end;
        if grouping.is_none() {
            grouping = self.maybe_grouping()?;
            if grouping.is_some() {
                end = self.last_end();
            }
        }
        self.ctx = saved;
        let span = Span::new(op_tok.span.start, end);
        if args.is_empty() {
            return Err(self.error(span, "no arguments for aggregate expression provided"));
        }
        let mut wanted = 1;
        if op.takes_param() {
            if op.is_experimental() && !self.opts.experimental_functions {
                return Err(self.error(
                    span,
                    format!(
                        "{}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                        op.as_str()
                    ),
                ));
            }
            wanted = 2;
        }
        if args.len() != wanted {
            return Err(self.error(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {wanted}, got {}",
                    args.len()
                ),
            ));
        }
        let mut args = args.into_iter();
        let param = if wanted == 2 { args.next() } else { None };
        let Some(expr) = args.next() else {
            return Err(self.error(span, "no arguments for aggregate expression provided"));
        };
        Ok((
            Expr::Aggregate(Box::new(AggregateExpr {
                op,
                expr,
                param,
                grouping,
                span,
            })),
            depth + 1,
        ))
    }

    /// An optional `by (...)` or `without (...)` clause.
    fn maybe_grouping(&mut self) -> PResult<Option<Grouping>> {
        let tok = self.peek()?;
        if !(tok.is_kw(Kw::By) || tok.is_kw(Kw::Without)) {
            return Ok(None);
        }
        self.bump()?;
        Ok(Some(Grouping {
            without: tok.kw == Kw::Without,
            labels: self.grouping_labels()?,
        }))
    }

    /// `( [label {, label} [,]] )`, labels being identifiers, keywords or strings.
    pub(super) fn grouping_labels(&mut self) -> PResult<Vec<String>> {
        let tok = self.peek()?;
        if tok.kind != Tok::LParen {
            return Err(self.unexpected_in(tok, GROUPING_OPEN));
        }
        self.bump()?;
        let mut labels = Vec::new();
        if self.peek()?.kind == Tok::RParen {
            self.bump()?;
            return Ok(labels);
        }
        loop {
            let tok = self.peek()?;
            let label = match tok.kind {
                Tok::Ident if tok.kw != Kw::Without => self.text(&tok).to_string(),
                Tok::Str => self.string_value(tok)?,
                _ => return Err(self.unexpected_in(tok, GROUPING_LABEL)),
            };
            self.bump()?;
            if label.is_empty() {
                return Err(self.error(
                    tok.span,
                    format!("invalid label name for grouping: {}", go_quote(&label)),
                ));
            }
            labels.push(label);
            let tok = self.peek()?;
            match tok.kind {
                Tok::Comma => {
                    self.bump()?;
                    if self.peek()?.kind == Tok::RParen {
                        self.bump()?;
                        return Ok(labels);
                    }
                }
                Tok::RParen => {
                    self.bump()?;
                    return Ok(labels);
                }
                _ => return Err(self.unexpected_in(tok, GROUPING_NEXT)),
            }
        }
    }
}
