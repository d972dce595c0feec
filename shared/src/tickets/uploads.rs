//! Files an agent uploads to attach to a comment: stored first
//! (`POST /api/v1/uploads`), then named by id in the comment, which adds
//! them to the ticket's timeline and to the mail of a public answer.
//!
//! An upload is a blob under `attachments/uploads/<uuid>/<safe name>` and a
//! marker `upload:<id>` (its name, type, size, key and uploader) that
//! expires after [`UPLOAD_TTL_HOURS`]: only the agent who uploaded a file
//! can attach it, and only while the marker lives.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::agent::AgentError;
use crate::auth::Principal;
use crate::blobs::safe_file_name;
use crate::services::Services;

/// How long an upload waits to be attached.
pub const UPLOAD_TTL_HOURS: i64 = 24;

/// At most this many files per comment.
pub const FILES_PER_COMMENT: usize = 10;

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// `up_` and 32 hex digits.
    pub id: String,
    /// The file name as given.
    pub name: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where the bytes are.
    pub blob_key: String,
    /// Who uploaded it.
    pub login: String,
    /// When it can no longer be attached.
    pub expires_at: DateTime<Utc>,
}

/// Why an upload failed or cannot be attached.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over the desk's attachment limit.
    #[error("{name:?} is {size} bytes; the desk keeps attachments of at most {limit} bytes")]
    TooLarge {
        /// The file name.
        name: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The blob store failed.
    #[error("the file could not be stored: {0}")]
    Blob(#[from] crate::blobs::BlobError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn marker_key(id: &str) -> String {
    format!("upload:{id}")
}

/// Stores a file `agent` uploads; its id to attach it with.
pub async fn keep_upload(
    services: &Services,
    agent: &Principal,
    name: &str,
    content_type: &str,
    bytes: Bytes,
) -> Result<Upload, UploadError> {
    let limit = services.config.desk.mail.max_attachment_bytes;
    if bytes.len() > limit {
        return Err(UploadError::TooLarge {
            name: name.to_owned(),
            size: bytes.len(),
            limit,
        });
    }
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    let blob_key = format!("attachments/uploads/{uuid}/{}", safe_file_name(name));
    let content_type = if content_type.trim().is_empty() {
        "application/octet-stream"
    } else {
        content_type
    };
    let size = bytes.len() as u64;
    services.blobs.put(&blob_key, content_type, bytes).await?;
    let expires_at = services.clock.now() + chrono::Duration::hours(UPLOAD_TTL_HOURS);
    let upload = Upload {
        id: format!("up_{uuid}"),
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        size,
        blob_key,
        login: agent.login.clone(),
        expires_at,
    };
    let value = serde_json::to_string(&upload)
        .map_err(|e| crate::store::StoreError::backend(e.to_string()))?;
    services
        .store
        .put_marker(&marker_key(&upload.id), &value, Some(expires_at))
        .await?;
    Ok(upload)
}

/// The uploads `ids` names, each `agent`'s own and not expired; an error
/// naming `attachments` otherwise.
pub async fn uploads_of(
    services: &Services,
    agent: &Principal,
    ids: &[String],
) -> Result<Vec<Upload>, AgentError> {
    if ids.len() > FILES_PER_COMMENT {
        return Err(AgentError::Invalid {
            field: "attachments".to_owned(),
            message: format!("at most {FILES_PER_COMMENT} files per comment"),
        });
    }
    let mut uploads = Vec::with_capacity(ids.len());
    for id in ids {
        let unknown = || AgentError::Invalid {
            field: "attachments".to_owned(),
            message: format!(
                "{id:?} is not an upload of yours (uploads wait {UPLOAD_TTL_HOURS} hours)"
            ),
        };
        if !id.starts_with("up_") || id.len() > 40 {
            return Err(unknown());
        }
        let Some(value) = services.store.get_marker(&marker_key(id)).await? else {
            return Err(unknown());
        };
        let upload: Upload = serde_json::from_str(&value).map_err(|_| unknown())?;
        if upload.login != agent.login || upload.expires_at <= services.clock.now() {
            return Err(unknown());
        }
        if !uploads.iter().any(|u: &Upload| u.id == upload.id) {
            uploads.push(upload);
        }
    }
    Ok(uploads)
}
