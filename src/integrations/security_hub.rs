//! `scan --security-hub`: the run's findings imported into AWS Security Hub as ASFF, in the
//! account and Region each finding belongs to, with that account's credentials.
//!
//! **Which findings.** Every finding but SKIPPED ones (an account that is not active or a Region
//! that is not enabled: Security Hub cannot be reached there either). FAIL, WARN and ERROR are
//! active (Compliance FAILED, WARNING, NOT_AVAILABLE; workflow NEW, or SUPPRESSED for an accepted
//! exception). PASS and NOT_APPLICABLE are imported too (PASSED, NOT_AVAILABLE), resolved and
//! archived: a finding that failed last night and passes now is updated in place (same `Id`) and
//! leaves the active view, and the archive shows the whole population. A finding imported by an
//! earlier run that this run no longer produces (the repository moved to another bucket, so its
//! resource changed; the account left the scope of the rule) is archived as well: each
//! account-Region's findings of ours are read first (GetFindings on our product ARN and
//! generator prefix), which also keeps each finding's first `CreatedAt`.
//!
//! **Identity.** `Id` is `macie-audit/v1/<fingerprint>`, SARIF's fingerprint of the finding's
//! identity (rule, account, Region, resource), so every run updates the same findings instead of
//! adding new ones. The default product ARN (`…:product/<account>/default`) requires the importing
//! account to be the finding's `AwsAccountId`, hence one import per account with its own
//! credentials.
//!
//! **Limits.** Batches of at most 100 findings and 6 MB; per account and Region a token bucket of
//! 10 BatchImportFindings per second and one of 3 GetFindings per second (Security Hub's
//! published rates; both are per account and Region); throttling is retried by the SDK's retry
//! configuration, with retry state of its own per account and Region.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Recommendation,
    RecordState, Remediation, Resource, Severity as AsffSeverity, SeverityLabel, StringFilter,
    StringFilterComparison, Workflow, WorkflowStatus,
};
use chrono::{SecondsFormat, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use tracing::{info, warn};

use super::truncate_chars;
use crate::aws::AwsEnvironment;
use crate::aws::errors::classify;
use crate::aws::rate::RateLimiter;
use crate::error::Result;
use crate::evidence::AccountEvidence;
use crate::findings::{Finding, Severity, Status};
use crate::report::sarif::fingerprint;
use crate::rules::CATALOGUE;
use crate::triage::Findings;

pub use crate::report::delivery::{DeliveryFailure, SecurityHubDelivery};

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// The prefix of every finding `Id` we import.
pub const ID_PREFIX: &str = "macie-audit/v1/";
/// The prefix of every `GeneratorId` we import (followed by the rule id).
pub const GENERATOR_PREFIX: &str = "macie-audit/";
/// The ASFF finding type of every finding.
pub const FINDING_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";
/// Findings per BatchImportFindings call, at most.
pub const MAX_BATCH_FINDINGS: usize = 100;
/// Bytes per BatchImportFindings call, at most.
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;

/// What the JSON of a finding has beyond the flat serialisation of its text ([`FlatSize`]) (nested objects, the
/// longer key names of the wire format): a generous allowance, so the size estimate stays above
/// the real request.
const WIRE_OVERHEAD_BYTES: usize = 1024;
/// BatchImportFindings: 10 requests per second per account and Region.
const IMPORTS_PER_SECOND: f64 = 10.0;
const IMPORT_BURST: u32 = 10;
/// GetFindings: 3 requests per second per account and Region (burst 6).
const READS_PER_SECOND: f64 = 3.0;
const READ_BURST: u32 = 6;
/// Pages of GetFindings read per account-Region, at most: ours are a handful per rule, so more
/// means an endpoint that never stops paging.
const MAX_PAGES: usize = 100;
/// ASFF field limits.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const RECOMMENDATION_MAX: usize = 512;
const RESOURCE_ID_MAX: usize = 512;
const PRODUCT_FIELD_MAX: usize = 1024;

/// One finding as it is imported: the ASFF fields we set, flat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asff {
    /// `Id`.
    pub id: String,
    /// `ProductArn`: the account's default product.
    pub product_arn: String,
    /// `GeneratorId`: `macie-audit/<rule>`.
    pub generator_id: String,
    /// `AwsAccountId`.
    pub aws_account_id: String,
    /// `Region`.
    pub region: String,
    /// `CreatedAt`: when the finding was first imported.
    pub created_at: String,
    /// `UpdatedAt`: this run.
    pub updated_at: String,
    /// `Severity.Label`.
    pub severity: SeverityLabel,
    /// `Title`.
    pub title: String,
    /// `Description`.
    pub description: String,
    /// `Resources[0].Type`.
    pub resource_type: String,
    /// `Resources[0].Id`.
    pub resource_id: String,
    /// `Compliance.Status`.
    pub compliance: ComplianceStatus,
    /// `Workflow.Status`.
    pub workflow: WorkflowStatus,
    /// `RecordState`.
    pub record_state: RecordState,
    /// `Remediation.Recommendation.Text`.
    pub recommendation: Option<String>,
    /// `ProductFields`.
    pub product_fields: BTreeMap<String, String>,
}

