//! The store conformance suite (`helpdesk_tests::conformance`) run against
//! both stores, grouped by the store capability each case checks: tickets,
//! timeline, contacts, claims (idempotency claims and markers), counters
//! (ticket keys and counters), the SLA due index, and the change feed.
//! Every case runs once as `sqlite::<capability>::<case>` on a fresh
//! in-memory SQLite store and once as `dynamodb::<capability>::<case>` on a
//! fresh table of the local DynamoDB server named by
//! `HELPDESK_TEST_DYNAMODB_ENDPOINT` (skipped when that is unset, unless
//! `HELPDESK_REQUIRE_MOTO=1`), e.g.
//! `sqlite::contacts::an_address_cannot_belong_to_two_contacts`. The change
//! feed is SQLite's alone (DynamoDB has its stream instead): its cases run
//! only as `sqlite::feed::<case>`. `dynamodb_requests` checks what the
//! DynamoDB store costs in requests.
#![allow(clippy::expect_used, reason = "tests fail loudly")]

use std::sync::Arc;

use helpdesk_tests::conformance::{self, dynamodb_store, sqlite_store};

/// Generates, for every `capability { case, ... }` under `every_store`, the
/// tests `sqlite::capability::case` and `dynamodb::capability::case`, each
/// running `conformance::capability::case` on a fresh store; the items under
/// `sqlite_only` go into `sqlite` as they are.
macro_rules! conformance_cases {
    (
        every_store {
            $($capability:ident { $($case:ident),+ $(,)? })+
        }
        sqlite_only {
            $($sqlite_only:item)*
        }
    ) => {
        mod sqlite {
            use super::*;
            $(
                mod $capability {
                    use super::*;
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                        async fn $case() {
                            conformance::$capability::$case(sqlite_store()).await;
                        }
                    )+
                }
            )+
            $($sqlite_only)*
        }

        mod dynamodb {
            use super::*;
            $(
                mod $capability {
                    use super::*;
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                        async fn $case() {
                            let Some(store) = dynamodb_store().await else {
                                return;
                            };
                            conformance::$capability::$case(Arc::new(store)).await;
                        }
                    )+
                }
            )+
        }
    };
}

