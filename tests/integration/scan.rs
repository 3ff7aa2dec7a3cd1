//! End-to-end scans of emulated organizations: every status, the grace period boundary,
//! pagination, denied and disabled accounts, throttling, and the cost in AWS calls.

use crate::common;

use std::collections::BTreeMap;

use common::{Account, Emulator, Scenario};
use serde_json::json;

/// The account-Regions that export to the sound central repositories of account 111111111111.
const REPOSITORY_USERS: &[&str] = &[
    "123456789012",
    "111111111111",
    "444444444444",
    "777777777777",
];

/// One account per status, in two Regions, one of them opt-in; every configured repository is
/// sound, so the repository rules pass wherever a repository is configured.
fn every_status() -> String {
    let export = |region: &str| {
        let bucket = if region == "us-east-1" {
            "org-macie-results"
        } else {
            "org-macie-results-af"
        };
        format!(
            "export = {{ bucket = \"{bucket}\", key_prefix = \"macie/\", kms_key_arn = \"key:111111111111:{region}:org\" }}"
        )
    };
    let repository = |region: &str, bucket: &str| {
        let principal = if region == "us-east-1" {
            "macie.amazonaws.com".to_owned()
        } else {
            format!("macie.{region}.amazonaws.com")
        };
        format!(
            "\n[[accounts.keys]]\nalias = \"org\"\nregion = \"{region}\"\npolicy = '''{}'''\nrotation = true\n\n\
             [[accounts.buckets]]\nname = \"{bucket}\"\nregion = \"{region}\"\nblock_public_access = true\n\
             versioning = true\nencryption = {{ sse = \"aws:kms\", kms_key = \"key:org\" }}\npolicy = '''{}'''\n",
            common::key_policy(REPOSITORY_USERS, true, &principal),
            common::bucket_policy(REPOSITORY_USERS, "false", "macie/", &principal),
        )
    };
    let export_us = export("us-east-1");
    Scenario::new()
        .raw("[organization]\nenabled = true")
        .account(
            Account::new("123456789012", "management")
                .macie("us-east-1", 400)
                .with(&export_us),
        )
        .account(
            Account::new("111111111111", "compliant")
                .macie("us-east-1", 100)
                .with(&export_us)
                .macie("af-south-1", 100)
                .with(&export("af-south-1"))
                .with(&repository("us-east-1", "org-macie-results"))
                .with(&repository("af-south-1", "org-macie-results-af")),
        )
        .account(Account::new("222222222222", "no-repository-old").macie("us-east-1", 45))
        .account(Account::new("333333333333", "no-repository-new").macie("us-east-1", 10))
        .account(
            Account::new("444444444444", "paused")
                .macie("us-east-1", 90)
                .with("status = \"PAUSED\"")
                .with(&export_us),
        )
        .account(Account::new("555555555555", "denied").with("assume_role = \"deny\""))
        .account(Account::new("666666666666", "suspended").with("status = \"SUSPENDED\""))
        .account(
            Account::new("777777777777", "opt-in-disabled")
                .with("disabled_regions = [\"af-south-1\"]")
                .macie("us-east-1", 60)
                .with(&export_us),
        )
        .account(
            Account::new("888888888888", "member")
                .macie("us-east-1", 200)
                .with("administrator = \"111111111111\""),
        )
        .toml()
        .to_owned()
}

fn statuses(run: &common::ScanRun) -> BTreeMap<(String, String, String), String> {
    run.findings()
        .into_iter()
        .map(|f| {
            (
                (
                    f["account_id"].clone(),
                    f["region"].clone(),
                    f["rule_id"].clone(),
                ),
                f["status"].clone(),
            )
        })
        .collect()
}

#[test]
fn every_status_from_a_mixed_organization() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    let run = emulator.scan().regions("us-east-1,af-south-1").run();
    run.assert_exit(2);

    let expect = |account: &str, region: &str, rule: &str, status: &str| {
        assert_eq!(
            run.status(account, region, rule),
            status,
            "{account} {region} {rule}: {:?}",
            run.finding(account, region, rule)
        );
    };
    // The management account is scanned with the caller's own credentials.
    expect("123456789012", "us-east-1", "MACIE-001", "PASS");
    expect("123456789012", "us-east-1", "MACIE-002", "PASS");
    expect("123456789012", "af-south-1", "MACIE-001", "FAIL");
    expect("123456789012", "af-south-1", "MACIE-002", "NOT_APPLICABLE");
    expect("111111111111", "us-east-1", "MACIE-002", "PASS");
    expect("111111111111", "af-south-1", "MACIE-002", "PASS");
    expect("222222222222", "us-east-1", "MACIE-001", "PASS");
    expect("222222222222", "us-east-1", "MACIE-002", "FAIL");
    expect("333333333333", "us-east-1", "MACIE-002", "WARN");
    expect("444444444444", "us-east-1", "MACIE-001", "FAIL");
    expect("444444444444", "us-east-1", "MACIE-002", "PASS");
    for region in ["us-east-1", "af-south-1"] {
        for rule in ["MACIE-001", "MACIE-002"] {
            expect("555555555555", region, rule, "ERROR");
            expect("666666666666", region, rule, "SKIPPED");
        }
    }
    expect("777777777777", "us-east-1", "MACIE-002", "PASS");
    expect("777777777777", "af-south-1", "MACIE-001", "SKIPPED");
    expect("777777777777", "af-south-1", "MACIE-002", "SKIPPED");
    expect("888888888888", "us-east-1", "MACIE-002", "FAIL");
    for (account, region) in [
        ("123456789012", "us-east-1"),
        ("111111111111", "us-east-1"),
        ("111111111111", "af-south-1"),
        ("444444444444", "us-east-1"),
        ("777777777777", "us-east-1"),
    ] {
        for rule in ["MACIE-003", "MACIE-004", "MACIE-005"] {
            expect(account, region, rule, "PASS");
        }
    }
    for rule in ["MACIE-003", "MACIE-004", "MACIE-005"] {
        expect("222222222222", "us-east-1", rule, "NOT_APPLICABLE");
        expect("123456789012", "af-south-1", rule, "NOT_APPLICABLE");
    }

    let denied = run.finding("555555555555", "us-east-1", "MACIE-001");
    assert!(denied["message"].contains("AccessDenied"), "{denied:?}");
    assert!(
        denied["message"].contains("OrganizationAccountAccessRole"),
        "{denied:?}"
    );
    assert!(run.finding("666666666666", "us-east-1", "MACIE-001")["message"].contains("SUSPENDED"));
    assert!(
        run.finding("777777777777", "af-south-1", "MACIE-001")["message"]
            .contains("Region not enabled")
    );
    let member = run.finding("888888888888", "us-east-1", "MACIE-002");
    assert!(
        member["message"].contains("member of administrator 111111111111"),
        "{member:?}"
    );
    let warn = run.finding("333333333333", "us-east-1", "MACIE-002");
    assert!(warn["message"].contains("grace period ends on"), "{warn:?}");

    // The whole population: every account in scope, every Region, every rule.
    assert_eq!(
        run.findings().len(),
        9 * 2 * macie_audit::rules::CATALOGUE.len()
    );

    // The evidence alone reproduces the findings.
    let evidence = run.evidence();
    let replayed = common::judged(&evidence);
    let replayed: BTreeMap<_, _> = replayed
        .into_iter()
        .map(|f| {
            (
                (f.account_id, f.region, f.rule_id),
                f.status.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(replayed, statuses(&run));

    // Evidence keeps the request ids and the identity used in each account.
    let session = &evidence
        .account_region("222222222222", "us-east-1")
        .expect("evidence for 222222222222")
        .macie_session;
    assert!(
        session
            .request_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
    );
    let access = evidence
        .accounts
        .iter()
        .find(|a| a.account.id == "111111111111")
        .and_then(|a| a.access.clone())
        .expect("access evidence");
    assert_eq!(
        access.role_arn.as_deref(),
        Some("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole")
    );
    assert!(
        access
            .identity
            .response()
            .is_some_and(|id| id.account == "111111111111")
    );
    assert!(run.stdout.contains("INCOMPLETE"), "{}", run.stdout);
}

#[test]
fn grace_period_boundary_is_thirty_days() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(
        r#"
[[accounts]]
id = "111111111111"
name = "just-inside"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 29.95

[[accounts]]
id = "222222222222"
name = "just-outside"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 30.05
"#,
    );
    let run = emulator
        .scan()
        .regions("us-east-1")
        .arg("--accounts")
        .arg("111111111111,222222222222")
        .run();
    run.assert_exit(1);
    assert_eq!(run.status("111111111111", "us-east-1", "MACIE-002"), "WARN");
    assert_eq!(run.status("222222222222", "us-east-1", "MACIE-002"), "FAIL");
    assert!(
        run.finding("222222222222", "us-east-1", "MACIE-002")["message"]
            .contains("grace period ended on")
    );
}

#[test]
fn pagination_lists_every_account_and_assumes_each_role_once() {
    let mut emulator = Emulator::start();
    let mut scenario = String::new();
    for n in 1..=45u64 {
        scenario.push_str(&format!(
            "[[accounts]]\nid = \"{:012}\"\nname = \"member-{n}\"\n[[accounts.macie]]\nregion = \"eu-west-1\"\ncreated_days_ago = 5\n\n",
            100_000_000_000 + n
        ));
    }
    emulator.load_scenario(&scenario);
    emulator.reset_counters();
    let run = emulator
        .scan()
        .regions("us-east-1,us-west-2,eu-west-1,eu-central-1")
        .run();
    run.assert_exit(1);

    let accounts: std::collections::BTreeSet<String> = run
        .findings()
        .into_iter()
        .map(|f| f["account_id"].clone())
        .collect();
    assert_eq!(accounts.len(), 46, "45 members and the management account");
    let counters = emulator.counters();
    assert_eq!(
        counters.operation("organizations:ListAccountsForParent"),
        3,
        "pages of 20: {:?}",
        counters.0
    );
    for n in 1..=45u64 {
        let id = format!("{:012}", 100_000_000_000 + n);
        assert_eq!(counters.assume_role_into(&id), 1, "AssumeRole into {id}");
        assert_eq!(run.status(&id, "eu-west-1", "MACIE-002"), "WARN");
        assert_eq!(run.status(&id, "us-east-1", "MACIE-001"), "FAIL");
    }
    assert_eq!(
        counters.assume_role_into("123456789012"),
        0,
        "the caller's own account uses its credentials"
    );
    assert_eq!(counters.operation("sts:AssumeRole"), 45);
    // Macie off: one call; Macie on: session, administrator and export configuration.
    assert_eq!(counters.operation("macie2:GetMacieSession"), 46 * 4);
    assert_eq!(
        counters.operation("macie2:GetClassificationExportConfiguration"),
        45
    );
    assert_eq!(counters.operation("macie2:GetAdministratorAccount"), 45);
}

#[test]
fn throttling_changes_no_verdict() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    let clean = emulator.scan().regions("us-east-1,af-south-1").run();
    emulator.reset_counters();
    emulator.faults(json!({"throttle_fraction": 0.3, "seed": 7}));
    let throttled = emulator.scan().regions("us-east-1,af-south-1").run();
    let counters = emulator.counters();
    let faulted: u64 = counters.0["faulted"]
        .as_object()
        .map(|ops| ops.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    assert!(
        faulted > 5,
        "the emulator throttled some calls: {:?}",
        counters.0
    );
    assert_eq!(throttled.code, clean.code);
    assert_eq!(statuses(&throttled), statuses(&clean));
}

#[test]
fn server_errors_are_retried_too() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    let clean = emulator.scan().regions("us-east-1").run();
    emulator.faults(json!({"error_fraction": 0.2, "seed": 11}));
    let flaky = emulator.scan().regions("us-east-1").run();
    assert_eq!(statuses(&flaky), statuses(&clean));
}

