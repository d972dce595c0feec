//! Listing a queue's tickets on DynamoDB: every [`TicketQuery`] is one
//! descending range of one index, read a page at a time.
//!
//! | filter | index and partition | sort key range |
//! |---|---|---|
//! | none | `gsi1` `QUEUE#<queue>` (projects the tickets) | below the cursor |
//! | status | `gsi4` `STATUS#<queue>#<status>` (the tickets' listing items) | below the cursor |
//! | assignee, or unassigned | `gsi4` `ASSIGNEE#<queue>#<login>` or `UNASSIGNED#<queue>` | below the cursor |
//! | assignee (or unassigned) and status | `gsi2`, the same partition | `<status>#` up to the cursor |
//!
//! The keys-only indexes answer ticket keys; the tickets are then read with
//! one consistent BatchGetItem per 100.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::errors::sdk_error;
use super::items::{self, Item, s};
use super::{DynamoStore, keys};
use crate::domain::Ticket;
use crate::store::{StoreError, TicketQuery};

/// The most keys one BatchGetItem takes.
const BATCH_GET_KEYS: usize = 100;

/// One index range, newest first.
pub(super) struct Range {
    index: &'static str,
    pk_attr: &'static str,
    sk_attr: &'static str,
    pk: String,
    /// The lowest sort key (inclusive), for a `begins_with` range.
    low: Option<String>,
    /// The sort key the range stays below: the cursor's (exclusive), or
    /// the end of the `low` prefix.
    high: Option<String>,
    /// Whether `high` is itself in the range (a `BETWEEN`): its item is
    /// then dropped, as the cursor's row was listed already.
    high_inclusive: bool,
}

impl Range {
    /// The range `query` reads.
    pub(super) fn of(query: &TicketQuery) -> Self {
        let queue = &query.queue;
        let after = query
            .after
            .map(|p| keys::queue_gsi1sk(p.created_at, p.number));
        match (&query.assignee, &query.status) {
            (None, None) => Self {
                index: keys::GSI1,
                pk_attr: keys::GSI1PK,
                sk_attr: keys::GSI1SK,
                pk: keys::queue_gsi1pk(queue),
                low: None,
                high: after,
                high_inclusive: false,
            },
            (None, Some(status)) => Self::gsi4(keys::status_gsi4pk(queue, status), after),
            (Some(holder), None) => Self::gsi4(keys::holder_pk(queue, holder.as_deref()), after),
            (Some(holder), Some(status)) => {
                let prefix = keys::assignee_gsi2sk_prefix(status);
                let high = match after {
                    Some(after) => format!("{prefix}{after}"),
                    // `~` sorts after every character of a time and a number.
                    None => format!("{prefix}~"),
                };
                Self {
                    index: keys::GSI2,
                    pk_attr: keys::GSI2PK,
                    sk_attr: keys::GSI2SK,
                    pk: keys::holder_pk(queue, holder.as_deref()),
                    low: Some(prefix),
                    high: Some(high),
                    high_inclusive: true,
                }
            }
        }
    }

    fn gsi4(pk: String, after: Option<String>) -> Self {
        Self {
            index: keys::GSI4,
            pk_attr: keys::GSI4PK,
            sk_attr: keys::GSI4SK,
            pk,
            low: None,
            high: after,
            high_inclusive: false,
        }
    }

    /// Whether the index holds the tickets themselves (`gsi1`), not only
    /// their keys.
    pub(super) fn projects_tickets(&self) -> bool {
        self.index == keys::GSI1
    }
}

/// Whether `ticket` is one `query` lists (its index entry may be older
/// than the ticket).
pub(super) fn matches(query: &TicketQuery, ticket: &Ticket) -> bool {
    query
        .assignee
        .as_ref()
        .is_none_or(|holder| *holder == ticket.assignee)
        && query.status.as_ref().is_none_or(|s| *s == ticket.status)
}

impl DynamoStore {
    /// Up to `limit` items of `range`, newest first: one Query per page
    /// DynamoDB answers (one, unless items are large).
    pub(super) async fn query_listing(
        &self,
        range: &Range,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let condition = match (&range.low, &range.high) {
            (Some(_), Some(_)) => "#pk = :pk AND #sk BETWEEN :low AND :high",
            (None, Some(_)) => "#pk = :pk AND #sk < :high",
            _ => "#pk = :pk",
        };
        let mut found = Vec::new();
        let mut start = None;
        // One more than asked when the cursor's own row may come back.
        let wanted = limit.saturating_add(usize::from(range.high_inclusive));
        while found.len() < wanted {
            let page_limit = i32::try_from(wanted - found.len()).unwrap_or(i32::MAX);
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(range.index)
                .key_condition_expression(condition)
                .expression_attribute_names("#pk", range.pk_attr)
                .expression_attribute_values(":pk", s(range.pk.clone()))
                .scan_index_forward(false)
                .limit(page_limit)
                .set_exclusive_start_key(start);
            if condition.contains("#sk") {
                request = request.expression_attribute_names("#sk", range.sk_attr);
            }
            if let Some(low) = &range.low {
                request = request.expression_attribute_values(":low", s(low.clone()));
            }
            if let Some(high) = &range.high {
                request = request.expression_attribute_values(":high", s(high.clone()));
            }
            let turn = self.turn(&self.counters.query).await;
            let out = request.send().await.map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            for item in out.items.unwrap_or_default() {
                let at_high = range.high_inclusive
                    && matches!(
                        (item.get(range.sk_attr), &range.high),
                        (Some(AttributeValue::S(sk)), Some(high)) if sk == high
                    );
                if !at_high {
                    found.push(item);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// The tickets that keys-only index items point at, in their order
    /// (one consistent BatchGetItem per [`BATCH_GET_KEYS`]; a ticket gone
    /// meanwhile is left out).
    pub(super) async fn tickets_of_index_items(
        &self,
        found: Vec<Item>,
    ) -> Result<Vec<Ticket>, StoreError> {
        let order: Vec<String> = found
            .iter()
            .filter_map(|item| match item.get(keys::PK) {
                Some(AttributeValue::S(pk)) => Some(pk.clone()),
                _ => None,
            })
            .collect();
        let mut by_pk: HashMap<String, Ticket> = HashMap::with_capacity(order.len());
        for chunk in order.chunks(BATCH_GET_KEYS) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|pk| items::key(pk.clone(), keys::SK_TICKET))
                .collect();
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| {
                        StoreError::backend_from(format!("cannot build a batch read: {e}"), e)
                    })?;
                let turn = self.turn(&self.counters.batch_get_item).await;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.clone(), request)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                drop(turn);
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let pk = match item.get(keys::PK) {
                        Some(AttributeValue::S(pk)) => pk.clone(),
                        _ => continue,
                    };
                    by_pk.insert(pk, items::ticket_from_item(item)?);
                }
                if let Some(left) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    pending = left.keys;
                    // Throttled: let the table breathe before asking again.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
        Ok(order.iter().filter_map(|pk| by_pk.remove(pk)).collect())
    }
}
