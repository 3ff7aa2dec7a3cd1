//! `findings.ocsf.jsonl`: one OCSF 1.1 Compliance Finding (class 2003) per finding, with the
//! cloud profile, for SIEMs and the OCSF-native Security Hub.

use std::path::Path;

use serde_json::{Value, json};

use super::sarif::fingerprint;
use super::{ReportInput, write_atomically};
use crate::error::Result;
use crate::findings::{Finding, Severity, Status};
use crate::rules;

/// The file name of the OCSF report in a run directory.
pub const FILE_NAME: &str = "findings.ocsf.jsonl";

/// The OCSF schema version written.
pub const OCSF_VERSION: &str = "1.1.0";

const CLASS_UID: u32 = 2003;
const CATEGORY_UID: u32 = 2;
const ACTIVITY_CREATE: u32 = 1;

/// Writes `dir/findings.ocsf.jsonl`.
pub fn write(dir: &Path, input: &ReportInput<'_>) -> Result<()> {
    let time = input
        .metadata
        .ended_at
        .unwrap_or(input.metadata.started_at)
        .timestamp_millis();
    write_atomically(&dir.join(FILE_NAME), |out| {
        input.findings.try_for_each(|finding| {
            serde_json::to_writer(&mut *out, &event(finding, time, input))?;
            out.write_all(b"\n")
        })
    })
}

fn event(finding: &Finding, time: i64, input: &ReportInput<'_>) -> Value {
    let rule = rules::rule(&finding.rule_id);
    let (status_id, status) = match finding.status {
        Status::Pass => (1, "Pass"),
        Status::Warn => (2, "Warning"),
        Status::Fail => (3, "Fail"),
        Status::Error => (0, "Unknown"),
        Status::NotApplicable | Status::Skipped => (99, finding.status.as_str()),
    };
    let mut standards = vec!["macie-audit".to_owned()];
    if let Some(conformity) = rule.and_then(|r| r.conformity_rule) {
        standards.push(format!("Trend Micro Conformity {conformity}"));
    }
    json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "severity_id": severity_id(finding.severity),
        "severity": capitalised(finding.severity.as_str()),
        "status_id": 1,
        "status": "New",
        "time": time,
        "message": finding.message,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            "product": {
                "name": "macie-audit",
                "vendor_name": "macie-audit",
                "version": input.metadata.tool.version,
            },
            "correlation_uid": input.metadata.run_id,
        },
        "finding_info": {
            "uid": fingerprint(finding),
            "title": rule.map(|r| r.title).unwrap_or(&finding.rule_id),
            "desc": finding.message,
            "types": [finding.rule_id],
        },
        "compliance": {
            "control": finding.rule_id,
            "standards": standards,
            "status_id": status_id,
            "status": status,
            "status_detail": finding.message,
        },
        "remediation": {"desc": finding.remediation},
        "cloud": {
            "provider": "AWS",
            "region": finding.region,
            "account": {"uid": finding.account_id, "name": finding.account_name, "type": "AWS Account", "type_id": 10},
            "org": organization(input, finding),
        },
        "resources": [{
            "uid": finding.resource,
            "type": resource_type(&finding.resource),
            "region": finding.region,
            "cloud_partition": "aws",
        }],
        "unmapped": {
            "macie_audit_status": finding.status,
            "ou_path": finding.ou_path,
            "baseline_state": finding.baseline.map(|b| b.as_str()),
            "suppression": finding.suppression,
            "partial_scope": input.metadata.scope.partial,
            "scope": input.metadata.scope.description,
            "evidence_modified": input.metadata.evidence_integrity.is_modified(),
            // What the evidence lacks, on the findings of evidence that is not known to be what
            // was delivered (each line of the file may be read alone).
            "evidence_integrity": (!input.metadata.evidence_integrity.is_trusted())
                .then(|| input.metadata.evidence_integrity.describe()),
        },
    })
}

/// OCSF's Organization object: the organization's id, and the OU the account sits in directly
/// (the last id of its OU path, the root's for an account directly under it).
fn organization(input: &ReportInput<'_>, finding: &Finding) -> Value {
    let parent = finding
        .ou_path
        .as_deref()
        .and_then(|path| path.trim_end_matches('/').rsplit('/').next());
    json!({
        "uid": input.metadata.organization.id,
        "ou_uid": parent,
    })
}

fn severity_id(severity: Severity) -> u32 {
    match severity {
        Severity::Informational => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn resource_type(resource: &str) -> &'static str {
    if resource.starts_with("arn:aws:s3:::") {
        "AWS::S3::Bucket"
    } else if resource.starts_with("arn:aws:kms:") {
        "AWS::KMS::Key"
    } else {
        "AWS::Macie::Session"
    }
}
