//! `evidence.jsonl`: the run's evidence, one JSON record per line.

use std::path::Path;

use super::write_atomically;
use crate::error::{Error, Result};
use crate::evidence::{BucketEvidence, Evidence, KeyEvidence, RecordRef, RunEvidence};

/// The file name of the evidence in a run directory.
pub const FILE_NAME: &str = "evidence.jsonl";

/// Writes the run's evidence to `dir/evidence.jsonl`: a copy of the file it is read from, byte
/// for byte, or the records of a run assembled in memory.
pub fn write(dir: &Path, evidence: &Evidence) -> Result<()> {
    let target = dir.join(FILE_NAME);
    match evidence.path() {
        Some(source) => {
            let mut file = std::fs::File::open(source).map_err(|e| Error::output(source, e))?;
            write_atomically(&target, |out| std::io::copy(&mut file, out).map(drop))
        }
        None => write_atomically(&target, |out| write_records(out, evidence.run())),
    }
}

/// Writes a run held in memory record by record, in the order of [`RunEvidence::records`].
fn write_records(out: &mut dyn std::io::Write, run: &RunEvidence) -> std::io::Result<()> {
    RecordRef::Run(&run.header).write_line(out)?;
    for account in &run.accounts {
        RecordRef::Account(account).write_line(out)?;
    }
    for account in &run.accounts {
        for region in &run.header.regions {
            if let Some(evidence) = run.account_region(&account.account.id, region) {
                RecordRef::AccountRegion(evidence).write_line(out)?;
            }
        }
    }
    let mut buckets: Vec<&BucketEvidence> = run.buckets.values().collect();
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    for bucket in buckets {
        RecordRef::Bucket(bucket).write_line(out)?;
    }
    let mut keys: Vec<&KeyEvidence> = run.keys.values().collect();
    keys.sort_by(|a, b| a.arn.cmp(&b.arn));
    for key in keys {
        RecordRef::Key(key).write_line(out)?;
    }
    if let Some(controls) = &run.resource_controls {
        RecordRef::ResourceControlPolicies(controls).write_line(out)?;
    }
    if let Some(end) = &run.end {
        RecordRef::RunEnd(end).write_line(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Account, AccountAccess, AccountEvidence, RunEnd};
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
                ou_path: None,
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
        write(dir.path(), &Evidence::in_memory(run.clone())).expect("write");
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
