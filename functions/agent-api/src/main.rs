//! The agent API Lambda function: API Gateway HTTP API v2 events for
//! `/api/v1/{proxy+}` (the agent API, signed in with the stack's Cognito
//! JWTs or personal API tokens) and for every other path but the forms'
//! (the agent console, signed in with the user pool's passwords), served by
//! the same routers as `helpdesk serve`'s (`helpdesk_console::with_api`).
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
    run(helpdesk_console::with_api(api)).await
}
