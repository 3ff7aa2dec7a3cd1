//! The few reads a plan needs beyond the scan's evidence, made with the read-only audit role
//! (the same calls, and so the same permissions, as a scan): whether the key alias of
//! `--strategy own` already names a key, and the central bucket and key when no scanned
//! configuration names them yet.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use futures::StreamExt;

use super::plan::{Probes, REMEDIATED_RULES};
use crate::aws::AwsEnvironment;
use crate::aws::observe::{observation, observation_or_absent};
use crate::cli::Strategy;
use crate::collect::repository::{bucket_region, parse_key_arn};
use crate::config::RemediationConfig;
use crate::evidence::{
    BucketEvidence, BucketOwner, KeyEvidence, KeyMetadata, Observation, PublicAccessBlock,
    RunEvidence,
};
use crate::findings::{Finding, Status};

/// Reads what the plan needs and the scan did not read.
pub async fn probe(
    env: &AwsEnvironment,
    run: &RunEvidence,
    findings: &[Finding],
    settings: &RemediationConfig,
    strategy: Strategy,
    concurrency: usize,
) -> Probes {
    let caller = run
        .header
        .caller
        .response()
        .map(|c| c.account.clone())
        .unwrap_or_default();
    let mut probes = Probes::default();
    match strategy {
        Strategy::Own => {
            let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for finding in findings {
                if REMEDIATED_RULES.contains(&finding.rule_id.as_str())
                    && matches!(finding.status, Status::Fail | Status::Warn)
                {
                    wanted
                        .entry(finding.account_id.as_str())
                        .or_default()
                        .insert(finding.region.as_str());
                }
            }
            let alias = settings.key_alias.as_str();
            let caller = caller.as_str();
            let found = futures::stream::iter(wanted)
                .map(|(account, regions)| async move {
                    let credentials = env.credentials_for(account, caller);
                    let conf = env.account_config(&credentials).await;
                    let mut found = Vec::new();
                    for region in regions {
                        found.push((
                            (account.to_owned(), region.to_owned()),
                            describe_alias(env, &conf, account, region, alias).await,
                        ));
                    }
                    found
                })
                .buffer_unordered(concurrency.max(1))
                .collect::<Vec<_>>()
                .await;
            probes.alias_keys = found.into_iter().flatten().collect();
        }
        Strategy::Central => {
            let (Some(bucket), Some(key_arn)) = (
                settings.central_bucket.as_deref(),
                settings.central_key_arn.as_deref(),
            ) else {
                return probes;
            };
            let key_owner = parse_key_arn(key_arn)
                .map(|(_, account)| account.to_owned())
                .unwrap_or_default();
            let readable_bucket = run.bucket(bucket).is_some_and(|b| b.unverifiable.is_none());
            if !readable_bucket {
                let owner = settings
                    .central_bucket_owner
                    .clone()
                    .unwrap_or_else(|| key_owner.clone());
                let conf = env
                    .account_config(&env.credentials_for(&owner, &caller))
                    .await;
                probes.central_bucket = Some(read_bucket(env, &conf, bucket, &owner).await);
            }
            let readable_key = run.key(key_arn).is_some_and(|k| k.unverifiable.is_none());
            if !readable_key {
                let conf = env
                    .account_config(&env.credentials_for(&key_owner, &caller))
                    .await;
                probes.central_key = Some(read_key(env, &conf, key_arn).await);
            }
        }
    }
    probes
}

fn metadata(output: &aws_sdk_kms::operation::describe_key::DescribeKeyOutput) -> KeyMetadata {
    let m = output.key_metadata();
    KeyMetadata {
        arn: m.and_then(|m| m.arn()).unwrap_or_default().to_owned(),
        state: m
            .and_then(|m| m.key_state())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        manager: m
            .and_then(|m| m.key_manager())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        spec: m
            .and_then(|m| m.key_spec())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        usage: m
            .and_then(|m| m.key_usage())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        multi_region: m.and_then(|m| m.multi_region()).unwrap_or(false),
    }
}

/// DescribeKey of an alias: the key it names, or `None` when the alias does not exist.
async fn describe_alias(
    env: &AwsEnvironment,
    conf: &SdkConfig,
    account: &str,
    region: &str,
    alias: &str,
) -> Observation<Option<KeyMetadata>> {
    let kms = env.kms(conf, account, region);
    let result = env.limited(kms.describe_key().key_id(alias).send()).await;
    observation_or_absent(
        "kms:DescribeKey",
        result,
        &["NotFoundException"],
        |output| metadata(&output),
    )
}

fn public_access(
    configuration: Option<&aws_sdk_s3::types::PublicAccessBlockConfiguration>,
) -> PublicAccessBlock {
    let c = configuration;
    PublicAccessBlock {
        block_public_acls: c.and_then(|c| c.block_public_acls()).unwrap_or(false),
        ignore_public_acls: c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
        block_public_policy: c.and_then(|c| c.block_public_policy()).unwrap_or(false),
        restrict_public_buckets: c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
    }
}

