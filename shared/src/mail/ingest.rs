//! The inbound mail pipeline behind every entry point (SES, S3, the
//! mailgate, `POST /mail`): keep the raw message, parse it, find the queue,
//! drop duplicates, tell automatic mail from people, thread replies, create
//! tickets, and acknowledge, all idempotently.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::app::Services;
use crate::blobs::safe_file_name;
use crate::config::{ClosedPolicy, Queue, StatusCategory, StrangerPolicy, VerdictAction};
use crate::domain::{Actor, Channel, EmailAddress, QueueKey, Ticket, TicketKey, TimelineEvent};
use crate::store::{IdempotencyClaim, StoreError, Written};
use crate::tickets::{self, TicketDraft};

use super::auto::{self, OurIdentity};
use super::parse::{self, MailLimits, ParsedMail};
use super::send::{self, LOOP_HEADER, SendOutcome, TicketMail};
use super::threading::{self, ThreadMatch};
use super::transport::TransportError;

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
        /// `rejected`, `held`, `quarantined`, `dropped`.
        outcome: String,
        /// Why.
        reason: String,
    },
}

/// Why a message could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Retrying later may succeed (store or S3 unavailable).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The data can never be accepted; the raw message is kept at `raw_key`.
    #[error("cannot accept this message: {reason} (raw message kept at {raw_key})")]
    Unacceptable {
        /// Why.
        reason: String,
        /// Where the raw message is.
        raw_key: String,
    },
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        Self::Temporary(e.to_string())
    }
}

