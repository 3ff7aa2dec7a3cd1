//! The plan: from a scan's findings and evidence, the exact changes that make MACIE-002, -003 and
//! -004 pass, in order, per account. A pure function: no AWS call, so every decision is
//! unit-tested without a network.
//!
//! Each account-Region whose MACIE-002/003/004 is FAIL or WARN is a *target*. A target is
//! remediated, or refused (its export configuration names another repository and `--force` was
//! not given), or blocked (remediation cannot fix it without dropping or deleting something, or
//! cannot tell what it would change). Steps are grouped by the account they act in; in
//! `--strategy central` the groups that update the shared bucket and key come first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands;
use super::statements::{
    self, Gap, KEY_ARN_PLACEHOLDER, MacieSource, bucket_gaps, key_gaps, macie_principal, merge,
};
use crate::cli::Strategy;
use crate::collect::repository::parse_key_arn;
use crate::config::{MemberRepository, RemediationConfig};
use crate::evidence::{
    AccountRegionEvidence, BucketEvidence, BucketOwner, KeyEvidence, KeyMetadata, Observation,
    Outcome, PublicAccessBlock, RunEvidence, S3Destination,
};
use crate::findings::{Finding, Status};
use crate::regions;

/// The rules remediation fixes.
pub const REMEDIATED_RULES: [&str; 3] = ["MACIE-002", "MACIE-003", "MACIE-004"];

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
    /// The target as a Macie source.
    pub fn source(&self) -> MacieSource {
        MacieSource {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
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
            Action::EnableKeyRotation { key } | Action::PutKeyPolicy { key, .. } => match key {
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
struct Draft {
    account: String,
    region: String,
    action: Action,
    summary: String,
    serves: Vec<MacieSource>,
}

impl Draft {
    fn new(
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
        if !REMEDIATED_RULES.contains(&finding.rule_id.as_str()) {
            continue;
        }
        if finding.status == Status::Error {
            unchecked.insert(MacieSource {
                account_id: finding.account_id.clone(),
                region: finding.region.clone(),
            });
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
        if let Some(admin) = evidence.and_then(administrator_of)
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
                    plan_own(input, target, &mut drafts);
                }
            }
        }
        Strategy::Central => plan_central(input, &mut targets, &mut drafts),
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
fn current_destination(evidence: &AccountRegionEvidence) -> Option<S3Destination> {
    evidence
        .export_configuration
        .as_ref()
        .and_then(Observation::response)
        .and_then(Option::clone)
}

/// The Macie administrator of a member account, when the account is one.
fn administrator_of(evidence: &AccountRegionEvidence) -> Option<&str> {
    evidence
        .administrator
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

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// Describes a configuration for messages.
fn describe(destination: &S3Destination) -> String {
    let bucket = non_empty(destination.bucket_name.as_deref()).unwrap_or("(no bucket)");
    let key = non_empty(destination.kms_key_arn.as_deref()).unwrap_or("(no key)");
    format!(
        "s3://{bucket}/{} with key {key}",
        destination.key_prefix.as_deref().unwrap_or_default()
    )
}

/// Whether a key can hold Macie's results in `region`; the reason when it cannot.
fn key_unusable(metadata: &KeyMetadata, region: &str, arn_region: &str) -> Option<String> {
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

fn key_region_of(metadata: &KeyMetadata) -> String {
    parse_key_arn(&metadata.arn)
        .map(|(region, _)| region.to_owned())
        .unwrap_or_default()
}

/// The scan's evidence of a key by its real ARN (configurations may name it by alias).
fn key_evidence<'a>(run: &'a RunEvidence, arn: &str) -> Option<&'a KeyEvidence> {
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
fn account_owns(run: &RunEvidence, account: &str, bucket: &str) -> Option<bool> {
    run.accounts
        .iter()
        .find(|a| a.account.id == account)
        .and_then(|a| a.buckets.as_ref())
        .and_then(Observation::response)
        .map(|names| names.iter().any(|n| n == bucket))
}

fn bucket_public_access(bucket: &BucketEvidence) -> Option<(PublicAccessBlock, Vec<&'static str>)> {
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

fn gaps_text(gaps: &[Gap]) -> String {
    gaps.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a policy needs our statements, decided from the gaps it has now and after merging
/// them: `Ok(None)` nothing to do (no gap, or only another statement's unconditioned allow, which
/// a merge cannot remove), `Ok(Some(after))` write the merged policy, `Err(reason)` a merge
/// cannot fix it (an explicit deny).
pub(super) fn decide_policy(
    gaps_before: &[Gap],
    merged: impl FnOnce() -> (Value, Vec<Gap>),
) -> Result<Option<Value>, String> {
    if gaps_before.is_empty() {
        return Ok(None);
    }
    let (after, remaining) = merged();
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

/// `--strategy own`: the account-Region's own key and bucket, created or fixed, then pointed at.
fn plan_own(input: &PlanInput<'_>, target: &mut Target, drafts: &mut Vec<(GroupKind, Draft)>) {
    let settings = input.settings;
    let account = target.account_id.clone();
    let region = target.region.clone();
    let source = target.source();
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

    let mut steps: Vec<Draft> = Vec::new();
    let key = match &existing_key {
        None => {
            steps.push(Draft::new(
                &account,
                &region,
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
                &serves,
            ));
            let key = KeyRef::Created {
                alias: alias.clone(),
            };
            steps.push(Draft::new(
                &account,
                &region,
                Action::CreateAlias {
                    alias: alias.clone(),
                    key: key.clone(),
                },
                format!("name the new key {alias}"),
                &serves,
            ));
            steps.push(Draft::new(
                &account,
                &region,
                Action::EnableKeyRotation { key: key.clone() },
                "turn on automatic rotation of the new key".into(),
                &serves,
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
            match policy {
                Some((value, parsed)) => {
                    let before = key_gaps(&parsed, arn, &serves);
                    let decided = decide_policy(&before, || {
                        let after = merge(Some(&value), &desired);
                        let remaining = statements::parse(&statements::to_text(&after))
                            .map(|(_, p)| key_gaps(&p, arn, &serves))
                            .unwrap_or_default();
                        (after, remaining)
                    });
                    match decided {
                        Ok(None) => {}
                        Ok(Some(after)) => steps.push(Draft::new(
                            &account,
                            &region,
                            Action::PutKeyPolicy {
                                key: key.clone(),
                                statements: desired,
                                sources: serves.to_vec(),
                                before: Some(value),
                                after: Some(after),
                            },
                            format!(
                                "key policy of {arn}: let {principal} use the key for account {account} in {region} \
                                 (existing statements kept)"
                            ),
                            &serves,
                        )),
                        Err(reason) => {
                            return block(
                                target,
                                format!("the key policy of {arn} cannot be fixed by adding statements: {reason}"),
                            );
                        }
                    }
                }
                None => steps.push(Draft::new(
                    &account,
                    &region,
                    Action::PutKeyPolicy {
                        key: key.clone(),
                        statements: desired,
                        sources: serves.to_vec(),
                        before: None,
                        after: None,
                    },
                    format!(
                        "key policy of {arn}: let {principal} use the key for account {account} in {region}, if it \
                         does not already (read and merged when applied; existing statements kept)"
                    ),
                    &serves,
                )),
            }
            let rotation = evidence
                .and_then(|k| k.rotation_enabled.as_ref())
                .and_then(Observation::response)
                .copied();
            if rotation != Some(true) {
                steps.push(Draft::new(
                    &account,
                    &region,
                    Action::EnableKeyRotation { key: key.clone() },
                    format!("turn on automatic rotation of {arn}"),
                    &serves,
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
        steps.push(Draft::new(
            &account,
            &region,
            Action::CreateBucket {
                bucket: bucket.clone(),
            },
            format!("create bucket {bucket} in {region}"),
            &serves,
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
        steps.push(Draft::new(
            &account,
            &region,
            Action::PutPublicAccessBlock {
                bucket: bucket.clone(),
                before: if new_bucket {
                    Some(PublicAccessBlock::default())
                } else {
                    public_access.map(|(bucket_level, _)| bucket_level)
                },
            },
            format!("turn on all four Block Public Access settings of {bucket}"),
            &serves,
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
        steps.push(Draft::new(
            &account,
            &region,
            Action::PutBucketEncryption {
                bucket: bucket.clone(),
                key: key.clone(),
                before: encryption.map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
            },
            format!("default encryption of {bucket}: SSE-KMS with {key}, S3 Bucket Key on"),
            &serves,
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
        steps.push(Draft::new(
            &account,
            &region,
            Action::PutBucketVersioning {
                bucket: bucket.clone(),
                before: versioning.and_then(Option::clone),
            },
            format!("turn on versioning of {bucket}"),
            &serves,
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
    match known_policy {
        Some(text) => {
            let parsed = match text.as_deref().map(statements::parse).transpose() {
                Ok(parsed) => parsed,
                Err(error) => {
                    return block(
                        target,
                        format!("the policy of bucket {bucket} cannot be read: {error}"),
                    );
                }
            };
            let before = bucket_gaps(parsed.as_ref().map(|(_, p)| p), &bucket, &prefix, &key_arn, &serves);
            let current = parsed.as_ref().map(|(v, _)| v.clone());
            let decided = decide_policy(&before, || {
                let after = merge(current.as_ref(), &desired_policy);
                let remaining = statements::parse(&statements::to_text(&after))
                    .map(|(_, p)| bucket_gaps(Some(&p), &bucket, &prefix, &key_arn, &serves))
                    .unwrap_or_default();
                (after, remaining)
            });
            match decided {
                Ok(None) => {}
                Ok(Some(after)) => steps.push(Draft::new(
                    &account,
                    &region,
                    Action::PutBucketPolicy {
                        bucket: bucket.clone(),
                        key: key.clone(),
                        key_prefix: prefix.clone(),
                        statements: desired_policy,
                        sources: serves.to_vec(),
                        deny_insecure: true,
                        before: PolicyBefore::from(current),
                        after: Some(after),
                    },
                    if new_bucket {
                        policy_summary
                    } else {
                        format!("{policy_summary} (existing statements kept)")
                    },
                    &serves,
                )),
                Err(reason) => {
                    return block(
                        target,
                        format!("the policy of bucket {bucket} cannot be fixed by adding statements: {reason}"),
                    );
                }
            }
        }
        None => steps.push(Draft::new(
            &account,
            &region,
            Action::PutBucketPolicy {
                bucket: bucket.clone(),
                key: key.clone(),
                key_prefix: prefix.clone(),
                statements: desired_policy,
                sources: serves.to_vec(),
                deny_insecure: true,
                before: PolicyBefore::NotRead,
                after: None,
            },
            format!("{policy_summary}, if it does not already (read and merged when applied; existing statements kept)"),
            &serves,
        )),
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

fn export_draft(
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
        &[MacieSource {
            account_id: account.to_owned(),
            region: region.to_owned(),
        }],
    )
}

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
fn plan_central(
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
        .map(Target::source)
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

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
