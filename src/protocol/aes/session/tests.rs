use super::*;

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        cookies: vec![],
        body: bytes::Bytes::from(body.to_owned()),
    }
}

fn fixed() -> PassthroughCipher {
    PassthroughCipher::from_key_and_iv(&(0u8..32).collect::<Vec<_>>()).unwrap()
}

#[test]
fn passthrough_replies_decrypt_and_session_ends_are_told_apart() {
    let c = fixed();
    let inner = br#"{"error_code":0,"result":{"device_on":true}}"#;
    let ok = format!(
        r#"{{"error_code":0,"result":{{"response":"{}"}}}}"#,
        c.encrypt(inner)
    );
    assert_eq!(
        passthrough_reply("t", &c, &reply(200, &ok)).ok(),
        Some(inner.to_vec())
    );
    for ended in [reply(403, ""), reply(200, r#"{"error_code":9999}"#)] {
        assert!(matches!(
            passthrough_reply("t", &c, &ended),
            Err(Retry::SessionEnded(_))
        ));
    }
    assert!(matches!(
        passthrough_reply("t", &c, &reply(200, r#"{"error_code":-40404}"#)),
        Err(Retry::Fail(DeviceError::Blocked { .. }))
    ));
    assert!(matches!(
        passthrough_reply("t", &c, &reply(500, "")),
        Err(Retry::Fail(DeviceError::Device { code: 500, .. }))
    ));
}

#[test]
fn a_clear_json_response_inside_the_passthrough_is_accepted() {
    let clear = r#"{"error_code":0,"result":{"response":"{\"error_code\":0}"}}"#;
    assert_eq!(
        passthrough_reply("t", &fixed(), &reply(200, clear)).ok(),
        Some(br#"{"error_code":0}"#.to_vec())
    );
}

#[tokio::test]
async fn the_process_key_makes_a_314_byte_handshake_and_unwraps_what_is_sealed_to_it() {
    let (key, pem) = key_pair().await.unwrap();
    assert_eq!(cipher::handshake_body(pem).len(), 314);
    let sealed = key
        .to_public_key()
        .encrypt(&mut rand::rngs::OsRng, Pkcs1v15Encrypt, &[7u8; 32])
        .unwrap();
    assert_eq!(key.decrypt(Pkcs1v15Encrypt, &sealed).unwrap(), [7u8; 32]);
    // Generated once per process.
    assert!(std::ptr::eq(key, &key_pair().await.unwrap().0));
}

/// A tiny AES device on the shared test responder; `inner` answers the SMART requests
/// (an echo of the method when unset).
pub(crate) mod device {
    use super::super::cipher::{LoginParams, LoginVersion, PassthroughCipher};
    use crate::credentials::Credentials;
    use crate::protocol::http::tests::responder::{self, Req, Resp};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    pub struct State {
        /// The logins the device accepts.
        pub accepts: Vec<Credentials>,
        /// An error code to answer every refused login with (default -1501).
        pub refuse_with: Option<i64>,
        pub expire_once: bool,
        pub handshake_lengths: Vec<usize>,
        pub logins: usize,
        pub requests: Vec<String>,
        pub inner: Option<Inner>,
    }

    /// Answers one SMART request (the decrypted inner JSON) with its response.
    pub type Inner = Box<dyn Fn(&Value) -> Value + Send>;

    pub async fn spawn(state: State) -> (std::net::SocketAddr, Arc<Mutex<State>>) {
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let addr = responder::spawn(move |req| Some(answer(&shared, req))).await;
        (addr, state)
    }

    fn cipher() -> PassthroughCipher {
        PassthroughCipher::from_key_and_iv(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    fn ok(v: Value) -> Resp {
        Resp {
            status: 200,
            headers: vec!["set-cookie: TP_SESSIONID=A1".into()],
            body: v.to_string().into_bytes(),
        }
    }

    fn sealed(inner: Value) -> Resp {
        ok(
            json!({"error_code":0,"result":{"response":cipher().encrypt(inner.to_string().as_bytes())}}),
        )
    }

    fn answer(state: &Mutex<State>, req: Req) -> Resp {
        let mut s = state.lock().unwrap();
        let outer: Value = serde_json::from_slice(&req.body).unwrap();
        if outer["method"] == "handshake" {
            s.handshake_lengths.push(req.body.len());
            let pem = outer["params"]["key"].as_str().unwrap();
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let key = RsaPublicKey::from_public_key_der(&B64.decode(b64).unwrap()).unwrap();
            let wrapped = key
                .encrypt(
                    &mut rand::rngs::OsRng,
                    Pkcs1v15Encrypt,
                    &(0u8..32).collect::<Vec<_>>(),
                )
                .unwrap();
            return ok(json!({"error_code":0,"result":{"key":B64.encode(wrapped)}}));
        }
        assert!(req.head.contains("cookie: tp_sessionid=a1"), "{}", req.head);
        assert!(req.head.contains("requestbyapp: true"), "{}", req.head);
        let inner = cipher()
            .decrypt(outer["params"]["request"].as_str().unwrap())
            .unwrap();
        let inner: Value = serde_json::from_slice(&inner).unwrap();
        if inner["method"] == "login_device" {
            s.logins += 1;
            let accepted = s.accepts.iter().any(|c| {
                serde_json::to_value(LoginParams::new(LoginVersion::V2, c)).unwrap()
                    == inner["params"]
            });
            return if accepted {
                sealed(json!({"error_code":0,"result":{"token":"T0K3N"}}))
            } else {
                sealed(json!({"error_code": s.refuse_with.unwrap_or(-1501)}))
            };
        }
        assert!(req.path.ends_with("?token=t0k3n"), "{}", req.path);
        if std::mem::take(&mut s.expire_once) {
            return ok(json!({"error_code":9999}));
        }
        s.requests
            .push(inner["method"].as_str().unwrap_or("").to_owned());
        match &s.inner {
            Some(f) => sealed(f(&inner)),
            None => sealed(json!({"error_code":0,"result":{"echo":inner["method"]}})),
        }
    }
}

fn quick() -> Timeouts {
    Timeouts {
        connect: std::time::Duration::from_secs(2),
        request: std::time::Duration::from_secs(5),
    }
}

fn owner() -> Credentials {
    Credentials::new("owner@example.com", "pw-owner")
}

const GET: &[u8] = br#"{"method":"get_device_info"}"#;

#[tokio::test]
async fn a_request_goes_through_handshake_login_and_passthrough() {
    let (addr, state) = device::spawn(device::State {
        accepts: vec![owner()],
        ..Default::default()
    })
    .await;
    let mut c = AesClient::new(addr, Some(owner()), quick());
    let reply = c.request(GET).await.unwrap();
    assert_eq!(
        reply,
        br#"{"error_code":0,"result":{"echo":"get_device_info"}}"#
    );
    c.request(GET).await.unwrap();
    let s = state.lock().unwrap();
    assert_eq!(s.handshake_lengths, [314]);
    assert_eq!(s.logins, 1);
    assert_eq!(s.requests, ["get_device_info", "get_device_info"]);
}

#[tokio::test]
async fn without_a_profile_a_refused_blank_login_falls_back_to_the_tapo_default() {
    let (addr, state) = device::spawn(device::State {
        accepts: vec![Credentials::new(TAPO_DEFAULT.0, TAPO_DEFAULT.1)],
        ..Default::default()
    })
    .await;
    let mut c = AesClient::new(addr, None, quick());
    c.request(GET).await.unwrap();
    let s = state.lock().unwrap();
    assert_eq!((s.handshake_lengths.len(), s.logins), (2, 2));
}

#[tokio::test]
async fn a_refused_profile_costs_the_device_one_failed_login_only() {
    let (addr, state) = device::spawn(device::State::default()).await;
    let err = AesClient::new(addr, Some(owner()), quick())
        .request(GET)
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::Auth { .. }), "{err}");
    let shown = err.to_string();
    assert!(
        shown.contains("case-sensitive") && !shown.contains("pw-owner"),
        "{shown}"
    );
    assert_eq!(state.lock().unwrap().logins, 1);
}

#[tokio::test]
async fn a_locked_device_is_blocked_and_gets_no_second_login() {
    let (addr, state) = device::spawn(device::State {
        refuse_with: Some(-40404),
        ..Default::default()
    })
    .await;
    let err = AesClient::new(addr, Some(owner()), quick())
        .request(GET)
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::Blocked { .. }), "{err}");
    assert!(
        err.to_string().contains("wait before trying again"),
        "{err}"
    );
    assert_eq!(state.lock().unwrap().logins, 1);
}

#[tokio::test]
async fn an_expired_session_is_renewed_once_and_the_request_repeated() {
    let (addr, state) = device::spawn(device::State {
        accepts: vec![owner()],
        expire_once: true,
        ..Default::default()
    })
    .await;
    let mut c = AesClient::new(addr, Some(owner()), quick());
    let sent = c.command("device_reset", GET).await.unwrap();
    assert!(matches!(sent, Sent::Reply(_)), "{sent:?}");
    let s = state.lock().unwrap();
    assert_eq!((s.logins, s.requests.len()), (2, 1));
}
