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

    /// What marks each finding of a run that started on `today`, as it is evaluated.
    pub fn marks(&self, today: chrono::NaiveDate) -> TriageMarks<'_> {
        TriageMarks {
            suppressions: self
                .suppressions
                .as_ref()
                .map(|file| suppressions::ActiveSuppressions::new(file, today)),
            baseline: self.baseline.as_ref(),
            gate: self.gate,
        }
    }
}

/// Marks findings as they are evaluated: the suppression that accepts each, and where each
/// stands against the baseline. Marking is pure, so a run's findings can be evaluated and marked
/// again, identically, every time a report reads them.
#[derive(Debug, Clone)]
pub struct TriageMarks<'a> {
    suppressions: Option<suppressions::ActiveSuppressions<'a>>,
    baseline: Option<&'a Baseline>,
    gate: GatePolicy,
}

impl<'a> TriageMarks<'a> {
    /// No suppressions, no baseline, the default gate.
    pub const NONE: TriageMarks<'static> = TriageMarks {
        suppressions: None,
        baseline: None,
        gate: GatePolicy::DEFAULT,
    };

    /// The gate that decides the exit code.
    pub fn gate(&self) -> &GatePolicy {
        &self.gate
    }

    /// Marks one finding.
    pub fn mark(&self, finding: &mut Finding) {
        if let Some(suppressions) = &self.suppressions {
            suppressions.mark(finding);
        }
        if let Some(baseline) = self.baseline {
            baseline.mark(finding);
        }
    }

    /// A tally for one pass over the run's marked findings.
    pub fn tally(&self) -> TriageTally<'_> {
        TriageTally {
            marks: self,
            suppressions: Default::default(),
            baseline: Default::default(),
        }
    }
}

/// Counts a run's marked findings, once each, into what triage decided.
#[derive(Debug)]
pub struct TriageTally<'a> {
    marks: &'a TriageMarks<'a>,
    suppressions: suppressions::SuppressionTally,
    baseline: baseline::BaselineTally,
}

impl TriageTally<'_> {
    /// Counts a marked finding.
    pub fn add(&mut self, finding: &Finding) {
        self.suppressions.add(finding);
        if let Some(baseline) = self.marks.baseline {
            self.baseline.add(finding, baseline);
        }
    }

    /// What triage decided about `run`.
    pub fn finish(self, run: &crate::evidence::RunEvidence) -> Triage {
        Triage {
            suppressions: self
                .marks
                .suppressions
                .as_ref()
                .map(|active| active.report(self.suppressions)),
            baseline: self.marks.baseline.map(|b| b.report(self.baseline, run)),
            gate: self.marks.gate,
        }
    }
}
