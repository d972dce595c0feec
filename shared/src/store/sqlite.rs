//! The embedded store: one SQLite file (WAL mode), the local default.
//!
//! Tickets, timeline entries and contacts are kept as JSON documents next to
//! the columns the queries need. One connection behind a mutex serialises
//! writers; each operation that writes runs in one `IMMEDIATE` transaction
//! (see [`crate::blocking`] for the thread it runs on), so allocation and
//! conditional writes are atomic, and each one that only reads in one
//! deferred transaction, which takes no write lock. Every statement,
//! `BEGIN` and `COMMIT` included, is compiled once per connection and
//! kept in its statement cache.
//!
//! Every ticket write also sets the `assignee` and `status` columns from
//! the document; the listings (by assignee, by status, by both, newest
//! first) and the count of an agent's tickets by status read one range of
//! an index on them (`LISTING_SCHEMA`), never the queue's rows.
//!
//! The store has a change feed ([`ChangeFeed`], in `sqlite/feed.rs`):
//! every applied ticket write (a creation or an update, not a replay, not a
//! refused write) appends a row to `changes` holding the ticket before and
//! after, in the same transaction, so the feed has a change exactly when the
//! ticket changed. Named cursors in `feed_cursors` record how far each
//! reader got; changes every cursor has passed are deleted. Every new table
//! and index is created with `IF NOT EXISTS`, so files written by older
//! versions open unchanged (their earlier writes are simply not in the
//! feed).
//!
//! # Schema
//!
//! One file in WAL mode:
//!
//! - `tickets` (key, queue, number, version, created_at, JSON document,
//!   assignee, status; indexes on queue and creation time, and on
//!   assignee and status before it);
//! - `timeline` (ticket, seq, JSON; primary key (ticket, seq));
//! - `ticket_counters`, `contacts`, `contact_emails` (email primary key ->
//!   one owner), `idempotency`, `markers`, `counters`;
//! - `changes` (the change feed: seq AUTOINCREMENT, ticket, before and after
//!   documents, appended in every ticket write's transaction) and
//!   `feed_cursors` (name -> seq; rows every cursor has passed are pruned);
//! - `sla_due` (ticket -> due time in microseconds, index on the time;
//!   written in every ticket write's transaction, a row only while
//!   something is due);
//! - `mail_log` (message id -> time, outcome, JSON entry; index on the
//!   time; in `sqlite/mail_log.rs`);
//! - `api_tokens` (token hash -> agent and label, unique per agent) and
//!   `passwords` (agent -> PHC string), in `sqlite/credentials.rs`.
//!
//! Each operation runs on the calling thread while the connection is free
//! (a transaction is short; stepping aside would cost more than it), and
//! through `blocking::run` when it must wait for another holder of the
//! connection (in `helpdesk serve`, the worker then hands its other tasks
//! on). `synchronous=NORMAL`, and no
//! checkpoint when a connection closes: a process that starts, writes and
//! exits (a function, the mailgate) leaves the WAL for the next one, which
//! reads it back at open and appends to it without a sync. The store folds
//! the WAL in itself, instead of SQLite's automatic checkpoint: at 128
//! pages (4,096 once a process has made 64 writes), and when a long-lived
//! store closes, it checkpoints and starts the WAL again with one write, so
//! the next process reads one page back (see `Checkpoints`).

mod credentials;
mod feed;
mod listing;
mod mail_log;
mod rollups;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;

