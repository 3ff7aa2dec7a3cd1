//! Which accounts and Regions a run covers: the organization's listing, filtered by configuration.

use aws_sdk_organizations::types::{Account as OrgAccount, PolicyTypeStatus};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::evidence::{
    Account, CallerIdentity, ErrorKind, Observation, OrganizationInfo, OrganizationListing,
    OrganizationRoot, Outcome,
};

/// The population of a run.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    /// Who runs the scan.
    pub caller: Observation<CallerIdentity>,
    /// How the accounts were listed.
    pub listing: OrganizationListing,
    /// Accounts in scope, in listing order (active or not).
    pub accounts: Vec<Account>,
    /// Accounts left out by the configuration.
    pub excluded: Vec<Account>,
    /// Regions in scope.
    pub regions: Vec<String>,
    /// Members of the organization this run does not judge (other shards, accounts outside the
    /// command line's account or OU filter): not scanned, but the role of an ACTIVE one may be
    /// assumed to read a repository it owns.
    pub other_members: Vec<Account>,
}

/// One of N deterministic slices of the accounts in scope, for parallel runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Shard {
    /// 1-based index of this shard.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Whether the account belongs to this shard: by a hash of its id, so that the split does not
    /// depend on the listing's order.
    pub fn contains(&self, account_id: &str) -> bool {
        let digest = Sha256::digest(account_id.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(bytes) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        let parse = |part: &str| part.trim().parse::<u32>().ok();
        match value.split_once('/').map(|(k, n)| (parse(k), parse(n))) {
            Some((Some(index), Some(count))) if count >= 1 && (1..=count).contains(&index) => {
                Ok(Shard { index, count })
            }
            _ => Err(format!("{value:?} is not K/N with 1 <= K <= N (e.g. 2/3)")),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ScanPlan {
    /// The caller's account id.
    pub fn caller_account(&self) -> &str {
        self.caller
            .response()
            .map(|identity| identity.account.as_str())
            .unwrap_or_default()
    }
}

/// Establishes who runs the scan and which accounts and Regions it covers.
pub async fn plan(env: &AwsEnvironment, config: &Config, shard: Option<Shard>) -> Result<ScanPlan> {
    let caller = establish_caller(env).await?;
    plan_listing(env, config, shard, caller, &mut |_| {}).await
}

/// Who runs the scan: GetCallerIdentity with the caller's credentials; without an answer there is
/// no scan.
pub async fn establish_caller(env: &AwsEnvironment) -> Result<Observation<CallerIdentity>> {
    let caller = caller_identity(env, env.caller()).await;
    if let Some(error) = caller.error() {
        return Err(Error::Scope(format!(
            "cannot establish the caller's identity (sts:GetCallerIdentity): {error}"
        )));
    }
    Ok(caller)
}

/// Walks the organization and filters it by configuration and shard, handing each account this
/// run scans to `scanned` as soon as its page arrives (so that scanning need not wait for the
/// last page). When the configuration names accounts or OUs, the names are checked against the
/// whole organization first and nothing is handed over before: a name the organization does not
/// have is a usage error, and nothing is scanned.
pub async fn plan_listing(
    env: &AwsEnvironment,
    config: &Config,
    shard: Option<Shard>,
    caller: Observation<CallerIdentity>,
    scanned: &mut (dyn FnMut(&Account) + Send),
) -> Result<ScanPlan> {
    let caller_account = caller
        .response()
        .map(|c| c.account.clone())
        .unwrap_or_default();
    let scope = &config.scope;
    let names_checked_first = !scope.accounts.is_empty()
        || !scope.organizational_units.is_empty()
        || !scope.exclude_organizational_units.is_empty();
    let scanned_by_this_run = |account: &Account| {
        in_scope(account, config) && shard.is_none_or(|s| s.contains(&account.id))
    };
    let mut on_page = |page: &[Account]| {
        if !names_checked_first {
            page.iter()
                .filter(|a| scanned_by_this_run(a))
                .for_each(&mut *scanned);
        }
    };
    let walked = walk_organization(env, &caller_account, &mut on_page).await?;
    check_names(config, &walked)?;
    if names_checked_first {
        walked
            .accounts
            .iter()
            .filter(|a| scanned_by_this_run(a))
            .for_each(&mut *scanned);
    }
    let mut accounts = Vec::new();
    let mut excluded = Vec::new();
    let mut other_members = Vec::new();
    for account in walked.accounts {
        match placement(&account, config) {
            Placement::Excluded => excluded.push(account),
            Placement::Filtered => other_members.push(account),
            Placement::InScope if shard.is_some_and(|s| !s.contains(&account.id)) => {
                other_members.push(account)
            }
            Placement::InScope => accounts.push(account),
        }
    }
    Ok(ScanPlan {
        caller,
        listing: walked.listing,
        accounts,
        excluded,
        regions: config.regions(),
        other_members,
    })
}

/// Every account id and OU the configuration names must be in the organization (a typo must not
/// scan nothing and report success). Exclusions are only warned about: an account or OU that has
/// left the organization must not stop a nightly run.
fn check_names(config: &Config, walked: &Walked) -> Result<()> {
    let scope = &config.scope;
    let listed = |id: &String| walked.accounts.iter().any(|a| &a.id == id);
    let unknown_accounts: Vec<&str> = scope
        .accounts
        .iter()
        .filter(|id| !listed(id))
        .map(String::as_str)
        .collect();
    let unknown_units: Vec<&str> = scope
        .organizational_units
        .iter()
        .filter(|unit| !walked.has_unit(unit))
        .map(String::as_str)
        .collect();
    let mut problems = Vec::new();
    if !unknown_accounts.is_empty() {
        problems.push(format!(
            "scope.accounts (or --accounts) names accounts the organization does not list: {}",
            unknown_accounts.join(", ")
        ));
    }
    if !unknown_units.is_empty() {
        problems.push(format!(
            "scope.organizational_units names OUs the organization does not have: {}",
            unknown_units.join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "{}; nothing was scanned",
            problems.join("; ")
        )));
    }
    for id in scope.exclude_accounts.iter().filter(|id| !listed(id)) {
        warn!(account = %id, "scope.exclude_accounts names an account the organization does not list");
    }
    for unit in scope
        .exclude_organizational_units
        .iter()
        .filter(|unit| !walked.has_unit(unit))
    {
        warn!(unit = %unit, "scope.exclude_organizational_units names an OU the organization does not have");
    }
    Ok(())
}

/// GetCallerIdentity with the given configuration's credentials.
pub async fn caller_identity(
    env: &AwsEnvironment,
    sdk_config: &aws_config::SdkConfig,
) -> Observation<CallerIdentity> {
    let result = env
        .limited(env.sts(sdk_config).get_caller_identity().send())
        .await;
    observation("sts:GetCallerIdentity", result, |output| CallerIdentity {
        account: output.account().unwrap_or_default().to_owned(),
        arn: output.arn().unwrap_or_default().to_owned(),
        user_id: output.user_id().unwrap_or_default().to_owned(),
    })
}

/// The organization as the walk found it.
struct Walked {
    listing: OrganizationListing,
    /// Every account, in account id order.
    accounts: Vec<Account>,
    /// The id and the path of every root and OU.
    units: Vec<(String, String)>,
}

impl Walked {
    /// Whether `unit` (an id or a path) is a root or OU of the organization.
    fn has_unit(&self, unit: &str) -> bool {
        let path = normalised_path(unit);
        self.units
            .iter()
            .any(|(id, unit_path)| id == unit || *unit_path == path)
    }
}

/// How many listing calls the walk keeps in flight: enough to overlap round trips, while the
/// rate limiter keeps the walk inside Organizations' quota.
const WALK_CONCURRENCY: usize = 4;

/// Which children of a parent one listing call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Children {
    Accounts,
    OrganizationalUnits,
}

/// One page of the walk to fetch: a parent's accounts or OUs.
#[derive(Debug, Clone)]
struct PageRequest {
    parent_id: String,
    /// The parent's path, `o-…/r-…/…/`: the OU path of the accounts directly under it.
    parent_path: String,
    children: Children,
    next_token: Option<String>,
}

/// What one page held: accounts, or OUs as (id, path).
enum PageItems {
    Accounts(Vec<Account>),
    OrganizationalUnits(Vec<(String, String)>),
}

/// DescribeOrganization once, then the tree from its roots (ListRoots,
/// ListOrganizationalUnitsForParent, ListAccountsForParent, every page), each account page
/// handed to `on_page` as it arrives. A caller outside any organization is a standalone account.
async fn walk_organization(
    env: &AwsEnvironment,
    caller_account: &str,
    on_page: &mut dyn FnMut(&[Account]),
) -> Result<Walked> {
    let client = env.organizations();
    let result = env
        .organizations_call(env.limited(client.describe_organization().send()))
        .await;
    let described = observation("organizations:DescribeOrganization", result, |output| {
        let organization = output.organization();
        OrganizationInfo {
            id: organization
                .and_then(|o| o.id())
                .unwrap_or_default()
                .to_owned(),
            arn: organization
                .and_then(|o| o.arn())
                .unwrap_or_default()
                .to_owned(),
            management_account_id: organization
                .and_then(|o| o.master_account_id())
                .unwrap_or_default()
                .to_owned(),
        }
    });
    if let Some(error) = described.error().cloned() {
        if error.kind == ErrorKind::OrganizationsNotInUse {
            let standalone = Account {
                id: caller_account.to_owned(),
                name: caller_account.to_owned(),
                email: None,
                status: "ACTIVE".into(),
                ou_path: None,
            };
            on_page(std::slice::from_ref(&standalone));
            let evidence = Observation {
                operation: described.operation,
                request_id: described.request_id,
                observed_at: described.observed_at,
                outcome: Outcome::Error(error),
            };
            return Ok(Walked {
                listing: OrganizationListing::Standalone { evidence },
                accounts: vec![standalone],
                units: Vec::new(),
            });
        }
        return Err(Error::Scope(format!(
            "cannot describe the organization (organizations:DescribeOrganization): {error}"
        )));
    }
    let organization_id = described
        .response()
        .map(|o| o.id.clone())
        .unwrap_or_default();
    let mut pages = Vec::new();
    let roots = list_roots(env, &client, &mut pages).await?;
    let mut units = Vec::new();
    let mut pending = std::collections::VecDeque::new();
    for root in &roots {
        let path = format!("{organization_id}/{}/", root.id);
        queue_parent(&mut pending, &root.id, &path);
        units.push((root.id.clone(), path));
    }
    let mut accounts = Vec::new();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    loop {
        while in_flight.len() < WALK_CONCURRENCY {
            let Some(request) = pending.pop_front() else {
                break;
            };
            in_flight.push(fetch_page(env, &client, request));
        }
        let Some((request, observed, items, next_token)) = in_flight.next().await else {
            break;
        };
        if let Some(error) = observed.error() {
            return Err(Error::Scope(format!(
                "cannot list the organization ({} of {}): {error}",
                observed.operation, request.parent_id
            )));
        }
        pages.push(observed);
        match items {
            PageItems::Accounts(page) => {
                on_page(&page);
                accounts.extend(page);
            }
            PageItems::OrganizationalUnits(children) => {
                for (id, path) in children {
                    queue_parent(&mut pending, &id, &path);
                    units.push((id, path));
                }
            }
        }
        if let Some(token) = next_token {
            // The parent's next page goes first: its accounts are the ones already waited for.
            pending.push_front(PageRequest {
                next_token: Some(token),
                ..request
            });
        }
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    let listing = OrganizationListing::Organization {
        management_role_arn: env.management_role_arn().map(str::to_owned),
        organization: Some(described),
        pages,
        roots: Some(roots),
    };
    Ok(Walked {
        listing,
        accounts,
        units,
    })
}

/// Queues the first pages of a parent's accounts and OUs.
fn queue_parent(
    pending: &mut std::collections::VecDeque<PageRequest>,
    parent_id: &str,
    parent_path: &str,
) {
    for children in [Children::Accounts, Children::OrganizationalUnits] {
        pending.push_back(PageRequest {
            parent_id: parent_id.to_owned(),
            parent_path: parent_path.to_owned(),
            children,
            next_token: None,
        });
    }
}

/// ListRoots, every page: the roots, with the policy types enabled at each (whether RCPs can
/// apply is known without another call).
async fn list_roots(
    env: &AwsEnvironment,
    client: &aws_sdk_organizations::Client,
    pages: &mut Vec<Observation<u32>>,
) -> Result<Vec<OrganizationRoot>> {
    let mut roots = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let result = env
            .organizations_call(
                env.limited(
                    client
                        .list_roots()
                        .set_next_token(next_token.clone())
                        .send(),
                ),
            )
            .await;
        let mut token = None;
        let observed = observation("organizations:ListRoots", result, |output| {
            token = output.next_token().map(str::to_owned);
            let page: Vec<OrganizationRoot> = output
                .roots()
                .iter()
                .filter_map(|root| {
                    Some(OrganizationRoot {
                        id: root.id()?.to_owned(),
                        enabled_policy_types: root
                            .policy_types()
                            .iter()
                            .filter(|summary| summary.status() == Some(&PolicyTypeStatus::Enabled))
                            .filter_map(|summary| summary.r#type())
                            .map(|kind| kind.as_str().to_owned())
                            .collect(),
                    })
                })
                .collect();
            let count = page.len() as u32;
            roots.extend(page);
            count
        });
        if let Some(error) = observed.error() {
            return Err(Error::Scope(format!(
                "cannot list the organization's roots (organizations:ListRoots): {error}"
            )));
        }
        pages.push(observed);
        match token.filter(|t| !t.is_empty()) {
            Some(token) => next_token = Some(token),
            None => return Ok(roots),
        }
    }
}

/// Fetches one page of a parent's children.
async fn fetch_page(
    env: &AwsEnvironment,
    client: &aws_sdk_organizations::Client,
    request: PageRequest,
) -> (PageRequest, Observation<u32>, PageItems, Option<String>) {
    let mut next_token = None;
    let (observed, items) = match request.children {
        Children::Accounts => {
            let result = env
                .organizations_call(
                    env.limited(
                        client
                            .list_accounts_for_parent()
                            .parent_id(&request.parent_id)
                            .set_next_token(request.next_token.clone())
                            .send(),
                    ),
                )
                .await;
            let mut page = Vec::new();
            let observed = observation("organizations:ListAccountsForParent", result, |output| {
                next_token = output.next_token().map(str::to_owned);
                page = output
                    .accounts()
                    .iter()
                    .map(|account| to_account(account, &request.parent_path))
                    .collect();
                page.len() as u32
            });
            (observed, PageItems::Accounts(page))
        }
        Children::OrganizationalUnits => {
            let result = env
                .organizations_call(
                    env.limited(
                        client
                            .list_organizational_units_for_parent()
                            .parent_id(&request.parent_id)
                            .set_next_token(request.next_token.clone())
                            .send(),
                    ),
                )
                .await;
            let mut children = Vec::new();
            let observed = observation(
                "organizations:ListOrganizationalUnitsForParent",
                result,
                |output| {
                    next_token = output.next_token().map(str::to_owned);
                    children = output
                        .organizational_units()
                        .iter()
                        .filter_map(|unit| unit.id())
                        .map(|id| (id.to_owned(), format!("{}{id}/", request.parent_path)))
                        .collect();
                    children.len() as u32
                },
            );
            (observed, PageItems::OrganizationalUnits(children))
        }
    };
    (
        request,
        observed,
        items,
        next_token.filter(|t| !t.is_empty()),
    )
}

fn to_account(account: &OrgAccount, parent_path: &str) -> Account {
    let status = account
        .state()
        .map(|state| state.as_str().to_owned())
        .or_else(|| account.status().map(|status| status.as_str().to_owned()))
        .unwrap_or_else(|| "UNKNOWN".into());
    Account {
        id: account.id().unwrap_or_default().to_owned(),
        name: account.name().unwrap_or_default().to_owned(),
        email: account.email().map(str::to_owned),
        status,
        ou_path: Some(parent_path.to_owned()),
    }
}

/// An OU path with its trailing `/`, as Organizations and `aws:SourceOrgPaths` spell it.
fn normalised_path(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

/// Whether an account sits under `unit` (an OU or root id, or a path), nested OUs included.
fn under_unit(account: &Account, unit: &str) -> bool {
    let Some(path) = account.ou_path.as_deref() else {
        return false;
    };
    if unit.contains('/') {
        path.starts_with(&normalised_path(unit))
    } else {
        path.split('/').any(|part| part == unit)
    }
}

/// Where the configuration puts an account of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Judged by this run.
    InScope,
    /// Left out by `scope.exclude_accounts` or `scope.exclude_organizational_units`: listed in
    /// the run metadata as excluded.
    Excluded,
    /// Outside the account or OU filter (`scope.accounts`, `--accounts`,
    /// `scope.organizational_units`): not judged, but a repository it owns is read with its role.
    Filtered,
}

fn placement(account: &Account, config: &Config) -> Placement {
    let scope = &config.scope;
    let under_any = |units: &[String]| units.iter().any(|unit| under_unit(account, unit));
    if scope.exclude_accounts.contains(&account.id)
        || under_any(&scope.exclude_organizational_units)
    {
        Placement::Excluded
    } else if (!scope.accounts.is_empty() && !scope.accounts.contains(&account.id))
        || (!scope.organizational_units.is_empty() && !under_any(&scope.organizational_units))
    {
        Placement::Filtered
    } else {
        Placement::InScope
    }
}

/// Whether the configuration keeps an account in scope.
fn in_scope(account: &Account, config: &Config) -> bool {
    placement(account, config) == Placement::InScope
}

/// `--shard`: a shard given as K/N, or `auto`, read from the job engine running the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    /// `K/N`.
    Fixed(Shard),
    /// `auto`: a Kubernetes Indexed Job or an AWS Batch array job (see [`resolve_shard`]).
    Auto,
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        if value == "auto" {
            return Ok(ShardArg::Auto);
        }
        value
            .parse()
            .map(ShardArg::Fixed)
            .map_err(|e: String| format!("{e}, or auto"))
    }
}

