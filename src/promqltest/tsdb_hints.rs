//! The counter-reset hints Prometheus' TSDB reports when histograms are read
//! back, which upstream's expected results are written against.
//!
//! The TSDB stores histograms in chunks. A counter histogram starts a new
//! chunk at a counter reset (detected, or written as `counter_reset_hint:reset`),
//! at a schema or zero-threshold change, after a float or stale sample, and
//! every 120 samples. Gauge histograms go to gauge chunks. Reading back, the
//! first histogram of a counter chunk says `unknown`, every later one
//! `not_reset`, and every histogram of a gauge chunk `gauge`; written hints
//! are otherwise not kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{BucketSpan, CounterResetHint, FloatHistogram, is_stale_nan};

/// Samples per chunk before the TSDB cuts a new one.
const SAMPLES_PER_CHUNK: usize = 120;

/// Where one series' samples currently go.
#[derive(Clone, Debug, Default)]
pub(crate) enum ChunkState {
    /// No histogram chunk open (nothing yet, or the last sample was a float).
    #[default]
    None,
    /// A counter chunk whose last histogram is this, holding `len` samples.
    Counter {
        last: Arc<FloatHistogram>,
        len: usize,
    },
    /// A gauge chunk holding `len` samples.
    Gauge { len: usize },
    /// The last sample was a stale marker; the next histogram starts a chunk.
    Stale,
}

impl ChunkState {
    /// A float sample arrives (stale markers end a histogram chunk's life).
    pub(crate) fn float(&mut self, v: f64) {
        *self = match self {
            ChunkState::Counter { .. } | ChunkState::Gauge { .. } | ChunkState::Stale
                if is_stale_nan(v) =>
            {
                ChunkState::Stale
            }
            _ => ChunkState::None,
        };
    }

    /// A histogram arrives; returns it with the hint it reads back with.
    pub(crate) fn histogram(&mut self, h: &Arc<FloatHistogram>) -> Arc<FloatHistogram> {
        let (next, hint) = if h.counter_reset_hint == CounterResetHint::Gauge {
            match self {
                ChunkState::Gauge { len } if *len < SAMPLES_PER_CHUNK => {
                    (ChunkState::Gauge { len: *len + 1 }, CounterResetHint::Gauge)
                }
                _ => (ChunkState::Gauge { len: 1 }, CounterResetHint::Gauge),
            }
        } else {
            match self {
                ChunkState::Counter { last, len }
                    if *len < SAMPLES_PER_CHUNK && continues(last, h) =>
                {
                    let state = ChunkState::Counter {
                        last: h.clone(),
                        len: *len + 1,
                    };
                    (state, CounterResetHint::NotCounterReset)
                }
                _ => (
                    ChunkState::Counter {
                        last: h.clone(),
                        len: 1,
                    },
                    CounterResetHint::Unknown,
                ),
            }
        };
        *self = next;
        if h.counter_reset_hint == hint {
            h.clone()
        } else {
            let mut out = (**h).clone();
            out.counter_reset_hint = hint;
            Arc::new(out)
        }
    }
}

fn buckets(spans: &[BucketSpan], counts: &[f64]) -> BTreeMap<i64, f64> {
    let mut out = BTreeMap::new();
    let mut idx: i64 = 0;
    let mut values = counts.iter();
    for span in spans {
        idx += i64::from(span.offset);
        for _ in 0..span.length {
            if let Some(v) = values.next() {
                out.insert(idx, *v);
            }
            idx += 1;
        }
    }
    out
}

/// Whether `cur` can follow `prev` in the same counter chunk: no explicit
/// reset, same schema, zero threshold and custom bounds, and no count,
/// zero count or bucket going down (or a used bucket disappearing).
fn continues(prev: &FloatHistogram, cur: &FloatHistogram) -> bool {
    if cur.counter_reset_hint == CounterResetHint::CounterReset
        || is_stale_nan(prev.sum)
        || cur.count < prev.count
        || cur.schema != prev.schema
        || cur.zero_threshold != prev.zero_threshold
        || (cur.schema == -53 && cur.custom_values != prev.custom_values)
        || cur.zero_count < prev.zero_count
    {
        return false;
    }
    let no_bucket_drops = |prev: BTreeMap<i64, f64>, cur: BTreeMap<i64, f64>| {
        prev.iter().all(|(idx, p)| match cur.get(idx) {
            Some(c) => p <= c,
            None => *p == 0.0,
        })
    };
    no_bucket_drops(
        buckets(&prev.positive_spans, &prev.positive_buckets),
        buckets(&cur.positive_spans, &cur.positive_buckets),
    ) && no_bucket_drops(
        buckets(&prev.negative_spans, &prev.negative_buckets),
        buckets(&cur.negative_spans, &cur.negative_buckets),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(count: f64, hint: CounterResetHint) -> Arc<FloatHistogram> {
        Arc::new(FloatHistogram {
            count,
            sum: count,
            counter_reset_hint: hint,
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![count],
            ..Default::default()
        })
    }

    fn hints(samples: &[Result<f64, Arc<FloatHistogram>>]) -> Vec<Option<CounterResetHint>> {
        let mut state = ChunkState::default();
        samples
            .iter()
            .map(|s| match s {
                Ok(v) => {
                    state.float(*v);
                    None
                }
                Err(h) => Some(state.histogram(h).counter_reset_hint),
            })
            .collect()
    }

    #[test]
    fn counter_chunks() {
        use CounterResetHint::*;
        let got = hints(&[
            Err(hist(1.0, Unknown)),
            Err(hist(2.0, Unknown)),
            Err(hist(1.0, NotCounterReset)), // detected reset, hint ignored
            Err(hist(3.0, CounterReset)),    // written reset starts a chunk
            Err(hist(4.0, Unknown)),
            Ok(crate::model::stale_nan()),
            Err(hist(5.0, Unknown)),
            Ok(1.0),
            Err(hist(6.0, Unknown)),
        ]);
        assert_eq!(
            got,
            vec![
                Some(Unknown),
                Some(NotCounterReset),
                Some(Unknown),
                Some(Unknown),
                Some(NotCounterReset),
                None,
                Some(Unknown),
                None,
                Some(Unknown),
            ]
        );
    }

    #[test]
    fn gauges_and_chunk_size() {
        use CounterResetHint::*;
        let got = hints(&[
            Err(hist(5.0, Gauge)),
            Err(hist(1.0, Gauge)),
            Err(hist(2.0, Unknown)),
        ]);
        assert_eq!(got, vec![Some(Gauge), Some(Gauge), Some(Unknown)]);
        let many: Vec<_> = (0..121).map(|i| Err(hist(f64::from(i), Unknown))).collect();
        let got = hints(&many);
        assert_eq!(got[119], Some(NotCounterReset));
        assert_eq!(got[120], Some(Unknown));
    }

    #[test]
    fn disappearing_used_bucket_is_a_reset() {
        let a = Arc::new(FloatHistogram {
            count: 2.0,
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1.0, 1.0],
            ..Default::default()
        });
        let mut b = (*a).clone();
        b.count = 3.0;
        b.positive_spans = vec![BucketSpan {
            offset: 1,
            length: 1,
        }];
        b.positive_buckets = vec![3.0];
        assert!(!continues(&a, &b));
        let mut c = (*a).clone();
        c.positive_spans = vec![BucketSpan {
            offset: 0,
            length: 3,
        }];
        c.positive_buckets = vec![1.0, 1.0, 4.0];
        assert!(continues(&a, &c));
    }
}
