use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn scalar(s: &str) -> Scalar {
    scalar_from_be(&hex(s))
}

/// RFC 9383, appendix C: SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256, with its own context
/// string and identities.
const RFC_CONTEXT: &[u8] = b"SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors";
const RFC_W0: &str = "bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3";
const RFC_W1: &str = "7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba";
const RFC_X: &str = "d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539";
const RFC_Y: &str = "717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3";
const RFC_SHARE_P: &str = "04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1
    de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727";
const RFC_SHARE_V: &str = "04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb
    5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048";
const RFC_CONFIRM_P: &str = "926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527";
const RFC_CONFIRM_V: &str = "9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68";
const RFC_SHARED: &str = "0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7";

fn rfc_parties() -> Parties<'static> {
    Parties {
        context: RFC_CONTEXT,
        prover: b"client",
        verifier: b"server",
    }
}

fn rfc_password() -> Password {
    Password {
        w0: scalar(RFC_W0),
        w1: scalar(RFC_W1),
    }
}

#[test]
fn the_prover_matches_the_rfc_9383_vector() {
    let out = prove(
        &rfc_password(),
        &scalar(RFC_X),
        rfc_parties(),
        &hex(RFC_SHARE_V),
    )
    .unwrap();
    assert_eq!(out.share, hex(RFC_SHARE_P));
    assert_eq!(out.confirm.to_vec(), hex(RFC_CONFIRM_P));
    assert_eq!(out.shared.to_vec(), hex(RFC_SHARED));
    assert!(out.peer_confirms(&hex(RFC_CONFIRM_V)));
    assert!(!out.peer_confirms(&hex(RFC_CONFIRM_P)));
    assert!(!out.peer_confirms(&hex(RFC_CONFIRM_V)[..31]));
}

#[test]
fn the_verifier_matches_the_rfc_9383_vector() {
    let verifier = rfc_password().verifier();
    let y = scalar(RFC_Y);
    assert_eq!(verifier_share(&verifier, &y), hex(RFC_SHARE_V));
    let out = respond(&verifier, &y, rfc_parties(), &hex(RFC_SHARE_P)).unwrap();
    assert_eq!(out.share, hex(RFC_SHARE_V));
    assert_eq!(out.confirm.to_vec(), hex(RFC_CONFIRM_V));
    assert_eq!(out.shared.to_vec(), hex(RFC_SHARED));
    assert!(out.peer_confirms(&hex(RFC_CONFIRM_P)));
}

#[test]
fn pbkdf2_gives_the_reference_w0_and_w1() {
    // sha1("hunter2"), as a plug's `password_shadow` asks for.
    let p = Password::derive(
        b"f3bbbd66a63d4bf1747940578ec3d0103530e21d",
        b"0123456789abcdef",
        3000,
    );
    assert_eq!(
        p.w0.to_bytes().to_vec(),
        hex("f01588c03f935783a7c530a83ab1ade1a3261b13005521b6946dc5c7ad259f2c")
    );
    assert_eq!(
        p.w1.to_bytes().to_vec(),
        hex("de9bd4a17ba3b23e2a26fbf5ae94010c68f5e0e34388fe6ec227fcb45bd0b42e")
    );
}

