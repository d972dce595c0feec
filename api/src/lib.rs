//! The agent API, `/api/v1`: agents find, read, change and answer tickets
//! over HTTP. One axum [`Router`] that `helpdesk serve` mounts beside the
//! form and mail routes and that the `agent-api` Lambda function serves
//! behind API Gateway.
//!
//! Every route but the OpenAPI document takes `Authorization: Bearer
//! <token>` ([`auth`]) before its handler runs; every error is an
//! `application/problem+json` document ([`problem`]) naming the field at
//! fault. Handlers only translate: parse the request into a use case's
//! input (`helpdesk::tickets::agent` for changes), call it, and shape its
//! answer as JSON ([`views`]).

pub mod auth;
pub mod cognito;
mod contacts;
mod files;
pub mod openapi;
pub mod problem;
mod tickets;
pub mod views;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::get;
use axum::{Json, Router};
use helpdesk::services::Services;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cognito::{CognitoSettings, CognitoVerifier};

/// The largest JSON body a route takes (a comment is at most a few hundred
/// kilobytes; uploads have their own limit).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// What the API's handlers share: the library's services and, when the
/// desk signs agents in with Cognito, the JWT verifier.
#[derive(Clone, Debug)]
pub struct Api {
    /// The use cases' ports.
    pub services: Services,
    /// Verifies Cognito JWTs; `None`: personal API tokens only.
    pub cognito: Option<Arc<CognitoVerifier>>,
}

impl Api {
    /// The API over `services`, with personal API tokens only.
    pub fn new(services: Services) -> Self {
        Self {
            services,
            cognito: None,
        }
    }

    /// The API over `services`, taking Cognito JWTs too when the
    /// environment names a user pool ([`CognitoSettings::from_env`]).
    pub fn from_env(services: Services) -> anyhow::Result<Self> {
        let cognito = match CognitoSettings::from_env()? {
            Some(settings) => Some(CognitoVerifier::new(settings)?),
            None => None,
        };
        Ok(Self { services, cognito })
    }
}

impl FromRef<Api> for Services {
    fn from_ref(api: &Api) -> Self {
        api.services.clone()
    }
}

/// The JSON routes and their OpenAPI document: every route is registered
/// through `routes!`, which adds its `#[utoipa::path]` description.
pub fn routes() -> (Router<Api>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(tickets::views))
        .routes(routes!(tickets::list, tickets::create))
        .routes(routes!(tickets::show, tickets::change))
        .routes(routes!(tickets::comment))
        .routes(routes!(contacts::find))
        .routes(routes!(contacts::show))
        .routes(routes!(files::download))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .split_for_parts()
}

/// `POST /uploads` and its description: a body of up to the desk's
/// largest attachment and some framing (several smaller files fit too).
fn upload_routes(config: &helpdesk::config::Config) -> (Router<Api>, utoipa::openapi::OpenApi) {
    let limit = config
        .desk
        .mail
        .max_attachment_bytes
        .saturating_add(files::FRAMING);
    OpenApiRouter::new()
        .routes(routes!(files::upload))
        .layer(DefaultBodyLimit::max(limit))
        .split_for_parts()
}

/// The API's routes under `/api/v1`, with `GET /api/v1/openapi.json`.
pub fn router(api: Api) -> Router {
    let (json_routes, mut document) = routes();
    let (uploads, uploads_document) = upload_routes(&api.services.config);
    document.merge(uploads_document);
    let document = Arc::new(document);
    let api = json_routes
        .merge(uploads)
        .route(
            "/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .fallback(problem::not_found)
        .with_state(api);
    Router::new().nest("/api/v1", api)
}
