//! JUnit XML for rule unit tests, as `promtool test --junit=FILE rules`
//! writes it for CI systems to show.
//!
//! One `<testsuite>` per test file (named by the file, with promtool's
//! counts and the local time its test groups started) and one `<testcase>`
//! per test group that ran, holding a `<failure>` per failure message. A
//! file that stopped before its groups (unreadable, invalid, a repeated
//! name in `group_eval_order`) gets an `<error>` on a case named `unknown`,
//! as promtool reports it. The text is what Go's `encoding/xml` writes: no
//! declaration, no indentation, every element closed with an end tag, and
//! the same escapes (quotes, `&`, `<`, `>`, tab, newline and carriage return
//! as character references; characters XML cannot hold as U+FFFD).

use super::{FileResult, TestReport};
use crate::model::quote::go_markup_entity;

impl TestReport {
    /// The report as JUnit XML, byte for byte as promtool writes it.
    pub fn junit_xml(&self) -> String {
        junit_xml(&self.files)
    }
}

/// `files` as JUnit XML (see the module documentation).
pub fn junit_xml(files: &[FileResult]) -> String {
    let mut out = String::from("<testsuites>");
    for file in files {
        suite(&mut out, file);
    }
    out.push_str("</testsuites>");
    out
}

/// One file's `<testsuite>` element.
fn suite(out: &mut String, file: &FileResult) {
    // promtool adds a case named `unknown` to carry an error when no group ran.
    let unknown = file.aborted.is_some() && file.groups.is_empty();
    let tests = file.groups.len() + usize::from(unknown);
    let failures: usize = file.groups.iter().map(|g| g.errors.len()).sum();
    let errors = usize::from(file.aborted.is_some());
    let timestamp = file
        .started
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    out.push_str("<testsuite name=\"");
    escape_into(out, &file.name);
    out.push_str(&format!(
        "\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" timestamp=\"{timestamp}\">"
    ));
    let last = file.groups.len().checked_sub(1);
    for (i, group) in file.groups.iter().enumerate() {
        let error = file.aborted.as_deref().filter(|_| Some(i) == last);
        case(out, &group.name, &group.errors, error);
    }
    if unknown {
        case(out, "unknown", &[], file.aborted.as_deref());
    }
    out.push_str("</testsuite>");
}

/// One `<testcase>` element with its failures and error.
fn case(out: &mut String, name: &str, failures: &[String], error: Option<&str>) {
    out.push_str("<testcase name=\"");
    escape_into(out, name);
    out.push_str("\">");
    for failure in failures {
        element(out, "failure", failure);
    }
    if let Some(error) = error.filter(|e| !e.is_empty()) {
        element(out, "error", error);
    }
    out.push_str("</testcase>");
}

fn element(out: &mut String, tag: &str, text: &str) {
    out.push_str(&format!("<{tag}>"));
    escape_into(out, text);
    out.push_str(&format!("</{tag}>"));
}

/// Appends `text` escaped as Go's `encoding/xml` escapes attribute values
/// and character data.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match (c, go_markup_entity(c)) {
            (_, Some(entity)) => out.push_str(entity),
            ('\t', None) => out.push_str("&#x9;"),
            ('\n', None) => out.push_str("&#xA;"),
            ('\r', None) => out.push_str("&#xD;"),
            (c, None) if is_xml_char(c) => out.push(c),
            (_, None) => out.push('\u{FFFD}'),
        }
    }
}

/// Whether XML 1.0 can hold `c` (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::super::GroupResult;
    use super::*;

    fn group(name: &str, errors: &[&str]) -> GroupResult {
        GroupResult {
            name: name.into(),
            errors: errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn suites_count_cases_failures_and_errors_as_promtool() {
        use chrono::TimeZone;
        let started = chrono::Local
            .with_ymd_and_hms(2026, 11, 27, 1, 2, 3)
            .single()
            .expect("a valid local time");
        let files = vec![
            FileResult {
                name: "a_test.yml".into(),
                groups: vec![group("ok", &[]), group("unnamed#1", &["  one", "  two"])],
                started: Some(started),
                ..FileResult::default()
            },
            FileResult {
                name: "missing.yml".into(),
                aborted: Some("open missing.yml: no such file or directory".into()),
                ..FileResult::default()
            },
        ];
        assert_eq!(
            junit_xml(&files),
            "<testsuites>\
             <testsuite name=\"a_test.yml\" tests=\"2\" failures=\"2\" errors=\"0\" skipped=\"0\" timestamp=\"2026-11-27T01:02:03\">\
             <testcase name=\"ok\"></testcase>\
             <testcase name=\"unnamed#1\"><failure>  one</failure><failure>  two</failure></testcase>\
             </testsuite>\
             <testsuite name=\"missing.yml\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" timestamp=\"\">\
             <testcase name=\"unknown\"><error>open missing.yml: no such file or directory</error></testcase>\
             </testsuite>\
             </testsuites>"
        );
        assert_eq!(junit_xml(&[]), "<testsuites></testsuites>");
    }

    #[test]
    fn groups_are_named_and_filtered_as_promtool_does() {
        use super::super::{TestOptions, test_source};
        let text = "tests:
  - name: first
    promql_expr_test:
      - expr: vector(1)
        eval_time: 0m
        exp_samples:
          - labels: '{}'
            value: 1
  - promql_expr_test:
      - expr: vector(1)
        eval_time: 0m
        exp_samples:
          - labels: '{}'
            value: 2
  - name: skipped
";
        let path = std::path::Path::new("t.yml");
        let all = test_source(path, text, &TestOptions::default());
        let names: Vec<&str> = all.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["first", "unnamed#1", "skipped"]);
        assert!(all.groups[0].errors.is_empty() && all.groups[2].errors.is_empty());
        assert_eq!(all.groups[1].errors.len(), 1);
        assert_eq!(all.errors, all.groups[1].errors);
        assert!(all.started.is_some() && all.aborted.is_none());
        // `--run` keeps the file position in the name of an unnamed group.
        let mut only = TestOptions::default();
        only.set_run(&["^$".to_string()]).unwrap();
        let one = test_source(path, text, &only);
        let names: Vec<&str> = one.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["unnamed#1"]);
        // A file that does not parse stops before any group, with no start time.
        let bad = test_source(path, "tests: [", &TestOptions::default());
        assert!(bad.groups.is_empty() && bad.started.is_none());
        assert_eq!(bad.aborted.as_ref(), bad.errors.first());
    }

    #[test]
    fn text_is_escaped_as_go_escapes_it() {
        let mut out = String::new();
        escape_into(&mut out, "a\"b'c&d<e>f\tg\nh\ri\u{1}j\u{FFFE}k\u{1F600}");
        assert_eq!(
            out,
            "a&#34;b&#39;c&amp;d&lt;e&gt;f&#x9;g&#xA;h&#xD;i\u{FFFD}j\u{FFFD}k\u{1F600}"
        );
    }
}
