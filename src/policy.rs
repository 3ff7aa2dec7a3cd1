//! IAM policy documents: parsing, and evaluation of one request against them.
//!
//! This is AWS's policy evaluation logic restricted to a single resource-based policy (an S3
//! bucket policy or a KMS key policy): an explicit `Deny` wins over any `Allow`, and a request
//! that no statement allows is implicitly denied. Identity policies, SCPs, permission boundaries,
//! ACLs and grants are out of scope.
//!
//! **Three-valued evaluation.** A request's condition keys are of three kinds: present with a
//! value ([`Request::context`]), known absent ([`Request::absent`], or every unlisted key with
//! [`UnlistedKeys::Absent`]), or unknown (unlisted, with [`UnlistedKeys::Unknown`]): a request
//! AWS makes whose headers it does not document may or may not carry them. A condition entry on
//! an unknown key is unknown, whatever its operator (`…IfExists`, `ForAllValues:` and `Null` hold
//! for an absent key but test a present one). Entries and blocks combine by AND in three-valued
//! logic: one failing entry fails the statement, otherwise one unknown entry leaves it unknown.
//! Then a holding `Deny` gives [`Decision::ExplicitDeny`]; a holding `Allow` gives
//! [`Decision::Allow`] unless an unknown `Deny` could overturn it; an unknown `Allow` without a
//! holding one, or an `Allow` with an unknown `Deny`, gives [`Decision::Uncertain`]. The
//! [`Evaluation`] names the statements an uncertain decision depends on, with their conditions
//! on unknown keys, and the statements that match principal, action and resource but fail on
//! known keys (which key, which wanted values, and what the request holds).
//!
//! For a missing key, IAM's rules apply: a plain operator does not match, a negated one
//! (`StringNotEquals`, `ArnNotLike`…) does, `…IfExists` matches, `ForAnyValue:` does not
//! (the empty set has no value that matches), `ForAllValues:` does, and `Null` tests absence.
//!
//! Choices a caller must know, where AWS leaves room or this module simplifies:
//! - A statement with neither `Principal` nor `NotPrincipal` matches **nobody** (resource
//!   policies must name a principal; such a statement cannot grant or deny anything here).
//! - A statement with neither `Resource` nor `NotResource` matches **every** resource (KMS key
//!   policies sometimes omit it; the key policy applies to its own key only).
//! - `Federated` and `CanonicalUser` principals are validated but never match a [`Principal`].
//! - An unknown condition operator (e.g. `IpAddress`, `DateGreaterThan`) makes its statement's
//!   condition fail: conservative for `Allow` (never grants), permissive for `Deny` (never
//!   denies). The statement is kept; parsing does not fail.
//! - Policy variables such as `${aws:username}` are not substituted; they match literally.
//! - Context values are single-valued: when a key occurs twice in [`Request::context`], the first
//!   entry wins.
//! - An unknown operator fails its block whatever the key (it is not made unknown): evaluating
//!   it would need its semantics, missing-key rule included.
//! - Condition values that cannot be read for their operator (a `Bool` value that is not
//!   `true`/`false`, a non-number for `Numeric…`) never match; for `NumericNotEquals` the context
//!   value must itself be a number for the condition to hold.

use std::fmt;

use serde_json::{Map, Value};

/// Why a policy document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid policy document: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    /// An AWS service principal, e.g. `macie.amazonaws.com`.
    Service(&'a str),
    /// An AWS principal: a 12-digit account id, or an IAM/STS ARN
    /// (`arn:aws:iam::111111111111:role/Admin`).
    Aws(&'a str),
    /// An unauthenticated caller.
    Anonymous,
}

/// What a request says of a condition key it does not list in [`Request::context`] or
/// [`Request::absent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlistedKeys {
    /// Absent: the request's every key is known (a probe such as "would anyone be denied without
    /// TLS?", whose context is the whole request).
    Absent,
    /// Unknown: the key may be present with any value, or absent (a request AWS makes whose
    /// headers it does not document, such as Macie's `s3:PutObject`).
    Unknown,
}

/// One request to evaluate against a policy.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who makes the request.
    pub principal: Principal<'a>,
    /// The action, e.g. `s3:PutObject` or `kms:GenerateDataKey`.
    pub action: &'a str,
    /// The resource ARN, e.g. `arn:aws:s3:::bucket/prefix/AWSLogs/1/Macie/us-east-1/x.gz`.
    pub resource: &'a str,
    /// The condition keys present in the request and their values, e.g.
    /// `("aws:SourceAccount", "111111111111")`. Keys are compared case-insensitively.
    pub context: &'a [(&'a str, &'a str)],
    /// Keys known to be absent from the request, compared case-insensitively; an entry ending in
    /// `/*` names every key it is a prefix of (`aws:PrincipalTag/*`). A key in `context` is
    /// present whatever this says.
    pub absent: &'a [&'a str],
    /// What every other key is.
    pub unlisted: UnlistedKeys,
}

impl<'a> Request<'a> {
    /// A request whose every condition key is in `context`: any other key is absent.
    #[must_use]
    pub const fn complete(
        principal: Principal<'a>,
        action: &'a str,
        resource: &'a str,
        context: &'a [(&'a str, &'a str)],
    ) -> Request<'a> {
        Request {
            principal,
            action,
            resource,
            context,
            absent: &[],
            unlisted: UnlistedKeys::Absent,
        }
    }
}

/// The outcome of evaluating a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// At least one statement allows the request and none denies it.
    Allow,
    /// At least one `Deny` statement matches the request.
    ExplicitDeny,
    /// No statement matches: denied by default.
    ImplicitDeny,
    /// The decision depends on keys whose values are unknown: an `Allow` holds, but a `Deny`
    /// would hold for some values of those keys; or no `Allow` holds for certain but one would
    /// for some values. [`Evaluation::uncertain`] names the statements and keys.
    Uncertain,
}

/// A statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

/// One condition entry of a statement, as the policy writes it, and what the request holds for
/// its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCondition {
    /// The operator as the policy spells it, e.g. `ForAnyValue:StringLike`.
    pub operator: String,
    /// The condition key as the policy spells it, e.g. `aws:SourceOrgPaths`.
    pub key: String,
    /// The values the policy lists for it.
    pub values: Vec<String>,
    /// The request's value for the key: `None` when the key is absent or its value unknown.
    pub found: Option<String>,
}

/// A statement that matches a request's principal, action and resource, with the condition
/// entries that decide whether it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionedStatement {
    /// The statement's `Sid`, or `#<index>` (0-based) when it has no (or an empty) `Sid`.
    pub label: String,
    /// Its effect.
    pub effect: Effect,
    /// In [`Evaluation::uncertain`]: the entries on keys of unknown value (every other entry
    /// holds). In [`Evaluation::near_misses`]: the entries that fail on known keys (empty only
    /// for a block of an unknown operator without keys).
    pub conditions: Vec<KeyCondition>,
}

/// The decision and the statements that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The final decision.
    pub decision: Decision,
    /// Labels of every matching `Allow` statement (even when a `Deny` wins): the `Sid`, or
    /// `#<index>` (0-based) when the statement has no (or an empty) `Sid`.
    pub allowed_by: Vec<String>,
    /// Labels of every matching `Deny` statement, labelled as in `allowed_by`.
    pub denied_by: Vec<String>,
    /// Statements that would match for some values of keys whose values are unknown, and would
    /// not for others.
    pub uncertain: Vec<ConditionedStatement>,
    /// Statements that match the principal, action and resource but not the conditions, on
    /// keys whose values (or absence) are known.
    pub near_misses: Vec<ConditionedStatement>,
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses a policy document (JSON text).
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the statement at fault, on invalid JSON and on shapes AWS would
    /// reject: a missing or empty `Statement`, unknown top-level or statement keys, an `Effect`
    /// other than `Allow`/`Deny`, both or neither of `Action`/`NotAction`, both `Principal` and
    /// `NotPrincipal`, both `Resource` and `NotResource`, or values of the wrong JSON type.
    /// Unknown condition operators are kept (see the module documentation).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let document: Value =
            serde_json::from_str(text).map_err(|e| PolicyError(format!("not valid JSON: {e}")))?;
        parse_document(&document).map_err(PolicyError)
    }

    /// Evaluates one request. Each statement whose principal, action and resource match is
    /// judged on its conditions: it holds, fails, or (on keys of unknown value) is uncertain.
    /// A holding `Deny` gives [`Decision::ExplicitDeny`]; otherwise a holding `Allow` gives
    /// [`Decision::Allow`], unless an uncertain `Deny` could overturn it
    /// ([`Decision::Uncertain`]); otherwise an uncertain `Allow` gives [`Decision::Uncertain`];
    /// otherwise [`Decision::ImplicitDeny`] (an uncertain `Deny` alone changes nothing: the
    /// request is denied either way).
    #[must_use]
    pub fn evaluate(&self, request: &Request<'_>) -> Evaluation {
        let mut allowed_by = Vec::new();
        let mut denied_by = Vec::new();
        let mut uncertain = Vec::new();
        let mut near_misses = Vec::new();
        for statement in self.statements.iter().filter(|s| s.targets(request)) {
            let judged = statement.judge_conditions(request);
            let conditioned = |conditions| ConditionedStatement {
                label: statement.label.clone(),
                effect: statement.effect,
                conditions,
            };
            match (judged.truth, statement.effect) {
                (Truth::True, Effect::Allow) => allowed_by.push(statement.label.clone()),
                (Truth::True, Effect::Deny) => denied_by.push(statement.label.clone()),
                (Truth::Unknown, _) => uncertain.push(conditioned(judged.unknown)),
                (Truth::False, _) => near_misses.push(conditioned(judged.failed)),
            }
        }
        let uncertain_with = |effect| {
            uncertain
                .iter()
                .any(|s: &ConditionedStatement| s.effect == effect)
        };
        let decision = if !denied_by.is_empty() {
            Decision::ExplicitDeny
        } else if !allowed_by.is_empty() {
            if uncertain_with(Effect::Deny) {
                Decision::Uncertain
            } else {
                Decision::Allow
            }
        } else if uncertain_with(Effect::Allow) {
            Decision::Uncertain
        } else {
            Decision::ImplicitDeny
        };
        Evaluation {
            decision,
            allowed_by,
            denied_by,
            uncertain,
            near_misses,
        }
    }
}

