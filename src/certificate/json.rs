//! The JSON forms, the ones that are signed: canonical so that the same record always gives the
//! same bytes. Keys sorted at every level, no whitespace between tokens, one trailing newline,
//! and every string (keys included) made inert ([`crate::inert`]): device text reaches the file
//! with its control and reordering characters spelled out, never raw.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::model::{BUNDLE_FORMAT, Bundle, Certificate};
use crate::inert::inert;

/// `value` as canonical JSON.
pub fn canonical(value: &impl Serialize) -> serde_json::Result<String> {
    let value = sorted_inert(serde_json::to_value(value)?);
    let mut text = serde_json::to_string(&value)?;
    text.push('\n');
    Ok(text)
}

/// Keys in byte order at every level (whatever order the map type keeps), strings inert.
fn sorted_inert(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(inert(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_inert).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map
                .into_iter()
                .map(|(k, v)| (inert(&k).into_owned(), sorted_inert(v)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect::<Map<String, Value>>())
        }
        other => other,
    }
}

/// `<id>.json`.
pub fn certificate(cert: &Certificate) -> serde_json::Result<String> {
    canonical(cert)
}

/// `bundle.json`: the run, each certificate by id with its device, the devices not sanitized,
/// the sample, the chain head. The certificates themselves are their own files.
pub fn bundle(bundle: &Bundle) -> serde_json::Result<String> {
    let certificates: Vec<Value> = bundle
        .certificates
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "asset_id": c.device.asset_id,
                "model": c.device.model,
                "mac": c.device.mac,
                "site": c.device.site,
                "unit": c.device.unit,
                "method": c.sanitization.method,
                "verifier": c.verifier.name,
                "file": format!("{}.json", c.id),
            })
        })
        .collect();
    canonical(&json!({
        "format": BUNDLE_FORMAT,
        "run": bundle.run,
        "sanitizes": bundle.sanitizes,
        "statement": bundle.statement,
        "certificates": certificates,
        "not_sanitized": bundle.not_sanitized,
        "sample": bundle.sample,
        "chain": bundle.chain,
        "signature": bundle.signature,
        "issued_by": bundle.issued_by,
    }))
}
