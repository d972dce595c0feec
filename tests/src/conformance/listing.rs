//! Listing index and search cases: the listings of
//! `helpdesk::store::listing` (facets, open tickets in any order, a
//! holder's open tickets), their counts, and the keyword search of
//! summaries, each following every change of a ticket.

use std::sync::Arc;

use helpdesk::domain::Ticket;
use helpdesk::store::listing::{Facet, Listing, ListingRules, Scope, SortKind, sort_key};
use helpdesk::store::{Counted, ListingQuery, SearchQuery, Store, Written};

use super::{at, creation_entries, queue, sample_ticket};

/// An open ticket of SUP made `minutes` in, with this summary, priority
/// and components, unassigned.
async fn open_ticket(
    store: &dyn Store,
    minutes: i64,
    summary: &str,
    priority: &str,
    components: &[&str],
) -> Ticket {
    let key = store
        .allocate_ticket_key(&queue("SUP"))
        .await
        .expect("a key");
    let mut ticket = sample_ticket(key, at(minutes));
    ticket.summary = summary.to_owned();
    ticket.priority = priority.to_owned();
    ticket.components = components.iter().map(|c| (*c).to_owned()).collect();
    ticket.resolved_at = None;
    ticket.resolution = None;
    ticket.assignee = None;
    let written = store
        .create_ticket(&ticket, &creation_entries(&ticket), &[])
        .await
        .expect("created");
    assert_eq!(written, Written::New);
    ticket
}

async fn keys(
    store: &dyn Store,
    listing: Listing,
    ascending: bool,
    after: Option<String>,
    limit: usize,
) -> Vec<String> {
    store
        .list_listing(&ListingQuery {
            queue: queue("SUP"),
            listing,
            ascending,
            after,
            limit,
        })
        .await
        .expect("listed")
        .iter()
        .map(|t| t.key.to_string())
        .collect()
}

fn component(name: &str, open: bool) -> Listing {
    Listing::Facet {
        facet: Facet::Component(name.to_owned()),
        open,
    }
}

async fn count(store: &dyn Store, counted: Counted) -> u64 {
    store
        .count_tickets(&queue("SUP"), &counted)
        .await
        .expect("counted")
}

/// Facet and open listings hold exactly the tickets they name, newest
/// first, and follow a change: a component removed, a ticket resolved,
/// a ticket taken.
pub async fn facet_and_open_listings_follow_each_change_of_a_ticket(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let a = open_ticket(store, 0, "Invoice twice", "high", &["Billing"]).await;
    let b = open_ticket(store, 1, "Refund", "low", &["Billing", "Refunds"]).await;
    let c = open_ticket(store, 2, "Login fails", "critical", &["Accounts"]).await;

    assert_eq!(
        keys(store, component("Billing", false), false, None, 10).await,
        vec![b.key.to_string(), a.key.to_string()]
    );
    assert_eq!(
        keys(
            store,
            Listing::Sorted(Scope::Open, SortKind::Priority),
            false,
            None,
            10
        )
        .await,
        vec![c.key.to_string(), a.key.to_string(), b.key.to_string()],
        "most urgent first"
    );
    assert_eq!(
        count(store, Counted::Listing(component("Billing", true))).await,
        2
    );

    // b loses Billing and is resolved; a is taken by anna.
    let mut changed_b = b.clone();
    changed_b.components = vec!["Refunds".to_owned()];
    changed_b.resolved_at = Some(at(3));
    changed_b.status = "Resolved".to_owned();
    changed_b.updated_at = at(3);
    changed_b.version = 2;
    store
        .update_ticket(&changed_b, 1, &[], &[])
        .await
        .expect("b updated");
    let mut taken_a = a.clone();
    taken_a.assignee = Some("anna".to_owned());
    taken_a.updated_at = at(4);
    taken_a.version = 2;
    store
        .update_ticket(&taken_a, 1, &[], &[])
        .await
        .expect("a updated");

    assert_eq!(
        keys(store, component("Billing", false), false, None, 10).await,
        vec![a.key.to_string()]
    );
    assert_eq!(
        keys(store, component("Refunds", false), false, None, 10).await,
        vec![b.key.to_string()],
        "a resolved ticket stays in the listing of all tickets"
    );
    assert!(
        keys(store, component("Refunds", true), false, None, 10)
            .await
            .is_empty()
    );
    assert_eq!(
        keys(
            store,
            Listing::Sorted(Scope::Open, SortKind::Created),
            false,
            None,
            10
        )
        .await,
        vec![c.key.to_string(), a.key.to_string()]
    );
    assert_eq!(
        keys(
            store,
            Listing::Sorted(Scope::Holder(Some("anna".into())), SortKind::Updated),
            false,
            None,
            10
        )
        .await,
        vec![a.key.to_string()]
    );
    assert_eq!(
        keys(
            store,
            Listing::Sorted(Scope::Holder(None), SortKind::Created),
            false,
            None,
            10
        )
        .await,
        vec![c.key.to_string()],
        "the open unassigned tickets"
    );
    assert_eq!(
        keys(
            store,
            Listing::Sorted(Scope::Queue, SortKind::Updated),
            false,
            None,
            10
        )
        .await,
        vec![a.key.to_string(), b.key.to_string(), c.key.to_string()],
        "every ticket by its last change"
    );
    assert_eq!(
        count(
            store,
            Counted::Listing(Listing::Sorted(Scope::Open, SortKind::Created))
        )
        .await,
        2
    );
    assert_eq!(
        count(store, Counted::Status("Resolved".to_owned())).await,
        1
    );
    assert_eq!(count(store, Counted::Status("New".to_owned())).await, 2);
}

