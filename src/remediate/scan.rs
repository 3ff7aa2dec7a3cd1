//! The scans remediation runs: before planning, over the configured scope, and after applying,
//! over the touched account-Regions. The scan's own collection does the work; this only puts
//! its result in the evidence model, as `scan` does, in memory, without writing a run.

use chrono::Utc;

use crate::aws::AwsEnvironment;
use crate::config::{Config, LoadedConfig};
use crate::error::Result;
use crate::evidence::{Account, Evidence, RunScope};
use crate::interrupt::Cancellation;
use crate::scan::RunIdentity;
use crate::scope::ScanPlan;

/// Collects the evidence of `scope` and assembles it as a run, as `scan` does; `run_scope` says
/// what it covers of the configured scope.
#[allow(clippy::too_many_arguments)]
pub async fn collect_run(
    env: &AwsEnvironment,
    loaded: &LoadedConfig,
    config: &Config,
    scope: &ScanPlan,
    run_scope: &RunScope,
    run_id: &str,
    command_line: &[String],
    show_progress: bool,
    cancellation: &Cancellation,
) -> Result<Evidence> {
    let identity = RunIdentity {
        run_id,
        started_at: Utc::now(),
        loaded,
        command_line,
        shard: None,
        scope: run_scope,
    };
    let (_, evidence) = crate::scan::collect_run(
        env,
        config,
        crate::scan::Population::Planned(scope),
        &identity,
        show_progress,
        cancellation,
        crate::scan::EvidenceOutput::Memory,
    )
    .await?;
    Ok(evidence)
}

/// `scope`, with the `owners` of a central repository reachable to read it even when the
/// configuration excludes them (accounts outside the account filter already are, as another
/// shard's): not scanned, only read from. Remediation names its central repository in its own
/// settings, so reading it there is asked for, unlike a scan's excluded accounts.
pub fn with_owners(scope: &ScanPlan, owners: &[String]) -> ScanPlan {
    let mut scope = scope.clone();
    for account in &scope.excluded {
        if owners.contains(&account.id) && !scope.other_members.contains(account) {
            scope.other_members.push(account.clone());
        }
    }
    scope
}

/// The scope of the re-scan: the touched accounts and Regions; every other account of the
/// original scope, and the `owners` of a central repository even when the configuration leaves
/// them out, stay reachable to read a repository they own (as another shard's would).
pub fn rescan_scope(scope: &ScanPlan, touched: &[(String, String)], owners: &[String]) -> ScanPlan {
    let accounts: Vec<_> = scope
        .accounts
        .iter()
        .filter(|a| touched.iter().any(|(id, _)| *id == a.id))
        .cloned()
        .collect();
    let mut others: Vec<Account> = Vec::new();
    // `scope` may already hold the excluded owners among its other members (`with_owners`).
    for account in scope
        .accounts
        .iter()
        .chain(&scope.other_members)
        .chain(scope.excluded.iter().filter(|a| owners.contains(&a.id)))
    {
        if !accounts.contains(account) && !others.contains(account) {
            others.push(account.clone());
        }
    }
    let regions = scope
        .regions
        .iter()
        .filter(|r| touched.iter().any(|(_, region)| region == *r))
        .cloned()
        .collect();
    ScanPlan {
        caller: scope.caller.clone(),
        listing: scope.listing.clone(),
        accounts,
        excluded: scope.excluded.clone(),
        regions,
        other_members: others,
    }
}
