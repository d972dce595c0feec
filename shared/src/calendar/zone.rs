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
//!
//! The zones' rules come from the IANA database that `jiff` bundles
//! (compressed TZif data compiled into the binary, the same on every
//! machine; a zone's rules are read when its name is first parsed). Its
//! rules continue past the last listed transition, so a date in 2050 gets
//! the daylight-saving time it will have. Tables of the database as Rust
//! data (chrono-tz) would put some 28,000 pointers into every binary that the
//! loader must relocate at each cold start of a Lambda function, about a
//! millisecond (see docs/benchmarks.md).

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use jiff::tz::{AmbiguousOffset, TimeZoneDatabase};
use serde::Deserialize;

use super::error::CalendarError;

/// An IANA time zone such as `Europe/Berlin` or `UTC`.
///
/// A small copyable handle: each zone's rules are read once per process and
/// kept for its lifetime (at most one entry per name in the database, a few
/// hundred). Two handles are equal when they name the same zone.
#[derive(Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub struct TimeZone(&'static Zone);

/// A parsed zone: its name, exactly as the database spells it, and its rules.
struct Zone {
    name: &'static str,
    rules: jiff::tz::TimeZone,
}

static UTC_ZONE: Zone = Zone {
    name: "UTC",
    rules: jiff::tz::TimeZone::UTC,
};

/// The bundled database, and the zones parsed so far by name.
static DATABASE: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);
static PARSED: LazyLock<Mutex<HashMap<&'static str, &'static Zone>>> =
    LazyLock::new(|| Mutex::new(HashMap::from([(UTC_ZONE.name, &UTC_ZONE)])));

impl TimeZone {
    /// UTC.
    pub const UTC: Self = Self(&UTC_ZONE);

    /// Parses an IANA zone name (exact spelling, such as `America/New_York`).
    pub fn parse(name: &str) -> Result<Self, CalendarError> {
        let name = name.trim();
        let mut parsed = PARSED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(zone) = parsed.get(name) {
            return Ok(Self(zone));
        }
        let unknown = || CalendarError::TimeZone(name.to_owned());
        let rules = DATABASE.get(name).map_err(|_| unknown())?;
        // The database looks names up regardless of case; a configuration
        // spells them exactly, as everything else that reads it would.
        if rules.iana_name() != Some(name) {
            return Err(unknown());
        }
        let zone: &'static Zone = Box::leak(Box::new(Zone {
            name: Box::leak(name.into()),
            rules,
        }));
        parsed.insert(zone.name, zone);
        Ok(Self(zone))
    }

    /// The zone's IANA name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The instant a local wall-clock time stands for (see the module
    /// documentation for the rule), or `None` beyond chrono's range.
    pub fn resolve(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let cycles = cycles_beyond(local.year());
        if cycles != 0 {
            let shift = Duration::try_days(CYCLE_DAYS * cycles)?;
            return self
                .resolve(local.checked_sub_signed(shift)?)?
                .checked_add_signed(shift);
        }
        let at = |offset: jiff::tz::Offset| {
            local
                .checked_sub_signed(Duration::seconds(offset.seconds().into()))
                .map(|utc| utc.and_utc())
        };
        match self.0.rules.to_ambiguous_timestamp(civil(local)?).offset() {
            AmbiguousOffset::Unambiguous { offset } => at(offset),
            // The earlier occurrence is the one with the larger offset.
            AmbiguousOffset::Fold { before, after } => at(before.max(after)),
            AmbiguousOffset::Gap { .. } => self.end_of_gap(local),
        }
    }

    /// The local wall-clock time at `at` (at the very ends of chrono's
    /// range, where the local time is not representable, the UTC time).
    pub fn local(self, at: DateTime<Utc>) -> NaiveDateTime {
        let utc = at.naive_utc();
        utc.checked_add_signed(Duration::seconds(self.offset_at(at)))
            .unwrap_or(utc)
    }

    /// The offset from UTC in seconds in force at `at`.
    fn offset_at(self, at: DateTime<Utc>) -> i64 {
        let inside = Duration::try_days(CYCLE_DAYS * cycles_beyond(at.year()))
            .and_then(|shift| at.checked_sub_signed(shift));
        inside
            .and_then(|at| jiff::Timestamp::from_second(at.timestamp()).ok())
            .map_or(0, |instant| {
                self.0.rules.to_offset(instant).seconds().into()
            })
    }

    /// For a local time in a gap, the instant the clocks jumped: the
    /// smallest instant whose wall clock reads `local` or later. Found by
    /// bisection between the readings of the offsets before and after, so it
    /// is exact to the second whatever the size of the jump.
    fn end_of_gap(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let as_utc = local.and_utc().timestamp();
        let day = Duration::days(1);
        let before = self.offset_at(local.checked_sub_signed(day)?.and_utc());
        let after = self.offset_at(local.checked_add_signed(day)?.and_utc());
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

/// Days in 400 Gregorian years: the calendar, weekdays included, repeats
/// after them, and so do a zone's rules past its last listed transition.
const CYCLE_DAYS: i64 = 146_097;

/// By how many 400-year cycles to move a time in `year` to bring it into
/// the years jiff covers (-9999 to 9999, less a year at each end for the
/// offsets): 0 inside them. Beyond them a zone keeps its last rule, so the
/// answer there is the one whole cycles nearer, moved back by as many.
fn cycles_beyond(year: i32) -> i64 {
    const LAST: i64 = 9998;
    let year = i64::from(year);
    if year > LAST {
        (year - LAST + 399) / 400
    } else if year < -LAST {
        -((-LAST - year + 399) / 400)
    } else {
        0
    }
}

/// A chrono local time as a jiff civil time (`None` outside jiff's years).
fn civil(local: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let small = |n: u32| i8::try_from(n).ok();
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        small(local.month())?,
        small(local.day())?,
        small(local.hour())?,
        small(local.minute())?,
        small(local.second())?,
        // chrono writes a leap second as nanoseconds past 999,999,999.
        i32::try_from(local.nanosecond().min(999_999_999)).ok()?,
    )
    .ok()
}

