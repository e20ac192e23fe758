//! The simulator's power graph, without the engine: a device whose row's `power_via` names a
//! simulated strip outlet goes dark when that outlet is switched off and boots when it comes
//! back on, keeping its settings; the strip's other outlets and their devices are untouched.
//!
//! Loopback: 127.43.20.N.

mod common;

use std::time::{Duration, Instant};

use common::row;
use fleetreset::device::{DeviceClient, Link, ProtocolKind};
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::sim::server::Phase;
use fleetreset::sim::{self, Simulator};

/// 60 s of device boot time become 0.6 s.
const SCALE: f64 = 0.01;

const QUICK: Timeouts = Timeouts {
    connect: Duration::from_millis(500),
    request: Duration::from_millis(500),
};

fn client(ip: &str) -> DeviceClient {
    DeviceClient::new(Link {
        addr: format!("{ip}:9999").parse().unwrap(),
        protocol: ProtocolKind::Iot,
        credentials: None,
        timeouts: QUICK,
    })
}

async fn until(sim: &Simulator, ip: &str, phase: Phase) -> Duration {
    let t0 = Instant::now();
    let dev = sim.device(format!("{ip}:9999").parse().unwrap()).unwrap();
    while dev.phase() != phase {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{ip} never {phase:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t0.elapsed()
}

#[tokio::test]
async fn an_outlet_switched_off_darkens_only_the_device_behind_it_which_boots_when_it_is_back() {
    let strip = row("strip", "127.43.20.1".parse().unwrap(), "HS300(US)", None);
    let mut lamp = row("lamp", "127.43.20.2".parse().unwrap(), "KL130(US)", None);
    lamp.power_via = Some("strip#2".parse().unwrap());
    let mut other = row("other", "127.43.20.3".parse().unwrap(), "HS110(EU)", None);
    other.power_via = Some("strip#5".parse().unwrap());
    let sim = Simulator::start(sim::plan(&[strip, lamp, other]).unwrap(), SCALE)
        .await
        .unwrap();

    let mut strip = client("127.43.20.1");
    let info = strip.info().await.unwrap();
    let second = info.children[1].id.clone();
    let alias = client("127.43.20.2").info().await.unwrap().alias;

    strip.set_relay(false, Some(&second)).await.unwrap();
    until(&sim, "127.43.20.2", Phase::Dark).await;
    assert!(
        client("127.43.20.2").info().await.is_err(),
        "a dark device answers nothing"
    );
    let now = strip.info().await.unwrap();
    let states: Vec<_> = now.children.iter().map(|c| c.on).collect();
    assert_eq!(
        states,
        [
            Some(true),
            Some(false),
            Some(true),
            Some(true),
            Some(true),
            Some(true)
        ]
    );
    assert_eq!(
        sim.device("127.43.20.3:9999".parse().unwrap())
            .unwrap()
            .phase(),
        Phase::Online,
        "the device on outlet 5 keeps its power"
    );

    strip.set_relay(true, Some(&second)).await.unwrap();
    let booted = until(&sim, "127.43.20.2", Phase::Online).await;
    // It boots for its boot time (60 s of device time) before it answers.
    assert!(
        booted >= Duration::from_millis(500),
        "back after {booted:?}"
    );
    let back = client("127.43.20.2").info().await.unwrap();
    assert_eq!(back.alias, alias, "settings kept");
    sim.shutdown().await;
}

#[tokio::test]
async fn power_cut_during_the_boot_keeps_the_device_dark() {
    let strip = row("strip", "127.43.20.11".parse().unwrap(), "KP303(UK)", None);
    let mut plug = row("plug", "127.43.20.12".parse().unwrap(), "HS110(EU)", None);
    plug.power_via = Some("strip#1".parse().unwrap());
    let sim = Simulator::start(sim::plan(&[strip, plug]).unwrap(), SCALE)
        .await
        .unwrap();
    let mut strip = client("127.43.20.11");
    let first = strip.info().await.unwrap().children[0].id.clone();
    strip.set_relay(false, Some(&first)).await.unwrap();
    until(&sim, "127.43.20.12", Phase::Dark).await;
    strip.set_relay(true, Some(&first)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    strip.set_relay(false, Some(&first)).await.unwrap();
    // Longer than the boot time: a device whose power went again never finished booting.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        sim.device("127.43.20.12:9999".parse().unwrap())
            .unwrap()
            .phase(),
        Phase::Dark
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_plug_captured_off_that_powers_a_row_starts_on_so_the_device_behind_it_answers() {
    // The HS103 capture has its relay off; a plug the inventory says powers a device is on.
    let plug = row("plug", "127.43.21.1".parse().unwrap(), "HS103(US)", None);
    let lone = row("lone", "127.43.21.3".parse().unwrap(), "HS103(US)", None);
    let mut lamp = row("lamp", "127.43.21.2".parse().unwrap(), "KL130(US)", None);
    lamp.power_via = Some("plug".parse().unwrap());
    let sim = Simulator::start(sim::plan(&[plug, lamp, lone]).unwrap(), SCALE)
        .await
        .unwrap();
    let dev = sim.device("127.43.21.2:9999".parse().unwrap()).unwrap();
    assert_eq!(dev.phase(), Phase::Online);
    assert!(client("127.43.21.2").info().await.is_ok());
    let on = client("127.43.21.1").info().await.unwrap().relay_on;
    assert_eq!(on, Some(true));
    // A plug that powers nothing keeps the capture's state.
    let on = client("127.43.21.3").info().await.unwrap().relay_on;
    assert_eq!(on, Some(false));
}
