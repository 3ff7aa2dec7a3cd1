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
