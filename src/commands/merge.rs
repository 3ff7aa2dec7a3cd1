//! The `merge` command: combine the runs of shards (`scan --shard K/N`) into one run with all
//! reports, as if one runner had scanned everything.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::error::{Error, Result};
use crate::evidence::{
    AccountRegionEvidence, AccountSink, BucketEvidence, Evidence, EvidenceWriter, KeyEvidence,
    MergedShards, ResourceControlEvidence, RunEnd, RunEvidence, RunHeader,
};
use crate::report::{self, EvidenceFile};
use crate::run_dir::{self, manifest};

use super::Outcome;
use crate::triage::{TriageInputs, TriageOptions};

/// What `merge` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// The shards' run directories.
    pub runs: Vec<PathBuf>,
    /// Where the merged run is written.
    pub output_dir: PathBuf,
    /// Merge even when shards of the split are missing (the merged run is then partial).
    pub allow_partial: bool,
    /// Suppressions, baseline and gate.
    pub triage: TriageOptions,
}

/// Loads the shards, checks they belong together, and writes the merged run.
pub fn merge(args: &MergeOptions, command_line: &[String]) -> Result<Outcome> {
    let shards: Vec<(PathBuf, Evidence)> = args
        .runs
        .iter()
        .map(|dir| open_shard(dir).map(|evidence| (dir.clone(), evidence)))
        .collect::<Result<_>>()?;
    let triage_inputs = TriageInputs::load(&args.triage, &args.output_dir)?;
    let merged = combine(&shards, command_line, args.allow_partial)?;
    let (run_id, run_dir) =
        run_dir::create_run_directory(&args.output_dir, merged.header.started_at, None)?;
    let mut merged = merged;
    merged.header.run_id = run_id.clone();
    let evidence = write_merged(&run_dir, &merged, &shards)?;
    drop(shards);
    let merged = evidence.run();
    let marks = triage_inputs.marks(merged.header.started_at.date_naive());
    let written = report::write_all(&run_dir, &evidence, &marks, EvidenceFile::Keep)?;
    report::summary::log_unchecked(merged, &written.tally);
    let metadata = &written.metadata;
    run_dir::update_latest_if_full(&args.output_dir, merged)?;
    Ok(Outcome {
        output: report::summary::render(
            merged,
            &written.tally,
            metadata,
            &run_dir,
            &[],
            metadata.exit_code,
        ),
        exit_code: metadata.exit_code,
    })
}

/// A shard's evidence: a run directory (checked against its `SHA256SUMS` first) or its
/// evidence file. A path that holds no run is a usage error, as for `report`.
fn open_shard(source: &Path) -> Result<Evidence> {
    let (dir, path) = if source.is_dir() {
        (source, source.join(crate::run_dir::EVIDENCE_FILE))
    } else {
        (
            source.parent().unwrap_or_else(|| Path::new(".")),
            source.to_path_buf(),
        )
    };
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "{}: no run here (expected a shard's run directory or its {})",
            source.display(),
            crate::run_dir::EVIDENCE_FILE
        )));
    }
    if let Some(check) = manifest::check(dir)?
        && !check.matches()
    {
        return Err(Error::DamagedInput {
            path: dir.to_path_buf(),
            message: format!(
                "the shard does not match its {} ({}); nothing was merged",
                manifest::FILE_NAME,
                check.describe()
            ),
        });
    }
    Evidence::open(&path)
}

/// Writes the merged run's `evidence.jsonl` in `dir`, one account at a time from the shard that
/// scanned it, and opens it.
fn write_merged(
    dir: &Path,
    merged: &RunEvidence,
    shards: &[(PathBuf, Evidence)],
) -> Result<Evidence> {
    let path = dir.join(crate::run_dir::EVIDENCE_FILE);
    let writer = EvidenceWriter::create(&path, &merged.header)?;
    let scanned_by: HashMap<&str, &Evidence> = shards
        .iter()
        .flat_map(|(_, shard)| {
            shard
                .run()
                .accounts
                .iter()
                .map(move |account| (account.account.id.as_str(), shard))
        })
        .collect();
    // By account id, and the repositories by name: the same shards give the same bytes.
    for account in &merged.accounts {
        let records: Vec<AccountRegionEvidence> = match scanned_by.get(account.account.id.as_str())
        {
            Some(shard) => shard
                .account_regions(&account.account.id)?
                .into_iter()
                .map(Cow::into_owned)
                .collect(),
            None => Vec::new(),
        };
        writer.account(account, &records);
    }
    let mut buckets: Vec<BucketEvidence> = merged.buckets.values().cloned().collect();
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    let mut keys: Vec<KeyEvidence> = merged.keys.values().cloned().collect();
    keys.sort_by(|a, b| a.arn.cmp(&b.arn));
    let path = writer.finish(
        &buckets,
        &keys,
        merged.resource_controls.as_ref(),
        merged.end.as_ref(),
    )?;
    Evidence::open(&path)
}

/// The shards of a split a run holds: its own shard, or those of a merge (a partial merge can be
/// merged again with the shards it lacks). `None` for a run that is not part of a split.
fn shards_held(header: &RunHeader) -> Option<MergedShards> {
    match (&header.shard, &header.scope.merged_shards) {
        (Some(shard), _) => Some(MergedShards {
            count: shard.count,
            indexes: vec![shard.index],
        }),
        (None, merged) => merged.clone(),
    }
}

