//! Fault injection, per device, from the inventory's `sim_fault` column.
//!
//! The column holds `;`-separated faults, e.g. `slow=1500;reset_refused=-3`:
//!
//! | fault | effect |
//! |---|---|
//! | `offline` | nothing listens at the address (connections refused, discovery silent) |
//! | `slow=MS` | every reply is held back MS milliseconds (real time, not scaled) |
//! | `drop_mid_reply` | half of every reply is written, then the connection is closed |
//! | `half_frame` | every reply is its length prefix and the first half of its body, then silence with the connection kept open |
//! | `trickle` | every reply is written one byte per second (real time, not scaled) |
//! | `garbage` | every reply is a well-framed blob that is not JSON |
//! | `invalid_json` | every reply is well framed and UTF-8, but JSON cut short: the real reply without its last `}` |
//! | `wrong_shape` | every reply is valid JSON of the wrong shape: each method asked for is answered with the string `"ok"` instead of an object, e.g. `{"system":{"get_sysinfo":"ok"}}` |
//! | `oversized` | every reply starts with a 2 GiB length prefix, then goes silent |
//! | `huge_reply` | every reply is the real one padded with a 1 MiB string field, well framed: a 1 MiB length prefix a client must refuse |
//! | `reboot_never_returns` | a reboot is acknowledged and the device never comes back |
//! | `reset_stays` | a factory reset erases its settings (default alias, unbound, relay off) and restarts it, but it stays on the network |
//! | `reset_refused[=CODE]` | a factory reset is refused with CODE (default -3, invalid argument, on IOT; -1008, PARAMS_ERROR, on SMART) |
//! | `mac=AA:BB:CC:DD:EE:FF` | the device reports this MAC instead of the inventory's |
//! | `auth_fail` | the device is bound to another account than its `credentials` profile (or, without one, to a stranger's): every login fails |
//! | `lockout=N` | after N failed logins the device refuses every login until the simulator restarts: AES answers `-40404` with `sec_left`, KLAP answers 403 to handshake 1 |
//!
//! HTTP devices (protocol `klap` or `aes`) take `offline`, `slow`, `reboot_never_returns`,
//! `reset_stays`, `reset_refused`, `mac`, `auth_fail` and `lockout`; the faults that mangle an
//! XOR frame are refused for them ([`Faults::xor_only`]), and `auth_fail` and `lockout` are
//! refused for XOR devices, which have no login ([`Faults::login_only`]).
//!
//! The reply faults act on TCP only; discovery over UDP is answered normally. The device still
//! acts on every request (a reboot asked of a `garbage` device still happens), the way firmware
//! acts on a command whatever happens to its reply. Of the faults that choose what a reply
//! says, the first in this order wins: `oversized`, `huge_reply`, `garbage`, `invalid_json`,
//! `wrong_shape`. Of those that cut it short, `half_frame` wins over `drop_mid_reply`.
//! `trickle` and `slow` combine with any of them.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::inventory::MacAddr;
use crate::protocol::iot::codec;

/// The column the simulator reads faults from.
pub const COLUMN: &str = "sim_fault";

/// Default error code of `reset_refused` on an IOT device: "invalid argument".
pub const DEFAULT_RESET_REFUSAL: i64 = -3;

/// Default error code of `reset_refused` on a SMART device: `PARAMS_ERROR`, SMART's nearest
/// word for IOT's "invalid argument" (and one python-kasa names rather than calling unknown).
pub const DEFAULT_SMART_RESET_REFUSAL: i64 = -1008;

/// How long `trickle` waits between two bytes. At one byte a second even the smallest reply
/// (an acknowledgement, about 15 bytes plus its 4-byte prefix) outlasts any sane timeout.
pub const TRICKLE_INTERVAL: Duration = Duration::from_secs(1);

/// The string field `huge_reply` adds: 1 MiB, sixteen times the client's 64 KiB cap
/// ([`codec::MAX_FRAME_LEN`]), so the length prefix alone must make the client refuse it.
pub const HUGE_PADDING: usize = 1024 * 1024;

/// The name of the field `huge_reply` pads the reply with, at its top level.
pub const HUGE_PADDING_FIELD: &str = "padding";

