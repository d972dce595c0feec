//! The JSON the API answers with: a ticket as a list row, and a ticket in
//! full with its timeline. Built from the domain values; nothing here
//! reads a store.

use chrono::{DateTime, Utc};
use helpdesk::domain::{Ticket, TimelineEntry, TimerState};
use serde_json::{Value, json};

/// The SLA deadline nearest to breach among a ticket's running timers,
/// and how it stands: `breached` (a running timer is past its limit),
/// `at_risk` (past its warning), `ok`, or `none` (nothing running).
pub fn nearest_deadline(ticket: &Ticket, now: DateTime<Utc>) -> Value {
    let running: Vec<_> = ticket
        .sla
        .timers
        .iter()
        .filter(|t| t.state == TimerState::Running)
        .collect();
    let deadline = running.iter().filter_map(|t| t.deadline).min();
    let state = if running
        .iter()
        .any(|t| t.breached || t.deadline.is_some_and(|d| d <= now))
    {
        "breached"
    } else if running
        .iter()
        .any(|t| t.warned || t.warn_at.is_some_and(|w| w <= now))
    {
        "at_risk"
    } else if running.is_empty() {
        "none"
    } else {
        "ok"
    };
    json!({ "deadline": deadline, "state": state })
}

/// A ticket as a row of a list.
pub fn row(ticket: &Ticket, now: DateTime<Utc>) -> Value {
    json!({
        "key": ticket.key,
        "queue": ticket.queue,
        "summary": ticket.summary,
        "status": ticket.status,
        "line": ticket.line,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "requester": {
            "email": ticket.requester.email,
            "name": ticket.requester.name,
            "phone": ticket.requester.phone,
            "contact_id": ticket.requester.contact_id,
        },
        "components": ticket.components,
        "tags": ticket.tags,
        "channel": ticket.channel,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "sla": nearest_deadline(ticket, now),
    })
}

/// A ticket in full: its row, its version and every field, and its
/// timeline.
pub fn full(ticket: &Ticket, timeline: &[TimelineEntry], now: DateTime<Utc>) -> Value {
    let mut value = row(ticket, now);
    if let Value::Object(fields) = &mut value {
        fields.insert("version".into(), json!(ticket.version));
        fields.insert("description".into(), json!(ticket.description));
        fields.insert("resolution".into(), json!(ticket.resolution));
        fields.insert("custom_fields".into(), json!(ticket.custom_fields));
        fields.insert("participants".into(), json!(ticket.participants));
        fields.insert("first_response_at".into(), json!(ticket.first_response_at));
        fields.insert("resolved_at".into(), json!(ticket.resolved_at));
        fields.insert("reopen_count".into(), json!(ticket.reopen_count));
        fields.insert("satisfaction".into(), json!(ticket.satisfaction));
        fields.insert("sla_timers".into(), json!(ticket.sla.timers));
        fields.insert("timeline".into(), json!(timeline));
    }
    value
}
