//! The `scan` command: configuration → scope → collection → evidence → evaluation → reports.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{error, info};

use crate::aws::AwsEnvironment;
use crate::cli::{ConfigArgs, ScanArgs};
use crate::collect::{self, Progress};
use crate::config::{self, Config, LoadedConfig};
use crate::error::{Error, Result};
use crate::evidence::{EVIDENCE_SCHEMA_VERSION, RunEnd, RunEvidence, RunHeader};
use crate::interrupt::Cancellation;
use crate::report;
use crate::scope::{ScanPlan, Shard};
use crate::triage::TriageInputs;
use crate::upload::{self, UploadOptions, UploadTarget};
use crate::{rules, scope};

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

/// Collects the evidence of `plan` and assembles it as a run: the one place a run's evidence
/// is put together (`scan`, and `remediate`'s scans before and after applying).
pub async fn collect_run(
    env: &AwsEnvironment,
    config: &Config,
    plan: &ScanPlan,
    identity: &RunIdentity<'_>,
    show_progress: bool,
    cancellation: &Cancellation,
) -> RunEvidence {
    let progress = Progress::new(plan.accounts.len(), plan.regions.len(), show_progress);
    let collected = collect::collect(env, plan, config, &progress, cancellation).await;
    progress.finish();
    let mut accounts = Vec::with_capacity(collected.accounts.len());
    let mut account_regions = HashMap::new();
    for collection in collected.accounts {
        for region in collection.regions {
            account_regions.insert((region.account_id.clone(), region.region.clone()), region);
        }
        accounts.push(collection.account);
    }
    // A stable order whatever the listing's (and the same as `merge` gives).
    accounts.sort_by(|a, b| a.account.id.cmp(&b.account.id));
    let loaded = identity.loaded;
    RunEvidence {
        header: RunHeader {
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
    let run = collect_run(&env, &config, &plan, &identity, show_progress, cancellation).await;

    let mut findings = rules::evaluate(&run);
    let triage = triage_inputs.apply(&mut findings, started_at.date_naive());
    let metadata = report::write_all(
        &run_dir,
        &run,
        &findings,
        &triage,
        report::EvidenceFile::Write,
    )?;
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
    let summary = report::summary::render(&run, &findings, &metadata, &run_dir, &notes, exit_code);
    Ok(ScanOutcome {
        summary,
        exit_code,
        run_dir,
    })
}
