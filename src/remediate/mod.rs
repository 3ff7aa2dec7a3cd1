//! `macie-audit remediate`: plan, and with `--apply` make, the changes that fix MACIE-002, -003
//! and -004, then re-scan what was touched.
//!
//! 1. A scan over the configured scope, with the read-only audit role (the scan's own collection).
//! 2. A few more reads with the same role ([`probe`]): the `--strategy own` key alias, the central
//!    bucket and key.
//! 3. The plan ([`plan::plan`]), a pure function of that evidence and the findings: printed with
//!    the equivalent AWS CLI commands, as text or JSON. Without `--apply` nothing else happens, and
//!    no write call is made.
//! 4. With `--apply`, after confirmation (or `--yes`), each account's steps with the remediation
//!    role (`access.remediation_role_name`), stopping an account at its first failed step.
//! 5. A re-scan of the touched account-Regions, written as a run whose reports show the result,
//!    with `remediation.jsonl` (every change, before and after, request ids) under `SHA256SUMS`.

mod apply;
mod central;
mod commands;
pub mod log;
mod own;
pub mod plan;
mod probe;
mod render;
mod repair;
mod scan;
pub mod statements;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use chrono::Utc;
use tracing::info;

use crate::aws::AwsEnvironment;
use crate::collect::repository::parse_key_arn;
use crate::config::Config;
use crate::error::{
    EXIT_COMPLIANT, EXIT_FAILURES, EXIT_INCOMPLETE, EXIT_INTERRUPTED, Error, Result,
};
use crate::evidence::{Evidence, RunScope};
use crate::findings::{Finding, Status};
use crate::interrupt::Cancellation;
use crate::triage::Findings;
use crate::triage::TriageMarks;
use crate::{report, scope};
use log::{LogEnd, LogHeader, LogRecord, StepRecord, StepStatus, TargetOutcome, TargetRecord};
use plan::{Decision, Plan, PlanInput};

pub use apply::APPLY_CALLS;

/// Where `remediate` stores each account-Region's discovery results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// A key, an alias and a bucket per account and Region (the rule's guidance).
    Own,
    /// One existing bucket and key for the organization (`[remediation]` central_bucket,
    /// central_key_arn).
    Central,
    /// The repository each account-Region already exports to, repaired in place by its owners.
    Repair,
}

impl Strategy {
    /// The strategies' names, as the command line and the plan spell them.
    pub const NAMES: [&str; 3] = ["own", "central", "repair"];
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        match value {
            "own" => Ok(Strategy::Own),
            "central" => Ok(Strategy::Central),
            "repair" => Ok(Strategy::Repair),
            _ => Err(format!("{value:?} is not a remediation strategy")),
        }
    }
}

/// How `remediate` prints its plan and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// One JSON document, for machines.
    Json,
}

impl OutputFormat {
    /// The formats' names, as the command line spells them.
    pub const NAMES: [&str; 2] = ["text", "json"];
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        match value {
            "text" => Ok(OutputFormat::Text),
            "json" => Ok(OutputFormat::Json),
            _ => Err(format!("{value:?} is not an output format")),
        }
    }
}

/// What `remediate` is asked to do.
#[derive(Debug, Clone)]
pub struct RemediateOptions {
    /// The configuration and what the command line overrides of it.
    pub settings: crate::scope::ConfigOverrides,
    /// Where the results go.
    pub strategy: Strategy,
    /// Make the changes (otherwise only plan them).
    pub apply: bool,
    /// Do not ask for confirmation.
    pub yes: bool,
    /// Repoint export configurations that name another repository.
    pub force: bool,
    /// `--strategy repair`: recover keys pending deletion or disabled.
    pub recover_keys: bool,
    /// `--strategy repair`: repair MACIE-005's hardening too.
    pub include_hardening: bool,
    /// How the plan and outcome are printed.
    pub format: OutputFormat,
}

/// Where `remediate` talks to its user.
pub trait Console {
    /// Shows text (the plan, the outcome) on standard output.
    fn print(&mut self, text: &str);
    /// Whether a person can answer a question.
    fn interactive(&self) -> bool;
    /// Asks a yes/no question; only `yes` agrees.
    fn confirm(&mut self, question: &str) -> bool;
}

/// The process's terminal: standard output, and questions on standard error answered on
/// standard input.
#[derive(Debug, Default)]
pub struct Terminal;

