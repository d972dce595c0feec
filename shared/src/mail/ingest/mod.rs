//! The inbound mail pipeline behind every entry point (SES, S3, the
//! mailgate, `POST /mail`), as [`ingest`] lists its stages: keep the raw
//! message, decode it, drop a delivery seen before, find the queue, screen
//! it (SES verdicts, automatic mail), record a delivery report, check the
//! sender, thread it, then record a reply or open a ticket and acknowledge
//! it, all idempotently.
//!
//! - [`screen`]: the stages before threading (queue, verdicts, sender).
//! - [`record`]: what is written on an existing ticket (a reply, a
//!   delivery report) and the log of mail not accepted.
//! - [`open`]: a new ticket from a mail, and the link of a follow-up.
//! - [`answer`]: the automatic answers (acknowledgement, the answer to a
//!   refused sender).
//! - [`release_held`]: an agent letting a held message in, from the mail log.

mod answer;
mod open;
mod record;
mod release;
mod screen;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::blobs::BlobError;
use crate::config::{ClosedPolicy, Queue, StrangerPolicy};
use crate::domain::{Authentication, EmailAddress, QueueKey, Ticket, TicketKey};
use crate::keys;
use crate::services::Services;
use crate::store::{BoxError, ClaimPurpose, IdempotencyClaim, MailClaim, StoreError};
use crate::tickets::{self, OpenError};

use super::auto::{self, OurIdentity};
use super::parse::{self, MailLimits, ParsedMail};
use super::send::{self, LOOP_HEADER, SendOutcome};
use super::threading::{self, ThreadMatch};
use super::transport::TransportError;

pub use release::{Release, ReleaseError, release_held};
pub use screen::Screening;

/// How a message reached us, beyond its bytes.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// Envelope recipients (SES receipt recipients, the MTA's).
    pub recipients: Vec<String>,
    /// The queue to use when no recipient names one (`mailgate --queue`).
    pub queue: Option<QueueKey>,
    /// Where the raw message already is (SES stored it in S3); when absent
    /// the pipeline stores it first.
    pub raw_key: Option<String>,
    /// SES spam verdict failed.
    pub spam: bool,
    /// SES virus verdict failed.
    pub virus: bool,
    /// SES's SPF, DKIM and DMARC verdicts (none: not from SES; the trusted
    /// MTA's `Authentication-Results` header may give them).
    pub authentication: Option<Authentication>,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// A new ticket.
    NewTicket {
        /// The ticket.
        ticket: TicketKey,
        /// The acknowledgement, when one was due.
        acknowledgement: Option<SendOutcome>,
    },
    /// Recorded on an existing ticket.
    Reply {
        /// The ticket.
        ticket: TicketKey,
        /// How it was recognised.
        how: String,
        /// Whether it reopened the ticket.
        reopened: bool,
    },
    /// This message was recorded before.
    Duplicate {
        /// Its ticket.
        ticket: TicketKey,
    },
    /// A delivery report, attached to the ticket it concerns when found.
    Bounce {
        /// The ticket, if the bounced message was ours.
        ticket: Option<TicketKey>,
    },
    /// Deliberately not turned into a ticket; recorded with the reason.
    NotAccepted {
        /// What was done with it.
        outcome: Refusal,
        /// Why.
        reason: String,
    },
}

pub use crate::domain::mail_log::Refusal;

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Retrying later may succeed (the store, the blob store or the mail
    /// transport is unavailable).
    #[error("temporary failure: {what}")]
    Temporary {
        /// What failed.
        what: String,
        /// The failure itself.
        #[source]
        source: BoxError,
    },
    /// Retrying cannot help: stored data that cannot be read, a request
    /// the backend refuses, a configuration that cannot take this message.
    /// The raw message is kept.
    #[error("permanent failure: {what}")]
    Permanent {
        /// What failed.
        what: String,
        /// The failure itself.
        #[source]
        source: BoxError,
    },
    /// The data can never be accepted; the raw message is kept at `raw_key`.
    #[error("cannot accept this message: {reason} (raw message kept at {raw_key})")]
    Unacceptable {
        /// Why.
        reason: String,
        /// Where the raw message is.
        raw_key: String,
    },
}

impl IngestError {
    /// Whether retrying the same message later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Temporary { .. })
    }

    fn classify(retryable: bool, what: String, source: BoxError) -> Self {
        if retryable {
            Self::Temporary { what, source }
        } else {
            Self::Permanent { what, source }
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        Self::classify(e.is_retryable(), e.to_string(), Box::new(e))
    }
}

impl From<BlobError> for IngestError {
    fn from(e: BlobError) -> Self {
        let retryable = matches!(e, BlobError::Backend { .. });
        Self::classify(retryable, e.to_string(), Box::new(e))
    }
}

