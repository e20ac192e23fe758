//! Discovery: the legacy IOT probe on UDP 9999 and the newer one on UDP 20002 and 20004.
//!
//! The codecs are pure; [`sweep`] owns the socket. A sweep sends unicast probes to each target
//! address (or to one broadcast address the user names) and collects one answer per device,
//! accepting only answers that come from a probed port.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::UdpSocket;

use super::iot::codec;
use super::iot::messages::SysInfo;

/// The legacy discovery port (and the IOT TCP port).
pub const IOT_PORT: u16 = 9999;
/// The newer discovery ports: 20002 for most devices, 20004 added for doorbells.
pub const NEW_PORTS: [u16; 2] = [20002, 20004];
/// Length of the binary header before the JSON of a 20002/20004 datagram.
pub const HEADER_LEN: usize = 16;

/// Rounds of probes per target, spread over the timeout: one lost datagram is not a missing
/// device.
pub const ROUNDS: u32 = 3;

/// The RSA public key our 20002 probe carries. Devices use it only to encrypt `encrypt_info`
/// (cameras and hubs), which fleetreset does not read, so a fixed key of our own saves
/// generating one (seconds, in a debug build) on every run.
const PROBE_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA4PuPkX+FwH++iM/YVzro
2/awLQw2pz8c/kPsAD/o53mGsZ5IYYDznKzZlSSAa1csS5t7TovPrOO9xXdMSbyM
fuaW/LkN3xakDzx4Y7VB3au/YOEsk1waVU/5+zeSzqFAIRSQckNYNkhmY9MAZgb+
oZafmDWlp2kDidsYnjYd5Nv28a+xHFuw2xidvSpskWEDyB15KnrEfCON2dl7o849
ZSr84GQd/kXvyTdqLhRzwPOnCnzP8FwvgzObdsoFij0WH/TGUS1l3cElu9oMDBf8
xQ+tBqGt2ej/xr+KPP6J8N1whYytX385rFWLi7aLuPGibfLo6VBumDcgwZOOF78v
EwIDAQAB
-----END PUBLIC KEY-----
";

/// The legacy probe: `{"system":{"get_sysinfo":{}}}` XOR-encrypted, without a length prefix.
pub fn iot_probe() -> Vec<u8> {
    codec::encrypt(br#"{"system":{"get_sysinfo":{}}}"#)
}

/// The 20002/20004 probe: a 16-byte header (version 2, type 0, op 1, payload length, flags
/// 0x11, padding, a serial, CRC-32 of header-with-placeholder and payload) and the JSON.
pub fn new_probe(serial: u32) -> Vec<u8> {
    let payload = json!({ "params": { "rsa_key": PROBE_KEY } }).to_string();
    let len = u16::try_from(payload.len()).expect("the probe payload is a few hundred bytes");
    let mut msg = Vec::with_capacity(HEADER_LEN + payload.len());
    msg.extend_from_slice(&[2, 0]);
    msg.extend_from_slice(&1u16.to_be_bytes());
    msg.extend_from_slice(&len.to_be_bytes());
    msg.extend_from_slice(&[0x11, 0]);
    msg.extend_from_slice(&serial.to_be_bytes());
    msg.extend_from_slice(&0x5A6B_7C8Du32.to_be_bytes());
    msg.extend_from_slice(payload.as_bytes());
    let crc = crc32fast::hash(&msg);
    msg[12..16].copy_from_slice(&crc.to_be_bytes());
    msg
}

/// What a 20002/20004 reply says about a device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewInfo {
    pub device_type: String,
    pub device_model: String,
    pub device_id: String,
    pub ip: String,
    pub mac: String,
    /// `KLAP` or `AES` (from `mgt_encrypt_schm`).
    pub encrypt_type: Option<String>,
    pub http_port: Option<u16>,
    pub https: bool,
    /// Login version: KLAP v2 when 2 or more.
    pub login_version: Option<u8>,
    pub factory_default: Option<bool>,
}