use super::listing::ListingRules;
use super::{
    ChangeFeed, ChangeFeedSource, ClaimPurpose, ClaimStore, ContactStore, Counted, CounterStore,
    DueTicket, IdempotencyClaim, IdempotencyRecord, ListingQuery, SearchPage, SearchQuery,
    SlaDueIndex, StoreError, TicketQuery, TicketStore, TimelineStore, Written,
};
use crate::domain::ticket::ENTRIES_PER_VERSION;
use crate::domain::{Contact, ContactId, EmailAddress, QueueKey, Ticket, TicketKey, TimelineEntry};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ticket_counters (
    queue TEXT PRIMARY KEY,
    last_number INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    key TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    number INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    assignee TEXT,
    status TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tickets_by_queue ON tickets (queue, created_at DESC, number DESC);
DROP INDEX IF EXISTS tickets_by_assignee;
CREATE TABLE IF NOT EXISTS timeline (
    ticket TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (ticket, seq)
);
-- The SLA due index: one row per ticket with a running timer, at its
-- earliest warning or breach (microseconds since the epoch).
CREATE TABLE IF NOT EXISTS sla_due (
    ticket TEXT PRIMARY KEY,
    due_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sla_due_by_time ON sla_due (due_us, ticket);
CREATE TABLE IF NOT EXISTS contacts (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contact_emails (
    email TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS markers (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at TEXT
);
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mail_log (
    id TEXT PRIMARY KEY,
    at_us INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_log_by_time ON mail_log (at_us);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    payload_hash TEXT NOT NULL,
    ticket TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"#;

/// The listings' indexes: a queue's tickets newest first, by assignee
/// (NULL: unassigned), by status, or by both, on the `assignee` and
/// `status` columns that every ticket write sets from the document (an
/// update that changes neither leaves these indexes alone). Created after
/// [`add_listing_columns`] gave a file from before them the columns.
const LISTING_SCHEMA: &str = r#"
CREATE INDEX IF NOT EXISTS tickets_by_holder ON tickets (
    queue, assignee, created_at DESC, number DESC
);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (
    queue, status, created_at DESC, number DESC
);
CREATE INDEX IF NOT EXISTS tickets_by_holder_status ON tickets (
    queue, assignee, status, created_at DESC, number DESC
);
"#;

/// Gives a `tickets` table written before the listing columns existed its
/// `assignee` and `status` columns, filled from each document.
fn add_listing_columns(tx: &Connection) -> Result<(), StoreError> {
    let has_status: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('tickets') WHERE name = 'status'",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    if !has_status {
        tx.execute_batch(
            "ALTER TABLE tickets ADD COLUMN assignee TEXT;
             ALTER TABLE tickets ADD COLUMN status TEXT NOT NULL DEFAULT '';
             UPDATE tickets SET assignee = json_extract(doc, '$.assignee'),
                                status = json_extract(doc, '$.status');",
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Counts a queue's tickets of one assignee whose status is in a JSON array
/// of statuses: a range of `tickets_by_holder_status`.
const COUNT_ASSIGNED: &str = "SELECT count(*) FROM tickets
     WHERE queue = ?1
       AND assignee = ?2
       AND status IN (SELECT value FROM json_each(?3))";

/// The listing `query` asks for: one range of `tickets_by_queue`,
/// `tickets_by_holder`, `tickets_by_status` or `tickets_by_holder_status`
/// (named parameters `:queue`, `:assignee`, `:status`, `:at`, `:number`,
/// `:limit`, each only when used).
fn list_sql(query: &TicketQuery) -> String {
    let mut sql = String::from("SELECT doc FROM tickets WHERE queue = :queue");
    match &query.assignee {
        Some(Some(_)) => sql.push_str(" AND assignee = :assignee"),
        Some(None) => sql.push_str(" AND assignee IS NULL"),
        None => {}
    }
    if query.status.is_some() {
        sql.push_str(" AND status = :status");
    }
    if query.after.is_some() {
        sql.push_str(" AND (created_at, number) < (:at, :number)");
    }
    sql.push_str(" ORDER BY created_at DESC, number DESC LIMIT :limit");
    sql
}

/// A time as the `tickets` table stores it (sortable text).
fn stored_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The tickets due by a time, earliest first: a range of the index
/// `sla_due_by_time`.
const SLA_DUE: &str = "SELECT ticket, due_us FROM sla_due WHERE due_us <= ?1
     ORDER BY due_us, ticket LIMIT ?2";

/// Puts a ticket in the SLA due index at its next due time, or takes it
/// out when nothing is due; part of every ticket write's transaction.
fn index_sla_due(tx: &Connection, ticket: &Ticket) -> Result<(), StoreError> {
    let key = ticket.key.to_string();
    match ticket.next_due() {
        Some(due) => tx
            .prepare_cached(
                "INSERT INTO sla_due (ticket, due_us) VALUES (?1, ?2)
                 ON CONFLICT (ticket) DO UPDATE SET due_us = excluded.due_us",
            )
            .and_then(|mut stmt| stmt.execute(params![key, due.timestamp_micros()]))
            .map(|_| ())
            .map_err(backend),
        None => tx
            .prepare_cached("DELETE FROM sla_due WHERE ticket = ?1")
            .and_then(|mut stmt| stmt.execute(params![key]))
            .map(|_| ())
            .map_err(backend),
    }
}

/// The SQLite implementation of [`Store`] and of [`ChangeFeed`]. Clones
/// share the connection and the wakeup.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Notified after every committed ticket write (see `sqlite/feed.rs`
    /// for the wakeup rules).
    wakeup: Arc<Notify>,
    /// How often the WAL is checkpointed, by how long this process writes.
    checkpoints: Arc<Checkpoints>,
    /// What the listing index's entries need beyond the ticket.
    rules: Arc<ListingRules>,
}

/// How many writes show that a process lives long (a server, a batch):
/// the mailgate and a function's event make a handful each.
const LONG_LIVED_WRITES: u32 = 64;

/// The WAL's length, in pages, at which a write of a short-lived process
/// folds it into the database (see [`Checkpoints`]): about ten messages'
/// writes, so a process that opens the file reads back at most half a
/// megabyte.
const WAL_PAGES: i32 = 128;

/// The same once the process has made [`LONG_LIVED_WRITES`] writes: a fold
/// syncs the WAL and the database file, and at every [`WAL_PAGES`] (about
/// every fifth message) those syncs were a sixth of a long-lived process's
/// time per message. Another process that opens the file meanwhile finds
/// the WAL's index in shared memory and reads nothing back.
const WAL_PAGES_LONG_LIVED: i32 = 4096;

/// When the store folds its WAL into the database, instead of SQLite's
/// automatic checkpoint. After a write that leaves the WAL at its limit
/// ([`WAL_PAGES`], or [`WAL_PAGES_LONG_LIVED`] after [`LONG_LIVED_WRITES`]
/// writes), and when the last clone of a long-lived store goes, it
/// checkpoints the WAL and then writes once more (the schema's
/// fingerprint, as it is), which starts the WAL again from its first page.
/// SQLite's own checkpoint leaves the restart to the next writer: a
/// process that exits right after it (the mailgate, a function's event)
/// leaves the whole WAL, which the next process must read back at open and
/// then, not knowing it was folded in, checkpoint again at its first
/// write, syncs and all. Folded and restarted, the next process finds a WAL
/// of one page.
struct Checkpoints {
    conn: Arc<Mutex<Connection>>,
    writes: std::sync::atomic::AtomicU32,
    /// The WAL's length in pages after the last commit (SQLite's WAL hook).
    pages: Arc<std::sync::atomic::AtomicI32>,
}

impl Checkpoints {
    /// Counts a committed write on `conn` (held by the caller), and folds
    /// the WAL in when it reached its limit.
    fn written(&self, conn: &Connection) {
        use std::sync::atomic::Ordering::Relaxed;
        let writes = self.writes.fetch_add(1, Relaxed).saturating_add(1);
        let limit = if writes >= LONG_LIVED_WRITES {
            WAL_PAGES_LONG_LIVED
        } else {
            WAL_PAGES
        };
        if self.pages.load(Relaxed) >= limit {
            fold(conn);
        }
    }
}

/// Checkpoints the WAL of `conn` and starts it again with one write; a
/// failure (a reader keeps the WAL, the disk refused) is logged, and the
/// next write tries again.
fn fold(conn: &Connection) {
    let folded = conn
        .wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE)
        .and_then(|_| conn.pragma_update(None, "user_version", schema_fingerprint()));
    if let Err(e) = folded {
        tracing::warn!(error = %e, "the WAL was not folded into the database");
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        if self.writes.load(std::sync::atomic::Ordering::Relaxed) >= LONG_LIVED_WRITES {
            let conn = self
                .conn
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            fold(&conn);
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn backend(err: rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable {
                what: err.to_string(),
                source: Some(Box::new(err)),
            }
        }
        other => StoreError::backend_from(other.to_string(), other),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::backend_from(format!("cannot encode: {e}"), e))
}

fn from_json<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::corrupt_from(e.to_string(), e))
}

impl SqliteStore {
    /// Opens (creating when needed) the store in the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        // A process that takes one message and exits (the mailgate) should
        // not checkpoint and delete the WAL every time. But the next process
        // reads the whole WAL back when it opens the file, so the WAL is
        // kept short: the store folds it in at WAL_PAGES pages
        // ([`Checkpoints`]); the hook that tells it the WAL's length
        // replaces SQLite's automatic checkpoint.
        let pages = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let seen = Arc::clone(&pages);
        conn.wal_hook(Some(
            move |_: &mut rusqlite::hooks::Wal, length: std::ffi::c_int| {
                seen.store(length, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            },
        ))
        .map_err(backend)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        Self::with_connection(conn, pages)
    }

    /// A store that lives in memory only; for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::with_connection(
            Connection::open_in_memory().map_err(backend)?,
            Arc::new(std::sync::atomic::AtomicI32::new(0)),
        )
    }

    fn with_connection(
        mut conn: Connection,
        pages: Arc<std::sync::atomic::AtomicI32>,
    ) -> Result<Self, StoreError> {
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let fingerprint = schema_fingerprint();
        let current = |conn: &Connection| {
            conn.pragma_query_value(None, "user_version", |row| row.get::<_, i32>(0))
                .map(|version| version == fingerprint)
        };
        if !current(&conn).map_err(backend)? {
            // One transaction for the whole schema: a new file gets it in
            // one commit (one WAL sync instead of one per table and index),
            // and a process stopped half way leaves no half-made schema
            // behind.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            tx.execute_batch(SCHEMA).map_err(backend)?;
            tx.execute_batch(feed::SCHEMA).map_err(backend)?;
            tx.execute_batch(credentials::SCHEMA).map_err(backend)?;
            tx.execute_batch(rollups::SCHEMA).map_err(backend)?;
            add_listing_columns(&tx)?;
            tx.execute_batch(LISTING_SCHEMA).map_err(backend)?;
            tx.execute_batch(listing::SCHEMA).map_err(backend)?;
            listing::backfill(&tx, &ListingRules::default())?;
            tx.execute_batch(listing::COUNTS_SCHEMA).map_err(backend)?;
            listing::recount(&tx)?;
            tx.pragma_update(None, "user_version", fingerprint)
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        let conn = Arc::new(Mutex::new(conn));
        Ok(Self {
            checkpoints: Arc::new(Checkpoints {
                conn: Arc::clone(&conn),
                writes: std::sync::atomic::AtomicU32::new(0),
                pages,
            }),
            conn,
            wakeup: Arc::new(Notify::new()),
            rules: Arc::new(ListingRules::default()),
        })
    }

    /// This store, keeping the listing index by `rules` (the
    /// configuration's priority levels) from now on.
    #[must_use]
    pub fn with_listing_rules(mut self, rules: ListingRules) -> Self {
        self.rules = Arc::new(rules);
        self
    }

    /// Runs `f` inside one IMMEDIATE transaction (it holds the write lock
    /// from the start, so what `f` reads cannot change before it writes)
    /// where the runtime wants blocking work done ([`crate::blocking`]);
    /// commits when it returns `Ok`, rolls back otherwise.
    async fn in_transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_transaction(Begin::Immediate, f).await
    }

    /// Runs `f`, which only reads, in one deferred transaction: a
    /// consistent snapshot that takes no write lock, so readers never wait
    /// for each other or for a writer.
    async fn in_read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_transaction(Begin::Deferred, f).await
    }

    async fn with_transaction<T, F>(&self, begin: Begin, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        // The connection is free (as it nearly always is): the transaction
        // runs right here. A store call takes tens of microseconds, and
        // handing the worker's other tasks to another thread first
        // (`blocking::run` on a multi-thread runtime) costs about ten more,
        // at every call. Only a caller that would wait for another holder
        // of the connection steps aside for the wait.
        let f = match self.run_if_free(begin, f) {
            Ok(done) => return done,
            Err(f) => f,
        };
        let checkpoints = Arc::clone(&self.checkpoints);
        crate::blocking::run(move || {
            let conn = checkpoints
                .conn
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            transaction(&conn, begin, f, &checkpoints)
        })
        .await
        .map_err(|e| StoreError::backend_from(format!("store task failed: {e}"), e))?
    }
}

impl SqliteStore {
    /// Runs `f` in a transaction on this thread if the connection is free
    /// (a panic in it is an error, as on a blocking thread); gives `f`
    /// back when another holder has the connection.
    fn run_if_free<T, F>(&self, begin: Begin, f: F) -> Result<Result<T, StoreError>, F>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let conn = match self.conn.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(f),
        };
        Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            transaction(&conn, begin, f, &self.checkpoints)
        }))
        .unwrap_or_else(|panic| {
            Err(StoreError::backend(format!(
                "store task failed: {}",
                crate::blocking::panic_text(panic.as_ref())
            )))
        }))
    }
}

