//! Operating it unattended: the severity gate, baselines and drift, suppressions, and logs that
//! pipelines can parse and that never carry a secret.

use crate::common;

use std::path::Path;

use common::{Account, Emulator, ScanRun, Scenario};
use serde_json::{Value, json};

/// A: Macie on for 45 days without a repository (MACIE-002 FAIL, medium). B: the same.
/// C: Macie on for 10 days without a repository (MACIE-002 WARN).
fn drift() -> Scenario {
    Scenario::new()
        .account(Account::new("111111111111", "alpha").macie("us-east-1", 45))
        .account(Account::new("222222222222", "bravo").macie("us-east-1", 45))
        .account(Account::new("333333333333", "charlie").macie("us-east-1", 10))
}

fn start() -> Emulator {
    let mut emulator = Emulator::start();
    emulator.load_scenario(drift().toml());
    emulator
}

/// The configured scope of these tests: the three scenario accounts (not the management
/// account), in us-east-1. A run over it is full; flags narrowing it make a partial run.
fn drift_config(regions: &str) -> String {
    format!(
        "{}\n[scope]\naccounts = [\"111111111111\", \"222222222222\", \"333333333333\"]\nregions = [{regions}]\n",
        common::TEST_CONFIG
    )
}

/// Scans the configured scope of [`drift_config`] in us-east-1, with `args`.
fn scan(emulator: &Emulator, out: &Path, args: &[&str]) -> ScanRun {
    scan_with(emulator, out, &drift_config("\"us-east-1\""), args)
}

/// Scans with the configuration `config` and `args`.
fn scan_with(emulator: &Emulator, out: &Path, config: &str, args: &[&str]) -> ScanRun {
    let mut scan = emulator.scan().config(config).output_dir(out);
    for arg in args {
        scan = scan.arg(arg);
    }
    let run = scan.run();
    // Run ids have a one-second resolution; keep consecutive runs apart.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run
}

/// The run directory `out/latest` points at, if any.
fn latest(out: &Path) -> Option<std::path::PathBuf> {
    macie_audit::run_dir::latest(out).and_then(|dir| dir.canonicalize().ok())
}

fn canonical(run: &ScanRun) -> Option<std::path::PathBuf> {
    run.dir().canonicalize().ok()
}

/// The baseline state of a rule's finding in us-east-1 (empty: none).
fn state(run: &ScanRun, account: &str, rule: &str) -> String {
    run.finding(account, "us-east-1", rule)["baseline_state"].clone()
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
    let html = common::all_html(run.dir());
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

/// The drift scenario with a fourth account whose audit role is always denied, as some account
/// always is in a real organization.
fn with_denied() -> Scenario {
    drift().account(
        Account::new("444444444444", "delta")
            .with("assume_role = \"deny\"")
            .macie("us-east-1", 45),
    )
}

#[test]
fn the_nightly_recipe_keeps_working_on_an_organization_that_is_never_complete() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(with_denied().toml());
    let out = tempfile::tempdir().expect("temp");
    // No [scope] accounts: the whole organization, whose delta account is never reachable.
    let config = format!(
        "{}\n[scope]\nregions = [\"us-east-1\"]\n",
        common::TEST_CONFIG
    );
    let nightly = [
        "-q",
        "--baseline",
        "latest",
        "--fail-on",
        "high",
        "--fail-on-new",
    ];

    let first = scan_with(&emulator, out.path(), &config, &nightly);
    first.assert_exit(2);
    assert_eq!(
        first.status("444444444444", "us-east-1", "MACIE-001"),
        "ERROR"
    );
    let failing: Vec<_> = first
        .findings()
        .into_iter()
        .filter(|f| f["status"] == "FAIL" || f["status"] == "WARN")
        .collect();
    assert!(failing.len() >= 3, "{failing:?}");
    assert!(
        failing.iter().all(|f| f["baseline_state"] == "NEW"),
        "no baseline yet: every failure is NEW: {failing:?}"
    );
    assert!(
        first
            .stdout
            .contains("warning: --baseline latest: no full run"),
        "{}",
        first.stdout
    );
    let meta = read_json(&first.dir().join("run.json"));
    assert_eq!(meta["triage"]["baseline"]["run_id"], Value::Null);
    assert!(
        meta["triage"]["baseline"]["warning"]
            .as_str()
            .is_some_and(|w| w.contains("no full run")),
        "{meta}"
    );
    assert_eq!(meta["scope"]["partial"], false);
    assert_eq!(
        latest(out.path()),
        canonical(&first),
        "an incomplete full run is latest"
    );

    let second = scan_with(&emulator, out.path(), &config, &nightly);
    second.assert_exit(2);
    let findings = second.findings();
    assert!(findings.iter().all(|f| f["baseline_state"] != "NEW"));
    for (account, rule) in [
        ("111111111111", "MACIE-002"),
        ("222222222222", "MACIE-002"),
        ("333333333333", "MACIE-002"),
    ] {
        assert_eq!(
            state(&second, account, rule),
            "UNCHANGED",
            "{account} {rule}"
        );
    }
    assert_eq!(
        state(&second, "444444444444", "MACIE-002"),
        "",
        "ERROR before and now"
    );
    let meta = read_json(&second.dir().join("run.json"));
    assert_eq!(meta["triage"]["baseline"]["new"], 0);
    assert_eq!(
        meta["triage"]["baseline"]["run_id"],
        first.evidence().header.run_id
    );
    assert_eq!(meta["triage"]["baseline"]["warning"], Value::Null);
    assert_eq!(latest(out.path()), canonical(&second));
}

