//! `promtool check rules` as a library: check rule files and produce
//! promtool's output lines and exit code.
//!
//! ```no_run
//! use promql_engine::rules::{CheckOptions, check_files};
//!
//! let report = check_files(&["rules.yml"], &CheckOptions::default());
//! print!("{}", report.stdout());
//! eprint!("{}", report.stderr());
//! std::process::exit(report.exit_code);
//! ```

use std::path::Path;

use crate::parser::ParseOptions;
use crate::rules::lint::{
    DuplicateRule, LintCheck, LintFinding, LintSelection, find_duplicate_rules, format_duplicates,
    lint_file,
};
use crate::rules::load::{LoadOptions, load_rule_file};
pub use crate::rules::validate::NameValidation;
use crate::rules::validate::RuleError;

/// Exit code: all files are valid (lint warnings allowed unless fatal).
pub const EXIT_SUCCESS: i32 = 0;
/// Exit code: at least one file has errors.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: only lint problems, with `--lint-fatal`.
pub const EXIT_LINT: i32 = 3;

/// Options of `check rules`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Report duplicate rules (`--lint=duplicate-rules`, the default; `--lint=none` turns it off).
    pub lint_duplicate_rules: bool,
    /// Opt-in checks beyond promtool (`--lint=all` or their ids; none by default).
    pub lint_checks: Vec<LintCheck>,
    /// Exit with code 3 on lint problems (`--lint-fatal`).
    pub lint_fatal: bool,
    /// Accept unknown fields (`--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// Name validation scheme (3.x: UTF-8).
    pub name_validation: NameValidation,
    /// PromQL parser options for `expr`. promtool 3.x enables duration
    /// expressions; the other experimental features need `--enable-feature`.
    pub parse_options: ParseOptions,
}

impl Default for CheckOptions {
    fn default() -> Self {
        let load = LoadOptions::default();
        CheckOptions {
            lint_duplicate_rules: true,
            lint_checks: Vec::new(),
            lint_fatal: false,
            ignore_unknown_fields: load.ignore_unknown_fields,
            name_validation: load.name_validation,
            parse_options: load.parse_options,
        }
    }
}

impl CheckOptions {
    /// Applies one `--enable-feature` name; returns false for an unknown one.
    /// (`promql-duration-expr` is always on; `promql-delayed-name-removal`
    /// does not affect checking.)
    pub fn enable_feature(&mut self, feature: &str) -> bool {
        match feature {
            "promql-experimental-functions" => self.parse_options.experimental_functions = true,
            "promql-extended-range-selectors" => self.parse_options.extended_range_selectors = true,
            "promql-binop-fill-modifiers" => self.parse_options.binop_fill_modifiers = true,
            "promql-duration-expr" | "promql-delayed-name-removal" | "" => {}
            _ => return false,
        }
        true
    }

    /// Applies a `--lint` value: comma-separated `all`, `duplicate-rules`,
    /// `none` or ids of our checks ([`LintCheck::id`]; `all` includes them).
    /// Returns promtool's warning for each unknown option
    /// (`WARNING: unknown lint option: "x"`), which promtool prints on stdout.
    pub fn set_lint(&mut self, value: &str) -> Vec<String> {
        let (selection, warnings) = LintSelection::parse(value);
        self.lint_duplicate_rules = selection.duplicate_rules;
        self.lint_checks = selection.checks;
        warnings
    }

    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            parse_options: self.parse_options.clone(),
            name_validation: self.name_validation,
            ignore_unknown_fields: self.ignore_unknown_fields,
        }
    }
}

/// Which stream a line of output goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (`Checking F`, `  SUCCESS: ...`).
    Stdout,
    /// Standard error (`  FAILED:` and diagnostics).
    Stderr,
}

/// One line of output (without its newline; it may contain newlines itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// Where it goes.
    pub stream: Stream,
    /// The text.
    pub text: String,
}

/// The outcome for one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileReport {
    /// The file's name as given (or `standard input`).
    pub name: String,
    /// Number of rules, when the file is valid and lint-clean.
    pub rule_count: Option<usize>,
    /// The file could not be read.
    pub read_error: Option<String>,
    /// Decode and validation errors.
    pub errors: Vec<RuleError>,
    /// Duplicate rules found by the lint.
    pub duplicates: Vec<DuplicateRule>,
    /// Findings of the opt-in checks.
    pub findings: Vec<LintFinding>,
    /// Warnings (e.g. a second YAML document was ignored).
    pub warnings: Vec<String>,
}

impl FileReport {
    /// Whether the file has errors (not counting lint).
    pub fn has_errors(&self) -> bool {
        self.read_error.is_some() || !self.errors.is_empty()
    }

