//! Every report of a run: SARIF valid against the official schema and GitHub's rules, CSV parsed
//! back, OCSF required fields, a verifiable checksum manifest, run.json, hostile names, and
//! `macie-audit report` reproducing a run from its evidence alone.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Emulator, ScanRun, assert_manifest_verifies};
use serde_json::Value;

/// Names an attacker could give accounts, each in its own account.
const HOSTILE_NAMES: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "line one\nline two\r\n=1+1",
    "Zürich 東京 🚀 ملف",
    "\ttabbed",
];

fn hostile_scenario() -> String {
    let mut text = String::new();
    for (n, name) in HOSTILE_NAMES.iter().enumerate() {
        let id = format!("{:012}", 400_000_000_001u64 + n as u64);
        let name = serde_json::to_string(name).expect("JSON string");
        text.push_str(&format!(
            "[[accounts]]\nid = \"{id}\"\nname = {name}\n[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 40\n\n"
        ));
    }
    let long = "L".repeat(5000);
    text.push_str(&format!(
        "[[accounts]]\nid = \"499999999999\"\nname = \"{long}\"\nassume_role = \"deny\"\n\n[[accounts]]\nid = \"488888888888\"\nname = \"suspended <b>\"\nstatus = \"SUSPENDED\"\n"
    ));
    text
}

fn hostile_run() -> (Emulator, ScanRun) {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&hostile_scenario());
    let run = emulator.scan().regions("us-east-1,eu-west-1").run();
    run.assert_exit(2);
    (emulator, run)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

