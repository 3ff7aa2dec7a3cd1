//! The evidence archive: uploading a run directory to S3 and verifying it against `SHA256SUMS`.
//!
//! The run is checked against its own manifest first (a tampered run is never archived as if
//! sound), then every file is put under `<prefix>/<run id>/` with its SHA-256 as the object's
//! checksum (S3 rejects a body that does not match it), SSE-KMS and Object Lock retention when
//! asked, the manifest last; finally every object is read back (its stored checksum, or its bytes)
//! and compared with the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ObjectLockEnabled, ObjectLockMode, ServerSideEncryption,
};
use aws_smithy_types::DateTime;
use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use crate::aws::AwsEnvironment;
use crate::aws::errors::classify;
use crate::evidence::{ApiError, ErrorKind};
use crate::run_dir::{self, manifest};

/// Objects uploaded or verified at the same time.
const CONCURRENCY: usize = 4;

/// The retry partition of the archive's S3 clients.
const PARTITION: &str = "archive";

/// Where a run is uploaded: `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (without leading or trailing slashes; may be empty).
    pub prefix: String,
}

impl std::str::FromStr for UploadTarget {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let rest = value
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{value:?} is not an s3://bucket/prefix location"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{value:?} names no bucket"));
        }
        if bucket.len() > 255
            || !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(format!("{bucket:?} is not a bucket name"));
        }
        Ok(UploadTarget {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }
}

impl UploadTarget {
    /// The key prefix of a run's objects: `<prefix>/<run id>/`, or `<run id>/` without a prefix.
    pub fn run_prefix(&self, run_id: &str) -> String {
        if self.prefix.is_empty() {
            format!("{run_id}/")
        } else {
            format!("{}/{run_id}/", self.prefix)
        }
    }
}

/// How objects are uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// SSE-KMS key, when not the bucket's default.
    pub kms_key: Option<String>,
    /// Object Lock retention in days (compliance mode).
    pub retain_days: Option<u32>,
}

/// What was uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReceipt {
    /// `s3://bucket/prefix/<run id>/`.
    pub location: String,
    /// Objects uploaded and verified.
    pub objects: usize,
}

/// One file of the run, as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RunFile {
    /// The file name, also the last part of its key.
    name: String,
    /// Lower-case hex SHA-256.
    sha256_hex: String,
    /// Base64 SHA-256, as S3 states checksums.
    sha256_base64: String,
    /// Size in bytes.
    size: u64,
}

/// The archive's bucket, its S3 client and what each object gets.
struct Archive<'a> {
    env: &'a AwsEnvironment,
    client: aws_sdk_s3::Client,
    bucket: &'a str,
    run_dir: &'a Path,
    key_prefix: String,
    options: &'a UploadOptions,
    retain_until: Option<DateTime>,
}

/// Uploads every file of `run_dir` under `target/<run id>/` and verifies each against `SHA256SUMS`.
pub async fn upload_run(
    env: &AwsEnvironment,
    run_dir: &Path,
    target: &UploadTarget,
    options: &UploadOptions,
) -> Result<UploadReceipt, String> {
    upload(env, run_dir, target, options, Files::All).await
}

/// Uploads a run's record again after [`upload_run`] succeeded and the record changed (a
/// notification that failed after the upload): `run.json`, then `SHA256SUMS`, each verified, so
/// that the archive says what the process exited with. Every other file is checked against the
/// new manifest locally, unchanged, and not sent again. Under Object Lock the first versions stay,
/// retained as the new ones are.
pub async fn upload_record(
    env: &AwsEnvironment,
    run_dir: &Path,
    target: &UploadTarget,
    options: &UploadOptions,
) -> Result<UploadReceipt, String> {
    upload(env, run_dir, target, options, Files::Record).await
}

/// Which files of a run an upload sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Files {
    /// Every file.
    All,
    /// `run.json` and the manifest.
    Record,
}

impl Files {
    fn includes(self, file: &RunFile) -> bool {
        match self {
            Files::All => true,
            Files::Record => file.name == crate::report::metadata::FILE_NAME,
        }
    }
}

