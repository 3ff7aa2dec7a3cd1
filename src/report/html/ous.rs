//! The OU pages of the HTML report (`ous/`): each OU's accounts in the matrix (the accounts that
//! need attention by default, filterable) and in the scope table (role, identity, outcome,
//! reason), the worst first, at most [`ACCOUNTS_PER_PAGE`] accounts a page; and `ous/index.html`,
//! every OU with its compliance and population and the accounts excluded by configuration.
//!
//! The summary lists the worst accounts and OUs only and links here: every account stays
//! reachable from it in two clicks, and no page grows with the organization (an OU of 10,000
//! accounts has 50 pages).

use std::collections::{BTreeMap, HashMap, HashSet};

use askama::{DynTemplate, Template};

use super::{AccountLine, Counts, PageChrome, ScopeRow, status_columns};
use crate::error::Result;
use crate::evidence::RunEvidence;
use crate::report::metadata::{AccountScope, RunMetadata};

use crate::run_dir::OUS_DIR;

/// The index of every OU, in the run directory.
pub const INDEX: &str = "ous/index.html";

/// Accounts an OU page lists at most: its matrix rows and scope rows.
pub const ACCOUNTS_PER_PAGE: usize = 200;

/// The file stem of each OU path's pages: the OU's id (`ou-…`, or the root's `r-…`) when it is
/// one, so that a page keeps its name from run to run; otherwise (a run that did not walk the
/// organization, an id that is not an AWS one) `group-<n>`, by the paths' order. No other string
/// from AWS reaches a file name.
pub struct OuFiles<'a> {
    stems: HashMap<&'a str, String>,
}

