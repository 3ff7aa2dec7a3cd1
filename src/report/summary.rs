//! The one-screen console summary of a run, and the exit code its findings mean.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use super::findings::Findings;
use super::metadata::RunMetadata;
use crate::error::Result;
use crate::error::{EXIT_COMPLIANT, EXIT_FAILURES, EXIT_INTERRUPTED};
use crate::evidence::RunEvidence;
use crate::findings::{Finding, Severity, Status};
use crate::rules::CATALOGUE;
use crate::triage::{GatePolicy, TriageTally};

/// Counts of a run's findings, taken in one pass as they go by: by status, rule, severity and
/// account-Region, each account's first ERROR, and whether a finding fails the gate. What the
/// reports say of the run as a whole comes from here, not from findings held in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    by_rule: BTreeMap<String, [usize; 6]>,
    by_status: [usize; 6],
    by_severity: BTreeMap<Severity, [usize; 6]>,
    /// By account, then Region (an account has a few Regions: a list is enough).
    by_cell: HashMap<String, Vec<(String, [usize; 6])>>,
    first_error: HashMap<String, String>,
    failing: bool,
}

impl Tally {
    /// Counts every finding of a run, marking it and tallying triage as it goes.
    pub fn of(
        findings: &Findings<'_>,
        triage: &mut TriageTally<'_>,
        gate: &GatePolicy,
    ) -> Result<Tally> {
        let mut tally = Tally::default();
        for account in findings.accounts() {
            for finding in &account? {
                triage.add(finding);
                tally.add(finding, gate);
            }
        }
        Ok(tally)
    }

    /// Counts one finding.
    pub fn add(&mut self, finding: &Finding, gate: &GatePolicy) {
        let status = finding.status.index();
        self.by_status[status] += 1;
        if let Some(counts) = self.by_rule.get_mut(&finding.rule_id) {
            counts[status] += 1;
        } else {
            let mut counts = [0; 6];
            counts[status] += 1;
            self.by_rule.insert(finding.rule_id.clone(), counts);
        }
        self.by_severity.entry(finding.severity).or_default()[status] += 1;
        let cells = match self.by_cell.get_mut(&finding.account_id) {
            Some(cells) => cells,
            None => self.by_cell.entry(finding.account_id.clone()).or_default(),
        };
        match cells
            .iter_mut()
            .find(|(region, _)| *region == finding.region)
        {
            Some((_, counts)) => counts[status] += 1,
            None => {
                let mut counts = [0; 6];
                counts[status] += 1;
                cells.push((finding.region.clone(), counts));
            }
        }
        if finding.status == Status::Error && !self.first_error.contains_key(&finding.account_id) {
            self.first_error
                .insert(finding.account_id.clone(), finding.message.clone());
        }
        self.failing |= gate.fails(finding);
    }

    /// Findings with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.by_status[status.index()]
    }

    /// All findings.
    pub fn total(&self) -> usize {
        self.by_status.iter().sum()
    }

    /// Findings of each status (indexed by [`Status::index`]).
    pub fn by_status(&self) -> [usize; 6] {
        self.by_status
    }

    /// Findings of `rule_id`, by status.
    pub fn by_rule(&self, rule_id: &str) -> [usize; 6] {
        self.by_rule.get(rule_id).copied().unwrap_or_default()
    }

    /// Findings of `rule_id` with `status`.
    pub fn rule_count(&self, rule_id: &str, status: Status) -> usize {
        self.by_rule(rule_id)[status.index()]
    }

    /// Findings of `severity`, by status.
    pub fn by_severity(&self, severity: Severity) -> [usize; 6] {
        self.by_severity.get(&severity).copied().unwrap_or_default()
    }

    /// Findings of an account in a Region, by status; `None` when it has none.
    pub fn cell(&self, account_id: &str, region: &str) -> Option<&[usize; 6]> {
        self.by_cell
            .get(account_id)?
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, counts)| counts)
    }

    /// The message of an account's first ERROR finding (in Region, then rule order).
    pub fn first_error(&self, account_id: &str) -> Option<&str> {
        self.first_error.get(account_id).map(String::as_str)
    }

    /// Whether every account-Region in scope was checked (no ERROR).
    pub fn complete(&self) -> bool {
        self.count(Status::Error) == 0
    }

    /// The exit code the findings mean for a run (interrupted or not).
    pub fn exit_code(&self, interrupted: bool) -> u8 {
        crate::triage::gate::exit_code(!self.complete(), self.failing, interrupted)
    }
}

/// Renders the console summary.
/// `notes` are lines about what happened after the reports were written (an upload); `exit_code`
/// is the process's, which such a step may have raised.
pub fn render(
    run: &RunEvidence,
    tally: &Tally,
    metadata: &RunMetadata,
    run_dir: &Path,
    notes: &[String],
    exit_code: u8,
) -> String {
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
    if !metadata.evidence_integrity.is_trusted() {
        let _ = writeln!(out, "  evidence {}", metadata.evidence_integrity.describe());
    }
    if metadata.scope.partial {
        let _ = writeln!(
            out,
            "  PARTIAL SCOPE: {} (not made latest)",
            metadata.scope.description
        );
    }
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
            "  baseline {}: {} new, {} unchanged, {} resolved, {} not re-checked, {} previously unchecked",
            baseline.run_id.as_deref().unwrap_or("none yet"),
            baseline.new,
            baseline.unchanged,
            baseline.resolved.len(),
            baseline.not_rechecked,
            baseline.previously_unchecked
        );
        if let Some(warning) = &baseline.warning {
            let _ = writeln!(out, "  warning: {warning}");
        }
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
    let verdict = match (exit_code, &metadata.exit_reason) {
        (_, Some(reason)) => reason.as_str(),
        (EXIT_COMPLIANT, None) => "compliant at the chosen gate",
        (EXIT_FAILURES, None) => "failures found",
        (EXIT_INTERRUPTED, None) => "interrupted: the reports cover what was finished",
        (_, None) => "incomplete: some account-Regions could not be checked",
    };
    let _ = writeln!(out, "  reports: {}", run_dir.display());
    for note in notes {
        let _ = writeln!(out, "  {note}");
    }
    let _ = writeln!(out, "  result: {verdict} (exit {exit_code})");
    out
}
