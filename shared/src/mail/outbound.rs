//! Building outbound mail: an [`OutboundMail`] in, RFC 5322 bytes out
//! ([`build`]), with [`mail_builder`] doing the MIME work (RFC 2047 words for
//! non-ASCII subjects and names, transfer encodings, line folding).
//!
//! What every message carries:
//! - our `Message-ID` (chosen by the caller, typically [`message_id_for`], so
//!   that a retried send produces the same id and can be deduplicated), plus
//!   `In-Reply-To` and `References` for threading;
//! - the ticket key in the subject (`[SUP-17] ...`), once;
//! - the loop header (for example `X-Helpdesk-Loop: example-helpdesk`), so
//!   our own mail is recognised when it comes back;
//! - for automatic mail (acknowledgements, notifications):
//!   `Auto-Submitted: auto-replied` (RFC 3834) and
//!   `X-Auto-Response-Suppress: All` (Exchange and Outlook).
//!   `Precedence` is deliberately not set: it is not standardised, and
//!   `bulk`/`junk` make spam filters file acknowledgements as bulk mail.
//!
//! Header injection: no header value can carry CR or LF from its input.
//! Subjects, display names, attachment names and header values have every
//! control character and line separator replaced by a space; addresses must
//! parse as an [`EmailAddress`] (which refuses whitespace and control
//! characters) or the build fails; message ids lose whitespace, control
//! characters and angle brackets, and a reference that is still unusable is
//! left out rather than failing the reply.

use std::borrow::Cow;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as BuilderAddress;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use sha2::{Digest, Sha256};

use crate::domain::{EmailAddress, TicketKey};

/// A mailbox in an outbound header: an address and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// The display name (any text; non-ASCII is RFC 2047-encoded).
    pub name: Option<String>,
    /// The address, such as `anna@example.com`.
    pub email: String,
}

impl Address {
    /// An address without a display name.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            name: None,
            email: email.into(),
        }
    }

    /// An address with a display name.
    pub fn named(name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            email: email.into(),
        }
    }
}

impl From<&EmailAddress> for Address {
    fn from(email: &EmailAddress) -> Self {
        Self::new(email.as_str())
    }
}

/// One outbound message, before it becomes bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMail {
    /// The `From` mailbox.
    pub from: Address,
    /// The `To` mailboxes.
    pub to: Vec<Address>,
    /// The `Cc` mailboxes.
    pub cc: Vec<Address>,
    /// The `Reply-To` mailbox, typically the support address with the
    /// ticket's token (see [`crate::mail::token::plus_address`]).
    pub reply_to: Option<Address>,
    /// The subject; [`build`] puts `[SUP-17] ` in front when [`Self::ticket`]
    /// is set and the subject does not already carry that key.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative to the text body.
    pub html: Option<String>,
    /// The Message-ID without angle brackets; the caller decides it
    /// (deterministic ids are how retried sends are deduplicated).
    pub message_id: String,
    /// The Message-ID (without brackets) of the message this one answers.
    pub in_reply_to: Option<String>,
    /// The thread's Message-IDs (without brackets), oldest first.
    /// [`Self::in_reply_to`] is appended when missing.
    pub references: Vec<String>,
    /// The ticket the message belongs to, for the subject tag.
    pub ticket: Option<TicketKey>,
    /// Sent by the helpdesk on its own (acknowledgements, notifications)
    /// rather than written by an agent: adds `Auto-Submitted: auto-replied`
    /// and `X-Auto-Response-Suppress: All`.
    pub automatic: bool,
    /// Our loop header, name and value, such as
    /// `("X-Helpdesk-Loop", "example-helpdesk")`; always set.
    pub loop_header: (String, String),
    /// Attachments: file name, content type (`type/subtype`), content.
    pub attachments: Vec<(String, String, Bytes)>,
    /// The `Date` header.
    pub date: DateTime<Utc>,
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An address (From, To, Cc or Reply-To) is not a valid email address.
    #[error("{0:?} is not a valid email address")]
    BadAddress(String),
    /// The message's own Message-ID is empty or unusable after cleaning.
    #[error("{0:?} is not a usable Message-ID")]
    BadMessageId(String),
    /// The loop header's name is not a valid header field name.
    #[error("{0:?} is not a valid header name")]
    BadHeaderName(String),
    /// Writing the message failed.
    #[error("cannot write the message: {0}")]
    Write(#[from] std::io::Error),
}

