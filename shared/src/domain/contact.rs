//! Contacts: one person with one or more email addresses.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::EmailAddress;

/// A contact's opaque identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(String);

impl ContactId {
    /// A fresh random identifier.
    pub fn generate() -> Self {
        Self(format!("c_{}", uuid::Uuid::new_v4().simple()))
    }

    /// Wraps an identifier read back from a store.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person who writes to support. Any of their addresses finds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Identifier.
    pub id: ContactId,
    /// Display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every address of this person; the first is the primary one.
    pub emails: Vec<EmailAddress>,
    /// Phone numbers as given.
    #[serde(default)]
    pub phones: Vec<String>,
    /// The organization they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// When the contact was first seen.
    pub created_at: DateTime<Utc>,
}

impl Contact {
    /// A new contact known by one address.
    pub fn new(email: EmailAddress, name: Option<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: ContactId::generate(),
            name,
            emails: vec![email],
            phones: Vec::new(),
            organization: None,
            created_at: now,
        }
    }
}
