//! The `promql` command-line tool: parse, format, test and query PromQL.

#![forbid(unsafe_code)]

#[cfg(feature = "remote")]
#[path = "promql/remote_args.rs"]
mod remote_args;
#[path = "promql/rules_cmd/mod.rs"]
mod rules_cmd;

use std::io::Read;
use std::process::ExitCode;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use promql_engine::model::api_json;
use promql_engine::model::float_format::format_api as format_float;
use promql_engine::model::{Labels, Matcher};
use promql_engine::model::{SampleValue, Value};
use promql_engine::parser::parse_selector;
use promql_engine::promqltest::{RunOptions, Script};
use promql_engine::rules::{
    CheckOptions, OutputLine, Stream, TestOptions, check_files, check_stdin_text, test_files,
};
use promql_engine::storage::exposition::LoadProgress;
use promql_engine::storage::load::load_data_with_progress;
use promql_engine::storage::{MemoryStorage, SelectHints, Storage};
use promql_engine::{
    Engine, EngineOptions, EvalError, ParseError, ParseOptions, QueryResult, parse_with,
};

/// Parse, format, evaluate and test PromQL with Prometheus 3.x semantics.
#[derive(Parser, Debug)]
#[command(name = "promql", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse an expression and print its canonical form (or its AST).
    #[command(
        after_help = "Examples:\n  promql parse 'sum by(job)(rate(x[5m]))'\n  echo 'up == 0' | promql parse --json -"
    )]
    Parse {
        /// The expression, or `-` to read it from standard input.
        expr: String,
        /// Print the syntax tree (Rust debug form) instead of the canonical expression.
        #[arg(long, conflicts_with = "json")]
        ast: bool,
        /// Print the syntax tree as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        features: FeatureArgs,
    },
    /// Run PromQL test scripts (Prometheus' promqltest language).
    #[command(after_help = "Examples:\n  promql promqltest testdata/promqltest/*.test")]
    Promqltest {
        /// Script files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list the cases that pass.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Check files, as `promtool check` does.
    Check {
        #[command(subcommand)]
        kind: CheckKind,
    },
    /// Run tests, as `promtool test` does.
    Test {
        /// Also write the results as JUnit XML to this file, as promtool's
        /// `--junit` does (one test suite per file, one test case per test group).
        #[arg(long, global = true, value_name = "FILE")]
        junit: Option<PathBuf>,
        #[command(subcommand)]
        kind: TestKind,
    },
    /// List the series matching selectors (like the HTTP API's `/api/v1/series`).
    #[command(
        after_help = "Examples:\n  promql series --data testdata/demo/demo.om 'up{job=\"api\"}'\n  promql series --data metrics.om '{__name__=~\"node_.*\"}' --output json"
    )]
    Series {
        #[command(flatten)]
        data: DataArgs,
        /// Series selectors (`match[]`); a series matching any of them is listed.
        #[arg(required = true)]
        selectors: Vec<String>,
        /// Output format (default: table on a terminal, json otherwise).
        #[arg(long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// List label names, or the values of one label (like `/api/v1/labels` and
    /// `/api/v1/label/NAME/values`).
    #[command(
        after_help = "Examples:\n  promql labels --data testdata/demo/demo.om\n  promql labels --data testdata/demo/demo.om job --match up"
    )]
    Labels {
        #[command(flatten)]
        data: DataArgs,
        /// The label whose values to list; without it, label names are listed.
        name: Option<String>,
        /// Only consider series matching this selector (repeatable).
        #[arg(long = "match")]
        matches: Vec<String>,
        /// Output format (default: table on a terminal, json otherwise).
        #[arg(long, value_enum)]
        output: Option<OutputFormat>,
    },
    /// Print a shell completion script (`promql completions bash > /etc/bash_completion.d/promql`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Evaluate rule groups over data files or a remote-read endpoint, once or on
    /// their intervals, optionally sending the outputs with remote write.
    Rules {
        #[command(subcommand)]
        kind: rules_cmd::RulesKind,
    },
    /// Evaluate a query over data files.
    Query {
        #[command(subcommand)]
        kind: QueryKind,
    },
    /// Pretty-print an expression over several lines, as `promtool promql format` does.
    #[command(
        after_help = "Examples:\n  promql fmt query.promql\n  echo 'sum(rate(x[5m])) by (job)' | promql fmt"
    )]
    Fmt {
        /// File holding the expression; `-` or nothing reads standard input.
        file: Option<String>,
        #[command(flatten)]
        features: FeatureArgs,
    },
}

