//! A file system that stops taking writes mid-run loses nothing: the command says which file
//! and the OS error, exits 2, leaves every earlier run (and `latest`) as it was, keeps the
//! evidence written so far with every account in it complete, and leaves no report half written
//! nor a rendering half applied.
//!
//! The scanner runs with a limit on the size of the files it writes (RLIMIT_FSIZE): a write past
//! it fails with EFBIG, "File too large", as one on a full disk fails with ENOSPC, through the
//! same code, for any user. The library's own tests fail the evidence file with ENOSPC itself
//! (`src/evidence/writer.rs`).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Emulator, ScanRun, TEST_CONFIG, limit_file_size};

const MEMBERS: usize = 10;
const REPOSITORY_OWNER: &str = "111111111111";

/// A central repository and members exporting to it, Macie on everywhere.
fn scenario() -> String {
    let mut scenario = String::from(
        r#"
[[accounts]]
id = "111111111111"
name = "security"
[[accounts.keys]]
alias = "org"
region = "us-east-1"
[[accounts.buckets]]
name = "disk-central"
region = "us-east-1"
block_public_access = true
"#,
    );
    for index in 0..MEMBERS {
        scenario.push_str(&format!(
            r#"
[[accounts]]
id = "2000000000{index:02}"
name = "member {index}"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 90
export = {{ bucket = "disk-central", key_prefix = "macie/", kms_key_arn = "key:111111111111:us-east-1:org" }}
"#
        ));
    }
    scenario
}

/// One account at a time, so that a run stopped early has visibly not started the rest; one
/// Region, the whole configured scope (so that a run that finishes becomes `latest`).
fn config() -> String {
    format!("{TEST_CONFIG}\n[scope]\nregions = [\"us-east-1\"]\n\n[concurrency]\naccounts = 1\n")
}

/// Every file below `dir` (the account pages included) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)
            .expect("a directory")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("a file");
                files.insert(path.strip_prefix(dir).expect("below").to_path_buf(), bytes);
            }
        }
    }
    files
}

/// The names in a run directory, hidden ones included.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the run")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An organization, and a first complete run in `output` that is `latest`.
struct Earlier {
    emulator: Emulator,
    output: tempfile::TempDir,
    run: ScanRun,
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Earlier {
    fn new() -> Earlier {
        let mut emulator = Emulator::start();
        emulator.load_scenario(&scenario());
        let output = tempfile::tempdir().expect("temp");
        let run = emulator
            .scan()
            .config(&config())
            .output_dir(output.path())
            .run();
        assert!([0, 1].contains(&run.code), "{}", run.stderr);
        let files = snapshot(run.dir());
        assert_eq!(
            self::latest(output.path()),
            run.dir().file_name().map(PathBuf::from)
        );
        emulator.reset_counters();
        Earlier {
            emulator,
            output,
            run,
            files,
        }
    }

    fn size(&self, name: &str) -> u64 {
        self.files[Path::new(name)].len() as u64
    }

    /// A scan into the same output directory, unable to make a file larger than `limit`.
    fn scan_limited(&self, limit: u64) -> ScanRun {
        self.emulator
            .scan()
            .config(&config())
            .output_dir(self.output.path())
            .file_size_limit(limit)
            .run()
    }

    /// The earlier run and `latest` are exactly as they were.
    fn assert_untouched(&self) {
        assert!(
            snapshot(self.run.dir()) == self.files,
            "the earlier run changed"
        );
        assert_eq!(
            latest(self.output.path()),
            self.run.dir().file_name().map(PathBuf::from),
            "latest still names the earlier run"
        );
    }
}

fn latest(output: &Path) -> Option<PathBuf> {
    std::fs::read_link(output.join("latest")).ok()
}

fn report(dir: &Path, output_dir: Option<&Path>, limit: Option<u64>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_macie-audit"));
    command.arg("report").arg(dir).env_clear();
    if let Some(output_dir) = output_dir {
        command.arg("--output-dir").arg(output_dir);
    }
    if let Some(bytes) = limit {
        limit_file_size(&mut command, bytes);
    }
    command.output().expect("report")
}

#[test]
fn a_file_system_full_while_collecting_keeps_the_evidence_written_and_stops_the_scan() {
    let earlier = Earlier::new();
    let evidence = &earlier.files[Path::new("evidence.jsonl")];
    let header = evidence
        .iter()
        .position(|b| *b == b'\n')
        .expect("a run record") as u64
        + 1;
    // Room for the run record and about a third of the accounts.
    let limit = header + (earlier.size("evidence.jsonl") - header) / 3;

    let run = earlier.scan_limited(limit);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("evidence.jsonl") && run.stderr.contains("File too large"),
        "names the file and the OS error: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("the evidence of every account finished before is kept in"),
        "{}",
        run.stderr
    );
    earlier.assert_untouched();

