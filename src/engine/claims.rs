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
//! The default directory is in the user's state directory (`~/.local/state/fleetreset/claims`),
//! not in the runtime directory (`$XDG_RUNTIME_DIR`), for two reasons. Every way one user runs
//! fleetreset must find the same directory: an SSH session has a runtime directory, but cron
//! jobs and systemd services usually don't, and would each have looked in a directory of their
//! own, never seeing each other's claims; all of them have a `$HOME` (a system service has
//! one when it names its `User=`). And a crashed run's claim must outlive a reboot of the
//! host, since that run's commands are still without an outcome after it, where a runtime
//! directory is a tmpfs emptied at every boot (and at logout). It is per user: another user's
//! `$HOME` is another directory.
//!
//! How, with O(1) file descriptors per run however many devices it has:
//! - Each live claim is a file `claim-<pid>-<random>` that its holder keeps `flock`ed for the
//!   claim's whole life: the holder line, the origin line (`origin <run id> <database>`: which
//!   run of which database it is, the database's canonical path last since it may contain
//!   spaces), then one key per line. A holder that dies, SIGKILL included, loses the lock with
//!   its process, so a claim file nobody holds locked is stale.
//! - `registry.lock` is locked while one process checks and registers, so two claimants can't
//!   both check, find nothing, and both register. The wait for it is bounded
//!   ([`REGISTRY_WAIT`]), so a stuck claimant becomes an error rather than a hang.
//! - To claim: under the registry lock, try to lock every claim file. One we can't is live:
//!   read its keys and compare. One we can lock belongs to a dead holder, judged below. No
//!   overlap with any live claim, no stale claim in the way: write ours (owner-only), lock it,
//!   let the registry go.
//! - A live claim file that can't be read or makes no sense counts as overlapping (the safe
//!   side), with a message naming it.
//!
//! A stale claim is not simply forgotten: its holder may have died after recording the intent
//! of a command and sending it, and before recording its outcome. Deleting its claim would let
//! a run on another database send the same device a second reboot or reset while only
//! `fleetreset resume` on the dead run's database may judge that command. So a stale claim is
//! - if it names its run and database, asked about ([`Settled`], the caller reading that
//!   database, our own included) and deleted only if that run left no command without an
//!   outcome. If it did, or that can't be told, the claim stays, and
//!   - if it is of our own database, stays silently: it never refuses us, since our caller
//!     handles that database's open commands itself (a run refuses while there are any, a
//!     resume judges them). It is not deleted for being ours, though: a claimant of our
//!     database that is then refused, or that claims other devices, would erase the mark that
//!     stops runs on other databases from acting on the crashed run's devices;
//!   - if it is of another database, refuses us ([`ClaimError::Crashed`],
//!     [`ClaimError::CrashedUnknown`]) if it shares a key with ours (one that shares none
//!     stays for a later run that overlaps it);
//! - if it names none (an older fleetreset wrote it, or it is damaged), refused if it shares a
//!   key with ours, since there is no run and database to ask about:
//!   [`ClaimError::StaleUnknownOrigin`];
//! - deleted if it can't be ours at all (not text, no holder line): a fleetreset that dies while
//!   registering leaves such a file, and it had sent nothing under that claim yet.
//!
//! A run that ends with commands whose outcome it never recorded (stopped at once by a second
//! signal, or a resume interrupted while judgements were still waiting) is in the same state as
//! a crashed one, so it keeps its claim on disk ([`Claim::keep_on_release`]): unlocked, the file
//! is stale to the next claimant and judged as above.
//!
//! The directory is trusted only if it is a real directory owned by this user and not writable
//! by group or others: anyone who could write there could delete live claims, or plant ones that
//! block every run. Claims are advisory (only fleetreset looks) and per machine: runs on two
//! machines over the same devices are not seen, nor runs of other users, who have other
//! directories unless `FLEETRESET_LOCK_DIR` points them at a shared one (which must then be
//! owned by the user running). A home directory shared by several machines (NFS) shares the
//! default directory too: claims then rely on `flock` working across them, so point
//! `FLEETRESET_LOCK_DIR` at a local directory there if it doesn't.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::inert::inert;

/// Environment variable naming the claims directory, for tests and for machines where the
/// default doesn't suit (runs as several users sharing one directory, a home directory shared
/// between machines).
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

/// How the origin line starts.
const ORIGIN_PREFIX: &str = "origin ";

/// The origin line of a claim whose run id or database path can't be written so that it reads
/// back the same: read back as an unknown origin, so no other run id or path is ever asked
/// about (or mistaken for ours) in its place.
const ORIGIN_UNKNOWN: &str = "origin -";

/// Which run of which database a claim belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub run_id: &'a str,
    pub db: &'a Path,
}

