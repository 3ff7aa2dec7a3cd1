//! The full Macie2-002 evidence chain against emulated organizations: every FAIL reason of the
//! repository rules, a central cross-account repository, an owner outside the organization, and
//! the cost of reading each bucket and key once.

mod common;

use common::{Emulator, bucket_policy, key_policy};

const LOG_ARCHIVE: &str = "333333333333";

/// Knobs of one account's own repository; the default is sound.
#[derive(Clone)]
struct Repo {
    bucket_region: &'static str,
    key_region: &'static str,
    macie_region: &'static str,
    bucket_policy: Option<String>,
    key_policy: Option<String>,
    block_public_access: &'static str,
    key_state: &'static str,
    key_spec: &'static str,
    key_manager: &'static str,
    rotation: bool,
    versioning: bool,
    encryption: &'static str,
    export_bucket: Option<String>,
    export_key: Option<String>,
    expected_owner: Option<&'static str>,
    create_bucket: bool,
}

impl Repo {
    fn sound() -> Repo {
        Repo {
            bucket_region: "us-east-1",
            key_region: "us-east-1",
            macie_region: "us-east-1",
            bucket_policy: None,
            key_policy: None,
            block_public_access: "true",
            key_state: "Enabled",
            key_spec: "SYMMETRIC_DEFAULT",
            key_manager: "CUSTOMER",
            rotation: true,
            versioning: true,
            encryption: r#"{ sse = "aws:kms", kms_key = "key:results" }"#,
            export_bucket: None,
            export_key: None,
            expected_owner: None,
            create_bucket: true,
        }
    }

    fn toml(&self, id: &str, name: &str) -> String {
        let bucket = format!("results-{id}");
        let bucket_policy = self
            .bucket_policy
            .clone()
            .unwrap_or_else(|| bucket_policy(&[id], "false", "macie/", "macie.amazonaws.com"));
        let key_policy = self
            .key_policy
            .clone()
            .unwrap_or_else(|| key_policy(&[id], true, "macie.amazonaws.com"));
        let export_bucket = self.export_bucket.clone().unwrap_or_else(|| bucket.clone());
        let export_key = self
            .export_key
            .clone()
            .unwrap_or_else(|| format!("key:{id}:{}:results", self.key_region));
        let expected = self
            .expected_owner
            .map(|o| format!(", expected_bucket_owner = \"{o}\""))
            .unwrap_or_default();
        let encryption = if self.encryption.is_empty() {
            String::new()
        } else {
            format!(
                "encryption = {}\n",
                self.encryption.replace(
                    "key:results",
                    &format!("key:{id}:{}:results", self.key_region)
                )
            )
        };
        let bucket_table = if self.create_bucket {
            format!(
                "[[accounts.buckets]]\nname = \"{bucket}\"\nregion = \"{}\"\nblock_public_access = {}\npolicy = '''{bucket_policy}'''\nversioning = {}\n{encryption}\n",
                self.bucket_region, self.block_public_access, self.versioning
            )
        } else {
            String::new()
        };
        format!(
            r#"[[accounts]]
id = "{id}"
name = "{name}"
[[accounts.macie]]
region = "{macie_region}"
created_days_ago = 100
export = {{ bucket = "{export_bucket}", key_prefix = "macie/", kms_key_arn = "{export_key}"{expected} }}

[[accounts.keys]]
alias = "results"
region = "{key_region}"
policy = '''{key_policy}'''
state = "{key_state}"
rotation = {rotation}
spec = "{key_spec}"
manager = "{key_manager}"

{bucket_table}
"#,
            macie_region = self.macie_region,
            key_region = self.key_region,
            key_state = self.key_state,
            rotation = self.rotation,
            key_spec = self.key_spec,
            key_manager = self.key_manager,
        )
    }
}

/// The central log-archive account with its bucket and key, used by `users`.
fn log_archive(users: &[&str]) -> String {
    format!(
        r#"[[accounts]]
id = "{LOG_ARCHIVE}"
name = "log-archive"

[[accounts.keys]]
alias = "central"
region = "us-east-1"
policy = '''{key_policy}'''
rotation = true

[[accounts.buckets]]
name = "central-macie-results"
region = "us-east-1"
block_public_access = true
policy = '''{bucket_policy}'''
versioning = true
encryption = {{ sse = "aws:kms", kms_key = "key:central" }}
"#,
        key_policy = key_policy(users, true, "macie.amazonaws.com"),
        bucket_policy = bucket_policy(users, "false", "macie/", "macie.amazonaws.com"),
    )
}

fn central_user(id: &str, name: &str, regions: &[&str]) -> String {
    let mut text = format!("[[accounts]]\nid = \"{id}\"\nname = \"{name}\"\n");
    for region in regions {
        text.push_str(&format!(
            "[[accounts.macie]]\nregion = \"{region}\"\ncreated_days_ago = 100\nexport = {{ bucket = \"central-macie-results\", key_prefix = \"macie/\", kms_key_arn = \"key:{LOG_ARCHIVE}:us-east-1:central\", expected_bucket_owner = \"{LOG_ARCHIVE}\" }}\n"
        ));
    }
    text
}

fn scan(scenario: &str, regions: &str) -> (Emulator, common::ScanRun) {
    let mut emulator = Emulator::start();
    emulator.load_scenario(scenario);
    emulator.reset_counters();
    let run = emulator.scan().regions(regions).run();
    (emulator, run)
}

