//! The emulator answers as AWS does, as the Rust SDK sees it: where moto is wrong or silent, our
//! fidelity layer must make the SDK observe AWS's real status codes, error codes and shapes.

use crate::common;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_macie2::types::{ClassificationExportConfiguration, MacieStatus, S3Destination};
use common::Emulator;
use macie_audit::aws::errors::classify;
use macie_audit::evidence::{ApiError, ErrorKind};
use serde_json::json;

const SCENARIO: &str = r#"
[[accounts]]
id = "111111111111"
name = "member"
disabled_regions = ["af-south-1"]
security_hub = ["us-east-1"]
[[accounts.macie]]
region = "us-east-1"
created_at = "2026-01-15T08:30:00Z"
administrator = "123456789012"

[[accounts]]
id = "222222222222"
name = "denied"
assume_role = "deny"
"#;

async fn sdk_config(emulator: &Emulator, credentials: Credentials, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&emulator.endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .load()
        .await
}

fn management_keys() -> Credentials {
    Credentials::new("testing", "testing", None, None, "test")
}

async fn member_keys(emulator: &Emulator, account: &str) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&sdk_config(emulator, management_keys(), "us-east-1").await);
    let assumed = sts
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("fidelity")
        .send()
        .await
        .expect("AssumeRole");
    let c = assumed.credentials().expect("credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "assumed",
    )
}

async fn macie(
    emulator: &Emulator,
    credentials: Credentials,
    region: &str,
) -> aws_sdk_macie2::Client {
    aws_sdk_macie2::Client::new(&sdk_config(emulator, credentials, region).await)
}

#[tokio::test]
async fn macie_is_off_until_enabled_and_says_so_like_aws() {
    let emulator = Emulator::start();
    let client = macie(&emulator, management_keys(), "eu-west-1").await;

    let error = client
        .get_macie_session()
        .send()
        .await
        .expect_err("Macie is off");
    let classified = classify(&error);
    assert_eq!(classified.code.as_deref(), Some("AccessDeniedException"));
    assert_eq!(classified.http_status, Some(403));
    assert_eq!(classified.kind, ErrorKind::MacieNotEnabled);

    let error = client
        .get_classification_export_configuration()
        .send()
        .await
        .expect_err("Macie is off");
    let classified = classify(&error);
    assert_eq!(
        classified.code.as_deref(),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        classified.kind,
        ErrorKind::MacieNotEnabled,
        "{classified:?}"
    );

    client.enable_macie().send().await.expect("EnableMacie");
    let session = client
        .get_macie_session()
        .send()
        .await
        .expect("GetMacieSession");
    assert_eq!(session.status(), Some(&MacieStatus::Enabled));
    assert!(
        session.created_at().is_some(),
        "createdAt parses as RFC 3339"
    );
    use aws_sdk_macie2::operation::RequestId;
    assert!(session.request_id().is_some_and(|id| !id.is_empty()));

    let again = client
        .enable_macie()
        .send()
        .await
        .expect_err("already enabled");
    assert_eq!(classify(&again).code.as_deref(), Some("ConflictException"));
}

#[tokio::test]
async fn export_configuration_round_trips() {
    let emulator = Emulator::start();
    let client = macie(&emulator, management_keys(), "us-east-1").await;
    client.enable_macie().send().await.expect("EnableMacie");

    let empty = client
        .get_classification_export_configuration()
        .send()
        .await
        .expect("nothing configured is a 200");
    assert!(
        empty
            .configuration()
            .and_then(|c| c.s3_destination())
            .is_none()
    );

    let destination = S3Destination::builder()
        .bucket_name("results")
        .key_prefix("macie/")
        .kms_key_arn("arn:aws:kms:us-east-1:123456789012:key/abc")
        .build();
    client
        .put_classification_export_configuration()
        .configuration(
            ClassificationExportConfiguration::builder()
                .s3_destination(destination)
                .build(),
        )
        .send()
        .await
        .expect("PutClassificationExportConfiguration");
    let read = client
        .get_classification_export_configuration()
        .send()
        .await
        .expect("GetClassificationExportConfiguration");
    let s3 = read
        .configuration()
        .and_then(|c| c.s3_destination())
        .expect("a destination");
    assert_eq!(s3.bucket_name(), Some("results"));
    assert_eq!(s3.key_prefix(), Some("macie/"));
    assert_eq!(
        s3.kms_key_arn(),
        Some("arn:aws:kms:us-east-1:123456789012:key/abc")
    );

    let no_key = S3Destination::builder()
        .bucket_name("results")
        .kms_key_arn("")
        .build();
    let error = client
        .put_classification_export_configuration()
        .configuration(
            ClassificationExportConfiguration::builder()
                .s3_destination(no_key)
                .build(),
        )
        .send()
        .await
        .expect_err("kmsKeyArn is required");
    assert_eq!(
        classify(&error).code.as_deref(),
        Some("ValidationException")
    );
}

