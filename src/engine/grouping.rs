//! Grouping label sets by the labels a key keeps: an aggregation's `by` or
//! `without` labels, a vector match's `on` or `ignoring` signature, a
//! histogram's labels other than `le`.
//!
//! Each set's kept labels are first recorded as the addresses of their
//! strings ([`KeptRuns::record`]), then the runs are resolved into groups
//! ([`KeptRuns::groups`]). The series of a store share their strings, so most
//! runs are found by address, without hashing or comparing text. Recording
//! is cheap where the set is already in the cache: a range function records
//! each result series' key as it makes the series, so that the aggregation
//! or match over its result need not read every label set again.

use std::sync::Arc;

use smallvec::SmallVec;

use super::types::{ESeries, FastMap, in_key, is_metadata_name, touching_blocks};
use crate::model::{Label, Labels};

/// The labels of a grouping key named in a query: `names` (`by`, `on`), or
/// with `without` (`without`, `ignoring`) all labels but `names` and the
/// metric name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyLabels<'q> {
    /// The label names the query lists.
    pub names: &'q [String],
    /// Whether the key is every label but `names` (and the metric name).
    pub without: bool,
    /// Label names whose presence in any recorded set is noted (a
    /// `group_left`/`group_right` list), with metadata labels
    /// ([`KeptRuns::noted`]); usually none.
    pub noted: &'q [String],
}

impl KeyLabels<'_> {
    /// Whether `label` is part of the key.
    pub fn keeps(&self, label: &Label) -> bool {
        in_key(label, self.names, self.without)
    }
}

/// The kept labels of label sets taken one after another, as the addresses
/// of their names and values.
#[derive(Debug, Default)]
pub(crate) struct KeptRuns {
    /// Every set's kept labels, one run after another: the address of each
    /// label's name, then of its value.
    addrs: Vec<usize>,
    /// Where each set's run ends in `addrs`.
    ends: Vec<usize>,
    /// Whether a set passed to [`Self::note`] held a label it names or a
    /// metadata label.
    noted: bool,
}

impl KeptRuns {
    /// Runs for about `sets` label sets.
    pub fn with_capacity(sets: usize) -> Self {
        KeptRuns {
            addrs: Vec::new(),
            ends: Vec::with_capacity(sets),
            noted: false,
        }
    }

    /// Room for `sets` more label sets.
    pub fn reserve(&mut self, sets: usize) {
        self.ends.reserve(sets);
    }

    /// Records the labels `keep` selects from each of `items`' label sets
    /// (`labels` gives them), in blocks looked over first, as most of a
    /// large result's sets have left the caches by the time it is grouped.
    pub fn of<T>(
        items: &[T],
        labels: impl Fn(&T) -> &Labels,
        keep: impl Fn(&Label) -> bool,
    ) -> Self {
        let mut runs = KeptRuns::with_capacity(items.len());
        for item in touching_blocks(items, &labels) {
            runs.record(labels(item), &keep);
        }
        runs
    }

    /// The keys of `series`: `recorded` where they were recorded as the
    /// series were made, else recorded now.
    pub fn recorded_or_of(recorded: Option<Self>, series: &[ESeries], key: KeyLabels<'_>) -> Self {
        recorded.unwrap_or_else(|| Self::of(series, |s| &s.labels, |l| key.keeps(l)))
    }

    /// Records the labels `keep` selects from the next set.
    pub fn record(&mut self, set: &Labels, keep: impl Fn(&Label) -> bool) {
        for l in set.iter().filter(|l| keep(l)) {
            self.addrs.extend([str_addr(&l.name), str_addr(&l.value)]);
        }
        if self.ends.is_empty() {
            // Sized by the first set, as most sets keep as many labels.
            self.addrs.reserve(self.addrs.len() * self.ends.capacity());
        }
        self.ends.push(self.addrs.len());
    }

    /// Notes whether `set` holds a label named in `names` or a metadata
    /// label; nothing to do (the set is not read) when `names` is empty.
    pub fn note(&mut self, set: &Labels, names: &[String]) {
        if !names.is_empty() && !self.noted {
            self.noted = set
                .iter()
                .any(|l| is_metadata_name(&l.name) || in_key(l, names, false));
        }
    }