/// Every FAIL or WARN finding says how to fix it, naming its own account, Region, bucket or key.
fn assert_remediation_is_concrete(run: &common::ScanRun) {
    for finding in run.findings() {
        if !matches!(finding["status"].as_str(), "FAIL" | "WARN") {
            continue;
        }
        let remediation = &finding["remediation"];
        let what = format!(
            "{} {} {}: {remediation}",
            finding["account_id"], finding["rule_id"], finding["status"]
        );
        assert!(remediation.contains("aws "), "no command: {what}");
        assert!(
            !remediation.contains("<bucket>") && !remediation.contains("<region>"),
            "placeholder left: {what}"
        );
        let resource = &finding["resource"];
        let named = if resource.starts_with("arn:aws:macie2:") {
            remediation.contains(&finding["account_id"])
        } else {
            resource.strip_prefix("arn:aws:s3:::").map_or_else(
                || remediation.contains(resource.as_str()),
                |bucket| remediation.contains(bucket),
            )
        };
        assert!(
            named || finding["rule_id"] == "MACIE-004",
            "does not name {resource}: {what}"
        );
        assert!(remediation.contains("--region"), "no Region: {what}");
        assert!(remediation.contains("In account "), "no account: {what}");
    }
}

fn assert_finding(
    run: &common::ScanRun,
    account: &str,
    region: &str,
    rule: &str,
    status: &str,
    words: &[&str],
) {
    let finding = run.finding(account, region, rule);
    assert_eq!(finding["status"], status, "{account} {rule}: {finding:#?}");
    for word in words {
        assert!(
            finding["message"].contains(word),
            "{account} {rule} message lacks {word:?}: {}",
            finding["message"]
        );
    }
}

#[test]
fn central_cross_account_repository_passes_and_is_read_once() {
    let users = ["111111111111", "222222222222", "444444444444"];
    let mut scenario = log_archive(&users);
    for (n, id) in users.iter().enumerate() {
        scenario.push_str(&central_user(
            id,
            &format!("workload-{n}"),
            &["us-east-1", "us-west-2", "eu-west-1"],
        ));
    }
    let (emulator, run) = scan(&scenario, "us-east-1,us-west-2,eu-west-1");
    for id in users {
        for region in ["us-east-1", "us-west-2", "eu-west-1"] {
            for rule in ["MACIE-002", "MACIE-003", "MACIE-004", "MACIE-005"] {
                assert_finding(&run, id, region, rule, "PASS", &[]);
            }
        }
    }
    let key = run.finding("111111111111", "eu-west-1", "MACIE-003");
    assert!(
        key["resource"].starts_with(&format!("arn:aws:kms:us-east-1:{LOG_ARCHIVE}:key/")),
        "{key:?}"
    );
    assert_eq!(
        run.finding("111111111111", "eu-west-1", "MACIE-004")["resource"],
        "arn:aws:s3:::central-macie-results"
    );

    // Nine account-Regions point at one bucket and one key: each evidence call once.
    let counters = emulator.counters();
    for operation in [
        "s3:GetBucketPolicy",
        "s3:GetPublicAccessBlock",
        "s3:GetBucketPolicyStatus",
        "s3:GetBucketEncryption",
        "s3:GetBucketVersioning",
        "s3:GetObjectLockConfiguration",
        "s3:GetBucketLocation",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
    ] {
        assert_eq!(
            counters.operation(operation),
            1,
            "{operation}: {:?}",
            counters.0["operations"]
        );
    }
    // Read with the owner's credentials.
    assert_eq!(counters.in_account(LOG_ARCHIVE, "s3:GetBucketPolicy"), 1);
    assert_eq!(counters.in_account(LOG_ARCHIVE, "kms:GetKeyPolicy"), 1);
    // One ListBuckets per reachable account builds the bucket → owner map.
    assert_eq!(
        counters.operation("s3:ListBuckets"),
        5,
        "{:?}",
        counters.0["operations"]
    );
    run.assert_exit(1);
}

#[test]
fn every_key_failure_is_named() {
    let cases: Vec<(&str, Repo, &[&str])> = vec![
        (
            "100000000001",
            Repo {
                export_key: Some(
                    "arn:aws:kms:us-east-1:100000000001:key/00000000-0000-0000-0000-000000000000"
                        .into(),
                ),
                ..Repo::sound()
            },
            &["does not exist"],
        ),
        (
            "100000000002",
            Repo {
                key_state: "Disabled",
                ..Repo::sound()
            },
            &["Disabled"],
        ),
        (
            "100000000003",
            Repo {
                key_state: "PendingDeletion",
                ..Repo::sound()
            },
            &["PendingDeletion"],
        ),
        (
            "100000000004",
            Repo {
                key_manager: "AWS",
                ..Repo::sound()
            },
            &["AWS managed"],
        ),
        (
            "100000000005",
            Repo {
                key_spec: "RSA_2048",
                encryption: "",
                ..Repo::sound()
            },
            &["RSA_2048"],
        ),
        (
            "100000000006",
            Repo {
                key_region: "eu-west-1",
                encryption: "",
                ..Repo::sound()
            },
            &["eu-west-1", "share a Region"],
        ),
        (
            "100000000007",
            Repo {
                key_policy: Some(key_policy(&["100000000007"], true, "macie2.amazonaws.com")),
                ..Repo::sound()
            },
            &["does not allow macie.amazonaws.com kms:GenerateDataKey"],
        ),
        (
            "100000000008",
            Repo {
                key_policy: Some(key_policy(&["999999999999"], true, "macie.amazonaws.com")),
                ..Repo::sound()
            },
            &["for account 100000000008"],
        ),
    ];
    let mut scenario = String::new();
    for (id, repo, _) in &cases {
        scenario.push_str(&repo.toml(id, &format!("key-case-{id}")));
    }
    let warn = Repo {
        key_policy: Some(key_policy(&["100000000009"], false, "macie.amazonaws.com")),
        ..Repo::sound()
    };
    scenario.push_str(&warn.toml("100000000009", "key-no-conditions"));
    scenario.push_str(&Repo::sound().toml("100000000010", "key-sound"));

    let (_emulator, run) = scan(&scenario, "us-east-1");
    for (id, _, words) in &cases {
        assert_finding(&run, id, "us-east-1", "MACIE-003", "FAIL", words);
        let finding = run.finding(id, "us-east-1", "MACIE-003");
        assert!(
            finding["resource"].starts_with("arn:aws:kms:"),
            "{finding:?}"
        );
    }
    assert_finding(
        &run,
        "100000000009",
        "us-east-1",
        "MACIE-003",
        "WARN",
        &["confused deputy"],
    );
    assert_finding(&run, "100000000010", "us-east-1", "MACIE-003", "PASS", &[]);
    assert_finding(&run, "100000000010", "us-east-1", "MACIE-004", "PASS", &[]);
    assert_finding(&run, "100000000010", "us-east-1", "MACIE-005", "PASS", &[]);
    assert_remediation_is_concrete(&run);
    let disabled = run.finding("100000000002", "us-east-1", "MACIE-003");
    assert!(disabled["remediation"].contains(
        "aws kms enable-key --region us-east-1 --key-id arn:aws:kms:us-east-1:100000000002:key/"
    ));
}