#[test]
fn a_check_that_could_not_be_made_is_not_rechecked_then_previously_unchecked() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    scan(&emulator, out.path(), &[]).assert_exit(1);

    // Bravo's role is denied: its MACIE-002 FAIL is not re-checked, not resolved.
    emulator.set_account(json!({"account": "222222222222", "assume_role": "deny"}));
    let denied = scan(&emulator, out.path(), &["--baseline", "latest"]);
    denied.assert_exit(2);
    assert_eq!(
        denied.status("222222222222", "us-east-1", "MACIE-002"),
        "ERROR"
    );
    assert_eq!(state(&denied, "222222222222", "MACIE-002"), "NOT_RECHECKED");
    assert_eq!(
        state(&denied, "222222222222", "MACIE-001"),
        "",
        "passing before"
    );
    assert_eq!(state(&denied, "111111111111", "MACIE-002"), "UNCHANGED");
    let meta = read_json(&denied.dir().join("run.json"));
    let baseline = &meta["triage"]["baseline"];
    assert_eq!(baseline["not_rechecked"], 1);
    assert_eq!(baseline["resolved"], json!([]), "nothing resolved");
    assert!(
        denied
            .stdout
            .contains("0 new, 2 unchanged, 0 resolved, 1 not re-checked, 0 previously unchecked"),
        "{}",
        denied.stdout
    );
    let sarif = read_json(&denied.dir().join("findings.sarif"));
    let bravo = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["properties"]["accountId"] == "222222222222" && r["ruleId"] == "MACIE-002")
        .cloned()
        .expect("bravo's MACIE-002 result");
    assert_eq!(bravo["baselineState"], "updated");
    assert_eq!(bravo["properties"]["baselineState"], "NOT_RECHECKED");

    // Reachable again: the FAIL is one the baseline could not see, not a new one, and
    // --fail-on-new does not fail on it.
    emulator.set_account(json!({"account": "222222222222", "assume_role": "allow"}));
    let back = scan(
        &emulator,
        out.path(),
        &["--baseline", "latest", "--fail-on-new"],
    );
    back.assert_exit(0);
    assert_eq!(
        state(&back, "222222222222", "MACIE-002"),
        "PREVIOUSLY_UNCHECKED"
    );
    assert_eq!(state(&back, "111111111111", "MACIE-002"), "UNCHANGED");
    let meta = read_json(&back.dir().join("run.json"));
    assert_eq!(meta["triage"]["baseline"]["previously_unchecked"], 1);
    assert_eq!(meta["triage"]["baseline"]["new"], 0);
    let ocsf = std::fs::read_to_string(back.dir().join("findings.ocsf.jsonl")).expect("ocsf");
    assert!(ocsf.contains("\"baseline_state\":\"PREVIOUSLY_UNCHECKED\""));
    let html = common::all_html(back.dir());
    assert!(html.contains("PREVIOUSLY_UNCHECKED"));
    assert!(html.contains("1 previously unchecked"));
}

