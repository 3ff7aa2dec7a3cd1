//! `macie-audit remediate` against emulated organizations: both strategies turn MACIE-002/003/004
//! into PASS, a dry run writes nothing, a second apply changes nothing, shared policies keep their
//! statements, a configuration pointing elsewhere is left alone without --force, and a failing
//! step stops its account with the log saying so.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Emulator, TEST_CONFIG, bucket_policy, key_policy};
use macie_audit::evidence::RunEvidence;
use macie_audit::findings::Status;
use serde_json::Value;
use sha2::{Digest, Sha256};

const LOG_ARCHIVE: &str = "333333333333";

/// One `macie-audit remediate` invocation's result.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    /// The run directory it wrote, if any.
    run_dir: Option<PathBuf>,
}

impl Outcome {
    fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn dir(&self) -> &Path {
        self.run_dir.as_deref().expect("a run directory")
    }

    /// The re-scan's findings: (account, Region, rule) → status.
    fn statuses(&self) -> BTreeMap<(String, String, String), Status> {
        let run = RunEvidence::load(&self.dir().join("evidence.jsonl")).expect("evidence");
        common::judged(&run)
            .into_iter()
            .map(|f| ((f.account_id, f.region, f.rule_id), f.status))
            .collect()
    }

    /// `remediation.jsonl`, parsed.
    fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir().join("remediation.jsonl"))
            .expect("remediation.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    fn steps(&self) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|r| r["record"] == "step")
            .collect()
    }

    /// The re-scan's evidence of a bucket's policy.
    fn bucket_policy(&self, bucket: &str) -> Value {
        let run = RunEvidence::load(&self.dir().join("evidence.jsonl")).expect("evidence");
        let text = run.buckets[bucket]
            .policy
            .as_ref()
            .and_then(|p| p.response().cloned())
            .flatten()
            .expect("a bucket policy");
        serde_json::from_str(&text).expect("JSON policy")
    }

    fn key_policy(&self, arn_prefix: &str) -> Value {
        let run = RunEvidence::load(&self.dir().join("evidence.jsonl")).expect("evidence");
        let key = run
            .keys
            .values()
            .find(|k| k.arn.starts_with(arn_prefix))
            .expect("the key");
        let text = key
            .policy
            .as_ref()
            .and_then(|p| p.response().cloned())
            .expect("a key policy");
        serde_json::from_str(&text).expect("JSON policy")
    }
}

/// Runs `remediate` against the emulator, with `config` appended to the test configuration
/// (or instead of it, when it has its own `[requests]`), writing runs below `workdir/reports`.
fn remediate(emulator: &Emulator, workdir: &Path, config: &str, args: &[&str]) -> Outcome {
    let config_path = workdir.join("config.toml");
    let text = if config.contains("[requests]") {
        config.to_owned()
    } else {
        format!("{TEST_CONFIG}\n{config}")
    };
    std::fs::write(&config_path, text).expect("config");
    let reports = workdir.join("reports");
    let before = run_dirs(&reports);
    let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .current_dir(workdir)
        .arg("remediate")
        .arg("--config")
        .arg(&config_path)
        .arg("--output-dir")
        .arg(&reports)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(emulator.sdk_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run macie-audit remediate");
    let run_dir = run_dirs(&reports)
        .into_iter()
        .filter(|d| !before.contains(d))
        .max();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        run_dir,
    }
}

