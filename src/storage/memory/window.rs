//! Finding the samples of a time-sorted column inside a window with few
//! dependent memory reads.
//!
//! Scraped series are close to evenly spaced, so the position of a time in
//! a series is well predicted by interpolating between its first and last
//! samples. The search probes that guess first and gallops outwards from
//! it: an evenly spaced series costs a couple of probes, near the guess,
//! where a bisection of a long series would miss the cache at every step.
//! Any spacing gives the right answer; an uneven one only costs more probes.

use crate::model::Timestamp;

/// The sub-slice of time-sorted `points` inside `start..=end`.
pub(super) fn window<T>(
    points: &[T],
    start: Timestamp,
    end: Timestamp,
    t: impl Fn(&T) -> Timestamp,
) -> &[T] {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return points;
    };
    // Both ends are read at once (independent loads), then every guess is
    // arithmetic on them.
    window_between(points, (t(first), t(last)), start, end, t)
}

/// [`window`] for a caller that knows the times of the first and last of
/// `points` (`ends`; any value when `points` is empty), which spares the
/// search reading them: on an instant query over many series the window's
/// own samples are then the first of a series' samples to be read.
pub(super) fn window_between<T>(
    points: &[T],
    ends: (Timestamp, Timestamp),
    start: Timestamp,
    end: Timestamp,
    t: impl Fn(&T) -> Timestamp,
) -> &[T] {
    if points.is_empty() {
        return points;
    }
    let (first_t, last_t) = ends;
    let guess = |at: Timestamp| interpolate(points.len(), first_t, last_t, at);
    let hi = if last_t <= end {
        points.len()
    } else if end < first_t {
        0
    } else {
        partition_point_near(points, guess(end) + 1, |p| t(p) <= end)
    };
    let head = &points[..hi];
    let lo = if start <= first_t {
        0
    } else {
        partition_point_near(head, guess(start), |p| t(p) < start)
    };
    &head[lo.min(hi)..]
}

/// The positions of the samples inside `start..=end` among `len` samples
/// whose times are known to be evenly spaced from `ends.0` to `ends.1`
/// (each the first's plus its index times one step, as scrapes aligned to
/// their interval are): found from the ends by arithmetic, without reading
/// a sample. `None` where the ends admit no whole step (fewer than two
/// samples, or a span that the gaps do not divide).
pub(super) fn evenly_spaced(
    len: usize,
    ends: (Timestamp, Timestamp),
    start: Timestamp,
    end: Timestamp,
) -> Option<std::ops::Range<usize>> {
    // In 64 bits (a span beyond them is left to the search): 128-bit
    // divisions are a library routine each, and this runs for every series
    // a query selects.
    let gaps = i64::try_from(len.checked_sub(1)?).ok().filter(|&g| g > 0)?;
    let (first, last) = ends;
    let span = last.checked_sub(first).filter(|&s| s > 0)?;
    if span % gaps != 0 {
        return None;
    }
    let step = span / gaps;
    // How many samples lie before time `t`.
    let before = |t: Timestamp| -> usize {
        if t <= first {
            return 0;
        }
        if t > last {
            return len;
        }
        // `0 < offset <= span`: the rounded-up quotient cannot overflow.
        let offset = t - first;
        let count = offset / step + i64::from(offset % step != 0);
        usize::try_from(count).map_or(len, |c| c.min(len))
    };
    let lo = before(start);
    let hi = if end >= last { len } else { before(end + 1) };
    Some(lo..hi.max(lo))
}

/// Whether the times `ts` are evenly spaced (see [`evenly_spaced`]).
pub(super) fn is_evenly_spaced(mut ts: impl Iterator<Item = Timestamp>) -> bool {
    let (Some(a), Some(b)) = (ts.next(), ts.next()) else {
        return true;
    };
    let Some(step) = b.checked_sub(a) else {
        return false;
    };
    let mut last = b;
    ts.all(|t| {
        let same = t.checked_sub(last) == Some(step);
        last = t;
        same
    })
}

