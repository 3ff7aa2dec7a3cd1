//! MACIE-004: the repository bucket is protected and writable.

use super::repository::{Repository, judge_guardrails, judging, list, macie_principal, not_read};
use super::{Rule, RuleInput, Verdict, remediation};
use crate::evidence::{BucketEvidence, BucketOwner, Outcome, PublicAccessBlock};
use crate::findings::{Severity, Status};
use crate::macie_access::{self, Answer};
use crate::policy::{Effect, Policy};
use crate::regions;

pub(super) const RULE: Rule = Rule {
    id: "MACIE-004",
    title: "Repository bucket is protected and writable",
    severity: Severity::High,
    rationale: "Discovery results say where sensitive data lives. The repository bucket must exist, belong to \
                the expected account, block all public access, refuse unencrypted transport, and let Macie \
                write under the configured prefix; otherwise results leak or are silently lost.",
    remediation: "Turn on all four Block Public Access settings (aws s3api put-public-access-block --bucket \
                  <bucket> --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,\
                  BlockPublicPolicy=true,RestrictPublicBuckets=true) and attach a bucket policy that denies \
                  s3:* when aws:SecureTransport is false and allows the Macie service principal s3:PutObject \
                  on arn:aws:s3:::<bucket>/<prefix>* and s3:GetBucketLocation on the bucket, with \
                  aws:SourceAccount and aws:SourceArn conditions (aws s3api put-bucket-policy).",
    conformity_rule: None,
    check,
};

fn check(input: &RuleInput<'_>) -> Verdict {
    let (repository, note, verdict) = match judging(input, Repository::bucket_arn) {
        Ok(judging) => judging,
        Err(verdict) => return verdict,
    };
    let Some(bucket) = input.run.bucket(repository.bucket) else {
        let subject = format!("Bucket {}", repository.bucket);
        return verdict(Status::Error, not_read(input, &subject, &note));
    };
    if bucket.missing() {
        return verdict(
            Status::Fail,
            format!(
                "Bucket {} does not exist: Macie cannot write results.{note}",
                bucket.name
            ),
        )
        .fix(missing_bucket_steps(&repository, false));
    }
    if let Some(reason) = &bucket.unverifiable {
        return verdict(
            Status::Error,
            format!("Bucket {}: {reason}.{note}", bucket.name),
        );
    }
    let bucket_region = match bucket.location.as_ref().map(|l| &l.outcome) {
        Some(Outcome::Response(region)) => region.as_str(),
        Some(Outcome::Error(error)) => {
            return verdict(
                Status::Error,
                format!("Cannot locate bucket {}: {error}.{note}", bucket.name),
            );
        }
        None => {
            return verdict(
                Status::Error,
                format!("Bucket {} was not located.{note}", bucket.name),
            );
        }
    };

    let mut problems = Vec::new();
    let mut unknowns = Vec::new();
    let mut doubts = Doubts::default();
    if let (Some(expected), BucketOwner::Account { account_id }) =
        (repository.expected_owner, &bucket.owner)
        && expected != account_id
    {
        problems.push(format!(
            "it is owned by {account_id}, not the expected owner {expected}"
        ));
    }
    judge_public_access(bucket, &mut problems, &mut unknowns);
    match bucket.policy_status.as_ref().map(|s| &s.outcome) {
        Some(Outcome::Response(true)) => {
            problems.push("S3 reports its bucket policy as public".into())
        }
        Some(Outcome::Response(false)) => {}
        Some(Outcome::Error(error)) => {
            unknowns.push(format!("cannot read the policy status: {error}"))
        }
        None => unknowns.push("the policy status was not read".into()),
    }
    match bucket.policy.as_ref().map(|p| &p.outcome) {
        Some(Outcome::Response(Some(text))) => match Policy::parse(text) {
            Ok(policy) => judge_policy(&policy, &repository, &mut problems, &mut doubts),
            Err(error) => unknowns.push(format!("the bucket policy cannot be read: {error}")),
        },
        Some(Outcome::Response(None)) => problems.push(
            "it has no bucket policy, so Macie cannot write to it and non-TLS access is not denied"
                .into(),
        ),
        Some(Outcome::Error(error)) => {
            unknowns.push(format!("cannot read the bucket policy: {error}"))
        }
        None => unknowns.push("the bucket policy was not read".into()),
    }
    if !regions::repository_region_allowed(repository.region, bucket_region) {
        problems.push(format!(
            "it is in {bucket_region}, which cannot receive results from Macie in {}: results from a default \
             Region must go to a default Region, from an opt-in Region to that Region or a default one",
            repository.region
        ));
    }

    // The organization's RCPs over the bucket's account can deny Macie whatever its policy says.
    let owner = match &bucket.owner {
        BucketOwner::Account { account_id } => Some(account_id.as_str()),
        BucketOwner::Unknown => None,
    };
    let exporter = repository.exporter();
    let guardrails = judge_guardrails(
        input.run,
        owner,
        &repository,
        "bucket policy",
        |policy| {
            macie_access::bucket_guardrails(
                policy,
                repository.bucket,
                repository.prefix,
                repository.key_arn,
                exporter,
            )
        },
        |action| action_words(action, repository.prefix),
    );
    let note = format!("{note}{}", guardrails.not_evaluated);
    doubts.texts.extend(guardrails.doubts);

    if !problems.is_empty() || !guardrails.denials.is_empty() {
        // The bucket's own fixes follow from its own problems; an RCP's from its denial.
        let mut fixes = bucket_fixes(bucket, &repository, &problems);
        fixes.extend(guardrails.fixes);
        problems.extend(guardrails.denials);
        return verdict(
            Status::Fail,
            list(
                &format!("Bucket {} is not a safe, writable repository", bucket.name),
                &problems,
                &note,
            ),
        )
        .fix(fixes);
    }
    if !unknowns.is_empty() {
        return verdict(
            Status::Error,
            list(&format!("Bucket {}", bucket.name), &unknowns, &note),
        );
    }
    if !doubts.texts.is_empty() {
        let fixes = if doubts.statement_helps {
            bucket_fixes(bucket, &repository, &doubts.texts)
        } else {
            Vec::new()
        };
        return verdict(
            Status::Warn,
            list(
                &format!(
                    "Bucket {} blocks public access and denies non-TLS requests, but Macie's writes are not proven",
                    bucket.name
                ),
                &doubts.texts,
                &note,
            ),
        )
        .fix(fixes);
    }
    verdict(
        Status::Pass,
        format!(
            "Bucket {} in {bucket_region} blocks all public access, denies non-TLS requests and lets {} write \
             under \"{}\".{note}",
            bucket.name,
            macie_principal(repository.region),
            repository.prefix
        ),
    )
}

