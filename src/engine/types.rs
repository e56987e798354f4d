//! Internal value types of the evaluator: series and samples that carry the
//! delayed-name-removal flag.

use std::sync::Arc;

use crate::model::{FPoint, FloatHistogram, HPoint, Label, Labels, METRIC_NAME};
use smallvec::SmallVec;

/// The float points of an evaluated series: a single point (every series of
/// an instant evaluation) is kept inline, without an allocation.
pub(crate) type Points = SmallVec<[FPoint; 1]>;

/// Where a hot loop appends points: a `Vec` over many steps, or [`Points`]
/// directly for a single step. Loops generic over it are compiled once for
/// each, so the `Vec` loop does not pay `SmallVec`'s check of where its
/// buffer is at every point.
pub(crate) trait PointSink {
    fn push_point(&mut self, p: FPoint);
}

impl PointSink for Vec<FPoint> {
    #[inline(always)]
    fn push_point(&mut self, p: FPoint) {
        self.push(p);
    }
}

impl PointSink for Points {
    #[inline(always)]
    fn push_point(&mut self, p: FPoint) {
        self.push(p);
    }
}

/// Labels that describe a metric rather than a series: dropped together when
/// a function or operator changes what the value means.
pub(crate) const METADATA_LABELS: [&str; 3] = ["__name__", "__type__", "__unit__"];

/// Whether `name` is one of [`METADATA_LABELS`]. All three are eight bytes
/// long, so each test is one length check and at most three 8-byte
/// comparisons (this runs for every label of every series a function
/// drops the name of).
pub(crate) fn is_metadata_name(name: &str) -> bool {
    const _: () = assert!(
        METADATA_LABELS[0].len() == 8
            && METADATA_LABELS[1].len() == 8
            && METADATA_LABELS[2].len() == 8
    );
    let Ok(bytes) = <[u8; 8]>::try_from(name.as_bytes()) else {
        return false;
    };
    let word = u64::from_ne_bytes(bytes);
    [*b"__name__", *b"__type__", *b"__unit__"]
        .iter()
        .any(|m| word == u64::from_ne_bytes(*m))
}

/// The histogram points of an evaluated series: most series have none, so
/// they take one word (no allocation) until the first is pushed, which
/// keeps [`ESeries`] to 64 bytes: the arrays of series that every step of
/// an evaluation writes and reads are a fifth smaller than with a `Vec`.
#[derive(Clone, Debug, Default, PartialEq)]
// The box is the point: one word in the series instead of a `Vec`'s three.
#[allow(clippy::box_collection)]
pub(crate) struct HistPoints(Option<Box<Vec<HPoint>>>);

/// What an empty [`HistPoints`] reads as.
static NO_HPOINTS: Vec<HPoint> = Vec::new();

impl HistPoints {
    /// The points, taken out as a `Vec`.
    pub fn into_vec(self) -> Vec<HPoint> {
        self.0.map(|b| *b).unwrap_or_default()
    }

    /// Appends a point (the first allocates).
    pub fn push(&mut self, p: HPoint) {
        self.0.get_or_insert_with(Box::default).push(p);
    }

    /// Appends `more`'s points.
    pub fn extend(&mut self, more: HistPoints) {
        match &mut self.0 {
            None => *self = more,
            Some(points) => points.extend(more),
        }
    }

    /// The points, to change in place (nothing allocated).
    pub fn as_mut_slice(&mut self) -> &mut [HPoint] {
        self.0.as_deref_mut().map_or(&mut [], Vec::as_mut_slice)
    }
}

impl std::ops::Deref for HistPoints {
    type Target = Vec<HPoint>;

    fn deref(&self) -> &Vec<HPoint> {
        self.0.as_deref().unwrap_or(&NO_HPOINTS)
    }
}

impl From<Vec<HPoint>> for HistPoints {
    fn from(points: Vec<HPoint>) -> Self {
        HistPoints((!points.is_empty()).then(|| Box::new(points)))
    }
}

impl FromIterator<HPoint> for HistPoints {
    fn from_iter<I: IntoIterator<Item = HPoint>>(iter: I) -> Self {
        iter.into_iter().collect::<Vec<_>>().into()
    }
}

