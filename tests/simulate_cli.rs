//! `fleetreset simulate` as a real binary: the listing, refusals, faults, and shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::ip;
use fleetreset::device::IotClient;
use fleetreset::protocol::iot::transport::Timeouts;

const FILE: u8 = 21;

fn simulate(dir: &tempfile::TempDir, csv: &str, extra: &[&str]) -> Output {
    let inv = dir.path().join("fleet.csv");
    std::fs::write(&inv, csv).unwrap();
    common::fleetreset()
        .current_dir(dir.path())
        .arg("simulate")
        .arg("fleet.csv")
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn rows_off_loopback_are_refused_with_file_and_line_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let a = ip(FILE, 1, 1);
    let out = simulate(
        &dir,
        &format!("id,host,model\nok,{a},HS100\nreal,192.168.1.20,HS100\nnamed,plug.local,HS103\n"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fleet.csv:3: real: host 192.168.1.20 is not on loopback"),
        "{err}"
    );
    assert!(
        err.contains("fleet.csv:4: named: host \"plug.local\" is a name"),
        "{err}"
    );
    assert!(err.contains("nothing was started"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unknown_fault_or_model_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ip(FILE, 2, 1), ip(FILE, 2, 2));
    let out = simulate(
        &dir,
        &format!("id,host,model,sim_fault\nx,{a},HS100,explode\ny,{b},ZZ9000,\n"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fleet.csv:2: x: sim_fault: unknown fault \"explode\""),
        "{err}"
    );
    assert!(
        err.contains("fleet.csv:3: y: no simulator profile for model \"ZZ9000\""),
        "{err}"
    );
}

#[test]
fn a_time_scale_of_zero_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate(
        &dir,
        &format!("id,host\nx,{}\n", ip(FILE, 3, 1)),
        &["--time-scale", "0"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time scale"));
}

#[test]
fn a_missing_inventory_is_named_in_the_error() {
    let out = common::fleetreset()
        .args(["simulate", "/nonexistent/fleet.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fleet.csv"));
}

#[tokio::test(flavor = "multi_thread")]
async fn it_lists_every_device_serves_them_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (ip(FILE, 4, 1), ip(FILE, 4, 2), ip(FILE, 4, 3));
    let inv = dir.path().join("fleet.csv");
    std::fs::write(
        &inv,
        format!(
            "id,host,model,sim_fault\nplug-1,{a},HS103(US),\nstrip-1,{b}:19999,KP303(UK),slow=10\ngone,{c},HS100,offline\n"
        ),
    )
    .unwrap();
    let mut child = common::fleetreset()
        .args(["simulate", "--time-scale", "0.01"])
        .arg(&inv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = common::KillOnDrop(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut listing = Vec::new();
    loop {
        let line = lines.next().expect("exited before ready").unwrap();
        let done = line.starts_with("simulating 3 device(s)");
        listing.push(line);
        if done {
            break;
        }
    }
    let listing = listing.join("\n");
    assert!(
        listing.contains(&format!("{a}:9999")) && listing.contains("plug-1"),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("{b}:19999")) && listing.contains("faults: slow=10"),
        "{listing}"
    );
    assert!(listing.contains("KP303(UK)"), "{listing}");
    assert!(
        listing.contains("offline, not listening  faults: offline"),
        "{listing}"
    );

    let quick = Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_secs(2),
    };
    let (info, _) = IotClient::new(std::net::SocketAddr::new(b, 19999), quick)
        .sysinfo()
        .await
        .unwrap();
    assert_eq!(info.model, "KP303(UK)");
    assert!(
        IotClient::new(std::net::SocketAddr::new(c, 9999), quick)
            .sysinfo()
            .await
            .is_err()
    );

    let pid = guard.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = guard.0.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut guard.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("simulator stopped"), "{stderr}");
}

#[test]
fn faults_that_contradict_or_escapes_that_mean_nothing_are_refused_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (ip(FILE, 5, 1), ip(FILE, 5, 2), ip(FILE, 5, 3));
    let out = simulate(
        &dir,
        &format!(
            "id,host,model,sim_fault\n\
             x,{a},HS100,leave_after=40;reset_stays\n\
             y,{b},HS103,reboot_never_returns;reboot_ignored\n\
             z,{c},HS110,reset_refused;err_msg=bad \\q escape\n"
        ),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "fleet.csv:2: x: sim_fault: leave_after and reset_stays contradict",
        "fleet.csv:3: y: sim_fault: reboot_ignored and reboot_never_returns contradict",
        "fleet.csv:4: z: sim_fault: err_msg: unknown escape `\\q`",
    ] {
        assert!(err.contains(expected), "{expected:?} not in {err}");
    }
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_err_msg_is_listed_escaped_and_served_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let a = ip(FILE, 6, 1);
    let fault = r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged\; succeeded\nnext";
    let inv = dir.path().join("fleet.csv");
    std::fs::write(
        &inv,
        format!("id,host,model,sim_fault\nliar,{a},HS103,{fault}\n"),
    )
    .unwrap();
    let mut child = common::fleetreset()
        .args(["simulate", "--time-scale", "0.01"])
        .arg(&inv)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = common::KillOnDrop(child);
    let mut listing = Vec::new();
    for line in BufReader::new(stdout).split(b'\n') {
        let line = line.unwrap();
        let done = line.starts_with(b"simulating ");
        listing.extend(line);
        listing.push(b'\n');
        if done {
            break;
        }
    }
    assert!(
        !listing.iter().any(|b| b.is_ascii_control() && *b != b'\n'),
        "the listing carries no control byte: {listing:?}"
    );
    let listing = String::from_utf8(listing).unwrap();
    assert!(
        listing.contains(&format!("liar  tcp+udp  faults: {fault}")),
        "{listing}"
    );

    let quick = Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_secs(2),
    };
    let err = IotClient::new(std::net::SocketAddr::new(a, 9999), quick)
        .factory_reset()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        fleetreset::device::DeviceError::Device {
            op: "reset",
            code: -3,
            msg: "\u{1b}[2J\u{1b}[H[ 9/9] forged; succeeded\nnext".into()
        }
    );
}
