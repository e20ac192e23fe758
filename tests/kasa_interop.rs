//! The reference client, python-kasa 0.12.0's `kasa` CLI, against `fleetreset simulate`.
//!
//! The first run installs it into a virtualenv under `target/tmp` (see `common::kasa`).

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::kasa::kasa_cmd;
use common::{Simulate, ip, text};
use fleetreset::device::IotClient;
use fleetreset::protocol::iot::transport::Timeouts;

const FILE: u8 = 22;

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
