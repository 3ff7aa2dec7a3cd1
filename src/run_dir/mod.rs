//! The run directory: creating it, the `latest` pointer to the newest full run, atomic writes,
//! and the checksum manifest over its files. The commands, triage (which reads baselines) and the
//! reports (which write into it) share it; it knows no report format.

pub mod manifest;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::evidence::RunEvidence;

/// The run's evidence, one JSON record per line.
pub const EVIDENCE_FILE: &str = "evidence.jsonl";

/// The directory of the HTML report's account pages in a run directory.
pub const ACCOUNTS_DIR: &str = "accounts";

/// The directory of the HTML report's OU pages in a run directory.
pub const OUS_DIR: &str = "ous";

/// The directories of the report's pages besides the summary: the account pages and the OU
/// pages. The manifest, uploads and copies of a run cover exactly these.
pub const PAGE_DIRS: [&str; 2] = [ACCOUNTS_DIR, OUS_DIR];

/// The name of the pointer to the newest full run in an output directory (see
/// [`update_latest_if_full`]).
pub const LATEST: &str = "latest";

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

/// Creates a new run directory below `output_dir`, named by the run id (sortable UTC time, then
/// `label` when given). Returns the run id and the directory; a second run in the same second
/// gets a suffix.
pub fn create_run_directory(
    output_dir: &Path,
    started_at: DateTime<Utc>,
    label: Option<&str>,
) -> Result<(String, PathBuf)> {
    fs::create_dir_all(output_dir).map_err(|e| Error::output(output_dir, e))?;
    let time = started_at.format("%Y%m%dT%H%M%SZ");
    let base = match label {
        Some(label) => format!("{time}-{label}"),
        None => time.to_string(),
    };
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
