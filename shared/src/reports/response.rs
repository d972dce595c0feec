//! `response-times`: first response, next response and resolution times,
//! in business time of the queue's calendar and in calendar time, per
//! month, assignee or channel. A ticket's resolution time runs from its
//! opening to the resolution it is in now (a reopened ticket counts again
//! when it is resolved again, on that day).

use serde::Serialize;

use super::tally::{Entry, Key, Response};
use super::{DateRange, Period};

/// What response times are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBy {
    /// The calendar month of the answer (or resolution).
    Month,
    /// The ticket's assignee then.
    Assignee,
    /// How the ticket came in.
    Channel,
}

impl ResponseBy {
    /// The grouping named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "month" => Some(Self::Month),
            "assignee" => Some(Self::Assignee),
            "channel" => Some(Self::Channel),
            _ => None,
        }
    }
}

/// Median, 90th percentile and mean of some durations, in seconds. The
/// percentiles are nearest-rank: the smallest value with at least that
/// share of the values at or below it (the lower middle of an even count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// The median.
    pub median: i64,
    /// The 90th percentile.
    pub p90: i64,
    /// The mean, rounded to the second (halves away from zero).
    pub mean: i64,
}

/// The spread of `values` (each value with how often it occurs, in any
/// order; sorted here), or `None` when there are none.
pub fn spread(values: &mut [(i64, i64)]) -> Option<Spread> {
    values.sort_unstable();
    let n: i64 = values.iter().map(|(_, c)| c).sum();
    if n <= 0 {
        return None;
    }
    let at_rank = |rank: i64| {
        let mut seen = 0;
        for (value, count) in values.iter() {
            seen += count;
            if seen >= rank {
                return *value;
            }
        }
        values.last().map_or(0, |(v, _)| *v)
    };
    let sum: i128 = values
        .iter()
        .map(|(v, c)| i128::from(*v) * i128::from(*c))
        .sum();
    let n128 = i128::from(n);
    let mean = if sum >= 0 {
        (2 * sum + n128) / (2 * n128)
    } else {
        -((-2 * sum + n128) / (2 * n128))
    };
    Some(Spread {
        median: at_rank((n + 1) / 2),
        p90: at_rank((9 * n + 9) / 10),
        mean: i64::try_from(mean).unwrap_or(i64::MAX),
    })
}

/// One group's figures of one response time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseRow {
    /// The month (`2026-03`), assignee or channel.
    pub group: String,
    /// `first_response`, `next_response` or `resolution`.
    pub metric: &'static str,
    /// How many.
    pub count: u64,
    /// Median in business seconds.
    pub median_business: i64,
    /// 90th percentile in business seconds.
    pub p90_business: i64,
    /// Mean in business seconds.
    pub mean_business: i64,
    /// Median in seconds.
    pub median_calendar: i64,
    /// 90th percentile in seconds.
    pub p90_calendar: i64,
    /// Mean in seconds.
    pub mean_calendar: i64,
}

/// One response as the report sums it: business seconds, seconds, and
/// how many responses took exactly that.
type Sample = (i64, i64, i64);

/// The `response-times` report: the responses (answers, resolutions) of
/// the days of `range`, by `by`, each group's metrics in turn.
pub fn response_times(tally: &[Entry], range: DateRange, by: ResponseBy) -> Vec<ResponseRow> {
    // Per group and metric: (business, calendar, count) of each response.
    // Groups are few: found by a linear search, without allocating.
    let mut groups: Vec<(String, Response, Vec<Sample>)> = Vec::new();
    let mut month: Option<(chrono::NaiveDate, String)> = None;
    for ((day, key), n) in tally {
        let Key::Response {
            metric,
            business,
            calendar,
            assignee,
            channel,
            ..
        } = key
        else {
            continue;
        };
        if !range.contains(*day) {
            continue;
        }
        let group: &str = match by {
            ResponseBy::Month => {
                if month.as_ref().is_none_or(|(d, _)| d != day) {
                    let label = Period::Month.label(Period::Month.start_of(*day));
                    month = Some((*day, label));
                }
                month.as_ref().map_or("", |(_, label)| label.as_str())
            }
            ResponseBy::Assignee => assignee.as_deref().unwrap_or("(none)"),
            ResponseBy::Channel => channel.as_str(),
        };
        let at = match groups
            .iter()
            .position(|(g, m, _)| m == metric && g == group)
        {
            Some(at) => at,
            None => {
                groups.push((group.to_owned(), *metric, Vec::new()));
                groups.len() - 1
            }
        };
        groups[at].2.push((*business, *calendar, *n));
    }
    groups.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    groups
        .into_iter()
        .filter_map(|(group, metric, samples)| {
            let mut business: Vec<(i64, i64)> = samples.iter().map(|(b, _, n)| (*b, *n)).collect();
            let mut calendar: Vec<(i64, i64)> = samples.iter().map(|(_, c, n)| (*c, *n)).collect();
            let count: i64 = samples.iter().map(|(_, _, n)| n).sum();
            let (b, c) = (spread(&mut business)?, spread(&mut calendar)?);
            Some(ResponseRow {
                group,
                metric: metric.as_str(),
                count: super::breakdown::count(count),
                median_business: b.median,
                p90_business: b.p90,
                mean_business: b.mean,
                median_calendar: c.median,
                p90_calendar: c.p90,
                mean_calendar: c.mean,
            })
        })
        .collect()
}
