//! Whether a directory can take what a run is about to write there: a new file can be created,
//! written and synced, and the file system has the room.
//!
//! A run records its intent before it acts and writes its reports after, so a full disk or a
//! read-only mount found half-way means devices were reset with records that can't be kept.
//! The commands check first ([`crate::store::Db::preflight`], [`crate::report::preflight`]),
//! before anything is sent to any device. Both share these two helpers.
//!
//! A check is a moment's truth: another process can fill the disk a second later. It turns the
//! common case (a full disk, a read-only mount, a directory that isn't ours) into a refusal
//! before the first device, not a guarantee.

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// What the probe file holds: a few bytes, so the write really allocates a block.
const PROBE_BYTES: &[u8] = b"fleetreset preflight probe\n";

/// Creates `dir/name` owner-only, writes and fsyncs a few bytes, and removes it. The error says
/// which directory could not take the file and why.
pub(crate) fn probe(dir: &Path, name: &str) -> io::Result<()> {
    let path = dir.join(name);
    let failed = |err: io::Error| {
        io::Error::new(
            err.kind(),
            format!("cannot create a file in {}: {err}", dir.display()),
        )
    };
    // A leftover of a crashed process that had the same pid; the name is ours.
    match fs::remove_file(&path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(failed(err)),
        _ => {}
    }
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(PROBE_BYTES)?;
            file.sync_all()
        });
    let removed = fs::remove_file(&path);
    written.map_err(failed)?;
    removed.map_err(failed)
}

/// Bytes an unprivileged process may still write on the file system holding `dir`
/// (`statvfs`: `f_bavail * f_frsize`).
pub(crate) fn free_bytes(dir: &Path) -> io::Result<u64> {
    let c_path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    // SAFETY: statvfs only writes into the struct we hand it; all-zero is a valid value of it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call, `stat` is writable.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The field types differ between platforms (u32 on some 32-bit ones, u64 on Linux x86-64).
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let (blocks, block_size) = (stat.f_bavail as u64, stat.f_frsize as u64);
    Ok(blocks.saturating_mul(block_size))
}

/// Fails with [`io::ErrorKind::StorageFull`] unless the file system holding `dir` has
/// `needed` bytes free: `no space in DIR: 12 KiB free, about 3 MiB needed`.
pub(crate) fn ensure_free(dir: &Path, needed: u64) -> io::Result<()> {
    let free = free_bytes(dir).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot tell the free space in {}: {err}", dir.display()),
        )
    })?;
    if free >= needed {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::StorageFull,
        format!(
            "no space in {}: {} free, about {} needed",
            dir.display(),
            bytes_text(free, Round::Down),
            bytes_text(needed, Round::Up)
        ),
    ))
}

#[derive(Debug, Clone, Copy)]
enum Round {
    Down,
    Up,
}

/// `512 B`, `12 KiB`, `3 MiB`, … in whole units of the largest binary unit that fits: free
/// space rounded down and needs rounded up, so the message never makes it look like enough.
fn bytes_text(bytes: u64, round: Round) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    let size = 1u64 << (10 * unit);
    let whole = match round {
        Round::Down => bytes / size,
        Round::Up => bytes.div_ceil(size),
    };
    format!("{whole} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_the_largest_unit_rounded_to_the_safe_side() {
        assert_eq!(bytes_text(0, Round::Down), "0 B");
        assert_eq!(bytes_text(1023, Round::Up), "1023 B");
        assert_eq!(bytes_text(12 * 1024 + 900, Round::Down), "12 KiB");
        assert_eq!(bytes_text(12 * 1024 + 900, Round::Up), "13 KiB");
        assert_eq!(bytes_text(3 << 20, Round::Up), "3 MiB");
        assert_eq!(bytes_text(u64::MAX / 2, Round::Up), "8 EiB");
        assert_eq!(bytes_text(u64::MAX, Round::Down), "15 EiB");
    }

    #[test]
    fn a_probe_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        probe(dir.path(), ".probe").unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_probe_in_a_missing_directory_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = probe(&missing, ".probe").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .starts_with(&format!("cannot create a file in {}: ", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn the_free_space_of_a_real_directory_is_known_and_an_absurd_need_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        ensure_free(dir.path(), 1).unwrap();
        let err = ensure_free(dir.path(), u64::MAX / 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        let text = err.to_string();
        let prefix = format!("no space in {}: ", dir.path().display());
        assert!(text.starts_with(&prefix), "{text}");
        assert!(text.ends_with(" free, about 8 EiB needed"), "{text}");
    }

    #[test]
    fn the_free_space_of_a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = ensure_free(&missing, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains(&missing.display().to_string()));
    }
}
