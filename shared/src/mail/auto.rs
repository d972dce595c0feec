//! Loop protection: telling automatic mail from mail a person wrote.
//!
//! [`classify`] lists every sign of automatic mail it finds, each with a
//! human description for the ticket timeline; an empty list means a person
//! wrote the message. Mail with any sign is recorded but never gets an
//! automatic answer. [`is_out_of_office`] singles out vacation replies, which
//! must not reopen a ticket.
//!
//! Decisions:
//! - `List-Unsubscribe` alone is a sign: newsletters and notification
//!   robots carry it, people's own mail does not, and answering it
//!   automatically is what starts loops with mailing lists;
//! - `Precedence: auto_reply` (used by vacation responders) counts along
//!   with `bulk`, `junk` and `list`;
//! - system senders are matched on the local part of From, Sender and
//!   Return-Path: `mailer-daemon`, `postmaster`, and `noreply`,
//!   `no-reply`, `donotreply`, `do-not-reply` (also as a prefix, such as
//!   `noreply-billing@`), case-insensitively;
//! - our own Message-ID domain is checked on the message's own Message-ID
//!   only (a customer's reply legitimately names our ids in In-Reply-To).

use serde::{Deserialize, Serialize};

use super::parse::ParsedMail;

/// Who "we" are, to recognise our own mail coming back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OurIdentity {
    /// The header our outbound mail carries, such as `X-Helpdesk-Loop`.
    pub loop_header: String,
    /// Its value: our instance id.
    pub loop_value: String,
    /// The domain of the Message-IDs we generate.
    pub message_id_domain: String,
}

/// One sign that a message was sent by a machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum AutoReason {
    /// `Auto-Submitted` with a value other than `no` (the value).
    AutoSubmitted(String),
    /// `Precedence: bulk`, `junk`, `list` or `auto_reply` (the value).
    Precedence(String),
    /// `X-Auto-Response-Suppress` with any value (the value).
    AutoResponseSuppress(String),
    /// A `List-Unsubscribe` header: a mailing list or newsletter.
    ListUnsubscribe,
    /// `Return-Path: <>`, as bounces and auto-replies have.
    EmptyReturnPath,
    /// A system sender such as `mailer-daemon@` or `noreply@` (the address).
    SystemSender(String),
    /// Our own loop header with our own value: we sent this.
    OurLoopHeader,
    /// The Message-ID is on our own domain: we sent this.
    OurMessageId,
    /// A delivery status report (a bounce).
    DeliveryReport,
}

impl AutoReason {
    /// The reason as shown on the ticket, such as `Auto-Submitted: auto-replied`.
    pub fn describe(&self) -> String {
        match self {
            AutoReason::AutoSubmitted(value) => format!("Auto-Submitted: {value}"),
            AutoReason::Precedence(value) => format!("Precedence: {value}"),
            AutoReason::AutoResponseSuppress(value) => {
                format!("X-Auto-Response-Suppress: {value}")
            }
            AutoReason::ListUnsubscribe => {
                "List-Unsubscribe header (a mailing list or newsletter)".to_owned()
            }
            AutoReason::EmptyReturnPath => {
                "empty Return-Path <> (as bounces and auto-replies have)".to_owned()
            }
            AutoReason::SystemSender(address) => format!("system sender {address}"),
            AutoReason::OurLoopHeader => {
                "carries our own loop header: the helpdesk sent it".to_owned()
            }
            AutoReason::OurMessageId => {
                "Message-ID on our own domain: the helpdesk sent it".to_owned()
            }
            AutoReason::DeliveryReport => "delivery status report (a bounce)".to_owned(),
        }
    }
}

/// Local parts of addresses that only machines send from.
const SYSTEM_LOCAL_PARTS: &[&str] = &["mailer-daemon", "postmaster"];

/// Prefixes of local parts that say "do not answer".
const NO_REPLY_PREFIXES: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
];

