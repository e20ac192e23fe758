//! Reports of a run, written from what the audit database holds: `devices.csv`, `run.json`,
//! `summary.md` and `report.html` in `reports/<run>/`.
//!
//! - `confirmations`: the technicians' confirmations in `summary.md`.
//! - `csv`: one row per device, with device text inert and spreadsheet formulas neutralised.
//! - `evidence`: the cloud binding before and after, and whether the device left the network.
//! - `json`: the whole record plus its counts.
//! - `local_time`: the one way reports show a time (local, with its offset).
//! - `markdown`: the summary for people, with device text inert and its markup escaped.
//! - `settings`: the run's stored parameters in words.
//! - `source`: where a report reads its run: the database, streamed, or a record in memory.
//! - `summary`: the counts by outcome, reason and site both of them use.
//! - `timeline`: the run's own events (started, interrupted, resumed, …), one line each.
//! - [`work_orders`]: the technician's checklist of a run's `manual_required` devices
//!   (`work-orders.md`, `.html`, `.csv`).
//! - [`html`]: `report.html`, the run on one self-contained page: counts, a timeline chart, the
//!   device table (sortable), certificate links; no fetch, no external resource, every stored
//!   string escaped.
//! - `files`: owner-only directories, atomic owner-only files, never through a symlinked run
//!   directory; [`preflight`] checks before a run that the report will be writable.

mod confirmations;
mod csv;
pub(crate) mod evidence;
pub(crate) mod files;
#[cfg(test)]
pub(crate) mod fixture;
pub mod html;
mod json;
pub(crate) mod local_time;
pub(crate) mod markdown;
mod settings;
mod source;
mod summary;
mod timeline;
pub mod work_orders;

use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;

use self::source::Source;
use crate::store::{ChainHead, RunReader, RunRecord};

pub use self::local_time::Zone;

pub use self::files::preflight;
pub use self::json::to_string_inert as json_inert;
pub use self::json::to_writer_inert as json_inert_to;
pub use self::summary::{outcome_word, status_word};

/// Default parent directory of the reports.
pub const DEFAULT_DIR: &str = "reports";

/// The files a report consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub dir: PathBuf,
    pub devices_csv: PathBuf,
    pub run_json: PathBuf,
    pub summary_md: PathBuf,
    pub report_html: PathBuf,
}

/// What the report shows that the run's record doesn't hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The run's audit chain head (`Db::chain_head`), printed on the page; `None`: not recorded.
    pub chain_head: Option<&'a ChainHead>,
    /// `(device id, relative href)` of the certificates written for this report
    /// ([`crate::certificate::Issued::links`]); empty when none were.
    pub certificates: &'a [(String, String)],
}

/// Writes the four files into `dir` (created with owner-only permissions) from a record in
/// memory. A `dir` that is itself a symbolic link is refused, whatever it points to; its
/// parents may be links.
pub fn write(dir: &Path, record: &RunRecord, extras: Extras<'_>) -> anyhow::Result<ReportFiles> {
    write_in(dir, Source::Record(record), extras, Zone::Local)
}

/// [`write`], streamed from the database: one job at a time, whatever the fleet's size.
pub fn write_streamed(
    dir: &Path,
    reader: &RunReader<'_>,
    extras: Extras<'_>,
) -> anyhow::Result<ReportFiles> {
    write_in(dir, Source::Db(reader), extras, Zone::Local)
}

