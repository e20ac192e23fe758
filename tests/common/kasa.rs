//! The reference client, python-kasa 0.12.0's `kasa` CLI, installed on first use.
//!
//! The first run creates a virtualenv under `target/tmp/kasa-venv-0.12.0` and installs
//! `python-kasa==0.12.0` from PyPI into it ([`super::venv`]); later runs reuse it.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const KASA_VERSION: &str = "0.12.0";

/// Path of the `kasa` executable, installing it on first use.
pub fn kasa() -> &'static Path {
    static KASA: OnceLock<PathBuf> = OnceLock::new();
    KASA.get_or_init(|| {
        super::venv::install(
            &format!("kasa-venv-{KASA_VERSION}"),
            &format!("python-kasa=={KASA_VERSION}"),
            |venv| Some(venv.join("bin/kasa")).filter(|bin| installed(bin)),
        )
    })
}

fn installed(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(KASA_VERSION))
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
