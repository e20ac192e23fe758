//! The registry lock: held while one claimant checks and registers.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{ClaimError, FILE_MODE, REGISTRY_POLL};

/// The registry lock, released when dropped.
pub(super) struct Registry {
    file: File,
}

impl Registry {
    pub(super) fn lock(path: &Path, wait: Duration) -> Result<Registry, ClaimError> {
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
