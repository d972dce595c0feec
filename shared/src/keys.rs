//! The names of claims, markers and counters: every key that makes a step
//! happen once, or counts something, is built here and nowhere else, so two
//! use cases cannot drift apart on a key's spelling and a key's parts are
//! typed values, not loose strings.
//!
//! | kind | store | key | what it guards |
//! |---|---|---|---|
//! | claim | idempotency record | `msgid:<message id>` | a mail (in or out) recorded on its ticket once |
//! | claim | idempotency record | `form:<form>:key:<key>`, `form:<form>:submission:<id>` | a form submission stored once |
//! | claim | idempotency record | `agent:<ticket>:<key>` | an agent's change made once |
//! | claim | idempotency record | `trig:<ticket>:<version>[:sla-<kind>-<metric>-c<cycle>]` | the triggers' write for one change |
//! | claim | idempotency record | `fxfail:<effect>` | the note that an effect failed for good |
//! | claim | idempotency record | `slanote:<ticket>:<metric>:c<cycle>:<kind>` | the note that an SLA notification cannot go out |
//! | claim | idempotency record | `suppressed:<message id>` | the note that a mail was suppressed |
//! | claim | idempotency record | `attachments:<message id>` | a reply's attachments recorded once |
//! | claim | idempotency record | `link:<ticket>:<follow-up>` | the back link of a follow-up ticket |
//! | marker | marker | `session:<sha256 of the cookie>` | a console session: its agent, its CSRF token, when it ends |
//! | marker | marker | `mail:<message id>` | the log entry of a mail not accepted, as versions before the mail log wrote it (read for 90 days; the spelling also names a mail log item on DynamoDB) |
//! | marker | marker | `send:<message id>` | a message handed to the transport once |
//! | marker | marker | `fx:<effect>`, `fxdone:<effect>` | a webhook or bus event under way, and delivered |
//! | marker | marker | `desk:message-id-key` | the random key our Message-IDs are made with |
//! | marker | marker | `feed-failed:<seq>` | a change of the local feed that failed for good, and why |
//! | marker | marker | `mailfail:<request id>:<bucket>/<key>` | a stored message that failed for good, not taken again by the retries of its invocation |
//! | counter | counter | `fxtry:<effect>` | attempts at one effect |
//! | counter | counter | `rr:<queue>:<trigger>` | round-robin turns of a group |
//! | counter | counter | `rate:ticket:<ticket>:<recipient>:<window>`, `rate:recipient:<recipient>:<window>` | automatic mails in a rate-limit window |
//! | counter | counter | `rate:signin:<login>:<window>` | console sign-in attempts in a rate-limit window |
//! | counter | counter | `rate:form:<form>:client:<address>:<window>`, `rate:form:<form>:email:<address>:<window>` | form posts in a rate-limit window |
//!
//! The spellings are stored data: changing one makes every earlier claim,
//! marker or counter of that kind unknown to the new code.
//!
//! A part that comes from outside (a Message-ID, an idempotency key, a
//! submission id) longer than [`PART_MAX`] bytes is spelled `sha256:<hex>`
//! of itself instead, so no key outgrows a store's key size (DynamoDB's
//! partition key holds 2,048 bytes).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::domain::{EmailAddress, QueueKey, TicketKey};
use crate::triggers::SlaAlert;

/// The longest part from outside spelled as itself in a key: as long as a
/// Message-ID may be (so ids stored before keep their spelling), short
/// enough for DynamoDB's 2,048-byte partition key with any prefix.
pub const PART_MAX: usize = 995;

/// `part` as it is spelled in a key: itself, or its digest when longer
/// than [`PART_MAX`].
fn part(part: &str) -> Cow<'_, str> {
    if part.len() <= PART_MAX {
        Cow::Borrowed(part)
    } else {
        Cow::Owned(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(part.as_bytes()))
        ))
    }
}

/// Claims: idempotency records written with a ticket write.
pub mod claim {
    use super::*;

    /// A Message-ID mapped to its ticket (normalised: no angle brackets,
    /// lower case), for mail in and out alike.
    pub fn message_id(message_id: &str) -> String {
        let normalised = message_id.trim().trim_matches(['<', '>']).to_lowercase();
        format!("msgid:{}", part(&normalised))
    }

