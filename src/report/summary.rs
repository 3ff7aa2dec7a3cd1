//! The one-screen console summary of a run, and the exit code its findings mean.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::metadata::RunMetadata;
use crate::error::{EXIT_COMPLIANT, EXIT_FAILURES, EXIT_INTERRUPTED};
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
}

/// Renders the console summary.
/// `notes` are lines about what happened after the reports were written (an upload); `exit_code`
/// is the process's, which such a step may have raised.
pub fn render(
    run: &RunEvidence,
    findings: &[Finding],
    metadata: &RunMetadata,
    run_dir: &Path,
    notes: &[String],
    exit_code: u8,
) -> String {
    let tally = Tally::of(findings);
    let mut out = String::new();
    let counts = &metadata.counts;
    let state = if metadata.interrupted {
        "INTERRUPTED, INCOMPLETE"
    } else if metadata.complete {
        "complete"
    } else {
        "INCOMPLETE"
    };
    let _ = writeln!(out, "macie-audit run {} — {state}", run.header.run_id);
    let _ = writeln!(
        out,
        "  accounts: {} in scope ({} evaluated, {} skipped, {} with errors), {} excluded; Regions: {}",
        counts.accounts_in_scope,
        counts.accounts_evaluated,
        counts.accounts_skipped,
        counts.accounts_errored,
        counts.accounts_excluded,
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
    if let Some(baseline) = &metadata.triage.baseline {
        let _ = writeln!(
            out,
            "  baseline {}: {} new, {} unchanged, {} resolved",
            baseline.run_id,
            baseline.new,
            baseline.unchanged,
            baseline.resolved.len()
        );
    }
    if let Some(suppressions) = &metadata.triage.suppressions {
        let _ = writeln!(
            out,
            "  suppressions: {} findings suppressed; {} expired, {} malformed, {} unused entries",
            suppressions.suppressed,
            suppressions.expired.len(),
            suppressions.malformed.len(),
            suppressions.unused.len()
        );
    }
    let verdict = match exit_code {
        EXIT_COMPLIANT => "compliant at the chosen gate",
        EXIT_FAILURES => "failures found",
        EXIT_INTERRUPTED => "interrupted: the reports cover what was finished",
        _ => "incomplete: some account-Regions could not be checked, or a step above failed",
    };
    let _ = writeln!(out, "  reports: {}", run_dir.display());
    for note in notes {
        let _ = writeln!(out, "  {note}");
    }
    let _ = writeln!(out, "  result: {verdict} (exit {exit_code})");
    out
}
