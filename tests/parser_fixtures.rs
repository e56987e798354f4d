//! Snapshot tests of the parser and printer over the cases in `testdata/parser/`.
//!
//! - `ok/*.promql`: inputs that must parse. The snapshot records, per case,
//!   the canonical form, the pretty form and a compact AST dump; the test
//!   also checks that both printed forms parse back to the same tree and are
//!   fixpoints.
//! - `err/*.promql`: inputs that must not parse. The snapshot records the
//!   rendered error (position, message and caret).
//! - `printer/*.txt`: exact printer outputs from Prometheus' own tests.
//!
//! Case files: one query per line. A line starting with `| ` (or a bare `|`)
//! continues the previous query on a new line; `<empty>` is the empty query;
//! lines starting with `##` are notes. Notes that say something:
//! `## options: default` (parse the file without experimental features;
//! the default is all of them), `## upstream: <message>` (Prometheus'
//! message for the next error case, compared and reported).
//!
//! Add a case by adding a line, then run
//! `INSTA_UPDATE=always cargo test --test parser_fixtures` and review the
//! snapshot diff with `git diff tests/snapshots`.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use promql_engine::parser::printer::format_with_width;
use promql_engine::parser::{
    DurationExpr, Expr, ParseOptions, VectorMatching, VectorSelector, format, parse_with,
};

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/parser")
        .join(dir)
}

/// One query of a case file.
struct Case {
    /// 1-based line of the query's first line.
    line: usize,
    input: String,
    /// Prometheus' message for this error case, if noted.
    upstream: Option<String>,
}

struct CaseFile {
    name: String,
    options: ParseOptions,
    cases: Vec<Case>,
}

fn case_files(dir: &str, extension: &str) -> Vec<(String, String)> {
    let dir = testdata(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&p).expect("readable case file");
            (name, text)
        })
        .collect()
}

fn parse_case_file(name: String, text: &str) -> CaseFile {
    let mut file = CaseFile {
        name,
        options: ParseOptions::all(),
        cases: Vec::new(),
    };
    let mut upstream = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(note) = line.strip_prefix("##") {
            let note = note.trim();
            if note == "options: default" {
                file.options = ParseOptions::default();
            } else if let Some(msg) = note.strip_prefix("upstream:") {
                upstream = Some(msg.trim().replace("\\n", "\n"));
            }
        } else if line == "|" || line.starts_with("| ") {
            let case = file
                .cases
                .last_mut()
                .expect("a continuation follows a query");
            case.input.push('\n');
            case.input.push_str(line.get(2..).unwrap_or(""));
        } else if !line.is_empty() {
            let input = if line == "<empty>" { "" } else { line };
            file.cases.push(Case {
                line: i + 1,
                input: input.to_string(),
                upstream: upstream.take(),
            });
        }
    }
    file
}

/// The input as written in the case file, for snapshot headers.
fn show_input(input: &str) -> String {
    if input.is_empty() {
        return "<empty>".into();
    }
    input.replace('\n', "\n| ")
}

