//! The HTML report without a browser: hostile strings are escaped, nothing external is
//! referenced, every section, count and evidence link is there, every account is reachable from
//! the summary through its OU's pages, and 100,000 findings render with a summary that lists only
//! the worst accounts.

use crate::common;
use crate::hostile;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use macie_audit::evidence::{
    Account, AccountAccess, AccountEvidence, AccountRegionEvidence, ApiError, BucketEncryption,
    BucketEvidence, BucketOwner, CallerIdentity, ErrorKind, Evidence, KeyEvidence, KeyMetadata,
    MacieAdministrator, MacieSession, Observation, OrganizationListing, Outcome, PublicAccessBlock,
    RunEnd, RunEvidence, RunHeader, S3Destination,
};
use macie_audit::findings::{Finding, Status};
use macie_audit::report::ReportInput;
use macie_audit::report::html;
use macie_audit::report::metadata::Renderer;
use macie_audit::triage::Findings;
use macie_audit::triage::TriageMarks;

// ---------------------------------------------------------------------------------------------
// Synthetic evidence.

/// What an account of a synthetic organization looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Macie enabled long ago, exporting to the shared repository.
    Configured,
    /// Macie enabled long ago, no repository: MACIE-002 FAIL.
    NoRepository,
    /// Macie not enabled: MACIE-001 FAIL.
    NotEnabled,
    /// The role cannot be assumed: ERROR.
    Denied,
    /// Suspended: SKIPPED.
    Suspended,
    /// GetClassificationExportConfiguration throttled: ERROR for the repository rules.
    Throttled,
}

const KINDS: [Kind; 6] = [
    Kind::Configured,
    Kind::NoRepository,
    Kind::NotEnabled,
    Kind::Denied,
    Kind::Suspended,
    Kind::Throttled,
];

fn started() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap()
}

fn ok<T>(operation: &str, request: &str, value: T) -> Observation<T> {
    Observation {
        operation: operation.into(),
        request_id: Some(request.into()),
        observed_at: started() + Duration::milliseconds(1234),
        outcome: Outcome::Response(value),
    }
}

fn err<T>(
    operation: &str,
    request: &str,
    kind: ErrorKind,
    code: &str,
    message: &str,
) -> Observation<T> {
    Observation {
        operation: operation.into(),
        request_id: Some(request.into()),
        observed_at: started() + Duration::milliseconds(2345),
        outcome: Outcome::Error(ApiError {
            kind,
            code: Some(code.into()),
            message: message.into(),
            http_status: Some(403),
        }),
    }
}

/// The bucket every configured account exports to, per Region (name given by the caller).
fn repository_bucket(name: &str, owner: &str, region: &str) -> BucketEvidence {
    BucketEvidence {
        name: name.into(),
        owner: BucketOwner::Account {
            account_id: owner.into(),
        },
        unverifiable: None,
        probe: None,
        location: Some(ok("s3:GetBucketLocation", "req-loc", region.into())),
        public_access_block: Some(ok(
            "s3:GetPublicAccessBlock",
            "req-pab",
            Some(PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            }),
        )),
        account_public_access_block: None,
        policy_status: Some(ok("s3:GetBucketPolicyStatus", "req-ps", false)),
        policy: Some(ok(
            "s3:GetBucketPolicy",
            "req-policy",
            Some(format!(
                "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"</script><script>alert('policy')</script>\",\
                 \"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::{name}/*\",\
                 \"Condition\":{{\"Bool\":{{\"aws:SecureTransport\":\"false\"}}}}}}]}}"
            )),
        )),
        encryption: Some(ok(
            "s3:GetBucketEncryption",
            "req-enc",
            Some(BucketEncryption {
                algorithm: "aws:kms".into(),
                kms_key_id: None,
            }),
        )),
        versioning: Some(ok("s3:GetBucketVersioning", "req-ver", None)),
        object_lock: Some(ok("s3:GetObjectLockConfiguration", "req-lock", false)),
    }
}

