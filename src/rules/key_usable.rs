//! MACIE-003: the repository key is usable by Macie.

use super::repository::{list, repository};
use super::{Absence, Rule, RuleInput, Verdict, remediation, unreadable};
use crate::evidence::{ErrorKind, Outcome};
use crate::findings::{Severity, Status};
use crate::macie_access::{self, Answer};
use crate::policy::Policy;

pub(super) const RULE: Rule = Rule {
    id: "MACIE-003",
    title: "Repository key is usable by Macie",
    severity: Severity::High,
    rationale: "Macie encrypts every discovery result with the repository's KMS key. A key that is missing, \
                disabled, pending deletion, AWS managed, asymmetric, in another Region than the bucket, or \
                whose policy does not let Macie use it makes every export fail: the configuration looks \
                compliant while no result is kept.",
    remediation: "Use a symmetric (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) customer managed key in the bucket's \
                  Region, enabled, whose key policy allows the Macie service principal kms:GenerateDataKey \
                  and kms:Encrypt with aws:SourceAccount and aws:SourceArn conditions \
                  (aws kms put-key-policy --key-id <key> --policy-name default --policy file://policy.json).",
    conformity_rule: None,
    check,
};

fn check(input: &RuleInput<'_>) -> Verdict {
    let repository = match repository(input) {
        Ok(repository) => repository,
        Err(verdict) => return verdict,
    };
    let resource = repository.key_arn.to_owned();
    let note = repository.note.clone();
    let verdict = |status, message: String| Verdict::new(status, message).about(resource.clone());
    let Some(key) = input.run.key(repository.key_arn) else {
        return verdict(
            Status::Error,
            format!(
                "{}.{note}",
                Absence::of(input.run).not_read(&format!("The key {}", repository.key_arn))
            ),
        );
    };
    if let Some(reason) = &key.unverifiable {
        return verdict(Status::Error, format!("Key {}: {reason}.{note}", key.arn));
    }
    let metadata = match key.metadata.as_ref().map(|m| &m.outcome) {
        Some(Outcome::Response(metadata)) => metadata,
        Some(Outcome::Error(error)) if error.kind == ErrorKind::NotFound => {
            return verdict(
                Status::Fail,
                format!(
                    "Key {} does not exist: Macie cannot encrypt results.{note}",
                    key.arn
                ),
            )
            .fix(new_key_steps(
                &key.arn,
                &key.owner_account,
                &key.region,
                &repository,
            ));
        }
        Some(Outcome::Error(error)) => {
            return unreadable("the key (kms:DescribeKey)", error).about(resource.clone());
        }
        None => {
            return verdict(
                Status::Error,
                format!("Key {} was not described.{note}", key.arn),
            );
        }
    };

    let owner = key.owner_account.as_str();
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let mut needs_new_key = false;
    match metadata.state.as_str() {
        "Enabled" => {}
        "PendingDeletion" => {
            problems.push("the key is PendingDeletion, not Enabled".to_owned());
            fixes.push(format!(
                "In account {owner}: aws kms cancel-key-deletion --region {region} --key-id {arn}; \
                 aws kms enable-key --region {region} --key-id {arn}",
                region = key.region,
                arn = key.arn
            ));
        }
        state => {
            problems.push(format!("the key is {state}, not Enabled"));
            fixes.push(format!(
                "In account {owner}: aws kms enable-key --region {} --key-id {}",
                key.region, key.arn
            ));
        }
    }
    if metadata.manager == "AWS" {
        problems.push("it is an AWS managed key; Macie needs a customer managed key".to_owned());
        needs_new_key = true;
    }
    if metadata.spec != "SYMMETRIC_DEFAULT" || metadata.usage != "ENCRYPT_DECRYPT" {
        problems.push(format!(
            "it is a {} key for {}, not a symmetric encryption key",
            metadata.spec, metadata.usage
        ));
        needs_new_key = true;
    }
    let bucket_region = input
        .run
        .bucket(repository.bucket)
        .and_then(|b| b.location.as_ref())
        .and_then(|l| l.response());
    if let Some(bucket_region) = bucket_region
        && bucket_region != &key.region
    {
        problems.push(format!(
            "the key is in {} but the bucket {} is in {bucket_region}; they must share a Region",
            key.region, repository.bucket
        ));
        needs_new_key = true;
    }
    if needs_new_key {
        let region = bucket_region.map_or(key.region.as_str(), String::as_str);
        fixes.extend(new_key_steps(&key.arn, owner, region, &repository));
    }

    let mut warnings = Vec::new();
    let mut unreadable_policy = None;
    match key.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(text)) => match Policy::parse(text) {
            Ok(policy) => judge_policy(
                &policy,
                &repository,
                key.arn.as_str(),
                &mut problems,
                &mut warnings,
            ),
            Err(error) => {
                unreadable_policy = Some(format!("the key policy cannot be read: {error}"))
            }
        },
        Some(Outcome::Error(error)) => {
            unreadable_policy = Some(format!("cannot read the key policy: {error}"))
        }
        None => unreadable_policy = Some("the key policy was not read".to_owned()),
    }

    let policy_fix = || {
        remediation::put_key_policy(
            owner,
            &key.arn,
            &key.region,
            repository.macie_account,
            repository.region,
        )
    };
    if problems.iter().any(|p| p.contains("key policy")) {
        fixes.push(policy_fix());
    }
    if !problems.is_empty() {
        return verdict(
            Status::Fail,
            list(
                &format!("Key {} is not usable by Macie", key.arn),
                &problems,
                &note,
            ),
        )
        .fix(fixes);
    }
    if let Some(reason) = unreadable_policy {
        return verdict(Status::Error, format!("Key {}: {reason}.{note}", key.arn));
    }
    if !warnings.is_empty() {
        return verdict(
            Status::Warn,
            list(
                &format!("Key {} is usable by Macie, but", key.arn),
                &warnings,
                &note,
            ),
        )
        .fix(vec![policy_fix()]);
    }
    verdict(
        Status::Pass,
        format!(
            "Key {} is an enabled, symmetric, customer managed key in {} whose policy lets {} encrypt, \
             with confused-deputy conditions.{note}",
            key.arn,
            key.region,
            repository.exporter().principal()
        ),
    )
}

