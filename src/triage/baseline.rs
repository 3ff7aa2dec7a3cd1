//! Baseline and drift: compare a run with a previous one by finding identity (rule, account,
//! Region, resource), within the account-Regions both runs cover. A failing finding (FAIL or WARN)
//! is NEW, UNCHANGED, or PREVIOUSLY_UNCHECKED when its check ended in ERROR before; one that
//! failed before is RESOLVED when it now passes or is gone, NOT_RECHECKED when its check now ends
//! in ERROR.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::{Error, Result};
use crate::evidence::{Evidence, RunEvidence};
use crate::findings::{Finding, Status};
use crate::report;
use crate::report::findings::Findings;
use crate::report::manifest;
use crate::triage::TriageMarks;

/// Where a finding stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaselineState {
    /// Failing now, not before.
    New,
    /// Failing now and before.
    Unchanged,
    /// Failing before, passing (or not applicable) now.
    Resolved,
    /// Failing before, ERROR now: not checked this time, so not resolved.
    NotRechecked,
    /// ERROR before, failing now: not a new failure, only one the baseline could not see.
    PreviouslyUnchecked,
}

impl BaselineState {
    /// The state as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "NEW",
            BaselineState::Unchanged => "UNCHANGED",
            BaselineState::Resolved => "RESOLVED",
            BaselineState::NotRechecked => "NOT_RECHECKED",
            BaselineState::PreviouslyUnchecked => "PREVIOUSLY_UNCHECKED",
        }
    }
}

/// A finding's identity: rule, account, Region, resource.
type Identity = (String, String, String, String);

/// A check: rule, account, Region. A run has one finding per check; its resource may differ
/// between runs (an ERROR finding names the session when the bucket could not be read).
type Check = (String, String, String);

fn identity(finding: &Finding) -> Identity {
    let (rule, account, region, resource) = finding.identity();
    (
        rule.to_owned(),
        account.to_owned(),
        region.to_owned(),
        resource.to_owned(),
    )
}

fn check(finding: &Finding) -> Check {
    (
        finding.rule_id.clone(),
        finding.account_id.clone(),
        finding.region.clone(),
    )
}

fn is_failing(finding: &Finding) -> bool {
    matches!(finding.status, Status::Fail | Status::Warn)
}

/// The account-Regions a run covers: the accounts it reached (those with a record) in each of
/// its Regions.
#[derive(Debug, Clone, Default)]
struct Coverage {
    accounts: HashSet<String>,
    regions: HashSet<String>,
}

impl Coverage {
    fn of(run: &RunEvidence) -> Coverage {
        Coverage {
            accounts: run
                .accounts
                .iter()
                .map(|account| account.account.id.clone())
                .collect(),
            regions: run.header.regions.iter().cloned().collect(),
        }
    }

    fn covers(&self, account: &str, region: &str) -> bool {
        self.accounts.contains(account) && self.regions.contains(region)
    }
}

/// A previous run's failing and ERROR findings, by identity, and what it covered.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The previous run's id; `None` when `latest` named no run yet (every failure is NEW).
    pub run_id: Option<String>,
    /// Why there is no baseline run, when there is none.
    pub warning: Option<String>,
    failing: HashMap<Identity, Finding>,
    /// The checks that were failing, whatever their resource.
    failing_checks: HashSet<Check>,
    /// The checks that ended in ERROR.
    errored: HashSet<Check>,
    /// `None`: no baseline run, so nothing limits the comparison.
    coverage: Option<Coverage>,
}

/// The comparison of a run with its baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct BaselineReport {
    /// The baseline run's id; `None` when `latest` named no run yet.
    pub run_id: Option<String>,
    /// Why there was no baseline run to compare with, when there was none.
    pub warning: Option<String>,
    /// Failing findings that are new.
    pub new: usize,
    /// Failing findings that were failing before.
    pub unchanged: usize,
    /// Findings that were failing and now ended in ERROR: not re-checked, not resolved.
    pub not_rechecked: usize,
    /// Failing findings whose check ended in ERROR in the baseline.
    pub previously_unchecked: usize,
    /// Findings that were failing and are now gone or passing, as the baseline had them.
    pub resolved: Vec<Finding>,
}

