//! What a message writes on an existing ticket (a reply, a delivery
//! report), and the mail log of messages not accepted.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{ClosedPolicy, Queue, StatusCategory};
use crate::domain::bounds;
use crate::domain::{Actor, EmailAddress, MailLogEntry, Ticket, TicketKey, TimelineEvent};
use crate::keys;
use crate::services::Services;
use crate::store::{ClaimPurpose, IdempotencyClaim, MailClaim, Step, Written};
use crate::tickets::{self, Attachments, NewFile};

use super::screen::ours;
use super::{Inbound, IngestError, Ingested, Letter, Refusal, closed_policy_applies};
use crate::mail::parse::ParsedMail;
use crate::mail::threading::{self, ThreadMatch};

impl Inbound<'_> {
    /// Logs a message that did not become part of a ticket, and answers so.
    pub(super) async fn not_accepted(
        &self,
        outcome: Refusal,
        reason: String,
    ) -> Result<Ingested, IngestError> {
        let mail = self.mail;
        let from = mail
            .from
            .as_ref()
            .or(mail.sender.as_ref())
            .map(|mailbox| bounds::excerpt(&mailbox.email, bounds::NOTE_INLINE).to_owned());
        log_not_accepted(
            self.services,
            MailLogEntry {
                id: self.known_as.clone(),
                outcome,
                reason: reason.clone(),
                raw_key: self.raw_key.to_owned(),
                at: self.now,
                digest: mail.content_digest.clone(),
                from,
                subject: Some(bounds::excerpt(&mail.subject, bounds::NOTE_INLINE).to_owned()),
                recipients: self
                    .envelope
                    .recipients
                    .iter()
                    .take(50)
                    .map(|r| bounds::excerpt(r, bounds::NOTE_INLINE).to_owned())
                    .collect(),
                queue: self.envelope.queue.clone(),
                released: None,
            },
        )
        .await?;
        Ok(Ingested::NotAccepted { outcome, reason })
    }
}

/// The most bytes of a mail log entry's reason.
const REASON_MAX: usize = 4 * 1024;

/// Writes the mail log entry of a message not accepted (kept 90 days on
/// DynamoDB), where `helpdesk mail log` shows it.
pub(super) async fn log_not_accepted(
    services: &Services,
    mut entry: MailLogEntry,
) -> Result<(), IngestError> {
    // A reason may quote what the message says (its recipients, a header).
    bounds::cut(&mut entry.reason, REASON_MAX);
    services.store.log_mail(&entry).await?;
    tracing::info!(
        message_id = %entry.id,
        outcome = entry.outcome.as_str(),
        reason = %entry.reason,
        "mail not accepted"
    );
    Ok(())
}

/// Records a reply on its ticket: the mail, its text as a public comment
/// (an internal note for automatic mail), new participants, a reopening
/// when the queue reopens on replies; then its attachments.
pub(super) async fn reply(
    letter: &Letter<'_>,
    ticket: &Ticket,
    how: &ThreadMatch,
) -> Result<Ingested, IngestError> {
    let inbound = letter.inbound;
    let claim = inbound.claim(MailClaim::Recorded);
    let actor = Actor::Customer {
        email: letter.sender.clone(),
    };
    let recorded = tickets::fit::fit_events(
        inbound.services.blobs.as_ref(),
        &ticket.key,
        std::iter::once(email_in(letter, &letter.screening.automatic))
            .chain(inbound_notes(inbound))
            .chain(std::iter::once(reply_comment(
                inbound.mail,
                &letter.screening.automatic,
            )))
            .collect(),
    )
    .await?;
    let mut reopened = false;
    let (stored, written) = tickets::apply(
        inbound.services.store.as_ref(),
        &inbound.services.config,
        &ticket.key,
        &actor,
        inbound.now,
        &[claim],
        |current| {
            let before = current.clone();
            let participants = new_participants(
                letter.queue,
                |address| threading::is_on_ticket(&before, address),
                inbound.mail,
                &letter.sender,
            );
            let left_out = join_participants(&mut current.participants, participants);
            reopened =
                letter.screening.from_a_person() && reopen(letter.queue, current, inbound.now);
            let mut events = recorded.clone();
            if let Some(mail) = events.first_mut() {
                note_participants_left_out(mail, left_out);
            }
            events.extend(tickets::field_changes(&before, current));
            events
        },
    )
    .await?;
    if let Written::Replayed(ticket) = written {
        return Ok(Ingested::Duplicate { ticket });
    }
    record_attachments(inbound, &stored.key, &actor).await?;
    tracing::info!(ticket = %stored.key, how = how.how(), reopened, "reply recorded");
    Ok(Ingested::Reply {
        ticket: stored.key,
        how: how.how().to_owned(),
        reopened,
    })
}