fn repository_key(arn: &str, owner: &str, region: &str) -> KeyEvidence {
    KeyEvidence {
        arn: arn.into(),
        owner_account: owner.into(),
        region: region.into(),
        unverifiable: None,
        metadata: Some(ok(
            "kms:DescribeKey",
            "req-describe-key",
            KeyMetadata {
                arn: arn.into(),
                state: "Enabled".into(),
                manager: "CUSTOMER".into(),
                spec: "SYMMETRIC_DEFAULT".into(),
                usage: "ENCRYPT_DECRYPT".into(),
                multi_region: false,
            },
        )),
        policy: Some(ok(
            "kms:GetKeyPolicy",
            "req-key-policy",
            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\
             \"Principal\":{\"Service\":\"macie.amazonaws.com\"},\
             \"Action\":[\"kms:GenerateDataKey\",\"kms:Encrypt\"],\"Resource\":\"*\"}]}"
                .into(),
        )),
        rotation_enabled: Some(ok("kms:GetKeyRotationStatus", "req-rotation", true)),
    }
}

/// A run over `accounts` (id, name, kind) and `regions`. `bucket` names every Region's repository
/// bucket (suffixed by the Region) so that hostile bucket names reach messages and evidence.
fn synthetic(accounts: &[(String, String, Kind)], regions: &[&str], bucket: &str) -> RunEvidence {
    let repository_owner = "999999999999";
    let mut run = RunEvidence {
        // Through serde, so that fields added later with a default do not break this test.
        header: serde_json::from_value::<RunHeader>(serde_json::json!({
            "schema_version": macie_audit::evidence::EVIDENCE_SCHEMA_VERSION,
            "run_id": "20261101T093000Z",
            "tool_version": "0.1.0",
            "started_at": started(),
            "config_sha256": "ab".repeat(32),
            "regions": regions,
            "caller": ok(
                "sts:GetCallerIdentity",
                "req-caller",
                CallerIdentity {
                    account: "123456789012".into(),
                    arn: "arn:aws:iam::123456789012:user/auditor".into(),
                    user_id: "AIDAEXAMPLE".into(),
                },
            ),
            "organization": OrganizationListing::Organization {
                management_role_arn: None,
                organization: None,
                pages: vec![ok("organizations:ListAccounts", "req-list-1", 20)],
                roots: None,
            },
            "excluded_accounts": [Account {
                id: "000000000001".into(),
                name: "<b>excluded</b>".into(),
                email: None,
                status: "ACTIVE".into(),
                ou_path: None,
            }],
            "command_line": ["macie-audit", "scan", "--config", "audit config.toml"],
            "config_path": "audit config.toml",
        }))
        .expect("a run header"),
        accounts: Vec::new(),
        account_regions: HashMap::new(),
        buckets: HashMap::new(),
        keys: HashMap::new(),
        resource_controls: None,
        end: Some(RunEnd {
            ended_at: started() + Duration::seconds(42),
            interrupted: false,
        }),
    };
    for region in regions {
        let name = format!("{bucket}-{region}");
        let key = format!("arn:aws:kms:{region}:{repository_owner}:key/0000-{region}");
        run.buckets.insert(
            name.clone(),
            repository_bucket(&name, repository_owner, region),
        );
        run.keys
            .insert(key.clone(), repository_key(&key, repository_owner, region));
    }
    for (n, (id, name, kind)) in accounts.iter().enumerate() {
        let active = *kind != Kind::Suspended;
        let identity = if *kind == Kind::Denied {
            err(
                "sts:AssumeRole",
                &format!("req-assume-{n}"),
                ErrorKind::AssumeRoleFailed,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: sts:AssumeRole",
            )
        } else {
            ok(
                "sts:GetCallerIdentity",
                &format!("req-identity-{n}"),
                CallerIdentity {
                    account: id.clone(),
                    arn: format!("arn:aws:sts::{id}:assumed-role/Audit/macie-audit"),
                    user_id: "AROAEXAMPLE:macie-audit".into(),
                },
            )
        };
        run.accounts.push(AccountEvidence {
            account: Account {
                id: id.clone(),
                name: name.clone(),
                email: Some(format!("{id}@example.com")),
                status: if active { "ACTIVE" } else { "SUSPENDED" }.into(),
                ou_path: None,
            },
            access: active.then(|| AccountAccess {
                role_arn: Some(format!("arn:aws:iam::{id}:role/Audit")),
                identity,
            }),
            buckets: None,
        });
        if !active || *kind == Kind::Denied {
            continue;
        }
        for region in regions {
            let session = if *kind == Kind::NotEnabled {
                err(
                    "macie2:GetMacieSession",
                    &format!("req-session-{n}-{region}"),
                    ErrorKind::MacieNotEnabled,
                    "AccessDeniedException",
                    "Macie is not enabled.",
                )
            } else {
                ok(
                    "macie2:GetMacieSession",
                    &format!("req-session-{n}-{region}"),
                    MacieSession {
                        status: "ENABLED".into(),
                        created_at: Some(started() - Duration::days(200)),
                        updated_at: Some(started() - Duration::days(100)),
                    },
                )
            };
            let enabled = *kind != Kind::NotEnabled;
            let export = match kind {
                Kind::Configured => Some(ok(
                    "macie2:GetClassificationExportConfiguration",
                    &format!("req-export-{n}-{region}"),
                    Some(S3Destination {
                        bucket_name: Some(format!("{bucket}-{region}")),
                        key_prefix: Some("macie/".into()),
                        kms_key_arn: Some(format!(
                            "arn:aws:kms:{region}:{repository_owner}:key/0000-{region}"
                        )),
                        expected_bucket_owner: None,
                    }),
                )),
                Kind::Throttled => Some(err(
                    "macie2:GetClassificationExportConfiguration",
                    &format!("req-export-{n}-{region}"),
                    ErrorKind::Throttled,
                    "ThrottlingException",
                    "Rate exceeded",
                )),
                _ => enabled.then(|| {
                    ok(
                        "macie2:GetClassificationExportConfiguration",
                        &format!("req-export-{n}-{region}"),
                        None,
                    )
                }),
            };
            run.account_regions.insert(
                (id.clone(), region.to_string()),
                AccountRegionEvidence {
                    account_id: id.clone(),
                    region: region.to_string(),
                    macie_session: session,
                    administrator: enabled.then(|| {
                        ok(
                            "macie2:GetAdministratorAccount",
                            &format!("req-admin-{n}-{region}"),
                            None::<MacieAdministrator>,
                        )
                    }),
                    export_configuration: export,
                },
            );
        }
    }
    run
}

