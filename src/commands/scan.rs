//! The `scan` command: configuration → scope → collection → evidence → evaluation → reports.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use tracing::{error, info};

use super::Outcome;
use crate::aws::AwsEnvironment;
use crate::collect::run::{Population, RunIdentity, collect_run};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::integrations::Delivery;
use crate::integrations::notify::{self, NotificationFailure, NotifyTarget};
use crate::integrations::security_hub::{self, DeliveryFailure, SecurityHubDelivery};
use crate::interrupt::Cancellation;
use crate::report;
use crate::report::metadata::RunMetadata;
use crate::scope::{self, ConfigOverrides, effective_config};
use crate::shard::{ShardArg, resolve_shard};
use crate::triage::{Findings, TriageInputs, TriageOptions};
use crate::upload::{self, UploadOptions, UploadTarget};

/// What `scan` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The configuration and what the command line overrides of it.
    pub settings: ConfigOverrides,
    /// The shard this runner scans: K/N, or `auto` from the job engine's environment.
    pub shard: Option<ShardArg>,
    /// The number of shards with `auto` where the engine does not say (a Kubernetes Indexed Job).
    pub shard_count: Option<u32>,
    /// Suppressions, baseline and gate.
    pub triage: TriageOptions,
    /// Where the run is uploaded (`s3://bucket/prefix`), parsed before anything is scanned.
    pub upload: Option<String>,
    /// The KMS key the upload is encrypted with.
    pub upload_kms_key: Option<String>,
    /// Object Lock retention of the upload, in days.
    pub upload_retain_days: Option<u32>,
    /// Import the findings into Security Hub, in each finding's account and Region.
    pub security_hub: bool,
    /// Where a message about the run is sent.
    pub notify: Vec<NotifyTarget>,
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
    let shard = resolve_shard(args.shard, args.shard_count, |name| {
        std::env::var(name).ok()
    })
    .map_err(Error::Usage)?;
    let config: Arc<Config> = Arc::new(loaded.config.clone());
    let triage_inputs = TriageInputs::load(&args.triage, &config.output.directory)?;
    let started_at = Utc::now();
    let env = AwsEnvironment::load(config.clone()).await;
    let caller = scope::establish_caller(&env).await?;
    // A shard's run id names it: the shards of one Indexed Job or array job start in the same
    // second on different machines, and upload to the same prefix.
    let label = shard.map(|shard| format!("shard{}of{}", shard.index, shard.count));
    let (run_id, run_dir) = crate::run_dir::create_run_directory(
        &config.output.directory,
        started_at,
        label.as_deref(),
    )?;

    let identity = RunIdentity {
        run_id: &run_id,
        started_at,
        loaded: &loaded,
        command_line,
        shard,
        scope: &narrowed,
    };
    let evidence_path = run_dir.join(crate::run_dir::EVIDENCE_FILE);
    let population = Population::Listing { caller, shard };
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
    crate::run_dir::update_latest_if_full(&config.output.directory, evidence.run())?;
    let findings = Findings::new(&evidence, &marks);
    let delivered = deliver(
        &env,
        &config,
        args,
        upload_target.as_ref(),
        &findings,
        &mut written,
        &run_dir,
        cancellation,
    )
    .await?;
    let exit_code = delivered.exit_code;
    let summary = report::summary::render(
        evidence.run(),
        &written.tally,
        &written.metadata,
        &run_dir,
        &delivered.notes,
        exit_code,
    );
    Ok(Outcome {
        output: summary,
        exit_code,
    })
}

/// What delivering a run after its reports did: the console's notes, the deliveries that
/// failed, and the exit code they make.
struct Delivered {
    notes: Vec<String>,
    failures: Vec<String>,
    exit_code: u8,
}

impl Delivered {
    fn new(exit_code: u8) -> Delivered {
        Delivered {
            notes: Vec::new(),
            failures: Vec::new(),
            exit_code,
        }
    }

    /// A delivery failed: the run is delivered incompletely, as a run that could not check
    /// everything is incomplete.
    fn failed(&mut self, what: String) {
        self.failures.push(what);
        self.exit_code = self.exit_code.max(crate::error::EXIT_INCOMPLETE);
    }

    /// Writes run.json (its delivery section, exit code and the reason for it) and the
    /// manifest again.
    fn record(
        &self,
        run_dir: &Path,
        metadata: &mut RunMetadata,
        delivery: &Delivery,
    ) -> Result<()> {
        metadata.delivery = (!delivery.is_empty()).then(|| delivery.clone());
        let reason = (!self.failures.is_empty())
            .then(|| format!("{} (the local run is kept)", self.failures.join("; ")));
        report::record_after_reports(run_dir, metadata, self.exit_code, reason)
    }
}

