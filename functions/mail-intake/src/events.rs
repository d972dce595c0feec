//! What an invocation is about, before anything is read: the SES
//! receipt-rule event (Lambda action) and the S3 ObjectCreated event become
//! [`Delivery`] values, one per stored raw message, saying where the
//! message is and how it reached us.
//!
//! - SES: the receipt rule's S3 action stored the message at
//!   `HELPDESK_RAW_MAIL` + `mail.messageId` (or where `receipt.action` says,
//!   when the event is an S3 action's own notification). Recipients and the
//!   spam and virus verdicts come from `receipt`.
//! - S3: the object of each `ObjectCreated:*` record (the key URL-decoded),
//!   when it lies in the raw-mail bucket under the raw-mail prefix; any
//!   other object is skipped with a reason. SES's
//!   `AMAZON_SES_SETUP_NOTIFICATION` object is not mail and is skipped too.
//!   Recipients and verdicts come from the headers SES put in front of the
//!   stored message ([`SesStamp`]).

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::ses::{SimpleEmailEvent, SimpleEmailVerdict};
use helpdesk::domain::{Authentication, Verdict};
use serde_json::Value;

/// The object SES writes when an S3 action is set up; not a message.
pub const SES_SETUP_NOTIFICATION: &str = "AMAZON_SES_SETUP_NOTIFICATION";

/// Where the receipt rule's S3 action stores raw mail, from
/// `HELPDESK_RAW_MAIL=s3://bucket/prefix/`. The prefix is taken literally
/// (SES appends the message id to it as is), so it must match the rule's
/// `ObjectKeyPrefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMailLocation {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, for example `raw/` (may be empty).
    pub prefix: String,
}

/// `HELPDESK_RAW_MAIL` is not an `s3://bucket/prefix/` URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HELPDESK_RAW_MAIL must look like s3://bucket/raw/, not {0:?}")]
pub struct BadLocation(pub String);

impl RawMailLocation {
    /// Parses `s3://bucket/prefix/` (`s3://bucket` means no prefix).
    pub fn parse(value: &str) -> Result<Self, BadLocation> {
        let bad = || BadLocation(value.to_owned());
        let rest = value.trim().strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !bucket_ok || prefix.starts_with('/') || prefix.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// Whether `key` in `bucket` is under this location.
    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        bucket == self.bucket && key.starts_with(&self.prefix) && key.len() > self.prefix.len()
    }
}

/// Which event brought a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An SES receipt rule's Lambda action.
    Ses,
    /// An S3 ObjectCreated notification.
    S3,
}

impl Source {
    /// `ses` or `s3`, as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Ses => "ses",
            Source::S3 => "s3",
        }
    }
}

/// One stored raw message to take in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event that named it.
    pub source: Source,
    /// The bucket the raw message is in.
    pub bucket: String,
    /// Its object key (decoded).
    pub key: String,
    /// SES's id of the message (SES events only).
    pub ses_message_id: Option<String>,
    /// Envelope recipients from the SES receipt (empty for S3 events: they
    /// come from the stored headers).
    pub recipients: Vec<String>,
    /// SES's spam verdict was `FAIL`.
    pub spam: bool,
    /// SES's virus verdict was `FAIL`.
    pub virus: bool,
    /// SES's SPF, DKIM and DMARC verdicts (SES events only).
    pub authentication: Option<Authentication>,
}

/// An S3 record that names no message of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The bucket named.
    pub bucket: String,
    /// The key named (decoded when it could be).
    pub key: String,
    /// Why it is not taken.
    pub reason: String,
}

/// An invocation, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// An SES receipt-rule event.
    Ses {
        /// The messages (SES sends one per event).
        deliveries: Vec<Delivery>,
        /// The rule invoked us with `RequestResponse` and waits for a
        /// disposition.
        synchronous: bool,
    },
    /// An S3 notification.
    S3 {
        /// The raw-mail objects.
        deliveries: Vec<Delivery>,
        /// The other records.
        skipped: Vec<Skipped>,
    },
}

