//! The command line: every subcommand and flag, parsed once into the library's options. clap
//! lives here, in the binary; the library's commands take plain, validated options.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use macie_audit::commands::merge::MergeOptions;
use macie_audit::commands::report::ReportOptions;
use macie_audit::commands::scan::ScanOptions;
use macie_audit::commands::setup::{CheckConfigOptions, InitOptions};
use macie_audit::findings::Severity;
use macie_audit::integrations::notify::NotifyTarget;
use macie_audit::logging::LogFormat;
use macie_audit::remediate::{OutputFormat, RemediateOptions, Strategy};
use macie_audit::scope::ConfigOverrides;
use macie_audit::shard::ShardArg;
use macie_audit::triage::{GatePolicy, TriageOptions};

/// A flag whose value is one of `names`, parsed by the library type's `FromStr` (`--help` lists
/// the names).
fn one_of<T>(names: impl IntoIterator<Item = &'static str>) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}

/// Audits an AWS Organization for Amazon Macie's sensitive data discovery results repository.
#[derive(Debug, Parser)]
#[command(name = "macie-audit", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). Logs go to stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors in the logs, and no progress bar.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log line format.
    #[arg(long, value_parser = one_of::<LogFormat>(LogFormat::NAMES), default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the organization and write a run's evidence and reports.
    Scan(ScanArgs),
    /// Re-evaluate and re-render a past run from its evidence alone (no AWS access).
    Report(ReportArgs),
    /// Write a commented default configuration file.
    Init(InitArgs),
    /// Validate the configuration; with --probe, try the access it describes.
    CheckConfig(CheckConfigArgs),
    /// Combine the runs of shards (scan --shard K/N) into one run with all reports.
    Merge(MergeArgs),
    /// Plan (and with --apply, make) the changes that fix MACIE-002/003/004, then re-scan.
    Remediate(RemediateArgs),
}

/// Arguments of `remediate`.
#[derive(Debug, Clone, Args)]
pub struct RemediateArgs {
    /// The configuration and the flags that override it; the re-scan's run goes to the output directory.
    #[command(flatten)]
    pub settings: ConfigArgs,

    /// Where the results go: a repository per account and Region, or the organization's central one.
    #[arg(long, value_parser = one_of::<Strategy>(Strategy::NAMES), default_value = "own")]
    pub strategy: Strategy,

    /// Make the changes (without it, only plan them: no write call is made).
    #[arg(long)]
    pub apply: bool,

    /// Do not ask for confirmation (required with --apply when stdin is not a terminal).
    #[arg(long, requires = "apply")]
    pub yes: bool,

    /// Repoint export configurations that name another repository (never deleted).
    #[arg(long)]
    pub force: bool,

    /// With --strategy repair: cancel the deletion of a repository key pending deletion and
    /// enable a disabled one (without it, such repositories are blocked).
    #[arg(long)]
    pub recover_keys: bool,

    /// With --strategy repair: also repair account-Regions whose MACIE-005 (repository
    /// hardening: default encryption, versioning, key rotation) fails or warns.
    #[arg(long)]
    pub include_hardening: bool,

    /// Output format of the plan and the outcome.
    #[arg(long, value_parser = one_of::<OutputFormat>(OutputFormat::NAMES), default_value = "text")]
    pub format: OutputFormat,
}

/// Arguments of `merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' run directories.
    #[arg(value_name = "RUN_DIR", required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,

    /// Where the merged run is written [default: reports].
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub output_dir: PathBuf,

    /// Merge even when shards of the split are missing: the merged run is partial (it says
    /// which shards it holds) and never becomes `latest`.
    #[arg(long)]
    pub allow_partial: bool,

    /// Suppressions, baseline and the severity gate for the merged run.
    #[command(flatten)]
    pub triage: TriageArgs,
}

/// Arguments of `init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(long, value_name = "PATH", default_value = "config.toml")]
    pub path: PathBuf,

    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `check-config`.
#[derive(Debug, Clone, Args)]
pub struct CheckConfigArgs {
    /// The configuration file [default: ./config.toml when it exists, else built-in defaults].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Also try the access: the caller's identity, listing the organization, and one account's audit role.
    #[arg(long)]
    pub probe: bool,

    /// The account whose audit role --probe tries [default: the first active account other than the caller's].
    #[arg(long, value_name = "ID", requires = "probe")]
    pub account: Option<String>,
}

/// Arguments of `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run directory, or its evidence.jsonl.
    #[arg(value_name = "RUN_DIR|EVIDENCE")]
    pub source: PathBuf,

    /// Where to write the reports [default: the run's own directory; its evidence is kept as is].
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Re-render evidence that does not match its SHA256SUMS (only into another --output-dir);
    /// every report then says that the evidence was modified after delivery.
    #[arg(long)]
    pub accept_modified_evidence: bool,

    /// Suppressions, baseline and the severity gate.
    #[command(flatten)]
    pub triage: TriageArgs,
}

/// What happens to findings after evaluation: exceptions, drift, and which ones fail the run.
#[derive(Debug, Clone, Args)]
pub struct TriageArgs {
    /// Exit 1 only for FAIL findings at or above this severity.
    #[arg(long, value_name = "SEVERITY", value_parser = one_of::<Severity>(Severity::ALL.map(Severity::as_str)), default_value = "low")]
    pub fail_on: Severity,

