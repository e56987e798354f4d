//! The PromQL abstract syntax tree.
//!
//! Node names follow Prometheus' `promql/parser/ast.go` so that PromQL users
//! find familiar names. Every node carries a byte [`Span`] into the source.
//! Spans take part in `PartialEq`; compare trees without them with
//! [`Expr::eq_ignore_spans`].

use crate::model::{Matcher, ValueType};
use crate::parser::functions::Function;
use crate::parser::span::Span;

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type"))]
pub enum Expr {
    /// `sum by (job) (x)`, `topk(3, x)`.
    Aggregate(Box<AggregateExpr>),
    /// `a + b`, `a > bool b`, `a and on(x) b`.
    Binary(Box<BinaryExpr>),
    /// `rate(x[5m])`.
    Call(Box<Call>),
    /// `x[5m]`.
    MatrixSelector(Box<MatrixSelector>),
    /// `expr[30m:1m]`.
    Subquery(Box<SubqueryExpr>),
    /// `1`, `0x1f`, `Inf`, `5m` used as a number.
    NumberLiteral(NumberLiteral),
    /// `(expr)`.
    Paren(Box<ParenExpr>),
    /// `"text"`.
    StringLiteral(StringLiteral),
    /// `-expr`, `+expr`.
    Unary(Box<UnaryExpr>),
    /// `up{job="x"} offset 5m @ 100`.
    VectorSelector(Box<VectorSelector>),
}

/// An aggregation operator such as `sum` or `topk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk(k, v)`
    Topk,
    /// `bottomk(k, v)`
    Bottomk,
    /// `count_values("label", v)`
    CountValues,
    /// `quantile(q, v)`
    Quantile,
    /// `limitk(k, v)` (experimental)
    Limitk,
    /// `limit_ratio(r, v)` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// All aggregation operators.
    pub const ALL: [AggregateOp; 14] = [
        AggregateOp::Sum,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::CountValues,
        AggregateOp::Quantile,
        AggregateOp::Limitk,
        AggregateOp::LimitRatio,
    ];

    /// The keyword as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// Looks up an operator by keyword (case-insensitive, as Prometheus' lexer).
    pub fn from_keyword(s: &str) -> Option<AggregateOp> {
        AggregateOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the operator takes a parameter before the vector.
    pub fn takes_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }

    /// Whether the operator is experimental (needs experimental functions enabled).
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

/// `op [by|without (labels)] ([param,] expr)`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated expression.
    pub expr: Expr,
    /// The parameter of `topk`, `quantile`, `count_values`, ...
    pub param: Option<Expr>,
    /// The `by`/`without` clause, if written.
    pub grouping: Option<Grouping>,
    /// The whole expression.
    pub span: Span,
}

/// A `by (...)` or `without (...)` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Grouping {
    /// `true` for `without`, `false` for `by`.
    pub without: bool,
    /// The label names, as written.
    pub labels: Vec<String>,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
    /// `</` (native histogram trim: drop observations above the value)
    TrimUpper,
    /// `>/` (native histogram trim: drop observations below the value)
    TrimLower,
}

impl BinaryOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
        }
    }

    /// Binding strength: higher binds tighter.
    /// `or` 1, `and`/`unless` 2, comparisons and trims 3, `+ -` 4, `* / % atan2` 5, `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Whether the operator is right-associative (only `^`).
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }

    /// Whether the operator is a comparison (`==`, `!=`, `>`, `<`, `>=`, `<=`).
    /// The trim operators share the comparisons' precedence but are not comparisons.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql
                | BinaryOp::Neq
                | BinaryOp::Gtr
                | BinaryOp::Lss
                | BinaryOp::Gte
                | BinaryOp::Lte
        )
    }

    /// Whether the operator is a set operator (`and`, `or`, `unless`).
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

/// `lhs op [bool] [on|ignoring (...)] [group_left|group_right (...)] [fill...] rhs`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Expr,
    /// Right operand.
    pub rhs: Expr,
    /// Vector matching modifiers, if any were written (or implied for set operators).
    pub matching: Option<VectorMatching>,
    /// `bool` modifier on a comparison.
    pub return_bool: bool,
    /// The whole expression.
    pub span: Span,
}

/// Cardinality of a vector match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum VectorMatchCardinality {
    /// One-to-one (default).
    #[default]
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// How the two sides of a vector binary operation are matched.
#[derive(Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct VectorMatching {
    /// The cardinality.
    pub card: VectorMatchCardinality,
    /// `on (...)` (`Some((true, labels))`) or `ignoring (...)` (`Some((false, labels))`).
    pub matching_labels: Vec<String>,
    /// `true` for `on`, `false` for `ignoring` (or no clause).
    pub on: bool,
    /// The labels in `group_left(...)` / `group_right(...)`.
    pub include: Vec<String>,
    /// `fill(v)` / `fill_left(v)` / `fill_right(v)` values (experimental).
    pub fill: FillValues,
}