impl Baseline {
    /// Loads a previous run: a run directory, or `latest` (the newest full run in
    /// `output_dir`). Its findings are re-evaluated from its evidence, so identities are exact.
    /// `latest` before any full run is no error: the run is compared with nothing, every failure
    /// NEW, with a warning, so that a nightly job never stops collecting evidence for want of a
    /// baseline. A named directory that is not a run is a usage error.
    pub fn load(spec: &str, output_dir: &Path) -> Result<Baseline> {
        let dir = if spec == "latest" {
            match report::latest(output_dir) {
                Some(dir) => dir,
                None => return Ok(Baseline::none_yet(output_dir)),
            }
        } else {
            std::path::PathBuf::from(spec)
        };
        let refused = |message: String| Error::DamagedInput {
            path: dir.clone(),
            message: format!("--baseline {spec}: {message}; nothing was scanned"),
        };
        let evidence = dir.join(report::evidence::FILE_NAME);
        if !evidence.is_file() {
            return Err(refused(format!(
                "not a run directory (no {})",
                report::evidence::FILE_NAME
            )));
        }
        if let Some(check) = manifest::check(&dir)?
            && !check.matches()
        {
            return Err(refused(format!(
                "the run does not match its {} ({})",
                manifest::FILE_NAME,
                check.describe()
            )));
        }
        let damaged = |error: Error| match error {
            Error::Evidence { message, .. } => refused(format!(
                "its {} is damaged: {message}",
                report::evidence::FILE_NAME
            )),
            other => other,
        };
        let evidence = Evidence::open(&evidence).map_err(damaged)?;
        // A run cut short (a killed scan, a truncated copy) would make every failure it lacks
        // look NEW.
        if evidence.run().end.is_none() {
            return Err(refused(format!(
                "the run is truncated: its {} has no run_end record (a scan that was killed, or a \
                 file cut short)",
                report::evidence::FILE_NAME
            )));
        }
        let mut baseline = Baseline::empty(Some(evidence.run().header.run_id.clone()));
        baseline.coverage = Some(Coverage::of(evidence.run()));
        // Account by account: only the failing and ERROR findings are kept.
        for account in Findings::new(&evidence, &TriageMarks::NONE).accounts() {
            baseline.extend(account.map_err(damaged)?);
        }
        Ok(baseline)
    }

    /// The baseline of `--baseline latest` when `output_dir` has no full run yet.
    fn none_yet(output_dir: &Path) -> Baseline {
        let warning = format!(
            "--baseline latest: no full run in {} yet; this run is compared with nothing, every \
             failure is NEW",
            output_dir.display()
        );
        warn!("{warning}");
        let mut baseline = Baseline::empty(None);
        baseline.warning = Some(warning);
        baseline
    }

    fn empty(run_id: Option<String>) -> Baseline {
        Baseline {
            run_id,
            warning: None,
            failing: HashMap::new(),
            failing_checks: HashSet::new(),
            errored: HashSet::new(),
            coverage: None,
        }
    }

    fn extend(&mut self, findings: Vec<Finding>) {
        for finding in findings {
            if finding.status == Status::Error {
                self.errored.insert(check(&finding));
            } else if is_failing(&finding) {
                self.failing_checks.insert(check(&finding));
                self.failing.insert(identity(&finding), finding);
            }
        }
    }

    /// Whether the baseline run covered a finding's account-Region: outside it, nothing is
    /// compared.
    fn covers(&self, finding: &Finding) -> bool {
        self.coverage
            .as_ref()
            .is_none_or(|coverage| coverage.covers(&finding.account_id, &finding.region))
    }

    /// Marks a finding within the baseline's coverage: failing now is UNCHANGED (failing before),
    /// PREVIOUSLY_UNCHECKED (its check ended in ERROR before) or NEW; ERROR now after failing is
    /// NOT_RECHECKED; passing (or not applicable) now after failing is RESOLVED.
    pub fn mark(&self, finding: &mut Finding) {
        finding.baseline = if !self.covers(finding) {
            None
        } else if is_failing(finding) {
            Some(if self.failing.contains_key(&identity(finding)) {
                BaselineState::Unchanged
            } else if self.errored.contains(&check(finding)) {
                BaselineState::PreviouslyUnchecked
            } else {
                BaselineState::New
            })
        } else if finding.status == Status::Error {
            self.failing_checks
                .contains(&check(finding))
                .then_some(BaselineState::NotRechecked)
        } else if matches!(finding.status, Status::Pass | Status::NotApplicable)
            && self.failing.contains_key(&identity(finding))
        {
            Some(BaselineState::Resolved)
        } else {
            None
        };
    }