fn run_dirs(reports: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(reports)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether an operation label writes (`kms:CreateKey`, `s3:PutBucketPolicy`…).
fn is_write(label: &str) -> bool {
    let operation = label.split_once(':').map_or(label, |(_, op)| op);
    [
        "Put", "Create", "Enable", "Update", "Tag", "Delete", "Schedule", "Disable",
    ]
    .iter()
    .any(|verb| operation.starts_with(verb))
}

fn writes(emulator: &Emulator) -> Vec<String> {
    let counters = emulator.counters();
    counters.0["operations"]
        .as_object()
        .map(|ops| {
            ops.keys()
                .filter(|label| is_write(label))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn status(
    statuses: &BTreeMap<(String, String, String), Status>,
    account: &str,
    region: &str,
    rule: &str,
) -> Status {
    statuses[&(account.to_owned(), region.to_owned(), rule.to_owned())]
}

fn assert_passes(outcome: &Outcome, cells: &[(&str, &str)]) {
    let statuses = outcome.statuses();
    for (account, region) in cells {
        for rule in ["MACIE-002", "MACIE-003", "MACIE-004"] {
            assert_eq!(
                status(&statuses, account, region, rule),
                Status::Pass,
                "{account} {region} {rule}\n--- stdout\n{}",
                outcome.stdout
            );
        }
    }
}

/// Verifies `SHA256SUMS` of a run directory, and that it covers the remediation log; and that
/// the re-scan's run says it covers only part of the organization.
fn assert_manifest_covers_the_log(dir: &Path) {
    let metadata: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("run.json"))
            .expect("run.json is JSON");
    assert_eq!(metadata["scope"]["partial"], true, "{}", metadata["scope"]);
    let manifest = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("SHA256SUMS");
    assert!(manifest.contains("  remediation.jsonl\n"), "{manifest}");
    for line in manifest.lines() {
        let (digest, name) = line.split_once("  ").expect("digest  name");
        let bytes = std::fs::read(dir.join(name)).expect("listed file");
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, actual, "{name}");
    }
}

fn macie(region: &str, days: u32, export: Option<&str>) -> String {
    let export = export.map_or_else(String::new, |e| format!("export = {e}\n"));
    format!("[[accounts.macie]]\nregion = \"{region}\"\ncreated_days_ago = {days}\n{export}")
}

// ---------------------------------------------------------------------------------------------
// --strategy own

const NO_REPOSITORY: &str = "111111111111";
const BROKEN: &str = "222222222222";
const LEFTOVERS: &str = "555555555555";
const ELSEWHERE: &str = "444444444444";

/// One account per failure kind, each with its own repository (or none).
fn own_scenario() -> String {
    let admin_only = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let keep_me = r#"{"Version":"2012-10-17","Statement":[{"Sid":"KeepMe","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::${BUCKET}/*"}]}"#;
    format!(
        r#"[organization]
roles = ["MacieRemediationRole"]

# MACIE-002: nothing configured, FAIL in one Region and WARN (grace period) in the other.
[[accounts]]
id = "{NO_REPOSITORY}"
name = "no-repository"
{a1}{a2}
# MACIE-003 and MACIE-004: a repository under remediation's names, with broken policies and
# Block Public Access partly off.
[[accounts]]
id = "{BROKEN}"
name = "broken-policies"
{b1}
[[accounts.keys]]
alias = "macie-discovery-results"
region = "us-east-1"
policy = '''{admin_only}'''

[[accounts.buckets]]
name = "macie-discovery-results-{BROKEN}-us-east-1"
region = "us-east-1"
block_public_access = {{ block_public_acls = true, ignore_public_acls = true, block_public_policy = false, restrict_public_buckets = false }}
policy = '''{keep_me}'''

# MACIE-002 again, with the leftovers of an interrupted apply: the key and the bucket exist.
[[accounts]]
id = "{LEFTOVERS}"
name = "leftovers"
{c1}
[[accounts.keys]]
alias = "macie-discovery-results"
region = "us-east-1"

[[accounts.buckets]]
name = "macie-discovery-results-{LEFTOVERS}-us-east-1"
region = "us-east-1"

# A configuration naming another repository (broken too): left alone without --force.
[[accounts]]
id = "{ELSEWHERE}"
name = "elsewhere"
{d1}
[[accounts.keys]]
alias = "legacy"
region = "us-east-1"

[[accounts.buckets]]
name = "legacy-results-{ELSEWHERE}"
region = "us-east-1"
"#,
        a1 = macie("us-east-1", 100, None),
        a2 = macie("eu-west-1", 5, None),
        b1 = macie(
            "us-east-1",
            100,
            Some(&format!(
                r#"{{ bucket = "macie-discovery-results-{BROKEN}-us-east-1", key_prefix = "macie/", kms_key_arn = "key:macie-discovery-results" }}"#
            ))
        ),
        c1 = macie("us-east-1", 100, None),
        d1 = macie(
            "us-east-1",
            100,
            Some(&format!(
                r#"{{ bucket = "legacy-results-{ELSEWHERE}", key_prefix = "old/", kms_key_arn = "key:legacy" }}"#
            ))
        ),
    )
}

#[test]
fn own_strategy_fixes_every_failure_kind_and_a_second_apply_changes_nothing() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&own_scenario());
    let workdir = tempfile::tempdir().expect("temp");
    let regions = ["--regions", "us-east-1,eu-west-1"];

    // The dry run: the plan, and only reads.
    emulator.reset_counters();
    let dry = remediate(&emulator, workdir.path(), "", &regions);
    dry.assert_exit(0);
    assert_eq!(
        writes(&emulator),
        Vec::<String>::new(),
        "a dry run writes nothing"
    );
    assert!(dry.run_dir.is_none(), "a dry run writes no run");
    assert!(
        dry.stdout.contains("Dry run: nothing was changed"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(&format!(
            "macie-discovery-results-{NO_REPOSITORY}-eu-west-1"
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("$ KEY_ARN=$(aws kms create-key --region 'us-east-1'")
    );
    assert!(dry.stdout.contains("REFUSED"), "{}", dry.stdout);

    // The same plan as JSON.
    let json = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--format", "json"]].concat(),
    );
    json.assert_exit(0);
    let plan: Value = serde_json::from_str(&json.stdout).expect("JSON plan");
    let operations: Vec<&str> = plan["plan"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["steps"].as_array().expect("steps"))
        .map(|s| s["action"]["operation"].as_str().expect("operation"))
        .collect();
    assert_eq!(operations[0], "kms:CreateKey");
    assert!(operations.contains(&"macie2:PutClassificationExportConfiguration"));
    let elsewhere = plan["plan"]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["account_id"] == ELSEWHERE)
        .expect("the refused account");
    assert_eq!(elsewhere["decision"]["decision"], "refused");
    // The broken repository is fixed in place: no key or bucket created there.
    let broken_ops: Vec<&str> = plan["plan"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["account_id"] == BROKEN)
        .flat_map(|g| g["steps"].as_array().expect("steps"))
        .map(|s| s["action"]["operation"].as_str().expect("operation"))
        .collect();
    assert!(
        !broken_ops.contains(&"kms:CreateKey") && !broken_ops.contains(&"s3:CreateBucket"),
        "{broken_ops:?}"
    );

    // Without a terminal and without --yes: refused, nothing touched.
    emulator.reset_counters();
    let refused = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply"]].concat(),
    );
    refused.assert_exit(3);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        emulator.counters().0["operations"]
            .as_object()
            .is_none_or(|o| o.is_empty())
    );

    // The apply.
    emulator.reset_counters();
    let applied = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes"]].concat(),
    );
    // The refused account keeps the run from being all clear.
    applied.assert_exit(1);
    assert_passes(
        &applied,
        &[
            (NO_REPOSITORY, "us-east-1"),
            (NO_REPOSITORY, "eu-west-1"),
            (BROKEN, "us-east-1"),
            (LEFTOVERS, "us-east-1"),
        ],
    );
    let statuses = applied.statuses();
    assert_eq!(
        status(&statuses, NO_REPOSITORY, "us-east-1", "MACIE-005"),
        Status::Pass
    );
    assert!(
        !statuses.keys().any(|(account, _, _)| account == ELSEWHERE),
        "only the touched account-Regions are re-scanned"
    );
    // Nothing was written in the refused account.
    let counters = emulator.counters();
    for label in writes(&emulator) {
        assert_eq!(
            counters.in_account(ELSEWHERE, &label),
            0,
            "{label} in {ELSEWHERE}"
        );
    }
    // The changes were made with the remediation role, never the audit role.
    let steps = applied.steps();
    assert!(steps.iter().all(|s| {
        s["role_arn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(":role/MacieRemediationRole"))
    }));
    assert!(
        steps
            .iter()
            .all(|s| s["status"] == "changed" || s["status"] == "unchanged")
    );
    // Leftovers are reused, not created twice.
    let leftover = |operation: &str| {
        steps
            .iter()
            .filter(|s| s["account_id"] == LEFTOVERS && s["operation"] == operation)
            .count()
    };
    assert_eq!(leftover("kms:CreateKey"), 0);
    assert_eq!(leftover("s3:CreateBucket"), 0);
    assert_eq!(leftover("kms:PutKeyPolicy"), 1);
    // Existing statements survive.
    let bucket = applied.bucket_policy(&format!("macie-discovery-results-{BROKEN}-us-east-1"));
    let sids: Vec<&str> = bucket["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(sids[0], "KeepMe", "{sids:?}");
    assert!(sids.contains(&"AllowMacieToWrite") && sids.contains(&"DenyNonTLS"));
    let key = applied.key_policy(&format!("arn:aws:kms:us-east-1:{BROKEN}:"));
    assert_eq!(key["Statement"][0]["Sid"], "Admin");
    // Every write step has its request id, before and after.
    for step in steps.iter().filter(|s| s["status"] == "changed") {
        let operation = step["operation"].as_str().expect("operation");
        let call = step["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .find(|c| c["operation"] == operation)
            .unwrap_or_else(|| panic!("{operation} made no call: {step}"));
        assert!(
            call["request_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{step}"
        );
        assert!(!step["after"].is_null(), "{step}");
    }
    let policy_step = steps
        .iter()
        .find(|s| s["account_id"] == BROKEN && s["operation"] == "s3:PutBucketPolicy")
        .expect("the broken bucket's policy step");
    assert_eq!(policy_step["before"]["Statement"][0]["Sid"], "KeepMe");
    assert_manifest_covers_the_log(applied.dir());
    assert!(
        applied.stdout.contains("MACIE-004 PASS"),
        "{}",
        applied.stdout
    );
    let log = applied.log();
    assert_eq!(log[0]["record"], "remediation");
    assert_eq!(log.last().expect("end")["record"], "end");
    assert_eq!(log.last().expect("end")["failed"], 0);

    // An independent scan agrees.
    let scan = emulator.scan().regions("us-east-1,eu-west-1").run();
    for account in [NO_REPOSITORY, BROKEN, LEFTOVERS] {
        assert_eq!(scan.status(account, "us-east-1", "MACIE-002"), "PASS");
        assert_eq!(scan.status(account, "us-east-1", "MACIE-003"), "PASS");
        assert_eq!(scan.status(account, "us-east-1", "MACIE-004"), "PASS");
    }
    assert_eq!(scan.status(NO_REPOSITORY, "eu-west-1", "MACIE-002"), "PASS");
    assert_eq!(scan.status(ELSEWHERE, "us-east-1", "MACIE-004"), "FAIL");

    // The second apply changes nothing, and says so.
    emulator.reset_counters();
    let again = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes"]].concat(),
    );
    again.assert_exit(1);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&emulator), Vec::<String>::new());
    assert!(again.run_dir.is_none());

    // --force repoints the refused account; its old repository is left as it was.
    let forced = remediate(
        &emulator,
        workdir.path(),
        "",
        &["--regions", "us-east-1", "--apply", "--yes", "--force"],
    );
    forced.assert_exit(0);
    assert_passes(&forced, &[(ELSEWHERE, "us-east-1")]);
    let export = forced
        .steps()
        .into_iter()
        .find(|s| s["operation"] == "macie2:PutClassificationExportConfiguration")
        .expect("the export step");
    assert_eq!(
        export["before"]["bucket_name"],
        format!("legacy-results-{ELSEWHERE}")
    );
    let counters = emulator.counters();
    assert_eq!(counters.operation("s3:DeleteBucket"), 0);
    assert_eq!(counters.operation("kms:ScheduleKeyDeletion"), 0);

    // And then there is nothing left to do anywhere.
    emulator.reset_counters();
    let clean = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes"]].concat(),
    );
    clean.assert_exit(0);
    assert!(
        clean.stdout.contains("Nothing to change"),
        "{}",
        clean.stdout
    );
    assert_eq!(writes(&emulator), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// --strategy central

const NEW_MEMBER: &str = "111111111111";
const UNLISTED: &str = "222222222222";
const ALREADY: &str = "444444444444";
const OWN_REPO: &str = "666666666666";
const OPT_IN: &str = "777777777777";

const CENTRAL_CONFIG: &str = r#"
[remediation]
central_bucket = "central-macie-results"
central_key_arn = "CENTRAL_KEY_ARN"
"#;

fn central_scenario() -> String {
    // Existing statements the merge must keep: an administrator, auditors, and Macie for ALREADY.
    let key = key_policy(&[ALREADY], true, "macie.amazonaws.com").replace(
        r#"{"Sid":"Admin""#,
        r#"{"Sid":"Auditors","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:role/Auditor"},"Action":"kms:Decrypt","Resource":"*"},{"Sid":"Admin""#,
    );
    let bucket = bucket_policy(&[ALREADY], "false", "macie/", "macie.amazonaws.com").replace(
        r#"{"Sid":"MaciePut""#,
        r#"{"Sid":"AuditorsRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:role/Auditor"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::${BUCKET}/*"},{"Sid":"MaciePut""#,
    );
    let central = format!(
        r#"{{ bucket = "central-macie-results", key_prefix = "macie/", kms_key_arn = "key:{LOG_ARCHIVE}:us-east-1:central", expected_bucket_owner = "{LOG_ARCHIVE}" }}"#
    );
    format!(
        r#"[organization]
roles = ["MacieRemediationRole"]

[[accounts]]
id = "{LOG_ARCHIVE}"
name = "log-archive"

[[accounts.keys]]
alias = "central"
region = "us-east-1"
policy = '''{key}'''
rotation = true

[[accounts.buckets]]
name = "central-macie-results"
region = "us-east-1"
block_public_access = true
policy = '''{bucket}'''
versioning = true
encryption = {{ sse = "aws:kms", kms_key = "key:central" }}

# MACIE-002: nothing configured.
[[accounts]]
id = "{NEW_MEMBER}"
name = "new-member"
{new}
# MACIE-003 and MACIE-004: exports to the central repository, which does not let it in.
[[accounts]]
id = "{UNLISTED}"
name = "unlisted"
{unlisted}
# Sound already: untouched.
[[accounts]]
id = "{ALREADY}"
name = "already"
{already}
# Its own (missing) repository: left alone without --force.
[[accounts]]
id = "{OWN_REPO}"
name = "own-repository"
{own}
# An opt-in Region: Macie's Regional principal, into a default-Region bucket.
[[accounts]]
id = "{OPT_IN}"
name = "opt-in"
{opt_in}
"#,
        new = macie("us-east-1", 100, None),
        unlisted = macie("us-east-1", 100, Some(&central)),
        already = macie("us-east-1", 100, Some(&central)),
        own = macie(
            "us-east-1",
            100,
            Some(
                r#"{ bucket = "own-results-gone", key_prefix = "macie/", kms_key_arn = "arn:aws:kms:us-east-1:666666666666:key/00000000-0000-0000-0000-000000000000" }"#
            )
        ),
        opt_in = macie("af-south-1", 100, None),
    )
}

fn central_key_arn(emulator: &Emulator) -> String {
    let scenario: Value = ureq::get(&format!("{}/_emulator/scenario", emulator.endpoint))
        .call()
        .expect("scenario")
        .into_json()
        .expect("JSON");
    scenario["keys"][format!("{LOG_ARCHIVE}:us-east-1:central")]
        .as_str()
        .expect("the central key")
        .to_owned()
}

#[test]
fn central_strategy_merges_the_shared_policies_and_points_every_account_region_at_them() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&central_scenario());
    let key_arn = central_key_arn(&emulator);
    let config = CENTRAL_CONFIG.replace("CENTRAL_KEY_ARN", &key_arn);
    let workdir = tempfile::tempdir().expect("temp");
    let args = ["--regions", "us-east-1,af-south-1", "--strategy", "central"];

    emulator.reset_counters();
    let dry = remediate(&emulator, workdir.path(), &config, &args);
    dry.assert_exit(0);
    assert_eq!(writes(&emulator), Vec::<String>::new());
    assert!(
        dry.stdout
            .contains("Shared repository changes in account 333333333333"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("{OWN_REPO} (own-repository) us-east-1: REFUSED")),
        "{}",
        dry.stdout
    );

    // One account first: the log-archive account is outside the scope, and still read and
    // updated as the repository's owner.
    let first = remediate(
        &emulator,
        workdir.path(),
        &config,
        &[&args[..], &["--accounts", NEW_MEMBER, "--apply", "--yes"]].concat(),
    );
    first.assert_exit(0);
    assert_passes(&first, &[(NEW_MEMBER, "us-east-1")]);

    emulator.reset_counters();
    let applied = remediate(
        &emulator,
        workdir.path(),
        &config,
        &[&args[..], &["--apply", "--yes"]].concat(),
    );
    applied.assert_exit(1);
    assert_passes(&applied, &[(UNLISTED, "us-east-1"), (OPT_IN, "af-south-1")]);
    // The policies were changed by their owner, once each; the sound account was not touched.
    let counters = emulator.counters();
    assert_eq!(counters.in_account(LOG_ARCHIVE, "kms:PutKeyPolicy"), 1);
    assert_eq!(counters.in_account(LOG_ARCHIVE, "s3:PutBucketPolicy"), 1);
    for label in writes(&emulator) {
        assert_eq!(
            counters.in_account(ALREADY, &label),
            0,
            "{label} in {ALREADY}"
        );
        assert_eq!(
            counters.in_account(OWN_REPO, &label),
            0,
            "{label} in {OWN_REPO}"
        );
    }
    let steps = applied.steps();
    assert_eq!(
        steps[0]["account_id"], LOG_ARCHIVE,
        "the shared repository first"
    );

    // Every existing statement survives, and ours lists the accounts that lacked access.
    let bucket = applied.bucket_policy("central-macie-results");
    let sids: Vec<&str> = bucket["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    for kept in ["DenyInsecure", "AuditorsRead", "MaciePut", "MacieLocation"] {
        assert!(sids.contains(&kept), "{kept} dropped: {sids:?}");
    }
    let ours = bucket["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == "MacieAuditAllowMacieToWrite")
        .expect("our statement");
    assert_eq!(
        ours["Condition"]["StringEquals"]["aws:SourceAccount"],
        serde_json::json!([NEW_MEMBER, UNLISTED, OPT_IN])
    );
    let key = applied.key_policy(&key_arn);
    let key_sids: Vec<&str> = key["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    for kept in ["Auditors", "Admin", "Macie"] {
        assert!(key_sids.contains(&kept), "{kept} dropped: {key_sids:?}");
    }
    assert!(key.to_string().contains("macie.af-south-1.amazonaws.com"));
    assert_manifest_covers_the_log(applied.dir());

    // A second apply changes nothing.
    emulator.reset_counters();
    let again = remediate(
        &emulator,
        workdir.path(),
        &config,
        &[&args[..], &["--apply", "--yes"]].concat(),
    );
    again.assert_exit(1);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&emulator), Vec::<String>::new());

    // --force brings the last one in, merging once more.
    let forced = remediate(
        &emulator,
        workdir.path(),
        &config,
        &[&args[..], &["--apply", "--yes", "--force"]].concat(),
    );
    forced.assert_exit(0);
    assert_passes(&forced, &[(OWN_REPO, "us-east-1")]);
    let bucket = forced.bucket_policy("central-macie-results");
    let ours = bucket["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == "MacieAuditAllowMacieToWrite")
        .expect("our statement");
    assert_eq!(
        ours["Condition"]["StringEquals"]["aws:SourceAccount"],
        serde_json::json!([NEW_MEMBER, UNLISTED, OWN_REPO, OPT_IN])
    );
}

