//! The weekly schedule in local wall-clock time: [`TimeOfDay`],
//! [`Interval`] (`09:00-13:00`), [`DaySchedule`] (a day's sorted,
//! non-overlapping intervals) and [`WeekSchedule`] (one per weekday).
//!
//! Everything here is parsed once: a value of these types is always valid.
//! Time zones and daylight saving are not this module's concern; see
//! [`super::zone`].

use std::fmt;

use chrono::Weekday;
use serde::Deserialize;

use super::error::CalendarError;

/// Seconds in a day; the value of `24:00`.
const DAY: u32 = 86_400;

/// A wall-clock time of day from `00:00` to `24:00` inclusive, to the
/// second. `24:00` is the end of the day and is only usable as the end of
/// an [`Interval`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// Midnight at the start of the day, `00:00`.
    pub const MIDNIGHT: Self = Self(0);
    /// The end of the day, `24:00`.
    pub const END_OF_DAY: Self = Self(DAY);

    /// Parses `HH:MM` or `HH:MM:SS` (two digits each; `24:00` allowed).
    pub fn parse(value: &str) -> Result<Self, CalendarError> {
        let refuse = |reason| CalendarError::TimeOfDay {
            value: value.to_owned(),
            reason,
        };
        let parts: Vec<&str> = value.trim().split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(refuse("use HH:MM, such as 09:00 or 17:30"));
        }
        let mut numbers = [0u32; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refuse(
                    "use two digits each for hours and minutes, such as 09:00",
                ));
            }
            *slot = part.parse().map_err(|_| refuse("not a number"))?;
        }
        let [hours, minutes, seconds] = numbers;
        if minutes > 59 || seconds > 59 {
            return Err(refuse("minutes and seconds go up to 59"));
        }
        if hours > 24 || (hours == 24 && (minutes, seconds) != (0, 0)) {
            return Err(refuse(
                "hours go up to 23 (24:00 is allowed as the end of the day)",
            ));
        }
        Ok(Self(hours * 3600 + minutes * 60 + seconds))
    }

    /// A time of day from seconds after midnight (`86400` is `24:00`).
    pub fn from_seconds(seconds: u32) -> Option<Self> {
        (seconds <= DAY).then_some(Self(seconds))
    }

    /// Seconds after midnight (`86400` for `24:00`).
    pub fn seconds(self) -> u32 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

/// A half-open stretch of one day's wall-clock time, `start` included and
/// `end` excluded, with `start < end`. Written `09:00-13:00`; it may end at
/// `24:00`. It never crosses midnight: a night shift is `22:00-24:00` on one
/// day and `00:00-06:00` on the next, and the two join seamlessly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Interval {
    start: TimeOfDay,
    end: TimeOfDay,
}

impl Interval {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(value: &str) -> Result<Self, CalendarError> {
        let refuse = |reason: String| CalendarError::Interval {
            value: value.to_owned(),
            reason,
        };
        let (start, end) = value
            .split_once('-')
            .ok_or_else(|| refuse("use START-END, such as 09:00-13:00".into()))?;
        let start = TimeOfDay::parse(start).map_err(|e| refuse(e.to_string()))?;
        let end = TimeOfDay::parse(end).map_err(|e| refuse(e.to_string()))?;
        Self::new(start, end).map_err(|e| match e {
            CalendarError::Interval { reason, .. } => refuse(reason),
            other => other,
        })
    }

    /// The interval from `start` to `end`; `start` must be before `end`.
    pub fn new(start: TimeOfDay, end: TimeOfDay) -> Result<Self, CalendarError> {
        if start < end {
            return Ok(Self { start, end });
        }
        let reason = if start == TimeOfDay::END_OF_DAY {
            "24:00 can only end an interval; start the next day at 00:00".to_owned()
        } else if start == end {
            "it is empty: the start must be before the end".to_owned()
        } else {
            format!(
                "it crosses midnight; split it into {start}-24:00 on this day and 00:00-{end} on the next"
            )
        };
        Err(CalendarError::Interval {
            value: format!("{start}-{end}"),
            reason,
        })
    }

    /// The first moment of the interval.
    pub fn start(self) -> TimeOfDay {
        self.start
    }

    /// The first moment after the interval.
    pub fn end(self) -> TimeOfDay {
        self.end
    }
}

impl TryFrom<String> for Interval {
    type Error = CalendarError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// One day's working hours: intervals sorted by start and not sharing
/// time. Intervals that touch (`09:00-13:00`, `13:00-18:00`) are joined.
/// An empty schedule is a day off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "Vec<Interval>")]
pub struct DaySchedule(Vec<Interval>);

impl DaySchedule {
    /// A day with these intervals, in any order; overlapping ones are refused.
    pub fn new(mut intervals: Vec<Interval>) -> Result<Self, CalendarError> {
        intervals.sort_by_key(|i| (i.start, i.end));
        let mut joined: Vec<Interval> = Vec::with_capacity(intervals.len());
        for interval in intervals {
            match joined.last_mut() {
                Some(last) if interval.start < last.end => {
                    return Err(CalendarError::Overlap {
                        first: last.to_string(),
                        second: interval.to_string(),
                    });
                }
                Some(last) if interval.start == last.end => last.end = interval.end,
                _ => joined.push(interval),
            }
        }
        Ok(Self(joined))
    }

