//! The configuration file: serde types, defaults, and validation that names the key and the file.
//!
//! Every key has a default, so an empty file (or none at all) is a valid configuration. The
//! documented default lives in `config.toml` at the root of the repository.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::regions;

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How the scanner reaches the organization and its accounts.
    pub access: AccessConfig,
    /// Which accounts and Regions are audited.
    pub scope: ScopeConfig,
    /// How much work is in flight at once.
    pub concurrency: ConcurrencyConfig,
    /// Timeouts and retries of every AWS call.
    pub requests: RequestsConfig,
    /// How the rules judge what they find.
    pub rules: RulesConfig,
    /// Where reports go.
    pub output: OutputConfig,
    /// What `remediate` creates or changes, and where.
    pub remediation: RemediationConfig,
}

/// How the rules judge what they find.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Whose repository a Macie member account is judged by.
    pub macie_members: MemberRepository,
}

/// Whose repository a Macie member account is judged by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRepository {
    /// Every account-Region must have its own repository, as Conformity checks.
    #[default]
    Own,
    /// A member is judged by its Macie administrator's repository in the same Region.
    Administrator,
}

/// How the scanner reaches the organization and its accounts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// The role assumed in every member account.
    pub role_name: String,
    /// The external id the audit role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// The role session name, visible in CloudTrail.
    pub session_name: String,
    /// Lifetime of each assumed-role session; the SDK refreshes sessions before they expire.
    pub session_duration_seconds: u64,
    /// A role in the management account to assume first (role chaining from a security account).
    pub management_role_arn: Option<String>,
    /// Assume the audit role in the account the scanner runs in, instead of using the caller's credentials.
    pub assume_role_in_own_account: bool,
    /// The Region used for STS and Organizations.
    pub home_region: String,
    /// The role `remediate --apply` assumes in every account to make its changes (never the
    /// read-only audit role).
    pub remediation_role_name: String,
}

/// Which accounts and Regions are audited.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScopeConfig {
    /// Only these accounts (empty: every account of the organization).
    pub accounts: Vec<String>,
    /// Never these accounts; listed in the run metadata as excluded.
    pub exclude_accounts: Vec<String>,
    /// Only the accounts under these organizational units (OU ids `ou-…`, the root id `r-…`, or
    /// OU paths `o-…/r-…/ou-…/`), nested OUs included. Empty: every OU.
    pub organizational_units: Vec<String>,
    /// Never the accounts under these organizational units (same forms, nested included);
    /// listed in the run metadata as excluded.
    pub exclude_organizational_units: Vec<String>,
    /// Region codes, or `["all"]` for every Region where Macie exists.
    pub regions: Vec<String>,
}

/// How much work is in flight at once.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConcurrencyConfig {
    /// Accounts scanned at the same time.
    pub accounts: usize,
    /// AWS requests in flight at the same time, across all accounts.
    pub requests: usize,
}

/// Timeouts and retries of every AWS call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestsConfig {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First retry delay; it grows exponentially, with jitter.
    pub initial_backoff_ms: u64,
    /// Longest delay between two attempts.
    pub max_backoff_ms: u64,
    /// Time allowed to open a connection.
    pub connect_timeout_ms: u64,
    /// Time allowed for one attempt.
    pub attempt_timeout_ms: u64,
    /// Time allowed for a call, all attempts and delays included.
    pub operation_timeout_ms: u64,
}

/// What `remediate` creates or changes, and where.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    /// The object key prefix Macie writes under, in every repository remediation configures.
    pub key_prefix: String,
    /// The name of the bucket `--strategy own` creates in each account and Region; `{account}`
    /// and `{region}` are replaced (bucket names are global, so both are required).
    pub bucket_name_template: String,
    /// The alias of the key `--strategy own` creates in each account and Region.
    pub key_alias: String,
    /// `--strategy central`: the existing bucket every account-Region exports to.
    pub central_bucket: Option<String>,
    /// `--strategy central`: the existing key (ARN) that encrypts the results, in the bucket's Region.
    pub central_key_arn: Option<String>,
    /// `--strategy central`: the account owning `central_bucket` [default: the key's account].
    pub central_bucket_owner: Option<String>,
}

impl Default for RemediationConfig {
    fn default() -> Self {
        RemediationConfig {
            key_prefix: "macie/".into(),
            bucket_name_template: "macie-discovery-results-{account}-{region}".into(),
            key_alias: "alias/macie-discovery-results".into(),
            central_bucket: None,
            central_key_arn: None,
            central_bucket_owner: None,
        }
    }
}

