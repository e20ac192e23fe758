//! libfaketime, for runs whose wall clock is off: installed on first use from PyPI's
//! `libfaketime` package (which ships the library) into a virtualenv under `target/tmp`.
//!
//! A process started with [`wall_clock_offset`] sees its wall clock (`CLOCK_REALTIME`) moved by
//! the offset, as after an NTP step or a wrong RTC, while its monotonic and boot clocks run
//! true (`FAKETIME_DONT_FAKE_MONOTONIC=1`), exactly as on a real host whose date is wrong.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const LIBFAKETIME_VERSION: &str = "3.0.1";

/// Path of `libfaketime.so.1`, installing it on first use. Same scheme as the kasa venv: built
/// in place, a marker says it is complete, a lock directory keeps two builders apart.
pub fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let venv = tmp.join(format!("faketime-venv-{LIBFAKETIME_VERSION}"));
        let marker = venv.join("installed");
        let lock = tmp.join(format!("faketime-venv-{LIBFAKETIME_VERSION}.lock"));
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if marker.exists()
                && let Some(lib) = find(&venv)
            {
                return lib;
            }
            if std::fs::create_dir(&lock).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {}",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = std::fs::remove_dir_all(&venv);
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run_ok(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("libfaketime=={LIBFAKETIME_VERSION}")),
        );
        std::fs::write(&marker, LIBFAKETIME_VERSION).unwrap();
        let _ = std::fs::remove_dir(&lock);
        find(&venv).unwrap_or_else(|| panic!("no libfaketime.so.1 under {}", venv.display()))
    })
}

fn find(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    for python in std::fs::read_dir(&lib).ok()?.flatten() {
        let so = python
            .path()
            .join("site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1");
        if so.exists() {
            return Some(so);
        }
    }
    None
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `cmd` run with its wall clock `seconds` ahead (negative: behind), its monotonic clocks
/// untouched.
pub fn wall_clock_offset(cmd: &mut Command, seconds: i64) -> &mut Command {
    cmd.env("LD_PRELOAD", library())
        .env("FAKETIME", format!("{seconds:+}"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
}
