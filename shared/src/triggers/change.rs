//! What changed: one stored change to a ticket (old and new ticket, the
//! timeline entry it wrote, who made it, how deep in a trigger chain) and
//! the events derived from it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::field::changed_fields;
use super::model::{ActorKind, EventKind};
use crate::domain::{Actor, Ticket, TimelineEntry, TimelineEvent};

/// One change to a ticket, as the stream (or the local change feed)
/// delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The ticket before the change; none when the change created it.
    pub before: Option<Ticket>,
    /// The ticket after the change.
    pub after: Ticket,
    /// The timeline entry the change wrote, if any (a comment, a mail).
    pub entry: Option<TimelineEntry>,
    /// Who made it.
    pub actor: Actor,
    /// 0 for a change made by a person or the system; `n + 1` for a change
    /// written by an evaluation of a change at depth `n`.
    pub depth: u8,
    /// An SLA signal, when the SLA check reports one.
    pub sla: Option<SlaAlert>,
}

/// An SLA timer's signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaAlert {
    /// Warning or breach.
    pub kind: SlaKind,
    /// The timer, such as `reaction` or `resolution`.
    pub metric: String,
    /// The SLA rule in force.
    #[serde(default)]
    pub rule: String,
    /// The timer's cycle (1, or more after re-arming).
    #[serde(default)]
    pub cycle: u32,
}

/// Which SLA signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaKind {
    /// The warning time was reached.
    Warning,
    /// The limit was exceeded.
    Breach,
}

impl SlaKind {
    /// `warning` or `breach`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Breach => "breach",
        }
    }
}

/// An event derived from a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeEvent {
    /// The ticket was created.
    Created,
    /// Fields of an existing ticket changed.
    FieldsChanged {
        /// Their names (`status`, `custom.customer_id`, ...).
        fields: Vec<String>,
    },
    /// A comment was added.
    CommentAdded {
        /// Sent to the customer or internal.
        public: bool,
        /// Who wrote it.
        by: ActorKind,
    },
    /// A mail came in.
    EmailReceived,
    /// A mail went out.
    EmailSent,
    /// An SLA warning.
    SlaWarning {
        /// The timer.
        metric: String,
    },
    /// An SLA breach.
    SlaBreach {
        /// The timer.
        metric: String,
    },
    /// The requester rated the help.
    RatingReceived {
        /// Their score.
        score: crate::domain::Score,
    },
}

impl ChangeEvent {
    /// The kind a trigger's `on` names.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Created => EventKind::Created,
            Self::FieldsChanged { .. } => EventKind::FieldsChanged,
            Self::CommentAdded { .. } => EventKind::CommentAdded,
            Self::EmailReceived => EventKind::EmailReceived,
            Self::EmailSent => EventKind::EmailSent,
            Self::SlaWarning { .. } => EventKind::SlaWarning,
            Self::SlaBreach { .. } => EventKind::SlaBreach,
            Self::RatingReceived { .. } => EventKind::RatingReceived,
        }
    }
}

impl Change {
    /// A change made by `actor` at depth 0, with no entry and no SLA signal.
    pub fn new(before: Option<Ticket>, after: Ticket, actor: Actor) -> Self {
        Self {
            before,
            after,
            entry: None,
            actor,
            depth: 0,
            sla: None,
        }
    }

    /// The events of this change, in a fixed order: created or
    /// fields_changed, then comment/email from the entry, then SLA.
    pub fn events(&self) -> Vec<ChangeEvent> {
        let mut events = Vec::new();
        match &self.before {
            None => events.push(ChangeEvent::Created),
            Some(before) => {
                let fields = changed_fields(Some(before), &self.after);
                if !fields.is_empty() {
                    events.push(ChangeEvent::FieldsChanged { fields });
                }
            }
        }
        if let Some(entry) = &self.entry {
            match &entry.event {
                TimelineEvent::Comment { public, .. } => events.push(ChangeEvent::CommentAdded {
                    public: *public,
                    by: ActorKind::of(&entry.actor),
                }),
                TimelineEvent::EmailIn { .. } => events.push(ChangeEvent::EmailReceived),
                TimelineEvent::EmailOut { .. } => events.push(ChangeEvent::EmailSent),
                TimelineEvent::Rated { score, .. } => {
                    events.push(ChangeEvent::RatingReceived { score: *score });
                }
                _ => {}
            }
        }
        if let Some(sla) = &self.sla {
            let metric = sla.metric.clone();
            events.push(match sla.kind {
                SlaKind::Warning => ChangeEvent::SlaWarning { metric },
                SlaKind::Breach => ChangeEvent::SlaBreach { metric },
            });
        }
        events
    }

    /// The event kinds of this change as a bit set (see [`EventKind::bit`]).
    pub(crate) fn event_bits(&self) -> u8 {
        let mut bits = 0;
        match &self.before {
            None => bits |= EventKind::Created.bit(),
            Some(before) => {
                if super::field::any_field_differs(before, &self.after) {
                    bits |= EventKind::FieldsChanged.bit();
                }
            }
        }
        if let Some(entry) = &self.entry {
            bits |= match &entry.event {
                TimelineEvent::Comment { .. } => EventKind::CommentAdded.bit(),
                TimelineEvent::EmailIn { .. } => EventKind::EmailReceived.bit(),
                TimelineEvent::EmailOut { .. } => EventKind::EmailSent.bit(),
                TimelineEvent::Rated { .. } => EventKind::RatingReceived.bit(),
                _ => 0,
            };
        }
        if let Some(sla) = &self.sla {
            bits |= match sla.kind {
                SlaKind::Warning => EventKind::SlaWarning.bit(),
                SlaKind::Breach => EventKind::SlaBreach.bit(),
            };
        }
        bits
    }

    /// The names of the fields this change changed (for a new ticket: the
    /// fields that have a value).
    pub fn changed_fields(&self) -> Vec<String> {
        changed_fields(self.before.as_ref(), &self.after)
    }

    /// When it happened: the entry's time, else the ticket's `updated_at`.
    pub fn at(&self) -> DateTime<Utc> {
        self.entry.as_ref().map_or(self.after.updated_at, |e| e.at)
    }

    /// The visibility of the comment this change added, if it added one.
    pub fn comment_public(&self) -> Option<bool> {
        match self.entry.as_ref().map(|e| &e.event) {
            Some(TimelineEvent::Comment { public, .. }) => Some(*public),
            _ => None,
        }
    }
}
