//! Sending mail about a ticket, with loop protection you can see.
//!
//! Every mail gets a deterministic Message-ID from its ticket and purpose,
//! so a redelivered event finds it already sent. Automatic mail is
//! rate-limited per ticket and recipient and per recipient over fixed
//! windows; a mail held back is recorded on the ticket's timeline with the
//! reason. A send is claimed with a marker before it happens, so two
//! concurrent deliveries of one event send once; a failed send releases the
//! claim so a retry can send.

use chrono::{DateTime, Utc};

use crate::domain::{Actor, EmailAddress, QueueKey, TicketKey, TimelineEvent};
use crate::keys;
use crate::services::Services;
use crate::store::{ClaimPurpose, IdempotencyClaim, MailClaim, Step, StoreError};
use crate::tickets;

use super::outbound::{self, Address, OutboundMail};
use super::token;
use super::transport::TransportError;

/// The loop header every mail of ours carries.
pub const LOOP_HEADER: &str = "X-Helpdesk-Loop";

/// A mail to send about a ticket.
#[derive(Debug, Clone)]
pub struct TicketMail {
    /// The ticket.
    pub ticket: TicketKey,
    /// Recipients.
    pub to: Vec<EmailAddress>,
    /// Copy recipients.
    pub cc: Vec<EmailAddress>,
    /// Files: name, media type, bytes.
    pub attachments: Vec<(String, String, bytes::Bytes)>,
    /// Subject (the ticket key is added).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// What the mail is for, unique per ticket (`ack:<inbound id>`); it
    /// decides the Message-ID.
    pub purpose: String,
    /// The message it answers.
    pub in_reply_to: Option<String>,
    /// The thread so far.
    pub references: Vec<String>,
    /// Sent by the helpdesk itself (acknowledgements, notifications).
    pub automatic: bool,
    /// Who sends it: the system, or the trigger whose action it is.
    pub actor: Actor,
    /// The trigger depth recorded with the sent mail (0 unless a trigger
    /// sends it), so a trigger reacting to sent mail stops at the limit.
    pub trigger_depth: u8,
}

/// What happened to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Handed to the transport.
    Sent {
        /// Its Message-ID.
        message_id: String,
    },
    /// An earlier delivery of the same event sent it already.
    AlreadySent {
        /// Its Message-ID.
        message_id: String,
    },
    /// Held back; the reason is on the timeline.
    Suppressed {
        /// Why.
        reason: String,
    },
}

/// Why a mail could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transport failed; `Temporary` ones are worth retrying.
    #[error("sending failed: {0:?}")]
    Transport(TransportError),
    /// The message could not be built.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The reply-token key could not be read (worth retrying).
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

/// Counts one automatic mail to `recipient` and says which limit, if any,
/// it exceeds.
async fn over_limit(
    services: &Services,
    ticket: &TicketKey,
    recipient: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let limits = services.config.desk.mail.rate_limits;
    let (index, ends) = limits.per_ticket_recipient.window_at(now);
    let key = keys::counter::rate_per_ticket(ticket, recipient, index);
    let count = services.store.increment_counter(&key, ends).await?;
    if count > limits.per_ticket_recipient.count {
        return Ok(Some(format!(
            "rate limit: more than {} automatic mails to {recipient} about {ticket} within {}",
            limits.per_ticket_recipient.count,
            humantime::format_duration(limits.per_ticket_recipient.window.0)
        )));
    }
    over_recipient_limit(services, recipient, now).await
}

/// Counts one automatic mail to `recipient` against the limit per
/// recipient and says so when it exceeds it.
async fn over_recipient_limit(
    services: &Services,
    recipient: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let limit = services.config.desk.mail.rate_limits.per_recipient;
    let (index, ends) = limit.window_at(now);
    let key = keys::counter::rate_per_recipient(recipient, index);
    let count = services.store.increment_counter(&key, ends).await?;
    if count > limit.count {
        return Ok(Some(format!(
            "rate limit: more than {} automatic mails to {recipient} within {}",
            limit.count,
            humantime::format_duration(limit.window.0)
        )));
    }
    Ok(None)
}

