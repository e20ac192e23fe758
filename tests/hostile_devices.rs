//! Devices that answer wrongly on purpose: our client must end each exchange with the right
//! typed error and a message that names the problem, without panicking, and the simulator must
//! keep serving everyone else. Then a whole `fleetreset run` over a fleet of them.
//!
//! Loopback plan: 127.25.x.y, one third octet per test.

mod common;

use fleetreset::model::EventKind;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use common::{Simulate, addr, ip, row, text};
use fleetreset::device::{DeviceError, IotClient};
use fleetreset::model::{Outcome, Reason};
use fleetreset::protocol::iot::codec;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::sim::server::Phase;
use fleetreset::sim::{self, Simulator};
use fleetreset::store::Db;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FILE: u8 = 25;
/// 60 s of device boot time become 0.6 s.
const SCALE: f64 = 0.01;
/// For the devices that must time out: short, to keep those tests quick. Load can only make
/// them time out sooner, not answer.
const HOSTILE: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    request: Duration::from_secs(2),
};
/// For every device expected to answer (wrongly or rightly): patient, since a shared machine
/// can stall, and an answer that took long must not turn into a timeout.
const PATIENT: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    request: Duration::from_secs(10),
};

// ----- panics in any task of a test -------------------------------------------------------

/// Names of the threads that panicked. `#[tokio::test]` runs the test and every task it (or
/// the simulator) spawns on one thread named after the test, so a panic in a simulator
/// connection task, which tokio would otherwise swallow, is seen by the test that caused it.
static PANICKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_string();
            PANICKED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(name);
            default(info);
        }));
    });
}

fn assert_no_panic_on_this_thread() {
    let me = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    let panicked = PANICKED.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        !panicked.contains(&me),
        "a task of {me} panicked (see the panic message above)"
    );
}

// ----- helpers ------------------------------------------------------------------------------

/// A simulator with one hostile device (`.1`, with `fault`) and one healthy one (`.2`) in the
/// test's own /24.
async fn start(test: u8, fault: &str) -> Simulator {
    watch_panics();
    let rows = vec![
        row("hostile", ip(FILE, test, 1), "HS110(EU)", Some(fault)),
        row("healthy", ip(FILE, test, 2), "HS103(US)", None),
    ];
    Simulator::start(sim::plan(&rows).unwrap(), SCALE)
        .await
        .unwrap()
}

/// One sysinfo from a fresh client, with how long it took.
async fn sysinfo_error(a: SocketAddr, timeouts: Timeouts) -> (DeviceError, Duration) {
    let started = Instant::now();
    let err = IotClient::new(a, timeouts)
        .sysinfo()
        .await
        .expect_err("a hostile device must not yield a sysinfo");
    (err, started.elapsed())
}

/// The malformed reply's detail, or a failure naming what came instead.
fn malformed_detail(err: &DeviceError) -> &str {
    match err {
        DeviceError::Malformed {
            op: "get_sysinfo",
            detail,
        } => detail,
        other => panic!("expected Malformed from get_sysinfo, got {other:?}"),
    }
}

fn assert_timeout(err: &DeviceError) {
    assert_eq!(
        *err,
        DeviceError::Timeout {
            op: "get_sysinfo",
            after: HOSTILE.request
        }
    );
    assert!(err.to_string().contains("timed out after 2s"), "{err}");
    assert_eq!(err.reason().as_str(), "timeout");
}

/// The healthy neighbour still answers, the hostile device still accepts connections (it
/// stays hostile, not dead), and nothing panicked.
async fn assert_still_serving(sim: Simulator, test: u8) {
    let (info, _) = IotClient::new(addr(FILE, test, 2), PATIENT)
        .sysinfo()
        .await
        .expect("the healthy device answers after its neighbour misbehaved");
    assert_eq!(info.alias, "healthy");
    let hostile = addr(FILE, test, 1);
    assert_eq!(sim.device(hostile).unwrap().phase(), Phase::Online);
    TcpStream::connect(hostile)
        .await
        .expect("the hostile device still accepts connections");
    sim.shutdown().await;
    assert_no_panic_on_this_thread();
}

/// Sends a raw reboot request on a fresh connection and reads until the device closes it.
/// Returns what was read and whether the close came (rather than `limit` passing).
async fn raw_reboot_then_read_until_closed(a: SocketAddr, limit: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(&codec::encode_frame(
        br#"{"system":{"reboot":{"delay":1}}}"#,
    ))
    .await
    .unwrap();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (got, closed)
}

