//! Which queue a mail is for, and which ticket (if any) it answers.
//!
//! A mail is a reply when, in this order: its In-Reply-To or References
//! name a Message-ID we sent or received on a ticket; a recipient carries a
//! valid signed Reply-To token (`support+<token>@...`); its subject carries
//! a ticket key of the queue (`[SUP-17]`), subject to the queue's policy
//! for senders who are not on the ticket.

use crate::config::{Config, Queue};
use crate::domain::{EmailAddress, QueueKey, Ticket, TicketKey};
use crate::keys;
use crate::store::{ClaimStore, ContactStore, StoreError, TicketStore};

use super::parse::ParsedMail;
use super::token;

/// The queue that owns one of `recipients` (plus-addresses match their
/// base address), with the address that matched.
pub fn queue_for<'a>(
    config: &'a Config,
    recipients: &[String],
) -> Option<(&'a QueueKey, &'a Queue, EmailAddress)> {
    for recipient in recipients {
        let Ok(address) = EmailAddress::parse(recipient) else {
            continue;
        };
        let base = base_address(&address);
        for (key, queue) in &config.queues {
            if queue.addresses.contains(&base) {
                return Some((key, queue, address));
            }
        }
    }
    None
}

/// `support+abc@example.com` -> `support@example.com`.
pub fn base_address(address: &EmailAddress) -> EmailAddress {
    let text = address.as_str();
    match text.split_once('@') {
        Some((local, domain)) if local.contains('+') => {
            let local = local.split('+').next().unwrap_or(local);
            EmailAddress::parse(&format!("{local}@{domain}")).unwrap_or_else(|_| address.clone())
        }
        _ => address.clone(),
    }
}

/// Every address a mail was delivered to: the envelope first, then the
/// headers that name recipients.
pub fn recipients(mail: &ParsedMail, envelope: &[String]) -> Vec<String> {
    let mut all: Vec<String> = envelope.iter().map(|r| r.to_lowercase()).collect();
    all.extend(mail.delivered_to.iter().cloned());
    all.extend(mail.x_original_to.iter().cloned());
    all.extend(mail.to.iter().map(|m| m.email.clone()));
    all.extend(mail.cc.iter().map(|m| m.email.clone()));
    let mut seen = std::collections::BTreeSet::new();
    all.retain(|a| seen.insert(a.clone()));
    all
}

/// How a reply was recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadMatch {
    /// In-Reply-To or References named a Message-ID of the ticket.
    Header(TicketKey),
    /// A recipient carried the ticket's signed Reply-To token.
    Token(TicketKey),
    /// The subject carried the key.
    Subject(TicketKey),
}

impl ThreadMatch {
    /// The ticket.
    pub fn ticket(&self) -> &TicketKey {
        match self {
            Self::Header(k) | Self::Token(k) | Self::Subject(k) => k,
        }
    }

    /// How it matched, for the timeline.
    pub fn how(&self) -> &'static str {
        match self {
            Self::Header(_) => "In-Reply-To/References",
            Self::Token(_) => "Reply-To token",
            Self::Subject(_) => "ticket key in the subject",
        }
    }
}

/// Ticket keys of `queue` written in `subject`, like `[SUP-17]` or `SUP-17`.
pub fn keys_in_subject(subject: &str, queue: &QueueKey) -> Vec<TicketKey> {
    let prefix = format!("{}-", queue.as_str());
    let upper = subject.to_uppercase();
    let mut keys = Vec::new();
    let mut rest = upper.as_str();
    while let Some(at) = rest.find(&prefix) {
        let before_ok = upper.len() - rest.len() + at == 0
            || !rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        let digits: String = rest[at + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if before_ok
            && !digits.is_empty()
            && let Ok(key) = TicketKey::parse(&format!("{prefix}{digits}"))
        {
            keys.push(key);
        }
        rest = &rest[at + prefix.len()..];
    }
    keys
}

/// How many Message-IDs of a mail's In-Reply-To and References (newest
/// first) are looked up: a real thread names its ticket's mail among its
/// latest few; a mail naming thousands costs no more than this.
const IDS_LOOKED_UP: usize = 32;

/// How many ticket keys of a subject are looked up.
const KEYS_LOOKED_UP: usize = 8;

/// Finds the ticket a mail answers, by headers, then token, then subject.
/// The subject match is returned as is; the caller applies the policy for
/// senders who are not on the ticket.
pub async fn find_thread<S>(
    store: &S,
    mail: &ParsedMail,
    queue: &QueueKey,
    recipients: &[String],
    token_secret: Option<&[u8]>,
) -> Result<Option<ThreadMatch>, StoreError>
where
    S: ClaimStore + TicketStore + ?Sized,
{
    let ids = mail.in_reply_to.iter().chain(mail.references.iter().rev());
    for id in ids.take(IDS_LOOKED_UP) {
        if let Some(record) = store
            .idempotency_record(&keys::claim::message_id(id))
            .await?
        {
            return Ok(Some(ThreadMatch::Header(record.ticket)));
        }
    }
    if let Some(secret) = token_secret {
        for recipient in recipients {
            if let Some(key) = token::token_from_address(recipient)
                .and_then(|t| token::verify_reply_token(secret, t))
                && store.get_ticket(&key).await?.is_some()
            {
                return Ok(Some(ThreadMatch::Token(key)));
            }
        }
    }
    for key in keys_in_subject(&mail.subject, queue)
        .into_iter()
        .take(KEYS_LOOKED_UP)
    {
        if store.get_ticket(&key).await?.is_some() {
            return Ok(Some(ThreadMatch::Subject(key)));
        }
    }
    Ok(None)
}

/// Whether `email` is the requester or a participant of `ticket`.
pub fn is_on_ticket(ticket: &Ticket, email: &EmailAddress) -> bool {
    ticket.requester.email.as_ref() == Some(email) || ticket.participants.contains(email)
}

/// Whether `email` may write on the ticket as one of its people: the
/// requester, a participant, or another address of the requester's contact.
/// Anyone else is a stranger, whatever names the ticket in their mail
/// (a Message-ID of ours or of the customer's, a key in the subject); only
/// the signed Reply-To token vouches for a new address.
pub async fn is_member<S>(
    store: &S,
    ticket: &Ticket,
    email: &EmailAddress,
) -> Result<bool, StoreError>
where
    S: ContactStore + ?Sized,
{
    if is_on_ticket(ticket, email) {
        return Ok(true);
    }
    let Some(contact) = &ticket.requester.contact_id else {
        return Ok(false);
    };
    Ok(store
        .get_contact(contact)
        .await?
        .is_some_and(|contact| contact.emails.contains(email)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_subjects_only_as_whole_keys_of_the_queue() {
        let sup = QueueKey::parse("SUP").unwrap();
        let keys = |s| {
            keys_in_subject(s, &sup)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys("Re: [SUP-17] Printer"), ["SUP-17"]);
        assert_eq!(keys("re: sup-17 and SUP-4"), ["SUP-17", "SUP-4"]);
        assert!(keys("XSUP-17 and SUP- and OPS-3").is_empty());
    }

    #[test]
    fn plus_addresses_belong_to_their_base_address() {
        let address = EmailAddress::parse("support+sup-1-abc@example.com").unwrap();
        assert_eq!(base_address(&address).as_str(), "support@example.com");
    }
}
