//! The storage port: small traits by capability ([`TicketStore`],
//! [`TimelineStore`], [`ContactStore`], [`ClaimStore`], [`CounterStore`],
//! [`SlaDueIndex`], [`MailLogStore`], [`CredentialStore`], [`RollupStore`],
//! [`ChangeFeed`]),
//! gathered by [`Store`], with two real
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
//!   a write naming a claim that exists writes nothing (same purpose:
//!   `Replayed`, another one: `IdempotencyMismatch`). Claims also index
//!   Message-IDs to tickets (`msgid:<id>`), so a mail is recorded once;
//! - a marker key is written once; a counter grows by exactly one per call;
//! - every ticket write keeps the ticket's place in the SLA due index
//!   (its earliest warning or breach), so the checker reads only what is
//!   due;
//! - a queue's rollups are the sum of the counters kept for its tickets:
//!   keeping a ticket's counters adds the difference from those kept before
//!   in the same atomic write, so keeping the same counters again changes
//!   nothing;
//! - an agent's token label is unique, a revoked token is gone at once,
//!   and no credential can be read back as the secret it was made from;
//! - no read on a request path scans a whole table.

pub mod dynamo;
pub mod listing;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    ApiToken, Contact, ContactId, EmailAddress, MailLogEntry, MailLogQuery, QueueKey, Ticket,
    TicketKey, TimelineEntry, TokenHash,
};

/// A request to make a write idempotent: a second write with the same key
/// and the same purpose returns the first result; one with the same key but
/// another purpose (another payload) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Scoped key, built by [`crate::keys::claim`].
    pub key: String,
    /// What the claim stands for.
    pub purpose: ClaimPurpose,
    /// When the record may be forgotten.
    pub expires_at: DateTime<Utc>,
}

/// What a claim stands for: a request's payload, a mail recorded on its
/// ticket, or one step done once. Stored as one string (the stores' column
/// or attribute `payload_hash`, as it always was): a payload's hash, or the
/// name of the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ClaimPurpose {
    /// A request's payload, by its hash: the same key with another hash is
    /// a key reused for something else.
    Payload(String),
    /// A mail's Message-ID recorded on its ticket (a mail we sent, or one
    /// recorded before content digests were kept).
    Mail(MailClaim),
    /// A received mail's Message-ID with a digest of its content: the same
    /// id with other content is another message.
    MailContent(MailClaim, String),
    /// A step that happens once per key.
    Once(Step),
}

/// How a Message-ID came to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailClaim {
    /// The message opened the ticket (a redelivery finishes what the first
    /// delivery may not have: the acknowledgement).
    OpenedTicket,
    /// The message was recorded on a ticket that existed (a reply, a
    /// bounce), or is one we sent.
    Recorded,
}

/// A step that happens once per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The triggers' write for one change.
    TriggerWrite,
    /// The note that an effect failed for good.
    EffectFailure,
    /// The note that an SLA notification cannot go out.
    SlaNote,
    /// The note that a mail was suppressed.
    Suppression,
    /// A reply's attachments recorded.
    Attachments,
    /// A follow-up ticket's back link.
    FollowUpLink,
}

impl ClaimPurpose {
    /// The names of the kinds as stored, beside the payload hashes (which
    /// are hexadecimal or structured text, never one of these names).
    const NAMES: [(&'static str, ClaimPurpose); 8] = [
        ("message-id:new-ticket", Self::Mail(MailClaim::OpenedTicket)),
        ("message-id", Self::Mail(MailClaim::Recorded)),
        ("triggers", Self::Once(Step::TriggerWrite)),
        ("failed", Self::Once(Step::EffectFailure)),
        ("problem", Self::Once(Step::SlaNote)),
        ("suppressed", Self::Once(Step::Suppression)),
        ("attachments", Self::Once(Step::Attachments)),
        ("link", Self::Once(Step::FollowUpLink)),
    ];

    /// The stored form (a mail's content digest after `#`).
    pub fn as_stored(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Payload(hash) => std::borrow::Cow::Borrowed(hash),
            Self::MailContent(how, digest) => {
                std::borrow::Cow::Owned(format!("{}#{digest}", Self::name_of(&Self::Mail(*how))))
            }
            other => std::borrow::Cow::Borrowed(Self::name_of(other)),
        }
    }

