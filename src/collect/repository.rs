//! Repository evidence: every distinct bucket and key named by an export configuration, read
//! once per run with the credentials of the account that owns it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_config::SdkConfig;
use futures::StreamExt;

use super::AccountCollection;
use crate::aws::AwsEnvironment;
use crate::aws::observe::{observation, observation_or_absent};
use crate::evidence::{
    Account, BucketEncryption, BucketEvidence, BucketOwner, KeyEvidence, KeyMetadata, Observation,
    PublicAccessBlock,
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
    /// An account whose configuration names the bucket: it probes a bucket no account in scope owns.
    referrer: String,
    /// Accounts likely to own it (the expected owner, the key's account), tried when the bucket's
    /// owner is in scope but in another shard.
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

/// Reads every repository bucket and key once, `concurrency` at a time. A repository owned by an
/// account of `other_members` (in scope, scanned by another shard) is read with that account's role.
pub async fn collect_repositories(
    env: &AwsEnvironment,
    accounts: &[AccountCollection],
    other_members: &[Account],
    caller_account: &str,
    concurrency: usize,
) -> (Vec<BucketEvidence>, Vec<KeyEvidence>) {
    let (buckets, keys) = references(accounts);
    let mut owners: HashMap<String, String> = bucket_owners(accounts)
        .into_iter()
        .map(|(bucket, owner)| (bucket.to_owned(), owner.to_owned()))
        .collect();
    let mut configs: HashMap<String, SdkConfig> = accounts
        .iter()
        .filter_map(|c| {
            c.sdk_config
                .clone()
                .map(|conf| (c.account.account.id.clone(), conf))
        })
        .collect();

    // Owners in other shards: the likely owners of unresolved buckets, and the keys' accounts.
    let mut wanted: BTreeSet<&str> = buckets
        .iter()
        .filter(|(name, _)| !owners.contains_key(*name))
        .flat_map(|(_, reference)| reference.likely_owners.iter().map(String::as_str))
        .collect();
    wanted.extend(
        keys.iter()
            .filter_map(|arn| parse_key_arn(arn).map(|(_, account)| account)),
    );
    for account in other_members
        .iter()
        .filter(|a| a.is_active() && wanted.contains(a.id.as_str()))
    {
        if configs.contains_key(&account.id) {
            continue;
        }
        let credentials = env.credentials_for(&account.id, caller_account);
        let conf = env.account_config(&credentials).await;
        let listed = super::list_buckets(env, &conf, &account.id).await;
        if let Some(names) = listed.response() {
            for name in names {
                owners
                    .entry(name.clone())
                    .or_insert_with(|| account.id.clone());
            }
            configs.insert(account.id.clone(), conf);
        }
    }
    let owners: HashMap<&str, &str> = owners
        .iter()
        .map(|(b, o)| (b.as_str(), o.as_str()))
        .collect();
    let configs: HashMap<&str, &SdkConfig> = configs.iter().map(|(a, c)| (a.as_str(), c)).collect();

    let bucket_reads = futures::stream::iter(buckets)
        .map(|(name, reference)| {
            let owner = owners.get(name.as_str()).copied();
            let owner_config = owner.and_then(|o| configs.get(o).copied());
            let referrer = configs
                .get(reference.referrer.as_str())
                .map(|conf| (reference.referrer.clone(), *conf));
            async move {
                match (owner, owner_config) {
                    (Some(owner), Some(conf)) => read_bucket(env, name, owner, conf).await,
                    _ => probe_bucket(env, name, referrer).await,
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let key_reads = futures::stream::iter(keys)
        .map(|arn| {
            let owner_config =
                parse_key_arn(&arn).and_then(|(_, account)| configs.get(account).copied());
            async move { read_key(env, arn, owner_config).await }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    let (mut buckets, mut keys) = tokio::join!(bucket_reads, key_reads);
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    keys.sort_by(|a, b| a.arn.cmp(&b.arn));
    (buckets, keys)
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

/// A bucket no account in scope owns: HeadBucket from an account that names it tells a missing
/// bucket (404) from one owned elsewhere (403, or 200 through a policy).
async fn probe_bucket(
    env: &AwsEnvironment,
    name: String,
    referrer: Option<(String, &SdkConfig)>,
) -> BucketEvidence {
    let mut evidence = empty_bucket(name, BucketOwner::Unknown);
    let Some((referrer, conf)) = referrer else {
        evidence.unverifiable = Some(
            "not verifiable from the organization: no account in scope owns the bucket".into(),
        );
        return evidence;
    };
    let s3 = env.s3(conf, &referrer, env.home_region());
    let result = env
        .limited(s3.head_bucket().bucket(&evidence.name).send())
        .await;
    let probe = observation("s3:HeadBucket", result, |_| ());
    let missing = probe
        .error()
        .is_some_and(|e| e.kind == crate::evidence::ErrorKind::NotFound);
    if !missing {
        evidence.unverifiable = Some(format!(
            "not verifiable from the organization: the bucket exists but no account in scope owns it \
             (probed from {referrer})"
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

/// Reads a key's evidence with its owner's credentials (`None`: the owner is not reachable).
pub(crate) async fn read_key(
    env: &AwsEnvironment,
    arn: String,
    owner_config: Option<&SdkConfig>,
) -> KeyEvidence {
    let (region, owner) = parse_key_arn(&arn)
        .map(|(r, a)| (r.to_owned(), a.to_owned()))
        .unwrap_or_default();
    let mut evidence = KeyEvidence {
        arn,
        owner_account: owner.clone(),
        region: region.clone(),
        unverifiable: None,
        metadata: None,
        policy: None,
        rotation_enabled: None,
    };
    if owner.is_empty() {
        evidence.unverifiable = Some("not a KMS key ARN".into());
        return evidence;
    }
    let Some(conf) = owner_config else {
        evidence.unverifiable = Some(format!(
            "not verifiable from the organization: the key's account {owner} is not in scope or could not be reached"
        ));
        return evidence;
    };
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
