//! Writing `evidence.jsonl` as the evidence arrives: the run record first, each account with its
//! account-Region records as soon as the account is collected, the repositories and the run's end
//! last. Nothing waits in memory for the end of the run, and a run that dies leaves every account
//! it finished on disk (a file without a `run_end` record is a run that did not finish).

use std::fs::File;
use std::io::{BufWriter, Write};
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

/// `evidence.jsonl`, written as the run goes. Collection calls it from many tasks; the first
/// write error is kept and returned by [`EvidenceWriter::finish`], and nothing is written after it.
#[derive(Debug)]
pub struct EvidenceWriter {
    path: PathBuf,
    state: Mutex<WriterState>,
}

#[derive(Debug)]
struct WriterState {
    out: BufWriter<File>,
    /// Accounts collected before the run record could be written (while the organization is
    /// still being listed), as lines; `None` once the run record is written.
    waiting: Option<Vec<u8>>,
    error: Option<std::io::Error>,
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
        Ok(EvidenceWriter {
            path: path.to_path_buf(),
            state: Mutex::new(WriterState {
                out: BufWriter::new(file),
                waiting: Some(Vec::new()),
                error: None,
            }),
        })
    }

    /// Writes the run record, then the accounts waiting for it.
    pub fn write_header(&self, header: &RunHeader) -> Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::output(&self.path, std::io::Error::other("writer poisoned")))?;
        let state = &mut *state;
        let Some(waiting) = state.waiting.take() else {
            return Err(Error::output(
                &self.path,
                std::io::Error::other("a second run record"),
            ));
        };
        let written = RecordRef::Run(header)
            .write_line(&mut state.out)
            .and_then(|()| state.out.write_all(&waiting))
            .and_then(|()| state.out.flush());
        if let Err(error) = written {
            state.error.get_or_insert(error);
        }
        match &state.error {
            Some(error) => Err(Error::output(
                &self.path,
                std::io::Error::new(error.kind(), error.to_string()),
            )),
            None => Ok(()),
        }
    }

    fn write(&self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let state = &mut *state;
        if state.error.is_some() {
            return;
        }
        let written = match &mut state.waiting {
            Some(waiting) => write(waiting),
            None => write(&mut state.out),
        };
        if let Err(error) = written {
            state.error = Some(error);
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
        let WriterState {
            mut out,
            waiting,
            error,
        } = self
            .state
            .into_inner()
            .map_err(|_| Error::output(&self.path, std::io::Error::other("writer poisoned")))?;
        if let Some(error) = error {
            return Err(Error::output(&self.path, error));
        }
        if waiting.is_some() {
            return Err(Error::output(
                &self.path,
                std::io::Error::other("finished without a run record"),
            ));
        }
        let finished = (|| {
            for bucket in buckets {
                RecordRef::Bucket(bucket).write_line(&mut out)?;
            }
            for key in keys {
                RecordRef::Key(key).write_line(&mut out)?;
            }
            if let Some(controls) = resource_controls {
                RecordRef::ResourceControlPolicies(controls).write_line(&mut out)?;
            }
            if let Some(end) = end {
                RecordRef::RunEnd(end).write_line(&mut out)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        })();
        finished.map_err(|e| Error::output(&self.path, e))?;
        Ok(self.path)
    }
}

impl AccountSink for EvidenceWriter {
    fn account(&self, account: &AccountEvidence, regions: &[AccountRegionEvidence]) {
        // Serialised whole first, then written and flushed at once: a run that dies keeps every
        // account it finished (once its run record is written) and never half of one.
        let mut lines = Vec::new();
        let serialised = RecordRef::Account(account)
            .write_line(&mut lines)
            .and_then(|()| {
                regions
                    .iter()
                    .try_for_each(|region| RecordRef::AccountRegion(region).write_line(&mut lines))
            });
        self.write(|out| {
            serialised?;
            out.write_all(&lines)?;
            out.flush()
        });
    }

    fn failed(&self) -> bool {
        self.state
            .lock()
            .map_or(true, |state| state.error.is_some())
    }
}