/// What the caller says about a stale claim's run: its database shows no command without an
/// outcome (safe to forget), it does (the run must be resumed first), or it can't tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Yes,
    No,
    Unknown(String),
}

/// The right to act on some devices, registered machine-wide. Dropping it (or the process
/// ending) gives them back, unless it is to be kept ([`Claim::keep_on_release`]).
#[derive(Debug)]
pub struct Claim {
    file: File,
    path: PathBuf,
    /// Whether dropping it leaves its file in place.
    keep: bool,
}

impl Claim {
    /// The claim file, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes dropping the claim unlock its file without deleting it, for a run that ends with
    /// commands whose outcome it never recorded: the next claimant finds the file stale and
    /// judges it as a crashed run's (asking whether the run has settled since), so that no run
    /// on another database acts on those devices before this one is resumed.
    pub fn keep_on_release(&mut self) {
        self.keep = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Deleted while still locked, so no claimant ever finds our file unlocked and mistakes a
        // live claim for a stale one; then unlocked for every copy of the fd (see store::lock).
        // A kept one is meant to be found unlocked: stale, as a crashed run's.
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// Claims `keys` in `dir` for `holder` (a one-line description of the run, shown to whoever is
/// refused), a claim of run `origin.run_id` recording in the database `origin.db`, or says
/// which claim stands in the way. `dir` is created (0700) if missing.
///
/// `settled(run_id, db)` is asked about each stale claim with an origin (one whose holder died,
/// or kept it, without giving it back), overlapping ours or not, of our own database too:
/// `Yes` deletes it; `No` and `Unknown` keep it, and refuse us if it shares a key with ours and
/// is of another database (one of ours never refuses us: our caller checks our database's
/// unresolved commands itself). It is never asked about live claims.
pub fn claim(
    dir: &Path,
    holder: &str,
    origin: &Origin<'_>,
    keys: &[String],
    settled: &mut dyn FnMut(&str, &Path) -> Settled,
) -> Result<Claim, ClaimError> {
    claim_waiting(dir, holder, origin, keys, settled, REGISTRY_WAIT)
}

fn claim_waiting(
    dir: &Path,
    holder: &str,
    origin: &Origin<'_>,
    keys: &[String],
    settled: &mut dyn FnMut(&str, &Path) -> Settled,
    wait: Duration,
) -> Result<Claim, ClaimError> {
    prepare_dir(dir)?;
    let registry = Registry::lock(&dir.join(REGISTRY), wait)?;
    // Keys are stored inert (one line each), so they are compared that way too.
    let ours = Ours {
        keys: keys.iter().map(|k| inert(k)).collect(),
        db: resolved(origin.db),
    };
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
            check_against(&entry.path(), &ours, settled)?;
        }
    }
    let claim = register(dir, holder, origin, keys)?;
    drop(registry);
    Ok(claim)
}

/// What a claimant checks other claims against.
struct Ours<'k> {
    /// Our keys, inert.
    keys: HashSet<Cow<'k, str>>,
    /// Our database, [`resolved`].
    db: PathBuf,
}

/// `path` as it is best compared with another spelling of the same file: canonical if it can
/// be (it exists), else made absolute, else as given.
fn resolved(path: &Path) -> PathBuf {
    fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// A claim file's lines, as read.
struct Parsed<'t> {
    holder: &'t str,
    /// `(run id, database)`, `None` if there is no origin line or it makes no sense.
    origin: Option<(&'t str, &'t str)>,
    keys: std::str::Lines<'t>,
}

/// Splits a claim file into its holder line, its origin (the second line, if it is one) and its
/// keys. Claim files of older fleetresets have no origin line: their second line is a key.
fn parse(text: &str) -> Result<Parsed<'_>, String> {
    let mut lines = text.lines();
    let holder = match lines.next().map(str::trim) {
        Some(line) if !line.is_empty() => line,
        _ => return Err("it names no holder".to_owned()),
    };
    let mut origin = None;
    let mut rest = lines.clone();
    if let Some(line) = rest.next().and_then(|l| l.strip_prefix(ORIGIN_PREFIX)) {
        lines = rest;
        // Not trimmed: a database path may end with a space.
        origin = line
            .split_once(' ')
            .filter(|(run_id, db)| !run_id.is_empty() && !db.is_empty());
    }
    Ok(Parsed {
        holder,
        origin,
        keys: lines,
    })
}

