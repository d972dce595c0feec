//! The listing index and the full-text index of the SQLite store.
//!
//! - `listing` (partition, sort key -> ticket; `WITHOUT ROWID`, so a
//!   listing page is one range of the primary key): the entries of
//!   [`crate::store::listing`], kept in each ticket write's transaction by
//!   adding and removing what the write changed.
//! - `ticket_text`, an FTS5 table (`unicode61` words, diacritics folded):
//!   one row for a ticket's own text (summary, description, requester's
//!   address and name) and one per message (a mail's subject and text, a
//!   comment), at rowid `ticket rowid << 32 | n` (n 0 for the ticket, the
//!   entry's sequence number for a message), so that reading matches by
//!   descending rowid gives the newest tickets first, each ticket's rows
//!   together, and a page stops after its last ticket.
//!
//! - `listing_count` and `status_count`: how many entries each listing
//!   partition holds and how many tickets each status of a queue, kept by
//!   SQL triggers on `listing` and `tickets` in the same transaction as
//!   the write, so the side bar's counts are one row each, whatever the
//!   desk's size ([`COUNTS_SCHEMA`], [`recount`]).
//!
//! A file made before these tables gets them filled from every stored
//! ticket and timeline entry when it is opened ([`backfill`], [`recount`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::{backend, from_json};
use crate::domain::{Ticket, TimelineEntry, TimelineEvent};
use crate::store::listing::{self, ListingRules};
use crate::store::{Counted, ListingQuery, SearchPage, SearchQuery, StoreError};

/// The tables.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS listing (
    part TEXT NOT NULL,
    sort TEXT NOT NULL,
    ticket TEXT NOT NULL,
    PRIMARY KEY (part, sort)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS ticket_text USING fts5(
    ticket UNINDEXED,
    queue UNINDEXED,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
"#;

/// The rowid of a ticket's `n`-th text row.
fn text_rowid(ticket_rowid: i64, n: u64) -> i64 {
    (ticket_rowid << 32) | i64::try_from(n & 0xFFFF_FFFF).unwrap_or(0)
}

/// A ticket's own searchable text.
fn ticket_text(ticket: &Ticket) -> String {
    let mut text = format!("{}\n{}", ticket.summary, ticket.description);
    for part in [
        ticket
            .requester
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned()),
        ticket.requester.name.clone(),
        Some(ticket.key.to_string()),
    ]
    .into_iter()
    .flatten()
    {
        text.push('\n');
        text.push_str(&part);
    }
    text
}

/// The searchable text of a timeline entry: a mail's subject and text, a
/// comment's body.
fn entry_text(entry: &TimelineEntry) -> Option<String> {
    match &entry.event {
        TimelineEvent::EmailIn { subject, text, .. } => Some(match text {
            Some(text) => format!("{subject}\n{text}"),
            None => subject.clone(),
        }),
        TimelineEvent::Comment { body, .. } => Some(body.clone()),
        _ => None,
    }
}

/// Keeps the indexes of one ticket write: the listing entries that changed
/// from `before` (none: a new ticket), the ticket's own text when it
/// changed, and the text of the new `entries`.
pub(super) fn index_write(
    tx: &Connection,
    ticket_rowid: i64,
    before: Option<&Ticket>,
    after: &Ticket,
    entries: &[TimelineEntry],
    rules: &ListingRules,
) -> Result<(), StoreError> {
    let changes = listing::changes(before, after, rules, false);
    if !changes.removed.is_empty() {
        let mut delete = tx
            .prepare_cached("DELETE FROM listing WHERE part = ?1 AND sort = ?2")
            .map_err(backend)?;
        for entry in &changes.removed {
            delete
                .execute(params![entry.partition, entry.sort])
                .map_err(backend)?;
        }
    }
    if !changes.added.is_empty() {
        let key = after.key.to_string();
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO listing (part, sort, ticket) VALUES (?1, ?2, ?3)
                 ON CONFLICT (part, sort) DO UPDATE SET ticket = excluded.ticket",
            )
            .map_err(backend)?;
        for entry in &changes.added {
            insert
                .execute(params![entry.partition, entry.sort, key])
                .map_err(backend)?;
        }
    }
    let text = ticket_text(after);
    if before.is_none_or(|b| ticket_text(b) != text) {
        put_text(tx, text_rowid(ticket_rowid, 0), after, &text)?;
    }
    for entry in entries {
        if let Some(text) = entry_text(entry) {
            put_text(tx, text_rowid(ticket_rowid, entry.seq), after, &text)?;
        }
    }
    Ok(())
}

