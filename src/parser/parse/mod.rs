//! Recursive-descent parser with precedence climbing.
//!
//! The grammar and every message follow Prometheus' yacc grammar
//! (`generated_parser.y`): binary operators by precedence (`^` binds tightest
//! and is right-associative; unary `-`/`+` binds like `*` so that `-2^2` is
//! `-(2^2)`), postfix modifiers (`[range]`, `[range:step]`, `offset`, `@`,
//! `anchored`, `smoothed`) bind tighter than any operator.
//!
//! Syntax errors say `unexpected <token>` followed by the context Prometheus'
//! error recovery would name (`in aggregation`, `in grouping opts, expected
//! "("`, ...); the parser keeps the innermost such context in
//! [`Parser::ctx`]. Parsing stops at the first error, which is the one
//! Prometheus reports.
//!
//! Recursion is bounded by [`ParseOptions::max_depth`]: every nested
//! parenthesis, call, aggregation, unary operator and right-hand operand
//! counts, and left-associative chains count the depth of the tree they build.

mod call;
mod duration;
mod number;
mod selector;

use crate::parser::ast::{
    AggregateOp, BinaryExpr, BinaryOp, Expr, FillValues, NumberLiteral, ParenExpr, StringLiteral,
    UnaryExpr, UnaryOp, VectorMatchCardinality, VectorMatching, VectorSelector,
};
use crate::parser::lexer::{Kw, LexFailure, NumKind, Tok, Token, TokenSource};
use crate::parser::quote::{Unquoted, unquote, unquote_bytes};
use crate::parser::{ParseError, ParseErrorKind, ParseOptions, Span};

use number::{parse_duration, parse_number};

type PResult<T> = Result<T, ParseError>;

/// An expression with the depth of its tree.
type Node = (Expr, u32);

/// Precedence of `^`, the only operator that binds tighter than unary minus.
const POW_PRECEDENCE: u8 = 6;

/// The error-recovery context Prometheus would report a syntax error in.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ctx {
    what: &'static str,
    expected: &'static str,
}

const NO_CTX: Ctx = Ctx {
    what: "",
    expected: "",
};

/// Parses and type-checks a complete expression.
///
/// Recursion per nesting level is small but not tiny (a few KiB in debug
/// builds). Everyday queries are parsed on the calling thread; when an input
/// nests deeper than [`INLINE_DEPTH`], parsing starts over on a helper thread
/// whose stack is sized for the worst case allowed by
/// [`ParseOptions::max_depth`], so deep input never overflows the caller's
/// stack.
pub(crate) fn parse_checked(input: &str, options: &ParseOptions) -> PResult<Expr> {
    check_length(input, options.max_length)?;
    let inline_limit = if options.max_depth <= INLINE_DEPTH {
        usize::MAX
    } else {
        INLINE_DEPTH
    };
    let mut p = Parser::new(input, options, inline_limit);
    let parsed = p.parse_all();
    if !p.wants_big_stack {
        let mut expr = parsed?;
        crate::parser::check::check_and_normalize(&mut expr, input)?;
        return Ok(expr);
    }
    drop(parsed);
    let run = || {
        let mut p = Parser::new(input, options, usize::MAX);
        let mut expr = p.parse_all()?;
        crate::parser::check::check_and_normalize(&mut expr, input)?;
        Ok(expr)
    };
    let stack = (256usize << 10)
        .saturating_add(options.max_depth.saturating_mul(STACK_PER_LEVEL))
        .min(1 << 30);
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("promql-parse".into())
            .stack_size(stack)
            .spawn_scoped(scope, run)
            .ok()
            .and_then(|handle| handle.join().ok())
            .unwrap_or_else(|| {
                Err(ParseError::new(
                    ParseErrorKind::TooDeep {
                        limit: options.max_depth,
                    },
                    Span::at(0),
                    input,
                ))
            })
    })
}

/// Nesting depth up to which parsing always runs on the caller's stack.
pub(crate) const INLINE_DEPTH: usize = 64;

/// Stack reserved per nesting level on the helper thread (generous for
/// debug builds, where frames are largest, and for the type checker).
const STACK_PER_LEVEL: usize = 16 << 10;

