//! Nothing a customer sends is too big to store, on either store: the same
//! cases run over SQLite with local files and over DynamoDB with S3 (on
//! moto's server, which refuses items over 400 KB as DynamoDB does; skipped
//! without it, unless `HELPDESK_REQUIRE_MOTO=1`). A 1 MB mail body, a 1 MB
//! subject, a 20,000-part mail, a mail copying 5,000 people, a 1 MB reply
//! and a form with a 500 KB answer each become a ticket (or its reply) whose
//! timeline shows an excerpt and where the whole is, and the whole reads
//! back from the blob store.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use helpdesk::blobs::BlobStore;
use helpdesk::domain::bounds;
use helpdesk::domain::{BlobRef, TicketKey, TimelineEntry, TimelineEvent};
use helpdesk::mail::ingest::Ingested;
use helpdesk_tests::app::{TestApp, spawn_app, spawn_app_with};
use helpdesk_tests::conformance::dynamodb_store;
use helpdesk_tests::moto;

const KIB: usize = 1024;

/// A mail from Jane with `headers` added and `body` as its text.
fn mail(id: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Jane Doe <jane@customer.org>\r\nTo: support@example.com\r\n\
         Message-ID: <{id}@customer.org>\r\n{headers}\r\n{body}"
    )
    .into_bytes()
}

/// `lines` numbered lines of text, about 64 bytes each, then an end mark.
fn long_text(lines: usize) -> String {
    let mut text: String = (0..lines)
        .map(|i| format!("line {i:07}: the export still fails with the same error\r\n"))
        .collect();
    text.push_str("END-OF-TEXT\r\n");
    text
}

