//! What the repository rules share: which export configuration judges an account-Region (its
//! own, or its Macie administrator's), the repository it names, and Macie's requests to it.

use super::{Absence, RuleInput, Verdict, unreadable};
use crate::config::MemberRepository;
use crate::evidence::{AccountControls, ErrorKind, Outcome, S3Destination};
use crate::findings::Status;
use crate::macie_access::{Exporter, Guardrail, OrgMembership};
use crate::policy::Policy;
pub(super) use crate::regions::macie_principal;

/// The export configuration that judges an account-Region, and whose it is.
pub(super) struct Export<'a> {
    /// The destination, when one is configured.
    pub destination: Option<&'a S3Destination>,
    /// The account whose Macie writes to it.
    pub macie_account: &'a str,
    /// Said in messages when the destination is not the account's own.
    pub note: String,
}

/// A configured repository: both a bucket and a key.
pub(super) struct Repository<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The key ARN as configured.
    pub key_arn: &'a str,
    /// The object key prefix ("" when none).
    pub prefix: &'a str,
    /// The account the configuration expects to own the bucket.
    pub expected_owner: Option<&'a str>,
    /// The account whose Macie writes to it.
    pub macie_account: &'a str,
    /// The Region of the Macie configuration.
    pub region: &'a str,
    /// The organization of the account whose Macie writes, as its requests carry it.
    pub organization: OrgMembership,
    /// Said in messages when the repository is an administrator's.
    pub note: String,
}

impl Repository<'_> {
    /// The bucket's ARN.
    pub fn bucket_arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.bucket)
    }

    /// The key's ARN as configured, for a verdict about the key.
    pub fn key_resource(&self) -> String {
        self.key_arn.to_owned()
    }

    /// Macie writing to it: the account and Region of the export configuration.
    pub fn exporter(&self) -> Exporter<'_> {
        Exporter {
            account: self.macie_account,
            region: self.region,
            organization: &self.organization,
        }
    }
}

/// The export configuration that judges this account-Region: its own, or (with the
/// administrator option, for a member) its administrator's in the same Region.
/// Callers have checked that Macie's session was read.
pub(super) fn export<'a>(input: &RuleInput<'a>) -> Result<Export<'a>, Verdict> {
    let own = input.evidence;
    let (source, macie_account, note) = match (input.members, own.administrator_account()) {
        (MemberRepository::Administrator, Some(admin)) => {
            let note =
                format!(" Judged by Macie administrator {admin}'s repository, as configured.");
            match input.run.account_region(admin, &own.region) {
                Some(evidence) => (evidence, admin, note),
                None => {
                    return Err(Verdict::new(
                        Status::Error,
                        format!(
                            "Not verifiable from the organization: this account is a Macie member of {admin}, \
                             whose configuration in {} was not collected (out of scope or unreachable).{note}",
                            own.region
                        ),
                    ));
                }
            }
        }
        _ => (own, own.account_id.as_str(), String::new()),
    };
    let Some(observation) = &source.export_configuration else {
        return Err(Verdict::new(
            Status::Error,
            format!(
                "{}.{note}",
                Absence::of(input.run).not_read("The export configuration")
            ),
        ));
    };
    match &observation.outcome {
        Outcome::Response(destination) => Ok(Export {
            destination: destination.as_ref(),
            macie_account,
            note,
        }),
        Outcome::Error(error) => Err(unreadable("the classification export configuration", error)),
    }
}

/// The repository an account-Region's Macie exports to, or the verdict that stands instead:
/// NOT_APPLICABLE when Macie is off or no complete repository is configured, ERROR when unknown.
pub(super) fn repository<'a>(input: &RuleInput<'a>) -> Result<Repository<'a>, Verdict> {
    match &input.evidence.macie_session.outcome {
        Outcome::Response(_) => {}
        Outcome::Error(error) if error.kind == ErrorKind::MacieNotEnabled => {
            return Err(Verdict::new(
                Status::NotApplicable,
                "Macie is not enabled in this Region, so there is no repository to check.",
            ));
        }
        Outcome::Error(error) => return Err(unreadable("the Macie session", error)),
    }
    let export = export(input)?;
    let destination = export.destination;
    let bucket = destination
        .and_then(|d| d.bucket_name.as_deref())
        .filter(|b| !b.trim().is_empty());
    let key = destination
        .and_then(|d| d.kms_key_arn.as_deref())
        .filter(|k| !k.trim().is_empty());
    let (Some(bucket), Some(key_arn)) = (bucket, key) else {
        return Err(Verdict::new(
            Status::NotApplicable,
            format!(
                "No discovery results repository (bucket and KMS key) is configured; MACIE-002 reports it.{}",
                export.note
            ),
        ));
    };
    Ok(Repository {
        bucket,
        key_arn,
        prefix: destination
            .and_then(|d| d.key_prefix.as_deref())
            .unwrap_or_default(),
        expected_owner: destination
            .and_then(|d| d.expected_bucket_owner.as_deref())
            .filter(|o| !o.is_empty()),
        macie_account: export.macie_account,
        region: &input.evidence.region,
        organization: if export.macie_account == input.evidence.account_id {
            input.organization.clone()
        } else {
            OrgMembership::of(input.run, export.macie_account)
        },
        note: export.note,
    })
}

