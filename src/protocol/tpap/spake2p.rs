//! SPAKE2+ (RFC 9383) on P-256 with SHA-256, HKDF-SHA256 and HMAC-SHA256: both roles, without
//! I/O. The client is the prover (it knows the password); a device, and so the simulator, is
//! the verifier (it holds `w0` and `L = w1·G`).
//!
//! TPAP runs it with empty identities and a context of `SHA-256("PAKE V1" ‖ user_random ‖
//! dev_random)` ([`context`]); the RFC's own test vector uses other identities and a context
//! string, which is why both are parameters here. `w0` enters the transcript as its 32
//! big-endian bytes, as the RFC says (one public client writes it minimal-length instead,
//! which differs whenever its top byte is zero, about one login in 256).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use p256::elliptic_curve::ff::FromUniformBytes;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{ProjectivePoint, PublicKey, Scalar};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// RFC 9383's `M` for P-256, compressed SEC1.
const M: [u8; 33] = hex33("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f");
/// RFC 9383's `N` for P-256, compressed SEC1.
const N: [u8; 33] = hex33("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49");

/// Length of the PBKDF2 output `w0` and `w1` are cut from: 40 bytes each, 64 bits more than
/// the group order so that reducing them is unbiased.
const W_LEN: usize = 40;

/// Why an exchange can't go on. Both mean the peer is not speaking SPAKE2+ honestly (or at
/// all); neither says anything about the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Spake2pError {
    #[error("the peer's share is not a point on P-256 (SEC1)")]
    NotAPoint,
    #[error("the peer's share cancels the password out (it leads to the identity)")]
    Degenerate,
}

/// The two password scalars both sides derive from the credential string.
#[derive(Clone)]
pub struct Password {
    pub w0: Scalar,
    pub w1: Scalar,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// `PBKDF2-HMAC-SHA256(credential, salt, iterations)` cut into two 40-byte halves, each
    /// reduced modulo the group order.
    pub fn derive(credential: &[u8], salt: &[u8], iterations: u32) -> Password {
        let mut k = [0u8; 2 * W_LEN];
        pbkdf2::pbkdf2_hmac::<Sha256>(credential, salt, iterations, &mut k);
        Password {
            w0: scalar_from_be(&k[..W_LEN]),
            w1: scalar_from_be(&k[W_LEN..]),
        }
    }

    /// What a device stores instead of the password: `w0` and `L = w1·G`.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            w0: self.w0,
            l: ProjectivePoint::GENERATOR * self.w1,
        }
    }
}

/// The verifier's secret: `w0` and `L`.
#[derive(Clone)]
pub struct Verifier {
    pub w0: Scalar,
    pub l: ProjectivePoint,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(..)")
    }
}

/// Who is talking and about what: the transcript's first three items.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    pub context: &'a [u8],
    pub prover: &'a [u8],
    pub verifier: &'a [u8],
}

/// TPAP's parties: empty identities and [`context`].
pub fn tpap_parties(context: &[u8; 32]) -> Parties<'_> {
    Parties {
        context,
        prover: b"",
        verifier: b"",
    }
}

/// TPAP's context: `SHA-256("PAKE V1" ‖ user_random ‖ dev_random)`.
pub fn context(user_random: &[u8], dev_random: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"PAKE V1")
        .chain_update(user_random)
        .chain_update(dev_random)
        .finalize()
        .into()
}

/// One side's result once it has seen the other's share.
#[derive(Clone)]
pub struct Outcome {
    /// This side's share, uncompressed SEC1 (65 bytes).
    pub share: Vec<u8>,
    /// This side's confirmation, sent to the peer.
    pub confirm: [u8; 32],
    /// The confirmation the peer must send.
    expected: [u8; 32],
    /// The key both sides end with.
    pub shared: [u8; 32],
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("share", &self.share.len())
            .finish_non_exhaustive()
    }
}

impl Outcome {
    /// Whether `confirm` is the peer's proof that it derived the same keys; constant time.
    pub fn peer_confirms(&self, confirm: &[u8]) -> bool {
        self.expected.as_slice().ct_eq(confirm).into()
    }
}

/// The prover's side: share `X = x·G + w0·M`, then, with the verifier's share `Y`,
/// `Z = x·(Y − w0·N)` and `V = w1·(Y − w0·N)`. `x` is the prover's ephemeral secret.
pub fn prove(
    password: &Password,
    x: &Scalar,
    parties: Parties<'_>,
    verifier_share: &[u8],
) -> Result<Outcome, Spake2pError> {
    let (m, n) = (fixed(&M), fixed(&N));
    let x_pub = ProjectivePoint::GENERATOR * x + m * password.w0;
    let y_pub = decode(verifier_share)?;
    let unmasked = y_pub - n * password.w0;
    let z = unmasked * x;
    let v = unmasked * password.w1;
    let keys = keys(parties, &x_pub, &y_pub, &z, &v, &password.w0)?;
    Ok(Outcome {
        share: encode(&x_pub),
        confirm: mac(&keys.prover, &encode(&y_pub)),
        expected: mac(&keys.verifier, &encode(&x_pub)),
        shared: keys.shared,
    })
}

