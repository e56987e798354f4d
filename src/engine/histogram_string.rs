//! The text form Prometheus gives a native histogram (Go's
//! `FloatHistogram.String()`), used as the label value by `count_values`.

use super::annotations::go_g;
use crate::model::{BucketSpan, FloatHistogram};

const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Upper bound of bucket `idx` in an exponential schema.
fn exponential_bound(idx: i32, schema: i32) -> f64 {
    if schema <= 0 {
        let exp = (idx as i64) << (-schema).min(62);
        if exp >= 1024 {
            return f64::MAX;
        }
        return 2f64.powi(exp as i32);
    }
    2f64.powf(idx as f64 / f64::from(1u32 << schema.min(30)))
}

fn bound(h: &FloatHistogram, idx: i32) -> f64 {
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        if idx < 0 {
            return f64::NEG_INFINITY;
        }
        return h
            .custom_values
            .get(idx as usize)
            .copied()
            .unwrap_or(f64::INFINITY);
    }
    exponential_bound(idx, h.schema)
}

/// `(bucket index, count)` for every bucket described by `spans`.
fn indexed(spans: &[BucketSpan], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::new();
    let mut idx: i32 = 0;
    let mut c = counts.iter();
    for (n, s) in spans.iter().enumerate() {
        idx = if n == 0 {
            s.offset
        } else {
            idx.saturating_add(s.offset)
        };
        for _ in 0..s.length {
            match c.next() {
                Some(&v) => out.push((idx, v)),
                None => return out,
            }
            idx = idx.saturating_add(1);
        }
    }
    out
}

/// Formats `h` as `{count:20, sum:10, [-2,-1):2, [-0.001,0.001]:2, (0.5,1]:1}`.
pub(crate) fn histogram_string(h: &FloatHistogram) -> String {
    let mut s = format!("{{count:{}, sum:{}", go_g(h.count), go_g(h.sum));
    for (idx, count) in indexed(&h.negative_spans, &h.negative_buckets)
        .into_iter()
        .rev()
    {
        if count != 0.0 {
            let (lo, hi) = (-bound(h, idx), -bound(h, idx.saturating_sub(1)));
            s.push_str(&format!(", [{},{}):{}", go_g(lo), go_g(hi), go_g(count)));
        }
    }
    if h.zero_count != 0.0 {
        s.push_str(&format!(
            ", [{},{}]:{}",
            go_g(-h.zero_threshold),
            go_g(h.zero_threshold),
            go_g(h.zero_count)
        ));
    }
    for (idx, count) in indexed(&h.positive_spans, &h.positive_buckets) {
        if count != 0.0 {
            let (lo, hi) = (bound(h, idx.saturating_sub(1)), bound(h, idx));
            s.push_str(&format!(", ({},{}]:{}", go_g(lo), go_g(hi), go_g(count)));
        }
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_prometheus() {
        let span = BucketSpan {
            offset: 0,
            length: 2,
        };
        let h = FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 20.0,
            sum: 10.0,
            positive_spans: vec![span],
            positive_buckets: vec![1.0, 2.0],
            negative_spans: vec![span],
            negative_buckets: vec![1.0, 2.0],
            ..Default::default()
        };
        assert_eq!(
            histogram_string(&h),
            "{count:20, sum:10, [-2,-1):2, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:2}"
        );
    }
}
