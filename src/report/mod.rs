//! Reports: one module per output format over one findings model, written atomically.

pub mod csv;
pub mod delivery;
pub mod evidence;
pub mod html;
pub mod metadata;
pub mod ocsf;
pub mod sarif;
pub mod summary;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::evidence::{Evidence, RunEvidence};
use crate::triage::Findings;
use crate::triage::TriageMarks;
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
        crate::run_dir::manifest::write_staged(staged, dir)
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

    /// Moves the staged files into the run directory: the reports, then each directory of pages
    /// (account pages, OU pages: the earlier ones replaced as a whole), then the manifest over
    /// them all.
    fn commit(mut self) -> Result<()> {
        let moved = (|| -> std::io::Result<()> {
            let manifest = Path::new(crate::run_dir::manifest::FILE_NAME);
            let is_pages = |name: &std::ffi::OsStr| {
                crate::run_dir::PAGE_DIRS
                    .iter()
                    .any(|pages| Path::new(pages).as_os_str() == name)
            };
            for entry in fs::read_dir(&self.path)? {
                let name = entry?.file_name();
                if !is_pages(&name) && name != manifest.as_os_str() {
                    fs::rename(self.path.join(&name), self.dir.join(&name))?;
                }
            }
            for pages in crate::run_dir::PAGE_DIRS {
                let staged_pages = self.path.join(pages);
                if staged_pages.is_dir() {
                    let pages_in_place = self.dir.join(pages);
                    if pages_in_place.exists() {
                        fs::rename(
                            &pages_in_place,
                            self.path.join(format!(".replaced-{pages}")),
                        )?;
                    }
                    fs::rename(&staged_pages, &pages_in_place)?;
                }
            }
            let staged_manifest = self.path.join(manifest);
            if staged_manifest.exists() {
                fs::rename(&staged_manifest, self.dir.join(manifest))?;
            }
            Ok(())
        })();
        moved.map_err(|e| Error::output(&self.dir, e))?;
        self.committed = true;
        // What is left is the earlier pages: their removal failing leaves a hidden
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

/// Records what happened after the reports were written (a delivery: Security Hub, the upload,
/// notifications): run.json takes the exit code it makes and, when a step failed, why; then the
/// manifest is written again over the new run.json, so that run.json always says what the
/// process exits with and `SHA256SUMS` still verifies.
pub fn record_after_reports(
    dir: &Path,
    metadata: &mut RunMetadata,
    exit_code: u8,
    reason: Option<String>,
) -> Result<()> {
    metadata.exit_code = exit_code;
    metadata.exit_reason = reason;
    metadata.write(dir)?;
    crate::run_dir::manifest::write(dir)
}
