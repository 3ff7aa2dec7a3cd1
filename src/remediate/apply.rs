//! Applying a plan: each account's steps in order, with the account's remediation role (never the
//! audit role), stopping the account at its first failed step. In `--strategy central` the shared
//! repository's steps run first; if one fails, no account is pointed at it.
//!
//! Every step reads before it writes, so that re-running a plan (or a plan made from an older
//! scan) changes nothing that is already in place: a key whose alias exists is reused, an
//! existing bucket is not created again, a policy that already lets Macie in is not rewritten,
//! and an export configuration that meanwhile names another repository is left alone unless
//! `--force`. Every call is recorded, with its request id, in the step's log record.

use std::collections::HashMap;
use std::error::Error as StdError;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use chrono::Utc;
use futures::StreamExt;
use serde_json::{Value, json};

use super::commands::{KEY_TAG, encryption_configuration};
use super::log::{CallRecord, StepRecord, StepStatus};
use super::plan::{Action, Destination, GroupKind, KeyRef, Plan, Step, StepGroup, decide_policy};
use super::statements::{self, Gap, KEY_ARN_PLACEHOLDER, bucket_gaps, key_gaps};
use crate::aws::AwsEnvironment;
use crate::aws::errors::classify;
use crate::collect::repository::bucket_region;
use crate::evidence::{ApiError, ErrorKind, S3Destination};
use crate::interrupt::Cancellation;
use crate::policy::Policy;

/// Every AWS operation an apply makes, with the IAM action that authorises it: the remediation
/// role must grant each (checked against `permissions::REMEDIATION_ACTIONS` by the tests).
pub const APPLY_CALLS: &[(&str, &str)] = &[
    ("kms:DescribeKey", "kms:DescribeKey"),
    ("kms:CreateKey", "kms:CreateKey"),
    ("kms:CreateKey (tags)", "kms:TagResource"),
    ("kms:CreateAlias", "kms:CreateAlias"),
    ("kms:EnableKeyRotation", "kms:EnableKeyRotation"),
    ("kms:CancelKeyDeletion", "kms:CancelKeyDeletion"),
    ("kms:EnableKey", "kms:EnableKey"),
    ("kms:GetKeyPolicy", "kms:GetKeyPolicy"),
    ("kms:PutKeyPolicy", "kms:PutKeyPolicy"),
    ("s3:GetBucketLocation", "s3:GetBucketLocation"),
    ("s3:CreateBucket", "s3:CreateBucket"),
    ("s3:PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("s3:PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("s3:PutBucketVersioning", "s3:PutBucketVersioning"),
    ("s3:GetBucketPolicy", "s3:GetBucketPolicy"),
    ("s3:PutBucketPolicy", "s3:PutBucketPolicy"),
    (
        "macie2:GetClassificationExportConfiguration",
        "macie2:GetClassificationExportConfiguration",
    ),
    (
        "macie2:PutClassificationExportConfiguration",
        "macie2:PutClassificationExportConfiguration",
    ),
];

/// What an apply needs besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext<'a> {
    /// Clients with the remediation role (`access.remediation_role_name`).
    pub env: &'a AwsEnvironment,
    /// The caller's account (acted in with the caller's own credentials).
    pub caller_account: &'a str,
    /// Repoint configurations that name another repository.
    pub force: bool,
    /// Raised by Ctrl-C / SIGTERM: no step starts after it.
    pub cancellation: &'a Cancellation,
    /// Accounts applied at the same time.
    pub concurrency: usize,
}

/// Applies the plan; one record per step of the plan, in the plan's order.
pub async fn apply(context: &ApplyContext<'_>, plan: &Plan) -> Vec<StepRecord> {
    let mut records = Vec::new();
    let mut repository_failure: Option<String> = None;
    for group in plan
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Repository)
    {
        let done = run_group(context, group, repository_failure.as_deref()).await;
        if repository_failure.is_none()
            && let Some(failed) = done
                .iter()
                .find(|r| matches!(r.status, StepStatus::Failed | StepStatus::NotAttempted))
        {
            repository_failure = Some(format!(
                "not attempted: the shared repository's step {} ({} in {}) did not succeed",
                failed.step, failed.operation, failed.account_id
            ));
        }
        records.extend(done);
    }
    let blocked = repository_failure.as_deref();
    let accounts =
        futures::stream::iter(plan.groups.iter().filter(|g| g.kind == GroupKind::Account))
            .map(|group| run_group(context, group, blocked))
            .buffered(context.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
    records.extend(accounts.into_iter().flatten());
    records.sort_by_key(|r| r.step);
    records
}

