//! `helpdesk serve`: the local all-in-one server. It serves the same form
//! and mail handler code as the Lambda functions over the local store, and
//! runs the trigger engine and SLA timers over the store's change feed
//! (what the `ticket-triggers` function does with the DynamoDB stream) and
//! the SLA check every minute (what the `sla-check` function does on its
//! EventBridge schedule). The rating page (`/csat/{token}`) is the form
//! intake function's on AWS. The agent API (`helpdesk_api`, `/api/v1`) is
//! mounted beside the intake routes, and the agent console
//! (`helpdesk_console`) at `/`.

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use std::net::SocketAddr;
use std::time::Duration;

use helpdesk::app::Services;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::listen::{self, Limits};
use helpdesk::automation::feed;
use helpdesk::intake::problem::Problem;
use helpdesk::intake::{self, FormRequest};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The router; public so tests can serve it on a random port. Each route
/// reads bodies up to its own limit: a form's uploads and some framing, a
/// mail whose attachment is as large as the desk keeps, base64-encoded.
pub fn router(api: helpdesk_api::Api) -> Router {
    let services = api.services.clone();
    let form_limit = form_body_limit(&services.config);
    let mail_limit = mail_body_limit(&services.config);
    Router::new()
        .route(
            "/forms/{form_id}",
            any(form).layer(DefaultBodyLimit::max(form_limit)),
        )
        .route("/mail", post(mail).layer(DefaultBodyLimit::max(mail_limit)))
        .route(
            "/csat/{token}",
            any(csat).layer(DefaultBodyLimit::max(CSAT_BODY_LIMIT)),
        )
        .route("/health", get(|| async { "ok" }))
        .with_state(services)
        .merge(helpdesk_console::with_api(api))
}

/// The largest rating page post: a score and a comment of at most
/// 2 KiB, urlencoded (up to 9 bytes a character), with room to spare.
const CSAT_BODY_LIMIT: usize = 64 * 1024;

/// The rating page (`helpdesk::csat::page`), as the form intake function
/// serves it on AWS.
async fn csat(
    State(services): State<Services>,
    Path(token): Path<String>,
    method: Method,
    uri: axum::http::Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    use helpdesk::csat::page::{self, PageRequest};
    let Ok(body) = body else {
        return (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "The answer is too long.",
        )
            .into_response();
    };
    let request = PageRequest {
        method,
        token,
        query: uri.query().map(str::to_owned),
        body,
    };
    let (parts, body) = page::serve_rating_page(&services, request)
        .await
        .into_parts();
    (parts, body).into_response()
}

/// Room for headers, text parts and MIME framing around the content.
const FRAMING: usize = 1024 * 1024;

/// The largest form body: the largest form's uploads, plus framing.
fn form_body_limit(config: &helpdesk::config::Config) -> usize {
    let largest = config
        .forms
        .values()
        .map(|f| f.attachments.max_total_bytes)
        .max()
        .unwrap_or(0);
    largest.saturating_add(FRAMING)
}

/// The largest raw mail `POST /mail` takes: one attachment of
/// `desk.mail.max_attachment_bytes` in base64 (4 bytes for 3, a line break
/// every 76 characters), plus framing; what the mailgate takes on stdin.
pub fn mail_body_limit(config: &helpdesk::config::Config) -> usize {
    let attachment = config.desk.mail.max_attachment_bytes;
    let base64 = attachment.div_ceil(3).saturating_mul(4);
    let lines = base64.div_ceil(76).saturating_mul(2);
    base64.saturating_add(lines).saturating_add(FRAMING)
}

async fn form(
    State(services): State<Services>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Path(form_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(refused) => {
            return problem(Problem::new(
                refused.status(),
                "too-large",
                "Submission too large",
                refused.body_text(),
            ));
        }
    };
    let request = FormRequest {
        method,
        form_id,
        headers,
        body,
        client: peer.map(|Extension(ConnectInfo(peer))| peer.ip()),
    };
    let response = intake::handle(&services, request).await;
    let (parts, body) = response.into_parts();
    (parts, body).into_response()
}

/// `POST /mail` with a raw `message/rfc822` body: the same pipeline as the
/// mailgate. 202 with what happened; every refusal as problem+json: 400 for
/// data that can never be accepted (kept all the same), 413 for a body over
/// [`mail_body_limit`], 503 to try again later, 500 for a failure on our
/// side that retrying cannot fix (the raw message is kept).
async fn mail(
    State(services): State<Services>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    use axum::http::StatusCode;
    use helpdesk::mail::ingest::{self, Envelope, IngestError};
    let body = match body {
        Ok(body) => body,
        Err(refused) => return body_refused(&services, &refused),
    };
    let recipients = headers
        .get_all("x-envelope-to")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let envelope = Envelope {
        recipients,
        ..Envelope::default()
    };
    match ingest::ingest(&services, body, envelope).await {
        Ok(outcome) => (
            StatusCode::ACCEPTED,
            [("content-type", "application/json")],
            serde_json::json!({ "outcome": crate::mailgate::describe(&outcome) }).to_string(),
        )
            .into_response(),
        Err(e @ IngestError::Unacceptable { .. }) => problem(Problem::new(
            StatusCode::BAD_REQUEST,
            "not-mail",
            "Not a mail message",
            e.to_string(),
        )),
        Err(e @ IngestError::Temporary { .. }) => problem(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Try again shortly",
            e.to_string(),
        )),
        Err(e @ IngestError::Permanent { .. }) => {
            tracing::error!(error = %e, "mail not taken; retrying cannot help");
            problem(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "mail-failed",
                "The mail cannot be taken",
                format!("{e} (the raw message is kept)"),
            ))
        }
    }
}

