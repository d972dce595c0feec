//! The DynamoDB store: one table with a stream, no Scan anywhere.
//!
//! # Key design
//!
//! Every item has `pk` and `sk` (both strings) and an `item_type`
//! attribute, so a stream filter can select tickets and timeline entries
//! (and leave out markers and counters, which change often).
//! Domain values are stored as top-level attributes (through
//! `serde_dynamo`), not as opaque blobs.
//!
//! | item | `pk` | `sk` | index keys | other attributes |
//! |---|---|---|---|---|
//! | ticket (`ticket`) | `TICKET#SUP-17` | `TICKET` | `gsi1pk` = `QUEUE#SUP`, `gsi1sk` = `2025-03-14T09:26:53.589793000Z#00000000000000000017` (creation time with 9 fraction digits, then the number padded to 20 digits); `gsi2pk` = `ASSIGNEE#SUP#<login>` (or `UNASSIGNED#SUP`), `gsi2sk` = `<status>#<gsi1sk>`; `gsi4pk` = the same as `gsi2pk`, `gsi4sk` = the same as `gsi1sk` | the ticket's fields, incl. `version` |
//! | listing (`listing`) | `TICKET#SUP-17` | `LISTING` | `gsi4pk` = `STATUS#SUP#<status>`, `gsi4sk` = the ticket's `gsi1sk` | none: the ticket's place in the status listing, written with every version |
//! | timeline entry (`timeline`) | `TICKET#SUP-17` | `TL#<seq padded to 20 digits>` | | the entry's fields |
//! | ticket counter (`counter`) | `COUNTER#SUP` | `COUNTER` | | `next` |
//! | contact (`contact`) | `CONTACT#<id>` | `CONTACT` | | the contact's fields, incl. `emails` |
//! | email owner (`email`) | `EMAIL#<normalised address>` | `EMAIL` | | `email`, `contact_id` |
//! | idempotency record (`idempotency`) | `IDEM#<key>` | `IDEM` | | `key`, `payload_hash`, `ticket` (the ticket the claiming create or update wrote), `created_at` (the ticket's `created_at` for a create, its `updated_at` for an update), `expires_at` (epoch seconds, the table's TTL attribute) |
//! | marker (`marker`) | `MARK#<key>` | `MARK` | | `value`, `expires_at` (epoch seconds, only when given) |
//! | named counter (`counter`) | `COUNT#<key>` | `COUNT` | | `n`, `expires_at` (epoch seconds) |
//! | credentials (`credential`) | `TOKEN#<hash>`, `AGENT#<login>` | `TOKEN`, `TOKEN#<label>`, `PASSWORD` | | see `credentials.rs` |
//!
//! `gsi3` is the SLA due index, sparse too: a ticket item carries
//! `gsi3pk` = `SLADUE#<shard>` (shard = FNV-1a of the key modulo 8) and
//! `gsi3sk` = `<due in epoch microseconds, 20 digits>#SUP-17` only while one of its
//! timers runs with a warning or breach still to record; the checker
//! queries the 8 partitions for `gsi3sk <= <now, same format>#~`.
//!
//! `gsi2` holds every ticket under its assignee (or its queue's unassigned
//! partition), by status then age; `gsi4` holds every ticket twice, under
//! its assignee (the ticket item) and under its status (its listing item),
//! by age; see `listing.rs` for the range each listing reads. Every ticket
//! write puts the whole ticket item and its listing item, so a change of
//! status or assignee moves the ticket in every index. (Items written
//! before `gsi4` existed enter it at their next write.) (A status containing `#` would
//! make the `begins_with` ranges of two statuses overlap; statuses are
//! configured names without one.)
//!
//! The table: `pk` S (hash) / `sk` S (range); global secondary index `gsi1`
//! on `gsi1pk` S / `gsi1sk` S with projection ALL; global secondary index
//! `gsi2` on `gsi2pk` S / `gsi2sk` S with projection KEYS_ONLY; `gsi3` on
//! `gsi3pk` S / `gsi3sk` S with projection KEYS_ONLY; `gsi4` on `gsi4pk` S
//! / `gsi4sk` S with projection KEYS_ONLY;
//! PAY_PER_REQUEST; stream NEW_AND_OLD_IMAGES; TTL on `expires_at`.
//! [`DynamoStore::create_table`] creates exactly this.
//!
//! # Access patterns
//!
//! | operation | requests |
//! |---|---|
//! | allocate a ticket key | UpdateItem `ADD next :one` on the counter, `UPDATED_NEW` |
//! | create a ticket | one consistent GetItem per idempotency claim (sent together; an existing record answers `Replayed` or `IdempotencyMismatch` and nothing is written), then one TransactWriteItems: Put ticket `attribute_not_exists(pk)`, Put its listing item, Put each entry, Put each listing index entry (`entries.rs`), Put each claim's record `attribute_not_exists(pk)` |
//! | update a ticket | one consistent GetItem per claim (as for a create, before the version is looked at), one consistent GetItem of the stored ticket (the listing index entries it leaves; a version other than the expected one answers `VersionConflict` at once), then one TransactWriteItems: Put ticket `version = :expected`, Put its listing item, Put each entry, Put each listing index entry added or moved and Delete each one left, Put each claim's record `attribute_not_exists(pk)` |
//! | read a ticket / contact / idempotency record / marker | consistent GetItem |
//! | put a marker | PutItem `attribute_not_exists(pk)` with `ReturnValuesOnConditionCheckFailure=ALL_OLD` (the old item answers the stored value; a GetItem only when it is missing) |
//! | delete a marker | DeleteItem |
//! | increment a counter | UpdateItem `ADD n :one SET expires_at = :exp`, `UPDATED_NEW` |
//! | timeline | consistent Query `pk = TICKET#..` and `begins_with(sk, "TL#")`, ascending |
//! | entries of one ticket version | consistent Query `pk = TICKET#..` and `sk BETWEEN TL#<v*1000> AND TL#<v*1000+999>` (padded), ascending |
//! | entries after a version | consistent Query `pk = TICKET#..` and `sk >= TL#<(v+1)*1000>` (padded), ascending |
//! | tickets due for the SLA checker | per shard (8, sent together): Query `gsi3` on `gsi3pk = SLADUE#<n>` and `gsi3sk <= <until>#~`, ascending, up to the limit (eventually consistent; the checker reads each ticket consistently) |
//! | list a queue | Query `gsi1` on `gsi1pk = QUEUE#..`, descending, below the cursor, until the limit (eventually consistent) |
//! | list a queue by status, by assignee, or both | Query `gsi4` (or `gsi2` for both), descending, below the cursor, until the limit, then one consistent BatchGetItem per 100 tickets (`listing.rs`) |
//! | list a listing of the listing index (open tickets in an order, a holder's open tickets, a facet value, all by last change) | Query `gsi4` on the partition, in the order asked, past the cursor, until the limit, then one consistent BatchGetItem per 100 tickets (`entries.rs`) |
//! | search words | per queue: Query `gsi4` on the first word's partition (`W#<queue>#<word>`), descending, past the cursor, one more than the page, then one consistent BatchGetItem; the other words are checked on the tickets' summaries |
//! | count a view or a status | Query `gsi4` on its partition, `Select=COUNT`, every page (eventually consistent) |
//! | count a queue's tickets assigned to an agent | per distinct status (sent together): Query `gsi2` on `gsi2pk = ASSIGNEE#<queue>#<login>` and `begins_with(gsi2sk, "<status>#")`, `Select=COUNT`, every page (eventually consistent) |
//! | find a contact by email | GetItem on the email item, then on the contact |
//! | create a contact | TransactWriteItems: Put contact and one email item per address, all `attribute_not_exists(pk)` |
//! | add an email to a contact | TransactWriteItems: Put email item `attribute_not_exists(pk)`, Update contact `list_append` with `attribute_exists(pk)` |
//! | log a mail not accepted | PutItem `MAILLOG#mail:<id>` (replacing: a release writes it again) |
//! | a mail log entry | consistent GetItem |
//! | list the mail log | per day from the newest: Query `gsi1` on `gsi1pk = MAILLOG#<date>` and `gsi1sk` between the bounds, descending, until the limit (eventually consistent) |
//!
//! A ticket write is one transaction of at most 100 items: the ticket, its
//! entries, its listing index changes and its claims; a larger one is refused before anything is
//! sent, as is an item over DynamoDB's 400 KB (both permanent errors: the
//! use cases keep items within [`crate::domain::bounds`], so either means a
//! bound is missing, not that trying again would help). When a transaction is cancelled because a claim's record appeared
//! meanwhile, the record (the old item the cancellation returns, or a
//! consistent read) answers as the pre-check would have.
//!
//! A transaction cancelled by a `TransactionConflict` (another transaction
//! touching the same item) is retried a few times with backoff: nothing of
//! it was applied and its conditions are evaluated afresh. Every transaction
//! carries a fresh `ClientRequestToken`, so when the SDK resends it after a
//! timeout, a write that did land is answered as a success instead of
//! failing its own `attribute_not_exists` condition.