impl RemediationConfig {
    /// The bucket `--strategy own` uses in an account and Region.
    pub fn bucket_name(&self, account: &str, region: &str) -> String {
        self.bucket_name_template
            .replace("{account}", account)
            .replace("{region}", region)
    }

    /// Checks every value a type cannot express; the error names the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.key_prefix.starts_with('/') || self.key_prefix.len() > 512 {
            return Err(format!(
                "remediation.key_prefix: {:?} must not start with \"/\" and must be at most 512 characters",
                self.key_prefix
            ));
        }
        let template = &self.bucket_name_template;
        if !template.contains("{account}") || !template.contains("{region}") {
            return Err(format!(
                "remediation.bucket_name_template: {template:?} must contain {{account}} and {{region}} \
                 (bucket names are global: one bucket per account and Region)"
            ));
        }
        // The longest account id and Region a name can get.
        let longest = self.bucket_name("123456789012", "ap-southeast-2");
        if !is_bucket_name(&longest) {
            return Err(format!(
                "remediation.bucket_name_template: {template:?} gives {longest:?}, which is not a valid S3 \
                 bucket name (3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit)"
            ));
        }
        let alias = self.key_alias.strip_prefix("alias/").unwrap_or_default();
        let alias_ok = (1..=250).contains(&alias.len())
            && !alias.starts_with("aws/")
            && alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
        if !alias_ok {
            return Err(format!(
                "remediation.key_alias: {:?} must be alias/<name> (A-Z a-z 0-9 / _ -, not alias/aws/…)",
                self.key_alias
            ));
        }
        if let Some(bucket) = &self.central_bucket
            && !is_bucket_name(bucket)
        {
            return Err(format!(
                "remediation.central_bucket: {bucket:?} is not a valid S3 bucket name"
            ));
        }
        if let Some(arn) = &self.central_key_arn
            && !is_key_arn(arn)
        {
            return Err(format!(
                "remediation.central_key_arn: {arn:?} is not a KMS key ARN (arn:aws:kms:<region>:<12 digits>:key/<id>)"
            ));
        }
        if self.central_bucket.is_some() != self.central_key_arn.is_some() {
            return Err(
                "remediation.central_bucket: central_bucket and central_key_arn go together".into(),
            );
        }
        if let Some(owner) = &self.central_bucket_owner
            && !is_account_id(owner)
        {
            return Err(format!(
                "remediation.central_bucket_owner: {owner:?} is not an AWS account id (12 digits)"
            ));
        }
        Ok(())
    }
}

/// Whether `value` is a valid S3 general purpose bucket name.
pub fn is_bucket_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !value.contains("..")
}

/// Whether `value` is a KMS key ARN (not an alias ARN).
pub fn is_key_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(
        parts[..],
        ["arn", "aws" | "aws-us-gov" | "aws-cn", "kms", region, account, resource]
            if regions::find(region).is_some()
                && is_account_id(account)
                && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty())
    )
}

/// Where reports go.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Each run writes into a new directory below this one.
    pub directory: PathBuf,
    /// `findings.csv` starts with a UTF-8 byte order mark, so that Excel decodes non-ASCII
    /// account names; off, the file is plain RFC 4180 UTF-8.
    pub csv_bom: bool,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            role_name: "OrganizationAccountAccessRole".into(),
            external_id: None,
            session_name: "macie-audit".into(),
            session_duration_seconds: 3600,
            management_role_arn: None,
            assume_role_in_own_account: false,
            home_region: "us-east-1".into(),
            remediation_role_name: crate::permissions::DEFAULT_REMEDIATION_ROLE_NAME.into(),
        }
    }
}

impl Default for ScopeConfig {
    fn default() -> Self {
        ScopeConfig {
            accounts: Vec::new(),
            exclude_accounts: Vec::new(),
            organizational_units: Vec::new(),
            exclude_organizational_units: Vec::new(),
            regions: vec![ALL_REGIONS.into()],
        }
    }
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            accounts: 16,
            requests: 64,
        }
    }
}

impl Default for RequestsConfig {
    fn default() -> Self {
        RequestsConfig {
            max_attempts: 8,
            initial_backoff_ms: 500,
            max_backoff_ms: 20_000,
            connect_timeout_ms: 5_000,
            attempt_timeout_ms: 20_000,
            operation_timeout_ms: 120_000,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            directory: PathBuf::from("reports"),
            csv_bom: false,
        }
    }
}

