//! The reference client, python-kasa 0.12.0's `kasa` CLI, against `fleetreset simulate`'s
//! KLAP, AES and SMART devices: reading state, rebooting and factory-resetting over each
//! transport, discovery on UDP 20002, strip outlets and wrong passwords.
//!
//! The first run installs python-kasa into a virtualenv under `target/tmp` (see
//! `common::kasa`). Loopback plan: 127.30.x.y, one third octet per test.

mod common;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::kasa::kasa_cmd;
use common::{Simulate, ip, text};

const FILE: u8 = 30;
/// Every HTTP device here gets this port: a non-root user can't bind 80.
const PORT: u16 = 8080;
const USER: &str = "user@example.com";
const PASS: &str = "secret";

/// The simulator, its credentials file (profile `office` = USER / PASS) and its journal.
struct Lab {
    _sim: Simulate,
    dir: tempfile::TempDir,
}

impl Lab {
    /// Serves `rows` (`id,host,model,credentials,protocol,sim_fault` lines).
    fn start(rows: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let creds = common::office_credentials(dir.path().join("credentials.toml"), USER, PASS);
        let journal = dir.path().join("journal.log");
        let sim = Simulate::start_with(
            &format!("id,host,model,credentials,protocol,sim_fault\n{rows}"),
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

    /// How many journal lines say `<id> <command>`.
    fn journaled(&self, id: &str, command: &str) -> usize {
        std::fs::read_to_string(self.journal())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split(' ').skip(1).collect::<Vec<_>>() == [id, command])
            .count()
    }
}

/// How python-kasa is told to reach each kind of device without discovery.
const SMART_KLAP: &[&str] = &["--port", "8080", "--type", "smart"];
const SMART_AES: &[&str] = &["--port", "8080", "--type", "smart", "-e", "AES"];
const IOT_KLAP: &[&str] = &[
    "--port",
    "8080",
    "-df",
    "IOT.SMARTPLUGSWITCH",
    "-e",
    "KLAP",
    "-lv",
    "1",
];

fn with_login<'a>(how: &[&'a str], password: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = how.to_vec();
    args.extend(["--username", USER, "--password", password]);
    args.extend(rest);
    args
}

fn kasa(host: IpAddr, how: &[&str], rest: &[&str]) -> Output {
    kasa_cmd(host, &with_login(how, PASS, rest), None)
}

