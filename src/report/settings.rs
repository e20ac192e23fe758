//! The run's settings in words, for `summary.md`: `rate 5/s, burst 1, concurrency 32, …` from
//! the validated parameters stored with the run. Each known key reads as the option a person
//! typed; a key this build doesn't know (a newer fleetreset's, a hand-edited row) is still
//! shown, as `key value`, so nothing stored is hidden.

use serde_json::{Map, Value};

use super::markdown;

/// How a writer escapes stored text for its format: [`markdown::escape`] for `summary.md`,
/// [`super::html::escape`] for `report.html`.
pub type Escape = fn(&str) -> String;
use crate::model::Action;

/// Keys shown by a rule of their own, in this order; `action` is the summary's title.
const KNOWN: &[&str] = &[
    "action",
    "rate_per_s",
    "burst",
    "concurrency",
    "connect_timeout_s",
    "request_timeout_s",
    "time_scale",
    "away_budget_s",
    "leave_budget_s",
    "boot_budget_factor",
    "poll_interval_s",
    "safety",
    "inventory",
];

/// Keys of `safety`, in order.
const SAFETY: &[&str] = &[
    "canary",
    "batch",
    "max_fail",
    "window",
    "allow_unverified_identity",
    "max_auth_failures",
];

/// The settings line, or `None` when the run stored no parameters.
pub fn line(action: Action, parameters: &Value) -> Option<String> {
    line_with(action, parameters, markdown::escape)
}