/// One account per hostile name, cycling through the kinds.
fn hostile_accounts() -> Vec<(String, String, Kind)> {
    hostile::hostile_names()
        .into_iter()
        .enumerate()
        .map(|(n, name)| {
            (
                format!("{:012}", 100_000_000_000u64 + n as u64),
                name,
                KINDS[n % KINDS.len()],
            )
        })
        .collect()
}

const HOSTILE_BUCKET: &str = "\"><img src=x onerror=alert('bucket')>";

struct Rendered {
    /// Every page, the summary first, one after the other (for what must be somewhere).
    html: String,
    pages: html::Pages,
    findings: Vec<Finding>,
}

/// Renders `run` as a scan does: from its `evidence.jsonl`, one account at a time.
fn render(run: &RunEvidence) -> Rendered {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let evidence = on_disk(run, dir.path());
    let pages = html_of(&evidence, |input| {
        html::render(input).expect("the report renders")
    });
    let findings = Findings::new(&evidence, &TriageMarks::NONE)
        .collect()
        .expect("evaluated");
    Rendered {
        html: all_pages(&pages),
        pages,
        findings,
    }
}

/// The summary, every account page and every OU page, one after the other.
fn all_pages(pages: &html::Pages) -> String {
    let mut html = pages.summary.clone();
    for (_, page) in pages.accounts.iter().chain(&pages.ous) {
        html.push_str(page);
    }
    html
}

/// The summary, the account pages and the OU pages of a run directory, one after the other.
fn pages_on_disk(dir: &std::path::Path) -> String {
    let mut html = std::fs::read_to_string(dir.join(html::FILE_NAME)).expect("report.html");
    for name in macie_audit::run_dir::PAGE_DIRS {
        html.push_str(&pages_under(&dir.join(name)).concat());
    }
    html
}

/// The pages of a directory of the run (`accounts/`, `ous/`), sorted by name.
fn pages_under(dir: &std::path::Path) -> Vec<String> {
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("an entry").path())
        .collect();
    pages.sort();
    pages
        .iter()
        .map(|page| std::fs::read_to_string(page).expect("a page"))
        .collect()
}

/// Calls `render` with the report input of `evidence` (no triage), as `write_all` prepares it.
fn html_of<T>(evidence: &Evidence, render: impl FnOnce(&ReportInput<'_>) -> T) -> T {
    let marks = TriageMarks::NONE;
    let findings = Findings::new(evidence, &marks);
    let (tally, metadata) =
        ReportInput::prepare(&findings, &marks, &Renderer::Collector).expect("prepared");
    render(&ReportInput {
        run: evidence.run(),
        findings: &findings,
        tally: &tally,
        metadata: &metadata,
    })
}

/// `run` written to `dir/evidence.jsonl` and opened from there.
fn on_disk(run: &RunEvidence, dir: &std::path::Path) -> Evidence {
    let in_memory = Evidence::in_memory(run.clone());
    macie_audit::report::evidence::write(dir, &in_memory).expect("evidence written");
    Evidence::open(&dir.join(macie_audit::run_dir::EVIDENCE_FILE)).expect("evidence opened")
}

// ---------------------------------------------------------------------------------------------
// Checks on the HTML text.

/// Every value of an attribute, e.g. all `href="…"`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            &rest[..rest.find('"').expect("a closed attribute")]
        })
        .collect()
}

