//! `sla`: per SLA metric and rule, the timers met and breached in the
//! range, those still running at its end (or at the end of each month),
//! and the compliance: met / (met + breached).

use std::collections::BTreeMap;

use serde::Serialize;

use super::breakdown::count;
use super::tally::{Entry, Key, Outcome};
use super::{DateRange, Period};

/// What SLA figures are grouped by, beside metric and rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaBy {
    /// Nothing more: the whole range.
    Rule,
    /// The calendar month.
    Month,
    /// The ticket's assignee when the timer ended.
    Assignee,
}

impl SlaBy {
    /// The grouping named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "rule" => Some(Self::Rule),
            "month" => Some(Self::Month),
            "assignee" => Some(Self::Assignee),
            _ => None,
        }
    }
}

/// One metric and rule of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaRow {
    /// The month (`2026-03`), the assignee, or `(all)`.
    pub group: String,
    /// The metric (`first_response`, `resolution`, ...).
    pub metric: String,
    /// The rule.
    pub rule: String,
    /// Timers stopped within their target.
    pub met: u64,
    /// Timers that reached their target.
    pub breached: u64,
    /// Timers running at the end of the range or month (none by
    /// assignee: a running timer has no outcome to attribute yet).
    pub running: Option<u64>,
    /// Met as a percentage of met and breached, to one decimal (none
    /// when neither).
    pub compliance: Option<f64>,
}

/// `part` as a percentage of `whole`, to one decimal.
pub(crate) fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

/// A group, a metric and a rule.
type Cell<'a> = (String, &'a str, &'a str);

/// The `sla` report over the days of `range`, by `by`.
pub fn sla(tally: &[Entry], range: DateRange, by: SlaBy) -> Vec<SlaRow> {
    let month_of = |day| Period::Month.label(Period::Month.start_of(day));
    // Per group, metric and rule: met, breached, running.
    let mut rows: BTreeMap<Cell<'_>, [i64; 2]> = BTreeMap::new();
    let mut running: BTreeMap<(&str, &str), BTreeMap<chrono::NaiveDate, i64>> = BTreeMap::new();
    for ((day, key), n) in tally {
        match key {
            Key::Sla {
                metric,
                rule,
                outcome,
                assignee,
            } if range.contains(*day) => {
                let group = match by {
                    SlaBy::Rule => "(all)".to_owned(),
                    SlaBy::Month => month_of(*day),
                    SlaBy::Assignee => assignee.clone().unwrap_or_else(|| "(none)".to_owned()),
                };
                let slot = usize::from(*outcome == Outcome::Breached);
                rows.entry((group, metric, rule)).or_default()[slot] += n;
            }
            Key::SlaRunning { metric, rule } if *day <= range.to => {
                *running
                    .entry((metric, rule))
                    .or_default()
                    .entry(*day)
                    .or_default() += n;
            }
            _ => {}
        }
    }
    // Running timers at the end of each group's days.
    let ends: Vec<(String, chrono::NaiveDate)> = match by {
        SlaBy::Rule => vec![("(all)".to_owned(), range.to)],
        SlaBy::Month => range
            .periods(Period::Month)
            .into_iter()
            .map(|(label, _, last)| (label, last))
            .collect(),
        SlaBy::Assignee => Vec::new(),
    };
    let mut out: BTreeMap<Cell<'_>, (u64, u64, Option<u64>)> = rows
        .into_iter()
        .map(|(k, [met, breached])| {
            let running = (by != SlaBy::Assignee).then_some(0);
            (k, (count(met), count(breached), running))
        })
        .collect();
    for ((metric, rule), days) in &running {
        for (group, end) in &ends {
            let n: i64 = days.range(..=*end).map(|(_, n)| n).sum();
            if n != 0 {
                out.entry((group.clone(), metric, rule))
                    .or_insert((0, 0, Some(0)))
                    .2 = Some(count(n));
            }
        }
    }
    out.into_iter()
        .map(|((group, metric, rule), (met, breached, running))| SlaRow {
            group,
            metric: metric.to_owned(),
            rule: rule.to_owned(),
            met,
            breached,
            running,
            compliance: percent(met, met + breached),
        })
        .collect()
}
