//! `promtool check rules` parity on the shared corpus of real rule files.
//!
//! For every file `F` under `../shared/rules/{corpus,seed,unit-tests}` with a
//! `F.promtool-check.txt` (output of promtool 2.42), we check `F` and compare
//! the exit code, the rule count on success and the set of error lines on
//! failure. Files whose verdict changed in Prometheus 3.x are expected to
//! pass (see `VALID_IN_3X`); message differences between 2.42 and 3.x are
//! listed with a reason in `testdata/rules/KNOWN_DIFFERENCES`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use promql_engine::rules::{CheckOptions, NameValidation, check_named_sources};

/// Files promtool 2.42 rejects but Prometheus 3.x accepts, and the features
/// the file needs (upstream checks `features.yml` with these flags).
const VALID_IN_3X: &[(&str, &[&str])] = &[
    // UTF-8 label and annotation names (`ins-tance`) are valid in 3.x.
    (
        "corpus/prometheus/model/rulefmt/testdata/utf-8_lname.good.yaml",
        &[],
    ),
    (
        "corpus/prometheus/model/rulefmt/testdata/utf-8_annotation.good.yaml",
        &[],
    ),
    (
        "corpus/prometheus/model/rulefmt/testdata/legacy_validation_annotation.bad.yaml",
        &[],
    ),
    (
        "corpus/prometheus-v2.42.0/model/rulefmt/testdata/bad_annotation.bad.yaml",
        &[],
    ),
    (
        "corpus/prometheus-v2.42.0/model/rulefmt/testdata/bad_lname.bad.yaml",
        &[],
    ),
    // Experimental syntax, enabled as upstream's TestCheckRulesWithFeatureFlag does.
    (
        "corpus/prometheus/cmd/promtool/testdata/features.yml",
        &[
            "promql-experimental-functions",
            "promql-extended-range-selectors",
            "promql-binop-fill-modifiers",
        ],
    ),
];

/// Files whose messages changed in Prometheus 3.x, with the 3.x error lines
/// (from upstream's rulefmt code and tests at the reference commit).
const MESSAGES_IN_3X: &[(&str, &[&str])] = &[
    // 3.x prints the (zero) positions of both `record` and `alert`.
    (
        "corpus/prometheus/model/rulefmt/testdata/no_rec_alert.bad.yaml",
        &[
            "no_rec_alert.bad.yaml: 0:0: 0:0: group \"yolo\", rule 1, \"\": one of 'record' or 'alert' must be set",
        ],
    ),
    // With UTF-8 names the name itself is valid; 3.x rejects the braces instead.
    (
        "corpus/prometheus/model/rulefmt/testdata/invalid_record_name.bad.yaml",
        &[
            "invalid_record_name.bad.yaml: 4:17: group \"yolo\", rule 1, \"strawberry{flavor=\\\"sweet\\\"}\": braces present in the recording rule name; should it be in expr?: strawberry{flavor=\"sweet\"}",
        ],
    ),
    // 2.42 read `alert: *alertname` as the anchor's name ("alertname"); 3.x
    // resolves the alias to `HighAlert`, which is then a duplicate.
    (
        "corpus/prometheus/model/rulefmt/testdata/test_aliases.yaml",
        &[
            "lint error 2 duplicate rule(s) found.",
            "Metric: HighAlert",
            "Label(s):",
            "\tseverity: critical",
            "Metric: HighAlert2",
            "Label(s):",
            "\tseverity: critical",
            "Might cause inconsistency while recording expressions",
        ],
    ),
];

struct Expected {
    exit_code: i32,
    stdout: String,
    stderr: String,
}

fn section<'a>(text: &'a str, header: &str) -> &'a str {
    let Some(start) = text.find(header) else {
        return "";
    };
    let body = &text[start + header.len()..];
    let body = body.strip_prefix('\n').unwrap_or(body);
    match body.find("\n# --- ") {
        Some(end) => &body[..=end],
        None => body,
    }
}

fn read_expected(path: &Path) -> Option<Expected> {
    let text = fs::read_to_string(path).ok()?;
    let exit_code = text
        .lines()
        .find_map(|l| l.strip_prefix("# exit_code: "))?
        .trim()
        .parse()
        .ok()?;
    Some(Expected {
        exit_code,
        stdout: section(&text, "# --- stdout only ---").to_string(),
        stderr: section(&text, "# --- stderr only ---").to_string(),
    })
}

/// Error lines as a sorted multiset, ignoring the `FAILED:` header and log
/// lines. Prometheus 3.x decodes into `rulefmt.Rule` where 2.42 named
/// `rulefmt.RuleNode` in unknown-field messages.
fn error_lines(stderr: &str) -> Vec<String> {
    let mut lines: Vec<String> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && l.trim() != "FAILED:" && !l.starts_with("level=WARN"))
        .map(|l| l.replace("rulefmt.RuleNode", "rulefmt.Rule"))
        .collect();
    lines.sort();
    lines
}

fn success_count(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find(|l| l.contains("SUCCESS:"))
        .map(|l| l.trim().to_string())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out);
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            if name.ends_with(".promtool-check.txt") {
                out.push(path.with_file_name(name.trim_end_matches(".promtool-check.txt")));
            }
        }
    }
}