/// The default product ARN of an account in a Region.
pub fn product_arn(account_id: &str, region: &str) -> String {
    format!("arn:aws:securityhub:{region}:{account_id}:product/{account_id}/default")
}

/// The Security Hub `Id` of a finding.
pub fn finding_id(finding: &Finding) -> String {
    format!("{ID_PREFIX}{}", fingerprint(finding))
}

fn severity_label(severity: Severity) -> SeverityLabel {
    match severity {
        Severity::Critical => SeverityLabel::Critical,
        Severity::High => SeverityLabel::High,
        Severity::Medium => SeverityLabel::Medium,
        Severity::Low => SeverityLabel::Low,
        Severity::Informational => SeverityLabel::Informational,
    }
}

/// The ASFF resource type of a finding's resource.
fn resource_type(resource: &str) -> &'static str {
    if resource.starts_with("arn:aws:s3:::") {
        "AwsS3Bucket"
    } else if resource.starts_with("arn:aws:kms:") {
        "AwsKmsKey"
    } else {
        "Other"
    }
}

/// A finding as ASFF, first imported at `created_at`; `None` for a SKIPPED finding (not imported).
pub fn asff(finding: &Finding, run_id: &str, created_at: &str, now: &str) -> Option<Asff> {
    // (Compliance, whether it is resolved): resolved findings are archived, at informational
    // severity, as Security Hub does with its own passed controls.
    let (compliance, resolved) = match finding.status {
        Status::Skipped => return None,
        Status::Fail => (ComplianceStatus::Failed, false),
        Status::Warn => (ComplianceStatus::Warning, false),
        Status::Error => (ComplianceStatus::NotAvailable, false),
        Status::Pass => (ComplianceStatus::Passed, true),
        Status::NotApplicable => (ComplianceStatus::NotAvailable, true),
    };
    let (workflow, record_state, severity) = if resolved {
        (
            WorkflowStatus::Resolved,
            RecordState::Archived,
            SeverityLabel::Informational,
        )
    } else if finding.suppression.is_some() {
        (
            WorkflowStatus::Suppressed,
            RecordState::Active,
            severity_label(finding.severity),
        )
    } else {
        (
            WorkflowStatus::New,
            RecordState::Active,
            severity_label(finding.severity),
        )
    };
    let title = CATALOGUE
        .iter()
        .find(|rule| rule.id == finding.rule_id)
        .map_or(finding.rule_id.as_str(), |rule| rule.title);
    let field = |value: &str| truncate_chars(value, PRODUCT_FIELD_MAX);
    let mut product_fields = BTreeMap::from([
        ("macie-audit/RunId".to_owned(), field(run_id)),
        ("macie-audit/RuleId".to_owned(), field(&finding.rule_id)),
        ("macie-audit/Status".to_owned(), finding.status.to_string()),
        (
            "macie-audit/AccountName".to_owned(),
            field(&finding.account_name),
        ),
    ]);
    if let Some(ou_path) = &finding.ou_path {
        product_fields.insert("macie-audit/OuPath".to_owned(), field(ou_path));
    }
    if let Some(state) = finding.baseline {
        product_fields.insert("macie-audit/Baseline".to_owned(), state.as_str().to_owned());
    }
    if let Some(suppression) = &finding.suppression {
        product_fields.insert(
            "macie-audit/SuppressionJustification".to_owned(),
            field(&suppression.justification),
        );
    }
    Some(Asff {
        id: finding_id(finding),
        product_arn: product_arn(&finding.account_id, &finding.region),
        generator_id: format!("{GENERATOR_PREFIX}{}", finding.rule_id),
        aws_account_id: finding.account_id.clone(),
        region: finding.region.clone(),
        created_at: created_at.to_owned(),
        updated_at: now.to_owned(),
        severity,
        title: truncate_chars(&format!("{}: {title}", finding.rule_id), TITLE_MAX),
        description: truncate_chars(
            if finding.message.is_empty() {
                title
            } else {
                &finding.message
            },
            DESCRIPTION_MAX,
        ),
        resource_type: resource_type(&finding.resource).to_owned(),
        resource_id: truncate_chars(&finding.resource, RESOURCE_ID_MAX),
        compliance,
        workflow,
        record_state,
        recommendation: Some(finding.remediation.trim())
            .filter(|text| !text.is_empty())
            .map(|text| truncate_chars(text, RECOMMENDATION_MAX)),
        product_fields,
    })
}

