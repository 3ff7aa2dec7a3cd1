//! Which accounts and Regions a run covers: the organization's listing, filtered by configuration.

use aws_sdk_organizations::types::Account as OrgAccount;
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
pub async fn plan(env: &AwsEnvironment, config: &Config) -> Result<ScanPlan> {
    let caller = caller_identity(env, env.caller()).await;
    let caller_identity = match &caller.outcome {
        Outcome::Response(identity) => identity.clone(),
        Outcome::Error(error) => {
            return Err(Error::Scope(format!(
                "cannot establish the caller's identity (sts:GetCallerIdentity): {error}"
            )));
        }
    };
    let (listing, listed) = list_accounts(env, &caller_identity).await?;
    let (accounts, excluded) = filter(listed, config);
    for wanted in &config.scope.accounts {
        if !accounts.iter().chain(&excluded).any(|a| &a.id == wanted) {
            warn!(account = %wanted, "scope.accounts names an account the organization does not list");
        }
    }
    Ok(ScanPlan {
        caller,
        listing,
        accounts,
        excluded,
        regions: config.regions(),
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

async fn list_accounts(
    env: &AwsEnvironment,
    caller: &CallerIdentity,
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
                    id: caller.account.clone(),
                    name: caller.account.clone(),
                    email: None,
                    status: "ACTIVE".into(),
                };
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
        accounts.append(&mut page_accounts);
        match token.filter(|t| !t.is_empty()) {
            Some(token) => next_token = Some(token),
            None => break,
        }
    }
    let listing = OrganizationListing::Organization {
        management_role_arn: env.management_role_arn().map(str::to_owned),
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
    }
}

/// Splits the listing into the accounts in scope and those the configuration excludes.
fn filter(listed: Vec<Account>, config: &Config) -> (Vec<Account>, Vec<Account>) {
    let scope = &config.scope;
    listed.into_iter().partition(|account| {
        let included = scope.accounts.is_empty() || scope.accounts.contains(&account.id);
        included && !scope.exclude_accounts.contains(&account.id)
    })
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
        }
    }

    #[test]
    fn include_then_exclude() {
        let mut config = Config::default();
        let listed = vec![
            account("111111111111"),
            account("222222222222"),
            account("333333333333"),
        ];
        config.scope.accounts = vec!["111111111111".into(), "222222222222".into()];
        config.scope.exclude_accounts = vec!["222222222222".into()];
        let (inside, outside) = filter(listed, &config);
        assert_eq!(inside, vec![account("111111111111")]);
        assert_eq!(
            outside,
            vec![account("222222222222"), account("333333333333")]
        );
    }
}
