//! Reports: one module per output format over one findings model, written atomically.

pub mod csv;
pub mod evidence;
pub mod findings;
pub mod html;
pub mod manifest;
pub mod metadata;
pub mod ocsf;
pub mod sarif;
pub mod summary;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::evidence::{Evidence, RunEvidence};
use crate::triage::TriageMarks;
use findings::Findings;
use metadata::{Renderer, RunMetadata};
use summary::Tally;

/// Everything a report renders: the run's evidence, its findings, and its metadata.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The run (header, accounts, repositories; see [`Evidence::run`]).
    pub run: &'a RunEvidence,
    /// The findings, one per rule, account in scope and Region, read account by account.
    pub findings: &'a Findings<'a>,
    /// Their counts.
    pub tally: &'a Tally,
    /// The run's metadata (`run.json`), triage included.
    pub metadata: &'a RunMetadata,
}

impl<'a> ReportInput<'a> {
    /// Counts the findings and describes the run: the first of the passes over the findings,
    /// which gives what the reports say of the run as a whole before any report is written.
    pub fn prepare(
        findings: &Findings<'_>,
        marks: &TriageMarks<'_>,
        renderer: &Renderer,
    ) -> Result<(Tally, RunMetadata)> {
        let mut triage = marks.tally();
        let tally = Tally::of(findings, &mut triage, marks.gate())?;
        let run = findings.evidence().run();
        let metadata = RunMetadata::new(run, &tally, &triage.finish(run), renderer);
        Ok((tally, metadata))
    }
}

/// What writing a run's reports produced.
#[derive(Debug)]
pub struct Written {
    /// The run's metadata, as `run.json` has it.
    pub metadata: RunMetadata,
    /// The counts of its findings.
    pub tally: Tally,
}

/// The name of the pointer to the newest full run in an output directory (see
/// [`update_latest_if_full`]).
pub const LATEST: &str = "latest";

/// Whether `write_all` writes `evidence.jsonl` too (a run assembled in memory, or a re-render
/// elsewhere) or keeps the one already in the directory (a scan, which wrote it as it collected,
/// or a re-render in place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceFile {
    /// Write it.
    Write,
    /// Keep the existing file untouched.
    Keep,
}

/// Writes every report of a run the command collected into `dir`, then the checksum manifest
/// over them (see [`write_rendering`]).
pub fn write_all(
    dir: &Path,
    evidence: &Evidence,
    marks: &TriageMarks<'_>,
    evidence_file: EvidenceFile,
) -> Result<Written> {
    write_rendering(dir, evidence, marks, evidence_file, &Renderer::Collector)
}

/// Writes every report of a run into `dir`, then the checksum manifest over them. The findings
/// are judged from `evidence` and marked by `marks` as each report reads them (never held whole);
/// renderers run in parallel; the first error is returned after all have finished. `renderer`
/// says which command renders, with the provenance it keeps.
pub fn write_rendering(
    dir: &Path,
    evidence: &Evidence,
    marks: &TriageMarks<'_>,
    evidence_file: EvidenceFile,
    renderer: &Renderer,
) -> Result<Written> {
    let run = evidence.run();
    let findings = Findings::new(evidence, marks);
    let (tally, metadata) = ReportInput::prepare(&findings, marks, renderer)?;
    let input = ReportInput {
        run,
        findings: &findings,
        tally: &tally,
        metadata: &metadata,
    };
    let staging = Staging::create(dir)?;
    let staged = staging.path();
    let writers: [&(dyn Fn() -> Result<()> + Sync); 5] = [
        &|| match evidence_file {
            EvidenceFile::Write => evidence::write(staged, evidence),
            EvidenceFile::Keep => Ok(()),
        },
        &|| csv::write(staged, &input),
        &|| sarif::write(staged, &input),
        &|| ocsf::write(staged, &input),
        &|| metadata.write(staged),
    ];
    let written = (|| {
        let results: Vec<Result<()>> = {
            use rayon::prelude::*;
            writers.par_iter().map(|write| write()).collect()
        };
        results.into_iter().collect::<Result<Vec<()>>>()?;
        // The HTML report builds the largest structures of all; alone, it does not add its peak
        // memory to the others'.
        html::write(staged, &input)?;
        manifest::write_staged(staged, dir)
    })();
    written.map_err(|error| staging.in_place(error))?;
    staging.commit()?;
    Ok(Written { metadata, tally })
}