/// The most accounts scanned, and requests in flight, at once: far above what any organization
/// needs (see the README's 5,000 accounts), and what the limits on a process's tasks and
/// semaphores take.
pub const MAX_CONCURRENCY: usize = 10_000;

/// The `regions` value that means every Region where Macie exists.
pub const ALL_REGIONS: &str = "all";

/// The configuration file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// A configuration together with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The validated configuration.
    pub config: Config,
    /// The file it was read from; `None` for the built-in defaults.
    pub path: Option<PathBuf>,
    /// SHA-256 of the file's bytes (of the empty string for the built-in defaults).
    pub sha256: String,
}

impl LoadedConfig {
    /// Reads `path`, or `config.toml` in the working directory when it exists, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<LoadedConfig> {
        let path = match path {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(LoadedConfig {
                config: Config::default(),
                path: None,
                sha256: hex_sha256(b""),
            });
        };
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::config(&path, format!("cannot read the configuration: {e}")))?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| Error::config(&path, "the configuration is not UTF-8 text"))?;
        let config = Config::parse(&text).map_err(|message| Error::config(&path, message))?;
        Ok(LoadedConfig {
            config,
            path: Some(path),
            sha256: hex_sha256(&bytes),
        })
    }

    /// The name used for this configuration in messages.
    pub fn display_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("<built-in defaults>"))
    }
}

impl Config {
    /// Parses and validates TOML text; the error names the offending key.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| e.to_string())?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." {
                inner
            } else {
                format!("{path}: {inner}")
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value a type cannot express; the error names the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let access = &self.access;
        if !is_role_name(&access.role_name) {
            return Err(format!(
                "access.role_name: {:?} is not a valid IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)",
                access.role_name
            ));
        }
        if !is_role_name(&access.remediation_role_name) {
            return Err(format!(
                "access.remediation_role_name: {:?} is not a valid IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-)",
                access.remediation_role_name
            ));
        }
        if let Some(external_id) = &access.external_id {
            let ok = (2..=1224).contains(&external_id.len())
                && external_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                return Err(
                    "access.external_id: must be 2-1224 characters of A-Z a-z 0-9 +=,.@:/-_".into(),
                );
            }
        }
        let session_ok = (2..=64).contains(&access.session_name.len())
            && access
                .session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
        if !session_ok {
            return Err(format!(
                "access.session_name: {:?} must be 2-64 characters of A-Z a-z 0-9 +=,.@-_",
                access.session_name
            ));
        }
        if !(900..=43_200).contains(&access.session_duration_seconds) {
            return Err(format!(
                "access.session_duration_seconds: {} is outside 900..=43200",
                access.session_duration_seconds
            ));
        }
        if let Some(arn) = &access.management_role_arn {
            if !is_role_arn(arn) {
                return Err(format!(
                    "access.management_role_arn: {arn:?} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)"
                ));
            }
            if access.session_duration_seconds > 3600 {
                return Err(format!(
                    "access.session_duration_seconds: {} exceeds the 1-hour limit of role chaining, which management_role_arn implies",
                    access.session_duration_seconds
                ));
            }
        }
        if regions::find(&access.home_region).is_none() {
            return Err(format!(
                "access.home_region: unknown Region {:?}",
                access.home_region
            ));
        }
        validate_accounts("scope.accounts", &self.scope.accounts)?;
        validate_accounts("scope.exclude_accounts", &self.scope.exclude_accounts)?;
        validate_organizational_units(
            "scope.organizational_units",
            &self.scope.organizational_units,
        )?;
        validate_organizational_units(
            "scope.exclude_organizational_units",
            &self.scope.exclude_organizational_units,
        )?;
        validate_regions("scope.regions", &self.scope.regions)?;
        for (key, value) in [
            ("concurrency.accounts", self.concurrency.accounts),
            ("concurrency.requests", self.concurrency.requests),
        ] {
            if !(1..=MAX_CONCURRENCY).contains(&value) {
                return Err(format!(
                    "{key}: must be 1 to {MAX_CONCURRENCY}, not {value}"
                ));
            }
        }
        let requests = &self.requests;
        if requests.max_attempts == 0 {
            return Err("requests.max_attempts: must be at least 1".into());
        }
        for (key, value) in [
            ("requests.connect_timeout_ms", requests.connect_timeout_ms),
            ("requests.attempt_timeout_ms", requests.attempt_timeout_ms),
            (
                "requests.operation_timeout_ms",
                requests.operation_timeout_ms,
            ),
            ("requests.max_backoff_ms", requests.max_backoff_ms),
        ] {
            if value == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        if requests.initial_backoff_ms > requests.max_backoff_ms {
            return Err(
                "requests.initial_backoff_ms: must not exceed requests.max_backoff_ms".into(),
            );
        }
        if self.output.directory.as_os_str().is_empty() {
            return Err("output.directory: must not be empty".into());
        }
        self.remediation.validate()?;
        Ok(())
    }

    /// The Regions in scope, with `all` expanded, in the catalogue's stable order.
    pub fn regions(&self) -> Vec<String> {
        if self.scope.regions.iter().any(|r| r == ALL_REGIONS) {
            return regions::all_names();
        }
        let mut wanted: Vec<String> = Vec::new();
        for region in regions::MACIE_REGIONS {
            if self.scope.regions.iter().any(|r| r == region.name) {
                wanted.push(region.name.to_owned());
            }
        }
        wanted
    }
}

