//! Helpers shared by the integration tests.
//!
//! Loopback plan: every test file owns one second octet of 127.0.0.0/8 and every test in it a
//! third octet, so tests running in parallel never share an address:
//! iot_client 127.20, simulate_cli 127.21, kasa_interop 127.22, run_cli 127.23, fleet_1000
//! 127.24, hostile_devices 127.25, hostile_files 127.26, safety_cli 127.27, crash_resume 127.28,
//! sim_smart 127.29, kasa_interop_smart 127.30, tapo_cli 127.31, one_active_run 127.32,
//! resume_rules 127.33, output_cli 127.34, identity_cli 127.35, property_resume 127.36,
//! spreadsheet_cli 127.37, rules_cli 127.38, first_hour 127.39, audit_cli 127.40,
//! workbook_fixtures 127.41 (the hosts of inventories/oak-house.*), camera_* 127.42,
//! upstream_* and manual_cli 127.43, work_orders_cli and confirm_* 127.44, camera_upstream
//! 127.45, hostile_cameras and hostile_confirm 127.47, sample_cli 127.48.1-199 and history_cli
//! 127.48.200-255, html_report 127.49, certificates_cli 127.50, hostile_audit 127.51,
//! tpap_login_choice 127.64, tapo_interop 127.65, tpap_cli 127.66, ansible_sites 127.67,
//! 127.68 and 127.69 (one second octet a site), audit_merge 127.70-127.72, audit_verify 127.77
//! (the demo's fleet).
#![allow(dead_code)]

pub mod audit_db;
pub mod bench;
pub mod faketime;
pub mod kasa;
pub mod lab;
pub mod truth;
pub mod venv;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use fleetreset::inventory::Device;

pub fn ip(file: u8, test: u8, n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, file, test, n))
}

pub fn addr(file: u8, test: u8, n: u8) -> SocketAddr {
    SocketAddr::new(ip(file, test, n), 9999)
}

/// An inventory row, built directly so these tests don't depend on the CSV parser.
pub fn row(id: &str, ip: IpAddr, model: &str, fault: Option<&str>) -> Device {
    let mut extra = BTreeMap::new();
    if let Some(f) = fault {
        extra.insert("sim_fault".to_string(), f.to_string());
    }
    Device {
        model: Some(model.to_string()),
        extra,
        ..Device::bare(id, &ip.to_string())
    }
}

/// `n` HS110 plugs with MACs at `127.file.test.1..=n` (ids `p01`, `p02`, …), each with the
/// simulator fault `fault`. HS110s have their relay on, so their on-time tells a reboot.
pub fn plugs(file: u8, test: u8, n: u8, fault: &str) -> String {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "p{i:02},{},HS110(EU),50:C7:BF:{file:02X}:{test:02X}:{i:02X},{fault}\n",
            ip(file, test, i)
        ));
    }
    csv
}

/// A child process killed and reaped when the test ends, pass or fail.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `fleetreset simulate --time-scale 0.01` on an inventory, in a child process that is killed
/// when this is dropped. `start` returns once every device listens.
pub struct Simulate {
    _child: KillOnDrop,
    pub dir: tempfile::TempDir,
}

impl Simulate {
    pub fn start(csv: &str) -> Simulate {
        Simulate::start_with(csv, &[])
    }

    /// With extra `simulate` arguments, e.g. `["--journal", path]`.
    pub fn start_with(csv: &str, extra: &[&str]) -> Simulate {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("fleet.csv");
        std::fs::write(&inv, csv).unwrap();
        Simulate {
            _child: serve(&inv, extra),
            dir,
        }
    }
}

/// `fleetreset` (the binary under test), with a device-claims directory of this test process's
/// own: claims left by the runs a test kills must not outlive the test run and refuse the runs
/// of a later one (the default directory is in the user's home).
pub fn fleetreset() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fleetreset"));
    cmd.env("FLEETRESET_LOCK_DIR", claims_dir());
    cmd
}

