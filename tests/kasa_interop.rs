//! The reference client, python-kasa 0.12.0's `kasa` CLI, against `fleetreset simulate`.
//!
//! The first run creates a virtualenv under `target/tmp/kasa-venv-0.12.0` and installs
//! `python-kasa==0.12.0` from PyPI into it; later runs reuse it. Needs `python3` with `venv`
//! and pip on PATH.

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Simulate, ip, text};
use fleetreset::device::IotClient;
use fleetreset::protocol::iot::transport::Timeouts;

const FILE: u8 = 22;
const KASA_VERSION: &str = "0.12.0";

/// Path of the `kasa` executable, installing it on first use.
///
/// A virtualenv can't be moved once made (its scripts name their interpreter by absolute
/// path), so it is built in place and a marker file says it is complete. A lock directory keeps
/// two test processes from building it at once.
fn kasa() -> &'static Path {
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

fn kasa_cmd(host: IpAddr, args: &[&str], stdin: Option<&str>) -> Output {
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

fn client(host: IpAddr) -> IotClient {
    IotClient::new(
        std::net::SocketAddr::new(host, 9999),
        Timeouts {
            connect: Duration::from_millis(500),
            request: Duration::from_secs(2),
        },
    )
}

async fn wait_for_answer(host: IpAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if client(host).sysinfo().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[test]
fn kasa_state_shows_the_simulated_model_and_alias_with_and_without_discovery() {
    let (plug, bulb) = (ip(FILE, 1, 1), ip(FILE, 1, 2));
    let _sim = Simulate::start(&format!(
        "id,host,model,alias\nfront-desk,{plug},HS110(EU),Front Desk Lamp\nhall-bulb,{bulb},KL130(EU),Hall Light\n"
    ));
    let out = kasa_cmd(plug, &["--type", "plug", "state"], None);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("Front Desk Lamp"), "{t}");
    assert!(t.contains("== Front Desk Lamp - HS110 =="), "{t}");
    assert!(t.contains("Hardware:     1.0 (EU)"), "{t}");
    assert!(
        t.contains("Firmware:     1.2.5 Build 171213 Rel.101523"),
        "{t}"
    );
    assert!(
        !t.contains("Raised error") && !t.contains("Unable to read"),
        "{t}"
    );

    // No --type: python-kasa discovers the device by unicast UDP on port 9999.
    let out = kasa_cmd(bulb, &["--discovery-timeout", "3", "sysinfo"], None);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("KL130(EU)") && t.contains("Hall Light"), "{t}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kasa_reboot_is_acknowledged_and_the_device_comes_back_with_on_time_reset() {
    let host = ip(FILE, 2, 1);
    let _sim = Simulate::start(&format!("id,host,model\nbedroom,{host},KP115(US)\n"));
    client(host).set_relay(true, None).await.unwrap();
    // 0.3 s is 30 s of device time at this scale.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (before, _) = client(host).sysinfo().await.unwrap();
    assert!(before.on_time.unwrap() >= 20, "{:?}", before.on_time);
    let out = kasa_cmd(host, &["--type", "plug", "reboot", "--delay", "1"], None);
    assert!(out.status.success(), "{}", text(&out));
    // Goes dark for the (scaled) boot time, then answers again.
    let started = Instant::now();
    let mut went_dark = false;
    while started.elapsed() < Duration::from_secs(3) && !went_dark {
        went_dark = client(host).sysinfo().await.is_err();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(went_dark, "the device never went away");
    assert!(
        wait_for_answer(host, Duration::from_secs(10)).await,
        "the device never came back"
    );
    let (after, _) = client(host).sysinfo().await.unwrap();
    assert_eq!(after.relay_state, before.relay_state);
    assert!(
        after.on_time < before.on_time,
        "{:?} !< {:?}",
        after.on_time,
        before.on_time
    );
    let out = kasa_cmd(host, &["--type", "plug", "state"], None);
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn kasa_factory_reset_confirmed_makes_the_device_leave_the_network() {
    let host = ip(FILE, 3, 1);
    let _sim = Simulate::start(&format!("id,host,model\nunit-4b,{host},EP25(US)\n"));
    let out = kasa_cmd(
        host,
        &["--type", "plug", "device", "factory-reset"],
        Some("y\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        client(host).sysinfo().await.is_err(),
        "still answering after a factory reset"
    );
    assert!(
        !wait_for_answer(host, Duration::from_secs(2)).await,
        "came back after a factory reset"
    );
    let out = kasa_cmd(host, &["--type", "plug", "state"], None);
    assert!(!out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn kasa_switches_one_strip_outlet_by_child_index() {
    let host = ip(FILE, 4, 1);
    let _sim = Simulate::start(&format!("id,host,model\nrack-strip,{host},HS300(US)\n"));
    let (before, _) = client(host).sysinfo().await.unwrap();
    assert!(before.children.iter().all(|c| c.state == 1));
    let out = kasa_cmd(
        host,
        &["--type", "strip", "off", "--child-index", "1"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let (after, _) = client(host).sysinfo().await.unwrap();
    let states: Vec<u8> = after.children.iter().map(|c| c.state).collect();
    assert_eq!(states, [1, 0, 1, 1, 1, 1]);
    let out = kasa_cmd(host, &["--type", "strip", "on", "--child-index", "1"], None);
    assert!(out.status.success(), "{}", text(&out));
    let (after, _) = client(host).sysinfo().await.unwrap();
    assert!(after.children.iter().all(|c| c.state == 1));
}
