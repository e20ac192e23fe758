//! Fault injection, per device, from the inventory's `sim_fault` column.
//!
//! The column holds `;`-separated faults, e.g. `slow=1500;reset_refused=-3`. It is split on
//! unescaped `;` only, so `err_msg`'s text can hold one as `\;` (see [`unescape`]):
//!
//! | fault | effect |
//! |---|---|
//! | `offline` | nothing listens at the address (connections refused, discovery silent) |
//! | `button_only` | answers reads, and refuses a reboot or factory reset as a method it doesn't have (IOT `-2` "member not support", SMART `-1002` unknown method), as firmware with only a physical button does; nothing is journaled. A Tapo camera refuses `rebootDevice` as an unknown method (-40106); a Kasa camera answers its reboot module as IOT firmware without the module does (`{"err_code":-1,"err_msg":"module not support"}`) |
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
//! | `on_refused` | a plug or strip refuses every request to switch a relay or an outlet on (IOT `-1` "module not support", SMART `-1002`) and leaves it as it was, as a switch with a stuck relay does; switching off works |
//! | `link_drop=SECS` | an IOT plug or strip that switches a relay or outlet off drops off the network at once, before its reply, and answers nothing for SECS device seconds (its Wi-Fi link reconnecting), then serves on with its relays as they were |
//! | `idle_close=MS` | a TCP connection that carries no request for MS milliseconds (real time, not scaled) is closed by the device, as firmware that drops idle connections does |
//! | `reboot_ignored` | a reboot is acknowledged (and journaled) and nothing happens: the device stays online and its on-time runs on; contradicts `reboot_never_returns` |
//! | `err_msg=TEXT` | the text of the device's refusals: the `err_msg` of every IOT error reply, and a `msg` beside the `error_code` of SMART's `reset_refused` refusal. TEXT takes the escapes `\n`, `\r`, `\t`, `\e` (ESC), `\xHH` (the character U+00HH), `\;` and `\\` |
//! | `mac=AA:BB:CC:DD:EE:FF` | the device reports this MAC instead of the inventory's |
//! | `auth_fail` | the device is bound to another account than its `credentials` profile (or, without one, to a stranger's): every login fails |
//! | `announce=klap` | a TPAP device whose discovery answer still says KLAP (no `tpap` object), as firmware that moved to TPAP while its discovery answer did not; KLAP's handshake is answered 403 as before |
//! | `announce=tpap` | a SMART KLAP device whose discovery says `encrypt_type: TPAP` while its TPAP discover probe answers `tpap_preferred: false` without a `tpap` object, and which serves KLAP (a KP125M on 1.4.1 firmware did this) |
//! | `lockout=N` | after N failed logins the device refuses every login until the simulator restarts: AES answers `-40404` with `sec_left`, KLAP answers 403 to handshake 1 |
//!
//! HTTP devices (protocol `klap` or `aes`) take `offline`, `slow`, `reboot_never_returns`,
//! `reboot_ignored`, `on_refused`, `reset_stays`, `reset_refused`, `leave_after`, `err_msg`, `mac`,
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

use serde_json::Value;

use crate::inventory::MacAddr;

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
/// ([`MAX_FRAME_LEN`](crate::protocol::iot::codec::MAX_FRAME_LEN)), so the length prefix
/// alone must make the client refuse it.
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
    /// Reboot and reset are refused as unknown methods.
    pub button_only: bool,
    pub slow: Option<Duration>,
    pub drop_mid_reply: bool,
    /// A connection idle this long is closed by the device.
    pub idle_close: Option<Duration>,
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
    /// A relay or outlet is never switched on: every such request is refused.
    pub on_refused: bool,
    /// Device seconds the switch answers nothing after switching a relay off.
    pub link_drop: Option<u64>,
    /// The text of the device's refusals, decoded from its escapes.
    pub err_msg: Option<String>,
    pub mac: Option<MacAddr>,
    pub auth_fail: bool,
    /// Failed logins after which every login is refused.
    pub lockout: Option<u32>,
    /// Discovery announces another login than the device speaks.
    pub announce: Option<Announced>,
}

/// The login an `announce` fault makes discovery name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    Klap,
    Tpap,
}

impl Announced {
    pub fn as_str(self) -> &'static str {
        match self {
            Announced::Klap => "klap",
            Announced::Tpap => "tpap",
        }
    }
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
                ("button_only", None) => f.button_only = true,
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
                ("idle_close", Some(ms)) => {
                    let ms: u64 = ms
                        .parse()
                        .map_err(|_| format!("idle_close={ms:?}: expected whole milliseconds"))?;
                    f.idle_close = Some(Duration::from_millis(ms));
                }
                ("on_refused", None) => f.on_refused = true,
                ("link_drop", Some(secs)) => {
                    let secs: u64 = secs.parse().map_err(|_| {
                        format!("link_drop={secs:?}: expected whole device seconds")
                    })?;
                    f.link_drop = Some(secs);
                }
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
                ("announce", Some("klap")) => f.announce = Some(Announced::Klap),
                ("announce", Some("tpap")) => f.announce = Some(Announced::Tpap),
                ("announce", other) => {
                    return Err(format!(
                        "announce={}: expected klap or tpap",
                        other.unwrap_or_default()
                    ));
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
        if let Some(d) = self.idle_close {
            parts.push(format!("idle_close={}", d.as_millis()));
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
            (self.on_refused, "on_refused"),
            (self.reset_stays, "reset_stays"),
            (self.button_only, "button_only"),
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
        if let Some(secs) = self.link_drop {
            parts.push(format!("link_drop={secs}"));
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
        if let Some(a) = self.announce {
            parts.push(format!("announce={}", a.as_str()));
        }
        parts.join(";")
    }

    /// The faults set here that act on an XOR frame, and so mean nothing over HTTP.
    pub fn xor_only(&self) -> Vec<&'static str> {
        [
            (self.drop_mid_reply, "drop_mid_reply"),
            (self.idle_close.is_some(), "idle_close"),
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

mod wire;

pub use wire::{Then, Wire, wrong_shape};

#[cfg(test)]
mod tests;
