//! The SLA due index: a ticket with a running SLA timer is listed by
//! `sla_due` once its time has passed, earliest first, within the limit
//! (also many tickets due at one instant, and timers beyond the year 9999);
//! every ticket write keeps its place in the index, and a refused or replayed
//! write leaves the index as it was. The index is eventually consistent on
//! DynamoDB (a global secondary index), so reads of it go through
//! `settled_due`.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use helpdesk::domain::{SlaState, SlaTimer, Ticket, TicketKey, TimerState};
use helpdesk::store::{DueTicket, Store, StoreError, Written};

use super::{
    assert_due, at, claim, create_with_sla, creation_entries, due_at, listed, met_timer, notes,
    queue, running_timer, sample_ticket, settled_due, sla_of, update_with,
};

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
