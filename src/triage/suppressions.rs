//! Suppressions: exceptions auditors can read. A TOML file of entries, each matching rule /
//! account / Region / resource and each with a mandatory justification, owner and expiry date.
//! A suppressed finding keeps its status and is marked in every report; it does not fail the run.
//! An expired or malformed entry is a loud warning and suppresses nothing; unused entries are reported.
//!
//! ```toml
//! [[suppression]]
//! rule = "MACIE-005"                 # optional; each matcher may use * wildcards
//! account = "111111111111"           # optional
//! region = "eu-west-1"               # optional
//! resource = "arn:aws:s3:::legacy-*" # optional (at least one matcher is required)
//! justification = "Legacy bucket, migrating in Q1 (JIRA SEC-123)"
//! owner = "security@example.com"
//! expires = 2027-03-31
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::config::hex_sha256;
use crate::error::{Error, Result};
use crate::findings::{AppliedSuppression, Finding, Status};

/// One well-formed entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: Option<String>,
    account: Option<String>,
    region: Option<String>,
    resource: Option<String>,
    justification: String,
    owner: String,
    /// A TOML date (`2027-03-31`) or the same as a string.
    expires: String,
}

/// A loaded suppression file: its usable entries and the problems of the others.
#[derive(Debug, Clone)]
pub struct SuppressionFile {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its bytes.
    pub sha256: String,
    entries: Vec<(usize, Result<Matcher, String>)>,
}

#[derive(Debug, Clone)]
struct Matcher {
    entry: Entry,
    expires: NaiveDate,
}

/// What suppression did in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SuppressionReport {
    /// The file.
    pub path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Findings suppressed.
    pub suppressed: usize,
    /// Entries past their expiry date (not applied).
    pub expired: Vec<String>,
    /// Entries that are malformed (not applied).
    pub malformed: Vec<String>,
    /// Valid entries that matched no failing finding.
    pub unused: Vec<String>,
}

impl SuppressionFile {
    /// Reads a suppression file. An unreadable file or invalid TOML is an error; a malformed entry
    /// is kept as a problem to report.
    pub fn load(path: &Path) -> Result<SuppressionFile> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::config(path, format!("cannot read the suppressions: {e}")))?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| Error::config(path, "the suppressions are not UTF-8 text"))?;
        let mut file =
            SuppressionFile::parse(&text).map_err(|message| Error::config(path, message))?;
        file.path = path.to_path_buf();
        file.sha256 = hex_sha256(&bytes);
        Ok(file)
    }

    /// Parses suppression TOML text.
    pub fn parse(text: &str) -> std::result::Result<SuppressionFile, String> {
        let document: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        for key in document.keys() {
            if key != "suppression" {
                return Err(format!(
                    "unknown key `{key}`: entries are [[suppression]] tables"
                ));
            }
        }
        let entries = match document.get("suppression") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| (index + 1, matcher(item.clone())))
                .collect(),
            Some(_) => {
                return Err("`suppression` must be an array of tables ([[suppression]])".into());
            }
        };
        Ok(SuppressionFile {
            path: PathBuf::new(),
            sha256: hex_sha256(text.as_bytes()),
            entries,
        })
    }
}

fn matcher(item: toml::Value) -> std::result::Result<Matcher, String> {
    let entry: Entry = item
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
    if entry.justification.trim().is_empty() {
        return Err("justification is empty".into());
    }
    if entry.owner.trim().is_empty() {
        return Err("owner is empty".into());
    }
    if [&entry.rule, &entry.account, &entry.region, &entry.resource]
        .iter()
        .all(|m| m.is_none())
    {
        return Err(
            "matches everything: give at least one of rule, account, region, resource".into(),
        );
    }
    let expires = NaiveDate::parse_from_str(&entry.expires, "%Y-%m-%d")
        .map_err(|_| format!("expires {:?} is not a date (YYYY-MM-DD)", entry.expires))?;
    Ok(Matcher { entry, expires })
}