/// Values to fill in when one side of a vector match has no partner.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FillValues {
    /// Value used for a missing left-hand sample.
    pub lhs: Option<f64>,
    /// Value used for a missing right-hand sample.
    pub rhs: Option<f64>,
}

/// A call of a function from the function table.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Call {
    /// The function.
    pub func: &'static Function,
    /// The arguments.
    pub args: Vec<Expr>,
    /// The whole call, name to closing parenthesis.
    pub span: Span,
}

/// A range selector `selector[range]`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MatrixSelector {
    /// The vector selector (its offset/@ modifiers are written after the range).
    pub selector: VectorSelector,
    /// The range.
    pub range: DurationExpr,
    /// From the selector's start to the end of the last modifier.
    pub span: Span,
}

/// A subquery `expr[range:step]`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SubqueryExpr {
    /// The inner expression.
    pub expr: Expr,
    /// The range.
    pub range: DurationExpr,
    /// The step; `None` means the engine's default (`[30m:]`).
    pub step: Option<DurationExpr>,
    /// `offset` modifier.
    pub offset: Option<DurationExpr>,
    /// `@` modifier.
    pub at: Option<AtModifier>,
    /// From the inner expression's start to the end of the last modifier.
    pub span: Span,
}

/// A number.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NumberLiteral {
    /// The value. For a duration literal, in seconds.
    pub value: f64,
    /// Written as a duration (`5m`), so printed as one.
    pub is_duration: bool,
    /// The literal.
    pub span: Span,
}

/// `( expr )`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Expr,
    /// Including the parentheses.
    pub span: Span,
}

/// A string literal (value after unescaping).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StringLiteral {
    /// The unescaped value.
    pub value: String,
    /// The literal's bytes when its escapes do not form valid UTF-8 (such as
    /// `"a\xc5z"`): Go strings may hold any bytes, so Prometheus accepts the
    /// literal and fails only where it must be a label name. `value` then
    /// holds the lossy UTF-8 conversion.
    pub invalid_utf8: Option<Vec<u8>>,
    /// Including the quotes.
    pub span: Span,
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
}

impl UnaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
        }
    }
}

/// `-expr` or `+expr`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Expr,
    /// From the operator to the operand's end.
    pub span: Span,
}

/// The `@` modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum AtModifier {
    /// `@ <unix seconds>`, stored in milliseconds.
    Timestamp(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// An instant vector selector `name{matchers} [offset d] [@ t] [anchored|smoothed]`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct VectorSelector {
    /// The metric name written before the braces or as a bare quoted name
    /// inside them (`{"my.metric"}`), if any.
    pub name: Option<String>,
    /// All matchers, including an `__name__` equality matcher for `name`
    /// (as in Prometheus, so the engine can pass them straight to storage).
    pub matchers: Vec<Matcher>,
    /// `offset` modifier.
    pub offset: Option<DurationExpr>,
    /// `@` modifier.
    pub at: Option<AtModifier>,
    /// `anchored` extended range selector modifier (experimental).
    pub anchored: bool,
    /// `smoothed` extended range selector modifier (experimental).
    pub smoothed: bool,
    /// From the name (or `{`) to the end of the last modifier.
    pub span: Span,
}

/// A duration: a literal, or (experimental) an arithmetic expression over
/// durations, `step()`, `range()`, `min_of`, `max_of`.
///
/// Numbers in a duration expression are seconds.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind"))]
pub enum DurationExpr {
    /// `5m`, `300`, `1.5`.
    Literal(NumberLiteral),
    /// `step()`: the query's step.
    Step(Span),
    /// `range()`: the query's range (end - start).
    Range(Span),
    /// `-d` or `+d`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<DurationExpr>,
        /// From the operator to the operand's end.
        span: Span,
    },
    /// `a + b`, `a - b`, `a * b`, `a / b`, `a % b`, `a ^ b`.
    Binary {
        /// The operator (one of the arithmetic operators).
        op: BinaryOp,
        /// Left operand.
        lhs: Box<DurationExpr>,
        /// Right operand.
        rhs: Box<DurationExpr>,
        /// The whole expression.
        span: Span,
    },
    /// `min_of(a, b)` (`is_max == false`) or `max_of(a, b)`.
    MinMax {
        /// `true` for `max_of`.
        is_max: bool,
        /// First argument.
        a: Box<DurationExpr>,
        /// Second argument.
        b: Box<DurationExpr>,
        /// Name to closing parenthesis.
        span: Span,
    },
    /// `( d )`.
    Paren {
        /// The inner expression.
        expr: Box<DurationExpr>,
        /// Including the parentheses.
        span: Span,
    },
}

