//! Adding and subtracting histograms for the `{{a}}+{{b}}xN` expansion.
//!
//! Works on sparse bucket maps: both operands are brought to the coarser
//! schema and the wider zero bucket, then added index by index.

use std::collections::BTreeMap;

use crate::model::{BucketSpan, CounterResetHint, FloatHistogram};

const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Bucket index -> count.
type Buckets = BTreeMap<i32, f64>;

fn to_map(spans: &[BucketSpan], counts: &[f64]) -> Buckets {
    let mut out = Buckets::new();
    let mut idx: i32 = 0;
    let mut values = counts.iter();
    for span in spans {
        idx = idx.saturating_add(span.offset);
        for _ in 0..span.length {
            if let Some(v) = values.next() {
                *out.entry(idx).or_default() += v;
            }
            idx = idx.saturating_add(1);
        }
    }
    out
}

fn from_map(map: &Buckets) -> (Vec<BucketSpan>, Vec<f64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut counts = Vec::with_capacity(map.len());
    let mut next: Option<i64> = None; // index right after the current span
    for (&idx, &v) in map {
        let idx = i64::from(idx);
        match (next, spans.last_mut()) {
            (Some(n), Some(span)) if n == idx => span.length += 1,
            _ => spans.push(BucketSpan {
                offset: saturate(idx - next.unwrap_or(0)),
                length: 1,
            }),
        }
        counts.push(v);
        next = Some(idx + 1);
    }
    (spans, counts)
}

