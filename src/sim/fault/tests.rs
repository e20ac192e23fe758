use crate::protocol::iot::codec;
use serde_json::json;

use super::*;

#[test]
fn every_fault_parses_and_describes_itself_back() {
    let spec = "offline;slow=1500;drop_mid_reply;half_frame;trickle;garbage;invalid_json;wrong_shape;oversized;huge_reply;reboot_never_returns;reset_stays;button_only;reset_refused=-7;mac=AA:BB:CC:DD:EE:FF;auth_fail;lockout=3;announce=klap";
    let f = Faults::parse(spec).unwrap();
    assert!(
        f.offline
            && f.drop_mid_reply
            && f.garbage
            && f.oversized
            && f.reboot_never_returns
            && f.reset_stays
    );
    assert!(f.half_frame && f.trickle && f.invalid_json && f.wrong_shape && f.huge_reply);
    assert!(f.button_only);
    assert_eq!(f.slow, Some(Duration::from_millis(1500)));
    assert_eq!(f.reset_refused, Some(Refusal(Some(-7))));
    assert_eq!(f.mac.unwrap().to_string(), "AA:BB:CC:DD:EE:FF");
    assert!(f.auth_fail);
    assert_eq!(f.lockout, Some(3));
    assert_eq!(f.announce, Some(Announced::Klap));
    assert_eq!(f.describe(), spec);
    assert_eq!(Faults::parse(&f.describe()).unwrap(), f);
    assert_eq!(f.xor_only().len(), 8);
    assert_eq!(f.login_only(), ["auth_fail", "lockout"]);
    assert!(
        Faults::parse("slow=5;mac=AA:BB:CC:DD:EE:FF;reset_stays")
            .unwrap()
            .xor_only()
            .is_empty()
    );
    // The new faults contradict two of the above, so they describe themselves apart.
    let spec = r"reboot_ignored;reset_refused;leave_after=40;err_msg=\e[2J\e[H[ 9/9] forged\; succeeded\nnext\\done\x07";
    let f = Faults::parse(spec).unwrap();
    assert!(f.reboot_ignored);
    assert_eq!(f.leave_after, Some(40));
    assert_eq!(
        f.err_msg.as_deref(),
        Some("\u{1b}[2J\u{1b}[H[ 9/9] forged; succeeded\nnext\\done\u{7}")
    );
    assert_eq!(f.describe(), spec);
    assert_eq!(Faults::parse(&f.describe()).unwrap(), f);
    assert!(f.xor_only().is_empty() && f.login_only().is_empty());
}

