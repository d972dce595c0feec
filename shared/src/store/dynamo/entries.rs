//! The listing index ([`crate::store::listing`]) on DynamoDB: one small
//! item per entry in the ticket's partition (`sk` `L#<partition>`), whose
//! `gsi4pk` is the entry's partition and `gsi4sk` its sort key, so every
//! listing page is one range of the keys-only `gsi4` index and a count is
//! a count-only Query of one partition.
//!
//! A write puts the entries it adds or moves (same item, new sort key)
//! and deletes those whose partition the ticket left, in the ticket's own
//! transaction; the entries the stored ticket had are derived from it,
//! read consistently just before (its version is the transaction's
//! condition, so it cannot have changed in between).
//!
//! Keyword search reads the word listings (`W#<queue>#<word>`, the words
//! of the summary) of the query's first word in each queue and keeps the
//! tickets whose summary has every word.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::errors::sdk_error;
use super::items::{self, Item, s};
use super::{DynamoStore, build_error, keys};
use crate::domain::{QueueKey, Ticket};
use crate::store::listing::{self, Entry, Listing, ListingRules};
use crate::store::{Counted, ListingQuery, SearchPage, SearchQuery, StoreError};

/// The sort key of an entry item: `L#` and the partition.
fn entry_sk(partition: &str) -> String {
    format!("L#{partition}")
}

/// The item of `entry` of `ticket`.
fn entry_item(ticket: &Ticket, entry: &Entry) -> Item {
    let mut item = items::key(keys::ticket_pk(&ticket.key), &entry_sk(&entry.partition));
    item.insert(keys::ITEM_TYPE.to_owned(), s(keys::item_type::LISTING));
    item.insert(keys::GSI4PK.to_owned(), s(entry.partition.clone()));
    item.insert(keys::GSI4SK.to_owned(), s(entry.sort.clone()));
    item
}

/// The entries to put (new or moved) and the partitions to leave.
fn diff(
    before: Option<&Ticket>,
    after: &Ticket,
    rules: &ListingRules,
) -> (Vec<Entry>, Vec<String>) {
    let changes = listing::changes(before, after, rules, true);
    let kept: BTreeSet<&str> = changes.added.iter().map(|e| e.partition.as_str()).collect();
    let left = changes
        .removed
        .iter()
        .filter(|e| !kept.contains(e.partition.as_str()))
        .map(|e| e.partition.clone())
        .collect();
    (changes.added, left)
}

impl DynamoStore {
    /// The transaction items that put a new ticket's entries (puts only:
    /// a creation removes nothing).
    pub(super) fn entry_puts(&self, ticket: &Ticket) -> Result<Vec<TransactWriteItem>, StoreError> {
        listing::entries(ticket, &self.rules, true)
            .iter()
            .map(|entry| self.put(entry_item(ticket, entry), None, None, None))
            .collect()
    }

    /// The transaction items that keep the listing index from `before`
    /// to `after`.
    pub(super) fn entry_writes(
        &self,
        before: &Ticket,
        after: &Ticket,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let (puts, leaves) = diff(Some(before), after, &self.rules);
        let mut writes = Vec::with_capacity(puts.len() + leaves.len());
        for entry in &puts {
            writes.push(self.put(entry_item(after, entry), None, None, None)?);
        }
        for partition in &leaves {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(items::key(
                    keys::ticket_pk(&after.key),
                    &entry_sk(partition),
                )))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        Ok(writes)
    }

    /// Up to `limit` entry items of `partition` past `after`, in order.
    async fn entry_range(
        &self,
        partition: String,
        ascending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let condition = match (after, ascending) {
            (None, _) => "#pk = :pk",
            (Some(_), true) => "#pk = :pk AND #sk > :after",
            (Some(_), false) => "#pk = :pk AND #sk < :after",
        };
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < limit {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI4)
                .key_condition_expression(condition)
                .expression_attribute_names("#pk", keys::GSI4PK)
                .expression_attribute_values(":pk", s(partition.clone()))
                .scan_index_forward(ascending)
                .limit(i32::try_from(limit - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start);
            if let Some(after) = after {
                request = request
                    .expression_attribute_names("#sk", keys::GSI4SK)
                    .expression_attribute_values(":after", s(after));
            }
            let turn = self.turn(&self.counters.query).await;
            let out = request.send().await.map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// One page of a listing: one range of `gsi4`, then the tickets by
    /// one consistent batch read; a ticket whose entry is older than the
    /// ticket and no longer in the listing is left out.
    pub(super) async fn entry_page(&self, query: &ListingQuery) -> Result<Vec<Ticket>, StoreError> {
        let found = self
            .entry_range(
                query.listing.partition(&query.queue),
                query.ascending,
                query.after.as_deref(),
                query.limit,
            )
            .await?;
        let mut tickets = self.tickets_of_index_items(found).await?;
        tickets.retain(|t| in_listing(t, &query.listing));
        Ok(tickets)
    }

    /// A count-only Query of one partition (`gsi4`).
    pub(super) async fn count_entries(
        &self,
        queue: &QueueKey,
        counted: &Counted,
    ) -> Result<u64, StoreError> {
        let partition = match counted {
            Counted::Listing(listing) => listing.partition(queue),
            Counted::Status(status) => keys::status_gsi4pk(queue, status),
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI4)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::GSI4PK)
            .expression_attribute_values(":pk", s(partition));
        self.count_matching(query).await
    }

    /// A page of the tickets whose summary has every word: the first
    /// word's listing in each queue, newest first, kept where the summary
    /// has the other words too. The cursor is a created sort key (unique
    /// across queues); a page returns only tickets above the highest point
    /// to which some queue is not yet read, so none is skipped or repeated.
    pub(super) async fn word_search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        let wanted: Vec<String> = query.words.iter().flat_map(|w| listing::words(w)).collect();
        let Some(first) = wanted.first() else {
            return Ok(SearchPage {
                tickets: Vec::new(),
                next: None,
            });
        };
        let mut matched: Vec<(String, Ticket)> = Vec::new();
        let mut resume: Option<String> = None;
        for queue in &query.queues {
            let read = query.limit.saturating_add(1);
            let found = self
                .entry_range(
                    Listing::Word(first.clone()).partition(queue),
                    false,
                    query.after.as_deref(),
                    read,
                )
                .await?;
            let complete = found.len() < read;
            let last = found.last().and_then(|item| match item.get(keys::GSI4SK) {
                Some(AttributeValue::S(sort)) => Some(sort.clone()),
                _ => None,
            });
            if !complete && let Some(last) = last {
                resume = Some(resume.map_or(last.clone(), |r| r.max(last)));
            }
            for ticket in self.tickets_of_index_items(found).await? {
                let words = listing::words(&ticket.summary);
                if wanted.iter().all(|w| words.contains(w)) {
                    matched.push((listing::created_key(&ticket), ticket));
                }
            }
        }
        if let Some(resume) = &resume {
            matched.retain(|(key, _)| key >= resume);
        }
        matched.sort_by(|a, b| b.0.cmp(&a.0));
        let next = if matched.len() > query.limit {
            matched.truncate(query.limit);
            matched.last().map(|(key, _)| key.clone())
        } else {
            resume
        };
        Ok(SearchPage {
            tickets: matched.into_iter().map(|(_, t)| t).collect(),
            next,
        })
    }
}

/// Whether `ticket` is (still) in `listing`.
fn in_listing(ticket: &Ticket, listing: &Listing) -> bool {
    listing::listings(ticket, true).contains(listing)
}
