//! The evidence model: what AWS said, with request ids and timestamps.
//!
//! Evidence is the contract between collection and evaluation. It is written as JSON Lines
//! (`evidence.jsonl`): a `run` record first, then each account's `account` record followed by
//! its `account_region` records (one per Region examined), in the order the accounts were
//! collected, then the repositories' `bucket` and `key` records, the `resource_control_policies`
//! record (the RCPs over their owners, when the run read them) and the `run_end` record. Readers
//! accept the records in any order after the run record. A past run is re-evaluated from this
//! file alone.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::RulesConfig;
use crate::error::{Error, Result};

mod resource_controls;
mod store;
mod writer;

pub use resource_controls::{
    AccountControls, AppliedPolicy, DescribedPolicy, FULL_ACCESS_POLICY_ID, PolicyDocument,
    PolicySummary, RESOURCE_CONTROL_POLICY, ResourceControlEvidence, TargetPolicies,
    targets_of_account,
};
pub use store::Evidence;
pub(crate) use writer::RecordRef;
pub use writer::{AccountSink, EvidenceWriter};

/// Version of the evidence format; bumped on incompatible changes.
pub const EVIDENCE_SCHEMA_VERSION: u32 = 1;

/// One line of `evidence.jsonl`.
// Records exist one at a time, while a line is written or read: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum EvidenceRecord {
    /// The run's header: when, by whom, over what scope.
    Run(RunHeader),
    /// An account of the organization and how it was reached.
    Account(AccountEvidence),
    /// What Macie said in one account and Region.
    AccountRegion(AccountRegionEvidence),
    /// A repository bucket named by at least one export configuration, read once.
    Bucket(BucketEvidence),
    /// A repository key named by at least one export configuration, read once.
    Key(KeyEvidence),
    /// The organization's Resource Control Policies over the repositories' owners, read once.
    ResourceControlPolicies(ResourceControlEvidence),
    /// The run's end: written last, so a file without it is from a run that did not finish.
    RunEnd(RunEnd),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RunEnd {
    /// When collection finished (UTC).
    pub ended_at: DateTime<Utc>,
    /// Whether the run was interrupted before it examined everything in scope.
    pub interrupted: bool,
}

/// When, by whom and over what scope a run was made.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RunHeader {
    /// [`EVIDENCE_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The run's id (sortable UTC timestamp).
    pub run_id: String,
    /// The scanner's version.
    pub tool_version: String,
    /// When the scan started; the reference time of every rule (e.g. grace periods).
    pub started_at: DateTime<Utc>,
    /// SHA-256 of the configuration file's bytes.
    pub config_sha256: String,
    /// The Regions in scope, for every account.
    pub regions: Vec<String>,
    /// Who ran the scan.
    pub caller: Observation<CallerIdentity>,
    /// How the organization was listed.
    pub organization: OrganizationListing,
    /// Accounts the configuration left out of scope (`scope.exclude_accounts`, excluded OUs).
    pub excluded_accounts: Vec<Account>,

    /// The accounts the run covers, as listed: each has its own `account` record once it is
    /// collected, so one without a record was not reached (a run that did not finish).
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// The rule settings the run was judged with.
    #[serde(default)]
    pub rules: RulesConfig,
    /// `output.csv_bom`: `findings.csv` starts with a UTF-8 byte order mark. Recorded so that a
    /// re-render writes the same file; left out when off, as in runs from before the option.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub csv_bom: bool,
    /// The command line, with secrets removed.
    #[serde(default)]
    pub command_line: Vec<String>,
    /// The configuration file, when one was read.
    #[serde(default)]
    pub config_path: Option<String>,
    /// The shard this run covers, when it covers one.
    #[serde(default)]
    pub shard: Option<crate::shard::Shard>,
    /// How the run's scope compares with the configured one (account and Region filters given on
    /// the command line, merged shards): a partial run never becomes `latest`.
    #[serde(default)]
    pub scope: RunScope,
}

/// What a run covers of the configured scope, structurally: empty (the default) is all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RunScope {
    /// The account ids the command line limited the run to, when it did (`--accounts`).
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
    /// The Regions the command line limited the run to, when narrower than the configuration's.
    #[serde(default)]
    pub regions: Option<Vec<String>>,
    /// For a merged run: the shards it holds, out of how many.
    #[serde(default)]
    pub merged_shards: Option<MergedShards>,
}

