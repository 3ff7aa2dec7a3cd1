//! The organization's Resource Control Policies (RCPs) over the repositories' owners: what
//! Organizations answered, and which policies apply to an account.
//!
//! RCPs cap what may be done to resources in the accounts they are attached to (directly, or to
//! an OU or root above them), including by AWS service principals such as Macie. Whether they
//! exist at all is said by ListRoots (the policy types enabled at the root, in the run record);
//! which apply to an account by ListPoliciesForTarget of the account and each OU and root above
//! it; what they say by DescribePolicy.

use serde::{Deserialize, Serialize};

use super::{ErrorKind, Observation, OrganizationListing, RunEvidence, RunHeader};
use crate::policy::Policy;

/// The policy type of RCPs, as Organizations names it.
pub const RESOURCE_CONTROL_POLICY: &str = "RESOURCE_CONTROL_POLICY";

/// The AWS managed RCP attached everywhere once RCPs are enabled: it allows everything, so alone
/// it changes nothing.
pub const FULL_ACCESS_POLICY_ID: &str = "p-RCPFullAWSAccess";

/// The `resource_control_policies` record: each target listed once, each policy described once.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ResourceControlEvidence {
    /// ListPoliciesForTarget (filter `RESOURCE_CONTROL_POLICY`) of every account owning a
    /// repository and every OU and root above it, in target id order.
    pub targets: Vec<TargetPolicies>,
    /// DescribePolicy of every policy those listings name, in policy id order.
    pub policies: Vec<DescribedPolicy>,
}

/// The RCPs attached directly to one root, OU or account.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TargetPolicies {
    /// `r-…`, `ou-…` or a 12-digit account id.
    pub target_id: String,
    /// Every page, in order; when the listing failed, the last page is the error.
    pub pages: Vec<Observation<Vec<PolicySummary>>>,
}

/// A policy as ListPoliciesForTarget names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PolicySummary {
    /// `p-…`.
    pub id: String,
    /// Its name (untrusted text).
    pub name: String,
    /// Whether AWS manages it (`RCPFullAWSAccess`).
    pub aws_managed: bool,
}

/// One DescribePolicy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribedPolicy {
    /// The policy asked for.
    pub policy_id: String,
    /// Its answer.
    pub described: Observation<PolicyDocument>,
}

/// What DescribePolicy says of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PolicyDocument {
    /// Its name (untrusted text).
    pub name: String,
    /// Whether AWS manages it.
    pub aws_managed: bool,
    /// The policy document (JSON text).
    pub content: String,
}

/// An RCP that applies to an account, and where it is attached.
#[derive(Debug, Clone)]
pub struct AppliedPolicy<'a> {
    /// The root, OU or account it is attached to.
    pub target_id: &'a str,
    /// `p-…`.
    pub policy_id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its document.
    pub policy: Policy,
}

/// What a run's evidence says of the RCPs over one account.
#[derive(Debug, Clone)]
pub enum AccountControls<'a> {
    /// Every RCP that applies to it, read: the account and each OU and root above it, the
    /// policies of each target in target order (root first).
    Applied(Vec<AppliedPolicy<'a>>),
    /// RCPs may apply but were not evaluated, for this reason (a sentence fragment).
    NotEvaluated(String),
    /// No RCP of the run's organization applies: a standalone account, an account the
    /// organization does not list, or evidence written before RCPs were read.
    NotApplicable,
}

/// The targets whose RCPs apply to an account at `ou_path` (`o-…/r-…/ou-…/`): the root and each
/// OU down to its parent, then the account itself.
pub fn targets_of_account(account_id: &str, ou_path: &str) -> Vec<String> {
    ou_path
        .split('/')
        .skip(1)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .chain(std::iter::once(account_id.to_owned()))
        .collect()
}