/// The event is not one this function takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Neither an SES receipt nor an S3 notification.
    #[error("not an SES receipt-rule or S3 notification event ({0})")]
    Unrecognised(String),
    /// The right shape, but a required part is missing or wrong.
    #[error("malformed {shape} event: {reason}")]
    Malformed {
        /// `SES` or `S3`.
        shape: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Understands an event (see the module docs).
pub fn parse(event: Value, location: &RawMailLocation) -> Result<Invocation, EventError> {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Err(EventError::Unrecognised(describe(&event)));
    };
    let Some(first) = records.first() else {
        return Err(EventError::Unrecognised("an empty Records list".into()));
    };
    let source = first
        .get("eventSource")
        .or_else(|| first.get("EventSource"))
        .and_then(Value::as_str);
    match (
        source,
        first.get("ses").is_some(),
        first.get("s3").is_some(),
    ) {
        (Some("aws:ses"), _, _) | (None, true, false) => ses(event, location),
        (Some("aws:s3"), _, _) | (None, false, true) => s3(event, location),
        (Some(other), _, _) => Err(EventError::Unrecognised(format!("records from {other}"))),
        _ => Err(EventError::Unrecognised(
            "records without an eventSource".into(),
        )),
    }
}

fn describe(event: &Value) -> String {
    match event {
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            format!("an object with keys {}", keys.join(", "))
        }
        Value::Null => "null".into(),
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Bool(_) | Value::Number(_) => "a scalar".into(),
    }
}

/// A receipt verdict as the desk reads it.
fn verdict(verdict: &SimpleEmailVerdict) -> Verdict {
    verdict
        .status
        .as_deref()
        .map_or(Verdict::None, Verdict::parse)
}

fn failed(verdict: &SimpleEmailVerdict) -> bool {
    verdict
        .status
        .as_deref()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("FAIL"))
}

/// SES message ids are short runs of letters and digits; anything that
/// could leave the prefix (`/`, `..`) is refused.
fn valid_ses_message_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && id != "."
        && id != ".."
}

fn ses(event: Value, location: &RawMailLocation) -> Result<Invocation, EventError> {
    let malformed = |reason: String| EventError::Malformed {
        shape: "SES",
        reason,
    };
    let event: SimpleEmailEvent =
        serde_json::from_value(event).map_err(|e| malformed(e.to_string()))?;
    let mut synchronous = false;
    let mut deliveries = Vec::with_capacity(event.records.len());
    for record in event.records {
        let mail = record.ses.mail;
        let receipt = record.ses.receipt;
        let action = &receipt.action;
        synchronous |= action.invocation_type.as_deref() == Some("RequestResponse");
        let message_id = mail
            .message_id
            .filter(|id| valid_ses_message_id(id))
            .ok_or_else(|| {
                malformed("mail.messageId is missing or not an SES message id".into())
            })?;
        // An S3 action's own notification names the object; the Lambda
        // action's event does not: the object is where our rule's S3 action
        // (which runs first) put it.
        let (bucket, key) = match (&action.bucket_name, &action.object_key) {
            (Some(bucket), Some(key)) if !bucket.is_empty() && !key.is_empty() => {
                (bucket.clone(), key.clone())
            }
            _ => (
                location.bucket.clone(),
                format!("{}{message_id}", location.prefix),
            ),
        };
        deliveries.push(Delivery {
            source: Source::Ses,
            bucket,
            key,
            spam: failed(&receipt.spam_verdict),
            virus: failed(&receipt.virus_verdict),
            authentication: Some(Authentication {
                spf: verdict(&receipt.spf_verdict),
                dkim: verdict(&receipt.dkim_verdict),
                dmarc: verdict(&receipt.dmarc_verdict),
            }),
            recipients: receipt.recipients,
            ses_message_id: Some(message_id),
        });
    }
    Ok(Invocation::Ses {
        deliveries,
        synchronous,
    })
}

fn s3(event: Value, location: &RawMailLocation) -> Result<Invocation, EventError> {
    let event: S3Event = serde_json::from_value(event).map_err(|e| EventError::Malformed {
        shape: "S3",
        reason: e.to_string(),
    })?;
    let mut deliveries = Vec::new();
    let mut skipped = Vec::new();
    for record in event.records {
        let bucket = record.s3.bucket.name.unwrap_or_default();
        let encoded = record.s3.object.key.unwrap_or_default();
        let key = match record.s3.object.url_decoded_key {
            Some(decoded) if !decoded.is_empty() => decoded,
            _ => decode_key(&encoded).ok_or_else(|| EventError::Malformed {
                shape: "S3",
                reason: format!("object key {encoded:?} is not URL-encoded UTF-8"),
            })?,
        };
        let event_name = record.event_name.unwrap_or_default();
        let reason = if !event_name.starts_with("ObjectCreated:") {
            Some(format!("not an ObjectCreated event ({event_name})"))
        } else if bucket != location.bucket {
            Some(format!("not the raw-mail bucket {}", location.bucket))
        } else if !location.contains(&bucket, &key) {
            Some(format!("outside the raw-mail prefix {:?}", location.prefix))
        } else if key.ends_with(SES_SETUP_NOTIFICATION) {
            Some("SES's setup notification, not mail".into())
        } else {
            None
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                bucket,
                key,
                reason,
            }),
            None => deliveries.push(Delivery {
                source: Source::S3,
                bucket,
                key,
                ses_message_id: None,
                recipients: Vec::new(),
                spam: false,
                virus: false,
                authentication: None,
            }),
        }
    }
    Ok(Invocation::S3 {
        deliveries,
        skipped,
    })
}