#[test]
fn persistent_throttling_is_an_error_not_a_verdict() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    emulator.faults(json!({"throttle_fraction": 1.0, "seed": 1, "operations": ["macie2:GetClassificationExportConfiguration"]}));
    let run = emulator
        .scan()
        .config(&format!(
            "{}\n",
            common::TEST_CONFIG.replace("max_attempts = 10", "max_attempts = 2")
        ))
        .regions("us-east-1")
        .run();
    run.assert_exit(2);
    assert_eq!(run.status("111111111111", "us-east-1", "MACIE-001"), "PASS");
    let finding = run.finding("111111111111", "us-east-1", "MACIE-002");
    assert_eq!(finding["status"], "ERROR");
    assert!(
        finding["message"].contains("ThrottlingException"),
        "{finding:?}"
    );
}

#[test]
fn compliant_organization_exits_zero() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    emulator
        .scan()
        .regions("us-east-1,af-south-1")
        .arg("--accounts")
        .arg("111111111111")
        .run()
        .assert_exit(0);
}

#[test]
fn excluded_accounts_have_no_rows_but_are_listed() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    let run = emulator
        .scan()
        .config(&format!(
            "{}\n[scope]\nexclude_accounts = [\"555555555555\"]\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    assert!(
        run.findings()
            .iter()
            .all(|f| f["account_id"] != "555555555555")
    );
    let evidence = run.evidence();
    assert!(
        evidence
            .header
            .excluded_accounts
            .iter()
            .any(|a| a.id == "555555555555")
    );
    // Without the denied account, the run is complete: FAILs remain.
    run.assert_exit(1);
}

#[test]
fn standalone_account_is_scanned_alone() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(
        r#"
[organization]
enabled = false

[[accounts]]
id = "123456789012"
name = "standalone"
[[accounts.macie]]
region = "eu-west-1"
created_days_ago = 3
"#,
    );
    let run = emulator.scan().regions("eu-west-1").run();
    run.assert_exit(0);
    let findings = run.findings();
    assert_eq!(findings.len(), macie_audit::rules::CATALOGUE.len());
    assert_eq!(run.status("123456789012", "eu-west-1", "MACIE-002"), "WARN");
    assert!(matches!(
        run.evidence().header.organization,
        macie_audit::evidence::OrganizationListing::Standalone { .. }
    ));
}

#[test]
fn csv_has_the_documented_columns() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    let run = emulator.scan().regions("us-east-1").run();
    let text = std::fs::read_to_string(run.dir().join("findings.csv")).expect("findings.csv");
    let header = text.lines().next().unwrap_or_default();
    for column in [
        "account_id",
        "account_name",
        "region",
        "rule_id",
        "status",
        "severity",
        "resource",
        "message",
    ] {
        assert!(header.contains(&format!("\"{column}\"")), "{header}");
    }
    assert!(text.contains("\r\n"), "CRLF line ends");
    let finding = run.finding("222222222222", "us-east-1", "MACIE-002");
    assert_eq!(
        finding["resource"],
        "arn:aws:macie2:us-east-1:222222222222:session"
    );
    assert_eq!(finding["severity"], "medium");
    assert_eq!(finding["account_name"], "no-repository-old");
    assert_eq!(finding["conformity_rule"], "Macie2-002");
}

