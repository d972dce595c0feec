//! The two outbound ports triggers need besides mail: webhooks and the
//! event bus. Adapters: [`super::webhook::HttpWebhooks`] (HTTPS through
//! reqwest), [`super::bus::EventBridgeBus`] (the stack's EventBridge bus) and
//! [`super::bus::EventLog`] (a local JSON-lines file).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (timeouts, 5xx, 429, throttling).
    #[error("{0} (temporary)")]
    Temporary(String),
    /// Trying again will not help (4xx, a bad URL, a refused event).
    #[error("{0}")]
    Permanent(String),
}

impl DeliveryError {
    /// Whether a later attempt may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }
}

/// Calls webhooks.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` as JSON to `url` with the header `Idempotency-Key: id`,
    /// so a receiver can drop a repeat. Success is any 2xx answer.
    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        id: &str,
    ) -> Result<(), DeliveryError>;
}

/// One event for the bus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusEvent {
    /// Stable id (the planned effect's id), for consumers to drop repeats.
    pub id: String,
    /// Always `helpdesk`.
    pub source: String,
    /// What happened, such as `ticket.escalated`.
    pub detail_type: String,
    /// The event's content.
    pub detail: serde_json::Value,
    /// When it happened.
    pub time: DateTime<Utc>,
}

/// Publishes events.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes one event.
    async fn publish(&self, event: &BusEvent) -> Result<(), DeliveryError>;
}
