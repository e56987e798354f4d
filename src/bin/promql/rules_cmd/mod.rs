//! `promql rules eval` and `promql rules run`: rule groups evaluated over
//! data files or a remote-read endpoint; outputs printed, and sent with
//! remote write when asked.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use promql_engine::rules::eval::{Group, GroupOptions, OverlayStore};
use promql_engine::rules::{LoadOptions, load_rule_file};
use promql_engine::storage::Storage;
use promql_engine::{Engine, EngineOptions};

use super::{DataArgs, Failure, parse_duration_arg, parse_time};

mod report;
mod schedule;
mod sink;

use report::GroupReport;
use sink::Sink;

/// The `rules` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum RulesKind {
    /// Evaluate every group of the rule files once, at one time, and print
    /// the outputs (recorded samples, alerts). Exit code 1 when a rule fails
    /// or remote write fails.
    #[command(
        after_help = "Examples:\n  promql rules eval --data testdata/demo/demo.om --at 1700005020 testdata/demo/rules/*.yml\n  promql rules eval --remote-read http://localhost:9090/api/v1/read \\\n      --remote-write http://localhost:9090/api/v1/write --at 2023-11-14T23:00:00Z rules.yml"
    )]
    Eval {
        #[command(flatten)]
        source: SourceArgs,
        /// Evaluation time: Unix seconds or RFC 3339. Defaults to the newest
        /// sample of the data files, or now for --remote-read.
        #[arg(long)]
        at: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RulesOutput::Text)]
        output: RulesOutput,
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Evaluate the groups on their intervals until interrupted (SIGINT or
    /// SIGTERM finish the current evaluation, flush and exit), logging each
    /// evaluation to standard error and printing the outputs.
    #[command(
        after_help = "Examples:\n  promql rules run --remote-read http://localhost:9090/api/v1/read \\\n      --remote-write http://localhost:9090/api/v1/write rules.yml\n  promql rules run --data testdata/demo/demo.om --start 1700003600 --for 1h testdata/demo/rules/*.yml"
    )]
    Run {
        #[command(flatten)]
        source: SourceArgs,
        /// Evaluate from this time (Unix seconds or RFC 3339) on a simulated
        /// clock, without waiting: a backfill. Needs --iterations or --for.
        /// Without it, groups run on the wall clock.
        #[arg(long)]
        start: Option<String>,
        /// Stop after this many evaluations of each group.
        #[arg(long)]
        iterations: Option<u64>,
        /// Stop after this much (wall or simulated) time, e.g. `10m`.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// How long outputs stay in memory for later queries (older ones are
        /// read from the source only, e.g. the --remote-read endpoint that
        /// --remote-write feeds).
        #[arg(long = "keep-outputs", value_name = "DURATION", default_value = "1h")]
        keep_outputs: String,
        /// Output format (`json`: one object per evaluation and line).
        #[arg(long, value_enum, default_value_t = RulesOutput::Text)]
        output: RulesOutput,
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// How rule outputs are printed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RulesOutput {
    /// Lines for people.
    Text,
    /// JSON, in the style of Prometheus' HTTP API.
    Json,
}

/// Where the rules read from and write to.
#[derive(clap::Args, Debug)]
pub(crate) struct SourceArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Also send every output to this Prometheus remote-write endpoint,
    /// e.g. `http://localhost:9090/api/v1/write`.
    #[cfg(feature = "remote")]
    #[arg(long = "remote-write", value_name = "URL")]
    remote_write: Option<String>,
    /// Most samples per remote-write request.
    #[cfg(feature = "remote")]
    #[arg(long = "max-samples-per-send", default_value_t = 2000)]
    max_samples_per_send: usize,
    /// Attempts per remote-write request (5xx, 429 and connection errors are retried).
    #[cfg(feature = "remote")]
    #[arg(long = "remote-write-attempts", default_value_t = 10)]
    remote_write_attempts: u32,
    /// Timeout of each rule query and each remote request.
    #[arg(long, default_value = "2m")]
    timeout: String,
}

/// Everything an evaluation needs.
struct Setup {
    storage: Box<dyn Storage>,
    default_time: i64,
    engine: Engine,
    groups: Vec<Group>,
    sink: Sink,
}

impl SourceArgs {
    fn setup(&self, files: &[PathBuf]) -> Result<Setup, Failure> {
        let timeout_ms = duration_flag("timeout", &self.timeout)?;
        let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        let groups = load_groups(files)?;
        let sink = self.sink(timeout)?;
        let (storage, default_time) = self.data.open(timeout)?;
        let mut options = EngineOptions::default();
        options.timeout = Some(timeout);
        Ok(Setup {
            storage,
            default_time,
            engine: Engine::new(options),
            groups,
            sink,
        })
    }