/// A claim far in the future: Message-IDs map to their ticket for years.
pub fn message_id_claim(message_id: &str, now: DateTime<Utc>) -> IdempotencyClaim {
    IdempotencyClaim {
        key: keys::claim::message_id(message_id),
        purpose: ClaimPurpose::Mail(MailClaim::Recorded),
        expires_at: now + chrono::Duration::days(3650),
    }
}

/// Records one mail event on its ticket with the claim that keeps a
/// redelivery from recording it twice.
async fn record(
    services: &Services,
    ticket: &TicketKey,
    now: DateTime<Utc>,
    claim: IdempotencyClaim,
    event: TimelineEvent,
    by: (&Actor, u8),
) -> Result<(), StoreError> {
    tickets::apply_at_depth(
        services.store.as_ref(),
        &services.config,
        ticket,
        by,
        now,
        &[claim],
        |_| vec![event.clone()],
    )
    .await?;
    Ok(())
}

/// Builds and hands a message to the transport once: a `send:<Message-ID>`
/// marker is claimed first (answers `false` when it was claimed before) and
/// released when the transport fails, so a retry can send.
async fn send_once(
    services: &Services,
    mail: &OutboundMail,
    recipients: &[String],
    now: DateTime<Utc>,
) -> Result<bool, SendError> {
    let raw = outbound::build(mail).map_err(|e| SendError::Build(e.to_string()))?;
    let marker = keys::marker::send(&mail.message_id);
    if services
        .store
        .put_marker(&marker, "sending", Some(now + chrono::Duration::days(30)))
        .await?
        .is_some()
    {
        return Ok(false);
    }
    if let Err(e) = services.mail.send(&mail.from.email, recipients, &raw).await {
        // One line per failed send, whatever the caller does next (retry,
        // or record it on the ticket): the deployed stack counts these
        // lines (the OutboundMailFailures metric filters).
        tracing::error!(
            message_id = %mail.message_id,
            permanent = matches!(e, TransportError::Permanent(_)),
            error = ?e,
            "outbound mail not sent"
        );
        services.store.delete_marker(&marker).await?;
        return Err(SendError::Transport(e));
    }
    Ok(true)
}

/// Sends a mail about a ticket (see the module docs for the guarantees).
pub async fn send_ticket_mail(
    services: &Services,
    mail: TicketMail,
    suppress_reason: Option<String>,
) -> Result<SendOutcome, SendError> {
    let now = tickets::store_precision(services.clock.now());
    let domain = &services.config.desk.mail.message_id_domain;
    let key = message_id_key(services).await?;
    let message_id = outbound::message_id_for(&mail.ticket, &mail.purpose, domain, &key);
    if already_recorded(services, &message_id).await? {
        return Ok(SendOutcome::AlreadySent { message_id });
    }
    let outgoing = Outgoing {
        now,
        message_id,
        recipients: mail
            .to
            .iter()
            .chain(&mail.cc)
            .map(ToString::to_string)
            .collect(),
        subject: outbound::subject_with_key(&mail.subject, &mail.ticket),
    };
    match suppression_reason(services, &mail, suppress_reason, now).await? {
        Some(reason) => hold_back(services, &mail, outgoing, reason).await,
        None => deliver(services, mail, outgoing).await,
    }
}

/// What is settled about a ticket mail before it is sent or held back.
struct Outgoing {
    /// When, at store precision.
    now: DateTime<Utc>,
    /// Its deterministic Message-ID.
    message_id: String,
    /// The recipients as text.
    recipients: Vec<String>,
    /// The subject with the ticket key.
    subject: String,
}

/// Whether an earlier delivery recorded the mail with this Message-ID.
async fn already_recorded(services: &Services, message_id: &str) -> Result<bool, StoreError> {
    let claim_key = keys::claim::message_id(message_id);
    Ok(services
        .store
        .idempotency_record(&claim_key)
        .await?
        .is_some())
}

/// Why the mail is held back, if it is: the caller's reason, or else, for
/// automatic mail, the first rate limit a recipient exceeds (recipients are
/// counted in order until one does).
async fn suppression_reason(
    services: &Services,
    mail: &TicketMail,
    given: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    if given.is_some() || !mail.automatic {
        return Ok(given);
    }
    for recipient in &mail.to {
        if let Some(why) = over_limit(services, &mail.ticket, recipient, now).await? {
            return Ok(Some(why));
        }
    }
    Ok(None)
}

