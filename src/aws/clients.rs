//! SDK configuration: one shared HTTP client, the caller's and each account's credentials
//! (refreshed before they expire and when AWS refuses them as expired, see
//! [`super::credentials`]), timeouts, retries with state kept apart per account and Region, and
//! the request limit.
//!
//! The limit of requests in flight (`concurrency.requests`) is enforced by the shared HTTP client
//! itself, per attempt: a permit is held while one HTTP request is on the wire and released
//! before a retry's backoff, so a throttled call never keeps a permit while it sleeps, and the
//! AssumeRole requests of the credential providers count like every other request.

use std::sync::Arc;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_macie2::config::retry::RetryPartition;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Semaphore;

use super::credentials::{
    AssumedRole, RefreshOnExpiry, RefusedKeys, RememberedCredentials, RoleSession,
};
use super::rate::{ORGANIZATIONS_BURST, ORGANIZATIONS_PER_SECOND, RateLimiter};
use crate::config::Config;

/// Organizations is served from this Region only.
const ORGANIZATIONS_REGION: &str = "us-east-1";

/// How an account's credentials are obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCredentials {
    /// The caller's own credentials (the account the scanner runs in).
    Caller,
    /// The management role's credentials (the account it belongs to).
    ManagementRole(String),
    /// The audit role, assumed from the management role or the caller.
    AuditRole(String),
}

impl AccountCredentials {
    /// The role ARN behind these credentials, if one is assumed.
    pub fn role_arn(&self) -> Option<&str> {
        match self {
            AccountCredentials::Caller => None,
            AccountCredentials::ManagementRole(arn) | AccountCredentials::AuditRole(arn) => {
                Some(arn)
            }
        }
    }
}

/// Everything needed to build SDK clients for any account and Region.
#[derive(Debug, Clone)]
pub struct AwsEnvironment {
    caller: SdkConfig,
    management: SdkConfig,
    management_role_arn: Option<String>,
    config: Arc<Config>,
    organizations_rate: Arc<RateLimiter>,
    refresh: RefreshOnExpiry,
}

