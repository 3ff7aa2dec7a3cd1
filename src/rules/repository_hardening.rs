//! MACIE-005: repository hardening (default encryption, versioning or Object Lock, key rotation).

use super::repository::{Repository, judging, list};
use super::{Absence, Rule, RuleInput, Verdict};
use crate::evidence::{BucketEvidence, BucketOwner, KeyEvidence, Outcome};
use crate::findings::{Severity, Status};

pub(super) const RULE: Rule = Rule {
    id: "MACIE-005",
    title: "Repository hardening",
    severity: Severity::Low,
    rationale: "Defence in depth for the evidence itself: default SSE-KMS encryption with the repository key \
                protects objects written by anyone else, versioning or Object Lock keeps results from being \
                overwritten or deleted, and automatic key rotation limits the life of key material.",
    remediation: "aws s3api put-bucket-encryption --bucket <bucket> --server-side-encryption-configuration \
                  '{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\
                  \"KMSMasterKeyID\":\"<key ARN>\"},\"BucketKeyEnabled\":true}]}'; aws s3api \
                  put-bucket-versioning --bucket <bucket> --versioning-configuration Status=Enabled; \
                  aws kms enable-key-rotation --key-id <key ARN>.",
    conformity_rule: None,
    check,
};

/// Why neither default encryption nor versioning can be on.
const MISSING_BUCKET: &str = "the bucket does not exist";

/// Why both bucket items are unknown: one reason, said once.
fn unverifiable_bucket(reason: &str) -> String {
    format!("default encryption and versioning: {reason}")
}

/// One hardening item's result.
enum Item {
    Ok,
    Weak(String),
    Missing(String),
    Unknown(String),
}

fn check(input: &RuleInput<'_>) -> Verdict {
    let absence = Absence::of(input.run);
    let (repository, note, verdict) = match judging(input, Repository::bucket_arn) {
        Ok(judging) => judging,
        Err(verdict) => return verdict,
    };
    let bucket = input.run.bucket(repository.bucket);
    let key = input.run.key(repository.key_arn);
    let items = [
        encryption_item(bucket, key, &repository, absence),
        retention_item(bucket, absence),
        rotation_item(key, absence),
    ];
    let pick = |wanted: fn(&Item) -> Option<&String>| -> Vec<String> {
        items.iter().filter_map(wanted).cloned().collect()
    };
    let missing = pick(|i| {
        if let Item::Missing(m) = i {
            Some(m)
        } else {
            None
        }
    });
    let weak = pick(|i| if let Item::Weak(m) = i { Some(m) } else { None });
    let mut unknown = pick(|i| {
        if let Item::Unknown(m) = i {
            Some(m)
        } else {
            None
        }
    });
    unknown.dedup();
    let subject = format!("Repository {} / {}", repository.bucket, repository.key_arn);
    let bucket_owner = match bucket.map(|b| &b.owner) {
        Some(BucketOwner::Account { account_id }) => account_id.as_str(),
        _ => repository.macie_account,
    };
    let bucket_region = bucket
        .and_then(|b| b.location.as_ref())
        .and_then(|l| l.response())
        .map_or(repository.region, String::as_str);
    let key_owner = key.map_or(repository.macie_account, |k| k.owner_account.as_str());
    let key_region = key.map_or(repository.region, |k| k.region.as_str());
    let steps = [
        format!(
            "In account {bucket_owner}: aws s3api put-bucket-encryption --region {bucket_region} --bucket {} --server-side-encryption-configuration \
             '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"{}\"}},\"BucketKeyEnabled\":true}}]}}'",
            repository.bucket, repository.key_arn
        ),
        format!(
            "In account {bucket_owner}: aws s3api put-bucket-versioning --region {bucket_region} --bucket {} --versioning-configuration Status=Enabled",
            repository.bucket
        ),
        format!(
            "In account {key_owner}: aws kms enable-key-rotation --region {key_region} --key-id {}",
            repository.key_arn
        ),
    ];
    // What does not exist is made first, as MACIE-004 and MACIE-003 say; hardening follows.
    let prerequisites = [
        bucket.is_some_and(BucketEvidence::missing).then(|| {
            format!(
                "Create bucket {} first (MACIE-004 gives the steps), then:",
                repository.bucket
            )
        }),
        key.is_some_and(KeyEvidence::missing).then(|| {
            format!(
                "Replace key {} first (MACIE-003 gives the steps), then, with the new key:",
                repository.key_arn
            )
        }),
    ];
    let fixes: Vec<String> = prerequisites
        .into_iter()
        .flatten()
        .chain(
            items
                .iter()
                .zip(steps)
                .filter(|(item, _)| matches!(item, Item::Missing(_) | Item::Weak(_)))
                .map(|(_, step)| step),
        )
        .collect();
    if !missing.is_empty() {
        let mut all: Vec<String> = missing.into_iter().chain(weak).collect();
        // A missing bucket is the reason of both of its items: said once.
        all.dedup();
        return verdict(
            Status::Fail,
            list(&format!("{subject} lacks hardening"), &all, &note),
        )
        .fix(fixes);
    }
    if !unknown.is_empty() {
        return verdict(Status::Error, list(&subject, &unknown, &note));
    }
    if !weak.is_empty() {
        return verdict(
            Status::Warn,
            list(&format!("{subject} is hardened, but"), &weak, &note),
        )
        .fix(fixes);
    }
    verdict(
        Status::Pass,
        format!(
            "{subject}: default SSE-KMS with the repository key, versioning or Object Lock on, key rotation on.{note}"
        ),
    )
}

