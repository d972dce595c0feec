//! Where files go: attachments (and later raw mail) are kept out of the
//! ticket store, in a local directory or an S3 bucket.

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;

/// Why a blob could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key would escape the store (`..`, absolute paths).
    #[error("blob key {0:?} is not allowed")]
    BadKey(String),
    /// The backend failed.
    #[error("cannot store blob {key}: {reason}")]
    Backend {
        /// The key.
        key: String,
        /// What went wrong.
        reason: String,
    },
}

/// A place for immutable files under keys such as
/// `attachments/SUP-17/1/report.pdf`.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key`; storing the same key again replaces it.
    async fn put(&self, key: &str, content_type: &str, bytes: Bytes) -> Result<(), BlobError>;
    /// Reads a blob back; `None` when missing.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError>;
}

fn check_key(key: &str) -> Result<(), BlobError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        || key.contains('\\')
        || key.chars().any(char::is_control);
    if bad {
        Err(BlobError::BadKey(key.to_owned()))
    } else {
        Ok(())
    }
}

/// Turns a file name from a customer into a safe key segment, keeping it
/// recognisable: path separators, control characters and bidi formatting
/// characters (an override could disguise the extension) become `_`.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || crate::display::is_bidi_control(c) || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .take(120)
        .collect();
    match cleaned.trim_matches('.').trim() {
        "" => "file".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// Blobs as files under a directory.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Blobs under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, _content_type: &str, bytes: Bytes) -> Result<(), BlobError> {
        check_key(key)?;
        let path = self.root.join(key);
        let fail = |e: std::io::Error| BlobError::Backend {
            key: key.to_owned(),
            reason: e.to_string(),
        };
        // Write to a temporary name and rename, so a crash never leaves half
        // a file. As blocking work with the shared buffer: tokio::fs would
        // copy the whole blob first.
        let written = crate::blocking::run_sized(bytes.len(), move || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|result| result);
        written.map_err(fail)
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        check_key(key)?;
        let path = self.root.join(key);
        let read = crate::blocking::run(move || std::fs::read(path))
            .await
            .map_err(std::io::Error::other)
            .and_then(|result| result);
        match read {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobError::Backend {
                key: key.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

/// Blobs in an S3 bucket under a prefix.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Blobs {
    /// Blobs in `bucket` under `prefix` (no leading or trailing `/` needed).
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        let prefix = prefix.into().trim_matches('/').to_owned();
        Self {
            client,
            bucket: bucket.into(),
            prefix,
        }
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, content_type: &str, bytes: Bytes) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| BlobError::Backend {
                key: key.to_owned(),
                reason: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        check_key(key)?;
        let fail = |reason: String| BlobError::Backend {
            key: key.to_owned(),
            reason,
        };
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(output) => {
                let data = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Some(data.into_bytes()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(fail(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_file_names_cannot_escape_the_attachment_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\a\\report.pdf"), "report.pdf");
        assert_eq!(safe_file_name(".."), "file");
        assert_eq!(
            safe_file_name("Student_ID_!#$&'()*+,-.;=@[]^_`{}~ .png"),
            "Student_ID_!#$&'()_+,-.;=@[]^_`{}~ .png"
        );
        assert!(check_key("attachments/../x").is_err());
        assert!(check_key("/abs").is_err());
        assert!(check_key("attachments/SUP-1/1/a.png").is_ok());
    }

    #[tokio::test]
    async fn local_blobs_read_back_what_was_written() {
        let dir = std::env::temp_dir().join(format!("blobs-{}", uuid::Uuid::new_v4().simple()));
        let blobs = LocalBlobs::new(&dir);
        blobs
            .put("a/b.txt", "text/plain", Bytes::from_static(b"hi"))
            .await
            .unwrap();
        assert_eq!(
            blobs.get("a/b.txt").await.unwrap().unwrap(),
            Bytes::from_static(b"hi")
        );
        assert!(blobs.get("a/missing").await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
