//! The mail intake Lambda function: an SES receipt rule (an S3 action that
//! stores the raw message, then this function as its Lambda action) or an
//! S3 ObjectCreated notification for the raw-mail prefix hands over a
//! stored message, which becomes a ticket or a reply.
//!
//! `main` builds everything once (configuration, store, blob store, mail
//! transport, the S3 client that reads raw mail) and hands each event to
//! [`handler::handle`]. Besides the variables of
//! [`helpdesk::app::Settings`], it reads `HELPDESK_RAW_MAIL`: where the
//! receipt rule's S3 action stores raw mail, `s3://bucket/prefix/`.

mod events;
mod handler;
mod raw;

use anyhow::Context;
use helpdesk::app::{Services, Settings};
use helpdesk::telemetry::{self, LogFormat};
use lambda_runtime::{Error, run, service_fn};

use crate::events::RawMailLocation;
use crate::handler::MailIntake;
use crate::raw::S3RawMail;

// One thread: Lambda hands an instance one event at a time, so the
// current-thread runtime does all the work and starts no worker threads
// (a shorter cold start; see docs/benchmarks.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json, "info");
    let settings = Settings::from_env()?;
    let location = std::env::var("HELPDESK_RAW_MAIL").context(
        "HELPDESK_RAW_MAIL (s3://bucket/prefix/ of the receipt rule's S3 action) is not set",
    )?;
    let location = RawMailLocation::parse(&location)?;
    // One AWS configuration for the raw-mail reader and the services.
    let aws = helpdesk::aws::load().await;
    let services = Services::build_with(&settings, Some(&aws)).await?;
    let intake = MailIntake {
        services,
        raw_mail: S3RawMail::new(&aws),
        location,
        blobs: settings.blobs,
    };
    let intake = &intake;
    run(service_fn(move |event| handler::handle(intake, event))).await
}
