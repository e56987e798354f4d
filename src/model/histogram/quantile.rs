//! `histogram_quantile` and `histogram_fraction` on native histograms.

use super::FloatHistogram;
use super::bounds::log2;
use super::buckets::Bucket;

/// A quantile estimate and what the engine should tell the user about it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantileResult {
    /// The estimated quantile.
    pub value: f64,
    /// The result is NaN because the quantile falls among NaN observations
    /// (info "histogram_quantile: ... NaN result ...").
    pub nan_result: bool,
    /// The histogram has NaN observations that skew the result (info
    /// "... NaN observations ... skewed ...").
    pub nan_skew: bool,
}

/// A fraction estimate and what the engine should tell the user about it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FractionResult {
    /// The estimated fraction of observations in the interval.
    pub value: f64,
    /// The histogram has NaN observations, which no interval contains (info
    /// "histogram_fraction: ... NaN observations ...").
    pub nan_observations: bool,
}

fn plain(value: f64) -> QuantileResult {
    QuantileResult {
        value,
        nan_result: false,
        nan_skew: false,
    }
}

const NO_BUCKET: Bucket = Bucket {
    lower: 0.0,
    upper: 0.0,
    lower_inclusive: false,
    upper_inclusive: false,
    count: 0.0,
    index: 0,
};

impl FloatHistogram {
    /// For a bucket that straddles zero (the zero bucket), treats zero as its
    /// lower bound if the histogram has only positive buckets and as its
    /// upper bound if it has only negative ones.
    fn narrow_zero_bucket(&self, b: &mut Bucket) {
        if self.negative_buckets.is_empty() && !self.positive_buckets.is_empty() {
            b.lower = 0.0;
        } else if self.positive_buckets.is_empty() && !self.negative_buckets.is_empty() {
            b.upper = 0.0;
        }
    }

