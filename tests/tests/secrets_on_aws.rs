//! Secrets kept in AWS Secrets Manager, as the deployed stack keeps them
//! (one secret, a JSON object of names to values, named by
//! `HELPDESK_SECRETS`), on moto's server: read on first use and kept, a
//! failed read not kept, a short reply-token key refused. Skipped without
//! `HELPDESK_TEST_DYNAMODB_ENDPOINT` (moto serves every service on one
//! port), unless `HELPDESK_REQUIRE_MOTO=1`, which makes it fail instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed expectation is a failed test"
)]

use helpdesk::app::{
    BlobChoice, EventsChoice, MailTransportChoice, Services, Settings, StoreChoice,
};
use helpdesk_tests::moto::{endpoint as moto_endpoint, sdk_config};

/// The SDK configuration for moto, a Secrets Manager client and a new
/// secret's name.
async fn on_moto(
    endpoint: &str,
) -> (
    aws_config::SdkConfig,
    aws_sdk_secretsmanager::Client,
    String,
) {
    let aws = sdk_config(endpoint).await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    let id = format!("helpdesk-test-{}", uuid::Uuid::new_v4().simple());
    (aws, client, id)
}

/// The form secret the desk reads (a failed read fails the test).
async fn typeform(services: &Services) -> Option<String> {
    services
        .secrets
        .secret("HELPDESK_SECRET_TYPEFORM_FEEDBACK")
        .await
        .unwrap()
}

/// A new folder for one desk's files.
fn scratch() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "helpdesk-secrets-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

/// Settings of a local desk whose secrets are in the secret `id`.
fn settings(dir: &std::path::Path, id: &str) -> Settings {
    Settings {
        config: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml"),
        store: StoreChoice::Sqlite(dir.join("helpdesk.db")),
        blobs: BlobChoice::Dir(dir.join("blobs")),
        mail_transport: MailTransportChoice::Outbox(dir.join("outbox")),
        events: EventsChoice::Log(dir.join("events.jsonl")),
        secrets: Some(id.to_owned()),
    }
}

#[tokio::test]
async fn secrets_are_read_from_secrets_manager_on_first_use_and_a_failed_read_is_tried_again() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (aws, client, id) = on_moto(&endpoint).await;
    let dir = scratch();

    // The secret does not exist yet: a start needs no secret, the first use
    // fails (temporary), and nothing of that failure is kept.
    let services = Services::build_with(&settings(&dir, &id), Some(&aws))
        .await
        .expect("a start reads no secret");
    let error = services
        .secrets
        .secret("HELPDESK_SECRET_TYPEFORM_FEEDBACK")
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&id), "{error}");

    client
        .create_secret()
        .name(&id)
        .secret_string(
            r#"{"HELPDESK_SECRET_TYPEFORM_FEEDBACK": "typeform-from-secrets-manager", "HELPDESK_TELEGRAM_URL": ""}"#,
        )
        .send()
        .await
        .expect("secret created on moto");
    assert_eq!(
        typeform(&services).await.as_deref(),
        Some("typeform-from-secrets-manager")
    );
    // Empty in the secret: unset.
    assert_eq!(
        services
            .secrets
            .secret("HELPDESK_TELEGRAM_URL")
            .await
            .unwrap(),
        None
    );

    // Read once: a changed secret is seen by the next process, not this one.
    client
        .put_secret_value()
        .secret_id(&id)
        .secret_string(r#"{"HELPDESK_SECRET_TYPEFORM_FEEDBACK": "rotated"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        typeform(&services).await.as_deref(),
        Some("typeform-from-secrets-manager")
    );
    let restarted = Services::build_with(&settings(&dir, &id), Some(&aws))
        .await
        .unwrap();
    assert_eq!(typeform(&restarted).await.as_deref(), Some("rotated"));
}

#[tokio::test]
async fn a_short_reply_token_key_in_the_secret_is_refused_without_showing_it() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let (aws, client, id) = on_moto(&endpoint).await;
    client
        .create_secret()
        .name(&id)
        .secret_string(r#"{"HELPDESK_REPLY_TOKEN_SECRET": "placeholder"}"#)
        .send()
        .await
        .unwrap();
    let dir = scratch();
    let services = Services::build_with(&settings(&dir, &id), Some(&aws))
        .await
        .unwrap();
    let error = services
        .secrets
        .secret("HELPDESK_REPLY_TOKEN_SECRET")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("at least 32"), "{error}");
    assert!(!error.contains("placeholder"), "{error}");
}
