//! The simulator's shared listeners: one socket per port for a whole fleet on loopback, each
//! connection and datagram served by the device at the address it reached.
//!
//! Every test uses 127.60.T.N and a port of its own (199TT): a shared socket holds its port
//! on every loopback address, so two tests (or a per-device simulator) on one port collide.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kasa::kasa_cmd;
use common::{Simulate, text};
use fleetreset::device::IotClient;
use fleetreset::inventory::Device;
use fleetreset::model::Outcome;
use fleetreset::protocol::iot::codec;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::sim::server::Phase;
use fleetreset::sim::{self, Journal, ListenMode, Listeners, Simulator, StartOptions};
use fleetreset::store::Db;

const FILE: u8 = 60;
/// 60 s of device boot time become 0.6 s.
const SCALE: f64 = 0.01;
const QUICK: Timeouts = Timeouts {
    connect: Duration::from_millis(500),
    request: Duration::from_millis(500),
};

fn ip(test: u8, n: u8) -> IpAddr {
    common::ip(FILE, test, n)
}

/// The port of test `test`.
fn port(test: u8) -> u16 {
    19900 + u16::from(test)
}

fn at(test: u8, n: u8) -> SocketAddr {
    SocketAddr::new(ip(test, n), port(test))
}

fn mac(test: u8, n: u8) -> String {
    format!("50:C7:BF:3C:{test:02X}:{n:02X}")
}

/// HS103 plugs `plug-N` at `127.60.test.N:199TT` for N in `1..=n`, each with its own MAC.
fn rows(test: u8, n: u8) -> Vec<Device> {
    (1..=n)
        .map(|i| {
            let mut d = common::row(&format!("plug-{i}"), ip(test, i), "HS103(US)", None);
            d.host.port = Some(port(test));
            d.mac = Some(mac(test, i).parse().unwrap());
            d
        })
        .collect()
}

/// The same plugs as an inventory file's text.
fn csv(test: u8, n: u8) -> String {
    let mut csv = String::from("id,host,model,mac\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "plug-{i},{},HS103(US),{}\n",
            at(test, i),
            mac(test, i)
        ));
    }
    csv
}

async fn start(rows: &[Device], listeners: Listeners, journal: Option<&Path>) -> Simulator {
    let options = StartOptions {
        journal: journal.map(|p| Arc::new(Journal::open(p).unwrap())),
        listeners,
    };
    Simulator::start_options(sim::plan(rows).unwrap(), SCALE, options)
        .await
        .unwrap()
}

/// How many journal lines say `<id> <command>`.
fn journaled(journal: &Path, id: &str, command: &str) -> usize {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .filter(|l| l.split(' ').skip(1).collect::<Vec<_>>() == [id, command])
        .count()
}

/// The reply to a UDP `get_sysinfo` sent to `to`, with the address it came from; `None`
/// after a second of silence.
async fn udp_sysinfo(to: SocketAddr) -> Option<(SocketAddr, serde_json::Value)> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let probe = codec::encrypt(br#"{"system":{"get_sysinfo":{}}}"#);
    sock.send_to(&probe, to).await.unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&codec::decrypt(&buf[..n])).unwrap();
    Some((from, reply["system"]["get_sysinfo"].clone()))
}

/// Listening TCP sockets and bound UDP sockets on `port`, from `/proc/net/{tcp,udp}`.
fn sockets_on(port: u16) -> (usize, usize) {
    let count = |table: &str, listening_only: bool| {
        std::fs::read_to_string(table)
            .unwrap()
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let local_port = f[1].rsplit(':').next().unwrap();
                u16::from_str_radix(local_port, 16).unwrap() == port
                    && (!listening_only || f[3] == "0A")
            })
            .count()
    };
    (count("/proc/net/tcp", true), count("/proc/net/udp", false))
}

