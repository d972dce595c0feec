//! Mapping SDK failures to [`StoreError`]: throttling, capacity, timeouts
//! and connection failures are [`StoreError::Unavailable`] (retryable);
//! everything else not handled by the caller is [`StoreError::Backend`] with
//! the SDK's full error chain.

use std::error::Error as StdError;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::store::StoreError;

/// Error codes that mean "try again later".
const RETRYABLE_CODES: [&str; 9] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerError",
    "InternalFailure",
    "LimitExceededException",
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
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            is_retryable_code(code) || service.raw().status().is_server_error()
        }
        _ => false,
    };
    let message = format!("DynamoDB {operation}: {}", DisplayErrorContext(&err));
    if retryable {
        StoreError::Unavailable(message)
    } else {
        StoreError::Backend(message)
    }
}