impl Matcher {
    fn matches(&self, finding: &Finding) -> bool {
        let field = |pattern: &Option<String>, value: &str| {
            pattern.as_deref().is_none_or(|p| wildcard(p, value))
        };
        field(&self.entry.rule, &finding.rule_id)
            && field(&self.entry.account, &finding.account_id)
            && field(&self.entry.region, &finding.region)
            && field(&self.entry.resource, &finding.resource)
    }

    fn describe(&self, index: usize) -> String {
        let e = &self.entry;
        let part =
            |name: &str, value: &Option<String>| value.as_ref().map(|v| format!("{name}={v}"));
        let matchers: Vec<String> = [
            part("rule", &e.rule),
            part("account", &e.account),
            part("region", &e.region),
            part("resource", &e.resource),
        ]
        .into_iter()
        .flatten()
        .collect();
        format!(
            "entry {index} ({}; owner {}, expires {})",
            matchers.join(", "),
            e.owner,
            self.expires
        )
    }
}

/// `*` matches any run of characters; everything else literally.
fn wildcard(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// The entries of a suppression file that apply on a run's date: valid and not expired.
#[derive(Debug, Clone)]
pub struct ActiveSuppressions<'a> {
    file: &'a SuppressionFile,
    today: NaiveDate,
    active: Vec<(usize, &'a Matcher)>,
}

/// What marking a run's findings used of the suppressions, counted as the findings go by.
#[derive(Debug, Clone, Default)]
pub struct SuppressionTally {
    suppressed: usize,
    used: BTreeSet<usize>,
}

impl SuppressionTally {
    /// Counts a marked finding.
    pub fn add(&mut self, finding: &Finding) {
        if let Some(suppression) = &finding.suppression {
            self.suppressed += 1;
            self.used.insert(suppression.entry);
        }
    }
}

impl<'a> ActiveSuppressions<'a> {
    /// The entries of `file` that apply on `today`.
    pub fn new(file: &'a SuppressionFile, today: NaiveDate) -> ActiveSuppressions<'a> {
        let active = file
            .entries
            .iter()
            .filter_map(|(index, entry)| match entry {
                Ok(matcher) if matcher.expires >= today => Some((*index, matcher)),
                _ => None,
            })
            .collect();
        ActiveSuppressions {
            file,
            today,
            active,
        }
    }

    /// Marks a failing finding that an entry matches (the first that does).
    pub fn mark(&self, finding: &mut Finding) {
        if !matches!(finding.status, Status::Fail | Status::Warn | Status::Error) {
            return;
        }
        if let Some((index, matcher)) = self.active.iter().find(|(_, m)| m.matches(finding)) {
            finding.suppression = Some(AppliedSuppression {
                entry: *index,
                justification: matcher.entry.justification.clone(),
                owner: matcher.entry.owner.clone(),
                expires: matcher.expires,
            });
        }
    }

    /// What suppression did in the run whose marked findings `tally` counted; expired,
    /// malformed and unused entries are logged as warnings.
    pub fn report(&self, tally: SuppressionTally) -> SuppressionReport {
        let file = self.file;
        let mut report = SuppressionReport {
            path: file.path.display().to_string(),
            sha256: file.sha256.clone(),
            suppressed: tally.suppressed,
            ..SuppressionReport::default()
        };
        for (index, entry) in &file.entries {
            match entry {
                Err(problem) => {
                    let message = format!("entry {index}: {problem}");
                    warn!(file = %file.path.display(), "malformed suppression, not applied: {message}");
                    report.malformed.push(message);
                }
                Ok(matcher) if matcher.expires < self.today => {
                    let message = matcher.describe(*index);
                    warn!(file = %file.path.display(), "expired suppression, not applied: {message}");
                    report.expired.push(message);
                }
                Ok(matcher) if !tally.used.contains(index) => {
                    let message = matcher.describe(*index);
                    warn!(file = %file.path.display(), "unused suppression: {message}");
                    report.unused.push(message);
                }
                Ok(_) => {}
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;

    /// Marks findings and reports, as a run does.
    fn apply(
        findings: &mut [Finding],
        file: &SuppressionFile,
        today: NaiveDate,
    ) -> SuppressionReport {
        let active = ActiveSuppressions::new(file, today);
        let mut tally = SuppressionTally::default();
        for finding in findings.iter_mut() {
            active.mark(finding);
            tally.add(finding);
        }
        active.report(tally)
    }

    fn finding(rule: &str, account: &str, status: Status) -> Finding {
        Finding {
            rule_id: rule.into(),
            account_id: account.into(),
            account_name: "a".into(),
            ou_path: None,
            region: "us-east-1".into(),
            status,
            severity: Severity::Low,
            resource: "arn:aws:s3:::legacy-results".into(),
            message: String::new(),
            remediation: String::new(),
            baseline: None,
            suppression: None,
        }
    }

    const TODAY: (i32, u32, u32) = (2026, 11, 29);

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap_or_default()
    }

    #[test]
    fn active_expired_malformed_and_unused() {
        // The entries as an array of inline tables, one a line (the same array as `[[suppression]]`
        // tables): active, expired, malformed (no justification) and unused.
        let file = SuppressionFile::parse(
            r#"suppression = [
  { rule = "MACIE-005", resource = "arn:aws:s3:::legacy-*", justification = "migrating", owner = "sec", expires = 2027-01-01 },
  { account = "222222222222", justification = "old", owner = "sec", expires = 2026-01-01 },
  { rule = "MACIE-004", owner = "sec", expires = 2027-01-01 },
  { account = "999999999999", justification = "nobody", owner = "sec", expires = 2027-01-01 },
]
"#,
        )
        .expect("parses");
        let mut findings = vec![
            finding("MACIE-005", "111111111111", Status::Fail),
            finding("MACIE-005", "222222222222", Status::Fail),
            finding("MACIE-004", "111111111111", Status::Fail),
            finding("MACIE-005", "333333333333", Status::Pass),
        ];
        let report = apply(&mut findings, &file, today());
        assert!(findings[0].suppression.is_some(), "{report:?}");
        assert!(
            findings[1].suppression.is_some(),
            "matched by the first entry"
        );
        assert!(
            findings[2].suppression.is_none(),
            "the malformed entry suppresses nothing"
        );
        assert!(
            findings[3].suppression.is_none(),
            "PASS is never suppressed"
        );
        assert_eq!(report.suppressed, 2);
        assert_eq!(report.expired.len(), 1);
        assert!(
            report.malformed[0].contains("justification"),
            "{:?}",
            report.malformed
        );
        assert_eq!(report.unused.len(), 1);
        assert!(report.unused[0].contains("999999999999"));
    }

    #[test]
    fn an_entry_matching_everything_is_refused() {
        let file = SuppressionFile::parse(
            "[[suppression]]\njustification = \"all\"\nowner = \"x\"\nexpires = 2099-01-01\n",
        )
        .expect("parses");
        let mut findings = vec![finding("MACIE-001", "1", Status::Fail)];
        let report = apply(&mut findings, &file, today());
        assert_eq!(report.malformed.len(), 1);
        assert!(findings[0].suppression.is_none());
    }

    #[test]
    fn invalid_toml_is_an_error() {
        assert!(SuppressionFile::parse("[[suppression]\n").is_err());
        assert!(SuppressionFile::parse("rule = 1\n").is_err());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(
            "arn:aws:s3:::legacy-*",
            "arn:aws:s3:::legacy-results"
        ));
        assert!(wildcard("*-results", "legacy-results"));
        assert!(wildcard("a*c*e", "abcde"));
        assert!(!wildcard("a*c", "abd"));
        assert!(wildcard("exact", "exact"));
    }
}
