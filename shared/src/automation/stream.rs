//! DynamoDB stream batches (NEW_AND_OLD_IMAGES) for the `ticket-triggers`
//! function: each record is decoded on its own, so one malformed record
//! fails alone; ticket records become changes and go through
//! [`super::process`] (triggers, SLA notifications, SLA timers); the answer is a partial batch response.
//!
//! - A ticket item's INSERT or MODIFY is a change (old and new image; the
//!   entries written with the new version are read from the store).
//! - A timeline item's INSERT is covered by the ticket record of the same
//!   write (every entry is written with a ticket version), so it is
//!   acknowledged without work. REMOVE records and other items likewise.
//! - Records of one shard are processed in order and processing stops at the
//!   first failure: Lambda retries from the record named in
//!   `batchItemFailures`, so later records of the batch are not run twice
//!   and a ticket's changes are never evaluated out of order.

use aws_lambda_events::dynamodb::EventRecord;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;

use super::engine::Outcome;
use super::process::process;
use crate::domain::Ticket;
use crate::services::Services;

/// What one stream record is.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A ticket write: evaluate it.
    TicketWrite {
        /// The old image, none for an INSERT.
        before: Option<Box<Ticket>>,
        /// The new image.
        after: Box<Ticket>,
    },
    /// Nothing to evaluate, and why.
    Skip(String),
}

/// Why a record could not be decoded (it will fail the same way every
/// time, so after the mapping's retries it goes to the failure queue).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream record {id}: {reason}")]
pub struct DecodeError {
    /// The record's `eventID`, or its position when it has none.
    pub id: String,
    /// What is wrong.
    pub reason: String,
}

/// The records of a batch, each decoded from JSON on its own.
pub fn records(event: &serde_json::Value) -> Result<Vec<RawRecord>, DecodeError> {
    let list = event
        .get("Records")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| DecodeError {
            id: "batch".into(),
            reason: "the event has no Records array; is this a DynamoDB stream event?".into(),
        })?;
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, value)| RawRecord::new(i, value))
        .collect())
}

/// One record as delivered, with the identity Lambda needs to retry it.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// `dynamodb.SequenceNumber`, the partial batch response's identifier.
    pub sequence_number: Option<String>,
    /// `eventID`, or `#<position>`.
    pub id: String,
    /// The parsed record, or why it does not parse.
    pub parsed: Result<EventRecord, String>,
}

impl RawRecord {
    fn new(position: usize, value: &serde_json::Value) -> Self {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        Self {
            sequence_number: text(value.pointer("/dynamodb/SequenceNumber")),
            id: text(value.get("eventID")).unwrap_or_else(|| format!("#{position}")),
            parsed: serde_json::from_value(value.clone()).map_err(|e| e.to_string()),
        }
    }

    /// What the record is.
    pub fn decode(&self) -> Result<Decoded, DecodeError> {
        let fail = |reason: String| DecodeError {
            id: self.id.clone(),
            reason,
        };
        let record = self
            .parsed
            .as_ref()
            .map_err(|e| fail(format!("not a DynamoDB stream record: {e}")))?;
        decode(record).map_err(fail)
    }
}