impl From<send::SendError> for IngestError {
    fn from(e: send::SendError) -> Self {
        Self::Temporary(e.to_string())
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

/// Records a message that did not become part of a ticket.
async fn not_accepted(
    services: &Services,
    id: &str,
    outcome: &str,
    reason: String,
    raw_key: &str,
    now: DateTime<Utc>,
) -> Result<Ingested, IngestError> {
    let record =
        serde_json::json!({ "outcome": outcome, "reason": reason, "raw_key": raw_key, "at": now })
            .to_string();
    services
        .store
        .put_marker(
            &format!("mail:{id}"),
            &record,
            Some(now + chrono::Duration::days(90)),
        )
        .await?;
    tracing::info!(message_id = %id, outcome, %reason, "mail not accepted");
    Ok(Ingested::NotAccepted {
        outcome: outcome.to_owned(),
        reason,
    })
}

fn sender_allowed(queue: &Queue, sender: &EmailAddress) -> bool {
    let patterns = &queue.mail.allowed_senders;
    patterns.is_empty()
        || patterns.iter().any(|p| {
            p == "*"
                || p.strip_prefix("*@").map_or_else(
                    || p.eq_ignore_ascii_case(sender.as_str()),
                    |domain| sender.domain().eq_ignore_ascii_case(domain),
                )
        })
}

fn ours(queue: &Queue, address: &EmailAddress) -> bool {
    let base = threading::base_address(address);
    queue.addresses.contains(&base) || queue.forwarding_addresses.contains(&base)
}

/// Takes one raw message (see the module docs).
pub async fn ingest(
    services: &Services,
    raw: Bytes,
    envelope: Envelope,
) -> Result<Ingested, IngestError> {
    let now = tickets::store_precision(services.clock.now());
    let raw_key = match &envelope.raw_key {
        Some(key) => key.clone(),
        None => {
            let key = raw_key_for(&raw);
            services
                .blobs
                .put(&key, "message/rfc822", raw.clone())
                .await
                .map_err(|e| IngestError::Temporary(e.to_string()))?;
            key
        }
    };
    let limits = MailLimits {
        max_attachment_bytes: services.config.desk.mail.max_attachment_bytes,
        ..MailLimits::default()
    };
    let mail = match parse::parse(&raw, &limits) {
        Ok(mail) => mail,
        Err(e) => {
            let reason = format!("not a mail message: {e}");
            let id = raw_key
                .trim_start_matches("raw/")
                .trim_end_matches(".eml")
                .to_owned();
            not_accepted(services, &id, "rejected", reason.clone(), &raw_key, now).await?;
            return Err(IngestError::Unacceptable { reason, raw_key });
        }
    };
    let id = mail.message_id.clone();

    if let Some(record) = services
        .store
        .idempotency_record(&threading::message_id_claim_key(&id))
        .await?
    {
        if record.payload_hash == NEW_TICKET_HASH {
            resume_acknowledgement(services, &mail, &envelope, &record.ticket).await?;
        }
        return Ok(Ingested::Duplicate {
            ticket: record.ticket,
        });
    }
    if services
        .store
        .get_marker(&format!("mail:{id}"))
        .await?
        .is_some()
    {
        return Ok(Ingested::NotAccepted {
            outcome: "duplicate".into(),
            reason: "this message was recorded before".into(),
        });
    }

    let recipients = threading::recipients(&mail, &envelope.recipients);
    let (queue_key, queue) = match threading::queue_for(&services.config, &recipients) {
        Some((key, queue, _)) => (key.clone(), queue),
        None => match envelope
            .queue
            .as_ref()
            .and_then(|k| services.config.queues.get_key_value(k))
        {
            Some((key, queue)) => (key.clone(), queue),
            None => {
                let reason = format!(
                    "no queue has any of the recipients {}",
                    recipients.join(", ")
                );
                return not_accepted(services, &id, "rejected", reason, &raw_key, now).await;
            }
        },
    };

    let verdicts = services.config.desk.mail.verdicts;
    let mut tags = Vec::new();
    for (failed, action, what) in [
        (envelope.virus, verdicts.virus, "virus"),
        (envelope.spam, verdicts.spam, "spam"),
    ] {
        if !failed {
            continue;
        }
        match action {
            VerdictAction::Drop => {
                return not_accepted(
                    services,
                    &id,
                    "dropped",
                    format!("SES {what} verdict FAIL"),
                    &raw_key,
                    now,
                )
                .await;
            }
            VerdictAction::Quarantine => {
                return not_accepted(
                    services,
                    &id,
                    "quarantined",
                    format!("SES {what} verdict FAIL"),
                    &raw_key,
                    now,
                )
                .await;
            }
            VerdictAction::Tag => tags.push(what.to_owned()),
        }
    }

    let automatic: Vec<String> = auto::classify(&mail, &our_identity(services))
        .iter()
        .map(|r| r.describe())
        .collect();
    let out_of_office = auto::is_out_of_office(&mail);

    if let Some(report) = &mail.report {
        return bounce(
            services,
            &mail,
            report.original_message_id.as_deref(),
            &raw_key,
            automatic,
            now,
        )
        .await;
    }

    let sender = mail
        .from
        .as_ref()
        .or(mail.sender.as_ref())
        .and_then(|m| EmailAddress::parse(&m.email).ok());
    let Some(sender) = sender else {
        return not_accepted(
            services,
            &id,
            "rejected",
            "the message has no usable From address".into(),
            &raw_key,
            now,
        )
        .await;
    };
    if ours(queue, &sender) {
        return not_accepted(
            services,
            &id,
            "rejected",
            format!("the sender {sender} is one of our own addresses (loop)"),
            &raw_key,
            now,
        )
        .await;
    }

    let secret = services
        .secrets
        .secret(&services.config.desk.mail.reply_token_secret_env);
    let thread = threading::find_thread(
        services.store.as_ref(),
        &mail,
        &queue_key,
        &recipients,
        secret.as_deref().map(str::as_bytes),
    )
    .await?;
    if let Some(thread) = thread {
        let ticket = services
            .store
            .get_ticket(thread.ticket())
            .await?
            .ok_or_else(|| {
                IngestError::Temporary(format!("ticket {} vanished", thread.ticket()))
            })?;
        let stranger = !threading::is_on_ticket(&ticket, &sender);
        let policy = queue.mail.subject_key_from_stranger;
        let take_as_reply = match (&thread, stranger, policy) {
            (ThreadMatch::Subject(_), true, StrangerPolicy::Hold) => {
                let reason = format!(
                    "{sender} is not on {} but wrote with its key in the subject; held for review",
                    ticket.key
                );
                return not_accepted(services, &id, "held", reason, &raw_key, now).await;
            }
            (ThreadMatch::Subject(_), true, StrangerPolicy::NewTicket) => false,
            _ => true,
        };
        if take_as_reply {
            let closed_policy = closed_policy_applies(queue, &ticket, services, now);
            if closed_policy != Some(ClosedPolicy::NewLinked)
                || !automatic.is_empty()
                || out_of_office
            {
                return reply(
                    services,
                    queue,
                    &mail,
                    ticket,
                    &thread,
                    &sender,
                    &raw_key,
                    &automatic,
                    out_of_office,
                    now,
                )
                .await;
            }
            // A person writing to a closed ticket: a new ticket, linked.
            return new_ticket(
                services,
                &queue_key,
                queue,
                &mail,
                &sender,
                &raw_key,
                automatic,
                tags,
                Some(ticket.key.clone()),
                now,
            )
            .await;
        }
    }

    if !sender_allowed(queue, &sender) {
        let mut reason = format!("{sender} is not allowed to write to queue {queue_key}");
        reason.push_str(
            &answer_refused(services, &queue_key, queue, &mail, &sender, &automatic).await?,
        );
        return not_accepted(services, &id, "rejected", reason, &raw_key, now).await;
    }
    new_ticket(
        services, &queue_key, queue, &mail, &sender, &raw_key, automatic, tags, None, now,
    )
    .await
}

/// Sends the queue's answer to a refused sender, if it has one and the mail
/// was written by a person; says what happened, for the mail log.
async fn answer_refused(
    services: &Services,
    queue_key: &QueueKey,
    queue: &Queue,
    mail: &ParsedMail,
    sender: &EmailAddress,
    automatic: &[String],
) -> Result<String, IngestError> {
    let Some(template) = &queue.mail.rejection else {
        return Ok("; not answered (the queue answers refused senders with silence)".into());
    };
    if !automatic.is_empty() {
        return Ok(format!(
            "; not answered: automatic mail ({})",
            automatic.join("; ")
        ));
    }
    let context = serde_json::json!({
        "sender": { "email": sender, "name": mail.from.as_ref().and_then(|m| m.name.clone()) },
        "subject": mail.subject,
        "desk": { "name": services.config.desk.name.clone().unwrap_or_else(|| "Support".into()) },
    });
    let env = minijinja::Environment::new();
    let render = |text: &str| {
        env.render_str(text, &context)
            .map_err(|e| IngestError::Temporary(format!("rejection template: {e}")))
    };
    let outcome = send::send_loose_mail(
        services,
        send::LooseMail {
            queue: queue_key.clone(),
            to: sender.clone(),
            subject: render(&template.subject)?,
            text: render(&template.body)?,
            in_reply_to: mail.message_id.clone(),
        },
    )
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(
            send::SendError::Transport(TransportError::Permanent(reason))
            | send::SendError::Build(reason),
        ) => {
            return Ok(format!("; the answer could not be sent: {reason}"));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match outcome {
        SendOutcome::Sent { message_id } | SendOutcome::AlreadySent { message_id } => {
            format!("; answered with the queue's rejection ({message_id})")
        }
        SendOutcome::Suppressed { reason } => format!("; answer suppressed: {reason}"),
    })
}

/// Whether the ticket is resolved or closed and which policy applies.
fn closed_policy_applies(
    queue: &Queue,
    ticket: &Ticket,
    _services: &Services,
    now: DateTime<Utc>,
) -> Option<ClosedPolicy> {
    let category = queue
        .statuses
        .iter()
        .find(|s| s.name == ticket.status)
        .map(|s| s.category)?;
    if !matches!(category, StatusCategory::Resolved | StatusCategory::Closed) {
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

fn reopen_status(queue: &Queue) -> Option<String> {
    queue
        .mail
        .reopen_status
        .as_ref()
        .map(|s| s.value.clone())
        .or_else(|| {
            queue
                .statuses
                .iter()
                .find(|s| s.category == StatusCategory::Open)
                .map(|s| s.name.clone())
        })
}

fn email_in(
    mail: &ParsedMail,
    sender: &EmailAddress,
    raw_key: &str,
    automatic: &[String],
) -> TimelineEvent {
    TimelineEvent::EmailIn {
        message_id: mail.message_id.clone(),
        from: sender.to_string(),
        subject: mail.subject.clone(),
        raw_key: Some(raw_key.to_owned()),
        text: Some(mail.text.clone()),
        html: mail.html.clone(),
        skipped: mail.skipped.clone(),
        automatic: automatic.to_vec(),
    }
}

/// New participants from the mail's sender and Cc, minus our own and
/// forwarding addresses and the requester.
fn new_participants(
    queue: &Queue,
    ticket: &Ticket,
    mail: &ParsedMail,
    sender: &EmailAddress,
) -> Vec<EmailAddress> {
    let mut added = Vec::new();
    let candidates = std::iter::once(sender.clone()).chain(
        mail.cc
            .iter()
            .filter_map(|m| EmailAddress::parse(&m.email).ok()),
    );
    for address in candidates {
        if !ours(queue, &address)
            && !threading::is_on_ticket(ticket, &address)
            && !added.contains(&address)
        {
            added.push(address);
        }
    }
    added
}

#[allow(clippy::too_many_arguments)]
async fn reply(
    services: &Services,
    queue: &Queue,
    mail: &ParsedMail,
    ticket: Ticket,
    thread: &ThreadMatch,
    sender: &EmailAddress,
    raw_key: &str,
    automatic: &[String],
    out_of_office: bool,
    now: DateTime<Utc>,
) -> Result<Ingested, IngestError> {
    let claim = send::message_id_claim(&mail.message_id, now);
    let may_reopen = automatic.is_empty() && !out_of_office;
    let reopen_to = reopen_status(queue);
    let actor = Actor::Customer {
        email: sender.clone(),
    };
    let mut reopened = false;
    let (stored, written) = tickets::apply(
        services.store.as_ref(),
        thread.ticket(),
        &actor,
        now,
        &[claim],
        |current| {
            let before = current.clone();
            current
                .participants
                .extend(new_participants(queue, &before, mail, sender));
            reopened = false;
            if may_reopen
                && closed_policy_applies(queue, &before, services, now)
                    == Some(ClosedPolicy::Reopen)
                && let Some(status) = &reopen_to
            {
                current.status = status.clone();
                current.reopen_count += 1;
                current.resolution = None;
                reopened = true;
            }
            let mut events = vec![email_in(mail, sender, raw_key, automatic)];
            if automatic.is_empty() {
                events.push(TimelineEvent::Comment {
                    public: true,
                    body: mail.reply_text.clone(),
                });
            } else {
                events.push(TimelineEvent::Comment {
                    public: false,
                    body: format!(
                        "Automatic mail ({}); not answered, does not reopen.\n\n{}",
                        automatic.join("; "),
                        mail.reply_text
                    ),
                });
            }
            events.extend(tickets::field_changes(&before, current));
            events
        },
    )
    .await?;
    if let Written::Replayed(ticket) = written {
        return Ok(Ingested::Duplicate { ticket });
    }
    store_attachments_note(services, &stored.key, mail, &actor, now).await?;
    let _ = ticket;
    tracing::info!(ticket = %stored.key, how = thread.how(), reopened, "reply recorded");
    Ok(Ingested::Reply {
        ticket: stored.key,
        how: thread.how().to_owned(),
        reopened,
    })
}

/// Stores a reply's attachments and records them (a second write after the
/// reply itself; guarded so a redelivery does not repeat it).
async fn store_attachments_note(
    services: &Services,
    key: &TicketKey,
    mail: &ParsedMail,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), IngestError> {
    if mail.attachments.is_empty() {
        return Ok(());
    }
    let events = store_attachments(services, key, mail).await?;
    let claim = crate::store::IdempotencyClaim {
        key: format!("attachments:{}", mail.message_id),
        payload_hash: "attachments".into(),
        expires_at: now + chrono::Duration::days(30),
    };
    tickets::apply(services.store.as_ref(), key, actor, now, &[claim], |_| {
        events.clone()
    })
    .await?;
    Ok(())
}

async fn store_attachments(
    services: &Services,
    key: &TicketKey,
    mail: &ParsedMail,
) -> Result<Vec<TimelineEvent>, IngestError> {
    let digest = hex::encode(&Sha256::digest(mail.message_id.as_bytes())[..6]);
    let mut events = Vec::new();
    for (index, file) in mail.attachments.iter().enumerate() {
        let blob_key = format!(
            "attachments/{key}/mail-{digest}-{}-{}",
            index + 1,
            safe_file_name(&file.file_name)
        );
        services
            .blobs
            .put(&blob_key, &file.content_type, file.bytes.clone())
            .await
            .map_err(|e| IngestError::Temporary(e.to_string()))?;
        events.push(TimelineEvent::AttachmentAdded {
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
            size: file.bytes.len() as u64,
            blob_key,
        });
    }
    Ok(events)
}

#[allow(clippy::too_many_arguments)]
async fn new_ticket(
    services: &Services,
    queue_key: &QueueKey,
    queue: &Queue,
    mail: &ParsedMail,
    sender: &EmailAddress,
    raw_key: &str,
    automatic: Vec<String>,
    tags: Vec<String>,
    follow_up_of: Option<TicketKey>,
    now: DateTime<Utc>,
) -> Result<Ingested, IngestError> {
    let name = mail
        .from
        .as_ref()
        .and_then(|m| m.name.clone())
        .filter(|n| !n.trim().is_empty());
    let contact =
        tickets::resolve_contact(services.store.as_ref(), sender, name.as_deref(), now).await?;
    let key = services.store.allocate_ticket_key(queue_key).await?;
    // Mail that SES flagged is accepted with a tag but never answered
    // automatically (answers to spam are backscatter).
    let mut no_answer = automatic.clone();
    if !tags.is_empty() {
        no_answer.push(format!("SES verdict: {}", tags.join(", ")));
    }
    let summary = match mail.subject.trim() {
        "" => "(no subject)".to_owned(),
        subject => outbound_subject_clean(subject),
    };
    let draft = TicketDraft {
        queue: queue_key.clone(),
        summary,
        description: mail.reply_text.clone(),
        priority: None,
        line: None,
        components: Vec::new(),
        tags,
        assignee: None,
        requester_email: Some(sender.clone()),
        requester_name: name,
        channel: Channel::Email,
        custom_fields: Default::default(),
    };
    let mut ticket = tickets::build_ticket(&services.config, key, draft, Some(contact.id), now)
        .map_err(|e| IngestError::Temporary(e.to_string()))?;
    let placeholder = ticket.clone();
    ticket.participants = new_participants(queue, &placeholder, mail, sender);
    let mut events = vec![email_in(mail, sender, raw_key, &automatic)];
    events.extend(store_attachments(services, &ticket.key, mail).await?);
    if let Some(previous) = &follow_up_of {
        events.push(TimelineEvent::Linked {
            other: previous.clone(),
            relation: "follow_up_of".into(),
        });
    }
    let entries = tickets::first_entries(
        &ticket,
        &Actor::Customer {
            email: sender.clone(),
        },
        events,
    );
    let claim = IdempotencyClaim {
        payload_hash: NEW_TICKET_HASH.into(),
        ..send::message_id_claim(&mail.message_id, now)
    };
    let (key, replayed) =
        tickets::store_ticket(services.store.as_ref(), &ticket, &entries, &[claim]).await?;
    if replayed {
        return Ok(Ingested::Duplicate { ticket: key });
    }
    tracing::info!(ticket = %key, from = %sender, "ticket created from mail");
    if let Some(previous) = &follow_up_of {
        let claim = crate::store::IdempotencyClaim {
            key: format!("link:{previous}:{key}"),
            payload_hash: "link".into(),
            expires_at: now + chrono::Duration::days(30),
        };
        let event = TimelineEvent::Linked {
            other: key.clone(),
            relation: "followed_up_by".into(),
        };
        tickets::apply(
            services.store.as_ref(),
            previous,
            &Actor::System,
            now,
            &[claim],
            |_| vec![event.clone()],
        )
        .await?;
    }

    let acknowledgement = if queue.mail.acknowledge {
        Some(acknowledge(services, queue, &ticket, mail, sender, &no_answer).await?)
    } else {
        None
    };
    Ok(Ingested::NewTicket {
        ticket: key,
        acknowledgement,
    })
}

/// Drops leading `Re:`/`Fwd:` noise from a subject used as a summary.
fn outbound_subject_clean(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        let Some(rest) = ["re:", "fw:", "fwd:", "aw:", "wg:", "ответ:", "на:"]
            .iter()
            .find_map(|p| lower.starts_with(p).then(|| &s[p.len()..]))
        else {
            break;
        };
        s = rest.trim_start();
    }
    let cleaned: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        subject.trim().to_owned()
    } else {
        cleaned
    }
}

async fn acknowledge(
    services: &Services,
    queue: &Queue,
    ticket: &Ticket,
    mail: &ParsedMail,
    sender: &EmailAddress,
    automatic: &[String],
) -> Result<SendOutcome, IngestError> {
    let Some(template) = &queue.mail.acknowledgement else {
        return Ok(SendOutcome::Suppressed {
            reason: "no acknowledgement template".into(),
        });
    };
    let context = serde_json::json!({
        "ticket": { "key": ticket.key, "summary": ticket.summary, "status": ticket.status, "priority": ticket.priority },
        "requester": { "name": ticket.requester.name, "email": ticket.requester.email },
        "desk": { "name": services.config.desk.name.clone().unwrap_or_else(|| "Support".into()) },
    });
    let env = minijinja::Environment::new();
    let render = |text: &str| {
        env.render_str(text, &context)
            .map_err(|e| IngestError::Temporary(format!("acknowledgement template: {e}")))
    };
    let suppress = (!automatic.is_empty()).then(|| {
        format!(
            "no automatic answer to automatic mail: {}",
            automatic.join("; ")
        )
    });
    let outcome = send::send_ticket_mail(
        services,
        TicketMail {
            ticket: ticket.key.clone(),
            to: vec![sender.clone()],
            subject: render(&template.subject)?,
            text: render(&template.body)?,
            purpose: format!("ack:{}", mail.message_id),
            in_reply_to: Some(mail.message_id.clone()),
            references: mail
                .references
                .iter()
                .cloned()
                .chain(std::iter::once(mail.message_id.clone()))
                .collect(),
            automatic: true,
            actor: crate::domain::Actor::System,
            trigger_depth: 0,
        },
        suppress,
    )
    .await;
    match outcome {
        Ok(outcome) => Ok(outcome),
        Err(
            send::SendError::Transport(TransportError::Permanent(reason))
            | send::SendError::Build(reason),
        ) => {
            // Retrying cannot help: record why on the ticket, visibly.
            let reason = format!("the acknowledgement could not be sent: {reason}");
            let recorded = send::send_ticket_mail(
                services,
                TicketMail {
                    ticket: ticket.key.clone(),
                    to: vec![sender.clone()],
                    subject: ticket.summary.clone(),
                    text: String::new(),
                    purpose: format!("ack:{}", mail.message_id),
                    in_reply_to: None,
                    references: Vec::new(),
                    automatic: true,
                    actor: crate::domain::Actor::System,
                    trigger_depth: 0,
                },
                Some(reason),
            )
            .await?;
            Ok(recorded)
        }
        Err(e) => Err(e.into()),
    }
}

/// The claim hash of a message that created its ticket; a redelivery of
/// such a message finishes what the first delivery may not have (the
/// acknowledgement).
const NEW_TICKET_HASH: &str = "message-id:new-ticket";

/// A redelivered message that created a ticket: sends the acknowledgement
/// if the first delivery failed before sending it (sending is idempotent:
/// an acknowledgement sent or suppressed before is not sent again).
async fn resume_acknowledgement(
    services: &Services,
    mail: &ParsedMail,
    envelope: &Envelope,
    key: &TicketKey,
) -> Result<(), IngestError> {
    let Some(ticket) = services.store.get_ticket(key).await? else {
        return Ok(());
    };
    let Some(queue) = services.config.queues.get(&ticket.queue) else {
        return Ok(());
    };
    let Some(requester) = ticket.requester.email.clone() else {
        return Ok(());
    };
    if !queue.mail.acknowledge {
        return Ok(());
    }
    let mut no_answer: Vec<String> = auto::classify(mail, &our_identity(services))
        .iter()
        .map(|r| r.describe())
        .collect();
    if envelope.spam
        || envelope.virus
        || !ticket.tags.is_empty() && ticket.tags.iter().any(|t| t == "spam" || t == "virus")
    {
        no_answer.push("SES verdict".into());
    }
    acknowledge(services, queue, &ticket, mail, &requester, &no_answer).await?;
    Ok(())
}

async fn bounce(
    services: &Services,
    mail: &ParsedMail,
    original: Option<&str>,
    raw_key: &str,
    automatic: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Ingested, IngestError> {
    let ticket = match original {
        Some(id) => services
            .store
            .idempotency_record(&threading::message_id_claim_key(id))
            .await?
            .map(|r| r.ticket),
        None => None,
    };
    let Some(ticket) = ticket else {
        let reason = format!(
            "delivery report about a message we do not know ({})",
            original.unwrap_or("no original Message-ID")
        );
        not_accepted(services, &mail.message_id, "bounce", reason, raw_key, now).await?;
        return Ok(Ingested::Bounce { ticket: None });
    };
    let report = mail.report.clone().unwrap_or_default();
    let note = format!(
        "Delivery problem: {} for {} (status {}). The ticket was not reopened.",
        report.action.as_deref().unwrap_or("failed"),
        if report.recipients.is_empty() {
            "unknown recipients".to_owned()
        } else {
            report.recipients.join(", ")
        },
        report.status.as_deref().unwrap_or("unknown")
    );
    let sender = mail
        .from
        .as_ref()
        .and_then(|m| EmailAddress::parse(&m.email).ok());
    let from = sender
        .as_ref()
        .map_or_else(|| "mailer-daemon".to_owned(), ToString::to_string);
    let event_in = TimelineEvent::EmailIn {
        message_id: mail.message_id.clone(),
        from,
        subject: mail.subject.clone(),
        raw_key: Some(raw_key.to_owned()),
        text: Some(mail.text.clone()),
        html: mail.html.clone(),
        skipped: mail.skipped.clone(),
        automatic,
    };
    let claim = send::message_id_claim(&mail.message_id, now);
    let (_, written) = tickets::apply(
        services.store.as_ref(),
        &ticket,
        &Actor::System,
        now,
        &[claim],
        |_| {
            vec![
                event_in.clone(),
                TimelineEvent::Comment {
                    public: false,
                    body: note.clone(),
                },
            ]
        },
    )
    .await?;
    if let Written::Replayed(ticket) = written {
        return Ok(Ingested::Duplicate { ticket });
    }
    Ok(Ingested::Bounce {
        ticket: Some(ticket),
    })
}