mod credentials;
mod entries;
mod errors;
mod items;
mod keys;
mod listing;
mod mail_log;
mod rollups;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, StreamSpecification,
    StreamViewType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
    Update,
};
use chrono::{DateTime, Utc};

use self::errors::{is_retryable_code, sdk_error};
use self::items::{Item, s};
use super::listing::ListingRules;
use super::{
    ChangeFeedSource, ClaimStore, ContactStore, Counted, CounterStore, DueTicket, IdempotencyClaim,
    IdempotencyRecord, ListingQuery, SearchPage, SearchQuery, SlaDueIndex, StoreError, TicketQuery,
    TicketStore, TimelineStore, Written,
};
use crate::domain::{Contact, ContactId, EmailAddress, QueueKey, Ticket, TicketKey, TimelineEntry};

/// The most items one TransactWriteItems call may hold.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// How often a transaction cancelled by a conflict is tried again.
const MAX_CONFLICT_RETRIES: u32 = 5;
/// How long [`DynamoStore::create_table`] waits for the table to become active.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
/// The cancellation reason of a failed condition.
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";
/// The condition that makes a Put create, never overwrite.
const IF_NEW: &str = "attribute_not_exists(pk)";
/// How often a marker put is tried when the marker that blocked it is gone
/// before it could be read.
const MAX_MARKER_ATTEMPTS: u32 = 3;

/// How many requests of each kind a [`DynamoStore`] has sent (SDK-internal
/// retries not included), for benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// GetItem calls.
    pub get_item: u64,
    /// Query calls (pages count one each).
    pub query: u64,
    /// PutItem calls.
    pub put_item: u64,
    /// UpdateItem calls.
    pub update_item: u64,
    /// DeleteItem calls.
    pub delete_item: u64,
    /// TransactWriteItems calls (a retried transaction counts again).
    pub transact_write_items: u64,
    /// BatchGetItem calls (a retry of unprocessed keys counts again).
    pub batch_get_item: u64,
    /// Table administration calls (CreateTable, DescribeTable, TTL).
    pub admin: u64,
    /// Items returned by SLA due index queries.
    pub due_index_items: u64,
}

impl RequestCounts {
    /// All requests together.
    pub fn total(&self) -> u64 {
        self.get_item
            + self.query
            + self.put_item
            + self.update_item
            + self.delete_item
            + self.transact_write_items
            + self.batch_get_item
            + self.admin
    }
}

#[derive(Debug, Default)]
struct Counters {
    get_item: AtomicU64,
    query: AtomicU64,
    put_item: AtomicU64,
    update_item: AtomicU64,
    delete_item: AtomicU64,
    transact_write_items: AtomicU64,
    batch_get_item: AtomicU64,
    admin: AtomicU64,
    items_read: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A [`Store`] over one DynamoDB table laid out as the module docs describe.
/// Cloning is cheap and clones share the request counters.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    counters: Arc<Counters>,
    /// Held while a request is in flight, when requests go one at a time.
    gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// What the listing index's entries need beyond the ticket.
    rules: Arc<ListingRules>,
}

