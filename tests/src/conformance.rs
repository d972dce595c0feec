//! The store conformance suite: one set of cases, each an async function
//! taking a fresh, empty [`Store`], run against every implementation by
//! `tests/tests/store_conformance.rs`. A case panics when the store breaks
//! the contract in `helpdesk::store`'s module docs.
//!
//! [`sqlite_store`] and [`dynamodb_store`] build fresh stores; the DynamoDB
//! one talks to the local server named by `HELPDESK_TEST_DYNAMODB_ENDPOINT`
//! (moto's server in the test script) and creates a table with a random name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support code: a failed expectation is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{
    Actor, Channel, Contact, ContactId, EmailAddress, QueueKey, Requester, SlaState, SlaTimer,
    Ticket, TicketKey, TimelineEntry, TimelineEvent, TimerState,
};
use helpdesk::store::dynamo::{DynamoStore, local_client};
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::store::{
    ChangeFeed, DueTicket, FeedChange, IdempotencyClaim, Store, StoreError, TicketQuery, Written,
};

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
                routing_rules: vec!["billing-to-line-2".to_owned()],
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
            },
        },
    ];
    (changed, entries)
}

/// An idempotency claim.
pub fn claim(key: &str, payload_hash: &str) -> IdempotencyClaim {
    IdempotencyClaim {
        key: key.to_owned(),
        payload_hash: payload_hash.to_owned(),
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

/// A created ticket, its timeline and its idempotency record read back
/// equal to what was written, microseconds included.
pub async fn a_created_ticket_reads_back_equal(store: Arc<dyn Store>) {
    let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let ticket = sample_ticket(key.clone(), at(0));
    let entries = creation_entries(&ticket);
    let claim = claim("form:support:sub-1", "hash-1");

    let created = store
        .create_ticket(&ticket, &entries, std::slice::from_ref(&claim))
        .await
        .unwrap();

    assert_eq!(created, Written::New);
    assert_eq!(store.get_ticket(&key).await.unwrap(), Some(ticket.clone()));
    assert_eq!(store.timeline(&key).await.unwrap(), entries);
    let record = store
        .idempotency_record(&claim.key)
        .await
        .unwrap()
        .expect("the record is stored");
    assert_eq!(record.key, claim.key);
    assert_eq!(record.payload_hash, claim.payload_hash);
    assert_eq!(record.ticket, key);
}

/// Reading a ticket that was never stored gives `None`, and so does its
/// (empty) timeline.
pub async fn a_missing_ticket_reads_as_none(store: Arc<dyn Store>) {
    let key = TicketKey::new(queue("SUP"), 404);
    assert_eq!(store.get_ticket(&key).await.unwrap(), None);
    assert_eq!(store.timeline(&key).await.unwrap(), Vec::new());
    assert_eq!(store.idempotency_record("never-used").await.unwrap(), None);
}

/// 50 concurrent creations in one queue (and 20 in another at the same
/// time) get distinct keys numbered 1..=50 (and 1..=20).
pub async fn ticket_keys_are_unique_and_increasing_under_concurrent_creation(
    store: Arc<dyn Store>,
) {
    let mut tasks = Vec::new();
    for (queue_key, count) in [("SUP", 50), ("OPS", 20)] {
        for i in 0..count {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                create_sample(store.as_ref(), queue_key, at(i)).await.key
            }));
        }
    }
    let mut numbers: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for task in tasks {
        let key = task.await.expect("the task finishes");
        numbers
            .entry(key.queue().to_string())
            .or_default()
            .push(key.number());
    }
    for (queue_key, count) in [("SUP", 50_u64), ("OPS", 20)] {
        let mut got = numbers.remove(queue_key).unwrap_or_default();
        got.sort_unstable();
        assert_eq!(
            got,
            (1..=count).collect::<Vec<_>>(),
            "numbers in {queue_key}"
        );
    }
    // Later allocations keep increasing.
    let next = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    assert_eq!(next.number(), 51);
}

/// Creating a ticket whose key is stored already is refused and leaves the
/// stored one alone.
pub async fn creating_a_ticket_under_a_taken_key_is_refused(store: Arc<dyn Store>) {
    let first = create_sample(store.as_ref(), "SUP", at(0)).await;
    let mut second = sample_ticket(first.key.clone(), at(1));
    second.summary = "Someone else's request".to_owned();

    let result = store.create_ticket(&second, &[], &[]).await;

    assert!(
        matches!(result, Err(StoreError::AlreadyExists(_))),
        "got {result:?}"
    );
    assert_eq!(
        store.get_ticket(&first.key).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.timeline(&first.key).await.unwrap(),
        creation_entries(&first)
    );
}

/// Two updates based on the same version race: exactly one wins, the other
/// gets a version conflict naming the stored version, and the stored ticket
/// and timeline hold exactly the winner's change.
pub async fn a_stale_update_is_refused_and_nothing_is_lost(store: Arc<dyn Store>) {
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let (by_anna, anna_entries) = change_status(&ticket, "anna", "Open", at(1));
    let (by_boris, boris_entries) = change_status(&ticket, "boris", "In progress", at(2));

    let (anna, boris) = tokio::join!(
        store.update_ticket(&by_anna, 1, &anna_entries, &[]),
        store.update_ticket(&by_boris, 1, &boris_entries, &[]),
    );

    let (winner, winner_entries, loser) = match (&anna, &boris) {
        (Ok(Written::New), Err(e)) => (&by_anna, &anna_entries, e),
        (Err(e), Ok(Written::New)) => (&by_boris, &boris_entries, e),
        other => panic!("exactly one update must win, got {other:?}"),
    };
    match loser {
        StoreError::VersionConflict {
            key,
            expected,
            actual,
        } => {
            assert_eq!(key, &ticket.key);
            assert_eq!(*expected, 1);
            assert_eq!(*actual, Some(2));
        }
        other => panic!("the loser must get a version conflict, got {other:?}"),
    }
    assert!(loser.is_retryable());
    assert_eq!(
        store.get_ticket(&ticket.key).await.unwrap().as_ref(),
        Some(winner)
    );
    let mut expected = creation_entries(&ticket);
    expected.extend(winner_entries.iter().cloned());
    assert_eq!(store.timeline(&ticket.key).await.unwrap(), expected);

    // A write still based on version 1 stays refused after the race.
    let stale = store.update_ticket(&by_anna, 1, &anna_entries, &[]).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::VersionConflict {
                actual: Some(2),
                ..
            })
        ),
        "got {stale:?}"
    );
}

/// Updating a ticket that does not exist is refused as not found and
/// creates nothing.
pub async fn updating_a_missing_ticket_is_refused(store: Arc<dyn Store>) {
    let ghost = sample_ticket(TicketKey::new(queue("SUP"), 7), at(0));
    let (changed, entries) = change_status(&ghost, "anna", "Open", at(1));

    let result = store.update_ticket(&changed, 1, &entries, &[]).await;

    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "got {result:?}"
    );
    assert_eq!(store.get_ticket(&ghost.key).await.unwrap(), None);
    assert_eq!(store.timeline(&ghost.key).await.unwrap(), Vec::new());
}

/// An update must carry the version after the one it is based on.
pub async fn an_update_that_does_not_advance_the_version_by_one_is_refused(store: Arc<dyn Store>) {
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let (mut changed, entries) = change_status(&ticket, "anna", "Open", at(1));
    changed.version = 3;

    let result = store.update_ticket(&changed, 1, &entries, &[]).await;

    assert!(result.is_err(), "a jump from version 1 to 3 was accepted");
    assert_eq!(store.get_ticket(&ticket.key).await.unwrap(), Some(ticket));
}

/// The same idempotency key with the same payload, twice, answers the
/// first ticket the second time and writes no second ticket or timeline.
pub async fn a_replayed_creation_returns_the_first_ticket_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let claim = claim("form:support:sub-1", "hash-1");
    let first_key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let first = sample_ticket(first_key.clone(), at(0));
    let created = store
        .create_ticket(
            &first,
            &creation_entries(&first),
            std::slice::from_ref(&claim),
        )
        .await
        .unwrap();
    assert_eq!(created, Written::New);

    let second_key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let second = sample_ticket(second_key.clone(), at(1));
    let replayed = store
        .create_ticket(
            &second,
            &creation_entries(&second),
            std::slice::from_ref(&claim),
        )
        .await
        .unwrap();

    assert_eq!(replayed, Written::Replayed(first_key.clone()));
    assert_eq!(store.get_ticket(&second_key).await.unwrap(), None);
    assert_eq!(store.timeline(&second_key).await.unwrap(), Vec::new());
    assert_eq!(
        store.timeline(&first_key).await.unwrap(),
        creation_entries(&first)
    );
    let listed = store
        .list_tickets(&TicketQuery {
            queue: queue("SUP"),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed, vec![first]);
}

