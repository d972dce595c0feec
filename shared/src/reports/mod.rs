//! Reports: what the team measures, computed from one source of truth, the
//! metric events ([`metrics`]) derived from each ticket's timeline.
//!
//! Each ticket's metric events become its [`tally`]: counters by day (of
//! the zone reports count in) and key. A report is a pure function of the
//! sum of the tallies of its queues and a date range: [`volume`],
//! [`breakdown`] (and assignee x status), [`response`] times, [`sla`],
//! [`reopens`], time in status ([`stays`]) and [`agents`]; [`run`] makes
//! any of them one document for the CLI, the API and the console. Where
//! the tallies come from (the store's timelines, [`gather`]; rollups kept
//! as tickets change) is the caller's business.

pub mod agents;
pub mod breakdown;
pub mod export;
pub mod gather;
pub mod keep;
pub mod metrics;
pub mod reopens;
pub mod response;
pub mod run;
pub mod sla;
pub mod stays;
pub mod tally;
pub mod volume;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::calendar::TimeZone;

/// How a report's rows group days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Each calendar day.
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl Period {
    /// The period named `name` (`day`, `week`, `month`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The first day of the period `date` is in.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => date,
            Self::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the period after the one starting at `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Month => {
                let (year, month) = if start.month() == 12 {
                    (start.year() + 1, 1)
                } else {
                    (start.year(), start.month() + 1)
                };
                NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(start + Duration::days(31))
            }
        }
    }

    /// How a period starting at `start` is labelled: `2026-03-29`,
    /// `2026-W13`, `2026-03`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Self::Day => start.format("%Y-%m-%d").to_string(),
            Self::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Self::Month => start.format("%Y-%m").to_string(),
        }
    }
}

/// The days a report covers, both ends included, as calendar days of a
/// zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

impl DateRange {
    /// The range of `from` to `to`, or `None` when `to` is before `from`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        (from <= to).then_some(Self { from, to })
    }

    /// Whether `day` is one of the range's days.
    pub fn contains(self, day: NaiveDate) -> bool {
        (self.from..=self.to).contains(&day)
    }

    /// The range's periods: each one's label, its first and last day
    /// within the range.
    pub fn periods(self, period: Period) -> Vec<(String, NaiveDate, NaiveDate)> {
        let mut out = Vec::new();
        let mut start = period.start_of(self.from);
        while start <= self.to {
            let next = period.next(start);
            let first = start.max(self.from);
            let last = (next - Duration::days(1)).min(self.to);
            out.push((period.label(start), first, last));
            start = next;
        }
        out
    }

    /// The 30 days that end with `today`.
    pub fn last_30_days(today: NaiveDate) -> Self {
        Self {
            from: today - Duration::days(29),
            to: today,
        }
    }
}

/// The instant day `date` begins in `zone` (its first instant when
/// midnight falls in a daylight-saving gap).
pub fn start_of_day(zone: TimeZone, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.resolve(midnight).unwrap_or_else(|| midnight.and_utc())
}

/// The calendar day of `at` in `zone`.
pub fn day_of(zone: TimeZone, at: DateTime<Utc>) -> NaiveDate {
    zone.local(at).date()
}

/// What a report was asked for, as given (the CLI's options, the API's
/// query string).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Asked {
    /// The first day (default: 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// The last day (default: today in `zone`).
    pub to: Option<NaiveDate>,
    /// What rows group by: a period for `volume` (`day`, `week`,
    /// `month`), a field for `breakdown`.
    pub by: Option<String>,
    /// An IANA zone (default: the desk's report zone).
    pub zone: Option<String>,
}

impl Asked {
    /// The days asked for and the zone they are days of (`zone` unless
    /// asked), at `now`; what is wrong (naming the parameter) otherwise.
    /// `by` is each report's own business.
    pub fn range(
        &self,
        now: DateTime<Utc>,
        zone: TimeZone,
    ) -> Result<(DateRange, TimeZone), (&'static str, String)> {
        let zone = match self.zone.as_deref() {
            None => zone,
            Some(name) => TimeZone::parse(name)
                .map_err(|_| ("zone", format!("{name:?} is not an IANA time zone")))?,
        };
        let to = self.to.unwrap_or_else(|| day_of(zone, now));
        let range = match self.from {
            Some(from) => DateRange::new(from, to).ok_or(("from", "is after to".to_owned()))?,
            None => DateRange::last_30_days(to),
        };
        if (range.to - range.from).num_days() > MAX_DAYS {
            return Err(("from", format!("a report covers at most {MAX_DAYS} days")));
        }
        Ok((range, zone))
    }
}

/// The longest range a report covers (ten years of days).
pub const MAX_DAYS: i64 = 3660;
