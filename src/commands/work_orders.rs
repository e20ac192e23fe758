//! `fleetreset work-orders RUN`: the technicians' checklist of a run's `manual_required`
//! devices, written as `work-orders.md`, `work-orders.html` and `work-orders.csv` into the run's
//! report directory.
//!
//! A run with no device waiting for a technician writes nothing, says so on stderr, and exits 0.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;

use super::report::{default_dir, resolve};
use super::runs::open_existing;
use crate::cli::WorkOrdersArgs;
use crate::exit::Status;
use crate::inert::Inert;
use crate::inventory::{Device, Inventory, ReadOptions};
use crate::output::say;
use crate::report::work_orders::{self, WorkOrders};
use crate::store::RunRow;

pub fn run(args: &WorkOrdersArgs) -> anyhow::Result<Status> {
    let db = open_existing(&args.db)?;
    let run_id = resolve(&db, &args.run, &args.db)?;
    let record = db
        .load_run(&run_id)
        .with_context(|| format!("cannot read run {run_id} from {}", args.db.display()))?;
    let notes = match run_inventory(&record.run) {
        Ok(inv) => inv
            .devices
            .into_iter()
            .filter_map(|d| Some((d.id, d.notes?)))
            .collect(),
        Err(why) => {
            say!("fleetreset: the work orders have no inventory notes: {why}");
            HashMap::new()
        }
    };
    let orders = WorkOrders::of(&record, &notes);
    if orders.is_empty() {
        say!(
            "run {} has no device waiting for a technician (none is manual_required); no work orders written",
            Inert(&run_id)
        );
        return Ok(Status::Success);
    }
    for item in orders.items() {
        if let Some(warning) = &item.steps.warning {
            say!(
                "fleetreset: warning: {}: {}",
                Inert(&item.device_id),
                Inert(warning)
            );
        }
    }
    let dir: PathBuf = match &args.out {
        Some(dir) => dir.clone(),
        None => default_dir(&run_id)?,
    };
    let files = work_orders::write(&dir, &orders)?;
    let text = format!(
        "{}\n{}\n{}\n",
        files.markdown.display(),
        files.html.display(),
        files.csv.display()
    );
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    drop(stdout);
    say!(
        "{} device(s) for a technician. When the checklist comes back with confirmed_by filled in: {}",
        orders.items().count(),
        confirm_hint(&run_id, &files.csv, &args.db)
    );
    Ok(Status::Success)
}

/// `fleetreset confirm RUN --from CSV --db DB`, quoted to work as printed.
fn confirm_hint(run_id: &str, csv: &std::path::Path, db: &std::path::Path) -> String {
    use crate::hint::shell_word;
    [
        "fleetreset".to_string(),
        "confirm".to_string(),
        shell_word(run_id),
        "--from".to_string(),
        shell_word(&csv.to_string_lossy()),
        "--db".to_string(),
        shell_word(&db.to_string_lossy()),
    ]
    .join(" ")
}

/// The run's inventory, read as the run read it, if it is still the file the run read (same
/// SHA-256); otherwise why not, in words. Its problems are not printed: the run checked it.
pub(crate) fn run_inventory(run: &RunRow) -> Result<Inventory, String> {
    let path = PathBuf::from(&run.inventory_path);
    let options: ReadOptions = run
        .parameters()
        .map_err(|e| format!("run {}'s read options are unusable: {e}", run.id))?
        .read_options();
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("cannot read the run's inventory {}: {e}", path.display()))?;
    if crate::engine::execute::sha256_hex(&bytes) != run.inventory_sha256 {
        return Err(format!(
            "{} changed since run {} began",
            path.display(),
            run.id
        ));
    }
    crate::inventory::parse_with(&path, &bytes, &options)
        .map_err(|e| format!("{} no longer reads as an inventory: {e}", path.display()))
}

/// The device `id` of the run's inventory.
pub(crate) fn device<'a>(inventory: &'a Inventory, id: &str) -> Option<&'a Device> {
    inventory.devices.iter().find(|d| d.id == id)
}
