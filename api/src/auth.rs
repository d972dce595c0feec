//! Who is asking: the [`Agent`] extractor, which every handler takes, so
//! no handler runs for a request without valid credentials.
//! `Authorization: Bearer <credential>` with a personal API token (checked
//! against its stored hash, [`helpdesk::auth::authenticate_token`]) or,
//! where the desk signs agents in with Cognito, a JWT of its user pool
//! ([`crate::cognito`]) whose user is an agent of the configuration. A
//! missing, malformed, unknown or revoked credential answers 401 with
//! `WWW-Authenticate: Bearer`, and never says which of these it was
//! beyond what the client can fix. Customers have no credentials at all.

use axum::extract::FromRequestParts;
use helpdesk::auth::{self, AuthError, Principal, Via};
use http::header;
use http::request::Parts;

use crate::Api;
use crate::cognito::{CognitoVerifier, JwtError};
use crate::problem::ApiError;

/// The signed-in agent of a request.
#[derive(Debug, Clone)]
pub struct Agent(pub Principal);

impl FromRequestParts<Api> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let presented = bearer(parts)?;
        if let Some(verifier) = api
            .cognito
            .as_deref()
            .filter(|_| CognitoVerifier::looks_like_jwt(presented))
        {
            return jwt_agent(api, verifier, presented).await;
        }
        let services = &api.services;
        match auth::authenticate_token(&services.config, services.store.as_ref(), presented).await {
            Ok(principal) => Ok(Self(principal)),
            Err(AuthError::Store(e)) => Err(ApiError::store(&e)),
            Err(_) => Err(ApiError::unauthenticated(
                "the token is not valid: unknown, revoked, or its agent is gone",
            )),
        }
    }
}

/// The agent a Cognito JWT signs in.
async fn jwt_agent(api: &Api, verifier: &CognitoVerifier, jwt: &str) -> Result<Agent, ApiError> {
    let user = verifier
        .verify(jwt, api.services.clock.now())
        .await
        .map_err(|e| match e {
            JwtError::Keys(reason) => {
                tracing::error!(%reason, "cannot check a JWT: the user pool's keys are out of reach");
                ApiError::unavailable("sign-in cannot be checked right now; try again shortly")
            }
            refused => {
                tracing::info!(reason = %refused, "JWT refused");
                ApiError::unauthenticated("the token is not valid: expired, or not of this desk")
            }
        })?;
    Principal::of(&api.services.config, &user, Via::Jwt)
        .map(Agent)
        .ok_or_else(|| {
            tracing::info!(%user, "JWT of a user who is not an agent of the configuration");
            ApiError::unauthenticated("the signed-in user is not an agent of this desk")
        })
}

/// The credential of `Authorization: Bearer <credential>`.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <token>"))?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    let (scheme, credential) = text
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(ApiError::unauthenticated(
            "send Authorization: Bearer <token>",
        ));
    }
    Ok(credential.trim())
}