async fn new_ticket(app: &TestApp, raw: Vec<u8>) -> TicketKey {
    match app.deliver(raw).await {
        Ok(Ingested::NewTicket { ticket, .. }) => ticket,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

/// The whole text at `blob`, which must exist and have the size recorded.
async fn whole(blobs: &dyn BlobStore, blob: &BlobRef) -> String {
    let bytes = blobs
        .get(&blob.blob_key)
        .await
        .expect("blob store answers")
        .unwrap_or_else(|| panic!("no blob at {}", blob.blob_key));
    assert_eq!(bytes.len() as u64, blob.size, "{}", blob.blob_key);
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn mail_in(timeline: &[TimelineEntry]) -> &TimelineEvent {
    timeline
        .iter()
        .map(|e| &e.event)
        .find(|e| matches!(e, TimelineEvent::EmailIn { .. }))
        .expect("the mail is on the timeline")
}

async fn a_1_mb_mail_body_is_kept_whole_beside_an_excerpt(app: &TestApp, blobs: &dyn BlobStore) {
    let text = long_text(18_000);
    assert!(text.len() > 1_000_000);
    let key = new_ticket(app, mail("big-body", "Subject: Export log\r\n", &text)).await;

    let ticket = app.ticket(&key).await;
    assert!(ticket.description.len() <= bounds::TEXT_INLINE);
    assert!(ticket.description.starts_with("line 0000000"));
    let description = ticket.description_blob.expect("the description's blob");
    assert!(whole(blobs, &description).await.contains("END-OF-TEXT"));

    let timeline = app.timeline(&key).await;
    let TimelineEvent::EmailIn {
        text: Some(excerpt),
        text_blob: Some(blob),
        raw_key: Some(_),
        ..
    } = mail_in(&timeline)
    else {
        panic!("the mail's excerpt and blob: {timeline:?}");
    };
    assert!(excerpt.len() <= bounds::TEXT_INLINE && excerpt.len() > 60 * KIB);
    let full = whole(blobs, blob).await;
    assert!(full.len() > 1_000_000, "{}", full.len());
    assert!(full.contains("line 0017999") && full.contains("END-OF-TEXT"));
}

async fn a_1_mb_subject_is_a_short_summary_and_kept_whole(app: &TestApp, blobs: &dyn BlobStore) {
    let subject = format!("Export {}", "fails again and again ".repeat(50_000));
    let key = new_ticket(
        app,
        mail(
            "big-subject",
            &format!("Subject: {subject}\r\n"),
            "See subject.\r\n",
        ),
    )
    .await;
    let ticket = app.ticket(&key).await;
    assert!(ticket.summary.chars().count() <= 250, "{}", ticket.summary);
    assert!(ticket.summary.starts_with("Export fails again"));

    let timeline = app.timeline(&key).await;
    let TimelineEvent::EmailIn {
        subject: excerpt,
        subject_blob: Some(blob),
        ..
    } = mail_in(&timeline)
    else {
        panic!("the subject's blob: {timeline:?}");
    };
    assert!(excerpt.len() <= bounds::SUBJECT_INLINE);
    assert_eq!(whole(blobs, blob).await.trim(), subject.trim());

    let acknowledgement = timeline
        .iter()
        .find_map(|e| match &e.event {
            TimelineEvent::EmailOut { subject, .. } => Some(subject.clone()),
            _ => None,
        })
        .expect("an acknowledgement went out");
    assert!(
        acknowledgement.len() < 400,
        "the acknowledgement's subject is bounded: {} bytes",
        acknowledgement.len()
    );
}

async fn a_20000_part_mail_keeps_its_first_files_and_counts_the_rest(
    app: &TestApp,
    blobs: &dyn BlobStore,
) {
    let mut body = String::from("--b\r\nContent-Type: text/plain\r\n\r\nMany files.\r\n");
    for i in 0..20_000 {
        body.push_str(&format!(
            "--b\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"f{i}.bin\"\r\n\r\nfile {i}\r\n"
        ));
    }
    body.push_str("--b--\r\n");
    let headers = "Subject: Many files\r\nMIME-Version: 1.0\r\n\
                   Content-Type: multipart/mixed; boundary=\"b\"\r\n";
    let key = new_ticket(app, mail("many-parts", headers, &body)).await;

    let timeline = app.timeline(&key).await;
    let files: Vec<&str> = timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::AttachmentAdded { blob_key, .. } => Some(blob_key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(files.len(), 50, "the first 50 files are attached");
    let first = blobs.get(files[0]).await.unwrap().expect("first file");
    assert_eq!(&first[..], b"file 0");
    let TimelineEvent::EmailIn {
        skipped,
        skipped_unlisted,
        raw_key: Some(raw_key),
        ..
    } = mail_in(&timeline)
    else {
        panic!("{timeline:?}");
    };
    assert_eq!(skipped.len(), bounds::SKIPPED_LISTED);
    assert!(skipped[0].contains("f50.bin"), "{skipped:?}");
    assert_eq!(skipped.len() as u64 + skipped_unlisted, 19_950);
    let raw = blobs.get(raw_key).await.unwrap().expect("the raw mail");
    assert!(raw.len() > 1_000_000, "the raw mail is kept whole");
}

async fn a_mail_copying_5000_people_adds_the_most_participants_and_counts_the_rest(app: &TestApp) {
    let cc: Vec<String> = (0..5_000).map(|i| format!("p{i}@partner.org")).collect();
    let headers = format!("Subject: Everyone\r\nCc: {}\r\n", cc.join(",\r\n "));
    let key = new_ticket(app, mail("many-cc", &headers, "Hello all.\r\n")).await;
    let ticket = app.ticket(&key).await;
    assert_eq!(ticket.participants.len(), bounds::PARTICIPANTS_MAX);
    assert_eq!(ticket.participants[0].as_str(), "p0@partner.org");
    let timeline = app.timeline(&key).await;
    let TimelineEvent::EmailIn {
        participants_left_out,
        ..
    } = mail_in(&timeline)
    else {
        panic!("{timeline:?}");
    };
    assert_eq!(
        *participants_left_out,
        5_000 - bounds::PARTICIPANTS_MAX as u64
    );
}

async fn a_1_mb_reply_is_a_comment_with_its_whole_text_kept(app: &TestApp, blobs: &dyn BlobStore) {
    let key = new_ticket(app, mail("short", "Subject: Short\r\n", "Hello.\r\n")).await;
    let reply = mail(
        "long-reply",
        &format!("Subject: Re: [{key}] Short\r\nIn-Reply-To: <short@customer.org>\r\n"),
        &long_text(18_000),
    );
    match app.deliver(reply).await {
        Ok(Ingested::Reply { ticket, .. }) => assert_eq!(ticket, key),
        other => panic!("expected a reply, got {other:?}"),
    }
    let timeline = app.timeline(&key).await;
    let (body, blob) = timeline
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            TimelineEvent::Comment {
                public: true,
                body,
                body_blob: Some(blob),
            } => Some((body, blob)),
            _ => None,
        })
        .expect("the reply's comment with its blob");
    assert!(body.len() <= bounds::TEXT_INLINE);
    assert!(whole(blobs, blob).await.contains("END-OF-TEXT"));
}

async fn a_form_with_a_500_kb_answer_becomes_a_ticket(app: &TestApp, blobs: &dyn BlobStore) {
    let notes = format!("{}END-OF-NOTES", "n".repeat(500 * KIB));
    let message = format!("{}END-OF-MESSAGE", "m".repeat(19_000));
    let answer = app
        .post_json(
            "support",
            serde_json::json!({
                "email": "kim@customer.org",
                "subject": "Long form",
                "message": message,
                "notes": notes,
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let key = answer.ticket();

    let ticket = app.ticket(&key).await;
    assert_eq!(
        ticket.description, message,
        "a description within bounds is whole"
    );
    assert_eq!(ticket.description_blob, None);

    let timeline = app.timeline(&key).await;
    let (answers, blob) = timeline
        .iter()
        .find_map(|e| match &e.event {
            TimelineEvent::FormSubmitted {
                answers,
                answers_blob: Some(blob),
                ..
            } => Some((answers, blob)),
            _ => None,
        })
        .expect("the answers with their blob");
    assert_eq!(answers["subject"], "Long form");
    assert_eq!(answers["notes"].len(), bounds::ANSWER_INLINE);
    let all: serde_json::Value = serde_json::from_str(&whole(blobs, blob).await).unwrap();
    assert_eq!(all["notes"], notes.as_str());
    assert_eq!(all["message"], message.as_str());
}

/// Every case, on one app and its blob store.
async fn every_case(app: &TestApp, blobs: &dyn BlobStore) {
    a_1_mb_mail_body_is_kept_whole_beside_an_excerpt(app, blobs).await;
    a_1_mb_subject_is_a_short_summary_and_kept_whole(app, blobs).await;
    a_20000_part_mail_keeps_its_first_files_and_counts_the_rest(app, blobs).await;
    a_mail_copying_5000_people_adds_the_most_participants_and_counts_the_rest(app).await;
    a_1_mb_reply_is_a_comment_with_its_whole_text_kept(app, blobs).await;
    a_form_with_a_500_kb_answer_becomes_a_ticket(app, blobs).await;
}

#[tokio::test]
async fn oversized_input_is_stored_on_sqlite() {
    let app = spawn_app();
    let blobs = app.services.blobs.clone();
    every_case(&app, blobs.as_ref()).await;
}

#[tokio::test]
async fn oversized_input_is_stored_on_dynamodb_and_s3() {
    let Some(store) = dynamodb_store().await else {
        return;
    };
    let endpoint = moto::endpoint().expect("moto is up when the store is");
    let blobs: Arc<dyn BlobStore> = Arc::new(moto::s3_blobs(&endpoint, "").await);
    let dir = std::env::temp_dir().join(format!(
        "helpdesk-oversized-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let app = spawn_app_with(
        Arc::new(store),
        blobs.clone(),
        dir.clone(),
        dir.join("unused"),
    );
    every_case(&app, blobs.as_ref()).await;
}
