//! The stages before threading: which queue a message is for, what SES's
//! verdicts and the automatic-mail signs say of it, and who sent it.

use crate::config::{Queue, UnauthenticatedPolicy, VerdictAction};
use crate::domain::{EmailAddress, QueueKey};

use super::{Envelope, Inbound, Refusal, automatic_reasons, threading};

/// What screening learned of a message it lets through.
#[derive(Debug, Clone, Default)]
pub struct Screening {
    /// Tags from SES verdicts the desk tags rather than refuses (`spam`,
    /// `virus`).
    pub tags: Vec<String>,
    /// Why the message is automatic mail (empty for a person's mail).
    pub automatic: Vec<String>,
    /// An out-of-office answer.
    pub out_of_office: bool,
    /// Its From failed authentication and the queue treats such senders
    /// as strangers.
    pub unauthenticated: bool,
}

impl Screening {
    /// Written by a person, not by a machine on someone's behalf: may
    /// reopen a ticket or open a follow-up.
    pub fn from_a_person(&self) -> bool {
        self.automatic.is_empty() && !self.out_of_office
    }
}

/// The queue that owns one of the recipients, else the envelope's queue;
/// or why there is none.
pub(super) fn queue_of<'a>(
    inbound: &Inbound<'a>,
    envelope: &Envelope,
) -> Result<(QueueKey, &'a Queue), String> {
    let config = &inbound.services.config;
    if let Some((key, queue, _)) = threading::queue_for(config, &inbound.recipients) {
        return Ok((key.clone(), queue));
    }
    envelope
        .queue
        .as_ref()
        .and_then(|k| config.queues.get_key_value(k))
        .map(|(key, queue)| (key.clone(), queue))
        .ok_or_else(|| {
            format!(
                "no queue has any of the recipients {}",
                inbound.recipients.join(", ")
            )
        })
}

/// SES's verdicts (virus first, then spam) as the desk's settings treat
/// them, and the signs of automatic mail; or the refusal a verdict calls
/// for.
pub(super) fn screen(
    inbound: &Inbound<'_>,
    envelope: &Envelope,
    queue: &Queue,
) -> Result<Screening, (Refusal, String)> {
    let verdicts = inbound.services.config.desk.mail.verdicts;
    let mut tags = Vec::new();
    for (failed, action, what) in [
        (envelope.virus, verdicts.virus, "virus"),
        (envelope.spam, verdicts.spam, "spam"),
    ] {
        if !failed {
            continue;
        }
        let reason = format!("SES {what} verdict FAIL");
        match action {
            VerdictAction::Drop => return Err((Refusal::Dropped, reason)),
            VerdictAction::Quarantine => return Err((Refusal::Quarantined, reason)),
            VerdictAction::Tag => tags.push(what.to_owned()),
        }
    }
    let unauthenticated = unauthenticated(inbound, queue)?;
    Ok(Screening {
        tags,
        automatic: automatic_reasons(inbound.services, inbound.mail),
        out_of_office: super::auto::is_out_of_office(inbound.mail),
        unauthenticated,
    })
}

/// Whether the From failed authentication and the queue takes such a
/// sender as a stranger; the refusal when it holds such mail.
fn unauthenticated(inbound: &Inbound<'_>, queue: &Queue) -> Result<bool, (Refusal, String)> {
    let Some(verdicts) = inbound.authentication.filter(|a| a.failed()) else {
        return Ok(false);
    };
    if inbound.released.is_some() {
        return Ok(false);
    }
    match queue.mail.unauthenticated {
        UnauthenticatedPolicy::Accept => Ok(false),
        UnauthenticatedPolicy::Stranger => Ok(true),
        UnauthenticatedPolicy::Hold => Err((
            Refusal::Held,
            format!(
                "the From fails authentication (SPF {:?}, DKIM {:?}, DMARC {:?}); held for review",
                verdicts.spf, verdicts.dkim, verdicts.dmarc
            ),
        )),
    }
}

/// The sender: the first usable address of From, Sender, Reply-To and
/// Return-Path, and whether it came from From or Sender (the headers
/// authentication speaks for; a sender found only in Reply-To or
/// Return-Path is a stranger to every ticket). A message with none is held
/// for an agent (a person may well have written it); one from our own
/// addresses is refused (a loop).
pub(super) fn sender(
    inbound: &Inbound<'_>,
    queue: &Queue,
) -> Result<(EmailAddress, bool), (Refusal, String)> {
    let mail = inbound.mail;
    let authored = mail
        .from
        .iter()
        .chain(&mail.sender)
        .map(|mailbox| (mailbox.email.as_str(), true));
    let named = mail
        .reply_to
        .iter()
        .map(|mailbox| (mailbox.email.as_str(), false))
        .chain(mail.return_path.as_deref().map(|address| (address, false)));
    let (sender, from_author) = authored
        .chain(named)
        .filter_map(|(address, from_author)| {
            EmailAddress::parse(address).ok().map(|a| (a, from_author))
        })
        .next()
        .ok_or_else(|| {
            (
                Refusal::Held,
                "no usable sender address (From, Sender, Reply-To, Return-Path); held for an agent"
                    .to_owned(),
            )
        })?;
    if ours(queue, &sender) {
        return Err((
            Refusal::Rejected,
            format!("the sender {sender} is one of our own addresses (loop)"),
        ));
    }
    Ok((sender, from_author))
}

/// One of the queue's addresses or forwarding addresses.
pub(super) fn ours(queue: &Queue, address: &EmailAddress) -> bool {
    let base = threading::base_address(address);
    queue.addresses.contains(&base) || queue.forwarding_addresses.contains(&base)
}

/// Whether the queue takes new tickets from `sender` (`allowed_senders`:
/// `*`, `*@domain` or an address; empty allows everyone).
pub(super) fn sender_allowed(queue: &Queue, sender: &EmailAddress) -> bool {
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
