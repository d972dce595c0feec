//! The SQLite store's change feed: the local counterpart of a DynamoDB
//! stream.
//!
//! - `changes(seq, ticket, before, after)`: one row per applied ticket
//!   write, inserted by [`record_change`] inside the write's own
//!   transaction (a replayed or refused write rolls back or never gets
//!   there, so it leaves no row). `seq` is `AUTOINCREMENT`, so a number is
//!   never handed out twice, even after the rows before it were deleted;
//!   writers hold the write lock while they take one, so numbers become
//!   visible in order.
//! - `feed_cursors(name, seq)`: how far each named reader got. A cursor only
//!   moves forward; after it moves, the changes every cursor has passed are
//!   deleted (none while no cursor exists).
//!
//! # Wakeups
//!
//! After a ticket write commits, [`SqliteStore::after_write`] calls
//! `notify_one()` and then `notify_waiters()` on the store's
//! [`Notify`](tokio::sync::Notify):
//! - `notify_one()` wakes one registered waiter, or, when no reader waits at
//!   that moment, stores a permit. So a reader that reads the feed and only
//!   then calls `notified().await` returns at once when a write committed
//!   in between, instead of sleeping through it.
//! - `notify_waiters()` wakes every other registered waiter. A `Notified`
//!   counts as registered as soon as it is created (or `enable`d), even
//!   before it is polled; several readers should therefore create it before
//!   they read the feed, since the one permit goes to only one of them.
//!
//! The price of the permit is at most one spurious wakeup after a write
//! that no one was waiting for: the reader finds nothing new and waits
//! again. Only writes through this store (and its clones) notify; a write
//! by another process on the same file is seen at the next read, so a
//! reader should also wake up on a timer.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{CachedSql, SqliteStore, backend, from_json};
use crate::domain::TicketKey;
use crate::store::{ChangeFeed, FeedChange, StoreError, Written};

/// The feed's tables; created when missing, so older files open unchanged.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"#;

/// Appends the change of one ticket write, given as the stored JSON
/// documents (`before` is none for a creation), to the feed; called inside
/// the write's transaction.
pub(super) fn record_change(
    tx: &rusqlite::Connection,
    ticket: &TicketKey,
    before: Option<&str>,
    after: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO changes (ticket, before, after) VALUES (?1, ?2, ?3)")
        .map_err(backend)?
        .execute(params![ticket.to_string(), before, after])
        .map_err(backend)?;
    Ok(())
}

impl SqliteStore {
    /// Wakes feed readers after a ticket write committed (see the module
    /// docs for why both calls); a replayed write changed nothing.
    pub(super) fn after_write(&self, written: &Written) {
        if matches!(written, Written::New) {
            self.wakeup.notify_one();
            self.wakeup.notify_waiters();
        }
    }
}

/// A feed position as the column stores it.
fn seq_column(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::backend(format!("feed position {seq} out of range")))
}

/// A feed position read back.
fn seq_value(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::corrupt(format!("negative feed position {seq}")))
}

#[async_trait]
impl ChangeFeed for SqliteStore {
    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<FeedChange>, StoreError> {
        // Past the largest position nothing can follow.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, before, after FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![after, limit], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(seq, before, after)| {
                    Ok(FeedChange {
                        seq: seq_value(seq)?,
                        before: before.as_deref().map(from_json).transpose()?,
                        after: from_json(&after)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn cursor(&self, name: &str) -> Result<u64, StoreError> {
        let name = name.to_owned();
        self.in_read(move |tx| {
            let seq: Option<i64> = tx
                .query_row_cached(
                    "SELECT seq FROM feed_cursors WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            seq.map_or(Ok(0), seq_value)
        })
        .await
    }

    async fn set_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let name = name.to_owned();
        let seq = seq_column(seq)?;
        self.in_transaction(move |tx| {
            tx.execute_cached(
                "INSERT INTO feed_cursors (name, seq) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)",
                params![name, seq],
            )
            .map_err(backend)?;
            // With no cursor at all the minimum is NULL and nothing goes.
            tx.execute_cached(
                "DELETE FROM changes WHERE seq <= (SELECT min(seq) FROM feed_cursors)",
                [],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    fn wakeup(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.wakeup)
    }
}
