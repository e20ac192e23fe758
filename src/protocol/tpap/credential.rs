//! The string TPAP's SPAKE2+ runs on instead of the password, chosen by the `extra_crypt` the
//! device sends in its `pake_register` reply: `password_shadow` with `passwd_id` 2 is the
//! lower-case hex SHA-1 of the password (plugs, strips, switches); a camera that names no
//! transform takes the lower-case hex MD5. Every other transform is refused before the login
//! is finished, so a guess never costs the device one of its failed-login allowance.

use serde_json::Value;

pub use crate::protocol::aes::cipher::sha1_hex;
pub use crate::protocol::linkie2::auth::md5_hex;

/// Whether the device is a camera or doorbell, which changes the default transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Plug,
    Camera,
}

/// A transform fleetreset does not implement, named as the device named it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the device asks for a password transform fleetreset does not implement: {0}")]
pub struct UnknownTransform(pub String);

/// The credential string for `password` under the device's `extra_crypt` (absent or null
/// when it sent none).
pub fn credential(
    password: &str,
    extra_crypt: Option<&Value>,
    family: Family,
) -> Result<String, UnknownTransform> {
    let extra = extra_crypt.filter(|v| !v.is_null());
    match (extra, family) {
        (None, Family::Camera) => Ok(md5_hex(password)),
        (None, Family::Plug) => Err(UnknownTransform(
            "none (a plug, strip or switch is expected to name password_shadow)".into(),
        )),
        (Some(e), _) => match (e["type"].as_str(), e["params"]["passwd_id"].as_i64()) {
            (Some("password_shadow"), Some(2)) => Ok(sha1_hex(password)),
            _ => Err(UnknownTransform(
                crate::inert::Inert(&e.to_string()).to_string(),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn password_shadow_2_is_sha1_and_a_camera_without_a_transform_is_md5() {
        let shadow = json!({"type": "password_shadow", "params": {"passwd_id": 2}});
        assert_eq!(
            credential("hunter2", Some(&shadow), Family::Plug).unwrap(),
            "f3bbbd66a63d4bf1747940578ec3d0103530e21d"
        );
        assert_eq!(
            credential("hunter2", None, Family::Camera).unwrap(),
            "2ab96390c7dbe3439de74d0c9b0b1767"
        );
        assert_eq!(
            credential("hunter2", Some(&Value::Null), Family::Camera).unwrap(),
            "2ab96390c7dbe3439de74d0c9b0b1767"
        );
    }

    #[test]
    fn other_transforms_are_refused_naming_them_as_inert_text() {
        for extra in [
            json!({"type": "password_shadow", "params": {"passwd_id": 5, "passwd_rounds": 5000}}),
            json!({"type": "password_authkey"}),
            json!({"type": "\u{1b}[31mred"}),
        ] {
            let e = credential("pw", Some(&extra), Family::Plug).unwrap_err();
            assert!(!e.to_string().contains('\u{1b}'), "{e}");
            assert!(e.to_string().contains("does not implement"), "{e}");
        }
        assert!(credential("pw", None, Family::Plug).is_err());
    }
}