conformance_cases! {
    every_store {
        tickets {
            a_created_ticket_reads_back_equal,
            a_missing_ticket_reads_as_none,
            creating_a_ticket_under_a_taken_key_is_refused,
            a_stale_update_is_refused_and_nothing_is_lost,
            updating_a_missing_ticket_is_refused,
            an_update_that_does_not_advance_the_version_by_one_is_refused,
            tickets_are_listed_per_queue_newest_first_within_the_limit,
            a_listed_ticket_shows_its_latest_version,
            assigned_tickets_are_counted_by_assignee_and_status_as_they_change,
            listings_by_assignee_and_status_are_exact_newest_first_and_paged,
        }
        listing {
            facet_and_open_listings_follow_each_change_of_a_ticket,
            listing_pages_resume_after_the_cursor_in_both_directions,
            a_search_finds_every_word_of_a_summary_newest_first_and_pages,
        }
        timeline {
            timeline_entries_come_back_in_order_across_updates,
            the_entries_of_a_version_are_exactly_those_written_with_it,
            entries_after_a_version_come_back_in_order_and_only_those_of_later_versions,
            timeline_pages_go_back_from_the_newest_entry_without_gaps,
        }
        contacts {
            a_contact_is_found_by_any_of_its_addresses,
            an_address_cannot_belong_to_two_contacts,
            an_added_address_finds_its_contact,
            adding_an_address_another_contact_owns_is_refused,
        }
        claims {
            a_replayed_creation_returns_the_first_ticket_and_writes_nothing,
            an_idempotency_key_reused_for_another_payload_is_refused,
            concurrent_creations_with_one_idempotency_key_store_one_ticket,
            a_claimed_update_writes_nothing_when_replayed_and_refuses_another_payload,
            a_creation_whose_second_claim_exists_writes_nothing,
            a_message_id_claimed_on_an_update_names_its_ticket,
            a_write_claiming_one_key_twice_is_refused_and_writes_nothing,
            a_marker_is_written_once_and_can_be_put_again_after_deletion,
            concurrent_marker_puts_on_one_key_write_exactly_once,
            every_kind_of_claim_reads_back_as_written_and_only_the_same_kind_replays,
        }
        counters {
            ticket_keys_are_unique_and_increasing_under_concurrent_creation,
            concurrent_increments_of_one_counter_count_every_call_once,
            counters_are_independent_per_key,
        }
        credentials {
            a_token_is_found_by_its_hash_and_listed_by_its_agent,
            a_label_is_unique_per_agent,
            a_revoked_token_is_gone_at_once,
            a_password_hash_is_replaced_not_added,
        }
        mail_log {
            a_logged_message_reads_back_and_a_release_replaces_it,
            the_log_lists_newest_first_between_two_instants_by_outcome_within_the_limit,
        }
        rollups {
            keeping_a_tickets_counters_adds_them_and_keeping_them_again_changes_nothing,
            keeping_new_counters_adds_only_the_difference,
            rollups_are_read_by_queue_class_and_up_to_a_day,
            concurrent_keeping_of_one_tickets_counters_counts_them_once,
            a_repair_adds_to_the_rollups_and_leaves_the_kept_counters,
        }
        sla_due {
            tickets_with_a_running_sla_timer_are_due_once_their_time_has_passed_earliest_first_within_the_limit,
            a_write_that_stops_the_timer_takes_the_ticket_out_of_the_due_index_and_one_that_moves_the_deadline_moves_it,
            a_refused_write_and_a_replayed_write_leave_the_due_index_as_it_was,
            many_tickets_due_at_one_instant_all_come_back_and_the_limit_cuts_exactly,
            a_timer_due_beyond_the_year_9999_is_listed_only_once_its_time_has_come,
        }
    }
    sqlite_only {
        /// The SQLite store's change feed (DynamoDB has its stream instead).
        mod feed {
            use helpdesk::store::Store;
            use helpdesk::store::sqlite::SqliteStore;

            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn every_ticket_write_is_one_change_with_the_ticket_before_and_after() {
                conformance::feed::every_ticket_write_is_one_change_with_the_ticket_before_and_after(
                    sqlite_store(),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn writes_that_change_nothing_add_no_change() {
                conformance::feed::writes_that_change_nothing_add_no_change(sqlite_store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_feed_cursor_persists_across_reopening_and_never_moves_backwards() {
                let dir = std::env::temp_dir()
                    .join(format!("helpdesk-feed-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("a temporary folder");
                let path = dir.join("helpdesk.db");
                let open = || -> Arc<dyn Store> {
                    Arc::new(SqliteStore::open(&path).expect("the store file opens"))
                };

                conformance::feed::a_feed_cursor_persists_across_reopening_and_never_moves_backwards(
                    open,
                )
                .await;

                let _ = std::fs::remove_dir_all(&dir);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn pruning_the_feed_keeps_every_change_a_cursor_has_not_passed() {
                conformance::feed::pruning_the_feed_keeps_every_change_a_cursor_has_not_passed(
                    sqlite_store(),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_ticket_write_wakes_the_feed_readers() {
                conformance::feed::a_ticket_write_wakes_the_feed_readers(sqlite_store()).await;
            }
        }
    }
}

/// What the DynamoDB store costs in requests: the access patterns in its
/// module docs, checked.
mod dynamodb_requests {
    use helpdesk::domain::ticket::entry_seq;
    use helpdesk::domain::{Actor, Ticket, TicketKey, TimelineEntry, TimelineEvent};
    use helpdesk::store::{
        ChangeFeedSource, ClaimStore, CounterStore, SlaDueIndex, StoreError, TicketQuery,
        TicketStore, TimelineStore, Written,
    };
    use helpdesk_tests::conformance::{
        at, change_status, claim, create_sample, create_with_sla, creation_entries, due_at, queue,
        sample_ticket, update_with,
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
            .create_ticket(
                &ticket,
                &creation_entries(&ticket),
                std::slice::from_ref(&claim),
            )
            .await;
        let after_create = store.request_counts();
        let replayed = store
            .create_ticket(
                &ticket,
                &creation_entries(&ticket),
                std::slice::from_ref(&claim),
            )
            .await;
        let after_replay = store.request_counts();

        assert_eq!(created.expect("created"), Written::New);
        assert_eq!(
            replayed.expect("replayed"),
            Written::Replayed(ticket.key.clone())
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
            .list_tickets(&TicketQuery::newest(queue("SUP"), 3))
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
    async fn the_entries_of_a_version_take_one_query_and_the_store_has_no_change_feed() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let ticket = create_sample(&store, "SUP", at(0)).await;
        let changed = update_with(&store, &ticket, 3, |_| {}).await;

        let before = store.request_counts();
        let entries = store
            .entries_of_version(&changed.key, changed.version)
            .await
            .expect("entries");
        let after = store.request_counts();

        assert_eq!(entries.len(), 3);
        assert_eq!(after.query - before.query, 1);
        assert_eq!(after.total() - before.total(), 1);
        assert!(store.change_feed().is_none());
    }

    #[tokio::test]
    async fn the_entries_after_a_version_take_one_query_and_the_due_tickets_one_query_per_shard() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let ticket = create_sample(&store, "SUP", at(0)).await;
        let changed = update_with(&store, &ticket, 3, |_| {}).await;
        update_with(&store, &changed, 2, |_| {}).await;
        for minutes in 1..=3 {
            create_with_sla(&store, "SUP", due_at(at(minutes))).await;
        }

        let before = store.request_counts();
        let entries = store
            .entries_after_version(&ticket.key, 1)
            .await
            .expect("entries");
        let after_entries = store.request_counts();
        let due = store.sla_due(at(60), 100).await.expect("due");
        let after_due = store.request_counts();

        assert_eq!(entries.len(), 5);
        assert_eq!(after_entries.query - before.query, 1);
        assert_eq!(after_entries.total() - before.total(), 1);
        assert_eq!(due.len(), 3);
        assert_eq!(after_due.query - after_entries.query, 8);
        assert_eq!(after_due.total() - after_entries.total(), 8);
        assert_eq!(after_due.due_index_items - after_entries.due_index_items, 3);
    }

    #[tokio::test]
    async fn counting_assigned_tickets_takes_one_query_per_distinct_status() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        for minutes in 0..3 {
            create_sample(&store, "SUP", at(minutes)).await;
        }
        let statuses = ["New", "Open", "New"].map(str::to_owned);

        let before = store.request_counts();
        let count = store
            .count_assigned(&queue("SUP"), "anna", &statuses)
            .await
            .expect("counted");
        let after = store.request_counts();

        assert_eq!(count, 3);
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

    #[tokio::test]
    async fn a_claimed_update_costs_a_read_per_claim_and_one_transaction_and_a_replay_only_the_reads()
     {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let ticket = create_sample(&store, "SUP", at(0)).await;
        let (changed, entries) = change_status(&ticket, "anna", "Open", at(1));
        let claims = [
            claim("msgid:<reply@example.com>", "hash"),
            claim("mail:s3:inbound/reply", "hash"),
        ];

        let before = store.request_counts();
        let updated = store.update_ticket(&changed, 1, &entries, &claims).await;
        let after_update = store.request_counts();
        let replayed = store.update_ticket(&changed, 1, &entries, &claims).await;
        let after_replay = store.request_counts();

        assert_eq!(updated.expect("updated"), Written::New);
        assert_eq!(
            replayed.expect("replayed"),
            Written::Replayed(ticket.key.clone())
        );
        // One read per claim, and one of the stored ticket (the listing
        // entries it leaves).
        assert_eq!(after_update.get_item - before.get_item, 3);
        assert_eq!(
            after_update.transact_write_items - before.transact_write_items,
            1
        );
        assert_eq!(after_update.total() - before.total(), 4);
        assert_eq!(after_replay.get_item - after_update.get_item, 2);
        assert_eq!(after_replay.total() - after_update.total(), 2);
    }

    #[tokio::test]
    async fn markers_and_counters_take_one_request_each_even_when_the_marker_exists() {
        let Some(store) = dynamodb_store().await else {
            return;
        };

        let before = store.request_counts();
        let first = store.put_marker("k", "first", Some(at(60))).await;
        let after_first = store.request_counts();
        let second = store.put_marker("k", "second", None).await;
        let after_second = store.request_counts();
        store.delete_marker("k").await.expect("deleted");
        let after_delete = store.request_counts();
        let count = store.increment_counter("k", at(60)).await;
        let after_count = store.request_counts();

        assert_eq!(first.expect("written"), None);
        assert_eq!(second.expect("found"), Some("first".to_owned()));
        assert_eq!(count.expect("counted"), 1);
        assert_eq!(after_first.put_item - before.put_item, 1);
        assert_eq!(after_first.total() - before.total(), 1);
        // The old item comes back with the failed condition: no extra read.
        assert_eq!(after_second.put_item - after_first.put_item, 1);
        assert_eq!(after_second.total() - after_first.total(), 1);
        assert_eq!(after_delete.delete_item - after_second.delete_item, 1);
        assert_eq!(after_delete.total() - after_second.total(), 1);
        assert_eq!(after_count.update_item - after_delete.update_item, 1);
        assert_eq!(after_count.total() - after_delete.total(), 1);
    }

    /// `count` comments on `ticket`, written with its current version.
    fn comments(ticket: &Ticket, count: usize) -> Vec<TimelineEntry> {
        (0..count)
            .map(|i| TimelineEntry {
                ticket: ticket.key.clone(),
                seq: entry_seq(ticket.version, i),
                at: ticket.updated_at,
                actor: Actor::System,
                event: TimelineEvent::Comment {
                    public: false,
                    body: format!("note {i}"),
                    body_blob: None,
                },
            })
            .collect()
    }

    #[tokio::test]
    async fn an_item_over_400_kb_is_refused_for_good_before_any_request() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let key = store
            .allocate_ticket_key(&queue("SUP"))
            .await
            .expect("a key");
        let mut ticket = sample_ticket(key.clone(), at(0));
        ticket.description = "x".repeat(410 * 1024);

        let before = store.request_counts();
        let too_big = store
            .create_ticket(&ticket, &creation_entries(&ticket), &[])
            .await;
        let after = store.request_counts();

        match too_big {
            Err(e @ StoreError::Backend { .. }) => {
                assert!(!e.is_retryable(), "retrying cannot make it fit: {e}");
                assert!(e.to_string().contains("400"), "{e}");
            }
            other => panic!("expected a permanent refusal, got {other:?}"),
        }
        assert_eq!(after.total(), before.total(), "nothing was sent");
        assert_eq!(store.get_ticket(&key).await.expect("read"), None);
    }

    #[tokio::test]
    async fn a_listing_page_takes_one_query_and_a_filtered_one_a_batch_read_more() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        for minutes in 0..5 {
            create_sample(&store, "SUP", at(minutes)).await;
        }
        let cases: [(Option<Option<String>>, Option<String>, u64); 4] = [
            (None, None, 0),
            (None, Some("New".to_owned()), 1),
            (Some(Some("anna".to_owned())), None, 1),
            (Some(Some("anna".to_owned())), Some("New".to_owned()), 1),
        ];
        for (assignee, status, batch_reads) in cases {
            let before = store.request_counts();
            let page = store
                .list_tickets(&TicketQuery {
                    assignee: assignee.clone(),
                    status: status.clone(),
                    ..TicketQuery::newest(queue("SUP"), 3)
                })
                .await
                .expect("listed");
            let after = store.request_counts();
            assert_eq!(page.len(), 3, "{assignee:?} {status:?}");
            assert_eq!(after.query - before.query, 1, "{assignee:?} {status:?}");
            assert_eq!(
                after.batch_get_item - before.batch_get_item,
                batch_reads,
                "{assignee:?} {status:?}"
            );
            assert_eq!(after.total() - before.total(), 1 + batch_reads);
        }
    }

    #[tokio::test]
    async fn a_listing_index_page_and_a_search_page_take_one_query_and_one_batch_read_and_a_count_one_query()
     {
        use helpdesk::store::listing::{Listing, ListingRules, Scope, SortKind};
        use helpdesk::store::{Counted, ListingQuery, SearchQuery};
        let Some(store) = dynamodb_store().await else {
            return;
        };
        for minutes in 0..5 {
            let key = store
                .allocate_ticket_key(&queue("SUP"))
                .await
                .expect("a key");
            let mut ticket = sample_ticket(key, at(minutes));
            ticket.resolved_at = None;
            ticket.summary = format!("Printer {minutes} on fire");
            store
                .create_ticket(&ticket, &creation_entries(&ticket), &[])
                .await
                .expect("created");
        }
        let open = Listing::Sorted(Scope::Open, SortKind::Updated);

        let before = store.request_counts();
        let page = store
            .list_listing(&ListingQuery {
                queue: queue("SUP"),
                listing: open.clone(),
                ascending: false,
                after: None,
                limit: 3,
            })
            .await
            .expect("listed");
        let after = store.request_counts();
        assert_eq!(page.len(), 3);
        assert_eq!(
            (
                after.query - before.query,
                after.batch_get_item - before.batch_get_item
            ),
            (1, 1)
        );
        assert_eq!(after.total() - before.total(), 2);

        let before = store.request_counts();
        let found = store
            .search_tickets(&SearchQuery {
                queues: vec![queue("SUP")],
                words: vec!["printer".to_owned()],
                after: None,
                limit: 3,
            })
            .await
            .expect("searched");
        let after = store.request_counts();
        assert_eq!(found.tickets.len(), 3);
        assert_eq!(
            after.total() - before.total(),
            2,
            "one Query of the word, one batch read"
        );

        let before = store.request_counts();
        let count = store
            .count_tickets(&queue("SUP"), &Counted::Listing(open))
            .await
            .expect("counted");
        assert_eq!(count, 5);
        assert_eq!(store.request_counts().total() - before.total(), 1);

        // A ticket's page: the ticket, its timeline, the requester's other
        // tickets (one Query and one batch read).
        let before = store.request_counts();
        let shown = store
            .get_ticket(&TicketKey::new(queue("SUP"), 1))
            .await
            .expect("read")
            .expect("there");
        store.timeline(&shown.key).await.expect("timeline");
        let others = helpdesk::tickets::list::of_requester(
            &store,
            &ListingRules::default(),
            &[queue("SUP")],
            std::slice::from_ref(shown.requester.email.as_ref().expect("an address")),
            11,
        )
        .await
        .expect("their tickets");
        assert_eq!(others.len(), 5);
        let after = store.request_counts();
        assert_eq!(
            (
                after.get_item - before.get_item,
                after.query - before.query,
                after.batch_get_item - before.batch_get_item
            ),
            (1, 2, 1)
        );
    }

    #[tokio::test]
    async fn a_ticket_write_over_one_hundred_items_is_refused_before_any_write() {
        let Some(store) = dynamodb_store().await else {
            return;
        };
        let key = store
            .allocate_ticket_key(&queue("SUP"))
            .await
            .expect("a key");
        let ticket = sample_ticket(key.clone(), at(0));
        let claims = [claim("form:support:1", "h"), claim("msgid:<1@x>", "h")];
        // The ticket, its listing item, its listing index entries, the
        // claims: the rest of the hundred is for timeline entries.
        let index = helpdesk::store::listing::entries(
            &ticket,
            &helpdesk::store::listing::ListingRules::default(),
            true,
        )
        .len();
        let room = 100 - 2 - index - claims.len();

        let before = store.request_counts();
        let too_big = store
            .create_ticket(&ticket, &comments(&ticket, room + 1), &claims)
            .await;
        let after = store.request_counts();

        assert!(
            matches!(too_big, Err(StoreError::Backend { .. })),
            "got {too_big:?}"
        );
        assert_eq!(after.total(), before.total());
        assert_eq!(store.get_ticket(&key).await.expect("read"), None);

        let at_the_limit = store
            .create_ticket(&ticket, &comments(&ticket, room), &claims)
            .await;
        assert_eq!(at_the_limit.expect("100 items fit"), Written::New);

        let (mut changed, _) = change_status(&ticket, "anna", "Open", at(1));
        changed.version = 2;
        let before = store.request_counts();
        let too_big = store
            .update_ticket(
                &changed,
                1,
                &comments(&changed, 99),
                &[claim("msgid:<2@x>", "h")],
            )
            .await;
        assert!(
            matches!(too_big, Err(StoreError::Backend { .. })),
            "got {too_big:?}"
        );
        assert_eq!(store.request_counts().total(), before.total());
        assert_eq!(
            store
                .get_ticket(&key)
                .await
                .expect("read")
                .map(|t| t.version),
            Some(1)
        );
    }
}
