//! MACIE-001: Macie is enabled.

use super::{Rule, RuleInput, Verdict, unreadable};
use crate::evidence::{ErrorKind, Outcome};
use crate::findings::{Severity, Status};

pub(super) const RULE: Rule = Rule {
    id: "MACIE-001",
    title: "Macie is enabled",
    severity: Severity::Medium,
    rationale: "Macie discovers sensitive data in S3 only where it is enabled and running; a paused Macie \
                runs no discovery and no jobs.",
    remediation: "Enable Macie in the account and Region (aws macie2 enable-macie --region <region>), or \
                  resume a paused session (aws macie2 update-macie-session --status ENABLED --region <region>).",
    conformity_rule: None,
    check,
};

fn check(input: &RuleInput<'_>) -> Verdict {
    let session = match &input.evidence.macie_session.outcome {
        Outcome::Response(session) => session,
        Outcome::Error(error) if error.kind == ErrorKind::MacieNotEnabled => {
            return Verdict::new(Status::Fail, "Macie is not enabled in this Region.").fix(vec![
                format!(
                    "In account {}: aws macie2 enable-macie --region {}",
                    input.evidence.account_id, input.evidence.region
                ),
            ]);
        }
        Outcome::Error(error) => return unreadable("the Macie session", error),
    };
    match session.status.as_str() {
        "ENABLED" => {
            let since = session
                .created_at
                .map(|t| format!(" since {}", t.format("%Y-%m-%d")))
                .unwrap_or_default();
            Verdict::new(Status::Pass, format!("Macie is enabled{since}."))
        }
        "PAUSED" => Verdict::new(
            Status::Fail,
            "Macie is paused: it keeps its configuration but runs no discovery or jobs.",
        )
        .fix(vec![format!(
            "In account {}: aws macie2 update-macie-session --region {} --status ENABLED",
            input.evidence.account_id, input.evidence.region
        )]),
        other => Verdict::new(
            Status::Fail,
            format!("Macie's status is {other:?}, not ENABLED."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;

    fn judge(evidence: &crate::evidence::AccountRegionEvidence) -> Verdict {
        check(&RuleInput {
            run: &run_of(evidence),
            organization: &crate::macie_access::OrgMembership::Unknown,
            evidence,
            members: crate::config::MemberRepository::Own,
            scan_started_at: at(2026, 11, 1),
        })
    }

    #[test]
    fn enabled_passes() {
        let v = judge(&evidence(session("ENABLED", at(2026, 1, 1)), None));
        assert_eq!(v.status, Status::Pass);
        assert!(v.message.contains("2026-01-01"));
    }

    #[test]
    fn paused_fails() {
        assert_eq!(
            judge(&evidence(session("PAUSED", at(2026, 1, 1)), None)).status,
            Status::Fail
        );
    }

    #[test]
    fn not_enabled_fails() {
        let e = macie_session_error(ErrorKind::MacieNotEnabled, "AccessDeniedException");
        assert_eq!(judge(&e).status, Status::Fail);
    }

    #[test]
    fn permission_problem_is_an_error_not_a_failure() {
        let e = macie_session_error(ErrorKind::AccessDenied, "AccessDeniedException");
        assert_eq!(judge(&e).status, Status::Error);
        let e = macie_session_error(ErrorKind::Throttled, "ThrottlingException");
        assert_eq!(judge(&e).status, Status::Error);
    }
}
