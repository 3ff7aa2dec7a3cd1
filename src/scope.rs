//! Which accounts and Regions a run covers: the organization's listing, filtered by configuration.

use std::collections::BTreeSet;

use aws_sdk_organizations::types::{Account as OrgAccount, PolicyTypeStatus};
use futures::StreamExt;
use tracing::warn;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::config::{self, Config, LoadedConfig};
use crate::error::{Error, Result};
use crate::evidence::{
    Account, CallerIdentity, ErrorKind, Observation, OrganizationInfo, OrganizationListing,
    OrganizationRoot, Outcome, RunScope,
};
use crate::shard::Shard;

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
    let listed = organizations_pages(env, |token| async move {
        let result = client.list_roots().set_next_token(token).send().await;
        let mut next = None;
        let page = observation("organizations:ListRoots", result, |output| {
            next = output.next_token().map(str::to_owned);
            output
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
                .collect::<Vec<_>>()
        });
        (page, next)
    })
    .await;
    for observed in listed {
        if let Some(error) = observed.error() {
            return Err(Error::Scope(format!(
                "cannot list the organization's roots (organizations:ListRoots): {error}"
            )));
        }
        pages.push(observed.map_response(|page| {
            let count = page.len() as u32;
            roots.extend(page);
            count
        }));
    }
    Ok(roots)
}

/// Every page of one Organizations listing, each call under the Organizations rate limit:
/// `page` asks for the page after a token (`None`: the first) and observes it, saying its next
/// token. The listing ends at its last page, or at a failed one, which is then the last
/// observation.
pub(crate) async fn organizations_pages<T, Page>(
    env: &AwsEnvironment,
    mut page: impl FnMut(Option<String>) -> Page,
) -> Vec<Observation<T>>
where
    Page: Future<Output = (Observation<T>, Option<String>)>,
{
    let mut pages = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let (observed, token) = env
            .organizations_call(env.limited(page(next_token.take())))
            .await;
        let failed = observed.error().is_some();
        pages.push(observed);
        match token.filter(|t| !t.is_empty()) {
            Some(token) if !failed => next_token = Some(token),
            _ => return pages,
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

/// What the command line changes of the configuration (`scan`, `remediate`): the file to read,
/// and the output directory, Regions and accounts that override it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigOverrides {
    /// The configuration file (default: ./config.toml when it exists, else built-in defaults).
    pub config: Option<std::path::PathBuf>,
    /// Where runs are written.
    pub output_dir: Option<std::path::PathBuf>,
    /// The Regions to scan, comma-separated.
    pub regions: Option<String>,
    /// The accounts to scan, comma-separated.
    pub accounts: Option<String>,
}

/// Applies the command-line overrides to the configuration; a bad flag is a usage error.
/// Returns the configuration with what the flags narrowed of the configured scope: an account
/// filter other than the configuration's, Regions that leave out some configured ones.
pub fn effective_config(args: &ConfigOverrides) -> Result<(LoadedConfig, RunScope)> {
    let mut loaded = LoadedConfig::load(args.config.as_deref())?;
    let config = &mut loaded.config;
    let mut narrowed = RunScope::default();
    if let Some(dir) = &args.output_dir {
        config.output.directory = dir.clone();
    }
    if let Some(regions) = &args.regions {
        let regions = config::split_list(regions);
        config::validate_regions("--regions", &regions).map_err(Error::Usage)?;
        let configured = config.regions();
        config.scope.regions = regions;
        let effective = config.regions();
        if configured.iter().any(|region| !effective.contains(region)) {
            narrowed.regions = Some(effective);
        }
    }
    if let Some(accounts) = &args.accounts {
        let accounts = config::split_list(accounts);
        if accounts.is_empty() {
            return Err(Error::Usage(
                "--accounts: name at least one account id".into(),
            ));
        }
        config::validate_accounts("--accounts", &accounts).map_err(Error::Usage)?;
        let configured: BTreeSet<&String> = config.scope.accounts.iter().collect();
        if accounts.iter().collect::<BTreeSet<_>>() != configured {
            let mut filter = accounts.clone();
            filter.sort();
            filter.dedup();
            narrowed.accounts = Some(filter);
        }
        config.scope.accounts = accounts;
    }
    config
        .validate()
        .map_err(|message| Error::config(loaded.display_path(), message))?;
    Ok((loaded, narrowed))
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
