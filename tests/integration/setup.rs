//! Setup helpers: `init` writes the documented configuration, `check-config` validates it and
//! probes the access it describes.

use crate::common;

use std::process::{Command, Output};

use common::Emulator;

fn macie_audit(dir: &std::path::Path, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_macie-audit"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .output()
        .expect("run macie-audit")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn init_writes_the_documented_configuration_once() {
    let dir = tempfile::tempdir().expect("temp");
    let first = macie_audit(dir.path(), &["init"], &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let written = std::fs::read_to_string(dir.path().join("config.toml")).expect("config.toml");
    let shipped =
        std::fs::read_to_string(common::repo_root().join("config.toml")).expect("shipped");
    assert_eq!(written, shipped);
    assert!(written.contains("# "), "commented");

    let again = macie_audit(dir.path(), &["init"], &[]);
    assert_eq!(again.status.code(), Some(3));
    assert!(text(&again).contains("--force"));
    let forced = macie_audit(
        dir.path(),
        &["init", "--force", "--path", "other.toml"],
        &[],
    );
    assert_eq!(forced.status.code(), Some(0));

    let check = macie_audit(dir.path(), &["check-config"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(text(&check).contains("configuration OK: config.toml"));
}

#[test]
fn check_config_names_the_bad_key() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(dir.path().join("bad.toml"), "[concurrency]\naccounts = 0\n").expect("write");
    let check = macie_audit(dir.path(), &["check-config", "--config", "bad.toml"], &[]);
    assert_eq!(check.status.code(), Some(3));
    let out = text(&check);
    assert!(
        out.contains("bad.toml") && out.contains("concurrency.accounts"),
        "{out}"
    );
}

#[test]
fn probe_reports_what_works_and_what_is_missing() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(
        "[[accounts]]\nid = \"111111111111\"\nname = \"reachable\"\n\n[[accounts]]\nid = \"222222222222\"\nname = \"locked\"\nassume_role = \"deny\"\n",
    );
    let dir = tempfile::tempdir().expect("temp");
    let env = emulator.sdk_env();
    let ok = macie_audit(
        dir.path(),
        &["check-config", "--probe", "--account", "111111111111"],
        &env,
    );
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    for line in [
        "PASS  caller identity",
        "PASS  organization listing: 3 accounts in scope",
        "PASS  audit role in 111111111111",
        "PASS  macie2:GetMacieSession in 111111111111",
        "PASS  s3:ListBuckets in 111111111111",
    ] {
        assert!(out.contains(line), "missing {line:?}:\n{out}");
    }
    let denied = macie_audit(
        dir.path(),
        &["check-config", "--probe", "--account", "222222222222"],
        &env,
    );
    let out = text(&denied);
    assert_eq!(denied.status.code(), Some(2), "{out}");
    assert!(out.contains("FAIL  audit role in 222222222222"), "{out}");
    assert!(
        out.contains("AccessDenied") && out.contains("sts:AssumeRole"),
        "{out}"
    );
}