/// One account's steps, in order, stopping at the first failure.
async fn run_group(
    context: &ApplyContext<'_>,
    group: &StepGroup,
    blocked: Option<&str>,
) -> Vec<StepRecord> {
    let env = context.env;
    let credentials = env.credentials_for(&group.account_id, context.caller_account);
    let role_arn = credentials.role_arn().map(str::to_owned);
    let conf = if blocked.is_none() {
        Some(env.account_config(&credentials).await)
    } else {
        None
    };
    let clients = conf
        .as_ref()
        .map(|conf| move |step: &Step| StepClients::new(env, conf, step));
    let steps = Steps {
        role_arn,
        force: context.force,
        cancellation: context.cancellation,
    };
    steps.run(group, blocked, clients).await
}

/// How an account's steps are run.
struct Steps<'a> {
    /// The role they are made with (`None`: the caller's own credentials).
    role_arn: Option<String>,
    /// Repoint configurations that name another repository.
    force: bool,
    /// Raised by Ctrl-C / SIGTERM: no step starts after it.
    cancellation: &'a Cancellation,
}

impl Steps<'_> {
    /// Runs `group`'s steps in order with the clients `clients` gives each, stopping at the first
    /// failure; none is attempted when `blocked` says why (and `clients` is then `None`).
    async fn run(
        &self,
        group: &StepGroup,
        blocked: Option<&str>,
        clients: Option<impl Fn(&Step) -> StepClients>,
    ) -> Vec<StepRecord> {
        let role_arn = &self.role_arn;
        let mut stop: Option<String> = blocked.map(str::to_owned);
        let mut records = Vec::new();
        let mut keys: HashMap<String, String> = HashMap::new();
        for step in &group.steps {
            if stop.is_none() && self.cancellation.is_cancelled() {
                stop = Some("not attempted: interrupted".into());
            }
            let (Some(clients), None) = (&clients, &stop) else {
                records.push(not_attempted(
                    step,
                    role_arn.clone(),
                    stop.clone().unwrap_or_default(),
                ));
                continue;
            };
            let mut runner = Runner {
                clients: clients(step),
                step,
                force: self.force,
                calls: Vec::new(),
                keys: &mut keys,
            };
            let result = runner.run().await;
            let calls = runner.calls;
            let record = StepRecord {
                step: step.number,
                account_id: step.account_id.clone(),
                region: step.region.clone(),
                operation: step.action.operation().to_owned(),
                resource: step.action.resource(&step.account_id, &step.region),
                role_arn: role_arn.clone(),
                status: result.status,
                message: result.message,
                before: result.before,
                after: result.after,
                calls,
                error: result.error,
                at: Utc::now(),
            };
            if record.status == StepStatus::Failed {
                stop = Some(format!(
                    "not attempted: step {} ({}) failed in this account",
                    step.number,
                    step.action.operation()
                ));
            }
            records.push(record);
        }
        records
    }
}

/// The clients of one step, in its account and Region.
struct StepClients {
    kms: aws_sdk_kms::Client,
    s3: aws_sdk_s3::Client,
    macie: aws_sdk_macie2::Client,
}

impl StepClients {
    fn new(env: &AwsEnvironment, conf: &SdkConfig, step: &Step) -> StepClients {
        let (account, region) = (step.account_id.as_str(), step.region.as_str());
        StepClients {
            kms: env.kms(conf, account, region),
            s3: env.s3(conf, account, region),
            macie: env.macie(conf, account, region),
        }
    }
}

fn not_attempted(step: &Step, role_arn: Option<String>, message: String) -> StepRecord {
    StepRecord {
        step: step.number,
        account_id: step.account_id.clone(),
        region: step.region.clone(),
        operation: step.action.operation().to_owned(),
        resource: step.action.resource(&step.account_id, &step.region),
        role_arn,
        status: StepStatus::NotAttempted,
        message,
        before: None,
        after: None,
        calls: Vec::new(),
        error: None,
        at: Utc::now(),
    }
}

/// What a step did.
struct StepResult {
    status: StepStatus,
    message: String,
    before: Option<Value>,
    after: Option<Value>,
    error: Option<ApiError>,
}

impl StepResult {
    fn changed(message: impl Into<String>, before: Option<Value>, after: Value) -> Self {
        StepResult {
            status: StepStatus::Changed,
            message: message.into(),
            before,
            after: Some(after),
            error: None,
        }
    }

    fn unchanged(message: impl Into<String>, state: Option<Value>) -> Self {
        StepResult {
            status: StepStatus::Unchanged,
            message: message.into(),
            before: state.clone(),
            after: state,
            error: None,
        }
    }

