//! MACIE-002: the discovery results repository is configured (Conformity Macie2-002).

use chrono::{DateTime, Duration, Utc};

use super::{Rule, RuleInput, Verdict, remediation, unreadable};
use crate::evidence::{ErrorKind, Outcome, S3Destination};
use crate::findings::{Severity, Status};

/// Days after enabling Macie within which the repository should be configured.
pub const GRACE_PERIOD_DAYS: i64 = 30;

pub(super) const RULE: Rule = Rule {
    id: "MACIE-002",
    title: "Discovery results repository is configured (Conformity Macie2-002)",
    severity: Severity::Medium,
    rationale: "Macie keeps sensitive data discovery results for only 90 days. Exporting them to an S3 bucket \
                encrypted with a customer managed KMS key keeps them for as long as audits and investigations \
                need, under keys the organization controls. Configure the repository within 30 days of \
                enabling Macie.",
    remediation: "Create a symmetric customer managed KMS key whose policy lets macie.amazonaws.com use it, a \
                  private S3 bucket whose policy lets Macie write and denies non-TLS access, then run \
                  aws macie2 put-classification-export-configuration --region <region> --configuration \
                  's3Destination={bucketName=<bucket>,keyPrefix=<prefix>,kmsKeyArn=<key ARN>}' in every \
                  account and Region where Macie is enabled.",
    conformity_rule: Some("Macie2-002"),
    check,
};

fn check(input: &RuleInput<'_>) -> Verdict {
    let evidence = input.evidence;
    let session = match &evidence.macie_session.outcome {
        Outcome::Response(session) => session,
        Outcome::Error(error) if error.kind == ErrorKind::MacieNotEnabled => {
            return Verdict::new(
                Status::NotApplicable,
                "Macie is not enabled in this Region, so it produces no discovery results to store.",
            );
        }
        Outcome::Error(error) => return unreadable("the Macie session", error),
    };
    let export = match super::repository::export(input) {
        Ok(export) => export,
        Err(verdict) => return verdict,
    };
    let destination = export.destination;
    if let Some((bucket, key)) = destination.and_then(complete_repository) {
        let prefix = destination
            .and_then(|d| d.key_prefix.as_deref())
            .unwrap_or_default();
        return Verdict::new(
            Status::Pass,
            format!(
                "Discovery results are exported to s3://{bucket}/{prefix}, encrypted with KMS key {key}.{}",
                export.note
            ),
        );
    }
    let gap = describe_gap(destination);
    let existing_bucket = destination
        .and_then(|d| d.bucket_name.as_deref())
        .filter(|b| !b.trim().is_empty());
    let fix =
        remediation::create_repository(export.macie_account, &evidence.region, existing_bucket);
    let membership = if export.note.is_empty() {
        membership_note(input)
    } else {
        export.note
    };
    let Some(enabled_at) = session.created_at else {
        return Verdict::new(
            Status::Fail,
            format!(
                "{gap}{membership} Macie's enable date is unknown, so no grace period applies."
            ),
        )
        .fix(fix);
    };
    // An enable date within 30 days of the last representable one (edited evidence) has a grace
    // period that ends beyond any date: it has not ended.
    let Some(grace_end) = enabled_at.checked_add_signed(Duration::days(GRACE_PERIOD_DAYS)) else {
        return Verdict::new(
            Status::Warn,
            format!(
                "{gap}{membership} Macie was enabled on {}; the {GRACE_PERIOD_DAYS}-day grace period has not ended.",
                day(enabled_at)
            ),
        )
        .fix(fix);
    };
    if input.scan_started_at < grace_end {
        Verdict::new(
            Status::Warn,
            format!(
                "{gap}{membership} Macie was enabled on {}; the {GRACE_PERIOD_DAYS}-day grace period ends on {}.",
                day(enabled_at),
                day(grace_end)
            ),
        )
        .fix(fix)
    } else {
        Verdict::new(
            Status::Fail,
            format!(
                "{gap}{membership} Macie was enabled on {}; the {GRACE_PERIOD_DAYS}-day grace period ended on {}.",
                day(enabled_at),
                day(grace_end)
            ),
        )
        .fix(fix)
    }
}

/// The bucket and key, when the destination names both.
fn complete_repository(destination: &S3Destination) -> Option<(&str, &str)> {
    let bucket = destination
        .bucket_name
        .as_deref()
        .filter(|b| !b.trim().is_empty())?;
    let key = destination
        .kms_key_arn
        .as_deref()
        .filter(|k| !k.trim().is_empty())?;
    Some((bucket, key))
}