impl From<send::SendError> for IngestError {
    fn from(e: send::SendError) -> Self {
        let retryable = match &e {
            send::SendError::Store(store) => store.is_retryable(),
            send::SendError::Secrets(_) => true,
            send::SendError::Transport(TransportError::Temporary(_)) => true,
            send::SendError::Transport(_) | send::SendError::Build(_) => false,
        };
        Self::classify(retryable, e.to_string(), Box::new(e))
    }
}

impl From<crate::secrets::SecretsError> for IngestError {
    fn from(e: crate::secrets::SecretsError) -> Self {
        // Secrets Manager unavailable, or a secret the operator must fix:
        // either way the message waits for a retry.
        Self::classify(true, e.to_string(), Box::new(e))
    }
}

impl From<OpenError> for IngestError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Store(e) => e.into(),
            OpenError::Blob(e) => e.into(),
            e @ OpenError::UnknownQueue(_) => Self::classify(false, e.to_string(), Box::new(e)),
        }
    }
}

/// The key under which a raw message is kept.
pub fn raw_key_for(raw: &[u8]) -> String {
    format!("raw/{}.eml", hex::encode(Sha256::digest(raw)))
}

/// Our identity for loop detection.
pub fn our_identity(services: &Services) -> OurIdentity {
    let mail = &services.config.desk.mail;
    OurIdentity {
        loop_header: LOOP_HEADER.to_owned(),
        loop_value: mail.instance.clone(),
        message_id_domain: mail.message_id_domain.clone(),
    }
}

/// One decoded message on its way through the pipeline.
struct Inbound<'a> {
    services: &'a Services,
    mail: &'a ParsedMail,
    /// The envelope's recipients and the message's own, deduplicated.
    recipients: Vec<String>,
    /// The receiving server's verdicts, when known.
    authentication: Option<Authentication>,
    raw_key: &'a str,
    now: DateTime<Utc>,
    /// What claims and markers know this message by: its Message-ID, or,
    /// when another message with other content came with that id first,
    /// the id with this message's content digest.
    known_as: String,
    /// The ticket of the earlier, different message with the same
    /// Message-ID (if it made one), for the note on this one's ticket.
    reuses: Option<Reused>,
    /// An agent released this held message from the mail log.
    released: Option<release::Released>,
    /// The envelope's recipients and queue, for the mail log.
    envelope: Envelope,
}

/// An earlier, different message with the same Message-ID.
#[derive(Debug, Clone)]
struct Reused {
    /// The ticket it is on, if any.
    ticket: Option<TicketKey>,
}

/// What an earlier delivery of the same Message-ID means for this one.
enum Earlier {
    /// None came: a new message.
    None,
    /// The same message again: answered as before.
    Same(Ingested),
    /// Another message reused the id: this one is new, known by its digest.
    Reused(Reused),
}

impl Inbound<'_> {
    /// The claim that records this message once, with its content digest.
    fn claim(&self, how: MailClaim) -> IdempotencyClaim {
        IdempotencyClaim {
            key: keys::claim::message_id(&self.known_as),
            purpose: ClaimPurpose::MailContent(how, self.mail.content_digest.clone()),
            expires_at: self.now + chrono::Duration::days(3650),
        }
    }
}

/// A message from a person or system we can name, to a queue.
struct Letter<'a> {
    inbound: &'a Inbound<'a>,
    queue_key: QueueKey,
    queue: &'a Queue,
    sender: EmailAddress,
    screening: Screening,
}

/// Where threading sent a letter.
enum Thread {
    /// A reply on an existing ticket.
    Reply(Box<Ticket>, ThreadMatch),
    /// A person writing to a ticket closed for good: a new, linked ticket.
    FollowUp(TicketKey),
    /// A stranger using a ticket's key, held for review.
    Held(String),
    /// Nothing to thread onto: a new ticket, if the sender may open one.
    New,
}

