//! What Macie's export of discovery results asks of a repository's policies: the requests Macie
//! makes to the key and the bucket (principal, action, resource, condition keys), and how a policy
//! answers each. The rules judge repositories with it (MACIE-003, MACIE-004) and remediation finds
//! the gaps it must close with it, so the two can never disagree on what Macie needs.
//!
//! Macie's requests are evaluated three-valued ([`crate::policy`]): each condition key is present
//! with a known value, documented absent ([`ABSENT_FROM_SERVICE_REQUESTS`]), or unknown (request
//! headers such as `s3:x-amz-acl`, whose values in Macie's writes AWS does not document). A
//! verdict that depends on an unknown key is [`Answer::Uncertain`], never a guess.

use serde::{Deserialize, Serialize};

use crate::evidence::{OrganizationListing, RunEvidence};
use crate::policy::{
    ConditionedStatement, Decision, Effect, Evaluation, KeyCondition, Policy, Principal, Request,
    UnlistedKeys,
};
use crate::regions::macie_principal;

/// The KMS actions Macie needs on the repository key.
pub const KEY_ACTIONS: [&str; 2] = ["kms:GenerateDataKey", "kms:Encrypt"];

/// The S3 actions Macie needs on the repository bucket.
pub const BUCKET_ACTIONS: [&str; 2] = ["s3:PutObject", "s3:GetBucketLocation"];

