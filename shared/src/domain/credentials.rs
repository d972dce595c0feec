//! Agents' credentials as the store keeps them: personal API tokens by the
//! SHA-256 of the token (the token itself is shown once, when made, and
//! never stored) and console passwords as PHC strings (argon2id). See
//! [`crate::auth`] for how they are made and checked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The SHA-256 of a personal API token, in lower-case hex: what the store
/// keeps and looks a presented token up by.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of the token `secret`.
    pub fn of(secret: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TokenHash {
    type Error = String;

    fn try_from(hex: String) -> Result<Self, Self::Error> {
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(hex))
        } else {
            Err("a token hash is 64 lower-case hex digits".to_owned())
        }
    }
}

impl From<TokenHash> for String {
    fn from(hash: TokenHash) -> Self {
        hash.0
    }
}

/// Only a prefix: even a hash need not reach a log whole.
impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}...)", self.0.get(..8).unwrap_or(""))
    }
}

/// A personal API token as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// The agent it acts for.
    pub login: String,
    /// Its name, unique per agent (`default`, `crm`, ...): what the
    /// timeline names as the source of a change and what revokes it.
    pub label: String,
    /// The token's hash.
    pub hash: TokenHash,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}
