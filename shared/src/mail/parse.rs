//! Parsing inbound mail: raw RFC 5322 / MIME bytes in, a [`ParsedMail`] out.
//!
//! [`mail_parser`] does the MIME work (RFC 2047 words, RFC 2231 parameters,
//! charsets, transfer encodings, broken structure); this module picks out
//! what the helpdesk needs, applies the attachment limits, sanitizes HTML
//! and reads delivery reports. It is pure: no I/O, no clock.
//!
//! Robustness rules:
//! - anything with at least one header line parses; only empty input and
//!   input without a header block are errors;
//! - an unknown or broken charset never fails a message: the text is
//!   decoded as UTF-8, lossily; every charset encoding_rs knows is decoded
//!   (mail-parser's `full_encoding`), and 8-bit header bytes no encoded
//!   word declares are read in the part's or the message's charset, else
//!   Windows-1252 ([`super::repair`]);
//! - an attachment is its decoded bytes: an attached message exactly its
//!   own, uuencode and unpadded base64 decoded ([`super::repair`]);
//! - a message without a Message-ID gets a deterministic one derived from
//!   its bytes, so redelivery of the same bytes gives the same id.

use std::borrow::Cow;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use mail_parser::{
    Address, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::body::{Bodies, BodyRead};
use super::{repair, reply};

/// The domain of generated Message-IDs; `.invalid` never resolves (RFC 2606).
pub const GENERATED_ID_DOMAIN: &str = "helpdesk.invalid";

const MIB: usize = 1024 * 1024;

/// An address with its display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mailbox {
    /// The display name, RFC 2047-decoded; `None` when absent or blank.
    pub name: Option<String>,
    /// The address, trimmed and lower-cased.
    pub email: String,
}

/// An attachment or inline image of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    /// The file name (RFC 2231 / RFC 2047 decoded), or a generated one such
    /// as `attachment-2.png` when the part has none.
    pub file_name: String,
    /// `type/subtype`, lower-cased.
    pub content_type: String,
    /// The Content-ID without angle brackets (what `cid:` URLs refer to).
    pub content_id: Option<String>,
    /// Shown inside the body rather than as a separate file.
    pub inline: bool,
    /// The decoded content.
    pub bytes: Bytes,
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailLimits {
    /// Larger parts are left out (and listed in [`ParsedMail::skipped`]).
    pub max_attachment_bytes: usize,
    /// Parts beyond this count are left out.
    pub max_attachments: usize,
    /// How much of one text part of the body is read into the message's
    /// texts; the rest of a longer part is only in the raw message (and
    /// listed in [`ParsedMail::skipped`]).
    pub max_text_read: usize,
    /// How much of one HTML part of the body is read into the sanitized
    /// HTML and the text; as for [`MailLimits::max_text_read`]. Smaller:
    /// an HTML parser's tree takes several times the HTML it holds.
    pub max_html_read: usize,
}

impl Default for MailLimits {
    fn default() -> Self {
        MailLimits {
            max_attachment_bytes: 25 * MIB,
            max_attachments: 50,
            max_text_read: 2 * MIB,
            max_html_read: MIB / 4,
        }
    }
}

/// A delivery status report (a bounce), from `multipart/report`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// The Message-ID (without brackets) of the message that bounced, from
    /// the attached original (`message/rfc822` or `text/rfc822-headers`).
    pub original_message_id: Option<String>,
    /// The recipients the report is about (`Final-Recipient`), lower-cased.
    pub recipients: Vec<String>,
    /// The first `Action` (`failed`, `delayed`, `delivered`, …), lower-cased.
    pub action: Option<String>,
    /// The first `Status` code, such as `5.1.1`.
    pub status: Option<String>,
}

