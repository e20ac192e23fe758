//! A Tapo camera on TPAP firmware: the same TLS listener where SslAes was, with TPAP's
//! `pake_register` / `pake_share` on `/` and encrypted SmartCam JSON on `/stok=<stok>/ds`.
//! As the reference gives it for cameras: the credential is md5 of the password with no
//! `extra_crypt`, a wrong password is answered `-40401`, the camera doesn't answer the discover
//! probe, and discovery announces `tls` 1 (what a C220 announces). Failed logins count towards
//! the allowance (`lockout=N`, else 15); once it is used up every login is answered `-2101`.

use std::time::Instant;

use md5::{Digest, Md5};
use rand::RngCore;
use serde_json::{Value, json};

use super::super::account::Account;
use super::super::model::{HttpReply, stok_of};
use super::super::state::Effect;
use super::super::tpap::wire::{self, Step};
use super::super::tpap::{LOCKED_MINUTES, RequestRefusal, ShareResult};
use super::tapo::{UNSUPPORTED_METHOD, status};
use super::{CamHttpRequest, CameraState};
use crate::protocol::tpap::credential::md5_hex;
use crate::protocol::tpap::messages::code;

/// What a TPAP camera announces in discovery.
pub fn announce(port: u16) -> Value {
    json!({"tls": 1, "dac": 0, "noc": 1, "pake": [2], "port": port})
}

impl CameraState {
    /// Answers one HTTPS request of a camera on TPAP firmware.
    pub(super) fn tpap_http(
        &mut self,
        account: &mut Account,
        req: &CamHttpRequest<'_>,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> (HttpReply, Option<Effect>) {
        if req.path == "/" {
            return (self.tpap_login(account, req.body, now, rng), None);
        }
        let Some(stok) = stok_of(req.path) else {
            return (status(404), None);
        };
        let sessions = self.tpap.as_mut().expect("a TPAP camera");
        match sessions.open(stok, req.body) {
            Ok((cipher, seq, plain)) => {
                let (answer, effect) = match serde_json::from_slice::<Value>(&plain) {
                    Ok(inner) => self.handle(&inner, now),
                    Err(_) => (json!({"error_code": UNSUPPORTED_METHOD}), None),
                };
                let bytes = serde_json::to_vec(&answer).expect("JSON serialises");
                (HttpReply::bytes(cipher.seal(seq, &bytes)), effect)
            }
            Err(RequestRefusal::UnknownSession) => {
                (reply(&json!({"error_code": code::SESSION_INVALID})), None)
            }
            Err(RequestRefusal::BadRequest) => (status(400), None),
        }
    }

    fn tpap_login(
        &mut self,
        account: &mut Account,
        body: &[u8],
        now: Instant,
        rng: &mut impl RngCore,
    ) -> HttpReply {
        let allowance = account.tpap_allowance();
        let failed = account.failed_logins();
        if failed >= allowance {
            account.refused();
            return reply(&json!({"error_code": code::LOCKED, "error_info": {
                "lockedMinute": LOCKED_MINUTES, "failedAttempts": failed, "remainAttempts": 0}}));
        }
        match wire::step(body) {
            // Cameras don't answer the probe; tapo logs in to them without one.
            Ok(Step::Discover) => reply(&json!({"error_code": UNSUPPORTED_METHOD})),
            Ok(Step::Register(user_random)) => {
                // Each login begins here, journaled as the SslAes camera's are.
                self.journal.record("login");
                let credential = md5_hex(&self.password(account));
                let salt = self.tpap_salt();
                let sessions = self.tpap.as_mut().expect("a TPAP camera");
                let r = sessions.register(user_random, &credential, &salt, rng);
                reply(&wire::registered(&r, None))
            }
            Ok(Step::Share(share, confirm)) => {
                let sessions = self.tpap.as_mut().expect("a TPAP camera");
                match sessions.share(&share, &confirm, now, rng) {
                    ShareResult::Accepted {
                        dev_confirm,
                        stok,
                        start_seq,
                    } => reply(&wire::accepted(&dev_confirm, &stok, start_seq)),
                    ShareResult::WrongPassword => {
                        account.failed();
                        reply(&json!({"error_code": code::CAMERA_CREDENTIALS}))
                    }
                    ShareResult::Malformed => reply(&json!({"error_code": UNSUPPORTED_METHOD})),
                }
            }
            Err(code) => reply(&json!({ "error_code": code })),
        }
    }

    /// The camera's PBKDF2 salt: fixed per camera, from its MAC.
    fn tpap_salt(&self) -> Vec<u8> {
        let mut salt = Md5::digest(self.mac().to_string().as_bytes()).to_vec();
        salt.truncate(16);
        salt
    }
}

fn reply(v: &Value) -> HttpReply {
    HttpReply::json(v)
}
