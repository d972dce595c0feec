//! The SQLite store's credentials: `api_tokens(hash, login, label,
//! created_at)`, one row per live token (revoking deletes it; a label is
//! unique per agent), and `passwords(login, phc, updated_at)`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{CachedSql, SqliteStore, backend};
use crate::domain::{ApiToken, TokenHash};
use crate::store::{CredentialStore, StoreError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS api_tokens (
    hash TEXT PRIMARY KEY,
    login TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (login, label)
);
CREATE TABLE IF NOT EXISTS passwords (
    login TEXT PRIMARY KEY,
    phc TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"#;

fn token_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn token(
    (hash, login, label, created_at): (String, String, String, String),
) -> Result<ApiToken, StoreError> {
    let hash =
        TokenHash::try_from(hash).map_err(|e| StoreError::corrupt(format!("api_tokens: {e}")))?;
    let created_at = DateTime::parse_from_rfc3339(&created_at)
        .map_err(|e| StoreError::corrupt_from(format!("api_tokens: created_at {created_at:?}"), e))?
        .with_timezone(&Utc);
    Ok(ApiToken {
        login,
        label,
        hash,
        created_at,
    })
}

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn add_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let (hash, login, label) = (
            token.hash.as_str().to_owned(),
            token.login.clone(),
            token.label.clone(),
        );
        let created_at = token.created_at.to_rfc3339();
        self.in_transaction(move |tx| {
            let inserted = tx
                .execute_cached(
                    "INSERT INTO api_tokens (hash, login, label, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                    params![hash, login, label, created_at],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!(
                    "token {label:?} of {login}"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn api_token(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError> {
        let hash = hash.as_str().to_owned();
        let row = self
            .in_read(move |tx| {
                tx.query_row_cached(
                    "SELECT hash, login, label, created_at FROM api_tokens WHERE hash = ?1",
                    params![hash],
                    token_from_row,
                )
                .optional()
                .map_err(backend)
            })
            .await?;
        row.map(token).transpose()
    }

    async fn api_tokens_of(&self, login: &str) -> Result<Vec<ApiToken>, StoreError> {
        let login = login.to_owned();
        let rows = self
            .in_read(move |tx| {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT hash, login, label, created_at FROM api_tokens
                         WHERE login = ?1 ORDER BY label",
                    )
                    .map_err(backend)?;
                stmt.query_map(params![login], token_from_row)
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)
            })
            .await?;
        rows.into_iter().map(token).collect()
    }

    async fn revoke_api_token(&self, login: &str, label: &str) -> Result<bool, StoreError> {
        let (login, label) = (login.to_owned(), label.to_owned());
        self.in_transaction(move |tx| {
            let deleted = tx
                .execute_cached(
                    "DELETE FROM api_tokens WHERE login = ?1 AND label = ?2",
                    params![login, label],
                )
                .map_err(backend)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn set_password_hash(
        &self,
        login: &str,
        phc: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (login, phc, at) = (login.to_owned(), phc.to_owned(), at.to_rfc3339());
        self.in_transaction(move |tx| {
            tx.execute_cached(
                "INSERT INTO passwords (login, phc, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (login) DO UPDATE SET phc = ?2, updated_at = ?3",
                params![login, phc, at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn password_hash(&self, login: &str) -> Result<Option<String>, StoreError> {
        let login = login.to_owned();
        self.in_read(move |tx| {
            tx.query_row_cached(
                "SELECT phc FROM passwords WHERE login = ?1",
                params![login],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }
}
