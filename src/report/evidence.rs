//! `evidence.jsonl`: the run's evidence, one JSON record per line.

use std::path::Path;

use super::write_atomically;
use crate::error::Result;
use crate::evidence::RunEvidence;

/// The file name of the evidence in a run directory.
pub const FILE_NAME: &str = "evidence.jsonl";

/// Writes the run's evidence to `dir/evidence.jsonl`.
pub fn write(dir: &Path, run: &RunEvidence) -> Result<()> {
    write_atomically(&dir.join(FILE_NAME), |out| {
        for record in run.records() {
            serde_json::to_writer(&mut *out, &record)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}
