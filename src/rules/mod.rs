//! The rule catalogue and evaluation: pure functions from evidence to findings.
//!
//! Verdict precedence (see the rule catalogue) is applied here once, for every rule: an account
//! that is not active is SKIPPED, an account whose role could not be assumed is ERROR, a Region
//! that is not enabled is SKIPPED; only then does each rule judge the evidence.

mod bucket_protected;
mod judge;
mod key_usable;
mod macie_enabled;
pub(crate) mod remediation;
mod repository;
mod repository_configured;
mod repository_hardening;

pub use judge::{Judged, judge};

use std::borrow::Borrow;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::config::MemberRepository;
use crate::error::Result;
use crate::evidence::{
    AccountEvidence, AccountRegionEvidence, ApiError, ErrorKind, Evidence, RunEvidence,
};
use crate::findings::{Finding, Severity, Status, macie_session_arn};
use crate::macie_access::OrgMembership;

/// A rule of the catalogue.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, e.g. `MACIE-002`.
    pub id: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// Severity of a failure.
    pub severity: Severity,
    /// Why the rule matters.
    pub rationale: &'static str,
    /// How to fix a failure, in general terms.
    pub remediation: &'static str,
    /// The Trend Micro Conformity rule it implements, if any.
    pub conformity_rule: Option<&'static str>,
    check: fn(&RuleInput<'_>) -> Verdict,
}

/// What a rule sees: one account-Region's evidence, the run it belongs to, and the settings.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The run: repository buckets and keys, and the account-Region records of Macie
    /// administrators (read from a file, it holds no other account's records).
    pub run: &'a RunEvidence,
    /// The account-Region's Macie evidence.
    pub evidence: &'a AccountRegionEvidence,
    /// When the scan started.
    pub scan_started_at: DateTime<Utc>,
    /// Whose repository a Macie member is judged by.
    pub members: MemberRepository,
    /// The judged account's organization, as Macie's requests carry it (worked out once per
    /// account: it is a lookup in the run's population).
    pub organization: &'a OrgMembership,
}

/// A rule's judgement, before it is dressed as a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The status.
    pub status: Status,
    /// Why.
    pub message: String,
    /// The resource judged, when it is not the account-Region's Macie session.
    pub resource: Option<String>,
    /// Steps that fix it, one per line.
    pub remediation: Vec<String>,
}

impl Verdict {
    fn new(status: Status, message: impl Into<String>) -> Self {
        Verdict {
            status,
            message: message.into(),
            resource: None,
            remediation: Vec::new(),
        }
    }

    fn fix(mut self, steps: Vec<String>) -> Self {
        self.remediation = steps;
        self
    }

    fn about(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
}

/// Every rule, in report order.
pub static CATALOGUE: &[Rule] = &[
    macie_enabled::RULE,
    repository_configured::RULE,
    key_usable::RULE,
    bucket_protected::RULE,
    repository_hardening::RULE,
];

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().find(|rule| rule.id == id)
}

/// Judges `accounts` (of `evidence`'s run) in parallel, each with its own account-Region
/// records read as it is judged: their findings, account by account, in order.
pub fn evaluate_accounts(
    evidence: &Evidence,
    accounts: &[AccountEvidence],
) -> Result<Vec<Vec<Finding>>> {
    let run = evidence.run();
    accounts
        .par_iter()
        .map(|account| {
            let records = evidence.account_regions(&account.account.id)?;
            Ok(evaluate_account(run, account, &records))
        })
        .collect()
}

/// Judges one account: one finding per Region of the run and rule. `records` are the account's
/// own account-Region records; `run` supplies the repositories and, for members judged by
/// their administrator, the administrator's records.
pub fn evaluate_account<R: Borrow<AccountRegionEvidence>>(
    run: &RunEvidence,
    account: &AccountEvidence,
    records: &[R],
) -> Vec<Finding> {
    let mut findings = Vec::with_capacity(run.header.regions.len() * CATALOGUE.len());
    let organization = OrgMembership::of(run, &account.account.id);
    for region in &run.header.regions {
        let evidence = records
            .iter()
            .map(Borrow::borrow)
            .find(|r| r.region == *region);
        findings.extend(evaluate_account_region(
            run,
            account,
            &organization,
            region,
            evidence,
        ));
    }
    findings
}

