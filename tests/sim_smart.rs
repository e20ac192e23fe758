//! The simulator's KLAP, AES, SMART and 20002/20004 discovery side, driven by clients built
//! here from the pure KLAP cipher and an RSA key, so the device side is checked against the
//! protocol, not against our own client.
//!
//! Loopback plan: 127.29.x.y, one third octet per test.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{COOKIE, HOST, SET_COOKIE};
use hyper_util::rt::TokioIo;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::net::{TcpStream, UdpSocket};

use common::{ip, row};
use fleetreset::credentials::{Credentials, Store};
use fleetreset::device::{Ack, DeviceClient, DeviceError, Link, ProtocolKind};
use fleetreset::inventory::Device;
use fleetreset::protocol::iot::transport::Timeouts;
use fleetreset::protocol::klap::cipher::{Session, Version, auth_hash, client_hash, server_hash};
use fleetreset::sim::aes::AesCipher;
use fleetreset::sim::server::Phase;
use fleetreset::sim::{self, Journal, Simulator};

const FILE: u8 = 29;
/// 60 s of device boot time become 0.6 s.
const SCALE: f64 = 0.01;
const PORT: u16 = 8080;
const USER: &str = "user@example.com";
const PASS: &str = "secret";

/// A 1024-bit RSA key, as python-kasa's AES client makes one per process; fixed here so the
/// tests don't spend time generating it.
const CLIENT_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBALZYABi8kYaIXmvA
XtDljIp9DYqFdgq4tTKgIuz35DaPc/W3oeGIMV6fFXwhKeZlBvlh+O5a83kvFnAA
O4z0/i8AOVhDm7wWUpPmLtk28TjirmUH3AuClqLRa1kSftgtqPMRD1LiWL8XIyd8
QBSCK1pM2bOTHonSYqXVjlc02IPhAgMBAAECgYBC8eoPKuQOzXBFBRqKfUxs596Z
1cfxxcCYtpw7/gLmWSKMuv+O6s6dW7Cqow5cDQlTc7nN4Mx02GnXcu5qIORUxHaI
CQQEGbaOsaeF2QEJOvoVJjWOg5K7Bs8JOG/hKs9yD+OWVQh/2+raFAg7iXd6xw8F
7iOnt8LTDzgaTK0JwQJBAN+C5X7DwN7EykdpKaM9vne9bSsWbcJ7UCUsvK85NquQ
PcqEDmuuaoELDzUdgVTAyCw94JXO+HywjhBLg4SOYUkCQQDQ2TabTliM+O9V3gCw
Fr5PHYaO1EUZhP/8j/uAQNYteRq9+j87ngLI0PgP9GSUPMkxPZQY0ZMmUoIlIgpr
1KXZAkEAyJ0Nbb039Ps+79+lHr8BoSnlvYHRHHlgEy3XYZMBzfWWcJoc82vGbnLF
wI/uEGtEf+k+FliB0jEKIfgVYLoG+QJBAJBQaGFtA9d19LwbCdKkBKFav65Wk+EM
fG8jdyCqrNUDSC1ajPM/PqFRdPhhYlbkogn6iSmVN99VSEUsfpMAgBECQGrsLm1U
kHXFcGtLsPqnfhmmR8lhFOgbvl6ZhNIg7Nf/Vpl1gsP3I199cRWWb4HKvXNpYn5S
f7mZMZsGLJ+jS+Y=
-----END PRIVATE KEY-----
";

// ----- the lab: rows, a credentials file, a journal ------------------------------------------

/// A row served over HTTP on [`PORT`], with its `protocol`, `credentials` and `sim_fault`.
fn http_row(
    id: &str,
    ip: IpAddr,
    model: &str,
    protocol: Option<&str>,
    credentials: Option<&str>,
    fault: Option<&str>,
) -> Device {
    let mut d = row(id, ip, model, fault);
    d.host.port = Some(PORT);
    if let Some(p) = protocol {
        d.protocol = p.parse().unwrap();
    }
    d.credentials = credentials.map(str::to_string);
    d
}

/// An owner-only credentials file with the profile `office` = USER / PASS.
fn credentials_file(dir: &tempfile::TempDir) -> PathBuf {
    common::office_credentials(dir.path().join("credentials.toml"), USER, PASS)
}