/// The text between `<script…>` and `</script>`, for every script element.
fn scripts(html: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let open_end = start + rest[start..].find('>').expect("a closed tag") + 1;
        let close = open_end + rest[open_end..].find("</script>").expect("a closed script");
        out.push((&rest[start..open_end], &rest[open_end..close]));
        rest = &rest[close + "</script>".len()..];
    }
    out
}

fn assert_no_external_reference(html: &str) {
    for attribute in ["href", "src", "action", "srcset", "poster", "data"] {
        for value in attribute_values(html, attribute) {
            let lower = value.trim().to_ascii_lowercase();
            assert!(
                !(lower.starts_with("http:")
                    || lower.starts_with("https:")
                    || lower.starts_with("//")
                    || lower.starts_with("ftp:")
                    || lower.starts_with("javascript:")),
                "external or script URL in {attribute}: {value}"
            );
        }
    }
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("@import"), "@import in the report");
    assert!(!lower.contains("url("), "url( in the report");
    for tag in [
        "<link", "<img", "<iframe", "<object", "<embed", "<base", "<frame",
    ] {
        assert!(!lower.contains(tag), "{tag} element in the report");
    }
}

/// Text as askama's HTML escaper writes it (numeric character references).
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let run = synthetic(
        &hostile_accounts(),
        &["us-east-1", "eu-west-1"],
        HOSTILE_BUCKET,
    );
    let Rendered {
        html,
        pages,
        findings,
    } = render(&run);

    // Nothing executable slipped through.
    assert!(!html.contains("<script>alert"), "raw <script>alert");
    assert!(!html.contains("<img src=x"), "raw <img src=x");
    assert!(!html.contains("onerror=alert(1)>"), "raw onerror");
    assert!(
        !html.contains("<b>excluded"),
        "raw <b> from an excluded account's name"
    );
    assert!(!html.contains("</script><script>alert"), "raw policy text");

    // Every hostile name is shown, escaped, as text.
    for name in hostile::hostile_names() {
        assert!(
            html.contains(&escaped(&name)),
            "account name not found escaped: {:?}",
            &name[..name.len().min(60)]
        );
    }
    assert!(html.contains("Zürich 東京 🚀"), "non-ASCII is kept as is");
    assert!(
        html.contains(&hostile::long_name()),
        "the 5,000-character name is whole"
    );
    assert!(html.contains("=HYPERLINK(&#34;http://x&#34;)"));
    assert!(
        html.contains(&escaped(HOSTILE_BUCKET)),
        "hostile bucket name escaped"
    );
    assert!(html.contains(&escaped("<b>excluded</b>")));

    // Attributes carry no data from AWS: ids, classes, data-* are indices and constants.
    for attribute in [
        "id", "class", "data-s", "data-v", "data-r", "data-g", "data-a", "href",
    ] {
        for value in attribute_values(&html, attribute) {
            assert!(
                value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " -_#:;'=/.".contains(c)),
                "{attribute}=\"{value}\" carries more than constants and indices"
            );
        }
    }

    // Account and OU pages: their script only, and file names made of account and OU ids.
    for (file, page) in pages.accounts.iter().chain(&pages.ous) {
        let (dir, name) = file.split_once('/').expect("a page in a directory");
        assert!(
            macie_audit::run_dir::PAGE_DIRS.contains(&dir)
                && name.ends_with(".html")
                && name[..name.len() - 5]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{file}"
        );
        assert_eq!(scripts(page).len(), 1, "{file}: the script only");
    }
    // Scripts: one JSON data block with <, >, & escaped, and the script itself.
    let scripts = scripts(&pages.summary);
    assert_eq!(scripts.len(), 2, "the data block and the script");
    let (data_tag, data) = scripts[0];
    assert!(data_tag.contains("type=\"application/json\""), "{data_tag}");
    for forbidden in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
        assert!(
            !data.contains(forbidden),
            "{forbidden:?} inside the JSON block"
        );
    }
    let data: serde_json::Value = serde_json::from_str(data).expect("the data block is JSON");
    let names: HashSet<&str> = data["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a[2].as_str().expect("a name"))
        .collect();
    for name in hostile::hostile_names() {
        assert!(
            names.contains(name.as_str()),
            "name round-trips through the JSON block"
        );
    }
    let (_, code) = scripts[1];
    assert!(!code.contains("innerHTML") && !code.contains("outerHTML"));
    assert!(!code.contains("insertAdjacentHTML") && !code.contains("document.write"));
    assert!(!code.contains("eval(") && !code.contains("new Function"));

    assert_no_external_reference(&html);
    assert_eq!(count(&html, "<tr data-s="), findings.len());
}