/// What a transaction did.
enum Transaction {
    Committed,
    /// Cancelled by a failed condition; one reason per item, in order.
    Cancelled(Vec<CancellationReason>),
}

/// Whether the item at `index` of a cancelled transaction failed its condition.
fn condition_failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(CancellationReason::code) == Some(CONDITIONAL_CHECK_FAILED)
}

/// The old item a failed condition returned, if any.
fn old_item(
    reasons: &[CancellationReason],
    index: usize,
) -> Option<&HashMap<String, AttributeValue>> {
    reasons.get(index).and_then(CancellationReason::item)
}

fn reason_codes(reasons: &[CancellationReason]) -> String {
    reasons
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn build_error(err: BuildError) -> StoreError {
    StoreError::backend_from(format!("cannot build DynamoDB request: {err}"), err)
}

/// Backoff before retry `attempt` (1-based) of a conflicting transaction:
/// exponential from 10 ms with jitter.
fn conflict_backoff(attempt: u32) -> Duration {
    let base = 10_u64 << attempt.min(6);
    let jitter = (uuid::Uuid::new_v4().as_u128() % u128::from(base)) as u64;
    Duration::from_millis(base + jitter)
}

/// The answer to a write whose idempotency key was used before.
fn replay_or_mismatch(
    claim: &IdempotencyClaim,
    record: IdempotencyRecord,
) -> Result<Written, StoreError> {
    if record.purpose == claim.purpose {
        Ok(Written::Replayed(record.ticket))
    } else {
        Err(StoreError::IdempotencyMismatch {
            key: claim.key.clone(),
        })
    }
}

/// The claims of one write, refused when one key is named twice (a
/// transaction may not touch one item twice; the SQLite store refuses it by
/// its unique key).
fn distinct_claims(claims: &[IdempotencyClaim]) -> Result<Vec<&IdempotencyClaim>, StoreError> {
    let mut seen = BTreeSet::new();
    for claim in claims {
        if !seen.insert(claim.key.as_str()) {
            return Err(StoreError::backend(format!(
                "idempotency key {:?} is claimed twice in one write",
                claim.key
            )));
        }
    }
    Ok(claims.iter().collect())
}

/// Refuses a ticket write that cannot fit in one transaction: the ticket,
/// its entries and its claims.
fn check_transaction_size(
    ticket: &TicketKey,
    entries: &[TimelineEntry],
    claims: &[&IdempotencyClaim],
    listing_writes: usize,
) -> Result<(), StoreError> {
    // The ticket, its listing item, its entries, its claims and the
    // listing index's changes.
    let items = 2 + entries.len() + claims.len() + listing_writes;
    if items > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::backend(format!(
            "writing ticket {ticket} with {} timeline entries, {} idempotency claims and {listing_writes} listing index changes takes {items} items; one DynamoDB transaction holds at most {MAX_TRANSACTION_ITEMS}",
            entries.len(),
            claims.len()
        )));
    }
    Ok(())
}

fn check_entries(ticket: &TicketKey, entries: &[TimelineEntry]) -> Result<(), StoreError> {
    match entries.iter().find(|e| &e.ticket != ticket) {
        Some(stray) => Err(StoreError::backend(format!(
            "timeline entry {} names ticket {} but is written with {ticket}",
            stray.seq, stray.ticket
        ))),
        None => Ok(()),
    }
}

/// A client for a local DynamoDB-compatible server (such as moto's) at
/// `endpoint`, e.g. `http://127.0.0.1:5055`: region `us-east-1` and static
/// dummy credentials, nothing read from the environment or profiles.
pub async fn local_client(endpoint: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    Client::new(&config)
}

