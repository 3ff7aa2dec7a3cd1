//! Large organizations: `--shard K/N` scans a deterministic slice; `merge` combines the slices
//! into one run equal to an unsharded one, and refuses slices that do not belong together.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{Emulator, ScanRun, assert_manifest_verifies, bucket_policy, key_policy};

const LOG_ARCHIVE: &str = "300000000000";

fn organization() -> String {
    let users: Vec<String> = (1..=12u64)
        .map(|n| format!("{:012}", 300_000_000_000 + n))
        .collect();
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let mut text = format!(
        "[[accounts]]\nid = \"{LOG_ARCHIVE}\"\nname = \"log-archive\"\n\
         [[accounts.keys]]\nalias = \"central\"\nregion = \"us-east-1\"\npolicy = '''{}'''\nrotation = true\n\
         [[accounts.buckets]]\nname = \"central-results\"\nregion = \"us-east-1\"\nblock_public_access = true\nversioning = true\n\
         encryption = {{ sse = \"aws:kms\", kms_key = \"key:central\" }}\npolicy = '''{}'''\n\n",
        key_policy(&user_refs, true, "macie.amazonaws.com"),
        bucket_policy(&user_refs, "false", "macie/", "macie.amazonaws.com"),
    );
    for (n, id) in users.iter().enumerate() {
        let extra = match n {
            0 => "assume_role = \"deny\"\n",
            1 => "status = \"SUSPENDED\"\n",
            _ => "",
        };
        let export = if n % 3 == 0 {
            String::new()
        } else {
            format!(
                "export = {{ bucket = \"central-results\", key_prefix = \"macie/\", kms_key_arn = \"key:{LOG_ARCHIVE}:us-east-1:central\", expected_bucket_owner = \"{LOG_ARCHIVE}\" }}\n"
            )
        };
        text.push_str(&format!(
            "[[accounts]]\nid = \"{id}\"\nname = \"workload-{n}\"\n{extra}[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 60\n{export}\n"
        ));
    }
    text
}

fn verdicts(
    findings: &[BTreeMap<String, String>],
) -> Vec<(String, String, String, String, String, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f["account_id"].clone(),
                f["region"].clone(),
                f["rule_id"].clone(),
                f["status"].clone(),
                f["resource"].clone(),
                f["message"].clone(),
            )
        })
        .collect()
}

fn merge(emulator: &Emulator, runs: &[&ScanRun], out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("merge")
        .args(runs.iter().map(|r| r.dir()))
        .arg("--output-dir")
        .arg(out)
        .env_clear()
        .envs(emulator.sdk_env())
        .output()
        .expect("merge")
}

