//! # promql-engine
//!
//! Parse, type-check and evaluate PromQL with Prometheus 3.x semantics; load
//! and lint Prometheus rule files; run Prometheus' PromQL test scripts.
//!
//! # Example
//!
//! ```
//! use promql_engine::model::{SampleValue, Value};
//! use promql_engine::storage::{MemoryStorage, load::load_data};
//! use promql_engine::{Engine, EngineOptions, parse};
//!
//! // Data: Prometheus text exposition with millisecond timestamps.
//! let text = b"http_requests_total{job=\"api\"} 100 1700000000000\n\
//!              http_requests_total{job=\"api\"} 160 1700000060000\n";
//! let mut storage = MemoryStorage::new();
//! load_data(text, &mut storage, 0).unwrap();
//! storage.commit();
//!
//! let expr = parse("sum by (job) (increase(http_requests_total[2m]))").unwrap();
//! assert_eq!(expr.to_string(), "sum by (job) (increase(http_requests_total[2m]))");
//!
//! let engine = Engine::new(EngineOptions::default());
//! let result = engine.instant(&storage, &expr, 1_700_000_060_000).unwrap();
//! let Value::Vector(samples) = result.value else { panic!("a vector") };
//! assert_eq!(samples[0].labels.to_string(), r#"{job="api"}"#);
//! assert!(matches!(samples[0].value, SampleValue::Float(v) if v > 60.0));
//! ```
//!
//! # What is where
//! - [`parser`]: text to a checked [`Expr`] ([`parse`], [`parse_with`] with
//!   [`ParseOptions`]), and back ([`Expr`]'s `Display`, [`format()`]).
//!   Errors are [`ParseError`]s with a span, `line:col` and a caret renderer.
//! - [`engine`]: [`Engine::instant`] and [`Engine::range`] over any
//!   [`storage::Storage`], with limits ([`EngineOptions`]), annotations and
//!   statistics.
//! - [`storage`]: the `Storage` trait, [`storage::MemoryStorage`], loaders,
//!   a fanout of two storages, and (feature `remote`) Prometheus remote-read
//!   and remote-write clients.
//! - [`model`]: labels, matchers, samples, native histograms, values, and
//!   Prometheus' HTTP API JSON.
//! - [`rules`]: rule files: validation and lints (`promtool check rules`
//!   parity), Go-template execution, rule-group evaluation over any storage
//!   (outputs to any appender, e.g. remote write), and rule unit tests
//!   (`promtool test rules` parity).
//! - [`promqltest`]: Prometheus' PromQL test-script language.
//!
//! Targets Prometheus 3.x (the upstream test scripts are from commit
//! `d15adb9`, version 3.14.0), and passes all 2,214 of their `eval` cases.
//!
//! # Input safety
//! Parsing, checking, evaluation and the loaders never panic on bad input;
//! nesting depth, input length, samples in memory, points per series and
//! query time are limited (see `GUARANTEES.md` in the repository).
//!
//! # Crate features
//! - `cli` (default): the `promql` command-line tool.
//! - `serde`: `Serialize` for the AST.
//! - `remote`: `storage::remote::RemoteReadStorage` and
//!   `storage::remote::RemoteWriteClient`; `remote-tls` adds `https://`
//!   (rustls).

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