/// The shards a merged run holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MergedShards {
    /// N, the number of shards the organization was split into.
    pub count: u32,
    /// The 1-based indexes of the shards merged, ascending.
    pub indexes: Vec<u32>,
}

impl MergedShards {
    /// The shards of the split that the merge does not hold, ascending.
    pub fn missing(&self) -> Vec<u32> {
        (1..=self.count)
            .filter(|index| !self.indexes.contains(index))
            .collect()
    }
}

/// Shards of a split into `count`, for people: `1/4, 3/4`.
pub fn shards_in_words(indexes: &[u32], count: u32) -> String {
    indexes
        .iter()
        .map(|index| format!("{index}/{count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RunHeader {
    /// The organization's id (`o-…`), when the run listed an organization and described it.
    pub fn organization_id(&self) -> Option<&str> {
        match &self.organization {
            OrganizationListing::Organization {
                organization: Some(described),
                ..
            } => described.response().map(|info| info.id.as_str()),
            _ => None,
        }
    }

    /// Whether the run covers less than the configured scope: an account filter or fewer Regions
    /// given on the command line, one shard of several, or a merge missing shards. A partial run
    /// never becomes `latest`.
    pub fn is_partial(&self) -> bool {
        !self.partial_scope_reasons().is_empty()
    }

    /// The run's scope in words: what it leaves out of the configured scope, or that it covers
    /// all of it.
    pub fn scope_description(&self) -> String {
        let reasons = self.partial_scope_reasons();
        if reasons.is_empty() {
            "the full configured scope".into()
        } else {
            reasons.join("; ")
        }
    }

    /// What the run leaves out of the configured scope, one phrase each: [`Self::is_partial`]
    /// and [`Self::scope_description`] both read it, so they never disagree.
    fn partial_scope_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some(accounts) = &self.scope.accounts {
            reasons.push(format!(
                "only account{} {} (--accounts)",
                if accounts.len() == 1 { "" } else { "s" },
                accounts.join(", ")
            ));
        }
        if let Some(regions) = &self.scope.regions {
            reasons.push(format!(
                "only Region{} {} (--regions, narrower than the configuration)",
                if regions.len() == 1 { "" } else { "s" },
                regions.join(", ")
            ));
        }
        // One shard of one is every account.
        if let Some(shard) = self.shard.filter(|shard| shard.count > 1) {
            reasons.push(format!("shard {shard} of the accounts only"));
        }
        if let Some(merged) = &self.scope.merged_shards {
            let missing = merged.missing();
            if !missing.is_empty() {
                reasons.push(format!(
                    "a merge of shards {} without {}",
                    shards_in_words(&merged.indexes, merged.count),
                    shards_in_words(&missing, merged.count)
                ));
            }
        }
        reasons
    }

    /// An account's OU path, from the population or the accounts left out of scope.
    pub fn ou_path(&self, account_id: &str) -> Option<&str> {
        self.accounts
            .iter()
            .chain(&self.excluded_accounts)
            .find(|account| account.id == account_id)
            .and_then(|account| account.ou_path.as_deref())
    }
}

/// How the population of accounts was established.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum OrganizationListing {
    /// The organization, walked as a tree from its root.
    Organization {
        /// The role used to list it, when one was assumed.
        management_role_arn: Option<String>,
        /// DescribeOrganization: the organization's id (`aws:SourceOrgID` in Macie's requests).
        /// `None` in evidence written before the tree walk.
        #[serde(default)]
        organization: Option<Observation<OrganizationInfo>>,
        /// Every listing call (ListRoots, ListOrganizationalUnitsForParent,
        /// ListAccountsForParent; ListAccounts in older evidence), each with its request id and
        /// the number of items it returned.
        pages: Vec<Observation<u32>>,
        /// The roots as ListRoots answered, with the policy types enabled at each (whether
        /// Resource Control Policies exist at all). `None` in evidence written before they were
        /// recorded: its verdicts were judged without RCPs, and a re-render judges them the same.
        #[serde(default)]
        roots: Option<Vec<OrganizationRoot>>,
    },
    /// The caller's account is not in an organization and is scanned alone.
    Standalone {
        /// The AWSOrganizationsNotInUseException that said so.
        evidence: Observation<()>,
    },
}