#[test]
fn three_shards_merged_equal_one_unsharded_run() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&organization());
    let whole = emulator.scan().regions("us-east-1,eu-west-1").run();
    whole.assert_exit(2);
    let shards: Vec<ScanRun> = ["1/3", "2/3", "3/3"]
        .iter()
        .map(|shard| {
            emulator
                .scan()
                .regions("us-east-1,eu-west-1")
                .arg("--shard")
                .arg(shard)
                .run()
        })
        .collect();
    let total: usize = shards.iter().map(|s| s.findings().len()).sum();
    assert_eq!(
        total,
        whole.findings().len(),
        "the shards split the population"
    );
    for shard in &shards {
        assert!(!shard.findings().is_empty() && shard.findings().len() < whole.findings().len());
    }

    let out = tempfile::tempdir().expect("temp");
    let merged = merge(&emulator, &shards.iter().collect::<Vec<_>>(), out.path());
    assert_eq!(
        merged.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let merged_dir = std::fs::read_dir(out.path())
        .expect("out")
        .filter_map(Result::ok)
        .find(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .expect("a merged run")
        .path();
    let mut reader = csv::Reader::from_path(merged_dir.join("findings.csv")).expect("csv");
    let headers = reader.headers().expect("headers").clone();
    let merged_findings: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            headers
                .iter()
                .zip(r.expect("row").iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect();
    assert_eq!(verdicts(&merged_findings), verdicts(&whole.findings()));
    assert_manifest_verifies(&merged_dir);

    // The central repository belongs to one shard, yet every shard judged it with its owner's credentials.
    for shard in &shards {
        assert!(
            shard
                .findings()
                .iter()
                .filter(|f| f["rule_id"] == "MACIE-004")
                .all(|f| f["status"] != "ERROR"
                    || f["message"].contains("Cannot act in the account")),
            "no shard leaves the central bucket unverifiable"
        );
    }

    // Refusals: the same shard twice, and a shard of another configuration.
    let twice = merge(&emulator, &[&shards[0], &shards[0]], out.path());
    assert_eq!(twice.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("again"));
    let other_config = emulator
        .scan()
        .config(&format!(
            "{}\n[concurrency]\naccounts = 3\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1,eu-west-1")
        .arg("--shard")
        .arg("2/3")
        .run();
    let mixed = merge(
        &emulator,
        &[&shards[0], &other_config, &shards[2]],
        out.path(),
    );
    assert_eq!(mixed.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("another configuration"));
    let overlapping = merge(&emulator, &[&whole, &shards[1]], out.path());
    assert_eq!(overlapping.status.code(), Some(3));

    // A shard that does not match its manifest is refused, naming the file.
    let evidence = shards[1].dir().join("evidence.jsonl");
    let text = std::fs::read_to_string(&evidence).expect("evidence");
    std::fs::write(&evidence, text.replacen("ENABLED", "PAUSED", 1)).expect("edit");
    let tampered = merge(&emulator, &[&shards[0], &shards[1], &shards[2]], out.path());
    assert_eq!(tampered.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        stderr.contains("modified: evidence.jsonl") && stderr.contains("nothing was merged"),
        "{stderr}"
    );
}

/// A path that holds no run is a usage error (exit 3), as it is for `report`.
#[test]
fn merge_of_a_path_without_a_run_exits_3() {
    let empty = tempfile::tempdir().expect("temp");
    let out = tempfile::tempdir().expect("temp");
    for source in [empty.path().to_path_buf(), empty.path().join("nowhere")] {
        let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
            .arg("merge")
            .arg(&source)
            .arg("--output-dir")
            .arg(out.path())
            .env_clear()
            .output()
            .expect("merge");
        assert_eq!(
            output.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stderr).contains("no run here"));
    }
    let report = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("report")
        .arg(empty.path())
        .env_clear()
        .output()
        .expect("report");
    assert_eq!(report.status.code(), Some(3));
}

/// `merge` with `extra` flags.
fn merge_with(
    emulator: &Emulator,
    runs: &[&ScanRun],
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .arg("merge")
        .args(runs.iter().map(|r| r.dir()))
        .arg("--output-dir")
        .arg(out)
        .args(extra)
        .env_clear()
        .envs(emulator.sdk_env())
        .output()
        .expect("merge")
}

/// The newest run directory below `out`.
fn newest_run(out: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(out)
        .expect("out")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .max()
        .expect("a merged run")
}

fn run_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("run.json"))
        .expect("JSON")
}

