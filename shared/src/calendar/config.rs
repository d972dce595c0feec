//! [`CalendarConfig`]: a calendar as written in `helpdesk.yaml` under
//! `calendars: { <name>: ... }`, and [`CalendarConfig::build`], which turns it
//! into a [`Calendar`].
//!
//! ```yaml
//! office:
//!   time_zone: Europe/Berlin
//!   week:                                   # a missing day is a day off
//!     mon: ["09:00-13:00", "14:00-18:00"]
//!     tue: ["09:00-18:00"]
//!   holidays: ["2026-12-25", "2026-12-24..2026-12-26"]
//!   holidays_ics: calendars/de-holidays.ics # relative to the config file
//! support_24x7: { time_zone: UTC, always_open: true }
//! ```
//!
//! Values are parsed while deserializing (zone, intervals, overlaps,
//! holiday dates), so the YAML loader reports those with line and column;
//! [`CalendarConfig::build`] checks the remaining shape and reads the
//! iCalendar file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Calendar;
use super::error::CalendarError;
use super::holidays::{HolidaySpan, Holidays};
use super::ical::parse_holidays;
use super::schedule::WeekSchedule;
use super::zone::TimeZone;

/// One calendar's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// The IANA zone the schedule and holidays are written in.
    pub time_zone: TimeZone,
    /// Open around the clock (then `week` must be absent).
    #[serde(default)]
    pub always_open: bool,
    /// Working hours per weekday.
    #[serde(default)]
    pub week: Option<WeekSchedule>,
    /// Closed dates and inclusive date ranges.
    #[serde(default)]
    pub holidays: Vec<HolidaySpan>,
    /// An iCalendar file of all-day holiday events, relative to the
    /// configuration file's directory.
    #[serde(default)]
    pub holidays_ics: Option<PathBuf>,
}

impl CalendarConfig {
    /// The calendar, reading `holidays_ics` relative to `base_dir`.
    pub fn build(&self, base_dir: &Path) -> Result<Calendar, CalendarError> {
        self.build_with(|path| {
            let path = base_dir.join(path);
            std::fs::read_to_string(&path).map_err(|source| CalendarError::IcsRead { path, source })
        })
    }

    /// The calendar, getting the text of `holidays_ics` (when set) from
    /// `read_ics`; for callers that keep files elsewhere, and for tests.
    pub fn build_with(
        &self,
        read_ics: impl FnOnce(&Path) -> Result<String, CalendarError>,
    ) -> Result<Calendar, CalendarError> {
        let mut holidays = Holidays::from_spans(self.holidays.iter().copied());
        if let Some(path) = &self.holidays_ics {
            let text = read_ics(path)?;
            holidays.merge(parse_holidays(&text, &path.display().to_string())?);
        }
        match (&self.week, self.always_open) {
            (Some(_), true) => Err(CalendarError::Shape(
                "set either `week` or `always_open: true`, not both",
            )),
            (None, true) => Ok(Calendar::always_open_except(self.time_zone, holidays)),
            (Some(week), false) => Calendar::weekly(self.time_zone, week.clone(), holidays),
            (None, false) => Err(CalendarError::Shape(
                "a calendar needs `week` (working hours per weekday) or `always_open: true`",
            )),
        }
    }
}