impl PartialEq for TimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for TimeZone {}

impl Hash for TimeZone {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TimeZone").field(&self.name()).finish()
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
    fn names_are_spelled_exactly_and_a_parsed_zone_is_the_same_zone_again() {
        let error = TimeZone::parse("europe/berlin").unwrap_err().to_string();
        assert!(error.contains("europe/berlin"), "{error}");
        let berlin = TimeZone::parse("Europe/Berlin").unwrap();
        assert_eq!(TimeZone::parse(" Europe/Berlin ").unwrap(), berlin);
        assert_ne!(TimeZone::parse("Europe/Paris").unwrap(), berlin);
        assert_eq!(TimeZone::parse("UTC").unwrap(), TimeZone::UTC);
        // A link is its own name, with its target's rules.
        let eastern = TimeZone::parse("US/Eastern").unwrap();
        assert_eq!(eastern.name(), "US/Eastern");
        let new_york = TimeZone::parse("America/New_York").unwrap();
        let at = utc("2026-07-01T12:00:00Z");
        assert_eq!(eastern.local(at), new_york.local(at));
    }

    #[test]
    fn local_times_agree_with_chrono_tz_over_a_quarter_century() {
        use chrono::TimeZone as _;
        // Every 7 hours from 2000 to 2026 (so every hour of the day comes
        // round), in zones with whole-hour, half-hour and 45-minute
        // offsets, northern and southern daylight saving, and none.
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "Pacific/Chatham",
            "America/Sao_Paulo",
        ] {
            let ours = TimeZone::parse(name).unwrap();
            let oracle: chrono_tz::Tz = name.parse().unwrap();
            let mut at = utc("2000-01-01T00:00:00Z");
            while at < utc("2026-01-01T00:00:00Z") {
                let expected = at.with_timezone(&oracle).naive_local();
                assert_eq!(ours.local(at), expected, "{name} at {at}");
                let back = oracle
                    .from_local_datetime(&expected)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc));
                assert_eq!(ours.resolve(expected), back, "{name} at {expected}");
                at += Duration::hours(7);
            }
        }
    }

    #[test]
    fn daylight_saving_continues_past_the_last_listed_transition() {
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            new_york.resolve(local(2077, 7, 1, 12, 0)),
            Some(utc("2077-07-01T16:00:00Z"))
        );
        assert_eq!(
            new_york.resolve(local(2077, 12, 1, 12, 0)),
            Some(utc("2077-12-01T17:00:00Z"))
        );
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
