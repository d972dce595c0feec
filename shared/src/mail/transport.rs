//! The outbound mail port, [`MailTransport`], and its implementations:
//!
//! - [`OutboxDir`]: each message becomes an `.eml` file in a directory; the
//!   local default, and what tests and `helpdesk` read back;
//! - [`SesTransport`]: Amazon SES v2 `SendEmail` with raw content, on AWS;
//! - [`super::smtp::SmtpRelay`]: an SMTP relay, for a desk on one machine.
//!
//! [`crate::app::MailTransportChoice`] names one (`outbox:./outbox`, `ses`,
//! `smtp://...` or `smtps://...`); the wiring builds it.
//!
//! A transport sends bytes it is given (see [`crate::mail::outbound::build`]);
//! it never changes the message, so the Message-ID the caller chose is what
//! the recipient sees. Errors say whether a retry may help
//! ([`TransportError::Temporary`]) or not ([`TransportError::Permanent`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock};

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Throttling, a network failure, a server error, a full disk: sending
    /// the same message again later may work.
    #[error("temporary mail transport failure: {0}")]
    Temporary(String),
    /// The message or the configuration was refused (message rejected,
    /// sender not verified, bad setting): retrying will not help.
    #[error("mail transport refused the message: {0}")]
    Permanent(String),
}

impl TransportError {
    /// Whether retrying later may help.
    pub fn is_temporary(&self) -> bool {
        matches!(self, TransportError::Temporary(_))
    }
}

/// Somewhere outbound mail goes.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends `raw` (RFC 5322 bytes, unchanged) from `envelope_from` (empty
    /// for the null sender `<>`) to `recipients`; returns the provider's
    /// message id or, for files, the file name.
    async fn send(
        &self,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<String, TransportError>;
}

/// Refuses envelope addresses that could break a header or a protocol line,
/// and an empty recipient list.
pub(super) fn check_envelope(
    envelope_from: &str,
    recipients: &[String],
) -> Result<(), TransportError> {
    if recipients.is_empty() {
        return Err(TransportError::Permanent("no recipients".to_owned()));
    }
    let bad = |a: &str| {
        a.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>' || c == ',')
    };
    if let Some(address) = std::iter::once(envelope_from)
        .chain(recipients.iter().map(String::as_str))
        .find(|a| bad(a))
    {
        return Err(TransportError::Permanent(format!(
            "envelope address {address:?} is not allowed"
        )));
    }
    if let Some(empty) = recipients.iter().find(|r| r.is_empty()) {
        return Err(TransportError::Permanent(format!(
            "envelope recipient {empty:?} is empty"
        )));
    }
    Ok(())
}

/// The Message-ID of `raw`, if its header block has one.
fn message_id_of(raw: &[u8]) -> Option<String> {
    mail_parser::MessageParser::new()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(str::to_owned))
}

/// A file-name-safe version of a Message-ID: ASCII letters, digits and
/// `.-_@+` are kept, anything else becomes `_`, at most 100 characters.
fn file_safe(id: &str) -> String {
    id.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Outbound mail as `.eml` files in a directory (the local default).
///
/// Each message is written as `<UTC timestamp>-<Message-ID>.eml` (the
/// timestamp like `20250314T092653.589793000Z`, the Message-ID made
/// file-name safe, or a random UUID when the message has none), to a
/// temporary name first and then renamed, so a reader never sees half a
/// message. Timestamps from one `OutboxDir` strictly increase, so file
/// names sort in sending order. The envelope is recorded in front of the
/// message as `Return-Path: <from>` and `X-Envelope-To: <a>, <b>`, the way
/// a delivering MTA would.
pub struct OutboxDir {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    last: Mutex<Option<DateTime<Utc>>>,
}

impl std::fmt::Debug for OutboxDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxDir").field("dir", &self.dir).finish()
    }
}

impl OutboxDir {
    /// An outbox in `dir` (created on the first message), stamped by the
    /// system clock.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::with_clock(dir, Arc::new(SystemClock))
    }

    /// An outbox in `dir` whose file names are stamped by `clock`.
    pub fn with_clock(dir: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self {
            dir: dir.into(),
            clock,
            last: Mutex::new(None),
        }
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `.eml` files in the outbox, oldest first (empty when the
    /// directory does not exist yet).
    pub fn list(&self) -> std::io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "eml") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// A timestamp later than every one this outbox has used.
    fn next_stamp(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamp = match *last {
            Some(previous) if previous >= now => previous + chrono::Duration::nanoseconds(1),
            _ => now,
        };
        *last = Some(stamp);
        stamp
    }
}

