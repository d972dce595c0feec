//! The storage port: one small trait, [`Store`], with two real
//! implementations: [`sqlite::SqliteStore`] (embedded, the local default) and
//! [`dynamo::DynamoStore`] (single-table DynamoDB with a stream).
//!
//! Contract every implementation keeps (checked by the conformance suite in
//! `tests/`):
//! - ticket numbers are allocated per queue, unique and increasing under
//!   concurrency (gaps are allowed);
//! - a ticket, its first timeline entries and its idempotency record are
//!   written all or nothing;
//! - an update names the version it was based on and is refused when the
//!   stored version differs, leaving the stored ticket untouched;
//! - timeline entries come back in `seq` order;
//! - idempotency claims are written with the ticket write they belong to;
//!   a write naming a claim that exists writes nothing (same payload hash:
//!   `Replayed`, another hash: `IdempotencyMismatch`). Claims also index
//!   Message-IDs to tickets (`msgid:<id>`), so a mail is recorded once;
//! - a marker key is written once; a counter grows by exactly one per call;
//! - every ticket write keeps the ticket's place in the SLA due index
//!   (its earliest warning or breach), so the checker reads only what is
//!   due;
//! - no read on a request path scans a whole table.

pub mod dynamo;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Contact, ContactId, EmailAddress, QueueKey, Ticket, TicketKey, TimelineEntry};

/// A request to make a write idempotent: a second write with the same key
/// returns the first result; one with the same key but another payload is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Scoped key, such as `form:support:<submission id>`.
    pub key: String,
    /// A hash of the payload, to tell a redelivery from a key reused for
    /// something else.
    pub payload_hash: String,
    /// When the record may be forgotten.
    pub expires_at: DateTime<Utc>,
}

/// A stored idempotency record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The claim's key.
    pub key: String,
    /// The claim's payload hash.
    pub payload_hash: String,
    /// The ticket the first write created.
    pub ticket: TicketKey,
    /// When the first write happened.
    pub created_at: DateTime<Utc>,
}

/// What [`Store::create_ticket`] or [`Store::update_ticket`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The write was applied.
    New,
    /// One of its idempotency keys was already used for the same payload:
    /// nothing was written, and this is the ticket that key belongs to.
    Replayed(TicketKey),
}

/// A ticket in the SLA due index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTicket {
    /// The ticket.
    pub key: TicketKey,
    /// When its next SLA warning or breach is due.
    pub due: DateTime<Utc>,
}

/// Which tickets to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketQuery {
    /// The queue (listing is always per queue, so no read spans the table).
    pub queue: QueueKey,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stored ticket is at another version than the write expected.
    #[error("ticket {key} changed meanwhile: expected version {expected}, stored {actual:?}")]
    VersionConflict {
        /// The ticket.
        key: TicketKey,
        /// The version the write was based on.
        expected: u64,
        /// The stored version, when known.
        actual: Option<u64>,
    },
    /// An idempotency key was reused for a different payload.
    #[error("idempotency key {key:?} was already used for a different request")]
    IdempotencyMismatch {
        /// The key.
        key: String,
    },
    /// A record with this identity exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The record does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// An email address already belongs to another contact.
    #[error("email {email} already belongs to contact {contact}")]
    EmailTaken {
        /// The address.
        email: EmailAddress,
        /// Its owner.
        contact: ContactId,
    },
    /// The backend is unavailable or throttling; retrying may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("store failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::VersionConflict { .. })
    }
}

/// One ticket write as the local change feed records it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedChange {
    /// Position in the feed; grows by one per committed ticket write.
    pub seq: u64,
    /// The ticket before the write; none when the write created it.
    pub before: Option<Ticket>,
    /// The ticket after the write.
    pub after: Ticket,
}

/// A durable, ordered log of ticket writes with named cursors: the local
/// counterpart of a DynamoDB stream. Every ticket write (create or update)
/// appends one change in the same transaction, so the feed misses nothing.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Up to `limit` changes with `seq > after`, in order.
    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<FeedChange>, StoreError>;

    /// The position of the cursor `name` (0 when never set).
    async fn cursor(&self, name: &str) -> Result<u64, StoreError>;

    /// Moves the cursor `name` to `seq` (never backwards), and forgets
    /// changes that every cursor has passed.
    async fn set_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError>;

    /// Notified after every committed ticket write, so a reader can sleep
    /// until there is something to read.
    fn wakeup(&self) -> std::sync::Arc<tokio::sync::Notify>;
}

