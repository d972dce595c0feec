//! A new ticket from a mail: whether the sender may open one, the ticket
//! itself (through [`tickets::open`], as every channel), the back link of a
//! follow-up, and the acknowledgement.

use crate::domain::{Actor, Channel, TicketKey, TimelineEvent};
use crate::keys;
use crate::store::{ClaimPurpose, IdempotencyClaim, MailClaim, Step};
use crate::tickets::{self, NewTicket, Opened, TicketDraft};

use super::record::{
    attachments_of, email_in, inbound_notes, join_participants, new_participants,
    note_participants_left_out,
};
use super::screen::sender_allowed;
use super::{IngestError, Ingested, Letter, Refusal, answer};

/// Opens a ticket for a letter that threads onto none, if its sender may;
/// a refused sender may get the queue's answer.
pub(super) async fn admit(letter: &Letter<'_>) -> Result<Ingested, IngestError> {
    if sender_allowed(letter.queue, &letter.sender) {
        return new_ticket(letter, None).await;
    }
    let mut reason = format!(
        "{} is not allowed to write to queue {}",
        letter.sender, letter.queue_key
    );
    reason.push_str(&answer::answer_refused(letter).await?);
    letter.inbound.not_accepted(Refusal::Rejected, reason).await
}

/// Opens a ticket from a letter (a follow-up of `follow_up_of` when it
/// continues a ticket closed for good), links the two, and acknowledges.
pub(super) async fn new_ticket(
    letter: &Letter<'_>,
    follow_up_of: Option<TicketKey>,
) -> Result<Ingested, IngestError> {
    let services = letter.inbound.services;
    let new = new_ticket_of(letter, follow_up_of.as_ref());
    let opened = tickets::open(
        &services.config,
        services.store.as_ref(),
        services.blobs.as_ref(),
        new,
    )
    .await?;
    let ticket = match opened {
        Opened::Replayed(ticket) => return Ok(Ingested::Duplicate { ticket }),
        Opened::New(ticket) => ticket,
    };
    tracing::info!(ticket = %ticket.key, from = %letter.sender, "ticket created from mail");
    if let Some(previous) = &follow_up_of {
        link_follow_up(letter, previous, &ticket.key).await?;
    }
    let acknowledgement = if letter.queue.mail.acknowledge {
        let no_answer = no_automatic_answer(letter);
        Some(
            answer::acknowledge(
                letter.inbound,
                letter.queue,
                &ticket,
                &letter.sender,
                &no_answer,
            )
            .await?,
        )
    } else {
        None
    };
    Ok(Ingested::NewTicket {
        ticket: ticket.key,
        acknowledgement,
    })
}

/// What the mail opens: the sender as requester, the subject as summary,
/// the Cc as participants, the mail and its files as the first entries,
/// its Message-ID as the claim.
fn new_ticket_of(letter: &Letter<'_>, follow_up_of: Option<&TicketKey>) -> NewTicket {
    let inbound = letter.inbound;
    let mail = inbound.mail;
    let name = mail
        .from
        .as_ref()
        .and_then(|m| m.name.clone())
        .filter(|n| !n.trim().is_empty());
    let summary = match mail.subject.trim() {
        "" => "(no subject)".to_owned(),
        subject => tickets::summary_line(&subject_as_summary(subject)),
    };
    let draft = TicketDraft {
        queue: letter.queue_key.clone(),
        summary,
        description: mail.request_text().to_owned(),
        priority: None,
        line: None,
        components: Vec::new(),
        tags: letter.screening.tags.clone(),
        assignee: None,
        requester_email: Some(letter.sender.clone()),
        requester_name: name,
        requester_phone: None,
        channel: Channel::Email,
        custom_fields: Default::default(),
    };
    let links = follow_up_of
        .map(|previous| TimelineEvent::Linked {
            other: previous.clone(),
            relation: "follow_up_of".into(),
        })
        .into_iter()
        .collect();
    let mut participants = Vec::new();
    let left_out = join_participants(&mut participants, cc_participants(letter));
    let mut received = email_in(letter, &letter.screening.automatic);
    note_participants_left_out(&mut received, left_out);
    NewTicket {
        participants,
        draft,
        actor: Actor::Customer {
            email: letter.sender.clone(),
        },
        intake: std::iter::once(received)
            .chain(inbound_notes(inbound))
            .collect(),
        attachments: attachments_of(inbound),
        links,
        claims: vec![inbound.claim(MailClaim::OpenedTicket)],
        now: inbound.now,
    }
}

/// The participants a new ticket starts with: the mail's Cc, minus our
/// own addresses and the requester (the sender).
fn cc_participants(letter: &Letter<'_>) -> Vec<crate::domain::EmailAddress> {
    new_participants(
        letter.queue,
        |address| address == &letter.sender,
        letter.inbound.mail,
        &letter.sender,
    )
}

/// Why a new ticket gets no automatic answer: automatic mail, or mail SES
/// flagged and the desk took with a tag (answers to spam are backscatter).
fn no_automatic_answer(letter: &Letter<'_>) -> Vec<String> {
    let mut no_answer = letter.screening.automatic.clone();
    if !letter.screening.tags.is_empty() {
        no_answer.push(format!("SES verdict: {}", letter.screening.tags.join(", ")));
    }
    no_answer
}

/// Links the ticket followed up to its follow-up (claimed, so a
/// redelivery links once).
async fn link_follow_up(
    letter: &Letter<'_>,
    previous: &TicketKey,
    follow_up: &TicketKey,
) -> Result<(), IngestError> {
    let inbound = letter.inbound;
    let claim = IdempotencyClaim {
        key: keys::claim::follow_up_link(previous, follow_up),
        purpose: ClaimPurpose::Once(Step::FollowUpLink),
        expires_at: inbound.now + chrono::Duration::days(30),
    };
    let event = TimelineEvent::Linked {
        other: follow_up.clone(),
        relation: "followed_up_by".into(),
    };
    tickets::apply(
        inbound.services.store.as_ref(),
        &inbound.services.config,
        previous,
        &Actor::System,
        inbound.now,
        &[claim],
        |_| vec![event.clone()],
    )
    .await?;
    Ok(())
}

/// Drops leading `Re:`/`Fwd:` noise from a subject used as a summary.
fn subject_as_summary(subject: &str) -> String {
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
