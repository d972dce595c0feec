//! Form intake: an HTTP request to `POST /forms/{form_id}` becomes a ticket.
//!
//! [`handle`] is the whole use case, independent of how the request arrived
//! (a Lambda event or the local server): CORS, signature, decoding, the
//! honeypot, answer checks, mapping, routing, idempotency, attachments and
//! the single write that stores the ticket. Every failure answers a
//! problem document and leaves nothing half-written. [`preview`] reads a
//! delivery the same way without storing anything.

pub mod answers;
pub mod mapping;
pub mod preview;
pub mod problem;
pub mod routing;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::config::Form;
use crate::domain::{Actor, Channel, EmailAddress, QueueKey, TimelineEvent};
use crate::forms::payload::{self, Limits, PayloadError, RawSubmission};
use crate::forms::signature;
use crate::keys;
use crate::services::Services;
use crate::store::{ClaimPurpose, IdempotencyClaim, StoreError};
use crate::tickets::{self, Attachments, NewFile, NewTicket, OpenError, TicketDraft};
use problem::Problem;

/// A form request as any entry point sees it.
#[derive(Debug, Clone)]
pub struct FormRequest {
    /// The HTTP method.
    pub method: Method,
    /// The `{form_id}` of the path.
    pub form_id: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// The client's address, when the entry point knows it (the HTTP API's
    /// source IP, the peer of `helpdesk serve`); rate limits per client
    /// apply only when it does.
    pub client: Option<std::net::IpAddr>,
}

/// Finds the form id in a path such as `/forms/support` or
/// `/prod/forms/support` (a stage prefix).
pub fn form_id_from_path(path: &str) -> Option<&str> {
    let mut parts = path.trim_end_matches('/').rsplitn(3, '/');
    let id = parts.next()?;
    (parts.next()? == "forms" && !id.is_empty()).then_some(id)
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Room for multipart framing and text fields on top of the file limits.
const BODY_OVERHEAD: usize = 256 * 1024;

/// Handles one form request and answers it.
pub async fn handle(services: &Services, request: FormRequest) -> Response<Bytes> {
    let Some(form) = services.config.forms.get(&request.form_id) else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-form",
            "No such form",
            format!("there is no form {:?}", request.form_id),
        )
        .into_response();
    };
    let cors = match cors_headers(form, &request.headers) {
        Ok(cors) => cors,
        Err(problem) => return problem.into_response(),
    };
    let mut response = match request.method {
        Method::OPTIONS => preflight(),
        Method::POST => match submit(services, form, &request).await {
            Ok(response) => response,
            Err(problem) => problem.into_response(),
        },
        _ => {
            let mut response = Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "forms accept POST (and OPTIONS for CORS)",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
            response
        }
    };
    response.headers_mut().extend(cors);
    response
}

fn cors_headers(form: &Form, headers: &HeaderMap) -> Result<HeaderMap, Problem> {
    let mut cors = HeaderMap::new();
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(cors);
    };
    let allowed = origin
        .to_str()
        .ok()
        .filter(|o| form.allowed_origins.iter().any(|allowed| allowed == o));
    match allowed {
        Some(_) => {
            cors.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            cors.insert(header::VARY, HeaderValue::from_static("Origin"));
            cors.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, OPTIONS"),
            );
            cors.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type, idempotency-key"),
            );
            cors.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            Ok(cors)
        }
        None => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "origin-not-allowed",
            "Origin not allowed",
            format!(
                "this form does not accept posts from {}",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        )),
    }
}

fn preflight() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn header_str(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A browser posting a plain HTML form wants a redirect, not JSON.
fn wants_redirect(form: &Form, headers: &HeaderMap) -> Option<String> {
    let content_type = header_str(headers, header::CONTENT_TYPE)?.to_ascii_lowercase();
    let html_form = content_type.starts_with("application/x-www-form-urlencoded")
        || content_type.starts_with("multipart/form-data");
    let accepts_html = header_str(headers, header::ACCEPT).is_some_and(|a| a.contains("text/html"));
    if html_form && accepts_html {
        form.redirect_url.clone()
    } else {
        None
    }
}

fn created(
    form: &Form,
    headers: &HeaderMap,
    ticket: Option<&str>,
    replayed: bool,
) -> Response<Bytes> {
    let mut response = match wants_redirect(form, headers) {
        Some(url) => {
            let location = match ticket {
                Some(key) => format!(
                    "{url}{}ticket={key}",
                    if url.contains('?') { '&' } else { '?' }
                ),
                None => url,
            };
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        None => {
            let body = serde_json::json!({ "ticket": ticket, "replayed": replayed });
            let mut response = Response::new(Bytes::from(body.to_string()));
            *response.status_mut() = if ticket.is_some() {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    };
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn payload_problem(error: PayloadError) -> Problem {
    match error {
        PayloadError::UnsupportedMediaType(kind) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported content type",
            format!(
                "{kind} is not accepted; send application/json, application/x-www-form-urlencoded or multipart/form-data"
            ),
        ),
        e @ PayloadError::TooLarge { .. } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Submission too large",
            e.to_string(),
        ),
        PayloadError::Malformed(reason) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed body",
            reason,
        ),
    }
}

fn store_problem(error: &StoreError) -> Problem {
    match error {
        StoreError::IdempotencyMismatch { key } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            format!("the key {key:?} was already used for a different submission"),
        ),
        e if e.is_retryable() => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Try again shortly",
            "the ticket store is busy; nothing was saved",
        ),
        _ => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the submission could not be saved; nothing was stored",
        ),
    }
}

