//! Wiring: the [`Services`] every use case takes, built once per process
//! from the environment (Lambda) or from command-line options (CLI).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HELPDESK_CONFIG` | configuration file | `config/helpdesk.yaml` |
//! | `HELPDESK_STORE` | `sqlite` or `dynamodb` | `sqlite` |
//! | `HELPDESK_DB` | SQLite file | `helpdesk.db` |
//! | `HELPDESK_TABLE` | DynamoDB table | (required for `dynamodb`) |
//! | `HELPDESK_BLOBS` | a directory, or `s3://bucket/prefix` | `data/blobs` |
//! | `HELPDESK_MAIL_TRANSPORT` | `outbox:<dir>` or `ses` | `outbox:data/outbox` |
//! | `HELPDESK_EVENTS` | `log:<file>` (JSON lines) or `eventbridge:<bus>` | `log:data/events.jsonl` |
//! | `AWS_ENDPOINT_URL` | AWS endpoint override (moto in tests) | |

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::automation::bus::{EventBridgeBus, EventLog};
use crate::automation::webhook::HttpWebhooks;
use crate::automation::{EventPublisher, WebhookSender};
use crate::blobs::{BlobStore, LocalBlobs, S3Blobs};
use crate::clock::{Clock, SystemClock};
use crate::config::{self, Config};
use crate::mail::transport::{self, MailTransport};
use crate::store::Store;
use crate::store::dynamo::DynamoStore;
use crate::store::sqlite::SqliteStore;

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

/// Which store and where, as chosen by options or the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A DynamoDB table.
    Dynamo {
        /// The table's name.
        table: String,
    },
}

/// Where blobs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobChoice {
    /// A local directory.
    Dir(PathBuf),
    /// An S3 bucket and prefix.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix.
        prefix: String,
    },
}

impl BlobChoice {
    /// Parses `s3://bucket/prefix` or a directory path.
    pub fn parse(value: &str) -> Self {
        match value.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                Self::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                }
            }
            None => Self::Dir(PathBuf::from(value)),
        }
    }
}

/// How to build [`Services`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration file.
    pub config: PathBuf,
    /// The store.
    pub store: StoreChoice,
    /// The blob store.
    pub blobs: BlobChoice,
    /// Outbound mail: `outbox:<dir>` or `ses`.
    pub mail_transport: String,
    /// The event bus: `log:<file>` (JSON lines) or `eventbridge:<bus>`.
    pub events: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

impl Settings {
    /// Settings from `HELPDESK_*` environment variables.
    pub fn from_env() -> anyhow::Result<Self> {
        let store = match env("HELPDESK_STORE").as_deref().unwrap_or("sqlite") {
            "sqlite" => StoreChoice::Sqlite(
                env("HELPDESK_DB")
                    .unwrap_or_else(|| "helpdesk.db".into())
                    .into(),
            ),
            "dynamodb" => StoreChoice::Dynamo {
                table: env("HELPDESK_TABLE")
                    .context("HELPDESK_STORE=dynamodb needs HELPDESK_TABLE")?,
            },
            other => bail!("HELPDESK_STORE must be sqlite or dynamodb, not {other:?}"),
        };
        Ok(Self {
            config: env("HELPDESK_CONFIG")
                .unwrap_or_else(|| "config/helpdesk.yaml".into())
                .into(),
            store,
            blobs: BlobChoice::parse(&env("HELPDESK_BLOBS").unwrap_or_else(|| "data/blobs".into())),
            mail_transport: env("HELPDESK_MAIL_TRANSPORT")
                .unwrap_or_else(|| "outbox:data/outbox".into()),
            events: env("HELPDESK_EVENTS").unwrap_or_else(|| "log:data/events.jsonl".into()),
        })
    }
}

impl Services {
    /// Loads the configuration (failing on any finding) and connects the
    /// store and blob store. AWS clients are built only when needed.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, None).await
    }

    /// [`Services::build`] with an AWS configuration the caller has loaded
    /// already (a function that needs its own AWS client besides, like mail
    /// intake's raw-mail reader), so that it is loaded once per process;
    /// `None` loads it here when a setting needs AWS.
    pub async fn build_with(
        settings: &Settings,
        aws: Option<&aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        let config = config::load(&settings.config)
            .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
        let needs_aws = matches!(settings.store, StoreChoice::Dynamo { .. })
            || matches!(settings.blobs, BlobChoice::S3 { .. })
            || settings.events.starts_with("eventbridge:")
            || settings.mail_transport.trim() == "ses";
        let aws = match aws {
            Some(given) => Some(given.clone()),
            None if needs_aws => Some(crate::aws::load().await),
            None => None,
        };
        let store: Arc<dyn Store> = match (&settings.store, &aws) {
            (StoreChoice::Sqlite(path), _) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                Arc::new(
                    SqliteStore::open(path)
                        .with_context(|| format!("cannot open {}", path.display()))?,
                )
            }
            (StoreChoice::Dynamo { table }, Some(aws)) => Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(aws),
                table.clone(),
            )),
            (StoreChoice::Dynamo { .. }, None) => bail!("no AWS configuration"),
        };
        let blobs: Arc<dyn BlobStore> = match (&settings.blobs, &aws) {
            (BlobChoice::Dir(dir), _) => Arc::new(LocalBlobs::new(dir)),
            (BlobChoice::S3 { bucket, prefix }, Some(aws)) => {
                let s3 = aws_sdk_s3::config::Builder::from(aws)
                    .force_path_style(true)
                    .build();
                Arc::new(S3Blobs::new(
                    aws_sdk_s3::Client::from_conf(s3),
                    bucket,
                    prefix,
                ))
            }
            (BlobChoice::S3 { .. }, None) => bail!("no AWS configuration"),
        };
        let mail = transport::from_setting(&settings.mail_transport, aws.as_ref())
            .map_err(|e| anyhow::anyhow!("HELPDESK_MAIL_TRANSPORT: {e:?}"))?;
        let events: Arc<dyn EventPublisher> = match (settings.events.split_once(':'), &aws) {
            (Some(("log", path)), _) => Arc::new(EventLog::new(path)),
            (Some(("eventbridge", bus)), Some(aws)) => Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(aws),
                bus,
            )),
            _ => bail!(
                "HELPDESK_EVENTS must be log:<file> or eventbridge:<bus>, not {:?}",
                settings.events
            ),
        };
        let webhooks = Arc::new(HttpWebhooks::new());
        Ok(Self {
            config: Arc::new(config),
            store,
            blobs,
            clock: Arc::new(SystemClock),
            secrets: Arc::new(EnvSecrets),
            mail,
            webhooks,
            events,
        })
    }
}