/// Parses a 20002/20004 reply: the header is skipped unread, as python-kasa does.
pub fn parse_new_reply(datagram: &[u8]) -> Option<NewInfo> {
    let json: Value = serde_json::from_slice(datagram.get(HEADER_LEN..)?).ok()?;
    let r = json.get("result")?;
    let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    let schm = r.get("mgt_encrypt_schm");
    Some(NewInfo {
        device_type: text("device_type")?,
        device_model: text("device_model")?,
        device_id: text("device_id")?,
        ip: text("ip")?,
        mac: text("mac")?,
        encrypt_type: schm
            .and_then(|s| s["encrypt_type"].as_str())
            .map(str::to_owned),
        http_port: schm
            .and_then(|s| s["http_port"].as_u64())
            .and_then(|p| u16::try_from(p).ok()),
        https: schm
            .and_then(|s| s["is_support_https"].as_bool())
            .unwrap_or(false),
        login_version: schm
            .and_then(|s| s["lv"].as_u64())
            .and_then(|v| u8::try_from(v).ok()),
        factory_default: r.get("factory_default").and_then(Value::as_bool),
    })
}

/// Parses a legacy reply: the whole datagram is XOR ciphertext of a sysinfo reply. Kasa
/// cameras (`IOT.IPCAMERA`) nest their sysinfo one level deeper,
/// `{"system":{"get_sysinfo":{"err_code":0,"system":{…}}}}`; that inner object is the one read.
pub fn parse_iot_reply(datagram: &[u8]) -> Option<(SysInfo, Value)> {
    let json: Value = serde_json::from_slice(&codec::decrypt(datagram)).ok()?;
    let mut sys = json.get("system")?.get("get_sysinfo")?.clone();
    if sys.get("model").is_none()
        && let Some(inner) = sys.get("system").filter(|s| s.get("model").is_some())
    {
        sys = inner.clone();
    }
    // Cameras send both `mac` and the bulbs' `mic_mac`, which SysInfo reads as one field.
    let mut fields = sys.clone();
    if let Some(o) = fields.as_object_mut()
        && o.contains_key("mac")
    {
        o.remove("mic_mac");
    }
    Some((SysInfo::from_reply(&fields).ok()?, sys))
}

/// One device found by a sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Answered the legacy probe: speaks IOT over XOR on TCP 9999.
    Iot {
        ip: IpAddr,
        info: SysInfo,
        raw: Value,
    },
    /// Answered on 20002/20004: speaks KLAP or AES over HTTP.
    New { ip: IpAddr, info: NewInfo },
}

impl Found {
    pub fn ip(&self) -> IpAddr {
        match self {
            Found::Iot { ip, .. } | Found::New { ip, .. } => *ip,
        }
    }

    /// The MAC as the device wrote it.
    pub fn mac(&self) -> &str {
        match self {
            Found::Iot { info, .. } => &info.mac,
            Found::New { info, .. } => &info.mac,
        }
    }

    /// The device id the device reports (`deviceId`, `device_id`).
    pub fn device_id(&self) -> &str {
        match self {
            Found::Iot { info, .. } => &info.device_id,
            Found::New { info, .. } => &info.device_id,
        }
    }
}