/// The reference's end-to-end TPAP vector: both sides, the TPAP context and empty ids.
#[test]
fn both_sides_match_the_reference_tpap_vector() {
    let salt: Vec<u8> = (0u8..16).collect();
    let password = Password::derive(
        crate::protocol::tpap::credential::sha1_hex("hunter2").as_bytes(),
        &salt,
        1000,
    );
    assert_eq!(
        password.w0.to_bytes().to_vec(),
        hex("b03bbc6884ab057d5063a043b8b032bb3d238cfe284a148edc817d078e8792e6")
    );
    let ctx = context(&[0x11; 32], &[0x22; 32]);
    let x = scalar(&"0123456789abcdef".repeat(4));
    let y = scalar(&"0fedcba987654321".repeat(4));
    let verifier = password.verifier();
    let dev_share = verifier_share(&verifier, &y);
    assert_eq!(
        dev_share,
        hex(
            "04c3f2ef51e10cf6362b0a422f32c71922beedad68d18eb8e584fc77f6ea1a6653
             c360c88cb8eaf2d7b596e11f158243368a5ee7fc298cf9fc97ca951c876730b7"
        )
    );
    let client = prove(&password, &x, tpap_parties(&ctx), &dev_share).unwrap();
    assert_eq!(
        client.share,
        hex(
            "047506f4cf6815d86d29f86b9d117a6c5f7dd8fe9a590459d6688c942019e99d8f
             b61f685404bd850fca0007d88156b210d0ee24873ade448793547e5ae5ad5e49"
        )
    );
    assert_eq!(
        client.confirm.to_vec(),
        hex("cab5ab1ac235ba25b2b4104be0d0d86869e4e57d4a6d76b850aae3cc519cdb31")
    );
    assert_eq!(
        client.shared.to_vec(),
        hex("7d167e1fb9d3af4c77f4512fba6bc8ab3773f6e840ed4f041fbc679297da5ee1")
    );
    let device = respond(&verifier, &y, tpap_parties(&ctx), &client.share).unwrap();
    assert_eq!(
        device.confirm.to_vec(),
        hex("5a6bb99d923471a603fe96ac74b49bb0b43b1e26c4b65605d3fa9c8489f0ce53")
    );
    assert_eq!(device.shared, client.shared);
    assert!(client.peer_confirms(&device.confirm));
    assert!(device.peer_confirms(&client.confirm));
}

#[test]
fn a_wrong_password_gives_different_keys_and_no_confirmation() {
    let mut rng = rand::thread_rng();
    let right = Password::derive(b"right", b"salt", 10);
    let wrong = Password::derive(b"wrong", b"salt", 10);
    let ctx = context(&[1; 32], &[2; 32]);
    let y = random_scalar(&mut rng);
    let share = verifier_share(&right.verifier(), &y);
    let client = prove(&wrong, &random_scalar(&mut rng), tpap_parties(&ctx), &share).unwrap();
    let device = respond(&right.verifier(), &y, tpap_parties(&ctx), &client.share).unwrap();
    assert!(!device.peer_confirms(&client.confirm));
    assert!(!client.peer_confirms(&device.confirm));
    assert_ne!(device.shared, client.shared);
}

#[test]
fn shares_off_the_curve_or_cancelling_the_password_are_refused() {
    let p = Password::derive(b"credential", &[0; 16], 1);
    let x = scalar("01");
    let ctx = context(&[0; 32], &[0; 32]);
    let mut off = vec![0x04];
    off.extend([1u8; 64]);
    for bad in [off, vec![], vec![0x00], vec![0x04; 10]] {
        assert_eq!(
            prove(&p, &x, tpap_parties(&ctx), &bad).unwrap_err(),
            Spake2pError::NotAPoint
        );
    }
    // Y = w0·N leaves the identity once the password is taken out.
    let cancelling = encode(&(fixed(&N) * p.w0));
    assert_eq!(
        prove(&p, &x, tpap_parties(&ctx), &cancelling).unwrap_err(),
        Spake2pError::Degenerate
    );
    // And X = w0·M, for the verifier.
    let cancelling = encode(&(fixed(&M) * p.w0));
    assert_eq!(
        respond(&p.verifier(), &x, tpap_parties(&ctx), &cancelling).unwrap_err(),
        Spake2pError::Degenerate
    );
}

#[test]
fn random_scalars_are_not_zero_and_differ() {
    let mut rng = rand::thread_rng();
    let a = random_scalar(&mut rng);
    let b = random_scalar(&mut rng);
    assert_ne!(a, Scalar::ZERO);
    assert_ne!(a, b);
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let p = Password::derive(b"hunter2", b"salt", 1);
    let shown = format!("{p:?} {:?}", p.verifier());
    assert!(!shown.contains(&format!("{:?}", p.w0)), "{shown}");
    assert_eq!(shown, "Password(..) Verifier(..)");
}
