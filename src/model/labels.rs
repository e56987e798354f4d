//! Label sets: sorted, immutable, cheap to clone and hash.

use std::fmt;
use std::sync::Arc;

/// The label name that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: a name and a value. Names may be any UTF-8 string (Prometheus 3.x).
#[derive(Clone, Debug, Eq)]
pub struct Label {
    /// The label name.
    pub name: Arc<str>,
    /// The label value.
    pub value: Arc<str>,
}

/// Compares names and values; a string shared by both labels (a store
/// interns them) is equal without reading it.
impl PartialEq for Label {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
        same(&self.name, &other.name) && same(&self.value, &other.value)
    }
}

/// Orders by name, then value, as strings; as with equality, a string
/// shared by both labels compares equal without being read.
impl Ord for Label {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let by = |a: &Arc<str>, b: &Arc<str>| {
            if Arc::ptr_eq(a, b) {
                std::cmp::Ordering::Equal
            } else {
                a.cmp(b)
            }
        };
        by(&self.name, &other.name).then_with(|| by(&self.value, &other.value))
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Hashes the name, then the value (consistent with `eq`: equal labels
/// hold equal strings).
impl std::hash::Hash for Label {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.value.hash(state);
    }
}

impl Label {
    /// Creates a label.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Label sets up to this size are searched by a scan, larger ones by bisection.
const LINEAR_LOOKUP_MAX: usize = 12;

/// A set of labels sorted by name, with unique names and no empty values.
///
/// Cloning is an atomic reference-count increment. Equality, ordering and
/// hashing follow the sorted `(name, value)` pairs, as in Prometheus.
///
/// A set is a run of labels in a shared allocation: dropping a leading
/// metric name (what most functions and operators do to every series they
/// return) allocates nothing, and [`MemoryStorage`](crate::storage::MemoryStorage)
/// lays the sets of the series a load added out in shared allocations of
/// about 128 labels at `commit`.
#[derive(Clone, Default)]
pub struct Labels {
    /// The shared labels; this set is `shared[start..end]`.
    shared: Arc<[Label]>,
    start: u32,
    end: u32,
}

/// How many label sets (or series) are looked over together before they
/// are worked through (see [`Labels::touch`]): enough reads to keep the
/// processor's outstanding cache misses busy, few enough that the block is
/// still in the first-level cache when it is worked through.
pub(crate) const TOUCH_BLOCK: usize = 16;

/// About how many labels [`SetsInBlocks`] (and so [`Labels::pack`]) lays out
/// in one allocation: 4 KiB of label records, so that a block's sets span
/// two pages at most while one reference count serves dozens of typical
/// series.
const BLOCK_LABELS: usize = 128;

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Labels {
    /// Labels already sorted by name, with unique names and no empty values.
    fn from_sorted(shared: Arc<[Label]>) -> Self {
        // No set holds `u32::MAX` labels: it would not fit in memory.
        let end = u32::try_from(shared.len()).unwrap_or(u32::MAX);
        Labels {
            shared,
            start: 0,
            end,
        }
    }

    /// Lays `sets` out one after another in shared allocations of about
    /// [`BLOCK_LABELS`] labels each (a set longer than that gets one of its
    /// own), each set becoming a view of its block with the same labels.
    ///
    /// A store does this to the series it holds: their sets then lie
    /// together in memory in the order given, however the allocations made
    /// while loading were scattered, and copying or releasing a set changes
    /// a reference count that the block's other sets share, likely in the
    /// cache already. A block is freed when the last view of it is.
    /// Each label is copied into its block by `copy` (`Label::clone`, or a
    /// copy that moves the strings too).
    pub(crate) fn pack<'a>(
        sets: impl IntoIterator<Item = &'a mut Labels>,
        mut copy: impl FnMut(&Label) -> Label,
    ) {
        let sets: Vec<&mut Labels> = sets.into_iter().collect();
        // Every label is copied first, then the blocks are made one after
        // another: where `copy` allocates strings, the strings lie together
        // and so do the blocks, rather than each block among strings.
        let copies: Vec<Label> = sets
            .iter()
            .flat_map(|set| set.iter())
            .map(&mut copy)
            .collect();
        let mut copies = copies.into_iter();
        let mut blocks = SetsInBlocks::with_capacity(sets.len());
        for set in &sets {
            blocks.push(copies.by_ref().take(set.len()));
        }
        for (set, packed) in sets.into_iter().zip(blocks.finish()) {
            *set = packed;
        }
    }