fn describe_gap(destination: Option<&S3Destination>) -> String {
    let bucket = destination
        .and_then(|d| d.bucket_name.as_deref())
        .filter(|b| !b.trim().is_empty());
    match bucket {
        Some(bucket) => format!(
            "The repository names bucket {bucket} but no KMS key, so results are not encrypted with a customer managed key."
        ),
        None => "No discovery results repository is configured.".to_owned(),
    }
}

fn membership_note(input: &RuleInput<'_>) -> String {
    match input.evidence.administrator_account() {
        Some(admin) => format!(
            " This account is a Macie member of administrator {admin}; each member needs its own repository \
             (rules.macie_members = \"own\")."
        ),
        None => String::new(),
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{AccountRegionEvidence, MacieAdministrator};
    use crate::rules::testing::*;

    const STARTED: (i32, u32, u32) = (2026, 11, 1);

    fn judge(evidence: &AccountRegionEvidence) -> Verdict {
        check(&RuleInput {
            run: &run_of(evidence),
            organization: &crate::macie_access::OrgMembership::Unknown,
            evidence,
            members: crate::config::MemberRepository::Own,
            scan_started_at: at(STARTED.0, STARTED.1, STARTED.2),
        })
    }

    fn configured(
        created: DateTime<Utc>,
        destination: Option<S3Destination>,
    ) -> AccountRegionEvidence {
        evidence(
            session("ENABLED", created),
            Some(ok(
                "macie2:GetClassificationExportConfiguration",
                destination,
            )),
        )
    }

    #[test]
    fn bucket_and_key_pass() {
        let key = "arn:aws:kms:us-east-1:111111111111:key/abc";
        let v = judge(&configured(
            at(2020, 1, 1),
            Some(destination(Some("results"), Some(key))),
        ));
        assert_eq!(v.status, Status::Pass);
        assert!(v.message.contains("s3://results/") && v.message.contains(key));
    }

    #[test]
    fn not_enabled_is_not_applicable() {
        let e = macie_session_error(ErrorKind::MacieNotEnabled, "AccessDeniedException");
        assert_eq!(judge(&e).status, Status::NotApplicable);
    }

    #[test]
    fn paused_is_still_judged() {
        let e = evidence(
            session("PAUSED", at(2020, 1, 1)),
            Some(ok("macie2:GetClassificationExportConfiguration", None)),
        );
        assert_eq!(judge(&e).status, Status::Fail);
    }

    #[test]
    fn missing_key_or_bucket_is_not_a_repository() {
        for dest in [
            destination(Some("results"), None),
            destination(None, Some("arn:aws:kms:us-east-1:1:key/a")),
            destination(Some(""), Some("")),
        ] {
            assert_eq!(
                judge(&configured(at(2020, 1, 1), Some(dest))).status,
                Status::Fail
            );
        }
    }

    #[test]
    fn thirty_day_boundary() {
        let started = at(STARTED.0, STARTED.1, STARTED.2);
        let just_inside = started - Duration::days(30) + Duration::seconds(1);
        let exactly = started - Duration::days(30);
        let v = judge(&configured(just_inside, None));
        assert_eq!(v.status, Status::Warn);
        assert!(v.message.contains("ends on 2026-11-01"), "{}", v.message);
        let v = judge(&configured(exactly, None));
        assert_eq!(v.status, Status::Fail);
        assert!(v.message.contains("ended on 2026-11-01"), "{}", v.message);
    }

    /// Found by tests/properties.rs: evidence whose Macie session was enabled on chrono's last
    /// representable day made the grace period's end overflow, and the rule panic.
    #[test]
    fn an_enable_date_at_the_end_of_time_is_within_its_grace_period() {
        let v = judge(&configured(DateTime::<Utc>::MAX_UTC, None));
        assert_eq!(v.status, Status::Warn);
        assert!(
            v.message.contains("grace period has not ended"),
            "{}",
            v.message
        );
        let v = judge(&configured(DateTime::<Utc>::MIN_UTC, None));
        assert_eq!(v.status, Status::Fail);
    }

    #[test]
    fn unreadable_configuration_is_an_error() {
        let e = evidence(
            session("ENABLED", at(2020, 1, 1)),
            Some(err(
                "macie2:GetClassificationExportConfiguration",
                ErrorKind::Throttled,
                "ThrottlingException",
            )),
        );
        assert_eq!(judge(&e).status, Status::Error);
    }

    #[test]
    fn members_are_told_they_need_their_own() {
        let mut e = configured(at(2020, 1, 1), None);
        e.administrator = Some(ok(
            "macie2:GetAdministratorAccount",
            Some(MacieAdministrator {
                account_id: "999999999999".into(),
                relationship_status: Some("Enabled".into()),
            }),
        ));
        let v = judge(&e);
        assert_eq!(v.status, Status::Fail);
        assert!(v.message.contains("member of administrator 999999999999"));
    }
}
