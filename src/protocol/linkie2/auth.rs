//! The Basic-auth secrets Kasa cameras are reached with. Sources disagree (camera reference
//! §1, "Credential encodings seen in the wild"), so a client tries them in the fixed order of
//! [`Encoding::ORDER`], one request each, and keeps the first the camera accepts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};

use crate::credentials::Credentials;

/// One way of writing the Basic-auth secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `email:md5hex(password)`: a TypeScript LINKIE2 client.
    EmailMd5,
    /// `email:base64(password)`: locam (`/data/LINKIE.json`), DaveGut's "dual_pass", go2rtc.
    EmailBase64,
    /// `email:password`: DaveGut's "single_pass", and his note on the KD110.
    EmailPlain,
    /// `admin:md5hex("admin")`, python-kasa's `KASACAMERA` default, which it always sends;
    /// works on unbound cameras (and reportedly bound EC60s).
    KasaDefault,
}

impl Encoding {
    /// The order they are tried in: the account's encodings first (python-kasa's reviewers
    /// asked for "supplied credentials first, then default"), the LINKIE2 client's own first
    /// among them, then the default.
    pub const ORDER: [Encoding; 4] = [
        Encoding::EmailMd5,
        Encoding::EmailBase64,
        Encoding::EmailPlain,
        Encoding::KasaDefault,
    ];

    /// The stable word for logs and the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::EmailMd5 => "email-md5",
            Encoding::EmailBase64 => "email-base64",
            Encoding::EmailPlain => "email-plain",
            Encoding::KasaDefault => "kasa-default",
        }
    }

    /// The encodings to try for a camera with (or without) a credentials profile.
    pub fn candidates(profile: bool) -> &'static [Encoding] {
        if profile {
            &Encoding::ORDER
        } else {
            &Encoding::ORDER[3..]
        }
    }

    /// The `user:secret` pair before base64, or `None` when it needs a profile and has none.
    pub fn pair(self, creds: Option<&Credentials>) -> Option<String> {
        let c = creds;
        Some(match self {
            Encoding::KasaDefault => format!("admin:{}", md5_hex("admin")),
            Encoding::EmailMd5 => {
                let c = c?;
                format!("{}:{}", c.username, md5_hex(c.password.expose()))
            }
            Encoding::EmailBase64 => {
                let c = c?;
                format!("{}:{}", c.username, B64.encode(c.password.expose()))
            }
            Encoding::EmailPlain => {
                let c = c?;
                format!("{}:{}", c.username, c.password.expose())
            }
        })
    }

    /// The `Authorization` header value.
    pub fn header(self, creds: Option<&Credentials>) -> Option<String> {
        self.pair(creds).map(|p| format!("Basic {}", B64.encode(p)))
    }
}

/// Lower-case hex MD5 (also a TPAP camera's credential).
pub fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_header_python_kasa_always_sends() {
        // python-kasa's `test_credentials_hash`, quoted in the camera reference §1.
        assert_eq!(
            Encoding::KasaDefault.header(None).unwrap(),
            "Basic YWRtaW46MjEyMzJmMjk3YTU3YTVhNzQzODk0YTBlNGE4MDFmYzM="
        );
    }

    #[test]
    fn the_account_encodings_need_a_profile_and_differ() {
        let c = Credentials::new("me@example.com", "hunter2");
        assert_eq!(Encoding::EmailMd5.pair(None), None);
        assert_eq!(
            Encoding::EmailMd5.pair(Some(&c)).unwrap(),
            "me@example.com:2ab96390c7dbe3439de74d0c9b0b1767"
        );
        assert_eq!(
            Encoding::EmailBase64.pair(Some(&c)).unwrap(),
            "me@example.com:aHVudGVyMg=="
        );
        assert_eq!(
            Encoding::EmailPlain.pair(Some(&c)).unwrap(),
            "me@example.com:hunter2"
        );
        assert_eq!(Encoding::candidates(false), &[Encoding::KasaDefault]);
        assert_eq!(Encoding::candidates(true)[0], Encoding::EmailMd5);
    }
}