/// [`write`], with times shown in `zone`. Each file goes to a temporary file first; they are
/// renamed into place together once all four are written, so a failure leaves the old report
/// (or none) and no partial one.
fn write_in(
    dir: &Path,
    src: Source<'_>,
    extras: Extras<'_>,
    zone: Zone,
) -> anyhow::Result<ReportFiles> {
    let files = ReportFiles {
        dir: dir.to_path_buf(),
        devices_csv: dir.join("devices.csv"),
        run_json: dir.join("run.json"),
        summary_md: dir.join("summary.md"),
        report_html: dir.join("report.html"),
    };
    // Checked before anything is created: a link in place of the run's directory would send
    // the report wherever it points.
    files::refuse_symlinked_dir(dir)
        .and_then(|()| files::create_private_dir(dir))
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    let head = extras.chain_head;
    let devices = pending(&files.devices_csv, |w| csv::write(w, src, zone))?;
    let run = pending(&files.run_json, |w| json::write(w, src, head))?;
    let summary = pending(&files.summary_md, |w| {
        text(w, |out| {
            markdown::write(out, src, zone)?;
            Ok(markdown::write_chain_head(out, &src.run().id, head)?)
        })
    })?;
    let page = pending(&files.report_html, |w| {
        text(w, |out| {
            html::write(out, src, zone, head, extras.certificates)
        })
    })?;
    for (path, file) in [
        (&files.devices_csv, devices),
        (&files.run_json, run),
        (&files.summary_md, summary),
        (&files.report_html, page),
    ] {
        file.commit()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    files::sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok(files)
}

/// `path` written by `render` to its temporary file, flushed and synced, not yet in place.
fn pending(
    path: &Path,
    render: impl FnOnce(&mut BufWriter<File>) -> anyhow::Result<()>,
) -> anyhow::Result<files::Pending> {
    let context = || format!("cannot write {}", path.display());
    let mut file = files::Pending::create(path).with_context(context)?;
    render(file.writer()).with_context(context)?;
    file.finish().with_context(context)?;
    Ok(file)
}

/// Text rendered with `write!` into `w`, with the I/O error behind a failed write returned
/// as itself.
fn text(
    w: &mut BufWriter<File>,
    render: impl FnOnce(&mut dyn fmt::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut out = files::Text::new(w);
    render(&mut out).map_err(|err| match out.error() {
        Some(io) => io.into(),
        None => err,
    })
}

/// The summary as Markdown, also printed by `run` and `demo` at the end.
pub fn summary_markdown(record: &RunRecord) -> String {
    markdown::render(record, Zone::Local)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_report_is_four_owner_only_files_in_an_owner_only_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reports").join(fixture::RUN_ID);
        let record = fixture::record();
        let files = write_in(
            &dir,
            Source::Record(&record),
            Extras::default(),
            fixture::ZONE,
        )
        .unwrap();
        assert_eq!(
            files,
            ReportFiles {
                dir: dir.clone(),
                devices_csv: dir.join("devices.csv"),
                run_json: dir.join("run.json"),
                summary_md: dir.join("summary.md"),
                report_html: dir.join("report.html"),
            }
        );
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("reports")), 0o700);
        for path in [
            &files.devices_csv,
            &files.run_json,
            &files.summary_md,
            &files.report_html,
        ] {
            assert_eq!(mode(path), 0o600, "{}", path.display());
        }
        assert_eq!(
            fs::read(&files.devices_csv).unwrap(),
            csv::render(&record, fixture::ZONE).unwrap()
        );
        assert_eq!(
            fs::read_to_string(&files.run_json).unwrap(),
            json::render(&record, None).unwrap()
        );
        let mut summary = markdown::render(&record, fixture::ZONE);
        markdown::write_chain_head(&mut summary, &record.run.id, None).unwrap();
        assert_eq!(fs::read_to_string(&files.summary_md).unwrap(), summary);
        assert!(summary.ends_with("- Not recorded: this run has no audit chain.\n"));
        assert_eq!(
            fs::read_to_string(&files.report_html).unwrap(),
            html::render(&record, fixture::ZONE, None, &[])
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 4);
    }

    #[test]
    fn writing_a_report_again_replaces_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut record = fixture::record();
        write(tmp.path(), &record, Extras::default()).unwrap();
        record.run.operator = "bob".to_string();
        let files = write(tmp.path(), &record, Extras::default()).unwrap();
        let summary = fs::read_to_string(&files.summary_md).unwrap();
        assert!(summary.contains("- Started by: bob\n"), "{summary}");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 4);
    }

    #[test]
    fn a_report_cannot_be_written_under_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("taken");
        fs::write(&file, "").unwrap();
        let err = write(&file.join("run"), &fixture::record(), Extras::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot create the report directory {}",
                file.join("run").display()
            )
        );
    }

    #[test]
    fn a_report_is_not_written_through_a_symlinked_run_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let reports = tmp.path().join("reports");
        fs::create_dir(&reports).unwrap();
        let dir = reports.join(fixture::RUN_ID);
        std::os::unix::fs::symlink(elsewhere.path(), &dir).unwrap();
        let err = write(&dir, &fixture::record(), Extras::default()).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with(&format!(
                "cannot create the report directory {}: {} is a symbolic link; ",
                dir.display(),
                dir.display()
            )),
            "{text}"
        );
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_report_may_be_written_under_a_symlinked_reports_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let mount = tempfile::tempdir().unwrap();
        let reports = tmp.path().join("reports");
        std::os::unix::fs::symlink(mount.path(), &reports).unwrap();
        let files = write(
            &reports.join(fixture::RUN_ID),
            &fixture::record(),
            Extras::default(),
        )
        .unwrap();
        assert!(files.summary_md.is_file());
        assert_eq!(
            fs::read_dir(mount.path().join(fixture::RUN_ID))
                .unwrap()
                .count(),
            4
        );
    }
}
