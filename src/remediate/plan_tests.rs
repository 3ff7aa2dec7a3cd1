//! The plan from hand-made evidence: every decision, without a network.

use serde_json::json;

use super::*;
use crate::config::RemediationConfig;
use crate::evidence::BucketOwner;
use crate::evidence::{BucketEncryption, ErrorKind, KeyEvidence, MacieAdministrator};
use crate::remediate::statements::{self, key_gaps};
use crate::rules::testing::{self, at, err, ok, run_of, session};

/// The findings of a run held in memory.
fn judged(run: &RunEvidence) -> Vec<Finding> {
    crate::triage::Findings::new(
        &crate::evidence::Evidence::in_memory(run.clone()),
        &crate::triage::TriageMarks::NONE,
    )
    .collect()
    .expect("judged")
}

const A: &str = "111111111111";
const B: &str = "222222222222";
const LOG: &str = "333333333333";
const CENTRAL_KEY: &str = "arn:aws:kms:us-east-1:333333333333:key/central";
const OWN_KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/own";

/// A world of accounts and Regions, built up by the tests.
struct World {
    run: RunEvidence,
    probes: Probes,
    settings: RemediationConfig,
}

impl World {
    fn new(regions: &[&str]) -> World {
        let mut run = run_of(&account_region(A, regions[0], None));
        run.account_regions.clear();
        run.header.regions = regions.iter().map(|r| (*r).to_owned()).collect();
        World {
            run,
            probes: Probes::default(),
            settings: RemediationConfig::default(),
        }
    }

    /// An account that owns `buckets`, with Macie enabled (for 100 days) in each of its Regions,
    /// exporting to `export` (the same everywhere).
    fn account(
        &mut self,
        id: &str,
        regions: &[&str],
        export: Option<S3Destination>,
        buckets: &[&str],
    ) -> &mut Self {
        self.run.accounts.push(testing::account(id, buckets));
        self.run
            .accounts
            .sort_by(|a, b| a.account.id.cmp(&b.account.id));
        for region in regions {
            self.run.account_regions.insert(
                (id.into(), (*region).into()),
                account_region(id, region, export.clone()),
            );
            self.probes
                .alias_keys
                .insert((id.into(), (*region).into()), ok("kms:DescribeKey", None));
        }
        self
    }

    fn alias_key(&mut self, account: &str, region: &str, metadata: KeyMetadata) -> &mut Self {
        self.probes.alias_keys.insert(
            (account.into(), region.into()),
            ok("kms:DescribeKey", Some(metadata)),
        );
        self
    }

    fn bucket(&mut self, evidence: BucketEvidence) -> &mut Self {
        self.run.buckets.insert(evidence.name.clone(), evidence);
        self
    }

    fn key(&mut self, evidence: KeyEvidence) -> &mut Self {
        self.run.keys.insert(evidence.arn.clone(), evidence);
        self
    }

    fn central(&mut self) -> &mut Self {
        self.settings.central_bucket = Some("central".into());
        self.settings.central_key_arn = Some(CENTRAL_KEY.into());
        self
    }

    fn plan(&self, strategy: Strategy, force: bool) -> Plan {
        self.plan_recovering(strategy, force, false)
    }

    fn plan_recovering(&self, strategy: Strategy, force: bool, recover_keys: bool) -> Plan {
        let findings = judged(&self.run);
        plan(&PlanInput {
            run: &self.run,
            findings: &findings,
            settings: &self.settings,
            strategy,
            force,
            recover_keys,
            include_hardening: false,
            probes: &self.probes,
        })
    }
}

fn account_region(
    account: &str,
    region: &str,
    export: Option<S3Destination>,
) -> AccountRegionEvidence {
    AccountRegionEvidence {
        account_id: account.into(),
        region: region.into(),
        macie_session: session("ENABLED", at(2026, 1, 1)),
        administrator: Some(ok(
            "macie2:GetAdministratorAccount",
            None::<MacieAdministrator>,
        )),
        export_configuration: Some(ok("macie2:GetClassificationExportConfiguration", export)),
    }
}

fn destination(bucket: &str, key: &str) -> S3Destination {
    S3Destination {
        bucket_name: Some(bucket.into()),
        key_prefix: Some("macie/".into()),
        kms_key_arn: Some(key.into()),
        expected_bucket_owner: None,
    }
}