impl<'a> IntoIterator for &'a HistPoints {
    type Item = &'a HPoint;
    type IntoIter = std::slice::Iter<'a, HPoint>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut HistPoints {
    type Item = &'a mut HPoint;
    type IntoIter = std::slice::IterMut<'a, HPoint>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

impl IntoIterator for HistPoints {
    type Item = HPoint;
    type IntoIter = std::vec::IntoIter<HPoint>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

/// One series of an evaluated (range) result.
#[derive(Clone, Debug, Default)]
pub(crate) struct ESeries {
    pub labels: Labels,
    pub floats: Points,
    pub hists: HistPoints,
    /// The metric name (and type/unit) must be dropped at the end of evaluation.
    pub drop_name: bool,
}

// The arrays of series each step writes and reads stay at one cache line
// per series (see `HistPoints`).
const _: () = assert!(std::mem::size_of::<ESeries>() <= 64);

impl ESeries {
    pub fn new(labels: Labels, drop_name: bool) -> Self {
        ESeries {
            labels,
            floats: Points::new(),
            hists: HistPoints::default(),
            drop_name,
        }
    }

    pub fn len(&self) -> usize {
        self.floats.len() + self.hists.len()
    }

    /// The samples this series holds as the limits and statistics count
    /// them: one per float, more per histogram ([`hist_samples`]).
    pub fn samples(&self) -> usize {
        self.floats.len() + hpoint_samples(&self.hists)
    }

    pub fn push(&mut self, t: i64, f: f64, h: Option<Arc<FloatHistogram>>) {
        match h {
            Some(h) => self.hists.push(HPoint { t, h }),
            None => self.floats.push(FPoint { t, v: f }),
        }
    }
}

/// How many samples a histogram counts as against the limits and in the
/// statistics: its size in memory (as Prometheus estimates it: 168 bytes of
/// structure plus 8 per span, bucket and custom bound) in 16-byte units,
/// rounded.
pub(crate) fn hist_samples(h: &FloatHistogram) -> usize {
    const STRUCT_SIZE: usize = 168;
    let items = h.positive_spans.len()
        + h.negative_spans.len()
        + h.positive_buckets.len()
        + h.negative_buckets.len()
        + h.custom_values.len();
    (STRUCT_SIZE + 8 * items + 8) / 16
}

/// [`hist_samples`] summed over points.
pub(crate) fn hpoint_samples(points: &[HPoint]) -> usize {
    points.iter().map(|p| hist_samples(&p.h)).sum()
}

/// One element of an instant vector during evaluation.
#[derive(Clone, Debug)]
pub(crate) struct ESample {
    pub labels: Labels,
    pub t: i64,
    pub f: f64,
    pub h: Option<Arc<FloatHistogram>>,
    pub drop_name: bool,
}

impl ESample {
    /// The samples this element counts as ([`hist_samples`] for histograms).
    pub fn samples(&self) -> usize {
        self.h.as_deref().map_or(1, hist_samples)
    }

    pub fn float(labels: Labels, f: f64) -> Self {
        ESample {
            labels,
            t: 0,
            f,
            h: None,
            drop_name: false,
        }
    }
}

pub(crate) type Vector = Vec<ESample>;
pub(crate) type Matrix = Vec<ESeries>;

/// What evaluating a node yields: everything but strings is a matrix over the
/// evaluator's steps (scalars are one series with no labels).
#[derive(Debug)]
pub(crate) enum Val {
    Matrix(Matrix),
    Str(String),
}

/// Where the metadata labels of a set are: `Some(n)` when they are exactly
/// its first `n` labels (the usual case: `__name__` sorts before lowercase
/// names), `None` when another label comes before one of them. Only
/// [`Labels::up_to_underscore`] can hold them: a label or two.
fn leading_metadata(labels: &Labels) -> Option<usize> {
    let mut leading = 0;
    for (i, l) in labels.up_to_underscore().enumerate() {
        if is_metadata_name(&l.name) {
            if leading != i {
                return None;
            }
            leading += 1;
        }
    }
    Some(leading)
}

/// `labels` without `__name__`, `__type__` and `__unit__`.
#[inline]
pub(crate) fn drop_metadata(labels: &Labels) -> Labels {
    // Shares the set's allocation when the metadata labels lead.
    let mut kept = labels.clone();
    drop_metadata_owned(&mut kept);
    kept
}

/// [`drop_metadata`] of a set the caller owns: the leading metadata labels
/// are dropped in place, without touching the set's reference count.
#[inline]
pub(crate) fn drop_metadata_owned(labels: &mut Labels) {
    match leading_metadata(labels) {
        Some(n) => labels.drop_first(n),
        None => *labels = labels.filter(|l| !is_metadata_name(&l.name)),
    }
}

/// Whether label sets, taken one at a time, all carry the same metadata
/// labels, values included, so that [`drop_metadata`] keeps distinct sets
/// distinct: a loop that reads each set anyway checks it while the set is
/// in the cache.
#[derive(Debug, Default)]
pub(crate) struct MetadataAgreement {
    /// The first set's metadata labels, once a set was seen.
    wanted: Option<Vec<Label>>,
    /// Whether some set's metadata differed from the first's.
    differs: bool,
}

impl MetadataAgreement {
    /// Takes one more set into account.
    #[inline]
    pub(crate) fn see(&mut self, set: &Labels) {
        if self.differs {
            return;
        }
        match &self.wanted {
            None => self.wanted = Some(metadata_of(set).cloned().collect()),
            Some(wanted) => self.differs = !has_metadata(set, wanted),
        }
    }

