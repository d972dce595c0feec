//! The SMTP relay transport against a real SMTP server (aiosmtpd, started by
//! the test command: `HELPDESK_TEST_SMTP`, `HELPDESK_TEST_SMTP_DIR`; skipped
//! without it, unless `HELPDESK_REQUIRE_MOTO=1` says the test command runs).
//! The acknowledgement that arrives is byte for byte what the outbox holds,
//! with our threading headers and reply token; a redelivery sends nothing
//! more; the relay's 451 is a temporary failure (the message is sent on the
//! retry), its 550 a permanent one recorded on the ticket.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use helpdesk::domain::TimelineEvent;
use helpdesk::mail::ingest::{IngestError, Ingested};
use helpdesk::mail::send::SendOutcome;
use helpdesk::mail::smtp::{SmtpRelay, SmtpUrl};
use helpdesk::mail::transport::{MailTransport, OutboxDir, TransportError};
use helpdesk_tests::app::spawn_app;

/// The test SMTP server's address and the folder it writes messages to.
fn sink() -> Option<(String, PathBuf)> {
    match (
        std::env::var("HELPDESK_TEST_SMTP"),
        std::env::var("HELPDESK_TEST_SMTP_DIR"),
    ) {
        (Ok(address), Ok(dir)) => Some((address, PathBuf::from(dir))),
        _ if std::env::var("HELPDESK_REQUIRE_MOTO").as_deref() == Ok("1") => {
            panic!("the test command starts an SMTP server (HELPDESK_TEST_SMTP is not set)")
        }
        _ => {
            eprintln!("skipping: no test SMTP server (HELPDESK_TEST_SMTP)");
            None
        }
    }
}

fn relay(address: &str) -> SmtpRelay {
    let url: SmtpUrl = format!("smtp://{address}").parse().unwrap();
    SmtpRelay::new(&url, None).unwrap()
}

/// Every message the server received that contains `marker`, with its
/// envelope.
fn received(dir: &std::path::Path, marker: &str) -> Vec<(Vec<u8>, serde_json::Value)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    paths.sort();
    for path in paths {
        let raw = std::fs::read(&path).unwrap();
        if String::from_utf8_lossy(&raw).contains(marker) {
            let envelope = std::fs::read(path.with_extension("json")).unwrap();
            found.push((raw, serde_json::from_slice(&envelope).unwrap()));
        }
    }
    found
}

/// Sends through the outbox and the relay both, so a test can compare what
/// each holds.
struct Both {
    outbox: Arc<OutboxDir>,
    relay: SmtpRelay,
}

#[async_trait::async_trait]
impl MailTransport for Both {
    async fn send(&self, from: &str, to: &[String], raw: &[u8]) -> Result<String, TransportError> {
        let id = self.relay.send(from, to, raw).await?;
        self.outbox.send(from, to, raw).await?;
        Ok(id)
    }
}