/// The index that time `at` would have in `len` evenly spaced samples from
/// `first_t` to `last_t`, clamped to `0..=len`.
#[inline(always)]
fn interpolate(len: usize, first_t: Timestamp, last_t: Timestamp, at: Timestamp) -> usize {
    if len < 2 || last_t <= first_t {
        return 0;
    }
    // Times a few years apart and series of a few million samples fit the
    // product in 64 bits, sparing the 128-bit division.
    if let (Some(span), Some(offset)) = (last_t.checked_sub(first_t), at.checked_sub(first_t)) {
        let offset = offset.clamp(0, span);
        if let Some(scaled) = offset.checked_mul((len - 1) as i64) {
            return usize::try_from(scaled / span).map_or(len, |i| i.min(len));
        }
    }
    // i128: no product or difference of two i64 times can overflow it.
    let span = i128::from(last_t) - i128::from(first_t);
    let offset = (i128::from(at) - i128::from(first_t)).clamp(0, span);
    let last_index = (len - 1) as i128;
    usize::try_from(offset * last_index / span).map_or(len, |i| i.min(len))
}

/// Like `slice::partition_point` (`pred` holds for a prefix of `items`), but
/// probing `guess` first and galloping away from it, so an answer near the
/// guess costs O(log distance) probes near the guess.
pub(super) fn partition_point_near<T>(
    items: &[T],
    guess: usize,
    pred: impl Fn(&T) -> bool,
) -> usize {
    let guess = guess.min(items.len());
    // Invariant below: the answer is in lo..=hi.
    let (mut lo, mut hi) = (0, items.len());
    if let Some(item) = items.get(guess) {
        if pred(item) {
            lo = guess + 1;
            // Gallop forwards until an item fails.
            let mut step = 1;
            while let Some(item) = items.get(lo + step - 1) {
                if !pred(item) {
                    hi = lo + step - 1;
                    break;
                }
                lo += step;
                step *= 2;
            }
        } else {
            hi = guess;
        }
    }
    if hi == guess {
        // Gallop backwards until an item holds.
        let mut step = 1;
        while hi > lo {
            let probe = hi.saturating_sub(step).max(lo);
            if pred(&items[probe]) {
                lo = probe + 1;
                break;
            }
            hi = probe;
            step *= 2;
        }
    }
    let rest = items.get(lo..hi).unwrap_or_default();
    lo + rest.partition_point(pred)
}

