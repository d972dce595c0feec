//! The store conformance suite: one set of cases, each an async function
//! taking a fresh, empty [`Store`], run against every implementation by
//! `tests/tests/store_conformance.rs`. A case panics when the store breaks
//! the contract in `helpdesk::store`'s module docs.
//!
//! The cases are grouped by the store capability they check, one module
//! each: [`tickets`], [`timeline`], [`contacts`], [`claims`] (idempotency
//! claims and markers), [`counters`] (ticket keys and counters),
//! [`credentials`] (API tokens and password hashes), [`listing`] (the
//! listing index and search),
//! [`rollups`] (report rollups), [`sla_due`] and [`feed`] (the change feed, SQLite only). Every case is
//! re-exported here too, as `conformance::<case>`. This module holds what
//! the cases share: the store constructors and the helpers that build
//! tickets, entries, claims and SLA timers.
//!
//! [`sqlite_store`] and [`dynamodb_store`] build fresh stores; the DynamoDB
//! one talks to the local server named by `HELPDESK_TEST_DYNAMODB_ENDPOINT`
//! (moto's server in the test script) and creates a table with a random name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support code: a failed expectation is a failed test"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{
    Actor, Channel, ContactId, EmailAddress, QueueKey, Requester, SlaState, SlaTimer, Ticket,
    TicketKey, TimelineEntry, TimelineEvent, TimerState,
};
use helpdesk::store::dynamo::{DynamoStore, local_client};
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::store::{ClaimPurpose, DueTicket, IdempotencyClaim, Store, Written};

pub mod claims;
pub mod contacts;
pub mod counters;
pub mod credentials;
pub mod feed;
pub mod listing;
pub mod mail_log;
pub mod rollups;
pub mod sla_due;
pub mod tickets;
pub mod timeline;

pub use claims::*;
pub use contacts::*;
pub use counters::*;
pub use credentials::*;
pub use feed::*;
pub use listing::*;
pub use rollups::*;
pub use sla_due::*;
pub use tickets::*;
pub use timeline::*;

/// The environment variable naming the local DynamoDB endpoint.
pub const DYNAMODB_ENDPOINT_VAR: &str = "HELPDESK_TEST_DYNAMODB_ENDPOINT";
/// When `1`, a missing endpoint fails the DynamoDB cases instead of skipping them.
pub const REQUIRE_MOTO_VAR: &str = "HELPDESK_REQUIRE_MOTO";

/// A fresh in-memory SQLite store.
pub fn sqlite_store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().expect("an in-memory SQLite store opens"))
}

/// A fresh DynamoDB store on a new table with a random name, on the server
/// at `HELPDESK_TEST_DYNAMODB_ENDPOINT`, sending one request at a time (see
/// [`DynamoStore::one_request_at_a_time`]); `None` (after saying so) when that
/// is unset, unless `HELPDESK_REQUIRE_MOTO=1`, which makes it panic.
pub async fn dynamodb_store() -> Option<DynamoStore> {
    let endpoint = std::env::var(DYNAMODB_ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let Some(endpoint) = endpoint else {
        assert!(
            std::env::var(REQUIRE_MOTO_VAR).as_deref() != Ok("1"),
            "{REQUIRE_MOTO_VAR}=1 but {DYNAMODB_ENDPOINT_VAR} is not set: start moto_server and point it there"
        );
        eprintln!(
            "skipped: set {DYNAMODB_ENDPOINT_VAR}=http://127.0.0.1:PORT (moto_server) to run this DynamoDB case"
        );
        return None;
    };
    let table = format!("conformance-{}", uuid::Uuid::new_v4().simple());
    // moto applies concurrent requests non-atomically; DynamoDB does not.
    let store = DynamoStore::new(local_client(&endpoint).await, table).one_request_at_a_time();
    store
        .create_table()
        .await
        .unwrap_or_else(|e| panic!("cannot create a table on {endpoint}: {e}"));
    Some(store)
}

/// Parses a queue key.
pub fn queue(key: &str) -> QueueKey {
    QueueKey::parse(key).expect("a valid queue key")
}

/// Parses an email address.
pub fn email(address: &str) -> EmailAddress {
    EmailAddress::parse(address).expect("a valid email address")
}

/// An instant with microsecond precision: 2025-03-14T09:26:53.589793Z plus
/// `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53)
        .single()
        .expect("a valid instant")
        + Duration::microseconds(589_793)
        + Duration::minutes(minutes)
}

