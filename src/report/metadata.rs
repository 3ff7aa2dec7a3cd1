//! `run.json`: who ran the scan, when, with what identity and configuration, over what scope
//! (and whether that is partial), and whether it is complete — the audit trail of a run.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::summary::Tally;
use crate::config::RulesConfig;
use crate::error::{EXIT_INCOMPLETE, Result};
use crate::evidence::{OrganizationListing, RunEvidence, RunHeader};
use crate::findings::Status;
use crate::run_dir::manifest::ManifestCheck;
use crate::run_dir::write_atomically;
use crate::shard::Shard;
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
    /// What the run covers of the configured scope: filters, shard, merged shards, and whether
    /// it is partial.
    pub scope: Scope,
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
    /// The exit code of the command that wrote this file: what the run's findings mean under
    /// the gate, raised by what went wrong after them (a failed upload).
    pub exit_code: u8,
    /// What raised the exit code above what the findings mean, when something did after the
    /// reports were written ("upload failed: …"); `None` when the findings decide it.
    #[serde(default)]
    pub exit_reason: Option<String>,
    /// Where the findings were delivered besides the reports (Security Hub, notifications), and
    /// what failed; absent when nothing was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<super::delivery::Delivery>,
    /// Where the reports come from: the scan that collected the evidence, and every later
    /// rendering of it (`macie-audit report`), oldest first.
    #[serde(default)]
    pub provenance: Provenance,
    /// Whether the evidence these reports were made from is what was delivered.
    #[serde(default)]
    pub evidence_integrity: EvidenceIntegrity,
}

/// The scan that collected a run's evidence, and every rendering of its reports since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Provenance {
    /// The scan, as its evidence records it.
    pub scan: ScanProvenance,
    /// Every later rendering, oldest first; the last one wrote this file.
    pub renderings: Vec<Rendering>,
}

/// The scan that collected a run's evidence, from its run record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScanProvenance {
    /// Its command line, secrets removed.
    pub command_line: Vec<String>,
    /// The identity it ran as (sts:GetCallerIdentity), when known.
    pub principal: Option<Principal>,
    /// When it started (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// When collection ended (UTC); `None` for a scan that did not finish.
    pub ended_at: Option<DateTime<Utc>>,
    /// The version of macie-audit that ran it.
    pub tool_version: String,
}

/// One rendering of a run's reports from its evidence (`macie-audit report`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Rendering {
    /// Its command line, secrets removed.
    pub command_line: Vec<String>,
    /// When it rendered (UTC).
    pub rendered_at: DateTime<Utc>,
    /// The version of macie-audit that rendered.
    pub tool_version: String,
    /// Whether the evidence matched the manifest it was delivered with.
    pub evidence_verified: bool,
    /// What was checked, and every difference found.
    pub evidence_integrity: EvidenceIntegrity,
}

/// What is known of the evidence a run's reports were made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EvidenceIntegrity {
    /// Collected by the command that wrote the reports: nothing to check it against.
    #[default]
    Collected,
    /// Delivered with a `SHA256SUMS` that every file matched.
    Verified,
    /// Delivered without a `SHA256SUMS` (a scan that was killed before writing it): not
    /// checked.
    NoManifest,
    /// Does not match the `SHA256SUMS` it was delivered with, and was rendered all the same
    /// (`--accept-modified-evidence`).
    Modified(ManifestCheck),
}

impl EvidenceIntegrity {
    /// Whether the evidence is known to be what was delivered or collected.
    pub fn is_trusted(&self) -> bool {
        matches!(
            self,
            EvidenceIntegrity::Collected | EvidenceIntegrity::Verified
        )
    }

    /// Whether the evidence is known not to match the manifest it was delivered with.
    pub fn is_modified(&self) -> bool {
        matches!(self, EvidenceIntegrity::Modified(_))
    }

    /// In words, for every report.
    pub fn describe(&self) -> String {
        match self {
            EvidenceIntegrity::Collected => "collected by this run".into(),
            EvidenceIntegrity::Verified => {
                "verified: every file matches the SHA256SUMS it was delivered with".into()
            }
            EvidenceIntegrity::NoManifest => {
                "not verified: the run was delivered without SHA256SUMS".into()
            }
            EvidenceIntegrity::Modified(check) => format!(
                "MODIFIED: does not match the SHA256SUMS it was delivered with ({})",
                check.describe()
            ),
        }
    }
}

/// Which command renders a run's reports, and what it knows of the run before it.
#[derive(Debug, Clone)]
pub enum Renderer {
    /// The command that collected the evidence (scan, merge, remediation): an interruption is
    /// its own.
    Collector,
    /// `macie-audit report`: the renderings before it, then its own, last.
    Report(Vec<Rendering>),
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
    /// Why the organization's Resource Control Policies were not evaluated, when they were not
    /// (the repository verdicts then rest on the resource policies alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_control_policies_not_evaluated: Option<String>,
}

/// What a run covers of the configured scope (see [`RunHeader::is_partial`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Scope {
    /// Whether the run covers less than the configured scope: it never becomes `latest`.
    pub partial: bool,
    /// The scope in words: what the run leaves out, or "the full configured scope".
    pub description: String,
    /// The account ids `--accounts` limited the run to, when it did.
    pub accounts: Option<Vec<String>>,
    /// The Regions `--regions` limited the run to, when narrower than the configuration's.
    pub regions: Option<Vec<String>>,
    /// The shard the run covers, when it covers one.
    pub shard: Option<Shard>,
    /// For a merged run: the shards it holds and those it lacks.
    pub merged_shards: Option<MergedShardsScope>,
}