impl KeyCondition {
    /// The condition in words, e.g. `s3:x-amz-acl is bucket-owner-full-control` or
    /// `some value of aws:SourceOrgPaths matches o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*`. Empty
    /// values are spelled out, so the text never ends in nothing.
    #[must_use]
    pub fn describe(&self) -> String {
        let key = &self.key;
        let Some(operator) = parse_operator(&self.operator) else {
            return format!(
                "{key} satisfies {} {}",
                self.operator,
                listed_values(&self.values, " or ")
            );
        };
        if operator.comparison == Comparison::Null {
            let wants = |absent| self.values.iter().any(|v| parse_bool(v) == Some(absent));
            return match (wants(true), wants(false)) {
                (true, false) => format!("{key} is absent"),
                (false, true) => format!("{key} is present"),
                (true, true) => format!("{key} is absent or present"),
                (false, false) => format!("{key} is tested by Null with no true/false value"),
            };
        }
        let subject = match operator.qualifier {
            SetQualifier::Single => key.clone(),
            SetQualifier::ForAnyValue => format!("some value of {key}"),
            SetQualifier::ForAllValues => format!("every value of {key}"),
        };
        let like = matches!(
            operator.comparison,
            Comparison::StringLike | Comparison::ArnLike
        );
        let positive = match operator.comparison {
            _ if like => "matches",
            Comparison::NumericLessThan => "is less than",
            Comparison::NumericLessThanEquals => "is at most",
            Comparison::NumericGreaterThan => "is greater than",
            Comparison::NumericGreaterThanEquals => "is at least",
            _ => "is",
        };
        let phrase = match (operator.negated, self.values.len()) {
            (false, _) => format!("{positive} {}", listed_values(&self.values, " or ")),
            (true, 1) if like => format!("does not match {}", listed_values(&self.values, "")),
            (true, 1) => format!("is not {}", listed_values(&self.values, "")),
            (true, _) if like => format!("matches none of {}", listed_values(&self.values, ", ")),
            (true, _) => format!("is none of {}", listed_values(&self.values, ", ")),
        };
        let ignoring_case = if operator.comparison == Comparison::StringEqualsIgnoreCase {
            " (ignoring case)"
        } else {
            ""
        };
        let or_absent = if operator.if_exists {
            ", or is absent"
        } else {
            ""
        };
        format!("{subject} {phrase}{ignoring_case}{or_absent}")
    }
}

/// Policy values for a message: joined by `separator`, an empty one spelled out.
fn listed_values(values: &[String], separator: &str) -> String {
    if values.is_empty() {
        return "no value".to_owned();
    }
    values
        .iter()
        .map(|v| {
            if v.is_empty() {
                "an empty value".to_owned()
            } else {
                v.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(separator)
}

// ---------------------------------------------------------------------------------------------
// The parsed model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Statement {
    label: String,
    effect: Effect,
    principal: PrincipalClause,
    action: Patterns,
    /// `None`: the statement has no `Resource`/`NotResource` and matches every resource.
    resource: Option<Patterns>,
    conditions: Vec<ConditionBlock>,
}

#[derive(Debug, Clone)]
enum PrincipalClause {
    /// Neither `Principal` nor `NotPrincipal`: matches nobody.
    Absent,
    Principal(PrincipalSet),
    NotPrincipal(PrincipalSet),
}

/// The principals a `Principal`/`NotPrincipal` element lists.
#[derive(Debug, Clone, Default)]
struct PrincipalSet {
    /// `"*"` or `{"AWS": "*"}`: every principal, anonymous included.
    everyone: bool,
    aws: Vec<String>,
    services: Vec<String>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: wildcard patterns, possibly negated.
#[derive(Debug, Clone)]
struct Patterns {
    negated: bool,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct ConditionBlock {
    /// The operator as the policy spells it, for messages.
    name: String,
    /// `None`: an operator this module does not know; the block never holds.
    operator: Option<Operator>,
    entries: Vec<ConditionEntry>,
}

#[derive(Debug, Clone)]
struct ConditionEntry {
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    comparison: Comparison,
    negated: bool,
    qualifier: SetQualifier,
    if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnLike,
    Bool,
    Null,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
}

/// Operator names (without set prefix or `IfExists`), what they compare, and whether negated.
const OPERATORS: &[(&str, Comparison, bool)] = &[
    ("StringEquals", Comparison::StringEquals, false),
    ("StringNotEquals", Comparison::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Comparison::StringLike, false),
    ("StringNotLike", Comparison::StringLike, true),
    // AWS documents ArnEquals as matching like ArnLike, wildcards included.
    ("ArnEquals", Comparison::ArnLike, false),
    ("ArnLike", Comparison::ArnLike, false),
    ("ArnNotEquals", Comparison::ArnLike, true),
    ("ArnNotLike", Comparison::ArnLike, true),
    ("Bool", Comparison::Bool, false),
    ("Null", Comparison::Null, false),
    ("NumericEquals", Comparison::NumericEquals, false),
    ("NumericNotEquals", Comparison::NumericEquals, true),
    ("NumericLessThan", Comparison::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        Comparison::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", Comparison::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        Comparison::NumericGreaterThanEquals,
        false,
    ),
];

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
const VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];

fn parse_document(document: &Value) -> Result<Policy, String> {
    let object = document
        .as_object()
        .ok_or_else(|| format!("the document must be a JSON object, not {}", kind(document)))?;
    reject_unknown_keys(object, DOCUMENT_KEYS, "the document")?;
    if let Some(version) = object.get("Version") {
        match version.as_str() {
            Some(v) if VERSIONS.contains(&v) => {}
            Some(v) => return Err(format!("unsupported Version {v:?}")),
            None => return Err(format!("Version must be a string, not {}", kind(version))),
        }
    }
    let statements = match object.get("Statement") {
        None => return Err("the document has no Statement".to_owned()),
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(single @ Value::Object(_)) => vec![single],
        Some(other) => {
            return Err(format!(
                "Statement must be an object or an array of objects, not {}",
                kind(other)
            ));
        }
    };
    if statements.is_empty() {
        return Err("Statement is an empty array".to_owned());
    }
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(index, value)| parse_statement(index, value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy { statements })
}

fn parse_statement(index: usize, value: &Value) -> Result<Statement, String> {
    let context = |message: String| format!("statement #{index}: {message}");
    let object = value
        .as_object()
        .ok_or_else(|| context(format!("must be an object, not {}", kind(value))))?;
    let label = match object.get("Sid") {
        None => format!("#{index}"),
        Some(Value::String(sid)) if sid.is_empty() => format!("#{index}"),
        Some(Value::String(sid)) => sid.clone(),
        Some(other) => {
            return Err(context(format!(
                "Sid must be a string, not {}",
                kind(other)
            )));
        }
    };
    let context = |message: String| format!("statement {label:?}: {message}");
    reject_unknown_keys(object, STATEMENT_KEYS, "the statement").map_err(context)?;
    let effect = parse_effect(object.get("Effect")).map_err(context)?;
    let principal = parse_principal_clause(object).map_err(context)?;
    let action = parse_patterns(object, "Action", "NotAction")
        .map_err(context)?
        .ok_or_else(|| context("has neither Action nor NotAction".to_owned()))?;
    let resource = parse_patterns(object, "Resource", "NotResource").map_err(context)?;
    let conditions = match object.get("Condition") {
        None => Vec::new(),
        Some(value) => parse_conditions(value).map_err(context)?,
    };
    Ok(Statement {
        label,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

fn parse_effect(value: Option<&Value>) -> Result<Effect, String> {
    match value.and_then(Value::as_str) {
        Some("Allow") => Ok(Effect::Allow),
        Some("Deny") => Ok(Effect::Deny),
        Some(other) => Err(format!(
            "Effect must be \"Allow\" or \"Deny\", not {other:?}"
        )),
        None => match value {
            None => Err("has no Effect".to_owned()),
            Some(other) => Err(format!("Effect must be a string, not {}", kind(other))),
        },
    }
}

fn parse_principal_clause(statement: &Map<String, Value>) -> Result<PrincipalClause, String> {
    match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(_), Some(_)) => Err("has both Principal and NotPrincipal".to_owned()),
        (Some(value), None) => {
            parse_principal_set(value, "Principal").map(PrincipalClause::Principal)
        }
        (None, Some(value)) => {
            parse_principal_set(value, "NotPrincipal").map(PrincipalClause::NotPrincipal)
        }
        (None, None) => Ok(PrincipalClause::Absent),
    }
}

fn parse_principal_set(value: &Value, element: &str) -> Result<PrincipalSet, String> {
    let object = match value {
        Value::String(s) if s == "*" => {
            return Ok(PrincipalSet {
                everyone: true,
                ..PrincipalSet::default()
            });
        }
        Value::Object(object) => object,
        Value::String(other) => {
            return Err(format!(
                "{element} must be \"*\" or an object, not {other:?}"
            ));
        }
        other => {
            return Err(format!(
                "{element} must be \"*\" or an object, not {}",
                kind(other)
            ));
        }
    };
    let mut set = PrincipalSet::default();
    for (key, values) in object {
        let list = string_list(values).map_err(|m| format!("{element}.{key} {m}"))?;
        match key.as_str() {
            "AWS" => {
                set.everyone |= list.iter().any(|v| v == "*");
                set.aws.extend(list);
            }
            "Service" => set.services.extend(list),
            // Valid, but no `Principal` value can be a federated or canonical user.
            "Federated" | "CanonicalUser" => {}
            other => return Err(format!("{element} has an unknown principal type {other:?}")),
        }
    }
    Ok(set)
}

/// Reads `positive` or `negative` (e.g. `Action`/`NotAction`); `None` when both are absent.
fn parse_patterns(
    statement: &Map<String, Value>,
    positive: &str,
    negative: &str,
) -> Result<Option<Patterns>, String> {
    let (value, negated, name) = match (statement.get(positive), statement.get(negative)) {
        (Some(_), Some(_)) => return Err(format!("has both {positive} and {negative}")),
        (Some(value), None) => (value, false, positive),
        (None, Some(value)) => (value, true, negative),
        (None, None) => return Ok(None),
    };
    let values = string_list(value).map_err(|m| format!("{name} {m}"))?;
    Ok(Some(Patterns { negated, values }))
}

fn parse_conditions(value: &Value) -> Result<Vec<ConditionBlock>, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("Condition must be an object, not {}", kind(value)))?;
    object
        .iter()
        .map(|(name, block)| parse_condition_block(name, block))
        .collect()
}

fn parse_condition_block(name: &str, block: &Value) -> Result<ConditionBlock, String> {
    let object = block.as_object().ok_or_else(|| {
        format!(
            "Condition.{name} must be an object of keys, not {}",
            kind(block)
        )
    })?;
    let entries = object
        .iter()
        .map(|(key, values)| {
            let values = scalar_list(values).map_err(|m| format!("Condition.{name}.{key} {m}"))?;
            Ok(ConditionEntry {
                key: key.clone(),
                values,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ConditionBlock {
        name: name.to_owned(),
        operator: parse_operator(name),
        entries,
    })
}

/// Reads an operator name such as `ForAllValues:StringNotLikeIfExists`; `None` when unknown.
/// Names are compared case-insensitively.
fn parse_operator(name: &str) -> Option<Operator> {
    let (qualifier, rest) = if let Some(rest) = strip_prefix_ignore_case(name, "ForAnyValue:") {
        (SetQualifier::ForAnyValue, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(name, "ForAllValues:") {
        (SetQualifier::ForAllValues, rest)
    } else {
        (SetQualifier::Single, name)
    };
    let (base, if_exists) = match strip_suffix_ignore_case(rest, "IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    OPERATORS
        .iter()
        .find(|(op, _, _)| op.eq_ignore_ascii_case(base))
        .map(|&(_, comparison, negated)| Operator {
            comparison,
            negated,
            qualifier,
            if_exists,
        })
}

fn strip_prefix_ignore_case<'s>(text: &'s str, prefix: &str) -> Option<&'s str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn strip_suffix_ignore_case<'s>(text: &'s str, suffix: &str) -> Option<&'s str> {
    let split = text.len().checked_sub(suffix.len())?;
    let tail = text.get(split..)?;
    tail.eq_ignore_ascii_case(suffix)
        .then(|| text.get(..split))
        .flatten()
}

/// A string, or an array of strings.
fn string_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("must hold only strings, not {}", kind(other))),
            })
            .collect(),
        other => Err(format!(
            "must be a string or an array of strings, not {}",
            kind(other)
        )),
    }
}

/// A condition value: a string, boolean or number, or an array of them; all read as strings.
fn scalar_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "must be a string, boolean or number (or an array of them), not {}",
            kind(other)
        )),
    }
}

