//! `--strategy own`: each account-Region's own key and bucket, created where missing, fixed where
//! the scan found them wrong, then pointed at.

use serde_json::Value;

use super::plan::{
    Action, Decision, Destination, Draft, GroupKind, KeyRef, PlanInput, PolicyBefore, Target,
    account_owns, bucket_public_access, decide_policy, describe, export_draft, key_evidence,
    key_region_of, key_unusable, non_empty,
};
use super::statements::{self, Gap, bucket_gaps, key_gaps, macie_principal};
use crate::evidence::{BucketOwner, Observation, Outcome, PublicAccessBlock};
use crate::policy::Policy;

/// `--strategy own`: the account-Region's own key and bucket, created or fixed, then pointed at.
pub(super) fn plan_own(
    input: &PlanInput<'_>,
    target: &mut Target,
    drafts: &mut Vec<(GroupKind, Draft)>,
) {
    let settings = input.settings;
    let account = target.account_id.clone();
    let region = target.region.clone();
    let source = target.source_in(input.run);
    let serves = [source.clone()];
    let bucket = settings.bucket_name(&account, &region);
    let prefix = settings.key_prefix.clone();
    let alias = settings.key_alias.clone();
    let alias_arn = format!("arn:aws:kms:{region}:{account}:{alias}");
    let principal = macie_principal(&region);
    let block = |target: &mut Target, reason: String| {
        target.decision = Decision::Blocked { reason };
    };

    // The key behind the alias, if there is one.
    let existing_key = match input
        .probes
        .alias_keys
        .get(&(account.clone(), region.clone()))
    {
        None => return block(target, format!("{alias} was not looked up in {region}")),
        Some(observation) => match &observation.outcome {
            Outcome::Error(error) => {
                return block(
                    target,
                    format!("cannot tell whether {alias} exists in {region}: {error}"),
                );
            }
            Outcome::Response(None) => None,
            Outcome::Response(Some(metadata)) => {
                if let Some(problem) = key_unusable(metadata, &region, &key_region_of(metadata)) {
                    return block(
                        target,
                        format!(
                            "{alias} names key {} which cannot hold Macie's results ({problem}): fix it, or \
                             choose another remediation.key_alias",
                            metadata.arn
                        ),
                    );
                }
                Some(metadata.arn.clone())
            }
        },
    };

    // A configuration naming another repository is left alone unless forced.
    if let Some(current) = &target.current {
        let other_bucket = non_empty(current.bucket_name.as_deref()).filter(|b| *b != bucket);
        let other_key = non_empty(current.kms_key_arn.as_deref())
            .filter(|k| *k != alias_arn && Some(*k) != existing_key.as_deref());
        if (other_bucket.is_some() || other_key.is_some()) && !input.force {
            target.decision = Decision::Refused {
                reason: format!(
                    "its export configuration points at {}; --force repoints it at s3://{bucket}/{prefix} \
                     (nothing is deleted)",
                    describe(current)
                ),
            };
            return;
        }
    }

    let draft =
        |action: Action, summary: String| Draft::new(&account, &region, action, summary, &serves);
    let mut steps: Vec<Draft> = Vec::new();
    let key = match &existing_key {
        None => {
            steps.push(draft(
                Action::CreateKey {
                    alias: alias.clone(),
                    description: "Macie sensitive data discovery results".into(),
                    policy: statements::own_key_policy(&account, &region),
                },
                format!(
                    "create a symmetric (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) customer managed key whose policy lets \
                     the account's administrators manage it and {principal} use it for account {account} in \
                     {region} (aws:SourceAccount, aws:SourceArn)"
                ),
));
            let key = KeyRef::Created {
                alias: alias.clone(),
            };
            steps.push(draft(
                Action::CreateAlias {
                    alias: alias.clone(),
                    key: key.clone(),
                },
                format!("name the new key {alias}"),
            ));
            steps.push(draft(
                Action::EnableKeyRotation { key: key.clone() },
                "turn on automatic rotation of the new key".into(),
            ));
            key
        }
        Some(arn) => {
            let key = KeyRef::Arn { arn: arn.clone() };
            let evidence = key_evidence(input.run, arn);
            let policy = evidence
                .and_then(|k| k.policy.as_ref())
                .and_then(Observation::response)
                .and_then(|text| statements::parse(text).ok());
            let desired = vec![statements::own_key_statement(&account, &region)];
            let merge = planned_merge(policy.map(Some), &desired, |policy| {
                policy.map_or_else(Vec::new, |p| key_gaps(p, arn, &serves))
            });
            let step = match merge {
                Err(reason) => {
                    return block(
                        target,
                        format!(
                            "the key policy of {arn} cannot be fixed by adding statements: {reason}"
                        ),
                    );
                }
                Ok(Merge::Needless) => None,
                Ok(Merge::Planned { before, after }) => Some((
                    before,
                    Some(after),
                    format!(
                        "key policy of {arn}: let {principal} use the key for account {account} in {region} \
                         (existing statements kept)"
                    ),
                )),
                Ok(Merge::WhenApplied) => Some((
                    None,
                    None,
                    format!(
                        "key policy of {arn}: let {principal} use the key for account {account} in {region}, if it \
                         does not already (read and merged when applied; existing statements kept)"
                    ),
                )),
            };
            if let Some((before, after, summary)) = step {
                steps.push(draft(
                    Action::PutKeyPolicy {
                        key: key.clone(),
                        statements: desired,
                        sources: serves.to_vec(),
                        before,
                        after,
                    },
                    summary,
                ));
            }
            let rotation = evidence
                .and_then(|k| k.rotation_enabled.as_ref())
                .and_then(Observation::response)
                .copied();
            if rotation != Some(true) {
                steps.push(draft(
                    Action::EnableKeyRotation { key: key.clone() },
                    format!("turn on automatic rotation of {arn}"),
                ));
            }
            key
        }
    };
    let key_arn = key.arn_or_placeholder().to_owned();

    // The bucket: created, or its protections checked against what the scan read.
    let owned = account_owns(input.run, &account, &bucket);
    let evidence = input.run.bucket(&bucket).filter(
        |b| matches!(&b.owner, BucketOwner::Account { account_id } if *account_id == account),
    );
    let desired_policy =
        statements::own_bucket_statements(&bucket, &prefix, &key_arn, &account, &region);
    if owned != Some(true) {
        steps.push(draft(
            Action::CreateBucket {
                bucket: bucket.clone(),
            },
            format!("create bucket {bucket} in {region}"),
        ));
    }
    let new_bucket = owned != Some(true);
    if let Some(location) = evidence
        .and_then(|b| b.location.as_ref())
        .and_then(Observation::response)
        && *location != region
    {
        return block(
            target,
            format!(
                "bucket {bucket} exists in {location}, but the key and bucket must be in {region}: choose another \
                 remediation.bucket_name_template"
            ),
        );
    }
    let public_access = evidence.and_then(bucket_public_access);
    if new_bucket
        || public_access
            .as_ref()
            .is_none_or(|(_, missing)| !missing.is_empty())
    {
        steps.push(draft(
            Action::PutPublicAccessBlock {
                bucket: bucket.clone(),
                before: if new_bucket {
                    Some(PublicAccessBlock::default())
                } else {
                    public_access.map(|(bucket_level, _)| bucket_level)
                },
            },
            format!("turn on all four Block Public Access settings of {bucket}"),
        ));
    }
    let encryption = evidence
        .and_then(|b| b.encryption.as_ref())
        .and_then(Observation::response);
    let encrypted_with_key = encryption.and_then(Option::as_ref).is_some_and(|e| {
        e.algorithm == "aws:kms"
            && e.kms_key_id
                .as_deref()
                .is_some_and(|id| id == key_arn || id == alias_arn || id == alias)
    });
    if new_bucket || !encrypted_with_key {
        steps.push(draft(
            Action::PutBucketEncryption {
                bucket: bucket.clone(),
                key: key.clone(),
                before: encryption.map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
            },
            format!("default encryption of {bucket}: SSE-KMS with {key}, S3 Bucket Key on"),
        ));
    }
    let versioning = evidence
        .and_then(|b| b.versioning.as_ref())
        .and_then(Observation::response);
    let locked = evidence
        .and_then(|b| b.object_lock.as_ref())
        .and_then(Observation::response)
        .copied()
        == Some(true);
    if new_bucket || (versioning.and_then(Option::as_deref) != Some("Enabled") && !locked) {
        steps.push(draft(
            Action::PutBucketVersioning {
                bucket: bucket.clone(),
                before: versioning.and_then(Option::clone),
            },
            format!("turn on versioning of {bucket}"),
        ));
    }
    let policy_summary = format!(
        "bucket policy of {bucket}: deny requests without TLS, deny Macie uploads not encrypted with {key}, let \
         {principal} write under \"{prefix}\" and locate the bucket for account {account} in {region}"
    );
    let known_policy = if new_bucket {
        Some(None)
    } else {
        evidence
            .and_then(|b| b.policy.as_ref())
            .and_then(Observation::response)
            .cloned()
    };
    let parsed = match known_policy.map(|text| text.as_deref().map(statements::parse).transpose()) {
        None => None,
        Some(Ok(parsed)) => Some(parsed),
        Some(Err(error)) => {
            return block(
                target,
                format!("the policy of bucket {bucket} cannot be read: {error}"),
            );
        }
    };
    let merge = planned_merge(parsed, &desired_policy, |policy| {
        bucket_gaps(policy, &bucket, &prefix, &key_arn, &serves)
    });
    let step = match merge {
        Err(reason) => {
            return block(
                target,
                format!(
                    "the policy of bucket {bucket} cannot be fixed by adding statements: {reason}"
                ),
            );
        }
        Ok(Merge::Needless) => None,
        Ok(Merge::Planned { before, after }) => Some((
            PolicyBefore::from(before),
            Some(after),
            if new_bucket {
                policy_summary
            } else {
                format!("{policy_summary} (existing statements kept)")
            },
        )),
        Ok(Merge::WhenApplied) => Some((
            PolicyBefore::NotRead,
            None,
            format!(
                "{policy_summary}, if it does not already (read and merged when applied; existing statements kept)"
            ),
        )),
    };
    if let Some((before, after, summary)) = step {
        steps.push(draft(
            Action::PutBucketPolicy {
                bucket: bucket.clone(),
                key: key.clone(),
                key_prefix: prefix.clone(),
                statements: desired_policy,
                sources: serves.to_vec(),
                deny_insecure: true,
                before,
                after,
            },
            summary,
        ));
    }

    let destination = Destination {
        bucket: bucket.clone(),
        key_prefix: prefix.clone(),
        key: key.clone(),
        expected_bucket_owner: account.clone(),
    };
    let already = target.current.as_ref().is_some_and(|current| {
        current.bucket_name.as_deref() == Some(bucket.as_str())
            && current.key_prefix.as_deref().unwrap_or_default() == prefix
            && matches!(&key, KeyRef::Arn { arn } if current.kms_key_arn.as_deref() == Some(arn.as_str()))
    });
    if !already {
        steps.push(export_draft(
            &account,
            &region,
            &destination,
            target.current.clone(),
        ));
    }
    if steps.is_empty() {
        return block(
            target,
            "remediation finds nothing to change; the findings say what a person must fix".into(),
        );
    }
    target.destination = Some(destination);
    drafts.extend(steps.into_iter().map(|s| (GroupKind::Account, s)));
}

/// What a policy step plans, from what the scan read of the policy.
enum Merge {
    /// The policy already lets Macie in: no step.
    Needless,
    /// The scan read the policy (`before`; `None`: there is none): `after` is written.
    Planned { before: Option<Value>, after: Value },
    /// The scan did not read it: it is read and merged when the step runs.
    WhenApplied,
}

/// The plan of a policy step: `known` is the policy as the scan read and parsed it (`Some(None)`:
/// there is none; `None`: not read), `desired` the statements merged into it, `gaps` what it
/// lacks; `Err` says why a merge cannot fix it.
fn planned_merge(
    known: Option<Option<(Value, Policy)>>,
    desired: &[Value],
    gaps: impl Fn(Option<&Policy>) -> Vec<Gap>,
) -> Result<Merge, String> {
    let Some(parsed) = known else {
        return Ok(Merge::WhenApplied);
    };
    let decided = decide_policy(parsed.as_ref(), desired, gaps)?;
    let before = parsed.map(|(value, _)| value);
    Ok(decided.map_or(Merge::Needless, |after| Merge::Planned { before, after }))
}