/// The steps that fix the problems found, in the bucket owner's account.
fn bucket_fixes(
    bucket: &BucketEvidence,
    repository: &Repository<'_>,
    problems: &[String],
) -> Vec<String> {
    let region = bucket
        .location
        .as_ref()
        .and_then(|l| l.response())
        .map_or(repository.region, String::as_str);
    let owner = match &bucket.owner {
        BucketOwner::Account { account_id } => account_id.as_str(),
        BucketOwner::Unknown => repository
            .expected_owner
            .unwrap_or(repository.macie_account),
    };
    let mentions = |word: &str| problems.iter().any(|p| p.contains(word));
    let mut fixes = Vec::new();
    if mentions("expected owner") {
        fixes.push(format!(
            "Confirm who should own {bucket}; then point the configuration at a bucket owned by {expected}, or \
             correct expectedBucketOwner. In account {macie}: aws macie2 put-classification-export-configuration \
             --region {region} --configuration 's3Destination={{bucketName={bucket},keyPrefix={prefix},kmsKeyArn={key},expectedBucketOwner={owner}}}'",
            bucket = bucket.name,
            expected = repository.expected_owner.unwrap_or_default(),
            macie = repository.macie_account,
            region = repository.region,
            prefix = repository.prefix,
            key = repository.key_arn,
        ));
    }
    if mentions("Block Public Access") {
        fixes.push(remediation::put_public_access_block(
            owner,
            &bucket.name,
            region,
        ));
    }
    if mentions("policy") {
        fixes.push(remediation::put_bucket_policy(
            owner,
            &bucket.name,
            region,
            repository,
        ));
    }
    if mentions("cannot receive results") {
        fixes.extend(missing_bucket_steps(repository, true));
    }
    fixes
}

