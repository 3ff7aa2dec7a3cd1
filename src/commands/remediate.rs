//! The `remediate` command: the remediation domain module plans and applies, talking to its user
//! through the terminal; the command only starts it.

use super::Outcome;
use crate::error::Result;
use crate::interrupt::Cancellation;
use crate::remediate::{self, RemediateOptions};

/// Plans, and with `--apply` makes and verifies, the remediation; the plan and the outcome are
/// printed as it goes.
pub async fn remediate(
    options: &RemediateOptions,
    command_line: &[String],
    show_progress: bool,
    cancellation: &Cancellation,
) -> Result<Outcome> {
    let outcome = remediate::remediate(
        options,
        command_line,
        show_progress,
        cancellation,
        &mut remediate::Terminal,
    )
    .await?;
    Ok(Outcome {
        output: String::new(),
        exit_code: outcome.exit_code,
    })
}
