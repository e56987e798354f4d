//! `load_with_nhcb`: turning classic histogram series (`_bucket{le=..}`,
//! `_count`, `_sum`) into native histograms with custom buckets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::script::LoadCmd;
use crate::model::{BucketSpan, FloatHistogram, Labels, METRIC_NAME, Timestamp};
use crate::storage::series_notation::SeqValue;

const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// The classic histogram parts seen at one timestamp.
#[derive(Default)]
struct Parts {
    /// (upper bound, cumulative count), sorted by bound.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    error: Option<String>,
}

impl Parts {
    fn set_bucket(&mut self, le: f64, count: f64) {
        if self.error.is_some() {
            return;
        }
        if count < 0.0 {
            self.error = Some(format!(
                "bucket count must be non-negative: le={le}, count={count}"
            ));
            return;
        }
        let i = self.buckets.partition_point(|(b, _)| *b < le);
        if self.buckets.get(i).is_some_and(|(b, _)| *b == le) {
            return;
        }
        if i > 0 && count < self.buckets[i - 1].1 {
            self.error = Some(format!(
                "count is not cumulative: {count} < {}",
                self.buckets[i - 1].1
            ));
            return;
        }
        if let Some((_, next)) = self.buckets.get(i)
            && count > *next
        {
            self.error = Some(format!("count is not cumulative: {count} > {next}"));
            return;
        }
        self.buckets.insert(i, (le, count));
    }

    fn into_histogram(mut self) -> Result<FloatHistogram, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let count = self
            .count
            .unwrap_or_else(|| self.buckets.last().map_or(0.0, |b| b.1));
        if self.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        let last = self.buckets.last().map_or(0.0, |b| b.1);
        if count != last {
            return Err(format!(
                "count mismatch: count={count} != le=+Inf count={last}"
            ));
        }
        let mut prev = 0.0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (_, c) in &self.buckets {
            buckets.push(c - prev);
            prev = *c;
        }
        let custom_values = self.buckets[..self.buckets.len() - 1]
            .iter()
            .map(|b| b.0)
            .collect();
        Ok(FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: buckets.len() as u32,
            }],
            positive_buckets: buckets,
            custom_values,
            ..Default::default()
        })
    }
}

/// A converted series: labels and time-sorted histogram samples.
pub type ConvertedSeries = (Labels, Vec<(Timestamp, Arc<FloatHistogram>)>);

enum Part {
    Bucket(f64),
    Count,
    Sum,
}

/// The native histograms a `load_with_nhcb` block adds, by series, sorted by time.
pub fn convert(cmd: &LoadCmd) -> Result<Vec<ConvertedSeries>, String> {
    let mut groups: HashMap<Labels, BTreeMap<Timestamp, Parts>> = HashMap::new();
    for s in &cmd.series {
        let labels = &s.desc.labels;
        let name = labels.metric_name().unwrap_or("");
        let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
            let Some(le) = labels.get("le") else {
                return Err(format!("expected bucket label in metric {labels}"));
            };
            match le
                .parse::<f64>()
                .ok()
                .or_else(|| (le == "+Inf").then_some(f64::INFINITY))
            {
                Some(le) if !le.is_nan() => (b, Part::Bucket(le)),
                _ => continue,
            }
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, Part::Count)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, Part::Sum)
        } else {
            continue;
        };
        let mut builder = labels.builder();
        builder.set_mut(METRIC_NAME, base);
        builder.remove_mut("le");
        let by_time = groups.entry(builder.build()).or_default();
        let mut t: Timestamp = 0;
        for v in &s.desc.values {
            if let SeqValue::Float(f) = v {
                let parts = by_time.entry(t).or_default();
                match part {
                    Part::Bucket(le) => parts.set_bucket(le, *f),
                    Part::Count if *f < 0.0 => {
                        parts
                            .error
                            .get_or_insert(format!("count must be non-negative: count={f}"));
                    }
                    Part::Count => parts.count = Some(*f),
                    Part::Sum => parts.sum = *f,
                }
            }
            t = t.saturating_add(cmd.interval);
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, by_time) in groups {
        let mut points = Vec::with_capacity(by_time.len());
        for (t, parts) in by_time {
            points.push((t, Arc::new(parts.into_histogram()?)));
        }
        out.push((labels, points));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::script::{Command, Script};

    #[test]
    fn converts_classic_histograms() {
        let script = Script::parse(
            "load_with_nhcb 1m\n  h_bucket{le=\"1\",job=\"a\"} 1 2\n  h_bucket{le=\"+Inf\",job=\"a\"} 3 5\n  h_sum{job=\"a\"} 10 20\n  h_count{job=\"a\"} 3 5\n  other 1\n",
        )
        .unwrap();
        let Command::Load(load) = &script.commands[0] else {
            panic!("not load")
        };
        let out = convert(load).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].0,
            Labels::from_pairs(&[("__name__", "h"), ("job", "a")])
        );
        let (t, h) = &out[0].1[1];
        assert_eq!(*t, 60_000);
        assert_eq!(h.custom_values, vec![1.0]);
        assert_eq!(h.positive_buckets, vec![2.0, 3.0]);
        assert_eq!((h.count, h.sum), (5.0, 20.0));
    }

    #[test]
    fn rejects_non_cumulative_buckets() {
        let script =
            Script::parse("load_with_nhcb 1m\n  h_bucket{le=\"1\"} 5\n  h_bucket{le=\"2\"} 3\n")
                .unwrap();
        let Command::Load(load) = &script.commands[0] else {
            panic!("not load")
        };
        assert!(convert(load).unwrap_err().contains("not cumulative"));
    }
}
