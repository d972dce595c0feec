//! The result of an evaluation: what to write (one merged ticket update) and
//! what to send (side effects in order), plus why nothing happened when the
//! depth limit stopped it. A plan is data: the store-backed executor carries
//! it out; `helpdesk triggers test` prints it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::change::Change;
use super::model::{EventKind, WebhookFormat};
use crate::domain::{Actor, Ticket, TicketKey};

/// What one evaluation decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The ticket.
    pub ticket: TicketKey,
    /// The ticket version the plan is based on; the update is a conditional
    /// write on it.
    pub version: u64,
    /// The depth of the evaluated change.
    pub depth: u8,
    /// The events of the change.
    pub events: Vec<EventKind>,
    /// Names of the triggers that fired, in order.
    pub fired: Vec<String>,
    /// The merged field changes, old value from the change's ticket, new
    /// value after every fired trigger; fields that end where they started
    /// are left out.
    pub changes: Vec<FieldChange>,
    /// The ticket with `changes` applied (same version; the store bumps it
    /// and sets `updated_at`); none when nothing changes.
    pub updated: Option<Ticket>,
    /// An assignment the store-backed part still has to choose, applied in
    /// the same write.
    pub assignment: Option<GroupAssignment>,
    /// Comments, mails, webhook calls and events, in trigger and action order.
    pub effects: Vec<PlannedEffect>,
    /// Set when the depth limit stopped triggers that would have fired.
    pub stopped: Option<Stop>,
    /// Actions that could not be planned as written, and why.
    pub problems: Vec<Problem>,
    /// The business-hours answers the conditions used.
    pub calendar_checks: Vec<CalendarCheck>,
}

/// One field's planned change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// `status`, `components`, `custom.customer_id`, ...
    pub field: String,
    /// The value in the change's ticket.
    pub old: serde_json::Value,
    /// The planned value.
    pub new: serde_json::Value,
    /// The last trigger that set it (the timeline entry's actor).
    pub by: String,
}

/// How a group assignment chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignStrategy {
    /// Take turns.
    RoundRobin,
    /// The member with the fewest tickets in work.
    LeastLoaded,
}

/// An assignment to one member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupAssignment {
    /// The trigger that asked for it.
    pub trigger: String,
    /// How to choose.
    pub strategy: AssignStrategy,
    /// The candidates' logins, in configured order.
    pub members: Vec<String>,
    /// Most tickets in work per member; everyone at the cap leaves the
    /// ticket unassigned.
    pub cap: Option<u32>,
}

/// One side effect with its trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedEffect {
    /// Stable across redeliveries of the same change: ticket, version,
    /// entry or SLA signal, trigger and action index. The executor claims
    /// it before sending so nothing goes out twice.
    pub id: String,
    /// The trigger's name.
    pub trigger: String,
    /// What to do.
    pub effect: Effect,
}

/// A side effect, rendered and ready.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Add a comment (the actor is the trigger).
    Comment {
        /// Sent to the customer or internal.
        public: bool,
        /// The text.
        body: String,
    },
    /// Send a mail.
    Email {
        /// The recipient.
        to: String,
        /// The subject.
        subject: String,
        /// The plain-text body.
        body: String,
    },
    /// POST a JSON body.
    Webhook {
        /// Where to.
        target: WebhookTarget,
        /// The body's format.
        format: WebhookFormat,
        /// The body.
        body: serde_json::Value,
    },
    /// Publish an event.
    Event {
        /// The `DetailType`.
        detail_type: String,
        /// The `Detail`.
        detail: serde_json::Value,
    },
}

/// A webhook's URL, or the variable holding it (resolved by the executor, so
/// secret URLs never appear in plans or logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookTarget {
    /// The URL.
    Url(String),
    /// The environment variable holding the URL.
    Env(String),
}

/// Why an evaluation applied nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stop {
    /// The change's depth.
    pub depth: u8,
    /// The limit.
    pub limit: u8,
    /// The triggers that would have fired.
    pub would_fire: Vec<String>,
}

impl Stop {
    /// The reason as recorded on the ticket.
    pub fn message(&self) -> String {
        format!(
            "triggers stopped at depth limit {}: this change was made by trigger evaluation {} in a chain; not fired: {}",
            self.limit,
            self.depth,
            self.would_fire.join(", ")
        )
    }
}

/// An action that could not be planned as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The trigger.
    pub trigger: String,
    /// What went wrong.
    pub message: String,
}

/// One answer of the calendar port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarCheck {
    /// The calendar.
    pub calendar: String,
    /// The time asked about.
    pub at: DateTime<Utc>,
    /// Inside working hours; none: unknown calendar.
    pub open: Option<bool>,
}

impl Plan {
    /// An empty plan for `change`.
    pub(crate) fn empty(change: &Change, events: Vec<EventKind>) -> Self {
        Self {
            ticket: change.after.key.clone(),
            version: change.after.version,
            depth: change.depth,
            events,
            fired: Vec::new(),
            changes: Vec::new(),
            updated: None,
            assignment: None,
            effects: Vec::new(),
            stopped: None,
            problems: Vec::new(),
            calendar_checks: Vec::new(),
        }
    }

    /// Whether there is nothing to write and nothing to send (a stop still
    /// has to be recorded).
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
            && self.assignment.is_none()
            && self.effects.is_empty()
            && self.stopped.is_none()
    }

    /// Whether the plan writes the ticket (field changes or an assignment).
    pub fn writes_ticket(&self) -> bool {
        !self.changes.is_empty() || self.assignment.is_some()
    }

    /// The actor of the write: the trigger that changed fields, or several
    /// names joined with ", ".
    pub fn actor(&self) -> Actor {
        let mut names: Vec<&str> = Vec::new();
        for by in self
            .changes
            .iter()
            .map(|c| c.by.as_str())
            .chain(self.assignment.iter().map(|a| a.trigger.as_str()))
        {
            if !names.contains(&by) {
                names.push(by);
            }
        }
        Actor::Trigger {
            name: names.join(", "),
        }
    }

    /// The change the planned update makes, as the next evaluation would see
    /// it (depth + 1, version + 1, no entry). A simulation for tests and dry
    /// runs: in production the next change comes from the stored write. None
    /// when the plan changes no field.
    pub fn next_change(&self, change: &Change) -> Option<Change> {
        let mut after = self.updated.clone()?;
        after.version = change.after.version + 1;
        Some(Change {
            before: Some(change.after.clone()),
            after,
            entry: None,
            actor: self.actor(),
            depth: change.depth.saturating_add(1),
            sla: None,
        })
    }
}
