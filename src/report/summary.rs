//! The one-screen console summary of a run, and the exit code its findings mean.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use super::findings::Findings;
use super::metadata::RunMetadata;
use crate::error::Result;
use crate::error::{EXIT_COMPLIANT, EXIT_FAILURES, EXIT_INTERRUPTED};
use crate::evidence::{Account, RunEvidence};
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
    /// Each account-Region's first ERROR, as "rule: message", by account then Region.
    first_cell_error: HashMap<String, Vec<(String, String)>>,
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
        if finding.status == Status::Error {
            if !self.first_error.contains_key(&finding.account_id) {
                self.first_error
                    .insert(finding.account_id.clone(), finding.message.clone());
            }
            let cells = self
                .first_cell_error
                .entry(finding.account_id.clone())
                .or_default();
            if !cells.iter().any(|(region, _)| *region == finding.region) {
                cells.push((
                    finding.region.clone(),
                    format!("{}: {}", finding.rule_id, finding.message),
                ));
            }
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

    /// The first ERROR of an account in a Region, as "rule: message".
    pub fn first_cell_error(&self, account_id: &str, region: &str) -> Option<&str> {
        self.first_cell_error
            .get(account_id)?
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, message)| message.as_str())
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

/// An account, or one of its Regions, that a run could not check, and the first reason why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked<'a> {
    /// The account.
    pub account: &'a Account,
    /// The Region; `None` when the whole account could not be checked (its role was refused,
    /// or the run ended before reaching it).
    pub region: Option<&'a str>,
    /// The first ERROR finding's message (the AWS error, for an account).
    pub reason: String,
}

impl Unchecked<'_> {
    /// "id (name)" or "id (name) Region", the name escaped: account names are anyone's text
    /// (newlines, terminal escapes) and must not forge log lines.
    fn subject(&self) -> String {
        let name = escaped(&self.account.name);
        match self.region {
            Some(region) => format!("{} ({name}) {region}", self.account.id),
            None => format!("{} ({name})", self.account.id),
        }
    }
}

/// Control characters, and the invisible ones that reorder or hide text (bidirectional
/// overrides, zero-width marks), as Rust escapes (`\n`, `\u{1b}`); the rest as it is.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest reason one entry of the one-line summary gives, in characters.
const SUMMARY_REASON_CHARS: usize = 160;
/// Past this many characters of entries, the one-line summary only counts the rest.
const SUMMARY_ENTRIES_CHARS: usize = 1500;

/// What the run could not check: whole accounts (ACTIVE, but their role refused or not
/// reached), then each account-Region with an ERROR of an account that was reached, by account
/// id and the run's Region order. SKIPPED accounts and Regions are not errors and are not listed.
pub fn unchecked<'a>(run: &'a RunEvidence, tally: &Tally) -> Vec<Unchecked<'a>> {
    let mut unchecked = Vec::new();
    for account in &run.accounts {
        let id = account.account.id.as_str();
        if !account.account.is_active() {
            continue;
        }
        let reached = account
            .access
            .as_ref()
            .is_some_and(|access| access.identity.error().is_none());
        if !reached {
            if let Some(reason) = tally.first_error(id) {
                unchecked.push(Unchecked {
                    account: &account.account,
                    region: None,
                    reason: reason.to_owned(),
                });
            }
            continue;
        }
        for region in &run.header.regions {
            if let Some(reason) = tally.first_cell_error(id, region) {
                unchecked.push(Unchecked {
                    account: &account.account,
                    region: Some(region),
                    reason: reason.to_owned(),
                });
            }
        }
    }
    // Stable from run to run, whatever order collection finished the accounts in.
    unchecked.sort_by_key(|u| (u.region.is_some(), u.account.id.as_str()));
    unchecked
}

