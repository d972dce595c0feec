//! The DynamoDB store's credentials (`item_type` `credential`, outside the
//! stream filter):
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | token by hash | `TOKEN#<sha-256 hex>` | `TOKEN` | `login`, `label`, `hash`, `created_at` |
//! | token by label | `AGENT#<login>` | `TOKEN#<label>` | the same |
//! | password | `AGENT#<login>` | `PASSWORD` | `phc`, `updated_at` |
//!
//! A token is added as both items in one transaction (each
//! `attribute_not_exists(pk)`, so a label is unique per agent), looked up
//! by a consistent GetItem on its hash, listed by a Query on the agent's
//! partition, and revoked by deleting both in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::errors::sdk_error;
use super::items::{self, Item, s};
use super::{DynamoStore, IF_NEW, Transaction, keys};
use crate::domain::{ApiToken, TokenHash};
use crate::store::{CredentialStore, StoreError};

/// The `item_type` of every credential item.
const CREDENTIAL: &str = "credential";
const SK_TOKEN: &str = "TOKEN";
const SK_TOKEN_PREFIX: &str = "TOKEN#";
const SK_PASSWORD: &str = "PASSWORD";

fn token_pk(hash: &TokenHash) -> String {
    format!("TOKEN#{}", hash.as_str())
}

fn agent_pk(login: &str) -> String {
    format!("AGENT#{login}")
}

fn token_item(pk: String, sk: &str, token: &ApiToken) -> Item {
    let mut item = items::key(pk, sk);
    item.insert(keys::ITEM_TYPE.to_owned(), s(CREDENTIAL));
    item.insert("login".to_owned(), s(&token.login));
    item.insert("label".to_owned(), s(&token.label));
    item.insert("hash".to_owned(), s(token.hash.as_str()));
    item.insert("created_at".to_owned(), s(token.created_at.to_rfc3339()));
    item
}

fn text<'i>(item: &'i Item, name: &str) -> Result<&'i str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StoreError::corrupt(format!(
            "credential item {:?} has no {name}",
            item.get(keys::PK)
        ))),
    }
}

fn token_from_item(item: &Item) -> Result<ApiToken, StoreError> {
    let hash = TokenHash::try_from(text(item, "hash")?.to_owned())
        .map_err(|e| StoreError::corrupt(format!("credential item: {e}")))?;
    let created_at = text(item, "created_at")?;
    let created_at = DateTime::parse_from_rfc3339(created_at)
        .map_err(|e| {
            StoreError::corrupt_from(format!("credential item: created_at {created_at:?}"), e)
        })?
        .with_timezone(&Utc);
    Ok(ApiToken {
        login: text(item, "login")?.to_owned(),
        label: text(item, "label")?.to_owned(),
        hash,
        created_at,
    })
}

#[async_trait]
impl CredentialStore for DynamoStore {
    async fn add_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let by_hash = token_item(token_pk(&token.hash), SK_TOKEN, token);
        let by_label = token_item(
            agent_pk(&token.login),
            &format!("{SK_TOKEN_PREFIX}{}", token.label),
            token,
        );
        let writes = vec![
            self.put(by_hash, Some(IF_NEW), None, None)?,
            // The agent's partition holds other items: the condition is on
            // this item's own key.
            self.put(by_label, Some(IF_NEW), None, None)?,
        ];
        match self.transact("add an API token", writes).await? {
            Transaction::Committed => Ok(()),
            Transaction::Cancelled(_) => Err(StoreError::AlreadyExists(format!(
                "token {:?} of {}",
                token.label, token.login
            ))),
        }
    }

    async fn api_token(&self, hash: &TokenHash) -> Result<Option<ApiToken>, StoreError> {
        self.get(token_pk(hash), SK_TOKEN)
            .await?
            .map(|item| token_from_item(&item))
            .transpose()
    }

    async fn api_tokens_of(&self, login: &str) -> Result<Vec<ApiToken>, StoreError> {
        let mut tokens = Vec::new();
        let mut start = None;
        loop {
            let turn = self.turn(&self.counters.query).await;
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":pk", s(agent_pk(login)))
                .expression_attribute_values(":prefix", s(SK_TOKEN_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            drop(turn);
            for item in out.items.unwrap_or_default() {
                tokens.push(token_from_item(&item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(tokens);
            }
        }
    }

    async fn revoke_api_token(&self, login: &str, label: &str) -> Result<bool, StoreError> {
        let label_sk = format!("{SK_TOKEN_PREFIX}{label}");
        let Some(item) = self.get(agent_pk(login), &label_sk).await? else {
            return Ok(false);
        };
        let token = token_from_item(&item)?;
        let delete = |pk: String, sk: &str| -> Result<TransactWriteItem, StoreError> {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(items::key(pk, sk)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(|e| StoreError::backend_from(format!("cannot build a delete: {e}"), e))?;
            Ok(TransactWriteItem::builder().delete(delete).build())
        };
        let writes = vec![
            delete(agent_pk(login), &label_sk)?,
            delete(token_pk(&token.hash), SK_TOKEN)?,
        ];
        match self.transact("revoke an API token", writes).await? {
            Transaction::Committed => Ok(true),
            // Revoked meanwhile by someone else.
            Transaction::Cancelled(_) => Ok(false),
        }
    }

    async fn set_password_hash(
        &self,
        login: &str,
        phc: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item = items::key(agent_pk(login), SK_PASSWORD);
        item.insert(keys::ITEM_TYPE.to_owned(), s(CREDENTIAL));
        item.insert("phc".to_owned(), s(phc));
        item.insert("updated_at".to_owned(), s(at.to_rfc3339()));
        self.put_item(item).await
    }

    async fn password_hash(&self, login: &str) -> Result<Option<String>, StoreError> {
        match self.get(agent_pk(login), SK_PASSWORD).await? {
            Some(item) => Ok(Some(text(&item, "phc")?.to_owned())),
            None => Ok(None),
        }
    }
}