/// Takes one raw message (see the module docs).
pub async fn ingest(
    services: &Services,
    raw: Bytes,
    envelope: Envelope,
) -> Result<Ingested, IngestError> {
    let now = tickets::store_precision(services.clock.now());
    let raw_key = keep_raw(services, &raw, &envelope).await?;
    // Kept now: the parser may let go of it before reading the body.
    let mail = decode_mail(services, raw, &raw_key, now).await?;
    let mut inbound = Inbound {
        services,
        mail: &mail,
        recipients: threading::recipients(&mail, &envelope.recipients),
        authentication: authentication_of(services, &mail, &envelope),
        raw_key: &raw_key,
        now,
        known_as: mail.message_id.clone(),
        reuses: None,
        released: None,
        envelope: envelope.clone(),
    };
    match earlier_delivery(&inbound, &envelope).await? {
        Earlier::None => {}
        Earlier::Same(earlier) => return Ok(earlier),
        Earlier::Reused(reused) => {
            inbound.known_as = format!("{}#{}", mail.message_id, mail.content_digest);
            inbound.reuses = Some(reused);
            if let Earlier::Same(earlier) = earlier_delivery(&inbound, &envelope).await? {
                return Ok(earlier);
            }
        }
    }
    let (queue_key, queue) = match screen::queue_of(&inbound, &envelope) {
        Ok(found) => found,
        Err(reason) => return inbound.not_accepted(Refusal::Rejected, reason).await,
    };
    let screening = match screen::screen(&inbound, &envelope, queue) {
        Ok(screening) => screening,
        Err((refusal, reason)) => return inbound.not_accepted(refusal, reason).await,
    };
    if mail.report.is_some() {
        return record::bounce(&inbound, screening.automatic).await;
    }
    let (sender, from_author) = match screen::sender(&inbound, queue) {
        Ok(found) => found,
        Err((refusal, reason)) => return inbound.not_accepted(refusal, reason).await,
    };
    let mut screening = screening;
    // Only From and Sender are what authentication vouches for.
    screening.unauthenticated |= !from_author;
    let letter = Letter {
        inbound: &inbound,
        queue_key,
        queue,
        sender,
        screening,
    };
    match thread(&letter).await? {
        Thread::Reply(ticket, how) => record::reply(&letter, &ticket, &how).await,
        Thread::FollowUp(previous) => open::new_ticket(&letter, Some(previous)).await,
        Thread::Held(reason) => inbound.not_accepted(Refusal::Held, reason).await,
        Thread::New => open::admit(&letter).await,
    }
}

/// The raw message where it is kept: where SES put it, or stored now.
async fn keep_raw(
    services: &Services,
    raw: &Bytes,
    envelope: &Envelope,
) -> Result<String, IngestError> {
    if let Some(key) = &envelope.raw_key {
        return Ok(key.clone());
    }
    let key = raw_key_for(raw);
    services
        .blobs
        .put(&key, "message/rfc822", raw.clone())
        .await?;
    Ok(key)
}

/// The parsed message; one that is not mail is logged as rejected and
/// refused for good.
async fn decode_mail(
    services: &Services,
    raw: Bytes,
    raw_key: &str,
    now: DateTime<Utc>,
) -> Result<ParsedMail, IngestError> {
    let limits = MailLimits {
        max_attachment_bytes: services.config.desk.mail.max_attachment_bytes,
        ..MailLimits::default()
    };
    // Parsing is CPU work that grows with the message: a large one runs as
    // blocking work, the runtime's other tasks handed on meanwhile (inline
    // on a Lambda's current-thread runtime); a small one in place.
    let parsed = crate::blocking::run_sized(raw.len(), move || parse::parse_owned(raw, &limits))
        .await
        .map_err(|e| IngestError::Temporary {
            what: format!("the mail parser did not finish: {e}"),
            source: Box::new(e),
        })?;
    let error = match parsed {
        Ok(mail) => return Ok(mail),
        Err(e) => e,
    };
    let reason = format!("not a mail message: {error}");
    let id = raw_key.trim_start_matches("raw/").trim_end_matches(".eml");
    record::log_not_accepted(
        services,
        crate::domain::MailLogEntry {
            id: id.to_owned(),
            outcome: Refusal::Rejected,
            reason: reason.clone(),
            raw_key: raw_key.to_owned(),
            at: now,
            digest: String::new(),
            from: None,
            subject: None,
            recipients: Vec::new(),
            queue: None,
            released: None,
        },
    )
    .await?;
    Err(IngestError::Unacceptable {
        reason,
        raw_key: raw_key.to_owned(),
    })
}

/// What came before with this message's id ([`Inbound::known_as`]): a
/// message recorded on a ticket or logged as not accepted. The same content
/// (or a record from before digests were kept) is this message again; other
/// content is another message that reused the id. A message that opened a
/// ticket gets its acknowledgement now if the first delivery did not send
/// it.
async fn earlier_delivery(
    inbound: &Inbound<'_>,
    envelope: &Envelope,
) -> Result<Earlier, IngestError> {
    let store = inbound.services.store.as_ref();
    let id = &inbound.known_as;
    let digest = &inbound.mail.content_digest;
    if let Some(record) = store
        .idempotency_record(&keys::claim::message_id(id))
        .await?
    {
        if let ClaimPurpose::MailContent(_, earlier) = &record.purpose
            && earlier != digest
        {
            return Ok(Earlier::Reused(Reused {
                ticket: Some(record.ticket),
            }));
        }
        if record.purpose.mail_claim() == Some(MailClaim::OpenedTicket) {
            answer::resume_acknowledgement(inbound, envelope, &record.ticket).await?;
        }
        return Ok(Earlier::Same(Ingested::Duplicate {
            ticket: record.ticket,
        }));
    }
    let earlier = match store.mail_log_entry(id).await? {
        Some(entry) => Some(entry.digest),
        // Logged before the mail log existed: a marker, kept 90 days.
        None => store
            .get_marker(&keys::marker::mail_not_accepted(id))
            .await?
            .map(|_| String::new()),
    };
    let Some(earlier) = earlier else {
        return Ok(Earlier::None);
    };
    if !earlier.is_empty() && &earlier != digest {
        return Ok(Earlier::Reused(Reused { ticket: None }));
    }
    Ok(Earlier::Same(Ingested::NotAccepted {
        outcome: Refusal::Duplicate,
        reason: "this message was recorded before".into(),
    }))
}