/// [`line`], with stored text escaped by `escape`.
pub fn line_with(action: Action, parameters: &Value, escape: Escape) -> Option<String> {
    let map = parameters.as_object().filter(|m| !m.is_empty())?;
    let mut parts: Vec<String> = Vec::new();
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    if let Some(v) = get("rate_per_s") {
        parts.push(format!("rate {}/s", number(v, escape)));
    }
    if let Some(v) = get("burst") {
        parts.push(format!("burst {}", number(v, escape)));
    }
    if let Some(v) = get("concurrency") {
        parts.push(format!("concurrency {}", number(v, escape)));
    }
    if let Some(v) = get("connect_timeout_s") {
        parts.push(format!("connect timeout {} s", number(v, escape)));
    }
    if let Some(v) = get("request_timeout_s") {
        parts.push(format!("request timeout {} s", number(v, escape)));
    }
    if let Some(v) = get("time_scale") {
        parts.push(time_scale(v, escape));
    }
    let waits = device_waits(action, map, escape);
    if !waits.is_empty() {
        parts.push(format!("device-time waits ({})", waits.join("; ")));
    }
    if let Some(safety) = get("safety") {
        match safety.as_object() {
            Some(s) => parts.extend(safety_parts(action, s, escape)),
            None => parts.push(unknown("safety", safety, escape)),
        }
    }
    if let Some(v) = get("inventory") {
        parts.push(inventory_read(v, escape));
    }
    parts.extend(
        map.iter()
            .filter(|(k, v)| !KNOWN.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| unknown(k, v, escape)),
    );
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `time scale 0.01 (1 device second took 10 ms)`; plain `time scale 1` for real devices.
fn time_scale(v: &Value, escape: Escape) -> String {
    match v.as_f64() {
        Some(scale) if scale > 0.0 && scale != 1.0 => format!(
            "time scale {} (1 device second took {} ms of real time)",
            number(v, escape),
            trim(scale * 1000.0)
        ),
        _ => format!("time scale {}", number(v, escape)),
    }
}

/// The budgets a job of this action waits in, all device time (scaled by the time scale).
fn device_waits(action: Action, map: &Map<String, Value>, escape: Escape) -> Vec<String> {
    let mut waits = Vec::new();
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    match action {
        Action::PowerCycle => {
            if let Some(v) = get("away_budget_s") {
                waits.push(format!("{} s to go away", number(v, escape)));
            }
            if let Some(v) = get("boot_budget_factor") {
                waits.push(format!("{}× its boot time to come back", number(v, escape)));
            }
        }
        Action::FactoryReset => {
            if let Some(v) = get("leave_budget_s") {
                waits.push(format!("{} s to leave the network", number(v, escape)));
            }
        }
    }
    if let Some(v) = get("poll_interval_s") {
        waits.push(format!("a look every {} s", number(v, escape)));
    }
    waits
}

fn safety_parts(action: Action, s: &Map<String, Value>, escape: Escape) -> Vec<String> {
    let mut parts = Vec::new();
    let get = |k: &str| s.get(k);
    match get("canary").and_then(Value::as_u64) {
        Some(0) | None => parts.push("no canary".to_string()),
        Some(n) => parts.push(format!("canary {n}")),
    }
    match get("batch").and_then(Value::as_str) {
        Some(b) => parts.push(format!("batches of {}", escape(b))),
        None => parts.push("one batch".to_string()),
    }
    match get("max_fail").and_then(Value::as_str) {
        Some(m) => parts.push(format!("max failures {}", escape(m))),
        None => parts.push("no failure limit".to_string()),
    }
    match get("window").and_then(Value::as_str) {
        Some(w) => parts.push(format!("window {}", escape(w))),
        None => parts.push("no window".to_string()),
    }
    if let Some(v) = get("max_auth_failures").filter(|v| !v.is_null()) {
        parts.push(format!("stop after {} refused logins", number(v, escape)));
    }
    // Only a factory reset asks for a MAC; the flag changes nothing for a power cycle.
    if action == Action::FactoryReset {
        match get("allow_unverified_identity").and_then(Value::as_bool) {
            Some(true) => parts.push(
                "devices without a MAC reset unchecked (--allow-unverified-identity)".to_string(),
            ),
            _ => parts.push("devices without a MAC refused".to_string()),
        }
    }
    parts.extend(
        s.iter()
            .filter(|(k, v)| !SAFETY.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| unknown(k, v, escape)),
    );
    parts
}

/// How the inventory was read, as the options that read it so: `inventory read with
/// --delimiter ',' --encoding auto`, and `--sheet NAME` for a workbook's sheet.
fn inventory_read(v: &Value, escape: Escape) -> String {
    let Some(m) = v.as_object() else {
        return unknown("inventory", v, escape);
    };
    let mut words = Vec::new();
    match m.get("delimiter") {
        Some(Value::Number(n)) => {
            let shown = match n.as_u64().and_then(|b| u8::try_from(b).ok()) {
                Some(b'\t') => "tab".to_string(),
                Some(b) if b.is_ascii_graphic() => {
                    format!("'{}'", escape(&char::from(b).to_string()))
                }
                _ => escape(&n.to_string()),
            };
            words.push(format!("--delimiter {shown}"));
        }
        Some(Value::Null) | None => {}
        Some(other) => words.push(unknown("--delimiter", other, escape)),
    }
    if let Some(e) = m.get("encoding").filter(|e| !e.is_null()) {
        words.push(unknown("--encoding", e, escape));
    }
    if let Some(sheet) = m.get("sheet").filter(|e| !e.is_null()) {
        words.push(unknown("--sheet", sheet, escape));
    }
    words.extend(
        m.iter()
            .filter(|(k, v)| {
                !["delimiter", "encoding", "sheet"].contains(&k.as_str()) && !v.is_null()
            })
            .map(|(k, v)| unknown(k, v, escape)),
    );
    if words.is_empty() {
        return "inventory read with the defaults".to_string();
    }
    format!("inventory read with {}", words.join(" "))
}

/// A stored number as people write it: `1` for `1.0`, `0.01`.
fn number(v: &Value, escape: Escape) -> String {
    match v {
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => u.to_string(),
            (None, Some(f)) => trim(f),
            _ => n.to_string(),
        },
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// `1` for 1.0, `0.5`, `10` for 10.000000000000002 (a scaled product).
fn trim(f: f64) -> String {
    let rounded = (f * 1e6).round() / 1e6;
    format!("{rounded}")
}

fn unknown(key: &str, v: &Value, escape: Escape) -> String {
    let value = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("{} {}", escape(key), escape(&value))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What `run` stores: `RunConfig::to_json` with `Safety::to_json` under `safety`.
    fn stored(safety: Value) -> Value {
        json!({
            "action": "factory-reset",
            "away_budget_s": 30.0,
            "boot_budget_factor": 2,
            "burst": 1,
            "concurrency": 8,
            "connect_timeout_s": 1.0,
            "leave_budget_s": 60.0,
            "poll_interval_s": 1.0,
            "rate_per_s": 20,
            "request_timeout_s": 1.0,
            "safety": safety,
            "time_scale": 0.01
        })
    }

    #[test]
    fn the_demo_settings_read_as_options_not_keys() {
        let p = stored(json!({
            "allow_unverified_identity": false, "batch": null, "canary": 0,
            "max_auth_failures": 3, "max_fail": null, "window": null
        }));
        assert_eq!(
            line(Action::FactoryReset, &p).unwrap(),
            "rate 20/s, burst 1, concurrency 8, connect timeout 1 s, request timeout 1 s, \
             time scale 0.01 (1 device second took 10 ms of real time), \
             device-time waits (60 s to leave the network; a look every 1 s), \
             no canary, one batch, no failure limit, no window, stop after 3 refused logins, \
             devices without a MAC refused"
        );
    }

    #[test]
    fn limits_and_the_unverified_identity_flag_are_named_as_given() {
        let p = stored(json!({
            "allow_unverified_identity": true, "batch": "25%", "canary": 2,
            "max_auth_failures": 1, "max_fail": "10%", "window": "22:00-06:00"
        }));
        let text = line(Action::FactoryReset, &p).unwrap();
        assert!(
            text.ends_with(
                "canary 2, batches of 25%, max failures 10%, window 22:00-06:00, \
                 stop after 1 refused logins, devices without a MAC reset unchecked (--allow-unverified-identity)"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_power_cycle_says_nothing_of_the_flag_it_does_not_use_and_names_its_own_waits() {
        let p = stored(json!({"allow_unverified_identity": true, "canary": 0}));
        let text = line(Action::PowerCycle, &p).unwrap();
        assert!(!text.contains("MAC"), "{text}");
        assert!(
            text.contains(
                "device-time waits (30 s to go away; 2× its boot time to come back; a look every 1 s)"
            ),
            "{text}"
        );
    }

    #[test]
    fn how_the_inventory_was_read_reads_as_the_options_not_json() {
        let p = json!({"inventory": {"delimiter": 44, "encoding": "auto", "sheet": null}});
        assert_eq!(
            line(Action::PowerCycle, &p).unwrap(),
            "inventory read with --delimiter ',' --encoding auto"
        );
        let p = json!({"inventory": {"delimiter": 9, "encoding": "windows-1252", "sheet": "B|2"}});
        assert_eq!(
            line(Action::PowerCycle, &p).unwrap(),
            "inventory read with --delimiter tab --encoding windows-1252 --sheet B\\|2"
        );
        let p = json!({"inventory": {"delimiter": 124}});
        assert_eq!(
            line(Action::PowerCycle, &p).unwrap(),
            "inventory read with --delimiter '\\|'"
        );
    }

    #[test]
    fn real_time_runs_have_no_scale_note_and_unknown_keys_are_still_shown_inert() {
        let p = json!({"rate_per_s": 5, "time_scale": 1.0, "new_knob": "a|b\n"});
        assert_eq!(
            line(Action::PowerCycle, &p).unwrap(),
            "rate 5/s, time scale 1, new_knob a\\|b\\n"
        );
        assert_eq!(line(Action::PowerCycle, &json!({})), None);
    }
}