/// The same idempotency key with another payload is refused and writes
/// nothing.
pub async fn an_idempotency_key_reused_for_another_payload_is_refused(store: Arc<dyn Store>) {
    let first = create_claimed(
        store.as_ref(),
        &claim("form:support:sub-1", "hash-1"),
        at(0),
    )
    .await;
    assert_eq!(first.1, Written::New);

    let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let other = sample_ticket(key.clone(), at(1));
    let result = store
        .create_ticket(
            &other,
            &creation_entries(&other),
            &[claim("form:support:sub-1", "hash-2")],
        )
        .await;

    match result {
        Err(StoreError::IdempotencyMismatch { key }) => assert_eq!(key, "form:support:sub-1"),
        other => panic!("expected an idempotency mismatch, got {other:?}"),
    }
    assert_eq!(store.get_ticket(&key).await.unwrap(), None);
    assert_eq!(store.timeline(&key).await.unwrap(), Vec::new());
    let record = store
        .idempotency_record("form:support:sub-1")
        .await
        .unwrap()
        .expect("the first record stays");
    assert_eq!(record.payload_hash, "hash-1");
    assert_eq!(record.ticket, first.0.key);
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

/// Ten concurrent creations under one idempotency key (a redelivered
/// event) store exactly one ticket; the other nine answer its key.
pub async fn concurrent_creations_with_one_idempotency_key_store_one_ticket(store: Arc<dyn Store>) {
    let claim = claim("mail:<redelivered@example.com>", "hash-1");
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = Arc::clone(&store);
            let claim = claim.clone();
            tokio::spawn(async move { create_claimed(store.as_ref(), &claim, at(i)).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("the task finishes"));
    }

    let winners: Vec<&Ticket> = results
        .iter()
        .filter(|(_, created)| *created == Written::New)
        .map(|(ticket, _)| ticket)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one creation wins: {results:?}");
    let winner = winners[0];
    for (ticket, created) in &results {
        if ticket.key != winner.key {
            assert_eq!(created, &Written::Replayed(winner.key.clone()));
            assert_eq!(store.get_ticket(&ticket.key).await.unwrap(), None);
            assert_eq!(store.timeline(&ticket.key).await.unwrap(), Vec::new());
        }
    }
    let listed = store
        .list_tickets(&TicketQuery {
            queue: queue("SUP"),
            limit: 20,
        })
        .await
        .unwrap();
    assert_eq!(listed, vec![winner.clone()]);
    assert_eq!(
        store.get_ticket(&winner.key).await.unwrap().as_ref(),
        Some(winner)
    );
    assert_eq!(
        store.timeline(&winner.key).await.unwrap(),
        creation_entries(winner)
    );
}

/// Entries appended over several updates come back in `seq` order, after
/// the creation entries.
pub async fn timeline_entries_come_back_in_order_across_updates(store: Arc<dyn Store>) {
    let mut ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let mut expected = creation_entries(&ticket);
    // Ten versions cross the digit boundary of the sequence numbers
    // (9000 -> 10000 -> 11000), which a text sort would get wrong.
    for (i, status) in [
        "Open",
        "In progress",
        "Need info",
        "In progress",
        "Resolved",
        "Closed",
        "Open",
        "Resolved",
        "Closed",
        "Open",
        "Closed",
    ]
    .into_iter()
    .enumerate()
    {
        let (changed, entries) = change_status(&ticket, "anna", status, at(1 + i as i64));
        store
            .update_ticket(&changed, ticket.version, &entries, &[])
            .await
            .unwrap();
        expected.extend(entries);
        ticket = changed;
    }

    let timeline = store.timeline(&ticket.key).await.unwrap();

    assert_eq!(timeline, expected);
    let seqs: Vec<u64> = timeline.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs not increasing: {seqs:?}"
    );
    assert_eq!(store.get_ticket(&ticket.key).await.unwrap(), Some(ticket));
}

fn contact_with(emails: &[&str]) -> Contact {
    let mut contact = Contact::new(email(emails[0]), Some("Anna Example".to_owned()), at(0));
    contact.emails.extend(emails[1..].iter().map(|e| email(e)));
    contact.phones = vec!["+49 30 1234567".to_owned()];
    contact.organization = Some("Example GmbH".to_owned());
    contact
}

/// A stored contact reads back equal and is found by any of its addresses,
/// whatever their case.
pub async fn a_contact_is_found_by_any_of_its_addresses(store: Arc<dyn Store>) {
    let contact = contact_with(&["anna@example.com", "a.example@mail.example.org"]);
    store.create_contact(&contact).await.unwrap();

    assert_eq!(
        store.get_contact(&contact.id).await.unwrap(),
        Some(contact.clone())
    );
    for address in [
        "anna@example.com",
        "A.Example@Mail.Example.ORG",
        "  ANNA@EXAMPLE.COM ",
    ] {
        let found = store.find_contact_by_email(&email(address)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&contact), "looking up {address}");
    }
    assert_eq!(
        store
            .find_contact_by_email(&email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_contact(&ContactId::generate()).await.unwrap(),
        None
    );
}

