//! The one-screen console summary of a run, and the exit code its findings mean.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::{EXIT_COMPLIANT, EXIT_FAILURES, EXIT_INCOMPLETE};
use crate::evidence::RunEvidence;
use crate::findings::{Finding, Status};
use crate::rules::CATALOGUE;

/// Counts of a run's findings, by rule and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    by_rule: BTreeMap<String, BTreeMap<Status, usize>>,
    by_status: BTreeMap<Status, usize>,
}

impl Tally {
    /// Counts `findings`.
    pub fn of(findings: &[Finding]) -> Tally {
        let mut tally = Tally::default();
        for finding in findings {
            *tally
                .by_rule
                .entry(finding.rule_id.clone())
                .or_default()
                .entry(finding.status)
                .or_default() += 1;
            *tally.by_status.entry(finding.status).or_default() += 1;
        }
        tally
    }

    /// Findings with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.by_status.get(&status).copied().unwrap_or_default()
    }

    /// Findings of `rule_id` with `status`.
    pub fn rule_count(&self, rule_id: &str, status: Status) -> usize {
        self.by_rule
            .get(rule_id)
            .and_then(|counts| counts.get(&status))
            .copied()
            .unwrap_or_default()
    }

    /// Whether every account-Region in scope was checked (no ERROR).
    pub fn complete(&self) -> bool {
        self.count(Status::Error) == 0
    }

    /// 0 complete and compliant; 1 complete with a FAIL; 2 incomplete, whatever else.
    pub fn exit_code(&self) -> u8 {
        if !self.complete() {
            EXIT_INCOMPLETE
        } else if self.count(Status::Fail) > 0 {
            EXIT_FAILURES
        } else {
            EXIT_COMPLIANT
        }
    }
}

/// Renders the console summary.
pub fn render(run: &RunEvidence, findings: &[Finding], run_dir: &Path) -> String {
    let tally = Tally::of(findings);
    let mut out = String::new();
    let active = run
        .accounts
        .iter()
        .filter(|a| a.account.is_active())
        .count();
    let unreachable = run
        .accounts
        .iter()
        .filter(|a| {
            a.access
                .as_ref()
                .is_some_and(|access| access.identity.error().is_some())
        })
        .count();
    let _ = writeln!(
        out,
        "macie-audit run {} — {}",
        run.header.run_id,
        if tally.complete() {
            "complete"
        } else {
            "INCOMPLETE"
        }
    );
    let _ = writeln!(
        out,
        "  accounts: {} in scope ({} active, {} not active, {} unreachable), {} excluded; Regions: {}",
        run.accounts.len(),
        active,
        run.accounts.len() - active,
        unreachable,
        run.header.excluded_accounts.len(),
        run.header.regions.len()
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6}",
        "rule", "PASS", "FAIL", "WARN", "N/A", "SKIPPED", "ERROR"
    );
    for rule in CATALOGUE {
        let count = |status| tally.rule_count(rule.id, status);
        let _ = writeln!(
            out,
            "  {:<10} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6}  {}",
            rule.id,
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Warn),
            count(Status::NotApplicable),
            count(Status::Skipped),
            count(Status::Error),
            rule.title
        );
    }
    let verdict = match tally.exit_code() {
        EXIT_COMPLIANT => "compliant",
        EXIT_FAILURES => "failures found",
        _ => "incomplete: some account-Regions could not be checked",
    };
    let _ = writeln!(out, "  reports: {}", run_dir.display());
    let _ = writeln!(out, "  result: {verdict} (exit {})", tally.exit_code());
    out
}
