//! The plan: from a scan's findings and evidence, the exact changes that make MACIE-002, -003 and
//! -004 pass, in order, per account. A pure function: no AWS call, so every decision is
//! unit-tested without a network.
//!
//! Each account-Region whose MACIE-002/003/004 is FAIL or WARN is a *target*. A target is
//! remediated, or refused (its export configuration names another repository and `--force` was
//! not given), or blocked (remediation cannot fix it without dropping or deleting something, or
//! cannot tell what it would change). Steps are grouped by the account they act in; in
//! `--strategy central` the groups that update the shared bucket and key come first.
//!
//! This file holds the plan's model and what the strategies share; `own.rs`, `central.rs` and
//! `repair.rs` plan each strategy's steps. Besides the scan's evidence, the plan reads [`Probes`]: the few
//! reads the scan does not make (see `probe.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands;
use super::statements::{self, Gap, KEY_ARN_PLACEHOLDER, MacieSource, merge};
use crate::cli::Strategy;
use crate::collect::repository::parse_key_arn;
use crate::config::{MemberRepository, RemediationConfig};
use crate::evidence::{
    AccountRegionEvidence, BucketEvidence, KeyEvidence, KeyMetadata, Observation, Outcome,
    PublicAccessBlock, RunEvidence, S3Destination,
};
use crate::findings::{Finding, Status};
use crate::macie_access::OrgMembership;
use crate::policy::Policy;

/// The rules remediation fixes.
pub const REMEDIATED_RULES: [&str; 3] = ["MACIE-002", "MACIE-003", "MACIE-004"];

/// The rule `--include-hardening` adds to [`REMEDIATED_RULES`].
pub const HARDENING_RULE: &str = "MACIE-005";

/// Whether a finding of `rule_id` makes an account-Region a target, and is judged again in the
/// re-scan.
pub fn remediates(rule_id: &str, include_hardening: bool) -> bool {
    REMEDIATED_RULES.contains(&rule_id) || (include_hardening && rule_id == HARDENING_RULE)
}

/// What the scan did not read but the plan needs, read just before planning (with the audit role).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probes {
    /// `--strategy own`: DescribeKey of the configured alias, per (account, Region); `None`
    /// inside when the alias does not exist.
    pub alias_keys: HashMap<(String, String), Observation<Option<KeyMetadata>>>,
    /// `--strategy central`: the central bucket, when the scan's evidence lacks it.
    pub central_bucket: Option<BucketEvidence>,
    /// `--strategy central`: the central key, when the scan's evidence lacks it.
    pub central_key: Option<KeyEvidence>,
}

/// Everything a plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The scan's evidence.
    pub run: &'a RunEvidence,
    /// The scan's findings.
    pub findings: &'a [Finding],
    /// Names and central repository.
    pub settings: &'a RemediationConfig,
    /// Own or central repositories.
    pub strategy: Strategy,
    /// Repoint configurations that name another repository.
    pub force: bool,
    /// `--strategy repair`: cancel a repository key's deletion and enable a disabled key.
    pub recover_keys: bool,
    /// `--strategy repair`: MACIE-005 failures and warnings make targets too.
    pub include_hardening: bool,
    /// Extra reads.
    pub probes: &'a Probes,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Plan {
    /// Own or central repositories.
    pub strategy: Strategy,
    /// Whether configurations naming another repository are repointed.
    pub force: bool,
    /// The scan the plan was made from.
    pub scan: ScanReference,
    /// Every account-Region whose MACIE-002/003/004 fails or warns, and what becomes of it.
    pub targets: Vec<Target>,
    /// The changes, grouped by the account that makes them, in the order they are made.
    pub groups: Vec<StepGroup>,
}

/// The scan a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScanReference {
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Accounts scanned.
    pub accounts: usize,
    /// Regions scanned.
    pub regions: Vec<String>,
    /// Account-Regions whose MACIE-002/003/004 could not be checked (ERROR): not planned.
    pub unchecked: Vec<MacieSource>,
}

