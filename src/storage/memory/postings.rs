//! The postings index: for each label name, its distinct values and, for
//! each value, the ids of the series that have it.
//!
//! Values are grouped by name, so that a `=~` matcher tests each value of
//! its label once and finds the series of the matching ones by position
//! (no hashing, no reference counts touched); an `=` matcher looks its value
//! up by name, then by value.

use std::sync::Arc;

use super::FastMap;
use crate::model::Label;
use crate::model::matcher::has_affixes;

/// The ids of the series with one label value, ascending. A value that one
/// or two series have (an `instance` of a target with one metric, a pod's
/// identifier) keeps them in place, in the 24 bytes a `Vec` header takes:
/// a regex selector that matches many such values then reads their ids
/// from the list of values itself rather than from an allocation each.
pub(super) type IdList = smallvec::SmallVec<[usize; 2]>;

/// Label name -> its values and their series.
#[derive(Debug, Default)]
pub(super) struct Postings {
    by_name: FastMap<Arc<str>, NameValues>,
}

/// The distinct values of one label name, in the order first seen, with the
/// series of each. Their text is also laid end to end, so that testing
/// every value reads one buffer rather than one allocation per value, each
/// a likely cache miss.
#[derive(Debug, Default)]
pub(super) struct NameValues {
    values: Vec<Arc<str>>,
    text: String,
    /// Where each value's text ends in `text`.
    ends: Vec<usize>,
    /// Position of each value in `values`.
    positions: FastMap<Arc<str>, usize>,
    /// The ids of the series with each value, ascending.
    ids: Vec<IdList>,
    /// The values before this one have strings of the index's own, laid
    /// out at a commit ([`Postings::settle`]); those after it still share
    /// the allocation the caller made.
    settled: usize,
}

impl NameValues {
    /// Number of values.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The ids of the series of each value that starts with `prefix`, ends
    /// with `suffix` and then satisfies `keep`: the affixes turn most values
    /// away with a byte or two compared, without the value being read as
    /// text.
    pub(super) fn ids_where<'a>(
        &'a self,
        prefix: &'a [u8],
        suffix: &'a [u8],
        mut keep: impl FnMut(&str) -> bool + 'a,
    ) -> impl Iterator<Item = &'a [usize]> + 'a {
        let bytes = self.text.as_bytes();
        let mut start = 0;
        // Every value is tested before any list is read: the lists lie
        // apart, and reads of one after another the processor overlaps,
        // where reads between the tests would each wait in turn.
        let kept: Vec<usize> = self
            .ends
            .iter()
            .enumerate()
            .filter_map(|(k, &end)| {
                let from = std::mem::replace(&mut start, end);
                if !has_affixes(bytes.get(from..end)?, prefix, suffix) {
                    return None;
                }
                keep(self.text.get(from..end)?).then_some(k)
            })
            .collect();
        kept.into_iter()
            .filter_map(|k| self.ids.get(k).map(|ids| ids.as_slice()))
    }

    /// The ids of the series of each of `listed` that is one of the values
    /// (each list ascending; the lists are disjoint, as a series has one
    /// value per label).
    pub(super) fn ids_of<'a>(
        &'a self,
        listed: &'a [Box<str>],
    ) -> impl Iterator<Item = &'a [usize]> + 'a {
        listed.iter().filter_map(|value| self.ids(value))
    }

    /// The ids of the series with `value`, ascending.
    pub(super) fn ids(&self, value: &str) -> Option<&[usize]> {
        let &at = self.positions.get(value)?;
        self.ids.get(at).map(|ids| ids.as_slice())
    }

    /// The values, in the order first seen.
    pub(super) fn values(&self) -> &[Arc<str>] {
        &self.values
    }

    /// The id lists, aligned with [`values`](Self::values).
    pub(super) fn id_lists(&self) -> &[IdList] {
        &self.ids
    }

    /// Capacity of the value table.
    pub(super) fn positions_capacity(&self) -> usize {
        self.positions.capacity()
    }

    /// Bytes of the lists and the laid-out text (not the shared strings, the
    /// value table or the id lists' contents).
    pub(super) fn own_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<Arc<str>>()
            + self.text.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.ids.capacity() * std::mem::size_of::<IdList>()
    }

    fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.positions.shrink_to_fit();
        self.ids.shrink_to_fit();
        for ids in &mut self.ids {
            ids.shrink_to_fit();
        }
    }
}