/// What the helpdesk needs from one inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMail {
    /// The Message-ID without angle brackets; generated when absent (see
    /// [`ParsedMail::message_id_generated`]).
    pub message_id: String,
    /// The message had no Message-ID: [`ParsedMail::message_id`] is
    /// `generated-<first 32 hex chars of sha256(raw)>@helpdesk.invalid`.
    pub message_id_generated: bool,
    /// A digest of what identifies the message beside its Message-ID: its
    /// From address, Date, In-Reply-To and References, which relays and
    /// list servers keep (they add trace headers, subject tags, banners and
    /// footers), so a copy of the message that took another path has the
    /// same digest, and another message reusing the Message-ID has another.
    /// Without a Date, the body counts too. 32 hex characters.
    pub content_digest: String,
    /// In-Reply-To ids, without brackets.
    pub in_reply_to: Vec<String>,
    /// References ids, without brackets, oldest first.
    pub references: Vec<String>,
    /// The subject, RFC 2047-decoded; empty when absent.
    pub subject: String,
    /// The first From mailbox.
    pub from: Option<Mailbox>,
    /// The Sender mailbox.
    pub sender: Option<Mailbox>,
    /// Reply-To mailboxes.
    pub reply_to: Vec<Mailbox>,
    /// To mailboxes (all To headers).
    pub to: Vec<Mailbox>,
    /// Cc mailboxes (all Cc headers).
    pub cc: Vec<Mailbox>,
    /// Delivered-To addresses, lower-cased, top header first.
    pub delivered_to: Vec<String>,
    /// X-Original-To addresses, lower-cased.
    pub x_original_to: Vec<String>,
    /// The Return-Path address, lower-cased; `Some("")` for `Return-Path: <>`.
    pub return_path: Option<String>,
    /// The Date header, when present and valid.
    pub date: Option<DateTime<Utc>>,
    /// The text body; converted from HTML when the message has only HTML.
    pub text: String,
    /// The HTML body, sanitized (see [`super::html::sanitize`]).
    pub html: Option<String>,
    /// The reply without quoted history and signature: [`reply::extract`]
    /// of the text body (of the unwrapped text when it came from HTML, see
    /// [`super::html::to_text_unwrapped`]).
    pub reply_text: String,
    /// For a forward ([`reply::is_forward`]), its whole text: the
    /// forwarded message is the request. See [`ParsedMail::request_text`].
    pub forwarded: Option<String>,
    /// Attachments and inline images within the limits.
    pub attachments: Vec<MailAttachment>,
    /// Why parts were left out, for people to read; at most
    /// [`crate::domain::bounds::SKIPPED_LISTED`].
    pub skipped: Vec<String>,
    /// How many more parts were left out than `skipped` lists.
    pub skipped_unlisted: usize,
    /// Every top-level header, name and decoded value (unfolded, control
    /// characters replaced by spaces), in message order.
    pub headers: Vec<(String, String)>,
    /// The delivery status report when the message is a bounce.
    pub report: Option<DeliveryReport>,
}

impl ParsedMail {
    /// What a new ticket's description is: a forward whole, anything else
    /// its reply text. (A reply on a ticket is always its reply text: a
    /// forward into an existing conversation does not repeat its history.)
    pub fn request_text(&self) -> &str {
        self.forwarded.as_deref().unwrap_or(&self.reply_text)
    }

    /// The decoded values of every header called `name` (case-insensitive),
    /// in message order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The first value of the header called `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why bytes could not be read as a message at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailParseError {
    /// Nothing but whitespace.
    #[error("the message is empty")]
    Empty,
    /// No header block.
    #[error("not an email message: {0}")]
    NotAMessage(String),
}

/// Parses one raw message. Never panics; see the module docs for what fails.
pub fn parse(raw: &[u8], limits: &MailLimits) -> Result<ParsedMail, MailParseError> {
    let (mail, bodies) = parse_all_but_body(raw, limits)?;
    Ok(mail.with_body(bodies.read()))
}

/// As [`parse`], letting go of `raw` (when this was its last reference)
/// once the body's parts are copied out and before they are read, so that
/// a large message is never held raw, decoded and parsed as HTML at once.
pub fn parse_owned(raw: Bytes, limits: &MailLimits) -> Result<ParsedMail, MailParseError> {
    let (mail, bodies) = parse_all_but_body(&raw, limits)?;
    drop(raw);
    Ok(mail.with_body(bodies.read()))
}

