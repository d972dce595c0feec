//! Amazon Cognito sign-in: the JWTs of the stack's user pool, verified
//! before any handler runs.
//!
//! A token is accepted only when all of these hold:
//! - its header names an RS256 key (`kid`) of the pool's JSON Web Key Set,
//!   and the signature verifies against that key (the set is fetched from
//!   the pool on first use and again, at most once a minute, when a token
//!   names a key the cached set lacks: Cognito rotates keys that way);
//! - `iss` is the pool (`https://cognito-idp.<region>.amazonaws.com/<pool>`);
//! - it was issued to the stack's app client: an access token's
//!   `client_id`, an ID token's `aud`;
//! - it has not expired by the desk's clock (`exp`, no leeway beyond a
//!   minute for clock skew), and is not used before it was issued (`iat`);
//! - its user name (`username` of an access token, `cognito:username` of an
//!   ID token) is an agent of the configuration: Cognito users map to
//!   `agents:` logins by name.
//!
//! Settings come from `HELPDESK_COGNITO_USER_POOL_ID` and
//! `HELPDESK_COGNITO_CLIENT_ID`; the key set is read from Cognito's
//! endpoint in the pool's region, or from `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`
//! / `AWS_ENDPOINT_URL` when set (moto's server in the tests).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

/// How long a fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The shortest time between two fetches of the key set for unknown keys
/// (so tokens naming made-up keys cannot make the function hammer Cognito).
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// Clock skew allowed on `exp` and `iat`, in seconds.
const LEEWAY_SECS: i64 = 60;

/// Where the pool is and which app client its tokens must be for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoSettings {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The pool's key set.
    pub jwks_url: String,
    /// The app client id.
    pub client_id: String,
    /// The pool's region (the part of its id before `_`).
    pub region: String,
    /// Where Cognito answers, when not at its own address (moto's server).
    pub endpoint: Option<String>,
}

/// Why the Cognito settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// One variable is set and the other is not.
    #[error("set both HELPDESK_COGNITO_USER_POOL_ID and HELPDESK_COGNITO_CLIENT_ID, or neither")]
    Incomplete,
    /// The pool id is not `<region>_<id>`.
    #[error("HELPDESK_COGNITO_USER_POOL_ID {0:?} is not a user pool id (<region>_<id>)")]
    PoolId(String),
}

impl CognitoSettings {
    /// The settings of the environment: `None` when Cognito sign-in is
    /// off (neither variable set).
    pub fn from_env() -> Result<Option<Self>, SettingsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let endpoint =
            var("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER").or_else(|| var("AWS_ENDPOINT_URL"));
        match (
            var("HELPDESK_COGNITO_USER_POOL_ID"),
            var("HELPDESK_COGNITO_CLIENT_ID"),
        ) {
            (None, None) => Ok(None),
            (Some(pool), Some(client)) => Self::new(&pool, &client, endpoint.as_deref()).map(Some),
            _ => Err(SettingsError::Incomplete),
        }
    }

    /// The settings of pool `pool_id` and app client `client_id`; the key
    /// set from `endpoint` when given instead of Cognito's own.
    pub fn new(
        pool_id: &str,
        client_id: &str,
        endpoint: Option<&str>,
    ) -> Result<Self, SettingsError> {
        let pool_id = pool_id.trim();
        let region = pool_id
            .split_once('_')
            .map(|(region, _)| region)
            .filter(|region| {
                !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .ok_or_else(|| SettingsError::PoolId(pool_id.to_owned()))?;
        if !pool_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(SettingsError::PoolId(pool_id.to_owned()));
        }
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
        let base = endpoint.map_or_else(
            || format!("https://cognito-idp.{region}.amazonaws.com"),
            |e| e.trim_end_matches('/').to_owned(),
        );
        Ok(Self {
            issuer,
            jwks_url: format!("{base}/{pool_id}/.well-known/jwks.json"),
            client_id: client_id.trim().to_owned(),
            region: region.to_owned(),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
        })
    }
}

/// Why a JWT was refused (all answer 401; the reason goes to the log).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not a JWT, or a header or claim of the wrong shape.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// No key of the pool has the token's `kid`.
    #[error("the token names a key the user pool does not have")]
    UnknownKey,
    /// The signature does not verify, or the algorithm is not RS256.
    #[error("bad signature or algorithm: {0}")]
    Signature(String),
    /// Issued by another pool.
    #[error("issued by another user pool")]
    Issuer,
    /// Issued to another app client, or neither an access nor an ID token.
    #[error("issued to another app client")]
    Client,
    /// Expired, or issued in the future.
    #[error("expired or not yet valid")]
    Expired,
    /// The key set could not be fetched (worth retrying; answers 503).
    #[error("cannot fetch the user pool's keys: {0}")]
    Keys(String),
}

/// The claims read from a Cognito token.
#[derive(Debug, Deserialize)]
struct Claims {
    token_use: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    aud: Option<String>,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    cognito_username: Option<String>,
}

/// The key set as last fetched.
#[derive(Default)]
struct Keys {
    set: Option<JwkSet>,
    fetched: Option<Instant>,
}

/// Verifies the pool's JWTs; shared by every request of a process (the key
/// set is fetched once).
pub struct CognitoVerifier {
    settings: CognitoSettings,
    http: reqwest::Client,
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for CognitoVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CognitoVerifier {
    /// A verifier for `settings`; fetches nothing yet.
    pub fn new(settings: CognitoSettings) -> Result<Arc<Self>, JwtError> {
        helpdesk::automation::webhook::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| JwtError::Keys(e.to_string()))?;
        Ok(Arc::new(Self {
            settings,
            http,
            keys: Mutex::new(Keys::default()),
        }))
    }