/// One of our findings as Security Hub holds it (GetFindings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// `Id`.
    pub id: String,
    /// `CreatedAt`.
    pub created_at: Option<String>,
    /// Whether `RecordState` is ACTIVE.
    pub active: bool,
    /// The finding's fields, to archive it with: what BatchImportFindings requires.
    pub generator_id: String,
    /// `Title`.
    pub title: String,
    /// `Description`.
    pub description: String,
    /// `Resources[0]`, type and id.
    pub resource: (String, String),
}

impl Imported {
    /// Reads one finding of GetFindings' answer; `None` for one that is not ours.
    fn of(finding: &AwsSecurityFinding) -> Option<Imported> {
        let id = finding.id.as_deref()?;
        if !id.starts_with(ID_PREFIX) {
            return None;
        }
        let resource = finding
            .resources
            .as_deref()
            .and_then(|resources| resources.first())
            .map(|r| {
                (
                    r.r#type.clone().unwrap_or_else(|| "Other".into()),
                    r.id.clone().unwrap_or_default(),
                )
            })
            .unwrap_or_else(|| ("Other".into(), String::new()));
        Some(Imported {
            id: id.to_owned(),
            created_at: finding.created_at.clone(),
            active: finding.record_state.as_ref() != Some(&RecordState::Archived),
            generator_id: finding.generator_id.clone().unwrap_or_default(),
            title: finding.title.clone().unwrap_or_default(),
            description: finding.description.clone().unwrap_or_default(),
            resource,
        })
    }
}

/// What one account-Region's import sends: this run's findings, each keeping the `CreatedAt` of
/// its first import, then the archival of our active findings this run no longer produces.
/// Returns the findings and how many of them archive stale ones.
pub fn plan_import(
    mut current: Vec<Asff>,
    imported: &[Imported],
    account_id: &str,
    region: &str,
    now: &str,
) -> (Vec<Asff>, usize) {
    let earlier: BTreeMap<&str, &Imported> = imported.iter().map(|i| (i.id.as_str(), i)).collect();
    for finding in &mut current {
        if let Some(created_at) = earlier
            .get(finding.id.as_str())
            .and_then(|i| i.created_at.as_deref())
        {
            finding.created_at = created_at.to_owned();
        }
    }
    let produced: HashSet<&str> = current.iter().map(|f| f.id.as_str()).collect();
    let stale: Vec<Asff> = imported
        .iter()
        .filter(|i| i.active && !produced.contains(i.id.as_str()))
        .map(|i| Asff {
            id: i.id.clone(),
            product_arn: product_arn(account_id, region),
            generator_id: i.generator_id.clone(),
            aws_account_id: account_id.to_owned(),
            region: region.to_owned(),
            created_at: i.created_at.clone().unwrap_or_else(|| now.to_owned()),
            updated_at: now.to_owned(),
            severity: SeverityLabel::Informational,
            title: i.title.clone(),
            description: i.description.clone(),
            resource_type: i.resource.0.clone(),
            resource_id: i.resource.1.clone(),
            compliance: ComplianceStatus::NotAvailable,
            workflow: WorkflowStatus::Resolved,
            record_state: RecordState::Archived,
            recommendation: None,
            product_fields: BTreeMap::from([(
                "macie-audit/Status".to_owned(),
                "NO_LONGER_PRODUCED".to_owned(),
            )]),
        })
        .collect();
    let archived = stale.len();
    current.extend(stale);
    (current, archived)
}

