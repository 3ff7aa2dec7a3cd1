//! Delivering a run where people work: Security Hub (`scan --security-hub`) and notifications
//! (`scan --notify`). Both read the findings the reports read ([`crate::triage::Findings`])
//! after the reports are written; neither changes a verdict, and a failure to deliver never stops
//! the scan: it is reported (a warning, run.json's `delivery` section and `exit_reason`) and makes
//! the exit code 2, as a failed upload does.

pub mod notify;
pub mod security_hub;

use serde::{Deserialize, Serialize};

/// run.json's `delivery` section: where the run's findings were delivered, and what failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Delivery {
    /// The Security Hub import (`scan --security-hub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<security_hub::SecurityHubDelivery>,
    /// The notifications (`scan --notify`) that could not be sent; those sent are in the log
    /// and the console (recording them would rewrite an archived run every night).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_failures: Vec<notify::NotificationFailure>,
}

impl Delivery {
    /// Whether there is anything to record (an empty section is not written).
    pub fn is_empty(&self) -> bool {
        self.security_hub.is_none() && self.notification_failures.is_empty()
    }
}

/// Keeps at most `max` characters of untrusted text (account names, AWS messages), on a
/// character boundary, marking the cut with an ellipsis.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some(_) if max == 0 => String::new(),
        Some(_) => {
            let kept: String = text.chars().take(max.saturating_sub(1)).collect();
            kept + "…"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("ééééé", 5), "ééééé");
        assert_eq!(truncate_chars("éééééé", 5), "éééé…");
        assert_eq!(truncate_chars("é", 0), "");
    }
}