/// A new ticket (version 1) with every field filled in.
pub fn sample_ticket(key: TicketKey, created_at: DateTime<Utc>) -> Ticket {
    Ticket {
        queue: key.queue().clone(),
        summary: format!("Invoice missing for {key}"),
        key,
        description: "Line one.\nLine two, with ünïcode and \"quotes\".".to_owned(),
        description_blob: None,
        status: "New".to_owned(),
        resolution: Some("duplicate".to_owned()),
        priority: "critical".to_owned(),
        line: Some(2),
        components: vec!["Billing".to_owned(), "Invoices".to_owned()],
        tags: vec!["vip".to_owned()],
        assignee: Some("anna".to_owned()),
        requester: Requester {
            contact_id: Some(ContactId::from_stored("c_requester".to_owned())),
            email: Some(email("bob@example.com")),
            name: Some("Bob Example".to_owned()),
            phone: None,
            organization: None,
        },
        participants: vec![email("carol@example.com")],
        channel: Channel::Form,
        custom_fields: BTreeMap::from([
            ("customer_id".to_owned(), serde_json::json!("C-0042")),
            ("seats".to_owned(), serde_json::json!(12)),
            ("ratio".to_owned(), serde_json::json!(0.25)),
            ("paid".to_owned(), serde_json::json!(true)),
            ("empty".to_owned(), serde_json::json!(null)),
            (
                "incident".to_owned(),
                serde_json::json!({"what": "outage", "when": ["2025-03-14", 9]}),
            ),
        ]),
        created_at,
        updated_at: created_at + Duration::microseconds(1),
        first_response_at: Some(created_at + Duration::minutes(5)),
        resolved_at: Some(created_at + Duration::minutes(50)),
        reopen_count: 1,
        trigger_depth: 0,
        sla: Default::default(),
        satisfaction: Default::default(),
        version: 1,
    }
}

/// The entries a new ticket is stored with.
pub fn creation_entries(ticket: &Ticket) -> Vec<TimelineEntry> {
    vec![
        TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(1, 0),
            at: ticket.created_at,
            actor: Actor::Customer {
                email: email("bob@example.com"),
            },
            event: TimelineEvent::Created {
                channel: Channel::Form,
            },
        },
        TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(1, 1),
            at: ticket.created_at,
            actor: Actor::System,
            event: TimelineEvent::FormSubmitted {
                form: "support".to_owned(),
                submission_id: Some("sub-1".to_owned()),
                answers: BTreeMap::from([("topic".to_owned(), "billing".to_owned())]),
                answers_blob: None,
                routing_rules: vec!["billing-to-line-2".to_owned()],
                unmatched: Vec::new(),
            },
        },
    ]
}

/// `ticket` changed by `login` to `status`, one version later, with the
/// entries saying so.
pub fn change_status(
    ticket: &Ticket,
    login: &str,
    status: &str,
    now: DateTime<Utc>,
) -> (Ticket, Vec<TimelineEntry>) {
    let mut changed = ticket.clone();
    changed.status = status.to_owned();
    changed.assignee = Some(login.to_owned());
    changed.updated_at = now;
    changed.version = ticket.version + 1;
    let actor = Actor::Agent {
        login: login.to_owned(),
        via: None,
    };
    let entries = vec![
        TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(changed.version, 0),
            at: now,
            actor: actor.clone(),
            event: TimelineEvent::FieldChanged {
                field: "status".to_owned(),
                old: serde_json::json!(ticket.status),
                new: serde_json::json!(status),
            },
        },
        TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(changed.version, 1),
            at: now,
            actor,
            event: TimelineEvent::Comment {
                public: false,
                body: format!("{login} set {status}"),
                body_blob: None,
            },
        },
    ];
    (changed, entries)
}

/// An idempotency claim for a payload with the hash `payload_hash`.
pub fn claim(key: &str, payload_hash: &str) -> IdempotencyClaim {
    IdempotencyClaim {
        key: key.to_owned(),
        purpose: ClaimPurpose::Payload(payload_hash.to_owned()),
        expires_at: at(60 * 24 * 7),
    }
}

/// Allocates a key in `queue_key` and stores a sample ticket created at
/// `created_at` with its creation entries.
pub async fn create_sample(
    store: &dyn Store,
    queue_key: &str,
    created_at: DateTime<Utc>,
) -> Ticket {
    let key = store
        .allocate_ticket_key(&queue(queue_key))
        .await
        .expect("a key is allocated");
    let ticket = sample_ticket(key, created_at);
    let created = store
        .create_ticket(&ticket, &creation_entries(&ticket), &[])
        .await
        .expect("the ticket is created");
    assert_eq!(created, Written::New);
    ticket
}

/// Allocates a key and creates a sample ticket under `claim`.
async fn create_claimed(
    store: &dyn Store,
    claim: &IdempotencyClaim,
    created_at: DateTime<Utc>,
) -> (Ticket, Written) {
    let key = store
        .allocate_ticket_key(&queue("SUP"))
        .await
        .expect("a key is allocated");
    let ticket = sample_ticket(key, created_at);
    let created = store
        .create_ticket(
            &ticket,
            &creation_entries(&ticket),
            std::slice::from_ref(claim),
        )
        .await
        .expect("a claimed creation succeeds or replays");
    (ticket, created)
}

