//! Wiring, for entry points only (the Lambda functions, the CLI, tests and
//! benchmarks): [`Settings`] parsed once from the environment (Lambda) or
//! from command-line options (CLI), and [`Services::build`], which loads
//! the configuration and builds the store, blobs, AWS clients and
//! transports they name. Use cases never import this module; they take
//! [`Services`] from [`crate::services`].
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HELPDESK_CONFIG` | configuration file | `config/helpdesk.yaml` |
//! | `HELPDESK_STORE` | `sqlite` or `dynamodb` | `sqlite` |
//! | `HELPDESK_DB` | SQLite file | `helpdesk.db` |
//! | `HELPDESK_TABLE` | DynamoDB table | (required for `dynamodb`) |
//! | `HELPDESK_BLOBS` | a directory, or `s3://bucket/prefix` | `data/blobs` |
//! | `HELPDESK_MAIL_TRANSPORT` | `outbox:<dir>`, `ses`, `smtp://[user@]host[:port][?tls=required]` or `smtps://[user@]host[:port]` | `outbox:data/outbox` |
//! | `HELPDESK_SMTP_PASSWORD` | the SMTP relay user's password | |
//! | `HELPDESK_EVENTS` | `log:<file>` (JSON lines) or `eventbridge:<bus>` | `log:data/events.jsonl` |
//! | `HELPDESK_SECRETS` | a Secrets Manager secret (ARN or name) holding the secrets as a JSON object, read once at start ([`crate::secrets`]) | none: secrets come from the environment |
//! | `AWS_ENDPOINT_URL` | AWS endpoint override (moto in tests) | |

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use aws_config::SdkConfig;

use crate::automation::EventPublisher;
use crate::automation::bus::{EventBridgeBus, EventLog};
use crate::automation::webhook::HttpWebhooks;
use crate::blobs::{BlobStore, LocalBlobs, S3Blobs};
use crate::clock::SystemClock;
use crate::config;
use crate::mail::transport::{self, MailTransport};
use crate::secrets::StoredSecrets;
use crate::store::Store;
use crate::store::dynamo::DynamoStore;
use crate::store::listing::ListingRules;
use crate::store::sqlite::SqliteStore;

use crate::services::env_var;
pub use crate::services::{EnvSecrets, Secrets, Services, StaticSecrets};

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
    /// Outbound mail.
    pub mail_transport: MailTransportChoice,
    /// The event bus.
    pub events: EventsChoice,
    /// The Secrets Manager secret holding the secrets, if any (else the
    /// environment holds them).
    pub secrets: Option<String>,
}

/// A setting whose value is not one of its forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {expected}")]
pub struct SettingError {
    /// The value given.
    pub value: String,
    /// The forms it may take.
    pub expected: &'static str,
}

/// Where outbound mail goes: `outbox:<dir>` or `ses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransportChoice {
    /// Each message as an `.eml` file in a directory (the local default).
    Outbox(PathBuf),
    /// Amazon SES v2.
    Ses,
    /// An SMTP relay (`smtp://` or `smtps://`; the password from
    /// `HELPDESK_SMTP_PASSWORD`).
    Smtp(crate::mail::smtp::SmtpUrl),
}

impl FromStr for MailTransportChoice {
    type Err = SettingError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        match value.strip_prefix("outbox:").map(str::trim) {
            Some(dir) if !dir.is_empty() => Ok(Self::Outbox(PathBuf::from(dir))),
            _ if value == "ses" => Ok(Self::Ses),
            _ if value.starts_with("smtp") => value.parse().map(Self::Smtp).map_err(|_| {
                SettingError {
                    value: without_password(value),
                    expected: "smtp://[user@]host[:port][?tls=required] or smtps://[user@]host[:port], the password in HELPDESK_SMTP_PASSWORD",
                }
            }),
            _ => Err(SettingError {
                value: value.to_owned(),
                expected: "outbox:<dir>, ses, smtp://host or smtps://host",
            }),
        }
    }
}

/// Where the events triggers and SLA timers publish go: `log:<file>` or
/// `eventbridge:<bus>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsChoice {
    /// A JSON-lines file (the local default).
    Log(PathBuf),
    /// An EventBridge bus.
    EventBridge {
        /// The bus's name or ARN.
        bus: String,
    },
}

