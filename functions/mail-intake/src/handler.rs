//! Turns one invocation (an SES receipt-rule event or an S3 notification)
//! into calls of the mail pipeline, [`helpdesk::mail::ingest::ingest`], one
//! per stored message, and the pipeline's answers into the function's
//! result.
//!
//! | what happened | result | why |
//! |---|---|---|
//! | every message taken (ticket, reply, duplicate, bounce, or deliberately not accepted: quarantined, dropped, rejected, held) | `Ok` | |
//! | a message is not mail at all ([`IngestError::Unacceptable`]) | `Ok`, logged as `unacceptable` | retrying cannot help; the raw message stays where SES stored it |
//! | the raw message cannot be read, or the pipeline fails temporarily | `Err` (`TemporaryFailure`, `RawMail...`) | Lambda retries the asynchronous event, then hands it to the on-failure destination |
//! | the pipeline fails in a way retrying cannot fix ([`IngestError::Permanent`]: stored data that cannot be read, a request the store refuses) | `Err` (`PermanentFailure`), its reason logged | the message is not taken again on Lambda's retries of the same invocation (same request id; a marker says so), so the event reaches the on-failure destination once, after retries that do nothing; a redrive from there is a new invocation and is taken afresh |
//! | not an SES or S3 event, or a malformed one | `Err` | a deployment mistake: it should end up in the on-failure destination, where someone sees it |
//!
//! Every message (and every skipped S3 record) is logged as one JSON line
//! with its outcome. The answer is `{"disposition":"CONTINUE"}` when an SES
//! rule invoked the function synchronously (`RequestResponse`), and
//! otherwise `{"messages":[...]}` with the same per-message reports.
//!
//! Redelivery is harmless: the pipeline records a Message-ID once and sends
//! an acknowledgement once, so an event delivered twice (SES and Lambda
//! retries, or SES's Lambda action and an S3 notification for the same
//! object) gives one ticket and one acknowledgement.

use helpdesk::app::{BlobChoice, Services};
use helpdesk::keys;
use helpdesk::mail::ingest::{self, Envelope, IngestError, Ingested};
use helpdesk::mail::send::SendOutcome;
use helpdesk::store::ClaimStore;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::{Value, json};

use crate::events::{self, Delivery, EventError, Invocation, RawMailLocation, Skipped, Source};
use crate::raw::{self, RawMailReader, ReadError};

/// What the handler needs, built once per process.
#[derive(Debug)]
pub struct MailIntake<R> {
    /// The helpdesk's services (configuration, store, blobs, mail).
    pub services: Services,
    /// Where raw messages are read from.
    pub raw_mail: R,
    /// Where SES's S3 action stores raw mail (`HELPDESK_RAW_MAIL`).
    pub location: RawMailLocation,
    /// The blob store's location (`HELPDESK_BLOBS`), to name raw mail on
    /// the timeline.
    pub blobs: BlobChoice,
}