/// An account-Region to remediate, and the decision about it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Target {
    /// The account.
    pub account_id: String,
    /// Its name (untrusted text).
    pub account_name: String,
    /// The Region.
    pub region: String,
    /// The failing or warning findings that make it a target.
    pub findings: Vec<TargetFinding>,
    /// The export configuration the scan saw.
    pub current: Option<S3Destination>,
    /// The configuration it will have.
    pub destination: Option<Destination>,
    /// Remediated, refused or blocked.
    pub decision: Decision,
    /// What remediation leaves as it is, for people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Target {
    /// The target as a Macie source (its organization unknown: enough to find it in a list).
    pub fn source(&self) -> MacieSource {
        MacieSource::new(&self.account_id, &self.region)
    }

    /// The target as a Macie source with its organization as the scan saw it, for evaluating
    /// policies the way Macie's requests will be.
    pub fn source_in(&self, run: &RunEvidence) -> MacieSource {
        MacieSource {
            organization: OrgMembership::of(run, &self.account_id),
            ..self.source()
        }
    }

    /// Whether it is remediated.
    pub fn remediated(&self) -> bool {
        self.decision == Decision::Remediate
    }
}

/// A finding that makes an account-Region a target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TargetFinding {
    /// MACIE-002, -003 or -004.
    pub rule_id: String,
    /// FAIL or WARN.
    pub status: Status,
    /// The finding's message.
    pub message: String,
}

/// What becomes of a target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The plan's steps fix it.
    Remediate,
    /// Its configuration names another repository; `--force` repoints it.
    Refused {
        /// Why.
        reason: String,
    },
    /// Remediation cannot fix it (or cannot tell how): a person must.
    Blocked {
        /// Why.
        reason: String,
    },
}

/// An export configuration to write.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Destination {
    /// The bucket.
    pub bucket: String,
    /// The object key prefix.
    pub key_prefix: String,
    /// The key.
    pub key: KeyRef,
    /// The account owning the bucket.
    pub expected_bucket_owner: String,
}

/// A KMS key, by ARN or, for a key this plan creates, by its alias.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyRef {
    /// An existing key.
    Arn {
        /// Its ARN.
        arn: String,
    },
    /// The key created by this plan in the step's account and Region, known by its alias.
    Created {
        /// The alias.
        alias: String,
    },
}

impl KeyRef {
    /// The ARN, or the placeholder that stands for it until the key is created.
    pub fn arn_or_placeholder(&self) -> &str {
        match self {
            KeyRef::Arn { arn } => arn,
            KeyRef::Created { .. } => KEY_ARN_PLACEHOLDER,
        }
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRef::Arn { arn } => f.write_str(arn),
            KeyRef::Created { alias } => write!(f, "the new key {alias}"),
        }
    }
}

/// The steps one account makes, in order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StepGroup {
    /// The account whose remediation role makes them.
    pub account_id: String,
    /// A shared repository's changes (central), or an account's own.
    pub kind: GroupKind,
    /// The steps.
    pub steps: Vec<Step>,
}

/// What a group of steps is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// The central bucket and key: every other group depends on it.
    Repository,
    /// An account's own changes.
    Account,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Step {
    /// 1-based position in the whole plan.
    pub number: usize,
    /// The account making it.
    pub account_id: String,
    /// The Region of the call.
    pub region: String,
    /// The change itself.
    pub action: Action,
    /// What it does, for people.
    pub summary: String,
    /// The equivalent AWS CLI commands, with the account's credentials.
    pub commands: Vec<String>,
    /// What changes, before → after, one line each (see [`Action::diff`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
    /// The account-Regions it serves.
    pub serves: Vec<MacieSource>,
}