/// Records the held-back mail on the ticket's timeline with the reason.
async fn hold_back(
    services: &Services,
    mail: &TicketMail,
    outgoing: Outgoing,
    reason: String,
) -> Result<SendOutcome, SendError> {
    let claim = IdempotencyClaim {
        key: keys::claim::suppression(&outgoing.message_id),
        purpose: ClaimPurpose::Once(Step::Suppression),
        expires_at: outgoing.now + chrono::Duration::days(30),
    };
    let event = TimelineEvent::EmailSuppressed {
        to: outgoing.recipients,
        subject: outgoing.subject,
        reason: reason.clone(),
    };
    let by = (&mail.actor, mail.trigger_depth);
    record(services, &mail.ticket, outgoing.now, claim, event, by).await?;
    tracing::info!(ticket = %mail.ticket, %reason, "automatic mail suppressed");
    Ok(SendOutcome::Suppressed { reason })
}

/// Sends the mail from the ticket's queue and records it on the timeline,
/// unless an earlier delivery sent it.
async fn deliver(
    services: &Services,
    mail: TicketMail,
    outgoing: Outgoing,
) -> Result<SendOutcome, SendError> {
    let settings = &services.config.desk.mail;
    let from_address = ticket_sender(services, &mail.ticket).await?;
    let outbound = OutboundMail {
        from: Address {
            name: settings.from_name.clone(),
            email: from_address.to_string(),
        },
        to: mail.to.iter().map(Address::from).collect(),
        cc: mail.cc.iter().map(Address::from).collect(),
        reply_to: reply_address(services, from_address, &mail.ticket).await?,
        subject: outgoing.subject.clone(),
        text: mail.text,
        html: None,
        message_id: outgoing.message_id.clone(),
        in_reply_to: mail.in_reply_to,
        references: mail.references,
        ticket: Some(mail.ticket.clone()),
        automatic: mail.automatic,
        loop_header: (LOOP_HEADER.to_owned(), settings.instance.clone()),
        attachments: mail.attachments,
        date: outgoing.now,
    };
    if !send_once(services, &outbound, &outgoing.recipients, outgoing.now).await? {
        return Ok(SendOutcome::AlreadySent {
            message_id: outgoing.message_id,
        });
    }
    let by = (&mail.actor, mail.trigger_depth);
    record_sent(services, &mail.ticket, by, mail.automatic, outgoing).await
}

/// The address a ticket's mail is sent from: the first of its queue's.
async fn ticket_sender<'a>(
    services: &'a Services,
    key: &TicketKey,
) -> Result<&'a EmailAddress, SendError> {
    let ticket = services
        .store
        .get_ticket(key)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {key}")))?;
    queue_address(services, &ticket.queue)
}

/// The first address of a queue, which its mail is sent from.
fn queue_address<'a>(
    services: &'a Services,
    queue: &QueueKey,
) -> Result<&'a EmailAddress, SendError> {
    let config = services
        .config
        .queues
        .get(queue)
        .ok_or_else(|| SendError::Build(format!("queue {queue} is not configured")))?;
    config
        .addresses
        .first()
        .ok_or_else(|| SendError::Build(format!("queue {queue} has no address to send from")))
}

/// The plus address that carries the ticket's reply token, when the token
/// secret is set.
async fn reply_address(
    services: &Services,
    from: &EmailAddress,
    ticket: &TicketKey,
) -> Result<Option<Address>, SendError> {
    let settings = &services.config.desk.mail;
    let secret = services
        .secrets
        .secret(&settings.reply_token_secret_env)
        .await?;
    Ok(secret.map(|secret| {
        Address::new(token::plus_address(
            from,
            &token::reply_token(secret.as_bytes(), ticket),
        ))
    }))
}

/// Records the sent mail on the ticket's timeline with the claim that maps
/// its Message-ID to the ticket.
async fn record_sent(
    services: &Services,
    ticket: &TicketKey,
    by: (&Actor, u8),
    automatic: bool,
    outgoing: Outgoing,
) -> Result<SendOutcome, SendError> {
    let Outgoing {
        now,
        message_id,
        recipients,
        subject,
    } = outgoing;
    let event = TimelineEvent::EmailOut {
        message_id: message_id.clone(),
        to: recipients,
        subject,
        automatic,
    };
    let claim = message_id_claim(&message_id, now);
    record(services, ticket, now, claim, event, by).await?;
    Ok(SendOutcome::Sent { message_id })
}

