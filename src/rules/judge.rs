//! Judging a run: every account's findings from its evidence, a chunk of accounts at a time (in
//! parallel within a chunk), so that a reader holds one chunk's findings, never the run's.

use crate::error::Result;
use crate::evidence::Evidence;
use crate::findings::Finding;

/// Accounts judged (in parallel) per chunk.
const CHUNK: usize = 64;

/// Each account's findings in the run's account order (Region, then rule, within each),
/// unmarked by triage.
pub fn judge(evidence: &Evidence) -> Judged<'_> {
    Judged {
        evidence,
        next: 0,
        judged: Vec::new().into_iter(),
    }
}

/// The iterator of [`judge`]: an account whose records cannot be read is an error, and ends it.
#[derive(Debug)]
pub struct Judged<'a> {
    evidence: &'a Evidence,
    /// The first account of the next chunk.
    next: usize,
    /// The current chunk's accounts not yet returned.
    judged: std::vec::IntoIter<Vec<Finding>>,
}

impl Iterator for Judged<'_> {
    type Item = Result<Vec<Finding>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(account) = self.judged.next() {
            return Some(Ok(account));
        }
        let accounts = &self.evidence.run().accounts;
        if self.next >= accounts.len() {
            return None;
        }
        let chunk = &accounts[self.next..accounts.len().min(self.next + CHUNK)];
        self.next += chunk.len();
        match super::evaluate_accounts(self.evidence, chunk) {
            Ok(judged) => {
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