async fn check_signature(
    services: &Services,
    form: &Form,
    request: &FormRequest,
) -> Result<(), Problem> {
    let Some(config) = &form.signature else {
        return Ok(());
    };
    let secret = services
        .secrets
        .secret(&config.secret_env)
        .await
        .map_err(|e| {
            // Secrets Manager is unavailable (or refused): the provider's
            // retry will find it back.
            tracing::error!(form = %request.form_id, error = %e, "form secret cannot be read");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secret-unavailable",
                "Signature cannot be checked now",
                "the form's signature secret cannot be read; try again later",
            )
        })?;
    let Some(secret) = secret else {
        // A configuration error for the operator (this error line); the
        // delivery cannot be verified, so it is refused like a bad
        // signature rather than answered with a 5xx the provider would
        // retry until it gives up.
        tracing::error!(form = %request.form_id, env = %config.secret_env,
            "form secret is not set: every signed delivery of this form is refused");
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "secret-missing",
            "Signature cannot be checked",
            "the form's signature secret is not configured on the server",
        ));
    };
    signature::verify(
        config.scheme,
        secret.as_bytes(),
        &request.headers,
        &request.body,
        services.clock.now(),
    )
    .map_err(|e| {
        tracing::warn!(form = %request.form_id, error = %e, "signature refused");
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "bad-signature",
            "Signature check failed",
            e.to_string(),
        )
    })
}

fn payload_hash(submission: &RawSubmission) -> String {
    let mut hasher = Sha256::new();
    for (id, value) in answers::all_answers(submission) {
        hasher.update(id.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    for file in &submission.files {
        hasher.update(file.file_name.as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(&file.bytes));
    }
    hex::encode(hasher.finalize())
}

fn idempotency_key(
    form_id: &str,
    headers: &HeaderMap,
    submission: &RawSubmission,
) -> Result<Option<String>, Problem> {
    if let Some(value) = headers.get(IDEMPOTENCY_HEADER) {
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255);
        return match key {
            Some(key) => Ok(Some(keys::claim::form_key(form_id, key))),
            None => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-idempotency-key",
                "Bad Idempotency-Key",
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            )),
        };
    }
    Ok(submission
        .submission_id
        .as_ref()
        .filter(|id| !id.is_empty())
        .map(|id| keys::claim::form_submission(form_id, id)))
}

/// A form post, stage by stage.
async fn submit(
    services: &Services,
    form: &Form,
    request: &FormRequest,
) -> Result<Response<Bytes>, Problem> {
    check_body_size(form, request)?;
    check_signature(services, form, request).await?;
    check_client_rate(services, form, request).await?;
    let submission = decode_body(form, request).await?;
    if honeypot_filled(form, &submission) {
        tracing::info!(form = %request.form_id, "honeypot filled; submission dropped");
        return Ok(created(form, &request.headers, None, false));
    }
    let draft = fill_ticket(form, &request.form_id, &submission)?;
    let now = tickets::store_precision(services.clock.now());
    let claim = claim_for(services, request, &submission, now)?;
    if let Some(earlier) = earlier_submission(services, claim.as_ref()).await? {
        return Ok(created(form, &request.headers, Some(&earlier), true));
    }
    check_email_rate(services, form, request, &draft).await?;
    let new = ticket_to_open(request, submission, draft, claim, now);
    let opened = tickets::open(
        &services.config,
        services.store.as_ref(),
        services.blobs.as_ref(),
        new,
    )
    .await
    .map_err(|e| open_problem(&e))?;
    let replayed = matches!(opened, tickets::Opened::Replayed(_));
    let key = opened.key().to_string();
    tracing::info!(ticket = %key, form = %request.form_id, replayed, "form submission stored");
    Ok(created(form, &request.headers, Some(&key), replayed))
}

