//! The AWS side of form intake: a submission with an attachment over the
//! DynamoDB store and S3, both on moto's server (skipped without it, unless
//! `HELPDESK_REQUIRE_MOTO=1`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use helpdesk::blobs::BlobStore;
use helpdesk::domain::TimelineEvent;
use helpdesk_tests::app::spawn_app_with;
use helpdesk_tests::conformance::dynamodb_store;

#[tokio::test]
async fn a_multipart_submission_lands_in_dynamodb_with_its_file_in_s3() {
    let Some(store) = dynamodb_store().await else {
        return;
    };
    let endpoint = std::env::var("HELPDESK_TEST_DYNAMODB_ENDPOINT")
        .expect("endpoint set when the store exists");
    let blobs = Arc::new(helpdesk_tests::moto::s3_blobs(&endpoint, "attachments").await);
    let dir = std::env::temp_dir().join(format!("helpdesk-aws-{}", uuid::Uuid::new_v4().simple()));
    let app = spawn_app_with(
        Arc::new(store),
        blobs.clone(),
        dir.clone(),
        dir.join("unused"),
    );

    let boundary = "xYzZY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nkim@customer.org\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nInvoice attached\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nWrong VAT\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"topic\"\r\n\r\nbilling\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"invoice.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 test\r\n\
         --{boundary}--\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let headers = [
        ("content-type", content_type.as_str()),
        ("idempotency-key", "aws-1"),
    ];
    let answer = app.post("support", &headers, body.clone()).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let key = answer.ticket();
    let ticket = app.ticket(&key).await;
    assert_eq!(
        (ticket.line, ticket.components.clone()),
        (Some(1), vec!["Billing".to_owned()])
    );

    let blob_key = app
        .timeline(&key)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::AttachmentAdded { blob_key, .. } => Some(blob_key),
            _ => None,
        })
        .expect("the attachment is on the timeline");
    let stored = blobs
        .get(&blob_key)
        .await
        .expect("S3 answers")
        .expect("the file is in S3");
    assert_eq!(&stored[..], b"%PDF-1.4 test");

    let again = app.post("support", &headers, body).await;
    assert_eq!(
        again.ticket(),
        key,
        "redelivery returns the first ticket from DynamoDB"
    );
    assert_eq!(app.tickets().await.len(), 1);
}