impl DynamoStore {
    /// A store over `table`, which must have the layout of the module docs
    /// (see [`DynamoStore::create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            counters: Arc::default(),
            gate: None,
            rules: Arc::new(ListingRules::default()),
        }
    }

    /// This store, keeping the listing index by `rules` (the
    /// configuration's priority levels).
    #[must_use]
    pub fn with_listing_rules(mut self, rules: ListingRules) -> Self {
        self.rules = Arc::new(rules);
        self
    }

    /// This store, sending its requests (and those of its clones) one at a
    /// time. Meant for moto's server, which runs each request on its own
    /// thread without locking, so concurrent conditional writes, counter
    /// updates or transactions on one table interleave inside the server and
    /// lose writes or fail with HTTP 500. DynamoDB applies every request
    /// atomically, which this restores; races between requests (a read, then
    /// a conditional write) still happen as they would on DynamoDB.
    pub fn one_request_at_a_time(mut self) -> Self {
        self.gate = Some(Arc::default());
        self
    }

    /// Counts a request of one kind and waits for its turn to send it.
    async fn turn(&self, counter: &AtomicU64) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        bump(counter);
        match &self.gate {
            Some(gate) => Some(Arc::clone(gate).lock_owned().await),
            None => None,
        }
    }

    /// A ticket's timeline entries whose sort key meets `sk_condition`
    /// (with its `values`), in order: a consistent Query, paginated.
    async fn query_timeline(
        &self,
        key: &TicketKey,
        sk_condition: &str,
        values: &[(&str, String)],
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        self.query_timeline_page(key, sk_condition, values, true, None)
            .await
    }

    /// The timeline entries of `key` whose sort key meets `sk_condition`,
    /// oldest first (`forward`) or newest first, at most `limit` of them.
    async fn query_timeline_page(
        &self,
        key: &TicketKey,
        sk_condition: &str,
        values: &[(&str, String)],
        forward: bool,
        limit: Option<usize>,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let turn = self.turn(&self.counters.query).await;
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("pk = :pk AND {sk_condition}"))
                .expression_attribute_values(":pk", s(keys::ticket_pk(key)));
            for (name, value) in values {
                query = query.expression_attribute_values(*name, s(value.clone()));
            }
            if let Some(limit) = limit {
                let left = limit.saturating_sub(entries.len());
                query = query.limit(i32::try_from(left).unwrap_or(i32::MAX));
            }
            let out = query
                .consistent_read(true)
                .scan_index_forward(forward)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            for item in out.items.unwrap_or_default() {
                entries.push(items::timeline_from_item(item)?);
            }
            start = out.last_evaluated_key;
            let full = limit.is_some_and(|limit| entries.len() >= limit);
            if start.is_none() || full {
                if let Some(limit) = limit {
                    entries.truncate(limit);
                }
                return Ok(entries);
            }
        }
    }

    /// Up to `limit` tickets of one SLA due partition whose sort key is at
    /// most `bound`, earliest first.
    async fn due_in_shard(
        &self,
        shard: u32,
        bound: &str,
        limit: usize,
    ) -> Result<Vec<DueTicket>, StoreError> {
        let mut due = Vec::new();
        let mut start = None;
        while due.len() < limit {
            let page = i32::try_from(limit - due.len()).unwrap_or(i32::MAX);
            let turn = self.turn(&self.counters.query).await;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI3)
                .key_condition_expression("#pk = :pk AND #sk <= :until")
                .expression_attribute_names("#pk", keys::GSI3PK)
                .expression_attribute_names("#sk", keys::GSI3SK)
                .expression_attribute_values(":pk", s(keys::sla_due_gsi3pk(shard)))
                .expression_attribute_values(":until", s(bound))
                .scan_index_forward(true)
                .limit(page)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            self.counters.items_read.fetch_add(
                u64::try_from(out.items().len()).unwrap_or(0),
                Ordering::Relaxed,
            );
            for item in out.items.unwrap_or_default() {
                let sk = match item.get(keys::GSI3SK) {
                    Some(AttributeValue::S(sk)) => sk.clone(),
                    _ => {
                        return Err(StoreError::corrupt("a due index item without gsi3sk"));
                    }
                };
                let (at, key) = keys::parse_sla_due_gsi3sk(&sk)
                    .ok_or_else(|| StoreError::corrupt(format!("due index key {sk:?}")))?;
                due.push(DueTicket { key, due: at });
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(due)
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Requests sent so far by this store and its clones.
    pub fn request_counts(&self) -> RequestCounts {
        let c = &self.counters;
        RequestCounts {
            get_item: c.get_item.load(Ordering::Relaxed),
            query: c.query.load(Ordering::Relaxed),
            put_item: c.put_item.load(Ordering::Relaxed),
            update_item: c.update_item.load(Ordering::Relaxed),
            delete_item: c.delete_item.load(Ordering::Relaxed),
            transact_write_items: c.transact_write_items.load(Ordering::Relaxed),
            batch_get_item: c.batch_get_item.load(Ordering::Relaxed),
            admin: c.admin.load(Ordering::Relaxed),
            due_index_items: c.items_read.load(Ordering::Relaxed),
        }
    }

    /// Creates the table as `infra/template.yaml` declares it (keys, the
    /// `gsi1` to `gsi4` indexes, on-demand billing, the stream, TTL on `expires_at`) and
    /// waits until it is active. Does nothing to a table that exists already
    /// (its layout is not checked) except enabling TTL when it is off.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let indexes = Self::table_indexes()?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(build_error)?;
        let turn = self.turn(&self.counters.admin).await;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .set_attribute_definitions(Some(Self::table_attributes()?))
            .key_schema(Self::key_element(keys::PK, KeyType::Hash)?)
            .key_schema(Self::key_element(keys::SK, KeyType::Range)?)
            .set_global_secondary_indexes(Some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(stream)
            .send()
            .await;
        drop(turn);
        match created {
            Ok(_) => tracing::info!(table = %self.table, "created DynamoDB table"),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) =>
            {
                tracing::debug!(table = %self.table, "DynamoDB table exists already");
            }
            Err(err) => return Err(sdk_error("CreateTable", err)),
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    /// The table's attribute definitions: the table's and the indexes' keys,
    /// all strings.
    fn table_attributes() -> Result<Vec<AttributeDefinition>, StoreError> {
        [
            keys::PK,
            keys::SK,
            keys::GSI1PK,
            keys::GSI1SK,
            keys::GSI2PK,
            keys::GSI2SK,
            keys::GSI3PK,
            keys::GSI3SK,
            keys::GSI4PK,
            keys::GSI4SK,
        ]
        .into_iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        })
        .collect()
    }

    /// One key schema element: `name` as the hash or the range key.
    fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(build_error)
    }

    /// The indexes `gsi1` (projecting everything), `gsi2`, `gsi3` and
    /// `gsi4` (projecting keys only).
    fn table_indexes() -> Result<Vec<GlobalSecondaryIndex>, StoreError> {
        use ProjectionType::{All, KeysOnly};
        Ok(vec![
            Self::index(keys::GSI1, keys::GSI1PK, keys::GSI1SK, All)?,
            Self::index(keys::GSI2, keys::GSI2PK, keys::GSI2SK, KeysOnly)?,
            Self::index(keys::GSI3, keys::GSI3PK, keys::GSI3SK, KeysOnly)?,
            Self::index(keys::GSI4, keys::GSI4PK, keys::GSI4SK, KeysOnly)?,
        ])
    }

    /// A global secondary index `name` on `pk` (hash) and `sk` (range).
    fn index(
        name: &str,
        pk: &str,
        sk: &str,
        projection: ProjectionType,
    ) -> Result<GlobalSecondaryIndex, StoreError> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(Self::key_element(pk, KeyType::Hash)?)
            .key_schema(Self::key_element(sk, KeyType::Range)?)
            .projection(Projection::builder().projection_type(projection).build())
            .build()
            .map_err(build_error)
    }

    async fn wait_until_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            let turn = self.turn(&self.counters.admin).await;
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTable", e))?;
            drop(turn);
            let table = described.table();
            let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
            let indexes_active = table.is_some_and(|t| {
                t.global_secondary_indexes().iter().all(|i| {
                    i.index_status()
                        .is_none_or(|status| status == &IndexStatus::Active)
                })
            });
            if table_active && indexes_active {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::unavailable(format!(
                    "table {} is not active after {} s",
                    self.table,
                    TABLE_ACTIVE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let turn = self.turn(&self.counters.admin).await;
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTimeToLive", e))?;
        drop(turn);
        let status = described
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(keys::EXPIRES_AT)
            .build()
            .map_err(build_error)?;
        let turn = self.turn(&self.counters.admin).await;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
        drop(turn);
        Ok(())
    }

    /// A consistent read of one item.
    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let turn = self.turn(&self.counters.get_item).await;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(items::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        drop(turn);
        Ok(out.item)
    }

    /// Puts `item` as it is (replacing one under its key), after checking
    /// its size.
    async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        items::check_size(&item)?;
        let turn = self.turn(&self.counters.put_item).await;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        drop(turn);
        Ok(())
    }

    /// A transaction item that puts `item`, under `condition` when given,
    /// returning the old item when the condition fails.
    fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        names: Option<HashMap<String, String>>,
        values: Option<HashMap<String, AttributeValue>>,
    ) -> Result<TransactWriteItem, StoreError> {
        items::check_size(&item)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs one transaction; conflicts with concurrent transactions are
    /// retried, failed conditions are returned for the caller to explain.
    async fn transact(
        &self,
        operation: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, StoreError> {
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::backend(format!(
                "{operation} would write {} items in one transaction; DynamoDB allows {MAX_TRANSACTION_ITEMS}",
                items.len()
            )));
        }
        let mut attempt = 0;
        loop {
            let turn = self.turn(&self.counters.transact_write_items).await;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                // Makes the SDK's own retries (after a timeout or a lost
                // response) idempotent: DynamoDB answers a repeated token
                // with the first outcome instead of failing our conditions.
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            drop(turn);
            let err = match result {
                Ok(_) => return Ok(Transaction::Committed),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                err.as_service_error()
            else {
                return Err(sdk_error(operation, err));
            };
            let reasons = cancelled.cancellation_reasons();
            let codes: Vec<&str> = reasons
                .iter()
                .filter_map(CancellationReason::code)
                .collect();
            if codes.contains(&CONDITIONAL_CHECK_FAILED) {
                return Ok(Transaction::Cancelled(reasons.to_vec()));
            }
            if codes.contains(&"TransactionConflict") {
                if attempt < MAX_CONFLICT_RETRIES {
                    attempt += 1;
                    tracing::debug!(operation, attempt, "transaction conflict, retrying");
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                    continue;
                }
                return Err(StoreError::unavailable(format!(
                    "{operation}: transaction still conflicting after {MAX_CONFLICT_RETRIES} retries"
                )));
            }
            let summary = reason_codes(reasons);
            if codes.iter().any(|c| {
                is_retryable_code(c)
                    || *c == "ThrottlingError"
                    || *c == "ProvisionedThroughputExceeded"
            }) {
                return Err(StoreError::unavailable(format!(
                    "{operation}: transaction throttled ({summary})"
                )));
            }
            if reasons.is_empty() {
                // No reasons given: let the caller find out by reading.
                return Ok(Transaction::Cancelled(Vec::new()));
            }
            return Err(StoreError::backend(format!(
                "{operation}: transaction cancelled ({summary}): {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&err)
            )));
        }
    }

    /// The stored version of a ticket, read consistently.
    async fn stored_version(&self, key: &TicketKey) -> Result<Option<u64>, StoreError> {
        match self.get(keys::ticket_pk(key), keys::SK_TICKET).await? {
            Some(item) => items::number(&item, "version").map(Some),
            None => Ok(None),
        }
    }

    /// The owner of an address, from a failed condition's old item or a read.
    async fn email_owner(
        &self,
        email: &EmailAddress,
        old: Option<&HashMap<String, AttributeValue>>,
    ) -> Result<Option<ContactId>, StoreError> {
        if let Some(old) = old {
            return items::email_owner(old).map(Some);
        }
        match self.get(keys::email_pk(email), keys::SK_EMAIL).await? {
            Some(item) => items::email_owner(&item).map(Some),
            None => Ok(None),
        }
    }

    /// The answer to a write whose claims exist already, if any does: one
    /// consistent GetItem per claim (sent together), judged in the order
    /// given.
    async fn existing_claim(
        &self,
        claims: &[&IdempotencyClaim],
    ) -> Result<Option<Written>, StoreError> {
        let records = futures::future::try_join_all(
            claims
                .iter()
                .map(|claim| self.idempotency_record(&claim.key)),
        )
        .await?;
        for (claim, record) in claims.iter().zip(records) {
            if let Some(record) = record {
                return replay_or_mismatch(claim, record).map(Some);
            }
        }
        Ok(None)
    }

    /// The answer to a cancelled write whose claims (the transaction's
    /// items from `first_index` on) may have been taken meanwhile: the
    /// record that failed a claim's condition, from the old item the
    /// cancellation returned or else a consistent read. With no reasons
    /// given, every claim is read.
    async fn claim_taken_meanwhile(
        &self,
        claims: &[&IdempotencyClaim],
        reasons: &[CancellationReason],
        first_index: usize,
    ) -> Result<Option<Written>, StoreError> {
        for (i, claim) in claims.iter().enumerate() {
            let index = first_index + i;
            if !reasons.is_empty() && !condition_failed(reasons, index) {
                continue;
            }
            let record = match old_item(reasons, index) {
                Some(old) => Some(items::idempotency_from_item(old.clone())?),
                None => self.idempotency_record(&claim.key).await?,
            };
            match record {
                Some(record) => return replay_or_mismatch(claim, record).map(Some),
                None if !reasons.is_empty() => {
                    return Err(StoreError::unavailable(format!(
                        "idempotency record {:?} blocked the write but cannot be read yet",
                        claim.key
                    )));
                }
                None => {}
            }
        }
        Ok(None)
    }

    /// How many items of the assignee index partition `partition` have
    /// `status`: one `Select=COUNT` Query per page on `gsi2` (eventually
    /// consistent, as every index read).
    async fn count_in_assignee_index(
        &self,
        partition: &str,
        status: &str,
    ) -> Result<u64, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :status)")
            .expression_attribute_names("#pk", keys::GSI2PK)
            .expression_attribute_names("#sk", keys::GSI2SK)
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":status", s(keys::assignee_gsi2sk_prefix(status)));
        self.count_matching(query).await
    }

    /// How many items `query` matches: `Select=COUNT`, page by page.
    async fn count_matching(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<u64, StoreError> {
        let mut count = 0_u64;
        let mut start = None;
        loop {
            let turn = self.turn(&self.counters.query).await;
            let out = query
                .clone()
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            count += u64::try_from(out.count)
                .map_err(|_| StoreError::corrupt(format!("negative count {}", out.count)))?;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// The transaction items recording `claims` for `ticket`, written `at`.
    fn claim_puts(
        &self,
        claims: &[&IdempotencyClaim],
        ticket: &TicketKey,
        at: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        claims
            .iter()
            .map(|claim| {
                self.put(
                    items::idempotency_item(claim, ticket, at)?,
                    Some(IF_NEW),
                    None,
                    None,
                )
            })
            .collect()
    }
}

#[async_trait]
impl TicketStore for DynamoStore {
    async fn create_ticket(
        &self,
        ticket: &Ticket,
        entries: &[TimelineEntry],
        claims: &[IdempotencyClaim],
    ) -> Result<Written, StoreError> {
        if ticket.version != 1 {
            return Err(StoreError::backend(format!(
                "new ticket {} must be at version 1, not {}",
                ticket.key, ticket.version
            )));
        }
        check_entries(&ticket.key, entries)?;
        let claims = distinct_claims(claims)?;
        let index = self.entry_puts(ticket)?;
        check_transaction_size(&ticket.key, entries, &claims, index.len())?;
        if let Some(written) = self.existing_claim(&claims).await? {
            return Ok(written);
        }

        let mut writes = Vec::with_capacity(2 + entries.len() + claims.len() + index.len());
        writes.push(self.put(items::ticket_item(ticket)?, Some(IF_NEW), None, None)?);
        writes.push(self.put(items::listing_item(ticket), None, None, None)?);
        for entry in entries {
            writes.push(self.put(items::timeline_item(entry)?, None, None, None)?);
        }
        writes.extend(index);
        let first_claim = writes.len();
        writes.extend(self.claim_puts(&claims, &ticket.key, ticket.created_at)?);

        let reasons = match self.transact("create ticket", writes).await? {
            Transaction::Committed => return Ok(Written::New),
            Transaction::Cancelled(reasons) => reasons,
        };
        // Someone else used a key meanwhile: answer as if we had seen their
        // record first.
        if let Some(written) = self
            .claim_taken_meanwhile(&claims, &reasons, first_claim)
            .await?
        {
            return Ok(written);
        }
        if condition_failed(&reasons, 0)
            || (reasons.is_empty() && self.stored_version(&ticket.key).await?.is_some())
        {
            return Err(StoreError::AlreadyExists(format!("ticket {}", ticket.key)));
        }
        Err(StoreError::backend(format!(
            "creating ticket {} was cancelled ({})",
            ticket.key,
            reason_codes(&reasons)
        )))
    }

    async fn get_ticket(&self, key: &TicketKey) -> Result<Option<Ticket>, StoreError> {
        self.get(keys::ticket_pk(key), keys::SK_TICKET)
            .await?
            .map(items::ticket_from_item)
            .transpose()
    }

    async fn update_ticket(
        &self,
        ticket: &Ticket,
        expected_version: u64,
        entries: &[TimelineEntry],
        claims: &[IdempotencyClaim],
    ) -> Result<Written, StoreError> {
        if Some(ticket.version) != expected_version.checked_add(1) {
            return Err(StoreError::backend(format!(
                "ticket {} at version {} cannot replace version {expected_version}",
                ticket.key, ticket.version
            )));
        }
        check_entries(&ticket.key, entries)?;
        let claims = distinct_claims(claims)?;
        // Too many entries and claims are refused before any request; the
        // listing index's changes are counted once the stored ticket is read.
        check_transaction_size(&ticket.key, entries, &claims, 0)?;
        // A claim that exists answers before the version is looked at: a
        // redelivered change finds the ticket moved on by itself.
        if let Some(written) = self.existing_claim(&claims).await? {
            return Ok(written);
        }
        // The stored ticket, for the listing entries it leaves: the
        // transaction's version condition makes sure it is still the one
        // replaced.
        let Some(before) = self.get_ticket(&ticket.key).await? else {
            return Err(StoreError::NotFound(format!("ticket {}", ticket.key)));
        };
        if before.version != expected_version {
            return Err(StoreError::VersionConflict {
                key: ticket.key.clone(),
                expected: expected_version,
                actual: Some(before.version),
            });
        }
        let index = self.entry_writes(&before, ticket)?;
        check_transaction_size(&ticket.key, entries, &claims, index.len())?;

        let mut writes = Vec::with_capacity(2 + entries.len() + claims.len() + index.len());
        writes.push(self.put(
            items::ticket_item(ticket)?,
            Some("#version = :expected"),
            Some(HashMap::from([(
                "#version".to_owned(),
                "version".to_owned(),
            )])),
            Some(HashMap::from([(
                ":expected".to_owned(),
                AttributeValue::N(expected_version.to_string()),
            )])),
        )?);
        writes.push(self.put(items::listing_item(ticket), None, None, None)?);
        for entry in entries {
            writes.push(self.put(items::timeline_item(entry)?, None, None, None)?);
        }
        writes.extend(index);
        let first_claim = writes.len();
        writes.extend(self.claim_puts(&claims, &ticket.key, ticket.updated_at)?);

        let reasons = match self.transact("update ticket", writes).await? {
            Transaction::Committed => return Ok(Written::New),
            Transaction::Cancelled(reasons) => reasons,
        };
        if let Some(written) = self
            .claim_taken_meanwhile(&claims, &reasons, first_claim)
            .await?
        {
            return Ok(written);
        }
        if !reasons.is_empty() && !condition_failed(&reasons, 0) {
            return Err(StoreError::backend(format!(
                "updating ticket {} was cancelled ({})",
                ticket.key,
                reason_codes(&reasons)
            )));
        }
        let actual = match old_item(&reasons, 0) {
            Some(old) => Some(items::number(old, "version")?),
            None => self.stored_version(&ticket.key).await?,
        };
        match actual {
            None => Err(StoreError::NotFound(format!("ticket {}", ticket.key))),
            Some(actual) if actual == expected_version => Err(StoreError::backend(format!(
                "updating ticket {} was cancelled without a reason, and it is still at version {actual}",
                ticket.key
            ))),
            Some(actual) => Err(StoreError::VersionConflict {
                key: ticket.key.clone(),
                expected: expected_version,
                actual: Some(actual),
            }),
        }
    }

    async fn list_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, StoreError> {
        let range = listing::Range::of(query);
        let found = self.query_listing(&range, query.limit).await?;
        let mut tickets = if range.projects_tickets() {
            found
                .into_iter()
                .map(items::ticket_from_item)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            self.tickets_of_index_items(found).await?
        };
        // The index is read eventually consistent, the tickets consistently:
        // one that changed since its index entry was written is left out
        // rather than shown under a filter it no longer matches.
        tickets.retain(|t| listing::matches(query, t));
        tickets.truncate(query.limit);
        Ok(tickets)
    }

    async fn list_listing(&self, query: &ListingQuery) -> Result<Vec<Ticket>, StoreError> {
        self.entry_page(query).await
    }

    async fn count_tickets(&self, queue: &QueueKey, counted: &Counted) -> Result<u64, StoreError> {
        self.count_entries(queue, counted).await
    }

    async fn search_tickets(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        self.word_search(query).await
    }

    async fn count_assigned(
        &self,
        queue: &QueueKey,
        assignee: &str,
        statuses: &[String],
    ) -> Result<u64, StoreError> {
        // A status named twice counts once.
        let statuses: BTreeSet<&str> = statuses.iter().map(String::as_str).collect();
        let partition = keys::assignee_gsi2pk(queue, assignee);
        let counts = futures::future::try_join_all(
            statuses
                .into_iter()
                .map(|status| self.count_in_assignee_index(&partition, status)),
        )
        .await?;
        Ok(counts.into_iter().sum())
    }
}

#[async_trait]
impl TimelineStore for DynamoStore {
    async fn timeline(&self, key: &TicketKey) -> Result<Vec<TimelineEntry>, StoreError> {
        self.query_timeline(
            key,
            "begins_with(sk, :prefix)",
            &[(":prefix", keys::SK_TIMELINE_PREFIX.to_owned())],
        )
        .await
    }

    async fn entries_of_version(
        &self,
        key: &TicketKey,
        version: u64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let Some((first, last)) = keys::timeline_sk_range_of_version(version) else {
            return Ok(Vec::new());
        };
        self.query_timeline(
            key,
            "sk BETWEEN :first AND :last",
            &[(":first", first), (":last", last)],
        )
        .await
    }

    async fn entries_after_version(
        &self,
        key: &TicketKey,
        version: u64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        let Some(first) = version
            .checked_add(1)
            .and_then(|v| v.checked_mul(crate::domain::ticket::ENTRIES_PER_VERSION))
        else {
            return Ok(Vec::new());
        };
        self.query_timeline(key, "sk >= :first", &[(":first", keys::timeline_sk(first))])
            .await
    }

    async fn timeline_page(
        &self,
        key: &TicketKey,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Entries only, whatever else the ticket's partition holds: from
        // the prefix up to the last sequence number wanted.
        let last = match before {
            Some(0) => return Ok(Vec::new()),
            Some(before) => keys::timeline_sk(before - 1),
            None => keys::timeline_sk(u64::MAX),
        };
        self.query_timeline_page(
            key,
            "sk BETWEEN :first AND :last",
            &[
                (":first", keys::SK_TIMELINE_PREFIX.to_owned()),
                (":last", last),
            ],
            false,
            Some(limit),
        )
        .await
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn create_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        let mut seen = BTreeSet::new();
        let emails: Vec<&EmailAddress> =
            contact.emails.iter().filter(|e| seen.insert(*e)).collect();
        let mut writes = Vec::with_capacity(emails.len() + 1);
        writes.push(self.put(items::contact_item(contact)?, Some(IF_NEW), None, None)?);
        for email in &emails {
            writes.push(self.put(
                items::email_item(email, &contact.id),
                Some(IF_NEW),
                None,
                None,
            )?);
        }
        let reasons = match self.transact("create contact", writes).await? {
            Transaction::Committed => return Ok(()),
            Transaction::Cancelled(reasons) => reasons,
        };
        if condition_failed(&reasons, 0)
            || (reasons.is_empty()
                && self
                    .get(keys::contact_pk(&contact.id), keys::SK_CONTACT)
                    .await?
                    .is_some())
        {
            return Err(StoreError::AlreadyExists(format!("contact {}", contact.id)));
        }
        for (i, email) in emails.iter().enumerate() {
            if (reasons.is_empty() || condition_failed(&reasons, i + 1))
                && let Some(owner) = self.email_owner(email, old_item(&reasons, i + 1)).await?
            {
                return Err(StoreError::EmailTaken {
                    email: (*email).clone(),
                    contact: owner,
                });
            }
        }
        Err(StoreError::backend(format!(
            "creating contact {} was cancelled ({})",
            contact.id,
            reason_codes(&reasons)
        )))
    }

    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        self.get(keys::contact_pk(id), keys::SK_CONTACT)
            .await?
            .map(items::contact_from_item)
            .transpose()
    }

    async fn find_contact_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Contact>, StoreError> {
        let Some(owner) = self.email_owner(email, None).await? else {
            return Ok(None);
        };
        match self.get_contact(&owner).await? {
            Some(contact) => Ok(Some(contact)),
            None => Err(StoreError::corrupt(format!(
                "email {email} belongs to contact {owner}, which does not exist"
            ))),
        }
    }

    async fn add_contact_email(
        &self,
        id: &ContactId,
        email: &EmailAddress,
    ) -> Result<(), StoreError> {
        let claim_email = self.put(items::email_item(email, id), Some(IF_NEW), None, None)?;
        let append = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::contact_pk(id), keys::SK_CONTACT)))
            .update_expression("SET emails = list_append(emails, :new)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":new", AttributeValue::L(vec![s(email.as_str())]))
            .build()
            .map_err(build_error)?;
        let writes = vec![
            claim_email,
            TransactWriteItem::builder().update(append).build(),
        ];
        let reasons = match self.transact("add contact email", writes).await? {
            Transaction::Committed => return Ok(()),
            Transaction::Cancelled(reasons) => reasons,
        };
        if condition_failed(&reasons, 1)
            || (reasons.is_empty() && self.get_contact(id).await?.is_none())
        {
            return Err(StoreError::NotFound(format!("contact {id}")));
        }
        match self.email_owner(email, old_item(&reasons, 0)).await? {
            // Already this contact's address: nothing to add.
            Some(owner) if &owner == id => Ok(()),
            Some(owner) => Err(StoreError::EmailTaken {
                email: email.clone(),
                contact: owner,
            }),
            None => Err(StoreError::backend(format!(
                "adding {email} to contact {id} was cancelled ({})",
                reason_codes(&reasons)
            ))),
        }
    }
}

