//! The HTML report for people: a summary (`report.html`), one page per account (`accounts/`) and
//! the OU pages (`ous/`), all self-contained.
//!
//! Each page is compiled from an askama template (`templates/report.html`, `account.html`,
//! `ou.html`, `ous.html`), with the style sheet (`templates/report.css`) and the script
//! (`templates/report.js`) inlined: nothing is loaded from anywhere, so the pages work offline
//! and from `file://`. A Content-Security-Policy forbids every fetch and lets only this exact
//! script and style sheet run (by SHA-256).
//!
//! What a person opens first does not grow with the organization: the summary (completeness,
//! counts, compliance per rule and per OU, the worst accounts that need attention grouped by OU,
//! the rules, the run's scope) lists at most [`SUMMARY_ACCOUNTS`] accounts and
//! [`SUMMARY_OUS`] OUs; every account is in its OU's pages (matrix and scope, a bounded number
//! of accounts a page, [`ous`]), and its findings and evidence on its own page. Evidence is
//! rendered once per account (its access, then each Region's Macie answers), bucket and key;
//! findings link to it by anchor (`A3`, `A3-R1`, `B0`, `K0`).
//!
//! Safety: every string from AWS goes through askama's HTML escaping; attributes only ever carry
//! indices, rule ids, statuses, severities and file names made of account and OU ids; the only
//! data inside `<script>` is JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped; the script
//! writes text with `textContent` only.

mod ous;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use askama::{DynTemplate, Template};
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use super::ReportInput;
use super::metadata::{AccountScope, EvidenceIntegrity, ExcludedAccount, Provenance, RunMetadata};
use crate::config::MemberRepository;
use crate::error::{Error, Result};
use crate::evidence::{
    AccountEvidence, AccountRegionEvidence, ApiError, BucketEvidence, BucketOwner, ErrorKind,
    KeyEvidence, Observation, OrganizationListing, Outcome, PublicAccessBlock, RunEvidence,
};
use crate::findings::{Finding, Severity, Status};
use crate::rules::{Absence, CATALOGUE, Rule};
use crate::run_dir::{ACCOUNTS_DIR, PAGE_DIRS, write_atomically};

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

/// Accounts that need attention the summary lists at most, the worst first: the others are on
/// their OU's pages.
pub const SUMMARY_ACCOUNTS: usize = 50;

/// OUs the summary's compliance table lists at most, the one with the worst account first: every
/// OU is in `ous/index.html`.
pub const SUMMARY_OUS: usize = 25;

/// Rows of the summary's other lists of accounts (those not evaluated, those excluded) at most:
/// every account is on its OU's page, every excluded one in `ous/index.html`.
const SUMMARY_LIST: usize = 50;

/// Severities in report order.
const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Informational,
];

/// Writes `dir/report.html` (the summary), one page per account under `dir/accounts/` and the
/// OU pages under `dir/ous/`. The findings and evidence of one account at a time are rendered
/// into its page and reduced to its summary line, so that no page and no part of the report's
/// model grows with the organization but one line per account; an account whose evidence cannot
/// be read fails the report (no partial file is left under a final name).
pub fn write(dir: &Path, input: &ReportInput<'_>) -> Result<()> {
    for name in PAGE_DIRS {
        let pages = dir.join(name);
        fs::create_dir_all(&pages).map_err(|e| Error::output(&pages, e))?;
    }
    let mut written = HashSet::new();
    let rendered = render_pages(input, |file, page| {
        write_atomically(&dir.join(file), |out| {
            page.dyn_write_into(out).map_err(std::io::Error::other)
        })?;
        written.insert(file.to_owned());
        Ok(())
    });
    if let Err(error) = rendered {
        // No half report: the pages of this rendering go, and their directories if empty.
        for file in &written {
            let _ = fs::remove_file(dir.join(file));
        }
        for name in PAGE_DIRS {
            let _ = fs::remove_dir(dir.join(name));
        }
        return Err(error);
    }
    for name in PAGE_DIRS {
        remove_stale_pages(&dir.join(name), name, &written)?;
    }
    Ok(())
}

/// The rendered pages of a report: the summary (`report.html`), each account's page and each OU
/// page by its path in the run directory.
pub struct Pages {
    /// `report.html`.
    pub summary: String,
    /// `(accounts/<file>.html, page)`, in population order.
    pub accounts: Vec<(String, String)>,
    /// `(ous/<file>.html, page)`: each OU's pages, the worst OU first, then `ous/index.html`.
    pub ous: Vec<(String, String)>,
}

/// Renders the report's pages to strings.
pub fn render(input: &ReportInput<'_>) -> Result<Pages> {
    let mut pages = Pages {
        summary: String::new(),
        accounts: Vec::new(),
        ous: Vec::new(),
    };
    render_pages(input, |file, page| {
        let html = page.dyn_render().map_err(|e| render_error(file, e))?;
        if file == FILE_NAME {
            pages.summary = html;
        } else if file.starts_with(ACCOUNTS_DIR) {
            pages.accounts.push((file.to_owned(), html));
        } else {
            pages.ous.push((file.to_owned(), html));
        }
        Ok(())
    })?;
    Ok(pages)
}

