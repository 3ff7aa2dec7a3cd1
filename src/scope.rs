//! Which accounts and Regions a run covers: the organization's listing, filtered by configuration.

use aws_sdk_organizations::types::Account as OrgAccount;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::evidence::{
    Account, CallerIdentity, ErrorKind, Observation, OrganizationListing, Outcome,
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

/// Lists the organization and filters it by configuration and shard, handing each account this
/// run scans to `scanned` as soon as its page arrives (so that scanning need not wait for the
/// last page).
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
    let mut on_page = |page: &[Account]| {
        for account in page {
            if in_scope(account, config) && shard.is_none_or(|s| s.contains(&account.id)) {
                scanned(account);
            }
        }
    };
    let (listing, listed) = list_accounts(env, &caller_account, &mut on_page).await?;
    let mut accounts = Vec::new();
    let mut excluded = Vec::new();
    let mut other_members = Vec::new();
    for account in listed {
        match placement(&account, config) {
            Placement::Excluded => excluded.push(account),
            Placement::Filtered => other_members.push(account),
            Placement::InScope => accounts.push(account),
        }
    }
    for wanted in &config.scope.accounts {
        if !accounts.iter().chain(&excluded).any(|a| &a.id == wanted) {
            warn!(account = %wanted, "scope.accounts names an account the organization does not list");
        }
    }
    let accounts = match shard {
        Some(shard) => {
            let (mine, theirs): (Vec<Account>, Vec<Account>) =
                accounts.into_iter().partition(|a| shard.contains(&a.id));
            other_members.extend(theirs);
            mine
        }
        None => accounts,
    };
    Ok(ScanPlan {
        caller,
        listing,
        accounts,
        excluded,
        regions: config.regions(),
        other_members,
    })
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

/// ListAccounts, every page, each page handed to `on_page` as it arrives.
async fn list_accounts(
    env: &AwsEnvironment,
    caller_account: &str,
    on_page: &mut dyn FnMut(&[Account]),
) -> Result<(OrganizationListing, Vec<Account>)> {
    let client = env.organizations();
    let mut pages = Vec::new();
    let mut accounts = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let result = env
            .limited(
                client
                    .list_accounts()
                    .set_next_token(next_token.clone())
                    .send(),
            )
            .await;
        let mut page_accounts = Vec::new();
        let mut token = None;
        let observed = observation("organizations:ListAccounts", result, |output| {
            page_accounts = output.accounts().iter().map(to_account).collect();
            token = output.next_token().map(str::to_owned);
            page_accounts.len() as u32
        });
        if let Some(error) = observed.error().cloned() {
            if error.kind == ErrorKind::OrganizationsNotInUse && pages.is_empty() {
                let standalone = Account {
                    id: caller_account.to_owned(),
                    name: caller_account.to_owned(),
                    email: None,
                    status: "ACTIVE".into(),
                    ou_path: None,
                };
                on_page(std::slice::from_ref(&standalone));
                let evidence = Observation {
                    operation: observed.operation,
                    request_id: observed.request_id,
                    observed_at: observed.observed_at,
                    outcome: Outcome::Error(error),
                };
                return Ok((
                    OrganizationListing::Standalone { evidence },
                    vec![standalone],
                ));
            }
            return Err(Error::Scope(format!(
                "cannot list the organization's accounts (organizations:ListAccounts): {error}"
            )));
        }
        pages.push(observed);
        on_page(&page_accounts);
        accounts.append(&mut page_accounts);
        match token.filter(|t| !t.is_empty()) {
            Some(token) => next_token = Some(token),
            None => break,
        }
    }
    let listing = OrganizationListing::Organization {
        management_role_arn: env.management_role_arn().map(str::to_owned),
        organization: None,
        pages,
    };
    Ok((listing, accounts))
}

fn to_account(account: &OrgAccount) -> Account {
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
        ou_path: None,
    }
}

/// Where the configuration puts an account of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Judged by this run.
    InScope,
    /// Left out by `scope.exclude_accounts`: listed in the run metadata as excluded.
    Excluded,
    /// Outside the account filter (`scope.accounts`, `--accounts`): not judged, but a
    /// repository it owns is read with its role.
    Filtered,
}

fn placement(account: &Account, config: &Config) -> Placement {
    let scope = &config.scope;
    if scope.exclude_accounts.contains(&account.id) {
        Placement::Excluded
    } else if !scope.accounts.is_empty() && !scope.accounts.contains(&account.id) {
        Placement::Filtered
    } else {
        Placement::InScope
    }
}

/// Whether the configuration keeps an account in scope.
fn in_scope(account: &Account, config: &Config) -> bool {
    placement(account, config) == Placement::InScope
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
