//! What Macie's export of discovery results asks of a repository's policies: the requests Macie
//! makes to the key and the bucket (principal, action, resource, condition keys), and how a policy
//! answers each. The rules judge repositories with it (MACIE-003, MACIE-004) and remediation finds
//! the gaps it must close with it, so the two can never disagree on what Macie needs.

use crate::policy::{Decision, Policy, Principal, Request};
use crate::regions::macie_principal;

/// The KMS actions Macie needs on the repository key.
pub const KEY_ACTIONS: [&str; 2] = ["kms:GenerateDataKey", "kms:Encrypt"];

/// The S3 actions Macie needs on the repository bucket.
pub const BUCKET_ACTIONS: [&str; 2] = ["s3:PutObject", "s3:GetBucketLocation"];

/// Macie exporting from one account and Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exporter<'a> {
    /// The account whose Macie writes.
    pub account: &'a str,
    /// Its Region.
    pub region: &'a str,
}

impl Exporter<'_> {
    /// Macie's service principal in the Region.
    pub fn principal(&self) -> String {
        macie_principal(self.region)
    }

    /// The condition keys of Macie's requests, with or without the confused-deputy keys
    /// (`aws:SourceAccount`, `aws:SourceArn`).
    fn context(&self, with_source: bool) -> Vec<(String, String)> {
        let mut context = vec![("aws:SecureTransport".to_owned(), "true".to_owned())];
        if with_source {
            context.push(("aws:SourceAccount".into(), self.account.to_owned()));
            context.push((
                "aws:SourceArn".into(),
                format!(
                    "arn:aws:macie2:{}:{}:export-configuration:*",
                    self.region, self.account
                ),
            ));
        }
        context
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
    /// Not allowed by any statement.
    NotAllowed,
}

/// How `policy` answers Macie's `action` on `resource`, with `extra` condition keys; with
/// `conditions`, whether it also allows the request without the confused-deputy keys.
fn answer(
    policy: &Policy,
    exporter: Exporter<'_>,
    action: &str,
    resource: &str,
    extra: &[(String, String)],
    conditions: bool,
) -> Answer {
    let principal = exporter.principal();
    let evaluate = |with_source: bool| {
        let mut context = exporter.context(with_source);
        context.extend_from_slice(extra);
        let context: Vec<(&str, &str)> = context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        policy.evaluate(&Request {
            principal: Principal::Service(&principal),
            action,
            resource,
            context: &context,
        })
    };
    let with_source = evaluate(true);
    match with_source.decision {
        Decision::Allow if conditions => {
            let without = evaluate(false);
            Answer::Allowed {
                unconditioned_by: if without.decision == Decision::Allow {
                    without.allowed_by
                } else {
                    Vec::new()
                },
            }
        }
        Decision::Allow => Answer::Allowed {
            unconditioned_by: Vec::new(),
        },
        Decision::ExplicitDeny => Answer::Denied {
            by: with_source.denied_by,
        },
        Decision::ImplicitDeny => Answer::NotAllowed,
    }
}

/// How a key policy answers Macie's [`KEY_ACTIONS`] on `key_arn`, confused-deputy conditions
/// included.
pub fn key_answers(
    policy: &Policy,
    key_arn: &str,
    exporter: Exporter<'_>,
) -> Vec<(&'static str, Answer)> {
    KEY_ACTIONS
        .iter()
        .map(|action| {
            (
                *action,
                answer(policy, exporter, action, key_arn, &[], true),
            )
        })
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
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let results_object = format!(
        "{bucket_arn}/{prefix}AWSLogs/{}/Macie/{}/macie-audit-probe.jsonl.gz",
        exporter.account, exporter.region
    );
    let encryption = [
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
        (
            "s3:PutObject",
            answer(
                policy,
                exporter,
                "s3:PutObject",
                &results_object,
                &encryption,
                false,
            ),
        ),
        (
            "s3:GetBucketLocation",
            answer(
                policy,
                exporter,
                "s3:GetBucketLocation",
                &bucket_arn,
                &encryption,
                false,
            ),
        ),
    ]
}

/// Whether a bucket policy denies requests made without TLS (`aws:SecureTransport` false) to
/// the objects under `prefix`, for anyone.
pub fn denies_insecure_transport(policy: &Policy, bucket: &str, prefix: &str) -> bool {
    let object = format!("arn:aws:s3:::{bucket}/{prefix}any-object");
    let insecure = [("aws:SecureTransport", "false")];
    [Principal::Anonymous, Principal::Aws("999999999999")]
        .iter()
        .all(|principal| {
            policy
                .evaluate(&Request {
                    principal: *principal,
                    action: "s3:GetObject",
                    resource: &object,
                    context: &insecure,
                })
                .decision
                == Decision::ExplicitDeny
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k";
    const MACIE: Exporter<'static> = Exporter {
        account: "222222222222",
        region: "us-east-1",
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
        assert!(answers.iter().all(|(_, a)| *a == Answer::NotAllowed));
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
        assert_eq!(answers[1], ("s3:GetBucketLocation", Answer::NotAllowed));
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
}