/// Renders every page, handing each to `emit` with its path in the run directory: the account
/// pages as their findings are judged, then the OU pages, then the summary.
fn render_pages(
    input: &ReportInput<'_>,
    mut emit: impl FnMut(&str, &dyn DynTemplate) -> Result<()>,
) -> Result<()> {
    let population = population(input.run);
    let regions = &input.run.header.regions;
    let indexes = Indexes::new(&population, regions);
    let linker = Linker::new(input.run, &indexes, &population);
    let chrome = PageChrome::new(input.metadata);
    let ou_files = ous::OuFiles::new(input.run);
    let lines = account_pages(
        input,
        &population,
        &indexes,
        &linker,
        &chrome,
        &ou_files,
        &mut emit,
    )?;
    let groups = ous::groups(&lines, input.metadata, &ou_files);
    ous::pages(&chrome, &groups, input.metadata, regions, &mut emit)?;
    let report = Report::build(input, &chrome, &population, &linker, &lines, &groups);
    emit(FILE_NAME, &report)
}

fn render_error(file: &str, error: askama::Error) -> Error {
    Error::output(Path::new(file), std::io::Error::other(error))
}

/// Removes the pages a previous rendering into the same directory left under `pages` (`name/`)
/// and this one did not write (an account or OU no longer in the run), so that the manifest
/// covers only this report.
fn remove_stale_pages(pages: &Path, name: &str, written: &HashSet<String>) -> Result<()> {
    let entries = fs::read_dir(pages).map_err(|e| Error::output(pages, e))?;
    for entry in entries.filter_map(|entry| entry.ok()) {
        let file = format!("{name}/{}", entry.file_name().to_string_lossy());
        if file.ends_with(".html") && !written.contains(&file) {
            fs::remove_file(entry.path()).map_err(|e| Error::output(entry.path(), e))?;
        }
    }
    Ok(())
}

/// The path of an account's page in the run directory: its 12-digit id names it; anything else
/// (never from AWS) is replaced by its index, so that no string from AWS reaches a file name.
fn account_file(id: &str, index: usize) -> String {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("{ACCOUNTS_DIR}/{id}.html")
    } else {
        format!("{ACCOUNTS_DIR}/account-{index}.html")
    }
}

/// Renders each account's page (handed to `emit` with its path) and returns the accounts'
/// summary lines, in population order.
fn account_pages<'a>(
    input: &ReportInput<'a>,
    population: &'a [AccountRef<'a>],
    indexes: &'a Indexes<'a>,
    linker: &'a Linker<'a>,
    chrome: &PageChrome<'_>,
    ou_files: &ous::OuFiles<'_>,
    emit: &mut impl FnMut(&str, &dyn DynTemplate) -> Result<()>,
) -> Result<Vec<AccountLine<'a>>> {
    let meta = input.metadata;
    let regions = &input.run.header.regions;
    let evidence = input.findings.evidence();
    let mut lines = Vec::with_capacity(population.len());
    for findings in input.findings.accounts() {
        let findings = findings?;
        let Some(index) = findings
            .first()
            .and_then(|f| indexes.account.get(f.account_id.as_str()))
        else {
            continue;
        };
        let account = &population[*index];
        let records = evidence.account_regions(account.id)?;
        let line = AccountLine::of(
            account,
            &input.run.accounts[*index],
            regions,
            indexes,
            &findings,
            ou_files,
        );
        let group = GroupItem {
            account,
            findings,
            records,
            linker,
            indexes,
        };
        let mut attention = group.rows(needs_attention);
        attention.sort_by_key(|row| {
            (
                severity_rank(row.finding.severity),
                status_rank(row.finding.status),
            )
        });
        let (buckets, keys) = linker.resources_of(Some(*index));
        let page = AccountPage {
            buckets,
            keys,
            chrome,
            title: format!(
                "Account {} — Macie discovery results repository audit, run {}",
                account.id, meta.run_id
            ),
            line: &line,
            attention,
            others: group.rows(|status| !needs_attention(status)),
            evidence: account_ev(
                &input.run.accounts[*index],
                account,
                regions,
                &group.records,
                Absence::of(input.run),
            ),
            statuses: status_options(),
            severities: SEVERITIES.iter().map(|s| s.as_str()).collect(),
            rules: CATALOGUE.iter().map(|r| r.id).collect(),
            regions,
        };
        emit(&line.file, &page)?;
        lines.push(line);
    }
    Ok(lines)
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
    /// The same share in percent, when something was judged.
    share: Option<f64>,
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
        let share = (judged > 0).then(|| pass as f64 * 100.0 / judged as f64);
        Counts {
            cells,
            share,
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
    /// Its page, relative to the run directory ([`account_file`]).
    file: String,
}

