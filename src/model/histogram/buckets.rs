//! Iterating the buckets of a histogram with their boundaries.

use super::FloatHistogram;
use super::bounds::{bucket_bound, is_custom_buckets_schema, log2, reduced_index};
use super::layout::{IndexedBuckets, indexed, to_indexed};

/// One bucket with its boundaries. Exponential buckets are open towards zero
/// and closed away from it (`(l, u]` for positive, `[l, u)` for negative
/// buckets); the zero bucket is `[-t, t]`; custom buckets are `(l, u]` except
/// the first, which is `[-Inf, u]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Lower boundary.
    pub lower: f64,
    /// Upper boundary.
    pub upper: f64,
    /// Whether `lower` belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether `upper` belongs to the bucket.
    pub upper_inclusive: bool,
    /// Observations in the bucket (cumulative for cumulative iteration).
    pub count: f64,
    /// Index within the schema; irrelevant for the zero bucket.
    pub index: i32,
}

impl Bucket {
    /// The fraction of this bucket's width at or below `v`, for `v` strictly
    /// inside finite bounds: linear interpolation if `linear` (custom and zero
    /// buckets), otherwise on a logarithmic scale (exponential buckets, with
    /// negative buckets mirrored).
    pub fn fraction_below(&self, v: f64, linear: bool) -> f64 {
        if linear {
            return (v - self.lower) / (self.upper - self.lower);
        }
        let log_lower = log2(self.lower.abs());
        let log_upper = log2(self.upper.abs());
        let log_v = log2(v.abs());
        if v > 0.0 {
            (log_v - log_lower) / (log_upper - log_lower)
        } else {
            1.0 - (log_v - log_upper) / (log_lower - log_upper)
        }
    }

    /// The boundary rule code of the Prometheus HTTP API: 0 = `(l, u]`,
    /// 1 = `[l, u)`, 2 = `(l, u)`, 3 = `[l, u]`.
    pub fn boundary_rule(&self) -> u8 {
        match (self.lower_inclusive, self.upper_inclusive) {
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (true, true) => 3,
        }
    }
}

impl std::fmt::Display for Bucket {
    /// `(l,u]:count` with `[`/`]` marking inclusive bounds, as Prometheus
    /// prints buckets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use super::display::go_g;
        write!(
            f,
            "{}{},{}{}:{}",
            if self.lower_inclusive { '[' } else { '(' },
            go_g(self.lower),
            go_g(self.upper),
            if self.upper_inclusive { ']' } else { ')' },
            go_g(self.count)
        )
    }
}

/// A bucket of the Prometheus HTTP API: `[rule, "lower", "upper", "count"]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ApiBucket {
    /// Boundary rule, see [`Bucket::boundary_rule`].
    pub boundary_rule: u8,
    /// Lower boundary.
    pub lower: f64,
    /// Upper boundary.
    pub upper: f64,
    /// Observations in the bucket.
    pub count: f64,
}

/// Which side of zero a bucket list covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Positive,
    Negative,
}

impl FloatHistogram {
    /// The bucket at `index` of one side at `schema` (which may be coarser
    /// than the histogram's own, for reduced iteration).
    fn bucket_at(&self, side: Side, index: i32, schema: i32, count: f64) -> Bucket {
        let cv: &[f64] = &self.custom_values;
        let i = i64::from(index);
        let (lower, upper) = match side {
            Side::Positive => (bucket_bound(i - 1, schema, cv), bucket_bound(i, schema, cv)),
            Side::Negative => (
                -bucket_bound(i, schema, cv),
                -bucket_bound(i - 1, schema, cv),
            ),
        };
        let (lower_inclusive, upper_inclusive) = if is_custom_buckets_schema(schema) {
            (index == 0, true)
        } else {
            (lower < 0.0, upper > 0.0)
        };
        Bucket {
            lower,
            upper,
            lower_inclusive,
            upper_inclusive,
            count,
            index,
        }
    }

    fn side(&self, side: Side) -> (&[super::BucketSpan], &[f64]) {
        match side {
            Side::Positive => (&self.positive_spans, &self.positive_buckets),
            Side::Negative if self.uses_custom_buckets() => (&[], &[]),
            Side::Negative => (&self.negative_spans, &self.negative_buckets),
        }
    }

