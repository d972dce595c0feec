//! The ticket triggers Lambda function: the helpdesk table's DynamoDB
//! stream (`NEW_AND_OLD_IMAGES`), through an event source mapping with
//! `ReportBatchItemFailures`, invokes it with batches of stream records;
//! every ticket write (INSERT or MODIFY of a `ticket` item) runs the
//! queue's triggers once, sends the SLA notifications of any warning or
//! breach the write recorded, and refreshes the ticket's SLA timers
//! ([`helpdesk::automation::process`]).
//!
//! - **What invokes it.** Lambda's poller for the table's stream, with the
//!   mapping's filter letting through only `ticket` and `timeline` items
//!   (see `infra/template.yaml`). Records of one shard arrive in order, and
//!   a batch is retried (after bisecting it) until it succeeds, its records
//!   are too old or the retries run out; then the batch's description goes
//!   to the mapping's on-failure queue.
//! - **Partial batch response.** The answer is
//!   `{"batchItemFailures":[{"itemIdentifier":"<SequenceNumber>"}]}`
//!   naming the first record that failed (empty when all went well):
//!   Lambda checkpoints before it and retries from it, so a ticket's
//!   changes are never evaluated out of order and the records before it are
//!   not processed again.
//! - **Idempotent per stream record.** Stream delivery is at least once and
//!   a retried batch repeats records. A record's trigger write carries the
//!   claim `trig:<ticket>:<version>` and every side effect (webhook, bus
//!   event, mail) claims the marker of its stable effect id before it goes
//!   out, so a record processed twice writes, calls, publishes and sends
//!   nothing twice.
//! - **Decoding.** The handler takes the raw event as JSON, not a typed
//!   DynamoDB event: each record is decoded on its own, so one malformed
//!   record fails alone instead of failing the whole batch's
//!   deserialization (see [`helpdesk::automation::stream`]).
//!
//! `main` builds the services once (configuration, store, blob store, mail
//! transport, event bus: the `HELPDESK_*` variables of
//! [`helpdesk::app::Settings`], with `HELPDESK_EVENTS=eventbridge:<bus>` as
//! deployed; the webhook client follows on the first webhook call) and
//! hands each batch to [`handler::handle`].

mod archive;
mod handler;

use helpdesk::app::{Services, Settings};
use helpdesk::telemetry::{self, LogFormat};
use lambda_runtime::{Error, run, service_fn};

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
