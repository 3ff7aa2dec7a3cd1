//! Reports: one module per output format over one findings model, written atomically.

pub mod csv;
pub mod evidence;
pub mod summary;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

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
        return Err(Error::output(path, error));
    }
    Ok(())
}