    /// Open around the clock: `00:00-24:00`.
    pub fn all_day() -> Self {
        Self(vec![Interval {
            start: TimeOfDay::MIDNIGHT,
            end: TimeOfDay::END_OF_DAY,
        }])
    }

    /// The intervals, sorted, disjoint and not touching.
    pub fn intervals(&self) -> &[Interval] {
        &self.0
    }

    /// Whether this is a day off.
    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<Interval>> for DaySchedule {
    type Error = CalendarError;

    fn try_from(value: Vec<Interval>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// Working hours for each weekday. In configuration the keys are `mon`,
/// `tue`, `wed`, `thu`, `fri`, `sat` and `sun`; a missing day is a day off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "WeekConfig")]
pub struct WeekSchedule {
    days: [DaySchedule; 7],
}

impl WeekSchedule {
    /// A week of days off; fill it in with [`WeekSchedule::set`].
    pub fn closed() -> Self {
        Self::default()
    }

    /// The same hours on each of `days`, other days off.
    pub fn same_hours(days: &[Weekday], hours: &DaySchedule) -> Self {
        let mut week = Self::default();
        for &day in days {
            week.set(day, hours.clone());
        }
        week
    }

    /// Sets the hours of one weekday.
    pub fn set(&mut self, day: Weekday, hours: DaySchedule) -> &mut Self {
        self.days[day.num_days_from_monday() as usize] = hours;
        self
    }

    /// The hours of one weekday.
    pub fn day(&self, day: Weekday) -> &DaySchedule {
        &self.days[day.num_days_from_monday() as usize]
    }

    /// Whether the week has no working time at all.
    pub fn is_closed(&self) -> bool {
        self.days.iter().all(DaySchedule::is_closed)
    }
}

/// The configuration shape of [`WeekSchedule`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeekConfig {
    #[serde(default)]
    mon: DaySchedule,
    #[serde(default)]
    tue: DaySchedule,
    #[serde(default)]
    wed: DaySchedule,
    #[serde(default)]
    thu: DaySchedule,
    #[serde(default)]
    fri: DaySchedule,
    #[serde(default)]
    sat: DaySchedule,
    #[serde(default)]
    sun: DaySchedule,
}

impl From<WeekConfig> for WeekSchedule {
    fn from(c: WeekConfig) -> Self {
        Self {
            days: [c.mon, c.tue, c.wed, c.thu, c.fri, c.sat, c.sun],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_with_and_without_seconds() {
        assert_eq!(
            TimeOfDay::parse("09:30").unwrap().seconds(),
            9 * 3600 + 1800
        );
        assert_eq!(TimeOfDay::parse("00:00:07").unwrap().seconds(), 7);
        assert_eq!(TimeOfDay::parse("24:00").unwrap(), TimeOfDay::END_OF_DAY);
        assert_eq!(
            TimeOfDay::parse("17:05:09").unwrap().to_string(),
            "17:05:09"
        );
        for bad in [
            "9:00",
            "24:01",
            "25:00",
            "12:60",
            "12",
            "12:00:00:00",
            "ab:cd",
            "",
        ] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn intervals_must_start_before_they_end() {
        assert_eq!(
            Interval::parse("09:00-13:00").unwrap().to_string(),
            "09:00-13:00"
        );
        assert_eq!(
            Interval::parse(" 22:00 - 24:00 ").unwrap().to_string(),
            "22:00-24:00"
        );
        let crossing = Interval::parse("22:00-06:00").unwrap_err().to_string();
        assert!(crossing.contains("crosses midnight"), "{crossing}");
        assert!(Interval::parse("10:00-10:00").is_err());
        let late = Interval::parse("24:00-24:00").unwrap_err().to_string();
        assert!(late.contains("24:00 can only end"), "{late}");
        assert!(Interval::parse("09:00").is_err());
    }

    #[test]
    fn a_day_sorts_its_intervals_joins_touching_ones_and_refuses_overlaps() {
        let parse = |items: &[&str]| {
            DaySchedule::new(items.iter().map(|i| Interval::parse(i).unwrap()).collect())
        };
        let day = parse(&["14:00-18:00", "09:00-13:00", "13:00-13:30"]).unwrap();
        let shown: Vec<String> = day.intervals().iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["09:00-13:30", "14:00-18:00"]);
        let error = parse(&["09:00-13:00", "12:00-14:00"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("09:00-13:00 and 12:00-14:00 overlap"),
            "{error}"
        );
    }
}