/// A root of the organization, as ListRoots answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OrganizationRoot {
    /// `r-…`.
    pub id: String,
    /// The policy types whose status at the root is `ENABLED` (e.g. `SERVICE_CONTROL_POLICY`,
    /// `RESOURCE_CONTROL_POLICY`).
    pub enabled_policy_types: Vec<String>,
}

/// What DescribeOrganization says of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OrganizationInfo {
    /// `o-…`.
    pub id: String,
    /// The organization's ARN.
    pub arn: String,
    /// The management account's id.
    pub management_account_id: String,
}

/// An account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Account {
    /// 12-digit id.
    pub id: String,
    /// Display name (untrusted text).
    pub name: String,
    /// Root e-mail address, when known.
    pub email: Option<String>,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`…
    pub status: String,
    /// Where the account sits in the organization, as `aws:SourceOrgPaths` spells it:
    /// `o-…/r-…/ou-…/…/` (the organization, the root, then each OU down to the account's parent,
    /// each followed by `/`). `None` for a standalone account or evidence without the tree walk.
    #[serde(default)]
    pub ou_path: Option<String>,
}

impl Account {
    /// Whether the account can be scanned.
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// An account in scope, and how the scanner reached it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AccountEvidence {
    /// The account.
    pub account: Account,
    /// The credentials used; `None` for an account that is not active (not scanned).
    pub access: Option<AccountAccess>,
    /// ListBuckets with the account's credentials: the buckets it owns (maps repositories to owners).
    #[serde(default)]
    pub buckets: Option<Observation<Vec<String>>>,
}

/// The credentials used in an account.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AccountAccess {
    /// The role assumed, or `None` when the caller's (or management role's) own credentials were used.
    pub role_arn: Option<String>,
    /// GetCallerIdentity with those credentials; an error here means the role could not be assumed.
    pub identity: Observation<CallerIdentity>,
}

/// STS GetCallerIdentity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CallerIdentity {
    /// The account the credentials act in.
    pub account: String,
    /// The principal's ARN.
    pub arn: String,
    /// The principal's unique id.
    pub user_id: String,
}

/// What Macie said in one account and Region.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AccountRegionEvidence {
    /// The account.
    pub account_id: String,
    /// The Region.
    pub region: String,
    /// GetMacieSession.
    pub macie_session: Observation<MacieSession>,
    /// GetAdministratorAccount; `None` when not asked (Macie not enabled).
    pub administrator: Option<Observation<Option<MacieAdministrator>>>,
    /// GetClassificationExportConfiguration; `None` when not asked (Macie not enabled).
    pub export_configuration: Option<Observation<Option<S3Destination>>>,
}

impl AccountRegionEvidence {
    /// The Macie administrator of this account when it is an enabled member.
    pub fn administrator_account(&self) -> Option<&str> {
        self.administrator
            .as_ref()
            .and_then(Observation::response)
            .and_then(Option::as_ref)
            .filter(|admin| {
                admin
                    .relationship_status
                    .as_deref()
                    .is_none_or(|status| status.eq_ignore_ascii_case("Enabled"))
            })
            .map(|admin| admin.account_id.as_str())
    }
}

/// Macie's session in an account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MacieSession {
    /// `ENABLED` or `PAUSED`.
    pub status: String,
    /// When Macie was enabled.
    pub created_at: Option<DateTime<Utc>>,
    /// When the session last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The Macie administrator of a member account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MacieAdministrator {
    /// The administrator account.
    pub account_id: String,
    /// `Enabled`, `Paused`, `Invited`…
    pub relationship_status: Option<String>,
}

/// Where Macie stores its sensitive data discovery results.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct S3Destination {
    /// The repository bucket.
    pub bucket_name: Option<String>,
    /// The object key prefix.
    pub key_prefix: Option<String>,
    /// The KMS key that encrypts results.
    pub kms_key_arn: Option<String>,
    /// The account expected to own the bucket.
    pub expected_bucket_owner: Option<String>,
}

/// Who owns a repository bucket, as far as the organization can tell.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BucketOwner {
    /// An account in scope listed it in ListBuckets.
    Account {
        /// The owning account.
        account_id: String,
    },
    /// No account in scope owns it: it is missing, or owned outside the organization (or by an
    /// account that is excluded or could not be reached).
    Unknown,
}

/// A repository bucket's evidence, read with its owner's credentials.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct BucketEvidence {
    /// The bucket's name.
    pub name: String,
    /// Its owner.
    pub owner: BucketOwner,
    /// Why the bucket's configuration could not be read, when it could not.
    pub unverifiable: Option<String>,
    /// HeadBucket from an account that does not own it (only when the owner is unknown): a 404
    /// says the bucket does not exist, a 403 that someone else owns it.
    pub probe: Option<Observation<()>>,
    /// GetBucketLocation: the bucket's Region (an empty constraint is us-east-1, `EU` eu-west-1).
    pub location: Option<Observation<String>>,
    /// GetPublicAccessBlock on the bucket; `None` inside when it has no bucket-level configuration.
    pub public_access_block: Option<Observation<Option<PublicAccessBlock>>>,
    /// S3 Control GetPublicAccessBlock of the owning account, read only when the bucket level
    /// does not already block everything.
    pub account_public_access_block: Option<Observation<Option<PublicAccessBlock>>>,
    /// GetBucketPolicyStatus: whether S3 considers the policy public.
    pub policy_status: Option<Observation<bool>>,
    /// GetBucketPolicy; `None` inside when the bucket has no policy.
    pub policy: Option<Observation<Option<String>>>,
    /// GetBucketEncryption; `None` inside when there is no default encryption.
    pub encryption: Option<Observation<Option<BucketEncryption>>>,
    /// GetBucketVersioning: `Enabled`, `Suspended`, or `None` when never enabled.
    pub versioning: Option<Observation<Option<String>>>,
    /// GetObjectLockConfiguration: whether Object Lock is enabled.
    pub object_lock: Option<Observation<bool>>,
}

impl BucketEvidence {
    /// Whether S3 answered that the bucket does not exist: HeadBucket or GetBucketLocation not
    /// found, or NoSuchBucket to any other read (a bucket deleted while it was read). A fact the
    /// rules judge, not a call that failed.
    pub fn missing(&self) -> bool {
        let not_found =
            |error: Option<&ApiError>| error.is_some_and(|e| e.kind == ErrorKind::NotFound);
        let no_such_bucket = |error: Option<&ApiError>| {
            error.is_some_and(|e| e.code.as_deref() == Some("NoSuchBucket"))
        };
        not_found(self.probe.as_ref().and_then(Observation::error))
            || not_found(self.location.as_ref().and_then(Observation::error))
            || [
                self.public_access_block
                    .as_ref()
                    .and_then(Observation::error),
                self.policy_status.as_ref().and_then(Observation::error),
                self.policy.as_ref().and_then(Observation::error),
                self.encryption.as_ref().and_then(Observation::error),
                self.versioning.as_ref().and_then(Observation::error),
                self.object_lock.as_ref().and_then(Observation::error),
            ]
            .into_iter()
            .any(no_such_bucket)
    }
}

/// The four S3 Block Public Access settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct PublicAccessBlock {
    /// BlockPublicAcls.
    pub block_public_acls: bool,
    /// IgnorePublicAcls.
    pub ignore_public_acls: bool,
    /// BlockPublicPolicy.
    pub block_public_policy: bool,
    /// RestrictPublicBuckets.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Each setting on when it is on at either level.
    pub fn union(self, other: PublicAccessBlock) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: self.block_public_acls || other.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || other.ignore_public_acls,
            block_public_policy: self.block_public_policy || other.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || other.restrict_public_buckets,
        }
    }

    /// The names of the settings that are off.
    pub fn missing(self) -> Vec<&'static str> {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(name, _)| name)
        .collect()
    }
}

/// A bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BucketEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    /// The KMS key id, ARN or alias, for SSE-KMS.
    pub kms_key_id: Option<String>,
}

/// A repository key's evidence, read with its owner's credentials.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct KeyEvidence {
    /// The key ARN as the export configuration names it.
    pub arn: String,
    /// The account in the ARN.
    pub owner_account: String,
    /// The Region in the ARN.
    pub region: String,
    /// Why the key could not be read, when it could not.
    pub unverifiable: Option<String>,
    /// DescribeKey.
    pub metadata: Option<Observation<KeyMetadata>>,
    /// GetKeyPolicy (the `default` policy).
    pub policy: Option<Observation<String>>,
    /// GetKeyRotationStatus.
    pub rotation_enabled: Option<Observation<bool>>,
}

impl KeyEvidence {
    /// Whether KMS answered that the key does not exist (NotFoundException to DescribeKey, or to
    /// a later read of a key deleted meanwhile): a fact the rules judge, not a failed call.
    pub fn missing(&self) -> bool {
        let not_found =
            |error: Option<&ApiError>| error.is_some_and(|e| e.kind == ErrorKind::NotFound);
        not_found(self.metadata.as_ref().and_then(Observation::error))
            || not_found(self.policy.as_ref().and_then(Observation::error))
            || not_found(self.rotation_enabled.as_ref().and_then(Observation::error))
    }
}

/// What DescribeKey says of a key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct KeyMetadata {
    /// The key's ARN (the key's own, even when asked through an alias).
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`…
    pub state: String,
    /// `CUSTOMER` or `AWS`.
    pub manager: String,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`…
    pub spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`…
    pub usage: String,
    /// Whether it is a multi-Region key.
    pub multi_region: bool,
}

