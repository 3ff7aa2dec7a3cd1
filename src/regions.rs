//! The Regions where Amazon Macie exists, and which of them are opt-in.

/// A commercial Region with a Macie endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacieRegion {
    /// The Region code, e.g. `us-east-1`.
    pub name: &'static str,
    /// Whether an account must opt in before it can use the Region.
    pub opt_in: bool,
}

/// Every Region where Macie has an endpoint (commercial partition), in a stable order.
pub const MACIE_REGIONS: &[MacieRegion] = &[
    MacieRegion {
        name: "us-east-1",
        opt_in: false,
    },
    MacieRegion {
        name: "us-east-2",
        opt_in: false,
    },
    MacieRegion {
        name: "us-west-1",
        opt_in: false,
    },
    MacieRegion {
        name: "us-west-2",
        opt_in: false,
    },
    MacieRegion {
        name: "ca-central-1",
        opt_in: false,
    },
    MacieRegion {
        name: "sa-east-1",
        opt_in: false,
    },
    MacieRegion {
        name: "eu-west-1",
        opt_in: false,
    },
    MacieRegion {
        name: "eu-west-2",
        opt_in: false,
    },
    MacieRegion {
        name: "eu-west-3",
        opt_in: false,
    },
    MacieRegion {
        name: "eu-central-1",
        opt_in: false,
    },
    MacieRegion {
        name: "eu-north-1",
        opt_in: false,
    },
    MacieRegion {
        name: "eu-south-1",
        opt_in: true,
    },
    MacieRegion {
        name: "ap-northeast-1",
        opt_in: false,
    },
    MacieRegion {
        name: "ap-northeast-2",
        opt_in: false,
    },
    MacieRegion {
        name: "ap-northeast-3",
        opt_in: false,
    },
    MacieRegion {
        name: "ap-south-1",
        opt_in: false,
    },
    MacieRegion {
        name: "ap-southeast-1",
        opt_in: false,
    },
    MacieRegion {
        name: "ap-southeast-2",
        opt_in: false,
    },
    MacieRegion {
        name: "ap-east-1",
        opt_in: true,
    },
    MacieRegion {
        name: "me-south-1",
        opt_in: true,
    },
    MacieRegion {
        name: "af-south-1",
        opt_in: true,
    },
    MacieRegion {
        name: "il-central-1",
        opt_in: true,
    },
];

/// Looks a Region up by its code.
pub fn find(name: &str) -> Option<&'static MacieRegion> {
    MACIE_REGIONS.iter().find(|region| region.name == name)
}

/// The codes of every Macie Region.
pub fn all_names() -> Vec<String> {
    MACIE_REGIONS
        .iter()
        .map(|region| region.name.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_two_regions_five_opt_in() {
        assert_eq!(MACIE_REGIONS.len(), 22);
        assert_eq!(MACIE_REGIONS.iter().filter(|r| r.opt_in).count(), 5);
    }
}
