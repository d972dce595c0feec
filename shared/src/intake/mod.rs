//! Form intake: an HTTP request to `POST /forms/{form_id}` becomes a ticket.
//!
//! [`handle`] is the whole use case, independent of how the request arrived
//! (a Lambda event or the local server): CORS, signature, decoding, the
//! honeypot, answer checks, mapping, routing, idempotency, attachments and
//! the single write that stores the ticket. Every failure answers a
//! problem document and leaves nothing half-written.

pub mod answers;
pub mod mapping;
pub mod problem;
pub mod routing;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::app::Services;
use crate::blobs::safe_file_name;
use crate::config::Form;
use crate::domain::{Actor, Channel, EmailAddress, QueueKey, TimelineEvent};
use crate::forms::payload::{self, Limits, PayloadError, RawSubmission};
use crate::forms::signature;
use crate::store::{IdempotencyClaim, StoreError};
use crate::tickets::{self, TicketDraft};
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

fn check_signature(services: &Services, form: &Form, request: &FormRequest) -> Result<(), Problem> {
    let Some(config) = &form.signature else {
        return Ok(());
    };
    let Some(secret) = services.secrets.secret(&config.secret_env) else {
        tracing::error!(form = %request.form_id, env = %config.secret_env, "form secret is not set");
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "secret-missing",
            "Form not ready",
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
            Some(key) => Ok(Some(format!("form:{form_id}:key:{key}"))),
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
        .map(|id| format!("form:{form_id}:submission:{id}")))
}

async fn submit(
    services: &Services,
    form: &Form,
    request: &FormRequest,
) -> Result<Response<Bytes>, Problem> {
    let limits = Limits {
        max_file_bytes: form.attachments.max_file_bytes,
        max_total_bytes: form.attachments.max_total_bytes,
        max_files: form.attachments.max_files,
    };
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
    check_signature(services, form, request)?;
    let content_type = header_str(&request.headers, header::CONTENT_TYPE);
    let submission = payload::decode(content_type, request.body.clone(), &limits)
        .await
        .map_err(payload_problem)?;

    if let Some(honeypot) = &form.honeypot
        && submission
            .answer(honeypot)
            .is_some_and(|a| !a.value.is_empty())
    {
        tracing::info!(form = %request.form_id, "honeypot filled; submission dropped");
        return Ok(created(form, &request.headers, None, false));
    }

    let checked = answers::check_answers(form, &submission).map_err(Problem::invalid_fields)?;
    let mapped = mapping::map_answers(form, &request.form_id, &checked).map_err(|e| {
        tracing::error!(form = %request.form_id, error = %e, "form mapping failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mapping-failed",
            "Form misconfigured",
            e.to_string(),
        )
    })?;
    let requester_email = match &mapped.requester_email {
        Some(text) => Some(EmailAddress::parse(text).map_err(|_| {
            Problem::invalid_fields(vec![answers::FieldError {
                field: form
                    .map
                    .requester_email
                    .as_ref()
                    .map_or("email".into(), |s| s.value.clone()),
                message: "must be an email address such as name@example.com".into(),
            }])
        })?),
        None => None,
    };
    let routed = routing::route(&form.routing, &checked);

    let now = tickets::store_precision(services.clock.now());
    let claim = idempotency_key(&request.form_id, &request.headers, &submission)?.map(|key| {
        IdempotencyClaim {
            key,
            payload_hash: payload_hash(&submission),
            expires_at: now + services.config.idempotency_retention(),
        }
    });
    if let Some(claim) = &claim
        && let Some(record) = services
            .store
            .idempotency_record(&claim.key)
            .await
            .map_err(|e| store_problem(&e))?
    {
        if record.payload_hash != claim.payload_hash {
            return Err(store_problem(&StoreError::IdempotencyMismatch {
                key: claim.key.clone(),
            }));
        }
        return Ok(created(
            form,
            &request.headers,
            Some(&record.ticket.to_string()),
            true,
        ));
    }

    let queue = QueueKey::parse(&form.queue.value).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Form misconfigured",
            e.to_string(),
        )
    })?;
    let contact = match &requester_email {
        Some(email) => Some(
            tickets::resolve_contact(
                services.store.as_ref(),
                email,
                mapped.requester_name.as_deref(),
                now,
            )
            .await
            .map_err(|e| store_problem(&e))?,
        ),
        None => None,
    };
    let key = services
        .store
        .allocate_ticket_key(&queue)
        .await
        .map_err(|e| store_problem(&e))?;

    let mut events = vec![TimelineEvent::FormSubmitted {
        form: request.form_id.clone(),
        submission_id: submission.submission_id.clone(),
        answers: answers::all_answers(&submission),
        routing_rules: routed.matched.clone(),
    }];
    for (index, file) in submission.files.iter().enumerate() {
        let blob_key = format!(
            "attachments/{key}/{}-{}",
            index + 1,
            safe_file_name(&file.file_name)
        );
        services
            .blobs
            .put(&blob_key, &file.content_type, file.bytes.clone())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "attachment not stored");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Try again shortly",
                    "an attachment could not be stored; nothing was saved",
                )
            })?;
        events.push(TimelineEvent::AttachmentAdded {
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
            size: file.bytes.len() as u64,
            blob_key,
        });
    }

    let mut components = routed.components;
    for component in mapped.components {
        if !components.contains(&component) {
            components.push(component);
        }
    }
    let draft = TicketDraft {
        queue,
        summary: mapped.summary,
        description: mapped.description,
        priority: routed.priority.or(mapped.priority),
        line: routed.line,
        components,
        tags: routed.tags,
        assignee: routed.assignee,
        requester_email: requester_email.clone(),
        requester_name: mapped.requester_name,
        channel: Channel::Form,
        custom_fields: mapped.custom_fields,
    };
    let ticket = tickets::build_ticket(&services.config, key, draft, contact.map(|c| c.id), now)
        .map_err(|e| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Form misconfigured",
                e.to_string(),
            )
        })?;
    let actor = match requester_email {
        Some(email) => Actor::Customer { email },
        None => Actor::System,
    };
    let entries = tickets::first_entries(&ticket, &actor, events);
    let (stored, replayed) =
        tickets::store_ticket(services.store.as_ref(), &ticket, &entries, claim.as_slice())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "ticket not stored");
                store_problem(&e)
            })?;
    tracing::info!(ticket = %stored, form = %request.form_id, replayed, "form submission stored");
    Ok(created(
        form,
        &request.headers,
        Some(&stored.to_string()),
        replayed,
    ))
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
