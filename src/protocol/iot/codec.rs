//! XOR autokey cipher and length framing, with no I/O.
//!
//! Encryption starts with the key 171; each cipher byte is the previous key XOR the plaintext
//! byte, and becomes the next key. A TCP frame is the 4-byte big-endian plaintext length
//! followed by the ciphertext (same length). UDP datagrams carry the ciphertext alone.

/// The cipher's initial key.
pub const INITIAL_KEY: u8 = 171;

/// Largest frame payload we accept, in bytes.
///
/// The largest real reply in our captures is an HS300 strip's full module query at about
/// 1.6 KiB, and python-kasa never asks a device for more than 16 KiB in one reply (4 KiB for
/// bulbs), because that is what the firmware can safely build. 64 KiB is four times that
/// ceiling; a length prefix above it is garbage or hostile, and is refused before allocating.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not enough bytes yet for a whole frame; read more and try again.
    #[error("incomplete frame: need {needed} more bytes")]
    Incomplete { needed: usize },
    /// The length prefix announces more than [`MAX_FRAME_LEN`].
    #[error("frame length {len} exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
}

/// Encrypts `plain` with the autokey cipher.
pub fn encrypt(plain: &[u8]) -> Vec<u8> {
    let mut key = INITIAL_KEY;
    plain
        .iter()
        .map(|&p| {
            key ^= p;
            key
        })
        .collect()
}

/// Decrypts autokey ciphertext.
pub fn decrypt(cipher: &[u8]) -> Vec<u8> {
    let mut key = INITIAL_KEY;
    cipher
        .iter()
        .map(|&c| {
            let p = key ^ c;
            key = c;
            p
        })
        .collect()
}

/// Builds a TCP frame: length prefix and ciphertext.
///
/// # Panics
/// If `plain` is longer than `u32::MAX` bytes, which no caller can build from a JSON request.
pub fn encode_frame(plain: &[u8]) -> Vec<u8> {
    let len = u32::try_from(plain.len()).expect("IOT payloads are far below 4 GiB");
    let mut out = Vec::with_capacity(HEADER_LEN + plain.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(encrypt(plain));
    out
}

/// Reads the payload length from a frame header, checking it against `max`.
pub fn frame_len(buf: &[u8], max: usize) -> Result<usize, DecodeError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Err(DecodeError::Incomplete {
            needed: HEADER_LEN - buf.len(),
        });
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > max {
        return Err(DecodeError::TooLarge { len, max });
    }
    Ok(len)
}

/// Decodes one frame from the start of `buf`: the decrypted payload and the number of bytes the
/// frame used.
pub fn decode_frame(buf: &[u8], max: usize) -> Result<(Vec<u8>, usize), DecodeError> {
    let len = frame_len(buf, max)?;
    let total = HEADER_LEN + len;
    if buf.len() < total {
        return Err(DecodeError::Incomplete {
            needed: total - buf.len(),
        });
    }
    Ok((decrypt(&buf[HEADER_LEN..total]), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Vectors from the protocol reference, computed with python-kasa 0.12.0.
    const SYSINFO: &str = r#"{"system":{"get_sysinfo":{}}}"#;
    const SYSINFO_FRAME: &str =
        "0000001dd0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6";
    const REBOOT: &str = r#"{"system":{"reboot":{"delay":1}}}"#;
    const REBOOT_FRAME: &str =
        "00000021d0f281f88bff9af7d5ef94b6c4a1c3acc3b795afd4f692f79bfa83a19baad7aad7";

    #[test]
    fn sysinfo_request_encodes_to_the_reference_frame() {
        assert_eq!(encode_frame(SYSINFO.as_bytes()), hex(SYSINFO_FRAME));
    }

    #[test]
    fn reboot_request_encodes_to_the_reference_frame() {
        assert_eq!(encode_frame(REBOOT.as_bytes()), hex(REBOOT_FRAME));
    }

    #[test]
    fn reference_frames_decode_to_their_json() {
        for (json, frame) in [(SYSINFO, SYSINFO_FRAME), (REBOOT, REBOOT_FRAME)] {
            let bytes = hex(frame);
            let (plain, used) = decode_frame(&bytes, MAX_FRAME_LEN).unwrap();
            assert_eq!(plain, json.as_bytes());
            assert_eq!(used, bytes.len());
        }
    }

    #[test]
    fn udp_discovery_datagram_is_the_frame_without_its_prefix() {
        assert_eq!(encrypt(SYSINFO.as_bytes()), hex(&SYSINFO_FRAME[8..]));
        assert_eq!(decrypt(&hex(&SYSINFO_FRAME[8..])), SYSINFO.as_bytes());
    }

    #[test]
    fn decrypt_inverts_encrypt_for_every_byte_value() {
        let all: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        assert_eq!(decrypt(&encrypt(&all)), all);
        assert_ne!(encrypt(&all), all);
    }

    #[test]
    fn partial_header_is_incomplete() {
        assert_eq!(
            decode_frame(&[0, 0], MAX_FRAME_LEN),
            Err(DecodeError::Incomplete { needed: 2 })
        );
        assert_eq!(
            decode_frame(&[], MAX_FRAME_LEN),
            Err(DecodeError::Incomplete { needed: 4 })
        );
    }

    #[test]
    fn partial_body_is_incomplete_with_the_missing_count() {
        let frame = hex(REBOOT_FRAME);
        assert_eq!(
            decode_frame(&frame[..10], MAX_FRAME_LEN),
            Err(DecodeError::Incomplete {
                needed: frame.len() - 10
            })
        );
    }

    #[test]
    fn oversized_length_prefix_is_refused_before_the_body_arrives() {
        let header = 0x7fff_ffffu32.to_be_bytes();
        assert_eq!(
            decode_frame(&header, MAX_FRAME_LEN),
            Err(DecodeError::TooLarge {
                len: 0x7fff_ffff,
                max: MAX_FRAME_LEN
            })
        );
    }

    #[test]
    fn frame_at_the_cap_is_accepted_and_one_past_it_is_not() {
        let plain = vec![b'a'; 100];
        let frame = encode_frame(&plain);
        assert_eq!(decode_frame(&frame, 100).unwrap().0, plain);
        let long = encode_frame(&[b'a'; 101]);
        assert!(matches!(
            decode_frame(&long, 100),
            Err(DecodeError::TooLarge { len: 101, .. })
        ));
    }

    #[test]
    fn trailing_bytes_after_a_frame_are_left_for_the_next_one() {
        let mut two = encode_frame(SYSINFO.as_bytes());
        let first_len = two.len();
        two.extend(encode_frame(REBOOT.as_bytes()));
        let (plain, used) = decode_frame(&two, MAX_FRAME_LEN).unwrap();
        assert_eq!(plain, SYSINFO.as_bytes());
        assert_eq!(used, first_len);
        let (plain, _) = decode_frame(&two[used..], MAX_FRAME_LEN).unwrap();
        assert_eq!(plain, REBOOT.as_bytes());
    }
}
