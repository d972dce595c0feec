//! Mapping SDK failures to [`StoreError`]: throttling, capacity, timeouts
//! and connection failures are [`StoreError::Unavailable`] (retryable);
//! everything else not handled by the caller is [`StoreError::Backend`] with
//! the SDK's full error chain.

use std::error::Error as StdError;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::store::StoreError;

/// Error codes that mean "try again later".
const RETRYABLE_CODES: [&str; 10] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerError",
    "InternalFailure",
    "LimitExceededException",
    "TransactionInProgressException",
];

/// Whether an error code means the request may succeed later.
pub(super) fn is_retryable_code(code: &str) -> bool {
    RETRYABLE_CODES.contains(&code)
}

/// Maps an SDK failure of `operation` to a store error.
pub(super) fn sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            is_retryable_code(code) || service.raw().status().is_server_error()
        }
        _ => false,
    };
    let what = format!("DynamoDB {operation}: {}", DisplayErrorContext(&err));
    let source = Some(Box::new(err) as crate::store::BoxError);
    if retryable {
        StoreError::Unavailable { what, source }
    } else {
        StoreError::Backend { what, source }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    fn service_error(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        let raw = HttpResponse::try_from(
            http::Response::builder()
                .status(status)
                .body("".into())
                .unwrap(),
        )
        .unwrap();
        let err = GetItemError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("went wrong")
                .build(),
        );
        SdkError::service_error(err, raw)
    }

    #[test]
    fn throttling_and_capacity_errors_are_retryable() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
        ] {
            let mapped = sdk_error("GetItem", service_error(code, 400));
            assert!(
                matches!(mapped, StoreError::Unavailable { .. }),
                "{code}: {mapped:?}"
            );
        }
    }

    #[test]
    fn server_errors_and_timeouts_are_retryable() {
        assert!(matches!(
            sdk_error("GetItem", service_error("Whatever", 503)),
            StoreError::Unavailable { .. }
        ));
        let timeout: SdkError<GetItemError, HttpResponse> = SdkError::timeout_error("too slow");
        assert!(matches!(
            sdk_error("GetItem", timeout),
            StoreError::Unavailable { .. }
        ));
    }

    #[test]
    fn other_errors_are_backend_failures_with_the_full_message() {
        match sdk_error("GetItem", service_error("ValidationException", 400)) {
            StoreError::Backend { what: message, .. } => {
                assert!(message.contains("GetItem"), "{message}");
                assert!(message.contains("ValidationException"), "{message}");
                assert!(message.contains("went wrong"), "{message}");
            }
            other => panic!("expected a backend failure, got {other:?}"),
        }
    }
}