#[tokio::test]
async fn scenario_state_membership_created_at_and_disabled_regions() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let keys = member_keys(&emulator, "111111111111").await;

    let client = macie(&emulator, keys.clone(), "us-east-1").await;
    let session = client
        .get_macie_session()
        .send()
        .await
        .expect("GetMacieSession");
    let created = session.created_at().expect("createdAt");
    assert_eq!(created.secs(), 1_768_465_800, "2026-01-15T08:30:00Z");
    let admin = client
        .get_administrator_account()
        .send()
        .await
        .expect("GetAdministratorAccount");
    assert_eq!(
        admin.administrator().and_then(|a| a.account_id()),
        Some("123456789012")
    );

    let management = macie(&emulator, management_keys(), "us-east-1").await;
    let no_admin = management.get_administrator_account().send().await;
    // The management account has Macie off: AWS answers "not enabled" there too.
    assert_eq!(
        classify(&no_admin.expect_err("Macie is off")).kind,
        ErrorKind::MacieNotEnabled
    );

    let disabled = macie(&emulator, keys, "af-south-1").await;
    let error = disabled
        .get_macie_session()
        .send()
        .await
        .expect_err("Region disabled");
    let classified = classify(&error);
    assert_eq!(
        classified.code.as_deref(),
        Some("UnrecognizedClientException")
    );
    assert_eq!(classified.kind, ErrorKind::RegionDisabled);
}

#[tokio::test]
async fn denied_assume_role_and_no_organization() {
    let mut emulator = Emulator::start();
    let orgs = aws_sdk_organizations::Client::new(
        &sdk_config(&emulator, management_keys(), "us-east-1").await,
    );
    let error = orgs
        .list_accounts()
        .send()
        .await
        .expect_err("no organization yet");
    let classified = classify(&error);
    assert_eq!(
        classified.code.as_deref(),
        Some("AWSOrganizationsNotInUseException")
    );
    assert_eq!(classified.kind, ErrorKind::OrganizationsNotInUse);

    emulator.load_scenario(SCENARIO);
    let sts =
        aws_sdk_sts::Client::new(&sdk_config(&emulator, management_keys(), "us-east-1").await);
    let error = sts
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/OrganizationAccountAccessRole")
        .role_session_name("fidelity")
        .send()
        .await
        .expect_err("denied");
    let classified = classify(&error);
    assert_eq!(classified.code.as_deref(), Some("AccessDenied"));
    assert_eq!(classified.http_status, Some(403));
    assert!(
        classified
            .message
            .contains("is not authorized to perform: sts:AssumeRole")
    );

    let accounts = orgs.list_accounts().send().await.expect("ListAccounts");
    let ids: Vec<_> = accounts.accounts().iter().filter_map(|a| a.id()).collect();
    assert!(
        ids.contains(&"111111111111")
            && ids.contains(&"222222222222")
            && ids.contains(&"123456789012")
    );
}

