//! The event bus: the stack's EventBridge bus on AWS, a JSON-lines file
//! locally (one event per line, appended), chosen by `HELPDESK_EVENTS`.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;

use super::ports::{BusEvent, DeliveryError, EventPublisher};

/// Publishes to an EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    /// Publishes to `bus` (a name or ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventPublisher for EventBridgeBus {
    async fn publish(&self, event: &BusEvent) -> Result<(), DeliveryError> {
        let mut detail = event.detail.clone();
        if let serde_json::Value::Object(map) = &mut detail {
            map.entry("event_id")
                .or_insert_with(|| serde_json::Value::String(event.id.clone()));
        }
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(detail.to_string())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                event.time.timestamp_millis(),
            ))
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Temporary(format!(
                    "EventBridge PutEvents failed: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(&e)
                ))
            })?;
        if output.failed_entry_count() > 0 {
            let reason = output
                .entries()
                .iter()
                .find_map(|e| {
                    e.error_code()
                        .map(|c| format!("{c}: {}", e.error_message().unwrap_or("")))
                })
                .unwrap_or_else(|| "unknown reason".into());
            return Err(
                if reason.contains("Throttl") || reason.contains("Internal") {
                    DeliveryError::Temporary(format!("EventBridge refused the event: {reason}"))
                } else {
                    DeliveryError::Permanent(format!("EventBridge refused the event: {reason}"))
                },
            );
        }
        Ok(())
    }
}

/// Appends events to a local JSON-lines file (`data/events.jsonl`).
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    /// Appends to `path`, creating it and its directory on first use.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Every event in the file, oldest first (for tests and tools).
    pub fn read_all(&self) -> std::io::Result<Vec<serde_json::Value>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(std::io::Error::other))
            .collect()
    }
}

#[async_trait]
impl EventPublisher for EventLog {
    async fn publish(&self, event: &BusEvent) -> Result<(), DeliveryError> {
        let mut line = serde_json::to_vec(event)
            .map_err(|e| DeliveryError::Permanent(format!("cannot encode the event: {e}")))?;
        line.push(b'\n');
        let path = self.path.clone();
        crate::blocking::run_sized(line.len(), move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            // One write of a whole line with O_APPEND keeps concurrent
            // writers' lines whole.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?
                .write_all(&line)
        })
        .await
        .map_err(|e| DeliveryError::Temporary(format!("event log writer failed: {e}")))?
        .map_err(|e| {
            DeliveryError::Temporary(format!("cannot append to {}: {e}", self.path.display()))
        })
    }
}
