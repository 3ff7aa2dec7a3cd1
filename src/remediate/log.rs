//! `remediation.jsonl`: every change an apply made or tried, with what was there before, what is
//! there after, and the request id of every call — written into the re-scan's run directory,
//! where `SHA256SUMS` covers it.
//!
//! One JSON object per line: a `remediation` record first, one `step` record per step of the plan
//! (made, already in place, failed, or not attempted and why), one `target` record per
//! account-Region of the plan with its outcome and its re-scanned statuses, and an `end` record.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::plan::Decision;
use crate::error::Result;
use crate::evidence::ApiError;
use crate::findings::Status;
use crate::remediate::Strategy;
use crate::run_dir::write_atomically;

/// The file name in a run directory.
pub const FILE_NAME: &str = "remediation.jsonl";

/// One line of `remediation.jsonl`.
// Records are made one at a time, to be written or read: boxing the step would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum LogRecord {
    /// Who remediated what, when, how.
    Remediation(LogHeader),
    /// One step.
    Step(StepRecord),
    /// One account-Region of the plan.
    Target(TargetRecord),
    /// Totals.
    End(LogEnd),
}

/// The first record.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LogHeader {
    /// The run (re-scan) the log belongs to.
    pub run_id: String,
    /// The tool's version.
    pub tool_version: String,
    /// When the apply started.
    pub started_at: DateTime<Utc>,
    /// Own or central.
    pub strategy: Strategy,
    /// Whether configurations naming another repository were repointed.
    pub force: bool,
    /// The command line, secrets removed.
    pub command_line: Vec<String>,
    /// The caller (sts:GetCallerIdentity ARN).
    pub caller: Option<String>,
    /// The role assumed in each account to make the changes.
    pub remediation_role_name: String,
    /// Steps in the plan.
    pub planned_steps: usize,
}

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// A write call was made and succeeded.
    Changed,
    /// Already in place: no write call was made.
    Unchanged,
    /// The step failed: its account stopped here.
    Failed,
    /// Not attempted (an earlier step of its account or of the shared repository failed, or the
    /// run was interrupted).
    NotAttempted,
}

impl StepStatus {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Changed => "changed",
            StepStatus::Unchanged => "unchanged",
            StepStatus::Failed => "FAILED",
            StepStatus::NotAttempted => "not attempted",
        }
    }
}

/// One AWS call made by a step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CallRecord {
    /// `service:Operation`.
    pub operation: String,
    /// AWS's request id.
    pub request_id: Option<String>,
    /// When it answered.
    pub at: DateTime<Utc>,
    /// The error, when it failed (an expected "not found" included).
    pub error: Option<ApiError>,
}

/// One step of the plan and what became of it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StepRecord {
    /// The step's number in the plan.
    pub step: usize,
    /// The account it acts in.
    pub account_id: String,
    /// The Region.
    pub region: String,
    /// The write operation, e.g. `kms:CreateKey`.
    pub operation: String,
    /// The resource changed.
    pub resource: String,
    /// The role it was made with (`None`: the caller's own credentials).
    pub role_arn: Option<String>,
    /// What became of it.
    pub status: StepStatus,
    /// Why, for people.
    pub message: String,
    /// The state before (`null`: none, or not known).
    pub before: Option<Value>,
    /// The state after.
    pub after: Option<Value>,
    /// Every call it made, reads included, with request ids.
    pub calls: Vec<CallRecord>,
    /// The error that failed it.
    pub error: Option<ApiError>,
    /// When it finished.
    pub at: DateTime<Utc>,
}

/// An account-Region of the plan and its outcome.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TargetRecord {
    /// The account.
    pub account_id: String,
    /// The Region.
    pub region: String,
    /// The plan's decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// `applied`, `failed`, `not_attempted`, `refused` or `blocked`.
    pub outcome: TargetOutcome,
    /// MACIE-002/003/004 statuses in the re-scan.
    pub rescan: BTreeMap<String, Status>,
}

/// What became of an account-Region of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetOutcome {
    /// Every step it needed succeeded.
    Applied,
    /// A step it needed failed.
    Failed,
    /// A step it needed was not attempted.
    NotAttempted,
    /// Left alone: its configuration names another repository.
    Refused,
    /// Left alone: remediation cannot fix it.
    Blocked,
}

/// The last record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LogEnd {
    /// When the apply ended.
    pub ended_at: DateTime<Utc>,
    /// Steps that made a change.
    pub changed: usize,
    /// Steps already in place.
    pub unchanged: usize,
    /// Steps that failed.
    pub failed: usize,
    /// Steps not attempted.
    pub not_attempted: usize,
    /// Whether the apply was interrupted.
    pub interrupted: bool,
}

/// Writes the log atomically into `dir`.
pub fn write(dir: &Path, records: &[LogRecord]) -> Result<()> {
    write_atomically(&dir.join(FILE_NAME), |out| {
        for record in records {
            serde_json::to_writer(&mut *out, record).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}
