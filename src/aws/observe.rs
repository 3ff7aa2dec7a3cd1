//! Turning one SDK call into an [`Observation`]: its answer or classified error, request id and time.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use chrono::Utc;

use super::errors::classify;
use crate::evidence::{Observation, Outcome};

/// Records the outcome of an SDK call, keeping from a response only what `extract` takes.
pub fn observation<O, E, T>(
    operation: &str,
    result: Result<O, SdkError<E, HttpResponse>>,
    extract: impl FnOnce(O) -> T,
) -> Observation<T>
where
    O: RequestId,
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let observed_at = Utc::now();
    match result {
        Ok(output) => Observation {
            operation: operation.to_owned(),
            request_id: output.request_id().map(str::to_owned),
            observed_at,
            outcome: Outcome::Response(extract(output)),
        },
        Err(error) => Observation {
            operation: operation.to_owned(),
            request_id: error.request_id().map(str::to_owned),
            observed_at,
            outcome: Outcome::Error(classify(&error)),
        },
    }
}

/// Like [`observation`], for calls whose "not configured" answer is an error code: those codes
/// become `None`, a fact rather than a failure.
pub fn observation_or_absent<O, E, T>(
    operation: &str,
    result: Result<O, SdkError<E, HttpResponse>>,
    absent_codes: &[&str],
    extract: impl FnOnce(O) -> T,
) -> Observation<Option<T>>
where
    O: RequestId,
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    if let Err(SdkError::ServiceError(service)) = &result
        && service
            .err()
            .code()
            .is_some_and(|code| absent_codes.contains(&code))
    {
        return Observation {
            operation: operation.to_owned(),
            request_id: service.raw().headers().request_id().map(str::to_owned),
            observed_at: Utc::now(),
            outcome: Outcome::Response(None),
        };
    }
    observation(operation, result, |output| Some(extract(output)))
}