/// The length prefix `oversized` announces: 2 GiB less one byte.
pub const OVERSIZED_LEN: u32 = 0x7fff_ffff;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub offline: bool,
    pub slow: Option<Duration>,
    pub drop_mid_reply: bool,
    pub half_frame: bool,
    pub trickle: bool,
    pub garbage: bool,
    pub invalid_json: bool,
    pub wrong_shape: bool,
    pub oversized: bool,
    pub huge_reply: bool,
    pub reboot_never_returns: bool,
    pub reset_stays: bool,
    pub reset_refused: Option<Refusal>,
    pub mac: Option<MacAddr>,
    pub auth_fail: bool,
    /// Failed logins after which every login is refused.
    pub lockout: Option<u32>,
}

/// A `reset_refused` fault: the code the row gave, if any. Without one each dialect answers
/// its own default, since IOT and SMART number their errors differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub Option<i64>);

impl Refusal {
    pub fn iot_code(self) -> i64 {
        self.0.unwrap_or(DEFAULT_RESET_REFUSAL)
    }

    pub fn smart_code(self) -> i64 {
        self.0.unwrap_or(DEFAULT_SMART_RESET_REFUSAL)
    }
}

/// What the device does once a reply's bytes are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Reads the next request, as a healthy device does.
    Serve,
    /// Stays silent with the connection open, until the client leaves or the device goes dark.
    Silence,
    /// Closes the connection.
    Close,
}

/// One reply as it goes on the wire: its bytes, how they are written, and what comes after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub bytes: Vec<u8>,
    /// One byte every [`TRICKLE_INTERVAL`] instead of all at once.
    pub trickle: bool,
    pub then: Then,
}

