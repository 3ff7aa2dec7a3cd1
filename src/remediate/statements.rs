//! The policy documents remediation writes, and whether a policy already does what Macie needs.
//!
//! The statements themselves come from the rules' remediation builders
//! ([`crate::rules::remediation`]), so a finding's advice and what `remediate` writes are the same
//! text. Merging never drops a statement: a statement with one of ours' `Sid` is replaced by ours,
//! with the accounts, service principals and source ARNs it already granted kept; every other
//! statement is left as it is. Whether a policy is good enough is decided by evaluating the
//! requests Macie makes with [`crate::policy`], as the rules do.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::macie_access::{self, Answer, Exporter, OrgMembership};
use crate::policy::{Effect, Policy, PolicyError};
pub use crate::regions::macie_principal;
use crate::rules::remediation::{bucket_statements, key_statement};

/// Stands for the ARN of a key this plan creates, in the documents of steps that run before its
/// ARN is known; replaced when the step runs (and in the CLI commands, by the shell variable).
pub const KEY_ARN_PLACEHOLDER: &str = "${KEY_ARN}";

/// `Sid`s of the statements `--strategy central` manages in shared policies, distinct from any an
/// organization is likely to use already.
pub const CENTRAL_KEY_SID: &str = "MacieAuditAllowMacieToUseTheKey";
/// See [`CENTRAL_KEY_SID`].
pub const CENTRAL_WRITE_SID: &str = "MacieAuditAllowMacieToWrite";
/// See [`CENTRAL_KEY_SID`].
pub const CENTRAL_LOCATE_SID: &str = "MacieAuditAllowMacieToLocate";
/// See [`CENTRAL_KEY_SID`].
pub const CENTRAL_TLS_SID: &str = "MacieAuditDenyNonTLS";
/// `Sid` of the deny `--strategy repair` adds to a repository bucket: Macie's uploads under the
/// prefix encrypted with any other key are refused.
pub const REPAIR_WRONG_KEY_SID: &str = "MacieAuditDenyWrongKey";

/// Source ARNs of the central statements: any Region and account, the accounts being pinned by
/// `aws:SourceAccount` (listing ARNs per account and Region would exceed the policy size limits
/// of an organization with hundreds of accounts).
const CENTRAL_SOURCE_ARNS: [&str; 2] = [
    "arn:aws:macie2:*:*:export-configuration:*",
    "arn:aws:macie2:*:*:classification-job/*",
];

/// The fields whose values a merge keeps from the statement it replaces.
const UNION_FIELDS: [(&str, &str, &str); 3] = [
    ("Principal", "Service", ""),
    ("Condition", "StringEquals", "aws:SourceAccount"),
    ("Condition", "ArnLike", "aws:SourceArn"),
];

/// An account and Region whose Macie writes to a repository. A source is identified by its
/// account and Region alone (equality, order and hash ignore `organization`): the organization is
/// what its requests carry, known where the scan's evidence is at hand and unknown elsewhere.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MacieSource {
    /// The account.
    pub account_id: String,
    /// The Region of its Macie.
    pub region: String,
    /// The account's organization, as Macie's requests carry it (`aws:SourceOrgID`,
    /// `aws:SourceOrgPaths`); plans written before it was recorded read as unknown.
    #[serde(default, skip_serializing_if = "OrgMembership::is_unknown")]
    pub organization: OrgMembership,
}

impl MacieSource {
    /// The source, its organization unknown.
    pub fn new(account_id: &str, region: &str) -> MacieSource {
        MacieSource {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            organization: OrgMembership::Unknown,
        }
    }

    fn identity(&self) -> (&str, &str) {
        (&self.account_id, &self.region)
    }
}

