//! `scan --notify`: the run's message POSTed to a local webhook (a std TcpListener standing in
//! for Slack) and published to an SNS topic whose SQS subscription receives it on the emulator;
//! a webhook that refuses is a warning and exit code 2, the run kept.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use common::Emulator;
use serde_json::Value;

/// An account with a hostile name and Macie enabled without a repository (a FAIL).
const SCENARIO: &str = r#"
[[accounts]]
id = "111111111111"
name = "<!channel> prod\n• [critical] forged line & <https://evil|click>"
[[accounts.macie]]
region = "us-east-1"
created_days_ago = 45
"#;

/// One HTTP request as the local webhook received it.
struct Received {
    request_line: String,
    body: Vec<u8>,
}

/// A webhook on a free local port answering `status` to one request, which it sends back.
fn webhook(status: u16) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/services/T000/B000/SECRETPATH",
        listener.local_addr().expect("address")
    );
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        let _ = reader.read_line(&mut request_line);
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        );
        let _ = sender.send(Received { request_line, body });
    });
    (url, receiver)
}

async fn sdk(emulator: &Emulator) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&emulator.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

#[tokio::test]
async fn the_run_is_posted_to_a_webhook_and_published_to_sns() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let config = sdk(&emulator).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("macie-audit")
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name("audit-inbox")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("queue ARN");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe");

    let (url, received) = webhook(200);
    let run = emulator
        .scan()
        .regions("us-east-1")
        .arg("--accounts")
        .arg("111111111111")
        .arg("--notify")
        .arg(&format!("webhook={url}"))
        .arg("--notify")
        .arg(&format!("sns={topic}"))
        .run();
    run.assert_exit(1);
    assert!(
        run.stdout.contains("notified: webhook http://127.0.0.1:"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("SECRETPATH") && !run.stderr.contains("SECRETPATH"));
    let run_json = std::fs::read_to_string(run.dir().join("run.json")).expect("run.json");
    assert!(
        !run_json.contains("SECRETPATH"),
        "the webhook URL is redacted from run.json"
    );

    let posted = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the webhook got a request");
    assert!(
        posted
            .request_line
            .starts_with("POST /services/T000/B000/SECRETPATH "),
        "{}",
        posted.request_line
    );
    let message: Value = serde_json::from_slice(&posted.body).expect("a JSON body");
    let run_id = run.dir().file_name().and_then(|n| n.to_str()).expect("id");
    assert_eq!(message["run_id"], run_id);
    assert_eq!(message["complete"], true);
    assert_eq!(message["by_status"]["FAIL"], 1);
    assert_eq!(message["by_severity"]["medium"]["FAIL"], 1);
    assert_eq!(message["new_failures_total"], 1);
    let failure = &message["new_failures"][0];
    assert_eq!(failure["account_id"], "111111111111");
    assert_eq!(failure["rule_id"], "MACIE-002");
    assert_eq!(failure["region"], "us-east-1");
    assert!(
        failure["account_name"]
            .as_str()
            .is_some_and(|n| n.contains("<!channel>"))
    );
    assert_eq!(message["reports"]["local"], run.dir().display().to_string());
    let text = message["text"].as_str().expect("text");
    assert!(
        !text.contains("<!channel>") && text.contains("&lt;!channel&gt;"),
        "{text}"
    );
    assert!(
        !text.lines().any(|line| line.starts_with("• [critical]")),
        "a name forges no line: {text}"
    );

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(5)
        .send()
        .await
        .expect("receive");
    let envelope: Value =
        serde_json::from_str(received.messages()[0].body().expect("body")).expect("SNS envelope");
    assert!(
        envelope["Subject"]
            .as_str()
            .is_some_and(|s| s.contains(run_id))
    );
    let published: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("JSON");
    assert_eq!(published["run_id"], run_id);
    assert_eq!(published["new_failures"][0]["rule_id"], "MACIE-002");
}