impl RequestsConfig {
    /// The attempt timeout as a duration.
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    /// The operation timeout as a duration.
    pub fn operation_timeout(&self) -> Duration {
        Duration::from_millis(self.operation_timeout_ms)
    }
}

/// Parses a comma-separated flag value into its non-empty items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks a list of account ids; `key` names it in the message.
pub fn validate_accounts(key: &str, accounts: &[String]) -> std::result::Result<(), String> {
    for (index, account) in accounts.iter().enumerate() {
        if !is_account_id(account) {
            return Err(format!(
                "{key}[{index}]: {account:?} is not an AWS account id (12 digits)"
            ));
        }
    }
    Ok(())
}

/// Checks a list of organizational units: each an OU id (`ou-…`), a root id (`r-…`) or an OU
/// path (`o-…/r-…/ou-…/`, as `aws:SourceOrgPaths` spells it); `key` names it in the message.
pub fn validate_organizational_units(
    key: &str,
    units: &[String],
) -> std::result::Result<(), String> {
    for (index, unit) in units.iter().enumerate() {
        if !is_organizational_unit(unit) {
            return Err(format!(
                "{key}[{index}]: {unit:?} is not an OU id (ou-…), a root id (r-…) or an OU path \
                 (o-…/r-…/ou-…/)"
            ));
        }
    }
    Ok(())
}

/// Whether `value` names an OU or root by id or by path.
pub fn is_organizational_unit(value: &str) -> bool {
    let id_part = |part: &str, prefix: &str| {
        part.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
    };
    if value.contains('/') {
        let parts: Vec<&str> = value.trim_end_matches('/').split('/').collect();
        parts.len() >= 2
            && id_part(parts[0], "o-")
            && id_part(parts[1], "r-")
            && parts[2..].iter().all(|part| id_part(part, "ou-"))
    } else {
        id_part(value, "ou-") || id_part(value, "r-")
    }
}

/// Checks a list of Regions (or `all`); `key` names it in the message.
pub fn validate_regions(key: &str, list: &[String]) -> std::result::Result<(), String> {
    if list.is_empty() {
        return Err(format!("{key}: must name at least one Region, or \"all\""));
    }
    for (index, region) in list.iter().enumerate() {
        if region != ALL_REGIONS && regions::find(region).is_none() {
            return Err(format!(
                "{key}[{index}]: unknown Region {region:?}; Macie exists in: {}",
                regions::all_names().join(", ")
            ));
        }
    }
    if list.len() > 1 && list.iter().any(|r| r == ALL_REGIONS) {
        return Err(format!(
            "{key}: \"all\" cannot be combined with named Regions"
        ));
    }
    Ok(())
}

/// Whether `value` is a 12-digit AWS account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

