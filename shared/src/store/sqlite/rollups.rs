//! The SQLite store's report rollups: `rollups(queue, class, day, key, n)`,
//! one row per counter, and `kept_counters(ticket, doc)`, the counters
//! kept for each ticket (JSON). Keeping a ticket's counters reads what was
//! kept, adds the difference to the rollups and replaces the kept ones in
//! one transaction; a counter that comes to zero is deleted.

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::{CachedSql, SqliteStore, backend, from_json, to_json};
use crate::domain::{QueueKey, TicketKey};
use crate::store::{Counter, RollupStore, StoreError, counter_difference};

/// The rollups' tables; created when missing, so older files open
/// unchanged.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS rollups (
    queue TEXT NOT NULL,
    class TEXT NOT NULL,
    day TEXT NOT NULL,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, class, day, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kept_counters (
    ticket TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"#;

/// Adds `counters` to `queue`'s rollups, deleting those that come to zero.
fn add(tx: &rusqlite::Connection, queue: &str, counters: &[Counter]) -> Result<(), StoreError> {
    for c in counters {
        let day = c.day.to_string();
        tx.execute_cached(
            "INSERT INTO rollups (queue, class, day, key, n) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (queue, class, day, key) DO UPDATE SET n = n + excluded.n",
            params![queue, c.class, day, c.key, c.n],
        )
        .map_err(backend)?;
        tx.execute_cached(
            "DELETE FROM rollups
             WHERE queue = ?1 AND class = ?2 AND day = ?3 AND key = ?4 AND n = 0",
            params![queue, c.class, day, c.key],
        )
        .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl RollupStore for SqliteStore {
    async fn keep_counters(
        &self,
        queue: &QueueKey,
        ticket: &TicketKey,
        counters: &[Counter],
    ) -> Result<usize, StoreError> {
        let (queue, ticket) = (queue.to_string(), ticket.to_string());
        let counters = counters.to_vec();
        self.in_transaction(move |tx| {
            let kept: Option<String> = tx
                .query_row_cached(
                    "SELECT doc FROM kept_counters WHERE ticket = ?1",
                    params![ticket],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            let kept: Vec<Counter> = kept
                .map(|doc| from_json(&doc))
                .transpose()?
                .unwrap_or_default();
            let difference = counter_difference(&kept, &counters);
            if difference.is_empty() {
                return Ok(0);
            }
            add(tx, &queue, &difference)?;
            tx.execute_cached(
                "INSERT INTO kept_counters (ticket, doc) VALUES (?1, ?2)
                 ON CONFLICT (ticket) DO UPDATE SET doc = ?2",
                params![ticket, to_json(&counters)?],
            )
            .map_err(backend)?;
            Ok(difference.len())
        })
        .await
    }

    async fn rollups(
        &self,
        queue: &QueueKey,
        classes: &[String],
        to: NaiveDate,
    ) -> Result<Vec<Counter>, StoreError> {
        let (queue, classes, to) = (queue.to_string(), classes.to_vec(), to.to_string());
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT day, key, n FROM rollups WHERE queue = ?1 AND class = ?2 AND day <= ?3",
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for class in classes {
                let rows = stmt
                    .query_map(params![queue, class, to], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get(2)?,
                        ))
                    })
                    .map_err(backend)?;
                for row in rows {
                    let (day, key, n) = row.map_err(backend)?;
                    let day = day
                        .parse()
                        .map_err(|_| StoreError::corrupt(format!("a rollup day {day:?}")))?;
                    out.push(Counter {
                        class: class.clone(),
                        day,
                        key,
                        n,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn adjust_rollups(
        &self,
        queue: &QueueKey,
        counters: &[Counter],
    ) -> Result<(), StoreError> {
        let (queue, counters) = (queue.to_string(), counters.to_vec());
        self.in_transaction(move |tx| add(tx, &queue, &counters))
            .await
    }
}
