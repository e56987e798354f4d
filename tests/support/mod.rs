//! Helpers shared by the parser test suites: comparing trees up to what
//! printing normalises, and reading the upstream test-script corpus.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use promql_engine::parser::Expr;

/// The tree without spans and with everything the printer normalises made
/// canonical, as a string (so that `NaN` literals compare equal):
/// `by ()` dropped, an empty one-to-one/many-to-many `ignoring ()` dropped,
/// matchers sorted, unary `+` and `-literal` folded in duration
/// expressions, zero offsets dropped, and a plain number in a range, step
/// or offset position marked as a duration in whole milliseconds.
pub fn canonical_tree(expr: &Expr) -> String {
    let mut e = expr.clone();
    e.clear_spans();
    e.normalize();
    format!("{e:?}")
}

/// Where the upstream test scripts are: `$PROMQLTEST_DIR`, else
/// `../shared/promqltest` next to the crate root (or one level further up,
/// for git worktrees in a subdirectory).
pub fn promqltest_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PROMQLTEST_DIR") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared/promqltest");
    [near.clone(), root.join("../../shared/promqltest")]
        .into_iter()
        .find(|d| d.is_dir())
        .unwrap_or(near)
}

/// Every query of an `eval` line in the `*.test` files under `dir`, with
/// its file name and line number. `None` when the directory is absent.
pub fn eval_queries(dir: &Path) -> Option<Vec<(String, usize, String)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if let Some(query) = eval_query(line) {
                out.push((name.clone(), i + 1, query.to_string()));
            }
        }
    }
    Some(out)
}

/// The query of `eval[_x] instant at T QUERY` or
/// `eval[_x] range from A to B step S QUERY`.
fn eval_query(line: &str) -> Option<&str> {
    let mut words = Words(line.trim_start());
    let cmd = words.next()?;
    if cmd != "eval" && !cmd.starts_with("eval_") {
        return None;
    }
    match words.next()? {
        "instant" => {
            words.expect("at")?;
            words.next()?;
        }
        "range" => {
            words.expect("from")?;
            words.next()?;
            words.expect("to")?;
            words.next()?;
            words.expect("step")?;
            words.next()?;
        }
        _ => return None,
    }
    let rest = words.0.trim();
    (!rest.is_empty()).then_some(rest)
}

struct Words<'a>(&'a str);

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let s = self.0.trim_start();
        if s.is_empty() {
            return None;
        }
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let (word, rest) = s.split_at(end);
        self.0 = rest;
        Some(word)
    }

    fn expect(&mut self, word: &str) -> Option<()> {
        (self.next()? == word).then_some(())
    }
}

/// Where the shared rule-file corpus is (`../shared/rules/corpus`, or one
/// level further up), if present.
pub fn rule_corpus_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        root.join("../shared/rules/corpus"),
        root.join("../../shared/rules/corpus"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
}

/// The `expr:` values of every YAML file under `dir`, with file and line.
/// A light extractor (block scalars, quoted and plain values): values it
/// gets wrong simply do not parse and are skipped by the callers.
pub fn rule_exprs(dir: &Path) -> Vec<(String, usize, String)> {
    let mut files = Vec::new();
    collect_yaml(dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = file.display().to_string();
        for (line, expr) in yaml_exprs(&text) {
            out.push((name.clone(), line, expr));
        }
    }
    out
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

fn yaml_exprs(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let body = line.trim_start().trim_start_matches("- ");
        i += 1;
        let Some(value) = body.strip_prefix("expr:") else {
            continue;
        };
        let key_indent = indent(line);
        let value = value.trim();
        let more = |l: &str| l.trim().is_empty() || indent(l) > key_indent;
        let expr = if value.starts_with('|') || value.starts_with('>') {
            let mut block = Vec::new();
            while i < lines.len() && more(lines[i]) {
                block.push(lines[i]);
                i += 1;
            }
            let strip = block
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| indent(l))
                .min()
                .unwrap_or(0);
            let block: Vec<&str> = block.iter().map(|l| l.get(strip..).unwrap_or("")).collect();
            let sep = if value.starts_with('>') { " " } else { "\n" };
            block.join(sep).trim_end().to_string()
        } else if let Some(rest) = value.strip_prefix('\'') {
            rest.rsplit_once('\'')
                .map_or(rest, |(v, _)| v)
                .replace("''", "'")
        } else if let Some(rest) = value.strip_prefix('"') {
            rest.rsplit_once('"')
                .map_or(rest, |(v, _)| v)
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else {
            let mut expr = value.split(" #").next().unwrap_or("").to_string();
            while i < lines.len() && !lines[i].trim().is_empty() && indent(lines[i]) > key_indent {
                expr.push(' ');
                expr.push_str(lines[i].trim());
                i += 1;
            }
            expr
        };
        out.push((i, expr));
    }
    out
}