/// A change, by the AWS operation that makes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "operation")]
pub enum Action {
    /// Create a symmetric customer managed key (reused when the alias already names one).
    #[serde(rename = "kms:CreateKey")]
    CreateKey {
        /// Its alias, created next.
        alias: String,
        /// Its description.
        description: String,
        /// Its key policy.
        policy: Value,
    },
    /// Name the new key.
    #[serde(rename = "kms:CreateAlias")]
    CreateAlias {
        /// The alias.
        alias: String,
        /// The key.
        key: KeyRef,
    },
    /// Cancel the scheduled deletion of a key (which leaves it disabled).
    #[serde(rename = "kms:CancelKeyDeletion")]
    CancelKeyDeletion {
        /// The key.
        key: KeyRef,
    },
    /// Enable a disabled key.
    #[serde(rename = "kms:EnableKey")]
    EnableKey {
        /// The key.
        key: KeyRef,
    },
    /// Turn on automatic key rotation.
    #[serde(rename = "kms:EnableKeyRotation")]
    EnableKeyRotation {
        /// The key.
        key: KeyRef,
    },
    /// Merge statements into a key policy.
    #[serde(rename = "kms:PutKeyPolicy")]
    PutKeyPolicy {
        /// The key.
        key: KeyRef,
        /// Statements merged in (same `Sid` replaced, others kept).
        statements: Vec<Value>,
        /// The sources the policy must serve afterwards.
        sources: Vec<MacieSource>,
        /// The policy the scan saw, when it read it.
        before: Option<Value>,
        /// The merged policy, when the one before is known.
        after: Option<Value>,
    },
    /// Create a bucket.
    #[serde(rename = "s3:CreateBucket")]
    CreateBucket {
        /// The bucket.
        bucket: String,
    },
    /// All four Block Public Access settings on.
    #[serde(rename = "s3:PutPublicAccessBlock")]
    PutPublicAccessBlock {
        /// The bucket.
        bucket: String,
        /// The settings the scan saw (bucket level), when known.
        before: Option<PublicAccessBlock>,
    },
    /// Default encryption: SSE-KMS with the key, S3 Bucket Key on.
    #[serde(rename = "s3:PutBucketEncryption")]
    PutBucketEncryption {
        /// The bucket.
        bucket: String,
        /// The key.
        key: KeyRef,
        /// The default encryption the scan saw, when known.
        before: Option<Value>,
    },
    /// Versioning on.
    #[serde(rename = "s3:PutBucketVersioning")]
    PutBucketVersioning {
        /// The bucket.
        bucket: String,
        /// The status the scan saw, when known.
        before: Option<String>,
    },
    /// Merge statements into a bucket policy.
    #[serde(rename = "s3:PutBucketPolicy")]
    PutBucketPolicy {
        /// The bucket.
        bucket: String,
        /// The key Macie encrypts with (the policy denies uploads with another).
        key: KeyRef,
        /// The object key prefix Macie writes under.
        key_prefix: String,
        /// Statements merged in (same `Sid` replaced, others kept).
        statements: Vec<Value>,
        /// The sources the policy must serve afterwards.
        sources: Vec<MacieSource>,
        /// Whether the policy must deny non-TLS requests afterwards.
        deny_insecure: bool,
        /// The policy the scan saw.
        before: PolicyBefore,
        /// The merged policy, when the one before is known.
        after: Option<Value>,
    },
    /// Point Macie's export configuration at the repository.
    #[serde(rename = "macie2:PutClassificationExportConfiguration")]
    PutExportConfiguration {
        /// Where to.
        destination: Destination,
        /// The configuration the scan saw (replaced only if it is still the same).
        before: Option<S3Destination>,
    },
}

/// A bucket policy as the scan saw it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyBefore {
    /// Not read by the scan: read when the step runs.
    NotRead,
    /// The bucket has no policy.
    NoPolicy,
    /// The policy.
    Policy(Value),
}

impl From<Option<Value>> for PolicyBefore {
    fn from(policy: Option<Value>) -> Self {
        policy.map_or(PolicyBefore::NoPolicy, PolicyBefore::Policy)
    }
}

impl Action {
    /// The operation label, e.g. `kms:CreateKey`.
    pub fn operation(&self) -> &'static str {
        match self {
            Action::CreateKey { .. } => "kms:CreateKey",
            Action::CreateAlias { .. } => "kms:CreateAlias",
            Action::CancelKeyDeletion { .. } => "kms:CancelKeyDeletion",
            Action::EnableKey { .. } => "kms:EnableKey",
            Action::EnableKeyRotation { .. } => "kms:EnableKeyRotation",
            Action::PutKeyPolicy { .. } => "kms:PutKeyPolicy",
            Action::CreateBucket { .. } => "s3:CreateBucket",
            Action::PutPublicAccessBlock { .. } => "s3:PutPublicAccessBlock",
            Action::PutBucketEncryption { .. } => "s3:PutBucketEncryption",
            Action::PutBucketVersioning { .. } => "s3:PutBucketVersioning",
            Action::PutBucketPolicy { .. } => "s3:PutBucketPolicy",
            Action::PutExportConfiguration { .. } => "macie2:PutClassificationExportConfiguration",
        }
    }

    /// The resource changed: a key, alias, bucket or the Macie configuration.
    pub fn resource(&self, account: &str, region: &str) -> String {
        match self {
            Action::CreateKey { alias, .. } | Action::CreateAlias { alias, .. } => {
                format!("arn:aws:kms:{region}:{account}:{alias}")
            }
            Action::CancelKeyDeletion { key }
            | Action::EnableKey { key }
            | Action::EnableKeyRotation { key }
            | Action::PutKeyPolicy { key, .. } => match key {
                KeyRef::Arn { arn } => arn.clone(),
                KeyRef::Created { alias } => format!("arn:aws:kms:{region}:{account}:{alias}"),
            },
            Action::CreateBucket { bucket }
            | Action::PutPublicAccessBlock { bucket, .. }
            | Action::PutBucketEncryption { bucket, .. }
            | Action::PutBucketVersioning { bucket, .. }
            | Action::PutBucketPolicy { bucket, .. } => format!("arn:aws:s3:::{bucket}"),
            Action::PutExportConfiguration { .. } => {
                format!("arn:aws:macie2:{region}:{account}:export-configuration")
            }
        }
    }
}

