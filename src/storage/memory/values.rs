//! The distinct values of each label name, for matchers that are cheaper
//! to test once per value than once per series.

use std::sync::Arc;

use super::FastMap;

/// Label name -> its distinct values, in the order first seen.
#[derive(Debug, Default)]
pub(super) struct LabelValues {
    by_name: FastMap<Arc<str>, Vec<Arc<str>>>,
}

impl LabelValues {
    /// Records a (name, value) pair seen for the first time.
    pub(super) fn add(&mut self, name: &Arc<str>, value: &Arc<str>) {
        match self.by_name.get_mut(name) {
            Some(values) => values.push(value.clone()),
            None => {
                self.by_name.insert(name.clone(), vec![value.clone()]);
            }
        }
    }

    /// The name (as stored) and its values.
    pub(super) fn get(&self, name: &str) -> Option<(&Arc<str>, &[Arc<str>])> {
        self.by_name
            .get_key_value(name)
            .map(|(n, values)| (n, values.as_slice()))
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.by_name.shrink_to_fit();
        for values in self.by_name.values_mut() {
            values.shrink_to_fit();
        }
    }

    /// The table and the value lists (the strings are the postings' own).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Vec<Arc<str>>)> {
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
        let (name, values) = v.get("job").unwrap();
        assert_eq!(&**name, "job");
        assert_eq!(values, &[a, b]);
        assert!(v.get("x").is_none());
    }
}