/// A second contact with an address the first owns is refused, naming the
/// owner, and is not stored at all.
pub async fn an_address_cannot_belong_to_two_contacts(store: Arc<dyn Store>) {
    let anna = contact_with(&["anna@example.com"]);
    store.create_contact(&anna).await.unwrap();
    let impostor = contact_with(&["other@example.com", "Anna@Example.com"]);

    let result = store.create_contact(&impostor).await;

    match result {
        Err(StoreError::EmailTaken {
            email: taken,
            contact,
        }) => {
            assert_eq!(taken, email("anna@example.com"));
            assert_eq!(contact, anna.id);
        }
        other => panic!("expected the address to be taken, got {other:?}"),
    }
    assert_eq!(store.get_contact(&impostor.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_contact_by_email(&email("other@example.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_contact_by_email(&email("anna@example.com"))
            .await
            .unwrap(),
        Some(anna)
    );
}

/// An address added to a contact finds it afterwards and shows in its list.
pub async fn an_added_address_finds_its_contact(store: Arc<dyn Store>) {
    let anna = contact_with(&["anna@example.com"]);
    store.create_contact(&anna).await.unwrap();

    store
        .add_contact_email(&anna.id, &email("Anna.Private@Example.net"))
        .await
        .unwrap();

    let found = store
        .find_contact_by_email(&email("anna.private@example.net"))
        .await
        .unwrap()
        .expect("the new address finds the contact");
    assert_eq!(found.id, anna.id);
    assert_eq!(
        found.emails,
        vec![email("anna@example.com"), email("anna.private@example.net")]
    );
    assert_eq!(store.get_contact(&anna.id).await.unwrap(), Some(found));
}

/// Adding an address another contact owns is refused, naming the owner,
/// and changes neither contact; adding one to a missing contact is refused
/// as not found.
pub async fn adding_an_address_another_contact_owns_is_refused(store: Arc<dyn Store>) {
    let anna = contact_with(&["anna@example.com"]);
    let boris = contact_with(&["boris@example.com"]);
    store.create_contact(&anna).await.unwrap();
    store.create_contact(&boris).await.unwrap();

    let result = store
        .add_contact_email(&boris.id, &email("anna@example.com"))
        .await;

    match result {
        Err(StoreError::EmailTaken { contact, .. }) => assert_eq!(contact, anna.id),
        other => panic!("expected the address to be taken, got {other:?}"),
    }
    assert_eq!(store.get_contact(&boris.id).await.unwrap(), Some(boris));
    assert_eq!(
        store
            .find_contact_by_email(&email("anna@example.com"))
            .await
            .unwrap(),
        Some(anna)
    );

    let missing = store
        .add_contact_email(&ContactId::generate(), &email("new@example.com"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "got {missing:?}"
    );
    assert_eq!(
        store
            .find_contact_by_email(&email("new@example.com"))
            .await
            .unwrap(),
        None
    );
}

/// Listing is per queue, newest first (ties broken by the higher number),
/// and stops at the limit.
pub async fn tickets_are_listed_per_queue_newest_first_within_the_limit(store: Arc<dyn Store>) {
    // Created out of time order, with two at the same instant.
    let mut sup = Vec::new();
    for minutes in [5, 1, 9, 3, 9, 7] {
        sup.push(create_sample(store.as_ref(), "SUP", at(minutes)).await);
    }
    let ops = create_sample(store.as_ref(), "OPS", at(100)).await;
    let mut newest_first = sup.clone();
    newest_first.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.key.number())));
    let list = |queue_key: &str, limit: usize| TicketQuery {
        queue: queue(queue_key),
        limit,
    };

    assert_eq!(
        store.list_tickets(&list("SUP", 100)).await.unwrap(),
        newest_first
    );
    assert_eq!(
        store.list_tickets(&list("SUP", 4)).await.unwrap(),
        newest_first[..4].to_vec()
    );
    assert_eq!(
        store.list_tickets(&list("SUP", 0)).await.unwrap(),
        Vec::new()
    );
    assert_eq!(
        store.list_tickets(&list("OPS", 100)).await.unwrap(),
        vec![ops]
    );
    assert_eq!(
        store.list_tickets(&list("NONE", 100)).await.unwrap(),
        Vec::new()
    );
    let keys: BTreeSet<TicketKey> = newest_first.iter().map(|t| t.key.clone()).collect();
    assert_eq!(keys.len(), sup.len());
}

/// A listed ticket shows its latest stored version.
pub async fn a_listed_ticket_shows_its_latest_version(store: Arc<dyn Store>) {
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let (changed, entries) = change_status(&ticket, "anna", "Open", at(1));
    store
        .update_ticket(&changed, 1, &entries, &[])
        .await
        .unwrap();

    let listed = store
        .list_tickets(&TicketQuery {
            queue: queue("SUP"),
            limit: 10,
        })
        .await
        .unwrap();

    assert_eq!(listed, vec![changed]);
}

/// An update under an idempotency claim records it; the same update again
/// (a redelivered reply) answers `Replayed` before its stale version is
/// looked at and writes nothing, and so does any later write naming the
/// key with the same payload, on this ticket, another ticket or a creation;
/// the key with another payload is refused, also writing nothing.
pub async fn a_claimed_update_writes_nothing_when_replayed_and_refuses_another_payload(
    store: Arc<dyn Store>,
) {
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let reply = claim("mail:<reply-1@example.com>", "hash-1");
    let (changed, entries) = change_status(&ticket, "anna", "Open", at(1));

    let first = store
        .update_ticket(&changed, 1, &entries, std::slice::from_ref(&reply))
        .await
        .unwrap();
    let again = store
        .update_ticket(&changed, 1, &entries, std::slice::from_ref(&reply))
        .await
        .unwrap();

    assert_eq!(first, Written::New);
    assert_eq!(again, Written::Replayed(ticket.key.clone()));
    let mut expected_timeline = creation_entries(&ticket);
    expected_timeline.extend(entries.iter().cloned());
    let unchanged = || async {
        assert_eq!(
            store.get_ticket(&ticket.key).await.unwrap().as_ref(),
            Some(&changed)
        );
        assert_eq!(
            store.timeline(&ticket.key).await.unwrap(),
            expected_timeline
        );
    };
    unchanged().await;

    // Based on the current version, still a replay.
    let (later, later_entries) = change_status(&changed, "boris", "Closed", at(2));
    let replayed = store
        .update_ticket(&later, 2, &later_entries, std::slice::from_ref(&reply))
        .await
        .unwrap();
    assert_eq!(replayed, Written::Replayed(ticket.key.clone()));
    unchanged().await;

    // Another payload under the same key.
    let mismatch = store
        .update_ticket(
            &later,
            2,
            &later_entries,
            &[claim("mail:<reply-1@example.com>", "hash-2")],
        )
        .await;
    match mismatch {
        Err(StoreError::IdempotencyMismatch { key }) => {
            assert_eq!(key, "mail:<reply-1@example.com>");
        }
        other => panic!("expected an idempotency mismatch, got {other:?}"),
    }
    unchanged().await;

    // The key belongs to the ticket it was recorded for: an update of
    // another ticket and a creation naming it replay to that ticket.
    let other = create_sample(store.as_ref(), "SUP", at(3)).await;
    let (other_changed, other_entries) = change_status(&other, "anna", "Open", at(4));
    let elsewhere = store
        .update_ticket(
            &other_changed,
            1,
            &other_entries,
            std::slice::from_ref(&reply),
        )
        .await
        .unwrap();
    assert_eq!(elsewhere, Written::Replayed(ticket.key.clone()));
    assert_eq!(
        store.get_ticket(&other.key).await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(
        store.timeline(&other.key).await.unwrap(),
        creation_entries(&other)
    );
    let new_key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let new_ticket = sample_ticket(new_key.clone(), at(5));
    let created = store
        .create_ticket(
            &new_ticket,
            &creation_entries(&new_ticket),
            std::slice::from_ref(&reply),
        )
        .await
        .unwrap();
    assert_eq!(created, Written::Replayed(ticket.key.clone()));
    assert_eq!(store.get_ticket(&new_key).await.unwrap(), None);
    assert_eq!(store.timeline(&new_key).await.unwrap(), Vec::new());
    unchanged().await;
}

/// A creation with two claims of which only the second exists writes
/// nothing (not the ticket, its entries or the first claim) and answers by
/// the existing one: `Replayed` for its payload, a mismatch for another.
/// With both claims new, both are recorded for the ticket.
pub async fn a_creation_whose_second_claim_exists_writes_nothing(store: Arc<dyn Store>) {
    let first = create_claimed(
        store.as_ref(),
        &claim("msgid:<a@example.com>", "hash-a"),
        at(0),
    )
    .await
    .0;

    for (hash, replays) in [("hash-a", true), ("hash-other", false)] {
        let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
        let ticket = sample_ticket(key.clone(), at(1));
        let claims = [
            claim("form:support:sub-2", "hash-b"),
            claim("msgid:<a@example.com>", hash),
        ];

        let result = store
            .create_ticket(&ticket, &creation_entries(&ticket), &claims)
            .await;

        if replays {
            assert_eq!(result.unwrap(), Written::Replayed(first.key.clone()));
        } else {
            match result {
                Err(StoreError::IdempotencyMismatch { key }) => {
                    assert_eq!(key, "msgid:<a@example.com>");
                }
                other => panic!("expected an idempotency mismatch, got {other:?}"),
            }
        }
        assert_eq!(store.get_ticket(&key).await.unwrap(), None);
        assert_eq!(store.timeline(&key).await.unwrap(), Vec::new());
        assert_eq!(
            store
                .idempotency_record("form:support:sub-2")
                .await
                .unwrap(),
            None,
            "the first claim must not be recorded (second claim hash {hash})"
        );
    }

    let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let ticket = sample_ticket(key.clone(), at(2));
    let claims = [
        claim("form:support:sub-3", "hash-c"),
        claim("msgid:<c@example.com>", "hash-c"),
    ];
    let created = store
        .create_ticket(&ticket, &creation_entries(&ticket), &claims)
        .await
        .unwrap();
    assert_eq!(created, Written::New);
    for claim in &claims {
        let record = store
            .idempotency_record(&claim.key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("claim {:?} is recorded", claim.key));
        assert_eq!(record.ticket, key);
        assert_eq!(record.payload_hash, claim.payload_hash);
    }
    assert_eq!(
        store
            .list_tickets(&TicketQuery {
                queue: queue("SUP"),
                limit: 10,
            })
            .await
            .unwrap()
            .iter()
            .map(|t| t.key.clone())
            .collect::<Vec<_>>(),
        vec![key, first.key]
    );
}

/// A Message-ID claimed by an update (a reply recorded on a ticket) reads
/// back with `idempotency_record`, naming that ticket, as does any other
/// claim of the same update.
pub async fn a_message_id_claimed_on_an_update_names_its_ticket(store: Arc<dyn Store>) {
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let (changed, entries) = change_status(&ticket, "anna", "Open", at(1));
    let claims = [
        claim("msgid:<reply-7@mail.example.com>", "hash-7"),
        claim("mail:s3:inbound/reply-7", "hash-7"),
    ];

    let written = store
        .update_ticket(&changed, 1, &entries, &claims)
        .await
        .unwrap();

    assert_eq!(written, Written::New);
    for claim in &claims {
        let record = store
            .idempotency_record(&claim.key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("claim {:?} is recorded", claim.key));
        assert_eq!(record.key, claim.key);
        assert_eq!(record.payload_hash, claim.payload_hash);
        assert_eq!(record.ticket, ticket.key);
    }
    assert_eq!(store.get_ticket(&ticket.key).await.unwrap(), Some(changed));
}

/// A marker is written once: a second put answers the first value and
/// changes nothing; it reads back, is removed by a delete (also harmless
/// for a key never written), and can be put again afterwards. Markers are
/// independent per key.
pub async fn a_marker_is_written_once_and_can_be_put_again_after_deletion(store: Arc<dyn Store>) {
    let key = "sent:SUP-1:ack";
    assert_eq!(store.get_marker(key).await.unwrap(), None);

    assert_eq!(
        store.put_marker(key, "first", Some(at(60))).await.unwrap(),
        None
    );
    assert_eq!(
        store.put_marker(key, "second", None).await.unwrap(),
        Some("first".to_owned())
    );
    assert_eq!(
        store.get_marker(key).await.unwrap(),
        Some("first".to_owned())
    );
    assert_eq!(
        store
            .put_marker("sent:SUP-2:ack", "other", None)
            .await
            .unwrap(),
        None
    );

    store.delete_marker(key).await.unwrap();
    assert_eq!(store.get_marker(key).await.unwrap(), None);
    assert_eq!(
        store.get_marker("sent:SUP-2:ack").await.unwrap(),
        Some("other".to_owned())
    );
    store.delete_marker("never-written").await.unwrap();

    assert_eq!(store.put_marker(key, "third", None).await.unwrap(), None);
    assert_eq!(
        store.get_marker(key).await.unwrap(),
        Some("third".to_owned())
    );
}

/// 20 concurrent puts of one marker key: exactly one writes (answers
/// `None`), every other answers the winner's value, which is what stays.
pub async fn concurrent_marker_puts_on_one_key_write_exactly_once(store: Arc<dyn Store>) {
    let key = "notify:SUP-1:breach";
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let value = format!("task-{i}");
                let answer = store.put_marker(key, &value, Some(at(60))).await;
                (value, answer)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        let (value, answer) = task.await.expect("the task finishes");
        results.push((value, answer.expect("a put succeeds or finds the marker")));
    }

    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, answer)| answer.is_none())
        .map(|(value, _)| value)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one put writes: {results:?}");
    let winner = winners[0].clone();
    for (value, answer) in &results {
        if value != &winner {
            assert_eq!(answer.as_ref(), Some(&winner), "answer to {value}");
        }
    }
    assert_eq!(store.get_marker(key).await.unwrap(), Some(winner));
}

