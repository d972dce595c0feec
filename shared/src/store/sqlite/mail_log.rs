//! The SQLite store's mail log: `mail_log(id, at_us, outcome, doc)`, one
//! row per message that did not become part of a ticket, the JSON entry in
//! `doc`; listed newest first through the index on `at_us`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{CachedSql, SqliteStore, backend, from_json, to_json};
use crate::domain::{MailLogEntry, MailLogQuery};
use crate::store::{MailLogStore, StoreError};

#[async_trait]
impl MailLogStore for SqliteStore {
    async fn log_mail(&self, entry: &MailLogEntry) -> Result<(), StoreError> {
        let doc = to_json(entry)?;
        let (id, at, outcome) = (
            entry.id.clone(),
            entry.at.timestamp_micros(),
            entry.outcome.as_str(),
        );
        self.in_transaction(move |tx| {
            tx.execute_cached(
                "INSERT INTO mail_log (id, at_us, outcome, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET at_us = ?2, outcome = ?3, doc = ?4",
                params![id, at, outcome, doc],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn mail_log_entry(&self, id: &str) -> Result<Option<MailLogEntry>, StoreError> {
        let id = id.to_owned();
        self.in_read(move |tx| {
            let doc: Option<String> = tx
                .query_row_cached(
                    "SELECT doc FROM mail_log WHERE id = ?1",
                    params![id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            doc.map(|doc| from_json(&doc)).transpose()
        })
        .await
    }

    async fn mail_log(&self, query: &MailLogQuery) -> Result<Vec<MailLogEntry>, StoreError> {
        let (since, until) = (
            query.since.timestamp_micros(),
            query.until.timestamp_micros(),
        );
        let outcome = query.outcome.map(|o| o.as_str());
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT doc FROM mail_log
                     WHERE at_us >= ?1 AND at_us <= ?4 AND (?2 IS NULL OR outcome = ?2)
                     ORDER BY at_us DESC, id DESC LIMIT ?3",
                )
                .map_err(backend)?;
            let docs = stmt
                .query_map(params![since, outcome, limit, until], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
        .await
    }
}