impl PartialEq for MacieSource {
    fn eq(&self, other: &MacieSource) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for MacieSource {}

impl PartialOrd for MacieSource {
    fn partial_cmp(&self, other: &MacieSource) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MacieSource {
    fn cmp(&self, other: &MacieSource) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl std::hash::Hash for MacieSource {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

fn parse_builder(text: &str) -> Value {
    // The builders produce constant JSON shapes; a failure here is a bug caught by the tests.
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The key policy of a key `--strategy own` creates: the account's administrators (through IAM,
/// so that the key can never become unmanageable) and Macie with its confused-deputy conditions.
pub fn own_key_policy(account: &str, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "macie-discovery-results",
        "Statement": [
            {
                "Sid": "AllowAccountAdministrators",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            own_key_statement(account, region)
        ]
    })
}

/// The Macie statement of a key `--strategy own` uses.
pub fn own_key_statement(account: &str, region: &str) -> Value {
    parse_builder(&key_statement(account, region))
}

/// The statements of a bucket `--strategy own` uses: deny non-TLS, deny uploads not encrypted
/// with the key, let Macie write under the prefix and locate the bucket.
pub fn own_bucket_statements(
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    account: &str,
    region: &str,
) -> Vec<Value> {
    match parse_builder(&bucket_statements(bucket, prefix, key_arn, account, region)) {
        Value::Array(statements) => statements,
        _ => Vec::new(),
    }
}

/// A policy document made of `statements`.
pub fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn one_or_many(values: Vec<String>) -> Value {
    match values.as_slice() {
        [one] => Value::String(one.clone()),
        _ => Value::Array(values.into_iter().map(Value::String).collect()),
    }
}

/// The principals Macie uses for these sources, sorted.
pub fn principals(sources: &[MacieSource]) -> Vec<String> {
    let mut principals: Vec<String> = sources.iter().map(|s| macie_principal(&s.region)).collect();
    principals.sort();
    principals.dedup();
    principals
}

fn accounts(sources: &[MacieSource]) -> Vec<String> {
    let mut accounts: Vec<String> = sources.iter().map(|s| s.account_id.clone()).collect();
    accounts.sort();
    accounts.dedup();
    accounts
}

/// Makes a single-account statement of the builders serve many accounts and Regions.
fn generalise(mut statement: Value, sid: &str, sources: &[MacieSource]) -> Value {
    if let Value::Object(fields) = &mut statement {
        fields.insert("Sid".into(), Value::String(sid.into()));
        fields.insert(
            "Principal".into(),
            json!({"Service": one_or_many(principals(sources))}),
        );
        if let Some(Value::Object(condition)) = fields.get_mut("Condition") {
            condition.insert(
                "StringEquals".into(),
                json!({"aws:SourceAccount": one_or_many(accounts(sources))}),
            );
            condition.insert(
                "ArnLike".into(),
                json!({"aws:SourceArn": CENTRAL_SOURCE_ARNS}),
            );
        }
    }
    statement
}

/// The Macie statement of a central key, for `sources`.
pub fn central_key_statement(sources: &[MacieSource]) -> Value {
    let first = sources.first().map_or(("000000000000", "us-east-1"), |s| {
        (s.account_id.as_str(), s.region.as_str())
    });
    generalise(
        own_key_statement(first.0, first.1),
        CENTRAL_KEY_SID,
        sources,
    )
}

/// The statements a central bucket needs: the non-TLS deny (when `deny_insecure`) and, when
/// `sources` is not empty, Macie's write and locate statements for them.
pub fn central_bucket_statements(
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    sources: &[MacieSource],
    deny_insecure: bool,
) -> Vec<Value> {
    let first = sources.first().map_or(("000000000000", "us-east-1"), |s| {
        (s.account_id.as_str(), s.region.as_str())
    });
    let mut out = Vec::new();
    for statement in own_bucket_statements(bucket, prefix, key_arn, first.0, first.1) {
        match statement.get("Sid").and_then(Value::as_str) {
            Some("DenyNonTLS") if deny_insecure => {
                let mut statement = statement.clone();
                statement["Sid"] = Value::String(CENTRAL_TLS_SID.into());
                out.push(statement);
            }
            Some("AllowMacieToWrite") if !sources.is_empty() => {
                out.push(generalise(statement, CENTRAL_WRITE_SID, sources));
            }
            Some("AllowMacieToLocate") if !sources.is_empty() => {
                out.push(generalise(statement, CENTRAL_LOCATE_SID, sources));
            }
            _ => {}
        }
    }
    out
}

/// The statements `--strategy repair` adds to a repository bucket's policy: those of
/// [`central_bucket_statements`] for the sources it lacks (`missing`), and the deny of Macie
/// uploads under the prefix not encrypted with the repository key, for the principals of every
/// source the repository serves (`served`): the repository is the only one under that prefix,
/// so the deny refuses no one else's writes.
pub fn repair_bucket_statements(
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    missing: &[MacieSource],
    served: &[MacieSource],
    deny_insecure: bool,
) -> Vec<Value> {
    let mut out = central_bucket_statements(bucket, prefix, key_arn, missing, deny_insecure);
    let first = served.first().map_or(("000000000000", "us-east-1"), |s| {
        (s.account_id.as_str(), s.region.as_str())
    });
    let wrong_key = own_bucket_statements(bucket, prefix, key_arn, first.0, first.1)
        .into_iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some("DenyWrongKey"));
    if let Some(Value::Object(mut fields)) = wrong_key.filter(|_| !served.is_empty()) {
        fields.insert("Sid".into(), Value::String(REPAIR_WRONG_KEY_SID.into()));
        fields.insert(
            "Principal".into(),
            json!({"Service": one_or_many(principals(served))}),
        );
        out.push(Value::Object(fields));
    }
    out
}

/// Replaces `placeholder` by `value` in every string of a document.
pub fn substitute(value: &Value, placeholder: &str, replacement: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace(placeholder, replacement)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute(item, placeholder, replacement))
                .collect(),
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, placeholder, replacement)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn field<'v>(statement: &'v Value, path: (&str, &str, &str)) -> Option<&'v Value> {
    let inner = statement.get(path.0)?.get(path.1)?;
    if path.2.is_empty() {
        Some(inner)
    } else {
        inner.get(path.2)
    }
}

