//! The commands: each takes its validated options and returns one [`Outcome`]; the binary only
//! parses the command line into those options and dispatches.

pub mod merge;
pub mod report;
pub mod scan;
pub mod setup;