    /// The address and length (in labels) of the allocation this set is a
    /// view of, shared with other sets when the set was packed or had
    /// leading labels dropped: what a memory account counts once.
    pub(crate) fn allocation(&self) -> (usize, usize) {
        (self.shared.as_ptr() as usize, self.shared.len())
    }

    /// The empty label set.
    pub fn empty() -> Self {
        Labels::default()
    }

    /// Builds a label set from labels in any order. Labels with an empty value
    /// are dropped (an empty value means "absent"); for duplicate names the
    /// last one wins.
    pub fn new(mut labels: Vec<Label>) -> Self {
        labels.retain(|l| !l.value.is_empty());
        // Stable sort keeps the input order among equal names, so dedup can keep the last.
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(labels.len());
        for l in labels {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        Labels::from_sorted(out.into())
    }

    /// Builds a label set from `(name, value)` pairs.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        Labels::new(
            pairs
                .iter()
                .map(|(n, v)| Label::new(n.as_ref(), v.as_ref()))
                .collect(),
        )
    }

    /// The label called `name`, if present (its strings can be shared
    /// into another label set without copying).
    pub fn label(&self, name: &str) -> Option<&Label> {
        // Typical sets are small: a scan comparing lengths first beats a
        // bisection comparing whole strings.
        let labels = self.as_slice();
        if labels.len() <= LINEAR_LOOKUP_MAX {
            return labels.iter().find(|l| *l.name == *name);
        }
        labels
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &labels[i])
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.label(name).map(|l| &*l.value)
    }

    /// Whether label `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        // Compares eight bytes at a time rather than calling a string
        // comparison.
        self.up_to_underscore()
            .find(|l| l.name.as_bytes() == METRIC_NAME.as_bytes())
            .map(|l| &*l.value)
    }

    /// The leading labels whose names start with `_` or a byte before it
    /// (upper case, digits). Names are sorted by bytes, so every name
    /// starting with `__` (the metric name, `__type__`, `__unit__`) is
    /// among them, and most sets have one or two.
    pub(crate) fn up_to_underscore(&self) -> impl Iterator<Item = &Label> {
        self.iter()
            .take_while(|l| l.name.as_bytes().first() <= Some(&b'_'))
    }

    /// The labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.as_slice().iter()
    }

    /// The labels as a slice, in name order.
    #[inline]
    pub fn as_slice(&self) -> &[Label] {
        // `start..end` lies within the shared labels (see `from_sorted`,
        // `pack` and `drop_first`).
        self.shared
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// The labels without the first `n` (in name order), sharing this
    /// set's allocation.
    pub(crate) fn without_first(&self, n: usize) -> Labels {
        let mut rest = self.clone();
        rest.drop_first(n);
        rest
    }

    /// Drops the first `n` labels (in name order) from this set in place:
    /// the set keeps its allocation, and no reference count changes.
    pub(crate) fn drop_first(&mut self, n: usize) {
        // `n` is capped at the length, which fits in `u32` as `end` does.
        self.start += n.min(self.len()) as u32;
    }

    /// Reads where the set's first and last labels lie (not their text),
    /// returning a value to pass to `std::hint::black_box`: looking over a
    /// batch of sets this way before working through them lets the
    /// processor fetch the batch's memory together, where working through
    /// one set after another would wait for each set's memory in turn.
    pub(crate) fn touch(&self) -> usize {
        let labels = self.as_slice();
        labels.first().map_or(0, |l| l.name.len()) ^ labels.last().map_or(0, |l| l.value.len())
    }

    /// Reads the shared allocation's reference count (where a copy of the
    /// set will increment it), returning a value to pass to
    /// `std::hint::black_box`: [`Self::touch`] for a batch of sets about to
    /// be copied.
    pub(crate) fn touch_count(&self) -> usize {
        Arc::strong_count(&self.shared)
    }

    /// [`Self::touch`] for a set whose label strings are about to be
    /// shared with a new set: reads each string's reference count (where
    /// the copy will increment it) as well.
    pub(crate) fn touch_strings(&self) -> usize {
        self.iter().fold(0, |acc, l| {
            acc ^ Arc::strong_count(&l.name) ^ Arc::strong_count(&l.value)
        })
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// A builder that starts from these labels.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder {
            labels: self.as_slice().to_vec(),
        }
    }

    /// These labels without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        match self.iter().position(|l| &*l.name == METRIC_NAME) {
            Some(i) => self.without_index(i),
            None => self.clone(),
        }
    }

    /// The label set as Prometheus' `labels.Labels.String()` prints it in
    /// messages: every label inside braces, `__name__` included
    /// (`{__name__="up", job="a"}`).
    pub fn to_prometheus_string(&self) -> String {
        let mut out = String::from("{");
        for (i, l) in self.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if is_valid_legacy_label_name(&l.name) {
                out.push_str(&l.name);
            } else {
                let _ = write_quoted(&mut out, &l.name);
            }
            out.push('=');
            let _ = write_quoted(&mut out, &l.value);
        }
        out.push('}');
        out
    }

    /// Only the labels whose names are in `names` (order of `names` irrelevant).
    pub fn keep_only<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filter(|l| names.iter().any(|n| n.as_ref() == &*l.name))
    }

    /// All labels except those whose names are in `names`.
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Labels {
        self.filter(|l| !names.iter().any(|n| n.as_ref() == &*l.name))
    }

    /// The labels without the one at position `index` (in name order):
    /// for the first, a view of these labels; else a copy built with a
    /// single allocation.
    pub(crate) fn without_index(&self, index: usize) -> Labels {
        if index == 0 {
            return self.without_first(1);
        }
        let (head, tail) = self.as_slice().split_at(index.min(self.len()));
        let tail = tail.get(1..).unwrap_or_default();
        // A chain of slices has an exact length, so the `Arc` is allocated
        // at its size and filled in place.
        Labels::from_sorted(head.iter().chain(tail).cloned().collect())
    }

    /// The labels for which `keep` returns true.
    pub fn filter(&self, mut keep: impl FnMut(&Label) -> bool) -> Labels {
        if self.len() <= 64 {
            // Decide once per label, then allocate the result at its size.
            let mut mask = 0u64;
            for (i, l) in self.iter().enumerate() {
                if keep(l) {
                    mask |= 1 << i;
                }
            }
            let len = mask.count_ones() as usize;
            if len == self.len() {
                return self.clone();
            }
            let kept = self.iter().enumerate();
            let kept = kept.filter(|&(i, _)| mask & (1 << i) != 0).map(|(_, l)| l);
            return Labels::from_sorted(collect_exact(len, kept));
        }
        let kept: Vec<Label> = self
            .as_slice()
            .iter()
            .filter(|l| keep(l))
            .cloned()
            .collect();
        if kept.len() == self.len() {
            return self.clone();
        }
        Labels::from_sorted(kept.into())
    }
}