/// Probes every target `ROUNDS` times over `timeout` and returns one answer per address,
/// ordered by address. A device answering both probes is reported by its newer protocol.
pub async fn sweep(
    targets: &[IpAddr],
    broadcast: bool,
    timeout: Duration,
) -> std::io::Result<Vec<Found>> {
    let socket = UdpSocket::bind(("0.0.0.0", 0)).await?;
    if broadcast {
        socket.set_broadcast(true)?;
    }
    let iot = iot_probe();
    let new = new_probe(std::process::id());
    let mut found: BTreeMap<IpAddr, Found> = BTreeMap::new();
    // Each round listens until its share of the timeout from the start is over, however long
    // its sending took: a /16 sends 196 602 probes a round, which takes about a second, and
    // waiting a whole round after that made `--timeout 3` take 7 s. A later round whose
    // sending would overrun the timeout only listens.
    let start = tokio::time::Instant::now();
    let mut buf = vec![0u8; 8192];
    let mut sending = Duration::ZERO;
    for r in 1..=ROUNDS {
        let send = r == 1 || tokio::time::Instant::now() + sending <= start + timeout;
        let sent_at = tokio::time::Instant::now();
        for ip in targets.iter().filter(|_| send) {
            // Send errors (no route, a host that refuses) are answers too: nothing there.
            let _ = socket.send_to(&iot, (*ip, IOT_PORT)).await;
            for port in NEW_PORTS {
                let _ = socket.send_to(&new, (*ip, port)).await;
            }
            // Pace big sweeps: a burst of thousands of datagrams overflows receive buffers.
            if targets.len() > 64 {
                tokio::task::yield_now().await;
            }
        }
        if send {
            sending = sent_at.elapsed();
        }
        let until = start + timeout * r / ROUNDS;
        loop {
            let Ok(received) = tokio::time::timeout_at(until, socket.recv_from(&mut buf)).await
            else {
                break;
            };
            let Ok((n, from)) = received else { continue };
            if let Some(f) = classify(from, &buf[..n]) {
                let replace = match found.get(&from.ip()) {
                    None => true,
                    Some(Found::Iot { .. }) => matches!(f, Found::New { .. }),
                    Some(Found::New { .. }) => false,
                };
                if replace {
                    found.insert(from.ip(), f);
                }
            }
            // Every unicast target answered on its newer protocol, or at all after the first
            // round: nothing more to wait for.
            if !broadcast
                && found.len() == targets.len()
                && found.values().all(|f| matches!(f, Found::New { .. }))
            {
                return Ok(found.into_values().collect());
            }
        }
        if !broadcast && found.len() == targets.len() {
            break;
        }
    }
    Ok(found.into_values().collect())
}

fn classify(from: SocketAddr, datagram: &[u8]) -> Option<Found> {
    match from.port() {
        IOT_PORT => parse_iot_reply(datagram).map(|(info, raw)| Found::Iot {
            ip: from.ip(),
            info,
            raw,
        }),
        p if NEW_PORTS.contains(&p) => parse_new_reply(datagram).map(|info| Found::New {
            ip: from.ip(),
            info,
        }),
        _ => None,
    }
}

