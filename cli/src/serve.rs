//! `helpdesk serve`: the local all-in-one server. It serves the same form
//! and mail handler code as the Lambda functions over the local store, and
//! runs the trigger engine and SLA timers over the store's change feed
//! (what the `ticket-triggers` function does with the DynamoDB stream) and
//! the SLA check every minute (what the `sla-check` function does on its
//! EventBridge schedule).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use std::time::Duration;

use helpdesk::app::Services;
use helpdesk::automation::feed;
use helpdesk::intake::{self, FormRequest};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The router; public so tests can serve it on a random port.
pub fn router(services: Services) -> Router {
    Router::new()
        .route("/forms/{form_id}", any(form))
        .route("/mail", post(mail))
        .route("/health", get(|| async { "ok" }))
        .with_state(services)
}

async fn form(
    State(services): State<Services>,
    Path(form_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = FormRequest {
        method,
        form_id,
        headers,
        body,
    };
    let response = intake::handle(&services, request).await;
    let (parts, body) = response.into_parts();
    (parts, body).into_response()
}

/// `POST /mail` with a raw `message/rfc822` body: the same pipeline as the
/// mailgate. 202 with what happened; 400 for data that can never be
/// accepted (kept all the same); 503 to try again later; 500 for a failure
/// on our side that retrying cannot fix (the raw message is kept).
async fn mail(State(services): State<Services>, headers: HeaderMap, body: Bytes) -> Response {
    use axum::http::StatusCode;
    use helpdesk::mail::ingest::{self, Envelope, IngestError};
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
    let json = |status: StatusCode, value: serde_json::Value| {
        (
            status,
            [("content-type", "application/json")],
            value.to_string(),
        )
            .into_response()
    };
    match ingest::ingest(&services, body, envelope).await {
        Ok(outcome) => json(
            StatusCode::ACCEPTED,
            serde_json::json!({ "outcome": crate::mailgate::describe(&outcome) }),
        ),
        Err(IngestError::Unacceptable { reason, raw_key }) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": reason, "raw_key": raw_key }),
        ),
        Err(e @ IngestError::Temporary { .. }) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": e.to_string() }),
        ),
        Err(e @ IngestError::Permanent { .. }) => {
            tracing::error!(error = %e, "mail not taken; retrying cannot help");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "error": e.to_string() }),
            )
        }
    }
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
pub async fn run(services: Services, listen: &str) -> anyhow::Result<()> {
    let largest_form = services
        .config
        .forms
        .values()
        .map(|f| f.attachments.max_total_bytes)
        .max()
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    for (queue, config) in &services.config.queues {
        tracing::info!(
            "queue {queue}: {} trigger(s){}",
            config.triggers.len(),
            if config.triggers.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    config
                        .triggers
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
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
    let app = router(services).layer(axum::extract::DefaultBodyLimit::max(
        largest_form + 1024 * 1024,
    ));
    tracing::info!("helpdesk listening on http://{}", listener.local_addr()?);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
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
    served?;
    Ok(())
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
