//! `breakdown` and `assignee-status`: tickets grouped by a field's value
//! (each component of a ticket counts it once), and by assignee x status.
//! Both read each ticket as it stood at the range's end.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::metrics::{Dimensions, MetricEvent, MetricKind};
use super::{DateRange, day_of, start_of_day};
use crate::calendar::TimeZone;
use crate::domain::TicketKey;

/// What `breakdown` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Each component (a ticket with two counts in both).
    Component,
    /// How tickets came in.
    Channel,
    /// The support line.
    Line,
    /// The priority.
    Priority,
    /// The requester's organization.
    Organization,
    /// Who holds the ticket.
    Assignee,
    /// The status.
    Status,
}

impl Field {
    /// The field named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "component" => Self::Component,
            "channel" => Self::Channel,
            "line" => Self::Line,
            "priority" => Self::Priority,
            "organization" => Self::Organization,
            "assignee" => Self::Assignee,
            "status" => Self::Status,
            _ => return None,
        })
    }

    /// The values of this field in `dims` (`(none)` when it has none).
    pub fn values(self, dims: &Dimensions) -> Vec<String> {
        let none = || "(none)".to_owned();
        match self {
            Self::Component if dims.components.is_empty() => vec![none()],
            Self::Component => dims.components.clone(),
            Self::Channel => vec![dims.channel.as_str().to_owned()],
            Self::Line => vec![dims.line.map_or_else(none, |l| l.to_string())],
            Self::Priority => vec![dims.priority.clone()],
            Self::Organization => vec![dims.organization.clone().unwrap_or_else(none)],
            Self::Assignee => vec![dims.assignee.clone().unwrap_or_else(none)],
            Self::Status => vec![dims.status.clone()],
        }
    }
}

/// One value of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakdownRow {
    /// The value.
    pub value: String,
    /// Tickets opened in the range with this value then.
    pub created: u64,
    /// Tickets resolved in the range with this value then.
    pub resolved: u64,
    /// Tickets open at the range's end with this value then.
    pub open: u64,
}

/// One assignee x status cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssigneeStatusRow {
    /// The assignee (`(none)`: unassigned).
    pub assignee: String,
    /// The status.
    pub status: String,
    /// Tickets open at the range's end so.
    pub open: u64,
    /// Tickets opened in the range, so at its end.
    pub created: u64,
}

/// A ticket at an instant: as it stood, whether it was open, and when it
/// was opened.
struct Standing<'a> {
    dims: &'a Dimensions,
    open: bool,
    created: DateTime<Utc>,
}

/// Every ticket opened before `end`, as it stood just before `end`.
fn standing_at(events: &[MetricEvent], end: DateTime<Utc>) -> BTreeMap<&TicketKey, Standing<'_>> {
    let mut order: Vec<&MetricEvent> = events.iter().filter(|e| e.at < end).collect();
    order.sort_by_key(|e| e.at);
    let mut tickets: BTreeMap<&TicketKey, Standing<'_>> = BTreeMap::new();
    for event in order {
        let standing = tickets.entry(&event.ticket).or_insert(Standing {
            dims: &event.dims,
            open: false,
            created: event.at,
        });
        standing.dims = &event.dims;
        match event.kind {
            MetricKind::Created | MetricKind::Reopened => standing.open = true,
            MetricKind::Resolved => standing.open = false,
            _ => {}
        }
    }
    tickets
}

/// The instant after the range's last day.
fn end_of(range: DateRange, zone: TimeZone) -> DateTime<Utc> {
    start_of_day(zone, range.to + Duration::days(1))
}

/// The `breakdown` report by `field`, sorted by value.
pub fn breakdown(
    events: &[MetricEvent],
    range: DateRange,
    zone: TimeZone,
    field: Field,
) -> Vec<BreakdownRow> {
    // Per value: created, resolved, open.
    let mut counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for event in events {
        let slot = match event.kind {
            MetricKind::Created => 0,
            MetricKind::Resolved => 1,
            _ => continue,
        };
        if (range.from..=range.to).contains(&day_of(zone, event.at)) {
            for value in field.values(&event.dims) {
                counts.entry(value).or_default()[slot] += 1;
            }
        }
    }
    for standing in standing_at(events, end_of(range, zone)).values() {
        if standing.open {
            for value in field.values(standing.dims) {
                counts.entry(value).or_default()[2] += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|(value, [created, resolved, open])| BreakdownRow {
            value,
            created,
            resolved,
            open,
        })
        .collect()
}

/// The `assignee-status` report, sorted by assignee and status.
pub fn assignee_status(
    events: &[MetricEvent],
    range: DateRange,
    zone: TimeZone,
) -> Vec<AssigneeStatusRow> {
    let mut rows: BTreeMap<(String, String), AssigneeStatusRow> = BTreeMap::new();
    for standing in standing_at(events, end_of(range, zone)).values() {
        let created = (range.from..=range.to).contains(&day_of(zone, standing.created));
        if !standing.open && !created {
            continue;
        }
        let assignee = standing
            .dims
            .assignee
            .clone()
            .unwrap_or_else(|| "(none)".to_owned());
        let status = standing.dims.status.clone();
        let row = rows
            .entry((assignee.clone(), status.clone()))
            .or_insert(AssigneeStatusRow {
                assignee,
                status,
                open: 0,
                created: 0,
            });
        row.open += u64::from(standing.open);
        row.created += u64::from(created);
    }
    rows.into_values().collect()
}
