//! Holidays: local dates on which a calendar is closed. A holiday closes
//! the intervals the weekly schedule lists under that date's weekday (so a
//! holiday on Tuesday closes Tuesday's `00:00-06:00` of a night shift, not
//! Monday's `22:00-24:00`).
//!
//! [`HolidaySpan`] is a configured date or inclusive date range;
//! [`Holidays`] holds merged spans plus [`AnnualHoliday`] rules (from
//! yearly recurring iCalendar events) and answers "is this date off?" with
//! a binary search.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

use super::error::CalendarError;

/// A configured holiday: one date (`2026-12-25`) or an inclusive range
/// (`2026-12-24..2026-12-26`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct HolidaySpan {
    first: NaiveDate,
    last: NaiveDate,
}

impl HolidaySpan {
    /// Parses `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD` (both ends included).
    pub fn parse(value: &str) -> Result<Self, CalendarError> {
        let refuse = |reason| CalendarError::Holiday {
            value: value.to_owned(),
            reason,
        };
        let date = |text: &str| {
            let text = text.trim();
            if text.len() != 10 {
                return Err(refuse("use YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"));
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| refuse("not a calendar date (use YYYY-MM-DD)"))
        };
        let (first, last) = match value.split_once("..") {
            Some((first, last)) => (date(first)?, date(last)?),
            None => {
                let day = date(value)?;
                (day, day)
            }
        };
        Self::new(first, last).ok_or_else(|| refuse("the range ends before it starts"))
    }

    /// The dates from `first` to `last`, both included; `None` if `last`
    /// is before `first`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Option<Self> {
        (first <= last).then_some(Self { first, last })
    }

    /// One date.
    pub fn day(date: NaiveDate) -> Self {
        Self {
            first: date,
            last: date,
        }
    }

    /// The first date off.
    pub fn first(self) -> NaiveDate {
        self.first
    }

    /// The last date off (included).
    pub fn last(self) -> NaiveDate {
        self.last
    }
}

impl TryFrom<String> for HolidaySpan {
    type Error = CalendarError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Display for HolidaySpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

/// Which day of a year an annual holiday falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum YearDay {
    /// A fixed date, such as December 25. Years without it (February 29)
    /// are skipped.
    Date {
        /// 1..=12.
        month: u32,
        /// 1..=31.
        day: u32,
    },
    /// The `nth` `weekday` of a month: 1 is the first, -1 the last (the
    /// fourth Thursday of November, the last Monday of May).
    NthWeekday {
        /// 1..=12.
        month: u32,
        /// 1..=5 from the start, -1..=-5 from the end.
        nth: i8,
        /// The weekday.
        weekday: Weekday,
    },
}

impl YearDay {
    /// The date in `year`, if that year has one.
    pub fn in_year(self, year: i32) -> Option<NaiveDate> {
        match self {
            Self::Date { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            Self::NthWeekday {
                month,
                nth,
                weekday,
            } => {
                if nth > 0 {
                    let nth = u8::try_from(nth).ok()?;
                    NaiveDate::from_weekday_of_month_opt(year, month, weekday, nth)
                } else {
                    let back = u64::from(nth.unsigned_abs().checked_sub(1)?);
                    let next_month = if month == 12 {
                        NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)?
                    } else {
                        NaiveDate::from_ymd_opt(year, month + 1, 1)?
                    };
                    let last_day = next_month.pred_opt()?;
                    let offset = (7 + last_day.weekday().num_days_from_monday()
                        - weekday.num_days_from_monday())
                        % 7;
                    let date =
                        last_day.checked_sub_days(Days::new(u64::from(offset) + 7 * back))?;
                    (date.month() == month).then_some(date)
                }
            }
        }
    }
}

/// A holiday that comes back every `interval` years from `first` (a
/// yearly recurring iCalendar event).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnnualHoliday {
    /// Where in the year it falls.
    pub on: YearDay,
    /// How many consecutive days it lasts (at least 1, at most 366).
    pub days: u32,
    /// The first occurrence; none before it.
    pub first: NaiveDate,
    /// The last date an occurrence may start on, if the rule ends.
    pub until: Option<NaiveDate>,
    /// Every how many years (at least 1).
    pub interval: u32,
    /// Occurrences (by their first day) that do not take place.
    pub except: Vec<NaiveDate>,
}

impl AnnualHoliday {
    /// Whether `date` falls on an occurrence.
    pub fn contains(&self, date: NaiveDate) -> bool {
        if date < self.first {
            return false;
        }
        let interval = i64::from(self.interval.max(1));
        // An occurrence lasts at most 366 days, so it starts this year or last.
        [date.year() - 1, date.year()].into_iter().any(|year| {
            let Some(start) = self.on.in_year(year) else {
                return false;
            };
            start >= self.first
                && (i64::from(year) - i64::from(self.first.year())) % interval == 0
                && self.until.is_none_or(|until| start <= until)
                && date >= start
                && (date - start).num_days() < i64::from(self.days)
                && !self.except.contains(&start)
        })
    }
}

/// The dates a calendar is closed on: merged spans and annual rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Holidays {
    /// Sorted by first date, disjoint and not adjacent.
    spans: Vec<HolidaySpan>,
    annual: Vec<AnnualHoliday>,
}

