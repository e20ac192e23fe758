//! Our camera clients against the simulated cameras: a Tapo camera over SslAes and a Kasa
//! camera over LINKIE2 (a server offering only static-RSA suites over TLS 1.2), each read and
//! rebooted, with the simulator's journal as the evidence of what each received.
//!
//! Loopback plan: 127.42.x.y, one third octet per test (camera_interop uses 127.42.100+).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::row;
use fleetreset::credentials::{Credentials, Store};
use fleetreset::device::{Ack, DeviceClient, DeviceError, Link, ProtocolKind};
use fleetreset::inventory::Device;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::sim::server::Phase;
use fleetreset::sim::{self, Journal, Simulator};

/// 120 s of camera boot time become 1.2 s.
const SCALE: f64 = 0.01;
const TAPO_PORT: u16 = 8443;
const KASA_PORT: u16 = 10443;
const USER: &str = "owner@example.com";
const PASS: &str = "camera-secret";

fn ip(test: u8, n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 42, test, n))
}

fn camera_row(id: &str, ip: IpAddr, model: &str, port: u16, fault: Option<&str>) -> Device {
    let mut d = row(id, ip, model, fault);
    d.host.port = Some(port);
    d.credentials = Some("office".into());
    d
}

struct Lab {
    sim: Simulator,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

impl Lab {
    async fn start(rows: &[Device]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let creds = common::office_credentials(dir.path().join("credentials.toml"), USER, PASS);
        let store = Store::load(Some(&creds), true).unwrap();
        let journal = dir.path().join("journal.log");
        let specs = sim::plan_with(rows, &store).unwrap();
        let sim = Simulator::start_with(
            specs,
            SCALE,
            Some(Arc::new(Journal::open(&journal).unwrap())),
        )
        .await
        .unwrap();
        Lab {
            sim,
            journal,
            _dir: dir,
        }
    }

    fn journaled(&self, id: &str, what: &str) -> usize {
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        text.lines()
            .filter(|l| l.split(' ').skip(1).collect::<Vec<_>>() == [id, what])
            .count()
    }

    fn phase(&self, addr: SocketAddr) -> Phase {
        self.sim.device(addr).unwrap().phase()
    }

