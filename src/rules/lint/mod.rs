//! Lints for rule files: promtool's duplicate-rule lint ([`duplicates`]) and
//! opt-in checks beyond promtool ([`checks`]), inspired by the kinds of
//! problems cloudflare/pint reports.
//!
//! Every check has a stable id ([`LintCheck::id`]) and a one-line doc
//! ([`LintCheck::doc`]). `promql check rules --lint=all` enables all of them;
//! `--lint=rate-non-counter,plain-regex` selects some by id. The default is
//! promtool's: `duplicate-rules` only.
//!
//! Findings are warnings: `check rules` exits 0 unless `--lint-fatal` (3).

pub mod checks;
pub mod duplicates;
mod selfmatch;

use std::fmt;

pub use checks::lint_file;
pub use duplicates::{DuplicateRule, find_duplicate_rules, format_duplicates};

use crate::rules::yaml::Pos;

/// One opt-in lint check (beyond promtool's `duplicate-rules`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LintCheck {
    /// `rate`/`increase`/`irate` over a name without a counter suffix.
    RateNonCounter,
    /// `histogram_quantile` over classic buckets aggregated without `le`.
    HistogramQuantileLe,
    /// An alerting rule without `for`.
    AlertFor,
    /// An alerting rule with neither a `summary` nor a `description` annotation.
    AlertAnnotations,
    /// An alerting rule whose expression compares nothing.
    AlertComparison,
    /// A comparison of a raw counter value.
    RawCounterComparison,
    /// A regex matcher whose value is a plain string.
    PlainRegex,
    /// A recording-rule name not of the form `level:metric:operations`.
    RecordName,
    /// A division (or subtraction) of a series by itself.
    SelfDivision,
}

impl LintCheck {
    /// Every check, in the order findings are reported for one rule.
    pub const ALL: [LintCheck; 9] = [
        LintCheck::RateNonCounter,
        LintCheck::HistogramQuantileLe,
        LintCheck::RawCounterComparison,
        LintCheck::PlainRegex,
        LintCheck::SelfDivision,
        LintCheck::AlertComparison,
        LintCheck::AlertFor,
        LintCheck::AlertAnnotations,
        LintCheck::RecordName,
    ];

    /// The stable id, as accepted by `--lint`.
    pub fn id(self) -> &'static str {
        match self {
            LintCheck::RateNonCounter => "rate-non-counter",
            LintCheck::HistogramQuantileLe => "histogram-quantile-le",
            LintCheck::AlertFor => "alert-for",
            LintCheck::AlertAnnotations => "alert-annotations",
            LintCheck::AlertComparison => "alert-comparison",
            LintCheck::RawCounterComparison => "raw-counter-comparison",
            LintCheck::PlainRegex => "plain-regex",
            LintCheck::RecordName => "record-name",
            LintCheck::SelfDivision => "self-division",
        }
    }

    /// A one-line description of what the check reports.
    pub fn doc(self) -> &'static str {
        match self {
            LintCheck::RateNonCounter => {
                "rate/increase/irate over a metric whose name has no counter suffix (_total, _count, _sum, _bucket)"
            }
            LintCheck::HistogramQuantileLe => {
                "histogram_quantile over classic _bucket series whose inner aggregation drops the le label"
            }
            LintCheck::AlertFor => "alerting rule without `for`: it fires on a single evaluation",
            LintCheck::AlertAnnotations => {
                "alerting rule with neither a `summary` nor a `description` annotation"
            }
            LintCheck::AlertComparison => {
                "alerting rule whose expression has no comparison (or absent()): it fires for every series"
            }
            LintCheck::RawCounterComparison => {
                "comparison of a raw counter (_total, _count, _sum, _bucket) instead of its rate or increase"
            }
            LintCheck::PlainRegex => {
                "regex matcher whose value has no regex metacharacters: use = or != instead"
            }
            LintCheck::RecordName => "recording-rule name not of the form level:metric:operations",
            LintCheck::SelfDivision => {
                "one-to-one division (or subtraction) of a series by itself: always 1 (or 0)"
            }
        }
    }

    /// The check with id `id`.
    pub fn from_id(id: &str) -> Option<LintCheck> {
        LintCheck::ALL.into_iter().find(|check| check.id() == id)
    }
}

impl fmt::Display for LintCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One problem found by an opt-in check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintFinding {
    /// The check that found it.
    pub check: LintCheck,
    /// Where: the rule's `expr` for expression checks, its `alert`/`record`
    /// name for the others.
    pub pos: Pos,
    /// The group's name.
    pub group: String,
    /// The rule's 1-based index in its group.
    pub index: usize,
    /// The rule's name.
    pub rule_name: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: group {:?}, rule {}, {:?}: lint {}: {}",
            self.pos, self.group, self.index, self.rule_name, self.check, self.message
        )
    }
}

/// Which lints run: promtool's duplicate-rule lint and a set of opt-in checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintSelection {
    /// `duplicate-rules` (on by default, as in promtool).
    pub duplicate_rules: bool,
    /// Opt-in checks, sorted and without repeats.
    pub checks: Vec<LintCheck>,
}

impl Default for LintSelection {
    fn default() -> Self {
        LintSelection {
            duplicate_rules: true,
            checks: Vec::new(),
        }
    }
}

impl LintSelection {
    /// Parses a `--lint` value: comma-separated `all`, `none`,
    /// `duplicate-rules` or check ids. Returns the selection and promtool's
    /// warning for each unknown name (`WARNING: unknown lint option: "x"`).
    pub fn parse(value: &str) -> (LintSelection, Vec<String>) {
        let mut selection = LintSelection {
            duplicate_rules: false,
            checks: Vec::new(),
        };
        let mut warnings = Vec::new();
        for setting in value.split(',') {
            match setting {
                "all" => {
                    selection.duplicate_rules = true;
                    selection.checks.extend(LintCheck::ALL);
                }
                "duplicate-rules" => selection.duplicate_rules = true,
                "none" => {}
                other => match LintCheck::from_id(other) {
                    Some(check) => selection.checks.push(check),
                    None => warnings.push(format!("WARNING: unknown lint option: {other:?}")),
                },
            }
        }
        selection.checks.sort();
        selection.checks.dedup();
        (selection, warnings)
    }

    /// Whether `check` is selected.
    pub fn has(&self, check: LintCheck) -> bool {
        self.checks.contains(&check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for check in LintCheck::ALL {
            assert_eq!(LintCheck::from_id(check.id()), Some(check));
            assert!(!check.doc().is_empty());
        }
        let mut ids: Vec<_> = LintCheck::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), LintCheck::ALL.len());
    }

    #[test]
    fn parses_selections() {
        let (all, warnings) = LintSelection::parse("all");
        assert!(warnings.is_empty());
        assert!(all.duplicate_rules);
        assert_eq!(all.checks.len(), LintCheck::ALL.len());
        let (some, warnings) = LintSelection::parse("plain-regex,bogus,plain-regex");
        assert_eq!(warnings, vec!["WARNING: unknown lint option: \"bogus\""]);
        assert!(!some.duplicate_rules);
        assert_eq!(some.checks, vec![LintCheck::PlainRegex]);
        let (none, _) = LintSelection::parse("none");
        assert_eq!(
            none,
            LintSelection {
                duplicate_rules: false,
                checks: vec![]
            }
        );
    }
}