    /// Whether some set passed to [`Self::note`] held a label it names or a
    /// metadata label.
    pub fn noted(&self) -> bool {
        self.noted
    }

    /// Appends the runs `later` recorded for the sets that follow this one's
    /// (the shares of parallel workers, joined in order).
    pub fn append(&mut self, later: KeptRuns) {
        let base = self.addrs.len();
        self.noted |= later.noted;
        self.addrs.extend(later.addrs);
        self.ends
            .extend(later.ends.into_iter().map(|end| end + base));
    }

    /// How many sets were recorded.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The group of every recorded set, numbered in order of first
    /// appearance, and the position of the first set of each group.
    ///
    /// `set(i)` is the `i`-th recorded set, unchanged since, and `keep` the
    /// selection it was recorded with. Equal addresses are then equal
    /// strings: the sets hold the strings the addresses were taken from, so
    /// none has been freed and its address reused. Runs whose addresses are
    /// new are compared by content (equal strings may lie at different
    /// addresses).
    pub fn groups<'a>(
        &self,
        set: impl Fn(usize) -> &'a Labels,
        keep: impl Fn(&Label) -> bool,
    ) -> (Vec<usize>, Vec<usize>) {
        #[cfg(debug_assertions)]
        for i in 0..self.len() {
            let mut again = KeptRuns::default();
            again.record(set(i), &keep);
            debug_assert_eq!(again.addrs, self.run(i), "set {i} changed since recorded");
        }
        let mut by_addr: FastMap<&[usize], usize> = FastMap::default();
        // A run of one label (`by (job)`, `on (instance)`) is keyed by its
        // two addresses as a pair, compared inline rather than as a slice.
        let mut by_pair: FastMap<(usize, usize), usize> = FastMap::default();
        let mut ids: FastMap<SmallVec<[&Label; 4]>, usize> = FastMap::default();
        let mut firsts = Vec::new();
        let groups = (0..self.len())
            .map(|i| {
                let run_addrs = self.run(i);
                let pair = match *run_addrs {
                    [name, value] => Some((name, value)),
                    _ => None,
                };
                let known = match pair {
                    Some(pair) => by_pair.get(&pair),
                    None => by_addr.get(run_addrs),
                };
                if let Some(&id) = known {
                    return id;
                }
                let run: SmallVec<[&Label; 4]> = set(i).iter().filter(|l| keep(l)).collect();
                let n = ids.len();
                let id = *ids.entry(run).or_insert_with(|| {
                    firsts.push(i);
                    n
                });
                match pair {
                    Some(pair) => by_pair.insert(pair, id),
                    None => by_addr.insert(run_addrs, id),
                };
                id
            })
            .collect();
        (groups, firsts)
    }

    /// The addresses of the `i`-th set's kept labels.
    fn run(&self, i: usize) -> &[usize] {
        let start = i.checked_sub(1).map_or(0, |prev| self.ends[prev]);
        &self.addrs[start..self.ends[i]]
    }
}

/// Groups label sets by the labels `keep` selects from each: the group of
/// every set, numbered in order of first appearance, and the position of
/// the first set of each group (see [`KeptRuns::of`] and
/// [`KeptRuns::groups`]).
pub(crate) fn group_by_kept_labels<'a>(
    sets: impl Iterator<Item = &'a Labels>,
    keep: impl Fn(&Label) -> bool,
) -> (Vec<usize>, Vec<usize>) {
    let sets: Vec<&Labels> = sets.collect();
    KeptRuns::of(&sets, |&set| set, &keep).groups(|i| sets[i], keep)
}

