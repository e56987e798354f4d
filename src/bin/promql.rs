//! The `promql` command-line tool: parse, format, test and query PromQL.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use promql_engine::{ParseError, ParseOptions, parse_with};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("promql: {msg}");
            ExitCode::from(2)
        }
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