/// Steps: create the repository bucket with its protections in the account whose Macie writes
/// to it: the configured name, or (`new_name`) a new bucket in Macie's own Region, which the
/// configuration is then pointed at.
fn missing_bucket_steps(repository: &Repository<'_>, new_name: bool) -> Vec<String> {
    let account = repository.macie_account;
    let region = repository.region;
    let bucket = if new_name {
        remediation::suggested_bucket(account, region)
    } else {
        repository.bucket.to_owned()
    };
    let location = if region == "us-east-1" {
        String::new()
    } else {
        format!(" --create-bucket-configuration LocationConstraint={region}")
    };
    let mut steps = vec![
        format!(
            "In account {account}: aws s3api create-bucket --bucket {bucket} --region {region}{location}"
        ),
        remediation::put_public_access_block(account, &bucket, region),
        remediation::put_bucket_policy(account, &bucket, region, repository),
    ];
    if new_name {
        steps.push(format!(
            "In account {account}: aws macie2 put-classification-export-configuration --region {region} \
             --configuration 's3Destination={{bucketName={bucket},keyPrefix={},kmsKeyArn={}}}' \
             (the key must be in {region} too)",
            repository.prefix, repository.key_arn
        ));
    }
    steps
}

/// All four Block Public Access settings, each on at the bucket or the owning account's level.
fn judge_public_access(
    bucket: &BucketEvidence,
    problems: &mut Vec<String>,
    unknowns: &mut Vec<String>,
) {
    let bucket_level = match bucket.public_access_block.as_ref().map(|o| &o.outcome) {
        Some(Outcome::Response(block)) => block.unwrap_or_default(),
        Some(Outcome::Error(error)) => {
            unknowns.push(format!(
                "cannot read its Block Public Access settings: {error}"
            ));
            return;
        }
        None => {
            unknowns.push("its Block Public Access settings were not read".into());
            return;
        }
    };
    let account_level = match bucket
        .account_public_access_block
        .as_ref()
        .map(|o| &o.outcome)
    {
        Some(Outcome::Response(block)) => block.unwrap_or_default(),
        Some(Outcome::Error(error)) if !bucket_level.missing().is_empty() => {
            unknowns.push(format!(
                "cannot read the account's Block Public Access settings: {error}"
            ));
            return;
        }
        _ => PublicAccessBlock::default(),
    };
    let missing = bucket_level.union(account_level).missing();
    if !missing.is_empty() {
        problems.push(format!(
            "Block Public Access is off for {} (at both the bucket and the account level)",
            missing.join(", ")
        ));
    }
}

/// What leaves Macie's access to the bucket unproven.
#[derive(Default)]
struct Doubts {
    /// Each doubt, for the message.
    texts: Vec<String>,
    /// Whether writing our Macie statements would settle them (it cannot overturn another
    /// statement's deny).
    statement_helps: bool,
}

/// Where one of Macie's bucket actions acts, in words after the action: ` under "macie/"` for
/// writing results, ` on the bucket` for locating it.
fn action_words(action: &str, prefix: &str) -> String {
    if action == "s3:PutObject" {
        format!(" under \"{prefix}\"")
    } else {
        " on the bucket".to_owned()
    }
}

