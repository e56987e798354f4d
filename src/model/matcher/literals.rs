//! Cheap checks in front of a matcher's regex, from the literals that every
//! match must contain (what Prometheus' `FastRegexMatcher` does): a pattern
//! that only lists alternatives (`a|b|c`) is answered by a look-up in a
//! sorted list, and any other is run only on values that have its required
//! prefix and suffix. The answers are always the regex's own.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use regex::Regex;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::{Anchored, Input};
use regex_syntax::hir::Hir;
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// An anchored matcher regex with the literal checks its pattern allows.
#[derive(Debug)]
pub(crate) struct FastRegex {
    regex: Regex,
    plan: Plan,
    /// The anchored pattern as a fully built DFA, when it is small (most
    /// matcher patterns are): a value then costs a few instructions per
    /// byte instead of the regex's set-up per search. Built once the regex
    /// has answered [`DFA_AFTER`] values, so that a matcher used on a few
    /// values does not pay for it.
    dfa: OnceLock<Option<dense::DFA<Vec<u32>>>>,
    /// Values the regex answered while there was no DFA.
    regex_runs: AtomicU32,
}

/// How many values the regex answers before the DFA is built (building
/// costs about half as much as compiling the regex).
const DFA_AFTER: u32 = 256;

/// Bytes a matcher's DFA may take, and may take while it is built; larger
/// patterns are left to the regex.
const DFA_SIZE_LIMIT: usize = 64 << 10;
const DFA_BUILD_LIMIT: usize = 128 << 10;

#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// The pattern matches exactly these values (sorted, unique).
    OneOf(Vec<Box<str>>),
    /// Every match starts with `prefix` and ends with `suffix` (either may
    /// be empty); the regex decides.
    Affixes { prefix: Vec<u8>, suffix: Vec<u8> },
}

/// What a regex tells a value index before any value is tested: the
/// exact list of values it matches, or the prefix and suffix every match
/// has (either may be empty), for a cheap first check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueSet<'a> {
    /// Exactly these values, sorted and unique.
    Exactly(&'a [Box<str>]),
    /// Only values with this prefix and suffix can match.
    Affixes {
        /// The bytes every match starts with.
        prefix: &'a [u8],
        /// The bytes every match ends with.
        suffix: &'a [u8],
    },
}

impl FastRegex {
    /// `regex` is `pattern` compiled as a matcher compiles it (anchored,
    /// `.` matching newlines).
    pub(crate) fn new(pattern: &str, regex: Regex) -> Self {
        let plan = parse(pattern).map_or(
            Plan::Affixes {
                prefix: Vec::new(),
                suffix: Vec::new(),
            },
            |hir| plan(&hir),
        );
        FastRegex {
            regex,
            plan,
            dfa: OnceLock::new(),
            regex_runs: AtomicU32::new(0),
        }
    }

    /// Whether the whole of `value` matches.
    pub(crate) fn is_match(&self, value: &str) -> bool {
        match &self.plan {
            Plan::OneOf(values) => values.binary_search_by(|v| (**v).cmp(value)).is_ok(),
            Plan::Affixes { prefix, suffix } => {
                has_affixes(value.as_bytes(), prefix, suffix) && self.whole_match(value)
            }
        }
    }

    /// The values the pattern matches, as far as its literals tell.
    pub(crate) fn value_set(&self) -> ValueSet<'_> {
        match &self.plan {
            Plan::OneOf(values) => ValueSet::Exactly(values),
            Plan::Affixes { prefix, suffix } => ValueSet::Affixes { prefix, suffix },
        }
    }

    /// The regex's answer, from the DFA when there is one (and it does not
    /// give up on the input). Not inlined: most values are answered by the
    /// literal checks, which stay small without it.
    #[inline(never)]
    fn whole_match(&self, value: &str) -> bool {
        let dfa = match self.dfa.get() {
            Some(Some(dfa)) => dfa,
            Some(None) => return self.regex.is_match(value),
            None => {
                if self.regex_runs.fetch_add(1, Ordering::Relaxed) == DFA_AFTER {
                    self.dfa.get_or_init(|| small_dfa(self.regex.as_str()));
                }
                return self.regex.is_match(value);
            }
        };
        walk(dfa, value).unwrap_or_else(|| self.regex.is_match(value))
    }
}