    fn failed(message: impl Into<String>, error: Option<ApiError>) -> Self {
        StepResult {
            status: StepStatus::Failed,
            message: message.into(),
            before: None,
            after: None,
            error,
        }
    }

    fn call_failed(what: &str, error: ApiError) -> Self {
        StepResult::failed(format!("{what}: {error}"), Some(error))
    }
}

/// Runs one step.
struct Runner<'a, 'k> {
    clients: StepClients,
    step: &'a Step,
    force: bool,
    calls: Vec<CallRecord>,
    /// The keys created or found in this account, by Region.
    keys: &'k mut HashMap<String, String>,
}

fn is_code(error: &ApiError, codes: &[&str]) -> bool {
    error
        .code
        .as_deref()
        .is_some_and(|code| codes.contains(&code))
}

impl Runner<'_, '_> {
    /// Records a call and classifies its error.
    fn record<O, E>(
        &mut self,
        operation: &str,
        result: Result<O, SdkError<E, HttpResponse>>,
    ) -> Result<O, ApiError>
    where
        O: RequestId,
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        match result {
            Ok(output) => {
                self.calls.push(CallRecord {
                    operation: operation.to_owned(),
                    request_id: output.request_id().map(str::to_owned),
                    at: Utc::now(),
                    error: None,
                });
                Ok(output)
            }
            Err(error) => {
                let classified = classify(&error);
                self.calls.push(CallRecord {
                    operation: operation.to_owned(),
                    request_id: error.request_id().map(str::to_owned),
                    at: Utc::now(),
                    error: Some(classified.clone()),
                });
                Err(classified)
            }
        }
    }

    fn region(&self) -> &str {
        &self.step.region
    }

    fn kms(&self) -> aws_sdk_kms::Client {
        self.clients.kms.clone()
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        self.clients.s3.clone()
    }

    async fn run(&mut self) -> StepResult {
        let step = self.step;
        let ran = match &step.action {
            Action::CreateKey {
                alias,
                description,
                policy,
            } => self.create_key(alias, description, policy).await,
            Action::CreateAlias { alias, key } => self.create_alias(alias, key).await,
            Action::CancelKeyDeletion { key } => self.cancel_key_deletion(key).await,
            Action::EnableKey { key } => self.enable_key(key).await,
            Action::EnableKeyRotation { key } => self.enable_rotation(key).await,
            Action::PutKeyPolicy {
                key,
                statements,
                sources,
                ..
            } => self.put_key_policy(key, statements, sources).await,
            Action::CreateBucket { bucket } => self.create_bucket(bucket).await,
            Action::PutPublicAccessBlock { bucket, before } => {
                let before = before.map(|b| json!(b));
                self.put_public_access_block(bucket, before).await
            }
            Action::PutBucketEncryption {
                bucket,
                key,
                before,
            } => self.put_encryption(bucket, key, before.clone()).await,
            Action::PutBucketVersioning { bucket, before } => {
                self.put_versioning(bucket, before.clone()).await
            }
            Action::PutBucketPolicy {
                bucket,
                key,
                key_prefix,
                statements,
                sources,
                ..
            } => {
                self.put_bucket_policy(bucket, key, key_prefix, statements, sources)
                    .await
            }
            Action::PutExportConfiguration {
                destination,
                before,
            } => self.put_export(destination, before.as_ref()).await,
        };
        ran.unwrap_or_else(|ended| ended)
    }

    /// DescribeKey: the key's ARN and whether it can hold Macie's results; `Ok(None)` when absent.
    async fn describe(
        &mut self,
        key_id: &str,
    ) -> Result<Option<(String, Option<String>)>, ApiError> {
        let kms = self.kms();
        let result = kms.describe_key().key_id(key_id).send().await;
        match self.record("kms:DescribeKey", result) {
            Ok(output) => {
                let m = output.key_metadata();
                let arn = m.and_then(|m| m.arn()).unwrap_or_default().to_owned();
                let state = m.and_then(|m| m.key_state()).map(|s| s.as_str().to_owned());
                let spec = m.and_then(|m| m.key_spec()).map(|s| s.as_str().to_owned());
                let manager = m
                    .and_then(|m| m.key_manager())
                    .map(|s| s.as_str().to_owned());
                let usable = state.as_deref() == Some("Enabled")
                    && spec.as_deref() == Some("SYMMETRIC_DEFAULT")
                    && manager.as_deref() != Some("AWS");
                let problem = (!usable).then(|| {
                    format!(
                        "state {}, spec {}, manager {}",
                        state.unwrap_or_default(),
                        spec.unwrap_or_default(),
                        manager.unwrap_or_default()
                    )
                });
                Ok(Some((arn, problem)))
            }
            Err(error) if error.kind == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The ARN a key reference means now.
    async fn resolve(&mut self, key: &KeyRef) -> Result<String, StepResult> {
        match key {
            KeyRef::Arn { arn } => Ok(arn.clone()),
            KeyRef::Created { alias } => {
                if let Some(arn) = self.keys.get(self.region()) {
                    return Ok(arn.clone());
                }
                match self.describe(alias).await {
                    Ok(Some((arn, _))) => {
                        self.keys.insert(self.region().to_owned(), arn.clone());
                        Ok(arn)
                    }
                    Ok(None) => Err(StepResult::failed(
                        format!("{alias} does not exist: the key was not created"),
                        None,
                    )),
                    Err(error) => Err(StepResult::call_failed("cannot find the key", error)),
                }
            }
        }
    }

    /// DescribeKey of the alias a step is about to create or name: `Ok(None)` when it is free.
    async fn alias_target(
        &mut self,
        alias: &str,
    ) -> Result<Option<(String, Option<String>)>, StepResult> {
        self.describe(alias)
            .await
            .map_err(|error| StepResult::call_failed(&format!("cannot look up {alias}"), error))
    }

    async fn create_key(&mut self, alias: &str, description: &str, policy: &Value) -> Ran {
        match self.alias_target(alias).await? {
            Some((arn, None)) => {
                self.keys.insert(self.region().to_owned(), arn.clone());
                return Ok(StepResult::unchanged(
                    format!("{alias} already names key {arn}: reused"),
                    Some(json!({"key_arn": arn})),
                ));
            }
            Some((arn, Some(problem))) => {
                return Err(StepResult::failed(
                    format!(
                        "{alias} names key {arn}, which cannot hold Macie's results ({problem})"
                    ),
                    None,
                ));
            }
            None => {}
        }
        let tag = aws_sdk_kms::types::Tag::builder()
            .tag_key(KEY_TAG.0)
            .tag_value(KEY_TAG.1)
            .build()
            .map_err(|error| StepResult::failed(error.to_string(), None))?;
        let kms = self.kms();
        let result = kms
            .create_key()
            .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
            .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
            .description(description)
            .policy(statements::to_text(policy))
            .tags(tag)
            .send()
            .await;
        let output = self
            .record("kms:CreateKey", result)
            .map_err(call_failed("cannot create the key"))?;
        let arn = output
            .key_metadata()
            .and_then(|m| m.arn())
            .unwrap_or_default()
            .to_owned();
        self.keys.insert(self.region().to_owned(), arn.clone());
        Ok(StepResult::changed(
            format!("created key {arn}"),
            None,
            json!({"key_arn": arn, "policy": policy}),
        ))
    }

    async fn create_alias(&mut self, alias: &str, key: &KeyRef) -> Ran {
        let arn = self.resolve(key).await?;
        match self.alias_target(alias).await? {
            Some((named, _)) if named == arn => {
                return Ok(StepResult::unchanged(
                    format!("{alias} already names {arn}"),
                    Some(json!({"alias": alias, "key_arn": arn})),
                ));
            }
            Some((named, _)) => {
                return Err(StepResult::failed(
                    format!("{alias} already names another key, {named}"),
                    None,
                ));
            }
            None => {}
        }
        let kms = self.kms();
        let result = kms
            .create_alias()
            .alias_name(alias)
            .target_key_id(&arn)
            .send()
            .await;
        self.record("kms:CreateAlias", result)
            .map_err(call_failed("cannot create the alias"))?;
        Ok(StepResult::changed(
            format!("{alias} names {arn}"),
            None,
            json!({"alias": alias, "key_arn": arn}),
        ))
    }

    /// The key's ARN, its state and the step's "before" record, for the steps that recover a
    /// key (each reads the state first, so a step already made is unchanged).
    async fn key_and_state(&mut self, key: &KeyRef) -> Result<(String, String, Value), StepResult> {
        let arn = self.resolve(key).await?;
        let kms = self.kms();
        let result = kms.describe_key().key_id(&arn).send().await;
        let state = self
            .record("kms:DescribeKey", result)
            .map_err(call_failed("cannot describe the key"))?
            .key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let before = json!({"key_arn": arn, "state": state});
        Ok((arn, state, before))
    }

    async fn cancel_key_deletion(&mut self, key: &KeyRef) -> Ran {
        let (arn, state, before) = self.key_and_state(key).await?;
        if state != "PendingDeletion" {
            return Ok(StepResult::unchanged(
                format!("key {arn} is not pending deletion ({state})"),
                Some(before),
            ));
        }
        let kms = self.kms();
        let result = kms.cancel_key_deletion().key_id(&arn).send().await;
        self.record("kms:CancelKeyDeletion", result)
            .map_err(call_failed("cannot cancel the key's deletion"))?;
        Ok(StepResult::changed(
            format!("the deletion of key {arn} is cancelled (the key is disabled)"),
            Some(before),
            json!({"key_arn": arn, "state": "Disabled"}),
        ))
    }

    async fn enable_key(&mut self, key: &KeyRef) -> Ran {
        let (arn, state, before) = self.key_and_state(key).await?;
        match state.as_str() {
            "Enabled" => {
                return Ok(StepResult::unchanged(
                    format!("key {arn} is enabled"),
                    Some(before),
                ));
            }
            "Disabled" => {}
            other => {
                return Err(StepResult::failed(
                    format!("key {arn} is {other}: only a disabled key can be enabled"),
                    None,
                ));
            }
        }
        let kms = self.kms();
        let result = kms.enable_key().key_id(&arn).send().await;
        self.record("kms:EnableKey", result)
            .map_err(call_failed("cannot enable the key"))?;
        Ok(StepResult::changed(
            format!("key {arn} is enabled"),
            Some(before),
            json!({"key_arn": arn, "state": "Enabled"}),
        ))
    }

    async fn enable_rotation(&mut self, key: &KeyRef) -> Ran {
        let arn = self.resolve(key).await?;
        let kms = self.kms();
        let result = kms.enable_key_rotation().key_id(&arn).send().await;
        self.record("kms:EnableKeyRotation", result)
            .map_err(call_failed("cannot enable key rotation"))?;
        Ok(StepResult::changed(
            format!("automatic rotation of {arn} is on"),
            None,
            json!({"key_arn": arn, "rotation_enabled": true}),
        ))
    }

    async fn put_key_policy(
        &mut self,
        key: &KeyRef,
        desired: &[Value],
        sources: &[statements::MacieSource],
    ) -> Ran {
        let arn = self.resolve(key).await?;
        let kms = self.kms();
        let result = kms
            .get_key_policy()
            .key_id(&arn)
            .policy_name("default")
            .send()
            .await;
        let text = self
            .record("kms:GetKeyPolicy", result)
            .map_err(call_failed("cannot read the key policy"))?
            .policy()
            .unwrap_or_default()
            .to_owned();
        let policy = PolicyStep {
            policy: "the key policy",
            satisfied: "already lets Macie use the key",
            desired,
            arn: &arn,
        };
        let (current, after) = policy.merged(Some(&text), |policy| {
            policy.map_or_else(Vec::new, |p| key_gaps(p, &arn, sources))
        })?;
        let result = kms
            .put_key_policy()
            .key_id(&arn)
            .policy_name("default")
            .policy(statements::to_text(&after))
            .send()
            .await;
        self.record("kms:PutKeyPolicy", result)
            .map_err(call_failed("cannot write the key policy"))?;
        Ok(StepResult::changed("key policy updated", current, after))
    }

    async fn create_bucket(&mut self, bucket: &str) -> Ran {
        let region = self.region().to_owned();
        let s3 = self.s3();
        let result = s3.get_bucket_location().bucket(bucket).send().await;
        match self.record("s3:GetBucketLocation", result) {
            Ok(output) => {
                let location = bucket_region(output.location_constraint().map(|c| c.as_str()));
                return if location == region {
                    Ok(StepResult::unchanged(
                        format!("bucket {bucket} already exists in {region}"),
                        Some(json!({"bucket": bucket, "region": region})),
                    ))
                } else {
                    Err(StepResult::failed(
                        format!(
                            "bucket {bucket} already exists, in {location} instead of {region}"
                        ),
                        None,
                    ))
                };
            }
            Err(error) if error.kind == ErrorKind::NotFound => {}
            Err(error) if error.kind == ErrorKind::AccessDenied => {
                return Err(StepResult::failed(
                    format!(
                        "bucket name {bucket} is taken by another account (GetBucketLocation was denied): choose another \
                         remediation.bucket_name_template"
                    ),
                    Some(error),
                ));
            }
            Err(error) => return Err(StepResult::call_failed("cannot look up the bucket", error)),
        }
        let mut request = s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            request = request.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        let result = request.send().await;
        self.record("s3:CreateBucket", result)
            .map_err(call_failed("cannot create the bucket"))?;
        Ok(StepResult::changed(
            format!("created bucket {bucket} in {region}"),
            None,
            json!({"bucket": bucket, "region": region}),
        ))
    }

    async fn put_public_access_block(&mut self, bucket: &str, before: Option<Value>) -> Ran {
        let configuration = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        let s3 = self.s3();
        let result = s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(configuration)
            .send()
            .await;
        self.record("s3:PutPublicAccessBlock", result)
            .map_err(call_failed("cannot set Block Public Access"))?;
        Ok(StepResult::changed(
            "all four Block Public Access settings are on",
            before,
            json!(crate::evidence::PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            }),
        ))
    }

    async fn put_encryption(&mut self, bucket: &str, key: &KeyRef, before: Option<Value>) -> Ran {
        let arn = self.resolve(key).await?;
        let unbuilt = |error: aws_smithy_types::error::operation::BuildError| {
            StepResult::failed(error.to_string(), None)
        };
        let by_default = aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .kms_master_key_id(&arn)
            .build()
            .map_err(unbuilt)?;
        let configuration = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
            .rules(
                aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build()
            .map_err(unbuilt)?;
        let s3 = self.s3();
        let result = s3
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(configuration)
            .send()
            .await;
        self.record("s3:PutBucketEncryption", result)
            .map_err(call_failed("cannot set default encryption"))?;
        Ok(StepResult::changed(
            format!("default encryption: SSE-KMS with {arn}"),
            before,
            encryption_configuration(&arn),
        ))
    }

    async fn put_versioning(&mut self, bucket: &str, before: Option<String>) -> Ran {
        let s3 = self.s3();
        let result = s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await;
        self.record("s3:PutBucketVersioning", result)
            .map_err(call_failed("cannot turn on versioning"))?;
        Ok(StepResult::changed(
            "versioning is on",
            before.map(|status| json!({"status": status})),
            json!({"status": "Enabled"}),
        ))
    }

    async fn put_bucket_policy(
        &mut self,
        bucket: &str,
        key: &KeyRef,
        prefix: &str,
        desired: &[Value],
        sources: &[statements::MacieSource],
    ) -> Ran {
        let arn = self.resolve(key).await?;
        let s3 = self.s3();
        let result = s3.get_bucket_policy().bucket(bucket).send().await;
        let text = match self.record("s3:GetBucketPolicy", result) {
            Ok(output) => Some(output.policy().unwrap_or_default().to_owned()),
            Err(error) if is_code(&error, &["NoSuchBucketPolicy"]) => None,
            Err(error) => {
                return Err(StepResult::call_failed(
                    "cannot read the bucket policy",
                    error,
                ));
            }
        };
        let policy = PolicyStep {
            policy: "the bucket policy",
            satisfied: "already denies non-TLS requests and lets Macie write",
            desired,
            arn: &arn,
        };
        let (current, after) = policy.merged(text.as_deref(), |policy| {
            bucket_gaps(policy, bucket, prefix, &arn, sources)
        })?;
        let result = s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(statements::to_text(&after))
            .send()
            .await;
        self.record("s3:PutBucketPolicy", result)
            .map_err(call_failed("cannot write the bucket policy"))?;
        Ok(StepResult::changed("bucket policy updated", current, after))
    }

    async fn put_export(
        &mut self,
        destination: &Destination,
        planned: Option<&S3Destination>,
    ) -> Ran {
        let arn = self.resolve(&destination.key).await?;
        let macie = self.clients.macie.clone();
        let result = macie.get_classification_export_configuration().send().await;
        let current = self
            .record("macie2:GetClassificationExportConfiguration", result)
            .map_err(call_failed("cannot read the export configuration"))?
            .configuration()
            .and_then(|c| c.s3_destination())
            .map(|d| S3Destination {
                bucket_name: d.bucket_name().map(str::to_owned),
                key_prefix: d.key_prefix().map(str::to_owned),
                kms_key_arn: d.kms_key_arn().map(str::to_owned),
                expected_bucket_owner: d.expected_bucket_owner().map(str::to_owned),
            });
        let target = S3Destination {
            bucket_name: Some(destination.bucket.clone()),
            key_prefix: Some(destination.key_prefix.clone()),
            kms_key_arn: Some(arn.clone()),
            expected_bucket_owner: Some(destination.expected_bucket_owner.clone()),
        };
        let before = current.as_ref().map(|c| json!(c));
        let same = |c: &S3Destination| {
            c.bucket_name == target.bucket_name
                && c.kms_key_arn == target.kms_key_arn
                && c.key_prefix.as_deref().unwrap_or_default() == destination.key_prefix
        };
        if current.as_ref().is_some_and(same) {
            return Ok(StepResult::unchanged(
                "the export configuration already points there",
                before,
            ));
        }
        let named = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
        let elsewhere = current.as_ref().is_some_and(|c| {
            (named(&c.bucket_name) && c.bucket_name != target.bucket_name)
                || (named(&c.kms_key_arn) && c.kms_key_arn != target.kms_key_arn)
        });
        if current.as_ref() != planned {
            return Err(StepResult::failed(
                format!(
                    "the export configuration changed since the plan was made (now {}): re-run to plan again",
                    current
                        .as_ref()
                        .map_or_else(|| "none".to_owned(), |c| json!(c).to_string())
                ),
                None,
            ));
        }
        if elsewhere && !self.force {
            return Err(StepResult::failed(
                "the export configuration names another repository: --force repoints it",
                None,
            ));
        }
        let s3_destination = aws_sdk_macie2::types::S3Destination::builder()
            .bucket_name(&destination.bucket)
            .key_prefix(&destination.key_prefix)
            .kms_key_arn(&arn)
            .expected_bucket_owner(&destination.expected_bucket_owner)
            .build();
        let result = macie
            .put_classification_export_configuration()
            .configuration(
                aws_sdk_macie2::types::ClassificationExportConfiguration::builder()
                    .s3_destination(s3_destination)
                    .build(),
            )
            .send()
            .await;
        self.record("macie2:PutClassificationExportConfiguration", result)
            .map_err(call_failed("cannot write the export configuration"))?;
        Ok(StepResult::changed(
            format!(
                "Macie exports to s3://{}/{} encrypted with {arn}",
                destination.bucket, destination.key_prefix
            ),
            before,
            json!(target),
        ))
    }
}

/// A step's result: `Err` is the result of a step that ended before its write (it failed, or
/// found nothing to change), so that `?` ends the step there.
type Ran = Result<StepResult, StepResult>;

/// The failed step a failed call makes, `what` saying what the step could not do.
fn call_failed(what: &str) -> impl FnOnce(ApiError) -> StepResult + '_ {
    move |error| StepResult::call_failed(what, error)
}

