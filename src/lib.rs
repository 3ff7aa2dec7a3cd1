//! macie-audit: audits a whole AWS Organization for Amazon Macie storing its sensitive data
//! discovery results in a safe repository (Trend Micro Conformity Macie2-002).
//!
//! Data flows one way: configuration → scope → collection → evidence → evaluation → findings →
//! reports. Rules never call AWS; collection never decides a verdict; reports never recompute one.

pub mod aws;
pub mod collect;
pub mod commands;
pub mod config;
pub mod error;
pub mod evidence;
pub mod findings;
pub mod integrations;
pub mod interrupt;
pub mod logging;
pub mod macie_access;
pub mod permissions;
pub mod policy;
pub mod regions;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod run_dir;
pub mod scope;
pub mod shard;
pub mod triage;
pub mod upload;

pub use error::{Error, Result};