/// `f` in one transaction on `conn`: committed when it returns `Ok`, and
/// a write counted in `checkpoints`.
fn transaction<T>(
    conn: &Connection,
    begin: Begin,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    checkpoints: &Checkpoints,
) -> Result<T, StoreError> {
    let open = OpenTransaction::begin(conn, begin)?;
    let value = f(conn)?;
    open.commit()?;
    if matches!(begin, Begin::Immediate) {
        checkpoints.written(conn);
    }
    Ok(value)
}

/// How a transaction starts.
#[derive(Debug, Clone, Copy)]
enum Begin {
    /// Takes the write lock at once.
    Immediate,
    /// Reads a snapshot; takes no lock until it would write.
    Deferred,
}

/// A transaction begun on a connection: committed by [`Self::commit`],
/// rolled back when dropped before (an error or a panic in its work), so
/// the connection is never left inside it. Its statements are prepared once
/// per connection, like every other statement of the store.
struct OpenTransaction<'c> {
    conn: &'c Connection,
    done: bool,
}

impl<'c> OpenTransaction<'c> {
    fn begin(conn: &'c Connection, begin: Begin) -> Result<Self, StoreError> {
        let sql = match begin {
            Begin::Immediate => "BEGIN IMMEDIATE",
            Begin::Deferred => "BEGIN DEFERRED",
        };
        conn.execute_cached(sql, []).map_err(backend)?;
        Ok(Self { conn, done: false })
    }