#[derive(Subcommand, Debug)]
enum CheckKind {
    /// Check rule files: same verdicts, output and exit codes as `promtool check rules`
    /// (0 ok, 1 errors, 3 lint problems with --lint-fatal).
    #[command(
        after_help = check_rules_help()
    )]
    Rules {
        /// Rule files; none reads standard input.
        files: Vec<PathBuf>,
        /// Linting checks: comma-separated `all`, `duplicate-rules`, `none`, or ids of
        /// our checks (listed below; `all` includes them).
        #[arg(long, default_value = "duplicate-rules")]
        lint: String,
        /// Make lint problems fatal (exit code 3).
        #[arg(long = "lint-fatal")]
        lint_fatal: bool,
        /// Accept unknown fields in rule groups and rules.
        #[arg(long = "ignore-unknown-fields")]
        ignore_unknown_fields: bool,
        /// Experimental PromQL syntax in `expr`, as Prometheus names it
        /// (promql-experimental-functions, promql-extended-range-selectors, promql-binop-fill-modifiers).
        #[arg(long = "enable-feature", value_delimiter = ',')]
        enable_feature: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum TestKind {
    /// Run rule unit tests: same file format, verdicts, output and exit codes as
    /// `promtool test rules` (0 all passed, 1 any failure).
    #[command(
        after_help = "Examples:\n  promql test rules testdata/demo/rules/seed_rules_test.yml"
    )]
    Rules {
        /// Unit-test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only run the test groups whose names match one of these regexes.
        #[arg(long)]
        run: Vec<String>,
        /// Accept unknown fields in the rule files under test.
        #[arg(long = "ignore-unknown-fields")]
        ignore_unknown_fields: bool,
        /// Experimental PromQL syntax, as Prometheus names it.
        #[arg(long = "enable-feature", value_delimiter = ',')]
        enable_feature: Vec<String>,
        /// Print when each test group starts and ends, and every series
        /// (input and rule outputs) at its end, to standard error.
        #[arg(long)]
        debug: bool,
    },
}

#[derive(Subcommand, Debug)]
enum QueryKind {
    /// Evaluate an expression at one instant.
    #[command(
        after_help = "Examples:\n  promql query instant --data testdata/demo/demo.om 'sum by (job) (up)'\n  promql query instant --data metrics.txt --time 2023-11-14T23:00:00Z --output json 'rate(http_requests_total[5m])'"
    )]
    Instant {
        #[command(flatten)]
        data: DataArgs,
        /// Evaluation time: Unix seconds (fractions allowed) or RFC 3339. Defaults to the newest sample's time.
        #[arg(long)]
        time: Option<String>,
        /// The PromQL expression.
        expr: String,
        #[command(flatten)]
        eval: EvalArgs,
    },
    /// Evaluate an expression at every step of a time range.
    #[command(
        after_help = "Examples:\n  promql query range --data testdata/demo/demo.om --start 1700007200 --end 1700010000 --step 5m 'sum by (job) (rate(http_requests_total[5m]))'"
    )]
    Range {
        #[command(flatten)]
        data: DataArgs,
        /// Start: Unix seconds or RFC 3339.
        #[arg(long)]
        start: String,
        /// End: Unix seconds or RFC 3339.
        #[arg(long)]
        end: String,
        /// Step: a duration (`15s`, `1m`) or seconds.
        #[arg(long)]
        step: String,
        /// The PromQL expression.
        expr: String,
        #[command(flatten)]
        eval: EvalArgs,
    },
}