impl Console for Terminal {
    fn print(&mut self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    fn interactive(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    fn confirm(&mut self, question: &str) -> bool {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer).is_err() {
            return false;
        }
        answer.trim() == "yes"
    }
}

/// What `remediate` did.
#[derive(Debug)]
pub struct RemediateOutcome {
    /// The process exit code.
    pub exit_code: u8,
}

/// The configuration whose clients act with the remediation role.
fn remediation_config(config: &Config) -> Config {
    let mut config = config.clone();
    config.access.role_name = config.access.remediation_role_name.clone();
    config
}

/// Plans, and with `--apply` makes and verifies, the remediation.
pub async fn remediate(
    args: &RemediateOptions,
    command_line: &[String],
    show_progress: bool,
    cancellation: &Cancellation,
    console: &mut dyn Console,
) -> Result<RemediateOutcome> {
    if args.apply && !args.yes && !console.interactive() {
        return Err(Error::Usage(
            "remediate --apply asks for confirmation, but standard input is not a terminal: run it \
             interactively, or add --yes to apply without asking (nothing was changed)"
                .into(),
        ));
    }
    for (given, flag) in [
        (args.recover_keys, "--recover-keys"),
        (args.include_hardening, "--include-hardening"),
    ] {
        if given && args.strategy != Strategy::Repair {
            return Err(Error::Usage(format!(
                "{flag} is for repositories repaired in place: it needs --strategy repair (nothing was changed)"
            )));
        }
    }
    // Remediation's scans never become `latest`: what the flags narrowed does not matter here.
    let (loaded, narrowed) = crate::scope::effective_config(&args.settings)?;
    let config = Arc::new(loaded.config.clone());
    let settings = &config.remediation;
    if args.strategy == Strategy::Central
        && (settings.central_bucket.is_none() || settings.central_key_arn.is_none())
    {
        return Err(Error::config(
            loaded.display_path(),
            "remediation.central_bucket: --strategy central needs remediation.central_bucket and \
             remediation.central_key_arn (the organization's existing bucket and key)",
        ));
    }

    let env = AwsEnvironment::load(config.clone()).await;
    // The central repository's owners are read even when the scope leaves them out.
    let owners: Vec<String> = match args.strategy {
        Strategy::Own | Strategy::Repair => Vec::new(),
        Strategy::Central => settings
            .central_key_arn
            .as_deref()
            .and_then(parse_key_arn)
            .map(|(_, account)| account.to_owned())
            .into_iter()
            .chain(settings.central_bucket_owner.clone())
            .collect(),
    };
    let scope = scan::with_owners(&scope::plan(&env, &config, None).await?, &owners);
    info!(
        accounts = scope.accounts.len(),
        regions = scope.regions.len(),
        "scanning before planning"
    );
    let started_at = Utc::now();
    let scan_id = format!("{}-plan", started_at.format("%Y%m%dT%H%M%SZ"));
    // The planning scan is not a run: its evidence goes to a scratch file removed on return, read
    // back one account at a time, so only what the planner acts on is held in memory.
    let scratch = tempfile::tempdir().map_err(|e| Error::output(std::env::temp_dir(), e))?;
    let mut evidence = scan::collect_run(
        &env,
        &loaded,
        &config,
        &scope,
        &narrowed,
        &scan_id,
        command_line,
        show_progress,
        cancellation,
        &scratch.path().join(crate::run_dir::EVIDENCE_FILE),
    )
    .await?;
    if cancellation.is_cancelled() {
        console.print("Interrupted before planning: nothing was changed.\n");
        return Ok(RemediateOutcome {
            exit_code: EXIT_INTERRUPTED,
        });
    }
    let findings = remediated_findings(&evidence, args.include_hardening, |f| {
        matches!(f.status, Status::Fail | Status::Warn | Status::Error)
    })?;
    evidence.hold_account_regions(findings.iter().map(|f| f.account_id.as_str()))?;
    let run = evidence.run();
    let probes = probe::probe(
        &env,
        run,
        &findings,
        settings,
        args.strategy,
        config.concurrency.accounts,
    )
    .await;
    let plan = plan::plan(&PlanInput {
        run,
        findings: &findings,
        settings,
        strategy: args.strategy,
        force: args.force,
        recover_keys: args.recover_keys,
        include_hardening: args.include_hardening,
        probes: &probes,
    });
    let caller_account = scope.caller_account().to_owned();
    let identity = render::Identity {
        role_name: &config.access.remediation_role_name,
        caller_account: &caller_account,
        assume_role_in_own_account: config.access.assume_role_in_own_account,
    };
    let incomplete = !plan.scan.unchecked.is_empty();
    let left_alone = plan.targets.iter().any(|t| !t.remediated());

    if !args.apply || plan.step_count() == 0 {
        let exit_code = if incomplete {
            EXIT_INCOMPLETE
        } else if args.apply && left_alone {
            EXIT_FAILURES
        } else {
            EXIT_COMPLIANT
        };
        print_plan(console, args.format, &plan, identity, args.apply, exit_code);
        return Ok(RemediateOutcome { exit_code });
    }

    if args.format == OutputFormat::Text {
        console.print(&render::plan_text(&plan, identity, true));
    }
    if !args.yes {
        // With JSON on standard output, the plan a person confirms goes with the question.
        let shown = match args.format {
            OutputFormat::Text => String::new(),
            OutputFormat::Json => render::plan_text(&plan, identity, true),
        };
        let question = format!(
            "{shown}Apply {} change(s) in {} account(s) with role {}? Only \"yes\" is accepted: ",
            plan.step_count(),
            plan.accounts().len(),
            config.access.remediation_role_name
        );
        if !console.confirm(&question) {
            console.print("Cancelled: nothing was changed.\n");
            return Ok(RemediateOutcome {
                exit_code: EXIT_FAILURES,
            });
        }
    }

    let apply_started = Utc::now();
    let remediation_env = AwsEnvironment::load(Arc::new(remediation_config(&config))).await;
    let records = apply::apply(
        &apply::ApplyContext {
            env: &remediation_env,
            caller_account: &caller_account,
            force: args.force,
            cancellation,
            concurrency: config.concurrency.accounts,
        },
        &plan,
    )
    .await;
    let interrupted = cancellation.is_cancelled();

    // The re-scan of what was touched, written as a run with the log.
    let (run_id, run_dir) =
        crate::run_dir::create_run_directory(&config.output.directory, Utc::now(), None)?;
    let touched: Vec<(String, String)> = plan
        .remediated()
        .map(|t| (t.account_id.clone(), t.region.clone()))
        .collect();
    let rescan = if interrupted || touched.is_empty() {
        None
    } else {
        let owners: Vec<String> = owners
            .iter()
            .cloned()
            .chain(plan.remediated().filter_map(|t| {
                t.destination
                    .as_ref()
                    .map(|d| d.expected_bucket_owner.clone())
            }))
            // `--strategy repair` changes repositories in their owners' accounts.
            .chain(plan.accounts().into_iter().map(str::to_owned))
            .collect();
        let rescan_scope = scan::rescan_scope(&scope, &touched, &owners);
        // The re-scan covers only the touched account-Regions: a partial run, and says so.
        let rescanned = RunScope {
            accounts: Some(rescan_scope.accounts.iter().map(|a| a.id.clone()).collect()),
            regions: Some(rescan_scope.regions.clone()),
            merged_shards: None,
        };
        let rescan = scan::collect_run(
            &env,
            &loaded,
            &config,
            &rescan_scope,
            &rescanned,
            &run_id,
            command_line,
            show_progress,
            cancellation,
            &run_dir.join(crate::run_dir::EVIDENCE_FILE),
        )
        .await?;
        let rescan_findings = remediated_findings(&rescan, args.include_hardening, |_| true)?;
        Some((rescan, rescan_findings))
    };
    let targets = target_records(
        &plan,
        &records,
        rescan.as_ref().map(|(_, f)| f.as_slice()),
        args.include_hardening,
    );
    let log = log_records(
        &records,
        &targets,
        LogHeader {
            run_id: run_id.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: apply_started,
            strategy: plan.strategy,
            force: plan.force,
            command_line: command_line.to_vec(),
            caller: run.header.caller.response().map(|c| c.arn.clone()),
            remediation_role_name: config.access.remediation_role_name.clone(),
            planned_steps: plan.step_count(),
        },
        interrupted,
    );
    log::write(&run_dir, &log)?;
    let rescan_incomplete = match &rescan {
        Some((rescan, _)) => {
            // The log is in the directory before the manifest is computed, so SHA256SUMS covers it.
            let written = report::write_all(
                &run_dir,
                rescan,
                &TriageMarks::NONE,
                report::EvidenceFile::Keep,
            )?;
            !written.metadata.complete
        }
        None => {
            crate::run_dir::manifest::write(&run_dir)?;
            false
        }
    };

    let failed = records
        .iter()
        .any(|r| matches!(r.status, StepStatus::Failed | StepStatus::NotAttempted));
    let still_failing = targets.iter().any(|t| {
        t.outcome == TargetOutcome::Applied
            && t.rescan
                .values()
                .any(|s| matches!(s, Status::Fail | Status::Warn))
    });
    let exit_code = if interrupted || cancellation.is_cancelled() {
        EXIT_INTERRUPTED
    } else if failed || incomplete || rescan_incomplete {
        EXIT_INCOMPLETE
    } else if left_alone || still_failing {
        EXIT_FAILURES
    } else {
        EXIT_COMPLIANT
    };
    match args.format {
        OutputFormat::Text => console.print(&render::outcome_text(
            &records,
            &targets,
            Some(&run_dir),
            interrupted,
        )),
        OutputFormat::Json => {
            let output = render::JsonOutput {
                plan: &plan,
                applied: Some(render::JsonApplied {
                    steps: &records,
                    targets: &targets,
                    run_dir: Some(run_dir.display().to_string()),
                    interrupted,
                }),
                exit_code,
            };
            console.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&output).unwrap_or_default()
            ));
        }
    }
    Ok(RemediateOutcome { exit_code })
}