/// `target/tmp/claims/<pid>`, made on first use.
pub fn claims_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("claims")
            .join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    })
}

/// `fleetreset` (the binary under test) to run in `dir`.
pub fn fleetreset_in(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = fleetreset();
    cmd.current_dir(dir);
    cmd
}

/// A command's exit status, stdout and stderr, for assertion messages.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `run` options for a rehearsal against `Simulate` (time scale 0.01): quick timeouts, a brisk
/// rate.
pub const REHEARSAL: &[&str] = &[
    "--time-scale",
    "0.01",
    "--rate",
    "50",
    "--connect-timeout",
    "1",
    "--request-timeout",
    "1",
];

/// Sends `sig` (`-INT`, `-TERM`, …) to `child` with kill(1).
pub fn signal(child: &KillOnDrop, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Sends `sig` twice, as a person pressing Ctrl-C twice does: the second only once the first
/// has left the kernel's pending set and the run's listener has had time to take it. Two
/// signals of one kind that arrive before the first is taken are one signal (the kernel keeps
/// one pending bit per signal), so back-to-back kills would test nothing about the second.
pub fn signal_twice(child: &KillOnDrop, sig: &str) {
    signal(child, sig);
    let status = format!("/proc/{}/status", child.0.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&status).is_ok_and(|s| {
        s.lines()
            .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
            .any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|m| !m.trim_matches('0').is_empty())
            })
    }) {
        assert!(std::time::Instant::now() < deadline, "{sig} stayed pending");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    signal(child, sig);
}

/// `fleetreset simulate` of the inventory file at `path` (a CSV or a workbook) at rehearsal
/// speed, journaling to `journal`; returns once every device listens.
pub fn simulate_file(
    path: &std::path::Path,
    journal: &std::path::Path,
    extra: &[&str],
) -> KillOnDrop {
    let journal = journal.to_str().unwrap();
    let mut args = vec!["--journal", journal];
    args.extend_from_slice(extra);
    serve(path, &args)
}

/// `fleetreset simulate ARGS PATH`, at rehearsal speed unless `args` name a `--time-scale`;
/// returns once every device listens, and keeps draining its stdout.
fn serve(path: &std::path::Path, args: &[&str]) -> KillOnDrop {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let scale: &[&str] = if args.contains(&"--time-scale") {
        &[]
    } else {
        &["--time-scale", "0.01"]
    };
    let mut child = fleetreset()
        .arg("simulate")
        .args(scale)
        .args(args)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let guard = KillOnDrop(child);
    loop {
        let line = lines
            .next()
            .expect("simulator exited before it was ready")
            .unwrap();
        if line.starts_with("simulating ") {
            break;
        }
    }
    // Keep draining stdout so the simulator never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    guard
}

/// `fleetreset ARGS` on a terminal: `script` in `dir`, with the claims directory set; None
/// (after a note) where util-linux `script` isn't installed. `script` runs `$SHELL -c CMD`:
/// the shell is fixed to `/bin/sh` and `exec`s the command, so the exit code is the command's
/// own (dash waiting on a child that got Ctrl-C ends itself by SIGINT, 130).
pub fn terminal(dir: &std::path::Path, args: &str) -> Option<std::process::Command> {
    let version = std::process::Command::new("script")
        .arg("--version")
        .output();
    if version.is_err() {
        eprintln!("note: `script` (util-linux) is not installed; the terminal is not tested");
        return None;
    }
    let cmd = format!("exec {} {args}", env!("CARGO_BIN_EXE_fleetreset"));
    let mut script = std::process::Command::new("script");
    script
        .env("FLEETRESET_LOCK_DIR", claims_dir())
        .env("SHELL", "/bin/sh")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir);
    Some(script)
}

/// Writes a credentials file at `path` whose profile `office` is `user` / `password`,
/// owner-only as the credentials store requires, and returns the path.
pub fn office_credentials(
    path: std::path::PathBuf,
    user: &str,
    password: &str,
) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        &path,
        format!("[profiles.office]\nusername = \"{user}\"\npassword = \"{password}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}
