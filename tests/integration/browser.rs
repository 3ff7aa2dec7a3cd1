//! `report.html` in a real browser: headless Chromium (Debian's package, installed by
//! `scripts/ensure-chromium.sh`) opens the report of an emulated scan with hostile account names
//! from `file://` with the network disabled. The driver, `tests/browser/check_report.py`, speaks
//! the DevTools protocol over a pipe with Python's standard library only; it checks that the page
//! renders without console errors or network requests, that the filters work, that the OU pages
//! and the account pages are reached from the summary, that evidence links open their sections,
//! that collapsed evidence prints open and that the printed PDFs' text (poppler's `pdftotext`) has
//! the scope tables' columns, unbroken commands and no blank page; and it does the same at 1,000
//! accounts × 17 Regions. Screenshots and PDFs of both sizes are left under
//! `tests/artifacts/browser/` (git-ignored).

use crate::common;
use crate::hostile;

use std::path::Path;
use std::process::Command;

use common::{Emulator, python, repo_root};
use macie_audit::evidence::Evidence;
use macie_audit::report::ReportInput;
use macie_audit::triage::Findings;
use macie_audit::triage::TriageMarks;

const CHROMIUM: &str = "/usr/bin/chromium";

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

    // The whole run directory (the summary links to its account pages), copied out of the
    // emulator's temporary directory so that it stays to be looked at.
    let copy = repo_root().join("tests/artifacts/browser/small");
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(run.dir(), &copy);
    let mut extra = vec![
        "--expect-total".to_owned(),
        rows.len().to_string(),
        "--expect-fail".to_owned(),
        count("FAIL").to_string(),
        "--expect-pass".to_owned(),
        count("PASS").to_string(),
    ];
    for name in hostile::hostile_names() {
        extra.push("--hostile".into());
        extra.push(name);
    }
    let facts = drive(
        &copy.join(macie_audit::report::html::FILE_NAME),
        "small",
        &extra,
    );
    assert!(
        facts["summary_pdf_pages"]
            .as_u64()
            .is_some_and(|pages| pages > 0),
        "the printed summary's pages were counted: {facts}"
    );
}

/// Copies a run directory (and its `accounts/`) file by file.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the copy's directory");
    for entry in std::fs::read_dir(from).expect("the run directory") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copy");
        }
    }
}

/// Runs the driver on `report` and asserts that every check passed; returns its facts.
fn drive(report: &Path, label: &str, extra: &[String]) -> serde_json::Value {
    let artifacts = repo_root().join("tests/artifacts/browser");
    std::fs::create_dir_all(&artifacts).expect("tests/artifacts/browser");
    let output = Command::new(python())
        .arg(repo_root().join("tests/browser/check_report.py"))
        .arg(report)
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--chromium")
        .arg(CHROMIUM)
        .args(["--label", label])
        .args(extra)
        .output()
        .expect("run the browser driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("the driver printed no result ({e}); exit {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", output.status.code())
    });
    eprintln!(
        "browser facts ({label}): {}",
        serde_json::to_string_pretty(&result["facts"]).unwrap_or_default()
    );
    eprintln!("artefacts: {}", result["artifacts"]);
    assert_eq!(
        result["ok"],
        serde_json::Value::Bool(true),
        "browser checks failed ({label}):\n{}\n--- stderr\n{stderr}",
        serde_json::to_string_pretty(&result["failures"]).unwrap_or_default()
    );
    for shot in ["report-top.png", "ou-top.png", "account-top.png"] {
        assert!(
            artifacts.join(format!("{label}-{shot}")).exists(),
            "no screenshot {label}-{shot} was saved"
        );
    }
    assert!(
        output.status.success(),
        "driver exit {:?}",
        output.status.code()
    );
    result["facts"].clone()
}

/// 1,000 accounts × 17 Regions (85,000 findings, 20 OUs), generated by bench/html.py (no emulator:
/// it would take hours) and rendered by the library: the summary opens, filters work, every
/// account is reached from it through the OU pages, with a sample of the problem accounts' pages
/// checked.
#[test]
fn the_report_of_a_thousand_accounts_works_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/ensure-chromium.sh"
    );
    let artifacts = repo_root().join("tests/artifacts/browser");
    let run = artifacts.join("large");
    let _ = std::fs::remove_dir_all(&run);
    let generated = Command::new("python3")
        .arg(repo_root().join("bench/html.py"))
        .args(["--accounts", "1000", "--regions", "17", "--generate-only"])
        .arg(&run)
        .status()
        .expect("run bench/html.py");
    assert!(generated.success(), "bench/html.py --generate-only failed");

    let evidence = Evidence::open(&run.join(macie_audit::run_dir::EVIDENCE_FILE))
        .expect("the generated evidence opens");
    let marks = TriageMarks::NONE;
    let findings = Findings::new(&evidence, &marks);
    let (tally, metadata) = ReportInput::prepare(
        &findings,
        &marks,
        &macie_audit::report::metadata::Renderer::Collector,
    )
    .expect("prepared");
    assert_eq!(tally.total(), 85_000);
    let input = ReportInput {
        run: evidence.run(),
        findings: &findings,
        tally: &tally,
        metadata: &metadata,
    };
    macie_audit::report::html::write(&run, &input).expect("the report is written");
    let summary = run.join(macie_audit::report::html::FILE_NAME);
    let size = std::fs::metadata(&summary).expect("report.html").len();
    assert!(
        size <= 5_000_000,
        "report.html is {size} bytes at 1,000 × 17"
    );

    let facts = drive(&summary, "large", &["--sample".into(), "3".into()]);
    assert_eq!(
        facts["account_pages"], 1000,
        "the OU pages link every account"
    );
}
