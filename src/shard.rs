//! Shards: deterministic slices of a run's accounts, for runners that split an organization.
//! Plain data at the bottom of the crate: the evidence records the shard a run covers.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One of N deterministic slices of the accounts in scope, for parallel runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Shard {
    /// 1-based index of this shard.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Whether the account belongs to this shard: by a hash of its id, so that the split does not
    /// depend on the listing's order.
    pub fn contains(&self, account_id: &str) -> bool {
        let digest = Sha256::digest(account_id.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(bytes) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        let parse = |part: &str| part.trim().parse::<u32>().ok();
        match value.split_once('/').map(|(k, n)| (parse(k), parse(n))) {
            Some((Some(index), Some(count))) if count >= 1 && (1..=count).contains(&index) => {
                Ok(Shard { index, count })
            }
            _ => Err(format!("{value:?} is not K/N with 1 <= K <= N (e.g. 2/3)")),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--shard`: a shard given as K/N, or `auto`, read from the job engine running the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    /// `K/N`.
    Fixed(Shard),
    /// `auto`: a Kubernetes Indexed Job or an AWS Batch array job (see [`resolve_shard`]).
    Auto,
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, Self::Err> {
        if value == "auto" {
            return Ok(ShardArg::Auto);
        }
        value
            .parse()
            .map(ShardArg::Fixed)
            .map_err(|e: String| format!("{e}, or auto"))
    }
}

/// The shard a scan covers. `auto` reads a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`
/// (0-based; the number of completions is not in the environment, so it comes from
/// `--shard-count`), or an AWS Batch array job's `AWS_BATCH_JOB_ARRAY_INDEX` (0-based) and
/// `AWS_BATCH_JOB_ARRAY_SIZE`. `env` reads an environment variable. The error is a usage error.
pub fn resolve_shard(
    arg: Option<ShardArg>,
    count: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> std::result::Result<Option<Shard>, String> {
    let shard = match arg {
        None => return Ok(None),
        Some(ShardArg::Fixed(shard)) => {
            if count.is_some() {
                return Err("--shard-count goes with --shard auto, not --shard K/N".into());
            }
            return Ok(Some(shard));
        }
        Some(ShardArg::Auto) => {
            let number = |name: &str, value: String| {
                value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("--shard auto: {name}={value:?} is not a number"))
            };
            if let Some(index) = env("AWS_BATCH_JOB_ARRAY_INDEX") {
                let index = number("AWS_BATCH_JOB_ARRAY_INDEX", index)?;
                let size = match (env("AWS_BATCH_JOB_ARRAY_SIZE"), count) {
                    (Some(size), Some(count)) => {
                        let size = number("AWS_BATCH_JOB_ARRAY_SIZE", size)?;
                        if size != count {
                            return Err(format!(
                                "--shard auto: AWS_BATCH_JOB_ARRAY_SIZE={size} but --shard-count \
                                 {count}; the array job's size is the shard count"
                            ));
                        }
                        size
                    }
                    (Some(size), None) => number("AWS_BATCH_JOB_ARRAY_SIZE", size)?,
                    (None, Some(count)) => count,
                    (None, None) => {
                        return Err("--shard auto: AWS_BATCH_JOB_ARRAY_INDEX is set but not \
                                    AWS_BATCH_JOB_ARRAY_SIZE; pass --shard-count N"
                            .into());
                    }
                };
                (index, size, "AWS_BATCH_JOB_ARRAY_INDEX")
            } else if let Some(index) = env("JOB_COMPLETION_INDEX") {
                let index = number("JOB_COMPLETION_INDEX", index)?;
                let count = count.ok_or(
                    "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job); pass \
                     the Job's completions as --shard-count N",
                )?;
                (index, count, "JOB_COMPLETION_INDEX")
            } else {
                return Err(
                    "--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed \
                            Job) nor AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job) is set; \
                            use --shard K/N outside those engines"
                        .into(),
                );
            }
        }
    };
    let (index, count, source) = shard;
    if count == 0 || index >= count {
        return Err(format!(
            "--shard auto: {source}={index} is not an index below the shard count {count}"
        ));
    }
    Ok(Some(Shard {
        index: index + 1,
        count,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_every_account_exactly_once() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().expect("shard"))
            .collect();
        for n in 0..300u64 {
            let id = format!("{:012}", 100_000_000_000 + n);
            assert_eq!(shards.iter().filter(|s| s.contains(&id)).count(), 1, "{id}");
        }
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| {
                (0..300u64)
                    .filter(|n| s.contains(&format!("{:012}", 100_000_000_000 + n)))
                    .count()
            })
            .collect();
        assert!(
            sizes.iter().all(|&size| size > 60),
            "roughly even: {sizes:?}"
        );
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod auto_tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_kubernetes_indexed_job_gives_its_index_and_the_count_passed() {
        let shard = resolve_shard(
            Some(ShardArg::Auto),
            Some(4),
            env(&[("JOB_COMPLETION_INDEX", "3")]),
        );
        assert_eq!(shard, Ok(Some(Shard { index: 4, count: 4 })));
        let without_count = resolve_shard(
            Some(ShardArg::Auto),
            None,
            env(&[("JOB_COMPLETION_INDEX", "0")]),
        );
        assert!(without_count.is_err_and(|e| e.contains("--shard-count")));
    }

    #[test]
    fn an_aws_batch_array_job_gives_its_index_and_size() {
        let shard = resolve_shard(
            Some(ShardArg::Auto),
            None,
            env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
            ]),
        );
        assert_eq!(shard, Ok(Some(Shard { index: 1, count: 3 })));
        let outside = resolve_shard(
            Some(ShardArg::Auto),
            None,
            env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "3"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
            ]),
        );
        assert!(outside.is_err());
        let disagreeing = resolve_shard(
            Some(ShardArg::Auto),
            Some(4),
            env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
            ]),
        );
        assert!(disagreeing.is_err_and(|e| e.contains("--shard-count 4")));
    }

    #[test]
    fn no_engine_or_a_bad_value_is_a_clear_error() {
        let none = resolve_shard(Some(ShardArg::Auto), Some(2), env(&[]));
        assert!(none.is_err_and(
            |e| e.contains("JOB_COMPLETION_INDEX") && e.contains("AWS_BATCH_JOB_ARRAY_INDEX")
        ));
        let bad = resolve_shard(
            Some(ShardArg::Auto),
            Some(2),
            env(&[("JOB_COMPLETION_INDEX", "x")]),
        );
        assert!(bad.is_err_and(|e| e.contains("not a number")));
        let fixed = resolve_shard(Some("2/3".parse().expect("K/N")), None, env(&[]));
        assert_eq!(fixed, Ok(Some(Shard { index: 2, count: 3 })));
        assert!(
            resolve_shard(
                Some(ShardArg::Fixed(Shard { index: 1, count: 2 })),
                Some(2),
                env(&[])
            )
            .is_err()
        );
        assert_eq!("auto".parse::<ShardArg>(), Ok(ShardArg::Auto));
    }
}
