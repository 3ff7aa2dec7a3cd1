//! `report.html`: the self-contained report for people.

use std::path::Path;

use super::{ReportInput, write_atomically};
use crate::error::Result;

/// The file name of the HTML report in a run directory.
pub const FILE_NAME: &str = "report.html";

/// Writes `dir/report.html`.
pub fn write(dir: &Path, input: &ReportInput<'_>) -> Result<()> {
    let _ = input;
    write_atomically(&dir.join(FILE_NAME), |out| {
        out.write_all(b"<!doctype html><title>macie-audit</title>")
    })
}