/// Everything but the body's text and HTML, and the body's parts copied out
/// (see [`body`]).
fn parse_all_but_body(
    raw: &[u8],
    limits: &MailLimits,
) -> Result<(ParsedMail, Bodies), MailParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MailParseError::Empty);
    }
    let mut message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| MailParseError::NotAMessage("no header block found".to_owned()))?;
    repair::eight_bit_headers(&mut message);
    let root = header_part(&message)?;
    let headers = decoded_headers(root, raw);

    let (message_id, message_id_generated) = message_id(&message, raw);
    let content_digest = content_digest(root, raw);
    let subject = message.subject().map(clean_text).unwrap_or_default();
    let mut skipped = Skipped::default();
    let bodies = Bodies::collect(&message, limits, |note| skipped.push(|| note));
    let report = delivery_report(&message);
    let in_reply_to = ids(root, &HeaderName::InReplyTo);
    let references = ids(root, &HeaderName::References);
    let from = mailboxes(root, &HeaderName::From).into_iter().next();
    let sender = mailboxes(root, &HeaderName::Sender).into_iter().next();
    let reply_to = mailboxes(root, &HeaderName::ReplyTo);
    let to = mailboxes(root, &HeaderName::To);
    let cc = mailboxes(root, &HeaderName::Cc);
    let date = date(&message);
    let delivered_to = plain_addresses(&header_values(&headers, "Delivered-To"));
    let x_original_to = plain_addresses(&header_values(&headers, "X-Original-To"));
    let return_path = header_values(&headers, "Return-Path")
        .first()
        .map(|value| strip_brackets(value).to_lowercase());
    // Last: moves the decoded parts out of the message instead of copying.
    let (attachments, skipped) = attachments(message, limits, skipped);
    let skipped_unlisted = skipped.unlisted;
    let skipped = skipped.listed;

    let mail = ParsedMail {
        message_id,
        message_id_generated,
        content_digest,
        in_reply_to,
        references,
        subject,
        from,
        sender,
        reply_to,
        to,
        cc,
        delivered_to,
        x_original_to,
        return_path,
        date,
        text: String::new(),
        html: None,
        reply_text: String::new(),
        forwarded: None,
        attachments,
        skipped,
        skipped_unlisted,
        report,
        headers,
    };
    Ok((mail, bodies))
}

impl ParsedMail {
    /// The mail with its body's text, reply and HTML.
    fn with_body(self, body: BodyRead) -> Self {
        let BodyRead {
            text,
            reply_source,
            html,
        } = body;
        let reply_source = reply_source.as_deref().unwrap_or(&text);
        let reply_text = reply::extract(reply_source);
        let forwarded = reply::is_forward(&self.subject, reply_source)
            .then(|| reply_source.replace("\r\n", "\n").trim().to_owned());
        ParsedMail {
            text,
            html,
            reply_text,
            forwarded,
            ..self
        }
    }
}

/// The top-level part, which carries the message's headers; without any,
/// the input is not a message.
fn header_part<'m, 'x>(message: &'m Message<'x>) -> Result<&'m MessagePart<'x>, MailParseError> {
    let root = message
        .parts
        .first()
        .ok_or_else(|| MailParseError::NotAMessage("no header block found".to_owned()))?;
    if root.headers.is_empty() {
        return Err(MailParseError::NotAMessage(
            "the input starts without any header line".to_owned(),
        ));
    }
    Ok(root)
}

/// The decoded values of every header called `name` (case-insensitive),
/// in message order.
fn header_values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The Message-ID, cleaned, and `false`; or a generated one and `true`
/// when it is missing or empty.
fn message_id(message: &Message<'_>, raw: &[u8]) -> (String, bool) {
    match message.message_id().map(clean_id) {
        Some(id) if !id.is_empty() && id.len() <= ID_MAX => (id, false),
        _ => (generated_message_id(raw), true),
    }
}