    /// WARN findings (at or above --fail-on) fail the run too.
    #[arg(long)]
    pub fail_on_warn: bool,

    /// Only failures NEW against the baseline fail the run (needs --baseline).
    #[arg(long, requires = "baseline")]
    pub fail_on_new: bool,

    /// Compare with a previous run: its directory, or "latest" (the newest full run in the output directory; none yet: every failure is NEW).
    #[arg(long, value_name = "RUN_DIR|latest")]
    pub baseline: Option<String>,

    /// Suppressions file (TOML): accepted exceptions with justification, owner and expiry.
    #[arg(long, value_name = "FILE")]
    pub suppressions: Option<PathBuf>,
}

impl TriageArgs {
    /// What the flags ask of triage.
    fn options(self) -> TriageOptions {
        TriageOptions {
            baseline: self.baseline,
            suppressions: self.suppressions,
            gate: GatePolicy {
                fail_on: self.fail_on,
                fail_on_warn: self.fail_on_warn,
                fail_on_new: self.fail_on_new,
            },
        }
    }
}

/// The configuration file and the flags that override it (`scan`, `remediate`).
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The configuration file [default: ./config.toml when it exists, else built-in defaults].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Where runs are written (overrides output.directory).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Comma-separated Regions, or "all" (overrides scope.regions).
    #[arg(long, value_name = "R1,R2")]
    pub regions: Option<String>,

    /// Comma-separated account ids to scan (overrides scope.accounts).
    #[arg(long, value_name = "ID,ID")]
    pub accounts: Option<String>,
}

/// Flags of `scan`; each overrides the configuration file.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// The configuration and the flags that override it.
    #[command(flatten)]
    pub settings: ConfigArgs,

    /// Scan only shard K of N (a deterministic split of the accounts), for parallel runners;
    /// combine the shards' runs with `merge`. "auto": from a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with --shard-count) or an AWS Batch array job
    /// (AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JOB_ARRAY_SIZE).
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<ShardArg>,

    /// The number of shards with --shard auto (a Kubernetes Indexed Job's completions).
    #[arg(long, value_name = "N", requires = "shard", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,

    /// Suppressions, baseline and the severity gate.
    #[command(flatten)]
    pub triage: TriageArgs,

    /// Upload the whole run directory to this S3 location after writing it, and verify it.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub upload: Option<String>,

    /// KMS key (id, ARN or alias) for SSE-KMS on uploaded objects [default: the bucket's default].
    #[arg(long, value_name = "KEY", requires = "upload")]
    pub upload_kms_key: Option<String>,

    /// Object Lock retention (compliance mode) of uploaded objects, in days.
    #[arg(long, value_name = "DAYS", requires = "upload", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub upload_retain_days: Option<u32>,

    /// Import the findings into AWS Security Hub, in each finding's account and Region, with
    /// that account's credentials (a failure is reported and makes the exit code 2).
    #[arg(long)]
    pub security_hub: bool,

    /// Send one JSON message about the run: webhook=URL (a JSON POST, with a `text` field for
    /// Slack and Teams) or sns=TOPIC_ARN. Repeatable.
    #[arg(long, value_name = "webhook=URL|sns=TOPIC_ARN")]
    pub notify: Vec<NotifyTarget>,
}

impl ConfigArgs {
    fn overrides(self) -> ConfigOverrides {
        ConfigOverrides {
            config: self.config,
            output_dir: self.output_dir,
            regions: self.regions,
            accounts: self.accounts,
        }
    }
}

impl ScanArgs {
    /// What the flags ask of `scan`.
    pub fn options(self) -> ScanOptions {
        ScanOptions {
            settings: self.settings.overrides(),
            shard: self.shard,
            shard_count: self.shard_count,
            triage: self.triage.options(),
            upload: self.upload,
            upload_kms_key: self.upload_kms_key,
            upload_retain_days: self.upload_retain_days,
            security_hub: self.security_hub,
            notify: self.notify,
        }
    }
}

impl ReportArgs {
    /// What the flags ask of `report`.
    pub fn options(self) -> ReportOptions {
        ReportOptions {
            source: self.source,
            output_dir: self.output_dir,
            accept_modified_evidence: self.accept_modified_evidence,
            triage: self.triage.options(),
        }
    }
}

impl MergeArgs {
    /// What the flags ask of `merge`.
    pub fn options(self) -> MergeOptions {
        MergeOptions {
            runs: self.runs,
            output_dir: self.output_dir,
            allow_partial: self.allow_partial,
            triage: self.triage.options(),
        }
    }
}

impl InitArgs {
    /// What the flags ask of `init`.
    pub fn options(self) -> InitOptions {
        InitOptions {
            path: self.path,
            force: self.force,
        }
    }
}

impl CheckConfigArgs {
    /// What the flags ask of `check-config`.
    pub fn options(self) -> CheckConfigOptions {
        CheckConfigOptions {
            config: self.config,
            probe: self.probe,
            account: self.account,
        }
    }
}

impl RemediateArgs {
    /// What the flags ask of `remediate`.
    pub fn options(self) -> RemediateOptions {
        RemediateOptions {
            settings: self.settings.overrides(),
            strategy: self.strategy,
            apply: self.apply,
            yes: self.yes,
            force: self.force,
            recover_keys: self.recover_keys,
            include_hardening: self.include_hardening,
            format: self.format,
        }
    }
}