/// A matrix cell: the worst status of an account-Region.
struct Cell {
    class: &'static str,
    label: &'static str,
    /// Counts by status, e.g. "2 FAIL, 3 PASS".
    title: String,
}

/// What the summary keeps of an account: its matrix row, its counts and how bad it is.
struct AccountLine<'a> {
    account: &'a AccountRef<'a>,
    /// Its page ([`account_file`]).
    file: String,
    /// Its OU path (`o-…/r-…/ou-…/`), or "" when the run did not walk the organization.
    ou_path: &'a str,
    /// Its OU's first page (`ous/<file>.html`).
    ou_file: String,
    /// One cell per Region of the run.
    cells: Vec<Cell>,
    /// Findings by status, in `Status::ALL` order; `by_region[g]` the same per Region.
    counts: [usize; 6],
    by_region: Vec<[usize; 6]>,
    /// Findings that need attention (FAIL, WARN, ERROR): never NOT_APPLICABLE or SKIPPED.
    attention: usize,
    /// Its worst finding: (severity rank, status rank), smaller is worse; `None` with nothing
    /// that needs attention.
    worst: Option<(usize, usize)>,
    /// The severity of its worst FAIL.
    fail: Option<Severity>,
    /// The badge beside its name: its worst status, with the severity of a FAIL.
    badge: Option<Cell>,
}

impl<'a> AccountLine<'a> {
    fn of(
        account: &'a AccountRef<'a>,
        evidence: &'a AccountEvidence,
        regions: &[String],
        indexes: &Indexes<'_>,
        findings: &[Finding],
        ou_files: &ous::OuFiles<'_>,
    ) -> AccountLine<'a> {
        let mut by_region = vec![[0usize; 6]; regions.len()];
        let mut region_worst: Vec<Option<Severity>> = vec![None; regions.len()];
        let mut counts = [0usize; 6];
        let mut account_worst: Option<Severity> = None;
        let mut worst: Option<(usize, usize)> = None;
        for finding in findings {
            counts[finding.status.index()] += 1;
            let region = indexes.region.get(finding.region.as_str()).copied();
            if let Some(g) = region {
                by_region[g][finding.status.index()] += 1;
            }
            if finding.status == Status::Fail {
                if let Some(g) = region {
                    region_worst[g] = worse(region_worst[g], finding.severity);
                }
                account_worst = worse(account_worst, finding.severity);
            }
            if needs_attention(finding.status) {
                let rank = (severity_rank(finding.severity), status_rank(finding.status));
                worst = Some(worst.map_or(rank, |w| w.min(rank)));
            }
        }
        let cells = by_region
            .iter()
            .zip(&region_worst)
            .zip(regions)
            .map(|((counts, severity), region)| {
                matrix_cell(counts, *severity, region).unwrap_or_else(|| Cell {
                    class: "s-none",
                    label: "·",
                    title: format!("{region}: no finding"),
                })
            })
            .collect();
        let ou_path = evidence.account.ou_path.as_deref().unwrap_or_default();
        AccountLine {
            account,
            file: account.file.clone(),
            ou_path,
            ou_file: ou_files.page(ou_path, 0),
            cells,
            attention: Status::ALL
                .iter()
                .filter(|s| needs_attention(**s))
                .map(|s| counts[s.index()])
                .sum(),
            counts,
            by_region,
            worst,
            fail: account_worst,
            badge: account_badge(&counts, account_worst),
        }
    }

    /// The account's worst status, for the matrix filter (`data-w`).
    fn worst_status(&self) -> &'static str {
        WORST_FIRST
            .iter()
            .find(|s| self.counts[s.index()] > 0)
            .map_or("", |s| s.as_str())
    }

    /// The severity of its worst FAIL, for the matrix filter (`data-v`).
    fn fail_severity(&self) -> &'static str {
        self.fail.map_or("", Severity::as_str)
    }
}

/// Whether a status asks for someone's attention: FAIL, WARN or ERROR (not checked).
fn needs_attention(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Warn | Status::Error)
}

/// The position of a severity in report order (0 = critical).
fn severity_rank(severity: Severity) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

/// The position of a status from the worst (0 = ERROR).
fn status_rank(status: Status) -> usize {
    WORST_FIRST
        .iter()
        .position(|s| *s == status)
        .unwrap_or(WORST_FIRST.len())
}

/// The worse of a severity seen so far and another.
fn worse(seen: Option<Severity>, other: Severity) -> Option<Severity> {
    Some(match seen {
        Some(seen) if severity_rank(seen) <= severity_rank(other) => seen,
        _ => other,
    })
}

/// A FAIL's cell class and one-letter label by severity: a low-severity FAIL must not look like
/// a critical one.
fn fail_look(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("s-fail v-critical", "C"),
        Severity::High => ("s-fail v-high", "H"),
        Severity::Medium => ("s-fail v-medium", "M"),
        Severity::Low => ("s-fail v-low", "L"),
        Severity::Informational => ("s-fail v-informational", "I"),
    }
}