/// Delivers a run whose reports are written, in this order: Security Hub (its outcome is in
/// run.json before the run is archived), the upload, then the notifications (which say where
/// the archive is and how the rest went). A delivery that fails is noted for the console, named
/// in run.json's `exit_reason` and makes the exit code 2; run.json and `SHA256SUMS` are written
/// again after each step that changes them, and uploaded again when that happens after the
/// upload, so that the archive too says what the process exited with.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    env: &AwsEnvironment,
    config: &Config,
    args: &ScanOptions,
    upload_target: Option<&UploadTarget>,
    findings: &Findings<'_>,
    written: &mut report::Written,
    run_dir: &Path,
    cancellation: &Cancellation,
) -> Result<Delivered> {
    let mut delivered = Delivered::new(written.metadata.exit_code);
    let mut delivery = Delivery::default();
    if args.security_hub {
        delivery.security_hub =
            import_to_security_hub(env, config, findings, cancellation, &mut delivered).await;
        if delivery.security_hub.is_some() {
            delivered.record(run_dir, &mut written.metadata, &delivery)?;
        }
    }

    let options = UploadOptions {
        kms_key: args.upload_kms_key.clone(),
        retain_days: args.upload_retain_days,
    };
    let mut archived = None;
    if let Some(target) = upload_target {
        match upload::upload_run(env, run_dir, target, &options).await {
            Ok(receipt) => {
                delivered.notes.push(format!(
                    "uploaded: {} ({} objects, verified against SHA256SUMS)",
                    receipt.location, receipt.objects
                ));
                archived = Some((target, receipt.location));
            }
            Err(reason) => {
                error!(%reason, "upload failed; the local run is kept");
                delivered.notes.push(format!("upload FAILED: {reason}"));
                delivered.failed("upload failed".into());
                delivered.record(run_dir, &mut written.metadata, &delivery)?;
            }
        }
    }

    if args.notify.is_empty() {
        return Ok(delivered);
    }
    let sent = notify_run(
        env,
        args,
        findings,
        written,
        run_dir,
        archived.as_ref().map(|(_, location)| location.as_str()),
        &delivery,
        delivered.exit_code,
    )
    .await;
    for (target, outcome) in sent {
        match outcome {
            Ok(()) => delivered.notes.push(format!("notified: {target}")),
            Err(reason) => {
                delivered
                    .notes
                    .push(format!("notification FAILED: {target}: {reason}"));
                delivered.failed(format!("notification failed ({target})"));
                delivery.notification_failures.push(NotificationFailure {
                    target: target.to_string(),
                    error: reason,
                });
            }
        }
    }
    if delivery.notification_failures.is_empty() {
        return Ok(delivered);
    }
    delivered.record(run_dir, &mut written.metadata, &delivery)?;
    if let Some((target, _)) = archived {
        match upload::upload_record(env, run_dir, target, &options).await {
            Ok(receipt) => delivered.notes.push(format!(
                "uploaded again: run.json and SHA256SUMS to {}, recording the failed notifications",
                receipt.location
            )),
            Err(reason) => {
                error!(%reason, "uploading run.json again failed: the archive's copy does not record the failed notifications");
                delivered
                    .notes
                    .push(format!("upload of the updated run.json FAILED: {reason}"));
                delivered.failed("the archive's run.json could not be updated".into());
                delivered.record(run_dir, &mut written.metadata, &delivery)?;
            }
        }
    }
    Ok(delivered)
}

/// Imports the findings into Security Hub (not for an interrupted run: the signal asked for an
/// end, not for thousands more calls). Returns run.json's Security Hub section, `None` when
/// nothing was tried.
async fn import_to_security_hub(
    env: &AwsEnvironment,
    config: &Config,
    findings: &Findings<'_>,
    cancellation: &Cancellation,
    delivered: &mut Delivered,
) -> Option<SecurityHubDelivery> {
    if cancellation.is_cancelled() {
        delivered
            .notes
            .push("Security Hub: not imported, the run was interrupted".into());
        return None;
    }
    match security_hub::import(env, findings, config.concurrency.accounts).await {
        Ok(hub) => {
            if hub.complete() {
                delivered.notes.push(format!(
                    "Security Hub: {} findings imported ({} no longer produced, archived)",
                    hub.imported, hub.archived_stale
                ));
            } else {
                delivered.notes.push(format!(
                    "Security Hub delivered INCOMPLETELY: {} findings not imported, in {} \
                     account-Regions (run.json, delivery.security_hub.failures)",
                    hub.not_imported,
                    hub.failures.len()
                ));
                delivered.failed(format!(
                    "Security Hub import incomplete ({} findings not imported)",
                    hub.not_imported
                ));
            }
            Some(hub)
        }
        Err(reason) => {
            error!(%reason, "Security Hub import failed");
            delivered
                .notes
                .push(format!("Security Hub import FAILED: {reason}"));
            delivered.failed("Security Hub import failed".into());
            Some(SecurityHubDelivery {
                failures: vec![DeliveryFailure {
                    account_id: String::new(),
                    region: None,
                    findings: 0,
                    error: reason.to_string(),
                }],
                ..SecurityHubDelivery::default()
            })
        }
    }
}

/// Sends the run's message to every `--notify` target; each target's outcome.
#[allow(clippy::too_many_arguments)]
async fn notify_run(
    env: &AwsEnvironment,
    args: &ScanOptions,
    findings: &Findings<'_>,
    written: &report::Written,
    run_dir: &Path,
    uploaded: Option<&str>,
    delivery: &Delivery,
    exit_code: u8,
) -> Vec<(NotifyTarget, notify::Sent)> {
    match notify::notice(
        findings,
        &written.tally,
        &written.metadata,
        run_dir,
        uploaded,
        delivery.security_hub.as_ref(),
        exit_code,
    ) {
        Ok(notice) => notify::send_all(env, &args.notify, &notice).await,
        Err(error) => {
            let reason = format!("the message could not be made: {error}");
            args.notify
                .iter()
                .map(|target| (target.clone(), Err(reason.clone())))
                .collect()
        }
    }
}
