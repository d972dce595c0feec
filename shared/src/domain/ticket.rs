//! The ticket: one customer request and everything the desk knows about it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bounds::BlobRef;
use super::contact::ContactId;
use super::ids::{EmailAddress, QueueKey, TicketKey};
use super::satisfaction::Satisfaction;
use super::sla::SlaState;

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A web form or a form provider's webhook.
    Form,
    /// Mail to a support address.
    Email,
    /// The HTTP API.
    Api,
    /// A chat or messenger integration.
    Chat,
    /// A phone call.
    Phone,
    /// An import from another system.
    Import,
    /// Created by a schedule or an automation.
    Automation,
}

impl Channel {
    /// The channel's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Email => "email",
            Self::Api => "api",
            Self::Chat => "chat",
            Self::Phone => "phone",
            Self::Import => "import",
            Self::Automation => "automation",
        }
    }
}

/// The person a ticket is for, as resolved to a contact. A request without
/// an address (a form that does not ask for one) has no contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The contact this requester was matched to or created as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// The address the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// The name given with the request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A phone number given with the request (a ticket taken on the
    /// phone), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The organization of their contact when the ticket was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// A ticket. `version` starts at 1 and grows by one with every stored
/// change; stores refuse a write based on a stale version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// `SUP-17`.
    pub key: TicketKey,
    /// The queue; always the queue of `key`.
    pub queue: QueueKey,
    /// One line saying what the request is about.
    pub summary: String,
    /// The request's text, up to [`super::bounds::TEXT_INLINE`] bytes.
    pub description: String,
    /// Where the whole description is kept when it is longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_blob: Option<BlobRef>,
    /// One of the queue's statuses.
    pub status: String,
    /// How the ticket was resolved, once it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// One of the configured priorities.
    pub priority: String,
    /// The support line (1st, 2nd, 3rd) working on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u8>,
    /// Topics, each with a default assignee in the config.
    #[serde(default)]
    pub components: Vec<String>,
    /// Free labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The agent's login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Who asked.
    pub requester: Requester,
    /// Other people copied on the conversation.
    #[serde(default)]
    pub participants: Vec<EmailAddress>,
    /// Where the request came from.
    pub channel: Channel,
    /// Fields defined per queue (customer id, incident time, ...).
    #[serde(default)]
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    /// When the ticket was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The team's first public answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// How often it went from closed back to open.
    #[serde(default)]
    pub reopen_count: u32,
    /// How deep in a trigger chain the last change was: 0 when a person or
    /// the system made it, `n + 1` when triggers wrote it in reaction to a
    /// change at depth `n`. The trigger engine reads it from the stored
    /// ticket to enforce its depth limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trigger_depth: u8,
    /// SLA timers (see [`crate::sla`]); written only by the SLA tracker
    /// and checker, never a field triggers compare or set.
    #[serde(default, skip_serializing_if = "SlaState::is_empty")]
    pub sla: SlaState,
    /// Its satisfaction survey: due, asked, rated.
    #[serde(default, skip_serializing_if = "Satisfaction::is_empty")]
    pub satisfaction: Satisfaction,
    /// Optimistic-locking version, 1 for a new ticket.
    pub version: u64,
}

impl Ticket {
    /// The earliest instant something timed is due on the ticket (an SLA
    /// warning or breach, its satisfaction survey): its place in the due
    /// index the checker reads.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        [self.sla.next_due(), self.satisfaction.ask_at]
            .into_iter()
            .flatten()
            .min()
    }
}

fn is_zero(depth: &u8) -> bool {
    *depth == 0
}

/// How many timeline entries one stored change may add; the sequence number
/// of entry `i` written with version `v` is `v * ENTRIES_PER_VERSION + i`, so
/// timeline order follows version order without a second counter.
pub const ENTRIES_PER_VERSION: u64 = 1000;

/// The sequence number of the `index`-th entry written with `version`.
pub fn entry_seq(version: u64, index: usize) -> u64 {
    version * ENTRIES_PER_VERSION + index as u64
}
