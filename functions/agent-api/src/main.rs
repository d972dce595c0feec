//! The agent API Lambda function: API Gateway HTTP API v2 events for
//! `/api/v1/{proxy+}` served by the same router as `helpdesk serve`'s
//! (`helpdesk_api`), signed in with the stack's Cognito JWTs or personal
//! API tokens.
//!
//! `main` builds the services once (configuration, store, blobs, mail)
//! and the JWT verifier, then hands every event to the router.

use helpdesk::app::{Services, Settings};
use helpdesk::telemetry::{self, LogFormat};
use lambda_http::{Error, run};

// One thread, as the other functions: one event at a time per instance.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json, "info");
    let services = Services::build(&Settings::from_env()?).await?;
    let api = helpdesk_api::Api::from_env(services)?;
    run(helpdesk_api::router(api)).await
}