#[test]
fn every_bucket_failure_is_named() {
    let cases: Vec<(&str, Repo, &[&str])> = vec![
        (
            "200000000001",
            Repo {
                create_bucket: false,
                export_bucket: Some("no-such-bucket-anywhere".into()),
                ..Repo::sound()
            },
            &["does not exist"],
        ),
        (
            "200000000002",
            Repo {
                expected_owner: Some("200000000003"),
                ..Repo::sound()
            },
            &["not the expected owner 200000000003"],
        ),
        (
            "200000000003",
            Repo {
                block_public_access: "{ block_public_acls = true, ignore_public_acls = true, block_public_policy = false, restrict_public_buckets = true }",
                ..Repo::sound()
            },
            &["BlockPublicPolicy"],
        ),
        (
            "200000000004",
            Repo {
                block_public_access: "false",
                ..Repo::sound()
            },
            &["BlockPublicAcls", "RestrictPublicBuckets"],
        ),
        (
            "200000000005",
            Repo {
                bucket_policy: Some(bucket_policy(
                    &["200000000005"],
                    "none",
                    "macie/",
                    "macie.amazonaws.com",
                )),
                ..Repo::sound()
            },
            &["does not deny requests made without TLS"],
        ),
        (
            "200000000006",
            Repo {
                bucket_policy: Some(bucket_policy(
                    &["200000000006"],
                    "true",
                    "macie/",
                    "macie.amazonaws.com",
                )),
                ..Repo::sound()
            },
            &["does not deny requests made without TLS"],
        ),
        (
            "200000000007",
            Repo {
                bucket_policy: Some(bucket_policy(
                    &["200000000007"],
                    "false",
                    "other/",
                    "macie.amazonaws.com",
                )),
                ..Repo::sound()
            },
            &["s3:PutObject under \"macie/\""],
        ),
        (
            "200000000008",
            Repo {
                bucket_policy: Some(String::new()),
                ..Repo::sound()
            },
            &["no bucket policy"],
        ),
        (
            "200000000009",
            Repo {
                bucket_region: "af-south-1",
                key_region: "af-south-1",
                ..Repo::sound()
            },
            &[
                "af-south-1",
                "cannot receive results from Macie in us-east-1",
            ],
        ),
    ];
    let mut scenario = String::new();
    for (id, repo, _) in &cases {
        scenario.push_str(
            &repo
                .toml(id, &format!("bucket-case-{id}"))
                .replace("policy = ''''''\n", ""),
        );
    }
    // Macie may write but not locate the bucket.
    let no_location = bucket_policy(&["200000000012"], "false", "macie/", "macie.amazonaws.com")
        .replace("\"s3:GetBucketLocation\"", "\"s3:GetBucketAcl\"");
    scenario.push_str(
        &Repo {
            bucket_policy: Some(no_location),
            ..Repo::sound()
        }
        .toml("200000000012", "bucket-no-location"),
    );
    // Public: a policy granting everyone read, with Block Public Access off so it can be set.
    let public_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::${BUCKET}/*"}]}"#;
    scenario.push_str(
        &Repo {
            bucket_policy: Some(public_policy.into()),
            block_public_access: "false",
            ..Repo::sound()
        }
        .toml("200000000010", "bucket-public"),
    );
    // Bucket level off, account level on: the account's settings cover it.
    scenario.push_str(
        &Repo {
            block_public_access: "false",
            ..Repo::sound()
        }
        .toml("200000000011", "account-level-block")
        .replace(
            "name = \"account-level-block\"\n",
            "name = \"account-level-block\"\naccount_block_public_access = true\n",
        ),
    );
    let (_emulator, run) = scan(&scenario, "us-east-1");
    for (id, _, words) in &cases {
        assert_finding(&run, id, "us-east-1", "MACIE-004", "FAIL", words);
    }
    assert_finding(
        &run,
        "200000000010",
        "us-east-1",
        "MACIE-004",
        "FAIL",
        &["public"],
    );
    assert_finding(&run, "200000000011", "us-east-1", "MACIE-004", "PASS", &[]);
    assert_finding(
        &run,
        "200000000012",
        "us-east-1",
        "MACIE-004",
        "FAIL",
        &["s3:GetBucketLocation on the bucket"],
    );
    assert_eq!(
        run.finding("200000000001", "us-east-1", "MACIE-004")["resource"],
        "arn:aws:s3:::no-such-bucket-anywhere"
    );
    assert_remediation_is_concrete(&run);
    let blocked = run.finding("200000000003", "us-east-1", "MACIE-004");
    assert!(
        blocked["remediation"]
            .contains("put-public-access-block --region us-east-1 --bucket results-200000000003")
    );
}

#[test]
fn hardening_items_are_named() {
    let bare = Repo {
        versioning: false,
        rotation: false,
        encryption: "",
        ..Repo::sound()
    };
    let other_key = Repo {
        encryption: r#"{ sse = "AES256" }"#,
        ..Repo::sound()
    };
    let mut scenario = bare.toml("300000000001", "bare");
    scenario.push_str(&other_key.toml("300000000002", "sse-s3"));
    let (_emulator, run) = scan(&scenario, "us-east-1");
    assert_finding(
        &run,
        "300000000001",
        "us-east-1",
        "MACIE-005",
        "FAIL",
        &[
            "no default encryption",
            "neither versioning nor Object Lock",
            "key rotation is off",
        ],
    );
    assert_finding(
        &run,
        "300000000002",
        "us-east-1",
        "MACIE-005",
        "FAIL",
        &["AES256, not SSE-KMS"],
    );
    let finding = run.finding("300000000001", "us-east-1", "MACIE-005");
    assert_eq!(finding["severity"], "low");
    assert!(
        finding["remediation"]
            .contains("put-bucket-versioning --region us-east-1 --bucket results-300000000001")
    );
    assert!(finding["remediation"].contains("enable-key-rotation --region us-east-1"));
    assert_remediation_is_concrete(&run);
}

#[test]
fn owner_outside_the_organization_is_not_verifiable() {
    let outsider = r#"
[[accounts]]
id = "900000000009"
name = "partner"
in_organization = false
[[accounts.keys]]
alias = "partner"
region = "us-east-1"
policy = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}'''
[[accounts.buckets]]
name = "partner-macie-results"
region = "us-east-1"
block_public_access = true

[[accounts]]
id = "111111111111"
name = "uses-partner"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 100
export = { bucket = "partner-macie-results", kms_key_arn = "key:900000000009:us-east-1:partner" }
"#;
    let (_emulator, run) = scan(outsider, "us-east-1");
    assert_finding(&run, "111111111111", "us-east-1", "MACIE-002", "PASS", &[]);
    for rule in ["MACIE-003", "MACIE-004", "MACIE-005"] {
        assert_finding(
            &run,
            "111111111111",
            "us-east-1",
            rule,
            "ERROR",
            &["not verifiable from the organization"],
        );
    }
    assert_finding(
        &run,
        "111111111111",
        "us-east-1",
        "MACIE-003",
        "ERROR",
        &["the key's account 900000000009 is not a member of the organization"],
    );
    assert_finding(
        &run,
        "111111111111",
        "us-east-1",
        "MACIE-004",
        "ERROR",
        &["900000000009 is not a member of the organization"],
    );
    run.assert_exit(2);
}

#[test]
fn members_judged_by_their_administrator_when_configured() {
    let mut scenario = log_archive(&["111111111111"]);
    scenario.push_str(&central_user("111111111111", "macie-admin", &["us-east-1"]));
    scenario.push_str(
        r#"
[[accounts]]
id = "222222222222"
name = "member"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 100
administrator = "111111111111"
"#,
    );
    let mut emulator = Emulator::start();
    emulator.load_scenario(&scenario);
    let own = emulator.scan().regions("us-east-1").run();
    assert_finding(
        &own,
        "222222222222",
        "us-east-1",
        "MACIE-002",
        "FAIL",
        &["member of administrator 111111111111"],
    );
    assert_finding(
        &own,
        "222222222222",
        "us-east-1",
        "MACIE-004",
        "NOT_APPLICABLE",
        &[],
    );

    let by_admin = emulator
        .scan()
        .config(&format!(
            "{}\n[rules]\nmacie_members = \"administrator\"\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    for rule in ["MACIE-002", "MACIE-003", "MACIE-004", "MACIE-005"] {
        assert_finding(
            &by_admin,
            "222222222222",
            "us-east-1",
            rule,
            "PASS",
            &["administrator 111111111111"],
        );
    }
}

/// A repository that does not exist is a fact, not a call that could not be made: a bucket
/// never created (or deleted: AWS answers the same) fails MACIE-004 and MACIE-005, a key that
/// does not exist fails MACIE-003 and MACIE-005's rotation, and the run is complete.
#[test]
fn missing_bucket_and_key_fail_and_the_run_is_complete() {
    let no_bucket = Repo {
        create_bucket: false,
        ..Repo::sound()
    };
    let no_key = Repo {
        export_key: Some(
            "arn:aws:kms:us-east-1:400000000002:key/00000000-0000-0000-0000-000000000000".into(),
        ),
        ..Repo::sound()
    };
    let mut scenario = no_bucket.toml("400000000001", "no-bucket");
    scenario.push_str(&no_key.toml("400000000002", "no-key"));
    let (_emulator, run) = scan(&scenario, "us-east-1");
    assert_finding(
        &run,
        "400000000001",
        "us-east-1",
        "MACIE-004",
        "FAIL",
        &["does not exist"],
    );
    assert_finding(
        &run,
        "400000000001",
        "us-east-1",
        "MACIE-005",
        "FAIL",
        &["the bucket does not exist"],
    );
    assert_finding(&run, "400000000001", "us-east-1", "MACIE-003", "PASS", &[]);
    assert_finding(
        &run,
        "400000000002",
        "us-east-1",
        "MACIE-003",
        "FAIL",
        &["does not exist"],
    );
    assert_finding(
        &run,
        "400000000002",
        "us-east-1",
        "MACIE-005",
        "FAIL",
        &["the key does not exist"],
    );
    let hardening = run.finding("400000000001", "us-east-1", "MACIE-005");
    assert_eq!(
        hardening["message"]
            .matches("the bucket does not exist")
            .count(),
        1,
        "said once: {}",
        hardening["message"]
    );
    assert!(
        hardening["remediation"].contains("Create bucket results-400000000001 first"),
        "{}",
        hardening["remediation"]
    );
    assert!(
        run.findings().iter().all(|f| f["status"] != "ERROR"),
        "{:#?}",
        run.findings()
    );
    let metadata: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.dir().join("run.json")).expect("run.json"),
    )
    .expect("run.json is JSON");
    assert_eq!(metadata["complete"], true);
    run.assert_exit(1);
    assert_remediation_is_concrete(&run);
}

/// Members of a central repository scanned without its owner (`--accounts`): the owner is not
/// judged, but its role reads the bucket and key, assumed once.
#[test]
fn scoped_scan_reads_the_central_repository_with_its_owners_role() {
    let users = ["210000000001", "210000000002", "210000000003"];
    let mut scenario = log_archive(&users);
    for (n, id) in users.iter().enumerate() {
        scenario.push_str(&central_user(id, &format!("workload-{n}"), &["us-east-1"]));
    }
    let mut emulator = Emulator::start();
    emulator.load_scenario(&scenario);
    emulator.reset_counters();
    let scoped = || {
        emulator
            .scan()
            .regions("us-east-1")
            .arg("--accounts")
            .arg("210000000001,210000000003")
    };

    let run = scoped().run();
    for id in ["210000000001", "210000000003"] {
        for rule in ["MACIE-002", "MACIE-003", "MACIE-004", "MACIE-005"] {
            assert_finding(&run, id, "us-east-1", rule, "PASS", &[]);
        }
    }
    let judged: Vec<String> = run
        .findings()
        .iter()
        .map(|f| f["account_id"].clone())
        .collect();
    assert!(
        !judged
            .iter()
            .any(|a| a == LOG_ARCHIVE || a == "210000000002"),
        "only the accounts asked for are judged: {judged:?}"
    );
    let counters = emulator.counters();
    assert_eq!(
        counters.assume_role_into(LOG_ARCHIVE),
        1,
        "{:?}",
        counters.0["assume_role_targets"]
    );
    for id in ["210000000001", "210000000003"] {
        assert_eq!(counters.assume_role_into(id), 1, "{id}");
    }
    assert_eq!(counters.assume_role_into("210000000002"), 0);
    assert_eq!(counters.in_account(LOG_ARCHIVE, "kms:GetKeyPolicy"), 1);
    assert_eq!(counters.in_account(LOG_ARCHIVE, "s3:GetBucketPolicy"), 1);
    run.assert_exit(0);

    // Excluded by configuration: not touched, so not verifiable, and the message says why.
    emulator.reset_counters();
    let excluded = scoped()
        .config(&format!(
            "{}\n[scope]\nexclude_accounts = [\"{LOG_ARCHIVE}\"]\n",
            common::TEST_CONFIG
        ))
        .run();
    for rule in ["MACIE-003", "MACIE-004", "MACIE-005"] {
        assert_finding(
            &excluded,
            "210000000001",
            "us-east-1",
            rule,
            "ERROR",
            &[
                "not verifiable from the organization",
                "excluded by configuration",
            ],
        );
    }
    assert_eq!(emulator.counters().assume_role_into(LOG_ARCHIVE), 0);
    excluded.assert_exit(2);

    // The owner's role refused: unverifiable, saying the role could not be assumed.
    emulator.reset_counters();
    emulator.set_account(serde_json::json!({"account": LOG_ARCHIVE, "assume_role": "deny"}));
    let denied = scoped().run();
    for rule in ["MACIE-003", "MACIE-004", "MACIE-005"] {
        assert_finding(
            &denied,
            "210000000003",
            "us-east-1",
            rule,
            "ERROR",
            &[
                "not verifiable from the organization",
                &format!("its role arn:aws:iam::{LOG_ARCHIVE}:role/"),
                "could not be assumed",
                "AccessDenied",
            ],
        );
    }
    assert_eq!(
        emulator.counters().assume_role_into(LOG_ARCHIVE),
        1,
        "refused once, not asked again"
    );
    denied.assert_exit(2);
}

/// A repository owner that is not ACTIVE is not read: its repository is unverifiable, saying so.
#[test]
fn suspended_owner_is_not_verifiable_and_says_so() {
    let mut scenario = log_archive(&["210000000001"]).replacen(
        "name = \"log-archive\"\n",
        "name = \"log-archive\"\nstatus = \"SUSPENDED\"\n",
        1,
    );
    scenario.push_str(&central_user("210000000001", "workload", &["us-east-1"]));
    let mut emulator = Emulator::start();
    emulator.load_scenario(&scenario);
    emulator.reset_counters();
    let run = emulator
        .scan()
        .regions("us-east-1")
        .arg("--accounts")
        .arg("210000000001")
        .run();
    for rule in ["MACIE-003", "MACIE-004", "MACIE-005"] {
        assert_finding(
            &run,
            "210000000001",
            "us-east-1",
            rule,
            "ERROR",
            &[
                "not verifiable from the organization",
                &format!("{LOG_ARCHIVE} is SUSPENDED"),
            ],
        );
    }
    assert_eq!(emulator.counters().assume_role_into(LOG_ARCHIVE), 0);
    run.assert_exit(2);
}

/// The repository AWS's Security Reference Architecture deploys: the key grants Macie
/// kms:GenerateDataKey only, without source conditions; the bucket's only PutObject grant for
/// Macie wants an ACL header AWS does not document Macie sending. Neither proves or disproves
/// Macie's writes: WARN, naming the condition and the statement.
#[test]
fn the_security_reference_architecture_repository_warns() {
    let sra_bucket_policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DenyPutObjectUnlessMacie","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
         "Resource":"arn:aws:s3:::${BUCKET}/*",
         "Condition":{"ForAnyValue:StringNotEquals":{"aws:CalledVia":"macie.amazonaws.com"}}},
        {"Sid":"SecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
         "Resource":["arn:aws:s3:::${BUCKET}","arn:aws:s3:::${BUCKET}/*"],
         "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
        {"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":{"Service":"macie.amazonaws.com"},
         "Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*",
         "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
        {"Sid":"AWSBucketPermissionsCheck","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
         "Action":["s3:GetBucketAcl","s3:GetBucketLocation","s3:ListBucket"],
         "Resource":"arn:aws:s3:::${BUCKET}"},
        {"Sid":"AWSBucketDelivery","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
         "Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*",
         "Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}]}"#;
    let sra_key_policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Enable IAM User Permissions","Effect":"Allow",
         "Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"Allow Macie to use the key","Effect":"Allow",
         "Principal":{"Service":"macie.amazonaws.com"},"Action":"kms:GenerateDataKey",
         "Resource":"*"}]}"#;
    let sra = Repo {
        bucket_policy: Some(sra_bucket_policy.into()),
        key_policy: Some(sra_key_policy.into()),
        ..Repo::sound()
    };
    let (_emulator, run) = scan(&sra.toml("500000000001", "sra"), "us-east-1");
    assert_finding(
        &run,
        "500000000001",
        "us-east-1",
        "MACIE-004",
        "WARN",
        &[
            "only when s3:x-amz-acl is bucket-owner-full-control (statement \"AWSBucketDelivery\")",
            "cannot be proven",
        ],
    );
    assert_finding(
        &run,
        "500000000001",
        "us-east-1",
        "MACIE-003",
        "WARN",
        &["but not kms:Encrypt", "confused deputy"],
    );
    assert_remediation_is_concrete(&run);
}

/// Central repositories shared with the whole organization or one OU, the way real
/// organizations grant them: the us-east-1 key and bucket through `aws:SourceOrgID`, the
/// eu-west-1 ones through `aws:SourceOrgPaths` under `Workloads` (nested OUs included). Macie's
/// requests carry both keys, so every member in the grant passes; an account outside the OU fails,
/// and the message says the condition wants another organizational unit.
#[test]
fn repositories_granted_to_the_organization_or_an_ou_pass() {
    let org_key = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"MacieInTheOrganization","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
         "Action":["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*",
         "Condition":{"StringEquals":{"aws:SourceOrgID":"${ORG_ID}"}}}]}"#;
    let ou_key = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"MacieInWorkloads","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
         "Action":["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*",
         "Condition":{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"${OU_PATH:Workloads}*"}}}]}"#;
    let bucket = |condition: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*",
         "Resource":["arn:aws:s3:::${{BUCKET}}","arn:aws:s3:::${{BUCKET}}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},
        {{"Sid":"MacieWrites","Effect":"Allow","Principal":{{"Service":"macie.amazonaws.com"}},
         "Action":"s3:PutObject","Resource":"arn:aws:s3:::${{BUCKET}}/macie/*","Condition":{condition}}},
        {{"Sid":"MacieLocates","Effect":"Allow","Principal":{{"Service":"macie.amazonaws.com"}},
         "Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::${{BUCKET}}","Condition":{condition}}}]}}"#
        )
    };
    let org_bucket = bucket(r#"{"StringEquals":{"aws:SourceOrgID":"${ORG_ID}"}}"#);
    let ou_bucket =
        bucket(r#"{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"${OU_PATH:Workloads}*"}}"#);
    let member = |id: &str, name: &str, ou: &str| {
        let mut text = format!("[[accounts]]\nid = \"{id}\"\nname = \"{name}\"\nou = \"{ou}\"\n");
        for (region, bucket, key_region) in [
            ("us-east-1", "org-macie-results", "us-east-1"),
            ("eu-west-1", "workloads-macie-results", "eu-west-1"),
        ] {
            text.push_str(&format!(
                "[[accounts.macie]]\nregion = \"{region}\"\ncreated_days_ago = 100\nexport = {{ bucket = \"{bucket}\", key_prefix = \"macie/\", kms_key_arn = \"key:{LOG_ARCHIVE}:{key_region}:results\" }}\n"
            ));
        }
        text
    };
    let scenario = format!(
        r#"[[accounts]]
id = "{LOG_ARCHIVE}"
name = "log-archive"
ou = "Security"

[[accounts.keys]]
alias = "results"
region = "us-east-1"
policy = '''{org_key}'''
rotation = true

[[accounts.keys]]
alias = "results"
region = "eu-west-1"
policy = '''{ou_key}'''
rotation = true

[[accounts.buckets]]
name = "org-macie-results"
region = "us-east-1"
block_public_access = true
policy = '''{org_bucket}'''
versioning = true
encryption = {{ sse = "aws:kms", kms_key = "key:{LOG_ARCHIVE}:us-east-1:results" }}

[[accounts.buckets]]
name = "workloads-macie-results"
region = "eu-west-1"
block_public_access = true
policy = '''{ou_bucket}'''
versioning = true
encryption = {{ sse = "aws:kms", kms_key = "key:{LOG_ARCHIVE}:eu-west-1:results" }}

{prod}
{dev}
{sandbox}
"#,
        prod = member("410000000001", "prod", "Workloads/Prod"),
        dev = member("410000000002", "dev", "Workloads"),
        sandbox = member("410000000003", "sandbox", "Sandbox"),
    );
    let (emulator, run) = scan(&scenario, "us-east-1,eu-west-1");
    for account in ["410000000001", "410000000002", "410000000003"] {
        for rule in ["MACIE-003", "MACIE-004"] {
            assert_finding(&run, account, "us-east-1", rule, "PASS", &[]);
        }
    }
    for account in ["410000000001", "410000000002"] {
        for rule in ["MACIE-003", "MACIE-004"] {
            assert_finding(&run, account, "eu-west-1", rule, "PASS", &[]);
        }
    }
    let (_, workloads) = emulator.ou("Workloads");
    for rule in ["MACIE-003", "MACIE-004"] {
        assert_finding(
            &run,
            "410000000003",
            "eu-west-1",
            rule,
            "FAIL",
            &[
                "aws:SourceOrgPaths",
                &workloads,
                "another organizational unit",
            ],
        );
    }
    run.assert_exit(1);
}

/// A repository bucket deleted between two nights: the first scan passes, the second fails
/// MACIE-004 and MACIE-005 ("the bucket does not exist") and is complete (exit 1, not 2): the
/// bucket's absence is a fact, not a call that could not be made.
#[test]
fn a_repository_bucket_deleted_since_the_last_run_fails_and_the_run_is_complete() {
    let management = "123456789012";
    let mut emulator = Emulator::start();
    emulator.load_scenario(&Repo::sound().toml(management, "management"));
    let before = emulator.scan().regions("us-east-1").run();
    before.assert_exit(0);

    // DeleteBucket with the owner's (the management account's static test) credentials; the
    // emulator identifies the account by the access key and checks no signature.
    let deleted = ureq::delete(&format!("{}/results-{management}", emulator.endpoint))
        .set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/s3/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0",
        )
        .set("X-Amz-Date", "20261203T000000Z")
        .call()
        .expect("DeleteBucket");
    assert_eq!(deleted.status(), 204);

    let after = emulator.scan().regions("us-east-1").run();
    for rule in ["MACIE-004", "MACIE-005"] {
        assert_finding(
            &after,
            management,
            "us-east-1",
            rule,
            "FAIL",
            &["does not exist"],
        );
    }
    assert!(
        after.findings().iter().all(|f| f["status"] != "ERROR"),
        "{:#?}",
        after.findings()
    );
    after.assert_exit(1);
}

/// AWS's confused-deputy guardrail as an RCP: deny S3 and KMS to AWS service principals acting
/// for an account (`aws:SourceAccount` present) outside `organization`.
fn confused_deputy_guardrail(organization: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"EnforceConfusedDeputyProtection",
        "Effect":"Deny","Principal":"*","Action":["s3:*","kms:*"],"Resource":"*",
        "Condition":{{"StringNotEqualsIfExists":{{"aws:SourceOrgID":"{organization}"}},
        "Null":{{"aws:SourceAccount":"false"}},"Bool":{{"aws:PrincipalIsAWSService":"true"}}}}}}]}}"#
    )
}

/// An account's repository (`Repo::sound`) in an OU.
fn sound_repository_in(id: &str, name: &str, ou: &str) -> String {
    Repo::sound().toml(id, name).replacen(
        &format!("name = \"{name}\"\n"),
        &format!("name = \"{name}\"\nou = \"{ou}\"\n"),
        1,
    )
}

#[test]
fn resource_control_policies_decide_macies_writes() {
    let central_users = ["111111111111", "222222222222"];
    let own_org = "own-org-guardrail";
    let other_org = "other-org-guardrail";
    let other_org_on_ou = "other-org-guardrail-on-ou";
    let acl_header = "require-acl-header";
    let mut scenario = format!(
        r#"[organization]
resource_control_policies = true
[[organization.policies]]
name = "{own_org}"
content = '''{own}'''
targets = ["root"]
[[organization.policies]]
name = "{other_org}"
content = '''{other}'''
targets = ["account:{LOG_ARCHIVE}"]
[[organization.policies]]
name = "{other_org_on_ou}"
content = '''{other}'''
targets = ["ou:Shared"]
[[organization.policies]]
name = "{acl_header}"
content = '''{{"Version":"2012-10-17","Statement":[{{"Sid":"RequireBucketOwnerAcl","Effect":"Deny",
  "Principal":"*","Action":"s3:PutObject","Resource":"*",
  "Condition":{{"StringNotEquals":{{"s3:x-amz-acl":"bucket-owner-full-control"}}}}}}]}}'''
targets = ["account:666666666666"]
"#,
        own = confused_deputy_guardrail("${ORG_ID}"),
        other = confused_deputy_guardrail("o-zzzzzzzzzz"),
    );
    scenario.push_str(&log_archive(&central_users).replacen(
        "name = \"log-archive\"\n",
        "name = \"log-archive\"\nou = \"Security\"\n",
        1,
    ));
    for (n, id) in central_users.iter().enumerate() {
        scenario.push_str(&central_user(id, &format!("workload-{n}"), &["us-east-1"]));
    }
    // Under the root's guardrail only: the organization's own id lets Macie through.
    scenario.push_str(&Repo::sound().toml("444444444444", "own-repository"));
    // Under the other organization's guardrail, attached to the OU above the owner.
    scenario.push_str(&sound_repository_in(
        "555555555555",
        "shared-repository",
        "Shared/Deep",
    ));
    scenario.push_str(&Repo::sound().toml("666666666666", "acl-guarded"));
    let (emulator, run) = scan(&scenario, "us-east-1");
    let policy_id = |name: &str| {
        emulator.seeded["policies"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no policy {name}"))
            .to_owned()
    };
    let (shared_ou, _) = emulator.ou("Shared");

    // The guardrail naming another organization, attached to the owner account: every user of
    // the central repository fails on the key and the bucket, naming the RCP.
    let on_account = policy_id(other_org);
    for id in central_users {
        for rule in ["MACIE-003", "MACIE-004"] {
            assert_finding(
                &run,
                id,
                "us-east-1",
                rule,
                "FAIL",
                &[
                    &on_account,
                    other_org,
                    "\"EnforceConfusedDeputyProtection\"",
                    &format!("attached to account {LOG_ARCHIVE}"),
                ],
            );
        }
    }
    assert_finding(
        &run,
        "111111111111",
        "us-east-1",
        "MACIE-003",
        "FAIL",
        &["kms:GenerateDataKey and kms:Encrypt"],
    );
    assert_finding(
        &run,
        "111111111111",
        "us-east-1",
        "MACIE-004",
        "FAIL",
        &["s3:PutObject under \"macie/\" and s3:GetBucketLocation on the bucket"],
    );
    let remediation = &run.finding("111111111111", "us-east-1", "MACIE-004")["remediation"];
    assert!(
        remediation.contains(&format!("--policy-id {on_account}"))
            && remediation.contains(&format!("--target-id {LOG_ARCHIVE}")),
        "{remediation}"
    );
    // Attached to an OU above the owner (its grandparent).
    for rule in ["MACIE-003", "MACIE-004"] {
        assert_finding(
            &run,
            "555555555555",
            "us-east-1",
            rule,
            "FAIL",
            &[
                &policy_id(other_org_on_ou),
                &format!("attached to OU {shared_ou}"),
            ],
        );
    }
    // The organization's own id, and RCPFullAWSAccess: nothing changes.
    for rule in ["MACIE-003", "MACIE-004"] {
        assert_finding(&run, "444444444444", "us-east-1", rule, "PASS", &[]);
        let message = &run.finding("444444444444", "us-east-1", rule)["message"];
        assert!(!message.contains("RCP"), "{message}");
    }
    // A Deny on a key Macie's request may or may not carry: WARN, naming it; the key is not
    // concerned.
    assert_finding(
        &run,
        "666666666666",
        "us-east-1",
        "MACIE-004",
        "WARN",
        &[
            &policy_id(acl_header),
            "s3:x-amz-acl",
            "\"RequireBucketOwnerAcl\"",
        ],
    );
    assert_finding(&run, "666666666666", "us-east-1", "MACIE-003", "PASS", &[]);

    // Each target once: the root, the OUs above the owners (Security, Shared, Shared/Deep) and
    // the owning accounts (333, 444, 555, 666); each policy once (the four and RCPFullAWSAccess).
    let counters = emulator.counters();
    assert_eq!(
        counters.operation("organizations:ListPoliciesForTarget"),
        8,
        "{:?}",
        counters.0["operations"]
    );
    assert_eq!(
        counters.operation("organizations:DescribePolicy"),
        5,
        "{:?}",
        counters.0["operations"]
    );
    // Read with the identity that lists the organization.
    assert_eq!(
        counters.in_account("123456789012", "organizations:DescribePolicy"),
        5
    );

    // A re-render of the evidence judges the same.
    let evidence = run.evidence();
    let controls = evidence.resource_controls.as_ref().expect("RCP evidence");
    assert_eq!(controls.targets.len(), 8);
    assert!(
        controls
            .policies
            .iter()
            .all(|p| p.described.request_id.is_some())
    );
    assert!(evidence.resource_controls_not_evaluated().is_none());
    let rejudged = common::judged(&evidence);
    for id in central_users {
        let finding = rejudged
            .iter()
            .find(|f| f.account_id == id && f.rule_id == "MACIE-003")
            .expect("MACIE-003 judged again");
        assert_eq!(finding.status.as_str(), "FAIL", "{}", finding.message);
    }
    let metadata = std::fs::read_to_string(run.dir().join("run.json")).expect("run.json");
    assert!(
        !metadata.contains("resource_control_policies_not_evaluated"),
        "{metadata}"
    );
}

#[test]
fn resource_control_policies_not_enabled_are_said_once_and_change_nothing() {
    let scenario = sound_repository_in("444444444444", "own-repository", "Workloads");
    let (emulator, run) = scan(&scenario, "us-east-1");
    for rule in ["MACIE-003", "MACIE-004"] {
        assert_finding(&run, "444444444444", "us-east-1", rule, "PASS", &[]);
        // Said once for the run, not on every finding: no RCP is in force.
        assert!(
            !run.finding("444444444444", "us-east-1", rule)["message"]
                .contains("Resource Control Policies"),
            "{:?}",
            run.finding("444444444444", "us-east-1", rule)
        );
    }
    let counters = emulator.counters();
    assert_eq!(counters.operation("organizations:ListPoliciesForTarget"), 0);
    assert_eq!(counters.operation("organizations:DescribePolicy"), 0);
    let metadata: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.dir().join("run.json")).expect("run.json"),
    )
    .expect("run.json is JSON");
    let reason = metadata["organization"]["resource_control_policies_not_evaluated"]
        .as_str()
        .expect("run.json says why RCPs were not evaluated");
    assert!(reason.contains("not enabled"), "{reason}");
    let html = std::fs::read_to_string(run.dir().join("report.html")).expect("report.html");
    assert_eq!(html.matches("RCPs NOT EVALUATED").count(), 1);
    assert!(run.evidence().resource_controls.is_none());
}