fn is_role_name(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// Whether `value` is an IAM role ARN such as `arn:aws:iam::123456789012:role/path/Name`.
pub fn is_role_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return false;
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    arn == "arn"
        && matches!(partition, "aws" | "aws-us-gov" | "aws-cn")
        && service == "iam"
        && region.is_empty()
        && is_account_id(account)
        && is_role_name(name)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn organizational_units_by_id_or_path() {
        for good in [
            "ou-ab12-34cd5678",
            "r-ab12",
            "o-a1b2c3d4e5/r-ab12/",
            "o-a1b2c3d4e5/r-ab12",
            "o-a1b2c3d4e5/r-ab12/ou-ab12-34cd5678/ou-ab12-90ef1234/",
        ] {
            assert!(is_organizational_unit(good), "{good}");
        }
        for bad in [
            "",
            "Workloads/Prod",
            "ou-",
            "o-abc",
            "o-abc/ou-x/",
            "r-AB12",
            "o-abc/r-ab12/x-1/",
        ] {
            assert!(!is_organizational_unit(bad), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn csv_bom_is_off_by_default_and_a_boolean() {
        assert!(!Config::default().output.csv_bom);
        assert!(
            Config::parse("[output]\ncsv_bom = true\n")
                .unwrap()
                .output
                .csv_bom
        );
        assert!(Config::parse("[output]\ncsv_bom = \"yes\"\n").is_err());
    }

    #[test]
    fn empty_text_is_the_default() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_documented_file_is_the_default() {
        let text = include_str!("../config.toml");
        assert_eq!(Config::parse(text).unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[concurrency]\naccount = 3\n").unwrap_err();
        assert!(err.contains("concurrency"), "{err}");
        assert!(err.contains("unknown field `account`"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::parse("[concurrency]\naccounts = \"many\"\n").unwrap_err();
        assert!(err.starts_with("concurrency.accounts"), "{err}");
    }

    /// Found by tests/properties.rs: 2^62 requests in flight passed validation and made
    /// setting up the AWS environment panic (a semaphore takes at most 2^61 - 1 permits).
    #[test]
    fn concurrency_is_bounded() {
        for key in ["accounts", "requests"] {
            let err =
                Config::parse(&format!("[concurrency]\n{key} = 4611686018427387904")).unwrap_err();
            assert!(
                err.starts_with(&format!("concurrency.{key}: must be 1 to 10000")),
                "{err}"
            );
            let most = Config::parse(&format!("[concurrency]\n{key} = {MAX_CONCURRENCY}"));
            assert!(most.is_ok(), "{most:?}");
        }
    }

    #[test]
    fn impossible_values_are_named() {
        for (text, key) in [
            ("[concurrency]\naccounts = 0", "concurrency.accounts"),
            ("[concurrency]\nrequests = 0", "concurrency.requests"),
            ("[scope]\naccounts = [\"12345\"]", "scope.accounts[0]"),
            (
                "[scope]\nexclude_accounts = [\"111111111111\", \"x\"]",
                "scope.exclude_accounts[1]",
            ),
            ("[scope]\nregions = [\"us-east-9\"]", "scope.regions[0]"),
            ("[scope]\nregions = []", "scope.regions"),
            (
                "[access]\nmanagement_role_arn = \"arn:aws:iam::1:role/x\"",
                "access.management_role_arn",
            ),
            (
                "[access]\nsession_duration_seconds = 60",
                "access.session_duration_seconds",
            ),
            ("[access]\nrole_name = \"a b\"", "access.role_name"),
            ("[requests]\nmax_attempts = 0", "requests.max_attempts"),
            (
                "[access]\nremediation_role_name = \"a b\"",
                "access.remediation_role_name",
            ),
            (
                "[remediation]\nbucket_name_template = \"results-{region}\"",
                "remediation.bucket_name_template",
            ),
            (
                "[remediation]\nbucket_name_template = \"Results-{account}-{region}\"",
                "remediation.bucket_name_template",
            ),
            (
                "[remediation]\nkey_alias = \"alias/aws/macie\"",
                "remediation.key_alias",
            ),
            (
                "[remediation]\nkey_prefix = \"/macie/\"",
                "remediation.key_prefix",
            ),
            (
                "[remediation]\ncentral_bucket = \"central\"",
                "remediation.central_bucket",
            ),
            (
                "[remediation]\ncentral_bucket = \"central\"\ncentral_key_arn = \"arn:aws:kms:us-east-1:111111111111:alias/x\"",
                "remediation.central_key_arn",
            ),
            (
                "[remediation]\ncentral_bucket_owner = \"1\"",
                "remediation.central_bucket_owner",
            ),
        ] {
            let err = Config::parse(text).unwrap_err();
            assert!(err.starts_with(key), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn(
            "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole"
        ));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/path/to/Audit"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/alice"));
        assert!(!is_role_arn("arn:aws:iam:us-east-1:123456789012:role/x"));
        assert!(!is_role_arn("arn:aws:iam::12345678901:role/x"));
    }

    #[test]
    fn all_expands_in_catalogue_order() {
        let mut config = Config::default();
        assert_eq!(config.regions().len(), 22);
        config.scope.regions = vec!["eu-west-1".into(), "us-east-1".into()];
        assert_eq!(config.regions(), vec!["us-east-1", "eu-west-1"]);
    }
}
