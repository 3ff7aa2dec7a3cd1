//! End-to-end scans of emulated organizations: every status, the grace period boundary,
//! pagination, denied and disabled accounts, throttling, and the cost in AWS calls.

mod common;

use std::collections::BTreeMap;

use common::Emulator;
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
    format!(
        r#"
[organization]
enabled = true

[[accounts]]
id = "123456789012"
name = "management"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 400
{export_us}

[[accounts]]
id = "111111111111"
name = "compliant"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 100
{export_us}
[[accounts.macie]]
region = "af-south-1"
created_days_ago = 100
{export_af}
{repository_us}
{repository_af}

[[accounts]]
id = "222222222222"
name = "no-repository-old"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 45

[[accounts]]
id = "333333333333"
name = "no-repository-new"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 10

[[accounts]]
id = "444444444444"
name = "paused"
[[accounts.macie]]
region = "us-east-1"
status = "PAUSED"
created_days_ago = 90
{export_us}

[[accounts]]
id = "555555555555"
name = "denied"
assume_role = "deny"

[[accounts]]
id = "666666666666"
name = "suspended"
status = "SUSPENDED"

[[accounts]]
id = "777777777777"
name = "opt-in-disabled"
disabled_regions = ["af-south-1"]
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 60
{export_us}

[[accounts]]
id = "888888888888"
name = "member"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 200
administrator = "111111111111"
"#,
        export_us = export("us-east-1"),
        export_af = export("af-south-1"),
        repository_us = repository("us-east-1", "org-macie-results"),
        repository_af = repository("af-south-1", "org-macie-results-af"),
    )
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
    assert_eq!(
        counters.assume_role_into("123456789012"),
        1,
        "{:?}",
        counters.0
    );
    assert_eq!(counters.assume_role_into("111111111111"), 1);
    assert_eq!(counters.assume_role_into("222222222222"), 1);
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