/// A matrix cell: the worst status of an account-Region (a FAIL by its worst severity), every
/// count in its title.
fn matrix_cell(counts: &[usize; 6], fail: Option<Severity>, region: &str) -> Option<Cell> {
    let worst = WORST_FIRST.iter().find(|s| counts[s.index()] > 0)?;
    let (class, label) = match (worst, fail) {
        (Status::Fail, Some(severity)) => fail_look(severity),
        (Status::Error, _) => ("s-error", "E"),
        (Status::Warn, _) => ("s-warn", "W"),
        (Status::Pass, _) => ("s-pass", "ok"),
        (Status::NotApplicable, _) => ("s-na", "na"),
        (status, _) => (status_class(*status), "–"),
    };
    let mut title = format!("{region}: {}", count_list(counts));
    if let Some(severity) = fail.filter(|_| *worst == Status::Fail) {
        title.push_str(&format!(" (worst FAIL: {severity})"));
    }
    Some(Cell {
        class,
        label,
        title,
    })
}

/// Counts by status, worst first, e.g. "2 FAIL, 3 PASS".
fn count_list(counts: &[usize; 6]) -> String {
    WORST_FIRST
        .iter()
        .filter(|s| counts[s.index()] > 0)
        .map(|s| format!("{} {}", counts[s.index()], s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An account's badge: its worst status, a FAIL with its worst severity.
fn account_badge(counts: &[usize; 6], fail: Option<Severity>) -> Option<Cell> {
    let worst = WORST_FIRST.iter().find(|s| counts[s.index()] > 0)?;
    let (class, label) = match (worst, fail) {
        (Status::Fail, Some(severity)) => (fail_look(severity).0, severity_fail_label(severity)),
        (status, _) => (status_class(*status), status_short(*status)),
    };
    Some(Cell {
        class,
        label,
        title: count_list(counts),
    })
}

fn severity_fail_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "FAIL critical",
        Severity::High => "FAIL high",
        Severity::Medium => "FAIL medium",
        Severity::Low => "FAIL low",
        Severity::Informational => "FAIL informational",
    }
}

/// A horizontal bar of a chart: a label and the share it shows (0–100), as SVG coordinates.
struct Bar {
    label: String,
    value: String,
    /// Width of the bar in the chart's units (0–300).
    width: usize,
    y: usize,
}

/// A stacked bar of the status mix per Region: one segment per status with findings.
struct StackedBar<'a> {
    region: &'a str,
    y: usize,
    segments: Vec<Segment>,
    total: usize,
}

struct Segment {
    x: usize,
    width: usize,
    class: &'static str,
    title: String,
}

/// A badge of the run beside its title (COMPLETE, INCOMPLETE, INTERRUPTED, PARTIAL SCOPE):
/// every badge is built by [`run_badges`], so each page shows the same ones.
struct Badge {
    class: &'static str,
    label: &'static str,
    text: String,
}

/// A link from a finding to the evidence it rests on.
struct Link {
    /// `#A3-R1` on the account's page, `../report.html#B0` for a repository, `<page>#A5-R1` for
    /// its Macie administrator's answers.
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
    /// The remediation, step by step.
    steps: Vec<Step>,
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
        ErrorKind::CredentialsExpired => ("error", "error: credentials expired"),
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

/// An account's row in a scope table, with the link to its page from the page that lists it
/// (none for an account without findings, which has no page).
struct ScopeRow<'a> {
    account: &'a AccountScope,
    page: Option<String>,
}

/// A pair of label and value for the scope's description lists.
struct Fact {
    label: &'static str,
    value: String,
}

/// What every page shows of the run: the style, the script and the policy that lets only them
/// run, the tool and the run's badges.
struct PageChrome<'a> {
    meta: &'a RunMetadata,
    style: &'static str,
    script: &'static str,
    csp: String,
    badges: Vec<Badge>,
}

