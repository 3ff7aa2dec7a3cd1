//! Asynchronous collection: every account in scope, every Region, within the concurrency limits.
//!
//! Collection never decides a verdict: it records what AWS answered.

mod macie;
mod progress;

use futures::StreamExt;
use futures::future::join_all;

pub use progress::Progress;

use crate::aws::AwsEnvironment;
use crate::config::Config;
use crate::evidence::{AccountAccess, AccountEvidence, AccountRegionEvidence, ErrorKind};
use crate::scope::{ScanPlan, caller_identity};

/// The evidence of one account: how it was reached and what each Region said.
#[derive(Debug, Clone)]
pub struct AccountCollection {
    /// The account and its access.
    pub account: AccountEvidence,
    /// One record per Region examined.
    pub regions: Vec<AccountRegionEvidence>,
}

/// Collects every account of the plan, `config.concurrency.accounts` at a time, in listing order.
pub async fn collect(
    env: &AwsEnvironment,
    plan: &ScanPlan,
    config: &Config,
    progress: &Progress,
) -> Vec<AccountCollection> {
    let mut collected: Vec<(usize, AccountCollection)> =
        futures::stream::iter(plan.accounts.iter().enumerate())
            .map(|(index, account)| async move {
                let collection = collect_account(env, plan, account, progress).await;
                (index, collection)
            })
            .buffer_unordered(config.concurrency.accounts)
            .collect()
            .await;
    collected.sort_by_key(|(index, _)| *index);
    collected
        .into_iter()
        .map(|(_, collection)| collection)
        .collect()
}

async fn collect_account(
    env: &AwsEnvironment,
    plan: &ScanPlan,
    account: &crate::evidence::Account,
    progress: &Progress,
) -> AccountCollection {
    if !account.is_active() {
        progress.account_done(plan.regions.len(), false);
        return AccountCollection {
            account: AccountEvidence {
                account: account.clone(),
                access: None,
            },
            regions: Vec::new(),
        };
    }
    let credentials = env.credentials_for(&account.id, plan.caller_account());
    let sdk_config = env.account_config(&credentials).await;
    // The first call assumes the role; the Regions below reuse the cached credentials.
    let identity = caller_identity(env, &sdk_config).await;
    let reached = identity.error().is_none();
    let access = AccountAccess {
        role_arn: credentials.role_arn().map(str::to_owned),
        identity,
    };
    let regions = if reached {
        join_all(plan.regions.iter().map(|region| {
            let client = env.macie(&sdk_config, &account.id, region);
            macie::collect_region(env, client, &account.id, region)
        }))
        .await
    } else {
        Vec::new()
    };
    let errors = !reached
        || regions.iter().any(|r| {
            r.macie_session.error().is_some_and(|e| {
                !matches!(
                    e.kind,
                    ErrorKind::MacieNotEnabled | ErrorKind::RegionDisabled
                )
            })
        });
    progress.account_done(plan.regions.len(), errors);
    AccountCollection {
        account: AccountEvidence {
            account: account.clone(),
            access: Some(access),
        },
        regions,
    }
}
