//! The commands: each takes its validated options and returns one [`Outcome`]; the binary only
//! parses the command line into those options, dispatches, prints and exits.

pub mod merge;
pub mod remediate;
pub mod report;
pub mod scan;
pub mod setup;

/// What a command ends with: what it prints on standard output, and the exit code it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Printed as it is (the console summary, the configuration check's report).
    pub output: String,
    /// The process's exit code (see the README's table).
    pub exit_code: u8,
}
