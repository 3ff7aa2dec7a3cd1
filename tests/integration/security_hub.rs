//! `scan --security-hub` against the emulator: findings land in their own account and Region,
//! a second run updates them instead of adding new ones, a finding resolved since is archived
//! (and so is one the run no longer produces), and a member without Security Hub is reported in
//! run.json and makes the exit code 2 without stopping the scan.

use crate::common;

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_securityhub::types::{AwsSecurityFinding, RecordState};
use common::Emulator;
use macie_audit::integrations::security_hub::{self, ID_PREFIX};
use serde_json::{Value, json};

const HUB: &str = "111111111111";
const NO_HUB: &str = "222222222222";

/// 111… has Security Hub in both Regions, Macie in us-east-1 without a repository (MACIE-002
/// FAIL) and not in eu-west-1 (MACIE-001 FAIL); 222… has no Security Hub at all.
const SCENARIO: &str = r#"
[[accounts]]
id = "111111111111"
name = "hub <b>&amp;</b>"
security_hub = ["us-east-1", "eu-west-1"]
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 45

[[accounts]]
id = "222222222222"
name = "no hub"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 45
"#;

async fn hub_client(
    emulator: &Emulator,
    account: &str,
    region: &str,
) -> aws_sdk_securityhub::Client {
    let management = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&emulator.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let assumed = aws_sdk_sts::Client::new(&management)
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("security-hub-test")
        .send()
        .await
        .expect("AssumeRole");
    let c = assumed.credentials().expect("credentials");
    let config = management
        .to_builder()
        .region(Region::new(region.to_owned()))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "assumed",
            )),
        )
        .build();
    aws_sdk_securityhub::Client::new(&config)
}

/// Every finding Security Hub holds in an account-Region.
async fn findings_in(emulator: &Emulator, account: &str, region: &str) -> Vec<AwsSecurityFinding> {
    let client = hub_client(emulator, account, region).await;
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_findings()
            .set_next_token(token)
            .send()
            .await
            .expect("GetFindings");
        all.extend(page.findings().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return all;
        }
    }
}

/// GeneratorId → (Compliance.Status, RecordState) of our findings there.
fn states(findings: &[AwsSecurityFinding]) -> BTreeMap<String, (String, String)> {
    findings
        .iter()
        .filter(|f| f.id().is_some_and(|id| id.starts_with(ID_PREFIX)))
        .map(|f| {
            (
                f.generator_id().unwrap_or_default().to_owned(),
                (
                    f.compliance()
                        .and_then(|c| c.status())
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    f.record_state()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            )
        })
        .collect()
}

fn run_json(run: &common::ScanRun) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.dir().join("run.json")).expect("run.json"))
        .expect("JSON")
}