    // The new run holds its evidence only, cut at the end of the last complete account.
    let dir = run.dir();
    assert_ne!(dir, earlier.run.dir());
    assert_eq!(names(dir), ["evidence.jsonl"]);
    let kept = std::fs::read(dir.join("evidence.jsonl")).expect("kept");
    assert!(kept.len() as u64 <= limit && kept.ends_with(b"\n"));
    let text = String::from_utf8(kept).expect("UTF-8");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line a whole record");
    }
    let accounts = text
        .lines()
        .filter(|l| l.starts_with(r#"{"record":"account","#))
        .count();
    assert!(
        (1..MEMBERS).contains(&accounts),
        "some accounts, not all: {accounts}"
    );
    assert!(!text.contains(r#""record":"run_end""#));

    // No account was started after the failure, no repository read.
    let counters = earlier.emulator.counters();
    assert!(
        counters.operation("sts:AssumeRole") < (MEMBERS + 1) as u64,
        "{:?}",
        counters.0
    );
    assert_eq!(
        counters.in_account(REPOSITORY_OWNER, "s3:GetBucketPolicy"),
        0
    );

    // Once there is room, the evidence kept makes the reports: the rest was not reached.
    let elsewhere = tempfile::tempdir().expect("temp");
    let rendered = report(dir, Some(elsewhere.path()), None);
    assert_eq!(
        rendered.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let findings = std::fs::read_to_string(elsewhere.path().join("findings.csv")).expect("csv");
    assert!(findings.contains("not reached"), "{findings}");
}

/// A limit that only the largest report of the run exceeds (never `evidence.jsonl`, which a scan
/// writes while it collects), and that report's name: a rendering then fails at that report,
/// with others written or being written.
fn limit_below_the_largest_report(earlier: &Earlier) -> (u64, String) {
    let mut sizes: Vec<(u64, &Path)> = earlier
        .files
        .iter()
        .map(|(name, bytes)| (bytes.len() as u64, name.as_path()))
        .collect();
    sizes.sort();
    let (largest, name) = sizes.pop().expect("files");
    let (second, _) = sizes.pop().expect("files");
    // Room for what differs between two renderings (times, run ids).
    let limit = second + 512;
    assert!(
        name != Path::new("evidence.jsonl") && limit < largest,
        "one report is larger than every other file: {sizes:?}"
    );
    (limit, name.display().to_string())
}

#[test]
fn a_file_system_full_while_writing_the_reports_leaves_none_half_written() {
    let earlier = Earlier::new();
    let (limit, largest) = limit_below_the_largest_report(&earlier);

    let run = earlier.scan_limited(limit);
    run.assert_exit(2);
    let dir = run.dir();
    assert!(
        run.stderr
            .contains(&format!("cannot write {}", dir.join(&largest).display()))
            && run.stderr.contains("File too large"),
        "names the report (not a temporary file) and the OS error: {}",
        run.stderr
    );
    earlier.assert_untouched();
    // No report at all rather than some: run.json never says an exit code the process did not
    // exit with. The evidence is complete, for `report` once there is room.
    assert_eq!(names(dir), ["evidence.jsonl"]);
    let evidence = std::fs::read_to_string(dir.join("evidence.jsonl")).expect("evidence");
    assert!(evidence.contains(r#""record":"run_end""#));
    assert!(run.stderr.contains("macie-audit report"), "{}", run.stderr);
}

#[test]
fn a_rendering_in_place_that_cannot_be_written_leaves_the_run_as_it_was() {
    let earlier = Earlier::new();
    let (limit, largest) = limit_below_the_largest_report(&earlier);

    let failed = report(earlier.run.dir(), None, Some(limit));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot write {}",
            earlier.run.dir().join(&largest).display()
        )) && stderr.contains("File too large"),
        "{stderr}"
    );
    earlier.assert_untouched();
    assert!(
        !names(earlier.run.dir())
            .iter()
            .any(|name| name.starts_with('.')),
        "no temporary file or directory is left"
    );

    // The run still matches its manifest: rendered again with room, it verifies and renders.
    let again = report(earlier.run.dir(), None, None);
    assert_eq!(
        again.status.code(),
        Some(earlier.run.code),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
