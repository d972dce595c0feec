//! The timeline: entries come back in `seq` order across updates;
//! `entries_of_version` gives exactly the entries written with one version,
//! and `entries_after_version` those of every later version, in order.

use std::sync::Arc;

use helpdesk::domain::{TicketKey, TimelineEntry};
use helpdesk::store::Store;

use super::{at, change_status, create_sample, creation_entries, notes, queue, update_with};

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

/// A timeline page is the newest entries below a sequence number, newest
/// first, as many as asked: paging back from the newest with each page's
/// last entry gives the whole timeline reversed, and a neighbour's entries
/// never show.
pub async fn timeline_pages_go_back_from_the_newest_entry_without_gaps(store: Arc<dyn Store>) {
    let ticket = create_sample(store.as_ref(), "SUP", at(0)).await;
    let neighbour = create_sample(store.as_ref(), "SUP", at(1)).await;
    let mut current = ticket.clone();
    for count in [3, 0, 12, 1, 2] {
        current = update_with(store.as_ref(), &current, count, |_| {}).await;
    }
    update_with(store.as_ref(), &neighbour, 2, |_| {}).await;
    let mut whole = store.timeline(&ticket.key).await.unwrap();
    whole.reverse();
    assert!(whole.len() > 15, "{} entries", whole.len());

    assert_eq!(
        store.timeline_page(&ticket.key, None, 1_000).await.unwrap(),
        whole
    );
    for size in [1, 4, 7] {
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .timeline_page(&ticket.key, before, size)
                .await
                .unwrap();
            assert!(page.len() <= size);
            let Some(last) = page.last() else { break };
            before = Some(last.seq);
            paged.extend(page);
        }
        assert_eq!(paged, whole, "pages of {size}");
    }
    assert_eq!(
        store.timeline_page(&ticket.key, Some(0), 10).await.unwrap(),
        Vec::new()
    );
    assert_eq!(
        store.timeline_page(&ticket.key, None, 0).await.unwrap(),
        Vec::new()
    );
}
