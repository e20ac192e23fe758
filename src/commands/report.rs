//! `fleetreset report RUN`: write `devices.csv`, `run.json`, `summary.md` and `report.html` for
//! a run; `fleetreset report --estate`: a merged audit's `estate.html` ([`super::estate`]).

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use super::runs::open_existing;
use crate::cli::ReportArgs;
use crate::exit::Status;
use crate::report;
use crate::store::{Db, StoreError};

/// Writes the report into `--out` or `reports/<run id>/` and prints the four paths on stdout;
/// with `--estate`, a merged audit's `estate.html`.
pub fn run(args: &ReportArgs) -> anyhow::Result<Status> {
    let db = open_existing(&args.db)?;
    let Some(query) = args.run.as_deref().filter(|_| !args.estate) else {
        return super::estate::run(&db, &args.db, args.out.as_deref());
    };
    let run_id = resolve(&db, query, &args.db)?;
    // One read transaction for the chain head and the four files: they tell the same run even
    // while `confirm` adds to it. The files are streamed from it, one job at a time.
    let reader = db
        .read_run(&run_id)
        .with_context(|| format!("cannot read run {run_id} from {}", args.db.display()))?;
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => default_dir(&run_id)?,
    };
    let head = db.chain_head(&run_id).with_context(|| {
        format!(
            "cannot read run {run_id}'s audit chain from {}",
            args.db.display()
        )
    })?;
    // No certificate is written with the report yet: none is linked.
    let extras = report::Extras {
        chain_head: head.as_ref(),
        certificates: &[],
    };
    let files = report::write_streamed(&dir, &reader, extras)?;
    drop(reader);
    let text = format!(
        "{}\n{}\n{}\n{}\n",
        files.devices_csv.display(),
        files.run_json.display(),
        files.summary_md.display(),
        files.report_html.display()
    );
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Status::Success)
}

/// `latest`, an id or a unique prefix → the run id, with errors that name the database and say
/// where to look.
pub(crate) fn resolve(db: &Db, query: &str, path: &Path) -> anyhow::Result<String> {
    db.resolve_run_id(query).map_err(|err| match err {
        StoreError::NoSuchRun(_) if query == "latest" => {
            anyhow!("no runs recorded in {}", path.display())
        }
        StoreError::NoSuchRun(_) => anyhow!(
            "{}: {err}; `fleetreset runs --db {}` lists them",
            path.display(),
            path.display()
        ),
        err => anyhow::Error::new(err).context(path.display().to_string()),
    })
}

/// `reports/<run id>`. The id comes from the database, which anyone may have edited; it must
/// not lead out of `reports/`.
pub(crate) fn default_dir(run_id: &str) -> anyhow::Result<PathBuf> {
    let mut components = Path::new(run_id).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Ok(Path::new(report::DEFAULT_DIR).join(run_id)),
        _ => bail!("run id {run_id:?} is not usable as a directory name; give one with --out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_go_under_reports_by_run_id() {
        assert_eq!(
            default_dir("20260101T090000-3f2a").unwrap(),
            Path::new("reports/20260101T090000-3f2a")
        );
    }

    #[test]
    fn a_run_id_that_would_leave_the_reports_directory_is_refused() {
        for id in ["../etc", "a/b", "/tmp", "..", ".", ""] {
            let err = default_dir(id).unwrap_err();
            assert!(
                err.to_string().contains("give one with --out"),
                "{id:?}: {err}"
            );
        }
    }
}
