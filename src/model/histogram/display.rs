//! Text forms of a histogram: the test notation (`Display`) and the short
//! bucket list Prometheus prints (`go_string`).

use std::fmt;

use crate::model::float_format::format_go_g;

use super::layout::to_indexed;
use super::{CounterResetHint, FloatHistogram};

/// A float as Go's `%g` prints it (see [`format_go_g`]).
pub fn go_g(v: f64) -> String {
    format_go_g(v)
}

/// The buckets of one side from the first to the last non-empty one, with
/// empty buckets in between filled in: `(offset, counts)`.
fn dense_side(spans: &[super::BucketSpan], counts: &[f64]) -> Option<(i32, Vec<f64>)> {
    let buckets = to_indexed(spans, counts);
    let first = buckets.iter().position(|b| b.1 != 0.0)?;
    let last = buckets.iter().rposition(|b| b.1 != 0.0)?;
    let kept = buckets.get(first..=last)?;
    let start = kept.first()?.0;
    let mut dense = Vec::with_capacity(kept.len());
    let mut next = i64::from(start);
    for &(i, c) in kept {
        while next < i64::from(i) {
            dense.push(0.0);
            next += 1;
        }
        dense.push(c);
        next += 1;
    }
    Some((start, dense))
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| go_g(*v))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for FloatHistogram {
    /// The series notation of test scripts and rule unit tests, as
    /// Prometheus' `TestExpression` writes it: `{{schema:1 count:4 sum:5
    /// z_bucket:1 z_bucket_w:0.001 custom_values:[...] counter_reset_hint:gauge
    /// offset:1 buckets:[1 2] n_offset:0 n_buckets:[1]}}`, zero-valued fields
    /// left out and empty edge buckets dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.schema != 0 {
            parts.push(format!("schema:{}", self.schema));
        }
        if self.count != 0.0 {
            parts.push(format!("count:{}", go_g(self.count)));
        }
        if self.sum != 0.0 {
            parts.push(format!("sum:{}", go_g(self.sum)));
        }
        if self.zero_count != 0.0 {
            parts.push(format!("z_bucket:{}", go_g(self.zero_count)));
        }
        if self.zero_threshold != 0.0 {
            parts.push(format!("z_bucket_w:{}", go_g(self.zero_threshold)));
        }
        if self.uses_custom_buckets() {
            parts.push(format!("custom_values:[{}]", list(&self.custom_values)));
        }
        match self.counter_reset_hint {
            CounterResetHint::Unknown => {}
            CounterResetHint::CounterReset => parts.push("counter_reset_hint:reset".into()),
            CounterResetHint::NotCounterReset => parts.push("counter_reset_hint:not_reset".into()),
            CounterResetHint::Gauge => parts.push("counter_reset_hint:gauge".into()),
        }
        for (prefix, spans, counts) in [
            ("", &self.positive_spans, &self.positive_buckets),
            ("n_", &self.negative_spans, &self.negative_buckets),
        ] {
            if let Some((offset, dense)) = dense_side(spans, counts) {
                if offset != 0 {
                    parts.push(format!("{prefix}offset:{offset}"));
                }
                parts.push(format!("{prefix}buckets:[{}]", list(&dense)));
            }
        }
        write!(f, "{{{{{}}}}}", parts.join(" "))
    }
}

impl FloatHistogram {
    /// The short form Prometheus' `String()` gives, listing the non-empty
    /// buckets in ascending order: `{count:4, sum:5, [-1,-0.5):1,
    /// [-0.001,0.001]:2, (0.5,1]:1}`.
    pub fn go_string(&self) -> String {
        let mut s = format!("{{count:{}, sum:{}", go_g(self.count), go_g(self.sum));
        let negative: Vec<_> = self
            .negative_bucket_iter()
            .filter(|b| b.count != 0.0)
            .collect();
        for b in negative.iter().rev() {
            s.push_str(&format!(", {b}"));
        }
        if let Some(z) = self.zero_bucket().filter(|z| z.count != 0.0) {
            s.push_str(&format!(", {z}"));
        }
        for b in self.positive_bucket_iter().filter(|b| b.count != 0.0) {
            s.push_str(&format!(", {b}"));
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(go_g(1.0), "1");
        assert_eq!(go_g(0.001), "0.001");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_g(123456.0), "123456");
        assert_eq!(go_g(1234567.0), "1.234567e+06");
        assert_eq!(go_g(f64::INFINITY), "+Inf");
        assert_eq!(go_g(-0.0), "-0");
    }

    #[test]
    fn test_expression() {
        let h = FloatHistogram {
            schema: 1,
            count: 5.0,
            sum: 2.5,
            zero_count: 1.0,
            zero_threshold: 0.001,
            counter_reset_hint: CounterResetHint::Gauge,
            positive_spans: vec![span(1, 2), span(2, 1)],
            positive_buckets: vec![0.0, 1.0, 2.0],
            negative_spans: vec![span(0, 1)],
            negative_buckets: vec![1.0],
            ..Default::default()
        };
        assert_eq!(
            h.to_string(),
            "{{schema:1 count:5 sum:2.5 z_bucket:1 z_bucket_w:0.001 counter_reset_hint:gauge \
             offset:2 buckets:[1 0 0 2] n_buckets:[1]}}"
        );
        assert_eq!(FloatHistogram::default().to_string(), "{{}}");
        let c = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 2.5],
            count: 1.0,
            positive_spans: vec![span(0, 1)],
            positive_buckets: vec![1.0],
            ..Default::default()
        };
        assert_eq!(
            c.to_string(),
            "{{schema:-53 count:1 custom_values:[1 2.5] buckets:[1]}}"
        );
    }

    #[test]
    fn go_string() {
        let h = FloatHistogram {
            count: 4.0,
            sum: 5.0,
            zero_count: 2.0,
            zero_threshold: 0.001,
            positive_spans: vec![span(0, 2)],
            positive_buckets: vec![1.0, 0.0],
            negative_spans: vec![span(0, 1)],
            negative_buckets: vec![1.0],
            ..Default::default()
        };
        assert_eq!(
            h.go_string(),
            "{count:4, sum:5, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1}"
        );
    }
}