/// Where the data comes from.
#[derive(clap::Args, Debug, Clone)]
struct DataArgs {
    /// Data file: Prometheus text exposition or OpenMetrics (with timestamps), or a
    /// promqltest script whose `load` blocks are used. May be given several times.
    #[cfg_attr(
        feature = "remote",
        arg(long = "data", required_unless_present = "remote_read")
    )]
    #[cfg_attr(not(feature = "remote"), arg(long = "data", required = true))]
    data: Vec<PathBuf>,
    /// Keep the loaded float samples in XOR chunks, as Prometheus' TSDB does:
    /// about 6 bytes per sample instead of 16.6, at 2-3x the query time.
    #[arg(long)]
    #[cfg_attr(feature = "remote", arg(conflicts_with = "remote_read"))]
    compress: bool,
    /// Read series from a Prometheus remote-read endpoint instead of files,
    /// e.g. `http://localhost:9090/api/v1/read`.
    #[cfg(feature = "remote")]
    #[arg(long = "remote-read", value_name = "URL", conflicts_with = "data")]
    remote_read: Option<String>,
    #[cfg(feature = "remote")]
    #[command(flatten)]
    remote_http: remote_args::RemoteHttpArgs,
}

impl DataArgs {
    /// The storage to query, and the default evaluation time of instant
    /// queries (the latest sample of the files; now for a remote endpoint).
    fn open(&self, timeout: Duration) -> Result<(Box<dyn Storage>, i64), Failure> {
        #[cfg(feature = "remote")]
        if let Some(url) = &self.remote_read {
            let builder = promql_engine::storage::remote::RemoteReadStorage::builder(url.clone());
            let storage = self
                .remote_http
                .apply(builder, timeout)?
                .build()
                .map_err(|e| Failure::Usage(e.to_string()))?;
            return Ok((Box::new(storage), chrono::Utc::now().timestamp_millis()));
        }
        let _ = timeout;
        let storage = load_all(self)?;
        let latest = storage.time_range().map_or(0, |(_, hi)| hi);
        Ok((Box::new(storage), latest))
    }
}

/// How results are printed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    /// The object Prometheus' HTTP API returns.
    Json,
    /// Aligned columns for people.
    Table,
}

/// Evaluation settings shared by the query commands.
#[derive(clap::Args, Debug, Clone)]
struct EvalArgs {
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    output: Option<OutputFormat>,
    /// Add query statistics (Prometheus' `stats` object in JSON, a summary line in tables).
    #[arg(long)]
    stats: bool,
    /// How far back an instant selector looks for a sample.
    #[arg(long = "lookback-delta", default_value = "5m")]
    lookback_delta: String,
    /// Most samples a query may hold in memory.
    #[arg(long = "max-samples", default_value_t = 50_000_000)]
    max_samples: usize,
    /// Query timeout (a duration such as `2m`).
    #[arg(long, default_value = "2m")]
    timeout: String,
    #[command(flatten)]
    features: FeatureArgs,
}

/// Parser feature switches shared by the subcommands that parse PromQL.
#[derive(clap::Args, Debug, Clone)]
struct FeatureArgs {
    /// Enable experimental features, as Prometheus' `--enable-feature` names them:
    /// promql-experimental-functions, promql-duration-expr, promql-extended-range-selectors,
    /// promql-binop-fill-modifiers, or `all`.
    #[arg(long = "enable-feature", value_delimiter = ',')]
    enable_feature: Vec<String>,
}

impl FeatureArgs {
    fn parse_options(&self) -> Result<ParseOptions, String> {
        let mut options = ParseOptions::new();
        for feature in &self.enable_feature {
            options = match feature.as_str() {
                "all" => ParseOptions::all(),
                "promql-experimental-functions" => options.with_experimental_functions(true),
                "promql-duration-expr" => options.with_duration_expressions(true),
                "promql-extended-range-selectors" => options.with_extended_range_selectors(true),
                "promql-binop-fill-modifiers" => options.with_binop_fill_modifiers(true),
                other => return Err(format!("unknown feature {other:?}")),
            };
        }
        Ok(options)
    }
}

