//! `report.html`: the self-contained report for people.
//!
//! One file, compiled from the askama template `templates/report.html`, with the style sheet
//! (`templates/report.css`) and the script (`templates/report.js`) inlined: nothing is loaded from
//! anywhere, so it works offline and from `file://`. A Content-Security-Policy forbids every
//! fetch and lets only this exact script and style sheet run (by SHA-256).
//!
//! Layout: summary (completeness, counts per rule and severity), account × Region matrix, the
//! rules, the findings grouped by account (PASS rows collapsed), the run's scope (`run.json`) and
//! the evidence. Evidence is rendered once per account (its access, then each Region's Macie
//! answers), bucket and key; findings link to it by anchor (`A3`, `A3-R1`, `B0`, `K0`), so the
//! file grows linearly with the population and stays printable.
//!
//! Safety: every string from AWS goes through askama's HTML escaping; attributes only ever carry
//! indices, rule ids, statuses and severities; the only data inside `<script>` is JSON with `<`,
//! `>`, `&`, U+2028 and U+2029 escaped; the script writes text with `textContent` only.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use super::findings::Findings;
use super::metadata::{EvidenceIntegrity, Provenance, RunMetadata};
use super::{ReportInput, write_atomically};
use crate::config::MemberRepository;
use crate::error::{Error, Result};
use crate::evidence::{
    AccountEvidence, AccountRegionEvidence, ApiError, BucketEvidence, BucketOwner, ErrorKind,
    Evidence, KeyEvidence, Observation, OrganizationListing, Outcome, PublicAccessBlock,
    RunEvidence,
};
use crate::findings::{Finding, Severity, Status};
use crate::rules::{Absence, CATALOGUE, Rule};

/// The file name of the HTML report in a run directory.
pub const FILE_NAME: &str = "report.html";

/// The inline style sheet.
const STYLE: &str = include_str!("../../templates/report.css");
/// The inline script (progressive enhancement: filters, print, anchors).
const SCRIPT: &str = include_str!("../../templates/report.js");

/// Statuses from the worst to the best: the colour of a matrix cell is its worst status.
/// ERROR (not checked) hides everything else, then FAIL, WARN, PASS; NOT_APPLICABLE and SKIPPED
/// say nothing about compliance and only show when nothing else was judged.
pub const WORST_FIRST: [Status; 6] = [
    Status::Error,
    Status::Fail,
    Status::Warn,
    Status::Pass,
    Status::NotApplicable,
    Status::Skipped,
];

/// Severities in report order.
const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Informational,
];

/// Writes `dir/report.html`, streaming the template into the file. The findings and evidence of
/// one account at a time are put in the template's shape, so the report's model is never held
/// whole; an account whose evidence cannot be read fails the report (no partial file is left).
pub fn write(dir: &Path, input: &ReportInput<'_>) -> Result<()> {
    let population = population(input.run);
    let regions = &input.run.header.regions;
    let indexes = Indexes::new(&population, regions);
    let report = Report::build(input, &population, regions, &indexes);
    write_atomically(&dir.join(FILE_NAME), |out| {
        report.write_into(out)?;
        match report.failure.take() {
            Some(error) => Err(std::io::Error::other(error)),
            None => Ok(()),
        }
    })
}

/// Renders the report to a string.
pub fn render(input: &ReportInput<'_>) -> std::result::Result<String, askama::Error> {
    let population = population(input.run);
    let regions = &input.run.header.regions;
    let indexes = Indexes::new(&population, regions);
    let report = Report::build(input, &population, regions, &indexes);
    let html = report.render()?;
    match report.failure.take() {
        Some(error) => Err(askama::Error::Custom(Box::new(error))),
        None => Ok(html),
    }
}

/// Where accounts, Regions and rules are in the report (their anchors and filter values).
struct Indexes<'a> {
    account: HashMap<&'a str, usize>,
    region: HashMap<&'a str, usize>,
    rule: HashMap<&'static str, usize>,
}

impl<'a> Indexes<'a> {
    fn new(population: &'a [AccountRef<'a>], regions: &'a [String]) -> Indexes<'a> {
        Indexes {
            account: population.iter().map(|a| (a.id, a.index)).collect(),
            region: regions
                .iter()
                .enumerate()
                .map(|(i, r)| (r.as_str(), i))
                .collect(),
            rule: CATALOGUE
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id, i))
                .collect(),
        }
    }

    fn rule(&self, rule_id: &str) -> usize {
        self.rule.get(rule_id).copied().unwrap_or(usize::MAX)
    }
}

/// The CSS class of a status.
fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "s-pass",
        Status::Fail => "s-fail",
        Status::Warn => "s-warn",
        Status::NotApplicable => "s-na",
        Status::Skipped => "s-skip",
        Status::Error => "s-error",
    }
}

/// The short label of a status (matrix cells); the legend spells out N/A.
fn status_short(status: Status) -> &'static str {
    match status {
        Status::NotApplicable => "N/A",
        other => other.as_str(),
    }
}

/// The status label as markup: a constant, never data.
fn status_markup(status: Status) -> &'static str {
    match status {
        Status::NotApplicable => "NOT_<wbr>APPLICABLE",
        other => other.as_str(),
    }
}