    fn commit(mut self) -> Result<(), StoreError> {
        self.done = true;
        match self.conn.execute_cached("COMMIT", []) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.done = false;
                Err(backend(e))
            }
        }
    }
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if !self.done && !self.conn.is_autocommit() {
            // Nothing more can be done about a failed rollback here: the
            // next BEGIN reports the connection's state.
            let _ = self.conn.execute_cached("ROLLBACK", []);
        }
    }
}

/// `execute` and `query_row` through the connection's statement cache:
/// rusqlite's own compile the SQL at every call, and compiling was a good
/// part of a message's store time.
trait CachedSql {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl CachedSql for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Distinct statements the store prepares; the cache keeps them all.
const STATEMENT_CACHE: usize = 64;

/// A fingerprint of the schema text (FNV-1a, 31 bits so that it is a
/// positive `user_version`): equal for the same `CREATE` statements,
/// different, but for a 1 in 2^31 chance, when one is added or changed.
fn schema_fingerprint() -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    let parts = [
        SCHEMA,
        feed::SCHEMA,
        credentials::SCHEMA,
        rollups::SCHEMA,
        LISTING_SCHEMA,
        listing::SCHEMA,
        listing::COUNTS_SCHEMA,
    ];
    for byte in parts.iter().flat_map(|part| part.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i32::try_from(hash >> 1).unwrap_or(i32::MAX)
}

fn insert_entries(tx: &Connection, entries: &[TimelineEntry]) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO timeline (ticket, seq, doc) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    for entry in entries {
        let seq = i64::try_from(entry.seq).map_err(|_| StoreError::backend("seq out of range"))?;
        stmt.execute(params![entry.ticket.to_string(), seq, to_json(entry)?])
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(code, _)
                    if code.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::AlreadyExists(format!(
                        "timeline entry {} of {}",
                        entry.seq, entry.ticket
                    ))
                }
                other => backend(other),
            })?;
    }
    Ok(())
}

