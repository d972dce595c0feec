//! Who is asking: the [`Agent`] extractor, which every handler takes, so
//! no handler runs for a request without valid credentials.
//! `Authorization: Bearer <token>` with a personal API token (checked
//! against its stored hash, [`helpdesk::auth::authenticate_token`]). A
//! missing, malformed, unknown or revoked credential answers 401 with
//! `WWW-Authenticate: Bearer`, and never says which of these it was
//! beyond what the client can fix. Customers have no credentials at all.

use axum::extract::FromRequestParts;
use helpdesk::auth::{self, AuthError, Principal};
use helpdesk::services::Services;
use http::header;
use http::request::Parts;

use crate::problem::ApiError;

/// The signed-in agent of a request.
#[derive(Debug, Clone)]
pub struct Agent(pub Principal);

impl FromRequestParts<Services> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Services,
    ) -> Result<Self, Self::Rejection> {
        let presented = bearer(parts)?;
        match auth::authenticate_token(&services.config, services.store.as_ref(), presented).await {
            Ok(principal) => Ok(Self(principal)),
            Err(AuthError::Store(e)) => Err(ApiError::store(&e)),
            Err(_) => Err(ApiError::unauthenticated(
                "the token is not valid: unknown, revoked, or its agent is gone",
            )),
        }
    }
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