/// One AWS call and what it answered.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Observation<T> {
    /// `service:Operation`.
    pub operation: String,
    /// AWS's request id, when it sent one.
    pub request_id: Option<String>,
    /// When the answer arrived (UTC).
    pub observed_at: DateTime<Utc>,
    /// The answer.
    #[serde(flatten)]
    pub outcome: Outcome<T>,
}

/// An AWS answer: the useful part of a response, or a classified error.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T> {
    /// The call succeeded.
    Response(T),
    /// The call failed after retries.
    Error(ApiError),
}

impl<T> Observation<T> {
    /// The response, if the call succeeded.
    pub fn response(&self) -> Option<&T> {
        match &self.outcome {
            Outcome::Response(value) => Some(value),
            Outcome::Error(_) => None,
        }
    }

    /// The same observation with its response transformed.
    pub fn map_response<U>(self, map: impl FnOnce(T) -> U) -> Observation<U> {
        Observation {
            operation: self.operation,
            request_id: self.request_id,
            observed_at: self.observed_at,
            outcome: match self.outcome {
                Outcome::Response(value) => Outcome::Response(map(value)),
                Outcome::Error(error) => Outcome::Error(error),
            },
        }
    }

    /// The error, if the call failed.
    pub fn error(&self) -> Option<&ApiError> {
        match &self.outcome {
            Outcome::Response(_) => None,
            Outcome::Error(error) => Some(error),
        }
    }
}

