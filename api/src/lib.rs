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
pub mod problem;
mod tickets;
pub mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use helpdesk::services::Services;

/// The largest JSON body a route takes (a comment is at most a few hundred
/// kilobytes; uploads have their own limit).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// The API's routes under `/api/v1`, over `services`.
pub fn router(services: Services) -> Router {
    let api = Router::new()
        .route("/tickets", get(tickets::list).post(tickets::create))
        .route("/tickets/{key}", get(tickets::show).patch(tickets::change))
        .route(
            "/tickets/{key}/comments",
            axum::routing::post(tickets::comment),
        )
        .fallback(problem::not_found)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(services);
    Router::new().nest("/api/v1", api)
}
