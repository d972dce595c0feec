//! The SQLite store's report rollups: `rollup_days(queue, class, day,
//! doc)`, one row per queue, class and day whose `doc` holds that day's
//! counters as lines of `<n>\t<key>` (keys hold no tab or line break), so
//! that a report over a year reads a row per day, not one per counter; and
//! `kept_counters(ticket, doc)`, the counters kept for each ticket (JSON).
//! Keeping a ticket's counters reads what was kept, adds the difference to
//! the days it touches and replaces the kept ones, in one transaction; a
//! counter that comes to zero is dropped, a day left without counters
//! deleted.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::{CachedSql, SqliteStore, backend, from_json, to_json};
use crate::domain::{QueueKey, TicketKey};
use crate::store::{Counter, RollupDay, RollupStore, StoreError, counter_difference};

/// The rollups' tables; created when missing, so older files open
/// unchanged.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS rollup_days (
    queue TEXT NOT NULL,
    class TEXT NOT NULL,
    day TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (queue, class, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kept_counters (
    ticket TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"#;

/// Adds `counters` to `queue`'s rollups, a day row at a time.
fn add(tx: &rusqlite::Connection, queue: &str, counters: &[Counter]) -> Result<(), StoreError> {
    let mut days: BTreeMap<(&str, NaiveDate), Vec<&Counter>> = BTreeMap::new();
    for c in counters {
        days.entry((&c.class, c.day)).or_default().push(c);
    }
    for ((class, day), changes) in days {
        let day = day.to_string();
        let doc: Option<String> = tx
            .query_row_cached(
                "SELECT doc FROM rollup_days WHERE queue = ?1 AND class = ?2 AND day = ?3",
                params![queue, class, day],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)?;
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        if let Some(lines) = doc {
            let day = RollupDay {
                class: class.to_owned(),
                day: NaiveDate::MIN,
                lines,
            };
            for entry in day.entries() {
                let (key, n) = entry?;
                counts.insert(key.to_owned(), n);
            }
        }
        for c in changes {
            if c.key.contains(['\n', '\r', '\t']) {
                return Err(StoreError::backend(format!(
                    "a rollup key with a tab or line break: {:?}",
                    c.key
                )));
            }
            *counts.entry(c.key.clone()).or_insert(0) += c.n;
        }
        counts.retain(|_, n| *n != 0);
        if counts.is_empty() {
            tx.execute_cached(
                "DELETE FROM rollup_days WHERE queue = ?1 AND class = ?2 AND day = ?3",
                params![queue, class, day],
            )
            .map_err(backend)?;
            continue;
        }
        let mut doc = String::new();
        for (key, n) in &counts {
            doc.push_str(&format!("{n}\t{key}\n"));
        }
        tx.execute_cached(
            "INSERT INTO rollup_days (queue, class, day, doc) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (queue, class, day) DO UPDATE SET doc = ?4",
            params![queue, class, day, doc],
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
    ) -> Result<Vec<RollupDay>, StoreError> {
        let (queue, classes, to) = (queue.to_string(), classes.to_vec(), to.to_string());
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT day, doc FROM rollup_days WHERE queue = ?1 AND class = ?2 AND day <= ?3",
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for class in classes {
                let mut rows = stmt.query(params![queue, class, to]).map_err(backend)?;
                while let Some(row) = rows.next().map_err(backend)? {
                    let text = |i| -> Result<&str, StoreError> {
                        let value = row.get_ref(i).map_err(backend)?;
                        value
                            .as_str()
                            .map_err(|e| StoreError::corrupt(format!("a rollup row: {e}")))
                    };
                    let day = text(0)?;
                    let day: NaiveDate = day
                        .parse()
                        .map_err(|_| StoreError::corrupt(format!("a rollup day {day:?}")))?;
                    out.push(RollupDay {
                        class: class.clone(),
                        day,
                        lines: text(1)?.to_owned(),
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