/// The findings of the rules remediation acts on that `keep` selects, judged one account at a time
/// from `evidence`: the rest of the organization's findings are never held.
fn remediated_findings(
    evidence: &Evidence,
    include_hardening: bool,
    keep: impl Fn(&Finding) -> bool,
) -> Result<Vec<Finding>> {
    let mut kept = Vec::new();
    for account in Findings::new(evidence, &TriageMarks::NONE).accounts() {
        kept.extend(
            account?
                .into_iter()
                .filter(|f| plan::remediates(&f.rule_id, include_hardening) && keep(f)),
        );
    }
    Ok(kept)
}

fn print_plan(
    console: &mut dyn Console,
    format: OutputFormat,
    plan: &Plan,
    identity: render::Identity<'_>,
    apply: bool,
    exit_code: u8,
) {
    match format {
        OutputFormat::Text => console.print(&render::plan_text(plan, identity, apply)),
        OutputFormat::Json => {
            let output = render::JsonOutput {
                plan,
                applied: None,
                exit_code,
            };
            console.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&output).unwrap_or_default()
            ));
        }
    }
}

/// Each target's outcome: from its steps' records, and its statuses in the re-scan.
fn target_records(
    plan: &Plan,
    records: &[StepRecord],
    rescan: Option<&[Finding]>,
    include_hardening: bool,
) -> Vec<TargetRecord> {
    plan.targets
        .iter()
        .map(|target| {
            let source = target.source();
            let statuses: Vec<StepStatus> = plan
                .steps()
                .filter(|step| step.serves.contains(&source))
                .filter_map(|step| records.iter().find(|r| r.step == step.number))
                .map(|record| record.status)
                .collect();
            let outcome = match &target.decision {
                Decision::Refused { .. } => TargetOutcome::Refused,
                Decision::Blocked { .. } => TargetOutcome::Blocked,
                Decision::Remediate if statuses.contains(&StepStatus::Failed) => {
                    TargetOutcome::Failed
                }
                Decision::Remediate if statuses.contains(&StepStatus::NotAttempted) => {
                    TargetOutcome::NotAttempted
                }
                Decision::Remediate => TargetOutcome::Applied,
            };
            let rescan: BTreeMap<String, Status> = rescan
                .unwrap_or_default()
                .iter()
                .filter(|f| {
                    f.account_id == target.account_id
                        && f.region == target.region
                        && plan::remediates(&f.rule_id, include_hardening)
                })
                .map(|f| (f.rule_id.clone(), f.status))
                .collect();
            TargetRecord {
                account_id: target.account_id.clone(),
                region: target.region.clone(),
                decision: target.decision.clone(),
                outcome,
                rescan,
            }
        })
        .collect()
}

fn log_records(
    records: &[StepRecord],
    targets: &[TargetRecord],
    header: LogHeader,
    interrupted: bool,
) -> Vec<LogRecord> {
    let count = |status: StepStatus| records.iter().filter(|r| r.status == status).count();
    let end = LogEnd {
        ended_at: Utc::now(),
        changed: count(StepStatus::Changed),
        unchanged: count(StepStatus::Unchanged),
        failed: count(StepStatus::Failed),
        not_attempted: count(StepStatus::NotAttempted),
        interrupted,
    };
    std::iter::once(LogRecord::Remediation(header))
        .chain(records.iter().cloned().map(LogRecord::Step))
        .chain(targets.iter().cloned().map(LogRecord::Target))
        .chain(std::iter::once(LogRecord::End(end)))
        .collect()
}
