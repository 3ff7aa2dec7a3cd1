//! `scan --notify`: one JSON message per run, to incoming webhooks (Slack, Teams, anything that
//! takes a JSON POST) and SNS topics, sent after the reports are written and uploaded.
//!
//! The message says which run, whether it is complete, the counts per status and per severity,
//! the NEW failures (with a baseline: FAIL findings marked NEW; without one every FAIL is new to
//! the reader; suppressed ones are left out), where the reports are, and the Security Hub
//! delivery. Its `text` field is what Slack and Teams incoming webhooks display: account names
//! come from AWS and are hostile, so every value in it is stripped of control characters,
//! escaped (`&`, `<`, `>`: Slack's mention and link syntax) and bounded, and the text as a whole
//! is bounded too.
//!
//! Webhooks are posted with the SDK's own HTTP stack (the hyper and rustls connector of
//! aws-smithy-http-client, which every AWS call already uses): no second HTTP client and TLS
//! stack in the binary for one POST a night.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde::Serialize;
use tracing::{info, warn};

use super::security_hub::SecurityHubDelivery;
use super::truncate_chars;
use crate::aws::AwsEnvironment;
use crate::aws::errors::classify;
use crate::error::Result;
use crate::findings::BaselineState;
use crate::findings::{Finding, Severity, Status};
use crate::report::metadata::RunMetadata;
use crate::report::summary::Tally;
use crate::triage::Findings;

pub use crate::report::delivery::NotificationFailure;

/// NEW failures listed in the message, at most (the total is always given).
const MAX_LISTED: usize = 50;
/// NEW failures shown in `text`, at most.
const MAX_TEXT_LINES: usize = 10;
/// `text`'s length, at most (Slack truncates a message's text well above this; Teams cards
/// become unreadable long before).
const MAX_TEXT_CHARS: usize = 3000;
/// A value from AWS shown in `text`, at most.
const MAX_TEXT_VALUE: usize = 64;
/// A value from AWS in the message's fields, at most.
const MAX_FIELD: usize = 512;
/// SNS subjects: at most 100 printable ASCII characters.
const MAX_SUBJECT: usize = 100;
/// One webhook POST, at most.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per webhook (a 429, a 5xx or no answer is tried again).
const WEBHOOK_ATTEMPTS: u32 = 3;

/// Where a run's message goes (`--notify KIND=TARGET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// An incoming webhook: the message is POSTed as JSON.
    Webhook(String),
    /// An SNS topic, published to with the scanner's own credentials.
    Sns {
        /// The topic's ARN.
        topic_arn: String,
        /// Its Region (from the ARN).
        region: String,
    },
}

impl std::str::FromStr for NotifyTarget {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        let usage = || format!("{value:?} is not webhook=https://… or sns=arn:aws:sns:…");
        let (kind, target) = value.split_once('=').ok_or_else(usage)?;
        match kind {
            "webhook" => {
                let scheme_ok = target.starts_with("https://") || target.starts_with("http://");
                let host = target.split_once("://").map_or("", |(_, rest)| rest);
                if !scheme_ok || host.is_empty() || host.starts_with('/') {
                    return Err(format!("webhook={target:?}: not an http(s):// URL"));
                }
                if target.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err("webhook URL: no spaces or control characters".into());
                }
                Ok(NotifyTarget::Webhook(target.to_owned()))
            }
            "sns" => {
                let parts: Vec<&str> = target.split(':').collect();
                match parts.as_slice() {
                    ["arn", partition, "sns", region, account, name]
                        if partition.starts_with("aws")
                            && !region.is_empty()
                            && account.len() == 12
                            && account.chars().all(|c| c.is_ascii_digit())
                            && !name.is_empty() =>
                    {
                        Ok(NotifyTarget::Sns {
                            topic_arn: target.to_owned(),
                            region: (*region).to_owned(),
                        })
                    }
                    _ => Err(format!("sns={target:?}: not an SNS topic ARN")),
                }
            }
            _ => Err(usage()),
        }
    }
}

impl std::fmt::Display for NotifyTarget {
    /// For logs and summaries: a webhook's URL path is its secret (Slack's, Teams'), so only its
    /// scheme and host are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotifyTarget::Webhook(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = host.rsplit('@').next().unwrap_or_default();
                write!(f, "webhook {scheme}://{host}/…")
            }
            NotifyTarget::Sns { topic_arn, .. } => write!(f, "sns {topic_arn}"),
        }
    }
}