fn judge_policy(
    policy: &Policy,
    repository: &Repository<'_>,
    problems: &mut Vec<String>,
    doubts: &mut Doubts,
) {
    if !macie_access::denies_insecure_transport(policy, repository.bucket, repository.prefix) {
        problems.push(
            "its policy does not deny requests made without TLS (aws:SecureTransport false)".into(),
        );
    }
    let exporter = repository.exporter();
    let principal = exporter.principal();
    let answers = macie_access::bucket_answers(
        policy,
        repository.bucket,
        repository.prefix,
        repository.key_arn,
        exporter,
    );
    for (action, answer) in answers {
        let what = action_words(action, repository.prefix);
        match answer {
            Answer::Allowed { .. } => {}
            Answer::Denied { by } => problems.push(format!(
                "its policy denies {principal} {action}{what} (statement {})",
                super::key_usable::quoted(&by)
            )),
            Answer::Uncertain { depends_on } => {
                doubts.statement_helps |= depends_on.iter().all(|s| s.effect == Effect::Allow);
                doubts.texts.push(format!(
                    "its policy {}",
                    macie_access::uncertain_clause(
                        &format!("{principal} {action}{what}"),
                        &depends_on,
                        if action == "s3:PutObject" {
                            "Macie can write"
                        } else {
                            "Macie can locate the bucket"
                        }
                    )
                ));
            }
            Answer::NotAllowed { near_misses } => {
                let base = format!(
                    "its policy does not allow {principal} {action}{what} for account {}",
                    repository.macie_account
                );
                problems.push(
                    match macie_access::near_miss_clause(&near_misses, &exporter) {
                        Some(clause) => format!("{base}: {clause}"),
                        None => base,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_says, judge, repository_run};

    const OU_PATH: &str = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/";
    /// A key policy that lets Macie use the key: MACIE-004 does not look at it.
    const KEY_POLICY: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}]}"#;
    const TLS_ONLY: &str = r#"{"Sid": "SecureTransport", "Effect": "Deny", "Principal": "*",
      "Action": "s3:*", "Resource": ["arn:aws:s3:::macie-results", "arn:aws:s3:::macie-results/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#;
    const LOCATE: &str = r#"{"Sid": "AWSBucketPermissionsCheck", "Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation", "s3:ListBucket"],
      "Resource": "arn:aws:s3:::macie-results"}"#;

    fn verdict_on(statements: &[&str]) -> Verdict {
        let policy = format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            statements.join(",")
        );
        judge(&RULE, &repository_run(KEY_POLICY, &policy, OU_PATH))
    }

    #[test]
    fn a_grant_to_an_ou_with_a_wildcard_passes() {
        let verdict = verdict_on(&[
            TLS_ONLY,
            LOCATE,
            r#"{"Sid": "OuWrites", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/macie/*",
              "Condition": {"ForAnyValue:StringLike":
                {"aws:SourceOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}}"#,
        ]);
        assert_eq!(verdict.status, Status::Pass, "{}", verdict.message);
    }

    #[test]
    fn the_sra_bucket_policy_warns_naming_the_acl_header() {
        let verdict = verdict_on(&[
            r#"{"Sid": "DenyPutObjectUnlessMacie", "Effect": "Deny", "Principal": "*",
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*",
              "Condition": {"ForAnyValue:StringNotEquals": {"aws:CalledVia": "macie.amazonaws.com"}}}"#,
            TLS_ONLY,
            r#"{"Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*",
              "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id":
                "arn:aws:kms:us-east-1:111111111111:key/k"}}}"#,
            LOCATE,
            r#"{"Sid": "AWSBucketDelivery", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*",
              "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}"#,
        ]);
        assert_says(
            &verdict,
            Status::Warn,
            &[
                "its policy allows macie.amazonaws.com s3:PutObject under \"macie/\" only when \
                 s3:x-amz-acl is bucket-owner-full-control (statement \"AWSBucketDelivery\"); AWS \
                 does not document what Macie's request holds for s3:x-amz-acl, so whether Macie \
                 can write cannot be proven",
            ],
        );
        assert!(!verdict.remediation.is_empty());
    }

    #[test]
    fn a_deny_on_an_undocumented_header_warns_without_a_fix() {
        let verdict = verdict_on(&[
            TLS_ONLY,
            LOCATE,
            r#"{"Sid": "OwnerMustOwn", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
              "Resource": "arn:aws:s3:::macie-results/*",
              "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}"#,
            r#"{"Sid": "Writes", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*"}"#,
        ]);
        assert_says(
            &verdict,
            Status::Warn,
            &[
                "denies macie.amazonaws.com s3:PutObject under \"macie/\" when s3:x-amz-acl is \
                 not bucket-owner-full-control (statement \"OwnerMustOwn\")",
            ],
        );
        assert!(verdict.remediation.is_empty());
    }

    #[test]
    fn a_source_arn_of_another_region_fails_and_says_so() {
        let verdict = verdict_on(&[
            TLS_ONLY,
            LOCATE,
            r#"{"Sid": "MacieEU", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/macie/*",
              "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:macie2:eu-west-1:111111111111:export-configuration:*"}}}"#,
        ]);
        assert_says(
            &verdict,
            Status::Fail,
            &[
                "its policy does not allow macie.amazonaws.com s3:PutObject under \"macie/\" for \
                 account 111111111111: statement \"MacieEU\" allows it only when aws:SourceArn \
                 matches arn:aws:macie2:eu-west-1:111111111111:export-configuration:* (another Region)",
            ],
        );
    }
}
