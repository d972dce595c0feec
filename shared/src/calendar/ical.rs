//! Holidays from an iCalendar (`.ics`) file, such as a public holiday feed.
//!
//! Every all-day `VEVENT` is a holiday: `DTSTART;VALUE=DATE` is the first
//! day and `DTEND` (exclusive, as RFC 5545 says) or `DURATION` (`P3D`,
//! `P1W`) its length; with neither it lasts one day. Yearly recurring events
//! (`RRULE:FREQ=YEARLY` with `INTERVAL`, `COUNT`, `UNTIL`, and `BYMONTH` with
//! `BYMONTHDAY` or an ordinal `BYDAY` such as `4TH` or `-1MO`) become
//! [`AnnualHoliday`] rules, `EXDATE` removes occurrences. Cancelled events
//! are skipped. Anything we would otherwise get wrong, a timed event, another
//! recurrence, `RDATE` or `RECURRENCE-ID`, is an error naming the event
//! instead of a silently different calendar.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use icalendar::{Component, DatePerhapsTime, Event};

use super::error::CalendarError;
use super::holidays::{AnnualHoliday, HolidaySpan, Holidays, YearDay};

/// Reads the holidays in iCalendar `text`; `source_name` names it in errors.
pub fn parse_holidays(text: &str, source_name: &str) -> Result<Holidays, CalendarError> {
    let fail = |message: String| CalendarError::Ics {
        source_name: source_name.to_owned(),
        message,
    };
    let calendar: icalendar::Calendar = text.parse().map_err(|e: String| {
        let first = e
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        fail(format!("not an iCalendar file ({first})"))
    })?;
    let mut holidays = Holidays::none();
    let mut spans = Vec::new();
    for event in calendar.events() {
        let status = event.property_value("STATUS").map(str::trim);
        if status.is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED")) {
            continue;
        }
        match read_event(event).map_err(|reason| fail(format!("{}: {reason}", describe(event))))? {
            Holiday::Once(span) => spans.push(span),
            Holiday::Annual(rule) => holidays.push_annual(rule),
        }
    }
    holidays.extend_spans(spans);
    Ok(holidays)
}

enum Holiday {
    Once(HolidaySpan),
    Annual(AnnualHoliday),
}

/// Names an event for an error message.
fn describe(event: &Event) -> String {
    let summary = event.property_value("SUMMARY").unwrap_or("(no summary)");
    match event.property_value("DTSTART") {
        Some(start) => format!("event {summary:?} on {start}"),
        None => format!("event {summary:?}"),
    }
}

fn read_event(event: &Event) -> Result<Holiday, String> {
    for unsupported in ["RDATE", "RECURRENCE-ID"] {
        if has_property(event, unsupported) {
            return Err(format!(
                "{unsupported} is not supported; list each holiday as its own event"
            ));
        }
    }
    let first = match event.get_start() {
        Some(DatePerhapsTime::Date(date)) => date,
        Some(DatePerhapsTime::DateTime(_)) => {
            return Err(
                "it has a time of day; only all-day events (DTSTART;VALUE=DATE) can be holidays"
                    .into(),
            );
        }
        None => return Err("it has no valid DTSTART date".into()),
    };
    let days = length_in_days(event, first)?;
    let Some(rule) = event.property_value("RRULE") else {
        let last = first
            .checked_add_days(Days::new(u64::from(days - 1)))
            .ok_or("its dates are out of range")?;
        return HolidaySpan::new(first, last)
            .map(Holiday::Once)
            .ok_or_else(|| "its dates are out of range".into());
    };
    let mut except = Vec::new();
    for property in event.multi_properties().get("EXDATE").into_iter().flatten() {
        for value in property.value().split(',') {
            except.push(ical_date(value).ok_or_else(|| format!("EXDATE {value:?} is not a date"))?);
        }
    }
    yearly_rule(rule, first, days, except).map(Holiday::Annual)
}

fn has_property(event: &Event, key: &str) -> bool {
    event.properties().contains_key(key) || event.multi_properties().contains_key(key)
}