#[test]
fn role_chaining_through_a_management_role() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(
        r#"
[organization]
roles = ["MacieAuditOrganizationReader"]

[[accounts]]
id = "123456789012"
name = "management"

[[accounts]]
id = "111111111111"
name = "member-a"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 5

[[accounts]]
id = "222222222222"
name = "member-b"
"#,
    );
    emulator.reset_counters();
    let run = emulator
        .scan()
        .config(&format!(
            "{}\n[access]\nmanagement_role_arn = \"arn:aws:iam::123456789012:role/MacieAuditOrganizationReader\"\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    run.assert_exit(1);
    assert_eq!(run.status("111111111111", "us-east-1", "MACIE-002"), "WARN");
    assert_eq!(run.status("222222222222", "us-east-1", "MACIE-001"), "FAIL");
    let counters = emulator.counters();
    // The management role once, then each member's role once, assumed from it.
    for account in ["123456789012", "111111111111", "222222222222"] {
        let assumed = counters.assume_role_into(account);
        assert_eq!(assumed, 1, "into {account}: {:?}", counters.0);
    }
    // Organizations was listed through the management role.
    assert_eq!(
        counters.in_account("123456789012", "organizations:ListAccountsForParent"),
        1
    );
    assert_eq!(
        counters.in_account("123456789012", "organizations:DescribeOrganization"),
        1
    );
    let evidence = run.evidence();
    assert!(matches!(
        &evidence.header.organization,
        macie_audit::evidence::OrganizationListing::Organization { management_role_arn: Some(arn), .. }
            if arn.ends_with(":role/MacieAuditOrganizationReader")
    ));
    let member = evidence
        .accounts
        .iter()
        .find(|a| a.account.id == "111111111111")
        .and_then(|a| a.access.clone())
        .expect("member access");
    assert!(
        member
            .identity
            .response()
            .is_some_and(|i| i.account == "111111111111")
    );
}

/// Scanning does not wait for the last ListAccountsForParent page: the first page's accounts are being
/// scanned while the next pages are listed (compared by the answers' own timestamps, not timed).
#[test]
fn accounts_are_scanned_while_the_organization_is_listed() {
    let mut emulator = Emulator::start();
    let mut scenario = String::new();
    for n in 1..=100u64 {
        scenario.push_str(&format!(
            "[[accounts]]\nid = \"{:012}\"\nname = \"listed-{n}\"\n\n",
            800_000_000_000 + n
        ));
    }
    emulator.load_scenario(&scenario);
    emulator.faults(json!({"latency_ms": 300}));
    let run = emulator.scan().regions("us-east-1").run();
    run.assert_exit(1); // Macie is off in every account: MACIE-001 fails.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(run.dir().join("evidence.jsonl"))
        .expect("evidence")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let pages: Vec<&serde_json::Value> = lines[0]["organization"]["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .filter(|page| page["operation"] == "organizations:ListAccountsForParent")
        .collect();
    assert_eq!(pages.len(), 6, "101 accounts under the root, 20 a page");
    let last_page = pages
        .iter()
        .filter_map(|page| page["observed_at"].as_str())
        .max()
        .expect("time")
        .to_owned();
    let first_identity = lines
        .iter()
        .filter(|l| l["record"] == "account")
        .filter_map(|l| l["access"]["identity"]["observed_at"].as_str())
        .min()
        .expect("an account reached")
        .to_owned();
    // RFC 3339 UTC timestamps of the same shape compare as text.
    assert!(
        first_identity < last_page,
        "an account was reached ({first_identity}) before the last page ({last_page})"
    );
    assert_eq!(
        run.findings().len(),
        101 * macie_audit::rules::CATALOGUE.len(),
        "and the whole population is judged"
    );
}

/// When the organization cannot be listed there is no population and no run: exit 2, the reason
/// on stderr, and no run directory left behind (not even the evidence it started).
#[test]
fn an_organization_that_cannot_be_listed_leaves_no_run() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(&every_status());
    emulator.faults(
        json!({"error_fraction": 1.0, "seed": 1, "operations": ["organizations:ListAccountsForParent"]}),
    );
    let run = emulator.scan().regions("us-east-1").run();
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("cannot list the organization (organizations:ListAccountsForParent of r-"),
        "{}",
        run.stderr
    );
    assert!(run.run_dir.is_none(), "{:?}", run.run_dir);
}

/// An organization of three levels: the management account under the root, `Workloads` with a
/// member, `Workloads/Prod` with two, and `Sandbox` with one.
const TREE: &str = r#"
[organization]
organizational_units = ["Sandbox/Empty"]

[[accounts]]
id = "123456789012"
name = "management"

[[accounts]]
id = "310000000001"
name = "workloads-shared"
ou = "Workloads"

[[accounts]]
id = "310000000002"
name = "prod-a"
ou = "Workloads/Prod"

[[accounts]]
id = "310000000003"
name = "prod-b"
ou = "Workloads/Prod"

[[accounts]]
id = "310000000004"
name = "sandbox"
ou = "Sandbox"
"#;

/// The tree is walked once (one DescribeOrganization, one ListRoots, one page of accounts and
/// one of OUs per parent, no ListAccounts), and every account carries its OU path into the
/// evidence, run.json, CSV, SARIF and OCSF.
#[test]
fn the_organization_tree_gives_every_account_its_ou_path() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(TREE);
    emulator.reset_counters();
    let run = emulator.scan().regions("us-east-1").run();
    run.assert_exit(1);
    let organization = emulator.organization_id();
    let (_, prod) = emulator.ou("Workloads/Prod");
    let (_, sandbox) = emulator.ou("Sandbox");
    assert!(prod.starts_with(&format!("{organization}/r-")), "{prod}");
    assert_eq!(prod.matches("/ou-").count(), 2, "{prod}");

    let counters = emulator.counters();
    assert_eq!(counters.operation("organizations:DescribeOrganization"), 1);
    assert_eq!(counters.operation("organizations:ListRoots"), 1);
    // The root, Workloads, Workloads/Prod, Sandbox and Sandbox/Empty.
    assert_eq!(counters.operation("organizations:ListAccountsForParent"), 5);
    assert_eq!(
        counters.operation("organizations:ListOrganizationalUnitsForParent"),
        5
    );
    assert_eq!(counters.operation("organizations:ListAccounts"), 0);

    let evidence = run.evidence();
    assert_eq!(evidence.organization_id(), Some(organization.as_str()));
    assert_eq!(evidence.ou_path("310000000002"), Some(prod.as_str()));
    assert_eq!(evidence.ou_path("310000000004"), Some(sandbox.as_str()));

    let metadata: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.dir().join("run.json")).expect("run.json"),
    )
    .expect("JSON");
    assert_eq!(metadata["organization"]["id"], organization.as_str());
    let prod_a = metadata["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["id"] == "310000000002")
        .expect("prod-a in run.json");
    assert_eq!(prod_a["ou_path"], prod.as_str());

    assert_eq!(
        run.finding("310000000003", "us-east-1", "MACIE-001")["ou_path"],
        prod
    );
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.dir().join("findings.sarif")).expect("SARIF"),
    )
    .expect("JSON");
    let result = sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["properties"]["accountId"] == "310000000004")
        .expect("a sandbox result");
    assert_eq!(result["properties"]["ouPath"], sandbox.as_str());
    let ocsf = std::fs::read_to_string(run.dir().join("findings.ocsf.jsonl")).expect("OCSF");
    let line: serde_json::Value = ocsf
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|l| l["cloud"]["account"]["uid"] == "310000000002")
        .expect("a prod-a finding");
    assert_eq!(line["cloud"]["org"]["uid"], organization.as_str());
    assert_eq!(
        line["cloud"]["org"]["ou_uid"],
        emulator.ou("Workloads/Prod").0
    );
}