#[tokio::test]
async fn injected_throttling_is_what_the_sdk_retries() {
    let emulator = Emulator::start();
    emulator.faults(json!({"throttle_fraction": 1.0, "seed": 3}));
    let client = macie(&emulator, management_keys(), "us-east-1").await;
    let error = client
        .get_macie_session()
        .send()
        .await
        .expect_err("always throttled");
    let classified = classify(&error);
    assert_eq!(classified.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(classified.http_status, Some(429));
    assert_eq!(classified.kind, ErrorKind::Throttled);
    let counters = emulator.counters();
    assert_eq!(
        counters.operation("macie2:GetMacieSession"),
        2,
        "two attempts: {:?}",
        counters.0
    );
    assert_eq!(counters.faulted("macie2:GetMacieSession"), 2);

    emulator.faults(
        json!({"throttle_fraction": 1.0, "seed": 3, "operations": ["organizations:ListAccounts"]}),
    );
    let orgs = aws_sdk_organizations::Client::new(
        &sdk_config(&emulator, management_keys(), "us-east-1").await,
    );
    let error = orgs.list_accounts().send().await.expect_err("throttled");
    assert_eq!(
        classify(&error).code.as_deref(),
        Some("TooManyRequestsException")
    );
    assert_eq!(classify(&error).kind, ErrorKind::Throttled);

    emulator.faults(json!({"error_fraction": 1.0, "seed": 3}));
    let error = client
        .get_macie_session()
        .send()
        .await
        .expect_err("always failing");
    let classified = classify(&error);
    assert_eq!(classified.http_status, Some(500));
    assert_eq!(classified.kind, ErrorKind::ServiceUnavailable);
}

fn asff_finding(id: &str, account: &str) -> aws_sdk_securityhub::types::AwsSecurityFinding {
    use aws_sdk_securityhub::types::{AwsSecurityFinding, Resource, Severity, SeverityLabel};
    AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(id)
        .product_arn(format!(
            "arn:aws:securityhub:us-east-1:{account}:product/{account}/default"
        ))
        .generator_id("macie-audit/MACIE-001")
        .aws_account_id(account)
        .types("Software and Configuration Checks/AWS Security Best Practices")
        .created_at("2026-10-01T12:00:00.000Z")
        .updated_at("2026-10-01T12:00:00.000Z")
        .severity(Severity::builder().label(SeverityLabel::Medium).build())
        .title("t")
        .description("d")
        .resources(Resource::builder().r#type("Other").id("r").build())
        .build()
}

/// Security Hub as AWS answers it (moto imports and lists without a hub, ignores filters and
/// accepts any account's finding): 401 InvalidAccessException where it is not enabled, another
/// account's finding rejected, Filters applied, pages with NextToken.
#[test]
fn security_hub_answers_like_aws() {
    // The SDK's ASFF types are large, and a debug build moves them on the stack: more than a
    // test thread's 2 MiB.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(security_hub_answers())
        })
        .expect("thread")
        .join()
        .expect("the checks passed");
}

async fn security_hub_answers() {
    use aws_sdk_securityhub::types::{
        AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
    };
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let member = member_keys(&emulator, "111111111111").await;
    let hub =
        aws_sdk_securityhub::Client::new(&sdk_config(&emulator, member.clone(), "us-east-1").await);
    let off = aws_sdk_securityhub::Client::new(&sdk_config(&emulator, member, "eu-west-1").await);

    let error = off
        .get_findings()
        .send()
        .await
        .expect_err("not enabled there");
    let classified = classify(&error);
    assert_eq!(classified.code.as_deref(), Some("InvalidAccessException"));
    assert_eq!(classified.http_status, Some(401));
    assert!(
        classified
            .message
            .contains("not subscribed to AWS Security Hub")
    );
    let error = off
        .batch_import_findings()
        .findings(asff_finding("a", "111111111111"))
        .send()
        .await
        .expect_err("not enabled there");
    assert_eq!(classify(&error).http_status, Some(401));

    let answer = hub
        .batch_import_findings()
        .findings(asff_finding("macie-audit/v1/a", "111111111111"))
        .findings(asff_finding("macie-audit/v1/b", "111111111111"))
        .findings(asff_finding("other/c", "111111111111"))
        .findings(asff_finding("macie-audit/v1/d", "222222222222"))
        .send()
        .await
        .expect("imported");
    assert_eq!(answer.success_count(), Some(3));
    assert_eq!(answer.failed_count(), Some(1));
    let failed = &answer.failed_findings()[0];
    assert_eq!(failed.id(), Some("macie-audit/v1/d"));
    assert_eq!(failed.error_code(), Some("AccessDeniedException"));

    let ours = AwsSecurityFindingFilters::builder()
        .id(StringFilter::builder()
            .value("macie-audit/")
            .comparison(StringFilterComparison::Prefix)
            .build())
        .build();
    let first = hub
        .get_findings()
        .filters(ours.clone())
        .max_results(1)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first.findings().len(), 1);
    assert_eq!(
        first.findings()[0].record_state().map(|s| s.as_str()),
        Some("ACTIVE")
    );
    let token = first.next_token().expect("a second page").to_owned();
    let second = hub
        .get_findings()
        .filters(ours)
        .max_results(1)
        .next_token(token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.findings().len(), 1);
    assert_eq!(second.next_token(), None, "two of ours in all");
    let error = hub
        .get_findings()
        .max_results(101)
        .send()
        .await
        .expect_err("too many");
    assert_eq!(
        classify(&error).code.as_deref(),
        Some("InvalidInputException")
    );
}

