use serde_json::json;

use super::*;

#[test]
fn discover_tells_tpap_firmware_from_older_and_from_a_locked_device() {
    let tpap = json!({"error_code": 0, "result": {"sub_method": "discover", "tpap_preferred": true,
        "mac": "AABBCCDDEEFF", "tpap": {"tls": 0, "dac": 0, "noc": 0, "pake": [2], "port": 80}}});
    let Discovered::Tpap(a) = parse_discover(&tpap).unwrap() else {
        panic!("a tpap object is TPAP");
    };
    assert_eq!((a.tls, a.port_or_default(), a.refusal()), (0, 80, None));
    assert_eq!(
        parse_discover(&json!({"error_code": 1003})).unwrap(),
        Discovered::NotTpap
    );
    assert_eq!(
        parse_discover(&json!({"error_code": 0, "result": {}})).unwrap(),
        Discovered::NotTpap
    );
    let locked =
        json!({"error_code": -2101, "error_info": {"lockedMinute": 27, "remainAttempts": 0}});
    let Discovered::Locked(c) = parse_discover(&locked).unwrap() else {
        panic!("-2101 is locked");
    };
    assert_eq!((c.locked_minute, c.remain_attempts), (Some(27), Some(0)));
    assert!(parse_discover(&json!({"result": {}})).is_err());
    assert!(parse_discover(&json!({"error_code": 0, "result": {"tpap": {"tls": "x"}}})).is_err());
}

#[test]
fn tls_2_and_passcodes_other_than_the_account_password_are_refused_saying_what_is_needed() {
    let a = |tls: i64, pake: Vec<i64>| Announce {
        tls,
        dac: 0,
        noc: 0,
        pake,
        port: None,
    };
    assert!(
        a(2, vec![2])
            .refusal()
            .unwrap()
            .contains("cloud-issued certificates")
    );
    assert!(
        a(0, vec![0, 3])
            .refusal()
            .unwrap()
            .contains("account password (2) only")
    );
    assert!(a(7, vec![2]).refusal().is_some());
    assert_eq!(a(1, vec![0, 2]).refusal(), None);
    assert_eq!(a(1, vec![2]).port_or_default(), 443);
}

#[test]
fn register_names_admin_suite_1_and_ccm_and_its_reply_is_checked() {
    let req: Value = serde_json::from_slice(&register(&[7; 32])).unwrap();
    assert_eq!(req["params"]["username"], USERNAME);
    assert_eq!(
        crate::protocol::tpap::credential::md5_hex("admin"),
        USERNAME,
        "md5(admin)"
    );
    assert_eq!(req["params"]["cipher_suites"], json!([1]));
    assert_eq!(req["params"]["encryption"], json!(["aes_128_ccm"]));
    assert_eq!(
        B64.decode(req["params"]["user_random"].as_str().unwrap())
            .unwrap(),
        [7; 32]
    );
    let good = json!({"dev_random": B64.encode([1u8; 32]), "dev_salt": B64.encode(b"salt"),
        "dev_share": B64.encode([4u8; 65]), "cipher_suites": 1, "iterations": 3000,
        "encryption": "aes_128_ccm",
        "extra_crypt": {"type": "password_shadow", "params": {"passwd_id": 2}}});
    let r = parse_register(&good).unwrap();
    assert_eq!((r.iterations, r.dev_salt.as_slice()), (3000, &b"salt"[..]));
    assert!(r.extra_crypt.is_some());
    for (field, value, says) in [
        ("dev_random", json!(B64.encode([1u8; 31])), "31 bytes"),
        ("cipher_suites", json!(2), "cipher suite"),
        ("encryption", json!("aes_256_gcm"), "encryption"),
        ("iterations", json!(0), "iterations"),
        ("iterations", json!(100_001), "iterations"),
        ("dev_salt", json!("not base64!"), "base64"),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let e = parse_register(&bad).unwrap_err();
        assert!(e.contains(says), "{field}: {e}");
    }
}

#[test]
fn share_reply_needs_a_confirmation_a_plain_stok_and_a_start_seq() {
    let good = json!({"dev_confirm": B64.encode([9u8; 32]), "stok": "ab12CD", "start_seq": 100});
    let s = parse_share(&good).unwrap();
    assert_eq!((s.stok.as_str(), s.start_seq), ("ab12CD", 100));
    let mut other = good.clone();
    other["stok"] = json!("../admin");
    assert!(parse_share(&other).is_err(), "a stok goes into a path");
    other["stok"] = Value::Null;
    other["sessionId"] = json!("S1");
    assert_eq!(parse_share(&other).unwrap().stok, "S1");
    let mut none = good.clone();
    none["start_seq"] = json!(-1);
    assert!(parse_share(&none).is_err());
}

#[test]
fn counters_are_read_from_error_info_and_described_for_the_audit() {
    let reply = json!({"error_code": -2203,
        "error_info": {"lockedMinute": 0, "failedAttempts": 1, "remainAttempts": 14}});
    let c = Counters::of(&reply);
    assert_eq!(
        c.describe(),
        "remainAttempts 14, failedAttempts 1, lockedMinute 0"
    );
    assert_eq!(
        Counters::of(&json!({"error_code": -2203})).describe(),
        "the device sent no lockout counters"
    );
}
