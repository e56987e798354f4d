//! # promql-engine
//!
//! Parse, type-check and evaluate PromQL with Prometheus 3.x semantics.
//!
//! ```
//! use promql_engine::{parse, Engine, EngineOptions};
//! use promql_engine::storage::MemoryStorage;
//!
//! let expr = parse("sum by (job) (rate(http_requests_total[5m]))").unwrap();
//! assert_eq!(expr.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
//! ```
//!
//! Targets Prometheus 3.x (the test scripts are from upstream commit
//! `d15adb9`, version 3.14.0).
//!
//! # Crate features
//! - `cli` (default): the `promql` command-line tool.
//! - `serde`: `Serialize` for the AST.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod engine;
pub mod model;
pub mod parser;
pub mod promqltest;
pub mod rules;
pub mod storage;

pub use engine::{Engine, EngineOptions, EvalError, QueryResult};
pub use parser::{Expr, ParseError, ParseOptions, format, parse, parse_with};