async fn upload(
    env: &AwsEnvironment,
    run_dir: &Path,
    target: &UploadTarget,
    options: &UploadOptions,
    which: Files,
) -> Result<UploadReceipt, String> {
    // The run id is the directory's own name, also when reached through the `latest` link.
    let run_dir =
        &std::fs::canonicalize(run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let run_id = run_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| format!("{}: not a run directory", run_dir.display()))?;
    let key_prefix = target.run_prefix(run_id);
    let location = format!("s3://{}/{key_prefix}", target.bucket);

    let dir = run_dir.to_owned();
    let files = tokio::task::spawn_blocking(move || verify_local(&dir))
        .await
        .map_err(|e| format!("verifying the local run failed: {e}"))??;

    let region = bucket_region(env, &target.bucket).await?;
    let retain_until = options.retain_days.map(|days| {
        DateTime::from_secs((chrono::Utc::now() + chrono::TimeDelta::days(days.into())).timestamp())
    });
    let archive = Archive {
        env,
        client: env.s3(env.caller(), PARTITION, &region),
        bucket: &target.bucket,
        run_dir,
        key_prefix,
        options,
        retain_until,
    };
    if options.retain_days.is_some() {
        archive.require_object_lock().await?;
    }

    // The files sent, a few at a time; the manifest last, once they are all there.
    let (manifest_file, others): (Vec<&RunFile>, Vec<&RunFile>) = files
        .iter()
        .filter(|file| file.name == manifest::FILE_NAME || which.includes(file))
        .partition(|f| f.name == manifest::FILE_NAME);
    let sent: Vec<&RunFile> = others.iter().chain(&manifest_file).copied().collect();
    info!(bucket = %target.bucket, %region, objects = sent.len(), "uploading the run to {location}");
    first_error(
        stream::iter(others)
            .map(|file| archive.put(file))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await,
    )?;
    for file in manifest_file {
        archive.put(file).await?;
    }

    first_error(
        stream::iter(&sent)
            .map(|file| archive.verify(file))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await,
    )?;
    info!(objects = sent.len(), "uploaded and verified {location}");
    Ok(UploadReceipt {
        location,
        objects: sent.len(),
    })
}

/// The first error (by message, so that the report is stable) and how many others there were.
fn first_error(results: Vec<Result<(), String>>) -> Result<(), String> {
    let mut errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    errors.sort();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.swap_remove(0)),
        n => Err(format!("{} (and {} more)", errors[0], n - 1)),
    }
}

/// Checks every file of the run directory against its `SHA256SUMS`: each listed file exists
/// and matches, and every file there is listed. Returns the files, the manifest last.
fn verify_local(run_dir: &Path) -> Result<Vec<RunFile>, String> {
    let manifest_path = run_dir.join(manifest::FILE_NAME);
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        format!(
            "{}: {e}; a run without its manifest is not archived",
            manifest_path.display()
        )
    })?;
    let listed = parse_manifest(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let present = run_files(run_dir)?;
    for name in &present {
        if name != manifest::FILE_NAME && !listed.contains_key(name) {
            return Err(format!(
                "{}: {name} is not listed in {}; the run is not archived",
                run_dir.display(),
                manifest::FILE_NAME
            ));
        }
    }
    let mut files = Vec::with_capacity(listed.len() + 1);
    for (name, expected) in &listed {
        let path = run_dir.join(name);
        if !present.contains(name) {
            return Err(format!(
                "{}: listed in {} but missing; the run is not archived",
                path.display(),
                manifest::FILE_NAME
            ));
        }
        let (hex, size) = hash_file(&path)?;
        if &hex != expected {
            return Err(format!(
                "{}: SHA-256 {hex} differs from {} ({expected}); the run was modified and is not archived",
                path.display(),
                manifest::FILE_NAME
            ));
        }
        files.push(run_file(name.clone(), hex, size));
    }
    let (hex, size) = hash_file(&manifest_path)?;
    files.push(run_file(manifest::FILE_NAME.to_owned(), hex, size));
    Ok(files)
}

