//! The second client nobody here wrote: the Rust `tapo` crate (a dev-dependency pinned at
//! 0.12.2) against `fleetreset simulate`, over each protocol it speaks: TPAP (a P110 and a
//! P304M strip on 1.4.x-style firmware), KLAP (a P110 on older firmware) and, for cameras, AES
//! over TLS (a C210; tapo tries TPAP first and falls back) and TPAP over TLS (a C210 on TPAP
//! firmware, `tls` 1). It reads device info and reboots; the simulator's journal says what each
//! device got.
//!
//! Loopback plan: 127.65.x.y, one third octet per test.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::{Simulate, ip};
use tapo::ApiClient;

const FILE: u8 = 65;
const USER: &str = "owner@example.com";
const PASSWORD: &str = "tapo-interop-secret";

struct Lab {
    _sim: Simulate,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

/// Serves `rows` (after `id,host,model,mac,credentials,protocol,sim_fault`), every device bound
/// to USER / PASSWORD.
fn lab(rows: &str) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let creds = common::office_credentials(dir.path().join("creds.toml"), USER, PASSWORD);
    let journal = dir.path().join("journal.log");
    let csv = format!("id,host,model,mac,credentials,protocol,sim_fault\n{rows}");
    let sim = Simulate::start_with(
        &csv,
        &[
            "--credentials",
            creds.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--time-scale",
            "0.01",
        ],
    );
    Lab {
        _sim: sim,
        journal,
        _dir: dir,
    }
}

impl Lab {
    fn journaled(&self, id: &str, what: &str) -> usize {
        std::fs::read_to_string(&self.journal)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                let mut p = l.split_whitespace().skip(1);
                p.next() == Some(id) && p.next() == Some(what)
            })
            .count()
    }
}

fn client(password: &str) -> ApiClient {
    ApiClient::new(USER, password).with_timeout(Duration::from_secs(5))
}

fn at(host: IpAddr, port: u16) -> String {
    format!("{host}:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn tapo_logs_in_over_tpap_reads_a_p110_and_reboots_it_once() {
    let host = ip(FILE, 1, 1);
    let lab = lab(&format!(
        "plug,{host}:8080,P110(UK),48-22-54-01-00-01,office,tpap,\n"
    ));
    let plug = client(PASSWORD).p110(at(host, 8080)).await.unwrap();
    let info = plug.get_device_info().await.unwrap();
    assert_eq!(info.model, "P110");
    assert_eq!(info.mac, "48-22-54-01-00-01");
    assert_eq!(info.nickname, "plug");
    plug.device_reboot(1).await.unwrap();
    assert_eq!(lab.journaled("plug", "reboot"), 1);
    assert_eq!(lab.journaled("plug", "login_failed"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tapo_logs_in_over_tpap_to_a_p304m_strip_and_reboots_it_once() {
    let host = ip(FILE, 2, 1);
    let lab = lab(&format!(
        "strip,{host}:8080,P304M(UK),48-22-54-02-00-01,office,tpap,\n"
    ));
    let strip = client(PASSWORD).p304(at(host, 8080)).await.unwrap();
    let info = strip.get_device_info().await.unwrap();
    assert_eq!(info.model, "P304M");
    assert_eq!(info.mac, "48-22-54-02-00-01");
    strip.device_reboot(1).await.unwrap();
    assert_eq!(lab.journaled("strip", "reboot"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tapo_speaks_klap_to_a_p100_on_older_firmware_reads_it_and_reboots_it_once() {
    let host = ip(FILE, 3, 1);
    let lab = lab(&format!(
        "old,{host}:8080,P100(US),48-22-54-03-00-01,office,klap,\n"
    ));
    // tapo asks the TPAP discover first; older firmware's answer (1003) sends it to KLAP.
    let plug = client(PASSWORD).p100(at(host, 8080)).await.unwrap();
    let info = plug.get_device_info().await.unwrap();
    assert_eq!(info.mac, "48-22-54-03-00-01");
    plug.device_reboot(1).await.unwrap();
    assert_eq!(lab.journaled("old", "reboot"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tapo_logs_in_to_a_c210_camera_over_aes_and_reboots_it_once() {
    let host = ip(FILE, 4, 1);
    let lab = lab(&format!(
        "cam,{host}:8443,C210(EU),A8-42-A1-04-00-01,office,,\n"
    ));
    let cam = client(PASSWORD).c210(at(host, 8443)).await.unwrap();
    let info = cam.get_device_info().await.unwrap();
    assert_eq!(info.mac, "A8-42-A1-04-00-01");
    cam.device_reboot().await.unwrap();
    assert_eq!(lab.journaled("cam", "reboot"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tapo_logs_in_to_a_c210_on_tpap_firmware_over_tpap_with_tls_and_reboots_it_once() {
    let host = ip(FILE, 6, 1);
    let lab = lab(&format!(
        "cam,{host}:8443,C210(EU),A8-42-A1-06-00-01,office,tpap,\n"
    ));
    let cam = client(PASSWORD).c210(at(host, 8443)).await.unwrap();
    let info = cam.get_device_info().await.unwrap();
    assert_eq!(info.mac, "A8-42-A1-06-00-01");
    cam.device_reboot().await.unwrap();
    assert_eq!(lab.journaled("cam", "reboot"), 1);
    // One TPAP login, the first tapo tries, and it went through: no fallback to AES.
    assert_eq!(lab.journaled("cam", "login"), 1);
    assert_eq!(lab.journaled("cam", "login_failed"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tapo_with_a_wrong_password_is_refused_over_tpap_and_reboots_nothing() {
    let host = ip(FILE, 5, 1);
    let lab = lab(&format!(
        "plug,{host}:8080,P110(UK),48-22-54-05-00-01,office,tpap,\n"
    ));
    let Err(err) = client("not-the-password").p110(at(host, 8080)).await else {
        panic!("a wrong password is refused");
    };
    let shown = format!("{err:?}");
    assert!(
        shown.contains("TPAP_CREDENTIALS") || shown.contains("2203"),
        "{shown}"
    );
    assert_eq!(lab.journaled("plug", "login_failed"), 1, "{shown}");
    assert_eq!(lab.journaled("plug", "reboot"), 0);
}