    /// Takes into account the sets another agreement saw (after this one's).
    pub(crate) fn merge(&mut self, other: MetadataAgreement) {
        match (&self.wanted, other.wanted) {
            _ if other.differs => self.differs = true,
            (None, wanted) => self.wanted = wanted,
            (Some(mine), Some(theirs)) => self.differs |= *mine != theirs,
            (Some(_), None) => {}
        }
    }

    /// Whether every set seen so far carries the same metadata labels.
    pub(crate) fn holds(&self) -> bool {
        !self.differs
    }

    /// Whether no set seen so far carries metadata labels.
    pub(crate) fn is_none(&self) -> bool {
        self.holds() && self.wanted.as_ref().is_none_or(Vec::is_empty)
    }
}

/// The metadata labels of `set`, in order.
fn metadata_of(set: &Labels) -> impl Iterator<Item = &Label> {
    set.up_to_underscore().filter(|l| is_metadata_name(&l.name))
}

/// Whether `set` holds a metadata label (`__name__`, `__type__`, `__unit__`).
pub(crate) fn has_metadata_labels(set: &Labels) -> bool {
    metadata_of(set).next().is_some()
}

/// Whether the metadata labels of `set` are exactly `wanted`.
fn has_metadata(set: &Labels, wanted: &[Label]) -> bool {
    // The usual case first: the set starts with the wanted labels and its
    // next label sorts after `_`, so no other can be metadata (strings a
    // store interned compare by address).
    let n = wanted.len();
    let labels = set.as_slice();
    if labels.len() >= n
        && labels[n..]
            .first()
            .is_none_or(|l| l.name.as_bytes().first() > Some(&b'_'))
        && labels.iter().zip(wanted).all(|(a, b)| a == b)
    {
        return true;
    }
    // Leading metadata compares label by label.
    match leading_metadata(set) {
        Some(k) if k == n => set.iter().zip(wanted).all(|(a, b)| a == b),
        Some(_) => false,
        None => metadata_of(set).eq(wanted.iter()),
    }
}

/// Whether `label` belongs to a grouping key or match signature built from
/// `names`: one of them (`by`, `on`), or, with `without` (`without`,
/// `ignoring`), none of them and not the metric name.
pub(crate) fn in_key(label: &Label, names: &[String], without: bool) -> bool {
    let named = names.iter().any(|n| **n == *label.name);
    if without {
        !named && *label.name != *METRIC_NAME
    } else {
        named
    }
}

pub(crate) use crate::model::labels::TOUCH_BLOCK;

/// `items` in order, each block of [`TOUCH_BLOCK`] looked over first
/// ([`Labels::touch`] on the label set `labels` gives): for a pass over the
/// label sets of a large result, which have mostly left the caches by then.
pub(crate) fn touching_blocks<'a, T>(
    items: &'a [T],
    labels: impl Fn(&T) -> &Labels + 'a,
) -> impl Iterator<Item = &'a T> + 'a {
    items.chunks(TOUCH_BLOCK).flat_map(move |block| {
        std::hint::black_box(block.iter().fold(0, |acc, s| acc ^ labels(s).touch()));
        block.iter()
    })
}

/// Whether any two samples share a label set.
pub(crate) fn has_duplicate_labels<'a>(labels: impl Iterator<Item = &'a Labels>) -> bool {
    let mut seen: FastSet<&Labels> = FastSet::default();
    seen.reserve(labels.size_hint().0);
    for l in labels {
        if !seen.insert(l) {
            return true;
        }
    }
    false
}