#[tokio::test]
async fn two_runs_import_update_archive_and_report_a_member_without_security_hub() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let output = tempfile::tempdir().expect("temp");
    let scan = || {
        emulator
            .scan()
            .regions("us-east-1,eu-west-1")
            .arg("--accounts")
            .arg(&format!("{HUB},{NO_HUB}"))
            .arg("--security-hub")
            .output_dir(output.path())
    };

    // Run 1.
    let first = scan().run();
    first.assert_exit(2);
    assert!(
        first.stderr.contains("WARN")
            && first.stderr.contains("Security Hub import failed")
            && first.stderr.contains(NO_HUB),
        "a warning names the member:\n{}",
        first.stderr
    );
    // The run itself is complete (its findings make exit code 1): the import alone makes it 2,
    // and run.json says so as the process does.
    let meta = run_json(&first);
    assert_eq!(meta["complete"], true);
    assert_eq!(meta["exit_code"], 2);
    let reason =
        "Security Hub import incomplete (10 findings not imported) (the local run is kept)";
    assert_eq!(meta["exit_reason"], reason);
    assert!(
        first.stdout.contains("Security Hub delivered INCOMPLETELY")
            && first.stdout.contains(&format!("result: {reason} (exit 2)")),
        "the console says which delivery failed:\n{}",
        first.stdout
    );
    let delivery = &meta["delivery"]["security_hub"];
    let failures = delivery["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 2, "{delivery}");
    for (failure, region) in failures.iter().zip(["eu-west-1", "us-east-1"]) {
        assert_eq!(failure["account_id"], NO_HUB);
        assert_eq!(failure["region"], region);
        assert!(
            failure["error"].as_str().is_some_and(
                |e| e.contains("InvalidAccessException") && e.contains("not subscribed")
            ),
            "{failure}"
        );
    }
    assert_eq!(delivery["imported"], 10, "{delivery}");
    // The manifest covers the rewritten run.json.
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(first.dir())
        .status()
        .expect("sha256sum");
    assert!(sums.success());

    let east = findings_in(&emulator, HUB, "us-east-1").await;
    let west = findings_in(&emulator, HUB, "eu-west-1").await;
    assert_eq!(east.len(), 5, "one per rule");
    assert_eq!(west.len(), 5, "one per rule");
    for (findings, region) in [(&east, "us-east-1"), (&west, "eu-west-1")] {
        for finding in findings.iter() {
            assert_eq!(finding.aws_account_id(), Some(HUB));
            assert_eq!(finding.region(), Some(region));
            assert_eq!(
                finding.product_arn(),
                Some(security_hub::product_arn(HUB, region).as_str())
            );
            let fields = finding.product_fields().expect("product fields");
            assert_eq!(fields["macie-audit/AccountName"], "hub <b>&amp;</b>");
        }
    }
    let east_states = states(&east);
    assert_eq!(
        east_states["macie-audit/MACIE-001"],
        ("PASSED".into(), "ARCHIVED".into())
    );
    assert_eq!(
        east_states["macie-audit/MACIE-002"],
        ("FAILED".into(), "ACTIVE".into())
    );
    assert_eq!(
        east_states["macie-audit/MACIE-003"],
        ("NOT_AVAILABLE".into(), "ARCHIVED".into())
    );
    assert_eq!(
        states(&west)["macie-audit/MACIE-001"],
        ("FAILED".into(), "ACTIVE".into())
    );
    let first_created: BTreeMap<String, String> = west
        .iter()
        .map(|f| {
            (
                f.id().unwrap_or_default().to_owned(),
                f.created_at().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Between the runs: Macie is enabled in eu-west-1 (MACIE-001 there is resolved), and an
    // active finding of ours appears that the next run will not produce (a repository that
    // has moved on).
    emulator.set_macie(
        json!({"account": HUB, "region": "eu-west-1", "enabled": true, "created_days_ago": 1}),
    );
    let stale_id = format!("{ID_PREFIX}no-longer-produced");
    let east_client = hub_client(&emulator, HUB, "us-east-1").await;
    let mut stale = east[0].clone();
    stale.id = Some(stale_id.clone());
    stale.generator_id = Some("macie-audit/MACIE-004".into());
    stale.record_state = Some(RecordState::Active);
    let imported = east_client
        .batch_import_findings()
        .findings(stale)
        .send()
        .await
        .expect("import the stale finding");
    assert_eq!(imported.failed_count(), Some(0));

    // Run 2.
    let second = scan().run();
    second.assert_exit(2);
    let east = findings_in(&emulator, HUB, "us-east-1").await;
    let west = findings_in(&emulator, HUB, "eu-west-1").await;
    assert_eq!(west.len(), 5, "updated, not duplicated");
    assert_eq!(east.len(), 6, "updated, not duplicated (and the stale one)");
    let resolved = &states(&west)["macie-audit/MACIE-001"];
    assert_eq!(resolved, &("PASSED".to_owned(), "ARCHIVED".to_owned()));
    assert_eq!(
        states(&west)["macie-audit/MACIE-002"],
        ("WARNING".into(), "ACTIVE".into()),
        "within 30 days of enabling Macie"
    );
    for finding in &west {
        let id = finding.id().unwrap_or_default();
        assert_eq!(
            finding.created_at(),
            first_created.get(id).map(String::as_str),
            "CreatedAt is the first import's"
        );
    }
    let stale = east
        .iter()
        .find(|f| f.id() == Some(stale_id.as_str()))
        .expect("still there");
    assert_eq!(stale.record_state(), Some(&RecordState::Archived));
    let delivery = &run_json(&second)["delivery"]["security_hub"];
    assert_eq!(delivery["archived_stale"], 1, "{delivery}");
}

/// With every member able to receive, the delivery is complete and the exit code is the
/// findings' own.
#[tokio::test]
async fn a_complete_delivery_keeps_the_findings_exit_code() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let run = emulator
        .scan()
        .regions("us-east-1")
        .arg("--accounts")
        .arg(HUB)
        .arg("--security-hub")
        .run();
    run.assert_exit(1);
    let meta = run_json(&run);
    assert_eq!(meta["exit_code"], 1);
    assert_eq!(meta["exit_reason"], Value::Null);
    let delivery = &meta["delivery"]["security_hub"];
    assert_eq!(delivery["failures"], json!([]));
    assert_eq!(delivery["account_regions"], 1);
    assert!(
        run.stdout.contains("Security Hub: 5 findings imported"),
        "{}",
        run.stdout
    );
}

/// Security Hub throttles (ThrottlingException, 429): the import retries each call, within its
/// account and Region's retry budget, and every finding goes in.
#[tokio::test]
async fn throttled_imports_are_retried() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    emulator.faults(json!({
        "throttle_fraction": 0.5,
        "seed": 7,
        "operations": ["securityhub:BatchImportFindings", "securityhub:GetFindings"],
    }));
    let run = emulator
        .scan()
        .regions("us-east-1,eu-west-1")
        .arg("--accounts")
        .arg(HUB)
        .arg("--security-hub")
        .run();
    let counters = emulator.counters();
    emulator.faults(json!({}));
    run.assert_exit(1);
    assert!(
        counters.faulted("securityhub:BatchImportFindings")
            + counters.faulted("securityhub:GetFindings")
            > 0,
        "some calls were throttled: {:?}",
        counters.0
    );
    let delivery = &run_json(&run)["delivery"]["security_hub"];
    assert_eq!(delivery["failures"], json!([]), "{delivery}");
    assert_eq!(delivery["imported"], 10, "{delivery}");
    assert_eq!(findings_in(&emulator, HUB, "us-east-1").await.len(), 5);
    assert_eq!(findings_in(&emulator, HUB, "eu-west-1").await.len(), 5);
}
