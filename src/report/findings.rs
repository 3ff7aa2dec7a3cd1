//! The findings the reports read: judged from the evidence each time a report reads them, one
//! account at a time, and marked by triage. Evaluation and marking are pure, so every reading
//! gives the same findings, and a large organization's findings are never held whole: each
//! report holds one chunk of accounts' findings at a time.

use crate::error::Result;
use crate::evidence::Evidence;
use crate::findings::Finding;
use crate::rules;
use crate::triage::TriageMarks;

/// Accounts judged (in parallel) per chunk while a report reads the findings.
const CHUNK: usize = 64;

/// A run's findings, as the reports read them.
#[derive(Debug, Clone, Copy)]
pub struct Findings<'a> {
    evidence: &'a Evidence,
    marks: &'a TriageMarks<'a>,
}

impl<'a> Findings<'a> {
    /// The findings of `evidence`, marked by `marks`.
    pub fn new(evidence: &'a Evidence, marks: &'a TriageMarks<'a>) -> Findings<'a> {
        Findings { evidence, marks }
    }

    /// The evidence they are judged from.
    pub fn evidence(&self) -> &'a Evidence {
        self.evidence
    }

    /// Each account's findings, in the run's account order (Region, then rule, within each).
    pub fn accounts(&self) -> AccountFindings<'a> {
        AccountFindings {
            findings: *self,
            next: 0,
            judged: Vec::new().into_iter(),
        }
    }

    /// Calls `visit` with every finding, in order, until it fails. An account whose evidence
    /// cannot be read fails the visit too.
    pub fn try_for_each(
        &self,
        mut visit: impl FnMut(&Finding) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for account in self.accounts() {
            let account = account.map_err(|e| std::io::Error::other(e.to_string()))?;
            for finding in &account {
                visit(finding)?;
            }
        }
        Ok(())
    }

    /// Every finding, in order, in memory: for a run small enough to hold (remediation).
    pub fn collect(&self) -> Result<Vec<Finding>> {
        let mut all = Vec::new();
        for account in self.accounts() {
            all.extend(account?);
        }
        Ok(all)
    }
}

/// The iterator of [`Findings::accounts`].
#[derive(Debug)]
pub struct AccountFindings<'a> {
    findings: Findings<'a>,
    /// The first account of the next chunk.
    next: usize,
    /// The current chunk's accounts not yet returned.
    judged: std::vec::IntoIter<Vec<Finding>>,
}

impl Iterator for AccountFindings<'_> {
    type Item = Result<Vec<Finding>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(account) = self.judged.next() {
            return Some(Ok(account));
        }
        let accounts = &self.findings.evidence.run().accounts;
        if self.next >= accounts.len() {
            return None;
        }
        let chunk = &accounts[self.next..accounts.len().min(self.next + CHUNK)];
        self.next += chunk.len();
        match rules::evaluate_accounts(self.findings.evidence, chunk) {
            Ok(mut judged) => {
                for finding in judged.iter_mut().flatten() {
                    self.findings.marks.mark(finding);
                }
                self.judged = judged.into_iter();
                self.next()
            }
            Err(error) => {
                self.next = accounts.len();
                Some(Err(error))
            }
        }
    }
}