/// Days from DTEND (exclusive) or DURATION; one without either.
fn length_in_days(event: &Event, first: NaiveDate) -> Result<u32, String> {
    let days = if let Some(end) = event.get_end() {
        let DatePerhapsTime::Date(end) = end else {
            return Err("DTEND has a time of day; use an all-day DTEND;VALUE=DATE".into());
        };
        match (end - first).num_days() {
            // DTEND equal to DTSTART is malformed but common: one day.
            0 => 1,
            days => days,
        }
    } else if let Some(duration) = event.property_value("DURATION") {
        parse_day_duration(duration).ok_or_else(|| {
            format!("DURATION {duration:?} is not a whole number of days (P2D, P1W)")
        })?
    } else {
        1
    };
    if days < 1 {
        return Err("it ends before it starts".into());
    }
    if days > 366 {
        return Err(
            "it lasts more than a year; split it or list it under holidays as a range".into(),
        );
    }
    u32::try_from(days).map_err(|_| "it lasts too long".to_owned())
}

/// `P3D`, `P1W`, `+P2D`, `P1W2D`.
fn parse_day_duration(text: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches('+');
    let body = text.strip_prefix('P')?;
    let (mut total, mut number) = (0i64, String::new());
    for c in body.chars() {
        match c {
            '0'..='9' => number.push(c),
            'W' => total += number.drain(..).as_str().parse::<i64>().ok()? * 7,
            'D' => total += number.drain(..).as_str().parse::<i64>().ok()?,
            _ => return None,
        }
    }
    (number.is_empty() && total > 0).then_some(total)
}