/// Waits (generously) until the simulated device has booted `boots` times and is online.
async fn wait_for_boot(sim: &Simulator, a: SocketAddr, boots: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dev = sim.device(a).unwrap();
        let booted = dev.state.lock().unwrap().boots;
        if booted >= boots && dev.phase() == Phase::Online {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the device did not come back from its reboot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ----- one hostile device per test ----------------------------------------------------------

#[tokio::test]
async fn garbage_bytes_are_a_malformed_reply_that_says_not_json() {
    let sim = start(1, "garbage").await;
    let (err, _) = sysinfo_error(addr(FILE, 1, 1), PATIENT).await;
    let detail = malformed_detail(&err);
    assert!(detail.starts_with("reply is not JSON: "), "{detail}");
    assert!(err.to_string().contains("malformed reply"), "{err}");
    assert_eq!(err.reason().as_str(), "device_error");
    assert!(!err.is_retryable());
    assert_still_serving(sim, 1).await;
}

#[tokio::test]
async fn an_oversized_length_prefix_is_malformed_and_names_the_length_and_the_limit() {
    let sim = start(2, "oversized").await;
    let (err, elapsed) = sysinfo_error(addr(FILE, 2, 1), PATIENT).await;
    let detail = malformed_detail(&err);
    assert_eq!(
        detail,
        "reply length prefix announces 2147483647 bytes, over the 65536-byte limit"
    );
    // Refused on the prefix: no waiting for a body that never comes.
    assert!(elapsed < PATIENT.request, "took {elapsed:?}");
    assert_still_serving(sim, 2).await;
}

#[tokio::test]
async fn half_a_frame_then_silence_is_a_timeout_and_the_device_drops_it_when_it_goes_dark() {
    let sim = start(3, "half_frame").await;
    let a = addr(FILE, 3, 1);
    let (err, _) = sysinfo_error(a, HOSTILE).await;
    assert_timeout(&err);
    assert!(err.is_retryable());

    // The silence is an open connection, not a closed one: a raw client sees half a reply and
    // then nothing. A reboot request gets the same half reply; the device acts on it and, once
    // dark, drops the connection it was silent on.
    let (got, closed) = raw_reboot_then_read_until_closed(a, Duration::from_secs(20)).await;
    assert!(
        closed,
        "the silent connection was not dropped when the device went dark"
    );
    let announced = codec::frame_len(&got, usize::MAX).expect("a length prefix came") as usize;
    assert_eq!(
        got.len(),
        codec::HEADER_LEN + announced / 2,
        "the prefix and half the body"
    );
    wait_for_boot(&sim, a, 1).await;
    assert_still_serving(sim, 3).await;
}

#[tokio::test]
async fn one_byte_per_second_times_out_long_before_the_whole_reply() {
    let sim = start(4, "trickle").await;
    let a = addr(FILE, 4, 1);
    let (err, elapsed) = sysinfo_error(a, HOSTILE).await;
    assert_timeout(&err);
    // The sysinfo reply is several hundred bytes, so several hundred seconds at this pace;
    // the client gives up at its request timeout. 60 s is a generous bound for a busy machine.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");

    // Once the device goes dark it stops trickling and drops the connection.
    let (got, closed) = raw_reboot_then_read_until_closed(a, Duration::from_secs(20)).await;
    assert!(
        closed,
        "the trickling connection was not dropped when the device went dark"
    );
    assert!(got.len() < 10, "{} bytes trickled out", got.len());
    wait_for_boot(&sim, a, 1).await;
    assert_still_serving(sim, 4).await;
}

#[tokio::test]
async fn invalid_json_is_a_malformed_reply_that_says_not_json() {
    let sim = start(5, "invalid_json").await;
    let (err, _) = sysinfo_error(addr(FILE, 5, 1), PATIENT).await;
    let detail = malformed_detail(&err);
    assert!(
        detail.starts_with("reply is not JSON: EOF while parsing"),
        "{detail}"
    );
    assert_eq!(err.reason().as_str(), "device_error");
    assert_still_serving(sim, 5).await;
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_malformed_reply_naming_the_field() {
    let sim = start(6, "wrong_shape").await;
    let a = addr(FILE, 6, 1);
    let (err, _) = sysinfo_error(a, PATIENT).await;
    assert_eq!(
        malformed_detail(&err),
        "reply has the wrong shape: system.get_sysinfo is not an object"
    );
    // Every method gets the same treatment, the cloud binding too.
    let err = IotClient::new(a, PATIENT).cloud_info().await.unwrap_err();
    assert_eq!(
        err,
        DeviceError::Malformed {
            op: "cloud get_info",
            detail: "reply has the wrong shape: cnCloud.get_info is not an object".into()
        }
    );
    assert_still_serving(sim, 6).await;
}

#[tokio::test]
async fn a_reply_a_megabyte_long_is_malformed_and_names_its_length() {
    let sim = start(7, "huge_reply").await;
    let (err, elapsed) = sysinfo_error(addr(FILE, 7, 1), PATIENT).await;
    let detail = malformed_detail(&err);
    let len: usize = detail
        .strip_prefix("reply length prefix announces ")
        .and_then(|rest| rest.strip_suffix(" bytes, over the 65536-byte limit"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the detail names no length: {detail}"));
    assert!(
        (1 << 20..(1 << 20) + 64 * 1024).contains(&len),
        "a 1 MiB padded reply announces {len}"
    );
    assert!(elapsed < PATIENT.request, "took {elapsed:?}");
    assert_still_serving(sim, 7).await;
}

// ----- the whole CLI over a hostile fleet ---------------------------------------------------

/// Each hostile device's id, its fault, and the reason and words its failure must carry.
const HOSTILE_FLEET: [(&str, &str, Reason, &str); 7] = [
    (
        "garbage",
        "garbage",
        Reason::DeviceError,
        "reply is not JSON",
    ),
    (
        "oversized",
        "oversized",
        Reason::DeviceError,
        "announces 2147483647 bytes, over the 65536-byte limit",
    ),
    ("half", "half_frame", Reason::Timeout, "timed out after 1s"),
    ("trickle", "trickle", Reason::Timeout, "timed out after 1s"),
    (
        "badjson",
        "invalid_json",
        Reason::DeviceError,
        "reply is not JSON: EOF while parsing",
    ),
    (
        "shape",
        "wrong_shape",
        Reason::DeviceError,
        "wrong shape: system.get_sysinfo is not an object",
    ),
    (
        "huge",
        "huge_reply",
        Reason::DeviceError,
        "over the 65536-byte limit",
    ),
];

fn fleetreset(dir: &Path, args: &[&str]) -> Output {
    common::fleetreset()
        .current_dir(dir)
        .args(args)
        .env_remove("FLEETRESET_LOG")
        .output()
        .unwrap()
}

#[test]
fn a_power_cycle_over_a_hostile_fleet_fails_each_hostile_device_alone_and_reboots_the_rest() {
    let mut csv = String::from("id,host,model,sim_fault\n");
    for (i, (id, fault, _, _)) in HOSTILE_FLEET.iter().enumerate() {
        csv.push_str(&format!(
            "{id},{},HS110(EU),{fault}\n",
            ip(FILE, 8, i as u8 + 1)
        ));
    }
    csv.push_str(&format!("well-1,{},HS103(US),\n", ip(FILE, 8, 101)));
    csv.push_str(&format!("well-2,{},KP303(US),\n", ip(FILE, 8, 102)));
    let _sim = Simulate::start(&csv);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), &csv).unwrap();
    let out = fleetreset(
        dir.path(),
        &[
            &[
                "run",
                "fleet.csv",
                "--action",
                "power-cycle",
                "--db",
                "audit.db",
            ],
            common::REHEARSAL,
        ]
        .concat(),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(!t.contains("panicked"), "{t}");

    let db = Db::open(&dir.path().join("audit.db")).unwrap();
    let rec = db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap();
    assert_eq!(rec.jobs.len(), HOSTILE_FLEET.len() + 2);
    let jobs: HashMap<&str, _> = rec.jobs.iter().map(|j| (j.device_id.as_str(), j)).collect();
    for (id, fault, reason, words) in HOSTILE_FLEET {
        let job = jobs[id];
        let detail = job.detail.as_deref().unwrap_or("");
        assert_eq!(
            (job.outcome, job.reason),
            (Some(Outcome::Failed), Some(reason)),
            "{id} ({fault}): {detail}"
        );
        assert!(detail.contains(words), "{id} ({fault}): {detail}");
        // Summary lines name the device and its problem too.
        assert!(
            t.contains(&format!("  {id} (")),
            "{id} missing from the summary: {t}"
        );
    }
    for id in ["well-1", "well-2"] {
        let job = jobs[id];
        assert_eq!(
            (job.outcome, job.reason),
            (Some(Outcome::Succeeded), None),
            "{id}: {:?}",
            job.detail
        );
    }
    // Exactly one outcome per job: one `outcome` event each, and every job has its row's.
    for job in &rec.jobs {
        assert!(
            job.outcome.is_some() && job.finished_at.is_some(),
            "{job:?}"
        );
        let outcomes = rec
            .events
            .iter()
            .filter(|e| {
                e.kind == EventKind::Outcome && e.device_id.as_deref() == Some(&job.device_id)
            })
            .count();
        assert_eq!(
            outcomes, 1,
            "{} has {outcomes} outcome events",
            job.device_id
        );
    }
    // Nothing disruptive reached a hostile device: no intent was recorded for any of them.
    for (id, ..) in HOSTILE_FLEET {
        assert!(
            !rec.events
                .iter()
                .any(|e| e.kind == EventKind::Intent && e.device_id.as_deref() == Some(id)),
            "an intent was recorded for {id}"
        );
    }
}