/// An upper bound of a finding's size in a BatchImportFindings request.
fn wire_size(finding: &Asff) -> usize {
    let flat = serde_json::to_vec(&FlatSize(finding)).map_or(0, |json| json.len());
    flat + WIRE_OVERHEAD_BYTES
}

/// [`Asff`]'s text fields, for [`wire_size`] (the SDK's enums have no serialisation of their own).
struct FlatSize<'a>(&'a Asff);

impl Serialize for FlatSize<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let f = self.0;
        let fields: [&str; 12] = [
            &f.id,
            &f.product_arn,
            &f.generator_id,
            &f.aws_account_id,
            &f.region,
            &f.created_at,
            &f.updated_at,
            &f.title,
            &f.description,
            &f.resource_type,
            &f.resource_id,
            f.recommendation.as_deref().unwrap_or_default(),
        ];
        (fields, &f.product_fields).serialize(serializer)
    }
}

/// Splits findings into BatchImportFindings calls: at most [`MAX_BATCH_FINDINGS`] findings and
/// [`MAX_BATCH_BYTES`] each.
pub fn batches(findings: Vec<Asff>) -> Vec<Vec<Asff>> {
    let mut batches: Vec<Vec<Asff>> = Vec::new();
    let mut bytes = 0;
    for finding in findings {
        let size = wire_size(&finding);
        match batches.last_mut() {
            Some(batch) if batch.len() < MAX_BATCH_FINDINGS && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                batch.push(finding);
            }
            _ => {
                bytes = size;
                batches.push(vec![finding]);
            }
        }
    }
    batches
}

/// The SDK's form of a finding.
fn to_sdk(finding: Asff) -> AwsSecurityFinding {
    let mut builder = AwsSecurityFinding::builder()
        .schema_version(SCHEMA_VERSION)
        .id(finding.id)
        .product_arn(finding.product_arn)
        .generator_id(finding.generator_id)
        .aws_account_id(finding.aws_account_id)
        .region(finding.region.clone())
        .types(FINDING_TYPE)
        .created_at(finding.created_at)
        .updated_at(finding.updated_at)
        .severity(AsffSeverity::builder().label(finding.severity).build())
        .title(finding.title)
        .description(finding.description)
        .resources(
            Resource::builder()
                .r#type(finding.resource_type)
                .id(finding.resource_id)
                .partition("aws".into())
                .region(finding.region)
                .build(),
        )
        .compliance(Compliance::builder().status(finding.compliance).build())
        .workflow(Workflow::builder().status(finding.workflow).build())
        .record_state(finding.record_state)
        .set_product_fields(Some(finding.product_fields.into_iter().collect()));
    if let Some(text) = finding.recommendation {
        builder = builder.remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(text).build())
                .build(),
        );
    }
    builder.build()
}

/// Where an import went (account, and Region or `None` for the whole account) and what it did.
type TargetOutcome = (String, Option<String>, RegionOutcome);

/// What one account-Region's import did.
#[derive(Debug, Default)]
struct RegionOutcome {
    imported: usize,
    archived_stale: usize,
    not_imported: usize,
    error: Option<String>,
}