    /// The comparison, from the tally of the run's marked findings: what resolved in the run,
    /// then the baseline's failing findings the run no longer has at all — only those in an
    /// account-Region the run covers, and whose check did not end in ERROR (not re-checked).
    pub fn report(&self, tally: BaselineTally, run: &RunEvidence) -> BaselineReport {
        self.report_within(tally, &Coverage::of(run))
    }

    /// [`Self::report`] for a run that covers `coverage`.
    fn report_within(&self, tally: BaselineTally, coverage: &Coverage) -> BaselineReport {
        let mut gone: Vec<Finding> = self
            .failing
            .iter()
            .filter(|(key, finding)| {
                !tally.seen.contains(*key)
                    && coverage.covers(&finding.account_id, &finding.region)
                    && !tally.errored_now.contains(&check(finding))
            })
            .map(|(_, finding)| finding.clone())
            .collect();
        gone.sort_by(|a, b| a.identity().cmp(&b.identity()));
        for finding in &mut gone {
            finding.baseline = Some(BaselineState::Resolved);
        }
        let mut resolved = tally.resolved;
        resolved.extend(gone);
        BaselineReport {
            run_id: self.run_id.clone(),
            warning: self.warning.clone(),
            new: tally.new,
            unchanged: tally.unchanged,
            not_rechecked: tally.not_rechecked,
            previously_unchecked: tally.previously_unchecked,
            resolved,
        }
    }
}

/// What comparing a run's findings with the baseline found, counted as the findings go by.
#[derive(Debug, Clone, Default)]
pub struct BaselineTally {
    new: usize,
    unchanged: usize,
    not_rechecked: usize,
    previously_unchecked: usize,
    /// Failing before, passing now: as the baseline had them.
    resolved: Vec<Finding>,
    /// The baseline's failing findings still present in the run, in any state.
    seen: HashSet<Identity>,
    /// The run's checks that ended in ERROR: the baseline's failures there are not resolved.
    errored_now: HashSet<Check>,
}

