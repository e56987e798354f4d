//! Bucket layouts: spans <-> indexed buckets, compaction and comparison.

use super::{BucketSpan, FloatHistogram};

/// The buckets of one side (positive or negative) as `(index, count)` pairs in
/// ascending index order.
pub type IndexedBuckets = Vec<(i32, f64)>;

/// Iterates `(index, count)` of the buckets that `spans` lay out over
/// `counts`. Stops early if the counts run out (a malformed histogram).
pub fn indexed<'a>(
    spans: &'a [BucketSpan],
    counts: &'a [f64],
) -> impl Iterator<Item = (i32, f64)> + 'a {
    let mut next_index: i64 = 0;
    spans
        .iter()
        .flat_map(move |span| {
            next_index += i64::from(span.offset);
            let start = next_index;
            next_index += i64::from(span.length);
            start..next_index
        })
        .zip(counts.iter().copied())
        .map(|(i, v)| (saturate(i), v))
}

/// For canonical spans (every span non-empty, every offset after the first
/// positive, indices within `i32`) laying out exactly `buckets` buckets, the
/// number of leading buckets whose index satisfies `skip`; `None` for any
/// other layout.
pub fn canonical_skip(
    spans: &[BucketSpan],
    buckets: usize,
    skip: impl Fn(i64) -> bool,
) -> Option<usize> {
    let mut index = 0i64;
    let mut total = 0usize;
    let mut skipped = 0usize;
    let mut skipping = true;
    for (n, span) in spans.iter().enumerate() {
        if span.length == 0 || (n > 0 && span.offset <= 0) {
            return None;
        }
        index += i64::from(span.offset);
        let end = index + i64::from(span.length);
        if index < i64::from(i32::MIN) || end > i64::from(i32::MAX) {
            return None;
        }
        while skipping && index < end {
            if skip(index) {
                skipped += 1;
                index += 1;
            } else {
                skipping = false;
            }
        }
        index = end;
        total += span.length as usize;
    }
    (total == buckets).then_some(skipped)
}

/// The buckets of `spans`/`counts` as sorted `(index, count)` pairs. Layouts
/// that repeat an index (only malformed spans can) have the counts summed.
pub fn to_indexed(spans: &[BucketSpan], counts: &[f64]) -> IndexedBuckets {
    let mut out: IndexedBuckets = indexed(spans, counts).collect();
    if !out.windows(2).all(|w| w[0].0 < w[1].0) {
        out.sort_by_key(|b| b.0);
        out.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 += later.1;
                true
            } else {
                false
            }
        });
    }
    out
}

/// Spans and counts for sorted `(index, count)` pairs; consecutive indices
/// share a span.
pub fn from_indexed(buckets: &[(i32, f64)]) -> (Vec<BucketSpan>, Vec<f64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut counts = Vec::with_capacity(buckets.len());
    let mut next: Option<i64> = None;
    for &(index, count) in buckets {
        let index = i64::from(index);
        match (next, spans.last_mut()) {
            (Some(n), Some(span)) if n == index => span.length += 1,
            _ => spans.push(BucketSpan {
                offset: saturate(index - next.unwrap_or(0)),
                length: 1,
            }),
        }
        counts.push(count);
        next = Some(index + 1);
    }
    (spans, counts)
}

