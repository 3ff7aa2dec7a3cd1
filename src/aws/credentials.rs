//! Credentials refreshed on schedule and on demand.
//!
//! On schedule: a session is kept until shortly before its `Expiration`, then obtained again.
//! On demand: AWS can end a session before the `Expiration` it was issued with as this machine's
//! clock reads it (a clock running behind AWS's, a session cut short); the request is then
//! answered `ExpiredToken` (S3, STS) or `ExpiredTokenException` (JSON services). Every client
//! carries [`RefreshOnExpiry`], which marks the refused access key (so that the provider holding
//! it obtains new credentials on its next use) and has the SDK retry that request once; a second
//! refusal within the same call is its answer, classified as
//! [`ErrorKind::CredentialsExpired`](crate::evidence::ErrorKind::CredentialsExpired).
//!
//! `RequestExpired` is not among these answers: it says the request's signing time is too old (a
//! skewed clock), which the SDK's own clock-skew correction handles and new credentials would not.

use std::collections::HashSet;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextMut, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ErrorKind as RetryErrorKind;

/// The error codes of a request whose credentials' session has ended.
pub(crate) const EXPIRED_CODES: &[&str] = &["ExpiredToken", "ExpiredTokenException"];

/// The access keys AWS refused as expired during this run, shared by every provider and client.
#[derive(Debug, Default)]
pub(crate) struct RefusedKeys(Mutex<HashSet<String>>);

impl RefusedKeys {
    fn refuse(&self, access_key: &str) {
        if let Ok(mut refused) = self.0.lock() {
            refused.insert(access_key.to_owned());
        }
    }

    fn is_refused(&self, access_key: &str) -> bool {
        self.0
            .lock()
            .is_ok_and(|refused| refused.contains(access_key))
    }
}

/// What a response says about the credentials that signed its request, for the retry
/// classifier and for [`crate::aws::errors::classify`] (kept on the response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Refused as expired for the first time in this call: obtain new credentials and retry.
    Refresh,
    /// Refused as expired again, with credentials obtained after the first refusal.
    AgainAfterRefresh,
}

/// How one attempt was signed, recorded before it is sent.
#[derive(Debug, Clone)]
struct Signed {
    access_key: Option<String>,
    /// Whether the credentials are temporary (a session token): only sessions expire.
    temporary: bool,
    /// A HEAD request: S3 answers it without a body, so without an error code.
    head: bool,
}

impl Storable for Signed {
    type Storer = StoreReplace<Self>;
}

/// This call has already obtained new credentials once.
#[derive(Debug, Clone, Copy)]
struct Refreshed;

impl Storable for Refreshed {
    type Storer = StoreReplace<Self>;
}

/// The interceptor and retry classifier every client carries (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct RefreshOnExpiry {
    refused: Arc<RefusedKeys>,
}

impl RefreshOnExpiry {
    pub(crate) fn new(refused: Arc<RefusedKeys>) -> RefreshOnExpiry {
        RefreshOnExpiry { refused }
    }

    /// The refused keys it marks, for the providers that must see them.
    pub(crate) fn refused(&self) -> Arc<RefusedKeys> {
        self.refused.clone()
    }
}

impl Intercept for RefreshOnExpiry {
    fn name(&self) -> &'static str {
        "RefreshOnExpiry"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let headers = request.headers();
        cfg.interceptor_state().store_put(Signed {
            access_key: headers.get("authorization").and_then(signing_access_key),
            temporary: headers.get("x-amz-security-token").is_some(),
            head: request.method() == "HEAD",
        });
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(signed) = cfg.load::<Signed>().cloned() else {
            return Ok(());
        };
        let refused = match (context.output_or_error(), context.response()) {
            (Some(Err(error)), Some(response)) => {
                signed.temporary && refused_as_expired(error, response, signed.head)
            }
            _ => false,
        };
        if !refused {
            return Ok(());
        }
        if let Some(access_key) = &signed.access_key {
            self.refused.refuse(access_key);
        }
        let expiry = if cfg.load::<Refreshed>().is_some() {
            Expiry::AgainAfterRefresh
        } else {
            cfg.interceptor_state().store_put(Refreshed);
            Expiry::Refresh
        };
        if let Some(response) = context.response_mut() {
            response.add_extension(expiry);
        }
        Ok(())
    }
}

