//! `--strategy repair`: the repository each failing account-Region already exports to, repaired
//! in place with its owners' credentials; export configurations are left as they are.
//!
//! Account-Regions exporting to the same bucket, key and prefix share one repository, repaired
//! once for all of them. Its policies gain statements of ours (`MacieAudit…` Sids, the same
//! builders as `--strategy central`), never losing one of theirs; what a merge cannot fix (an
//! explicit or uncertain deny, a key that cannot hold Macie's results, a repository outside the
//! organization) is blocked with the reason and what a person must do.

use std::collections::BTreeMap;

use serde_json::Value;

use super::plan::{
    Action, Decision, Destination, Draft, GroupKind, KeyRef, PlanInput, PolicyBefore, Target,
    decide_policy, key_evidence, key_region_of, non_empty,
};
use super::statements::{
    self, Gap, MacieSource, bucket_gaps, central_key_statement, key_gaps, repair_bucket_statements,
    sources_missing,
};
use crate::collect::repository::parse_key_arn;
use crate::evidence::{
    BucketEvidence, BucketOwner, KeyMetadata, Observation, Outcome, PublicAccessBlock, RunEvidence,
};
use crate::policy::Policy;
use crate::regions;

/// A repository as export configurations name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RepositoryName {
    bucket: String,
    key_arn: String,
    prefix: String,
}

/// `--strategy repair`: every target's repository, repaired once for all the targets using it.
pub(super) fn plan_repair(
    input: &PlanInput<'_>,
    targets: &mut [Target],
    drafts: &mut Vec<(GroupKind, Draft)>,
) {
    let mut repositories: BTreeMap<RepositoryName, Vec<usize>> = BTreeMap::new();
    for (index, target) in targets.iter_mut().enumerate() {
        if !target.remediated() {
            continue;
        }
        let named = target.current.as_ref().and_then(|current| {
            Some(RepositoryName {
                bucket: non_empty(current.bucket_name.as_deref())?.to_owned(),
                key_arn: non_empty(current.kms_key_arn.as_deref())?.to_owned(),
                prefix: current.key_prefix.clone().unwrap_or_default(),
            })
        });
        match named {
            Some(name) => repositories.entry(name).or_default().push(index),
            None => {
                target.decision = Decision::Blocked {
                    reason: "its export configuration names no repository to repair: --strategy own creates \
                             one, --strategy central points it at the organization's"
                        .into(),
                };
            }
        }
    }
    // Two repositories in one bucket: each one's encryption deny would refuse the other's
    // uploads, and a person must say which prefix and key the bucket is for.
    let mut by_bucket: BTreeMap<&str, Vec<&RepositoryName>> = BTreeMap::new();
    for name in repositories.keys() {
        by_bucket.entry(&name.bucket).or_default().push(name);
    }
    for (name, indices) in &repositories {
        let sharing = &by_bucket[name.bucket.as_str()];
        if sharing.len() > 1 {
            let uses: Vec<String> = sharing
                .iter()
                .map(|n| format!("\"{}\" with key {}", n.prefix, n.key_arn))
                .collect();
            let reason = format!(
                "bucket {} receives results under several prefixes or keys ({}): repair cannot tell which the \
                 bucket policy should require; point these account-Regions at one prefix and key, then re-run",
                name.bucket,
                uses.join(", ")
            );
            block(targets, indices, &reason);
            continue;
        }
        repair_repository(input, name, indices, targets, drafts);
    }
}

fn block(targets: &mut [Target], indices: &[usize], reason: &str) {
    for &index in indices {
        if targets[index].remediated() {
            targets[index].decision = Decision::Blocked {
                reason: reason.to_owned(),
            };
        }
    }
}

/// Whether an account is one of the organization's, as the scan listed it.
fn in_organization(run: &RunEvidence, account: &str) -> bool {
    run.header
        .accounts
        .iter()
        .chain(&run.header.excluded_accounts)
        .any(|a| a.id == account)
        || run.accounts.iter().any(|a| a.account.id == account)
}

/// What the plan knows of a repository's bucket and key, or why it cannot repair it.
struct Known<'a> {
    bucket: &'a BucketEvidence,
    bucket_owner: String,
    bucket_region: String,
    metadata: &'a KeyMetadata,
    key_owner: String,
    key_policy: Option<(Value, Policy)>,
    rotation: Option<bool>,
    bucket_policy: Option<(Value, Policy)>,
}