impl FromStr for EventsChoice {
    type Err = SettingError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().split_once(':') {
            Some(("log", path)) if !path.trim().is_empty() => {
                Ok(Self::Log(PathBuf::from(path.trim())))
            }
            Some(("eventbridge", bus)) if !bus.trim().is_empty() => Ok(Self::EventBridge {
                bus: bus.trim().to_owned(),
            }),
            _ => Err(SettingError {
                value: value.to_owned(),
                expected: "log:<file> or eventbridge:<bus>",
            }),
        }
    }
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
                .as_deref()
                .unwrap_or("outbox:data/outbox")
                .parse()
                .context("HELPDESK_MAIL_TRANSPORT")?,
            events: env("HELPDESK_EVENTS")
                .as_deref()
                .unwrap_or("log:data/events.jsonl")
                .parse()
                .context("HELPDESK_EVENTS")?,
            secrets: env(crate::secrets::SECRETS_ENV),
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
        let aws = match aws {
            Some(given) => Some(given.clone()),
            None if settings.need_aws() => Some(crate::aws::load().await),
            None => None,
        };
        let aws = aws.as_ref();
        check_reply_token_secret(&config.desk.mail.reply_token_secret_env, &env_var)
            .map_err(anyhow::Error::msg)?;
        let secrets = secrets(
            settings.secrets.as_deref(),
            aws,
            &config.desk.mail.reply_token_secret_env,
        )?;
        Ok(Self {
            store: store(&settings.store, aws, ListingRules::of(&config))?,
            config: Arc::new(config),
            blobs: blobs(&settings.blobs, aws)?,
            clock: Arc::new(SystemClock),
            mail: mail_transport(&settings.mail_transport, aws, secrets.as_ref()).await?,
            secrets,
            webhooks: Arc::new(HttpWebhooks::new()),
            events: events(&settings.events, aws)?,
        })
    }
}

impl Settings {
    /// Whether any setting names an AWS service.
    fn need_aws(&self) -> bool {
        matches!(self.store, StoreChoice::Dynamo { .. })
            || matches!(self.blobs, BlobChoice::S3 { .. })
            || matches!(self.events, EventsChoice::EventBridge { .. })
            || self.mail_transport == MailTransportChoice::Ses
            || self.secrets.is_some()
    }
}

/// The secrets: from the Secrets Manager secret a setting names (read on
/// first use, and refused then if the reply-token key in it is short), or
/// the environment.
fn secrets(
    id: Option<&str>,
    aws: Option<&SdkConfig>,
    reply_token_secret: &str,
) -> anyhow::Result<Arc<dyn Secrets>> {
    let name = reply_token_secret.to_owned();
    Ok(match id {
        None => Arc::new(EnvSecrets),
        Some(id) => Arc::new(StoredSecrets::new(
            need(aws)?,
            id,
            Box::new(move |lookup| check_reply_token_secret(&name, lookup)),
        )),
    })
}

/// The store a setting names (a SQLite file's folder is made when missing).
fn store(
    choice: &StoreChoice,
    aws: Option<&SdkConfig>,
    rules: ListingRules,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match choice {
        StoreChoice::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            Arc::new(
                SqliteStore::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?
                    .with_listing_rules(rules),
            )
        }
        StoreChoice::Dynamo { table } => Arc::new(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(need(aws)?), table.clone())
                .with_listing_rules(rules),
        ),
    })
}

/// The blob store a setting names.
fn blobs(choice: &BlobChoice, aws: Option<&SdkConfig>) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match choice {
        BlobChoice::Dir(dir) => Arc::new(LocalBlobs::new(dir)),
        BlobChoice::S3 { bucket, prefix } => {
            let s3 = aws_sdk_s3::config::Builder::from(need(aws)?)
                .force_path_style(true)
                .build();
            Arc::new(S3Blobs::new(
                aws_sdk_s3::Client::from_conf(s3),
                bucket,
                prefix,
            ))
        }
    })
}

/// An SMTP URL with any password in it replaced by `***`, for messages.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user part ends at the last `@`: a password may hold `/` or `?`.
    match rest.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