/// The verifier's side: share `Y = y·G + w0·N`, then, with the prover's share `X`,
/// `Z = y·(X − w0·M)` and `V = y·L`. `y` is the verifier's ephemeral secret.
pub fn respond(
    verifier: &Verifier,
    y: &Scalar,
    parties: Parties<'_>,
    prover_share: &[u8],
) -> Result<Outcome, Spake2pError> {
    let (m, n) = (fixed(&M), fixed(&N));
    let y_pub = ProjectivePoint::GENERATOR * y + n * verifier.w0;
    let x_pub = decode(prover_share)?;
    let unmasked = x_pub - m * verifier.w0;
    let z = unmasked * y;
    let v = verifier.l * y;
    let keys = keys(parties, &x_pub, &y_pub, &z, &v, &verifier.w0)?;
    Ok(Outcome {
        share: encode(&y_pub),
        confirm: mac(&keys.verifier, &encode(&x_pub)),
        expected: mac(&keys.prover, &encode(&y_pub)),
        shared: keys.shared,
    })
}

/// The verifier's share alone, which it sends before it has seen `X`.
pub fn verifier_share(verifier: &Verifier, y: &Scalar) -> Vec<u8> {
    encode(&(ProjectivePoint::GENERATOR * y + fixed(&N) * verifier.w0))
}

/// A uniformly random non-zero scalar from 64 bytes of `rng`.
pub fn random_scalar(rng: &mut impl rand::RngCore) -> Scalar {
    loop {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let s = Scalar::from_uniform_bytes(&wide);
        if s != Scalar::ZERO {
            return s;
        }
    }
}

/// Big-endian bytes (at most 64) reduced modulo the group order.
pub fn scalar_from_be(bytes: &[u8]) -> Scalar {
    assert!(bytes.len() <= 64, "at most 64 bytes reduce to a scalar");
    let mut wide = [0u8; 64];
    wide[64 - bytes.len()..].copy_from_slice(bytes);
    Scalar::from_uniform_bytes(&wide)
}

struct Keys {
    prover: [u8; 32],
    verifier: [u8; 32],
    shared: [u8; 32],
}

fn keys(
    parties: Parties<'_>,
    x: &ProjectivePoint,
    y: &ProjectivePoint,
    z: &ProjectivePoint,
    v: &ProjectivePoint,
    w0: &Scalar,
) -> Result<Keys, Spake2pError> {
    if *z == ProjectivePoint::IDENTITY || *v == ProjectivePoint::IDENTITY {
        return Err(Spake2pError::Degenerate);
    }
    let mut tt = Vec::with_capacity(512);
    for item in [
        parties.context,
        parties.prover,
        parties.verifier,
        &encode(&fixed(&M)),
        &encode(&fixed(&N)),
        &encode(x),
        &encode(y),
        &encode(z),
        &encode(v),
        &w0.to_bytes(),
    ] {
        tt.extend_from_slice(&(item.len() as u64).to_le_bytes());
        tt.extend_from_slice(item);
    }
    let main = Sha256::digest(&tt);
    let mut confirmation = [0u8; 64];
    expand(&main, b"ConfirmationKeys", &mut confirmation);
    let mut shared = [0u8; 32];
    expand(&main, b"SharedKey", &mut shared);
    let (prover, verifier) = confirmation.split_at(32);
    Ok(Keys {
        prover: prover.try_into().expect("32 bytes"),
        verifier: verifier.try_into().expect("32 bytes"),
        shared,
    })
}

/// HKDF-SHA256 with an empty salt.
fn expand(ikm: &[u8], info: &[u8], out: &mut [u8]) {
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, out)
        .expect("64 bytes is within HKDF-SHA256's limit");
}

fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn decode(sec1: &[u8]) -> Result<ProjectivePoint, Spake2pError> {
    PublicKey::from_sec1_bytes(sec1)
        .map(|k| k.to_projective())
        .map_err(|_| Spake2pError::NotAPoint)
}

fn encode(p: &ProjectivePoint) -> Vec<u8> {
    p.to_sec1_point(false).as_bytes().to_vec()
}

fn fixed(sec1: &[u8; 33]) -> ProjectivePoint {
    decode(sec1).expect("RFC 9383's M and N are points on P-256")
}

const fn hex33(s: &str) -> [u8; 33] {
    let s = s.as_bytes();
    assert!(s.len() == 66);
    let mut out = [0u8; 33];
    let mut i = 0;
    while i < 33 {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("lower-case hex"),
    }
}

#[cfg(test)]
mod tests;