    /// Whether a lint (duplicates or an opt-in check) found something.
    pub fn has_lint_problems(&self) -> bool {
        !self.duplicates.is_empty() || !self.findings.is_empty()
    }
}

/// The outcome of checking several files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckReport {
    /// Per-file outcomes, in argument order.
    pub files: Vec<FileReport>,
    /// promtool's output, in the order it is written.
    pub output: Vec<OutputLine>,
    /// promtool's exit code: 0, 1 (errors) or 3 (lint problems with `lint_fatal`).
    pub exit_code: i32,
}

impl CheckReport {
    fn stream_text(&self, stream: Stream) -> String {
        self.output
            .iter()
            .filter(|line| line.stream == stream)
            .map(|line| format!("{}\n", line.text))
            .collect()
    }

    /// Everything written to standard output.
    pub fn stdout(&self) -> String {
        self.stream_text(Stream::Stdout)
    }

    /// Everything written to standard error.
    pub fn stderr(&self) -> String {
        self.stream_text(Stream::Stderr)
    }
}

/// Checks rule files, as `promtool check rules FILE...`.
pub fn check_files<P: AsRef<Path>>(paths: &[P], options: &CheckOptions) -> CheckReport {
    let files = paths
        .iter()
        .map(|path| {
            let path = path.as_ref();
            let name = path.display().to_string();
            match std::fs::read(path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => check_source(&name, &text, options),
                    Err(_) => FileReport {
                        read_error: Some(format!("{name}: yaml: invalid UTF-8 in input")),
                        name,
                        ..FileReport::default()
                    },
                },
                Err(e) => FileReport {
                    read_error: Some(format!("{name}: {}", io_message(&name, &e))),
                    name,
                    ..FileReport::default()
                },
            }
        })
        .collect();
    render(files, options, true)
}

/// Checks rule files given as `(name, text)` pairs, as if read from files
/// with those names.
pub fn check_named_sources(sources: &[(&str, &str)], options: &CheckOptions) -> CheckReport {
    let files = sources
        .iter()
        .map(|(name, text)| check_source(name, text, options))
        .collect();
    render(files, options, true)
}

/// Checks rules read from standard input (`promtool check rules` without
/// files): messages have no file-name prefix.
pub fn check_stdin_text(text: &str, options: &CheckOptions) -> CheckReport {
    let file = check_source("standard input", text, options);
    render(vec![file], options, false)
}

/// The error as Go's `os.ReadFile` words it (`open F: no such file or directory`).
pub(crate) fn io_message(name: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => format!("open {name}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => format!("open {name}: permission denied"),
        std::io::ErrorKind::IsADirectory => format!("read {name}: is a directory"),
        _ => format!("read {name}: {error}"),
    }
}

/// Checks the text of one rule file named `name`.
pub fn check_source(name: &str, text: &str, options: &CheckOptions) -> FileReport {
    let loaded = load_rule_file(text, &options.load_options());
    let mut report = FileReport {
        name: name.to_string(),
        errors: loaded.errors,
        warnings: loaded.warnings,
        ..FileReport::default()
    };
    if let Some(file) = loaded.file {
        if options.lint_duplicate_rules {
            report.duplicates = find_duplicate_rules(&file);
        }
        report.findings = lint_file(&file, &options.lint_checks);
        if !report.has_lint_problems() {
            report.rule_count = Some(file.rule_count());
        }
    }
    report
}

