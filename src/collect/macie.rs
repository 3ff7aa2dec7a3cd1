//! Macie's evidence in one account and Region.

use aws_sdk_macie2::Client;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::evidence::{AccountRegionEvidence, MacieAdministrator, MacieSession, S3Destination};

/// Asks Macie for its session, and, when it is enabled or paused, its administrator and export
/// configuration. A Region where Macie is off or that is not enabled costs one call.
pub async fn collect_region(
    env: &AwsEnvironment,
    client: Client,
    account_id: &str,
    region: &str,
) -> AccountRegionEvidence {
    let result = env.limited(client.get_macie_session().send()).await;
    let macie_session = observation("macie2:GetMacieSession", result, |output| MacieSession {
        status: output
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        created_at: output.created_at().and_then(to_utc),
        updated_at: output.updated_at().and_then(to_utc),
    });
    let (administrator, export_configuration) = if macie_session.response().is_some() {
        let (administrator, export) = tokio::join!(
            env.limited(client.get_administrator_account().send()),
            env.limited(client.get_classification_export_configuration().send()),
        );
        let administrator =
            observation("macie2:GetAdministratorAccount", administrator, |output| {
                output.administrator().map(|admin| MacieAdministrator {
                    account_id: admin.account_id().unwrap_or_default().to_owned(),
                    relationship_status: admin.relationship_status().map(|s| s.as_str().to_owned()),
                })
            });
        let export = observation(
            "macie2:GetClassificationExportConfiguration",
            export,
            |output| {
                output
                    .configuration()
                    .and_then(|configuration| configuration.s3_destination())
                    .map(|destination| S3Destination {
                        bucket_name: destination.bucket_name().map(str::to_owned),
                        key_prefix: destination.key_prefix().map(str::to_owned),
                        kms_key_arn: destination.kms_key_arn().map(str::to_owned),
                        expected_bucket_owner: destination
                            .expected_bucket_owner()
                            .map(str::to_owned),
                    })
            },
        );
        (Some(administrator), Some(export))
    } else {
        (None, None)
    };
    AccountRegionEvidence {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        macie_session,
        administrator,
        export_configuration,
    }
}

fn to_utc(time: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

#[cfg(test)]
mod tests {
    //! Macie's answers the emulator cannot give, from mocked clients: each becomes an ERROR in
    //! the evidence, with its kind and request id, never a panic.

    use std::time::Duration;

    use aws_sdk_macie2::config::retry::RetryConfig;
    use aws_sdk_macie2::config::timeout::TimeoutConfig;
    use aws_sdk_macie2::operation::get_administrator_account::GetAdministratorAccountOutput;
    use aws_sdk_macie2::operation::get_macie_session::GetMacieSessionOutput;
    use aws_sdk_macie2::types::MacieStatus;
    use aws_smithy_http_client::test_util::NeverClient;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::collect::mocked::{answer, environment, internal_error};
    use crate::evidence::ErrorKind;

    #[tokio::test]
    async fn a_session_that_cannot_be_read_is_an_error_with_its_request_id() {
        let session = mock!(Client::get_macie_session)
            .then_http_response(|| answer(200, "req-garbled", "{\"status\": "));
        let client = mock_client!(aws_sdk_macie2, [&session]);
        let evidence =
            collect_region(&environment().await, client, "111111111111", "us-east-1").await;
        let observed = &evidence.macie_session;
        let error = observed.error().expect("an error");
        assert_eq!(error.kind, ErrorKind::Other, "{error:?}");
        assert_eq!(error.http_status, Some(200));
        assert!(
            error.message.contains("unexpected end of stream"),
            "{error:?}"
        );
        assert_eq!(
            observed.request_id.as_deref(),
            Some("req-garbled"),
            "{observed:?}"
        );
        assert!(evidence.administrator.is_none() && evidence.export_configuration.is_none());
    }

    #[tokio::test]
    async fn a_500_on_the_third_call_is_an_error_and_the_others_are_kept() {
        let session = mock!(Client::get_macie_session).then_output(|| {
            GetMacieSessionOutput::builder()
                .status(MacieStatus::Enabled)
                .build()
        });
        let administrator = mock!(Client::get_administrator_account)
            .then_output(|| GetAdministratorAccountOutput::builder().build());
        let export = mock!(Client::get_classification_export_configuration)
            .then_http_response(|| internal_error("req-500"));
        let client = mock_client!(
            aws_sdk_macie2,
            RuleMode::MatchAny,
            [&session, &administrator, &export],
            |config| config.retry_config(RetryConfig::disabled())
        );
        let evidence =
            collect_region(&environment().await, client, "111111111111", "us-east-1").await;
        assert!(evidence.macie_session.response().is_some());
        let administrator = evidence.administrator.expect("asked");
        assert_eq!(administrator.response(), Some(&None));
        let export = evidence.export_configuration.expect("asked");
        let error = export.error().expect("an error");
        assert_eq!(error.kind, ErrorKind::ServiceUnavailable, "{error:?}");
        assert_eq!(error.code.as_deref(), Some("InternalServerException"));
        assert_eq!(error.http_status, Some(500));
        assert_eq!(export.request_id.as_deref(), Some("req-500"));
    }

    #[tokio::test]
    async fn no_answer_within_the_timeout_is_a_timeout() {
        let config = aws_sdk_macie2::Config::builder()
            .with_test_defaults_v2()
            .http_client(NeverClient::new())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(50))
                    .build(),
            )
            .build();
        let client = Client::from_conf(config);
        let evidence =
            collect_region(&environment().await, client, "111111111111", "us-east-1").await;
        let error = evidence.macie_session.error().expect("an error");
        assert_eq!(error.kind, ErrorKind::Timeout, "{error:?}");
        assert_eq!(evidence.macie_session.request_id, None);
        assert!(evidence.administrator.is_none());
    }
}
