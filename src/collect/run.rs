//! A run's evidence put together: the one place collection's results become a run (`scan`, and
//! `remediate`'s scans before and after applying), written to `evidence.jsonl` account by account.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::aws::AwsEnvironment;
use crate::collect::{self, Progress};
use crate::config::{Config, LoadedConfig};
use crate::error::Result;
use crate::evidence::{
    Account, CallerIdentity, EVIDENCE_SCHEMA_VERSION, Evidence, EvidenceWriter, Observation,
    RunEnd, RunHeader, RunScope,
};
use crate::interrupt::Cancellation;
use crate::scope::{self, ScanPlan};
use crate::shard::Shard;

/// What identifies a run besides its evidence.
#[derive(Debug, Clone, Copy)]
pub struct RunIdentity<'a> {
    /// The run's id.
    pub run_id: &'a str,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The configuration it ran with.
    pub loaded: &'a LoadedConfig,
    /// The command line, secrets removed.
    pub command_line: &'a [String],
    /// The shard it covers, if any.
    pub shard: Option<Shard>,
    /// What the command line narrowed of the configured scope.
    pub scope: &'a RunScope,
}

/// Where a run's accounts come from.
#[derive(Debug, Clone)]
pub enum Population<'a> {
    /// A plan established beforehand (remediation's scans).
    Planned(&'a ScanPlan),
    /// The organization's listing, each page scanned as soon as it arrives (a scan).
    Listing {
        /// Who runs the scan.
        caller: Observation<CallerIdentity>,
        /// The shard this run covers, if any.
        shard: Option<Shard>,
    },
}

/// Collects the evidence of a population as a run: the one place a run's evidence is put
/// together (`scan`, and `remediate`'s scans before and after applying), written to
/// `evidence_path` account by account, so it is never held whole in memory. Returns the plan (the
/// listing, once complete) with the evidence.
pub async fn collect_run(
    env: &AwsEnvironment,
    config: &Config,
    population: Population<'_>,
    identity: &RunIdentity<'_>,
    show_progress: bool,
    cancellation: &Cancellation,
    evidence_path: &Path,
) -> Result<(ScanPlan, Evidence)> {
    let (caller, regions) = match &population {
        Population::Planned(plan) => (plan.caller.clone(), plan.regions.clone()),
        Population::Listing { caller, .. } => (caller.clone(), config.regions()),
    };
    let caller_account = caller
        .response()
        .map(|c| c.account.clone())
        .unwrap_or_default();
    let (to_scan, listed) = tokio::sync::mpsc::unbounded_channel::<Account>();
    let listed = futures::stream::unfold(listed, |mut listed| async move {
        listed.recv().await.map(|account| (account, listed))
    });
    // The sender is dropped when the listing is complete, which ends the stream of accounts.
    let listing = async move {
        match population {
            Population::Planned(plan) => {
                for account in &plan.accounts {
                    let _ = to_scan.send(account.clone());
                }
                Ok(plan.clone())
            }
            Population::Listing { caller, shard } => {
                let mut scan = |account: &Account| {
                    let _ = to_scan.send(account.clone());
                };
                scope::plan_listing(env, config, shard, caller, &mut scan).await
            }
        }
    };
    let progress = Progress::new(show_progress);
    let sink = EvidenceWriter::create_before_header(evidence_path)?;
    // The run record, with the listing, is written as soon as the listing is complete; accounts
    // finished before then wait for it in memory.
    let listing = async {
        let plan = listing.await?;
        sink.write_header(&header(config, &plan, identity))?;
        Ok(plan)
    };
    let collected = collect::collect(
        env,
        config,
        &caller_account,
        &regions,
        listing,
        listed,
        &progress,
        cancellation,
        &sink,
    )
    .await;
    progress.finish();
    let (plan, collected) = collected?;
    let path = sink.finish(
        &collected.buckets,
        &collected.keys,
        collected.resource_controls.as_ref(),
        Some(&run_end(cancellation)),
    )?;
    Ok((plan, Evidence::open(&path)?))
}

/// The run record of a run over `plan`.
fn header(config: &Config, plan: &ScanPlan, identity: &RunIdentity<'_>) -> RunHeader {
    let loaded = identity.loaded;
    RunHeader {
        schema_version: EVIDENCE_SCHEMA_VERSION,
        run_id: identity.run_id.to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: identity.started_at,
        config_sha256: loaded.sha256.clone(),
        regions: plan.regions.clone(),
        caller: plan.caller.clone(),
        organization: plan.listing.clone(),
        excluded_accounts: plan.excluded.clone(),
        accounts: plan.accounts.clone(),
        rules: config.rules.clone(),
        csv_bom: config.output.csv_bom,
        command_line: identity.command_line.to_vec(),
        config_path: loaded.path.as_ref().map(|p| p.display().to_string()),
        shard: identity.shard,
        scope: identity.scope.clone(),
    }
}

fn run_end(cancellation: &Cancellation) -> RunEnd {
    RunEnd {
        ended_at: Utc::now(),
        interrupted: cancellation.is_cancelled(),
    }
}
