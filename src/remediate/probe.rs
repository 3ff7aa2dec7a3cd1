//! The few reads a plan needs beyond the scan's evidence, made with the read-only audit role
//! (the same calls, and so the same permissions, as a scan): whether the key alias of
//! `--strategy own` already names a key, and the central bucket and key when no scanned
//! configuration names them yet.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use futures::StreamExt;

use super::plan::{Probes, REMEDIATED_RULES};
use crate::aws::AwsEnvironment;
use crate::aws::observe::observation_or_absent;
use crate::cli::Strategy;
use crate::collect::repository;
use crate::config::RemediationConfig;
use crate::evidence::{KeyMetadata, Observation, RunEvidence};
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
        // The scan reads every repository a configuration names, with its owner's audit role.
        Strategy::Repair => {}
        Strategy::Central => {
            let (Some(bucket), Some(key_arn)) = (
                settings.central_bucket.as_deref(),
                settings.central_key_arn.as_deref(),
            ) else {
                return probes;
            };
            let key_owner = repository::parse_key_arn(key_arn)
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
                probes.central_bucket =
                    Some(repository::read_bucket(env, bucket.to_owned(), &owner, &conf).await);
            }
            let readable_key = run.key(key_arn).is_some_and(|k| k.unverifiable.is_none());
            if !readable_key {
                let conf = env
                    .account_config(&env.credentials_for(&key_owner, &caller))
                    .await;
                probes.central_key =
                    Some(repository::read_key(env, key_arn.to_owned(), &conf).await);
            }
        }
    }
    probes
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
        |output| repository::key_metadata(&output),
    )
}
