//! Our IOT client against the simulator on loopback: every operation, every fault mode.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{addr, ip, row};
use fleetreset::device::{Ack, DeviceClient, DeviceError, IotClient, Link, ProtocolKind};
use fleetreset::inventory::Device;
use fleetreset::protocol::iot::codec;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::sim::server::Phase;
use fleetreset::sim::{self, Journal, Simulator};

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

/// A simulator that journals every disruptive command its devices accept.
struct Journaled {
    sim: Simulator,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

impl Journaled {
    async fn start(rows: Vec<Device>) -> Journaled {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.log");
        let sim = Simulator::start_with(
            sim::plan(&rows).unwrap(),
            SCALE,
            Some(Arc::new(Journal::open(&journal).unwrap())),
        )
        .await
        .unwrap();
        Journaled {
            sim,
            journal,
            _dir: dir,
        }
    }

    /// How many journal lines say `<id> <command>`.
    fn journaled(&self, id: &str, command: &str) -> usize {
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        text.lines()
            .filter(|l| l.split(' ').skip(1).collect::<Vec<_>>() == [id, command])
            .count()
    }

    fn boots(&self, addr: SocketAddr) -> u32 {
        self.sim.device(addr).unwrap().state.lock().unwrap().boots
    }

    fn phase(&self, addr: SocketAddr) -> Phase {
        self.sim.device(addr).unwrap().phase()
    }
}

/// The project's own client for an XOR device.
fn device_client(addr: SocketAddr) -> DeviceClient {
    DeviceClient::new(Link {
        addr,
        protocol: ProtocolKind::Iot,
        credentials: None,
        timeouts: QUICK,
    })
}

/// The sysinfo a UDP discovery datagram gets back, or `None` after a second of silence.
async fn udp_sysinfo(addr: SocketAddr) -> Option<serde_json::Value> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let probe = codec::encrypt(br#"{"system":{"get_sysinfo":{}}}"#);
    sock.send_to(&probe, addr).await.unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&codec::decrypt(&buf[..n])).unwrap();
    Some(reply["system"]["get_sysinfo"].clone())
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
    assert_eq!(err.reason().as_str(), "unreachable");

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
    assert_eq!(err.reason().as_str(), "device_error");
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
async fn a_leave_after_device_serves_on_unchanged_after_a_reset_then_leaves_for_good() {
    // 200 device seconds are 2 s here.
    let lab = Journaled::start(vec![row(
        "late",
        ip(FILE, 18, 1),
        "HS103",
        Some("leave_after=200"),
    )])
    .await;
    let a = addr(FILE, 18, 1);
    let mut c = device_client(a);
    c.set_relay(true, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = c.info().await.unwrap();
    assert_eq!(before.bound, Some(true));

    let sent = Instant::now();
    assert_eq!(c.factory_reset().await.unwrap(), Ack::Acknowledged);
    assert_eq!(lab.journaled("late", "reset"), 1, "journaled at once");
    // 50 device seconds on: well past the command's own delay, well before it leaves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = c.info().await.expect("the same connection still serves");
    assert_eq!(
        (during.bound, during.relay_on, during.alias.as_str()),
        (Some(true), Some(true), before.alias.as_str()),
        "settings, account and relay are kept"
    );
    let (was, is) = (before.on_time.unwrap(), during.on_time.unwrap());
    assert!(
        is >= was + 40,
        "the on-time runs on unbroken: {was} then {is}"
    );
    assert_eq!(
        udp_sysinfo(a).await.expect("discovery is answered")["on_time"]
            .as_u64()
            .map(|t| t >= is),
        Some(true)
    );
    assert_eq!((lab.phase(a), lab.boots(a)), (Phase::Online, 0));

    let gone_after = loop {
        if c.info().await.is_err() {
            break sent.elapsed();
        }
        assert!(sent.elapsed() < Duration::from_secs(8), "never left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        gone_after >= Duration::from_secs(2),
        "left after {gone_after:?}, before its 200 device seconds"
    );
    assert_eq!(lab.phase(a), Phase::Gone);
    let err = device_client(a).info().await.unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable { .. }), "{err:?}");
    assert!(udp_sysinfo(a).await.is_none(), "discovery goes silent");
    assert_eq!(lab.journaled("late", "reset"), 1, "exactly one reset");
    lab.sim.shutdown().await;
}

#[tokio::test]
async fn an_ignored_reboot_is_acknowledged_and_journaled_and_the_device_never_goes_dark() {
    let lab = Journaled::start(vec![row(
        "deaf",
        ip(FILE, 19, 1),
        "HS110",
        Some("reboot_ignored"),
    )])
    .await;
    let a = addr(FILE, 19, 1);
    let mut c = device_client(a);
    c.set_relay(true, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = c.info().await.unwrap();
    assert_eq!(c.reboot().await.unwrap(), Ack::Acknowledged);
    assert_eq!(lab.journaled("deaf", "reboot"), 1);
    // A real reboot is dark from 10 ms to 610 ms here; ask all through that and past it.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        c.info().await.expect("the device never goes dark");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = c.info().await.unwrap();
    let (was, is) = (before.on_time.unwrap(), after.on_time.unwrap());
    assert!(
        is >= was + 80,
        "the on-time grew, not reset: {was} then {is}"
    );
    assert_eq!(after.relay_on, Some(true));
    assert_eq!((lab.phase(a), lab.boots(a)), (Phase::Online, 0));
    lab.sim.shutdown().await;
}

#[tokio::test]
async fn err_msg_is_the_refusals_text_byte_for_byte_escapes_and_all() {
    let lab = Journaled::start(vec![row(
        "liar",
        ip(FILE, 20, 1),
        "KP125",
        Some(r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged succeeded\nnext"),
    )])
    .await;
    let a = addr(FILE, 20, 1);
    let mut c = device_client(a);
    match c.factory_reset().await.unwrap_err() {
        DeviceError::Device { op, code, msg } => {
            assert_eq!((op, code), ("reset", -3));
            assert_eq!(
                msg.as_bytes(),
                b"\x1b[2J\x1b[H[ 9/9] forged succeeded\nnext",
                "{msg:?}"
            );
        }
        other => panic!("expected the device's refusal, got {other:?}"),
    }
    assert_eq!(lab.journaled("liar", "reset"), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(c.info().await.is_ok(), "a refused reset leaves it serving");
    lab.sim.shutdown().await;
}

#[tokio::test]
async fn a_row_given_anothers_mac_answers_with_it_over_tcp_and_udp_discovery() {
    const SHARED: &str = "50:C7:BF:00:21:01";
    let mut first = row("first", ip(FILE, 21, 1), "HS103", None);
    first.mac = Some(SHARED.parse().unwrap());
    let mut twin = row(
        "twin",
        ip(FILE, 21, 2),
        "KP303",
        Some(&format!("mac={SHARED}")),
    );
    twin.mac = Some("50:C7:BF:00:21:02".parse().unwrap());
    let sim = start(vec![first, twin]).await;
    for a in [addr(FILE, 21, 1), addr(FILE, 21, 2)] {
        assert_eq!(device_client(a).info().await.unwrap().mac, SHARED, "{a}");
        let discovered = udp_sysinfo(a).await.expect("discovery is answered");
        assert_eq!(discovered["mac"], SHARED, "{a}");
    }
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

#[tokio::test]
async fn a_pinned_command_never_goes_on_a_new_connection_when_the_checked_one_has_ended() {
    let lab = Journaled::start(vec![row("pinned", ip(FILE, 22, 1), "HS110", None)]).await;
    let a = addr(FILE, 22, 1);
    // The identity is read on this client's connection.
    let mut checked = device_client(a);
    checked.info().await.unwrap();
    // Meanwhile the device reboots: it drops every connection while it is dark.
    let boots = lab.boots(a);
    assert_eq!(device_client(a).reboot().await.unwrap(), Ack::Acknowledged);
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.boots(a) == boots || lab.phase(a) != Phase::Online {
        assert!(Instant::now() < deadline, "the device did not come back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    checked.pin();
    let err = checked.factory_reset().await.unwrap_err();
    assert!(
        matches!(err, DeviceError::NotSent { op: "reset" }),
        "{err:?}"
    );
    assert_eq!(
        lab.journaled("pinned", "reset"),
        0,
        "the reset reached the device"
    );

    // Read and pinned on a live connection, the same command goes through, once.
    let mut fresh = device_client(a);
    fresh.info().await.unwrap();
    fresh.pin();
    assert_eq!(fresh.factory_reset().await.unwrap(), Ack::Acknowledged);
    assert_eq!(lab.journaled("pinned", "reset"), 1);
    lab.sim.shutdown().await;
}
