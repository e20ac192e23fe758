//! The simulated cameras' device side, driven without sockets by a client built here from the
//! pure SslAes and LINKIE2 pieces.

use std::time::Instant;

use serde_json::{Value, json};

use super::super::account::Account;
use super::super::fault::Faults;
use super::super::model::HttpReply;
use super::super::state::{Effect, Identity};
use super::{CamHttpRequest, CameraProfile, CameraState};
use crate::credentials::Credentials;
use crate::protocol::linkie2::auth::Encoding;
use crate::protocol::linkie2::codec;
use crate::protocol::sslaes::cipher::{self, PwdHash};
use crate::protocol::sslaes::messages;

const PASS: &str = "camera-secret";
const CNONCE: &str = "0011223344556677";

fn camera(model: &str, faults: &str) -> (CameraState, Account) {
    let faults = Faults::parse(faults).unwrap();
    let identity = Identity {
        model: model.into(),
        alias: "hall".into(),
        mac: "40:AE:30:00:00:01".parse().unwrap(),
        device_id: "AB".repeat(20),
        hw_id: "CD".repeat(16),
    };
    let account = Account::new(Some(Credentials::new("owner@example.com", PASS)), &faults);
    let cam = CameraState::new(
        CameraProfile::for_model(model).unwrap(),
        identity,
        faults,
        true,
        0.01,
        Instant::now(),
    );
    (cam, account)
}

fn post(
    cam: &mut CameraState,
    acct: &mut Account,
    req: CamHttpRequest<'_>,
) -> (HttpReply, Option<Effect>) {
    match cam.profile.kind {
        super::CameraKind::Tapo => {
            cam.tapo_http(acct, &req, Instant::now(), &mut rand::thread_rng())
        }
        super::CameraKind::Kasa => cam.kasa_http(acct, &req),
    }
}

fn json_of(r: &HttpReply) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn root(body: &[u8]) -> CamHttpRequest<'_> {
    CamHttpRequest {
        path: "/",
        seq: None,
        tag: None,
        authorization: None,
        body,
    }
}

/// Logs in as `admin` with `password`: the stok, the session cipher and the pwd hash.
fn log_in(
    cam: &mut CameraState,
    acct: &mut Account,
    password: &str,
) -> Result<(String, String), Value> {
    let h1 = messages::handshake1("admin", CNONCE);
    let (r, _) = post(cam, acct, root(&h1));
    let v = json_of(&r);
    let data = &v["result"]["data"];
    let nonce = data["nonce"].as_str().ok_or(v.clone())?.to_owned();
    let pwd = PwdHash::Sha256.of(password);
    let digest = cipher::digest_passwd(&pwd, CNONCE, &nonce);
    let h2 = messages::handshake2("admin", CNONCE, &digest);
    let (r, _) = post(cam, acct, root(&h2));
    let v = json_of(&r);
    let stok = v["result"]["stok"].as_str().ok_or(v.clone())?.to_owned();
    Ok((stok, nonce))
}

fn passthrough(
    cam: &mut CameraState,
    acct: &mut Account,
    stok: &str,
    nonce: &str,
    inner: &[u8],
    seq: i64,
    tamper: bool,
) -> (Value, Option<Effect>) {
    let pwd = PwdHash::Sha256.of(PASS);
    let c = cipher::session_cipher(CNONCE, nonce, &pwd);
    let body =
        json!({"method": "securePassthrough", "params": {"request": c.encrypt(inner)}}).to_string();
    let mut tag = cipher::tag(&pwd, CNONCE, &body, seq);
    let seq = seq.to_string();
    if tamper {
        tag.replace_range(0..1, if tag.starts_with('0') { "1" } else { "0" });
    }
    let path = format!("/stok={stok}/ds");
    let (r, effect) = post(
        cam,
        acct,
        CamHttpRequest {
            path: &path,
            seq: Some(&seq),
            tag: Some(&tag),
            authorization: None,
            body: body.as_bytes(),
        },
    );
    let outer = json_of(&r);
    match outer["result"]["response"].as_str() {
        Some(sealed) => (
            serde_json::from_slice(&c.decrypt(sealed).unwrap()).unwrap(),
            effect,
        ),
        None => (outer, effect),
    }
}

