//! `SHA256SUMS`: a checksum manifest of every other file in a run directory, in the format
//! `sha256sum -c` verifies, so a run handed to auditors is tamper-evident.

use std::fs;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::write_atomically;
use crate::error::{Error, Result};

/// The file name of the manifest in a run directory.
pub const FILE_NAME: &str = "SHA256SUMS";

/// Writes `dir/SHA256SUMS` over every regular file of `dir` but itself and temporary files, and
/// over the HTML report's account pages (`accounts/…`), sorted by name.
pub fn write(dir: &Path) -> Result<()> {
    let mut names = file_names(dir, "")?;
    let pages = dir.join(super::html::ACCOUNTS_DIR);
    if pages.is_dir() {
        names.extend(file_names(&pages, super::html::ACCOUNTS_DIR)?);
    }
    names.sort();
    let mut lines = String::new();
    for name in &names {
        let path = dir.join(name);
        let digest = sha256_file(&path).map_err(|e| Error::output(&path, e))?;
        lines.push_str(&format!("{digest}  {name}\n"));
    }
    write_atomically(&dir.join(FILE_NAME), |out| out.write_all(lines.as_bytes()))
}

/// The regular files of `dir` but the manifest and temporary files, as `prefix/name` (or `name`
/// without a prefix).
fn file_names(dir: &Path, prefix: &str) -> Result<Vec<String>> {
    Ok(fs::read_dir(dir)
        .map_err(|e| Error::output(dir, e))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != FILE_NAME && !name.starts_with('.'))
        .map(|name| match prefix {
            "" => name,
            prefix => format!("{prefix}/{name}"),
        })
        .collect())
}

/// Lower-case hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