/// The headers that identify a message beside its Message-ID and that
/// relays keep (not the Subject, which list servers tag, nor the body,
/// which gateways give banners and footers).
const IDENTIFYING_HEADERS: [&str; 4] = ["from", "date", "in-reply-to", "references"];

/// See [`ParsedMail::content_digest`]: the identifying headers' values with
/// white space folded; without a Date, the body too, line ends ignored.
fn content_digest(root: &MessagePart<'_>, raw: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut dated = false;
    for header in &root.headers {
        let name = header.name.as_str();
        if !IDENTIFYING_HEADERS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
        {
            continue;
        }
        dated |= name.eq_ignore_ascii_case("date");
        let value = raw
            .get(header.offset_start as usize..header.offset_end as usize)
            .unwrap_or_default();
        hasher.update(name.to_ascii_lowercase().as_bytes());
        for word in value
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
        {
            hasher.update(b" ");
            hasher.update(word.to_ascii_lowercase());
        }
        hasher.update(b"\n");
    }
    if !dated {
        let body = raw.get(root.offset_body as usize..).unwrap_or_default();
        for line in body.split(|b| *b == b'\n') {
            hasher.update(line.strip_suffix(b"\r").unwrap_or(line));
            hasher.update(b"\n");
        }
    }
    let digest = hex::encode(hasher.finalize());
    digest.get(..32).unwrap_or(&digest).to_owned()
}

/// The Date header, when present and valid.
fn date(message: &Message<'_>) -> Option<DateTime<Utc>> {
    message.date().and_then(|date| {
        date.is_valid()
            .then(|| DateTime::from_timestamp(date.to_timestamp(), 0))
            .flatten()
    })
}

/// `generated-<sha256 hex, first 32 chars>@helpdesk.invalid`.
fn generated_message_id(raw: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(raw));
    let short = digest.get(..32).unwrap_or(&digest);
    format!("generated-{short}@{GENERATED_ID_DOMAIN}")
}

/// Every header of a part as `(name, decoded value)`.
fn decoded_headers(part: &MessagePart<'_>, raw: &[u8]) -> Vec<(String, String)> {
    part.headers
        .iter()
        .map(|header| {
            let start = header.offset_start as usize;
            let end = header.offset_end as usize;
            let value = raw
                .get(start..end)
                .map(|bytes| {
                    let text = repair::header_text(bytes, None);
                    match mail_parser::parsers::MessageStream::new(text.as_bytes())
                        .parse_unstructured()
                    {
                        HeaderValue::Text(decoded) => clean_text(&decoded),
                        _ => clean_text(&text),
                    }
                })
                .unwrap_or_default();
            (header.name.as_str().to_owned(), value)
        })
        .collect()
}

/// One line of text: control characters (CR, LF, …) become spaces, runs of
/// whitespace collapse, the ends are trimmed.
fn clean_text(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn strip_brackets(value: &str) -> &str {
    let value = value.trim();
    let value = value.strip_prefix('<').unwrap_or(value);
    let value = value.strip_suffix('>').unwrap_or(value);
    value.trim()
}

/// Message ids from every header called `name`.
fn ids(part: &MessagePart<'_>, name: &HeaderName<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    for header in part.headers.iter().filter(|header| &header.name == name) {
        match &header.value {
            HeaderValue::Text(id) => ids.push(id.as_ref()),
            HeaderValue::TextList(list) => ids.extend(list.iter().map(Cow::as_ref)),
            _ => {}
        }
    }
    ids.into_iter()
        .map(clean_id)
        .filter(|id| !id.is_empty() && id.len() <= ID_MAX)
        .collect()
}

/// The longest Message-ID taken as one, in bytes (a header line holds at
/// most 998 characters); a longer one is no id (a new message gets a
/// generated one).
const ID_MAX: usize = 995;