#[test]
fn sections_counts_and_evidence_links_are_complete() {
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let accounts: Vec<(String, String, Kind)> = (0..12)
        .map(|n| {
            (
                format!("{:012}", 200_000_000_000u64 + n),
                format!("account-{n}"),
                KINDS[n as usize % KINDS.len()],
            )
        })
        .collect();
    let run = synthetic(&accounts, &regions, "org-macie-results");
    let Rendered {
        html,
        pages,
        findings,
    } = render(&run);
    let summary = &pages.summary;
    assert_eq!(pages.accounts.len(), accounts.len(), "a page per account");
    // The synthetic run did not walk the organization: its accounts form one group, on one page.
    let ou_files: Vec<&str> = pages.ous.iter().map(|(file, _)| file.as_str()).collect();
    assert_eq!(ou_files, ["ous/group-0.html", "ous/index.html"]);
    let ou_page = &pages.ous[0].1;

    // The document.
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..60]);
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(
        html.contains(
            "http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;;"
        )
    );
    for section in ["summary", "matrix", "rules", "scope", "evidence"] {
        assert!(
            summary.contains(&format!("<section id=\"{section}\"")),
            "section {section}"
        );
    }
    for (file, page) in &pages.accounts {
        for section in ["findings", "evidence"] {
            assert!(
                page.contains(&format!("<section id=\"{section}\"")),
                "{file}: section {section}"
            );
        }
    }
    for section in ["matrix", "scope"] {
        assert!(ou_page.contains(&format!("<section id=\"{section}\"")));
    }

    // Accessibility: every table has a caption, headers have a scope, controls a label.
    let tables = count(&html, "<table");
    assert!(tables > 10);
    assert_eq!(tables, count(&html, "<caption>"), "a caption per table");
    assert_eq!(
        count(&html, "<th>"),
        0,
        "every th has a scope (or a colspan for group headings)"
    );
    let (_, first_page) = &pages.accounts[0];
    for (page, control) in [
        (first_page, "f-status"),
        (first_page, "f-severity"),
        (first_page, "f-rule"),
        (first_page, "f-region"),
        (summary, "m-show"),
        (summary, "m-ou"),
        (ou_page, "m-show"),
    ] {
        assert!(
            page.contains(&format!("<label for=\"{control}\">")),
            "label for {control}"
        );
        assert!(
            page.contains(&format!("<select id=\"{control}\"")),
            "select {control}"
        );
    }

    // Summary: counts by status agree with the findings, per rule and overall.
    let mut by_status: BTreeMap<Status, usize> = BTreeMap::new();
    for finding in &findings {
        *by_status.entry(finding.status).or_default() += 1;
    }
    for (status, n) in &by_status {
        assert!(
            html.contains(&format!(
                "<span class=\"n\">{n}</span> <b class=\"b {}\">{status}</b>",
                match status {
                    Status::Pass => "s-pass",
                    Status::Fail => "s-fail",
                    Status::Warn => "s-warn",
                    Status::NotApplicable => "s-na",
                    Status::Skipped => "s-skip",
                    Status::Error => "s-error",
                }
            )),
            "tile for {status} = {n}"
        );
        assert_eq!(
            count(&html, &format!("<tr data-s=\"{status}\"")),
            *n,
            "rows with {status}"
        );
    }
    assert!(by_status[&Status::Error] > 0 && by_status[&Status::Fail] > 0);
    assert!(
        html.contains("Completeness: INCOMPLETE"),
        "errors make the run incomplete"
    );
    for rule in macie_audit::rules::CATALOGUE {
        assert!(
            html.contains(&escaped(rule.rationale)),
            "rationale of {}",
            rule.id
        );
        assert!(
            html.contains(&escaped(rule.remediation)),
            "remediation of {}",
            rule.id
        );
    }

    // Matrix: on the summary the accounts that need attention (fewer than it lists at most),
    // on the OU's page one row per account, the accounts that need nothing hidden; one cell per
    // Region, each with a text label.
    let configured = accounts
        .iter()
        .filter(|(_, _, kind)| *kind == Kind::Configured)
        .count();
    assert_eq!(
        count(summary, "<tr data-a="),
        accounts.len() - configured,
        "the summary's matrix rows"
    );
    assert_eq!(
        count(summary, "\" hidden><th scope=\"row\" class=\"acol\">"),
        0
    );
    assert_eq!(
        count(ou_page, "<tr data-a="),
        accounts.len(),
        "the OU's rows"
    );
    assert_eq!(
        count(ou_page, "\" hidden><th scope=\"row\" class=\"acol\">"),
        configured,
        "accounts that need nothing are hidden"
    );
    assert_eq!(
        count(ou_page, "<td class=\"s-"),
        accounts.len() * regions.len(),
        "a cell per account and Region"
    );

    // Scope: every account in scope with its outcome on its OU's page, those not evaluated on
    // the summary too; the excluded one; the configuration.
    for (id, name, kind) in &accounts {
        let row = format!("<bdi>{}</bdi></a></th><td>{id}</td>", escaped(name));
        assert!(ou_page.contains(&row), "{id} in scope");
        assert_eq!(
            summary.contains(&row),
            matches!(kind, Kind::Denied | Kind::Throttled | Kind::Suspended),
            "{id} ({kind:?}) among the accounts not evaluated"
        );
    }
    assert!(html.contains(&escaped("<b>excluded</b>")));
    assert!(html.contains(&"ab".repeat(32)), "configuration SHA-256");
    assert!(html.contains("macie-audit scan --config &#39;audit config.toml&#39;"));
    assert!(
        html.contains("arn:aws:iam::123456789012:user/auditor"),
        "principal"
    );
    assert!(html.contains("2026-11-01T09:30:00.000Z") && html.contains("2026-11-01T09:30:42.000Z"));

    // Evidence: request ids and UTC timestamps, rendered once; every link has a target.
    for request in [
        "req-caller",
        "req-list-1",
        "req-session-0-us-east-1",
        "req-export-0-eu-west-1",
        "req-admin-1-ap-southeast-2",
        "req-assume-3",
        "req-describe-key",
        "req-key-policy",
        "req-rotation",
        "req-pab",
        "req-policy",
        "req-ver",
        "req-lock",
    ] {
        assert!(html.contains(request), "request id {request}");
    }
    assert_eq!(
        count(&html, ">req-session-0-us-east-1<"),
        1,
        "an account-Region's evidence is rendered once"
    );
    assert_eq!(
        count(&html, ">req-describe-key<"),
        regions.len(),
        "each key once"
    );
    // Every link has a target: an anchor of its page, of the summary or of another page.
    let ids_of = |page: &str| -> HashSet<String> {
        attribute_values(page, "id")
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    let mut ids: HashMap<String, HashSet<String>> = pages
        .accounts
        .iter()
        .chain(&pages.ous)
        .map(|(file, page)| (file.clone(), ids_of(page)))
        .collect();
    ids.insert(html::FILE_NAME.to_owned(), ids_of(summary));
    let mut links = 0;
    let mut pages_in_run = vec![(html::FILE_NAME.to_owned(), summary.as_str())];
    pages_in_run.extend(
        pages
            .accounts
            .iter()
            .chain(&pages.ous)
            .map(|(f, p)| (f.clone(), p.as_str())),
    );
    for (file, page) in &pages_in_run {
        let directory = file.rsplit_once('/').map_or("", |(dir, _)| dir);
        for link in attribute_values(page, "href") {
            links += 1;
            let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = match (path, directory) {
                ("", _) => file.clone(),
                (path, "") => path.to_owned(),
                (path, directory) => match path.strip_prefix("../") {
                    Some(up) => up.to_owned(),
                    None => format!("{directory}/{path}"),
                },
            };
            let anchors = ids
                .get(&target)
                .unwrap_or_else(|| panic!("{file}: link {link} to a missing page"));
            assert!(
                anchor.is_empty() || anchors.contains(anchor),
                "{file}: link {link} has no target"
            );
        }
    }
    assert!(links > findings.len(), "findings link to their evidence");
    // MACIE-003 rows link to a key, MACIE-004 to a bucket, MACIE-005 to both; ERROR rows of a
    // denied account to its access evidence.
    let rows_of = |rule: &str, statuses: &[&str]| -> Vec<&str> {
        html.split("<tr data-s=\"")
            .skip(1)
            .map(|row| row.split("</tr>").next().unwrap())
            .filter(|row| row.contains(&format!(">{rule}<")))
            .filter(|row| statuses.iter().any(|s| row.starts_with(&format!("{s}\""))))
            .collect()
    };
    let judged = ["PASS", "FAIL", "WARN"];
    let keys = rows_of("MACIE-003", &judged);
    assert!(
        !keys.is_empty()
            && keys
                .iter()
                .all(|row| row.contains("href=\"../report.html#K"))
    );
    let buckets = rows_of("MACIE-004", &judged);
    assert!(
        !buckets.is_empty()
            && buckets
                .iter()
                .all(|row| row.contains("href=\"../report.html#B"))
    );
    let hardening = rows_of("MACIE-005", &judged);
    assert!(
        !hardening.is_empty()
            && hardening
                .iter()
                .all(|row| row.contains("report.html#B") && row.contains("report.html#K"))
    );
    let sessions = rows_of("MACIE-001", &judged);
    assert!(
        sessions.iter().all(|row| row.contains("-R")),
        "MACIE-001 links to the session"
    );
    let denied = rows_of("MACIE-001", &["ERROR"]);
    assert!(denied.iter().any(|row| row.contains(">Account<")));

    // Print: headers repeat, rows do not split, closed sections print open.
    assert!(html.contains("thead { display: table-header-group; }"));
    assert!(html.contains("break-inside: avoid"));
    assert!(html.contains("details::details-content { content-visibility: visible;"));
    assert!(html.contains("beforeprint"));
    assert!(html.contains("@page { size: A4;"));

    assert_no_external_reference(&html);
}