fn known<'a>(input: &PlanInput<'a>, name: &RepositoryName) -> Result<Known<'a>, String> {
    let run = input.run;
    let bucket_name = name.bucket.as_str();
    let bucket = run
        .bucket(bucket_name)
        .ok_or_else(|| format!("bucket {bucket_name} was not read"))?;
    if bucket.missing() {
        return Err(format!(
            "bucket {bucket_name} does not exist, so there is nothing to repair: --strategy own --force creates a \
             repository"
        ));
    }
    let bucket_owner = match &bucket.owner {
        BucketOwner::Account { account_id } => account_id.clone(),
        BucketOwner::Unknown => {
            return Err(format!(
                "bucket {bucket_name} is not owned by an account of the organization the scan could read ({}): \
                 its owner must repair it",
                bucket
                    .unverifiable
                    .as_deref()
                    .unwrap_or("its owner is unknown")
            ));
        }
    };
    let key = key_evidence(run, &name.key_arn)
        .ok_or_else(|| format!("key {} was not read", name.key_arn))?;
    if key.missing() {
        return Err(format!(
            "key {} does not exist, so there is nothing to repair: --strategy own --force creates a repository",
            name.key_arn
        ));
    }
    let key_owner = parse_key_arn(&name.key_arn)
        .map(|(_, account)| account.to_owned())
        .ok_or_else(|| format!("{} is not a KMS key ARN", name.key_arn))?;
    for owner in [&bucket_owner, &key_owner] {
        if !in_organization(run, owner) {
            return Err(format!(
                "the repository s3://{bucket_name}/{} with key {} belongs to account {owner}, outside the \
                 organization: its owner must add Macie's statements (the findings show them)",
                name.prefix, name.key_arn
            ));
        }
    }
    if let Some(reason) = &key.unverifiable {
        return Err(format!("key {}: {reason}", name.key_arn));
    }
    if let Some(reason) = &bucket.unverifiable {
        return Err(format!("bucket {bucket_name}: {reason}"));
    }
    let metadata = match key.metadata.as_ref().map(|m| &m.outcome) {
        Some(Outcome::Response(metadata)) => metadata,
        Some(Outcome::Error(error)) => {
            return Err(format!("cannot describe key {}: {error}", name.key_arn));
        }
        None => return Err(format!("key {} was not described", name.key_arn)),
    };
    let bucket_region = match bucket.location.as_ref().map(|l| &l.outcome) {
        Some(Outcome::Response(region)) => region.clone(),
        Some(Outcome::Error(error)) => {
            return Err(format!("cannot locate bucket {bucket_name}: {error}"));
        }
        None => return Err(format!("bucket {bucket_name} was not located")),
    };
    let key_policy = match key.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(text)) => Some(
            statements::parse(text)
                .map_err(|e| format!("the policy of key {} cannot be read: {e}", name.key_arn))?,
        ),
        _ => None,
    };
    let bucket_policy = match bucket.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(Some(text))) => Some(
            statements::parse(text)
                .map_err(|e| format!("the policy of bucket {bucket_name} cannot be read: {e}"))?,
        ),
        Some(Outcome::Response(None)) => None,
        Some(Outcome::Error(error)) => {
            return Err(format!(
                "cannot read the policy of bucket {bucket_name}: {error}"
            ));
        }
        None => return Err(format!("the policy of bucket {bucket_name} was not read")),
    };
    Ok(Known {
        bucket,
        bucket_owner,
        bucket_region,
        metadata,
        key_owner,
        key_policy,
        rotation: key
            .rotation_enabled
            .as_ref()
            .and_then(Observation::response)
            .copied(),
        bucket_policy,
    })
}