#[test]
fn valid_inputs() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, text) in case_files("ok", "promql") {
        let file = parse_case_file(name, &text);
        let mut snap = String::new();
        for case in &file.cases {
            count += 1;
            let where_ = format!("ok/{}.promql:{}", file.name, case.line);
            writeln!(snap, "=== {}: {}", case.line, show_input(&case.input)).unwrap();
            match parse_with(&case.input, &file.options) {
                Ok(expr) => {
                    writeln!(snap, "{expr}").unwrap();
                    let pretty = format(&expr);
                    if pretty != expr.to_string() {
                        writeln!(snap, "--- pretty\n{pretty}").unwrap();
                    }
                    writeln!(snap, "--- ast").unwrap();
                    dump(&mut snap, &expr, 0);
                    if let Err(msg) = check_printed_forms(&expr, &file.options) {
                        failures.push(format!("{where_}: {}\n{msg}", case.input));
                    }
                }
                Err(err) => {
                    writeln!(snap, "UNEXPECTED ERROR\n{}", err.render(&case.input)).unwrap();
                    failures.push(format!(
                        "{where_}: {}\n{}",
                        case.input,
                        err.render(&case.input)
                    ));
                }
            }
            snap.push('\n');
        }
        insta::assert_snapshot!(format!("ok__{}", file.name), snap);
    }
    println!("parser fixtures: {count} valid inputs");
    assert!(
        failures.is_empty(),
        "{} valid inputs failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn invalid_inputs() {
    let mut failures = Vec::new();
    let (mut count, mut noted, mut same_as_upstream) = (0, 0, 0);
    for (name, text) in case_files("err", "promql") {
        let file = parse_case_file(name, &text);
        let mut snap = String::new();
        for case in &file.cases {
            count += 1;
            writeln!(snap, "=== {}: {}", case.line, show_input(&case.input)).unwrap();
            match parse_with(&case.input, &file.options) {
                Ok(expr) => {
                    writeln!(snap, "UNEXPECTEDLY PARSED\n{expr}").unwrap();
                    failures.push(format!(
                        "err/{}.promql:{}: {} parsed as {expr}",
                        file.name, case.line, case.input
                    ));
                }
                Err(err) => {
                    let rendered = err.render(&case.input);
                    let span = err.span();
                    assert!(
                        span.start <= span.end && span.end as usize <= case.input.len(),
                        "error span {span:?} outside the input {:?}",
                        case.input
                    );
                    writeln!(snap, "{rendered}").unwrap();
                    if let Some(upstream) = &case.upstream {
                        noted += 1;
                        if err.message() == *upstream {
                            same_as_upstream += 1;
                        } else {
                            writeln!(snap, "(upstream: {upstream})").unwrap();
                        }
                    }
                }
            }
            snap.push('\n');
        }
        insta::assert_snapshot!(format!("err__{}", file.name), snap);
    }
    println!(
        "parser fixtures: {count} invalid inputs; {same_as_upstream} of {noted} messages as in Prometheus"
    );
    assert!(
        failures.is_empty(),
        "{} invalid inputs parsed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Prometheus' own printer tests: `=== in` / `=== out` blocks, with an
/// optional `## width: N` note for the pretty form.
#[test]
fn prometheus_printer_outputs() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, text) in case_files("printer", "txt") {
        let width = text
            .lines()
            .find_map(|l| l.strip_prefix("## width:"))
            .map(|w| w.trim().parse::<usize>().expect("numeric width"));
        for (input, expected) in in_out_blocks(&text) {
            count += 1;
            let expected = expected.unwrap_or_else(|| input.clone());
            let expr = match parse_with(&input, &ParseOptions::all()) {
                Ok(expr) => expr,
                Err(err) => {
                    failures.push(format!("{name}: {input}\n{}", err.render(&input)));
                    continue;
                }
            };
            let got = match width {
                Some(width) => format_with_width(&expr, width),
                None => expr.to_string(),
            };
            if got != expected {
                failures.push(format!("{name}: {input}\nwant:\n{expected}\ngot:\n{got}"));
            }
        }
    }
    println!("printer outputs: {count} cases");
    assert!(
        failures.is_empty(),
        "{} printer outputs differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Splits `=== in` / `=== out` blocks; `## ` notes and blank lines between blocks are skipped.
fn in_out_blocks(text: &str) -> Vec<(String, Option<String>)> {
    let mut blocks: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        if line == "=== in" {
            blocks.push((String::new(), None));
        } else if line == "=== out" {
            let last = blocks.last_mut().expect("`=== out` follows `=== in`");
            last.1 = Some(String::new());
        } else if !line.starts_with("##") {
            let Some((input, output)) = blocks.last_mut() else {
                continue;
            };
            let buf = output.as_mut().unwrap_or(input);
            if !buf.is_empty() || !line.is_empty() {
                buf.push_str(line);
                buf.push('\n');
            }
        }
    }
    for (input, output) in &mut blocks {
        trim_trailing_newlines(input);
        if let Some(out) = output {
            trim_trailing_newlines(out);
        }
    }
    blocks
}

fn trim_trailing_newlines(s: &mut String) {
    while s.ends_with('\n') {
        s.pop();
    }
}

/// Both printed forms parse back to the same tree and print the same again.
fn check_printed_forms(expr: &Expr, options: &ParseOptions) -> Result<(), String> {
    let want = support::canonical_tree(expr);
    for (form, text) in [("display", expr.to_string()), ("format", format(expr))] {
        let reparsed = parse_with(&text, options)
            .map_err(|e| format!("{form} does not parse:\n{text}\n{}", e.render(&text)))?;
        if support::canonical_tree(&reparsed) != want {
            return Err(format!("{form} reparses to another tree:\n{text}"));
        }
        let again = if form == "display" {
            reparsed.to_string()
        } else {
            format(&reparsed)
        };
        if again != text {
            return Err(format!("{form} is not a fixpoint:\n{text}\nthen\n{again}"));
        }
    }
    Ok(())
}

// --- compact AST dump -------------------------------------------------------

/// One node per line: kind, details, value type and span, children indented.
fn dump(out: &mut String, e: &Expr, depth: usize) {
    let pad = "  ".repeat(depth);
    let line = match e {
        Expr::Aggregate(a) => {
            let grouping = a
                .grouping
                .as_ref()
                .map(|g| format!(" {g}"))
                .unwrap_or_default();
            format!("Aggregate {}{grouping}", a.op)
        }
        Expr::Binary(b) => {
            let bool_mod = if b.return_bool { " bool" } else { "" };
            let matching = b.matching.as_ref().map(matching).unwrap_or_default();
            format!("Binary {}{bool_mod}{matching}", b.op)
        }
        Expr::Call(c) => format!("Call {}", c.func.name),
        Expr::MatrixSelector(m) => format!(
            "MatrixSelector{} range={}",
            selector(&m.selector),
            duration(&m.range)
        ),
        Expr::Subquery(s) => {
            let mut line = format!("Subquery range={}", duration(&s.range));
            if let Some(step) = &s.step {
                write!(line, " step={}", duration(step)).unwrap();
            }
            if let Some(offset) = &s.offset {
                write!(line, " offset={}", duration(offset)).unwrap();
            }
            if let Some(at) = &s.at {
                write!(line, " {at}").unwrap();
            }
            line
        }
        Expr::NumberLiteral(n) => {
            let unit = if n.is_duration { " (duration)" } else { "" };
            format!("Number {:?}{unit}", n.value)
        }
        Expr::Paren(_) => "Paren".to_string(),
        Expr::StringLiteral(s) => format!("String {:?}", s.value),
        Expr::Unary(u) => format!("Unary {}", u.op),
        Expr::VectorSelector(v) => format!("VectorSelector{}", selector(v)),
    };
    writeln!(out, "{pad}{line} : {} @{:?}", e.value_type(), e.span()).unwrap();
    for child in e.children() {
        dump(out, child, depth + 1);
    }
}

fn matching(m: &VectorMatching) -> String {
    let mut s = format!(
        " [{:?} {}{:?}",
        m.card,
        if m.on { "on" } else { "ignoring" },
        m.matching_labels
    );
    if !m.include.is_empty() {
        write!(s, " include{:?}", m.include).unwrap();
    }
    if let Some(v) = m.fill.lhs {
        write!(s, " fill_left={v:?}").unwrap();
    }
    if let Some(v) = m.fill.rhs {
        write!(s, " fill_right={v:?}").unwrap();
    }
    s.push(']');
    s
}

fn selector(v: &VectorSelector) -> String {
    let mut s = String::new();
    if let Some(name) = &v.name {
        write!(s, " name={name:?}").unwrap();
    }
    let matchers: Vec<String> = v.matchers.iter().map(|m| m.to_string()).collect();
    write!(s, " matchers=[{}]", matchers.join(", ")).unwrap();
    if let Some(offset) = &v.offset {
        write!(s, " offset={}", duration(offset)).unwrap();
    }
    if let Some(at) = &v.at {
        write!(s, " {at}").unwrap();
    }
    if v.anchored {
        s.push_str(" anchored");
    }
    if v.smoothed {
        s.push_str(" smoothed");
    }
    s
}

/// The duration as printed, plus its tree shape when it is an expression.
fn duration(d: &DurationExpr) -> String {
    match d {
        DurationExpr::Literal(n) => {
            let unit = if n.is_duration { "" } else { " (number)" };
            format!("{d}{unit}@{:?}", n.span)
        }
        other => format!("({other})@{:?}", other.span()),
    }
}

/// `promql parse --json` serializes the tree; every node kind must serialize.
#[cfg(feature = "serde")]
#[test]
fn every_valid_input_serializes_to_json() {
    let mut count = 0;
    for (name, text) in case_files("ok", "promql") {
        let file = parse_case_file(name, &text);
        for case in &file.cases {
            let Ok(expr) = parse_with(&case.input, &file.options) else {
                continue;
            };
            let json =
                serde_json::to_value(&expr).unwrap_or_else(|e| panic!("{}: {e}", case.input));
            assert!(json.get("type").is_some(), "{}: {json}", case.input);
            count += 1;
        }
    }
    assert!(count > 300);
    let expr = parse_with(
        r#"sum by (job) (rate(x{a=~"b"}[5m] offset 1m @ start())) + on (c) group_left () max_over_time(topk(1, y)[1h:step() + 1m])"#,
        &ParseOptions::all(),
    );
    let json = serde_json::to_string(&expr.expect("parses")).expect("serializes");
    for needle in [
        r#""type":"Binary""#,
        r#""type":"Aggregate""#,
        r#""func":"rate""#,
        r#""op":"Regex""#,
    ] {
        assert!(json.contains(needle), "{needle} not in {json}");
    }
}