/// The addresses of `spec`: one address, or an IPv4 CIDR of at most /16 (network and
/// broadcast addresses excluded for prefixes up to /30).
pub fn targets(spec: &str) -> Result<Vec<IpAddr>, String> {
    let spec = spec.trim();
    let Some((net, bits)) = spec.split_once('/') else {
        return spec
            .parse::<IpAddr>()
            .map(|ip| vec![ip])
            .map_err(|_| format!("{spec:?} is not an IP address or CIDR"));
    };
    let net: std::net::Ipv4Addr = net
        .parse()
        .map_err(|_| format!("{spec:?}: {net:?} is not an IPv4 address"))?;
    let bits: u32 = bits
        .parse()
        .ok()
        .filter(|b| *b <= 32)
        .ok_or_else(|| format!("{spec:?}: bad prefix length"))?;
    if bits < 16 {
        return Err(format!(
            "{spec:?} is {} addresses; sweep at most a /16 at a time",
            1u64 << (32 - bits)
        ));
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    let base = u32::from(net) & mask;
    let size = 1u32 << (32 - bits);
    let (first, last) = if bits <= 30 { (1, size - 1) } else { (0, size) };
    Ok((first..last)
        .map(|i| IpAddr::V4((base + i).into()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_probe_is_the_reference_datagram() {
        let expected = "d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6";
        let hex: String = iot_probe().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn the_new_probe_has_the_reference_header_and_a_valid_crc() {
        let p = new_probe(0xbbe4_e1c8);
        assert_eq!(&p[..4], &[2, 0, 0, 1]);
        let len = u16::from_be_bytes([p[4], p[5]]) as usize;
        assert_eq!(len, p.len() - HEADER_LEN);
        assert_eq!(&p[6..8], &[0x11, 0]);
        assert_eq!(&p[8..12], &0xbbe4_e1c8u32.to_be_bytes());
        let mut check = p.clone();
        check[12..16].copy_from_slice(&0x5A6B_7C8Du32.to_be_bytes());
        assert_eq!(
            u32::from_be_bytes([p[12], p[13], p[14], p[15]]),
            crc32fast::hash(&check)
        );
        let json: Value = serde_json::from_slice(&p[HEADER_LEN..]).unwrap();
        assert!(
            json["params"]["rsa_key"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
    }

    #[test]
    fn a_new_reply_parses_its_connection_parameters() {
        let mut d = vec![0u8; HEADER_LEN];
        d.extend_from_slice(
            br#"{"error_code":0,"result":{"device_type":"SMART.TAPOPLUG","device_model":"P110(UK)","device_id":"ab","ip":"127.0.0.9","mac":"48-22-54-00-00-09","factory_default":false,"mgt_encrypt_schm":{"is_support_https":false,"encrypt_type":"KLAP","http_port":8080,"lv":2}}}"#,
        );
        let info = parse_new_reply(&d).unwrap();
        assert_eq!(info.device_model, "P110(UK)");
        assert_eq!(
            (
                info.encrypt_type.as_deref(),
                info.http_port,
                info.login_version
            ),
            (Some("KLAP"), Some(8080), Some(2))
        );
        assert!(!info.https);
        assert_eq!(info.factory_default, Some(false));
        assert!(parse_new_reply(&d[..10]).is_none());
        assert!(parse_new_reply(b"0123456789abcdef{not json").is_none());
    }

    #[test]
    fn a_legacy_reply_parses_to_sysinfo() {
        let reply = codec::encrypt(
            br#"{"system":{"get_sysinfo":{"model":"HS110(EU)","mac":"50:C7:BF:00:00:01","deviceId":"80","alias":"a"}}}"#,
        );
        let (info, _) = parse_iot_reply(&reply).unwrap();
        assert_eq!(info.model, "HS110(EU)");
        assert!(parse_iot_reply(b"garbage").is_none());
    }

    #[test]
    fn a_kasa_camera_s_nested_legacy_reply_parses_to_its_inner_sysinfo() {
        // The shape of python-kasa's EC60(US) capture.
        let reply = codec::encrypt(
            br#"{"system":{"get_sysinfo":{"err_code":0,"system":{"model":"EC60(US)","type":"IOT.IPCAMERA","mac":"74:FE:CE:00:00:01","mic_mac":"74FECE000001","deviceId":"80","alias":"porch","stream_version":2}}}}"#,
        );
        let (info, raw) = parse_iot_reply(&reply).unwrap();
        assert_eq!(info.model, "EC60(US)");
        assert_eq!(info.kind, "IOT.IPCAMERA");
        assert_eq!(raw["stream_version"], 2);
    }

    #[test]
    fn targets_expand_cidrs_and_refuse_huge_ones() {
        assert_eq!(
            targets("127.0.0.5").unwrap(),
            vec!["127.0.0.5".parse::<IpAddr>().unwrap()]
        );
        let t = targets("127.31.0.0/30").unwrap();
        assert_eq!(
            t,
            vec![
                "127.31.0.1".parse::<IpAddr>().unwrap(),
                "127.31.0.2".parse().unwrap()
            ]
        );
        assert_eq!(targets("10.0.0.0/24").unwrap().len(), 254);
        assert_eq!(targets("10.0.0.7/32").unwrap().len(), 1);
        assert!(targets("10.0.0.0/8").unwrap_err().contains("at most a /16"));
        assert!(targets("nope").is_err());
        assert!(targets("10.0.0.0/40").is_err());
    }
}
