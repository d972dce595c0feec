//! Business calendars: when a support team works, in its own time zone.
//!
//! A [`Calendar`] is an IANA [`TimeZone`], a [`WeekSchedule`] with several
//! [`Interval`]s a day (lunch breaks; a missing day is a day off) and
//! [`Holidays`] (dates, ranges, and iCalendar files), or simply always open.
//! It is built from [`CalendarConfig`] (the `calendars:` section of
//! `helpdesk.yaml`) and answers four questions, exact to the nanosecond:
//! [`Calendar::is_open`], [`Calendar::next_open`], [`Calendar::add`] (the
//! deadline after a business duration) and [`Calendar::elapsed`] (business
//! time between two instants). Instants are UTC; only this module looks at
//! local time.
//!
//! # Rules
//! - **Intervals** are half-open, `[start, end)`, in local wall-clock time,
//!   and never cross midnight: a night shift is `22:00-24:00` plus
//!   `00:00-06:00` the next day, and the two join without a seam.
//! - **Daylight saving**: a local time stands for the earliest instant at
//!   which the wall clock reads that time or later. A time that occurs twice
//!   (clocks go back) is its earlier occurrence; a time that does not occur
//!   (clocks go forward) is the instant of the change. So `01:00-04:00` is
//!   2 hours in Europe/Berlin on 2026-03-29 and 4 hours on 2026-10-25; a day
//!   opening at 02:30 on 2026-03-29 opens at 03:00 CEST.
//! - **Holidays** are local dates; a holiday closes the intervals listed
//!   under that date's weekday.
//! - **Zero durations**: `add(start, 0) == start` even outside working hours
//!   (negative durations count as zero), consistent with
//!   `elapsed(start, start) == 0`. A positive duration that ends exactly at
//!   the end of an interval yields that end, not the next opening.
//! - **Out of range**: an answer beyond chrono's range (a calendar whose
//!   holidays close it for good, an absurd duration) is
//!   `DateTime::<Utc>::MAX_UTC`.
//! - **Cost** is proportional to the days spanned (a year of business time
//!   is a few hundred day steps), never to seconds.

mod business_time;
pub mod config;
pub mod error;
pub mod holidays;
pub mod ical;
pub mod schedule;
pub mod zone;

pub use config::CalendarConfig;
pub use error::CalendarError;
pub use holidays::{AnnualHoliday, HolidaySpan, Holidays, YearDay};
pub use ical::parse_holidays;
pub use schedule::{DaySchedule, Interval, TimeOfDay, WeekSchedule};
pub use zone::TimeZone;

/// A business calendar; see the [module documentation](self) for its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    zone: TimeZone,
    hours: Hours,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Hours {
    /// Open every second of every day.
    Always,
    /// Open in the week's intervals except on holidays.
    Weekly(Box<Weekly>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Weekly {
    week: WeekSchedule,
    holidays: Holidays,
}

impl Calendar {
    /// A calendar open in `week`'s hours except on `holidays`. A week
    /// without any working hours is refused: nothing could ever be due.
    pub fn weekly(
        zone: TimeZone,
        week: WeekSchedule,
        holidays: Holidays,
    ) -> Result<Self, CalendarError> {
        if week.is_closed() {
            return Err(CalendarError::Shape(
                "`week` lists no working hours; add intervals such as mon: [\"09:00-18:00\"]",
            ));
        }
        Ok(Self {
            zone,
            hours: Hours::Weekly(Box::new(Weekly { week, holidays })),
        })
    }

    /// A calendar open around the clock (24/7): business time is wall time.
    pub fn always_open(zone: TimeZone) -> Self {
        Self {
            zone,
            hours: Hours::Always,
        }
    }

    /// Open around the clock except on `holidays` (local dates in `zone`).
    pub fn always_open_except(zone: TimeZone, holidays: Holidays) -> Self {
        if holidays.is_empty() {
            return Self::always_open(zone);
        }
        let all_days = [
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
            chrono::Weekday::Fri,
            chrono::Weekday::Sat,
            chrono::Weekday::Sun,
        ];
        Self {
            zone,
            hours: Hours::Weekly(Box::new(Weekly {
                week: WeekSchedule::same_hours(&all_days, &DaySchedule::all_day()),
                holidays,
            })),
        }
    }

    /// The zone the calendar's hours and holidays are in.
    pub fn zone(&self) -> TimeZone {
        self.zone
    }

    /// The weekly hours, or `None` when open around the clock without
    /// holidays.
    pub fn week(&self) -> Option<&WeekSchedule> {
        match &self.hours {
            Hours::Always => None,
            Hours::Weekly(weekly) => Some(&weekly.week),
        }
    }

    /// The holidays, or `None` when open around the clock without any.
    pub fn holidays(&self) -> Option<&Holidays> {
        match &self.hours {
            Hours::Always => None,
            Hours::Weekly(weekly) => Some(&weekly.holidays),
        }
    }
}