/// The shard a scan covers. `auto` reads a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`
/// (0-based; the number of completions is not in the environment, so it comes from
/// `--shard-count`), or an AWS Batch array job's `AWS_BATCH_JOB_ARRAY_INDEX` (0-based) and
/// `AWS_BATCH_JOB_ARRAY_SIZE`. `env` reads an environment variable. The error is a usage error.
pub fn resolve_shard(
    arg: Option<ShardArg>,
    count: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> std::result::Result<Option<Shard>, String> {
    let shard = match arg {
        None => return Ok(None),
        Some(ShardArg::Fixed(shard)) => {
            if count.is_some() {
                return Err("--shard-count goes with --shard auto, not --shard K/N".into());
            }
            return Ok(Some(shard));
        }
        Some(ShardArg::Auto) => {
            let number = |name: &str, value: String| {
                value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("--shard auto: {name}={value:?} is not a number"))
            };
            if let Some(index) = env("AWS_BATCH_JOB_ARRAY_INDEX") {
                let index = number("AWS_BATCH_JOB_ARRAY_INDEX", index)?;
                let size = match (env("AWS_BATCH_JOB_ARRAY_SIZE"), count) {
                    (Some(size), Some(count)) => {
                        let size = number("AWS_BATCH_JOB_ARRAY_SIZE", size)?;
                        if size != count {
                            return Err(format!(
                                "--shard auto: AWS_BATCH_JOB_ARRAY_SIZE={size} but --shard-count \
                                 {count}; the array job's size is the shard count"
                            ));
                        }
                        size
                    }
                    (Some(size), None) => number("AWS_BATCH_JOB_ARRAY_SIZE", size)?,
                    (None, Some(count)) => count,
                    (None, None) => {
                        return Err("--shard auto: AWS_BATCH_JOB_ARRAY_INDEX is set but not \
                                    AWS_BATCH_JOB_ARRAY_SIZE; pass --shard-count N"
                            .into());
                    }
                };
                (index, size, "AWS_BATCH_JOB_ARRAY_INDEX")
            } else if let Some(index) = env("JOB_COMPLETION_INDEX") {
                let index = number("JOB_COMPLETION_INDEX", index)?;
                let count = count.ok_or(
                    "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job); pass \
                     the Job's completions as --shard-count N",
                )?;
                (index, count, "JOB_COMPLETION_INDEX")
            } else {
                return Err(
                    "--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed \
                            Job) nor AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job) is set; \
                            use --shard K/N outside those engines"
                        .into(),
                );
            }
        }
    };
    let (index, count, source) = shard;
    if count == 0 || index >= count {
        return Err(format!(
            "--shard auto: {source}={index} is not an index below the shard count {count}"
        ));
    }
    Ok(Some(Shard {
        index: index + 1,
        count,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            name: id.into(),
            email: None,
            status: "ACTIVE".into(),
            ou_path: None,
        }
    }

    fn account_under(id: &str, path: &str) -> Account {
        Account {
            ou_path: Some(path.into()),
            ..account(id)
        }
    }

    #[test]
    fn units_match_by_id_or_path_prefix_nested_included() {
        let nested = account_under("111111111111", "o-abc/r-ab12/ou-ab12-1/ou-ab12-2/");
        for unit in [
            "r-ab12",
            "ou-ab12-1",
            "ou-ab12-2",
            "o-abc/r-ab12/",
            "o-abc/r-ab12/ou-ab12-1",
            "o-abc/r-ab12/ou-ab12-1/ou-ab12-2/",
        ] {
            assert!(under_unit(&nested, unit), "{unit}");
        }
        for unit in [
            "ou-ab12-3",
            "ou-ab12",
            "o-abc/r-ab12/ou-ab12-2/",
            "o-abc/r-ab12/ou-ab12-10/",
        ] {
            assert!(!under_unit(&nested, unit), "{unit}");
        }
        assert!(!under_unit(&account("222222222222"), "r-ab12"));
    }

    #[test]
    fn exclusion_wins_over_inclusion_and_filters_are_not_exclusions() {
        let mut config = Config::default();
        config.scope.organizational_units = vec!["ou-ab12-1".into()];
        config.scope.exclude_organizational_units =
            vec!["o-abc/r-ab12/ou-ab12-1/ou-ab12-2/".into()];
        let placed = |path: &str| placement(&account_under("111111111111", path), &config);
        assert_eq!(placed("o-abc/r-ab12/ou-ab12-1/"), Placement::InScope);
        assert_eq!(
            placed("o-abc/r-ab12/ou-ab12-1/ou-ab12-2/"),
            Placement::Excluded
        );
        assert_eq!(
            placed("o-abc/r-ab12/ou-ab12-1/ou-ab12-2/ou-ab12-3/"),
            Placement::Excluded
        );
        assert_eq!(placed("o-abc/r-ab12/"), Placement::Filtered);
    }

    #[test]
    fn shards_split_every_account_exactly_once() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().expect("shard"))
            .collect();
        for n in 0..300u64 {
            let id = format!("{:012}", 100_000_000_000 + n);
            assert_eq!(shards.iter().filter(|s| s.contains(&id)).count(), 1, "{id}");
        }
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| {
                (0..300u64)
                    .filter(|n| s.contains(&format!("{:012}", 100_000_000_000 + n)))
                    .count()
            })
            .collect();
        assert!(
            sizes.iter().all(|&size| size > 60),
            "roughly even: {sizes:?}"
        );
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn include_then_exclude() {
        let mut config = Config::default();
        config.scope.accounts = vec!["111111111111".into(), "222222222222".into()];
        config.scope.exclude_accounts = vec!["222222222222".into()];
        let placed: Vec<Placement> = ["111111111111", "222222222222", "333333333333"]
            .iter()
            .map(|id| placement(&account(id), &config))
            .collect();
        assert_eq!(
            placed,
            vec![Placement::InScope, Placement::Excluded, Placement::Filtered]
        );
    }
}

