//! The ports every use case takes, bundled: configuration, the store, blobs,
//! the clock, secrets, outbound mail, webhooks and the event bus, each a
//! trait object. Use cases depend on this module; building it from
//! settings (AWS clients, files, transports) is the entry points' business
//! ([`crate::app`]).

use std::sync::Arc;

use crate::automation::{EventPublisher, WebhookSender};
use crate::blobs::BlobStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::mail::transport::MailTransport;
pub use crate::secrets::SecretsError;
use crate::store::Store;

/// Where secrets (form signature keys, the reply-token key, webhook URLs
/// with tokens) come from.
#[async_trait::async_trait]
pub trait Secrets: Send + Sync {
    /// The secret named `name`, if set; an error when the place secrets
    /// are kept could not be read (worth retrying).
    async fn secret(&self, name: &str) -> Result<Option<String>, SecretsError>;

    /// A setting that is not secret (a chat id), from the environment (or
    /// a test's map), without waiting.
    fn setting(&self, name: &str) -> Option<String>;
}

/// Secrets from environment variables.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

/// A variable's value; empty means unset.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

#[async_trait::async_trait]
impl Secrets for EnvSecrets {
    async fn secret(&self, name: &str) -> Result<Option<String>, SecretsError> {
        Ok(env_var(name))
    }

    fn setting(&self, name: &str) -> Option<String> {
        env_var(name)
    }
}

/// Fixed secrets; for tests.
#[derive(Debug, Default, Clone)]
pub struct StaticSecrets(pub std::collections::BTreeMap<String, String>);

#[async_trait::async_trait]
impl Secrets for StaticSecrets {
    async fn secret(&self, name: &str) -> Result<Option<String>, SecretsError> {
        Ok(self.0.get(name).cloned())
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Everything a use case needs, shared by reference.
#[derive(Clone)]
pub struct Services {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The ticket store.
    pub store: Arc<dyn Store>,
    /// Attachment storage.
    pub blobs: Arc<dyn BlobStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Secret lookup.
    pub secrets: Arc<dyn Secrets>,
    /// Outbound mail.
    pub mail: Arc<dyn MailTransport>,
    /// Webhook calls made by triggers.
    pub webhooks: Arc<dyn WebhookSender>,
    /// The event bus triggers and SLA timers publish to.
    pub events: Arc<dyn EventPublisher>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
