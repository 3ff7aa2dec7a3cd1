//! A run's evidence as evaluation and the reports read it, one account at a time.
//!
//! The run record, the accounts, the repositories and the run's end are small and held in memory;
//! the account-Region records, which grow with accounts × Regions, are read per account when they
//! are needed: from `evidence.jsonl` by byte offset (a scan, a re-render), or from memory for a
//! run assembled in memory (a merge, remediation's scans). A large organization's evidence is
//! therefore never held whole.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{
    AccountRegionEvidence, EVIDENCE_SCHEMA_VERSION, EvidenceRecord, Records, RunEvidence, RunHeader,
};
use tracing::warn;

use crate::error::{Error, Result};

/// A run's evidence, with its account-Region records in memory or in its file.
#[derive(Debug)]
pub struct Evidence {
    run: RunEvidence,
    records: RegionRecords,
}

#[derive(Debug)]
enum RegionRecords {
    /// `run.account_regions` holds every record.
    Memory,
    /// `run.account_regions` holds the records other accounts' verdicts refer to (Macie
    /// administrators'); every record is in the file, found by account.
    File {
        path: PathBuf,
        file: File,
        lines: HashMap<String, Vec<Line>>,
    },
}

/// Where one account-Region record is in the file.
#[derive(Debug, Clone, Copy)]
struct Line {
    /// The Region's position in the run's Regions.
    region: usize,
    offset: u64,
    len: usize,
}

impl Evidence {
    /// A run assembled in memory.
    pub fn in_memory(mut run: RunEvidence) -> Evidence {
        run.accounts.sort_by(|a, b| a.account.id.cmp(&b.account.id));
        Evidence {
            run,
            records: RegionRecords::Memory,
        }
    }

    /// Indexes `evidence.jsonl`: every line is parsed once (so a damaged file is refused here,
    /// naming its line), the account-Region records are left in the file.
    pub fn open(path: &Path) -> Result<Evidence> {
        let refused = |message: String| Error::Evidence {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|e| refused(format!("cannot open: {e}")))?;
        let mut lines_read = LineReader {
            reader: BufReader::new(file.try_clone().map_err(|e| refused(e.to_string()))?),
            text: String::new(),
            number: 0,
            offset: 0,
        };
        let header = match lines_read.next().map_err(&refused)? {
            Some((_, EvidenceRecord::Run(header))) => header,
            Some(_) => return Err(refused("line 1: the run record must come first".into())),
            None => return Err(refused("no run record: not an evidence file".into())),
        };
        check_version(&header).map_err(|m| refused(format!("line 1: {m}")))?;
        let regions = header.regions.clone();
        let mut rest = Records::default();
        let mut lines: HashMap<String, Vec<Line>> = HashMap::new();
        let mut administrators: HashSet<String> = HashSet::new();
        while let Some((line, record)) = lines_read.next().map_err(&refused)? {
            let number = lines_read.number;
            match record {
                EvidenceRecord::AccountRegion(evidence) => {
                    // A record for a Region outside the run's is never judged; it is ignored
                    // here as the in-memory model's evaluation ignores it.
                    let Some(region) = regions.iter().position(|r| *r == evidence.region) else {
                        continue;
                    };
                    if let Some(admin) = evidence.administrator_account() {
                        administrators.insert(admin.to_owned());
                    }
                    let account = lines.entry(evidence.account_id).or_default();
                    if account.iter().any(|l| l.region == region) {
                        return Err(refused(format!(
                            "line {number}: a second record for the same account and Region"
                        )));
                    }
                    account.push(Line { region, ..line });
                }
                other => rest
                    .insert(other)
                    .map_err(|m| refused(format!("line {number}: {m}")))?,
            }
        }
        let accounts = rest.population(&header);
        let run = RunEvidence {
            header,
            accounts,
            account_regions: HashMap::new(),
            buckets: rest.buckets,
            keys: rest.keys,
            resource_controls: rest.resource_controls,
            end: rest.end,
        };
        for account in lines.values_mut() {
            account.sort_by_key(|l| l.region);
        }
        let mut evidence = Evidence::in_memory(run);
        evidence.records = RegionRecords::File {
            path: path.to_path_buf(),
            file,
            lines,
        };
        // The records a member's verdict may be judged by (its administrator's) stay at hand.
        let mut held = Vec::new();
        for admin in &administrators {
            held.extend(
                evidence
                    .account_regions(admin)?
                    .into_iter()
                    .map(Cow::into_owned),
            );
        }
        evidence.run.account_regions = held
            .into_iter()
            .map(|record| ((record.account_id.clone(), record.region.clone()), record))
            .collect();
        Ok(evidence)
    }

    /// The run: its header, every account, the repositories and the end. Of the account-Region
    /// records it holds all for a run in memory, and only Macie administrators' for a file; use
    /// [`Evidence::account_regions`] for an account's own.
    pub fn run(&self) -> &RunEvidence {
        &self.run
    }

