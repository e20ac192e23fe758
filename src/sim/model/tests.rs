use rand::SeedableRng;

use super::*;
use crate::credentials::Credentials;
use crate::sim::profile::Profile;
use crate::sim::smart_profile::SmartProfile;
use crate::sim::state::Identity;

fn identity(model: &str) -> Identity {
    Identity {
        model: model.into(),
        alias: "Lobby".into(),
        mac: "AA:BB:CC:00:00:01".parse().unwrap(),
        device_id: "80061234".into(),
        hw_id: "HW".into(),
    }
}

fn device(transport: Transport, owner: Option<Credentials>) -> SimState {
    let now = Instant::now();
    let addr: SocketAddr = "127.0.0.9:8080".parse().unwrap();
    let account = Account::new(owner.clone(), &Faults::default());
    let model = match transport {
        Transport::Xor | Transport::KlapV1 => {
            let profile = Profile::for_model_over_klap("HS100(UK)").unwrap();
            Model::Iot(
                DeviceState::new(
                    profile,
                    crate::catalog::Family::Plug,
                    identity("HS100(UK)"),
                    Faults::default(),
                    1.0,
                    now,
                )
                .with_binding(owner.is_some()),
            )
        }
        _ => Model::Smart(Box::new(SmartState::new(
            SmartProfile::for_model("P110").unwrap(),
            identity("P110(UK)"),
            addr.ip(),
            Faults::default(),
            1.0,
            now,
            owner.is_some(),
        ))),
    };
    SimState::new(model, transport, account, 1.0, addr)
}

fn post<'a>(path: &'a str, session: Option<&'a str>, body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest {
        path,
        query: None,
        session,
        body,
    }
}

#[test]
fn discovery_advertises_each_transport_with_its_port_and_binding() {
    let owner = Credentials::new("owner@example.com", "pw");
    let now = Instant::now();
    let smart = device(Transport::KlapV2, Some(owner.clone()))
        .discovery_result(now)
        .unwrap();
    assert_eq!(smart["device_model"], "P110(UK)");
    assert_eq!(smart["mac"], "AA-BB-CC-00-00-01");
    assert_eq!(smart["mgt_encrypt_schm"]["lv"], 2);
    assert_eq!(smart["mgt_encrypt_schm"]["http_port"], 8080);
    assert_eq!(smart["factory_default"], false);
    assert_eq!(smart["owner"], md5_hex("owner@example.com"));
    let aes = device(Transport::Aes, None).discovery_result(now).unwrap();
    assert_eq!(aes["mgt_encrypt_schm"]["encrypt_type"], "AES");
    assert_eq!(
        (aes["factory_default"].clone(), aes["owner"].clone()),
        (json!(true), json!(""))
    );
    let iot = device(Transport::KlapV1, Some(owner))
        .discovery_result(now)
        .unwrap();
    assert_eq!(iot["device_type"], "IOT.SMARTPLUGSWITCH");
    assert_eq!(iot["hw_ver"], "4.1");
    assert!(iot["mgt_encrypt_schm"].get("lv").is_none(), "KLAP v1");
    assert!(device(Transport::Xor, None).discovery_result(now).is_none());
}

#[test]
fn a_klap_device_answers_the_three_endpoints_and_nothing_else() {
    let mut d = device(Transport::KlapV2, None);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let now = Instant::now();
    let local = [3u8; 16];
    let (h1, _) = d.http(&post("/app/handshake1", None, &local), now, &mut rng);
    assert_eq!((h1.status, h1.body.len()), (200, 48));
    let id = h1.cookies[0]
        .strip_prefix("TP_SESSIONID=")
        .unwrap()
        .to_string();
    assert_eq!(h1.cookies[1], "TIMEOUT=86400");
    let blank = cipher::auth_hash(Version::V2, "", "");
    let proof = cipher::client_hash(Version::V2, &local, &h1.body[..16], &blank);
    let (h2, _) = d.http(&post("/app/handshake2", Some(&id), &proof), now, &mut rng);
    assert_eq!(h2.status, 200);
    let mut client = cipher::Session::new(&local, &h1.body[..16], &blank);
    let (seq, body) = client.next_request(br#"{"method":"device_reboot","params":{"delay":2}}"#);
    let query = format!("seq={seq}");
    let req = HttpRequest {
        query: Some(&query),
        ..post("/app/request", Some(&id), &body)
    };
    let (reply, effect) = d.http(&req, now, &mut rng);
    assert_eq!(reply.status, 200);
    assert_eq!(
        client.open(seq, &reply.body).unwrap(),
        br#"{"error_code":0}"#
    );
    assert_eq!(effect, Some(Effect::Reboot { delay: 2 }));
    let missing_seq = post("/app/request", Some(&id), &body);
    assert_eq!(d.http(&missing_seq, now, &mut rng).0.status, 400);
    assert_eq!(
        d.http(&post("/app", None, b"{}"), now, &mut rng).0.status,
        404
    );
    d.booted(now);
    assert_eq!(
        d.http(&req, now, &mut rng).0.status,
        403,
        "sessions die at boot"
    );
    assert_eq!(d.boots, 1);
}

#[test]
fn query_params_are_found_by_name_including_negative_numbers() {
    assert_eq!(
        query_param(Some("seq=-903964343"), "seq"),
        Some("-903964343")
    );
    assert_eq!(query_param(Some("a=1&token=AB"), "token"), Some("AB"));
    assert_eq!(query_param(Some("token"), "token"), None);
    assert_eq!(query_param(None, "seq"), None);
}

#[test]
fn transports_describe_themselves_and_know_their_default_ports() {
    assert_eq!(Transport::Xor.default_port(), 9999);
    assert_eq!(Transport::Aes.default_port(), 80);
    assert_eq!(Transport::KlapV2.describe(), "klap v2");
    assert!(!Transport::Xor.is_http() && Transport::KlapV1.is_http());
}