/// Decodes an S3 notification's object key (`application/x-www-form-urlencoded`:
/// `+` is a space, `%XX` a byte); `None` when it is not valid.
pub fn decode_key(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = encoded.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// What SES wrote in front of a message it stored: its verdicts and the
/// envelope recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SesStamp {
    /// `X-SES-Spam-Verdict: FAIL`.
    pub spam: bool,
    /// `X-SES-Virus-Verdict: FAIL`.
    pub virus: bool,
    /// The `for <address>` of SES's own (topmost) `Received` header; SES
    /// names the recipient there when there is one, which is how a Bcc to
    /// the support address finds its queue.
    pub recipient: Option<String>,
    /// SES's SPF, DKIM and DMARC verdicts, from the topmost
    /// `Authentication-Results` header written as `amazonses.com` (SES
    /// puts its own headers on top of the message).
    pub authentication: Option<Authentication>,
}

/// Reads [`SesStamp`] from the header block of a stored message. Only a
/// `FAIL` verdict counts: a sender could forge these headers, but forging a
/// failure only hurts the sender.
pub fn ses_stamp(raw: &[u8]) -> SesStamp {
    let mut stamp = SesStamp {
        authentication: Authentication::from_headers(
            header_block(raw)
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
            "amazonses.com",
        ),
        ..SesStamp::default()
    };
    let mut seen_received = false;
    for (name, value) in header_block(raw) {
        if name.eq_ignore_ascii_case("X-SES-Spam-Verdict") {
            stamp.spam |= value.trim().eq_ignore_ascii_case("FAIL");
        } else if name.eq_ignore_ascii_case("X-SES-Virus-Verdict") {
            stamp.virus |= value.trim().eq_ignore_ascii_case("FAIL");
        } else if name.eq_ignore_ascii_case("Received") && !seen_received {
            seen_received = true;
            if value.contains(".amazonaws.com") {
                stamp.recipient = received_for(&value);
            }
        }
    }
    stamp
}

/// The address of `... for <address>; date` in a `Received` header.
fn received_for(value: &str) -> Option<String> {
    let (_, rest) = value.rsplit_once(" for ")?;
    let address = rest.split(';').next()?.trim().trim_matches(['<', '>']);
    let plausible = address.contains('@')
        && !address.starts_with('@')
        && !address.ends_with('@')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then(|| address.to_ascii_lowercase())
}

