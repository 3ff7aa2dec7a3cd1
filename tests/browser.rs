//! `report.html` in a real browser: headless Chromium (Debian's package, installed by
//! `scripts/ensure-chromium.sh`) opens the report of an emulated scan with hostile account names
//! from `file://` with the network disabled. The driver, `tests/browser/check_report.py`, speaks
//! the DevTools protocol over a pipe with Python's standard library only; it checks that the page
//! renders without console errors or network requests, that the filters work, that evidence links
//! open their sections and that collapsed evidence prints open, and it leaves a screenshot and a
//! PDF under `tests/artifacts/browser/`.

mod common;
#[path = "browser/hostile.rs"]
mod hostile;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Emulator, repo_root};

const CHROMIUM: &str = "/usr/bin/chromium";

fn python() -> PathBuf {
    if let Ok(python) = std::env::var("MACIE_AUDIT_PYTHON") {
        return PathBuf::from(python);
    }
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (or `make test`)",
        python.display()
    );
    python
}

#[test]
fn the_report_works_in_headless_chromium_offline() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/ensure-chromium.sh (as root; `make test` runs it) to \
         install Debian's chromium package. The browser test does not skip without it."
    );

    let mut emulator = Emulator::start();
    emulator.load_scenario(&hostile::scenario());
    let run = emulator.scan().regions(hostile::REGIONS).run();
    assert!(
        [1, 2].contains(&run.code),
        "the scan failed ({})\n{}",
        run.code,
        run.stderr
    );
    let rows = run.findings();
    let count = |status: &str| rows.iter().filter(|r| r["status"] == status).count();
    assert!(
        count("FAIL") > 0 && count("PASS") > 0,
        "the scenario has FAIL and PASS"
    );

    let artifacts = repo_root().join("tests/artifacts/browser");
    std::fs::create_dir_all(&artifacts).expect("tests/artifacts/browser");
    let report = artifacts.join("report.html");
    std::fs::copy(
        run.dir().join(macie_audit::report::html::FILE_NAME),
        &report,
    )
    .expect("copy report.html");

    let mut command = Command::new(python());
    command
        .arg(repo_root().join("tests/browser/check_report.py"))
        .arg(&report)
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--chromium")
        .arg(CHROMIUM)
        .args(["--expect-total", &rows.len().to_string()])
        .args(["--expect-fail", &count("FAIL").to_string()])
        .args(["--expect-pass", &count("PASS").to_string()]);
    for name in hostile::hostile_names() {
        command.arg("--hostile").arg(name);
    }
    let output = command.output().expect("run the browser driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("the driver printed no result ({e}); exit {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", output.status.code())
    });
    eprintln!(
        "browser facts: {}",
        serde_json::to_string_pretty(&result["facts"]).unwrap_or_default()
    );
    eprintln!("artefacts: {}", result["artifacts"]);
    assert_eq!(
        result["ok"],
        serde_json::Value::Bool(true),
        "browser checks failed:\n{}\n--- stderr\n{stderr}",
        serde_json::to_string_pretty(&result["failures"]).unwrap_or_default()
    );
    assert!(
        artifacts.join("report-top.png").exists(),
        "no screenshot was saved"
    );
    assert!(
        output.status.success(),
        "driver exit {:?}",
        output.status.code()
    );
}
