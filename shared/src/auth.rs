//! Who is asking: agents' credentials, made and checked.
//!
//! - **Personal API tokens** (`hd_` and 43 characters of URL-safe base64,
//!   32 random bytes): shown once when made; the store keeps their SHA-256
//!   only ([`crate::domain::TokenHash`]), which is enough for a secret of
//!   that entropy and lets a request be checked with one indexed read.
//! - **Passwords** for the console: argon2id PHC strings, never the
//!   password; checked in constant time by argon2.
//!
//! - **Console sessions** (`hs_` and 43 characters, in an HttpOnly
//!   cookie): opened after a password (or the identity provider) said yes,
//!   kept as a marker under the cookie's SHA-256 with the agent, a CSRF
//!   token and when it ends ([`SESSION_HOURS`] after sign-in); sign-out
//!   deletes it.
//!
//! Either yields a [`Principal`]: the agent, their role from the
//! configuration (an agent removed from the configuration can no longer
//! sign in, whatever credentials they still hold), and how they signed in,
//! which the timeline records beside their login.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::config::{Config, Role};
use crate::domain::{ApiToken, QueueKey, TokenHash};
use crate::store::{ClaimStore, CounterStore, CredentialStore, StoreError};

/// What every personal API token starts with (so a leaked one is easy to
/// recognise and to search for).
pub const TOKEN_PREFIX: &str = "hd_";

/// The shortest password [`set_password`] accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What every console session cookie starts with.
pub const SESSION_PREFIX: &str = "hs_";

/// How long a console session lasts after sign-in.
pub const SESSION_HOURS: i64 = 12;

/// The longest token label.
const MAX_LABEL_CHARS: usize = 64;

/// A signed-in agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Their login (a key of `agents:`).
    pub login: String,
    /// Their role, from the configuration.
    pub role: Role,
    /// How they signed in.
    pub via: Via,
}

impl Principal {
    /// The principal of agent `login` as the configuration has them, or
    /// `None` when the configuration has no such agent.
    pub fn of(config: &Config, login: &str, via: Via) -> Option<Self> {
        config.agents.get(login).map(|agent| Self {
            login: login.to_owned(),
            role: agent.role,
            via,
        })
    }

    /// The queues they work in (see [`Config::queues_of`]).
    pub fn queues(&self, config: &Config) -> Vec<QueueKey> {
        config.queues_of(&self.login).into_iter().cloned().collect()
    }

    /// Whether they work in `queue` (see [`Config::works_in`]).
    pub fn works_in(&self, config: &Config, queue: &QueueKey) -> bool {
        config.works_in(&self.login, queue)
    }

    /// The timeline's actor for their changes: login and how they signed
    /// in.
    pub fn actor(&self) -> crate::domain::Actor {
        crate::domain::Actor::Agent {
            login: self.login.clone(),
            via: Some(self.via.describe()),
        }
    }

    /// Whether they may take a ticket from someone else who holds it.
    pub fn may_reassign(&self) -> bool {
        matches!(self.role, Role::Lead | Role::Admin)
    }
}

/// How a principal signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A personal API token, by its label.
    Token {
        /// The token's label.
        label: String,
    },
    /// A console session (password or the identity provider).
    Session,
    /// A Cognito JWT.
    Jwt,
    /// The `helpdesk` command on the operator's machine, with `--as`.
    Cli,
}

impl Via {
    /// As the timeline records it: `token:<label>`, `session`, `jwt`,
    /// `cli`.
    pub fn describe(&self) -> String {
        match self {
            Self::Token { label } => format!("token:{label}"),
            Self::Session => "session".to_owned(),
            Self::Jwt => "jwt".to_owned(),
            Self::Cli => "cli".to_owned(),
        }
    }
}

