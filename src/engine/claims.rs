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
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn claim_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(CLAIM_PREFIX))
            .collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn claims_with_disjoint_keys_coexist_each_in_its_own_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = claim(dir.path(), "run a", &keys(&["mac 50:C7:BF:00:00:01"])).unwrap();
        let b = claim(dir.path(), "run b", &keys(&["mac 50:C7:BF:00:00:02"])).unwrap();
        assert_ne!(a.path(), b.path());
        assert_eq!(claim_files(dir.path()).len(), 2);
        assert_eq!(mode(a.path()), 0o600);
        assert_eq!(
            fs::read_to_string(a.path()).unwrap(),
            "run a\nmac 50:C7:BF:00:00:01\n"
        );
        let name = a.path().file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!("claim-{}-", std::process::id())),
            "{name}"
        );
    }

    #[test]
    fn an_overlapping_claim_is_refused_naming_the_holder_and_the_shared_keys() {
        let dir = tempfile::tempdir().unwrap();
        let holder = "pid 1 on host lab-1 since 2026-11-21T05:47:08Z: run a";
        let _a = claim(
            dir.path(),
            holder,
            &keys(&["mac 50:C7:BF:00:00:01", "host 10.0.0.1", "host 10.0.0.2"]),
        )
        .unwrap();
        let err = claim(
            dir.path(),
            "run b",
            &keys(&["host 10.0.0.9", "host 10.0.0.2", "mac 50:C7:BF:00:00:01"]),
        )
        .unwrap_err();
        let ClaimError::Busy {
            holder: named,
            overlapping,
            total,
        } = &err
        else {
            panic!("expected Busy, got {err:?}");
        };
        assert_eq!(named, holder);
        assert_eq!(
            overlapping,
            &keys(&["mac 50:C7:BF:00:00:01", "host 10.0.0.2"])
        );
        assert_eq!(*total, 2);
        assert_eq!(
            err.to_string(),
            format!(
                "2 device(s) of this run are claimed by another run, {holder} (mac \
                 50:C7:BF:00:00:01, host 10.0.0.2); the other run must finish first"
            )
        );
        assert_eq!(
            claim_files(dir.path()).len(),
            1,
            "the refused claim left a file"
        );
    }

    #[test]
    fn a_refusal_lists_the_first_few_shared_keys_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<String> = (0..12).map(|n| format!("host 10.0.0.{n}")).collect();
        let _a = claim(dir.path(), "run a", &all).unwrap();
        let err = claim(dir.path(), "run b", &all).unwrap_err();
        let ClaimError::Busy {
            overlapping, total, ..
        } = &err
        else {
            panic!("expected Busy, got {err:?}");
        };
        assert_eq!(overlapping.len(), SHOWN_OVERLAPS);
        assert_eq!(*total, 12);
        assert!(
            err.to_string()
                .contains("host 10.0.0.3, host 10.0.0.4 and 7 more); the other run"),
            "{err}"
        );
    }

    #[test]
    fn a_dropped_claim_frees_its_keys_and_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let shared = keys(&["mac 50:C7:BF:00:00:01"]);
        let a = claim(dir.path(), "run a", &shared).unwrap();
        assert!(claim(dir.path(), "run b", &shared).is_err());
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
        let _b = claim(dir.path(), "run b", &shared).unwrap();
    }

    /// Kills the child if a test fails before it does.
    struct Reap(Child);

    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// The holder is another process, holding a claim file with `flock(1)` as a fleetreset
    /// would, then SIGKILLed: its claim must stop counting and its file must go.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_claim_held_by_a_killed_process_is_stale_and_removed() {
        if Command::new("flock").arg("--version").output().is_err() {
            eprintln!("skipped: no flock(1) to hold a claim from another process");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        prepare_dir(dir.path()).unwrap();
        let path = dir.path().join("claim-999999-00000000000000aa");
        let script = r#"exec 9>"$1" && flock -n 9 &&
            printf 'pid %s on host sh-test: run other\nmac 50:C7:BF:00:00:01\n' $$ >&9 &&
            echo locked && exec sleep 60"#;
        let mut child = Reap(
            Command::new("sh")
                .args(["-c", script, "sh"])
                .arg(&path)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut said = String::new();
        BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut said)
            .unwrap();
        assert_eq!(said, "locked\n");

        let shared = keys(&["mac 50:C7:BF:00:00:01"]);
        let err = claim(dir.path(), "run b", &shared).unwrap_err();
        let expected = format!("pid {} on host sh-test: run other", child.0.id());
        assert!(
            matches!(&err, ClaimError::Busy { holder, total: 1, .. } if *holder == expected),
            "{err:?}"
        );

        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let mine = claim(dir.path(), "run b", &shared).unwrap();
        assert!(!path.exists(), "the stale claim file is still there");
        assert_eq!(
            claim_files(dir.path()),
            [mine.path().file_name().unwrap().to_str().unwrap()]
        );
    }

    /// A live claim file we can't make sense of: held locked from this process, its contents
    /// garbled.
    #[test]
    fn a_live_claim_that_cannot_be_read_counts_as_conflicting() {
        for (contents, why) in [
            (&b"\xff\xfe not text\nmac 1\n"[..], "it is not UTF-8 text"),
            (&b""[..], "it names no holder"),
            (&b"\nmac 1\n"[..], "it names no holder"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            prepare_dir(dir.path()).unwrap();
            let path = dir.path().join("claim-1-garbled");
            fs::write(&path, contents).unwrap();
            let held = File::open(&path).unwrap();
            held.try_lock().unwrap();

            let err = claim(dir.path(), "run b", &keys(&["mac 2"])).unwrap_err();
            assert!(
                matches!(&err, ClaimError::Unreadable { path: p, why: w } if *p == path && w == why),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("treated as claiming these devices"), "{text}");
            assert!(path.exists(), "a live claim was deleted");
        }
    }

    #[test]
    fn an_unlocked_garbled_claim_is_stale_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        prepare_dir(dir.path()).unwrap();
        let path = dir.path().join("claim-1-garbled");
        fs::write(&path, b"\xff\xfe").unwrap();
        claim(dir.path(), "run b", &keys(&["mac 2"])).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn keys_with_line_breaks_cannot_forge_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let _a = claim(
            dir.path(),
            "run a\nmac 50:C7:BF:00:00:09",
            &keys(&["alias x\nmac 50:C7:BF:00:00:01"]),
        )
        .unwrap();
        let _b = claim(dir.path(), "run b", &keys(&["mac 50:C7:BF:00:00:01"])).unwrap();
        let _c = claim(dir.path(), "run c", &keys(&["mac 50:C7:BF:00:00:09"])).unwrap();
        let err = claim(
            dir.path(),
            "run d",
            &keys(&["alias x\nmac 50:C7:BF:00:00:01"]),
        )
        .unwrap_err();
        assert!(matches!(err, ClaimError::Busy { total: 1, .. }), "{err:?}");
    }

    #[test]
    fn a_hundred_thousand_keys_claim_and_check_in_one_file_each() {
        let dir = tempfile::tempdir().unwrap();
        let many: Vec<String> = (0..100_000)
            .map(|n| {
                format!(
                    "mac 50:C7:{:02X}:{:02X}:{:02X}:01",
                    n >> 16,
                    (n >> 8) & 0xff,
                    n & 0xff
                )
            })
            .collect();
        let _a = claim(dir.path(), "run a", &many[..50_000]).unwrap();
        let _b = claim(dir.path(), "run b", &many[50_000..99_999]).unwrap();
        assert_eq!(claim_files(dir.path()).len(), 2);
        let err = claim(dir.path(), "run c", &many[99_998..]).unwrap_err();
        assert!(
            matches!(&err, ClaimError::Busy { holder, total: 1, .. } if holder == "run b"),
            "{err:?}"
        );
        let _c = claim(dir.path(), "run c", &many[99_999..]).unwrap();
    }

    #[test]
    fn a_missing_claims_directory_is_created_owner_only_with_its_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/claims");
        let _claim = claim(&dir, "run a", &keys(&["host 1"])).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(REGISTRY)), 0o600);
    }

    #[test]
    fn a_claims_directory_writable_by_others_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), Permissions::from_mode(0o777)).unwrap();
        let err = claim(tmp.path(), "run a", &keys(&["host 1"])).unwrap_err();
        let ClaimError::UnsafeDir { dir, why } = &err else {
            panic!("expected UnsafeDir, got {err:?}");
        };
        assert_eq!(dir, tmp.path());
        assert_eq!(why, "it is writable by its group or by others (mode 0777)");
        assert!(
            err.to_string().starts_with(&format!(
                "refusing the device claims directory {}: it is writable",
                tmp.path().display()
            )),
            "{err}"
        );
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    /// As root, a directory is given away to `nobody`; as anyone else, `/` is someone else's.
    #[test]
    fn a_claims_directory_owned_by_someone_else_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let given_away = tmp.path().join("theirs");
        fs::create_dir(&given_away).unwrap();
        fs::set_permissions(&given_away, Permissions::from_mode(0o700)).unwrap();
        let dir = if std::os::unix::fs::chown(&given_away, Some(65_534), Some(65_534)).is_ok() {
            given_away
        } else {
            PathBuf::from("/")
        };
        let owner = fs::metadata(&dir).unwrap().uid();
        assert_ne!(owner, current_uid(), "the test needs a directory not ours");
        let err = claim(&dir, "run a", &keys(&["host 1"])).unwrap_err();
        let ClaimError::UnsafeDir { why, .. } = &err else {
            panic!("expected UnsafeDir, got {err:?}");
        };
        assert_eq!(
            why,
            &format!(
                "it is owned by uid {owner}, not by you (uid {})",
                current_uid()
            )
        );
        assert!(!dir.join(REGISTRY).exists());
    }

    #[test]
    fn a_symlinked_claims_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = claim(&link, "run a", &keys(&["host 1"])).unwrap_err();
        assert!(
            matches!(&err, ClaimError::UnsafeDir { why, .. } if why == "it is a symbolic link"),
            "{err:?}"
        );
    }

    #[test]
    fn a_directory_is_trusted_only_if_it_is_a_real_one_of_ours_writable_by_us_alone() {
        assert_eq!(judge_dir(false, true, 1000, 0o40700, 1000), Ok(()));
        assert_eq!(judge_dir(false, true, 1000, 0o40755, 1000), Ok(()));
        assert!(judge_dir(false, true, 1000, 0o40720, 1000).is_err());
        assert!(judge_dir(false, true, 1000, 0o41777, 1000).is_err());
        assert!(judge_dir(false, true, 0, 0o40700, 1000).is_err());
        assert!(judge_dir(false, false, 1000, 0o100600, 1000).is_err());
        assert!(judge_dir(true, false, 1000, 0o120777, 1000).is_err());
    }

    #[test]
    fn a_registry_held_too_long_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        prepare_dir(dir.path()).unwrap();
        let held = File::create(dir.path().join(REGISTRY)).unwrap();
        held.try_lock().unwrap();
        let started = Instant::now();
        let err = claim_waiting(
            dir.path(),
            "run a",
            &keys(&["host 1"]),
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ClaimError::RegistryTimeout { path, .. } if *path == dir.path().join(REGISTRY)),
            "{err:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        held.unlock().unwrap();
        claim(dir.path(), "run a", &keys(&["host 1"])).unwrap();
    }

    #[test]
    fn the_default_directory_is_the_env_then_the_runtime_dir_then_a_per_user_temp_dir() {
        let tmp = Path::new("/tmp");
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(
            dir_from(some("/x/claims"), some("/run/user/7"), tmp, 7),
            Path::new("/x/claims")
        );
        assert_eq!(
            dir_from(some(""), some("/run/user/7"), tmp, 7),
            Path::new("/run/user/7/fleetreset")
        );
        assert_eq!(
            dir_from(None, some(""), tmp, 7),
            Path::new("/tmp/fleetreset-7")
        );
        assert_eq!(dir_from(None, None, tmp, 7), Path::new("/tmp/fleetreset-7"));
    }
}