/// Why a command did not succeed, mapped to the exit code.
enum Failure {
    /// The input was wrong (exit 1).
    Input(String),
    /// The command line was wrong (exit 2).
    Usage(String),
    /// A JSON error object for standard output (exit 1).
    Json(String),
    /// Everything was printed already; exit with this code.
    Exit(u8),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("promql: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Json(json)) => {
            println!("{json}");
            ExitCode::from(1)
        }
        Err(Failure::Exit(code)) => ExitCode::from(code),
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Parse {
            expr,
            ast,
            json,
            features,
        } => {
            let options = features.parse_options().map_err(Failure::Usage)?;
            let source = read_arg_or_stdin(&expr)?;
            let parsed =
                parse_with(&source, &options).map_err(|e| parse_failure(&e, &source, None))?;
            if json {
                let text = serde_json::to_string_pretty(&parsed)
                    .map_err(|e| Failure::Input(e.to_string()))?;
                println!("{text}");
            } else if ast {
                println!("{parsed:#?}");
            } else {
                println!("{parsed}");
            }
            Ok(())
        }
        Command::Query { kind } => run_query(kind),
        Command::Rules { kind } => rules_cmd::run_rules(kind),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "promql", &mut std::io::stdout());
            Ok(())
        }
        Command::Series {
            data,
            selectors,
            output,
        } => run_series(&data, &selectors, output),
        Command::Labels {
            data,
            name,
            matches,
            output,
        } => run_labels(&data, name.as_deref(), &matches, output),
        Command::Check { kind } => run_check(kind),
        Command::Test { junit, kind } => run_test(kind, junit.as_deref()),
        Command::Promqltest { files, verbose } => run_promqltest(&files, verbose),
        Command::Fmt { file, features } => {
            let options = features.parse_options().map_err(Failure::Usage)?;
            let name = file.as_deref().unwrap_or("-");
            let source = read_file_or_stdin(name)?;
            let parsed = parse_with(source.trim_end(), &options)
                .map_err(|e| parse_failure(&e, source.trim_end(), Some(name)))?;
            println!("{}", promql_engine::format(&parsed));
            Ok(())
        }
    }
}

/// One query to run: the expression, and instant or range timing.
struct QueryPlan {
    expr: String,
    /// `None` for an instant query at the newest sample.
    time: Option<i64>,
    range: Option<(i64, i64, i64)>,
}

fn run_query(kind: QueryKind) -> Result<(), Failure> {
    let (data, eval, plan) = match kind {
        QueryKind::Instant {
            data,
            time,
            expr,
            eval,
        } => {
            let time = time
                .as_deref()
                .map(parse_time)
                .transpose()
                .map_err(Failure::Usage)?;
            (
                data,
                eval,
                QueryPlan {
                    expr,
                    time,
                    range: None,
                },
            )
        }
        QueryKind::Range {
            data,
            start,
            end,
            step,
            expr,
            eval,
        } => {
            let start = parse_time(&start).map_err(Failure::Usage)?;
            let end = parse_time(&end).map_err(Failure::Usage)?;
            let step = parse_duration_arg(&step).map_err(Failure::Usage)?;
            (
                data,
                eval,
                QueryPlan {
                    expr,
                    time: None,
                    range: Some((start, end, step)),
                },
            )
        }
    };
    let format = default_format(eval.output);
    let parse_options = eval.features.parse_options().map_err(Failure::Usage)?;
    let mut options = EngineOptions::default();
    options.lookback_delta = parse_duration_arg(&eval.lookback_delta).map_err(Failure::Usage)?;
    options.max_samples = eval.max_samples;
    let timeout = Duration::from_millis(
        parse_duration_arg(&eval.timeout)
            .map_err(Failure::Usage)?
            .max(0) as u64,
    );
    options.timeout = Some(timeout);
    options.experimental_functions = parse_options.experimental_functions;

    let (storage, default_time) = data.open(timeout)?;
    let storage = storage.as_ref();

    let expr = match parse_with(&plan.expr, &parse_options) {
        Ok(e) => e,
        Err(e) => {
            return Err(match format {
                OutputFormat::Json => {
                    // Prometheus' API wording for a query that does not parse.
                    let message = format!(
                        "invalid parameter \"query\": {}: parse error: {}",
                        e.position(),
                        e.message()
                    );
                    Failure::Json(api_json::error_json("bad_data", &message))
                }
                OutputFormat::Table => parse_failure(&e, &plan.expr, None),
            });
        }
    };
    let engine = Engine::new(options);
    let result = match plan.range {
        Some((start, end, step)) => engine.range(storage, &expr, start, end, step),
        None => engine.instant(storage, &expr, plan.time.unwrap_or(default_time)),
    };
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            let kind = match e {
                EvalError::Timeout => "timeout",
                EvalError::BadQuery(_) => "bad_data",
                _ => "execution",
            };
            return Err(match format {
                OutputFormat::Json => Failure::Json(api_json::error_json(kind, &e.to_string())),
                OutputFormat::Table => Failure::Input(format!("error: {e}")),
            });
        }
    };
    match format {
        OutputFormat::Json => println!("{}", result_json(&result, &plan.expr, eval.stats)),
        OutputFormat::Table => print!("{}", result_table(&result, &plan.expr, eval.stats)),
    }
    Ok(())
}