/// A body that could not be read, as problem+json: too large (naming the
/// limit and where it comes from), or broken off.
fn body_refused(services: &Services, refused: &BytesRejection) -> Response {
    let status = refused.status();
    let detail = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "a mail of at most {} bytes is taken here (one attachment of desk.mail.max_attachment_bytes = {} in base64, plus headers)",
            mail_body_limit(&services.config),
            services.config.desk.mail.max_attachment_bytes
        )
    } else {
        refused.body_text()
    };
    let slug = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        "too-large"
    } else {
        "bad-body"
    };
    problem(Problem::new(status, slug, "Mail body not read", detail))
}

/// A problem document as an axum response.
fn problem(problem: Problem) -> Response {
    let (parts, body) = problem.into_response().into_parts();
    (parts, body).into_response()
}

/// How long the trigger engine sleeps when no write wakes it.
const TRIGGER_IDLE: Duration = Duration::from_secs(5);

/// How long the trigger engine may take to finish its current pass after
/// the server stopped; its cursor makes an interrupted pass safe to resume.
const TRIGGER_GRACE: Duration = Duration::from_secs(10);

/// How often the SLA check runs, and how long one run may take.
const SLA_EVERY: Duration = Duration::from_secs(60);
const SLA_BUDGET: Duration = Duration::from_secs(50);

/// Runs the SLA check every [`SLA_EVERY`] (the first at once) until
/// `shutdown`; a run that fails is logged and the next one tries again.
pub async fn sla_every_minute(services: Services, shutdown: impl Future<Output = ()>) {
    let mut every = tokio::time::interval(SLA_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = every.tick() => {}
        }
        match helpdesk::sla::check(&services, SLA_BUDGET).await {
            Ok(report) if report.tickets > 0 || !report.finished => tracing::info!(
                tickets = report.tickets,
                warnings = report.warnings,
                breaches = report.breaches,
                finished = report.finished,
                "SLA check"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "SLA check failed; the next minute tries again"),
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, running the trigger engine over the
/// store's change feed and the SLA check alongside; all stop on the same
/// signal.
pub async fn run(services: Services, listen: &str, limits: Limits) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    log_triggers(&services);
    let (stop, stopped) = watch::channel(false);
    let sla_check = tokio::spawn(sla_every_minute(
        services.clone(),
        until_stopped(stopped.clone()),
    ));
    let engine = tokio::spawn(feed::run_forever(
        services.clone(),
        TRIGGER_IDLE,
        until_stopped(stopped),
    ));
    // The body timeout runs between frames; the request timeout bounds a
    // whole request, a body trickled in byte by byte included.
    let app = router(helpdesk_api::Api::from_env(services)?)
        .layer(RequestBodyTimeoutLayer::new(limits.body_read))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.body_read.saturating_mul(2),
        ));
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_secs = limits.header_read.as_secs(),
        body_read_secs = limits.body_read.as_secs(),
        "connection limits"
    );
    tracing::info!("helpdesk listening on http://{}", listener.local_addr()?);
    listen::serve(listener, app, limits, async move {
        shutdown().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    })
    .await;
    // The sender is gone (sent, or dropped with a failed server): the
    // engine stops after its current pass.
    stop_engine(engine).await;
    if tokio::time::timeout(TRIGGER_GRACE, sla_check)
        .await
        .is_err()
    {
        tracing::warn!("SLA check still busy; stopping it (what it did not record stays due)");
    }
    Ok(())
}

/// Logs each queue's triggers at start.
fn log_triggers(services: &Services) {
    for (queue, config) in &services.config.queues {
        let names: Vec<&str> = config.triggers.iter().map(|t| t.name()).collect();
        tracing::info!(
            "queue {queue}: {} trigger(s){}",
            names.len(),
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        );
    }
}

/// Resolves once `stopped` says so or its sender is gone.
async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Waits for the trigger engine to finish, at most [`TRIGGER_GRACE`].
async fn stop_engine(mut engine: JoinHandle<Result<(), helpdesk::store::StoreError>>) {
    match tokio::time::timeout(TRIGGER_GRACE, &mut engine).await {
        Ok(Ok(Ok(()))) => tracing::info!("trigger engine stopped"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "trigger engine failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "trigger engine crashed"),
        Err(_) => {
            tracing::warn!(
                "trigger engine still busy after {}s; stopping it (the next start resumes where it was)",
                TRIGGER_GRACE.as_secs()
            );
            engine.abort();
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
