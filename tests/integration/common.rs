//! A fluent harness over the emulator and the `macie-audit` binary.
//!
//! ```ignore
//! let emulator = Emulator::start();
//! emulator.load_scenario(SCENARIO);
//! let run = emulator.scan().regions("us-east-1").run();
//! run.assert_exit(1).finding("111111111111", "us-east-1", "MACIE-002").assert_status("FAIL");
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter of the project's virtual environment (`make venv` creates it), with the
/// pinned emulator and PyYAML; `MACIE_AUDIT_PYTHON` names another.
pub fn python() -> PathBuf {
    if let Ok(python) = std::env::var("MACIE_AUDIT_PYTHON") {
        return PathBuf::from(python);
    }
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (or `make test`) to install the pinned emulator and PyYAML",
        python.display()
    );
    python
}

/// `sha256sum -c SHA256SUMS` in `dir` succeeds: the run directory's manifest names every file
/// as it is.
pub fn assert_manifest_verifies(dir: &Path) {
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

/// A running emulator, stopped (by PID) when dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Account name → id of the loaded scenario.
    pub accounts: BTreeMap<String, String>,
    /// The emulator's answer to seeding: the organization id, its root and OUs, the keys.
    pub seeded: Value,
}

impl Emulator {
    /// Starts the emulator on a free port and waits until it answers.
    pub fn start() -> Emulator {
        let port = free_port();
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/emulator/emulator.py"))
            .args(["--port", &port.to_string(), "--quiet"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = sender.send(line);
                }
            }
        });
        let emulator = Emulator {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            accounts: BTreeMap::new(),
            seeded: Value::Null,
        };
        receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the emulator did not print READY within 60 s");
        emulator
    }

    fn control(&self, path: &str) -> String {
        format!("{}/_emulator/{path}", self.endpoint)
    }

    /// Seeds a scenario (TOML text); remembers its account names.
    pub fn load_scenario(&mut self, scenario: &str) -> &mut Self {
        let response: Value = ureq::post(&self.control("scenario"))
            .set("Content-Type", "application/toml")
            .timeout(Duration::from_secs(300))
            .send_string(scenario)
            .unwrap_or_else(|e| panic!("seeding failed: {}", describe(e)))
            .into_json()
            .expect("seed response JSON");
        if let Some(accounts) = response["accounts"].as_object() {
            for (name, id) in accounts {
                self.accounts
                    .insert(name.clone(), id.as_str().unwrap_or_default().to_owned());
            }
        }
        self.seeded = response;
        self
    }

    /// The scenario organization's id (`o-…`).
    pub fn organization_id(&self) -> String {
        self.seeded["organization_id"]
            .as_str()
            .expect("a scenario with an organization")
            .to_owned()
    }

    /// A scenario OU's id and path (`o-…/r-…/ou-…/`), by its names from the root down.
    pub fn ou(&self, names: &str) -> (String, String) {
        let unit = &self.seeded["organizational_units"][names];
        let text = |field: &str| {
            unit[field]
                .as_str()
                .unwrap_or_else(|| panic!("no OU {names:?} in the scenario"))
                .to_owned()
        };
        (text("id"), text("path"))
    }

    /// Replaces the fault settings (latency, throttling and 5xx fractions, seed).
    pub fn faults(&self, faults: Value) -> &Self {
        ureq::post(&self.control("faults"))
            .send_json(faults)
            .unwrap_or_else(|e| panic!("setting faults failed: {}", describe(e)));
        self
    }

    /// Replaces the credential settings: `lifetime_seconds` (sessions AssumeRole issues end
    /// that long after issue), `expire_after_uses` (a session is refused as expired once it has
    /// signed that many requests), `accounts` (the sessions acting in these accounts only).
    pub fn credentials(&self, settings: Value) -> &Self {
        ureq::post(&self.control("credentials"))
            .send_json(settings)
            .unwrap_or_else(|e| panic!("setting credentials failed: {}", describe(e)));
        self
    }

    /// The emulator's call counters.
    pub fn counters(&self) -> Counters {
        Counters(
            ureq::get(&self.control("counters"))
                .call()
                .expect("counters")
                .into_json()
                .expect("counters JSON"),
        )
    }

    /// Zeroes the call counters.
    pub fn reset_counters(&self) -> &Self {
        ureq::post(&self.control("counters/reset"))
            .send_string("")
            .expect("reset counters");
        self
    }

    /// Changes a Macie session (`enabled`, `created_days_ago`, `status`, …) through the control API.
    pub fn set_macie(&self, session: Value) -> &Self {
        ureq::post(&self.control("macie"))
            .send_json(session)
            .unwrap_or_else(|e| panic!("setting Macie failed: {}", describe(e)));
        self
    }

    /// Changes an account's rules at run time (`assume_role`, `disabled_regions`).
    pub fn set_account(&self, rules: Value) -> &Self {
        ureq::post(&self.control("account"))
            .send_json(rules)
            .unwrap_or_else(|e| panic!("setting account rules failed: {}", describe(e)));
        self
    }

    /// A scan of this emulator, to be configured and run.
    pub fn scan(&self) -> Scan {
        Scan::new(&self.endpoint)
    }

    /// Environment for an AWS SDK pointed at the emulator with the management account's keys.
    pub fn sdk_env(&self) -> Vec<(String, String)> {
        aws_env(&self.endpoint)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(error: ureq::Error) -> String {
    match error {
        ureq::Error::Status(code, response) => {
            format!(
                "HTTP {code}: {}",
                response.into_string().unwrap_or_default()
            )
        }
        other => other.to_string(),
    }
}

/// The environment every scan runs with: static test keys, the emulator endpoint, and nothing
/// from the developer's own AWS setup.
fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Call counters read from the emulator.
#[derive(Debug, Clone)]
pub struct Counters(pub Value);

impl Counters {
    /// Calls of an operation label such as `sts:AssumeRole`, faulted ones included.
    pub fn operation(&self, label: &str) -> u64 {
        self.0["operations"][label].as_u64().unwrap_or(0)
    }

    /// AssumeRole calls whose target role is in `account`.
    pub fn assume_role_into(&self, account: &str) -> u64 {
        self.0["assume_role_targets"][account].as_u64().unwrap_or(0)
    }

    /// Calls that the emulator answered with an injected fault.
    pub fn faulted(&self, label: &str) -> u64 {
        self.0["faulted"][label].as_u64().unwrap_or(0)
    }

    /// Calls of an operation made in `account`.
    pub fn in_account(&self, account: &str, label: &str) -> u64 {
        self.0["by_account"][account][label].as_u64().unwrap_or(0)
    }

    /// Every call made in `account`, refused ones included.
    pub fn all_in_account(&self, account: &str) -> u64 {
        self.0["by_account"][account]
            .as_object()
            .map_or(0, |calls| calls.values().filter_map(Value::as_u64).sum())
    }

    /// Calls of an operation refused as signed with expired credentials.
    pub fn expired(&self, label: &str) -> u64 {
        self.0["expired"][label].as_u64().unwrap_or(0)
    }

    /// Calls made in `account` refused as signed with expired credentials.
    pub fn expired_in(&self, account: &str) -> u64 {
        self.0["expired_by_account"][account].as_u64().unwrap_or(0)
    }
}

/// A scan to run: configuration text, flags, and where its output goes.
pub struct Scan {
    endpoint: String,
    config: String,
    args: Vec<String>,
    workdir: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
    output_dir: Option<PathBuf>,
    file_size_limit: Option<u64>,
}

/// Makes `command`'s process unable to make any file larger than `bytes`: a write past it fails
/// with EFBIG ("File too large"), as a full file system fails one with ENOSPC, for any user
/// (a small tmpfs needs root). SIGXFSZ, which would kill the process first, is ignored.
pub fn limit_file_size(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls (setrlimit, signal), on values
    // copied into the closure.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Configuration for tests: quick retries, so that throttling tests stay fast.
pub const TEST_CONFIG: &str = r#"
[requests]
max_attempts = 10
initial_backoff_ms = 5
max_backoff_ms = 50
attempt_timeout_ms = 10000
operation_timeout_ms = 60000
"#;

impl Scan {
    fn new(endpoint: &str) -> Scan {
        Scan {
            endpoint: endpoint.to_owned(),
            config: TEST_CONFIG.to_owned(),
            args: Vec::new(),
            workdir: tempfile::tempdir().expect("temporary directory"),
            extra_env: Vec::new(),
            output_dir: None,
            file_size_limit: None,
        }
    }

    /// Replaces the configuration file's text.
    pub fn config(mut self, text: &str) -> Scan {
        self.config = text.to_owned();
        self
    }

    /// Restricts the scan to these Regions (`--regions`).
    pub fn regions(mut self, regions: &str) -> Scan {
        self.args.extend(["--regions".into(), regions.into()]);
        self
    }

    /// Adds a flag or argument.
    pub fn arg(mut self, arg: &str) -> Scan {
        self.args.push(arg.into());
        self
    }

    /// Writes runs below `dir` (shared between scans, for baselines) instead of a fresh directory.
    pub fn output_dir(mut self, dir: &Path) -> Scan {
        self.output_dir = Some(dir.to_path_buf());
        self
    }

    /// Writes a file into the scan's working directory (its current directory), for flags that
    /// name files relative to it.
    pub fn file(self, name: &str, contents: &str) -> Scan {
        std::fs::write(self.workdir.path().join(name), contents).expect("write a working file");
        self
    }

    /// Lets the scanner make no file larger than `bytes` (see [`limit_file_size`]).
    pub fn file_size_limit(mut self, bytes: u64) -> Scan {
        self.file_size_limit = Some(bytes);
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Scan {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// Runs `macie-audit scan` and collects what it wrote.
    pub fn run(self) -> ScanRun {
        self.spawn().wait()
    }

    /// Starts `macie-audit scan` without waiting for it.
    pub fn spawn(self) -> RunningScan {
        let config_path = self.workdir.path().join("config.toml");
        std::fs::write(&config_path, &self.config).expect("write config");
        let output_dir = self
            .output_dir
            .clone()
            .unwrap_or_else(|| self.workdir.path().join("reports"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_macie-audit"));
        command
            .current_dir(self.workdir.path())
            .arg("scan")
            .arg("--config")
            .arg(&config_path)
            .arg("--output-dir")
            .arg(&output_dir)
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(aws_env(&self.endpoint))
            .envs(self.extra_env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(bytes) = self.file_size_limit {
            limit_file_size(&mut command, bytes);
        }
        let child = command.spawn().expect("run macie-audit");
        RunningScan {
            child,
            workdir: self.workdir,
            output_dir,
        }
    }
}

/// A scan still running.
pub struct RunningScan {
    child: Child,
    workdir: tempfile::TempDir,
    output_dir: PathBuf,
}

impl RunningScan {
    /// Sends a signal (`INT`, `TERM`) to the scanner.
    pub fn signal(&self, name: &str) -> &Self {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
        self
    }

    /// Waits for the scanner to exit and collects what it wrote.
    pub fn wait(self) -> ScanRun {
        let output = self.child.wait_with_output().expect("wait for macie-audit");
        ScanRun::new(self.workdir, self.output_dir, output)
    }
}

/// A finished scan: its exit code, output and run directory.
pub struct ScanRun {
    _workdir: tempfile::TempDir,
    /// The run directory, if one was written.
    pub run_dir: Option<PathBuf>,
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl ScanRun {
    fn new(
        workdir: tempfile::TempDir,
        output_dir: PathBuf,
        output: std::process::Output,
    ) -> ScanRun {
        // The newest run directory (run ids sort by time; `latest` is a link, not a directory).
        let run_dir = std::fs::read_dir(&output_dir).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .max()
        });
        ScanRun {
            _workdir: workdir,
            run_dir,
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code.
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The run directory, which must exist.
    pub fn dir(&self) -> &Path {
        self.run_dir
            .as_deref()
            .expect("the scan wrote no run directory")
    }

    /// Every row of `findings.csv`, as column → value maps.
    pub fn findings(&self) -> Vec<BTreeMap<String, String>> {
        let mut reader =
            csv::Reader::from_path(self.dir().join("findings.csv")).expect("findings.csv");
        let headers = reader.headers().expect("CSV header").clone();
        reader
            .records()
            .map(|record| {
                let record = record.expect("CSV row");
                headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect()
            })
            .collect()
    }

    /// The one finding of a rule in an account and Region.
    pub fn finding(&self, account: &str, region: &str, rule: &str) -> BTreeMap<String, String> {
        let matches: Vec<_> = self
            .findings()
            .into_iter()
            .filter(|f| f["account_id"] == account && f["region"] == region && f["rule_id"] == rule)
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "findings for {account} {region} {rule}: {matches:?}"
        );
        matches.into_iter().next().unwrap_or_default()
    }

    /// The status of a rule in an account and Region.
    pub fn status(&self, account: &str, region: &str, rule: &str) -> String {
        self.finding(account, region, rule)["status"].clone()
    }

    /// The run's evidence, read back through the library.
    pub fn evidence(&self) -> macie_audit::evidence::RunEvidence {
        macie_audit::evidence::RunEvidence::load(&self.dir().join("evidence.jsonl"))
            .expect("evidence.jsonl")
    }
}

/// A key policy: the owner administers it, Macie may use it for `sources` (with conditions unless
/// `conditions` is false).
pub fn key_policy(sources: &[&str], conditions: bool, principal: &str) -> String {
    let sources = sources
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(",");
    let condition = if conditions {
        format!(
            r#","Condition":{{"StringEquals":{{"aws:SourceAccount":[{sources}]}},"ArnLike":{{"aws:SourceArn":["arn:aws:macie2:*:*:export-configuration:*","arn:aws:macie2:*:*:classification-job/*"]}}}}"#
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Admin","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::${{ACCOUNT}}:root"}},"Action":"kms:*","Resource":"*"}},{{"Sid":"Macie","Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*"{condition}}}]}}"#
    )
}

/// A bucket policy for Macie's service `principal`: deny non-TLS (unless `tls_deny` is "none", or "true" for the wrong way round),
/// let Macie write under `put_prefix` for `sources`.
pub fn bucket_policy(
    sources: &[&str],
    tls_deny: &str,
    put_prefix: &str,
    principal: &str,
) -> String {
    let sources = sources
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(",");
    let condition = format!(
        r#""Condition":{{"StringEquals":{{"aws:SourceAccount":[{sources}]}},"ArnLike":{{"aws:SourceArn":["arn:aws:macie2:*:*:export-configuration:*","arn:aws:macie2:*:*:classification-job/*"]}}}}"#
    );
    let deny = match tls_deny {
        "none" => String::new(),
        value => format!(
            r#"{{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::${{BUCKET}}","arn:aws:s3:::${{BUCKET}}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"{value}"}}}}}},"#
        ),
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{deny}{{"Sid":"MaciePut","Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::${{BUCKET}}/{put_prefix}*",{condition}}},{{"Sid":"MacieLocation","Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::${{BUCKET}}",{condition}}}]}}"#
    )
}

/// The findings of a run loaded whole in memory (`RunEvidence::load`), judged as the reports
/// judge them.
pub fn judged(run: &macie_audit::evidence::RunEvidence) -> Vec<macie_audit::findings::Finding> {
    macie_audit::triage::Findings::new(
        &macie_audit::evidence::Evidence::in_memory(run.clone()),
        &macie_audit::triage::TriageMarks::NONE,
    )
    .collect()
    .expect("judged")
}

/// Every HTML page of a run: the summary (`report.html`), the account pages (`accounts/`) and
/// the OU pages (`ous/`).
pub fn all_html(run_dir: &Path) -> String {
    let mut html = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    for dir in ["accounts", "ous"] {
        if let Ok(pages) = std::fs::read_dir(run_dir.join(dir)) {
            let mut pages: Vec<PathBuf> = pages.filter_map(Result::ok).map(|e| e.path()).collect();
            pages.sort();
            for page in pages {
                html.push_str(&std::fs::read_to_string(&page).expect("a page"));
            }
        }
    }
    html
}

/// Copies a run directory (its files and its account pages) to `to`.
pub fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from)
        .expect("the run")
        .filter_map(Result::ok)
    {
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_run(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file of the run");
        }
    }
}

/// An emulator scenario, written as the TOML the emulator takes (tests/emulator/README.md):
/// `Scenario::new().account(Account::new(id, name).macie(region, days).with(line))`.
#[derive(Debug, Default, Clone)]
pub struct Scenario {
    toml: String,
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario::default()
    }

    /// Adds TOML as it is: an `[organization]` table, or a table the builders do not write.
    pub fn raw(mut self, toml: &str) -> Scenario {
        self.toml.push_str(toml);
        self.toml.push('\n');
        self
    }

    pub fn account(mut self, account: Account) -> Scenario {
        self.toml.push_str(&account.toml);
        self
    }

    /// The scenario's TOML.
    pub fn toml(&self) -> &str {
        &self.toml
    }
}

/// One `[[accounts]]` table and the tables under it, in the order they are added; `with` adds
/// a `key = value` line to the table added last.
#[derive(Debug, Clone)]
pub struct Account {
    toml: String,
}

impl Account {
    pub fn new(id: &str, name: &str) -> Account {
        Account {
            toml: format!("\n[[accounts]]\nid = \"{id}\"\nname = \"{name}\"\n"),
        }
    }

    /// A `key = value` line (TOML) in the table added last.
    pub fn with(mut self, line: &str) -> Account {
        self.toml.push_str(line);
        self.toml.push('\n');
        self
    }

    /// Macie enabled in `region` for `days` days.
    pub fn macie(self, region: &str, days: u32) -> Account {
        self.with(&format!(
            "[[accounts.macie]]\nregion = \"{region}\"\ncreated_days_ago = {days}"
        ))
    }

    /// A KMS key `alias` in `region`.
    pub fn key(self, alias: &str, region: &str) -> Account {
        self.with(&format!(
            "[[accounts.keys]]\nalias = \"{alias}\"\nregion = \"{region}\""
        ))
    }

    /// A bucket in `region`.
    pub fn bucket(self, name: &str, region: &str) -> Account {
        self.with(&format!(
            "[[accounts.buckets]]\nname = \"{name}\"\nregion = \"{region}\""
        ))
    }
}

/// The `export` line of a Macie table: its repository (`key_prefix` only when given).
pub fn export(bucket: &str, key_prefix: Option<&str>, kms_key_arn: &str) -> String {
    let prefix = key_prefix
        .map(|prefix| format!(", key_prefix = \"{prefix}\""))
        .unwrap_or_default();
    format!("export = {{ bucket = \"{bucket}\"{prefix}, kms_key_arn = \"{kms_key_arn}\" }}")
}