/// The message of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunNotice {
    /// `macie-audit`.
    pub tool: &'static str,
    /// The scanner's version.
    pub version: &'static str,
    /// The run's id.
    pub run_id: String,
    /// Whether every account-Region in scope was evaluated.
    pub complete: bool,
    /// Whether the run was interrupted.
    pub interrupted: bool,
    /// The scan's exit code (delivery included, this notification aside).
    pub exit_code: u8,
    /// Findings per status (`PASS`, `FAIL`, …).
    pub by_status: std::collections::BTreeMap<&'static str, usize>,
    /// Findings per severity, then status.
    pub by_severity:
        std::collections::BTreeMap<&'static str, std::collections::BTreeMap<&'static str, usize>>,
    /// Whether a baseline was compared with (without one, every FAIL is new).
    pub baseline: bool,
    /// NEW failures, in all.
    pub new_failures_total: usize,
    /// The first of them.
    pub new_failures: Vec<NewFailure>,
    /// Where the reports are.
    pub reports: ReportLocations,
    /// The Security Hub import, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<SecurityHubDelivery>,
    /// A readable summary, for Slack and Teams incoming webhooks.
    pub text: String,
}

/// A NEW failure, as the message lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFailure {
    /// The account.
    pub account_id: String,
    /// Its name (untrusted text, bounded).
    pub account_name: String,
    /// Its OU path.
    pub ou_path: Option<String>,
    /// The Region.
    pub region: String,
    /// The rule.
    pub rule_id: String,
    /// The rule's severity.
    pub severity: Severity,
    /// The resource.
    pub resource: String,
    /// Why.
    pub message: String,
}

/// Where a run's reports are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportLocations {
    /// The run directory.
    pub local: String,
    /// The upload location, when the run was uploaded.
    pub upload: Option<String>,
}

/// Whether a finding is a NEW failure for the message.
fn is_new_failure(finding: &Finding, with_baseline: bool) -> bool {
    finding.status == Status::Fail
        && finding.suppression.is_none()
        && (!with_baseline || finding.baseline == Some(BaselineState::New))
}

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Informational,
];

/// Puts a run's message together from its findings (read once more, as the reports read them).
pub fn notice(
    findings: &Findings<'_>,
    tally: &Tally,
    metadata: &RunMetadata,
    run_dir: &Path,
    upload: Option<&str>,
    security_hub: Option<&SecurityHubDelivery>,
    exit_code: u8,
) -> Result<RunNotice> {
    let with_baseline = metadata.triage.baseline.is_some();
    let mut new_failures = Vec::new();
    let mut new_failures_total = 0;
    findings
        .try_for_each(|finding| {
            if is_new_failure(finding, with_baseline) {
                new_failures_total += 1;
                if new_failures.len() < MAX_LISTED {
                    new_failures.push(NewFailure {
                        account_id: finding.account_id.clone(),
                        account_name: truncate_chars(&finding.account_name, MAX_FIELD),
                        ou_path: finding
                            .ou_path
                            .as_deref()
                            .map(|p| truncate_chars(p, MAX_FIELD)),
                        region: finding.region.clone(),
                        rule_id: finding.rule_id.clone(),
                        severity: finding.severity,
                        resource: truncate_chars(&finding.resource, MAX_FIELD),
                        message: truncate_chars(&finding.message, MAX_FIELD),
                    });
                }
            }
            Ok(())
        })
        .map_err(|error| crate::error::Error::output(run_dir, error))?;
    let counts = tally.by_status();
    let by_status = Status::ALL
        .iter()
        .map(|status| (status.as_str(), counts[status.index()]))
        .collect();
    let by_severity = SEVERITIES
        .iter()
        .map(|severity| {
            let counts = tally.by_severity(*severity);
            let statuses = Status::ALL
                .iter()
                .filter(|status| counts[status.index()] > 0)
                .map(|status| (status.as_str(), counts[status.index()]))
                .collect();
            (severity.as_str(), statuses)
        })
        .collect();
    let mut notice = RunNotice {
        tool: "macie-audit",
        version: env!("CARGO_PKG_VERSION"),
        run_id: metadata.run_id.clone(),
        complete: metadata.complete,
        interrupted: metadata.interrupted,
        exit_code,
        by_status,
        by_severity,
        baseline: with_baseline,
        new_failures_total,
        new_failures,
        reports: ReportLocations {
            local: run_dir.display().to_string(),
            upload: upload.map(str::to_owned),
        },
        security_hub: security_hub.cloned(),
        text: String::new(),
    };
    notice.text = text(&notice);
    Ok(notice)
}

