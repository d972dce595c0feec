//! A report by name, as one document every face shows alike (the CLI's
//! `--json`, the API's answer, the console's page): what was asked, the
//! columns, and one row object per period or group. CSV comes from the
//! same document.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use super::agents::agents;
use super::breakdown::{Field, assignee_status, breakdown};
use super::reopens::reopens;
use super::response::{ResponseBy, response_times};
use super::sla::{SlaBy, sla};
use super::stays::time_in_status;
use super::tally::Entry;
use super::volume::volume;
use super::{Asked, DateRange, Period};
use crate::calendar::TimeZone;
use crate::config::Config;
use crate::domain::QueueKey;
use crate::store::{Store, StoreError};

/// The reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// Created, resolved, reopened and backlog per period.
    Volume,
    /// Created, resolved and open by a field's value.
    Breakdown,
    /// Open and created tickets by assignee x status.
    AssigneeStatus,
    /// First response, next response and resolution times.
    ResponseTimes,
    /// SLA timers met, breached and running, by rule.
    Sla,
    /// Reopens and the reopen rate.
    Reopens,
    /// Time spent in each status.
    TimeInStatus,
    /// Each agent's work.
    Agents,
}

impl Name {
    /// Every report, as named.
    pub const ALL: [(&'static str, Self); 8] = [
        ("volume", Self::Volume),
        ("breakdown", Self::Breakdown),
        ("assignee-status", Self::AssigneeStatus),
        ("response-times", Self::ResponseTimes),
        ("sla", Self::Sla),
        ("reopens", Self::Reopens),
        ("time-in-status", Self::TimeInStatus),
        ("agents", Self::Agents),
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
            Self::ResponseTimes => &[
                "group",
                "metric",
                "count",
                "median_business",
                "p90_business",
                "mean_business",
                "median_calendar",
                "p90_calendar",
                "mean_calendar",
            ],
            Self::Sla => &[
                "group",
                "metric",
                "rule",
                "met",
                "breached",
                "running",
                "compliance",
            ],
            Self::Reopens => &[
                "value",
                "resolved",
                "reopened",
                "by_customer",
                "by_agent",
                "by_automation",
                "rate",
            ],
            Self::TimeInStatus => &[
                "status",
                "value",
                "stays",
                "business_seconds",
                "mean_business",
                "calendar_seconds",
                "mean_calendar",
            ],
            Self::Agents => &[
                "agent",
                "taken",
                "answers",
                "resolved",
                "reopened",
                "reopen_rate",
                "first_responses",
                "median_first_response",
                "ratings",
                "satisfied",
                "csat",
                "line2_ratings",
                "line2_satisfied",
                "line2_csat",
            ],
        }
    }

    /// What `by` may be for this report, and what it is when not given
    /// (`None`: the report takes no `by`).
    pub fn groupings(self, config: &Config) -> (Vec<String>, Option<&'static str>) {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect();
        match self {
            Self::Volume => (names(&["day", "week", "month"]), Some("day")),
            Self::Breakdown => (Field::names(config), Some("component")),
            Self::Reopens => (Field::names(config), Some("assignee")),
            Self::TimeInStatus => (Field::names(config), None),
            Self::ResponseTimes => (names(&["month", "assignee", "channel"]), Some("month")),
            Self::Sla => (names(&["rule", "month", "assignee"]), Some("rule")),
            Self::AssigneeStatus | Self::Agents => (Vec::new(), None),
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

/// A report request, checked against the report and the configuration
/// before anything is read: the days, their zone, the grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The report.
    pub name: Name,
    /// Its days.
    pub range: DateRange,
    /// The zone they are days of.
    pub zone: TimeZone,
    /// What rows group by (the report's default when not asked).
    pub by: Option<String>,
}

impl Checked {
    /// Report `name` as `asked` at `now`, or what is wrong with it
    /// (naming the parameter).
    pub fn of(
        config: &Config,
        name: Name,
        asked: &Asked,
        now: DateTime<Utc>,
    ) -> Result<Self, RunError> {
        let (range, zone) = asked
            .range(now, config.report_zone())
            .map_err(|(f, m)| RunError::Invalid(f, m))?;
        let by = grouping(config, name, asked.by.as_deref())?;
        Ok(Self {
            name,
            range,
            zone,
            by,
        })
    }

    /// The tally classes it reads.
    pub fn classes(&self, config: &Config) -> Vec<String> {
        super::keep::classes(config, self.name, self.by.as_deref())
    }

    /// The report over `tally` (that of `queues`).
    pub fn document(&self, config: &Config, tally: &[Entry], queues: Vec<QueueKey>) -> Document {
        let by = self.by.as_deref();
        Document {
            report: self.name.as_str(),
            from: self.range.from,
            to: self.range.to,
            rows: rows(config, tally, self.name, self.range, by),
            by: self.by.clone(),
            zone: self.zone.name(),
            queues,
            columns: self.name.columns(),
        }
    }
}

/// Report `name` of `queues` as `asked`, at `now`: checked, the tally of
/// the classes it reads ([`super::keep::read`]: rollups, or every
/// timeline for another zone than the desk's), then its document.
pub async fn from_store(
    config: &Config,
    store: &dyn Store,
    name: Name,
    queues: Vec<QueueKey>,
    asked: &Asked,
    now: DateTime<Utc>,
) -> Result<Document, RunError> {
    let checked = Checked::of(config, name, asked, now)?;
    let classes = checked.classes(config);
    let (zone, to) = (checked.zone, checked.range.to);
    let tally = super::keep::read(config, store, &queues, &classes, zone, to).await?;
    Ok(checked.document(config, &tally, queues))
}

/// `by` as report `name` takes it: its default when not given, refused
/// when the report takes none or another.
fn grouping(config: &Config, name: Name, by: Option<&str>) -> Result<Option<String>, RunError> {
    let (allowed, default) = name.groupings(config);
    match by {
        None => Ok(default.map(str::to_owned)),
        Some(by) if allowed.iter().any(|a| a == by) => Ok(Some(by.to_owned())),
        Some(by) if allowed.is_empty() => Err(RunError::Invalid(
            "by",
            format!("{by:?}: {} takes no grouping", name.as_str()),
        )),
        Some(by) => Err(RunError::Invalid(
            "by",
            format!("{by:?}: {}", allowed.join(", ")),
        )),
    }
}

/// The rows of report `name` over `tally`, grouped `by` (checked).
fn rows(
    config: &Config,
    tally: &[Entry],
    name: Name,
    range: DateRange,
    by: Option<&str>,
) -> Vec<Value> {
    let field = || by.and_then(|by| Field::parse(by, config));
    match name {
        Name::Volume => {
            let period = by.and_then(Period::parse).unwrap_or(Period::Day);
            values(&volume(tally, range, period))
        }
        Name::Breakdown => values(&breakdown(
            tally,
            range,
            &field().unwrap_or(Field::Component),
        )),
        Name::AssigneeStatus => values(&assignee_status(tally, range)),
        Name::ResponseTimes => {
            let by = by.and_then(ResponseBy::parse).unwrap_or(ResponseBy::Month);
            values(&response_times(tally, range, by))
        }
        Name::Sla => values(&sla(
            tally,
            range,
            by.and_then(SlaBy::parse).unwrap_or(SlaBy::Rule),
        )),
        Name::Reopens => values(&reopens(tally, range, &field().unwrap_or(Field::Assignee))),
        Name::TimeInStatus => values(&time_in_status(tally, range, field().as_ref())),
        Name::Agents => values(&agents(tally, range)),
    }
}
