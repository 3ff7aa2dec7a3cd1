//! Credentials over a run: role sessions are obtained again shortly before they end (on
//! schedule) and when AWS refuses them as expired before their Expiration (on demand, the
//! refused call retried once), with every verdict as in a run where nothing expires, and AssumeRole
//! called only as often as that needs. A session refused again right after it was obtained is an
//! ERROR for that call, saying so.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Emulator, ScanRun, TEST_CONFIG};
use serde_json::json;

const REGIONS: &str = "us-east-1,eu-west-1";
const MANAGEMENT: &str = "123456789012";
const SECURITY: &str = "111111111111";
const OWN_REPOSITORY: &str = "222222222222";
const NO_MACIE: &str = "333333333333";
const NO_REPOSITORY: &str = "444444444444";

/// A central repository read with its owner's role, one of the account's own, Macie off, Macie
/// without a repository; the organization is read through a management role (role chaining:
/// every member role is assumed from that session).
const SCENARIO: &str = r#"
[[accounts]]
id = "123456789012"
name = "management"
roles = ["AuditManagement"]
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 90
export = { bucket = "creds-central", key_prefix = "macie/", kms_key_arn = "key:111111111111:us-east-1:org" }

[[accounts]]
id = "111111111111"
name = "security"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 90
export = { bucket = "creds-central", key_prefix = "macie/", kms_key_arn = "key:111111111111:us-east-1:org" }
[[accounts.macie]]
region = "eu-west-1"
created_days_ago = 90
export = { bucket = "creds-central", key_prefix = "macie/", kms_key_arn = "key:111111111111:us-east-1:org" }
[[accounts.keys]]
alias = "org"
region = "us-east-1"
rotation = true
[[accounts.buckets]]
name = "creds-central"
region = "us-east-1"
block_public_access = true
versioning = true
encryption = { sse = "aws:kms", kms_key = "key:org" }

[[accounts]]
id = "222222222222"
name = "own-repository"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 90
export = { bucket = "creds-own-222", kms_key_arn = "key:222222222222:us-east-1:own" }
[[accounts.keys]]
alias = "own"
region = "us-east-1"
[[accounts.buckets]]
name = "creds-own-222"
region = "us-east-1"

[[accounts]]
id = "333333333333"
name = "no-macie"

[[accounts]]
id = "444444444444"
name = "no-repository"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 10
"#;

/// Quick retries, the organization read through the management role, two accounts at a time
/// (so that, with the emulator's latency, a run lasts several short credential lifetimes).
fn config() -> String {
    format!(
        "{TEST_CONFIG}\n[access]\nmanagement_role_arn = \"arn:aws:iam::{MANAGEMENT}:role/AuditManagement\"\n\n[concurrency]\naccounts = 2\n"
    )
}

/// Every finding's verdict: what is judged and what it says, without the run's id and times.
fn verdicts(run: &ScanRun) -> BTreeSet<Vec<String>> {
    run.findings()
        .into_iter()
        .map(|finding| {
            [
                "account_id",
                "region",
                "rule_id",
                "status",
                "severity",
                "resource",
                "message",
            ]
            .iter()
            .map(|column| finding[*column].clone())
            .collect()
        })
        .collect()
}

fn scan(emulator: &Emulator) -> ScanRun {
    emulator.scan().config(&config()).regions(REGIONS).run()
}

/// The emulator with the scenario loaded, and the verdicts and exit code of a run in which no
/// credentials expire.
fn emulator_and_normal_run() -> (Emulator, BTreeSet<Vec<String>>, i32) {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let normal = scan(&emulator);
    assert!(
        [1, 2].contains(&normal.code),
        "exit code {}\n{}",
        normal.code,
        normal.stderr
    );
    let expected = verdicts(&normal);
    assert!(!expected.is_empty());
    emulator.reset_counters();
    (emulator, expected, normal.code)
}