/// One claim file against ours. A live one: `Busy` if it shares a key with ours,
/// `Unreadable` if it can't be read. A stale one is judged as the module says, `settled`
/// asked about it if it names its run and database.
fn check_against(
    path: &Path,
    ours: &Ours<'_>,
    settled: &mut dyn FnMut(&str, &Path) -> Settled,
) -> Result<(), ClaimError> {
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
    // Nobody holds a stale one: its holder died. We hold it from here on, so whatever we do
    // with it is done while we hold the lock.
    let stale = match file.try_lock() {
        Ok(()) => true,
        Err(TryLockError::WouldBlock) => false,
        Err(TryLockError::Error(err)) => return Err(unreadable(format!("cannot lock it: {err}"))),
    };
    let stale_unreadable = |why: String| ClaimError::StaleUnreadable {
        path: path.to_owned(),
        why,
    };
    let mut bytes = Vec::new();
    if let Err(err) = (&mut file)
        .take(MAX_CLAIM_BYTES + 1)
        .read_to_end(&mut bytes)
    {
        let why = format!("cannot read it: {err}");
        return Err(if stale {
            stale_unreadable(why)
        } else {
            unreadable(why)
        });
    }
    if bytes.len() as u64 > MAX_CLAIM_BYTES {
        // A claim of ours with millions of keys would be this big: can't be told from one.
        let why = format!("it is larger than {} MiB", MAX_CLAIM_BYTES >> 20);
        return Err(if stale {
            stale_unreadable(why)
        } else {
            unreadable(why)
        });
    }
    // Our claim files are UTF-8 and name a holder once registered, so a stale one that is not
    // text or names none was left by a fleetreset that died while registering, before it could
    // act on its devices, or is not ours at all: deleted (a failure to delete only leaves it
    // for the next claimant).
    let forget = || {
        let _ = fs::remove_file(path);
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) if stale => {
            forget();
            return Ok(());
        }
        Err(_) => return Err(unreadable("it is not UTF-8 text".to_owned())),
    };
    let parsed = match parse(&text) {
        Ok(parsed) => parsed,
        Err(_) if stale => {
            forget();
            return Ok(());
        }
        Err(why) => return Err(unreadable(why)),
    };
    let mut overlapping = Vec::new();
    let mut total = 0;
    for key in parsed.keys {
        if ours.keys.contains(key) {
            total += 1;
            if overlapping.len() < SHOWN_OVERLAPS {
                overlapping.push(key.to_owned());
            }
        }
    }
    let holder = parsed.holder.to_owned();
    if !stale {
        if total > 0 {
            return Err(ClaimError::Busy {
                holder,
                overlapping,
                total,
            });
        }
        return Ok(());
    }
    let Some((run_id, db)) = parsed.origin else {
        if total > 0 {
            return Err(ClaimError::StaleUnknownOrigin {
                holder,
                overlapping,
                total,
                path: path.to_owned(),
            });
        }
        // Left for a claimant it overlaps, who can't judge it either and is refused.
        return Ok(());
    };
    let db = Path::new(db);
    let our_db = resolved(db) == ours.db;
    match settled(run_id, db) {
        Settled::Yes => {
            forget();
            Ok(())
        }
        // Kept, so that a later run over its devices is stopped by it too. One of our own
        // database never stops us: our caller judges that database's open commands.
        _ if our_db || total == 0 => Ok(()),
        Settled::No => Err(ClaimError::Crashed {
            run_id: run_id.to_owned(),
            db: db.to_owned(),
            overlapping,
            total,
            path: path.to_owned(),
        }),
        Settled::Unknown(why) => Err(ClaimError::CrashedUnknown {
            run_id: run_id.to_owned(),
            db: db.to_owned(),
            overlapping,
            total,
            path: path.to_owned(),
            why: why.into(),
        }),
    }
}

/// The origin line for `origin`: its run id and its database's [`resolved`] path, if both can
/// be written on one line so that they read back the same (the run id without spaces, neither
/// with anything [`inert`] would escape); else [`ORIGIN_UNKNOWN`].
fn origin_line(origin: &Origin<'_>) -> String {
    let db = resolved(origin.db);
    let faithful = |s: &str| !s.is_empty() && matches!(inert(s), Cow::Borrowed(_));
    match db.to_str() {
        Some(db) if faithful(origin.run_id) && !origin.run_id.contains(' ') && faithful(db) => {
            format!("{ORIGIN_PREFIX}{} {db}", origin.run_id)
        }
        _ => ORIGIN_UNKNOWN.to_owned(),
    }
}

/// Writes and locks our claim file: the holder line, the origin line, then each key once, all
/// inert.
fn register(
    dir: &Path,
    holder: &str,
    origin: &Origin<'_>,
    keys: &[String],
) -> Result<Claim, ClaimError> {
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
        keep: false,
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
    writeln!(out, "{}", origin_line(origin)).map_err(io_err)?;
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

mod dir;
mod error;
mod registry;

pub use dir::default_dir;
use dir::prepare_dir;
#[cfg(test)]
use dir::{current_uid, dir_from, judge_dir, passwd_home};
pub use error::ClaimError;
#[cfg(test)]
use error::shell_word;
use registry::Registry;

#[cfg(test)]
mod tests;