fn saturate(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

/// Index of the bucket at schema `to` that contains bucket `idx` of schema `from` (`to < from`).
fn reduce_index(idx: i32, from: i32, to: i32) -> i32 {
    let shift = (i64::from(from) - i64::from(to)).clamp(0, 62);
    saturate(((i64::from(idx) - 1) >> shift) + 1)
}

fn reduce(map: &Buckets, from: i32, to: i32) -> Buckets {
    if from <= to {
        return map.clone();
    }
    let mut out = Buckets::new();
    for (&idx, &v) in map {
        *out.entry(reduce_index(idx, from, to)).or_default() += v;
    }
    out
}

/// Upper bound of exponential bucket `idx` at `schema`.
fn upper_bound(idx: i32, schema: i32) -> f64 {
    (f64::from(idx) * (-f64::from(schema)).exp2()).exp2()
}

/// Moves every bucket that reaches below `threshold` into the zero bucket,
/// widening the threshold to that bucket's upper bound. Returns the new
/// threshold and the zero count added.
fn widen_zero_bucket(
    schema: i32,
    threshold: f64,
    pos: &mut Buckets,
    neg: &mut Buckets,
) -> (f64, f64) {
    let mut threshold = threshold;
    let mut moved = 0.0;
    loop {
        let mut changed = false;
        for map in [&mut *pos, &mut *neg] {
            while let Some((&idx, &v)) = map.iter().next() {
                if upper_bound(idx.saturating_sub(1), schema) >= threshold {
                    break;
                }
                map.remove(&idx);
                moved += v;
                let ub = upper_bound(idx, schema);
                if ub > threshold {
                    threshold = ub;
                }
                changed = true;
            }
        }
        if !changed {
            return (threshold, moved);
        }
    }
}

fn combined_hint(a: CounterResetHint, b: CounterResetHint) -> CounterResetHint {
    use CounterResetHint::*;
    match (a, b) {
        _ if a == b => a,
        (Gauge, _) | (_, Gauge) => Gauge,
        _ => Unknown,
    }
}

/// `a + sign * b`, as the series notation's `+`/`-` expansion needs it.
pub(crate) fn combine(
    a: &FloatHistogram,
    b: &FloatHistogram,
    sign: f64,
) -> Result<FloatHistogram, String> {
    if a.schema > b.schema {
        return Err(format!(
            "error combining histograms: cannot merge from schema {} to {}",
            b.schema, a.schema
        ));
    }
    let a_custom = a.schema == CUSTOM_BUCKETS_SCHEMA;
    let b_custom = b.schema == CUSTOM_BUCKETS_SCHEMA;
    if a_custom != b_custom {
        return Err(
            "cannot apply this operation on custom buckets histograms and exponential histograms"
                .into(),
        );
    }
    if a_custom && a.custom_values != b.custom_values {
        return Err("cannot combine custom-bucket histograms with different bucket bounds".into());
    }
    let schema = a.schema;
    let mut out = FloatHistogram {
        counter_reset_hint: combined_hint(a.counter_reset_hint, b.counter_reset_hint),
        schema,
        count: a.count + sign * b.count,
        sum: a.sum + sign * b.sum,
        custom_values: a.custom_values.clone(),
        ..Default::default()
    };
    let mut a_pos = to_map(&a.positive_spans, &a.positive_buckets);
    let mut a_neg = to_map(&a.negative_spans, &a.negative_buckets);
    let mut b_pos = reduce(
        &to_map(&b.positive_spans, &b.positive_buckets),
        b.schema,
        schema,
    );
    let mut b_neg = reduce(
        &to_map(&b.negative_spans, &b.negative_buckets),
        b.schema,
        schema,
    );
    let (mut a_zero, mut b_zero) = (a.zero_count, b.zero_count);
    let mut threshold = a.zero_threshold.max(b.zero_threshold);
    if !a_custom && a.zero_threshold != b.zero_threshold {
        // Widen both zero buckets to a common threshold.
        loop {
            let (t1, m1) = widen_zero_bucket(schema, threshold, &mut a_pos, &mut a_neg);
            let (t2, m2) = widen_zero_bucket(schema, t1, &mut b_pos, &mut b_neg);
            a_zero += m1;
            b_zero += m2;
            let done = t2 == threshold;
            threshold = t2;
            if done {
                break;
            }
        }
    }
    out.zero_threshold = if a_custom { 0.0 } else { threshold };
    out.zero_count = if a_custom {
        0.0
    } else {
        a_zero + sign * b_zero
    };
    for (idx, v) in b_pos {
        *a_pos.entry(idx).or_default() += sign * v;
    }
    for (idx, v) in b_neg {
        *a_neg.entry(idx).or_default() += sign * v;
    }
    (out.positive_spans, out.positive_buckets) = from_map(&a_pos);
    if !a_custom {
        (out.negative_spans, out.negative_buckets) = from_map(&a_neg);
    }
    Ok(out)
}

/// Absolute bucket indices and counts, skipping empty buckets: a layout
/// independent view used to compare histograms.
pub(crate) fn nonzero_buckets(spans: &[BucketSpan], counts: &[f64]) -> Vec<(i32, f64)> {
    to_map(spans, counts)
        .into_iter()
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(schema: i32, offset: i32, buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count: buckets.iter().sum(),
            positive_spans: vec![BucketSpan {
                offset,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn adds_with_different_layouts() {
        let a = hist(0, 0, &[1.0, 2.0, 1.0]);
        let b = hist(0, 1, &[1.0]);
        let c = combine(&a, &b, 1.0).unwrap();
        assert_eq!(c.positive_buckets, vec![1.0, 3.0, 1.0]);
        assert_eq!(c.count, 5.0);
        let d = combine(&a, &hist(0, 5, &[2.0]), -1.0).unwrap();
        assert_eq!(
            nonzero_buckets(&d.positive_spans, &d.positive_buckets),
            vec![(0, 1.0), (1, 2.0), (2, 1.0), (5, -2.0)]
        );
        assert_eq!(
            d.positive_spans,
            vec![
                BucketSpan {
                    offset: 0,
                    length: 3
                },
                BucketSpan {
                    offset: 2,
                    length: 1
                }
            ]
        );
    }

    #[test]
    fn reduces_finer_schema() {
        // schema 0 buckets 1 and 2 fall into schema -1 bucket 1.
        let a = hist(-1, 1, &[1.0]);
        let b = hist(0, 1, &[2.0, 2.0]);
        let c = combine(&a, &b, 1.0).unwrap();
        assert_eq!(c.schema, -1);
        assert_eq!(
            nonzero_buckets(&c.positive_spans, &c.positive_buckets),
            vec![(1, 5.0)]
        );
        assert!(combine(&b, &a, 1.0).is_err());
    }

    #[test]
    fn hints_combine() {
        let mut a = hist(0, 0, &[1.0]);
        a.counter_reset_hint = CounterResetHint::Gauge;
        let b = hist(0, 0, &[1.0]);
        assert_eq!(
            combine(&a, &b, 1.0).unwrap().counter_reset_hint,
            CounterResetHint::Gauge
        );
        assert_eq!(
            combine(&b, &b, 1.0).unwrap().counter_reset_hint,
            CounterResetHint::Unknown
        );
    }
}
