//! The distinct values of each label name, for matchers that are cheaper
//! to test once per value than once per series.

use std::sync::Arc;

use super::FastMap;

/// Label name -> its distinct values, in the order first seen.
#[derive(Debug, Default)]
pub(super) struct LabelValues {
    by_name: FastMap<Arc<str>, NameValues>,
}

/// The distinct values of one label name, in the order first seen. Their
/// text is also laid end to end, so that testing every value reads one
/// buffer rather than one allocation per value, each a likely cache miss.
#[derive(Debug, Default)]
pub(super) struct NameValues {
    values: Vec<Arc<str>>,
    text: String,
    /// Where each value's text ends in `text`.
    ends: Vec<usize>,
}

impl NameValues {
    fn push(&mut self, value: &Arc<str>) {
        self.values.push(value.clone());
        self.text.push_str(value);
        self.ends.push(self.text.len());
    }

    /// Number of values.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The values (the stored strings) whose text satisfies `keep`.
    pub(super) fn filter<'a>(
        &'a self,
        mut keep: impl FnMut(&str) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        let mut start = 0;
        self.ends
            .iter()
            .zip(&self.values)
            .filter_map(move |(&end, value)| {
                let text = self.text.get(start..end).unwrap_or_default();
                start = end;
                keep(text).then_some(value)
            })
    }

    /// The values, in the order first seen.
    pub(super) fn values(&self) -> &[Arc<str>] {
        &self.values
    }

    /// Bytes of the lists and the laid-out text (not the shared strings).
    pub(super) fn own_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<Arc<str>>()
            + self.text.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

impl LabelValues {
    /// Records a (name, value) pair seen for the first time.
    pub(super) fn add(&mut self, name: &Arc<str>, value: &Arc<str>) {
        match self.by_name.get_mut(name) {
            Some(values) => values.push(value),
            None => {
                let mut values = NameValues::default();
                values.push(value);
                self.by_name.insert(name.clone(), values);
            }
        }
    }

    /// The name (as stored) and its values.
    pub(super) fn get(&self, name: &str) -> Option<(&Arc<str>, &NameValues)> {
        self.by_name.get_key_value(name)
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.by_name.shrink_to_fit();
        for values in self.by_name.values_mut() {
            values.shrink_to_fit();
        }
    }

    /// The table and the value lists (the strings are the postings' own).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &NameValues)> {
        self.by_name.iter()
    }

    /// Capacity of the name table.
    pub(super) fn capacity(&self) -> usize {
        self.by_name.capacity()
    }
}

/// The ids present in both ascending lists, ascending.
pub(super) fn intersect_sorted(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        match x.cmp(&y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(x);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_of_sorted_ids() {
        assert_eq!(
            intersect_sorted(&[1, 3, 5, 9], &[0, 3, 4, 9, 12]),
            vec![3, 9]
        );
        assert!(intersect_sorted(&[], &[1]).is_empty());
    }

    #[test]
    fn values_by_name_in_first_seen_order() {
        let mut v = LabelValues::default();
        let (n, a, b) = (Arc::from("job"), Arc::from("a"), Arc::from("b"));
        v.add(&n, &a);
        v.add(&n, &b);
        v.add(&n, &Arc::from("ab"));
        let (name, values) = v.get("job").unwrap();
        assert_eq!(&**name, "job");
        assert_eq!(values.len(), 3);
        assert_eq!(&values.values()[..2], &[a, b]);
        let kept: Vec<&str> = values
            .filter(|t| t.starts_with('a'))
            .map(|v| &**v)
            .collect();
        assert_eq!(kept, ["a", "ab"]);
        assert!(v.get("x").is_none());
    }
}