/// Reopens a resolved or closed ticket whose queue reopens on replies;
/// answers whether it did.
fn reopen(queue: &Queue, ticket: &mut Ticket, now: DateTime<Utc>) -> bool {
    if closed_policy_applies(queue, ticket, now) != Some(ClosedPolicy::Reopen) {
        return false;
    }
    let Some(status) = reopen_status(queue) else {
        return false;
    };
    ticket.status = status;
    ticket.reopen_count += 1;
    ticket.resolution = None;
    true
}

/// The status a reopened ticket gets: the queue's `reopen_status`, else
/// its first open status.
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

/// The internal notes on how a message came in: it reuses an earlier,
/// different message's Message-ID; an agent released it from the mail log.
pub(super) fn inbound_notes(inbound: &Inbound<'_>) -> Vec<TimelineEvent> {
    let reused = inbound.reuses.as_ref().map(|reused| {
        let earlier = reused.ticket.as_ref().map_or_else(
            || "a message not accepted".to_owned(),
            |key| format!("a message on {key}"),
        );
        format!(
            "This message reuses the Message-ID <{}> of {earlier} with other content; it is recorded as a message of its own.",
            inbound.mail.message_id
        )
    });
    let released = inbound.released.as_ref().map(|released| {
        format!(
            "Released from the mail log by {}; it was held: {}",
            released.login, released.held_because
        )
    });
    reused
        .into_iter()
        .chain(released)
        .map(|body| TimelineEvent::Comment {
            public: false,
            body,
            body_blob: None,
        })
        .collect()
}

/// A reply's text: a public comment from a person, an internal note for
/// automatic mail.
fn reply_comment(mail: &ParsedMail, automatic: &[String]) -> TimelineEvent {
    if automatic.is_empty() {
        return TimelineEvent::Comment {
            public: true,
            body: mail.reply_text.clone(),
            body_blob: None,
        };
    }
    TimelineEvent::Comment {
        public: false,
        body: format!(
            "Automatic mail ({}); not answered, does not reopen.\n\n{}",
            automatic.join("; "),
            mail.reply_text
        ),
        body_blob: None,
    }
}

/// The mail as received, for the timeline.
pub(super) fn email_in(letter: &Letter<'_>, automatic: &[String]) -> TimelineEvent {
    let mail = letter.inbound.mail;
    TimelineEvent::EmailIn {
        message_id: mail.message_id.clone(),
        from: letter.sender.to_string(),
        subject: mail.subject.clone(),
        subject_blob: None,
        raw_key: Some(letter.inbound.raw_key.to_owned()),
        text: Some(mail.text.clone()),
        text_blob: None,
        html: mail.html.clone(),
        html_blob: None,
        skipped: mail.skipped.clone(),
        skipped_unlisted: mail.skipped_unlisted as u64,
        participants_left_out: 0,
        automatic: automatic.to_vec(),
        authentication: letter.inbound.authentication,
    }
}

/// New participants from the mail's sender and Cc, minus our own and
/// forwarding addresses and whoever is on the ticket already.
pub(super) fn new_participants(
    queue: &Queue,
    on_ticket: impl Fn(&EmailAddress) -> bool,
    mail: &ParsedMail,
    sender: &EmailAddress,
) -> Vec<EmailAddress> {
    let mut added = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let candidates = std::iter::once(sender.clone()).chain(
        mail.cc
            .iter()
            .filter_map(|m| EmailAddress::parse(&m.email).ok()),
    );
    for address in candidates {
        if !ours(queue, &address) && !on_ticket(&address) && seen.insert(address.clone()) {
            added.push(address);
        }
    }
    added
}

/// Adds `new` to `participants` up to [`bounds::PARTICIPANTS_MAX`] in all;
/// answers how many did not fit.
pub(super) fn join_participants(
    participants: &mut Vec<EmailAddress>,
    new: Vec<EmailAddress>,
) -> u64 {
    let room = bounds::PARTICIPANTS_MAX.saturating_sub(participants.len());
    let left_out = new.len().saturating_sub(room);
    participants.extend(new.into_iter().take(room));
    left_out as u64
}

/// Records on a mail's entry how many of its addresses did not become
/// participants.
pub(super) fn note_participants_left_out(event: &mut TimelineEvent, count: u64) {
    if let TimelineEvent::EmailIn {
        participants_left_out,
        ..
    } = event
    {
        *participants_left_out = count;
    }
}

