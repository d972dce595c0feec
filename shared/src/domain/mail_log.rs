//! The mail log: every message that did not become part of a ticket
//! (refused, held, quarantined, dropped, a delivery report about mail we do
//! not know), with why and where its raw bytes are, so an agent can see it,
//! fetch it, and release a held one into a ticket.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::TicketKey;

/// What was done with a message that did not become part of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Refused: not mail, no queue, no usable sender, a loop, a sender the
    /// queue does not take.
    Rejected,
    /// Kept for review: a stranger wrote with a ticket's key in the
    /// subject and the queue holds such mail, the From failed
    /// authentication and the queue holds such mail, or no header names a
    /// usable sender.
    Held,
    /// SES's verdict failed and the desk quarantines such mail.
    Quarantined,
    /// SES's verdict failed and the desk drops such mail.
    Dropped,
    /// A delivery report about a message we do not know.
    Bounce,
    /// Recorded before as not accepted.
    Duplicate,
}

impl Refusal {
    /// The name as logged and stored in the mail log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Held => "held",
            Self::Quarantined => "quarantined",
            Self::Dropped => "dropped",
            Self::Bounce => "bounce",
            Self::Duplicate => "duplicate",
        }
    }
}

impl std::str::FromStr for Refusal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Self::Rejected,
            Self::Held,
            Self::Quarantined,
            Self::Dropped,
            Self::Bounce,
            Self::Duplicate,
        ]
        .into_iter()
        .find(|refusal| refusal.as_str() == text)
        .ok_or_else(|| {
            format!("{text:?} is not an outcome (rejected, held, quarantined, dropped, bounce)")
        })
    }
}

/// One message in the mail log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailLogEntry {
    /// What the message is known as: its Message-ID (or, when another
    /// message with other content had that id first, the id with this
    /// one's content digest).
    pub id: String,
    /// What was done with it.
    pub outcome: Refusal,
    /// Why, for people.
    pub reason: String,
    /// Where its raw bytes are kept.
    pub raw_key: String,
    /// When it came.
    pub at: DateTime<Utc>,
    /// The digest of its content (see `ParsedMail::content_digest`).
    #[serde(default)]
    pub digest: String,
    /// The sender it named, as written (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Its subject (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The envelope's recipients (the SES receipt's, the MTA's), at most
    /// 50: where it was delivered, which a release needs to find its queue
    /// again (a Bcc names no queue in the headers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// The queue the entry point named (`mailgate --queue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<super::ids::QueueKey>,
    /// The ticket an agent released it into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<TicketKey>,
}

/// Which entries of the mail log to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLogQuery {
    /// Entries at or after this instant.
    pub since: DateTime<Utc>,
    /// Entries at or before this instant (now, as the caller's clock has
    /// it).
    pub until: DateTime<Utc>,
    /// Only entries with this outcome.
    pub outcome: Option<Refusal>,
    /// At most this many, newest first.
    pub limit: usize,
}