impl Postings {
    /// Records that series `id` (greater than any recorded before) has the
    /// label `name`=`value`, and returns that label with the strings the
    /// index already holds, so that each name and each distinct value is
    /// stored once however many series have it.
    pub(super) fn add(&mut self, name: &Arc<str>, value: &Arc<str>, id: usize) -> Label {
        let entry = self.by_name.entry(name.clone());
        // The key the table holds when the name is known.
        let name = entry.key().clone();
        let values = entry.or_default();
        let at = match values.positions.get(value) {
            Some(&at) => at,
            None => {
                let at = values.values.len();
                values.values.push(value.clone());
                values.text.push_str(value);
                values.ends.push(values.text.len());
                values.positions.insert(value.clone(), at);
                values.ids.push(IdList::new());
                at
            }
        };
        if let Some(ids) = values.ids.get_mut(at) {
            ids.push(id);
        }
        Label {
            name,
            value: values.values[at].clone(),
        }
    }

    /// `label` (a label of a series added since the last commit) with the
    /// index's strings, where a value first seen since that commit gets a
    /// string of the index's own, allocated now: called for the new series
    /// in order, it lays the strings that only they have (an `instance`,
    /// a pod's name) out one after another, however the load scattered the
    /// allocations it was given between the growth of sample buffers. A
    /// query over many series then reads them from consecutive memory.
    /// [`Postings::mark_settled`] ends the commit.
    pub(super) fn settle(&mut self, label: &Label) -> Label {
        // A stored series' label already holds the index's name string.
        let Some(values) = self.by_name.get_mut(&*label.name) else {
            return label.clone();
        };
        let Some(&at) = values.positions.get(&*label.value) else {
            return label.clone();
        };
        if at >= values.settled && Arc::ptr_eq(&values.values[at], &label.value) {
            let own: Arc<str> = Arc::from(&*label.value);
            // Removed first: an insert over an equal key keeps the old one.
            values.positions.remove(&*label.value);
            values.positions.insert(own.clone(), at);
            values.values[at] = own;
        }
        Label {
            name: label.name.clone(),
            value: values.values[at].clone(),
        }
    }

    /// Ends a commit's [`Postings::settle`] calls: the values seen so far
    /// keep the strings they have.
    pub(super) fn mark_settled(&mut self) {
        for values in self.by_name.values_mut() {
            values.settled = values.values.len();
        }
    }

    /// The name (as stored) and its values.
    pub(super) fn get(&self, name: &str) -> Option<(&Arc<str>, &NameValues)> {
        self.by_name.get_key_value(name)
    }

    /// The ids of the series with label `name`=`value`, ascending.
    pub(super) fn ids(&self, name: &str, value: &str) -> Option<&[usize]> {
        self.by_name.get(name)?.ids(value)
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.by_name.shrink_to_fit();
        for values in self.by_name.values_mut() {
            values.shrink_to_fit();
        }
    }

    /// Every name with its values.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &NameValues)> {
        self.by_name.iter()
    }

    /// Capacity of the name table.
    pub(super) fn capacity(&self) -> usize {
        self.by_name.capacity()
    }
}

/// The ids both ascending lists hold, ascending: a merge of the two, or,
/// where one list is far longer, a binary search of the rest of the longer
/// one for each id of the shorter.
pub(super) fn intersect_ascending(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let search = long.len() / 16 > short.len();
    let mut rest = long;
    short
        .iter()
        .copied()
        .filter(|&id| seek(&mut rest, id, search))
        .collect()
}