    fn side_iter(&self, side: Side) -> impl DoubleEndedIterator<Item = Bucket> + '_ {
        let (spans, counts) = self.side(side);
        let schema = self.schema;
        indexed(spans, counts)
            .collect::<Vec<_>>()
            .into_iter()
            .map(move |(i, c)| self.bucket_at(side, i, schema, c))
    }

    /// Positive buckets in ascending order (from zero upwards), including
    /// empty ones that the layout lists. For custom buckets, these are all
    /// the buckets.
    pub fn positive_bucket_iter(&self) -> impl DoubleEndedIterator<Item = Bucket> + '_ {
        self.side_iter(Side::Positive)
    }

    /// Negative buckets from zero downwards (ascending index, descending
    /// value). Custom-bucket histograms have none.
    pub fn negative_bucket_iter(&self) -> impl DoubleEndedIterator<Item = Bucket> + '_ {
        self.side_iter(Side::Negative)
    }

    /// The zero bucket `[-t, t]`; `None` for custom buckets, which have none.
    pub fn zero_bucket(&self) -> Option<Bucket> {
        (!self.uses_custom_buckets()).then_some(Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        })
    }

    /// Buckets of one side merged to the coarser `target_schema`, in
    /// ascending index order; `None` if the schemas cannot be merged (custom
    /// and exponential, or a finer target).
    pub fn reduced_side(&self, positive: bool, target_schema: i32) -> Option<IndexedBuckets> {
        let side = if positive {
            Side::Positive
        } else {
            Side::Negative
        };
        let (spans, counts) = self.side(side);
        let buckets = to_indexed(spans, counts);
        if target_schema == self.schema {
            return Some(buckets);
        }
        if self.uses_custom_buckets()
            || is_custom_buckets_schema(target_schema)
            || target_schema > self.schema
        {
            return None;
        }
        Some(reduce_indexed(&buckets, self.schema, target_schema))
    }

    /// Clamps a bucket overlapping the zero bucket to the zero threshold, as
    /// the all-bucket iterators do.
    fn clamp_to_zero_bucket(&self, mut b: Bucket) -> Bucket {
        let t = self.zero_threshold;
        if b.upper < 0.0 && b.upper > -t {
            b.upper = -t;
        } else if b.lower > 0.0 && b.lower < t {
            b.lower = t;
        }
        b
    }

    fn populated_zero_bucket(&self) -> Option<Bucket> {
        self.zero_bucket().filter(|z| z.count > 0.0)
    }

    /// All buckets in ascending order of value: negative buckets, then the
    /// zero bucket if it has observations, then positive buckets. Buckets
    /// overlapping the zero bucket have that bound clamped to the threshold.
    pub fn all_bucket_iter(&self) -> impl Iterator<Item = Bucket> + '_ {
        self.negative_bucket_iter()
            .rev()
            .chain(self.populated_zero_bucket())
            .chain(self.positive_bucket_iter())
            .map(|b| self.clamp_to_zero_bucket(b))
    }

    /// All buckets in descending order of value (the reverse of
    /// [`all_bucket_iter`](Self::all_bucket_iter)).
    pub fn all_bucket_rev_iter(&self) -> impl Iterator<Item = Bucket> + '_ {
        self.positive_bucket_iter()
            .rev()
            .chain(self.populated_zero_bucket())
            .chain(self.negative_bucket_iter())
            .map(|b| self.clamp_to_zero_bucket(b))
    }

    /// Cumulative buckets in ascending order: each has lower bound `-Inf`
    /// (inclusive) and the count of all observations up to its upper bound.
    /// Empty buckets are included where the layout lists them.
    pub fn cumulative_bucket_iter(&self) -> impl Iterator<Item = Bucket> + '_ {
        let mut total = 0.0;
        self.all_bucket_iter().map(move |b| {
            total += b.count;
            Bucket {
                lower: f64::NEG_INFINITY,
                lower_inclusive: true,
                count: total,
                ..b
            }
        })
    }

    /// The non-empty buckets as the Prometheus HTTP API lists them
    /// (`"buckets": [[rule, "lower", "upper", "count"], ...]`), in ascending
    /// order.
    pub fn api_buckets(&self) -> impl Iterator<Item = ApiBucket> + '_ {
        self.all_bucket_iter()
            .filter(|b| b.count != 0.0)
            .map(|b| ApiBucket {
                boundary_rule: b.boundary_rule(),
                lower: b.lower,
                upper: b.upper,
                count: b.count,
            })
    }
}

