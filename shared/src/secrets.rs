//! Where a deployed desk keeps its secrets: one AWS Secrets Manager secret
//! (named by `HELPDESK_SECRETS`, its ARN or name) whose value is a JSON
//! object of secret names to values, such as
//! `{"HELPDESK_REPLY_TOKEN_SECRET": "...", "HELPDESK_TELEGRAM_URL": "..."}`.
//! The functions' configuration (readable with `GetFunctionConfiguration`)
//! then holds no secret, only the secret's ARN.
//!
//! It is read on first use, with one `GetSecretValue`, and kept for the
//! process's life: a start (a Lambda cold start) waits for no extra
//! request, and a path that needs no secret (a plain form post) never
//! makes one. A failed read is not kept: the use that needed it fails as
//! a temporary error, and the next use reads again. A name the secret does
//! not hold is looked up in the environment, as local runs keep every
//! secret there.

use std::collections::BTreeMap;

use tokio::sync::OnceCell;

use crate::services::{Secrets, env_var};

/// The variable naming the Secrets Manager secret.
pub const SECRETS_ENV: &str = "HELPDESK_SECRETS";

/// Why the secrets could not be read; never holds a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Secrets Manager refused or failed.
    #[error("cannot read the secret {id} from Secrets Manager: {reason}")]
    Read {
        /// The secret's ARN or name.
        id: String,
        /// What the service said.
        reason: String,
    },
    /// The secret's value is not a JSON object of strings.
    #[error("the secret {id} must hold a JSON object of names to strings: {problem}")]
    Shape {
        /// The secret's ARN or name.
        id: String,
        /// What is wrong with it (no value quoted).
        problem: String,
    },
    /// A value the desk refuses to work with (a short reply-token key).
    #[error("the secret {id}: {problem}")]
    Refused {
        /// The secret's ARN or name.
        id: String,
        /// What is wrong (no value quoted).
        problem: String,
    },
}

/// A check every loaded set of secrets must pass (see
/// [`crate::app`]'s reply-token rule); `Err` says why, without the value.
pub type SecretsCheck =
    Box<dyn Fn(&dyn Fn(&str) -> Option<String>) -> Result<(), String> + Send + Sync>;

/// Secrets from one Secrets Manager secret, read on first use, then the
/// environment.
pub struct StoredSecrets {
    /// The SDK configuration the client is made from at the first read (a
    /// client costs its construction, about 0.4 million instructions of a
    /// cold start, even when no secret is ever read).
    aws: aws_config::SdkConfig,
    id: String,
    check: SecretsCheck,
    loaded: OnceCell<BTreeMap<String, String>>,
}

impl std::fmt::Debug for StoredSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The names only: values never reach a log.
        f.debug_struct("StoredSecrets")
            .field("id", &self.id)
            .field(
                "names",
                &self.loaded.get().map(|m| m.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl StoredSecrets {
    /// Secrets of the secret `id`, read when first asked for and checked
    /// by `check` then.
    pub fn new(aws: &aws_config::SdkConfig, id: &str, check: SecretsCheck) -> Self {
        Self {
            aws: aws.clone(),
            id: id.to_owned(),
            check,
            loaded: OnceCell::new(),
        }
    }

    /// The secret's value, read once (one `GetSecretValue`) and checked.
    async fn loaded(&self) -> Result<&BTreeMap<String, String>, SecretsError> {
        self.loaded
            .get_or_try_init(|| async {
                let answer = aws_sdk_secretsmanager::Client::new(&self.aws)
                    .get_secret_value()
                    .secret_id(&self.id)
                    .send()
                    .await
                    .map_err(|e| SecretsError::Read {
                        id: self.id.clone(),
                        reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                    })?;
                let value = answer.secret_string().ok_or_else(|| SecretsError::Shape {
                    id: self.id.clone(),
                    problem: "it holds binary data, not a string".to_owned(),
                })?;
                let map = parse(&self.id, value)?;
                (self.check)(&|name| lookup(&map, name)).map_err(|problem| {
                    SecretsError::Refused {
                        id: self.id.clone(),
                        problem,
                    }
                })?;
                tracing::info!(secret = %self.id, names = map.len(), "secrets read");
                Ok(map)
            })
            .await
    }
}

#[async_trait::async_trait]
impl Secrets for StoredSecrets {
    async fn secret(&self, name: &str) -> Result<Option<String>, SecretsError> {
        Ok(lookup(self.loaded().await?, name))
    }

    fn setting(&self, name: &str) -> Option<String> {
        env_var(name)
    }
}

/// `name` in the secret's map (empty there means unset, as an empty
/// variable does), else in the environment.
fn lookup(map: &BTreeMap<String, String>, name: &str) -> Option<String> {
    match map.get(name) {
        Some(value) if !value.is_empty() => Some(value.clone()),
        Some(_) => None,
        None => env_var(name),
    }
}

/// A secret's value as a map; a value that is not a JSON object of strings
/// is refused without quoting it.
pub fn parse(id: &str, value: &str) -> Result<BTreeMap<String, String>, SecretsError> {
    let shape = |problem: String| SecretsError::Shape {
        id: id.to_owned(),
        problem,
    };
    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|e| {
        // serde_json's own message may quote the text: only its class.
        shape(
            match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Data => "not JSON data",
                serde_json::error::Category::Eof => "JSON cut short",
            }
            .to_owned(),
        )
    })?;
    let serde_json::Value::Object(object) = parsed else {
        return Err(shape("not an object".to_owned()));
    };
    let mut map = BTreeMap::new();
    for (name, value) in object {
        let serde_json::Value::String(value) = value else {
            return Err(shape(format!("{name} is not a string")));
        };
        map.insert(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_secret_wins_over_the_environment_and_an_empty_one_means_unset() {
        let map = parse(
            "arn:secret",
            r#"{"HELPDESK_REPLY_TOKEN_SECRET": "k-32-characters-of-stored-secret", "HELPDESK_TELEGRAM_URL": ""}"#,
        )
        .expect("an object of strings");
        assert_eq!(
            lookup(&map, "HELPDESK_REPLY_TOKEN_SECRET").as_deref(),
            Some("k-32-characters-of-stored-secret")
        );
        assert_eq!(lookup(&map, "HELPDESK_TELEGRAM_URL"), None);
        // Not in the secret: the environment (PATH is always set).
        assert!(lookup(&map, "PATH").is_some());
    }

    #[test]
    fn a_secret_that_is_not_an_object_of_strings_is_refused_without_quoting_it() {
        for bad in [
            "password-in-plain-text",
            r#"["a"]"#,
            r#"{"HELPDESK_X": 42}"#,
            r#"{"HELPDESK_X": "value-not-to-leak"#,
        ] {
            let error = parse("arn:secret", bad).unwrap_err();
            let said = error.to_string();
            assert!(said.contains("arn:secret"), "{said}");
            assert!(
                !said.contains("plain-text") && !said.contains("value-not-to-leak"),
                "{said}"
            );
        }
    }
}