impl ClassifyRetry for RefreshOnExpiry {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        match context.response().and_then(|r| r.extension::<Expiry>()) {
            // At once: the refusal is about the credentials, not about load.
            Some(Expiry::Refresh) => RetryAction::retryable_error_with_explicit_delay(
                RetryErrorKind::ClientError,
                Duration::ZERO,
            ),
            Some(Expiry::AgainAfterRefresh) => RetryAction::RetryForbidden,
            None => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "RefreshOnExpiry"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // Last, so that no other classifier's verdict on the same answer overrides it.
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// The access key id in a SigV4 `Authorization` header (`… Credential=AKID/date/…`).
fn signing_access_key(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then(|| key.to_owned())
}

/// Whether an attempt's error says its credentials' session has ended: an expired-token code, or
/// an S3 HEAD answered 400 without a body (how S3 answers a HEAD signed with expired
/// credentials: no body, so no code; a retry with fresh credentials costs one call if it was
/// something else).
fn refused_as_expired(
    error: &OrchestratorError<aws_smithy_runtime_api::client::interceptors::context::Error>,
    response: &HttpResponse,
    head: bool,
) -> bool {
    let Some(operation_error) = error.as_operation_error() else {
        return false;
    };
    if error_code(operation_error).is_some_and(|code| EXPIRED_CODES.contains(&code)) {
        return true;
    }
    head && response.status().as_u16() == 400
        && response.body().bytes().is_some_and(<[u8]>::is_empty)
}

/// The error code of a type-erased operation error: generated errors keep AWS's metadata as the
/// source of their unmodelled variant, and STS models `ExpiredTokenException` itself.
fn error_code<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a str> {
    let mut layer = Some(error);
    while let Some(current) = layer {
        if let Some(metadata) = current.downcast_ref::<ErrorMetadata>() {
            return metadata.code();
        }
        if let Some(modelled) =
            current.downcast_ref::<aws_sdk_sts::types::error::ExpiredTokenException>()
        {
            return modelled.code();
        }
        layer = current.source();
    }
    None
}

/// How the response to a failed call judged its credentials, if it said they had expired.
pub(crate) fn expiry_of<E>(error: &SdkError<E, HttpResponse>) -> Option<Expiry> {
    error.raw_response()?.extension::<Expiry>().copied()
}

/// A credentials provider that keeps its credentials until shortly before they expire, or until
/// AWS refuses them as expired, whichever comes first.
///
/// An assumed role's provider resolves the credentials it assumes *from* without the SDK's
/// identity cache, so a source provider that does not remember its own answer would be called
/// again for every role assumed from it: the management role would be assumed again for every
/// member account, and the caller's SSO or instance credentials fetched again for each. This
/// remembers them; clients use it without the SDK's identity cache, which could not be told that
/// AWS refused what it holds.
#[derive(Debug)]
pub(crate) struct RememberedCredentials {
    inner: SharedCredentialsProvider,
    current: tokio::sync::Mutex<Option<Held>>,
    refused: Arc<RefusedKeys>,
}

#[derive(Debug)]
struct Held {
    credentials: Credentials,
    obtained: SystemTime,
}

impl Held {
    /// Whether the credentials are still to be used at `now`: not refused, and not within the
    /// refresh margin of their expiry. The margin is 5 minutes, or a fifth of the session's
    /// lifetime when that is shorter (a session of a few minutes is not refreshed at every use).
    fn usable(&self, now: SystemTime, refused: &RefusedKeys) -> bool {
        if refused.is_refused(self.credentials.access_key_id()) {
            return false;
        }
        let Some(expiry) = self.credentials.expiry() else {
            return true;
        };
        let lifetime = expiry.duration_since(self.obtained).unwrap_or_default();
        let margin = RememberedCredentials::REFRESH_BEFORE_EXPIRY.min(lifetime / 5);
        expiry.duration_since(now).is_ok_and(|left| left > margin)
    }
}

impl RememberedCredentials {
    /// How long before expiry credentials are refreshed, at most.
    const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

