//! Golden tests: `check rules` output for the fixtures in
//! `testdata/rules/check/` must equal `F.expected` exactly (stdout, stderr
//! and exit code). Set `UPDATE_EXPECTED=1` to rewrite them after a reviewed
//! change.

use std::fs;
use std::path::Path;

use promql_engine::rules::{CheckOptions, check_named_sources};

fn render(exit_code: i32, stdout: &str, stderr: &str) -> String {
    format!("# exit_code: {exit_code}\n# --- stdout ---\n{stdout}# --- stderr ---\n{stderr}")
}

#[test]
fn check_fixtures_match_expected_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rules/check");
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 4, "fixtures missing in {}", dir.display());
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    let mut mismatches = Vec::new();
    for path in &entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let text = fs::read_to_string(path).expect("fixture");
        for (suffix, options) in [
            ("expected", CheckOptions::default()),
            (
                "lint-fatal.expected",
                CheckOptions {
                    lint_fatal: true,
                    ..CheckOptions::default()
                },
            ),
        ] {
            let expected_path = path.with_file_name(format!("{name}.{suffix}"));
            if suffix != "expected" && !expected_path.exists() && !update {
                continue;
            }
            let report = check_named_sources(&[(name, &text)], &options);
            let actual = render(report.exit_code, &report.stdout(), &report.stderr());
            if update {
                if suffix == "expected" || report.exit_code == 3 {
                    fs::write(&expected_path, &actual).expect("write expected output");
                }
                continue;
            }
            let expected = fs::read_to_string(&expected_path).unwrap_or_default();
            if actual != expected {
                mismatches.push(format!(
                    "{}:\n--- expected\n{expected}--- actual\n{actual}",
                    expected_path.display()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