fn put_text(tx: &Connection, rowid: i64, ticket: &Ticket, text: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM ticket_text WHERE rowid = ?1")
        .and_then(|mut stmt| stmt.execute(params![rowid]))
        .map_err(backend)?;
    tx.prepare_cached(
        "INSERT INTO ticket_text (rowid, ticket, queue, body) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            rowid,
            ticket.key.to_string(),
            ticket.queue.as_str(),
            text
        ])
    })
    .map_err(backend)?;
    Ok(())
}

/// The counters and the triggers that keep them (an upsert of a listing
/// entry that exists is an update, not an insert: it counts nothing).
pub(super) const COUNTS_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS listing_count (
    part TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS listing_entry_added AFTER INSERT ON listing BEGIN
    INSERT INTO listing_count (part, n) VALUES (new.part, 1)
        ON CONFLICT (part) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS listing_entry_removed AFTER DELETE ON listing BEGIN
    UPDATE listing_count SET n = n - 1 WHERE part = old.part;
END;
CREATE TABLE IF NOT EXISTS status_count (
    queue TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, status)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS ticket_status_added AFTER INSERT ON tickets BEGIN
    INSERT INTO status_count (queue, status, n) VALUES (new.queue, new.status, 1)
        ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ticket_status_moved AFTER UPDATE OF status ON tickets
    WHEN old.status IS NOT new.status BEGIN
    UPDATE status_count SET n = n - 1 WHERE queue = old.queue AND status = old.status;
    INSERT INTO status_count (queue, status, n) VALUES (new.queue, new.status, 1)
        ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ticket_status_removed AFTER DELETE ON tickets BEGIN
    UPDATE status_count SET n = n - 1 WHERE queue = old.queue AND status = old.status;
END;
"#;

/// Counts every listing partition and every status afresh, from the rows
/// themselves: run whenever the schema changes, so a file from before the
/// counters (or from any earlier schema) starts exact.
pub(super) fn recount(tx: &Connection) -> Result<(), StoreError> {
    tx.execute_batch(
        "DELETE FROM listing_count;
         INSERT INTO listing_count (part, n) SELECT part, count(*) FROM listing GROUP BY part;
         DELETE FROM status_count;
         INSERT INTO status_count (queue, status, n)
             SELECT queue, status, count(*) FROM tickets GROUP BY queue, status;",
    )
    .map_err(backend)
}

/// Fills both indexes from the stored tickets and timelines when they are
/// empty but tickets exist (a file made before them).
pub(super) fn backfill(tx: &Connection, rules: &ListingRules) -> Result<(), StoreError> {
    let indexed: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM listing) OR EXISTS (SELECT 1 FROM ticket_text)",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    if indexed {
        return Ok(());
    }
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT rowid, doc FROM tickets")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(backend)?;
    for (rowid, doc) in rows {
        // A document this version cannot read stays out of the indexes
        // rather than keep the whole file from opening.
        let ticket: Ticket = match from_json(&doc) {
            Ok(ticket) => ticket,
            Err(e) => {
                tracing::warn!(rowid, error = %e, "a stored ticket cannot be read; left out of the listing and search indexes");
                continue;
            }
        };
        let entries: Vec<TimelineEntry> = tx
            .prepare_cached("SELECT doc FROM timeline WHERE ticket = ?1 ORDER BY seq")
            .and_then(|mut stmt| {
                stmt.query_map(params![ticket.key.to_string()], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(backend)?
            .iter()
            .map(|doc| from_json(doc))
            .collect::<Result<_, _>>()?;
        index_write(tx, rowid, None, &ticket, &entries, rules)?;
    }
    Ok(())
}

/// One page of a listing.
pub(super) fn list(tx: &Connection, query: &ListingQuery) -> Result<Vec<Ticket>, StoreError> {
    let part = query.listing.partition(&query.queue);
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let sql = match (query.ascending, query.after.is_some()) {
        (false, false) => {
            "SELECT t.doc FROM listing l JOIN tickets t ON t.key = l.ticket
             WHERE l.part = ?1 ORDER BY l.sort DESC LIMIT ?2"
        }
        (false, true) => {
            "SELECT t.doc FROM listing l JOIN tickets t ON t.key = l.ticket
             WHERE l.part = ?1 AND l.sort < ?3 ORDER BY l.sort DESC LIMIT ?2"
        }
        (true, false) => {
            "SELECT t.doc FROM listing l JOIN tickets t ON t.key = l.ticket
             WHERE l.part = ?1 ORDER BY l.sort ASC LIMIT ?2"
        }
        (true, true) => {
            "SELECT t.doc FROM listing l JOIN tickets t ON t.key = l.ticket
             WHERE l.part = ?1 AND l.sort > ?3 ORDER BY l.sort ASC LIMIT ?2"
        }
    };
    let mut stmt = tx.prepare_cached(sql).map_err(backend)?;
    let docs: Vec<String> = match &query.after {
        Some(after) => stmt
            .query_map(params![part, limit, after], |row| row.get(0))
            .and_then(Iterator::collect),
        None => stmt
            .query_map(params![part, limit], |row| row.get(0))
            .and_then(Iterator::collect),
    }
    .map_err(backend)?;
    docs.iter().map(|doc| from_json(doc)).collect()
}

/// How many tickets a listing or a status of `queue` has.
pub(super) fn count(
    tx: &Connection,
    queue: &crate::domain::QueueKey,
    counted: &Counted,
) -> Result<u64, StoreError> {
    let count: Option<i64> = match counted {
        Counted::Listing(listing) => tx
            .prepare_cached("SELECT n FROM listing_count WHERE part = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![listing.partition(queue)], |r| r.get(0))
                    .optional()
            }),
        Counted::Status(status) => tx
            .prepare_cached("SELECT n FROM status_count WHERE queue = ?1 AND status = ?2")
            .and_then(|mut stmt| {
                stmt.query_row(params![queue.as_str(), status], |r| r.get(0))
                    .optional()
            }),
    }
    .map_err(backend)?;
    let count = count.unwrap_or(0);
    u64::try_from(count).map_err(|_| StoreError::corrupt("negative count"))
}

/// The FTS5 query of `words`: each a quoted string (so no word is read as
/// an operator), all required.
fn match_expression(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A page of the tickets whose text has every word, newest first. The
/// cursor is the last ticket's rowid.
pub(super) fn search(tx: &Connection, query: &SearchQuery) -> Result<SearchPage, StoreError> {
    if query.words.is_empty() || query.queues.is_empty() {
        return Ok(SearchPage {
            tickets: Vec::new(),
            next: None,
        });
    }
    let queues: Vec<&str> = query.queues.iter().map(|q| q.as_str()).collect();
    let queues = serde_json::to_string(&queues).map_err(|e| StoreError::backend(e.to_string()))?;
    let below = match &query.after {
        Some(after) => after
            .parse::<i64>()
            .map_err(|_| StoreError::backend("not a search cursor of this store"))?
            .checked_shl(32)
            .unwrap_or(i64::MAX),
        None => i64::MAX,
    };
    let mut stmt = tx
        .prepare_cached(
            "SELECT rowid, ticket FROM ticket_text
             WHERE ticket_text MATCH ?1 AND rowid < ?2
               AND queue IN (SELECT value FROM json_each(?3))
             ORDER BY rowid DESC",
        )
        .map_err(backend)?;
    let mut rows = stmt
        .query(params![match_expression(&query.words), below, queues])
        .map_err(backend)?;
    // Distinct tickets in order, one more than the page to know if more
    // follow; the rows of one ticket are adjacent.
    let mut found: Vec<(i64, String)> = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let rowid: i64 = row.get(0).map_err(backend)?;
        let ticket: String = row.get(1).map_err(backend)?;
        if found.last().is_some_and(|(_, last)| *last == ticket) {
            continue;
        }
        found.push((rowid >> 32, ticket));
        if found.len() > query.limit {
            break;
        }
    }
    let more = found.len() > query.limit;
    found.truncate(query.limit);
    let mut tickets = Vec::with_capacity(found.len());
    for (_, key) in &found {
        let doc: Option<String> = tx
            .prepare_cached("SELECT doc FROM tickets WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row(params![key], |row| row.get(0)).optional())
            .map_err(backend)?;
        if let Some(doc) = doc {
            tickets.push(from_json(&doc)?);
        }
    }
    Ok(SearchPage {
        tickets,
        next: if more {
            found.last().map(|(rowid, _)| rowid.to_string())
        } else {
            None
        },
    })
}