impl Action {
    /// What the change does to the state the scan saw, for people: a policy statement by
    /// statement ([`statements::diff`]), a setting's value before and after; empty when the step
    /// creates something, or when what it changes was not read (it is read when the step runs).
    pub fn diff(&self) -> Vec<String> {
        let setting =
            |before: String, after: String| vec![format!("  - {before}"), format!("  + {after}")];
        match self {
            Action::PutKeyPolicy {
                before: Some(before),
                after: Some(after),
                ..
            } => statements::diff(Some(before), after),
            Action::PutBucketPolicy {
                before,
                after: Some(after),
                ..
            } => match before {
                PolicyBefore::Policy(before) => statements::diff(Some(before), after),
                PolicyBefore::NoPolicy => statements::diff(None, after),
                PolicyBefore::NotRead => Vec::new(),
            },
            Action::PutPublicAccessBlock {
                before: Some(before),
                ..
            } => {
                let describe = |block: &PublicAccessBlock| {
                    format!(
                        "BlockPublicAcls={},IgnorePublicAcls={},BlockPublicPolicy={},RestrictPublicBuckets={}",
                        block.block_public_acls,
                        block.ignore_public_acls,
                        block.block_public_policy,
                        block.restrict_public_buckets
                    )
                };
                let all = PublicAccessBlock {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                };
                setting(describe(before), describe(&all))
            }
            Action::PutBucketEncryption {
                key,
                before: Some(before),
                ..
            } => setting(
                if before.is_null() {
                    "no default encryption".to_owned()
                } else {
                    statements::to_text(before)
                },
                statements::to_text(&commands::encryption_configuration(
                    key.arn_or_placeholder(),
                )),
            ),
            Action::PutBucketVersioning { before, .. } => setting(
                format!("Status={}", before.as_deref().unwrap_or("(never enabled)")),
                "Status=Enabled".to_owned(),
            ),
            _ => Vec::new(),
        }
    }
}

impl Plan {
    /// Every step, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.groups.iter().flat_map(|group| group.steps.iter())
    }

    /// The number of changes.
    pub fn step_count(&self) -> usize {
        self.groups.iter().map(|group| group.steps.len()).sum()
    }

    /// The accounts that make changes.
    pub fn accounts(&self) -> BTreeSet<&str> {
        self.groups.iter().map(|g| g.account_id.as_str()).collect()
    }

    /// The targets remediated.
    pub fn remediated(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.remediated())
    }
}

/// A step before it is numbered.
pub(super) struct Draft {
    pub(super) account: String,
    pub(super) region: String,
    pub(super) action: Action,
    pub(super) summary: String,
    pub(super) serves: Vec<MacieSource>,
}

impl Draft {
    pub(super) fn new(
        account: &str,
        region: &str,
        action: Action,
        summary: String,
        serves: &[MacieSource],
    ) -> Draft {
        Draft {
            account: account.to_owned(),
            region: region.to_owned(),
            action,
            summary,
            serves: serves.to_vec(),
        }
    }
}