/// `scope.organizational_units` keeps the accounts under an OU, nested OUs included, by id or
/// by path; `scope.exclude_organizational_units` leaves out a nested OU, listed as excluded.
#[test]
fn organizational_units_scope_the_run_with_nested_units() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(TREE);
    let (workloads, _) = emulator.ou("Workloads");
    let (_, prod_path) = emulator.ou("Workloads/Prod");
    let judged = |run: &common::ScanRun| -> std::collections::BTreeSet<String> {
        run.findings()
            .into_iter()
            .map(|f| f["account_id"].clone())
            .collect()
    };

    let by_id = emulator
        .scan()
        .config(&format!(
            "{}\n[scope]\norganizational_units = [\"{workloads}\"]\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    by_id.assert_exit(1);
    assert_eq!(
        judged(&by_id),
        ["310000000001", "310000000002", "310000000003"]
            .map(String::from)
            .into(),
        "Workloads and the nested Workloads/Prod"
    );
    assert!(by_id.evidence().header.excluded_accounts.is_empty());

    let nested_left_out = emulator
        .scan()
        .config(&format!(
            "{}\n[scope]\norganizational_units = [\"{workloads}\"]\n\
             exclude_organizational_units = [\"{prod_path}\"]\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    nested_left_out.assert_exit(1);
    assert_eq!(
        judged(&nested_left_out),
        ["310000000001"].map(String::from).into()
    );
    let excluded: Vec<String> = nested_left_out
        .evidence()
        .header
        .excluded_accounts
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(excluded, ["310000000002", "310000000003"]);
}

/// A typo must not scan nothing and report success: an account id or OU the organization does
/// not have is a usage error (exit 3) naming every one of them, before anything is scanned and
/// without a run directory.
#[test]
fn names_the_organization_does_not_have_are_a_usage_error() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(TREE);
    emulator.reset_counters();
    let typo = emulator
        .scan()
        .arg("--accounts")
        .arg("310000000002,000000000042,000000000043")
        .regions("us-east-1")
        .run();
    typo.assert_exit(3);
    assert!(
        typo.stderr.contains("000000000042, 000000000043")
            && !typo.stderr.contains("310000000002,"),
        "{}",
        typo.stderr
    );
    assert!(typo.run_dir.is_none(), "{:?}", typo.run_dir);
    let counters = emulator.counters();
    assert_eq!(
        counters.operation("macie2:GetMacieSession"),
        0,
        "nothing scanned"
    );
    assert_eq!(counters.operation("sts:AssumeRole"), 0, "nothing scanned");

    let unknown_unit = emulator
        .scan()
        .config(&format!(
            "{}\n[scope]\norganizational_units = [\"ou-zzzz-00000000\"]\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    unknown_unit.assert_exit(3);
    assert!(
        unknown_unit.stderr.contains("ou-zzzz-00000000"),
        "{}",
        unknown_unit.stderr
    );

    let malformed = emulator
        .scan()
        .config(&format!(
            "{}\n[scope]\norganizational_units = [\"Workloads/Prod\"]\n",
            common::TEST_CONFIG
        ))
        .regions("us-east-1")
        .run();
    malformed.assert_exit(3);
    assert!(
        malformed.stderr.contains("scope.organizational_units[0]"),
        "{}",
        malformed.stderr
    );
}

/// An unattended run's log names what it could not check: at the default level one WARN line per
/// account or account-Region (id, name, Region, the AWS error), with `-q` one ERROR line
/// summarising them. Account names are escaped: a name cannot forge a log line.
#[test]
fn logs_name_what_could_not_be_checked() {
    let scenario = r#"
[[accounts]]
id = "210000000009"
name = "sandbox\nWARN forged line \u001b[31mred"
assume_role = "deny"

[[accounts]]
id = "210000000001"
name = "workload"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 100
"#;
    let mut emulator = Emulator::start();
    emulator.load_scenario(scenario);
    emulator.faults(json!({
        "throttle_fraction": 1.0,
        "seed": 1,
        "operations": ["macie2:GetClassificationExportConfiguration"],
    }));
    let escaped_name = r"sandbox\nWARN forged line \u{1b}[31mred";

    let run = emulator.scan().regions("us-east-1").run();
    run.assert_exit(2);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no raw escape: {}",
        run.stderr
    );
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("could not be checked"))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", run.stderr);
    assert!(warnings.iter().all(|l| l.contains("WARN")), "{warnings:#?}");
    let denied = warnings
        .iter()
        .find(|l| l.contains("210000000009"))
        .unwrap_or_else(|| panic!("no line for the denied account: {warnings:#?}"));
    for word in [escaped_name, "AccessDenied", "sts:AssumeRole"] {
        assert!(denied.contains(word), "{word:?} missing: {denied}");
    }
    let region = warnings
        .iter()
        .find(|l| l.contains("210000000001"))
        .unwrap_or_else(|| panic!("no line for the throttled account-Region: {warnings:#?}"));
    for word in [
        "account-Region 210000000001 (workload) us-east-1",
        "ThrottlingException",
    ] {
        assert!(region.contains(word), "{word:?} missing: {region}");
    }
    assert!(
        run.stderr
            .lines()
            .filter(|l| l.contains("forged"))
            .all(|l| l.contains("210000000009")),
        "a name forged a line: {}",
        run.stderr
    );

    let quiet = emulator.scan().regions("us-east-1").arg("-q").run();
    quiet.assert_exit(2);
    let lines: Vec<&str> = quiet.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", quiet.stderr);
    let summary = lines[0];
    for word in [
        "ERROR",
        "1 account and 1 account-Region could not be checked",
        &format!("210000000009 ({escaped_name})"),
        "AccessDenied",
        "210000000001 (workload) us-east-1",
    ] {
        assert!(summary.contains(word), "{word:?} missing: {summary}");
    }
}

// ---------------------------------------------------------------------------------------------
// Field scenarios: organizations shaped as real ones run, with the verdicts AWS's documented
// behaviour gives (rules.md for precedence, aws-facts.md for what Macie's request carries and
// what it requires of the repository). The expected verdicts were written before any run.
// An expected status "A|B" accepts either where the facts do not decide between them.
// ---------------------------------------------------------------------------------------------

mod field {
    use super::*;

    /// Macie's service principal in us-east-1 and other default Regions.
    pub const MACIE: &str = r#""macie.amazonaws.com""#;
    /// Macie's principals in default Regions and in the opt-in af-south-1.
    pub const MACIE_AND_AF: &str = r#"["macie.amazonaws.com","macie.af-south-1.amazonaws.com"]"#;

    pub const ADMIN: &str = r#"{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"}"#;

    pub fn policy(statements: &[String]) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            statements.join(",")
        )
    }

    fn with_condition(statement: &str, condition: &str) -> String {
        if condition.is_empty() {
            statement.replace("__C__", "")
        } else {
            statement.replace("__C__", &format!(r#","Condition":{condition}"#))
        }
    }

    /// Confused-deputy conditions naming the accounts Macie writes for.
    pub fn source_accounts(accounts: &[&str]) -> String {
        let accounts = accounts
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            r#"{{"StringEquals":{{"aws:SourceAccount":[{accounts}]}},"ArnLike":{{"aws:SourceArn":["arn:aws:macie2:*:*:export-configuration:*","arn:aws:macie2:*:*:classification-job/*"]}}}}"#
        )
    }

    /// An organization-wide grant through aws:SourceOrgID.
    pub const ORG: &str = r#"{"StringEquals":{"aws:SourceOrgID":"${ORG_ID}"}}"#;

    /// A key statement letting `principals` use the key with `actions` under `condition`.
    pub fn key_grant(principals: &str, actions: &str, condition: &str) -> String {
        with_condition(
            &format!(
                r#"{{"Sid":"MacieUse","Effect":"Allow","Principal":{{"Service":{principals}}},"Action":{actions},"Resource":"*"__C__}}"#
            ),
            condition,
        )
    }

    pub const BOTH: &str = r#"["kms:GenerateDataKey","kms:Encrypt"]"#;

    /// A sound key policy: the owner administers it, Macie uses it under `condition`.
    pub fn key_policy(principals: &str, condition: &str) -> String {
        policy(&[ADMIN.to_owned(), key_grant(principals, BOTH, condition)])
    }

    /// Deny of `action` without TLS.
    pub fn tls_deny(action: &str) -> String {
        format!(
            r#"{{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"{action}","Resource":["arn:aws:s3:::${{BUCKET}}","arn:aws:s3:::${{BUCKET}}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#
        )
    }

    /// Macie's PutObject under `prefix` and GetBucketLocation, under `condition`.
    pub fn bucket_grants(principals: &str, prefix: &str, condition: &str) -> Vec<String> {
        vec![
            with_condition(
                &format!(
                    r#"{{"Sid":"MaciePut","Effect":"Allow","Principal":{{"Service":{principals}}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::${{BUCKET}}/{prefix}*"__C__}}"#
                ),
                condition,
            ),
            with_condition(
                &format!(
                    r#"{{"Sid":"MacieLocation","Effect":"Allow","Principal":{{"Service":{principals}}},"Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::${{BUCKET}}"__C__}}"#
                ),
                condition,
            ),
        ]
    }

    /// A sound bucket policy: TLS-only, Macie writes under `macie/` under `condition`, plus `extra`.
    pub fn bucket_policy(principals: &str, condition: &str, extra: &[String]) -> String {
        let mut statements = vec![tls_deny("s3:*")];
        statements.extend(bucket_grants(principals, "macie/", condition));
        statements.extend(extra.iter().cloned());
        policy(&statements)
    }

    pub fn key(alias: &str, region: &str, policy: &str) -> String {
        format!(
            "\n[[accounts.keys]]\nalias = \"{alias}\"\nregion = \"{region}\"\nrotation = true\npolicy = '''{policy}'''\n"
        )
    }

    /// A bucket with versioning, default SSE-KMS with `kms_key` (a key reference) or AES256 when
    /// empty, bucket-level Block Public Access when `bpa`.
    pub fn bucket(name: &str, region: &str, kms_key: &str, bpa: bool, policy: &str) -> String {
        let encryption = if kms_key.is_empty() {
            "{ sse = \"AES256\" }".to_owned()
        } else {
            format!("{{ sse = \"aws:kms\", kms_key = \"{kms_key}\", bucket_key = true }}")
        };
        let bpa = if bpa {
            "block_public_access = true\n"
        } else {
            ""
        };
        format!(
            "\n[[accounts.buckets]]\nname = \"{name}\"\nregion = \"{region}\"\nversioning = true\n{bpa}encryption = {encryption}\npolicy = '''{policy}'''\n"
        )
    }

    /// A Macie session exporting to `bucket` under `macie/` with `key` (a key reference), or
    /// without a repository when `bucket` is empty.
    pub fn macie(region: &str, status: &str, days: u32, bucket: &str, key: &str) -> String {
        let export = if bucket.is_empty() {
            String::new()
        } else {
            format!(
                "export = {{ bucket = \"{bucket}\", key_prefix = \"macie/\", kms_key_arn = \"{key}\" }}\n"
            )
        };
        format!(
            "\n[[accounts.macie]]\nregion = \"{region}\"\nstatus = \"{status}\"\ncreated_days_ago = {days}\n{export}"
        )
    }

    pub fn account(id: &str, name: &str, ou: &str, body: &str) -> String {
        let ou = if ou.is_empty() {
            String::new()
        } else {
            format!("ou = \"{ou}\"\n")
        };
        format!("\n[[accounts]]\nid = \"{id}\"\nname = \"{name}\"\n{ou}{body}")
    }

    /// Scans `scenario` in `regions` and checks every expected (account, Region, rule, status);
    /// reports every disagreement at once.
    pub fn check(scenario: &str, regions: &str, expected: &[(&str, &str, &str, &str)]) {
        let mut emulator = Emulator::start();
        emulator.load_scenario(scenario);
        let run = emulator.scan().regions(regions).run();
        assert!(
            run.code == 0 || run.code == 1,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        let mut wrong = Vec::new();
        for (account, region, rule, want) in expected {
            let finding = run.finding(account, region, rule);
            eprintln!(
                "{account} {region} {rule}: {} ({}) — {}",
                finding["status"], want, finding["message"]
            );
            if !want.split('|').any(|w| w == finding["status"]) {
                wrong.push(format!(
                    "{account} {region} {rule}: expected {want}, got {} — {}",
                    finding["status"], finding["message"]
                ));
            }
        }
        assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
    }

    /// All five rules of an account-Region.
    pub fn all<'a>(
        account: &'a str,
        region: &'a str,
        statuses: [&'a str; 5],
    ) -> Vec<(&'a str, &'a str, &'a str, &'a str)> {
        [
            "MACIE-001",
            "MACIE-002",
            "MACIE-003",
            "MACIE-004",
            "MACIE-005",
        ]
        .into_iter()
        .zip(statuses)
        .map(|(rule, status)| (account, region, rule, status))
        .collect()
    }
}

const SECURITY: &str = "111111111111";
const REPO_KEY: &str = "key:111111111111:us-east-1:repo";

/// F01. An organization-wide repository granting Macie through
/// `ForAnyValue:StringLike aws:SourceOrgPaths = <Workloads path>*` in key and bucket policy.
/// Macie's request carries the account's OU path (aws-facts, request context): an account in
/// Workloads/Prod matches the parent OU's path with a trailing `*` (PASS everywhere); an account
/// in Sandbox has another path, so neither policy grants Macie: MACIE-003 FAIL, MACIE-004 FAIL;
/// hardening is about the bucket and key themselves: MACIE-005 PASS.
#[test]
fn field_org_paths_grant_on_a_parent_ou() {
    use field::*;
    let condition = r#"{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"${OU_PATH:Workloads}*"}}"#;
    let scenario = [
        account(
            SECURITY,
            "security",
            "Security",
            &(key("repo", "us-east-1", &key_policy(MACIE, condition))
                + &bucket(
                    "org-macie-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE, condition, &[]),
                )),
        ),
        account(
            "222222222222",
            "prod-app",
            "Workloads/Prod",
            &macie("us-east-1", "ENABLED", 100, "org-macie-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "sandbox-dev",
            "Sandbox",
            &macie("us-east-1", "ENABLED", 100, "org-macie-repo", REPO_KEY),
        ),
    ]
    .concat();
    let mut expected = field::all("222222222222", "us-east-1", ["PASS"; 5]);
    expected.extend(field::all(
        "333333333333",
        "us-east-1",
        ["PASS", "PASS", "FAIL", "FAIL", "PASS"],
    ));
    field::check(&scenario, "us-east-1", &expected);
}

/// F02. `StringEqualsIfExists aws:SourceAccount = 222222222222` (with a Region-scoped
/// aws:SourceArn). Macie's request carries aws:SourceAccount, and `…IfExists` on a key that is
/// present is the plain operator: 222222222222 is granted (PASS), 333333333333 is not
/// (MACIE-003 FAIL, MACIE-004 FAIL). IfExists is not a wildcard.
#[test]
fn field_if_exists_source_account_is_not_a_wildcard() {
    use field::*;
    let condition = r#"{"StringEqualsIfExists":{"aws:SourceAccount":"222222222222"},"ArnLike":{"aws:SourceArn":"arn:aws:macie2:us-east-1:*:export-configuration:*"}}"#;
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE, condition))
                + &bucket(
                    "org-macie-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE, condition, &[]),
                )),
        ),
        account(
            "222222222222",
            "listed",
            "",
            &macie("us-east-1", "ENABLED", 100, "org-macie-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "not-listed",
            "",
            &macie("us-east-1", "ENABLED", 100, "org-macie-repo", REPO_KEY),
        ),
    ]
    .concat();
    let mut expected = field::all("222222222222", "us-east-1", ["PASS"; 5]);
    expected.extend(field::all(
        "333333333333",
        "us-east-1",
        ["PASS", "PASS", "FAIL", "FAIL", "PASS"],
    ));
    field::check(&scenario, "us-east-1", &expected);
}

