//! Collecting warnings and infos with Prometheus' messages, deduplicated by
//! message as Prometheus does.

use std::collections::HashMap;

use super::{Annotation, AnnotationLevel};
use crate::parser::Span;

/// Accumulated annotations of one query.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    list: Vec<Annotation>,
    index: HashMap<(AnnotationLevel, String), usize>,
    monotonicity: Vec<Monotonicity>,
    /// Start-time overlap warnings: (metric name, span, occurrences).
    overlaps: Vec<(String, Span, usize)>,
}

/// The histogram_quantile monotonicity info merges across steps and series.
#[derive(Debug)]
struct Monotonicity {
    message: String,
    span: Span,
    min_ts: i64,
    max_ts: i64,
    min_bucket: f64,
    max_bucket: f64,
    max_diff: f64,
    count: usize,
}

pub(crate) const MONOTONICITY_MSG: &str = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)";

impl Annotations {
    pub fn warn(&mut self, message: String, span: Span) {
        self.add(AnnotationLevel::Warning, message, span);
    }

    pub fn info(&mut self, message: String, span: Span) {
        self.add(AnnotationLevel::Info, message, span);
    }

    fn add(&mut self, level: AnnotationLevel, message: String, span: Span) {
        let key = (level, message);
        if self.index.contains_key(&key) {
            return;
        }
        self.index.insert(key.clone(), self.list.len());
        self.list.push(Annotation {
            level,
            message: key.1,
            span: Some(span),
        });
    }

    /// Appends the annotations `other` collected (on another thread, for a
    /// later part of the same evaluation), as if they had been added here.
    pub fn merge(&mut self, other: Annotations) {
        for a in other.list {
            if let Some(span) = a.span {
                self.add(a.level, a.message, span);
            }
        }
        for m in other.monotonicity {
            match self
                .monotonicity
                .iter_mut()
                .find(|x| x.message == m.message)
            {
                Some(x) => {
                    x.min_ts = x.min_ts.min(m.min_ts);
                    x.max_ts = x.max_ts.max(m.max_ts);
                    x.min_bucket = x.min_bucket.min(m.min_bucket);
                    x.max_bucket = x.max_bucket.max(m.max_bucket);
                    x.max_diff = x.max_diff.max(m.max_diff);
                    x.count += m.count + 1;
                }
                None => self.monotonicity.push(m),
            }
        }
        for (name, span, count) in other.overlaps {
            match self.overlaps.iter_mut().find(|o| o.0 == name) {
                Some(o) => o.2 += count,
                None => self.overlaps.push((name, span, count)),
            }
        }
    }

    /// Records one forced-monotonicity fix-up of histogram_quantile.
    pub fn monotonicity(
        &mut self,
        metric_name: &str,
        span: Span,
        ts: i64,
        min_bucket: f64,
        max_bucket: f64,
        max_diff: f64,
    ) {
        let message = with_metric_name(MONOTONICITY_MSG.to_string(), metric_name);
        if let Some(m) = self.monotonicity.iter_mut().find(|m| m.message == message) {
            m.min_ts = m.min_ts.min(ts);
            m.max_ts = m.max_ts.max(ts);
            m.min_bucket = m.min_bucket.min(min_bucket);
            m.max_bucket = m.max_bucket.max(max_bucket);
            m.max_diff = m.max_diff.max(max_diff);
            m.count += 1;
            return;
        }
        self.monotonicity.push(Monotonicity {
            message,
            span,
            min_ts: ts,
            max_ts: ts,
            min_bucket,
            max_bucket,
            max_diff,
            count: 0,
        });
    }

    /// Records a sample whose start time overlaps the previous sample.
    pub fn start_time_overlap(&mut self, metric_name: &str, span: Span) {
        match self.overlaps.iter_mut().find(|o| o.0 == metric_name) {
            Some(o) => o.2 += 1,
            None => self.overlaps.push((metric_name.to_string(), span, 1)),
        }
    }

    pub fn into_vec(mut self) -> Vec<Annotation> {
        for (name, span, count) in std::mem::take(&mut self.overlaps) {
            let mut message = format!(
                "sample has start time that overlaps with previous sample timestamp for metric {}",
                go_quote(&name)
            );
            if count > 1 {
                message.push_str(&format!(" ({count} occurrences)"));
            }
            self.add(AnnotationLevel::Warning, message, span);
        }
        for m in std::mem::take(&mut self.monotonicity) {
            let message = format!(
                "{}, from buckets {} to {}, with a max diff of {}, over {} samples from {} to {}",
                m.message,
                go_g(m.min_bucket),
                go_g(m.max_bucket),
                go_g_prec(m.max_diff, 2),
                m.count + 1,
                rfc3339(m.min_ts),
                rfc3339(m.max_ts)
            );
            self.add(AnnotationLevel::Info, message, m.span);
        }
        self.list
    }
}

/// Appends ` for metric name "x"` when the name is known.
pub(crate) fn with_metric_name(msg: String, metric_name: &str) -> String {
    if metric_name.is_empty() {
        msg
    } else {
        format!("{msg} for metric name {}", go_quote(metric_name))
    }
}

pub(crate) use crate::model::quote::go_quote;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Go's `%g` for a float (shortest digits).
pub(crate) fn go_g(v: f64) -> String {
    crate::model::float_format::format_go_g(v)
}

/// Go's `%.Ng` for a float.
pub(crate) fn go_g_prec(v: f64, prec: usize) -> String {
    if !v.is_finite() {
        return go_g(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec.saturating_sub(1), v);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if e < -4 || e >= prec as i32 {
        format!(
            "{}e{}{:02}",
            trim(mant),
            if e < 0 { '-' } else { '+' },
            e.abs()
        )
    } else {
        let decimals = (prec as i32 - 1 - e).max(0) as usize;
        trim(&format!("{:.*}", decimals, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        assert_eq!(go_g(1.1), "1.1");
        assert_eq!(go_g(-1.0), "-1");
        assert_eq!(go_g(f64::NAN), "NaN");
        assert_eq!(go_g_prec(0.123456, 2), "0.12");
        assert_eq!(go_g_prec(1234.0, 2), "1.2e+03");
        assert_eq!(go_g_prec(5.0, 2), "5");
    }
}