#[cfg(test)]
mod shard_engine_tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_kubernetes_indexed_job_gives_its_index_and_the_count_passed() {
        let shard = resolve_shard(
            Some(ShardArg::Auto),
            Some(4),
            env(&[("JOB_COMPLETION_INDEX", "3")]),
        );
        assert_eq!(shard, Ok(Some(Shard { index: 4, count: 4 })));
        let without_count = resolve_shard(
            Some(ShardArg::Auto),
            None,
            env(&[("JOB_COMPLETION_INDEX", "0")]),
        );
        assert!(without_count.is_err_and(|e| e.contains("--shard-count")));
    }

    #[test]
    fn an_aws_batch_array_job_gives_its_index_and_size() {
        let shard = resolve_shard(
            Some(ShardArg::Auto),
            None,
            env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
            ]),
        );
        assert_eq!(shard, Ok(Some(Shard { index: 1, count: 3 })));
        let outside = resolve_shard(
            Some(ShardArg::Auto),
            None,
            env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "3"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
            ]),
        );
        assert!(outside.is_err());
        let disagreeing = resolve_shard(
            Some(ShardArg::Auto),
            Some(4),
            env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
            ]),
        );
        assert!(disagreeing.is_err_and(|e| e.contains("--shard-count 4")));
    }

    #[test]
    fn no_engine_or_a_bad_value_is_a_clear_error() {
        let none = resolve_shard(Some(ShardArg::Auto), Some(2), env(&[]));
        assert!(none.is_err_and(
            |e| e.contains("JOB_COMPLETION_INDEX") && e.contains("AWS_BATCH_JOB_ARRAY_INDEX")
        ));
        let bad = resolve_shard(
            Some(ShardArg::Auto),
            Some(2),
            env(&[("JOB_COMPLETION_INDEX", "x")]),
        );
        assert!(bad.is_err_and(|e| e.contains("not a number")));
        let fixed = resolve_shard(Some("2/3".parse().expect("K/N")), None, env(&[]));
        assert_eq!(fixed, Ok(Some(Shard { index: 2, count: 3 })));
        assert!(
            resolve_shard(
                Some(ShardArg::Fixed(Shard { index: 1, count: 2 })),
                Some(2),
                env(&[])
            )
            .is_err()
        );
        assert_eq!("auto".parse::<ShardArg>(), Ok(ShardArg::Auto));
    }
}