/// A message id without brackets, whitespace or control characters (ids
/// go back out in our In-Reply-To and References headers).
fn clean_id(id: &str) -> String {
    strip_brackets(id)
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect()
}

/// Mailboxes from every header called `name` (groups flattened).
fn mailboxes(part: &MessagePart<'_>, name: &HeaderName<'_>) -> Vec<Mailbox> {
    let mut result = Vec::new();
    for header in part.headers.iter().filter(|header| &header.name == name) {
        let HeaderValue::Address(address) = &header.value else {
            continue;
        };
        let addrs: Vec<&mail_parser::Addr<'_>> = match address {
            Address::List(list) => list.iter().collect(),
            Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).collect(),
        };
        for addr in addrs {
            let Some(email) = addr.address.as_deref().map(|a| a.trim().to_lowercase()) else {
                continue;
            };
            if email.is_empty() || !email.contains('@') {
                continue;
            }
            let name = addr
                .name
                .as_deref()
                .map(|name| clean_text(name).trim_matches('"').trim().to_owned())
                .filter(|name| !name.is_empty());
            result.push(Mailbox { name, email });
        }
    }
    result
}

/// Bare addresses from headers like Delivered-To (`a@b`, `<a@b>`, lists).
fn plain_addresses(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .map(|item| {
            let inner = match (item.find('<'), item.rfind('>')) {
                (Some(open), Some(close)) if open < close => &item[open + 1..close],
                _ => item,
            };
            inner.trim().to_lowercase()
        })
        .filter(|address| !address.is_empty())
        .collect()
}

/// The parts left out: the first few reasons, and how many more.
#[derive(Default)]
struct Skipped {
    listed: Vec<String>,
    unlisted: usize,
}

impl Skipped {
    /// Lists the reason made by `reason` while there is room, else counts it.
    fn push(&mut self, reason: impl FnOnce() -> String) {
        if self.listed.len() < crate::domain::bounds::SKIPPED_LISTED {
            self.listed.push(reason());
        } else {
            self.unlisted += 1;
        }
    }
}

/// Attachments within the limits, and the reasons for those left out.
/// Decoded contents move into the attachments without a copy.
fn attachments(
    message: Message<'_>,
    limits: &MailLimits,
    mut skipped: Skipped,
) -> (Vec<MailAttachment>, Skipped) {
    let mut kept = Vec::new();
    let raw = message.raw_message;
    let mut parts = message.parts;
    for (index, id) in message.attachments.iter().enumerate() {
        let Some(part) = parts.get_mut(*id as usize) else {
            continue;
        };
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let content_type = content_type_of(part);
        let file_name = file_name_of(part, &content_type, index + 1);
        let repaired = repair::part_bytes(part, &raw);
        let size = repaired.as_ref().map_or(part.contents().len(), Vec::len);
        if size > limits.max_attachment_bytes {
            skipped.push(|| {
                format!(
                    "attachment {file_name} ({}) exceeds the {} limit",
                    human_size(size),
                    human_size(limits.max_attachment_bytes)
                )
            });
            continue;
        }
        if kept.len() >= limits.max_attachments {
            skipped.push(|| {
                format!(
                    "attachment {file_name} ({}) left out: more than {} attachments",
                    human_size(size),
                    limits.max_attachments
                )
            });
            continue;
        }
        let content_id = content_id_of(part);
        let inline = match part.content_disposition() {
            Some(disposition) => disposition.is_inline(),
            None => content_id.is_some(),
        };
        kept.push(MailAttachment {
            file_name,
            content_type,
            content_id,
            inline,
            bytes: repaired.map_or_else(|| take_contents(part), Bytes::from),
        });
    }
    (kept, skipped)
}

/// The part's decoded contents as [`Bytes`], moved out when owned.
fn take_contents(part: &mut MessagePart<'_>) -> Bytes {
    match std::mem::take(&mut part.body) {
        PartType::Text(text) | PartType::Html(text) => Bytes::from(text.into_owned().into_bytes()),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => Bytes::from(bytes.into_owned()),
        PartType::Message(message) => Bytes::from(message.raw_message.into_owned()),
        PartType::Multipart(_) => Bytes::new(),
    }
}

