//! The reference client, python-kasa 0.12.0's `kasa` CLI, against `fleetreset simulate`'s Tapo
//! camera (SslAes over HTTPS with the simulator's self-signed certificate): it reads the
//! camera's state, then reboots it with the camera's own `rebootDevice` through the raw
//! `command` subcommand (the CLI's `reboot` sends the plugs' `device_reboot`, which cameras
//! don't have). Protocol reference §7.3 gives the command lines.
//!
//! The first run installs python-kasa into a virtualenv under `target/tmp` (see
//! `common::kasa`). Loopback plan: 127.42.100+ (the camera tests' range).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::kasa::kasa_cmd;
use common::{Simulate, text};

const PORT: &str = "8443";
const USER: &str = "owner@example.com";
const PASS: &str = "camera-secret";

fn ip(test: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 42, 100 + test, 1))
}

struct Lab {
    _sim: Simulate,
    dir: tempfile::TempDir,
}

impl Lab {
    fn start(rows: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let creds = common::office_credentials(dir.path().join("credentials.toml"), USER, PASS);
        let journal = dir.path().join("journal.log");
        let sim = Simulate::start_with(
            &format!("id,host,model,credentials,sim_fault\n{rows}"),
            &[
                "--credentials",
                creds.to_str().unwrap(),
                "--journal",
                journal.to_str().unwrap(),
            ],
        );
        Lab { _sim: sim, dir }
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("journal.log")
    }

    fn journaled(&self, id: &str, what: &str) -> usize {
        std::fs::read_to_string(self.journal())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split(' ').skip(1).collect::<Vec<_>>() == [id, what])
            .count()
    }
}

/// `kasa --host H --port 8443 --type camera --username admin --password P ARGS…`.
fn camera(host: IpAddr, password: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "--port",
        PORT,
        "--type",
        "camera",
        "--username",
        "admin",
        "--password",
        password,
    ];
    all.extend_from_slice(args);
    kasa_cmd(host, &all, None)
}

#[test]
fn python_kasa_reads_a_simulated_tapo_camera_and_reboots_it_with_reboot_device() {
    let host = ip(1);
    let lab = Lab::start(&format!("cam,{host}:{PORT},C210,office,\n"));

    let state = camera(host, PASS, &["state"]);
    assert!(state.status.success(), "{}", text(&state));
    let out = String::from_utf8_lossy(&state.stdout);
    // The alias is the row id; the model and MAC come through as the camera reported them.
    assert!(out.contains("cam"), "{out}");
    assert!(out.contains("C210"), "{out}");
    assert_eq!(
        lab.journaled("cam", "reboot"),
        0,
        "reading state reboots nothing"
    );

    let reboot = camera(
        host,
        PASS,
        &[
            "command",
            "rebootDevice",
            r#"{"system": {"reboot": "null"}}"#,
        ],
    );
    assert!(reboot.status.success(), "{}", text(&reboot));
    assert_eq!(lab.journaled("cam", "reboot"), 1, "{}", text(&reboot));
    assert_eq!(lab.journaled("cam", "login_failed"), 0);

    // It went dark and came back (120 s of boot at the 0.01 time scale): state reads again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let again = camera(host, PASS, &["state"]);
        if again.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never came back: {}",
            text(&again)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(lab.journaled("cam", "reboot"), 1);
}

#[test]
fn python_kasa_with_the_wrong_password_is_refused_and_reboots_nothing() {
    let host = ip(2);
    let lab = Lab::start(&format!("cam,{host}:{PORT},C210,office,\n"));
    let out = camera(
        host,
        "wrong",
        &[
            "command",
            "rebootDevice",
            r#"{"system": {"reboot": "null"}}"#,
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(lab.journaled("cam", "reboot"), 0, "{}", text(&out));
}

#[test]
fn python_kasa_finds_the_camera_by_discovery_and_decrypts_its_encrypt_info() {
    let host = ip(3);
    let lab = Lab::start(&format!("cam,{host}:{PORT},C210,office,\n"));
    // No --type: python-kasa probes UDP 20002/20004; the reply names port 8443 and HTTPS, and
    // carries `encrypt_info` sealed to the probe's RSA key.
    let out = kasa_cmd(
        host,
        &[
            "--username",
            "admin",
            "--password",
            PASS,
            "--discovery-timeout",
            "3",
            "--debug",
            "sysinfo",
        ],
        None,
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("Decrypted encrypt_info"), "{all}");
    assert!(!all.contains("Unable to decrypt"), "{all}");
    assert!(all.contains("'device_model': 'C210'"), "{all}");
    assert!(lab.journaled("cam", "discovery") >= 1);
    assert_eq!(lab.journaled("cam", "reboot"), 0);
}