pub(super) fn saturate(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

/// Spans with zero-length spans folded into their successor, the form in
/// which upstream compares layouts.
fn normalized_spans(spans: &[BucketSpan]) -> Vec<BucketSpan> {
    let mut out = Vec::with_capacity(spans.len());
    let mut carry: i64 = 0;
    for s in spans {
        if s.length == 0 {
            carry += i64::from(s.offset);
            continue;
        }
        out.push(BucketSpan {
            offset: saturate(carry + i64::from(s.offset)),
            length: s.length,
        });
        carry = 0;
    }
    out
}

/// Whether two span lists describe the same bucket layout, ignoring
/// zero-length spans (but not splitting: `[0:2]` differs from `[0:1, 0:1]`).
pub fn spans_match(a: &[BucketSpan], b: &[BucketSpan]) -> bool {
    normalized_spans(a) == normalized_spans(b)
}

fn bits_equal(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Removes empty buckets from one side, keeping runs of at most `max_empty`
/// empty buckets inside a span and merging spans that are at most
/// `max_empty` buckets apart.
fn compact_side(spans: &mut Vec<BucketSpan>, counts: &mut Vec<f64>, max_empty: usize) {
    // Already compact: canonical spans farther apart than `max_empty`, and
    // no empty bucket. Rebuilding would give the same spans and counts.
    let far_apart = spans
        .iter()
        .skip(1)
        .all(|s| u64::try_from(s.offset).is_ok_and(|gap| gap > max_empty as u64));
    if far_apart
        && !counts.contains(&0.0)
        && canonical_skip(spans, counts.len(), |_| false).is_some()
    {
        return;
    }
    let kept: Vec<(i32, f64)> = indexed(spans, counts).filter(|&(_, v)| v != 0.0).collect();
    let mut new_spans: Vec<BucketSpan> = Vec::new();
    let mut new_counts = Vec::with_capacity(kept.len());
    let mut next: Option<i64> = None;
    for (idx, v) in kept {
        let idx64 = i64::from(idx);
        let gap = next.map(|n| idx64 - n);
        match (gap, new_spans.last_mut()) {
            (Some(g), Some(span)) if g >= 0 && (g as u64) <= max_empty as u64 => {
                let g32 = u32::try_from(g).unwrap_or(0);
                span.length += g32 + 1;
                new_counts.extend(std::iter::repeat_n(0.0, g32 as usize));
            }
            _ => new_spans.push(BucketSpan {
                offset: saturate(idx64 - next.unwrap_or(0)),
                length: 1,
            }),
        }
        new_counts.push(v);
        next = Some(idx64 + 1);
    }
    *spans = new_spans;
    *counts = new_counts;
}

impl FloatHistogram {
    /// Removes empty buckets at the edges of spans and runs of more than
    /// `max_empty` empty buckets inside them, and merges spans at most
    /// `max_empty` buckets apart (Prometheus' `Compact`). `compact(0)` leaves
    /// no empty bucket at all; the engine applies it to every computed
    /// histogram.
    pub fn compact(&mut self, max_empty: usize) -> &mut Self {
        compact_side(
            &mut self.positive_spans,
            &mut self.positive_buckets,
            max_empty,
        );
        compact_side(
            &mut self.negative_spans,
            &mut self.negative_buckets,
            max_empty,
        );
        self
    }

    /// Prometheus' `Equals`: same schema, zero threshold, layout (ignoring
    /// zero-length spans) and custom bounds (custom schema only), and
    /// bit-identical count, sum, zero count and bucket counts. The
    /// counter-reset hint is ignored. This is what `==`/`!=` between
    /// histograms and `changes()` use.
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        self.schema == other.schema
            && self.count.to_bits() == other.count.to_bits()
            && self.sum.to_bits() == other.sum.to_bits()
            && (!self.uses_custom_buckets() || self.custom_values == other.custom_values)
            && self.zero_threshold == other.zero_threshold
            && self.zero_count.to_bits() == other.zero_count.to_bits()
            && spans_match(&self.negative_spans, &other.negative_spans)
            && bits_equal(&self.negative_buckets, &other.negative_buckets)
            && spans_match(&self.positive_spans, &other.positive_spans)
            && bits_equal(&self.positive_buckets, &other.positive_buckets)
    }

    /// Exact structural equality: every field including the counter-reset
    /// hint and the literal spans, floats compared bit for bit (so NaN equals
    /// NaN and `0.0` differs from `-0.0`).
    pub fn layout_eq(&self, other: &FloatHistogram) -> bool {
        self.counter_reset_hint == other.counter_reset_hint
            && self.schema == other.schema
            && self.zero_threshold.to_bits() == other.zero_threshold.to_bits()
            && self.zero_count.to_bits() == other.zero_count.to_bits()
            && self.count.to_bits() == other.count.to_bits()
            && self.sum.to_bits() == other.sum.to_bits()
            && self.positive_spans == other.positive_spans
            && self.negative_spans == other.negative_spans
            && bits_equal(&self.positive_buckets, &other.positive_buckets)
            && bits_equal(&self.negative_buckets, &other.negative_buckets)
            && bits_equal(&self.custom_values, &other.custom_values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    #[test]
    fn indexed_roundtrip() {
        let spans = [span(-2, 2), span(3, 1)];
        let counts = [1.0, 2.0, 3.0];
        let idx = to_indexed(&spans, &counts);
        assert_eq!(idx, vec![(-2, 1.0), (-1, 2.0), (3, 3.0)]);
        let (s, c) = from_indexed(&idx);
        assert_eq!(s, spans.to_vec());
        assert_eq!(c, counts.to_vec());
    }

    #[test]
    fn indexed_stops_on_missing_counts() {
        let spans = [span(0, 3)];
        assert_eq!(to_indexed(&spans, &[1.0]), vec![(0, 1.0)]);
    }

    #[test]
    fn compact_removes_all_empty_buckets() {
        let mut h = FloatHistogram {
            positive_spans: vec![span(0, 4), span(0, 2), span(2, 1)],
            positive_buckets: vec![0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 3.0],
            ..Default::default()
        };
        h.compact(0);
        assert_eq!(h.positive_spans, vec![span(1, 1), span(1, 1), span(4, 1)]);
        assert_eq!(h.positive_buckets, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn compact_keeps_small_gaps() {
        let mut h = FloatHistogram {
            positive_spans: vec![span(1, 1), span(1, 1), span(4, 1)],
            positive_buckets: vec![1.0, 2.0, 3.0],
            ..Default::default()
        };
        h.compact(1);
        assert_eq!(h.positive_spans, vec![span(1, 3), span(4, 1)]);
        assert_eq!(h.positive_buckets, vec![1.0, 0.0, 2.0, 3.0]);
        h.compact(usize::MAX);
        assert_eq!(h.positive_spans, vec![span(1, 8)]);
        assert_eq!(h.positive_buckets.len(), 8);
    }

    #[test]
    fn equals_ignores_hint_and_empty_spans_but_not_layout() {
        let a = FloatHistogram {
            count: 3.0,
            sum: 1.0,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1.0, 2.0],
            ..Default::default()
        };
        let mut b = a.clone();
        b.counter_reset_hint = super::super::CounterResetHint::Gauge;
        b.positive_spans = vec![span(0, 0), span(0, 2)];
        assert!(a.equals(&b));
        assert!(!a.layout_eq(&b));
        let mut c = a.clone();
        c.positive_spans = vec![span(0, 1), span(0, 1)];
        assert!(!a.equals(&c));
        let mut d = a.clone();
        d.sum = f64::NAN;
        let e = d.clone();
        assert!(d.equals(&e), "NaN sums compare by bits");
    }

    proptest::proptest! {
        /// Compacting an already compact side keeps it as it is, exactly as
        /// rebuilding it would (forced by a trailing empty span).
        #[test]
        fn compact_shortcut_matches_rebuilding(
            gaps in proptest::collection::vec((-3i32..4, 0u32..4), 0..5),
            counts in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(0.0),
                proptest::strategy::Just(f64::NAN),
                1.0f64..5.0,
            ], 16),
            max_empty in 0usize..3,
        ) {
            let spans: Vec<BucketSpan> =
                gaps.iter().map(|&(offset, length)| BucketSpan { offset, length }).collect();
            let n: usize = spans.iter().map(|s| s.length as usize).sum();
            let counts: Vec<f64> = counts.into_iter().cycle().take(n).collect();
            let (mut fast_spans, mut fast_counts) = (spans.clone(), counts.clone());
            compact_side(&mut fast_spans, &mut fast_counts, max_empty);
            let mut slow_spans = spans.clone();
            slow_spans.push(BucketSpan { offset: 1, length: 0 });
            let mut slow_counts = counts.clone();
            compact_side(&mut slow_spans, &mut slow_counts, max_empty);
            proptest::prop_assert_eq!(&fast_spans, &slow_spans);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&fast_counts), bits(&slow_counts));
        }
    }
}
