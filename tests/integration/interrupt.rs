//! Interruption: a SIGINT or SIGTERM in the middle of a slow scan gives a valid INCOMPLETE run
//! and exit code 130; a second signal exits at once without corrupting what was written.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Emulator, RunningScan, assert_manifest_verifies};
use serde_json::json;

fn slow_organization() -> Emulator {
    let mut emulator = Emulator::start();
    let mut scenario = String::new();
    for n in 1..=30u64 {
        scenario.push_str(&format!(
            "[[accounts]]\nid = \"{:012}\"\nname = \"slow-{n}\"\n[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 50\n\n",
            700_000_000_000 + n
        ));
    }
    emulator.load_scenario(&scenario);
    emulator.faults(json!({"latency_ms": 150}));
    emulator
}

const SLOW_CONFIG: &str = "[concurrency]\naccounts = 2\nrequests = 4\n";

/// A scan of the slow organization, two accounts at a time, in two Regions, given `seconds` to
/// get under way.
fn slow_scan(emulator: &Emulator, seconds: u64) -> RunningScan {
    let running = emulator
        .scan()
        .config(&format!("{}\n{SLOW_CONFIG}", common::TEST_CONFIG))
        .regions("us-east-1,eu-west-1")
        .spawn();
    std::thread::sleep(Duration::from_secs(seconds));
    running
}

#[test]
fn sigint_mid_scan_writes_an_interrupted_run_and_exits_130() {
    let emulator = slow_organization();
    for signal in ["INT", "TERM"] {
        let running = slow_scan(&emulator, 3);
        let signalled = Instant::now();
        running.signal(signal);
        let run = running.wait();
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "stopped within the grace period"
        );
        run.assert_exit(130);
        assert!(run.stdout.contains("INTERRUPTED"), "{}", run.stdout);

        let dir = run.dir();
        assert_manifest_verifies(dir);
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("run.json"))
                .expect("JSON");
        assert_eq!(meta["interrupted"], true);
        assert_eq!(meta["complete"], false);
        let findings = run.findings();
        assert_eq!(
            findings.len(),
            31 * 2 * macie_audit::rules::CATALOGUE.len(),
            "the whole population, still"
        );
        let errors = findings.iter().filter(|f| f["status"] == "ERROR").count();
        let judged = findings.iter().filter(|f| f["status"] == "FAIL").count();
        assert!(errors > 0, "accounts not reached are ERROR");
        assert!(judged > 0, "accounts finished before the signal are judged");
        assert!(
            findings
                .iter()
                .any(|f| f["message"].contains("not reached before the scan was interrupted"))
        );
        assert_eq!(
            meta["exit_code"], 130,
            "run.json says what the process exited with"
        );
        let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
        assert!(html.contains("<b>INTERRUPTED</b>"), "an INTERRUPTED badge");
        let sarif: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("findings.sarif")).expect("sarif"),
        )
        .expect("JSON");
        assert_eq!(
            sarif["runs"][0]["invocations"][0]["executionSuccessful"],
            false
        );
        assert!(macie_audit::run_dir::latest(dir.parent().expect("output dir")).is_none());
    }
}

#[test]
fn a_second_signal_exits_at_once() {
    let emulator = slow_organization();
    let running = slow_scan(&emulator, 3);
    running.signal("INT");
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    running.signal("INT");
    let run = running.wait();
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "exited at once"
    );
    run.assert_exit(130);
    // Whatever was written is whole: files under their final names parse.
    if let Some(dir) = &run.run_dir {
        for entry in std::fs::read_dir(dir).expect("dir").filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") || name.ends_with(".sarif") {
                let text = std::fs::read_to_string(entry.path()).expect("read");
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{name} is corrupt: {e}"));
            }
            if name == "evidence.jsonl" {
                macie_audit::evidence::RunEvidence::load(&entry.path()).expect("evidence parses");
            }
        }
    }
}

/// A scan killed outright (no chance to clean up) keeps the evidence of every account it
/// finished, written as it went; `report` turns it into an interrupted, INCOMPLETE run that still
/// covers the whole population (the accounts not reached are ERROR), and exits 2: `report`
/// itself finished (130 is for interrupting the command that exits with it).
#[test]
fn a_killed_scan_keeps_the_accounts_it_finished() {
    let emulator = slow_organization();
    let running = slow_scan(&emulator, 4);
    running.signal("KILL");
    let run = running.wait();
    let evidence = run.dir().join("evidence.jsonl");
    let text = std::fs::read_to_string(&evidence).expect("evidence.jsonl is on disk");
    let accounts = text
        .lines()
        .filter(|l| l.starts_with(r#"{"record":"account","#))
        .count();
    assert!(
        accounts > 0 && accounts < 31,
        "some accounts, not all: {accounts}"
    );
    assert!(!text.contains(r#""record":"run_end""#), "{text}");

    let out = tempfile::tempdir().expect("temp");
    let report = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .arg(run.dir())
        .arg("--output-dir")
        .arg(out.path())
        .output()
        .expect("report");
    assert_eq!(
        report.status.code(),
        Some(2),
        "a run without its end is incomplete: {}",
        String::from_utf8_lossy(&report.stderr)
    );
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    assert!(
        stdout.contains("evidence not verified"),
        "no SHA256SUMS: {stdout}"
    );
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("run.json")).expect("run.json"),
    )
    .expect("JSON");
    assert_eq!(meta["complete"], false);
    assert_eq!(meta["interrupted"], true);
    assert_eq!(meta["exit_code"], 2);
    assert_eq!(meta["evidence_integrity"]["status"], "no_manifest");
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("html");
    assert!(html.contains("<b>INTERRUPTED</b>"), "an INTERRUPTED badge");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_path(out.path().join("findings.csv"))
        .expect("findings.csv")
        .records()
        .map(|r| r.expect("row"))
        .collect();
    let per_account = 2 * macie_audit::rules::CATALOGUE.len();
    assert_eq!(
        rows.len(),
        31 * per_account,
        "the whole population, from the run record"
    );
    let not_reached = rows
        .iter()
        .filter(|r| {
            r.iter()
                .any(|f| f.contains("not reached before the scan stopped (killed or crashed"))
        })
        .count();
    assert_eq!(
        not_reached,
        (31 - accounts) * per_account,
        "every account without its evidence is ERROR, not reached; every finished one is judged"
    );
}
