//! The `scan` command: configuration → scope → collection → evidence → evaluation → reports.

use std::sync::Arc;

use chrono::Utc;
use tracing::{error, info};

use super::Outcome;
use crate::aws::AwsEnvironment;
use crate::collect::run::{Population, RunIdentity, collect_run};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::interrupt::Cancellation;
use crate::report;
use crate::scope::{self, ConfigOverrides, effective_config};
use crate::shard::Shard;
use crate::triage::{TriageInputs, TriageOptions};
use crate::upload::{self, UploadOptions, UploadTarget};

/// What `scan` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The configuration and what the command line overrides of it.
    pub settings: ConfigOverrides,
    /// The shard this runner scans.
    pub shard: Option<Shard>,
    /// Suppressions, baseline and gate.
    pub triage: TriageOptions,
    /// Where the run is uploaded (`s3://bucket/prefix`), parsed before anything is scanned.
    pub upload: Option<String>,
    /// The KMS key the upload is encrypted with.
    pub upload_kms_key: Option<String>,
    /// Object Lock retention of the upload, in days.
    pub upload_retain_days: Option<u32>,
}

/// Runs a whole scan and writes its run directory.
pub async fn scan(
    args: &ScanOptions,
    command_line: &[String],
    show_progress: bool,
    cancellation: &Cancellation,
) -> Result<Outcome> {
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
    let (run_id, run_dir) =
        crate::run_dir::create_run_directory(&config.output.directory, started_at)?;

    let identity = RunIdentity {
        run_id: &run_id,
        started_at,
        loaded: &loaded,
        command_line,
        shard: args.shard,
        scope: &narrowed,
    };
    let evidence_path = run_dir.join(crate::run_dir::EVIDENCE_FILE);
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
        &evidence_path,
    )
    .await;
    let (plan, evidence) = match collected {
        Ok(collected) => collected,
        Err(error) => {
            // The organization could not be listed: no run, only the evidence started for it.
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
    let mut written = report::write_all(&run_dir, &evidence, &marks, report::EvidenceFile::Keep)?;
    report::summary::log_unchecked(evidence.run(), &written.tally);
    crate::run_dir::update_latest_if_full(&config.output.directory, evidence.run())?;
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
    Ok(Outcome {
        output: summary,
        exit_code,
    })
}
