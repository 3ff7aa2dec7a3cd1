//! The severity gate: which findings fail the run, and the exit code that follows.

use serde::{Deserialize, Serialize};

use crate::error::{EXIT_COMPLIANT, EXIT_FAILURES, EXIT_INCOMPLETE, EXIT_INTERRUPTED};
use crate::findings::BaselineState;
use crate::findings::{Finding, Severity, Status};

/// Which findings fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct GatePolicy {
    /// FAIL findings at or above this severity fail the run.
    pub fail_on: Severity,
    /// WARN findings (at or above `fail_on`) fail the run too.
    pub fail_on_warn: bool,
    /// Only findings NEW against the baseline fail the run.
    pub fail_on_new: bool,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy::DEFAULT
    }
}

impl GatePolicy {
    /// FAIL findings of low severity or above fail the run; WARN does not.
    pub const DEFAULT: GatePolicy = GatePolicy {
        fail_on: Severity::Low,
        fail_on_warn: false,
        fail_on_new: false,
    };

    /// Whether this finding fails the run.
    pub fn fails(&self, finding: &Finding) -> bool {
        let status_fails = match finding.status {
            Status::Fail => true,
            Status::Warn => self.fail_on_warn,
            _ => false,
        };
        // Severity orders from critical (smallest) to informational.
        status_fails
            && finding.severity <= self.fail_on
            && finding.suppression.is_none()
            && (!self.fail_on_new || finding.baseline == Some(BaselineState::New))
    }
}

/// The exit code of a run: 130 interrupted; 2 incomplete (an ERROR); 1 a finding fails the gate
/// (see [`GatePolicy::fails`]); 0 otherwise.
pub fn exit_code(errors: bool, failing: bool, interrupted: bool) -> u8 {
    if interrupted {
        EXIT_INTERRUPTED
    } else if errors {
        EXIT_INCOMPLETE
    } else if failing {
        EXIT_FAILURES
    } else {
        EXIT_COMPLIANT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::AppliedSuppression;

    /// The exit code of a run with these findings.
    fn code(gate: &GatePolicy, findings: &[Finding], interrupted: bool) -> u8 {
        exit_code(
            findings.iter().any(|f| f.status == Status::Error),
            findings.iter().any(|f| gate.fails(f)),
            interrupted,
        )
    }

    fn finding(status: Status, severity: Severity) -> Finding {
        Finding {
            rule_id: "MACIE-004".into(),
            account_id: "111111111111".into(),
            account_name: "a".into(),
            ou_path: None,
            region: "us-east-1".into(),
            status,
            severity,
            resource: "arn:aws:s3:::b".into(),
            message: String::new(),
            remediation: String::new(),
            baseline: None,
            suppression: None,
        }
    }

    #[test]
    fn severity_threshold() {
        let high = GatePolicy {
            fail_on: Severity::High,
            ..GatePolicy::default()
        };
        assert_eq!(
            code(&high, &[finding(Status::Fail, Severity::Medium)], false),
            0
        );
        assert_eq!(
            code(&high, &[finding(Status::Fail, Severity::High)], false),
            1
        );
        assert_eq!(
            code(&high, &[finding(Status::Fail, Severity::Critical)], false),
            1
        );
        let default = GatePolicy::default();
        assert_eq!(
            code(&default, &[finding(Status::Fail, Severity::Low)], false),
            1
        );
        assert_eq!(
            code(
                &default,
                &[finding(Status::Fail, Severity::Informational)],
                false
            ),
            0
        );
    }

    #[test]
    fn warn_only_with_the_flag() {
        let warn = [finding(Status::Warn, Severity::Medium)];
        assert_eq!(code(&GatePolicy::default(), &warn, false), 0);
        let strict = GatePolicy {
            fail_on_warn: true,
            ..GatePolicy::default()
        };
        assert_eq!(code(&strict, &warn, false), 1);
    }

    #[test]
    fn suppressed_and_old_findings_do_not_fail() {
        let mut suppressed = finding(Status::Fail, Severity::High);
        suppressed.suppression = Some(AppliedSuppression {
            entry: 1,
            justification: "accepted".into(),
            owner: "sec".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2099, 1, 1).unwrap_or_default(),
        });
        assert_eq!(code(&GatePolicy::default(), &[suppressed], false), 0);
        let mut old = finding(Status::Fail, Severity::High);
        old.baseline = Some(BaselineState::Unchanged);
        let new_only = GatePolicy {
            fail_on_new: true,
            ..GatePolicy::default()
        };
        assert_eq!(code(&new_only, &[old.clone()], false), 0);
        old.baseline = Some(BaselineState::New);
        assert_eq!(code(&new_only, &[old], false), 1);
    }

    #[test]
    fn errors_and_interruptions_win() {
        let findings = [
            finding(Status::Fail, Severity::High),
            finding(Status::Error, Severity::High),
        ];
        assert_eq!(code(&GatePolicy::default(), &findings, false), 2);
        assert_eq!(code(&GatePolicy::default(), &findings, true), 130);
    }
}