/// AWS defaults a key's usage to ENCRYPT_DECRYPT and its spec to SYMMETRIC_DEFAULT when CreateKey
/// names neither; moto stored no usage, so DescribeKey answered without one.
#[tokio::test]
async fn create_key_defaults_usage_and_spec_like_aws() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let kms = aws_sdk_kms::Client::new(
        &sdk_config(
            &emulator,
            member_keys(&emulator, "111111111111").await,
            "us-east-1",
        )
        .await,
    );
    let created = kms
        .create_key()
        .description("neither usage nor spec given")
        .send()
        .await
        .expect("CreateKey");
    let key_id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .expect("created key metadata");
    let described = kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .expect("DescribeKey");
    let metadata = described.key_metadata().expect("key metadata");
    assert_eq!(
        metadata.key_usage(),
        Some(&aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
    );
    assert_eq!(
        metadata.key_spec(),
        Some(&aws_sdk_kms::types::KeySpec::SymmetricDefault)
    );
}

/// AWS takes a key ARN wherever it takes a key id, and answers CancelKeyDeletion and
/// ScheduleKeyDeletion with the key's ARN; moto looked the raw ARN up in its key table (a 500) for
/// the key-state operations and echoed whatever KeyId it was sent.
#[tokio::test]
async fn key_state_operations_take_a_key_arn_like_aws() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let kms = aws_sdk_kms::Client::new(
        &sdk_config(
            &emulator,
            member_keys(&emulator, "111111111111").await,
            "us-east-1",
        )
        .await,
    );
    let arn = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .and_then(|m| m.arn().map(str::to_owned))
        .expect("created key ARN");
    let state = |kms: aws_sdk_kms::Client, arn: String| async move {
        kms.describe_key()
            .key_id(arn)
            .send()
            .await
            .expect("DescribeKey")
            .key_metadata()
            .and_then(|m| m.key_state().cloned())
            .expect("key state")
    };
    use aws_sdk_kms::types::KeyState;

    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion by ARN");
    assert_eq!(scheduled.key_id(), Some(arn.as_str()));
    assert_eq!(
        state(kms.clone(), arn.clone()).await,
        KeyState::PendingDeletion
    );

    let cancelled = kms
        .cancel_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .expect("CancelKeyDeletion by ARN");
    assert_eq!(cancelled.key_id(), Some(arn.as_str()));
    assert_eq!(state(kms.clone(), arn.clone()).await, KeyState::Disabled);

    kms.enable_key()
        .key_id(&arn)
        .send()
        .await
        .expect("EnableKey by ARN");
    assert_eq!(state(kms.clone(), arn.clone()).await, KeyState::Enabled);
    kms.disable_key()
        .key_id(&arn)
        .send()
        .await
        .expect("DisableKey by ARN");
    assert_eq!(state(kms.clone(), arn.clone()).await, KeyState::Disabled);
}

/// S3 Control puts the account id in the host name; against the emulator the endpoint is used as
/// given (as the scanner's own client does).
#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
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

