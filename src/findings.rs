//! Findings: one verdict per (rule, account, Region), with its status, severity and identity.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The verdict of one rule for one account and Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// The rule holds.
    Pass,
    /// The rule does not hold.
    Fail,
    /// The rule does not hold yet, but a grace period or a recommendation applies.
    Warn,
    /// The rule does not apply (e.g. no repository to check).
    NotApplicable,
    /// Not checked, on purpose: the account is not active or the Region is not enabled.
    Skipped,
    /// Not checked: something needed could not be read.
    Error,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::NotApplicable,
        Status::Skipped,
        Status::Error,
    ];

    /// The status's position in [`Status::ALL`] (an index into per-status counts).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The status as it is written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::NotApplicable => "NOT_APPLICABLE",
            Status::Skipped => "SKIPPED",
            Status::Error => "ERROR",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a failing rule matters. Ordered from critical (smallest) to informational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Exploitable now, or data exposed.
    Critical,
    /// Results are lost or unprotected.
    High,
    /// The control is missing.
    Medium,
    /// Defence in depth.
    Low,
    /// For information only.
    Informational,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];

    /// The severity as it is written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Informational => "informational",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == value)
            .ok_or_else(|| format!("{value:?} is not a severity"))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One verdict of one rule for one account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Finding {
    /// The rule's stable id, e.g. `MACIE-002`.
    pub rule_id: String,
    /// The account judged.
    pub account_id: String,
    /// The account's name as Organizations reports it (untrusted text).
    pub account_name: String,
    /// The account's OU path (`o-…/r-…/ou-…/`), when the run walked the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ou_path: Option<String>,
    /// The Region judged.
    pub region: String,
    /// The verdict.
    pub status: Status,
    /// The rule's severity.
    pub severity: Severity,
    /// The resource the verdict is about: a bucket or key ARN, or the Macie session ARN.
    pub resource: String,
    /// Why, in one sentence a person can act on.
    pub message: String,
    /// What to do about it: concrete steps and AWS CLI commands for this account, Region, bucket
    /// and key. Empty when there is nothing to fix.
    #[serde(default)]
    pub remediation: String,
    /// Where it stands against the baseline run, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineState>,
    /// The suppression that accepts it, if any: it keeps its status and does not fail the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<AppliedSuppression>,
}

impl Finding {
    /// The finding's identity, stable across runs: (rule, account, Region, resource).
    pub fn identity(&self) -> (&str, &str, &str, &str) {
        (
            &self.rule_id,
            &self.account_id,
            &self.region,
            &self.resource,
        )
    }
}

/// The ARN used as the resource of findings about an account-Region's Macie session.
pub fn macie_session_arn(account_id: &str, region: &str) -> String {
    format!("arn:aws:macie2:{region}:{account_id}:session")
}

/// Where a finding stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaselineState {
    /// Failing now, not before.
    New,
    /// Failing now and before.
    Unchanged,
    /// Failing before, passing (or not applicable) now.
    Resolved,
    /// Failing before, ERROR now: not checked this time, so not resolved.
    NotRechecked,
    /// ERROR before, failing now: not a new failure, only one the baseline could not see.
    PreviouslyUnchecked,
}

impl BaselineState {
    /// The state as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "NEW",
            BaselineState::Unchanged => "UNCHANGED",
            BaselineState::Resolved => "RESOLVED",
            BaselineState::NotRechecked => "NOT_RECHECKED",
            BaselineState::PreviouslyUnchecked => "PREVIOUSLY_UNCHECKED",
        }
    }
}

/// A suppression as applied to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AppliedSuppression {
    /// The entry's position in the file (1-based).
    pub entry: usize,
    /// Why the finding is accepted.
    pub justification: String,
    /// Who answers for it.
    pub owner: String,
    /// When it stops applying.
    pub expires: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_index_is_its_position_in_all() {
        for (position, status) in Status::ALL.iter().enumerate() {
            assert_eq!(status.index(), position, "{status}");
        }
    }
}
