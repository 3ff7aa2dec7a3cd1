//! The evidence archive (`--upload`): a run uploaded to the emulator's S3 and verified there, with
//! SSE-KMS, Object Lock retention and a checksum per object; failing uploads keep the local run and
//! exit 2 with the reason.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_s3::types::{ChecksumMode, ObjectLockMode, ServerSideEncryption};
use common::{Account, Emulator, ScanRun, Scenario, assert_manifest_verifies};
use macie_audit::upload::UploadTarget;
use sha2::{Digest, Sha256};

/// The management account (the scanner's own) owns the archive buckets and the key.
fn scenario() -> Scenario {
    Scenario::new().account(
        Account::new("123456789012", "management")
            .key("archive", "us-east-1")
            .bucket("archive-bucket", "us-east-1")
            .with("block_public_access = true\nversioning = true")
            .bucket("locked-archive", "us-east-1")
            .with("block_public_access = true\nobject_lock = true")
            .bucket("eu-archive", "eu-west-1")
            .with("block_public_access = true\nencryption = { sse = \"AES256\" }"),
    )
}

/// Every file a run directory holds.
const RUN_FILES: &[&str] = &[
    "SHA256SUMS",
    "evidence.jsonl",
    "findings.csv",
    "findings.ocsf.jsonl",
    "findings.sarif",
    "report.html",
    "run.json",
];

fn emulator() -> Emulator {
    let mut emulator = Emulator::start();
    emulator.load_scenario(scenario().toml());
    emulator
}

async fn sdk_config(emulator: &Emulator, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&emulator.endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

async fn s3(emulator: &Emulator, region: &str) -> aws_sdk_s3::Client {
    let config = sdk_config(emulator, region).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// The ARN of the scenario's `alias/archive` key.
async fn archive_key_arn(emulator: &Emulator) -> String {
    let kms = aws_sdk_kms::Client::new(&sdk_config(emulator, "us-east-1").await);
    kms.describe_key()
        .key_id("alias/archive")
        .send()
        .await
        .expect("DescribeKey alias/archive")
        .key_metadata()
        .expect("key metadata")
        .arn()
        .expect("key ARN")
        .to_owned()
}

/// Runs a scan of us-east-1 with these extra flags, off the async runtime.
async fn scan(emulator: &Emulator, flags: &[&str]) -> ScanRun {
    let mut scan = emulator.scan().regions("us-east-1");
    for flag in flags {
        scan = scan.arg(flag);
    }
    tokio::task::spawn_blocking(move || scan.run())
        .await
        .expect("scan thread")
}

/// The run's id: the name of its directory (`run.dir()` may be the `latest` link to it).
fn run_id(run: &ScanRun) -> String {
    std::fs::canonicalize(run.dir())
        .expect("run directory")
        .file_name()
        .and_then(|name| name.to_str())
        .expect("run id")
        .to_owned()
}

/// The local run's files, its account and OU pages (`accounts/…`, `ous/…`) included: name →
/// bytes.
fn local_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = files_in(dir, "");
    files.extend(files_in(&dir.join("accounts"), "accounts/"));
    files.extend(files_in(&dir.join("ous"), "ous/"));
    files
}

/// The regular files of `dir` but dot-files, named `prefix` + name.
fn files_in(dir: &Path, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("run directory")
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().into_string().expect("UTF-8 name"))
        .filter(|name| !name.starts_with('.'))
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).expect("read");
            (format!("{prefix}{name}"), bytes)
        })
        .collect()
}

/// Every key under `prefix`.
async fn list(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListObjectsV2");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys.sort();
    keys
}

async fn get(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {key}: {e:?}"))
        .body
        .collect()
        .await
        .expect("object body")
        .into_bytes()
        .to_vec()
}