/// Why an account-Region is not judged by the rules themselves.
enum Gate<'a> {
    Judge(&'a AccountRegionEvidence),
    Skipped(String),
    Error(String),
}

fn gate<'a>(
    run: &RunEvidence,
    account: &AccountEvidence,
    evidence: Option<&'a AccountRegionEvidence>,
) -> Gate<'a> {
    if !account.account.is_active() {
        return Gate::Skipped(format!(
            "Account is {}, not ACTIVE; it is not scanned.",
            account.account.status
        ));
    }
    let Some(access) = &account.access else {
        return Gate::Error(Absence::of(run).account());
    };
    if let Some(error) = access.identity.error() {
        let role = access
            .role_arn
            .as_deref()
            .unwrap_or("the caller's credentials");
        return Gate::Error(format!("Cannot act in the account with {role}: {error}"));
    }
    let Some(evidence) = evidence else {
        return Gate::Error(Absence::of(run).region());
    };
    if evidence
        .macie_session
        .error()
        .is_some_and(|e| e.kind == ErrorKind::RegionDisabled)
    {
        return Gate::Skipped("Region not enabled for this account (opt-in Region).".into());
    }
    Gate::Judge(evidence)
}

fn evaluate_account_region(
    run: &RunEvidence,
    account: &AccountEvidence,
    organization: &OrgMembership,
    region: &str,
    evidence: Option<&AccountRegionEvidence>,
) -> Vec<Finding> {
    let gate = gate(run, account, evidence);
    CATALOGUE
        .iter()
        .map(|rule| {
            let verdict = match &gate {
                Gate::Judge(evidence) => (rule.check)(&RuleInput {
                    run,
                    evidence,
                    scan_started_at: run.header.started_at,
                    members: run.header.rules.macie_members,
                    organization,
                }),
                Gate::Skipped(reason) => Verdict::new(Status::Skipped, reason.clone()),
                Gate::Error(reason) => Verdict::new(Status::Error, reason.clone()),
            };
            Finding {
                rule_id: rule.id.to_owned(),
                account_id: account.account.id.clone(),
                account_name: account.account.name.clone(),
                ou_path: account.account.ou_path.clone(),
                region: region.to_owned(),
                status: verdict.status,
                severity: rule.severity,
                resource: verdict
                    .resource
                    .unwrap_or_else(|| macie_session_arn(&account.account.id, region)),
                message: verdict.message,
                remediation: verdict.remediation.join("\n"),
                baseline: None,
                suppression: None,
            }
        })
        .collect()
}

/// Why evidence that a run would hold is absent from it. A run that ended normally collected
/// everything its records name, so evidence missing from it was lost after the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// The evidence has no end record: the scan was killed or crashed.
    ScanStopped,
    /// The scan was interrupted (Ctrl-C, SIGTERM) before it got there.
    Interrupted,
    /// The scan ended normally: the file lost the record (edited or damaged).
    MissingFromFile,
}

impl Absence {
    /// Why `run` lacks evidence it would hold.
    pub fn of(run: &RunEvidence) -> Absence {
        match &run.end {
            None => Absence::ScanStopped,
            Some(end) if end.interrupted => Absence::Interrupted,
            Some(_) => Absence::MissingFromFile,
        }
    }

    /// "`subject` was not read: why", e.g. "The key … was not read: the scan was interrupted
    /// before it got there".
    pub fn not_read(self, subject: &str) -> String {
        format!("{subject} was not read: {}", self.cause())
    }

    /// Why, in a phrase.
    pub fn cause(self) -> &'static str {
        match self {
            Absence::ScanStopped => {
                "the scan stopped before it got there (killed or crashed: its evidence has no end record)"
            }
            Absence::Interrupted => "the scan was interrupted before it got there",
            Absence::MissingFromFile => {
                "its evidence is missing from the file although the scan ended (edited or damaged)"
            }
        }
    }

    /// Why an account in scope has no evidence at all.
    pub fn account(self) -> String {
        match self {
            Absence::ScanStopped => "The account was not reached before the scan stopped (killed or crashed: its evidence has no end record).".into(),
            Absence::Interrupted => "The account was not reached before the scan was interrupted.".into(),
            Absence::MissingFromFile => "The evidence for this account is missing from the file (edited or damaged): the scan ended, so it had been collected.".into(),
        }
    }

    /// Why a Region of a reached account has no evidence.
    fn region(self) -> String {
        match self {
            Absence::ScanStopped => "The Region was not examined before the scan stopped (killed or crashed: its evidence has no end record).".into(),
            Absence::Interrupted => "The Region was not examined before the scan was interrupted.".into(),
            Absence::MissingFromFile => "The evidence for this Region is missing from the file (edited or damaged): the scan ended, so it had been collected.".into(),
        }
    }
}