impl DurationExpr {
    /// The span of the whole duration expression.
    pub fn span(&self) -> Span {
        match self {
            DurationExpr::Literal(n) => n.span,
            DurationExpr::Step(s) | DurationExpr::Range(s) => *s,
            DurationExpr::Unary { span, .. }
            | DurationExpr::Binary { span, .. }
            | DurationExpr::MinMax { span, .. }
            | DurationExpr::Paren { span, .. } => *span,
        }
    }

    /// The duration in milliseconds when this is a plain literal
    /// (`5m`, `-5m`, `300`), `None` for anything that needs evaluation.
    pub fn as_literal_millis(&self) -> Option<i64> {
        match self {
            DurationExpr::Literal(n) => Some(seconds_to_millis(n.value)),
            _ => None,
        }
    }

    /// A literal duration of `millis` milliseconds, printed as a duration.
    pub fn from_millis(millis: i64, span: Span) -> Self {
        DurationExpr::Literal(NumberLiteral {
            value: millis as f64 / 1000.0,
            is_duration: true,
            span,
        })
    }

    /// Evaluates the duration to milliseconds, given the query's step and
    /// range (both in milliseconds; `range` is 0 for instant queries).
    /// Returns `None` when the result is not finite.
    pub fn eval_millis(&self, step: i64, range: i64) -> Option<i64> {
        let secs = self.eval_seconds(step as f64 / 1000.0, range as f64 / 1000.0);
        secs.is_finite().then(|| seconds_to_millis(secs))
    }

    fn eval_seconds(&self, step: f64, range: f64) -> f64 {
        match self {
            DurationExpr::Literal(n) => n.value,
            DurationExpr::Step(_) => step,
            DurationExpr::Range(_) => range,
            DurationExpr::Unary { op, expr, .. } => {
                let v = expr.eval_seconds(step, range);
                if *op == UnaryOp::Neg { -v } else { v }
            }
            DurationExpr::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (lhs.eval_seconds(step, range), rhs.eval_seconds(step, range));
                match op {
                    BinaryOp::Add => a + b,
                    BinaryOp::Sub => a - b,
                    BinaryOp::Mul => a * b,
                    BinaryOp::Div => a / b,
                    BinaryOp::Mod => a % b,
                    BinaryOp::Pow => a.powf(b),
                    _ => f64::NAN,
                }
            }
            DurationExpr::MinMax { is_max, a, b, .. } => {
                let (a, b) = (a.eval_seconds(step, range), b.eval_seconds(step, range));
                if *is_max { a.max(b) } else { a.min(b) }
            }
            DurationExpr::Paren { expr, .. } => expr.eval_seconds(step, range),
        }
    }
}