fn field_mut<'v>(statement: &'v mut Value, path: (&str, &str, &str)) -> Option<&'v mut Value> {
    let inner = statement.get_mut(path.0)?.get_mut(path.1)?;
    if path.2.is_empty() {
        Some(inner)
    } else {
        inner.get_mut(path.2)
    }
}

/// `desired`, keeping the principals, accounts and source ARNs `existing` granted.
fn union(existing: &Value, desired: &Value) -> Value {
    let mut merged = desired.clone();
    for path in UNION_FIELDS {
        let old = strings(field(existing, path));
        if old.is_empty() {
            continue;
        }
        let Some(slot) = field_mut(&mut merged, path) else {
            continue;
        };
        let mut values = strings(Some(slot));
        for value in old {
            if !values.contains(&value) {
                values.push(value);
            }
        }
        values.sort();
        *slot = one_or_many(values);
    }
    merged
}

/// The statements of a policy document, whatever their shape (one object or a list).
fn statements_of(document: &Value) -> Vec<Value> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    }
}

/// `current` with `desired` merged in: a statement with the same `Sid` is replaced (keeping what
/// it granted, see [`union`]), the others are appended; no statement is ever dropped.
pub fn merge(current: Option<&Value>, desired: &[Value]) -> Value {
    let Some(current) = current else {
        return document(desired.to_vec());
    };
    let mut statements = statements_of(current);
    for wanted in desired {
        let sid = wanted.get("Sid").and_then(Value::as_str);
        let existing = sid.and_then(|sid| {
            statements
                .iter()
                .position(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
        });
        match existing {
            Some(index) => statements[index] = union(&statements[index], wanted),
            None => statements.push(wanted.clone()),
        }
    }
    let mut merged = match current {
        Value::Object(fields) => Value::Object(fields.clone()),
        _ => Value::Object(Map::new()),
    };
    if merged.get("Version").is_none() {
        merged["Version"] = Value::String("2012-10-17".into());
    }
    merged["Statement"] = Value::Array(statements);
    merged
}

/// Parses policy text into a JSON value and a policy, for merging and evaluation.
pub fn parse(text: &str) -> Result<(Value, Policy), PolicyError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
    let policy = Policy::parse(text)?;
    Ok((value, policy))
}

/// What a policy does not yet do for Macie.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "gap", rename_all = "snake_case")]
pub enum Gap {
    /// Requests without TLS are not denied.
    TlsNotDenied,
    /// Macie in this account and Region is not allowed an action (implicitly).
    NotAllowed {
        /// The source.
        source: MacieSource,
        /// The action.
        action: String,
    },
    /// Macie in this account and Region is denied an action by the statements named.
    Denied {
        /// The source.
        source: MacieSource,
        /// The action.
        action: String,
        /// The denying statements (Sid or index).
        statements: Vec<String>,
    },
    /// Macie in this account and Region may be denied an action, by statements whose conditions
    /// test keys AWS does not document in Macie's requests: no statement added can overturn a
    /// deny, so this is blocked like one.
    MayBeDenied {
        /// The source.
        source: MacieSource,
        /// The action.
        action: String,
        /// The deny and its conditions in words, after "the policy".
        reason: String,
    },
    /// Macie is allowed without confused-deputy conditions, by the statements named.
    Unconditioned {
        /// The source.
        source: MacieSource,
        /// The allowing statements.
        statements: Vec<String>,
    },
}

