//! Bucket boundaries of exponential and custom-bucket schemas.

use super::table::SCHEMA8_FRACTIONS;

/// The schema number of native histograms with custom buckets (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// Lowest exponential schema Prometheus evaluates.
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
/// Highest exponential schema Prometheus evaluates.
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

/// Whether `schema` is the custom-buckets schema.
pub fn is_custom_buckets_schema(schema: i32) -> bool {
    schema == CUSTOM_BUCKETS_SCHEMA
}

/// Whether `schema` is a supported exponential schema (-4..=8).
pub fn is_exponential_schema(schema: i32) -> bool {
    (EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&schema)
}

/// `frac * 2^exp` with a single rounding, like C's `ldexp`, for `frac` in
/// `[0.5, 1]`.
fn ldexp(frac: f64, exp: i64) -> f64 {
    // Powers of two within the normal range are exact.
    let pow2 = |e: i64| f64::from_bits(((e + 1023) as u64) << 52);
    match exp {
        e if e > 1023 => frac * pow2(1023) * pow2((e - 1023).min(1023)),
        e if e >= -1022 => frac * pow2(e),
        // Both steps are exact but the last, which rounds into the subnormals.
        e if e >= -2022 => frac * pow2(e + 1000) * pow2(-1000),
        _ => 0.0,
    }
}

/// Upper bound of bucket `index` (lower bound of `index + 1`) at exponential
/// `schema`, with Prometheus' table of fractions and its special case for the
/// last finite bucket, whose upper bound is `f64::MAX` rather than `+Inf`.
pub fn exponential_bound(index: i64, schema: i32) -> f64 {
    if schema < 0 {
        let shift = u32::try_from(-i64::from(schema)).unwrap_or(0).min(62);
        let exp = index.saturating_mul(1i64 << shift);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let schema = schema.min(EXPONENTIAL_SCHEMA_MAX);
    let per_octave = 1i64 << schema;
    let frac_index = index.rem_euclid(per_octave);
    let stride = 1usize << (EXPONENTIAL_SCHEMA_MAX - schema);
    let frac = usize::try_from(frac_index)
        .ok()
        .and_then(|i| SCHEMA8_FRACTIONS.get(i * stride))
        .copied()
        .unwrap_or(0.5);
    let exp = index.div_euclid(per_octave) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// Upper bound of bucket `index` at `schema`; for custom buckets the bounds
/// come from `custom_values`, with `-Inf` below index 0 and `+Inf` from index
/// `custom_values.len()` on.
pub fn bucket_bound(index: i64, schema: i32, custom_values: &[f64]) -> f64 {
    if is_custom_buckets_schema(schema) {
        if index < 0 {
            return f64::NEG_INFINITY;
        }
        return usize::try_from(index)
            .ok()
            .and_then(|i| custom_values.get(i))
            .copied()
            .unwrap_or(f64::INFINITY);
    }
    exponential_bound(index, schema)
}

/// Splits `x` into a fraction in `[0.5, 1)` and a power of two, like C's
/// `frexp` (zero, infinities and NaN come back unchanged with exponent 0).
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    // Scale subnormals into the normal range first.
    let (x, bias) = if x.abs() < f64::MIN_POSITIVE {
        (x * 2f64.powi(64), -64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp + bias)
}

/// `log2(x)` computed as `ln(frac) / ln 2 + exp` over [`frexp`], exact for
/// powers of two. This is how Prometheus' Go runtime computes it, so
/// interpolated quantiles and fractions agree with it to the last bit far
/// more often than with a direct `log2`.
pub fn log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    frac.ln() * std::f64::consts::LOG2_E + f64::from(exp)
}

/// Index at the coarser `to` schema of the bucket that contains bucket
/// `index` of the finer `from` schema.
pub fn reduced_index(index: i32, from: i32, to: i32) -> i32 {
    let shift = (i64::from(from) - i64::from(to)).clamp(0, 31);
    let reduced = ((i64::from(index) - 1) >> shift) + 1;
    i32::try_from(reduced).unwrap_or(if reduced < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_zero_bounds_are_powers_of_two() {
        assert_eq!(exponential_bound(0, 0), 1.0);
        assert_eq!(exponential_bound(1, 0), 2.0);
        assert_eq!(exponential_bound(-1, 0), 0.5);
        assert_eq!(exponential_bound(3, 0), 8.0);
    }

    #[test]
    #[allow(clippy::approx_constant)] // Deliberately not SQRT_2: see below.
    fn positive_schema_uses_reference_fractions() {
        // sqrt(2) as Prometheus tabulates it (one ulp below the rounded value).
        assert_eq!(exponential_bound(1, 1), 1.414213562373095);
        assert_ne!(exponential_bound(1, 1), std::f64::consts::SQRT_2);
        assert_eq!(exponential_bound(0, 1), 1.0);
        assert_eq!(exponential_bound(-1, 1), 0.7071067811865475);
        assert_eq!(exponential_bound(255, 8), 2.0 * 0.9972960560854698);
    }

    #[test]
    fn negative_schema_bounds() {
        assert_eq!(exponential_bound(1, -1), 4.0);
        assert_eq!(exponential_bound(1, -2), 16.0);
        assert_eq!(exponential_bound(-1, -2), 1.0 / 16.0);
    }

    #[test]
    fn last_finite_bucket_ends_at_max_float() {
        assert_eq!(exponential_bound(1024, 0), f64::MAX);
        assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
        assert_eq!(exponential_bound(256, -2), f64::MAX);
        assert_eq!(exponential_bound(1024 << 3, 3), f64::MAX);
    }

    #[test]
    fn tiny_bounds_underflow_gracefully() {
        assert_eq!(exponential_bound(-1074, 0), f64::from_bits(1));
        assert_eq!(exponential_bound(-2000, 0), 0.0);
    }

    #[test]
    fn custom_bounds() {
        let cv = [1.0, 5.0];
        assert_eq!(
            bucket_bound(-1, CUSTOM_BUCKETS_SCHEMA, &cv),
            f64::NEG_INFINITY
        );
        assert_eq!(bucket_bound(0, CUSTOM_BUCKETS_SCHEMA, &cv), 1.0);
        assert_eq!(bucket_bound(1, CUSTOM_BUCKETS_SCHEMA, &cv), 5.0);
        assert_eq!(bucket_bound(2, CUSTOM_BUCKETS_SCHEMA, &cv), f64::INFINITY);
    }

    #[test]
    fn frexp_and_log2() {
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(f64::from_bits(1)), (0.5, -1073));
        assert_eq!(frexp(0.0), (0.0, 0));
        assert_eq!(log2(8.0), 3.0);
        assert_eq!(log2(0.25), -2.0);
        assert!((log2(3.0) - 3f64.log2()).abs() < 1e-15);
        assert_eq!(log2(0.0), f64::NEG_INFINITY);
        assert!(log2(f64::NAN).is_nan());
    }

    #[test]
    fn index_reduction() {
        assert_eq!(reduced_index(1, 1, 0), 1);
        assert_eq!(reduced_index(2, 1, 0), 1);
        assert_eq!(reduced_index(3, 1, 0), 2);
        assert_eq!(reduced_index(0, 1, 0), 0);
        assert_eq!(reduced_index(-1, 1, 0), 0);
        assert_eq!(reduced_index(-2, 1, 0), -1);
        assert_eq!(reduced_index(5, 2, 2), 5);
    }
}
