//! The AWS SDK's configuration, in one place: the clients (one shared HTTP client, timeouts,
//! retries), credentials (assumed once per account, refreshed), error classification, the
//! client-side rate limits, and `observe`, which records every call as evidence.
//!
//! The calls themselves (`.send()`) are made where their answers are used, always on a client
//! from [`AwsEnvironment`] and recorded through [`observe`]: `collect/` (the scan's reads),
//! `scope.rs` (the organization), `remediate/` (`probe.rs` reads, `apply.rs` writes), `upload.rs`
//! and `commands/setup.rs` (`check-config --probe`).

pub mod clients;
mod credentials;
pub mod errors;
pub mod observe;
pub mod rate;

pub use clients::AwsEnvironment;
