//! Vector selectors: `name`, `name{matchers}`, `{matchers}`, `{"quoted.name", ...}`.

use std::cell::RefCell;
use std::collections::HashMap;

use super::{Ctx, PResult, Parser};
use crate::model::{InvalidRegex, MatchOp, Matcher};
use crate::parser::Span;
use crate::parser::ast::VectorSelector;
use crate::parser::lexer::{Tok, Token};

/// The label carrying the metric name.
pub(crate) const METRIC_NAME: &str = "__name__";

const MATCHER_START: Ctx = Ctx {
    what: "label matching",
    expected: "identifier or \"}\"",
};
const MATCHER_OP: Ctx = Ctx {
    what: "label matching",
    expected: "label matching operator",
};
const MATCHER_VALUE: Ctx = Ctx {
    what: "label matching",
    expected: "string",
};
const MATCHER_NEXT: Ctx = Ctx {
    what: "label matching",
    expected: "\",\" or \"}\"",
};

impl Parser<'_> {
    /// A vector selector; `name` (already consumed) is the metric identifier
    /// written before the braces, if any.
    pub(super) fn vector_selector(&mut self, name: Option<Token>) -> PResult<VectorSelector> {
        let mut matchers = Vec::new();
        let mut span = name.map(|t| t.span);
        let mut quoted_name: Option<String> = None;
        if self.peek()?.kind == Tok::LBrace {
            let (braces, quoted) = self.label_matchers(&mut matchers)?;
            span = Some(span.map_or(braces, |s| s.to(braces)));
            quoted_name = quoted;
        }
        let name = match name {
            Some(tok) => {
                let text = self.text(&tok).to_string();
                matchers.push(Matcher::equal(METRIC_NAME, text.clone()));
                Some(text)
            }
            None => quoted_name,
        };
        Ok(VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            span: span.unwrap_or_default(),
        })
    }

    /// `{ [matcher {, matcher} [,]] }`. Returns the span of the braces and,
    /// when exactly one bare quoted metric name was given (and no other
    /// `__name__` matcher), that name.
    fn label_matchers(&mut self, out: &mut Vec<Matcher>) -> PResult<(Span, Option<String>)> {
        let open = self.expect(Tok::LBrace)?;
        let mut bare_names: Vec<String> = Vec::new();
        let close = loop {
            let tok = self.peek()?;
            let (label, label_span) = match tok.kind {
                Tok::RBrace => {
                    self.bump()?;
                    break tok.span;
                }
                Tok::Ident => {
                    self.bump()?;
                    (self.text(&tok).to_string(), tok.span)
                }
                Tok::Str => {
                    self.bump()?;
                    (self.string_value(tok)?, tok.span)
                }
                _ => return Err(self.unexpected_in(tok, MATCHER_START)),
            };
            let op_tok = self.peek()?;
            let op = match op_tok.kind {
                Tok::Eql => Some(MatchOp::Equal),
                Tok::Neq => Some(MatchOp::NotEqual),
                Tok::EqlRegex => Some(MatchOp::Regex),
                Tok::NeqRegex => Some(MatchOp::NotRegex),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.bump()?;
                    let value_tok = self.peek()?;
                    if value_tok.kind != Tok::Str {
                        return Err(self.unexpected_in(value_tok, MATCHER_VALUE));
                    }
                    self.bump()?;
                    let value = self.string_value(value_tok)?;
                    let matcher = new_matcher(op, label, value)
                        .map_err(|e| self.error(label_span.to(value_tok.span), e.message))?;
                    out.push(matcher);
                }
                None if tok.kind == Tok::Str => {
                    bare_names.push(label.clone());
                    out.push(Matcher::equal(METRIC_NAME, label));
                }
                None => return Err(self.unexpected_in(op_tok, MATCHER_OP)),
            }
            let next = self.peek()?;
            match next.kind {
                Tok::Comma => {
                    self.bump()?;
                }
                Tok::RBrace => {
                    self.bump()?;
                    break next.span;
                }
                _ => return Err(self.unexpected_in(next, MATCHER_NEXT)),
            }
        };
        let name_matchers = out.iter().filter(|m| m.name == METRIC_NAME).count();
        let quoted = if bare_names.len() == 1 && name_matchers == 1 {
            bare_names.pop()
        } else {
            None
        };
        Ok((open.span.to(close), quoted))
    }
}

/// Regex matchers compiled recently on this thread, by operator and pattern.
/// Compiling a regex costs far more than parsing the rest of a typical
/// query, and rule files and dashboards repeat the same patterns.
type RegexCache = HashMap<(MatchOp, String), Matcher>;

thread_local! {
    static REGEX_CACHE: RefCell<RegexCache> = RefCell::new(HashMap::new());
}

/// Entries kept per thread before the cache is emptied.
const REGEX_CACHE_ENTRIES: usize = 128;
/// Longer patterns are not cached.
const REGEX_CACHE_MAX_PATTERN: usize = 256;

/// A matcher, reusing a regex compiled earlier for the same pattern.
fn new_matcher(op: MatchOp, label: String, value: String) -> Result<Matcher, InvalidRegex> {
    if matches!(op, MatchOp::Equal | MatchOp::NotEqual) || value.len() > REGEX_CACHE_MAX_PATTERN {
        return Matcher::new(op, label, value);
    }
    let key = (op, value);
    let cached = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned());
    if let Some(mut m) = cached {
        m.name = label;
        return Ok(m);
    }
    let m = Matcher::new(op, label, key.1.clone())?;
    REGEX_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= REGEX_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, m.clone());
    });
    Ok(m)
}
