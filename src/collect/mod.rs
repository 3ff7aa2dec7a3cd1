//! Asynchronous collection: every account in scope, every Region, then every repository bucket
//! and key, within the concurrency limits.
//!
//! Collection never decides a verdict: it records what AWS answered.

mod macie;
#[cfg(test)]
pub(crate) mod mocked;
mod progress;
pub mod repository;
mod resource_controls;
pub mod run;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;

use aws_config::SdkConfig;
use futures::future::join_all;
use futures::{Stream, StreamExt};
use tokio::sync::Semaphore;

pub use progress::Progress;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::config::Config;
use crate::error::Result;
use crate::evidence::{
    Account, AccountAccess, AccountEvidence, AccountRegionEvidence, AccountSink, BucketEvidence,
    ErrorKind, KeyEvidence, Observation, ResourceControlEvidence, S3Destination,
};
use crate::interrupt::{Cancellation, GRACE_PERIOD};
use crate::scope::{ScanPlan, caller_identity};

/// What collection keeps of an account once its evidence is handed to the [`AccountSink`]: what
/// reading the repositories needs.
#[derive(Debug, Clone)]
pub struct AccountCollection {
    /// The account, its access and its buckets (ListBuckets tells who owns a repository).
    pub account: AccountEvidence,
    /// The export destinations its Regions name, each once (the repository reads keep the
    /// complete ones: a bucket and a key).
    destinations: Vec<S3Destination>,
    /// The account's SDK configuration, when it could be reached (repositories are read with it).
    sdk_config: Option<SdkConfig>,
}

impl AccountCollection {
    fn new(
        account: AccountEvidence,
        regions: &[AccountRegionEvidence],
        sdk_config: Option<SdkConfig>,
    ) -> AccountCollection {
        let mut destinations: Vec<S3Destination> = Vec::new();
        for destination in regions
            .iter()
            .filter_map(|r| r.export_configuration.as_ref())
            .filter_map(Observation::response)
            .flatten()
        {
            if !destinations.contains(destination) {
                destinations.push(destination.clone());
            }
        }
        AccountCollection {
            account,
            destinations,
            sdk_config,
        }
    }
}

/// Everything a scan collected besides what it handed to the [`AccountSink`].
#[derive(Debug, Clone)]
pub struct Collection {
    /// Every account in scope, in the order collection finished them.
    pub accounts: Vec<AccountCollection>,
    /// Every repository bucket, once.
    pub buckets: Vec<BucketEvidence>,
    /// Every repository key, once.
    pub keys: Vec<KeyEvidence>,
    /// The organization's RCPs over the repositories' owners, when RCPs are enabled.
    pub resource_controls: Option<ResourceControlEvidence>,
}

/// Collects every account of the plan, `config.concurrency.accounts` at a time, handing each
/// account's evidence to `sink` as soon as it is complete, then reads the repositories their
/// export configurations name and the organization's RCPs over their owners.
///
/// `listed` yields the accounts to scan (in `regions`) as the organization is listed, and
/// `listing` completes with the whole plan once the last page is in: scanning starts with the
/// first page. Once `cancellation` is raised, or the sink has failed, no account is started;
/// accounts in flight have [`GRACE_PERIOD`] to finish, whatever is not finished is recorded as
/// not reached, and no repository is read.
#[allow(clippy::too_many_arguments)]
pub async fn collect(
    env: &AwsEnvironment,
    config: &Config,
    caller_account: &str,
    regions: &[String],
    listing: impl Future<Output = Result<ScanPlan>>,
    listed: impl Stream<Item = Account>,
    progress: &Progress,
    cancellation: &Cancellation,
    sink: &dyn AccountSink,
) -> Result<(ScanPlan, Collection)> {
    let finished: Mutex<Vec<AccountCollection>> = Mutex::new(Vec::new());
    let region_slots = Semaphore::new(config.concurrency.requests.saturating_mul(2));
    let region_slots = &region_slots;
    let accounts = listed
        .inspect(|_| progress.account_listed(regions.len()))
        .take_while(|_| std::future::ready(!cancellation.is_cancelled() && !sink.failed()))
        .map(|account| async move {
            collect_account(
                env,
                regions,
                caller_account,
                &account,
                progress,
                region_slots,
            )
            .await
        })
        .buffer_unordered(config.concurrency.accounts)
        .for_each(|(account, records, sdk_config)| {
            sink.account(&account, &records);
            if let Ok(mut finished) = finished.lock() {
                finished.push(AccountCollection::new(account, &records, sdk_config));
            }
            std::future::ready(())
        });
    let scanning = async {
        tokio::select! {
            () = accounts => {}
            () = cancellation.cancelled_for(GRACE_PERIOD) => {}
        }
    };
    let (plan, ()) = tokio::join!(listing, scanning);
    let plan = plan?;
    let mut accounts = finished.into_inner().unwrap_or_default();
    let reached: HashSet<String> = accounts
        .iter()
        .map(|c| c.account.account.id.clone())
        .collect();
    for account in plan.accounts.iter().filter(|a| !reached.contains(&a.id)) {
        let account = not_reached(account);
        sink.account(&account, &[]);
        accounts.push(AccountCollection::new(account, &[], None));
    }
    // Interrupted, or the evidence can no longer be written: nothing more is read.
    let stopped = cancellation.is_cancelled() || sink.failed();
    let (buckets, keys) = if stopped {
        (Vec::new(), Vec::new())
    } else {
        repository::collect_repositories(
            env,
            &accounts,
            &plan.other_members,
            &plan.excluded,
            plan.caller_account(),
            config.concurrency.accounts,
        )
        .await
    };
    let members: Vec<&Account> = plan
        .accounts
        .iter()
        .chain(&plan.excluded)
        .chain(&plan.other_members)
        .collect();
    let resource_controls = if stopped {
        None
    } else {
        resource_controls::collect_resource_controls(env, &plan.listing, &members, &buckets, &keys)
            .await
    };
    Ok((
        plan,
        Collection {
            accounts,
            buckets,
            keys,
            resource_controls,
        },
    ))
}