    pub(crate) fn new(
        inner: impl ProvideCredentials + 'static,
        refused: Arc<RefusedKeys>,
    ) -> RememberedCredentials {
        RememberedCredentials {
            inner: SharedCredentialsProvider::new(inner),
            current: tokio::sync::Mutex::new(None),
            refused,
        }
    }
}

impl ProvideCredentials for RememberedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let mut current = self.current.lock().await;
            if let Some(held) = current.as_ref()
                && held.usable(SystemTime::now(), &self.refused)
            {
                return Ok(held.credentials.clone());
            }
            let obtained = SystemTime::now();
            let credentials = self.inner.provide_credentials().await?;
            *current = Some(Held {
                credentials: credentials.clone(),
                obtained,
            });
            Ok(credentials)
        })
    }
}

/// What assuming one role needs.
#[derive(Debug, Clone)]
pub(crate) struct RoleSession {
    pub role_arn: String,
    pub session_name: String,
    pub duration: Duration,
    pub external_id: Option<String>,
}

/// A provider that assumes a role with an STS client of ours, which carries
/// [`RefreshOnExpiry`]: when the credentials it assumes *from* are refused as expired, they are
/// obtained again and the AssumeRole retried, as for any other call.
#[derive(Debug)]
pub(crate) struct AssumedRole {
    sts: aws_sdk_sts::Client,
    session: RoleSession,
}

impl AssumedRole {
    pub(crate) fn new(sts: aws_sdk_sts::Client, session: RoleSession) -> AssumedRole {
        AssumedRole { sts, session }
    }

    async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let session = &self.session;
        let assumed = self
            .sts
            .assume_role()
            .role_arn(&session.role_arn)
            .role_session_name(&session.session_name)
            .duration_seconds(i32::try_from(session.duration.as_secs()).unwrap_or(i32::MAX))
            .set_external_id(session.external_id.clone())
            .send()
            .await;
        let output = match assumed {
            Ok(output) => output,
            // As the SDK's own provider says it: the Region or the policy is a configuration
            // problem, anything else a failure of the provider.
            Err(error) if is_configuration(&error) => {
                return Err(CredentialsError::invalid_configuration(error));
            }
            Err(error) => return Err(CredentialsError::provider_error(error)),
        };
        let Some(credentials) = output.credentials else {
            return Err(CredentialsError::unhandled(
                "AssumeRole answered without credentials",
            ));
        };
        let expiry = SystemTime::try_from(credentials.expiration).map_err(|error| {
            CredentialsError::unhandled(format!("AssumeRole's Expiration is out of range: {error}"))
        })?;
        Ok(Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            Some(expiry),
            "AssumeRole",
        ))
    }
}

