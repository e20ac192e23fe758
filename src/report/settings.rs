//! The run's settings in words, for `summary.md`: `rate 5/s, burst 1, concurrency 32, …` from
//! the validated parameters stored with the run. Each known key reads as the option a person
//! typed; a key this build doesn't know (a newer fleetreset's, a hand-edited row) is still
//! shown, as `key value`, so nothing stored is hidden.

use serde_json::Value;

use super::markdown;
use crate::model::Action;
use crate::store::{InventoryRead, RunParameters, SafetyParameters};

/// How a writer escapes stored text for its format: [`markdown::escape`] for `summary.md`,
/// [`super::html::escape`] for `report.html`.
pub type Escape = fn(&str) -> String;

/// The settings line, or `None` when the run stored no parameters. Parameters this build can't
/// read as [`RunParameters`] (a value of another type, edited by hand) are shown key by key,
/// as stored, so nothing is hidden.
pub fn line(action: Action, parameters: &Value) -> Option<String> {
    line_with(action, parameters, markdown::escape)
}

/// [`line`], with stored text escaped by `escape`.
pub fn line_with(action: Action, parameters: &Value, escape: Escape) -> Option<String> {
    let map = parameters.as_object().filter(|m| !m.is_empty())?;
    let Ok(p) = RunParameters::from_value(parameters) else {
        let parts: Vec<String> = map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| unknown(k, v, escape))
            .collect();
        return (!parts.is_empty()).then(|| parts.join(", "));
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(v) = p.rate_per_s {
        parts.push(format!("rate {v}/s"));
    }
    if let Some(v) = p.burst {
        parts.push(format!("burst {v}"));
    }
    if let Some(v) = p.concurrency {
        parts.push(format!("concurrency {v}"));
    }
    if let Some(v) = p.connect_timeout_s {
        parts.push(format!("connect timeout {} s", trim(v)));
    }
    if let Some(v) = p.request_timeout_s {
        parts.push(format!("request timeout {} s", trim(v)));
    }
    if let Some(v) = p.time_scale {
        parts.push(time_scale(v));
    }
    let waits = device_waits(action, &p);
    if !waits.is_empty() {
        parts.push(format!("device-time waits ({})", waits.join("; ")));
    }
    if let Some(safety) = &p.safety {
        parts.extend(safety_parts(action, safety, escape));
    }
    if let Some(read) = &p.inventory {
        parts.push(inventory_read(read, escape));
    }
    // Keys without a rule of their own, as `key value` in key order: the ones this build
    // doesn't know, and `method` (shown so since it was first stored).
    let method = p.method.map(|m| Value::from(m.as_str()));
    let mut rest: Vec<(&str, &Value)> = p
        .other
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain(method.as_ref().map(|m| ("method", m)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    rest.sort_by_key(|(k, _)| *k);
    parts.extend(rest.into_iter().map(|(k, v)| unknown(k, v, escape)));
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `time scale 0.01 (1 device second took 10 ms)`; plain `time scale 1` for real devices.
fn time_scale(scale: f64) -> String {
    if scale > 0.0 && scale != 1.0 {
        format!(
            "time scale {} (1 device second took {} ms of real time)",
            trim(scale),
            trim(scale * 1000.0)
        )
    } else {
        format!("time scale {}", trim(scale))
    }
}

/// The budgets a job of this action waits in, all device time (scaled by the time scale).
fn device_waits(action: Action, p: &RunParameters) -> Vec<String> {
    let mut waits = Vec::new();
    match action {
        Action::PowerCycle => {
            if let Some(v) = p.away_budget_s {
                waits.push(format!("{} s to go away", trim(v)));
            }
            if let Some(v) = p.boot_budget_factor {
                waits.push(format!("{v}× its boot time to come back"));
            }
        }
        Action::FactoryReset => {
            if let Some(v) = p.leave_budget_s {
                waits.push(format!("{} s to leave the network", trim(v)));
            }
        }
    }
    if let Some(v) = p.poll_interval_s {
        waits.push(format!("a look every {} s", trim(v)));
    }
    waits
}

fn safety_parts(action: Action, s: &SafetyParameters, escape: Escape) -> Vec<String> {
    let mut parts = Vec::new();
    match s.canary {
        Some(0) | None => parts.push("no canary".to_string()),
        Some(n) => parts.push(format!("canary {n}")),
    }
    match &s.batch {
        Some(b) => parts.push(format!("batches of {}", escape(b))),
        None => parts.push("one batch".to_string()),
    }
    match &s.max_fail {
        Some(m) => parts.push(format!("max failures {}", escape(m))),
        None => parts.push("no failure limit".to_string()),
    }
    match &s.window {
        Some(w) => parts.push(format!("window {}", escape(w))),
        None => parts.push("no window".to_string()),
    }
    if let Some(n) = s.max_auth_failures {
        parts.push(format!("stop after {n} refused logins"));
    }
    // Only a factory reset asks for a MAC; the flag changes nothing for a power cycle.
    if action == Action::FactoryReset {
        match s.allow_unverified_identity {
            Some(true) => parts.push(
                "devices without a MAC reset unchecked (--allow-unverified-identity)".to_string(),
            ),
            Some(false) | None => parts.push("devices without a MAC refused".to_string()),
        }
    }
    parts.extend(
        s.other
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| unknown(k, v, escape)),
    );
    parts
}

/// How the inventory was read, as the options that read it so: `inventory read with
/// --delimiter ',' --encoding auto`, and `--sheet NAME` for a workbook's sheet.
fn inventory_read(read: &InventoryRead, escape: Escape) -> String {
    let mut words = Vec::new();
    if let Some(d) = read.delimiter {
        let shown = match d {
            b'\t' => "tab".to_string(),
            b if b.is_ascii_graphic() => format!("'{}'", escape(&char::from(b).to_string())),
            b => escape(&b.to_string()),
        };
        words.push(format!("--delimiter {shown}"));
    }
    if let Some(e) = read.encoding {
        words.push(unknown("--encoding", &serde_json::json!(e), escape));
    }
    if let Some(sheet) = &read.sheet {
        words.push(unknown("--sheet", &Value::from(sheet.as_str()), escape));
    }
    words.extend(
        read.other
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| unknown(k, v, escape)),
    );
    if words.is_empty() {
        return "inventory read with the defaults".to_string();
    }
    format!("inventory read with {}", words.join(" "))
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

    #[test]
    fn the_method_and_unknown_keys_come_last_in_key_order() {
        let p = json!({"zeta": 1, "method": "upstream", "alpha": "x", "rate_per_s": 5});
        assert_eq!(
            line(Action::PowerCycle, &p).unwrap(),
            "rate 5/s, alpha x, method upstream, zeta 1"
        );
    }

    #[test]
    fn parameters_this_build_cannot_read_are_shown_key_by_key() {
        let p = json!({"rate_per_s": "fast", "burst": 1, "window": null});
        assert_eq!(
            line(Action::PowerCycle, &p).unwrap(),
            "burst 1, rate_per_s fast"
        );
    }
}
