//! PromQL text to a checked AST, and back to text.
//!
//! Pipeline: `lexer` (logos tokens) → `parse` (recursive descent with
//! precedence climbing, syntax only) → [`check`] (types and Prometheus'
//! semantic rules) → [`Expr`]. [`printer`] turns an `Expr` back into
//! canonical PromQL (`Display`) or the multi-line pretty form ([`format()`]).

pub mod ast;
pub mod check;
pub mod error;
pub mod functions;
pub(crate) mod lexer;
mod normalize;
mod parse;
pub mod printer;
mod quote;
pub mod span;

pub use ast::*;
pub use error::{ParseError, ParseErrorKind};
pub use functions::{Arity, FUNCTIONS, Function};
pub use printer::format;
pub use span::{Position, Span};

/// Switches for the parser, mirroring Prometheus' parser options.
///
/// The default is what Prometheus 3.x accepts without feature flags.
/// [`ParseOptions::all`] turns on every experimental feature, as the upstream
/// test suite needs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Experimental functions and aggregations (`limitk`, `sort_by_label`, `info`, ...).
    pub experimental_functions: bool,
    /// Duration expressions: `[5m+step()]`, `offset (1m*2)`, `min_of`, `max_of`.
    pub duration_expressions: bool,
    /// `anchored` and `smoothed` range selector modifiers.
    pub extended_range_selectors: bool,
    /// `fill`, `fill_left`, `fill_right` binary operator modifiers.
    pub binop_fill_modifiers: bool,
    /// Maximum nesting depth of the expression (parentheses, calls,
    /// aggregations, unary operators, operands of binary operators); deeper
    /// input is an error, never a stack overflow. Input nesting deeper than
    /// 64 levels is parsed on a helper thread whose stack is sized for this
    /// limit.
    ///
    /// Values above [`MAX_DEPTH_CEILING`] count as that ceiling: deeper trees
    /// could overflow a small thread stack when they are dropped.
    pub max_depth: usize,
    /// Maximum input length in bytes.
    pub max_length: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            experimental_functions: false,
            duration_expressions: false,
            extended_range_selectors: false,
            binop_fill_modifiers: false,
            max_depth: 1000,
            max_length: 64 << 20,
        }
    }
}

/// The highest nesting depth [`ParseOptions::max_depth`] can allow.
pub const MAX_DEPTH_CEILING: usize = 4000;

impl ParseOptions {
    /// [`max_depth`](Self::max_depth), capped at [`MAX_DEPTH_CEILING`].
    pub fn effective_max_depth(&self) -> usize {
        self.max_depth.min(MAX_DEPTH_CEILING)
    }

    /// Prometheus 3.x defaults (no experimental features).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every experimental feature enabled.
    pub fn all() -> Self {
        ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
            ..Self::default()
        }
    }

    /// Sets [`experimental_functions`](Self::experimental_functions).
    pub fn with_experimental_functions(mut self, on: bool) -> Self {
        self.experimental_functions = on;
        self
    }

    /// Sets [`duration_expressions`](Self::duration_expressions).
    pub fn with_duration_expressions(mut self, on: bool) -> Self {
        self.duration_expressions = on;
        self
    }

    /// Sets [`extended_range_selectors`](Self::extended_range_selectors).
    pub fn with_extended_range_selectors(mut self, on: bool) -> Self {
        self.extended_range_selectors = on;
        self
    }

    /// Sets [`binop_fill_modifiers`](Self::binop_fill_modifiers).
    pub fn with_binop_fill_modifiers(mut self, on: bool) -> Self {
        self.binop_fill_modifiers = on;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`max_length`](Self::max_length).
    pub fn with_max_length(mut self, len: usize) -> Self {
        self.max_length = len;
        self
    }
}

/// Parses and type-checks `input` with Prometheus 3.x default options.
///
/// ```
/// let expr = promql_engine::parse("sum by (job) (rate(http_requests_total[5m]))").unwrap();
/// assert_eq!(expr.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
/// ```
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    parse_with(input, &ParseOptions::default())
}

/// Parses and type-checks `input` with the given options.
pub fn parse_with(input: &str, options: &ParseOptions) -> Result<Expr, ParseError> {
    parse::parse_checked(input, options)
}

/// Parses a series selector such as `up{job="x"}` (as in the HTTP API's
/// `match[]`, rule unit tests and the test-script language).
pub fn parse_selector(input: &str) -> Result<VectorSelector, ParseError> {
    parse::parse_selector(input)
}
