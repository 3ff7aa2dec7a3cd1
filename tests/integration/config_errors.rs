//! Bad configuration files and flags: a clear message naming the key and the file, exit code 3,
//! and nothing scanned or written.

use std::process::Command;

struct Outcome {
    code: i32,
    stderr: String,
    wrote_reports: bool,
}

fn scan_with(config: Option<&str>, args: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_macie-audit"));
    command.current_dir(dir.path()).arg("scan");
    if let Some(text) = config {
        std::fs::write(dir.path().join("audit.toml"), text).expect("write config");
        command.args(["--config", "audit.toml"]);
    }
    command.args(["--output-dir", "out"]).args(args);
    // No endpoint and no credentials: a test that got past validation would fail differently.
    command
        .env_clear()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let output = command.output().expect("run macie-audit");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        wrote_reports: dir.path().join("out").exists(),
    }
}

fn assert_config_error(config: &str, key: &str) {
    let outcome = scan_with(Some(config), &[]);
    assert_eq!(outcome.code, 3, "{config:?}: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains("audit.toml"),
        "names the file: {}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains(key),
        "names {key}: {}",
        outcome.stderr
    );
    assert!(!outcome.wrote_reports);
}

#[test]
fn unknown_key() {
    assert_config_error("[concurrency]\naccount = 4\n", "unknown field `account`");
    assert_config_error("[concurrency]\naccount = 4\n", "concurrency");
    assert_config_error("[scopes]\nregions = [\"all\"]\n", "unknown field `scopes`");
}

#[test]
fn wrong_type() {
    assert_config_error(
        "[concurrency]\naccounts = \"four\"\n",
        "concurrency.accounts",
    );
    assert_config_error("[scope]\nregions = \"us-east-1\"\n", "scope.regions");
}

#[test]
fn zero_concurrency() {
    assert_config_error("[concurrency]\naccounts = 0\n", "concurrency.accounts");
    assert_config_error("[concurrency]\nrequests = 0\n", "concurrency.requests");
}

#[test]
fn malformed_account_id() {
    assert_config_error("[scope]\naccounts = [\"1234\"]\n", "scope.accounts[0]");
    assert_config_error(
        "[scope]\nexclude_accounts = [\"12345678901a\"]\n",
        "scope.exclude_accounts[0]",
    );
}

#[test]
fn malformed_arn() {
    assert_config_error(
        "[access]\nmanagement_role_arn = \"arn:aws:iam::123:role/Audit\"\n",
        "access.management_role_arn",
    );
    assert_config_error(
        "[access]\nmanagement_role_arn = \"arn:aws:iam::123456789012:user/alice\"\n",
        "access.management_role_arn",
    );
}

#[test]
fn unknown_region() {
    assert_config_error(
        "[scope]\nregions = [\"us-east-1\", \"mars-1\"]\n",
        "scope.regions[1]",
    );
}

#[test]
fn invalid_toml() {
    assert_config_error("[scope\nregions = 1\n", "TOML");
}

#[test]
fn missing_config_file() {
    let outcome = scan_with(None, &["--config", "nowhere.toml"]);
    assert_eq!(outcome.code, 3);
    assert!(
        outcome.stderr.contains("nowhere.toml"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn bad_flags() {
    for (args, expected) in [
        (&["--regions", "us-east-1,mars-1"][..], "--regions[1]"),
        (&["--accounts", "12"][..], "--accounts[0]"),
        (&["--accounts", ","][..], "--accounts"),
        (&["--bogus"][..], "--bogus"),
    ] {
        let outcome = scan_with(None, args);
        assert_eq!(outcome.code, 3, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(!outcome.wrote_reports);
    }
}

#[test]
fn missing_subcommand_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn help_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .args(["scan", "--help"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--regions"));
}