#[test]
fn run_directory_holds_every_report_and_a_verifiable_manifest() {
    let (_emulator, run) = hostile_run();
    let dir = run.dir();
    for name in [
        "evidence.jsonl",
        "findings.csv",
        "findings.sarif",
        "findings.ocsf.jsonl",
        "report.html",
        "run.json",
        "SHA256SUMS",
    ] {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    let manifest = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("manifest");
    let accounts = std::fs::read_dir(dir.join("accounts"))
        .expect("accounts/")
        .count();
    assert!(accounts > 0, "an HTML page per account");
    let ous = std::fs::read_dir(dir.join("ous")).expect("ous/").count();
    assert!(ous > 1, "a page per OU and the index of OUs");
    assert!(
        manifest.contains("  ous/index.html\n"),
        "the OU pages are covered: {manifest}"
    );
    assert_eq!(
        manifest.lines().count(),
        6 + accounts + ous,
        "every other file, every account page and every OU page: {manifest}"
    );
    assert_manifest_verifies(dir);
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn sarif_is_valid_and_acceptable_to_github() {
    let (_emulator, run) = hostile_run();
    let sarif = read_json(&run.dir().join("findings.sarif"));
    let schema = read_json(&common::repo_root().join("../shared/schemas/sarif-schema-2.1.0.json"));
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}");

    assert!(sarif["$schema"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(sarif["version"], "2.1.0");
    let sarif_run = &sarif["runs"][0];
    let rules = sarif_run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert_eq!(rules.len(), macie_audit::rules::CATALOGUE.len());
    for rule in rules {
        for field in ["shortDescription", "fullDescription", "help"] {
            let text = rule[field]["text"].as_str().unwrap_or_default();
            assert!(
                !text.is_empty() && text.len() <= 1024 || field != "shortDescription",
                "{rule}"
            );
            assert!(!text.is_empty(), "{field} of {}", rule["id"]);
        }
        let severity: f64 = rule["properties"]["security-severity"]
            .as_str()
            .expect("security-severity is a string")
            .parse()
            .expect("a number");
        assert!((0.1..=10.0).contains(&severity));
    }
    let results = sarif_run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    let mut fingerprints = std::collections::BTreeSet::new();
    for result in results {
        assert!(result["ruleId"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            result["message"]["text"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            uri.starts_with("aws/") && !uri.contains(':'),
            "relative pseudo-path: {uri}"
        );
        assert_eq!(location["region"]["startLine"], 1);
        let logical = &result["locations"][0]["logicalLocations"][0];
        assert_eq!(logical["kind"], "resource");
        assert!(
            logical["fullyQualifiedName"]
                .as_str()
                .is_some_and(|s| s.starts_with("arn:aws:"))
        );
        let fingerprint = result["partialFingerprints"]["macieAuditFindingIdentity/v1"]
            .as_str()
            .expect("fingerprint");
        assert!(
            fingerprints.insert(fingerprint.to_owned()),
            "fingerprints are unique"
        );
        let status = result["properties"]["status"].as_str().unwrap_or_default();
        assert!(matches!(status, "FAIL" | "WARN" | "ERROR"), "{status}");
    }
    assert_eq!(
        sarif_run["automationDetails"]["id"],
        format!("macie-audit/{}", run.evidence().header.run_id)
    );
    let invocation = &sarif_run["invocations"][0];
    assert_eq!(
        invocation["executionSuccessful"], false,
        "the denied account makes the run incomplete"
    );
    let notifications = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert!(notifications.iter().any(|n| {
        n["message"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("499999999999")
    }));
    assert!(
        invocation["startTimeUtc"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(
        invocation["endTimeUtc"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[test]
fn fingerprints_are_stable_across_runs() {
    let (emulator, first) = hostile_run();
    let second = emulator.scan().regions("us-east-1,eu-west-1").run();
    let prints = |run: &ScanRun| -> Vec<String> {
        let sarif = read_json(&run.dir().join("findings.sarif"));
        sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                r["partialFingerprints"]["macieAuditFindingIdentity/v1"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(prints(&first), prints(&second));
}

#[test]
fn csv_parses_back_to_the_findings_and_neutralises_formulas() {
    let (_emulator, run) = hostile_run();
    let evidence = run.evidence();
    let findings = common::judged(&evidence);
    let rows = run.findings();
    assert_eq!(rows.len(), findings.len());
    for (row, finding) in rows.iter().zip(&findings) {
        assert_eq!(row["account_id"], finding.account_id);
        assert_eq!(row["region"], finding.region);
        assert_eq!(row["rule_id"], finding.rule_id);
        assert_eq!(row["status"], finding.status.as_str());
        assert_eq!(row["severity"], finding.severity.as_str());
        assert_eq!(row["run_id"], evidence.header.run_id);
        assert!(
            row["evaluated_at"].ends_with('Z'),
            "RFC 3339 UTC: {}",
            row["evaluated_at"]
        );
        let name = &row["account_name"];
        match finding.account_name.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => {
                assert_eq!(name, &format!("'{}", finding.account_name), "neutralised");
            }
            _ => assert_eq!(name, &finding.account_name),
        }
        for column in [
            "message",
            "remediation",
            "resource",
            "rule_title",
            "account_name",
        ] {
            assert!(
                !row[column].starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
                "{column} would run as a formula: {:?}",
                row[column]
            );
        }
    }
    let names: Vec<&str> = rows.iter().map(|r| r["account_name"].as_str()).collect();
    assert!(names.contains(&"Zürich 東京 🚀 ملف"));
    assert!(
        names.contains(&"line one\nline two\r\n=1+1"),
        "embedded newlines survive quoting"
    );
    let raw = std::fs::read(run.dir().join("findings.csv")).expect("csv");
    assert!(std::str::from_utf8(&raw).is_ok(), "UTF-8");
    let header_end = raw.windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let header = std::str::from_utf8(&raw[..header_end]).expect("header");
    assert!(
        header
            .split(',')
            .all(|field| field.starts_with('"') && field.ends_with('"')),
        "{header}"
    );
    for column in [
        "run_id",
        "evaluated_at",
        "account_id",
        "account_name",
        "region",
        "rule_id",
        "rule_title",
        "status",
        "severity",
        "resource",
        "message",
        "remediation",
        "conformity_rule",
    ] {
        assert!(header.contains(&format!("\"{column}\"")), "{column}");
    }
}

#[test]
fn ocsf_lines_carry_the_required_fields() {
    let (_emulator, run) = hostile_run();
    let text = std::fs::read_to_string(run.dir().join("findings.ocsf.jsonl")).expect("ocsf");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("OCSF line is JSON"))
        .collect();
    assert_eq!(lines.len(), run.findings().len());
    for event in &lines {
        assert_eq!(event["class_uid"], 2003);
        assert_eq!(event["category_uid"], 2);
        assert_eq!(
            event["type_uid"],
            2003 * 100 + event["activity_id"].as_u64().expect("activity_id")
        );
        assert!(
            event["severity_id"]
                .as_u64()
                .is_some_and(|s| (1..=5).contains(&s))
        );
        assert!(
            event["time"]
                .as_i64()
                .is_some_and(|t| t > 1_700_000_000_000),
            "milliseconds"
        );
        assert_eq!(event["metadata"]["product"]["name"], "macie-audit");
        assert!(event["metadata"]["product"]["vendor_name"].is_string());
        assert!(event["metadata"]["version"].is_string());
        assert!(
            event["finding_info"]["uid"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(
            event["finding_info"]["title"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(event["compliance"]["status_id"].is_u64());
        assert!(
            event["compliance"]["control"]
                .as_str()
                .is_some_and(|s| s.starts_with("MACIE-"))
        );
        assert!(event["compliance"]["standards"].is_array());
        assert_eq!(event["cloud"]["provider"], "AWS");
        assert!(
            event["cloud"]["account"]["uid"]
                .as_str()
                .is_some_and(|s| s.len() == 12)
        );
        assert!(event["cloud"]["region"].is_string());
        assert!(
            event["resources"][0]["uid"].is_string() && event["resources"][0]["type"].is_string()
        );
    }
    let fail = lines
        .iter()
        .find(|e| e["unmapped"]["macie_audit_status"] == "FAIL")
        .expect("a failing finding");
    assert_eq!(fail["compliance"]["status_id"], 3);
}

#[test]
fn run_json_records_scope_identity_and_completeness() {
    let (_emulator, run) = hostile_run();
    let meta = read_json(&run.dir().join("run.json"));
    assert_eq!(meta["tool"]["name"], "macie-audit");
    assert_eq!(meta["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        meta["started_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(meta["ended_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(
        meta["configuration"]["sha256"]
            .as_str()
            .is_some_and(|s| s.len() == 64)
    );
    assert_eq!(meta["principal"]["account"], "123456789012");
    assert!(
        meta["command_line"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "scan"))
    );
    assert_eq!(meta["complete"], false);
    let counts = &meta["counts"];
    let accounts = HOSTILE_NAMES.len() as u64 + 3;
    assert_eq!(counts["accounts_in_scope"], accounts);
    assert_eq!(counts["accounts_skipped"], 1);
    assert_eq!(counts["accounts_errored"], 1);
    assert_eq!(counts["accounts_evaluated"], accounts - 2);
    assert_eq!(counts["account_regions_in_scope"], accounts * 2);
    let denied = meta["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["id"] == "499999999999")
        .expect("denied account listed");
    assert_eq!(denied["outcome"], "error");
    assert_eq!(
        denied["role_arn"],
        "arn:aws:iam::499999999999:role/OrganizationAccountAccessRole"
    );
    let reached = meta["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["id"] == "400000000001")
        .expect("listed");
    assert!(
        reached["identity_arn"]
            .as_str()
            .is_some_and(|arn| arn.contains("400000000001"))
    );
}

#[test]
fn report_command_reproduces_a_run_from_its_evidence() {
    let (_emulator, run) = hostile_run();
    let out = tempfile::tempdir().expect("temp");
    let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .arg(run.dir())
        .arg("--output-dir")
        .arg(out.path())
        .env_clear()
        .output()
        .expect("report");
    assert_eq!(
        output.status.code(),
        Some(run.code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in ["findings.csv", "findings.ocsf.jsonl", "evidence.jsonl"] {
        let original = std::fs::read(run.dir().join(name)).expect("original");
        let replayed = std::fs::read(out.path().join(name)).expect("replayed");
        assert!(original == replayed, "{name} differs after re-rendering");
    }
    // SARIF's run properties carry the rendering's provenance; the rest is the original's.
    let sarif_without_provenance = |dir: &Path| {
        let mut sarif = read_json(&dir.join("findings.sarif"));
        let properties = sarif["runs"][0]["properties"]
            .as_object_mut()
            .expect("run properties");
        properties.remove("provenance");
        properties.remove("evidenceIntegrity");
        sarif
    };
    assert_eq!(
        sarif_without_provenance(run.dir()),
        sarif_without_provenance(out.path()),
        "findings.sarif differs beyond the rendering"
    );
    // run.json is the original's plus the rendering: its provenance and what it found of the
    // evidence.
    let mut original = read_json(&run.dir().join("run.json"));
    let mut replayed = read_json(&out.path().join("run.json"));
    assert_eq!(original["evidence_integrity"]["status"], "collected");
    assert_eq!(replayed["evidence_integrity"]["status"], "verified");
    assert_eq!(
        replayed["provenance"]["renderings"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    for json in [&mut original, &mut replayed] {
        let object = json.as_object_mut().expect("an object");
        object.remove("evidence_integrity");
        object["provenance"]
            .as_object_mut()
            .expect("provenance")
            .remove("renderings");
    }
    assert_eq!(original, replayed, "run.json differs beyond the rendering");
    assert_manifest_verifies(out.path());

    // In place: the evidence is kept byte for byte, the reports are rewritten identically.
    let before: BTreeMap<String, Vec<u8>> = ["evidence.jsonl", "findings.csv"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                std::fs::read(run.dir().join(n)).expect("read"),
            )
        })
        .collect();
    let in_place = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .arg(run.dir().join("evidence.jsonl"))
        .output()
        .expect("report in place");
    assert_eq!(in_place.status.code(), Some(run.code));
    for (name, bytes) in before {
        assert!(
            std::fs::read(run.dir().join(&name)).expect("read") == bytes,
            "{name} changed"
        );
    }
}

#[test]
fn report_command_rejects_what_is_not_evidence() {
    let dir = tempfile::tempdir().expect("temp");
    let bogus = dir.path().join("evidence.jsonl");
    std::fs::write(&bogus, "{\"record\":\"nonsense\"}\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .arg(&bogus)
        .output()
        .expect("report");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
    let empty = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .arg(dir.path().join("nowhere"))
        .output()
        .expect("report");
    assert_eq!(empty.status.code(), Some(3));
}

#[test]
fn latest_points_at_the_newest_full_run_complete_or_not() {
    let mut emulator = Emulator::start();
    emulator.load_scenario("[[accounts]]\nid = \"111111111111\"\nname = \"a\"\n");
    let out = tempfile::tempdir().expect("temp");
    let output_dir = out.path().join("reports");
    // The Regions come from the configuration: `--regions` narrower than it is a partial run.
    let config = out.path().join("config.toml");
    std::fs::write(&config, "[scope]\nregions = [\"us-east-1\"]\n").expect("config");
    let scan = || {
        let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
            .arg("scan")
            .arg("--config")
            .arg(&config)
            .arg("--output-dir")
            .arg(&output_dir)
            .env_clear()
            .envs(emulator.sdk_env())
            .output()
            .expect("scan");
        // Run ids have a one-second resolution; keep them apart.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        output.status.code()
    };
    assert_eq!(scan(), Some(1));
    let first = macie_audit::run_dir::latest(&output_dir).expect("latest after a complete run");
    emulator.set_account(serde_json::json!({"account": "111111111111", "assume_role": "deny"}));
    assert_eq!(scan(), Some(2));
    let second = macie_audit::run_dir::latest(&output_dir).expect("latest");
    assert_ne!(
        second, first,
        "an incomplete run over the full scope is latest"
    );
    emulator.set_account(serde_json::json!({"account": "111111111111", "assume_role": "allow"}));
    assert_eq!(scan(), Some(1));
    let third = macie_audit::run_dir::latest(&output_dir).expect("latest");
    assert_ne!(third, first);
    assert_ne!(third, second);
    assert!(third.join("report.html").is_file());
    let runs = std::fs::read_dir(&output_dir)
        .expect("runs")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .count();
    assert_eq!(runs, 3, "three run directories (latest is a link)");
}

/// Runs `macie-audit report` with `args`.
fn report(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .args(args)
        .env_clear()
        .output()
        .expect("report")
}

/// Every file of a directory, its subdirectories' (the account pages) included, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("dir").filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            for (inner, bytes) in snapshot(&entry.path()) {
                files.insert(format!("{name}/{inner}"), bytes);
            }
        } else {
            files.insert(name, std::fs::read(entry.path()).expect("read"));
        }
    }
    files
}

/// A complete run of one account that enabled Macie 40 days ago without a repository (MACIE-002
/// FAIL, WARN if it had enabled Macie within 30 days).
fn unconfigured_run() -> (Emulator, ScanRun) {
    let mut emulator = Emulator::start();
    emulator.load_scenario(
        "[[accounts]]\nid = \"111111111111\"\nname = \"a\"\n[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 40\n",
    );
    let run = emulator.scan().regions("us-east-1").run();
    run.assert_exit(1);
    assert_eq!(run.status("111111111111", "us-east-1", "MACIE-002"), "FAIL");
    (emulator, run)
}

/// Moves the account's Macie `created_at` to the run's start, as someone hiding a FAIL would.
fn backdate_macie(dir: &Path) {
    let path = dir.join("evidence.jsonl");
    let text = std::fs::read_to_string(&path).expect("evidence");
    let started_at = read_json(&dir.join("run.json"))["started_at"]
        .as_str()
        .expect("started_at")
        .to_owned();
    let mut edited = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut record: Value = serde_json::from_str(line).expect("record");
            if record["record"] == "account_region"
                && let Some(session) = record.pointer_mut("/macie_session/response")
            {
                session["created_at"] = Value::String(started_at.clone());
                edited += 1;
            }
            serde_json::to_string(&record).expect("JSON")
        })
        .collect();
    assert_eq!(edited, 1, "one Macie session edited:\n{text}");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
}

#[test]
fn report_refuses_evidence_that_does_not_match_its_manifest_and_changes_nothing() {
    let (_emulator, run) = unconfigured_run();
    backdate_macie(run.dir());
    std::fs::remove_file(run.dir().join("findings.csv")).expect("remove");
    std::fs::write(run.dir().join("notes.txt"), "added").expect("add");
    let before = snapshot(run.dir());
    let output = report(&[run.dir().as_os_str()]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for named in [
        "modified: evidence.jsonl",
        "missing: findings.csv",
        "not in the manifest: notes.txt",
    ] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    assert!(snapshot(run.dir()) == before, "the run directory changed");

    // Accepting modified evidence does not rewrite the delivered directory.
    let in_place = report(&["--accept-modified-evidence".as_ref(), run.dir().as_os_str()]);
    assert_eq!(in_place.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&in_place.stderr).contains("another --output-dir"),
        "{}",
        String::from_utf8_lossy(&in_place.stderr)
    );
    assert!(snapshot(run.dir()) == before, "the run directory changed");
}

#[test]
fn modified_evidence_rendered_on_purpose_says_so_in_every_report() {
    let (_emulator, run) = unconfigured_run();
    backdate_macie(run.dir());
    let out = tempfile::tempdir().expect("temp");
    let output = report(&[
        run.dir().as_os_str(),
        "--accept-modified-evidence".as_ref(),
        "--output-dir".as_ref(),
        out.path().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The scanner's own account has no Macie: MACIE-001 fails either way.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("evidence MODIFIED") && stdout.contains("evidence.jsonl"),
        "{stdout}"
    );

    let run_json = read_json(&out.path().join("run.json"));
    assert_eq!(run_json["evidence_integrity"]["status"], "modified");
    assert_eq!(
        run_json["evidence_integrity"]["modified"],
        serde_json::json!(["evidence.jsonl"])
    );
    let rendering = &run_json["provenance"]["renderings"][0];
    assert_eq!(rendering["evidence_verified"], false);
    assert_eq!(rendering["evidence_integrity"]["status"], "modified");

    let html = std::fs::read_to_string(out.path().join("report.html")).expect("html");
    assert!(html.contains("EVIDENCE MODIFIED"), "no badge");
    let sarif = read_json(&out.path().join("findings.sarif"));
    assert_eq!(sarif["runs"][0]["properties"]["evidenceModified"], true);
    let ocsf = std::fs::read_to_string(out.path().join("findings.ocsf.jsonl")).expect("ocsf");
    for line in ocsf.lines() {
        let finding: Value = serde_json::from_str(line).expect("OCSF line");
        assert_eq!(finding["unmapped"]["evidence_modified"], true);
    }
    // The verdict the edit aimed at is what the modified evidence says: WARN, not the FAIL the
    // delivered run holds.
    let csv = std::fs::read_to_string(out.path().join("findings.csv")).expect("csv");
    assert!(
        csv.lines()
            .any(|l| l.contains("\"MACIE-002\"") && l.contains("\"WARN\"")),
        "{csv}"
    );
}

#[test]
fn run_json_keeps_the_scan_and_adds_every_rendering() {
    let (_emulator, run) = unconfigured_run();
    let original = read_json(&run.dir().join("run.json"));
    let scan = &original["provenance"]["scan"];
    assert_eq!(scan["command_line"], original["command_line"]);
    assert!(
        scan["command_line"]
            .as_array()
            .is_some_and(|args| args.iter().any(|a| a == "scan"))
    );
    assert_eq!(scan["principal"], original["principal"]);
    assert_eq!(scan["started_at"], original["started_at"]);
    assert_eq!(scan["ended_at"], original["ended_at"]);
    assert_eq!(scan["tool_version"], original["tool"]["version"]);
    assert_eq!(original["provenance"]["renderings"], serde_json::json!([]));

    for _ in 0..2 {
        let output = report(&[run.dir().as_os_str()]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let out = tempfile::tempdir().expect("temp");
    let elsewhere = report(&[
        run.dir().as_os_str(),
        "--output-dir".as_ref(),
        out.path().as_os_str(),
    ]);
    assert_eq!(elsewhere.status.code(), Some(1));

    let rendered = read_json(&out.path().join("run.json"));
    assert_eq!(
        rendered["provenance"]["scan"],
        original["provenance"]["scan"]
    );
    assert_eq!(rendered["command_line"], original["command_line"]);
    let renderings = rendered["provenance"]["renderings"]
        .as_array()
        .expect("renderings");
    assert_eq!(renderings.len(), 3, "{renderings:#?}");
    for rendering in renderings {
        assert_eq!(rendering["evidence_verified"], true);
        assert_eq!(rendering["evidence_integrity"]["status"], "verified");
        assert_eq!(rendering["tool_version"], original["tool"]["version"]);
        assert!(
            rendering["command_line"]
                .as_array()
                .is_some_and(|args| args.iter().any(|a| a == "report"))
        );
        assert!(
            rendering["rendered_at"]
                .as_str()
                .is_some_and(|t| t > original["ended_at"].as_str().unwrap_or_default())
        );
    }
    assert!(
        renderings[2]["command_line"]
            .as_array()
            .is_some_and(|args| args.iter().any(|a| a == "--output-dir"))
    );

    let html = std::fs::read_to_string(out.path().join("report.html")).expect("html");
    assert!(html.contains("scan (collected the evidence)"));
    assert!(html.contains("rendering 3 (macie-audit report)"));
    assert!(html.contains("--output-dir"));
}