/// The verdict for a rule whose input could not be read.
fn unreadable(what: &str, error: &ApiError) -> Verdict {
    Verdict::new(
        Status::Error,
        format!("Cannot read {what}: {}", error.explained()),
    )
}

#[cfg(test)]
pub(crate) mod testing {
    //! Evidence builders for the rules' unit tests.

    use chrono::{DateTime, TimeZone, Utc};

    use crate::evidence::{
        Account, AccountAccess, AccountEvidence, AccountRegionEvidence, ApiError, BucketEvidence,
        BucketOwner, CallerIdentity, ErrorKind, KeyEvidence, KeyMetadata, MacieAdministrator,
        MacieSession, Observation, OrganizationInfo, OrganizationListing, Outcome,
        PublicAccessBlock, RunEvidence, RunHeader, S3Destination,
    };

    /// A run holding one account-Region's evidence and nothing else.
    pub fn run_of(evidence: &AccountRegionEvidence) -> RunEvidence {
        let mut run = RunEvidence {
            header: RunHeader {
                schema_version: crate::evidence::EVIDENCE_SCHEMA_VERSION,
                run_id: "test".into(),
                tool_version: "0".into(),
                started_at: at(2026, 11, 1),
                config_sha256: String::new(),
                regions: vec![evidence.region.clone()],
                caller: ok(
                    "sts:GetCallerIdentity",
                    CallerIdentity {
                        account: "123456789012".into(),
                        arn: "arn:aws:iam::123456789012:root".into(),
                        user_id: "AIDA".into(),
                    },
                ),
                organization: OrganizationListing::Organization {
                    management_role_arn: None,
                    organization: None,
                    pages: Vec::new(),
                    roots: None,
                },
                excluded_accounts: Vec::new(),
                accounts: Vec::new(),
                rules: Default::default(),
                csv_bom: false,
                command_line: Vec::new(),
                config_path: None,
                shard: None,
                scope: Default::default(),
            },
            accounts: Vec::new(),
            account_regions: Default::default(),
            buckets: Default::default(),
            keys: Default::default(),
            resource_controls: None,
            end: None,
        };
        run.account_regions.insert(
            (evidence.account_id.clone(), evidence.region.clone()),
            evidence.clone(),
        );
        run
    }

    /// An account the audit role reached, owning `buckets`.
    pub fn account(id: &str, buckets: &[&str]) -> AccountEvidence {
        AccountEvidence {
            account: Account {
                id: id.into(),
                name: format!("account {id}"),
                email: None,
                status: "ACTIVE".into(),
                ou_path: None,
            },
            access: Some(AccountAccess {
                role_arn: None,
                identity: ok(
                    "sts:GetCallerIdentity",
                    CallerIdentity {
                        account: id.into(),
                        arn: format!("arn:aws:sts::{id}:assumed-role/audit/x"),
                        user_id: "AROA".into(),
                    },
                ),
            }),
            buckets: Some(ok(
                "s3:ListBuckets",
                buckets.iter().map(|b| (*b).to_owned()).collect(),
            )),
        }
    }

    pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    pub fn ok<T>(operation: &str, value: T) -> Observation<T> {
        Observation {
            operation: operation.into(),
            request_id: Some("req-1".into()),
            observed_at: at(2026, 11, 1),
            outcome: Outcome::Response(value),
        }
    }

    pub fn err<T>(operation: &str, kind: ErrorKind, code: &str) -> Observation<T> {
        Observation {
            operation: operation.into(),
            request_id: Some("req-2".into()),
            observed_at: at(2026, 11, 1),
            outcome: Outcome::Error(ApiError {
                kind,
                code: Some(code.into()),
                message: "message".into(),
                http_status: Some(400),
            }),
        }
    }

