//! Tickets: a created ticket reads back equal and a missing one as none; a
//! creation under a taken key, a stale update, an update of a missing
//! ticket and one that does not advance the version by one are refused and
//! lose nothing; listing is per queue, newest first, within the limit,
//! showing the latest version; `count_assigned` counts by assignee and
//! status as tickets change.

use std::collections::BTreeSet;
use std::sync::Arc;

use helpdesk::domain::{Ticket, TicketKey};
use helpdesk::store::{ListPosition, Store, StoreError, TicketQuery, Written};

use super::{
    at, change_status, claim, create_sample, creation_entries, queue, sample_ticket, update_with,
};

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
    assert_eq!(record.purpose, claim.purpose);
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
    let list = |queue_key: &str, limit: usize| TicketQuery::newest(queue(queue_key), limit);

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
        .list_tickets(&TicketQuery::newest(queue("SUP"), 10))
        .await
        .unwrap();

    assert_eq!(listed, vec![changed]);
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

/// A listing by assignee (or unassigned), by status, or by both holds
/// exactly the matching tickets of the queue, newest first; pages resume
/// after the last row (ties in time broken by number) and together hold
/// every match once; a change of status or assignee moves the ticket
/// between listings at once.
pub async fn listings_by_assignee_and_status_are_exact_newest_first_and_paged(
    store: Arc<dyn Store>,
) {
    // (minutes, assignee, status): two created at the same instant.
    let plan: [(i64, Option<&str>, &str); 8] = [
        (1, Some("anna"), "New"),
        (2, None, "New"),
        (3, Some("anna"), "Open"),
        (4, Some("boris"), "Open"),
        (5, None, "Open"),
        (5, Some("anna"), "Open"),
        (6, None, "New"),
        (7, Some("anna"), "Closed"),
    ];
    let mut sup = Vec::new();
    for (minutes, assignee, status) in plan {
        let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
        let mut ticket = sample_ticket(key, at(minutes));
        ticket.assignee = assignee.map(str::to_owned);
        ticket.status = status.to_owned();
        store
            .create_ticket(&ticket, &creation_entries(&ticket), &[])
            .await
            .unwrap();
        sup.push(ticket);
    }
    let ops = create_assigned(store.as_ref(), "OPS", Some("anna"), "Open").await;
    let expected = |sup: &[Ticket], assignee: &Option<Option<String>>, status: &Option<String>| {
        let mut matching: Vec<TicketKey> = sup
            .iter()
            .filter(|t| assignee.as_ref().is_none_or(|a| *a == t.assignee))
            .filter(|t| status.as_ref().is_none_or(|s| *s == t.status))
            .map(|t| t.key.clone())
            .collect();
        matching.sort_by_key(|k| {
            let t = sup.iter().find(|t| &t.key == k).unwrap();
            std::cmp::Reverse((t.created_at, t.key.number()))
        });
        matching
    };
    let assignees = [
        None,
        Some(None),
        Some(Some("anna".to_owned())),
        Some(Some("boris".to_owned())),
    ];
    let statuses = [None, Some("New".to_owned()), Some("Open".to_owned())];
    for assignee in &assignees {
        for status in &statuses {
            let query = filtered(assignee, status);
            let listed = keys_listed(store.as_ref(), &query).await;
            let want = expected(&sup, assignee, status);
            assert_eq!(listed, want, "{assignee:?} {status:?}");
            assert!(!listed.contains(&ops.key));

            // Two at a time, each page after the last row of the one before.
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_tickets(&TicketQuery {
                        after,
                        limit: 2,
                        ..query.clone()
                    })
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some(ListPosition::of(last));
                paged.extend(page.iter().map(|t| t.key.clone()));
                if page.len() < 2 {
                    break;
                }
            }
            assert_eq!(paged, want, "paged {assignee:?} {status:?}");
        }
    }

    // anna's new ticket is opened and handed to boris: it leaves anna's and
    // New's listings and enters boris's and Open's, at its place in age.
    let first = &sup[0];
    let mut moved = first.clone();
    moved.status = "Open".to_owned();
    moved.assignee = Some("boris".to_owned());
    moved.version = 2;
    store.update_ticket(&moved, 1, &[], &[]).await.unwrap();
    sup[0] = moved;
    for assignee in &assignees {
        for status in &statuses {
            let query = filtered(assignee, status);
            let listed = keys_listed(store.as_ref(), &query).await;
            assert_eq!(
                listed,
                expected(&sup, assignee, status),
                "after the move: {assignee:?} {status:?}"
            );
        }
    }
}

/// The first 100 of queue SUP's tickets with `assignee` and `status`.
fn filtered(assignee: &Option<Option<String>>, status: &Option<String>) -> TicketQuery {
    TicketQuery {
        assignee: assignee.clone(),
        status: status.clone(),
        ..TicketQuery::newest(queue("SUP"), 100)
    }
}

/// The keys `query` lists, in order.
async fn keys_listed(store: &dyn Store, query: &TicketQuery) -> Vec<TicketKey> {
    store
        .list_tickets(query)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.key)
        .collect()
}
