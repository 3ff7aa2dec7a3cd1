//! The scans remediation runs: before planning, over the configured scope, and after applying,
//! over the touched account-Regions. The scan's own collection does the work; this only puts
//! its result in the evidence model, as `scan` does, without writing a run.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::aws::AwsEnvironment;
use crate::collect::{self, Progress};
use crate::config::{Config, LoadedConfig};
use crate::evidence::{EVIDENCE_SCHEMA_VERSION, RunEnd, RunEvidence, RunHeader};
use crate::interrupt::Cancellation;
use crate::scope::ScanPlan;

/// Collects the evidence of `scope` and assembles it as a run.
#[allow(clippy::too_many_arguments)]
pub async fn collect_run(
    env: &AwsEnvironment,
    loaded: &LoadedConfig,
    config: &Config,
    scope: &ScanPlan,
    run_id: &str,
    command_line: &[String],
    show_progress: bool,
    cancellation: &Cancellation,
) -> RunEvidence {
    let started_at: DateTime<Utc> = Utc::now();
    let progress = Progress::new(scope.accounts.len(), scope.regions.len(), show_progress);
    let collected = collect::collect(env, scope, config, &progress, cancellation).await;
    progress.finish();
    let mut accounts = Vec::with_capacity(collected.accounts.len());
    let mut account_regions = HashMap::new();
    for collection in collected.accounts {
        for region in collection.regions {
            account_regions.insert((region.account_id.clone(), region.region.clone()), region);
        }
        accounts.push(collection.account);
    }
    accounts.sort_by(|a, b| a.account.id.cmp(&b.account.id));
    RunEvidence {
        header: RunHeader {
            schema_version: EVIDENCE_SCHEMA_VERSION,
            run_id: run_id.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at,
            config_sha256: loaded.sha256.clone(),
            regions: scope.regions.clone(),
            caller: scope.caller.clone(),
            organization: scope.listing.clone(),
            excluded_accounts: scope.excluded.clone(),
            rules: config.rules.clone(),
            command_line: command_line.to_vec(),
            config_path: loaded.path.as_ref().map(|p| p.display().to_string()),
            shard: None,
        },
        accounts,
        account_regions,
        buckets: collected
            .buckets
            .into_iter()
            .map(|b| (b.name.clone(), b))
            .collect(),
        keys: collected
            .keys
            .into_iter()
            .map(|k| (k.arn.clone(), k))
            .collect(),
        end: Some(RunEnd {
            ended_at: Utc::now(),
            interrupted: cancellation.is_cancelled(),
        }),
    }
}

/// `scope`, with the `owners` of a central repository reachable to read it even when the
/// configuration leaves them out of the scan (as another shard's accounts are): not scanned,
/// only read from.
pub fn with_owners(scope: &ScanPlan, owners: &[String]) -> ScanPlan {
    let mut scope = scope.clone();
    for account in &scope.excluded {
        if owners.contains(&account.id) && !scope.other_shards.contains(account) {
            scope.other_shards.push(account.clone());
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
    let others: Vec<_> = scope
        .accounts
        .iter()
        .chain(&scope.other_shards)
        .chain(scope.excluded.iter().filter(|a| owners.contains(&a.id)))
        .filter(|a| !accounts.contains(a))
        .cloned()
        .collect();
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
        other_shards: others,
    }
}
