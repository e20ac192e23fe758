//! Our IOT client against the simulator on loopback: every operation, every fault mode.

mod common;

use std::time::Duration;

use common::{addr, ip, row};
use fleetreset::device::{Ack, DeviceError, IotClient};
use fleetreset::inventory::Device;
use fleetreset::protocol::iot::codec;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::sim::{self, Simulator};

const FILE: u8 = 20;
/// 60 s of device boot time become 0.6 s.
const SCALE: f64 = 0.01;
const QUICK: Timeouts = Timeouts {
    connect: Duration::from_millis(500),
    request: Duration::from_millis(500),
};

async fn start(rows: Vec<Device>) -> Simulator {
    Simulator::start(sim::plan(&rows).unwrap(), SCALE)
        .await
        .unwrap()
}

/// Polls sysinfo until the device answers or `limit` passes.
async fn wait_until_answers(client: &mut IotClient, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if client.sysinfo().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn sysinfo_reports_model_alias_and_a_stable_mac() {
    let mut r = row("lobby-plug", ip(FILE, 1, 1), "HS110(EU)", None);
    r.mac = Some("50:C7:BF:12:34:56".parse().unwrap());
    let sim = start(vec![r]).await;
    let mut c = IotClient::new(addr(FILE, 1, 1), QUICK);
    let (info, raw) = c.sysinfo().await.unwrap();
    assert_eq!(info.model, "HS110(EU)");
    assert_eq!(info.alias, "lobby-plug");
    assert_eq!(info.mac, "50:C7:BF:12:34:56");
    assert_eq!(info.device_id.len(), 40);
    assert_eq!(raw["sw_ver"], "1.2.5 Build 171213 Rel.101523");
    // The same connection serves the next request.
    let (again, _) = c.sysinfo().await.unwrap();
    assert_eq!(again.device_id, info.device_id);
    sim.shutdown().await;
}

#[tokio::test]
async fn reboot_is_acknowledged_then_the_device_goes_dark_and_returns_with_on_time_reset() {
    let sim = start(vec![row("p", ip(FILE, 2, 1), "HS103", None)]).await;
    let a = addr(FILE, 2, 1);
    let mut c = IotClient::new(a, QUICK);
    c.set_relay(true, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // 30 device seconds
    let (before, _) = c.sysinfo().await.unwrap();
    assert!(before.on_time.unwrap() >= 20, "{:?}", before.on_time);

    assert_eq!(c.reboot(1).await.unwrap(), Ack::Acknowledged);
    // 1 s delay = 10 ms; then dark for 60 s = 0.6 s.
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The open connection was dropped by the reboot...
    let err = c.sysinfo().await.unwrap_err();
    assert!(matches!(err, DeviceError::ConnectionLost { .. }), "{err:?}");
    // ...and new ones are refused while it boots.
    let err = c.sysinfo().await.unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.reason(), "unreachable");

    assert!(
        wait_until_answers(&mut c, Duration::from_secs(5)).await,
        "never came back"
    );
    let (after, _) = c.sysinfo().await.unwrap();
    assert_eq!(after.relay_state, Some(1), "relay state kept");
    assert_eq!(after.alias, before.alias, "settings kept");
    assert!(
        after.on_time.unwrap() < before.on_time.unwrap(),
        "on_time reset"
    );
    assert_eq!(sim.device(a).unwrap().state.lock().unwrap().boots, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn factory_reset_is_acknowledged_then_the_device_leaves_the_network_for_good() {
    let sim = start(vec![row("p", ip(FILE, 3, 1), "EP25", None)]).await;
    let mut c = IotClient::new(addr(FILE, 3, 1), QUICK);
    assert_eq!(c.cloud_info().await.unwrap().binded, 1);
    assert_eq!(c.factory_reset().await.unwrap(), Ack::Acknowledged);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Well past any boot time, it is still gone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = IotClient::new(addr(FILE, 3, 1), QUICK)
        .sysinfo()
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable { .. }), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_plug_relay_switches_off_and_on() {
    let sim = start(vec![row("p", ip(FILE, 4, 1), "KP115", None)]).await;
    let mut c = IotClient::new(addr(FILE, 4, 1), QUICK);
    c.set_relay(false, None).await.unwrap();
    let (info, _) = c.sysinfo().await.unwrap();
    assert_eq!((info.relay_state, info.on_time), (Some(0), Some(0)));
    c.set_relay(true, None).await.unwrap();
    assert_eq!(c.sysinfo().await.unwrap().0.relay_state, Some(1));
    sim.shutdown().await;
}

#[tokio::test]
async fn one_strip_outlet_switches_alone() {
    let sim = start(vec![row("s", ip(FILE, 5, 1), "HS300", None)]).await;
    let mut c = IotClient::new(addr(FILE, 5, 1), QUICK);
    let (info, _) = c.sysinfo().await.unwrap();
    assert_eq!(info.children.len(), 6);
    assert!(
        info.children[2].id.starts_with(&info.device_id),
        "full child ids"
    );
    let target = info.children[2].id.clone();
    c.set_relay(false, Some(&target)).await.unwrap();
    let (after, _) = c.sysinfo().await.unwrap();
    for (i, child) in after.children.iter().enumerate() {
        let expected = if i == 2 { 0 } else { info.children[i].state };
        assert_eq!(child.state, expected, "outlet {i}");
    }
    let err = c.set_relay(false, Some("not-an-outlet")).await.unwrap_err();
    assert_eq!(
        err,
        DeviceError::Device {
            op: "set_relay_state",
            code: -14,
            msg: "entry not exist".into()
        }
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bulbs_reboot_through_their_own_system_namespace() {
    let sim = start(vec![row("b", ip(FILE, 6, 1), "KL130", None)]).await;
    let mut c = IotClient::new(addr(FILE, 6, 1), QUICK);
    let (info, _) = c.sysinfo().await.unwrap();
    assert!(info.is_bulb());
    assert_eq!(c.reboot(1).await.unwrap(), Ack::Acknowledged);
    assert!(wait_until_answers(&mut c, Duration::from_secs(5)).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_offline_device_is_unreachable() {
    let sim = start(vec![row("o", ip(FILE, 7, 1), "HS100", Some("offline"))]).await;
    let err = IotClient::new(addr(FILE, 7, 1), QUICK)
        .sysinfo()
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable { .. }), "{err:?}");
    assert!(!err.is_retryable());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_slow_device_times_out_and_a_patient_client_gets_the_reply() {
    let sim = start(vec![row("s", ip(FILE, 8, 1), "HS100", Some("slow=800"))]).await;
    let err = IotClient::new(addr(FILE, 8, 1), QUICK)
        .sysinfo()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DeviceError::Timeout {
                op: "get_sysinfo",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let patient = Timeouts {
        connect: QUICK.connect,
        request: Duration::from_secs(5),
    };
    assert!(
        IotClient::new(addr(FILE, 8, 1), patient)
            .sysinfo()
            .await
            .is_ok()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reply_dropped_midway_is_a_lost_connection_but_a_reboot_counts_as_sent() {
    let sim = start(vec![row(
        "d",
        ip(FILE, 9, 1),
        "HS105",
        Some("drop_mid_reply"),
    )])
    .await;
    let a = addr(FILE, 9, 1);
    let mut c = IotClient::new(a, QUICK);
    let err = c.sysinfo().await.unwrap_err();
    assert!(matches!(err, DeviceError::ConnectionLost { .. }), "{err:?}");
    match c.reboot(1).await.unwrap() {
        Ack::SentNoAck { detail } => assert!(detail.contains("connection lost"), "{detail}"),
        other => panic!("expected sent-no-ack, got {other:?}"),
    }
    // The command did arrive: the device reboots.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.device(a).unwrap().state.lock().unwrap().boots, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_replies_are_malformed() {
    let sim = start(vec![row("g", ip(FILE, 10, 1), "HS100", Some("garbage"))]).await;
    let err = IotClient::new(addr(FILE, 10, 1), QUICK)
        .sysinfo()
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("not JSON"), "{err}");
    assert_eq!(err.reason(), "device_error");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_oversized_length_prefix_is_refused_without_waiting_for_the_body() {
    let sim = start(vec![row("o", ip(FILE, 11, 1), "HS100", Some("oversized"))]).await;
    let mut c = IotClient::new(addr(FILE, 11, 1), QUICK);
    let err = c.sysinfo().await.unwrap_err();
    match &err {
        DeviceError::Malformed { detail, .. } => assert!(detail.contains("2147483647"), "{detail}"),
        other => panic!("expected malformed, got {other:?}"),
    }
    // A reset to such a device is not "sent, no ack": it answered, wrongly.
    assert!(matches!(
        c.factory_reset().await,
        Err(DeviceError::Malformed { .. })
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reboot_that_never_returns_stays_unreachable_past_the_boot_time() {
    let sim = start(vec![row(
        "n",
        ip(FILE, 12, 1),
        "HS200",
        Some("reboot_never_returns"),
    )])
    .await;
    let mut c = IotClient::new(addr(FILE, 12, 1), QUICK);
    assert_eq!(c.reboot(1).await.unwrap(), Ack::Acknowledged);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Boot time is 0.6 s here; give it three times that.
    assert!(!wait_until_answers(&mut c, Duration::from_secs(2)).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_reset_is_a_device_error_with_its_code_and_the_device_stays() {
    let sim = start(vec![row(
        "r",
        ip(FILE, 13, 1),
        "KP125",
        Some("reset_refused=-3"),
    )])
    .await;
    let mut c = IotClient::new(addr(FILE, 13, 1), QUICK);
    let err = c.factory_reset().await.unwrap_err();
    assert_eq!(
        err,
        DeviceError::Device {
            op: "reset",
            code: -3,
            msg: "reset refused".into()
        }
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(c.sysinfo().await.is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_device_with_another_mac_reports_it() {
    let mut r = row("m", ip(FILE, 14, 1), "HS220", Some("mac=B0:A7:B9:99:99:99"));
    r.mac = Some("B0:A7:B9:00:00:01".parse().unwrap());
    let sim = start(vec![r]).await;
    let (info, _) = IotClient::new(addr(FILE, 14, 1), QUICK)
        .sysinfo()
        .await
        .unwrap();
    assert_eq!(info.mac, "B0:A7:B9:99:99:99");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_simulator_keeps_serving_after_clients_misbehave() {
    use tokio::io::AsyncWriteExt;
    let sim = start(vec![row("k", ip(FILE, 15, 1), "KP303", None)]).await;
    let a = addr(FILE, 15, 1);
    for junk in [
        &b"\xff\xff\xff\xffjunk"[..],
        b"\x00\x00\x00\x05",
        &codec::encode_frame(b"{not json"),
    ] {
        let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
        s.write_all(junk).await.unwrap();
        drop(s);
    }
    let (info, _) = IotClient::new(a, QUICK).sysinfo().await.unwrap();
    assert_eq!(info.children.len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn udp_discovery_is_answered_from_the_port_it_was_sent_to() {
    let sim = start(vec![row("u", ip(FILE, 16, 1), "KP400", None)]).await;
    let a = addr(FILE, 16, 1);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let probe = codec::encrypt(br#"{"system":{"get_sysinfo":{}}}"#);
    sock.send_to(&probe, a).await.unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from, a);
    let reply: serde_json::Value = serde_json::from_slice(&codec::decrypt(&buf[..n])).unwrap();
    assert!(
        reply["system"]["get_sysinfo"]["model"]
            .as_str()
            .unwrap()
            .starts_with("KP400")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rows_off_loopback_are_refused_before_anything_listens() {
    let mut far = row("far", ip(FILE, 17, 1), "HS100", None);
    far.host.name = "192.168.1.20".into();
    far.line = 7;
    let mut named = row("named", ip(FILE, 17, 2), "HS100", None);
    named.host.name = "plug.local".into();
    named.line = 8;
    let problems = sim::plan(&[far, named]).unwrap_err();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].line, 7);
    assert!(
        problems[0].message.contains("not on loopback"),
        "{}",
        problems[0].message
    );
    assert_eq!(problems[1].line, 8);
}