impl Labels {
    /// These labels with those named in `names` taken from `other`: added
    /// or replaced where `other` has them, removed where it does not (what
    /// `group_left(names)` does to the result). One allocation.
    pub(crate) fn with_copied_from<S: AsRef<str>>(&self, other: &Labels, names: &[S]) -> Labels {
        if let [name] = names {
            return self.with_one_copied_from(other, name.as_ref());
        }
        let named = |l: &&Label| names.iter().any(|n| n.as_ref() == &*l.name);
        let mine = || self.iter().filter(|l| !named(l));
        let theirs = || other.iter().filter(named);
        let len = mine().count() + theirs().count();
        Labels::from_sorted(collect_exact(len, merge_disjoint(mine(), theirs())))
    }

    /// [`Self::with_copied_from`] for one name (`group_left (team)`): the
    /// label goes where its name sorts, as three slices chained, whose
    /// exact length lets the `Arc` be filled in place.
    fn with_one_copied_from(&self, other: &Labels, name: &str) -> Labels {
        let [before, theirs, after] = self.runs_with_one_copied_from(other, name);
        if theirs.is_empty() && before.len() + after.len() == self.len() {
            return self.clone();
        }
        Labels::from_sorted(before.iter().chain(theirs).chain(after).cloned().collect())
    }