/// `name → hex SHA-256` from `sha256sum` output (text or binary mode lines).
fn parse_manifest(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut listed = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = line.split_once(' ').and_then(|(hex, rest)| {
            let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
            let valid = hex.len() == 64
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && is_run_file_name(name);
            valid.then(|| (name.to_owned(), hex.to_ascii_lowercase()))
        });
        let (name, hex) = parsed.ok_or_else(|| format!("line {}: not a checksum line", n + 1))?;
        if listed.insert(name.clone(), hex).is_some() {
            return Err(format!("{name} is listed twice"));
        }
    }
    Ok(listed)
}

/// A name the manifest may list: a file of the run directory, or an HTML page under `accounts/`
/// or `ous/` (never a dot-file, never a path that leaves the directory).
fn is_run_file_name(name: &str) -> bool {
    let file = match name.split_once('/') {
        Some((dir, file)) if run_dir::PAGE_DIRS.contains(&dir) => file,
        Some(_) => return false,
        None => name,
    };
    !file.is_empty() && !file.contains('/') && !file.starts_with('.')
}

/// The regular files of a run directory that are uploaded, the account and OU pages included:
/// no dot-files (temporaries).
fn run_files(run_dir: &Path) -> Result<Vec<String>, String> {
    let mut names = files_in(run_dir, "")?;
    for name in run_dir::PAGE_DIRS {
        let pages = run_dir.join(name);
        if pages.is_dir() {
            names.extend(files_in(&pages, name)?);
        }
    }
    names.sort();
    Ok(names)
}

/// The regular files of `dir` but dot-files, as `prefix/name` (or `name` without a prefix).
fn files_in(run_dir: &Path, prefix: &str) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", run_dir.display()))?;
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|name| format!("{}: file name {name:?} is not UTF-8", run_dir.display()))?;
        if !name.starts_with('.') {
            names.push(match prefix {
                "" => name,
                prefix => format!("{prefix}/{name}"),
            });
        }
    }
    Ok(names)
}

fn hash_file(path: &Path) -> Result<(String, u64), String> {
    let hex = manifest::sha256_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    Ok((hex, size))
}

fn run_file(name: String, sha256_hex: String, size: u64) -> RunFile {
    let sha256_base64 = aws_smithy_types::base64::encode(hex_bytes(&sha256_hex));
    RunFile {
        name,
        sha256_hex,
        sha256_base64,
        size,
    }
}

/// Bytes of a lower-case hex string (validated by the caller).
fn hex_bytes(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            digit(pair[0]) << 4 | digit(pair.get(1).copied().unwrap_or(b'0'))
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Content types, so that a browser or console shows the reports properly.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        Some("jsonl") => "application/x-ndjson",
        Some("sarif") => "application/sarif+json",
        _ => "text/plain; charset=utf-8",
    }
}

/// The bucket's Region, from GetBucketLocation with the caller's credentials.
async fn bucket_region(env: &AwsEnvironment, bucket: &str) -> Result<String, String> {
    let client = env.s3(env.caller(), PARTITION, env.home_region());
    let output = env
        .limited(client.get_bucket_location().bucket(bucket).send())
        .await
        .map_err(|e| {
            failure(
                &format!("s3://{bucket}"),
                "GetBucketLocation",
                &classify(&e),
            )
        })?;
    let constraint = output
        .location_constraint()
        .map(|c| c.as_str())
        .unwrap_or_default();
    Ok(match constraint {
        "" => "us-east-1".to_owned(),
        "EU" => "eu-west-1".to_owned(),
        region => region.to_owned(),
    })
}

/// A readable reason: where, which call, and what AWS said.
fn failure(location: &str, operation: &str, error: &ApiError) -> String {
    format!("{location}: {operation} failed: {error}")
}

fn no_object_lock(bucket: &str, detail: &str) -> String {
    format!(
        "s3://{bucket}: the bucket has no Object Lock, so --upload-retain-days cannot be applied \
         (Object Lock is enabled when a bucket is created; {detail})"
    )
}

