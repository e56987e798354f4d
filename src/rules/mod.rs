//! Prometheus rule files: loading and `promtool check rules` parity, rule
//! group evaluation ([`eval`]) and `promtool test rules` ([`unittest`]).
//!
//! # YAML library choice
//!
//! Rule errors must point at the line and column of any node (a rule, its
//! `expr`, a label), unknown fields must be errors (as in Prometheus' strict
//! decoding) and only the first document of a stream is read. We build our
//! own small span-carrying tree ([`yaml::Node`]) from the event stream of
//! **`saphyr-parser`**, and decode it by hand into the typed model
//! ([`model`]). Alternatives weighed:
//!
//! - `serde_yaml`: archived upstream (unmaintained since 2024); serde's data
//!   model drops positions for nested values, and `deny_unknown_fields`
//!   stops at the first unknown field, while promtool lists them all.
//! - `serde-saphyr`: maintained, with locations and duplicate-key policies,
//!   but serde-shaped: a decode stops at the first error, and positions must
//!   be threaded through every target type.
//! - `saphyr` (`MarkedYaml`): maintained and span-aware, but its loader
//!   stops at the first duplicate key (or keeps the last one), whereas Go's
//!   yaml package reports every duplicate with both lines and goes on.
//! - `yaml-rust2`: maintained fork of yaml-rust; markers reach its event
//!   receiver but its document type carries no positions.
//!
//! `saphyr-parser` is maintained, YAML 1.2, pure Rust, gives a span for every
//! event and reports syntax errors with libyaml's wording ("mapping values are
//! not allowed in this context"), which is what Go's yaml package prints too.
//! Decoding by hand lets us collect every type and unknown-field problem with
//! its line, exactly like Go's `yaml: unmarshal errors:` list.
//!
//! # Behaviour (Prometheus 3.x promtool)
//!
//! - Only the first YAML document is read; a second one produces a warning
//!   (`level=WARN msg="Multiple document yaml rules files are not supported, ..."`).
//! - Each file is decoded twice, as Prometheus does: strictly into the rule
//!   types (unknown fields are errors: `line N: field X not found in type
//!   rulefmt.RuleGroup`) and leniently into "node" types. Problems found by
//!   both (syntax errors, type errors, bad durations) are therefore printed
//!   twice, exactly like promtool.
//! - Names use the UTF-8 scheme by default (`ins-tance` is a valid label
//!   name, `__name__` is not allowed as a rule label; record names may be any
//!   non-empty string without `{`/`}`); [`NameValidation::Legacy`] gives 2.x rules.
//! - `expr` is parsed with duration expressions enabled; other experimental
//!   syntax needs [`CheckOptions::enable_feature`] (promtool's `--enable-feature`).
//! - Label and annotation templates of alerting rules are parsed (not
//!   executed) with `$labels`, `$externalLabels`, `$externalURL`, `$value`
//!   in scope and Prometheus' template functions.
//!
//! Known differences: Go iterates label maps in random order, we report
//! label problems in file order; YAML syntax errors are worded by
//! saphyr-parser, which usually matches libyaml's text but may point at a
//! different line (see `testdata/rules/KNOWN_DIFFERENCES`).
//!
//! # Modules
//!
//! - [`yaml`]: first YAML document → [`yaml::Node`] tree with positions.
//! - [`decode`]: tree → [`model::RuleFile`], Go-compatible decode errors.
//! - [`load`]: text → validated rule file ([`load_rule_file`]).
//! - [`validate`]: Prometheus' rule validation (names, exprs, templates).
//! - [`lint`]: duplicate-rule lint and opt-in checks (`--lint=all`).
//! - [`check`]: `promtool check rules` as a library ([`check_files`]).
//! - [`template`]: Go text/template lexer, parser and execution.
//! - [`eval`]: rule group evaluation (recording and alerting rules).
//! - [`unittest`]: `promtool test rules` as a library ([`test_files`]).
//! - [`duration`]: Prometheus duration strings.

pub mod check;
pub mod decode;
pub mod duration;
pub mod eval;
pub mod lint;
pub mod load;
pub mod model;
pub mod template;
pub mod unittest;
pub mod validate;
pub mod yaml;

pub use check::{
    CheckOptions, CheckReport, FileReport, NameValidation, OutputLine, Stream, check_files,
    check_named_sources, check_source, check_stdin_text,
};
pub use load::{LoadOptions, Loaded, load_rule_file};
pub use model::{LabelEntry, Rule, RuleFile, RuleGroup, RuleKind, Spanned};
pub use unittest::{FileResult, TestOptions, TestReport, test_files, test_source};
pub use validate::{RuleError, RuleProblem};
