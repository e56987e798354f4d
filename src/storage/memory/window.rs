//! Finding the samples of a time-sorted column inside a window, cheaply for
//! the common case of a window at the end of the data (instant queries,
//! the last steps of range queries).

use crate::model::Timestamp;

/// The sub-slice of time-sorted `points` inside `start..=end`.
///
/// The end is found with one comparison when the window reaches past the
/// newest sample; the start is found by galloping back from the end, so a
/// short window near the end touches only the last few samples.
pub(super) fn window<T>(
    points: &[T],
    start: Timestamp,
    end: Timestamp,
    t: impl Fn(&T) -> Timestamp,
) -> &[T] {
    let hi = match points.last() {
        None => return points,
        Some(last) if t(last) <= end => points.len(),
        Some(_) => points.partition_point(|p| t(p) <= end),
    };
    let head = &points[..hi];
    let lo = partition_point_from_end(head, |p| t(p) < start);
    &head[lo..]
}

/// Like `slice::partition_point`, but searching exponentially from the end
/// before bisecting, so an answer near the end costs O(log distance) probes
/// near the end of the slice.
pub(super) fn partition_point_from_end<T>(items: &[T], pred: impl Fn(&T) -> bool) -> usize {
    // Invariant: every item at or after `hi` fails `pred`.
    let mut hi = items.len();
    let mut step = 1;
    while hi > 0 {
        let probe = hi.saturating_sub(step);
        let Some(item) = items.get(probe) else {
            break;
        };
        if pred(item) {
            // The boundary is in probe + 1 ..= hi.
            let rest = items.get(probe + 1..hi).unwrap_or_default();
            return probe + 1 + rest.partition_point(&pred);
        }
        hi = probe;
        step *= 2;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

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
            proptest::prop_assert_eq!(
                partition_point_from_end(&ts, |&x| x < start),
                lo
            );
        }
    }
}