/// 50 concurrent increments of one counter end at 50, each call seeing its
/// own value (1..=50, no two the same).
pub async fn concurrent_increments_of_one_counter_count_every_call_once(store: Arc<dyn Store>) {
    let key = "rate:form:203.0.113.7:2025-03-14T09:26";
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.increment_counter(key, at(2)).await })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(
            task.await
                .expect("the task finishes")
                .expect("the counter is incremented"),
        );
    }

    values.sort_unstable();
    assert_eq!(values, (1..=50).collect::<Vec<u64>>());
    assert_eq!(store.increment_counter(key, at(2)).await.unwrap(), 51);
}

/// Counters start at zero and count per key; a marker under the same key
/// as a counter is another record.
pub async fn counters_are_independent_per_key(store: Arc<dyn Store>) {
    for expected in 1..=3 {
        assert_eq!(store.increment_counter("a", at(2)).await.unwrap(), expected);
    }
    assert_eq!(store.increment_counter("b", at(2)).await.unwrap(), 1);
    assert_eq!(store.increment_counter("a:1", at(2)).await.unwrap(), 1);
    assert_eq!(store.increment_counter("a", at(3)).await.unwrap(), 4);
    assert_eq!(store.increment_counter("b", at(3)).await.unwrap(), 2);

    assert_eq!(store.get_marker("a").await.unwrap(), None);
    assert_eq!(store.put_marker("a", "marker", None).await.unwrap(), None);
    assert_eq!(store.increment_counter("a", at(3)).await.unwrap(), 5);
    assert_eq!(
        store.get_marker("a").await.unwrap(),
        Some("marker".to_owned())
    );
}

