//! The opt-in lint checks of `check rules` (`--lint=all` or by id).
//!
//! `testdata/rules/lint/bad.rules.yml` has a positive case for every check
//! (its exact output is `bad.rules.yml.lint-all.expected`),
//! `good.rules.yml` the negative counterparts. The shared corpus is run
//! with every check on: nothing may crash, and lints must not change which
//! files have errors.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use promql_engine::rules::lint::LintCheck;
use promql_engine::rules::{CheckOptions, check_named_sources};

fn testdata(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/rules/lint")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn options(lint: &str) -> CheckOptions {
    let mut options = CheckOptions::default();
    assert!(options.set_lint(lint).is_empty(), "{lint}");
    options
}

/// The check ids named in the report's findings, with their counts.
fn found_ids(name: &str, text: &str, lint: &str) -> BTreeMap<String, usize> {
    let report = check_named_sources(&[(name, text)], &options(lint));
    let mut ids = BTreeMap::new();
    for file in &report.files {
        for finding in &file.findings {
            *ids.entry(finding.check.id().to_string()).or_default() += 1;
        }
    }
    ids
}

#[test]
fn bad_file_output_is_exact() {
    let text = testdata("bad.rules.yml");
    let report = check_named_sources(&[("bad.rules.yml", &text)], &options("all"));
    assert_eq!(report.exit_code, 0, "lint findings are warnings");
    assert_eq!(report.stdout(), "Checking bad.rules.yml\n\n");
    assert_eq!(
        report.stderr(),
        testdata("bad.rules.yml.lint-all.expected"),
        "stderr differs"
    );
    let mut fatal = options("all");
    fatal.lint_fatal = true;
    let report = check_named_sources(&[("bad.rules.yml", &text)], &fatal);
    assert_eq!(report.exit_code, 3);
}

#[test]
fn every_check_has_a_positive_and_a_negative_case() {
    let bad = testdata("bad.rules.yml");
    let good = testdata("good.rules.yml");
    for check in LintCheck::ALL {
        let found = found_ids("bad.rules.yml", &bad, check.id());
        assert!(
            found.get(check.id()).is_some_and(|n| *n >= 1),
            "{check} finds nothing in bad.rules.yml"
        );
        assert_eq!(found.len(), 1, "only {check} was selected: {found:?}");
        let found = found_ids("good.rules.yml", &good, check.id());
        assert!(
            found.is_empty(),
            "{check} fires on good.rules.yml: {found:?}"
        );
    }
    let report = check_named_sources(&[("good.rules.yml", &good)], &options("all"));
    assert_eq!(report.exit_code, 0);
    assert_eq!(
        report.stdout(),
        "Checking good.rules.yml\n  SUCCESS: 6 rules found\n\n"
    );
    assert_eq!(report.stderr(), "");
}

#[test]
fn default_and_none_run_no_opt_in_check() {
    let bad = testdata("bad.rules.yml");
    for lint in ["duplicate-rules", "none"] {
        assert!(found_ids("bad.rules.yml", &bad, lint).is_empty(), "{lint}");
    }
    let report = check_named_sources(&[("bad.rules.yml", &bad)], &CheckOptions::default());
    assert_eq!(
        report.stdout(),
        "Checking bad.rules.yml\n  SUCCESS: 6 rules found\n\n"
    );
}

#[test]
fn all_includes_duplicate_rules() {
    let text = "groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: up\n  - record: a:b:c\n    expr: up\n";
    let report = check_named_sources(&[("d.yml", text)], &options("all"));
    assert!(
        report
            .stderr()
            .contains("lint error 1 duplicate rule(s) found.")
    );
    let report = check_named_sources(&[("d.yml", text)], &options("record-name"));
    assert!(!report.stderr().contains("duplicate"));
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn corpus_with_all_lints() {
    // `../shared` beside the crate (or two levels up from a worktree);
    // `RULES_CORPUS` overrides the corpus directory.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::var_os("RULES_CORPUS")
        .map(|c| PathBuf::from(c).join(".."))
        .or_else(|| {
            ["../shared/rules", "../../shared/rules"]
                .iter()
                .map(|p| manifest.join(p))
                .find(|p| p.join("corpus").is_dir())
        })
        .unwrap_or_else(|| manifest.join("../shared/rules"));
    let mut files = Vec::new();
    yaml_files(&root.join("corpus"), &mut files);
    yaml_files(&root.join("seed"), &mut files);
    if files.is_empty() {
        eprintln!("skipping: no corpus at {}", root.display());
        return;
    }
    files.sort();
    let all = options("all");
    let default = CheckOptions::default();
    let mut findings: BTreeMap<&str, usize> = BTreeMap::new();
    for path in &files {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        let name = path.display().to_string();
        let linted = check_named_sources(&[(&name, &text)], &all);
        let plain = check_named_sources(&[(&name, &text)], &default);
        assert_eq!(
            linted.files[0].has_errors(),
            plain.files[0].has_errors(),
            "{name}"
        );
        assert_eq!(linted.files[0].errors, plain.files[0].errors, "{name}");
        for finding in &linted.files[0].findings {
            assert!(finding.pos.line > 0, "{name}: {finding}");
            *findings.entry(finding.check.id()).or_default() += 1;
        }
    }
    eprintln!("{} corpus files, findings: {findings:?}", files.len());
    assert!(
        !findings.is_empty(),
        "no check fires anywhere in the corpus"
    );
    // The seed's HighErrorRate divides every 5xx series by itself.
    let seed = root.join("seed/application.rules.yml");
    if let Ok(text) = fs::read_to_string(&seed) {
        let report = check_named_sources(&[("application.rules.yml", &text)], &all);
        assert!(
            report.files[0]
                .findings
                .iter()
                .any(|f| f.check == LintCheck::SelfDivision && f.rule_name == "HighErrorRate"),
            "{}",
            report.stderr()
        );
    }
}

#[test]
fn cli_lint_flags() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rules/lint/bad.rules.yml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_promql"))
            .args(["check", "rules"])
            .args(args)
            .arg(&path)
            .output()
            .expect("promql runs")
    };
    let out = run(&["--lint=all"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lint self-division"));
    let out = run(&["--lint=plain-regex,alert-for", "--lint-fatal"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lint plain-regex") && stderr.contains("lint alert-for"));
    assert!(!stderr.contains("lint self-division"));
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 6 rules found"));
    let help = Command::new(env!("CARGO_BIN_EXE_promql"))
        .args(["check", "rules", "--help"])
        .output()
        .expect("promql runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for check in LintCheck::ALL {
        assert!(help.contains(check.id()), "--help lacks {check}");
    }
}

#[test]
fn deep_expressions_do_not_crash() {
    // Near the parser's default depth limit (1000), on both sides of `/`.
    let depth = 450;
    let side = format!(
        "{}rate(x_total{{code=~\"5..\"}}[5m]){}",
        "abs(sum by (code) (".repeat(depth / 2),
        "))".repeat(depth / 2)
    );
    let expr = format!("{side} / {side} > bool 1");
    let text = format!("groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: '{expr}'\n");
    let report = check_named_sources(&[("deep.yml", &text)], &options("all"));
    assert!(!report.files[0].has_errors(), "{}", report.stderr());
    assert!(
        report.files[0]
            .findings
            .iter()
            .any(|f| f.check == LintCheck::SelfDivision),
        "{}",
        report.stderr()
    );
}
