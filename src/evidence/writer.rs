//! Writing `evidence.jsonl` as the evidence arrives: the run record first, each account with its
//! account-Region records as soon as the account is collected, the repositories and the run's end
//! last. Nothing waits in memory for the end of the run, and a run that dies leaves every account
//! it finished on disk (a file without a `run_end` record is a run that did not finish).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::{
    AccountEvidence, AccountRegionEvidence, BucketEvidence, KeyEvidence, ResourceControlEvidence,
    RunEnd, RunHeader,
};
use crate::error::{Error, Result};

/// [`super::EvidenceRecord`] by reference: the same lines, without copying the evidence to
/// write it.
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub(crate) enum RecordRef<'a> {
    Run(&'a RunHeader),
    Account(&'a AccountEvidence),
    AccountRegion(&'a AccountRegionEvidence),
    Bucket(&'a BucketEvidence),
    Key(&'a KeyEvidence),
    ResourceControlPolicies(&'a ResourceControlEvidence),
    RunEnd(&'a RunEnd),
}

impl RecordRef<'_> {
    /// Writes the record as one line.
    pub(crate) fn write_line(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

/// Receives each account's evidence as collection finishes it.
pub trait AccountSink: Sync {
    /// One account and what each of its Regions said.
    fn account(&self, account: &AccountEvidence, regions: &[AccountRegionEvidence]);

    /// Whether the sink can take no more (its file failed): collection starts no other account.
    fn failed(&self) -> bool {
        false
    }
}

/// Where the evidence's lines go: `evidence.jsonl` itself, or a stand-in for tests that fails as
/// a full or read-only file system does.
pub(crate) trait RecordFile: Send + std::fmt::Debug {
    /// Appends `bytes` at the end of what is written.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Cuts the file back to its first `len` bytes, the end of its last complete record.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Makes what is written durable.
    fn sync(&mut self) -> std::io::Result<()>;
}

impl RecordFile for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len)).map(drop)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_all()
    }
}

/// `evidence.jsonl`, written as the run goes. Collection calls it from many tasks. Each group of
/// records (the run record with the accounts waiting for it, an account with its Regions, the
/// repositories and the end) is serialised whole, then appended at once; if appending fails (a
/// full disk, a file system remounted read-only), the file is cut back to the end of the last
/// complete group, so that it never holds half of one. That first error is kept and returned by
/// [`EvidenceWriter::finish`], nothing is written after it, and [`AccountSink::failed`] tells
/// collection to start no other account.
#[derive(Debug)]
pub struct EvidenceWriter {
    path: PathBuf,
    state: Mutex<WriterState>,
}

#[derive(Debug)]
struct WriterState {
    out: Box<dyn RecordFile>,
    /// The length of the file up to the end of its last complete group of records.
    written: u64,
    /// Accounts collected before the run record could be written (while the organization is
    /// still being listed), as lines; `None` once the run record is written.
    waiting: Option<Vec<u8>>,
    error: Option<std::io::Error>,
}

impl WriterState {
    /// Appends one whole group of records, or keeps the error (and the file as it was before).
    fn append(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.out.append(bytes) {
            Ok(()) => self.written += bytes.len() as u64,
            Err(error) => {
                // Best effort: a file system that refused the write may refuse this too; the
                // reader then sees the last line cut short, as after a crash.
                let _ = self.out.truncate(self.written);
                self.error = Some(error);
            }
        }
    }

    /// The first error, as this writer's output error.
    fn failure(&self, path: &Path) -> Option<Error> {
        self.error
            .as_ref()
            .map(|error| Error::output(path, std::io::Error::new(error.kind(), error.to_string())))
    }
}

impl EvidenceWriter {
    /// Creates the file (it must not exist: a run directory is new) and writes the run record.
    pub fn create(path: &Path, header: &RunHeader) -> Result<EvidenceWriter> {
        let writer = EvidenceWriter::create_before_header(path)?;
        writer.write_header(header)?;
        Ok(writer)
    }

    /// Creates the file before the run record is known: accounts collected until
    /// [`EvidenceWriter::write_header`] wait in memory, then follow the run record.
    pub fn create_before_header(path: &Path) -> Result<EvidenceWriter> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::output(path, e))?;
        Ok(EvidenceWriter::over(path, Box::new(file)))
    }

    /// A writer of the evidence file at `path` through `out` (the seam a test uses to make the
    /// file system fail).
    pub(crate) fn over(path: &Path, out: Box<dyn RecordFile>) -> EvidenceWriter {
        EvidenceWriter {
            path: path.to_path_buf(),
            state: Mutex::new(WriterState {
                out,
                written: 0,
                waiting: Some(Vec::new()),
                error: None,
            }),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, WriterState>> {
        self.state
            .lock()
            .map_err(|_| Error::output(&self.path, std::io::Error::other("writer poisoned")))
    }

    /// Writes the run record, then the accounts waiting for it.
    pub fn write_header(&self, header: &RunHeader) -> Result<()> {
        let mut state = self.lock()?;
        let Some(waiting) = state.waiting.take() else {
            return Err(Error::output(
                &self.path,
                std::io::Error::other("a second run record"),
            ));
        };
        let mut lines = Vec::new();
        match RecordRef::Run(header).write_line(&mut lines) {
            Ok(()) => {
                lines.extend_from_slice(&waiting);
                state.append(&lines);
            }
            Err(error) => {
                state.error.get_or_insert(error);
            }
        }
        match state.failure(&self.path) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Writes the repositories, the RCPs over their owners (when read) and the run's end (none
    /// for a run that did not finish), and makes the file durable.
    pub fn finish(
        self,
        buckets: &[BucketEvidence],
        keys: &[KeyEvidence],
        resource_controls: Option<&ResourceControlEvidence>,
        end: Option<&RunEnd>,
    ) -> Result<PathBuf> {
        let mut state = self
            .state
            .into_inner()
            .map_err(|_| Error::output(&self.path, std::io::Error::other("writer poisoned")))?;
        if let Some(error) = state.error.take() {
            return Err(Error::output(&self.path, error));
        }
        if state.waiting.is_some() {
            return Err(Error::output(
                &self.path,
                std::io::Error::other("finished without a run record"),
            ));
        }
        let mut lines = Vec::new();
        let serialised = (|| {
            for bucket in buckets {
                RecordRef::Bucket(bucket).write_line(&mut lines)?;
            }
            for key in keys {
                RecordRef::Key(key).write_line(&mut lines)?;
            }
            if let Some(controls) = resource_controls {
                RecordRef::ResourceControlPolicies(controls).write_line(&mut lines)?;
            }
            if let Some(end) = end {
                RecordRef::RunEnd(end).write_line(&mut lines)?;
            }
            Ok::<(), std::io::Error>(())
        })();
        serialised.map_err(|e| Error::output(&self.path, e))?;
        state.append(&lines);
        if let Some(error) = state.error.take() {
            return Err(Error::output(&self.path, error));
        }
        state.out.sync().map_err(|e| Error::output(&self.path, e))?;
        Ok(self.path)
    }
}

impl AccountSink for EvidenceWriter {
    fn account(&self, account: &AccountEvidence, regions: &[AccountRegionEvidence]) {
        // Serialised whole first, then appended at once: a run that dies keeps every account it
        // finished (once its run record is written) and never half of one.
        let mut lines = Vec::new();
        let serialised = RecordRef::Account(account)
            .write_line(&mut lines)
            .and_then(|()| {
                regions
                    .iter()
                    .try_for_each(|region| RecordRef::AccountRegion(region).write_line(&mut lines))
            });
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Err(error) = serialised {
            state.error.get_or_insert(error);
            return;
        }
        if state.error.is_some() {
            return;
        }
        match &mut state.waiting {
            Some(waiting) => waiting.extend_from_slice(&lines),
            None => state.append(&lines),
        }
    }

    fn failed(&self) -> bool {
        self.state
            .lock()
            .map_or(true, |state| state.error.is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::evidence::{Account, Evidence};
    use crate::rules::testing::{at, evidence, run_of, session};

    /// A file on a file system with `room` bytes left: a write that does not fit writes what
    /// fits, then fails with ENOSPC, as a full disk does.
    #[derive(Debug, Clone)]
    struct FullDisk {
        bytes: Arc<Mutex<Vec<u8>>>,
        room: usize,
        appends: Arc<Mutex<usize>>,
    }

    impl FullDisk {
        fn with_room(room: usize) -> FullDisk {
            FullDisk {
                bytes: Arc::default(),
                room,
                appends: Arc::default(),
            }
        }

        fn bytes(&self) -> Vec<u8> {
            self.bytes.lock().expect("bytes").clone()
        }

        fn appends(&self) -> usize {
            *self.appends.lock().expect("appends")
        }
    }

    impl RecordFile for FullDisk {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            *self.appends.lock().expect("appends") += 1;
            let mut held = self.bytes.lock().expect("bytes");
            let fits = self.room.saturating_sub(held.len()).min(bytes.len());
            held.extend_from_slice(&bytes[..fits]);
            if fits < bytes.len() {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            Ok(())
        }

        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            let len = usize::try_from(len).map_err(std::io::Error::other)?;
            self.bytes.lock().expect("bytes").truncate(len);
            Ok(())
        }

        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn header() -> RunHeader {
        run_of(&evidence(session("ENABLED", at(2026, 1, 1)), None)).header
    }

    fn account(id: &str) -> AccountEvidence {
        AccountEvidence {
            account: Account {
                id: id.into(),
                name: format!("account {id}"),
                email: None,
                status: "ACTIVE".into(),
                ou_path: None,
            },
            access: None,
            buckets: None,
        }
    }

    fn lines_of(record: RecordRef<'_>) -> usize {
        let mut lines = Vec::new();
        record.write_line(&mut lines).expect("serialised");
        lines.len()
    }

    fn end() -> RunEnd {
        RunEnd {
            ended_at: at(2026, 1, 2),
            interrupted: false,
        }
    }

    #[test]
    fn a_full_disk_keeps_every_complete_account_stops_the_run_and_keeps_the_first_error() {
        let header = header();
        let first = account("111111111111");
        // Room for the run record, the first account and half of the second.
        let room = lines_of(RecordRef::Run(&header))
            + lines_of(RecordRef::Account(&first))
            + lines_of(RecordRef::Account(&account("222222222222"))) / 2;
        let disk = FullDisk::with_room(room);
        let path = Path::new("/runs/r/evidence.jsonl");
        let writer = EvidenceWriter::over(path, Box::new(disk.clone()));
        writer.write_header(&header).expect("the run record fits");
        writer.account(&first, &[]);
        assert!(!writer.failed());
        writer.account(&account("222222222222"), &[]);
        assert!(writer.failed(), "collection is told to start no account");
        let appends = disk.appends();
        writer.account(&account("333333333333"), &[]);
        assert_eq!(
            disk.appends(),
            appends,
            "nothing is written after the error"
        );

        // The file ends with the last complete account: it reads back as a run that stopped.
        let bytes = disk.bytes();
        assert!(bytes.ends_with(b"\n"));
        let dir = tempfile::tempdir().expect("temp");
        let kept = dir.path().join("evidence.jsonl");
        std::fs::write(&kept, &bytes).expect("write");
        let read = Evidence::open(&kept).expect("the evidence kept reads back");
        let ids: Vec<&str> = read
            .run()
            .accounts
            .iter()
            .map(|a| a.account.id.as_str())
            .collect();
        assert_eq!(ids, ["111111111111"]);
        assert!(read.run().end.is_none(), "a run that did not finish");

        let error = writer
            .finish(&[], &[], None, Some(&end()))
            .expect_err("the first error is the run's");
        assert!(
            matches!(&error, Error::Output { path: p, source }
            if p == path && source.raw_os_error() == Some(28)),
            "{error:?}"
        );
        assert_eq!(error.exit_code(), crate::error::EXIT_INCOMPLETE);
        assert_eq!(disk.bytes(), bytes, "finish wrote nothing after the error");
    }

    #[test]
    fn a_full_disk_for_the_run_record_fails_it_and_the_accounts_waiting_for_it() {
        let disk = FullDisk::with_room(20);
        let writer = EvidenceWriter::over(Path::new("evidence.jsonl"), Box::new(disk.clone()));
        writer.account(&account("111111111111"), &[]);
        assert!(!writer.failed(), "waiting in memory");
        let error = writer.write_header(&header()).expect_err("no room");
        assert!(error.to_string().contains("evidence.jsonl"), "{error}");
        assert!(writer.failed());
        assert!(disk.bytes().is_empty(), "cut back to nothing");
        assert!(writer.finish(&[], &[], None, None).is_err());
    }

    #[test]
    fn a_full_disk_at_the_end_keeps_every_account_and_no_half_record() {
        let header = header();
        let room = lines_of(RecordRef::Run(&header))
            + lines_of(RecordRef::Account(&account("111111111111")))
            + 10;
        let disk = FullDisk::with_room(room);
        let writer = EvidenceWriter::over(Path::new("evidence.jsonl"), Box::new(disk.clone()));
        writer.write_header(&header).expect("fits");
        writer.account(&account("111111111111"), &[]);
        assert!(!writer.failed());
        let kept = disk.bytes();
        let error = writer
            .finish(&[], &[], None, Some(&end()))
            .expect_err("the end does not fit");
        assert!(error.to_string().contains("os error 28"), "{error}");
        assert_eq!(disk.bytes(), kept, "the end record is not half written");
    }
}