fn kasa_ok(host: IpAddr, how: &[&str], rest: &[&str]) -> String {
    let out = kasa(host, how, rest);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("Raised error"), "{t}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sysinfo(host: IpAddr, how: &[&str]) -> Value {
    let out = kasa_ok(host, how, &["--json", "sysinfo"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn on_time(info: &Value) -> u64 {
    info["on_time"].as_u64().unwrap()
}

/// Watches `addr` from a thread until it has refused connections and then accepted one
/// again: `(went away, came back)`.
fn watch_restart(addr: SocketAddr) -> std::thread::JoinHandle<(bool, bool)> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut dark = false;
        while start.elapsed() < Duration::from_secs(15) {
            let up = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
            if !up {
                dark = true;
            } else if dark {
                return (true, true);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (dark, false)
    })
}

/// Whether `addr` refuses connections now and for the next two seconds.
fn stays_away(addr: SocketAddr) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// State, then a reboot (gone and back, relay kept, on-time restarted), then a confirmed
/// factory reset (gone for good), all through python-kasa, and both commands in the journal.
fn state_reboot_and_factory_reset(lab: &Lab, id: &str, host: IpAddr, how: &[&str], model: &str) {
    let addr = SocketAddr::new(host, PORT);
    let state = kasa_ok(host, how, &["state"]);
    assert!(state.contains(&format!("== {id} - {model} ==")), "{state}");
    assert!(state.contains(&format!("Port: {PORT}")), "{state}");

    kasa_ok(host, how, &["on"]);
    // 0.3 s is 30 s of device time.
    std::thread::sleep(Duration::from_millis(300));
    let before = sysinfo(host, how);
    assert!(on_time(&before) >= 20, "{before}");

    let watcher = watch_restart(addr);
    let out = kasa_ok(host, how, &["reboot", "--delay", "1"]);
    assert!(out.contains("Rebooting"), "{out}");
    let (dark, back) = watcher.join().unwrap();
    assert!(dark, "{id} never went away");
    assert!(back, "{id} never came back");
    let after = sysinfo(host, how);
    assert!(on_time(&after) < on_time(&before), "{after}");
    let relay = |v: &Value| v.get("device_on").or(v.get("relay_state")).cloned();
    assert_eq!(relay(&after), relay(&before), "the relay is kept");
    assert_eq!(lab.journaled(id, "reboot"), 1);

    let out = kasa_cmd(
        host,
        &with_login(how, PASS, &["device", "factory-reset"]),
        Some("y\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lab.journaled(id, "reset"), 1, "{}", text(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert!(stays_away(addr), "{id} still answers after a factory reset");
    let out = kasa(host, how, &["state"]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn kasa_reads_reboots_and_factory_resets_a_klap_v2_plug() {
    let host = ip(FILE, 1, 1);
    let lab = Lab::start(&format!("desk-lamp,{host}:{PORT},P110(UK),office,,\n"));
    state_reboot_and_factory_reset(&lab, "desk-lamp", host, SMART_KLAP, "P110");
}

#[test]
fn kasa_reads_reboots_and_factory_resets_an_iot_plug_over_klap_v1() {
    let host = ip(FILE, 2, 1);
    let lab = Lab::start(&format!("old-plug,{host}:{PORT},HS100(UK),office,klap,\n"));
    state_reboot_and_factory_reset(&lab, "old-plug", host, IOT_KLAP, "HS100");
    let out = kasa(host, IOT_KLAP, &["state"]);
    assert!(!out.status.success());
}

#[test]
fn kasa_reads_reboots_and_factory_resets_an_aes_plug() {
    let host = ip(FILE, 3, 1);
    let lab = Lab::start(&format!("hall-plug,{host}:{PORT},EP25(US),office,aes,\n"));
    state_reboot_and_factory_reset(&lab, "hall-plug", host, SMART_AES, "EP25");
}

#[test]
fn kasa_without_a_type_finds_klap_devices_by_discovery_on_their_own_port() {
    let (smart, iot) = (ip(FILE, 4, 1), ip(FILE, 4, 2));
    let _lab = Lab::start(&format!(
        "tapo,{smart}:{PORT},P115,office,,\nold,{iot}:{PORT},HS100(UK),office,klap,\n"
    ));
    // No --type and no --port: the 20002 reply says KLAP v2 on 8080.
    let out = kasa_cmd(
        smart,
        &[
            "--username",
            USER,
            "--password",
            PASS,
            "--discovery-timeout",
            "5",
            "sysinfo",
        ],
        None,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("'model': 'P115'") && t.contains("'nickname'"),
        "{t}"
    );
    // An IOT device's reply has no lv, so python-kasa uses KLAP v1 on its own.
    let out = kasa_cmd(
        iot,
        &[
            "--username",
            USER,
            "--password",
            PASS,
            "--discovery-timeout",
            "5",
            "sysinfo",
        ],
        None,
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("'hw_ver': '4.1'") && t.contains("'alias': 'old'"),
        "{t}"
    );
}

#[test]
fn kasa_switches_one_p300_outlet_by_child_index() {
    let host = ip(FILE, 5, 1);
    let _lab = Lab::start(&format!("rack-strip,{host}:{PORT},P300(EU),office,,\n"));
    let outlets = || -> Vec<bool> {
        let state: Value =
            serde_json::from_str(&kasa_ok(host, SMART_KLAP, &["--json", "state"])).unwrap();
        state["get_child_device_list"]["child_device_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["device_on"].as_bool().unwrap())
            .collect()
    };
    assert_eq!(outlets(), [true, true, true]);
    let out = kasa_ok(host, SMART_KLAP, &["off", "--child-index", "1"]);
    assert!(out.contains("Turning off rack-strip outlet 2"), "{out}");
    assert_eq!(outlets(), [true, false, true]);
    kasa_ok(host, SMART_KLAP, &["on", "--child-index", "1"]);
    assert_eq!(outlets(), [true, true, true]);
}

#[test]
fn a_wrong_password_is_python_kasas_authentication_error_and_the_devices_count_it() {
    let (k, a, i) = (ip(FILE, 6, 1), ip(FILE, 6, 2), ip(FILE, 6, 3));
    let lab = Lab::start(&format!(
        "k,{k}:{PORT},P110,office,,\na,{a}:{PORT},P100,office,aes,\ni,{i}:{PORT},HS100,office,klap,\n"
    ));
    let out = kasa_cmd(k, &with_login(SMART_KLAP, "wrong", &["state"]), None);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("Device response did not match our challenge"),
        "{t}"
    );
    let out = kasa_cmd(i, &with_login(IOT_KLAP, "wrong", &["state"]), None);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("Device response did not match our challenge"),
        "{t}"
    );
    // python-kasa checks a KLAP device's proof itself and never sends a wrong hash.
    assert_eq!(lab.journaled("k", "login_failed"), 0);
    assert_eq!(lab.journaled("i", "login_failed"), 0);

    let out = kasa_cmd(a, &with_login(SMART_AES, "wrong", &["state"]), None);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("LOGIN_ERROR(-1501)"), "{t}");
    // The given login, then python-kasa's Tapo default: two failures.
    assert_eq!(lab.journaled("a", "login_failed"), 2);
}

#[test]
fn kasa_sees_a_locked_out_aes_device_as_blocked_even_with_the_right_password() {
    let host = ip(FILE, 7, 1);
    let lab = Lab::start(&format!("locked,{host}:{PORT},P110,office,aes,lockout=1\n"));
    let out = kasa_cmd(host, &with_login(SMART_AES, "wrong", &["state"]), None);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("DEVICE_BLOCKED"), "{t}");
    let out = kasa(host, SMART_AES, &["state"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("DEVICE_BLOCKED"), "{t}");
    assert_eq!(lab.journaled("locked", "login_failed"), 1);
    assert_eq!(lab.journaled("locked", "login_refused"), 2);
}