    fn name_of(purpose: &ClaimPurpose) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, named)| named == purpose)
            .map_or("", |(name, _)| name)
    }

    /// How a mail came to its ticket, for a mail's claim.
    pub fn mail_claim(&self) -> Option<MailClaim> {
        match self {
            Self::Mail(how) | Self::MailContent(how, _) => Some(*how),
            _ => None,
        }
    }
}

impl From<String> for ClaimPurpose {
    fn from(stored: String) -> Self {
        let named = |name: &str| {
            Self::NAMES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, purpose)| purpose.clone())
        };
        if let Some((name, digest)) = stored.split_once('#')
            && let Some(Self::Mail(how)) = named(name)
        {
            return Self::MailContent(how, digest.to_owned());
        }
        named(&stored).unwrap_or(Self::Payload(stored))
    }
}

impl From<ClaimPurpose> for String {
    fn from(purpose: ClaimPurpose) -> Self {
        purpose.as_stored().into_owned()
    }
}

/// A stored idempotency record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The claim's key.
    pub key: String,
    /// The claim's purpose (stored under its old name).
    #[serde(rename = "payload_hash")]
    pub purpose: ClaimPurpose,
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

/// Which tickets to list: one page of one queue's tickets, newest first
/// (creation time, then number), optionally of one assignee (or the
/// unassigned ones) and one status. Every combination is one range of an
/// index on both stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketQuery {
    /// The queue (listing is always per queue, so no read spans the table).
    pub queue: QueueKey,
    /// At most this many.
    pub limit: usize,
    /// Only the tickets of this assignee (`Some(None)`: unassigned ones).
    pub assignee: Option<Option<String>>,
    /// Only the tickets in this status.
    pub status: Option<String>,
    /// Only tickets listed after this one (the last of the previous page).
    pub after: Option<ListPosition>,
}

impl TicketQuery {
    /// The newest `limit` tickets of `queue`, unfiltered.
    pub fn newest(queue: QueueKey, limit: usize) -> Self {
        Self {
            queue,
            limit,
            assignee: None,
            status: None,
            after: None,
        }
    }
}

/// One page of a listing of the listing index ([`listing`]): one range of
/// one partition, in sort key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingQuery {
    /// The queue.
    pub queue: QueueKey,
    /// Which listing.
    pub listing: listing::Listing,
    /// Lowest sort key first (oldest, least urgent, nearest deadline);
    /// otherwise highest first.
    pub ascending: bool,
    /// Only entries past this sort key in the reading order (the previous
    /// page's last).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// What [`TicketStore::count_tickets`] counts in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// The tickets of a listing of the listing index.
    Listing(listing::Listing),
    /// The tickets in a status.
    Status(String),
}

/// A keyword search across queues: the tickets whose text has every word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The queues to search.
    pub queues: Vec<QueueKey>,
    /// The words (each at least one letter or digit).
    pub words: Vec<String>,
    /// Where the previous page ended (the store's own opaque cursor).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// A page of search results: newest first, and where the next begins.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The tickets.
    pub tickets: Vec<Ticket>,
    /// The cursor of the next page, when more may follow.
    pub next: Option<String>,
}

/// A ticket's place in a listing: newer first, then higher number first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListPosition {
    /// When the ticket was created.
    pub created_at: DateTime<Utc>,
    /// Its number in its queue.
    pub number: u64,
}

