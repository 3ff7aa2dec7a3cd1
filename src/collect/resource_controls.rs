//! The organization's Resource Control Policies over the repositories' owners: ListPoliciesForTarget
//! of each owner and every OU and root above it, each target once, then DescribePolicy of each
//! policy they name, each once. Read with the identity that lists the organization, under the
//! Organizations rate limit; nothing is read when RCPs are not enabled at the root.

use std::collections::BTreeSet;

use futures::StreamExt;

use crate::aws::AwsEnvironment;
use crate::aws::observe::observation;
use crate::evidence::{
    Account, BucketEvidence, BucketOwner, DescribedPolicy, KeyEvidence, Observation,
    OrganizationListing, PolicyDocument, PolicySummary, RESOURCE_CONTROL_POLICY,
    ResourceControlEvidence, TargetPolicies, targets_of_account,
};
use crate::scope::organizations_pages;

/// How many Organizations calls are in flight at once, as in the organization's walk: the rate
/// limiter keeps them inside the quota.
const CONCURRENCY: usize = 4;

/// Reads the RCPs over the owners of `buckets` and `keys` that are members of the organization
/// (`members`: every account the listing gave, with its OU path). `None` when no RCP can apply:
/// no organization, RCPs not enabled at its root (said by ListRoots, in `listing`), or no owner
/// in it.
pub async fn collect_resource_controls(
    env: &AwsEnvironment,
    listing: &OrganizationListing,
    members: &[&Account],
    buckets: &[BucketEvidence],
    keys: &[KeyEvidence],
) -> Option<ResourceControlEvidence> {
    let OrganizationListing::Organization {
        roots: Some(roots), ..
    } = listing
    else {
        return None;
    };
    let enabled = roots.iter().any(|root| {
        root.enabled_policy_types
            .iter()
            .any(|kind| kind == RESOURCE_CONTROL_POLICY)
    });
    if !enabled {
        return None;
    }
    let owners: BTreeSet<&str> = buckets
        .iter()
        .filter_map(|bucket| match &bucket.owner {
            BucketOwner::Account { account_id } => Some(account_id.as_str()),
            BucketOwner::Unknown => None,
        })
        .chain(keys.iter().map(|key| key.owner_account.as_str()))
        .collect();
    let targets: BTreeSet<String> = owners
        .into_iter()
        .filter_map(|owner| {
            let member = members.iter().find(|account| account.id == owner)?;
            Some(targets_of_account(owner, member.ou_path.as_deref()?))
        })
        .flatten()
        .collect();
    if targets.is_empty() {
        return None;
    }
    let client = env.organizations();
    let client = &client;
    let targets: Vec<TargetPolicies> = futures::stream::iter(targets)
        .map(|target_id| async move { list_target(env, client, target_id).await })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let policy_ids: BTreeSet<String> = targets
        .iter()
        .flat_map(|target| target.pages.iter().filter_map(Observation::response))
        .flatten()
        .map(|summary| summary.id.clone())
        .collect();
    let policies = futures::stream::iter(policy_ids)
        .map(|policy_id| async move { describe_policy(env, client, policy_id).await })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    Some(ResourceControlEvidence { targets, policies })
}

/// ListPoliciesForTarget (filter `RESOURCE_CONTROL_POLICY`), every page; a failed page ends the
/// listing.
async fn list_target(
    env: &AwsEnvironment,
    client: &aws_sdk_organizations::Client,
    target_id: String,
) -> TargetPolicies {
    let target = target_id.as_str();
    let pages = organizations_pages(env, |token| async move {
        let result = client
            .list_policies_for_target()
            .target_id(target)
            .filter(aws_sdk_organizations::types::PolicyType::ResourceControlPolicy)
            .set_next_token(token)
            .send()
            .await;
        let mut next = None;
        let page = observation("organizations:ListPoliciesForTarget", result, |output| {
            next = output.next_token().map(str::to_owned);
            output
                .policies()
                .iter()
                .filter_map(|policy| {
                    Some(PolicySummary {
                        id: policy.id()?.to_owned(),
                        name: policy.name().unwrap_or_default().to_owned(),
                        aws_managed: policy.aws_managed(),
                    })
                })
                .collect::<Vec<_>>()
        });
        (page, next)
    })
    .await;
    TargetPolicies { target_id, pages }
}

/// DescribePolicy.
async fn describe_policy(
    env: &AwsEnvironment,
    client: &aws_sdk_organizations::Client,
    policy_id: String,
) -> DescribedPolicy {
    let result = env
        .organizations_call(env.limited(client.describe_policy().policy_id(&policy_id).send()))
        .await;
    let described = observation("organizations:DescribePolicy", result, |output| {
        let policy = output.policy();
        let summary = policy.and_then(|p| p.policy_summary());
        PolicyDocument {
            name: summary
                .and_then(|s| s.name())
                .unwrap_or_default()
                .to_owned(),
            aws_managed: summary.is_some_and(|s| s.aws_managed()),
            content: policy
                .and_then(|p| p.content())
                .unwrap_or_default()
                .to_owned(),
        }
    });
    DescribedPolicy {
        policy_id,
        described,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_organizations::Client;
    use aws_sdk_organizations::config::retry::RetryConfig;
    use aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::collect::mocked::{environment, internal_error};
    use crate::evidence::ErrorKind;

    /// A listing whose second page fails (the emulator always answers every page) keeps the
    /// first page and ends with the error, so the RCPs over the target are known unknown.
    #[tokio::test]
    async fn a_500_on_the_second_page_ends_the_listing_with_the_error() {
        let listing = mock!(Client::list_policies_for_target)
            .sequence()
            .output(|| {
                ListPoliciesForTargetOutput::builder()
                    .policies(
                        aws_sdk_organizations::types::PolicySummary::builder()
                            .id("p-first")
                            .name("first page")
                            .build(),
                    )
                    .next_token("page-2")
                    .build()
            })
            .http_response(|| internal_error("req-page-2"))
            .build();
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::Sequential,
            [&listing],
            |config| config.retry_config(RetryConfig::disabled())
        );
        let listed = list_target(&environment().await, &client, "ou-ab12-11111111".into()).await;
        assert_eq!(listing.num_calls(), 2);
        assert_eq!(listed.pages.len(), 2);
        let first = listed.pages[0].response().expect("the first page");
        assert_eq!(first[0].id, "p-first");
        let error = listed.pages[1].error().expect("the second page failed");
        assert_eq!(error.kind, ErrorKind::ServiceUnavailable, "{error:?}");
        assert_eq!(listed.pages[1].request_id.as_deref(), Some("req-page-2"));
    }
}