/// Whether the anchored `dfa` matches the whole of `value`, stepping it
/// byte by byte (a search call sets up more than these short values take
/// to walk); `None` where the DFA gives up (a quit byte).
fn walk(dfa: &dense::DFA<Vec<u32>>, value: &str) -> Option<bool> {
    let input = Input::new(value).anchored(Anchored::Yes);
    let mut state = dfa.start_state_forward(&input).ok()?;
    for &byte in value.as_bytes() {
        state = dfa.next_state(state, byte);
        if dfa.is_special_state(state) {
            if dfa.is_dead_state(state) {
                return Some(false);
            }
            if dfa.is_quit_state(state) {
                return None;
            }
        }
    }
    // Matches show one transition late: the end of input settles whether
    // one ends there. The pattern ends in `$`, so none ends before it.
    Some(dfa.is_match_state(dfa.next_eoi_state(state)))
}

/// Whether `bytes` starts with `prefix` and ends with `suffix`, compared
/// byte by byte: the literals are short, and this runs for every value of
/// a label (a `memcmp` call costs more than the comparison).
#[inline]
pub(crate) fn has_affixes(bytes: &[u8], prefix: &[u8], suffix: &[u8]) -> bool {
    let same = |a: &[u8], b: &[u8]| a.iter().zip(b).fold(true, |all, (x, y)| all & (x == y));
    if bytes.len() < prefix.len().max(suffix.len()) {
        return false;
    }
    // The last byte first: most values that fail, fail there. Likewise the
    // prefix's last byte, past the stem that values often share.
    if let (Some(want), Some(got)) = (suffix.last(), bytes.last())
        && want != got
    {
        return false;
    }
    if let Some(&want) = prefix.last()
        && bytes[prefix.len() - 1] != want
    {
        return false;
    }
    same(&bytes[bytes.len() - suffix.len()..], suffix) && same(&bytes[..prefix.len()], prefix)
}

/// `anchored` (the regex's own `^(?s:...)$` text) as a dense DFA for
/// anchored searches, if it fits the size limits.
fn small_dfa(anchored: &str) -> Option<dense::DFA<Vec<u32>>> {
    let config = dense::Config::new()
        .start_kind(regex_automata::dfa::StartKind::Anchored)
        .dfa_size_limit(Some(DFA_SIZE_LIMIT))
        .determinize_size_limit(Some(DFA_BUILD_LIMIT));
    dense::Builder::new().configure(config).build(anchored).ok()
}

/// The pattern as the matcher's regex reads it (`(?s)`).
fn parse(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .build()
        .parse(pattern)
        .ok()
}

