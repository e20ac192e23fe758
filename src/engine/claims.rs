//! Machine-wide device claims: two runs on one machine can't act on the same devices at once,
//! whichever databases they record in.
//!
//! The database lock (`store::lock::acquire_db`) keeps apart two runs that share a database.
//! Two runs over the same inventory with different `--db` files (two operators, two shells, a
//! cron job and a person) would still both reset every device. So before it acts, a run claims
//! its devices (keys its caller builds, such as `mac 50:C7:BF:00:00:01` and `host 10.0.0.7`) in
//! a directory shared by every fleetreset of this user on this machine ([`default_dir`]), and a
//! claim that overlaps a live one is refused ([`ClaimError::Busy`]).
//!
//! How, with O(1) file descriptors per run however many devices it has:
//! - Each live claim is a file `claim-<pid>-<random>` that its holder keeps `flock`ed for the
//!   claim's whole life: the holder line, then one key per line. A holder that dies, SIGKILL
//!   included, loses the lock with its process, so a claim file nobody holds locked is stale.
//! - `registry.lock` is locked while one process checks and registers, so two claimants can't
//!   both check, find nothing, and both register. The wait for it is bounded
//!   ([`REGISTRY_WAIT`]), so a stuck claimant becomes an error rather than a hang.
//! - To claim: under the registry lock, try to lock every claim file. One we can lock belongs
//!   to a dead holder: delete it. One we can't is live: read its keys and compare. No overlap:
//!   write ours (owner-only), lock it, let the registry go.
//! - A live claim file that can't be read or makes no sense counts as overlapping (the safe
//!   side), with a message naming it.
//!
//! The directory is trusted only if it is a real directory owned by this user and not writable
//! by group or others: anyone who could write there could delete live claims, or plant ones that
//! block every run. Claims are advisory (only fleetreset looks) and per machine: runs on two
//! machines over the same devices are not seen, nor runs of other users, who have other
//! directories unless `FLEETRESET_LOCK_DIR` points them at a shared one (which must then be
//! owned by the user running).

use std::borrow::Cow;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions, TryLockError};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::inert::inert;

/// Environment variable naming the claims directory, for tests and for machines where the
/// defaults don't suit (a shared service account's runtime directory).
pub const LOCK_DIR_ENV: &str = "FLEETRESET_LOCK_DIR";

/// The file locked while claims are checked and registered. Never deleted, as the lock files of
/// `store::lock`: deleting it while another process has it open would give two registries.
const REGISTRY: &str = "registry.lock";

/// Every claim file's name starts with this; other files in the directory are left alone.
const CLAIM_PREFIX: &str = "claim-";

/// How long a claimant waits for the registry. Checking and registering 100,000 keys takes well
/// under a second, so five seconds ride out a few claimants at once; longer means one is stuck.
pub const REGISTRY_WAIT: Duration = Duration::from_secs(5);

/// How often the registry lock is tried while waiting (std has no timed `flock`).
const REGISTRY_POLL: Duration = Duration::from_millis(10);

/// How many overlapping keys a refusal lists; the count says how many there are in all.
const SHOWN_OVERLAPS: usize = 5;

/// A claim file bigger than this is not one of ours (100,000 keys of 30 bytes are 3 MB), so it
/// is treated as unreadable rather than read into memory.
const MAX_CLAIM_BYTES: u64 = 64 << 20;

/// Who may use the claims directory and its files: this user only.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Said for a claim whose caller gave an empty holder.
const UNNAMED_HOLDER: &str = "an unnamed fleetreset";

/// The right to act on some devices, registered machine-wide. Dropping it (or the process
/// ending) gives them back.
#[derive(Debug)]
pub struct Claim {
    file: File,
    path: PathBuf,
}