/// An AWS error, classified once where it is observed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ApiError {
    /// What the error means for the audit.
    pub kind: ErrorKind,
    /// AWS's error code, e.g. `AccessDeniedException`.
    pub code: Option<String>,
    /// AWS's message, or a description of a transport failure.
    pub message: String,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, self.http_status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status}): {}", self.message),
            (Some(code), None) => write!(f, "{code}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl ApiError {
    /// The error with what it means for the audit first, so that a reason says why a call
    /// failed: "throttled on every attempt: ThrottlingException (HTTP 400): Rate exceeded".
    pub fn explained(&self) -> String {
        match self.kind.meaning() {
            Some(meaning) => format!("{meaning}: {self}"),
            None => self.to_string(),
        }
    }
}

impl ErrorKind {
    /// What a failed read of this kind means, in a phrase; `None` for the kinds that are facts
    /// rather than failures to read, and for unclassified errors (AWS's own words say it).
    pub fn meaning(self) -> Option<&'static str> {
        match self {
            ErrorKind::AccessDenied => Some("access denied"),
            ErrorKind::AssumeRoleFailed => Some("the role could not be assumed"),
            ErrorKind::CredentialsExpired => Some("the credentials were refused as expired"),
            ErrorKind::NotFound => Some("not found"),
            ErrorKind::Throttled => Some("throttled on every attempt (retries exhausted)"),
            ErrorKind::ServiceUnavailable => Some("the service failed on every attempt"),
            ErrorKind::Timeout => Some("no answer in time"),
            ErrorKind::Network => Some("the network failed"),
            ErrorKind::MacieNotEnabled
            | ErrorKind::RegionDisabled
            | ErrorKind::OrganizationsNotInUse
            | ErrorKind::Other => None,
        }
    }
}