/// The central bucket's location, policy, policy status and Block Public Access settings, with
/// its owner's credentials.
async fn read_bucket(
    env: &AwsEnvironment,
    conf: &SdkConfig,
    name: &str,
    owner: &str,
) -> BucketEvidence {
    let mut evidence = BucketEvidence {
        name: name.to_owned(),
        owner: BucketOwner::Account {
            account_id: owner.to_owned(),
        },
        unverifiable: None,
        probe: None,
        location: None,
        public_access_block: None,
        account_public_access_block: None,
        policy_status: None,
        policy: None,
        encryption: None,
        versioning: None,
        object_lock: None,
    };
    let home = env.s3(conf, owner, env.home_region());
    let result = env
        .limited(home.get_bucket_location().bucket(name).send())
        .await;
    let location = observation("s3:GetBucketLocation", result, |output| {
        bucket_region(output.location_constraint().map(|c| c.as_str()))
    });
    let Some(region) = location.response().cloned() else {
        if location.error().is_some() {
            evidence.owner = BucketOwner::Unknown;
            evidence.unverifiable = location.error().map(|error| {
                format!(
                    "the central bucket {name} cannot be read with the credentials of account {owner} \
                     (remediation.central_bucket_owner): {error}"
                )
            });
        }
        evidence.location = Some(location);
        return evidence;
    };
    evidence.location = Some(location);
    let s3 = env.s3(conf, owner, &region);
    let (block, status, policy) = tokio::join!(
        env.limited(s3.get_public_access_block().bucket(name).send()),
        env.limited(s3.get_bucket_policy_status().bucket(name).send()),
        env.limited(s3.get_bucket_policy().bucket(name).send()),
    );
    let block = observation_or_absent(
        "s3:GetPublicAccessBlock",
        block,
        &["NoSuchPublicAccessBlockConfiguration"],
        |output| public_access(output.public_access_block_configuration()),
    );
    if block
        .response()
        .is_none_or(|b| b.is_none_or(|b| !b.missing().is_empty()))
    {
        let control = env.s3control(conf, owner);
        let result = env
            .limited(control.get_public_access_block().account_id(owner).send())
            .await;
        evidence.account_public_access_block = Some(observation_or_absent(
            "s3control:GetPublicAccessBlock",
            result,
            &["NoSuchPublicAccessBlockConfiguration"],
            |output| {
                let c = output.public_access_block_configuration();
                PublicAccessBlock {
                    block_public_acls: c.and_then(|c| c.block_public_acls()).unwrap_or(false),
                    ignore_public_acls: c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                    block_public_policy: c.and_then(|c| c.block_public_policy()).unwrap_or(false),
                    restrict_public_buckets: c
                        .and_then(|c| c.restrict_public_buckets())
                        .unwrap_or(false),
                }
            },
        ));
    }
    evidence.public_access_block = Some(block);
    evidence.policy_status = Some(
        observation_or_absent(
            "s3:GetBucketPolicyStatus",
            status,
            &["NoSuchBucketPolicy"],
            |output| {
                output
                    .policy_status()
                    .and_then(|s| s.is_public())
                    .unwrap_or(false)
            },
        )
        .map_response(|public| public.unwrap_or(false)),
    );
    evidence.policy = Some(observation_or_absent(
        "s3:GetBucketPolicy",
        policy,
        &["NoSuchBucketPolicy"],
        |output| output.policy().unwrap_or_default().to_owned(),
    ));
    evidence
}

/// The central key's metadata and policy, with its owner's credentials.
async fn read_key(env: &AwsEnvironment, conf: &SdkConfig, arn: &str) -> KeyEvidence {
    let (region, owner) = parse_key_arn(arn)
        .map(|(r, a)| (r.to_owned(), a.to_owned()))
        .unwrap_or_default();
    let kms = env.kms(conf, &owner, &region);
    let result = env.limited(kms.describe_key().key_id(arn).send()).await;
    let described = observation("kms:DescribeKey", result, |output| metadata(&output));
    let policy = match described.response() {
        Some(_) => {
            let result = env
                .limited(
                    kms.get_key_policy()
                        .key_id(arn)
                        .policy_name("default")
                        .send(),
                )
                .await;
            Some(observation("kms:GetKeyPolicy", result, |output| {
                output.policy().unwrap_or_default().to_owned()
            }))
        }
        None => None,
    };
    KeyEvidence {
        arn: arn.to_owned(),
        owner_account: owner,
        region,
        unverifiable: None,
        metadata: Some(described),
        policy,
        rotation_enabled: None,
    }
}
