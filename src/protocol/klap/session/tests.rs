use std::time::Duration;

use super::*;

fn client(creds: Option<Credentials>) -> KlapClient {
    KlapClient::new(
        "127.0.0.1:80".parse().unwrap(),
        Version::V2,
        creds,
        Timeouts::default(),
    )
}

#[test]
fn the_candidates_are_the_profile_then_blank_then_the_kasa_default() {
    let labels = |c: &KlapClient| {
        c.candidates()
            .into_iter()
            .map(|(l, _)| l)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        labels(&client(Some(Credentials::new("a@b.c", "pw")))),
        [
            "the profile's credentials",
            "blank credentials",
            "the Kasa default credentials"
        ]
    );
    assert_eq!(
        labels(&client(None)),
        ["blank credentials", "the Kasa default credentials"]
    );
    assert_eq!(
        labels(&client(Some(Credentials::blank()))),
        ["the profile's credentials", "the Kasa default credentials"]
    );
}

#[test]
fn debug_output_and_auth_errors_never_show_the_password() {
    let c = client(Some(Credentials::new(
        "owner@example.com",
        "hunter2-SECRET",
    )));
    let shown = format!("{c:?} {}", c.no_match_detail());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("owner@example.com"), "{shown}");
    assert!(shown.contains("case-sensitive"), "{shown}");
}

/// A tiny KLAP v2 device, enough to drive the client through its paths. The full device
/// lives in the simulator; this one only answers what these tests need.
mod device {
    use super::super::cipher::{self, Session, Version};
    use crate::protocol::http::tests::responder::{self, Req, Resp};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    pub struct State {
        pub auth: Vec<u8>,
        pub paths: Vec<String>,
        pub forbid_requests: usize,
        pub tamper: bool,
        pub drop_requests: bool,
        seeds: Option<(Vec<u8>, Vec<u8>)>,
        session: Option<Session>,
    }

    pub async fn spawn(user: &str, pass: &str) -> (std::net::SocketAddr, Arc<Mutex<State>>) {
        let state = Arc::new(Mutex::new(State {
            auth: cipher::auth_hash(Version::V2, user, pass),
            ..State::default()
        }));
        let shared = state.clone();
        let addr = responder::spawn(move |req| answer(&shared, req)).await;
        (addr, state)
    }

    fn resp(status: u16, body: Vec<u8>) -> Option<Resp> {
        Some(Resp {
            status,
            headers: vec![],
            body,
        })
    }

    fn answer(state: &Mutex<State>, req: Req) -> Option<Resp> {
        let mut s = state.lock().unwrap();
        let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        s.paths.push(path.to_owned());
        let has_cookie = req.head.contains("cookie: tp_sessionid=s1");
        match path {
            "/app/handshake1" => {
                let remote: Vec<u8> = (16u8..32).collect();
                let hash = cipher::server_hash(Version::V2, &req.body, &remote, &s.auth);
                let mut body = remote.clone();
                body.extend(hash);
                s.seeds = Some((req.body, remote));
                Some(Resp {
                    status: 200,
                    headers: vec!["set-cookie: TP_SESSIONID=S1;TIMEOUT=86400".into()],
                    body,
                })
            }
            "/app/handshake2" => {
                let (local, remote) = s.seeds.clone()?;
                let ok = has_cookie
                    && req.body == cipher::client_hash(Version::V2, &local, &remote, &s.auth);
                if ok {
                    s.session = Some(Session::new(&local, &remote, &s.auth));
                }
                resp(if ok { 200 } else { 400 }, vec![])
            }
            "/app/request" => {
                if s.forbid_requests > 0 || !has_cookie || s.session.is_none() {
                    s.forbid_requests = s.forbid_requests.saturating_sub(1);
                    s.session = None;
                    return resp(403, vec![]);
                }
                if s.drop_requests {
                    return None;
                }
                let seq: i32 = query.strip_prefix("seq=")?.parse().ok()?;
                let session = s.session.as_ref()?;
                let plain = session.open(seq, &req.body).ok()?;
                let reply = format!(r#"{{"error_code":0,"result":{{"len":{}}}}}"#, plain.len());
                let mut sealed = session.seal(seq, reply.as_bytes());
                if s.tamper {
                    sealed[0] ^= 1;
                }
                resp(200, sealed)
            }
            _ => resp(404, vec![]),
        }
    }
}

fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
    }
}