    /// Reads the account-Region records of `account_ids` into [`Evidence::run`], for a reader
    /// (remediation's planner) that looks records up in the run record: only the accounts it
    /// names are held, not the organization's.
    pub fn hold_account_regions<'a>(
        &mut self,
        account_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        if matches!(self.records, RegionRecords::Memory) {
            return Ok(());
        }
        let mut held = Vec::new();
        for account_id in account_ids.into_iter().collect::<HashSet<_>>() {
            held.extend(
                self.account_regions(account_id)?
                    .into_iter()
                    .map(Cow::into_owned),
            );
        }
        for record in held {
            self.run
                .account_regions
                .insert((record.account_id.clone(), record.region.clone()), record);
        }
        Ok(())
    }

    /// The evidence file, when the evidence is read from one.
    pub fn path(&self) -> Option<&Path> {
        match &self.records {
            RegionRecords::Memory => None,
            RegionRecords::File { path, .. } => Some(path),
        }
    }

    /// An account's account-Region records, in the run's Region order.
    pub fn account_regions(&self, account_id: &str) -> Result<Vec<Cow<'_, AccountRegionEvidence>>> {
        match &self.records {
            RegionRecords::Memory => Ok(self
                .run
                .header
                .regions
                .iter()
                .filter_map(|region| self.run.account_region(account_id, region))
                .map(Cow::Borrowed)
                .collect()),
            RegionRecords::File { path, file, lines } => {
                let Some(lines) = lines.get(account_id) else {
                    return Ok(Vec::new());
                };
                lines
                    .iter()
                    .map(|line| read_record(file, line).map(Cow::Owned))
                    .collect::<std::result::Result<_, String>>()
                    .map_err(|message| Error::Evidence {
                        path: path.clone(),
                        message,
                    })
            }
        }
    }
}

/// Reads `evidence.jsonl` line by line, keeping each line's place in the file.
struct LineReader {
    reader: BufReader<File>,
    text: String,
    /// The number of the line read last (from 1).
    number: usize,
    /// Where the next line starts.
    offset: u64,
}

impl LineReader {
    /// The next record and where its line is (its `region` is set by the caller).
    fn next(&mut self) -> std::result::Result<Option<(Line, EvidenceRecord)>, String> {
        loop {
            self.text.clear();
            self.number += 1;
            let number = self.number;
            let len = self
                .reader
                .read_line(&mut self.text)
                .map_err(|e| format!("line {number}: {e}"))?;
            if len == 0 {
                return Ok(None);
            }
            let offset = self.offset;
            self.offset += len as u64;
            if self.text.trim().is_empty() {
                continue;
            }
            let record = match serde_json::from_str(&self.text) {
                Ok(record) => record,
                // A last line cut short: a run killed while writing it. What came before stands.
                Err(e) if !self.text.ends_with('\n') => {
                    warn!("line {number}: an incomplete last record is ignored: {e}");
                    return Ok(None);
                }
                Err(e) => return Err(format!("line {number}: not an evidence record: {e}")),
            };
            return Ok(Some((
                Line {
                    region: 0,
                    offset,
                    len,
                },
                record,
            )));
        }
    }
}