#[test]
fn partial_runs_say_so_and_leave_latest_alone() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    let two_regions = drift_config("\"us-east-1\", \"eu-west-1\"");
    let full = scan_with(&emulator, out.path(), &two_regions, &[]);
    full.assert_exit(1);
    assert_eq!(latest(out.path()), canonical(&full));

    let scope_of = |run: &ScanRun| read_json(&run.dir().join("run.json"))["scope"].clone();
    let accounts = scan_with(
        &emulator,
        out.path(),
        &two_regions,
        &["--accounts", "111111111111"],
    );
    let scope = scope_of(&accounts);
    assert_eq!(scope["partial"], true);
    assert_eq!(scope["accounts"], json!(["111111111111"]));
    assert!(
        scope["description"]
            .as_str()
            .is_some_and(|d| d.contains("111111111111")),
        "{scope}"
    );
    assert!(
        accounts
            .stdout
            .contains("PARTIAL SCOPE: only account 111111111111"),
        "{}",
        accounts.stdout
    );
    let html = std::fs::read_to_string(accounts.dir().join("report.html")).expect("html");
    assert!(html.contains("PARTIAL SCOPE"));
    let sarif = read_json(&accounts.dir().join("findings.sarif"));
    assert_eq!(sarif["runs"][0]["properties"]["partialScope"], true);
    let ocsf = std::fs::read_to_string(accounts.dir().join("findings.ocsf.jsonl")).expect("ocsf");
    assert!(ocsf.contains("\"partial_scope\":true"));

    let regions = scan_with(
        &emulator,
        out.path(),
        &two_regions,
        &["--regions", "us-east-1"],
    );
    let scope = scope_of(&regions);
    assert_eq!(scope["partial"], true);
    assert_eq!(scope["regions"], json!(["us-east-1"]));

    let shard = scan_with(&emulator, out.path(), &two_regions, &["--shard", "1/2"]);
    let scope = scope_of(&shard);
    assert_eq!(scope["partial"], true);
    assert_eq!(scope["shard"], json!({"index": 1, "count": 2}));

    assert_eq!(
        latest(out.path()),
        canonical(&full),
        "no partial run is latest"
    );
    // Flags that only repeat the configuration do not make a run partial.
    let same = scan_with(
        &emulator,
        out.path(),
        &two_regions,
        &[
            "--regions",
            "eu-west-1,us-east-1",
            "--accounts",
            "333333333333,111111111111,222222222222",
        ],
    );
    assert_eq!(scope_of(&same)["partial"], false);
    assert_eq!(latest(out.path()), canonical(&same));
}

#[test]
fn a_baseline_compares_only_the_scope_both_runs_cover() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    let two_regions = drift_config("\"us-east-1\", \"eu-west-1\"");
    // Macie is off in eu-west-1: every account fails MACIE-001 there.
    let east_only = scan_with(
        &emulator,
        out.path(),
        &two_regions,
        &["--regions", "us-east-1"],
    );
    east_only.assert_exit(1);

    let full = scan_with(
        &emulator,
        out.path(),
        &two_regions,
        &[
            "--baseline",
            east_only.dir().to_str().expect("path"),
            "--fail-on-new",
        ],
    );
    full.assert_exit(0);
    let west: Vec<_> = full
        .findings()
        .into_iter()
        .filter(|f| f["region"] == "eu-west-1")
        .collect();
    assert!(west.iter().any(|f| f["status"] == "FAIL"), "{west:?}");
    assert!(
        west.iter().all(|f| f["baseline_state"].is_empty()),
        "a Region the baseline did not cover has no baseline state: {west:?}"
    );
    assert_eq!(state(&full, "111111111111", "MACIE-002"), "UNCHANGED");

    // The other way round: the full run's eu-west-1 failures are outside this run, not resolved.
    let east_again = scan_with(
        &emulator,
        out.path(),
        &two_regions,
        &["--regions", "us-east-1", "--baseline", "latest"],
    );
    let meta = read_json(&east_again.dir().join("run.json"));
    let baseline = &meta["triage"]["baseline"];
    assert_eq!(baseline["run_id"], full.evidence().header.run_id);
    assert_eq!(baseline["resolved"], json!([]), "{baseline}");
    assert_eq!(baseline["unchanged"], 3);
    assert_eq!(baseline["new"], 0);
}

/// A fenced block of the README: the lines after the first line that starts with `marker` up to
/// the closing fence.
fn readme_block_after(marker: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).expect("README.md");
    readme
        .lines()
        .skip_while(|line| !line.trim_start().starts_with(marker))
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with("```"))
        .map(str::to_owned)
        .collect()
}

