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
use sha2::Digest;

use crate::app::Services;
use crate::config::RateLimit;
use crate::domain::{Actor, EmailAddress, TicketKey, TimelineEvent};
use crate::store::{IdempotencyClaim, StoreError};
use crate::tickets;

use super::outbound::{self, Address, OutboundMail};
use super::threading::message_id_claim_key;
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
}

fn window_start(now: DateTime<Utc>, limit: &RateLimit) -> (i64, DateTime<Utc>) {
    let window = limit.window.0.as_secs().max(1) as i64;
    let index = now.timestamp().div_euclid(window);
    let ends = DateTime::from_timestamp((index + 1) * window, 0).unwrap_or(now);
    (index, ends)
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
    let (index, ends) = window_start(now, &limits.per_ticket_recipient);
    let key = format!("rate:ticket:{ticket}:{recipient}:{index}");
    let count = services.store.increment_counter(&key, ends).await?;
    if count > limits.per_ticket_recipient.count {
        return Ok(Some(format!(
            "rate limit: more than {} automatic mails to {recipient} about {ticket} within {}",
            limits.per_ticket_recipient.count,
            humantime::format_duration(limits.per_ticket_recipient.window.0)
        )));
    }
    let (index, ends) = window_start(now, &limits.per_recipient);
    let key = format!("rate:recipient:{recipient}:{index}");
    let count = services.store.increment_counter(&key, ends).await?;
    if count > limits.per_recipient.count {
        return Ok(Some(format!(
            "rate limit: more than {} automatic mails to {recipient} within {}",
            limits.per_recipient.count,
            humantime::format_duration(limits.per_recipient.window.0)
        )));
    }
    Ok(None)
}

/// A claim far in the future: Message-IDs map to their ticket for years.
pub fn message_id_claim(message_id: &str, now: DateTime<Utc>) -> IdempotencyClaim {
    IdempotencyClaim {
        key: message_id_claim_key(message_id),
        payload_hash: "message-id".into(),
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
    tickets::apply_at_depth(services.store.as_ref(), ticket, by, now, &[claim], |_| {
        vec![event.clone()]
    })
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
    let marker = format!("send:{}", mail.message_id);
    if services
        .store
        .put_marker(&marker, "sending", Some(now + chrono::Duration::days(30)))
        .await?
        .is_some()
    {
        return Ok(false);
    }
    if let Err(e) = services.mail.send(&mail.from.email, recipients, &raw).await {
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
    let settings = &services.config.desk.mail;
    let now = tickets::store_precision(services.clock.now());
    let message_id =
        outbound::message_id_for(&mail.ticket, &mail.purpose, &settings.message_id_domain);
    let claim_key = message_id_claim_key(&message_id);
    if services
        .store
        .idempotency_record(&claim_key)
        .await?
        .is_some()
    {
        return Ok(SendOutcome::AlreadySent { message_id });
    }
    let recipients: Vec<String> = mail.to.iter().map(ToString::to_string).collect();
    let subject = outbound::subject_with_key(&mail.subject, &mail.ticket);

    let mut reason = suppress_reason;
    if reason.is_none() && mail.automatic {
        for recipient in &mail.to {
            if let Some(why) = over_limit(services, &mail.ticket, recipient, now).await? {
                reason = Some(why);
                break;
            }
        }
    }
    if let Some(reason) = reason {
        let claim = IdempotencyClaim {
            key: format!("suppressed:{message_id}"),
            payload_hash: "suppressed".into(),
            expires_at: now + chrono::Duration::days(30),
        };
        let event = TimelineEvent::EmailSuppressed {
            to: recipients,
            subject,
            reason: reason.clone(),
        };
        record(
            services,
            &mail.ticket,
            now,
            claim,
            event,
            (&mail.actor, mail.trigger_depth),
        )
        .await?;
        tracing::info!(ticket = %mail.ticket, %reason, "automatic mail suppressed");
        return Ok(SendOutcome::Suppressed { reason });
    }

    let ticket = services
        .store
        .get_ticket(&mail.ticket)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {}", mail.ticket)))?;
    let queue = services
        .config
        .queues
        .get(&ticket.queue)
        .ok_or_else(|| SendError::Build(format!("queue {} is not configured", ticket.queue)))?;
    let from_address = queue.addresses.first().ok_or_else(|| {
        SendError::Build(format!(
            "queue {} has no address to send from",
            ticket.queue
        ))
    })?;
    let reply_to = services
        .secrets
        .secret(&settings.reply_token_secret_env)
        .map(|secret| {
            Address::new(token::plus_address(
                from_address,
                &token::reply_token(secret.as_bytes(), &mail.ticket),
            ))
        });
    let outbound = OutboundMail {
        from: Address {
            name: settings.from_name.clone(),
            email: from_address.to_string(),
        },
        to: mail.to.iter().map(Address::from).collect(),
        cc: Vec::new(),
        reply_to,
        subject: subject.clone(),
        text: mail.text,
        html: None,
        message_id: message_id.clone(),
        in_reply_to: mail.in_reply_to,
        references: mail.references,
        ticket: Some(mail.ticket.clone()),
        automatic: mail.automatic,
        loop_header: (LOOP_HEADER.to_owned(), settings.instance.clone()),
        attachments: Vec::new(),
        date: now,
    };
    if !send_once(services, &outbound, &recipients, now).await? {
        return Ok(SendOutcome::AlreadySent { message_id });
    }
    let event = TimelineEvent::EmailOut {
        message_id: message_id.clone(),
        to: recipients,
        subject,
        automatic: mail.automatic,
    };
    record(
        services,
        &mail.ticket,
        now,
        message_id_claim(&message_id, now),
        event,
        (&mail.actor, mail.trigger_depth),
    )
    .await?;
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
    let message_id = format!(
        "{}.{}@{}",
        mail.queue.as_str().to_lowercase(),
        &hex::encode(sha2::Sha256::digest(
            format!("answer:{}", mail.in_reply_to).as_bytes()
        ))[..16],
        settings.message_id_domain
    );
    let limit = settings.rate_limits.per_recipient;
    let (index, ends) = window_start(now, &limit);
    let count = services
        .store
        .increment_counter(&format!("rate:recipient:{}:{index}", mail.to), ends)
        .await?;
    if count > limit.count {
        return Ok(SendOutcome::Suppressed {
            reason: format!(
                "rate limit: more than {} automatic mails to {} within {}",
                limit.count,
                mail.to,
                humantime::format_duration(limit.window.0)
            ),
        });
    }
    let queue = services
        .config
        .queues
        .get(&mail.queue)
        .ok_or_else(|| SendError::Build(format!("queue {} is not configured", mail.queue)))?;
    let from_address = queue.addresses.first().ok_or_else(|| {
        SendError::Build(format!("queue {} has no address to send from", mail.queue))
    })?;
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
