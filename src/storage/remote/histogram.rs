//! Native-histogram samples of SAMPLES responses, converted to
//! [`FloatHistogram`]s.

use super::proto;
use crate::model::{BucketSpan, CounterResetHint, FloatHistogram};

/// Converts one protobuf histogram. Integer histograms carry bucket counts as
/// deltas from the previous bucket; float histograms carry them absolute.
pub(crate) fn to_float_histogram(h: &proto::Histogram) -> FloatHistogram {
    let is_float = h.count_float.is_some()
        || h.zero_count_float.is_some()
        || !h.positive_counts.is_empty()
        || !h.negative_counts.is_empty();
    let (count, zero_count, positive_buckets, negative_buckets) = if is_float {
        (
            h.count_float.unwrap_or(0.0),
            h.zero_count_float.unwrap_or(0.0),
            h.positive_counts.clone(),
            h.negative_counts.clone(),
        )
    } else {
        (
            h.count_int.unwrap_or(0) as f64,
            h.zero_count_int.unwrap_or(0) as f64,
            absolute(&h.positive_deltas),
            absolute(&h.negative_deltas),
        )
    };
    FloatHistogram {
        counter_reset_hint: match h.reset_hint {
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        },
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count,
        count,
        sum: h.sum,
        positive_spans: spans(&h.positive_spans),
        positive_buckets,
        negative_spans: spans(&h.negative_spans),
        negative_buckets,
        custom_values: h.custom_values.clone(),
    }
}

/// Running sums of bucket deltas (wrapping like the integer counts they encode).
fn absolute(deltas: &[i64]) -> Vec<f64> {
    deltas
        .iter()
        .scan(0i64, |count, d| {
            *count = count.wrapping_add(*d);
            Some(*count as f64)
        })
        .collect()
}

fn spans(spans: &[proto::BucketSpan]) -> Vec<BucketSpan> {
    spans
        .iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: i32, length: u32) -> proto::BucketSpan {
        proto::BucketSpan { offset, length }
    }

    #[test]
    fn integer_histogram_deltas_become_counts() {
        let h = proto::Histogram {
            count_int: Some(12),
            sum: 34.5,
            schema: 1,
            zero_threshold: 0.001,
            zero_count_int: Some(2),
            positive_spans: vec![span(0, 2), span(3, 1)],
            positive_deltas: vec![3, 1, -2],
            negative_spans: vec![span(-1, 1)],
            negative_deltas: vec![2],
            reset_hint: 2,
            timestamp: 1000,
            ..Default::default()
        };
        let f = to_float_histogram(&h);
        assert_eq!((f.count, f.zero_count, f.sum), (12.0, 2.0, 34.5));
        assert_eq!(f.positive_buckets, vec![3.0, 4.0, 2.0]);
        assert_eq!(f.negative_buckets, vec![2.0]);
        assert_eq!(
            f.positive_spans,
            vec![
                BucketSpan {
                    offset: 0,
                    length: 2
                },
                BucketSpan {
                    offset: 3,
                    length: 1
                }
            ]
        );
        assert_eq!(f.counter_reset_hint, CounterResetHint::NotCounterReset);
        assert_eq!((f.schema, f.zero_threshold), (1, 0.001));
    }

    #[test]
    fn float_histogram_counts_are_kept() {
        let h = proto::Histogram {
            count_float: Some(5.5),
            zero_count_float: Some(0.5),
            schema: -53,
            positive_spans: vec![span(0, 2)],
            positive_counts: vec![1.5, 3.5],
            custom_values: vec![0.1, 1.0],
            reset_hint: 3,
            ..Default::default()
        };
        let f = to_float_histogram(&h);
        assert_eq!((f.count, f.zero_count), (5.5, 0.5));
        assert_eq!(f.positive_buckets, vec![1.5, 3.5]);
        assert_eq!(f.custom_values, vec![0.1, 1.0]);
        assert_eq!(f.counter_reset_hint, CounterResetHint::Gauge);
    }
}