/// What an AWS error means for the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Macie answered that it is not enabled: a fact about the account, not a failure to read.
    MacieNotEnabled,
    /// The Region is not enabled for the account (opt-in Region).
    RegionDisabled,
    /// The account is not in an organization.
    OrganizationsNotInUse,
    /// The credentials lack a permission.
    AccessDenied,
    /// The role could not be assumed (the account's credentials are unavailable).
    AssumeRoleFailed,
    /// AWS refused the credentials as expired, again after new ones were obtained.
    CredentialsExpired,
    /// The resource does not exist.
    NotFound,
    /// Throttled on every attempt.
    Throttled,
    /// The service failed on every attempt.
    ServiceUnavailable,
    /// No answer in time.
    Timeout,
    /// The network failed.
    Network,
    /// Anything else.
    Other,
}

/// A whole run's evidence, loaded in memory for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvidence {
    /// The run's header.
    pub header: RunHeader,
    /// Every account in scope, by account id (the file holds them in the order they were
    /// collected).
    pub accounts: Vec<AccountEvidence>,
    /// Macie's evidence per (account id, Region).
    pub account_regions: HashMap<(String, String), AccountRegionEvidence>,
    /// Repository buckets by name.
    pub buckets: HashMap<String, BucketEvidence>,
    /// Repository keys by ARN as configured.
    pub keys: HashMap<String, KeyEvidence>,
    /// The RCPs over the repositories' owners, when the run read them.
    pub resource_controls: Option<ResourceControlEvidence>,
    /// How the run ended; `None` when the file stops before the end (a crashed run).
    pub end: Option<RunEnd>,
}

impl RunEvidence {
    /// Macie's evidence for an account and Region, if it was collected.
    pub fn account_region(&self, account_id: &str, region: &str) -> Option<&AccountRegionEvidence> {
        self.account_regions
            .get(&(account_id.to_owned(), region.to_owned()))
    }

    /// A repository bucket's evidence.
    pub fn bucket(&self, name: &str) -> Option<&BucketEvidence> {
        self.buckets.get(name)
    }

    /// A repository key's evidence.
    pub fn key(&self, arn: &str) -> Option<&KeyEvidence> {
        self.keys.get(arn)
    }

    /// The organization's id (`o-…`), when the run listed an organization and described it.
    pub fn organization_id(&self) -> Option<&str> {
        self.header.organization_id()
    }

    /// An account's OU path (`o-…/r-…/ou-…/`), when the run knows it: every account of the
    /// population (in scope or not) carries its own.
    pub fn ou_path(&self, account_id: &str) -> Option<&str> {
        self.header.ou_path(account_id)
    }

    /// Every record, in the order `report::evidence::write` writes a run held in memory: all
    /// accounts, then their account-Region records.
    pub fn records(&self) -> Vec<EvidenceRecord> {
        let mut records = vec![EvidenceRecord::Run(self.header.clone())];
        records.extend(self.accounts.iter().cloned().map(EvidenceRecord::Account));
        for account in &self.accounts {
            for region in &self.header.regions {
                if let Some(evidence) = self.account_region(&account.account.id, region) {
                    records.push(EvidenceRecord::AccountRegion(evidence.clone()));
                }
            }
        }
        let mut buckets: Vec<_> = self.buckets.values().cloned().collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        records.extend(buckets.into_iter().map(EvidenceRecord::Bucket));
        let mut keys: Vec<_> = self.keys.values().cloned().collect();
        keys.sort_by(|a, b| a.arn.cmp(&b.arn));
        records.extend(keys.into_iter().map(EvidenceRecord::Key));
        records.extend(
            self.resource_controls
                .clone()
                .map(EvidenceRecord::ResourceControlPolicies),
        );
        records.extend(self.end.clone().map(EvidenceRecord::RunEnd));
        records
    }

