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
use crate::store::Store;

/// Where secrets (form signature keys) come from.
pub trait Secrets: Send + Sync {
    /// The secret named `name`, if set.
    fn secret(&self, name: &str) -> Option<String>;
}

/// Secrets from environment variables.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl Secrets for EnvSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|s| !s.is_empty())
    }
}

/// Fixed secrets; for tests.
#[derive(Debug, Default, Clone)]
pub struct StaticSecrets(pub std::collections::BTreeMap<String, String>);

impl Secrets for StaticSecrets {
    fn secret(&self, name: &str) -> Option<String> {
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