#[test]
fn central_strategy_needs_its_bucket_and_key() {
    let mut emulator = Emulator::start();
    emulator.load_scenario("[[accounts]]\nid = \"111111111111\"\nname = \"a\"\n");
    let workdir = tempfile::tempdir().expect("temp");
    let outcome = remediate(&emulator, workdir.path(), "", &["--strategy", "central"]);
    outcome.assert_exit(3);
    assert!(
        outcome.stderr.contains("remediation.central_bucket"),
        "{}",
        outcome.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Failures

const FAILS: &str = "111111111111";
const SUCCEEDS: &str = "222222222222";
const NO_ROLE: &str = "888888888888";

#[test]
fn a_failing_step_stops_its_account_and_the_log_says_so() {
    let admin_only = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let scenario = format!(
        r#"
[[accounts]]
id = "{FAILS}"
name = "needs-a-new-key"
roles = ["MacieRemediationRole"]
{a}
[[accounts]]
id = "{SUCCEEDS}"
name = "needs-a-policy"
roles = ["MacieRemediationRole"]
{b}
[[accounts.keys]]
alias = "macie-discovery-results"
region = "us-east-1"
policy = '''{admin_only}'''

[[accounts.buckets]]
name = "macie-discovery-results-{SUCCEEDS}-us-east-1"
region = "us-east-1"
block_public_access = true
versioning = true
encryption = {{ sse = "aws:kms", kms_key = "key:macie-discovery-results" }}
policy = '''{policy}'''

# No remediation role here: AssumeRole is denied.
[[accounts]]
id = "{NO_ROLE}"
name = "no-remediation-role"
{c}
"#,
        a = macie("us-east-1", 100, None) + &macie("eu-west-1", 100, None),
        b = macie(
            "us-east-1",
            100,
            Some(&format!(
                r#"{{ bucket = "macie-discovery-results-{SUCCEEDS}-us-east-1", key_prefix = "macie/", kms_key_arn = "key:macie-discovery-results" }}"#
            ))
        ),
        policy = bucket_policy(&[SUCCEEDS], "false", "macie/", "macie.amazonaws.com"),
        c = macie("us-east-1", 100, None),
    );
    let mut emulator = Emulator::start();
    emulator.load_scenario(&scenario);
    emulator.faults(serde_json::json!({"error_fraction": 1.0, "operations": ["kms:CreateKey"]}));
    let workdir = tempfile::tempdir().expect("temp");
    emulator.reset_counters();
    let outcome = remediate(
        &emulator,
        workdir.path(),
        "[requests]\nmax_attempts = 2\ninitial_backoff_ms = 5\nmax_backoff_ms = 50\n",
        &["--regions", "us-east-1,eu-west-1", "--apply", "--yes"],
    );
    outcome.assert_exit(2);
    let steps = outcome.steps();
    let of = |account: &str| -> Vec<&Value> {
        steps
            .iter()
            .filter(|s| s["account_id"] == account)
            .collect()
    };

    // The denied CreateKey stops its account: the first step failed, nothing after it was tried.
    let failing = of(FAILS);
    assert_eq!(failing[0]["operation"], "kms:CreateKey");
    assert_eq!(failing[0]["status"], "failed");
    assert_eq!(failing[0]["error"]["code"], "KMSInternalException");
    assert!(failing[1..].iter().all(|s| s["status"] == "not_attempted"));
    assert!(
        failing[1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("step 1 (kms:CreateKey) failed")),
        "{}",
        failing[1]
    );
    let counters = emulator.counters();
    assert_eq!(counters.in_account(FAILS, "s3:CreateBucket"), 0);
    assert_eq!(
        counters.in_account(FAILS, "macie2:PutClassificationExportConfiguration"),
        0
    );
    assert_eq!(
        counters.faulted("kms:CreateKey"),
        2,
        "retried, then given up"
    );

    // The role that cannot be assumed fails its account's first step.
    let denied = of(NO_ROLE);
    assert_eq!(denied[0]["status"], "failed");
    assert_eq!(
        denied[0]["error"]["kind"], "assume_role_failed",
        "{}",
        denied[0]
    );
    assert!(denied[1..].iter().all(|s| s["status"] == "not_attempted"));

    // Other accounts go on.
    let succeeding = of(SUCCEEDS);
    assert!(!succeeding.is_empty());
    assert!(
        succeeding.iter().all(|s| s["status"] == "changed"),
        "{succeeding:?}"
    );
    assert_passes(&outcome, &[(SUCCEEDS, "us-east-1")]);

    // The log and the output say what happened, account-Region by account-Region.
    let targets: Vec<Value> = outcome
        .log()
        .into_iter()
        .filter(|r| r["record"] == "target")
        .collect();
    let outcome_of = |account: &str, region: &str| {
        targets
            .iter()
            .find(|t| t["account_id"] == account && t["region"] == region)
            .map(|t| t["outcome"].clone())
    };
    assert_eq!(outcome_of(FAILS, "us-east-1"), Some("failed".into()));
    assert_eq!(outcome_of(FAILS, "eu-west-1"), Some("not_attempted".into()));
    assert_eq!(outcome_of(SUCCEEDS, "us-east-1"), Some("applied".into()));
    assert_eq!(outcome_of(NO_ROLE, "us-east-1"), Some("failed".into()));
    assert!(outcome.stdout.contains("FAILED"), "{}", outcome.stdout);
    assert_manifest_covers_the_log(outcome.dir());
    let end = outcome.log().last().cloned().expect("end");
    assert_eq!(end["failed"], 2);

    // With the fault gone, the failed accounts complete.
    emulator.faults(serde_json::json!({}));
    let retry = remediate(
        &emulator,
        workdir.path(),
        "",
        &[
            "--regions",
            "us-east-1,eu-west-1",
            "--accounts",
            FAILS,
            "--apply",
            "--yes",
        ],
    );
    retry.assert_exit(0);
    assert_passes(&retry, &[(FAILS, "us-east-1"), (FAILS, "eu-west-1")]);
}

#[test]
fn a_failing_shared_repository_step_points_no_account_at_it() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&central_scenario());
    let config = CENTRAL_CONFIG.replace("CENTRAL_KEY_ARN", &central_key_arn(&emulator));
    emulator
        .faults(serde_json::json!({"error_fraction": 1.0, "operations": ["s3:PutBucketPolicy"]}));
    let workdir = tempfile::tempdir().expect("temp");
    emulator.reset_counters();
    let outcome = remediate(
        &emulator,
        workdir.path(),
        &config,
        &[
            "--regions",
            "us-east-1",
            "--strategy",
            "central",
            "--apply",
            "--yes",
        ],
    );
    outcome.assert_exit(2);
    let steps = outcome.steps();
    assert_eq!(steps[0]["operation"], "kms:PutKeyPolicy");
    assert_eq!(steps[0]["status"], "changed");
    assert_eq!(steps[1]["operation"], "s3:PutBucketPolicy");
    assert_eq!(steps[1]["status"], "failed");
    let members: Vec<&Value> = steps
        .iter()
        .filter(|s| s["account_id"] != LOG_ARCHIVE)
        .collect();
    assert!(!members.is_empty());
    for step in members {
        assert_eq!(step["status"], "not_attempted", "{step}");
        assert!(
            step["message"]
                .as_str()
                .is_some_and(|m| m.contains("shared repository's step 2")),
            "{step}"
        );
    }
    assert_eq!(
        emulator
            .counters()
            .operation("macie2:PutClassificationExportConfiguration"),
        0
    );
}

