//! Kahan-Babuška (Neumaier) compensated summation, as Prometheus uses.

/// Adds `inc` to `sum` with compensation `c`; returns the new `(sum, c)`
/// (one implementation for floats and histogram buckets).
pub(crate) use crate::model::histogram::arith::kahan_inc;

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The q-quantile of `values` (reordered in place), as Prometheus computes
/// it: NaNs sort first, and the two order statistics around rank
/// `q * (n - 1)` are interpolated. Only those two are looked for (a
/// selection, not a sort).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let order = |a: &f64, b: &f64| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    };
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    let (_, at_lower, above) = values.select_nth_unstable_by(lower as usize, order);
    let at_lower = *at_lower;
    // The next order statistic is the least of the values above.
    let at_upper = if upper > lower {
        above.iter().copied().min_by(order).unwrap_or(at_lower)
    } else {
        at_lower
    };
    at_lower * (1.0 - weight) + at_upper * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The selection gives what interpolating a full sort gives.
        #[test]
        fn quantile_equals_a_sort(
            values in proptest::collection::vec(
                proptest::prop_oneof![8 => -5i8..5, 1 => proptest::strategy::Just(i8::MIN)],
                1..40,
            ),
            q in 0.0f64..=1.0,
        ) {
            let mut values: Vec<f64> =
                values.iter().map(|&v| if v == i8::MIN { f64::NAN } else { f64::from(v) }).collect();
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ => a.total_cmp(b),
            });
            let rank = q * (sorted.len() - 1) as f64;
            let (lo, w) = (rank.floor() as usize, rank - rank.floor());
            let hi = (lo + 1).min(sorted.len() - 1);
            let want = sorted[lo] * (1.0 - w) + sorted[hi] * w;
            let got = quantile(q, &mut values);
            proptest::prop_assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{} vs {}", got, want);
        }
    }

    #[test]
    fn kahan_recovers_small_terms() {
        let (mut s, mut c) = (0.0, 0.0);
        for v in [1.0, 1e100, 1.0, -1e100] {
            (s, c) = kahan_inc(v, s, c);
        }
        assert_eq!(s + c, 2.0);
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(0.25, &mut [5.0, 1.0, 4.0, 2.0, 3.0]), 2.0);
        assert_eq!(quantile(0.1, &mut [5.0, 1.0, 4.0, 2.0, 3.0]), 1.4);
        assert_eq!(quantile(1.0, &mut [5.0, 1.0, 4.0]), 5.0);
        // NaNs sort first.
        assert!(quantile(0.0, &mut [2.0, f64::NAN, 1.0]).is_nan());
        assert_eq!(quantile(0.75, &mut [2.0, f64::NAN, 1.0]), 1.5);
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        assert!(quantile(f64::NAN, &mut [1.0]).is_nan());
    }
}