/// Prometheus' `labels.Labels.String()`: `{__name__="x", a="b"}`.
pub(crate) fn prom_labels_string(labels: &Labels) -> String {
    labels.to_prometheus_string()
}

/// A fast, non-cryptographic hasher (the Fx hash used by rustc) for maps
/// keyed by label sets and small integers inside one query.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The state's low bits depend only on the low bits of the words,
        // which are zero for aligned addresses and for the floats of whole
        // numbers, and a hash table picks buckets by the low bits: mix the
        // high bits down (shift, multiply, shift).
        let mut h = self.hash;
        h ^= h >> 32;
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
}

/// A hash map using [`FxHasher`].
pub(crate) type FastMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// A hash set using [`FxHasher`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys whose low bits are all zero (aligned addresses, the floats of
    /// whole numbers) still spread over the low bits of their hashes, which
    /// pick a hash table's buckets.
    #[test]
    fn fx_hashes_spread_keys_with_zero_low_bits() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let build = BuildHasherDefault::<FxHasher>::default();
        for keys in [
            (0..1024u64)
                .map(|i| (i as f64).to_bits())
                .collect::<Vec<_>>(),
            (0..1024u64).map(|i| 0x7f00_0000_0000 + i * 64).collect(),
        ] {
            let buckets: FastSet<u64> = keys.iter().map(|k| build.hash_one(k) & 1023).collect();
            assert!(buckets.len() > 600, "{} of 1024 buckets", buckets.len());
        }
    }
    use crate::model::BucketSpan;

    #[test]
    fn metadata_names_are_exactly_the_three() {
        for name in METADATA_LABELS {
            assert!(is_metadata_name(name), "{name}");
        }
        for name in [
            "",
            "instance",
            "__name_",
            "__name__x",
            "_name__",
            "__NAME__",
            "__job__",
            "__unit_",
        ] {
            assert!(!is_metadata_name(name), "{name}");
        }
    }

    /// Whether all `sets` carry the same metadata labels.
    fn same_metadata<'a>(sets: impl Iterator<Item = &'a Labels>) -> bool {
        let mut agreement = MetadataAgreement::default();
        sets.for_each(|set| agreement.see(set));
        agreement.holds()
    }

    /// Label sets whose names sort before, between and after the metadata
    /// names, values from a small set so that sets share some.
    fn metadata_mix() -> impl proptest::strategy::Strategy<Value = Labels> {
        use proptest::prelude::*;
        const NAMES: [&str; 9] = [
            "A", "_a", "__a", "__name__", "__type__", "__unit__", "__z", "a", "z",
        ];
        let pair = (0..NAMES.len(), 0u8..2).prop_map(|(n, v)| (NAMES[n], format!("v{v}")));
        proptest::collection::vec(pair, 0..7).prop_map(|pairs| Labels::from_pairs(&pairs))
    }

    proptest::proptest! {
        #[test]
        fn dropping_metadata_keeps_exactly_the_other_labels(set in metadata_mix()) {
            let want: Vec<Label> =
                set.iter().filter(|l| !is_metadata_name(&l.name)).cloned().collect();
            let got = drop_metadata(&set);
            proptest::prop_assert_eq!(got.as_slice(), &want[..]);
        }

        #[test]
        fn same_metadata_equals_comparing_the_metadata_labels(
            sets in proptest::collection::vec(metadata_mix(), 0..4),
        ) {
            let metadata = |set: &Labels| -> Vec<Label> {
                set.iter().filter(|l| is_metadata_name(&l.name)).cloned().collect()
            };
            let want = sets.windows(2).all(|w| metadata(&w[0]) == metadata(&w[1]));
            proptest::prop_assert_eq!(same_metadata(sets.iter()), want);
            let none = sets.iter().all(|set| metadata(set).is_empty());
            let mut agreement = MetadataAgreement::default();
            sets.iter().for_each(|set| agreement.see(set));
            proptest::prop_assert_eq!(agreement.is_none(), none);
        }

        /// Sets seen in two parts (as by two workers), the agreements then
        /// merged in order, give what one pass over all the sets gives.
        #[test]
        fn merged_agreements_equal_one_pass(
            sets in proptest::collection::vec(metadata_mix(), 0..6),
            cut in 0usize..7,
        ) {
            let cut = cut.min(sets.len());
            let (mut first, mut second) = (MetadataAgreement::default(), MetadataAgreement::default());
            sets[..cut].iter().for_each(|s| first.see(s));
            sets[cut..].iter().for_each(|s| second.see(s));
            first.merge(second);
            proptest::prop_assert_eq!(first.holds(), same_metadata(sets.iter()));
        }
    }

    #[test]
    fn labels_with_shared_or_copied_strings_are_equal() {
        let shared: std::sync::Arc<str> = "v".into();
        let a = Label::new("n", shared.clone());
        let b = Label::new("n", shared);
        let c = Label::new(String::from("n"), String::from("v"));
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, Label::new("n", "w"));
        assert_ne!(a, Label::new("m", "v"));
    }

    #[test]
    fn same_metadata_compares_every_metadata_label() {
        // `same_metadata` stops at the first name starting above `_`.
        assert!(METADATA_LABELS.iter().all(|n| n.starts_with('_')));
        let set = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs);
        let a = set(&[("A", "1"), ("__name__", "m"), ("__unit__", "s"), ("b", "1")]);
        let b = set(&[("A", "2"), ("__name__", "m"), ("__unit__", "s"), ("b", "2")]);
        let c = set(&[
            ("A", "2"),
            ("__name__", "m"),
            ("__unit__", "ms"),
            ("b", "2"),
        ]);
        let d = set(&[("__name__", "m"), ("__type__", "gauge"), ("__unit__", "s")]);
        assert!(same_metadata([&a, &b].into_iter()));
        assert!(!same_metadata([&a, &c].into_iter()));
        assert!(!same_metadata([&a, &d].into_iter()));
        assert!(same_metadata([&d].into_iter()));
    }

    #[test]
    fn histograms_count_by_their_size() {
        let empty = FloatHistogram::default();
        assert_eq!(hist_samples(&empty), 11);
        let h = FloatHistogram {
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 4,
            }],
            positive_buckets: vec![1.0; 4],
            negative_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            negative_buckets: vec![1.0],
            ..Default::default()
        };
        // 168 + 7 * 8 bytes, in 16-byte units, rounded.
        assert_eq!(hist_samples(&h), 14);
        let mut s = ESeries::new(Labels::empty(), false);
        s.push(0, 1.0, None);
        s.push(1, 0.0, Some(Arc::new(h)));
        assert_eq!(s.len(), 2);
        assert_eq!(s.samples(), 15);
    }

    #[test]
    fn hist_points_read_write_and_convert_like_a_vec() {
        let at = |t: i64| HPoint {
            t,
            h: Arc::new(FloatHistogram::default()),
        };
        let times = |h: &HistPoints| h.iter().map(|p| p.t).collect::<Vec<_>>();
        let mut h = HistPoints::default();
        assert!(h.is_empty() && h.as_mut_slice().is_empty());
        assert_eq!(HistPoints::from(Vec::new()), h, "an empty Vec takes no box");
        h.push(at(3));
        h.push(at(1));
        h.as_mut_slice().sort_by_key(|p| p.t);
        assert_eq!(times(&h), [1, 3]);
        h.extend(HistPoints::from(vec![at(5)]));
        let mut empty = HistPoints::default();
        empty.extend(h.clone());
        assert_eq!(times(&empty), [1, 3, 5]);
        for p in &mut h {
            p.t += 10;
        }
        assert_eq!(
            h.into_vec().iter().map(|p| p.t).collect::<Vec<_>>(),
            [11, 13, 15]
        );
        let collected: HistPoints = (0..2).map(at).collect();
        assert_eq!(collected.len(), 2);
    }
}
