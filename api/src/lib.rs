//! The agent API, `/api/v1`: agents find, read, change and answer tickets
//! over HTTP. One axum [`Router`] that `helpdesk serve` mounts beside the
//! form and mail routes and that the `agent-api` Lambda function serves
//! behind API Gateway.
//!
//! Every route but the OpenAPI document takes `Authorization: Bearer
//! <token>` ([`auth`]) before its handler runs; every route is declared
//! once, served and described from the same list (`declare_routes!`,
//! [`document`]); every error is an
//! `application/problem+json` document ([`problem`]) naming the field at
//! fault. Handlers only translate: parse the request into a use case's
//! input (`helpdesk::tickets::agent` for changes), call it, and shape its
//! answer as JSON ([`views`]).

pub mod auth;
pub mod cognito;
mod contacts;
pub mod files;
pub mod openapi;
pub mod problem;
mod reports;
mod tickets;
pub mod views;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::get;
use axum::{Json, Router};
use helpdesk::services::Services;
use utoipa::OpenApi as _;

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

/// Declares routes once, as `(router, describe)`: the axum router of the
/// routes, and a function deriving their OpenAPI description from the same
/// list, so a route cannot be served without being described. The
/// description is built only when `/openapi.json` is asked for (building it
/// at start cost the function's cold start about a million instructions).
macro_rules! declare_routes {
    ($($path:literal => $($method:ident($($handler:ident)::+)),+;)+) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($($handler)::+),+),+))]
        struct Described;
        let router: Router<Api> = Router::new()$(
            .route($path, axum::routing::MethodRouter::new()$(.$method($($handler)::+))+)
        )+;
        let describe: fn() -> utoipa::openapi::OpenApi = <Described as utoipa::OpenApi>::openapi;
        (router, describe)
    }};
}

/// The routes that take JSON (or nothing) and their description.
fn json_routes() -> (Router<Api>, fn() -> utoipa::openapi::OpenApi) {
    declare_routes! {
        "/views" => get(tickets::views);
        "/tickets" => get(tickets::list), post(tickets::create);
        "/tickets/{key}" => get(tickets::show), patch(tickets::change);
        "/tickets/{key}/comments" => post(tickets::comment);
        "/tickets/{key}/escalation-rating" => post(tickets::rate_escalation);
        "/tickets/{key}/attachments/{seq}" => get(files::download);
        "/contacts" => get(contacts::find);
        "/contacts/{id}" => get(contacts::show);
        "/reports/{name}" => get(reports::show);
    }
}

/// The upload route and its description: it takes a body of up to the
/// desk's largest attachment and some framing (several smaller files fit).
fn upload_routes() -> (Router<Api>, fn() -> utoipa::openapi::OpenApi) {
    declare_routes! {
        "/uploads" => post(files::upload);
    }
}

/// The OpenAPI document: the fixed parts, then every declared route.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = openapi::ApiDoc::openapi();
    document.merge(json_routes().1());
    document.merge(upload_routes().1());
    document
}

/// The API's routes under `/api/v1`, with `GET /api/v1/openapi.json`.
pub fn router(api: Api) -> Router {
    let upload_limit = api
        .services
        .config
        .desk
        .mail
        .max_attachment_bytes
        .saturating_add(files::FRAMING);
    let described = Arc::new(std::sync::OnceLock::new());
    let api = json_routes()
        .0
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(upload_routes().0.layer(DefaultBodyLimit::max(upload_limit)))
        .route(
            "/openapi.json",
            get(move || {
                let described = Arc::clone(&described);
                async move {
                    Json(
                        described
                            .get_or_init(|| serde_json::to_value(document()).unwrap_or_default())
                            .clone(),
                    )
                }
            }),
        )
        .fallback(problem::not_found)
        .with_state(api);
    Router::new().nest("/api/v1", api)
}