const OWNER: (&str, &str) = ("owner@example.com", "pw-owner");

fn klap(addr: SocketAddr, creds: Option<(&str, &str)>) -> KlapClient {
    KlapClient::new(
        addr,
        Version::V2,
        creds.map(|(u, p)| Credentials::new(u, p)),
        quick(),
    )
}

fn paths(state: &std::sync::Mutex<device::State>) -> Vec<String> {
    state.lock().unwrap().paths.clone()
}

#[tokio::test]
async fn a_request_goes_through_both_handshakes_and_comes_back_verified() {
    let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
    let mut c = klap(addr, Some(OWNER));
    let reply = c.request(br#"{"method":"get_device_info"}"#).await.unwrap();
    assert_eq!(reply, br#"{"error_code":0,"result":{"len":28}}"#);
    // The session is reused.
    c.request(b"{}").await.unwrap();
    assert_eq!(
        paths(&state),
        [
            "/app/handshake1",
            "/app/handshake2",
            "/app/request",
            "/app/request"
        ]
    );
}

#[tokio::test]
async fn an_unbound_device_is_reached_with_blank_credentials() {
    let (addr, _state) = device::spawn("", "").await;
    let mut c = klap(addr, Some(OWNER));
    assert!(c.request(b"{}").await.is_ok());
    let mut c = klap(addr, None);
    assert!(c.request(b"{}").await.is_ok());
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error_and_no_handshake2_is_sent() {
    let (addr, state) = device::spawn(OWNER.0, "the-real-password").await;
    let err = klap(addr, Some(OWNER)).request(b"{}").await.unwrap_err();
    assert!(matches!(err, DeviceError::Auth { .. }), "{err}");
    assert_eq!(err.reason(), crate::model::Reason::AuthFailed);
    assert!(!err.to_string().contains("pw-owner"), "{err}");
    assert_eq!(paths(&state), ["/app/handshake1"]);
}

#[tokio::test]
async fn a_response_with_a_bad_signature_is_malformed() {
    let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
    state.lock().unwrap().tamper = true;
    let err = klap(addr, Some(OWNER)).request(b"{}").await.unwrap_err();
    assert!(matches!(err, DeviceError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("signature"), "{err}");
}

#[tokio::test]
async fn a_forgotten_session_is_renewed_once_and_the_request_repeated_once() {
    let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
    state.lock().unwrap().forbid_requests = 1;
    let mut c = klap(addr, Some(OWNER));
    let sent = c.command("reset", b"{}").await.unwrap();
    assert!(matches!(sent, Sent::Reply(_)), "{sent:?}");
    assert_eq!(
        paths(&state),
        [
            "/app/handshake1",
            "/app/handshake2",
            "/app/request",
            "/app/handshake1",
            "/app/handshake2",
            "/app/request"
        ]
    );
    // A device that keeps refusing gets one renewal, then an error.
    state.lock().unwrap().forbid_requests = 5;
    let err = c.request(b"{}").await.unwrap_err();
    assert!(
        matches!(err, DeviceError::Device { code: 403, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_command_whose_connection_drops_after_sending_is_sent_without_ack_and_not_repeated() {
    let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
    let mut c = klap(addr, Some(OWNER));
    c.request(b"{}").await.unwrap();
    state.lock().unwrap().drop_requests = true;
    let sent = c.command("reboot", b"{}").await.unwrap();
    assert!(matches!(sent, Sent::NoReply { .. }), "{sent:?}");
    let requests = paths(&state)
        .iter()
        .filter(|p| *p == "/app/request")
        .count();
    assert_eq!(requests, 2);
    // A query that loses its answer is an error, not an acknowledgement.
    let err = c.request(b"{}").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = klap(addr, None).request(b"{}").await.unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable { .. }), "{err}");
}