impl Faults {
    /// Parses the column; an error names the bad fault.
    pub fn parse(spec: &str) -> Result<Faults, String> {
        let mut f = Faults::default();
        for item in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            match (name, value) {
                ("offline", None) => f.offline = true,
                ("slow", Some(ms)) => {
                    let ms: u64 = ms
                        .parse()
                        .map_err(|_| format!("slow={ms:?}: expected milliseconds"))?;
                    f.slow = Some(Duration::from_millis(ms));
                }
                ("drop_mid_reply", None) => f.drop_mid_reply = true,
                ("half_frame", None) => f.half_frame = true,
                ("trickle", None) => f.trickle = true,
                ("garbage", None) => f.garbage = true,
                ("invalid_json", None) => f.invalid_json = true,
                ("wrong_shape", None) => f.wrong_shape = true,
                ("oversized", None) => f.oversized = true,
                ("huge_reply", None) => f.huge_reply = true,
                ("reboot_never_returns", None) => f.reboot_never_returns = true,
                ("reset_stays", None) => f.reset_stays = true,
                ("reset_refused", None) => f.reset_refused = Some(Refusal(None)),
                ("reset_refused", Some(code)) => {
                    let code: i64 = code
                        .parse()
                        .map_err(|_| format!("reset_refused={code:?}: expected an error code"))?;
                    f.reset_refused = Some(Refusal(Some(code)));
                }
                ("auth_fail", None) => f.auth_fail = true,
                ("lockout", Some(n)) => {
                    let n: u32 = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("lockout={n:?}: expected a number of failed logins, 1 or more")
                    })?;
                    f.lockout = Some(n);
                }
                ("mac", Some(mac)) => {
                    f.mac = Some(mac.parse().map_err(|e| format!("mac={mac:?}: {e}"))?)
                }
                _ => return Err(format!("unknown fault {item:?}")),
            }
        }
        Ok(f)
    }

    /// A short description for the simulator's listing.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.offline {
            parts.push("offline".to_string());
        }
        if let Some(d) = self.slow {
            parts.push(format!("slow={}", d.as_millis()));
        }
        for (on, name) in [
            (self.drop_mid_reply, "drop_mid_reply"),
            (self.half_frame, "half_frame"),
            (self.trickle, "trickle"),
            (self.garbage, "garbage"),
            (self.invalid_json, "invalid_json"),
            (self.wrong_shape, "wrong_shape"),
            (self.oversized, "oversized"),
            (self.huge_reply, "huge_reply"),
            (self.reboot_never_returns, "reboot_never_returns"),
            (self.reset_stays, "reset_stays"),
        ] {
            if on {
                parts.push(name.to_string());
            }
        }
        match self.reset_refused {
            Some(Refusal(Some(code))) => parts.push(format!("reset_refused={code}")),
            Some(Refusal(None)) => parts.push("reset_refused".into()),
            None => {}
        }
        if let Some(mac) = self.mac {
            parts.push(format!("mac={mac}"));
        }
        if self.auth_fail {
            parts.push("auth_fail".into());
        }
        if let Some(n) = self.lockout {
            parts.push(format!("lockout={n}"));
        }
        parts.join(";")
    }

    /// The faults set here that act on an XOR frame, and so mean nothing over HTTP.
    pub fn xor_only(&self) -> Vec<&'static str> {
        [
            (self.drop_mid_reply, "drop_mid_reply"),
            (self.half_frame, "half_frame"),
            (self.trickle, "trickle"),
            (self.garbage, "garbage"),
            (self.invalid_json, "invalid_json"),
            (self.wrong_shape, "wrong_shape"),
            (self.oversized, "oversized"),
            (self.huge_reply, "huge_reply"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// The faults set here that act on a login, which an XOR device never asks for.
    pub fn login_only(&self) -> Vec<&'static str> {
        [
            (self.auth_fail, "auth_fail"),
            (self.lockout.is_some(), "lockout"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// What goes on the wire for `reply`, the device's true answer to `request`. Pure: the
    /// server writes the bytes and carries out `then`.
    pub fn wire(&self, request: &Value, mut reply: Value) -> Wire {
        if self.oversized {
            // A length no client should accept, then a little ciphertext and silence.
            let body = to_json(&reply);
            let mut bytes = OVERSIZED_LEN.to_be_bytes().to_vec();
            bytes.extend(codec::encrypt(&body[..body.len().min(16)]));
            return Wire {
                bytes,
                trickle: self.trickle,
                then: Then::Silence,
            };
        }
        let body = if self.huge_reply {
            if let Some(obj) = reply.as_object_mut() {
                obj.insert(
                    HUGE_PADDING_FIELD.into(),
                    Value::String("x".repeat(HUGE_PADDING)),
                );
            }
            to_json(&reply)
        } else if self.garbage {
            b"\x00\x13\x37 garbage, not JSON \xff\xfe".to_vec()
        } else if self.invalid_json {
            let mut body = to_json(&reply);
            // A reply is always an object, so this drops its closing brace.
            body.pop();
            body
        } else if self.wrong_shape {
            to_json(&wrong_shape(request))
        } else {
            to_json(&reply)
        };
        let frame = codec::encode_frame(&body);
        let (bytes, then) = if self.half_frame {
            let cut = codec::HEADER_LEN + body.len() / 2;
            (frame[..cut].to_vec(), Then::Silence)
        } else if self.drop_mid_reply {
            (frame[..frame.len() / 2].to_vec(), Then::Close)
        } else {
            (frame, Then::Serve)
        };
        Wire {
            bytes,
            trickle: self.trickle,
            then,
        }
    }
}

fn to_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serialises")
}

/// The request's modules and methods, each method answered `"ok"` instead of an object:
/// `{"system":{"get_sysinfo":{}}}` → `{"system":{"get_sysinfo":"ok"}}`. A module whose value
/// is not an object is answered `"ok"` itself; the strip `context` member is not mirrored.
pub fn wrong_shape(request: &Value) -> Value {
    let mut out = Map::new();
    for (module, methods) in request.as_object().into_iter().flatten() {
        if module == "context" {
            continue;
        }
        let answer = match methods.as_object() {
            Some(methods) => Value::Object(
                methods
                    .keys()
                    .map(|m| (m.clone(), Value::from("ok")))
                    .collect(),
            ),
            None => Value::from("ok"),
        };
        out.insert(module.clone(), answer);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_fault_parses_and_describes_itself_back() {
        let spec = "offline;slow=1500;drop_mid_reply;half_frame;trickle;garbage;invalid_json;wrong_shape;oversized;huge_reply;reboot_never_returns;reset_stays;reset_refused=-7;mac=AA:BB:CC:DD:EE:FF;auth_fail;lockout=3";
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
        assert_eq!(f.slow, Some(Duration::from_millis(1500)));
        assert_eq!(f.reset_refused, Some(Refusal(Some(-7))));
        assert_eq!(f.mac.unwrap().to_string(), "AA:BB:CC:DD:EE:FF");
        assert!(f.auth_fail);
        assert_eq!(f.lockout, Some(3));
        assert_eq!(f.describe(), spec);
        assert_eq!(f.xor_only().len(), 8);
        assert_eq!(f.login_only(), ["auth_fail", "lockout"]);
        assert!(
            Faults::parse("slow=5;mac=AA:BB:CC:DD:EE:FF;reset_stays")
                .unwrap()
                .xor_only()
                .is_empty()
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
}
