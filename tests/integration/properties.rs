//! Hostile bytes never panic: property tests over every parser of untrusted input (policy
//! documents, evidence files, suppression files, configuration files) and the evaluation behind
//! them. Arbitrary input gives an error or a verdict. The policy evaluator also agrees with a
//! small reference model, written separately from `src/policy.rs`, on generated policies, and its
//! three-valued answers are sound: whatever the unknown keys turn out to be, an Allow stays
//! allowed and a Deny denied.
//!
//! Bounded (a few hundred cases each, seconds in all) and deterministic: a fixed seed, so that
//! `make test` gives the same cases every time; change `SEED` to explore others. A failing case
//! found here is fixed in the code and kept as a unit test beside it.

use std::collections::BTreeMap;
use std::io::Write;

use macie_audit::config::Config;
use macie_audit::evidence::{Evidence, RunEvidence};
use macie_audit::macie_access::{self, Exporter, OrgMembership};
use macie_audit::policy::{Decision, Policy, Principal, Request, UnlistedKeys};
use macie_audit::triage::Findings;
use macie_audit::triage::TriageMarks;
use macie_audit::triage::suppressions::{ActiveSuppressions, SuppressionFile};
use proptest::prelude::*;
use proptest::test_runner::{Config as Runner, RngSeed};
use serde_json::{Value, json};

const SEED: u64 = 0x6d61_6369_6561_7564;

fn runner(cases: u32) -> Runner {
    Runner {
        cases,
        rng_seed: RngSeed::Fixed(SEED),
        failure_persistence: None,
        ..Runner::default()
    }
}

/// A run's evidence as a scan against the emulator wrote it: accounts with a central repository
/// (bucket and key), their own repository, Macie off, Macie without a repository, a role refused,
/// a suspended account; two Regions.
const EVIDENCE: &str = include_str!("../fixtures/evidence.jsonl");

// ---------------------------------------------------------------------------------------------
// Policies: a reference model
// ---------------------------------------------------------------------------------------------