/// The mail transport a setting names.
async fn mail_transport(
    choice: &MailTransportChoice,
    aws: Option<&SdkConfig>,
    secrets: &dyn Secrets,
) -> anyhow::Result<Arc<dyn MailTransport>> {
    Ok(match choice {
        MailTransportChoice::Outbox(dir) => Arc::new(transport::OutboxDir::new(dir)),
        MailTransportChoice::Ses => Arc::new(transport::SesTransport::new(
            aws_sdk_sesv2::Client::new(need(aws)?),
        )),
        MailTransportChoice::Smtp(url) => Arc::new(crate::mail::smtp::SmtpRelay::new(
            url,
            secrets.secret(crate::mail::smtp::PASSWORD_ENV).await?,
        )?),
    })
}

/// The event bus a setting names.
fn events(
    choice: &EventsChoice,
    aws: Option<&SdkConfig>,
) -> anyhow::Result<Arc<dyn EventPublisher>> {
    Ok(match choice {
        EventsChoice::Log(path) => Arc::new(EventLog::new(path)),
        EventsChoice::EventBridge { bus } => Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(need(aws)?),
            bus,
        )),
    })
}

/// The fewest characters of a reply-token secret: the tokens it signs
/// are short, so a short key would let them be forged by search.
pub const MIN_REPLY_TOKEN_SECRET: usize = 32;

/// Refuses a reply-token secret that is set but short (a placeholder typed
/// into a deploy prompt): unset or empty means no token. Says why without
/// the value.
fn check_reply_token_secret(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    match lookup(name) {
        Some(secret) if !secret.is_empty() && secret.chars().count() < MIN_REPLY_TOKEN_SECRET => {
            Err(format!(
                "{name} has {} characters; give it at least {MIN_REPLY_TOKEN_SECRET} random ones, \
                 or leave it empty for mail without reply tokens",
                secret.chars().count()
            ))
        }
        _ => Ok(()),
    }
}

/// The AWS configuration a setting needs.
fn need(aws: Option<&SdkConfig>) -> anyhow::Result<&SdkConfig> {
    aws.context("no AWS configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_reply_token_secret_is_refused_at_start_and_an_empty_one_means_no_tokens() {
        let name = "HELPDESK_REPLY_TOKEN_SECRET";
        let check = |value: String| check_reply_token_secret(name, &|_| Some(value.clone()));
        let error = check("x".into()).unwrap_err();
        assert!(error.contains("at least 32"), "{error}");
        assert!(!error.contains("\"x\""), "{error}");
        assert!(check("k".repeat(31)).is_err());
        assert!(check("k".repeat(32)).is_ok());
        assert!(check(String::new()).is_ok());
        assert!(check_reply_token_secret(name, &|_| None).is_ok());
    }

    #[test]
    fn transport_and_event_settings_parse_once_and_name_what_is_accepted() {
        assert_eq!(
            " outbox: /tmp/x ".parse::<MailTransportChoice>(),
            Ok(MailTransportChoice::Outbox(PathBuf::from("/tmp/x")))
        );
        assert_eq!("ses".parse(), Ok(MailTransportChoice::Ses));
        assert!(matches!(
            "smtps://desk@mail.example.com".parse::<MailTransportChoice>(),
            Ok(MailTransportChoice::Smtp(_))
        ));
        let with_password = "smtps://desk:secret@relay".parse::<MailTransportChoice>();
        assert!(with_password.is_err_and(|e| {
            let said = e.to_string();
            said.contains("HELPDESK_SMTP_PASSWORD") && !said.contains("secret")
        }));
        for bad in ["outbox:", "carrier-pigeon", ""] {
            let error = bad.parse::<MailTransportChoice>().unwrap_err();
            assert!(
                error.to_string().contains("outbox:<dir>, ses, smtp://host"),
                "{error}"
            );
            assert!(
                error.to_string().contains(&format!("{:?}", bad.trim())),
                "{error}"
            );
        }
        assert_eq!(
            "log:data/events.jsonl".parse(),
            Ok(EventsChoice::Log(PathBuf::from("data/events.jsonl")))
        );
        assert_eq!(
            "eventbridge:desk".parse(),
            Ok(EventsChoice::EventBridge { bus: "desk".into() })
        );
        for bad in ["log:", "eventbridge:", "kafka:topic", "events.jsonl"] {
            let error = bad.parse::<EventsChoice>().unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("log:<file> or eventbridge:<bus>"),
                "{error}"
            );
        }
    }
}