/// Refuses a post over the form's limit per client address (browser
/// forms only: a signed delivery comes from the provider, whose addresses
/// post every customer's submissions).
async fn check_client_rate(
    services: &Services,
    form: &Form,
    request: &FormRequest,
) -> Result<(), Problem> {
    let (Some(limit), Some(client), None) =
        (form.rate_limit.per_client, request.client, &form.signature)
    else {
        return Ok(());
    };
    let now = services.clock.now();
    let (window, ends) = limit.window_at(now);
    let key = keys::counter::form_client(&request.form_id, &client, window);
    over_limit(services, &key, &limit, ends, now, "from this address").await
}

/// Refuses a submission over the form's limit per requester address.
async fn check_email_rate(
    services: &Services,
    form: &Form,
    request: &FormRequest,
    draft: &FormDraft,
) -> Result<(), Problem> {
    let (Some(limit), Some(email)) = (form.rate_limit.per_email, &draft.draft.requester_email)
    else {
        return Ok(());
    };
    let now = services.clock.now();
    let (window, ends) = limit.window_at(now);
    let key = keys::counter::form_email(&request.form_id, email, window);
    over_limit(services, &key, &limit, ends, now, "for this email address").await
}

/// Counts one post under `key` and refuses it, with when to try again,
/// when the count passes the limit.
async fn over_limit(
    services: &Services,
    key: &str,
    limit: &crate::config::RateLimit,
    ends: DateTime<Utc>,
    now: DateTime<Utc>,
    whose: &str,
) -> Result<(), Problem> {
    let count = services
        .store
        .increment_counter(key, ends)
        .await
        .map_err(|e| store_problem(&e))?;
    if count <= limit.count {
        return Ok(());
    }
    let wait = u64::try_from((ends - now).num_seconds()).unwrap_or(0);
    Err(Problem::rate_limited(
        format!(
            "this form takes at most {} submissions {whose} within {}; try again in {wait} s",
            limit.count,
            humantime::format_duration(limit.window.0)
        ),
        wait,
    ))
}

/// Refuses a body larger than the form's uploads and some framing.
fn check_body_size(form: &Form, request: &FormRequest) -> Result<(), Problem> {
    let body_limit = form
        .attachments
        .max_total_bytes
        .saturating_add(BODY_OVERHEAD);
    if request.body.len() > body_limit {
        return Err(payload_problem(PayloadError::TooLarge {
            what: "the request body (bytes)".into(),
            limit: body_limit,
        }));
    }
    Ok(())
}

/// The body as answers and files, within the form's upload limits.
async fn decode_body(form: &Form, request: &FormRequest) -> Result<RawSubmission, Problem> {
    let limits = Limits {
        max_file_bytes: form.attachments.max_file_bytes,
        max_total_bytes: form.attachments.max_total_bytes,
        max_files: form.attachments.max_files,
    };
    let content_type = header_str(&request.headers, header::CONTENT_TYPE);
    payload::decode(content_type, request.body.clone(), &limits)
        .await
        .map_err(payload_problem)
}

/// Whether a bot filled the field people never see.
fn honeypot_filled(form: &Form, submission: &RawSubmission) -> bool {
    form.honeypot.as_ref().is_some_and(|honeypot| {
        submission
            .answer(honeypot)
            .is_some_and(|a| !a.value.is_empty())
    })
}

/// The ticket's fields from the answers: checked, mapped by the form's
/// `map`, routed by its rules.
fn fill_ticket(
    form: &Form,
    form_id: &str,
    submission: &RawSubmission,
) -> Result<FormDraft, Problem> {
    let checked = answers::check_answers(form, submission).map_err(Problem::invalid_fields)?;
    let mapped = mapping::map_answers(form, form_id, &checked).map_err(|e| {
        tracing::error!(form = %form_id, error = %e, "form mapping failed");
        misconfigured("mapping-failed", e.to_string())
    })?;
    let requester_email = requester_email(form, mapped.requester_email.as_deref())?;
    let routed = routing::route(&form.routing, &checked);
    let queue =
        QueueKey::parse(&form.queue.value).map_err(|e| misconfigured("internal", e.to_string()))?;
    let mut components = routed.components;
    for component in mapped.components {
        if !components.contains(&component) {
            components.push(component);
        }
    }
    Ok(FormDraft {
        draft: TicketDraft {
            queue,
            summary: mapped.summary,
            description: mapped.description,
            priority: routed.priority.or(mapped.priority),
            line: routed.line,
            components,
            tags: routed.tags,
            assignee: routed.assignee,
            requester_email,
            requester_name: mapped.requester_name,
            requester_phone: None,
            channel: Channel::Form,
            custom_fields: mapped.custom_fields,
        },
        routing_rules: routed.matched,
        unmatched: answers::unmatched_answers(form, submission),
    })
}