async fn wait_for(limit: Duration, mut what: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if what().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn shared_listeners_answer_each_address_as_its_own_device_over_tcp_and_udp() {
    let sim = start(&rows(1, 3), Listeners::Shared, None).await;
    assert_eq!(sim.listen_mode(), ListenMode::Shared);
    assert_eq!(sim.sockets(), 2, "one TCP listener and one UDP socket");
    for n in 1..=3 {
        let (info, _) = IotClient::new(at(1, n), QUICK).sysinfo().await.unwrap();
        assert_eq!(info.alias, format!("plug-{n}"));
        assert_eq!(info.mac, mac(1, n));
        let (from, sys) = udp_sysinfo(at(1, n)).await.expect("a discovery reply");
        assert_eq!(from, at(1, n), "the reply comes from the address asked");
        assert_eq!(sys["mac"], mac(1, n));
    }
    // An address on the port that no row names: dropped, on TCP and UDP alike.
    assert!(IotClient::new(at(1, 9), QUICK).sysinfo().await.is_err());
    assert_eq!(udp_sysinfo(at(1, 9)).await, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reboot_under_shared_listeners_darkens_that_device_only_and_is_journaled_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.log");
    let sim = start(&rows(2, 2), Listeners::Shared, Some(&journal)).await;
    let (one, two) = (at(2, 1), at(2, 2));
    let mut c = IotClient::new(one, QUICK);
    c.sysinfo().await.unwrap();
    c.reboot(1).await.unwrap();
    let dev = sim.device(one).unwrap();
    assert!(
        wait_for(Duration::from_secs(3), async || dev.phase() == Phase::Dark).await,
        "the device went dark"
    );
    // Dark: the connection is accepted and reset, a datagram unanswered; the other serves on.
    let dark = IotClient::new(one, QUICK).sysinfo().await;
    assert!(dark.is_err(), "{dark:?}");
    assert_eq!(udp_sysinfo(one).await, None);
    let (info, _) = IotClient::new(two, QUICK).sysinfo().await.unwrap();
    assert_eq!(info.alias, "plug-2");
    assert_eq!(sim.device(two).unwrap().phase(), Phase::Online);
    // Back after its 0.6 s of boot time.
    assert!(
        wait_for(Duration::from_secs(5), async || IotClient::new(one, QUICK)
            .sysinfo()
            .await
            .is_ok())
        .await,
        "the device came back"
    );
    assert_eq!(dev.state.lock().unwrap().boots, 1);
    assert_eq!(journaled(&journal, "plug-1", "reboot"), 1);
    assert_eq!(journaled(&journal, "plug-2", "reboot"), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hundred_devices_share_two_sockets_where_their_own_would_be_two_hundred() {
    let shared = start(&rows(3, 100), Listeners::Shared, None).await;
    assert_eq!(sockets_on(port(3)), (1, 1));
    assert_eq!(shared.sockets(), 2);
    let (info, _) = IotClient::new(at(3, 100), QUICK).sysinfo().await.unwrap();
    assert_eq!(info.mac, mac(3, 100));
    shared.shutdown().await;

    // On a port of its own: a per-device bind on the port the shared listener held may find
    // one of its closing connections still there.
    let own = start(&rows(53, 100), Listeners::PerDevice, None).await;
    assert_eq!(own.listen_mode(), ListenMode::PerDevice);
    assert_eq!(sockets_on(port(53)), (100, 100));
    own.shutdown().await;
}

#[test]
fn python_kasa_reads_each_shared_listener_device_as_its_own() {
    let _sim = Simulate::start_with(&csv(4, 2), &["--shared-listeners"]);
    for n in 1..=2 {
        let out = kasa_cmd(
            ip(4, n),
            &["--port", &port(4).to_string(), "--type", "plug", "state"],
            None,
        );
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        assert!(t.contains(&format!("== plug-{n} - HS103 ==")), "{t}");
        assert!(t.contains(&mac(4, n)), "{t}");
    }
}

#[test]
fn a_power_cycle_run_against_shared_listeners_reboots_each_device_once() {
    let journal_dir = tempfile::tempdir().unwrap();
    let journal: PathBuf = journal_dir.path().join("journal.log");
    let inventory = csv(5, 20);
    let sim = Simulate::start_with(
        &inventory,
        &["--shared-listeners", "--journal", journal.to_str().unwrap()],
    );
    let _ = &sim;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), &inventory).unwrap();
    let mut args = vec!["run", "fleet.csv", "--action", "power-cycle"];
    args.extend_from_slice(common::REHEARSAL);
    let out = common::fleetreset()
        .current_dir(dir.path())
        .args(&args)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let db = Db::open(&dir.path().join("fleetreset.db")).unwrap();
    let run = db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap();
    assert_eq!(run.jobs.len(), 20);
    for job in &run.jobs {
        assert_eq!(job.outcome, Some(Outcome::Succeeded), "{}", job.device_id);
        assert_eq!(journaled(&journal, &job.device_id, "reboot"), 1);
    }
}

/// The listing `fleetreset simulate ARGS` prints before it serves, then stops it.
fn listing(csv: &str, args: &[&str]) -> String {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), csv).unwrap();
    let mut child = common::fleetreset()
        .current_dir(dir.path())
        .args(["simulate", "fleet.csv"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = common::KillOnDrop(child);
    let mut listing = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("simulating ");
        listing.push(line);
        if done {
            break;
        }
    }
    listing.join("\n")
}

#[test]
fn the_listing_says_which_listeners_the_simulator_uses() {
    let shared = listing(&csv(6, 3), &["--shared-listeners"]);
    assert!(
        shared.contains("\nlisteners: shared, one socket per port on lo (a dark device resets connections), 2 socket(s)\nsimulating 3 device(s)"),
        "{shared}"
    );
    let own = listing(&csv(56, 3), &[]);
    assert!(
        own.contains("\nlisteners: per device (a dark device refuses connections), 6 socket(s)\n"),
        "{own}"
    );
}