/// Makes the plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut targets = Vec::new();
    let mut unchecked = BTreeSet::new();
    let mut by_cell: BTreeMap<(usize, usize), Vec<&Finding>> = BTreeMap::new();
    let account_index: HashMap<&str, usize> = input
        .run
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.account.id.as_str(), i))
        .collect();
    let region_index: HashMap<&str, usize> = input
        .run
        .header
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.as_str(), i))
        .collect();
    for finding in input.findings {
        if !remediates(&finding.rule_id, input.include_hardening) {
            continue;
        }
        if finding.status == Status::Error {
            unchecked.insert(MacieSource::new(&finding.account_id, &finding.region));
        }
        if !matches!(finding.status, Status::Fail | Status::Warn) {
            continue;
        }
        let (Some(&a), Some(&r)) = (
            account_index.get(finding.account_id.as_str()),
            region_index.get(finding.region.as_str()),
        ) else {
            continue;
        };
        by_cell.entry((a, r)).or_default().push(finding);
    }
    for findings in by_cell.values() {
        let first = findings[0];
        let evidence = input.run.account_region(&first.account_id, &first.region);
        targets.push(Target {
            account_id: first.account_id.clone(),
            account_name: first.account_name.clone(),
            region: first.region.clone(),
            findings: findings
                .iter()
                .map(|f| TargetFinding {
                    rule_id: f.rule_id.clone(),
                    status: f.status,
                    message: f.message.clone(),
                })
                .collect(),
            current: evidence.and_then(current_destination),
            destination: None,
            decision: Decision::Remediate,
            notes: Vec::new(),
        });
    }

    let mut drafts: Vec<(GroupKind, Draft)> = Vec::new();
    for target in &mut targets {
        let evidence = input.run.account_region(&target.account_id, &target.region);
        if let Some(admin) = evidence.and_then(AccountRegionEvidence::administrator_account)
            && input.run.header.rules.macie_members == MemberRepository::Administrator
        {
            target.decision = Decision::Blocked {
                reason: format!(
                    "Macie member of administrator {admin}, judged by its repository \
                     (rules.macie_members = \"administrator\"): remediate {admin} in {}",
                    target.region
                ),
            };
        }
    }
    match input.strategy {
        Strategy::Own => {
            for target in &mut targets {
                if target.remediated() {
                    super::own::plan_own(input, target, &mut drafts);
                }
            }
        }
        Strategy::Central => super::central::plan_central(input, &mut targets, &mut drafts),
        Strategy::Repair => super::repair::plan_repair(input, &mut targets, &mut drafts),
    }

    Plan {
        strategy: input.strategy,
        force: input.force,
        scan: ScanReference {
            started_at: input.run.header.started_at,
            accounts: input.run.accounts.len(),
            regions: input.run.header.regions.clone(),
            unchecked: unchecked.into_iter().collect(),
        },
        targets,
        groups: number(drafts),
    }
}