fn read_idempotency(
    tx: &rusqlite::Connection,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let row = tx
        .query_row_cached(
            "SELECT payload_hash, ticket, created_at FROM idempotency WHERE key = ?1",
            params![key],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?;
    row.map(|(payload_hash, ticket, created_at)| {
        Ok(IdempotencyRecord {
            key: key.to_owned(),
            purpose: ClaimPurpose::from(payload_hash),
            ticket: TicketKey::parse(&ticket)
                .map_err(|e| StoreError::corrupt_from(format!("idempotency record {key:?}"), e))?,
            created_at: chrono::DateTime::parse_from_rfc3339(&created_at)
                .map_err(|e| StoreError::corrupt(e.to_string()))?
                .to_utc(),
        })
    })
    .transpose()
}

/// Answers how an existing claim decides the write, if any claim exists.
fn existing_claim(
    tx: &rusqlite::Connection,
    claims: &[IdempotencyClaim],
) -> Result<Option<Written>, StoreError> {
    for claim in claims {
        if let Some(existing) = read_idempotency(tx, &claim.key)? {
            return if existing.purpose == claim.purpose {
                Ok(Some(Written::Replayed(existing.ticket)))
            } else {
                Err(StoreError::IdempotencyMismatch {
                    key: claim.key.clone(),
                })
            };
        }
    }
    Ok(None)
}

fn insert_claims(
    tx: &rusqlite::Connection,
    claims: &[IdempotencyClaim],
    ticket: &TicketKey,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO idempotency (key, payload_hash, ticket, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?;
    for claim in claims {
        stmt.execute(params![
            claim.key,
            claim.purpose.as_stored().as_ref(),
            ticket.to_string(),
            now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            claim
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ])
        .map_err(backend)?;
    }
    Ok(())
}

fn version_i64(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::backend("version out of range"))
}

#[async_trait]
impl TicketStore for SqliteStore {
    async fn create_ticket(
        &self,
        ticket: &Ticket,
        entries: &[TimelineEntry],
        claims: &[IdempotencyClaim],
    ) -> Result<Written, StoreError> {
        let ticket = ticket.clone();
        let entries = entries.to_vec();
        let claims = claims.to_vec();
        let rules = Arc::clone(&self.rules);
        let written = self
            .in_transaction(move |tx| {
                if let Some(replayed) = existing_claim(tx, &claims)? {
                    return Ok(replayed);
                }
                let key = ticket.key.to_string();
                let doc = to_json(&ticket)?;
                let inserted = tx
                    .execute_cached(
                        "INSERT INTO tickets
                         (key, queue, number, version, created_at, doc, assignee, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (key) DO NOTHING",
                        params![
                            key,
                            ticket.queue.as_str(),
                            version_i64(ticket.key.number())?,
                            version_i64(ticket.version)?,
                            stored_time(ticket.created_at),
                            doc,
                            ticket.assignee,
                            ticket.status
                        ],
                    )
                    .map_err(backend)?;
                if inserted == 0 {
                    return Err(StoreError::AlreadyExists(format!("ticket {key}")));
                }
                let rowid = tx.last_insert_rowid();
                insert_entries(tx, &entries)?;
                insert_claims(tx, &claims, &ticket.key, ticket.created_at)?;
                index_sla_due(tx, &ticket)?;
                listing::index_write(tx, rowid, None, &ticket, &entries, &rules)?;
                feed::record_change(tx, &ticket.key, None, &doc)?;
                Ok(Written::New)
            })
            .await?;
        self.after_write(&written);
        Ok(written)
    }

    async fn get_ticket(&self, key: &TicketKey) -> Result<Option<Ticket>, StoreError> {
        let key = key.to_string();
        self.in_read(move |tx| {
            tx.query_row_cached(
                "SELECT doc FROM tickets WHERE key = ?1",
                params![key],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|doc| from_json(&doc))
            .transpose()
        })
        .await
    }

    async fn update_ticket(
        &self,
        ticket: &Ticket,
        expected_version: u64,
        entries: &[TimelineEntry],
        claims: &[IdempotencyClaim],
    ) -> Result<Written, StoreError> {
        if ticket.version != expected_version + 1 {
            return Err(StoreError::backend(format!(
                "update of {} must carry version {}, not {}",
                ticket.key,
                expected_version + 1,
                ticket.version
            )));
        }
        let ticket = ticket.clone();
        let entries = entries.to_vec();
        let claims = claims.to_vec();
        let rules = Arc::clone(&self.rules);
        let written = self
            .in_transaction(move |tx| {
                if let Some(replayed) = existing_claim(tx, &claims)? {
                    return Ok(replayed);
                }
                let key = ticket.key.to_string();
                // The row about to be replaced: its version decides the
                // write, its document is the change's "before". The
                // IMMEDIATE transaction holds the write lock, so it cannot
                // change between this read and the update.
                let stored: Option<(i64, String, Option<String>, String, i64)> = tx
                    .query_row_cached(
                        "SELECT version, doc, assignee, status, rowid FROM tickets WHERE key = ?1",
                        params![key],
                        |row| {
                            Ok((
                                row.get(0)?,
                                row.get(1)?,
                                row.get(2)?,
                                row.get(3)?,
                                row.get(4)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(backend)?;
                let Some((actual, before, assignee, status, rowid)) = stored else {
                    return Err(StoreError::NotFound(format!("ticket {key}")));
                };
                if actual != version_i64(expected_version)? {
                    return Err(StoreError::VersionConflict {
                        key: ticket.key.clone(),
                        expected: expected_version,
                        actual: u64::try_from(actual).ok(),
                    });
                }
                let doc = to_json(&ticket)?;
                let version = version_i64(ticket.version)?;
                // Naming the listing columns in the SET updates their
                // indexes, changed or not: most writes (a comment, a mail,
                // an SLA step) change neither.
                if assignee == ticket.assignee && status == ticket.status {
                    tx.execute_cached(
                        "UPDATE tickets SET version = ?1, doc = ?2 WHERE key = ?3 AND version = ?4",
                        params![version, doc, key, actual],
                    )
                } else {
                    tx.execute_cached(
                        "UPDATE tickets SET version = ?1, doc = ?2, assignee = ?5, status = ?6
                         WHERE key = ?3 AND version = ?4",
                        params![version, doc, key, actual, ticket.assignee, ticket.status],
                    )
                }
                .map_err(backend)?;
                insert_entries(tx, &entries)?;
                insert_claims(tx, &claims, &ticket.key, ticket.updated_at)?;
                index_sla_due(tx, &ticket)?;
                let previous: Ticket = from_json(&before)?;
                listing::index_write(tx, rowid, Some(&previous), &ticket, &entries, &rules)?;
                feed::record_change(tx, &ticket.key, Some(&before), &doc)?;
                Ok(Written::New)
            })
            .await?;
        self.after_write(&written);
        Ok(written)
    }

    async fn list_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, StoreError> {
        let sql = list_sql(query);
        let queue = query.queue.to_string();
        let assignee = query.assignee.clone().flatten();
        let status = query.status.clone();
        let after = query
            .after
            .map(|p| Ok::<_, StoreError>((stored_time(p.created_at), version_i64(p.number)?)))
            .transpose()?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.in_read(move |tx| {
            let mut stmt = tx.prepare_cached(&sql).map_err(backend)?;
            let mut values: Vec<(&str, &dyn rusqlite::ToSql)> =
                vec![(":queue", &queue), (":limit", &limit)];
            if let Some(assignee) = &assignee {
                values.push((":assignee", assignee));
            }
            if let Some(status) = &status {
                values.push((":status", status));
            }
            if let Some((at, number)) = &after {
                values.push((":at", at));
                values.push((":number", number));
            }
            let docs = stmt
                .query_map(values.as_slice(), |row| row.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
        .await
    }

    async fn list_listing(&self, query: &ListingQuery) -> Result<Vec<Ticket>, StoreError> {
        let query = query.clone();
        self.in_read(move |tx| listing::list(tx, &query)).await
    }

    async fn count_tickets(&self, queue: &QueueKey, counted: &Counted) -> Result<u64, StoreError> {
        let queue = queue.clone();
        let counted = counted.clone();
        self.in_read(move |tx| listing::count(tx, &queue, &counted))
            .await
    }

    async fn search_tickets(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        let query = query.clone();
        self.in_read(move |tx| listing::search(tx, &query)).await
    }

    async fn count_assigned(
        &self,
        queue: &QueueKey,
        assignee: &str,
        statuses: &[String],
    ) -> Result<u64, StoreError> {
        let queue = queue.clone();
        let assignee = assignee.to_owned();
        let statuses = to_json(&statuses)?;
        self.in_read(move |tx| {
            let count: i64 = tx
                .prepare_cached(COUNT_ASSIGNED)
                .map_err(backend)?
                .query_row(params![queue.as_str(), assignee, statuses], |row| {
                    row.get(0)
                })
                .map_err(backend)?;
            u64::try_from(count).map_err(|_| StoreError::corrupt("negative count"))
        })
        .await
    }
}

#[async_trait]
impl TimelineStore for SqliteStore {
    async fn timeline(&self, key: &TicketKey) -> Result<Vec<TimelineEntry>, StoreError> {
        let key = key.to_string();
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached("SELECT doc FROM timeline WHERE ticket = ?1 ORDER BY seq")
                .map_err(backend)?;
            let docs = stmt
                .query_map(params![key], |row| row.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
        .await
    }

    async fn entries_of_version(
        &self,
        key: &TicketKey,
        version: u64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        // [first, end) in the primary key (ticket, seq); none when the
        // numbers do not fit the column.
        let range = version
            .checked_mul(ENTRIES_PER_VERSION)
            .and_then(|first| Some((first, first.checked_add(ENTRIES_PER_VERSION)?)))
            .and_then(|(first, end)| Some((i64::try_from(first).ok()?, i64::try_from(end).ok()?)));
        let Some((first, end)) = range else {
            return Ok(Vec::new());
        };
        let key = key.to_string();
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT doc FROM timeline WHERE ticket = ?1 AND seq >= ?2 AND seq < ?3
                     ORDER BY seq",
                )
                .map_err(backend)?;
            let docs = stmt
                .query_map(params![key, first, end], |row| row.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
        .await
    }

    async fn entries_after_version(
        &self,
        key: &TicketKey,
        version: u64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let first = version
            .checked_add(1)
            .and_then(|v| v.checked_mul(ENTRIES_PER_VERSION))
            .and_then(|first| i64::try_from(first).ok());
        let Some(first) = first else {
            return Ok(Vec::new());
        };
        let key = key.to_string();
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT doc FROM timeline WHERE ticket = ?1 AND seq >= ?2 ORDER BY seq",
                )
                .map_err(backend)?;
            let docs = stmt
                .query_map(params![key, first], |row| row.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
        .await
    }

    async fn timeline_page(
        &self,
        key: &TicketKey,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let key = key.to_string();
        self.in_read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT doc FROM timeline WHERE ticket = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                )
                .map_err(backend)?;
            let docs = stmt
                .query_map(params![key, before, limit], |row| row.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            docs.iter().map(|doc| from_json(doc)).collect()
        })
        .await
    }
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn create_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        let contact = contact.clone();
        self.in_transaction(move |tx| {
            for email in &contact.emails {
                claim_email(tx, &contact.id, email)?;
            }
            let inserted = tx
                .execute_cached(
                    "INSERT INTO contacts (id, doc) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                    params![contact.id.as_str(), to_json(&contact)?],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("contact {}", contact.id)));
            }
            Ok(())
        })
        .await
    }

    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        let id = id.clone();
        self.in_read(move |tx| read_contact(tx, &id)).await
    }

    async fn find_contact_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Contact>, StoreError> {
        let email = email.clone();
        self.in_read(move |tx| {
            let owner: Option<String> = tx
                .query_row_cached(
                    "SELECT contact_id FROM contact_emails WHERE email = ?1",
                    params![email.as_str()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            match owner {
                None => Ok(None),
                Some(id) => read_contact(tx, &ContactId::from_stored(id)),
            }
        })
        .await
    }

    async fn add_contact_email(
        &self,
        id: &ContactId,
        email: &EmailAddress,
    ) -> Result<(), StoreError> {
        let id = id.clone();
        let email = email.clone();
        self.in_transaction(move |tx| {
            let mut contact = read_contact(tx, &id)?
                .ok_or_else(|| StoreError::NotFound(format!("contact {id}")))?;
            claim_email(tx, &id, &email)?;
            if !contact.emails.contains(&email) {
                contact.emails.push(email);
            }
            tx.execute_cached(
                "UPDATE contacts SET doc = ?1 WHERE id = ?2",
                params![to_json(&contact)?, id.as_str()],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ClaimStore for SqliteStore {
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = key.to_owned();
        self.in_read(move |tx| read_idempotency(tx, &key)).await
    }

    async fn put_marker(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Option<String>, StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        let expires_at = expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.in_transaction(move |tx| {
            let inserted = tx
                .execute_cached(
                    "INSERT INTO markers (key, value, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO NOTHING",
                    params![key, value, expires_at],
                )
                .map_err(backend)?;
            if inserted == 1 {
                return Ok(None);
            }
            tx.query_row_cached(
                "SELECT value FROM markers WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .map(Some)
            .map_err(backend)
        })
        .await
    }

    async fn get_marker(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.in_read(move |tx| {
            tx.query_row_cached(
                "SELECT value FROM markers WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn delete_marker(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.in_transaction(move |tx| {
            tx.execute_cached("DELETE FROM markers WHERE key = ?1", params![key])
                .map(|_| ())
                .map_err(backend)
        })
        .await
    }
}

#[async_trait]
impl CounterStore for SqliteStore {
    async fn allocate_ticket_key(&self, queue: &QueueKey) -> Result<TicketKey, StoreError> {
        let queue = queue.clone();
        self.in_transaction(move |tx| {
            let number: i64 = tx
                .query_row_cached(
                    "INSERT INTO ticket_counters (queue, last_number) VALUES (?1, 1)
                     ON CONFLICT (queue) DO UPDATE SET last_number = last_number + 1
                     RETURNING last_number",
                    params![queue.as_str()],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            let number =
                u64::try_from(number).map_err(|_| StoreError::corrupt("negative counter"))?;
            Ok(TicketKey::new(queue, number))
        })
        .await
    }

    async fn increment_counter(
        &self,
        key: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let key = key.to_owned();
        let expires_at = expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.in_transaction(move |tx| {
            let value: i64 = tx
                .query_row_cached(
                    "INSERT INTO counters (key, value, expires_at) VALUES (?1, 1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = value + 1
                     RETURNING value",
                    params![key, expires_at],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            u64::try_from(value).map_err(|_| StoreError::corrupt("negative counter"))
        })
        .await
    }
}

#[async_trait]
impl SlaDueIndex for SqliteStore {
    async fn sla_due(
        &self,
        until: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<DueTicket>, StoreError> {
        let until = until.timestamp_micros();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.in_read(move |tx| {
            let mut stmt = tx.prepare_cached(SLA_DUE).map_err(backend)?;
            let rows = stmt
                .query_map(params![until, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(key, due)| {
                    Ok(DueTicket {
                        key: TicketKey::parse(&key)
                            .map_err(|e| StoreError::corrupt(e.to_string()))?,
                        due: chrono::DateTime::from_timestamp_micros(due)
                            .ok_or_else(|| StoreError::corrupt(format!("due time {due}")))?,
                    })
                })
                .collect()
        })
        .await
    }
}

impl ChangeFeedSource for SqliteStore {
    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        Some(self)
    }
}

fn read_contact(tx: &rusqlite::Connection, id: &ContactId) -> Result<Option<Contact>, StoreError> {
    tx.query_row_cached(
        "SELECT doc FROM contacts WHERE id = ?1",
        params![id.as_str()],
        |row| row.get::<_, String>(0),
    )
    .optional()
    .map_err(backend)?
    .map(|doc| from_json(&doc))
    .transpose()
}

/// Records `id` as the owner of `email`; refused when another contact owns it.
fn claim_email(
    tx: &rusqlite::Connection,
    id: &ContactId,
    email: &EmailAddress,
) -> Result<(), StoreError> {
    let owner: Option<String> = tx
        .query_row_cached(
            "SELECT contact_id FROM contact_emails WHERE email = ?1",
            params![email.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    match owner {
        Some(owner) if owner == id.as_str() => Ok(()),
        Some(owner) => Err(StoreError::EmailTaken {
            email: email.clone(),
            contact: ContactId::from_stored(owner),
        }),
        None => {
            tx.execute_cached(
                "INSERT INTO contact_emails (email, contact_id) VALUES (?1, ?2)",
                params![email.as_str(), id.as_str()],
            )
            .map_err(backend)?;
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    /// The plan SQLite chooses for `sql`, one line per step.
    fn plan(store: &SqliteStore, sql: &str) -> String {
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let steps = stmt
            .query_map(["SUP", "anna", r#"["Open"]"#], |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        steps.join("\n")
    }

    #[test]
    fn counting_assigned_tickets_searches_the_assignee_index_and_reads_no_ticket_row() {
        let store = SqliteStore::in_memory().unwrap();
        let plan = plan(&store, COUNT_ASSIGNED);
        // All three columns are searched, not one filtered row by row.
        assert!(
            plan.contains(
                "SEARCH tickets USING COVERING INDEX tickets_by_holder_status (queue=? AND assignee=? AND status=?)"
            ),
            "{plan}"
        );
        assert!(!plan.contains("SCAN tickets"), "{plan}");
    }

    #[test]
    fn the_entries_of_a_version_are_one_range_of_the_timeline_key() {
        let store = SqliteStore::in_memory().unwrap();
        let plan = plan(
            &store,
            "SELECT doc FROM timeline WHERE ticket = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq",
        );
        assert!(
            plan.contains("SEARCH timeline USING INDEX sqlite_autoindex_timeline_1 (ticket=? AND seq>? AND seq<?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn the_sla_checker_reads_a_range_of_the_due_index_and_no_ticket() {
        let store = SqliteStore::in_memory().unwrap();
        let conn = store.conn.lock().unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SLA_DUE}"))
            .unwrap();
        let plan = stmt
            .query_map(params![0_i64, 100_i64], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("\n");
        assert!(
            plan.contains("SEARCH sla_due USING COVERING INDEX sla_due_by_time (due_us<?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    /// The WAL's length in pages after the store's last commit.
    fn wal_pages(store: &SqliteStore) -> i32 {
        store
            .checkpoints
            .pages
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_process_that_fills_the_wal_folds_it_in_and_leaves_the_next_one_a_page() {
        let path = std::env::temp_dir().join(format!(
            "helpdesk-checkpoints-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let big = "x".repeat(3_000);
        {
            // Short processes (a few writes each) until one fills the WAL.
            let mut filled = false;
            for process in 0..200 {
                let store = SqliteStore::open(&path).unwrap();
                for i in 0..3 {
                    store
                        .put_marker(&format!("short-{process}-{i}"), &big, None)
                        .await
                        .unwrap();
                }
                if wal_pages(&store) < 3 && process > 0 {
                    filled = true;
                    break;
                }
                assert!(wal_pages(&store) < WAL_PAGES + 8, "{}", wal_pages(&store));
            }
            assert!(filled, "the WAL was never folded in");
        }
        {
            // A long-lived one lets the WAL grow past the short limit, and
            // folds it in when it closes.
            let store = SqliteStore::open(&path).unwrap();
            let clone = store.clone();
            for i in 0..LONG_LIVED_WRITES * 3 {
                store
                    .put_marker(&format!("long-{i}"), &big, None)
                    .await
                    .unwrap();
            }
            assert!(wal_pages(&store) > WAL_PAGES, "{}", wal_pages(&store));
            drop(store);
            // A clone still uses the connection: nothing is folded in yet.
            assert!(wal_pages(&clone) > WAL_PAGES);
        }
        let reopened = SqliteStore::open(&path).unwrap();
        assert!(reopened.get_marker("long-0").await.unwrap().is_some());
        assert!(reopened.get_marker("short-0-0").await.unwrap().is_some());
        // The next write finds the WAL started again: one page and its own.
        reopened.put_marker("after", "v", None).await.unwrap();
        assert!(wal_pages(&reopened) <= 3, "{}", wal_pages(&reopened));
        drop(reopened);
        for file in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{file}", path.display()));
        }
    }

    #[test]
    fn a_file_from_before_the_change_feed_and_the_listing_indexes_opens_and_gets_them() {
        let path = std::env::temp_dir().join(format!(
            "helpdesk-old-schema-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        {
            let store = SqliteStore::open(&path).unwrap();
            let conn = store.conn.lock().unwrap();
            // As a file of that time: no schema fingerprint either.
            conn.execute_batch(
                "DROP INDEX tickets_by_holder_status; DROP TABLE changes; \
                 DROP TABLE feed_cursors; PRAGMA user_version = 0;",
            )
            .unwrap();
        }

        let store = SqliteStore::open(&path).unwrap();
        let objects: Vec<String> = {
            let conn = store.conn.lock().unwrap();
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_master ORDER BY name")
                .unwrap();
            stmt.query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        drop(store);
        for file in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{file}", path.display()));
        }

        for name in ["changes", "feed_cursors", "tickets_by_holder_status"] {
            assert!(
                objects.iter().any(|o| o == name),
                "{name} missing: {objects:?}"
            );
        }
    }

    #[test]
    fn every_listing_reads_one_index_range_in_its_order_without_sorting() {
        let store = SqliteStore::in_memory().unwrap();
        let conn = store.conn.lock().unwrap();
        let queue = crate::domain::QueueKey::parse("SUP").unwrap();
        let after = Some(super::super::ListPosition {
            created_at: chrono::Utc::now(),
            number: 7,
        });
        for assignee in [None, Some(None), Some(Some("anna".to_owned()))] {
            for status in [None, Some("Open".to_owned())] {
                for after in [None, after] {
                    let query = TicketQuery {
                        assignee: assignee.clone(),
                        status: status.clone(),
                        after,
                        ..TicketQuery::newest(queue.clone(), 50)
                    };
                    let sql = format!("EXPLAIN QUERY PLAN {}", list_sql(&query));
                    let mut stmt = conn.prepare(&sql).unwrap();
                    let count = stmt.parameter_count();
                    let plan: Vec<String> = stmt
                        .query_map(
                            rusqlite::params_from_iter(std::iter::repeat_n("x", count)),
                            |row| row.get::<_, String>(3),
                        )
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    let plan = plan.join("; ");
                    assert!(
                        plan.starts_with("SEARCH tickets USING INDEX tickets_by_"),
                        "{query:?}: {plan}"
                    );
                    assert!(!plan.contains("TEMP B-TREE"), "{query:?}: {plan}");
                }
            }
        }
    }

    #[test]
    fn a_file_from_before_the_listing_columns_gets_them_filled_from_each_ticket() {
        let path = std::env::temp_dir().join(format!(
            "helpdesk-listing-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        {
            let store = SqliteStore::open(&path).unwrap();
            let conn = store.conn.lock().unwrap();
            // The file as an earlier version left it: no listing columns,
            // indexes or counters, a schema fingerprint of its own.
            conn.execute_batch(
                "DROP TRIGGER ticket_status_added; DROP TRIGGER ticket_status_moved;
                 DROP TRIGGER ticket_status_removed; DROP TABLE status_count;
                 DROP INDEX tickets_by_holder; DROP INDEX tickets_by_status;
                 DROP INDEX tickets_by_holder_status;
                 ALTER TABLE tickets DROP COLUMN assignee;
                 ALTER TABLE tickets DROP COLUMN status;
                 INSERT INTO tickets (key, queue, number, version, created_at, doc) VALUES
                   ('SUP-1', 'SUP', 1, 3, '2026-03-02T09:30:00.000000Z',
                    '{\"assignee\":\"anna\",\"status\":\"Open\"}'),
                   ('SUP-2', 'SUP', 2, 1, '2026-03-02T09:31:00.000000Z',
                    '{\"status\":\"New\"}');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let conn = store.conn.lock().unwrap();
        let rows: Vec<(String, Option<String>, String)> = conn
            .prepare("SELECT key, assignee, status FROM tickets ORDER BY key")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "SUP-1".to_owned(),
                    Some("anna".to_owned()),
                    "Open".to_owned()
                ),
                ("SUP-2".to_owned(), None, "New".to_owned()),
            ]
        );
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'
                 AND name IN ('tickets_by_holder', 'tickets_by_status', 'tickets_by_holder_status')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 3);
        // The status counters start from the rows as they are.
        let counts: Vec<(String, i64)> = conn
            .prepare("SELECT status, n FROM status_count WHERE queue = 'SUP' ORDER BY status")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(counts, vec![("New".to_owned(), 1), ("Open".to_owned(), 1)]);
        drop(conn);
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn an_open_records_the_schema_fingerprint_and_a_current_file_skips_the_schema_batch() {
        let path = std::env::temp_dir().join(format!(
            "helpdesk-fingerprint-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let version = |store: &SqliteStore| {
            let conn = store.conn.lock().unwrap();
            conn.pragma_query_value(None, "user_version", |row| row.get::<_, i32>(0))
                .unwrap()
        };
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(version(&store), schema_fingerprint());
        assert_ne!(
            schema_fingerprint(),
            0,
            "0 is every new file's user_version"
        );
        // An index dropped behind the store's back stays dropped while the
        // fingerprint says the file is current: the batch did not run.
        store
            .conn
            .lock()
            .unwrap()
            .execute_batch("DROP INDEX sla_due_by_time;")
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let has_index = |store: &SqliteStore| {
            let conn = store.conn.lock().unwrap();
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sla_due_by_time'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        assert!(!has_index(&store));
        drop(store);
        for file in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{file}", path.display()));
        }
    }

    // A panic is caught (and the connection kept) on a multi-thread runtime,
    // as in `helpdesk serve`; elsewhere it ends the process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_whose_work_fails_or_panics_writes_nothing_and_the_next_one_works() {
        let store = SqliteStore::in_memory().unwrap();
        let insert = |key: &'static str| {
            move |conn: &Connection| {
                conn.execute_cached(
                    "INSERT INTO markers (key, value) VALUES (?1, 'v')",
                    params![key],
                )
                .map_err(backend)
            }
        };
        let failed = store
            .in_transaction(move |conn| {
                insert("failed")(conn)?;
                Err::<(), _>(StoreError::backend("refused after writing"))
            })
            .await;
        assert!(failed.is_err());
        let panicked = store
            .in_transaction(move |conn| {
                insert("panicked")(conn)?;
                panic!("a bug in the work");
                #[allow(unreachable_code)]
                Ok(())
            })
            .await;
        assert!(panicked.is_err());
        store.in_transaction(insert("kept")).await.unwrap();
        for (key, kept) in [("failed", false), ("panicked", false), ("kept", true)] {
            assert_eq!(
                store.get_marker(key).await.unwrap().is_some(),
                kept,
                "{key}"
            );
        }
    }
}
