//! Report rollups: a queue's rollups are the sum of the counters kept for
//! its tickets; keeping a ticket's counters again changes nothing, keeping
//! new ones adds only the difference (even when many keep one ticket at
//! once), reads follow class and day, and a repair adds without touching
//! what is kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use helpdesk::domain::TicketKey;
use helpdesk::store::{Counter, Store};

use super::queue;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).expect("a day of March")
}

fn counter(class: &str, d: u32, key: &str, n: i64) -> Counter {
    Counter {
        class: class.to_owned(),
        day: day(d),
        key: key.to_owned(),
        n,
    }
}

/// The rollups of SUP in `classes` up to `to`, as (class, day, key) -> n,
/// zeros left out.
async fn sums(
    store: &dyn Store,
    classes: &[&str],
    to: u32,
) -> BTreeMap<(String, u32, String), i64> {
    let classes: Vec<String> = classes.iter().map(|c| (*c).to_owned()).collect();
    let days = store
        .rollups(&queue("SUP"), &classes, day(to))
        .await
        .expect("rollups read");
    let counters = helpdesk::store::RollupDay::counters(&days).expect("rollups decode");
    let mut out = BTreeMap::new();
    for c in counters {
        use chrono::Datelike;
        *out.entry((c.class, c.day.day(), c.key)).or_insert(0) += c.n;
    }
    out.retain(|_, n| *n != 0);
    out
}

fn ticket(n: u64) -> TicketKey {
    TicketKey::new(queue("SUP"), n)
}

fn expect(entries: &[(&str, u32, &str, i64)]) -> BTreeMap<(String, u32, String), i64> {
    entries
        .iter()
        .map(|(c, d, k, n)| (((*c).to_owned(), *d, (*k).to_owned()), *n))
        .collect()
}

/// Two tickets' counters sum; keeping the first's again writes nothing.
pub async fn keeping_a_tickets_counters_adds_them_and_keeping_them_again_changes_nothing(
    store: Arc<dyn Store>,
) {
    let sup = queue("SUP");
    let one = [
        counter("created:all", 2, "a", 1),
        counter("open:all", 2, "o", 1),
    ];
    let two = [
        counter("created:all", 2, "a", 1),
        counter("created:all", 3, "a", 1),
    ];
    assert_eq!(
        store.keep_counters(&sup, &ticket(1), &one).await.unwrap(),
        2
    );
    assert_eq!(
        store.keep_counters(&sup, &ticket(2), &two).await.unwrap(),
        2
    );
    assert_eq!(
        store.keep_counters(&sup, &ticket(1), &one).await.unwrap(),
        0
    );
    assert_eq!(
        sums(store.as_ref(), &["created:all", "open:all"], 31).await,
        expect(&[
            ("created:all", 2, "a", 2),
            ("created:all", 3, "a", 1),
            ("open:all", 2, "o", 1)
        ])
    );
}

/// New counters for a ticket replace its old ones: what it no longer
/// counts goes, what it counts now comes, the other ticket's stay.
pub async fn keeping_new_counters_adds_only_the_difference(store: Arc<dyn Store>) {
    let sup = queue("SUP");
    let before = [
        counter("open:all", 2, "o", 1),
        counter("open:all", 4, "o", -1),
    ];
    let after = [
        counter("open:all", 2, "o", 1),
        counter("open:all", 5, "o", -1),
    ];
    let other = [counter("open:all", 4, "o", 1)];
    store
        .keep_counters(&sup, &ticket(1), &before)
        .await
        .unwrap();
    store.keep_counters(&sup, &ticket(2), &other).await.unwrap();
    assert_eq!(
        store.keep_counters(&sup, &ticket(1), &after).await.unwrap(),
        2
    );
    assert_eq!(
        sums(store.as_ref(), &["open:all"], 31).await,
        expect(&[
            ("open:all", 2, "o", 1),
            ("open:all", 4, "o", 1),
            ("open:all", 5, "o", -1)
        ])
    );
    // Nothing kept any more: the ticket's counters all go.
    assert_eq!(store.keep_counters(&sup, &ticket(1), &[]).await.unwrap(), 2);
    assert_eq!(
        sums(store.as_ref(), &["open:all"], 31).await,
        expect(&[("open:all", 4, "o", 1)])
    );
}

/// A read names its classes and its last day; other queues are apart.
pub async fn rollups_are_read_by_queue_class_and_up_to_a_day(store: Arc<dyn Store>) {
    let responses: Vec<Counter> = (0..40)
        .map(|i| counter("response", 1 + i % 3, &format!("r{i}"), 1))
        .collect();
    let mut counters = responses.clone();
    counters.push(counter("taken", 1, "anna", 2));
    counters.push(counter("taken", 3, "anna", 1));
    store
        .keep_counters(&queue("SUP"), &ticket(1), &counters)
        .await
        .unwrap();
    store
        .keep_counters(
            &queue("OPS"),
            &TicketKey::new(queue("OPS"), 1),
            &[counter("taken", 1, "erik", 1)],
        )
        .await
        .unwrap();
    assert_eq!(
        sums(store.as_ref(), &["taken"], 2).await,
        expect(&[("taken", 1, "anna", 2)])
    );
    let read = sums(store.as_ref(), &["response"], 31).await;
    assert_eq!(read.len(), 40, "every response counter, whatever its shard");
    assert_eq!(sums(store.as_ref(), &["response"], 1).await.len(), 14);
}

/// Ten keepers of one ticket's counters at once count it once.
pub async fn concurrent_keeping_of_one_tickets_counters_counts_them_once(store: Arc<dyn Store>) {
    let counters = vec![
        counter("created:all", 2, "a", 1),
        counter("taken", 2, "anna", 1),
    ];
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, counters) = (Arc::clone(&store), counters.clone());
        tasks.push(tokio::spawn(async move {
            store
                .keep_counters(&queue("SUP"), &ticket(7), &counters)
                .await
                .expect("kept")
        }));
    }
    let mut changed = 0;
    for task in tasks {
        changed += task.await.expect("the task finishes");
    }
    assert_eq!(changed, 2, "one keeper wrote, the others found it kept");
    assert_eq!(
        sums(store.as_ref(), &["created:all", "taken"], 31).await,
        expect(&[("created:all", 2, "a", 1), ("taken", 2, "anna", 1)])
    );
}

/// A repair adds to the rollups; the ticket's kept counters stay, so
/// keeping them again still changes nothing.
pub async fn a_repair_adds_to_the_rollups_and_leaves_the_kept_counters(store: Arc<dyn Store>) {
    let sup = queue("SUP");
    let counters = [counter("created:all", 2, "a", 1)];
    store
        .keep_counters(&sup, &ticket(1), &counters)
        .await
        .unwrap();
    store
        .adjust_rollups(
            &sup,
            &[
                counter("created:all", 2, "a", 2),
                counter("created:all", 9, "b", -1),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .keep_counters(&sup, &ticket(1), &counters)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        sums(store.as_ref(), &["created:all"], 31).await,
        expect(&[("created:all", 2, "a", 3), ("created:all", 9, "b", -1)])
    );
}