impl<'a> PageChrome<'a> {
    fn new(meta: &'a RunMetadata) -> PageChrome<'a> {
        PageChrome {
            meta,
            style: STYLE,
            script: SCRIPT,
            csp: format!(
                "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
                csp_hash(STYLE),
                csp_hash(SCRIPT)
            ),
            badges: run_badges(meta),
        }
    }
}

/// The run's badges, in the order they are shown: completeness, then what limits the run.
fn run_badges(meta: &RunMetadata) -> Vec<Badge> {
    let counts = &meta.counts;
    let mut badges = vec![if meta.complete {
        Badge {
            class: "ok",
            label: "COMPLETE",
            text: format!(
                "All {} account-Regions in scope ({} accounts × {} Regions) were examined and no check ended in ERROR.",
                counts.account_regions_in_scope,
                counts.accounts_in_scope,
                meta.regions.len()
            ),
        }
    } else {
        Badge {
            class: "bad",
            label: "INCOMPLETE",
            text:
                "This run does not cover its whole scope, so it cannot show compliance on its own."
                    .into(),
        }
    }];
    if meta.interrupted {
        badges.push(Badge {
            class: "bad",
            label: "INTERRUPTED",
            text: if meta.ended_at.is_some() {
                "The scan was interrupted before it examined every account and Region in scope."
            } else {
                "The scan stopped (killed or crashed) before it examined every account and Region \
                 in scope: its evidence has no end record."
            }
            .into(),
        });
    }
    if meta.scope.partial {
        badges.push(Badge {
            class: "partial",
            label: "PARTIAL SCOPE",
            text: meta.scope.description.clone(),
        });
    }
    if let EvidenceIntegrity::Modified(check) = &meta.evidence_integrity {
        badges.push(Badge {
            class: "bad",
            label: "EVIDENCE MODIFIED",
            text: format!(
                "These reports were made from evidence that does not match the SHA256SUMS it was \
                 delivered with ({}): they are not the delivered run's.",
                check.describe()
            ),
        });
    }
    if let Some(reason) = &meta.organization.resource_control_policies_not_evaluated {
        badges.push(Badge {
            class: "partial",
            label: "RCPs NOT EVALUATED",
            text: format!(
                "The organization's Resource Control Policies were not evaluated: {reason}. The \
                 repository verdicts (MACIE-003, MACIE-004) rest on the key and bucket policies \
                 alone."
            ),
        });
    }
    badges
}

/// One account's page: its findings (those that need attention first, the others collapsed)
/// and the AWS answers they rest on.
#[derive(Template)]
#[template(path = "account.html", whitespace = "minimize")]
struct AccountPage<'a> {
    chrome: &'a PageChrome<'a>,
    title: String,
    line: &'a AccountLine<'a>,
    attention: Vec<Row<'a>>,
    others: Vec<Row<'a>>,
    evidence: AccountEv<'a>,
    /// The repository buckets and keys the account owns.
    buckets: Vec<ResourceEv<'a>>,
    keys: Vec<ResourceEv<'a>>,
    statuses: Vec<(&'static str, &'static str)>,
    severities: Vec<&'static str>,
    rules: Vec<&'static str>,
    regions: &'a [String],
}

/// The summary: what a person opens first, bounded whatever the organization's size.
#[derive(Template)]
#[template(path = "report.html", whitespace = "minimize")]
struct Report<'r, 'a> {
    chrome: &'r PageChrome<'a>,
    meta: &'a RunMetadata,
    data: String,
    title: String,
    complete: bool,
    provenance: Vec<ProvenanceRow>,
    organization_id: Option<&'a str>,
    completeness: Vec<String>,
    problem_accounts: Vec<(&'a AccountRef<'a>, String)>,
    problem_more: usize,
    tiles: Vec<Tile>,
    total: usize,
    /// Accounts with a finding that needs attention (FAIL, WARN, ERROR).
    attention_accounts: usize,
    statuses: Vec<(&'static str, &'static str)>,
    rules: Vec<RuleView>,
    rule_bars: Vec<Bar>,
    by_severity: Vec<SeverityView>,
    regions: &'a [String],
    /// Every account's line (for the charts), and the accounts by OU, the worst OU first.
    lines: &'r [AccountLine<'a>],
    groups: &'r [ous::OuGroup<'r, 'a>],
    /// The worst accounts that need attention, at most [`SUMMARY_ACCOUNTS`], by OU.
    shown: Vec<ous::Shown<'r, 'a>>,
    /// How many accounts `shown` lists.
    shown_accounts: usize,
    /// The OUs of the compliance table, at most [`SUMMARY_OUS`].
    top_ous: &'r [ous::OuGroup<'r, 'a>],
    /// The accounts not evaluated (ERROR, SKIPPED), at most [`SUMMARY_LIST`], and how many
    /// there are.
    not_evaluated: Vec<ScopeRow<'a>>,
    not_evaluated_total: usize,
    /// The accounts excluded by configuration, at most [`SUMMARY_LIST`].
    excluded: &'a [ExcludedAccount],
    run_facts: Vec<Fact>,
    counts_facts: Vec<Fact>,
    run_obs: Vec<Obs<'a>>,
    buckets: Vec<ResourceEv<'a>>,
    keys: Vec<ResourceEv<'a>>,
    /// The baseline comparison as bars: new, unchanged, resolved.
    baseline_bars: Vec<Bar>,
}

/// The statuses as column headings (N/A short) with their classes, in `Status::ALL` order.
fn status_columns() -> Vec<(&'static str, &'static str)> {
    Status::ALL
        .iter()
        .map(|s| (status_short(*s), status_class(*s)))
        .collect()
}

fn status_options() -> Vec<(&'static str, &'static str)> {
    Status::ALL
        .iter()
        .map(|s| (s.as_str(), status_class(*s)))
        .collect()
}

/// Bars of a compliance chart: one per labelled set of counts, the share of PASS among the judged.
fn compliance_bars<'l>(items: impl Iterator<Item = (String, &'l Counts)>) -> Vec<Bar> {
    items
        .enumerate()
        .map(|(i, (label, counts))| Bar {
            label,
            value: counts.compliance.clone(),
            width: counts
                .share
                .map_or(0, |share| (share * 3.0).round() as usize),
            y: i * 22,
        })
        .collect()
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
                file: account_file(id, index),
            }
        })
        .collect()
}

