//! Credentials: a personal API token is found by its hash and listed by
//! its agent, a label is unique per agent, a revoked token is gone at once,
//! and a password hash is replaced, never added.

use std::sync::Arc;

use helpdesk::domain::{ApiToken, TokenHash};
use helpdesk::store::{Store, StoreError};

use super::at;

fn token(login: &str, label: &str, secret: &str) -> ApiToken {
    ApiToken {
        login: login.to_owned(),
        label: label.to_owned(),
        hash: TokenHash::of(secret),
        created_at: at(1),
    }
}

/// A stored token reads back by its hash, and its agent's list has it;
/// another secret's hash finds nothing.
pub async fn a_token_is_found_by_its_hash_and_listed_by_its_agent(store: Arc<dyn Store>) {
    let laptop = token("anna", "laptop", "secret-one");
    let crm = token("anna", "crm", "secret-two");
    store.add_api_token(&laptop).await.unwrap();
    store.add_api_token(&crm).await.unwrap();
    store
        .add_api_token(&token("boris", "laptop", "secret-three"))
        .await
        .unwrap();

    assert_eq!(
        store.api_token(&TokenHash::of("secret-one")).await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(
        store
            .api_token(&TokenHash::of("secret-four"))
            .await
            .unwrap(),
        None
    );
    let listed = store.api_tokens_of("anna").await.unwrap();
    assert_eq!(listed, vec![crm, laptop], "by label");
    assert!(store.api_tokens_of("carla").await.unwrap().is_empty());
}

/// A second token with a label the agent uses is refused and changes
/// nothing; another agent may use the same label.
pub async fn a_label_is_unique_per_agent(store: Arc<dyn Store>) {
    store
        .add_api_token(&token("anna", "laptop", "first"))
        .await
        .unwrap();
    let again = store
        .add_api_token(&token("anna", "laptop", "second"))
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    assert_eq!(
        store.api_token(&TokenHash::of("second")).await.unwrap(),
        None
    );
    assert!(
        store
            .api_token(&TokenHash::of("first"))
            .await
            .unwrap()
            .is_some()
    );
    store
        .add_api_token(&token("boris", "laptop", "third"))
        .await
        .unwrap();
}

/// Revoking removes the token at once (its hash finds nothing); revoking
/// it again, or a label that never existed, answers `false`.
pub async fn a_revoked_token_is_gone_at_once(store: Arc<dyn Store>) {
    store
        .add_api_token(&token("anna", "laptop", "secret"))
        .await
        .unwrap();
    store
        .add_api_token(&token("anna", "crm", "other"))
        .await
        .unwrap();
    assert!(store.revoke_api_token("anna", "laptop").await.unwrap());
    assert_eq!(
        store.api_token(&TokenHash::of("secret")).await.unwrap(),
        None
    );
    assert!(!store.revoke_api_token("anna", "laptop").await.unwrap());
    assert!(!store.revoke_api_token("anna", "never").await.unwrap());
    assert!(
        !store.revoke_api_token("boris", "crm").await.unwrap(),
        "not another agent's"
    );
    assert!(
        store
            .api_token(&TokenHash::of("other"))
            .await
            .unwrap()
            .is_some()
    );
    // The label is free again.
    store
        .add_api_token(&token("anna", "laptop", "renewed"))
        .await
        .unwrap();
}

/// Setting a password twice keeps the second hash only.
pub async fn a_password_hash_is_replaced_not_added(store: Arc<dyn Store>) {
    assert_eq!(store.password_hash("anna").await.unwrap(), None);
    store
        .set_password_hash("anna", "$argon2id$first", at(1))
        .await
        .unwrap();
    store
        .set_password_hash("anna", "$argon2id$second", at(2))
        .await
        .unwrap();
    assert_eq!(
        store.password_hash("anna").await.unwrap().as_deref(),
        Some("$argon2id$second")
    );
    assert_eq!(store.password_hash("boris").await.unwrap(), None);
}