/// Turns text into one header-safe line: control characters (CR, LF, TAB,
/// NUL...) and Unicode line or paragraph separators become spaces, runs of
/// spaces collapse into one, and the ends are trimmed.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

/// The subject with the ticket's key in front, unless it already carries
/// it: `Help` becomes `[SUP-17] Help`, while `Re: [SUP-17] Help` stays as
/// it is. The result is one line (see [`one_line`]).
pub fn subject_with_key(subject: &str, ticket: &TicketKey) -> String {
    let subject = one_line(subject);
    let tag = format!("[{ticket}]");
    if subject
        .to_ascii_uppercase()
        .contains(&tag.to_ascii_uppercase())
    {
        subject
    } else if subject.is_empty() {
        tag
    } else {
        format!("{tag} {subject}")
    }
}

/// A deterministic Message-ID (without brackets) for the mail about
/// `ticket` sent for `purpose` (for example `ack` or `reply:42`):
/// `sup-17.<32 hex digits of HMAC-SHA256(key, ticket and purpose)>@<domain>`.
/// Sending the same purpose twice gives the same id, which is how a retried
/// send is recognised; without the desk's `key` nobody can compute the id
/// of a mail they have not seen, so nobody can thread onto a ticket by
/// naming one.
pub fn message_id_for(ticket: &TicketKey, purpose: &str, domain: &str, key: &[u8]) -> String {
    keyed_message_id(
        &ticket.to_string().to_ascii_lowercase(),
        &format!("{ticket}\n{purpose}"),
        domain,
        key,
    )
}

/// `<prefix>.<32 hex digits of HMAC-SHA256(key, what)>@<domain>`.
pub fn keyed_message_id(prefix: &str, what: &str, domain: &str, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let hash = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(what.as_bytes());
            hex::encode(&mac.finalize().into_bytes()[..16])
        }
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => hex::encode(&Sha256::digest(what.as_bytes())[..16]),
    };
    format!("{prefix}.{hash}@{}", clean_message_id(domain))
}

/// A message id without brackets, whitespace, control or non-ASCII
/// characters (possibly empty).
fn clean_message_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '<' && *c != '>')
        .collect()
}

/// The cleaned id, or `None` when it is non-ASCII or nothing is left.
fn usable_message_id(id: &str) -> Option<String> {
    let cleaned = clean_message_id(id);
    // Non-ASCII ids are left out entirely rather than silently mangled.
    (!cleaned.is_empty() && id.is_ascii()).then_some(cleaned)
}

fn mailbox(address: &Address) -> Result<BuilderAddress<'static>, BuildError> {
    let email = EmailAddress::parse(&address.email)
        .map_err(|_| BuildError::BadAddress(address.email.clone()))?;
    let name = address
        .name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty());
    Ok(BuilderAddress::new_address(name, email.as_str().to_owned()))
}

fn mailbox_list(addresses: &[Address]) -> Result<Option<BuilderAddress<'static>>, BuildError> {
    let list = addresses
        .iter()
        .map(mailbox)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!list.is_empty()).then(|| BuilderAddress::new_list(list)))
}

/// A header field name: printable ASCII without `:` (RFC 5322 `ftext`).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// `type/subtype` in lower case, or `application/octet-stream` when the
/// given content type does not have that shape (parameters are dropped).
fn clean_content_type(content_type: &str) -> String {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => essence,
        _ => "application/octet-stream".to_owned(),
    }
}