fn known_differences() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rules/KNOWN_DIFFERENCES");
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (path, reason) = l.split_once('\t')?;
            Some((path.trim().to_string(), reason.trim().to_string()))
        })
        .collect()
}

/// Compares one file; `Err` describes the mismatch.
fn compare(
    relative: &str,
    file: &Path,
    expected: &Expected,
    options: &CheckOptions,
) -> Result<(), String> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let text = fs::read_to_string(file).map_err(|e| e.to_string())?;
    let report = check_named_sources(&[(name, &text)], options);
    if report.exit_code != expected.exit_code {
        return Err(format!(
            "{relative}: exit code {} (promtool {})\n{}",
            report.exit_code,
            expected.exit_code,
            report.stderr()
        ));
    }
    let ours = success_count(&report.stdout());
    let theirs = success_count(&expected.stdout);
    if ours != theirs {
        return Err(format!("{relative}: {ours:?} (promtool {theirs:?})"));
    }
    let ours = error_lines(&report.stderr());
    let theirs = error_lines(&expected.stderr);
    if ours != theirs {
        return Err(format!(
            "{relative}: messages differ\n  ours:     {ours:?}\n  promtool: {theirs:?}"
        ));
    }
    Ok(())
}

#[test]
fn rules_check_parity() {
    // `../shared` beside the crate (worktrees one level deeper also look up
    // two levels); `RULES_CORPUS` overrides.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = std::env::var_os("RULES_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            ["../shared/rules/corpus", "../../shared/rules/corpus"]
                .iter()
                .map(|p| root.join(p))
                .find(|p| p.is_dir())
        })
        .unwrap_or_else(|| root.join("../shared/rules/corpus"));
    // Paths are reported relative to shared/rules, whose seed/ and
    // unit-tests/ rule files are checked too.
    let base = corpus
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| corpus.clone());
    if !corpus.is_dir() {
        println!(
            "rules check parity: corpus not found at {}, skipped",
            corpus.display()
        );
        return;
    }
    let mut files = Vec::new();
    for dir in ["corpus", "seed", "unit-tests"] {
        collect_files(&base.join(dir), &mut files);
    }
    assert!(
        !files.is_empty(),
        "no expectation files in {}",
        corpus.display()
    );
    let known = known_differences();
    let (mut passed, mut failed, mut known_failed) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&base)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let Some(mut expected) = read_expected(&PathBuf::from(format!(
            "{}.promtool-check.txt",
            file.display()
        ))) else {
            failures.push(format!("{relative}: unreadable expectation"));
            failed += 1;
            continue;
        };
        let override_3x = MESSAGES_IN_3X
            .iter()
            .find(|(p, _)| *p == relative)
            .map(|(_, lines)| lines.join("\n"));
        if let Some(stderr) = &override_3x {
            expected.stderr = stderr.clone();
        }
        let mut options = CheckOptions::default();
        let mut results = Vec::new();
        if let Some((_, features)) = VALID_IN_3X.iter().find(|(p, _)| *p == relative) {
            for feature in *features {
                assert!(options.enable_feature(feature));
            }
            // Valid in 3.x: we must accept it. Count the rules in the file.
            let text = fs::read_to_string(file).unwrap_or_default();
            let rules = text.matches("- record:").count() + text.matches("- alert:").count();
            let previous = expected.exit_code;
            expected.exit_code = 0;
            expected.stdout = format!("  SUCCESS: {rules} rules found\n");
            expected.stderr = String::new();
            if features.is_empty() && previous != 0 {
                // With the 2.x (legacy) name scheme, 2.42's verdict must still hold.
                let legacy = CheckOptions {
                    name_validation: NameValidation::Legacy,
                    ..CheckOptions::default()
                };
                let old = read_expected(&PathBuf::from(format!(
                    "{}.promtool-check.txt",
                    file.display()
                )));
                if let Some(old) = old {
                    results.push(compare(
                        &format!("{relative} (legacy names)"),
                        file,
                        &old,
                        &legacy,
                    ));
                }
            }
        }
        results.push(compare(&relative, file, &expected, &options));
        // Lint-fatal expectations, where promtool recorded them.
        let fatal_path = PathBuf::from(format!("{}.promtool-check-lint-fatal.txt", file.display()));
        if let Some(mut fatal) = read_expected(&fatal_path) {
            if let Some(stderr) = &override_3x {
                fatal.stderr = stderr.clone();
            }
            let options = CheckOptions {
                lint_fatal: true,
                ..options.clone()
            };
            results.push(compare(
                &format!("{relative} (--lint-fatal)"),
                file,
                &fatal,
                &options,
            ));
        }
        let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            passed += 1;
        } else if let Some(reason) = known.get(&relative) {
            known_failed += 1;
            println!(
                "known difference: {relative}: {reason}\n  {}",
                errors.join("\n  ")
            );
        } else {
            failed += 1;
            failures.extend(errors);
        }
    }
    for failure in &failures {
        println!("MISMATCH {failure}");
    }
    println!("rules check parity: {passed} passed, {failed} failed");
    println!("  ({known_failed} known differences, listed in testdata/rules/KNOWN_DIFFERENCES)");
    assert!(failures.is_empty(), "{failed} file(s) differ from promtool");
}
