//! Reports of a run, written from what the audit database holds: `devices.csv`, `run.json` and
//! `summary.md` in `reports/<run>/`.

use std::path::{Path, PathBuf};

use crate::store::RunRecord;

/// Default parent directory of the reports.
pub const DEFAULT_DIR: &str = "reports";

/// The files a report consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub dir: PathBuf,
    pub devices_csv: PathBuf,
    pub run_json: PathBuf,
    pub summary_md: PathBuf,
}

/// Writes the three files into `dir` (created with owner-only permissions).
pub fn write(_dir: &Path, _record: &RunRecord) -> anyhow::Result<ReportFiles> {
    todo!()
}

/// The summary as Markdown, also printed by `run` and `demo` at the end.
pub fn summary_markdown(_record: &RunRecord) -> String {
    todo!()
}