/// A page resumes after the cursor's sort key, in either direction,
/// without a gap or a repeat.
pub async fn listing_pages_resume_after_the_cursor_in_both_directions(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let mut made = Vec::new();
    for minutes in 0..5 {
        made.push(open_ticket(store, minutes, "Printer", "normal", &[]).await);
    }
    let rules = ListingRules::default();
    let listing = Listing::Sorted(Scope::Open, SortKind::Updated);
    for ascending in [false, true] {
        let mut expected: Vec<String> = made.iter().map(|t| t.key.to_string()).collect();
        if !ascending {
            expected.reverse();
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_listing(&ListingQuery {
                    queue: queue("SUP"),
                    listing: listing.clone(),
                    ascending,
                    after: after.clone(),
                    limit: 2,
                })
                .await
                .expect("listed");
            if page.is_empty() {
                break;
            }
            after = page.last().map(|t| sort_key(t, SortKind::Updated, &rules));
            seen.extend(page.iter().map(|t| t.key.to_string()));
        }
        assert_eq!(seen, expected, "ascending {ascending}");
    }
}

/// A search finds the tickets whose summary has every word, newest first,
/// page by page, and a changed summary is found by its new words only.
pub async fn a_search_finds_every_word_of_a_summary_newest_first_and_pages(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let fire = open_ticket(store, 0, "Printer on fire", "normal", &[]).await;
    let jam = open_ticket(store, 1, "Printer jammed again", "normal", &[]).await;
    let coffee = open_ticket(store, 2, "Coffee machine on FIRE", "normal", &[]).await;
    let search = |words: &[&str], after: Option<String>, limit: usize| SearchQuery {
        queues: vec![queue("SUP"), queue("OPS")],
        words: words.iter().map(|w| (*w).to_owned()).collect(),
        after,
        limit,
    };
    let found = |page: &helpdesk::store::SearchPage| -> Vec<String> {
        page.tickets.iter().map(|t| t.key.to_string()).collect()
    };

    let printers = store
        .search_tickets(&search(&["printer"], None, 10))
        .await
        .expect("searched");
    assert_eq!(
        found(&printers),
        vec![jam.key.to_string(), fire.key.to_string()]
    );
    let both = store
        .search_tickets(&search(&["fire", "printer"], None, 10))
        .await
        .expect("searched");
    assert_eq!(found(&both), vec![fire.key.to_string()]);

    let first = store
        .search_tickets(&search(&["fire"], None, 1))
        .await
        .expect("searched");
    assert_eq!(found(&first), vec![coffee.key.to_string()]);
    let mut rest = Vec::new();
    let mut after = first.next.clone();
    while let Some(cursor) = after {
        let page = store
            .search_tickets(&search(&["fire"], Some(cursor), 1))
            .await
            .expect("searched");
        rest.extend(found(&page));
        after = page.next;
    }
    assert_eq!(rest, vec![fire.key.to_string()]);

    let mut renamed = jam.clone();
    renamed.summary = "Scanner jammed".to_owned();
    renamed.updated_at = at(5);
    renamed.version = 2;
    store
        .update_ticket(&renamed, 1, &[], &[])
        .await
        .expect("renamed");
    let printers = store
        .search_tickets(&search(&["printer"], None, 10))
        .await
        .expect("searched");
    assert_eq!(found(&printers), vec![fire.key.to_string()]);
    let scanners = store
        .search_tickets(&search(&["scanner"], None, 10))
        .await
        .expect("searched");
    assert_eq!(found(&scanners), vec![jam.key.to_string()]);
}