/// AWS answers a request signed with credentials whose session has ended in each protocol's own
/// shape (moto never refuses them): STS's query XML `ExpiredToken`, S3's XML `ExpiredToken` (a
/// HEAD: a bare 400, no body, no code), S3 Control's wrapped XML, the JSON services' Coral
/// `ExpiredTokenException` (spelt in full, `com.amazon.coral.service#…`, which the SDK shortens).
#[tokio::test]
async fn expired_sessions_are_refused_in_each_protocol_as_aws_refuses_them() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    emulator.credentials(json!({"expire_after_uses": 0, "accounts": ["111111111111"]}));
    let keys = member_keys(&emulator, "111111111111").await;
    let config = sdk_config(&emulator, keys, "us-east-1").await;

    let expect_expired = |error: ApiError, code: &str, status: u16| {
        assert_eq!(error.code.as_deref(), Some(code), "{error:?}");
        assert_eq!(error.http_status, Some(status), "{error:?}");
        assert_eq!(error.kind, ErrorKind::CredentialsExpired, "{error:?}");
    };
    let sts = aws_sdk_sts::Client::new(&config);
    let error = sts.get_caller_identity().send().await.expect_err("expired");
    expect_expired(classify(&error), "ExpiredToken", 400);

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let error = s3.list_buckets().send().await.expect_err("expired");
    expect_expired(classify(&error), "ExpiredToken", 400);
    let error = s3
        .head_bucket()
        .bucket("any")
        .send()
        .await
        .expect_err("expired");
    let classified = classify(&error);
    assert_eq!(classified.http_status, Some(400));
    assert_eq!(classified.code, None, "a HEAD answer has no body");

    let control = aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(&config)
            .endpoint_resolver(FixedEndpoint(emulator.endpoint.clone()))
            .build(),
    );
    let error = control
        .get_public_access_block()
        .account_id("111111111111")
        .send()
        .await
        .expect_err("expired");
    expect_expired(classify(&error), "ExpiredToken", 400);

    let kms = aws_sdk_kms::Client::new(&config);
    let error = kms.list_keys().send().await.expect_err("expired");
    expect_expired(classify(&error), "ExpiredTokenException", 400);
    let orgs = aws_sdk_organizations::Client::new(&config);
    let error = orgs
        .describe_organization()
        .send()
        .await
        .expect_err("expired");
    expect_expired(classify(&error), "ExpiredTokenException", 400);
    let macie = aws_sdk_macie2::Client::new(&config);
    let error = macie.get_macie_session().send().await.expect_err("expired");
    expect_expired(classify(&error), "ExpiredTokenException", 403);

    let counters = emulator.counters();
    assert_eq!(counters.expired_in("111111111111"), 7, "{:?}", counters.0);
    assert_eq!(counters.expired("s3:HeadBucket"), 1);
    // The management account's static keys are not a session: never refused.
    assert_eq!(counters.expired_in("123456789012"), 0);
}

/// moto issues credentials for whatever DurationSeconds asks and never checks AWS's limits;
/// `lifetime_seconds` makes sessions end sooner, and their Expiration says so.
#[tokio::test]
async fn assume_role_keeps_aws_duration_limits_and_a_short_lifetime_is_the_expiration() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let sts =
        aws_sdk_sts::Client::new(&sdk_config(&emulator, management_keys(), "us-east-1").await);
    let assume = |duration: i32| {
        sts.assume_role()
            .role_arn("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole")
            .role_session_name("fidelity")
            .duration_seconds(duration)
            .send()
    };
    for (duration, says) in [
        (600, "greater than or equal to 900"),
        (50_000, "less than or equal to 43200"),
        (7_200, "MaxSessionDuration"),
    ] {
        let error = assume(duration).await.expect_err("outside AWS's limits");
        let classified = classify(&error);
        assert_eq!(classified.code.as_deref(), Some("ValidationError"));
        assert!(classified.message.contains(says), "{classified:?}");
    }

    // A role session assuming another role (role chaining) gets at most an hour.
    let chained = aws_sdk_sts::Client::new(
        &sdk_config(
            &emulator,
            member_keys(&emulator, "111111111111").await,
            "us-east-1",
        )
        .await,
    );
    let error = chained
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole")
        .role_session_name("chained")
        .duration_seconds(3_601)
        .send()
        .await
        .expect_err("role chaining caps the session at 1 h");
    assert!(classify(&error).message.contains("role chaining"));

    emulator.credentials(json!({"lifetime_seconds": 30}));
    let issued = std::time::SystemTime::now();
    let assumed = assume(3_600).await.expect("AssumeRole");
    let expiration =
        std::time::SystemTime::try_from(assumed.credentials().expect("credentials").expiration)
            .expect("an Expiration");
    let lifetime = expiration
        .duration_since(issued)
        .expect("Expiration after issue");
    assert!(
        (Duration::from_secs(25)..=Duration::from_secs(35)).contains(&lifetime),
        "{lifetime:?}"
    );
}