fn reject_unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    what: &str,
) -> Result<(), String> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(format!("{what} has an unknown key {unknown:?}")),
        None => Ok(()),
    }
}

/// A JSON type name, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/// A three-valued truth: a condition on a key of unknown value may hold or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl From<bool> for Truth {
    fn from(holds: bool) -> Truth {
        if holds { Truth::True } else { Truth::False }
    }
}

/// What a request holds for one condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyValue<'r> {
    Present(&'r str),
    Absent,
    Unknown,
}

impl<'a> Request<'a> {
    /// The key's value (the first entry of the context wins), or whether it is absent or
    /// unknown.
    fn value_of(&self, key: &str) -> KeyValue<'a> {
        if let Some(&(_, value)) = self
            .context
            .iter()
            .find(|(listed, _)| listed.eq_ignore_ascii_case(key))
        {
            return KeyValue::Present(value);
        }
        let known_absent = self.unlisted == UnlistedKeys::Absent
            || self.absent.iter().any(|entry| names_key(entry, key));
        if known_absent {
            KeyValue::Absent
        } else {
            KeyValue::Unknown
        }
    }
}

/// Whether an entry of [`Request::absent`] names `key`: equal ignoring case, or a prefix of it
/// when the entry ends in `/*`.
fn names_key(entry: &str, key: &str) -> bool {
    match entry
        .strip_suffix('*')
        .filter(|prefix| prefix.ends_with('/'))
    {
        Some(prefix) => key
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => entry.eq_ignore_ascii_case(key),
    }
}

/// A statement's conditions judged on a request, with the entries that made it so.
struct JudgedConditions {
    /// The conjunction of every block and entry.
    truth: Truth,
    /// The entries on keys of unknown value.
    unknown: Vec<KeyCondition>,
    /// The entries that fail.
    failed: Vec<KeyCondition>,
}

impl Statement {
    /// Whether the principal, action and resource match (the conditions aside).
    fn targets(&self, request: &Request<'_>) -> bool {
        self.principal.matches(request.principal)
            && self.action.matches(request.action, true)
            && self
                .resource
                .as_ref()
                .is_none_or(|r| r.matches(request.resource, false))
    }

    /// The conditions, in three-valued logic: any failing entry fails the statement; otherwise
    /// any entry on a key of unknown value leaves it unknown.
    fn judge_conditions(&self, request: &Request<'_>) -> JudgedConditions {
        let mut unknown = Vec::new();
        let mut failed = Vec::new();
        let mut unknown_operator_without_keys = false;
        for block in &self.conditions {
            if block.operator.is_none() && block.entries.is_empty() {
                unknown_operator_without_keys = true;
            }
            for entry in &block.entries {
                let value = request.value_of(&entry.key);
                let truth = match block.operator {
                    None => Truth::False,
                    Some(operator) => entry.judge(operator, value),
                };
                let described = || KeyCondition {
                    operator: block.name.clone(),
                    key: entry.key.clone(),
                    values: entry.values.clone(),
                    found: match value {
                        KeyValue::Present(found) => Some(found.to_owned()),
                        KeyValue::Absent | KeyValue::Unknown => None,
                    },
                };
                match truth {
                    Truth::True => {}
                    Truth::False => failed.push(described()),
                    Truth::Unknown => unknown.push(described()),
                }
            }
        }
        let truth = if !failed.is_empty() || unknown_operator_without_keys {
            Truth::False
        } else if !unknown.is_empty() {
            Truth::Unknown
        } else {
            Truth::True
        };
        JudgedConditions {
            truth,
            unknown,
            failed,
        }
    }
}

impl PrincipalClause {
    fn matches(&self, principal: Principal<'_>) -> bool {
        match self {
            PrincipalClause::Absent => false,
            PrincipalClause::Principal(set) => set.contains(principal),
            PrincipalClause::NotPrincipal(set) => !set.contains(principal),
        }
    }
}

impl PrincipalSet {
    fn contains(&self, principal: Principal<'_>) -> bool {
        if self.everyone {
            return true;
        }
        match principal {
            Principal::Service(service) => self
                .services
                .iter()
                .any(|s| s.eq_ignore_ascii_case(service)),
            Principal::Aws(caller) => self.aws.iter().any(|listed| aws_matches(listed, caller)),
            Principal::Anonymous => false,
        }
    }
}

/// Whether a policy `AWS` principal value names `caller` (an account id or an ARN).
fn aws_matches(listed: &str, caller: &str) -> bool {
    match listed_account(listed) {
        Some(account) => account_of(caller) == Some(account),
        None => glob(listed, caller, false),
    }
}

/// The account a policy `AWS` value grants as a whole: `111111111111` or
/// `arn:<partition>:iam::111111111111:root`.
fn listed_account(listed: &str) -> Option<&str> {
    if is_account_id(listed) {
        return Some(listed);
    }
    let fields = arn_fields(listed)?;
    (fields[2] == "iam" && fields[5] == "root" && is_account_id(fields[4])).then_some(fields[4])
}

