//! The `report` command: re-evaluate and re-render a past run from its evidence alone, after
//! checking that the evidence is what was delivered (its `SHA256SUMS`).

use std::path::{Path, PathBuf};

use chrono::Utc;
use tracing::warn;

use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::evidence::Evidence;
use crate::report::manifest;
use crate::report::metadata::{self, EvidenceIntegrity, Renderer, Rendering};
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

/// Checks the run against its manifest, then loads the evidence, evaluates it and writes every
/// report. Evidence that does not match its manifest is refused before anything is read or
/// written, unless `--accept-modified-evidence` renders it into another directory.
pub fn report(args: &ReportArgs, command_line: &[String]) -> Result<ReportOutcome> {
    let evidence_path = evidence_path(&args.source)?;
    let source_dir = evidence_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let elsewhere = args
        .output_dir
        .as_ref()
        .filter(|dir| !same_directory(dir, &source_dir));
    let integrity = check_evidence(&source_dir, args.accept_modified_evidence, elsewhere)?;
    let mut renderings = earlier_renderings(&source_dir, &integrity);
    renderings.push(Rendering {
        command_line: command_line.to_vec(),
        rendered_at: Utc::now(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        evidence_verified: integrity == EvidenceIntegrity::Verified,
        evidence_integrity: integrity,
    });

    let evidence = Evidence::open(&evidence_path)?;
    let run = evidence.run();
    // `--baseline latest` means the newest full run beside the source run.
    let reports_dir = source_dir
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let triage_inputs = TriageInputs::load(&args.triage, &reports_dir)?;
    let (output_dir, evidence_file) = match elsewhere {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
            (dir.clone(), EvidenceFile::Write)
        }
        None => (source_dir, EvidenceFile::Keep),
    };
    let marks = triage_inputs.marks(run.header.started_at.date_naive());
    let written = report::write_rendering(
        &output_dir,
        &evidence,
        &marks,
        evidence_file,
        &Renderer::Report(renderings),
    )?;
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

/// What the run directory's manifest says of its files. A mismatch is refused (nothing is
/// written), unless accepted explicitly and rendered elsewhere, so that the delivered directory
/// and its manifest stay as they were.
fn check_evidence(
    source_dir: &Path,
    accept_modified: bool,
    elsewhere: Option<&PathBuf>,
) -> Result<EvidenceIntegrity> {
    let Some(check) = manifest::check(source_dir)? else {
        warn!(
            dir = %source_dir.display(),
            "the run has no SHA256SUMS: its evidence cannot be verified"
        );
        return Ok(EvidenceIntegrity::NoManifest);
    };
    if check.matches() {
        return Ok(EvidenceIntegrity::Verified);
    }
    if !accept_modified {
        return Err(Error::DamagedInput {
            path: source_dir.to_path_buf(),
            message: format!(
                "the run does not match its {} ({}); nothing was re-rendered. To render it \
                 anyway, marked as modified evidence, add --accept-modified-evidence and \
                 another --output-dir",
                manifest::FILE_NAME,
                check.describe()
            ),
        });
    }
    if elsewhere.is_none() {
        return Err(Error::Usage(format!(
            "--accept-modified-evidence renders only into another --output-dir: {} and its {} \
             are left as delivered",
            source_dir.display(),
            manifest::FILE_NAME
        )));
    }
    warn!(
        dir = %source_dir.display(),
        differences = %check.describe(),
        "rendering evidence that does not match its manifest (--accept-modified-evidence)"
    );
    Ok(EvidenceIntegrity::Modified(check))
}

/// The renderings recorded by the run's own run.json, when that file can be trusted as far as
/// the evidence can: it matched the manifest, or there is no manifest to check it against.
fn earlier_renderings(source_dir: &Path, integrity: &EvidenceIntegrity) -> Vec<Rendering> {
    let run_json_intact = match integrity {
        EvidenceIntegrity::Modified(check) => ![&check.modified, &check.missing, &check.unlisted]
            .iter()
            .any(|names| names.iter().any(|name| name == metadata::FILE_NAME)),
        _ => true,
    };
    if !run_json_intact {
        warn!("run.json does not match the manifest: its earlier renderings are not carried over");
        return Vec::new();
    }
    match metadata::read_renderings(&source_dir.join(metadata::FILE_NAME)) {
        Ok(renderings) => renderings,
        Err(reason) => {
            warn!(%reason, "the earlier renderings of the run are not carried over");
            Vec::new()
        }
    }
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
