//! Releasing a held message: an agent looked at it in the mail log and
//! lets it in. It opens a ticket of its own, never joining an existing one
//! (a message is held because its right to a ticket was in doubt; an agent
//! can still merge later), with an internal note naming who released it
//! and why it was held; the mail log entry then names the ticket.
//!
//! The steps: the log entry (held, not yet released), its raw bytes, the
//! message decoded again, its queue and screening as on arrival (a failed
//! authentication no longer holds it), the sender (the agent may name one
//! when the message names none), a new ticket, the entry marked released.

use crate::domain::{EmailAddress, MailLogEntry, TicketKey};
use crate::services::Services;
use crate::store::StoreError;
use crate::tickets;

use super::{Envelope, Inbound, IngestError, Ingested, Letter, Refusal, decode_mail, open, screen};

/// An agent's release of a held message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The message's id in the mail log.
    pub id: String,
    /// The agent releasing it.
    pub login: String,
    /// The requester, when the message names no usable sender.
    pub sender: Option<EmailAddress>,
}

/// Who released a message, and why it had been held.
#[derive(Debug, Clone)]
pub(super) struct Released {
    pub(super) login: String,
    pub(super) held_because: String,
}

/// Why a message could not be released.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// No such entry in the mail log.
    #[error("no message {0:?} in the mail log")]
    NotLogged(String),
    /// The message was not held (refused, dropped, a bounce): nothing to
    /// release.
    #[error("message {id:?} was {} (only held messages are released)", outcome.as_str())]
    NotHeld {
        /// The message.
        id: String,
        /// What was done with it.
        outcome: Refusal,
    },
    /// Released before, into this ticket.
    #[error("message {id:?} was released before, into {ticket}")]
    AlreadyReleased {
        /// The message.
        id: String,
        /// Its ticket.
        ticket: TicketKey,
    },
    /// The raw message is not where the log says.
    #[error("the raw message of {id:?} is missing at {raw_key}")]
    RawMissing {
        /// The message.
        id: String,
        /// Where it should be.
        raw_key: String,
    },
    /// No header names a usable sender and the agent named none.
    #[error("message {0:?} names no usable sender; name the requester to release it")]
    NoSender(String),
    /// The message no longer goes to a queue, or is refused now.
    #[error("message {id:?} cannot be released: {reason}")]
    Refused {
        /// The message.
        id: String,
        /// Why.
        reason: String,
    },
    /// The pipeline failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl From<StoreError> for ReleaseError {
    fn from(e: StoreError) -> Self {
        Self::Ingest(e.into())
    }
}

/// Releases a held message into a new ticket (see the module docs) and
/// answers the ticket.
pub async fn release_held(
    services: &Services,
    release: Release,
) -> Result<TicketKey, ReleaseError> {
    let entry = held_entry(services, &release.id).await?;
    let now = tickets::store_precision(services.clock.now());
    let raw = services
        .blobs
        .get(&entry.raw_key)
        .await
        .map_err(IngestError::from)?
        .ok_or_else(|| ReleaseError::RawMissing {
            id: entry.id.clone(),
            raw_key: entry.raw_key.clone(),
        })?;
    let mail = decode_mail(services, raw, &entry.raw_key, now).await?;
    let envelope = Envelope {
        recipients: entry.recipients.clone(),
        queue: entry.queue.clone(),
        raw_key: Some(entry.raw_key.clone()),
        ..Envelope::default()
    };
    let inbound = Inbound {
        services,
        mail: &mail,
        recipients: super::threading::recipients(&mail, &envelope.recipients),
        authentication: super::authentication_of(services, &mail, &Envelope::default()),
        raw_key: &entry.raw_key,
        now,
        known_as: entry.id.clone(),
        reuses: None,
        released: Some(Released {
            login: release.login.clone(),
            held_because: entry.reason.clone(),
        }),
        envelope,
    };
    let ticket = open_released(&inbound, release.sender, &entry.id).await?;
    services
        .store
        .log_mail(&MailLogEntry {
            released: Some(ticket.clone()),
            ..entry
        })
        .await?;
    tracing::info!(message_id = %release.id, %ticket, login = %release.login, "held mail released");
    Ok(ticket)
}

/// The log entry of `id`, when it is a held message not yet released (a
/// message held before the mail log existed has a marker instead).
async fn held_entry(services: &Services, id: &str) -> Result<MailLogEntry, ReleaseError> {
    let entry = match services.store.mail_log_entry(id).await? {
        Some(entry) => Some(entry),
        None => services
            .store
            .get_marker(&crate::keys::marker::mail_not_accepted(id))
            .await?
            .and_then(|marker| entry_of_marker(id, &marker)),
    };
    let entry = entry.ok_or_else(|| ReleaseError::NotLogged(id.to_owned()))?;
    if let Some(ticket) = entry.released {
        return Err(ReleaseError::AlreadyReleased {
            id: id.to_owned(),
            ticket,
        });
    }
    if entry.outcome != Refusal::Held {
        return Err(ReleaseError::NotHeld {
            id: id.to_owned(),
            outcome: entry.outcome,
        });
    }
    Ok(entry)
}

/// A mail log entry from the marker an earlier version wrote (`{"outcome",
/// "reason", "raw_key", "at"}`).
fn entry_of_marker(id: &str, marker: &str) -> Option<MailLogEntry> {
    let record: serde_json::Value = serde_json::from_str(marker).ok()?;
    Some(MailLogEntry {
        id: id.to_owned(),
        outcome: serde_json::from_value(record["outcome"].clone()).ok()?,
        reason: record["reason"].as_str()?.to_owned(),
        raw_key: record["raw_key"].as_str()?.to_owned(),
        at: serde_json::from_value(record["at"].clone()).ok()?,
        digest: record["digest"].as_str().unwrap_or_default().to_owned(),
        from: None,
        subject: None,
        recipients: Vec::new(),
        queue: None,
        released: None,
    })
}

/// The new ticket of a released message: its queue, screening and sender
/// as on arrival (or the sender the agent names).
async fn open_released(
    inbound: &Inbound<'_>,
    sender: Option<EmailAddress>,
    id: &str,
) -> Result<TicketKey, ReleaseError> {
    let refused = |reason: String| ReleaseError::Refused {
        id: id.to_owned(),
        reason,
    };
    let envelope = &inbound.envelope;
    let (queue_key, queue) = screen::queue_of(inbound, envelope).map_err(refused)?;
    let screening =
        screen::screen(inbound, envelope, queue).map_err(|(_, reason)| refused(reason))?;
    let sender = match sender {
        Some(sender) => sender,
        None => {
            screen::sender(inbound, queue)
                .map_err(|_| ReleaseError::NoSender(id.to_owned()))?
                .0
        }
    };
    let letter = Letter {
        inbound,
        queue_key,
        queue,
        sender,
        screening,
    };
    match open::new_ticket(&letter, None).await? {
        Ingested::NewTicket { ticket, .. } | Ingested::Duplicate { ticket } => Ok(ticket),
        other => Err(refused(format!("{other:?}"))),
    }
}
