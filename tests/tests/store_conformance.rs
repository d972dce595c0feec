//! The store conformance suite (`helpdesk_tests::conformance`) run against
//! both stores: every case once as `sqlite::<case>` on a fresh in-memory
//! SQLite store and once as `dynamodb::<case>` on a fresh table of the local
//! DynamoDB server named by `HELPDESK_TEST_DYNAMODB_ENDPOINT` (skipped when
//! that is unset, unless `HELPDESK_REQUIRE_MOTO=1`).
#![allow(clippy::expect_used, reason = "tests fail loudly")]

use std::sync::Arc;

use helpdesk_tests::conformance::{self, dynamodb_store, sqlite_store};

macro_rules! conformance_cases {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    conformance::$case(sqlite_store()).await;
                }
            )+
        }

        mod dynamodb {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(store) = dynamodb_store().await else {
                        return;
                    };
                    conformance::$case(Arc::new(store)).await;
                }
            )+
        }
    };
}

conformance_cases!(
    a_created_ticket_reads_back_equal,
    a_missing_ticket_reads_as_none,
    ticket_keys_are_unique_and_increasing_under_concurrent_creation,
    creating_a_ticket_under_a_taken_key_is_refused,
    a_stale_update_is_refused_and_nothing_is_lost,
    updating_a_missing_ticket_is_refused,
    an_update_that_does_not_advance_the_version_by_one_is_refused,
    a_replayed_creation_returns_the_first_ticket_and_writes_nothing,
    an_idempotency_key_reused_for_another_payload_is_refused,
    concurrent_creations_with_one_idempotency_key_store_one_ticket,
    timeline_entries_come_back_in_order_across_updates,
    a_contact_is_found_by_any_of_its_addresses,
    an_address_cannot_belong_to_two_contacts,
    an_added_address_finds_its_contact,
    adding_an_address_another_contact_owns_is_refused,
    tickets_are_listed_per_queue_newest_first_within_the_limit,
    a_listed_ticket_shows_its_latest_version,
);

/// What the DynamoDB store costs in requests: the access patterns in its
/// module docs, checked.
mod dynamodb_requests {
    use helpdesk::store::{Created, Store, TicketQuery};
    use helpdesk_tests::conformance::{
        at, claim, create_sample, creation_entries, queue, sample_ticket,
    };

    use super::*;

    #[tokio::test]
    async fn creating_a_claimed_ticket_costs_one_read_and_one_transaction_and_a_replay_only_the_read()
     {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let key = store
            .allocate_ticket_key(&queue("SUP"))
            .await
            .expect("a key");
        let ticket = sample_ticket(key, at(0));
        let claim = claim("form:support:1", "hash");

        let before = store.request_counts();
        let created = store
            .create_ticket(&ticket, &creation_entries(&ticket), Some(&claim))
            .await;
        let after_create = store.request_counts();
        let replayed = store
            .create_ticket(&ticket, &creation_entries(&ticket), Some(&claim))
            .await;
        let after_replay = store.request_counts();

        assert_eq!(created.expect("created"), Created::New);
        assert_eq!(
            replayed.expect("replayed"),
            Created::Replayed(ticket.key.clone())
        );
        assert_eq!(after_create.get_item - before.get_item, 1);
        assert_eq!(
            after_create.transact_write_items - before.transact_write_items,
            1
        );
        assert_eq!(after_create.total() - before.total(), 2);
        assert_eq!(after_replay.get_item - after_create.get_item, 1);
        assert_eq!(after_replay.total() - after_create.total(), 1);
    }

    #[tokio::test]
    async fn listing_a_queue_and_reading_a_timeline_take_one_query_each() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let mut last = None;
        for minutes in 0..5 {
            last = Some(create_sample(&store, "SUP", at(minutes)).await);
        }
        let last = last.expect("five tickets");

        let before = store.request_counts();
        let listed = store
            .list_tickets(&TicketQuery {
                queue: queue("SUP"),
                limit: 3,
            })
            .await
            .expect("listed");
        let timeline = store.timeline(&last.key).await.expect("timeline");
        let after = store.request_counts();

        assert_eq!(listed.len(), 3);
        assert_eq!(timeline.len(), 2);
        assert_eq!(after.query - before.query, 2);
        assert_eq!(after.total() - before.total(), 2);
    }

    #[tokio::test]
    async fn creating_the_table_again_is_harmless() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let ticket = create_sample(&store, "SUP", at(0)).await;

        store
            .create_table()
            .await
            .expect("creating an existing table succeeds");

        assert_eq!(
            store.get_ticket(&ticket.key).await.expect("read"),
            Some(ticket)
        );
    }
}
