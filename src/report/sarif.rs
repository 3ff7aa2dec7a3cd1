//! `findings.sarif`: SARIF 2.1.0 for code-scanning tools (GitHub code scanning among them).
//!
//! Cloud resources have no source file: each result gets a stable relative pseudo-path
//! (`aws/<account>/<region>/<service>`, line 1) as its physical location, the resource ARN as a
//! logical location, and a fingerprint of its identity so alerts do not duplicate across runs.

use std::path::Path;

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::{ReportInput, write_atomically};
use crate::config::hex_sha256;
use crate::error::Result;
use crate::findings::{Finding, Severity, Status};
use crate::rules::{CATALOGUE, Rule};
use crate::triage::baseline::BaselineState;

/// The file name of the SARIF report in a run directory.
pub const FILE_NAME: &str = "findings.sarif";

/// The SARIF schema this report conforms to.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of the fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "macieAuditFindingIdentity/v1";

/// Where the results go in the compact serialisation of [`skeleton`] with `null` results: a JSON
/// string never holds an unescaped `"`, so this text occurs only as the key itself.
const RESULTS_SLOT: &str = "\"results\":null";

/// Writes `dir/findings.sarif`: the SARIF log of the run, its results (FAIL, WARN and ERROR
/// findings) streamed one at a time into the log's `results` slot.
pub fn write(dir: &Path, input: &ReportInput<'_>) -> Result<()> {
    let skeleton = serde_json::to_string(&skeleton(input, Value::Null))
        .map_err(|e| crate::error::Error::output(dir.join(FILE_NAME), std::io::Error::other(e)))?;
    let (before, after) = skeleton
        .split_once(RESULTS_SLOT)
        .unwrap_or((skeleton.as_str(), ""));
    let with_baseline = input.metadata.triage.baseline.is_some();
    write_atomically(&dir.join(FILE_NAME), |out| {
        out.write_all(before.as_bytes())?;
        out.write_all(b"\"results\":[")?;
        let mut first = true;
        input.findings.try_for_each(|finding| {
            if !matches!(finding.status, Status::Fail | Status::Warn | Status::Error) {
                return Ok(());
            }
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &result(finding, with_baseline))?;
            Ok(())
        })?;
        out.write_all(b"]")?;
        out.write_all(after.as_bytes())?;
        out.write_all(b"\n")
    })
}

/// The SARIF log of a run with `results` as its results.
fn skeleton(input: &ReportInput<'_>, results: Value) -> Value {
    let metadata = input.metadata;
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let notifications: Vec<Value> = metadata
        .accounts
        .iter()
        .filter(|account| account.outcome != "evaluated")
        .map(|account| {
            json!({
                "level": if account.outcome == "error" { "error" } else { "note" },
                "descriptor": {"id": if account.outcome == "error" { "account-not-evaluated" } else { "account-skipped" }},
                "message": {"text": format!(
                    "Account {} ({}) was {}: {}",
                    account.id,
                    account.name,
                    if account.outcome == "error" { "not fully evaluated" } else { "skipped" },
                    account.reason.as_deref().unwrap_or("no reason recorded")
                )},
            })
        })
        .collect();
    let mut invocation = json!({
        "executionSuccessful": metadata.complete,
        "startTimeUtc": time(metadata.started_at),
        "toolExecutionNotifications": notifications,
    });
    if let Some(ended) = metadata.ended_at {
        invocation["endTimeUtc"] = json!(time(ended));
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "macie-audit",
                "version": metadata.tool.version,
                "semanticVersion": metadata.tool.version,
                "informationUri": "https://github.com/macie-audit/macie-audit",
                "rules": CATALOGUE.iter().map(rule).collect::<Vec<_>>(),
            }},
            "automationDetails": {"id": format!("macie-audit/{}", metadata.run_id)},
            "invocations": [invocation],
            "results": results,
            "properties": {
                "complete": metadata.complete,
                "regions": metadata.regions,
                "partialScope": metadata.scope.partial,
                "scope": metadata.scope,
                "evidenceModified": metadata.evidence_integrity.is_modified(),
                "evidenceIntegrity": metadata.evidence_integrity,
                "provenance": metadata.provenance,
            },
        }],
    })
}

fn rule(rule: &Rule) -> Value {
    let help = format!("{}\n\nRemediation: {}", rule.rationale, rule.remediation);
    let mut tags = vec!["security", "aws", "macie"];
    if rule.conformity_rule.is_some() {
        tags.push("conformity");
    }
    json!({
        "id": rule.id,
        "name": rule.id.replace('-', ""),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": help, "markdown": format!("**{}**\n\n{}\n\n**Remediation:** {}", rule.title, rule.rationale, rule.remediation)},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {
            "security-severity": security_severity(rule.severity),
            "problem.severity": level(rule.severity),
            "precision": "very-high",
            "tags": tags,
            "conformity-rule": rule.conformity_rule,
        },
    })
}

fn result(finding: &Finding, with_baseline: bool) -> Value {
    let service = if finding.resource.starts_with("arn:aws:s3:::") {
        "s3"
    } else if finding.resource.starts_with("arn:aws:kms:") {
        "kms"
    } else {
        "macie2"
    };
    let (kind, level) = match finding.status {
        Status::Fail => ("fail", level(finding.severity)),
        Status::Warn => ("fail", "note"),
        _ => ("open", "none"),
    };
    let mut text = format!("[{}] {}", finding.status, finding.message);
    if !finding.remediation.is_empty() {
        text.push_str(&format!("\n\nRemediation:\n{}", finding.remediation));
    }
    let mut result = json!({
        "ruleId": finding.rule_id,
        "kind": kind,
        "level": level,
        "message": {"text": text},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": format!("aws/{}/{}/{service}", finding.account_id, finding.region)},
                "region": {"startLine": 1},
            },
            "logicalLocations": [{"kind": "resource", "fullyQualifiedName": finding.resource}],
        }],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding)},
        "properties": {
            "status": finding.status,
            "severity": finding.severity,
            "accountId": finding.account_id,
            "accountName": finding.account_name,
            "ouPath": finding.ou_path,
            "region": finding.region,
            "resource": finding.resource,
        },
    });
    if with_baseline && let Some(state) = finding.baseline {
        result["baselineState"] = json!(sarif_baseline_state(state));
        result["properties"]["baselineState"] = json!(state.as_str());
    }
    if let Some(suppression) = &finding.suppression {
        result["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": suppression.justification,
            "properties": {"owner": suppression.owner, "expires": suppression.expires.to_string(), "entry": suppression.entry},
        }]);
    }
    result
}

/// SARIF's baseline state (new, unchanged, updated or absent) nearest to ours; the result's
/// properties carry ours exactly. A failure the baseline could not see (PREVIOUSLY_UNCHECKED) and
/// a failure not checked this time (NOT_RECHECKED) are results present in both runs that changed:
/// `updated`, never `new` (it would raise an alert) nor `absent` (it would close one).
fn sarif_baseline_state(state: BaselineState) -> &'static str {
    match state {
        BaselineState::New => "new",
        BaselineState::Unchanged => "unchanged",
        BaselineState::NotRechecked | BaselineState::PreviouslyUnchecked => "updated",
        BaselineState::Resolved => "absent",
    }
}

/// A stable hash of a finding's identity (rule, account, Region, resource).
pub fn fingerprint(finding: &Finding) -> String {
    let (rule, account, region, resource) = finding.identity();
    hex_sha256(format!("{rule}|{account}|{region}|{resource}").as_bytes())
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

/// GitHub's scale: ≥ 9 critical, 7–8.9 high, 4–6.9 medium, < 4 low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "1.0",
    }
}