/// Every sign that `mail` is automatic; empty when a person wrote it.
pub fn classify(mail: &ParsedMail, us: &OurIdentity) -> Vec<AutoReason> {
    let mut reasons = Vec::new();

    if let Some(value) = mail
        .header_values("Auto-Submitted")
        .find(|value| !value.is_empty() && token(value) != "no")
    {
        reasons.push(AutoReason::AutoSubmitted(value.to_owned()));
    }
    if let Some(value) = mail.header_values("Precedence").find(|value| {
        matches!(
            token(value).as_str(),
            "bulk" | "junk" | "list" | "auto_reply"
        )
    }) {
        reasons.push(AutoReason::Precedence(value.to_owned()));
    }
    if let Some(value) = mail.header("X-Auto-Response-Suppress") {
        reasons.push(AutoReason::AutoResponseSuppress(value.to_owned()));
    }
    if mail.header("List-Unsubscribe").is_some() {
        reasons.push(AutoReason::ListUnsubscribe);
    }
    if mail.return_path.as_deref() == Some("") {
        reasons.push(AutoReason::EmptyReturnPath);
    }
    let senders = mail
        .from
        .iter()
        .chain(mail.sender.iter())
        .map(|mailbox| mailbox.email.as_str())
        .chain(mail.return_path.as_deref());
    if let Some(address) = senders
        .into_iter()
        .find(|address| is_system_address(address))
    {
        reasons.push(AutoReason::SystemSender(address.to_owned()));
    }
    if !us.loop_header.trim().is_empty()
        && mail.header_values(us.loop_header.trim()).any(|value| {
            value
                .split(',')
                .any(|item| item.trim() == us.loop_value.trim())
        })
    {
        reasons.push(AutoReason::OurLoopHeader);
    }
    if !mail.message_id_generated && is_on_domain(&mail.message_id, &us.message_id_domain) {
        reasons.push(AutoReason::OurMessageId);
    }
    if mail.report.is_some() {
        reasons.push(AutoReason::DeliveryReport);
    }
    reasons
}

/// Subject beginnings of vacation replies ("Automatic reply: Re: …"),
/// lower-case. Matched at the start only: a customer may well write about
/// "auto reply settings".
const OUT_OF_OFFICE_PREFIXES: &[&str] = &[
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "auto:",
    "vacation reply",
    "on vacation",
    "automatische antwort",
    "réponse automatique",
    "absence du bureau",
    "respuesta automática",
    "risposta automatica",
    "fuori sede",
    "automatisch antwoord",
    "afwezigheidsbericht",
    "autosvar",
    "автоматический ответ",
    "вне офиса",
    "в отпуске",
];

/// Subject fragments that mean a vacation reply wherever they stand
/// ("Anna Petrova is out of the office"), lower-case.
const OUT_OF_OFFICE_ANYWHERE: &[&str] = &[
    "out of office",
    "out of the office",
    "out-of-office",
    "abwesenheitsnotiz",
    "автоответ",
];

/// Whether `mail` is a vacation / out-of-office reply: `Auto-Submitted:
/// auto-replied`, `X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply`,
/// or a subject such as "Out of Office", "Automatic reply",
/// "Abwesenheitsnotiz", "Автоответ".
pub fn is_out_of_office(mail: &ParsedMail) -> bool {
    let auto_replied = mail
        .header_values("Auto-Submitted")
        .any(|value| token(value) == "auto-replied");
    let flagged = ["X-Autoreply", "X-Autorespond", "X-Autoresponder"]
        .iter()
        .any(|name| {
            mail.header_values(name)
                .any(|value| !matches!(token(value).as_str(), "no" | "false" | "0"))
        });
    let precedence = mail
        .header_values("Precedence")
        .any(|value| token(value) == "auto_reply");
    let subject = mail.subject.trim().to_lowercase();
    let subject_says_so = OUT_OF_OFFICE_PREFIXES
        .iter()
        .any(|prefix| subject.starts_with(prefix))
        || OUT_OF_OFFICE_ANYWHERE
            .iter()
            .any(|fragment| subject.contains(fragment));
    auto_replied || flagged || precedence || subject_says_so
}

