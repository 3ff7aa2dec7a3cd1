//! The rule catalogue and evaluation: pure functions from evidence to findings.
//!
//! Verdict precedence (see the rule catalogue) is applied here once, for every rule: an account
//! that is not active is SKIPPED, an account whose role could not be assumed is ERROR, a Region
//! that is not enabled is SKIPPED; only then does each rule judge the evidence.

mod bucket_protected;
mod key_usable;
mod macie_enabled;
pub(crate) mod remediation;
mod repository;
mod repository_configured;
mod repository_hardening;

use std::borrow::Borrow;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::config::MemberRepository;
use crate::error::Result;
use crate::evidence::{
    AccountEvidence, AccountRegionEvidence, ApiError, ErrorKind, Evidence, RunEvidence,
};
use crate::findings::{Finding, Severity, Status, macie_session_arn};

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
    for region in &run.header.regions {
        let evidence = records
            .iter()
            .map(Borrow::borrow)
            .find(|r| r.region == *region);
        findings.extend(evaluate_account_region(run, account, region, evidence));
    }
    findings
}

/// Why an account-Region is not judged by the rules themselves.
enum Gate<'a> {
    Judge(&'a AccountRegionEvidence),
    Skipped(String),
    Error(String),
}

fn gate<'a>(account: &AccountEvidence, evidence: Option<&'a AccountRegionEvidence>) -> Gate<'a> {
    if !account.account.is_active() {
        return Gate::Skipped(format!(
            "Account is {}, not ACTIVE; it is not scanned.",
            account.account.status
        ));
    }
    let Some(access) = &account.access else {
        return Gate::Error("The account was not reached before the scan ended.".into());
    };
    if let Some(error) = access.identity.error() {
        let role = access
            .role_arn
            .as_deref()
            .unwrap_or("the caller's credentials");
        return Gate::Error(format!("Cannot act in the account with {role}: {error}"));
    }
    let Some(evidence) = evidence else {
        return Gate::Error("The Region was not examined before the scan ended.".into());
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
    region: &str,
    evidence: Option<&AccountRegionEvidence>,
) -> Vec<Finding> {
    let gate = gate(account, evidence);
    CATALOGUE
        .iter()
        .map(|rule| {
            let verdict = match &gate {
                Gate::Judge(evidence) => (rule.check)(&RuleInput {
                    run,
                    evidence,
                    scan_started_at: run.header.started_at,
                    members: run.header.rules.macie_members,
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

/// The verdict for a rule whose input could not be read.
fn unreadable(what: &str, error: &ApiError) -> Verdict {
    Verdict::new(Status::Error, format!("Cannot read {what}: {error}"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Evidence builders for the rules' unit tests.

    use chrono::{DateTime, TimeZone, Utc};

    use crate::evidence::{
        AccountRegionEvidence, ApiError, CallerIdentity, ErrorKind, MacieAdministrator,
        MacieSession, Observation, OrganizationListing, Outcome, RunEvidence, RunHeader,
        S3Destination,
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
            end: None,
        };
        run.account_regions.insert(
            (evidence.account_id.clone(), evidence.region.clone()),
            evidence.clone(),
        );
        run
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
}