fn item_type(item: &serde_dynamo::Item) -> Option<&str> {
    match item.get("item_type") {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn ticket_image(item: &serde_dynamo::Item, which: &str) -> Result<Box<Ticket>, String> {
    serde_dynamo::from_item(item.clone())
        .map(Box::new)
        .map_err(|e| format!("the {which} image is not a ticket: {e}"))
}

/// Decodes a parsed record.
pub fn decode(record: &EventRecord) -> Result<Decoded, String> {
    let change = &record.change;
    let image = if change.new_image.is_empty() {
        &change.old_image
    } else {
        &change.new_image
    };
    let kind = item_type(image).unwrap_or("");
    match (record.event_name.as_str(), kind) {
        ("INSERT" | "MODIFY", "ticket") => {
            let after = ticket_image(&change.new_image, "new")?;
            let before = if record.event_name == "MODIFY" {
                if change.old_image.is_empty() {
                    return Err(
                        "a MODIFY record without OldImage: the stream must be NEW_AND_OLD_IMAGES"
                            .into(),
                    );
                }
                Some(ticket_image(&change.old_image, "old")?)
            } else {
                None
            };
            Ok(Decoded::TicketWrite { before, after })
        }
        ("REMOVE", "ticket") => Ok(Decoded::Skip("a removed ticket fires no triggers".into())),
        (_, "timeline") => Ok(Decoded::Skip(
            "timeline entry: evaluated with its ticket's record".into(),
        )),
        ("INSERT" | "MODIFY" | "REMOVE", "") => Ok(Decoded::Skip(
            "an item without item_type (a counter) fires no triggers".into(),
        )),
        ("INSERT" | "MODIFY" | "REMOVE", other) => {
            Ok(Decoded::Skip(format!("{other} items fire no triggers")))
        }
        (other, _) => Err(format!("unknown eventName {other:?}")),
    }
}

/// What happened to one record, for logs and the dry run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RecordReport {
    /// Evaluated and carried out.
    Processed {
        /// The record.
        id: String,
        /// What the engine did.
        outcome: Box<Outcome>,
    },
    /// Acknowledged without work.
    Skipped {
        /// The record.
        id: String,
        /// Why.
        reason: String,
    },
    /// Failed; Lambda retries from here.
    Failed {
        /// The record.
        id: String,
        /// Why.
        error: String,
    },
    /// Not attempted because an earlier record of the batch failed.
    NotAttempted {
        /// The record.
        id: String,
    },
}

/// Processes a batch in order and answers the partial batch response:
/// empty when every record is done, else the first failed record (Lambda
/// retries it and everything after it).
pub async fn handle_batch(
    services: &Services,
    event: &serde_json::Value,
) -> (DynamoDbEventResponse, Vec<RecordReport>) {
    let mut response = DynamoDbEventResponse::default();
    let mut reports = Vec::new();
    let records = match records(event) {
        Ok(records) => records,
        Err(e) => {
            // Nothing to name: fail the invocation so the batch is retried
            // and ends in the failure queue.
            tracing::error!(error = %e, "not a stream batch");
            response.batch_item_failures.push(failure(String::new()));
            reports.push(RecordReport::Failed {
                id: e.id,
                error: e.reason,
            });
            return (response, reports);
        }
    };
    let mut failed = false;
    for record in &records {
        if failed {
            reports.push(RecordReport::NotAttempted {
                id: record.id.clone(),
            });
            continue;
        }
        let report = process_record(services, record).await;
        if let RecordReport::Failed { id, error } = &report {
            tracing::error!(record = %id, %error, "stream record failed");
            failed = true;
            response.batch_item_failures.push(failure(
                record.sequence_number.clone().unwrap_or_else(|| id.clone()),
            ));
        }
        reports.push(report);
    }
    (response, reports)
}

/// A batch item failure naming `identifier` (empty: the whole batch).
fn failure(identifier: String) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = Some(identifier);
    failure
}

async fn process_record(services: &Services, record: &RawRecord) -> RecordReport {
    let id = record.id.clone();
    let (before, after) = match record.decode() {
        Ok(Decoded::TicketWrite { before, after }) => (before.map(|b| *b), *after),
        Ok(Decoded::Skip(reason)) => return RecordReport::Skipped { id, reason },
        Err(e) => {
            return RecordReport::Failed {
                id,
                error: e.reason,
            };
        }
    };
    let written = after.clone();
    match process(services, before, after).await {
        Ok(outcome) => {
            // The report rollups and the metric export follow every write
            // (the local desk keeps its rollups from its change feed).
            let (store, blobs) = (services.store.as_ref(), services.blobs.as_ref());
            let followed =
                crate::reports::keep::follow_write(&services.config, store, blobs, &written).await;
            if let Err(e) = followed {
                return RecordReport::Failed {
                    id,
                    error: format!("reports of {}: {e}", written.key),
                };
            }
            RecordReport::Processed {
                id,
                outcome: Box::new(outcome),
            }
        }
        Err(e) => RecordReport::Failed {
            id,
            error: e.to_string(),
        },
    }
}
