//! The cost of a scan in AWS calls, from the emulator's counters: on a mixed organization the
//! calls made equal, operation by operation, the minimum documented in BENCHMARKS.md ("Minimum
//! calls"): once per account, per account-Region only what an earlier answer does not make
//! pointless, once per distinct repository bucket and key, and the organization tree's pages.

use crate::common;

use std::collections::BTreeMap;

use common::{Account, Emulator, Scenario, export};

const REGIONS: &str = "us-east-1,eu-west-1";

/// Two Regions; every kind of account the minimum distinguishes.
fn mixed() -> Scenario {
    let central = export(
        "calls-central",
        Some("macie/"),
        "key:111111111111:us-east-1:org",
    );
    Scenario::new()
        .raw("[organization]\nenabled = true")
        // The caller's own account: no AssumeRole. Exports to the central repository in one Region.
        .account(
            Account::new("123456789012", "management")
                .macie("us-east-1", 90)
                .with(&central),
        )
        // Owns the central repository (Block Public Access on: no account-level read) and uses it.
        .account(
            Account::new("111111111111", "security")
                .macie("us-east-1", 90)
                .with(&central)
                .macie("eu-west-1", 90)
                .with(&central)
                .key("org", "us-east-1")
                .with("rotation = true")
                .bucket("calls-central", "us-east-1")
                .with("block_public_access = true\nversioning = true")
                .with("encryption = { sse = \"aws:kms\", kms_key = \"key:org\" }"),
        )
        // A repository of its own without Block Public Access (the account-level setting is read
        // too) in one Region, the central one in the other.
        .account(
            Account::new("222222222222", "own-repository")
                .with("ou = \"Workloads/Prod\"")
                .macie("us-east-1", 90)
                .with(&export(
                    "calls-own-222",
                    None,
                    "key:222222222222:us-east-1:own",
                ))
                .macie("eu-west-1", 90)
                .with(&central)
                .key("own", "us-east-1")
                .bucket("calls-own-222", "us-east-1"),
        )
        // Macie off everywhere: one GetMacieSession per Region.
        .account(Account::new("333333333333", "no-macie").with("ou = \"Workloads\""))
        // Macie on (then paused) without a repository: nothing to read beyond Macie.
        .account(
            Account::new("444444444444", "no-repository")
                .macie("us-east-1", 10)
                .macie("eu-west-1", 90)
                .with("status = \"PAUSED\""),
        )
        // The audit role cannot be assumed: one AssumeRole, nothing else.
        .account(
            Account::new("555555555555", "denied")
                .with("assume_role = \"deny\"")
                .with("[[accounts.macie]]\nregion = \"us-east-1\""),
        )
        // Not active: no call at all.
        .account(Account::new("666666666666", "suspended").with("status = \"SUSPENDED\""))
}

/// The documented minimum for [`mixed`], operation by operation.
fn minimum() -> BTreeMap<&'static str, u64> {
    let reachable = 5; // management, security, own-repository, no-macie, no-repository
    let assumed = 5; // every active account but the caller's own, the denied one included
    let account_regions = reachable * 2;
    let macie_on = 1 + 2 + 2 + 2; // account-Regions where Macie is enabled or paused
    let buckets = 2;
    let keys = 2;
    let open_buckets = 1; // buckets whose own Block Public Access is not all on
    let parents = 3; // the root and two OUs
    let mut minimum = BTreeMap::from([
        // The tree: the root, Workloads and Workloads/Prod, each with one page of accounts
        // (20 a page) and one of OUs; the organization described once.
        ("organizations:DescribeOrganization", 1),
        ("organizations:ListRoots", 1),
        ("organizations:ListAccountsForParent", parents),
        ("organizations:ListOrganizationalUnitsForParent", parents),
        ("sts:GetCallerIdentity", 1 + reachable),
        ("sts:AssumeRole", assumed),
        ("s3:ListBuckets", reachable),
        ("macie2:GetMacieSession", account_regions),
        ("macie2:GetAdministratorAccount", macie_on),
        ("macie2:GetClassificationExportConfiguration", macie_on),
        ("s3control:GetPublicAccessBlock", open_buckets),
    ]);
    for label in [
        "s3:GetBucketLocation",
        "s3:GetPublicAccessBlock",
        "s3:GetBucketPolicyStatus",
        "s3:GetBucketPolicy",
        "s3:GetBucketEncryption",
        "s3:GetBucketVersioning",
        "s3:GetObjectLockConfiguration",
    ] {
        minimum.insert(label, buckets);
    }
    for label in [
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
    ] {
        minimum.insert(label, keys);
    }
    minimum
}

#[test]
fn a_mixed_organization_costs_exactly_the_documented_minimum() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(mixed().toml());
    emulator.reset_counters();
    let run = emulator.scan().regions(REGIONS).run();
    assert!(
        [1, 2].contains(&run.code),
        "exit code {}\n{}",
        run.code,
        run.stderr
    );
    let counters = emulator.counters();

    let made: BTreeMap<String, u64> = counters.0["operations"]
        .as_object()
        .expect("operations")
        .iter()
        .map(|(label, n)| (label.clone(), n.as_u64().unwrap_or(0)))
        .collect();
    let expected: BTreeMap<String, u64> = minimum()
        .into_iter()
        .map(|(label, n)| (label.to_owned(), n))
        .collect();
    assert_eq!(made, expected, "calls made (left) against the minimum");
    assert!(
        counters.0["faulted"]
            .as_object()
            .is_none_or(|faulted| faulted.is_empty()),
        "no fault was injected: {}",
        counters.0["faulted"]
    );

    // Once per account: its role assumed once, its identity and its buckets listed once.
    for account in [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
        "555555555555",
    ] {
        assert_eq!(
            counters.assume_role_into(account),
            1,
            "AssumeRole into {account}"
        );
    }
    assert_eq!(counters.assume_role_into("123456789012"), 0);
    assert_eq!(counters.assume_role_into("666666666666"), 0);
    for account in [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
    ] {
        assert_eq!(
            counters.in_account(account, "sts:GetCallerIdentity"),
            1,
            "{account}"
        );
        assert_eq!(
            counters.in_account(account, "s3:ListBuckets"),
            1,
            "{account}"
        );
    }
    for account in ["555555555555", "666666666666"] {
        assert!(
            counters.0["by_account"][account]
                .as_object()
                .is_none_or(|calls| calls.is_empty()),
            "{account} made {}",
            counters.0["by_account"][account]
        );
    }

    // Once per bucket and key, with its owner's credentials, however many account-Regions use it.
    for (owner, bucket_calls, key_calls) in [("111111111111", 1, 1), ("222222222222", 1, 1)] {
        for label in [
            "s3:GetBucketLocation",
            "s3:GetBucketPolicy",
            "s3:GetObjectLockConfiguration",
        ] {
            assert_eq!(
                counters.in_account(owner, label),
                bucket_calls,
                "{owner} {label}"
            );
        }
        for label in [
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
        ] {
            assert_eq!(
                counters.in_account(owner, label),
                key_calls,
                "{owner} {label}"
            );
        }
    }
    assert_eq!(
        counters.in_account("222222222222", "s3control:GetPublicAccessBlock"),
        1
    );

    // The export configuration is never asked where Macie is off.
    assert_eq!(
        counters.in_account(
            "333333333333",
            "macie2:GetClassificationExportConfiguration"
        ),
        0
    );
}