/// The bucket both bucket items are judged on, or the item both are when it was not read, could
/// not be verified or does not exist.
fn readable_bucket(
    bucket: Option<&BucketEvidence>,
    absence: Absence,
) -> Result<&BucketEvidence, Item> {
    let Some(bucket) = bucket else {
        return Err(Item::Unknown(absence.not_read("the bucket")));
    };
    if let Some(reason) = &bucket.unverifiable {
        return Err(Item::Unknown(unverifiable_bucket(reason)));
    }
    if bucket.missing() {
        return Err(Item::Missing(MISSING_BUCKET.into()));
    }
    Ok(bucket)
}

fn encryption_item(
    bucket: Option<&BucketEvidence>,
    key: Option<&KeyEvidence>,
    repository: &Repository<'_>,
    absence: Absence,
) -> Item {
    let bucket = match readable_bucket(bucket, absence) {
        Ok(bucket) => bucket,
        Err(item) => return item,
    };
    match bucket.encryption.as_ref().map(|e| &e.outcome) {
        Some(Outcome::Response(None)) => {
            Item::Missing("the bucket has no default encryption".into())
        }
        Some(Outcome::Response(Some(encryption)))
            if !encryption.algorithm.starts_with("aws:kms") =>
        {
            Item::Missing(format!(
                "default encryption is {}, not SSE-KMS",
                encryption.algorithm
            ))
        }
        Some(Outcome::Response(Some(encryption))) => {
            let key_arn = key
                .and_then(|k| k.metadata.as_ref())
                .and_then(|m| m.response())
                .map(|m| m.arn.as_str());
            let configured = encryption.kms_key_id.as_deref().unwrap_or_default();
            if same_key(configured, repository.key_arn, key_arn) {
                Item::Ok
            } else if configured.starts_with("alias/") || configured.contains(":alias/") {
                // An alias may name the repository key; the scan does not resolve aliases, so
                // this is the one case it cannot decide.
                Item::Weak(format!(
                    "default encryption names the KMS alias {configured}, which the scan does not \
                     resolve: check that it is the repository key"
                ))
            } else {
                // A key id or ARN that is not the repository key's: a fact, not a doubt.
                Item::Missing(format!(
                    "default encryption uses KMS key {}, not the repository key",
                    if configured.is_empty() {
                        "aws/s3"
                    } else {
                        configured
                    }
                ))
            }
        }
        Some(Outcome::Error(error)) => Item::Unknown(format!(
            "cannot read default encryption: {}",
            error.explained()
        )),
        None => Item::Unknown("default encryption was not read".into()),
    }
}

/// Whether a bucket's default encryption key (id, ARN or alias) is the repository key.
fn same_key(configured: &str, repository_arn: &str, described_arn: Option<&str>) -> bool {
    if configured.is_empty() {
        return false;
    }
    let key_id = |arn: &str| arn.rsplit('/').next().unwrap_or_default().to_owned();
    [Some(repository_arn), described_arn]
        .into_iter()
        .flatten()
        .any(|arn| configured == arn || (!configured.contains(':') && configured == key_id(arn)))
}

