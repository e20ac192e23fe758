//! Owner-only report files, replaced atomically: reports name every device, its address and its
//! MAC, so only the operator reads them, and a reader never sees half a file.
//!
//! A run's report directory (`reports/<run id>`) is never a symbolic link: one planted there
//! (by whoever can write `reports/`, or left by an old script) would send the reports, every
//! device, address and MAC in them, wherever it points. The parent `reports/` may be a link,
//! to a mount the user chose. [`preflight`] checks before a run that the directory will take the
//! report at all.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::space;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Fails if `dir` itself (not its parents) is a symbolic link. `dir/` with a trailing slash is
/// looked at as `dir`, which `lstat` would otherwise resolve. A missing `dir` is fine.
pub fn refuse_symlinked_dir(dir: &Path) -> io::Result<()> {
    // Components drop a trailing slash (and inner `.`), so the link itself is looked at.
    let plain: PathBuf = dir.components().collect();
    match fs::symlink_metadata(&plain) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; reports are never written through a symlinked run directory (remove the link, or give the real directory)",
                dir.display()
            ),
        )),
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Checks, before a run sends anything to any device, that the report can be written to `dir`
/// (the run's own directory, as [`super::write`] will get it): `dir` is not a symbolic link, it
/// exists or can be created (0700, as `create_private_dir` does), a probe file
/// `.fleetreset.probe.<pid>` can be created, written, fsynced and removed in it, and its file
/// system has `bytes_needed` bytes free. The error names the directory and why.
pub fn preflight(dir: &Path, bytes_needed: u64) -> io::Result<()> {
    refuse_symlinked_dir(dir)?;
    create_private_dir(dir).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!(
                "cannot create the report directory {}: {err}",
                dir.display()
            ),
        )
    })?;
    space::probe(dir, &format!(".fleetreset.probe.{}", std::process::id()))?;
    space::ensure_free(dir, bytes_needed)
}

/// Creates `dir` and any missing parents with mode 0700. A directory that already exists is
/// left as it is: `--out` may name one the user shares on purpose.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // The mode above is filtered through the umask; this one is not.
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
}

/// Writes `bytes` to `path` with mode 0600 by way of a temporary file in the same directory,
/// synced and then renamed over `path`, so that `path` is always the old file or the new one.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = Pending::create(path)?;
    file.writer().write_all(bytes)?;
    file.finish()?;
    file.commit()
}

/// A file being written as [`write_private`] writes one, a piece at a time: into an owner-only
/// temporary file beside `path`, through a buffer; [`Pending::finish`] flushes and syncs it,
/// [`Pending::commit`] renames it over `path`. Dropped before its commit, it is removed.
pub struct Pending {
    tmp: PathBuf,
    path: PathBuf,
    file: BufWriter<File>,
    committed: bool,
}

impl Pending {
    pub fn create(path: &Path) -> io::Result<Pending> {
        let tmp = temp_path(path)?;
        // A leftover of a crashed writer that had the same pid; the name is ours.
        match fs::remove_file(&tmp) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        let pending = Pending {
            tmp,
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(BUFFER, file),
            committed: false,
        };
        pending
            .file
            .get_ref()
            .set_permissions(Permissions::from_mode(FILE_MODE))?;
        Ok(pending)
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.file
    }

    /// Flushes the buffer and syncs the temporary file.
    pub fn finish(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()
    }

    /// Renames the (finished) file over `path`.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// How much of a report file is buffered before it goes to the disk.
const BUFFER: usize = 64 * 1024;

/// Text written with `write!` to an [`io::Write`]: [`std::fmt::Write`] can't carry an I/O
/// error, so the first one is kept here for [`Text::error`].
pub struct Text<W> {
    inner: W,
    error: Option<io::Error>,
}

impl<W: io::Write> Text<W> {
    pub fn new(inner: W) -> Text<W> {
        Text { inner, error: None }
    }

    /// The I/O error behind a failed `write!`, if that is what failed.
    pub fn error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

impl<W: io::Write> std::fmt::Write for Text<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.inner.write_all(s.as_bytes()).map_err(|err| {
            self.error.get_or_insert(err);
            std::fmt::Error
        })
    }
}

/// `.devices.csv.<pid>.<n>.tmp` next to `path`: unique across processes and threads.
fn temp_path(path: &Path) -> io::Result<std::path::PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a report file needs a file name",
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(tmp))
}

/// Makes the renames in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_their_new_parents_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reports/run-1");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("reports")), 0o700);
    }

    #[test]
    fn an_existing_directory_keeps_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), Permissions::from_mode(0o755)).unwrap();
        create_private_dir(tmp.path()).unwrap();
        assert_eq!(mode(tmp.path()), 0o755);
    }

    #[test]
    fn a_file_is_written_owner_only_and_replaces_the_old_one_without_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("summary.md");
        fs::write(&path, "old, and readable by all").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["summary.md"]);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        // Renaming a file over a directory fails after the temporary file is written.
        let path = tmp.path().join("devices.csv");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("x"), "").unwrap();
        assert!(write_private(&path, b"rows").is_err());
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["devices.csv"]);
    }

    #[test]
    fn a_symlinked_run_directory_is_refused_and_its_parent_may_be_one() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let link = tmp.path().join("run-1");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        for dir in [link.clone(), tmp.path().join("run-1/")] {
            let err = refuse_symlinked_dir(&dir).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("is a symbolic link"), "{err}");
        }
        // Under a symlinked parent, the run directory itself is real.
        refuse_symlinked_dir(&link.join("run-2")).unwrap();
        fs::create_dir(link.join("run-2")).unwrap();
        refuse_symlinked_dir(&link.join("run-2")).unwrap();
        refuse_symlinked_dir(tmp.path()).unwrap();
    }

    #[test]
    fn the_preflight_creates_an_owner_only_directory_and_leaves_no_probe_in_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reports/run-1");
        preflight(&dir, 1 << 20).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn the_preflight_refuses_a_symlinked_run_directory_and_writes_nothing_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let link = tmp.path().join("run-1");
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        let err = preflight(&link, 0).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_preflight_refuses_a_need_no_disk_can_meet_naming_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let err = preflight(tmp.path(), u64::MAX / 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("no space in {}: ", tmp.path().display())),
            "{text}"
        );
        assert!(text.ends_with(" free, about 8 EiB needed"), "{text}");
    }

    #[test]
    fn the_preflight_refuses_a_read_only_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ro");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, Permissions::from_mode(0o500)).unwrap();
        let writable = fs::write(dir.join("x"), "").is_ok();
        let result = preflight(&dir, 0);
        let _ = fs::remove_file(dir.join("x"));
        fs::set_permissions(&dir, Permissions::from_mode(0o700)).unwrap();
        if writable {
            eprintln!(
                "skipped: {} is writable despite mode 0500 (running as root?)",
                dir.display()
            );
            return;
        }
        let err = result.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            err.to_string()
                .starts_with(&format!("cannot create a file in {}: ", dir.display())),
            "{err}"
        );
    }

    /// What the read-only test shows as a normal user, shown even as root: /proc takes no new
    /// file from anyone.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_preflight_refuses_a_directory_that_takes_no_new_file_even_for_root() {
        let dir = PathBuf::from(format!("/proc/{}", std::process::id()));
        if !dir.is_dir() {
            eprintln!("skipped: no /proc");
            return;
        }
        let err = preflight(&dir, 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot create a file in {}: ", dir.display())),
            "{err}"
        );
    }
}