#[test]
fn err_msg_escapes_decode_to_the_characters_they_name() {
    assert_eq!(
        unescape(r"\n\r\t\e\x1b\xff\x41\;\\").unwrap(),
        "\n\r\t\u{1b}\u{1b}\u{ff}A;\\"
    );
    assert_eq!(unescape("é 😀 plain").unwrap(), "é 😀 plain");
    let f = Faults::parse(r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged succeeded\nnext").unwrap();
    assert_eq!(f.reset_refused, Some(Refusal(None)));
    assert_eq!(
        f.err_msg.as_deref(),
        Some("\u{1b}[2J\u{1b}[H[ 9/9] forged succeeded\nnext")
    );
    assert_eq!(
        Faults::parse("err_msg=").unwrap().err_msg.as_deref(),
        Some("")
    );
}

#[test]
fn the_column_splits_on_unescaped_semicolons_only() {
    let f = Faults::parse(r"err_msg=a\;b;offline").unwrap();
    assert_eq!((f.err_msg.as_deref(), f.offline), (Some("a;b"), true));
    // An escaped backslash does not escape the `;` after it.
    let f = Faults::parse(r"err_msg=a\\;offline").unwrap();
    assert_eq!((f.err_msg.as_deref(), f.offline), (Some("a\\"), true));
    let f = Faults::parse(r"offline;err_msg=x=y\;z").unwrap();
    assert_eq!((f.err_msg.as_deref(), f.offline), (Some("x=y;z"), true));
    assert_eq!(
        Faults::parse(r"err_msg=\;offline").unwrap(),
        Faults {
            err_msg: Some(";offline".into()),
            ..Faults::default()
        }
    );
}

#[test]
fn unknown_or_malformed_escapes_are_errors_that_name_them() {
    for (spec, named) in [
        (r"err_msg=bad \q here", r"unknown escape `\q`"),
        (r"err_msg=\a", r"unknown escape `\a`"),
        (r"err_msg=\x1", r"`\x1` needs two hex digits"),
        (r"err_msg=\xzz", r"`\xzz` needs two hex digits"),
        (r"err_msg=\x+1", r"`\x+1` needs two hex digits"),
        (r"err_msg=ends in \", r"a lone `\` at the end"),
    ] {
        let e = Faults::parse(spec).unwrap_err();
        assert!(
            e.starts_with("err_msg: ") && e.contains(named),
            "{spec}: {e}"
        );
    }
    assert!(Faults::parse(r"err_msg=\q").unwrap_err().contains(ESCAPES));
    assert!(
        Faults::parse("err_msg")
            .unwrap_err()
            .contains("unknown fault \"err_msg\"")
    );
}

#[test]
fn describe_escapes_any_text_so_it_parses_back_the_same_and_lists_no_control_character() {
    let every_byte: String = (0u8..=255).map(char::from).collect();
    let texts = [
        every_byte.clone(),
        format!(" {every_byte} "),
        " leading and trailing ".to_string(),
        "\u{a0}no-break\u{a0}".to_string(),
        "é 😀 \u{2028} ; \\ = ".to_string(),
        "\\".to_string(),
        " ".to_string(),
        String::new(),
    ];
    for text in texts {
        let f = Faults {
            err_msg: Some(text.clone()),
            reset_refused: Some(Refusal(Some(-7))),
            ..Faults::default()
        };
        let described = f.describe();
        assert!(!described.chars().any(char::is_control), "{described:?}");
        assert_eq!(Faults::parse(&described).unwrap(), f, "{described:?}");
    }
}

#[test]
fn leave_after_takes_whole_device_seconds_added_to_the_resets_own_delay() {
    assert_eq!(
        Faults::parse("leave_after=40").unwrap().reset_departure(1),
        41
    );
    assert_eq!(Faults::parse("leave_after=0").unwrap().leave_after, Some(0));
    assert_eq!(Faults::default().reset_departure(3), 3);
    let forever = Faults {
        leave_after: Some(u64::MAX),
        ..Faults::default()
    };
    assert_eq!(forever.reset_departure(1), u64::MAX);
    for bad in [
        "leave_after=-1",
        "leave_after=1.5",
        "leave_after=soon",
        "leave_after",
    ] {
        assert!(
            Faults::parse(bad).unwrap_err().contains("leave_after"),
            "{bad}"
        );
    }
}

#[test]
fn faults_that_contradict_each_other_are_refused_at_parse_time() {
    for spec in ["leave_after=40;reset_stays", "reset_stays;leave_after=0"] {
        let e = Faults::parse(spec).unwrap_err();
        assert!(e.contains("leave_after and reset_stays contradict"), "{e}");
    }
    let e = Faults::parse("reboot_never_returns;reboot_ignored").unwrap_err();
    assert!(
        e.contains("reboot_ignored and reboot_never_returns contradict"),
        "{e}"
    );
    assert!(Faults::parse("reboot_ignored=1").is_err());
    assert!(Faults::parse("leave_after=40;reset_refused;reboot_ignored").is_ok());
}

#[test]
fn err_msg_rewords_every_iot_refusal_at_any_depth_and_nothing_else() {
    let reply = json!({
        "system": {
            "reset": {"err_code": -3, "err_msg": "reset refused"},
            "get_sysinfo": {"err_code": 0, "alias": "Lobby"},
            "odd": {"err_code": 0, "err_msg": "fine"},
        },
        "nosuch": {"err_code": -1, "err_msg": "module not support"},
        "list": [{"err_code": -2, "err_msg": "member not support"}],
    });
    let mut plain = reply.clone();
    Faults::default().reword_iot_refusals(&mut plain);
    assert_eq!(plain, reply, "without the fault, nothing changes");
    let mut reworded = reply.clone();
    faults("err_msg=\\e!").reword_iot_refusals(&mut reworded);
    assert_eq!(reworded["system"]["reset"]["err_msg"], "\u{1b}!");
    assert_eq!(reworded["nosuch"]["err_msg"], "\u{1b}!");
    assert_eq!(reworded["list"][0]["err_msg"], "\u{1b}!");
    assert_eq!(reworded["system"]["reset"]["err_code"], -3);
    assert_eq!(reworded["system"]["odd"]["err_msg"], "fine");
    assert_eq!(
        reworded["system"]["get_sysinfo"],
        reply["system"]["get_sysinfo"]
    );
}

#[test]
fn blank_column_means_no_faults() {
    assert_eq!(Faults::parse(" ; ").unwrap(), Faults::default());
}

#[test]
fn reset_refused_defaults_to_each_dialects_invalid_argument() {
    let refusal = Faults::parse("reset_refused")
        .unwrap()
        .reset_refused
        .unwrap();
    assert_eq!((refusal.iot_code(), refusal.smart_code()), (-3, -1008));
    assert_eq!(
        Faults::parse("reset_refused").unwrap().describe(),
        "reset_refused"
    );
    let explicit = Faults::parse("reset_refused=-3")
        .unwrap()
        .reset_refused
        .unwrap();
    assert_eq!((explicit.iot_code(), explicit.smart_code()), (-3, -3));
}

#[test]
fn unknown_or_malformed_faults_are_named_in_the_error() {
    assert!(Faults::parse("explode").unwrap_err().contains("explode"));
    assert!(Faults::parse("slow=fast").unwrap_err().contains("slow"));
    assert!(Faults::parse("mac=zz").unwrap_err().contains("mac"));
    assert!(
        Faults::parse("offline=1")
            .unwrap_err()
            .contains("offline=1")
    );
    assert!(
        Faults::parse("trickle=5")
            .unwrap_err()
            .contains("trickle=5")
    );
    assert!(Faults::parse("lockout=0").unwrap_err().contains("lockout"));
    assert!(Faults::parse("lockout").unwrap_err().contains("lockout"));
    assert!(
        Faults::parse("announce=aes")
            .unwrap_err()
            .contains("klap or tpap")
    );
    assert!(
        Faults::parse("announce")
            .unwrap_err()
            .contains("klap or tpap")
    );
    assert_eq!(
        Faults::parse("announce=tpap").unwrap().announce,
        Some(Announced::Tpap)
    );
    assert!(
        Faults::parse("auth_fail=1")
            .unwrap_err()
            .contains("auth_fail=1")
    );
}

fn faults(spec: &str) -> Faults {
    Faults::parse(spec).unwrap()
}

fn sysinfo_request() -> Value {
    json!({"system": {"get_sysinfo": {}}})
}

fn sysinfo_reply() -> Value {
    json!({"system": {"get_sysinfo": {"model": "HS100(UK)", "err_code": 0}}})
}

/// The body of a whole frame, decrypted.
fn body(bytes: &[u8]) -> Vec<u8> {
    let (plain, used) = codec::decode_frame(bytes, usize::MAX).unwrap();
    assert_eq!(used, bytes.len(), "exactly one frame");
    plain
}

#[test]
fn without_faults_the_reply_is_one_whole_frame_and_the_device_serves_on() {
    let w = Faults::default().wire(&sysinfo_request(), sysinfo_reply());
    assert_eq!((w.trickle, w.then), (false, Then::Serve));
    assert_eq!(
        body(&w.bytes),
        serde_json::to_vec(&sysinfo_reply()).unwrap()
    );
}

#[test]
fn half_frame_is_the_length_prefix_and_half_the_body_then_silence() {
    let whole = codec::encode_frame(&serde_json::to_vec(&sysinfo_reply()).unwrap());
    let w = faults("half_frame").wire(&sysinfo_request(), sysinfo_reply());
    let body_len = whole.len() - codec::HEADER_LEN;
    assert_eq!(w.bytes, whole[..codec::HEADER_LEN + body_len / 2]);
    assert_eq!(w.then, Then::Silence);
    assert!(matches!(
        codec::decode_frame(&w.bytes, codec::MAX_FRAME_LEN),
        Err(codec::DecodeError::Incomplete { needed }) if needed == body_len - body_len / 2
    ));
}

#[test]
fn drop_mid_reply_is_half_the_frame_then_close() {
    let w = faults("drop_mid_reply").wire(&sysinfo_request(), sysinfo_reply());
    assert_eq!(w.then, Then::Close);
    let whole = codec::encode_frame(&serde_json::to_vec(&sysinfo_reply()).unwrap());
    assert_eq!(w.bytes, whole[..whole.len() / 2]);
}

#[test]
fn trickle_sends_the_whole_reply_slowly_and_serves_on() {
    let w = faults("trickle").wire(&sysinfo_request(), sysinfo_reply());
    assert_eq!((w.trickle, w.then), (true, Then::Serve));
    assert_eq!(
        body(&w.bytes),
        serde_json::to_vec(&sysinfo_reply()).unwrap()
    );
}

#[test]
fn wrong_shape_mirrors_every_module_and_method_with_a_string() {
    let w = faults("wrong_shape").wire(&sysinfo_request(), sysinfo_reply());
    let v: Value = serde_json::from_slice(&body(&w.bytes)).unwrap();
    assert_eq!(v, json!({"system": {"get_sysinfo": "ok"}}));
    assert_eq!(
        wrong_shape(
            &json!({"context": {"child_ids": ["a"]}, "system": {"set_relay_state": {"state": 1}},
                            "cnCloud": {"get_info": {}}, "odd": 5})
        ),
        json!({"system": {"set_relay_state": "ok"}, "cnCloud": {"get_info": "ok"}, "odd": "ok"})
    );
    assert_eq!(wrong_shape(&json!([1, 2])), json!({}));
}

#[test]
fn invalid_json_is_the_reply_without_its_closing_brace() {
    let w = faults("invalid_json").wire(&sysinfo_request(), sysinfo_reply());
    let text = String::from_utf8(body(&w.bytes)).unwrap();
    let real = sysinfo_reply().to_string();
    assert_eq!(text, real[..real.len() - 1]);
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[test]
fn garbage_is_a_whole_frame_that_is_not_json() {
    let w = faults("garbage").wire(&sysinfo_request(), sysinfo_reply());
    assert!(serde_json::from_slice::<Value>(&body(&w.bytes)).is_err());
    assert_eq!(w.then, Then::Serve);
}

#[test]
fn huge_reply_is_the_real_reply_padded_past_a_mebibyte_and_well_framed() {
    let w = faults("huge_reply").wire(&sysinfo_request(), sysinfo_reply());
    let len = codec::frame_len(&w.bytes, usize::MAX).unwrap();
    assert!((HUGE_PADDING..HUGE_PADDING + 1024).contains(&len), "{len}");
    assert!(matches!(
        codec::decode_frame(&w.bytes, codec::MAX_FRAME_LEN),
        Err(codec::DecodeError::TooLarge { len: l, .. }) if l == len
    ));
    let v: Value = serde_json::from_slice(&body(&w.bytes)).unwrap();
    assert_eq!(v["system"], sysinfo_reply()["system"]);
    assert_eq!(v[HUGE_PADDING_FIELD].as_str().unwrap().len(), HUGE_PADDING);
}

#[test]
fn oversized_announces_two_gibibytes_then_goes_silent() {
    let w = faults("oversized").wire(&sysinfo_request(), sysinfo_reply());
    assert_eq!(w.bytes[..4], OVERSIZED_LEN.to_be_bytes());
    assert_eq!(w.bytes.len(), 4 + 16);
    assert_eq!(w.then, Then::Silence);
}

#[test]
fn faults_that_cut_a_reply_short_apply_to_what_the_content_faults_chose() {
    let w = faults("half_frame;wrong_shape;trickle").wire(&sysinfo_request(), sysinfo_reply());
    let shaped = serde_json::to_vec(&json!({"system": {"get_sysinfo": "ok"}})).unwrap();
    let whole = codec::encode_frame(&shaped);
    assert_eq!(w.bytes, whole[..codec::HEADER_LEN + shaped.len() / 2]);
    assert_eq!((w.trickle, w.then), (true, Then::Silence));
}

#[test]
fn on_refused_parses_and_describes_itself() {
    let f = Faults::parse("on_refused;slow=5").unwrap();
    assert!(f.on_refused);
    assert_eq!(Faults::parse(&f.describe()).unwrap(), f);
    assert!(f.xor_only().is_empty(), "HTTP switches take it too");
    assert!(Faults::parse("on_refused=1").is_err());
}

#[test]
fn link_drop_takes_whole_device_seconds() {
    let f = Faults::parse("link_drop=30").unwrap();
    assert_eq!(f.link_drop, Some(30));
    assert_eq!(Faults::parse(&f.describe()).unwrap(), f);
    assert!(Faults::parse("link_drop").is_err());
    assert!(Faults::parse("link_drop=1.5").is_err());
}