impl<'a> OuFiles<'a> {
    pub fn new(run: &'a RunEvidence) -> OuFiles<'a> {
        let paths: BTreeMap<&str, ()> = run
            .accounts
            .iter()
            .map(|a| (a.account.ou_path.as_deref().unwrap_or_default(), ()))
            .collect();
        let mut used = HashSet::new();
        let stems = paths
            .into_keys()
            .enumerate()
            .map(|(n, path)| {
                let leaf = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                let stem = if is_ou_id(leaf) && used.insert(leaf) {
                    leaf.to_owned()
                } else {
                    format!("group-{n}")
                };
                (path, stem)
            })
            .collect();
        OuFiles { stems }
    }

    /// The path in the run directory of the `part`-th page (from 0) of an OU: `ous/<stem>.html`,
    /// then `ous/<stem>-p2.html`, … (no OU id has three dashes).
    pub fn page(&self, path: &str, part: usize) -> String {
        let stem = self.stems.get(path).map_or("group", String::as_str);
        match part {
            0 => format!("{OUS_DIR}/{stem}.html"),
            n => format!("{OUS_DIR}/{stem}-p{}.html", n + 1),
        }
    }
}

/// An OU or root id as AWS writes them (`ou-abcd-12345678`, `r-abcd`).
fn is_ou_id(id: &str) -> bool {
    (id.starts_with("ou-") || id.starts_with("r-"))
        && id.len() <= 72
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An OU path as a label: the OUs below the root, or "(root)"; a run that did not walk the
/// organization has one group of all its accounts.
pub fn ou_label(path: &str) -> String {
    if path.is_empty() {
        return "all accounts (OUs not listed)".into();
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.len() {
        0..=2 => format!("{path} (root)"),
        _ => parts[2..].join(" / "),
    }
}

/// The accounts of one OU, worst first.
pub struct OuGroup<'r, 'a> {
    /// Its place among the OUs, the one with the worst account first (the matrix filter's value).
    pub index: usize,
    pub path: &'a str,
    /// The OUs below the root ([`ou_label`]).
    pub label: String,
    /// Its pages, each [`ACCOUNTS_PER_PAGE`] accounts (at least one page).
    pub files: Vec<String>,
    /// Its accounts with findings, the worst first.
    pub lines: Vec<&'r AccountLine<'a>>,
    /// Every account of the OU in scope: those of `lines` in the same order, then any without a
    /// finding.
    pub scope: Vec<&'a AccountScope>,
    /// Its accounts that need attention.
    pub problems: usize,
    pub counts: Counts,
    /// Its accounts by outcome: evaluated, with an ERROR, skipped.
    pub evaluated: usize,
    pub errored: usize,
    pub skipped: usize,
}

impl OuGroup<'_, '_> {
    /// Its pages' names beside it in `ous/`, numbered from 1.
    pub fn siblings(&self) -> Vec<(usize, &str)> {
        self.files
            .iter()
            .enumerate()
            .map(|(n, file)| (n + 1, file.trim_start_matches("ous/")))
            .collect()
    }
}

/// The OUs of the run: one per OU path of the population (the accounts of a run that did not
/// walk the organization form one), the OU with the worst account first; in each, the worst
/// account first.
pub fn groups<'r, 'a>(
    lines: &'r [AccountLine<'a>],
    meta: &'a RunMetadata,
    files: &OuFiles<'_>,
) -> Vec<OuGroup<'r, 'a>> {
    type Members<'r, 'a> = (Vec<&'r AccountLine<'a>>, Vec<&'a AccountScope>);
    let mut by_path: BTreeMap<&'a str, Members<'r, 'a>> = BTreeMap::new();
    for account in &meta.accounts {
        let path = account.ou_path.as_deref().unwrap_or_default();
        by_path.entry(path).or_default().1.push(account);
    }
    for line in lines {
        by_path.entry(line.ou_path).or_default().0.push(line);
    }
    let mut groups: Vec<OuGroup<'r, 'a>> = by_path
        .into_iter()
        .map(|(path, (mut lines, accounts))| {
            lines.sort_by_key(|l| (l.worst.unwrap_or((usize::MAX, usize::MAX)), l.account.index));
            let mut counts = [0usize; 6];
            for line in &lines {
                for (total, n) in counts.iter_mut().zip(line.counts) {
                    *total += n;
                }
            }
            let by_id: HashMap<&str, &AccountScope> =
                accounts.iter().map(|a| (a.id.as_str(), *a)).collect();
            let listed: HashSet<&str> = lines.iter().map(|l| l.account.id).collect();
            let mut scope: Vec<&AccountScope> = lines
                .iter()
                .filter_map(|l| by_id.get(l.account.id).copied())
                .collect();
            scope.extend(
                accounts
                    .iter()
                    .filter(|a| !listed.contains(a.id.as_str()))
                    .copied(),
            );
            let outcome = |wanted: &str| scope.iter().filter(|a| a.outcome == wanted).count();
            let parts = scope
                .len()
                .max(lines.len())
                .div_ceil(ACCOUNTS_PER_PAGE)
                .max(1);
            OuGroup {
                index: 0,
                path,
                label: ou_label(path),
                files: (0..parts).map(|part| files.page(path, part)).collect(),
                problems: lines.iter().filter(|l| l.attention > 0).count(),
                evaluated: outcome("evaluated"),
                errored: outcome("error"),
                skipped: outcome("skipped"),
                lines,
                scope,
                counts: Counts::new(counts),
            }
        })
        .collect();
    groups.sort_by_key(|g| {
        (
            g.lines
                .first()
                .and_then(|l| l.worst)
                .unwrap_or((usize::MAX, usize::MAX)),
            g.path,
        )
    });
    for (index, group) in groups.iter_mut().enumerate() {
        group.index = index;
    }
    groups
}

/// The accounts of an OU the summary shows: its worst ones that need attention.
pub struct Shown<'g, 'a> {
    pub group: &'g OuGroup<'g, 'a>,
    pub lines: &'g [&'g AccountLine<'a>],
}

/// The `limit` worst accounts that need attention in the organization, by OU (the OU with the
/// worst account first), and how many that is. Each OU's accounts are sorted worst first, so the
/// organization's worst are a first few of each OU's.
pub fn shown<'g, 'a>(groups: &'g [OuGroup<'g, 'a>], limit: usize) -> (Vec<Shown<'g, 'a>>, usize) {
    let mut worst: Vec<((usize, usize), usize, usize)> = groups
        .iter()
        .flat_map(|g| {
            g.lines
                .iter()
                .filter_map(move |l| Some((l.worst?, l.account.index, g.index)))
        })
        .collect();
    worst.sort_unstable();
    worst.truncate(limit);
    let mut per_group = vec![0usize; groups.len()];
    for (_, _, group) in &worst {
        per_group[*group] += 1;
    }
    let shown = groups
        .iter()
        .zip(per_group)
        .filter(|(_, n)| *n > 0)
        .map(|(group, n)| Shown {
            group,
            lines: &group.lines[..n],
        })
        .collect();
    (shown, worst.len())
}

/// One page of an OU: its accounts `first + 1` to `first + lines.len()` in the matrix and in the
/// scope table.
#[derive(Template)]
#[template(path = "ou.html", whitespace = "minimize")]
struct OuPage<'p, 'a> {
    chrome: &'p PageChrome<'a>,
    title: String,
    group: &'p OuGroup<'p, 'a>,
    /// The page's number among the OU's pages, from 1.
    number: usize,
    /// The position of its first account in the OU, from 0.
    first: usize,
    lines: &'p [&'p AccountLine<'a>],
    /// Its accounts that need attention (shown by default).
    attention: usize,
    scope: Vec<ScopeRow<'a>>,
    regions: &'a [String],
    rules: usize,
}

/// `ous/index.html`: every OU, its compliance, population and pages.
#[derive(Template)]
#[template(path = "ous.html", whitespace = "minimize")]
struct OuIndex<'p, 'a> {
    chrome: &'p PageChrome<'a>,
    title: String,
    groups: &'p [OuGroup<'p, 'a>],
    meta: &'a RunMetadata,
    statuses: Vec<(&'static str, &'static str)>,
}

/// Renders each OU's pages, then the index, handing each to `emit` with its path.
pub fn pages<'a>(
    chrome: &PageChrome<'a>,
    groups: &[OuGroup<'_, 'a>],
    meta: &'a RunMetadata,
    regions: &'a [String],
    emit: &mut impl FnMut(&str, &dyn DynTemplate) -> Result<()>,
) -> Result<()> {
    for group in groups {
        let pages: HashMap<&str, &str> = group
            .lines
            .iter()
            .map(|l| (l.account.id, l.file.as_str()))
            .collect();
        for (part, file) in group.files.iter().enumerate() {
            let first = part * ACCOUNTS_PER_PAGE;
            let span = |len: usize| first.min(len)..(first + ACCOUNTS_PER_PAGE).min(len);
            let lines = &group.lines[span(group.lines.len())];
            let page = OuPage {
                chrome,
                title: format!(
                    "OU {} (page {} of {}) — Macie discovery results repository audit, run {}",
                    group.label,
                    part + 1,
                    group.files.len(),
                    meta.run_id
                ),
                group,
                number: part + 1,
                first,
                lines,
                attention: lines.iter().filter(|l| l.attention > 0).count(),
                scope: group.scope[span(group.scope.len())]
                    .iter()
                    .map(|account| ScopeRow {
                        account,
                        page: pages.get(account.id.as_str()).map(|p| format!("../{p}")),
                    })
                    .collect(),
                regions,
                rules: crate::rules::CATALOGUE.len(),
            };
            emit(file, &page)?;
        }
    }
    let index = OuIndex {
        chrome,
        title: format!(
            "Every OU — Macie discovery results repository audit, run {}",
            meta.run_id
        ),
        groups,
        meta,
        statuses: status_columns(),
    };
    emit(INDEX, &index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ou_ids_name_pages_and_nothing_else_does() {
        assert!(is_ou_id("ou-b001-00000003"));
        assert!(is_ou_id("r-b001"));
        for hostile in ["", "ou-../../x", "ou-A", "x-b001", "ou-b001/../..", "ou-é"] {
            assert!(!is_ou_id(hostile), "{hostile}");
        }
    }

    #[test]
    fn labels_name_the_ous_below_the_root() {
        assert_eq!(ou_label(""), "all accounts (OUs not listed)");
        assert_eq!(ou_label("o-1/r-1/"), "o-1/r-1/ (root)");
        assert_eq!(ou_label("o-1/r-1/ou-a/ou-b/"), "ou-a / ou-b");
    }
}
