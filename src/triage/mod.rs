//! Triage: what a team does with findings after evaluation — exceptions auditors can read
//! (suppressions), drift against a previous run (baseline), and which findings fail the run
//! (the severity gate). Pure functions over findings; evaluation itself is untouched.

pub mod baseline;
pub mod gate;
pub mod suppressions;

use serde::{Deserialize, Serialize};

pub use baseline::{Baseline, BaselineReport};
pub use gate::GatePolicy;
pub use suppressions::{SuppressionFile, SuppressionReport};

use crate::findings::Finding;

/// Everything triage decided about a run, for the reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Triage {
    /// The comparison with a previous run, when one was given.
    pub baseline: Option<BaselineReport>,
    /// The suppressions applied, when a file was given.
    pub suppressions: Option<SuppressionReport>,
    /// The gate that decided the exit code.
    pub gate: GatePolicy,
}

/// The inputs of triage, read and validated before anything is scanned.
#[derive(Debug, Clone, Default)]
pub struct TriageInputs {
    /// The suppressions file, if any.
    pub suppressions: Option<SuppressionFile>,
    /// The baseline run, if any.
    pub baseline: Option<Baseline>,
    /// The gate.
    pub gate: GatePolicy,
}

impl TriageInputs {
    /// Reads the suppressions and the baseline the flags name; `latest` resolves in `output_dir`.
    pub fn load(
        args: &crate::cli::TriageArgs,
        output_dir: &std::path::Path,
    ) -> crate::error::Result<TriageInputs> {
        Ok(TriageInputs {
            suppressions: args
                .suppressions
                .as_deref()
                .map(SuppressionFile::load)
                .transpose()?,
            baseline: args
                .baseline
                .as_deref()
                .map(|spec| Baseline::load(spec, output_dir))
                .transpose()?,
            gate: GatePolicy {
                fail_on: args.fail_on,
                fail_on_warn: args.fail_on_warn,
                fail_on_new: args.fail_on_new,
            },
        })
    }

    /// Applies them to freshly evaluated findings of a run that started on `today`.
    pub fn apply(&self, findings: &mut [Finding], today: chrono::NaiveDate) -> Triage {
        triage(
            findings,
            self.suppressions.as_ref(),
            self.baseline.as_ref(),
            self.gate,
            today,
        )
    }
}

/// Applies suppressions and the baseline to freshly evaluated findings.
pub fn triage(
    findings: &mut [Finding],
    suppressions: Option<&SuppressionFile>,
    baseline: Option<&Baseline>,
    gate: GatePolicy,
    today: chrono::NaiveDate,
) -> Triage {
    Triage {
        suppressions: suppressions.map(|file| suppressions::apply(findings, file, today)),
        baseline: baseline.map(|baseline| baseline::compare(findings, baseline)),
        gate,
    }
}