#[async_trait]
impl MailTransport for OutboxDir {
    async fn send(
        &self,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<String, TransportError> {
        check_envelope(envelope_from, recipients)?;
        let id = message_id_of(raw)
            .map(|id| file_safe(&id))
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let stamp = self.next_stamp().format("%Y%m%dT%H%M%S%.9fZ");
        let name = format!("{stamp}-{id}.eml");
        let envelope = format!(
            "Return-Path: <{envelope_from}>\r\nX-Envelope-To: {}\r\n",
            recipients
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(", ")
        );

        let temporary = |e: std::io::Error| {
            TransportError::Temporary(format!(
                "cannot write {name} in {}: {e}",
                self.dir.display()
            ))
        };
        let dir = self.dir.clone();
        let file_name = name.clone();
        let mut message = envelope.into_bytes();
        message.extend_from_slice(raw);
        let written = crate::blocking::run_sized(message.len(), move || {
            write_whole(&dir, &file_name, &message)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|result| result);
        written.map_err(temporary)?;
        tracing::info!(file = %name, dir = %self.dir.display(), "mail written to the outbox");
        Ok(name)
    }
}

/// Writes `message` as `dir/name`: created whole under a temporary name
/// (not `.eml`, so `list` never shows a half-written message), then
/// renamed. On an error the temporary file is removed (best effort).
///
/// Not synced: the outbox is as durable as the local store beside it,
/// whose commits are not synced either (`synchronous=NORMAL`); a crash of
/// the process loses neither, a power cut may lose the last of both. A
/// sync per message cost more than the rest of writing it.
fn write_whole(dir: &Path, name: &str, message: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(message)?;
        std::fs::rename(&tmp, dir.join(name))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Outbound mail through Amazon SES v2 (`SendEmail` with raw content).
#[derive(Debug, Clone)]
pub struct SesTransport {
    client: aws_sdk_sesv2::Client,
}

/// SES takes at most 50 recipients per message.
const SES_MAX_RECIPIENTS: usize = 50;

impl SesTransport {
    /// A transport over `client`.
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        Self { client }
    }
}

/// Throttling, quotas, paused sending, network and 5xx failures are
/// temporary; everything else (message rejected, sender or MAIL FROM domain
/// not verified, account suspended, bad request) is permanent.
///
/// A service error is described compactly as `Code: message (HTTP status)`;
/// other failures (timeouts, connection errors) with their whole cause
/// chain ([`DisplayErrorContext`]).
fn classify(error: SdkError<SendEmailError>) -> TransportError {
    let SdkError::ServiceError(service) = &error else {
        let message = DisplayErrorContext(&error).to_string();
        return match error {
            SdkError::ConstructionFailure(_) => TransportError::Permanent(message),
            _ => TransportError::Temporary(message),
        };
    };
    let err = service.err();
    let status = service.raw().status().as_u16();
    let message = format!(
        "{}: {} (HTTP {status})",
        err.code().unwrap_or("unknown SES error"),
        err.message().unwrap_or("no message"),
    );
    let temporary = err.is_too_many_requests_exception()
        || err.is_limit_exceeded_exception()
        || err.is_sending_paused_exception()
        || matches!(
            err.code(),
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "ServiceUnavailable"
                    | "InternalFailure"
                    | "RequestTimeout"
            )
        )
        || status == 429
        || status >= 500;
    if temporary {
        TransportError::Temporary(message)
    } else {
        TransportError::Permanent(message)
    }
}

#[async_trait]
impl MailTransport for SesTransport {
    async fn send(
        &self,
        envelope_from: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<String, TransportError> {
        check_envelope(envelope_from, recipients)?;
        if recipients.len() > SES_MAX_RECIPIENTS {
            return Err(TransportError::Permanent(format!(
                "{} recipients; SES takes at most {SES_MAX_RECIPIENTS} per message",
                recipients.len()
            )));
        }
        let raw_message = RawMessage::builder()
            .data(Blob::new(raw))
            .build()
            .map_err(|e| TransportError::Permanent(DisplayErrorContext(&e).to_string()))?;
        let mut request = self
            .client
            .send_email()
            .content(EmailContent::builder().raw(raw_message).build())
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(recipients.to_vec()))
                    .build(),
            );
        if !envelope_from.is_empty() {
            request = request.from_email_address(envelope_from);
        }
        let output = request.send().await.map_err(classify)?;
        let id = output.message_id().unwrap_or_default().to_owned();
        tracing::info!(ses_message_id = %id, recipients = recipients.len(), "mail sent through SES");
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::domain::TicketKey;
    use crate::mail::outbound::{Address, OutboundMail, build};
    use chrono::TimeZone;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("helpdesk-outbox-{}", uuid::Uuid::new_v4().simple()))
    }

    fn message(number: u64) -> Vec<u8> {
        let ticket = TicketKey::parse(&format!("SUP-{number}")).unwrap();
        build(&OutboundMail {
            from: Address::new("support@example.com"),
            to: vec![Address::new("kim@customer.org")],
            cc: Vec::new(),
            reply_to: None,
            subject: format!("Message {number}"),
            text: "Hello".to_owned(),
            html: None,
            message_id: crate::mail::outbound::message_id_for(&ticket, "ack", "example.com", b"k"),
            in_reply_to: None,
            references: Vec::new(),
            ticket: Some(ticket),
            automatic: true,
            loop_header: ("X-Helpdesk-Loop".to_owned(), "example-helpdesk".to_owned()),
            attachments: Vec::new(),
            date: Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap(),
        })
        .unwrap()
    }

    fn recipients() -> Vec<String> {
        vec!["kim@customer.org".to_owned()]
    }

    #[tokio::test]
    async fn the_outbox_keeps_readable_messages_in_sending_order() {
        let dir = temp_dir();
        // A clock that stands still: names must still sort in sending order.
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap(),
        ));
        let outbox = OutboxDir::with_clock(&dir, clock);
        assert!(outbox.list().unwrap().is_empty(), "no directory yet");

        let mut names = Vec::new();
        for number in [3, 1, 2] {
            let name = outbox
                .send("support@example.com", &recipients(), &message(number))
                .await
                .unwrap();
            names.push(name);
        }
        let files = outbox.list().unwrap();
        let listed: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(listed, names);
        assert!(
            listed[0].starts_with("20250314T092653.000000000Z-sup-3."),
            "{listed:?}"
        );
        assert!(listed[0].ends_with("@example.com.eml"), "{listed:?}");

        let subjects: Vec<String> = files
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).unwrap();
                let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
                assert_eq!(
                    parsed.return_address(),
                    Some("support@example.com"),
                    "the envelope sender is recorded"
                );
                assert_eq!(
                    parsed.header("X-Envelope-To").and_then(|v| v.as_text()),
                    Some("<kim@customer.org>")
                );
                parsed.subject().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            subjects,
            [
                "[SUP-3] Message 3",
                "[SUP-1] Message 1",
                "[SUP-2] Message 2"
            ]
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".eml"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_message_without_message_id_gets_a_random_file_name() {
        let dir = temp_dir();
        let outbox = OutboxDir::new(&dir);
        let name = outbox
            .send(
                "",
                &recipients(),
                b"Subject: no id\r\nFrom: a@example.com\r\n\r\nHello\r\n",
            )
            .await
            .unwrap();
        assert!(name.ends_with(".eml"));
        let raw = std::fs::read(dir.join(&name)).unwrap();
        assert!(raw.starts_with(b"Return-Path: <>\r\n"), "the null sender");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn envelope_addresses_with_line_breaks_are_refused() {
        let outbox = OutboxDir::new(temp_dir());
        for (from, to) in [
            ("support@example.com\r\nX: y", recipients()),
            (
                "support@example.com",
                vec!["kim@customer.org\nX: y".to_owned()],
            ),
            ("support@example.com", vec!["<kim@customer.org>".to_owned()]),
            ("support@example.com", Vec::new()),
            ("support@example.com", vec![String::new()]),
        ] {
            let error = outbox.send(from, &to, &message(1)).await.unwrap_err();
            assert!(!error.is_temporary(), "{error}");
        }
        assert!(outbox.list().unwrap().is_empty());
    }

    fn service_error(err: SendEmailError, status: u16) -> SdkError<SendEmailError> {
        let raw =
            aws_sdk_sesv2::config::http::HttpResponse::new(status.try_into().unwrap(), "".into());
        SdkError::service_error(err, raw)
    }

    fn meta(code: &str) -> aws_sdk_sesv2::error::ErrorMetadata {
        aws_sdk_sesv2::error::ErrorMetadata::builder()
            .code(code)
            .message("from the test")
            .build()
    }

    #[test]
    fn throttling_and_server_errors_are_worth_a_retry() {
        use aws_sdk_sesv2::types::error::{LimitExceededException, TooManyRequestsException};
        let throttled = SendEmailError::TooManyRequestsException(
            TooManyRequestsException::builder()
                .meta(meta("TooManyRequestsException"))
                .build(),
        );
        let quota = SendEmailError::LimitExceededException(
            LimitExceededException::builder()
                .meta(meta("LimitExceededException"))
                .build(),
        );
        for error in [
            service_error(throttled, 429),
            service_error(quota, 400),
            service_error(SendEmailError::generic(meta("InternalFailure")), 500),
            service_error(SendEmailError::generic(meta("Whatever")), 503),
            SdkError::timeout_error("no answer in time"),
        ] {
            let classified = classify(error);
            assert!(classified.is_temporary(), "{classified}");
        }
    }

    #[test]
    fn rejected_messages_and_unverified_senders_are_permanent() {
        use aws_sdk_sesv2::types::error::{MailFromDomainNotVerifiedException, MessageRejected};
        let rejected = SendEmailError::MessageRejected(
            MessageRejected::builder()
                .meta(meta("MessageRejected"))
                .build(),
        );
        let unverified = SendEmailError::MailFromDomainNotVerifiedException(
            MailFromDomainNotVerifiedException::builder()
                .meta(meta("MailFromDomainNotVerifiedException"))
                .build(),
        );
        let classified = classify(service_error(rejected, 400));
        assert_eq!(
            classified,
            TransportError::Permanent("MessageRejected: from the test (HTTP 400)".to_owned())
        );
        assert!(!classify(service_error(unverified, 400)).is_temporary());
    }
}
