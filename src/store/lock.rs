//! One active run per database: an advisory lock on a file next to the database.
//!
//! A run's inventory and its database go together: two runs (or a run and a `resume`, or two
//! `resume`s) over the same database would each reset every device they list, so the second
//! would power-cycle or factory-reset devices the first is already working on. The rule is
//! therefore one active run (or resume) per database, whichever run it is: [`acquire_db`] takes
//! an exclusive OS lock on `<db file name>.lock` in the database's directory and holds it for
//! the life of the [`DbLock`]. The lock file's one line names the holder (pid, host, start time
//! and what it is doing), so a refused process can say who is in the way. Reading (`runs`,
//! `report`) takes no lock.
//!
//! Runs over the same devices from *different* databases are kept apart by the machine-wide
//! device claims of `engine::claims`, not here.
//!
//! One database is one lock however it is named: `--db x.db`, `--db ./x.db`, `--db dir/../x.db`
//! and a symbolic link to `x.db` all lock the same file, `<real name>.lock` beside the real
//! database ([`fs::canonicalize`], which follows every link). A database not created yet is
//! named by its directory's real path and the name it will have. Hard links to a database are
//! not supported: nothing in a path tells two hard links apart from two databases, and SQLite
//! itself keys the database's `-wal` and `-shm` files by path, so two links would not share
//! a write-ahead log either.
//!
//! The lock is [`File::try_lock`], which is `flock(2)` on Linux and `LockFileEx` on Windows:
//! - It belongs to the open file, not to the file's existence, so it ends when the holder
//!   closes the file or dies, SIGKILL and crashes included. A lock file left behind is not a
//!   stale lock; the next process simply locks it again.
//! - It is per open file description: a second open of the same file conflicts even within one
//!   process, so the check also holds between tasks of one process.
//! - std opens files close-on-exec, so processes we spawn don't inherit the lock.
//! - It is advisory: only fleetreset looks at it. On NFS it depends on the server's lock support.
//!
//! The file is never deleted: removing it while another process has it open but not yet locked
//! would let two processes hold locks on two different files of the same name.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};

/// How much of a lock file we read for the holder's line; ours are about 100 bytes.
const MAX_HOLDER_BYTES: u64 = 1024;

/// Said when the lock is held but its file names nobody: the holder has locked and not yet
/// written its line, or the file was emptied by hand.
const UNNAMED_HOLDER: &str = "another process (its lock file does not name it yet)";

/// The exclusive right to run (or resume) anything on one database, with our holder line in
/// its lock file. Released when dropped or when the process ends.
#[derive(Debug)]
pub struct DbLock {
    file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "database {} is in use by {holder} (lock file {}); a second run or resume on the same database would act on the same devices: wait for it to finish or stop it first",
        db.display(),
        path.display()
    )]
    DbHeld {
        db: PathBuf,
        /// The holder's line (`pid 1234 on host lab-1 since 2026-…Z: run 2026…-3f2a`).
        holder: String,
        path: PathBuf,
    },
    #[error("cannot lock {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl DbLock {
    /// The lock file, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        // Empty the file while we still hold the lock, so a process that finds the next holder
        // busy before it writes its line doesn't name us.
        let _ = self.file.set_len(0);
        // Unlock rather than rely on closing: a child forked by another thread holds a copy of
        // our fd until it execs, and the lock would live as long as that copy. Unlocking
        // releases it for every copy. Best effort: closing still releases it in the end.
        let _ = self.file.unlock();
    }
}

/// Locks the database at `db_path` for one run or resume, or says who holds it. `purpose`
/// ends the holder line (`run 20261121T054708Z-3f2a`, `resume 20261121T054708Z-3f2a`) so the
/// refusal tells the next operator what is going on; it is made one inert line first.
pub fn acquire_db(db_path: &Path, purpose: &str) -> Result<DbLock, LockError> {
    let path = db_lock_path(db_path)?;
    let io_err = |source| LockError::Io {
        path: path.clone(),
        source,
    };

    let mut options = OpenOptions::new();
    // Not truncated on open: until we hold the lock, the contents are the holder's.
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Only fleetreset's user needs it, as for the database.
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(io_err)?;

    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(LockError::DbHeld {
                db: db_path.to_owned(),
                holder: read_holder(&file),
                path,
            });
        }
        Err(TryLockError::Error(source)) => return Err(io_err(source)),
    }

    let line = holder_line(std::process::id(), &hostname(), &Utc::now(), purpose);
    // Nothing was read, so writing starts at offset 0.
    file.set_len(0).map_err(io_err)?;
    file.write_all(line.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok(DbLock { file, path })
}

