//! `promtool test rules` as a library: rule unit-test files are run and
//! reported with promtool's text and exit code.
//!
//! Output per file: `Unit Testing:  FILE`, then `  SUCCESS` or `  FAILED:`
//! followed by each failure (an empty line after each), then an empty line.
//! Status lines go to stdout, failures to stderr, as promtool writes them.
//!
//! Semantics follow Prometheus 3.x promtool: each test group loads its input
//! series (the test group's `interval:`, default `evaluation_interval`),
//! evaluates every rule group at every `evaluation_interval` step up to the
//! largest `eval_time` (groups ordered by `group_eval_order`), checks firing
//! alerts at each `alert_rule_test` time and finally runs the
//! `promql_expr_test` queries. Floats compare exactly (one ULP apart with
//! `fuzzy_compare: true`), so NaN never matches.
//!
//! ```
//! use std::path::Path;
//! use promql_engine::rules::{test_source, TestOptions};
//!
//! let text = r#"
//! tests:
//!   - input_series:
//!       - series: 'up{job="a"}'
//!         values: '1 0'
//!     promql_expr_test:
//!       - expr: up == 0
//!         eval_time: 1m
//!         exp_samples:
//!           - labels: 'up{job="a"}'
//!             value: 0
//! "#;
//! let result = test_source(Path::new("inline_test.yml"), text, &TestOptions::default());
//! assert!(result.passed(), "{:?}", result.errors);
//! ```

pub mod format;
pub mod junit;
pub mod run;

use std::path::Path;

use crate::engine::EngineOptions;
use crate::rules::check::{OutputLine, Stream};
use crate::rules::load::LoadOptions;

pub use format::{TestFile, parse_test_file};

/// Most samples one query may hold, as in the test loader promtool uses.
pub const TEST_MAX_SAMPLES: usize = 10_000;

/// How to run rule unit tests.
#[derive(Clone, Debug, PartialEq)]
pub struct TestOptions {
    /// How rule files are loaded (parser features, name validation,
    /// `--ignore-unknown-fields`).
    pub load_options: LoadOptions,
    /// Engine settings (the subquery step is set to the evaluation interval).
    pub engine_options: EngineOptions,
    /// Only run test groups whose name matches (promtool's `--run`).
    pub run: Option<RunFilter>,
    /// promtool's `--debug`: note when each test group starts and ends,
    /// and dump every series (input and rule outputs) at its end.
    pub debug: bool,
}

impl PartialEq for RunFilter {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Default for TestOptions {
    /// promtool's settings: default rule loading, an engine limited to
    /// [`TEST_MAX_SAMPLES`] samples per query, no `--run` filter.
    fn default() -> Self {
        TestOptions {
            load_options: LoadOptions::default(),
            engine_options: EngineOptions {
                max_samples: TEST_MAX_SAMPLES,
                ..EngineOptions::default()
            },
            run: None,
            debug: false,
        }
    }
}

impl TestOptions {
    /// Applies one `--enable-feature` name; returns false for an unknown one.
    pub fn enable_feature(&mut self, feature: &str) -> bool {
        let parse = &mut self.load_options.parse_options;
        match feature {
            "promql-experimental-functions" => {
                parse.experimental_functions = true;
                self.engine_options.experimental_functions = true;
            }
            "promql-extended-range-selectors" => parse.extended_range_selectors = true,
            "promql-binop-fill-modifiers" => parse.binop_fill_modifiers = true,
            "promql-delayed-name-removal" => self.engine_options.delayed_name_removal = true,
            "promql-duration-expr" | "" => {}
            _ => return false,
        }
        true
    }

    /// Sets promtool's `--run` patterns (any may match); none clears the filter.
    pub fn set_run(&mut self, patterns: &[String]) -> Result<(), regex::Error> {
        self.run = if patterns.is_empty() {
            None
        } else {
            Some(RunFilter(regex::Regex::new(&patterns.join("|"))?))
        };
        Ok(())
    }
}

/// A `--run` pattern (kept for comparison by text).
#[derive(Clone, Debug)]
pub struct RunFilter(pub regex::Regex);

/// The result of one test file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileResult {
    /// The file name as given.
    pub name: String,
    /// Failure messages (empty: the file passed).
    pub errors: Vec<String>,
    /// Warnings (rule-file patterns that matched nothing).
    pub warnings: Vec<String>,
    /// The test groups that ran (those `--run` selected), in file order,
    /// each with its failures (which are also in `errors`).
    pub groups: Vec<GroupResult>,
    /// The failure that stopped the file before its test groups ran (it
    /// could not be read or parsed, or `group_eval_order` repeats a name);
    /// also in `errors`.
    pub aborted: Option<String>,
    /// When the file's test groups started (local time), once it was read
    /// and parsed.
    pub started: Option<chrono::DateTime<chrono::Local>>,
    /// With [`TestOptions::debug`]: the `DEBUG:` lines for standard error.
    pub debug: Vec<String>,
}