impl RunHeader {
    /// Whether RCPs are enabled at the organization's root, as ListRoots said; `None` when the
    /// run listed no organization or its evidence does not record the roots' policy types.
    pub fn resource_control_policies_enabled(&self) -> Option<bool> {
        match &self.organization {
            OrganizationListing::Organization {
                roots: Some(roots), ..
            } => Some(roots.iter().any(|root| {
                root.enabled_policy_types
                    .iter()
                    .any(|kind| kind == RESOURCE_CONTROL_POLICY)
            })),
            _ => None,
        }
    }
}

impl ResourceControlEvidence {
    /// The listing of a target, if it was made.
    pub fn target(&self, target_id: &str) -> Option<&TargetPolicies> {
        self.targets.iter().find(|t| t.target_id == target_id)
    }

    /// The description of a policy, if it was asked for.
    pub fn policy(&self, policy_id: &str) -> Option<&DescribedPolicy> {
        self.policies.iter().find(|p| p.policy_id == policy_id)
    }

    /// Adds another run's listings and descriptions (a shard's, in a merge): each target and
    /// policy stays once, an answer preferred to a failure, and the order stays by id.
    pub fn absorb(&mut self, other: &ResourceControlEvidence) {
        for target in &other.targets {
            match self
                .targets
                .iter_mut()
                .find(|t| t.target_id == target.target_id)
            {
                Some(kept)
                    if target_problem(kept).is_some() && target_problem(target).is_none() =>
                {
                    *kept = target.clone();
                }
                Some(_) => {}
                None => self.targets.push(target.clone()),
            }
        }
        for policy in &other.policies {
            match self
                .policies
                .iter_mut()
                .find(|p| p.policy_id == policy.policy_id)
            {
                Some(kept)
                    if kept.described.error().is_some() && policy.described.error().is_none() =>
                {
                    *kept = policy.clone();
                }
                Some(_) => {}
                None => self.policies.push(policy.clone()),
            }
        }
        self.targets.sort_by(|a, b| a.target_id.cmp(&b.target_id));
        self.policies.sort_by(|a, b| a.policy_id.cmp(&b.policy_id));
    }

    /// The first reason, in record order, why some RCP over some owner cannot be evaluated: a
    /// failed listing or description, or a document that cannot be parsed.
    fn first_problem(&self) -> Option<String> {
        self.targets
            .iter()
            .find_map(target_problem)
            .or_else(|| self.policies.iter().find_map(policy_problem))
    }
}

fn target_problem(target: &TargetPolicies) -> Option<String> {
    let error = target.pages.iter().find_map(Observation::error)?;
    Some(call_problem(
        &format!(
            "organizations:ListPoliciesForTarget of {}",
            target.target_id
        ),
        error,
    ))
}

fn policy_problem(described: &DescribedPolicy) -> Option<String> {
    match described.described.response() {
        None => described.described.error().map(|error| {
            call_problem(
                &format!("organizations:DescribePolicy of {}", described.policy_id),
                error,
            )
        }),
        Some(document) => Policy::parse(&document.content).err().map(|error| {
            format!(
                "RCP {} (\"{}\") cannot be read: {error}",
                described.policy_id, document.name
            )
        }),
    }
}

/// A failed call in words: a refusal says the identity lacks the permission.
fn call_problem(call: &str, error: &super::ApiError) -> String {
    if error.kind == ErrorKind::AccessDenied {
        format!("the identity that lists the organization may not read them ({call}: {error})")
    } else {
        format!("{call} failed: {error}")
    }
}

impl RunEvidence {
    /// Why the run could not evaluate the organization's RCPs, said once for the run (run.json,
    /// the report's first screen): RCPs not enabled at the root, or a listing or description that
    /// failed. `None` when they were evaluated, or no RCP can apply (a standalone account,
    /// evidence written before RCPs were read).
    pub fn resource_controls_not_evaluated(&self) -> Option<String> {
        match self.header.resource_control_policies_enabled()? {
            false => Some(not_enabled()),
            true => match &self.resource_controls {
                None => Some("this run did not read them".to_owned()),
                Some(controls) => controls.first_problem(),
            },
        }
    }