    /// The `q`-quantile estimated from the buckets (`histogram_quantile`).
    ///
    /// Within a bucket, observations are assumed spread exponentially for
    /// exponential buckets and linearly for custom buckets and the zero
    /// bucket. The zero bucket reaches from zero only, if the histogram has
    /// buckets on one side of zero only. For custom buckets, the first bucket
    /// starts at zero if its upper bound is positive (otherwise its upper
    /// bound is the answer) and the last bucket yields its lower bound.
    /// `q < 0` gives `-Inf`, `q > 1` gives `+Inf`, an empty histogram or
    /// `q = NaN` gives NaN. Quantiles from the upper half are searched from
    /// the top, unless the sum is NaN (NaN observations, which are in the
    /// count but in no bucket).
    pub fn quantile(&self, q: f64) -> QuantileResult {
        if q < 0.0 {
            return plain(f64::NEG_INFINITY);
        }
        if q > 1.0 {
            return plain(f64::INFINITY);
        }
        if self.count == 0.0 || q.is_nan() {
            return plain(f64::NAN);
        }
        let forward = self.sum.is_nan() || q < 0.5;
        let buckets: Vec<Bucket> = if forward {
            self.all_bucket_iter().collect()
        } else {
            self.all_bucket_rev_iter().collect()
        };
        let mut rank = if forward {
            q * self.count
        } else {
            (1.0 - q) * self.count
        };
        let mut seen = 0.0;
        let mut bucket = NO_BUCKET;
        let mut stopped_at = buckets.len();
        for (i, b) in buckets.iter().enumerate() {
            bucket = *b;
            if b.count == 0.0 {
                continue;
            }
            seen += b.count;
            if seen >= rank {
                stopped_at = i;
                break;
            }
        }
        let custom = self.uses_custom_buckets();
        if !custom && bucket.lower < 0.0 && bucket.upper > 0.0 {
            self.narrow_zero_bucket(&mut bucket);
        } else if custom {
            if bucket.lower == f64::NEG_INFINITY {
                if bucket.upper <= 0.0 {
                    return plain(bucket.upper);
                }
                bucket.lower = 0.0;
            } else if bucket.upper == f64::INFINITY {
                return plain(bucket.lower);
            }
        }
        seen = seen.min(self.count);
        if seen < rank {
            if self.sum.is_nan() {
                return QuantileResult {
                    value: f64::NAN,
                    nan_result: true,
                    nan_skew: false,
                };
            }
            return plain(bucket.upper);
        }
        if forward {
            rank -= seen - bucket.count;
        } else {
            rank = seen - rank;
        }
        let mut result = plain(f64::NAN);
        if self.sum.is_nan() {
            let total = buckets
                .iter()
                .skip(stopped_at.saturating_add(1))
                .fold(seen, |acc, b| acc + b.count);
            result.nan_skew = total < self.count;
        }
        let fraction = rank / bucket.count;
        result.value = if custom || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
            bucket.lower + (bucket.upper - bucket.lower) * fraction
        } else {
            let log_lower = log2(bucket.lower.abs());
            let log_upper = log2(bucket.upper.abs());
            if bucket.lower > 0.0 {
                (log_lower + (log_upper - log_lower) * fraction).exp2()
            } else {
                -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
            }
        };
        result
    }

    /// The fraction of observations between `lower` and `upper`
    /// (`histogram_fraction`), interpolating inside buckets like
    /// [`quantile`](Self::quantile). NaN for an empty histogram or NaN
    /// bounds, 0 if `lower >= upper`.
    pub fn fraction(&self, lower: f64, upper: f64) -> FractionResult {
        let plain = |value| FractionResult {
            value,
            nan_observations: false,
        };
        if self.count == 0.0 || lower.is_nan() || upper.is_nan() {
            return plain(f64::NAN);
        }
        if lower >= upper {
            return plain(0.0);
        }
        let custom = self.uses_custom_buckets();
        let buckets: Vec<Bucket> = self.all_bucket_iter().collect();
        let (mut seen, mut rank) = (0.0, 0.0);
        let (mut lower_rank, mut upper_rank) = (None, None);
        let mut stopped_at = buckets.len();
        for (i, original) in buckets.iter().enumerate() {
            let mut b = *original;
            seen += b.count;
            let zero_bucket = b.lower <= 0.0 && b.upper >= 0.0;
            if zero_bucket {
                self.narrow_zero_bucket(&mut b);
            }
            let interpolate = |v: f64| {
                if custom || zero_bucket {
                    if b.lower == f64::NEG_INFINITY {
                        b.count
                    } else {
                        rank + b.count * b.fraction_below(v, true)
                    }
                } else {
                    rank + b.count * b.fraction_below(v, false)
                }
            };
            if lower_rank.is_none() && b.lower >= lower {
                lower_rank = Some(rank);
            }
            if upper_rank.is_none() && b.lower >= upper {
                upper_rank = Some(rank);
            }
            if lower_rank.is_some() && upper_rank.is_some() {
                stopped_at = i;
                break;
            }
            if lower_rank.is_none() && b.lower < lower && b.upper > lower {
                lower_rank = Some(interpolate(lower));
            }
            if upper_rank.is_none() && b.lower < upper && b.upper > upper {
                upper_rank = Some(interpolate(upper));
            }
            if lower_rank.is_some() && upper_rank.is_some() {
                stopped_at = i;
                break;
            }
            rank += b.count;
        }
        let mut nan_observations = false;
        if self.sum.is_nan() {
            seen = buckets
                .iter()
                .skip(stopped_at.saturating_add(1))
                .fold(seen, |acc, b| acc + b.count);
            nan_observations = seen < self.count;
        } else {
            seen = self.count;
        }
        let clamp = |r: Option<f64>| match r {
            Some(r) if r <= seen => r,
            _ => seen,
        };
        FractionResult {
            value: (clamp(upper_rank) - clamp(lower_rank)) / self.count,
            nan_observations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    /// From native_histograms.test: `{{schema:0 count:4 sum:5 buckets:[1 2 1]}}`
    /// style data, 1 observation in (0.5,1], 2 in (1,2], 1 in (2,4].
    fn simple() -> FloatHistogram {
        FloatHistogram {
            count: 4.0,
            sum: 5.0,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![1.0, 2.0, 1.0],
            ..Default::default()
        }
    }

    #[test]
    fn quantile_special_cases() {
        let h = simple();
        assert_eq!(h.quantile(-1.0).value, f64::NEG_INFINITY);
        assert_eq!(h.quantile(2.0).value, f64::INFINITY);
        assert!(h.quantile(f64::NAN).value.is_nan());
        assert!(FloatHistogram::default().quantile(0.5).value.is_nan());
    }

    #[test]
    fn quantile_interpolates_exponentially() {
        let h = simple();
        assert_eq!(h.quantile(1.0).value, 4.0);
        assert!((h.quantile(0.5).value - 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(h.quantile(0.75).value, 2.0);
        // rank 0.5 of the first bucket (0.5,1]: 2^-0.5.
        assert!((h.quantile(0.125).value - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(h.quantile(0.0).value, 0.5);
    }

    #[test]
    fn quantile_in_zero_bucket_is_linear_from_zero() {
        let h = FloatHistogram {
            count: 4.0,
            sum: 1.0,
            zero_threshold: 0.5,
            zero_count: 2.0,
            positive_spans: vec![span(1, 1)],
            positive_buckets: vec![2.0],
            ..Default::default()
        };
        // Only positive buckets: the zero bucket spans [0, 0.5].
        assert_eq!(h.quantile(0.25).value, 0.25);
    }

    #[test]
    fn custom_bucket_quantiles() {
        let h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![10.0, 20.0],
            count: 4.0,
            sum: 40.0,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![2.0, 1.0, 1.0],
            ..Default::default()
        };
        assert_eq!(h.quantile(0.25).value, 5.0);
        assert_eq!(h.quantile(0.625).value, 15.0);
        assert_eq!(
            h.quantile(0.99).value,
            20.0,
            "the +Inf bucket yields its lower bound"
        );
    }

    #[test]
    fn nan_observations() {
        let mut h = simple();
        h.sum = f64::NAN;
        h.count = 5.0;
        let r = h.quantile(0.99);
        assert!(r.value.is_nan() && r.nan_result);
        let r = h.quantile(0.5);
        assert!(r.nan_skew && !r.value.is_nan());
        let f = h.fraction(f64::NEG_INFINITY, f64::INFINITY);
        assert!(f.nan_observations);
        assert_eq!(f.value, 0.8);
    }

    #[test]
    fn fraction() {
        let h = simple();
        assert_eq!(h.fraction(f64::NEG_INFINITY, f64::INFINITY).value, 1.0);
        assert_eq!(h.fraction(1.0, 2.0).value, 0.5);
        assert_eq!(h.fraction(0.0, 1.0).value, 0.25);
        assert_eq!(h.fraction(2.0, 1.0).value, 0.0);
        assert!(h.fraction(f64::NAN, 1.0).value.is_nan());
        // Inverse of the quantile.
        let q = h.quantile(0.3).value;
        assert!((h.fraction(f64::NEG_INFINITY, q).value - 0.3).abs() < 1e-12);
    }
}