#[tokio::test]
async fn a_refused_notification_is_exit_code_2_and_the_run_is_kept() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let (url, _received) = webhook(404);
    let run = emulator
        .scan()
        .regions("us-east-1")
        .arg("--accounts")
        .arg("111111111111")
        .arg("--notify")
        .arg(&format!("webhook={url}"))
        .arg("--notify")
        .arg("sns=arn:aws:sns:us-east-1:123456789012:no-such-topic")
        .run();
    run.assert_exit(2);
    assert!(
        run.stdout.contains("notification FAILED: webhook"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("HTTP 404"), "{}", run.stdout);
    assert!(
        run.stdout.contains("notification FAILED: sns"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("notification failed"), "{}", run.stderr);
    assert!(run.dir().join("report.html").exists());

    // run.json says what the process exits with, which deliveries failed and why, without the
    // webhook's secret path; the manifest covers it.
    let text = std::fs::read_to_string(run.dir().join("run.json")).expect("run.json");
    assert!(!text.contains("SECRETPATH"), "{text}");
    let meta: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(meta["exit_code"], 2);
    let reason = meta["exit_reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("notification failed (webhook http://127.0.0.1:")
            && reason.contains(
                "; notification failed (sns arn:aws:sns:us-east-1:123456789012:no-such-topic)"
            ),
        "{reason}"
    );
    assert!(
        run.stdout.contains(&format!("result: {reason} (exit 2)")),
        "{}",
        run.stdout
    );
    let failures = meta["delivery"]["notification_failures"]
        .as_array()
        .expect("failures");
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0]["error"], "HTTP 404");
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(run.dir())
        .status()
        .expect("sha256sum");
    assert!(sums.success());
}

/// With a baseline, the message lists only the failures that are NEW against it: the one that
/// failed the night before is counted in `by_status`, not listed.
#[tokio::test]
async fn with_a_baseline_only_new_failures_are_listed() {
    let mut emulator = Emulator::start();
    emulator.load_scenario(SCENARIO);
    let output = tempfile::tempdir().expect("temp");
    // The account filter makes the runs partial, never `latest`: the baseline is named.
    let scan = |url: &str, baseline: &str| {
        emulator
            .scan()
            .regions("us-east-1,eu-west-1")
            .arg("--accounts")
            .arg("111111111111")
            .arg("--baseline")
            .arg(baseline)
            .arg("--notify")
            .arg(&format!("webhook={url}"))
            .output_dir(output.path())
            .run()
    };
    let (url, received) = webhook(200);
    let night = scan(&url, "latest");
    night.assert_exit(1);
    let first: Value = serde_json::from_slice(
        &received
            .recv_timeout(Duration::from_secs(30))
            .expect("the first message")
            .body,
    )
    .expect("JSON");
    assert_eq!(first["baseline"], true);
    assert_eq!(first["new_failures_total"], 2, "{first}");

    // Macie enabled in eu-west-1 long ago without a repository: MACIE-002 fails there too.
    emulator.set_macie(serde_json::json!({
        "account": "111111111111", "region": "eu-west-1", "enabled": true, "created_days_ago": 45
    }));
    let (url, received) = webhook(200);
    scan(&url, &night.dir().display().to_string()).assert_exit(1);
    let second: Value = serde_json::from_slice(
        &received
            .recv_timeout(Duration::from_secs(30))
            .expect("the second message")
            .body,
    )
    .expect("JSON");
    assert_eq!(second["by_status"]["FAIL"], 2, "{second}");
    assert_eq!(second["new_failures_total"], 1, "{second}");
    let listed = second["new_failures"].as_array().expect("listed");
    assert_eq!(listed.len(), 1, "{second}");
    assert_eq!(listed[0]["region"], "eu-west-1");
    assert_eq!(listed[0]["rule_id"], "MACIE-002");
    let text = second["text"].as_str().expect("text");
    assert!(text.contains("1 NEW failures"), "{text}");
    assert!(text.contains("MACIE-002 111111111111"), "{text}");
}

#[test]
fn a_bad_notify_target_is_a_usage_error() {
    let emulator = Emulator::start();
    let run = emulator
        .scan()
        .arg("--notify")
        .arg("email=security@example.com")
        .run();
    run.assert_exit(3);
}