/// The first token of a header value, lower-cased (`auto-replied; x=y` -> `auto-replied`).
fn token(value: &str) -> String {
    value
        .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
        .find(|part| !part.is_empty())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// `mailer-daemon@…`, `noreply@…`; also a bare `MAILER-DAEMON` (as some
/// MTAs write the Return-Path of bounces).
fn is_system_address(address: &str) -> bool {
    let local = address
        .rsplit_once('@')
        .map_or(address, |(local, _)| local)
        .trim()
        .to_ascii_lowercase();
    if local.is_empty() {
        return false;
    }
    SYSTEM_LOCAL_PARTS.contains(&local.as_str())
        || NO_REPLY_PREFIXES
            .iter()
            .any(|prefix| local.starts_with(prefix))
}

fn is_on_domain(message_id: &str, domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.');
    !domain.is_empty()
        && message_id.rsplit_once('@').is_some_and(|(_, id_domain)| {
            id_domain
                .trim()
                .trim_end_matches('.')
                .eq_ignore_ascii_case(domain)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::{MailLimits, parse};

    fn us() -> OurIdentity {
        OurIdentity {
            loop_header: "X-Helpdesk-Loop".to_owned(),
            loop_value: "inst-1".to_owned(),
            message_id_domain: "helpdesk.example.com".to_owned(),
        }
    }

    fn mail(headers: &str) -> ParsedMail {
        let raw = format!("{headers}Message-ID: <m1@mail.example.org>\r\n\r\nHello\r\n");
        parse(raw.as_bytes(), &MailLimits::default()).unwrap()
    }

    #[test]
    fn a_person_is_not_automatic() {
        let mail = mail(
            "From: Anna <anna@example.org>\r\nTo: support@example.com\r\nSubject: Printer\r\nAuto-Submitted: no\r\nReturn-Path: <anna@example.org>\r\n",
        );
        assert_eq!(classify(&mail, &us()), []);
        assert!(!is_out_of_office(&mail));
    }

    #[test]
    fn every_sign_is_reported_with_a_reason() {
        let mail = mail(
            "From: MAILER-DAEMON@mx.example.org\r\nAuto-Submitted: auto-generated\r\nPrecedence: Bulk\r\nX-Auto-Response-Suppress: All\r\nList-Unsubscribe: <mailto:u@example.org>\r\nReturn-Path: <>\r\nX-Helpdesk-Loop: inst-1\r\n",
        );
        let reasons = classify(&mail, &us());
        assert_eq!(
            reasons,
            [
                AutoReason::AutoSubmitted("auto-generated".to_owned()),
                AutoReason::Precedence("Bulk".to_owned()),
                AutoReason::AutoResponseSuppress("All".to_owned()),
                AutoReason::ListUnsubscribe,
                AutoReason::EmptyReturnPath,
                AutoReason::SystemSender("mailer-daemon@mx.example.org".to_owned()),
                AutoReason::OurLoopHeader,
            ]
        );
        assert_eq!(reasons[0].describe(), "Auto-Submitted: auto-generated");
    }

    #[test]
    fn noreply_senders_are_system_senders() {
        for from in [
            "noreply@x.org",
            "No-Reply@x.org",
            "donotreply@x.org",
            "noreply-billing@x.org",
            "postmaster@x.org",
        ] {
            let mail = mail(&format!("From: {from}\r\n"));
            assert_eq!(
                classify(&mail, &us()),
                [AutoReason::SystemSender(from.to_lowercase())],
                "{from}"
            );
        }
        let mail = mail("From: noreen@x.org\r\n");
        assert_eq!(classify(&mail, &us()), []);
    }

    #[test]
    fn another_instance_loop_header_is_not_ours() {
        let mail = mail("From: a@x.org\r\nX-Helpdesk-Loop: inst-2\r\n");
        assert_eq!(classify(&mail, &us()), []);
    }

    #[test]
    fn our_own_message_id_domain_is_recognised() {
        let raw = "From: a@x.org\r\nMessage-ID: <t1.abc@Helpdesk.Example.com>\r\n\r\nHi\r\n";
        let mail = parse(raw.as_bytes(), &MailLimits::default()).unwrap();
        assert_eq!(classify(&mail, &us()), [AutoReason::OurMessageId]);
        let reply = "From: a@x.org\r\nMessage-ID: <r@x.org>\r\nIn-Reply-To: <t1.abc@helpdesk.example.com>\r\n\r\nHi\r\n";
        let mail = parse(reply.as_bytes(), &MailLimits::default()).unwrap();
        assert_eq!(classify(&mail, &us()), []);
    }

    #[test]
    fn out_of_office_is_recognised_by_header_or_subject() {
        assert!(is_out_of_office(&mail("Auto-Submitted: auto-replied\r\n")));
        assert!(is_out_of_office(&mail("X-Autoreply: yes\r\n")));
        assert!(is_out_of_office(&mail("X-Autorespond: vacation\r\n")));
        assert!(is_out_of_office(&mail(
            "Subject: Automatic reply: Printer\r\n"
        )));
        assert!(is_out_of_office(&mail(
            "Subject: Abwesenheitsnotiz: Drucker\r\n"
        )));
        assert!(is_out_of_office(&mail(
            "Subject: =?UTF-8?B?0JDQstGC0L7QvtGC0LLQtdGCOiDQn9GA0LjQvdGC0LXRgA==?=\r\n"
        )));
        assert!(!is_out_of_office(&mail(
            "Auto-Submitted: auto-generated\r\n"
        )));
        assert!(!is_out_of_office(&mail("Subject: Re: printer\r\n")));
        assert!(!is_out_of_office(&mail(
            "Subject: Our auto reply settings are broken\r\n"
        )));
        assert!(is_out_of_office(&mail(
            "Subject: Anna Petrova is out of the office\r\n"
        )));
    }
}
