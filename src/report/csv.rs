//! `findings.csv`: RFC 4180, every field quoted, UTF-8, CRLF, one row per finding.
//!
//! Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab,
//! carriage return or line feed) are prefixed with a single quote, as OWASP recommends. Account
//! names, bucket names and messages come from AWS and may be written by an attacker.

use std::path::Path;

use chrono::SecondsFormat;

use super::{ReportInput, write_atomically};
use crate::error::Result;
use crate::rules;

/// The file name of the CSV report in a run directory.
pub const FILE_NAME: &str = "findings.csv";

/// The header row.
pub const COLUMNS: &[&str] = &[
    "run_id",
    "evaluated_at",
    "account_id",
    "account_name",
    "region",
    "rule_id",
    "rule_title",
    "status",
    "severity",
    "resource",
    "message",
    "remediation",
    "conformity_rule",
    "baseline_state",
    "suppressed",
    "suppression_justification",
    "suppression_owner",
    "suppression_expires",
    "ou_path",
];

/// Writes the findings to `dir/findings.csv`. `evaluated_at` is the run's end (its start for a
/// run that did not finish), so re-rendering a run gives the same file.
pub fn write(dir: &Path, input: &ReportInput<'_>) -> Result<()> {
    let metadata = input.metadata;
    let run_id = metadata.run_id.as_str();
    let evaluated_at = metadata
        .ended_at
        .unwrap_or(metadata.started_at)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let findings = input.findings;
    let bom = input.run.header.csv_bom;
    write_atomically(&dir.join(FILE_NAME), |out| {
        if bom {
            // For Excel, which reads a CSV file without one in the system's code page.
            out.write_all("\u{feff}".as_bytes())?;
        }
        let mut writer = ::csv::WriterBuilder::new()
            .quote_style(::csv::QuoteStyle::Always)
            .terminator(::csv::Terminator::CRLF)
            .from_writer(out);
        writer.write_record(COLUMNS)?;
        findings.try_for_each(|finding| {
            let rule = rules::rule(&finding.rule_id);
            let suppression = finding.suppression.as_ref();
            writer.write_record([
                run_id,
                &evaluated_at,
                &finding.account_id,
                &neutralise(&finding.account_name),
                &finding.region,
                &finding.rule_id,
                &neutralise(rule.map(|r| r.title).unwrap_or_default()),
                finding.status.as_str(),
                finding.severity.as_str(),
                &neutralise(&finding.resource),
                &neutralise(&finding.message),
                &neutralise(&finding.remediation),
                rule.and_then(|r| r.conformity_rule).unwrap_or_default(),
                finding.baseline.map(|b| b.as_str()).unwrap_or_default(),
                if finding.suppression.is_some() {
                    "SUPPRESSED"
                } else {
                    ""
                },
                &neutralise(
                    suppression
                        .map(|s| s.justification.as_str())
                        .unwrap_or_default(),
                ),
                &neutralise(suppression.map(|s| s.owner.as_str()).unwrap_or_default()),
                &suppression
                    .map(|s| s.expires.to_string())
                    .unwrap_or_default(),
                finding.ou_path.as_deref().unwrap_or_default(),
            ])?;
            Ok(())
        })?;
        writer.flush()?;
        Ok(())
    })
}

/// Makes a text cell inert in spreadsheets.
pub fn neutralise(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+cmd"), "'+cmd");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-1"), "'-1");
        assert_eq!(neutralise("\ttab"), "'\ttab");
        assert_eq!(neutralise("prod"), "prod");
        assert_eq!(neutralise(""), "");
    }
}
