//! The API's errors as `application/problem+json` (RFC 9457), the same
//! document the form intake answers with: a type, a title, the status, a
//! detail, and for a bad value the field it is in (`errors[].field`).

use axum::response::{IntoResponse, Response};
use helpdesk::intake::answers::FieldError;
use helpdesk::intake::problem::Problem;
use helpdesk::store::StoreError;
use helpdesk::tickets::agent::AgentError;
use http::{HeaderValue, StatusCode, header};

/// An API error: a problem document, plus the headers some statuses need.
#[derive(Debug)]
pub struct ApiError {
    problem: Box<Problem>,
    /// Sent as `WWW-Authenticate` (401).
    challenge: bool,
    /// Sent as `ETag` (412: the version the ticket is at).
    current_version: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem: Box::new(Problem::new(status, slug, title, detail)),
            challenge: false,
            current_version: None,
        }
    }

    /// 401: no credentials, or ones that are not (or no longer) valid.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self {
            challenge: true,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in first",
                detail,
            )
        }
    }

    /// 404: no such thing (or one the agent may not see).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 400 or 422 naming the field at fault: 400 when the request cannot
    /// be read (`malformed`), 422 when a value is not allowed.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError {
            field: field.into(),
            message: message.into(),
        };
        Self {
            problem: Box::new(Problem::invalid_fields(vec![error])),
            challenge: false,
            current_version: None,
        }
    }

    /// 400: the request cannot be read at all (not JSON, a wrong type).
    pub fn malformed(field: Option<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "The request cannot be read",
            detail.clone(),
        );
        if let Some(field) = field {
            error.problem.errors.push(FieldError {
                field,
                message: detail,
            });
        }
        error
    }

    /// 413: a body over the route's limit.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "The request is too large",
            detail,
        )
    }

    /// 428: a change without `If-Match`.
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "version-required",
            "Say which version you changed",
            "send If-Match with the ticket's version (its ETag), so that no one else's change is overwritten",
        )
    }

    /// 503: a dependency the request needs is out of reach for now.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Try again shortly",
            detail,
        )
    }

    /// 503 or 500 from the store.
    pub fn store(e: &StoreError) -> Self {
        if e.is_retryable() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Try again shortly",
                "the store is busy or unreachable",
            )
        } else {
            tracing::error!(error = %e, "store failure on an API request");
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side",
                "the failure is logged",
            )
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::NotFound(key) => Self::not_found(format!("no ticket {key}")),
            AgentError::Invalid { field, message } => Self::invalid(field, message),
            AgentError::Forbidden(detail) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your role does not allow this",
                detail,
            ),
            AgentError::Closed(detail) => {
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    "ticket-closed",
                    "The ticket is closed",
                    detail.clone(),
                );
                error.problem.errors.push(FieldError {
                    field: "public".to_owned(),
                    message: detail,
                });
                error
            }
            AgentError::Stale { key, current } => Self {
                current_version: Some(current),
                ..Self::new(
                    StatusCode::PRECONDITION_FAILED,
                    "stale-version",
                    "The ticket changed meanwhile",
                    format!(
                        "{key} is at version {current} now: nothing was changed; reload it and decide again"
                    ),
                )
            },
            AgentError::Store(e) => Self::store(&e),
            AgentError::Content(e) => {
                tracing::error!(error = %e, "a comment could not be kept");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Try again shortly",
                    "the comment could not be stored; nothing was changed",
                )
            }
            AgentError::Mail(detail) => Self::new(
                StatusCode::BAD_GATEWAY,
                "mail-failed",
                "Stored, but not mailed",
                detail,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (mut parts, body) = self.problem.into_response().into_parts();
        if self.challenge {
            parts.headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"helpdesk\""),
            );
        }
        if let Some(version) = self.current_version
            && let Ok(value) = HeaderValue::from_str(&format!("\"{version}\""))
        {
            parts.headers.insert(header::ETAG, value);
        }
        (parts, body).into_response()
    }
}

/// The answer to a path the API does not have.
pub async fn not_found() -> ApiError {
    ApiError::not_found("the API has no such route; see /api/v1/openapi.json")
}
