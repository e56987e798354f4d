//! The trim operators: `h </ x` keeps the observations below `x`, `h >/ x`
//! those above it, interpolating inside the bucket that contains `x`.

use super::FloatHistogram;
use super::buckets::Bucket;

fn zero_if_infinite(x: f64) -> f64 {
    if x.is_infinite() { 0.0 } else { x }
}

/// The representative value of the surviving part `[lower, upper]` of a
/// bucket: arithmetic midpoint for linear (custom) buckets, geometric
/// midpoint (signed) for exponential ones, with infinite ends handled.
fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        return if upper > 0.0 { upper / 2.0 } else { upper };
    }
    if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let geometric = (lower * upper).abs().sqrt();
    if positive { geometric } else { -geometric }
}

/// Kept count and representative value of a bucket with an infinite bound.
fn trim_infinite_bucket(upper_trim: bool, b: &Bucket, rhs: f64) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper.is_finite() {
                // Only custom buckets get here: treat the bucket as [0, upper].
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, zero_if_infinite(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper.is_finite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, zero_if_infinite(b.upper));
    }
    // Upper bound +Inf.
    if upper_trim {
        return (0.0, zero_if_infinite(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, zero_if_infinite(b.lower))
}

/// Kept count and representative value of a bucket containing `rhs`.
fn trim_bucket(b: &Bucket, rhs: f64, upper_trim: bool, positive: bool, linear: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return trim_infinite_bucket(upper_trim, b, rhs);
    }
    let below = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * b.fraction_below(rhs, linear)
    };
    if upper_trim {
        (below, midpoint(b.lower, rhs, positive, linear))
    } else {
        (b.count - below, midpoint(rhs, b.upper, positive, linear))
    }
}

/// Kept count and representative value of the zero bucket. It reaches only
/// to zero on a side without buckets.
fn trim_zero_bucket(
    z: &Bucket,
    rhs: f64,
    has_negative: bool,
    has_positive: bool,
    upper_trim: bool,
) -> (f64, f64) {
    let mut lower = z.lower;
    let mut upper = z.upper;
    if has_negative && !has_positive {
        upper = 0.0;
    }
    if has_positive && !has_negative {
        lower = 0.0;
    }
    if upper_trim {
        if rhs <= lower {
            return (0.0, 0.0);
        }
        if rhs >= upper {
            return (z.count, (lower + upper) / 2.0);
        }
        (
            z.count * (rhs - lower) / (upper - lower),
            (lower + rhs) / 2.0,
        )
    } else {
        if rhs <= lower {
            return (z.count, (lower + upper) / 2.0);
        }
        if rhs >= upper {
            return (0.0, 0.0);
        }
        (
            z.count * (upper - rhs) / (upper - lower),
            (rhs + upper) / 2.0,
        )
    }
}

impl FloatHistogram {
    /// `h </ rhs` (`upper_trim`) or `h >/ rhs`: drops the observations above
    /// (below) `rhs`, keeping the interpolated part of the bucket containing
    /// it. If anything was dropped, count and sum are recomputed from the
    /// kept buckets' representative values and the layout is compacted.
    pub fn trim(&mut self, rhs: f64, upper_trim: bool) -> &mut Self {
        let linear = self.uses_custom_buckets();
        let (mut count, mut sum) = (0.0, 0.0);
        let mut trimmed = false;
        let mut has = [false, false];
        for (side, positive) in [(0, true), (1, false)] {
            let buckets: Vec<Bucket> = if positive {
                self.positive_bucket_iter().collect()
            } else {
                self.negative_bucket_iter().collect()
            };
            for (i, b) in buckets.iter().enumerate() {
                if b.count == 0.0 {
                    continue;
                }
                has[side] = true;
                let keep_all = if upper_trim {
                    b.upper <= rhs
                } else {
                    b.lower >= rhs
                };
                let partial = if upper_trim {
                    b.lower < rhs
                } else {
                    b.upper > rhs
                };
                let new_count = if keep_all {
                    count += b.count;
                    sum += midpoint(b.lower, b.upper, positive, linear) * b.count;
                    continue;
                } else if partial {
                    let (keep, mid) = trim_bucket(b, rhs, upper_trim, positive, linear);
                    count += keep;
                    sum += mid * keep;
                    keep
                } else {
                    0.0
                };
                let counts = if positive {
                    &mut self.positive_buckets
                } else {
                    &mut self.negative_buckets
                };
                if let Some(slot) = counts.get_mut(i) {
                    if *slot != new_count || !partial {
                        *slot = new_count;
                        trimmed = true;
                    }
                }
            }
        }
        if self.zero_count > 0.0 {
            if let Some(z) = self.zero_bucket() {
                let (keep, mid) = trim_zero_bucket(&z, rhs, has[1], has[0], upper_trim);
                if self.zero_count != keep {
                    self.zero_count = keep;
                    trimmed = true;
                }
                sum += mid * keep;
                count += keep;
            }
        }
        if trimmed {
            self.count = count;
            self.sum = sum;
            self.compact(0);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    fn h() -> FloatHistogram {
        // (0.5,1]:1 (1,2]:2 (2,4]:1
        FloatHistogram {
            count: 4.0,
            sum: 5.0,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![1.0, 2.0, 1.0],
            ..Default::default()
        }
    }

    #[test]
    fn upper_trim_at_bucket_boundary() {
        let mut t = h();
        t.trim(2.0, true);
        assert_eq!(t.positive_buckets, vec![1.0, 2.0]);
        assert_eq!(t.count, 3.0);
        let expected = 0.5f64.sqrt() + 2.0 * 2f64.sqrt();
        assert!((t.sum - expected).abs() < 1e-12);
    }

    #[test]
    fn lower_trim_inside_bucket() {
        let mut t = h();
        t.trim(2f64.sqrt(), false);
        // Half of (1,2] on the log scale survives.
        assert!((t.positive_buckets[0] - 1.0).abs() < 1e-12);
        assert_eq!(t.positive_buckets.len(), 2);
        assert!((t.count - 2.0).abs() < 1e-12);
    }

    #[test]
    fn nothing_to_trim_keeps_count_and_sum() {
        let mut t = h();
        t.trim(100.0, true);
        assert_eq!(t.count, 4.0);
        assert_eq!(t.sum, 5.0);
    }

    #[test]
    fn custom_buckets_trim_linearly() {
        let mut t = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![10.0, 20.0],
            count: 4.0,
            sum: 40.0,
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![2.0, 1.0, 1.0],
            ..Default::default()
        };
        t.trim(15.0, true);
        // [-Inf,10] kept whole, half of (10,20], the +Inf bucket dropped.
        assert_eq!(t.positive_buckets, vec![2.0, 0.5]);
        assert_eq!(t.count, 2.5);
    }
}
