//! Email intake as deployed: DynamoDB store, raw mail and attachments in S3,
//! acknowledgements through SES, all on moto's server (skipped without it,
//! unless `HELPDESK_REQUIRE_MOTO=1`). A new mail becomes a ticket with one
//! acknowledgement in SES's sent mail; a redelivery and a reply do not send
//! another; the reply threads by the acknowledgement's Message-ID, and a
//! stranger naming that Message-ID does not.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use helpdesk::blobs::BlobStore;
use helpdesk::domain::TimelineEvent;
use helpdesk::mail::ingest::Ingested;
use helpdesk_tests::app::spawn_app_with;
use helpdesk_tests::conformance::dynamodb_store;
use helpdesk_tests::moto;

fn raw(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text: String = headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

#[tokio::test]
async fn mail_threads_and_is_acknowledged_once_over_dynamodb_s3_and_ses() {
    let Some(store) = dynamodb_store().await else {
        return;
    };
    let endpoint = moto::endpoint().expect("moto is up when the store is");
    let blobs = Arc::new(moto::s3_blobs(&endpoint, "").await);
    moto::create_sender_identity(&endpoint, "support@example.com").await;
    let before = moto::sent_messages(&endpoint).await.len();
    let dir = std::env::temp_dir().join(format!(
        "helpdesk-mail-aws-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut app = spawn_app_with(
        Arc::new(store),
        blobs.clone(),
        dir.clone(),
        dir.join("unused"),
    );
    app.services.mail = moto::ses_transport(&endpoint).await;

    let id = format!("{}@customer.example", uuid::Uuid::new_v4().simple());
    let first = raw(
        &[
            ("From", "Jane Doe <jane@customer.org>"),
            ("To", "support@example.com"),
            ("Subject", "Cannot export"),
            ("Message-ID", &format!("<{id}>")),
        ],
        "Export to CSV fails with error 500.\r\n",
    );
    let key = match app.deliver(first.clone()).await.unwrap() {
        Ingested::NewTicket { ticket, .. } => ticket,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        app.deliver(first.clone()).await.unwrap(),
        Ingested::Duplicate { .. }
    ));

    let sent = moto::sent_messages(&endpoint).await;
    assert_eq!(
        sent.len() - before,
        1,
        "exactly one acknowledgement reached SES"
    );
    let ack = sent.last().unwrap()["raw_data"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ack.contains(&format!("[{key}]")), "{ack}");
    let ack_id = ack
        .lines()
        .find_map(|l| {
            l.strip_prefix("Message-ID: ")
                .or_else(|| l.strip_prefix("Message-Id: "))
        })
        .expect("the acknowledgement has a Message-ID")
        .trim()
        .to_owned();

    let reply = raw(
        &[
            ("From", "jane@customer.org"),
            ("To", "support@example.com"),
            ("Subject", &format!("Re: [{key}] Cannot export")),
            ("Message-ID", &format!("<r-{id}>")),
            ("In-Reply-To", &ack_id),
        ],
        "Still failing today.\r\n",
    );
    assert!(
        matches!(app.deliver(reply).await.unwrap(), Ingested::Reply { ref ticket, .. } if *ticket == key)
    );
    assert_eq!(
        moto::sent_messages(&endpoint).await.len() - before,
        1,
        "a reply gets no acknowledgement"
    );

    let raw_key = app
        .timeline(&key)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::EmailIn { raw_key, .. } => raw_key,
            _ => None,
        })
        .unwrap();
    assert_eq!(
        blobs.get(&raw_key).await.unwrap().unwrap().to_vec(),
        first,
        "the raw message is in S3"
    );
    assert_eq!(app.tickets().await.len(), 1);

    // A stranger naming the same Message-ID of ours (and the customer's)
    // is no reply: the queue's stranger policy opens a ticket of its own.
    let stranger = raw(
        &[
            ("From", "mallory@evil.example"),
            ("To", "support@example.com"),
            ("Subject", "Re: Cannot export"),
            ("Message-ID", &format!("<s-{id}>")),
            ("In-Reply-To", &ack_id),
            ("References", &format!("<{id}> {ack_id}")),
        ],
        "What did they say?\r\n",
    );
    match app.deliver(stranger).await.unwrap() {
        Ingested::NewTicket { ticket, .. } => assert_ne!(ticket, key),
        other => panic!("{other:?}"),
    }
    assert!(app.ticket(&key).await.participants.is_empty());
}