fn key_metadata(arn: &str, state: &str) -> KeyMetadata {
    KeyMetadata {
        arn: arn.into(),
        state: state.into(),
        manager: "CUSTOMER".into(),
        spec: "SYMMETRIC_DEFAULT".into(),
        usage: "ENCRYPT_DECRYPT".into(),
        multi_region: false,
    }
}

fn key(arn: &str, policy: &Value) -> KeyEvidence {
    let (region, owner) = parse_key_arn(arn).expect("key ARN");
    KeyEvidence {
        arn: arn.into(),
        owner_account: owner.into(),
        region: region.into(),
        unverifiable: None,
        metadata: Some(ok("kms:DescribeKey", key_metadata(arn, "Enabled"))),
        policy: Some(ok("kms:GetKeyPolicy", statements::to_text(policy))),
        rotation_enabled: Some(ok("kms:GetKeyRotationStatus", true)),
    }
}

fn bucket(name: &str, owner: &str, region: &str, policy: Option<&Value>) -> BucketEvidence {
    let all = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    BucketEvidence {
        name: name.into(),
        owner: BucketOwner::Account {
            account_id: owner.into(),
        },
        unverifiable: None,
        probe: None,
        location: Some(ok("s3:GetBucketLocation", region.into())),
        public_access_block: Some(ok("s3:GetPublicAccessBlock", Some(all))),
        account_public_access_block: None,
        policy_status: Some(ok("s3:GetBucketPolicyStatus", false)),
        policy: Some(ok("s3:GetBucketPolicy", policy.map(statements::to_text))),
        encryption: Some(ok(
            "s3:GetBucketEncryption",
            Some(BucketEncryption {
                algorithm: "aws:kms".into(),
                kms_key_id: None,
            }),
        )),
        versioning: Some(ok("s3:GetBucketVersioning", Some("Enabled".into()))),
        object_lock: Some(ok("s3:GetObjectLockConfiguration", false)),
    }
}

/// Evidence of a repository that does not exist: the key is not found, the bucket probe 404s.
fn missing_repository(world: &mut World, bucket_name: &str, key_arn: &str) {
    let (region, owner) = parse_key_arn(key_arn).expect("key ARN");
    world.key(KeyEvidence {
        arn: key_arn.into(),
        owner_account: owner.into(),
        region: region.into(),
        unverifiable: None,
        metadata: Some(err(
            "kms:DescribeKey",
            ErrorKind::NotFound,
            "NotFoundException",
        )),
        policy: None,
        rotation_enabled: None,
    });
    world.bucket(BucketEvidence {
        owner: BucketOwner::Unknown,
        probe: Some(err("s3:HeadBucket", ErrorKind::NotFound, "NotFound")),
        location: None,
        public_access_block: None,
        policy_status: None,
        policy: None,
        encryption: None,
        versioning: None,
        object_lock: None,
        ..bucket(bucket_name, owner, region, None)
    });
}

fn operations(plan: &Plan) -> Vec<&'static str> {
    plan.steps().map(|s| s.action.operation()).collect()
}

fn source(account: &str, region: &str) -> MacieSource {
    MacieSource::new(account, region)
}

/// A central key policy: the owner administers it; Macie may use it for `accounts`.
fn central_key_policy(accounts: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{LOG}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Macie", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"},
         "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": accounts},
                       "ArnLike": {"aws:SourceArn": "arn:aws:macie2:*:*:export-configuration:*"}}}
    ]})
}