/// Why a key can never hold Macie's results for a bucket in `bucket_region`, whatever its state.
fn key_unfit(metadata: &KeyMetadata, bucket_region: &str) -> Option<String> {
    let arn = &metadata.arn;
    if metadata.manager != "CUSTOMER" {
        return Some(format!(
            "key {arn} is AWS managed, and Macie needs a customer managed key whose policy lets it in: create \
             one (--strategy own does) and point the export configuration at it"
        ));
    }
    if metadata.spec != "SYMMETRIC_DEFAULT" || metadata.usage != "ENCRYPT_DECRYPT" {
        return Some(format!(
            "key {arn} is a {} key for {}, and Macie needs a symmetric encryption key: create one (--strategy own \
             does) and point the export configuration at it",
            metadata.spec, metadata.usage
        ));
    }
    let key_region = key_region_of(metadata);
    if key_region != bucket_region {
        return Some(format!(
            "key {arn} is in {key_region}, but the bucket is in {bucket_region} and Macie needs both in one Region: \
             point the export configuration at a key in {bucket_region}"
        ));
    }
    None
}

/// The sources `decide` cannot serve, each with why: decided source by source, so that one
/// account's deny leaves the others repaired.
fn unservable<T>(
    sources: &[MacieSource],
    decide: impl Fn(&[MacieSource]) -> Result<T, String>,
) -> Vec<(MacieSource, String)> {
    sources
        .iter()
        .filter_map(|source| {
            decide(std::slice::from_ref(source))
                .err()
                .map(|reason| (source.clone(), reason))
        })
        .collect()
}