#[test]
fn a_complete_run_says_so() {
    let accounts: Vec<(String, String, Kind)> = (0..3)
        .map(|n| {
            (
                format!("{:012}", 300_000_000_000u64 + n),
                format!("ok-{n}"),
                Kind::Configured,
            )
        })
        .collect();
    let run = synthetic(&accounts, &["us-east-1"], "org-macie-results");
    let Rendered { html, .. } = render(&run);
    assert!(html.contains("Completeness: complete"));
    assert!(html.contains("<b>COMPLETE</b> All 3 account-Regions in scope"));
    assert!(!html.contains("INCOMPLETE"));
}

#[test]
fn a_scan_with_hostile_names_renders_safely() {
    let mut emulator = common::Emulator::start();
    emulator.load_scenario(&hostile::scenario());
    let run = emulator.scan().regions(hostile::REGIONS).run();
    assert!(
        [1, 2].contains(&run.code),
        "exit code {}\n{}",
        run.code,
        run.stderr
    );
    let html = pages_on_disk(run.dir());
    let rows = run.findings();
    assert_eq!(count(&html, "<tr data-s="), rows.len(), "a row per finding");
    for status in ["PASS", "FAIL", "WARN", "NOT_APPLICABLE", "SKIPPED", "ERROR"] {
        let expected = rows.iter().filter(|r| r["status"] == status).count();
        assert!(expected > 0, "the scenario produces {status}");
        assert_eq!(
            count(&html, &format!("<tr data-s=\"{status}\"")),
            expected,
            "{status} rows"
        );
    }
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
    for name in hostile::hostile_names() {
        assert!(
            html.contains(&escaped(&name)),
            "{:?} escaped",
            &name[..name.len().min(40)]
        );
    }
    assert!(
        html.contains("Completeness: INCOMPLETE"),
        "a denied account is an ERROR"
    );
    assert_no_external_reference(&html);
}