/// A form's ticket before it exists, with the routing rules that matched
/// and the answers no field took.
#[derive(Debug)]
pub struct FormDraft {
    /// The ticket's fields.
    pub draft: TicketDraft,
    /// The routing rules that matched, in order.
    pub routing_rules: Vec<String>,
    /// The answers no field of the form took.
    pub unmatched: Vec<String>,
}

/// The requester's address as mapped, parsed; a bad one names its field.
fn requester_email(form: &Form, mapped: Option<&str>) -> Result<Option<EmailAddress>, Problem> {
    let Some(text) = mapped else {
        return Ok(None);
    };
    let address = EmailAddress::parse(text)
        .ok()
        .filter(EmailAddress::is_public);
    address.map(Some).ok_or_else(|| {
        Problem::invalid_fields(vec![answers::FieldError {
            field: form
                .map
                .requester_email
                .as_ref()
                .map_or("email".into(), |s| s.value.clone()),
            message: "must be an email address such as name@example.com".into(),
        }])
    })
}

/// A form whose configuration cannot take this submission.
fn misconfigured(kind: &str, detail: String) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        kind,
        "Form misconfigured",
        detail,
    )
}

/// The idempotency claim of this delivery: the sender's key, or the
/// provider's submission id.
fn claim_for(
    services: &Services,
    request: &FormRequest,
    submission: &RawSubmission,
    now: DateTime<Utc>,
) -> Result<Option<IdempotencyClaim>, Problem> {
    Ok(
        idempotency_key(&request.form_id, &request.headers, submission)?.map(|key| {
            IdempotencyClaim {
                key,
                purpose: ClaimPurpose::Payload(payload_hash(submission)),
                expires_at: now + services.config.idempotency_retention(),
            }
        }),
    )
}

/// The ticket an earlier delivery of the same submission opened; the same
/// key with other answers is refused.
async fn earlier_submission(
    services: &Services,
    claim: Option<&IdempotencyClaim>,
) -> Result<Option<String>, Problem> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let Some(record) = services
        .store
        .idempotency_record(&claim.key)
        .await
        .map_err(|e| store_problem(&e))?
    else {
        return Ok(None);
    };
    if record.purpose != claim.purpose {
        return Err(store_problem(&StoreError::IdempotencyMismatch {
            key: claim.key.clone(),
        }));
    }
    Ok(Some(record.ticket.to_string()))
}

/// What the form opens: the draft, the answers as the first entry, the
/// uploads, the claim.
fn ticket_to_open(
    request: &FormRequest,
    submission: RawSubmission,
    form: FormDraft,
    claim: Option<IdempotencyClaim>,
    now: DateTime<Utc>,
) -> NewTicket {
    let actor = match &form.draft.requester_email {
        Some(email) => Actor::Customer {
            email: email.clone(),
        },
        None => Actor::System,
    };
    let intake = TimelineEvent::FormSubmitted {
        form: request.form_id.clone(),
        submission_id: submission.submission_id.clone(),
        answers: answers::all_answers(&submission),
        answers_blob: None,
        routing_rules: form.routing_rules,
        unmatched: form.unmatched,
    };
    let files = submission
        .files
        .into_iter()
        .map(|file| NewFile {
            file_name: file.file_name,
            content_type: file.content_type,
            bytes: file.bytes,
        })
        .collect();
    NewTicket {
        draft: form.draft,
        participants: Vec::new(),
        actor,
        intake: vec![intake],
        attachments: Attachments {
            tag: String::new(),
            files,
        },
        links: Vec::new(),
        claims: claim.into_iter().collect(),
        now,
    }
}

/// The answer to a ticket that could not be opened.
fn open_problem(error: &OpenError) -> Problem {
    match error {
        OpenError::Store(e) => {
            tracing::error!(error = %e, "ticket not stored");
            store_problem(e)
        }
        OpenError::Blob(e) => {
            tracing::error!(error = %e, "attachment or long text not stored");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Try again shortly",
                "an attachment or a long answer could not be stored; nothing was saved",
            )
        }
        e @ OpenError::UnknownQueue(_) => misconfigured("internal", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::form_id_from_path;

    #[test]
    fn the_form_id_is_the_segment_after_forms() {
        assert_eq!(form_id_from_path("/forms/support"), Some("support"));
        assert_eq!(form_id_from_path("/prod/forms/support/"), Some("support"));
        assert_eq!(form_id_from_path("/forms/"), None);
        assert_eq!(form_id_from_path("/other/support"), None);
    }
}
