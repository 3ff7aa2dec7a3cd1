//! Baseline and drift: compare a run with a previous one by finding identity (rule, account,
//! Region, resource). A failing finding (FAIL or WARN) is NEW or UNCHANGED; one that failed before
//! and is now gone or passing is RESOLVED.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::evidence::Evidence;
use crate::findings::{Finding, Status};
use crate::report;
use crate::report::findings::Findings;
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
}

impl BaselineState {
    /// The state as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "NEW",
            BaselineState::Unchanged => "UNCHANGED",
            BaselineState::Resolved => "RESOLVED",
        }
    }
}

/// A previous run's failing findings, by identity.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The previous run's id.
    pub run_id: String,
    /// Its directory.
    pub dir: PathBuf,
    failing: HashMap<(String, String, String, String), Finding>,
}

/// The comparison of a run with its baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct BaselineReport {
    /// The baseline run's id.
    pub run_id: String,
    /// Failing findings that are new.
    pub new: usize,
    /// Failing findings that were failing before.
    pub unchanged: usize,
    /// Findings that were failing and are now gone or passing, as the baseline had them.
    pub resolved: Vec<Finding>,
}

fn is_failing(finding: &Finding) -> bool {
    matches!(finding.status, Status::Fail | Status::Warn)
}

fn identity(finding: &Finding) -> (String, String, String, String) {
    let (rule, account, region, resource) = finding.identity();
    (
        rule.to_owned(),
        account.to_owned(),
        region.to_owned(),
        resource.to_owned(),
    )
}

impl Baseline {
    /// Loads a previous run: a run directory, or `latest` (the newest complete run in `output_dir`).
    /// Its findings are re-evaluated from its evidence, so identities are exact.
    pub fn load(spec: &str, output_dir: &Path) -> Result<Baseline> {
        let dir = if spec == "latest" {
            report::latest(output_dir).ok_or_else(|| {
                Error::Usage(format!(
                    "--baseline latest: no complete run in {} yet",
                    output_dir.display()
                ))
            })?
        } else {
            PathBuf::from(spec)
        };
        let evidence = dir.join(report::evidence::FILE_NAME);
        if !evidence.is_file() {
            return Err(Error::Usage(format!(
                "--baseline {spec}: {} is not a run directory (no {})",
                dir.display(),
                report::evidence::FILE_NAME
            )));
        }
        let evidence = Evidence::open(&evidence)?;
        let mut baseline = Baseline {
            run_id: evidence.run().header.run_id.clone(),
            dir,
            failing: HashMap::new(),
        };
        // Account by account: only the failing findings are kept.
        for account in Findings::new(&evidence, &TriageMarks::NONE).accounts() {
            baseline.extend(account?);
        }
        Ok(baseline)
    }

    fn extend(&mut self, findings: Vec<Finding>) {
        self.failing.extend(
            findings
                .into_iter()
                .filter(is_failing)
                .map(|finding| (identity(&finding), finding)),
        );
    }
}

/// What comparing a run's findings with the baseline found, counted as the findings go by.
#[derive(Debug, Clone, Default)]
pub struct BaselineTally {
    new: usize,
    unchanged: usize,
    /// Failing before, passing now: as the baseline had them.
    resolved: Vec<Finding>,
    /// The baseline's failing findings still present in the run, in any state.
    seen: HashSet<(String, String, String, String)>,
}

impl BaselineTally {
    /// Counts a marked finding.
    pub fn add(&mut self, finding: &Finding, baseline: &Baseline) {
        let key = identity(finding);
        let Some(before) = baseline.failing.get(&key) else {
            if finding.baseline == Some(BaselineState::New) {
                self.new += 1;
            }
            return;
        };
        match finding.baseline {
            Some(BaselineState::Unchanged) => self.unchanged += 1,
            Some(BaselineState::Resolved) => {
                let mut was = before.clone();
                was.baseline = Some(BaselineState::Resolved);
                self.resolved.push(was);
            }
            _ => {}
        }
        self.seen.insert(key);
    }
}

impl Baseline {
    /// Marks a finding: failing now is NEW or UNCHANGED; failing before and passing (or not
    /// applicable) now is RESOLVED.
    pub fn mark(&self, finding: &mut Finding) {
        let before = self.failing.contains_key(&identity(finding));
        finding.baseline = match (is_failing(finding), before) {
            (true, true) => Some(BaselineState::Unchanged),
            (true, false) => Some(BaselineState::New),
            (false, true) if matches!(finding.status, Status::Pass | Status::NotApplicable) => {
                Some(BaselineState::Resolved)
            }
            _ => None,
        };
    }

    /// The comparison, from the tally of the run's marked findings: what resolved in the run,
    /// then the baseline's failing findings the run no longer has at all.
    pub fn report(&self, tally: BaselineTally) -> BaselineReport {
        let mut gone: Vec<Finding> = self
            .failing
            .iter()
            .filter(|(key, _)| !tally.seen.contains(*key))
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
            new: tally.new,
            unchanged: tally.unchanged,
            resolved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;

    /// Marks every current finding against the baseline and lists what was resolved.
    fn compare(findings: &mut [Finding], baseline: &Baseline) -> BaselineReport {
        let mut tally = BaselineTally::default();
        for finding in findings.iter_mut() {
            baseline.mark(finding);
            tally.add(finding, baseline);
        }
        baseline.report(tally)
    }

    /// A baseline made of already evaluated findings.
    fn from_findings(run_id: String, dir: PathBuf, findings: Vec<Finding>) -> Baseline {
        let mut baseline = Baseline {
            run_id,
            dir,
            failing: HashMap::new(),
        };
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

    #[test]
    fn new_unchanged_and_resolved() {
        let baseline = from_findings(
            "old".into(),
            PathBuf::new(),
            vec![
                finding("1", Status::Fail),
                finding("2", Status::Fail),
                finding("3", Status::Warn),
                finding("4", Status::Pass),
            ],
        );
        let mut now = vec![
            finding("1", Status::Fail),
            finding("2", Status::Pass),
            finding("4", Status::Fail),
            finding("5", Status::Error),
        ];
        let report = compare(&mut now, &baseline);
        assert_eq!(now[0].baseline, Some(BaselineState::Unchanged));
        assert_eq!(now[1].baseline, Some(BaselineState::Resolved));
        assert_eq!(now[2].baseline, Some(BaselineState::New));
        assert_eq!(now[3].baseline, None);
        assert_eq!((report.new, report.unchanged), (1, 1));
        let resolved: Vec<&str> = report
            .resolved
            .iter()
            .map(|f| f.account_id.as_str())
            .collect();
        assert_eq!(resolved, vec!["2", "3"], "now passing, and gone");
    }
}
