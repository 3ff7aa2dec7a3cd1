//! SDK errors classified once, where they are observed: "Macie is not enabled" is a fact about the
//! account, a disabled Region is a reason to skip, throttling after every retry is an error, and so on.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::credentials::{EXPIRED_CODES, Expiry, expiry_of};
use crate::evidence::{ApiError, ErrorKind};

/// Error codes AWS uses for throttling, across protocols.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes an opt-in Region that is not enabled answers with.
const REGION_DISABLED_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "RegionDisabledException",
    "InvalidToken",
];

const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
];

/// Error codes that say a resource, or a configuration of one, does not exist: a fact about it,
/// never a call that could not be made (the reads that expect the configuration ones record
/// them as absent; these classify whatever reaches an error all the same).
const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "NotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchEntity",
    "NotFound",
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "ObjectLockConfigurationNotFoundError",
];

/// Classifies an SDK error into what it means for the audit.
pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().map(str::to_owned);
            let message = service
                .err()
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| DisplayErrorContext(service.err()).to_string());
            let mut classified = classify_response(code, message, Some(status));
            if expiry_of(error) == Some(Expiry::AgainAfterRefresh) {
                if classified.code.is_none() {
                    classified.message =
                        "no body, as S3 answers a HEAD request signed with expired credentials"
                            .into();
                }
                classified.kind = ErrorKind::CredentialsExpired;
                classified.message.push_str(
                    " (refused again with the credentials obtained after the first refusal)",
                );
            }
            classified
        }
        SdkError::TimeoutError(_) => ApiError {
            kind: ErrorKind::Timeout,
            code: None,
            message: "no answer within the operation timeout".into(),
            http_status: None,
        },
        SdkError::DispatchFailure(failure) => {
            if let Some(assume_role) = find_assume_role_failure(error) {
                return assume_role;
            }
            let kind = if failure.is_timeout() {
                ErrorKind::Timeout
            } else if failure.is_io() {
                ErrorKind::Network
            } else {
                ErrorKind::Other
            };
            ApiError {
                kind,
                code: None,
                message: DisplayErrorContext(error).to_string(),
                http_status: None,
            }
        }
        SdkError::ResponseError(response) => ApiError {
            kind: ErrorKind::Other,
            code: None,
            message: format!("unreadable response: {}", DisplayErrorContext(error)),
            http_status: Some(response.raw().status().as_u16()),
        },
        _ => find_assume_role_failure(error).unwrap_or_else(|| ApiError {
            kind: ErrorKind::Other,
            code: None,
            message: DisplayErrorContext(error).to_string(),
            http_status: None,
        }),
    }
}

/// Classifies an error response from its code, message and HTTP status.
///
/// Codes and messages decide, never the status alone: Macie says "not enabled" with an
/// AccessDeniedException (HTTP 401 or 403) or a ResourceNotFoundException, and only the message
/// tells it apart from a genuine permission problem.
pub fn classify_response(
    code: Option<String>,
    message: String,
    http_status: Option<u16>,
) -> ApiError {
    let code_str = code.as_deref().unwrap_or_default();
    let normalised = normalise(&message);
    let macie_not_enabled = normalised.contains("macie is not enabled")
        || normalised.contains("macie isn't enabled")
        || normalised.contains("macie isnt enabled");
    let kind = if macie_not_enabled
        && (ACCESS_DENIED_CODES.contains(&code_str) || NOT_FOUND_CODES.contains(&code_str))
    {
        ErrorKind::MacieNotEnabled
    } else if code_str == "AWSOrganizationsNotInUseException" {
        ErrorKind::OrganizationsNotInUse
    } else if EXPIRED_CODES.contains(&code_str) {
        ErrorKind::CredentialsExpired
    } else if REGION_DISABLED_CODES.contains(&code_str) {
        ErrorKind::RegionDisabled
    } else if THROTTLING_CODES.contains(&code_str) || http_status == Some(429) {
        ErrorKind::Throttled
    } else if ACCESS_DENIED_CODES.contains(&code_str) {
        ErrorKind::AccessDenied
    } else if NOT_FOUND_CODES.contains(&code_str) {
        ErrorKind::NotFound
    } else if http_status.is_some_and(|s| s >= 500) {
        ErrorKind::ServiceUnavailable
    } else {
        ErrorKind::Other
    };
    ApiError {
        kind,
        code,
        message,
        http_status,
    }
}

