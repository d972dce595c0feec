//! Domain values as the templates show them: plain serializable values,
//! every text as people read it (control and bidi characters made
//! visible by `helpdesk::display`), times in UTC with the instant for the
//! script to show in the reader's zone, SLA time left in business time,
//! and customer HTML sanitised once more right before it is shown.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use helpdesk::auth::Session;
use helpdesk::calendar::Calendar;
use helpdesk::config::Config;
use helpdesk::display;
use helpdesk::domain::{
    Actor, Ticket, TicketKey, TimelineEntry, TimelineEvent, TimerState, TriggerNoteKind,
};
use helpdesk::sla::fold::business_left;
use serde_json::{Value, json};

use crate::Console;

/// What every signed-in page shows around its content: the desk, the
/// agent, the CSRF token of its forms.
pub fn chrome(console: &Console, session: &Session) -> Value {
    let config = &console.services.config;
    let login = &session.principal.login;
    json!({
        "desk": crate::signin::desk_name(console),
        "agent": {
            "login": login,
            "name": agent_name(config, login),
        },
        "csrf": session.csrf,
    })
}

/// An agent's name, or their login when the configuration has none.
pub fn agent_name(config: &Config, login: &str) -> String {
    config
        .agents
        .get(login)
        .map_or_else(|| login.to_owned(), |a| a.name.clone())
}

/// An instant: `iso` for the script, `text` in UTC for everyone else.
pub fn when(at: DateTime<Utc>) -> Value {
    json!({
        "iso": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "text": at.format("%Y-%m-%d %H:%M UTC").to_string(),
    })
}

/// A duration in seconds as people say it: `2d 4h`, `3h 15m`, `12m`,
/// `under a minute`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => "under a minute".to_owned(),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// How a ticket stands against its SLA: the running timer nearest to its
/// limit, its business time left, and `ok`, `at_risk` (past its warning)
/// or `breached`; `none` when no timer runs.
pub fn sla(ticket: &Ticket, calendars: &BTreeMap<String, Calendar>, now: DateTime<Utc>) -> Value {
    let nearest = ticket
        .sla
        .timers
        .iter()
        .filter(|t| t.state == TimerState::Running)
        .map(|t| (t, business_left(t, calendars, now).num_seconds()))
        .min_by_key(|(_, left)| *left);
    let Some((timer, left)) = nearest else {
        return json!({ "state": "none", "text": "" });
    };
    let state = if timer.breached || left <= 0 {
        "breached"
    } else if timer.warned || timer.warn_at.is_some_and(|w| w <= now) {
        "at_risk"
    } else {
        "ok"
    };
    let text = if left <= 0 {
        format!("{} over", duration(left))
    } else {
        format!("{} left", duration(left))
    };
    json!({ "state": state, "text": text, "metric": timer.metric, "left": left })
}

/// A ticket as a row of the list.
pub fn row(ticket: &Ticket, config: &Config, now: DateTime<Utc>) -> Value {
    let requester = &ticket.requester;
    let who = requester
        .name
        .as_deref()
        .or(requester.email.as_ref().map(|e| e.as_str()))
        .or(requester.phone.as_deref())
        .unwrap_or("unknown");
    json!({
        "key": ticket.key.to_string(),
        "summary": display::line(&ticket.summary),
        "requester": display::line(who),
        "status": ticket.status,
        "line": ticket.line,
        "priority": ticket.priority,
        "assignee": ticket.assignee.as_deref().map(|a| agent_name(config, a)),
        "channel": ticket.channel.as_str(),
        "created": when(ticket.created_at),
        "updated": when(ticket.updated_at),
        "sla": sla(ticket, &config.built_calendars, now),
    })
}

/// Who did something, as the timeline names them.
fn actor(config: &Config, actor: &Actor) -> Value {
    match actor {
        Actor::Customer { email } => json!({ "kind": "customer", "name": email.as_str() }),
        Actor::Agent { login, .. } => {
            json!({ "kind": "agent", "name": agent_name(config, login) })
        }
        Actor::System => json!({ "kind": "system", "name": "The desk" }),
        Actor::Trigger { name } => {
            json!({ "kind": "trigger", "name": format!("Trigger “{name}”") })
        }
    }
}

