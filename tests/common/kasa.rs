//! The reference client, python-kasa 0.12.0's `kasa` CLI, installed on first use.
//!
//! The first run creates a virtualenv under `target/tmp/kasa-venv-0.12.0` and installs
//! `python-kasa==0.12.0` from PyPI into it; later runs reuse it. Needs `python3` with `venv`
//! and pip on PATH.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const KASA_VERSION: &str = "0.12.0";

/// Path of the `kasa` executable, installing it on first use.
///
/// A virtualenv can't be moved once made (its scripts name their interpreter by absolute
/// path), so it is built in place and a marker file says it is complete. A lock directory keeps
/// two test processes from building it at once.
pub fn kasa() -> &'static Path {
    static KASA: OnceLock<PathBuf> = OnceLock::new();
    KASA.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let venv = tmp.join(format!("kasa-venv-{KASA_VERSION}"));
        let bin = venv.join("bin/kasa");
        let marker = venv.join("installed");
        let lock = tmp.join(format!("kasa-venv-{KASA_VERSION}.lock"));
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if marker.exists() && installed(&bin) {
                return bin;
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
                .arg(format!("python-kasa=={KASA_VERSION}")),
        );
        std::fs::write(&marker, KASA_VERSION).unwrap();
        let _ = std::fs::remove_dir(&lock);
        assert!(
            installed(&bin),
            "python-kasa {KASA_VERSION} did not install into {}",
            venv.display()
        );
        bin
    })
}

fn installed(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(KASA_VERSION))
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

/// Runs `kasa --host HOST --timeout 3 ARGS…`, feeding `stdin` if given.
pub fn kasa_cmd(host: IpAddr, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(kasa());
    cmd.args(["--host", &host.to_string(), "--timeout", "3"])
        .args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}
