//! Properties of the IOT cipher and framing, over inputs no one would write by hand.
//!
//! Failures are reproducible: proptest prints the minimal failing input, and persists the
//! seed of every failing case in `tests/proptest_codec.proptest-regressions`, next to this
//! file, which is replayed first on every later run. Commit that file when it appears.

use fleetreset::protocol::iot::codec::{
    DecodeError, HEADER_LEN, MAX_FRAME_LEN, decode_frame, decrypt, encode_frame, encrypt,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// 256 cases per property keep the whole file to a few seconds in a debug build.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(256)
    }
}

/// Payloads up to 8 KiB: five times the largest real reply, small enough to stay quick.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..8 * 1024)
}

/// Bytes that often start with a small, plausible length prefix, so that decoding gets past
/// the header as often as it stops at it.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (0u32..96, prop::collection::vec(any::<u8>(), 0..128)).prop_map(|(len, rest)| {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend(rest);
            bytes
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decrypt_inverts_encrypt(plain in payload()) {
        let cipher = encrypt(&plain);
        prop_assert_eq!(cipher.len(), plain.len());
        prop_assert_eq!(decrypt(&cipher), plain);
    }

    #[test]
    fn a_frame_decodes_to_its_payload_using_exactly_its_bytes(
        plain in payload(),
        trailing in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let frame = encode_frame(&plain);
        prop_assert_eq!(frame.len(), HEADER_LEN + plain.len());
        prop_assert_eq!(&frame[..HEADER_LEN], &(plain.len() as u32).to_be_bytes()[..]);
        let mut stream = frame.clone();
        stream.extend(&trailing);
        let (decoded, used) = decode_frame(&stream, MAX_FRAME_LEN).unwrap();
        prop_assert_eq!(decoded, plain);
        prop_assert_eq!(used, frame.len());
    }

    #[test]
    fn decoding_any_bytes_is_incomplete_too_large_or_a_frame_within_them(
        bytes in wire_bytes(),
        max in prop_oneof![Just(MAX_FRAME_LEN), 0usize..128],
    ) {
        match decode_frame(&bytes, max) {
            Ok((plain, used)) => {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(used, HEADER_LEN + plain.len());
                prop_assert!(plain.len() <= max);
                prop_assert_eq!(encrypt(&plain), &bytes[HEADER_LEN..used]);
            }
            Err(DecodeError::Incomplete { needed }) => {
                prop_assert!(needed > 0);
            }
            Err(DecodeError::TooLarge { len, max: limit }) => {
                prop_assert_eq!(limit, max);
                prop_assert!(len > max);
            }
        }
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete_by_exactly_what_is_missing(
        plain in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let frame = encode_frame(&plain);
        for cut in 0..frame.len() {
            // Before the header is whole only the header's missing bytes are known; after it,
            // the rest of the frame.
            let needed = if cut < HEADER_LEN { HEADER_LEN - cut } else { frame.len() - cut };
            prop_assert_eq!(
                decode_frame(&frame[..cut], MAX_FRAME_LEN),
                Err(DecodeError::Incomplete { needed }),
                "prefix of {} bytes", cut
            );
        }
    }
}