/// The shards a merged run holds, out of how many.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MergedShardsScope {
    /// N, the number of shards of the split.
    pub count: u32,
    /// The 1-based indexes of the shards merged.
    pub indexes: Vec<u32>,
    /// The shards of the split the merge lacks.
    pub missing: Vec<u32>,
}

impl Scope {
    fn of(header: &RunHeader) -> Scope {
        Scope {
            partial: header.is_partial(),
            description: header.scope_description(),
            accounts: header.scope.accounts.clone(),
            regions: header.scope.regions.clone(),
            shard: header.shard,
            merged_shards: header
                .scope
                .merged_shards
                .as_ref()
                .map(|merged| MergedShardsScope {
                    count: merged.count,
                    indexes: merged.indexes.clone(),
                    missing: merged.missing(),
                }),
        }
    }
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
    /// Describes a run from its evidence, the tally of its findings and who renders it.
    pub fn new(
        run: &RunEvidence,
        tally: &Tally,
        triage: &Triage,
        renderer: &Renderer,
    ) -> RunMetadata {
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
        let principal = header.caller.response().map(|caller| Principal {
            arn: caller.arn.clone(),
            account: caller.account.clone(),
        });
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
            principal: principal.clone(),
            organization: Organization {
                mode: mode.into(),
                id: header.organization_id().map(str::to_owned),
                management_role_arn,
                resource_control_policies_not_evaluated: run.resource_controls_not_evaluated(),
            },
            regions: header.regions.clone(),
            scope: Scope::of(header),
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
            exit_code: match renderer {
                Renderer::Collector => tally.exit_code(interrupted),
                // The scan was interrupted, not this rendering, which finished: the run is
                // incomplete (exit 130 is for interrupting the command itself).
                Renderer::Report(_) if interrupted => EXIT_INCOMPLETE,
                Renderer::Report(_) => tally.exit_code(false),
            },
            exit_reason: None,
            delivery: None,
            provenance: Provenance {
                scan: ScanProvenance {
                    command_line: header.command_line.clone(),
                    principal,
                    started_at: Some(header.started_at),
                    ended_at: run.end.as_ref().map(|end| end.ended_at),
                    tool_version: header.tool_version.clone(),
                },
                renderings: match renderer {
                    Renderer::Collector => Vec::new(),
                    Renderer::Report(renderings) => renderings.clone(),
                },
            },
            evidence_integrity: match renderer {
                Renderer::Report(renderings) => renderings
                    .last()
                    .map(|rendering| rendering.evidence_integrity.clone())
                    .unwrap_or_default(),
                Renderer::Collector => EvidenceIntegrity::Collected,
            },
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

/// The renderings an existing run.json records (none when it has none, or does not exist: a
/// scan that was killed before writing it).
pub fn read_renderings(path: &Path) -> std::result::Result<Vec<Rendering>, String> {
    /// The part of run.json that a later rendering carries over.
    #[derive(Deserialize)]
    struct Earlier {
        #[serde(default)]
        provenance: EarlierProvenance,
    }
    #[derive(Default, Deserialize)]
    struct EarlierProvenance {
        #[serde(default)]
        renderings: Vec<Rendering>,
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_slice::<Earlier>(&bytes)
        .map(|earlier| earlier.provenance.renderings)
        .map_err(|e| format!("{}: {e}", path.display()))
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
    use crate::evidence::MergedShards;
    use crate::rules::testing::{at, evidence, run_of, session};

    fn header() -> RunHeader {
        run_of(&evidence(session("ENABLED", at(2026, 1, 1)), None)).header
    }

    #[test]
    fn the_scope_says_what_a_partial_run_leaves_out() {
        let full = Scope::of(&header());
        assert!(!full.partial);
        assert_eq!(full.description, "the full configured scope");

        let mut filtered = header();
        filtered.scope.accounts = Some(vec!["111111111111".into()]);
        filtered.scope.regions = Some(vec!["us-east-1".into()]);
        let scope = Scope::of(&filtered);
        assert!(scope.partial);
        assert_eq!(
            scope.description,
            "only account 111111111111 (--accounts); only Region us-east-1 (--regions, narrower \
             than the configuration)"
        );

        let mut shard = header();
        shard.shard = Some(Shard { index: 2, count: 3 });
        assert_eq!(
            Scope::of(&shard).description,
            "shard 2/3 of the accounts only"
        );
        shard.shard = Some(Shard { index: 1, count: 1 });
        assert!(
            !Scope::of(&shard).partial,
            "one shard of one is every account"
        );

        let mut merged = header();
        merged.scope.merged_shards = Some(MergedShards {
            count: 3,
            indexes: vec![1, 3],
        });
        let scope = Scope::of(&merged);
        assert!(scope.partial);
        assert_eq!(scope.description, "a merge of shards 1/3, 3/3 without 2/3");
        assert_eq!(scope.merged_shards.map(|m| m.missing), Some(vec![2]));
        merged.scope.merged_shards = Some(MergedShards {
            count: 3,
            indexes: vec![1, 2, 3],
        });
        assert!(
            !Scope::of(&merged).partial,
            "a merge of every shard is full"
        );
    }

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
