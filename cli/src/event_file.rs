//! The input of `helpdesk triggers test`: a DynamoDB stream event as the
//! `ticket-triggers` function receives it, or a ticket change file written
//! by hand. Either becomes a list of [`Change`]s, built the way the engine
//! builds them but without reading a store.

use std::path::Path;

use helpdesk::automation::source::change_from_parts;
use helpdesk::automation::stream::{self, Decoded};
use helpdesk::domain::{Actor, Ticket, TimelineEntry};
use helpdesk::triggers::Change;
use serde::Deserialize;

/// A ticket change file: one change to a ticket, written by hand.
///
/// ```json
/// {"before": {...ticket...}, "after": {...ticket...},
///  "entry": {...timeline entry...}, "actor": {"kind": "agent", "login": "boris"}, "depth": 0}
/// ```
///
/// Tickets and the entry have the shape the stores keep (`key`, `queue`,
/// `summary`, `description`, `status`, `priority`, `line`, `components`,
/// `assignee`, `requester: {email, name}`, `channel`, `created_at`,
/// `updated_at`, `version`, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeFile {
    /// The ticket before the change; `null` or absent: the change created it.
    #[serde(default)]
    pub before: Option<Ticket>,
    /// The ticket after the change.
    pub after: Ticket,
    /// The timeline entry the change wrote (a comment, a mail), if any.
    #[serde(default)]
    pub entry: Option<TimelineEntry>,
    /// Who made the change; default: the entry's actor, else the system.
    #[serde(default)]
    pub actor: Option<Actor>,
    /// How deep in a trigger chain the change is; default: the `after`
    /// ticket's `trigger_depth`, which is 0 when absent.
    #[serde(default)]
    pub depth: Option<u8>,
}

impl ChangeFile {
    /// The change the file describes.
    pub fn into_change(self) -> Change {
        let actor = self
            .actor
            .or_else(|| self.entry.as_ref().map(|e| e.actor.clone()))
            .unwrap_or(Actor::System);
        let depth = self.depth.unwrap_or(self.after.trigger_depth);
        Change {
            before: self.before,
            after: self.after,
            entry: self.entry,
            actor,
            depth,
            sla: None,
        }
    }
}

/// What the event file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A DynamoDB stream event.
    StreamEvent,
    /// A ticket change file.
    ChangeFile,
}

/// One record or change of the file.
#[derive(Debug, Clone)]
pub enum Item {
    /// A change to evaluate.
    Change {
        /// Where it came from, for people (`record 1 of 2 (eventID ..., INSERT)`).
        label: String,
        /// The change.
        change: Box<Change>,
    },
    /// A stream record that fires no triggers.
    Skipped {
        /// Where it came from.
        label: String,
        /// Why it fires nothing.
        reason: String,
    },
}

/// The whole file, read and decoded.
#[derive(Debug, Clone)]
pub struct EventFile {
    /// What it is.
    pub kind: Kind,
    /// Its records (one for a change file).
    pub items: Vec<Item>,
}

/// Reads and decodes `path`; the error names the file and says what is
/// wrong with it.
pub fn read(path: &Path) -> Result<EventFile, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))?;
    if value.get("Records").is_some() {
        stream_event(&value).map_err(|e| format!("{name}: {e}"))
    } else if value.get("after").is_some() {
        // Parsed again from the text, so errors carry line and column.
        let file: ChangeFile = serde_json::from_str(&text)
            .map_err(|e| format!("{name} is not a valid ticket change file: {e}"))?;
        Ok(EventFile {
            kind: Kind::ChangeFile,
            items: vec![Item::Change {
                label: "change file".into(),
                change: Box::new(file.into_change()),
            }],
        })
    } else {
        Err(format!(
            "{name} is neither a DynamoDB stream event (an object with \"Records\") nor a ticket change file (an object with \"before\" and \"after\")"
        ))
    }
}

/// The records of a stream event, each decoded; every record that does
/// not decode is named in the error.
fn stream_event(value: &serde_json::Value) -> Result<EventFile, String> {
    let records = stream::records(value).map_err(|e| e.reason)?;
    let total = records.len();
    let mut items = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let event_name = record
            .parsed
            .as_ref()
            .map(|r| format!(", {}", r.event_name))
            .unwrap_or_default();
        let label = format!(
            "record {} of {total} (eventID {}{event_name})",
            i + 1,
            record.id
        );
        match record.decode() {
            Ok(Decoded::TicketWrite { before, after }) => items.push(Item::Change {
                label,
                change: Box::new(change_from_parts(before.map(|b| *b), *after, Vec::new())),
            }),
            Ok(Decoded::Skip(reason)) => items.push(Item::Skipped { label, reason }),
            Err(e) => errors.push(format!("{label}: {}", e.reason)),
        }
    }
    if errors.is_empty() {
        Ok(EventFile {
            kind: Kind::StreamEvent,
            items,
        })
    } else {
        Err(errors.join("\n  "))
    }
}