fn customer_mail(from: &str, id: &str) -> Vec<u8> {
    format!(
        "From: Jane Doe <{from}>\r\nTo: support@example.com\r\nSubject: Printer on fire {id}\r\n\
         Message-ID: <{id}@customer.org>\r\n\r\nIt is really on fire.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn the_acknowledgement_through_the_relay_is_what_the_outbox_holds_and_goes_once() {
    let Some((address, dir)) = sink() else {
        return;
    };
    let mut app = spawn_app();
    app.services.mail = Arc::new(Both {
        outbox: app.outbox.clone(),
        relay: relay(&address),
    });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let customer = format!("jane-{id}@customer.org");
    let raw = customer_mail(&customer, &id);
    let Ok(Ingested::NewTicket { ticket, .. }) = app.deliver(raw.clone()).await else {
        panic!("a new ticket");
    };
    assert!(matches!(
        app.deliver(raw).await,
        Ok(Ingested::Duplicate { .. })
    ));

    let arrived = received(&dir, &customer);
    assert_eq!(arrived.len(), 1, "one acknowledgement reached the server");
    let (bytes, envelope) = &arrived[0];
    assert_eq!(envelope["rcpt_tos"], serde_json::json!([customer]));
    let outbox = app.sent();
    assert_eq!(outbox.len(), 1);
    // The outbox file starts with the envelope (Return-Path, X-Envelope-To);
    // SMTP ends the data with a line end. Between the two: the same bytes.
    let message = outbox[0]
        .1
        .split_once("\r\nX-Envelope-To: ")
        .and_then(|(_, rest)| rest.split_once("\r\n"))
        .map(|(_, message)| message)
        .expect("the outbox's envelope lines");
    assert_eq!(
        String::from_utf8_lossy(bytes).strip_suffix("\r\n"),
        Some(message),
        "byte for byte what the outbox holds"
    );
    let text = String::from_utf8_lossy(bytes);
    assert!(
        text.contains(&format!("In-Reply-To: <{id}@customer.org>")),
        "{text}"
    );
    assert!(text.contains(&format!("[{ticket}]")), "{text}");
    assert!(
        text.contains(&format!("support+{}-", ticket.to_string().to_lowercase())),
        "the reply token: {text}"
    );
}

#[tokio::test]
async fn the_relays_451_is_temporary_and_its_550_permanent() {
    let Some((address, dir)) = sink() else {
        return;
    };
    let relay = relay(&address);
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let raw = format!("From: desk@example.com\r\nSubject: {marker}\r\n\r\nHi\r\n");
    let temporary = relay
        .send(
            "desk@example.com",
            &["tempfail@customer.org".into()],
            raw.as_bytes(),
        )
        .await;
    assert!(
        matches!(temporary, Err(TransportError::Temporary(_))),
        "{temporary:?}"
    );
    let permanent = relay
        .send(
            "desk@example.com",
            &["reject@customer.org".into()],
            raw.as_bytes(),
        )
        .await;
    assert!(
        matches!(permanent, Err(TransportError::Permanent(_))),
        "{permanent:?}"
    );
    assert!(received(&dir, &marker).is_empty(), "nothing was accepted");
    let unreachable = SmtpRelay::new(&"smtp://127.0.0.1:1".parse().unwrap(), None)
        .unwrap()
        .send(
            "desk@example.com",
            &["a@customer.org".into()],
            raw.as_bytes(),
        )
        .await;
    assert!(
        matches!(unreachable, Err(TransportError::Temporary(_))),
        "{unreachable:?}"
    );
}

/// The relay's own answers, once refusing for a while.
struct RefusingFirst {
    refuse: AtomicBool,
    relay: SmtpRelay,
}

#[async_trait::async_trait]
impl MailTransport for RefusingFirst {
    async fn send(&self, from: &str, to: &[String], raw: &[u8]) -> Result<String, TransportError> {
        if self.refuse.swap(false, Ordering::SeqCst) {
            let tempfail = to
                .iter()
                .map(|r| format!("tempfail@{}", r.rsplit_once('@').map_or("", |(_, d)| d)))
                .collect::<Vec<_>>();
            return self.relay.send(from, &tempfail, raw).await;
        }
        self.relay.send(from, to, raw).await
    }
}

#[tokio::test]
async fn a_temporary_refusal_is_retried_and_a_permanent_one_recorded_on_the_ticket() {
    let Some((address, dir)) = sink() else {
        return;
    };
    let mut app = spawn_app();
    app.services.mail = Arc::new(RefusingFirst {
        refuse: AtomicBool::new(true),
        relay: relay(&address),
    });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let customer = format!("jane-{id}@customer.org");
    let raw = customer_mail(&customer, &id);
    assert!(
        matches!(
            app.deliver(raw.clone()).await,
            Err(IngestError::Temporary { .. })
        ),
        "the relay said 451: the MTA or Lambda retries"
    );
    assert!(received(&dir, &customer).is_empty());
    assert!(matches!(
        app.deliver(raw).await,
        Ok(Ingested::Duplicate { .. })
    ));
    assert_eq!(
        received(&dir, &customer).len(),
        1,
        "the retry sent it, once"
    );

    let mut app = spawn_app();
    app.services.mail = Arc::new(relay(&address));
    let refused = format!("reject@refused-{id}.org");
    let outcome = app.deliver(customer_mail(&refused, &id)).await.unwrap();
    let Ingested::NewTicket {
        ticket,
        acknowledgement: Some(SendOutcome::Suppressed { reason }),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("550"), "{reason}");
    let recorded = app.timeline(&ticket).await.iter().any(|e| {
        matches!(&e.event, TimelineEvent::EmailSuppressed { reason, .. } if reason.contains("could not be sent"))
    });
    assert!(recorded, "the failure is on the ticket");
}
