//! The `scan` command: configuration → scope → collection → evidence → evaluation → reports.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tracing::{error, info};

use crate::aws::AwsEnvironment;
use crate::cli::{ConfigArgs, ScanArgs};
use crate::collect::{self, Progress};
use crate::config::{self, Config, LoadedConfig};
use crate::error::{Error, Result};
use crate::evidence::{
    Account, AccountEvidence, AccountRegionEvidence, AccountSink, CallerIdentity,
    EVIDENCE_SCHEMA_VERSION, Evidence, EvidenceWriter, Observation, RunEnd, RunEvidence, RunHeader,
    RunScope,
};
use crate::interrupt::Cancellation;
use crate::report;
use crate::scope;
use crate::scope::{ScanPlan, Shard};
use crate::triage::TriageInputs;
use crate::upload::{self, UploadOptions, UploadTarget};

/// What a finished scan produced.
#[derive(Debug)]
pub struct ScanOutcome {
    /// The run's directory.
    pub run_dir: PathBuf,
    /// The console summary.
    pub summary: String,
    /// The exit code the findings mean.
    pub exit_code: u8,
}

/// Applies the command-line overrides to the configuration; a bad flag is a usage error.
/// Returns the configuration with what the flags narrowed of the configured scope: an account
/// filter other than the configuration's, Regions that leave out some configured ones.
pub fn effective_config(args: &ConfigArgs) -> Result<(LoadedConfig, RunScope)> {
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

/// Where a run's evidence goes as it is collected.
#[derive(Debug, Clone, Copy)]
pub enum EvidenceOutput<'a> {
    /// Written to this `evidence.jsonl` account by account (a scan: its evidence is never held
    /// whole in memory).
    File(&'a Path),
    /// Held in memory (remediation's scans, which write their run, if any, after applying).
    Memory,
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
/// together (`scan`, and `remediate`'s scans before and after applying). Returns the plan (the
/// listing, once complete) with the evidence.
pub async fn collect_run(
    env: &AwsEnvironment,
    config: &Config,
    population: Population<'_>,
    identity: &RunIdentity<'_>,
    show_progress: bool,
    cancellation: &Cancellation,
    output: EvidenceOutput<'_>,
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
    let sink = match output {
        EvidenceOutput::File(path) => RunSink::File(EvidenceWriter::create_before_header(path)?),
        EvidenceOutput::Memory => RunSink::Memory(Box::default()),
    };
    // The run record, with the listing, is written as soon as the listing is complete; accounts
    // finished before then wait for it in memory.
    let listing = async {
        let plan = listing.await?;
        sink.header(header(config, &plan, identity))?;
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
    let evidence = sink.finish(collected, run_end(cancellation))?;
    Ok((plan, evidence))
}

/// Where collection hands a run's evidence: its file, or memory.
enum RunSink {
    File(EvidenceWriter),
    Memory(Box<MemorySink>),
}

impl RunSink {
    /// The run record, once the listing is complete.
    fn header(&self, header: RunHeader) -> Result<()> {
        match self {
            RunSink::File(writer) => writer.write_header(&header),
            RunSink::Memory(memory) => {
                if let Ok(mut held) = memory.header.lock() {
                    *held = Some(header);
                }
                Ok(())
            }
        }
    }

    /// The run's evidence, its repositories and end added.
    fn finish(self, collected: collect::Collection, end: RunEnd) -> Result<Evidence> {
        match self {
            RunSink::File(writer) => {
                let path = writer.finish(
                    &collected.buckets,
                    &collected.keys,
                    collected.resource_controls.as_ref(),
                    Some(&end),
                )?;
                Evidence::open(&path)
            }
            RunSink::Memory(memory) => {
                let header = memory.header.into_inner().ok().flatten().ok_or_else(|| {
                    Error::Scope("the run ended before its scope was known".into())
                })?;
                let mut run = RunEvidence {
                    header,
                    accounts: Vec::new(),
                    account_regions: HashMap::new(),
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
                    resource_controls: collected.resource_controls,
                    end: Some(end),
                };
                for (account, regions) in memory.accounts.into_inner().unwrap_or_default() {
                    for region in regions {
                        run.account_regions
                            .insert((region.account_id.clone(), region.region.clone()), region);
                    }
                    run.accounts.push(account);
                }
                Ok(Evidence::in_memory(run))
            }
        }
    }
}

impl AccountSink for RunSink {
    fn account(&self, account: &AccountEvidence, regions: &[AccountRegionEvidence]) {
        match self {
            RunSink::File(writer) => writer.account(account, regions),
            RunSink::Memory(memory) => memory.account(account, regions),
        }
    }

    fn failed(&self) -> bool {
        match self {
            RunSink::File(writer) => writer.failed(),
            RunSink::Memory(_) => false,
        }
    }
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

/// Collects a run's evidence in memory.
#[derive(Default)]
struct MemorySink {
    header: Mutex<Option<RunHeader>>,
    accounts: Mutex<Vec<(AccountEvidence, Vec<AccountRegionEvidence>)>>,
}

impl AccountSink for MemorySink {
    fn account(&self, account: &AccountEvidence, regions: &[AccountRegionEvidence]) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.push((account.clone(), regions.to_vec()));
        }
    }
}

/// Runs a whole scan and writes its run directory.
pub async fn scan(
    args: &ScanArgs,
    command_line: &[String],
    show_progress: bool,
    cancellation: &Cancellation,
) -> Result<ScanOutcome> {
    let (loaded, narrowed) = effective_config(&args.settings)?;
    // Parsed before anything is scanned, so that a bad location is a usage error up front.
    let upload_target: Option<UploadTarget> = args
        .upload
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|message| Error::Usage(format!("--upload: {message}")))?;
    let config: Arc<Config> = Arc::new(loaded.config.clone());
    let triage_inputs = TriageInputs::load(&args.triage, &config.output.directory)?;
    let started_at = Utc::now();
    let env = AwsEnvironment::load(config.clone()).await;
    let caller = scope::establish_caller(&env).await?;
    let (run_id, run_dir) = report::create_run_directory(&config.output.directory, started_at)?;

    let identity = RunIdentity {
        run_id: &run_id,
        started_at,
        loaded: &loaded,
        command_line,
        shard: args.shard,
        scope: &narrowed,
    };
    let evidence_path = run_dir.join(report::evidence::FILE_NAME);
    let population = Population::Listing {
        caller,
        shard: args.shard,
    };
    let collected = collect_run(
        &env,
        &config,
        population,
        &identity,
        show_progress,
        cancellation,
        EvidenceOutput::File(&evidence_path),
    )
    .await;
    let (plan, evidence) = match collected {
        Ok(collected) => collected,
        Err(error @ Error::Output { .. }) if evidence_path.exists() => {
            // The output directory could not be written (full, read-only): the evidence written
            // before is kept, every account in it complete, for `report` once there is room.
            error!(
                "the scan stopped: {error}; the evidence of every account finished before is \
                 kept in {}: `macie-audit report {}` writes the reports from it once there is \
                 room (the accounts not reached are ERROR)",
                evidence_path.display(),
                run_dir.display()
            );
            return Err(error);
        }
        Err(error) => {
            // The organization could not be listed, or no evidence file could be made: no run.
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(error);
        }
    };
    info!(
        accounts = plan.accounts.len(),
        excluded = plan.excluded.len(),
        regions = plan.regions.len(),
        "scope established and scanned"
    );

    let marks = triage_inputs.marks(started_at.date_naive());
    let mut written =
        match report::write_all(&run_dir, &evidence, &marks, report::EvidenceFile::Keep) {
            Ok(written) => written,
            Err(error @ Error::Output { .. }) => {
                error!(
                    "the reports could not be written: {error}; none was left half written, and \
                     the evidence is complete in {}: `macie-audit report {}` writes them once \
                     there is room",
                    evidence_path.display(),
                    run_dir.display()
                );
                return Err(error);
            }
            Err(error) => return Err(error),
        };
    report::summary::log_unchecked(evidence.run(), &written.tally);
    report::update_latest_if_full(&config.output.directory, evidence.run())?;
    let mut notes = Vec::new();
    let mut exit_code = written.metadata.exit_code;
    if let Some(target) = &upload_target {
        let options = UploadOptions {
            kms_key: args.upload_kms_key.clone(),
            retain_days: args.upload_retain_days,
        };
        match upload::upload_run(&env, &run_dir, target, &options).await {
            Ok(receipt) => notes.push(format!(
                "uploaded: {} ({} objects, verified against SHA256SUMS)",
                receipt.location, receipt.objects
            )),
            Err(reason) => {
                error!(%reason, "upload failed; the local run is kept");
                notes.push(format!("upload FAILED: {reason}"));
                exit_code = exit_code.max(crate::error::EXIT_INCOMPLETE);
                report::record_failure_after_reports(
                    &run_dir,
                    &mut written.metadata,
                    exit_code,
                    "upload failed (the local run is kept)".into(),
                )?;
            }
        }
    }
    let summary = report::summary::render(
        evidence.run(),
        &written.tally,
        &written.metadata,
        &run_dir,
        &notes,
        exit_code,
    );
    Ok(ScanOutcome {
        summary,
        exit_code,
        run_dir,
    })
}