/// A value from AWS made safe for chat text: no control characters (no forged lines), Slack's
/// special characters escaped, bounded.
pub fn chat_escape(value: &str) -> String {
    let bounded = truncate_chars(value, MAX_TEXT_VALUE);
    let mut out = String::with_capacity(bounded.len());
    for c in bounded.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The `text` of a message.
fn text(notice: &RunNotice) -> String {
    let mut text = String::new();
    let state = if notice.interrupted {
        "INTERRUPTED"
    } else if notice.complete {
        "complete"
    } else {
        "INCOMPLETE"
    };
    let _ = writeln!(
        text,
        "macie-audit run {}: {state}, exit code {}",
        chat_escape(&notice.run_id),
        notice.exit_code
    );
    let counts: Vec<String> = notice
        .by_status
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(status, count)| format!("{status} {count}"))
        .collect();
    let _ = writeln!(text, "{}", counts.join(" · "));
    let what = if notice.baseline {
        "NEW failures"
    } else {
        "failures (no baseline)"
    };
    let _ = writeln!(text, "{} {what}", notice.new_failures_total);
    for failure in notice.new_failures.iter().take(MAX_TEXT_LINES) {
        let _ = writeln!(
            text,
            "• [{}] {} {} ({}) {} {}",
            failure.severity,
            chat_escape(&failure.rule_id),
            chat_escape(&failure.account_id),
            chat_escape(&failure.account_name),
            chat_escape(&failure.region),
            chat_escape(&failure.resource),
        );
    }
    let listed = notice.new_failures_total.min(MAX_TEXT_LINES);
    if notice.new_failures_total > listed {
        let _ = writeln!(text, "… and {} more", notice.new_failures_total - listed);
    }
    if let Some(hub) = &notice.security_hub {
        let _ = writeln!(
            text,
            "Security Hub: {} imported, {} failed account-Regions",
            hub.imported,
            hub.failures.len()
        );
    }
    let _ = write!(text, "Reports: {}", chat_escape_path(&notice.reports.local));
    if let Some(upload) = &notice.reports.upload {
        let _ = write!(text, " ({})", chat_escape_path(upload));
    }
    truncate_chars(&text, MAX_TEXT_CHARS)
}

/// A location made safe for chat text, bounded more loosely than names.
fn chat_escape_path(value: &str) -> String {
    truncate_chars(value, 512)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SNS subject of a message: printable ASCII, one line, at most 100 characters.
fn subject(notice: &RunNotice) -> String {
    let state = if notice.complete {
        "complete"
    } else {
        "INCOMPLETE"
    };
    let subject = format!(
        "macie-audit {}: {state}, {} new failures",
        notice.run_id, notice.new_failures_total
    );
    subject
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(MAX_SUBJECT)
        .collect()
}

/// What sending to one target gave: `Err` with the reason it failed.
pub type Sent = std::result::Result<(), String>;

/// Sends the message to every target, one after the other; each target's outcome in order.
pub async fn send_all(
    env: &AwsEnvironment,
    targets: &[NotifyTarget],
    notice: &RunNotice,
) -> Vec<(NotifyTarget, Sent)> {
    let body = match serde_json::to_string(notice) {
        Ok(body) => body,
        Err(error) => {
            let reason = format!("the message could not be written: {error}");
            return targets
                .iter()
                .map(|target| (target.clone(), Err(reason.clone())))
                .collect();
        }
    };
    let mut outcomes = Vec::with_capacity(targets.len());
    for target in targets {
        let sent = match target {
            NotifyTarget::Webhook(url) => post_webhook(url, &body).await,
            NotifyTarget::Sns { topic_arn, region } => {
                let client = env.sns(region);
                client
                    .publish()
                    .topic_arn(topic_arn)
                    .subject(subject(notice))
                    .message(&body)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|error| classify(&error).to_string())
            }
        };
        match &sent {
            Ok(()) => info!(%target, "notified"),
            Err(reason) => warn!(%target, %reason, "notification failed"),
        }
        outcomes.push((target.clone(), sent));
    }
    outcomes
}