impl AwsEnvironment {
    /// Loads the caller's configuration from the standard chain (environment, profiles, SSO,
    /// container and instance roles) and `AWS_ENDPOINT_URL`, with one HTTP client for everything.
    pub async fn load(config: Arc<Config>) -> AwsEnvironment {
        let requests = &config.requests;
        let permits = Arc::new(Semaphore::new(config.concurrency.requests));
        let http_client = SharedHttpClient::new(LimitedHttpClient {
            inner: aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .build_https(),
            permits,
        });
        let retry = RetryConfig::standard()
            .with_max_attempts(requests.max_attempts)
            .with_initial_backoff(Duration::from_millis(requests.initial_backoff_ms))
            .with_max_backoff(Duration::from_millis(requests.max_backoff_ms));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(requests.connect_timeout_ms))
            .operation_attempt_timeout(requests.attempt_timeout())
            .operation_timeout(requests.operation_timeout())
            .build();
        let caller = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(config.access.home_region.clone()))
            .retry_config(retry)
            .timeout_config(timeouts)
            .load()
            .await;
        let refused = Arc::new(RefusedKeys::default());
        let refresh = RefreshOnExpiry::new(refused.clone());
        let caller = match caller.credentials_provider() {
            Some(provider) => caller
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(RememberedCredentials::new(
                    provider, refused,
                )))
                .identity_cache(IdentityCache::no_cache())
                .build(),
            None => caller,
        };
        let management_role_arn = config.access.management_role_arn.clone();
        let management = match &management_role_arn {
            Some(arn) => assume(&caller, arn, &config, &refresh),
            None => caller.clone(),
        };
        AwsEnvironment {
            caller,
            management,
            management_role_arn,
            config,
            organizations_rate: Arc::new(RateLimiter::new(
                ORGANIZATIONS_PER_SECOND,
                ORGANIZATIONS_BURST,
            )),
            refresh,
        }
    }

    /// The caller's own configuration.
    pub fn caller(&self) -> &SdkConfig {
        &self.caller
    }

    /// The configuration that reads the organization: the management role's, or the caller's.
    pub fn management(&self) -> &SdkConfig {
        &self.management
    }

    /// The management role, when one is configured.
    pub fn management_role_arn(&self) -> Option<&str> {
        self.management_role_arn.as_deref()
    }

    /// How the scanner acts in `account_id`, given the caller's and the management role's accounts.
    pub fn credentials_for(&self, account_id: &str, caller_account: &str) -> AccountCredentials {
        let access = &self.config.access;
        if !access.assume_role_in_own_account {
            if account_id == caller_account {
                return AccountCredentials::Caller;
            }
            if let Some(arn) = &self.management_role_arn
                && arn_account(arn) == Some(account_id)
            {
                return AccountCredentials::ManagementRole(arn.clone());
            }
        }
        AccountCredentials::AuditRole(format!(
            "arn:aws:iam::{account_id}:role/{}",
            access.role_name
        ))
    }

    /// The SDK configuration for an account: its credentials are fetched on first use, kept,
    /// and obtained again before they expire or when AWS refuses them as expired.
    pub async fn account_config(&self, credentials: &AccountCredentials) -> SdkConfig {
        match credentials {
            AccountCredentials::Caller => self.caller.clone(),
            AccountCredentials::ManagementRole(_) => self.management.clone(),
            AccountCredentials::AuditRole(arn) => {
                assume(&self.management, arn, &self.config, &self.refresh)
            }
        }
    }

    /// Runs one AWS call under the limit of requests in flight. The limit is applied by the
    /// shared HTTP client to each attempt of the call (see the module documentation), so this
    /// only marks the calls; it holds no permit itself (holding one here too could deadlock).
    pub async fn limited<F: Future>(&self, call: F) -> F::Output {
        call.await
    }

    /// Runs one Organizations call within the client-side rate limit of the account that reads
    /// the organization (every Organizations call of a run is made from that one account).
    pub async fn organizations_call<F: Future>(&self, call: F) -> F::Output {
        self.organizations_rate.acquire().await;
        call.await
    }

    /// An STS client for `config`'s account.
    pub fn sts(&self, config: &SdkConfig) -> aws_sdk_sts::Client {
        sts_client(config, &self.refresh)
    }

    /// An Organizations client reading through the management configuration.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.management)
            .region(Region::new(ORGANIZATIONS_REGION))
            .interceptor(self.refresh.clone())
            .retry_classifier(self.refresh.clone())
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// An S3 client for one account and Region, with retry state of its own; path-style
    /// addressing when the endpoint is overridden.
    pub fn s3(&self, config: &SdkConfig, account_id: &str, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .force_path_style(config.endpoint_url().is_some())
            .retry_partition(RetryPartition::new(format!("s3/{account_id}/{region}")))
            .interceptor(self.refresh.clone())
            .retry_classifier(self.refresh.clone())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An S3 Control client for one account, in the home Region.
    pub fn s3control(&self, config: &SdkConfig, account_id: &str) -> aws_sdk_s3control::Client {
        let region = self.config.access.home_region.clone();
        let mut conf = aws_sdk_s3control::config::Builder::from(config)
            .region(Region::new(region.clone()))
            .retry_partition(RetryPartition::new(format!(
                "s3control/{account_id}/{region}"
            )))
            .interceptor(self.refresh.clone())
            .retry_classifier(self.refresh.clone());
        if let Some(endpoint) = config.endpoint_url() {
            conf = conf.endpoint_resolver(FixedS3ControlEndpoint(endpoint.to_owned()));
        }
        aws_sdk_s3control::Client::from_conf(conf.build())
    }

    /// A KMS client for one account and Region, with retry state of its own.
    pub fn kms(&self, config: &SdkConfig, account_id: &str, region: &str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .retry_partition(RetryPartition::new(format!("kms/{account_id}/{region}")))
            .interceptor(self.refresh.clone())
            .retry_classifier(self.refresh.clone())
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// The home Region (STS, ListBuckets, S3 Control).
    pub fn home_region(&self) -> &str {
        &self.config.access.home_region
    }

    /// A Macie client for one account and Region, with retry state of its own.
    pub fn macie(
        &self,
        config: &SdkConfig,
        account_id: &str,
        region: &str,
    ) -> aws_sdk_macie2::Client {
        let conf = aws_sdk_macie2::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .retry_partition(RetryPartition::new(format!("macie2/{account_id}/{region}")))
            .interceptor(self.refresh.clone())
            .retry_classifier(self.refresh.clone())
            .build();
        aws_sdk_macie2::Client::from_conf(conf)
    }
}

impl AwsEnvironment {
    /// A Security Hub client for one account and Region, with retry state of its own
    /// (`scan --security-hub` imports each account's findings with its own credentials).
    pub fn security_hub(
        &self,
        config: &SdkConfig,
        account_id: &str,
        region: &str,
    ) -> aws_sdk_securityhub::Client {
        let conf = aws_sdk_securityhub::config::Builder::from(config)
            .region(Region::new(region.to_owned()))
            .retry_partition(RetryPartition::new(format!(
                "securityhub/{account_id}/{region}"
            )))
            .build();
        aws_sdk_securityhub::Client::from_conf(conf)
    }

    /// An SNS client with the caller's own credentials in `region` (`scan --notify sns=…`).
    pub fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        let conf = aws_sdk_sns::config::Builder::from(&self.caller)
            .region(Region::new(region.to_owned()))
            .retry_partition(RetryPartition::new(format!("sns/caller/{region}")))
            .build();
        aws_sdk_sns::Client::from_conf(conf)
    }
}

