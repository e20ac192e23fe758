//! What the audit shows of a job's effect, in words a spreadsheet column can hold: whether the
//! device was bound to a cloud account before and after the action (a factory reset unbinds it)
//! and whether it was seen leaving the network (what a factory-reset device does). Each is
//! `true`, `false` or `unknown`: a device that left the network can't be asked whether it is
//! still bound, and a job that never probed its device knows nothing of it.

use std::collections::HashSet;

use serde_json::Value;

use crate::model::{Action, EventKind};
use crate::store::RunRecord;

/// `true`, `false` or `unknown`.
pub fn word(known: Option<bool>) -> &'static str {
    match known {
        Some(true) => "true",
        Some(false) => "false",
        None => "unknown",
    }
}

/// Whether a snapshot's device was bound to a cloud account: the protocol-neutral summary's
/// `bound`, else the legacy `cloud.binded` (1 bound, 0 not).
pub fn bound_in(snapshot: Option<&Value>) -> Option<bool> {
    let data = snapshot?;
    if let Some(b) = data
        .get("summary")
        .and_then(|s| s.get("bound"))
        .and_then(Value::as_bool)
    {
        return Some(b);
    }
    match data
        .get("cloud")
        .and_then(|c| c.get("binded"))
        .and_then(Value::as_i64)
    {
        Some(1) => Some(true),
        Some(0) => Some(false),
        _ => None,
    }
}

/// Whether the device was bound before the action from the intent's pre-state (`pre.bound`),
/// for a job whose pre snapshot is missing.
pub fn bound_in_intent(detail: &Value) -> Option<bool> {
    detail.get("pre")?.get("bound")?.as_bool()
}

/// The jobs whose device the audit saw leave the network: a `left_network` event of the run,
/// or, for a factory reset, `resume` finding the device gone (`observed_away`).
pub fn left_network(record: &RunRecord) -> HashSet<&str> {
    let reset = record.run.action == Action::FactoryReset;
    record
        .events
        .iter()
        .filter(|e| {
            e.kind == EventKind::LeftNetwork || (reset && e.kind == EventKind::ObservedAway)
        })
        .filter_map(|e| e.device_id.as_deref())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn binding_is_read_from_the_summary_then_the_legacy_cloud_answer() {
        assert_eq!(
            bound_in(Some(&json!({"summary": {"bound": true}}))),
            Some(true)
        );
        assert_eq!(
            bound_in(Some(
                &json!({"summary": {"bound": false}, "cloud": {"binded": 1}})
            )),
            Some(false)
        );
        assert_eq!(bound_in(Some(&json!({"cloud": {"binded": 1}}))), Some(true));
        assert_eq!(
            bound_in(Some(&json!({"cloud": {"binded": 0}}))),
            Some(false)
        );
        assert_eq!(bound_in(Some(&json!({"cloud": null}))), None);
        assert_eq!(bound_in(None), None);
        assert_eq!(word(None), "unknown");
    }

    #[test]
    fn the_intent_holds_the_binding_before_the_command() {
        assert_eq!(
            bound_in_intent(&json!({"pre": {"bound": true}})),
            Some(true)
        );
        assert_eq!(bound_in_intent(&json!({"pre": {"bound": null}})), None);
        assert_eq!(bound_in_intent(&json!({})), None);
    }
}