/// Imports the run's findings into Security Hub, `concurrency` accounts at a time. Failures are
/// logged and listed in the answer, never returned as errors; an error is returned only when the
/// findings themselves cannot be read.
pub async fn import(
    env: &AwsEnvironment,
    findings: &Findings<'_>,
    concurrency: usize,
) -> Result<SecurityHubDelivery> {
    let run = findings.evidence().run();
    let caller_account = run
        .header
        .caller
        .response()
        .map(|caller| caller.account.clone())
        .unwrap_or_default();
    let run_id = run.header.run_id.as_str();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let accounts = findings.accounts().zip(run.accounts.iter());
    let delivered: Vec<Result<Vec<TargetOutcome>>> =
        stream::iter(accounts)
            .map(|(judged, account)| {
                let (caller_account, now) = (&caller_account, &now);
                async move {
                    Ok(deliver_account(env, caller_account, account, judged?, run_id, now).await)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut delivery = SecurityHubDelivery::default();
    for account in delivered {
        for (account_id, region, outcome) in account? {
            if region.is_some() {
                delivery.account_regions += 1;
            }
            delivery.imported += outcome.imported;
            delivery.archived_stale += outcome.archived_stale;
            delivery.not_imported += outcome.not_imported;
            if let Some(error) = outcome.error {
                warn!(
                    account = %account_id,
                    region = region.as_deref().unwrap_or("all"),
                    %error,
                    findings = outcome.not_imported,
                    "Security Hub import failed; the scan goes on"
                );
                delivery.failures.push(DeliveryFailure {
                    account_id,
                    region,
                    findings: outcome.not_imported,
                    error,
                });
            }
        }
    }
    delivery
        .failures
        .sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    info!(
        imported = delivery.imported,
        archived_stale = delivery.archived_stale,
        failures = delivery.failures.len(),
        "Security Hub import done"
    );
    Ok(delivery)
}

/// Imports one account's findings, each Region's with the account's credentials.
async fn deliver_account(
    env: &AwsEnvironment,
    caller_account: &str,
    account: &AccountEvidence,
    judged: Vec<Finding>,
    run_id: &str,
    now: &str,
) -> Vec<TargetOutcome> {
    let account_id = account.account.id.clone();
    let mut by_region: BTreeMap<String, Vec<Asff>> = BTreeMap::new();
    for finding in &judged {
        if let Some(asff) = asff(finding, run_id, now, now) {
            by_region
                .entry(finding.region.clone())
                .or_default()
                .push(asff);
        }
    }
    if by_region.is_empty() {
        return Vec::new();
    }
    // An account whose role the scan could not assume cannot be imported into either.
    if let Some(error) = account
        .access
        .as_ref()
        .and_then(|access| access.identity.error())
    {
        let findings = by_region.values().map(Vec::len).sum();
        return vec![(
            account_id,
            None,
            RegionOutcome {
                not_imported: findings,
                error: Some(format!("the account was not reached by the scan: {error}")),
                ..RegionOutcome::default()
            },
        )];
    }
    let credentials = env.credentials_for(&account_id, caller_account);
    let config = env.account_config(&credentials).await;
    let regions = by_region.into_iter().map(|(region, findings)| {
        let client = env.security_hub(&config, &account_id, &region);
        let account_id = account_id.clone();
        async move {
            // Boxed: the SDK's ASFF request futures are large, and an account has many Regions.
            let outcome =
                Box::pin(deliver_region(&client, &account_id, &region, findings, now)).await;
            (account_id, Some(region), outcome)
        }
    });
    futures::future::join_all(regions).await
}

/// Imports one account-Region's findings and archives its stale ones.
async fn deliver_region(
    client: &aws_sdk_securityhub::Client,
    account_id: &str,
    region: &str,
    current: Vec<Asff>,
    now: &str,
) -> RegionOutcome {
    let reads = RateLimiter::new(READS_PER_SECOND, READ_BURST);
    let imports = RateLimiter::new(IMPORTS_PER_SECOND, IMPORT_BURST);
    let mut outcome = RegionOutcome::default();
    let imported = match read_ours(client, &reads, account_id, region).await {
        Ok(imported) => imported,
        Err(error) => {
            outcome.not_imported = current.len();
            outcome.error = Some(error);
            return outcome;
        }
    };
    let (findings, archived_stale) = plan_import(current, &imported, account_id, region, now);
    let stale_ids: HashSet<String> = findings[findings.len() - archived_stale..]
        .iter()
        .map(|f| f.id.clone())
        .collect();
    for batch in batches(findings) {
        if outcome.error.is_some() {
            // The first call that failed outright says why; the rest would fail the same way.
            outcome.not_imported += batch.len();
            continue;
        }
        let sent = batch.len();
        let stale_in_batch = batch.iter().filter(|f| stale_ids.contains(&f.id)).count();
        imports.acquire().await;
        let answer = client
            .batch_import_findings()
            .set_findings(Some(batch.into_iter().map(to_sdk).collect()))
            .send()
            .await;
        match answer {
            Ok(answer) => {
                let failed = usize::try_from(answer.failed_count().unwrap_or(0))
                    .unwrap_or(sent)
                    .min(sent);
                outcome.imported += sent - failed;
                outcome.not_imported += failed;
                // Counted as archived only when the whole batch went in: a failed finding's
                // id is known, but not whether it was one of the stale ones.
                if failed == 0 {
                    outcome.archived_stale += stale_in_batch;
                }
                if failed > 0 {
                    let first = answer.failed_findings().first().map_or_else(
                        || format!("{failed} findings not imported"),
                        |f| {
                            format!(
                                "{failed} findings not imported, e.g. {}: {} {}",
                                f.id().unwrap_or_default(),
                                f.error_code().unwrap_or_default(),
                                f.error_message().unwrap_or_default()
                            )
                        },
                    );
                    outcome.error.get_or_insert(first);
                }
            }
            Err(error) => {
                outcome.not_imported += sent;
                outcome.error = Some(classify(&error).to_string());
            }
        }
    }
    outcome
}

/// Every finding of ours Security Hub holds in an account-Region, archived ones included.
async fn read_ours(
    client: &aws_sdk_securityhub::Client,
    limiter: &RateLimiter,
    account_id: &str,
    region: &str,
) -> std::result::Result<Vec<Imported>, String> {
    let filter = |value: String, comparison: StringFilterComparison| {
        StringFilter::builder()
            .value(value)
            .comparison(comparison)
            .build()
    };
    let filters = AwsSecurityFindingFilters::builder()
        .product_arn(filter(
            product_arn(account_id, region),
            StringFilterComparison::Equals,
        ))
        .generator_id(filter(
            GENERATOR_PREFIX.to_owned(),
            StringFilterComparison::Prefix,
        ))
        .aws_account_id(filter(
            account_id.to_owned(),
            StringFilterComparison::Equals,
        ))
        .build();
    let mut ours = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        limiter.acquire().await;
        let page = client
            .get_findings()
            .filters(filters.clone())
            .max_results(100)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| classify(&error).to_string())?;
        ours.extend(page.findings().iter().filter_map(Imported::of));
        next_token = page
            .next_token()
            .filter(|token| !token.is_empty())
            .map(str::to_owned);
        if next_token.is_none() {
            return Ok(ours);
        }
    }
    Err(format!(
        "GetFindings gave more than {MAX_PAGES} pages; stale findings not archived"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::BaselineState;

    fn finding(status: Status, resource: &str) -> Finding {
        Finding {
            rule_id: "MACIE-004".into(),
            account_id: "111111111111".into(),
            account_name: "<script>alert(1)</script>\n=cmd".into(),
            ou_path: Some("o-abc/r-root/ou-1/".into()),
            region: "eu-west-1".into(),
            status,
            severity: Severity::High,
            resource: resource.into(),
            message: "x".repeat(5000),
            remediation: "aws s3api put-bucket-policy …".into(),
            baseline: Some(BaselineState::New),
            suppression: None,
        }
    }

    const NOW: &str = "2026-10-01T12:00:00.000Z";

    #[test]
    fn statuses_map_to_compliance_workflow_and_record_state() {
        let bucket = "arn:aws:s3:::results";
        let of = |status| asff(&finding(status, bucket), "run", NOW, NOW);
        let failed = of(Status::Fail).expect("imported");
        assert_eq!(
            (&failed.compliance, &failed.workflow, &failed.record_state),
            (
                &ComplianceStatus::Failed,
                &WorkflowStatus::New,
                &RecordState::Active
            )
        );
        assert_eq!(failed.severity, SeverityLabel::High);
        assert_eq!(
            of(Status::Warn).expect("w").compliance,
            ComplianceStatus::Warning
        );
        assert_eq!(
            of(Status::Error).expect("e").compliance,
            ComplianceStatus::NotAvailable
        );
        let passed = of(Status::Pass).expect("imported");
        assert_eq!(
            (&passed.compliance, &passed.workflow, &passed.record_state),
            (
                &ComplianceStatus::Passed,
                &WorkflowStatus::Resolved,
                &RecordState::Archived
            )
        );
        assert_eq!(
            of(Status::NotApplicable).expect("na").record_state,
            RecordState::Archived
        );
        assert_eq!(of(Status::Skipped), None);
    }

    #[test]
    fn the_id_is_stable_and_the_same_for_every_status() {
        let bucket = "arn:aws:s3:::results";
        let failing = asff(&finding(Status::Fail, bucket), "run-1", NOW, NOW).expect("f");
        let passing = asff(&finding(Status::Pass, bucket), "run-2", NOW, NOW).expect("p");
        assert_eq!(failing.id, passing.id);
        assert!(failing.id.starts_with(ID_PREFIX));
        let other = asff(
            &finding(Status::Fail, "arn:aws:s3:::other"),
            "run",
            NOW,
            NOW,
        );
        assert_ne!(other.expect("o").id, failing.id);
        assert_eq!(
            failing.product_arn,
            "arn:aws:securityhub:eu-west-1:111111111111:product/111111111111/default"
        );
        assert_eq!(failing.generator_id, "macie-audit/MACIE-004");
        assert_eq!(failing.resource_type, "AwsS3Bucket");
    }

    #[test]
    fn hostile_and_long_text_is_bounded() {
        let mut long = finding(Status::Fail, &"arn:aws:s3:::b".repeat(100));
        long.account_name = "é".repeat(5000);
        long.remediation = "r".repeat(5000);
        let asff = asff(&long, "run", NOW, NOW).expect("imported");
        assert_eq!(asff.description.chars().count(), DESCRIPTION_MAX);
        assert_eq!(asff.resource_id.chars().count(), RESOURCE_ID_MAX);
        assert_eq!(
            asff.recommendation.as_deref().map(|r| r.chars().count()),
            Some(RECOMMENDATION_MAX)
        );
        assert_eq!(
            asff.product_fields["macie-audit/AccountName"]
                .chars()
                .count(),
            PRODUCT_FIELD_MAX
        );
        assert!(wire_size(&asff) < MAX_BATCH_BYTES / MAX_BATCH_FINDINGS);
    }

    #[test]
    fn a_suppressed_failure_is_active_and_suppressed() {
        let mut suppressed = finding(Status::Fail, "arn:aws:s3:::b");
        suppressed.suppression = Some(crate::findings::AppliedSuppression {
            entry: 1,
            justification: "accepted".into(),
            owner: "sec".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("date"),
        });
        let asff = asff(&suppressed, "run", NOW, NOW).expect("imported");
        assert_eq!(asff.workflow, WorkflowStatus::Suppressed);
        assert_eq!(asff.record_state, RecordState::Active);
    }

    fn imported(id: &str, active: bool) -> Imported {
        Imported {
            id: id.into(),
            created_at: Some("2026-01-01T00:00:00.000Z".into()),
            active,
            generator_id: "macie-audit/MACIE-004".into(),
            title: "t".into(),
            description: "d".into(),
            resource: ("AwsS3Bucket".into(), "arn:aws:s3:::old".into()),
        }
    }

    #[test]
    fn planning_keeps_created_at_and_archives_only_active_stale_findings() {
        let current = asff(&finding(Status::Fail, "arn:aws:s3:::b"), "run", NOW, NOW).expect("f");
        let id = current.id.clone();
        let earlier = [
            imported(&id, true),
            imported("macie-audit/v1/stale-active", true),
            imported("macie-audit/v1/stale-archived", false),
        ];
        let (planned, archived) =
            plan_import(vec![current], &earlier, "111111111111", "eu-west-1", NOW);
        assert_eq!(archived, 1);
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[0].created_at, "2026-01-01T00:00:00.000Z");
        assert_eq!(planned[0].updated_at, NOW);
        let stale = &planned[1];
        assert_eq!(stale.id, "macie-audit/v1/stale-active");
        assert_eq!(stale.record_state, RecordState::Archived);
        assert_eq!(stale.workflow, WorkflowStatus::Resolved);
        assert_eq!(stale.resource_id, "arn:aws:s3:::old");
    }

    #[test]
    fn batches_hold_at_most_100_findings_and_6_mb() {
        let one = asff(&finding(Status::Fail, "arn:aws:s3:::b"), "run", NOW, NOW).expect("f");
        let split = batches(vec![one.clone(); 250]);
        assert_eq!(
            split.iter().map(Vec::len).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let mut big = one;
        big.product_fields = (0..50)
            .map(|n| (format!("k{n}"), "v".repeat(50_000)))
            .collect();
        let size = wire_size(&big);
        let split = batches(vec![big; 10]);
        assert!(split.len() > 1);
        for batch in &split {
            assert!(batch.len() * size <= MAX_BATCH_BYTES, "{}", batch.len());
        }
        assert_eq!(split.iter().map(Vec::len).sum::<usize>(), 10);
    }

    #[test]
    fn only_our_findings_are_read_back() {
        let ours = AwsSecurityFinding::builder()
            .id("macie-audit/v1/abc")
            .record_state(RecordState::Archived)
            .build();
        let theirs = AwsSecurityFinding::builder().id("arn:aws:other").build();
        let read = Imported::of(&ours).expect("ours");
        assert!(!read.active);
        assert_eq!(Imported::of(&theirs), None);
    }
}