/// POSTs `body` to `url`, trying again after a 429, a 5xx or no answer.
async fn post_webhook(url: &str, body: &str) -> Sent {
    let connector = aws_smithy_http_client::Connector::builder()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .build();
    let mut last = String::new();
    for attempt in 0..WEBHOOK_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        }
        let mut request = HttpRequest::new(SdkBody::from(body.to_owned()));
        request
            .set_method("POST")
            .map_err(|error| format!("invalid request: {error}"))?;
        request
            .set_uri(url)
            .map_err(|error| format!("invalid webhook URL: {error}"))?;
        request
            .headers_mut()
            .insert("content-type", "application/json; charset=utf-8");
        request.headers_mut().insert(
            "user-agent",
            concat!("macie-audit/", env!("CARGO_PKG_VERSION")),
        );
        match tokio::time::timeout(WEBHOOK_TIMEOUT, connector.call(request)).await {
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(());
                }
                last = format!("HTTP {status}");
                if status != 429 && status < 500 {
                    return Err(last);
                }
            }
            Ok(Err(error)) => last = format!("no answer: {error}"),
            Err(_) => last = format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs()),
        }
    }
    Err(format!("{last} (after {WEBHOOK_ATTEMPTS} attempts)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_hide_webhook_secrets() {
        let hook: NotifyTarget = "webhook=https://hooks.slack.com/services/T0/B0/SECRET"
            .parse()
            .expect("webhook");
        assert_eq!(hook.to_string(), "webhook https://hooks.slack.com/…");
        assert!(!hook.to_string().contains("SECRET"));
        let sns: NotifyTarget = "sns=arn:aws:sns:eu-west-1:111111111111:audit"
            .parse()
            .expect("sns");
        assert_eq!(
            sns,
            NotifyTarget::Sns {
                topic_arn: "arn:aws:sns:eu-west-1:111111111111:audit".into(),
                region: "eu-west-1".into()
            }
        );
        for bad in [
            "webhook",
            "webhook=ftp://x",
            "webhook=https://",
            "webhook=https://a b",
            "sns=arn:aws:sqs:eu-west-1:111111111111:q",
            "sns=arn:aws:sns:eu-west-1:1111:t",
            "email=a@b",
        ] {
            assert!(bad.parse::<NotifyTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_names_cannot_forge_lines_mentions_or_links() {
        let escaped = chat_escape("prod\n• [critical] <!channel> <https://evil|click> & co");
        assert!(!escaped.contains('\n'));
        assert!(!escaped.contains('<') && !escaped.contains('>'));
        assert!(escaped.contains("&lt;!channel&gt;"));
        assert!(escaped.contains("&amp; co"));
        assert!(chat_escape(&"x".repeat(1000)).chars().count() <= MAX_TEXT_VALUE);
    }

    fn notice_with(failures: usize) -> RunNotice {
        let failure = NewFailure {
            account_id: "111111111111".into(),
            account_name: "<b>\u{2028}name".into(),
            ou_path: None,
            region: "us-east-1".into(),
            rule_id: "MACIE-002".into(),
            severity: Severity::Medium,
            resource: "arn:aws:macie2:us-east-1:111111111111:session".into(),
            message: "m".into(),
        };
        let mut notice = RunNotice {
            tool: "macie-audit",
            version: "0",
            run_id: "20261001T000000Z".into(),
            complete: true,
            interrupted: false,
            exit_code: 1,
            by_status: [("FAIL", failures), ("PASS", 3)].into_iter().collect(),
            by_severity: Default::default(),
            baseline: true,
            new_failures_total: failures,
            new_failures: vec![failure; failures.min(MAX_LISTED)],
            reports: ReportLocations {
                local: "reports/20261001T000000Z".into(),
                upload: Some("s3://b/p/20261001T000000Z/".into()),
            },
            security_hub: None,
            text: String::new(),
        };
        notice.text = text(&notice);
        notice
    }

    #[test]
    fn the_text_summarises_and_is_bounded() {
        let notice = notice_with(2);
        assert!(
            notice
                .text
                .starts_with("macie-audit run 20261001T000000Z: complete, exit code 1\n")
        );
        assert!(notice.text.contains("FAIL 2 · PASS 3"));
        assert!(notice.text.contains("2 NEW failures"));
        assert!(notice.text.contains("(&lt;b&gt; name)"));
        assert!(notice.text.ends_with("(s3://b/p/20261001T000000Z/)"));
        let many = notice_with(5000);
        assert!(many.text.contains("… and 4990 more"));
        assert_eq!(many.new_failures.len(), MAX_LISTED);
        assert!(many.text.chars().count() <= MAX_TEXT_CHARS);
    }

    #[test]
    fn the_sns_subject_is_one_printable_ascii_line() {
        let mut notice = notice_with(1);
        notice.run_id = "\u{1F4A5}\nid".repeat(50);
        let subject = subject(&notice);
        assert!(subject.len() <= MAX_SUBJECT);
        assert!(subject.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    }
}