impl ListPosition {
    /// The position of `ticket`.
    pub fn of(ticket: &Ticket) -> Self {
        Self {
            created_at: ticket.created_at,
            number: ticket.key.number(),
        }
    }
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
    #[error("store unavailable: {what}")]
    Unavailable {
        /// What failed, as one line.
        what: String,
        /// The backend's own error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Stored data could not be read back; retrying cannot help.
    #[error("stored data is corrupt: {what}")]
    Corrupt {
        /// What could not be read, and where.
        what: String,
        /// The decoder's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other backend failure (a refused request, an item too large);
    /// retrying the same request cannot help.
    #[error("store failure: {what}")]
    Backend {
        /// What failed, as one line.
        what: String,
        /// The backend's own error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// A backend's error, kept as the source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::VersionConflict { .. }
        )
    }

    /// An unavailable backend, without a source error.
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: None,
        }
    }

    /// Corrupt stored data, without a source error.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    /// Corrupt stored data, with the decoder's error.
    pub fn corrupt_from(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// A backend failure, without a source error.
    pub fn backend(what: impl Into<String>) -> Self {
        Self::Backend {
            what: what.into(),
            source: None,
        }
    }

    /// A backend failure, with the backend's error.
    pub fn backend_from(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            what: what.into(),
            source: Some(source.into()),
        }
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

/// Tickets: the ticket record itself, written with optimistic locking,
/// and the reads agents and automation make of tickets.
#[async_trait]
pub trait TicketStore: Send + Sync {
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

    /// One page of a queue's tickets as `query` says, newest first; one
    /// range read of an index.
    async fn list_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, StoreError>;

    /// One page of a listing of the listing index; one range read.
    async fn list_listing(&self, query: &ListingQuery) -> Result<Vec<Ticket>, StoreError>;

    /// How many tickets of `queue` a listing or a status has: counted in
    /// the index (SQLite) or by a count-only Query of its partition
    /// (DynamoDB), never by reading tickets.
    async fn count_tickets(&self, queue: &QueueKey, counted: &Counted) -> Result<u64, StoreError>;

    /// A page of the tickets of `query`'s queues whose text has every
    /// word: SQLite's full-text index of the summary, description,
    /// requester and messages; on DynamoDB the words of the summary.
    async fn search_tickets(&self, query: &SearchQuery) -> Result<SearchPage, StoreError>;

    /// How many tickets of `queue` are assigned to `assignee` and have one
    /// of `statuses` (the statuses that count as "in work"). Reads an index,
    /// never the whole queue.
    async fn count_assigned(
        &self,
        queue: &QueueKey,
        assignee: &str,
        statuses: &[String],
    ) -> Result<u64, StoreError>;
}

/// Timelines: the entries written with ticket versions (see
/// [`crate::domain::ticket::entry_seq`]), read whole or by version range.
#[async_trait]
pub trait TimelineStore: Send + Sync {
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

    /// Up to `limit` of a ticket's newest timeline entries whose sequence
    /// number is below `before` (all when `None`), newest first: the page
    /// a person reads, whatever the timeline's length. One range read.
    async fn timeline_page(
        &self,
        key: &TicketKey,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, StoreError>;
}

/// Contacts and the addresses they own (an address has one owner).
#[async_trait]
pub trait ContactStore: Send + Sync {
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
}

/// Claims and markers: what makes a step happen once. Idempotency claims
/// are written with the ticket write they belong to (see [`TicketStore`]);
/// markers stand alone. Their keys come from [`keys`].
#[async_trait]
pub trait ClaimStore: Send + Sync {
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
}

/// Atomic counters: ticket keys per queue, and counters over windows.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Allocates the next ticket key in `queue`.
    async fn allocate_ticket_key(&self, queue: &QueueKey) -> Result<TicketKey, StoreError>;

    /// Adds one to the counter `key` (created at zero) and answers the new
    /// value; used for rate limits over fixed windows. The counter may be
    /// forgotten after `expires_at`.
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// The SLA due index, kept by every ticket write.
#[async_trait]
pub trait SlaDueIndex: Send + Sync {
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
}

/// The mail log: messages that did not become part of a ticket.
#[async_trait]
pub trait MailLogStore: Send + Sync {
    /// Writes `entry` under its id, replacing an earlier one (a release
    /// writes the entry again with its ticket).
    async fn log_mail(&self, entry: &MailLogEntry) -> Result<(), StoreError>;

    /// The entry of the message known as `id`.
    async fn mail_log_entry(&self, id: &str) -> Result<Option<MailLogEntry>, StoreError>;

    /// Entries from `query.since` to `query.until`, newest first, at most
    /// `query.limit`, of `query.outcome` when given.
    async fn mail_log(&self, query: &MailLogQuery) -> Result<Vec<MailLogEntry>, StoreError>;
}

/// Agents' credentials: personal API tokens (by hash) and console
/// passwords (PHC strings). Secrets in, never secrets out: the store holds
/// nothing from which a token or a password could be read back.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a new token; [`StoreError::AlreadyExists`] when its agent
    /// has a token with that label already (revoke that one first).
    async fn add_api_token(&self, token: &ApiToken) -> Result<(), StoreError>;

    /// The token with this hash, when it exists and is not revoked.
    async fn api_token(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError>;

    /// Agent `login`'s tokens, by label.
    async fn api_tokens_of(&self, login: &str) -> Result<Vec<ApiToken>, StoreError>;

    /// Removes agent `login`'s token `label`; answers whether there was one.
    async fn revoke_api_token(&self, login: &str, label: &str) -> Result<bool, StoreError>;

    /// Sets (or replaces) agent `login`'s password hash.
    async fn set_password_hash(
        &self,
        login: &str,
        phc: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Agent `login`'s password hash, when one is set.
    async fn password_hash(&self, login: &str) -> Result<Option<String>, StoreError>;
}

/// One counter of a queue's report rollups: its class (what a report
/// reads it for), its day, its key (as text) and its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Counter {
    /// What reports read it for (`created:all`, `response`, ...).
    pub class: String,
    /// The day it counts on.
    pub day: chrono::NaiveDate,
    /// What it counts, as text.
    pub key: String,
    /// Its value.
    pub n: i64,
}

/// One day of one class of a queue's rollups, as read: its counters as
/// lines of `<n>\t<key>` (a key holds no tab or line break), left as text
/// so that a reader decodes only what it uses, where it likes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupDay {
    /// The class.
    pub class: String,
    /// The day.
    pub day: chrono::NaiveDate,
    /// The counters, a line each.
    pub lines: String,
}

impl RollupDay {
    /// Each counter's key and value.
    pub fn entries(&self) -> impl Iterator<Item = Result<(&str, i64), StoreError>> + '_ {
        self.lines.lines().map(|line| {
            line.split_once('\t')
                .and_then(|(n, key)| Some((key, n.parse().ok()?)))
                .ok_or_else(|| StoreError::corrupt(format!("a rollup line {line:?}")))
        })
    }

    /// The counters of `days`.
    pub fn counters(days: &[Self]) -> Result<Vec<Counter>, StoreError> {
        let mut out = Vec::new();
        for day in days {
            for entry in day.entries() {
                let (key, n) = entry?;
                out.push(Counter {
                    class: day.class.clone(),
                    day: day.day,
                    key: key.to_owned(),
                    n,
                });
            }
        }
        Ok(out)
    }
}

