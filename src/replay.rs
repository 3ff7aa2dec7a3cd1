//! The `report` command: re-evaluate and re-render a past run from its evidence alone.

use std::path::{Path, PathBuf};

use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::evidence::Evidence;
use crate::report::{self, EvidenceFile};
use crate::triage::TriageInputs;

/// What a re-render produced.
#[derive(Debug)]
pub struct ReportOutcome {
    /// Where the reports were written.
    pub output_dir: PathBuf,
    /// The console summary.
    pub summary: String,
    /// The exit code the findings mean.
    pub exit_code: u8,
}

/// Loads the evidence, evaluates it and writes every report.
pub fn report(args: &ReportArgs) -> Result<ReportOutcome> {
    let evidence_path = evidence_path(&args.source)?;
    let evidence = Evidence::open(&evidence_path)?;
    let run = evidence.run();
    let source_dir = evidence_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // `--baseline latest` means the newest full run beside the source run.
    let reports_dir = source_dir
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (output_dir, evidence_file) = match &args.output_dir {
        Some(dir) if !same_directory(dir, &source_dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
            (dir.clone(), EvidenceFile::Write)
        }
        _ => (source_dir, EvidenceFile::Keep),
    };
    let triage_inputs = TriageInputs::load(&args.triage, &reports_dir)?;
    let marks = triage_inputs.marks(run.header.started_at.date_naive());
    let written = report::write_all(&output_dir, &evidence, &marks, evidence_file)?;
    report::summary::log_unchecked(run, &written.tally);
    let exit_code = written.metadata.exit_code;
    Ok(ReportOutcome {
        summary: report::summary::render(
            run,
            &written.tally,
            &written.metadata,
            &output_dir,
            &[],
            exit_code,
        ),
        exit_code,
        output_dir,
    })
}

/// The evidence file of a run directory, or the file itself.
fn evidence_path(source: &Path) -> Result<PathBuf> {
    let path = if source.is_dir() {
        source.join(report::evidence::FILE_NAME)
    } else {
        source.to_path_buf()
    };
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "{}: no evidence here (expected a run directory or its {})",
            source.display(),
            report::evidence::FILE_NAME
        )));
    }
    Ok(path)
}

fn same_directory(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
