//! `fleetreset report --estate [--db OUT.db] [--out DIR]`: a merged audit's sites on one page
//! (`estate.html`), each run's chain verified as `audit verify` does. Prints the page's path.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, bail};

use crate::exit::Status;
use crate::report::html::estate::{self, Estate, EstateRun};
use crate::store::Db;

pub fn run(db: &Db, path: &Path, out: Option<&Path>) -> anyhow::Result<Status> {
    let read = || format!("cannot read the merged audit {}", path.display());
    if !db.is_merged().with_context(read)? {
        bail!(
            "{} is not a merged audit: `fleetreset audit merge {} SITE.db…` makes one; `fleetreset report RUN` reports a run",
            path.display(),
            path.display()
        );
    }
    let sites = db.run_sites().with_context(read)?;
    let mut runs = Vec::new();
    for run in db.list_runs().with_context(read)? {
        let verified = db
            .verify_chain(&run.id, None, None)
            .with_context(|| format!("cannot read the audit chain of run {}", run.id))?
            .intact();
        runs.push(EstateRun {
            site: sites.get(&run.id).cloned().unwrap_or_default(),
            run,
            verified,
        });
    }
    let page = Estate {
        db: path.display().to_string(),
        sources: db.sources().with_context(read)?,
        runs,
        outcomes: db.outcomes_by_site().with_context(read)?,
    };
    let dir = out.map_or_else(
        || Path::new(crate::report::DEFAULT_DIR).join(estate::DIR),
        Path::to_path_buf,
    );
    let file = estate::write_file(&dir, &page)?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", file.display())?;
    stdout.flush()?;
    Ok(Status::Success)
}
