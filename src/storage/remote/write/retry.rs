//! When and how long to wait before sending a request again.
//!
//! Server errors (5xx), `429 Too Many Requests` and failures to connect or
//! to get an answer are retried with exponential backoff; any other non-2xx
//! answer is final, as the same request would be refused again.

use std::time::{Duration, SystemTime};

/// Longest `Retry-After` honoured: a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How failed requests are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the first retry; doubled for each further one.
    /// Default: 30 ms (Prometheus' `min_backoff`).
    pub min_backoff: Duration,
    /// Longest wait between attempts. Default: 5 s (Prometheus' `max_backoff`).
    pub max_backoff: Duration,
    /// Attempts per request, the first included (at least 1). Default: 10.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1 for the first):
    /// `min_backoff * 2^(attempt-1)`, at most `max_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.min_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// The wait after failed attempt `attempt`: the server's `Retry-After`
    /// when it sent one (at most [`MAX_RETRY_AFTER`]), else [`Self::backoff`].
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(MAX_RETRY_AFTER),
            None => self.backoff(attempt),
        }
    }
}

/// Whether an HTTP status is worth retrying: 5xx and 429.
pub(crate) fn is_retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// A `Retry-After` value: delay seconds or an HTTP date (a date in the past
/// means no wait).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    // A date before 1970 is in the past too.
    let Ok(seconds) = u64::try_from(date.timestamp()) else {
        return Some(Duration::ZERO);
    };
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let p = RetryPolicy {
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_millis(200),
            max_attempts: 10,
        };
        let waits: Vec<u128> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![30, 60, 120, 200, 200, 200]);
        assert_eq!(p.backoff(0), Duration::from_millis(30));
        assert_eq!(p.backoff(1000), Duration::from_millis(200));
    }

    #[test]
    fn retry_after_replaces_the_backoff_within_a_bound() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(p.delay(3, None), Duration::from_millis(120));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn only_server_errors_and_429_are_retryable() {
        for s in [429, 500, 502, 503, 504, 599] {
            assert!(is_retryable(s), "{s}");
        }
        for s in [200, 204, 301, 400, 401, 403, 404, 409, 413, 422, 428, 600] {
            assert!(!is_retryable(s), "{s}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        let later = now + Duration::from_secs(100);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn hostile_retry_after_values_are_bounded_or_ignored() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        let p = RetryPolicy::default();
        // Huge: honoured only up to MAX_RETRY_AFTER.
        for huge in ["18446744073709551615", "Fri, 31 Dec 9999 23:59:59 GMT"] {
            let d = parse_retry_after(huge, now);
            assert!(d.is_some_and(|d| d > MAX_RETRY_AFTER), "{huge}");
            assert_eq!(p.delay(1, d), MAX_RETRY_AFTER, "{huge}");
        }
        // Before 1970: in the past, so no wait.
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 1900 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // Garbage, negative, fractional, overflowing, empty: the backoff applies.
        let long = "9".repeat(10_000);
        for bad in [
            "",
            " ",
            "-1",
            "1.5",
            "1e3",
            "0x10",
            "18446744073709551616",
            long.as_str(),
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "\u{0}",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:.20}");
            assert_eq!(p.delay(2, None), p.backoff(2));
        }
    }

    #[test]
    fn backoff_never_overflows() {
        let p = RetryPolicy {
            min_backoff: Duration::MAX,
            max_backoff: Duration::from_secs(5),
            max_attempts: u32::MAX,
        };
        for attempt in [0, 1, 2, 31, 32, 33, 64, u32::MAX] {
            assert_eq!(p.backoff(attempt), Duration::from_secs(5), "{attempt}");
        }
        let p = RetryPolicy {
            min_backoff: Duration::from_nanos(1),
            max_backoff: Duration::MAX,
            max_attempts: 3,
        };
        assert_eq!(
            p.backoff(u32::MAX),
            Duration::from_nanos(u64::from(u32::MAX))
        );
        assert_eq!(p.backoff(0), Duration::from_nanos(1));
    }
}
