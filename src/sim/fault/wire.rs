//! What a faulty device puts on the wire: a reply's bytes as the faults shape them, and what
//! the connection does after.

use serde_json::{Map, Value};

use super::{Faults, HUGE_PADDING, HUGE_PADDING_FIELD, OVERSIZED_LEN};
use crate::protocol::iot::codec;

/// What the device does once a reply's bytes are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Reads the next request, as a healthy device does.
    Serve,
    /// Stays silent with the connection open, until the client leaves or the device goes dark.
    Silence,
    /// Closes the connection.
    Close,
}

/// One reply as it goes on the wire: its bytes, how they are written, and what comes after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub bytes: Vec<u8>,
    /// One byte every [`TRICKLE_INTERVAL`] instead of all at once.
    pub trickle: bool,
    pub then: Then,
}

impl Faults {
    /// What goes on the wire for `reply`, the device's true answer to `request`. Pure: the
    /// server writes the bytes and carries out `then`.
    pub fn wire(&self, request: &Value, mut reply: Value) -> Wire {
        if self.oversized {
            // A length no client should accept, then a little ciphertext and silence.
            let body = to_json(&reply);
            let mut bytes = OVERSIZED_LEN.to_be_bytes().to_vec();
            bytes.extend(codec::encrypt(&body[..body.len().min(16)]));
            return Wire {
                bytes,
                trickle: self.trickle,
                then: Then::Silence,
            };
        }
        let body = if self.huge_reply {
            if let Some(obj) = reply.as_object_mut() {
                obj.insert(
                    HUGE_PADDING_FIELD.into(),
                    Value::String("x".repeat(HUGE_PADDING)),
                );
            }
            to_json(&reply)
        } else if self.garbage {
            b"\x00\x13\x37 garbage, not JSON \xff\xfe".to_vec()
        } else if self.invalid_json {
            let mut body = to_json(&reply);
            // A reply is always an object, so this drops its closing brace.
            body.pop();
            body
        } else if self.wrong_shape {
            to_json(&wrong_shape(request))
        } else {
            to_json(&reply)
        };
        let frame = codec::encode_frame(&body);
        let (bytes, then) = if self.half_frame {
            let cut = codec::HEADER_LEN + body.len() / 2;
            (frame[..cut].to_vec(), Then::Silence)
        } else if self.drop_mid_reply {
            (frame[..frame.len() / 2].to_vec(), Then::Close)
        } else {
            (frame, Then::Serve)
        };
        Wire {
            bytes,
            trickle: self.trickle,
            then,
        }
    }
}

fn to_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serialises")
}

/// The request's modules and methods, each method answered `"ok"` instead of an object:
/// `{"system":{"get_sysinfo":{}}}` → `{"system":{"get_sysinfo":"ok"}}`. A module whose value
/// is not an object is answered `"ok"` itself; the strip `context` member is not mirrored.
pub fn wrong_shape(request: &Value) -> Value {
    let mut out = Map::new();
    for (module, methods) in request.as_object().into_iter().flatten() {
        if module == "context" {
            continue;
        }
        let answer = match methods.as_object() {
            Some(methods) => Value::Object(
                methods
                    .keys()
                    .map(|m| (m.clone(), Value::from("ok")))
                    .collect(),
            ),
            None => Value::from("ok"),
        };
        out.insert(module.clone(), answer);
    }
    Value::Object(out)
}
