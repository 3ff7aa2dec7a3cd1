//! `SHA256SUMS`: a checksum manifest of every other file in a run directory, in the format
//! `sha256sum -c` verifies, so a run handed to auditors is tamper-evident.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::write_atomically;
use crate::error::{Error, Result};

/// The file name of the manifest in a run directory.
pub const FILE_NAME: &str = "SHA256SUMS";

/// Writes `dir/SHA256SUMS` over every regular file of `dir` but itself and temporary files, and
/// over the HTML report's account and OU pages (`accounts/…`, `ous/…`), sorted by name.
pub fn write(dir: &Path) -> Result<()> {
    let mut lines = String::new();
    for name in &covered_files(dir)? {
        let path = dir.join(name);
        let digest = sha256_file(&path).map_err(|e| Error::output(&path, e))?;
        lines.push_str(&format!("{digest}  {name}\n"));
    }
    write_atomically(&dir.join(FILE_NAME), |out| out.write_all(lines.as_bytes()))
}

/// Writes `staging/SHA256SUMS` over the run directory `dir` as it will be once the files of
/// `staging` (one rendering's, see [`super::write_rendering`]) are moved into it: each staged
/// file, and each of `dir`'s that none replaces; the account pages are replaced as a whole when
/// the rendering has them.
pub fn write_staged(staging: &Path, dir: &Path) -> Result<()> {
    let pages_prefix = format!("{}/", super::ACCOUNTS_DIR);
    let pages_staged = staging.join(super::ACCOUNTS_DIR).is_dir();
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for name in covered_files(dir)? {
        if !(pages_staged && name.starts_with(&pages_prefix)) {
            files.insert(name.clone(), dir.join(&name));
        }
    }
    for name in covered_files(staging)? {
        files.insert(name.clone(), staging.join(&name));
    }
    let mut lines = String::new();
    for (name, path) in &files {
        let digest = sha256_file(path).map_err(|e| Error::output(path, e))?;
        lines.push_str(&format!("{digest}  {name}\n"));
    }
    write_atomically(&staging.join(FILE_NAME), |out| {
        out.write_all(lines.as_bytes())
    })
}

/// The files of `dir` a manifest covers, sorted by name: every regular file but the manifest
/// itself and temporary (dot) files, and the HTML report's pages (`accounts/…`, `ous/…`).
fn covered_files(dir: &Path) -> Result<Vec<String>> {
    let mut names = file_names(dir, "")?;
    for name in super::PAGE_DIRS {
        let pages = dir.join(name);
        if pages.is_dir() {
            names.extend(file_names(&pages, name)?);
        }
    }
    names.sort();
    Ok(names)
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

/// What a run directory holds against its manifest: every file listed, nothing else, each with
/// its bytes unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ManifestCheck {
    /// Files whose SHA-256 differs from the manifest's.
    pub modified: Vec<String>,
    /// Files the manifest lists that are not in the directory.
    pub missing: Vec<String>,
    /// Files in the directory that the manifest does not list.
    pub unlisted: Vec<String>,
    /// Lines of the manifest that are not `<sha256>  <file name>` (1-based).
    pub malformed_lines: Vec<usize>,
}

impl ManifestCheck {
    /// Whether the directory is exactly what the manifest describes.
    pub fn matches(&self) -> bool {
        self.modified.is_empty()
            && self.missing.is_empty()
            && self.unlisted.is_empty()
            && self.malformed_lines.is_empty()
    }

    /// Every difference in words, naming each file: "modified: evidence.jsonl; missing: …".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (label, names) in [
            ("modified", &self.modified),
            ("missing", &self.missing),
            ("not in the manifest", &self.unlisted),
        ] {
            if !names.is_empty() {
                parts.push(format!("{label}: {}", names.join(", ")));
            }
        }
        if !self.malformed_lines.is_empty() {
            let lines: Vec<String> = self.malformed_lines.iter().map(|n| n.to_string()).collect();
            parts.push(format!("malformed manifest lines: {}", lines.join(", ")));
        }
        if parts.is_empty() {
            "every file matches".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Checks `dir` against its `SHA256SUMS`, as `sha256sum -c` would and stricter: a file the
/// manifest does not list counts too. `None` when the directory has no manifest.
pub fn check(dir: &Path) -> Result<Option<ManifestCheck>> {
    let manifest_path = dir.join(FILE_NAME);
    let text = match fs::read(&manifest_path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::DamagedInput {
                path: manifest_path,
                message: format!("cannot read the manifest: {e}"),
            });
        }
    };
    let mut check = ManifestCheck::default();
    let mut listed = BTreeSet::new();
    for (index, line) in text.lines().enumerate() {
        let Some((digest, name)) = parse_line(line) else {
            check.malformed_lines.push(index + 1);
            continue;
        };
        if !listed.insert(name.to_owned()) {
            check.malformed_lines.push(index + 1);
            continue;
        }
        let path = dir.join(name);
        match sha256_file(&path) {
            Ok(actual) if actual == digest.to_ascii_lowercase() => {}
            Ok(_) => check.modified.push(name.to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                check.missing.push(name.to_owned());
            }
            // A listed name that is not a readable file (a directory, unreadable) does not hold
            // what the manifest says it holds.
            Err(_) => check.modified.push(name.to_owned()),
        }
    }
    check.unlisted = covered_files(dir)?
        .into_iter()
        .filter(|name| !listed.contains(name))
        .collect();
    Ok(Some(check))
}