/// Merges sorted buckets of schema `from` into the coarser schema `to`.
pub(super) fn reduce_indexed(buckets: &[(i32, f64)], from: i32, to: i32) -> IndexedBuckets {
    let mut out: IndexedBuckets = Vec::with_capacity(buckets.len());
    for &(i, c) in buckets {
        let t = reduced_index(i, from, to);
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += c,
            _ => out.push((t, c)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    fn sample() -> FloatHistogram {
        FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 12.0,
            sum: 3.0,
            positive_spans: vec![span(0, 2), span(1, 1)],
            positive_buckets: vec![1.0, 2.0, 3.0],
            negative_spans: vec![span(0, 2)],
            negative_buckets: vec![3.0, 1.0],
            ..Default::default()
        }
    }

    #[test]
    fn positive_buckets_have_exponential_bounds() {
        let h = sample();
        let b: Vec<_> = h.positive_bucket_iter().collect();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].lower, b[0].upper), (0.5, 1.0));
        assert_eq!((b[1].lower, b[1].upper), (1.0, 2.0));
        assert_eq!((b[2].lower, b[2].upper, b[2].index), (4.0, 8.0, 3));
        assert!(!b[0].lower_inclusive && b[0].upper_inclusive);
        assert_eq!(b[0].boundary_rule(), 0);
    }

    #[test]
    fn negative_buckets_are_mirrored() {
        let h = sample();
        let b: Vec<_> = h.negative_bucket_iter().collect();
        assert_eq!((b[0].lower, b[0].upper), (-1.0, -0.5));
        assert_eq!((b[1].lower, b[1].upper), (-2.0, -1.0));
        assert!(b[0].lower_inclusive && !b[0].upper_inclusive);
        assert_eq!(b[0].boundary_rule(), 1);
    }

    #[test]
    fn all_buckets_ascending_and_descending() {
        let h = sample();
        let up: Vec<_> = h.all_bucket_iter().map(|b| (b.lower, b.count)).collect();
        assert_eq!(
            up,
            vec![
                (-2.0, 1.0),
                (-1.0, 3.0),
                (-0.001, 2.0),
                (0.5, 1.0),
                (1.0, 2.0),
                (4.0, 3.0)
            ]
        );
        let down: Vec<_> = h
            .all_bucket_rev_iter()
            .map(|b| (b.lower, b.count))
            .collect();
        let mut rev = up.clone();
        rev.reverse();
        assert_eq!(down, rev);
        let cum: Vec<_> = h.cumulative_bucket_iter().map(|b| b.count).collect();
        assert_eq!(cum, vec![1.0, 4.0, 6.0, 7.0, 9.0, 12.0]);
    }

    #[test]
    fn buckets_overlapping_the_zero_bucket_are_clamped() {
        let h = FloatHistogram {
            zero_threshold: 0.7,
            zero_count: 1.0,
            positive_spans: vec![span(0, 1)],
            positive_buckets: vec![1.0],
            ..Default::default()
        };
        let b: Vec<_> = h.all_bucket_iter().collect();
        assert_eq!((b[0].lower, b[0].upper), (-0.7, 0.7));
        assert_eq!((b[1].lower, b[1].upper), (0.7, 1.0));
    }

    #[test]
    fn custom_buckets() {
        let h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 2.0],
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![1.0, 0.0, 4.0],
            count: 5.0,
            ..Default::default()
        };
        let b: Vec<_> = h.all_bucket_iter().collect();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].lower, b[0].upper), (f64::NEG_INFINITY, 1.0));
        assert!(b[0].lower_inclusive && b[0].upper_inclusive);
        assert_eq!((b[2].lower, b[2].upper), (2.0, f64::INFINITY));
        assert!(!b[2].lower_inclusive);
        let api: Vec<_> = h.api_buckets().collect();
        assert_eq!(api.len(), 2, "empty buckets are not listed");
        assert_eq!(api[0].boundary_rule, 3);
        assert_eq!(api[1].boundary_rule, 0);
        assert!(h.zero_bucket().is_none());
    }

    #[test]
    fn reduced_iteration_merges_buckets() {
        let h = FloatHistogram {
            schema: 1,
            positive_spans: vec![span(0, 4)],
            positive_buckets: vec![1.0, 2.0, 3.0, 4.0],
            ..Default::default()
        };
        assert_eq!(
            h.reduced_side(true, 0),
            Some(vec![(0, 1.0), (1, 5.0), (2, 4.0)])
        );
        assert_eq!(h.reduced_side(true, 2), None);
    }

    #[test]
    fn fraction_below() {
        let b = Bucket {
            lower: 1.0,
            upper: 4.0,
            lower_inclusive: false,
            upper_inclusive: true,
            count: 1.0,
            index: 0,
        };
        assert_eq!(b.fraction_below(2.0, false), 0.5);
        assert_eq!(b.fraction_below(2.5, true), 0.5);
        let n = Bucket {
            lower: -4.0,
            upper: -1.0,
            ..b
        };
        assert_eq!(n.fraction_below(-2.0, false), 0.5);
    }
}