/// `count` internal notes on `ticket`, numbered as written with its
/// (current) version.
pub fn notes(ticket: &Ticket, count: usize) -> Vec<TimelineEntry> {
    (0..count)
        .map(|i| TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(ticket.version, i),
            at: ticket.updated_at,
            actor: Actor::System,
            event: TimelineEvent::Comment {
                public: false,
                body: format!("note {i} of version {}", ticket.version),
                body_blob: None,
            },
        })
        .collect()
}

/// Stores `ticket` changed by `change`, one version later, with `entries`
/// entries (notes); answers the stored ticket.
pub async fn update_with(
    store: &dyn Store,
    ticket: &Ticket,
    entries: usize,
    change: impl FnOnce(&mut Ticket),
) -> Ticket {
    let mut changed = ticket.clone();
    change(&mut changed);
    changed.version = ticket.version + 1;
    changed.updated_at = ticket.updated_at + Duration::minutes(1);
    let written = store
        .update_ticket(&changed, ticket.version, &notes(&changed, entries), &[])
        .await
        .expect("the update is stored");
    assert_eq!(written, Written::New);
    changed
}

// SLA due index helpers. The index is eventually consistent on DynamoDB
// (a global secondary index), so reads of it go through `settled_due`.

/// A running SLA timer of `metric`, started at `at(0)`, with its warning
/// due at `warn_at` (none: no warning) and its deadline at `deadline`.
pub fn running_timer(
    metric: &str,
    warn_at: Option<DateTime<Utc>>,
    deadline: DateTime<Utc>,
) -> SlaTimer {
    let started_at = at(0);
    let micros = |t: DateTime<Utc>| (t - started_at).num_microseconds().unwrap();
    SlaTimer {
        metric: metric.to_owned(),
        rule: "standard".to_owned(),
        calendar: "office".to_owned(),
        state: TimerState::Running,
        cycle: 1,
        started_at,
        running_since: Some(started_at),
        spent_us: 0,
        limit_us: micros(deadline),
        warning_us: warn_at.map(micros),
        deadline: Some(deadline),
        warn_at,
        warned: false,
        breached: false,
        stopped_at: None,
    }
}

/// `timer` stopped within its limit at `now`.
pub fn met_timer(timer: &SlaTimer, now: DateTime<Utc>) -> SlaTimer {
    SlaTimer {
        state: TimerState::Met,
        running_since: None,
        spent_us: (now - timer.started_at).num_microseconds().unwrap(),
        deadline: None,
        warn_at: None,
        stopped_at: Some(now),
        ..timer.clone()
    }
}

/// SLA state with `timers`.
pub fn sla_of(timers: Vec<SlaTimer>) -> SlaState {
    SlaState {
        timers,
        seen_version: 1,
        ..SlaState::default()
    }
}

/// SLA state with one running `first_response` timer due (without a
/// warning) at `due`.
pub fn due_at(due: DateTime<Utc>) -> SlaState {
    sla_of(vec![running_timer("first_response", None, due)])
}

/// Stores a new sample ticket in `queue_key` with `sla`.
pub async fn create_with_sla(store: &dyn Store, queue_key: &str, sla: SlaState) -> Ticket {
    let key = store
        .allocate_ticket_key(&queue(queue_key))
        .await
        .expect("a key is allocated");
    let mut ticket = sample_ticket(key, at(0));
    ticket.sla = sla;
    let written = store
        .create_ticket(&ticket, &creation_entries(&ticket), &[])
        .await
        .expect("the ticket is created");
    assert_eq!(written, Written::New);
    ticket
}

/// `ticket` listed as due at `due`.
pub fn listed(ticket: &Ticket, due: DateTime<Utc>) -> DueTicket {
    DueTicket {
        key: ticket.key.clone(),
        due,
    }
}

/// Reads `sla_due(until, limit)` until `settled` holds for the answer (the
/// index is eventually consistent on DynamoDB), for at most five seconds,
/// and answers the last read; the caller asserts on it.
pub async fn settled_due(
    store: &dyn Store,
    until: DateTime<Utc>,
    limit: usize,
    settled: impl Fn(&[DueTicket]) -> bool,
) -> Vec<DueTicket> {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let due = store
            .sla_due(until, limit)
            .await
            .expect("the due index is read");
        if settled(&due) || std::time::Instant::now() >= give_up {
            return due;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Asserts that `sla_due(until, limit)` answers `expected` (once the index
/// has settled).
pub async fn assert_due(
    store: &dyn Store,
    until: DateTime<Utc>,
    limit: usize,
    expected: &[DueTicket],
) {
    let due = settled_due(store, until, limit, |due| due == expected).await;
    assert_eq!(due, expected, "due by {until} (limit {limit})");
}