/// The shared HTTP client under the limit of requests in flight: every attempt of every call
/// (credential providers' included) waits for a permit, held until its response arrives.
#[derive(Debug, Clone)]
struct LimitedHttpClient {
    inner: SharedHttpClient,
    permits: Arc<Semaphore>,
}

impl HttpClient for LimitedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            permits: self.permits.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let permits = self.permits.clone();
        HttpConnectorFuture::new(async move {
            // The semaphore is never closed, so acquiring only fails if it were; run unlimited then.
            let _permit = permits.acquire_owned().await.ok();
            inner.call(request).await
        })
    }
}

/// S3 Control puts the account id in the host name (`<account>.s3-control.<region>…`), which
/// cannot resolve against an overridden endpoint such as an emulator's; there the endpoint is
/// used as given, with the account id still sent in its header.
#[derive(Debug)]
struct FixedS3ControlEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedS3ControlEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_sdk_s3control::config::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

/// An STS client over `config`, refreshing its credentials when STS refuses them as expired.
fn sts_client(config: &SdkConfig, refresh: &RefreshOnExpiry) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::from(config)
        .interceptor(refresh.clone())
        .retry_classifier(refresh.clone())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// The configuration of `source` with credentials from assuming `role_arn` (from `source`'s
/// credentials), remembered by a provider of its own.
fn assume(
    source: &SdkConfig,
    role_arn: &str,
    config: &Config,
    refresh: &RefreshOnExpiry,
) -> SdkConfig {
    let access = &config.access;
    let session = RoleSession {
        role_arn: role_arn.to_owned(),
        session_name: access.session_name.clone(),
        duration: Duration::from_secs(access.session_duration_seconds),
        external_id: access.external_id.clone(),
    };
    let provider = RememberedCredentials::new(
        AssumedRole::new(sts_client(source, refresh), session),
        refresh.refused(),
    );
    source
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(IdentityCache::no_cache())
        .build()
}

/// The account id in an ARN.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|account| !account.is_empty())
}