fn render(files: Vec<FileReport>, options: &CheckOptions, prefix_names: bool) -> CheckReport {
    let mut output = Vec::new();
    let mut failed = false;
    let mut has_errors = false;
    let out = |stream, text: String| OutputLine { stream, text };
    for file in &files {
        output.push(out(Stream::Stdout, format!("Checking {}", file.name)));
        for warning in &file.warnings {
            output.push(out(
                Stream::Stderr,
                format!("level=WARN msg={warning:?} file={:?}", file.name),
            ));
        }
        if let Some(error) = &file.read_error {
            output.push(out(Stream::Stderr, "  FAILED:".into()));
            output.push(out(Stream::Stderr, error.clone()));
            failed = true;
            has_errors = true;
            continue;
        }
        if !file.errors.is_empty() {
            failed = true;
            has_errors = true;
            output.push(out(Stream::Stderr, "  FAILED:".into()));
            for error in &file.errors {
                let text = if prefix_names {
                    format!("{}: {error}", file.name)
                } else {
                    error.to_string()
                };
                output.push(out(Stream::Stderr, text));
            }
            continue;
        }
        if !file.has_lint_problems() {
            let count = file.rule_count.unwrap_or_default();
            output.push(out(
                Stream::Stdout,
                format!("  SUCCESS: {count} rules found"),
            ));
        } else {
            failed = true;
            output.push(out(Stream::Stderr, "  FAILED:".into()));
            if !file.duplicates.is_empty() {
                output.push(out(Stream::Stderr, format_duplicates(&file.duplicates)));
            }
            for finding in &file.findings {
                let text = if prefix_names {
                    format!("{}: {finding}", file.name)
                } else {
                    finding.to_string()
                };
                output.push(out(Stream::Stderr, text));
            }
        }
        output.push(out(Stream::Stdout, String::new()));
    }
    let exit_code = if failed && has_errors {
        EXIT_FAILURE
    } else if failed && options.lint_fatal {
        EXIT_LINT
    } else {
        EXIT_SUCCESS
    };
    CheckReport {
        files,
        output,
        exit_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, options: &CheckOptions) -> CheckReport {
        render(vec![check_source("f.yml", text, options)], options, true)
    }

    #[test]
    fn success_output() {
        let report = check(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n",
            &CheckOptions::default(),
        );
        assert_eq!(report.exit_code, 0);
        assert_eq!(
            report.stdout(),
            "Checking f.yml\n  SUCCESS: 1 rules found\n\n"
        );
        assert_eq!(report.stderr(), "");
    }

    #[test]
    fn empty_file_has_no_rules() {
        let report = check("", &CheckOptions::default());
        assert_eq!(report.exit_code, 0);
        assert!(report.stdout().contains("SUCCESS: 0 rules found"));
    }

    #[test]
    fn validation_errors_exit_1() {
        let report = check(
            "groups:\n- name: g\n  rules:\n  - record: r\n    for: 5m\n    expr: '1'\n",
            &CheckOptions::default(),
        );
        assert_eq!(report.exit_code, 1);
        assert_eq!(
            report.stderr(),
            "  FAILED:\nf.yml: 4:13: group \"g\", rule 1, \"r\": invalid field 'for' in recording rule\n"
        );
        assert_eq!(report.stdout(), "Checking f.yml\n");
    }

    #[test]
    fn lint_is_fatal_only_on_request() {
        let text = "groups:\n- name: g\n  rules:\n  - record: r\n    expr: '1'\n  - record: r\n    expr: '2'\n";
        let report = check(text, &CheckOptions::default());
        assert_eq!(report.exit_code, 0);
        assert!(
            report
                .stderr()
                .contains("lint error 1 duplicate rule(s) found.")
        );
        let fatal = CheckOptions {
            lint_fatal: true,
            ..CheckOptions::default()
        };
        assert_eq!(check(text, &fatal).exit_code, 3);
        let none = CheckOptions {
            lint_duplicate_rules: false,
            ..CheckOptions::default()
        };
        let report = check(text, &none);
        assert_eq!(report.exit_code, 0);
        assert!(report.stdout().contains("SUCCESS: 2 rules found"));
    }

    #[test]
    fn lint_settings() {
        let mut options = CheckOptions::default();
        assert!(options.set_lint("none").is_empty());
        assert!(!options.lint_duplicate_rules);
        assert_eq!(
            options.set_lint("all,bogus"),
            vec!["WARNING: unknown lint option: \"bogus\"".to_string()]
        );
        assert!(options.lint_duplicate_rules);
    }

    #[test]
    fn second_document_warns() {
        let report = check("groups: []\n---\ngroups: []\n", &CheckOptions::default());
        assert_eq!(report.exit_code, 0);
        assert!(
            report
                .stderr()
                .starts_with("level=WARN msg=\"Multiple document yaml rules files")
        );
    }

    #[test]
    fn stdin_messages_have_no_file_prefix() {
        let report = check_stdin_text("groups:\n- rules: []\n", &CheckOptions::default());
        assert_eq!(report.stdout(), "Checking standard input\n");
        assert_eq!(
            report.stderr(),
            "  FAILED:\n2:3: Groupname must not be empty\n"
        );
    }

    #[test]
    fn directory_is_an_error() {
        let dir = std::env::temp_dir();
        let report = check_files(&[&dir], &CheckOptions::default());
        assert_eq!(report.exit_code, 1);
        assert!(
            report.stderr().contains(": is a directory"),
            "{}",
            report.stderr()
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        let report = check_files(&["/nonexistent/rules.yml"], &CheckOptions::default());
        assert_eq!(report.exit_code, 1);
        assert!(report.stderr().contains("no such file or directory"));
    }
}