/// Parses a series selector such as `up{job="x"}` (no type checks).
pub(crate) fn parse_selector(input: &str) -> PResult<VectorSelector> {
    let options = ParseOptions::default();
    check_length(input, options.max_length)?;
    let mut p = Parser::new(input, &options, usize::MAX);
    let tok = p.peek()?;
    let sel = match tok.kind {
        Tok::LBrace => p.vector_selector(None)?,
        Tok::Ident if p.is_metric_identifier(&tok) => {
            p.bump()?;
            p.vector_selector(Some(tok))?
        }
        _ => return Err(p.unexpected(tok)),
    };
    p.expect_eof()?;
    Ok(sel)
}

fn check_length(input: &str, limit: usize) -> PResult<()> {
    if input.len() > limit || u32::try_from(input.len()).is_err() {
        return Err(ParseError::new(
            ParseErrorKind::TooLong {
                len: input.len(),
                limit,
            },
            Span::at(0),
            "",
        ));
    }
    Ok(())
}

/// Binary operator modifiers as written between operator and right operand.
#[derive(Default)]
struct Modifiers {
    return_bool: bool,
    matching: VectorMatching,
}

/// The parser state.
pub(super) struct Parser<'a> {
    src: &'a str,
    tokens: TokenSource<'a>,
    opts: &'a ParseOptions,
    /// Current recursion depth.
    depth: usize,
    /// Innermost error-recovery context.
    ctx: Ctx,
    /// Nesting beyond which parsing should move to a bigger stack.
    inline_limit: usize,
    /// Set when the input nested beyond `inline_limit`.
    wants_big_stack: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, opts: &'a ParseOptions, inline_limit: usize) -> Self {
        Parser {
            src,
            tokens: TokenSource::new(src),
            opts,
            depth: 0,
            ctx: NO_CTX,
            inline_limit,
            wants_big_stack: false,
        }
    }

    /// Parses the whole input as one expression.
    fn parse_all(&mut self) -> PResult<Expr> {
        let first = self.peek()?;
        if first.kind == Tok::Eof {
            return Err(self.error(Span::at(0), "no expression found in input"));
        }
        let (expr, _) = self.expr(0)?;
        self.expect_eof()?;
        Ok(expr)
    }

    // ----- tokens and errors -------------------------------------------------

    fn lex_error(&self, f: LexFailure) -> ParseError {
        let end = self.src.len() as u32;
        ParseError::new(
            ParseErrorKind::Syntax(f.msg),
            Span::new(f.at.min(end), end),
            self.src,
        )
    }

    fn peek(&mut self) -> PResult<Token> {
        self.tokens.peek().map_err(|f| self.lex_error(f))
    }

    fn bump(&mut self) -> PResult<Token> {
        self.tokens.next().map_err(|f| self.lex_error(f))
    }

    /// The end offset of the last consumed token.
    fn last_end(&self) -> u32 {
        self.tokens.last_end()
    }

    fn text(&self, tok: &Token) -> &'a str {
        tok.text(self.src)
    }

    fn error(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError::new(ParseErrorKind::Syntax(msg.into()), span, self.src)
    }

    /// `unexpected <token>` in the current context.
    fn unexpected(&self, tok: Token) -> ParseError {
        self.unexpected_in(tok, self.ctx)
    }

    fn unexpected_in(&self, tok: Token, ctx: Ctx) -> ParseError {
        let mut msg = format!("unexpected {}", tok.describe(self.src));
        if !ctx.what.is_empty() {
            msg.push_str(" in ");
            msg.push_str(ctx.what);
        }
        if !ctx.expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(ctx.expected);
        }
        self.error(tok.span, msg)
    }

    fn set_ctx(&mut self, ctx: Ctx) -> Ctx {
        std::mem::replace(&mut self.ctx, ctx)
    }

    /// Consumes a token of `kind` or fails with `unexpected` in the current context.
    fn expect(&mut self, kind: Tok) -> PResult<Token> {
        let tok = self.peek()?;
        if tok.kind != kind {
            return Err(self.unexpected(tok));
        }
        self.bump()
    }

    fn expect_eof(&mut self) -> PResult<()> {
        let tok = self.peek()?;
        if tok.kind != Tok::Eof {
            return Err(self.unexpected_in(tok, NO_CTX));
        }
        Ok(())
    }

    /// Enters one level of recursion.
    fn enter(&mut self, at: Span) -> PResult<()> {
        self.depth += 1;
        self.check_depth(self.depth, at)
    }

    /// Fails when `depth` exceeds the limit (or the inline limit, asking
    /// for a bigger stack).
    fn check_depth(&mut self, depth: usize, at: Span) -> PResult<()> {
        if depth > self.opts.max_depth || depth > self.inline_limit {
            self.wants_big_stack = depth <= self.opts.max_depth;
            return Err(ParseError::new(
                ParseErrorKind::TooDeep {
                    limit: self.opts.max_depth,
                },
                at,
                self.src,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Fails when a tree built iteratively gets deeper than allowed.
    fn check_tree_depth(&mut self, depth: u32, at: Span) -> PResult<()> {
        self.check_depth(depth as usize, at)
    }

    // ----- expressions -------------------------------------------------------

    // The functions on the recursive path (`expr`, `operand`, `primary`,
    // `paren`, `identifier_expr`, `call`, `aggregation`, `call_args`) are
    // kept thin: their work is done in non-recursive helpers, so that deep
    // nesting uses little stack even in debug builds.

    /// Parses an expression whose binary operators bind at least as tightly as `min_prec`.
    fn expr(&mut self, min_prec: u8) -> PResult<Node> {
        self.enter_at_next()?;
        let mut node = self.operand()?;
        while let Some(op) = self.binary_operator(min_prec)? {
            let modifiers = self.bin_modifiers()?;
            let rhs = self.expr(next_min_precedence(op.0))?;
            node = self.binary(op, node, rhs, modifiers)?;
        }
        self.leave();
        Ok(node)
    }

    /// Enters one level of recursion at the next token.
    fn enter_at_next(&mut self) -> PResult<()> {
        let at = self.peek()?.span;
        self.enter(at)
    }

    /// Consumes the next token if it is a binary operator binding at least
    /// as tightly as `min_prec`.
    fn binary_operator(&mut self, min_prec: u8) -> PResult<Option<(BinaryOp, Token)>> {
        let tok = self.peek()?;
        match binary_op(&tok) {
            Some(op) if op.precedence() >= min_prec => {
                self.bump()?;
                Ok(Some((op, tok)))
            }
            _ => Ok(None),
        }
    }

    /// `-expr`, `+expr`, or a primary expression with its postfix modifiers.
    fn operand(&mut self) -> PResult<Node> {
        let tok = self.peek()?;
        if matches!(tok.kind, Tok::Add | Tok::Sub) {
            self.bump()?;
            let inner = self.expr(POW_PRECEDENCE)?;
            return Ok(finish_unary(tok, inner));
        }
        let node = self.primary()?;
        self.postfix(node)
    }

    /// Applies `[range]`, `[range:step]`, `offset`, `@`, `anchored`, `smoothed`.
    fn postfix(&mut self, (mut expr, mut depth): Node) -> PResult<Node> {
        loop {
            let tok = self.peek()?;
            expr = match tok.kind {
                Tok::LBracket => {
                    depth += 1;
                    self.check_tree_depth(depth, tok.span)?;
                    self.range_or_subquery(expr)?
                }
                Tok::At => self.at_modifier(expr)?,
                Tok::Ident => match tok.kw {
                    Kw::Offset => self.offset_modifier(expr)?,
                    Kw::Anchored | Kw::Smoothed => self.range_modifier(expr, tok)?,
                    _ => break,
                },
                _ => break,
            };
        }
        Ok((expr, depth))
    }

    fn primary(&mut self) -> PResult<Node> {
        let tok = self.peek()?;
        match tok.kind {
            Tok::LParen => self.paren(tok),
            Tok::Ident => self.identifier_expr(tok),
            _ => self.leaf(tok),
        }
    }

    fn paren(&mut self, open: Token) -> PResult<Node> {
        self.bump()?;
        let inner = self.expr(0)?;
        self.finish_paren(open, inner)
    }

    fn finish_paren(&mut self, open: Token, (inner, depth): Node) -> PResult<Node> {
        let close = self.expect(Tok::RParen)?;
        Ok((
            Expr::Paren(Box::new(ParenExpr {
                expr: inner,
                span: open.span.to(close.span),
            })),
            depth + 1,
        ))
    }

    /// A number, a string or a selector without a name.
    fn leaf(&mut self, tok: Token) -> PResult<Node> {
        let expr = match tok.kind {
            Tok::Number(kind) => {
                self.bump()?;
                Expr::NumberLiteral(self.number_literal(tok, kind)?)
            }
            Tok::Str => {
                self.bump()?;
                let (value, invalid_utf8) =
                    match unquote_bytes(self.text(&tok)).map_err(|e| self.error(tok.span, e))? {
                        Unquoted::Text(s) => (s.into_owned(), None),
                        Unquoted::Bytes(b) => (String::from_utf8_lossy(&b).into_owned(), Some(b)),
                    };
                Expr::StringLiteral(StringLiteral {
                    value,
                    invalid_utf8,
                    span: tok.span,
                })
            }
            Tok::LBrace => Expr::VectorSelector(Box::new(self.vector_selector(None)?)),
            _ => return Err(self.unexpected(tok)),
        };
        Ok((expr, 1))
    }

    /// An expression starting with an identifier: aggregation, call or selector.
    fn identifier_expr(&mut self, tok: Token) -> PResult<Node> {
        match self.identifier_role(tok)? {
            Role::Aggregation(op) => self.aggregation(tok, op),
            Role::Call => self.call(tok),
            Role::Selector => Ok((
                Expr::VectorSelector(Box::new(self.vector_selector(Some(tok))?)),
                1,
            )),
        }
    }

    /// Consumes the identifier and decides what it starts from the next token.
    fn identifier_role(&mut self, tok: Token) -> PResult<Role> {
        if !self.is_metric_identifier(&tok) {
            return Err(self.unexpected(tok));
        }
        self.bump()?;
        let next = self.peek()?;
        let opens = next.kind == Tok::LParen;
        Ok(match tok.kw {
            Kw::Agg(op) if opens || next.is_kw(Kw::By) || next.is_kw(Kw::Without) => {
                Role::Aggregation(op)
            }
            Kw::None | Kw::Start | Kw::End | Kw::Step | Kw::Range | Kw::MinOf | Kw::MaxOf
                if opens =>
            {
                Role::Call
            }
            _ => Role::Selector,
        })
    }

    /// Whether an identifier token may start an expression (a metric name,
    /// a function or an aggregation). `bool`, `on`, `ignoring`,
    /// `group_left`, `group_right` and `atan2` may not.
    fn is_metric_identifier(&self, tok: &Token) -> bool {
        tok.kind == Tok::Ident
            && !matches!(
                tok.kw,
                Kw::Bool | Kw::On | Kw::Ignoring | Kw::GroupLeft | Kw::GroupRight | Kw::Atan2
            )
    }

    /// A number or duration literal token as a number.
    fn number_literal(&self, tok: Token, kind: NumKind) -> PResult<NumberLiteral> {
        let text = self.text(&tok);
        let (value, is_duration) = match kind {
            NumKind::Number => (
                parse_number(text)
                    .map_err(|e| self.error(tok.span, format!("error parsing number: {e}")))?,
                false,
            ),
            NumKind::Duration => (
                parse_duration(text).map_err(|e| self.error(tok.span, e))?,
                true,
            ),
        };
        Ok(NumberLiteral {
            value,
            is_duration,
            span: tok.span,
        })
    }

    /// The unquoted value of a string token.
    fn string_value(&self, tok: Token) -> PResult<String> {
        unquote(self.text(&tok))
            .map(|s| s.into_owned())
            .map_err(|e| self.error(tok.span, e))
    }

    // ----- binary operators --------------------------------------------------

    /// `bool`, `on(...)`/`ignoring(...)`, `group_left(...)`/`group_right(...)`, `fill...(v)`.
    fn bin_modifiers(&mut self) -> PResult<Modifiers> {
        let mut m = Modifiers::default();
        if self.peek()?.is_kw(Kw::Bool) {
            self.bump()?;
            m.return_bool = true;
        }
        let tok = self.peek()?;
        if tok.is_kw(Kw::On) || tok.is_kw(Kw::Ignoring) {
            self.bump()?;
            m.matching.on = tok.kw == Kw::On;
            m.matching.matching_labels = self.grouping_labels()?;
            let tok = self.peek()?;
            if tok.is_kw(Kw::GroupLeft) || tok.is_kw(Kw::GroupRight) {
                self.bump()?;
                m.matching.card = if tok.kw == Kw::GroupLeft {
                    VectorMatchCardinality::ManyToOne
                } else {
                    VectorMatchCardinality::OneToMany
                };
                if self.peek()?.kind == Tok::LParen {
                    m.matching.include = self.grouping_labels()?;
                }
            }
        }
        let tok = self.peek()?;
        let fill = &mut m.matching.fill;
        match tok.kw {
            _ if tok.kind != Tok::Ident => {}
            Kw::Fill => {
                self.bump()?;
                let v = self.fill_value()?;
                *fill = FillValues {
                    lhs: Some(v),
                    rhs: Some(v),
                };
            }
            Kw::FillLeft | Kw::FillRight => {
                self.bump()?;
                let first = self.fill_value()?;
                let left_first = tok.kw == Kw::FillLeft;
                if left_first {
                    fill.lhs = Some(first);
                } else {
                    fill.rhs = Some(first);
                }
                let other = if left_first {
                    Kw::FillRight
                } else {
                    Kw::FillLeft
                };
                if self.peek()?.is_kw(other) {
                    self.bump()?;
                    let second = self.fill_value()?;
                    if left_first {
                        fill.rhs = Some(second);
                    } else {
                        fill.lhs = Some(second);
                    }
                }
            }
            _ => {}
        }
        Ok(m)
    }

    /// `( [+|-] number )` after a fill modifier.
    fn fill_value(&mut self) -> PResult<f64> {
        self.expect(Tok::LParen)?;
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
        self.expect(Tok::RParen)?;
        Ok(if negate { -n.value } else { n.value })
    }

    fn binary(
        &mut self,
        (op, tok): (BinaryOp, Token),
        (lhs, lhs_depth): Node,
        (rhs, rhs_depth): Node,
        m: Modifiers,
    ) -> PResult<Node> {
        let depth = lhs_depth.max(rhs_depth) + 1;
        self.check_tree_depth(depth, tok.span)?;
        let span = lhs.span().to(rhs.span());
        let fill = m.matching.fill;
        if (fill.lhs.is_some() || fill.rhs.is_some()) && !self.opts.binop_fill_modifiers {
            return Err(self.error(
                span,
                "binop fill modifiers are experimental and not enabled",
            ));
        }
        let expr = Expr::Binary(Box::new(BinaryExpr {
            op,
            lhs,
            rhs,
            matching: Some(m.matching),
            return_bool: m.return_bool,
            span,
        }));
        Ok((expr, depth))
    }
}

/// What an identifier at the start of an expression turns out to be.
enum Role {
    Aggregation(AggregateOp),
    Call,
    Selector,
}

/// The minimum precedence for the right operand of `op`.
fn next_min_precedence(op: BinaryOp) -> u8 {
    if op.is_right_associative() {
        op.precedence()
    } else {
        op.precedence() + 1
    }
}

/// Applies a unary sign: folds it into a number literal, else wraps.
fn finish_unary(sign: Token, (operand, depth): Node) -> Node {
    let op = if sign.kind == Tok::Sub {
        UnaryOp::Neg
    } else {
        UnaryOp::Pos
    };
    match operand {
        Expr::NumberLiteral(mut n) => {
            if op == UnaryOp::Neg {
                n.value = -n.value;
            }
            n.span.start = sign.span.start;
            (Expr::NumberLiteral(n), depth)
        }
        operand => {
            let span = sign.span.to(operand.span());
            (
                Expr::Unary(Box::new(UnaryExpr {
                    op,
                    expr: operand,
                    span,
                })),
                depth + 1,
            )
        }
    }
}

/// The binary operator a token spells, if any.
fn binary_op(tok: &Token) -> Option<BinaryOp> {
    Some(match tok.kind {
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::Pow => BinaryOp::Pow,
        Tok::EqlC => BinaryOp::Eql,
        Tok::Neq => BinaryOp::Neq,
        Tok::Gtr => BinaryOp::Gtr,
        Tok::Lss => BinaryOp::Lss,
        Tok::Gte => BinaryOp::Gte,
        Tok::Lte => BinaryOp::Lte,
        Tok::TrimUpper => BinaryOp::TrimUpper,
        Tok::TrimLower => BinaryOp::TrimLower,
        Tok::Ident => match tok.kw {
            Kw::And => BinaryOp::And,
            Kw::Or => BinaryOp::Or,
            Kw::Unless => BinaryOp::Unless,
            Kw::Atan2 => BinaryOp::Atan2,
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