fn repair_repository(
    input: &PlanInput<'_>,
    name: &RepositoryName,
    indices: &[usize],
    targets: &mut [Target],
    drafts: &mut Vec<(GroupKind, Draft)>,
) {
    let known = match known(input, name) {
        Ok(known) => known,
        Err(reason) => return block(targets, indices, &reason),
    };
    if let Some(reason) = key_unfit(known.metadata, &known.bucket_region) {
        return block(targets, indices, &reason);
    }
    let bucket = name.bucket.as_str();
    let prefix = name.prefix.as_str();
    let key_arn = name.key_arn.as_str();
    let arn = known.metadata.arn.as_str();
    let key_owner = known.key_owner.as_str();
    let bucket_owner = known.bucket_owner.as_str();
    let key_region = key_region_of(known.metadata);
    let bucket_region = known.bucket_region.as_str();
    let key = KeyRef::Arn {
        arn: arn.to_owned(),
    };

    let mut key_steps: Vec<(Action, String)> = Vec::new();
    match known.metadata.state.as_str() {
        "Enabled" => {}
        state @ ("PendingDeletion" | "Disabled") if !input.recover_keys => {
            let (what, commands) = if state == "PendingDeletion" {
                (
                    "is pending deletion: --recover-keys cancels its deletion and enables it",
                    format!(
                        "aws kms cancel-key-deletion --key-id {arn}; aws kms enable-key --key-id {arn}"
                    ),
                )
            } else {
                (
                    "is disabled: --recover-keys enables it",
                    format!("aws kms enable-key --key-id {arn}"),
                )
            };
            let reason = format!(
                "key {arn} {what} (or, in account {key_owner} in {key_region}: {commands})"
            );
            return block(targets, indices, &reason);
        }
        state @ ("PendingDeletion" | "Disabled") => {
            if state == "PendingDeletion" {
                key_steps.push((
                    Action::CancelKeyDeletion { key: key.clone() },
                    format!("cancel the scheduled deletion of key {arn} (--recover-keys)"),
                ));
            }
            key_steps.push((
                Action::EnableKey { key: key.clone() },
                format!("enable key {arn} (--recover-keys)"),
            ));
        }
        other => {
            let reason = format!(
                "key {arn} is {other}, which remediation cannot make usable: its owner {key_owner} must fix it in \
                 KMS, or point the export configuration at another key"
            );
            return block(targets, indices, &reason);
        }
    }

    for &index in indices {
        let target = &mut targets[index];
        if !regions::repository_region_allowed(&target.region, bucket_region) {
            target.decision = Decision::Blocked {
                reason: format!(
                    "bucket {bucket} is in {bucket_region}, which cannot receive results from Macie in {}: results \
                     from a default Region must go to a default Region, from an opt-in Region to that Region or a \
                     default one; point the export configuration at a repository in an allowed Region",
                    target.region
                ),
            };
        }
    }

    // The policies: which sources a merge can serve, then what it writes for them.
    let sources_of = |targets: &[Target]| -> Vec<MacieSource> {
        indices
            .iter()
            .map(|&i| &targets[i])
            .filter(|t| t.remediated())
            .map(|t| t.source_in(input.run))
            .collect()
    };
    let key_decide = |sources: &[MacieSource]| {
        let gaps = |policy: Option<&Policy>| {
            policy.map_or_else(Vec::new, |p| key_gaps(p, key_arn, sources))
        };
        let current = known.key_policy.as_ref();
        let missing = current.map_or_else(
            || sources.to_vec(),
            |(_, policy)| sources_missing(&gaps(Some(policy))),
        );
        let desired = if missing.is_empty() {
            Vec::new()
        } else {
            vec![central_key_statement(&missing)]
        };
        match current {
            Some(current) => decide_policy(Some(current), &desired, gaps).map(|a| (a, desired)),
            // Not read by the scan: merged when the step runs.
            None => Ok((None, desired)),
        }
    };
    let bucket_decide = |sources: &[MacieSource]| {
        let gaps = |policy: Option<&Policy>| bucket_gaps(policy, bucket, prefix, key_arn, sources);
        let current = known.bucket_policy.as_ref();
        let before = gaps(current.map(|(_, policy)| policy));
        let desired = repair_bucket_statements(
            bucket,
            prefix,
            key_arn,
            &sources_missing(&before),
            sources,
            before.contains(&Gap::TlsNotDenied),
        );
        decide_policy(current, &desired, gaps).map(|a| (a, desired))
    };
    let denied: Vec<(MacieSource, String)> = unservable(&sources_of(targets), key_decide)
        .into_iter()
        .map(|(s, why)| {
            let why = format!(
                "the policy of key {arn} cannot be fixed by adding statements: {why}; its owner {key_owner} must \
                 remove or narrow that statement"
            );
            (s, why)
        })
        .chain(
            unservable(&sources_of(targets), bucket_decide)
                .into_iter()
                .map(|(s, why)| {
                    let why = format!(
                        "the policy of bucket {bucket} cannot be fixed by adding statements: {why}; its owner \
                         {bucket_owner} must remove or narrow that statement"
                    );
                    (s, why)
                }),
        )
        .collect();
    for (source, reason) in denied {
        if let Some(&index) = indices
            .iter()
            .find(|&&i| targets[i].remediated() && targets[i].source() == source)
        {
            targets[index].decision = Decision::Blocked { reason };
        }
    }
    let served = sources_of(targets);
    if served.is_empty() {
        return;
    }
    let (Ok((key_after, key_statements)), Ok((bucket_after, bucket_statements))) =
        (key_decide(&served), bucket_decide(&served))
    else {
        // Every source each merge cannot serve was blocked above.
        return block(
            targets,
            indices,
            "the repository's policies cannot be fixed by adding statements",
        );
    };

    let mut steps: Vec<Draft> = Vec::new();
    let account_list = |sources: &[MacieSource]| {
        let mut accounts: Vec<&str> = sources.iter().map(|s| s.account_id.as_str()).collect();
        accounts.dedup();
        accounts.join(", ")
    };
    let key_step = |action: Action, summary: String| {
        Draft::new(key_owner, &key_region, action, summary, &served)
    };
    let bucket_step = |action: Action, summary: String| {
        Draft::new(bucket_owner, bucket_region, action, summary, &served)
    };
    for (action, summary) in key_steps {
        steps.push(key_step(action, summary));
    }
    let key_policy_summary = format!(
        "key policy of {arn}: let Macie use the key for account(s) {} (statement {}; existing statements kept)",
        account_list(&served),
        statements::CENTRAL_KEY_SID
    );
    match (&known.key_policy, key_after) {
        (Some(_), None) => {}
        (Some((before, _)), Some(after)) => steps.push(key_step(
            Action::PutKeyPolicy {
                key: key.clone(),
                statements: key_statements,
                sources: served.clone(),
                before: Some(before.clone()),
                after: Some(after),
            },
            key_policy_summary,
        )),
        (None, _) => steps.push(key_step(
            Action::PutKeyPolicy {
                key: key.clone(),
                statements: key_statements,
                sources: served.clone(),
                before: None,
                after: None,
            },
            format!("{key_policy_summary}, if it does not already (read and merged when applied)"),
        )),
    }
    if known.rotation != Some(true) {
        steps.push(key_step(
            Action::EnableKeyRotation { key: key.clone() },
            format!("turn on automatic rotation of {arn}"),
        ));
    }

    let bucket_level = known
        .bucket
        .public_access_block
        .as_ref()
        .and_then(Observation::response)
        .map(|block| block.unwrap_or_default());
    if bucket_level.is_none_or(|block| !block.missing().is_empty()) {
        let off = bucket_level.map_or_else(
            || "unknown".to_owned(),
            |block: PublicAccessBlock| block.missing().join(", "),
        );
        steps.push(bucket_step(
            Action::PutPublicAccessBlock {
                bucket: bucket.to_owned(),
                before: bucket_level,
            },
            format!("turn on all four Block Public Access settings of {bucket} (off: {off})"),
        ));
    }
    if let Some(after) = bucket_after {
        steps.push(bucket_step(
            Action::PutBucketPolicy {
                bucket: bucket.to_owned(),
                key: KeyRef::Arn {
                    arn: key_arn.to_owned(),
                },
                key_prefix: prefix.to_owned(),
                statements: bucket_statements,
                sources: served.clone(),
                deny_insecure: true,
                before: PolicyBefore::from(known.bucket_policy.as_ref().map(|(v, _)| v.clone())),
                after: Some(after),
            },
            format!(
                "bucket policy of {bucket}: deny requests without TLS, deny {} uploads under \"{prefix}\" not encrypted \
                 with {key_arn}, let Macie write there and locate the bucket for account(s) {} (statements \
                 MacieAudit…; existing statements kept)",
                statements::principals(&served).join(", "),
                account_list(&served)
            ),
        ));
    }
    let encryption = known
        .bucket
        .encryption
        .as_ref()
        .and_then(Observation::response);
    let encrypted_with_key = encryption.and_then(Option::as_ref).is_some_and(|e| {
        e.algorithm == "aws:kms"
            && e.kms_key_id
                .as_deref()
                .is_some_and(|id| id == key_arn || id == arn || arn.ends_with(&format!("/{id}")))
    });
    if !encrypted_with_key {
        steps.push(bucket_step(
            Action::PutBucketEncryption {
                bucket: bucket.to_owned(),
                key: key.clone(),
                before: encryption.map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
            },
            format!("default encryption of {bucket}: SSE-KMS with {arn}, S3 Bucket Key on"),
        ));
    }
    let versioning = known
        .bucket
        .versioning
        .as_ref()
        .and_then(Observation::response);
    let locked = known
        .bucket
        .object_lock
        .as_ref()
        .and_then(Observation::response)
        .copied()
        == Some(true);
    if versioning.and_then(Option::as_deref) != Some("Enabled") && !locked {
        steps.push(bucket_step(
            Action::PutBucketVersioning {
                bucket: bucket.to_owned(),
                before: versioning.and_then(Option::clone),
            },
            format!("turn on versioning of {bucket}"),
        ));
    }

    // What stays as it is: another statement's unconditioned allow, which only its owner can narrow.
    let final_key_policy = steps
        .iter()
        .find_map(|d| match &d.action {
            Action::PutKeyPolicy { after, .. } => after.clone(),
            _ => None,
        })
        .or_else(|| known.key_policy.as_ref().map(|(v, _)| v.clone()));
    let unconditioned: Vec<Gap> = final_key_policy
        .and_then(|v| statements::parse(&statements::to_text(&v)).ok())
        .map(|(_, policy)| key_gaps(&policy, key_arn, &served))
        .unwrap_or_default()
        .into_iter()
        .filter(|g| matches!(g, Gap::Unconditioned { .. }))
        .collect();
    let destination = Destination {
        bucket: bucket.to_owned(),
        key_prefix: prefix.to_owned(),
        key: KeyRef::Arn {
            arn: key_arn.to_owned(),
        },
        expected_bucket_owner: bucket_owner.to_owned(),
    };
    for &index in indices {
        let target = &mut targets[index];
        if !target.remediated() {
            continue;
        }
        if steps.is_empty() {
            target.decision = Decision::Blocked {
                reason:
                    "remediation finds nothing to change; the findings say what a person must fix"
                        .into(),
            };
            continue;
        }
        let source = target.source();
        for gap in unconditioned.iter().filter(|g| g.source() == Some(&source)) {
            target.notes.push(format!(
                "MACIE-003 stays WARN: in the policy of {arn}, {gap}"
            ));
        }
        target.destination = Some(destination.clone());
    }
    drafts.extend(steps.into_iter().map(|s| (GroupKind::Account, s)));
}