/// Why a credential was not made or not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credential is missing, unknown, revoked, expired or malformed;
    /// deliberately vague (the answer is 401 either way).
    #[error("not signed in: {0}")]
    Unauthenticated(&'static str),
    /// The login is not an agent of the configuration.
    #[error("{0:?} is not an agent of the configuration")]
    UnknownAgent(String),
    /// A value cannot be used (a label, a short password).
    #[error("{0}")]
    Invalid(String),
    /// A token with this label exists.
    #[error("{login} has a token labelled {label:?} already; revoke it first")]
    LabelTaken {
        /// The agent.
        login: String,
        /// The label.
        label: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system's random source or the hash failed.
    #[error("cannot make a credential: {0}")]
    Crypto(String),
}

/// A new token: the secret to show once, and what was stored.
#[derive(Clone)]
pub struct IssuedToken {
    /// The token to hand to the agent (never stored).
    pub secret: String,
    /// The stored record.
    pub token: ApiToken,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Makes a personal API token `label` for agent `login` and stores its hash.
pub async fn issue_token(
    config: &Config,
    store: &dyn CredentialStore,
    login: &str,
    label: &str,
    now: DateTime<Utc>,
) -> Result<IssuedToken, AuthError> {
    known_agent(config, login)?;
    check_label(label)?;
    let secret = random_secret(TOKEN_PREFIX)?;
    let token = ApiToken {
        login: login.to_owned(),
        label: label.to_owned(),
        hash: TokenHash::of(&secret),
        created_at: now,
    };
    match store.add_api_token(&token).await {
        Ok(()) => Ok(IssuedToken { secret, token }),
        Err(StoreError::AlreadyExists(_)) => Err(AuthError::LabelTaken {
            login: login.to_owned(),
            label: label.to_owned(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Revokes agent `login`'s token `label`; answers whether there was one.
pub async fn revoke_token(
    store: &dyn CredentialStore,
    login: &str,
    label: &str,
) -> Result<bool, AuthError> {
    Ok(store.revoke_api_token(login, label).await?)
}

/// The agent a presented token (the text after `Bearer `) belongs to.
pub async fn authenticate_token(
    config: &Config,
    store: &dyn CredentialStore,
    presented: &str,
) -> Result<Principal, AuthError> {
    if !looks_like_token(presented) {
        return Err(AuthError::Unauthenticated("not a personal API token"));
    }
    let token = store
        .api_token(&TokenHash::of(presented))
        .await?
        .ok_or(AuthError::Unauthenticated("unknown or revoked token"))?;
    Principal::of(
        config,
        &token.login,
        Via::Token {
            label: token.label.clone(),
        },
    )
    .ok_or(AuthError::Unauthenticated(
        "the token's agent is no longer an agent",
    ))
}

/// Whether `text` has the shape of a token this desk makes (so a JWT or
/// junk is told apart without a store read).
pub fn looks_like_token(text: &str) -> bool {
    looks_like(TOKEN_PREFIX, text)
}

/// Whether `text` is `prefix` and 43 characters of URL-safe base64.
fn looks_like(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A console session: who, the token its forms carry, when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in agent.
    pub principal: Principal,
    /// The token every state-changing form of the session carries.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// A session as its marker keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSession {
    login: String,
    csrf: String,
    expires_at: DateTime<Utc>,
}

/// A new session: the cookie's value (never stored) and the session.
pub struct OpenedSession {
    /// The cookie's value.
    pub secret: String,
    /// The session.
    pub session: Session,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("login", &self.session.principal.login)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes as URL-safe base64 after `prefix`.
fn random_secret(prefix: &str) -> Result<String, AuthError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Crypto(e.to_string()))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// How many console sign-ins one login may try in [`SIGN_IN_WINDOW_MINUTES`]
/// (right or wrong): plenty for a person, few for a password guesser.
pub const SIGN_IN_ATTEMPTS: u64 = 20;

/// The window of [`SIGN_IN_ATTEMPTS`].
pub const SIGN_IN_WINDOW_MINUTES: i64 = 15;

/// Counts a console sign-in attempt for `login` and answers whether it may
/// be checked (at most [`SIGN_IN_ATTEMPTS`] per window and login).
pub async fn sign_in_allowed(
    store: &dyn CounterStore,
    login: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let window_secs = SIGN_IN_WINDOW_MINUTES * 60;
    let window = now.timestamp().div_euclid(window_secs);
    let ends = DateTime::from_timestamp((window + 1) * window_secs, 0).unwrap_or(now);
    let key = crate::keys::counter::sign_in_attempts(login, window);
    Ok(store.increment_counter(&key, ends).await? <= SIGN_IN_ATTEMPTS)
}

/// Opens a console session for `principal` (who has just proven who they
/// are), ending [`SESSION_HOURS`] from `now`.
pub async fn open_session(
    store: &dyn ClaimStore,
    principal: Principal,
    now: DateTime<Utc>,
) -> Result<OpenedSession, AuthError> {
    let secret = random_secret(SESSION_PREFIX)?;
    let csrf = random_secret("")?;
    let expires_at = now + chrono::Duration::hours(SESSION_HOURS);
    let stored = StoredSession {
        login: principal.login.clone(),
        csrf: csrf.clone(),
        expires_at,
    };
    let value = serde_json::to_string(&stored).map_err(|e| AuthError::Crypto(e.to_string()))?;
    let key = crate::keys::marker::session(&TokenHash::of(&secret));
    if store
        .put_marker(&key, &value, Some(expires_at))
        .await?
        .is_some()
    {
        return Err(AuthError::Crypto("a new session's key was taken".into()));
    }
    Ok(OpenedSession {
        secret,
        session: Session {
            principal,
            csrf,
            expires_at,
        },
    })
}

/// The session a presented cookie value opens, while it lasts and its
/// agent is still an agent of the configuration.
pub async fn session(
    config: &Config,
    store: &dyn ClaimStore,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    if !looks_like(SESSION_PREFIX, presented) {
        return Err(AuthError::Unauthenticated("not a session"));
    }
    let key = crate::keys::marker::session(&TokenHash::of(presented));
    let stored = store
        .get_marker(&key)
        .await?
        .and_then(|value| serde_json::from_str::<StoredSession>(&value).ok())
        .ok_or(AuthError::Unauthenticated("unknown or ended session"))?;
    if stored.expires_at <= now {
        return Err(AuthError::Unauthenticated("the session has expired"));
    }
    let principal = Principal::of(config, &stored.login, Via::Session).ok_or(
        AuthError::Unauthenticated("the session's agent is no longer an agent"),
    )?;
    Ok(Session {
        principal,
        csrf: stored.csrf,
        expires_at: stored.expires_at,
    })
}

/// Ends the session of a presented cookie value (nothing when there is
/// none).
pub async fn close_session(store: &dyn ClaimStore, presented: &str) -> Result<(), AuthError> {
    if looks_like(SESSION_PREFIX, presented) {
        let key = crate::keys::marker::session(&TokenHash::of(presented));
        store.delete_marker(&key).await?;
    }
    Ok(())
}

/// Whether `presented` and `expected` are the same token, in time that
/// does not depend on where they differ.
pub fn same_token(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Sets agent `login`'s console password (argon2id with a random salt).
pub async fn set_password(
    config: &Config,
    store: &dyn CredentialStore,
    login: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    known_agent(config, login)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::Invalid(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let phc = hash_password(password)?;
    store.set_password_hash(login, &phc, now).await?;
    Ok(())
}

/// The agent whose login and password these are.
pub async fn authenticate_password(
    config: &Config,
    store: &dyn CredentialStore,
    login: &str,
    password: &str,
) -> Result<Principal, AuthError> {
    let principal = Principal::of(config, login, Via::Session);
    let stored = match &principal {
        Some(_) => store.password_hash(login).await?,
        None => None,
    };
    // A missing agent or password costs the same hash as a wrong one, so
    // the answer's time does not tell which logins exist.
    let phc = stored.as_deref().unwrap_or(DUMMY_PHC);
    let matches = verify_password(phc, password);
    match (principal, stored, matches) {
        (Some(principal), Some(_), true) => Ok(principal),
        _ => Err(AuthError::Unauthenticated("wrong login or password")),
    }
}

/// A PHC string of a password nobody has, checked when there is no real
/// one (see [`authenticate_password`]).
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$6d7K6qhWSS7vY0LSr1YlOwV7HrQZZWjh0aNJV2ggZ0Q";

fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Crypto(e.to_string()))
}

fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn known_agent(config: &Config, login: &str) -> Result<(), AuthError> {
    if config.agents.contains_key(login) {
        Ok(())
    } else {
        Err(AuthError::UnknownAgent(login.to_owned()))
    }
}

fn check_label(label: &str) -> Result<(), AuthError> {
    let fine = !label.is_empty()
        && label.chars().count() <= MAX_LABEL_CHARS
        && label
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "a token label is 1 to {MAX_LABEL_CHARS} letters, digits, '-', '_' or '.', not {label:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_and_no_other() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batterY"));
        assert!(!verify_password("not a phc string", "anything"));
    }

    #[test]
    fn the_dummy_hash_is_a_valid_hash_that_matches_no_likely_password() {
        assert!(PasswordHash::new(DUMMY_PHC).is_ok());
        assert!(!verify_password(DUMMY_PHC, ""));
        assert!(!verify_password(DUMMY_PHC, "password1234"));
    }

    #[test]
    fn only_the_desks_own_token_shape_is_taken_for_a_token() {
        assert!(looks_like_token(&format!("hd_{}", "a".repeat(43))));
        assert!(!looks_like_token(&format!("hd_{}", "a".repeat(42))));
        assert!(!looks_like_token(&format!("xx_{}", "a".repeat(43))));
        assert!(!looks_like_token("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
        assert!(!looks_like_token(&format!("hd_{}=", "a".repeat(42))));
    }

    #[test]
    fn labels_are_short_plain_names() {
        assert!(check_label("crm-sync_2.0").is_ok());
        assert!(check_label("").is_err());
        assert!(check_label("has space").is_err());
        assert!(check_label(&"x".repeat(65)).is_err());
    }
}