    #[cfg(feature = "remote")]
    fn sink(&self, timeout: Duration) -> Result<Sink, Failure> {
        use promql_engine::storage::remote::{RemoteWriteClient, RetryPolicy};
        let Some(url) = &self.remote_write else {
            return Ok(Sink::default());
        };
        let builder = RemoteWriteClient::builder(url.clone())
            .max_samples_per_send(self.max_samples_per_send)
            .retry(RetryPolicy {
                max_attempts: self.remote_write_attempts,
                ..RetryPolicy::default()
            });
        let client = self
            .data
            .remote_http
            .apply(builder, timeout)?
            .build()
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Ok(Sink::remote(client.appender()))
    }

    #[cfg(not(feature = "remote"))]
    fn sink(&self, _timeout: Duration) -> Result<Sink, Failure> {
        Ok(Sink::default())
    }
}

/// Loads every rule file; load errors are printed, promtool-style, and fail.
fn load_groups(files: &[PathBuf]) -> Result<Vec<Group>, Failure> {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("cannot read {name}: {e}")))?;
        let loaded = load_rule_file(&text, &LoadOptions::default());
        errors.extend(loaded.errors.iter().map(|e| format!("{name}: {e}")));
        if let Some(file) = loaded.file {
            groups.extend(
                file.groups
                    .iter()
                    .map(|g| Group::new(g, &name, &GroupOptions::default())),
            );
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(Failure::Input(errors.join("\n")))
    }
}

/// A duration flag's value in milliseconds; negative ones are refused.
fn duration_flag(flag: &str, value: &str) -> Result<i64, Failure> {
    let ms = parse_duration_arg(value).map_err(|e| Failure::Usage(format!("--{flag}: {e}")))?;
    if ms < 0 {
        return Err(Failure::Usage(format!(
            "--{flag} must not be negative, got {value:?}"
        )));
    }
    Ok(ms)
}

/// Runs `rules eval` or `rules run`.
pub(crate) fn run_rules(kind: RulesKind) -> Result<(), Failure> {
    match kind {
        RulesKind::Eval {
            source,
            at,
            output,
            files,
        } => eval_once(&source, at.as_deref(), output, &files),
        RulesKind::Run {
            source,
            start,
            iterations,
            duration,
            keep_outputs,
            output,
            files,
        } => {
            let keep_outputs_ms = duration_flag("keep-outputs", &keep_outputs)?;
            let start = start
                .as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|e| Failure::Usage(format!("--start: {e}")))?;
            let duration = duration
                .as_deref()
                .map(|d| duration_flag("for", d))
                .transpose()?;
            if start.is_some() && iterations.is_none() && duration.is_none() {
                return Err(Failure::Usage(
                    "--start needs --iterations or --for (a simulated clock never waits)".into(),
                ));
            }
            let setup = source.setup(&files)?;
            let bounds = schedule::Bounds {
                start,
                iterations,
                duration_ms: duration,
                keep_outputs_ms,
            };
            schedule::run(setup, &bounds, output)
        }
    }
}

/// `rules eval`: every group once at one time.
fn eval_once(
    source: &SourceArgs,
    at: Option<&str>,
    output: RulesOutput,
    files: &[PathBuf],
) -> Result<(), Failure> {
    let at = at
        .map(parse_time)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--at: {e}")))?;
    let Setup {
        storage,
        default_time,
        engine,
        mut groups,
        sink,
    } = source.setup(files)?;
    let t = at.unwrap_or(default_time);
    let mut store = OverlayStore::new(storage.as_ref(), sink);
    let mut reports = Vec::new();
    for group in &mut groups {
        reports.push(GroupReport::evaluate(&engine, group, &mut store, t));
    }
    let mut failed = reports.iter().any(GroupReport::failed);
    let write = store.sink_mut().flush();
    match output {
        RulesOutput::Text => {
            for r in &reports {
                print!("{}", r.text());
            }
        }
        RulesOutput::Json => {
            let groups: Vec<serde_json::Value> = reports.iter().map(GroupReport::json).collect();
            let mut doc = serde_json::json!({ "groups": groups });
            if let Some(w) = &write {
                doc["remoteWrite"] = w.json();
            }
            println!("{doc}");
        }
    }
    if let Some(w) = &write {
        eprintln!("{}", w.text());
        failed |= w.failed();
    }
    if failed {
        Err(Failure::Exit(1))
    } else {
        Ok(())
    }
}