/// `<64 hex digits>  <name>` (text mode) or `<64 hex digits> *<name>` (binary mode); the name
/// a plain file name of the directory or of its HTML pages (`accounts/<name>`, `ous/<name>`), so
/// that a hostile manifest cannot point outside it.
fn parse_line(line: &str) -> Option<(&str, &str)> {
    let (digest, rest) = line.split_at_checked(64)?;
    if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let name = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    let plain = |name: &str| {
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
    };
    let covered = match name.split_once('/') {
        Some((dir, page)) => super::PAGE_DIRS.contains(&dir) && plain(page),
        None => plain(name),
    };
    covered.then_some((digest, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp");
        fs::write(dir.path().join("evidence.jsonl"), "{}\n").expect("write");
        fs::write(dir.path().join("run.json"), "{}\n").expect("write");
        write(dir.path()).expect("manifest");
        dir
    }

    #[test]
    fn the_account_and_ou_pages_are_covered() {
        let dir = run_dir();
        for page in ["accounts/111111111111.html", "ous/ou-ab12-cd34ef56.html"] {
            let path = dir.path().join(page);
            fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
            fs::write(&path, "<!DOCTYPE html>").expect("write");
        }
        let unlisted = check(dir.path())
            .expect("checked")
            .expect("a manifest")
            .unlisted;
        assert_eq!(
            unlisted,
            ["accounts/111111111111.html", "ous/ou-ab12-cd34ef56.html"]
        );
        write(dir.path()).expect("manifest");
        let check = check(dir.path()).expect("checked").expect("a manifest");
        assert!(check.matches(), "{}", check.describe());
        let manifest = fs::read_to_string(dir.path().join(FILE_NAME)).expect("read");
        assert!(
            manifest.contains("  ous/ou-ab12-cd34ef56.html\n"),
            "{manifest}"
        );
        fs::write(dir.path().join("ous/ou-ab12-cd34ef56.html"), "changed").expect("edit");
        let check = super::check(dir.path())
            .expect("checked")
            .expect("a manifest");
        assert_eq!(check.modified, ["ous/ou-ab12-cd34ef56.html"]);
    }

    #[test]
    fn a_run_as_written_matches_its_manifest() {
        let dir = run_dir();
        let check = check(dir.path()).expect("checked").expect("a manifest");
        assert!(check.matches(), "{}", check.describe());
        assert_eq!(check.describe(), "every file matches");
    }

    #[test]
    fn every_difference_is_named() {
        let dir = run_dir();
        fs::write(dir.path().join("evidence.jsonl"), "{ }\n").expect("edit");
        fs::remove_file(dir.path().join("run.json")).expect("remove");
        fs::write(dir.path().join("notes.txt"), "added").expect("add");
        let check = check(dir.path()).expect("checked").expect("a manifest");
        assert!(!check.matches());
        assert_eq!(check.modified, ["evidence.jsonl"]);
        assert_eq!(check.missing, ["run.json"]);
        assert_eq!(check.unlisted, ["notes.txt"]);
        assert_eq!(
            check.describe(),
            "modified: evidence.jsonl; missing: run.json; not in the manifest: notes.txt"
        );
    }

    #[test]
    fn a_hostile_manifest_names_nothing_outside_the_directory() {
        let dir = run_dir();
        let digest = "0".repeat(64);
        fs::write(
            dir.path().join(FILE_NAME),
            format!(
                "{digest}  ../../etc/passwd\n{digest}  /etc/passwd\ngarbage\n{digest}  \n\u{e9}{}\n",
                "x".repeat(70)
            ),
        )
        .expect("write");
        let check = check(dir.path()).expect("checked").expect("a manifest");
        assert_eq!(check.malformed_lines, [1, 2, 3, 4, 5]);
        assert_eq!(check.unlisted, ["evidence.jsonl", "run.json"]);
        assert!(check.modified.is_empty() && check.missing.is_empty());
    }

    #[test]
    fn a_directory_without_a_manifest_is_not_checked() {
        let dir = tempfile::tempdir().expect("temp");
        assert_eq!(check(dir.path()).expect("checked"), None);
    }
}
