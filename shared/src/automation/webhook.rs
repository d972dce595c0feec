//! Webhooks over HTTP(S) with reqwest: one JSON POST per call, a timeout,
//! and the planned effect's id as `Idempotency-Key`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::ports::{DeliveryError, WebhookSender};

/// How long one webhook call may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes aws-lc-rs (the provider the AWS SDK links) the process's rustls
/// provider, unless one is installed already. reqwest is built without a
/// provider of its own, so every process calls this before building a
/// client; calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Calls webhooks over HTTP(S).
///
/// The HTTP client (the system's root certificates and [`WEBHOOK_TIMEOUT`])
/// is built on the first call, not with the value: loading the root
/// certificates takes milliseconds, and most functions and most runs never
/// call a webhook, so they should not pay for it at start (docs/benchmarks.md).
/// Clones share the one client.
#[derive(Debug, Clone, Default)]
pub struct HttpWebhooks {
    client: Arc<OnceCell<reqwest::Client>>,
}

impl HttpWebhooks {
    /// A sender whose client is built on its first call.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client, built now if this is the first call. A client that cannot
    /// be built (no usable TLS setup on this machine) is a temporary failure:
    /// the call is retried like any other, and nothing is lost.
    async fn client(&self) -> Result<&reqwest::Client, DeliveryError> {
        self.client
            .get_or_try_init(|| async {
                install_crypto_provider();
                reqwest::Client::builder()
                    .timeout(WEBHOOK_TIMEOUT)
                    .user_agent(concat!("helpdesk/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| {
                        DeliveryError::Temporary(format!("cannot build the HTTP client: {e}"))
                    })
            })
            .await
    }
}

#[async_trait]
impl WebhookSender for HttpWebhooks {
    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        id: &str,
    ) -> Result<(), DeliveryError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| DeliveryError::Permanent(format!("cannot encode the body: {e}")))?;
        let response = self
            .client()
            .await?
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", id)
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_builder() {
                    return DeliveryError::Permanent(format!("bad webhook URL: {e}"));
                } else if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                DeliveryError::Temporary(format!("webhook call {what}: {}", without_url(&e)))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        let message = format!("webhook answered {status}: {text}");
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(DeliveryError::Temporary(message))
        } else {
            Err(DeliveryError::Permanent(message))
        }
    }
}

/// The error without its URL: webhook URLs (Slack, Telegram bot tokens) are
/// secrets and must not reach logs or the timeline.
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(start) = e.find(" for url (")
        && let Some(end) = e[start..].find(')')
    {
        e.replace_range(start..start + end + 1, "");
    }
    e
}
