//! `volume`: tickets created, resolved and reopened in each period, and
//! the backlog (tickets open, that is created or reopened and not resolved
//! since) at each period's end.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::metrics::{MetricEvent, MetricKind};
use super::{DateRange, Period, day_of, start_of_day};
use crate::calendar::TimeZone;

/// One period of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeRow {
    /// The period's label (`2026-03-29`, `2026-W13`, `2026-03`).
    pub period: String,
    /// Tickets opened in it.
    pub created: u64,
    /// Tickets resolved in it (entered a resolved or closed status from
    /// one that is neither).
    pub resolved: u64,
    /// Tickets reopened in it.
    pub reopened: u64,
    /// Tickets open at its end.
    pub backlog: u64,
}

/// The periods of `range`: each one's label, its first and last day
/// within the range.
fn periods(range: DateRange, period: Period) -> Vec<(String, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = period.start_of(range.from);
    while start <= range.to {
        let next = period.next(start);
        let first = start.max(range.from);
        let last = (next - Duration::days(1)).min(range.to);
        out.push((period.label(start), first, last));
        start = next;
    }
    out
}

/// How an event changes the number of open tickets.
fn open_delta(kind: &MetricKind) -> i64 {
    match kind {
        MetricKind::Created | MetricKind::Reopened => 1,
        MetricKind::Resolved => -1,
        _ => 0,
    }
}

/// The report over `events` (any order, any tickets), for the days of
/// `range` in `zone`, one row per `period`.
pub fn volume(
    events: &[MetricEvent],
    range: DateRange,
    period: Period,
    zone: TimeZone,
) -> Vec<VolumeRow> {
    let mut changes: Vec<(DateTime<Utc>, i64)> = events
        .iter()
        .map(|e| (e.at, open_delta(&e.kind)))
        .filter(|(_, delta)| *delta != 0)
        .collect();
    changes.sort_by_key(|(at, _)| *at);
    // Created, resolved and reopened per calendar day of the range.
    let mut days: BTreeMap<NaiveDate, [u64; 3]> = BTreeMap::new();
    for event in events {
        let slot = match event.kind {
            MetricKind::Created => 0,
            MetricKind::Resolved => 1,
            MetricKind::Reopened => 2,
            _ => continue,
        };
        let day = day_of(zone, event.at);
        if (range.from..=range.to).contains(&day) {
            days.entry(day).or_default()[slot] += 1;
        }
    }
    let mut open: i64 = 0;
    let mut applied = 0;
    periods(range, period)
        .into_iter()
        .map(|(label, first, last)| {
            let mut sums = [0_u64; 3];
            for counts in days.range(first..=last).map(|(_, c)| c) {
                for (sum, count) in sums.iter_mut().zip(counts) {
                    *sum += count;
                }
            }
            let end = start_of_day(zone, last + Duration::days(1));
            while applied < changes.len() && changes[applied].0 < end {
                open += changes[applied].1;
                applied += 1;
            }
            VolumeRow {
                period: label,
                created: sums[0],
                resolved: sums[1],
                reopened: sums[2],
                backlog: u64::try_from(open).unwrap_or(0),
            }
        })
        .collect()
}