/// Lower case, typographic apostrophes made plain, white space folded.
fn normalise(message: &str) -> String {
    message
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '`'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A call failed because its credentials could not be obtained: find STS's own answer in the chain.
fn find_assume_role_failure(error: &(dyn StdError + 'static)) -> Option<ApiError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    let mut credentials_failed = false;
    while let Some(layer) = current {
        if layer.downcast_ref::<CredentialsError>().is_some() {
            credentials_failed = true;
        }
        if let Some(sts) = layer.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            let mut classified = classify(sts);
            if classified.kind != ErrorKind::Throttled {
                classified.kind = ErrorKind::AssumeRoleFailed;
            }
            return Some(classified);
        }
        current = layer.source();
    }
    credentials_failed.then(|| ApiError {
        kind: ErrorKind::AssumeRoleFailed,
        code: None,
        message: DisplayErrorContext(error).to_string(),
        http_status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str, message: &str, status: u16) -> ErrorKind {
        classify_response(Some(code.into()), message.into(), Some(status)).kind
    }

    #[test]
    fn macie_not_enabled_in_all_its_spellings() {
        assert_eq!(
            kind("AccessDeniedException", "Macie is not enabled.", 403),
            ErrorKind::MacieNotEnabled
        );
        assert_eq!(
            kind("AccessDeniedException", "Macie is not enabled", 401),
            ErrorKind::MacieNotEnabled
        );
        assert_eq!(
            kind(
                "ResourceNotFoundException",
                "Macie isn\u{2019}t enabled for this account.",
                404
            ),
            ErrorKind::MacieNotEnabled
        );
        assert_eq!(
            kind("ResourceNotFoundException", "Macie isn't  enabled", 404),
            ErrorKind::MacieNotEnabled
        );
    }

    #[test]
    fn permission_problems_are_not_macie_off() {
        assert_eq!(
            kind(
                "AccessDeniedException",
                "User: arn:aws:sts::1:assumed-role/a/b is not authorized to perform: macie2:GetMacieSession",
                403
            ),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind("ValidationException", "Macie is not enabled.", 400),
            ErrorKind::Other
        );
    }

    #[test]
    fn absent_resources_and_configurations_are_not_found() {
        for code in [
            "NoSuchBucket",
            "NotFound",
            "NotFoundException",
            "NoSuchBucketPolicy",
            "NoSuchPublicAccessBlockConfiguration",
            "ServerSideEncryptionConfigurationNotFoundError",
            "ObjectLockConfigurationNotFoundError",
        ] {
            assert_eq!(
                kind(code, "does not exist", 404),
                ErrorKind::NotFound,
                "{code}"
            );
        }
    }

    #[test]
    fn throttling_region_and_server_errors() {
        assert_eq!(
            kind("ThrottlingException", "Rate exceeded", 429),
            ErrorKind::Throttled
        );
        assert_eq!(
            kind("TooManyRequestsException", "slow down", 400),
            ErrorKind::Throttled
        );
        assert_eq!(kind("SlowDown", "Please reduce", 503), ErrorKind::Throttled);
        assert_eq!(
            kind(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                403
            ),
            ErrorKind::RegionDisabled
        );
        assert_eq!(
            kind("InternalServerException", "oops", 500),
            ErrorKind::ServiceUnavailable
        );
        assert_eq!(
            kind("AWSOrganizationsNotInUseException", "not a member", 400),
            ErrorKind::OrganizationsNotInUse
        );
    }

    #[test]
    fn expired_credentials_in_every_protocol_spelling() {
        assert_eq!(
            kind("ExpiredToken", "The provided token has expired.", 400),
            ErrorKind::CredentialsExpired
        );
        assert_eq!(
            kind(
                "ExpiredTokenException",
                "The security token included in the request is expired",
                403
            ),
            ErrorKind::CredentialsExpired
        );
        // A signing time too old is the clock's doing, not the credentials'.
        assert_eq!(
            kind("RequestExpired", "Request has expired.", 400),
            ErrorKind::Other
        );
    }
}