/// The storage port.
#[async_trait]
pub trait Store: Send + Sync {
    /// Allocates the next ticket key in `queue`.
    async fn allocate_ticket_key(&self, queue: &QueueKey) -> Result<TicketKey, StoreError>;

    /// Stores a new ticket (at version 1) with its first timeline entries and
    /// its idempotency claims, all or nothing.
    async fn create_ticket(
        &self,
        ticket: &Ticket,
        entries: &[TimelineEntry],
        claims: &[IdempotencyClaim],
    ) -> Result<Written, StoreError>;

    /// Reads a ticket.
    async fn get_ticket(&self, key: &TicketKey) -> Result<Option<Ticket>, StoreError>;

    /// Replaces a ticket that is stored at `expected_version` by `ticket`
    /// (whose version must be `expected_version + 1`), appends `entries` and
    /// records `claims` for this ticket, all or nothing.
    async fn update_ticket(
        &self,
        ticket: &Ticket,
        expected_version: u64,
        entries: &[TimelineEntry],
        claims: &[IdempotencyClaim],
    ) -> Result<Written, StoreError>;

    /// Lists a queue's tickets, newest first.
    async fn list_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, StoreError>;

    /// A ticket's timeline in order.
    async fn timeline(&self, key: &TicketKey) -> Result<Vec<TimelineEntry>, StoreError>;

    /// The timeline entries written together with `version` of a ticket
    /// (sequence numbers `entry_seq(version, 0..)`), in order; one range
    /// read, strongly consistent.
    async fn entries_of_version(
        &self,
        key: &TicketKey,
        version: u64,
    ) -> Result<Vec<TimelineEntry>, StoreError>;

    /// The timeline entries written with versions after `version` (sequence
    /// numbers from `entry_seq(version + 1, 0)` on), in order; one range
    /// read, strongly consistent.
    async fn entries_after_version(
        &self,
        key: &TicketKey,
        version: u64,
    ) -> Result<Vec<TimelineEntry>, StoreError>;

    /// Tickets whose SLA timers have something due at or before `until`
    /// (see [`crate::domain::SlaState::next_due`]), earliest first, at most
    /// `limit`. Reads the due index only: every ticket write keeps a
    /// ticket's place in it (or takes it out), so the index lists exactly
    /// the tickets with a running timer.
    async fn sla_due(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueTicket>, StoreError>;

    /// How many tickets of `queue` are assigned to `assignee` and have one
    /// of `statuses` (the statuses that count as "in work"). Reads an index,
    /// never the whole queue.
    async fn count_assigned(
        &self,
        queue: &QueueKey,
        assignee: &str,
        statuses: &[String],
    ) -> Result<u64, StoreError>;

    /// The store's own change feed, when it has one (SQLite). DynamoDB has
    /// none: its stream invokes the trigger function instead.
    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        None
    }

    /// Stores a new contact; every one of its addresses must be free.
    async fn create_contact(&self, contact: &Contact) -> Result<(), StoreError>;

    /// Reads a contact.
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError>;

    /// Finds the contact that owns `email`.
    async fn find_contact_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Contact>, StoreError>;

    /// Adds an address to a contact; refused when another contact owns it.
    async fn add_contact_email(
        &self,
        id: &ContactId,
        email: &EmailAddress,
    ) -> Result<(), StoreError>;

    /// Reads an idempotency record.
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Writes a marker (a small record under a unique key, such as the log
    /// entry of a rejected mail or the claim to send one message) unless the
    /// key exists. Answers `None` when written now, or the value already
    /// stored (nothing written). `expires_at` lets the backend forget it.
    async fn put_marker(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<String>, StoreError>;

    /// Reads a marker.
    async fn get_marker(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Removes a marker (so a failed step can be tried again).
    async fn delete_marker(&self, key: &str) -> Result<(), StoreError>;

    /// Adds one to the counter `key` (created at zero) and answers the new
    /// value; used for rate limits over fixed windows. The counter may be
    /// forgotten after `expires_at`.
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}
