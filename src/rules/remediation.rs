//! Concrete remediation: the AWS CLI commands that fix a finding, filled in with its account,
//! Region, bucket and key. Commands are to be run with credentials of the account named before
//! each of them (the repository's owner for bucket and key changes).
//!
//! The statement builders are shared with `remediate`, which writes the same statements.

use super::repository::{Repository, macie_principal};

/// The name suggested for a new repository bucket.
pub(super) fn suggested_bucket(account: &str, region: &str) -> String {
    format!("macie-discovery-results-{account}-{region}")
}

/// The Macie statement a key policy needs, as JSON.
pub(crate) fn key_statement(macie_account: &str, region: &str) -> String {
    format!(
        r#"{{"Sid":"AllowMacieToUseTheKey","Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*","Condition":{{"StringEquals":{{"aws:SourceAccount":"{macie_account}"}},"ArnLike":{{"aws:SourceArn":["arn:aws:macie2:{region}:{macie_account}:export-configuration:*","arn:aws:macie2:{region}:{macie_account}:classification-job/*"]}}}}}}"#,
        principal = macie_principal(region),
    )
}

/// The statements a repository bucket policy needs, as JSON.
pub(crate) fn bucket_statements(
    bucket: &str,
    prefix: &str,
    key_arn: &str,
    macie_account: &str,
    region: &str,
) -> String {
    let principal = macie_principal(region);
    let condition = format!(
        r#""Condition":{{"StringEquals":{{"aws:SourceAccount":"{macie_account}"}},"ArnLike":{{"aws:SourceArn":["arn:aws:macie2:{region}:{macie_account}:export-configuration:*","arn:aws:macie2:{region}:{macie_account}:classification-job/*"]}}}}"#
    );
    format!(
        r#"[{{"Sid":"DenyNonTLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},{{"Sid":"DenyWrongKey","Effect":"Deny","Principal":{{"Service":"{principal}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{bucket}/{prefix}*","Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{key_arn}"}}}}}},{{"Sid":"AllowMacieToWrite","Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{bucket}/{prefix}*",{condition}}},{{"Sid":"AllowMacieToLocate","Effect":"Allow","Principal":{{"Service":"{principal}"}},"Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::{bucket}",{condition}}}]"#
    )
}

/// Step: write the Macie statement into the key policy.
pub(super) fn put_key_policy(
    owner: &str,
    key_arn: &str,
    key_region: &str,
    macie_account: &str,
    macie_region: &str,
) -> String {
    format!(
        "In account {owner}: add this statement to the key policy (keep the existing ones) and apply it with \
         aws kms put-key-policy --region {key_region} --key-id {key_arn} --policy-name default \
         --policy file://key-policy.json — {}",
        key_statement(macie_account, macie_region)
    )
}

/// Step: write the repository statements into the bucket policy.
pub(super) fn put_bucket_policy(
    owner: &str,
    bucket: &str,
    region: &str,
    repository: &Repository<'_>,
) -> String {
    format!(
        "In account {owner}: merge these statements into the bucket policy (keep the existing ones) and apply it \
         with aws s3api put-bucket-policy --region {region} --bucket {bucket} --policy file://bucket-policy.json — {}",
        bucket_statements(
            bucket,
            repository.prefix,
            repository.key_arn,
            repository.macie_account,
            repository.region
        ),
    )
}

/// Step: turn on all four Block Public Access settings of a bucket.
pub(super) fn put_public_access_block(owner: &str, bucket: &str, region: &str) -> String {
    format!(
        "In account {owner}: aws s3api put-public-access-block --region {region} --bucket {bucket} --public-access-block-configuration \
         BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    )
}

/// Steps: create a sound repository (key, bucket, policies) and point Macie at it.
pub(super) fn create_repository(account: &str, region: &str, bucket: Option<&str>) -> Vec<String> {
    let bucket = bucket.map_or_else(|| suggested_bucket(account, region), str::to_owned);
    let location = if region == "us-east-1" {
        String::new()
    } else {
        format!(" --create-bucket-configuration LocationConstraint={region}")
    };
    let key_arn = format!("arn:aws:kms:{region}:{account}:key/<key id from step 1>");
    vec![
        format!(
            "1. In account {account}: aws kms create-key --region {region} --key-spec SYMMETRIC_DEFAULT \
             --key-usage ENCRYPT_DECRYPT --description \"Macie discovery results\", then aws kms create-alias \
             --region {region} --alias-name alias/macie-discovery-results --target-key-id <key id>, then add \
             to its key policy: {}",
            key_statement(account, region)
        ),
        format!(
            "2. In account {account}: aws s3api create-bucket --bucket {bucket} --region {region}{location}; \
             aws s3api put-public-access-block --region {region} --bucket {bucket} --public-access-block-configuration \
             BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true; \
             aws s3api put-bucket-policy --region {region} --bucket {bucket} --policy file://bucket-policy.json \
             — bucket-policy.json: {{\"Version\":\"2012-10-17\",\"Statement\":{}}}",
            bucket_statements(&bucket, "macie/", &key_arn, account, region)
        ),
        format!(
            "3. In account {account}: aws macie2 put-classification-export-configuration --region {region} \
             --configuration 's3Destination={{bucketName={bucket},keyPrefix=macie/,kmsKeyArn={key_arn}}}'"
        ),
    ]
}