/// Keys AWS documents as absent from a request an AWS service principal makes directly on its
/// own behalf (IAM User Guide, "AWS global condition context keys", the Availability of each key;
/// read in the awsdocs/iam-user-guide copy of `reference_policies_condition-keys.md`):
/// - `aws:CalledVia`, `aws:CalledViaFirst`, `aws:CalledViaLast`: present only when a service uses
///   an IAM principal's credentials to call another service; "not present when the principal
///   makes the call directly".
/// - `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`: "only if the principal is a member of an
///   organization"; a service principal belongs to no account, hence to no organization.
/// - `aws:PrincipalTag/*`: only for IAM users and roles with tags.
/// - `aws:username`: "always included for IAM users"; absent for roles, root and anonymous.
/// - `aws:SourceVpc`, `aws:SourceVpce`, `aws:VpcSourceIp`: only when the requester uses a VPC
///   endpoint, which Macie's service-side writes do not go through.
/// - `aws:MultiFactorAuthAge`, `aws:MultiFactorAuthPresent`, `aws:TokenIssueTime`: only for a
///   principal using temporary (STS) credentials or MFA, which a service principal does not hold.
/// - `aws:referer`: only for a browser following a link.
///
/// Not listed, because AWS documents them as present in every signed request but not their
/// values for a service principal: `aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalType`, `aws:userid`, `aws:SourceIp` (the last "except when the requester uses a
/// VPC endpoint"). Conditions on them stay unknown.
pub const ABSENT_FROM_SERVICE_REQUESTS: &[&str] = &[
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalTag/*",
    "aws:username",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:TokenIssueTime",
    "aws:referer",
];

/// The keys that tie Macie's request to the exporting account (confused-deputy conditions):
/// its account and export configuration, or its organization and OU.
const SOURCE_KEYS: [&str; 4] = [
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
];

/// An account and organization no policy of the organization names: Macie acting for them is the
/// confused deputy a grant's conditions must exclude.
const STRANGER_ACCOUNT: &str = "999999999999";
const STRANGER_ORGANIZATION: &str = "o-stranger000";

/// What Macie's requests say of the exporting account's organization: `aws:SourceOrgID` and
/// `aws:SourceOrgPaths`, which AWS includes only for accounts in an organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrgMembership {
    /// In an organization: Macie's requests carry both keys. A part the evidence lacks (`None`:
    /// DescribeOrganization failed, or the tree was not walked) is unknown to the evaluation.
    Member {
        /// The organization's id (`o-…`), the value of `aws:SourceOrgID`.
        organization_id: Option<String>,
        /// The account's OU path (`o-…/r-…/ou-…/`), the value of `aws:SourceOrgPaths`.
        ou_path: Option<String>,
    },
    /// Not in an organization: neither key is in Macie's requests.
    Standalone,
    /// Not known (evidence without the organization listing's answer for this account, such as
    /// a Macie administrator outside the organization): both keys are unknown.
    #[default]
    Unknown,
}

impl OrgMembership {
    /// Whether nothing is known (the default).
    pub fn is_unknown(&self) -> bool {
        *self == OrgMembership::Unknown
    }

    /// What a run's evidence says of `account_id`'s organization: a member when the run listed
    /// an organization with the account in it, standalone when the run's own account was found
    /// to be in none, otherwise unknown.
    pub fn of(run: &RunEvidence, account_id: &str) -> OrgMembership {
        let listed = run
            .header
            .accounts
            .iter()
            .chain(&run.header.excluded_accounts)
            .any(|account| account.id == account_id)
            || run.accounts.iter().any(|a| a.account.id == account_id);
        match &run.header.organization {
            _ if !listed => OrgMembership::Unknown,
            OrganizationListing::Organization { .. } => OrgMembership::Member {
                organization_id: run.organization_id().map(str::to_owned),
                ou_path: run.ou_path(account_id).map(str::to_owned),
            },
            OrganizationListing::Standalone { .. } => OrgMembership::Standalone,
        }
    }
}

/// Macie exporting from one account and Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exporter<'a> {
    /// The account whose Macie writes.
    pub account: &'a str,
    /// Its Region.
    pub region: &'a str,
    /// Its organization, as Macie's requests carry it.
    pub organization: &'a OrgMembership,
}

/// One of Macie's requests, before evaluation: the context it carries and the keys it lacks.
struct MacieRequest {
    context: Vec<(String, String)>,
    absent: Vec<&'static str>,
}

impl Exporter<'_> {
    /// Macie's service principal in the Region.
    pub fn principal(&self) -> String {
        macie_principal(self.region)
    }

    /// The condition keys of Macie's requests, with or without the [`SOURCE_KEYS`] (without
    /// them, they are absent: what a policy grants to any source).
    fn request(&self, with_source: bool) -> MacieRequest {
        let principal = self.principal();
        let mut context = vec![
            ("aws:SecureTransport".to_owned(), "true".to_owned()),
            ("aws:PrincipalIsAWSService".to_owned(), "true".to_owned()),
            ("aws:PrincipalServiceName".to_owned(), principal),
            // True only when a service acts with an IAM principal's credentials (forward access
            // sessions); "false when the principal makes the call directly".
            ("aws:ViaAWSService".to_owned(), "false".to_owned()),
        ];
        let mut absent = ABSENT_FROM_SERVICE_REQUESTS.to_vec();
        if !with_source {
            absent.extend(SOURCE_KEYS);
            return MacieRequest { context, absent };
        }
        context.push(("aws:SourceAccount".into(), self.account.to_owned()));
        context.push((
            "aws:SourceArn".into(),
            format!(
                "arn:aws:macie2:{}:{}:export-configuration:*",
                self.region, self.account
            ),
        ));
        match self.organization {
            OrgMembership::Member {
                organization_id,
                ou_path,
            } => {
                if let Some(id) = organization_id {
                    context.push(("aws:SourceOrgID".into(), id.clone()));
                }
                if let Some(path) = ou_path {
                    context.push(("aws:SourceOrgPaths".into(), path.clone()));
                }
            }
            OrgMembership::Standalone => absent.extend(["aws:SourceOrgID", "aws:SourceOrgPaths"]),
            OrgMembership::Unknown => {}
        }
        MacieRequest { context, absent }
    }
}

/// How a policy answers one of Macie's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Allowed. `unconditioned_by` names the statements (Sid or index) that allow it even without
    /// the confused-deputy conditions; empty when the conditions are required.
    Allowed {
        /// The statements allowing it without conditions.
        unconditioned_by: Vec<String>,
    },
    /// Denied explicitly, by the statements named.
    Denied {
        /// The denying statements.
        by: Vec<String>,
    },
    /// Whether it is allowed depends on keys whose values in Macie's request AWS does not
    /// document.
    Uncertain {
        /// The statements it depends on, each with its conditions on unknown keys: when an
        /// `Allow` holds, the `Deny`s that might overturn it; otherwise every uncertain statement.
        depends_on: Vec<ConditionedStatement>,
    },
    /// Not allowed by any statement.
    NotAllowed {
        /// The `Allow` statements that name Macie's request but whose conditions fail on keys
        /// of known value, each with the failing conditions.
        near_misses: Vec<ConditionedStatement>,
    },
}

/// One of Macie's requests to a repository resource: the action, the resource ARN, and the
/// condition keys the action adds to the exporter's ([`Exporter::request`]).
struct MacieCall {
    action: &'static str,
    resource: String,
    extra: Vec<(String, String)>,
}

/// Macie's [`KEY_ACTIONS`] on `key_arn`.
fn key_calls(key_arn: &str) -> Vec<MacieCall> {
    KEY_ACTIONS
        .iter()
        .map(|action| MacieCall {
            action,
            resource: key_arn.to_owned(),
            extra: Vec::new(),
        })
        .collect()
}

/// Macie's [`BUCKET_ACTIONS`]: writing a results object under `prefix` (SSE-KMS with
/// `key_arn`, as Macie writes) and locating the bucket.
fn bucket_calls(
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    exporter: Exporter<'_>,
) -> Vec<MacieCall> {
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let results_object = format!(
        "{bucket_arn}/{prefix}AWSLogs/{}/Macie/{}/macie-audit-probe.jsonl.gz",
        exporter.account, exporter.region
    );
    let encryption = vec![
        (
            "s3:x-amz-server-side-encryption".to_owned(),
            "aws:kms".to_owned(),
        ),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id".to_owned(),
            key_arn.to_owned(),
        ),
    ];
    vec![
        MacieCall {
            action: "s3:PutObject",
            resource: results_object,
            extra: encryption.clone(),
        },
        MacieCall {
            action: "s3:GetBucketLocation",
            resource: bucket_arn,
            extra: encryption,
        },
    ]
}

/// Evaluates one of Macie's requests against `policy`, with or without the confused-deputy keys.
fn evaluate(
    policy: &Policy,
    exporter: Exporter<'_>,
    call: &MacieCall,
    with_source: bool,
) -> Evaluation {
    let principal = exporter.principal();
    let mut request = exporter.request(with_source);
    request.context.extend_from_slice(&call.extra);
    let context: Vec<(&str, &str)> = request
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    policy.evaluate(&Request {
        principal: Principal::Service(&principal),
        action: call.action,
        resource: &call.resource,
        context: &context,
        absent: &request.absent,
        unlisted: UnlistedKeys::Unknown,
    })
}

/// How `policy` answers one of Macie's requests; with `conditions`, whether it also allows the
/// request without the confused-deputy keys.
fn answer(policy: &Policy, exporter: Exporter<'_>, call: &MacieCall, conditions: bool) -> Answer {
    let with_source = evaluate(policy, exporter, call, true);
    match with_source.decision {
        Decision::Allow if conditions => {
            // Unconditioned: the grant holds without the source keys, or for Macie acting for an
            // account of another organization (a `aws:SourceArn` that wildcards the account is
            // no confused-deputy protection).
            let stranger_organization = OrgMembership::Member {
                organization_id: Some(STRANGER_ORGANIZATION.to_owned()),
                ou_path: Some(format!("{STRANGER_ORGANIZATION}/r-0000/")),
            };
            let stranger = Exporter {
                account: STRANGER_ACCOUNT,
                region: exporter.region,
                organization: &stranger_organization,
            };
            let mut unconditioned_by = Vec::new();
            for evaluation in [
                evaluate(policy, exporter, call, false),
                evaluate(policy, stranger, call, true),
            ] {
                if evaluation.decision == Decision::Allow {
                    for label in evaluation.allowed_by {
                        if !unconditioned_by.contains(&label) {
                            unconditioned_by.push(label);
                        }
                    }
                }
            }
            Answer::Allowed { unconditioned_by }
        }
        Decision::Allow => Answer::Allowed {
            unconditioned_by: Vec::new(),
        },
        Decision::ExplicitDeny => Answer::Denied {
            by: with_source.denied_by,
        },
        Decision::Uncertain => {
            let allowed = !with_source.allowed_by.is_empty();
            Answer::Uncertain {
                depends_on: with_source
                    .uncertain
                    .into_iter()
                    .filter(|s| !allowed || s.effect == Effect::Deny)
                    .collect(),
            }
        }
        Decision::ImplicitDeny => Answer::NotAllowed {
            near_misses: with_source
                .near_misses
                .into_iter()
                .filter(|s| s.effect == Effect::Allow && !s.conditions.is_empty())
                .collect(),
        },
    }
}

/// How an organization guardrail (a Resource Control Policy) answers one of Macie's requests.
/// Guardrails only deny: their `Allow`s (`RCPFullAWSAccess`) grant nothing by themselves, so
/// only their `Deny` statements are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guardrail {
    /// Denied, by the statements named.
    Denies {
        /// The denying statements (Sid or index).
        by: Vec<String>,
    },
    /// Denied or not depending on keys whose values in Macie's request are unknown.
    MayDeny {
        /// The `Deny` statements it depends on, each with its conditions on unknown keys.
        depends_on: Vec<ConditionedStatement>,
    },
    /// No `Deny` applies.
    Lets,
}

/// How a guardrail answers one of Macie's requests: a holding `Deny` denies; otherwise a `Deny`
/// on unknown keys may.
fn guardrail(policy: &Policy, exporter: Exporter<'_>, call: &MacieCall) -> Guardrail {
    let evaluation = evaluate(policy, exporter, call, true);
    if !evaluation.denied_by.is_empty() {
        return Guardrail::Denies {
            by: evaluation.denied_by,
        };
    }
    let depends_on: Vec<ConditionedStatement> = evaluation
        .uncertain
        .into_iter()
        .filter(|s| s.effect == Effect::Deny)
        .collect();
    if depends_on.is_empty() {
        Guardrail::Lets
    } else {
        Guardrail::MayDeny { depends_on }
    }
}

/// How a guardrail answers Macie's [`KEY_ACTIONS`] on `key_arn`.
pub fn key_guardrails(
    policy: &Policy,
    key_arn: &str,
    exporter: Exporter<'_>,
) -> Vec<(&'static str, Guardrail)> {
    key_calls(key_arn)
        .iter()
        .map(|call| (call.action, guardrail(policy, exporter, call)))
        .collect()
}

/// How a guardrail answers Macie's [`BUCKET_ACTIONS`] on `bucket` (results under `prefix`,
/// encrypted with `key_arn`).
pub fn bucket_guardrails(
    policy: &Policy,
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    exporter: Exporter<'_>,
) -> Vec<(&'static str, Guardrail)> {
    bucket_calls(bucket, prefix, key_arn, exporter)
        .iter()
        .map(|call| (call.action, guardrail(policy, exporter, call)))
        .collect()
}

/// A statement's conditions in words: `s3:x-amz-acl is bucket-owner-full-control`. With
/// `exporter`, each condition also says how Macie's request differs (`(another Region)`).
fn conditions_text(statement: &ConditionedStatement, exporter: Option<&Exporter<'_>>) -> String {
    let conditions: Vec<String> = statement
        .conditions
        .iter()
        .map(|condition| {
            let hint = exporter
                .map(|e| difference(condition, e))
                .unwrap_or_default();
            format!("{}{hint}", condition.describe())
        })
        .collect();
    conditions.join(" and ")
}

/// How Macie's request differs from what a failed condition wants, in a few words.
fn difference(condition: &KeyCondition, exporter: &Exporter<'_>) -> String {
    let Some(found) = condition.found.as_deref() else {
        return " (Macie's requests do not carry this key)".to_owned();
    };
    // The specific words fit a condition that wants the listed values; a negated one (e.g.
    // StringNotEquals) failed because Macie's value is listed.
    let wants_listed = !condition.operator.to_ascii_lowercase().contains("not");
    let other = match condition.key.to_ascii_lowercase().as_str() {
        _ if !wants_listed => None,
        "aws:sourceaccount" => Some("another account"),
        "aws:sourcearn" => Some(source_arn_difference(&condition.values, exporter)),
        "aws:sourceorgid" => Some("another organization"),
        "aws:sourceorgpaths" => Some("another organizational unit"),
        _ => None,
    };
    match other {
        Some(other) => format!(" ({other})"),
        None if found.is_empty() => " (Macie's request has an empty value)".to_owned(),
        None => format!(" (Macie's request has {found})"),
    }
}

/// Whether the ARNs a condition wants are of another Region or account than Macie's.
fn source_arn_difference(wanted: &[String], exporter: &Exporter<'_>) -> &'static str {
    let field_fits = |pattern: &str, value: &str| {
        pattern == value || pattern.contains('*') || pattern.contains('?')
    };
    let fields = |arn: &str| -> Option<(String, String)> {
        let mut parts = arn.splitn(6, ':');
        let (region, account) = (parts.nth(3)?, parts.next()?);
        Some((region.to_owned(), account.to_owned()))
    };
    let wanted: Vec<(String, String)> = wanted.iter().filter_map(|arn| fields(arn)).collect();
    if !wanted.is_empty() && !wanted.iter().any(|(r, _)| field_fits(r, exporter.region)) {
        "another Region"
    } else if !wanted.is_empty() && !wanted.iter().any(|(_, a)| field_fits(a, exporter.account)) {
        "another account"
    } else {
        "another source"
    }
}

/// A message clause for an [`Answer::Uncertain`], after "the key policy" or "its policy":
/// `allows macie.amazonaws.com s3:PutObject under "macie/" only when s3:x-amz-acl is
/// bucket-owner-full-control (statement "AWSBucketDelivery"); AWS does not document what
/// Macie's request holds for s3:x-amz-acl, so whether Macie can write cannot be proven`.
/// `request` is the principal, action and resource in words; `consequence` what cannot be
/// proven ("Macie can write").
pub fn uncertain_clause(
    request: &str,
    depends_on: &[ConditionedStatement],
    consequence: &str,
) -> String {
    let texts = |effect| -> Vec<String> {
        depends_on
            .iter()
            .filter(|s| s.effect == effect)
            .map(|s| format!("{} (statement \"{}\")", conditions_text(s, None), s.label))
            .collect()
    };
    let (allows, denies) = (texts(Effect::Allow), texts(Effect::Deny));
    let mut clauses = Vec::new();
    if !allows.is_empty() {
        clauses.push(format!(
            "allows {request} only when {}",
            allows.join(", or when ")
        ));
    }
    if !denies.is_empty() {
        clauses.push(format!(
            "denies {request} when {}",
            denies.join(", or when ")
        ));
    }
    let mut keys: Vec<&str> = depends_on
        .iter()
        .flat_map(|s| &s.conditions)
        .map(|c| c.key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // Macie's requests do carry the organization keys: they are unknown only because the
    // evidence lacks the organization (not described, or the account not in its listing).
    let (organization, undocumented): (Vec<&str>, Vec<&str>) = keys.into_iter().partition(|k| {
        k.eq_ignore_ascii_case("aws:SourceOrgID") || k.eq_ignore_ascii_case("aws:SourceOrgPaths")
    });
    let mut reasons = Vec::new();
    if !undocumented.is_empty() {
        reasons.push(format!(
            "AWS does not document what Macie's request holds for {}",
            undocumented.join(" and ")
        ));
    }
    if !organization.is_empty() {
        reasons.push(format!(
            "the scan's evidence does not say which organization (and OU) the account is in, \
             which {} would hold",
            organization.join(" and ")
        ));
    }
    if reasons.is_empty() {
        reasons.push("the keys it tests are not known".to_owned());
    }
    format!(
        "{}; {}, so whether {consequence} cannot be proven",
        clauses.join(", and "),
        reasons.join(", and ")
    )
}

/// For an [`Answer::NotAllowed`]: which known conditions the statements naming Macie's request
/// want and Macie's request fails, e.g. `statement "AllowMacie" allows it only when
/// aws:SourceArn matches arn:aws:macie2:eu-west-1:… (another Region)`; `None` when no statement
/// came close.
pub fn near_miss_clause(
    near_misses: &[ConditionedStatement],
    exporter: &Exporter<'_>,
) -> Option<String> {
    let texts: Vec<String> = near_misses
        .iter()
        .map(|s| {
            format!(
                "statement \"{}\" allows it only when {}",
                s.label,
                conditions_text(s, Some(exporter))
            )
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join(", and "))
}

/// How a key policy answers Macie's [`KEY_ACTIONS`] on `key_arn`, confused-deputy conditions
/// included.
pub fn key_answers(
    policy: &Policy,
    key_arn: &str,
    exporter: Exporter<'_>,
) -> Vec<(&'static str, Answer)> {
    key_calls(key_arn)
        .iter()
        .map(|call| (call.action, answer(policy, exporter, call, true)))
        .collect()
}

/// How a bucket policy answers Macie's [`BUCKET_ACTIONS`]: writing a results object under
/// `prefix` (SSE-KMS with `key_arn`, as Macie writes) and locating the bucket. Conditions are
/// not judged here (`unconditioned_by` stays empty): the key's policy is where they matter.
pub fn bucket_answers(
    policy: &Policy,
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    exporter: Exporter<'_>,
) -> Vec<(&'static str, Answer)> {
    bucket_calls(bucket, prefix, key_arn, exporter)
        .iter()
        .map(|call| (call.action, answer(policy, exporter, call, false)))
        .collect()
}

/// Whether a bucket policy denies requests made without TLS (`aws:SecureTransport` false), for
/// anyone: reading and writing the objects under `prefix` and listing the bucket itself. A Deny
/// scoped to one action (`s3:GetObject` only) or to the objects alone leaves the rest of the
/// bucket open to plain HTTP, so it does not count.
pub fn denies_insecure_transport(policy: &Policy, bucket: &str, prefix: &str) -> bool {
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let object = format!("{bucket_arn}/{prefix}any-object");
    let insecure = [("aws:SecureTransport", "false")];
    let requests = [
        ("s3:GetObject", object.as_str()),
        ("s3:PutObject", object.as_str()),
        ("s3:ListBucket", bucket_arn.as_str()),
    ];
    [Principal::Anonymous, Principal::Aws("999999999999")]
        .iter()
        .all(|principal| {
            requests.iter().all(|(action, resource)| {
                policy
                    .evaluate(&Request::complete(*principal, action, resource, &insecure))
                    .decision
                    == Decision::ExplicitDeny
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k";
    const MACIE: Exporter<'static> = Exporter {
        account: "222222222222",
        region: "us-east-1",
        organization: &OrgMembership::Unknown,
    };

    /// The key's owner administers it: a statement that says nothing of Macie.
    const OWNER: &str = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
        "Action":"*","Resource":"*"}"#;

    fn key_policy(statements: &str) -> Policy {
        Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
        ))
        .expect("policy")
    }

    #[test]
    fn each_answer_of_a_key_policy() {
        let conditioned = r#"{"Sid":"Conditioned","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
            "Action":["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*",
            "Condition":{"StringEquals":{"aws:SourceAccount":"222222222222"}}}"#;
        let open = r#"{"Sid":"Open","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
            "Action":"kms:Encrypt","Resource":"*"}"#;
        let deny = r#"{"Sid":"NoMacie","Effect":"Deny","Principal":{"Service":"macie.amazonaws.com"},
            "Action":"kms:GenerateDataKey","Resource":"*"}"#;

        let answers = key_answers(&key_policy(conditioned), KEY, MACIE);
        assert!(answers.iter().all(|(_, a)| *a
            == Answer::Allowed {
                unconditioned_by: Vec::new()
            }));

        let answers = key_answers(&key_policy(&format!("{open},{deny}")), KEY, MACIE);
        assert_eq!(
            answers,
            vec![
                (
                    "kms:GenerateDataKey",
                    Answer::Denied {
                        by: vec!["NoMacie".into()]
                    }
                ),
                (
                    "kms:Encrypt",
                    Answer::Allowed {
                        unconditioned_by: vec!["Open".into()]
                    }
                ),
            ]
        );

        let answers = key_answers(&key_policy(OWNER), KEY, MACIE);
        assert!(answers.iter().all(|(_, a)| *a
            == Answer::NotAllowed {
                near_misses: Vec::new()
            }));
    }

    #[test]
    fn a_source_arn_that_wildcards_the_account_is_no_confused_deputy_condition() {
        let wildcard = r#"{"Sid":"AnyAccountsMacie","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
            "Action":["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*",
            "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:macie2:*:*:export-configuration:*"}}}"#;
        let organization = OrgMembership::Member {
            organization_id: Some("o-a1b2c3d4e5".into()),
            ou_path: Some("o-a1b2c3d4e5/r-ab12/".into()),
        };
        let exporter = Exporter {
            account: "222222222222",
            region: "us-east-1",
            organization: &organization,
        };
        for (_, answer) in key_answers(&key_policy(wildcard), KEY, exporter) {
            assert_eq!(
                answer,
                Answer::Allowed {
                    unconditioned_by: vec!["AnyAccountsMacie".into()]
                }
            );
        }
        let confined = wildcard.replace(
            r#""Condition":{"#,
            r#""Condition":{"StringEquals":{"aws:SourceOrgID":"o-a1b2c3d4e5"},"#,
        );
        for (_, answer) in key_answers(&key_policy(&confined), KEY, exporter) {
            assert_eq!(
                answer,
                Answer::Allowed {
                    unconditioned_by: Vec::new()
                }
            );
        }
    }

    #[test]
    fn a_tls_deny_must_cover_writes_and_the_bucket_too() {
        let deny = |actions: &str, resources: &str| {
            key_policy(&format!(
                r#"{{"Effect":"Deny","Principal":"*","Action":{actions},"Resource":{resources},
                "Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}"#
            ))
        };
        let everything = r#"["arn:aws:s3:::b","arn:aws:s3:::b/*"]"#;
        assert!(denies_insecure_transport(
            &deny(r#""s3:*""#, everything),
            "b",
            "macie/"
        ));
        assert!(!denies_insecure_transport(
            &deny(r#""s3:GetObject""#, everything),
            "b",
            "macie/"
        ));
        assert!(!denies_insecure_transport(
            &deny(r#""s3:*""#, r#""arn:aws:s3:::b/*""#),
            "b",
            "macie/"
        ));
    }

    #[test]
    fn macie_writes_its_results_encrypted_under_the_prefix() {
        let policy = key_policy(
            r#"{"Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},"Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::b/macie/*",
            "Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
            "Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        );
        let answers = bucket_answers(&policy, "b", "macie/", KEY, MACIE);
        assert!(matches!(
            answers[0],
            ("s3:PutObject", Answer::Allowed { .. })
        ));
        assert_eq!(
            answers[1],
            (
                "s3:GetBucketLocation",
                Answer::NotAllowed {
                    near_misses: Vec::new()
                }
            )
        );
        assert!(denies_insecure_transport(&policy, "b", "macie/"));
        assert!(
            !bucket_answers(&policy, "b", "other/", KEY, MACIE)
                .iter()
                .any(|(_, a)| matches!(a, Answer::Allowed { .. }))
        );
        assert!(!denies_insecure_transport(
            &key_policy(OWNER),
            "b",
            "macie/"
        ));
    }

    fn member(ou_path: Option<&str>) -> OrgMembership {
        OrgMembership::Member {
            organization_id: Some("o-a1b2c3d4e5".into()),
            ou_path: ou_path.map(str::to_owned),
        }
    }

    const MACIE_STATEMENT_HEAD: &str =
        r#""Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},"Resource":"*","#;

    #[test]
    fn org_wide_grants_hold_for_members_only() {
        let by_org = key_policy(&format!(
            r#"{{"Sid":"Org",{MACIE_STATEMENT_HEAD}"Action":["kms:GenerateDataKey","kms:Encrypt"],
            "Condition":{{"StringEquals":{{"aws:SourceOrgID":"o-a1b2c3d4e5"}}}}}}"#
        ));
        let in_org = member(None);
        let exporter = Exporter {
            organization: &in_org,
            ..MACIE
        };
        // Conditioned on the organization: no confused-deputy warning either.
        assert!(key_answers(&by_org, KEY, exporter).iter().all(|(_, a)| *a
            == Answer::Allowed {
                unconditioned_by: Vec::new()
            }));
        let standalone = Exporter {
            organization: &OrgMembership::Standalone,
            ..MACIE
        };
        assert!(matches!(
            &key_answers(&by_org, KEY, standalone)[0].1,
            Answer::NotAllowed { near_misses } if near_misses[0].label == "Org"
        ));
        assert!(matches!(
            &key_answers(&by_org, KEY, MACIE)[0].1,
            Answer::Uncertain { depends_on } if depends_on[0].conditions[0].key == "aws:SourceOrgID"
        ));
        let other_org = OrgMembership::Member {
            organization_id: Some("o-zzzzzzzzzz".into()),
            ou_path: None,
        };
        let outsider = Exporter {
            organization: &other_org,
            ..MACIE
        };
        let Answer::NotAllowed { near_misses } = &key_answers(&by_org, KEY, outsider)[0].1 else {
            panic!("another organization is not allowed");
        };
        assert_eq!(
            near_miss_clause(near_misses, &outsider).as_deref(),
            Some(
                "statement \"Org\" allows it only when aws:SourceOrgID is o-a1b2c3d4e5 \
                 (another organization)"
            )
        );
    }

    #[test]
    fn ou_path_grants_match_with_wildcards() {
        let by_ou = key_policy(
            r#"{"Sid":"Ou","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
            "Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
            "Condition":{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}},
            {"Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},"Action":"s3:GetBucketLocation",
            "Resource":"arn:aws:s3:::b"}"#,
        );
        let nested = member(Some(
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/",
        ));
        let exporter = Exporter {
            organization: &nested,
            ..MACIE
        };
        assert!(
            bucket_answers(&by_ou, "b", "", KEY, exporter)
                .iter()
                .all(|(_, a)| matches!(a, Answer::Allowed { .. }))
        );
        let elsewhere = member(Some("o-a1b2c3d4e5/r-ab12/ou-ab12-33333333/"));
        let outsider = Exporter {
            organization: &elsewhere,
            ..MACIE
        };
        assert!(matches!(
            &bucket_answers(&by_ou, "b", "", KEY, outsider)[0].1,
            Answer::NotAllowed { near_misses } if near_misses.len() == 1
        ));
    }

    #[test]
    fn sra_bucket_policy_is_uncertain_on_the_acl_header() {
        let sra = key_policy(
            r#"{"Sid":"DenyPutObjectUnlessMacie","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::b/*",
            "Condition":{"ForAnyValue:StringNotEquals":{"aws:CalledVia":"macie.amazonaws.com"}}},
            {"Sid":"SecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
            "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},
            {"Sid":"AWSBucketPermissionsCheck","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
            "Action":["s3:GetBucketAcl","s3:GetBucketLocation","s3:ListBucket"],"Resource":"arn:aws:s3:::b"},
            {"Sid":"AWSBucketDelivery","Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},
            "Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
            "Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}"#,
        );
        let answers = bucket_answers(&sra, "b", "macie/", KEY, MACIE);
        let Answer::Uncertain { depends_on } = &answers[0].1 else {
            panic!("PutObject depends on the ACL header: {answers:?}");
        };
        assert_eq!(
            uncertain_clause(
                "macie.amazonaws.com s3:PutObject under \"macie/\"",
                depends_on,
                "Macie can write"
            ),
            "allows macie.amazonaws.com s3:PutObject under \"macie/\" only when s3:x-amz-acl is \
             bucket-owner-full-control (statement \"AWSBucketDelivery\"); AWS does not document what \
             Macie's request holds for s3:x-amz-acl, so whether Macie can write cannot be proven"
        );
        assert!(matches!(answers[1].1, Answer::Allowed { .. }));
        assert!(denies_insecure_transport(&sra, "b", "macie/"));
    }

    #[test]
    fn a_source_arn_of_another_region_is_named() {
        let policy = key_policy(&format!(
            r#"{{"Sid":"AllowMacie",{MACIE_STATEMENT_HEAD}"Action":["kms:GenerateDataKey","kms:Encrypt"],
            "Condition":{{"StringEquals":{{"aws:SourceAccount":"222222222222"}},
            "ArnLike":{{"aws:SourceArn":"arn:aws:macie2:eu-west-1:222222222222:export-configuration:*"}}}}}}"#
        ));
        let Answer::NotAllowed { near_misses } = &key_answers(&policy, KEY, MACIE)[0].1 else {
            panic!("another Region's ARN does not allow");
        };
        assert_eq!(
            near_miss_clause(near_misses, &MACIE).as_deref(),
            Some(
                "statement \"AllowMacie\" allows it only when aws:SourceArn matches \
                 arn:aws:macie2:eu-west-1:222222222222:export-configuration:* (another Region)"
            )
        );
        let other_account = key_policy(&format!(
            r#"{{"Sid":"AllowMacie",{MACIE_STATEMENT_HEAD}"Action":"kms:GenerateDataKey",
            "Condition":{{"StringEquals":{{"aws:SourceAccount":"333333333333"}}}}}}"#
        ));
        let Answer::NotAllowed { near_misses } = &key_answers(&other_account, KEY, MACIE)[0].1
        else {
            panic!("another account does not allow");
        };
        assert_eq!(
            near_miss_clause(near_misses, &MACIE).as_deref(),
            Some(
                "statement \"AllowMacie\" allows it only when aws:SourceAccount is 333333333333 \
                 (another account)"
            )
        );
    }

    #[test]
    fn guardrails_only_deny() {
        let guardrail = |organization: &str| {
            key_policy(&format!(
                r#"{{"Sid":"EnforceConfusedDeputyProtection","Effect":"Deny","Principal":"*",
                "Action":["s3:*","kms:*"],"Resource":"*",
                "Condition":{{"StringNotEqualsIfExists":{{"aws:SourceOrgID":"{organization}"}},
                "Null":{{"aws:SourceAccount":"false"}},"Bool":{{"aws:PrincipalIsAWSService":"true"}}}}}}"#
            ))
        };
        let in_org = member(None);
        let exporter = Exporter {
            organization: &in_org,
            ..MACIE
        };
        assert!(
            key_guardrails(&guardrail("o-a1b2c3d4e5"), KEY, exporter)
                .iter()
                .all(|(_, g)| *g == Guardrail::Lets)
        );
        let denies = Guardrail::Denies {
            by: vec!["EnforceConfusedDeputyProtection".into()],
        };
        assert!(
            bucket_guardrails(&guardrail("o-zzzzzzzzzz"), "b", "macie/", KEY, exporter)
                .iter()
                .all(|(_, g)| *g == denies)
        );
        // Without the organization in evidence, the guardrail may deny.
        assert!(matches!(
            &key_guardrails(&guardrail("o-a1b2c3d4e5"), KEY, MACIE)[0].1,
            Guardrail::MayDeny { depends_on } if depends_on[0].conditions[0].key == "aws:SourceOrgID"
        ));
        // An Allow grants nothing: RCPFullAWSAccess alone lets everything through.
        let full_access =
            key_policy(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#);
        assert!(
            bucket_guardrails(&full_access, "b", "", KEY, exporter)
                .iter()
                .all(|(_, g)| *g == Guardrail::Lets)
        );
        let acl = key_policy(
            r#"{"Sid":"Acl","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*",
            "Condition":{"StringNotEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}"#,
        );
        let answers = bucket_guardrails(&acl, "b", "macie/", KEY, exporter);
        assert!(
            matches!(&answers[0].1, Guardrail::MayDeny { depends_on } if depends_on[0].label == "Acl")
        );
        assert_eq!(answers[1].1, Guardrail::Lets);
    }

    #[test]
    fn keys_absent_from_service_requests_decide() {
        // The data-perimeter shape: deny anyone outside the organization unless a service.
        let perimeter = key_policy(&format!(
            r#"{{"Sid":"Grant",{MACIE_STATEMENT_HEAD}"Action":"kms:*",
            "Condition":{{"StringEquals":{{"aws:SourceAccount":"222222222222"}}}}}},
            {{"Sid":"Perimeter","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
            "Condition":{{"StringNotEqualsIfExists":{{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}},
            "BoolIfExists":{{"aws:PrincipalIsAWSService":"false"}}}}}}"#
        ));
        assert!(
            key_answers(&perimeter, KEY, MACIE)
                .iter()
                .all(|(_, a)| matches!(a, Answer::Allowed { .. }))
        );
        // A principal ARN is in every signed request, but AWS does not document a service
        // principal's: a deny on it leaves the answer uncertain.
        let by_role = key_policy(&format!(
            r#"{{"Sid":"Grant",{MACIE_STATEMENT_HEAD}"Action":"kms:*"}},
            {{"Sid":"OnlyAdmins","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
            "Condition":{{"ArnNotLike":{{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}}}}}"#
        ));
        assert!(matches!(
            &key_answers(&by_role, KEY, MACIE)[0].1,
            Answer::Uncertain { depends_on } if depends_on.len() == 1 && depends_on[0].label == "OnlyAdmins"
        ));
    }
}