impl<'r, 'a> Report<'r, 'a> {
    fn build(
        input: &ReportInput<'a>,
        chrome: &'r PageChrome<'a>,
        population: &'a [AccountRef<'a>],
        linker: &Linker<'a>,
        lines: &'r [AccountLine<'a>],
        groups: &'r [ous::OuGroup<'r, 'a>],
    ) -> Report<'r, 'a> {
        let regions = &input.run.header.regions;
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

        let rules: Vec<RuleView> = CATALOGUE
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

        // Completeness in plain words.
        let counts = &meta.counts;
        let errors = by_status[status_index(Status::Error)];
        let complete = meta.complete;
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
        // The first screen names a few accounts with an ERROR; the accounts not evaluated
        // (section 4) and the matrix list more.
        const PROBLEMS_SHOWN: usize = 5;
        let problems: Vec<_> = meta
            .accounts
            .iter()
            .filter(|a| a.outcome == "error")
            .collect();
        let problem_more = problems.len().saturating_sub(PROBLEMS_SHOWN);
        let by_id: HashMap<&str, &'a AccountRef<'a>> =
            population.iter().map(|a| (a.id, a)).collect();
        let problem_accounts = problems
            .into_iter()
            .filter_map(|a| {
                Some((
                    *by_id.get(a.id.as_str())?,
                    a.reason.clone().unwrap_or_default(),
                ))
            })
            .take(PROBLEMS_SHOWN)
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
                label: "Organization id",
                value: meta
                    .organization
                    .id
                    .clone()
                    .unwrap_or_else(|| "not described".into()),
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
        // The repositories no account of the run owns: the others are on their owner's page.
        let (buckets, keys) = linker.resources_of(None);

        let worst_by_index: HashMap<usize, &str> = lines
            .iter()
            .map(|l| (l.account.index, l.worst_status()))
            .collect();
        let data = script_json(&serde_json::json!({
            "run_id": meta.run_id,
            "findings": total,
            // Every account, for the search across the organization: [index, id, name, page,
            // worst status ("" with no finding)].
            "accounts": population.iter().map(|a| {
                let worst = worst_by_index.get(&a.index).copied().unwrap_or_default();
                serde_json::json!([a.index, a.id, a.name, a.file, worst])
            }).collect::<Vec<_>>(),
            "regions": regions,
            "rules": CATALOGUE.iter().map(|r| r.id).collect::<Vec<_>>(),
        }));

        let baseline_bars = meta
            .triage
            .baseline
            .as_ref()
            .map(|baseline| {
                let rows = [
                    ("new", baseline.new),
                    ("unchanged", baseline.unchanged),
                    ("resolved", baseline.resolved.len()),
                ];
                let most = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
                rows.iter()
                    .enumerate()
                    .map(|(i, (label, n))| Bar {
                        label: (*label).to_owned(),
                        value: n.to_string(),
                        width: n * 300 / most,
                        y: i * 22,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rule_bars = compliance_bars(
            rules
                .iter()
                .map(|view: &RuleView| (view.rule.id.to_owned(), &view.counts)),
        );
        let (shown, shown_accounts) = ous::shown(groups, SUMMARY_ACCOUNTS);
        let pages: HashMap<&str, &str> =
            population.iter().map(|a| (a.id, a.file.as_str())).collect();
        let not_evaluated: Vec<&AccountScope> = meta
            .accounts
            .iter()
            .filter(|a| a.outcome != "evaluated")
            .collect();
        Report {
            chrome,
            meta,
            data,
            title: format!(
                "Macie discovery results repository audit — run {}",
                meta.run_id
            ),
            complete,
            provenance: provenance_rows(&meta.provenance),
            organization_id: meta.organization.id.as_deref(),
            completeness,
            problem_accounts,
            problem_more,
            tiles,
            total,
            attention_accounts: lines.iter().filter(|l| l.attention > 0).count(),
            statuses: status_columns(),
            rules,
            rule_bars,
            by_severity: by_severity_view,
            regions,
            lines,
            groups,
            top_ous: &groups[..groups.len().min(SUMMARY_OUS)],
            shown,
            shown_accounts,
            not_evaluated_total: not_evaluated.len(),
            not_evaluated: not_evaluated
                .into_iter()
                .take(SUMMARY_LIST)
                .map(|account| ScopeRow {
                    account,
                    page: pages.get(account.id.as_str()).map(|p| (*p).to_owned()),
                })
                .collect(),
            excluded: &meta.excluded_accounts[..meta.excluded_accounts.len().min(SUMMARY_LIST)],
            run_facts,
            counts_facts,
            run_obs,
            buckets,
            keys,
            baseline_bars,
        }
    }

    /// Compliance per OU as chart bars, the least compliant first, labelled by the innermost OU
    /// (at most 12, so that the executive summary prints on two pages: the table lists every OU).
    fn ou_bars(&self) -> Vec<Bar> {
        let mut ranked: Vec<&ous::OuGroup<'_, 'a>> = self.groups.iter().collect();
        ranked.sort_by(|a, b| {
            a.counts
                .share
                .unwrap_or(101.0)
                .total_cmp(&b.counts.share.unwrap_or(101.0))
                .then(a.path.cmp(b.path))
        });
        compliance_bars(ranked.into_iter().take(12).map(|g| {
            let leaf = g.label.rsplit(" / ").next().unwrap_or_default();
            (leaf.to_owned(), &g.counts)
        }))
    }

    /// The status mix per Region as stacked bars (300 units wide each).
    fn region_bars(&self) -> Vec<StackedBar<'a>> {
        self.regions
            .iter()
            .enumerate()
            .map(|(g, region)| {
                let mut counts = [0usize; 6];
                for line in self.lines {
                    for (total, n) in counts.iter_mut().zip(line.by_region[g]) {
                        *total += n;
                    }
                }
                let total: usize = counts.iter().sum();
                let mut x = 0;
                let segments = WORST_FIRST
                    .iter()
                    .filter(|s| counts[s.index()] > 0)
                    .map(|s| {
                        let width = counts[s.index()] * 300 / total.max(1);
                        let segment = Segment {
                            x,
                            width,
                            class: status_class(*s),
                            title: format!("{region}: {} {}", counts[s.index()], s.as_str()),
                        };
                        x += width;
                        segment
                    })
                    .collect();
                StackedBar {
                    region,
                    y: g * 18,
                    segments,
                    total,
                }
            })
            .collect()
    }
}

/// One step of a remediation: what to do, then each command and policy in a block of its own,
/// so that each can be copied whole.
struct Step {
    intro: String,
    parts: Vec<StepPart>,
}

/// A piece of a remediation step.
enum StepPart {
    /// An AWS CLI command, on one line.
    Command(String),
    /// A JSON document (a policy or its statements), pretty-printed.
    Json(String),
    /// Words between commands ("then add to its key policy").
    Prose(String),
}

impl StepPart {
    fn kind(&self) -> &'static str {
        match self {
            StepPart::Command(_) => "cmd",
            StepPart::Json(_) => "json",
            StepPart::Prose(_) => "prose",
        }
    }

    fn text(&self) -> &str {
        match self {
            StepPart::Command(text) | StepPart::Json(text) | StepPart::Prose(text) => text,
        }
    }

    /// A command's words: the template keeps each whole on a line (a browser would otherwise
    /// break `us-east-1` after a hyphen), so lines break only at the spaces between them.
    fn words(&self) -> std::str::Split<'_, char> {
        self.text().split(' ')
    }
}

