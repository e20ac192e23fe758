//! The LINKIE2 body codec (Kasa cameras, the KD110): IOT JSON through the 0xAB XOR autokey
//! (without the 4-byte length prefix of TCP 9999), base64, then URL-quoted into a form body
//! `content=…`. Replies are base64 of the XOR ciphertext, or plain JSON for some errors.
//! Pure, both directions.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::protocol::iot::codec;

/// Characters python's `urllib.parse.quote` leaves alone besides letters and digits, with
/// the `!~*'()` python-kasa adds to its safe set.
const UNQUOTED: &[u8] = b"-._~!*'()";

/// Why a LINKIE2 body can't be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not base64 and not JSON")]
    NotBase64,
    #[error("the form has no content field")]
    NoContent,
    #[error("bad percent-escape in the form")]
    BadEscape,
}

/// The request body for `json`: `content=<quote(base64(xor(json)))>`.
pub fn encode_request(json: &[u8]) -> String {
    format!("content={}", quote(&B64.encode(codec::encrypt(json))))
}

/// The JSON inside a request body (the device side).
pub fn decode_request(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let form = std::str::from_utf8(body).map_err(|_| DecodeError::NoContent)?;
    let value = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("content="))
        .ok_or(DecodeError::NoContent)?;
    let raw = unquote(value)?;
    let cipher = B64.decode(raw.trim()).map_err(|_| DecodeError::NotBase64)?;
    Ok(codec::decrypt(&cipher))
}

/// The reply body for `json` (the device side): base64 of the XOR ciphertext.
pub fn encode_reply(json: &[u8]) -> Vec<u8> {
    B64.encode(codec::encrypt(json)).into_bytes()
}

/// The JSON of a reply: base64 of XOR, or plain JSON (how cameras send some errors).
pub fn decode_reply(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let text = body.trim_ascii();
    if text.first() == Some(&b'{') {
        return Ok(text.to_vec());
    }
    B64.decode(text)
        .map(|c| codec::decrypt(&c))
        .map_err(|_| DecodeError::NotBase64)
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || UNQUOTED.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unquote(s: &str) -> Result<String, DecodeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).ok_or(DecodeError::BadEscape)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| DecodeError::BadEscape)?);
                i += 3;
            }
            // A form body may encode spaces as `+`; base64's own `+` is always escaped.
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::BadEscape)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The request/response vector of python-kasa's `tests/transports/test_linkietransport.py`,
    // recomputed in the camera reference (§1).
    const REQUEST: &str = r#"{"smartlife.cam.ipcamera.dateTime":{"get_status":{}}}"#;
    const BODY: &str =
        "content=0PKB7I3%2Fi%2BeO6I2jwKHM4ov7mPmU8YPizKjJvdiM5Yjtz%2FWOrMuu2oX2guOX4pGzifKP8o8%3D";
    const REPLY: &str = "0PKG74LnnfKc+dvhw5bCgaycqZOjk7Gdv96syaiKsJLTvtupwKPC7aPGse632KrB48/tiPiX9JzDsNW2lK6fqZCgmKuZoZGh3A==";
    const REPLY_JSON: &str =
        r#"{"timezone":"UTC-05:00","area":"America/New_York","epoch_sec":1690832800}"#;

    #[test]
    fn the_request_encodes_to_python_kasa_s_vector_and_back() {
        assert_eq!(encode_request(REQUEST.as_bytes()), BODY);
        assert_eq!(decode_request(BODY.as_bytes()).unwrap(), REQUEST.as_bytes());
    }

    #[test]
    fn the_reply_decodes_to_python_kasa_s_vector_and_back() {
        assert_eq!(
            decode_reply(REPLY.as_bytes()).unwrap(),
            REPLY_JSON.as_bytes()
        );
        assert_eq!(encode_reply(REPLY_JSON.as_bytes()), REPLY.as_bytes());
    }

    #[test]
    fn a_plain_json_error_is_read_as_it_is_and_garbage_is_refused() {
        let err = br#"{"smartlife.cam.ipcamera.cloud":{"get_inf":{"err_code":-10008,"err_msg":"Unsupported API call."}}}"#;
        assert_eq!(decode_reply(err).unwrap(), err.to_vec());
        assert_eq!(decode_reply(b"%%%"), Err(DecodeError::NotBase64));
        assert_eq!(decode_request(b"other=1"), Err(DecodeError::NoContent));
    }
}
