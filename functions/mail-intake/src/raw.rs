//! The stored raw message: reading it from S3, and the key the ticket
//! timeline records for it.

use std::future::Future;

use bytes::Bytes;
use helpdesk::app::BlobChoice;

/// Why a stored message could not be read. Either way the event is worth
/// retrying: SES's S3 action runs before its Lambda action, so a missing
/// object is a transient or configuration problem, not a lost message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// No such object.
    #[error("no object s3://{bucket}/{key}")]
    Missing {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// S3 failed (access denied, throttling, network).
    #[error("cannot read s3://{bucket}/{key}: {reason}")]
    Failed {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What S3 said.
        reason: String,
    },
}

/// Where raw messages are read from.
pub trait RawMailReader: Send + Sync {
    /// The object's bytes.
    fn read(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Bytes, ReadError>> + Send;
}

/// Raw mail in S3, read with `GetObject`.
#[derive(Debug, Clone)]
pub struct S3RawMail {
    client: aws_sdk_s3::Client,
}

impl S3RawMail {
    /// A reader over the shared AWS configuration; path-style addressing
    /// when an endpoint override (`AWS_ENDPOINT_URL`, moto) is set.
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        let config = aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(aws.endpoint_url().is_some())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }
}

impl RawMailReader for S3RawMail {
    async fn read(&self, bucket: &str, key: &str) -> Result<Bytes, ReadError> {
        let failed = |reason: String| ReadError::Failed {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            reason,
        };
        let output = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(ReadError::Missing {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                });
            }
            Err(e) => {
                use aws_sdk_s3::error::ProvideErrorMetadata;
                // The role may list the bucket (the template's
                // TellMissingRawMailFromDenied), so a missing key is
                // NoSuchKey above and a denial here is a real one.
                let denied = e.as_service_error().and_then(|s| s.code()) == Some("AccessDenied");
                let context = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
                return Err(failed(if denied {
                    format!(
                        "access denied: the function's role may not read this object ({context})"
                    )
                } else {
                    context
                }));
            }
        };
        let data = output
            .body
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(data.into_bytes())
    }
}

/// The `raw_key` the pipeline records on the timeline for the object
/// `bucket`/`key`: the key relative to the blob store (`HELPDESK_BLOBS`)
/// when the object lies inside it, so `blobs.get(raw_key)` finds it, as it
/// finds raw mail the pipeline stored itself; otherwise the full
/// `s3://bucket/key`, which still names the object unambiguously.
pub fn timeline_key(bucket: &str, key: &str, blobs: &BlobChoice) -> String {
    if let BlobChoice::S3 {
        bucket: blob_bucket,
        prefix,
    } = blobs
    {
        let prefix = prefix.trim_matches('/');
        if blob_bucket == bucket {
            if prefix.is_empty() {
                return key.to_owned();
            }
            if let Some(relative) = key
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|rest| !rest.is_empty())
            {
                return relative.to_owned();
            }
        }
    }
    format!("s3://{bucket}/{key}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn raw_mail_inside_the_blob_store_is_named_relative_to_it() {
        let root = BlobChoice::parse("s3://desk-bucket");
        assert_eq!(timeline_key("desk-bucket", "raw/abc", &root), "raw/abc");
        let under = BlobChoice::parse("s3://desk-bucket/store/");
        assert_eq!(
            timeline_key("desk-bucket", "store/raw/abc", &under),
            "raw/abc"
        );
        assert_eq!(
            timeline_key("desk-bucket", "raw/abc", &under),
            "s3://desk-bucket/raw/abc"
        );
    }

    #[test]
    fn raw_mail_elsewhere_is_named_by_its_full_s3_url() {
        let dir = BlobChoice::parse("data/blobs");
        assert_eq!(
            timeline_key("mail-bucket", "raw/abc", &dir),
            "s3://mail-bucket/raw/abc"
        );
        let other = BlobChoice::parse("s3://desk-bucket");
        assert_eq!(
            timeline_key("mail-bucket", "raw/abc", &other),
            "s3://mail-bucket/raw/abc"
        );
    }
}