/// The ids of the ascending list `a` that the ascending list `b` lacks,
/// ascending (merging or searching as [`intersect_ascending`] does).
pub(super) fn subtract_ascending(a: &[usize], b: &[usize]) -> Vec<usize> {
    let search = b.len() / 16 > a.len();
    let mut rest = b;
    a.iter()
        .copied()
        .filter(|&id| !seek(&mut rest, id, search))
        .collect()
}

/// Moves `rest` (ascending) past its ids below `id`, by a binary search
/// where `search`, else one id at a time; whether it then starts with `id`.
fn seek(rest: &mut &[usize], id: usize, search: bool) -> bool {
    if search {
        *rest = &rest[rest.partition_point(|&x| x < id)..];
    } else {
        while let Some((&x, after)) = rest.split_first()
            && x < id
        {
            *rest = after;
        }
    }
    rest.first() == Some(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Merging or searching, the intersection and the differences are
        /// those of the two sets.
        #[test]
        fn intersection_and_difference_of_ascending_lists_are_those_of_the_sets(
            a in proptest::collection::btree_set(0usize..400, 0..40),
            b in proptest::collection::btree_set(0usize..400, 0..400),
        ) {
            let (a, b): (Vec<usize>, Vec<usize>) = (a.into_iter().collect(), b.into_iter().collect());
            let want: Vec<usize> = a.iter().copied().filter(|x| b.contains(x)).collect();
            proptest::prop_assert_eq!(intersect_ascending(&a, &b), want.clone());
            proptest::prop_assert_eq!(intersect_ascending(&b, &a), want);
            // And the differences, both ways.
            let a_less_b: Vec<usize> = a.iter().copied().filter(|x| !b.contains(x)).collect();
            let b_less_a: Vec<usize> = b.iter().copied().filter(|x| !a.contains(x)).collect();
            proptest::prop_assert_eq!(subtract_ascending(&a, &b), a_less_b);
            proptest::prop_assert_eq!(subtract_ascending(&b, &a), b_less_a);
        }
    }

    #[test]
    fn values_by_name_in_first_seen_order_with_their_series() {
        let mut p = Postings::default();
        let job = || Arc::<str>::from("job");
        let (a, b) = (Arc::<str>::from("a"), Arc::<str>::from("b"));
        let first = p.add(&job(), &a, 0);
        p.add(&job(), &b, 1);
        let again = p.add(&job(), &Arc::from("a"), 2);
        p.add(&job(), &Arc::from("ab"), 3);
        // Strings already held are shared.
        assert!(Arc::ptr_eq(&first.value, &again.value));
        assert!(Arc::ptr_eq(&first.name, &again.name));
        let (name, values) = p.get("job").unwrap();
        assert_eq!(&**name, "job");
        assert_eq!(values.len(), 3);
        assert_eq!(&values.values()[..2], &[a, b]);
        let kept: Vec<&[usize]> = values.ids_where(b"", b"", |t| t.starts_with('a')).collect();
        assert_eq!(kept, [&[0, 2][..], &[3][..]]);
        // Values without the affixes are not given to `keep`.
        let mut seen = Vec::new();
        let kept: Vec<&[usize]> = values
            .ids_where(b"a", b"b", |t| {
                seen.push(t.to_owned());
                true
            })
            .collect();
        assert_eq!(kept, [&[3][..]]);
        assert_eq!(seen, ["ab"]);
        let kept: Vec<&[usize]> = values.ids_where(b"", b"b", |_| true).collect();
        assert_eq!(kept, [&[1][..], &[3][..]]);
        // A value shorter than the affixes together can still have both.
        let kept: Vec<&[usize]> = values.ids_where(b"ab", b"b", |_| true).collect();
        assert_eq!(kept, [&[3][..]]);
        assert_eq!(p.ids("job", "a"), Some(&[0, 2][..]));
        assert_eq!(p.ids("job", "c"), None);
        assert!(p.get("x").is_none());
        assert_eq!(p.ids("x", "a"), None);
    }
}
