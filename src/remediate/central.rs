//! `--strategy central`: every account-Region points at the organization's existing bucket and
//! key, whose policies gain the accounts that lack access (merged, never dropping a statement).

use std::collections::BTreeSet;

use serde_json::Value;

use super::plan::{
    Action, Decision, Destination, Draft, GroupKind, KeyRef, PlanInput, PolicyBefore, Target,
    bucket_public_access, describe, export_draft, key_evidence, key_unusable, non_empty,
};
use super::statements::{self, Gap, MacieSource, bucket_gaps, key_gaps, merge};
use crate::collect::repository::parse_key_arn;
use crate::evidence::{BucketOwner, Observation, Outcome, PublicAccessBlock};
use crate::regions;

/// What the plan knows of the central repository.
struct Central<'a> {
    bucket: &'a str,
    key_arn: &'a str,
    prefix: &'a str,
    bucket_owner: String,
    key_owner: String,
    bucket_region: String,
    key_policy: (Value, crate::policy::Policy),
    bucket_policy: Option<(Value, crate::policy::Policy)>,
    public_access: (PublicAccessBlock, Vec<&'static str>),
}

/// Reads the central repository's evidence, or says why it cannot be used.
fn central<'a>(input: &PlanInput<'a>) -> Result<Central<'a>, String> {
    let settings = input.settings;
    let (Some(bucket), Some(key_arn)) = (
        settings.central_bucket.as_deref(),
        settings.central_key_arn.as_deref(),
    ) else {
        return Err(
            "--strategy central needs remediation.central_bucket and remediation.central_key_arn"
                .into(),
        );
    };
    let (key_region, key_owner) = parse_key_arn(key_arn)
        .map(|(r, a)| (r.to_owned(), a.to_owned()))
        .ok_or_else(|| format!("{key_arn} is not a KMS key ARN"))?;
    let bucket_evidence = input
        .probes
        .central_bucket
        .as_ref()
        .or_else(|| input.run.bucket(bucket))
        .ok_or_else(|| format!("the central bucket {bucket} was not read"))?;
    let key_evidence = input
        .probes
        .central_key
        .as_ref()
        .or_else(|| key_evidence(input.run, key_arn))
        .ok_or_else(|| format!("the central key {key_arn} was not read"))?;

    let bucket_owner = match &bucket_evidence.owner {
        BucketOwner::Account { account_id } => account_id.clone(),
        BucketOwner::Unknown => {
            return Err(bucket_evidence.unverifiable.clone().unwrap_or_else(|| {
                format!("the owner of the central bucket {bucket} is unknown")
            }));
        }
    };
    if let Some(expected) = &settings.central_bucket_owner
        && *expected != bucket_owner
    {
        return Err(format!(
            "the central bucket {bucket} is owned by {bucket_owner}, not remediation.central_bucket_owner {expected}"
        ));
    }
    let bucket_region = match bucket_evidence.location.as_ref().map(|l| &l.outcome) {
        Some(Outcome::Response(region)) => region.clone(),
        Some(Outcome::Error(error)) => {
            return Err(format!(
                "cannot locate the central bucket {bucket}: {error}"
            ));
        }
        None => return Err(format!("the central bucket {bucket} was not located")),
    };
    if let Some(reason) = &key_evidence.unverifiable {
        return Err(format!("central key {key_arn}: {reason}"));
    }
    let metadata = match key_evidence.metadata.as_ref().map(|m| &m.outcome) {
        Some(Outcome::Response(metadata)) => metadata,
        Some(Outcome::Error(error)) => {
            return Err(format!(
                "cannot describe the central key {key_arn}: {error}"
            ));
        }
        None => return Err(format!("the central key {key_arn} was not described")),
    };
    if let Some(problem) = key_unusable(metadata, &bucket_region, &key_region) {
        return Err(format!(
            "the central key {key_arn} cannot hold Macie's results for bucket {bucket} in {bucket_region} ({problem})"
        ));
    }
    let key_policy = match key_evidence.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(text)) => statements::parse(text)
            .map_err(|e| format!("the central key's policy cannot be read: {e}"))?,
        Some(Outcome::Error(error)) => {
            return Err(format!("cannot read the central key's policy: {error}"));
        }
        None => return Err("the central key's policy was not read".into()),
    };
    let bucket_policy = match bucket_evidence.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(Some(text))) => Some(
            statements::parse(text)
                .map_err(|e| format!("the central bucket's policy cannot be read: {e}"))?,
        ),
        Some(Outcome::Response(None)) => None,
        Some(Outcome::Error(error)) => {
            return Err(format!("cannot read the central bucket's policy: {error}"));
        }
        None => return Err("the central bucket's policy was not read".into()),
    };
    if bucket_evidence
        .policy_status
        .as_ref()
        .and_then(Observation::response)
        .copied()
        == Some(true)
    {
        return Err(format!(
            "S3 reports the policy of the central bucket {bucket} as public: a person must fix it first"
        ));
    }
    let public_access = bucket_public_access(bucket_evidence).ok_or_else(|| {
        format!("the Block Public Access settings of the central bucket {bucket} could not be read")
    })?;
    Ok(Central {
        bucket,
        key_arn,
        prefix: &settings.key_prefix,
        bucket_owner,
        key_owner,
        bucket_region,
        key_policy,
        bucket_policy,
        public_access,
    })
}

