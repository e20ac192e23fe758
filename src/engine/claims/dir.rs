//! Where device claims live, and whether that directory can be trusted.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{ClaimError, DIR_MODE, LOCK_DIR_ENV};

/// Where claims live: `$FLEETRESET_LOCK_DIR` if set and not empty; else
/// `$XDG_STATE_HOME/fleetreset/claims` if that is set to an absolute path; else
/// `$HOME/.local/state/fleetreset/claims` if that is; else `<temp dir>/fleetreset-<uid>`.
///
/// Per user, and the same for an SSH session, a cron job and a systemd service of that user
/// (all three have a home directory; only the first usually has `$XDG_RUNTIME_DIR`), and on
/// disk, so that a crashed run's claim survives a reboot of the host (see the module doc).
pub fn default_dir() -> PathBuf {
    dir_from(
        std::env::var_os(LOCK_DIR_ENV),
        std::env::var_os("XDG_STATE_HOME"),
        // A system service without `User=` may have no HOME: the account's own home then.
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .or_else(passwd_home),
        &std::env::temp_dir(),
        current_uid(),
    )
}

/// This user's home directory from the password database.
pub(super) fn passwd_home() -> Option<OsString> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to overwrite.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, `buf` outlives the use of `pwd`'s strings,
    // and the length passed is the buffer's.
    let rc = unsafe {
        libc::getpwuid_r(
            current_uid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r set pw_dir to a NUL-terminated string inside `buf`.
    let dir = unsafe { std::ffi::CStr::from_ptr(pwd.pw_dir) };
    Some(std::ffi::OsStr::from_bytes(dir.to_bytes()).to_owned())
}

/// [`default_dir`] from the values of `FLEETRESET_LOCK_DIR`, `XDG_STATE_HOME` and `HOME`, the
/// temp dir and the uid. A relative `XDG_STATE_HOME` or `HOME` is ignored (the XDG base
/// directory spec says so for the first): it would name another directory in every working
/// directory.
pub(super) fn dir_from(
    lock_dir: Option<OsString>,
    state_home: Option<OsString>,
    home: Option<OsString>,
    temp: &Path,
    uid: u32,
) -> PathBuf {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    let absolute = |v: Option<OsString>| set(v).filter(|p| p.is_absolute());
    if let Some(dir) = set(lock_dir) {
        return dir;
    }
    if let Some(dir) = absolute(state_home) {
        return dir.join("fleetreset/claims");
    }
    if let Some(dir) = absolute(home) {
        return dir.join(".local/state/fleetreset/claims");
    }
    temp.join(format!("fleetreset-{uid}"))
}

pub(super) fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Creates `dir` (and missing parents) owner-only if it is missing, then refuses it unless it is
/// safe to trust.
pub(super) fn prepare_dir(dir: &Path) -> Result<(), ClaimError> {
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
pub(super) fn judge_dir(
    symlink: bool,
    is_dir: bool,
    owner: u32,
    mode: u32,
    me: u32,
) -> Result<(), String> {
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
