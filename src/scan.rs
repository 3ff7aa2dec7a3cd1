//! The `scan` command: configuration → scope → collection → evidence → evaluation → reports.

use std::collections::HashMap;
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
    AccountEvidence, AccountRegionEvidence, AccountSink, EVIDENCE_SCHEMA_VERSION, Evidence,
    EvidenceWriter, RunEnd, RunEvidence, RunHeader,
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
pub fn effective_config(args: &ConfigArgs) -> Result<LoadedConfig> {
    let mut loaded = LoadedConfig::load(args.config.as_deref())?;
    let config = &mut loaded.config;
    if let Some(dir) = &args.output_dir {
        config.output.directory = dir.clone();
    }
    if let Some(regions) = &args.regions {
        let regions = config::split_list(regions);
        config::validate_regions("--regions", &regions).map_err(Error::Usage)?;
        config.scope.regions = regions;
    }
    if let Some(accounts) = &args.accounts {
        let accounts = config::split_list(accounts);
        if accounts.is_empty() {
            return Err(Error::Usage(
                "--accounts: name at least one account id".into(),
            ));
        }
        config::validate_accounts("--accounts", &accounts).map_err(Error::Usage)?;
        config.scope.accounts = accounts;
    }
    config
        .validate()
        .map_err(|message| Error::config(loaded.display_path(), message))?;
    Ok(loaded)
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

/// Collects the evidence of `plan` as a run: the one place a run's evidence is put together
/// (`scan`, and `remediate`'s scans before and after applying).
pub async fn collect_run(
    env: &AwsEnvironment,
    config: &Config,
    plan: &ScanPlan,
    identity: &RunIdentity<'_>,
    show_progress: bool,
    cancellation: &Cancellation,
    output: EvidenceOutput<'_>,
) -> Result<Evidence> {
    let loaded = identity.loaded;
    let header = RunHeader {
        schema_version: EVIDENCE_SCHEMA_VERSION,
        run_id: identity.run_id.to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: identity.started_at,
        config_sha256: loaded.sha256.clone(),
        regions: plan.regions.clone(),
        caller: plan.caller.clone(),
        organization: plan.listing.clone(),
        excluded_accounts: plan.excluded.clone(),
        rules: config.rules.clone(),
        command_line: identity.command_line.to_vec(),
        config_path: loaded.path.as_ref().map(|p| p.display().to_string()),
        shard: identity.shard,
    };
    let progress = Progress::new(plan.accounts.len(), plan.regions.len(), show_progress);
    let collect = |sink| collect::collect(env, plan, config, &progress, cancellation, sink);
    match output {
        EvidenceOutput::File(path) => {
            let writer = EvidenceWriter::create(path, &header)?;
            let collected = collect(&writer).await;
            progress.finish();
            let path = writer.finish(
                &collected.buckets,
                &collected.keys,
                Some(&run_end(cancellation)),
            )?;
            Evidence::open(&path)
        }
        EvidenceOutput::Memory => {
            let sink = MemorySink::default();
            let collected = collect(&sink).await;
            progress.finish();
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
                end: Some(run_end(cancellation)),
            };
            for (account, regions) in sink.0.into_inner().unwrap_or_default() {
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

fn run_end(cancellation: &Cancellation) -> RunEnd {
    RunEnd {
        ended_at: Utc::now(),
        interrupted: cancellation.is_cancelled(),
    }
}

/// Collects a run's evidence in memory.
#[derive(Default)]
struct MemorySink(Mutex<Vec<(AccountEvidence, Vec<AccountRegionEvidence>)>>);

impl AccountSink for MemorySink {
    fn account(&self, account: &AccountEvidence, regions: &[AccountRegionEvidence]) {
        if let Ok(mut accounts) = self.0.lock() {
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
    let loaded = effective_config(&args.settings)?;
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
    let plan = scope::plan(&env, &config, args.shard).await?;
    info!(
        accounts = plan.accounts.len(),
        excluded = plan.excluded.len(),
        regions = plan.regions.len(),
        "scope established"
    );
    let (run_id, run_dir) = report::create_run_directory(&config.output.directory, started_at)?;

    let identity = RunIdentity {
        run_id: &run_id,
        started_at,
        loaded: &loaded,
        command_line,
        shard: args.shard,
    };
    let evidence_path = run_dir.join(report::evidence::FILE_NAME);
    let evidence = collect_run(
        &env,
        &config,
        &plan,
        &identity,
        show_progress,
        cancellation,
        EvidenceOutput::File(&evidence_path),
    )
    .await?;

    let marks = triage_inputs.marks(started_at.date_naive());
    let written = report::write_all(&run_dir, &evidence, &marks, report::EvidenceFile::Keep)?;
    let metadata = &written.metadata;
    if metadata.complete {
        report::update_latest(&config.output.directory, &run_id)?;
    }
    let mut notes = Vec::new();
    let mut exit_code = metadata.exit_code;
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
            }
        }
    }
    let summary = report::summary::render(
        evidence.run(),
        &written.tally,
        metadata,
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
