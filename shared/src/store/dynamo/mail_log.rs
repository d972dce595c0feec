//! The DynamoDB store's mail log: an item per message (`MAILLOG#mail:<id>`
//! / `MAILLOG`), in the queue index under its day (`MAILLOG#<date>`, time
//! then id), kept 90 days by the table's TTL. Listing queries the days from
//! the newest down, each newest first, until the limit; the outcome filter
//! is applied to what the days hold.

use async_trait::async_trait;

use super::errors::sdk_error;
use super::items::{self, s};
use super::{DynamoStore, keys};
use crate::domain::{MailLogEntry, MailLogQuery};
use crate::store::{MailLogStore, StoreError};

/// The most days one listing reads (the entries live 90).
const MAX_DAYS: i64 = 100;

#[async_trait]
impl MailLogStore for DynamoStore {
    async fn log_mail(&self, entry: &MailLogEntry) -> Result<(), StoreError> {
        self.put_item(items::mail_log_item(entry)?).await
    }

    async fn mail_log_entry(&self, id: &str) -> Result<Option<MailLogEntry>, StoreError> {
        self.get(keys::mail_log_pk(id), keys::SK_MAIL_LOG)
            .await?
            .map(items::mail_log_from_item)
            .transpose()
    }

    async fn mail_log(&self, query: &MailLogQuery) -> Result<Vec<MailLogEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut day = query.until.date_naive();
        let first = query
            .since
            .date_naive()
            .max(day - chrono::Duration::days(MAX_DAYS));
        while day >= first && entries.len() < query.limit {
            self.mail_log_of_day(day, query, &mut entries).await?;
            day -= chrono::Duration::days(1);
        }
        entries.truncate(query.limit);
        Ok(entries)
    }
}

impl DynamoStore {
    /// Appends the entries of `day` the query wants, newest first.
    async fn mail_log_of_day(
        &self,
        day: chrono::NaiveDate,
        query: &MailLogQuery,
        entries: &mut Vec<MailLogEntry>,
    ) -> Result<(), StoreError> {
        let (low, high) = keys::mail_log_gsi1sk_range(query.since, query.until);
        let mut start = None;
        loop {
            let turn = self.turn(&self.counters.query).await;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI1)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", keys::GSI1PK)
                .expression_attribute_names("#sk", keys::GSI1SK)
                .expression_attribute_values(":pk", s(keys::mail_log_gsi1pk(day)))
                .expression_attribute_values(":low", s(low.clone()))
                .expression_attribute_values(":high", s(high.clone()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            for item in out.items.unwrap_or_default() {
                let entry = items::mail_log_from_item(item)?;
                if query.outcome.is_none_or(|outcome| outcome == entry.outcome) {
                    entries.push(entry);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() || entries.len() >= query.limit {
                return Ok(());
            }
        }
    }
}