fn plan(hir: &Hir) -> Plan {
    let prefixes = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    // Exact literals are whole matches, and a finite exact sequence lists
    // every match, except that the extractor reads look-around assertions
    // (`^`, `$`, `\b`) as empty strings, which inside an anchored pattern
    // they are not: only assertion-free patterns become lists.
    if hir.properties().look_set().is_empty()
        && prefixes.is_exact()
        && let Some(literals) = prefixes.literals()
    {
        // A literal that is not UTF-8 equals no label value.
        let mut values: Vec<Box<str>> = literals
            .iter()
            .filter_map(|l| std::str::from_utf8(l.as_bytes()).ok().map(Box::from))
            .collect();
        values.sort();
        values.dedup();
        return Plan::OneOf(values);
    }
    // Every match starts with one of the prefixes (and ends with one of
    // the suffixes), so with their common part; assertions match empty
    // strings and do not change that.
    let suffixes = Extractor::new().kind(ExtractKind::Suffix).extract(hir);
    Plan::Affixes {
        prefix: prefixes
            .longest_common_prefix()
            .unwrap_or_default()
            .to_vec(),
        suffix: suffixes
            .longest_common_suffix()
            .unwrap_or_default()
            .to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher::compile_anchored;

    fn fast(pattern: &str) -> FastRegex {
        FastRegex::new(pattern, compile_anchored(pattern).unwrap())
    }

    /// `fast(pattern)` with its DFA built at once (when the pattern allows).
    fn fast_with_dfa(pattern: &str) -> FastRegex {
        let fast = fast(pattern);
        fast.dfa.get_or_init(|| small_dfa(fast.regex.as_str()));
        fast
    }

    #[test]
    fn small_patterns_get_a_dfa_after_some_values() {
        let fast = fast("inst-[0-9]*7");
        // Values with the affixes, which the regex (then the DFA) answers.
        for i in 0..=DFA_AFTER {
            assert!(fast.is_match(&format!("inst-{i}7")));
            assert!(!fast.is_match(&format!("inst-{i}x7")));
        }
        assert!(matches!(fast.dfa.get(), Some(Some(_))));
        assert!(fast.is_match("inst-17") && !fast.is_match("inst-1x7"));
        // Unicode word boundaries have no DFA: the regex answers.
        let fast = fast_with_dfa(r"\bé");
        assert!(matches!(fast.dfa.get(), Some(None)));
        assert!(fast.is_match("é") && !fast.is_match("aé"));
        // Too large for the limits.
        assert!(matches!(
            fast_with_dfa("(a|b)*a(a|b){14}").dfa.get(),
            Some(None)
        ));
    }

    #[test]
    fn alternatives_become_a_list_and_others_get_affixes() {
        assert_eq!(
            fast("b|a|c|a").plan,
            Plan::OneOf(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            fast("inst-[0-9]*7").plan,
            Plan::Affixes {
                prefix: b"inst-".to_vec(),
                suffix: b"7".to_vec()
            }
        );
        // An assertion inside the pattern: `a$b` matches nothing.
        assert!(!matches!(fast("a$b").plan, Plan::OneOf(_)));
        assert!(!fast("a$b").is_match("ab"));
        assert!(fast("a|").is_match(""));
        assert!(fast("(?i)ab").is_match("aB"));
    }

    /// A small pattern language with the constructs whose literals matter:
    /// alternation, classes, repetition, groups, case folding, assertions
    /// and non-ASCII characters.
    fn pattern() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let atom = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("é".to_string()),
            Just("è".to_string()),
            Just(".".to_string()),
            Just("[ab]".to_string()),
            Just("[^a]".to_string()),
            Just("\\d".to_string()),
            Just("^".to_string()),
            Just("$".to_string()),
            Just("\\b".to_string()),
            Just("".to_string()),
        ];
        atom.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join("|")),
                inner.clone().prop_map(|p| format!("({p})*")),
                inner.clone().prop_map(|p| format!("(?:{p})+")),
                inner.clone().prop_map(|p| format!("({p})?")),
                inner.clone().prop_map(|p| format!("(?i:{p})")),
                inner.prop_map(|p| format!("({p}){{1,2}}")),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn answers_are_the_regex_answers(
            pattern in pattern(),
            values in proptest::collection::vec("[abAéèÉ1\n]{0,5}", 1..20),
        ) {
            let regex = compile_anchored(&pattern).unwrap();
            let fast = FastRegex::new(&pattern, regex.clone());
            let with_dfa = fast_with_dfa(&pattern);
            for v in values {
                proptest::prop_assert_eq!(fast.is_match(&v), regex.is_match(&v), "{:?} on {:?}", pattern, v);
                proptest::prop_assert_eq!(with_dfa.is_match(&v), regex.is_match(&v), "DFA: {:?} on {:?}", pattern, v);
            }
        }
    }
}