fn default_format(output: Option<OutputFormat>) -> OutputFormat {
    output.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Json
    })
}

fn load_all(data: &DataArgs) -> Result<MemoryStorage, Failure> {
    #[cfg(feature = "remote")]
    if data.remote_read.is_some() {
        // These commands look at all time, which a remote endpoint cannot serve cheaply.
        return Err(Failure::Usage(
            "--remote-read is supported by `promql query` only".into(),
        ));
    }
    let mut storage = if data.compress {
        MemoryStorage::compressed()
    } else {
        MemoryStorage::new()
    };
    for path in &data.data {
        load_data_file(path, &mut storage)?;
    }
    storage.commit();
    Ok(storage)
}

/// Parses `match[]`-style selectors into matcher lists.
fn selector_matchers(selectors: &[String]) -> Result<Vec<Vec<Matcher>>, Failure> {
    selectors
        .iter()
        .map(|s| {
            parse_selector(s)
                .map(|v| v.matchers)
                .map_err(|e| parse_failure(&e, s, None))
        })
        .collect()
}

/// The whole time range: the loaded data is small enough to consider all of it.
fn all_time() -> SelectHints {
    SelectHints::window(i64::MIN, i64::MAX)
}

fn run_series(
    data: &DataArgs,
    selectors: &[String],
    output: Option<OutputFormat>,
) -> Result<(), Failure> {
    let storage = load_all(data)?;
    let mut found: Vec<Labels> = Vec::new();
    for matchers in selector_matchers(selectors)? {
        let series = storage
            .select(&matchers, &all_time())
            .map_err(|e| Failure::Input(e.to_string()))?;
        found.extend(series.into_iter().map(|s| s.labels));
    }
    found.sort();
    found.dedup();
    match default_format(output) {
        OutputFormat::Table => {
            for labels in &found {
                println!("{labels}");
            }
        }
        OutputFormat::Json => {
            let mut out = String::from("{\"status\":\"success\",\"data\":[");
            for (i, labels) in found.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                api_json::write_labels(&mut out, labels);
            }
            out.push_str("]}");
            println!("{out}");
        }
    }
    Ok(())
}