#[test]
fn one_hundred_thousand_findings_render() {
    // 1,000 accounts × 20 Regions × 5 rules.
    let regions = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "sa-east-1",
        "af-south-1",
        "me-south-1",
    ];
    let accounts: Vec<(String, String, Kind)> = (0..1000u64)
        .map(|n| {
            (
                format!("{:012}", 400_000_000_000u64 + n),
                format!("workload-{n:04} <team {}>", n % 17),
                KINDS[n as usize % KINDS.len()],
            )
        })
        .collect();
    let run = synthetic(&accounts, &regions, "org-macie-results");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let evidence = on_disk(&run, dir.path());
    drop(run);
    let findings = Findings::new(&evidence, &TriageMarks::NONE)
        .collect()
        .expect("evaluated");
    assert_eq!(findings.len(), 100_000);
    let started = Instant::now();
    html_of(&evidence, |input| html::write(dir.path(), input)).expect("report.html is written");
    let elapsed = started.elapsed();
    let summary = std::fs::read_to_string(dir.path().join(html::FILE_NAME)).expect("report.html");
    let html = pages_on_disk(dir.path());
    eprintln!(
        "report.html and the account pages: {} findings ({} accounts × {} Regions) rendered and written in {:.2} s ({} build), summary {:.1} MB, all pages {:.1} MB",
        findings.len(),
        accounts.len(),
        regions.len(),
        elapsed.as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        summary.len() as f64 / 1_000_000.0,
        html.len() as f64 / 1_000_000.0
    );
    assert_eq!(count(&html, "<tr data-s="), 100_000);
    assert_eq!(count(&html, "<section class=\"acct\""), 1000);
    assert_eq!(
        count(&summary, "<tr data-s="),
        0,
        "no finding row in the summary"
    );
    // The summary lists the worst accounts only; the one group of 1,000 accounts (the run did
    // not walk the organization) is on five pages of 200, the worst first, each account once.
    assert_eq!(count(&summary, "<tr data-a="), html::SUMMARY_ACCOUNTS);
    let attention: HashSet<&str> = findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn | Status::Error))
        .map(|f| f.account_id.as_str())
        .collect();
    assert!(summary.contains(&format!(
        "the 50 worst of {} accounts that need attention",
        attention.len()
    )));
    let ou_pages = pages_under(&dir.path().join("ous"));
    assert_eq!(ou_pages.len(), 5 + 1, "five pages and the index");
    for page in &ou_pages[..5] {
        assert_eq!(count(page, "<tr data-a="), 200);
        assert_eq!(
            count(page, "<td><span class=\"o o-"),
            200,
            "a scope row per account"
        );
    }
    let mut listed: Vec<&str> = ou_pages
        .iter()
        .flat_map(|page| attribute_values(page, "data-a"))
        .collect();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), 1000, "every account on an OU page");
    assert!(
        summary.len() < 500_000,
        "the summary stays small: {} bytes",
        summary.len()
    );
    assert!(summary.ends_with("</html>\n") || summary.ends_with("</html>"));
}