    /// The RCPs over `account_id`, as the run read them.
    pub fn resource_controls_over(&self, account_id: &str) -> AccountControls<'_> {
        let Some(enabled) = self.header.resource_control_policies_enabled() else {
            return AccountControls::NotApplicable;
        };
        let Some(ou_path) = self.ou_path(account_id) else {
            return AccountControls::NotApplicable;
        };
        // A policy type that is not enabled has no policy in force: none applies, a fact about
        // the organization, said once for the run rather than on every repository finding.
        if !enabled {
            return AccountControls::Applied(Vec::new());
        }
        let Some(controls) = &self.resource_controls else {
            return AccountControls::NotEvaluated("this run did not read them".to_owned());
        };
        let mut applied = Vec::new();
        for target_id in targets_of_account(account_id, ou_path) {
            let Some(target) = controls.target(&target_id) else {
                return AccountControls::NotEvaluated(format!(
                    "the RCPs attached to {target_id} were not listed"
                ));
            };
            if let Some(problem) = target_problem(target) {
                return AccountControls::NotEvaluated(problem);
            }
            for summary in target
                .pages
                .iter()
                .filter_map(Observation::response)
                .flatten()
            {
                let Some(described) = controls.policy(&summary.id) else {
                    return AccountControls::NotEvaluated(format!(
                        "RCP {} was not described",
                        summary.id
                    ));
                };
                let document = match described.described.response() {
                    Some(document) => document,
                    None => {
                        return AccountControls::NotEvaluated(
                            policy_problem(described).unwrap_or_default(),
                        );
                    }
                };
                let policy = match Policy::parse(&document.content) {
                    Ok(policy) => policy,
                    Err(_) => {
                        return AccountControls::NotEvaluated(
                            policy_problem(described).unwrap_or_default(),
                        );
                    }
                };
                applied.push(AppliedPolicy {
                    target_id: &target.target_id,
                    policy_id: &described.policy_id,
                    name: &document.name,
                    policy,
                });
            }
        }
        AccountControls::Applied(applied)
    }
}

