//! Files: `POST /uploads` (multipart) stores files to attach to a comment;
//! `GET /tickets/{key}/attachments/{seq}` downloads a ticket's attachment
//! (a customer's or an agent's), always as a download
//! (`Content-Disposition: attachment`, `nosniff`), never rendered on the
//! API's origin.

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use helpdesk::domain::{TicketKey, TimelineEvent};
use helpdesk::services::Services;
use helpdesk::tickets::agent::AgentError;
use helpdesk::tickets::read;
use helpdesk::tickets::uploads::{self, UploadError};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::Agent;
use crate::openapi::Problem;
use crate::problem::ApiError;

/// Room for MIME framing around an upload's files.
pub const FRAMING: usize = 64 * 1024;

/// `POST /uploads`: each `file` part of a `multipart/form-data` body is
/// stored; the answer lists their ids, to name in a comment's
/// `attachments` within a day.
#[utoipa::path(post, path = "/uploads", tag = "files", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "One or more parts named `file`, each with a file name"),
    responses(
        (status = 201, description = "`uploads`: [{id, name, content_type, size}]", body = Object),
        (status = 400, description = "Not multipart, or no file", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 413, description = "A file over the desk's attachment limit", body = Problem),
    ))]
pub async fn upload(
    State(services): State<Services>,
    Agent(agent): Agent,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut form = form.map_err(|e| ApiError::malformed(None, e.body_text()))?;
    let mut stored = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(e.body_text())
        } else {
            ApiError::malformed(None, e.body_text())
        }
    })? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        let content_type = field.content_type().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(e.body_text())
            } else {
                ApiError::malformed(Some("file".into()), e.body_text())
            }
        })?;
        let upload = uploads::keep_upload(&services, &agent, &name, &content_type, bytes)
            .await
            .map_err(|e| match e {
                UploadError::TooLarge { .. } => ApiError::too_large(e.to_string()),
                UploadError::Store(e) => ApiError::store(&e),
                UploadError::Blob(e) => {
                    tracing::error!(error = %e, "an upload could not be stored");
                    ApiError::unavailable("the file could not be stored; try again")
                }
            })?;
        stored.push(json!({
            "id": upload.id,
            "name": upload.name,
            "content_type": upload.content_type,
            "size": upload.size,
        }));
    }
    if stored.is_empty() {
        return Err(ApiError::malformed(
            Some("file".into()),
            "send the files as multipart/form-data parts named file",
        ));
    }
    let mut response = Json(json!({ "uploads": stored })).into_response();
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `GET /tickets/{key}/attachments/{seq}`: the file of the timeline entry
/// `seq` of a ticket in your queues.
#[utoipa::path(get, path = "/tickets/{key}/attachments/{seq}", tag = "files", security(("bearer" = [])),
    params(("key" = String, Path, description = "The ticket key"),
           ("seq" = u64, Path, description = "The attachment's timeline entry (its `seq`)")),
    responses(
        (status = 200, description = "The file, as a download", content_type = "application/octet-stream"),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 404, description = "No such ticket in your queues, or no attachment there", body = Problem),
    ))]
pub async fn download(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path((key, seq)): Path<(String, u64)>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found(format!("no attachment {seq} on {key}"));
    let ticket_key = TicketKey::parse(&key).map_err(|_| missing())?;
    let file = read::attachment(&services, &agent, &ticket_key, seq)
        .await
        .map_err(|e| match e {
            AgentError::Content(e) => {
                tracing::error!(error = %e, "an attachment could not be read");
                ApiError::unavailable("the file cannot be read right now")
            }
            other => other.into(),
        })?
        .ok_or_else(missing)?;
    Ok(file_response(file))
}

/// A stored file as a download: its type, `Content-Disposition:
/// attachment` with its name, `nosniff`, and a sandbox policy, so no file
/// a customer sent runs as a page of the desk.
pub fn file_response(file: read::File) -> Response {
    let (file_name, content_type) = (file.name, file.content_type);
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition(&file_name));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

/// `attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>`.
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// The attachments of a timeline, with their download paths.
pub fn listed(key: &TicketKey, timeline: &[helpdesk::domain::TimelineEntry]) -> Value {
    timeline
        .iter()
        .filter_map(|entry| match &entry.event {
            TimelineEvent::AttachmentAdded {
                file_name,
                content_type,
                size,
                ..
            } => Some(json!({
                "seq": entry.seq,
                "name": file_name,
                "content_type": content_type,
                "size": size,
                "href": format!("/api/v1/tickets/{key}/attachments/{}", entry.seq),
            })),
            _ => None,
        })
        .collect()
}