/// The account of a caller: the id itself, or the account field of its ARN.
fn account_of(caller: &str) -> Option<&str> {
    if is_account_id(caller) {
        return Some(caller);
    }
    arn_fields(caller)
        .map(|fields| fields[4])
        .filter(|a| is_account_id(a))
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The six colon-separated fields of an ARN (`arn:partition:service:region:account:resource`,
/// the last keeping any further colons), or `None` when `text` is not shaped like an ARN.
fn arn_fields(text: &str) -> Option<[&str; 6]> {
    let mut parts = text.splitn(6, ':');
    let fields = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    Some(fields)
}

impl Patterns {
    fn matches(&self, text: &str, ignore_case: bool) -> bool {
        let listed = self.values.iter().any(|p| glob(p, text, ignore_case));
        listed != self.negated
    }
}

impl ConditionEntry {
    /// Whether the entry holds for the request's `value` of its key. A key of unknown value
    /// leaves every operator unknown, `…IfExists` and `ForAllValues:` included (they hold when
    /// the key is absent but test a present value).
    fn judge(&self, operator: Operator, value: KeyValue<'_>) -> Truth {
        let value = match value {
            KeyValue::Unknown => return Truth::Unknown,
            KeyValue::Absent => None,
            KeyValue::Present(value) => Some(value),
        };
        if operator.comparison == Comparison::Null {
            return self.null_holds(value.is_none()).into();
        }
        let holds = match value {
            None => {
                operator.if_exists
                    || match operator.qualifier {
                        SetQualifier::ForAllValues => true,
                        SetQualifier::ForAnyValue => false,
                        SetQualifier::Single => operator.negated,
                    }
            }
            Some(value) => {
                if operator.comparison.is_numeric() && parse_number(value).is_none() {
                    return Truth::False;
                }
                let any = self
                    .values
                    .iter()
                    .any(|listed| operator.comparison.test(value, listed));
                any != operator.negated
            }
        };
        holds.into()
    }

    /// `Null: true` holds when the key is absent, `Null: false` when it is present.
    fn null_holds(&self, absent: bool) -> bool {
        self.values
            .iter()
            .any(|listed| parse_bool(listed) == Some(absent))
    }
}

impl Comparison {
    fn is_numeric(self) -> bool {
        matches!(
            self,
            Comparison::NumericEquals
                | Comparison::NumericLessThan
                | Comparison::NumericLessThanEquals
                | Comparison::NumericGreaterThan
                | Comparison::NumericGreaterThanEquals
        )
    }

    /// Whether the request's `value` satisfies one policy value (`listed`), before negation.
    fn test(self, value: &str, listed: &str) -> bool {
        match self {
            Comparison::StringEquals => value == listed,
            Comparison::StringEqualsIgnoreCase => value.to_lowercase() == listed.to_lowercase(),
            Comparison::StringLike => glob(listed, value, false),
            Comparison::ArnLike => arn_like(listed, value),
            Comparison::Bool => parse_bool(value).is_some_and(|v| parse_bool(listed) == Some(v)),
            Comparison::Null => false,
            Comparison::NumericEquals => compare_numbers(value, listed, |a, b| a == b),
            Comparison::NumericLessThan => compare_numbers(value, listed, |a, b| a < b),
            Comparison::NumericLessThanEquals => compare_numbers(value, listed, |a, b| a <= b),
            Comparison::NumericGreaterThan => compare_numbers(value, listed, |a, b| a > b),
            Comparison::NumericGreaterThanEquals => compare_numbers(value, listed, |a, b| a >= b),
        }
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn compare_numbers(value: &str, listed: &str, op: fn(f64, f64) -> bool) -> bool {
    match (parse_number(value), parse_number(listed)) {
        (Some(a), Some(b)) => op(a, b),
        _ => false,
    }
}

/// `ArnLike`: each of the six ARN fields is matched separately, with wildcards. A pattern that
/// is not shaped like an ARN (e.g. `*`) is matched against the whole value instead.
fn arn_like(pattern: &str, value: &str) -> bool {
    match (arn_fields(pattern), arn_fields(value)) {
        (Some(p), Some(v)) => p.iter().zip(v.iter()).all(|(p, v)| glob(p, v, false)),
        (None, _) => glob(pattern, value, false),
        (Some(_), None) => false,
    }
}

/// Wildcard match: `*` matches any sequence (empty included), `?` exactly one character.
/// Backtracks only to the last `*` (O(pattern × text) at worst, no exponential blow-up).
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    let (mut pi, mut ti) = (0, 0);
    // The position of the last `*` seen, and where in `text` it began matching.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&tc) = t.get(ti) {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == tc => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.iter().skip(pi).all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111111111111";
    const OTHER_ACCOUNT: &str = "222222222222";
    const MACIE: Principal<'static> = Principal::Service("macie.amazonaws.com");
    const KEY_ARN: &str =
        "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const OBJECT: &str =
        "arn:aws:s3:::macie-results/prefix/AWSLogs/111111111111/Macie/us-east-1/x.jsonl.gz";
    const BUCKET: &str = "arn:aws:s3:::macie-results";
    const EXPORT_ARN: &str = "arn:aws:macie2:us-east-1:111111111111:export-configuration:abc";

    /// What Macie sends when it writes a result over TLS with the right encryption headers.
    const MACIE_WRITE: &[(&str, &str)] = &[
        ("aws:SourceAccount", ACCOUNT),
        ("aws:SourceArn", EXPORT_ARN),
        ("aws:SecureTransport", "true"),
        ("s3:x-amz-server-side-encryption", "aws:kms"),
        ("s3:x-amz-server-side-encryption-aws-kms-key-id", KEY_ARN),
    ];
    const MACIE_WRITE_NO_TLS: &[(&str, &str)] = &[
        ("aws:SourceAccount", ACCOUNT),
        ("aws:SourceArn", EXPORT_ARN),
        ("aws:SecureTransport", "false"),
        ("s3:x-amz-server-side-encryption", "aws:kms"),
        ("s3:x-amz-server-side-encryption-aws-kms-key-id", KEY_ARN),
    ];
    const OTHER_ACCOUNT_WRITE: &[(&str, &str)] = &[
        ("aws:SourceAccount", OTHER_ACCOUNT),
        (
            "aws:SourceArn",
            "arn:aws:macie2:us-east-1:222222222222:export-configuration:abc",
        ),
        ("aws:SecureTransport", "true"),
        ("s3:x-amz-server-side-encryption", "aws:kms"),
        ("s3:x-amz-server-side-encryption-aws-kms-key-id", KEY_ARN),
    ];
    const NO_SOURCE_WRITE: &[(&str, &str)] = &[
        ("aws:SecureTransport", "true"),
        ("s3:x-amz-server-side-encryption", "aws:kms"),
        ("s3:x-amz-server-side-encryption-aws-kms-key-id", KEY_ARN),
    ];
    const MACIE_KMS: &[(&str, &str)] = &[
        ("aws:SourceAccount", ACCOUNT),
        ("aws:SourceArn", EXPORT_ARN),
    ];
    const TLS: &[(&str, &str)] = &[("aws:SecureTransport", "true")];
    const NO_TLS: &[(&str, &str)] = &[("aws:SecureTransport", "false")];
    const NONE: &[(&str, &str)] = &[];

    /// The confused-deputy condition of the user guide's Macie statements, for Macie in account
    /// 111111111111 in us-east-1: a macro, so that `concat!` writes it into the policies below.
    macro_rules! macie_source_condition {
        () => {
            r#""Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"},
            "ArnLike": {"aws:SourceArn": [
              "arn:aws:macie2:us-east-1:111111111111:export-configuration:*",
              "arn:aws:macie2:us-east-1:111111111111:classification-job/*"]}}"#
        };
    }

    /// The bucket policy of the Macie user guide ("Storing and retaining sensitive data
    /// discovery results"), with key prefix `prefix`.
    const MACIE_BUCKET_POLICY: &str = concat!(
        r#"{"Version": "2012-10-17", "Statement": [
        {"Sid": "Deny non-HTTPS access", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::macie-results", "arn:aws:s3:::macie-results/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "Deny unencrypted object uploads", "Effect": "Deny",
         "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::macie-results/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "Deny incorrect encryption header", "Effect": "Deny",
         "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::macie-results/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id":
           "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}},
        {"Sid": "Allow Macie to upload objects to the bucket", "Effect": "Allow",
         "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::macie-results/prefix*", "#,
        macie_source_condition!(),
        r#"},
        {"Sid": "Allow Macie to use the GetBucketLocation operation", "Effect": "Allow",
         "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:GetBucketLocation",
         "Resource": "arn:aws:s3:::macie-results", "#,
        macie_source_condition!(),
        r#"}]}"#
    );

    /// A KMS key policy: the default root statement plus the Macie statement of the user guide.
    const MACIE_KEY_POLICY: &str = concat!(
        r#"{"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow Macie to use the key", "Effect": "Allow",
         "Principal": {"Service": "macie.amazonaws.com"},
         "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*", "#,
        macie_source_condition!(),
        r#"}]}"#
    );

    const WRONG_SERVICE: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie2.amazonaws.com"},
      "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*"}]}"#;
    const SERVICE_AS_AWS: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"AWS": "macie.amazonaws.com"},
      "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*"}]}"#;
    const DENY_TLS_BY_MISTAKE: &str = r#"{"Statement": [
      {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
       "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}"#;
    const DENY_NO_TLS_JSON_BOOL: &str = r#"{"Statement": [
      {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*",
       "Condition": {"Bool": {"aws:SecureTransport": false}}},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}"#;
    const BUCKET_ONLY_RESOURCE: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results"}]}"#;
    const PREFIX_WITHOUT_WILDCARD: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/prefix"}]}"#;
    const PUT_WILDCARD: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": ["s3:Put*", "s3:Get?ucketLocation"], "Resource": "arn:aws:s3:::macie-results*"}]}"#;
    const OBJECT_SUFFIX_WILDCARD: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": "s3:*Object", "Resource": "*"}]}"#;
    const KMS_STAR: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"}, "Action": "kms:*"}]}"#;
    const NOT_ACTION_DENY: &str = r#"{"Statement": [
      {"Sid": "OnlyReads", "Effect": "Deny", "Principal": "*",
       "NotAction": "s3:GetObject", "Resource": "*"},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}"#;
    const NOT_PRINCIPAL_DENY: &str = r#"{"Statement": [
      {"Sid": "OnlyMacie", "Effect": "Deny",
       "NotPrincipal": {"Service": "macie.amazonaws.com"},
       "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*"},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}]}"#;
    const SERVICE_LIST: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": ["macie.amazonaws.com", "macie.af-south-1.amazonaws.com"]},
      "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*"}]}"#;
    const IF_EXISTS: &str = r#"{"Statement": [{"Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"},
      "Action": "s3:PutObject", "Resource": "*",
      "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "111111111111"}}}]}"#;
    const NOT_EQUALS_ABSENT: &str = r#"{"Statement": [
      {"Sid": "EncryptOrDie", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
       "Resource": "*",
       "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}]}"#;
    const SINGLE_STATEMENT: &str = r#"{"Version": "2012-10-17", "Statement":
      {"Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
       "Action": "s3:PutObject", "Resource": "arn:aws:s3:::macie-results/*"}}"#;
    const ACCOUNT_PRINCIPALS: &str = r#"{"Statement": [
      {"Effect": "Allow", "Principal": {"AWS": ["111111111111"]}, "Action": "s3:GetObject",
       "Resource": "*"},
      {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/Auditor"},
       "Action": "s3:ListBucket", "Resource": "*"}]}"#;
    const NO_PRINCIPAL: &str = r#"{"Statement": [{"Effect": "Allow", "Action": "*"}]}"#;
    const UNKNOWN_OPERATOR: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}"#;
    const UNKNOWN_OPERATOR_DENY: &str = r#"{"Statement": [
      {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
       "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}},
      {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}"#;
    const OPERATOR_ZOO: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "*",
      "Condition": {
        "Null": {"s3:x-amz-acl": "true", "aws:SourceAccount": false},
        "NumericLessThanEquals": {"s3:max-keys": 10},
        "StringEqualsIgnoreCase": {"aws:SourceAccount": "111111111111"},
        "StringLike": {"aws:UserAgent": ["aws-cli/*", "Boto?/*"]},
        "ForAllValues:StringEquals": {"aws:TagKeys": "team"},
        "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Blocked*"}
      }}]}"#;
    const FOR_ANY_VALUE: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ForAnyValue:StringNotEquals": {"aws:TagKeys": "secret"}}}]}"#;
    const POLICY_VARIABLE: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}]}"#;

    /// The shape of the bucket policy AWS's Security Reference Architecture deploys: Macie's only
    /// `PutObject` grant wants an ACL header AWS does not document Macie sending.
    const SRA_BUCKET_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
      {"Sid": "DenyPutObjectUnlessMacie", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
       "Resource": "arn:aws:s3:::macie-results/*",
       "Condition": {"ForAnyValue:StringNotEquals": {"aws:CalledVia": "macie.amazonaws.com"}}},
      {"Sid": "SecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
       "Resource": ["arn:aws:s3:::macie-results", "arn:aws:s3:::macie-results/*"],
       "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
      {"Sid": "AWSBucketPermissionsCheck", "Effect": "Allow",
       "Principal": {"Service": "macie.amazonaws.com"},
       "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation", "s3:ListBucket"],
       "Resource": "arn:aws:s3:::macie-results"},
      {"Sid": "AWSBucketDelivery", "Effect": "Allow",
       "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
       "Resource": "arn:aws:s3:::macie-results/*",
       "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}"#;
    const ACL_DENY: &str = r#"{"Statement": [
      {"Sid": "OwnerMustOwn", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
       "Resource": "*",
       "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
      {"Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
       "Resource": "*"}]}"#;
    const ACL_DENY_ONLY: &str = r#"{"Statement": [
      {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*",
       "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}"#;
    const ORG_ID: &str = r#"{"Statement": [{"Sid": "Org", "Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"}, "Action": "kms:GenerateDataKey",
      "Resource": "*", "Condition": {"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"}}}]}"#;
    const ORG_PATHS: &str = r#"{"Statement": [{"Sid": "Ou", "Effect": "Allow",
      "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "*",
      "Condition": {"ForAnyValue:StringLike":
        {"aws:SourceOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}}]}"#;
    const FOR_ALL_VALUES: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "team"}}}]}"#;
    const PRINCIPAL_TAG: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringEquals": {"aws:PrincipalTag/team": "audit"}}}]}"#;
    const NULL_ACL: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
      "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"Null": {"s3:x-amz-acl": "true"}}}]}"#;

    const IN_OU: &[(&str, &str)] = &[(
        "aws:SourceOrgPaths",
        "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/",
    )];
    const OTHER_OU: &[(&str, &str)] = &[(
        "aws:SourceOrgPaths",
        "o-a1b2c3d4e5/r-ab12/ou-ab12-33333333/",
    )];
    const SERVICE_ABSENT: &[&str] = &["aws:CalledVia", "aws:PrincipalTag/*"];
    const NO_KEYS: &[&str] = &[];

    /// One request against one policy, and the expected decision.
    struct Case {
        name: &'static str,
        policy: &'static str,
        request: Request<'static>,
        expected: Decision,
    }

    const fn case(
        name: &'static str,
        policy: &'static str,
        principal: Principal<'static>,
        action: &'static str,
        resource: &'static str,
        context: &'static [(&'static str, &'static str)],
        expected: Decision,
    ) -> Case {
        let request = Request::complete(principal, action, resource, context);
        Case {
            name,
            policy,
            request,
            expected,
        }
    }

    impl Case {
        /// The case with a request that lists the keys known `absent`; every other key not in
        /// the context is unknown (as in Macie's requests).
        const fn partial(mut self, absent: &'static [&'static str]) -> Case {
            self.request.absent = absent;
            self.request.unlisted = UnlistedKeys::Unknown;
            self
        }
    }

    use Decision::{Allow, ExplicitDeny, ImplicitDeny, Uncertain};

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // 1. The Macie bucket policy.
        case("bucket: Macie writes a result", MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, MACIE_WRITE, Allow),
        case("bucket: Macie over non-TLS", MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, MACIE_WRITE_NO_TLS, ExplicitDeny),
        case("bucket: anonymous non-TLS read", MACIE_BUCKET_POLICY, Principal::Anonymous, "s3:GetObject", OBJECT, NO_TLS, ExplicitDeny),
        case("bucket: anonymous TLS read", MACIE_BUCKET_POLICY, Principal::Anonymous, "s3:GetObject", OBJECT, TLS, ImplicitDeny),
        case("bucket: another account's Macie", MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, OTHER_ACCOUNT_WRITE, ImplicitDeny),
        case("bucket: no SourceAccount/SourceArn", MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, NO_SOURCE_WRITE, ImplicitDeny),
        case("bucket: outside the prefix", MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", "arn:aws:s3:::macie-results/other/AWSLogs/111111111111/Macie/us-east-1/x.jsonl.gz", MACIE_WRITE, ImplicitDeny),
        case("bucket: no encryption header", MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, MACIE_KMS, ExplicitDeny),
        case("bucket: GetBucketLocation", MACIE_BUCKET_POLICY, MACIE, "s3:GetBucketLocation", BUCKET, MACIE_WRITE, Allow),
        case("bucket: GetBucketLocation on an object", MACIE_BUCKET_POLICY, MACIE, "s3:GetBucketLocation", OBJECT, MACIE_WRITE, ImplicitDeny),
        // 2. The Macie key policy.
        case("key: Macie GenerateDataKey", MACIE_KEY_POLICY, MACIE, "kms:GenerateDataKey", KEY_ARN, MACIE_KMS, Allow),
        case("key: Macie Encrypt, classification job", MACIE_KEY_POLICY, MACIE, "kms:Encrypt", KEY_ARN, &[("aws:sourceaccount", ACCOUNT), ("AWS:SourceArn", "arn:aws:macie2:us-east-1:111111111111:classification-job/0123")], Allow),
        case("key: Macie Decrypt not granted", MACIE_KEY_POLICY, MACIE, "kms:Decrypt", KEY_ARN, MACIE_KMS, ImplicitDeny),
        case("key: Macie without confused-deputy context", MACIE_KEY_POLICY, MACIE, "kms:GenerateDataKey", KEY_ARN, NONE, ImplicitDeny),
        case("key: Macie in another Region's ARN", MACIE_KEY_POLICY, MACIE, "kms:Encrypt", KEY_ARN, &[("aws:SourceAccount", ACCOUNT), ("aws:SourceArn", "arn:aws:macie2:eu-west-1:111111111111:export-configuration:abc")], ImplicitDeny),
        case("key: account admin role via root", MACIE_KEY_POLICY, Principal::Aws("arn:aws:iam::111111111111:role/Admin"), "kms:PutKeyPolicy", KEY_ARN, NONE, Allow),
        case("key: account id via root", MACIE_KEY_POLICY, Principal::Aws(ACCOUNT), "kms:DescribeKey", KEY_ARN, NONE, Allow),
        case("key: other account via root", MACIE_KEY_POLICY, Principal::Aws("arn:aws:iam::222222222222:root"), "kms:DescribeKey", KEY_ARN, NONE, ImplicitDeny),
        // 3. Look right, but are wrong (or right in a surprising way).
        case("wrong service principal macie2", WRONG_SERVICE, MACIE, "s3:PutObject", OBJECT, NONE, ImplicitDeny),
        case("service name under AWS", SERVICE_AS_AWS, MACIE, "s3:PutObject", OBJECT, NONE, ImplicitDeny),
        case("deny on SecureTransport true denies TLS", DENY_TLS_BY_MISTAKE, Principal::Anonymous, "s3:GetObject", OBJECT, TLS, ExplicitDeny),
        case("deny on SecureTransport true lets non-TLS in", DENY_TLS_BY_MISTAKE, Principal::Anonymous, "s3:GetObject", OBJECT, NO_TLS, Allow),
        case("JSON false denies non-TLS", DENY_NO_TLS_JSON_BOOL, Principal::Anonymous, "s3:GetObject", OBJECT, NO_TLS, ExplicitDeny),
        case("JSON false lets TLS in", DENY_NO_TLS_JSON_BOOL, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:securetransport", "TRUE")], Allow),
        case("bucket ARN is not its objects", BUCKET_ONLY_RESOURCE, MACIE, "s3:PutObject", OBJECT, NONE, ImplicitDeny),
        case("prefix without wildcard", PREFIX_WITHOUT_WILDCARD, MACIE, "s3:PutObject", OBJECT, NONE, ImplicitDeny),
        case("resource is case-sensitive", PUT_WILDCARD, MACIE, "s3:PutObject", "arn:aws:s3:::Macie-Results/x", NONE, ImplicitDeny),
        case("s3:Put* grants PutObject", PUT_WILDCARD, MACIE, "s3:PutObject", OBJECT, NONE, Allow),
        case("actions are case-insensitive", PUT_WILDCARD, MACIE, "S3:putobject", OBJECT, NONE, Allow),
        case("? matches one character", PUT_WILDCARD, MACIE, "s3:GetBucketLocation", BUCKET, NONE, Allow),
        case("s3:Put* does not grant GetObject", PUT_WILDCARD, MACIE, "s3:GetObject", OBJECT, NONE, ImplicitDeny),
        case("s3:*Object grants PutObject", OBJECT_SUFFIX_WILDCARD, MACIE, "s3:PutObject", OBJECT, NONE, Allow),
        case("s3:*Object does not grant PutObjectAcl", OBJECT_SUFFIX_WILDCARD, MACIE, "s3:PutObjectAcl", OBJECT, NONE, ImplicitDeny),
        case("kms:* without Resource grants", KMS_STAR, MACIE, "kms:GenerateDataKey", KEY_ARN, NONE, Allow),
        case("kms:* does not grant s3", KMS_STAR, MACIE, "s3:PutObject", OBJECT, NONE, ImplicitDeny),
        case("NotAction deny spares GetObject", NOT_ACTION_DENY, Principal::Anonymous, "s3:GetObject", OBJECT, NONE, Allow),
        case("NotAction deny hits PutObject", NOT_ACTION_DENY, Principal::Anonymous, "s3:PutObject", OBJECT, NONE, ExplicitDeny),
        case("NotPrincipal deny spares Macie", NOT_PRINCIPAL_DENY, MACIE, "s3:PutObject", OBJECT, NONE, Allow),
        case("NotPrincipal deny hits another account", NOT_PRINCIPAL_DENY, Principal::Aws(OTHER_ACCOUNT), "s3:PutObject", OBJECT, NONE, ExplicitDeny),
        case("NotPrincipal deny hits anonymous", NOT_PRINCIPAL_DENY, Principal::Anonymous, "s3:PutObject", OBJECT, NONE, ExplicitDeny),
        case("service list: opt-in Region principal", SERVICE_LIST, Principal::Service("macie.af-south-1.amazonaws.com"), "s3:PutObject", OBJECT, NONE, Allow),
        case("service list: case-insensitive", SERVICE_LIST, Principal::Service("MACIE.amazonaws.com"), "s3:PutObject", OBJECT, NONE, Allow),
        case("service list: unlisted Region", SERVICE_LIST, Principal::Service("macie.eu-south-1.amazonaws.com"), "s3:PutObject", OBJECT, NONE, ImplicitDeny),
        case("IfExists with the key absent holds", IF_EXISTS, MACIE, "s3:PutObject", OBJECT, NONE, Allow),
        case("IfExists with a wrong value fails", IF_EXISTS, MACIE, "s3:PutObject", OBJECT, &[("aws:SourceAccount", OTHER_ACCOUNT)], ImplicitDeny),
        case("StringNotEquals with the key absent holds", NOT_EQUALS_ABSENT, Principal::Anonymous, "s3:PutObject", OBJECT, NONE, ExplicitDeny),
        case("StringNotEquals with the right value", NOT_EQUALS_ABSENT, Principal::Anonymous, "s3:PutObject", OBJECT, &[("s3:x-amz-server-side-encryption", "aws:kms")], Allow),
        case("Statement as a single object", SINGLE_STATEMENT, MACIE, "s3:PutObject", OBJECT, NONE, Allow),
        case("account id principal, IAM role caller", ACCOUNT_PRINCIPALS, Principal::Aws("arn:aws:sts::111111111111:assumed-role/R/s"), "s3:GetObject", OBJECT, NONE, Allow),
        case("account id principal, service caller", ACCOUNT_PRINCIPALS, MACIE, "s3:GetObject", OBJECT, NONE, ImplicitDeny),
        case("role ARN principal, exact", ACCOUNT_PRINCIPALS, Principal::Aws("arn:aws:iam::222222222222:role/Auditor"), "s3:ListBucket", BUCKET, NONE, Allow),
        case("role ARN principal, other role", ACCOUNT_PRINCIPALS, Principal::Aws("arn:aws:iam::222222222222:role/Admin"), "s3:ListBucket", BUCKET, NONE, ImplicitDeny),
        case("role ARN principal, its account", ACCOUNT_PRINCIPALS, Principal::Aws(OTHER_ACCOUNT), "s3:ListBucket", BUCKET, NONE, ImplicitDeny),
        case("absent principal matches nobody", NO_PRINCIPAL, Principal::Aws(ACCOUNT), "s3:GetObject", OBJECT, NONE, ImplicitDeny),
        case("unknown operator never allows", UNKNOWN_OPERATOR, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceIp", "192.0.2.1")], ImplicitDeny),
        case("unknown operator never denies", UNKNOWN_OPERATOR_DENY, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceIp", "198.51.100.1")], Allow),
        case("operator zoo holds", OPERATOR_ZOO, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceAccount", ACCOUNT), ("s3:max-keys", "10"), ("aws:UserAgent", "Boto3/1.34"), ("aws:PrincipalArn", "arn:aws:iam::111111111111:role/Reader")], Allow),
        case("operator zoo: Null true but key present", OPERATOR_ZOO, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceAccount", ACCOUNT), ("s3:max-keys", "10"), ("aws:UserAgent", "Boto3/1.34"), ("s3:x-amz-acl", "public-read")], ImplicitDeny),
        case("operator zoo: number too large", OPERATOR_ZOO, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceAccount", ACCOUNT), ("s3:max-keys", "11"), ("aws:UserAgent", "Boto3/1.34")], ImplicitDeny),
        case("operator zoo: not a number", OPERATOR_ZOO, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceAccount", ACCOUNT), ("s3:max-keys", "ten"), ("aws:UserAgent", "Boto3/1.34")], ImplicitDeny),
        case("operator zoo: ArnNotLike hit", OPERATOR_ZOO, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceAccount", ACCOUNT), ("s3:max-keys", "1"), ("aws:UserAgent", "aws-cli/2"), ("aws:PrincipalArn", "arn:aws:iam::111111111111:role/BlockedUser")], ImplicitDeny),
        case("operator zoo: ForAllValues wrong value", OPERATOR_ZOO, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:SourceAccount", ACCOUNT), ("s3:max-keys", "1"), ("aws:UserAgent", "aws-cli/2"), ("aws:TagKeys", "finance")], ImplicitDeny),
        case("ForAnyValue negated, key absent", FOR_ANY_VALUE, Principal::Anonymous, "s3:GetObject", OBJECT, NONE, ImplicitDeny),
        case("ForAnyValue negated, other value", FOR_ANY_VALUE, Principal::Anonymous, "s3:GetObject", OBJECT, &[("aws:TagKeys", "team")], Allow),
        case("policy variable is literal", POLICY_VARIABLE, Principal::Anonymous, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/a", NONE, Allow),
        case("policy variable is not substituted", POLICY_VARIABLE, Principal::Anonymous, "s3:GetObject", "arn:aws:s3:::home/bob/a", &[("aws:username", "bob")], ImplicitDeny),
        // 4. Three-valued: keys absent, present, or of unknown value.
        case("SRA: the ACL header decides", SRA_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, MACIE_WRITE, Uncertain).partial(SERVICE_ABSENT),
        case("SRA: the ACL header absent", SRA_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, MACIE_WRITE, ImplicitDeny),
        case("SRA: with the ACL header", SRA_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, &[("s3:x-amz-acl", "bucket-owner-full-control"), ("aws:SecureTransport", "true")], Allow).partial(SERVICE_ABSENT),
        case("SRA: CalledVia unknown", SRA_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, &[("s3:x-amz-acl", "bucket-owner-full-control")], Uncertain).partial(NO_KEYS),
        case("SRA: GetBucketLocation", SRA_BUCKET_POLICY, MACIE, "s3:GetBucketLocation", BUCKET, TLS, Allow).partial(SERVICE_ABSENT),
        case("SRA: certain deny without TLS", SRA_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT, NO_TLS, ExplicitDeny).partial(SERVICE_ABSENT),
        case("unknown key in a deny flips an allow", ACL_DENY, MACIE, "s3:PutObject", OBJECT, NONE, Uncertain).partial(NO_KEYS),
        case("unknown key in a deny, nothing allows", ACL_DENY_ONLY, MACIE, "s3:PutObject", OBJECT, NONE, ImplicitDeny).partial(NO_KEYS),
        case("known key in a deny", ACL_DENY, MACIE, "s3:PutObject", OBJECT, &[("s3:x-amz-acl", "private")], ExplicitDeny).partial(NO_KEYS),
        case("IfExists with the key unknown", IF_EXISTS, MACIE, "s3:PutObject", OBJECT, NONE, Uncertain).partial(NO_KEYS),
        case("IfExists with the key known absent", IF_EXISTS, MACIE, "s3:PutObject", OBJECT, NONE, Allow).partial(&["AWS:SOURCEACCOUNT"]),
        case("ForAllValues with the key absent", FOR_ALL_VALUES, Principal::Anonymous, "s3:GetObject", OBJECT, NONE, Allow).partial(&["aws:TagKeys"]),
        case("ForAllValues with the key unknown", FOR_ALL_VALUES, Principal::Anonymous, "s3:GetObject", OBJECT, NONE, Uncertain).partial(NO_KEYS),
        case("ForAnyValue with the key absent", FOR_ANY_VALUE, Principal::Anonymous, "s3:GetObject", OBJECT, NONE, ImplicitDeny).partial(&["aws:TagKeys"]),
        case("ForAnyValue with the key unknown", FOR_ANY_VALUE, Principal::Anonymous, "s3:GetObject", OBJECT, NONE, Uncertain).partial(NO_KEYS),
        case("SourceOrgID equal", ORG_ID, MACIE, "kms:GenerateDataKey", KEY_ARN, &[("aws:SourceOrgID", "o-a1b2c3d4e5")], Allow).partial(NO_KEYS),
        case("SourceOrgID of another organization", ORG_ID, MACIE, "kms:GenerateDataKey", KEY_ARN, &[("aws:SourceOrgID", "o-zzzzzzzzzz")], ImplicitDeny).partial(NO_KEYS),
        case("SourceOrgID absent (standalone)", ORG_ID, MACIE, "kms:GenerateDataKey", KEY_ARN, NONE, ImplicitDeny).partial(&["aws:SourceOrgID"]),
        case("SourceOrgID unknown", ORG_ID, MACIE, "kms:GenerateDataKey", KEY_ARN, NONE, Uncertain).partial(NO_KEYS),
        case("SourceOrgPaths under the OU", ORG_PATHS, MACIE, "s3:PutObject", OBJECT, IN_OU, Allow).partial(NO_KEYS),
        case("SourceOrgPaths in another OU", ORG_PATHS, MACIE, "s3:PutObject", OBJECT, OTHER_OU, ImplicitDeny).partial(NO_KEYS),
        case("SourceOrgPaths unknown", ORG_PATHS, MACIE, "s3:PutObject", OBJECT, NONE, Uncertain).partial(NO_KEYS),
        case("tag prefix known absent", PRINCIPAL_TAG, MACIE, "s3:GetObject", OBJECT, NONE, ImplicitDeny).partial(SERVICE_ABSENT),
        case("tag prefix does not name other keys", PRINCIPAL_TAG, MACIE, "s3:GetObject", OBJECT, NONE, Uncertain).partial(&["aws:PrincipalTag"]),
        case("Null with the key unknown", NULL_ACL, MACIE, "s3:GetObject", OBJECT, NONE, Uncertain).partial(NO_KEYS),
        case("Null with the key known absent", NULL_ACL, MACIE, "s3:GetObject", OBJECT, NONE, Allow).partial(&["s3:x-amz-acl"]),
    ];

    #[test]
    fn policy_shapes_table() {
        let mut failures = Vec::new();
        for c in CASES {
            let policy = match Policy::parse(c.policy) {
                Ok(policy) => policy,
                Err(e) => {
                    failures.push(format!("{}: parse failed: {e}", c.name));
                    continue;
                }
            };
            let evaluation = policy.evaluate(&c.request);
            if evaluation.decision != c.expected {
                failures.push(format!(
                    "{}: expected {:?}, got {evaluation:?}",
                    c.name, c.expected
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn evaluate(
        policy: &str,
        principal: Principal<'_>,
        action: &str,
        resource: &str,
    ) -> Evaluation {
        let policy = Policy::parse(policy).expect("test policy parses");
        policy.evaluate(&Request::complete(
            principal,
            action,
            resource,
            MACIE_WRITE_NO_TLS,
        ))
    }

    #[test]
    fn labels_name_every_matching_statement() {
        let evaluation = evaluate(MACIE_BUCKET_POLICY, MACIE, "s3:PutObject", OBJECT);
        assert_eq!(evaluation.decision, ExplicitDeny);
        assert_eq!(evaluation.denied_by, vec!["Deny non-HTTPS access"]);
        assert_eq!(
            evaluation.allowed_by,
            vec!["Allow Macie to upload objects to the bucket"]
        );

        let evaluation = evaluate(
            NOT_ACTION_DENY,
            Principal::Anonymous,
            "s3:PutObject",
            OBJECT,
        );
        assert_eq!(evaluation.denied_by, vec!["OnlyReads"]);
        assert_eq!(evaluation.allowed_by, vec!["#1"]);

        let none = evaluate(WRONG_SERVICE, MACIE, "s3:PutObject", OBJECT);
        assert_eq!(
            none,
            Evaluation {
                decision: ImplicitDeny,
                allowed_by: vec![],
                denied_by: vec![],
                uncertain: vec![],
                near_misses: vec![],
            }
        );
    }

    /// Macie's write to the SRA bucket, with the keys AWS documents absent.
    fn macie_partial(
        policy: &str,
        action: &str,
        resource: &str,
        context: &[(&str, &str)],
    ) -> Evaluation {
        Policy::parse(policy)
            .expect("test policy parses")
            .evaluate(&Request {
                principal: MACIE,
                action,
                resource,
                context,
                absent: SERVICE_ABSENT,
                unlisted: UnlistedKeys::Unknown,
            })
    }

    #[test]
    fn uncertain_statements_name_their_unknown_keys() {
        let evaluation = macie_partial(SRA_BUCKET_POLICY, "s3:PutObject", OBJECT, MACIE_WRITE);
        assert_eq!(evaluation.decision, Uncertain);
        assert!(evaluation.allowed_by.is_empty() && evaluation.denied_by.is_empty());
        let acl = KeyCondition {
            operator: "StringEquals".into(),
            key: "s3:x-amz-acl".into(),
            values: vec!["bucket-owner-full-control".into()],
            found: None,
        };
        assert_eq!(
            evaluation.uncertain,
            vec![ConditionedStatement {
                label: "AWSBucketDelivery".into(),
                effect: Effect::Allow,
                conditions: vec![acl.clone()],
            }]
        );
        assert_eq!(acl.describe(), "s3:x-amz-acl is bucket-owner-full-control");
        // The CalledVia deny does not apply to Macie: ForAnyValue of an absent key is false.
        // Nor does the TLS deny, Macie's request being over TLS.
        assert_eq!(evaluation.near_misses.len(), 2);
        assert_eq!(evaluation.near_misses[1].label, "SecureTransport");
        assert_eq!(
            evaluation.near_misses[1].conditions[0].found.as_deref(),
            Some("true")
        );
        assert_eq!(
            evaluation.near_misses[..1],
            vec![ConditionedStatement {
                label: "DenyPutObjectUnlessMacie".into(),
                effect: Effect::Deny,
                conditions: vec![KeyCondition {
                    operator: "ForAnyValue:StringNotEquals".into(),
                    key: "aws:CalledVia".into(),
                    values: vec!["macie.amazonaws.com".into()],
                    found: None,
                }],
            }]
        );

        let flipped = macie_partial(ACL_DENY, "s3:PutObject", OBJECT, NONE);
        assert_eq!(flipped.decision, Uncertain);
        assert_eq!(flipped.allowed_by, vec!["#1"]);
        assert_eq!(flipped.uncertain.len(), 1);
        assert_eq!(flipped.uncertain[0].label, "OwnerMustOwn");
        assert_eq!(flipped.uncertain[0].effect, Effect::Deny);
    }

    #[test]
    fn near_misses_say_which_known_condition_failed() {
        let evaluation =
            Policy::parse(MACIE_KEY_POLICY)
                .expect("parses")
                .evaluate(&Request::complete(
                    MACIE,
                    "kms:Encrypt",
                    KEY_ARN,
                    &[
                        ("aws:SourceAccount", ACCOUNT),
                        (
                            "aws:SourceArn",
                            "arn:aws:macie2:eu-west-1:111111111111:export-configuration:*",
                        ),
                    ],
                ));
        assert_eq!(evaluation.decision, ImplicitDeny);
        assert_eq!(evaluation.near_misses.len(), 1);
        let miss = &evaluation.near_misses[0];
        assert_eq!(miss.label, "Allow Macie to use the key");
        assert_eq!(miss.conditions.len(), 1);
        assert_eq!(miss.conditions[0].key, "aws:SourceArn");
        assert_eq!(
            miss.conditions[0].found.as_deref(),
            Some("arn:aws:macie2:eu-west-1:111111111111:export-configuration:*")
        );
        assert_eq!(
            miss.conditions[0].describe(),
            "aws:SourceArn matches arn:aws:macie2:us-east-1:111111111111:export-configuration:* or \
             arn:aws:macie2:us-east-1:111111111111:classification-job/*"
        );
    }

    #[test]
    fn conditions_in_words() {
        let condition = |operator: &str, values: &[&str]| KeyCondition {
            operator: operator.into(),
            key: "k".into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            found: None,
        };
        #[rustfmt::skip]
        let expected: &[(&str, &[&str], &str)] = &[
            ("StringEquals", &["a", "b"], "k is a or b"),
            ("StringNotEquals", &["a", "b"], "k is none of a, b"),
            ("StringEqualsIgnoreCase", &["A"], "k is A (ignoring case)"),
            ("ForAnyValue:StringLike", &["o-1/*"], "some value of k matches o-1/*"),
            ("ForAllValues:StringNotLikeIfExists", &["x*"], "every value of k does not match x*, or is absent"),
            ("ArnNotLike", &["a", "b"], "k matches none of a, b"),
            ("NumericNotEquals", &["1"], "k is not 1"),
            ("ArnLike", &[""], "k matches an empty value"),
            ("StringEquals", &[], "k is no value"),
            ("NumericLessThan", &["10"], "k is less than 10"),
            ("Bool", &["true"], "k is true"),
            ("Null", &["true"], "k is absent"),
            ("Null", &["false"], "k is present"),
            ("IpAddress", &["192.0.2.0/24"], "k satisfies IpAddress 192.0.2.0/24"),
        ];
        for (operator, values, text) in expected {
            assert_eq!(condition(operator, values).describe(), *text, "{operator}");
        }
    }

    #[test]
    fn empty_sid_is_labelled_by_index() {
        let policy = r#"{"Statement": [{"Sid": "", "Effect": "Allow", "Principal": "*",
          "Action": "*"}]}"#;
        let evaluation = evaluate(policy, Principal::Anonymous, "s3:GetObject", OBJECT);
        assert_eq!(evaluation.allowed_by, vec!["#0"]);
    }

    #[test]
    fn malformed_documents_are_errors() {
        #[rustfmt::skip]
        let malformed: &[(&str, &str)] = &[
            ("empty text", ""),
            ("whitespace", "   "),
            ("empty object", "{}"),
            ("null", "null"),
            ("array", "[]"),
            ("truncated", r#"{"Statement": ["#),
            ("Statement a string", r#"{"Statement": "Allow everything"}"#),
            ("Statement empty", r#"{"Statement": []}"#),
            ("Statement element a number", r#"{"Statement": [1]}"#),
            ("unknown top-level key", r#"{"Statement": [], "Extra": 1}"#),
            ("bad Version", r#"{"Version": "2024-01-01", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*"}}"#),
            ("Version a number", r#"{"Version": 2012, "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*"}}"#),
            ("Effect Maybe", r#"{"Statement": {"Effect": "Maybe", "Principal": "*", "Action": "*"}}"#),
            ("Effect lowercase", r#"{"Statement": {"Effect": "allow", "Principal": "*", "Action": "*"}}"#),
            ("Effect missing", r#"{"Statement": {"Principal": "*", "Action": "*"}}"#),
            ("Effect a boolean", r#"{"Statement": {"Effect": true, "Principal": "*", "Action": "*"}}"#),
            ("Action a number", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": 5}}"#),
            ("Action list with a number", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": ["s3:*", 5]}}"#),
            ("no Action", r#"{"Statement": {"Effect": "Allow", "Principal": "*"}}"#),
            ("Action and NotAction", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "NotAction": "s3:*"}}"#),
            ("Resource and NotResource", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "NotResource": "*"}}"#),
            ("Resource an object", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": {}}}"#),
            ("Principal and NotPrincipal", r#"{"Statement": {"Effect": "Deny", "Principal": "*", "NotPrincipal": "*", "Action": "*"}}"#),
            ("Principal a bare service", r#"{"Statement": {"Effect": "Allow", "Principal": "macie.amazonaws.com", "Action": "*"}}"#),
            ("Principal unknown type", r#"{"Statement": {"Effect": "Allow", "Principal": {"Services": "macie.amazonaws.com"}, "Action": "*"}}"#),
            ("Principal value a number", r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": 111111111111}, "Action": "*"}}"#),
            ("unknown statement key", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Actions": "s3:*"}}"#),
            ("Sid a number", r#"{"Statement": {"Sid": 1, "Effect": "Allow", "Principal": "*", "Action": "*"}}"#),
            ("Condition a string", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": "true"}}"#),
            ("Condition block a list", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": ["aws:SecureTransport"]}}}"#),
            ("Condition value an object", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"StringEquals": {"k": {"v": 1}}}}}"#),
            ("Condition value null", r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Null": {"k": null}}}}"#),
        ];
        for (name, text) in malformed {
            match Policy::parse(text) {
                Err(PolicyError(message)) => assert!(!message.is_empty(), "{name}"),
                Ok(policy) => panic!("{name}: parsed as {policy:?}"),
            }
        }
    }

    #[test]
    fn error_messages_locate_the_problem() {
        let error = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"},
              {"Sid": "Bad", "Effect": "Maybe", "Principal": "*", "Action": "*"}]}"#,
        )
        .expect_err("Effect Maybe is rejected");
        assert!(
            error.0.contains("\"Bad\"") && error.0.contains("Maybe"),
            "{error}"
        );
        assert!(error.to_string().starts_with("invalid policy document: "));
        let error = Policy::parse(r#"{"Statement": [{"Effect": "Allow", "Action": 5}]}"#)
            .expect_err("Action 5 is rejected");
        assert!(
            error.0.contains("#0") && error.0.contains("Action"),
            "{error}"
        );
    }

    #[test]
    fn unknown_operators_are_kept() {
        let policy = r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*",
          "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                        "ForSomeValues:StringEquals": {"k": "v"}}}}"#;
        assert!(Policy::parse(policy).is_ok());
    }

    #[test]
    fn operator_names() {
        let op = parse_operator("ForAllValues:StringNotLikeIfExists").expect("known");
        assert_eq!(op.comparison, Comparison::StringLike);
        assert!(op.negated && op.if_exists);
        assert_eq!(op.qualifier, SetQualifier::ForAllValues);
        assert_eq!(
            parse_operator("ArnEquals").map(|o| o.comparison),
            Some(Comparison::ArnLike)
        );
        assert!(parse_operator("IfExists").is_none());
        assert!(parse_operator("ForAnyValue:").is_none());
        assert!(parse_operator("IpAddress").is_none());
        assert!(parse_operator("é").is_none());
    }

    #[test]
    fn glob_wildcards() {
        assert!(glob("*", "", false));
        assert!(glob("a*b?d", "aXXbcd", false));
        assert!(!glob("a*b?d", "aXXbd", false));
        assert!(glob(
            "arn:aws:s3:::b/prefix*",
            "arn:aws:s3:::b/prefix/AWSLogs/x",
            false
        ));
        assert!(!glob(
            "arn:aws:s3:::b/prefix*",
            "arn:aws:s3:::b/other",
            false
        ));
        assert!(glob("S3:PUT*", "s3:PutObject", true));
        assert!(!glob("S3:PUT*", "s3:PutObject", false));
        assert!(glob("é?", "éa", false));
        // A hostile pattern terminates quickly.
        let pattern = "*a".repeat(200) + "b";
        assert!(!glob(&pattern, &"a".repeat(5000), false));
    }

    #[test]
    fn arn_like_matches_field_by_field() {
        let job = "arn:aws:macie2:us-east-1:111111111111:classification-job/*";
        assert!(arn_like(
            job,
            "arn:aws:macie2:us-east-1:111111111111:classification-job/x"
        ));
        assert!(!arn_like(job, "arn:aws:macie2:us-east-1:111111111111"));
        assert!(!arn_like(job, "not-an-arn"));
        assert!(arn_like("*", "anything"));
        assert!(arn_like("arn:aws:iam::*:role/*", "arn:aws:iam::1:role/a:b"));
        // `*` in one field does not swallow the colons of the next.
        assert!(!arn_like("arn:*:s3:::b", "arn:aws:x:s3:::b"));
    }

    #[test]
    fn account_helpers() {
        assert_eq!(
            account_of("arn:aws:iam::111111111111:user/a"),
            Some(ACCOUNT)
        );
        assert_eq!(account_of(ACCOUNT), Some(ACCOUNT));
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
        assert_eq!(account_of("1111"), None);
        assert_eq!(
            listed_account("arn:aws-cn:iam::111111111111:root"),
            Some(ACCOUNT)
        );
        assert_eq!(listed_account("arn:aws:iam::111111111111:user/root"), None);
    }

    /// Parsing arbitrary junk returns an error or a policy, and never panics; nor does
    /// evaluating odd requests against whatever parsed.
    #[test]
    fn junk_never_panics() {
        let mut inputs: Vec<String> = [
            &b""[..],
            b"\xff\xfe\x00\x00",
            b"{\"Statement\":",
            b"\"\\ud800\"",
            b"{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": {}, \"Action\": []}}",
            b"{\"Statement\": {\"Effect\": \"Deny\", \"NotPrincipal\": {\"AWS\": []}, \"NotAction\": [], \"NotResource\": []}}",
            b"{\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"*\", \"Condition\": {\"\": {\"\": []}}}}",
            b"1e999999",
            b"[[[[[[[[[[",
            b"\x00\x01\x02{}[]\"",
        ]
        .iter()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .collect();
        inputs.push("[".repeat(100_000) + &"]".repeat(100_000));
        inputs.push("{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000));
        inputs.push(format!(
            r#"{{"Statement": {{"Effect": "Allow", "Principal": "*", "Action": "*",
              "Condition": {{"StringEquals": {{"k": {}1{}}}}}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        ));
        let contexts: &[&[(&str, &str)]] = &[NONE, &[("", ""), ("k", "\u{0}")]];
        let mut parsed = 0;
        for text in &inputs {
            let Ok(policy) = Policy::parse(text) else {
                continue;
            };
            parsed += 1;
            for principal in [
                Principal::Anonymous,
                Principal::Aws(""),
                Principal::Service(""),
            ] {
                for context in contexts {
                    let evaluation = policy.evaluate(&Request {
                        principal,
                        action: "",
                        resource: ":::::::",
                        context,
                        absent: &["", "/*", "k"],
                        unlisted: UnlistedKeys::Unknown,
                    });
                    let denied = evaluation.decision == ExplicitDeny;
                    assert_eq!(denied, !evaluation.denied_by.is_empty(), "{text}");
                }
            }
        }
        // Only the three well-formed (if odd) documents parse; the deep ones are refused.
        assert_eq!(parsed, 3);
    }
}