/// What a key- or bucket-policy step merges into the policy it reads.
struct PolicyStep<'a> {
    /// The policy, in messages ("the key policy").
    policy: &'a str,
    /// What a policy that needs nothing already does, in messages.
    satisfied: &'a str,
    /// The planned statements, naming the key by [`KEY_ARN_PLACEHOLDER`].
    desired: &'a [Value],
    /// The key's ARN now.
    arn: &'a str,
}

impl PolicyStep<'_> {
    /// The policy as read (`text`; `None`: there is none) and the merged policy to write; or the
    /// step's result when there is nothing to write (no gap `gaps` finds) or a merge cannot fix it.
    // The `Err` is the step's result, returned once per step as its async callers return theirs.
    #[allow(clippy::result_large_err)]
    fn merged(
        &self,
        text: Option<&str>,
        gaps: impl Fn(Option<&Policy>) -> Vec<Gap>,
    ) -> Result<(Option<Value>, Value), StepResult> {
        let policy = self.policy;
        let parsed = text.map(statements::parse).transpose().map_err(|error| {
            StepResult::failed(format!("{policy} cannot be read: {error}"), None)
        })?;
        let desired: Vec<Value> = self
            .desired
            .iter()
            .map(|s| statements::substitute(s, KEY_ARN_PLACEHOLDER, self.arn))
            .collect();
        let decided = decide_policy(parsed.as_ref(), &desired, gaps);
        let current = parsed.map(|(value, _)| value);
        match decided {
            Ok(Some(after)) => Ok((current, after)),
            Ok(None) => Err(StepResult::unchanged(
                format!("{policy} {}", self.satisfied),
                current,
            )),
            Err(reason) => Err(StepResult::failed(
                format!("{policy} cannot be fixed by adding statements: {reason}"),
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::config::retry::RetryConfig;
    use aws_sdk_kms::operation::enable_key_rotation::EnableKeyRotationOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use crate::collect::mocked::{answer, internal_error};

    const ACCOUNT: &str = "111111111111";
    const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k";

    fn step(number: usize, action: Action) -> Step {
        Step {
            number,
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            action,
            summary: String::new(),
            commands: Vec::new(),
            diff: Vec::new(),
            serves: Vec::new(),
        }
    }

    fn key() -> KeyRef {
        KeyRef::Arn { arn: KEY.into() }
    }

    /// Rotation, the key policy, then a bucket, in one account.
    fn group() -> StepGroup {
        StepGroup {
            account_id: ACCOUNT.into(),
            kind: GroupKind::Account,
            steps: vec![
                step(1, Action::EnableKeyRotation { key: key() }),
                step(
                    2,
                    Action::PutKeyPolicy {
                        key: key(),
                        statements: Vec::new(),
                        sources: Vec::new(),
                        before: None,
                        after: None,
                    },
                ),
                step(
                    3,
                    Action::CreateBucket {
                        bucket: "macie-results".into(),
                    },
                ),
            ],
        }
    }

    /// Runs `group()` with KMS answering as `kms_rules` say; S3 and Macie must not be called.
    async fn applied(kms_rules: &[&Rule]) -> Vec<StepRecord> {
        let s3_rule = mock!(aws_sdk_s3::Client::get_bucket_location)
            .then_http_response(|| answer(500, "req-s3", "{}"));
        let macie_rule = mock!(aws_sdk_macie2::Client::get_classification_export_configuration)
            .then_http_response(|| answer(500, "req-macie", "{}"));
        let clients = |_: &Step| StepClients {
            kms: mock_client!(aws_sdk_kms, RuleMode::MatchAny, kms_rules, |config| config
                .retry_config(RetryConfig::disabled())),
            s3: mock_client!(aws_sdk_s3, [&s3_rule]),
            macie: mock_client!(aws_sdk_macie2, [&macie_rule]),
        };
        let cancellation = Cancellation::new();
        let steps = Steps {
            role_arn: None,
            force: false,
            cancellation: &cancellation,
        };
        let records = steps.run(&group(), None, Some(clients)).await;
        assert_eq!(s3_rule.num_calls() + macie_rule.num_calls(), 0);
        records
    }

    /// The key policy step's GetKeyPolicy answers `answer`: the step fails with the call's
    /// error and request id, and the account's later steps are not attempted.
    async fn failed_key_policy_step(answer: fn() -> HttpResponse) -> StepRecord {
        let rotation = mock!(aws_sdk_kms::Client::enable_key_rotation)
            .then_output(|| EnableKeyRotationOutput::builder().build());
        let read = mock!(aws_sdk_kms::Client::get_key_policy).then_http_response(answer);
        let records = applied(&[&rotation, &read]).await;
        assert_eq!(read.num_calls(), 1);
        let statuses: Vec<StepStatus> = records.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                StepStatus::Changed,
                StepStatus::Failed,
                StepStatus::NotAttempted
            ]
        );
        assert_eq!(
            records[2].message,
            "not attempted: step 2 (kms:PutKeyPolicy) failed in this account"
        );
        let failed = records[1].clone();
        assert!(
            failed.message.starts_with("cannot read the key policy: "),
            "{}",
            failed.message
        );
        assert_eq!(failed.calls.len(), 1);
        assert_eq!(failed.calls[0].operation, "kms:GetKeyPolicy");
        assert_eq!(failed.calls[0].error, failed.error);
        failed
    }

    #[tokio::test]
    async fn a_500_mid_account_fails_its_step_and_stops_the_account() {
        let failed = failed_key_policy_step(|| internal_error("req-500")).await;
        let error = failed.error.expect("the call's error");
        assert_eq!(error.kind, ErrorKind::ServiceUnavailable, "{error:?}");
        assert_eq!(error.http_status, Some(500));
        assert_eq!(failed.calls[0].request_id.as_deref(), Some("req-500"));
    }

    #[tokio::test]
    async fn an_answer_that_cannot_be_read_fails_its_step_and_stops_the_account() {
        let failed = failed_key_policy_step(|| answer(200, "req-garbled", "{\"Policy\": ")).await;
        let error = failed.error.expect("the call's error");
        assert_eq!(error.kind, ErrorKind::Other, "{error:?}");
        assert_eq!(error.http_status, Some(200));
        assert_eq!(failed.calls[0].request_id.as_deref(), Some("req-garbled"));
    }

    #[test]
    fn the_remediation_role_grants_every_call() {
        for (operation, action) in APPLY_CALLS {
            assert!(
                crate::permissions::REMEDIATION_ACTIONS.contains(action),
                "{operation} needs {action}, which the remediation role lacks"
            );
        }
    }

    #[test]
    fn every_apply_call_is_listed() {
        let source = include_str!("apply.rs");
        let listed: Vec<&str> = APPLY_CALLS
            .iter()
            .map(|(operation, _)| *operation)
            .collect();
        let mut rest = source;
        // rustfmt may put `.record(` on the line after `self`.
        while let Some(index) = rest.find(".record(\"") {
            rest = &rest[index + ".record(\"".len()..];
            let label = &rest[..rest.find('"').unwrap_or(0)];
            assert!(listed.contains(&label), "{label} is not in APPLY_CALLS");
        }
    }
}