/// A write that names one idempotency key twice is a caller's mistake: it
/// is refused and writes nothing.
pub async fn a_write_claiming_one_key_twice_is_refused_and_writes_nothing(store: Arc<dyn Store>) {
    let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let ticket = sample_ticket(key.clone(), at(0));
    let twice = [
        claim("msgid:<twice@example.com>", "hash"),
        claim("msgid:<twice@example.com>", "hash"),
    ];

    let created = store
        .create_ticket(&ticket, &creation_entries(&ticket), &twice)
        .await;

    assert!(created.is_err(), "got {created:?}");
    assert_eq!(store.get_ticket(&key).await.unwrap(), None);
    assert_eq!(store.timeline(&key).await.unwrap(), Vec::new());
    assert_eq!(
        store
            .idempotency_record("msgid:<twice@example.com>")
            .await
            .unwrap(),
        None
    );

    let ticket = create_sample(store.as_ref(), "SUP", at(1)).await;
    let (changed, entries) = change_status(&ticket, "anna", "Open", at(2));
    let updated = store.update_ticket(&changed, 1, &entries, &twice).await;

    assert!(updated.is_err(), "got {updated:?}");
    assert_eq!(
        store.get_ticket(&ticket.key).await.unwrap(),
        Some(ticket.clone())
    );
    assert_eq!(
        store.timeline(&ticket.key).await.unwrap(),
        creation_entries(&ticket)
    );
    assert_eq!(
        store
            .idempotency_record("msgid:<twice@example.com>")
            .await
            .unwrap(),
        None
    );
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

/// The entries of one version are exactly those written with it, in order:
/// not those of the versions before or after, not another ticket's; a
/// version never written (or a ticket never stored) has none.
pub async fn the_entries_of_a_version_are_exactly_those_written_with_it(store: Arc<dyn Store>) {
    let v1 = create_sample(store.as_ref(), "SUP", at(0)).await;
    let neighbour = create_sample(store.as_ref(), "SUP", at(1)).await;
    let v2 = update_with(store.as_ref(), &v1, 3, |t| t.status = "Open".to_owned()).await;
    let v3 = update_with(store.as_ref(), &v2, 1, |t| t.status = "Closed".to_owned()).await;
    update_with(store.as_ref(), &neighbour, 2, |_| {}).await;

    let of = |version| {
        let store = Arc::clone(&store);
        let key = v1.key.clone();
        async move { store.entries_of_version(&key, version).await.unwrap() }
    };

    assert_eq!(of(1).await, creation_entries(&v1));
    assert_eq!(of(2).await, notes(&v2, 3));
    assert_eq!(of(3).await, notes(&v3, 1));
    assert_eq!(of(4).await, Vec::new());
    assert_eq!(of(0).await, Vec::new());
    assert_eq!(of(u64::MAX).await, Vec::new());
    let ghost = TicketKey::new(queue("SUP"), 404);
    assert_eq!(
        store.entries_of_version(&ghost, 1).await.unwrap(),
        Vec::new()
    );
    // All versions together are the timeline.
    let mut all = of(1).await;
    all.extend(of(2).await);
    all.extend(of(3).await);
    assert_eq!(all, store.timeline(&v1.key).await.unwrap());
}

/// Creates a ticket in `queue_key` with `assignee` and `status`.
async fn create_assigned(
    store: &dyn Store,
    queue_key: &str,
    assignee: Option<&str>,
    status: &str,
) -> Ticket {
    let key = store
        .allocate_ticket_key(&queue(queue_key))
        .await
        .expect("a key is allocated");
    let mut ticket = sample_ticket(key, at(0));
    ticket.assignee = assignee.map(str::to_owned);
    ticket.status = status.to_owned();
    let written = store
        .create_ticket(&ticket, &creation_entries(&ticket), &[])
        .await
        .expect("the ticket is created");
    assert_eq!(written, Written::New);
    ticket
}

/// Assigned tickets are counted per queue, assignee and status, and the
/// count follows a reassignment, a status change and an unassignment; an
/// unassigned ticket counts for no one.
pub async fn assigned_tickets_are_counted_by_assignee_and_status_as_they_change(
    store: Arc<dyn Store>,
) {
    let in_work = ["New".to_owned(), "Open".to_owned()];
    let count = |queue_key: &'static str, login: &'static str, statuses: Vec<String>| {
        let store = Arc::clone(&store);
        async move {
            store
                .count_assigned(&queue(queue_key), login, &statuses)
                .await
                .unwrap()
        }
    };
    let s = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();

    let anna_new = create_assigned(store.as_ref(), "SUP", Some("anna"), "New").await;
    let anna_open = create_assigned(store.as_ref(), "SUP", Some("anna"), "Open").await;
    let boris_open = create_assigned(store.as_ref(), "SUP", Some("boris"), "Open").await;
    create_assigned(store.as_ref(), "SUP", Some("anna"), "Closed").await;
    create_assigned(store.as_ref(), "SUP", None, "New").await;
    create_assigned(store.as_ref(), "OPS", Some("anna"), "Open").await;

    assert_eq!(count("SUP", "anna", in_work.to_vec()).await, 2);
    assert_eq!(count("SUP", "boris", in_work.to_vec()).await, 1);
    assert_eq!(count("SUP", "carol", in_work.to_vec()).await, 0);
    assert_eq!(count("SUP", "", in_work.to_vec()).await, 0);
    assert_eq!(count("OPS", "anna", in_work.to_vec()).await, 1);
    assert_eq!(count("SUP", "anna", s(&["Open"])).await, 1);
    assert_eq!(count("SUP", "anna", s(&["Closed"])).await, 1);
    assert_eq!(count("SUP", "anna", s(&["New", "New"])).await, 1);
    assert_eq!(count("SUP", "anna", s(&["Ope", "Ne"])).await, 0);
    assert_eq!(count("SUP", "anna", Vec::new()).await, 0);

    // Reassigned from anna to boris.
    update_with(store.as_ref(), &anna_new, 0, |t| {
        t.assignee = Some("boris".to_owned());
    })
    .await;
    assert_eq!(count("SUP", "anna", in_work.to_vec()).await, 1);
    assert_eq!(count("SUP", "boris", in_work.to_vec()).await, 2);

    // Out of work by its status.
    update_with(store.as_ref(), &anna_open, 0, |t| {
        t.status = "Closed".to_owned();
    })
    .await;
    assert_eq!(count("SUP", "anna", in_work.to_vec()).await, 0);
    assert_eq!(count("SUP", "anna", s(&["Closed"])).await, 2);

    // Unassigned.
    let unassigned = update_with(store.as_ref(), &boris_open, 0, |t| t.assignee = None).await;
    assert_eq!(count("SUP", "boris", in_work.to_vec()).await, 1);
    assert_eq!(count("SUP", "boris", s(&["Open"])).await, 0);

    // And assigned again.
    update_with(store.as_ref(), &unassigned, 0, |t| {
        t.assignee = Some("anna".to_owned());
    })
    .await;
    assert_eq!(count("SUP", "anna", in_work.to_vec()).await, 1);
    assert_eq!(count("OPS", "anna", in_work.to_vec()).await, 1);
}

/// The entries after a version are those of every later version, in
/// order, and no others: 0 gives the whole timeline, the last version (or
/// any later one) none; versions that wrote no entries and sequence numbers
/// whose digits grow (version 9 to 10, entry 9 to 10) change nothing; a
/// neighbour's entries never show.
pub async fn entries_after_a_version_come_back_in_order_and_only_those_of_later_versions(
    store: Arc<dyn Store>,
) {
    let v1 = create_sample(store.as_ref(), "SUP", at(0)).await;
    let neighbour = create_sample(store.as_ref(), "SUP", at(1)).await;
    // Entries written with each version, version 1 first; version 3 wrote
    // none, version 4 more than ten.
    let mut written = vec![creation_entries(&v1)];
    let mut current = v1.clone();
    for count in [3, 0, 12, 1, 2, 0, 1, 1, 2, 3] {
        current = update_with(store.as_ref(), &current, count, |_| {}).await;
        written.push(notes(&current, count));
    }
    let last = current.version;
    assert_eq!(last, 11);
    update_with(store.as_ref(), &neighbour, 2, |_| {}).await;

    for version in 0..=last {
        let expected: Vec<TimelineEntry> = written
            .iter()
            .skip(usize::try_from(version).unwrap())
            .flatten()
            .cloned()
            .collect();
        assert_eq!(
            store.entries_after_version(&v1.key, version).await.unwrap(),
            expected,
            "entries after version {version}"
        );
    }
    assert_eq!(
        store.entries_after_version(&v1.key, 0).await.unwrap(),
        store.timeline(&v1.key).await.unwrap()
    );
    for past_the_last in [last + 1, 1_000, u64::MAX - 1, u64::MAX] {
        assert_eq!(
            store
                .entries_after_version(&v1.key, past_the_last)
                .await
                .unwrap(),
            Vec::new(),
            "entries after version {past_the_last}"
        );
    }
    let ghost = TicketKey::new(queue("SUP"), 404);
    assert_eq!(
        store.entries_after_version(&ghost, 0).await.unwrap(),
        Vec::new()
    );
}

// SLA due index cases. The index is eventually consistent on DynamoDB
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

/// A ticket with a running SLA timer is due once its warning or deadline,
/// whichever is earlier and not yet recorded, has passed (at that instant,
/// not a microsecond before); due tickets come back earliest first, across
/// queues, at most `limit`; tickets without a running timer, or with
/// everything recorded, are never listed; a ticket reads back with its
/// timers.
pub async fn tickets_with_a_running_sla_timer_are_due_once_their_time_has_passed_earliest_first_within_the_limit(
    store: Arc<dyn Store>,
) {
    let micro = Duration::microseconds(1);
    // Warning at 30, deadline at 60: due at 30.
    let warns = create_with_sla(
        store.as_ref(),
        "SUP",
        sla_of(vec![running_timer("first_response", Some(at(30)), at(60))]),
    )
    .await;
    // Warned already (at 10): due at its deadline, 20.
    let warned = create_with_sla(
        store.as_ref(),
        "SUP",
        sla_of(vec![SlaTimer {
            warned: true,
            ..running_timer("first_response", Some(at(10)), at(20))
        }]),
    )
    .await;
    // A paused timer (its old deadline at 5 does not count) and a running
    // one due at 45.
    let paused_and_running = create_with_sla(
        store.as_ref(),
        "SUP",
        sla_of(vec![
            SlaTimer {
                state: TimerState::Paused,
                running_since: None,
                ..running_timer("first_response", Some(at(1)), at(5))
            },
            running_timer("resolution", None, at(45)),
        ]),
    )
    .await;
    // Another queue, due at 40.
    let other_queue = create_with_sla(store.as_ref(), "OPS", due_at(at(40))).await;
    // Never listed: no timers; a running timer with its warning and breach
    // recorded; a met timer.
    create_with_sla(store.as_ref(), "SUP", SlaState::default()).await;
    create_with_sla(
        store.as_ref(),
        "SUP",
        sla_of(vec![SlaTimer {
            warned: true,
            breached: true,
            ..running_timer("first_response", Some(at(2)), at(3))
        }]),
    )
    .await;
    let met = running_timer("first_response", None, at(4));
    create_with_sla(store.as_ref(), "SUP", sla_of(vec![met_timer(&met, at(1))])).await;

    assert_eq!(
        store.get_ticket(&warns.key).await.unwrap().as_ref(),
        Some(&warns)
    );
    assert_eq!(
        store
            .get_ticket(&paused_and_running.key)
            .await
            .unwrap()
            .as_ref(),
        Some(&paused_and_running)
    );
    let all = [
        listed(&warned, at(20)),
        listed(&warns, at(30)),
        listed(&other_queue, at(40)),
        listed(&paused_and_running, at(45)),
    ];
    // Settle on the widest read first, then check the narrower ones.
    assert_due(store.as_ref(), at(10_000), 100, &all).await;
    assert_due(store.as_ref(), at(0), 100, &[]).await;
    assert_due(store.as_ref(), at(20) - micro, 100, &[]).await;
    assert_due(store.as_ref(), at(20), 100, &all[..1]).await;
    assert_due(store.as_ref(), at(30) - micro, 100, &all[..1]).await;
    assert_due(store.as_ref(), at(30), 100, &all[..2]).await;
    assert_due(store.as_ref(), at(44), 100, &all[..3]).await;
    assert_due(store.as_ref(), at(45), 100, &all).await;
    assert_due(store.as_ref(), at(10_000), 4, &all).await;
    assert_due(store.as_ref(), at(10_000), 3, &all[..3]).await;
    assert_due(store.as_ref(), at(10_000), 2, &all[..2]).await;
    assert_due(store.as_ref(), at(10_000), 1, &all[..1]).await;
    assert_due(store.as_ref(), at(10_000), 0, &[]).await;
    assert_due(store.as_ref(), at(30), 1, &all[..1]).await;
}

/// Every ticket write keeps the ticket's place in the due index: a write
/// that stops its timer (met), or leaves nothing due (warning and breach
/// recorded), takes it out; one that moves the deadline later or earlier
/// moves it (the old time no longer lists it, the new one does); one that
/// does not touch the timers keeps it; one that starts a timer (or re-arms
/// a stopped one) puts it in.
pub async fn a_write_that_stops_the_timer_takes_the_ticket_out_of_the_due_index_and_one_that_moves_the_deadline_moves_it(
    store: Arc<dyn Store>,
) {
    let stopped = create_with_sla(store.as_ref(), "SUP", due_at(at(30))).await;
    let later = create_with_sla(store.as_ref(), "SUP", due_at(at(40))).await;
    let earlier = create_with_sla(store.as_ref(), "SUP", due_at(at(50))).await;
    let recorded = create_with_sla(store.as_ref(), "SUP", due_at(at(60))).await;
    let untouched = create_with_sla(store.as_ref(), "SUP", due_at(at(70))).await;
    let started = create_with_sla(store.as_ref(), "SUP", SlaState::default()).await;
    assert_due(
        store.as_ref(),
        at(10_000),
        100,
        &[
            listed(&stopped, at(30)),
            listed(&later, at(40)),
            listed(&earlier, at(50)),
            listed(&recorded, at(60)),
            listed(&untouched, at(70)),
        ],
    )
    .await;

    let timer = |t: &Ticket| t.sla.timers[0].clone();
    update_with(store.as_ref(), &stopped, 1, |t| {
        t.sla = sla_of(vec![met_timer(&timer(t), at(25))]);
    })
    .await;
    update_with(store.as_ref(), &later, 0, |t| t.sla = due_at(at(90))).await;
    update_with(store.as_ref(), &earlier, 2, |t| t.sla = due_at(at(10))).await;
    let recorded = update_with(store.as_ref(), &recorded, 1, |t| {
        t.sla.timers[0].warned = true;
        t.sla.timers[0].breached = true;
    })
    .await;
    update_with(store.as_ref(), &untouched, 1, |t| {
        t.status = "Open".to_owned();
    })
    .await;
    update_with(store.as_ref(), &started, 1, |t| {
        t.sla = sla_of(vec![running_timer("first_response", Some(at(80)), at(95))]);
    })
    .await;

    assert_due(
        store.as_ref(),
        at(10_000),
        100,
        &[
            listed(&earlier, at(10)),
            listed(&untouched, at(70)),
            listed(&started, at(80)),
            listed(&later, at(90)),
        ],
    )
    .await;
    // The old times list nothing of the moved or stopped tickets.
    assert_due(store.as_ref(), at(69), 100, &[listed(&earlier, at(10))]).await;
    assert_due(
        store.as_ref(),
        at(90) - Duration::microseconds(1),
        100,
        &[
            listed(&earlier, at(10)),
            listed(&untouched, at(70)),
            listed(&started, at(80)),
        ],
    )
    .await;

    // The recorded timer re-armed as its next cycle comes back.
    update_with(store.as_ref(), &recorded, 0, |t| {
        t.sla = sla_of(vec![SlaTimer {
            cycle: 2,
            ..running_timer("first_response", None, at(100))
        }]);
    })
    .await;
    assert_due(
        store.as_ref(),
        at(10_000),
        100,
        &[
            listed(&earlier, at(10)),
            listed(&untouched, at(70)),
            listed(&started, at(80)),
            listed(&later, at(90)),
            listed(&recorded, at(100)),
        ],
    )
    .await;
}

/// Writes that write nothing leave the due index as it was: an update
/// based on a stale version, a replayed creation or update (even one whose
/// ticket would move or stop the timer), a claim reused for another
/// payload, a creation under a taken key, an update of a missing ticket.
pub async fn a_refused_write_and_a_replayed_write_leave_the_due_index_as_it_was(
    store: Arc<dyn Store>,
) {
    let creation_claim = claim("form:support:due", "hash");
    let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let mut v1 = sample_ticket(key, at(0));
    v1.sla = due_at(at(30));
    let created = store
        .create_ticket(
            &v1,
            &creation_entries(&v1),
            std::slice::from_ref(&creation_claim),
        )
        .await
        .unwrap();
    assert_eq!(created, Written::New);
    let v2 = update_with(store.as_ref(), &v1, 1, |t| {
        t.status = "Open".to_owned();
    })
    .await;
    let as_it_was = [listed(&v1, at(30))];
    assert_due(store.as_ref(), at(10_000), 100, &as_it_was).await;

    // Stale: based on version 1, moving the deadline, then stopping it.
    for sla in [
        due_at(at(5)),
        sla_of(vec![met_timer(&v1.sla.timers[0], at(2))]),
    ] {
        let mut stale = v1.clone();
        stale.sla = sla;
        stale.version = 2;
        let refused = store.update_ticket(&stale, 1, &notes(&stale, 1), &[]).await;
        assert!(
            matches!(
                refused,
                Err(StoreError::VersionConflict {
                    actual: Some(2),
                    ..
                })
            ),
            "got {refused:?}"
        );
    }
    assert_due(store.as_ref(), at(10_000), 100, &as_it_was).await;

    // The creation replayed, with a ticket whose timer would be due earlier.
    let mut replayed_creation = v1.clone();
    replayed_creation.sla = due_at(at(1));
    let replayed = store
        .create_ticket(
            &replayed_creation,
            &creation_entries(&v1),
            std::slice::from_ref(&creation_claim),
        )
        .await
        .unwrap();
    assert_eq!(replayed, Written::Replayed(v1.key.clone()));
    assert_due(store.as_ref(), at(10_000), 100, &as_it_was).await;

    // A claimed update moves the deadline; its replays (one stopping the
    // timer, one moving it again) and a reuse for another payload do not.
    let update_claim = claim("msgid:<due@example.com>", "hash");
    let mut v3 = v2.clone();
    v3.version = 3;
    v3.sla = due_at(at(50));
    let written = store
        .update_ticket(&v3, 2, &notes(&v3, 1), std::slice::from_ref(&update_claim))
        .await
        .unwrap();
    assert_eq!(written, Written::New);
    let as_it_was = [listed(&v1, at(50))];
    assert_due(store.as_ref(), at(10_000), 100, &as_it_was).await;
    for sla in [
        sla_of(vec![met_timer(&v3.sla.timers[0], at(3))]),
        due_at(at(7)),
    ] {
        let mut again = v3.clone();
        again.sla = sla;
        let replayed = store
            .update_ticket(
                &again,
                2,
                &notes(&again, 1),
                std::slice::from_ref(&update_claim),
            )
            .await
            .unwrap();
        assert_eq!(replayed, Written::Replayed(v1.key.clone()));
    }
    let mut v4 = v3.clone();
    v4.version = 4;
    v4.sla = due_at(at(8));
    let mismatch = store
        .update_ticket(
            &v4,
            3,
            &notes(&v4, 1),
            &[claim("msgid:<due@example.com>", "another hash")],
        )
        .await;
    assert!(
        matches!(mismatch, Err(StoreError::IdempotencyMismatch { .. })),
        "got {mismatch:?}"
    );
    assert_due(store.as_ref(), at(10_000), 100, &as_it_was).await;

    // A creation under the taken key and an update of a missing ticket,
    // both with timers due early.
    let mut taken = sample_ticket(v1.key.clone(), at(1));
    taken.sla = due_at(at(6));
    let refused = store.create_ticket(&taken, &[], &[]).await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyExists(_))),
        "got {refused:?}"
    );
    let mut ghost = sample_ticket(TicketKey::new(queue("SUP"), 404), at(0));
    ghost.sla = due_at(at(4));
    ghost.version = 2;
    let refused = store.update_ticket(&ghost, 1, &notes(&ghost, 1), &[]).await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "got {refused:?}"
    );
    assert_due(store.as_ref(), at(10_000), 100, &as_it_was).await;
    assert_eq!(store.get_ticket(&v1.key).await.unwrap(), Some(v3));
}

