//! Recursive-descent parser with precedence climbing. (Being written.)

use super::{ParseError, ParseErrorKind, ParseOptions, Span};
use crate::parser::ast::{Expr, VectorSelector};

pub(crate) fn parse_expr(input: &str, _options: &ParseOptions) -> Result<Expr, ParseError> {
    Err(ParseError::new(
        ParseErrorKind::Syntax("parser not implemented".into()),
        Span::at(0),
        input,
    ))
}

pub(crate) fn parse_selector(input: &str) -> Result<VectorSelector, ParseError> {
    Err(ParseError::new(
        ParseErrorKind::Syntax("parser not implemented".into()),
        Span::at(0),
        input,
    ))
}
