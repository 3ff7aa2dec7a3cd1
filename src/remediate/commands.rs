//! The AWS CLI commands equivalent to each step, for people who review or run the plan by hand
//! (with the credentials of the step's account). A key the plan creates is held in the shell
//! variable `KEY_ARN`, set by the `create-key` command.

use serde_json::Value;

use super::plan::{Action, KeyRef};
use super::statements::{self, KEY_ARN_PLACEHOLDER};

/// The tag remediation puts on the keys it creates.
pub const KEY_TAG: (&str, &str) = ("created-by", "macie-audit");

/// Single-quotes `text` for a POSIX shell; the key placeholder becomes `$KEY_ARN`.
pub fn quote(text: &str) -> String {
    let escaped = text.replace('\'', r"'\''");
    format!(
        "'{}'",
        escaped.replace(KEY_ARN_PLACEHOLDER, r#"'"$KEY_ARN"'"#)
    )
    .replace("''\"$KEY_ARN\"''", "\"$KEY_ARN\"")
}

fn key_argument(key: &KeyRef) -> String {
    match key {
        KeyRef::Arn { arn } => quote(arn),
        KeyRef::Created { .. } => "\"$KEY_ARN\"".to_owned(),
    }
}

fn json(value: &Value) -> String {
    quote(&statements::to_text(value))
}

/// The commands of one step in `account` and `region`.
pub fn for_action(_account: &str, region: &str, action: &Action) -> Vec<String> {
    let r = quote(region);
    match action {
        Action::CreateKey {
            description,
            policy,
            ..
        } => vec![format!(
            "KEY_ARN=$(aws kms create-key --region {r} --key-spec SYMMETRIC_DEFAULT --key-usage ENCRYPT_DECRYPT \
             --description {} --tags TagKey={},TagValue={} --policy {} --query KeyMetadata.Arn --output text)",
            quote(description),
            KEY_TAG.0,
            KEY_TAG.1,
            json(policy)
        )],
        Action::CreateAlias { alias, key } => vec![format!(
            "aws kms create-alias --region {r} --alias-name {} --target-key-id {}",
            quote(alias),
            key_argument(key)
        )],
        Action::CancelKeyDeletion { key } => vec![format!(
            "aws kms cancel-key-deletion --region {r} --key-id {}",
            key_argument(key)
        )],
        Action::EnableKey { key } => vec![format!(
            "aws kms enable-key --region {r} --key-id {}",
            key_argument(key)
        )],
        Action::EnableKeyRotation { key } => vec![format!(
            "aws kms enable-key-rotation --region {r} --key-id {}",
            key_argument(key)
        )],
        Action::PutKeyPolicy {
            key,
            statements,
            after,
            ..
        } => match after {
            Some(after) => vec![format!(
                "aws kms put-key-policy --region {r} --key-id {} --policy-name default --policy {}",
                key_argument(key),
                json(after)
            )],
            None => vec![
                format!(
                    "aws kms get-key-policy --region {r} --key-id {} --policy-name default --query Policy --output text \
                     > key-policy.json",
                    key_argument(key)
                ),
                format!(
                    "# merge into key-policy.json (a statement with the same Sid is replaced, the others kept): {}",
                    statements::to_text(&Value::Array(statements.clone()))
                ),
                format!(
                    "aws kms put-key-policy --region {r} --key-id {} --policy-name default --policy file://key-policy.json",
                    key_argument(key)
                ),
            ],
        },
        Action::CreateBucket { bucket } => {
            let location = if region == "us-east-1" {
                String::new()
            } else {
                format!(" --create-bucket-configuration LocationConstraint={r}")
            };
            vec![format!(
                "aws s3api create-bucket --region {r} --bucket {}{location}",
                quote(bucket)
            )]
        }
        Action::PutPublicAccessBlock { bucket, .. } => vec![format!(
            "aws s3api put-public-access-block --region {r} --bucket {} --public-access-block-configuration \
             BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
            quote(bucket)
        )],
        Action::PutBucketEncryption { bucket, key, .. } => vec![format!(
            "aws s3api put-bucket-encryption --region {r} --bucket {} --server-side-encryption-configuration {}",
            quote(bucket),
            json(&encryption_configuration(key.arn_or_placeholder()))
        )],
        Action::PutBucketVersioning { bucket, .. } => vec![format!(
            "aws s3api put-bucket-versioning --region {r} --bucket {} --versioning-configuration Status=Enabled",
            quote(bucket)
        )],
        Action::PutBucketPolicy {
            bucket,
            statements,
            after,
            ..
        } => match after {
            Some(after) => vec![format!(
                "aws s3api put-bucket-policy --region {r} --bucket {} --policy {}",
                quote(bucket),
                json(after)
            )],
            None => vec![
                format!(
                    "aws s3api get-bucket-policy --region {r} --bucket {} --query Policy --output text > bucket-policy.json \
                     (no policy yet: start from {{\"Version\":\"2012-10-17\",\"Statement\":[]}})",
                    quote(bucket)
                ),
                format!(
                    "# merge into bucket-policy.json (a statement with the same Sid is replaced, the others kept): {}",
                    statements::to_text(&Value::Array(statements.clone()))
                ),
                format!(
                    "aws s3api put-bucket-policy --region {r} --bucket {} --policy file://bucket-policy.json",
                    quote(bucket)
                ),
            ],
        },
        Action::PutExportConfiguration { destination, .. } => {
            let configuration = serde_json::json!({"s3Destination": {
                "bucketName": destination.bucket,
                "keyPrefix": destination.key_prefix,
                "kmsKeyArn": destination.key.arn_or_placeholder(),
                "expectedBucketOwner": destination.expected_bucket_owner,
            }});
            vec![format!(
                "aws macie2 put-classification-export-configuration --region {r} --configuration {}",
                json(&configuration)
            )]
        }
    }
}

/// The default encryption remediation sets: SSE-KMS with the key, S3 Bucket Key on.
pub fn encryption_configuration(key_arn: &str) -> Value {
    serde_json::json!({"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": true
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_splices_the_key_variable() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("${KEY_ARN}"), "\"$KEY_ARN\"");
        assert_eq!(quote(r#"{"k":"${KEY_ARN}"}"#), r#"'{"k":"'"$KEY_ARN"'"}'"#);
    }

    #[test]
    fn new_keys_are_referenced_through_the_variable() {
        let commands = for_action(
            "111111111111",
            "eu-west-1",
            &Action::PutBucketEncryption {
                bucket: "b".into(),
                key: KeyRef::Created {
                    alias: "alias/x".into(),
                },
                before: None,
            },
        );
        assert!(
            commands[0].contains(r#""KMSMasterKeyID":"'"$KEY_ARN"'""#),
            "{}",
            commands[0]
        );
        let commands = for_action(
            "111111111111",
            "eu-west-1",
            &Action::CreateBucket { bucket: "b".into() },
        );
        assert!(commands[0].ends_with("LocationConstraint='eu-west-1'"));
    }
}
