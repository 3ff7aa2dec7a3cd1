//! Delivering a run where people work: Security Hub (`scan --security-hub`) and notifications
//! (`scan --notify`). Both read the findings the reports read ([`crate::triage::Findings`])
//! after the reports are written; neither changes a verdict, and a failure to deliver never stops
//! the scan: it is reported (a warning, run.json's `delivery` section and `exit_reason`) and makes
//! the exit code 2, as a failed upload does.

pub mod notify;
pub mod security_hub;

pub use crate::report::delivery::Delivery;

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