fn run_labels(
    data: &DataArgs,
    name: Option<&str>,
    matches: &[String],
    output: Option<OutputFormat>,
) -> Result<(), Failure> {
    let storage = load_all(data)?;
    let matcher_sets = if matches.is_empty() {
        vec![Vec::new()]
    } else {
        selector_matchers(matches)?
    };
    let mut items: Vec<String> = Vec::new();
    for matchers in &matcher_sets {
        let found = match name {
            Some(name) => storage.label_values(name, matchers, &all_time()),
            None => storage.label_names(matchers, &all_time()),
        };
        items.extend(found.map_err(|e| Failure::Input(e.to_string()))?);
    }
    items.sort();
    items.dedup();
    match default_format(output) {
        OutputFormat::Table => {
            for item in &items {
                println!("{item}");
            }
        }
        OutputFormat::Json => {
            let mut out = String::from("{\"status\":\"success\",\"data\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                api_json::write_json_string(&mut out, item);
            }
            out.push_str("]}");
            println!("{out}");
        }
    }
    Ok(())
}

/// Loads one `--data` file: a promqltest script (its `load` blocks), or
/// Prometheus text / OpenMetrics exposition.
fn load_data_file(path: &std::path::Path, storage: &mut MemoryStorage) -> Result<(), Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    // Samples without their own timestamp are taken as scraped now.
    let now = chrono::Utc::now().timestamp_millis();
    let mut display = ProgressLine::new(path, bytes.len());
    let loaded = load_data_with_progress(&bytes, storage, now, &mut |p| display.show(p));
    display.clear();
    loaded.map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
    Ok(())
}

/// A one-line loading progress display on stderr (`\r`-rewritten), shown
/// only for large files and only when stderr is a terminal.
struct ProgressLine {
    /// The file name, when the display is on.
    name: Option<String>,
    /// Whether anything was written (and so needs clearing).
    shown: bool,
    /// When the line was last redrawn.
    drawn_at: Option<std::time::Instant>,
}

impl ProgressLine {
    /// Files smaller than this load too fast to need a display.
    const MIN_BYTES: usize = 8 << 20;

    fn new(path: &std::path::Path, total_bytes: usize) -> Self {
        let on = total_bytes >= Self::MIN_BYTES && std::io::stderr().is_terminal();
        ProgressLine {
            name: on.then(|| path.display().to_string()),
            shown: false,
            drawn_at: None,
        }
    }

