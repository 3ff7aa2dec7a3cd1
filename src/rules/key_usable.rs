//! MACIE-003: the repository key is usable by Macie.

use super::repository::{Repository, judge_guardrails, judging, list, not_read};
use super::{Rule, RuleInput, Verdict, remediation, unreadable};
use crate::evidence::Outcome;
use crate::findings::{Severity, Status};
use crate::macie_access::{self, Answer};
use crate::policy::{ConditionedStatement, Effect, Policy};

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
    let (repository, note, verdict) = match judging(input, Repository::key_resource) {
        Ok(judging) => judging,
        Err(verdict) => return verdict,
    };
    let Some(key) = input.run.key(repository.key_arn) else {
        let subject = format!("The key {}", repository.key_arn);
        return verdict(Status::Error, not_read(input, &subject, &note));
    };
    if let Some(reason) = &key.unverifiable {
        return verdict(Status::Error, format!("Key {}: {reason}.{note}", key.arn));
    }
    if key.missing() {
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
    let metadata = match key.metadata.as_ref().map(|m| &m.outcome) {
        Some(Outcome::Response(metadata)) => metadata,
        Some(Outcome::Error(error)) => {
            return unreadable("the key (kms:DescribeKey)", error).about(repository.key_arn);
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
        "" => problems
            .push("DescribeKey reported no key state, so it is not known to be Enabled".to_owned()),
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
    if let Some(problem) = key_kind_problem(&metadata.spec, &metadata.usage) {
        problems.push(problem);
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
    let mut doubts = Vec::new();
    let mut policy_fix_helps_warnings = false;
    let mut unreadable_policy = None;
    match key.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(text)) => match Policy::parse(text) {
            Ok(policy) => {
                policy_fix_helps_warnings = judge_policy(
                    &policy,
                    &repository,
                    key.arn.as_str(),
                    &mut problems,
                    &mut doubts,
                    &mut warnings,
                );
            }
            Err(error) => {
                unreadable_policy = Some(format!("the key policy cannot be read: {error}"))
            }
        },
        Some(Outcome::Error(error)) => {
            unreadable_policy = Some(format!("cannot read the key policy: {error}"))
        }
        None => unreadable_policy = Some("the key policy was not read".to_owned()),
    }

    // The organization's RCPs over the key's account can deny Macie whatever the key policy says.
    let exporter = repository.exporter();
    let guardrails = judge_guardrails(
        input.run,
        Some(owner),
        &repository,
        "key policy",
        |policy| macie_access::key_guardrails(policy, &metadata.arn, exporter),
        |_| String::new(),
    );
    let note = format!("{note}{}", guardrails.not_evaluated);

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
    problems.extend(guardrails.denials);
    fixes.extend(guardrails.fixes);
    doubts.extend(guardrails.doubts);
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
    if !doubts.is_empty() || !warnings.is_empty() {
        let fixes = if policy_fix_helps_warnings {
            vec![policy_fix()]
        } else {
            Vec::new()
        };
        let (intro, listed) = if doubts.is_empty() {
            (format!("Key {} is usable by Macie, but", key.arn), warnings)
        } else {
            doubts.extend(warnings);
            (
                format!("Key {} may not be usable by Macie", key.arn),
                doubts,
            )
        };
        return verdict(Status::Warn, list(&intro, &listed, &note)).fix(fixes);
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

/// Why a key of this spec and usage is not a symmetric encryption key, if it is not. A
/// SYMMETRIC_DEFAULT key can only be ENCRYPT_DECRYPT, so an answer without the usage is enough;
/// a value DescribeKey did not report is said so, never printed empty.
fn key_kind_problem(spec: &str, usage: &str) -> Option<String> {
    let usage_ok = usage == "ENCRYPT_DECRYPT" || (usage.is_empty() && spec == "SYMMETRIC_DEFAULT");
    if spec == "SYMMETRIC_DEFAULT" && usage_ok {
        return None;
    }
    let spec = if spec.is_empty() {
        "key of no reported spec".to_owned()
    } else {
        format!("{spec} key")
    };
    let usage = if usage.is_empty() {
        "with no key usage reported".to_owned()
    } else {
        format!("for {usage}")
    };
    Some(format!(
        "it is a {spec} {usage}, not a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)"
    ))
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

/// Judges the key policy for Macie's requests: `problems` stop Macie, `doubts` leave it unproven
/// whether Macie can use the key, `warnings` are risks of a key Macie can use. Returns whether
/// writing our Macie statement would settle the doubts and warnings (it cannot overturn another
/// statement's deny).
fn judge_policy(
    policy: &Policy,
    repository: &super::repository::Repository<'_>,
    key_arn: &str,
    problems: &mut Vec<String>,
    doubts: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> bool {
    let exporter = repository.exporter();
    let principal = exporter.principal();
    let answers = macie_access::key_answers(policy, key_arn, exporter);
    let allowed = |wanted: &str| {
        answers
            .iter()
            .any(|(action, answer)| *action == wanted && matches!(answer, Answer::Allowed { .. }))
    };
    let generate_data_key_allowed = allowed("kms:GenerateDataKey");
    let mut unconditioned = Vec::new();
    let mut statement_helps = false;
    // Actions whose answers depend on the same statements are reported once, together.
    let mut uncertain: Vec<(Vec<&str>, &[ConditionedStatement])> = Vec::new();
    for (action, answer) in &answers {
        match answer {
            // An Allow that holds without aws:SourceAccount, aws:SourceArn, aws:SourceOrgID and
            // aws:SourceOrgPaths, or for Macie acting for an account of another organization
            // (an aws:SourceArn wildcarding the account), serves any source: the
            // confused-deputy risk. A grant scoped by aws:SourceOrgID or aws:SourceOrgPaths alone
            // counts as conditioned: it confines Macie's use of the key to the organization's
            // (or OU's) accounts, as AWS recommends for organization-wide resources.
            Answer::Allowed { unconditioned_by } => {
                if !unconditioned_by.is_empty() {
                    unconditioned.push(*action);
                }
            }
            Answer::Denied { by } => problems.push(format!(
                "the key policy denies {principal} {action} (statement {})",
                quoted(by)
            )),
            Answer::Uncertain { depends_on } => {
                statement_helps |= depends_on.iter().all(|s| s.effect == Effect::Allow);
                match uncertain
                    .iter_mut()
                    .find(|(_, same)| *same == depends_on.as_slice())
                {
                    Some((actions, _)) => actions.push(action),
                    None => uncertain.push((vec![*action], depends_on)),
                }
            }
            // The Macie user guide ("Storing and retaining sensitive data discovery results")
            // has the key policy allow Macie both kms:GenerateDataKey and kms:Encrypt, and names
            // no other action. AWS's Security Reference Architecture deploys the key granting
            // kms:GenerateDataKey only, and organizations run it: the documented requirement is
            // not met, yet Macie writing is not disproven. A WARN says both.
            Answer::NotAllowed { .. } if *action == "kms:Encrypt" && generate_data_key_allowed => {
                statement_helps = true;
                doubts.push(format!(
                    "the key policy allows {principal} kms:GenerateDataKey but not kms:Encrypt, which the \
                     Macie user guide's key policy grants too (AWS's Security Reference Architecture \
                     grants kms:GenerateDataKey only)"
                ));
            }
            Answer::NotAllowed { near_misses } => {
                let base = format!(
                    "the key policy does not allow {principal} {action} for account {}",
                    repository.macie_account
                );
                problems.push(
                    match macie_access::near_miss_clause(near_misses, &exporter) {
                        Some(clause) => format!("{base}: {clause}"),
                        None => base,
                    },
                );
            }
        }
    }
    for (actions, depends_on) in uncertain {
        doubts.push(format!(
            "the key policy {}",
            macie_access::uncertain_clause(
                &format!("{principal} {}", actions.join(" and ")),
                depends_on,
                "Macie can use the key"
            )
        ));
    }
    if !unconditioned.is_empty() {
        statement_helps = true;
        warnings.push(format!(
            "the key policy allows {principal} {} without aws:SourceAccount / aws:SourceArn (or \
             aws:SourceOrgID / aws:SourceOrgPaths) conditions that confine it to the organization's \
             accounts (confused deputy: Macie acting for any account may use the key)",
            unconditioned.join(" and ")
        ));
    }
    statement_helps
}

/// Statement labels for a message: `"A", "B"`.
pub(super) fn quoted(labels: &[String]) -> String {
    labels
        .iter()
        .map(|label| format!("\"{label}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::OrganizationListing;
    use crate::rules::testing::{ORGANIZATION_ID, assert_says, judge, repository_run};

    const OU_PATH: &str = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/";
    /// A bucket policy that lets Macie write: MACIE-003 does not look at it.
    const BUCKET_POLICY: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:*", "Resource": "*"}]}"#;

    fn key_policy(macie_statement: &str) -> String {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [
              {{"Sid": "Admin", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111111111111:root"}},
               "Action": "kms:*", "Resource": "*"}},
              {macie_statement}]}}"#
        )
    }

    fn verdict_on(macie_statement: &str) -> Verdict {
        judge(
            &RULE,
            &repository_run(&key_policy(macie_statement), BUCKET_POLICY, OU_PATH),
        )
    }

    const ORG_GRANT: &str = r#"{"Sid": "OrgMacie", "Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
      "Condition": {"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"}}}"#;

    #[test]
    fn a_grant_to_the_organization_passes() {
        let verdict = verdict_on(ORG_GRANT);
        assert_eq!(verdict.status, Status::Pass, "{}", verdict.message);
        assert!(ORGANIZATION_ID.starts_with("o-"));
    }

    #[test]
    fn a_grant_to_the_organization_is_uncertain_without_the_organization_in_evidence() {
        let mut run = repository_run(&key_policy(ORG_GRANT), BUCKET_POLICY, OU_PATH);
        run.header.organization = OrganizationListing::Organization {
            management_role_arn: None,
            organization: None,
            pages: Vec::new(),
            roots: None,
        };
        let verdict = judge(&RULE, &run);
        assert_says(
            &verdict,
            Status::Warn,
            &[
                "only when aws:SourceOrgID is o-a1b2c3d4e5 (statement \"OrgMacie\")",
                "cannot be proven",
            ],
        );
    }

    #[test]
    fn a_grant_to_an_ou_with_a_wildcard_passes() {
        let verdict = verdict_on(
            r#"{"Sid": "OuMacie", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
              "Condition": {"ForAnyValue:StringLike":
                {"aws:SourceOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}}"#,
        );
        assert_eq!(verdict.status, Status::Pass, "{}", verdict.message);
    }

    #[test]
    fn the_sra_key_policy_warns() {
        let verdict = verdict_on(
            r#"{"Sid": "Allow Macie to use the key", "Effect": "Allow",
              "Principal": {"Service": "macie.amazonaws.com"}, "Action": "kms:GenerateDataKey",
              "Resource": "*"}"#,
        );
        assert_says(
            &verdict,
            Status::Warn,
            &[
                "allows macie.amazonaws.com kms:GenerateDataKey but not kms:Encrypt",
                "(confused deputy: ",
            ],
        );
        assert!(!verdict.remediation.is_empty());
    }

    #[test]
    fn a_source_arn_of_another_region_fails_and_says_so() {
        let verdict = verdict_on(
            r#"{"Sid": "MacieEU", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
              "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"},
                "ArnLike": {"aws:SourceArn": "arn:aws:macie2:eu-west-1:111111111111:export-configuration:*"}}}"#,
        );
        assert_says(
            &verdict,
            Status::Fail,
            &[
                "statement \"MacieEU\" allows it only when aws:SourceArn matches \
                 arn:aws:macie2:eu-west-1:111111111111:export-configuration:* (another Region)",
            ],
        );
    }

    #[test]
    fn key_kinds_are_named_without_empty_values() {
        assert_eq!(
            key_kind_problem("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
            None
        );
        assert_eq!(
            key_kind_problem("SYMMETRIC_DEFAULT", ""),
            None,
            "the only usage of a SYMMETRIC_DEFAULT key"
        );
        let asymmetric = key_kind_problem("RSA_2048", "SIGN_VERIFY").unwrap_or_default();
        assert!(
            asymmetric.starts_with("it is a RSA_2048 key for SIGN_VERIFY, not a symmetric"),
            "{asymmetric}"
        );
        let no_usage = key_kind_problem("RSA_2048", "").unwrap_or_default();
        assert!(
            no_usage.contains("RSA_2048 key with no key usage reported"),
            "{no_usage}"
        );
        let nothing = key_kind_problem("", "").unwrap_or_default();
        assert!(
            nothing.contains("key of no reported spec with no key usage reported"),
            "{nothing}"
        );
        for message in [asymmetric, no_usage, nothing] {
            assert!(
                !message.contains(" , ") && !message.contains("for ,"),
                "{message}"
            );
        }
    }
}