/// The unfolded header fields of a message, up to the first empty line (at
/// most the first 64 KiB are looked at).
fn header_block(raw: &[u8]) -> Vec<(String, String)> {
    let head = &raw[..raw.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                fields.push((name.to_owned(), value.trim().to_owned()));
            }
            // Not a header line: the header block is over.
            _ => break,
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    fn location() -> RawMailLocation {
        RawMailLocation::parse("s3://helpdesk-mail-example/raw/").unwrap()
    }

    fn event(name: &str) -> Value {
        let path = format!(
            "{}/../../events/mail-intake/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect(&path);
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_raw_mail_location_is_a_bucket_and_a_literal_prefix() {
        assert_eq!(
            RawMailLocation::parse("s3://my-bucket/raw/").unwrap(),
            RawMailLocation {
                bucket: "my-bucket".into(),
                prefix: "raw/".into()
            }
        );
        assert_eq!(RawMailLocation::parse("s3://my-bucket").unwrap().prefix, "");
        for bad in [
            "my-bucket/raw/",
            "s3://",
            "s3://My_Bucket/raw/",
            "s3://b/raw/",
            "s3://bucket//x",
        ] {
            assert!(RawMailLocation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_ses_event_names_the_object_the_s3_action_stored_and_its_verdicts() {
        let Invocation::Ses {
            deliveries,
            synchronous,
        } = parse(event("ses-spam-fail.json"), &location()).unwrap()
        else {
            panic!("not SES");
        };
        assert!(!synchronous);
        let [delivery] = deliveries.as_slice() else {
            panic!("{deliveries:?}");
        };
        assert_eq!(delivery.bucket, "helpdesk-mail-example");
        assert_eq!(
            Some(delivery.key.as_str()),
            delivery
                .ses_message_id
                .as_deref()
                .map(|id| format!("raw/{id}"))
                .as_deref()
        );
        assert!(delivery.spam && !delivery.virus);
        assert_eq!(delivery.recipients, ["support@example.com"]);

        let Invocation::Ses { deliveries, .. } =
            parse(event("ses-virus-fail.json"), &location()).unwrap()
        else {
            panic!("not SES");
        };
        assert!(deliveries[0].virus && !deliveries[0].spam);
    }

    #[test]
    fn a_request_response_rule_wants_a_disposition() {
        let Invocation::Ses { synchronous, .. } =
            parse(event("ses-sync-request-response.json"), &location()).unwrap()
        else {
            panic!("not SES");
        };
        assert!(synchronous);
    }

    #[test]
    fn an_ses_message_id_cannot_leave_the_prefix() {
        let mut value = event("ses-new-mail.json");
        value["Records"][0]["ses"]["mail"]["messageId"] = "../attachments/x".into();
        assert!(matches!(
            parse(value, &location()),
            Err(EventError::Malformed { shape: "SES", .. })
        ));
    }

    #[test]
    fn an_s3_event_key_is_url_decoded() {
        let Invocation::S3 {
            deliveries,
            skipped,
        } = parse(event("s3-object-created-bcc.json"), &location()).unwrap()
        else {
            panic!("not S3");
        };
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].key, "raw/uploads/bcc mail+1.eml");
        assert!(deliveries[0].recipients.is_empty());
        assert_eq!(decode_key("a%2Fb+c%2B%C3%A9").as_deref(), Some("a/b c+é"));
        assert_eq!(decode_key("bad%zz"), None);
        assert_eq!(decode_key("cut%4"), None);
    }

    #[test]
    fn objects_outside_the_raw_mail_prefix_and_the_setup_notification_are_skipped() {
        for name in [
            "s3-object-created-attachment.json",
            "s3-ses-setup-notification.json",
        ] {
            let Invocation::S3 {
                deliveries,
                skipped,
            } = parse(event(name), &location()).unwrap()
            else {
                panic!("not S3");
            };
            assert!(deliveries.is_empty(), "{name}: {deliveries:?}");
            assert_eq!(skipped.len(), 1, "{name}");
        }
    }

    #[test]
    fn other_events_are_not_taken() {
        assert!(matches!(
            parse(event("not-an-event.json"), &location()),
            Err(EventError::Unrecognised(_))
        ));
        assert!(matches!(
            parse(serde_json::json!({"Records": []}), &location()),
            Err(EventError::Unrecognised(_))
        ));
        assert!(matches!(
            parse(
                serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]}),
                &location()
            ),
            Err(EventError::Unrecognised(_))
        ));
    }

    #[test]
    fn the_ses_stamp_gives_failed_verdicts_and_the_envelope_recipient() {
        let raw = b"Return-Path: <a@b.example>\r\nReceived: from x (x [192.0.2.1])\r\n by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc\r\n for Support@Example.com;\r\n Mon, 02 Mar 2026 09:00:04 +0000 (UTC)\r\nAuthentication-Results: amazonses.com;\r\n spf=fail (spfCheck: 192.0.2.1 is not permitted) smtp.mailfrom=b.example;\r\n dkim=fail header.i=@b.example;\r\n dmarc=fail header.from=b.example;\r\nX-SES-Spam-Verdict: FAIL\r\nX-SES-Virus-Verdict: PASS\r\nAuthentication-Results: amazonses.com; dmarc=pass\r\nReceived: from y by z for other@example.org; date\r\nSubject: hi\r\n\r\nX-SES-Virus-Verdict: FAIL\r\n";
        assert_eq!(
            ses_stamp(raw),
            SesStamp {
                spam: true,
                virus: false,
                recipient: Some("support@example.com".into()),
                // SES's own (topmost) results, not one further down.
                authentication: Some(Authentication {
                    spf: Verdict::Fail,
                    dkim: Verdict::Fail,
                    dmarc: Verdict::Fail,
                }),
            }
        );
        // Not stored by SES: no recipient from an ordinary Received header.
        assert_eq!(
            ses_stamp(b"Received: from y by z for other@example.org; date\nSubject: x\n\nbody"),
            SesStamp::default()
        );
        assert_eq!(ses_stamp(b"\n%PDF-1.7"), SesStamp::default());
    }
}