/// Shards `indexes` of `count`, as `1/3, 2/3`.
fn shard_list(indexes: &[u32], count: u32) -> String {
    indexes
        .iter()
        .map(|index| format!("{index}/{count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Combines shard runs: the merged run's header, accounts, repositories and end (the
/// account-Region records stay in the shards' files). Refuses runs made with different
/// configurations, Regions, account filters or shard counts, the same shard twice, accounts
/// scanned by more than one of them, and, unless `allow_partial`, a split with shards missing.
fn combine(
    shards: &[(PathBuf, Evidence)],
    command_line: &[String],
    allow_partial: bool,
) -> Result<RunEvidence> {
    let Some((first_dir, first)) = shards.first().map(|(dir, shard)| (dir, shard.run())) else {
        return Err(Error::Usage(
            "merge: name at least one run directory".into(),
        ));
    };
    let refuse = |dir: &Path, why: String| Error::Usage(format!("merge: {} {why}", dir.display()));
    let mut seen_shards = BTreeSet::new();
    let mut seen_accounts: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (dir, run) in shards.iter().map(|(dir, shard)| (dir, shard.run())) {
        let header = &run.header;
        if header.config_sha256 != first.header.config_sha256 {
            return Err(refuse(
                dir,
                format!(
                    "was made with another configuration (sha256 {} vs {} in {})",
                    header.config_sha256,
                    first.header.config_sha256,
                    first_dir.display()
                ),
            ));
        }
        if header.regions != first.header.regions
            || header.rules != first.header.rules
            || header.scope.regions != first.header.scope.regions
        {
            return Err(refuse(dir, "covers other Regions or rule settings".into()));
        }
        if header.scope.accounts != first.header.scope.accounts {
            return Err(refuse(
                dir,
                "was made with another --accounts filter".into(),
            ));
        }
        let held = shards_held(header);
        let count = held.as_ref().map(|held| held.count);
        if count != shards_held(&first.header).map(|held| held.count) {
            return Err(refuse(
                dir,
                "belongs to another sharding (a different shard count)".into(),
            ));
        }
        for index in held.iter().flat_map(|held| &held.indexes) {
            if !seen_shards.insert(*index) {
                return Err(refuse(
                    dir,
                    format!(
                        "is shard {} again",
                        shard_list(&[*index], count.unwrap_or(1))
                    ),
                ));
            }
        }
        for account in &run.accounts {
            if let Some(other) = seen_accounts.insert(account.account.id.clone(), dir.clone()) {
                return Err(refuse(
                    dir,
                    format!(
                        "scanned account {} that {} scanned too",
                        account.account.id,
                        other.display()
                    ),
                ));
            }
        }
    }
    let merged_shards = shards_held(&first.header).map(|first| MergedShards {
        count: first.count,
        indexes: seen_shards.into_iter().collect(),
    });
    if let Some(merged) = &merged_shards {
        let missing = merged.missing();
        if !missing.is_empty() && !allow_partial {
            return Err(Error::Usage(format!(
                "merge: shard{} {} of the split {} missing (the runs given hold {}): merge every \
                 shard, or pass --allow-partial for a partial run, which never becomes latest",
                if missing.len() == 1 { "" } else { "s" },
                shard_list(&missing, merged.count),
                if missing.len() == 1 { "is" } else { "are" },
                shard_list(&merged.indexes, merged.count),
            )));
        }
    }
    let mut header = first.header.clone();
    header.shard = None;
    header.scope.merged_shards = merged_shards;
    header.command_line = command_line.to_vec();
    header.started_at = shards
        .iter()
        .map(|(_, shard)| shard.run().header.started_at)
        .min()
        .unwrap_or(header.started_at);
    let mut excluded = BTreeMap::new();
    let mut population = BTreeMap::new();
    let mut accounts = Vec::new();
    let mut buckets: BTreeMap<String, BucketEvidence> = BTreeMap::new();
    let mut keys: BTreeMap<String, KeyEvidence> = BTreeMap::new();
    let mut resource_controls: Option<ResourceControlEvidence> = None;
    for run in shards.iter().map(|(_, shard)| shard.run()) {
        for account in &run.header.excluded_accounts {
            excluded.insert(account.id.clone(), account.clone());
        }
        for account in &run.header.accounts {
            population.insert(account.id.clone(), account.clone());
        }
        accounts.extend(run.accounts.iter().cloned());
        for bucket in run.buckets.values() {
            let better = buckets
                .get(&bucket.name)
                .is_none_or(|kept| kept.unverifiable.is_some() && bucket.unverifiable.is_none());
            if better {
                buckets.insert(bucket.name.clone(), bucket.clone());
            }
        }
        for key in run.keys.values() {
            let better = keys
                .get(&key.arn)
                .is_none_or(|kept| kept.unverifiable.is_some() && key.unverifiable.is_none());
            if better {
                keys.insert(key.arn.clone(), key.clone());
            }
        }
        if let Some(controls) = &run.resource_controls {
            resource_controls
                .get_or_insert_with(ResourceControlEvidence::default)
                .absorb(controls);
        }
    }
    accounts.sort_by(|a, b| a.account.id.cmp(&b.account.id));
    header.excluded_accounts = excluded.into_values().collect();
    header.accounts = population.into_values().collect();
    let ends: Vec<&RunEnd> = shards
        .iter()
        .filter_map(|(_, shard)| shard.run().end.as_ref())
        .collect();
    let end = (ends.len() == shards.len()).then(|| RunEnd {
        ended_at: ends
            .iter()
            .map(|e| e.ended_at)
            .max()
            .unwrap_or_else(Utc::now),
        interrupted: ends.iter().any(|e| e.interrupted),
    });
    Ok(RunEvidence {
        header,
        accounts,
        account_regions: Default::default(),
        buckets: buckets.into_iter().collect(),
        keys: keys.into_iter().collect(),
        resource_controls,
        end,
    })
}