fn sha256_base64(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

fn assert_complete_local_run(run: &ScanRun) {
    let files = local_files(run.dir());
    assert_eq!(
        files
            .keys()
            .map(String::as_str)
            .filter(|name| !name.contains('/'))
            .collect::<Vec<_>>(),
        RUN_FILES,
        "the local run is kept whole"
    );
    assert!(
        files.keys().any(|name| name.starts_with("accounts/")),
        "with its account pages"
    );
    assert!(files.contains_key("ous/index.html"), "with its OU pages");
    assert_manifest_verifies(run.dir());
}

/// The same scan without `--upload` exits with this code: a FAIL (Macie is off in the
/// management account), nothing incomplete.
const EXIT_WITHOUT_UPLOAD: i32 = 1;

#[tokio::test(flavor = "multi_thread")]
async fn upload_with_sse_kms_is_verified_in_s3() {
    let emulator = emulator();
    let key_arn = archive_key_arn(&emulator).await;
    let baseline = scan(&emulator, &[]).await;
    baseline.assert_exit(EXIT_WITHOUT_UPLOAD);

    let run = scan(
        &emulator,
        &[
            "--upload",
            "s3://archive-bucket/macie-runs",
            "--upload-kms-key",
            &key_arn,
        ],
    )
    .await;
    run.assert_exit(EXIT_WITHOUT_UPLOAD);
    let run_id = run_id(&run);
    let location = format!("s3://archive-bucket/macie-runs/{run_id}/");
    let objects = local_files(run.dir()).len();
    assert!(
        run.stdout.contains(&format!(
            "uploaded: {location} ({objects} objects, verified against SHA256SUMS)"
        )),
        "summary: {}",
        run.stdout
    );
    assert!(
        !run.stderr.contains("testing"),
        "no credentials in the logs: {}",
        run.stderr
    );

    let client = s3(&emulator, "us-east-1").await;
    let prefix = format!("macie-runs/{run_id}/");
    let local = local_files(run.dir());
    let expected: Vec<String> = local.keys().map(|name| format!("{prefix}{name}")).collect();
    assert_eq!(list(&client, "archive-bucket", &prefix).await, expected);
    for (name, bytes) in &local {
        let key = format!("{prefix}{name}");
        assert!(
            get(&client, "archive-bucket", &key).await == *bytes,
            "{key} is not byte-identical to the local file"
        );
        let head = client
            .head_object()
            .bucket("archive-bucket")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .expect("HeadObject");
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms),
            "{key}"
        );
        assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()), "{key}");
        assert_eq!(
            head.checksum_sha256(),
            Some(sha256_base64(bytes).as_str()),
            "{key}: the object's SHA-256 checksum"
        );
    }
    assert_complete_local_run(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_to_a_bucket_in_another_region_without_prefix() {
    let emulator = emulator();
    let run = scan(&emulator, &["--upload", "s3://eu-archive"]).await;
    run.assert_exit(EXIT_WITHOUT_UPLOAD);
    let run_id = run_id(&run);
    assert!(
        run.stdout.contains(&format!(
            "uploaded: s3://eu-archive/{run_id}/ ({} objects",
            local_files(run.dir()).len()
        )),
        "summary: {}",
        run.stdout
    );
    let client = s3(&emulator, "eu-west-1").await;
    let local = local_files(run.dir());
    let expected: Vec<String> = local
        .keys()
        .map(|name| format!("{run_id}/{name}"))
        .collect();
    assert_eq!(list(&client, "eu-archive", "").await, expected);
    for (name, bytes) in &local {
        let key = format!("{run_id}/{name}");
        assert!(get(&client, "eu-archive", &key).await == *bytes, "{key}");
        let head = client
            .head_object()
            .bucket("eu-archive")
            .key(&key)
            .send()
            .await
            .expect("HeadObject");
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256),
            "{key}: the bucket's default encryption"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn object_lock_retention_in_compliance_mode() {
    let emulator = emulator();
    let run = scan(
        &emulator,
        &[
            "--upload",
            "s3://locked-archive/runs/",
            "--upload-kms-key",
            "alias/archive",
            "--upload-retain-days",
            "30",
        ],
    )
    .await;
    run.assert_exit(EXIT_WITHOUT_UPLOAD);
    assert!(
        run.stdout.contains("uploaded: s3://locked-archive/runs/"),
        "{}",
        run.stdout
    );
    let client = s3(&emulator, "us-east-1").await;
    let prefix = format!("runs/{}/", run_id(&run));
    let keys = list(&client, "locked-archive", &prefix).await;
    assert_eq!(keys.len(), local_files(run.dir()).len(), "{keys:?}");
    let now = chrono::Utc::now().timestamp();
    // moto 5.2.5 has no GetObjectRetention (GET ?retention answers with the object itself, which
    // the SDK cannot parse); HeadObject states the retention as AWS does.
    for key in keys {
        let head = client
            .head_object()
            .bucket("locked-archive")
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("HeadObject {key}: {e:?}"));
        assert_eq!(
            head.object_lock_mode(),
            Some(&ObjectLockMode::Compliance),
            "{key}"
        );
        let until = head
            .object_lock_retain_until_date()
            .expect("retain-until date")
            .secs();
        let days = (until - now) as f64 / 86_400.0;
        assert!((29.9..=30.1).contains(&days), "{key}: retained {days} days");
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms),
            "{key}"
        );
    }
}

