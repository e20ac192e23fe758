//! A simulated device on TPAP firmware: the `login` steps on `/` (`discover`,
//! `pake_register`, `pake_share`), encrypted SMART requests on `/stok=<stok>/ds`, HTTP 403 to
//! KLAP's and AES's handshakes, and the lockout: every failed login is answered `-2203` with
//! the counters, and once the allowance is used up every request, the discover probe too, is
//! answered `-2101`.

use std::time::Instant;

use rsa::rand_core::CryptoRngCore;
use serde_json::{Value, json};

use super::{HttpReply, HttpRequest, Login, Sessions, SimState, error_reply, stok_of};
use crate::protocol::tpap::credential::sha1_hex;
use crate::protocol::tpap::messages::code;
use crate::sim::smart::code as smart_code;
use crate::sim::state::Effect;
use crate::sim::tpap::wire::{self, Step};
use crate::sim::tpap::{self, RequestRefusal, ShareResult};

impl SimState {
    /// What the device announces about its TPAP, in discovery and to the probe.
    pub(super) fn tpap_announce(&self) -> Value {
        json!({"tls": 0, "dac": 0, "noc": 0, "pake": [2], "port": self.addr.port()})
    }

    /// Answers one HTTP request of a TPAP device.
    pub(super) fn tpap(
        &mut self,
        req: &HttpRequest<'_>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (HttpReply, Option<Effect>) {
        let allowance = self.account.tpap_allowance();
        let failed = self.account.failed_logins();
        if failed >= allowance && (req.path == "/" || req.path.starts_with("/stok=")) {
            self.account.refused();
            return (
                HttpReply::json(&json!({"error_code": code::LOCKED, "error_info": {
                    "lockedMinute": tpap::LOCKED_MINUTES, "failedAttempts": failed,
                    "remainAttempts": 0}})),
                None,
            );
        }
        match req.path {
            "/" => (self.tpap_login(req.body, now, rng), None),
            // TPAP firmware turned KLAP and the AES passthrough off.
            "/app" | "/app/handshake1" | "/app/handshake2" | "/app/request" => {
                (HttpReply::status(403), None)
            }
            path => match stok_of(path) {
                Some(stok) => self.tpap_request(stok, req.body, now),
                None => (HttpReply::status(404), None),
            },
        }
    }

    fn tpap_login(&mut self, body: &[u8], now: Instant, rng: &mut impl CryptoRngCore) -> HttpReply {
        match wire::step(body) {
            Ok(Step::Discover) => {
                self.account.tpap_probed();
                HttpReply::json(&json!({"error_code": 0, "result": {
                    "sub_method": "discover",
                    "tpap_preferred": true,
                    "mac": self.mac_plain(),
                    "tpap": self.tpap_announce(),
                }}))
            }
            Ok(Step::Register(user_random)) => self.tpap_register(user_random, rng),
            Ok(Step::Share(share, confirm)) => self.tpap_share(&share, &confirm, now, rng),
            Err(code) => error_reply(code),
        }
    }

    fn tpap_register(&mut self, user_random: Vec<u8>, rng: &mut impl CryptoRngCore) -> HttpReply {
        let bound = self.is_bound();
        // One credential: the owner's password while bound, blank once reset.
        let password = self.account.accepted(bound, Login::Tpap)[0]
            .password
            .expose()
            .to_owned();
        let salt = self.tpap_salt();
        let Sessions::Tpap(sessions) = &mut self.sessions else {
            return HttpReply::status(500);
        };
        let r = sessions.register(user_random, &sha1_hex(&password), &salt, rng);
        let shadow = json!({"type": "password_shadow", "params": {"passwd_id": 2}});
        HttpReply::json(&wire::registered(&r, Some(shadow)))
    }

    fn tpap_share(
        &mut self,
        share: &[u8],
        confirm: &[u8],
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> HttpReply {
        let Sessions::Tpap(sessions) = &mut self.sessions else {
            return HttpReply::status(500);
        };
        match sessions.share(share, confirm, now, rng) {
            ShareResult::Accepted {
                dev_confirm,
                stok,
                start_seq,
            } => {
                self.account.tpap_logged_in();
                HttpReply::json(&wire::accepted(&dev_confirm, &stok, start_seq))
            }
            ShareResult::WrongPassword => {
                self.account.failed();
                let failed = self.account.failed_logins();
                let left = self.account.tpap_allowance().saturating_sub(failed);
                HttpReply::json(&json!({"error_code": code::CREDENTIALS, "error_info": {
                    "lockedMinute": 0, "failedAttempts": failed, "remainAttempts": left}}))
            }
            ShareResult::Malformed => error_reply(smart_code::PARAMS_ERROR),
        }
    }

    fn tpap_request(
        &mut self,
        stok: &str,
        body: &[u8],
        now: Instant,
    ) -> (HttpReply, Option<Effect>) {
        let Sessions::Tpap(sessions) = &mut self.sessions else {
            return (HttpReply::status(500), None);
        };
        match sessions.open(stok, body) {
            Ok((cipher, seq, plain)) => {
                let (reply, effect) = self.handle_bytes(&plain, now);
                (HttpReply::bytes(cipher.seal(seq, &reply)), effect)
            }
            // In plain text, as the devices answer a session they don't know.
            Err(RequestRefusal::UnknownSession) => (error_reply(code::SESSION_INVALID), None),
            Err(RequestRefusal::BadRequest) => (HttpReply::status(400), None),
        }
    }

    /// The device's MAC as the probe reports it: twelve upper-case hex digits.
    fn mac_plain(&self) -> String {
        match &self.model {
            super::Model::Smart(d) => d.mac_dashed().replace(['-', ':'], "").to_uppercase(),
            _ => String::new(),
        }
    }

    /// The device's PBKDF2 salt: fixed per device, as a stored verifier's is.
    fn tpap_salt(&self) -> Vec<u8> {
        let mut salt = super::md5_hex(&self.mac_plain()).into_bytes();
        salt.truncate(16);
        salt
    }
}
