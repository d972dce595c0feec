//! The change feed (`Store::change_feed`; SQLite only, DynamoDB has its
//! stream instead): every ticket write is one change with the ticket before
//! and after, writes that change nothing add no change, cursors persist and
//! never move backwards, pruning keeps what a cursor has not passed, and a
//! write wakes the feed readers.

use std::sync::Arc;

use helpdesk::domain::TicketKey;
use helpdesk::store::{ChangeFeed, FeedChange, Store, StoreError, Written};

use super::{
    at, change_status, claim, create_claimed, create_sample, queue, sample_ticket, update_with,
};

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