impl Archive<'_> {
    fn key(&self, file: &RunFile) -> String {
        format!("{}{}", self.key_prefix, file.name)
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Retention needs a bucket with Object Lock: say so before uploading anything.
    async fn require_object_lock(&self) -> Result<(), String> {
        let answer = self
            .env
            .limited(
                self.client
                    .get_object_lock_configuration()
                    .bucket(self.bucket)
                    .send(),
            )
            .await;
        match answer {
            Ok(output) => {
                let enabled = output
                    .object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled());
                if enabled == Some(&ObjectLockEnabled::Enabled) {
                    Ok(())
                } else {
                    Err(no_object_lock(
                        self.bucket,
                        "ObjectLockEnabled is not Enabled",
                    ))
                }
            }
            Err(error) => {
                let error = classify(&error);
                if error.code.as_deref() == Some("ObjectLockConfigurationNotFoundError") {
                    Err(no_object_lock(self.bucket, &error.to_string()))
                } else if error.kind == ErrorKind::AccessDenied {
                    // Not allowed to read it: PutObject will tell.
                    warn!(bucket = %self.bucket, %error, "cannot read the bucket's Object Lock configuration");
                    Ok(())
                } else {
                    Err(failure(
                        &format!("s3://{}", self.bucket),
                        "GetObjectLockConfiguration",
                        &error,
                    ))
                }
            }
        }
    }

    /// Puts one file, with its SHA-256 as the object's checksum.
    async fn put(&self, file: &RunFile) -> Result<(), String> {
        let key = self.key(file);
        let path: PathBuf = self.run_dir.join(&file.name);
        let read_path = path.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(&read_path))
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // The bytes sent are the bytes verified: a file changed since the check is not uploaded.
        let hex = sha256_hex(&bytes);
        if hex != file.sha256_hex {
            return Err(format!(
                "{}: changed while being archived (SHA-256 {hex}, {} says {})",
                path.display(),
                manifest::FILE_NAME,
                file.sha256_hex
            ));
        }
        let mut request = self
            .client
            .put_object()
            .bucket(self.bucket)
            .key(&key)
            .content_type(content_type(&file.name))
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(&file.sha256_base64)
            .body(ByteStream::from(bytes));
        if let Some(kms_key) = &self.options.kms_key {
            request = request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms_key);
        }
        if let Some(until) = self.retain_until {
            request = request
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(until);
        }
        debug!(%key, bytes = file.size, "PutObject");
        self.env.limited(request.send()).await.map_err(|error| {
            let error = classify(&error);
            let lock_refused = error.code.as_deref() == Some("InvalidRequest")
                && error
                    .message
                    .to_ascii_lowercase()
                    .replace(' ', "")
                    .contains("objectlock");
            if self.retain_until.is_some() && lock_refused {
                no_object_lock(self.bucket, &format!("PutObject {key}: {error}"))
            } else {
                failure(&self.location(&key), "PutObject", &error)
            }
        })?;
        Ok(())
    }

    /// Compares one stored object with the manifest: its size, its checksum (or its bytes when S3
    /// keeps no checksum), its encryption and its retention.
    async fn verify(&self, file: &RunFile) -> Result<(), String> {
        let key = self.key(file);
        let location = self.location(&key);
        let head = self
            .env
            .limited(
                self.client
                    .head_object()
                    .bucket(self.bucket)
                    .key(&key)
                    .checksum_mode(ChecksumMode::Enabled)
                    .send(),
            )
            .await
            .map_err(|error| {
                let error = classify(&error);
                if error.kind == ErrorKind::NotFound || error.http_status == Some(404) {
                    format!("{location}: missing after upload ({error})")
                } else {
                    failure(&location, "HeadObject", &error)
                }
            })?;
        let mismatch = |what: &str| {
            format!(
                "{location}: {what} does not match {} ({})",
                manifest::FILE_NAME,
                file.sha256_hex
            )
        };
        if let Some(length) = head.content_length()
            && u64::try_from(length).ok() != Some(file.size)
        {
            return Err(mismatch(&format!(
                "stored size {length} (local {})",
                file.size
            )));
        }
        match head.checksum_sha256() {
            Some(stored) => {
                if stored != file.sha256_base64 {
                    return Err(mismatch(&format!("stored SHA-256 checksum {stored}")));
                }
            }
            None => {
                let object = self
                    .env
                    .limited(
                        self.client
                            .get_object()
                            .bucket(self.bucket)
                            .key(&key)
                            .send(),
                    )
                    .await
                    .map_err(|error| failure(&location, "GetObject", &classify(&error)))?;
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("{location}: reading the object failed: {e}"))?
                    .into_bytes();
                let hex = sha256_hex(&bytes);
                if hex != file.sha256_hex {
                    return Err(mismatch(&format!("stored content (SHA-256 {hex})")));
                }
            }
        }
        if let Some(kms_key) = &self.options.kms_key {
            let sse = head.server_side_encryption();
            if sse != Some(&ServerSideEncryption::AwsKms) {
                return Err(format!(
                    "{location}: stored with encryption {} instead of aws:kms",
                    sse.map(|s| s.as_str()).unwrap_or("(none)")
                ));
            }
            // S3 answers with the key's ARN: comparable only when an ARN was given.
            if kms_key.starts_with("arn:")
                && kms_key.contains(":key/")
                && let Some(stored) = head.ssekms_key_id()
                && stored != kms_key
            {
                return Err(format!(
                    "{location}: encrypted with KMS key {stored} instead of {kms_key}"
                ));
            }
        }
        // HeadObject states retention only to a caller allowed s3:GetObjectRetention.
        if let Some(requested) = self.retain_until {
            if let Some(mode) = head.object_lock_mode()
                && mode != &ObjectLockMode::Compliance
            {
                return Err(format!(
                    "{location}: Object Lock mode {} instead of COMPLIANCE",
                    mode.as_str()
                ));
            }
            if let Some(until) = head.object_lock_retain_until_date()
                && until.secs() < requested.secs()
            {
                return Err(format!(
                    "{location}: retained until {until} instead of {requested}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn targets_and_run_prefixes() {
        let target: UploadTarget = "s3://b/p/q/".parse().expect("target");
        assert_eq!(target.run_prefix("r"), "p/q/r/");
        let target: UploadTarget = "s3://b".parse().expect("target");
        assert_eq!(target.run_prefix("r"), "r/");
        assert!("s3://bad bucket/x".parse::<UploadTarget>().is_err());
    }

    #[test]
    fn manifest_lines() {
        let listed = parse_manifest(&format!("{A}  a.csv\n{A} *b.json\n")).expect("manifest");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed["b.json"], A);
        assert!(parse_manifest("xyz  a.csv\n").is_err());
        assert!(parse_manifest(&format!("{A}  ../etc/passwd\n")).is_err());
        assert!(parse_manifest(&format!("{A}  a\n{A}  a\n")).is_err());
    }

    #[test]
    fn base64_of_the_empty_digest() {
        let file = run_file("x".into(), A.into(), 0);
        assert_eq!(
            file.sha256_base64,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn local_tampering_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("a.csv"), "a").expect("write");
        std::fs::write(dir.path().join(".a.csv.tmp-1"), "temp").expect("write");
        manifest::write(dir.path()).expect("manifest");
        let files = verify_local(dir.path()).expect("sound run");
        assert_eq!(
            files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["a.csv", "SHA256SUMS"]
        );
        std::fs::write(dir.path().join("a.csv"), "b").expect("write");
        let error = verify_local(dir.path()).expect_err("tampered");
        assert!(
            error.contains("a.csv") && error.contains("modified"),
            "{error}"
        );
        std::fs::write(dir.path().join("a.csv"), "a").expect("write");
        std::fs::write(dir.path().join("extra.txt"), "x").expect("write");
        let error = verify_local(dir.path()).expect_err("unlisted");
        assert!(error.contains("extra.txt"), "{error}");
        std::fs::remove_file(dir.path().join("extra.txt")).expect("remove");
        std::fs::remove_file(dir.path().join("a.csv")).expect("remove");
        let error = verify_local(dir.path()).expect_err("missing");
        assert!(error.contains("missing"), "{error}");
    }
}
