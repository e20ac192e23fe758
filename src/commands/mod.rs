//! One file per subcommand. Each has a `run` that takes its arguments and what it needs, and
//! returns the exit status; nothing here reads globals.

pub mod audit;
pub mod certificates;
pub mod check;
pub mod confirm;
pub mod consent;
pub mod demo;
pub mod discover;
pub mod estate;
pub mod history;
pub mod keygen;
pub mod operator;
pub mod options;
pub mod plan;
pub mod report;
pub mod resume;
pub mod run;
pub mod runs;
pub mod seal;
pub mod simulate;
pub mod summary;
pub mod work_orders;

use crate::output::say;
use std::path::Path;

use anyhow::Context;

use crate::inventory::{self, Inventory, LoadError, ReadOptions};

/// Loads an inventory (CSV or workbook) for a command, with the SHA-256 of the exact bytes
/// parsed (a workbook's file bytes), and prints its warnings on stderr. A file with problems
/// prints them as `FILE:LINE: …` and gives `None` (the command exits 2); an unreadable file,
/// a workbook that isn't one, or an option that doesn't fit the file is an error.
pub(crate) fn load_inventory(
    path: &Path,
    options: &ReadOptions,
) -> anyhow::Result<Option<(Inventory, String)>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read inventory {}", path.display()))?;
    match inventory::parse_with(path, &bytes, options) {
        Ok(inv) => {
            for warning in inv.warning_lines() {
                say!("{warning}");
            }
            Ok(Some((inv, crate::engine::execute::sha256_hex(&bytes))))
        }
        Err(LoadError::Invalid(errors)) => {
            say!("{errors}");
            say!(
                "fleetreset: {} has problems; nothing was sent (see `fleetreset check {}`)",
                path.display(),
                path.display()
            );
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}