/// `20261225`, also the date part of `20261225T000000Z`.
fn ical_date(value: &str) -> Option<NaiveDate> {
    let digits = value.trim().get(..8)?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// The yearly holiday `RRULE` `rule` describes, for an event starting on
/// `first` and lasting `days`, without the `except` dates.
fn yearly_rule(
    rule: &str,
    first: NaiveDate,
    days: u32,
    except: Vec<NaiveDate>,
) -> Result<AnnualHoliday, String> {
    let unsupported = || {
        format!(
            "RRULE {rule:?} is not supported; only yearly rules on a date or an nth weekday are"
        )
    };
    let parts = RuleParts::parse(rule).ok_or_else(unsupported)?;
    if parts.freq.as_deref() != Some("YEARLY") {
        return Err(unsupported());
    }
    let on = parts.year_day(first).ok_or_else(unsupported)?;
    let interval = parts.interval;
    let until = match (parts.count, parts.until) {
        (Some(_), Some(_)) => return Err("RRULE has both COUNT and UNTIL".into()),
        (Some(count), None) => nth_occurrence(on, first, interval, count),
        (None, until) => until,
    };
    Ok(AnnualHoliday {
        on,
        days,
        first,
        until,
        interval,
        except,
    })
}

/// The parts of an `RRULE` that a yearly holiday can use.
struct RuleParts {
    freq: Option<String>,
    interval: u32,
    count: Option<u32>,
    until: Option<NaiveDate>,
    by_month: Option<u32>,
    by_month_day: Option<u32>,
    by_day: Option<(i8, Weekday)>,
}

impl RuleParts {
    /// Reads `FREQ=YEARLY;BYMONTH=11;...`; `None` at the first part that is
    /// malformed, out of range or not one we know.
    fn parse(rule: &str) -> Option<Self> {
        let mut parts = Self {
            freq: None,
            interval: 1,
            count: None,
            until: None,
            by_month: None,
            by_month_day: None,
            by_day: None,
        };
        for part in rule.split(';').filter(|p| !p.trim().is_empty()) {
            let (key, value) = part.split_once('=')?;
            let value = value.trim();
            match key.trim().to_ascii_uppercase().as_str() {
                "FREQ" => parts.freq = Some(value.to_ascii_uppercase()),
                "INTERVAL" => parts.interval = number_in(value, 1..=u32::MAX)?,
                "COUNT" => parts.count = Some(number_in(value, 1..=u32::MAX)?),
                "UNTIL" => parts.until = Some(ical_date(value)?),
                "BYMONTH" => parts.by_month = Some(number_in(value, 1..=12)?),
                "BYMONTHDAY" => parts.by_month_day = Some(number_in(value, 1..=31)?),
                "BYDAY" => parts.by_day = Some(parse_nth_weekday(value)?),
                "WKST" => {}
                _ => return None,
            }
        }
        Some(parts)
    }

    /// The day of the year the rule falls on: the date of `first`, a day of
    /// `BYMONTH`, or an nth weekday of `BYMONTH`; `None` for other
    /// combinations.
    fn year_day(&self, first: NaiveDate) -> Option<YearDay> {
        let month = self.by_month.unwrap_or(first.month());
        match (self.by_month_day, self.by_day) {
            (None, None) if self.by_month.is_none_or(|m| m == first.month()) => {
                Some(YearDay::Date {
                    month,
                    day: first.day(),
                })
            }
            (Some(day), None) if self.by_month.is_some() => Some(YearDay::Date { month, day }),
            (None, Some((nth, weekday))) if self.by_month.is_some() => Some(YearDay::NthWeekday {
                month,
                nth,
                weekday,
            }),
            _ => None,
        }
    }
}

/// `value` as a number within `range`.
fn number_in(value: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    value.parse::<u32>().ok().filter(|n| range.contains(n))
}

/// The start of the `count`th occurrence (EXDATEs still count, as in RFC
/// 5545), or `None` when that is too far away to matter.
fn nth_occurrence(on: YearDay, first: NaiveDate, interval: u32, count: u32) -> Option<NaiveDate> {
    let mut seen = 0;
    let mut year = first.year();
    while year <= 9999 {
        if let Some(date) = on.in_year(year).filter(|&d| d >= first) {
            seen += 1;
            if seen == count {
                return Some(date);
            }
        }
        year = year.checked_add(i32::try_from(interval).ok()?)?;
    }
    None
}

/// `4TH`, `-1MO`, `+2WE`.
fn parse_nth_weekday(value: &str) -> Option<(i8, Weekday)> {
    let value = value.trim().to_ascii_uppercase();
    let split = value.len().checked_sub(2)?;
    let (nth, day) = value.split_at(split);
    let weekday = match day {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    };
    let nth: i8 = nth.trim_start_matches('+').parse().ok()?;
    (nth != 0 && (-5..=5).contains(&nth)).then_some((nth, weekday))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn ics(events: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n")
    }

    #[test]
    fn all_day_events_with_exclusive_ends_become_spans() {
        let text = ics(concat!(
            "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Christmas\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261227\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Labour Day\r\nDTSTART;VALUE=DATE:20260501\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:c\r\nSUMMARY:Retreat\r\nDTSTART;VALUE=DATE:20260601\r\nDURATION:P1W\r\nEND:VEVENT\r\n",
        ));
        let holidays = parse_holidays(&text, "t.ics").unwrap();
        let shown: Vec<String> = holidays.spans().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "2026-05-01",
                "2026-06-01..2026-06-07",
                "2026-12-24..2026-12-26"
            ]
        );
    }

    #[test]
    fn timed_events_are_refused_with_their_name() {
        let text = ics(
            "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Team lunch\r\nDTSTART:20260501T120000Z\r\nDTEND:20260501T130000Z\r\nEND:VEVENT\r\n",
        );
        let error = parse_holidays(&text, "t.ics").unwrap_err().to_string();
        assert!(
            error.contains("Team lunch") && error.contains("time of day"),
            "{error}"
        );
    }

    #[test]
    fn yearly_rules_count_occurrences_and_skip_exdates() {
        let text = ics(concat!(
            "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:New Year\r\nDTSTART;VALUE=DATE:20260101\r\nRRULE:FREQ=YEARLY;COUNT=3\r\nEXDATE;VALUE=DATE:20270101\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Thanksgiving\r\nDTSTART;VALUE=DATE:20261126\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH\r\nEND:VEVENT\r\n",
        ));
        let holidays = parse_holidays(&text, "t.ics").unwrap();
        assert!(holidays.contains(date("2026-01-01")));
        assert!(!holidays.contains(date("2027-01-01")));
        assert!(holidays.contains(date("2028-01-01")));
        assert!(!holidays.contains(date("2029-01-01")));
        assert!(holidays.contains(date("2027-11-25")));
        assert!(!holidays.contains(date("2025-11-27")));
        let weekly = ics(
            "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Fridays\r\nDTSTART;VALUE=DATE:20260102\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n",
        );
        let error = parse_holidays(&weekly, "t.ics").unwrap_err().to_string();
        assert!(
            error.contains("Fridays") && error.contains("RRULE"),
            "{error}"
        );
    }

    #[test]
    fn day_durations_parse() {
        assert_eq!(parse_day_duration("P3D"), Some(3));
        assert_eq!(parse_day_duration("P1W2D"), Some(9));
        assert_eq!(parse_day_duration("PT1H"), None);
        assert_eq!(parse_day_duration("P0D"), None);
    }
}