    /// [`Self::with_one_copied_from`]'s labels as three runs: these labels
    /// before where `name` sorts, `other`'s label `name` (if any), and these
    /// labels after it (a label `name` here is replaced or removed).
    pub(crate) fn runs_with_one_copied_from<'a>(
        &'a self,
        other: &'a Labels,
        name: &str,
    ) -> [&'a [Label]; 3] {
        let mine = self.as_slice();
        let at = mine.partition_point(|l| &*l.name < name);
        let after = match mine.get(at) {
            Some(l) if &*l.name == name => at + 1,
            _ => at,
        };
        let theirs = other
            .label(name)
            .map(std::slice::from_ref)
            .unwrap_or_default();
        [&mine[..at], theirs, &mine[after..]]
    }
}

/// Merges two runs of labels, each sorted by name, that share no name.
pub(crate) fn merge_disjoint<'a>(
    mine: impl Iterator<Item = &'a Label>,
    theirs: impl Iterator<Item = &'a Label>,
) -> impl Iterator<Item = &'a Label> {
    let (mut mine, mut theirs) = (mine.peekable(), theirs.peekable());
    std::iter::from_fn(move || match (mine.peek(), theirs.peek()) {
        (Some(a), Some(b)) if a.name < b.name => mine.next(),
        (Some(_), Some(_)) | (None, _) => theirs.next(),
        (Some(_), None) => mine.next(),
    })
}

/// Label sets built one after another and laid out in shared blocks of
/// about [`BLOCK_LABELS`] labels as they come: one allocation per block
/// rather than one per set, the sets of a block next to each other in
/// memory (see [`Labels::pack`]). Each label is first written to the block
/// being filled, which stays in the cache, and moved into the block's
/// allocation when the block is full: no buffer as long as all the sets
/// together is written and read back.
#[derive(Debug, Default)]
pub(crate) struct SetsInBlocks {
    /// The sets of the blocks made so far, in the order they were added.
    sets: Vec<Labels>,
    /// The labels of the block being filled.
    block: Vec<Label>,
    /// Where each set of the block being filled ends in `block`.
    ends: Vec<u32>,
}

impl SetsInBlocks {
    /// Adds a set: `labels` sorted by name, with unique names and no empty
    /// values (as a [`Labels`] holds them).
    pub fn push(&mut self, labels: impl IntoIterator<Item = Label>) {
        let start = self.block.len();
        self.block.extend(labels);
        self.close_set(start);
    }

    /// Room for `sets` sets in all.
    pub fn with_capacity(sets: usize) -> Self {
        SetsInBlocks {
            sets: Vec::with_capacity(sets),
            block: Vec::with_capacity(BLOCK_LABELS),
            ends: Vec::new(),
        }
    }

    /// Adds the set that `runs` make one after another (together sorted by
    /// name, as for [`Self::push`]).
    pub fn push_runs(&mut self, runs: &[&[Label]]) {
        let start = self.block.len();
        for run in runs {
            self.block.extend_from_slice(run);
        }
        self.close_set(start);
    }

    /// Ends the set that begins at `start` in the block being filled: the
    /// sets before it make a block of their own when it does not fit beside
    /// them (a set longer than a block is the only one in its block).
    fn close_set(&mut self, start: usize) {
        if self.block.len() > BLOCK_LABELS && start > 0 {
            self.seal(start);
        }
        // A block holds fewer than `u32::MAX` labels: it fits in memory.
        self.ends.push(self.block.len() as u32);
    }

    /// Makes the first `len` labels of the block being filled (the sets
    /// that `ends` lists) a block, moving them into its allocation.
    fn seal(&mut self, len: usize) {
        let shared: Arc<[Label]> = self.block.drain(..len).collect();
        let mut start = 0;
        for end in self.ends.drain(..) {
            self.sets.push(Labels {
                shared: Arc::clone(&shared),
                start,
                end,
            });
            start = end;
        }
    }

    /// The sets, in the order they were added.
    pub fn finish(mut self) -> Vec<Labels> {
        if !self.ends.is_empty() {
            self.seal(self.block.len());
        }
        self.sets
    }
}