#[test]
fn a_tapo_camera_proves_its_password_and_reboots_with_reboot_device_only() {
    let (mut cam, mut acct) = camera("C210", "");
    let (stok, nonce) = log_in(&mut cam, &mut acct, PASS).unwrap();
    let (info, none) = passthrough(
        &mut cam,
        &mut acct,
        &stok,
        &nonce,
        &messages::CamRequest::GetDeviceInfo.to_bytes(),
        100,
        false,
    );
    assert_eq!(none, None);
    let basic = &info["result"]["responses"][0]["result"]["device_info"]["basic_info"];
    assert_eq!(basic["device_alias"], "hall");
    assert_eq!(basic["mac"], "40-AE-30-00-00-01");
    // python-kasa's inherited reboot is not a camera method.
    let plug_reboot = br#"{"method":"multipleRequest","params":{"requests":[{"method":"device_reboot","params":{"delay":1}}]}}"#;
    let (r, none) = passthrough(&mut cam, &mut acct, &stok, &nonce, plug_reboot, 101, false);
    assert_eq!(r["result"]["responses"][0]["error_code"], -40106);
    assert_eq!(none, None);
    let (r, effect) = passthrough(
        &mut cam,
        &mut acct,
        &stok,
        &nonce,
        &messages::CamRequest::RebootDevice.to_bytes(),
        101,
        false,
    );
    // A `Seq` already used is refused, whatever its tag.
    assert_eq!(
        (r["error_code"].as_i64(), effect),
        (Some(-40210), None),
        "{r}"
    );
    let (r, effect) = passthrough(
        &mut cam,
        &mut acct,
        &stok,
        &nonce,
        &messages::CamRequest::RebootDevice.to_bytes(),
        103,
        false,
    );
    assert_eq!(r["result"]["responses"][0]["error_code"], 0);
    assert_eq!(effect, Some(Effect::Reboot { delay: 1 }));
}

#[test]
fn a_request_with_a_wrong_tag_is_refused_and_does_nothing() {
    let (mut cam, mut acct) = camera("C210", "");
    let (stok, nonce) = log_in(&mut cam, &mut acct, PASS).unwrap();
    let (r, effect) = passthrough(
        &mut cam,
        &mut acct,
        &stok,
        &nonce,
        &messages::CamRequest::RebootDevice.to_bytes(),
        100,
        true,
    );
    assert_eq!(r["error_code"], -40210, "{r}");
    assert_eq!(effect, None);
}

#[test]
fn a_wrong_digest_is_a_failed_login_and_an_unknown_user_is_not() {
    let (mut cam, mut acct) = camera("C210", "");
    assert!(log_in(&mut cam, &mut acct, "wrong").is_err());
    assert_eq!(acct.failed_logins(), 1);
    let h1 = messages::handshake1("someone", CNONCE);
    let (r, _) = post(&mut cam, &mut acct, root(&h1));
    let v = json_of(&r);
    assert_eq!(
        (
            v["error_code"].as_i64(),
            v["result"]["data"]["code"].as_i64()
        ),
        (Some(-40401), Some(-60502))
    );
    assert_eq!(acct.failed_logins(), 1);
    // After a reboot, the old session is unknown: 401 asks for a new login.
    let (stok, _) = log_in(&mut cam, &mut acct, PASS).unwrap();
    cam.booted(Instant::now());
    let path = format!("/stok={stok}/ds");
    let (r, _) = post(
        &mut cam,
        &mut acct,
        CamHttpRequest {
            path: &path,
            ..root(b"{}")
        },
    );
    assert_eq!(r.status, 401);
}

#[test]
fn a_reboot_ignored_camera_acknowledges_and_stays_up() {
    let (mut cam, mut acct) = camera("D130", "reboot_ignored");
    let (stok, nonce) = log_in(&mut cam, &mut acct, PASS).unwrap();
    let (r, effect) = passthrough(
        &mut cam,
        &mut acct,
        &stok,
        &nonce,
        &messages::CamRequest::RebootDevice.to_bytes(),
        100,
        false,
    );
    assert_eq!(r["result"]["responses"][0]["error_code"], 0);
    assert_eq!(effect, None);
}

#[test]
fn a_kasa_camera_takes_only_its_encoding_and_reboots_with_set_reboot() {
    let (mut cam, mut acct) = camera("EC60", "");
    let owner = Credentials::new("owner@example.com", PASS);
    let body = codec::encode_request(br#"{"smartlife.cam.ipcamera.system":{"set_reboot":{}}}"#);
    let default = Encoding::KasaDefault.header(None).unwrap();
    let ours = Encoding::EmailMd5.header(Some(&owner)).unwrap();
    let req = |auth| CamHttpRequest {
        path: "/data/LINKIE2.json",
        seq: None,
        tag: None,
        authorization: Some(auth),
        body: body.as_bytes(),
    };
    let (r, effect) = post(&mut cam, &mut acct, req(&default));
    assert_eq!((r.status, effect), (401, None));
    assert_eq!(acct.failed_logins(), 1);
    let (r, effect) = post(&mut cam, &mut acct, req(&ours));
    assert_eq!(r.status, 200);
    let reply: Value = serde_json::from_slice(&codec::decode_reply(&r.body).unwrap()).unwrap();
    assert_eq!(
        reply["smartlife.cam.ipcamera.system"]["set_reboot"]["err_code"],
        0
    );
    assert_eq!(effect, Some(Effect::Reboot { delay: 1 }));
}