fn is_configuration(error: &SdkError<AssumeRoleError, HttpResponse>) -> bool {
    matches!(
        error.as_service_error(),
        Some(
            AssumeRoleError::RegionDisabledException(_)
                | AssumeRoleError::MalformedPolicyDocumentException(_)
        )
    )
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(lifetime: Duration, refused_key: Option<&str>) -> (Held, RefusedKeys, SystemTime) {
        let obtained = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let held = Held {
            credentials: Credentials::new(
                "ASIAKEY",
                "secret",
                Some("token".into()),
                Some(obtained + lifetime),
                "test",
            ),
            obtained,
        };
        let refused = RefusedKeys::default();
        if let Some(key) = refused_key {
            refused.refuse(key);
        }
        (held, refused, obtained)
    }

    #[test]
    fn an_hour_long_session_is_refreshed_five_minutes_before_it_ends() {
        let (held, refused, obtained) = held(Duration::from_secs(3600), None);
        assert!(held.usable(obtained + Duration::from_secs(3299), &refused));
        assert!(!held.usable(obtained + Duration::from_secs(3300), &refused));
        assert!(!held.usable(obtained + Duration::from_secs(4000), &refused));
    }

    #[test]
    fn a_short_session_is_refreshed_in_its_last_fifth_not_at_every_use() {
        let (held, refused, obtained) = held(Duration::from_secs(10), None);
        assert!(held.usable(obtained + Duration::from_millis(7_900), &refused));
        assert!(!held.usable(obtained + Duration::from_millis(8_000), &refused));
    }

    #[test]
    fn refused_credentials_are_not_used_again_whatever_their_expiry_says() {
        let (session, refused, obtained) = held(Duration::from_secs(3600), Some("ASIAKEY"));
        assert!(!session.usable(obtained, &refused));
        let (session, refused, obtained) = held(Duration::from_secs(3600), Some("ASIAOTHER"));
        assert!(session.usable(obtained, &refused));
    }

    #[test]
    fn credentials_without_expiry_are_kept() {
        let held = Held {
            credentials: Credentials::new("AKIA", "secret", None, None, "static"),
            obtained: SystemTime::UNIX_EPOCH,
        };
        assert!(held.usable(SystemTime::now(), &RefusedKeys::default()));
    }

    mod refusals {
        use aws_sdk_s3::operation::head_bucket::HeadBucketError;
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        use aws_sdk_sts::types::error::ExpiredTokenException;
        use aws_smithy_runtime_api::client::interceptors::context::Error;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;

        use super::super::*;

        fn response(status: u16, body: &'static str) -> HttpResponse {
            HttpResponse::new(
                StatusCode::try_from(status).expect("a status"),
                SdkBody::from(body),
            )
        }

        fn unmodelled(code: &str) -> OrchestratorError<Error> {
            OrchestratorError::operation(Error::erase(HeadBucketError::generic(
                ErrorMetadata::builder().code(code).build(),
            )))
        }

        fn no_code() -> OrchestratorError<Error> {
            OrchestratorError::operation(Error::erase(HeadBucketError::generic(
                ErrorMetadata::builder().build(),
            )))
        }

        #[test]
        fn expired_codes_are_refusals_whatever_the_method() {
            for code in EXPIRED_CODES {
                assert!(refused_as_expired(
                    &unmodelled(code),
                    &response(400, "<Error/>"),
                    false
                ));
            }
            let modelled =
                OrchestratorError::operation(Error::erase(AssumeRoleError::ExpiredTokenException(
                    ExpiredTokenException::builder()
                        .meta(
                            ErrorMetadata::builder()
                                .code("ExpiredTokenException")
                                .build(),
                        )
                        .build(),
                )));
            assert!(refused_as_expired(&modelled, &response(400, "x"), false));
        }

        #[test]
        fn a_head_answered_400_without_a_body_is_a_refusal_nothing_else_without_a_code_is() {
            assert!(refused_as_expired(&no_code(), &response(400, ""), true));
            assert!(!refused_as_expired(&no_code(), &response(400, ""), false));
            assert!(!refused_as_expired(&no_code(), &response(404, ""), true));
            assert!(!refused_as_expired(&no_code(), &response(403, ""), true));
        }

        #[test]
        fn other_errors_are_not_refusals() {
            for code in ["AccessDenied", "RequestExpired", "InvalidClientTokenId"] {
                assert!(!refused_as_expired(
                    &unmodelled(code),
                    &response(400, "<Error/>"),
                    true
                ));
            }
        }
    }

    #[test]
    fn the_access_key_is_read_from_a_sigv4_authorization_header() {
        assert_eq!(
            signing_access_key(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261203/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc"
            )
            .as_deref(),
            Some("ASIAEXAMPLE")
        );
        assert_eq!(signing_access_key("Bearer token"), None);
        assert_eq!(signing_access_key("Credential=/x"), None);
    }
}
