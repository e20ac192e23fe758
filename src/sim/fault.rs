//! Fault injection, per device, from the inventory's `sim_fault` column.
//!
//! The column holds `;`-separated faults, e.g. `slow=1500;reset_refused=-3`. It is split on
//! unescaped `;` only, so `err_msg`'s text can hold one as `\;` (see [`unescape`]):
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
//! | `leave_after=SECS` | a factory reset is acknowledged (and journaled) at once, but the device serves on unchanged (settings, account, relay, on-time, discovery) for SECS device seconds after the command's delay, then leaves the network for good; contradicts `reset_stays` |
//! | `reboot_ignored` | a reboot is acknowledged (and journaled) and nothing happens: the device stays online and its on-time runs on; contradicts `reboot_never_returns` |
//! | `err_msg=TEXT` | the text of the device's refusals: the `err_msg` of every IOT error reply, and a `msg` beside the `error_code` of SMART's `reset_refused` refusal. TEXT takes the escapes `\n`, `\r`, `\t`, `\e` (ESC), `\xHH` (the character U+00HH), `\;` and `\\` |
//! | `mac=AA:BB:CC:DD:EE:FF` | the device reports this MAC instead of the inventory's |
//! | `auth_fail` | the device is bound to another account than its `credentials` profile (or, without one, to a stranger's): every login fails |
//! | `lockout=N` | after N failed logins the device refuses every login until the simulator restarts: AES answers `-40404` with `sec_left`, KLAP answers 403 to handshake 1 |
//!
//! HTTP devices (protocol `klap` or `aes`) take `offline`, `slow`, `reboot_never_returns`,
//! `reboot_ignored`, `reset_stays`, `reset_refused`, `leave_after`, `err_msg`, `mac`,
//! `auth_fail` and `lockout`; the faults that mangle an XOR frame are refused for them
//! ([`Faults::xor_only`]), and `auth_fail` and `lockout` are refused for XOR devices, which
//! have no login ([`Faults::login_only`]). Two pairs contradict and are refused together:
//! `leave_after` with `reset_stays`, and `reboot_ignored` with `reboot_never_returns`.
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

/// The escapes `err_msg`'s text takes, for error messages: each is `\` and one of these.
pub const ESCAPES: &str = r"\n \r \t \e \xHH \; \\";

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
    /// Device seconds an accepted factory reset lingers, after the command's own delay,
    /// before the device leaves the network.
    pub leave_after: Option<u64>,
    /// A reboot is acknowledged and journaled, and not carried out.
    pub reboot_ignored: bool,
    /// The text of the device's refusals, decoded from its escapes.
    pub err_msg: Option<String>,
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
        for item in items(spec).map(str::trim).filter(|s| !s.is_empty()) {
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
                ("leave_after", Some(secs)) => {
                    let secs: u64 = secs.parse().map_err(|_| {
                        format!("leave_after={secs:?}: expected whole device seconds, 0 or more")
                    })?;
                    f.leave_after = Some(secs);
                }
                ("reboot_ignored", None) => f.reboot_ignored = true,
                ("err_msg", Some(text)) => {
                    f.err_msg = Some(unescape(text).map_err(|e| format!("err_msg: {e}"))?);
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
        if f.leave_after.is_some() && f.reset_stays {
            return Err(
                "leave_after and reset_stays contradict: a reset_stays device never leaves \
                 the network, a leave_after device leaves it late; give one of them"
                    .into(),
            );
        }
        if f.reboot_ignored && f.reboot_never_returns {
            return Err(
                "reboot_ignored and reboot_never_returns contradict: an ignored reboot \
                 never goes dark, so it has nothing to return from; give one of them"
                    .into(),
            );
        }
        Ok(f)
    }

    /// Device seconds from an accepted factory reset to the device leaving the network: the
    /// command's own `delay`, plus `leave_after` for firmware that acknowledges and lingers.
    pub fn reset_departure(&self, delay: u64) -> u64 {
        delay.saturating_add(self.leave_after.unwrap_or(0))
    }

    /// Puts the `err_msg` text, if the row gives one, in every IOT refusal of `reply`: every
    /// object, at any depth, whose `err_code` is not 0 and that carries an `err_msg`. Firmware
    /// words all its refusals from one table, so the fault rewords them all, captured ones too.
    pub fn reword_iot_refusals(&self, reply: &mut Value) {
        if let Some(text) = &self.err_msg {
            reword(reply, text);
        }
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
            (self.reboot_ignored, "reboot_ignored"),
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
        if let Some(secs) = self.leave_after {
            parts.push(format!("leave_after={secs}"));
        }
        if let Some(text) = &self.err_msg {
            parts.push(format!("err_msg={}", escape(text)));
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

/// The column's items: split on every `;` that no backslash escapes. Escapes stay as written,
/// for the fault whose value holds them to decode.
fn items(spec: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(spec);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                ';' => {
                    rest = Some(&s[i + 1..]);
                    return Some(&s[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

/// Decodes `err_msg`'s text: `\n`, `\r`, `\t`, `\e` (ESC), `\xHH` (one byte, as the character
/// U+00HH), `\;` and `\\`. Escapes let a `;`-separated, one-line CSV cell carry the hostile
/// bytes tests need; any other backslash is an error naming it, so a typo is not sent as is.
pub fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next() {
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('e') => ESC,
            Some(';') => ';',
            Some('\\') => '\\',
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(byte) if hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        char::from(byte)
                    }
                    _ => {
                        return Err(format!(
                            "escape `\\x{}` needs two hex digits, as in \\x1b",
                            hex.escape_debug()
                        ));
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "unknown escape `\\{}`; the escapes are {ESCAPES}",
                    other.escape_debug()
                ));
            }
            None => return Err(r"a lone `\` at the end; write `\\` for a backslash".into()),
        };
        out.push(decoded);
    }
    Ok(out)
}

/// ESC, which `\e` stands for.
const ESC: char = '\u{1b}';

/// `text` written so that [`unescape`] gives it back, and so that the listing it appears in
/// carries no control character: `\`, `;` and every control character escaped, and a space
/// (or no-break space) at either end too, since the parser trims a fault's value.
pub fn escape(text: &str) -> String {
    let last = text.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ESC => out.push_str("\\e"),
            // Every control character (C0, DEL, C1) is below U+0100, so `\xHH` reaches it.
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            ' ' | '\u{a0}' if i == 0 || i == last => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out
}

/// Replaces the `err_msg` of every refusal in `v` (an object with a non-zero `err_code`).
fn reword(v: &mut Value, text: &str) {
    match v {
        Value::Object(obj) => {
            let refused = obj.get("err_code").is_some_and(|c| c.as_i64() != Some(0));
            if refused && let Some(msg) = obj.get_mut("err_msg") {
                *msg = Value::String(text.to_owned());
            }
            obj.values_mut().for_each(|child| reword(child, text));
        }
        Value::Array(items) => items.iter_mut().for_each(|child| reword(child, text)),
        _ => {}
    }
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
        let f =
            Faults::parse(r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged succeeded\nnext").unwrap();
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