/// What must be added to rollups that hold `old` so that they hold `new`
/// instead (zero differences left out), sorted.
pub fn counter_difference(old: &[Counter], new: &[Counter]) -> Vec<Counter> {
    let mut sums: std::collections::BTreeMap<(&str, chrono::NaiveDate, &str), i64> =
        std::collections::BTreeMap::new();
    for (counters, sign) in [(old, -1), (new, 1)] {
        for c in counters {
            *sums.entry((&c.class, c.day, &c.key)).or_insert(0) += sign * c.n;
        }
    }
    sums.into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((class, day, key), n)| Counter {
            class: class.to_owned(),
            day,
            key: key.to_owned(),
            n,
        })
        .collect()
}

/// Report rollups: per queue, counters by class, day and key, kept as the
/// sum of the counters kept for each of its tickets.
#[async_trait]
pub trait RollupStore: Send + Sync {
    /// Keeps `counters` as ticket `ticket`'s (of `queue`), adding their
    /// difference from those kept for it before to the queue's rollups, in
    /// one atomic write; answers how many counters differed (0: they were
    /// kept already, nothing is written).
    async fn keep_counters(
        &self,
        queue: &QueueKey,
        ticket: &TicketKey,
        counters: &[Counter],
    ) -> Result<usize, StoreError>;