/// Splits a remediation (one step a line, as the rules write it) into steps: the words before
/// the first command, the commands (separated by "; " or ", then "), and a JSON document at the
/// end of the line (after ": " or " — "), pretty-printed when it parses.
fn remediation_steps(remediation: &str) -> Vec<Step> {
    remediation
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let line = strip_step_number(line);
            let (body, json) = split_json(line);
            let (intro, commands) = match find_command(body) {
                Some(start) => (&body[..start], &body[start..]),
                None => (body, ""),
            };
            let mut parts = Vec::new();
            for piece in commands
                .split("; ")
                .flat_map(|piece| piece.split(", then "))
                .map(|piece| piece.trim().trim_end_matches([',', ';']).trim())
                .filter(|piece| !piece.is_empty())
            {
                match find_command(piece) {
                    Some(0) => parts.push(StepPart::Command(piece.to_owned())),
                    Some(start) => {
                        parts.push(StepPart::Prose(piece[..start].trim().to_owned()));
                        parts.push(StepPart::Command(piece[start..].to_owned()));
                    }
                    None => parts.push(StepPart::Prose(piece.to_owned())),
                }
            }
            if let Some((label, json)) = json {
                if !label.is_empty() {
                    parts.push(StepPart::Prose(label.to_owned()));
                }
                parts.push(StepPart::Json(pretty_json(json)));
            }
            Step {
                intro: intro.trim().trim_end_matches(':').trim().to_owned(),
                parts,
            }
        })
        .collect()
}

/// A line without its leading "1. ".
fn strip_step_number(line: &str) -> &str {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    match line[digits..].strip_prefix(". ") {
        Some(rest) if digits > 0 => rest,
        _ => line,
    }
}

/// The start of the first `aws ` command in a text: at its start or after a space.
fn find_command(text: &str) -> Option<usize> {
    if text.starts_with("aws ") {
        return Some(0);
    }
    text.find(" aws ").map(|at| at + 1)
}