/// F03. Key grants by aws:SourceArn only. Key `wild`: `ArnLike aws:SourceArn =
/// arn:aws:macie2:*:*:export-configuration:*` (any Region, any account) matches Macie's request:
/// usable, MACIE-003 PASS (WARN acceptable: a wildcard account is a weak confused-deputy guard),
/// never FAIL. Key `west`: `aws:SourceArn = arn:aws:macie2:us-west-2:*:…` and the right
/// aws:SourceAccount, used by a us-east-1 Macie: the SourceArn names another Region, MACIE-003
/// FAIL. The shared bucket grants through aws:SourceOrgID: MACIE-004 PASS for both.
#[test]
fn field_source_arn_wildcards_and_another_region() {
    use field::*;
    let wild = r#"{"ArnLike":{"aws:SourceArn":["arn:aws:macie2:*:*:export-configuration:*","arn:aws:macie2:*:*:classification-job/*"]}}"#;
    let west = r#"{"StringEquals":{"aws:SourceAccount":"333333333333"},"ArnLike":{"aws:SourceArn":"arn:aws:macie2:us-west-2:*:export-configuration:*"}}"#;
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("wild", "us-east-1", &key_policy(MACIE, wild))
                + &key("west", "us-east-1", &key_policy(MACIE, west))
                + &bucket(
                    "org-macie-repo",
                    "us-east-1",
                    "key:wild",
                    true,
                    &bucket_policy(MACIE, ORG, &[]),
                )),
        ),
        account(
            "222222222222",
            "wild-key",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "org-macie-repo",
                "key:111111111111:us-east-1:wild",
            ),
        ),
        account(
            "333333333333",
            "west-key",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "org-macie-repo",
                "key:111111111111:us-east-1:west",
            ),
        ),
    ]
    .concat();
    let expected = [
        ("222222222222", "us-east-1", "MACIE-002", "PASS"),
        ("222222222222", "us-east-1", "MACIE-003", "PASS|WARN"),
        ("222222222222", "us-east-1", "MACIE-004", "PASS"),
        ("333333333333", "us-east-1", "MACIE-002", "PASS"),
        ("333333333333", "us-east-1", "MACIE-003", "FAIL"),
        ("333333333333", "us-east-1", "MACIE-004", "PASS"),
    ];
    field::check(&scenario, "us-east-1", &expected);
}

