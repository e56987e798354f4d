//! `promtool test rules` parity over the shared rule test data: every test
//! file's exit code must match promtool's (MANIFEST.tsv `test_exit`), except
//! the files listed in `testdata/rules/unittest/KNOWN_DIFFERENCES` with the
//! 3.x verdict.

use std::path::{Path, PathBuf};

use promql_engine::rules::{TestOptions, test_files};

/// `../shared/rules` from the crate root (or two levels up, for worktrees).
fn shared() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared/rules");
    if near.exists() {
        near
    } else {
        root.join("../../shared/rules")
    }
}

/// `path -> expected exit` for files whose 3.x verdict differs from 2.42.
fn known_differences() -> Vec<(String, i32)> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rules/unittest/KNOWN_DIFFERENCES");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let path = parts.next()?.to_string();
            let exit = parts.next()?.trim().parse().ok()?;
            Some((path, exit))
        })
        .collect()
}

/// The combined output block of a `.promtool-test.txt` file.
fn promtool_combined(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("# --- combined stdout+stderr (interleaved as written) ---\n")?;
    let rest = &text[start..];
    let rest = &rest[rest.find('\n')? + 1..];
    let end = rest.find("# --- stdout only ---")?;
    Some(rest[..end].to_string())
}

#[test]
fn rule_unit_test_parity() {
    let root = shared();
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        eprintln!("shared rule data not found at {}; skipping", root.display());
        return;
    };
    let known = known_differences();
    let options = TestOptions::default();
    let (mut passed, mut failed) = (0, 0);
    let mut unexplained = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, kind, _, _, _, test_exit] = cols.as_slice() else {
            continue;
        };
        if *kind != "test" {
            continue;
        }
        let Ok(promtool_exit) = test_exit.parse::<i32>() else {
            continue;
        };
        let expected = known
            .iter()
            .find(|(p, _)| p == path)
            .map_or(promtool_exit, |(_, e)| *e);
        let report = test_files(&[root.join(path)], &options);
        if report.exit_code == expected {
            passed += 1;
        } else {
            failed += 1;
            unexplained.push(format!(
                "{path}: exit {} (want {expected})\n{}",
                report.exit_code,
                report.combined()
            ));
        }
    }
    println!("rule unit tests parity: {passed} passed, {failed} failed");
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
}

