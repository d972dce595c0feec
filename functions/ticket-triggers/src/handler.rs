//! Turns one invocation (a batch of DynamoDB stream records, as raw JSON)
//! into [`stream::handle_batch`] and its reports into log lines and the
//! partial batch response.
//!
//! | record | report | in `batchItemFailures` |
//! |---|---|---|
//! | ticket INSERT or MODIFY, triggers evaluated and carried out | `processed` | no |
//! | timeline item, removed ticket, any other item | `skipped` | no |
//! | not decodable, or the engine failed (store down, ticket gone) | `failed` | yes: the first one only |
//! | after a failed record | `not_attempted` | no (Lambda retries from the failed one) |
//!
//! An event that is not a stream batch at all is answered with one failure
//! with an empty identifier, which makes Lambda retry the whole batch.
//!
//! On a failure, the failed record and the records after it are archived
//! for a redrive after the stream has dropped them ([`crate::archive`]).
//!
//! Every record's report is one JSON log line (`stream record`, at info;
//! failures at error) whose `report` field is the whole report, and the
//! batch ends with one `stream batch` line with the counts.

use aws_lambda_events::streams::DynamoDbEventResponse;

use crate::archive;
use helpdesk::app::Services;
use helpdesk::automation::stream::{self, RecordReport};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// How many records of a batch ended which way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    processed: usize,
    skipped: usize,
    failed: usize,
    not_attempted: usize,
}

impl Counts {
    fn add(&mut self, report: &RecordReport) {
        match report {
            RecordReport::Processed { .. } => self.processed += 1,
            RecordReport::Skipped { .. } => self.skipped += 1,
            RecordReport::Failed { .. } => self.failed += 1,
            RecordReport::NotAttempted { .. } => self.not_attempted += 1,
        }
    }
}

/// Handles one batch (see the module docs). Never fails the invocation
/// itself: failures are reported per record, as the event source mapping's
/// `ReportBatchItemFailures` expects.
pub async fn handle(
    services: &Services,
    event: LambdaEvent<Value>,
) -> Result<DynamoDbEventResponse, Error> {
    let (response, reports) = stream::handle_batch(services, &event.payload).await;
    let mut counts = Counts::default();
    for report in &reports {
        counts.add(report);
        log(report);
    }
    let failures: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref().unwrap_or(""))
        .collect();
    if let Some(failed) = failures.first() {
        archive::keep(services.blobs.as_ref(), &event.payload, failed).await;
    }
    tracing::info!(
        records = reports.len(),
        processed = counts.processed,
        skipped = counts.skipped,
        failed = counts.failed,
        not_attempted = counts.not_attempted,
        batch_item_failures = ?failures,
        "stream batch"
    );
    Ok(response)
}

/// The report as logged: for a processed record only what the engine
/// decided (triggers, field names, write, effect statuses), never the
/// ticket's text or the requester's address, which stay out of CloudWatch.
fn redacted(report: &RecordReport) -> serde_json::Value {
    match report {
        RecordReport::Processed { id, outcome } => {
            let plan = &outcome.plan;
            serde_json::json!({
                "result": "processed",
                "id": id,
                "outcome": {
                    "plan": {
                        "ticket": plan.ticket.to_string(),
                        "version": plan.version,
                        "depth": plan.depth,
                        "events": plan.events,
                        "fired": plan.fired,
                        "changed_fields": plan.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
                        "stopped": plan.stopped.is_some(),
                        "problems": plan.problems.len(),
                    },
                    "write": outcome.write,
                    "effects": outcome.effects,
                }
            })
        }
        other => serde_json::to_value(other)
            .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() })),
    }
}

/// One JSON log line for a record's report (the runtime's span adds the
/// request id).
fn log(report: &RecordReport) {
    let json = redacted(report).to_string();
    match report {
        RecordReport::Processed { id, outcome } => tracing::info!(
            record = %id,
            result = "processed",
            ticket = %outcome.plan.ticket,
            version = outcome.plan.version,
            fired = ?outcome.plan.fired,
            write = %serde_json::to_string(&outcome.write).unwrap_or_default(),
            report = %json,
            "stream record"
        ),
        RecordReport::Skipped { id, reason } => tracing::info!(
            record = %id,
            result = "skipped",
            %reason,
            report = %json,
            "stream record"
        ),
        RecordReport::Failed { id, error } => tracing::error!(
            record = %id,
            result = "failed",
            %error,
            report = %json,
            "stream record"
        ),
        RecordReport::NotAttempted { id } => tracing::info!(
            record = %id,
            result = "not_attempted",
            report = %json,
            "stream record"
        ),
    }
}