/// Like `slice::partition_point`, but searching exponentially from the end
/// before bisecting, so an answer near the end costs O(log distance) probes
/// near the end of the slice.
pub(super) fn partition_point_from_end<T>(items: &[T], pred: impl Fn(&T) -> bool) -> usize {
    partition_point_near(items, items.len(), pred)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prop_assume;

    proptest::proptest! {
        #[test]
        fn window_equals_two_bisections(
            mut ts in proptest::collection::vec(-50i64..50, 0..80),
            start in -60i64..60,
            end in -60i64..60,
        ) {
            ts.sort_unstable();
            let lo = ts.partition_point(|&x| x < start);
            let hi = ts.partition_point(|&x| x <= end);
            let want = &ts[lo..hi.max(lo)];
            proptest::prop_assert_eq!(window(&ts, start, end, |&x| x), want);
            let ends = (ts.first().copied().unwrap_or(0), ts.last().copied().unwrap_or(0));
            proptest::prop_assert_eq!(window_between(&ts, ends, start, end, |&x| x), want);
            proptest::prop_assert_eq!(
                partition_point_from_end(&ts, |&x| x < start),
                lo
            );
        }

        #[test]
        fn evenly_spaced_windows_equal_two_bisections(
            first in -1_000i64..1_000,
            step in 1i64..40,
            len in 0usize..60,
            start in -1_500i64..3_500,
            width in -50i64..1_000,
        ) {
            let ts: Vec<i64> = (0..len as i64).map(|i| first + i * step).collect();
            prop_assume!(is_evenly_spaced(ts.iter().copied()));
            let end = start + width;
            let lo = ts.partition_point(|&x| x < start);
            let hi = ts.partition_point(|&x| x <= end);
            let ends = (ts.first().copied().unwrap_or(0), ts.last().copied().unwrap_or(0));
            match evenly_spaced(ts.len(), ends, start, end) {
                Some(range) => proptest::prop_assert_eq!(&ts[range], &ts[lo..hi.max(lo)]),
                None => proptest::prop_assert!(ts.len() < 2),
            }
        }

        #[test]
        fn evenly_spaced_windows_at_any_scale_equal_two_bisections(
            first in proptest::prop_oneof![
                -1_000_000i64..1_000_000,
                1_600_000_000_000i64..1_800_000_000_000,
                (i64::MIN / 2)..(i64::MIN / 4),
            ],
            step in proptest::prop_oneof![1i64..100, 1_000i64..120_000, (1i64 << 40)..(1i64 << 50)],
            len in 2usize..3_000,
            at in 0.0f64..1.0,
            width in 0.0f64..1.2,
            off in -3i64..4,
        ) {
            // Windows whose ends fall on, just before and just after sample
            // times, anywhere along series of realistic and extreme times.
            prop_assume!(first.checked_add(step.saturating_mul(len as i64)).is_some());
            let ts: Vec<i64> = (0..len as i64).map(|i| first + i * step).collect();
            let span = (ts[len - 1] - first) as f64;
            let start = first + (span * at) as i64 / step * step + off;
            let end = start.saturating_add((span * width) as i64 + off);
            let lo = ts.partition_point(|&x| x < start);
            let hi = ts.partition_point(|&x| x <= end);
            let range = evenly_spaced(len, (first, ts[len - 1]), start, end);
            proptest::prop_assert_eq!(range.map(|r| &ts[r]), Some(&ts[lo..hi.max(lo)]));
        }

        #[test]
        fn uneven_times_are_told_apart(
            mut ts in proptest::collection::vec(-50i64..50, 0..20),
        ) {
            ts.sort_unstable();
            let even = ts.windows(3).all(|w| w[1] - w[0] == w[2] - w[1]);
            proptest::prop_assert_eq!(is_evenly_spaced(ts.iter().copied()), even);
        }

        #[test]
        fn any_guess_gives_the_partition_point(
            mut ts in proptest::collection::vec(-50i64..50, 0..80),
            at in -60i64..60,
            guess in 0usize..100,
        ) {
            ts.sort_unstable();
            proptest::prop_assert_eq!(
                partition_point_near(&ts, guess, |&x| x < at),
                ts.partition_point(|&x| x < at)
            );
        }

        #[test]
        fn interpolation_is_exact_in_either_width(
            len in 0usize..10_000_000,
            first_t in proptest::num::i64::ANY,
            last_t in proptest::num::i64::ANY,
            at in proptest::num::i64::ANY,
        ) {
            // The 128-bit formula, which cannot overflow.
            let want = |last_t: i64, at: i64| {
                if len < 2 || last_t <= first_t {
                    return 0;
                }
                let span = i128::from(last_t) - i128::from(first_t);
                let offset = (i128::from(at) - i128::from(first_t)).clamp(0, span);
                usize::try_from(offset * (len as i128 - 1) / span).map_or(len, |i| i.min(len))
            };
            proptest::prop_assert_eq!(interpolate(len, first_t, last_t, at), want(last_t, at));
            // Times close together take the 64-bit path.
            let near = first_t.saturating_add(1_000_000_000);
            let at = first_t.saturating_add(at.rem_euclid(1_000_000_001));
            proptest::prop_assert_eq!(interpolate(len, first_t, near, at), want(near, at));
        }

        #[test]
        fn extreme_times_do_not_overflow(
            mut ts in proptest::collection::vec(proptest::num::i64::ANY, 1..40),
            start in proptest::num::i64::ANY,
            end in proptest::num::i64::ANY,
        ) {
            ts.sort_unstable();
            let lo = ts.partition_point(|&x| x < start);
            let hi = ts.partition_point(|&x| x <= end);
            proptest::prop_assert_eq!(window(&ts, start, end, |&x| x), &ts[lo..hi.max(lo)]);
        }
    }

    #[test]
    fn evenly_spaced_windows_are_found_near_the_guess() {
        let ts: Vec<i64> = (0..480).map(|i| i * 15_000).collect();
        let probes = std::cell::Cell::new(0);
        let at = 300 * 15_000 + 7;
        let got = partition_point_near(&ts, interpolate(ts.len(), 0, 479 * 15_000, at), |&x| {
            probes.set(probes.get() + 1);
            x < at
        });
        assert_eq!(got, 301);
        assert!(probes.get() <= 3, "{} probes", probes.get());
    }
}