/// Groups drafts by account (repository groups first, then accounts in order of appearance)
/// and numbers the steps.
fn number(drafts: Vec<(GroupKind, Draft)>) -> Vec<StepGroup> {
    let mut groups: Vec<StepGroup> = Vec::new();
    for kind in [GroupKind::Repository, GroupKind::Account] {
        for draft in drafts.iter().filter(|(k, _)| *k == kind).map(|(_, d)| d) {
            let group = match groups
                .iter_mut()
                .position(|g| g.kind == kind && g.account_id == draft.account)
            {
                Some(index) => &mut groups[index],
                None => {
                    groups.push(StepGroup {
                        account_id: draft.account.clone(),
                        kind,
                        steps: Vec::new(),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            group.steps.push(Step {
                number: 0,
                account_id: draft.account.clone(),
                region: draft.region.clone(),
                commands: commands::for_action(&draft.account, &draft.region, &draft.action),
                diff: draft.action.diff(),
                action: draft.action.clone(),
                summary: draft.summary.clone(),
                serves: draft.serves.clone(),
            });
        }
    }
    let mut n = 0;
    for group in &mut groups {
        for step in &mut group.steps {
            n += 1;
            step.number = n;
        }
    }
    groups
}

/// The export configuration an account-Region has.
pub(super) fn current_destination(evidence: &AccountRegionEvidence) -> Option<S3Destination> {
    evidence
        .export_configuration
        .as_ref()
        .and_then(Observation::response)
        .and_then(Option::clone)
}

pub(super) fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// Describes a configuration for messages.
pub(super) fn describe(destination: &S3Destination) -> String {
    let bucket = non_empty(destination.bucket_name.as_deref()).unwrap_or("(no bucket)");
    let key = non_empty(destination.kms_key_arn.as_deref()).unwrap_or("(no key)");
    format!(
        "s3://{bucket}/{} with key {key}",
        destination.key_prefix.as_deref().unwrap_or_default()
    )
}

/// Whether a key can hold Macie's results in `region`; the reason when it cannot.
pub(super) fn key_unusable(
    metadata: &KeyMetadata,
    region: &str,
    arn_region: &str,
) -> Option<String> {
    let mut problems = Vec::new();
    if metadata.state != "Enabled" {
        problems.push(format!("it is {}", metadata.state));
    }
    if metadata.manager != "CUSTOMER" {
        problems.push("it is not customer managed".to_owned());
    }
    if metadata.spec != "SYMMETRIC_DEFAULT" || metadata.usage != "ENCRYPT_DECRYPT" {
        problems.push(format!(
            "it is a {} key for {}",
            metadata.spec, metadata.usage
        ));
    }
    if arn_region != region {
        problems.push(format!("it is in {arn_region}, not {region}"));
    }
    (!problems.is_empty()).then(|| problems.join(", "))
}

pub(super) fn key_region_of(metadata: &KeyMetadata) -> String {
    parse_key_arn(&metadata.arn)
        .map(|(region, _)| region.to_owned())
        .unwrap_or_default()
}

/// The scan's evidence of a key by its real ARN (configurations may name it by alias).
pub(super) fn key_evidence<'a>(run: &'a RunEvidence, arn: &str) -> Option<&'a KeyEvidence> {
    run.key(arn).or_else(|| {
        run.keys.values().find(|key| {
            key.metadata
                .as_ref()
                .and_then(Observation::response)
                .is_some_and(|m| m.arn == arn)
        })
    })
}

/// Whether an account's ListBuckets names the bucket (`None`: unknown).
pub(super) fn account_owns(run: &RunEvidence, account: &str, bucket: &str) -> Option<bool> {
    run.accounts
        .iter()
        .find(|a| a.account.id == account)
        .and_then(|a| a.buckets.as_ref())
        .and_then(Observation::response)
        .map(|names| names.iter().any(|n| n == bucket))
}

pub(super) fn bucket_public_access(
    bucket: &BucketEvidence,
) -> Option<(PublicAccessBlock, Vec<&'static str>)> {
    let bucket_level = bucket
        .public_access_block
        .as_ref()
        .and_then(Observation::response)?
        .unwrap_or_default();
    let account_level = match bucket
        .account_public_access_block
        .as_ref()
        .map(|o| &o.outcome)
    {
        Some(Outcome::Response(block)) => block.unwrap_or_default(),
        Some(Outcome::Error(_)) if !bucket_level.missing().is_empty() => return None,
        _ => PublicAccessBlock::default(),
    };
    Some((bucket_level, bucket_level.union(account_level).missing()))
}

pub(super) fn gaps_text(gaps: &[Gap]) -> String {
    gaps.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a policy needs our statements, decided from the gaps `gaps` finds in it now and after
/// merging `desired` into it (`current`: its document and parsed form; `None`: no policy, and
/// `gaps` is given `None` for it): `Ok(None)` nothing to do (no gap, or only another statement's
/// unconditioned allow, which a merge cannot remove), `Ok(Some(after))` write the merged policy,
/// `Err(reason)` a merge cannot fix it (an explicit deny).
pub(super) fn decide_policy(
    current: Option<&(Value, Policy)>,
    desired: &[Value],
    gaps: impl Fn(Option<&Policy>) -> Vec<Gap>,
) -> Result<Option<Value>, String> {
    let gaps_before = gaps(current.map(|(_, policy)| policy));
    if gaps_before.is_empty() {
        return Ok(None);
    }
    let after = merge(current.map(|(value, _)| value), desired);
    let remaining = statements::parse(&statements::to_text(&after))
        .map(|(_, policy)| gaps(Some(&policy)))
        .unwrap_or_default();
    let blocking: Vec<Gap> = remaining
        .iter()
        .filter(|g| !matches!(g, Gap::Unconditioned { .. }))
        .cloned()
        .collect();
    if !blocking.is_empty() {
        return Err(gaps_text(&blocking));
    }
    if remaining == gaps_before {
        return Ok(None);
    }
    Ok(Some(after))
}

pub(super) fn export_draft(
    account: &str,
    region: &str,
    destination: &Destination,
    before: Option<S3Destination>,
) -> Draft {
    let replaces = before
        .as_ref()
        .filter(|b| {
            non_empty(b.bucket_name.as_deref()).is_some()
                || non_empty(b.kms_key_arn.as_deref()).is_some()
        })
        .map(|b| format!(" (replacing {})", describe(b)))
        .unwrap_or_default();
    Draft::new(
        account,
        region,
        Action::PutExportConfiguration {
            destination: destination.clone(),
            before,
        },
        format!(
            "point Macie's discovery results export in {region} at s3://{}/{} encrypted with {}{replaces}",
            destination.bucket, destination.key_prefix, destination.key
        ),
        &[MacieSource::new(account, region)],
    )
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