/// The address of a shared string, to recognise it without reading it.
fn str_addr(s: &Arc<str>) -> usize {
    Arc::as_ptr(s).cast::<u8>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_are_grouped_by_their_kept_labels_in_first_seen_order() {
        let set = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs);
        let sets = [
            set(&[("__name__", "a"), ("i", "1"), ("job", "x")]),
            set(&[("__name__", "b"), ("i", "2"), ("job", "y")]),
            set(&[("__name__", "a"), ("i", "3"), ("job", "x")]),
            set(&[("__name__", "a"), ("i", "4")]),
            set(&[("i", "5")]),
        ];
        let by_job = group_by_kept_labels(sets.iter(), |l| &*l.name == "job");
        // The last two lack `job`: one group, the empty key.
        assert_eq!(by_job, (vec![0, 1, 0, 2, 2], vec![0, 1, 3]));
        let by_name_and_job =
            group_by_kept_labels(sets.iter(), |l| matches!(&*l.name, "__name__" | "job"));
        assert_eq!(by_name_and_job, (vec![0, 1, 0, 2, 3], vec![0, 1, 3, 4]));
        assert_eq!(group_by_kept_labels(sets.iter(), |_| true).1.len(), 5);
        assert_eq!(group_by_kept_labels([].iter(), |_| true), (vec![], vec![]));
    }

    #[test]
    fn noting_tells_whether_a_set_held_a_named_or_metadata_label() {
        let set = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs);
        let team = ["team".to_string()];
        let noted = |sets: &[Labels], names: &[String]| {
            let mut runs = KeptRuns::default();
            sets.iter().for_each(|s| runs.note(s, names));
            runs.noted()
        };
        let plain = [set(&[("i", "1"), ("job", "x")]), set(&[("i", "2")])];
        assert!(!noted(&plain, &team));
        assert!(noted(&[plain[0].clone(), set(&[("team", "a")])], &team));
        assert!(noted(&[set(&[("__name__", "up")])], &team));
        assert!(noted(&[set(&[("__type__", "counter")])], &team));
        // Nothing named: nothing is looked at or noted.
        assert!(!noted(&[set(&[("__name__", "up")])], &[]));
        // Appended runs carry what they noted.
        let mut first = KeptRuns::default();
        first.note(&plain[0], &team);
        let mut later = KeptRuns::default();
        later.note(&set(&[("team", "a")]), &team);
        first.append(later);
        assert!(first.noted());
    }

    proptest::proptest! {
        /// Grouping finds runs by string address first: sets that share
        /// strings, copy them or mix both group exactly as by content.
        #[test]
        fn grouping_by_kept_labels_follows_content_not_addresses(
            picks in proptest::collection::vec(
                proptest::collection::vec((0usize..3, 0usize..3, proptest::bool::ANY), 0..4),
                0..12,
            ),
            kept_names in proptest::collection::vec(0usize..3, 0..3),
            cut in 0usize..13,
        ) {
            let names: Vec<Arc<str>> = ["a", "b", "c"].map(Arc::from).to_vec();
            let values: Vec<Arc<str>> = ["x", "y", "z"].map(Arc::from).to_vec();
            let sets: Vec<Labels> = picks
                .iter()
                .map(|set| {
                    let labels = set.iter().map(|&(n, v, shared)| {
                        if shared {
                            Label::new(names[n].clone(), values[v].clone())
                        } else {
                            Label::new(String::from(&*names[n]), String::from(&*values[v]))
                        }
                    });
                    Labels::new(labels.collect())
                })
                .collect();
            let keep = |l: &Label| kept_names.iter().any(|&n| *names[n] == *l.name);
            let (groups, firsts) = group_by_kept_labels(sets.iter(), keep);
            // By content: the kept labels as text, numbered in first-seen order.
            let mut seen: Vec<Vec<(String, String)>> = Vec::new();
            let mut want_firsts = Vec::new();
            let want: Vec<usize> = sets
                .iter()
                .enumerate()
                .map(|(i, set)| {
                    let key: Vec<(String, String)> = set
                        .iter()
                        .filter(|l| keep(l))
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect();
                    seen.iter().position(|k| *k == key).unwrap_or_else(|| {
                        seen.push(key);
                        want_firsts.push(i);
                        seen.len() - 1
                    })
                })
                .collect();
            proptest::prop_assert_eq!(&groups, &want);
            proptest::prop_assert_eq!(&firsts, &want_firsts);
            // Recorded in two parts (as by two workers, or as made and
            // then by a pass over the sets), the runs group alike.
            let cut = cut.min(sets.len());
            let mut runs = KeptRuns::default();
            sets[..cut].iter().for_each(|set| runs.record(set, keep));
            runs.append(KeptRuns::of(&sets[cut..], |set| set, keep));
            proptest::prop_assert_eq!(runs.len(), sets.len());
            proptest::prop_assert_eq!(runs.groups(|i| &sets[i], keep), (want, want_firsts));
        }
    }
}