    fn show(&mut self, p: LoadProgress) {
        use std::io::Write;
        let Some(name) = &self.name else { return };
        // Redraw at most ten times a second, but always show the end.
        let now = std::time::Instant::now();
        let recent = self
            .drawn_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100));
        if recent && p.bytes_read < p.total_bytes {
            return;
        }
        self.drawn_at = Some(now);
        let mib = |b: usize| b as f64 / f64::from(1 << 20);
        let percent = if p.total_bytes == 0 {
            100.0
        } else {
            100.0 * p.bytes_read as f64 / p.total_bytes as f64
        };
        let mut err = std::io::stderr().lock();
        // A failed progress write is not worth failing the load for.
        let _ = write!(
            err,
            "\r{name}: {:.1}/{:.1} MiB ({percent:.0}%), {} samples",
            mib(p.bytes_read),
            mib(p.total_bytes),
            p.samples
        );
        let _ = err.flush();
        self.shown = true;
    }

    /// Erases the display line.
    fn clear(&mut self) {
        use std::io::Write;
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

/// Examples and the ids of the opt-in lint checks, for `check rules --help`.
fn check_rules_help() -> String {
    let mut help = String::from("Lint checks beyond promtool (--lint=all or by id):\n");
    for check in promql_engine::rules::lint::LintCheck::ALL {
        help.push_str(&format!("  {:<24}{}\n", check.id(), check.doc()));
    }
    help.push_str("\nExamples:\n  promql check rules rules/*.yml\n  promql check rules --lint=all rules/*.yml\n  cat rules.yml | promql check rules");
    help
}

/// Runs `check rules` and prints promtool's output; returns its exit code.
fn run_check(kind: CheckKind) -> Result<(), Failure> {
    let CheckKind::Rules {
        files,
        lint,
        lint_fatal,
        ignore_unknown_fields,
        enable_feature,
    } = kind;
    let mut options = CheckOptions::default();
    for warning in options.set_lint(&lint) {
        println!("{warning}");
    }
    options.lint_fatal = lint_fatal;
    options.ignore_unknown_fields = ignore_unknown_fields;
    for feature in &enable_feature {
        if !options.enable_feature(feature) {
            return Err(Failure::Usage(format!("unknown feature {feature:?}")));
        }
    }
    let report = if files.is_empty() {
        check_stdin_text(&read_stdin()?, &options)
    } else {
        check_files(&files, &options)
    };
    print_report(&report.output, report.exit_code)
}

/// Runs `test rules` and prints promtool's output (and writes the JUnit XML
/// file, when asked); returns its exit code.
fn run_test(kind: TestKind, junit: Option<&Path>) -> Result<(), Failure> {
    let TestKind::Rules {
        files,
        run,
        ignore_unknown_fields,
        enable_feature,
        debug,
    } = kind;
    let mut options = TestOptions {
        debug,
        ..TestOptions::default()
    };
    for feature in &enable_feature {
        if !options.enable_feature(feature) {
            return Err(Failure::Usage(format!("unknown feature {feature:?}")));
        }
    }
    if !run.is_empty() {
        options
            .set_run(&run)
            .map_err(|e| Failure::Usage(format!("invalid --run pattern: {e}")))?;
    }
    options.load_options.ignore_unknown_fields = ignore_unknown_fields;
    // The file is created before the tests run, so that a path that cannot
    // be written fails at once, as promtool's does.
    let junit_file = junit
        .map(|path| {
            std::fs::File::create(path)
                .map_err(|e| Failure::Input(format!("open {}: {e}", path.display())))
        })
        .transpose()?;
    let report = test_files(&files, &options);
    if let Some(mut file) = junit_file {
        use std::io::Write;
        if let Err(e) = file.write_all(report.junit_xml().as_bytes()) {
            eprintln!("failed to write JUnit XML: {e}");
        }
    }
    print_report(&report.output, report.exit_code)
}

/// Prints promtool-style output lines to their streams and maps the exit code.
fn print_report(output: &[OutputLine], exit_code: i32) -> Result<(), Failure> {
    for line in output {
        match line.stream {
            Stream::Stdout => println!("{}", line.text),
            Stream::Stderr => eprintln!("{}", line.text),
        }
    }
    match exit_code {
        0 => Ok(()),
        code => Err(Failure::Exit(u8::try_from(code).unwrap_or(1))),
    }
}

/// Runs promqltest scripts and prints failures and `N passed, N failed` per file and in total.
fn run_promqltest(files: &[PathBuf], verbose: bool) -> Result<(), Failure> {
    let options = RunOptions::default();
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
        let script =
            Script::parse(&text).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        let report = script.run(&options);
        for case in &report.cases {
            if verbose || !case.passed() {
                println!("{}:{case}", path.display());
            }
        }
        println!(
            "{}: {} passed, {} failed",
            path.display(),
            report.passed(),
            report.failed()
        );
        passed += report.passed();
        failed += report.failed();
    }
    if files.len() > 1 {
        println!("total: {passed} passed, {failed} failed");
    }
    if failed > 0 {
        Err(Failure::Input(String::new()))
    } else {
        Ok(())
    }
}

fn result_json(result: &QueryResult, query: &str, with_stats: bool) -> String {
    let (warnings, infos) = rendered_annotations(result, query);
    let stats = with_stats.then(|| {
        let s = &result.stats;
        let secs = |d: Duration| d.as_secs_f64();
        format!(
            "{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":0,\"queryPreparationTime\":{},\"innerEvalTime\":{},\"execQueueTime\":0,\"execTotalTime\":{}}},\"samples\":{{\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
            secs(s.prepare_time + s.eval_time),
            secs(s.prepare_time),
            secs(s.eval_time),
            secs(s.prepare_time + s.eval_time),
            s.total_samples,
            s.peak_samples
        )
    });
    api_json::success_json(&result.value, &warnings, &infos, stats.as_deref())
}

