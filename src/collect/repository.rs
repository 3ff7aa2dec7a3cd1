//! Repository evidence: every distinct bucket and key named by an export configuration, read
//! once per run with the credentials of the account that owns it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_config::SdkConfig;
use futures::StreamExt;

use super::AccountCollection;
use crate::aws::AwsEnvironment;
use crate::aws::observe::{observation, observation_or_absent};
use crate::evidence::{
    Account, ApiError, BucketEncryption, BucketEvidence, BucketOwner, ErrorKind, KeyEvidence,
    KeyMetadata, Observation, Outcome, PublicAccessBlock,
};

/// The four settings of an S3 or S3 Control Block Public Access answer (two SDK types of the same
/// shape); a setting that is absent is off.
macro_rules! public_access_block {
    ($configuration:expr) => {{
        let c = $configuration;
        PublicAccessBlock {
            block_public_acls: c.and_then(|c| c.block_public_acls()).unwrap_or(false),
            ignore_public_acls: c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
            block_public_policy: c.and_then(|c| c.block_public_policy()).unwrap_or(false),
            restrict_public_buckets: c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
        }
    }};
}

/// A repository as an export configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BucketReference {
    /// An account whose configuration names the bucket: it probes a bucket no reachable account
    /// lists.
    referrer: String,
    /// Accounts likely to own it (the expected owner, the key's account), reached when no
    /// account in scope lists it.
    likely_owners: BTreeSet<String>,
}

/// The account owning each bucket, from the accounts' ListBuckets answers.
fn bucket_owners(accounts: &[AccountCollection]) -> HashMap<&str, &str> {
    let mut owners = HashMap::new();
    for collection in accounts {
        let listed = collection
            .account
            .buckets
            .as_ref()
            .and_then(Observation::response);
        for bucket in listed.into_iter().flatten() {
            owners.insert(bucket.as_str(), collection.account.account.id.as_str());
        }
    }
    owners
}

/// The complete repositories (bucket and key) named by the collected export configurations.
fn references(accounts: &[AccountCollection]) -> (BTreeMap<String, BucketReference>, Vec<String>) {
    let mut buckets = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for collection in accounts {
        let account_id = &collection.account.account.id;
        for destination in &collection.destinations {
            let (Some(bucket), Some(key)) = (
                destination
                    .bucket_name
                    .as_deref()
                    .filter(|b| !b.trim().is_empty()),
                destination
                    .kms_key_arn
                    .as_deref()
                    .filter(|k| !k.trim().is_empty()),
            ) else {
                continue;
            };
            let reference = buckets
                .entry(bucket.to_owned())
                .or_insert_with(|| BucketReference {
                    referrer: account_id.clone(),
                    likely_owners: BTreeSet::new(),
                });
            reference
                .likely_owners
                .extend(destination.expected_bucket_owner.iter().cloned());
            if let Some((_, account)) = parse_key_arn(key) {
                reference.likely_owners.insert(account.to_owned());
            }
            keys.insert(key.to_owned());
        }
    }
    (buckets, keys.into_iter().collect())
}

/// Why the account owning a repository cannot be read from: said in "not verifiable from the
/// organization" messages, which must tell these apart.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unreachable {
    /// The organization does not list it.
    NotMember,
    /// Left out by `scope.exclude_accounts`: explicitly not to be touched.
    Excluded,
    /// Listed, but not ACTIVE (SUSPENDED, PENDING_CLOSURE).
    NotActive(String),
    /// ACTIVE, but its role could not be assumed (or, with the credentials it gave,
    /// GetCallerIdentity failed).
    RoleNotUsable { role_arn: String, error: ApiError },
    /// In scope, but this run did not get to it (it stopped starting accounts).
    NotReached,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreachable::NotMember => f.write_str("is not a member of the organization"),
            Unreachable::Excluded => f.write_str("is excluded by configuration"),
            Unreachable::NotActive(status) => write!(f, "is {status}"),
            Unreachable::RoleNotUsable { role_arn, error }
                if error.kind == ErrorKind::AssumeRoleFailed =>
            {
                write!(
                    f,
                    "is ACTIVE, but its role {role_arn} could not be assumed: {error}"
                )
            }
            Unreachable::RoleNotUsable { role_arn, error } => {
                write!(
                    f,
                    "is ACTIVE, but acting in it with {role_arn} failed: {error}"
                )
            }
            Unreachable::NotReached => f.write_str("was not reached by this run"),
        }
    }
}