impl Claim {
    /// The claim file, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Deleted while still locked, so no claimant ever finds our file unlocked and mistakes a
        // live claim for a stale one; then unlocked for every copy of the fd (see store::lock).
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "{total} device(s) of this run are claimed by another run, {holder} ({}); the other run must finish first",
        list(overlapping, *total)
    )]
    Busy {
        /// The other claim's holder line.
        holder: String,
        /// The first few keys both claims hold (`SHOWN_OVERLAPS` of them at most).
        overlapping: Vec<String>,
        /// How many keys both claims hold.
        total: usize,
    },
    #[error(
        "the device claim {} is held by a running process but cannot be read ({why}); it is treated as claiming these devices: wait for that process to finish",
        path.display()
    )]
    Unreadable { path: PathBuf, why: String },
    #[error(
        "refusing the device claims directory {}: {why}; it must be a directory of yours that only you can write (or set {LOCK_DIR_ENV} to one)",
        dir.display()
    )]
    UnsafeDir { dir: PathBuf, why: String },
    #[error(
        "the device claims registry {} stayed locked for {} s: another fleetreset is claiming devices, or is stuck doing so; try again",
        path.display(),
        waited.as_secs()
    )]
    RegistryTimeout { path: PathBuf, waited: Duration },
    #[error("cannot claim devices in {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// `mac A, host B and 3 more`.
fn list(shown: &[String], total: usize) -> String {
    let mut text = shown.join(", ");
    if total > shown.len() {
        text.push_str(&format!(" and {} more", total - shown.len()));
    }
    text
}

/// Where claims live: `$FLEETRESET_LOCK_DIR` if set and not empty, else
/// `$XDG_RUNTIME_DIR/fleetreset` (per user, on tmpfs, emptied at logout), else
/// `<temp dir>/fleetreset-<uid>`.
pub fn default_dir() -> PathBuf {
    dir_from(
        std::env::var_os(LOCK_DIR_ENV),
        std::env::var_os("XDG_RUNTIME_DIR"),
        &std::env::temp_dir(),
        current_uid(),
    )
}

fn dir_from(
    lock_dir: Option<OsString>,
    runtime_dir: Option<OsString>,
    temp: &Path,
    uid: u32,
) -> PathBuf {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(lock_dir) {
        return dir;
    }
    if let Some(dir) = set(runtime_dir) {
        return dir.join("fleetreset");
    }
    temp.join(format!("fleetreset-{uid}"))
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Claims `keys` in `dir` for `holder` (a one-line description of the run, shown to whoever is
/// refused), or says which live claim overlaps. `dir` is created (0700) if missing.
pub fn claim(dir: &Path, holder: &str, keys: &[String]) -> Result<Claim, ClaimError> {
    claim_waiting(dir, holder, keys, REGISTRY_WAIT)
}

fn claim_waiting(
    dir: &Path,
    holder: &str,
    keys: &[String],
    wait: Duration,
) -> Result<Claim, ClaimError> {
    prepare_dir(dir)?;
    let registry = Registry::lock(&dir.join(REGISTRY), wait)?;
    // Keys are stored inert (one line each), so they are compared that way too.
    let ours: HashSet<Cow<'_, str>> = keys.iter().map(|k| inert(k)).collect();
    let io_err = |source| ClaimError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(CLAIM_PREFIX.as_bytes())
        {
            check_against(&entry.path(), &ours)?;
        }
    }
    let claim = register(dir, holder, keys)?;
    drop(registry);
    Ok(claim)
}

/// Creates `dir` (and missing parents) owner-only if it is missing, then refuses it unless it is
/// safe to trust.
fn prepare_dir(dir: &Path) -> Result<(), ClaimError> {
    let io_err = |source| ClaimError::Io {
        path: dir.to_owned(),
        source,
    };
    let create = || DirBuilder::new().mode(DIR_MODE).create(dir);
    let created = match create() {
        Ok(()) => true,
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => false,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(DIR_MODE)
                    .create(parent)
                    .map_err(io_err)?;
            }
            match create() {
                Ok(()) => true,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => false,
                Err(err) => return Err(io_err(err)),
            }
        }
        Err(err) => return Err(io_err(err)),
    };
    if created {
        // The mode above went through the umask; this one does not.
        fs::set_permissions(dir, Permissions::from_mode(DIR_MODE)).map_err(io_err)?;
    }
    let meta = fs::symlink_metadata(dir).map_err(io_err)?;
    judge_dir(
        meta.file_type().is_symlink(),
        meta.is_dir(),
        meta.uid(),
        meta.mode(),
        current_uid(),
    )
    .map_err(|why| ClaimError::UnsafeDir {
        dir: dir.to_owned(),
        why,
    })
}