/// Converts float seconds to integer milliseconds, rounding to nearest
/// (`as` saturates, so out-of-range values cannot wrap).
pub fn seconds_to_millis(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

impl Expr {
    /// The span of the whole expression.
    pub fn span(&self) -> Span {
        match self {
            Expr::Aggregate(e) => e.span,
            Expr::Binary(e) => e.span,
            Expr::Call(e) => e.span,
            Expr::MatrixSelector(e) => e.span,
            Expr::Subquery(e) => e.span,
            Expr::NumberLiteral(e) => e.span,
            Expr::Paren(e) => e.span,
            Expr::StringLiteral(e) => e.span,
            Expr::Unary(e) => e.span,
            Expr::VectorSelector(e) => e.span,
        }
    }

    /// The type of value the expression evaluates to (assuming it type-checks).
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Aggregate(_) | Expr::VectorSelector(_) => ValueType::Vector,
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.return_type,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::NumberLiteral(_) => ValueType::Scalar,
            Expr::Paren(p) => p.expr.value_type(),
            Expr::StringLiteral(_) => ValueType::String,
            Expr::Unary(u) => u.expr.value_type(),
        }
    }

    /// The direct children, left to right.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Aggregate(a) => a.param.iter().chain(std::iter::once(&a.expr)).collect(),
            Expr::Binary(b) => vec![&b.lhs, &b.rhs],
            Expr::Call(c) => c.args.iter().collect(),
            Expr::Subquery(s) => vec![&s.expr],
            Expr::Paren(p) => vec![&p.expr],
            Expr::Unary(u) => vec![&u.expr],
            Expr::MatrixSelector(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_) => {
                vec![]
            }
        }
    }

    /// Calls `f` on every node, parents before children (iteratively, so deep
    /// trees cannot overflow the stack).
    pub fn walk(&self, mut f: impl FnMut(&Expr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            stack.extend(e.children().into_iter().rev());
        }
    }

    /// Whether two trees are equal when spans are ignored.
    ///
    /// Unlike `==`, a `NaN` literal equals a `NaN` literal here, and the
    /// distinctions the canonical printer drops do not count (see
    /// [`Expr::normalize`]), so that `parse(print(e))` can be compared with
    /// `e` for every `e`.
    pub fn eq_ignore_spans(&self, other: &Expr) -> bool {
        let (mut a, mut b) = (self.clone(), other.clone());
        a.clear_spans();
        b.clear_spans();
        a.normalize();
        b.normalize();
        // The debug form spells every field, and prints NaN as `NaN`.
        a == b || format!("{a:?}") == format!("{b:?}")
    }

    /// Calls `f` on every vector selector in the tree, including those inside
    /// range selectors (iteratively, so deep trees cannot overflow the stack).
    /// Useful for rewriting queries, e.g. adding a tenant matcher everywhere.
    pub fn for_each_selector_mut(&mut self, mut f: impl FnMut(&mut VectorSelector)) {
        let mut stack: Vec<&mut Expr> = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::VectorSelector(v) => f(v),
                Expr::MatrixSelector(m) => f(&mut m.selector),
                Expr::Aggregate(a) => {
                    stack.push(&mut a.expr);
                    if let Some(p) = &mut a.param {
                        stack.push(p);
                    }
                }
                Expr::Binary(b) => {
                    stack.push(&mut b.lhs);
                    stack.push(&mut b.rhs);
                }
                Expr::Call(c) => stack.extend(c.args.iter_mut()),
                Expr::Subquery(s) => stack.push(&mut s.expr),
                Expr::Paren(p) => stack.push(&mut p.expr),
                Expr::Unary(u) => stack.push(&mut u.expr),
                Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
            }
        }
    }

    /// Sets every span in the tree to `0..0`.
    pub fn clear_spans(&mut self) {
        let mut stack: Vec<&mut Expr> = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Aggregate(a) => {
                    a.span = Span::default();
                    stack.push(&mut a.expr);
                    if let Some(p) = &mut a.param {
                        stack.push(p);
                    }
                }
                Expr::Binary(b) => {
                    b.span = Span::default();
                    stack.push(&mut b.lhs);
                    stack.push(&mut b.rhs);
                }
                Expr::Call(c) => {
                    c.span = Span::default();
                    stack.extend(c.args.iter_mut());
                }
                Expr::MatrixSelector(m) => {
                    m.span = Span::default();
                    clear_selector_spans(&mut m.selector);
                    m.range.clear_spans();
                }
                Expr::Subquery(s) => {
                    s.span = Span::default();
                    s.range.clear_spans();
                    if let Some(d) = &mut s.step {
                        d.clear_spans();
                    }
                    if let Some(d) = &mut s.offset {
                        d.clear_spans();
                    }
                    stack.push(&mut s.expr);
                }
                Expr::NumberLiteral(n) => n.span = Span::default(),
                Expr::Paren(p) => {
                    p.span = Span::default();
                    stack.push(&mut p.expr);
                }
                Expr::StringLiteral(s) => s.span = Span::default(),
                Expr::Unary(u) => {
                    u.span = Span::default();
                    stack.push(&mut u.expr);
                }
                Expr::VectorSelector(v) => clear_selector_spans(v),
            }
        }
    }
}

fn clear_selector_spans(v: &mut VectorSelector) {
    v.span = Span::default();
    if let Some(d) = &mut v.offset {
        d.clear_spans();
    }
}

impl DurationExpr {
    /// Sets every span in the duration expression to `0..0`.
    pub fn clear_spans(&mut self) {
        match self {
            DurationExpr::Literal(n) => n.span = Span::default(),
            DurationExpr::Step(s) | DurationExpr::Range(s) => *s = Span::default(),
            DurationExpr::Unary { expr, span, .. } | DurationExpr::Paren { expr, span } => {
                *span = Span::default();
                expr.clear_spans();
            }
            DurationExpr::Binary { lhs, rhs, span, .. } => {
                *span = Span::default();
                lhs.clear_spans();
                rhs.clear_spans();
            }
            DurationExpr::MinMax { a, b, span, .. } => {
                *span = Span::default();
                a.clear_spans();
                b.clear_spans();
            }
        }
    }
}