/// What a rule judging one resource of the repository starts from: the repository (or the verdict
/// that stands instead), the note its messages end with, and its verdicts, each about the
/// resource `about` names.
#[allow(clippy::type_complexity)]
pub(super) fn judging<'a>(
    input: &RuleInput<'a>,
    about: fn(&Repository<'a>) -> String,
) -> Result<
    (
        Repository<'a>,
        String,
        impl Fn(Status, String) -> Verdict + use<'a>,
    ),
    Verdict,
> {
    let repository = repository(input)?;
    let note = repository.note.clone();
    let resource = about(&repository);
    let verdict = move |status, message| Verdict::new(status, message).about(resource.clone());
    Ok((repository, note, verdict))
}

/// The message of a verdict on a resource the scan did not read (`subject`: "Bucket b").
pub(super) fn not_read(input: &RuleInput<'_>, subject: &str, note: &str) -> String {
    format!("{}.{note}", Absence::of(input.run).not_read(subject))
}

/// A message listing problems, ending with the note.
pub(super) fn list(intro: &str, problems: &[String], note: &str) -> String {
    format!("{intro}: {}.{note}", problems.join("; "))
}

/// What the organization's Resource Control Policies say of Macie's requests to one repository
/// resource: the RCPs attached to its owner's account and to every OU and root above it.
#[derive(Debug, Default)]
pub(super) struct Guardrails {
    /// Each RCP statement that denies Macie's requests, naming the policy, the statement and
    /// where it is attached: a FAIL.
    pub denials: Vec<String>,
    /// Each RCP statement that denies them or not depending on keys of unknown value: a WARN.
    pub doubts: Vec<String>,
    /// The steps that lift the denials, one per denying RCP.
    pub fixes: Vec<String>,
    /// Said at the end of the message when the RCPs were not evaluated (empty otherwise).
    pub not_evaluated: String,
}

/// Judges the RCPs over `owner` for Macie's requests: `guardrails` answers each of them for one
/// policy, `what` says an action's resource in words (` under "macie/"`, or empty), `resource`
/// names the
/// resource policy the verdict rests on when the RCPs cannot be read ("key policy").
pub(super) fn judge_guardrails(
    run: &crate::evidence::RunEvidence,
    owner: Option<&str>,
    repository: &Repository<'_>,
    resource: &str,
    guardrails: impl Fn(&Policy) -> Vec<(&'static str, Guardrail)>,
    what: impl Fn(&str) -> String,
) -> Guardrails {
    let mut judged = Guardrails::default();
    let Some(owner) = owner else {
        return judged;
    };
    let applied = match run.resource_controls_over(owner) {
        AccountControls::Applied(applied) => applied,
        AccountControls::NotEvaluated(reason) => {
            judged.not_evaluated = format!(
                " The organization's Resource Control Policies were not evaluated ({reason}): this \
                 verdict rests on the {resource}."
            );
            return judged;
        }
        AccountControls::NotApplicable => return judged,
    };
    let principal = repository.exporter().principal();
    for rcp in &applied {
        let attached = format!(
            "RCP {} (\"{}\") attached to {}",
            rcp.policy_id,
            rcp.name,
            target_words(rcp.target_id)
        );
        // Actions denied by the same statements are reported once, together.
        let mut denied: Vec<(Vec<String>, &[String])> = Vec::new();
        let answers = guardrails(&rcp.policy);
        for (action, answer) in &answers {
            match answer {
                Guardrail::Lets => {}
                Guardrail::Denies { by } => {
                    let words = format!("{action}{}", what(action));
                    match denied.iter_mut().find(|(_, same)| *same == by.as_slice()) {
                        Some((actions, _)) => actions.push(words),
                        None => denied.push((vec![words], by)),
                    }
                }
                Guardrail::MayDeny { depends_on } => judged.doubts.push(format!(
                    "{attached} {}",
                    crate::macie_access::uncertain_clause(
                        &format!("{principal} {action}{}", what(action)),
                        depends_on,
                        "Macie's request is let through",
                    )
                )),
            }
        }
        if denied.is_empty() {
            continue;
        }
        for (actions, by) in &denied {
            judged.denials.push(format!(
                "{attached} denies {principal} {} (statement {})",
                actions.join(" and "),
                super::key_usable::quoted(by)
            ));
        }
        judged.fixes.push(format!(
            "In the management account (or the Organizations delegated administrator): read RCP {id} \
             (aws organizations describe-policy --policy-id {id}) and correct its statement {sids} so \
             that it lets {principal} write for account {account} (aws organizations update-policy \
             --policy-id {id} --content file://rcp.json), or detach it from {target} (aws organizations \
             detach-policy --policy-id {id} --target-id {target})",
            id = rcp.policy_id,
            sids = super::key_usable::quoted(
                &denied
                    .iter()
                    .flat_map(|(_, by)| by.iter().cloned())
                    .collect::<Vec<_>>()
            ),
            account = repository.macie_account,
            target = rcp.target_id,
        ));
    }
    judged
}

/// Where an RCP is attached, in words: `the root r-…`, `OU ou-…`, `account 333333333333`.
fn target_words(target_id: &str) -> String {
    if target_id.starts_with("r-") {
        format!("the root {target_id}")
    } else if target_id.starts_with("ou-") {
        format!("OU {target_id}")
    } else {
        format!("account {target_id}")
    }
}