/// `type/subtype` of a part, lower-cased, with a sensible default.
fn content_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_lowercase(),
            None => ct.ctype().to_lowercase(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            PartType::Text(_) => "text/plain".to_owned(),
            _ => "application/octet-stream".to_owned(),
        },
    }
}

/// The longest file name kept, in characters; a longer one keeps its
/// start and its extension.
const FILE_NAME_MAX: usize = 255;

/// `name` cut to [`FILE_NAME_MAX`] characters, its extension kept.
fn bounded_file_name(name: &str) -> String {
    if name.chars().count() <= FILE_NAME_MAX {
        return name.to_owned();
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= 16)
        .unwrap_or("");
    let head: String = name
        .chars()
        .take(FILE_NAME_MAX - extension.chars().count() - 2)
        .collect();
    if extension.is_empty() {
        format!("{head}…")
    } else {
        format!("{head}….{extension}")
    }
}

/// The decoded file name; an attached message's subject as `Subject.eml`;
/// else `attachment-N.ext` / `message-N.eml`.
fn file_name_of(part: &MessagePart<'_>, content_type: &str, number: usize) -> String {
    if let Some(name) = part.attachment_name() {
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        let name = name.trim();
        if !name.is_empty() {
            return bounded_file_name(name);
        }
    }
    if let Some(name) = repair::message_name(part) {
        return bounded_file_name(&name);
    }
    let extension = match content_type {
        "message/rfc822" | "message/global" => return format!("message-{number}.eml"),
        "message/delivery-status" | "message/global-delivery-status" => {
            return format!("delivery-status-{number}.txt");
        }
        "text/plain" | "text/rfc822-headers" | "message/rfc822-headers" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "image/jpeg" => "jpg",
        "image/svg+xml" => "svg",
        other => match other.split_once('/') {
            Some(("image" | "audio" | "video", subtype))
                if subtype.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                subtype
            }
            Some((_, "pdf")) => "pdf",
            _ => "bin",
        },
    };
    format!("attachment-{number}.{extension}")
}

fn content_id_of(part: &MessagePart<'_>) -> Option<String> {
    let header = part
        .headers
        .iter()
        .find(|header| header.name == HeaderName::ContentId)?;
    let id = match &header.value {
        HeaderValue::Text(id) => id.as_ref(),
        HeaderValue::TextList(list) => list.first()?.as_ref(),
        _ => return None,
    };
    let id = strip_brackets(id);
    (!id.is_empty()).then(|| id.to_owned())
}

/// `812 bytes`, `40 KB`, `2.5 MB`, `30 MB` (binary units).
pub(super) fn human_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    if bytes == 1 {
        "1 byte".to_owned()
    } else if bytes < KIB {
        format!("{bytes} bytes")
    } else if bytes < MIB {
        format!("{} KB", bytes.div_ceil(KIB))
    } else if bytes < 10 * MIB {
        let tenths = (bytes * 10).div_ceil(MIB);
        if tenths.is_multiple_of(10) {
            format!("{} MB", tenths / 10)
        } else {
            format!("{}.{} MB", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} MB", bytes.div_ceil(MIB))
    }
}

fn is_type(part: &MessagePart<'_>, types: &[&str]) -> bool {
    types.contains(&content_type_of(part).as_str())
}

/// A bounce: the `message/delivery-status` part and the attached original.
fn delivery_report(message: &Message<'_>) -> Option<DeliveryReport> {
    let root_is_report = message
        .parts
        .first()
        .and_then(|root| root.content_type())
        .is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|subtype| subtype.eq_ignore_ascii_case("report"))
                && ct
                    .attribute("report-type")
                    .is_none_or(|kind| kind.to_ascii_lowercase().contains("delivery-status"))
        });
    let status_part = message.parts.iter().find(|part| {
        is_type(
            part,
            &["message/delivery-status", "message/global-delivery-status"],
        )
    });
    if !root_is_report && status_part.is_none() {
        return None;
    }
    let mut report = DeliveryReport::default();
    if let Some(part) = status_part {
        read_delivery_status(&String::from_utf8_lossy(part.contents()), &mut report);
    }
    report.original_message_id = message.parts.iter().find_map(original_message_id);
    Some(report)
}