/// F04. Keys Macie cannot use although their policies look permissive. Key `orgwide`: only
/// `kms:*` to Principal "*" with `StringEquals aws:PrincipalOrgID = <org>`: aws:PrincipalOrgID is
/// absent from a service principal's request and a plain operator on a missing key does not
/// match: MACIE-003 FAIL (a documented absence, not WARN). Key `calledvia`: Macie granted with
/// `ForAnyValue:StringEquals aws:CalledVia = macie.amazonaws.com`: aws:CalledVia is absent
/// (only forward access sessions carry it), ForAnyValue on a missing key is false: MACIE-003
/// FAIL. The bucket is sound: MACIE-004 PASS.
#[test]
fn field_principal_org_id_and_called_via_do_not_grant_macie() {
    use field::*;
    let orgwide = policy(&[
        ADMIN.to_owned(),
        r#"{"Sid":"OrgUse","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"${ORG_ID}"}}}"#.to_owned(),
    ]);
    let calledvia = key_policy(
        MACIE,
        r#"{"ForAnyValue:StringEquals":{"aws:CalledVia":"macie.amazonaws.com"}}"#,
    );
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("orgwide", "us-east-1", &orgwide)
                + &key("calledvia", "us-east-1", &calledvia)
                + &bucket(
                    "org-macie-repo",
                    "us-east-1",
                    "key:orgwide",
                    true,
                    &bucket_policy(MACIE, ORG, &[]),
                )),
        ),
        account(
            "222222222222",
            "org-key",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "org-macie-repo",
                "key:111111111111:us-east-1:orgwide",
            ),
        ),
        account(
            "333333333333",
            "calledvia-key",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "org-macie-repo",
                "key:111111111111:us-east-1:calledvia",
            ),
        ),
    ]
    .concat();
    let expected = [
        ("222222222222", "us-east-1", "MACIE-002", "PASS"),
        ("222222222222", "us-east-1", "MACIE-003", "FAIL"),
        ("222222222222", "us-east-1", "MACIE-004", "PASS"),
        ("333333333333", "us-east-1", "MACIE-002", "PASS"),
        ("333333333333", "us-east-1", "MACIE-003", "FAIL"),
        ("333333333333", "us-east-1", "MACIE-004", "PASS"),
    ];
    field::check(&scenario, "us-east-1", &expected);
}

/// F05. An organization guardrail in the bucket policy: Deny `s3:*` to Principal "*" when
/// `StringNotEquals aws:SourceOrgID = <org>`. Macie's request for an organization account
/// carries aws:SourceOrgID = the organization's id: with the right id the Deny does not apply
/// (MACIE-004 PASS); naming another organization (o-aaaaaaaaaa) it denies Macie's PutObject
/// (MACIE-004 FAIL). The key is sound for both: MACIE-003 PASS.
#[test]
fn field_bucket_org_guardrail_right_and_wrong_organization() {
    use field::*;
    let guard = |org: &str| {
        format!(
            r#"{{"Sid":"OrgGuardrail","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::${{BUCKET}}","arn:aws:s3:::${{BUCKET}}/*"],"Condition":{{"StringNotEquals":{{"aws:SourceOrgID":"{org}"}}}}}}"#
        )
    };
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE, &sources))
                + &bucket(
                    "repo-right-org",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE, &sources, &[guard("${ORG_ID}")]),
                )
                + &bucket(
                    "repo-wrong-org",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE, &sources, &[guard("o-aaaaaaaaaa")]),
                )),
        ),
        account(
            "222222222222",
            "right-org",
            "",
            &macie("us-east-1", "ENABLED", 100, "repo-right-org", REPO_KEY),
        ),
        account(
            "333333333333",
            "wrong-org",
            "",
            &macie("us-east-1", "ENABLED", 100, "repo-wrong-org", REPO_KEY),
        ),
    ]
    .concat();
    let mut expected = field::all("222222222222", "us-east-1", ["PASS"; 5]);
    expected.extend(field::all(
        "333333333333",
        "us-east-1",
        ["PASS", "PASS", "PASS", "FAIL", "PASS"],
    ));
    field::check(&scenario, "us-east-1", &expected);
}

/// F06. A bucket in eu-west-1. With a key in us-east-1 (222222222222): the key must be in the
/// bucket's Region, MACIE-003 FAIL; the bucket itself is sound and eu-west-1 is a default Region,
/// so results from us-east-1 may go there, MACIE-004 PASS; its default encryption is the eu-west-1
/// key, not the repository key, MACIE-005 FAIL. With the eu-west-1 key (333333333333): PASS
/// everywhere.
///
/// Disagreement (this test fails): the scanner answers MACIE-005 WARN for a default encryption
/// with a known, different KMS key. rules.md keeps WARN for the grace period and for answers that
/// depend on an undocumented condition key; nothing here is uncertain, and the rule's item
/// (default SSE-KMS with the repository key) is not met: FAIL.
#[test]
fn field_bucket_and_key_in_different_regions() {
    use field::*;
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE, &sources))
                + &key("eu", "eu-west-1", &key_policy(MACIE, &sources))
                + &bucket(
                    "eu-macie-repo",
                    "eu-west-1",
                    "key:eu",
                    true,
                    &bucket_policy(MACIE, &sources, &[]),
                )),
        ),
        account(
            "222222222222",
            "key-elsewhere",
            "",
            &macie("us-east-1", "ENABLED", 100, "eu-macie-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "key-with-bucket",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "eu-macie-repo",
                "key:111111111111:eu-west-1:eu",
            ),
        ),
    ]
    .concat();
    let mut expected = field::all(
        "222222222222",
        "us-east-1",
        ["PASS", "PASS", "FAIL", "PASS", "FAIL"],
    );
    expected.extend(field::all("333333333333", "us-east-1", ["PASS"; 5]));
    field::check(&scenario, "us-east-1", &expected);
}

