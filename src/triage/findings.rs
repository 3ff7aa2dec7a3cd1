//! The findings the reports read: judged from the evidence each time a report reads them
//! ([`rules::judge`], one account at a time) and marked by triage. Evaluation and marking are
//! pure, so every reading gives the same findings, and a large organization's findings are never
//! held whole: each report holds one chunk of accounts' findings at a time.

use crate::error::Result;
use crate::evidence::Evidence;
use crate::findings::Finding;
use crate::rules;
use crate::triage::TriageMarks;

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

    /// Each account's findings, marked, in the run's account order (Region, then rule, within
    /// each).
    pub fn accounts(&self) -> impl Iterator<Item = Result<Vec<Finding>>> + 'a {
        let marks = self.marks;
        rules::judge(self.evidence).map(move |account| {
            account.map(|mut findings| {
                for finding in &mut findings {
                    marks.mark(finding);
                }
                findings
            })
        })
    }

    /// Calls `visit` with every finding, in order, until it fails. An account whose evidence
    /// cannot be read fails the visit too, with the evidence error inside the I/O error (which
    /// [`crate::run_dir::write_atomically`] gives back as it is).
    pub fn try_for_each(
        &self,
        mut visit: impl FnMut(&Finding) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for account in self.accounts() {
            let account = account.map_err(std::io::Error::other)?;
            for finding in &account {
                visit(finding)?;
            }
        }
        Ok(())
    }

    /// Every finding, in order, in memory: for a run small enough to hold (the tests compare
    /// whole readings; the commands read account by account).
    pub fn collect(&self) -> Result<Vec<Finding>> {
        let mut all = Vec::new();
        for account in self.accounts() {
            all.extend(account?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Account, AccountAccess, AccountEvidence};
    use crate::rules::testing::{at, destination, evidence, ok, run_of, session};

    /// `n` accounts, each with Macie on and a repository in us-east-1, in an in-memory run.
    fn run_of_accounts(n: u64) -> crate::evidence::RunEvidence {
        let template = evidence(
            session("ENABLED", at(2026, 1, 1)),
            Some(ok(
                "macie2:GetClassificationExportConfiguration",
                Some(destination(Some("bucket"), None)),
            )),
        );
        let mut run = run_of(&template);
        run.account_regions.clear();
        for n in 0..n {
            let id = format!("{:012}", 100_000_000_000 + n);
            let mut record = template.clone();
            record.account_id = id.clone();
            if n % 3 == 0 {
                record.export_configuration = None;
            }
            run.account_regions
                .insert((id.clone(), record.region.clone()), record);
            run.accounts.push(AccountEvidence {
                account: Account {
                    id: id.clone(),
                    name: format!("account {n}"),
                    email: None,
                    status: if n % 7 == 0 { "SUSPENDED" } else { "ACTIVE" }.into(),
                    ou_path: None,
                },
                access: Some(AccountAccess {
                    role_arn: None,
                    identity: run.header.caller.clone(),
                }),
                buckets: Some(ok("s3:ListBuckets", Vec::new())),
            });
        }
        run
    }

    /// Read from the file in chunks, the findings are those of the whole run judged at once, in
    /// the same order, across chunk boundaries.
    #[test]
    fn accounts_read_in_chunks_give_the_whole_run_in_order() {
        let run = run_of_accounts(150);
        let dir = tempfile::tempdir().expect("temp");
        crate::report::evidence::write(dir.path(), &Evidence::in_memory(run.clone()))
            .expect("written");
        let evidence =
            Evidence::open(&dir.path().join(crate::run_dir::EVIDENCE_FILE)).expect("opened");
        let findings = Findings::new(&evidence, &TriageMarks::NONE);
        let per_account: Vec<Vec<Finding>> =
            findings.accounts().collect::<Result<_>>().expect("judged");
        assert_eq!(
            per_account.len(),
            150,
            "one item per account, across three chunks"
        );
        assert!(
            per_account
                .iter()
                .all(|a| a.len() == rules::CATALOGUE.len())
        );
        let all: Vec<Finding> = per_account.into_iter().flatten().collect();
        assert_eq!(
            all,
            Findings::new(&Evidence::in_memory(run), &TriageMarks::NONE)
                .collect()
                .expect("judged")
        );
        assert_eq!(
            findings.collect().expect("judged"),
            all,
            "read again, the same"
        );
    }

    /// An account whose records cannot be read any more ends the reading with an error.
    #[test]
    fn an_unreadable_account_is_an_error() {
        let run = run_of_accounts(3);
        let dir = tempfile::tempdir().expect("temp");
        crate::report::evidence::write(dir.path(), &Evidence::in_memory(run)).expect("written");
        let path = dir.path().join(crate::run_dir::EVIDENCE_FILE);
        let evidence = Evidence::open(&path).expect("opened");
        std::fs::write(&path, "").expect("emptied");
        let marks = TriageMarks::NONE;
        let read: Vec<Result<Vec<Finding>>> = Findings::new(&evidence, &marks).accounts().collect();
        assert_eq!(read.len(), 1);
        assert!(
            read[0]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("cannot read at byte"))
        );
    }
}