/// Why an invocation failed (and should be retried or looked at).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Not an event this function takes.
    #[error(transparent)]
    Event(#[from] EventError),
    /// A stored message could not be read.
    #[error(transparent)]
    RawMail(#[from] ReadError),
    /// The pipeline failed in a way a retry may fix.
    #[error("temporary failure on s3://{bucket}/{key}: {reason}")]
    Temporary {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What failed.
        reason: String,
    },
    /// The pipeline failed in a way no retry can fix; the raw message stays
    /// where it is.
    #[error("permanent failure on s3://{bucket}/{key}{}: {reason}", if *.earlier { " (on an earlier attempt of this invocation; not taken again)" } else { "" })]
    Permanent {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What failed.
        reason: String,
        /// Found failed by an earlier attempt of the same invocation.
        earlier: bool,
    },
}

impl HandlerError {
    /// A short name for the error, as Lambda reports it (`errorType`).
    pub fn kind(&self) -> &'static str {
        match self {
            HandlerError::Event(EventError::Unrecognised(_)) => "UnrecognisedEvent",
            HandlerError::Event(EventError::Malformed { .. }) => "MalformedEvent",
            HandlerError::RawMail(ReadError::Missing { .. }) => "RawMailMissing",
            HandlerError::RawMail(ReadError::Failed { .. }) => "RawMailUnreadable",
            HandlerError::Temporary { .. } => "TemporaryFailure",
            HandlerError::Permanent { .. } => "PermanentFailure",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What became of one message (or one skipped S3 record); logged and
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `ses` or `s3`.
    pub source: &'static str,
    /// The bucket of the raw message.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// SES's message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ses_message_id: Option<String>,
    /// `new_ticket`, `reply`, `duplicate`, `bounce`, `not_accepted`,
    /// `unacceptable`, `skipped`.
    pub outcome: &'static str,
    /// The ticket, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// More about the outcome: how a reply was recognised; for
    /// `not_accepted`, the pipeline's disposition (`quarantined`,
    /// `dropped`, `rejected`, `held`, `duplicate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a new ticket: `sent`, `already_sent`, `suppressed`, `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<&'static str>,
    /// Why (not accepted, unacceptable, skipped, suppressed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The raw message's key as recorded on the timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_key: Option<String>,
}

impl Report {
    fn new(delivery: &Delivery, outcome: &'static str) -> Self {
        Self {
            source: delivery.source.as_str(),
            bucket: delivery.bucket.clone(),
            key: delivery.key.clone(),
            ses_message_id: delivery.ses_message_id.clone(),
            outcome,
            ticket: None,
            detail: None,
            acknowledgement: None,
            reason: None,
            raw_key: None,
        }
    }

    fn skipped(skipped: Skipped) -> Self {
        Self {
            source: Source::S3.as_str(),
            bucket: skipped.bucket,
            key: skipped.key,
            ses_message_id: None,
            outcome: "skipped",
            ticket: None,
            detail: None,
            acknowledgement: None,
            reason: Some(skipped.reason),
            raw_key: None,
        }
    }

    /// One JSON log line.
    fn log(&self) {
        tracing::info!(
            source = self.source,
            bucket = %self.bucket,
            key = %self.key,
            ses_message_id = self.ses_message_id.as_deref(),
            outcome = self.outcome,
            ticket = self.ticket.as_deref(),
            detail = self.detail.as_deref(),
            acknowledgement = self.acknowledgement,
            reason = self.reason.as_deref(),
            raw_key = self.raw_key.as_deref(),
            "mail intake"
        );
    }
}

/// Handles one invocation (see the module docs).
pub async fn handle<R: RawMailReader>(
    intake: &MailIntake<R>,
    event: LambdaEvent<Value>,
) -> Result<Value, HandlerError> {
    let invocation = match events::parse(event.payload, &intake.location) {
        Ok(invocation) => invocation,
        Err(e) => {
            tracing::error!(outcome = "failed", error = %e, "mail intake: event not taken");
            return Err(e.into());
        }
    };
    match invocation {
        Invocation::Ses {
            deliveries,
            synchronous,
        } => {
            let reports = take_all(intake, &event.context.request_id, deliveries).await?;
            if synchronous {
                Ok(json!({ "disposition": "CONTINUE" }))
            } else {
                Ok(json!({ "messages": reports }))
            }
        }
        Invocation::S3 {
            deliveries,
            skipped,
        } => {
            let mut reports: Vec<Report> = skipped.into_iter().map(Report::skipped).collect();
            for report in &reports {
                report.log();
            }
            reports.extend(take_all(intake, &event.context.request_id, deliveries).await?);
            Ok(json!({ "messages": reports }))
        }
    }
}

/// Takes every message, even after one failed (what was taken is not taken
/// again on the retry); the first error fails the invocation.
async fn take_all<R: RawMailReader>(
    intake: &MailIntake<R>,
    request_id: &str,
    deliveries: Vec<Delivery>,
) -> Result<Vec<Report>, HandlerError> {
    let mut reports = Vec::with_capacity(deliveries.len());
    let mut first_error = None;
    for delivery in deliveries {
        match take(intake, request_id, &delivery).await {
            Ok(report) => {
                report.log();
                reports.push(report);
            }
            Err(e) => {
                tracing::error!(
                    source = delivery.source.as_str(),
                    bucket = %delivery.bucket,
                    key = %delivery.key,
                    ses_message_id = delivery.ses_message_id.as_deref(),
                    outcome = "failed",
                    error_type = e.kind(),
                    error = %e,
                    "mail intake"
                );
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// Reads one stored message and hands it to the pipeline, unless an
/// earlier attempt of this invocation found that it fails for good.
async fn take<R: RawMailReader>(
    intake: &MailIntake<R>,
    request_id: &str,
    delivery: &Delivery,
) -> Result<Report, HandlerError> {
    let failed = FailedForGood::new(intake, request_id, delivery);
    if let Some(reason) = failed.earlier().await {
        return Err(failed.error(reason, true));
    }
    let raw = intake
        .raw_mail
        .read(&delivery.bucket, &delivery.key)
        .await?;
    let (recipients, spam, virus, authentication) = match delivery.source {
        Source::Ses => (
            delivery.recipients.clone(),
            delivery.spam,
            delivery.virus,
            delivery.authentication,
        ),
        Source::S3 => {
            let stamp = events::ses_stamp(&raw);
            (
                stamp.recipient.into_iter().collect(),
                stamp.spam,
                stamp.virus,
                stamp.authentication,
            )
        }
    };
    let raw_key = raw::timeline_key(&delivery.bucket, &delivery.key, &intake.blobs);
    let envelope = Envelope {
        recipients,
        queue: None,
        raw_key: Some(raw_key.clone()),
        spam,
        virus,
        authentication,
    };
    let mut report = match ingest::ingest(&intake.services, raw, envelope).await {
        Ok(ingested) => report_of(delivery, ingested),
        Err(IngestError::Unacceptable { reason, .. }) => {
            let mut report = Report::new(delivery, "unacceptable");
            report.reason = Some(reason);
            report
        }
        Err(IngestError::Temporary { what, .. }) => {
            return Err(HandlerError::Temporary {
                bucket: delivery.bucket.clone(),
                key: delivery.key.clone(),
                reason: what,
            });
        }
        Err(e @ IngestError::Permanent { .. }) => {
            let reason = e.to_string();
            failed.remember(&reason).await;
            return Err(failed.error(reason, false));
        }
    };
    report.raw_key = Some(raw_key);
    Ok(report)
}

/// The memory of a delivery that failed for good within one invocation:
/// Lambda retries an asynchronous invocation with the same request id, and
/// those retries should not take the message again, only fail again so that
/// the event reaches the on-failure destination.
struct FailedForGood<'a> {
    store: &'a dyn ClaimStore,
    marker: String,
    delivery: &'a Delivery,
    now: chrono::DateTime<chrono::Utc>,
}

impl<'a> FailedForGood<'a> {
    fn new<R>(intake: &'a MailIntake<R>, request_id: &str, delivery: &'a Delivery) -> Self {
        Self {
            store: intake.services.store.as_ref(),
            marker: keys::marker::delivery_failed(request_id, &delivery.bucket, &delivery.key),
            delivery,
            now: intake.services.clock.now(),
        }
    }

    /// The reason an earlier attempt recorded, if one did.
    async fn earlier(&self) -> Option<String> {
        self.store.get_marker(&self.marker).await.ok().flatten()
    }

    /// Records the failure for the retries (best effort: without the
    /// marker a retry takes the message again and fails the same way).
    async fn remember(&self, reason: &str) {
        let expires = self.now + chrono::Duration::days(1);
        if let Err(e) = self
            .store
            .put_marker(&self.marker, reason, Some(expires))
            .await
        {
            tracing::warn!(error = %e, "mail intake: the failure could not be recorded for retries");
        }
    }

    fn error(&self, reason: String, earlier: bool) -> HandlerError {
        HandlerError::Permanent {
            bucket: self.delivery.bucket.clone(),
            key: self.delivery.key.clone(),
            reason,
            earlier,
        }
    }
}

fn report_of(delivery: &Delivery, ingested: Ingested) -> Report {
    match ingested {
        Ingested::NewTicket {
            ticket,
            acknowledgement,
        } => {
            let mut report = Report::new(delivery, "new_ticket");
            report.ticket = Some(ticket.to_string());
            let (ack, reason) = match acknowledgement {
                Some(SendOutcome::Sent { .. }) => ("sent", None),
                Some(SendOutcome::AlreadySent { .. }) => ("already_sent", None),
                Some(SendOutcome::Suppressed { reason }) => ("suppressed", Some(reason)),
                None => ("none", None),
            };
            report.acknowledgement = Some(ack);
            report.reason = reason;
            report
        }
        Ingested::Reply {
            ticket,
            how,
            reopened,
        } => {
            let mut report = Report::new(delivery, "reply");
            report.ticket = Some(ticket.to_string());
            report.detail = Some(if reopened {
                format!("{how}; reopened")
            } else {
                how
            });
            report
        }
        Ingested::Duplicate { ticket } => {
            let mut report = Report::new(delivery, "duplicate");
            report.ticket = Some(ticket.to_string());
            report
        }
        Ingested::Bounce { ticket } => {
            let mut report = Report::new(delivery, "bounce");
            report.ticket = ticket.map(|t| t.to_string());
            report
        }
        Ingested::NotAccepted { outcome, reason } => {
            let mut report = Report::new(delivery, "not_accepted");
            report.detail = Some(outcome.to_string());
            report.reason = Some(reason);
            report
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use bytes::Bytes;
    use helpdesk::app::{Settings, StoreChoice};

    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The objects of `events/mail-intake/objects.json`, read from the
    /// repository instead of S3.
    struct Fixtures(
        HashMap<(String, String), Bytes>,
        std::sync::atomic::AtomicUsize,
    );

    impl Fixtures {
        fn load() -> (Self, RawMailLocation) {
            let dir = repo().join("events/mail-intake");
            let manifest: Value =
                serde_json::from_slice(&std::fs::read(dir.join("objects.json")).unwrap()).unwrap();
            let bucket = manifest["bucket"].as_str().unwrap().to_owned();
            let mut objects = HashMap::new();
            for (key, file) in manifest["objects"].as_object().unwrap() {
                let bytes = std::fs::read(dir.join(file.as_str().unwrap())).unwrap();
                objects.insert((bucket.clone(), key.clone()), Bytes::from(bytes));
            }
            let location = RawMailLocation::parse(manifest["raw_mail"].as_str().unwrap()).unwrap();
            (Self(objects, Default::default()), location)
        }
    }

    impl RawMailReader for Fixtures {
        async fn read(&self, bucket: &str, key: &str) -> Result<Bytes, ReadError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
                .ok_or_else(|| ReadError::Missing {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
        }
    }

    struct Local {
        intake: MailIntake<Fixtures>,
        dir: PathBuf,
    }

    impl Drop for Local {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The function over a fresh SQLite file, a blob directory and an
    /// outbox directory.
    async fn local() -> Local {
        let dir = std::env::temp_dir().join(format!(
            "mail-intake-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let settings = Settings {
            config: repo().join("config/helpdesk.yaml"),
            store: StoreChoice::Sqlite(dir.join("helpdesk.db")),
            blobs: BlobChoice::Dir(dir.join("blobs")),
            mail_transport: helpdesk::app::MailTransportChoice::Outbox(dir.join("outbox")),
            events: helpdesk::app::EventsChoice::Log(dir.join("events.jsonl")),
            secrets: None,
        };
        let services = Services::build(&settings).await.unwrap();
        let (raw_mail, location) = Fixtures::load();
        Local {
            intake: MailIntake {
                services,
                raw_mail,
                location,
                blobs: settings.blobs,
            },
            dir,
        }
    }

    impl Local {
        async fn invoke(&self, name: &str) -> Result<Value, HandlerError> {
            self.invoke_as(name, "").await
        }

        /// An invocation with the request id Lambda gave it (its retries
        /// keep the id).
        async fn invoke_as(&self, name: &str, request_id: &str) -> Result<Value, HandlerError> {
            let path = repo().join("events/mail-intake").join(name);
            let payload: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let mut context = lambda_runtime::Context::default();
            context.request_id = request_id.to_owned();
            handle(&self.intake, LambdaEvent::new(payload, context)).await
        }

        fn raw_reads(&self) -> usize {
            self.intake
                .raw_mail
                .1
                .load(std::sync::atomic::Ordering::SeqCst)
        }

        fn outbox(&self) -> usize {
            std::fs::read_dir(self.dir.join("outbox"))
                .map(|entries| entries.count())
                .unwrap_or(0)
        }
    }

    fn messages(answer: &Value) -> Vec<(String, Option<String>)> {
        answer["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["outcome"].as_str().unwrap().to_owned(),
                    m["ticket"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn new_mail_from_ses_becomes_one_ticket_with_one_acknowledgement_even_when_redelivered() {
        let local = local().await;
        let first = local.invoke("ses-new-mail.json").await.unwrap();
        assert_eq!(
            messages(&first),
            [("new_ticket".to_owned(), Some("SUP-1".to_owned()))]
        );
        assert_eq!(first["messages"][0]["acknowledgement"], "sent");
        // The blob store is a directory: the timeline names the S3 object.
        let key = first["messages"][0]["key"].as_str().unwrap();
        assert_eq!(
            first["messages"][0]["raw_key"],
            format!("s3://{}/{key}", local.intake.location.bucket)
        );
        let again = local.invoke("ses-new-mail.json").await.unwrap();
        assert_eq!(
            messages(&again),
            [("duplicate".to_owned(), Some("SUP-1".to_owned()))]
        );
        // The S3 notification for the same stored object: no second ticket.
        let s3 = local
            .invoke("s3-object-created-same-as-ses.json")
            .await
            .unwrap();
        assert_eq!(
            messages(&s3),
            [("duplicate".to_owned(), Some("SUP-1".to_owned()))]
        );
        assert_eq!(local.outbox(), 1, "one acknowledgement");
    }

    #[tokio::test]
    async fn failed_verdicts_create_no_ticket() {
        let local = local().await;
        for (name, detail) in [
            ("ses-spam-fail.json", "quarantined"),
            ("ses-virus-fail.json", "dropped"),
        ] {
            let answer = local.invoke(name).await.unwrap();
            assert_eq!(answer["messages"][0]["outcome"], "not_accepted", "{name}");
            assert_eq!(answer["messages"][0]["detail"], detail, "{name}");
        }
        assert_eq!(local.outbox(), 0);
    }

    #[tokio::test]
    async fn a_message_that_is_not_mail_is_answered_ok_and_kept() {
        let local = local().await;
        let answer = local.invoke("ses-not-mail.json").await.unwrap();
        assert_eq!(answer["messages"][0]["outcome"], "unacceptable");
        assert!(
            answer["messages"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("not a mail message")
        );
    }

    #[tokio::test]
    async fn a_synchronous_rule_gets_a_disposition() {
        let local = local().await;
        let answer = local
            .invoke("ses-sync-request-response.json")
            .await
            .unwrap();
        assert_eq!(answer, json!({ "disposition": "CONTINUE" }));
        assert_eq!(local.outbox(), 1);
    }

    #[tokio::test]
    async fn an_s3_upload_finds_its_queue_through_the_ses_received_header() {
        let local = local().await;
        let answer = local.invoke("s3-object-created-bcc.json").await.unwrap();
        assert_eq!(
            messages(&answer),
            [("new_ticket".to_owned(), Some("SUP-1".to_owned()))]
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_item_fails_for_good_once_per_invocation_and_a_redrive_takes_it_afresh()
     {
        let local = local().await;
        local.invoke("ses-new-mail.json").await.unwrap();
        // The Message-ID's record now names no ticket a key can parse.
        let db = rusqlite::Connection::open(local.dir.join("helpdesk.db")).unwrap();
        db.execute("UPDATE idempotency SET ticket = 'not a ticket'", [])
            .unwrap();
        drop(db);

        let reads = local.raw_reads();
        let failed = local
            .invoke_as("ses-new-mail.json", "request-1")
            .await
            .unwrap_err();
        assert_eq!(failed.kind(), "PermanentFailure");
        assert!(failed.to_string().contains("corrupt"), "{failed}");
        assert_eq!(local.raw_reads(), reads + 1);

        // Lambda's retries of that invocation fail at once, without taking
        // the message again; the event then goes to the failure destination.
        for _ in 0..2 {
            let retried = local
                .invoke_as("ses-new-mail.json", "request-1")
                .await
                .unwrap_err();
            assert_eq!(retried.kind(), "PermanentFailure");
            assert!(retried.to_string().contains("not taken again"), "{retried}");
            assert!(retried.to_string().contains("corrupt"), "{retried}");
        }
        assert_eq!(local.raw_reads(), reads + 1, "retries read nothing");

        // A redrive from the failure destination is a new invocation.
        let redriven = local
            .invoke_as("ses-new-mail.json", "request-2")
            .await
            .unwrap_err();
        assert_eq!(redriven.kind(), "PermanentFailure");
        assert_eq!(local.raw_reads(), reads + 2);
        assert_eq!(
            local.outbox(),
            1,
            "only the first delivery's acknowledgement"
        );
    }

    #[tokio::test]
    async fn a_reply_whose_from_fails_dmarc_is_a_stranger_and_its_verdicts_are_recorded() {
        let local = local().await;
        local.invoke("ses-new-mail.json").await.unwrap();
        let path = repo().join("events/mail-intake/ses-reply-by-header.json");
        let mut payload: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        payload["Records"][0]["ses"]["receipt"]["dmarcVerdict"]["status"] = json!("FAIL");
        let answer = handle(
            &local.intake,
            LambdaEvent::new(payload, lambda_runtime::Context::default()),
        )
        .await
        .unwrap();
        // Kim's From cannot be believed: the queue takes the sender as a
        // stranger, whose mail naming SUP-1 opens a ticket of its own.
        assert_eq!(
            messages(&answer),
            [("new_ticket".to_owned(), Some("SUP-2".to_owned()))]
        );
        let key = helpdesk::domain::TicketKey::parse("SUP-2").unwrap();
        let timeline = local.intake.services.store.timeline(&key).await.unwrap();
        let recorded = timeline.iter().find_map(|entry| match &entry.event {
            helpdesk::domain::TimelineEvent::EmailIn { authentication, .. } => *authentication,
            _ => None,
        });
        let verdicts = recorded.expect("the verdicts are on the timeline");
        assert_eq!(verdicts.dmarc, helpdesk::domain::Verdict::Fail);
        assert!(verdicts.failed());
    }

    #[tokio::test]
    async fn a_missing_raw_message_and_a_foreign_event_fail_the_invocation() {
        let local = local().await;
        let missing = local.invoke("ses-raw-missing.json").await.unwrap_err();
        assert_eq!(missing.kind(), "RawMailMissing");
        let foreign = local.invoke("not-an-event.json").await.unwrap_err();
        assert_eq!(foreign.kind(), "UnrecognisedEvent");
        let diagnostic = Diagnostic::from(foreign);
        assert_eq!(diagnostic.error_type, "UnrecognisedEvent");
    }
}
