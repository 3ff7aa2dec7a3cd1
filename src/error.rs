//! The library's error type, which owns the process exit code it maps to.

use std::path::PathBuf;

/// Exit code: the run completed and found nothing failing.
pub const EXIT_COMPLIANT: u8 = 0;
/// Exit code: the run completed and at least one rule failed.
pub const EXIT_FAILURES: u8 = 1;
/// Exit code: the run is incomplete (something could not be checked), whatever else it found.
pub const EXIT_INCOMPLETE: u8 = 2;
/// Exit code: the command line or the configuration is wrong; nothing was scanned.
pub const EXIT_USAGE: u8 = 3;
/// Exit code: interrupted (Ctrl-C, SIGTERM); the reports cover what was finished.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Everything that can stop a command before it produces its result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line flag is missing, malformed or contradicts another.
    #[error("{0}")]
    Usage(String),

    /// The configuration file is unreadable, malformed or holds an impossible value.
    #[error("{path}: {message}")]
    Config {
        /// The configuration file (or `<command line>` for a flag override).
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },

    /// The organization's population could not be established, so no complete scan is possible.
    #[error("{0}")]
    Scope(String),

    /// A saved evidence file cannot be read back.
    #[error("{path}: {message}")]
    Evidence {
        /// The evidence file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// An input the command refuses to rely on: evidence that does not match the manifest it
    /// was delivered with, a baseline that is damaged or is not a run. Nothing was scanned or
    /// written.
    #[error("{path}: {message}")]
    DamagedInput {
        /// The file or run directory refused.
        path: PathBuf,
        /// Why, naming every file that differs.
        message: String,
    },

    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config { .. } | Error::DamagedInput { .. } => EXIT_USAGE,
            Error::Scope(_) | Error::Evidence { .. } | Error::Output { .. } => EXIT_INCOMPLETE,
        }
    }

    /// Shorthand for a configuration error about `path`.
    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an output error about `path`.
    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Output {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