    pub fn session(status: &str, created_at: DateTime<Utc>) -> Observation<MacieSession> {
        ok(
            "macie2:GetMacieSession",
            MacieSession {
                status: status.into(),
                created_at: Some(created_at),
                updated_at: Some(created_at),
            },
        )
    }

    pub fn destination(bucket: Option<&str>, key: Option<&str>) -> S3Destination {
        S3Destination {
            bucket_name: bucket.map(Into::into),
            key_prefix: None,
            kms_key_arn: key.map(Into::into),
            expected_bucket_owner: None,
        }
    }

    pub fn evidence(
        session: Observation<MacieSession>,
        export: Option<Observation<Option<S3Destination>>>,
    ) -> AccountRegionEvidence {
        AccountRegionEvidence {
            account_id: "111111111111".into(),
            region: "us-east-1".into(),
            macie_session: session,
            administrator: Some(ok(
                "macie2:GetAdministratorAccount",
                None::<MacieAdministrator>,
            )),
            export_configuration: export,
        }
    }

    /// The repository of [`repository_run`].
    pub const REPOSITORY_BUCKET: &str = "macie-results";
    /// See [`REPOSITORY_BUCKET`].
    pub const REPOSITORY_PREFIX: &str = "macie/";
    /// See [`REPOSITORY_BUCKET`].
    pub const REPOSITORY_KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k";
    /// The organization of [`repository_run`]'s account.
    pub const ORGANIZATION_ID: &str = "o-a1b2c3d4e5";