#[async_trait]
impl ClaimStore for DynamoStore {
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get(keys::idempotency_pk(key), keys::SK_IDEMPOTENCY)
            .await?
            .map(items::idempotency_from_item)
            .transpose()
    }

    async fn put_marker(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<String>, StoreError> {
        for _ in 0..MAX_MARKER_ATTEMPTS {
            let turn = self.turn(&self.counters.put_item).await;
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(items::marker_item(key, value, expires_at)))
                .condition_expression(IF_NEW)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            drop(turn);
            let err = match result {
                Ok(_) => return Ok(None),
                Err(err) => err,
            };
            let Some(PutItemError::ConditionalCheckFailedException(failed)) =
                err.as_service_error()
            else {
                return Err(sdk_error("PutItem", err));
            };
            if let Some(old) = failed.item() {
                return items::marker_value(old).map(Some);
            }
            // The old item was not returned: read it; if it is gone already
            // (deleted meanwhile), try to write ours again.
            if let Some(existing) = self.get_marker(key).await? {
                return Ok(Some(existing));
            }
        }
        Err(StoreError::unavailable(format!(
            "marker {key:?} kept appearing and disappearing over {MAX_MARKER_ATTEMPTS} attempts"
        )))
    }

    async fn get_marker(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.get(keys::marker_pk(key), keys::SK_MARKER).await? {
            Some(item) => items::marker_value(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn delete_marker(&self, key: &str) -> Result<(), StoreError> {
        let turn = self.turn(&self.counters.delete_item).await;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::marker_pk(key), keys::SK_MARKER)))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        drop(turn);
        Ok(())
    }
}