impl Gap {
    /// Whether merging our statements can close it (an explicit deny or another statement's
    /// unconditioned allow cannot be removed without dropping someone's statement).
    pub fn fixable_by_merge(&self) -> bool {
        matches!(self, Gap::TlsNotDenied | Gap::NotAllowed { .. })
    }

    /// The source it concerns, if any.
    pub fn source(&self) -> Option<&MacieSource> {
        match self {
            Gap::TlsNotDenied => None,
            Gap::NotAllowed { source, .. }
            | Gap::Denied { source, .. }
            | Gap::MayBeDenied { source, .. }
            | Gap::Unconditioned { source, .. } => Some(source),
        }
    }
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gap::TlsNotDenied => f.write_str("requests without TLS are not denied"),
            Gap::NotAllowed { source, action } => write!(
                f,
                "{} is not allowed {action} for account {} ({})",
                macie_principal(&source.region),
                source.account_id,
                source.region
            ),
            Gap::Denied {
                source,
                action,
                statements,
            } => write!(
                f,
                "statement {} denies {} {action} for account {} ({})",
                statements.join(", "),
                macie_principal(&source.region),
                source.account_id,
                source.region
            ),
            Gap::MayBeDenied { source, reason, .. } => write!(
                f,
                "the policy {reason} (account {}, {})",
                source.account_id, source.region
            ),
            Gap::Unconditioned { source, statements } => write!(
                f,
                "statement {} allows {} without aws:SourceAccount / aws:SourceArn conditions (account {}, {})",
                statements.join(", "),
                macie_principal(&source.region),
                source.account_id,
                source.region
            ),
        }
    }
}

impl MacieSource {
    fn exporter(&self) -> Exporter<'_> {
        Exporter {
            account: &self.account_id,
            region: &self.region,
            organization: &self.organization,
        }
    }
}

/// The gaps one of Macie's answers leaves, for `source` and `action`; the statements allowing it
/// without conditions are added to `unconditioned`.
fn gap_of(
    source: &MacieSource,
    action: &str,
    answer: Answer,
    unconditioned: &mut Vec<String>,
) -> Option<Gap> {
    match answer {
        Answer::Allowed { unconditioned_by } => {
            unconditioned.extend(unconditioned_by);
            None
        }
        Answer::Denied { by } => Some(Gap::Denied {
            source: source.clone(),
            action: action.into(),
            statements: by,
        }),
        // An allow that holds only for some values of undocumented keys is no grant to rely on:
        // our own statement, which needs no such key, closes it.
        Answer::Uncertain { depends_on }
            if depends_on.iter().all(|s| s.effect == Effect::Allow) =>
        {
            Some(Gap::NotAllowed {
                source: source.clone(),
                action: action.into(),
            })
        }
        Answer::Uncertain { depends_on } => Some(Gap::MayBeDenied {
            source: source.clone(),
            action: action.into(),
            reason: macie_access::uncertain_clause(
                &format!("{} {action}", macie_principal(&source.region)),
                &depends_on,
                "Macie is allowed",
            ),
        }),
        Answer::NotAllowed { .. } => Some(Gap::NotAllowed {
            source: source.clone(),
            action: action.into(),
        }),
    }
}

/// What a key policy lacks for Macie in `sources` to use `key_arn` (MACIE-003's policy checks).
pub fn key_gaps(policy: &Policy, key_arn: &str, sources: &[MacieSource]) -> Vec<Gap> {
    let mut gaps = Vec::new();
    for source in sources {
        let mut unconditioned = Vec::new();
        for (action, answer) in macie_access::key_answers(policy, key_arn, source.exporter()) {
            gaps.extend(gap_of(source, action, answer, &mut unconditioned));
        }
        if !unconditioned.is_empty() {
            unconditioned.sort();
            unconditioned.dedup();
            gaps.push(Gap::Unconditioned {
                source: source.clone(),
                statements: unconditioned,
            });
        }
    }
    gaps
}