/// The first `len` of `labels`, cloned into an `Arc` allocated once at its
/// size (a mapped range has a trusted length, so it is filled in place).
/// `labels` yields at least `len` items; were it shorter, the rest would be
/// empty labels.
fn collect_exact<'a>(len: usize, mut labels: impl Iterator<Item = &'a Label>) -> Arc<[Label]> {
    (0..len)
        .map(|_| labels.next().cloned().unwrap_or_else(|| Label::new("", "")))
        .collect()
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints `{a="1", b="2"}` with names and values quoted as Prometheus does;
/// a metric name that is a valid legacy identifier is printed in front:
/// `up{job="x"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        let legacy_name = name.filter(|n| is_valid_legacy_metric_name(n));
        if let Some(name) = legacy_name {
            f.write_str(name)?;
            if self.len() == 1 {
                return Ok(());
            }
        }
        f.write_str("{")?;
        let mut first = true;
        if let (Some(name), None) = (name, legacy_name) {
            write_quoted(f, name)?;
            first = false;
        }
        for l in self.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            if is_valid_legacy_label_name(&l.name) {
                f.write_str(&l.name)?;
            } else {
                write_quoted(f, &l.name)?;
            }
            f.write_str("=")?;
            write_quoted(f, &l.value)?;
        }
        f.write_str("}")
    }
}

/// Writes `s` as a double-quoted string with Go's `strconv.Quote` escapes.
pub fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    super::quote::write_go_quoted(f, s)
}