impl BaselineTally {
    /// Counts a marked finding.
    pub fn add(&mut self, finding: &Finding, baseline: &Baseline) {
        if finding.status == Status::Error {
            self.errored_now.insert(check(finding));
        }
        match finding.baseline {
            Some(BaselineState::New) => self.new += 1,
            Some(BaselineState::Unchanged) => self.unchanged += 1,
            Some(BaselineState::NotRechecked) => self.not_rechecked += 1,
            Some(BaselineState::PreviouslyUnchecked) => self.previously_unchecked += 1,
            Some(BaselineState::Resolved) | None => {}
        }
        let key = identity(finding);
        if let Some(before) = baseline.failing.get(&key) {
            if finding.baseline == Some(BaselineState::Resolved) {
                let mut was = before.clone();
                was.baseline = Some(BaselineState::Resolved);
                self.resolved.push(was);
            }
            self.seen.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;

    /// Marks every current finding against the baseline and compares, for a run covering
    /// `accounts` in us-east-1 and eu-west-1.
    fn compare(findings: &mut [Finding], baseline: &Baseline, accounts: &[&str]) -> BaselineReport {
        let mut tally = BaselineTally::default();
        for finding in findings.iter_mut() {
            baseline.mark(finding);
            tally.add(finding, baseline);
        }
        baseline.report_within(tally, &coverage(accounts, &["us-east-1", "eu-west-1"]))
    }

    fn coverage(accounts: &[&str], regions: &[&str]) -> Coverage {
        Coverage {
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// A baseline made of already evaluated findings, over `accounts` in `regions`.
    fn from_findings(findings: Vec<Finding>, accounts: &[&str], regions: &[&str]) -> Baseline {
        let mut baseline = Baseline::empty(Some("old".into()));
        baseline.coverage = Some(coverage(accounts, regions));
        baseline.extend(findings);
        baseline
    }

    fn finding(account: &str, status: Status) -> Finding {
        Finding {
            rule_id: "MACIE-002".into(),
            account_id: account.into(),
            account_name: account.into(),
            ou_path: None,
            region: "us-east-1".into(),
            status,
            severity: Severity::Medium,
            resource: format!("arn:aws:macie2:us-east-1:{account}:session"),
            message: String::new(),
            remediation: String::new(),
            baseline: None,
            suppression: None,
        }
    }

    /// A MACIE-004 finding: about the bucket when it was read, the session when it ended in ERROR.
    fn bucket_finding(account: &str, status: Status) -> Finding {
        let mut finding = finding(account, status);
        finding.rule_id = "MACIE-004".into();
        if status != Status::Error {
            finding.resource = format!("arn:aws:s3:::results-{account}");
        }
        finding
    }

    fn accounts_of(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.account_id.as_str()).collect()
    }

    #[test]
    fn new_unchanged_and_resolved() {
        let baseline = from_findings(
            vec![
                finding("1", Status::Fail),
                finding("2", Status::Fail),
                finding("3", Status::Warn),
                finding("4", Status::Pass),
            ],
            &["1", "2", "3", "4", "5"],
            &["us-east-1"],
        );
        let mut now = vec![
            finding("1", Status::Fail),
            finding("2", Status::Pass),
            finding("4", Status::Fail),
            finding("5", Status::Error),
        ];
        let report = compare(&mut now, &baseline, &["1", "2", "3", "4", "5"]);
        assert_eq!(now[0].baseline, Some(BaselineState::Unchanged));
        assert_eq!(now[1].baseline, Some(BaselineState::Resolved));
        assert_eq!(now[2].baseline, Some(BaselineState::New));
        assert_eq!(now[3].baseline, None, "ERROR now, not failing before");
        assert_eq!((report.new, report.unchanged), (1, 1));
        assert_eq!(
            accounts_of(&report.resolved),
            vec!["2", "3"],
            "now passing, and gone"
        );
    }

    #[test]
    fn failing_then_error_is_not_rechecked_and_not_resolved() {
        let baseline = from_findings(
            vec![
                bucket_finding("1", Status::Fail),
                bucket_finding("2", Status::Warn),
            ],
            &["1", "2"],
            &["us-east-1"],
        );
        // The role is denied now: the checks end in ERROR, about the session, not the bucket.
        let mut now = vec![
            bucket_finding("1", Status::Error),
            bucket_finding("2", Status::Error),
        ];
        let report = compare(&mut now, &baseline, &["1", "2"]);
        assert_eq!(now[0].baseline, Some(BaselineState::NotRechecked));
        assert_eq!(now[1].baseline, Some(BaselineState::NotRechecked));
        assert_eq!(report.not_rechecked, 2);
        assert!(report.resolved.is_empty(), "{:?}", report.resolved);
    }

    #[test]
    fn error_then_failing_is_previously_unchecked_not_new() {
        let baseline = from_findings(
            vec![
                bucket_finding("1", Status::Error),
                bucket_finding("2", Status::Error),
            ],
            &["1", "2"],
            &["us-east-1"],
        );
        let mut now = vec![
            bucket_finding("1", Status::Fail),
            bucket_finding("2", Status::Pass),
        ];
        let report = compare(&mut now, &baseline, &["1", "2"]);
        assert_eq!(now[0].baseline, Some(BaselineState::PreviouslyUnchecked));
        assert_eq!(now[1].baseline, None, "passing now, unknown before");
        assert_eq!((report.new, report.previously_unchecked), (0, 1));
        let gate = crate::triage::GatePolicy {
            fail_on_new: true,
            ..crate::triage::GatePolicy::DEFAULT
        };
        assert!(!gate.fails(&now[0]), "--fail-on-new does not fail on it");
    }

    #[test]
    fn only_the_scope_both_runs_cover_is_compared() {
        // The baseline covered us-east-1 only, and accounts 1 and 2.
        let baseline = from_findings(
            vec![finding("1", Status::Fail), finding("2", Status::Fail)],
            &["1", "2"],
            &["us-east-1"],
        );
        let mut elsewhere = finding("1", Status::Fail);
        elsewhere.region = "eu-west-1".into();
        elsewhere.resource = "arn:aws:macie2:eu-west-1:1:session".into();
        let mut now = vec![elsewhere, finding("3", Status::Fail)];
        // This run covers accounts 1 and 3: account 2's failure is outside it, not resolved.
        let report = compare(&mut now, &baseline, &["1", "3"]);
        assert_eq!(now[0].baseline, None, "a Region the baseline did not cover");
        assert_eq!(
            now[1].baseline, None,
            "an account the baseline did not cover"
        );
        assert_eq!(report.new, 0);
        assert_eq!(
            accounts_of(&report.resolved),
            vec!["1"],
            "gone from a covered account-Region; account 2 is outside this run"
        );
    }

    /// A run directory holding a finished run's evidence (and, with `manifest`, its SHA256SUMS).
    fn baseline_dir(manifest: bool) -> tempfile::TempDir {
        use crate::rules::testing::{at, evidence, run_of, session};
        let mut run = run_of(&evidence(session("ENABLED", at(2026, 1, 1)), None));
        run.end = Some(crate::evidence::RunEnd {
            ended_at: at(2026, 11, 1),
            interrupted: false,
        });
        let dir = tempfile::tempdir().expect("temp");
        let lines: Vec<String> = run
            .records()
            .iter()
            .map(|record| serde_json::to_string(record).expect("JSON"))
            .collect();
        std::fs::write(
            dir.path().join(report::evidence::FILE_NAME),
            lines.join("\n") + "\n",
        )
        .expect("write");
        if manifest {
            report::manifest::write(dir.path()).expect("manifest");
        }
        dir
    }

    /// Loads `dir` as a baseline and returns the refusal's message, which must exit 3.
    fn refusal(dir: &Path) -> String {
        let spec = dir.display().to_string();
        let error = Baseline::load(&spec, dir).expect_err("refused");
        assert_eq!(error.exit_code(), crate::error::EXIT_USAGE, "{error}");
        error.to_string()
    }

    #[test]
    fn a_damaged_baseline_is_refused_naming_the_reason() {
        let good = baseline_dir(true);
        let spec = good.path().display().to_string();
        let baseline = Baseline::load(&spec, good.path()).expect("a good baseline loads");
        assert_eq!(baseline.run_id.as_deref(), Some("test"));

        let evidence = |dir: &tempfile::TempDir| dir.path().join(report::evidence::FILE_NAME);
        let text = std::fs::read_to_string(evidence(&good)).expect("read");

        let without_end = baseline_dir(false);
        let cut: Vec<&str> = text.lines().filter(|l| !l.contains("run_end")).collect();
        std::fs::write(evidence(&without_end), cut.join("\n") + "\n").expect("write");
        assert!(
            refusal(without_end.path())
                .contains("truncated: its evidence.jsonl has no run_end record")
        );

        // A file cut in its last line (the run_end record) lacks its end.
        let cut_short = baseline_dir(false);
        std::fs::write(evidence(&cut_short), &text[..text.len() - 10]).expect("write");
        assert!(refusal(cut_short.path()).contains("truncated"));

        // A line cut short, its newline kept (a copy that lost bytes).
        let cut_line = baseline_dir(false);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let half = lines[1].len() / 2;
        lines[1].truncate(half);
        std::fs::write(evidence(&cut_line), lines.join("\n") + "\n").expect("write");
        let message = refusal(cut_line.path());
        assert!(
            message.contains("evidence.jsonl is damaged: line 2"),
            "{message}"
        );

        let tampered = baseline_dir(true);
        std::fs::write(
            evidence(&tampered),
            text.replace("\"run_id\":\"test\"", "\"run_id\":\"edit\""),
        )
        .expect("write");
        let message = refusal(tampered.path());
        assert!(
            message.contains("does not match its SHA256SUMS (modified: evidence.jsonl)"),
            "{message}"
        );

        let garbage = baseline_dir(false);
        std::fs::write(evidence(&garbage), "\u{0}garbage\n{\"record\":1}").expect("write");
        assert!(refusal(garbage.path()).contains("is damaged"));

        let not_a_run = tempfile::tempdir().expect("temp");
        assert!(refusal(not_a_run.path()).contains("not a run directory"));
    }

    #[test]
    fn no_baseline_run_yet_makes_every_failure_new() {
        let dir = tempfile::tempdir().expect("temp");
        let baseline = Baseline::load("latest", dir.path()).expect("not an error");
        assert_eq!(baseline.run_id, None);
        assert!(
            baseline
                .warning
                .as_deref()
                .is_some_and(|w| w.contains("no full run"))
        );
        let mut now = vec![
            finding("1", Status::Fail),
            finding("2", Status::Warn),
            finding("3", Status::Pass),
        ];
        let report = compare(&mut now, &baseline, &["1", "2", "3"]);
        assert_eq!(now[0].baseline, Some(BaselineState::New));
        assert_eq!(now[1].baseline, Some(BaselineState::New));
        assert_eq!(now[2].baseline, None);
        assert_eq!(report.new, 2);
        assert!(report.warning.is_some());
        assert!(Baseline::load("/nonexistent/run", dir.path()).is_err());
    }
}
