//! The SLA check Lambda function: an EventBridge schedule rule
//! (`rate(1 minute)`) invokes it asynchronously, and each invocation runs
//! the SLA checker once ([`helpdesk::sla::check`]): every ticket whose
//! warning or breach fell due by now is read from the due index and
//! refreshed, which records what fell due on its timeline.
//!
//! - **What invokes it.** The schedule rule of `infra/template.yaml`, once
//!   a minute, asynchronously (EventBridge may deliver an event twice, and
//!   Lambda retries a failed invocation). Anything else that invokes it
//!   (a manual `aws lambda invoke` to catch up, a test) runs the same
//!   check; see [`handler`].
//! - **Exactly once.** A warning or breach is a flag on its timer, written
//!   in the same conditional write (on the ticket's version) as its
//!   timeline entry. Two runs at once (a schedule that fired twice, a
//!   retry overlapping the next minute's run, the change path refreshing
//!   the same ticket) race on the version; the loser re-reads and finds
//!   the flag set, so nothing is recorded twice. Notifications (mail, the
//!   `SlaWarning`/`SlaBreach` bus events, trigger events) are not sent
//!   here: they follow from the recorded timeline entry on the change path
//!   (the ticket triggers function), once per entry.
//! - **Missed minutes are caught up.** A ticket stays in the due index
//!   until its due instant is recorded, and each event is recorded at the
//!   instant it fell due, not when the check ran: a run that was skipped,
//!   late, failed or cut short leaves everything for the next one.
//! - **Budget.** A run takes no new ticket once the invocation's deadline
//!   is less than a safety margin away ([`handler::budget`]); the answer's
//!   `finished` is false then and the rest waits a minute.
//! - **Errors.** A failure to read the due index fails the invocation
//!   (Lambda retries it; the next scheduled run would catch up anyway). A
//!   ticket that fails alone is logged, named in the answer's `failed` and
//!   left due; the run goes on with the others.
//!
//! `main` builds the services once (configuration, store, and the mail
//! transport, blob store and event bus the services always carry, though
//! the checker sends, stores and publishes nothing: the `HELPDESK_*`
//! variables of [`helpdesk::app::Settings`]) and hands each invocation to
//! [`handler::handle`].

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