impl Holidays {
    /// No holidays.
    pub fn none() -> Self {
        Self::default()
    }

    /// These spans, in any order; overlapping ones are merged.
    pub fn from_spans(spans: impl IntoIterator<Item = HolidaySpan>) -> Self {
        let mut holidays = Self::default();
        holidays.extend_spans(spans);
        holidays
    }

    /// Adds spans.
    pub fn extend_spans(&mut self, spans: impl IntoIterator<Item = HolidaySpan>) {
        self.spans.extend(spans);
        self.spans.sort();
        let mut merged: Vec<HolidaySpan> = Vec::with_capacity(self.spans.len());
        for span in self.spans.drain(..) {
            match merged.last_mut() {
                Some(last) if last.last.succ_opt().is_none_or(|next| span.first <= next) => {
                    last.last = last.last.max(span.last);
                }
                _ => merged.push(span),
            }
        }
        self.spans = merged;
    }

    /// Adds an annual rule.
    pub fn push_annual(&mut self, rule: AnnualHoliday) {
        self.annual.push(rule);
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: Holidays) {
        self.extend_spans(other.spans);
        self.annual.extend(other.annual);
    }

    /// Whether the calendar is closed on `date`.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.span_containing(date).is_some() || self.annual.iter().any(|rule| rule.contains(date))
    }

    /// The configured span `date` falls in, if any (annual rules aside);
    /// lets a walk over the days jump over a long closure in one step.
    pub(crate) fn span_containing(&self, date: NaiveDate) -> Option<HolidaySpan> {
        let after = self.spans.partition_point(|span| span.first <= date);
        let span = *self.spans.get(after.checked_sub(1)?)?;
        (span.last >= date).then_some(span)
    }

    /// Whether there are no holidays at all.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.annual.is_empty()
    }

    /// The merged spans, sorted.
    pub fn spans(&self) -> &[HolidaySpan] {
        &self.spans
    }

    /// The annual rules.
    pub fn annual(&self) -> &[AnnualHoliday] {
        &self.annual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn holidays_parse_as_dates_or_inclusive_ranges() {
        let day = HolidaySpan::parse("2026-12-25").unwrap();
        assert_eq!(
            (day.first(), day.last()),
            (date("2026-12-25"), date("2026-12-25"))
        );
        let range = HolidaySpan::parse("2026-12-24..2026-12-26").unwrap();
        assert_eq!(range.to_string(), "2026-12-24..2026-12-26");
        for bad in [
            "2026-02-30",
            "2026-12-26..2026-12-24",
            "26-12-25",
            "tomorrow",
            "2026-1-5",
        ] {
            assert!(HolidaySpan::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn spans_merge_and_lookups_find_every_date_inside() {
        let holidays = Holidays::from_spans([
            HolidaySpan::parse("2026-12-24..2026-12-26").unwrap(),
            HolidaySpan::parse("2026-12-27").unwrap(),
            HolidaySpan::parse("2026-12-25").unwrap(),
            HolidaySpan::parse("2027-01-01").unwrap(),
        ]);
        assert_eq!(holidays.spans().len(), 2);
        for off in ["2026-12-24", "2026-12-26", "2026-12-27", "2027-01-01"] {
            assert!(holidays.contains(date(off)), "{off}");
        }
        for on in ["2026-12-23", "2026-12-28", "2026-12-31", "2027-01-02"] {
            assert!(!holidays.contains(date(on)), "{on}");
        }
    }

    #[test]
    fn nth_weekdays_count_from_either_end_of_the_month() {
        let thanksgiving = YearDay::NthWeekday {
            month: 11,
            nth: 4,
            weekday: Weekday::Thu,
        };
        assert_eq!(thanksgiving.in_year(2026), Some(date("2026-11-26")));
        let memorial = YearDay::NthWeekday {
            month: 5,
            nth: -1,
            weekday: Weekday::Mon,
        };
        assert_eq!(memorial.in_year(2026), Some(date("2026-05-25")));
        assert_eq!(memorial.in_year(2027), Some(date("2027-05-31")));
        let leap = YearDay::Date { month: 2, day: 29 };
        assert_eq!(leap.in_year(2027), None);
    }

    #[test]
    fn annual_rules_respect_start_interval_end_and_exceptions() {
        let rule = AnnualHoliday {
            on: YearDay::Date { month: 12, day: 31 },
            days: 2,
            first: date("2025-12-31"),
            until: Some(date("2030-01-01")),
            interval: 1,
            except: vec![date("2027-12-31")],
        };
        assert!(rule.contains(date("2026-01-01")));
        assert!(rule.contains(date("2026-12-31")));
        assert!(!rule.contains(date("2024-12-31")));
        assert!(!rule.contains(date("2027-12-31")));
        assert!(!rule.contains(date("2028-01-01")));
        assert!(rule.contains(date("2029-12-31")));
        assert!(!rule.contains(date("2030-12-31")));
        let every_other = AnnualHoliday {
            interval: 2,
            until: None,
            except: vec![],
            ..rule
        };
        assert!(every_other.contains(date("2027-12-31")));
        assert!(!every_other.contains(date("2026-12-31")));
    }
}
