//! Label matchers (`=`, `!=`, `=~`, `!~`) with compiled, fully anchored regexes.

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use super::labels::{Labels, is_valid_legacy_label_name, write_quoted};

mod literals;

use literals::FastRegex;
pub(crate) use literals::{ValueSet, has_affixes};

/// Upper bound on the compiled size of one matcher regex, so that a hostile
/// pattern cannot take unbounded memory.
pub const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// The four kinds of label matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MatchOp {
    /// `=`: the value equals.
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the value matches the regex (anchored at both ends).
    Regex,
    /// `!~`: the value does not match the regex.
    NotRegex,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled label matcher. A label that is absent matches as the empty string.
///
/// Equality and hashing use name, operator and value only.
#[derive(Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or regex source as written.
    pub value: String,
    regex: Option<Arc<FastRegex>>,
}

/// A regex in a matcher did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRegex {
    /// What the regex compiler said.
    pub message: String,
}

impl Matcher {
    /// Creates a matcher, compiling the regex for `=~` and `!~`.
    ///
    /// Regexes are anchored at both ends and `.` matches newlines, as in
    /// Prometheus 3.x.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, InvalidRegex> {
        let (name, value) = (name.into(), value.into());
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Arc::new(FastRegex::new(&value, compile_anchored(&value)?)))
            }
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            regex,
        })
    }

    /// An `=` matcher (never fails).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            regex: None,
        }
    }

    /// Whether `value` (the empty string for an absent label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Whether the matcher accepts the label set (absent label = empty value).
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether the matcher accepts the empty string, i.e. also series without the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For a `=~` matcher whose pattern only lists its values (`a|b|c`,
    /// also `(?i)up` and `x(1|2)`), those values, sorted; `None` for any
    /// other matcher. A [`Storage`](crate::storage::Storage) can look them
    /// up in its index instead of testing every value of the label, as
    /// `MemoryStorage` does. The list may hold the empty string, which
    /// also selects series without the label.
    ///
    /// ```
    /// use promql_engine::model::{MatchOp, Matcher};
    ///
    /// let m = Matcher::new(MatchOp::Regex, "instance", "web-2|api-1|api-(3|4)").unwrap();
    /// assert_eq!(m.set_matches(), Some(vec!["api-1", "api-3", "api-4", "web-2"]));
    /// assert_eq!(Matcher::new(MatchOp::Regex, "instance", "api-.*").unwrap().set_matches(), None);
    /// ```
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match self.regex_values()? {
            ValueSet::Exactly(listed) => Some(listed.iter().map(|v| &**v).collect()),
            ValueSet::Affixes { .. } => None,
        }
    }

    /// For a `=~` matcher, what its pattern's literals say of the values
    /// it matches (an index looks up an exact list instead of testing
    /// every value, and tests the cheap affixes before the regex).
    pub(crate) fn regex_values(&self) -> Option<ValueSet<'_>> {
        match self.op {
            MatchOp::Regex => self.regex.as_deref().map(FastRegex::value_set),
            _ => None,
        }
    }
}

/// Compiles `pattern` as Prometheus does: `^(?s:pattern)$`.
pub fn compile_anchored(pattern: &str) -> Result<Regex, InvalidRegex> {
    regex::RegexBuilder::new(&format!("^(?s:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| InvalidRegex {
            message: regex_error_message(&e),
        })
}

fn regex_error_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            // The regex crate's message spans several lines with a caret; keep the last line.
            s.lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or(s)
                .trim()
                .to_string()
        }
        regex::Error::CompiledTooBig(limit) => {
            format!("regex too large (compiled size exceeds {limit} bytes)")
        }
        other => other.to_string(),
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl std::hash::Hash for Matcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.op.hash(state);
        self.value.hash(state);
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints `name="value"`, quoting the name when it is not a legacy identifier.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_valid_legacy_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Matcher", 3)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("op", &self.op)?;
        st.serialize_field("value", &self.value)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = Matcher::new(MatchOp::Regex, "a", "fo.").unwrap();
        assert!(m.matches("foo"));
        assert!(m.matches("fo\n"));
        assert!(!m.matches("xfoo"));
        assert!(!m.matches("fooo"));
        let m = Matcher::new(MatchOp::Regex, "a", "a|b").unwrap();
        assert!(m.matches("a") && m.matches("b") && !m.matches("ab"));
    }

    #[test]
    fn absent_label_is_empty_string() {
        let l = Labels::from_pairs(&[("x", "1")]);
        assert!(Matcher::equal("y", "").matches_labels(&l));
        assert!(
            Matcher::new(MatchOp::NotRegex, "y", ".+")
                .unwrap()
                .matches_labels(&l)
        );
    }

    #[test]
    fn set_matches_are_the_listed_values_and_match() {
        let re = |p: &str| Matcher::new(MatchOp::Regex, "a", p).unwrap();
        let cases: [(&str, Option<&[&str]>); 7] = [
            ("b|a|c", Some(&["a", "b", "c"])),
            ("x(1|2)", Some(&["x1", "x2"])),
            ("(?i)up", Some(&["UP", "Up", "uP", "up"])),
            ("a|", Some(&["", "a"])),
            ("a.*", None),
            ("^a$", None),
            ("[ab]+", None),
        ];
        for (pattern, want) in cases {
            let m = re(pattern);
            let got = m.set_matches();
            assert_eq!(got.as_deref(), want, "{pattern}");
            for v in got.unwrap_or_default() {
                assert!(m.matches(v), "{pattern} should match {v:?}");
            }
        }
        for op in [MatchOp::Equal, MatchOp::NotEqual, MatchOp::NotRegex] {
            assert_eq!(Matcher::new(op, "a", "b|c").unwrap().set_matches(), None);
        }
    }

    #[test]
    fn invalid_regex_is_an_error() {
        assert!(Matcher::new(MatchOp::Regex, "a", "(").is_err());
    }
}