/// An automatic answer that belongs to no ticket (the polite answer to a
/// refused sender). Rate-limited per recipient like every automatic mail,
/// claimed with a marker so it goes out at most once per inbound message.
#[derive(Debug, Clone)]
pub struct LooseMail {
    /// The queue it is sent from.
    pub queue: crate::domain::QueueKey,
    /// The recipient.
    pub to: EmailAddress,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// The message it answers.
    pub in_reply_to: String,
}

/// Sends a [`LooseMail`]; answers `Suppressed` (with the reason) when a
/// rate limit holds it back.
pub async fn send_loose_mail(
    services: &Services,
    mail: LooseMail,
) -> Result<SendOutcome, SendError> {
    let settings = &services.config.desk.mail;
    let now = tickets::store_precision(services.clock.now());
    let key = message_id_key(services).await?;
    let message_id = loose_message_id(&mail, &settings.message_id_domain, &key);
    if let Some(reason) = over_recipient_limit(services, &mail.to, now).await? {
        return Ok(SendOutcome::Suppressed { reason });
    }
    let from_address = queue_address(services, &mail.queue)?;
    let outbound = OutboundMail {
        from: Address {
            name: settings.from_name.clone(),
            email: from_address.to_string(),
        },
        to: vec![Address::from(&mail.to)],
        cc: Vec::new(),
        reply_to: None,
        subject: outbound::one_line(&mail.subject),
        text: mail.text,
        html: None,
        message_id: message_id.clone(),
        in_reply_to: Some(mail.in_reply_to.clone()),
        references: vec![mail.in_reply_to],
        ticket: None,
        automatic: true,
        loop_header: (LOOP_HEADER.to_owned(), settings.instance.clone()),
        attachments: Vec::new(),
        date: now,
    };
    if !send_once(services, &outbound, &[mail.to.to_string()], now).await? {
        return Ok(SendOutcome::AlreadySent { message_id });
    }
    Ok(SendOutcome::Sent { message_id })
}

/// The Message-ID of a loose answer, from its queue and the message it
/// answers, so a redelivery of that message sends it once.
fn loose_message_id(mail: &LooseMail, domain: &str, key: &[u8]) -> String {
    outbound::keyed_message_id(
        &mail.queue.as_str().to_lowercase(),
        &format!("answer:{}\n{}", mail.queue, mail.in_reply_to),
        domain,
        key,
    )
}

/// The desk's key for its own Message-IDs: made at random the first time
/// one is needed and kept in the store (a marker written once, so
/// concurrent first uses agree on the one that was written first).
pub async fn message_id_key(services: &Services) -> Result<Vec<u8>, StoreError> {
    let name = keys::marker::message_id_key();
    if let Some(key) = services.store.get_marker(&name).await? {
        return Ok(key.into_bytes());
    }
    let fresh = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let key = services
        .store
        .put_marker(&name, &fresh, None)
        .await?
        .unwrap_or(fresh);
    Ok(key.into_bytes())
}

/// How many Message-IDs an answer's `References` names (the newest of the
/// ticket's thread).
const REFERENCES_MAX: usize = 10;

/// The threading headers of an answer on `key` (an agent's, or a
/// trigger's public comment): `In-Reply-To` the
/// customer's latest mail, `References` the newest Message-IDs of the
/// ticket's mail in and out, oldest first, so the answer sits in the
/// customer's thread.
pub async fn thread_of(
    services: &Services,
    key: &TicketKey,
) -> Result<(Option<String>, Vec<String>), StoreError> {
    let timeline = services.store.timeline(key).await?;
    let mut ids: Vec<&str> = Vec::new();
    let mut last_in = None;
    for entry in &timeline {
        match &entry.event {
            TimelineEvent::EmailIn { message_id, .. } => {
                last_in = Some(message_id.clone());
                ids.push(message_id);
            }
            TimelineEvent::EmailOut { message_id, .. } => ids.push(message_id),
            _ => {}
        }
    }
    let first = ids.len().saturating_sub(REFERENCES_MAX);
    let references = ids[first..].iter().map(|id| (*id).to_owned()).collect();
    Ok((last_in, references))
}