fn retention_item(bucket: Option<&BucketEvidence>, absence: Absence) -> Item {
    let bucket = match readable_bucket(bucket, absence) {
        Ok(bucket) => bucket,
        Err(item) => return item,
    };
    let versioning = bucket.versioning.as_ref().map(|v| &v.outcome);
    let object_lock = bucket.object_lock.as_ref().map(|o| &o.outcome);
    match (versioning, object_lock) {
        (Some(Outcome::Response(Some(status))), _) if status == "Enabled" => Item::Ok,
        (_, Some(Outcome::Response(true))) => Item::Ok,
        (Some(Outcome::Response(_)), Some(Outcome::Response(false))) => {
            Item::Missing("neither versioning nor Object Lock is enabled on the bucket".into())
        }
        (Some(Outcome::Error(error)), _) | (_, Some(Outcome::Error(error))) => {
            Item::Unknown(format!(
                "cannot read versioning or Object Lock: {}",
                error.explained()
            ))
        }
        _ => Item::Unknown("versioning and Object Lock were not read".into()),
    }
}

fn rotation_item(key: Option<&KeyEvidence>, absence: Absence) -> Item {
    let Some(key) = key else {
        return Item::Unknown(absence.not_read("the key"));
    };
    if let Some(reason) = &key.unverifiable {
        return Item::Unknown(format!("key rotation: {reason}"));
    }
    if key.missing() {
        return Item::Missing("the key does not exist".into());
    }
    let state = key
        .metadata
        .as_ref()
        .and_then(|m| m.response())
        .map(|m| m.state.as_str())
        .filter(|state| !state.is_empty() && *state != "Enabled");
    match key.rotation_enabled.as_ref().map(|r| &r.outcome) {
        Some(Outcome::Response(true)) => Item::Ok,
        Some(Outcome::Response(false)) => Item::Missing("automatic key rotation is off".into()),
        // KMS refuses to say for a key in a state that has no rotation (PendingDeletion): a
        // fact about the key (MACIE-003 fails it), not a call that could not be made.
        Some(Outcome::Error(error))
            if error.code.as_deref() == Some("KMSInvalidStateException") && state.is_some() =>
        {
            Item::Missing(format!(
                "the key is {}, so it has no automatic rotation",
                state.unwrap_or_default()
            ))
        }
        Some(Outcome::Error(error)) => {
            Item::Unknown(format!("cannot read key rotation: {}", error.explained()))
        }
        None => Item::Unknown("key rotation was not read (the key could not be described)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{ErrorKind, KeyMetadata};
    use crate::rules::testing::{err, ok};

    fn key(state: &str) -> KeyEvidence {
        KeyEvidence {
            arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            owner_account: "111111111111".into(),
            region: "us-east-1".into(),
            unverifiable: None,
            metadata: Some(ok(
                "kms:DescribeKey",
                KeyMetadata {
                    arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
                    state: state.into(),
                    manager: "CUSTOMER".into(),
                    spec: "SYMMETRIC_DEFAULT".into(),
                    usage: "ENCRYPT_DECRYPT".into(),
                    multi_region: false,
                },
            )),
            policy: None,
            rotation_enabled: Some(err(
                "kms:GetKeyRotationStatus",
                ErrorKind::Other,
                "KMSInvalidStateException",
            )),
        }
    }

    #[test]
    fn rotation_of_a_key_pending_deletion_is_a_fact_not_an_error() {
        match rotation_item(
            Some(&key("PendingDeletion")),
            super::super::Absence::MissingFromFile,
        ) {
            Item::Missing(message) => assert!(message.contains("PendingDeletion"), "{message}"),
            _ => panic!("a key pending deletion has no rotation"),
        }
        assert!(
            matches!(
                rotation_item(
                    Some(&key("Enabled")),
                    super::super::Absence::MissingFromFile
                ),
                Item::Unknown(_)
            ),
            "an Enabled key refused for its state is not explained by its state"
        );
    }

    #[test]
    fn a_missing_key_has_no_rotation() {
        let mut missing = key("Enabled");
        missing.metadata = Some(err(
            "kms:DescribeKey",
            ErrorKind::NotFound,
            "NotFoundException",
        ));
        missing.rotation_enabled = None;
        match rotation_item(Some(&missing), super::super::Absence::MissingFromFile) {
            Item::Missing(message) => assert_eq!(message, "the key does not exist"),
            _ => panic!("a missing key is a fact"),
        }
    }
}
