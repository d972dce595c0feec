//! The metric events exported for questions beyond the built-in reports:
//! each ticket change's events as JSON lines in the blob store (the
//! stack's bucket on AWS) under `metrics/day=<YYYY-MM-DD>/`, the day the
//! change was written (UTC), one object per ticket version, so that a
//! redelivered change writes the same object again. The stack's Glue
//! table `metric_events` reads them for Amazon Athena, with `day` as a
//! projected partition.
//!
//! A line is flat for SQL: the event's instant, ticket, entry and kind, the
//! ticket's dimensions then, and what is particular to the kind in
//! `detail` (text values by name: `agent`, `first`, `status`, `seconds`,
//! `by`, `metric`, `rule`, `event`, ...).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::metrics::{MetricEvent, metric_events};
use crate::blobs::{BlobError, BlobStore};
use crate::config::Config;
use crate::domain::ticket::entry_seq;
use crate::domain::{Ticket, TimelineEntry};

/// The prefix of the exported objects.
pub const PREFIX: &str = "metrics/";

/// One exported line.
#[derive(Debug, Serialize)]
struct Line<'a> {
    at: String,
    ticket: String,
    entry: u64,
    kind: String,
    queue: String,
    channel: &'static str,
    status: &'a str,
    line: Option<u8>,
    priority: &'a str,
    components: &'a [String],
    assignee: Option<&'a str>,
    organization: Option<&'a str>,
    tags: &'a [String],
    detail: BTreeMap<String, String>,
}

/// An event as a line.
fn line(event: &MetricEvent) -> Line<'_> {
    let mut fields = match serde_json::to_value(&event.kind) {
        Ok(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let kind = match fields.remove("kind") {
        Some(Value::String(kind)) => kind,
        _ => String::new(),
    };
    let detail = fields
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (name, text)
        })
        .collect();
    let dims = &event.dims;
    Line {
        at: event
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ticket: event.ticket.to_string(),
        entry: event.entry,
        kind,
        queue: dims.queue.to_string(),
        channel: dims.channel.as_str(),
        status: &dims.status,
        line: dims.line,
        priority: &dims.priority,
        components: &dims.components,
        assignee: dims.assignee.as_deref(),
        organization: dims.organization.as_deref(),
        tags: &dims.tags,
        detail,
    }
}

/// The object key of the events of `written`, a version of a ticket.
pub fn object_key(written: &Ticket) -> String {
    format!(
        "{PREFIX}day={}/{}-v{}.jsonl",
        written.updated_at.date_naive(),
        written.key,
        written.version
    )
}

/// The JSON lines of the metric events that the entries written with
/// `version` yield (empty: none), from `ticket` as it is now and its whole
/// `timeline`.
pub fn lines_of_version(
    config: &Config,
    ticket: &Ticket,
    timeline: &[TimelineEntry],
    version: u64,
) -> String {
    let (first, next) = (entry_seq(version, 0), entry_seq(version + 1, 0));
    let mut out = String::new();
    for event in metric_events(config, ticket, timeline)
        .iter()
        .filter(|e| (first..next).contains(&e.entry))
    {
        if let Ok(text) = serde_json::to_string(&line(event)) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

/// Writes the metric events of the version `written` to `blobs` (nothing
/// when it yields none), from `ticket` as it is now and its whole
/// `timeline`; answers the object's key when written.
pub async fn export_version(
    config: &Config,
    blobs: &dyn BlobStore,
    ticket: &Ticket,
    timeline: &[TimelineEntry],
    written: &Ticket,
) -> Result<Option<String>, BlobError> {
    let lines = lines_of_version(config, ticket, timeline, written.version);
    if lines.is_empty() {
        return Ok(None);
    }
    let key = object_key(written);
    blobs
        .put(&key, "application/x-ndjson", Bytes::from(lines))
        .await?;
    Ok(Some(key))
}
