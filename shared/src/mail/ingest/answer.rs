//! The automatic answers to inbound mail: the acknowledgement of a new
//! ticket, and the queue's answer to a sender it refuses. Both are sent at
//! most once per inbound message; neither answers automatic mail.

use crate::config::Queue;
use crate::domain::{Actor, EmailAddress, Ticket, TicketKey};

use super::{Envelope, Inbound, IngestError, Letter, automatic_reasons, send};
use crate::mail::send::{SendError, SendOutcome, TicketMail};
use crate::mail::transport::TransportError;

/// Renders a queue's mail template with `context`; a template that does
/// not render is a configuration the message cannot be answered with.
fn render_template(
    what: &str,
    text: &str,
    context: &serde_json::Value,
) -> Result<String, IngestError> {
    minijinja::Environment::new()
        .render_str(text, context)
        .map_err(|e| IngestError::Permanent {
            what: format!("{what} template: {e}"),
            source: Box::new(e),
        })
}

/// The desk's name as templates see it.
fn desk_name(inbound: &Inbound<'_>) -> String {
    inbound
        .services
        .config
        .desk
        .name
        .clone()
        .unwrap_or_else(|| "Support".into())
}

/// Sends the queue's answer to a refused sender, if it has one and the mail
/// was written by a person; says what happened, for the mail log.
pub(super) async fn answer_refused(letter: &Letter<'_>) -> Result<String, IngestError> {
    let Some(template) = &letter.queue.mail.rejection else {
        return Ok("; not answered (the queue answers refused senders with silence)".into());
    };
    let automatic = &letter.screening.automatic;
    if !automatic.is_empty() {
        return Ok(format!(
            "; not answered: automatic mail ({})",
            automatic.join("; ")
        ));
    }
    let mail = letter.inbound.mail;
    let context = serde_json::json!({
        "sender": { "email": letter.sender, "name": mail.from.as_ref().and_then(|m| m.name.clone()) },
        "subject": crate::tickets::summary_line(&mail.subject),
        "desk": { "name": desk_name(letter.inbound) },
    });
    let outcome = send::send_loose_mail(
        letter.inbound.services,
        send::LooseMail {
            queue: letter.queue_key.clone(),
            to: letter.sender.clone(),
            subject: render_template("rejection", &template.subject, &context)?,
            text: render_template("rejection", &template.body, &context)?,
            in_reply_to: mail.message_id.clone(),
        },
    )
    .await;
    Ok(match outcome {
        Ok(SendOutcome::Sent { message_id } | SendOutcome::AlreadySent { message_id }) => {
            format!("; answered with the queue's rejection ({message_id})")
        }
        Ok(SendOutcome::Suppressed { reason }) => format!("; answer suppressed: {reason}"),
        Err(SendError::Transport(TransportError::Permanent(reason)) | SendError::Build(reason)) => {
            format!("; the answer could not be sent: {reason}")
        }
        Err(e) => return Err(e.into()),
    })
}

/// Acknowledges a new ticket to its requester, unless `automatic` says
/// why not (then the suppression is recorded on the ticket); a mail that
/// can never be sent is recorded on the ticket with its reason.
pub(super) async fn acknowledge(
    inbound: &Inbound<'_>,
    queue: &Queue,
    ticket: &Ticket,
    requester: &EmailAddress,
    automatic: &[String],
) -> Result<SendOutcome, IngestError> {
    let Some(template) = &queue.mail.acknowledgement else {
        return Ok(SendOutcome::Suppressed {
            reason: "no acknowledgement template".into(),
        });
    };
    let mail = inbound.mail;
    let context = serde_json::json!({
        "ticket": { "key": ticket.key, "summary": ticket.summary, "status": ticket.status, "priority": ticket.priority },
        "requester": { "name": ticket.requester.name, "email": ticket.requester.email },
        "desk": { "name": desk_name(inbound) },
    });
    let suppress = (!automatic.is_empty()).then(|| {
        format!(
            "no automatic answer to automatic mail: {}",
            automatic.join("; ")
        )
    });
    let acknowledgement = TicketMail {
        ticket: ticket.key.clone(),
        to: vec![requester.clone()],
        cc: Vec::new(),
        attachments: Vec::new(),
        subject: render_template("acknowledgement", &template.subject, &context)?,
        text: render_template("acknowledgement", &template.body, &context)?,
        purpose: format!("ack:{}", mail.message_id),
        in_reply_to: Some(mail.message_id.clone()),
        references: mail
            .references
            .iter()
            .cloned()
            .chain(std::iter::once(mail.message_id.clone()))
            .collect(),
        automatic: true,
        actor: Actor::System,
        trigger_depth: 0,
    };
    match send::send_ticket_mail(inbound.services, acknowledgement.clone(), suppress).await {
        Ok(outcome) => Ok(outcome),
        Err(SendError::Transport(TransportError::Permanent(reason)) | SendError::Build(reason)) => {
            // Retrying cannot help: record why on the ticket, visibly.
            let reason = format!("the acknowledgement could not be sent: {reason}");
            let unsent = TicketMail {
                subject: ticket.summary.clone(),
                text: String::new(),
                in_reply_to: None,
                references: Vec::new(),
                ..acknowledgement
            };
            Ok(send::send_ticket_mail(inbound.services, unsent, Some(reason)).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A redelivered message that opened a ticket: sends the acknowledgement
/// if the first delivery failed before sending it (sending is idempotent:
/// an acknowledgement sent or suppressed before is not sent again).
pub(super) async fn resume_acknowledgement(
    inbound: &Inbound<'_>,
    envelope: &Envelope,
    key: &TicketKey,
) -> Result<(), IngestError> {
    let services = inbound.services;
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
    let mut no_answer = automatic_reasons(services, inbound.mail);
    if envelope.spam || envelope.virus || ticket.tags.iter().any(|t| t == "spam" || t == "virus") {
        no_answer.push("SES verdict".into());
    }
    acknowledge(inbound, queue, &ticket, &requester, &no_answer).await?;
    Ok(())
}
