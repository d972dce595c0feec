//! `volume`: tickets created, resolved and reopened in each period, and
//! the backlog (tickets open, that is created or reopened and not resolved
//! since) at each period's end.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::breakdown::count;
use super::tally::{Entry, Group, Key};
use super::{DateRange, Period};

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

/// The report over `tally` (any tickets), for the days of `range`, one
/// row per `period`.
pub fn volume(tally: &[Entry], range: DateRange, period: Period) -> Vec<VolumeRow> {
    // Created, resolved, reopened per day of the range; the change of the
    // open tickets per day up to its end.
    let mut days: BTreeMap<NaiveDate, [i64; 3]> = BTreeMap::new();
    let mut open: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for ((day, key), n) in tally {
        let slot = match key {
            Key::Created(Group::All) => 0,
            Key::Resolved(Group::All) => 1,
            Key::Reopened(Group::All, _) => 2,
            Key::Open(Group::All) => {
                if *day <= range.to {
                    *open.entry(*day).or_default() += n;
                }
                continue;
            }
            _ => continue,
        };
        if range.contains(*day) {
            days.entry(*day).or_default()[slot] += n;
        }
    }
    let mut backlog: i64 = 0;
    let mut changes = open.into_iter().peekable();
    range
        .periods(period)
        .into_iter()
        .map(|(label, first, last)| {
            let mut sums = [0_i64; 3];
            for counts in days.range(first..=last).map(|(_, c)| c) {
                for (sum, count) in sums.iter_mut().zip(counts) {
                    *sum += count;
                }
            }
            while let Some((_, n)) = changes.next_if(|(day, _)| *day <= last) {
                backlog += n;
            }
            VolumeRow {
                period: label,
                created: count(sums[0]),
                resolved: count(sums[1]),
                reopened: count(sums[2]),
                backlog: count(backlog),
            }
        })
        .collect()
}