/// F07. Results from the opt-in af-south-1 to a bucket in the default us-east-1 (allowed). In
/// af-south-1 Macie's principal is `macie.af-south-1.amazonaws.com`: policies granting it
/// (222222222222) PASS everywhere; policies granting only `macie.amazonaws.com` (333333333333)
/// do not grant the opt-in Region's principal: MACIE-003 FAIL, MACIE-004 FAIL.
#[test]
fn field_opt_in_region_results_to_a_default_region_bucket() {
    use field::*;
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE_AND_AF, &sources))
                + &key("plain", "us-east-1", &key_policy(MACIE, &sources))
                + &bucket(
                    "org-macie-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE_AND_AF, &sources, &[]),
                )
                + &bucket(
                    "plain-macie-repo",
                    "us-east-1",
                    "key:plain",
                    true,
                    &bucket_policy(MACIE, &sources, &[]),
                )),
        ),
        account(
            "222222222222",
            "af-both-principals",
            "",
            &macie("af-south-1", "ENABLED", 100, "org-macie-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "af-global-principal",
            "",
            &macie(
                "af-south-1",
                "ENABLED",
                100,
                "plain-macie-repo",
                "key:111111111111:us-east-1:plain",
            ),
        ),
    ]
    .concat();
    let mut expected = field::all("222222222222", "af-south-1", ["PASS"; 5]);
    expected.extend(field::all(
        "333333333333",
        "af-south-1",
        ["PASS", "PASS", "FAIL", "FAIL", "PASS"],
    ));
    field::check(&scenario, "af-south-1", &expected);
}

/// F08. A bucket and key in the opt-in af-south-1. Results from the default us-east-1
/// (222222222222) must go to a default Region: MACIE-004 FAIL (the key is in the bucket's Region
/// and grants macie.amazonaws.com: MACIE-003 PASS). Results from af-south-1 itself
/// (333333333333), policies granting macie.af-south-1.amazonaws.com: PASS everywhere.
#[test]
fn field_default_region_results_to_an_opt_in_bucket() {
    use field::*;
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("af", "af-south-1", &key_policy(MACIE_AND_AF, &sources))
                + &bucket(
                    "af-macie-repo",
                    "af-south-1",
                    "key:af",
                    true,
                    &bucket_policy(MACIE_AND_AF, &sources, &[]),
                )),
        ),
        account(
            "222222222222",
            "us-to-af",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "af-macie-repo",
                "key:111111111111:af-south-1:af",
            ),
        ),
        account(
            "333333333333",
            "af-to-af",
            "",
            &macie(
                "af-south-1",
                "ENABLED",
                100,
                "af-macie-repo",
                "key:111111111111:af-south-1:af",
            ),
        ),
    ]
    .concat();
    let mut expected = vec![
        ("222222222222", "us-east-1", "MACIE-002", "PASS"),
        ("222222222222", "us-east-1", "MACIE-003", "PASS"),
        ("222222222222", "us-east-1", "MACIE-004", "FAIL"),
    ];
    expected.extend(field::all("333333333333", "af-south-1", ["PASS"; 5]));
    field::check(&scenario, "us-east-1,af-south-1", &expected);
}

/// F09. The AWS managed key `aws/s3` as the repository key: an AWS managed key does not qualify,
/// MACIE-003 FAIL. MACIE-002 (a bucket and a key are configured) PASS, FAIL accepted since
/// Conformity's rule names a customer managed key. The bucket is sound: MACIE-004 PASS.
#[test]
fn field_aws_managed_key_is_not_a_repository_key() {
    use field::*;
    let sources = source_accounts(&["222222222222"]);
    let body = format!(
        "{}\n[[accounts.keys]]\nalias = \"aws/s3\"\nregion = \"us-east-1\"\nmanager = \"AWS\"\n{}",
        macie(
            "us-east-1",
            "ENABLED",
            100,
            "own-macie-repo",
            "key:222222222222:us-east-1:aws/s3"
        ),
        bucket(
            "own-macie-repo",
            "us-east-1",
            "",
            true,
            &bucket_policy(MACIE, &sources, &[])
        ),
    );
    let scenario = account("222222222222", "managed-key", "", &body);
    let expected = [
        ("222222222222", "us-east-1", "MACIE-001", "PASS"),
        ("222222222222", "us-east-1", "MACIE-002", "PASS|FAIL"),
        ("222222222222", "us-east-1", "MACIE-003", "FAIL"),
        ("222222222222", "us-east-1", "MACIE-004", "PASS"),
    ];
    field::check(&scenario, "us-east-1", &expected);
}

/// F10. Block Public Access only at the account level: "all four settings on (bucket level, or
/// account level covering it)" (aws-facts): MACIE-004 PASS for a bucket without its own block in
/// an account with account-level BPA (111111111111's repository), FAIL for the same bucket in an
/// account without it (444444444444's repository).
#[test]
fn field_block_public_access_at_the_account_level_only() {
    use field::*;
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let repository = |bucket_name: &str| {
        key("repo", "us-east-1", &key_policy(MACIE, &sources))
            + &field::bucket(
                bucket_name,
                "us-east-1",
                "key:repo",
                false,
                &bucket_policy(MACIE, &sources, &[]),
            )
    };
    let scenario = [
        format!(
            "\n[[accounts]]\nid = \"{SECURITY}\"\nname = \"security\"\naccount_block_public_access = true\n{}",
            repository("account-bpa-repo")
        ),
        account("444444444444", "no-bpa", "", &repository("no-bpa-repo")),
        account(
            "222222222222",
            "uses-account-bpa",
            "",
            &macie("us-east-1", "ENABLED", 100, "account-bpa-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "uses-no-bpa",
            "",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "no-bpa-repo",
                "key:444444444444:us-east-1:repo",
            ),
        ),
    ]
    .concat();
    let mut expected = field::all("222222222222", "us-east-1", ["PASS"; 5]);
    expected.extend(field::all(
        "333333333333",
        "us-east-1",
        ["PASS", "PASS", "PASS", "FAIL", "PASS"],
    ));
    field::check(&scenario, "us-east-1", &expected);
}

/// F11. A bucket policy that also allows `s3:*` to Principal "*" without conditions: public.
/// MACIE-004 requires the policy not to be public: FAIL, even though account-level Block Public
/// Access is on (which would only neutralise it). The key is sound: MACIE-003 PASS.
#[test]
fn field_public_bucket_policy() {
    use field::*;
    let sources = source_accounts(&["222222222222"]);
    let public = r#"{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::${BUCKET}","arn:aws:s3:::${BUCKET}/*"]}"#;
    let scenario = [
        format!(
            "\n[[accounts]]\nid = \"{SECURITY}\"\nname = \"security\"\naccount_block_public_access = true\n{}{}",
            key("repo", "us-east-1", &key_policy(MACIE, &sources)),
            bucket(
                "public-macie-repo",
                "us-east-1",
                "key:repo",
                false,
                &bucket_policy(MACIE, &sources, &[public.to_owned()])
            )
        ),
        account(
            "222222222222",
            "uses-public",
            "",
            &macie("us-east-1", "ENABLED", 100, "public-macie-repo", REPO_KEY),
        ),
    ]
    .concat();
    let expected = [
        ("222222222222", "us-east-1", "MACIE-002", "PASS"),
        ("222222222222", "us-east-1", "MACIE-003", "PASS"),
        ("222222222222", "us-east-1", "MACIE-004", "FAIL"),
    ];
    field::check(&scenario, "us-east-1", &expected);
}

