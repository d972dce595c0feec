//! [`TimeZone`]: an IANA zone, and the one rule that turns a local
//! wall-clock time into an instant across daylight-saving changes.
//!
//! The rule: a local time stands for the **earliest instant at which the
//! wall clock shows that time or later**. So
//! - a time that exists once is that instant;
//! - an ambiguous time (it occurs twice when the clocks go back) is its
//!   earlier occurrence;
//! - a nonexistent time (skipped when the clocks go forward, such as 02:30
//!   in Europe/Berlin on 2026-03-29) is the instant of the change, the first
//!   valid instant after it (03:00 CEST there).
//!
//! The mapping never decreases as the local time grows, which is what keeps
//! a day's intervals, and consecutive days, in order and disjoint.

use std::fmt;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::error::CalendarError;

/// An IANA time zone such as `Europe/Berlin` or `UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct TimeZone(Tz);

impl TimeZone {
    /// UTC.
    pub const UTC: Self = Self(Tz::UTC);

    /// Parses an IANA zone name (exact spelling, such as `America/New_York`).
    pub fn parse(name: &str) -> Result<Self, CalendarError> {
        name.trim()
            .parse::<Tz>()
            .map(Self)
            .map_err(|_| CalendarError::TimeZone(name.to_owned()))
    }

    /// The chrono-tz zone.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The zone's IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The instant a local wall-clock time stands for (see the module
    /// documentation for the rule), or `None` beyond chrono's range.
    pub fn resolve(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc))),
            LocalResult::None => self.end_of_gap(local),
        }
    }

    /// The local wall-clock time at `at` (at the very ends of chrono's
    /// range, where the local time is not representable, the UTC time).
    pub fn local(self, at: DateTime<Utc>) -> NaiveDateTime {
        let utc = at.naive_utc();
        let offset = self.0.offset_from_utc_datetime(&utc).fix();
        utc.checked_add_offset(offset).unwrap_or(utc)
    }

    /// The offset from UTC in seconds in force at `at` (UTC seconds).
    fn offset_at(self, at: NaiveDateTime) -> i64 {
        i64::from(self.0.offset_from_utc_datetime(&at).fix().local_minus_utc())
    }

    /// For a local time in a gap, the instant the clocks jumped: the
    /// smallest instant whose wall clock reads `local` or later. Found by
    /// bisection between the readings of the offsets before and after, so it
    /// is exact to the second whatever the size of the jump.
    fn end_of_gap(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let as_utc = local.and_utc().timestamp();
        let day = Duration::days(1);
        let before = self.offset_at(local.checked_sub_signed(day)?);
        let after = self.offset_at(local.checked_add_signed(day)?);
        let reaches =
            |seconds: i64| DateTime::from_timestamp(seconds, 0).map(|at| self.local(at) >= local);
        // An instant before the jump reads earlier than `local`; one after
        // it reads `local` or later.
        let mut lo = as_utc - before.max(after);
        let mut hi = as_utc - before.min(after);
        if reaches(lo)? || !reaches(hi)? {
            // Two changes within two days: search the whole neighbourhood.
            lo = as_utc - 2 * 86_400;
            hi = as_utc + 2 * 86_400;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if reaches(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        DateTime::from_timestamp(hi, 0)
    }
}

impl TryFrom<String> for TimeZone {
    type Error = CalendarError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn unknown_zones_are_refused_by_name() {
        assert_eq!(
            TimeZone::parse("Europe/Berlin").unwrap().name(),
            "Europe/Berlin"
        );
        let error = TimeZone::parse("Europe/Atlantis").unwrap_err().to_string();
        assert!(error.contains("Europe/Atlantis"), "{error}");
    }

    #[test]
    fn a_skipped_local_time_is_the_instant_the_clocks_jumped() {
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.resolve(local(2026, 3, 29, 2, 30)),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            berlin.resolve(local(2026, 3, 29, 2, 0)),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            berlin.resolve(local(2026, 3, 29, 3, 0)),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            new_york.resolve(local(2026, 3, 8, 2, 59)),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // Lord Howe Island jumps by half an hour.
        let lord_howe = TimeZone::parse("Australia/Lord_Howe").unwrap();
        assert_eq!(
            lord_howe.resolve(local(2026, 10, 4, 2, 10)),
            Some(utc("2026-10-03T15:30:00Z"))
        );
    }

    #[test]
    fn the_ends_of_the_representable_range_do_not_panic() {
        let new_york = TimeZone::parse("America/New_York").unwrap();
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        for zone in [new_york, berlin] {
            let _ = zone.local(DateTime::<Utc>::MAX_UTC);
            let _ = zone.local(DateTime::<Utc>::MIN_UTC);
            let _ = zone.resolve(NaiveDateTime::MAX);
            let _ = zone.resolve(NaiveDateTime::MIN);
        }
    }

    #[test]
    fn an_ambiguous_local_time_is_its_earlier_occurrence() {
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.resolve(local(2026, 10, 25, 2, 30)),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            new_york.resolve(local(2026, 11, 1, 1, 30)),
            Some(utc("2026-11-01T05:30:00Z"))
        );
    }
}