/// An account the scan did not get to (not active, or interrupted): no access evidence.
fn not_reached(account: &Account) -> AccountEvidence {
    AccountEvidence {
        account: account.clone(),
        access: None,
        buckets: None,
    }
}

/// An account's evidence, its Regions' and its SDK configuration when it was reached.
type CollectedAccount = (
    AccountEvidence,
    Vec<AccountRegionEvidence>,
    Option<SdkConfig>,
);

/// `region_slots` bounds the Regions being collected at once across all accounts: an AWS SDK
/// call's future is tens of kilobytes, and accounts × Regions of them waiting for a request
/// permit would hold memory for nothing (twice `concurrency.requests` keeps every permit busy).
async fn collect_account(
    env: &AwsEnvironment,
    regions: &[String],
    caller_account: &str,
    account: &Account,
    progress: &Progress,
    region_slots: &Semaphore,
) -> CollectedAccount {
    if !account.is_active() {
        progress.account_done(regions.len(), false);
        return (not_reached(account), Vec::new(), None);
    }
    let credentials = env.credentials_for(&account.id, caller_account);
    let sdk_config = env.account_config(&credentials).await;
    // The first call assumes the role; everything below reuses the cached credentials.
    let identity = caller_identity(env, &sdk_config).await;
    let reached = identity.error().is_none();
    let access = AccountAccess {
        role_arn: credentials.role_arn().map(str::to_owned),
        identity,
    };
    if !reached {
        progress.account_done(regions.len(), true);
        let account = AccountEvidence {
            account: account.clone(),
            access: Some(access),
            buckets: None,
        };
        return (account, Vec::new(), None);
    }
    let (buckets, regions) = tokio::join!(
        list_buckets(env, &sdk_config, &account.id),
        join_all(regions.iter().map(|region| {
            let sdk_config = &sdk_config;
            async move {
                // The semaphore is never closed, so a slot always comes.
                let _slot = region_slots.acquire().await.ok();
                // Boxed: the waiting future stays small, the large one exists while it runs.
                Box::pin(async {
                    let client = env.macie(sdk_config, &account.id, region);
                    macie::collect_region(env, client, &account.id, region).await
                })
                .await
            }
        }))
    );
    let errors = regions.iter().any(|r| {
        r.macie_session.error().is_some_and(|e| {
            !matches!(
                e.kind,
                ErrorKind::MacieNotEnabled | ErrorKind::RegionDisabled
            )
        })
    });
    progress.account_done(regions.len(), errors);
    let account = AccountEvidence {
        account: account.clone(),
        access: Some(access),
        buckets: Some(buckets),
    };
    (account, regions, Some(sdk_config))
}

/// ListBuckets, every page: the buckets the account owns, whatever their Region.
async fn list_buckets(
    env: &AwsEnvironment,
    sdk_config: &SdkConfig,
    account_id: &str,
) -> Observation<Vec<String>> {
    let s3 = env.s3(sdk_config, account_id, env.home_region());
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let result = env
            .limited(
                s3.list_buckets()
                    .set_continuation_token(token.clone())
                    .send(),
            )
            .await;
        let mut next = None;
        let page = observation("s3:ListBuckets", result, |output| {
            next = output.continuation_token().map(str::to_owned);
            output
                .buckets()
                .iter()
                .filter_map(|bucket| bucket.name().map(str::to_owned))
                .collect::<Vec<_>>()
        });
        match page.response() {
            Some(page_names) => names.extend(page_names.iter().cloned()),
            None => return page,
        }
        match next.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return page.map_response(|_| names),
        }
    }
}