const AWS_PRINCIPALS: &[&str] = &[
    "*",
    "111111111111",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::222222222222:role/Audit",
    "arn:aws:iam::222222222222:role/*",
    "arn:aws:iam::333333333333:root",
];
const SERVICES: &[&str] = &[
    "macie.amazonaws.com",
    "MACIE.amazonaws.com",
    "macie.eu-south-1.amazonaws.com",
    "s3.amazonaws.com",
];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:PutObject",
    "s3:put*",
    "s3:Get?ucketLocation",
    "s3:GetBucketLocation",
    "kms:*",
    "kms:GenerateDataKey",
    "KMS:Encrypt",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket/macie/*",
    "arn:aws:s3:::BUCKET/*",
    "arn:aws:s3:::other/*",
    "arn:aws:kms:us-east-1:111111111111:key/*",
    "arn:aws:kms:*:111111111111:key/k",
];
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "StringEqualsIfExists",
    "StringNotEqualsIfExists",
    "ForAnyValue:StringEquals",
    "ForAnyValue:StringNotEquals",
    "ForAllValues:StringLike",
    "ForAllValues:StringNotEquals",
    "ArnLike",
    "ArnNotLikeIfExists",
    "Bool",
    "Null",
    UNKNOWN_OPERATOR,
];
/// An operator the evaluator does not know: its block never holds.
const UNKNOWN_OPERATOR: &str = "DateGreaterThan";
const KEYS: &[&str] = &[
    "aws:SourceAccount",
    "AWS:sourceaccount",
    "aws:SourceArn",
    "s3:x-amz-acl",
    "aws:SecureTransport",
];
const CONDITION_VALUES: &[&str] = &[
    "111111111111",
    "222222222222",
    "1111*",
    "arn:aws:macie2:us-east-1:111111111111:export-configuration:*",
    "arn:aws:macie2:*:*:*",
    "bucket-owner-full-control",
    "true",
    "false",
    "*",
    "",
];
/// What a request may hold for a key.
const REQUEST_VALUES: &[&str] = &[
    "111111111111",
    "222222222222",
    "arn:aws:macie2:us-east-1:111111111111:export-configuration:abc",
    "arn:aws:macie2:eu-west-1:222222222222:classification-job/x",
    "bucket-owner-full-control",
    "true",
    "false",
    "TRUE",
    "",
];
const REQUEST_ACTIONS: &[&str] = &[
    "s3:PutObject",
    "s3:GetBucketLocation",
    "kms:GenerateDataKey",
    "kms:Encrypt",
];
const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/macie/AWSLogs/x.gz",
    "arn:aws:kms:us-east-1:111111111111:key/k",
];
/// The distinct keys a request can hold (the model compares keys ignoring case).
const REQUEST_KEYS: &[&str] = &[
    "aws:SourceAccount",
    "aws:SourceArn",
    "s3:x-amz-acl",
    "aws:SecureTransport",
];

#[derive(Debug, Clone)]
enum ModelPrincipal {
    Service(&'static str),
    Aws(&'static str),
    Anonymous,
}

const REQUEST_PRINCIPALS: &[ModelPrincipal] = &[
    ModelPrincipal::Service("macie.amazonaws.com"),
    ModelPrincipal::Service("macie.eu-south-1.amazonaws.com"),
    ModelPrincipal::Aws("111111111111"),
    ModelPrincipal::Aws("arn:aws:sts::111111111111:assumed-role/Admin/me"),
    ModelPrincipal::Aws("arn:aws:iam::222222222222:role/Audit"),
    ModelPrincipal::Anonymous,
];

#[derive(Debug, Clone)]
enum PrincipalSpec {
    /// Neither `Principal` nor `NotPrincipal`.
    Missing,
    Star,
    Listed {
        aws: Vec<&'static str>,
        services: Vec<&'static str>,
    },
}

#[derive(Debug, Clone)]
struct StatementSpec {
    sid: Option<String>,
    allow: bool,
    not_principal: bool,
    principal: PrincipalSpec,
    not_action: bool,
    actions: Vec<&'static str>,
    /// `None`: neither `Resource` nor `NotResource`.
    resource: Option<(bool, Vec<&'static str>)>,
    /// Operator → key → values (a JSON object holds each once).
    conditions: BTreeMap<&'static str, BTreeMap<&'static str, Vec<&'static str>>>,
}

/// What a request holds for a key, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Present(&'static str),
    Absent,
    Unknown,
}

#[derive(Debug, Clone)]
struct RequestSpec {
    principal: ModelPrincipal,
    action: &'static str,
    resource: &'static str,
    /// One entry per [`REQUEST_KEYS`].
    keys: Vec<Held>,
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn some_of(items: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(pick(items), 1..=max)
}

fn principal_spec() -> impl Strategy<Value = PrincipalSpec> {
    prop_oneof![
        1 => Just(PrincipalSpec::Missing),
        1 => Just(PrincipalSpec::Star),
        4 => (
            proptest::collection::vec(pick(AWS_PRINCIPALS), 0..=2),
            proptest::collection::vec(pick(SERVICES), 0..=2),
        )
            .prop_filter("a principal names someone", |(aws, services)| {
                !aws.is_empty() || !services.is_empty()
            })
            .prop_map(|(aws, services)| PrincipalSpec::Listed { aws, services }),
    ]
}

fn statement_spec() -> impl Strategy<Value = StatementSpec> {
    (
        proptest::option::of("[A-Za-z0-9]{0,6}"),
        any::<bool>(),
        proptest::bool::weighted(0.15),
        principal_spec(),
        proptest::bool::weighted(0.2),
        some_of(ACTION_PATTERNS, 3),
        proptest::option::weighted(
            0.8,
            (proptest::bool::weighted(0.2), some_of(RESOURCE_PATTERNS, 2)),
        ),
        proptest::collection::btree_map(
            pick(OPERATORS),
            proptest::collection::btree_map(pick(KEYS), some_of(CONDITION_VALUES, 2), 0..=2),
            0..=2,
        ),
    )
        .prop_map(
            |(sid, allow, not_principal, principal, not_action, actions, resource, conditions)| {
                StatementSpec {
                    sid,
                    allow,
                    not_principal,
                    principal,
                    not_action,
                    actions,
                    resource,
                    conditions,
                }
            },
        )
}

fn held() -> impl Strategy<Value = Held> {
    prop_oneof![
        3 => pick(REQUEST_VALUES).prop_map(Held::Present),
        1 => Just(Held::Absent),
        1 => Just(Held::Unknown),
    ]
}

fn request_spec() -> impl Strategy<Value = RequestSpec> {
    (
        pick(REQUEST_PRINCIPALS),
        pick(REQUEST_ACTIONS),
        pick(REQUEST_RESOURCES),
        proptest::collection::vec(held(), REQUEST_KEYS.len()),
    )
        .prop_map(|(principal, action, resource, keys)| RequestSpec {
            principal,
            action,
            resource,
            keys,
        })
}

fn one_or_many(values: &[&str]) -> Value {
    match values {
        [one] => json!(one),
        many => json!(many),
    }
}

fn policy_json(statements: &[StatementSpec]) -> String {
    let statements: Vec<Value> = statements
        .iter()
        .map(|s| {
            let mut statement = serde_json::Map::new();
            if let Some(sid) = &s.sid {
                statement.insert("Sid".into(), json!(sid));
            }
            statement.insert(
                "Effect".into(),
                json!(if s.allow { "Allow" } else { "Deny" }),
            );
            let principal = match &s.principal {
                PrincipalSpec::Missing => None,
                PrincipalSpec::Star => Some(json!("*")),
                PrincipalSpec::Listed { aws, services } => {
                    let mut listed = serde_json::Map::new();
                    if !aws.is_empty() {
                        listed.insert("AWS".into(), one_or_many(aws));
                    }
                    if !services.is_empty() {
                        listed.insert("Service".into(), one_or_many(services));
                    }
                    Some(Value::Object(listed))
                }
            };
            if let Some(principal) = principal {
                let name = if s.not_principal {
                    "NotPrincipal"
                } else {
                    "Principal"
                };
                statement.insert(name.into(), principal);
            }
            let action = if s.not_action { "NotAction" } else { "Action" };
            statement.insert(action.into(), one_or_many(&s.actions));
            if let Some((negated, resources)) = &s.resource {
                let name = if *negated { "NotResource" } else { "Resource" };
                statement.insert(name.into(), one_or_many(resources));
            }
            if !s.conditions.is_empty() {
                let blocks: serde_json::Map<String, Value> = s
                    .conditions
                    .iter()
                    .map(|(operator, entries)| {
                        let entries: serde_json::Map<String, Value> = entries
                            .iter()
                            .map(|(key, values)| ((*key).to_owned(), one_or_many(values)))
                            .collect();
                        ((*operator).to_owned(), Value::Object(entries))
                    })
                    .collect();
                statement.insert("Condition".into(), Value::Object(blocks));
            }
            Value::Object(statement)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// Wildcards: `*` any sequence, `?` one character.
fn model_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => {
            model_glob(rest, text) || (!text.is_empty() && model_glob(pattern, &text[1..]))
        }
        Some(('?', rest)) => !text.is_empty() && model_glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && model_glob(rest, &text[1..]),
    }
}

fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let chars = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    model_glob(&chars(pattern), &chars(text))
}

fn account_of(who: &str) -> Option<&str> {
    let is_account = |s: &str| s.len() == 12 && s.chars().all(|c| c.is_ascii_digit());
    if is_account(who) {
        return Some(who);
    }
    let fields: Vec<&str> = who.splitn(6, ':').collect();
    (fields.len() == 6 && is_account(fields[4])).then(|| fields[4])
}

/// Whether a principal element names the caller: `*` everyone (anonymous included); an account
/// (its id or its `:root` ARN) every caller of that account; any other ARN by wildcards.
fn model_names(spec: &PrincipalSpec, caller: &ModelPrincipal) -> bool {
    let (aws, services) = match spec {
        PrincipalSpec::Missing => return false,
        PrincipalSpec::Star => return true,
        PrincipalSpec::Listed { aws, services } => (aws, services),
    };
    if aws.contains(&"*") {
        return true;
    }
    match caller {
        ModelPrincipal::Anonymous => false,
        ModelPrincipal::Service(name) => services.iter().any(|s| s.eq_ignore_ascii_case(name)),
        ModelPrincipal::Aws(who) => aws.iter().any(|listed| {
            let root_account = listed
                .strip_prefix("arn:aws:iam::")
                .and_then(|rest| rest.strip_suffix(":root"));
            match root_account.or_else(|| account_of(listed).filter(|a| a == listed)) {
                Some(account) => account_of(who) == Some(account),
                None => wildcard(listed, who, false),
            }
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    T,
    F,
    U,
}

fn parse_truth(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// ARNs field by field, each with wildcards; a pattern not shaped like an ARN as a whole.
fn arn_wildcard(pattern: &str, value: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    match (p.len() == 6, v.len() == 6) {
        (true, true) => p.iter().zip(&v).all(|(p, v)| wildcard(p, v, false)),
        (false, _) => wildcard(pattern, value, false),
        (true, false) => false,
    }
}

/// One condition entry, in IAM's rules for a missing key, three-valued for an unknown one.
fn model_entry(operator: &str, values: &[&str], held: Held) -> Tri {
    let (qualifier, rest) = match operator.split_once(':') {
        Some((qualifier, rest)) => (Some(qualifier), rest),
        None => (None, operator),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (negated, test): (bool, fn(&str, &str) -> bool) = match base {
        "StringEquals" => (false, |v, l| v == l),
        "StringNotEquals" => (true, |v, l| v == l),
        "StringEqualsIgnoreCase" => (false, |v, l| v.to_lowercase() == l.to_lowercase()),
        "StringLike" => (false, |v, l| wildcard(l, v, false)),
        "StringNotLike" => (true, |v, l| wildcard(l, v, false)),
        "ArnLike" => (false, |v, l| arn_wildcard(l, v)),
        "ArnNotLike" => (true, |v, l| arn_wildcard(l, v)),
        "Bool" => (false, |v, l| {
            parse_truth(v).is_some_and(|v| parse_truth(l) == Some(v))
        }),
        "Null" => (false, |_, _| false),
        _ => return Tri::F,
    };
    let value = match held {
        Held::Unknown => return Tri::U,
        Held::Absent => None,
        Held::Present(value) => Some(value),
    };
    let holds = if base == "Null" {
        values
            .iter()
            .any(|l| parse_truth(l) == Some(value.is_none()))
    } else {
        match value {
            None => {
                if_exists || qualifier == Some("ForAllValues") || (qualifier.is_none() && negated)
            }
            Some(value) => values.iter().any(|l| test(value, l)) != negated,
        }
    };
    if holds { Tri::T } else { Tri::F }
}

fn held_for(request: &RequestSpec, key: &str) -> Held {
    let index = REQUEST_KEYS
        .iter()
        .position(|k| k.eq_ignore_ascii_case(key))
        .expect("a key of the pool");
    request.keys[index]
}

/// The reference decision, and the statements that hold for certain, by label.
fn model_decision(
    statements: &[StatementSpec],
    request: &RequestSpec,
) -> (Decision, Vec<String>, Vec<String>) {
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    let (mut allow_unknown, mut deny_unknown) = (false, false);
    for (index, s) in statements.iter().enumerate() {
        let principal = model_names(&s.principal, &request.principal) != s.not_principal
            && !matches!(s.principal, PrincipalSpec::Missing);
        let action = s.actions.iter().any(|a| wildcard(a, request.action, true)) != s.not_action;
        let resource = match &s.resource {
            None => true,
            Some((negated, patterns)) => {
                patterns
                    .iter()
                    .any(|p| wildcard(p, request.resource, false))
                    != *negated
            }
        };
        if !(principal && action && resource) {
            continue;
        }
        let mut truth = Tri::T;
        for (operator, entries) in &s.conditions {
            if entries.is_empty() && *operator == UNKNOWN_OPERATOR {
                truth = Tri::F;
            }
            for (key, values) in entries {
                match model_entry(operator, values, held_for(request, key)) {
                    Tri::F => truth = Tri::F,
                    Tri::U if truth == Tri::T => truth = Tri::U,
                    _ => {}
                }
            }
        }
        let label = match &s.sid {
            Some(sid) if !sid.is_empty() => sid.clone(),
            _ => format!("#{index}"),
        };
        match (truth, s.allow) {
            (Tri::T, true) => allowed.push(label),
            (Tri::T, false) => denied.push(label),
            (Tri::U, true) => allow_unknown = true,
            (Tri::U, false) => deny_unknown = true,
            (Tri::F, _) => {}
        }
    }
    let decision = if !denied.is_empty() {
        Decision::ExplicitDeny
    } else if !allowed.is_empty() {
        if deny_unknown {
            Decision::Uncertain
        } else {
            Decision::Allow
        }
    } else if allow_unknown {
        Decision::Uncertain
    } else {
        Decision::ImplicitDeny
    };
    (decision, allowed, denied)
}

fn principal_of(model: &ModelPrincipal) -> Principal<'static> {
    match model {
        ModelPrincipal::Service(name) => Principal::Service(name),
        ModelPrincipal::Aws(who) => Principal::Aws(who),
        ModelPrincipal::Anonymous => Principal::Anonymous,
    }
}

/// Evaluates through the module: present keys in the context, absent ones listed as absent,
/// unknown ones left unlisted.
fn module_decision(policy: &Policy, request: &RequestSpec) -> macie_audit::policy::Evaluation {
    let context: Vec<(&str, &str)> = REQUEST_KEYS
        .iter()
        .zip(&request.keys)
        .filter_map(|(key, held)| match held {
            Held::Present(value) => Some((*key, *value)),
            _ => None,
        })
        .collect();
    let absent: Vec<&str> = REQUEST_KEYS
        .iter()
        .zip(&request.keys)
        .filter(|(_, held)| **held == Held::Absent)
        .map(|(key, _)| *key)
        .collect();
    let unknown = request.keys.contains(&Held::Unknown);
    policy.evaluate(&Request {
        principal: principal_of(&request.principal),
        action: request.action,
        resource: request.resource,
        context: &context,
        absent: &absent,
        unlisted: if unknown {
            UnlistedKeys::Unknown
        } else {
            UnlistedKeys::Absent
        },
    })
}

/// Every request the unknown keys of `request` could turn out to be (each absent or any value).
fn completions(request: &RequestSpec) -> Vec<RequestSpec> {
    let mut all = vec![request.clone()];
    for index in 0..REQUEST_KEYS.len() {
        if request.keys[index] != Held::Unknown {
            continue;
        }
        all = all
            .into_iter()
            .flat_map(|partial| {
                std::iter::once(Held::Absent)
                    .chain(REQUEST_VALUES.iter().map(|v| Held::Present(v)))
                    .map(move |choice| {
                        let mut complete = partial.clone();
                        complete.keys[index] = choice;
                        complete
                    })
            })
            .collect();
    }
    all
}

proptest! {
    #![proptest_config(runner(512))]

    #[test]
    fn the_evaluator_agrees_with_the_reference_model(
        statements in proptest::collection::vec(statement_spec(), 1..=4),
        request in request_spec(),
    ) {
        let text = policy_json(&statements);
        let policy = Policy::parse(&text).expect("generated policies are valid");
        let evaluation = module_decision(&policy, &request);
        let (decision, allowed, denied) = model_decision(&statements, &request);
        prop_assert_eq!(evaluation.decision, decision, "{}", text);
        prop_assert_eq!(evaluation.allowed_by, allowed, "{}", text);
        prop_assert_eq!(evaluation.denied_by, denied, "{}", text);
    }

    #[test]
    fn three_valued_answers_hold_whatever_the_unknown_keys_are(
        statements in proptest::collection::vec(statement_spec(), 1..=4),
        request in request_spec().prop_filter("at most two unknown keys", |r| {
            r.keys.iter().filter(|k| **k == Held::Unknown).count() <= 2
        }),
    ) {
        let text = policy_json(&statements);
        let policy = Policy::parse(&text).expect("generated policies are valid");
        let decision = module_decision(&policy, &request).decision;
        for complete in completions(&request) {
            let known = module_decision(&policy, &complete).decision;
            prop_assert_ne!(known, Decision::Uncertain, "a complete request is decided");
            match decision {
                Decision::Allow => prop_assert_eq!(known, Decision::Allow, "{}", text),
                Decision::ExplicitDeny => {
                    prop_assert_eq!(known, Decision::ExplicitDeny, "{}", text);
                }
                Decision::ImplicitDeny => prop_assert_ne!(known, Decision::Allow, "{}", text),
                Decision::Uncertain => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Policies: arbitrary documents
// ---------------------------------------------------------------------------------------------

/// Words policy documents are made of, so that arbitrary documents reach deep into the parser.
const POLICY_WORDS: &[&str] = &[
    "Version",
    "2012-10-17",
    "2008-10-17",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "*",
    "",
    "s3:PutObject",
    "kms:*",
    "macie.amazonaws.com",
    "arn:aws:s3:::bucket/*",
    "arn:aws:iam::111111111111:root",
    "111111111111",
    "StringEquals",
    "ForAllValues:StringNotLikeIfExists",
    "forANYvalue:stringlike",
    "NumericLessThan",
    "Null",
    "Bool",
    "aws:SourceAccount",
    "aws:SecureTransport",
    "aws:PrincipalTag/*",
    "${aws:username}",
    "\u{0}",
    "é",
    "🦀",
    "ForAllValues:",
    "IfExists",
    "::::::",
    "arn:",
    "?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        pick(POLICY_WORDS).prop_map(|w| json!(w)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((pick(POLICY_WORDS), inner), 0..6).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// Mostly policy-shaped documents with arbitrary parts.
fn policy_document() -> impl Strategy<Value = Value> {
    let statement =
        proptest::collection::vec((pick(POLICY_WORDS), json_value()), 0..8).prop_map(|pairs| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        });
    prop_oneof![
        1 => json_value(),
        4 => proptest::collection::vec(statement, 0..4)
            .prop_map(|statements| json!({"Version": "2012-10-17", "Statement": statements})),
    ]
}

/// Every answer the scanner derives from a policy, on every request it makes.
fn evaluate_everything(policy: &Policy) {
    let organization = OrgMembership::Member {
        organization_id: Some("o-a1b2c3d4e5".into()),
        ou_path: None,
    };
    for region in ["us-east-1", "eu-south-1"] {
        let exporter = Exporter {
            account: "111111111111",
            region,
            organization: &organization,
        };
        let key = "arn:aws:kms:us-east-1:111111111111:key/k";
        let _ = macie_access::key_answers(policy, key, exporter);
        let _ = macie_access::key_guardrails(policy, key, exporter);
        let _ = macie_access::bucket_answers(policy, "bucket", "macie/", key, exporter);
        let _ = macie_access::bucket_guardrails(policy, "bucket", "", key, exporter);
        let _ = macie_access::denies_insecure_transport(policy, "bucket", "macie/");
    }
    for principal in [
        Principal::Anonymous,
        Principal::Aws("arn:aws:iam::111111111111:role/Admin"),
        Principal::Service("macie.amazonaws.com"),
    ] {
        let evaluation = policy.evaluate(&Request {
            principal,
            action: "s3:PutObject",
            resource: "arn:aws:s3:::bucket/macie/x",
            context: &[
                ("aws:SourceAccount", "111111111111"),
                ("aws:SecureTransport", "1e400"),
            ],
            absent: &["aws:PrincipalTag/*"],
            unlisted: UnlistedKeys::Unknown,
        });
        for statement in evaluation.uncertain.iter().chain(&evaluation.near_misses) {
            for condition in &statement.conditions {
                let _ = condition.describe();
            }
        }
    }
}

proptest! {
    #![proptest_config(runner(512))]

    #[test]
    fn any_text_is_a_policy_or_an_error(text in ".{0,200}") {
        if let Ok(policy) = Policy::parse(&text) {
            evaluate_everything(&policy);
        }
    }

    #[test]
    fn any_document_is_a_policy_or_an_error_and_any_policy_is_evaluated(
        document in policy_document(),
    ) {
        if let Ok(policy) = Policy::parse(&document.to_string()) {
            evaluate_everything(&policy);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence files
// ---------------------------------------------------------------------------------------------

/// A change to a valid evidence file, as an edit, a crash or a damaged disk would make one.
#[derive(Debug, Clone)]
enum Damage {
    /// Cut at this fraction of its length.
    Truncate(f64),
    /// This line removed.
    DropLine(usize),
    /// This line twice.
    DuplicateLine(usize),
    /// Two lines swapped.
    SwapLines(usize, usize),
    /// Bytes overwritten from this fraction on.
    Overwrite(f64, Vec<u8>),
    /// One value of this line (the n-th leaf, depth first) replaced.
    Value(usize, usize, Value),
    /// One value of this line replaced by another of the same type.
    SameType(usize, usize, u64),
    /// Every timestamp replaced by this one (the first and last days chrono represents, …).
    Timestamps(&'static str),
}

const EXTREME_TIMESTAMPS: &[&str] = &[
    "+262142-12-31T23:59:59.999999999Z",
    "-262143-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
];

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Truncate),
        any::<usize>().prop_map(Damage::DropLine),
        any::<usize>().prop_map(Damage::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Damage::SwapLines(a, b)),
        (0.0..1.0f64, proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Overwrite(at, bytes)),
        (any::<usize>(), any::<usize>(), json_value())
            .prop_map(|(line, leaf, value)| Damage::Value(line, leaf, value)),
        (any::<usize>(), any::<usize>(), any::<u64>())
            .prop_map(|(line, leaf, seed)| Damage::SameType(line, leaf, seed)),
        pick(EXTREME_TIMESTAMPS).prop_map(Damage::Timestamps),
    ]
}

fn leaves(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(leaves).sum(),
        Value::Object(map) => map.values().map(leaves).sum(),
        _ => 1,
    }
}

/// Replaces the `n`-th leaf of `value` (depth first); true once replaced.
fn replace_nth(value: &mut Value, n: &mut usize, with: &dyn Fn(&Value) -> Value) -> bool {
    match value {
        Value::Array(items) => items.iter_mut().any(|item| replace_nth(item, n, with)),
        Value::Object(map) => map.values_mut().any(|item| replace_nth(item, n, with)),
        leaf if *n == 0 => {
            *leaf = with(leaf);
            true
        }
        _ => {
            *n -= 1;
            false
        }
    }
}

/// Replaces one leaf of `value`, chosen by `n` (modulo the number of leaves).
fn replace_leaf(value: &mut Value, n: usize, with: &dyn Fn(&Value) -> Value) {
    let count = leaves(value);
    if count > 0 {
        replace_nth(value, &mut (n % count), with);
    }
}

/// A value of the same JSON type, chosen by `seed`: hostile strings, extreme numbers and dates.
fn same_type(value: &Value, seed: u64) -> Value {
    const STRINGS: &[&str] = &[
        "",
        "*",
        "+262142-12-31T23:59:59Z",
        "-262143-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "1970-01-01T00:00:00Z",
        "arn:aws:kms:us-east-1:111111111111:key/",
        "arn:",
        "🦀\u{0}\u{202e}",
        "ENABLED",
        "PAUSED",
        "us-east-1",
        "aws:kms",
        "o-a1b2c3d4e5/r-ab12/",
        "{\"Statement\":[]}",
    ];
    match value {
        Value::String(_) => json!(STRINGS[(seed as usize) % STRINGS.len()]),
        Value::Number(_) => {
            let numbers = [
                json!(0),
                json!(-1),
                json!(u64::MAX),
                json!(i64::MIN),
                json!(1e308),
            ];
            numbers[(seed as usize) % numbers.len()].clone()
        }
        Value::Bool(b) => json!(!b),
        other => other.clone(),
    }
}

fn damaged(damage: &Damage) -> Vec<u8> {
    let bytes = EVIDENCE.as_bytes();
    let mut lines: Vec<String> = EVIDENCE.lines().map(str::to_owned).collect();
    let joined = |lines: &[String]| {
        let mut text = lines.join("\n");
        text.push('\n');
        text.into_bytes()
    };
    let count = lines.len();
    match damage {
        Damage::Truncate(at) => bytes[..(bytes.len() as f64 * at) as usize].to_vec(),
        Damage::DropLine(n) => {
            lines.remove(n % count);
            joined(&lines)
        }
        Damage::DuplicateLine(n) => {
            let line = lines[n % count].clone();
            lines.insert(n % count, line);
            joined(&lines)
        }
        Damage::SwapLines(a, b) => {
            lines.swap(a % count, b % count);
            joined(&lines)
        }
        Damage::Overwrite(at, with) => {
            let mut bytes = bytes.to_vec();
            let start = (bytes.len() as f64 * at) as usize;
            for (i, b) in with.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(start + i) {
                    *slot = *b;
                }
            }
            bytes
        }
        Damage::Value(line, leaf, value) => {
            let index = line % count;
            let mut record: Value = serde_json::from_str(&lines[index]).expect("a record");
            replace_leaf(&mut record, *leaf, &|_| value.clone());
            lines[index] = record.to_string();
            joined(&lines)
        }
        Damage::Timestamps(timestamp) => {
            fn retime(value: &mut Value, timestamp: &str) {
                match value {
                    Value::Array(items) => items.iter_mut().for_each(|v| retime(v, timestamp)),
                    Value::Object(map) => map.values_mut().for_each(|v| retime(v, timestamp)),
                    Value::String(text) if chrono::DateTime::parse_from_rfc3339(text).is_ok() => {
                        *text = timestamp.to_owned();
                    }
                    _ => {}
                }
            }
            for line in &mut lines {
                let mut record: Value = serde_json::from_str(line).expect("a record");
                retime(&mut record, timestamp);
                *line = record.to_string();
            }
            joined(&lines)
        }
        Damage::SameType(line, leaf, seed) => {
            let index = line % count;
            let mut record: Value = serde_json::from_str(&lines[index]).expect("a record");
            replace_leaf(&mut record, *leaf, &|old| same_type(old, *seed));
            lines[index] = record.to_string();
            joined(&lines)
        }
    }
}

/// Reads evidence both ways (account by account, and whole) and judges what reads.
fn read_and_judge(bytes: &[u8]) {
    let mut file = tempfile::NamedTempFile::new().expect("temp");
    file.write_all(bytes).expect("write");
    if let Ok(evidence) = Evidence::open(file.path()) {
        let _ = Findings::new(&evidence, &TriageMarks::NONE).collect();
    }
    if let Ok(run) = RunEvidence::load(file.path()) {
        let _ = Findings::new(&Evidence::in_memory(run), &TriageMarks::NONE).collect();
    }
}

#[test]
fn the_evidence_fixture_reads_and_judges() {
    let mut file = tempfile::NamedTempFile::new().expect("temp");
    file.write_all(EVIDENCE.as_bytes()).expect("write");
    let evidence = Evidence::open(file.path()).expect("the fixture is a run");
    let findings = Findings::new(&evidence, &TriageMarks::NONE)
        .collect()
        .expect("judged");
    assert!(findings.len() > 20);
}

proptest! {
    #![proptest_config(runner(256))]

    #[test]
    fn damaged_evidence_is_an_error_or_a_run(damage in damage()) {
        read_and_judge(&damaged(&damage));
    }

    #[test]
    fn any_bytes_are_an_error_or_a_run(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_and_judge(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Suppression and configuration files
// ---------------------------------------------------------------------------------------------

/// A TOML value from pieces these files are made of.
fn toml_value(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        pick(words).prop_map(|w| format!("{w:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        prop_oneof![
            Just("0".to_owned()),
            Just("1".to_owned()),
            Just("10000".to_owned()),
            Just("10001".to_owned()),
            Just("4611686018427387904".to_owned()),
            Just("9223372036854775807".to_owned()),
            Just("-1".to_owned()),
        ],
        any::<bool>().prop_map(|b| b.to_string()),
        prop_oneof![
            Just("2027-03-31".to_owned()),
            Just("1979-05-27T07:32:00Z".to_owned()),
            Just("9999-12-31".to_owned()),
            Just("0000-01-01".to_owned()),
            Just("nan".to_owned()),
            Just("inf".to_owned()),
            Just("1e400".to_owned()),
        ],
        ".{0,10}".prop_map(|s| format!("{s:?}")),
    ];
    prop_oneof![
        4 => scalar.clone(),
        1 => proptest::collection::vec(scalar, 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
    ]
}

const SUPPRESSION_KEYS: &[&str] = &[
    "rule",
    "account",
    "region",
    "resource",
    "justification",
    "owner",
    "expires",
    "unknown",
];
const SUPPRESSION_WORDS: &[&str] = &[
    "MACIE-00*",
    "MACIE-005",
    "*",
    "**",
    "",
    "1111*",
    "111111111111",
    "us-*",
    "arn:aws:s3:::legacy-*",
    "Legacy repository (SEC-123)",
    "security@example.com",
    "2027-03-31",
    "2020-02-30",
    "not a date",
    "?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b",
];

fn suppression_file() -> impl Strategy<Value = String> {
    let entry = proptest::collection::btree_map(
        pick(SUPPRESSION_KEYS),
        toml_value(SUPPRESSION_WORDS),
        0..8,
    );
    prop_oneof![
        4 => proptest::collection::vec(entry, 0..4).prop_map(|entries| {
            entries
                .into_iter()
                .map(|entry| {
                    let fields: Vec<String> =
                        entry.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("[[suppression]]\n{}\n", fields.join("\n"))
                })
                .collect::<String>()
        }),
        1 => ".{0,120}",
    ]
}

proptest! {
    #![proptest_config(runner(256))]

    #[test]
    fn any_suppression_file_is_entries_or_an_error_and_marks_findings(text in suppression_file()) {
        let Ok(file) = SuppressionFile::parse(&text) else {
            return Ok(());
        };
        let mut evidence_file = tempfile::NamedTempFile::new().expect("temp");
        evidence_file.write_all(EVIDENCE.as_bytes()).expect("write");
        let evidence = Evidence::open(evidence_file.path()).expect("the fixture");
        let findings = Findings::new(&evidence, &TriageMarks::NONE).collect().expect("judged");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
        let active = ActiveSuppressions::new(&file, today);
        let mut tally = macie_audit::triage::suppressions::SuppressionTally::default();
        for mut finding in findings {
            active.mark(&mut finding);
            tally.add(&finding);
        }
        let _ = active.report(tally);
    }
}

/// Every key of the configuration file, by table.
const CONFIG_KEYS: &[(&str, &[&str])] = &[
    (
        "access",
        &[
            "role_name",
            "external_id",
            "session_name",
            "session_duration_seconds",
            "management_role_arn",
            "assume_role_in_own_account",
            "home_region",
            "remediation_role_name",
        ],
    ),
    (
        "scope",
        &[
            "accounts",
            "exclude_accounts",
            "organizational_units",
            "exclude_organizational_units",
            "regions",
        ],
    ),
    ("concurrency", &["accounts", "requests"]),
    (
        "requests",
        &[
            "max_attempts",
            "initial_backoff_ms",
            "max_backoff_ms",
            "connect_timeout_ms",
            "attempt_timeout_ms",
            "operation_timeout_ms",
        ],
    ),
    ("output", &["directory", "csv_bom"]),
    ("rules", &["member_repository", "unknown"]),
    (
        "remediation",
        &[
            "key_prefix",
            "bucket_name_template",
            "key_alias",
            "central_bucket",
            "central_key_arn",
            "central_bucket_owner",
        ],
    ),
];
const CONFIG_WORDS: &[&str] = &[
    "OrganizationAccountAccessRole",
    "macie-audit",
    "arn:aws:iam::123456789012:role/Audit",
    "arn:aws:kms:us-east-1:123456789012:key/k",
    "us-east-1",
    "all",
    "eu-south-1",
    "123456789012",
    "ou-ab12-34cd5678",
    "o-a1b2c3d4e5/r-ab12/ou-ab12-34cd5678/",
    "r-ab12",
    "reports",
    "macie/",
    "macie-results-{account}-{region}",
    "{account}{region}{account}",
    "alias/macie",
    "own",
    "administrator",
    "",
];

fn config_file() -> impl Strategy<Value = String> {
    let table = |(name, keys): &'static (&'static str, &'static [&'static str])| {
        proptest::collection::btree_map(pick(keys), toml_value(CONFIG_WORDS), 0..4).prop_map(
            move |entries| {
                let fields: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                format!("[{name}]\n{}\n", fields.join("\n"))
            },
        )
    };
    let tables: Vec<_> = CONFIG_KEYS.iter().map(table).collect();
    let fields: Vec<(&str, &str)> = CONFIG_KEYS
        .iter()
        .flat_map(|(table, keys)| keys.iter().map(move |key| (*table, *key)))
        .collect();
    // A few keys set, the rest left to their defaults: valid but for those values, so that
    // extreme values reach what runs with an accepted configuration.
    let few = proptest::collection::btree_map(
        proptest::sample::select(fields),
        toml_value(CONFIG_WORDS),
        1..=3,
    )
    .prop_map(|fields| {
        let mut tables: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for ((table, key), value) in fields {
            tables
                .entry(table)
                .or_default()
                .push(format!("{key} = {value}"));
        }
        tables
            .into_iter()
            .map(|(table, lines)| format!("[{table}]\n{}\n", lines.join("\n")))
            .collect::<String>()
    });
    prop_oneof![
        3 => few,
        3 => (proptest::sample::subsequence((0..tables.len()).collect::<Vec<_>>(), 0..=tables.len()), tables)
            .prop_map(|(chosen, texts)| chosen.into_iter().map(|i| texts[i].clone()).collect::<String>()),
        1 => ".{0,120}",
    ]
}

proptest! {
    #![proptest_config(runner(256))]

    /// A configuration the parser accepts can be run with: the AWS environment it describes is
    /// set up (no call is made) and its Regions listed.
    #[test]
    fn any_configuration_file_is_a_configuration_or_an_error(text in config_file()) {
        let Ok(config) = Config::parse(&text) else {
            return Ok(());
        };
        let _ = config.regions();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let env = macie_audit::aws::AwsEnvironment::load(std::sync::Arc::new(config)).await;
            let _ = env.s3(env.caller(), "123456789012", "us-east-1");
        });
    }
}