/// Evidence that cannot be read while the report is written fails the report, and leaves no
/// `report.html` (not even a partial one) behind.
#[test]
fn unreadable_evidence_fails_the_report_and_leaves_no_file() {
    let accounts: Vec<(String, String, Kind)> = hostile_accounts().into_iter().take(5).collect();
    let run = synthetic(&accounts, &["us-east-1", "eu-west-1"], "bucket");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let evidence = on_disk(&run, dir.path());
    let out = tempfile::tempdir().expect("a temporary directory");
    let written = html_of(&evidence, |input| {
        // The counting pass is done: now the file goes away under the report.
        std::fs::write(dir.path().join("evidence.jsonl"), "").expect("emptied");
        html::write(out.path(), input)
    });
    let error = written.expect_err("the report fails");
    assert!(
        matches!(error, macie_audit::Error::Evidence { .. }),
        "the evidence's error, not a failure to write: {error}"
    );
    assert!(error.to_string().contains("cannot read at byte"), "{error}");
    let left: Vec<_> = std::fs::read_dir(out.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `output.csv_bom = true` (recorded in the run's header) starts `findings.csv` with a UTF-8 byte
/// order mark for Excel; by default the file is unchanged, RFC 4180 without one.
#[test]
fn findings_csv_has_a_bom_only_when_asked() {
    let accounts = vec![(
        "300000000009".to_owned(),
        "Zürich 東京 🚀".to_owned(),
        Kind::Configured,
    )];
    for bom in [false, true] {
        let mut run = synthetic(&accounts, &["us-east-1"], "bucket");
        run.header.csv_bom = bom;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let evidence = on_disk(&run, dir.path());
        html_of(&evidence, |input| {
            macie_audit::report::csv::write(dir.path(), input)
        })
        .expect("findings.csv is written");
        let bytes = std::fs::read(dir.path().join(macie_audit::report::csv::FILE_NAME))
            .expect("findings.csv");
        assert_eq!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), bom, "BOM {bom}");
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        let body = text.strip_prefix('\u{feff}').unwrap_or(text);
        assert!(body.starts_with("\"run_id\","), "the header row follows");
        assert!(body.contains("Zürich 東京 🚀"), "non-ASCII names are kept");
    }
}