fn not_enabled() -> String {
    format!(
        "the {RESOURCE_CONTROL_POLICY} policy type is not enabled at the organization's root, so \
         no RCP is in force"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{ApiError, OrganizationRoot};
    use crate::rules::testing::{ok, repository_run};

    const OU_PATH: &str = "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/";
    const DENY: &str = r#"{"Statement":[{"Sid":"D","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;

    fn listing(target_id: &str, policies: &[&str]) -> TargetPolicies {
        TargetPolicies {
            target_id: target_id.into(),
            pages: vec![ok(
                "organizations:ListPoliciesForTarget",
                policies
                    .iter()
                    .map(|id| PolicySummary {
                        id: (*id).into(),
                        name: format!("name of {id}"),
                        aws_managed: false,
                    })
                    .collect(),
            )],
        }
    }

    fn described(policy_id: &str, content: &str) -> DescribedPolicy {
        DescribedPolicy {
            policy_id: policy_id.into(),
            described: ok(
                "organizations:DescribePolicy",
                PolicyDocument {
                    name: format!("name of {policy_id}"),
                    aws_managed: false,
                    content: content.into(),
                },
            ),
        }
    }

    /// A run whose organization has RCPs enabled, with `controls` read.
    fn run_with(controls: Option<ResourceControlEvidence>) -> (RunEvidence, String) {
        let mut run = repository_run("{}", "{}", OU_PATH);
        if let OrganizationListing::Organization { roots, .. } = &mut run.header.organization {
            *roots = Some(vec![OrganizationRoot {
                id: "r-ab12".into(),
                enabled_policy_types: vec![RESOURCE_CONTROL_POLICY.into()],
            }]);
        }
        run.resource_controls = controls;
        let account = run.header.accounts[0].id.clone();
        (run, account)
    }

    fn read(account: &str) -> ResourceControlEvidence {
        ResourceControlEvidence {
            targets: vec![
                listing("ou-ab12-11111111", &["p-deny"]),
                listing("r-ab12", &[FULL_ACCESS_POLICY_ID]),
                listing(account, &[FULL_ACCESS_POLICY_ID]),
            ],
            policies: vec![
                described("p-deny", DENY),
                described(
                    FULL_ACCESS_POLICY_ID,
                    r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
                ),
            ],
        }
    }

    #[test]
    fn the_policies_over_an_account_are_named_with_their_targets_root_first() {
        let (mut run, account) = run_with(None);
        run.resource_controls = Some(read(&account));
        let AccountControls::Applied(applied) = run.resource_controls_over(&account) else {
            panic!("every RCP was read");
        };
        let placed: Vec<(&str, &str)> =
            applied.iter().map(|p| (p.target_id, p.policy_id)).collect();
        assert_eq!(
            placed,
            [
                ("r-ab12", FULL_ACCESS_POLICY_ID),
                ("ou-ab12-11111111", "p-deny"),
                (account.as_str(), FULL_ACCESS_POLICY_ID)
            ]
        );
        assert_eq!(run.resource_controls_not_evaluated(), None);
    }

    #[test]
    fn rcps_that_cannot_be_read_are_not_evaluated_and_say_why() {
        let (run, account) = run_with(None);
        assert!(matches!(
            run.resource_controls_over(&account),
            AccountControls::NotEvaluated(reason) if reason == "this run did not read them"
        ));
        let mut controls = read(&account);
        controls.targets[0].pages[0].outcome = crate::evidence::Outcome::Error(ApiError {
            kind: ErrorKind::AccessDenied,
            code: Some("AccessDeniedException".into()),
            message: "no".into(),
            http_status: Some(400),
        });
        let (mut run, _) = run_with(Some(controls.clone()));
        let AccountControls::NotEvaluated(reason) = run.resource_controls_over(&account) else {
            panic!("a refused listing is not evaluated");
        };
        assert!(reason.contains("may not read them"), "{reason}");
        assert_eq!(run.resource_controls_not_evaluated(), Some(reason));
        // Not enabled at the root: said, and nothing else is looked at.
        if let OrganizationListing::Organization { roots, .. } = &mut run.header.organization {
            *roots = Some(Vec::new());
        }
        assert!(
            run.resource_controls_not_evaluated()
                .is_some_and(|reason| reason.contains("not enabled"))
        );
        // No RCP in force: nothing applies to the account, which its findings need not repeat.
        assert!(matches!(
            run.resource_controls_over(&account),
            AccountControls::Applied(applied) if applied.is_empty()
        ));
        // Evidence from before RCPs were read: nothing applies, nothing is said.
        if let OrganizationListing::Organization { roots, .. } = &mut run.header.organization {
            *roots = None;
        }
        assert!(matches!(
            run.resource_controls_over(&account),
            AccountControls::NotApplicable
        ));
        assert_eq!(run.resource_controls_not_evaluated(), None);

        // A merge keeps the answer over a shard's failure.
        controls.absorb(&read(&account));
        assert_eq!(controls.first_problem(), None);
        assert_eq!(controls.targets.len(), 3);
    }

    #[test]
    fn the_record_round_trips() {
        let (mut run, account) = run_with(None);
        run.resource_controls = Some(read(&account));
        let mut text = Vec::new();
        for record in run.records() {
            serde_json::to_writer(&mut text, &record).expect("serialised");
            text.push(b'\n');
        }
        let read_back = RunEvidence::read(text.as_slice()).expect("read back");
        assert_eq!(read_back.resource_controls, run.resource_controls);
    }

    #[test]
    fn an_account_is_under_its_root_each_ou_and_itself() {
        assert_eq!(
            targets_of_account(
                "333333333333",
                "o-a1b2c3d4e5/r-ab12/ou-ab12-1111/ou-ab12-2222/"
            ),
            ["r-ab12", "ou-ab12-1111", "ou-ab12-2222", "333333333333"]
        );
        assert_eq!(
            targets_of_account("333333333333", "o-a1b2c3d4e5/r-ab12/"),
            ["r-ab12", "333333333333"]
        );
    }
}