    /// The pool it checks tokens of.
    pub fn settings(&self) -> &CognitoSettings {
        &self.settings
    }

    /// Whether `credential` has the shape of a JWT (three dot-separated
    /// parts), as opposed to a personal API token.
    pub fn looks_like_jwt(credential: &str) -> bool {
        credential.split('.').count() == 3
    }

    /// The Cognito user name of a valid `token`, as of `now`.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<String, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::Signature(format!(
                "{:?} is not RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| JwtError::Malformed("no kid in the header".to_owned()))?;
        let key = self.key(&kid).await?;
        let claims = verify_signed(token, &key, &self.settings.issuer)?;
        check_claims(&claims, &self.settings.client_id, now)
    }

    /// The decoding key named `kid`, fetching the set when it is not known
    /// (once, and again only after [`REFETCH_AFTER`]).
    async fn key(&self, kid: &str) -> Result<DecodingKey, JwtError> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = find(keys.set.as_ref(), kid)? {
            return Ok(key);
        }
        let may_fetch = keys.fetched.is_none_or(|at| at.elapsed() >= REFETCH_AFTER);
        if !may_fetch {
            return Err(JwtError::UnknownKey);
        }
        let set = self.fetch().await?;
        keys.set = Some(set);
        keys.fetched = Some(Instant::now());
        find(keys.set.as_ref(), kid)?.ok_or(JwtError::UnknownKey)
    }

    async fn fetch(&self) -> Result<JwkSet, JwtError> {
        let answer = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| JwtError::Keys(e.to_string()))?;
        let body = answer
            .bytes()
            .await
            .map_err(|e| JwtError::Keys(e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| JwtError::Keys(format!("not a key set: {e}")))
    }
}

/// The key `kid` of `set`, if it has it.
fn find(set: Option<&JwkSet>, kid: &str) -> Result<Option<DecodingKey>, JwtError> {
    set.and_then(|set| set.find(kid))
        .map(|jwk| DecodingKey::from_jwk(jwk).map_err(|e| JwtError::Signature(e.to_string())))
        .transpose()
}

/// The claims of `token` once its signature and issuer hold (time and
/// client are checked by [`check_claims`], against the desk's clock).
fn verify_signed(token: &str, key: &DecodingKey, issuer: &str) -> Result<Claims, JwtError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => JwtError::Issuer,
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                JwtError::Signature(e.to_string())
            }
            _ => JwtError::Malformed(e.to_string()),
        })
}

/// The user name of verified `claims` issued to `client_id`, valid at
/// `now`.
fn check_claims(claims: &Claims, client_id: &str, now: DateTime<Utc>) -> Result<String, JwtError> {
    let now = now.timestamp();
    if claims.exp + LEEWAY_SECS < now || claims.iat.is_some_and(|iat| iat - LEEWAY_SECS > now) {
        return Err(JwtError::Expired);
    }
    let (client, user) = match claims.token_use.as_str() {
        "access" => (claims.client_id.as_deref(), claims.username.as_deref()),
        "id" => (claims.aud.as_deref(), claims.cognito_username.as_deref()),
        _ => (None, None),
    };
    if client != Some(client_id) {
        return Err(JwtError::Client);
    }
    user.filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| JwtError::Malformed("no user name".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(token_use: &str, exp: i64) -> Claims {
        Claims {
            token_use: token_use.to_owned(),
            client_id: Some("client-1".to_owned()),
            aud: Some("client-1".to_owned()),
            exp,
            iat: Some(exp - 3600),
            username: Some("anna".to_owned()),
            cognito_username: Some("anna-id".to_owned()),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    #[test]
    fn an_access_token_names_its_user_by_username_and_an_id_token_by_cognito_username() {
        assert_eq!(
            check_claims(&claims("access", 2_000), "client-1", at(1_000)),
            Ok("anna".to_owned())
        );
        assert_eq!(
            check_claims(&claims("id", 2_000), "client-1", at(1_000)),
            Ok("anna-id".to_owned())
        );
    }

    #[test]
    fn a_token_past_its_expiry_by_more_than_a_minute_is_refused() {
        assert_eq!(
            check_claims(&claims("access", 2_000), "client-1", at(2_059)),
            Ok("anna".to_owned())
        );
        assert_eq!(
            check_claims(&claims("access", 2_000), "client-1", at(2_061)),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn a_token_of_another_client_or_use_is_refused() {
        assert_eq!(
            check_claims(&claims("access", 2_000), "client-2", at(1_000)),
            Err(JwtError::Client)
        );
        assert_eq!(
            check_claims(&claims("refresh", 2_000), "client-1", at(1_000)),
            Err(JwtError::Client)
        );
    }

    #[test]
    fn the_issuer_and_key_set_follow_the_pool_id_and_the_endpoint() {
        let aws = CognitoSettings::new("eu-west-1_AbC123", "c", None).ok();
        assert_eq!(
            aws.as_ref().map(|s| s.issuer.as_str()),
            Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123")
        );
        assert_eq!(
            aws.as_ref().map(|s| s.jwks_url.as_str()),
            Some(
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
            )
        );
        let moto = CognitoSettings::new("us-east-1_x", "c", Some("http://127.0.0.1:5000/")).ok();
        assert_eq!(
            moto.map(|s| s.jwks_url),
            Some("http://127.0.0.1:5000/us-east-1_x/.well-known/jwks.json".to_owned())
        );
        assert!(CognitoSettings::new("nopool", "c", None).is_err());
        assert!(CognitoSettings::new("eu-west-1_a/../b", "c", None).is_err());
    }
}