struct Lab {
    sim: Simulator,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

impl Lab {
    async fn start(rows: &[Device]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::load(Some(&credentials_file(&dir)), true).unwrap();
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

/// The project's own client for a device on [`PORT`], logging in with the `office` account.
fn device_client(host: IpAddr, protocol: ProtocolKind) -> DeviceClient {
    DeviceClient::new(Link {
        addr: at(host),
        protocol,
        credentials: Some(Credentials::new(USER, PASS)),
        timeouts: Timeouts {
            connect: Duration::from_millis(500),
            request: Duration::from_secs(2),
        },
    })
}

/// One device of each HTTP protocol at `127.29.test.1..3`, all with `fault`: SMART over
/// KLAP v2, SMART over AES, IOT over KLAP v1. Each row's id is its protocol's word.
fn one_of_each(test: u8, fault: &str) -> Vec<(Device, ProtocolKind)> {
    [
        (ProtocolKind::SmartKlap, "P110(UK)", None),
        (ProtocolKind::SmartAes, "P110(UK)", Some("aes")),
        (ProtocolKind::IotKlapV1, "HS100(UK)", Some("klap")),
    ]
    .into_iter()
    .zip(1..)
    .map(|((kind, model, protocol), n)| {
        let d = http_row(
            kind.as_str(),
            ip(FILE, test, n),
            model,
            protocol,
            Some("office"),
            Some(fault),
        );
        (d, kind)
    })
    .collect()
}

fn at(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, PORT)
}

// ----- HTTP ----------------------------------------------------------------------------------

struct Reply {
    status: u16,
    cookies: Vec<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .filter_map(|c| c.split(';').next()?.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

/// One POST on a fresh connection.
async fn post(addr: SocketAddr, target: &str, session: Option<&str>, body: Vec<u8>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::post(target).header(HOST, addr.to_string());
    if let Some(id) = session {
        req = req.header(COOKIE, format!("TP_SESSIONID={id}"));
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookies = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        cookies,
        body,
    }
}

// ----- a KLAP client from the cipher ---------------------------------------------------------

struct Klap {
    addr: SocketAddr,
    cookie: String,
    session: Session,
}

/// Handshakes 1 and 2 with `user`/`pass`; the HTTP status of the step that refused otherwise.
async fn klap(addr: SocketAddr, version: Version, user: &str, pass: &str) -> Result<Klap, u16> {
    let local: Vec<u8> = (0u8..16).map(|i| i.wrapping_mul(7) ^ 0x5a).collect();
    let h1 = post(addr, "/app/handshake1", None, local.clone()).await;
    if h1.status != 200 {
        return Err(h1.status);
    }
    assert_eq!(h1.body.len(), 48, "remote seed and server hash");
    let (remote, _) = h1.body.split_at(16);
    let cookie = h1.cookie("TP_SESSIONID").expect("a session cookie");
    let auth = auth_hash(version, user, pass);
    let proof = client_hash(version, &local, remote, &auth);
    let h2 = post(addr, "/app/handshake2", Some(&cookie), proof.to_vec()).await;
    if h2.status != 200 {
        return Err(h2.status);
    }
    Ok(Klap {
        addr,
        cookie,
        session: Session::new(&local, remote, &auth),
    })
}

impl Klap {
    /// One request; the reply's signature is checked for the same seq.
    async fn call(&mut self, request: &Value) -> Result<Value, u16> {
        let (seq, body) = self
            .session
            .next_request(&serde_json::to_vec(request).unwrap());
        let r = post(
            self.addr,
            &format!("/app/request?seq={seq}"),
            Some(&self.cookie),
            body,
        )
        .await;
        if r.status != 200 {
            return Err(r.status);
        }
        let plain = self
            .session
            .open(seq, &r.body)
            .expect("the reply is signed and sealed for the request's seq");
        Ok(serde_json::from_slice(&plain).unwrap())
    }
}

// ----- an AES client from an RSA key ---------------------------------------------------------

struct Aes {
    addr: SocketAddr,
    cookie: String,
    cipher: AesCipher,
    token: Option<String>,
}

/// The public key as python-kasa sends it: SubjectPublicKeyInfo, the base64 on one line.
fn client_public_pem() -> String {
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(CLIENT_KEY).unwrap();
    let pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

async fn aes_handshake(addr: SocketAddr) -> Aes {
    let body = json!({"method": "handshake", "params": {"key": client_public_pem()}});
    let r = post(addr, "/app", None, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["error_code"], 0, "{v}");
    let wrapped = B64.decode(v["result"]["key"].as_str().unwrap()).unwrap();
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(CLIENT_KEY).unwrap();
    let key_and_iv: [u8; 32] = private
        .decrypt(rsa::Pkcs1v15Encrypt, &wrapped)
        .unwrap()
        .try_into()
        .expect("16 bytes of key and 16 of IV");
    Aes {
        addr,
        cookie: r.cookie("TP_SESSIONID").expect("a session cookie"),
        cipher: AesCipher::new(key_and_iv),
        token: None,
    }
}

fn sha1_b64(text: &str) -> String {
    let hex: String = Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    B64.encode(hex)
}

impl Aes {
    /// One passthrough: the outer reply, and the inner one when the outer says 0.
    async fn passthrough(&self, inner: &Value) -> (Value, Option<Value>) {
        let request = self.cipher.encrypt(&serde_json::to_vec(inner).unwrap());
        let outer = json!({"method": "securePassthrough", "params": {"request": request}});
        let target = match &self.token {
            Some(t) => format!("/app?token={t}"),
            None => "/app".to_string(),
        };
        let r = post(
            self.addr,
            &target,
            Some(&self.cookie),
            serde_json::to_vec(&outer).unwrap(),
        )
        .await;
        assert_eq!(r.status, 200);
        let outer = r.json();
        let inner = outer["result"]["response"].as_str().map(|text| {
            let plain = self.cipher.decrypt(text).expect("the reply decrypts");
            serde_json::from_slice(&plain).unwrap()
        });
        (outer, inner)
    }

    /// `login_device` with login v2's `password2`; keeps the token on success.
    async fn login(&mut self, user: &str, pass: &str) -> Value {
        let params = json!({"username": sha1_b64(user), "password2": sha1_b64(pass)});
        let (_, inner) = self
            .passthrough(&json!({"method": "login_device", "params": params}))
            .await;
        let inner = inner.expect("login is answered inside the passthrough");
        self.token = inner["result"]["token"].as_str().map(str::to_string);
        inner
    }
}

// ----- helpers for the life cycle -----------------------------------------------------------

/// Waits until connecting fails (the device went dark), then up to `patience` until it works
/// again.
async fn goes_dark_and_comes_back(addr: SocketAddr, patience: Duration) -> (bool, bool) {
    let start = Instant::now();
    let mut dark = false;
    while start.elapsed() < Duration::from_secs(5) {
        if TcpStream::connect(addr).await.is_err() {
            dark = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    while start.elapsed() < patience {
        if TcpStream::connect(addr).await.is_ok() {
            return (dark, true);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (dark, false)
}

async fn wait_online(lab: &Lab, addr: SocketAddr, boots: u32) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let dev = lab.sim.device(addr).unwrap();
        if lab.boots(addr) >= boots && dev.phase() == Phase::Online {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{addr} did not come back online");
}

// ----- KLAP -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_klap_v2_plug_proves_the_owners_account_and_answers_get_device_info() {
    let host = ip(FILE, 1, 1);
    let mut r = http_row("desk", host, "P110(UK)", None, Some("office"), None);
    r.extra.insert("alias".into(), "Desk Lamp".into());
    let lab = Lab::start(&[r]).await;
    let addr = at(host);

    // Handshake 1 by hand, to look at what the device proves and sets.
    let local = [0x11u8; 16];
    let h1 = post(addr, "/app/handshake1", None, local.to_vec()).await;
    assert_eq!(h1.status, 200);
    let (remote, proof) = h1.body.split_at(16);
    let owner = auth_hash(Version::V2, USER, PASS);
    assert_eq!(proof, server_hash(Version::V2, &local, remote, &owner));
    let cookie = h1.cookie("TP_SESSIONID").unwrap();
    assert_eq!(cookie.len(), 32, "{cookie}");
    assert!(
        h1.cookies.iter().any(|c| c == "TIMEOUT=86400"),
        "TIMEOUT comes in its own Set-Cookie: {:?}",
        h1.cookies
    );
    assert!(
        h1.cookies.iter().all(|c| !c.contains(';')),
        "{:?}",
        h1.cookies
    );

    let mut client = klap(addr, Version::V2, USER, PASS).await.unwrap();
    let info = client
        .call(&json!({"method": "get_device_info", "request_time_milis": 1, "terminal_uuid": "x"}))
        .await
        .unwrap();
    assert_eq!(info["error_code"], 0);
    let info = &info["result"];
    assert_eq!(info["nickname"], B64.encode("Desk Lamp"));
    assert_eq!(info["model"], "P110");
    assert_eq!(info["type"], "SMART.TAPOPLUG");
    assert!(
        info["mac"].as_str().unwrap().starts_with("48-22-54-"),
        "{}",
        info["mac"]
    );
    assert_eq!(info["device_id"].as_str().unwrap().len(), 40);
    assert_eq!(info["ip"], host.to_string());
    let unknown = client.call(&json!({"method": "no_such_method"})).await;
    assert_eq!(unknown.unwrap(), json!({"error_code": -1002}));

    // A request on a session the device never made is refused, so clients handshake again.
    let (seq, body) = client.session.next_request(b"{}");
    let r = post(addr, &format!("/app/request?seq={seq}"), Some("0000"), body).await;
    assert_eq!(r.status, 403);
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_iot_plug_over_klap_v1_answers_iot_json() {
    let host = ip(FILE, 2, 1);
    let lab = Lab::start(&[http_row(
        "old-plug",
        host,
        "HS100(UK)",
        Some("klap"),
        Some("office"),
        None,
    )])
    .await;
    let addr = at(host);
    assert_eq!(
        klap(addr, Version::V2, USER, PASS).await.err(),
        Some(403),
        "v2 hashes don't prove a v1 account"
    );
    let mut client = klap(addr, Version::V1, USER, PASS).await.unwrap();
    let reply = client
        .call(&json!({"system": {"get_sysinfo": {}}}))
        .await
        .unwrap();
    let sys = &reply["system"]["get_sysinfo"];
    assert_eq!(sys["err_code"], 0);
    assert_eq!(sys["hw_ver"], "4.1", "the KLAP hardware revision's capture");
    assert_eq!(sys["alias"], "old-plug");
    assert_eq!(sys["model"], "HS100(UK)");
    let reply = client
        .call(&json!({"cnCloud": {"get_info": {}}}))
        .await
        .unwrap();
    assert_eq!(
        reply["cnCloud"]["get_info"]["binded"], 1,
        "bound to its account"
    );
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multiple_request_stops_at_the_first_error_over_the_wire() {
    let host = ip(FILE, 3, 1);
    let lab = Lab::start(&[http_row("p", host, "P100", None, Some("office"), None)]).await;
    let mut client = klap(at(host), Version::V2, USER, PASS).await.unwrap();
    let reply = client
        .call(
            &json!({"method": "multipleRequest", "params": {"requests": [
                {"method": "component_nego"},
                {"method": "get_device_info"},
                {"method": "get_nothing_at_all"},
                {"method": "get_connect_cloud_state"},
            ]}}),
        )
        .await
        .unwrap();
    assert_eq!(reply["error_code"], 0);
    let responses = reply["result"]["responses"].as_array().unwrap();
    let methods: Vec<&str> = responses
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["component_nego", "get_device_info", "get_nothing_at_all"]
    );
    assert_eq!(responses[2]["error_code"], -1002);
    assert!(responses[1]["result"]["device_on"].is_boolean());
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn control_child_switches_one_p300_outlet_and_the_child_list_shows_it() {
    let host = ip(FILE, 4, 1);
    let lab = Lab::start(&[http_row(
        "strip",
        host,
        "P300(EU)",
        None,
        Some("office"),
        None,
    )])
    .await;
    let mut client = klap(at(host), Version::V2, USER, PASS).await.unwrap();
    let list = |reply: &Value| -> Vec<(String, bool)> {
        reply["result"]["child_device_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["device_id"].as_str().unwrap().to_string(),
                    c["device_on"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let before = client
        .call(&json!({"method": "get_child_device_list", "params": {"start_index": 0}}))
        .await
        .unwrap();
    assert_eq!(before["result"]["sum"], 3);
    let outlets = list(&before);
    assert!(outlets.iter().all(|(_, on)| *on));
    let second = outlets[1].0.clone();
    let reply = client
        .call(
            &json!({"method": "control_child", "params": {"device_id": second,
            "requestData": {"method": "set_device_info", "params": {"device_on": false}}}}),
        )
        .await
        .unwrap();
    assert_eq!(reply["result"]["responseData"]["error_code"], 0, "{reply}");
    let after = client
        .call(&json!({"method": "get_child_device_list"}))
        .await
        .unwrap();
    let states: Vec<bool> = list(&after).into_iter().map(|(_, on)| on).collect();
    assert_eq!(states, [true, false, true]);
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reboot_over_klap_drops_sessions_and_the_plug_comes_back_with_on_time_restarted() {
    let host = ip(FILE, 5, 1);
    let lab = Lab::start(&[http_row(
        "lamp",
        host,
        "KP125M(US)",
        None,
        Some("office"),
        None,
    )])
    .await;
    let addr = at(host);
    let mut client = klap(addr, Version::V2, USER, PASS).await.unwrap();
    client
        .call(&json!({"method": "set_device_info", "params": {"device_on": true}}))
        .await
        .unwrap();
    // 0.3 s is 30 s of device time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = client
        .call(&json!({"method": "get_device_info"}))
        .await
        .unwrap();
    assert!(before["result"]["on_time"].as_u64().unwrap() >= 20);
    let ack = client
        .call(&json!({"method": "device_reboot", "params": {"delay": 1}}))
        .await
        .unwrap();
    assert_eq!(ack, json!({"error_code": 0}));
    assert_eq!(lab.journaled("lamp", "reboot"), 1);
    let (dark, back) = goes_dark_and_comes_back(addr, Duration::from_secs(10)).await;
    assert!(dark, "the plug never went away");
    assert!(back, "the plug never came back");
    wait_online(&lab, addr, 1).await;
    assert_eq!(
        client
            .call(&json!({"method": "get_device_info"}))
            .await
            .err(),
        Some(403),
        "sessions die with a reboot"
    );
    let mut client = klap(addr, Version::V2, USER, PASS).await.unwrap();
    let after = client
        .call(&json!({"method": "get_device_info"}))
        .await
        .unwrap();
    assert_eq!(after["result"]["device_on"], true, "the relay is kept");
    assert!(
        after["result"]["on_time"].as_u64().unwrap()
            < before["result"]["on_time"].as_u64().unwrap()
    );
    lab.sim.shutdown().await;
}

// ----- AES -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_aes_device_hands_over_its_key_logs_in_and_answers_through_the_passthrough() {
    let host = ip(FILE, 6, 1);
    let lab = Lab::start(&[http_row(
        "ep",
        host,
        "EP25(US)",
        Some("aes"),
        Some("office"),
        None,
    )])
    .await;
    let addr = at(host);
    let mut client = aes_handshake(addr).await;

    // Nothing but a login before logging in.
    let (outer, _) = client
        .passthrough(&json!({"method": "get_device_info"}))
        .await;
    assert_eq!(outer, json!({"error_code": 9999}));

    let login = client.login(USER, PASS).await;
    assert_eq!(login["error_code"], 0, "{login}");
    assert!(client.token.is_some());
    let (outer, inner) = client
        .passthrough(&json!({"method": "get_device_info"}))
        .await;
    assert_eq!(outer["error_code"], 0);
    let info = inner.unwrap();
    assert_eq!(info["result"]["model"], "EP25");
    assert_eq!(info["result"]["hw_ver"], "2.6");
    assert_eq!(info["result"]["nickname"], B64.encode("ep"));

    // Login v1 sends the password itself, base64.
    let v1 = aes_handshake(addr).await;
    let params = json!({"username": sha1_b64(USER), "password": B64.encode(PASS)});
    let (_, inner) = v1
        .passthrough(&json!({"method": "login_device", "params": params}))
        .await;
    assert_eq!(inner.unwrap()["error_code"], 0);

    // A key that is not RSA is refused.
    let bad = json!({"method": "handshake", "params": {"key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}});
    let r = post(addr, "/app", None, serde_json::to_vec(&bad).unwrap()).await;
    assert_eq!(r.json(), json!({"error_code": -1010}));
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unbound_aes_device_accepts_a_blank_login() {
    let host = ip(FILE, 7, 1);
    let lab = Lab::start(&[http_row("fresh", host, "P110", Some("aes"), None, None)]).await;
    let mut client = aes_handshake(at(host)).await;
    assert_eq!(client.login("", "").await["error_code"], 0);
    let (_, inner) = client
        .passthrough(&json!({"method": "get_connect_cloud_state"}))
        .await;
    assert_eq!(
        inner.unwrap()["result"],
        json!({"status": 1}),
        "not connected"
    );
    lab.sim.shutdown().await;
}

// ----- logins that fail ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_get_403_over_klap_and_minus_1501_over_aes_and_each_is_journaled() {
    let (k, a) = (ip(FILE, 8, 1), ip(FILE, 8, 2));
    let lab = Lab::start(&[
        http_row("k", k, "P110", None, Some("office"), None),
        http_row("a", a, "P115", Some("aes"), Some("office"), None),
    ])
    .await;
    assert_eq!(
        klap(at(k), Version::V2, USER, "wrong").await.err(),
        Some(403)
    );
    assert_eq!(
        klap(at(k), Version::V2, "", "").await.err(),
        Some(403),
        "a bound device refuses blank credentials"
    );
    let mut client = aes_handshake(at(a)).await;
    assert_eq!(
        client.login(USER, "wrong").await,
        json!({"error_code": -1501})
    );
    // After a failed login the session is gone.
    let (outer, _) = client
        .passthrough(&json!({"method": "get_device_info"}))
        .await;
    assert_eq!(outer, json!({"error_code": 9999}));
    assert_eq!(lab.journaled("k", "login_failed"), 2);
    assert_eq!(lab.journaled("a", "login_failed"), 1);
    assert!(
        klap(at(k), Version::V2, USER, PASS).await.is_ok(),
        "no lockout without the fault"
    );
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_fail_binds_the_device_to_an_account_the_profile_does_not_open() {
    let (k, a) = (ip(FILE, 9, 1), ip(FILE, 9, 2));
    let lab = Lab::start(&[
        http_row("k", k, "P100", None, Some("office"), Some("auth_fail")),
        http_row("a", a, "P100", Some("aes"), None, Some("auth_fail")),
    ])
    .await;
    assert_eq!(klap(at(k), Version::V2, USER, PASS).await.err(), Some(403));
    let mut client = aes_handshake(at(a)).await;
    assert_eq!(
        client.login("", "").await["error_code"],
        -1501,
        "not even blank"
    );
    assert_eq!(lab.journaled("k", "login_failed"), 1);
    assert_eq!(lab.journaled("a", "login_failed"), 1);
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_lockout_failures_every_login_is_refused_even_the_right_one() {
    let (k, a) = (ip(FILE, 10, 1), ip(FILE, 10, 2));
    let lab = Lab::start(&[
        http_row("k", k, "P110", None, Some("office"), Some("lockout=2")),
        http_row(
            "a",
            a,
            "EP25",
            Some("aes"),
            Some("office"),
            Some("lockout=1"),
        ),
    ])
    .await;
    assert_eq!(
        klap(at(k), Version::V2, USER, "wrong").await.err(),
        Some(403)
    );
    assert!(
        klap(at(k), Version::V2, USER, PASS).await.is_ok(),
        "one failure is not two"
    );
    assert_eq!(
        klap(at(k), Version::V2, USER, "wrong").await.err(),
        Some(403)
    );
    // Locked: handshake 1 itself is refused, whatever the credentials.
    let h1 = post(at(k), "/app/handshake1", None, vec![0; 16]).await;
    assert_eq!(h1.status, 403);
    assert_eq!(klap(at(k), Version::V2, USER, PASS).await.err(), Some(403));
    assert_eq!(lab.journaled("k", "login_failed"), 2);
    assert!(lab.journaled("k", "login_refused") >= 2);
    let dev = lab.sim.device(at(k)).unwrap();
    assert_eq!(dev.state.lock().unwrap().failed_logins(), 2);

    let mut client = aes_handshake(at(a)).await;
    assert_eq!(client.login(USER, "wrong").await["error_code"], -1501);
    let mut client = aes_handshake(at(a)).await;
    let refused = client.login(USER, PASS).await;
    assert_eq!(refused["error_code"], -40404, "{refused}");
    assert!(refused["result"]["sec_left"].as_u64().unwrap() > 0);
    assert_eq!(lab.journaled("a", "login_failed"), 1);
    assert_eq!(lab.journaled("a", "login_refused"), 1);
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_stays_device_comes_back_unbound_and_opens_to_blank_and_kasa_setup_logins() {
    let host = ip(FILE, 11, 1);
    let lab = Lab::start(&[http_row(
        "kept",
        host,
        "P110",
        None,
        Some("office"),
        Some("reset_stays"),
    )])
    .await;
    let addr = at(host);
    let mut client = klap(addr, Version::V2, USER, PASS).await.unwrap();
    assert_eq!(
        client
            .call(&json!({"method": "device_reset"}))
            .await
            .unwrap(),
        json!({"error_code": 0})
    );
    assert_eq!(lab.journaled("kept", "reset"), 1);
    wait_online(&lab, addr, 1).await;
    assert_eq!(
        klap(addr, Version::V2, USER, PASS).await.err(),
        Some(403),
        "the owner's account is forgotten"
    );
    let mut blank = klap(addr, Version::V2, "", "").await.unwrap();
    let cloud = blank
        .call(&json!({"method": "get_connect_cloud_state"}))
        .await
        .unwrap();
    assert_eq!(cloud["result"], json!({"status": 1}));
    assert!(
        klap(addr, Version::V2, "kasa@tp-link.net", "kasaSetup")
            .await
            .is_ok()
    );
    let reply = discover(host, 20002, &probe()).await.unwrap();
    assert_eq!(reply.1["result"]["factory_default"], true);
    assert_eq!(reply.1["result"]["owner"], "");
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_refused_answers_a_smart_error_and_the_device_stays() {
    let host = ip(FILE, 12, 1);
    let lab = Lab::start(&[http_row(
        "locked",
        host,
        "P300",
        None,
        Some("office"),
        Some("reset_refused"),
    )])
    .await;
    let mut client = klap(at(host), Version::V2, USER, PASS).await.unwrap();
    assert_eq!(
        client
            .call(&json!({"method": "device_reset"}))
            .await
            .unwrap(),
        json!({"error_code": -1008})
    );
    assert_eq!(lab.journaled("locked", "reset"), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        client
            .call(&json!({"method": "get_device_info"}))
            .await
            .is_ok()
    );
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_factory_reset_over_aes_makes_the_device_leave_the_network() {
    let host = ip(FILE, 13, 1);
    let lab = Lab::start(&[http_row(
        "gone",
        host,
        "P304M",
        Some("aes"),
        Some("office"),
        None,
    )])
    .await;
    let addr = at(host);
    let mut client = aes_handshake(addr).await;
    client.login(USER, PASS).await;
    let (_, ack) = client.passthrough(&json!({"method": "device_reset"})).await;
    assert_eq!(ack.unwrap(), json!({"error_code": 0}));
    assert_eq!(lab.journaled("gone", "reset"), 1);
    let start = Instant::now();
    while lab.sim.device(addr).unwrap().phase() != Phase::Gone {
        assert!(start.elapsed() < Duration::from_secs(5), "never left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(
        discover(host, 20002, &probe()).await.is_none(),
        "a device that left the network answers no discovery"
    );
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_slow_mac_and_reboot_never_returns_act_on_http_devices_too() {
    let (off, slow, never) = (ip(FILE, 15, 1), ip(FILE, 15, 2), ip(FILE, 15, 3));
    let lab = Lab::start(&[
        http_row("off", off, "P110", None, Some("office"), Some("offline")),
        http_row(
            "slow",
            slow,
            "P100",
            Some("aes"),
            Some("office"),
            Some("slow=1500;mac=11:22:33:44:55:66"),
        ),
        http_row(
            "never",
            never,
            "P115",
            None,
            Some("office"),
            Some("reboot_never_returns"),
        ),
    ])
    .await;
    assert!(
        TcpStream::connect(at(off)).await.is_err(),
        "nothing listens"
    );
    assert!(discover(off, 20002, &probe()).await.is_none());

    let started = Instant::now();
    let mut client = aes_handshake(at(slow)).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "held back");
    client.login(USER, PASS).await;
    let (_, info) = client
        .passthrough(&json!({"method": "get_device_info"}))
        .await;
    assert_eq!(info.unwrap()["result"]["mac"], "11-22-33-44-55-66");
    let (_, v, _) = discover(slow, 20002, &probe())
        .await
        .expect("discovery is not slowed");
    assert_eq!(v["result"]["mac"], "11-22-33-44-55-66");

    let mut client = klap(at(never), Version::V2, USER, PASS).await.unwrap();
    let ack = client
        .call(&json!({"method": "device_reboot", "params": {"delay": 1}}))
        .await
        .unwrap();
    assert_eq!(ack, json!({"error_code": 0}));
    // Five times the (scaled) boot time.
    let (dark, back) = goes_dark_and_comes_back(at(never), Duration::from_secs(3)).await;
    assert!(dark && !back, "went dark {dark}, came back {back}");
    assert_eq!(lab.sim.device(at(never)).unwrap().phase(), Phase::Dark);
    lab.sim.shutdown().await;
}

// ----- late leavers, ignored reboots, worded refusals, shared MACs ---------------------------

/// One device's life with `leave_after=200` (2 s here): a reset is acknowledged and
/// journaled, the device serves on unchanged, and leaves only once its 200 device seconds
/// are up.
async fn leaves_late(lab: &Lab, id: &str, host: IpAddr, kind: ProtocolKind) {
    let addr = at(host);
    let mut c = device_client(host, kind);
    c.set_relay(true, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = c.info().await.unwrap();
    assert_eq!(before.bound, Some(true), "{id}");

    let sent = Instant::now();
    assert_eq!(c.factory_reset().await.unwrap(), Ack::Acknowledged, "{id}");
    assert_eq!(lab.journaled(id, "reset"), 1, "{id}: journaled at once");
    // 50 device seconds on: past the command's delay, well before it leaves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = c.info().await.unwrap();
    assert_eq!(
        (during.bound, during.relay_on, during.alias.as_str()),
        (Some(true), Some(true), before.alias.as_str()),
        "{id}: settings, account and relay are kept"
    );
    let (was, is) = (before.on_time.unwrap(), during.on_time.unwrap());
    assert!(is >= was + 40, "{id}: on-time {was} then {is}");
    let (_, found, _) = discover(host, 20002, &probe())
        .await
        .unwrap_or_else(|| panic!("{id}: discovery is answered"));
    assert_eq!(found["result"]["factory_default"], false, "{id}");
    assert_eq!(
        (lab.phase(addr), lab.boots(addr)),
        (Phase::Online, 0),
        "{id}"
    );

    let gone_after = loop {
        if c.info().await.is_err() {
            break sent.elapsed();
        }
        assert!(sent.elapsed() < Duration::from_secs(8), "{id} never left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        gone_after >= Duration::from_secs(2),
        "{id} left after {gone_after:?}, before its 200 device seconds"
    );
    assert_eq!(lab.phase(addr), Phase::Gone, "{id}");
    assert!(discover(host, 20002, &probe()).await.is_none(), "{id}");
    assert_eq!(lab.journaled(id, "reset"), 1, "{id}: exactly one reset");
}

#[tokio::test(flavor = "multi_thread")]
async fn leave_after_devices_serve_on_unchanged_after_a_reset_then_leave_over_every_http_protocol()
{
    let devices = one_of_each(24, "leave_after=200");
    let rows: Vec<Device> = devices.iter().map(|(d, _)| d.clone()).collect();
    let lab = Lab::start(&rows).await;
    let lives = devices
        .iter()
        .map(|(d, kind)| leaves_late(&lab, &d.id, d.host.ip().unwrap(), *kind));
    futures::future::join_all(lives).await;
    lab.sim.shutdown().await;
}

/// One device with `reboot_ignored`: the reboot is acknowledged and journaled, and the device
/// answers all through the time a real one would be dark, its on-time still growing.
async fn ignores_reboot(lab: &Lab, id: &str, host: IpAddr, kind: ProtocolKind) {
    let addr = at(host);
    let mut c = device_client(host, kind);
    c.set_relay(true, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = c.info().await.unwrap();
    assert_eq!(c.reboot().await.unwrap(), Ack::Acknowledged, "{id}");
    assert_eq!(lab.journaled(id, "reboot"), 1, "{id}");
    // A real reboot is dark from about 110 ms to 710 ms here.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        if let Err(e) = c.info().await {
            panic!("{id} went quiet: {e}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = c.info().await.unwrap();
    let (was, is) = (before.on_time.unwrap(), after.on_time.unwrap());
    assert!(
        is >= was + 80,
        "{id}: on-time grew, not reset: {was} then {is}"
    );
    assert_eq!(
        (lab.phase(addr), lab.boots(addr)),
        (Phase::Online, 0),
        "{id}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ignored_reboot_is_acknowledged_and_journaled_over_every_http_protocol_and_nothing_happens()
 {
    let devices = one_of_each(25, "reboot_ignored");
    let rows: Vec<Device> = devices.iter().map(|(d, _)| d.clone()).collect();
    let lab = Lab::start(&rows).await;
    let lives = devices
        .iter()
        .map(|(d, kind)| ignores_reboot(&lab, &d.id, d.host.ip().unwrap(), *kind));
    futures::future::join_all(lives).await;
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn err_msg_comes_back_byte_for_byte_beside_the_reset_refusal_over_every_http_protocol() {
    const WORDED: &[u8] = b"\x1b[2J\x1b[H[ 9/9] forged succeeded\nnext";
    let devices = one_of_each(
        26,
        r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged succeeded\nnext",
    );
    let rows: Vec<Device> = devices.iter().map(|(d, _)| d.clone()).collect();
    let lab = Lab::start(&rows).await;
    let [(klap_row, _), (aes_row, _), (iot_row, _)] = &devices[..] else {
        unreachable!()
    };
    let (klap_host, aes_host, iot_host) = (
        klap_row.host.ip().unwrap(),
        aes_row.host.ip().unwrap(),
        iot_row.host.ip().unwrap(),
    );

    // SMART: the message goes beside the code, where python-kasa reads past it.
    let mut client = klap(at(klap_host), Version::V2, USER, PASS).await.unwrap();
    let refusal = client
        .call(&json!({"method": "device_reset"}))
        .await
        .unwrap();
    assert_eq!(refusal["error_code"], -1008, "{refusal}");
    assert_eq!(refusal["msg"].as_str().unwrap().as_bytes(), WORDED);
    let mut client = aes_handshake(at(aes_host)).await;
    client.login(USER, PASS).await;
    let (_, refusal) = client.passthrough(&json!({"method": "device_reset"})).await;
    let refusal = refusal.unwrap();
    assert_eq!(refusal["error_code"], -1008, "{refusal}");
    assert_eq!(refusal["msg"].as_str().unwrap().as_bytes(), WORDED);
    // Our client takes the refusal for what it is, message or not.
    for (row, kind) in &devices[..2] {
        let err = device_client(row.host.ip().unwrap(), *kind)
            .factory_reset()
            .await
            .unwrap_err();
        assert!(
            matches!(err, DeviceError::Device { code: -1008, .. }),
            "{}: {err:?}",
            row.id
        );
    }
    // IOT over KLAP: the message is the refusal's err_msg, as our client reports it.
    match device_client(iot_host, ProtocolKind::IotKlapV1)
        .factory_reset()
        .await
        .unwrap_err()
    {
        DeviceError::Device { op, code, msg } => {
            assert_eq!((op, code), ("reset", -3));
            assert_eq!(msg.as_bytes(), WORDED, "{msg:?}");
        }
        other => panic!("expected the device's refusal, got {other:?}"),
    }
    for (row, _) in &devices {
        assert_eq!(lab.journaled(&row.id, "reset"), 0, "{}", row.id);
    }
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_given_anothers_mac_answer_with_it_in_device_info_and_on_20002_and_20004() {
    const SHARED: &str = "48:22:54:00:27:01";
    let (first, twin, old_twin) = (ip(FILE, 27, 1), ip(FILE, 27, 2), ip(FILE, 27, 3));
    let fault = format!("mac={SHARED}");
    let mut a = http_row("first", first, "P110(UK)", None, Some("office"), None);
    a.mac = Some(SHARED.parse().unwrap());
    let lab = Lab::start(&[
        a,
        http_row(
            "twin",
            twin,
            "P100",
            Some("aes"),
            Some("office"),
            Some(&fault),
        ),
        http_row(
            "old-twin",
            old_twin,
            "HS100(UK)",
            Some("klap"),
            Some("office"),
            Some(&fault),
        ),
    ])
    .await;
    for (host, kind) in [
        (first, ProtocolKind::SmartKlap),
        (twin, ProtocolKind::SmartAes),
        (old_twin, ProtocolKind::IotKlapV1),
    ] {
        let info = device_client(host, kind).info().await.unwrap();
        assert_eq!(info.mac.replace('-', ":"), SHARED, "{host}: {}", info.mac);
        for port in [20002, 20004] {
            let (_, v, _) = discover(host, port, &probe())
                .await
                .unwrap_or_else(|| panic!("{host}:{port} answers"));
            assert_eq!(
                v["result"]["mac"],
                SHARED.replace(':', "-"),
                "{host}:{port}"
            );
        }
    }
    lab.sim.shutdown().await;
}

// ----- discovery on 20002 / 20004 -------------------------------------------------------------

/// A probe laid out as python-kasa's: version 2, op code 1, flags 0x11, a serial, the CRC
/// placeholder, then JSON with an RSA key.
fn probe() -> Vec<u8> {
    let body = serde_json::to_vec(&json!({"params": {"rsa_key": client_public_pem()}})).unwrap();
    let mut p = vec![2, 0, 0, 1];
    p.extend((body.len() as u16).to_be_bytes());
    p.extend([0x11, 0, 0x12, 0x34, 0x56, 0x78, 0x5a, 0x6b, 0x7c, 0x8d]);
    p.extend(body);
    p
}

/// Sends `datagram` to `host:port`; the reply's source, header and JSON, or `None` after a
/// second of silence.
async fn discover(
    host: IpAddr,
    port: u16,
    datagram: &[u8],
) -> Option<(SocketAddr, Value, Vec<u8>)> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(datagram, SocketAddr::new(host, port))
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, from) = tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    let header = buf[..16].to_vec();
    let json = serde_json::from_slice(&buf[16..n]).unwrap();
    Some((from, json, header))
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_is_answered_on_20002_and_20004_from_the_port_asked_with_the_http_port() {
    let (smart, iot, xor) = (ip(FILE, 14, 1), ip(FILE, 14, 2), ip(FILE, 14, 3));
    let lab = Lab::start(&[
        http_row("tapo", smart, "P110(UK)", None, Some("office"), None),
        http_row("old", iot, "HS100(UK)", Some("klap"), Some("office"), None),
        row("legacy", xor, "HS110(EU)", None),
    ])
    .await;
    for port in [20002, 20004] {
        let (from, v, header) = discover(smart, port, &probe()).await.expect("an answer");
        assert_eq!(
            from,
            SocketAddr::new(smart, port),
            "answered from the port asked"
        );
        assert_eq!(header[..4], [2, 0, 0, 1]);
        assert_eq!(
            header[8..12],
            [0x12, 0x34, 0x56, 0x78],
            "the probe's serial"
        );
        assert_eq!(v["error_code"], 0);
        let r = &v["result"];
        assert_eq!(r["device_type"], "SMART.TAPOPLUG");
        assert_eq!(r["device_model"], "P110(UK)");
        assert_eq!(r["ip"], smart.to_string());
        assert!(r["mac"].as_str().unwrap().starts_with("48-22-54-"));
        assert_eq!(r["device_id"].as_str().unwrap().len(), 32);
        assert_eq!(
            r["mgt_encrypt_schm"],
            json!({"is_support_https": false, "encrypt_type": "KLAP", "http_port": PORT, "lv": 2})
        );
        assert_eq!(r["factory_default"], false);
        assert_eq!(r["owner"].as_str().unwrap().len(), 32);
        assert_eq!(r["obd_src"], "tplink");
    }
    // IOT over KLAP: no lv (so KLAP v1), and nothing on 9999.
    let (_, v, _) = discover(iot, 20002, &probe()).await.expect("an answer");
    assert_eq!(v["result"]["device_type"], "IOT.SMARTPLUGSWITCH");
    assert_eq!(
        v["result"]["mgt_encrypt_schm"],
        json!({"is_support_https": false, "encrypt_type": "KLAP", "http_port": PORT})
    );
    let xor_probe = fleetreset::protocol::iot::codec::encrypt(br#"{"system":{"get_sysinfo":{}}}"#);
    assert!(discover(iot, 9999, &xor_probe).await.is_none());
    // XOR devices keep answering on 9999, and not on 20002.
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(&xor_probe, SocketAddr::new(xor, 9999))
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (_, from) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from.port(), 9999);
    assert!(discover(xor, 20002, &probe()).await.is_none());
    // Garbage gets no answer and harms nothing.
    assert!(
        discover(smart, 20002, b"\x02\x00garbage that is not a probe")
            .await
            .is_none()
    );
    assert!(discover(smart, 20002, &probe()).await.is_some());
    lab.sim.shutdown().await;
}

// ----- planning -----------------------------------------------------------------------------

#[test]
fn rows_that_cannot_be_served_over_http_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::load(Some(&credentials_file(&dir)), true).unwrap();
    let cases: Vec<(Device, &str)> = vec![
        (
            http_row("a", ip(FILE, 20, 1), "P110", Some("iot"), None, None),
            "P110 is a SMART (Tapo) model",
        ),
        (
            http_row("b", ip(FILE, 20, 2), "HS100", Some("aes"), None, None),
            "aes carries SMART JSON only",
        ),
        (
            http_row("d", ip(FILE, 20, 4), "P110", None, None, Some("garbage")),
            "garbage can't apply to a KLAP or AES device",
        ),
        (
            row("e", ip(FILE, 20, 5), "HS110", Some("lockout=3")),
            "lockout can't apply to a XOR device",
        ),
        (
            http_row("f", ip(FILE, 20, 6), "P110", None, Some("west-wing"), None),
            "FLEETRESET_CRED_WEST_WING_USERNAME",
        ),
    ];
    for (device, expected) in cases {
        let problems = sim::plan_with(std::slice::from_ref(&device), &store).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.starts_with(&format!("{}: ", device.id))
                && problems[0].message.contains(expected),
            "{}",
            problems[0].message
        );
    }
    // Discovery can speak for one HTTP device per address.
    let one = http_row("g", ip(FILE, 20, 7), "P110", None, None, None);
    let mut two = http_row("h", ip(FILE, 20, 7), "P100", None, None, None);
    two.host.port = Some(8081);
    let problems = sim::plan_with(&[one, two], &store).unwrap_err();
    assert!(
        problems[0]
            .message
            .contains("already has a KLAP or AES device (g)")
    );
}

#[test]
fn models_pick_their_protocol_and_port_by_default() {
    let specs = sim::plan(&[
        row("a", ip(FILE, 21, 1), "P110(UK)", None),
        row("b", ip(FILE, 21, 2), "HS100", None),
        row("c", ip(FILE, 21, 3), "EP25", None),
    ])
    .unwrap();
    let got: Vec<(&str, u16)> = specs
        .iter()
        .map(|s| (s.transport.describe(), s.addr.port()))
        .collect();
    assert_eq!(got, [("klap v2", 80), ("tcp+udp", 9999), ("tcp+udp", 9999)]);
    let mut ep25 = row("d", ip(FILE, 21, 4), "EP25", None);
    ep25.protocol = fleetreset::inventory::ProtocolChoice::Klap;
    let spec = &sim::plan(&[ep25]).unwrap()[0];
    assert_eq!(
        spec.transport.describe(),
        "klap v2",
        "EP25 hardware 2.6 is SMART"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_naming_an_exact_protocol_are_served_in_it_and_answer() {
    let (tapo, kasa) = (ip(FILE, 29, 1), ip(FILE, 29, 2));
    let lab = Lab::start(&[
        http_row(
            "tapo",
            tapo,
            "P110(UK)",
            Some("smart-klap"),
            Some("office"),
            None,
        ),
        http_row(
            "kasa",
            kasa,
            "HS100(UK)",
            Some("IOT-KLAP-V2"),
            Some("office"),
            None,
        ),
    ])
    .await;

    // SMART JSON over KLAP v2, from a client built from the cipher.
    let mut client = klap(at(tapo), Version::V2, USER, PASS).await.unwrap();
    let info = client
        .call(&json!({"method": "get_device_info", "request_time_milis": 1, "terminal_uuid": "x"}))
        .await
        .unwrap();
    assert_eq!(info["error_code"], 0, "{info}");
    assert_eq!(info["result"]["model"], "P110");
    assert_eq!(info["result"]["nickname"], B64.encode("tapo"));

    // IOT JSON over KLAP v2: v1 hashes don't prove its account, v2 ones do.
    assert_eq!(
        klap(at(kasa), Version::V1, USER, PASS).await.err(),
        Some(403)
    );
    let mut client = klap(at(kasa), Version::V2, USER, PASS).await.unwrap();
    let reply = client
        .call(&json!({"system": {"get_sysinfo": {}}}))
        .await
        .unwrap();
    let sys = &reply["system"]["get_sysinfo"];
    assert_eq!(sys["err_code"], 0, "{reply}");
    assert_eq!(sys["alias"], "kasa");
    assert_eq!(sys["hw_ver"], "4.1", "the KLAP hardware revision's capture");
    // Discovery says login version 2, which is what makes `run` pick iot-klap-v2.
    let (_, v, _) = discover(kasa, 20002, &probe()).await.expect("an answer");
    assert_eq!(v["result"]["device_type"], "IOT.SMARTPLUGSWITCH");
    assert_eq!(
        v["result"]["mgt_encrypt_schm"],
        json!({"is_support_https": false, "encrypt_type": "KLAP", "http_port": PORT, "lv": 2})
    );

    // And both answer the project's own client as `run` builds it from those words.
    for (host, protocol, kind) in [
        (tapo, ProtocolKind::SmartKlap, "SMART.TAPOPLUG"),
        (kasa, ProtocolKind::IotKlapV2, "IOT.SMARTPLUGSWITCH"),
    ] {
        let info = device_client(host, protocol).info().await.unwrap();
        assert_eq!(info.kind, kind, "{protocol}");
    }
    lab.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_http_port_80_is_served_by_root_and_explained_to_everyone_else() {
    let host = ip(FILE, 22, 1);
    let specs = sim::plan(&[row("p80", host, "P100", None)]).unwrap();
    // Whether port 80 binds depends on who runs the tests: root may, anyone else may not.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        .unwrap_or(false);
    match Simulator::start(specs, SCALE).await {
        Ok(sim) => {
            assert!(root, "port 80 bound without root");
            assert!(TcpStream::connect(SocketAddr::new(host, 80)).await.is_ok());
            sim.shutdown().await;
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!root, "root could not bind port 80: {msg}");
            assert!(msg.contains("ports below 1024 need root"), "{msg}");
            assert!(msg.contains(&format!("{host}:8080")), "{msg}");
        }
    }
}

// ----- the binary ------------------------------------------------------------------------

#[test]
fn simulate_lists_each_devices_protocol_and_port_and_never_prints_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.toml");
    std::fs::write(
        &creds,
        "[profiles.office]\nusername = \"owner@example.com\"\npassword = \"hunter2-SIMULATED\"\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (a, b, c) = (ip(FILE, 23, 1), ip(FILE, 23, 2), ip(FILE, 23, 3));
    let inv = dir.path().join("fleet.csv");
    std::fs::write(
        &inv,
        format!(
            "id,host,model,credentials,protocol,sim_fault\n\
             plug-9,{a}:{PORT},P110(UK),office,,lockout=1\n\
             old-plug,{b}:{PORT},HS100(UK),office,klap,\n\
             legacy,{c},HS110(EU),,,\n"
        ),
    )
    .unwrap();
    let mut child = common::fleetreset()
        .args(["-vv", "simulate", "--time-scale", "0.01", "--credentials"])
        .arg(&creds)
        .arg(&inv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut guard = common::KillOnDrop(child);
    let mut listing = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("simulating ");
        listing.push(line);
        if done {
            break;
        }
    }
    let find = |needle: &str| {
        listing
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in {listing:#?}"))
            .clone()
    };
    let plug = find(&format!("{a}:{PORT}"));
    assert!(
        plug.contains("P110(UK)") && plug.contains("plug-9"),
        "{plug}"
    );
    assert!(
        plug.contains("klap v2 + udp 20002/20004  faults: lockout=1"),
        "{plug}"
    );
    assert!(find(&format!("{b}:{PORT}")).contains("klap v1 + udp 20002/20004"));
    assert!(find(&format!("{c}:9999")).contains("tcp+udp"));
    // A failed login is logged; the password never is.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert!(
            klap(
                SocketAddr::new(a, PORT),
                Version::V2,
                "owner@example.com",
                "nope"
            )
            .await
            .is_err()
        );
    });
    let _ = guard.0.kill();
    let _ = guard.0.wait();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut err).unwrap();
    assert!(err.contains("login failed"), "{err}");
    for text in listing.iter().map(String::as_str).chain([err.as_str()]) {
        assert!(!text.contains("hunter2"), "{text}");
    }
}

/// After a reboot the device's sessions are gone: a command pinned to the session its
/// identity was read on is not sent, rather than handshaking anew with whatever answers.
async fn refuses_a_new_session(lab: &Lab, id: &str, host: IpAddr, kind: ProtocolKind) {
    let addr = at(host);
    let mut checked = device_client(host, kind);
    checked.info().await.unwrap();
    let boots = lab.boots(addr);
    assert_eq!(
        device_client(host, kind).reboot().await.unwrap(),
        Ack::Acknowledged,
        "{id}"
    );
    wait_online(lab, addr, boots + 1).await;
    checked.pin();
    let err = checked.factory_reset().await.unwrap_err();
    assert!(matches!(err, DeviceError::NotSent { .. }), "{id}: {err:?}");
    assert_eq!(
        lab.journaled(id, "reset"),
        0,
        "{id}: the reset reached the device"
    );
    // A query still logs in again on the same client; the device is there and unchanged.
    assert!(checked.info().await.is_ok(), "{id}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_command_is_not_sent_on_a_new_session_over_every_http_protocol() {
    let devices = one_of_each(28, "");
    let rows: Vec<Device> = devices.iter().map(|(d, _)| d.clone()).collect();
    let lab = Lab::start(&rows).await;
    let checks = devices
        .iter()
        .map(|(d, kind)| refuses_a_new_session(&lab, &d.id, d.host.ip().unwrap(), *kind));
    futures::future::join_all(checks).await;
    lab.sim.shutdown().await;
}