/// Finds the ticket a letter belongs to, and decides what a match means:
/// a stranger (not the requester, a participant or an address of the
/// requester's contact) is treated as the queue's policy says, whether our
/// Message-ID, the customer's or a key in the subject matched; only the
/// signed Reply-To token vouches for a new address. A person writing to a
/// ticket closed for good opens a follow-up.
async fn thread(letter: &Letter<'_>) -> Result<Thread, IngestError> {
    let services = letter.inbound.services;
    let secret = services
        .secrets
        .secret(&services.config.desk.mail.reply_token_secret_env)
        .await?;
    let found = threading::find_thread(
        services.store.as_ref(),
        letter.inbound.mail,
        &letter.queue_key,
        &letter.inbound.recipients,
        secret.as_deref().map(str::as_bytes),
    )
    .await?;
    let Some(found) = found else {
        return Ok(Thread::New);
    };
    let ticket = services
        .store
        .get_ticket(found.ticket())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {}", found.ticket())))?;
    let vouched = matches!(found, ThreadMatch::Token(_));
    let stranger = letter.screening.unauthenticated
        || !vouched
            && !threading::is_member(services.store.as_ref(), &ticket, &letter.sender).await?;
    if stranger {
        // The policy of the queue the ticket is in, not of the address the
        // mail came to.
        let policy = services
            .config
            .queues
            .get(&ticket.queue)
            .map_or(letter.queue.mail.subject_key_from_stranger, |q| {
                q.mail.subject_key_from_stranger
            });
        match policy {
            StrangerPolicy::Hold => {
                return Ok(Thread::Held(format!(
                    "{} is not on {} but wrote to it (matched by {}); held for review",
                    letter.sender,
                    ticket.key,
                    found.how()
                )));
            }
            StrangerPolicy::NewTicket => return Ok(Thread::New),
            StrangerPolicy::Accept => {}
        }
    }
    let closed_for_good = closed_policy_applies(letter.queue, &ticket, letter.inbound.now)
        == Some(ClosedPolicy::NewLinked);
    if closed_for_good && letter.screening.from_a_person() {
        return Ok(Thread::FollowUp(ticket.key));
    }
    Ok(Thread::Reply(Box::new(ticket), found))
}

/// Whether the ticket is resolved or closed and which policy applies.
fn closed_policy_applies(
    queue: &Queue,
    ticket: &Ticket,
    now: DateTime<Utc>,
) -> Option<ClosedPolicy> {
    let category = queue
        .statuses
        .iter()
        .find(|s| s.name == ticket.status)
        .map(|s| s.category)?;
    if !matches!(
        category,
        crate::config::StatusCategory::Resolved | crate::config::StatusCategory::Closed
    ) {
        return None;
    }
    Some(match queue.mail.closed_reply {
        ClosedPolicy::NewAfterDays => {
            let days = i64::from(queue.mail.closed_reply_days.unwrap_or(0));
            let since = ticket.resolved_at.unwrap_or(ticket.updated_at);
            if now - since > chrono::Duration::days(days) {
                ClosedPolicy::NewLinked
            } else {
                ClosedPolicy::Reopen
            }
        }
        other => other,
    })
}

/// The verdicts a message comes with: SES's, else those of the trusted
/// MTA's `Authentication-Results` header (no other server's).
fn authentication_of(
    services: &Services,
    mail: &ParsedMail,
    envelope: &Envelope,
) -> Option<Authentication> {
    envelope.authentication.or_else(|| {
        let trusted = services.config.desk.mail.trusted_authserv_id.as_deref()?;
        Authentication::from_headers(
            mail.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            trusted,
        )
    })
}

/// The automatic-mail reasons of a message (empty for a person's mail).
fn automatic_reasons(services: &Services, mail: &ParsedMail) -> Vec<String> {
    auto::classify(mail, &our_identity(services))
        .iter()
        .map(|r| r.describe())
        .collect()
}
