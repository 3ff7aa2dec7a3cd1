//! Operating it unattended: the severity gate, baselines and drift, suppressions, and logs that
//! pipelines can parse and that never carry a secret.

mod common;

use std::path::Path;

use common::{Emulator, ScanRun};
use serde_json::{Value, json};

/// A: Macie on for 45 days without a repository (MACIE-002 FAIL, medium). B: the same.
/// C: Macie on for 10 days without a repository (MACIE-002 WARN).
const DRIFT: &str = r#"
[[accounts]]
id = "111111111111"
name = "alpha"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 45

[[accounts]]
id = "222222222222"
name = "bravo"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 45

[[accounts]]
id = "333333333333"
name = "charlie"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 10
"#;

fn start() -> Emulator {
    let mut emulator = Emulator::start();
    emulator.load_scenario(DRIFT);
    emulator
}

/// Scans the three scenario accounts (not the management account), unless `args` says otherwise.
fn scan(emulator: &Emulator, out: &Path, args: &[&str]) -> ScanRun {
    let mut scan = emulator.scan().regions("us-east-1").output_dir(out);
    if !args.contains(&"--accounts") {
        scan = scan
            .arg("--accounts")
            .arg("111111111111,222222222222,333333333333");
    }
    for arg in args {
        scan = scan.arg(arg);
    }
    let run = scan.run();
    // Run ids have a one-second resolution; keep consecutive runs apart.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

#[test]
fn severity_gate_decides_exit_codes() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    // MACIE-002 FAILs are medium.
    scan(&emulator, out.path(), &[]).assert_exit(1);
    scan(&emulator, out.path(), &["--fail-on", "medium"]).assert_exit(1);
    scan(&emulator, out.path(), &["--fail-on", "high"]).assert_exit(0);
    scan(&emulator, out.path(), &["--fail-on", "critical"]).assert_exit(0);
    // Only the WARN account: WARN never fails the run unless asked.
    scan(&emulator, out.path(), &["--accounts", "333333333333"]).assert_exit(0);
    scan(
        &emulator,
        out.path(),
        &["--accounts", "333333333333", "--fail-on-warn"],
    )
    .assert_exit(1);
    let bad = scan(&emulator, out.path(), &["--fail-on", "severe"]);
    bad.assert_exit(3);
    assert!(bad.stderr.contains("severe"), "{}", bad.stderr);
    scan(&emulator, out.path(), &["--fail-on-new"]).assert_exit(3);
}

