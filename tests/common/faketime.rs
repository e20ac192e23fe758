//! libfaketime, for runs whose wall clock is off: installed on first use from PyPI's
//! `libfaketime` package (which ships the library) into a virtualenv under `target/tmp`.
//!
//! A process started with [`wall_clock_offset`] sees its wall clock (`CLOCK_REALTIME`) moved by
//! the offset, as after an NTP step or a wrong RTC, while its monotonic and boot clocks run
//! true (`FAKETIME_DONT_FAKE_MONOTONIC=1`), exactly as on a real host whose date is wrong.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const LIBFAKETIME_VERSION: &str = "3.0.1";

/// Path of `libfaketime.so.1`, installing it on first use ([`super::venv`]).
pub fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        super::venv::install(
            &format!("faketime-venv-{LIBFAKETIME_VERSION}"),
            &format!("libfaketime=={LIBFAKETIME_VERSION}"),
            find,
        )
    })
}

/// The library inside the venv's site-packages, whatever its Python version.
fn find(venv: &Path) -> Option<PathBuf> {
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1")
        })
        .find(|so| so.exists())
}

/// Makes `cmd` run with its wall clock `seconds` ahead (negative: behind), its monotonic clocks
/// untouched.
pub fn wall_clock_offset(cmd: &mut Command, seconds: i64) -> &mut Command {
    cmd.env("LD_PRELOAD", library())
        .env("FAKETIME", format!("{seconds:+}"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
}
