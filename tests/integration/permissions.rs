//! The permissions the scanner asks for are exactly the calls it makes.
//!
//! - the operation labels the code records (`observation("s3:…", …)`) are those of
//!   `macie_audit::permissions::API_CALLS`;
//! - `deploy/audit-role.yaml` is valid YAML, its audit role grants exactly `audit_role_actions()`,
//!   read-only, and its remediation role is opt-in and separate (that every template is a valid
//!   one is `make lint-deploy`'s: cfn-lint and checkov, part of `make test`);
//! - `deploy/nightly-scan.yaml`'s scanner role grants exactly `nightly_scanner_actions()`;
//! - the policies for the scanner's own identity grant exactly `security_account_actions()`;
//! - `docs/permissions.md` shows the tables rendered from `API_CALLS`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use macie_audit::permissions::{
    self, API_CALLS, DEFAULT_AUDIT_ROLE_NAME, DEFAULT_MANAGEMENT_ROLE_NAME,
    DEFAULT_REMEDIATION_ROLE_NAME, MadeBy, REMEDIATION_ACTIONS,
};
use serde_json::Value;

use crate::common::{python, repo_root};

// ---------------------------------------------------------------------------------------------
// (a) The calls the code makes.

/// A token of Rust source, as much as the scan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Splits Rust source into identifiers, string literals (contents, escapes left as written) and
/// punctuation; comments, whitespace, numbers, char literals and lifetimes are dropped.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            // r"…", r#"…"#: no escapes; ends at the quote followed by as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            let start = j;
            loop {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            tokens.push(Token::Str(chars[start..j].iter().collect()));
            i = j + 1 + hashes;
        } else if c == '"' {
            let mut j = i + 1;
            let mut text = String::new();
            while chars[j] != '"' {
                if chars[j] == '\\' {
                    text.push(chars[j]);
                    j += 1;
                }
                text.push(chars[j]);
                j += 1;
            }
            tokens.push(Token::Str(text));
            i = j + 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 3;
                while chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

/// Whether a raw string literal starts at `i` (`r"` or `r#…#"`, not an identifier like `rows`).
fn raw_string_at(chars: &[char], i: usize) -> bool {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return false;
    }
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

/// The functions that record a call under an operation label (`src/aws/observe.rs`).
const RECORDERS: [&str; 2] = ["observation", "observation_or_absent"];

/// What a scan of the sources found.
#[derive(Debug, Default)]
struct RecordedCalls {
    /// Operation labels passed as string literals.
    labels: BTreeSet<String>,
    /// Calls whose label is not a literal: `file: first token`.
    not_literal: Vec<String>,
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

fn recorded_calls() -> RecordedCalls {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    files.sort();
    let mut found = RecordedCalls::default();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source file");
        let tokens = tokenize(&source);
        for window in tokens.windows(3) {
            let [Token::Ident(name), Token::Punct('('), first] = window else {
                continue;
            };
            if !RECORDERS.contains(&name.as_str()) {
                continue;
            }
            match first {
                Token::Str(label) => {
                    found.labels.insert(label.clone());
                }
                other => found
                    .not_literal
                    .push(format!("{}: {other:?}", file.display())),
            }
        }
    }
    found
}

#[test]
fn the_scanner_recognises_observation_calls_however_they_are_formatted() {
    let source = r##"
        use crate::aws::observe::{observation, observation_or_absent};
        // observation("comment:Ignored", result, |_| ())
        /* observation("block:Ignored") */
        let s = "observation(\"string:Ignored\")";
        let t = r#"observation("raw:Ignored")"#;
        let c = '"'; let l: &'static str = "x";
        let a = observation("one:Call", result, |_| ());
        let b = observation_or_absent(
            "two:Call",
            result,
            &["Absent"],
            |_| (),
        );
        let d = crate::aws::observe::observation
            (
                // the label
                "three:Call", result, |_| ());
        let e = my_observation("not:Recorder");
    "##;
    let tokens = tokenize(source);
    let labels: BTreeSet<&str> = tokens
        .windows(3)
        .filter_map(|w| match w {
            [Token::Ident(name), Token::Punct('('), Token::Str(label)]
                if RECORDERS.contains(&name.as_str()) =>
            {
                Some(label.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        labels,
        BTreeSet::from(["one:Call", "two:Call", "three:Call"])
    );
}

#[test]
fn api_calls_are_exactly_the_calls_the_code_records() {
    let found = recorded_calls();
    // Only the recorders themselves pass a label along; every call site names its operation.
    let non_literal: Vec<&String> = found
        .not_literal
        .iter()
        .filter(|site| !site.contains(&format!("aws{}observe.rs", std::path::MAIN_SEPARATOR)))
        .collect();
    assert!(
        non_literal.is_empty(),
        "calls recorded under a label that is not a string literal cannot be checked against \
         src/permissions.rs: {non_literal:#?}"
    );
    assert!(
        found.labels.len() >= 10,
        "the scan found too few calls, it is broken: {:?}",
        found.labels
    );

    let recorded_in_api_calls: BTreeSet<String> = API_CALLS
        .iter()
        .filter(|call| call.made_by == MadeBy::Observation)
        .map(|call| call.operation.to_owned())
        .collect();
    let missing: Vec<&String> = found.labels.difference(&recorded_in_api_calls).collect();
    let stale: Vec<&String> = recorded_in_api_calls.difference(&found.labels).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "src/permissions.rs API_CALLS is out of date.\n  called by the code but not listed: \
         {missing:?}\n  listed but no longer called: {stale:?}\nUpdate API_CALLS (and \
         deploy/audit-role.yaml, docs/permissions.md) first."
    );

    // The credentials provider makes the only call the code does not record itself.
    let by_provider: Vec<&str> = API_CALLS
        .iter()
        .filter(|call| call.made_by == MadeBy::CredentialsProvider)
        .map(|call| call.operation)
        .collect();
    assert_eq!(by_provider, ["sts:AssumeRole"]);
    let credentials = std::fs::read_to_string(repo_root().join("src/aws/credentials.rs")).unwrap();
    assert!(credentials.contains(".assume_role()"));
}

#[test]
fn api_calls_name_real_rules_and_well_formed_actions() {
    let rule_ids: BTreeSet<&str> = macie_audit::rules::CATALOGUE
        .iter()
        .map(|rule| rule.id)
        .collect();
    let mut labels = BTreeSet::new();
    for call in API_CALLS {
        assert!(labels.insert(call.operation), "{} twice", call.operation);
        assert!(!call.rules.is_empty(), "{} serves no rule", call.operation);
        for rule in call.rules {
            assert!(
                rule_ids.contains(rule),
                "{}: unknown rule {rule}",
                call.operation
            );
        }
        if let Some(action) = call.action {
            let (service, name) = action.split_once(':').expect("service:Action");
            assert!(!service.is_empty() && !name.is_empty() && !action.contains('*'));
        }
        assert!(!call.purpose.is_empty());
    }
    // Every rule depends on at least one action.
    for rule in &rule_ids {
        assert!(
            !permissions::rule_actions(rule).is_empty(),
            "{rule} depends on no call"
        );
    }
    // sts:GetCallerIdentity is the only call needing no permission.
    let free: Vec<&str> = API_CALLS
        .iter()
        .filter(|call| call.action.is_none())
        .map(|call| call.operation)
        .collect();
    assert_eq!(free, ["sts:GetCallerIdentity"]);
}

// ---------------------------------------------------------------------------------------------
// (b) The CloudFormation template.

/// A YAML file as JSON, read by PyYAML's `safe_load`: plain YAML, no application tags (a
/// short-form intrinsic such as `!Sub` fails here).
fn yaml_as_json(path: &Path) -> Value {
    let output = Command::new(python())
        .args([
            "-c",
            "import json, sys, yaml\n\
             json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)",
        ])
        .arg(path)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{} is not valid plain YAML:\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("PyYAML's output is JSON")
}

fn template() -> Value {
    yaml_as_json(&repo_root().join("deploy/audit-role.yaml"))
}

/// An IAM `Action` (a string or a list of strings) as a set.
fn actions(statement: &Value) -> BTreeSet<String> {
    assert!(
        statement.get("NotAction").is_none(),
        "NotAction grants everything else: {statement}"
    );
    match &statement["Action"] {
        Value::String(action) => BTreeSet::from([action.clone()]),
        Value::Array(list) => list
            .iter()
            .map(|a| a.as_str().expect("actions are strings").to_owned())
            .collect(),
        other => panic!("unexpected Action {other}"),
    }
}

/// Every action a role's inline policies allow, checking each statement allows on `*`.
fn role_actions(role: &Value) -> BTreeSet<String> {
    let properties = &role["Properties"];
    for attached in ["ManagedPolicyArns", "PermissionsBoundary"] {
        assert!(
            properties.get(attached).is_none(),
            "{attached} would grant more than the listed actions"
        );
    }
    let policies = properties["Policies"].as_array().expect("inline policies");
    let mut all = BTreeSet::new();
    for policy in policies {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
        {
            assert_eq!(statement["Effect"], "Allow");
            assert_eq!(statement["Resource"], "*");
            assert!(statement.get("Condition").is_none());
            all.extend(actions(statement));
        }
    }
    all
}

fn owned(set: BTreeSet<&str>) -> BTreeSet<String> {
    set.into_iter().map(str::to_owned).collect()
}

#[test]
fn template_is_plain_yaml_with_the_documented_parameters() {
    let template = template();
    assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
    let parameters = &template["Parameters"];
    assert_eq!(
        parameters["AuditRoleName"]["Default"],
        DEFAULT_AUDIT_ROLE_NAME
    );
    assert_eq!(parameters["TrustedPrincipalArn"]["Type"], "String");
    assert!(parameters["TrustedPrincipalArn"].get("Default").is_none());
    assert_eq!(parameters["ExternalId"]["Default"], "");
    assert_eq!(parameters["CreateRemediationRole"]["Default"], "false");
    assert_eq!(
        parameters["CreateRemediationRole"]["AllowedValues"],
        serde_json::json!(["false", "true"])
    );
    assert_eq!(
        parameters["RemediationRoleName"]["Default"],
        DEFAULT_REMEDIATION_ROLE_NAME
    );
}

#[test]
fn audit_role_grants_exactly_the_scanners_read_only_actions() {
    let template = template();
    let resources = template["Resources"].as_object().expect("resources");
    // Nothing else (an AWS::IAM::Policy naming the role, say) can add permissions.
    // Sorted by name: serde_json's map keeps the template's order when a dependency enables
    // `preserve_order`, and sorts it otherwise.
    let mut types: Vec<(&String, &Value)> =
        resources.iter().map(|(k, v)| (k, &v["Type"])).collect();
    types.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(
        types,
        [
            (&"AuditRole".to_owned(), &Value::from("AWS::IAM::Role")),
            (
                &"RemediationRole".to_owned(),
                &Value::from("AWS::IAM::Role")
            ),
            (
                &"SecurityHubImportPolicy".to_owned(),
                &Value::from("AWS::IAM::RolePolicy")
            ),
        ]
    );
    let audit = &resources["AuditRole"];
    assert!(
        audit.get("Condition").is_none(),
        "the audit role is always created"
    );
    assert_eq!(
        audit["Properties"]["RoleName"],
        serde_json::json!({"Ref": "AuditRoleName"})
    );
    let granted = role_actions(audit);
    let expected = owned(permissions::audit_role_actions());
    assert_eq!(
        granted, expected,
        "deploy/audit-role.yaml's audit role must grant exactly audit_role_actions()"
    );

    const WRITE_VERBS: [&str; 6] = ["Put", "Create", "Delete", "Update", "Enable", "Disable"];
    for action in &granted {
        let (_, verb) = action.split_once(':').unwrap();
        assert!(
            !WRITE_VERBS.iter().any(|w| verb.starts_with(w)),
            "{action} writes; the audit role only reads"
        );
        assert!(
            ["Get", "List", "Describe"]
                .iter()
                .any(|r| verb.starts_with(r)),
            "{action} is not a read action"
        );
        assert!(!action.contains('*'), "{action}: no wildcards");
    }
    for action in REMEDIATION_ACTIONS {
        let (_, verb) = action.split_once(':').unwrap();
        if WRITE_VERBS.iter().any(|w| verb.starts_with(w)) || verb.starts_with("TagResource") {
            assert!(
                !granted.contains(*action),
                "{action} leaked into the audit role"
            );
        }
    }
}

#[test]
fn audit_role_trusts_the_scanner_with_an_optional_external_id() {
    let template = template();
    assert_eq!(
        template["Conditions"]["HasExternalId"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]})
    );
    for role in ["AuditRole", "RemediationRole"] {
        let trust = &template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"];
        let statements = trust["Statement"].as_array().expect("trust statements");
        assert_eq!(statements.len(), 1, "{role}");
        let statement = &statements[0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"], "sts:AssumeRole");
        assert_eq!(
            statement["Principal"],
            serde_json::json!({"AWS": {"Ref": "TrustedPrincipalArn"}})
        );
        assert_eq!(
            statement["Condition"],
            serde_json::json!({"Fn::If": [
                "HasExternalId",
                {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
                {"Ref": "AWS::NoValue"}
            ]}),
            "{role}"
        );
    }
}

#[test]
fn remediation_role_is_opt_in_and_separate() {
    let template = template();
    assert_eq!(
        template["Conditions"]["CreateRemediation"],
        serde_json::json!({"Fn::Equals": [{"Ref": "CreateRemediationRole"}, "true"]})
    );
    let remediation = &template["Resources"]["RemediationRole"];
    assert_eq!(remediation["Condition"], "CreateRemediation");
    assert_eq!(
        remediation["Properties"]["RoleName"],
        serde_json::json!({"Ref": "RemediationRoleName"})
    );
    let expected: BTreeSet<String> = REMEDIATION_ACTIONS
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    assert_eq!(expected.len(), REMEDIATION_ACTIONS.len(), "duplicates");
    assert_eq!(role_actions(remediation), expected);

    let outputs = &template["Outputs"];
    assert_eq!(
        outputs["AuditRoleArn"]["Value"],
        serde_json::json!({"Fn::GetAtt": ["AuditRole", "Arn"]})
    );
    assert!(outputs["AuditRoleArn"].get("Condition").is_none());
    assert_eq!(
        outputs["RemediationRoleArn"]["Condition"],
        "CreateRemediation"
    );
}

#[test]
fn security_hub_import_is_opt_in_and_grants_exactly_its_actions() {
    let template = template();
    assert_eq!(
        template["Parameters"]["EnableSecurityHubImport"]["Default"],
        "false"
    );
    assert_eq!(
        template["Conditions"]["ImportToSecurityHub"],
        serde_json::json!({"Fn::Equals": [{"Ref": "EnableSecurityHubImport"}, "true"]})
    );
    let policy = &template["Resources"]["SecurityHubImportPolicy"];
    assert_eq!(policy["Condition"], "ImportToSecurityHub");
    assert_eq!(
        policy["Properties"]["RoleName"],
        serde_json::json!({"Ref": "AuditRole"})
    );
    let mut granted = BTreeSet::new();
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements")
    {
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Resource"], "*");
        granted.extend(actions(statement));
    }
    let expected: BTreeSet<String> = permissions::SECURITY_HUB_ACTIONS
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    assert_eq!(granted, expected);
}

#[test]
fn the_delivery_policy_grants_exactly_security_hub_and_sns_publish() {
    let policy = policy("delivery-policy.json");
    let mut by_sid = BTreeMap::new();
    for (sid, statement) in statements(&policy) {
        by_sid.insert(sid, actions(statement));
    }
    let owned_list =
        |list: &[&str]| -> BTreeSet<String> { list.iter().map(|a| (*a).to_owned()).collect() };
    assert_eq!(
        by_sid,
        BTreeMap::from([
            (
                "ImportFindingsIntoSecurityHub".to_owned(),
                owned_list(permissions::SECURITY_HUB_ACTIONS)
            ),
            (
                "PublishRunNotifications".to_owned(),
                owned_list(permissions::NOTIFY_ACTIONS)
            ),
        ])
    );
}

#[test]
fn the_nightly_scanner_role_grants_exactly_the_scanners_actions() {
    let template = yaml_as_json(&repo_root().join("deploy/nightly-scan.yaml"));
    let role = &template["Resources"]["ScannerRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert_eq!(
        role["Properties"]["RoleName"],
        serde_json::json!({"Ref": "ScannerRoleName"})
    );
    let mut by_sid: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for policy in role["Properties"]["Policies"].as_array().expect("policies") {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
        {
            assert_eq!(statement["Effect"], "Allow");
            let sid = statement["Sid"].as_str().expect("Sid").to_owned();
            by_sid.entry(sid).or_default().extend(actions(statement));
        }
    }
    let job = by_sid.remove("RunTheJob").expect("RunTheJob");
    assert_eq!(
        job,
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:ListBucket"
        ]
        .map(str::to_owned)
        .into()
    );
    assert_eq!(
        by_sid["ReadOwnAccount"],
        owned(permissions::audit_role_actions())
    );
    let granted: BTreeSet<String> = by_sid.into_values().flatten().collect();
    assert_eq!(granted, owned(permissions::nightly_scanner_actions()));
}

// ---------------------------------------------------------------------------------------------
// (c) The scanner's own identity.

fn policy(name: &str) -> Value {
    let path = repo_root().join("deploy").join(name);
    let text = std::fs::read_to_string(&path).expect("policy file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The statements of a policy by Sid, checking each allows.
fn statements(policy: &Value) -> Vec<(String, &Value)> {
    assert_eq!(policy["Version"], "2012-10-17");
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|statement| {
            assert_eq!(statement["Effect"], "Allow", "{statement}");
            (
                statement["Sid"]
                    .as_str()
                    .expect("every statement has a Sid")
                    .to_owned(),
                statement,
            )
        })
        .collect()
}

fn check_scanner_policy(name: &str, assumes_management_role: bool) {
    let policy = policy(name);
    let statements = statements(&policy);
    let sids: Vec<&str> = statements.iter().map(|(sid, _)| sid.as_str()).collect();
    let mut expected_sids = vec![
        "AssumeAuditRoles",
        "ListOrganizationAccounts",
        "ReadOwnAccount",
    ];
    if assumes_management_role {
        expected_sids.push("AssumeManagementRole");
    }
    let mut sorted = sids.clone();
    sorted.sort_unstable();
    expected_sids.sort_unstable();
    assert_eq!(sorted, expected_sids, "{name}");

    let mut union = BTreeSet::new();
    for (sid, statement) in &statements {
        let granted = actions(statement);
        union.extend(granted.iter().cloned());
        match sid.as_str() {
            "AssumeAuditRoles" => {
                assert_eq!(granted, BTreeSet::from(["sts:AssumeRole".to_owned()]));
                assert_eq!(
                    statement["Resource"],
                    format!("arn:aws:iam::*:role/{DEFAULT_AUDIT_ROLE_NAME}"),
                    "{name}: only the audit roles"
                );
            }
            "AssumeManagementRole" => {
                assert_eq!(granted, BTreeSet::from(["sts:AssumeRole".to_owned()]));
                assert_eq!(
                    statement["Resource"],
                    format!("arn:aws:iam::*:role/{DEFAULT_MANAGEMENT_ROLE_NAME}"),
                    "{name}: only the management role"
                );
            }
            "ListOrganizationAccounts" => {
                assert_eq!(
                    granted,
                    BTreeSet::from([
                        "organizations:DescribeOrganization".to_owned(),
                        "organizations:DescribePolicy".to_owned(),
                        "organizations:ListAccountsForParent".to_owned(),
                        "organizations:ListOrganizationalUnitsForParent".to_owned(),
                        "organizations:ListPoliciesForTarget".to_owned(),
                        "organizations:ListRoots".to_owned(),
                    ])
                );
            }
            "ReadOwnAccount" => {
                assert_eq!(granted, owned(permissions::audit_role_actions()), "{name}");
                assert_eq!(statement["Resource"], "*");
            }
            other => panic!("{name}: unexpected statement {other}"),
        }
    }
    assert_eq!(
        union,
        owned(permissions::security_account_actions()),
        "{name} must grant exactly security_account_actions()"
    );
}

#[test]
fn security_account_policy_allows_assuming_the_roles() {
    check_scanner_policy("security-account-policy.json", true);
}

#[test]
fn management_role_policy_lists_the_organization_and_assumes_the_audit_roles() {
    check_scanner_policy("management-role-policy.json", false);
}

#[test]
fn security_account_actions_are_the_organization_and_audit_actions() {
    let organization = permissions::organization_actions();
    assert_eq!(
        organization,
        BTreeSet::from([
            "organizations:DescribeOrganization",
            "organizations:DescribePolicy",
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
            "organizations:ListPoliciesForTarget",
            "organizations:ListRoots",
            "sts:AssumeRole"
        ])
    );
    let all = permissions::security_account_actions();
    assert!(all.is_superset(&organization));
    assert!(all.is_superset(&permissions::audit_role_actions()));
    assert_eq!(
        all.len(),
        organization.len() + permissions::audit_role_actions().len()
    );
}

// ---------------------------------------------------------------------------------------------
// The documentation.

#[test]
fn docs_show_the_tables_rendered_from_api_calls() {
    let docs = std::fs::read_to_string(repo_root().join("docs/permissions.md"))
        .expect("docs/permissions.md");
    for (what, table) in [
        ("calls", permissions::calls_table_markdown()),
        ("rules", permissions::rules_table_markdown()),
        ("remediation", permissions::remediation_list_markdown()),
        ("delivery", permissions::delivery_list_markdown()),
    ] {
        assert!(
            docs.contains(&table),
            "docs/permissions.md's {what} table is out of date; it must contain exactly:\n\n{table}"
        );
    }
    for action in permissions::audit_role_actions() {
        assert!(docs.contains(action), "docs/permissions.md misses {action}");
    }
}

#[test]
fn the_archive_policy_grants_exactly_what_upload_needs() {
    let text = std::fs::read_to_string(common_root().join("deploy/archive-upload-policy.json"))
        .expect("policy");
    let policy: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut actions = std::collections::BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        for action in statement["Action"].as_array().expect("actions") {
            actions.insert(action.as_str().expect("action").to_owned());
        }
    }
    let expected: std::collections::BTreeSet<String> = macie_audit::permissions::ARCHIVE_ACTIONS
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(actions, expected);
}

fn common_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
