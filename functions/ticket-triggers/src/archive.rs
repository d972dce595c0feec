//! Keeps the stream records of a failed batch where an operator can redrive
//! them after the stream has dropped them. The mapping's failure queue only
//! describes a batch given up on (shard, sequence numbers); the table's
//! stream keeps the records themselves for 24 hours, the queue keeps its
//! messages for 14 days. So when a record fails, it and every record after
//! it in the batch (the ones Lambda retries with it, and that the failure
//! queue's range covers) are written to the blob store (the bucket, as
//! deployed) at `failed-stream-records/<SequenceNumber>-<eventID>.json`,
//! each as a stream event of its own (`{"Records":[record]}`) that can be
//! handed to the function as it is (`aws lambda invoke --payload`). A retry
//! that fails again writes the same keys; a redriven record that was
//! processed meanwhile is harmless (records are idempotent). An event that
//! is not a stream batch at all is kept whole, under
//! `failed-stream-records/unrecognised-<SHA-256 of the event>.json`.
//!
//! An invocation that crashes or times out archives nothing; then the
//! stream's 24 hours are what is left.

use bytes::Bytes;
use helpdesk::blobs::BlobStore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where archived records go, under the blob store's root.
pub const PREFIX: &str = "failed-stream-records/";

/// The archives to write for a batch whose first failed record is
/// `failed` (its sequence number; empty when the event is no batch):
/// each key with its bytes.
pub fn archives(event: &Value, failed: &str) -> Vec<(String, Vec<u8>)> {
    let Some(records) = event
        .get("Records")
        .and_then(Value::as_array)
        .filter(|_| !failed.is_empty())
    else {
        let bytes = event.to_string().into_bytes();
        let key = format!(
            "{PREFIX}unrecognised-{}.json",
            hex::encode(Sha256::digest(&bytes))
        );
        return vec![(key, bytes)];
    };
    let sequence = |record: &Value| {
        record
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let Some(first) = records.iter().position(|r| sequence(r) == failed) else {
        // The failure names no record of the event: keep it whole.
        return archives(event, "");
    };
    records[first..]
        .iter()
        .map(|record| {
            let event_id = record
                .get("eventID")
                .and_then(Value::as_str)
                .unwrap_or("no-event-id");
            let key = format!(
                "{PREFIX}{}-{}.json",
                safe(&sequence(record)),
                safe(event_id)
            );
            (key, json!({ "Records": [record] }).to_string().into_bytes())
        })
        .collect()
}

/// A key part made of what a key may safely hold (stream ids are digits
/// and hex; anything else becomes `_`).
fn safe(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the archives; a write that fails is logged and the rest still
/// written (the batch is retried either way).
pub async fn keep(blobs: &dyn BlobStore, event: &Value, failed: &str) {
    for (key, bytes) in archives(event, failed) {
        match blobs
            .put(&key, "application/json", Bytes::from(bytes))
            .await
        {
            Ok(()) => tracing::warn!(%key, "failed stream record archived for redrive"),
            Err(e) => tracing::error!(%key, error = %e, "failed stream record not archived"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn record(sequence: &str, id: &str) -> Value {
        json!({"eventID": id, "eventName": "MODIFY", "dynamodb": {"SequenceNumber": sequence, "NewImage": {"pk": {"S": "TICKET#SUP-1"}}}})
    }

    #[test]
    fn the_failed_record_and_every_later_one_are_kept_as_events_of_their_own() {
        let event =
            json!({"Records": [record("100", "a"), record("200", "b"), record("300", "c/../x")]});
        let kept = archives(&event, "200");
        let keys: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "failed-stream-records/200-b.json",
                "failed-stream-records/300-c____x.json"
            ]
        );
        let first: Value = serde_json::from_slice(&kept[0].1).unwrap();
        assert_eq!(first, json!({"Records": [record("200", "b")]}));
    }

    #[test]
    fn an_event_that_is_no_batch_is_kept_whole_under_its_hash() {
        let event = json!({"not": "a stream batch"});
        let kept = archives(&event, "");
        assert_eq!(kept.len(), 1);
        assert!(kept[0].0.starts_with("failed-stream-records/unrecognised-"));
        assert_eq!(serde_json::from_slice::<Value>(&kept[0].1).unwrap(), event);
        assert_eq!(archives(&event, ""), kept, "the same key on every retry");
    }
}