/// The README's nightly recipe, exactly as written (its command line and its suppressions
/// example), run twice against the bundled demo organization, one of whose accounts can never be
/// assumed: each night scans, uploads and exits 2 (incomplete); the first warns that there is no
/// baseline yet and becomes `latest`; the second has no NEW finding and marks what failed before
/// UNCHANGED.
#[test]
fn the_readme_nightly_recipe_runs_as_written_on_the_demo_organization() {
    let recipe = readme_block_after("# Nightly")
        .join("\n")
        .replace("\\\n", " ");
    let words: Vec<&str> = recipe.split_whitespace().collect();
    assert_eq!(words[..3], ["macie-audit", "-q", "scan"], "{recipe}");
    let suppressions = readme_block_after("```toml").join("\n");
    assert!(suppressions.contains("[[suppression]]"), "{suppressions}");

    let mut emulator = Emulator::start();
    let demo =
        std::fs::read_to_string(common::repo_root().join("tests/emulator/scenarios/demo.toml"))
            .expect("the demo scenario");
    emulator.load_scenario(&demo);
    let config = std::fs::read_to_string(
        common::repo_root().join("tests/emulator/scenarios/demo-config.toml"),
    )
    .expect("the demo configuration");
    let reports = tempfile::tempdir().expect("reports");
    let night = || {
        let mut scan = emulator
            .scan()
            .config(&config)
            .output_dir(reports.path())
            .file("suppressions.toml", &suppressions)
            .arg("-q");
        for word in &words[3..] {
            scan = scan.arg(word);
        }
        let run = scan.run();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        run
    };

    let first = night();
    first.assert_exit(2);
    assert!(
        first
            .stdout
            .contains("uploaded: s3://audit-evidence/macie/"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("no full run") || first.stdout.contains("no baseline"),
        "the first night says there is no baseline yet:\n{}",
        first.stdout
    );
    assert_eq!(latest(reports.path()), canonical(&first));
    let denied = "493061527841";
    assert_eq!(first.status(denied, "us-east-1", "MACIE-001"), "ERROR");
    assert!(
        first.stderr.contains(denied) && first.stderr.lines().count() <= 3,
        "-q: one error line naming the account that could not be checked:\n{}",
        first.stderr
    );

    let second = night();
    second.assert_exit(2);
    let findings = second.findings();
    assert!(
        findings.iter().all(|f| f["baseline_state"] != "NEW"),
        "nothing is new on the second night"
    );
    assert!(
        findings.iter().any(|f| f["baseline_state"] == "UNCHANGED"),
        "what failed the first night is UNCHANGED"
    );
    assert_eq!(latest(reports.path()), canonical(&second));
}

/// A baseline that is cut short, fails its manifest or is not a run is refused (exit 3, naming
/// the reason) before anything is scanned: a damaged baseline would make every failure NEW.
#[test]
fn a_damaged_baseline_is_refused_before_scanning() {
    let emulator = start();
    let out = tempfile::tempdir().expect("temp");
    let first = scan(&emulator, out.path(), &[]);
    first.assert_exit(1);
    let runs = |dir: &Path| {
        std::fs::read_dir(dir)
            .expect("runs")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    };
    let baselines = tempfile::tempdir().expect("temp");
    let copy = |name: &str| {
        let dir = baselines.path().join(name);
        common::copy_run(first.dir(), &dir);
        dir
    };
    let evidence_of =
        |dir: &Path| std::fs::read_to_string(dir.join("evidence.jsonl")).expect("evidence");

    let truncated = copy("truncated");
    let text = evidence_of(&truncated);
    let without_end: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"run_end\""))
        .collect();
    std::fs::write(
        truncated.join("evidence.jsonl"),
        without_end.join("\n") + "\n",
    )
    .expect("write");
    std::fs::remove_file(truncated.join("SHA256SUMS")).expect("no manifest to fail first");

    let tampered = copy("tampered");
    let text = evidence_of(&tampered);
    std::fs::write(
        tampered.join("evidence.jsonl"),
        text.replacen("ENABLED", "PAUSED", 1),
    )
    .expect("write");

    let garbage = copy("garbage");
    std::fs::write(garbage.join("evidence.jsonl"), "not evidence\n").expect("write");
    std::fs::remove_file(garbage.join("SHA256SUMS")).expect("no manifest to fail first");

    let empty = baselines.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");

    for (dir, reason) in [
        (
            &truncated,
            "truncated: its evidence.jsonl has no run_end record",
        ),
        (
            &tampered,
            "does not match its SHA256SUMS (modified: evidence.jsonl)",
        ),
        (&garbage, "evidence.jsonl is damaged: line 1"),
        (&empty, "not a run directory"),
    ] {
        let before = runs(out.path());
        let refused = scan(
            &emulator,
            out.path(),
            &["--baseline", dir.to_str().expect("path"), "--fail-on-new"],
        );
        assert_eq!(refused.code, 3, "{reason}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(reason),
            "{reason}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("nothing was scanned"),
            "{}",
            refused.stderr
        );
        assert_eq!(runs(out.path()), before, "{reason}: a run was written");
    }
}