#[test]
fn baseline_marks_new_unchanged_and_resolved() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    let first = scan(&emulator, out.path(), &[]);
    first.assert_exit(1);

    // Bravo turns Macie off: its MACIE-002 FAIL is resolved (now NOT_APPLICABLE), and its
    // MACIE-001 FAIL is new. Alpha's MACIE-002 FAIL and Charlie's WARN are unchanged.
    emulator.set_macie(json!({"account": "222222222222", "region": "us-east-1", "enabled": false}));
    let second = scan(&emulator, out.path(), &["--baseline", "latest"]);
    second.assert_exit(1);
    let state = |run: &ScanRun, account: &str, rule: &str| {
        run.finding(account, "us-east-1", rule)["baseline_state"].clone()
    };
    assert_eq!(state(&second, "111111111111", "MACIE-002"), "UNCHANGED");
    assert_eq!(state(&second, "333333333333", "MACIE-002"), "UNCHANGED");
    assert_eq!(state(&second, "222222222222", "MACIE-001"), "NEW");
    assert_eq!(state(&second, "222222222222", "MACIE-002"), "RESOLVED");
    assert_eq!(
        state(&second, "111111111111", "MACIE-001"),
        "",
        "passing before and now"
    );

    let meta = read_json(&second.dir().join("run.json"));
    let baseline = &meta["triage"]["baseline"];
    assert_eq!(baseline["run_id"], first.evidence().header.run_id);
    assert_eq!(baseline["new"], 1);
    assert_eq!(baseline["unchanged"], 2);
    assert_eq!(baseline["resolved"].as_array().map(Vec::len), Some(1));
    assert!(
        second.stdout.contains("1 new, 2 unchanged, 1 resolved"),
        "{}",
        second.stdout
    );

    let sarif = read_json(&second.dir().join("findings.sarif"));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let baseline_of = |account: &str, rule: &str| {
        results
            .iter()
            .find(|r| r["properties"]["accountId"] == account && r["ruleId"] == rule)
            .map(|r| r["baselineState"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(baseline_of("222222222222", "MACIE-001"), "new");
    assert_eq!(baseline_of("111111111111", "MACIE-002"), "unchanged");

    let html = std::fs::read_to_string(second.dir().join("report.html")).expect("html");
    assert!(
        html.contains("Resolved since the baseline"),
        "the HTML report lists resolved findings"
    );
    assert!(html.contains("MACIE-002 222222222222 us-east-1"));

    // Only new failures fail the run: the second run's failures are all unchanged now.
    let third = scan(
        &emulator,
        out.path(),
        &["--baseline", "latest", "--fail-on-new"],
    );
    third.assert_exit(0);
    // A run directory as baseline works too, and new failures against it fail the run.
    let fourth = scan(
        &emulator,
        out.path(),
        &[
            "--baseline",
            first.dir().to_str().expect("path"),
            "--fail-on-new",
        ],
    );
    fourth.assert_exit(1);
    let missing = scan(&emulator, out.path(), &["--baseline", "/nonexistent/run"]);
    missing.assert_exit(3);
}

#[test]
fn suppressions_active_expired_malformed_and_unused() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    let file = out.path().join("suppressions.toml");
    std::fs::write(
        &file,
        r#"
[[suppression]]
rule = "MACIE-002"
account = "111111111111"
justification = "Repository lands with the data platform migration (SEC-42)"
owner = "security@example.com"
expires = 2099-12-31

[[suppression]]
account = "222222222222"
justification = "Was accepted last year"
owner = "security@example.com"
expires = 2020-01-01

[[suppression]]
account = "333333333333"
owner = "nobody@example.com"
expires = 2099-12-31

[[suppression]]
account = "999999999999"
justification = "Account closed"
owner = "security@example.com"
expires = 2099-12-31
"#,
    )
    .expect("write");
    let run = scan(
        &emulator,
        out.path(),
        &["--suppressions", file.to_str().expect("path")],
    );
    // Bravo's FAIL is not suppressed (its entry expired): the run still fails.
    run.assert_exit(1);
    let alpha = run.finding("111111111111", "us-east-1", "MACIE-002");
    assert_eq!(
        alpha["status"], "FAIL",
        "a suppressed finding keeps its status"
    );
    assert_eq!(alpha["suppressed"], "SUPPRESSED");
    assert!(alpha["suppression_justification"].contains("SEC-42"));
    assert_eq!(alpha["suppression_owner"], "security@example.com");
    assert_eq!(alpha["suppression_expires"], "2099-12-31");
    assert_eq!(
        run.finding("222222222222", "us-east-1", "MACIE-002")["suppressed"],
        ""
    );
    for warning in [
        "expired suppression",
        "malformed suppression",
        "unused suppression",
    ] {
        assert!(
            run.stderr.contains(warning),
            "stderr lacks {warning:?}: {}",
            run.stderr
        );
    }
    let meta = read_json(&run.dir().join("run.json"));
    let report = &meta["triage"]["suppressions"];
    assert_eq!(report["suppressed"], 1);
    assert_eq!(report["expired"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["malformed"].as_array().map(Vec::len), Some(1));
    assert!(
        report["unused"][0]
            .as_str()
            .is_some_and(|u| u.contains("999999999999"))
    );
    let sarif = read_json(&run.dir().join("findings.sarif"));
    let suppressed = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["properties"]["accountId"] == "111111111111" && r["ruleId"] == "MACIE-002")
        .expect("alpha's result");
    assert_eq!(suppressed["suppressions"][0]["kind"], "external");
    assert!(
        suppressed["suppressions"][0]["justification"]
            .as_str()
            .is_some_and(|j| j.contains("SEC-42"))
    );
    let html = std::fs::read_to_string(run.dir().join("report.html")).expect("html");
    assert!(
        html.contains("SEC-42"),
        "the HTML report shows the justification"
    );

    // Suppressing bravo too leaves nothing failing.
    std::fs::write(
        &file,
        "[[suppression]]\nrule = \"MACIE-002\"\naccount = \"*\"\njustification = \"Accepted for the pilot\"\nowner = \"ciso@example.com\"\nexpires = 2099-01-01\n",
    )
    .expect("write");
    scan(
        &emulator,
        out.path(),
        &["--suppressions", file.to_str().expect("path")],
    )
    .assert_exit(0);
    std::fs::write(&file, "[[suppression]\n").expect("write");
    scan(
        &emulator,
        out.path(),
        &["--suppressions", file.to_str().expect("path")],
    )
    .assert_exit(3);
}

#[test]
fn json_logs_parse_line_by_line_and_carry_no_secret() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(
        "[[accounts]]\nid = \"111111111111\"\nname = \"ok\"\n\n[[accounts]]\nid = \"222222222222\"\nname = \"denied\"\nassume_role = \"deny\"\n",
    );
    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY1";
    const SESSION_TOKEN: &str = "FwoGZXIvYXdzSESSIONTOKENSECRET0123456789";
    let run = emulator
        .scan()
        .regions("us-east-1")
        .arg("-vv")
        .arg("--log-format")
        .arg("json")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .run();
    run.assert_exit(2);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        lines.len() > 3,
        "debug logging produced lines: {}",
        run.stderr
    );
    for line in &lines {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            parsed["level"].is_string() && parsed["timestamp"].is_string(),
            "{line}"
        );
    }
    let mut everything = format!("{}\n{}", run.stdout, run.stderr);
    for entry in std::fs::read_dir(run.dir())
        .expect("run dir")
        .filter_map(Result::ok)
    {
        everything.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    for secret in [
        SECRET_KEY,
        SESSION_TOKEN,
        "SECRETKEY1",
        "SESSIONTOKENSECRET",
    ] {
        assert!(!everything.contains(secret), "a secret leaked: {secret}");
    }
}