#[test]
fn an_interactive_apply_asks_and_only_yes_applies() {
    // A pseudo-terminal for the command, from util-linux `script` (part of every Debian system).
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("util-linux `script` gives the command a terminal: install util-linux");
    let mut emulator = Emulator::start();
    emulator.load_scenario(&format!(
        "[organization]\nroles = [\"MacieRemediationRole\"]\n[[accounts]]\nid = \"{NO_REPOSITORY}\"\nname = \"a\"\n{}",
        macie("us-east-1", 100, None)
    ));
    let workdir = tempfile::tempdir().expect("temp");
    let config = workdir.path().join("config.toml");
    std::fs::write(&config, TEST_CONFIG).expect("config");
    let answer = |reply: &str| {
        let command = format!(
            "'{}' -q remediate --config '{}' --output-dir '{}' --regions us-east-1 --apply",
            env!("CARGO_BIN_EXE_macie-audit"),
            config.display(),
            workdir.path().join("reports").display()
        );
        let mut child = Command::new(script)
            .args(["-qec", &command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(emulator.sdk_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(reply.as_bytes())
            .expect("answer");
        let output = child.wait_with_output().expect("wait");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };

    emulator.reset_counters();
    let (code, output) = answer("no\n");
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("Only \"yes\" is accepted"), "{output}");
    assert!(
        output.contains("Cancelled: nothing was changed"),
        "{output}"
    );
    assert_eq!(writes(&emulator), Vec::<String>::new());

    let (code, output) = answer("yes\n");
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("MACIE-002 PASS, MACIE-003 PASS, MACIE-004 PASS"),
        "{output}"
    );
}

// ---------------------------------------------------------------------------------------------
// --strategy repair

const NO_GRANT: &str = "111111111111";
const ENCRYPT_ONLY: &str = "222222222222";
const PARTIAL_BPA: &str = "444444444444";
const PENDING: &str = "555555555555";
const SHARED_A: &str = "666666666666";
const SHARED_B: &str = "777777777777";
const DENIED: &str = "888888888888";
/// MACIE-003 and MACIE-004 pass; only MACIE-005 (hardening) fails.
const UNHARDENED: &str = "121212121212";

/// A repository of its own for `account` (key alias `repo`, bucket `repo-<account>`), with these
/// policies and Block Public Access, and its Macie in us-east-1 exporting there.
fn own_repository(
    account: &str,
    name: &str,
    key_policy: &str,
    key_state: &str,
    bucket_policy: &str,
    block_public_access: &str,
) -> String {
    format!(
        r#"
[[accounts]]
id = "{account}"
name = "{name}"
{macie}
[[accounts.keys]]
alias = "repo"
region = "us-east-1"
policy = '''{key_policy}'''
state = "{key_state}"

[[accounts.buckets]]
name = "repo-{account}"
region = "us-east-1"
block_public_access = {block_public_access}
policy = '''{bucket_policy}'''
"#,
        macie = macie(
            "us-east-1",
            100,
            Some(&format!(
                r#"{{ bucket = "repo-{account}", key_prefix = "macie/", kms_key_arn = "key:repo" }}"#
            ))
        ),
    )
}

fn repair_scenario() -> String {
    let principal = "macie.amazonaws.com";
    let admin_only = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let encrypt_only = key_policy(&[ENCRYPT_ONLY], true, principal).replace(
        r#"["kms:GenerateDataKey","kms:Encrypt"]"#,
        r#""kms:Encrypt""#,
    );
    let denied = key_policy(&[DENIED], true, principal).replace(
        r#"{"Sid":"Admin""#,
        r#"{"Sid":"NoMacieDataKeys","Effect":"Deny","Principal":{"Service":"macie.amazonaws.com"},"Action":"kms:GenerateDataKey","Resource":"*"},{"Sid":"Admin""#,
    );
    let good_bucket = |account: &str| bucket_policy(&[account], "false", "macie/", principal);
    let shared_export = format!(
        r#"{{ bucket = "shared-macie-results", key_prefix = "macie/", kms_key_arn = "key:{LOG_ARCHIVE}:us-east-1:shared", expected_bucket_owner = "{LOG_ARCHIVE}" }}"#
    );
    format!(
        r#"[organization]
roles = ["MacieRemediationRole"]

# A shared repository that lets no one in yet, used by two accounts (one in two Regions).
[[accounts]]
id = "{LOG_ARCHIVE}"
name = "log-archive"

[[accounts.keys]]
alias = "shared"
region = "us-east-1"
policy = '''{admin_only}'''

[[accounts.buckets]]
name = "shared-macie-results"
region = "us-east-1"
block_public_access = true
policy = '''{shared_bucket}'''

[[accounts]]
id = "{SHARED_A}"
name = "shared-a"
{shared_a}
[[accounts]]
id = "{SHARED_B}"
name = "shared-b"
{shared_b}{shared_b_eu}
{no_grant}{encrypt_only}{partial}{pending}{denied}{unhardened}"#,
        shared_bucket = bucket_policy(&[], "false", "macie/", principal).replace(
            r#""aws:SourceAccount":[]"#,
            r#""aws:SourceAccount":"999999999999""#
        ),
        shared_a = macie("us-east-1", 100, Some(&shared_export)),
        shared_b = macie("us-east-1", 100, Some(&shared_export)),
        shared_b_eu = macie("eu-west-1", 100, Some(&shared_export)),
        no_grant = own_repository(
            NO_GRANT,
            "no-grant",
            admin_only,
            "Enabled",
            &good_bucket(NO_GRANT),
            "true"
        ),
        encrypt_only = own_repository(
            ENCRYPT_ONLY,
            "encrypt-only",
            &encrypt_only,
            "Enabled",
            &good_bucket(ENCRYPT_ONLY),
            "true"
        ),
        partial = own_repository(
            PARTIAL_BPA,
            "partial-block-public-access",
            &key_policy(&[PARTIAL_BPA], true, principal),
            "Enabled",
            &bucket_policy(&[PARTIAL_BPA], "none", "macie/", principal),
            "{ block_public_acls = true, ignore_public_acls = false, block_public_policy = true, restrict_public_buckets = false }"
        ),
        pending = own_repository(
            PENDING,
            "pending-deletion",
            &key_policy(&[PENDING], true, principal),
            "PendingDeletion",
            &good_bucket(PENDING),
            "true"
        ),
        denied = own_repository(
            DENIED,
            "denied",
            &denied,
            "Enabled",
            &good_bucket(DENIED),
            "true"
        ),
        unhardened = own_repository(
            UNHARDENED,
            "unhardened",
            &key_policy(&[UNHARDENED], true, principal),
            "Enabled",
            &good_bucket(UNHARDENED),
            "true"
        ),
    )
}

/// Every policy's statements in a run's evidence, by bucket name or key ARN.
fn policy_statements(run: &RunEvidence) -> BTreeMap<String, Vec<Value>> {
    let statements = |text: &str| -> Vec<Value> {
        let document: Value = serde_json::from_str(text).expect("JSON policy");
        match &document["Statement"] {
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        }
    };
    let buckets = run.buckets.values().filter_map(|b| {
        let text = b.policy.as_ref()?.response()?.as_ref()?;
        Some((b.name.clone(), statements(text)))
    });
    let keys = run.keys.values().filter_map(|k| {
        let text = k.policy.as_ref()?.response()?;
        Some((k.arn.clone(), statements(text)))
    });
    buckets.chain(keys).collect()
}

/// Every account-Region's export configuration in a run's evidence.
fn export_configurations(run: &RunEvidence) -> BTreeMap<(String, String), Value> {
    run.account_regions
        .iter()
        .filter_map(|(cell, evidence)| {
            let configuration = evidence.export_configuration.as_ref()?.response()?;
            Some((cell.clone(), serde_json::json!(configuration)))
        })
        .collect()
}

#[test]
fn repair_strategy_fixes_repositories_in_place_and_a_second_apply_changes_nothing() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&repair_scenario());
    let workdir = tempfile::tempdir().expect("temp");
    let regions = ["--regions", "us-east-1,eu-west-1", "--strategy", "repair"];
    let before = emulator
        .scan()
        .regions("us-east-1,eu-west-1")
        .run()
        .evidence();

    // --recover-keys is for repositories repaired in place.
    emulator.reset_counters();
    remediate(&emulator, workdir.path(), "", &["--recover-keys"]).assert_exit(3);
    assert!(
        emulator.counters().0["operations"]
            .as_object()
            .is_none_or(|o| o.is_empty())
    );

    // The dry run: only reads, the blocked ones say why and what would do it.
    emulator.reset_counters();
    let dry = remediate(&emulator, workdir.path(), "", &regions);
    dry.assert_exit(0);
    assert_eq!(writes(&emulator), Vec::<String>::new());
    assert!(
        dry.stdout
            .contains(&format!("{PENDING} (pending-deletion) us-east-1: BLOCKED"))
            && dry.stdout.contains("--recover-keys cancels its deletion"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("{DENIED} (denied) us-east-1: BLOCKED"))
            && dry.stdout.contains("NoMacieDataKeys"),
        "{}",
        dry.stdout
    );
    // Each policy change as a diff of its statements: theirs kept, ours added.
    assert!(
        dry.stdout.contains("= \"Admin\" (kept as is)")
            && dry
                .stdout
                .contains(r#"+ {"Action":["kms:GenerateDataKey","kms:Encrypt"]"#),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("- BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=true,RestrictPublicBuckets=false"),
        "{}",
        dry.stdout
    );
    let json = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--format", "json"]].concat(),
    );
    json.assert_exit(0);
    let plan: Value = serde_json::from_str(&json.stdout).expect("JSON plan");
    let steps: Vec<&Value> = plan["plan"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["steps"].as_array().expect("steps"))
        .collect();
    let operations_in = |account: &str| -> Vec<&str> {
        steps
            .iter()
            .filter(|s| s["account_id"] == account)
            .map(|s| s["action"]["operation"].as_str().expect("operation"))
            .collect()
    };
    // The shared repository is repaired once, by its owner, for the three account-Regions.
    assert_eq!(
        operations_in(LOG_ARCHIVE),
        [
            "kms:PutKeyPolicy",
            "kms:EnableKeyRotation",
            "s3:PutBucketPolicy",
            "s3:PutBucketEncryption",
            "s3:PutBucketVersioning"
        ]
    );
    assert!(operations_in(SHARED_A).is_empty() && operations_in(SHARED_B).is_empty());
    let shared_policy = steps
        .iter()
        .find(|s| s["account_id"] == LOG_ARCHIVE && s["action"]["operation"] == "kms:PutKeyPolicy")
        .expect("the shared key policy step");
    assert_eq!(shared_policy["serves"].as_array().map(Vec::len), Some(3));
    assert!(
        shared_policy["action"]["before"].is_object()
            && shared_policy["action"]["after"].is_object()
    );
    assert_eq!(shared_policy["diff"][0], "  = \"Admin\" (kept as is)");
    assert!(
        shared_policy["commands"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("aws kms put-key-policy --region 'us-east-1'"))
    );
    assert!(operations_in(PARTIAL_BPA).contains(&"s3:PutPublicAccessBlock"));
    assert!(steps.iter().all(|s| {
        s["action"]["operation"] != "macie2:PutClassificationExportConfiguration"
            && s["action"]["operation"] != "kms:CreateKey"
            && s["action"]["operation"] != "s3:CreateBucket"
    }));

    // The apply: everything but the blocked ones passes.
    emulator.reset_counters();
    let applied = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes"]].concat(),
    );
    applied.assert_exit(1);
    assert_passes(
        &applied,
        &[
            (NO_GRANT, "us-east-1"),
            (ENCRYPT_ONLY, "us-east-1"),
            (PARTIAL_BPA, "us-east-1"),
            (SHARED_A, "us-east-1"),
            (SHARED_B, "us-east-1"),
            (SHARED_B, "eu-west-1"),
        ],
    );
    let counters = emulator.counters();
    assert_eq!(counters.in_account(LOG_ARCHIVE, "kms:PutKeyPolicy"), 1);
    assert_eq!(counters.in_account(LOG_ARCHIVE, "s3:PutBucketPolicy"), 1);
    assert_eq!(
        counters.operation("macie2:PutClassificationExportConfiguration"),
        0
    );
    for account in [PENDING, DENIED, SHARED_A, SHARED_B, UNHARDENED] {
        for label in writes(&emulator) {
            assert_eq!(
                counters.in_account(account, &label),
                0,
                "{label} in {account}"
            );
        }
    }
    let steps = applied.steps();
    assert!(
        steps.iter().all(|s| s["status"] == "changed"
            && s["role_arn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(":role/MacieRemediationRole"))),
        "{steps:?}"
    );
    for step in &steps {
        let operation = step["operation"].as_str().expect("operation");
        assert!(
            step["calls"]
                .as_array()
                .expect("calls")
                .iter()
                .any(|c| c["operation"] == operation
                    && c["request_id"].as_str().is_some_and(|id| !id.is_empty())),
            "{step}"
        );
    }
    assert_manifest_covers_the_log(applied.dir());

    // Same repositories, every statement kept word for word.
    let after = emulator
        .scan()
        .regions("us-east-1,eu-west-1")
        .run()
        .evidence();
    assert_eq!(
        export_configurations(&after),
        export_configurations(&before)
    );
    let (old, new) = (policy_statements(&before), policy_statements(&after));
    for (resource, statements) in &old {
        for statement in statements {
            assert!(
                new[resource].contains(statement),
                "{resource} lost {statement}"
            );
        }
    }
    let ours: Vec<&Value> = new["shared-macie-results"]
        .iter()
        .filter(|s| s["Sid"] == "MacieAuditAllowMacieToWrite")
        .collect();
    assert_eq!(
        ours[0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        serde_json::json!([SHARED_A, SHARED_B])
    );
    assert!(
        new.values()
            .flatten()
            .filter_map(|s| s["Sid"].as_str())
            .filter(|sid| !old.values().flatten().any(|o| o["Sid"] == *sid))
            .all(|sid| sid.starts_with("MacieAudit")),
        "every statement added is ours"
    );

    // A second apply makes no write call.
    emulator.reset_counters();
    let again = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes"]].concat(),
    );
    again.assert_exit(1);
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&emulator), Vec::<String>::new());

    // --recover-keys brings the key pending deletion back; the explicit Deny stays blocked.
    emulator.reset_counters();
    let recovered = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes", "--recover-keys"]].concat(),
    );
    recovered.assert_exit(1);
    assert_passes(&recovered, &[(PENDING, "us-east-1")]);
    let operations: Vec<Value> = recovered
        .steps()
        .into_iter()
        .filter(|s| s["account_id"] == PENDING)
        .map(|s| s["operation"].clone())
        .collect();
    assert_eq!(operations[..2], ["kms:CancelKeyDeletion", "kms:EnableKey"]);
    let counters = emulator.counters();
    for label in writes(&emulator) {
        assert_eq!(
            counters.in_account(DENIED, &label),
            0,
            "{label} in {DENIED}"
        );
    }
    let statuses = recovered.statuses();
    assert!(
        !statuses.keys().any(|(account, _, _)| account == DENIED),
        "the blocked account-Region is not re-scanned"
    );

    emulator.reset_counters();
    let clean = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes", "--recover-keys"]].concat(),
    );
    clean.assert_exit(1);
    assert_eq!(writes(&emulator), Vec::<String>::new());
    assert!(
        clean
            .stdout
            .contains(&format!("{DENIED} (denied) us-east-1: BLOCKED")),
        "{}",
        clean.stdout
    );

    // --include-hardening: MACIE-005 alone makes a target, repaired like the others.
    emulator.reset_counters();
    let hardened = remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes", "--include-hardening"]].concat(),
    );
    hardened.assert_exit(1);
    let operations: Vec<Value> = hardened
        .steps()
        .into_iter()
        .map(|s| s["operation"].clone())
        .collect();
    assert_eq!(
        operations,
        [
            "kms:EnableKeyRotation",
            "s3:PutBucketEncryption",
            "s3:PutBucketVersioning"
        ]
    );
    assert_eq!(
        status(&hardened.statuses(), UNHARDENED, "us-east-1", "MACIE-005"),
        Status::Pass
    );
    emulator.reset_counters();
    remediate(
        &emulator,
        workdir.path(),
        "",
        &[&regions[..], &["--apply", "--yes", "--include-hardening"]].concat(),
    )
    .assert_exit(1);
    assert_eq!(writes(&emulator), Vec::<String>::new());
}
