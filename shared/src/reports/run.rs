//! A report by name, as one document every face shows alike (the CLI's
//! `--json`, the API's answer, the console's page): what was asked, the
//! columns, and one row object per period or group. CSV comes from the
//! same document.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use super::breakdown::{Field, assignee_status, breakdown};
use super::gather::gather;
use super::metrics::MetricEvent;
use super::volume::volume;
use super::{Asked, Period};
use crate::config::Config;
use crate::domain::QueueKey;
use crate::store::{StoreError, TicketStore, TimelineStore};

/// The reports built so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// Created, resolved, reopened and backlog per period.
    Volume,
    /// Created, resolved and open by a field's value.
    Breakdown,
    /// Open and created tickets by assignee x status.
    AssigneeStatus,
}

impl Name {
    /// Every report, as named.
    pub const ALL: [(&'static str, Self); 3] = [
        ("volume", Self::Volume),
        ("breakdown", Self::Breakdown),
        ("assignee-status", Self::AssigneeStatus),
    ];

    /// The report named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, r)| *r == self)
            .map_or("volume", |(n, _)| n)
    }

    /// Its columns, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Volume => &["period", "created", "resolved", "reopened", "backlog"],
            Self::Breakdown => &["value", "created", "resolved", "open"],
            Self::AssigneeStatus => &["assignee", "status", "open", "created"],
        }
    }
}

/// A report as every face shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// Its name.
    pub report: &'static str,
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
    /// What rows group by: a period (`volume`), a field (`breakdown`).
    pub by: Option<String>,
    /// The zone whose days they are.
    pub zone: &'static str,
    /// The queues counted.
    pub queues: Vec<QueueKey>,
    /// The rows' columns, in order.
    pub columns: &'static [&'static str],
    /// One object per period or group.
    pub rows: Vec<Value>,
}

impl Document {
    /// The rows as CSV, with a header line.
    pub fn csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = self
                .columns
                .iter()
                .map(|c| match &row[*c] {
                    Value::String(s) => csv_cell(s),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break; a
/// leading `=`, `+`, `-` or `@` made inert for spreadsheets.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Rows as JSON objects (plain structs of strings and numbers: they
/// always serialize).
fn values<T: Serialize>(rows: &[T]) -> Vec<Value> {
    rows.iter()
        .map(|row| serde_json::to_value(row).unwrap_or(Value::Null))
        .collect()
}

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A parameter cannot be used: which, and why.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Report `name` of `queues` as `asked`, at `now`: their metric events
/// gathered from the store, then [`document`].
pub async fn from_store<S>(
    config: &Config,
    store: &S,
    name: Name,
    queues: Vec<QueueKey>,
    asked: &Asked,
    now: DateTime<Utc>,
) -> Result<Document, RunError>
where
    S: TicketStore + TimelineStore + ?Sized,
{
    // What is asked is checked before anything is read.
    document(&[], name, Vec::new(), asked, now)?;
    let events = gather(config, store, &queues).await?;
    document(&events, name, queues, asked, now)
}

/// Report `name` over `events` (those of `queues`) as `asked`, at `now`.
pub fn document(
    events: &[MetricEvent],
    name: Name,
    queues: Vec<QueueKey>,
    asked: &Asked,
    now: DateTime<Utc>,
) -> Result<Document, RunError> {
    let (range, zone) = asked.range(now).map_err(|(f, m)| RunError::Invalid(f, m))?;
    let by = asked.by.as_deref();
    let (by, rows) = match name {
        Name::Volume => {
            let by = by.unwrap_or("day");
            let period = Period::parse(by).ok_or(RunError::Invalid(
                "by",
                format!("{by:?}: day, week or month"),
            ))?;
            (
                Some(by.to_owned()),
                values(&volume(events, range, period, zone)),
            )
        }
        Name::Breakdown => {
            let by = by.unwrap_or("component");
            let field = Field::parse(by).ok_or(RunError::Invalid(
                "by",
                format!(
                    "{by:?}: component, channel, line, priority, organization, assignee or status"
                ),
            ))?;
            (
                Some(by.to_owned()),
                values(&breakdown(events, range, zone, field)),
            )
        }
        Name::AssigneeStatus => {
            if let Some(by) = by {
                return Err(RunError::Invalid(
                    "by",
                    format!("{by:?}: assignee-status groups by assignee and status only"),
                ));
            }
            (None, values(&assignee_status(events, range, zone)))
        }
    };
    Ok(Document {
        report: name.as_str(),
        from: range.from,
        to: range.to,
        by,
        zone: zone.name(),
        queues,
        columns: name.columns(),
        rows,
    })
}