/// What a bucket policy lacks (MACIE-004's policy checks): the non-TLS deny, and Macie's
/// `s3:PutObject` under `prefix` and `s3:GetBucketLocation` for `sources`. `None` is no policy.
pub fn bucket_gaps(
    policy: Option<&Policy>,
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    sources: &[MacieSource],
) -> Vec<Gap> {
    let Some(policy) = policy else {
        // No policy: nothing is denied, nothing is allowed.
        let mut gaps = vec![Gap::TlsNotDenied];
        for source in sources {
            for action in macie_access::BUCKET_ACTIONS {
                gaps.push(Gap::NotAllowed {
                    source: source.clone(),
                    action: action.into(),
                });
            }
        }
        return gaps;
    };
    let mut gaps = Vec::new();
    if !macie_access::denies_insecure_transport(policy, bucket, prefix) {
        gaps.push(Gap::TlsNotDenied);
    }
    for source in sources {
        let answers =
            macie_access::bucket_answers(policy, bucket, prefix, key_arn, source.exporter());
        for (action, answer) in answers {
            // The bucket rule does not judge conditions: an unconditioned allow is no gap here.
            gaps.extend(gap_of(source, action, answer, &mut Vec::new()));
        }
    }
    gaps
}

/// The sources a list of gaps leaves without access, sorted and without duplicates.
pub fn sources_missing(gaps: &[Gap]) -> Vec<MacieSource> {
    let mut sources: Vec<MacieSource> = gaps
        .iter()
        .filter(|gap| matches!(gap, Gap::NotAllowed { .. }))
        .filter_map(Gap::source)
        .cloned()
        .collect();
    sources.sort();
    sources.dedup();
    sources
}