fn central_bucket_policy(accounts: &[&str]) -> Value {
    let condition = json!({"StringEquals": {"aws:SourceAccount": accounts},
                           "ArnLike": {"aws:SourceArn": "arn:aws:macie2:*:*:export-configuration:*"}});
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::central", "arn:aws:s3:::central/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "Put", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::central/macie/*", "Condition": condition},
        {"Sid": "Locate", "Effect": "Allow", "Principal": {"Service": "macie.amazonaws.com"}, "Action": "s3:GetBucketLocation",
         "Resource": "arn:aws:s3:::central", "Condition": condition}
    ]})
}

fn central_world(regions: &[&str]) -> World {
    let mut world = World::new(regions);
    world
        .central()
        .account(LOG, &[], None, &["central"])
        .key(key(CENTRAL_KEY, &central_key_policy(&["444444444444"])))
        .bucket(bucket(
            "central",
            LOG,
            "us-east-1",
            Some(&central_bucket_policy(&["444444444444"])),
        ));
    world
}

#[test]
fn own_creates_everything_in_order_for_an_account_without_a_repository() {
    let mut world = World::new(&["us-east-1", "eu-west-1"]);
    world.account(A, &["us-east-1", "eu-west-1"], None, &[]);
    let plan = world.plan(Strategy::Own, false);
    assert_eq!(plan.targets.len(), 2);
    assert!(plan.targets.iter().all(Target::remediated));
    let per_region = [
        "kms:CreateKey",
        "kms:CreateAlias",
        "kms:EnableKeyRotation",
        "s3:CreateBucket",
        "s3:PutPublicAccessBlock",
        "s3:PutBucketEncryption",
        "s3:PutBucketVersioning",
        "s3:PutBucketPolicy",
        "macie2:PutClassificationExportConfiguration",
    ];
    let expected: Vec<&str> = per_region.iter().chain(&per_region).copied().collect();
    assert_eq!(operations(&plan), expected);
    assert_eq!(plan.groups.len(), 1, "one account, one group");
    let numbers: Vec<usize> = plan.steps().map(|s| s.number).collect();
    assert_eq!(numbers, (1..=18).collect::<Vec<_>>());
    // Names and Regions are the configured ones, in every step and command.
    let steps: Vec<&Step> = plan.steps().collect();
    assert!(steps[..9].iter().all(|s| s.region == "us-east-1"));
    assert!(steps[9..].iter().all(|s| s.region == "eu-west-1"));
    let bucket = "macie-discovery-results-111111111111-eu-west-1";
    assert!(steps[12].commands[0].contains(bucket));
    assert!(steps[12].commands[0].contains("LocationConstraint='eu-west-1'"));
    assert!(steps[9].commands[0].starts_with("KEY_ARN=$(aws kms create-key --region 'eu-west-1'"));
    let Action::PutExportConfiguration { destination, .. } = &steps[17].action else {
        panic!("last step: {:?}", steps[17].action);
    };
    assert_eq!(destination.bucket, bucket);
    assert_eq!(destination.key_prefix, "macie/");
    assert_eq!(destination.expected_bucket_owner, A);
    assert_eq!(
        destination.key,
        KeyRef::Created {
            alias: "alias/macie-discovery-results".into()
        }
    );
    // The new bucket's policy is complete and waits for the new key's ARN.
    let Action::PutBucketPolicy { after, .. } = &steps[16].action else {
        panic!();
    };
    let text = statements::to_text(after.as_ref().expect("known: the bucket is new"));
    assert!(text.contains(KEY_ARN_PLACEHOLDER) && text.contains("DenyNonTLS"));
    // The key policy lets Macie in with its conditions, and the administrators.
    let Action::CreateKey { policy, .. } = &steps[9].action else {
        panic!();
    };
    let parsed = crate::policy::Policy::parse(&statements::to_text(policy)).expect("policy");
    assert_eq!(
        key_gaps(
            &parsed,
            "arn:aws:kms:eu-west-1:111111111111:key/x",
            &[source(A, "eu-west-1")]
        ),
        vec![]
    );
    assert!(statements::to_text(policy).contains("arn:aws:iam::111111111111:root"));
}

#[test]
fn the_plan_is_serialisable_and_round_trips() {
    let mut world = World::new(&["us-east-1"]);
    world.account(A, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Own, false);
    let text = serde_json::to_string(&plan).expect("JSON");
    assert!(text.contains("\"operation\":\"kms:CreateKey\""), "{text}");
    let back: Plan = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, plan);
}

#[test]
fn a_configuration_pointing_elsewhere_is_refused_unless_forced() {
    let mut world = World::new(&["us-east-1"]);
    world.account(
        A,
        &["us-east-1"],
        Some(destination(
            "theirs",
            "arn:aws:kms:us-east-1:999999999999:key/k",
        )),
        &[],
    );
    missing_repository(
        &mut world,
        "theirs",
        "arn:aws:kms:us-east-1:999999999999:key/k",
    );
    let plan = world.plan(Strategy::Own, false);
    assert!(
        matches!(&plan.targets[0].decision, Decision::Refused { reason } if reason.contains("s3://theirs/") && reason.contains("--force")),
        "{:?}",
        plan.targets[0].decision
    );
    assert_eq!(plan.step_count(), 0);
    let forced = world.plan(Strategy::Own, true);
    assert!(forced.targets[0].remediated());
    let Some(Step {
        action: Action::PutExportConfiguration { before, .. },
        summary,
        ..
    }) = forced.steps().last()
    else {
        panic!();
    };
    assert_eq!(
        before.as_ref().and_then(|b| b.bucket_name.as_deref()),
        Some("theirs")
    );
    assert!(summary.contains("replacing s3://theirs/"), "{summary}");
}

#[test]
fn an_existing_alias_and_bucket_are_reused_and_checked_when_applied() {
    let bucket_name = "macie-discovery-results-111111111111-us-east-1";
    let mut world = World::new(&["us-east-1"]);
    world
        .account(A, &["us-east-1"], None, &[bucket_name])
        .alias_key(A, "us-east-1", key_metadata(OWN_KEY, "Enabled"));
    let plan = world.plan(Strategy::Own, false);
    assert_eq!(
        operations(&plan),
        vec![
            "kms:PutKeyPolicy",
            "kms:EnableKeyRotation",
            "s3:PutPublicAccessBlock",
            "s3:PutBucketEncryption",
            "s3:PutBucketVersioning",
            "s3:PutBucketPolicy",
            "macie2:PutClassificationExportConfiguration"
        ]
    );
    let steps: Vec<&Step> = plan.steps().collect();
    assert!(matches!(
        &steps[0].action,
        Action::PutKeyPolicy {
            before: None,
            after: None,
            ..
        }
    ));
    assert!(steps[0].summary.contains("read and merged when applied"));
    assert!(
        steps[0]
            .commands
            .iter()
            .any(|c| c.contains("get-key-policy"))
    );
    let Action::PutExportConfiguration { destination, .. } = &steps[6].action else {
        panic!();
    };
    assert_eq!(
        destination.key,
        KeyRef::Arn {
            arn: OWN_KEY.into()
        }
    );
}

#[test]
fn a_repository_of_ours_with_a_broken_policy_gets_only_that_fixed() {
    let bucket_name = "macie-discovery-results-111111111111-us-east-1";
    let mut world = World::new(&["us-east-1"]);
    let other = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Keep", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}
    ]});
    world
        .account(
            A,
            &["us-east-1"],
            Some(destination(bucket_name, OWN_KEY)),
            &[bucket_name],
        )
        .alias_key(A, "us-east-1", key_metadata(OWN_KEY, "Enabled"))
        .key(key(OWN_KEY, &statements::own_key_policy(A, "us-east-1")))
        .bucket(bucket(bucket_name, A, "us-east-1", Some(&other)));
    let mut encrypted = world.run.buckets[bucket_name].clone();
    encrypted.encryption = Some(ok(
        "s3:GetBucketEncryption",
        Some(BucketEncryption {
            algorithm: "aws:kms".into(),
            kms_key_id: Some(OWN_KEY.into()),
        }),
    ));
    world.bucket(encrypted);
    let findings = judged(&world.run);
    assert!(
        findings
            .iter()
            .any(|f| f.rule_id == "MACIE-004" && f.status == Status::Fail)
    );
    let plan = world.plan(Strategy::Own, false);
    assert_eq!(operations(&plan), vec!["s3:PutBucketPolicy"]);
    let Action::PutBucketPolicy { before, after, .. } = &plan.groups[0].steps[0].action else {
        panic!();
    };
    assert_eq!(before, &PolicyBefore::Policy(other.clone()));
    let after = after.as_ref().expect("merged");
    assert_eq!(after["Statement"][0], other["Statement"][0], "kept");
    assert!(
        plan.groups[0].steps[0]
            .summary
            .contains("existing statements kept")
    );
}

#[test]
fn an_unusable_alias_key_blocks_instead_of_creating_another() {
    let mut world = World::new(&["us-east-1"]);
    world.account(A, &["us-east-1"], None, &[]).alias_key(
        A,
        "us-east-1",
        key_metadata(OWN_KEY, "Disabled"),
    );
    let plan = world.plan(Strategy::Own, false);
    assert!(
        matches!(&plan.targets[0].decision, Decision::Blocked { reason } if reason.contains("Disabled")),
        "{:?}",
        plan.targets[0].decision
    );
    assert_eq!(plan.step_count(), 0);
}

#[test]
fn an_alias_that_could_not_be_looked_up_blocks() {
    let mut world = World::new(&["us-east-1"]);
    world.account(A, &["us-east-1"], None, &[]);
    world.probes.alias_keys.insert(
        (A.into(), "us-east-1".into()),
        err(
            "kms:DescribeKey",
            ErrorKind::Throttled,
            "ThrottlingException",
        ),
    );
    let plan = world.plan(Strategy::Own, false);
    assert!(matches!(
        &plan.targets[0].decision,
        Decision::Blocked { .. }
    ));
}

#[test]
fn passing_and_unchecked_account_regions_are_not_targets() {
    let mut world = World::new(&["us-east-1"]);
    world.account(A, &["us-east-1"], None, &[]);
    world.account(B, &["us-east-1"], None, &[]);
    world
        .run
        .account_regions
        .get_mut(&(B.to_owned(), "us-east-1".to_owned()))
        .expect("B")
        .export_configuration = Some(err(
        "macie2:GetClassificationExportConfiguration",
        ErrorKind::Throttled,
        "ThrottlingException",
    ));
    let plan = world.plan(Strategy::Own, false);
    assert_eq!(plan.targets.len(), 1);
    assert_eq!(plan.targets[0].account_id, A);
    assert_eq!(plan.scan.unchecked, vec![source(B, "us-east-1")]);
}

#[test]
fn macie_members_judged_by_their_administrator_are_left_to_it() {
    let mut world = World::new(&["us-east-1"]);
    world.account(A, &["us-east-1"], None, &[]);
    world.run.header.rules.macie_members = MemberRepository::Administrator;
    world
        .run
        .account_regions
        .get_mut(&(A.to_owned(), "us-east-1".to_owned()))
        .expect("A")
        .administrator = Some(ok(
        "macie2:GetAdministratorAccount",
        Some(MacieAdministrator {
            account_id: B.into(),
            relationship_status: Some("Enabled".into()),
        }),
    ));
    world.account(B, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Own, false);
    let a = plan.targets.iter().find(|t| t.account_id == A).expect("A");
    assert!(
        matches!(&a.decision, Decision::Blocked { reason } if reason.contains("remediate 222222222222"))
    );
    let b = plan.targets.iter().find(|t| t.account_id == B).expect("B");
    assert!(b.remediated());
}

#[test]
fn central_merges_missing_accounts_first_then_points_each_account_region() {
    let mut world = central_world(&["us-east-1", "eu-west-1"]);
    world.account(A, &["us-east-1", "eu-west-1"], None, &[]);
    // B already exports there, but the policies do not let it in.
    world.account(
        B,
        &["us-east-1"],
        Some(destination("central", CENTRAL_KEY)),
        &[],
    );
    let plan = world.plan(Strategy::Central, false);
    assert_eq!(plan.targets.len(), 3, "{:#?}", plan.targets);
    assert!(
        plan.targets.iter().all(Target::remediated),
        "{:#?}",
        plan.targets
    );
    assert_eq!(plan.groups[0].kind, GroupKind::Repository);
    assert_eq!(plan.groups[0].account_id, LOG);
    assert_eq!(
        operations(&plan),
        vec![
            "kms:PutKeyPolicy",
            "s3:PutBucketPolicy",
            "macie2:PutClassificationExportConfiguration",
            "macie2:PutClassificationExportConfiguration",
        ]
    );
    assert_eq!(plan.groups[1].account_id, A);
    let Action::PutKeyPolicy { after, before, .. } = &plan.groups[0].steps[0].action else {
        panic!();
    };
    let after = after.as_ref().expect("after");
    let before = before.as_ref().expect("before");
    // Every existing statement survives, unchanged, in its place.
    for (index, statement) in before["Statement"]
        .as_array()
        .expect("list")
        .iter()
        .enumerate()
    {
        assert_eq!(&after["Statement"][index], statement);
    }
    let added = &after["Statement"][2];
    assert_eq!(added["Sid"], statements::CENTRAL_KEY_SID);
    assert_eq!(
        added["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!([A, B])
    );
    let Action::PutExportConfiguration { destination, .. } = &plan.groups[1].steps[0].action else {
        panic!();
    };
    assert_eq!(destination.bucket, "central");
    assert_eq!(destination.expected_bucket_owner, LOG);
    assert_eq!(
        destination.key,
        KeyRef::Arn {
            arn: CENTRAL_KEY.into()
        }
    );
}

#[test]
fn central_respects_macies_region_rule() {
    let mut world = central_world(&["us-east-1", "af-south-1"]);
    world.account(A, &["af-south-1"], None, &[]);
    let plan = world.plan(Strategy::Central, false);
    // A default-Region bucket may receive results from an opt-in Region...
    assert!(
        plan.targets[0].remediated(),
        "{:?}",
        plan.targets[0].decision
    );
    // ...for the opt-in Region's own principal.
    let Action::PutKeyPolicy { statements, .. } = &plan.groups[0].steps[0].action else {
        panic!();
    };
    assert_eq!(
        statements[0]["Principal"]["Service"],
        "macie.af-south-1.amazonaws.com"
    );

    let mut world = central_world(&["us-east-1"]);
    let mut far = world.run.buckets["central"].clone();
    far.location = Some(ok("s3:GetBucketLocation", "af-south-1".into()));
    world.bucket(far);
    world.settings.central_key_arn = Some("arn:aws:kms:af-south-1:333333333333:key/central".into());
    let moved = key(
        "arn:aws:kms:af-south-1:333333333333:key/central",
        &central_key_policy(&[]),
    );
    world.key(moved);
    world.account(A, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Central, false);
    assert!(
        matches!(&plan.targets[0].decision, Decision::Blocked { reason } if reason.contains("cannot receive results")),
        "{:?}",
        plan.targets[0].decision
    );
}

#[test]
fn central_refuses_other_repositories_and_blocks_on_explicit_denies() {
    let mut world = central_world(&["us-east-1"]);
    world.account(
        A,
        &["us-east-1"],
        Some(destination("own-bucket", OWN_KEY)),
        &[],
    );
    missing_repository(&mut world, "own-bucket", OWN_KEY);
    let plan = world.plan(Strategy::Central, false);
    assert!(matches!(
        &plan.targets[0].decision,
        Decision::Refused { .. }
    ));
    assert_eq!(plan.step_count(), 0, "no policy change for nobody");

    let mut world = central_world(&["us-east-1"]);
    let mut policy = central_key_policy(&["444444444444"]);
    policy["Statement"].as_array_mut().expect("list").push(
        json!({"Sid": "NoA", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:SourceAccount": A}}}),
    );
    world.key(key(CENTRAL_KEY, &policy));
    world.account(A, &["us-east-1"], None, &[]);
    world.account(B, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Central, false);
    let a = plan.targets.iter().find(|t| t.account_id == A).expect("A");
    assert!(
        matches!(&a.decision, Decision::Blocked { reason } if reason.contains("NoA")),
        "{:?}",
        a.decision
    );
    let b = plan.targets.iter().find(|t| t.account_id == B).expect("B");
    assert!(b.remediated());
    assert!(
        plan.steps()
            .all(|s| !s.serves.contains(&source(A, "us-east-1")))
    );
}

#[test]
fn an_unusable_central_repository_blocks_everyone() {
    let mut world = central_world(&["us-east-1"]);
    let mut disabled = key(CENTRAL_KEY, &central_key_policy(&[]));
    disabled.metadata = Some(ok("kms:DescribeKey", key_metadata(CENTRAL_KEY, "Disabled")));
    world.key(disabled);
    world.account(A, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Central, false);
    assert!(
        matches!(&plan.targets[0].decision, Decision::Blocked { reason } if reason.contains("Disabled"))
    );

    let mut world = World::new(&["us-east-1"]);
    world.account(A, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Central, false);
    assert!(
        matches!(&plan.targets[0].decision, Decision::Blocked { reason } if reason.contains("central_bucket"))
    );
}

#[test]
fn central_turns_on_public_access_blocks_and_the_tls_deny_when_missing() {
    let mut world = central_world(&["us-east-1"]);
    let mut open = world.run.buckets["central"].clone();
    open.public_access_block = Some(ok("s3:GetPublicAccessBlock", None));
    open.account_public_access_block = Some(ok("s3control:GetPublicAccessBlock", None));
    open.policy = Some(ok("s3:GetBucketPolicy", None));
    world.bucket(open);
    world.account(A, &["us-east-1"], None, &[]);
    let plan = world.plan(Strategy::Central, false);
    assert_eq!(
        operations(&plan),
        vec![
            "kms:PutKeyPolicy",
            "s3:PutPublicAccessBlock",
            "s3:PutBucketPolicy",
            "macie2:PutClassificationExportConfiguration"
        ]
    );
    let Action::PutBucketPolicy {
        after,
        deny_insecure,
        ..
    } = &plan.groups[0].steps[2].action
    else {
        panic!();
    };
    assert!(deny_insecure);
    let text = statements::to_text(after.as_ref().expect("after"));
    assert!(text.contains(statements::CENTRAL_TLS_SID));
}

// ---------------------------------------------------------------------------------------------
// --strategy repair

/// A key policy that lets only the account's administrators in: Macie lacks its grant.
fn admin_only_key_policy(account: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"}
    ]})
}

/// `account` exporting from `region` to its own repository (a bucket without a policy in
/// `bucket_region`, key `key_arn` with `metadata`), whose key policy lacks Macie's grant.
fn own_broken_repository(
    world: &mut World,
    account: &str,
    region: &str,
    bucket_region: &str,
    key_arn: &str,
    metadata: KeyMetadata,
) {
    let name = format!("repo-{account}");
    world
        .account(
            account,
            &[region],
            Some(destination(&name, key_arn)),
            &[name.as_str()],
        )
        .key(KeyEvidence {
            metadata: Some(ok("kms:DescribeKey", metadata)),
            ..key(key_arn, &admin_only_key_policy(account))
        })
        .bucket(bucket(&name, account, bucket_region, None));
}

fn decision_of(plan: &Plan, account: &str) -> Decision {
    plan.targets
        .iter()
        .find(|t| t.account_id == account)
        .map(|t| t.decision.clone())
        .unwrap_or_else(|| panic!("no target {account}"))
}

fn blocked_because(plan: &Plan, account: &str) -> String {
    match decision_of(plan, account) {
        Decision::Blocked { reason } => reason,
        other => panic!("{account} is not blocked: {other:?}"),
    }
}

#[test]
fn repair_blocks_repositories_a_merge_cannot_fix_with_the_reason_and_the_fix() {
    const AWS_MANAGED: &str = "444444444444";
    const ASYMMETRIC: &str = "555555555555";
    const WRONG_REGION: &str = "666666666666";
    const OUTSIDE: &str = "777777777777";
    const FORBIDDEN: &str = "888888888888";
    const DISABLED: &str = "999999999999";
    let mut world = World::new(&["us-east-1"]);
    let arn = |account: &str, region: &str| format!("arn:aws:kms:{region}:{account}:key/k");
    let plain = |account: &str, region: &str| key_metadata(&arn(account, region), "Enabled");
    let aws_managed = KeyMetadata {
        manager: "AWS".into(),
        ..plain(AWS_MANAGED, "us-east-1")
    };
    own_broken_repository(
        &mut world,
        AWS_MANAGED,
        "us-east-1",
        "us-east-1",
        &arn(AWS_MANAGED, "us-east-1"),
        aws_managed,
    );
    let asymmetric = KeyMetadata {
        spec: "RSA_2048".into(),
        ..plain(ASYMMETRIC, "us-east-1")
    };
    own_broken_repository(
        &mut world,
        ASYMMETRIC,
        "us-east-1",
        "us-east-1",
        &arn(ASYMMETRIC, "us-east-1"),
        asymmetric,
    );
    own_broken_repository(
        &mut world,
        WRONG_REGION,
        "us-east-1",
        "us-east-1",
        &arn(WRONG_REGION, "eu-west-1"),
        plain(WRONG_REGION, "eu-west-1"),
    );
    // The key belongs to an account the organization listing does not have.
    own_broken_repository(
        &mut world,
        OUTSIDE,
        "us-east-1",
        "us-east-1",
        &arn("101010101010", "us-east-1"),
        plain("101010101010", "us-east-1"),
    );
    // Results from a default Region may not go to an opt-in one.
    own_broken_repository(
        &mut world,
        FORBIDDEN,
        "us-east-1",
        "af-south-1",
        &arn(FORBIDDEN, "af-south-1"),
        plain(FORBIDDEN, "af-south-1"),
    );
    own_broken_repository(
        &mut world,
        DISABLED,
        "us-east-1",
        "us-east-1",
        &arn(DISABLED, "us-east-1"),
        key_metadata(&arn(DISABLED, "us-east-1"), "Disabled"),
    );
    world.account(A, &["us-east-1"], None, &[]);

    let plan = world.plan(Strategy::Repair, false);
    assert!(blocked_because(&plan, AWS_MANAGED).contains("AWS managed"));
    assert!(blocked_because(&plan, ASYMMETRIC).contains("RSA_2048 key for ENCRYPT_DECRYPT"));
    assert!(
        blocked_because(&plan, WRONG_REGION)
            .contains("is in eu-west-1, but the bucket is in us-east-1")
    );
    assert!(
        blocked_because(&plan, OUTSIDE)
            .contains("belongs to account 101010101010, outside the organization")
    );
    assert!(
        blocked_because(&plan, FORBIDDEN)
            .contains("af-south-1, which cannot receive results from Macie in us-east-1")
    );
    assert!(blocked_because(&plan, DISABLED).contains("is disabled: --recover-keys enables it"));
    assert!(blocked_because(&plan, A).contains("names no repository to repair"));
    assert_eq!(plan.step_count(), 0);

    // --recover-keys enables the disabled key first, then repairs its repository.
    let recovered = world.plan_recovering(Strategy::Repair, false, true);
    assert_eq!(decision_of(&recovered, DISABLED), Decision::Remediate);
    let ops = operations(&recovered);
    assert_eq!(ops[..2], ["kms:EnableKey", "kms:PutKeyPolicy"]);
    assert!(!ops.contains(&"kms:CancelKeyDeletion"));
    assert!(recovered.steps().all(|s| s.account_id == DISABLED));
}

#[test]
fn repair_fixes_a_shared_repository_once_and_shows_each_policy_change_as_a_diff() {
    let mut world = central_world(&["us-east-1", "eu-west-1"]);
    world.settings.central_bucket = None;
    world.settings.central_key_arn = None;
    world
        .account(
            A,
            &["us-east-1", "eu-west-1"],
            Some(destination("central", CENTRAL_KEY)),
            &[],
        )
        .account(
            B,
            &["us-east-1"],
            Some(destination("central", CENTRAL_KEY)),
            &[],
        );
    let plan = world.plan(Strategy::Repair, false);
    for target in &plan.targets {
        assert_eq!(target.decision, Decision::Remediate, "{target:?}");
    }
    assert_eq!(plan.targets.len(), 3);
    assert!(
        plan.steps().all(|s| s.account_id == LOG),
        "{:?}",
        operations(&plan)
    );
    // The bucket's default encryption uses the AWS managed key, not the repository's.
    assert_eq!(
        operations(&plan),
        [
            "kms:PutKeyPolicy",
            "s3:PutBucketPolicy",
            "s3:PutBucketEncryption"
        ]
    );
    let key_step = plan.steps().next().expect("the key policy step");
    assert_eq!(key_step.serves.len(), 3);
    assert_eq!(key_step.diff[0], "  = \"Admin\" (kept as is)");
    assert_eq!(key_step.diff[1], "  = \"Macie\" (kept as is)");
    assert!(
        key_step.diff[2].starts_with(r#"  + {"Action":["kms:GenerateDataKey","kms:Encrypt"]"#)
            && key_step.diff[2].contains(statements::CENTRAL_KEY_SID),
        "{:?}",
        key_step.diff
    );
    let Action::PutKeyPolicy {
        after: Some(after), ..
    } = &key_step.action
    else {
        panic!("{:?}", key_step.action);
    };
    let served = [
        source(A, "eu-west-1"),
        source(A, "us-east-1"),
        source(B, "us-east-1"),
    ];
    let (_, merged) = statements::parse(&statements::to_text(after)).expect("policy");
    assert!(key_gaps(&merged, CENTRAL_KEY, &served).is_empty());
    let bucket_step = plan.steps().nth(1).expect("the bucket policy step");
    let added: Vec<&String> = bucket_step
        .diff
        .iter()
        .filter(|l| l.starts_with("  + "))
        .collect();
    assert_eq!(
        added.len(),
        3,
        "write, locate and the encryption deny: {:?}",
        bucket_step.diff
    );
    assert!(
        added
            .iter()
            .any(|l| l.contains(statements::REPAIR_WRONG_KEY_SID))
    );
    assert!(
        bucket_step
            .diff
            .iter()
            .filter(|l| l.starts_with("  - "))
            .count()
            == 0
    );

    // Applied, the same plan from the repaired evidence has nothing left to do.
    let Action::PutBucketPolicy {
        after: Some(bucket_after),
        ..
    } = &bucket_step.action
    else {
        panic!("{:?}", bucket_step.action);
    };
    world.key(key(CENTRAL_KEY, after)).bucket(bucket(
        "central",
        LOG,
        "us-east-1",
        Some(bucket_after),
    ));
    let again = world.plan(Strategy::Repair, false);
    assert!(again.targets.is_empty(), "{:?}", again.targets);
}
