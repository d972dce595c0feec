//! The DynamoDB store's report rollups. Each class of a queue's rollups is
//! a partition (`ROLLUP#<queue>#<class>`) with an item per day
//! (`<day>#<shard>`; the `response` class spread over
//! [`keys::RESPONSE_SHARDS`] items a day) whose attributes `c:<key>` are
//! the counters. The counters kept for a ticket are one item in the
//! ticket's partition (`ROLLUP`: the JSON document and a version `rv`).
//!
//! Keeping a ticket's counters is one transaction: the kept item replaced
//! on condition that its version is the one read, and an `ADD` of the
//! difference on each day item it touches. A redelivered change computes
//! the same counters, finds no difference and writes nothing; two changes
//! of one ticket kept at once conflict on the kept item's version, and the
//! loser reads again. Items are `item_type` `rollup`, which the trigger
//! stream's filter leaves out.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::NaiveDate;

use super::errors::sdk_error;
use super::items::{self, Item, s};
use super::{DynamoStore, MAX_TRANSACTION_ITEMS, Transaction, build_error, keys};
use crate::domain::{QueueKey, TicketKey};
use crate::store::{Counter, RollupDay, RollupStore, StoreError, counter_difference};

/// The prefix of a counter's attribute name.
const COUNTER_PREFIX: &str = "c:";
/// The most counters one update names (an expression holds 4 KB).
const MAX_COUNTERS_PER_UPDATE: usize = 150;
/// How often keeping is tried again after losing a race for the kept item.
const MAX_ATTEMPTS: usize = 5;

/// The counters kept for a ticket, and the version they were kept at.
struct Kept {
    counters: Vec<Counter>,
    version: Option<u64>,
}

/// `counters` by the item they live in: (partition, sort key).
fn by_item<'a>(
    queue: &QueueKey,
    counters: &'a [Counter],
) -> BTreeMap<(String, String), Vec<&'a Counter>> {
    let mut items: BTreeMap<(String, String), Vec<&Counter>> = BTreeMap::new();
    for c in counters {
        let place = (
            keys::rollup_pk(queue, &c.class),
            keys::rollup_sk(c.day, &c.class, &c.key),
        );
        items.entry(place).or_default().push(c);
    }
    items
}

/// The update expression adding `counters` to one day item, with its
/// names and values.
type Expression = (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

fn adding(counters: &[&Counter]) -> Expression {
    let mut names = HashMap::from([("#t".to_owned(), keys::ITEM_TYPE.to_owned())]);
    let mut values = HashMap::from([(":t".to_owned(), s(keys::item_type::ROLLUP))]);
    let mut adds = Vec::new();
    for (i, c) in counters.iter().enumerate() {
        names.insert(format!("#k{i}"), format!("{COUNTER_PREFIX}{}", c.key));
        values.insert(format!(":v{i}"), AttributeValue::N(c.n.to_string()));
        adds.push(format!("#k{i} :v{i}"));
    }
    (
        format!("ADD {} SET #t = :t", adds.join(", ")),
        names,
        values,
    )
}

/// The counters of one day item read back (those at zero left out).
fn counters_of(item: &Item, class: &str) -> Result<RollupDay, StoreError> {
    let sk = match item.get(keys::SK) {
        Some(AttributeValue::S(sk)) => sk,
        _ => return Err(StoreError::corrupt("a rollup item without a sort key")),
    };
    let day: NaiveDate = sk
        .split('#')
        .next()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| StoreError::corrupt(format!("a rollup item at {sk:?}")))?;
    let mut lines = String::new();
    for (name, value) in item {
        let Some(key) = name.strip_prefix(COUNTER_PREFIX) else {
            continue;
        };
        if key.contains(['\n', '\r', '\t']) {
            return Err(StoreError::corrupt(format!("a rollup key {key:?}")));
        }
        let n: i64 = match value {
            AttributeValue::N(n) => n
                .parse()
                .map_err(|_| StoreError::corrupt(format!("a rollup counter {n:?}")))?,
            _ => return Err(StoreError::corrupt("a rollup counter that is not a number")),
        };
        if n != 0 {
            lines.push_str(&format!("{n}\t{key}\n"));
        }
    }
    Ok(RollupDay {
        class: class.to_owned(),
        day,
        lines,
    })
}

impl DynamoStore {
    async fn kept_counters(&self, ticket: &TicketKey) -> Result<Kept, StoreError> {
        let item = self
            .get(keys::ticket_pk(ticket), keys::SK_KEPT_COUNTERS)
            .await?;
        let Some(item) = item else {
            return Ok(Kept {
                counters: Vec::new(),
                version: None,
            });
        };
        let doc = match item.get("doc") {
            Some(AttributeValue::S(doc)) => doc,
            _ => return Err(StoreError::corrupt("kept counters without a document")),
        };
        let counters = serde_json::from_str(doc)
            .map_err(|e| StoreError::corrupt(format!("kept counters: {e}")))?;
        Ok(Kept {
            counters,
            version: Some(items::number(&item, "rv")?),
        })
    }