    /// A run in which account 111111111111 (us-east-1), a member of [`ORGANIZATION_ID`] at
    /// `ou_path`, exports to its own bucket and key (sound in every other respect) with these
    /// policies.
    pub fn repository_run(key_policy: &str, bucket_policy: &str, ou_path: &str) -> RunEvidence {
        let mut destination = destination(Some(REPOSITORY_BUCKET), Some(REPOSITORY_KEY));
        destination.key_prefix = Some(REPOSITORY_PREFIX.into());
        let own = evidence(
            session("ENABLED", at(2026, 10, 1)),
            Some(ok(
                "macie2:GetClassificationExportConfiguration",
                Some(destination),
            )),
        );
        let mut run = run_of(&own);
        run.header.organization = OrganizationListing::Organization {
            management_role_arn: None,
            organization: Some(ok(
                "organizations:DescribeOrganization",
                OrganizationInfo {
                    id: ORGANIZATION_ID.into(),
                    arn: format!(
                        "arn:aws:organizations::123456789012:organization/{ORGANIZATION_ID}"
                    ),
                    management_account_id: "123456789012".into(),
                },
            )),
            pages: Vec::new(),
            roots: None,
        };
        run.header.accounts.push(Account {
            id: own.account_id.clone(),
            name: "workload".into(),
            email: None,
            status: "ACTIVE".into(),
            ou_path: Some(ou_path.into()),
        });
        let all_blocked = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        };
        run.buckets.insert(
            REPOSITORY_BUCKET.into(),
            BucketEvidence {
                name: REPOSITORY_BUCKET.into(),
                owner: BucketOwner::Account {
                    account_id: own.account_id.clone(),
                },
                unverifiable: None,
                probe: None,
                location: Some(ok("s3:GetBucketLocation", "us-east-1".into())),
                public_access_block: Some(ok("s3:GetPublicAccessBlock", Some(all_blocked))),
                account_public_access_block: None,
                policy_status: Some(ok("s3:GetBucketPolicyStatus", false)),
                policy: Some(ok("s3:GetBucketPolicy", Some(bucket_policy.into()))),
                encryption: None,
                versioning: None,
                object_lock: None,
            },
        );
        run.keys.insert(
            REPOSITORY_KEY.into(),
            KeyEvidence {
                arn: REPOSITORY_KEY.into(),
                owner_account: own.account_id.clone(),
                region: own.region.clone(),
                unverifiable: None,
                metadata: Some(ok(
                    "kms:DescribeKey",
                    KeyMetadata {
                        arn: REPOSITORY_KEY.into(),
                        state: "Enabled".into(),
                        manager: "CUSTOMER".into(),
                        spec: "SYMMETRIC_DEFAULT".into(),
                        usage: "ENCRYPT_DECRYPT".into(),
                        multi_region: false,
                    },
                )),
                policy: Some(ok("kms:GetKeyPolicy", key_policy.into())),
                rotation_enabled: Some(ok("kms:GetKeyRotationStatus", true)),
            },
        );
        run
    }

    /// Asserts a verdict's status and that its message says each of `words`.
    #[track_caller]
    pub fn assert_says(verdict: &super::Verdict, status: crate::findings::Status, words: &[&str]) {
        assert_eq!(verdict.status, status, "{}", verdict.message);
        for said in words {
            assert!(
                verdict.message.contains(said),
                "{said:?} not in {}",
                verdict.message
            );
        }
    }

    /// An account-Region whose GetMacieSession failed with `kind` and AWS's error `code` (AWS
    /// answers `AccessDeniedException` both when Macie is off and when the caller may not ask).
    pub fn macie_session_error(kind: ErrorKind, code: &str) -> AccountRegionEvidence {
        evidence(err("macie2:GetMacieSession", kind, code), None)
    }

    /// A rule's verdict on the run's account-Region 111111111111 / us-east-1.
    pub fn judge(rule: &super::Rule, run: &RunEvidence) -> super::Verdict {
        let evidence = run
            .account_region("111111111111", "us-east-1")
            .expect("the run holds the account-Region");
        (rule.check)(&super::RuleInput {
            run,
            evidence,
            scan_started_at: run.header.started_at,
            members: run.header.rules.macie_members,
            organization: &crate::macie_access::OrgMembership::of(run, "111111111111"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{at, evidence, run_of, session};
    use super::*;
    use crate::evidence::{Account, RunEnd};

    /// Judges an account the run lists but holds no evidence of, the run ending as `end` says.
    fn judged_without_evidence(end: Option<RunEnd>) -> Vec<Finding> {
        let mut run = run_of(&evidence(session("ENABLED", at(2026, 1, 1)), None));
        run.end = end;
        let account = AccountEvidence {
            account: Account {
                id: "222222222222".into(),
                name: "edited out".into(),
                email: None,
                status: "ACTIVE".into(),
                ou_path: None,
            },
            access: None,
            buckets: None,
        };
        evaluate_account::<AccountRegionEvidence>(&run, &account, &[])
    }

    #[test]
    fn an_account_missing_from_a_finished_run_is_missing_from_the_file_not_unreached() {
        let ended = |interrupted| {
            Some(RunEnd {
                ended_at: at(2026, 11, 1),
                interrupted,
            })
        };
        for (end, expected) in [
            (
                ended(false),
                "The evidence for this account is missing from the file (edited or damaged)",
            ),
            (
                ended(true),
                "The account was not reached before the scan was interrupted.",
            ),
            (
                None,
                "The account was not reached before the scan stopped (killed or crashed",
            ),
        ] {
            let findings = judged_without_evidence(end);
            assert_eq!(findings.len(), CATALOGUE.len());
            for finding in findings {
                assert_eq!(finding.status, Status::Error);
                assert!(finding.message.contains(expected), "{}", finding.message);
            }
        }
    }

    #[test]
    fn a_failed_read_says_what_the_error_means() {
        use super::testing::err;
        let throttled = err::<()>(
            "kms:DescribeKey",
            ErrorKind::Throttled,
            "ThrottlingException",
        );
        let verdict = unreadable("the key", throttled.error().expect("an error"));
        assert_eq!(
            verdict.message,
            "Cannot read the key: throttled on every attempt (retries exhausted): \
             ThrottlingException (HTTP 400): message"
        );
        let denied = err::<()>(
            "macie2:GetMacieSession",
            ErrorKind::AccessDenied,
            "AccessDenied",
        );
        assert!(
            unreadable("the Macie session", denied.error().expect("an error"))
                .message
                .contains("access denied: AccessDenied")
        );
    }

    #[test]
    fn a_repository_not_read_says_why() {
        assert_eq!(
            Absence::MissingFromFile.not_read("The key k"),
            "The key k was not read: its evidence is missing from the file although the scan \
             ended (edited or damaged)"
        );
        assert!(
            Absence::Interrupted
                .not_read("Bucket b")
                .ends_with("interrupted before it got there")
        );
    }
}
