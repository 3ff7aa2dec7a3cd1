//! The only part of the crate that knows the AWS SDK: clients, credentials, and error classification.

pub mod clients;
mod credentials;
pub mod errors;
pub mod observe;
pub mod rate;

pub use clients::AwsEnvironment;
