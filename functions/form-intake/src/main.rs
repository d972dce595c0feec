//! The form intake Lambda function: API Gateway HTTP API v2 and Function URL
//! events for `POST /forms/{form_id}` become tickets; `/csat/{token}` is
//! the customers' rating page.
//!
//! `main` builds the services once (configuration, store, blob store) and
//! hands each event to [`handler::handle`].

mod handler;

use helpdesk::app::{Services, Settings};
use helpdesk::telemetry::{self, LogFormat};
use lambda_http::{Error, run, service_fn};

// One thread: Lambda hands an instance one event at a time, so the
// current-thread runtime does all the work and starts no worker threads
// (a shorter cold start; see docs/benchmarks.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json, "info");
    let settings = Settings::from_env()?;
    let services = Services::build(&settings).await?;
    let services = &services;
    run(service_fn(move |event| handler::handle(services, event))).await
}