fn read_record(file: &File, line: &Line) -> std::result::Result<AccountRegionEvidence, String> {
    let mut bytes = vec![0; line.len];
    read_exact_at(file, &mut bytes, line.offset)
        .map_err(|e| format!("cannot read at byte {}: {e}", line.offset))?;
    match serde_json::from_slice(&bytes) {
        Ok(EvidenceRecord::AccountRegion(record)) => Ok(record),
        _ => Err(format!(
            "the record at byte {} changed since the file was opened",
            line.offset
        )),
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

pub(super) fn check_version(header: &RunHeader) -> std::result::Result<(), String> {
    if header.schema_version == EVIDENCE_SCHEMA_VERSION {
        Ok(())
    } else {
        Err(format!(
            "evidence schema version {} is not supported (expected {EVIDENCE_SCHEMA_VERSION})",
            header.schema_version
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{AccountSink, EvidenceWriter, MacieAdministrator, RunEnd};
    use crate::rules::testing::{account, at, destination, evidence, ok, run_of, session};

    fn region(account_id: &str, region: &str, admin: Option<&str>) -> AccountRegionEvidence {
        let mut record = evidence(
            session("ENABLED", at(2026, 1, 1)),
            Some(ok(
                "macie2:GetClassificationExportConfiguration",
                Some(destination(Some("bucket"), Some("key"))),
            )),
        );
        record.account_id = account_id.into();
        record.region = region.into();
        record.administrator = Some(ok(
            "macie2:GetAdministratorAccount",
            admin.map(|id| MacieAdministrator {
                account_id: id.into(),
                relationship_status: Some("Enabled".into()),
            }),
        ));
        record
    }

    /// Writes a run as a scan does: accounts in the order they finish, Regions in run order.
    fn written(dir: &Path, accounts: &[(&str, Vec<AccountRegionEvidence>)]) -> PathBuf {
        let mut header = run_of(&region("0", "us-east-1", None)).header;
        header.regions = vec!["us-east-1".into(), "eu-west-1".into()];
        let path = dir.join("evidence.jsonl");
        let writer = EvidenceWriter::create(&path, &header).expect("created");
        for (id, regions) in accounts {
            writer.account(&account(id, &[]), regions);
        }
        let end = RunEnd {
            ended_at: at(2026, 1, 2),
            interrupted: false,
        };
        writer.finish(&[], &[], None, Some(&end)).expect("finished")
    }

    #[test]
    fn reads_each_account_from_the_file_as_the_file_was_written() {
        let dir = tempfile::tempdir().expect("temp");
        let b = vec![region("222222222222", "us-east-1", None)];
        let a = vec![
            region("111111111111", "us-east-1", None),
            region("111111111111", "eu-west-1", None),
        ];
        let path = written(
            dir.path(),
            &[("222222222222", b.clone()), ("111111111111", a.clone())],
        );
        let evidence = Evidence::open(&path).expect("opened");
        let ids: Vec<&str> = evidence
            .run()
            .accounts
            .iter()
            .map(|a| a.account.id.as_str())
            .collect();
        assert_eq!(ids, ["111111111111", "222222222222"], "sorted by id");
        let read = |id| -> Vec<AccountRegionEvidence> {
            evidence
                .account_regions(id)
                .expect("read")
                .into_iter()
                .map(Cow::into_owned)
                .collect()
        };
        assert_eq!(read("111111111111"), a);
        assert_eq!(read("222222222222"), b);
        assert!(read("333333333333").is_empty());
        assert!(evidence.run().account_regions.is_empty(), "nothing held");
        assert!(evidence.run().end.is_some());

        // The same file, loaded whole, judges the same.
        let whole = RunEvidence::load(&path).expect("loaded");
        assert_eq!(
            crate::triage::Findings::new(&evidence, &crate::triage::TriageMarks::NONE)
                .collect()
                .expect("evaluated"),
            crate::triage::Findings::new(
                &Evidence::in_memory(whole),
                &crate::triage::TriageMarks::NONE
            )
            .collect()
            .expect("judged")
        );
    }

    #[test]
    fn holds_the_records_of_macie_administrators_in_memory() {
        let dir = tempfile::tempdir().expect("temp");
        let admin = vec![region("999999999999", "us-east-1", None)];
        let member = vec![region("111111111111", "us-east-1", Some("999999999999"))];
        let path = written(
            dir.path(),
            &[("999999999999", admin.clone()), ("111111111111", member)],
        );
        let evidence = Evidence::open(&path).expect("opened");
        assert_eq!(evidence.run().account_regions.len(), 1);
        assert_eq!(
            evidence.run().account_region("999999999999", "us-east-1"),
            Some(&admin[0])
        );
    }

    /// Remediation's planner holds the records of the accounts it acts on, and no others.
    #[test]
    fn holds_the_records_of_the_accounts_asked_for_and_no_others() {
        let dir = tempfile::tempdir().expect("temp");
        let wanted = vec![
            region("111111111111", "us-east-1", None),
            region("111111111111", "eu-west-1", None),
        ];
        let path = written(
            dir.path(),
            &[
                ("111111111111", wanted.clone()),
                (
                    "222222222222",
                    vec![region("222222222222", "us-east-1", None)],
                ),
            ],
        );
        let mut evidence = Evidence::open(&path).expect("opened");
        assert!(evidence.run().account_regions.is_empty());
        evidence
            .hold_account_regions(["111111111111", "111111111111"])
            .expect("held");
        let mut held: Vec<_> = evidence.run().account_regions.values().cloned().collect();
        held.sort_by(|a, b| b.region.cmp(&a.region));
        assert_eq!(held, wanted);
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().expect("temp");
        let path = written(
            dir.path(),
            &[(
                "111111111111",
                vec![region("111111111111", "us-east-1", None)],
            )],
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let refused = |text: String| {
            std::fs::write(&path, text).expect("write");
            Evidence::open(&path).expect_err("refused").to_string()
        };
        let lines: Vec<&str> = text.lines().collect();
        let duplicated = format!("{}\n{}\n", text.trim_end(), lines[2]);
        assert!(
            refused(duplicated).contains("line 5: a second record for the same account and Region")
        );
        let damaged = format!("{}\n{}\n", lines[..2].join("\n"), &lines[2][..40]);
        assert!(refused(damaged).contains("line 3: not an evidence record"));
        let second_account = format!("{}\n{}\n", text.trim_end(), lines[1]);
        assert!(refused(second_account).contains("a second record for account 111111111111"));

        // A last line cut short (a run killed while writing it) is left out; the rest stands.
        let cut = format!("{}\n{}", lines[..2].join("\n"), &lines[2][..40]);
        std::fs::write(&path, cut).expect("write");
        let evidence = Evidence::open(&path).expect("opened");
        assert_eq!(evidence.run().accounts.len(), 1);
        assert!(
            evidence
                .account_regions("111111111111")
                .expect("read")
                .is_empty()
        );
        assert!(evidence.run().end.is_none());
        let headless = lines[1..].join("\n");
        assert!(refused(headless).contains("line 1: the run record must come first"));
        assert!(refused(String::new()).contains("no run record"));
    }
}