    /// A form submission by the sender's `Idempotency-Key` header.
    pub fn form_key(form: &str, key: &str) -> String {
        format!("form:{form}:key:{}", part(key))
    }

    /// A form submission by the provider's submission id.
    pub fn form_submission(form: &str, submission_id: &str) -> String {
        format!("form:{form}:submission:{}", part(submission_id))
    }

    /// An agent's change by the agent's idempotency key.
    pub fn agent_change(ticket: &TicketKey, key: &str) -> String {
        format!("agent:{ticket}:{}", part(key))
    }

    /// A ticket agent `login` opened by hand, by the request's
    /// `Idempotency-Key`.
    pub fn hand_made(login: &str, key: &str) -> String {
        format!("hand:{}:{}", part(login), part(key))
    }

    /// The triggers' write in reaction to the change that wrote `version`
    /// (once per SLA signal, when that write recorded several).
    pub fn trigger_write(ticket: &TicketKey, version: u64, sla: Option<&SlaAlert>) -> String {
        match sla {
            None => format!("trig:{ticket}:{version}"),
            Some(sla) => format!(
                "trig:{ticket}:{version}:sla-{}-{}-c{}",
                sla.kind.as_str(),
                sla.metric,
                sla.cycle
            ),
        }
    }

    /// The note that the effect `effect` failed for good.
    pub fn effect_failure(effect: &str) -> String {
        format!("fxfail:{effect}")
    }

    /// The note that some notifications of one SLA alert cannot go out.
    pub fn sla_note(ticket: &TicketKey, alert: &SlaAlert) -> String {
        format!(
            "slanote:{ticket}:{}:c{}:{}",
            alert.metric,
            alert.cycle,
            alert.kind.as_str()
        )
    }

    /// The note that the mail `message_id` was suppressed.
    pub fn suppression(message_id: &str) -> String {
        format!("suppressed:{}", part(message_id))
    }

    /// The attachments of the mail `message_id`, recorded on its ticket.
    pub fn attachments(message_id: &str) -> String {
        format!("attachments:{}", part(message_id))
    }

    /// The link from `previous` to its follow-up ticket `follow_up`.
    pub fn follow_up_link(previous: &TicketKey, follow_up: &TicketKey) -> String {
        format!("link:{previous}:{follow_up}")
    }
}

/// Markers: small records written once under their key.
pub mod marker {
    use crate::domain::TokenHash;

    /// The local report rollups have been kept since the first report (the
    /// change feed's `rollups` cursor keeps them since).
    pub const ROLLUPS_KEPT: &str = "rollups:kept";

    /// A console session, by the SHA-256 of its cookie.
    pub fn session(hash: &TokenHash) -> String {
        format!("session:{}", hash.as_str())
    }

    /// The log entry of a mail that did not become part of a ticket.
    pub fn mail_not_accepted(message_id: &str) -> String {
        format!("mail:{}", super::part(message_id))
    }

    /// The claim to hand the message `message_id` to the transport.
    pub fn send(message_id: &str) -> String {
        format!("send:{}", super::part(message_id))
    }

    /// An effect (webhook call, bus event) under way since the value.
    pub fn effect(effect: &str) -> String {
        format!("fx:{effect}")
    }

    /// An effect delivered.
    pub fn effect_done(effect: &str) -> String {
        format!("fxdone:{effect}")
    }

    /// The desk's key for its own Message-IDs (random, made once).
    pub fn message_id_key() -> String {
        "desk:message-id-key".to_owned()
    }

    /// A change of the local feed that failed for good (skipped, with why).
    pub fn feed_failed(seq: u64) -> String {
        format!("feed-failed:{seq}")
    }

    /// A stored message that failed for good in the Lambda invocation
    /// `request_id` (whose retries keep the id).
    pub fn delivery_failed(request_id: &str, bucket: &str, key: &str) -> String {
        format!("mailfail:{request_id}:{bucket}/{key}")
    }
}

/// Counters: atomic counts under their key.
pub mod counter {
    use super::*;

    /// Attempts at the effect `effect`.
    pub fn effect_attempts(effect: &str) -> String {
        format!("fxtry:{effect}")
    }

    /// Round-robin turns of the group a trigger assigns to.
    pub fn round_robin(queue: &QueueKey, trigger: &str) -> String {
        format!("rr:{queue}:{trigger}")
    }