/// The feature-focused unit tests produce promtool's exact text.
#[test]
fn unit_test_output_matches_promtool() {
    let dir = shared().join("unit-tests");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("shared rule data not found; skipping");
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("_test.yml"))
        .collect();
    files.push(shared().join("seed/seed_rules_test.yml"));
    files.sort();
    let known = known_differences();
    let mut mismatches = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(shared())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if known.iter().any(|(p, _)| *p == relative) {
            continue;
        }
        let Some(expected) = promtool_combined(&PathBuf::from(format!(
            "{}.promtool-test.txt",
            file.display()
        ))) else {
            continue;
        };
        let report = test_files(&[file], &TestOptions::default());
        let prefix = format!(
            "{}/",
            file.parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        let got = report.combined().replace(&prefix, "");
        if got != expected {
            mismatches.push(format!(
                "{}:\n--- want\n{expected}--- got\n{got}",
                file.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn local(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/rules/unittest")
        .join(name)
}

/// The crate's own test files: one passing, one failing, promtool's layout.
#[test]
fn local_test_files_report_like_promtool() {
    let files = [local("basic_test.yml"), local("basic_failing_test.yml")];
    let report = test_files(&files, &TestOptions::default());
    assert_eq!(report.exit_code, 1);
    assert!(report.files[0].passed(), "{:?}", report.files[0].errors);
    assert_eq!(report.files[1].errors.len(), 2);
    let prefix = format!("{}/", local("").display()).replace("//", "/");
    let got = report.combined().replace(&prefix, "");
    let want = std::fs::read_to_string(local("basic.expected.txt")).unwrap();
    assert_eq!(got, want);
    // Status lines on stdout, failures on stderr.
    assert!(report.stdout().contains("  SUCCESS\n"));
    assert!(report.stderr().starts_with("  FAILED:\n    name: wrong,\n"));
}

fn run_text(text: &str) -> Vec<String> {
    let path = local("inline_test.yml");
    promql_engine::rules::test_source(&path, text, &TestOptions::default()).errors
}

#[test]
fn file_level_errors() {
    assert_eq!(
        run_text("rule_files: []\ntestz: []\n"),
        ["yaml: unmarshal errors:\n  line 2: field testz not found in type main.unitTestFile"]
    );
    assert_eq!(
        run_text("group_eval_order: [a, b, a]\n"),
        ["group name repeated in evaluation order: a"]
    );
    let errors = run_text(
        "rule_files: [basic.rules.yml]\ntests:\n- name: t\n  alert_rule_test:\n  - eval_time: 1m\n",
    );
    assert_eq!(
        errors,
        [
            "an item under alert_rule_test misses required attribute alertname at eval_time 1m (in TestGroup t)"
        ]
    );
    let errors = run_text("tests:\n- promql_expr_test:\n  - expr: 'sum('\n    eval_time: 0s\n");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("    expr: \"sum(\", time: 0s, err: "),
        "{errors:?}"
    );
}

#[test]
fn nan_never_matches_and_scalars_become_samples() {
    let errors = run_text(
        "tests:\n- input_series:\n  - series: x\n    values: NaN 1\n  promql_expr_test:\n  - expr: x\n    eval_time: 0s\n    exp_samples:\n    - labels: x\n      value: .nan\n  - expr: '1 + 1'\n    eval_time: 0s\n    exp_samples:\n    - value: 2\n",
    );
    assert_eq!(
        errors,
        [
            "    expr: \"x\", time: 0s,\n        exp: {__name__=\"x\"} NaN\n        got: {__name__=\"x\"} NaN"
        ]
    );
}

#[test]
fn run_filter_and_features() {
    let text = "tests:\n- name: good\n  promql_expr_test:\n  - expr: '1'\n    eval_time: 0s\n    exp_samples:\n    - value: 1\n- name: bad\n  promql_expr_test:\n  - expr: '2'\n    eval_time: 0s\n    exp_samples:\n    - value: 1\n";
    let path = local("inline_test.yml");
    let mut options = TestOptions::default();
    assert_eq!(
        promql_engine::rules::test_source(&path, text, &options)
            .errors
            .len(),
        1
    );
    options.set_run(&["^go".to_string()]).unwrap();
    assert!(promql_engine::rules::test_source(&path, text, &options).passed());
    assert!(options.enable_feature("promql-experimental-functions"));
    assert!(!options.enable_feature("no-such-feature"));
}

/// Upstream's `TestRulesUnitTestRun` cases: `--run` and
/// `--ignore-unknown-fields` on promtool's own test data.
#[test]
fn upstream_run_and_flag_cases() {
    let dir = shared().join("corpus/prometheus/cmd/promtool/testdata");
    if !dir.exists() {
        eprintln!("shared rule data not found; skipping");
        return;
    }
    let cases: [(&str, &[&str], bool, i32); 8] = [
        ("rules_run.yml", &[], false, 1),
        ("rules_run.yml", &["correct", "wrong"], false, 1),
        ("rules_run.yml", &["correct"], false, 0),
        ("rules_run.yml", &["wrong"], false, 1),
        ("rules_run_extrafields.yml", &[], true, 0),
        ("rules_run_no_fuzzy.yml", &[], false, 1),
        ("rules_run_fuzzy.yml", &["correct"], false, 0),
        ("rules_run_fuzzy.yml", &["wrong"], false, 1),
    ];
    for (file, run, ignore_unknown, want) in cases {
        let mut options = TestOptions::default();
        let run: Vec<String> = run.iter().map(|s| s.to_string()).collect();
        options.set_run(&run).unwrap();
        options.load_options.ignore_unknown_fields = ignore_unknown;
        let report = test_files(&[dir.join(file)], &options);
        assert_eq!(
            report.exit_code,
            want,
            "{file} {run:?}\n{}",
            report.combined()
        );
    }
}

/// The demo rule files' unit tests (in the repository) pass.
#[test]
fn demo_rule_tests_pass() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/demo/rules/seed_rules_test.yml");
    if !path.exists() {
        return;
    }
    let report = test_files(&[path], &TestOptions::default());
    assert_eq!(report.exit_code, 0, "{}", report.combined());
    assert!(report.stdout().ends_with("  SUCCESS\n\n"));
}
