//! Hostile account names and an emulated organization that uses them, shared by the HTML tests
//! (`html`) and the browser test (`browser`).

/// Strings an attacker who controls an account name (or a bucket name, or a message) could use.
pub fn hostile_names() -> Vec<String> {
    vec![
        "<script>alert(1)</script>".into(),
        "\"><img src=x onerror=alert(1)>".into(),
        "=HYPERLINK(\"http://x\")".into(),
        "+cmd".into(),
        "@SUM(1)".into(),
        "line one\nline two\r\nline three".into(),
        format!("long-{}", "a".repeat(4995)),
        "Zürich 東京 🚀".into(),
        "\u{202e}evil\u{202c} & 'quotes' </script><!--".into(),
    ]
}

/// The 5,000-character name.
pub fn long_name() -> String {
    hostile_names()[6].clone()
}

fn quoted(text: &str) -> String {
    // A JSON string is a valid TOML basic string (same escapes).
    serde_json::to_string(text).expect("a JSON string")
}

/// An organization whose accounts carry the hostile names, with every status represented:
/// PASS and FAIL (MACIE-001/002), WARN (grace period), ERROR (denied role), SKIPPED (suspended,
/// disabled Region), NOT_APPLICABLE (repository rules without a repository).
pub fn scenario() -> String {
    let names = hostile_names();
    let id = |n: usize| format!("{n}{n}{n}{n}{n}{n}{n}{n}{n}{n}{n}{n}");
    let mut toml = String::from(
        "[organization]\nenabled = true\n\n[[accounts]]\nid = \"123456789012\"\nname = \"management\"\n\
         [[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 100\n",
    );
    for (index, name) in names.iter().enumerate() {
        let n = index + 1;
        toml.push_str(&format!(
            "\n[[accounts]]\nid = \"{}\"\nname = {}\n",
            id(n),
            quoted(name)
        ));
        match index {
            // Denied role: ERROR.
            3 => toml.push_str("assume_role = \"deny\"\n"),
            // Suspended: SKIPPED.
            4 => toml.push_str("status = \"SUSPENDED\"\n"),
            // Macie off everywhere: MACIE-001 FAIL.
            1 => {}
            // Within the grace period: MACIE-002 WARN.
            2 => toml.push_str("[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 5\n"),
            // An opt-in Region disabled: SKIPPED there.
            5 => toml.push_str(
                "disabled_regions = [\"af-south-1\"]\n[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 60\n",
            ),
            // Enabled in both Regions for long: MACIE-001 PASS, MACIE-002 FAIL.
            _ => toml.push_str(
                "[[accounts.macie]]\nregion = \"us-east-1\"\ncreated_days_ago = 90\n\
                 [[accounts.macie]]\nregion = \"af-south-1\"\ncreated_days_ago = 90\n",
            ),
        }
    }
    toml
}

/// The Regions the scenario is scanned in.
pub const REGIONS: &str = "us-east-1,af-south-1";
