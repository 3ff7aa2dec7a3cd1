//! The AWS permissions the scanner needs: the single source of truth for `deploy/` and
//! `docs/permissions.md`.
//!
//! [`API_CALLS`] lists every AWS call the scanner makes, under the operation label the code records
//! it with (`observation("s3:GetBucketEncryption", …)`), the IAM action that authorises it (S3's
//! differ from the operation names), the identity that makes it and the rules that read its
//! answer. `tests/integration/permissions.rs` checks that this list equals the labels the code records, that
//! the audit role in `deploy/audit-role.yaml` grants exactly [`audit_role_actions`], that the
//! policies for the scanner's own identity grant exactly [`security_account_actions`], and that
//! the tables in `docs/permissions.md` are the ones rendered here.
//!
//! The opt-in remediation role's write permissions ([`REMEDIATION_ACTIONS`]) are kept apart:
//! they are never granted to the audit role.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The audit role's default name, as `deploy/audit-role.yaml` creates it (`access.role_name`).
pub const DEFAULT_AUDIT_ROLE_NAME: &str = "MacieAuditRole";

/// The management role's name `deploy/security-account-policy.json` lets the scanner assume, when
/// it chains through one (`access.management_role_arn`).
pub const DEFAULT_MANAGEMENT_ROLE_NAME: &str = "MacieAuditOrganizationReader";

/// The opt-in remediation role's default name in `deploy/audit-role.yaml`.
pub const DEFAULT_REMEDIATION_ROLE_NAME: &str = "MacieRemediationRole";

/// Every rule of the catalogue, for calls whose answer all of them need.
const ALL_RULES: &[&str] = &[
    "MACIE-001",
    "MACIE-002",
    "MACIE-003",
    "MACIE-004",
    "MACIE-005",
];

/// The identity that makes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// The audit role in each member account (`access.role_name`, `deploy/audit-role.yaml`).
    ///
    /// The account the scanner runs in is read with the caller's own credentials, and the
    /// management account with the management role's, unless `access.assume_role_in_own_account`
    /// is set: those identities need the same actions (`deploy/*-policy.json` grant them).
    AuditRole,
    /// The identity that lists the organization: the management role
    /// (`access.management_role_arn`), or without one the scanner's own credentials, in the
    /// management account or in a delegated administrator account.
    Management,
    /// The identity that assumes roles: the scanner's own credentials (the management role and,
    /// without one, every audit role), and the management role it chains through (every audit
    /// role) when one is configured.
    Caller,
}

impl Principal {
    /// Where this identity lives, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Principal::AuditRole => "every member account (audit role)",
            Principal::Management => {
                "management account (management role) or the scanner's delegated administrator account"
            }
            Principal::Caller => "security account (scanner) and management role",
        }
    }
}

/// How a call is made, and so how the code's record of it can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadeBy {
    /// Recorded as evidence through `observation(label, …)` or `observation_or_absent(label, …)`.
    Observation,
    /// Made by the credentials provider (`AssumedRole` in `src/aws/credentials.rs`),
    /// never recorded under its own label: a failure shows as the next call's error.
    CredentialsProvider,
}

/// One AWS API call the scanner makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    /// The operation label, exactly as the code records it (`"s3:GetBucketEncryption"`).
    pub operation: &'static str,
    /// The IAM action that authorises the call; `None` when it needs no permission.
    pub action: Option<&'static str>,
    /// The identity that makes the call.
    pub principal: Principal,
    /// The rules whose verdicts read the call's answer.
    pub rules: &'static [&'static str],
    /// How the call is made.
    pub made_by: MadeBy,
    /// Why the scanner makes it, for people.
    pub purpose: &'static str,
}