/// Steps: create a sound key and point the export configuration at it.
fn new_key_steps(
    replaced: &str,
    owner: &str,
    region: &str,
    repository: &super::repository::Repository<'_>,
) -> Vec<String> {
    vec![
        format!("Replace key {replaced} with a symmetric customer managed key in {region}:"),
        format!(
            "In account {owner}: aws kms create-key --region {region} --key-spec SYMMETRIC_DEFAULT --key-usage \
             ENCRYPT_DECRYPT --description \"Macie discovery results\" and give it the Macie statement: {}",
            remediation::key_statement(repository.macie_account, repository.region)
        ),
        format!(
            "In account {}: aws macie2 put-classification-export-configuration --region {} --configuration \
             's3Destination={{bucketName={},keyPrefix={},kmsKeyArn=<the new key ARN>}}'",
            repository.macie_account, repository.region, repository.bucket, repository.prefix
        ),
    ]
}

fn judge_policy(
    policy: &Policy,
    repository: &super::repository::Repository<'_>,
    key_arn: &str,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let exporter = repository.exporter();
    let principal = exporter.principal();
    let mut unconditioned = Vec::new();
    for (action, answer) in macie_access::key_answers(policy, key_arn, exporter) {
        match answer {
            Answer::Allowed { unconditioned_by } => {
                if !unconditioned_by.is_empty() {
                    unconditioned.push(action);
                }
            }
            Answer::Denied { .. } => {
                problems.push(format!("the key policy denies {principal} {action}"))
            }
            Answer::NotAllowed => problems.push(format!(
                "the key policy does not allow {principal} {action} for account {}",
                repository.macie_account
            )),
        }
    }
    if !unconditioned.is_empty() {
        warnings.push(format!(
            "the key policy allows {principal} {} without aws:SourceAccount / aws:SourceArn conditions \
             (confused deputy)",
            unconditioned.join(" and ")
        ));
    }
}