#[test]
fn a_merge_missing_shards_is_refused_or_partial_and_never_latest() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&organization());
    // The Regions come from the configuration, so that the shards are partial only as shards.
    let config = format!(
        "{}\n[scope]\nregions = [\"us-east-1\"]\n",
        common::TEST_CONFIG
    );
    let shards: Vec<ScanRun> = ["1/3", "2/3", "3/3"]
        .iter()
        .map(|shard| {
            emulator
                .scan()
                .config(&config)
                .arg("--shard")
                .arg(shard)
                .run()
        })
        .collect();
    let shard_scope = &run_json(shards[1].dir())["scope"];
    assert_eq!(shard_scope["partial"], true);
    assert_eq!(
        shard_scope["shard"],
        serde_json::json!({"index": 2, "count": 3})
    );

    let out = tempfile::tempdir().expect("temp");
    let two = [&shards[0], &shards[1]];
    let refused = merge_with(&emulator, &two, out.path(), &[]);
    assert_eq!(refused.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("3/3") && stderr.contains("--allow-partial"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(out.path()).expect("out").next().is_none(),
        "a refused merge writes nothing"
    );

    let partial = merge_with(&emulator, &two, out.path(), &["--allow-partial"]);
    assert_eq!(
        partial.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );
    let partial_dir = newest_run(out.path());
    let scope = &run_json(&partial_dir)["scope"];
    assert_eq!(scope["partial"], true, "{scope}");
    assert_eq!(
        scope["merged_shards"],
        serde_json::json!({"count": 3, "indexes": [1, 2], "missing": [3]})
    );
    let html = std::fs::read_to_string(partial_dir.join("report.html")).expect("html");
    assert!(html.contains("PARTIAL SCOPE") && html.contains("Merged shards"));
    assert!(
        String::from_utf8_lossy(&partial.stdout).contains("PARTIAL SCOPE"),
        "{}",
        String::from_utf8_lossy(&partial.stdout)
    );
    assert!(
        macie_audit::run_dir::latest(out.path()).is_none(),
        "a partial merge is not latest"
    );
    // Run ids have a one-second resolution; keep the merged runs apart.
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let all: Vec<&ScanRun> = shards.iter().collect();
    let full = merge_with(&emulator, &all, out.path(), &[]);
    assert_eq!(full.status.code(), Some(2));
    let full_dir = newest_run(out.path());
    let meta = run_json(&full_dir);
    assert_eq!(meta["scope"]["partial"], false);
    assert_eq!(
        meta["scope"]["merged_shards"]["missing"],
        serde_json::json!([])
    );
    assert_eq!(
        macie_audit::run_dir::latest(out.path()).and_then(|dir| dir.canonicalize().ok()),
        full_dir.canonicalize().ok(),
        "a complete merge is latest, as a full run is"
    );
}

/// `--shard auto` takes the shard from the job engine: a Kubernetes Indexed Job's
/// JOB_COMPLETION_INDEX with --shard-count, an AWS Batch array job's index and size; the same
/// slice as the K/N it stands for, with a run id naming the shard. Without either engine it is a
/// usage error before any call.
#[test]
fn shard_auto_reads_kubernetes_and_aws_batch_variables() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&organization());
    let scan = |args: &[&str], env: &[(&str, &str)]| {
        let mut scan = emulator.scan().regions("us-east-1");
        for arg in args {
            scan = scan.arg(arg);
        }
        for (key, value) in env {
            scan = scan.env(key, value);
        }
        scan.run()
    };
    let fixed = scan(&["--shard", "2/3"], &[]);
    let kubernetes = scan(
        &["--shard", "auto", "--shard-count", "3"],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    let batch = scan(
        &["--shard", "auto"],
        &[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ],
    );
    for run in [&fixed, &kubernetes, &batch] {
        assert_eq!(run.code, fixed.code, "{}", run.stderr);
        let shard = run.evidence().header.shard.expect("a shard");
        assert_eq!((shard.index, shard.count), (2, 3));
        // The shards of one job start in the same second and upload to one prefix: the run id
        // names the shard, so that they never share a key.
        let run_id = run.evidence().header.run_id;
        assert!(run_id.contains("-shard2of3"), "{run_id} names its shard");
        assert!(run.dir().ends_with(&run_id), "{}", run.dir().display());
        assert_eq!(verdicts(&run.findings()), verdicts(&fixed.findings()));
    }

    let neither = scan(&["--shard", "auto", "--shard-count", "3"], &[]);
    neither.assert_exit(3);
    assert!(
        neither.stderr.contains("JOB_COMPLETION_INDEX")
            && neither.stderr.contains("AWS_BATCH_JOB_ARRAY_INDEX"),
        "{}",
        neither.stderr
    );
    assert!(neither.run_dir.is_none(), "nothing scanned");
    let no_count = scan(&["--shard", "auto"], &[("JOB_COMPLETION_INDEX", "0")]);
    no_count.assert_exit(3);
    assert!(
        no_count.stderr.contains("--shard-count"),
        "{}",
        no_count.stderr
    );
}