    /// The transaction item adding `counters` to the day item at `place`.
    fn add_to(
        &self,
        place: &(String, String),
        counters: &[&Counter],
    ) -> Result<TransactWriteItem, StoreError> {
        if counters.len() > MAX_COUNTERS_PER_UPDATE {
            return Err(StoreError::backend(format!(
                "{} counters of one rollup item change at once (at most {MAX_COUNTERS_PER_UPDATE}); run `helpdesk report rebuild`",
                counters.len()
            )));
        }
        let (expression, names, values) = adding(counters);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::key(place.0.clone(), &place.1)))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// One attempt at keeping: `None` when another write of the kept item
    /// came first.
    async fn try_keep(
        &self,
        queue: &QueueKey,
        ticket: &TicketKey,
        counters: &[Counter],
    ) -> Result<Option<usize>, StoreError> {
        let kept = self.kept_counters(ticket).await?;
        let difference = counter_difference(&kept.counters, counters);
        if difference.is_empty() {
            return Ok(Some(0));
        }
        let places = by_item(queue, &difference);
        if places.len() + 1 > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::backend(format!(
                "keeping the report counters of {ticket} touches {} rollup items (at most {}); run `helpdesk report rebuild`",
                places.len(),
                MAX_TRANSACTION_ITEMS - 1
            )));
        }
        let doc = serde_json::to_string(counters)
            .map_err(|e| StoreError::backend(format!("cannot encode kept counters: {e}")))?;
        let mut item = items::key(keys::ticket_pk(ticket), keys::SK_KEPT_COUNTERS);
        item.insert(keys::ITEM_TYPE.to_owned(), s(keys::item_type::ROLLUP));
        item.insert("doc".to_owned(), s(doc));
        let next = kept.version.map_or(1, |v| v + 1);
        item.insert("rv".to_owned(), AttributeValue::N(next.to_string()));
        let put = match kept.version {
            None => self.put(item, Some("attribute_not_exists(pk)"), None, None)?,
            Some(version) => self.put(
                item,
                Some("rv = :rv"),
                None,
                Some(HashMap::from([(
                    ":rv".to_owned(),
                    AttributeValue::N(version.to_string()),
                )])),
            )?,
        };
        let mut writes = vec![put];
        for (place, counters) in &places {
            writes.push(self.add_to(place, counters)?);
        }
        match self.transact("KeepCounters", writes).await? {
            Transaction::Committed => Ok(Some(difference.len())),
            Transaction::Cancelled(_) => Ok(None),
        }
    }
}

#[async_trait]
impl RollupStore for DynamoStore {
    async fn keep_counters(
        &self,
        queue: &QueueKey,
        ticket: &TicketKey,
        counters: &[Counter],
    ) -> Result<usize, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            if let Some(changed) = self.try_keep(queue, ticket, counters).await? {
                return Ok(changed);
            }
        }
        Err(StoreError::unavailable(format!(
            "the report counters of {ticket} kept changing under {MAX_ATTEMPTS} attempts"
        )))
    }

    async fn rollups(
        &self,
        queue: &QueueKey,
        classes: &[String],
        to: NaiveDate,
    ) -> Result<Vec<RollupDay>, StoreError> {
        let mut out = Vec::new();
        let last = format!("{to}#~");
        for class in classes {
            let mut start = None;
            loop {
                let turn = self.turn(&self.counters.query).await;
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk <= :last")
                    .expression_attribute_values(":pk", s(keys::rollup_pk(queue, class)))
                    .expression_attribute_values(":last", s(last.clone()))
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| sdk_error("Query", e))?;
                drop(turn);
                for item in page.items() {
                    out.push(counters_of(item, class)?);
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn adjust_rollups(
        &self,
        queue: &QueueKey,
        counters: &[Counter],
    ) -> Result<(), StoreError> {
        for (place, counters) in by_item(queue, counters) {
            for chunk in counters.chunks(MAX_COUNTERS_PER_UPDATE) {
                let (expression, names, values) = adding(chunk);
                let turn = self.turn(&self.counters.update_item).await;
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(items::key(place.0.clone(), &place.1)))
                    .update_expression(expression)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .send()
                    .await
                    .map_err(|e| sdk_error("UpdateItem", e))?;
                drop(turn);
            }
        }
        Ok(())
    }
}