/// A notification that fails after the upload makes the exit code 2: run.json says so locally
/// and, uploaded again with SHA256SUMS (new versions, retained as the first), in the archive
/// too, where every object still matches the manifest.
#[tokio::test(flavor = "multi_thread")]
async fn a_notification_failing_after_the_upload_is_recorded_in_the_archive_too() {
    let emulator = emulator();
    let topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic";
    let run = scan(
        &emulator,
        &[
            "--upload",
            "s3://locked-archive/runs",
            "--upload-retain-days",
            "30",
            "--notify",
            &format!("sns={topic}"),
        ],
    )
    .await;
    run.assert_exit(2);
    let reason = format!("notification failed (sns {topic}) (the local run is kept)");
    assert!(
        run.stdout
            .contains(&format!("notification FAILED: sns {topic}"))
            && run
                .stdout
                .contains("uploaded again: run.json and SHA256SUMS")
            && run.stdout.contains(&format!("result: {reason} (exit 2)")),
        "the console says which delivery failed: {}",
        run.stdout
    );
    let local = local_files(run.dir());
    let meta: serde_json::Value = serde_json::from_slice(&local["run.json"]).expect("JSON");
    assert_eq!(meta["exit_code"], 2);
    assert_eq!(meta["exit_reason"], reason.as_str());
    let failures = &meta["delivery"]["notification_failures"];
    assert_eq!(failures[0]["target"], format!("sns {topic}"), "{failures}");
    assert!(
        failures[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("NotFound")),
        "{failures}"
    );
    assert_complete_local_run(&run);

    let client = s3(&emulator, "us-east-1").await;
    let prefix = format!("runs/{}/", run_id(&run));
    let archive = tempfile::tempdir().expect("temp");
    for key in list(&client, "locked-archive", &prefix).await {
        let name = key.strip_prefix(&prefix).expect("under the run's prefix");
        let bytes = get(&client, "locked-archive", &key).await;
        assert!(local[name] == bytes, "{key} is the local file");
        let path = archive.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    assert_manifest_verifies(archive.path());
    let versions = client
        .list_object_versions()
        .bucket("locked-archive")
        .prefix(format!("{prefix}run.json"))
        .send()
        .await
        .expect("ListObjectVersions");
    assert_eq!(
        versions.versions().len(),
        2,
        "the first run.json is kept under Object Lock"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_fails_the_upload_and_keeps_the_local_run() {
    let emulator = emulator();
    let run = scan(&emulator, &["--upload", "s3://no-such-archive/runs"]).await;
    run.assert_exit(2);
    assert!(
        run.stdout.contains("upload FAILED") && run.stdout.contains("NoSuchBucket"),
        "summary: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("no-such-archive") && run.stderr.contains("NoSuchBucket"),
        "log: {}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("result: upload failed (the local run is kept) (exit 2)"),
        "the console says why it exits 2: {}",
        run.stdout
    );
    // run.json says what the process exited with, and the manifest covers the new run.json.
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.dir().join("run.json")).expect("run.json"),
    )
    .expect("JSON");
    assert_eq!(meta["exit_code"], 2);
    assert_eq!(meta["exit_reason"], "upload failed (the local run is kept)");
    assert_complete_local_run(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_on_a_bucket_without_object_lock_fails_clearly() {
    let emulator = emulator();
    let run = scan(
        &emulator,
        &[
            "--upload",
            "s3://archive-bucket/runs",
            "--upload-retain-days",
            "7",
        ],
    )
    .await;
    run.assert_exit(2);
    assert!(
        run.stdout.contains("upload FAILED")
            && run.stdout.contains("s3://archive-bucket")
            && run.stdout.contains("has no Object Lock"),
        "summary: {}",
        run.stdout
    );
    let client = s3(&emulator, "us-east-1").await;
    assert_eq!(
        list(&client, "archive-bucket", "runs/").await,
        Vec::<String>::new(),
        "nothing is uploaded"
    );
    assert_complete_local_run(&run);
}

#[test]
fn a_bad_upload_location_is_a_usage_error() {
    let workdir = tempfile::tempdir().expect("temporary directory");
    for location in [
        "https://bucket/prefix",
        "bucket/prefix",
        "s3://",
        "s3:///prefix",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
            .args(["scan", "--upload", location])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .current_dir(workdir.path())
            .output()
            .expect("run macie-audit");
        assert_eq!(
            output.status.code(),
            Some(3),
            "{location}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--upload"),
            "{location}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn upload_targets_parse() {
    let parse = |s: &str| s.parse::<UploadTarget>();
    assert_eq!(
        parse("s3://b"),
        Ok(UploadTarget {
            bucket: "b".into(),
            prefix: String::new()
        })
    );
    assert_eq!(
        parse("s3://b/"),
        Ok(UploadTarget {
            bucket: "b".into(),
            prefix: String::new()
        })
    );
    assert_eq!(
        parse("s3://b/p/"),
        Ok(UploadTarget {
            bucket: "b".into(),
            prefix: "p".into()
        })
    );
    assert_eq!(
        parse("s3://my.bucket-1/audit/macie//"),
        Ok(UploadTarget {
            bucket: "my.bucket-1".into(),
            prefix: "audit/macie".into()
        })
    );
    assert_eq!(
        parse("s3://b/p/")
            .expect("target")
            .run_prefix("20260101T000000Z"),
        "p/20260101T000000Z/"
    );
    assert_eq!(parse("s3://b").expect("target").run_prefix("r"), "r/");
    for bad in [
        "",
        "b/p",
        "https://b/p",
        "S3://b",
        "s3:/b",
        "file:///tmp/x",
        "s3://",
        "s3:///p",
        "s3://bad bucket/p",
        "s3://b?x=1/p",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} accepted: {:?}", parse(bad));
    }
}