/// How a policy changes, statement by statement, for people: `  = Sid` for a statement kept as
/// it is, `- …` and `+ …` for one replaced (ours, extended), `+ …` for one added, `- …` for one
/// that would be lost (a merge never loses one; shown all the same if it did). `before` is `None`
/// for a policy that does not exist yet.
pub fn diff(before: Option<&Value>, after: &Value) -> Vec<String> {
    let old = before.map(statements_of).unwrap_or_default();
    let new = statements_of(after);
    let sid = |statement: &Value| {
        statement
            .get("Sid")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let label = |statement: &Value, index: usize| {
        sid(statement).map_or_else(
            || format!("statement {}", index + 1),
            |s| format!("\"{s}\""),
        )
    };
    let mut lines = Vec::new();
    for (index, statement) in new.iter().enumerate() {
        if old.contains(statement) {
            lines.push(format!("  = {} (kept as is)", label(statement, index)));
            continue;
        }
        let replaced = sid(statement).and_then(|wanted| {
            old.iter()
                .find(|o| sid(o).as_deref() == Some(wanted.as_str()))
        });
        if let Some(replaced) = replaced {
            lines.push(format!("  - {}", to_text(replaced)));
        }
        lines.push(format!("  + {}", to_text(statement)));
    }
    for statement in &old {
        let kept = new.contains(statement)
            || sid(statement)
                .is_some_and(|s| new.iter().any(|n| sid(n).as_deref() == Some(s.as_str())));
        if !kept {
            lines.push(format!("  - {}", to_text(statement)));
        }
    }
    lines
}

/// Canonical JSON text of a document (for policies sent to AWS and compared): object keys in
/// sorted order, whatever order the document's maps keep (with serde_json's `preserve_order`,
/// which a dependency may turn on, they keep the order keys were inserted in).
pub fn to_text(document: &Value) -> String {
    serde_json::to_string(&sorted_keys(document)).unwrap_or_default()
}

fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), sorted_keys(&map[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(account: &str, region: &str) -> MacieSource {
        MacieSource::new(account, region)
    }

    const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k";

    fn policy(document: &Value) -> Policy {
        Policy::parse(&to_text(document)).expect("policy")
    }

    #[test]
    fn the_builders_parse() {
        assert_eq!(
            own_key_statement("111111111111", "us-east-1")["Sid"],
            "AllowMacieToUseTheKey"
        );
        let sids: Vec<Value> = own_bucket_statements("b", "macie/", KEY, "1", "us-east-1")
            .iter()
            .map(|s| s["Sid"].clone())
            .collect();
        assert_eq!(
            sids,
            vec![
                json!("DenyNonTLS"),
                json!("DenyWrongKey"),
                json!("AllowMacieToWrite"),
                json!("AllowMacieToLocate")
            ]
        );
    }

    #[test]
    fn own_documents_satisfy_the_rules() {
        let sources = [source("111111111111", "us-east-1")];
        let key = own_key_policy("111111111111", "us-east-1");
        assert_eq!(key_gaps(&policy(&key), KEY, &sources), vec![]);
        let bucket = document(own_bucket_statements(
            "b",
            "macie/",
            KEY,
            "111111111111",
            "us-east-1",
        ));
        assert_eq!(
            bucket_gaps(Some(&policy(&bucket)), "b", "macie/", KEY, &sources),
            vec![]
        );
        // Opt-in Regions use their own principal.
        let sources = [source("111111111111", "af-south-1")];
        let key = own_key_policy("111111111111", "af-south-1");
        assert_eq!(key_gaps(&policy(&key), KEY, &sources), vec![]);
        let other = own_key_policy("111111111111", "us-east-1");
        assert!(!key_gaps(&policy(&other), KEY, &sources).is_empty());
    }

    #[test]
    fn no_policy_lacks_everything() {
        let sources = [source("1", "us-east-1")];
        let gaps = bucket_gaps(None, "b", "macie/", KEY, &sources);
        assert_eq!(gaps[0], Gap::TlsNotDenied);
        assert_eq!(sources_missing(&gaps), sources.to_vec());
    }

    #[test]
    fn central_merge_adds_accounts_and_keeps_every_statement() {
        let existing = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "kms:*", "Resource": "*"},
                {"Sid": "Theirs", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"}, "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
                 "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}, "ArnLike": {"aws:SourceArn": "arn:aws:macie2:*:*:export-configuration:*"}}}
            ]
        });
        let sources = [
            source("111111111111", "us-east-1"),
            source("222222222222", "us-east-1"),
            source("222222222222", "af-south-1"),
        ];
        let gaps = key_gaps(&policy(&existing), KEY, &sources);
        let missing = sources_missing(&gaps);
        assert_eq!(
            missing,
            vec![
                source("222222222222", "af-south-1"),
                source("222222222222", "us-east-1")
            ]
        );
        let merged = merge(Some(&existing), &[central_key_statement(&missing)]);
        let statements = merged["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0], existing["Statement"][0]);
        assert_eq!(statements[1], existing["Statement"][1]);
        assert_eq!(key_gaps(&policy(&merged), KEY, &sources), vec![]);

        // A second merge for another account extends our statement instead of adding one.
        let more = [source("444444444444", "us-east-1")];
        let again = merge(Some(&merged), &[central_key_statement(&more)]);
        assert_eq!(again["Statement"].as_array().map(Vec::len), Some(3));
        let all: Vec<MacieSource> = sources.iter().chain(&more).cloned().collect();
        assert_eq!(key_gaps(&policy(&again), KEY, &all), vec![]);
        assert_eq!(
            again["Statement"][2]["Principal"]["Service"],
            json!(["macie.af-south-1.amazonaws.com", "macie.amazonaws.com"])
        );
        // Merging what is already there changes nothing.
        assert_eq!(merge(Some(&again), &[central_key_statement(&more)]), again);
    }

    #[test]
    fn central_bucket_statements_close_the_gaps() {
        let sources = [
            source("111111111111", "us-east-1"),
            source("222222222222", "eu-west-1"),
        ];
        let statements = central_bucket_statements("central", "macie/", KEY, &sources, true);
        assert_eq!(statements.len(), 3);
        let merged = merge(None, &statements);
        assert_eq!(
            bucket_gaps(Some(&policy(&merged)), "central", "macie/", KEY, &sources),
            vec![]
        );
        assert!(
            central_bucket_statements("central", "macie/", KEY, &[], false).is_empty(),
            "nothing to add"
        );
    }

    #[test]
    fn explicit_denies_and_unconditioned_allows_are_not_fixable() {
        let document = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Open", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "No", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}
        ]});
        let gaps = key_gaps(&policy(&document), KEY, &[source("1", "us-east-1")]);
        assert!(gaps.iter().all(|gap| !gap.fixable_by_merge()), "{gaps:?}");
        assert!(gaps.iter().any(|g| g.to_string().contains("No")));
        assert!(gaps.iter().any(|g| g.to_string().contains("without")));
    }

    /// The AWS Security Reference Architecture's bucket policy for Macie, with an extra `Deny`
    /// when `acl_deny`: both test `s3:x-amz-acl`, which AWS does not document Macie sending.
    fn acl_conditioned(acl_deny: bool) -> Value {
        let mut statements = vec![
            json!({"Sid": "SecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::central", "arn:aws:s3:::central/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
            json!({"Sid": "AWSBucketPermissionsCheck", "Effect": "Allow",
                "Principal": {"Service": "macie.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": "arn:aws:s3:::central"}),
            json!({"Sid": "AWSBucketDelivery", "Effect": "Allow",
                "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::central/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}),
        ];
        if acl_deny {
            statements.push(
                json!({"Sid": "OwnerMustOwn", "Effect": "Deny", "Principal": "*",
                "Action": "s3:PutObject", "Resource": "arn:aws:s3:::central/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}),
            );
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    #[test]
    fn an_uncertain_allow_is_a_gap_our_statement_closes() {
        let sources = [source("111111111111", "us-east-1")];
        let current = acl_conditioned(false);
        let gaps = bucket_gaps(Some(&policy(&current)), "central", "macie/", KEY, &sources);
        assert_eq!(
            gaps,
            vec![Gap::NotAllowed {
                source: sources[0].clone(),
                action: "s3:PutObject".into(),
            }]
        );
        assert!(gaps.iter().all(Gap::fixable_by_merge));
        let merged = merge(
            Some(&current),
            &central_bucket_statements("central", "macie/", KEY, &sources, false),
        );
        assert!(bucket_gaps(Some(&policy(&merged)), "central", "macie/", KEY, &sources).is_empty());
    }

    #[test]
    fn an_uncertain_deny_is_not_fixable() {
        let sources = [source("111111111111", "us-east-1")];
        let current = acl_conditioned(true);
        let merged = merge(
            Some(&current),
            &central_bucket_statements("central", "macie/", KEY, &sources, false),
        );
        let gaps = bucket_gaps(Some(&policy(&merged)), "central", "macie/", KEY, &sources);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert!(!gaps[0].fixable_by_merge());
        let text = gaps[0].to_string();
        assert!(
            text.starts_with(
                "the policy denies macie.amazonaws.com s3:PutObject when s3:x-amz-acl is not \
                 bucket-owner-full-control (statement \"OwnerMustOwn\")"
            ) && text.ends_with("(account 111111111111, us-east-1)"),
            "{text}"
        );
    }

    #[test]
    fn organization_grants_serve_sources_whose_organization_is_known() {
        let document = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Org", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
             "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceOrgID": "o-a1b2c3d4e5"}}}]});
        let member = MacieSource {
            organization: OrgMembership::Member {
                organization_id: Some("o-a1b2c3d4e5".into()),
                ou_path: None,
            },
            ..source("111111111111", "us-east-1")
        };
        assert!(key_gaps(&policy(&document), KEY, std::slice::from_ref(&member)).is_empty());
        // Without the organization (a plan written before it was recorded), the grant cannot
        // be relied on: our statement is added.
        let unknown = source("111111111111", "us-east-1");
        assert_eq!(unknown, member, "a source is its account and Region");
        assert_eq!(
            key_gaps(&policy(&document), KEY, &[unknown]).len(),
            2,
            "both actions"
        );
    }

    #[test]
    fn the_diff_shows_what_is_kept_extended_and_added() {
        let before = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*", "Resource": "*"},
            central_key_statement(&[source("111111111111", "us-east-1")])
        ]});
        let after = merge(
            Some(&before),
            &[central_key_statement(&[source(
                "222222222222",
                "us-east-1",
            )])],
        );
        let lines = diff(Some(&before), &after);
        assert_eq!(lines[0], "  = \"Admin\" (kept as is)");
        assert!(lines[1].starts_with("  - ") && lines[1].contains("111111111111"));
        assert!(lines[2].starts_with("  + ") && lines[2].contains("222222222222"));
        assert_eq!(lines.len(), 3, "{lines:?}");
        let new = diff(None, &document(vec![json!({"Effect": "Deny"})]));
        assert_eq!(new, vec![r#"  + {"Effect":"Deny"}"#.to_owned()]);
    }

    #[test]
    fn placeholders_are_substituted_everywhere() {
        let statements =
            own_bucket_statements("b", "macie/", KEY_ARN_PLACEHOLDER, "1", "us-east-1");
        let text = to_text(&substitute(&document(statements), KEY_ARN_PLACEHOLDER, KEY));
        assert!(text.contains(KEY) && !text.contains(KEY_ARN_PLACEHOLDER));
    }
}
