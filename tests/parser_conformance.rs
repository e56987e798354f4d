//! Parses every query of the upstream PromQL test scripts
//! (`../shared/promqltest/*.test`) and every rule expression of the rule
//! corpus (`../shared/rules/corpus/**`) that promtool accepted.
//!
//! Both data sets live outside the crate; when absent, the tests print a
//! notice and pass.

use std::fs;
use std::path::{Path, PathBuf};

use promql_engine::parser::{ParseOptions, parse_with};

/// `../<rel>` relative to the crate root (also tried one level further up,
/// for git worktrees that live in a subdirectory).
fn shared_dir(rel: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("..").join(rel), root.join("../..").join(rel)]
        .into_iter()
        .find(|d| d.is_dir())
}

/// An `eval` command: its query, where it is, and whether it may fail.
struct Eval {
    query: String,
    location: String,
    may_fail: bool,
}

/// The query of an `eval` line, or `None` for other lines.
fn eval_query(line: &str) -> Option<(&str, bool)> {
    let (cmd, rest) = line.split_once(char::is_whitespace)?;
    let fail_variant = match cmd {
        "eval" | "eval_ordered" | "eval_warn" | "eval_info" => false,
        "eval_fail" => true,
        _ => return None,
    };
    let mut words = rest.trim_start();
    let next_word = |s: &mut &str| -> Option<String> {
        let t = s.trim_start();
        let end = t.find(char::is_whitespace).unwrap_or(t.len());
        let w = t[..end].to_string();
        *s = &t[end..];
        Some(w)
    };
    match next_word(&mut words)?.as_str() {
        "instant" => {
            if next_word(&mut words)? != "at" {
                return None;
            }
            next_word(&mut words)?;
        }
        "range" => {
            for keyword in ["from", "to", "step"] {
                if next_word(&mut words)? != keyword {
                    return None;
                }
                next_word(&mut words)?;
            }
        }
        _ => return None,
    }
    Some((words.trim(), fail_variant))
}

fn collect_evals(path: &Path) -> Vec<Eval> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((query, fail_variant)) = eval_query(line.trim_start()) else {
            continue;
        };
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        let expects_fail = lines[i + 1..]
            .iter()
            .take_while(|l| l.starts_with(char::is_whitespace) && !l.trim().is_empty())
            .any(|l| l.trim_start().starts_with("expect fail"));
        out.push(Eval {
            query: query.to_string(),
            location: format!("{}:{}", path.display(), i + 1),
            may_fail: fail_variant || expects_fail,
        });
    }
    out
}

#[test]
fn promqltest_queries_parse() {
    let Some(dir) = shared_dir("shared/promqltest") else {
        println!("parser conformance: ../shared/promqltest not found, skipping");
        return;
    };
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "test"));
    files.sort();
    let opts = ParseOptions::all();
    let (mut passed, mut failed, mut expected_failures) = (0, 0, 0);
    for file in &files {
        for eval in collect_evals(file) {
            match parse_with(&eval.query, &opts) {
                Ok(_) => passed += 1,
                Err(_) if eval.may_fail => expected_failures += 1,
                Err(e) => {
                    failed += 1;
                    println!("FAIL {}: {:?}: {e}", eval.location, eval.query);
                }
            }
        }
    }
    println!(
        "parser conformance: {passed} passed, {failed} failed ({expected_failures} expected failures of `expect fail` queries)"
    );
    assert!(passed > 0, "no queries found");
    assert_eq!(failed, 0, "queries failed to parse");
}

