//! `evidence.jsonl`: the run's evidence, one JSON record per line.

use std::path::Path;

use serde::Serialize;

use super::write_atomically;
use crate::error::Result;
use crate::evidence::{
    AccountEvidence, AccountRegionEvidence, BucketEvidence, KeyEvidence, RunEnd, RunEvidence,
    RunHeader,
};

/// The file name of the evidence in a run directory.
pub const FILE_NAME: &str = "evidence.jsonl";

/// [`crate::evidence::EvidenceRecord`] by reference: the same lines, without copying the run's
/// evidence to write it.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Run(&'a RunHeader),
    Account(&'a AccountEvidence),
    AccountRegion(&'a AccountRegionEvidence),
    Bucket(&'a BucketEvidence),
    Key(&'a KeyEvidence),
    RunEnd(&'a RunEnd),
}

/// Writes the run's evidence to `dir/evidence.jsonl`, record by record, in the order of
/// [`RunEvidence::records`].
pub fn write(dir: &Path, run: &RunEvidence) -> Result<()> {
    write_atomically(&dir.join(FILE_NAME), |out| {
        let mut line = |record: RecordRef<'_>| -> std::io::Result<()> {
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")
        };
        line(RecordRef::Run(&run.header))?;
        for account in &run.accounts {
            line(RecordRef::Account(account))?;
        }
        for account in &run.accounts {
            for region in &run.header.regions {
                if let Some(evidence) = run.account_region(&account.account.id, region) {
                    line(RecordRef::AccountRegion(evidence))?;
                }
            }
        }
        let mut buckets: Vec<&BucketEvidence> = run.buckets.values().collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        for bucket in buckets {
            line(RecordRef::Bucket(bucket))?;
        }
        let mut keys: Vec<&KeyEvidence> = run.keys.values().collect();
        keys.sort_by(|a, b| a.arn.cmp(&b.arn));
        for key in keys {
            line(RecordRef::Key(key))?;
        }
        if let Some(end) = &run.end {
            line(RecordRef::RunEnd(end))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Account, AccountAccess};
    use crate::rules::testing::{at, destination, evidence, ok, run_of, session};

    /// The streamed file has exactly the lines of `RunEvidence::records`, in the same order.
    #[test]
    fn streams_the_same_lines_as_records() {
        let mut run = run_of(&evidence(
            session("ENABLED", at(2026, 1, 1)),
            Some(ok(
                "macie2:GetClassificationExportConfiguration",
                Some(destination(Some("bucket"), Some("key"))),
            )),
        ));
        run.accounts.push(AccountEvidence {
            account: Account {
                id: "111111111111".into(),
                name: "one".into(),
                email: None,
                status: "ACTIVE".into(),
            },
            access: Some(AccountAccess {
                role_arn: None,
                identity: run.header.caller.clone(),
            }),
            buckets: Some(ok("s3:ListBuckets", vec!["bucket".into()])),
        });
        run.end = Some(RunEnd {
            ended_at: at(2026, 11, 2),
            interrupted: false,
        });
        let dir = tempfile::tempdir().expect("temp");
        write(dir.path(), &run).expect("write");
        let written = std::fs::read_to_string(dir.path().join(FILE_NAME)).expect("read");
        let expected: String = run
            .records()
            .iter()
            .map(|r| serde_json::to_string(r).expect("json") + "\n")
            .collect();
        assert_eq!(written.lines().count(), 4);
        assert_eq!(written, expected);
    }
}