/// Says in the logs what the run could not check, so that an unattended run's mail names it:
/// one WARN line for each account or account-Region, or, when warnings are not logged (`-q`),
/// one ERROR line summarising them, bounded in length however many there are.
pub fn log_unchecked(run: &RunEvidence, tally: &Tally) {
    let unchecked = unchecked(run, tally);
    if unchecked.is_empty() {
        return;
    }
    if tracing::enabled!(tracing::Level::WARN) {
        for item in &unchecked {
            let (subject, reason) = (item.subject(), escaped(&item.reason));
            match item.region {
                Some(region) => tracing::warn!(
                    account = %item.account.id,
                    region = %region,
                    "account-Region {subject} could not be checked: {reason}"
                ),
                None => tracing::warn!(
                    account = %item.account.id,
                    "account {subject} could not be checked: {reason}"
                ),
            }
        }
    } else {
        tracing::error!("{}", unchecked_summary(&unchecked));
    }
}

/// "2 accounts and 3 account-Regions could not be checked: id (name) reason; …", each reason
/// cut to [`SUMMARY_REASON_CHARS`] and the entries to about [`SUMMARY_ENTRIES_CHARS`].
fn unchecked_summary(unchecked: &[Unchecked<'_>]) -> String {
    let accounts = unchecked.iter().filter(|u| u.region.is_none()).count();
    let cells = unchecked.len() - accounts;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let counted = match (accounts, cells) {
        (0, cells) => plural(cells, "account-Region"),
        (accounts, 0) => plural(accounts, "account"),
        (accounts, cells) => format!(
            "{} and {}",
            plural(accounts, "account"),
            plural(cells, "account-Region")
        ),
    };
    let mut entries = String::new();
    let mut listed = 0;
    for item in unchecked {
        if entries.chars().count() >= SUMMARY_ENTRIES_CHARS {
            break;
        }
        let reason = escaped(&item.reason);
        let reason = if reason.chars().count() > SUMMARY_REASON_CHARS {
            let cut: String = reason.chars().take(SUMMARY_REASON_CHARS).collect();
            format!("{cut}…")
        } else {
            reason
        };
        if listed > 0 {
            entries.push_str("; ");
        }
        let _ = write!(entries, "{} {reason}", item.subject());
        listed += 1;
    }
    let rest = unchecked.len() - listed;
    if rest > 0 {
        let _ = write!(entries, "; and {rest} more (see run.json)");
    }
    format!("{counted} could not be checked: {entries}")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, name: &str) -> Account {
        Account {
            id: id.into(),
            name: name.into(),
            email: None,
            status: "ACTIVE".into(),
            ou_path: None,
        }
    }

    #[test]
    fn hostile_text_is_escaped_and_plain_text_kept() {
        assert_eq!(
            escaped("a\nb\u{1b}[31m\u{202e}c"),
            "a\\nb\\u{1b}[31m\\u{202e}c"
        );
        assert_eq!(escaped("isn't \"Produção\""), "isn't \"Produção\"");
    }

    #[test]
    fn the_summary_counts_everything_and_stays_bounded() {
        let accounts: Vec<Account> = (0..3000)
            .map(|n| account(&format!("{:012}", 210_000_000_000u64 + n), "team\nx"))
            .collect();
        let mut unchecked: Vec<Unchecked<'_>> = accounts
            .iter()
            .map(|a| Unchecked {
                account: a,
                region: Some("us-east-1"),
                reason: "MACIE-002: ".to_owned() + &"slow ".repeat(100),
            })
            .collect();
        unchecked[0].region = None;
        let summary = unchecked_summary(&unchecked);
        assert!(
            summary.starts_with("1 account and 2999 account-Regions could not be checked: 210000000000 (team\\nx) MACIE-002"),
            "{summary}"
        );
        assert!(summary.ends_with("more (see run.json)"), "{summary}");
        assert!(
            summary.chars().count() < SUMMARY_ENTRIES_CHARS + 400,
            "{}",
            summary.len()
        );
        assert!(!summary.contains('\n'));
        let one = unchecked_summary(&unchecked[..1]);
        assert!(one.starts_with("1 account could not be checked: "), "{one}");
        assert!(!one.contains("more"), "{one}");
    }
}