/// `<db file name>.lock` beside the real database ([`real_path`]). Errors name the lock file
/// as the path given would have it, which is the one the operator can find.
fn db_lock_path(db_path: &Path) -> Result<PathBuf, LockError> {
    let given = lock_beside(db_path)?;
    let real = real_path(db_path, 0).map_err(|source| LockError::Io {
        path: given,
        source,
    })?;
    lock_beside(&real)
}

/// How many dangling symbolic links [`real_path`] follows in a row before giving up: Linux's
/// own limit for one path (`MAXSYMLINKS`), so a chain the kernel would refuse is refused here
/// too rather than followed forever.
const MAX_DANGLING_LINKS: u32 = 40;

/// Where the database at `path` is or will be, in canonical form: the file's canonical path
/// when it exists; else, for a link to nothing, where the link points (SQLite creates the
/// database there, through the link); else the canonical path of its directory joined with
/// its name. `path` ends in a file name ([`lock_beside`] checked).
fn real_path(path: &Path, links: u32) -> io::Result<PathBuf> {
    match fs::canonicalize(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        done => return done,
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(target) = fs::read_link(path) {
        if links >= MAX_DANGLING_LINKS {
            return Err(io::Error::other(format!(
                "more than {MAX_DANGLING_LINKS} symbolic links in a row lead nowhere"
            )));
        }
        // A relative target is relative to the link's directory; `join` keeps an absolute one.
        let target = dir.join(target);
        if target.file_name().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the database is a symbolic link to a path that does not end in a file name",
            ));
        }
        return real_path(&target, links + 1);
    }
    let name = path
        .file_name()
        .expect("the caller checked for a file name");
    Ok(fs::canonicalize(dir)?.join(name))
}

/// `<file name>.lock` in the same directory as `path`.
fn lock_beside(path: &Path) -> Result<PathBuf, LockError> {
    let Some(name) = path.file_name() else {
        return Err(LockError::Io {
            path: path.to_owned(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "the database path does not end in a file name",
            ),
        });
    };
    let mut lock_name = name.to_owned();
    lock_name.push(".lock");
    Ok(path.with_file_name(lock_name))
}

/// `pid 1234 on host lab-1 since 2026-11-21T05:47:08Z: run 20261121T054708Z-3f2a`,
/// newline-terminated, with `purpose` made inert so the line stays one line.
fn holder_line(pid: u32, host: &str, since: &chrono::DateTime<Utc>, purpose: &str) -> String {
    let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    let purpose = crate::inert::inert(purpose);
    format!("pid {pid} on host {host} since {since}: {purpose}\n")
}

/// The first line of a held lock file. A lock file we can't read still means the database is
/// busy, so read errors give the unnamed holder rather than an error.
fn read_holder(file: &File) -> String {
    let mut bytes = Vec::new();
    if file.take(MAX_HOLDER_BYTES).read_to_end(&mut bytes).is_err() {
        return UNNAMED_HOLDER.to_owned();
    }
    holder_from(&bytes)
}

fn holder_from(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.lines().next().map(str::trim) {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => UNNAMED_HOLDER.to_owned(),
    }
}

/// `/etc/hostname`, else `$HOSTNAME`, else `unknown-host`.
fn hostname() -> String {
    let first_line = |text: String| {
        let line = text.lines().next().unwrap_or("").trim().to_owned();
        (!line.is_empty()).then_some(line)
    };
    fs::read_to_string("/etc/hostname")
        .ok()
        .and_then(first_line)
        .or_else(|| std::env::var("HOSTNAME").ok().and_then(first_line))
        .unwrap_or_else(|| "unknown-host".to_owned())
}

#[cfg(test)]
mod tests;
