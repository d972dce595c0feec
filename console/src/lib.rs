//! The agent console: the desk in a browser. Server-rendered HTML pages
//! (minijinja templates compiled into the binary, [`render`]) with one
//! small script for live updates and one style sheet, served by `helpdesk
//! serve` at `/` and by the `agent-api` function on AWS.
//!
//! Every page is a thin handler over the same use cases the agent API
//! calls (`helpdesk::tickets::{list, views, agent, uploads}`); nothing
//! here reads or writes the store another way.
//!
//! Security, in one place each:
//! - Sign-in ([`signin`]): a password checked by `helpdesk::auth` (locally)
//!   or by the stack's Cognito user pool ([`cognito`], on AWS), then a
//!   server-side session ([`session`]) in an HttpOnly, SameSite=Lax cookie
//!   (Secure on AWS) that expires and that sign-out ends.
//! - Every state-changing form carries the session's CSRF token, and a
//!   cross-site `Origin` or `Sec-Fetch-Site` is refused ([`session::Form`]).
//! - Every answer carries a Content-Security-Policy without inline scripts
//!   or styles, `nosniff`, `frame-ancestors 'none'` ([`secure_headers`]).
//! - Templates escape every value; customer HTML is sanitised again with
//!   ammonia right before it is shown ([`show`]).

mod assets;
pub mod cognito;
mod create;
mod list;
pub mod render;
mod reports;
pub mod session;
mod show;
mod signin;
mod ticket;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use helpdesk::services::Services;
use http::{HeaderValue, header};

/// The policy every console answer carries: scripts, styles and images
/// from the desk only (images also as `data:`), no frames, forms posting
/// back to the desk only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the console's handlers share.
#[derive(Clone, Debug)]
pub struct Console {
    /// The use cases' ports.
    pub services: Services,
    /// Whether cookies are `Secure` (served over HTTPS, as on AWS).
    pub secure_cookies: bool,
    /// Sign-in with the user pool; `None`: the desk's own passwords.
    pub cognito: Option<Arc<cognito::CognitoSignIn>>,
}

impl Console {
    /// The console over `services`, signing agents in with the desk's own
    /// passwords; `secure_cookies` when served over HTTPS.
    pub fn new(services: Services, secure_cookies: bool) -> Self {
        Self {
            services,
            secure_cookies,
            cognito: None,
        }
    }

    /// The console beside the agent API `api`: signed in with the API's
    /// Cognito user pool when it has one (over HTTPS: `Secure` cookies),
    /// with the desk's own passwords otherwise.
    pub fn beside(api: &helpdesk_api::Api) -> Self {
        match &api.cognito {
            Some(verifier) => Self {
                services: api.services.clone(),
                secure_cookies: true,
                cognito: Some(Arc::new(cognito::CognitoSignIn::new(Arc::clone(verifier)))),
            },
            None => Self::new(api.services.clone(), false),
        }
    }
}

impl axum::extract::FromRef<Console> for Services {
    fn from_ref(console: &Console) -> Self {
        console.services.clone()
    }
}

/// The console's routes: `/` (to the list), `/signin`, `/signout`,
/// `/tickets...`, `/new`, and `/assets/...`.
pub fn router(console: Console) -> Router {
    let upload_limit = console
        .services
        .config
        .desk
        .mail
        .max_attachment_bytes
        .saturating_mul(4)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/", get(home))
        .route("/signin", get(signin::page).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/tickets", get(list::page))
        .route("/tickets/{key}", get(ticket::page))
        .route("/tickets/{key}/older", get(ticket::older))
        .route("/tickets/{key}/state", get(ticket::state))
        .route("/tickets/{key}/take", post(ticket::take))
        .route("/tickets/{key}/fields", post(ticket::fields))
        .route(
            "/tickets/{key}/escalation-rating",
            post(ticket::rate_escalation),
        )
        .route(
            "/tickets/{key}/comments",
            post(ticket::comment).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/tickets/{key}/attachments/{seq}", get(ticket::attachment))
        .route("/new", get(create::page).post(create::submit))
        .route("/reports", get(reports::page))
        .route("/reports/{file}", get(reports::csv))
        .route("/assets/{name}", get(assets::serve))
        .fallback(not_found)
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(console)
}

/// The agent API and the console beside it, as one router: what the
/// `agent-api` function serves, and `helpdesk serve` beside its intake
/// routes. The console signs in as [`Console::beside`] says.
pub fn with_api(api: helpdesk_api::Api) -> Router {
    let console = Console::beside(&api);
    helpdesk_api::router(api).merge(router(console))
}

async fn home() -> Redirect {
    Redirect::to("/tickets?view=mine")
}

async fn not_found() -> Response {
    render::error_page(
        http::StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page in the console.",
    )
}

/// Adds the console's security headers to every answer.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response.into_response()
}