    fn boots(&self, addr: SocketAddr) -> u32 {
        self.sim.device(addr).unwrap().state.lock().unwrap().boots
    }
}

fn client(addr: SocketAddr, protocol: ProtocolKind, password: &str) -> DeviceClient {
    DeviceClient::new(Link {
        addr,
        protocol,
        credentials: Some(Credentials::new(USER, password)),
        timeouts: Timeouts {
            connect: Duration::from_millis(500),
            request: Duration::from_secs(3),
        },
    })
}

/// Waits (up to 10 s) for the device at `addr` to reach `phase`.
async fn until_phase(lab: &Lab, addr: SocketAddr, phase: Phase) {
    for _ in 0..200 {
        if lab.phase(addr) == phase {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never reached {phase:?}");
}

#[tokio::test]
async fn a_tapo_camera_is_read_and_rebooted_over_sslaes_and_comes_back() {
    let addr = SocketAddr::new(ip(1, 1), TAPO_PORT);
    let mut row = camera_row("cam", addr.ip(), "C210", TAPO_PORT, None);
    row.mac = Some("40:AE:30:42:01:01".parse().unwrap());
    let lab = Lab::start(&[row]).await;

    let mut c = client(addr, ProtocolKind::SslAes, PASS);
    let info = c.info().await.unwrap();
    assert_eq!(info.model, "C210");
    assert_eq!(info.mac, "40:AE:30:42:01:01");
    assert_eq!(info.alias, "cam");
    assert_eq!(info.kind, "SMART.IPCAMERA");
    assert!(info.sim_time_scale().is_some());
    // A second read goes on the same session: still no reboot, no failed login.
    c.info().await.unwrap();
    c.pin();
    assert_eq!(c.reboot().await.unwrap(), Ack::Acknowledged);
    assert_eq!(lab.journaled("cam", "reboot"), 1);
    assert_eq!(lab.journaled("cam", "login_failed"), 0);

    until_phase(&lab, addr, Phase::Dark).await;
    until_phase(&lab, addr, Phase::Online).await;
    assert_eq!(lab.boots(addr), 1);
    let mut after = client(addr, ProtocolKind::SslAes, PASS);
    assert_eq!(after.info().await.unwrap().mac, "40:AE:30:42:01:01");
    assert_eq!(lab.journaled("cam", "reboot"), 1);
}

#[tokio::test]
async fn a_kasa_camera_is_read_and_rebooted_over_linkie2_with_the_encoding_it_accepts() {
    let addr = SocketAddr::new(ip(2, 1), KASA_PORT);
    let lab = Lab::start(&[camera_row("kcam", addr.ip(), "EC60", KASA_PORT, None)]).await;

    let mut c = client(addr, ProtocolKind::Linkie2, PASS);
    let info = c.info().await.unwrap();
    assert_eq!(info.model, "EC60(US)");
    assert_eq!(info.kind, "IOT.IPCAMERA");
    assert_eq!(info.bound, Some(true));
    assert_eq!(info.alias, "kcam");
    let DeviceClient::KasaCamera(k) = &c else {
        panic!("a linkie2 link makes a Kasa camera client");
    };
    // The simulated camera takes `email:md5(password)`, the first encoding tried.
    assert_eq!(k.matched().map(|e| e.as_str()), Some("email-md5"));
    assert_eq!(
        info.raw[fleetreset::device::AUTH_ENCODING_FIELD],
        "email-md5"
    );
    assert_eq!(lab.journaled("kcam", "login_failed"), 0);

    assert_eq!(c.reboot().await.unwrap(), Ack::Acknowledged);
    assert_eq!(lab.journaled("kcam", "reboot"), 1);
    until_phase(&lab, addr, Phase::Dark).await;
    until_phase(&lab, addr, Phase::Online).await;
    assert_eq!(lab.boots(addr), 1);
}

#[tokio::test]
async fn a_wrong_camera_password_is_found_out_before_any_digest_is_sent_and_never_tried_again() {
    let addr = SocketAddr::new(ip(3, 1), TAPO_PORT);
    let lab = Lab::start(&[camera_row("cam", addr.ip(), "C210", TAPO_PORT, None)]).await;
    let mut c = client(addr, ProtocolKind::SslAes, "not-the-password");
    let err = c.info().await.unwrap_err();
    assert!(matches!(err, DeviceError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
    // The same client refuses to try again, and no reboot goes out.
    let again = c.reboot().await.unwrap_err();
    assert_eq!(again, err);
    assert_eq!(lab.journaled("cam", "reboot"), 0);
    // The camera proved it holds another password in handshake 1, so the client sent no
    // digest at all: the camera counted nothing.
    assert_eq!(lab.journaled("cam", "login_failed"), 0);
}

/// One login with a wrong digest, sent by hand: handshake 1, then handshake 2 with a digest
/// that proves nothing.
async fn bad_digest(addr: SocketAddr) -> serde_json::Value {
    use fleetreset::protocol::http::HttpConn;
    use fleetreset::protocol::klap::session::Kind;
    use fleetreset::protocol::sslaes::messages;
    let mut http = HttpConn::over_tls(addr, Timeouts::default());
    let json = [("content-type", "application/json".to_string())];
    let first = http
        .post(
            "h1",
            "/",
            &json,
            messages::handshake1("admin", "0011223344556677"),
            Kind::Query,
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(v["error_code"], -40413, "{v}");
    let second = http
        .post(
            "h2",
            "/",
            &json,
            messages::handshake2("admin", "0011223344556677", "00"),
            Kind::Query,
        )
        .await
        .unwrap();
    serde_json::from_slice(&second.body).unwrap()
}

#[tokio::test]
async fn a_locked_camera_says_blocked_with_the_seconds_left_and_gets_one_login() {
    let addr = SocketAddr::new(ip(4, 1), TAPO_PORT);
    let lab = Lab::start(&[camera_row(
        "cam",
        addr.ip(),
        "C210",
        TAPO_PORT,
        Some("lockout=1"),
    )])
    .await;
    let refused = bad_digest(addr).await;
    assert_eq!(refused["error_code"], -40413, "{refused}");
    assert_eq!(lab.journaled("cam", "login_failed"), 1);

    let mut c = client(addr, ProtocolKind::SslAes, PASS);
    let err = c.info().await.unwrap_err();
    assert!(matches!(err, DeviceError::Blocked { .. }), "{err}");
    assert!(err.to_string().contains("1800 s"), "{err}");
    assert_eq!(err.reason(), fleetreset::model::Reason::AuthFailed);
    // Never a second login after a failure: the same error, nothing sent.
    assert_eq!(c.info().await.unwrap_err(), err);
    assert_eq!(lab.journaled("cam", "login_refused"), 1);
    assert_eq!(lab.journaled("cam", "reboot"), 0);
}

#[tokio::test]
async fn a_kasa_camera_that_takes_no_encoding_gets_one_request_of_each_then_none() {
    let addr = SocketAddr::new(ip(5, 1), KASA_PORT);
    let lab = Lab::start(&[camera_row("kcam", addr.ip(), "EC60", KASA_PORT, None)]).await;
    let mut c = client(addr, ProtocolKind::Linkie2, "wrong");
    let err = c.info().await.unwrap_err();
    assert!(matches!(err, DeviceError::Auth { .. }), "{err}");
    // Four encodings, one attempt each; the last (the default) needs no password.
    assert_eq!(lab.journaled("kcam", "login_failed"), 4);
    assert_eq!(c.reboot().await.unwrap_err(), err);
    assert_eq!(lab.journaled("kcam", "login_failed"), 4);
    assert_eq!(lab.journaled("kcam", "reboot"), 0);
}

#[tokio::test]
async fn cameras_have_no_local_factory_reset_and_nothing_is_sent_for_one() {
    let tapo = SocketAddr::new(ip(6, 1), TAPO_PORT);
    let kasa = SocketAddr::new(ip(6, 2), KASA_PORT);
    let lab = Lab::start(&[
        camera_row("cam", tapo.ip(), "C210", TAPO_PORT, None),
        camera_row("kcam", kasa.ip(), "EC60", KASA_PORT, None),
    ])
    .await;
    for (addr, kind) in [(tapo, ProtocolKind::SslAes), (kasa, ProtocolKind::Linkie2)] {
        let mut c = client(addr, kind, PASS);
        c.info().await.unwrap();
        let err = c.factory_reset().await.unwrap_err();
        assert!(matches!(err, DeviceError::Unsupported { .. }), "{err}");
        assert_eq!(err.reason(), fleetreset::model::Reason::Unsupported);
    }
    assert_eq!(lab.journaled("cam", "reset"), 0);
    assert_eq!(lab.journaled("kcam", "reset"), 0);
    assert_eq!(
        lab.journaled("cam", "reboot") + lab.journaled("kcam", "reboot"),
        0
    );
}

/// A TLS handshake to `addr` with a connector that offers `ciphers` over TLS 1.2 only.
async fn handshake_offering(addr: SocketAddr, ciphers: &str) -> Result<String, String> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_cipher_list(ciphers).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    let ssl = b.build().configure().unwrap().into_ssl("device").unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
    std::pin::Pin::new(&mut s)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(s.ssl().current_cipher().unwrap().name().to_string())
}

#[tokio::test]
async fn the_kasa_camera_offers_only_static_rsa_suites_over_tls_1_2_and_our_client_gets_one() {
    use fleetreset::protocol::tls::{STATIC_RSA_SUITES, connect};
    let addr = SocketAddr::new(ip(7, 1), KASA_PORT);
    let _lab = Lab::start(&[camera_row("kcam", addr.ip(), "EC60", KASA_PORT, None)]).await;

    let ours = connect(tokio::net::TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    let suite = ours.ssl().current_cipher().unwrap().name().to_string();
    assert!(
        STATIC_RSA_SUITES.split(':').any(|s| s == suite),
        "negotiated {suite}"
    );
    assert_eq!(ours.ssl().version_str(), "TLSv1.2");

    // A client that offers only forward-secret suites finds nothing in common: the server
    // really is static-RSA only (which a rustls client would meet on a real camera).
    let ecdhe = handshake_offering(addr, "ECDHE+AESGCM:ECDHE+AES:ECDHE+CHACHA20").await;
    assert!(ecdhe.is_err(), "an ECDHE-only client got {ecdhe:?}");
    // The same connector offering a static-RSA suite gets through.
    assert_eq!(
        handshake_offering(addr, "AES128-GCM-SHA256:@SECLEVEL=0").await,
        Ok("AES128-GCM-SHA256".to_string())
    );
}

#[tokio::test]
async fn the_tapo_camera_takes_a_forward_secret_suite() {
    let addr = SocketAddr::new(ip(8, 1), TAPO_PORT);
    let _lab = Lab::start(&[camera_row("cam", addr.ip(), "C210", TAPO_PORT, None)]).await;
    let suite = handshake_offering(addr, "ECDHE+AESGCM").await.unwrap();
    assert!(suite.starts_with("ECDHE"), "{suite}");
}

#[tokio::test]
async fn discovery_finds_both_cameras_and_names_the_protocol_each_speaks() {
    use fleetreset::protocol::discovery::sweep;
    let tapo = SocketAddr::new(ip(9, 1), TAPO_PORT);
    let kasa = SocketAddr::new(ip(9, 2), KASA_PORT);
    let lab = Lab::start(&[
        camera_row("cam", tapo.ip(), "C210", TAPO_PORT, None),
        camera_row("kcam", kasa.ip(), "EC60", KASA_PORT, None),
    ])
    .await;
    let found = sweep(&[tapo.ip(), kasa.ip()], false, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    let kinds: Vec<_> = found.iter().map(ProtocolKind::of_found).collect();
    assert_eq!(
        kinds,
        [
            Some((ProtocolKind::SslAes, Some(TAPO_PORT))),
            Some((ProtocolKind::Linkie2, None)),
        ]
    );
    assert!(lab.journaled("cam", "discovery") >= 1);
    assert!(lab.journaled("kcam", "discovery") >= 1);
    assert_eq!(
        lab.journaled("cam", "reboot") + lab.journaled("kcam", "reboot"),
        0
    );
}

#[tokio::test]
async fn a_kasa_camera_reached_over_the_legacy_protocol_is_refused_before_any_command() {
    use fleetreset::protocol::iot::codec;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A Kasa camera with TCP 9999 open (a KC100 was seen so): it answers `get_sysinfo` with
    // its nested reply, and counts every request it gets.
    let listener = tokio::net::TcpListener::bind((ip(10, 1), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        loop {
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            s.read_exact(&mut body).await.unwrap();
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = br#"{"system":{"get_sysinfo":{"err_code":0,"system":{"model":"KC100(US)","type":"IOT.IPCAMERA","mac":"74:FE:CE:00:00:01","deviceId":"80"}}}}"#;
            s.write_all(&codec::encode_frame(reply)).await.unwrap();
        }
    });
    let mut c = client(addr, ProtocolKind::Iot, PASS);
    let err = c.info().await.unwrap_err();
    assert!(matches!(err, DeviceError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("linkie2"), "{err}");
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}