#[test]
fn a_run_outliving_several_credential_lifetimes_judges_as_a_run_where_nothing_expires() {
    const LIFETIME: Duration = Duration::from_secs(1);
    let (emulator, expected, code) = emulator_and_normal_run();
    emulator.credentials(json!({"lifetime_seconds": LIFETIME.as_secs_f64()}));
    emulator.faults(json!({"latency_ms": 150}));

    let started = Instant::now();
    let run = scan(&emulator);
    let elapsed = started.elapsed();
    run.assert_exit(code);
    assert_eq!(verdicts(&run), expected, "verdicts against the normal run");
    assert!(
        elapsed >= 3 * LIFETIME,
        "the run should outlive several lifetimes: {elapsed:?}"
    );

    // On schedule: each session is obtained again in the last fifth of its lifetime, never at
    // every use; a session AWS refused before that is obtained again once.
    let counters = emulator.counters();
    let lifetimes = (elapsed.as_secs_f64() / (0.8 * LIFETIME.as_secs_f64())).ceil() as u64;
    for account in [
        MANAGEMENT,
        SECURITY,
        OWN_REPOSITORY,
        NO_MACIE,
        NO_REPOSITORY,
    ] {
        let assumed = counters.assume_role_into(account);
        let needed = 1 + lifetimes + counters.expired_in(account);
        assert!(
            (1..=needed).contains(&assumed),
            "AssumeRole into {account}: {assumed}, at most {needed} in {elapsed:?}: {:?}",
            counters.0
        );
    }
    // The management role's session signs every member's AssumeRole and the organization's
    // listing, from the first call to the last: it was obtained again on the way.
    assert!(
        counters.assume_role_into(MANAGEMENT) >= 3,
        "{:?}",
        counters.0
    );
}

#[test]
fn a_session_cut_short_is_obtained_again_once_and_the_refused_call_retried() {
    // More than the security account's calls in flight at once (its bucket and key reads, 9),
    // fewer than half its calls: its first session is cut short once, mid-run, with calls in
    // flight, and the next one lasts to the end.
    const USES: u64 = 10;
    let (emulator, expected, code) = emulator_and_normal_run();
    // The central repository's owner: its session signs its own account's calls and every read
    // of the repository's bucket and key.
    emulator.credentials(json!({"expire_after_uses": USES, "accounts": [SECURITY]}));

    let run = scan(&emulator);
    run.assert_exit(code);
    assert_eq!(verdicts(&run), expected, "verdicts against the normal run");

    let counters = emulator.counters();
    let refused = counters.expired_in(SECURITY);
    let accepted = counters.all_in_account(SECURITY) - refused;
    assert!(
        refused >= 1 && (USES + 1..=2 * USES).contains(&accepted),
        "one cut: {:?}",
        counters.0
    );
    // However many calls the cut refused, the role was assumed again once, and each of them
    // retried with the new session.
    assert_eq!(counters.assume_role_into(SECURITY), 2, "{:?}", counters.0);
    for account in [OWN_REPOSITORY, NO_MACIE, NO_REPOSITORY] {
        assert_eq!(counters.assume_role_into(account), 1, "{account}");
        assert_eq!(counters.expired_in(account), 0, "{account}");
    }
}

#[test]
fn a_session_refused_again_right_after_it_was_obtained_is_an_error_saying_so() {
    let (emulator, expected, _) = emulator_and_normal_run();
    emulator.credentials(json!({"expire_after_uses": 0, "accounts": [NO_REPOSITORY]}));

    let run = scan(&emulator);
    run.assert_exit(2);
    let counters = emulator.counters();
    // The first call, refused; the role assumed again; the call retried once and refused again.
    assert_eq!(
        counters.assume_role_into(NO_REPOSITORY),
        2,
        "{:?}",
        counters.0
    );
    assert_eq!(
        counters.in_account(NO_REPOSITORY, "sts:GetCallerIdentity"),
        2
    );
    assert_eq!(counters.all_in_account(NO_REPOSITORY), 2);

    let finding = run.finding(NO_REPOSITORY, "us-east-1", "MACIE-001");
    assert_eq!(finding["status"], "ERROR");
    assert!(
        finding["message"].contains("ExpiredToken")
            && finding["message"]
                .contains("refused again with the credentials obtained after the first refusal"),
        "{finding:?}"
    );
    // Every other account is judged as before.
    let others = |verdicts: BTreeSet<Vec<String>>| -> BTreeSet<Vec<String>> {
        verdicts
            .into_iter()
            .filter(|verdict| verdict[0] != NO_REPOSITORY)
            .collect()
    };
    assert_eq!(others(verdicts(&run)), others(expected));
}