/// `--strategy central`: every target points at the central repository, whose policies gain the
/// accounts they lack.
pub(super) fn plan_central(
    input: &PlanInput<'_>,
    targets: &mut [Target],
    drafts: &mut Vec<(GroupKind, Draft)>,
) {
    let central = match central(input) {
        Ok(central) => central,
        Err(reason) => {
            for target in targets.iter_mut().filter(|t| t.remediated()) {
                target.decision = Decision::Blocked {
                    reason: reason.clone(),
                };
            }
            return;
        }
    };
    let destination = Destination {
        bucket: central.bucket.to_owned(),
        key_prefix: central.prefix.to_owned(),
        key: KeyRef::Arn {
            arn: central.key_arn.to_owned(),
        },
        expected_bucket_owner: central.bucket_owner.clone(),
    };

    // Pass 1: who may be pointed at the central repository.
    for target in targets.iter_mut().filter(|t| t.remediated()) {
        if !regions::repository_region_allowed(&target.region, &central.bucket_region) {
            target.decision = Decision::Blocked {
                reason: format!(
                    "the central bucket {} is in {}, which cannot receive results from Macie in {}: results \
                     from a default Region must go to a default Region, from an opt-in Region to that Region or a \
                     default one",
                    central.bucket, central.bucket_region, target.region
                ),
            };
            continue;
        }
        if let Some(current) = &target.current {
            let other_bucket =
                non_empty(current.bucket_name.as_deref()).is_some_and(|b| b != central.bucket);
            let other_key =
                non_empty(current.kms_key_arn.as_deref()).is_some_and(|k| k != central.key_arn);
            if (other_bucket || other_key) && !input.force {
                target.decision = Decision::Refused {
                    reason: format!(
                        "its export configuration points at {}; --force repoints it at the central repository \
                         s3://{}/{} (nothing is deleted)",
                        describe(current),
                        central.bucket,
                        central.prefix
                    ),
                };
            }
        }
    }

    // Pass 2: what the shared policies lack for them, and whether merging fixes it.
    let sources: Vec<MacieSource> = targets
        .iter()
        .filter(|t| t.remediated())
        .map(|t| t.source_in(input.run))
        .collect();
    let (key_value, key_policy) = &central.key_policy;
    let key_before = key_gaps(key_policy, central.key_arn, &sources);
    let key_missing = statements::sources_missing(&key_before);
    let key_after = merge(
        Some(key_value),
        &if key_missing.is_empty() {
            Vec::new()
        } else {
            vec![statements::central_key_statement(&key_missing)]
        },
    );
    let key_remaining = statements::parse(&statements::to_text(&key_after))
        .map(|(_, p)| key_gaps(&p, central.key_arn, &sources))
        .unwrap_or_default();

    let bucket_before = bucket_gaps(
        central.bucket_policy.as_ref().map(|(_, p)| p),
        central.bucket,
        central.prefix,
        central.key_arn,
        &sources,
    );
    let bucket_missing = statements::sources_missing(&bucket_before);
    let tls_missing = bucket_before.contains(&Gap::TlsNotDenied);
    let bucket_statements = statements::central_bucket_statements(
        central.bucket,
        central.prefix,
        central.key_arn,
        &bucket_missing,
        tls_missing,
    );
    let bucket_value = central.bucket_policy.as_ref().map(|(v, _)| v.clone());
    let bucket_after = merge(bucket_value.as_ref(), &bucket_statements);
    let bucket_remaining = statements::parse(&statements::to_text(&bucket_after))
        .map(|(_, p)| {
            bucket_gaps(
                Some(&p),
                central.bucket,
                central.prefix,
                central.key_arn,
                &sources,
            )
        })
        .unwrap_or_default();

    let mut served = Vec::new();
    for target in targets.iter_mut().filter(|t| t.remediated()) {
        let source = target.source();
        let concerns = |gap: &&Gap| gap.source() == Some(&source);
        let blocking: Vec<String> = key_remaining
            .iter()
            .chain(&bucket_remaining)
            .filter(concerns)
            .filter(|gap| !matches!(gap, Gap::Unconditioned { .. }))
            .map(ToString::to_string)
            .collect();
        if !blocking.is_empty() {
            target.decision = Decision::Blocked {
                reason: format!(
                    "the central repository's policies cannot be fixed by adding statements: {}",
                    blocking.join("; ")
                ),
            };
            continue;
        }
        for gap in key_remaining.iter().filter(concerns) {
            target.notes.push(format!(
                "MACIE-003 stays WARN: in the policy of {}, {gap}",
                central.key_arn
            ));
        }
        served.push(source);
    }
    if served.is_empty() {
        return;
    }

    // The shared repository's changes first, by its owners.
    if !key_missing.is_empty() {
        let accounts: BTreeSet<&str> = key_missing.iter().map(|s| s.account_id.as_str()).collect();
        drafts.push((
            GroupKind::Repository,
            Draft::new(
                &central.key_owner,
                &central.bucket_region,
                Action::PutKeyPolicy {
                    key: destination.key.clone(),
                    statements: vec![statements::central_key_statement(&key_missing)],
                    sources: key_missing.clone(),
                    before: Some(key_value.clone()),
                    after: Some(key_after),
                },
                format!(
                    "key policy of {}: let Macie use the key for account(s) {} (statement {}; existing statements \
                     kept)",
                    central.key_arn,
                    accounts.into_iter().collect::<Vec<_>>().join(", "),
                    statements::CENTRAL_KEY_SID
                ),
                &key_missing,
            ),
        ));
    }
    let (bucket_level, missing_blocks) = &central.public_access;
    if !missing_blocks.is_empty() {
        drafts.push((
            GroupKind::Repository,
            Draft::new(
                &central.bucket_owner,
                &central.bucket_region,
                Action::PutPublicAccessBlock {
                    bucket: central.bucket.to_owned(),
                    before: Some(*bucket_level),
                },
                format!(
                    "turn on all four Block Public Access settings of {} (off: {})",
                    central.bucket,
                    missing_blocks.join(", ")
                ),
                &served,
            ),
        ));
    }
    if !bucket_statements.is_empty() {
        let accounts: BTreeSet<&str> = bucket_missing
            .iter()
            .map(|s| s.account_id.as_str())
            .collect();
        let mut what = Vec::new();
        if tls_missing {
            what.push("deny requests without TLS".to_owned());
        }
        if !accounts.is_empty() {
            what.push(format!(
                "let Macie write under \"{}\" and locate the bucket for account(s) {}",
                central.prefix,
                accounts.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        drafts.push((
            GroupKind::Repository,
            Draft::new(
                &central.bucket_owner,
                &central.bucket_region,
                Action::PutBucketPolicy {
                    bucket: central.bucket.to_owned(),
                    key: destination.key.clone(),
                    key_prefix: central.prefix.to_owned(),
                    statements: bucket_statements,
                    sources: bucket_missing.clone(),
                    deny_insecure: tls_missing,
                    before: PolicyBefore::from(bucket_value),
                    after: Some(bucket_after),
                },
                format!(
                    "bucket policy of {}: {} (existing statements kept)",
                    central.bucket,
                    what.join("; ")
                ),
                &served,
            ),
        ));
    }

    // Then each account-Region's configuration.
    for target in targets.iter_mut().filter(|t| t.remediated()) {
        let already = target.current.as_ref().is_some_and(|current| {
            current.bucket_name.as_deref() == Some(central.bucket)
                && current.kms_key_arn.as_deref() == Some(central.key_arn)
                && current.key_prefix.as_deref().unwrap_or_default() == central.prefix
        });
        let repository_changes = drafts
            .iter()
            .filter(|(kind, _)| *kind == GroupKind::Repository)
            .any(|(_, d)| d.serves.contains(&target.source()));
        if already && !repository_changes {
            target.decision = Decision::Blocked {
                reason:
                    "remediation finds nothing to change; the findings say what a person must fix"
                        .into(),
            };
            continue;
        }
        if !already {
            drafts.push((
                GroupKind::Account,
                export_draft(
                    &target.account_id,
                    &target.region,
                    &destination,
                    target.current.clone(),
                ),
            ));
        }
        target.destination = Some(destination.clone());
    }
}
