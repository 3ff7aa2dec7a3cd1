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