/// One rendering's files, written in a hidden directory inside the run directory and moved into
/// place together once every one of them is complete, the manifest last. A rendering that fails
/// (a full disk, a file system remounted read-only) leaves the run directory as it was, its
/// earlier reports and their manifest included, and takes its own files away, freeing the space
/// they held; renames need no room.
struct Staging {
    dir: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Staging {
    fn create(dir: &Path) -> Result<Staging> {
        let path = dir.join(format!(".rendering-{}", std::process::id()));
        // Left by a rendering of this process id that was killed: never part of the run.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).map_err(|e| Error::output(&path, e))?;
        Ok(Staging {
            dir: dir.to_path_buf(),
            path,
            committed: false,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// An error about a staged file, naming the file the run directory would have had instead.
    fn in_place(&self, error: Error) -> Error {
        match error {
            Error::Output { path, source } => match path.strip_prefix(&self.path) {
                Ok(name) => Error::output(self.dir.join(name), source),
                Err(_) => Error::output(path, source),
            },
            other => other,
        }
    }

    /// Moves the staged files into the run directory: the reports, then the account pages (the
    /// earlier ones replaced as a whole), then the manifest over them all.
    fn commit(mut self) -> Result<()> {
        let moved = (|| -> std::io::Result<()> {
            let pages = Path::new(html::ACCOUNTS_DIR);
            let manifest = Path::new(manifest::FILE_NAME);
            for entry in fs::read_dir(&self.path)? {
                let name = entry?.file_name();
                if name != pages.as_os_str() && name != manifest.as_os_str() {
                    fs::rename(self.path.join(&name), self.dir.join(&name))?;
                }
            }
            let staged_pages = self.path.join(pages);
            if staged_pages.is_dir() {
                let pages = self.dir.join(pages);
                if pages.exists() {
                    fs::rename(&pages, self.path.join(".replaced-accounts"))?;
                }
                fs::rename(&staged_pages, &pages)?;
            }
            let staged_manifest = self.path.join(manifest);
            if staged_manifest.exists() {
                fs::rename(&staged_manifest, self.dir.join(manifest))?;
            }
            Ok(())
        })();
        moved.map_err(|e| Error::output(&self.dir, e))?;
        self.committed = true;
        // What is left is the earlier account pages: their removal failing leaves a hidden
        // directory no manifest covers, never a wrong report.
        let _ = fs::remove_dir_all(&self.path);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Records a step that failed after the reports were written (an upload): run.json takes the
/// exit code it raises and why, then the manifest is written again over the new run.json, so that
/// run.json always says what the process exits with and `SHA256SUMS` still verifies.
pub fn record_failure_after_reports(
    dir: &Path,
    metadata: &mut RunMetadata,
    exit_code: u8,
    reason: String,
) -> Result<()> {
    metadata.exit_code = exit_code;
    metadata.exit_reason = Some(reason);
    metadata.write(dir)?;
    manifest::write(dir)
}

/// Points `output_dir/latest` at `run` when it finished over the full configured scope: complete
/// or not (in a real organization some account is always unreachable, and a nightly baseline must
/// still move on), but neither interrupted nor partial (see [`RunHeader::is_partial`]).
///
/// [`RunHeader::is_partial`]: crate::evidence::RunHeader::is_partial
pub fn update_latest_if_full(output_dir: &Path, run: &RunEvidence) -> Result<()> {
    let finished = run.end.as_ref().is_some_and(|end| !end.interrupted);
    if finished && !run.header.is_partial() {
        update_latest(output_dir, &run.header.run_id)?;
    }
    Ok(())
}

/// Points `output_dir/latest` at `run_id` (a relative symbolic link, replaced atomically).
fn update_latest(output_dir: &Path, run_id: &str) -> Result<()> {
    let link = output_dir.join(LATEST);
    let temporary = output_dir.join(format!(".{LATEST}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&temporary);
    #[cfg(unix)]
    std::os::unix::fs::symlink(run_id, &temporary).map_err(|e| Error::output(&temporary, e))?;
    #[cfg(not(unix))]
    fs::write(&temporary, run_id).map_err(|e| Error::output(&temporary, e))?;
    fs::rename(&temporary, &link).map_err(|e| Error::output(&link, e))
}

/// The run directory `output_dir/latest` points at, if any.
pub fn latest(output_dir: &Path) -> Option<PathBuf> {
    let link = output_dir.join(LATEST);
    let target = fs::read_link(&link).ok().or_else(|| {
        fs::read_to_string(&link)
            .ok()
            .map(|s| PathBuf::from(s.trim()))
    })?;
    Some(output_dir.join(target)).filter(|dir| dir.is_dir())
}

/// Creates a new run directory below `output_dir`, named by the run id (sortable UTC time).
/// Returns the run id and the directory; a second run in the same second gets a suffix.
pub fn create_run_directory(
    output_dir: &Path,
    started_at: DateTime<Utc>,
) -> Result<(String, PathBuf)> {
    fs::create_dir_all(output_dir).map_err(|e| Error::output(output_dir, e))?;
    let base = started_at.format("%Y%m%dT%H%M%SZ").to_string();
    for attempt in 0..1000 {
        let run_id = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{attempt:03}")
        };
        let dir = output_dir.join(&run_id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((run_id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::output(dir, e)),
        }
    }
    Err(Error::output(
        output_dir,
        std::io::Error::other("too many runs started in the same second"),
    ))
}

/// Writes a file through a temporary file in the same directory and a rename, so that a crash
/// never leaves a half-written file under its final name.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = fs::File::create(&temporary)?;
        let mut writer = std::io::BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temporary);
        return Err(written_error(path, error));
    }
    Ok(())
}

/// The error of a failed atomic write: the error that stopped the content from being produced
/// (its evidence could not be read), carried inside the I/O error, or the failure to write.
fn written_error(path: &Path, error: std::io::Error) -> Error {
    if !error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::output(path, error);
    }
    match error.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(cause)) => *cause,
        // Not reached: the inner error was checked to be one of ours.
        _ => Error::output(
            path,
            std::io::Error::other("the content could not be produced"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_previous_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("report.txt");
        write_atomically(&path, |out| out.write_all(b"complete report")).expect("first write");
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half a rep")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read_to_string(&path).expect("read"), "complete report");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
