//! `run.json`: who ran the scan, when, with what identity and configuration, over what scope,
//! and whether it is complete — the audit trail of a run.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::summary::Tally;
use super::write_atomically;
use crate::config::RulesConfig;
use crate::error::Result;
use crate::evidence::{OrganizationListing, RunEvidence};
use crate::findings::Status;
use crate::triage::Triage;

/// The file name of the run metadata in a run directory.
pub const FILE_NAME: &str = "run.json";

/// The run's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RunMetadata {
    /// The scanner.
    pub tool: Tool,
    /// The run's id.
    pub run_id: String,
    /// When the scan started (UTC).
    pub started_at: DateTime<Utc>,
    /// When collection ended (UTC); `None` for a run that did not finish.
    pub ended_at: Option<DateTime<Utc>>,
    /// The command line, secrets removed.
    pub command_line: Vec<String>,
    /// The configuration used.
    pub configuration: Configuration,
    /// The principal that ran the scan (sts:GetCallerIdentity).
    pub principal: Option<Principal>,
    /// How the organization was listed.
    pub organization: Organization,
    /// The Regions in scope.
    pub regions: Vec<String>,
    /// Every account in scope: how it was reached and what became of it.
    pub accounts: Vec<AccountScope>,
    /// Accounts the configuration excluded.
    pub excluded_accounts: Vec<ExcludedAccount>,
    /// Population counts.
    pub counts: Counts,
    /// Whether every account-Region in scope was evaluated (no ERROR, not interrupted).
    pub complete: bool,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// The rule settings.
    pub rules: RulesConfig,
    /// Suppressions, baseline comparison and the severity gate applied.
    pub triage: Triage,
    /// The exit code the run's findings mean under the gate.
    pub exit_code: u8,
    /// Where the findings were delivered besides the reports (Security Hub), and what failed;
    /// absent when nothing was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::integrations::Delivery>,
}

/// The scanner.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Tool {
    /// `macie-audit`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The configuration used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Configuration {
    /// The file, when one was read.
    pub path: Option<String>,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// A principal as STS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Principal {
    /// Its ARN.
    pub arn: String,
    /// Its account.
    pub account: String,
}

/// How the organization was listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Organization {
    /// `organization` or `standalone`.
    pub mode: String,
    /// The organization's id (`o-…`), when it was described.
    #[serde(default)]
    pub id: Option<String>,
    /// The management role assumed to list it, if any.
    pub management_role_arn: Option<String>,
}

/// What became of an account in scope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AccountScope {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Organizations status.
    pub status: String,
    /// Where the account sits in the organization (`o-…/r-…/ou-…/`), when the tree was walked.
    #[serde(default)]
    pub ou_path: Option<String>,
    /// The role assumed, if one was.
    pub role_arn: Option<String>,
    /// The identity the scanner acted as (GetCallerIdentity ARN), when reached.
    pub identity_arn: Option<String>,
    /// `evaluated`, `skipped` or `error`.
    pub outcome: String,
    /// Why it was skipped or is in error.
    pub reason: Option<String>,
}

/// An excluded account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExcludedAccount {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Its OU path, when the tree was walked.
    #[serde(default)]
    pub ou_path: Option<String>,
}

/// Population counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Counts {
    /// Accounts in scope.
    pub accounts_in_scope: usize,
    /// Accounts whose every Region was evaluated.
    pub accounts_evaluated: usize,
    /// Accounts skipped (not active).
    pub accounts_skipped: usize,
    /// Accounts with at least one ERROR.
    pub accounts_errored: usize,
    /// Accounts excluded by configuration.
    pub accounts_excluded: usize,
    /// Account-Regions in scope.
    pub account_regions_in_scope: usize,
    /// Account-Regions evaluated without error.
    pub account_regions_evaluated: usize,
    /// Account-Regions skipped (account not active, Region not enabled).
    pub account_regions_skipped: usize,
    /// Account-Regions with at least one ERROR.
    pub account_regions_errored: usize,
    /// Findings by status.
    pub findings: BTreeMap<Status, usize>,
}