/// Thirty tickets due at one instant (their keys spread over every shard
/// of a sharded index) all come back, and a limit below thirty gives that
/// many of them, each once; with distinct due times before them, a limit
/// gives exactly the earliest ones in order.
pub async fn many_tickets_due_at_one_instant_all_come_back_and_the_limit_cuts_exactly(
    store: Arc<dyn Store>,
) {
    let instant = at(30);
    let mut tied = BTreeSet::new();
    for _ in 0..30 {
        tied.insert(
            create_with_sla(store.as_ref(), "SUP", due_at(instant))
                .await
                .key,
        );
    }
    let all_tied = |due: &[DueTicket]| {
        due.iter().all(|d| d.due == instant)
            && due.iter().map(|d| &d.key).collect::<BTreeSet<_>>().len() == due.len()
            && due.iter().all(|d| tied.contains(&d.key))
    };

    let due = settled_due(store.as_ref(), at(10_000), 100, |due| due.len() == 30).await;
    assert_eq!(due.len(), 30, "{due:?}");
    assert!(all_tied(&due), "{due:?}");
    assert_eq!(
        due.iter().map(|d| d.key.clone()).collect::<BTreeSet<_>>(),
        tied
    );
    assert_eq!(store.sla_due(instant, 30).await.unwrap().len(), 30);
    assert_eq!(
        store
            .sla_due(instant - Duration::microseconds(1), 100)
            .await
            .unwrap(),
        Vec::new()
    );
    for limit in [29, 7, 1] {
        let due = store.sla_due(instant, limit).await.unwrap();
        assert_eq!(due.len(), limit, "limit {limit}: {due:?}");
        assert!(all_tied(&due), "limit {limit}: {due:?}");
    }

    // Twenty more, due one minute apart before the instant, created in an
    // order unlike their due order.
    let mut spread = Vec::new();
    for i in 0..20 {
        let minutes = (i * 7) % 20 + 1;
        let ticket = create_with_sla(store.as_ref(), "OPS", due_at(at(minutes))).await;
        spread.push(listed(&ticket, at(minutes)));
    }
    spread.sort_by_key(|a| a.due);

    let due = settled_due(store.as_ref(), at(10_000), 100, |due| due.len() == 50).await;
    assert_eq!(due.len(), 50, "{due:?}");
    assert_eq!(due[..20], spread[..]);
    assert!(all_tied(&due[20..]), "{due:?}");
    // Every limit up to twenty (smaller and larger than what one shard
    // holds) gives exactly the earliest ones, in order.
    for limit in 1..=20 {
        assert_eq!(
            store.sla_due(at(10_000), limit).await.unwrap(),
            spread[..limit],
            "limit {limit}"
        );
    }
    assert_eq!(store.sla_due(at(12), 100).await.unwrap(), spread[..12]);
    let due = store.sla_due(at(10_000), 25).await.unwrap();
    assert_eq!(due.len(), 25);
    assert_eq!(due[..20], spread[..]);
    assert!(all_tied(&due[20..]), "{due:?}");
}

