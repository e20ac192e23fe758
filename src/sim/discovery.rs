//! "New" discovery on UDP 20002 and 20004, as HTTP devices (KLAP, AES) answer it. Pure: the
//! server receives the probe and sends the reply from the same socket.
//!
//! Both directions are a 16-byte header (version 2, message type, op code, payload length,
//! flags, a serial and a CRC-32) followed by JSON. The probe's JSON carries the client's RSA
//! key; the reply is `{"error_code":0,"result":{…}}` describing the device, its encryption and
//! its HTTP port. python-kasa ignores the reply's header, so only the layout is kept exact.

use serde_json::{Value, json};

/// The ports the probe goes to; python-kasa sends to both (20004 was added for doorbells).
pub const PORTS: [u16; 2] = [20002, 20004];

/// Length of the header before the JSON, in both directions.
pub const HEADER_LEN: usize = 16;

/// The header's version byte.
const VERSION: u8 = 2;
/// The CRC field's placeholder while the CRC is computed.
const CRC_PLACEHOLDER: u32 = 0x5A6B_7C8D;
/// The flags python-kasa's probe sets, echoed in the reply.
const FLAGS: u8 = 0x11;

/// What the simulator keeps of a probe: its serial, echoed in the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub serial: u32,
}

/// Reads a probe: version 2, a 16-byte header, then a JSON object. The CRC is not checked,
/// since clients have sent placeholders; anything else is garbage and gets `None`.
pub fn parse_probe(datagram: &[u8]) -> Option<Probe> {
    if datagram.len() < HEADER_LEN || datagram[0] != VERSION {
        return None;
    }
    let body: Value = serde_json::from_slice(&datagram[HEADER_LEN..]).ok()?;
    if !body.is_object() {
        return None;
    }
    let serial = u32::from_be_bytes(datagram[8..12].try_into().expect("4 bytes"));
    Some(Probe { serial })
}

/// The reply datagram: header, then `{"error_code":0,"result":result}`.
pub fn encode_reply(probe: Probe, result: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(&json!({"error_code": 0, "result": result}))
        .expect("a JSON value serialises");
    // A discovery result is a few hundred bytes; the length field is 16 bits.
    let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend([VERSION, 0, 0, 1]);
    out.extend(len.to_be_bytes());
    out.extend([FLAGS, 0]);
    out.extend(probe.serial.to_be_bytes());
    out.extend(CRC_PLACEHOLDER.to_be_bytes());
    out.extend(&body);
    let crc = crc32fast::hash(&out);
    out[12..16].copy_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe laid out as python-kasa sends it (its placeholder CRC left in).
    fn probe(json: &[u8]) -> Vec<u8> {
        let mut p = vec![2, 0, 0, 1];
        p.extend((json.len() as u16).to_be_bytes());
        p.extend([0x11, 0, 0xbb, 0xe4, 0xe1, 0xc8, 0x5a, 0x6b, 0x7c, 0x8d]);
        p.extend(json);
        p
    }

    #[test]
    fn a_probe_is_read_whatever_its_crc_and_garbage_is_not() {
        let p = probe(br#"{"params":{"rsa_key":"-----BEGIN PUBLIC KEY-----\n"}}"#);
        assert_eq!(
            parse_probe(&p),
            Some(Probe {
                serial: 0xbbe4_e1c8
            })
        );
        assert_eq!(parse_probe(&p[..15]), None);
        assert_eq!(parse_probe(&probe(b"not json")), None);
        assert_eq!(parse_probe(&probe(b"[1,2]")), None);
        let mut v1 = p.clone();
        v1[0] = 1;
        assert_eq!(parse_probe(&v1), None);
        assert_eq!(parse_probe(b""), None);
    }

    #[test]
    fn the_reply_is_a_16_byte_header_with_length_serial_and_crc_then_the_json() {
        let result = json!({"device_type": "SMART.TAPOPLUG"});
        let reply = encode_reply(Probe { serial: 7 }, &result);
        let body = &reply[HEADER_LEN..];
        assert_eq!(reply[..4], [2, 0, 0, 1]);
        assert_eq!(
            usize::from(u16::from_be_bytes([reply[4], reply[5]])),
            body.len()
        );
        assert_eq!(reply[8..12], 7u32.to_be_bytes());
        let mut check = reply.clone();
        check[12..16].copy_from_slice(&CRC_PLACEHOLDER.to_be_bytes());
        assert_eq!(reply[12..16], crc32fast::hash(&check).to_be_bytes());
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            v,
            json!({"error_code": 0, "result": {"device_type": "SMART.TAPOPLUG"}})
        );
    }
}