impl RunMetadata {
    /// Describes a run from its evidence and the tally of its findings.
    pub fn new(run: &RunEvidence, tally: &Tally, triage: &Triage) -> RunMetadata {
        let header = &run.header;
        let mut counts = Counts {
            accounts_in_scope: run.accounts.len(),
            accounts_excluded: header.excluded_accounts.len(),
            account_regions_in_scope: run.accounts.len() * header.regions.len(),
            findings: Status::ALL
                .iter()
                .map(|status| (*status, tally.count(*status)))
                .filter(|(_, count)| *count > 0)
                .collect(),
            ..Counts::default()
        };
        let mut accounts = Vec::with_capacity(run.accounts.len());
        for account in &run.accounts {
            let id = account.account.id.as_str();
            let mut reason = None;
            let mut errored = false;
            let mut skipped_regions = 0;
            for region in &header.regions {
                let statuses = tally.cell(id, region).copied().unwrap_or_default();
                let has = |status: Status| statuses[status.index()] > 0;
                let total: usize = statuses.iter().sum();
                if has(Status::Error) {
                    counts.account_regions_errored += 1;
                    errored = true;
                    if reason.is_none() {
                        reason = tally.first_error(id).map(str::to_owned);
                    }
                } else if total > 0 && statuses[Status::Skipped.index()] == total {
                    counts.account_regions_skipped += 1;
                    skipped_regions += 1;
                } else {
                    counts.account_regions_evaluated += 1;
                }
            }
            let outcome = if !account.account.is_active() {
                counts.accounts_skipped += 1;
                reason = Some(format!("account status {}", account.account.status));
                "skipped"
            } else if errored {
                counts.accounts_errored += 1;
                "error"
            } else {
                counts.accounts_evaluated += 1;
                if skipped_regions > 0 {
                    reason = Some(format!("{skipped_regions} Region(s) not enabled"));
                }
                "evaluated"
            };
            let access = account.access.as_ref();
            accounts.push(AccountScope {
                id: id.to_owned(),
                name: account.account.name.clone(),
                status: account.account.status.clone(),
                ou_path: account.account.ou_path.clone(),
                role_arn: access.and_then(|a| a.role_arn.clone()),
                identity_arn: access
                    .and_then(|a| a.identity.response())
                    .map(|identity| identity.arn.clone()),
                outcome: outcome.to_owned(),
                reason,
            });
        }
        let interrupted = run.end.as_ref().is_none_or(|end| end.interrupted);
        let (mode, management_role_arn) = match &header.organization {
            OrganizationListing::Organization {
                management_role_arn,
                ..
            } => ("organization", management_role_arn.clone()),
            OrganizationListing::Standalone { .. } => ("standalone", None),
        };
        RunMetadata {
            tool: Tool {
                name: "macie-audit".into(),
                version: header.tool_version.clone(),
            },
            run_id: header.run_id.clone(),
            started_at: header.started_at,
            ended_at: run.end.as_ref().map(|end| end.ended_at),
            command_line: header.command_line.clone(),
            configuration: Configuration {
                path: header.config_path.clone(),
                sha256: header.config_sha256.clone(),
            },
            principal: header.caller.response().map(|caller| Principal {
                arn: caller.arn.clone(),
                account: caller.account.clone(),
            }),
            organization: Organization {
                mode: mode.into(),
                id: header.organization_id().map(str::to_owned),
                management_role_arn,
            },
            regions: header.regions.clone(),
            accounts,
            excluded_accounts: header
                .excluded_accounts
                .iter()
                .map(|a| ExcludedAccount {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    ou_path: a.ou_path.clone(),
                })
                .collect(),
            complete: tally.complete() && !interrupted,
            interrupted,
            counts,
            rules: header.rules.clone(),
            triage: triage.clone(),
            exit_code: tally.exit_code(interrupted),
            delivery: None,
        }
    }

    /// Writes `dir/run.json`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomically(&dir.join(FILE_NAME), |out| {
            serde_json::to_writer_pretty(&mut *out, self)?;
            out.write_all(b"\n")
        })
    }
}

/// The command line as given, with the values of secret-looking flags replaced.
pub fn sanitise_command_line(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const SECRET_WORDS: &[&str] = &["secret", "token", "password", "credential"];
    let mut out = Vec::new();
    let mut redact_next = false;
    let mut notify_next = false;
    for arg in args {
        // A webhook URL's path is its secret (`--notify webhook=URL`).
        if std::mem::take(&mut notify_next) && arg.starts_with("webhook=") {
            out.push("webhook=<redacted>".into());
            continue;
        }
        if arg.starts_with("--notify=webhook=") {
            out.push("--notify=webhook=<redacted>".into());
            continue;
        }
        notify_next = arg == "--notify";
        if redact_next {
            out.push("<redacted>".into());
            redact_next = false;
            continue;
        }
        let lower = arg.to_ascii_lowercase();
        let secret_flag = lower.starts_with("--") && SECRET_WORDS.iter().any(|w| lower.contains(w));
        match arg.split_once('=') {
            Some((flag, _)) if secret_flag => out.push(format!("{flag}=<redacted>")),
            _ => {
                redact_next = secret_flag;
                out.push(arg);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let args = [
            "macie-audit",
            "scan",
            "--session-token",
            "abc",
            "--api-secret=xyz",
            "--regions",
            "us-east-1",
        ]
        .map(String::from);
        assert_eq!(
            sanitise_command_line(args),
            vec![
                "macie-audit",
                "scan",
                "--session-token",
                "<redacted>",
                "--api-secret=<redacted>",
                "--regions",
                "us-east-1"
            ]
        );
    }

    #[test]
    fn webhook_urls_are_redacted_and_topics_kept() {
        let args = [
            "--notify",
            "webhook=https://hooks.example/T/B/SECRET",
            "--notify=webhook=https://hooks.example/SECRET",
            "--notify",
            "sns=arn:aws:sns:us-east-1:111111111111:audit",
        ]
        .map(String::from);
        let sanitised = sanitise_command_line(args);
        assert!(!sanitised.concat().contains("SECRET"), "{sanitised:?}");
        assert_eq!(sanitised[1], "webhook=<redacted>");
        assert_eq!(sanitised[2], "--notify=webhook=<redacted>");
        assert_eq!(sanitised[4], "sns=arn:aws:sns:us-east-1:111111111111:audit");
    }
}