/// How each account that may own a repository is read from: its configuration, or why not.
type Access = HashMap<String, Result<SdkConfig, Unreachable>>;

/// What collection learnt of the accounts in scope: their configurations (or why there is none).
fn scanned_access(accounts: &[AccountCollection]) -> Access {
    accounts
        .iter()
        .map(|collection| {
            let account = &collection.account;
            let access = match (&collection.sdk_config, &account.access) {
                (Some(conf), _) => Ok(conf.clone()),
                _ if !account.account.is_active() => {
                    Err(Unreachable::NotActive(account.account.status.clone()))
                }
                (None, Some(access)) => match access.identity.error() {
                    Some(error) => Err(unusable_role(access.role_arn.as_deref(), error)),
                    None => Err(Unreachable::NotReached),
                },
                (None, None) => Err(Unreachable::NotReached),
            };
            (account.account.id.clone(), access)
        })
        .collect()
}

fn unusable_role(role_arn: Option<&str>, error: &ApiError) -> Unreachable {
    Unreachable::RoleNotUsable {
        role_arn: role_arn
            .unwrap_or("(the caller's own credentials)")
            .to_owned(),
        error: error.clone(),
    }
}

/// Reads every repository bucket and key once, `concurrency` at a time, with its owner's
/// credentials. An owner the run does not judge (an ACTIVE account of `other_members`: another
/// shard's, or outside the account filter) is reached with its role, assumed once; an owner that
/// is `excluded`, not ACTIVE, outside the organization or whose role is refused leaves its
/// repository unverifiable, saying which.
pub async fn collect_repositories(
    env: &AwsEnvironment,
    accounts: &[AccountCollection],
    other_members: &[Account],
    excluded: &[Account],
    caller_account: &str,
    concurrency: usize,
) -> (Vec<BucketEvidence>, Vec<KeyEvidence>) {
    let (buckets, keys) = references(accounts);
    let mut owners: HashMap<String, String> = bucket_owners(accounts)
        .into_iter()
        .map(|(bucket, owner)| (bucket.to_owned(), owner.to_owned()))
        .collect();
    let mut access = scanned_access(accounts);

    // Owners the scan did not reach: the likely owners of unresolved buckets, and the keys'
    // accounts.
    let mut wanted: BTreeSet<&str> = buckets
        .iter()
        .filter(|(name, _)| !owners.contains_key(*name))
        .flat_map(|(_, reference)| reference.likely_owners.iter().map(String::as_str))
        .collect();
    wanted.extend(
        keys.iter()
            .filter_map(|arn| parse_key_arn(arn).map(|(_, account)| account)),
    );
    wanted.retain(|account| !access.contains_key(*account));
    let reached = futures::stream::iter(wanted)
        .map(|account_id| async move {
            let member = other_members.iter().find(|a| a.id == account_id);
            let reach = match member {
                Some(member) if member.is_active() => {
                    reach_member(env, account_id, caller_account).await
                }
                Some(member) => (Err(Unreachable::NotActive(member.status.clone())), None),
                None if excluded.iter().any(|a| a.id == account_id) => {
                    (Err(Unreachable::Excluded), None)
                }
                None => (Err(Unreachable::NotMember), None),
            };
            (account_id.to_owned(), reach)
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    for (account_id, (reach, listed)) in reached {
        for name in listed.into_iter().flatten() {
            owners.entry(name).or_insert_with(|| account_id.clone());
        }
        access.insert(account_id, reach);
    }
    let owners: HashMap<&str, &str> = owners
        .iter()
        .map(|(b, o)| (b.as_str(), o.as_str()))
        .collect();
    let access = &access;

    let bucket_reads = futures::stream::iter(buckets)
        .map(|(name, reference)| {
            let owner = owners
                .get(name.as_str())
                .and_then(|&owner| match access.get(owner) {
                    Some(Ok(conf)) => Some((owner, conf)),
                    _ => None,
                });
            async move {
                match owner {
                    Some((owner, conf)) => read_bucket(env, name, owner, conf).await,
                    None => probe_bucket(env, name, &reference, access).await,
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let key_reads = futures::stream::iter(keys)
        .map(|arn| async move {
            let owner = parse_key_arn(&arn).map(|(_, account)| account.to_owned());
            match owner.as_deref().map(|o| (o, access.get(o))) {
                None => unverifiable_key(arn, "not a KMS key ARN".into()),
                Some((_, Some(Ok(conf)))) => read_key(env, arn, conf).await,
                Some((owner, reach)) => {
                    let reason = reach
                        .and_then(|r| r.as_ref().err())
                        .cloned()
                        .unwrap_or(Unreachable::NotMember);
                    unverifiable_key(
                        arn,
                        format!(
                            "not verifiable from the organization: the key's account {owner} {reason}"
                        ),
                    )
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let (mut buckets, mut keys) = tokio::join!(bucket_reads, key_reads);
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    keys.sort_by(|a, b| a.arn.cmp(&b.arn));
    (buckets, keys)
}

/// Assumes an ACTIVE member's role as the scan does an account's (GetCallerIdentity, once: the
/// configuration caches the credentials) and lists its buckets. A role that cannot be used makes
/// it unreachable; a refused ListBuckets does not (its keys can still be read), it only leaves
/// its buckets unlisted.
async fn reach_member(
    env: &AwsEnvironment,
    account_id: &str,
    caller_account: &str,
) -> (Result<SdkConfig, Unreachable>, Option<Vec<String>>) {
    let credentials = env.credentials_for(account_id, caller_account);
    let conf = env.account_config(&credentials).await;
    let identity = crate::scope::caller_identity(env, &conf).await;
    if let Some(error) = identity.error() {
        return (Err(unusable_role(credentials.role_arn(), error)), None);
    }
    let listed = super::list_buckets(env, &conf, account_id).await;
    match listed.outcome {
        Outcome::Response(names) => (Ok(conf), Some(names)),
        Outcome::Error(_) => (Ok(conf), None),
    }
}

fn empty_bucket(name: String, owner: BucketOwner) -> BucketEvidence {
    BucketEvidence {
        name,
        owner,
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
    }
}

/// A bucket no reachable account lists: HeadBucket from an account whose configuration names it
/// tells a missing bucket (404, a fact the rules judge) from one owned elsewhere (403, or 200
/// through a policy), which is unverifiable, naming why its likely owners could not be read.
async fn probe_bucket(
    env: &AwsEnvironment,
    name: String,
    reference: &BucketReference,
    access: &Access,
) -> BucketEvidence {
    let mut evidence = empty_bucket(name, BucketOwner::Unknown);
    let Some(Ok(conf)) = access.get(&reference.referrer) else {
        evidence.unverifiable = Some(
            "not verifiable from the organization: no account in scope owns the bucket".into(),
        );
        return evidence;
    };
    let referrer = reference.referrer.as_str();
    let s3 = env.s3(conf, referrer, env.home_region());
    let result = env
        .limited(s3.head_bucket().bucket(&evidence.name).send())
        .await;
    let probe = observation("s3:HeadBucket", result, |_| ());
    let missing = probe.error().is_some_and(|e| e.kind == ErrorKind::NotFound);
    if !missing {
        let owners: Vec<String> = reference
            .likely_owners
            .iter()
            .map(|owner| match access.get(owner) {
                Some(Err(reason)) => format!("{owner} {reason}"),
                _ => format!("{owner} does not list it"),
            })
            .collect();
        let owners = if owners.is_empty() {
            String::new()
        } else {
            format!("; its likely owners: {}", owners.join("; "))
        };
        evidence.unverifiable = Some(format!(
            "not verifiable from the organization: the bucket exists but no account this run can \
             read owns it (probed from {referrer}){owners}"
        ));
    }
    evidence.probe = Some(probe);
    evidence
}

/// Reads a bucket's evidence with its owner's credentials.
pub(crate) async fn read_bucket(
    env: &AwsEnvironment,
    name: String,
    owner: &str,
    conf: &SdkConfig,
) -> BucketEvidence {
    let mut evidence = empty_bucket(
        name,
        BucketOwner::Account {
            account_id: owner.to_owned(),
        },
    );
    let home = env.s3(conf, owner, env.home_region());
    let result = env
        .limited(home.get_bucket_location().bucket(&evidence.name).send())
        .await;
    let location = observation("s3:GetBucketLocation", result, |output| {
        bucket_region(output.location_constraint().map(|c| c.as_str()))
    });
    let Some(region) = location.response().cloned() else {
        evidence.location = Some(location);
        return evidence;
    };
    evidence.location = Some(location);

    let s3 = env.s3(conf, owner, &region);
    let bucket = evidence.name.as_str();
    let (public_access_block, policy_status, policy, encryption, versioning, object_lock) = tokio::join!(
        env.limited(s3.get_public_access_block().bucket(bucket).send()),
        env.limited(s3.get_bucket_policy_status().bucket(bucket).send()),
        env.limited(s3.get_bucket_policy().bucket(bucket).send()),
        env.limited(s3.get_bucket_encryption().bucket(bucket).send()),
        env.limited(s3.get_bucket_versioning().bucket(bucket).send()),
        env.limited(s3.get_object_lock_configuration().bucket(bucket).send()),
    );
    let public_access_block = observation_or_absent(
        "s3:GetPublicAccessBlock",
        public_access_block,
        &["NoSuchPublicAccessBlockConfiguration"],
        |output| public_access_block!(output.public_access_block_configuration()),
    );
    let bucket_blocks_all = public_access_block
        .response()
        .and_then(|block| *block)
        .is_some_and(|block| block.missing().is_empty());
    if !bucket_blocks_all {
        let control = env.s3control(conf, owner);
        let result = env
            .limited(control.get_public_access_block().account_id(owner).send())
            .await;
        evidence.account_public_access_block = Some(observation_or_absent(
            "s3control:GetPublicAccessBlock",
            result,
            &["NoSuchPublicAccessBlockConfiguration"],
            |output| public_access_block!(output.public_access_block_configuration()),
        ));
    }
    evidence.public_access_block = Some(public_access_block);
    // No policy at all is not public.
    let policy_status = observation_or_absent(
        "s3:GetBucketPolicyStatus",
        policy_status,
        &["NoSuchBucketPolicy"],
        |output| {
            output
                .policy_status()
                .and_then(|status| status.is_public())
                .unwrap_or(false)
        },
    );
    evidence.policy_status = Some(policy_status.map_response(|public| public.unwrap_or(false)));
    evidence.policy = Some(observation_or_absent(
        "s3:GetBucketPolicy",
        policy,
        &["NoSuchBucketPolicy"],
        |output| output.policy().unwrap_or_default().to_owned(),
    ));
    evidence.encryption = Some(
        observation_or_absent(
            "s3:GetBucketEncryption",
            encryption,
            &["ServerSideEncryptionConfigurationNotFoundError"],
            |output| {
                output
                    .server_side_encryption_configuration()
                    .and_then(|c| c.rules().first())
                    .and_then(|rule| rule.apply_server_side_encryption_by_default())
                    .map(|default| BucketEncryption {
                        algorithm: default.sse_algorithm().as_str().to_owned(),
                        kms_key_id: default.kms_master_key_id().map(str::to_owned),
                    })
            },
        )
        .map_response(Option::flatten),
    );
    evidence.versioning = Some(observation(
        "s3:GetBucketVersioning",
        versioning,
        |output| output.status().map(|status| status.as_str().to_owned()),
    ));
    evidence.object_lock = Some(
        observation_or_absent(
            "s3:GetObjectLockConfiguration",
            object_lock,
            &["ObjectLockConfigurationNotFoundError"],
            |output| {
                output
                    .object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled())
                    .is_some_and(|enabled| enabled.as_str() == "Enabled")
            },
        )
        .map_response(|enabled| enabled.unwrap_or(false)),
    );
    evidence
}

/// What DescribeKey says of a key.
pub(crate) fn key_metadata(
    output: &aws_sdk_kms::operation::describe_key::DescribeKeyOutput,
) -> KeyMetadata {
    let m = output.key_metadata();
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    KeyMetadata {
        arn: text(m.and_then(|m| m.arn())),
        state: text(m.and_then(|m| m.key_state()).map(|s| s.as_str())),
        manager: text(m.and_then(|m| m.key_manager()).map(|s| s.as_str())),
        spec: text(m.and_then(|m| m.key_spec()).map(|s| s.as_str())),
        usage: text(m.and_then(|m| m.key_usage()).map(|s| s.as_str())),
        multi_region: m.and_then(|m| m.multi_region()).unwrap_or(false),
    }
}

/// The Region a location constraint means: none or empty is us-east-1, `EU` is eu-west-1.
pub fn bucket_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".into(),
        Some("EU") => "eu-west-1".into(),
        Some(region) => region.into(),
    }
}

/// The Region and account of a KMS key (or alias) ARN.
pub fn parse_key_arn(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", _, "kms", region, account, resource]
            if !region.is_empty()
                && crate::config::is_account_id(account)
                && (resource.starts_with("key/") || resource.starts_with("alias/")) =>
        {
            Some((region, account))
        }
        _ => None,
    }
}

/// A key's evidence without any read, and why it could not be read.
fn unverifiable_key(arn: String, reason: String) -> KeyEvidence {
    let mut evidence = empty_key(arn);
    evidence.unverifiable = Some(reason);
    evidence
}

fn empty_key(arn: String) -> KeyEvidence {
    let (region, owner) = parse_key_arn(&arn)
        .map(|(r, a)| (r.to_owned(), a.to_owned()))
        .unwrap_or_default();
    KeyEvidence {
        arn,
        owner_account: owner,
        region,
        unverifiable: None,
        metadata: None,
        policy: None,
        rotation_enabled: None,
    }
}

/// Reads a key's evidence with its owner's credentials.
pub(crate) async fn read_key(env: &AwsEnvironment, arn: String, conf: &SdkConfig) -> KeyEvidence {
    let mut evidence = empty_key(arn);
    if evidence.owner_account.is_empty() {
        evidence.unverifiable = Some("not a KMS key ARN".into());
        return evidence;
    }
    let (owner, region) = (evidence.owner_account.clone(), evidence.region.clone());
    let kms = env.kms(conf, &owner, &region);
    let result = env
        .limited(kms.describe_key().key_id(&evidence.arn).send())
        .await;
    let metadata = observation("kms:DescribeKey", result, |output| key_metadata(&output));
    let Some(key_arn) = metadata.response().map(|m| m.arn.clone()) else {
        evidence.metadata = Some(metadata);
        return evidence;
    };
    evidence.metadata = Some(metadata);
    let (policy, rotation) = tokio::join!(
        env.limited(
            kms.get_key_policy()
                .key_id(&key_arn)
                .policy_name("default")
                .send()
        ),
        env.limited(kms.get_key_rotation_status().key_id(&key_arn).send()),
    );
    evidence.policy = Some(observation("kms:GetKeyPolicy", policy, |output| {
        output.policy().unwrap_or_default().to_owned()
    }));
    evidence.rotation_enabled = Some(observation(
        "kms:GetKeyRotationStatus",
        rotation,
        |output| output.key_rotation_enabled(),
    ));
    evidence
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_quirks() {
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("af-south-1")), "af-south-1");
    }

    #[test]
    fn key_arns() {
        assert_eq!(
            parse_key_arn("arn:aws:kms:eu-west-1:111111111111:key/abc"),
            Some(("eu-west-1", "111111111111"))
        );
        assert_eq!(
            parse_key_arn("arn:aws:kms:eu-west-1:111111111111:alias/macie"),
            Some(("eu-west-1", "111111111111"))
        );
        assert_eq!(parse_key_arn("alias/macie"), None);
        assert_eq!(parse_key_arn("arn:aws:s3:::bucket"), None);
    }
}
