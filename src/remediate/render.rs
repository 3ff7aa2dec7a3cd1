//! The plan and the outcome of an apply, for people (text) and machines (JSON).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::log::{StepRecord, StepStatus, TargetRecord};
use super::plan::{Decision, GroupKind, Plan};
use crate::cli::Strategy;

/// How the account a group acts in is reached, for the headings.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The remediation role's name.
    pub role_name: &'a str,
    /// The caller's account (acted in with its own credentials).
    pub caller_account: &'a str,
    /// Whether the caller's own account also assumes the role.
    pub assume_role_in_own_account: bool,
}

impl Identity<'_> {
    fn describe(&self, account: &str) -> String {
        if account == self.caller_account && !self.assume_role_in_own_account {
            "with the caller's own credentials".to_owned()
        } else {
            format!("as arn:aws:iam::{account}:role/{}", self.role_name)
        }
    }
}

fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Own => "own (a key and a bucket per account and Region)",
        Strategy::Central => "central (the organization's bucket and key)",
        Strategy::Repair => "repair (each repository already exported to, in place)",
    }
}

/// One line per target, with its decision.
fn decision_text(decision: &Decision) -> String {
    match decision {
        Decision::Remediate => "remediate".to_owned(),
        Decision::Refused { reason } => format!("REFUSED: {reason}"),
        Decision::Blocked { reason } => format!("BLOCKED: {reason}"),
    }
}

/// The plan, for people.
pub fn plan_text(plan: &Plan, identity: Identity<'_>, apply: bool) -> String {
    let mut out = String::new();
    let count =
        |wanted: fn(&Decision) -> bool| plan.targets.iter().filter(|t| wanted(&t.decision)).count();
    let _ = writeln!(
        out,
        "Remediation plan, strategy {}, from a scan of {} account(s) in {} started {}.",
        strategy_name(plan.strategy),
        plan.scan.accounts,
        plan.scan.regions.join(", "),
        plan.scan.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
    );
    if !plan.scan.unchecked.is_empty() {
        let _ = writeln!(
            out,
            "Not planned: {} account-Region(s) whose MACIE-002/003/004 could not be checked (ERROR in the scan): {}.",
            plan.scan.unchecked.len(),
            plan.scan
                .unchecked
                .iter()
                .map(|s| format!("{} {}", s.account_id, s.region))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if plan.targets.is_empty() {
        let _ = writeln!(
            out,
            "Nothing to change: MACIE-002, MACIE-003 and MACIE-004 pass (or do not apply) in every account-Region \
             checked."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} account-Region(s) fail or warn: {} to remediate, {} refused, {} blocked; {} change(s) in {} account(s).",
        plan.targets.len(),
        count(|d| *d == Decision::Remediate),
        count(|d| matches!(d, Decision::Refused { .. })),
        count(|d| matches!(d, Decision::Blocked { .. })),
        plan.step_count(),
        plan.accounts().len(),
    );
    out.push('\n');
    for target in &plan.targets {
        let _ = writeln!(
            out,
            "{} ({}) {}: {}",
            target.account_id,
            target.account_name.escape_debug(),
            target.region,
            decision_text(&target.decision)
        );
        for finding in &target.findings {
            let _ = writeln!(
                out,
                "    {} {}: {}",
                finding.rule_id, finding.status, finding.message
            );
        }
        if let Some(destination) = target.destination.as_ref().filter(|_| target.remediated()) {
            let _ = writeln!(
                out,
                "    → s3://{}/{} encrypted with {}, owned by {}",
                destination.bucket,
                destination.key_prefix,
                destination.key,
                destination.expected_bucket_owner
            );
        }
        for note in &target.notes {
            let _ = writeln!(out, "    note: {note}");
        }
    }
    for group in &plan.groups {
        out.push('\n');
        let what = match group.kind {
            GroupKind::Repository => "Shared repository changes",
            GroupKind::Account => "Changes",
        };
        let _ = writeln!(
            out,
            "{what} in account {} ({}):",
            group.account_id,
            identity.describe(&group.account_id)
        );
        for step in &group.steps {
            let _ = writeln!(
                out,
                "  {:>3}. {} in {}: {}",
                step.number,
                step.action.operation(),
                step.region,
                step.summary
            );
            for line in &step.diff {
                let _ = writeln!(out, "       {line}");
            }
            for command in &step.commands {
                let _ = writeln!(out, "         $ {command}");
            }
        }
    }
    out.push('\n');
    if plan.step_count() == 0 {
        let _ = writeln!(
            out,
            "Nothing to change: every account-Region above is refused or blocked, and stays as it is."
        );
    } else if !apply {
        let _ = writeln!(
            out,
            "Dry run: nothing was changed. Run again with --apply to make these {} change(s).",
            plan.step_count()
        );
    }
    out
}

/// What an apply did, for people.
pub fn outcome_text(
    records: &[StepRecord],
    targets: &[TargetRecord],
    run_dir: Option<&Path>,
    interrupted: bool,
) -> String {
    let mut out = String::new();
    let count = |status: StepStatus| records.iter().filter(|r| r.status == status).count();
    let _ = writeln!(
        out,
        "Applied{}: {} changed, {} already in place, {} failed, {} not attempted.",
        if interrupted { " (INTERRUPTED)" } else { "" },
        count(StepStatus::Changed),
        count(StepStatus::Unchanged),
        count(StepStatus::Failed),
        count(StepStatus::NotAttempted),
    );
    for record in records {
        let _ = writeln!(
            out,
            "  {:>3}. {:<13} {} {} {}: {}",
            record.step,
            record.status.as_str(),
            record.operation,
            record.account_id,
            record.region,
            record.message
        );
    }
    if !targets.is_empty() {
        let _ = writeln!(out, "\nAccount-Regions after the re-scan:");
        for target in targets {
            let statuses: Vec<String> = target
                .rescan
                .iter()
                .map(|(rule, status)| format!("{rule} {status}"))
                .collect();
            let _ = writeln!(
                out,
                "  {} {}: {}{}",
                target.account_id,
                target.region,
                serde_json::to_value(target.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                if statuses.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", statuses.join(", "))
                }
            );
        }
    }
    if let Some(dir) = run_dir {
        let _ = writeln!(
            out,
            "\nRun: {} (reports of the re-scan; remediation.jsonl logs every change with its request ids)",
            dir.display()
        );
    }
    out
}

/// The JSON document `--format json` prints.
#[derive(Debug, Serialize)]
pub struct JsonOutput<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// What the apply did, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<JsonApplied<'a>>,
    /// The process's exit code.
    pub exit_code: u8,
}

/// What an apply did, in the JSON document.
#[derive(Debug, Serialize)]
pub struct JsonApplied<'a> {
    /// One record per step.
    pub steps: &'a [StepRecord],
    /// One record per target.
    pub targets: &'a [TargetRecord],
    /// The re-scan's run directory.
    pub run_dir: Option<String>,
    /// Whether it was interrupted.
    pub interrupted: bool,
}