/// A field change's value as text.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(s) => display::line(s).into_owned(),
        Value::Array(items) if items.is_empty() => "(none)".to_owned(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A timeline entry as shown: `class` (how it looks), `title`, and its
/// text, sanitised HTML, answers, file or link.
pub fn entry(entry: &TimelineEntry, key: &TicketKey, config: &Config) -> Value {
    let mut shown = json!({
        "seq": entry.seq,
        "at": when(entry.at),
        "actor": actor(config, &entry.actor),
    });
    let detail = match &entry.event {
        TimelineEvent::Created { channel } => json!({
            "class": "event",
            "title": format!("Opened via {}", channel.as_str()),
        }),
        TimelineEvent::FormSubmitted {
            form,
            answers,
            unmatched,
            ..
        } => json!({
            "class": "event",
            "title": format!("Form “{form}” submitted"),
            "answers": answers.iter().map(|(k, v)| json!({ "question": display::line(k), "answer": display::text(v) })).collect::<Vec<_>>(),
            "unmatched": unmatched,
        }),
        TimelineEvent::Comment {
            public: true,
            body,
            body_blob,
        } => json!({
            "class": "public",
            "title": "Public answer",
            "text": display::text(body),
            "cut": body_blob.is_some(),
        }),
        TimelineEvent::Comment {
            public: false,
            body,
            body_blob,
        } => json!({
            "class": "internal",
            "title": "Internal note",
            "text": display::text(body),
            "cut": body_blob.is_some(),
        }),
        TimelineEvent::FieldChanged { field, old, new } => json!({
            "class": "change",
            "title": format!("{} changed from {} to {}", field_label(field), value_text(old), value_text(new)),
        }),
        TimelineEvent::AttachmentAdded {
            file_name,
            content_type,
            size,
            ..
        } => json!({
            "class": "file",
            "title": "File attached",
            "file": {
                "name": display::line(file_name),
                "type": content_type,
                "size": size_text(*size),
                "href": format!("/tickets/{key}/attachments/{}", entry.seq),
            },
        }),
        TimelineEvent::EmailIn {
            from,
            subject,
            text,
            html,
            text_blob,
            html_blob,
            automatic,
            ..
        } => json!({
            "class": "customer",
            "title": format!("Mail from {}", display::line(from)),
            "subject": display::line(subject),
            "html": html.as_deref().map(helpdesk::mail::html::sanitize),
            "text": text.as_deref().map(display::text),
            "cut": text_blob.is_some() || html_blob.is_some(),
            "automatic": automatic,
        }),
        TimelineEvent::EmailOut {
            to,
            subject,
            automatic,
            ..
        } => json!({
            "class": "mail-out",
            "title": if *automatic { format!("Automatic mail to {}", to.join(", ")) } else { format!("Mail sent to {}", to.join(", ")) },
            "subject": display::line(subject),
        }),
        TimelineEvent::EmailSuppressed {
            to,
            subject,
            reason,
        } => json!({
            "class": "warning",
            "title": format!("Mail to {} not sent", to.join(", ")),
            "subject": display::line(subject),
            "reason": display::line(reason),
        }),
        TimelineEvent::Rated {
            score,
            comment,
            previous,
        } => json!({
            "class": if score.satisfied() { "public" } else { "warning" },
            "title": match previous {
                None => format!("Rated: {}", score.label()),
                Some(was) => format!("Rating changed from {} to {}", was.label(), score.label()),
            },
            "text": comment.as_deref().map(display::text),
        }),
        TimelineEvent::EscalationRated {
            agent,
            score,
            comment,
            previous,
            ..
        } => json!({
            "class": "internal",
            "title": match previous {
                None => format!("Line 2's help of {} rated: {}", agent_name(config, agent), score.label()),
                Some(was) => format!(
                    "Line 2's help of {} re-rated from {} to {}",
                    agent_name(config, agent),
                    was.label(),
                    score.label()
                ),
            },
            "text": comment.as_deref().map(display::text),
        }),
        TimelineEvent::TriggerNote {
            kind,
            triggers,
            message,
        } => json!({
            "class": "trigger",
            "title": match kind {
                TriggerNoteKind::Stopped => "Triggers stopped",
                TriggerNoteKind::Problem => "Trigger problem",
                TriggerNoteKind::Failed => "Trigger action failed",
                TriggerNoteKind::Unassigned => "Unassigned by a trigger",
            },
            "text": display::text(message),
            "triggers": triggers,
        }),
        TimelineEvent::Sla {
            metric,
            rule,
            event,
            deadline,
            ..
        } => {
            let event = serde_json::to_value(event).unwrap_or_default();
            let event = event.as_str().unwrap_or("event").to_owned();
            json!({
                "class": if event == "breached" { "breach" } else if event == "warned" { "warning" } else { "sla" },
                "title": format!("SLA {metric} ({rule}): {}", event.replace('_', " ")),
                "deadline": deadline.map(when),
            })
        }
        TimelineEvent::Linked { other, relation } => json!({
            "class": "event",
            "title": format!("Linked: {relation}"),
            "link": { "key": other.to_string(), "href": format!("/tickets/{other}") },
        }),
    };
    if let (Value::Object(shown), Value::Object(detail)) = (&mut shown, detail) {
        shown.extend(detail);
    }
    shown
}

/// A field's name as the page says it.
fn field_label(field: &str) -> String {
    let label = field.strip_prefix("custom.").unwrap_or(field);
    let mut chars = label.chars();
    chars
        .next()
        .map(|c| {
            c.to_uppercase()
                .chain(chars)
                .collect::<String>()
                .replace('_', " ")
        })
        .unwrap_or_default()
}

/// A size in bytes as people read it.
pub fn size_text(size: u64) -> String {
    match size {
        s if s < 1024 => format!("{s} B"),
        s if s < 1024 * 1024 => format!("{:.1} KB", s as f64 / 1024.0),
        s => format!("{:.1} MB", s as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(30), "under a minute");
        assert_eq!(duration(12 * 60), "12m");
        assert_eq!(duration(3 * 3600 + 15 * 60), "3h 15m");
        assert_eq!(duration(-(2 * 86_400 + 4 * 3600)), "2d 4h");
    }

    #[test]
    fn field_names_read_as_labels() {
        assert_eq!(field_label("status"), "Status");
        assert_eq!(field_label("custom.customer_id"), "Customer id");
    }
}