/// A timer due beyond the year 9999 (a deadline `Calendar::add` puts at
/// `DateTime::<Utc>::MAX_UTC` because the calendar never opens again, or
/// one an absurd target puts in the year 10000) is not due at any earlier
/// time, does not stop the tickets due before it from being listed, and is
/// listed, after them, once `until` reaches it; the ticket reads back with
/// its timer.
pub async fn a_timer_due_beyond_the_year_9999_is_listed_only_once_its_time_has_come(
    store: Arc<dyn Store>,
) {
    let forever = DateTime::<Utc>::MAX_UTC;
    // Instants are kept to the microsecond.
    let forever_kept = DateTime::from_timestamp_micros(forever.timestamp_micros()).unwrap();
    let year_10000 = Utc
        .with_ymd_and_hms(10_000, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid instant");
    let soon = create_with_sla(store.as_ref(), "SUP", due_at(at(30))).await;
    let never = create_with_sla(store.as_ref(), "SUP", due_at(forever)).await;
    let far = create_with_sla(store.as_ref(), "SUP", due_at(year_10000)).await;

    let mut never_kept = never.clone();
    never_kept.sla.timers[0].deadline = Some(forever_kept);
    let read = store.get_ticket(&never.key).await.unwrap();
    assert!(
        read == Some(never.clone()) || read == Some(never_kept),
        "got {read:?}"
    );
    assert_eq!(
        store.get_ticket(&far.key).await.unwrap().as_ref(),
        Some(&far)
    );
    let just_soon = [listed(&soon, at(30))];
    assert_due(store.as_ref(), at(10_000), 100, &just_soon).await;
    assert_due(
        store.as_ref(),
        year_10000 - Duration::microseconds(1),
        100,
        &just_soon,
    )
    .await;
    assert_due(
        store.as_ref(),
        year_10000,
        100,
        &[listed(&soon, at(30)), listed(&far, year_10000)],
    )
    .await;
    assert_due(
        store.as_ref(),
        forever,
        100,
        &[
            listed(&soon, at(30)),
            listed(&far, year_10000),
            listed(&never, forever_kept),
        ],
    )
    .await;
}

// Cases for stores with a change feed (`Store::change_feed`): SQLite.

/// The store's change feed.
fn feed_of(store: &dyn Store) -> &dyn ChangeFeed {
    store
        .change_feed()
        .expect("this case needs a store with a change feed")
}

/// Every change after `after`.
async fn all_changes_after(feed: &dyn ChangeFeed, after: u64) -> Vec<FeedChange> {
    feed.changes_after(after, usize::MAX).await.unwrap()
}

/// A creation and two updates are three changes, numbered one apart, each
/// with the ticket before (none for the creation) and after; reads start
/// after the given position and stop at the limit.
pub async fn every_ticket_write_is_one_change_with_the_ticket_before_and_after(
    store: Arc<dyn Store>,
) {
    let feed = feed_of(store.as_ref());
    assert_eq!(all_changes_after(feed, 0).await, Vec::new());

    let v1 = create_sample(store.as_ref(), "SUP", at(0)).await;
    let v2 = update_with(store.as_ref(), &v1, 1, |t| t.status = "Open".to_owned()).await;
    let v3 = update_with(store.as_ref(), &v2, 2, |t| t.assignee = None).await;

    let changes = all_changes_after(feed, 0).await;
    assert_eq!(changes.len(), 3, "{changes:#?}");
    let first = changes[0].seq;
    assert!(first >= 1);
    assert_eq!(
        changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        vec![first, first + 1, first + 2]
    );
    assert_eq!((changes[0].before.as_ref(), &changes[0].after), (None, &v1));
    assert_eq!(
        (changes[1].before.as_ref(), &changes[1].after),
        (Some(&v1), &v2)
    );
    assert_eq!(
        (changes[2].before.as_ref(), &changes[2].after),
        (Some(&v2), &v3)
    );

    assert_eq!(
        feed.changes_after(first, 1).await.unwrap(),
        vec![changes[1].clone()]
    );
    assert_eq!(all_changes_after(feed, first + 2).await, Vec::new());
    assert_eq!(feed.changes_after(0, 0).await.unwrap(), Vec::new());
}

/// Writes that change nothing leave nothing in the feed: a replayed
/// creation or update, an idempotency mismatch, a stale update, an update
/// of a missing ticket, a creation under a taken key.
pub async fn writes_that_change_nothing_add_no_change(store: Arc<dyn Store>) {
    let feed = feed_of(store.as_ref());
    let (ticket, created) = create_claimed(store.as_ref(), &claim("form:1", "h"), at(0)).await;
    assert_eq!(created, Written::New);
    let (changed, entries) = change_status(&ticket, "anna", "Open", at(1));
    let reply = claim("msgid:<r@example.com>", "h");
    store
        .update_ticket(&changed, 1, &entries, std::slice::from_ref(&reply))
        .await
        .unwrap();
    let before = all_changes_after(feed, 0).await;
    assert_eq!(before.len(), 2);

    let (_, replayed) = create_claimed(store.as_ref(), &claim("form:1", "h"), at(2)).await;
    assert_eq!(replayed, Written::Replayed(ticket.key.clone()));
    let replayed = store
        .update_ticket(&changed, 1, &entries, std::slice::from_ref(&reply))
        .await
        .unwrap();
    assert_eq!(replayed, Written::Replayed(ticket.key.clone()));
    let mismatch = store
        .update_ticket(
            &changed,
            1,
            &entries,
            &[claim("msgid:<r@example.com>", "x")],
        )
        .await;
    assert!(matches!(
        mismatch,
        Err(StoreError::IdempotencyMismatch { .. })
    ));
    let (stale, stale_entries) = change_status(&ticket, "boris", "Closed", at(3));
    let refused = store.update_ticket(&stale, 1, &stale_entries, &[]).await;
    assert!(
        matches!(refused, Err(StoreError::VersionConflict { .. })),
        "got {refused:?}"
    );
    let ghost = sample_ticket(TicketKey::new(queue("SUP"), 404), at(0));
    let (ghost_changed, ghost_entries) = change_status(&ghost, "anna", "Open", at(1));
    let missing = store
        .update_ticket(&ghost_changed, 1, &ghost_entries, &[])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "got {missing:?}"
    );
    let taken = store.create_ticket(&ticket, &[], &[]).await;
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists(_))),
        "got {taken:?}"
    );

    assert_eq!(all_changes_after(feed, 0).await, before);
}