/// The result of one test group of a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupResult {
    /// The group's `name`, or `unnamed#N` for the N-th group (from 0) of a
    /// file when it has none, as promtool names it.
    pub name: String,
    /// Failure messages (empty: the group passed).
    pub errors: Vec<String>,
}

impl FileResult {
    /// Whether every test in the file passed.
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ends the file with a failure before its test groups.
    fn abort(mut self, error: String) -> Self {
        self.errors.push(error.clone());
        self.aborted = Some(error);
        self
    }
}

/// The result of `promtool test rules FILE...`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestReport {
    /// One result per file, in the order given.
    pub files: Vec<FileResult>,
    /// Everything printed, in order, with its stream.
    pub output: Vec<OutputLine>,
    /// 0 when all files passed, 1 otherwise.
    pub exit_code: i32,
}

impl TestReport {
    fn text(&self, stream: Option<Stream>) -> String {
        self.output
            .iter()
            .filter(|l| stream.is_none_or(|s| l.stream == s))
            .map(|l| format!("{}\n", l.text))
            .collect()
    }

    /// Stdout and stderr interleaved, as a terminal shows them.
    pub fn combined(&self) -> String {
        self.text(None)
    }

    /// Stdout only.
    pub fn stdout(&self) -> String {
        self.text(Some(Stream::Stdout))
    }

    /// Stderr only.
    pub fn stderr(&self) -> String {
        self.text(Some(Stream::Stderr))
    }
}

/// Runs one test file's text; `path` locates its rule files.
pub fn test_source(path: &Path, text: &str, options: &TestOptions) -> FileResult {
    let mut result = FileResult {
        name: path.display().to_string(),
        ..FileResult::default()
    };
    let mut file = match parse_test_file(text) {
        Ok(f) => f,
        Err(e) => return result.abort(e),
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let rule_files = run::resolve_rule_files(base, &file.rule_files, &mut result.warnings);
    let rules = run::LoadedRules::load(&rule_files, options);
    if file.evaluation_interval_ms == 0 {
        file.evaluation_interval_ms = 60_000;
    }
    result.started = Some(chrono::Local::now());
    let mut seen = std::collections::HashSet::new();
    for name in &file.group_eval_order {
        if !seen.insert(name) {
            return result.abort(format!("group name repeated in evaluation order: {name}"));
        }
    }
    for (i, tg) in file.tests.iter().enumerate() {
        if let Some(run) = &options.run {
            if !run.0.is_match(&tg.name) {
                continue;
            }
        }
        let mut tg = tg.clone();
        if tg.interval_ms == 0 {
            tg.interval_ms = file.evaluation_interval_ms;
        }
        let name = if tg.name.is_empty() {
            format!("unnamed#{i}")
        } else {
            tg.name.clone()
        };
        let started = std::time::Instant::now();
        if options.debug {
            result.debug.push(format!("DEBUG: Starting test {name}"));
        }
        let errors = run::run_test_group(&file, &tg, &rules, options, &mut result.debug);
        if options.debug {
            let took = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
            result.debug.push(format!(
                "DEBUG: Test {name} finished, took {}",
                crate::rules::template::value::format_go_duration(took)
            ));
        }
        result.errors.extend(errors.iter().cloned());
        result.groups.push(GroupResult { name, errors });
    }
    result
}

/// Runs the test files like `promtool test rules FILE...`.
pub fn test_files<P: AsRef<Path>>(paths: &[P], options: &TestOptions) -> TestReport {
    let mut report = TestReport::default();
    for path in paths {
        let path = path.as_ref();
        let result = match std::fs::read_to_string(path) {
            Ok(text) => test_source(path, &text, options),
            Err(e) => {
                let name = path.display().to_string();
                let error = crate::rules::check::io_message(&name, &e);
                FileResult {
                    name,
                    ..FileResult::default()
                }
                .abort(error)
            }
        };
        report.push(result);
    }
    report
}

impl TestReport {
    /// Adds a file's result and its output lines.
    pub fn push(&mut self, result: FileResult) {
        let line = |stream, text: String| OutputLine { stream, text };
        self.output.push(line(
            Stream::Stdout,
            format!("Unit Testing:  {}", result.name),
        ));
        for w in result.warnings.iter().chain(&result.debug) {
            self.output.push(line(Stream::Stderr, w.clone()));
        }
        if result.passed() {
            self.output.push(line(Stream::Stdout, "  SUCCESS".into()));
        } else {
            self.exit_code = 1;
            self.output.push(line(Stream::Stderr, "  FAILED:".into()));
            for e in &result.errors {
                self.output.push(line(Stream::Stderr, e.clone()));
                self.output.push(line(Stream::Stdout, String::new()));
            }
        }
        self.output.push(line(Stream::Stdout, String::new()));
        self.files.push(result);
    }
}
