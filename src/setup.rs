//! Setup helpers: `init` writes the documented default configuration, `check-config` validates a
//! configuration and, with `--probe`, tries the access it describes and names what is missing.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::cli::{CheckConfigArgs, InitArgs};
use crate::config::{self, LoadedConfig};
use crate::error::{EXIT_COMPLIANT, EXIT_INCOMPLETE, Error, Result};
use crate::evidence::{ApiError, ErrorKind, Observation};
use crate::permissions;
use crate::scope::{self, caller_identity};

/// The documented default configuration, as shipped in the repository.
pub const DEFAULT_CONFIG: &str = include_str!("../config.toml");

/// Writes the default configuration; refuses to overwrite a file unless forced.
pub fn init(args: &InitArgs) -> Result<String> {
    if args.path.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} already exists; use --force to overwrite it",
            args.path.display()
        )));
    }
    crate::report::write_atomically(&args.path, |out| out.write_all(DEFAULT_CONFIG.as_bytes()))?;
    Ok(format!(
        "wrote {}: every key with its default and what it does; edit it, then run macie-audit check-config --probe\n",
        args.path.display()
    ))
}

/// What `check-config` found, and the exit code it means.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The report, one line per check.
    pub report: String,
    /// 0 when every check passed, 2 when a probe failed.
    pub exit_code: u8,
}

/// Validates the configuration and, with `--probe`, tries the access.
pub async fn check_config(args: &CheckConfigArgs) -> Result<CheckOutcome> {
    let loaded = LoadedConfig::load(args.config.as_deref())?;
    if let Some(account) = &args.account {
        config::validate_accounts("--account", std::slice::from_ref(account))
            .map_err(Error::Usage)?;
    }
    let config = &loaded.config;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "configuration OK: {} (sha256 {})",
        loaded.display_path().display(),
        loaded.sha256
    );
    let _ = writeln!(
        report,
        "  role {} in member accounts{}; Regions: {}; concurrency {} accounts, {} requests",
        config.access.role_name,
        config
            .access
            .management_role_arn
            .as_deref()
            .map(|arn| format!(", organization read through {arn}"))
            .unwrap_or_default(),
        config.regions().join(","),
        config.concurrency.accounts,
        config.concurrency.requests
    );
    if !args.probe {
        return Ok(CheckOutcome {
            report,
            exit_code: EXIT_COMPLIANT,
        });
    }
    let env = AwsEnvironment::load(Arc::new(config.clone())).await;
    let mut failed = false;
    let mut check = |name: &str, outcome: std::result::Result<String, String>| match outcome {
        Ok(detail) => {
            let _ = writeln!(report, "  PASS  {name}: {detail}");
        }
        Err(detail) => {
            failed = true;
            let _ = writeln!(report, "  FAIL  {name}: {detail}");
        }
    };

    let caller = caller_identity(&env, env.caller()).await;
    let caller_account = caller
        .response()
        .map(|c| c.account.clone())
        .unwrap_or_default();
    check("caller identity", described(&caller, |c| c.arn.clone()));

    let plan = scope::plan(&env, config, None).await;
    let plan = match plan {
        Ok(plan) => {
            check(
                "organization listing",
                Ok(format!(
                    "{} accounts in scope, {} excluded",
                    plan.accounts.len(),
                    plan.excluded.len()
                )),
            );
            Some(plan)
        }
        // A name the organization does not have is the configuration's fault, not a permission.
        Err(error @ crate::error::Error::Usage(_)) => {
            check("organization listing", Err(error.to_string()));
            None
        }
        Err(error) => {
            check(
                "organization listing",
                Err(format!(
                    "{error}{}",
                    missing("organizations:ListAccountsForParent")
                )),
            );
            None
        }
    };

    let target = args.account.clone().or_else(|| {
        plan.as_ref().and_then(|plan| {
            plan.accounts
                .iter()
                .find(|a| a.is_active() && a.id != caller_account)
                .or_else(|| plan.accounts.iter().find(|a| a.is_active()))
                .map(|a| a.id.clone())
        })
    });
    match target {
        None => check("audit role", Err("no active account to try".into())),
        Some(account) => {
            let credentials = env.credentials_for(&account, &caller_account);
            let sdk_config = env.account_config(&credentials).await;
            let identity = caller_identity(&env, &sdk_config).await;
            let role = credentials
                .role_arn()
                .unwrap_or("the caller's credentials")
                .to_owned();
            check(
                &format!("audit role in {account}"),
                described(&identity, |i| format!("acting as {}", i.arn))
                    .map_err(|e| format!("{e} (role {role}){}", missing("sts:AssumeRole"))),
            );
            if identity.error().is_none() {
                let region = env.home_region().to_owned();
                let macie = env.macie(&sdk_config, &account, &region);
                let session = observation(
                    "macie2:GetMacieSession",
                    env.limited(macie.get_macie_session().send()).await,
                    |_| (),
                );
                let session_check = match session.error() {
                    None => Ok(format!("Macie answered in {region}")),
                    Some(e) if e.kind == ErrorKind::MacieNotEnabled => {
                        Ok(format!("allowed (Macie is not enabled in {region})"))
                    }
                    Some(e) => Err(format!("{e}{}", missing("macie2:GetMacieSession"))),
                };
                check(
                    &format!("macie2:GetMacieSession in {account}"),
                    session_check,
                );
                let s3 = env.s3(&sdk_config, &account, &region);
                let buckets = observation(
                    "s3:ListBuckets",
                    env.limited(s3.list_buckets().send()).await,
                    |o| o.buckets().len(),
                );
                check(
                    &format!("s3:ListBuckets in {account}"),
                    described(&buckets, |n| format!("{n} buckets"))
                        .map_err(|e| format!("{e}{}", missing("s3:ListBuckets"))),
                );
            }
        }
    }
    Ok(CheckOutcome {
        report,
        exit_code: if failed {
            EXIT_INCOMPLETE
        } else {
            EXIT_COMPLIANT
        },
    })
}

fn described<T>(
    observation: &Observation<T>,
    ok: impl FnOnce(&T) -> String,
) -> std::result::Result<String, String> {
    match observation.response() {
        Some(value) => Ok(ok(value)),
        None => Err(observation
            .error()
            .map(ApiError::to_string)
            .unwrap_or_else(|| "no answer".into())),
    }
}

/// A hint naming the IAM permission an operation needs.
fn missing(operation: &str) -> String {
    let action = permissions::api_call(operation)
        .and_then(|call| call.action)
        .unwrap_or(operation);
    format!(" — check that the identity is allowed {action} (see docs/permissions.md)")
}
