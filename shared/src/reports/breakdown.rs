//! `breakdown` and `assignee-status`: tickets grouped by a field's value
//! (each component or tag of a ticket counts it once), and by assignee x
//! status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DateRange;
use super::metrics::Dimensions;
use super::tally::{Entry, Group, Key};
use crate::config::{Config, CustomFieldType};

/// What reports group tickets by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Each tag.
    Tag,
    /// A custom field of type `select` (a request type, a topic).
    Custom(String),
}

impl Field {
    /// The fields every ticket has.
    pub const BUILT_IN: [Self; 8] = [
        Self::Component,
        Self::Channel,
        Self::Line,
        Self::Priority,
        Self::Organization,
        Self::Assignee,
        Self::Status,
        Self::Tag,
    ];

    /// The field named `name`: a built-in one, or a `select` custom field
    /// of a queue of `config` by its id.
    pub fn parse(name: &str, config: &Config) -> Option<Self> {
        Some(match name {
            "component" => Self::Component,
            "channel" => Self::Channel,
            "line" => Self::Line,
            "priority" => Self::Priority,
            "organization" => Self::Organization,
            "assignee" => Self::Assignee,
            "status" => Self::Status,
            "tag" => Self::Tag,
            custom => {
                let select = config.queues.values().any(|q| {
                    q.custom_fields
                        .get(custom)
                        .is_some_and(|f| f.field_type == CustomFieldType::Select)
                });
                return select.then(|| Self::Custom(custom.to_owned()));
            }
        })
    }

    /// The names `parse` takes, for messages: the built-in fields and the
    /// `select` custom fields of `config`.
    pub fn names(config: &Config) -> Vec<String> {
        let mut names: Vec<String> = [
            "component",
            "channel",
            "line",
            "priority",
            "organization",
            "assignee",
            "status",
            "tag",
        ]
        .map(str::to_owned)
        .to_vec();
        for queue in config.queues.values() {
            for (id, field) in &queue.custom_fields {
                if field.field_type == CustomFieldType::Select && !names.contains(id) {
                    names.push(id.clone());
                }
            }
        }
        names
    }

    /// The values of this field in `dims` (`(none)` when it has none).
    pub fn values(&self, dims: &Dimensions) -> Vec<String> {
        let none = || "(none)".to_owned();
        let many = |values: &[String]| {
            if values.is_empty() {
                vec![none()]
            } else {
                values.to_vec()
            }
        };
        match self {
            Self::Component => many(&dims.components),
            Self::Tag => many(&dims.tags),
            Self::Channel => vec![dims.channel.as_str().to_owned()],
            Self::Line => vec![dims.line.map_or_else(none, |l| l.to_string())],
            Self::Priority => vec![dims.priority.clone()],
            Self::Organization => vec![dims.organization.clone().unwrap_or_else(none)],
            Self::Assignee => vec![dims.assignee.clone().unwrap_or_else(none)],
            Self::Status => vec![dims.status.clone()],
            Self::Custom(id) => vec![dims.custom.get(id).cloned().unwrap_or_else(none)],
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
    /// Tickets opened in the range, so now.
    pub created: u64,
}

/// The `breakdown` report by `field`, sorted by value.
pub fn breakdown(tally: &[Entry], range: DateRange, field: &Field) -> Vec<BreakdownRow> {
    // Per value: created, resolved, open.
    let mut counts: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
    for ((day, key), n) in tally {
        let (group, slot, within) = match key {
            Key::Created(group) => (group, 0, range.contains(*day)),
            Key::Resolved(group) => (group, 1, range.contains(*day)),
            Key::Open(group) => (group, 2, *day <= range.to),
            _ => continue,
        };
        if let Group::Value(f, value) = group
            && f == field
            && within
        {
            counts.entry(value).or_default()[slot] += n;
        }
    }
    counts
        .into_iter()
        .filter(|(_, c)| c.iter().any(|n| *n != 0))
        .map(|(value, [created, resolved, open])| BreakdownRow {
            value: value.to_owned(),
            created: count(created),
            resolved: count(resolved),
            open: count(open),
        })
        .collect()
}

/// A sum of counters as a count (never below zero).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The `assignee-status` report, sorted by assignee and status: tickets
/// open at the range's end, and tickets opened in the range by their
/// assignee and status now.
pub fn assignee_status(tally: &[Entry], range: DateRange) -> Vec<AssigneeStatusRow> {
    let mut counts: BTreeMap<(Option<&str>, &str), [i64; 2]> = BTreeMap::new();
    for ((day, key), n) in tally {
        match key {
            Key::OpenAs { assignee, status } if *day <= range.to => {
                counts.entry((assignee.as_deref(), status)).or_default()[0] += n;
            }
            Key::CreatedNowAs { assignee, status } if range.contains(*day) => {
                counts.entry((assignee.as_deref(), status)).or_default()[1] += n;
            }
            _ => {}
        }
    }
    let mut rows: Vec<AssigneeStatusRow> = counts
        .into_iter()
        .filter(|(_, c)| c.iter().any(|n| *n != 0))
        .map(|((assignee, status), [open, created])| AssigneeStatusRow {
            assignee: assignee.unwrap_or("(none)").to_owned(),
            status: status.to_owned(),
            open: count(open),
            created: count(created),
        })
        .collect();
    rows.sort_by(|a, b| (&a.assignee, &a.status).cmp(&(&b.assignee, &b.status)));
    rows
}