fn status_index(status: Status) -> usize {
    Status::ALL.iter().position(|s| *s == status).unwrap_or(0)
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-01T10:00:00.123Z`.
fn utc(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC 3339 UTC to the second, for headings.
fn utc_seconds(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// At most `max` characters of `text`, with an ellipsis when cut (for option labels).
fn shorten(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// JSON for a `<script>` element: `<`, `>`, `&`, U+2028 and U+2029 escaped, so that no string
/// can close the element, open a comment or end a JavaScript line.
pub fn script_json(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A command line as a shell would need it typed.
fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./=:,@+-%".contains(c));
            if plain {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `sha256-…` of a text, for the Content-Security-Policy.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!("'sha256-{}'", base64(&digest))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Template filters.
mod filters {
    use std::fmt;

    /// Escapes text for element content: `&`, `<` and `>` only, so that quotes (frequent in
    /// policies and remediation commands) stay one byte. Never use it inside an attribute: there
    /// the default escaping (which also escapes quotes) applies.
    pub fn text<T: fmt::Display>(
        value: T,
        _: &dyn askama::Values,
    ) -> askama::Result<askama::filters::Safe<Text<T>>> {
        Ok(askama::filters::Safe(Text(value)))
    }

    /// A value escaped for element content.
    pub struct Text<T>(pub T);

    impl<T: fmt::Display> fmt::Display for Text<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            use fmt::Write as _;
            write!(ContentEscaper(f), "{}", self.0)
        }
    }

    struct ContentEscaper<'a, 'b>(&'a mut fmt::Formatter<'b>);

    impl fmt::Write for ContentEscaper<'_, '_> {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            let mut last = 0;
            for (index, byte) in text.bytes().enumerate() {
                let replacement = match byte {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    b'>' => "&gt;",
                    _ => continue,
                };
                self.0.write_str(&text[last..index])?;
                self.0.write_str(replacement)?;
                last = index + 1;
            }
            self.0.write_str(&text[last..])
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The view model.

/// A count with the class that highlights it (bold when a FAIL or ERROR is counted).
struct Count {
    n: usize,
    class: &'static str,
}

/// Counts by status, in `Status::ALL` order, with the compliance ratio.
struct Counts {
    cells: Vec<Count>,
    total: usize,
    /// PASS / (PASS + FAIL + WARN), or "—".
    compliance: String,
}

impl Counts {
    fn new(by_status: [usize; 6]) -> Counts {
        let cells = Status::ALL
            .iter()
            .zip(by_status)
            .map(|(status, n)| Count {
                n,
                class: match (status, n) {
                    (_, 0) => "z",
                    (Status::Fail | Status::Error, _) => "hot",
                    (Status::Warn, _) => "warm",
                    _ => "",
                },
            })
            .collect();
        let pass = by_status[status_index(Status::Pass)];
        let judged =
            pass + by_status[status_index(Status::Fail)] + by_status[status_index(Status::Warn)];
        Counts {
            cells,
            total: by_status.iter().sum(),
            compliance: if judged == 0 {
                "—".into()
            } else {
                format!("{:.1} %", pass as f64 * 100.0 / judged as f64)
            },
        }
    }
}

/// A status tile of the summary.
struct Tile {
    label: &'static str,
    class: &'static str,
    n: usize,
}

/// A rule with its counts.
struct RuleView {
    rule: &'static Rule,
    index: usize,
    counts: Counts,
}

/// A severity with its counts.
struct SeverityView {
    severity: Severity,
    rules: String,
    counts: Counts,
}

/// An account of the population, by index.
struct AccountRef<'a> {
    index: usize,
    id: &'a str,
    name: &'a str,
    /// Name cut for a `<select>` option.
    option: String,
}

/// A matrix cell: the worst status of an account-Region.
struct Cell {
    class: &'static str,
    label: &'static str,
    /// Counts by status, e.g. "2 FAIL, 3 PASS".
    title: String,
}

struct MatrixRow<'a> {
    account: &'a AccountRef<'a>,
    cells: Vec<Cell>,
}

/// A link from a finding to the evidence it rests on.
struct Link {
    href: String,
    text: String,
}

/// A finding row.
struct Row<'a> {
    finding: &'a Finding,
    class: &'static str,
    /// The status as markup (a constant: NOT_APPLICABLE may break after its underscore).
    label: &'static str,
    rule: usize,
    region: usize,
    links: Vec<Link>,
}

/// One AWS answer, ready to print.
struct Obs<'a> {
    operation: &'a str,
    request_id: &'a str,
    at: String,
    /// "error" for a failed call, "" otherwise.
    class: &'static str,
    /// A short label before the answer ("access denied", "Macie not enabled").
    tag: &'static str,
    answer: String,
    /// A long answer (a policy, a list of buckets), in a preformatted block.
    detail: Option<&'a str>,
}

fn obs<'a, T>(
    observation: &'a Observation<T>,
    answer: impl FnOnce(&'a T) -> (String, Option<&'a str>),
) -> Obs<'a> {
    let (class, tag, answer, detail) = match &observation.outcome {
        Outcome::Response(value) => {
            let (text, detail) = answer(value);
            ("", "", text, detail)
        }
        Outcome::Error(error) => {
            let (class, tag) = error_tag(error);
            (class, tag, error.to_string(), None)
        }
    };
    Obs {
        operation: &observation.operation,
        request_id: observation.request_id.as_deref().unwrap_or("—"),
        at: utc(&observation.observed_at),
        class,
        tag,
        answer,
        detail,
    }
}

fn error_tag(error: &ApiError) -> (&'static str, &'static str) {
    match error.kind {
        ErrorKind::MacieNotEnabled => ("fact", "Macie not enabled"),
        ErrorKind::RegionDisabled => ("fact", "Region not enabled"),
        ErrorKind::OrganizationsNotInUse => ("fact", "not in an organization"),
        ErrorKind::NotFound => ("fact", "not found"),
        ErrorKind::AccessDenied => ("error", "error: access denied"),
        ErrorKind::AssumeRoleFailed => ("error", "error: role not assumed"),
        ErrorKind::Throttled => ("error", "error: throttled"),
        ErrorKind::ServiceUnavailable => ("error", "error: service unavailable"),
        ErrorKind::Timeout => ("error", "error: timeout"),
        ErrorKind::Network => ("error", "error: network"),
        ErrorKind::Other => ("error", "error"),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn public_access_block(value: &Option<PublicAccessBlock>) -> String {
    match value {
        None => "no configuration at this level".into(),
        Some(block) => {
            let missing = block.missing();
            if missing.is_empty() {
                "all four settings on (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets)"
                    .into()
            } else {
                format!("off: {}", missing.join(", "))
            }
        }
    }
}

/// A group of observations under a heading inside an evidence table.
struct ObsGroup<'a> {
    id: String,
    heading: String,
    note: Option<String>,
    rows: Vec<Obs<'a>>,
}

/// An account's evidence: its access, then each Region's Macie answers.
struct AccountEv<'a> {
    account: &'a AccountRef<'a>,
    status: &'a str,
    email: Option<&'a str>,
    role: String,
    groups: Vec<ObsGroup<'a>>,
}

/// A repository bucket's or key's evidence.
struct ResourceEv<'a> {
    id: String,
    kind: &'static str,
    name: &'a str,
    facts: Vec<(&'static str, String)>,
    rows: Vec<Obs<'a>>,
}

/// One step of the run's provenance: the scan, or a later rendering.
struct ProvenanceRow {
    step: String,
    when: String,
    command_line: String,
    tool_version: String,
    /// The scan's identity, or what the rendering found of the evidence.
    detail: String,
}

/// The scan that collected the evidence, then every rendering since, oldest first.
fn provenance_rows(provenance: &Provenance) -> Vec<ProvenanceRow> {
    let scan = &provenance.scan;
    let mut rows = vec![ProvenanceRow {
        step: "scan (collected the evidence)".into(),
        when: match (&scan.started_at, &scan.ended_at) {
            (Some(start), Some(end)) => format!("{} – {}", utc(start), utc(end)),
            (Some(start), None) => format!("{} – did not finish", utc(start)),
            _ => "unknown".into(),
        },
        command_line: shell_line(&scan.command_line),
        tool_version: scan.tool_version.clone(),
        detail: scan.principal.as_ref().map_or_else(
            || "identity unknown (GetCallerIdentity failed)".into(),
            |p| format!("as {} (account {})", p.arn, p.account),
        ),
    }];
    rows.extend(
        provenance
            .renderings
            .iter()
            .enumerate()
            .map(|(index, rendering)| ProvenanceRow {
                step: format!("rendering {} (macie-audit report)", index + 1),
                when: utc(&rendering.rendered_at),
                command_line: shell_line(&rendering.command_line),
                tool_version: rendering.tool_version.clone(),
                detail: format!("evidence {}", rendering.evidence_integrity.describe()),
            }),
    );
    rows
}

/// A pair of label and value for the scope's description lists.
struct Fact {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "report.html", whitespace = "minimize")]
struct Report<'a> {
    meta: &'a RunMetadata,
    style: &'static str,
    script: &'static str,
    csp: String,
    data: String,
    title: String,
    complete: bool,
    /// What a partial run leaves out of the configured scope, for the badge beside completeness.
    partial_scope: Option<String>,
    /// How the evidence differs from the manifest it was delivered with, for the badge.
    evidence_modified: Option<String>,
    provenance: Vec<ProvenanceRow>,
    headline: String,
    completeness: Vec<String>,
    problem_accounts: Vec<(&'a str, &'a str, String)>,
    problem_more: usize,
    tiles: Vec<Tile>,
    total: usize,
    statuses: Vec<(&'static str, &'static str)>,
    severities: Vec<&'static str>,
    rules: Vec<RuleView>,
    by_severity: Vec<SeverityView>,
    regions: &'a [String],
    accounts: Vec<&'a AccountRef<'a>>,
    matrix: Vec<MatrixRow<'a>>,
    /// The findings, read again account by account for the template's groups
    /// ([`Report::groups`]).
    findings: &'a Findings<'a>,
    linker: Linker<'a>,
    indexes: &'a Indexes<'a>,
    run_facts: Vec<Fact>,
    counts_facts: Vec<Fact>,
    run_obs: Vec<Obs<'a>>,
    run: &'a RunEvidence,
    evidence: &'a Evidence,
    population: &'a [AccountRef<'a>],
    buckets: Vec<ResourceEv<'a>>,
    keys: Vec<ResourceEv<'a>>,
    /// The first account whose evidence could not be read while rendering.
    failure: RefCell<Option<Error>>,
}

/// The matrix cell (or account badge) for a set of counts: its worst status, all in the title.
fn worst_cell(counts: Option<&[usize; 6]>) -> Option<Cell> {
    let counts = counts?;
    let worst = WORST_FIRST.iter().find(|s| counts[status_index(**s)] > 0)?;
    let title = WORST_FIRST
        .iter()
        .filter(|s| counts[status_index(**s)] > 0)
        .map(|s| format!("{} {}", counts[status_index(*s)], s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Cell {
        class: status_class(*worst),
        label: status_short(*worst),
        title,
    })
}

/// The population of accounts, by id, with indices used as anchors.
fn population(run: &RunEvidence) -> Vec<AccountRef<'_>> {
    run.accounts
        .iter()
        .enumerate()
        .map(|(index, account)| {
            let (id, name) = (&account.account.id, &account.account.name);
            AccountRef {
                index,
                id,
                name,
                option: format!("{} ({id})", shorten(name, 60)),
            }
        })
        .collect()
}

impl<'a> Report<'a> {
    fn build(
        input: &ReportInput<'a>,
        population: &'a [AccountRef<'a>],
        regions: &'a [String],
        indexes: &'a Indexes<'a>,
    ) -> Report<'a> {
        let (run, tally, meta) = (input.run, input.tally, input.metadata);
        let by_status = tally.by_status();
        let total = tally.total();

        let tiles = [
            Status::Fail,
            Status::Error,
            Status::Warn,
            Status::Pass,
            Status::NotApplicable,
            Status::Skipped,
        ]
        .iter()
        .map(|s| Tile {
            label: s.as_str(),
            class: status_class(*s),
            n: by_status[status_index(*s)],
        })
        .collect();

        let rules = CATALOGUE
            .iter()
            .enumerate()
            .map(|(index, rule)| RuleView {
                rule,
                index,
                counts: Counts::new(tally.by_rule(rule.id)),
            })
            .collect();
        let by_severity_view = SEVERITIES
            .iter()
            .filter(|severity| {
                tally.by_severity(**severity).iter().sum::<usize>() > 0
                    || CATALOGUE.iter().any(|r| r.severity == **severity)
            })
            .map(|severity| SeverityView {
                severity: *severity,
                rules: CATALOGUE
                    .iter()
                    .filter(|r| r.severity == *severity)
                    .map(|r| r.id)
                    .collect::<Vec<_>>()
                    .join(", "),
                counts: Counts::new(tally.by_severity(*severity)),
            })
            .collect();

        let matrix = population
            .iter()
            .map(|account| MatrixRow {
                account,
                cells: (0..regions.len())
                    .map(|g| {
                        worst_cell(tally.cell(account.id, &regions[g])).unwrap_or(Cell {
                            class: "s-none",
                            label: "—",
                            title: "no finding".into(),
                        })
                    })
                    .collect(),
            })
            .collect();

        let linker = Linker::new(run, indexes);

        // Completeness in plain words.
        let counts = &meta.counts;
        let errors = by_status[status_index(Status::Error)];
        let complete = meta.complete;
        let headline = if complete {
            format!(
                "All {} account-Regions in scope ({} accounts × {} Regions) were examined and no check ended in ERROR.",
                counts.account_regions_in_scope,
                counts.accounts_in_scope,
                meta.regions.len()
            )
        } else {
            "This run does not cover its whole scope, so it cannot show compliance on its own."
                .into()
        };
        let mut completeness = Vec::new();
        if meta.interrupted {
            completeness.push(match meta.ended_at {
                Some(_) => "The run was interrupted before it examined every account and Region in scope.".to_owned(),
                None => "The run did not finish: its evidence has no end record, so accounts or Regions may be missing.".to_owned(),
            });
        }
        if errors > 0 {
            completeness.push(format!(
                "{} check{} ended in ERROR (not checked) in {} account-Region{} of {} account{}: something needed could not be read. The accounts and the reasons follow; the findings and the evidence give AWS's answers.",
                errors,
                if errors == 1 { "" } else { "s" },
                counts.account_regions_errored,
                if counts.account_regions_errored == 1 { "" } else { "s" },
                counts.accounts_errored,
                if counts.accounts_errored == 1 { "" } else { "s" },
            ));
        }
        if meta.scope.partial {
            completeness.push(format!(
                "Partial scope: {}. The run covers less than the configured scope, so it says nothing of what it leaves out, and it is never made the latest run.",
                meta.scope.description
            ));
        }
        completeness.push(format!(
            "Of {} account-Regions in scope: {} evaluated, {} skipped on purpose (account not active or Region not enabled), {} with an ERROR. {} account{} excluded by configuration (listed under Scope).",
            counts.account_regions_in_scope,
            counts.account_regions_evaluated,
            counts.account_regions_skipped,
            counts.account_regions_errored,
            counts.accounts_excluded,
            if counts.accounts_excluded == 1 { " was" } else { "s were" },
        ));
        const PROBLEMS_SHOWN: usize = 50;
        let problems: Vec<_> = meta
            .accounts
            .iter()
            .filter(|a| a.outcome == "error")
            .collect();
        let problem_more = problems.len().saturating_sub(PROBLEMS_SHOWN);
        let problem_accounts = problems
            .into_iter()
            .take(PROBLEMS_SHOWN)
            .map(|a| {
                (
                    a.name.as_str(),
                    a.id.as_str(),
                    a.reason.clone().unwrap_or_default(),
                )
            })
            .collect();

        // Scope facts (run.json).
        let principal = meta
            .principal
            .as_ref()
            .map(|p| format!("{} (account {})", p.arn, p.account))
            .unwrap_or_else(|| "unknown (GetCallerIdentity failed)".into());
        let organization = match (
            &meta.organization.mode[..],
            &meta.organization.management_role_arn,
        ) {
            ("organization", Some(role)) => {
                format!("AWS Organizations, listed through the management role {role}")
            }
            ("organization", None) => {
                "AWS Organizations, listed with the caller's own credentials".into()
            }
            ("standalone", _) => {
                "standalone account (not in an organization): scanned alone".into()
            }
            (other, _) => other.to_owned(),
        };
        let run_facts = vec![
            Fact {
                label: "Tool",
                value: format!("{} {}", meta.tool.name, meta.tool.version),
            },
            Fact {
                label: "Run id",
                value: meta.run_id.clone(),
            },
            Fact {
                label: "Started (UTC)",
                value: utc(&meta.started_at),
            },
            Fact {
                label: "Ended (UTC)",
                value: meta
                    .ended_at
                    .as_ref()
                    .map(utc)
                    .unwrap_or_else(|| "did not finish".into()),
            },
            Fact {
                label: "Command line",
                value: shell_line(&meta.command_line),
            },
            Fact {
                label: "Configuration",
                value: meta
                    .configuration
                    .path
                    .clone()
                    .unwrap_or_else(|| "none (defaults)".into()),
            },
            Fact {
                label: "Configuration SHA-256",
                value: meta.configuration.sha256.clone(),
            },
            Fact {
                label: "Principal",
                value: principal,
            },
            Fact {
                label: "Organization",
                value: organization,
            },
            Fact {
                label: "Regions",
                value: meta.regions.join(", "),
            },
            Fact {
                label: "Scope",
                value: if meta.scope.partial {
                    format!("PARTIAL: {} (never made latest)", meta.scope.description)
                } else {
                    "the full configured scope".into()
                },
            },
            Fact {
                label: "Macie members judged by",
                value: match meta.rules.macie_members {
                    MemberRepository::Own => "their own repository (as Conformity checks)".into(),
                    MemberRepository::Administrator => {
                        "their Macie administrator's repository".into()
                    }
                },
            },
            Fact {
                label: "Evidence",
                value: meta.evidence_integrity.describe(),
            },
            Fact {
                label: "Completeness",
                value: if meta.complete {
                    "complete".into()
                } else if meta.interrupted {
                    "INCOMPLETE (interrupted)".into()
                } else {
                    "INCOMPLETE (errors)".into()
                },
            },
        ];
        let mut run_facts = run_facts;
        if let Some(merged) = &meta.scope.merged_shards {
            let list = |indexes: &[u32]| {
                indexes
                    .iter()
                    .map(|index| format!("{index}/{}", merged.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            run_facts.push(Fact {
                label: "Merged shards",
                value: if merged.missing.is_empty() {
                    format!("all {} shards: {}", merged.count, list(&merged.indexes))
                } else {
                    format!(
                        "{} of {} shards: {}; missing {}",
                        merged.indexes.len(),
                        merged.count,
                        list(&merged.indexes),
                        list(&merged.missing)
                    )
                },
            });
        }
        run_facts.extend(triage_facts(meta));
        let counts_facts = vec![
            Fact {
                label: "Accounts in scope",
                value: counts.accounts_in_scope.to_string(),
            },
            Fact {
                label: "Accounts evaluated",
                value: counts.accounts_evaluated.to_string(),
            },
            Fact {
                label: "Accounts skipped (not active)",
                value: counts.accounts_skipped.to_string(),
            },
            Fact {
                label: "Accounts with an ERROR",
                value: counts.accounts_errored.to_string(),
            },
            Fact {
                label: "Accounts excluded by configuration",
                value: counts.accounts_excluded.to_string(),
            },
            Fact {
                label: "Account-Regions in scope",
                value: counts.account_regions_in_scope.to_string(),
            },
            Fact {
                label: "Account-Regions evaluated",
                value: counts.account_regions_evaluated.to_string(),
            },
            Fact {
                label: "Account-Regions skipped",
                value: counts.account_regions_skipped.to_string(),
            },
            Fact {
                label: "Account-Regions with an ERROR",
                value: counts.account_regions_errored.to_string(),
            },
            Fact {
                label: "Findings",
                value: total.to_string(),
            },
        ];

        // Evidence.
        let mut run_obs = vec![obs(&run.header.caller, |c| {
            (
                format!(
                    "account {}; ARN {}; user id {}",
                    c.account, c.arn, c.user_id
                ),
                None,
            )
        })];
        match &run.header.organization {
            OrganizationListing::Organization {
                organization,
                pages,
                ..
            } => {
                if let Some(described) = organization {
                    run_obs.push(obs(described, |o| {
                        (
                            format!(
                                "organization {}; management account {}",
                                o.id, o.management_account_id
                            ),
                            None,
                        )
                    }));
                }
                for page in pages {
                    run_obs.push(obs(page, |count| {
                        let items = match page.operation.as_str() {
                            "organizations:ListRoots" => "root",
                            "organizations:ListOrganizationalUnitsForParent" => "OU",
                            _ => "account",
                        };
                        (
                            format!("{count} {items}{}", if *count == 1 { "" } else { "s" }),
                            None,
                        )
                    }));
                }
            }
            OrganizationListing::Standalone { evidence } => {
                run_obs.push(obs(evidence, |_| ("answered".into(), None)));
            }
        }
        let mut buckets: Vec<&BucketEvidence> = run.buckets.values().collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        let buckets = buckets
            .into_iter()
            .map(|b| bucket_ev(b, linker.bucket_id(&b.name).unwrap_or_default()))
            .collect();
        let mut keys: Vec<&KeyEvidence> = run.keys.values().collect();
        keys.sort_by(|a, b| a.arn.cmp(&b.arn));
        let keys = keys
            .into_iter()
            .map(|k| key_ev(k, linker.key_id(&k.arn).unwrap_or_default()))
            .collect();

        let data = script_json(&serde_json::json!({
            "run_id": meta.run_id,
            "findings": total,
            "accounts": population.iter().map(|a| serde_json::json!([a.index, a.id, a.name])).collect::<Vec<_>>(),
            "regions": regions,
            "rules": CATALOGUE.iter().map(|r| r.id).collect::<Vec<_>>(),
        }));

        Report {
            meta,
            style: STYLE,
            script: SCRIPT,
            csp: format!(
                "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
                csp_hash(STYLE),
                csp_hash(SCRIPT)
            ),
            data,
            title: format!(
                "Macie discovery results repository audit — run {}",
                meta.run_id
            ),
            complete,
            partial_scope: meta.scope.partial.then(|| meta.scope.description.clone()),
            evidence_modified: match &meta.evidence_integrity {
                EvidenceIntegrity::Modified(check) => Some(format!(
                    "These reports were made from evidence that does not match the SHA256SUMS it was delivered with ({}): they are not the delivered run's.",
                    check.describe()
                )),
                _ => None,
            },
            provenance: provenance_rows(&meta.provenance),
            headline,
            completeness,
            problem_accounts,
            problem_more,
            tiles,
            total,
            statuses: Status::ALL
                .iter()
                .map(|s| (s.as_str(), status_class(*s)))
                .collect(),
            severities: SEVERITIES.iter().map(|s| s.as_str()).collect(),
            rules,
            by_severity: by_severity_view,
            regions,
            accounts: population.iter().collect(),
            matrix,
            findings: input.findings,
            linker,
            indexes,
            run_facts,
            counts_facts,
            run_obs,
            run,
            evidence: input.findings.evidence(),
            population,
            buckets,
            keys,
            failure: RefCell::new(None),
        }
    }

    /// An account's account-Region records; `None` (and the failure kept) when they cannot be
    /// read, which ends the template's loops over accounts.
    fn records_of(&self, account_id: &str) -> Option<Vec<Cow<'a, AccountRegionEvidence>>> {
        if self.failure.borrow().is_some() {
            return None;
        }
        self.evidence
            .account_regions(account_id)
            .map_err(|e| self.fail(e))
            .ok()
    }

    /// Keeps the first failure to read the evidence; the template's loops over accounts end.
    fn fail(&self, error: Error) {
        self.failure.borrow_mut().get_or_insert(error);
    }

    /// Each account's findings with what they link to, one account at a time.
    fn groups(&self) -> impl Iterator<Item = GroupItem<'_>> + '_ {
        // `None` ends the groups (the evidence could not be read); an account without findings
        // (a run without Regions) has no group.
        self.findings
            .accounts()
            .map_while(|account| {
                let findings = account.map_err(|e| self.fail(e)).ok()?;
                Some((|| {
                    let index = self
                        .indexes
                        .account
                        .get(findings.first()?.account_id.as_str())?;
                    Some((&self.population[*index], findings))
                })())
            })
            .flatten()
            .map_while(|(account, findings)| {
                let records = self.records_of(account.id)?;
                let mut counts = [0usize; 6];
                for finding in &findings {
                    counts[finding.status.index()] += 1;
                }
                Some(GroupItem {
                    account,
                    worst: worst_cell(Some(&counts)),
                    passing_count: counts[Status::Pass.index()],
                    findings,
                    records,
                    linker: &self.linker,
                    indexes: self.indexes,
                })
            })
    }

    /// Every account's evidence, one account at a time (the population is the run's accounts,
    /// in the same order).
    fn account_evidence(&self) -> impl Iterator<Item = AccountEvidenceItem<'a>> + '_ {
        self.run
            .accounts
            .iter()
            .zip(self.population)
            .map_while(|(account, reference)| {
                Some(AccountEvidenceItem {
                    records: self.records_of(&account.account.id)?,
                    account,
                    reference,
                    regions: self.regions,
                    absence: Absence::of(self.run),
                })
            })
    }
}

/// An account's findings as the template renders them: read for this account only, PASS apart.
struct GroupItem<'a> {
    account: &'a AccountRef<'a>,
    worst: Option<Cell>,
    passing_count: usize,
    findings: Vec<Finding>,
    records: Vec<Cow<'a, AccountRegionEvidence>>,
    linker: &'a Linker<'a>,
    indexes: &'a Indexes<'a>,
}

impl GroupItem<'_> {
    /// The rows that need attention (anything but PASS).
    fn attention(&self) -> Vec<Row<'_>> {
        self.rows(|status| status != Status::Pass)
    }

    /// The PASS rows.
    fn passing(&self) -> Vec<Row<'_>> {
        self.rows(|status| status == Status::Pass)
    }

    fn rows(&self, wanted: impl Fn(Status) -> bool) -> Vec<Row<'_>> {
        self.findings
            .iter()
            .filter(|finding| wanted(finding.status))
            .map(|finding| {
                let own = self
                    .records
                    .iter()
                    .map(|r| r.as_ref())
                    .find(|r| r.region == finding.region);
                Row {
                    finding,
                    class: status_class(finding.status),
                    label: status_markup(finding.status),
                    rule: self.indexes.rule(&finding.rule_id),
                    region: self
                        .indexes
                        .region
                        .get(finding.region.as_str())
                        .copied()
                        .unwrap_or(usize::MAX),
                    links: self.linker.links(self.account.index, finding, own),
                }
            })
            .collect()
    }
}

/// An account's evidence as the template renders it: its records, read for this account only.
struct AccountEvidenceItem<'a> {
    records: Vec<Cow<'a, AccountRegionEvidence>>,
    account: &'a AccountEvidence,
    reference: &'a AccountRef<'a>,
    regions: &'a [String],
    /// Why evidence the run would hold is absent.
    absence: Absence,
}

impl AccountEvidenceItem<'_> {
    fn view(&self) -> AccountEv<'_> {
        account_ev(
            self.account,
            self.reference,
            self.regions,
            &self.records,
            self.absence,
        )
    }
}

/// What triage decided (`run.json` `triage`): the gate, the baseline, the suppressions.
fn triage_facts(meta: &RunMetadata) -> Vec<Fact> {
    let triage = &meta.triage;
    let gate = &triage.gate;
    let mut facts = vec![
        Fact {
            label: "Severity gate",
            value: format!(
                "FAIL at or above {} fails the run; WARN {}; {}",
                gate.fail_on.as_str(),
                if gate.fail_on_warn {
                    "fails it too"
                } else {
                    "does not"
                },
                if gate.fail_on_new {
                    "only findings NEW against the baseline count"
                } else {
                    "every finding counts"
                }
            ),
        },
        Fact {
            label: "Exit code",
            value: meta.exit_code.to_string(),
        },
    ];
    if let Some(baseline) = &triage.baseline {
        let compared_with = match (&baseline.run_id, &baseline.warning) {
            (Some(run_id), _) => format!("run {run_id}"),
            (None, Some(warning)) => format!("no run ({warning})"),
            (None, None) => "no run".into(),
        };
        facts.push(Fact {
            label: "Baseline",
            value: format!(
                "{compared_with}: {} new, {} unchanged, {} resolved failing findings; {} not \
                 re-checked (failing before, ERROR now), {} previously unchecked (ERROR before, \
                 failing now); only the account-Regions both runs cover are compared",
                baseline.new,
                baseline.unchanged,
                baseline.resolved.len(),
                baseline.not_rechecked,
                baseline.previously_unchecked
            ),
        });
        if !baseline.resolved.is_empty() {
            let resolved: Vec<String> = baseline
                .resolved
                .iter()
                .map(|f| {
                    format!(
                        "{} {} {} ({}, {}): was {}",
                        f.rule_id, f.account_id, f.region, f.account_name, f.resource, f.status
                    )
                })
                .collect();
            facts.push(Fact {
                label: "Resolved since the baseline",
                value: resolved.join("; "),
            });
        }
    }
    if let Some(suppressions) = &triage.suppressions {
        let mut value = format!(
            "{} (SHA-256 {}): {} finding{} suppressed",
            suppressions.path,
            suppressions.sha256,
            suppressions.suppressed,
            if suppressions.suppressed == 1 {
                ""
            } else {
                "s"
            }
        );
        for (what, entries) in [
            ("expired, not applied", &suppressions.expired),
            ("malformed, not applied", &suppressions.malformed),
            ("unused", &suppressions.unused),
        ] {
            if !entries.is_empty() {
                value.push_str(&format!("; {what}: {}", entries.join("; ")));
            }
        }
        facts.push(Fact {
            label: "Suppressions",
            value,
        });
    }
    facts
}

/// Anchors of the evidence a finding rests on.
struct Linker<'a> {
    run: &'a RunEvidence,
    indexes: &'a Indexes<'a>,
    buckets: HashMap<&'a str, usize>,
    keys: HashMap<&'a str, usize>,
}

impl<'a> Linker<'a> {
    fn new(run: &'a RunEvidence, indexes: &'a Indexes<'a>) -> Linker<'a> {
        let mut bucket_names: Vec<&str> = run.buckets.keys().map(String::as_str).collect();
        bucket_names.sort_unstable();
        let mut key_arns: Vec<&str> = run.keys.keys().map(String::as_str).collect();
        key_arns.sort_unstable();
        Linker {
            run,
            indexes,
            buckets: bucket_names
                .into_iter()
                .enumerate()
                .map(|(i, n)| (n, i))
                .collect(),
            keys: key_arns
                .into_iter()
                .enumerate()
                .map(|(i, k)| (k, i))
                .collect(),
        }
    }

    fn bucket_id(&self, name: &str) -> Option<String> {
        self.buckets.get(name).map(|i| format!("B{i}"))
    }

    fn key_id(&self, arn: &str) -> Option<String> {
        self.keys.get(arn).map(|i| format!("K{i}"))
    }

    /// The anchor of an account-Region's evidence (which the caller has).
    fn account_region(&self, account: &str, region: &str) -> Option<String> {
        let a = self.indexes.account.get(account)?;
        let g = self.indexes.region.get(region)?;
        Some(format!("A{a}-R{g}"))
    }

    /// The export configuration judging an account-Region (its own, or its administrator's with
    /// the administrator option), as the repository rules choose it.
    fn judged_by<'e>(&self, evidence: &'e AccountRegionEvidence) -> &'e AccountRegionEvidence
    where
        'a: 'e,
    {
        if self.run.header.rules.macie_members != MemberRepository::Administrator {
            return evidence;
        }
        evidence
            .administrator_account()
            .and_then(|admin| self.run.account_region(admin, &evidence.region))
            .unwrap_or(evidence)
    }

    /// The evidence a finding rests on; `own` is its account-Region's record, when there is one.
    fn links(
        &self,
        account: usize,
        finding: &Finding,
        own: Option<&AccountRegionEvidence>,
    ) -> Vec<Link> {
        let mut links = Vec::with_capacity(4);
        let region = finding.region.as_str();
        let account_link = Link {
            href: format!("A{account}"),
            text: "Account".into(),
        };
        let Some(own) = own else {
            // Not examined (account not active or not reached): the account's evidence says why.
            links.push(account_link);
            return links;
        };
        if let Some(anchor) = self.account_region(&finding.account_id, region) {
            links.push(Link {
                href: anchor,
                text: "Macie".into(),
            });
        }
        let repository_rule = matches!(
            finding.rule_id.as_str(),
            "MACIE-002" | "MACIE-003" | "MACIE-004" | "MACIE-005"
        );
        if repository_rule {
            let judged = self.judged_by(own);
            if judged.account_id != own.account_id
                && let Some(anchor) = self.account_region(&judged.account_id, region)
            {
                links.push(Link {
                    href: anchor,
                    text: "Admin's Macie".into(),
                });
            }
            let destination = judged
                .export_configuration
                .as_ref()
                .and_then(|o| o.response())
                .and_then(Option::as_ref);
            let bucket = destination.and_then(|d| d.bucket_name.as_deref());
            let key = destination.and_then(|d| d.kms_key_arn.as_deref());
            let wants_key = matches!(finding.rule_id.as_str(), "MACIE-003" | "MACIE-005");
            let wants_bucket = matches!(finding.rule_id.as_str(), "MACIE-004" | "MACIE-005");
            if wants_key && let Some(id) = key.and_then(|k| self.key_id(k)) {
                links.push(Link {
                    href: id,
                    text: "Key".into(),
                });
            }
            if wants_bucket && let Some(id) = bucket.and_then(|b| self.bucket_id(b)) {
                links.push(Link {
                    href: id,
                    text: "Bucket".into(),
                });
            }
        }
        links.push(account_link);
        links
    }
}

fn account_ev<'a>(
    account: &'a AccountEvidence,
    reference: &'a AccountRef<'a>,
    regions: &'a [String],
    records: &'a [Cow<'_, AccountRegionEvidence>],
    absence: Absence,
) -> AccountEv<'a> {
    let mut groups = Vec::new();
    let mut access_rows = Vec::new();
    let mut note = None;
    match &account.access {
        None => {
            note = Some(if account.account.is_active() {
                absence.account()
            } else {
                format!(
                    "Account status {}: not scanned (no AWS call made in it).",
                    account.account.status
                )
            });
        }
        Some(access) => {
            access_rows.push(obs(&access.identity, |c| {
                (
                    format!(
                        "account {}; ARN {}; user id {}",
                        c.account, c.arn, c.user_id
                    ),
                    None,
                )
            }));
        }
    }
    if let Some(buckets) = &account.buckets {
        access_rows.push(obs(buckets, |names| {
            let summary = format!(
                "{} bucket{} owned",
                names.len(),
                if names.len() == 1 { "" } else { "s" }
            );
            (summary, None)
        }));
    }
    groups.push(ObsGroup {
        id: format!("A{}-access", reference.index),
        heading: "Account access".into(),
        note,
        rows: access_rows,
    });
    for (g, region) in regions.iter().enumerate() {
        let Some(evidence) = records.iter().find(|r| r.region == *region) else {
            continue;
        };
        let mut rows = vec![obs(&evidence.macie_session, |s| {
            let mut text = format!("status {}", s.status);
            if let Some(created) = &s.created_at {
                text.push_str(&format!("; enabled (createdAt) {}", utc_seconds(created)));
            }
            if let Some(updated) = &s.updated_at {
                text.push_str(&format!("; updatedAt {}", utc_seconds(updated)));
            }
            (text, None)
        })];
        if let Some(admin) = &evidence.administrator {
            rows.push(obs(admin, |a| {
                (
                    match a {
                        None => "no Macie administrator (not a member)".into(),
                        Some(a) => format!(
                            "Macie administrator {} (relationship {})",
                            a.account_id,
                            a.relationship_status.as_deref().unwrap_or("unknown")
                        ),
                    },
                    None,
                )
            }));
        }
        if let Some(export) = &evidence.export_configuration {
            rows.push(obs(export, |d| {
                (
                    match d {
                        None => "no export configuration (no repository)".into(),
                        Some(d) => format!(
                            "bucket {}; key prefix {}; KMS key {}; expected bucket owner {}",
                            d.bucket_name.as_deref().unwrap_or("(none)"),
                            d.key_prefix
                                .as_deref()
                                .filter(|p| !p.is_empty())
                                .unwrap_or("(none)"),
                            d.kms_key_arn.as_deref().unwrap_or("(none)"),
                            d.expected_bucket_owner.as_deref().unwrap_or("(not set)"),
                        ),
                    },
                    None,
                )
            }));
        }
        groups.push(ObsGroup {
            id: format!("A{}-R{g}", reference.index),
            heading: region.clone(),
            note: None,
            rows,
        });
    }
    AccountEv {
        account: reference,
        status: &account.account.status,
        email: account.account.email.as_deref(),
        role: account
            .access
            .as_ref()
            .map(|a| {
                a.role_arn
                    .clone()
                    .unwrap_or_else(|| "none (the scanner's own credentials)".into())
            })
            .unwrap_or_else(|| "none (not scanned)".into()),
        groups,
    }
}

fn bucket_ev<'a>(bucket: &'a BucketEvidence, id: String) -> ResourceEv<'a> {
    let mut facts = vec![(
        "Owner",
        match &bucket.owner {
            BucketOwner::Account { account_id } => {
                format!("account {account_id} (listed it in ListBuckets)")
            }
            BucketOwner::Unknown => {
                "unknown: no account in scope lists it (missing, or owned outside the scope)".into()
            }
        },
    )];
    if let Some(reason) = &bucket.unverifiable {
        facts.push(("Not verifiable", reason.clone()));
    }
    let mut rows = Vec::new();
    if let Some(o) = &bucket.probe {
        rows.push(obs(o, |_| ("the bucket exists and answered".into(), None)));
    }
    if let Some(o) = &bucket.location {
        rows.push(obs(o, |l| {
            (
                if l.is_empty() {
                    "empty location constraint (us-east-1)".into()
                } else {
                    format!("Region {l}")
                },
                None,
            )
        }));
    }
    if let Some(o) = &bucket.public_access_block {
        rows.push(obs(o, |p| {
            (format!("bucket level: {}", public_access_block(p)), None)
        }));
    }
    if let Some(o) = &bucket.account_public_access_block {
        rows.push(obs(o, |p| {
            (format!("account level: {}", public_access_block(p)), None)
        }));
    }
    if let Some(o) = &bucket.policy_status {
        rows.push(obs(o, |public| {
            (
                format!("IsPublic: {}", if *public { "true" } else { "false" }),
                None,
            )
        }));
    }
    if let Some(o) = &bucket.policy {
        rows.push(obs(o, |p| match p {
            None => ("no bucket policy".into(), None),
            Some(text) => (
                format!("bucket policy ({} bytes):", text.len()),
                Some(text.as_str()),
            ),
        }));
    }
    if let Some(o) = &bucket.encryption {
        rows.push(obs(o, |e| {
            (
                match e {
                    None => "no default encryption".into(),
                    Some(e) => format!(
                        "default encryption {}{}",
                        e.algorithm,
                        e.kms_key_id
                            .as_deref()
                            .map(|k| format!(" with key {k}"))
                            .unwrap_or_default()
                    ),
                },
                None,
            )
        }));
    }
    if let Some(o) = &bucket.versioning {
        rows.push(obs(o, |v| {
            (
                format!("versioning {}", v.as_deref().unwrap_or("never enabled")),
                None,
            )
        }));
    }
    if let Some(o) = &bucket.object_lock {
        rows.push(obs(o, |on| {
            (format!("Object Lock enabled: {}", yes_no(*on)), None)
        }));
    }
    ResourceEv {
        id,
        kind: "Bucket",
        name: &bucket.name,
        facts,
        rows,
    }
}

fn key_ev<'a>(key: &'a KeyEvidence, id: String) -> ResourceEv<'a> {
    let mut facts = vec![
        ("Owner account", key.owner_account.clone()),
        ("Region", key.region.clone()),
    ];
    if let Some(reason) = &key.unverifiable {
        facts.push(("Not verifiable", reason.clone()));
    }
    let mut rows = Vec::new();
    if let Some(o) = &key.metadata {
        rows.push(obs(o, |m| {
            (
                format!(
                    "ARN {}; state {}; manager {}; spec {}; usage {}; multi-Region {}",
                    m.arn,
                    m.state,
                    m.manager,
                    m.spec,
                    m.usage,
                    yes_no(m.multi_region)
                ),
                None,
            )
        }));
    }
    if let Some(o) = &key.policy {
        rows.push(obs(o, |p| {
            (
                format!("key policy \"default\" ({} bytes):", p.len()),
                Some(p.as_str()),
            )
        }));
    }
    if let Some(o) = &key.rotation_enabled {
        rows.push(obs(o, |on| {
            (format!("automatic rotation enabled: {}", yes_no(*on)), None)
        }));
    }
    ResourceEv {
        id,
        kind: "Key",
        name: &key.arn,
        facts,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script() {
        let json = script_json(&serde_json::json!({
            "name": "</script><script>alert(1)</script><!-- & \u{2028}\u{2029}"
        }));
        assert!(!json.contains('<'), "{json}");
        assert!(!json.contains('>'), "{json}");
        assert!(!json.contains('&'), "{json}");
        assert!(!json.contains('\u{2028}') && !json.contains('\u{2029}'));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back["name"],
            "</script><script>alert(1)</script><!-- & \u{2028}\u{2029}"
        );
    }

    #[test]
    fn text_filter_escapes_markup_and_keeps_quotes() {
        let text = filters::Text("<script>\"a\" & 'b'</script>").to_string();
        assert_eq!(text, "&lt;script&gt;\"a\" &amp; 'b'&lt;/script&gt;");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn worst_status_order_covers_every_status() {
        for status in Status::ALL {
            assert!(WORST_FIRST.contains(&status));
        }
    }

    #[test]
    fn shell_line_quotes() {
        let args = ["macie-audit", "scan", "--config", "my file.toml", "it's"].map(String::from);
        assert_eq!(
            shell_line(&args),
            r"macie-audit scan --config 'my file.toml' 'it'\''s'"
        );
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("Zürich 東京 🚀", 8), "Zürich 東…");
        assert_eq!(shorten("a\nb", 10), "a b");
    }
}