    /// Automatic mails to `recipient` about `ticket` in rate window `window`.
    pub fn rate_per_ticket(ticket: &TicketKey, recipient: &EmailAddress, window: i64) -> String {
        format!("rate:ticket:{ticket}:{recipient}:{window}")
    }

    /// Posts of form `form` from the client `client` in rate window
    /// `window`.
    /// An IPv6 client counts by its /64 network (one subscriber's), an IPv4
    /// one by its address.
    pub fn form_client(form: &str, client: &std::net::IpAddr, window: i64) -> String {
        let client = match client {
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            std::net::IpAddr::V4(v4) => v4.to_string(),
        };
        format!("rate:form:{form}:client:{client}:{window}")
    }

    /// Submissions of form `form` for requester `email` in rate window
    /// `window`.
    /// Plus-addresses count as their base address (`a+1@x` is `a@x`).
    pub fn form_email(form: &str, email: &EmailAddress, window: i64) -> String {
        let email = crate::mail::threading::base_address(email);
        format!("rate:form:{form}:email:{email}:{window}")
    }

    /// Console sign-in attempts for `login` in rate window `window`.
    pub fn sign_in_attempts(login: &str, window: i64) -> String {
        format!(
            "rate:signin:{}:{window}",
            super::part(&login.to_lowercase())
        )
    }

    /// Automatic mails to `recipient` in rate window `window`.
    pub fn rate_per_recipient(recipient: &EmailAddress, window: i64) -> String {
        format!("rate:recipient:{recipient}:{window}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triggers::SlaKind;

    fn ticket() -> TicketKey {
        TicketKey::parse("SUP-7").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_part_from_outside_too_long_for_a_store_key_is_spelled_by_its_digest() {
        let long = format!("<{}@x.org>", "a".repeat(3000));
        let key = claim::message_id(&long);
        assert!(key.starts_with("msgid:sha256:"), "{key}");
        assert_eq!(key.len(), "msgid:sha256:".len() + 64);
        assert_eq!(key, claim::message_id(&long.to_uppercase()));
        assert_ne!(
            key,
            claim::message_id(&format!("<{}@x.org>", "b".repeat(3000)))
        );
        assert!(marker::mail_not_accepted(&long).len() < 100);
        assert!(claim::form_key("support", &"k".repeat(1_000)).len() < 100);
        let kept = "k".repeat(995);
        assert!(claim::form_key("support", &kept).ends_with(&kept));
    }

    #[test]
    fn keys_keep_the_spellings_earlier_stored_data_was_written_with() {
        let alert = SlaAlert {
            kind: SlaKind::Breach,
            metric: "reaction".into(),
            rule: "default".into(),
            cycle: 2,
        };
        assert_eq!(claim::message_id(" <AbC@x.org> "), "msgid:abc@x.org");
        assert_eq!(claim::trigger_write(&ticket(), 4, None), "trig:SUP-7:4");
        assert_eq!(
            claim::trigger_write(&ticket(), 4, Some(&alert)),
            "trig:SUP-7:4:sla-breach-reaction-c2"
        );
        assert_eq!(
            claim::sla_note(&ticket(), &alert),
            "slanote:SUP-7:reaction:c2:breach"
        );
        assert_eq!(claim::form_key("support", "k1"), "form:support:key:k1");
        assert_eq!(
            claim::form_submission("support", "s1"),
            "form:support:submission:s1"
        );
        assert_eq!(marker::send("<m@x>"), "send:<m@x>");
        assert_eq!(counter::effect_attempts("e"), "fxtry:e");
        let to = EmailAddress::parse("a@b.org").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            counter::rate_per_ticket(&ticket(), &to, 9),
            "rate:ticket:SUP-7:a@b.org:9"
        );
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            counter::form_client("f", &a, 1),
            counter::form_client("f", &b, 1),
            "one /64 counts as one client"
        );
        let plus = EmailAddress::parse("a+7@b.org").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            counter::form_email("f", &plus, 1),
            "rate:form:f:email:a@b.org:1"
        );
        assert_eq!(
            counter::rate_per_recipient(&to, 9),
            "rate:recipient:a@b.org:9"
        );
    }
}