/// Whether `name` matches `[a-zA-Z_][a-zA-Z0-9_]*`, the legacy label-name charset.
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`, the legacy metric-name charset.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Builds a modified copy of a [`Labels`].
#[derive(Clone, Debug, Default)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        self.set_mut(name, value);
        self
    }

    /// In-place form of [`set`](Self::set).
    pub fn set_mut(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) {
        let (name, value) = (name.into(), value.into());
        self.labels.retain(|l| l.name != name);
        if !value.is_empty() {
            self.labels.push(Label { name, value });
        }
    }

    /// Removes label `name`.
    pub fn remove(mut self, name: &str) -> Self {
        self.remove_mut(name);
        self
    }

    /// In-place form of [`remove`](Self::remove).
    pub fn remove_mut(&mut self, name: &str) {
        self.labels.retain(|l| &*l.name != name);
    }

    /// The value currently set for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| &*l.name == name)
            .map(|l| &*l.value)
    }

    /// Finishes the label set.
    pub fn build(self) -> Labels {
        Labels::new(self.labels)
    }
}

impl FromIterator<Label> for Labels {
    fn from_iter<I: IntoIterator<Item = Label>>(iter: I) -> Self {
        Labels::new(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Label sets over a few names (so that sets share some), up to 70
    /// labels (past the 64 that `filter` decides with a bit mask).
    fn label_set() -> impl proptest::strategy::Strategy<Value = Labels> {
        let pair = (0u8..80, 0u8..3).prop_map(|(n, v)| (format!("n{n}"), format!("v{v}")));
        proptest::collection::vec(pair, 0..70).prop_map(|pairs| Labels::from_pairs(&pairs))
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn copying_labels_equals_setting_them_one_by_one(
            mine in label_set(),
            theirs in label_set(),
            names in proptest::collection::vec((0u8..80).prop_map(|n| format!("n{n}")), 0..6),
        ) {
            let mut b = mine.builder();
            for name in &names {
                match theirs.get(name) {
                    Some(v) => b.set_mut(name.as_str(), v),
                    None => b.remove_mut(name),
                }
            }
            prop_assert_eq!(mine.with_copied_from(&theirs, &names), b.build());
        }

        #[test]
        fn a_shared_suffix_equals_the_same_labels_built_anew(
            set in label_set(),
            index in 0usize..4,
            other in label_set(),
        ) {
            use std::hash::BuildHasher;
            let hasher = std::collections::hash_map::RandomState::new();
            let view = set.without_index(index);
            let built = Labels::new(
                set.iter().enumerate().filter(|&(i, _)| i != index).map(|(_, l)| l.clone()).collect(),
            );
            prop_assert_eq!(view.as_slice(), built.as_slice());
            prop_assert_eq!(&view, &built);
            prop_assert_eq!(view.len(), built.len());
            prop_assert_eq!(hasher.hash_one(&view), hasher.hash_one(&built));
            prop_assert_eq!(view.cmp(&other), built.cmp(&other));
            prop_assert_eq!(view.to_string(), built.to_string());
            for l in set.iter() {
                prop_assert_eq!(view.get(&l.name), built.get(&l.name));
            }
            // Views of views keep dropping from the front.
            let twice = view.without_first(1);
            prop_assert_eq!(twice.as_slice(), built.as_slice().get(1..).unwrap_or_default());
        }

        #[test]
        fn sets_in_blocks_equal_the_sets_pushed(
            sets in proptest::collection::vec(label_set(), 0..12),
            split in 0usize..50,
        ) {
            // Every other set is pushed as two runs.
            let mut blocks = SetsInBlocks::default();
            for (i, set) in sets.iter().enumerate() {
                if i % 2 == 0 {
                    blocks.push(set.iter().cloned());
                } else {
                    let (a, b) = set.as_slice().split_at(split.min(set.len()));
                    blocks.push_runs(&[a, b]);
                }
            }
            let built = blocks.finish();
            prop_assert_eq!(&built, &sets);
            // Neighbours share a block while it holds at most `BLOCK_LABELS`
            // labels; a longer set has one of its own.
            let mut block_len = 0;
            for (i, set) in built.iter().enumerate() {
                let (at, len) = set.allocation();
                prop_assert!(len <= BLOCK_LABELS || len == set.len());
                let shares = i > 0 && built[i - 1].allocation().0 == at;
                let fits = i > 0 && block_len + set.len() <= BLOCK_LABELS;
                prop_assert_eq!(shares, fits, "set {} of {}", i, built.len());
                block_len = if shares { block_len + set.len() } else { set.len() };
            }
            let mut packed = sets.clone();
            Labels::pack(packed.iter_mut(), Label::clone);
            prop_assert_eq!(&packed, &sets);
            let blocks: std::collections::HashSet<usize> =
                packed.iter().map(|s| s.allocation().0).collect();
            let labels: usize = sets.iter().map(Labels::len).sum();
            // Two neighbouring blocks would have been one had they held
            // `BLOCK_LABELS` labels or fewer together.
            prop_assert!(blocks.len() <= 2 * labels / BLOCK_LABELS + 1);
        }

        #[test]
        fn filter_keeps_exactly_the_chosen_labels(set in label_set(), modulus in 1usize..5) {
            let mut calls = 0;
            let got = set.filter(|l| {
                calls += 1;
                (l.name.len() + usize::from(l.value.as_bytes()[1])) % modulus == 0
            });
            let want: Vec<Label> = set
                .iter()
                .filter(|l| (l.name.len() + usize::from(l.value.as_bytes()[1])) % modulus == 0)
                .cloned()
                .collect();
            prop_assert_eq!(got.as_slice(), &want[..]);
            prop_assert_eq!(calls, set.len());
        }
    }

    #[test]
    fn sorted_deduplicated_and_empty_values_dropped() {
        let l = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
    }

    #[test]
    fn display_with_metric_name_and_utf8() {
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "x")]);
        assert_eq!(l.to_string(), r#"up{job="x"}"#);
        let l = Labels::from_pairs(&[("__name__", "my.metric"), ("a.b", "x\n")]);
        assert_eq!(l.to_string(), r#"{"my.metric", "a.b"="x\n"}"#);
        let l = Labels::from_pairs(&[("__name__", "up")]);
        assert_eq!(l.to_string(), "up");
    }

    #[test]
    fn builder_and_filters() {
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "x"), ("i", "1")]);
        assert_eq!(l.without_metric_name().to_string(), r#"{i="1", job="x"}"#);
        assert_eq!(l.keep_only(&["job"]).to_string(), r#"{job="x"}"#);
        assert_eq!(l.without(&["job", "__name__"]).to_string(), r#"{i="1"}"#);
        let l2 = l.builder().set("job", "y").remove("i").build();
        assert_eq!(l2.to_string(), r#"up{job="y"}"#);
    }
}