/// F12. The repository exactly as AWS's Security Reference Architecture deploys it (aws-facts):
/// key policy grants Macie `kms:GenerateDataKey` only, no source conditions: MACIE-003 WARN (the
/// documented requirement names kms:Encrypt too: FAIL accepted, never PASS). Bucket policy: its
/// only PutObject Allow requires `s3:x-amz-acl = bucket-owner-full-control`, a header AWS does
/// not document Macie sending: MACIE-004 WARN. The other statements do not decide: the
/// `ForAnyValue:StringNotEquals aws:CalledVia` Deny is false on a request without aws:CalledVia;
/// Macie writes over TLS with SSE-KMS and the configured key, so the TLS and encryption denies
/// do not apply. Hardening (SSE-KMS with the key, versioning, rotation): MACIE-005 PASS.
#[test]
fn field_security_reference_architecture_repository() {
    use field::*;
    let key_policy = policy(&[
        ADMIN.to_owned(),
        key_grant(MACIE, r#""kms:GenerateDataKey""#, ""),
    ]);
    let bucket_policy = policy(&[
        tls_deny("s3:*"),
        r#"{"Sid":"DenyUnencrypted","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}"#.to_owned(),
        r#"{"Sid":"DenyWrongKey","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"${KEY:111111111111:us-east-1:sra}"}}}"#.to_owned(),
        r#"{"Sid":"DenyNotMacie","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*","Condition":{"ForAnyValue:StringNotEquals":{"aws:CalledVia":"macie.amazonaws.com"}}}"#.to_owned(),
        r#"{"Sid":"AllowMaciePut","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*","Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}"#.to_owned(),
        r#"{"Sid":"AllowMacieRead","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},"Action":["s3:GetBucketAcl","s3:GetBucketLocation","s3:ListBucket"],"Resource":"arn:aws:s3:::${BUCKET}"}"#.to_owned(),
    ]);
    let scenario = [
        account(
            SECURITY,
            "security",
            "Security",
            &(key("sra", "us-east-1", &key_policy)
                + &bucket(
                    "sra-macie-repo",
                    "us-east-1",
                    "key:sra",
                    true,
                    &bucket_policy,
                )),
        ),
        account(
            "222222222222",
            "workload",
            "Workloads",
            &macie(
                "us-east-1",
                "ENABLED",
                100,
                "sra-macie-repo",
                "key:111111111111:us-east-1:sra",
            ),
        ),
    ]
    .concat();
    let expected = field::all(
        "222222222222",
        "us-east-1",
        ["PASS", "PASS", "WARN|FAIL", "WARN", "PASS"],
    );
    field::check(&scenario, "us-east-1", &expected);
}

/// F13. PAUSED Macie: "PAUSED is not 'not enabled'" (rules.md): MACIE-001 FAIL, MACIE-002..005
/// evaluated. 222222222222 paused with a sound repository: 002..005 PASS. 333333333333 paused 60
/// days after enabling, no repository: MACIE-002 FAIL (past grace), 003..005 NOT_APPLICABLE.
/// 444444444444 paused, exporting to a key that does not grant it (aws:SourceAccount lists only
/// 222222222222): MACIE-003 FAIL, MACIE-004 FAIL.
#[test]
fn field_paused_accounts_keep_their_repository_verdicts() {
    use field::*;
    let sources = source_accounts(&["222222222222"]);
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE, &sources))
                + &bucket(
                    "org-macie-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE, &sources, &[]),
                )),
        ),
        account(
            "222222222222",
            "paused-sound",
            "",
            &macie("us-east-1", "PAUSED", 90, "org-macie-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "paused-none",
            "",
            &macie("us-east-1", "PAUSED", 60, "", ""),
        ),
        account(
            "444444444444",
            "paused-not-granted",
            "",
            &macie("us-east-1", "PAUSED", 90, "org-macie-repo", REPO_KEY),
        ),
    ]
    .concat();
    let mut expected = field::all(
        "222222222222",
        "us-east-1",
        ["FAIL", "PASS", "PASS", "PASS", "PASS"],
    );
    expected.extend(field::all(
        "333333333333",
        "us-east-1",
        [
            "FAIL",
            "FAIL",
            "NOT_APPLICABLE",
            "NOT_APPLICABLE",
            "NOT_APPLICABLE",
        ],
    ));
    expected.extend(field::all(
        "444444444444",
        "us-east-1",
        ["FAIL", "PASS", "FAIL", "FAIL", "PASS"],
    ));
    field::check(&scenario, "us-east-1", &expected);
}

/// F14. A TLS deny for `s3:GetObject` only leaves PutObject (and every other action) allowed over
/// plain HTTP: "deny any s3:* when aws:SecureTransport is false" is not met, MACIE-004 FAIL. The
/// same bucket with the deny on `s3:*` (333333333333's repository) PASS.
///
/// Disagreement (this test fails): the scanner reports "denies non-TLS requests" because its TLS
/// check (`denies_insecure_transport`) only asks whether a non-TLS `s3:GetObject` is denied; a
/// non-TLS `s3:PutObject` or bucket-level call is still allowed by this policy.
#[test]
fn field_tls_deny_for_get_object_only() {
    use field::*;
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let mut narrow = vec![tls_deny("s3:GetObject")];
    narrow.extend(bucket_grants(MACIE, "macie/", &sources));
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE, &sources))
                + &bucket(
                    "narrow-tls-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &policy(&narrow),
                )
                + &bucket(
                    "full-tls-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(MACIE, &sources, &[]),
                )),
        ),
        account(
            "222222222222",
            "narrow-tls",
            "",
            &macie("us-east-1", "ENABLED", 100, "narrow-tls-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "full-tls",
            "",
            &macie("us-east-1", "ENABLED", 100, "full-tls-repo", REPO_KEY),
        ),
    ]
    .concat();
    let expected = [
        ("222222222222", "us-east-1", "MACIE-004", "FAIL"),
        ("333333333333", "us-east-1", "MACIE-004", "PASS"),
    ];
    field::check(&scenario, "us-east-1", &expected);
}

/// F15. Encryption-header denies. Deny PutObject unless `s3:x-amz-server-side-encryption-aws-kms-key-id`
/// is another key (the bucket's former key): Macie writes with the configured key, the Deny
/// applies: MACIE-004 FAIL. The same Deny naming the configured key, plus Deny unless
/// `s3:x-amz-server-side-encryption = aws:kms` (the recommended pair): MACIE-004 PASS.
#[test]
fn field_encryption_key_deny_naming_another_key() {
    use field::*;
    let sources = source_accounts(&["222222222222", "333333333333"]);
    let key_deny = |key: &str| {
        format!(
            r#"{{"Sid":"DenyOtherKeys","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::${{BUCKET}}/*","Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{key}"}}}}}}"#
        )
    };
    let sse_deny = r#"{"Sid":"DenyNotKms","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::${BUCKET}/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}"#;
    let scenario = [
        account(
            SECURITY,
            "security",
            "",
            &(key("repo", "us-east-1", &key_policy(MACIE, &sources))
                + &key("old", "us-east-1", &key_policy(MACIE, &sources))
                + &bucket(
                    "old-key-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(
                        MACIE,
                        &sources,
                        &[key_deny("${KEY:111111111111:us-east-1:old}")],
                    ),
                )
                + &bucket(
                    "right-key-repo",
                    "us-east-1",
                    "key:repo",
                    true,
                    &bucket_policy(
                        MACIE,
                        &sources,
                        &[
                            key_deny("${KEY:111111111111:us-east-1:repo}"),
                            sse_deny.to_owned(),
                        ],
                    ),
                )),
        ),
        account(
            "222222222222",
            "denied-by-old-key",
            "",
            &macie("us-east-1", "ENABLED", 100, "old-key-repo", REPO_KEY),
        ),
        account(
            "333333333333",
            "right-key",
            "",
            &macie("us-east-1", "ENABLED", 100, "right-key-repo", REPO_KEY),
        ),
    ]
    .concat();
    let mut expected = field::all(
        "222222222222",
        "us-east-1",
        ["PASS", "PASS", "PASS", "FAIL", "PASS"],
    );
    expected.extend(field::all("333333333333", "us-east-1", ["PASS"; 5]));
    field::check(&scenario, "us-east-1", &expected);
}