/// A mail's attachments as files of its ticket, named apart from other
/// mails' files by a digest of what the message is known as.
pub(super) fn attachments_of(inbound: &Inbound<'_>) -> Attachments {
    let mail = inbound.mail;
    let digest = hex::encode(&Sha256::digest(inbound.known_as.as_bytes())[..6]);
    Attachments {
        tag: format!("mail-{digest}-"),
        files: mail
            .attachments
            .iter()
            .map(|file| NewFile {
                file_name: file.file_name.clone(),
                content_type: file.content_type.clone(),
                bytes: file.bytes.clone(),
            })
            .collect(),
    }
}

/// Stores a reply's attachments and records them (a second write after the
/// reply itself; claimed, so a redelivery does not repeat it).
async fn record_attachments(
    inbound: &Inbound<'_>,
    key: &TicketKey,
    actor: &Actor,
) -> Result<(), IngestError> {
    if inbound.mail.attachments.is_empty() {
        return Ok(());
    }
    let services = inbound.services;
    let events =
        tickets::open::store_attachments(services.blobs.as_ref(), key, &attachments_of(inbound))
            .await?;
    let claim = IdempotencyClaim {
        key: keys::claim::attachments(&inbound.known_as),
        purpose: ClaimPurpose::Once(Step::Attachments),
        expires_at: inbound.now + chrono::Duration::days(30),
    };
    tickets::apply(
        services.store.as_ref(),
        &services.config,
        key,
        actor,
        inbound.now,
        &[claim],
        |_| events.clone(),
    )
    .await?;
    Ok(())
}

/// Records a delivery report on the ticket whose mail bounced, as an
/// internal note; a report about a message we do not know is logged.
pub(super) async fn bounce(
    inbound: &Inbound<'_>,
    automatic: Vec<String>,
) -> Result<Ingested, IngestError> {
    let mail = inbound.mail;
    let report = mail.report.clone().unwrap_or_default();
    let original = report.original_message_id.as_deref();
    let ticket = match original {
        Some(id) => inbound
            .services
            .store
            .idempotency_record(&keys::claim::message_id(id))
            .await?
            .map(|r| r.ticket),
        None => None,
    };
    let Some(ticket) = ticket else {
        let reason = format!(
            "delivery report about a message we do not know ({})",
            original.unwrap_or("no original Message-ID")
        );
        inbound.not_accepted(Refusal::Bounce, reason).await?;
        return Ok(Ingested::Bounce { ticket: None });
    };
    let events = tickets::fit::fit_events(
        inbound.services.blobs.as_ref(),
        &ticket,
        vec![
            bounced_mail(inbound, automatic),
            TimelineEvent::Comment {
                public: false,
                body: bounce_note(&report),
                body_blob: None,
            },
        ],
    )
    .await?;
    let claim = inbound.claim(MailClaim::Recorded);
    let (_, written) = tickets::apply(
        inbound.services.store.as_ref(),
        &inbound.services.config,
        &ticket,
        &Actor::System,
        inbound.now,
        &[claim],
        |_| events.to_vec(),
    )
    .await?;
    if let Written::Replayed(ticket) = written {
        return Ok(Ingested::Duplicate { ticket });
    }
    Ok(Ingested::Bounce {
        ticket: Some(ticket),
    })
}

/// A delivery report as received, from the mailer daemon unless it names
/// a sender.
fn bounced_mail(inbound: &Inbound<'_>, automatic: Vec<String>) -> TimelineEvent {
    let mail = inbound.mail;
    let from = mail
        .from
        .as_ref()
        .and_then(|m| EmailAddress::parse(&m.email).ok())
        .map_or_else(|| "mailer-daemon".to_owned(), |sender| sender.to_string());
    TimelineEvent::EmailIn {
        message_id: mail.message_id.clone(),
        from,
        subject: mail.subject.clone(),
        subject_blob: None,
        raw_key: Some(inbound.raw_key.to_owned()),
        text: Some(mail.text.clone()),
        text_blob: None,
        html: mail.html.clone(),
        html_blob: None,
        skipped: mail.skipped.clone(),
        skipped_unlisted: mail.skipped_unlisted as u64,
        participants_left_out: 0,
        automatic,
        authentication: inbound.authentication,
    }
}

/// The internal note a delivery report leaves.
fn bounce_note(report: &crate::mail::parse::DeliveryReport) -> String {
    format!(
        "Delivery problem: {} for {} (status {}). The ticket was not reopened.",
        report.action.as_deref().unwrap_or("failed"),
        if report.recipients.is_empty() {
            "unknown recipients".to_owned()
        } else {
            report.recipients.join(", ")
        },
        report.status.as_deref().unwrap_or("unknown")
    )
}
