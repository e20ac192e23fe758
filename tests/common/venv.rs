//! Python tools the tests run, installed on first use from PyPI into virtualenvs under
//! `target/tmp`, and reused after that. Needs `python3` with `venv` and pip on PATH.
//!
//! A virtualenv can't be moved once made (its scripts name their interpreter by absolute
//! path), so it is built in place and a marker file says it is complete. A lock directory keeps
//! two test processes from building it at once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The virtualenv `name` with `requirement` (`pkg==1.2.3`) installed, and `find(venv)` in it;
/// `find` says where in the venv the thing the test needs is, once it is usable.
pub fn install(name: &str, requirement: &str, find: impl Fn(&Path) -> Option<PathBuf>) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join(name);
    let marker = venv.join("installed");
    let lock = tmp.join(format!("{name}.lock"));
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if marker.exists()
            && let Some(found) = find(&venv)
        {
            return found;
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
            .arg(requirement),
    );
    std::fs::write(&marker, requirement).unwrap();
    let _ = std::fs::remove_dir(&lock);
    find(&venv).unwrap_or_else(|| panic!("{requirement} did not install into {}", venv.display()))
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