/// Builds the RFC 5322 bytes of `mail` (CRLF line endings).
pub fn build(mail: &OutboundMail) -> Result<Vec<u8>, BuildError> {
    let message_id = usable_message_id(&mail.message_id)
        .ok_or_else(|| BuildError::BadMessageId(mail.message_id.clone()))?;
    let (loop_name, loop_value) = &mail.loop_header;
    if !valid_header_name(loop_name) {
        return Err(BuildError::BadHeaderName(loop_name.clone()));
    }

    let subject = match &mail.ticket {
        Some(ticket) => subject_with_key(&mail.subject, ticket),
        None => one_line(&mail.subject),
    };
    let in_reply_to = mail.in_reply_to.as_deref().and_then(usable_message_id);
    let mut references: Vec<String> = Vec::new();
    for id in mail
        .references
        .iter()
        .filter_map(|r| usable_message_id(r))
        .chain(in_reply_to.clone())
    {
        if !references.contains(&id) {
            references.push(id);
        }
    }

    let mut builder = MessageBuilder::new().from(mailbox(&mail.from)?);
    if let Some(to) = mailbox_list(&mail.to)? {
        builder = builder.to(to);
    }
    if let Some(cc) = mailbox_list(&mail.cc)? {
        builder = builder.cc(cc);
    }
    if let Some(reply_to) = &mail.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    builder = builder
        .subject(Text::new(subject))
        .date(Date::new(mail.date.timestamp()))
        .message_id(MessageId::new(message_id));
    if let Some(parent) = in_reply_to {
        builder = builder.in_reply_to(MessageId::new(parent));
    }
    if !references.is_empty() {
        builder = builder.references(MessageId::from(references));
    }
    if mail.automatic {
        builder = builder
            .header("Auto-Submitted", Raw::new("auto-replied"))
            .header("X-Auto-Response-Suppress", Raw::new("All"));
    }
    builder = builder.header(
        Cow::Owned(loop_name.clone()),
        Text::new(one_line(loop_value)),
    );

    builder = builder.text_body(mail.text.clone());
    if let Some(html) = &mail.html {
        builder = builder.html_body(html.clone());
    }
    for (name, content_type, bytes) in &mail.attachments {
        let name = match one_line(name) {
            n if n.is_empty() => "attachment".to_owned(),
            n => n,
        };
        builder = builder.attachment(clean_content_type(content_type), name, bytes.to_vec());
    }
    Ok(builder.write_to_vec()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mail_parser::MessageParser;

    fn key(text: &str) -> TicketKey {
        TicketKey::parse(text).unwrap()
    }

    fn sample() -> OutboundMail {
        OutboundMail {
            from: Address::named("Example Support", "support@example.com"),
            to: vec![Address::named("Kim Lee", "kim@customer.org")],
            cc: vec![Address::new("boss@customer.org")],
            reply_to: Some(Address::named(
                "Example Support",
                "support+sup-17-abcdefghij@example.com",
            )),
            subject: "Help".to_owned(),
            text: "We got your request.\n\nExample Support".to_owned(),
            html: None,
            message_id: "sup-17.0123456789abcdef@example.com".to_owned(),
            in_reply_to: Some("original@customer.org".to_owned()),
            references: vec!["first@customer.org".to_owned()],
            ticket: Some(key("SUP-17")),
            automatic: true,
            loop_header: ("X-Helpdesk-Loop".to_owned(), "example-helpdesk".to_owned()),
            attachments: Vec::new(),
            date: Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap(),
        }
    }

    fn header_text<'a>(message: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
        message.header(name).and_then(|v| v.as_text())
    }

    /// The header block of `raw`, unfolded: one entry per header field.
    fn header_lines(raw: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(raw);
        let head = text.split("\r\n\r\n").next().unwrap();
        let mut lines: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                lines.last_mut().unwrap().push_str(line);
            } else {
                lines.push(line.to_owned());
            }
        }
        lines
    }

    #[test]
    fn a_built_message_parses_back_with_every_header_we_set() {
        let raw = build(&sample()).unwrap();
        let message = MessageParser::default().parse(&raw).unwrap();

        assert_eq!(
            message.message_id(),
            Some("sup-17.0123456789abcdef@example.com")
        );
        assert_eq!(
            message.in_reply_to().as_text(),
            Some("original@customer.org")
        );
        let references: Vec<&str> = message
            .references()
            .as_text_list()
            .unwrap()
            .iter()
            .map(|r| r.as_ref())
            .collect();
        assert_eq!(
            references,
            ["first@customer.org", "original@customer.org"],
            "in-reply-to is appended to the references"
        );
        let reply_to = message.reply_to().unwrap().first().unwrap();
        assert_eq!(
            reply_to.address(),
            Some("support+sup-17-abcdefghij@example.com")
        );
        assert_eq!(
            message.from().unwrap().first().unwrap().name(),
            Some("Example Support")
        );
        assert_eq!(
            message.to().unwrap().first().unwrap().address(),
            Some("kim@customer.org")
        );
        assert_eq!(
            message.cc().unwrap().first().unwrap().address(),
            Some("boss@customer.org")
        );
        assert_eq!(message.subject(), Some("[SUP-17] Help"));
        assert_eq!(
            header_text(&message, "Auto-Submitted"),
            Some("auto-replied")
        );
        assert_eq!(
            header_text(&message, "X-Auto-Response-Suppress"),
            Some("All")
        );
        assert_eq!(
            header_text(&message, "X-Helpdesk-Loop"),
            Some("example-helpdesk")
        );
        assert!(message.header("Precedence").is_none());
        assert_eq!(message.date().unwrap().to_rfc3339(), "2025-03-14T09:26:53Z");
        assert_eq!(
            message.body_text(0).unwrap().trim_end(),
            "We got your request.\r\n\r\nExample Support",
            "line breaks are CRLF on the wire"
        );
    }

    #[test]
    fn mail_written_by_an_agent_carries_no_auto_submitted_header() {
        let mail = OutboundMail {
            automatic: false,
            ..sample()
        };
        let raw = build(&mail).unwrap();
        let message = MessageParser::default().parse(&raw).unwrap();
        assert!(message.header("Auto-Submitted").is_none());
        assert!(message.header("X-Auto-Response-Suppress").is_none());
        assert_eq!(
            header_text(&message, "X-Helpdesk-Loop"),
            Some("example-helpdesk"),
            "the loop header is always set"
        );
    }

    #[test]
    fn the_ticket_key_appears_in_the_subject_once() {
        for (given, expected) in [
            ("Re: [SUP-17] Help", "Re: [SUP-17] Help"),
            ("re: [sup-17] help", "re: [sup-17] help"),
            ("[SUP-170] Other", "[SUP-17] [SUP-170] Other"),
            ("", "[SUP-17]"),
            ("Help", "[SUP-17] Help"),
        ] {
            let mail = OutboundMail {
                subject: given.to_owned(),
                ..sample()
            };
            let raw = build(&mail).unwrap();
            let message = MessageParser::default().parse(&raw).unwrap();
            assert_eq!(message.subject(), Some(expected), "{given:?}");
        }
        let untagged = OutboundMail {
            ticket: None,
            ..sample()
        };
        let raw = build(&untagged).unwrap();
        let message = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(message.subject(), Some("Help"));
    }

    #[test]
    fn a_subject_with_a_line_break_cannot_add_a_header() {
        let mail = OutboundMail {
            subject: "Hi\r\nBcc: victim@x.org".to_owned(),
            to: vec![Address::named(
                "Kim\r\nBcc: victim@x.org",
                "kim@customer.org",
            )],
            loop_header: (
                "X-Helpdesk-Loop".to_owned(),
                "example\nBcc: victim@x.org".to_owned(),
            ),
            in_reply_to: Some("a@b\r\nBcc: victim@x.org".to_owned()),
            references: vec!["c@d\r\nBcc: victim@x.org".to_owned()],
            ..sample()
        };
        let raw = build(&mail).unwrap();
        let message = MessageParser::default().parse(&raw).unwrap();
        assert!(message.bcc().is_none());
        assert!(message.header("Bcc").is_none());
        assert_eq!(message.subject(), Some("[SUP-17] Hi Bcc: victim@x.org"));

        let names: Vec<String> = header_lines(&raw)
            .iter()
            .map(|line| line.split(':').next().unwrap().to_ascii_lowercase())
            .collect();
        let expected = [
            "from",
            "to",
            "cc",
            "reply-to",
            "subject",
            "date",
            "message-id",
            "in-reply-to",
            "references",
            "auto-submitted",
            "x-auto-response-suppress",
            "x-helpdesk-loop",
            "content-type",
            "content-transfer-encoding",
            "mime-version",
        ];
        let mut sorted_names = names.clone();
        sorted_names.sort();
        let mut sorted_expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        sorted_expected.sort();
        assert_eq!(sorted_names, sorted_expected, "headers: {names:?}");
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.to_ascii_lowercase().contains("\nbcc:"), "{text}");
    }

    #[test]
    fn an_address_with_a_line_break_is_refused() {
        let mail = OutboundMail {
            to: vec![Address::new("kim@customer.org\r\nBcc: victim@x.org")],
            ..sample()
        };
        assert!(matches!(build(&mail), Err(BuildError::BadAddress(_))));
        let mail = OutboundMail {
            reply_to: Some(Address::new("not an address")),
            ..sample()
        };
        assert!(matches!(build(&mail), Err(BuildError::BadAddress(_))));
    }

    #[test]
    fn unusable_message_ids_and_header_names_are_refused() {
        let mail = OutboundMail {
            message_id: " <> ".to_owned(),
            ..sample()
        };
        assert!(matches!(build(&mail), Err(BuildError::BadMessageId(_))));
        let mail = OutboundMail {
            loop_header: ("X-Loop\r\nBcc".to_owned(), "x".to_owned()),
            ..sample()
        };
        assert!(matches!(build(&mail), Err(BuildError::BadHeaderName(_))));
    }

    #[test]
    fn bracketed_message_ids_are_accepted_without_doubling_the_brackets() {
        let mail = OutboundMail {
            message_id: "<ours@example.com>".to_owned(),
            in_reply_to: Some("<theirs@customer.org>".to_owned()),
            references: vec!["<theirs@customer.org>".to_owned()],
            ..sample()
        };
        let raw = build(&mail).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("Message-ID: <ours@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("References: <theirs@customer.org>\r\n"),
            "{text}"
        );
    }

    #[test]
    fn non_ascii_subjects_and_names_are_encoded_words() {
        let mail = OutboundMail {
            subject: "Счёт не пришёл".to_owned(),
            to: vec![Address::named("Jürgen Groß", "juergen@customer.org")],
            ..sample()
        };
        let raw = build(&mail).unwrap();
        assert!(raw.is_ascii(), "{}", String::from_utf8_lossy(&raw));
        let message = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(message.subject(), Some("[SUP-17] Счёт не пришёл"));
        assert_eq!(
            message.to().unwrap().first().unwrap().name(),
            Some("Jürgen Groß")
        );
    }

    #[test]
    fn html_and_attachments_come_back_out() {
        let mail = OutboundMail {
            html: Some("<p>We got your request.</p>".to_owned()),
            attachments: vec![
                (
                    "invoice\r\n.pdf".to_owned(),
                    "Application/PDF; name=x".to_owned(),
                    Bytes::from_static(b"%PDF-1.4 test"),
                ),
                (
                    "notes.txt".to_owned(),
                    "not a type".to_owned(),
                    Bytes::from_static(b"notes"),
                ),
            ],
            ..sample()
        };
        let raw = build(&mail).unwrap();
        let message = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            message.body_html(0).unwrap().trim(),
            "<p>We got your request.</p>"
        );
        let attachments: Vec<_> = message.attachments().collect();
        assert_eq!(attachments.len(), 2);
        use mail_parser::MimeHeaders;
        assert_eq!(attachments[0].attachment_name(), Some("invoice .pdf"));
        assert_eq!(
            attachments[0].content_type().map(|c| c.ctype()),
            Some("application")
        );
        assert_eq!(attachments[0].contents(), b"%PDF-1.4 test");
        assert_eq!(
            attachments[1].content_type().and_then(|c| c.subtype()),
            Some("octet-stream")
        );
    }

    #[test]
    fn message_ids_for_a_purpose_are_deterministic() {
        let id = |ticket: &str, purpose: &str, secret: &[u8]| {
            message_id_for(&key(ticket), purpose, "example.com", secret)
        };
        let a = id("SUP-17", "ack", b"desk key");
        assert_eq!(a, id("SUP-17", "ack", b"desk key"));
        assert!(a.starts_with("sup-17."), "{a}");
        assert!(a.ends_with("@example.com"), "{a}");
        assert_eq!(a.len(), "sup-17.".len() + 32 + "@example.com".len());
        assert_ne!(a, id("SUP-17", "reply:1", b"desk key"));
        // The same purpose on another ticket, or with another desk's key,
        // gives an unrelated id: nothing repeats across tickets.
        let b = id("SUP-18", "ack", b"desk key");
        assert_ne!(a[7..39], b[7..39]);
        assert_ne!(a, id("SUP-17", "ack", b"another key"));
        // Not the unkeyed hash of the purpose that earlier versions used.
        assert!(!a.contains(&hex::encode(&Sha256::digest(b"ack")[..8])));
    }

    #[test]
    fn one_line_removes_every_kind_of_line_break() {
        assert_eq!(one_line(" a\r\nb\n\tc\u{2028}d\u{85}e\0f  "), "a b c d e f");
    }
}