/// A line and the JSON document that ends it, with the words that name the document
/// ("bucket-policy.json"): the document starts at a `{` or `[` after ": " or "— ".
fn split_json(line: &str) -> (&str, Option<(&str, &str)>) {
    for marker in [" — ", ": "] {
        let mut from = 0;
        while let Some(at) = line[from..].find(marker) {
            let start = from + at + marker.len();
            let rest = &line[start..];
            if rest.starts_with('{') || rest.starts_with('[') {
                let before = &line[..from + at];
                // "… — bucket-policy.json: {…}": the name of the file is the label.
                return match before.rsplit_once(" — ") {
                    Some((body, label)) if marker == ": " => (body, Some((label.trim(), rest))),
                    _ => (before, Some(("", rest))),
                };
            }
            from = start;
        }
    }
    (line, None)
}

/// JSON pretty-printed with two spaces, or the text as it is when it does not parse.
fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// An account's findings and records, read for this account only.
struct GroupItem<'a> {
    account: &'a AccountRef<'a>,
    findings: Vec<Finding>,
    records: Vec<Cow<'a, AccountRegionEvidence>>,
    linker: &'a Linker<'a>,
    indexes: &'a Indexes<'a>,
}

impl GroupItem<'_> {
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
                    steps: remediation_steps(&finding.remediation),
                }
            })
            .collect()
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
    population: &'a [AccountRef<'a>],
    buckets: HashMap<&'a str, usize>,
    keys: HashMap<&'a str, usize>,
}

impl<'a> Linker<'a> {
    fn new(
        run: &'a RunEvidence,
        indexes: &'a Indexes<'a>,
        population: &'a [AccountRef<'a>],
    ) -> Linker<'a> {
        let mut bucket_names: Vec<&str> = run.buckets.keys().map(String::as_str).collect();
        bucket_names.sort_unstable();
        let mut key_arns: Vec<&str> = run.keys.keys().map(String::as_str).collect();
        key_arns.sort_unstable();
        Linker {
            run,
            indexes,
            population,
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

    /// The account of the run that owns a bucket, by index.
    fn bucket_owner(&self, bucket: &BucketEvidence) -> Option<usize> {
        match &bucket.owner {
            BucketOwner::Account { account_id } => {
                self.indexes.account.get(account_id.as_str()).copied()
            }
            BucketOwner::Unknown => None,
        }
    }

    /// The account of the run that owns a key, by index.
    fn key_owner(&self, key: &KeyEvidence) -> Option<usize> {
        self.indexes
            .account
            .get(key.owner_account.as_str())
            .copied()
    }

    /// The repository buckets and keys whose evidence an account's page shows (`Some(index)`),
    /// or the summary (`None`: those no account of the run owns), sorted as their references.
    fn resources_of(&self, owner: Option<usize>) -> (Vec<ResourceEv<'a>>, Vec<ResourceEv<'a>>) {
        let mut buckets: Vec<&'a BucketEvidence> = self
            .run
            .buckets
            .values()
            .filter(|b| self.bucket_owner(b) == owner)
            .collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        let mut keys: Vec<&'a KeyEvidence> = self
            .run
            .keys
            .values()
            .filter(|k| self.key_owner(k) == owner)
            .collect();
        keys.sort_by(|a, b| a.arn.cmp(&b.arn));
        (
            buckets
                .into_iter()
                .map(|b| bucket_ev(b, self.bucket_id(&b.name).unwrap_or_default()))
                .collect(),
            keys.into_iter()
                .map(|k| key_ev(k, self.key_id(&k.arn).unwrap_or_default()))
                .collect(),
        )
    }

    /// The link to a repository's evidence from `from`'s page: on that page, on its owner's (a
    /// sibling) or on the summary.
    fn resource_href(&self, from: usize, owner: Option<usize>, id: &str) -> String {
        match owner {
            Some(owner) if owner == from => format!("#{id}"),
            Some(owner) => format!(
                "{}#{id}",
                self.population[owner].file.trim_start_matches("accounts/")
            ),
            None => format!("../{FILE_NAME}#{id}"),
        }
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
            href: format!("#A{account}"),
            text: "Account".into(),
        };
        let Some(own) = own else {
            // Not examined (account not active or not reached): the account's evidence says why.
            links.push(account_link);
            return links;
        };
        if let Some(anchor) = self.account_region(&finding.account_id, region) {
            links.push(Link {
                href: format!("#{anchor}"),
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
                && let Some(admin) = self.indexes.account.get(judged.account_id.as_str())
            {
                // Account pages sit side by side: the administrator's is a sibling file.
                let page = self.population[*admin].file.trim_start_matches("accounts/");
                links.push(Link {
                    href: format!("{page}#{anchor}"),
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
            if wants_key
                && let Some(arn) = key
                && let Some(id) = self.key_id(arn)
            {
                let owner = self.run.keys.get(arn).and_then(|k| self.key_owner(k));
                links.push(Link {
                    href: self.resource_href(account, owner, &id),
                    text: "Key".into(),
                });
            }
            if wants_bucket
                && let Some(name) = bucket
                && let Some(id) = self.bucket_id(name)
            {
                let owner = self
                    .run
                    .buckets
                    .get(name)
                    .and_then(|b| self.bucket_owner(b));
                links.push(Link {
                    href: self.resource_href(account, owner, &id),
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
}
