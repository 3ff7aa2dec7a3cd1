//! run.json's `delivery` section: where a run's findings were delivered after its reports
//! (Security Hub, notifications) and what failed. Plain data the reports record; the deliveries
//! themselves are in the `integrations` module.

use serde::{Deserialize, Serialize};

/// run.json's `delivery` section: where the run's findings were delivered, and what failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Delivery {
    /// The Security Hub import (`scan --security-hub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<SecurityHubDelivery>,
    /// The notifications (`scan --notify`) that could not be sent; those sent are in the log
    /// and the console (recording them would rewrite an archived run every night).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_failures: Vec<NotificationFailure>,
}

impl Delivery {
    /// Whether there is anything to record (an empty section is not written).
    pub fn is_empty(&self) -> bool {
        self.security_hub.is_none() && self.notification_failures.is_empty()
    }
}

/// The Security Hub part of run.json's `delivery` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct SecurityHubDelivery {
    /// Account-Regions findings were sent to.
    pub account_regions: usize,
    /// Findings imported (created or updated), archived ones included.
    pub imported: usize,
    /// Findings of earlier runs archived because this run no longer produces them.
    pub archived_stale: usize,
    /// Findings not imported.
    pub not_imported: usize,
    /// Where the import failed, and why.
    pub failures: Vec<DeliveryFailure>,
}

impl SecurityHubDelivery {
    /// Whether every finding was imported.
    pub fn complete(&self) -> bool {
        self.failures.is_empty()
    }
}

/// An account-Region (or a whole account) where the import failed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DeliveryFailure {
    /// The account.
    pub account_id: String,
    /// The Region; `None` when no Region of the account could be tried.
    pub region: Option<String>,
    /// Findings not imported there.
    pub findings: usize,
    /// Why (AWS's error, or the first failed finding's).
    pub error: String,
}

/// A notification that could not be sent, as run.json's `delivery` section records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NotificationFailure {
    /// The target as logs show it: a webhook's scheme and host only (its path is its secret).
    pub target: String,
    /// Why it failed.
    pub error: String,
}