/// Every AWS call the scanner makes, in the order a scan makes them.
pub const API_CALLS: &[ApiCall] = &[
    ApiCall {
        operation: "sts:GetCallerIdentity",
        action: None,
        principal: Principal::AuditRole,
        rules: ALL_RULES,
        made_by: MadeBy::Observation,
        purpose: "Who runs the scan, and in each account whether it was reached (the first call \
                  there assumes the role). Also made with the caller's own credentials. STS \
                  allows it to every identity.",
    },
    ApiCall {
        operation: "organizations:DescribeOrganization",
        action: Some("organizations:DescribeOrganization"),
        principal: Principal::Management,
        rules: ALL_RULES,
        made_by: MadeBy::Observation,
        purpose: "The organization's id, which Macie's requests carry as aws:SourceOrgID (once \
                  per run); a standalone account answers that it is in no organization.",
    },
    ApiCall {
        operation: "organizations:ListRoots",
        action: Some("organizations:ListRoots"),
        principal: Principal::Management,
        rules: ALL_RULES,
        made_by: MadeBy::Observation,
        purpose: "The root the organization tree is walked from, and the policy types enabled at \
                  it (whether Resource Control Policies apply at all).",
    },
    ApiCall {
        operation: "organizations:ListOrganizationalUnitsForParent",
        action: Some("organizations:ListOrganizationalUnitsForParent"),
        principal: Principal::Management,
        rules: ALL_RULES,
        made_by: MadeBy::Observation,
        purpose: "The OUs under each parent (every page): each account's OU path, which \
                  Macie's requests carry as aws:SourceOrgPaths, and OU scoping.",
    },
    ApiCall {
        operation: "organizations:ListAccountsForParent",
        action: Some("organizations:ListAccountsForParent"),
        principal: Principal::Management,
        rules: ALL_RULES,
        made_by: MadeBy::Observation,
        purpose: "The accounts under each parent and their state (every page): the population.",
    },
    ApiCall {
        operation: "sts:AssumeRole",
        action: Some("sts:AssumeRole"),
        principal: Principal::Caller,
        rules: ALL_RULES,
        made_by: MadeBy::CredentialsProvider,
        purpose: "The management role (when configured), then the audit role in every account, \
                  once per account per run, again shortly before the session ends or when AWS \
                  refuses it as expired.",
    },
    ApiCall {
        operation: "s3:ListBuckets",
        action: Some("s3:ListAllMyBuckets"),
        principal: Principal::AuditRole,
        rules: &["MACIE-003", "MACIE-004", "MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "The buckets each account owns, so a repository bucket is read with its \
                  owner's credentials.",
    },
    ApiCall {
        operation: "macie2:GetMacieSession",
        action: Some("macie2:GetMacieSession"),
        principal: Principal::AuditRole,
        rules: ALL_RULES,
        made_by: MadeBy::Observation,
        purpose: "Whether Macie is enabled, paused or off in each Region, and since when.",
    },
    ApiCall {
        operation: "macie2:GetAdministratorAccount",
        action: Some("macie2:GetAdministratorAccount"),
        principal: Principal::AuditRole,
        rules: &["MACIE-002", "MACIE-003", "MACIE-004", "MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "A member's Macie administrator, whose repository judges it with \
                  `rules.macie_members = \"administrator\"`.",
    },
    ApiCall {
        operation: "macie2:GetClassificationExportConfiguration",
        action: Some("macie2:GetClassificationExportConfiguration"),
        principal: Principal::AuditRole,
        rules: &["MACIE-002", "MACIE-003", "MACIE-004", "MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "The discovery results repository: bucket, prefix, KMS key, expected owner.",
    },
    ApiCall {
        operation: "s3:HeadBucket",
        action: Some("s3:ListBucket"),
        principal: Principal::AuditRole,
        rules: &["MACIE-004", "MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "A repository bucket no account in scope owns: missing (404) or owned \
                  elsewhere.",
    },
    ApiCall {
        operation: "s3:GetBucketLocation",
        action: Some("s3:GetBucketLocation"),
        principal: Principal::AuditRole,
        rules: &["MACIE-003", "MACIE-004", "MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "The repository bucket's Region (key in the same Region, Macie's Region rule).",
    },
    ApiCall {
        operation: "s3:GetPublicAccessBlock",
        action: Some("s3:GetBucketPublicAccessBlock"),
        principal: Principal::AuditRole,
        rules: &["MACIE-004"],
        made_by: MadeBy::Observation,
        purpose: "The bucket's Block Public Access settings.",
    },
    ApiCall {
        operation: "s3control:GetPublicAccessBlock",
        action: Some("s3:GetAccountPublicAccessBlock"),
        principal: Principal::AuditRole,
        rules: &["MACIE-004"],
        made_by: MadeBy::Observation,
        purpose: "The owner account's Block Public Access settings, when the bucket's own do \
                  not block everything.",
    },
    ApiCall {
        operation: "s3:GetBucketPolicyStatus",
        action: Some("s3:GetBucketPolicyStatus"),
        principal: Principal::AuditRole,
        rules: &["MACIE-004"],
        made_by: MadeBy::Observation,
        purpose: "Whether S3 considers the bucket policy public.",
    },
    ApiCall {
        operation: "s3:GetBucketPolicy",
        action: Some("s3:GetBucketPolicy"),
        principal: Principal::AuditRole,
        rules: &["MACIE-004"],
        made_by: MadeBy::Observation,
        purpose: "The bucket policy: TLS-only access, Macie's s3:PutObject and \
                  s3:GetBucketLocation.",
    },
    ApiCall {
        operation: "s3:GetBucketEncryption",
        action: Some("s3:GetEncryptionConfiguration"),
        principal: Principal::AuditRole,
        rules: &["MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "Default encryption: SSE-KMS with the repository key.",
    },
    ApiCall {
        operation: "s3:GetBucketVersioning",
        action: Some("s3:GetBucketVersioning"),
        principal: Principal::AuditRole,
        rules: &["MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "Versioning keeps results from being overwritten or deleted.",
    },
    ApiCall {
        operation: "s3:GetObjectLockConfiguration",
        action: Some("s3:GetBucketObjectLockConfiguration"),
        principal: Principal::AuditRole,
        rules: &["MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "Object Lock, the alternative to versioning.",
    },
    ApiCall {
        operation: "kms:DescribeKey",
        action: Some("kms:DescribeKey"),
        principal: Principal::AuditRole,
        rules: &["MACIE-003", "MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "The repository key: exists, state, customer managed, symmetric \
                  ENCRYPT_DECRYPT, its ARN.",
    },
    ApiCall {
        operation: "kms:GetKeyPolicy",
        action: Some("kms:GetKeyPolicy"),
        principal: Principal::AuditRole,
        rules: &["MACIE-003"],
        made_by: MadeBy::Observation,
        purpose: "The key policy: Macie's kms:GenerateDataKey and kms:Encrypt, with \
                  confused-deputy conditions.",
    },
    ApiCall {
        operation: "kms:GetKeyRotationStatus",
        action: Some("kms:GetKeyRotationStatus"),
        principal: Principal::AuditRole,
        rules: &["MACIE-005"],
        made_by: MadeBy::Observation,
        purpose: "Automatic key rotation.",
    },
    ApiCall {
        operation: "organizations:ListPoliciesForTarget",
        action: Some("organizations:ListPoliciesForTarget"),
        principal: Principal::Management,
        rules: &["MACIE-003", "MACIE-004"],
        made_by: MadeBy::Observation,
        purpose: "The Resource Control Policies attached to each repository owner's account and \
                  every OU and root above it (filter RESOURCE_CONTROL_POLICY, every page, each \
                  target once), only when ListRoots says RCPs are enabled: they can deny Macie's \
                  writes whatever the key and bucket policies say.",
    },
    ApiCall {
        operation: "organizations:DescribePolicy",
        action: Some("organizations:DescribePolicy"),
        principal: Principal::Management,
        rules: &["MACIE-003", "MACIE-004"],
        made_by: MadeBy::Observation,
        purpose: "Each of those RCPs' document, once per policy.",
    },
];

/// The write permissions of the opt-in remediation role (`CreateRemediationRole = "true"` in
/// `deploy/audit-role.yaml`): creating or fixing the repository key and bucket and pointing Macie
/// at them. Never granted to the audit role.
pub const REMEDIATION_ACTIONS: &[&str] = &[
    "kms:CreateKey",
    "kms:CreateAlias",
    "kms:PutKeyPolicy",
    "kms:EnableKeyRotation",
    "kms:CancelKeyDeletion",
    "kms:EnableKey",
    "kms:TagResource",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "s3:CreateBucket",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketVersioning",
    "s3:GetBucketPolicy",
    "s3:GetBucketLocation",
    "macie2:PutClassificationExportConfiguration",
    "macie2:GetClassificationExportConfiguration",
    "macie2:GetMacieSession",
];

/// The permissions `scan --upload` needs on the archive bucket, with the scanner's own
/// credentials (`deploy/archive-upload-policy.json`): locating the bucket, checking its Object
/// Lock, writing objects with retention, reading them back to verify, and SSE-KMS with the key.
pub const ARCHIVE_ACTIONS: &[&str] = &[
    "s3:GetBucketLocation",
    "s3:GetBucketObjectLockConfiguration",
    "s3:PutObject",
    "s3:PutObjectRetention",
    "s3:GetObject",
    "kms:GenerateDataKey",
    "kms:Decrypt",
];

/// The permissions `scan --security-hub` needs in every account whose findings it imports (the
/// opt-in `EnableSecurityHubImport = "true"` policy of the audit role in `deploy/audit-role.yaml`,
/// and `deploy/delivery-policy.json` for the scanner's own account and the management role's,
/// which are read with those identities): reading our findings back
/// (to archive stale ones and keep their first `CreatedAt`) and importing them. The import writes
/// only to Security Hub, never to a resource the rules judge, so it is kept apart from the
/// read-only audit actions rather than counted among them.
pub const SECURITY_HUB_ACTIONS: &[&str] =
    &["securityhub:BatchImportFindings", "securityhub:GetFindings"];

/// The permission `scan --notify sns=TOPIC_ARN` needs, with the scanner's own credentials, on
/// the topic (`deploy/delivery-policy.json`). Webhooks need no AWS permission.
pub const NOTIFY_ACTIONS: &[&str] = &["sns:Publish"];

/// The call recorded under `operation`, if the scanner makes it.
pub fn api_call(operation: &str) -> Option<&'static ApiCall> {
    API_CALLS.iter().find(|call| call.operation == operation)
}

/// The IAM actions of the calls `principal` makes.
fn actions_of(principal: Principal) -> BTreeSet<&'static str> {
    API_CALLS
        .iter()
        .filter(|call| call.principal == principal)
        .filter_map(|call| call.action)
        .collect()
}

/// Exactly the IAM actions the audit role needs in every member account: read-only, on any
/// resource. `deploy/audit-role.yaml` grants these and nothing else.
pub fn audit_role_actions() -> BTreeSet<&'static str> {
    actions_of(Principal::AuditRole)
}

/// The IAM actions the scanner's identity needs beyond reading an account: listing the
/// organization and assuming roles ([`Principal::Management`] and [`Principal::Caller`]).
pub fn organization_actions() -> BTreeSet<&'static str> {
    let mut actions = actions_of(Principal::Management);
    actions.extend(actions_of(Principal::Caller));
    actions
}

/// Exactly the IAM actions the scanner's identity in the security account needs
/// (`deploy/security-account-policy.json`), and the management role it may chain through
/// (`deploy/management-role-policy.json`): [`organization_actions`], plus
/// [`audit_role_actions`] for reading its own account, which is scanned with its own
/// credentials unless `access.assume_role_in_own_account` is set.
pub fn security_account_actions() -> BTreeSet<&'static str> {
    let mut actions = organization_actions();
    actions.extend(audit_role_actions());
    actions
}

/// Exactly the IAM actions of the nightly job's scanner role (`deploy/nightly-scan.yaml`,
/// `ScannerRole`), besides what running in CodeBuild needs: the scanner's identity
/// ([`security_account_actions`]), the archive ([`ARCHIVE_ACTIONS`]) and delivery
/// ([`SECURITY_HUB_ACTIONS`], [`NOTIFY_ACTIONS`]).
pub fn nightly_scanner_actions() -> BTreeSet<&'static str> {
    let mut actions = security_account_actions();
    actions.extend(ARCHIVE_ACTIONS);
    actions.extend(SECURITY_HUB_ACTIONS);
    actions.extend(NOTIFY_ACTIONS);
    actions
}

/// The IAM actions a rule's verdicts depend on, whoever makes the calls.
pub fn rule_actions(rule_id: &str) -> BTreeSet<&'static str> {
    API_CALLS
        .iter()
        .filter(|call| call.rules.contains(&rule_id))
        .filter_map(|call| call.action)
        .collect()
}

/// The Markdown table of every call: IAM action, operation, identity, rules and why, as
/// `docs/permissions.md` shows it.
pub fn calls_table_markdown() -> String {
    let mut table =
        String::from("| IAM action | API call | made by | rules | why |\n|---|---|---|---|---|\n");
    for call in API_CALLS {
        let _ = writeln!(
            table,
            "| {} | `{}` | {} | {} | {} |",
            call.action
                .map_or_else(|| "(none needed)".to_owned(), |a| format!("`{a}`")),
            call.operation,
            call.principal.describe(),
            if call.rules == ALL_RULES {
                "all".to_owned()
            } else {
                call.rules.join(", ")
            },
            call.purpose,
        );
    }
    table
}

/// The Markdown table of the IAM actions each rule depends on, as `docs/permissions.md` shows it.
pub fn rules_table_markdown() -> String {
    let mut table = String::from("| rule | IAM actions its verdict depends on |\n|---|---|\n");
    let rules: BTreeSet<&str> = API_CALLS
        .iter()
        .flat_map(|call| call.rules.iter().copied())
        .collect();
    for rule in rules {
        let actions: Vec<String> = rule_actions(rule)
            .into_iter()
            .map(|action| format!("`{action}`"))
            .collect();
        let _ = writeln!(table, "| {rule} | {} |", actions.join(", "));
    }
    table
}

/// The Markdown list of the delivery actions (Security Hub, SNS), as `docs/permissions.md`
/// shows it.
pub fn delivery_list_markdown() -> String {
    SECURITY_HUB_ACTIONS
        .iter()
        .map(|action| format!("- `{action}` (`--security-hub`: every account imported into)\n"))
        .chain(
            NOTIFY_ACTIONS
                .iter()
                .map(|action| format!("- `{action}` (`--notify sns=…`: the scanner's identity)\n")),
        )
        .collect()
}

/// The Markdown list of the remediation role's actions, as `docs/permissions.md` shows it.
pub fn remediation_list_markdown() -> String {
    REMEDIATION_ACTIONS
        .iter()
        .map(|action| format!("- `{action}`\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique() {
        let labels: BTreeSet<&str> = API_CALLS.iter().map(|call| call.operation).collect();
        assert_eq!(labels.len(), API_CALLS.len());
    }

    #[test]
    fn s3_actions_differ_from_operation_names() {
        let action = |op| api_call(op).and_then(|call| call.action);
        assert_eq!(
            action("s3:GetBucketEncryption"),
            Some("s3:GetEncryptionConfiguration")
        );
        assert_eq!(
            action("s3control:GetPublicAccessBlock"),
            Some("s3:GetAccountPublicAccessBlock")
        );
        assert_eq!(action("s3:HeadBucket"), Some("s3:ListBucket"));
        assert_eq!(action("sts:GetCallerIdentity"), None);
    }

    #[test]
    fn the_audit_role_reads_only() {
        let actions = audit_role_actions();
        assert!(actions.contains("macie2:GetMacieSession"));
        assert!(!actions.contains("sts:AssumeRole"));
        assert!(!actions.contains("organizations:ListAccountsForParent"));
        assert!(
            REMEDIATION_ACTIONS
                .iter()
                .filter(|action| action.contains(":Put") || action.contains(":Create"))
                .all(|action| !actions.contains(action))
        );
    }
}