/// Why a directory with this type, owner and mode can't hold claims for user `me`.
fn judge_dir(symlink: bool, is_dir: bool, owner: u32, mode: u32, me: u32) -> Result<(), String> {
    if symlink {
        return Err("it is a symbolic link".to_owned());
    }
    if !is_dir {
        return Err("it is not a directory".to_owned());
    }
    if owner != me {
        return Err(format!("it is owned by uid {owner}, not by you (uid {me})"));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "it is writable by its group or by others (mode {:04o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// The registry lock, released when dropped.
struct Registry {
    file: File,
}

impl Registry {
    fn lock(path: &Path, wait: Duration) -> Result<Registry, ClaimError> {
        let io_err = |source| ClaimError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_err)?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Registry { file }),
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(REGISTRY_POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(ClaimError::RegistryTimeout {
                        path: path.to_owned(),
                        waited: wait,
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io_err(source)),
            }
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// One claim file against our keys: deleted if its holder is dead, `Busy` if it is live and
/// shares a key, `Unreadable` if it is live and can't be read.
fn check_against(path: &Path, ours: &HashSet<Cow<'_, str>>) -> Result<(), ClaimError> {
    let unreadable = |why: String| ClaimError::Unreadable {
        path: path.to_owned(),
        why,
    };
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        // Its holder finished between our listing and opening.
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(unreadable(format!("cannot open it: {err}"))),
    };
    match file.try_lock() {
        Ok(()) => {
            // Nobody holds it: its holder died. Deleted while we hold the lock; a failure to
            // delete only leaves a stale file for the next claimant.
            let _ = fs::remove_file(path);
            return Ok(());
        }
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(err)) => return Err(unreadable(format!("cannot lock it: {err}"))),
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_CLAIM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| unreadable(format!("cannot read it: {err}")))?;
    if bytes.len() as u64 > MAX_CLAIM_BYTES {
        return Err(unreadable(format!(
            "it is larger than {} MiB",
            MAX_CLAIM_BYTES >> 20
        )));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| unreadable("it is not UTF-8 text".to_owned()))?;
    let mut lines = text.lines();
    let holder = match lines.next().map(str::trim) {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => return Err(unreadable("it names no holder".to_owned())),
    };
    let mut overlapping = Vec::new();
    let mut total = 0;
    for key in lines {
        if ours.contains(key) {
            total += 1;
            if overlapping.len() < SHOWN_OVERLAPS {
                overlapping.push(key.to_owned());
            }
        }
    }
    if total > 0 {
        return Err(ClaimError::Busy {
            holder,
            overlapping,
            total,
        });
    }
    Ok(())
}

/// Writes and locks our claim file: the holder line, then each key once, all inert.
fn register(dir: &Path, holder: &str, keys: &[String]) -> Result<Claim, ClaimError> {
    let name = format!(
        "{CLAIM_PREFIX}{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    let path = dir.join(name);
    let io_err = |source| ClaimError::Io {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io_err)?;
    // From here on, dropping the claim deletes the file, on error paths too.
    let claim = Claim {
        file,
        path: path.clone(),
    };
    claim.file.try_lock().map_err(|err| match err {
        TryLockError::WouldBlock => io_err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "a new claim file was already locked",
        )),
        TryLockError::Error(source) => io_err(source),
    })?;
    let holder = match inert(holder.trim()) {
        h if h.is_empty() => Cow::Borrowed(UNNAMED_HOLDER),
        h => h,
    };
    let mut out = BufWriter::new(&claim.file);
    writeln!(out, "{holder}").map_err(io_err)?;
    let mut seen = HashSet::with_capacity(keys.len());
    for key in keys {
        let key = inert(key);
        if seen.insert(key.clone()) {
            writeln!(out, "{key}").map_err(io_err)?;
        }
    }
    out.flush().map_err(io_err)?;
    drop(out);
    Ok(claim)
}

#[cfg(test)]
mod tests;