#[async_trait]
impl CounterStore for DynamoStore {
    async fn allocate_ticket_key(&self, queue: &QueueKey) -> Result<TicketKey, StoreError> {
        let turn = self.turn(&self.counters.update_item).await;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::counter_pk(queue), keys::SK_COUNTER)))
            .update_expression("ADD #next :one SET #type = :type")
            .expression_attribute_names("#next", "next")
            .expression_attribute_names("#type", keys::ITEM_TYPE)
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":type", s(keys::item_type::COUNTER))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        drop(turn);
        let number = items::number(&out.attributes.unwrap_or_default(), "next")?;
        Ok(TicketKey::new(queue.clone(), number))
    }

    async fn increment_counter(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let turn = self.turn(&self.counters.update_item).await;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(keys::count_pk(key), keys::SK_COUNT)))
            .update_expression("ADD #n :one SET #exp = :exp, #type = :type")
            .expression_attribute_names("#n", items::COUNT)
            .expression_attribute_names("#exp", keys::EXPIRES_AT)
            .expression_attribute_names("#type", keys::ITEM_TYPE)
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":exp", items::epoch_seconds(expires_at))
            .expression_attribute_values(":type", s(keys::item_type::COUNTER))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        drop(turn);
        items::number(&out.attributes.unwrap_or_default(), items::COUNT)
    }
}

#[async_trait]
impl SlaDueIndex for DynamoStore {
    async fn sla_due(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueTicket>, StoreError> {
        let bound = keys::sla_due_gsi3sk_until(until);
        let shards = futures::future::try_join_all(
            (0..keys::SLA_DUE_SHARDS).map(|shard| self.due_in_shard(shard, &bound, limit)),
        )
        .await?;
        let mut due: Vec<DueTicket> = shards.into_iter().flatten().collect();
        // Ties in the order SQLite gives them: by the key as text.
        due.sort_by_cached_key(|d| (d.due, d.key.to_string()));
        due.truncate(limit);
        Ok(due)
    }
}

impl ChangeFeedSource for DynamoStore {}