/// Reads the fields of a `message/delivery-status` body.
fn read_delivery_status(text: &str, report: &mut DeliveryReport) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let address_of = |value: &str| {
        let address = value.split_once(';').map_or(value, |(_, address)| address);
        strip_brackets(address).to_lowercase()
    };
    for (name, value) in &fields {
        match name.as_str() {
            "final-recipient" => {
                let address = address_of(value);
                if !address.is_empty() && !report.recipients.contains(&address) {
                    report.recipients.push(address);
                }
            }
            "action" if report.action.is_none() => {
                report.action = Some(value.to_lowercase()).filter(|v| !v.is_empty());
            }
            "status" if report.status.is_none() => {
                report.status = value
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
                    .filter(|v| !v.is_empty());
            }
            _ => {}
        }
    }
    if report.recipients.is_empty() {
        report.recipients = fields
            .iter()
            .filter(|(name, _)| name == "original-recipient")
            .map(|(_, value)| address_of(value))
            .filter(|address| !address.is_empty())
            .collect();
    }
}

/// The Message-ID of an attached original (full message or headers only).
fn original_message_id(part: &MessagePart<'_>) -> Option<String> {
    let id = match &part.body {
        PartType::Message(original) => original.message_id().map(str::to_owned),
        _ if is_type(
            part,
            &[
                "text/rfc822-headers",
                "message/rfc822-headers",
                "message/global-headers",
                "message/rfc822",
            ],
        ) =>
        {
            MessageParser::default()
                .parse_headers(part.contents())
                .and_then(|headers| headers.message_id().map(str::to_owned))
        }
        _ => None,
    }?;
    let id = clean_id(&id);
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(raw: &str) -> ParsedMail {
        parse(raw.as_bytes(), &MailLimits::default()).unwrap()
    }

    #[test]
    fn empty_input_and_headerless_input_are_errors() {
        assert_eq!(
            parse(b"", &MailLimits::default()),
            Err(MailParseError::Empty)
        );
        assert_eq!(
            parse(b" \r\n\t", &MailLimits::default()),
            Err(MailParseError::Empty)
        );
        assert!(matches!(
            parse(b"\r\njust a body\r\n", &MailLimits::default()),
            Err(MailParseError::NotAMessage(_))
        ));
    }

    #[test]
    fn reads_addresses_ids_and_subject() {
        let mail = parse_ok(
            "From: \"=?UTF-8?B?0JDQvdC90LA=?=\" <Anna@Example.COM>\r\n\
             To: support@example.com, Bob <bob@example.com>\r\n\
             Cc: undisclosed-recipients:;\r\n\
             Reply-To: anna.private@example.com\r\n\
             Delivered-To: Support@Example.com\r\n\
             X-Original-To: <help@example.com>\r\n\
             Return-Path: <>\r\n\
             Message-ID: <abc@mail.example.com>\r\n\
             In-Reply-To: <x1@helpdesk.example>\r\n\
             References: <x0@helpdesk.example> <x1@helpdesk.example>\r\n\
             Subject: =?UTF-8?Q?=D0=9F=D1=80=D0=B8=D0=BD=D1=82=D0=B5=D1=80?= broken\r\n\
             Date: Mon, 2 Apr 2012 18:22:10 +0400\r\n\
             \r\n\
             Hello\r\n",
        );
        let from = mail.from.clone().unwrap();
        assert_eq!(from.email, "anna@example.com");
        assert_eq!(from.name.as_deref(), Some("Анна"));
        assert_eq!(mail.to.len(), 2);
        assert!(mail.cc.is_empty());
        assert_eq!(mail.reply_to[0].email, "anna.private@example.com");
        assert_eq!(mail.delivered_to, ["support@example.com"]);
        assert_eq!(mail.x_original_to, ["help@example.com"]);
        assert_eq!(mail.return_path.as_deref(), Some(""));
        assert_eq!(mail.message_id, "abc@mail.example.com");
        assert!(!mail.message_id_generated);
        assert_eq!(mail.in_reply_to, ["x1@helpdesk.example"]);
        assert_eq!(
            mail.references,
            ["x0@helpdesk.example", "x1@helpdesk.example"]
        );
        assert_eq!(mail.subject, "Принтер broken");
        assert_eq!(
            mail.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2012-04-02T14:22:10+00:00")
        );
        assert_eq!(mail.text, "Hello");
        assert_eq!(mail.header("subject"), Some("Принтер broken"));
        assert!(mail.report.is_none());
    }

    #[test]
    fn human_sizes_read_naturally() {
        assert_eq!(human_size(812), "812 bytes");
        assert_eq!(human_size(40 * 1024), "40 KB");
        assert_eq!(human_size(5 * MIB / 2), "2.5 MB");
        assert_eq!(human_size(30 * MIB), "30 MB");
        assert_eq!(human_size(25 * MIB), "25 MB");
    }

    #[test]
    fn a_long_body_is_read_up_to_the_limit_and_says_so() {
        let limits = MailLimits {
            max_text_read: 1000,
            max_html_read: 1000,
            ..MailLimits::default()
        };
        let lines: String = (0..100)
            .map(|i| format!("line {i:03} of the log\r\n"))
            .collect();
        let raw = format!("From: a@example.com\r\nSubject: log\r\n\r\n{lines}");
        let mail = parse(raw.as_bytes(), &limits).unwrap();
        assert!(
            mail.text.starts_with("line 000") && mail.text.len() <= 1000,
            "{}",
            mail.text
        );
        assert!(
            mail.text.ends_with("of the log"),
            "cut after a whole line: {}",
            mail.text
        );
        assert!(!mail.text.contains("line 099"));
        assert_eq!(
            mail.skipped,
            [
                "the text body (3 KB) was read only up to its first 1000 bytes; the whole part is in the raw message"
            ]
        );

        let cells: String = (0..100).map(|i| format!("<p>cell {i:03}</p>")).collect();
        let raw = format!(
            "From: a@example.com\r\nContent-Type: text/html\r\n\r\n<html><body>{cells}</body></html>"
        );
        let mail = parse(raw.as_bytes(), &limits).unwrap();
        assert!(mail.text.starts_with("cell 000") && !mail.text.contains("cell 099"));
        let html = mail.html.unwrap();
        assert!(html.ends_with("</p>"), "no tag cut in two: {html}");
        assert_eq!(mail.skipped.len(), 1, "{:?}", mail.skipped);
        assert!(
            mail.skipped[0]
                .starts_with("the HTML body (2 KB) was read only up to its first 1000 bytes")
        );

        let short = parse(b"From: a@example.com\r\n\r\nshort\r\n", &limits).unwrap();
        assert!(short.skipped.is_empty());
    }

    #[test]
    fn oversized_and_surplus_attachments_are_listed_as_skipped() {
        let raw = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n\
            --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.iso\r\n\r\n0123456789abcdef\r\n\
            --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nx\r\n\
            --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=b.pdf\r\n\r\ny\r\n\
            --b--\r\n";
        let limits = MailLimits {
            max_attachment_bytes: 10,
            max_attachments: 1,
            ..MailLimits::default()
        };
        let mail = parse(raw.as_bytes(), &limits).unwrap();
        assert_eq!(mail.text, "See attached");
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].file_name, "a.pdf");
        assert_eq!(
            mail.skipped,
            [
                "attachment big.iso (16 bytes) exceeds the 10 bytes limit",
                "attachment b.pdf (1 byte) left out: more than 1 attachments"
            ]
        );
    }
}
