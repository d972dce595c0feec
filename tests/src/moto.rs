//! Helpers for tests that run against moto's server (one port for every AWS
//! service): the endpoint from `HELPDESK_TEST_DYNAMODB_ENDPOINT`, SDK
//! configuration with dummy credentials, an S3 attachment store on a fresh
//! bucket, the SES transport, SES sender identities and moto's sent mail.

use std::sync::Arc;

use helpdesk::blobs::S3Blobs;
use helpdesk::mail::transport::{MailTransport, SesTransport};

use crate::conformance::{DYNAMODB_ENDPOINT_VAR, REQUIRE_MOTO_VAR};

/// moto's base URL, or `None` (after saying so) when the test should skip;
/// panics instead when `HELPDESK_REQUIRE_MOTO=1`.
pub fn endpoint() -> Option<String> {
    let endpoint = std::env::var(DYNAMODB_ENDPOINT_VAR)
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty());
    if endpoint.is_none() {
        assert!(
            std::env::var(REQUIRE_MOTO_VAR).as_deref() != Ok("1"),
            "{REQUIRE_MOTO_VAR}=1 but {DYNAMODB_ENDPOINT_VAR} is not set: start moto_server and point it there"
        );
        eprintln!(
            "skipped: set {DYNAMODB_ENDPOINT_VAR}=http://127.0.0.1:PORT (moto_server) to run this test"
        );
    }
    endpoint
}

/// SDK configuration for moto: the endpoint, us-east-1, dummy credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// An S3 blob store on a fresh bucket, under `prefix`.
pub async fn s3_blobs(endpoint: &str, prefix: &str) -> S3Blobs {
    let config = sdk_config(endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("helpdesk-test-{}", uuid::Uuid::new_v4().simple());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket created on moto");
    S3Blobs::new(s3, bucket, prefix)
}

/// The `ses` transport, as the functions build it, pointed at moto.
pub async fn ses_transport(endpoint: &str) -> Arc<dyn MailTransport> {
    Arc::new(SesTransport::new(aws_sdk_sesv2::Client::new(
        &sdk_config(endpoint).await,
    )))
}

/// Creates (and, on moto, thereby verifies) an SES sender identity through
/// the SES v2 REST API. moto routes by the credential scope in the
/// Authorization header and does not check the signature.
pub async fn create_sender_identity(endpoint: &str, address: &str) {
    helpdesk::automation::webhook::install_crypto_provider();
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/v2/email/identities"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ses/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/json")
        .body(serde_json::json!({ "EmailIdentity": address }).to_string())
        .send()
        .await
        .expect("moto answers");
    assert!(
        response.status().is_success(),
        "creating the identity {address}: {} {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
}

/// The raw messages moto's SES has accepted.
pub async fn sent_messages(endpoint: &str) -> Vec<serde_json::Value> {
    helpdesk::automation::webhook::install_crypto_provider();
    let body = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("moto answers")
        .bytes()
        .await
        .expect("moto sends its data");
    let data: serde_json::Value = serde_json::from_slice(&body).expect("data.json is JSON");
    data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One call of moto's Cognito user pool API (JSON over POST, routed by the
/// credential scope and `X-Amz-Target`); its answer.
async fn cognito(endpoint: &str, action: &str, body: serde_json::Value) -> serde_json::Value {
    helpdesk::automation::webhook::install_crypto_provider();
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            format!("AWSCognitoIdentityProviderService.{action}"),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "Cognito {action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// A user pool on moto, with its app client: (pool id, client id).
pub async fn cognito_pool(endpoint: &str) -> (String, String) {
    let pool = cognito(
        endpoint,
        "CreateUserPool",
        serde_json::json!({ "PoolName": format!("agents-{}", uuid::Uuid::new_v4().simple()) }),
    )
    .await["UserPool"]["Id"]
        .as_str()
        .expect("a pool id")
        .to_owned();
    let client = cognito_client(endpoint, &pool).await;
    (pool, client)
}

/// Another app client of `pool`.
pub async fn cognito_client(endpoint: &str, pool: &str) -> String {
    cognito(
        endpoint,
        "CreateUserPoolClient",
        serde_json::json!({
            "UserPoolId": pool,
            "ClientName": "console",
            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        }),
    )
    .await["UserPoolClient"]["ClientId"]
        .as_str()
        .expect("a client id")
        .to_owned()
}

/// The password every test user of [`cognito_sign_in`] gets.
pub const COGNITO_PASSWORD: &str = "Correct-Horse-9-battery";

/// Creates user `login` in `pool` (once) and signs them in through
/// `client`: their (access token, ID token).
pub async fn cognito_sign_in(
    endpoint: &str,
    pool: &str,
    client: &str,
    login: &str,
) -> (String, String) {
    let user = serde_json::json!({ "UserPoolId": pool, "Username": login });
    // A second sign-in of the same user finds them made already.
    let exists = cognito_user_exists(endpoint, pool, login).await;
    if !exists {
        cognito(endpoint, "AdminCreateUser", user).await;
        cognito(
            endpoint,
            "AdminSetUserPassword",
            serde_json::json!({
                "UserPoolId": pool, "Username": login,
                "Password": COGNITO_PASSWORD, "Permanent": true,
            }),
        )
        .await;
    }
    let result = cognito(
        endpoint,
        "InitiateAuth",
        serde_json::json!({
            "ClientId": client,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": { "USERNAME": login, "PASSWORD": COGNITO_PASSWORD },
        }),
    )
    .await;
    let tokens = &result["AuthenticationResult"];
    (
        tokens["AccessToken"]
            .as_str()
            .expect("an access token")
            .to_owned(),
        tokens["IdToken"].as_str().expect("an ID token").to_owned(),
    )
}

/// Whether `pool` has user `login`.
async fn cognito_user_exists(endpoint: &str, pool: &str, login: &str) -> bool {
    let users = cognito(
        endpoint,
        "ListUsers",
        serde_json::json!({ "UserPoolId": pool }),
    )
    .await;
    users["Users"]
        .as_array()
        .is_some_and(|users| users.iter().any(|u| u["Username"] == login))
}
