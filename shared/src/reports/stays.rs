//! `time-in-status`: how long tickets stayed in each status, in business
//! time of the queue's calendar and in calendar time, over the stays that
//! ended in the range (a ticket still in a status is counted when it
//! leaves it), for every ticket or by a field's value (a request type).

use std::collections::BTreeMap;

use serde::Serialize;

use super::DateRange;
use super::breakdown::{Field, count};
use super::tally::{Entry, Group, Key};

/// One status (of one value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StayRow {
    /// The status.
    pub status: String,
    /// The value (`(all)` when not grouped).
    pub value: String,
    /// Stays in the status that ended in the range.
    pub stays: u64,
    /// Their business seconds, together.
    pub business_seconds: i64,
    /// Their mean in business seconds (rounded).
    pub mean_business: i64,
    /// Their seconds, together.
    pub calendar_seconds: i64,
    /// Their mean in seconds (rounded).
    pub mean_calendar: i64,
}

/// `sum / n` rounded, halves up (0 when `n` is 0).
fn mean(sum: i64, n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    let (sum, n) = (i128::from(sum), i128::from(n));
    i64::try_from((2 * sum + n).div_euclid(2 * n)).unwrap_or(i64::MAX)
}

/// The `time-in-status` report, by `field` when given.
pub fn time_in_status(tally: &[Entry], range: DateRange, field: Option<&Field>) -> Vec<StayRow> {
    // Per status and value: stays, business seconds, seconds.
    let mut sums: BTreeMap<(&str, &str), [i64; 3]> = BTreeMap::new();
    for ((day, key), n) in tally {
        let (status, group, slot) = match key {
            Key::Stays { status, group } => (status, group, 0),
            Key::StaySeconds { status, group } => (status, group, 1),
            Key::StayWallSeconds { status, group } => (status, group, 2),
            _ => continue,
        };
        if !range.contains(*day) {
            continue;
        }
        let value = match (group, field) {
            (Group::All, None) => "(all)",
            (Group::Value(f, value), Some(field)) if f == field => value.as_str(),
            _ => continue,
        };
        sums.entry((status, value)).or_default()[slot] += n;
    }
    sums.into_iter()
        .filter(|(_, [stays, ..])| *stays > 0)
        .map(|((status, value), [stays, business, calendar])| StayRow {
            status: status.to_owned(),
            value: value.to_owned(),
            stays: count(stays),
            business_seconds: business,
            mean_business: mean(business, stays),
            calendar_seconds: calendar,
            mean_calendar: mean(calendar, stays),
        })
        .collect()
}