/// A cursor reads 0 until set, keeps its position when the store is opened
/// again (`open` opens the same store each time), never moves backwards,
/// and is independent of other cursors; changes and their numbering
/// survive reopening too.
pub async fn a_feed_cursor_persists_across_reopening_and_never_moves_backwards(
    open: impl Fn() -> Arc<dyn Store>,
) {
    let (ticket, seqs) = {
        let store = open();
        let feed = feed_of(store.as_ref());
        assert_eq!(feed.cursor("triggers").await.unwrap(), 0);
        let v1 = create_sample(store.as_ref(), "SUP", at(0)).await;
        let v2 = update_with(store.as_ref(), &v1, 1, |_| {}).await;
        let v3 = update_with(store.as_ref(), &v2, 1, |_| {}).await;
        let seqs: Vec<u64> = all_changes_after(feed, 0)
            .await
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(seqs.len(), 3);
        feed.set_cursor("triggers", seqs[1]).await.unwrap();
        feed.set_cursor("triggers", seqs[0]).await.unwrap();
        assert_eq!(feed.cursor("triggers").await.unwrap(), seqs[1]);
        (v3, seqs)
    };

    let store = open();
    let feed = feed_of(store.as_ref());
    assert_eq!(feed.cursor("triggers").await.unwrap(), seqs[1]);
    assert_eq!(feed.cursor("webhooks").await.unwrap(), 0);
    feed.set_cursor("triggers", 0).await.unwrap();
    assert_eq!(feed.cursor("triggers").await.unwrap(), seqs[1]);
    let unread = all_changes_after(feed, seqs[1]).await;
    assert_eq!(
        unread.iter().map(|c| c.seq).collect::<Vec<_>>(),
        vec![seqs[2]]
    );
    assert_eq!(unread[0].after, ticket);
    let v4 = update_with(store.as_ref(), &ticket, 0, |_| {}).await;
    let next = all_changes_after(feed, seqs[2]).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].seq, seqs[2] + 1);
    assert_eq!(next[0].after, v4);
}

/// Moving a cursor forgets the changes every cursor has passed and keeps
/// every change some cursor has not; positions are never reused after
/// their changes are forgotten.
pub async fn pruning_the_feed_keeps_every_change_a_cursor_has_not_passed(store: Arc<dyn Store>) {
    let feed = feed_of(store.as_ref());
    let mut ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    for _ in 0..4 {
        ticket = update_with(store.as_ref(), &ticket, 0, |_| {}).await;
    }
    let all = all_changes_after(feed, 0).await;
    let seqs: Vec<u64> = all.iter().map(|c| c.seq).collect();
    assert_eq!(seqs.len(), 5);
    let from = |i: usize| all[i..].to_vec();

    feed.set_cursor("a", seqs[1]).await.unwrap();
    assert_eq!(all_changes_after(feed, 0).await, from(2));

    // A second cursor ahead of the first forgets nothing the first still
    // has to read.
    feed.set_cursor("b", seqs[3]).await.unwrap();
    assert_eq!(all_changes_after(feed, 0).await, from(2));
    assert_eq!(all_changes_after(feed, seqs[1]).await, from(2));

    feed.set_cursor("a", seqs[4]).await.unwrap();
    assert_eq!(all_changes_after(feed, 0).await, from(4));
    assert_eq!(all_changes_after(feed, seqs[3]).await, from(4));

    // Everything read by everyone: the feed is empty, and the next change
    // still gets a new position.
    feed.set_cursor("b", seqs[4]).await.unwrap();
    assert_eq!(all_changes_after(feed, 0).await, Vec::new());
    let next = update_with(store.as_ref(), &ticket, 0, |_| {}).await;
    let after = all_changes_after(feed, 0).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].seq, seqs[4] + 1);
    assert_eq!(after[0].after, next);
}

/// A committed ticket write wakes a reader that waits, every reader that
/// registered before it read the feed, and a reader that only starts
/// waiting after the write; a replayed write wakes no one.
pub async fn a_ticket_write_wakes_the_feed_readers(store: Arc<dyn Store>) {
    use std::time::Duration as StdDuration;

    let wakeup = feed_of(store.as_ref()).wakeup();
    let soon = StdDuration::from_secs(5);

    // Waiting already, in another task.
    let (registered, is_registered) = tokio::sync::oneshot::channel();
    let waiter = {
        let wakeup = Arc::clone(&wakeup);
        tokio::spawn(async move {
            let notified = wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let _ = registered.send(());
            notified.await;
        })
    };
    is_registered.await.expect("the reader registers");
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    tokio::time::timeout(soon, waiter)
        .await
        .expect("the waiting reader is woken")
        .expect("the reader task finishes");

    // Registered before reading the feed (two readers), woken by a write
    // that commits before either awaits.
    let first = wakeup.notified();
    let second = wakeup.notified();
    tokio::pin!(first, second);
    first.as_mut().enable();
    second.as_mut().enable();
    let ticket = update_with(store.as_ref(), &ticket, 1, |_| {}).await;
    tokio::time::timeout(soon, first)
        .await
        .expect("the first registered reader is woken");
    tokio::time::timeout(soon, second)
        .await
        .expect("the second registered reader is woken");

    // Checked the feed, then a write committed, then it waits.
    update_with(store.as_ref(), &ticket, 1, |_| {}).await;
    tokio::time::timeout(soon, wakeup.notified())
        .await
        .expect("a write just before the wait is not missed");

    // A replay writes nothing and wakes no one.
    let (claimed, _) = create_claimed(store.as_ref(), &claim("form:w", "h"), at(1)).await;
    tokio::time::timeout(soon, wakeup.notified())
        .await
        .expect("the claimed creation, which nobody waited for, is not missed");
    let waiting = wakeup.notified();
    tokio::pin!(waiting);
    waiting.as_mut().enable();
    let (_, replayed) = create_claimed(store.as_ref(), &claim("form:w", "h"), at(2)).await;
    assert_eq!(replayed, Written::Replayed(claimed.key));
    assert!(
        tokio::time::timeout(StdDuration::from_millis(100), waiting)
            .await
            .is_err(),
        "a replayed write woke a reader"
    );
}
