//! Idempotency claims and markers: a creation or update under a claim is
//! recorded once; replaying it (even concurrently) answers `Replayed` and
//! writes nothing, the key with another payload (or twice in one write) is
//! refused and writes nothing, and the claim names its ticket. A marker is
//! written once, even under concurrent puts, and can be put again after it
//! is deleted.

use std::sync::Arc;

use helpdesk::domain::Ticket;
use helpdesk::store::{ClaimPurpose, MailClaim, Step, Store, StoreError, TicketQuery, Written};

use super::{
    at, change_status, claim, create_claimed, create_sample, creation_entries, queue, sample_ticket,
};

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
        .list_tickets(&TicketQuery::newest(queue("SUP"), 10))
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
    assert_eq!(record.purpose, ClaimPurpose::Payload("hash-1".into()));
    assert_eq!(record.ticket, first.0.key);
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
        .list_tickets(&TicketQuery::newest(queue("SUP"), 20))
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
        assert_eq!(record.purpose, claim.purpose);
    }
    assert_eq!(
        store
            .list_tickets(&TicketQuery::newest(queue("SUP"), 10))
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
        assert_eq!(record.purpose, claim.purpose);
        assert_eq!(record.ticket, ticket.key);
    }
    assert_eq!(store.get_ticket(&ticket.key).await.unwrap(), Some(changed));
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

/// Every kind of claim reads back as the kind it was written as, and a
/// redelivery of a step answers `Replayed` while the same key claimed for
/// another kind (a Message-ID that opened a ticket against one merely
/// recorded) is refused.
pub async fn every_kind_of_claim_reads_back_as_written_and_only_the_same_kind_replays(
    store: Arc<dyn Store>,
) {
    let kinds = [
        ClaimPurpose::Payload("0f3a".into()),
        ClaimPurpose::Mail(MailClaim::OpenedTicket),
        ClaimPurpose::Mail(MailClaim::Recorded),
        ClaimPurpose::MailContent(MailClaim::OpenedTicket, "9c1e".into()),
        ClaimPurpose::MailContent(MailClaim::Recorded, "9c1e".into()),
        ClaimPurpose::Once(Step::TriggerWrite),
        ClaimPurpose::Once(Step::EffectFailure),
        ClaimPurpose::Once(Step::SlaNote),
        ClaimPurpose::Once(Step::Suppression),
        ClaimPurpose::Once(Step::Attachments),
        ClaimPurpose::Once(Step::FollowUpLink),
    ];
    for (index, purpose) in kinds.iter().enumerate() {
        let mut claimed = claim(&format!("kind:{index}"), "unused");
        claimed.purpose = purpose.clone();
        let (ticket, _) = create_claimed(store.as_ref(), &claimed, at(index as i64)).await;
        let record = store
            .idempotency_record(&claimed.key)
            .await
            .unwrap()
            .expect("the claim is recorded");
        assert_eq!(&record.purpose, purpose);

        let again = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
        let second = sample_ticket(again, at(100));
        let replay = store
            .create_ticket(
                &second,
                &creation_entries(&second),
                std::slice::from_ref(&claimed),
            )
            .await
            .unwrap();
        assert_eq!(replay, Written::Replayed(ticket.key.clone()), "{purpose:?}");
    }

    let mut opened = claim("msgid:<kinds@example.com>", "unused");
    opened.purpose = ClaimPurpose::Mail(MailClaim::OpenedTicket);
    create_claimed(store.as_ref(), &opened, at(200)).await;
    let mut recorded = opened.clone();
    recorded.purpose = ClaimPurpose::Mail(MailClaim::Recorded);
    let key = store.allocate_ticket_key(&queue("SUP")).await.unwrap();
    let ticket = sample_ticket(key, at(201));
    match store
        .create_ticket(&ticket, &creation_entries(&ticket), &[recorded])
        .await
    {
        Err(StoreError::IdempotencyMismatch { key }) => assert_eq!(key, opened.key),
        other => panic!("expected an idempotency mismatch, got {other:?}"),
    }
}