    /// Reads `evidence.jsonl`; the error names the file and line.
    pub fn load(path: &Path) -> Result<RunEvidence> {
        let file = std::fs::File::open(path).map_err(|e| Error::Evidence {
            path: path.to_path_buf(),
            message: format!("cannot open: {e}"),
        })?;
        Self::read(std::io::BufReader::new(file)).map_err(|message| Error::Evidence {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses evidence records from JSON Lines.
    pub fn read(reader: impl BufRead) -> std::result::Result<RunEvidence, String> {
        let mut header = None;
        let mut account_regions = HashMap::new();
        // The other records, gathered before the header is known.
        let mut rest = Records::default();
        for (index, line) in reader.lines().enumerate() {
            let line_number = index + 1;
            let line = line.map_err(|e| format!("line {line_number}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let record: EvidenceRecord = serde_json::from_str(&line)
                .map_err(|e| format!("line {line_number}: not an evidence record: {e}"))?;
            match record {
                EvidenceRecord::Run(run) => {
                    if header.is_some() {
                        return Err(format!("line {line_number}: a second run record"));
                    }
                    store::check_version(&run).map_err(|m| format!("line {line_number}: {m}"))?;
                    header = Some(run);
                }
                EvidenceRecord::AccountRegion(evidence) => {
                    let key = (evidence.account_id.clone(), evidence.region.clone());
                    if account_regions.insert(key, evidence).is_some() {
                        return Err(format!(
                            "line {line_number}: a second record for the same account and Region"
                        ));
                    }
                }
                other => rest
                    .insert(other)
                    .map_err(|m| format!("line {line_number}: {m}"))?,
            }
        }
        let header = header.ok_or_else(|| "no run record: not an evidence file".to_owned())?;
        let accounts = rest.population(&header);
        Ok(RunEvidence {
            header,
            accounts,
            account_regions,
            buckets: rest.buckets,
            keys: rest.keys,
            resource_controls: rest.resource_controls,
            end: rest.end,
        })
    }
}

/// The records of a run besides its header and account-Region records.
#[derive(Default)]
struct Records {
    accounts: Vec<AccountEvidence>,
    account_ids: std::collections::HashSet<String>,
    buckets: HashMap<String, BucketEvidence>,
    keys: HashMap<String, KeyEvidence>,
    resource_controls: Option<ResourceControlEvidence>,
    end: Option<RunEnd>,
}

impl Records {
    /// Adds an account, bucket, key, RCP or end record; a second record of the same account,
    /// bucket or key, a second RCP record, or a run or account-Region record, is refused.
    fn insert(&mut self, record: EvidenceRecord) -> std::result::Result<(), String> {
        match record {
            EvidenceRecord::Account(account) => {
                if !self.account_ids.insert(account.account.id.clone()) {
                    return Err(format!(
                        "a second record for account {}",
                        account.account.id
                    ));
                }
                self.accounts.push(account);
            }
            EvidenceRecord::Bucket(bucket) => {
                if let Some(previous) = self.buckets.insert(bucket.name.clone(), bucket) {
                    return Err(format!("a second record for bucket {}", previous.name));
                }
            }
            EvidenceRecord::Key(key) => {
                if let Some(previous) = self.keys.insert(key.arn.clone(), key) {
                    return Err(format!("a second record for key {}", previous.arn));
                }
            }
            EvidenceRecord::ResourceControlPolicies(controls) => {
                if self.resource_controls.replace(controls).is_some() {
                    return Err("a second resource_control_policies record".into());
                }
            }
            EvidenceRecord::RunEnd(end) => self.end = Some(end),
            EvidenceRecord::Run(_) => return Err("a second run record".into()),
            EvidenceRecord::AccountRegion(_) => {
                return Err("an account-Region record out of place".into());
            }
        }
        Ok(())
    }

    /// Every account of the run, by id: those with a record, and those the run record lists
    /// without one, as not reached.
    fn population(&mut self, header: &RunHeader) -> Vec<AccountEvidence> {
        for account in &header.accounts {
            if self.account_ids.insert(account.id.clone()) {
                self.accounts.push(AccountEvidence {
                    account: account.clone(),
                    access: None,
                    buckets: None,
                });
            }
        }
        let mut accounts = std::mem::take(&mut self.accounts);
        accounts.sort_by(|a, b| a.account.id.cmp(&b.account.id));
        accounts
    }
}
