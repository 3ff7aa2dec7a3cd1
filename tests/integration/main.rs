//! The integration tests, one binary: each module drives the `macie-audit` binary (or the library)
//! against the emulator through the harness in `common`, as a user would.
//!
//! One binary links the library and the SDK once, where a binary per file linked them fifteen
//! times; `cargo test --test integration <module>::` runs one module's tests.

mod common;
mod hostile;

mod browser;
mod call_counts;
mod config_errors;
mod credentials;
mod emulator_fidelity;
mod full_disk;
mod html;
mod interrupt;
mod notify;
mod operations;
mod permissions;
mod properties;
mod remediate;
mod reports;
mod repository;
mod scan;
mod security_hub;
mod setup;
mod shard;
mod upload;