    /// `queue`'s rollups in `classes` on days up to `to` (counters at zero
    /// may be left out; a day may come in several parts).
    async fn rollups(
        &self,
        queue: &QueueKey,
        classes: &[String],
        to: chrono::NaiveDate,
    ) -> Result<Vec<RollupDay>, StoreError>;

    /// Adds `counters` to `queue`'s rollups without changing what is kept
    /// for any ticket: a repair, after rollups and kept counters drifted.
    async fn adjust_rollups(
        &self,
        queue: &QueueKey,
        counters: &[Counter],
    ) -> Result<(), StoreError>;
}

/// Whether a store keeps its own change feed.
pub trait ChangeFeedSource: Send + Sync {
    /// The store's own change feed, when it has one (SQLite). DynamoDB has
    /// none: its stream invokes the trigger function instead.
    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        None
    }
}

/// Every capability at once: what the wiring holds and hands out. Use cases
/// take the capabilities they use (`&dyn TicketStore`, `&dyn ClaimStore`,
/// ...); a `&dyn Store` turns into any of them.
pub trait Store:
    TicketStore
    + TimelineStore
    + ContactStore
    + ClaimStore
    + CounterStore
    + SlaDueIndex
    + MailLogStore
    + CredentialStore
    + RollupStore
    + ChangeFeedSource
{
}

impl<T> Store for T where
    T: TicketStore
        + TimelineStore
        + ContactStore
        + ClaimStore
        + CounterStore
        + SlaDueIndex
        + MailLogStore
        + CredentialStore
        + RollupStore
        + ChangeFeedSource
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_purposes_are_stored_under_the_names_earlier_versions_wrote() {
        for (stored, purpose) in [
            (
                "message-id:new-ticket",
                ClaimPurpose::Mail(MailClaim::OpenedTicket),
            ),
            ("message-id", ClaimPurpose::Mail(MailClaim::Recorded)),
            ("triggers", ClaimPurpose::Once(Step::TriggerWrite)),
            ("failed", ClaimPurpose::Once(Step::EffectFailure)),
            ("problem", ClaimPurpose::Once(Step::SlaNote)),
            ("suppressed", ClaimPurpose::Once(Step::Suppression)),
            ("attachments", ClaimPurpose::Once(Step::Attachments)),
            ("link", ClaimPurpose::Once(Step::FollowUpLink)),
            (
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ClaimPurpose::Payload(
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                ),
            ),
        ] {
            assert_eq!(ClaimPurpose::from(stored.to_owned()), purpose);
            assert_eq!(purpose.as_stored(), stored);
        }
        let with_content = ClaimPurpose::MailContent(MailClaim::OpenedTicket, "ab12".into());
        assert_eq!(with_content.as_stored(), "message-id:new-ticket#ab12");
        assert_eq!(
            ClaimPurpose::from("message-id:new-ticket#ab12".to_owned()),
            with_content
        );
        assert_eq!(
            ClaimPurpose::from("message-id#ab12".to_owned()),
            ClaimPurpose::MailContent(MailClaim::Recorded, "ab12".into())
        );
        let record: IdempotencyRecord = serde_json::from_value(serde_json::json!({
            "key": "msgid:a@b", "payload_hash": "message-id:new-ticket",
            "ticket": "SUP-1", "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.purpose, ClaimPurpose::Mail(MailClaim::OpenedTicket));
        let json = serde_json::to_value(&record).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["payload_hash"], "message-id:new-ticket");
    }
}
