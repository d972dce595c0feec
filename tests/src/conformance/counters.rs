//! Counters: ticket keys are allocated unique and increasing per queue under
//! concurrent creation; `increment_counter` counts every call once, even
//! concurrently, independently per key.

use std::collections::BTreeMap;
use std::sync::Arc;

use helpdesk::store::Store;

use super::{at, create_sample, queue};

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
