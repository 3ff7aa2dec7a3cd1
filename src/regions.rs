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

/// Whether results from Macie in `macie_region` may be stored in a bucket in `bucket_region`.
///
/// Results from a default Region must go to a bucket in a default Region; results from an opt-in
/// Region to a bucket in that same Region or in a default Region. Regions Macie does not serve are
/// judged by whether AWS lists them as opt-in.
pub fn repository_region_allowed(macie_region: &str, bucket_region: &str) -> bool {
    let bucket_is_default = !is_opt_in(bucket_region);
    if is_opt_in(macie_region) {
        bucket_region == macie_region || bucket_is_default
    } else {
        bucket_is_default
    }
}

/// The service principal Macie uses in a Region: Region-specific in opt-in Regions.
pub fn macie_principal(region: &str) -> String {
    if is_opt_in(region) {
        format!("macie.{region}.amazonaws.com")
    } else {
        "macie.amazonaws.com".to_owned()
    }
}

/// Whether an account must opt in to `region` before using it.
pub fn is_opt_in(region: &str) -> bool {
    /// Opt-in Regions without a Macie endpoint, which can still hold buckets.
    const OTHER_OPT_IN: &[&str] = &[
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-south-2",
        "me-central-1",
        "mx-central-1",
    ];
    find(region).map_or_else(|| OTHER_OPT_IN.contains(&region), |r| r.opt_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_two_regions_five_opt_in() {
        assert_eq!(MACIE_REGIONS.len(), 22);
        assert_eq!(MACIE_REGIONS.iter().filter(|r| r.opt_in).count(), 5);
    }

    #[test]
    fn repository_region_rule() {
        assert!(repository_region_allowed("us-east-1", "eu-west-1"));
        assert!(!repository_region_allowed("us-east-1", "af-south-1"));
        assert!(repository_region_allowed("af-south-1", "af-south-1"));
        assert!(repository_region_allowed("af-south-1", "us-east-1"));
        assert!(!repository_region_allowed("af-south-1", "me-south-1"));
        assert!(!repository_region_allowed("eu-west-1", "eu-central-2"));
    }
}