fn rendered_annotations(result: &QueryResult, query: &str) -> (Vec<String>, Vec<String>) {
    use promql_engine::engine::AnnotationLevel;
    let mut warnings = Vec::new();
    let mut infos = Vec::new();
    for a in &result.annotations {
        match a.level {
            AnnotationLevel::Warning => warnings.push(a.render(query)),
            AnnotationLevel::Info => infos.push(a.render(query)),
        }
    }
    (warnings, infos)
}

/// Renders a result as aligned text columns.
fn result_table(result: &QueryResult, query: &str, with_stats: bool) -> String {
    let mut out = String::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    match &result.value {
        Value::Scalar { v, .. } => rows.push(("scalar".into(), format_float(*v))),
        Value::String { v, .. } => rows.push(("string".into(), v.clone())),
        Value::Vector(samples) => {
            for s in samples {
                let value = match &s.value {
                    SampleValue::Float(v) => format_float(*v),
                    SampleValue::Histogram(h) => format!(
                        "{{count:{}, sum:{}}}",
                        format_float(h.count),
                        format_float(h.sum)
                    ),
                };
                rows.push((s.labels.to_string(), value));
            }
        }
        Value::Matrix(series) => {
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&format!("{}\n", s.labels));
                for p in &s.floats {
                    out.push_str(&format!("  {}  {}\n", format_time(p.t), format_float(p.v)));
                }
                for p in &s.histograms {
                    out.push_str(&format!(
                        "  {}  {{count:{}, sum:{}}}\n",
                        format_time(p.t),
                        format_float(p.h.count),
                        format_float(p.h.sum)
                    ));
                }
            }
            if series.is_empty() {
                out.push_str("(no series)\n");
            }
        }
    }
    if !rows.is_empty() || matches!(result.value, Value::Vector(_)) {
        let width = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (labels, value) in &rows {
            let pad = width - labels.chars().count();
            out.push_str(&format!("{labels}{}  {value}\n", " ".repeat(pad)));
        }
        if rows.is_empty() {
            out.push_str("(no series)\n");
        }
    }
    let (warnings, infos) = rendered_annotations(result, query);
    for line in warnings.iter().chain(&infos) {
        out.push_str(&format!("# {line}\n"));
    }
    if with_stats {
        let s = &result.stats;
        out.push_str(&format!(
            "# {} samples, peak {}, prepare {:?}, eval {:?}\n",
            s.total_samples, s.peak_samples, s.prepare_time, s.eval_time
        ));
    }
    out
}

fn format_time(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Parses Unix seconds (fractions allowed) or an RFC 3339 time into milliseconds.
fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs.abs() < 9.2e15 {
            return Ok((secs * 1000.0).round() as i64);
        }
        return Err(format!("time out of range: {s}"));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| format!("invalid time {s:?} (want Unix seconds or RFC 3339): {e}"))
}

/// Parses a Prometheus duration (`1h30m`, `15s`, `500ms`) or plain seconds into milliseconds.
fn parse_duration_arg(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs.abs() < 9.2e15 {
            return Ok((secs * 1000.0).round() as i64);
        }
        return Err(format!("duration out of range: {s}"));
    }
    let bad = || format!("invalid duration {s:?} (want e.g. 15s, 1m, 1h30m, or seconds)");
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

fn parse_failure(err: &ParseError, source: &str, file: Option<&str>) -> Failure {
    let rendered = err.render(source);
    Failure::Input(match file {
        Some(f) if f != "-" => format!("{f}:{rendered}"),
        _ => rendered,
    })
}

fn read_arg_or_stdin(arg: &str) -> Result<String, Failure> {
    if arg == "-" {
        read_stdin()
    } else {
        Ok(arg.to_string())
    }
}

fn read_file_or_stdin(name: &str) -> Result<String, Failure> {
    if name == "-" {
        read_stdin()
    } else {
        std::fs::read_to_string(name)
            .map_err(|e| Failure::Usage(format!("cannot read {name}: {e}")))
    }
}

fn read_stdin() -> Result<String, Failure> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
    Ok(s)
}