/// Extracts the values of `expr:` keys from a YAML file, line by line:
/// plain, single- and double-quoted scalars (also spanning lines) and `|`/`>`
/// block scalars.
fn yaml_exprs(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut anchors: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed).trim_start();
        let Some(rest) = body.strip_prefix("expr:") else {
            i += 1;
            continue;
        };
        let key_indent = line.len() - body.len();
        let mut rest = rest.trim();
        let start = i;
        i += 1;
        if let Some(alias) = rest.strip_prefix('*') {
            if let Some((_, v)) = anchors.iter().find(|(name, _)| name == alias.trim()) {
                out.push((start + 1, v.clone()));
            }
            continue;
        }
        let mut anchor = None;
        if let Some(a) = rest.strip_prefix('&') {
            let end = a.find(char::is_whitespace).unwrap_or(a.len());
            anchor = Some(a[..end].to_string());
            rest = a[end..].trim_start();
        }
        let continuation =
            |l: &str| l.trim().is_empty() || l.len() - l.trim_start().len() > key_indent;
        let value = if rest.starts_with('|') || rest.starts_with('>') {
            let folded = rest.starts_with('>');
            let mut block: Vec<&str> = Vec::new();
            while i < lines.len() && continuation(lines[i]) {
                block.push(lines[i]);
                i += 1;
            }
            while block.last().is_some_and(|l| l.trim().is_empty()) {
                block.pop();
            }
            let indent = block
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let stripped: Vec<&str> = block
                .iter()
                .map(|l| l.get(indent..).unwrap_or(""))
                .collect();
            if folded {
                stripped.join(" ")
            } else {
                stripped.join("\n")
            }
        } else if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let mut raw = rest[1..].to_string();
            while !closes(&raw, q) && i < lines.len() {
                raw.push(' ');
                raw.push_str(lines[i].trim());
                i += 1;
            }
            unquote_yaml(&raw, q)
        } else {
            let mut value = strip_comment(rest).to_string();
            while i < lines.len() && continuation(lines[i]) && !lines[i].trim().is_empty() {
                let next = lines[i].trim();
                if next.starts_with("- ")
                    || next.contains(": ") && !value.is_empty() && is_key(next)
                {
                    break;
                }
                value.push(' ');
                value.push_str(strip_comment(next));
                i += 1;
            }
            value
        };
        if let Some(name) = anchor {
            anchors.push((name, value.clone()));
        }
        out.push((start + 1, value));
    }
    out
}

fn is_key(line: &str) -> bool {
    line.split_once(':')
        .is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

fn strip_comment(s: &str) -> &str {
    s.find(" #").map_or(s, |i| &s[..i]).trim_end()
}

fn closes(raw: &str, q: char) -> bool {
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if q == '"' && c == '\\' {
            chars.next();
        } else if c == q {
            if q == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return true;
            }
        }
    }
    false
}

fn unquote_yaml(raw: &str, q: char) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == q {
            if q == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            break;
        }
        if q == '"' && c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

fn promtool_accepted(rule_file: &Path) -> bool {
    let mut check = rule_file.as_os_str().to_owned();
    check.push(".promtool-check.txt");
    fs::read_to_string(PathBuf::from(check))
        .map(|t| t.lines().any(|l| l.trim() == "# exit_code: 0"))
        .unwrap_or(false)
}

#[test]
fn rule_corpus_exprs_parse() {
    let Some(dir) = shared_dir("shared/rules/corpus") else {
        println!("rule corpus: ../shared/rules/corpus not found, skipping");
        return;
    };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let opts = ParseOptions::all();
    let (mut passed, mut failed, mut files_used) = (0, 0, 0);
    for file in files.iter().filter(|f| promtool_accepted(f)) {
        files_used += 1;
        let text = fs::read_to_string(file).unwrap_or_default();
        for (line, expr) in yaml_exprs(&text) {
            match parse_with(&expr, &opts) {
                Ok(_) => passed += 1,
                Err(e) => {
                    failed += 1;
                    println!("FAIL {}:{line}: {expr:?}: {e}", file.display());
                }
            }
        }
    }
    println!(
        "rule corpus: {passed} passed, {failed} failed ({files_used} files promtool accepted)"
    );
    assert!(passed > 0, "no rule expressions found");
    assert_eq!(failed, 0, "rule expressions failed to parse");
}
