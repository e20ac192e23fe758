//! The verifier's sample (`fleetreset audit sample`), read back from its events: who drew it,
//! with which seed and percentage, which devices, what each check found, and the result.
//!
//! Verification (the tool saw the technique complete) and validation (someone else looked
//! afterwards and found the outcome adequate) are separate: the sample is the second, so a
//! certificate names the sample's verifier only for a device that was drawn and checked, and
//! never names anyone otherwise.

use serde_json::Value;

use super::evidence::when;
use super::model::{SampleCheck, SampleSummary, Verifier};
use crate::model::{EventKind, RunEventKind};
use crate::report::local_time::Zone;
use crate::store::RunRecord;

fn text(detail: &Value, key: &str) -> Option<String> {
    detail.get(key)?.as_str().map(str::to_string)
}

/// Whether two names are the same person as far as text can tell.
fn same_person(a: &str, b: &str) -> bool {
    crate::audit_sample::same_person(a, b)
}

/// The run's latest sample: its `sample_drawn` event, the `sample_checked` events after it of
/// the devices it drew, and the `sample_finished` after it. `None` when there is no sample.
pub fn summary(record: &RunRecord, zone: Zone) -> Option<SampleSummary> {
    let start = record
        .events
        .iter()
        .rposition(|e| e.kind.as_str() == RunEventKind::SampleDrawn.as_str())?;
    let drawn = &record.events[start];
    let d = &drawn.detail;
    let devices: Vec<String> = d
        .get("devices")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let later = &record.events[start + 1..];
    let mut checks: Vec<SampleCheck> = Vec::new();
    for e in later
        .iter()
        .filter(|e| e.kind.as_str() == EventKind::SampleChecked.as_str())
    {
        let Some(id) = e.device_id.as_deref() else {
            continue;
        };
        if !devices.iter().any(|d| d == id) {
            continue;
        }
        // A device checked again: the later check stands.
        checks.retain(|c| c.asset_id != id);
        checks.push(SampleCheck {
            asset_id: id.to_string(),
            result: text(&e.detail, "result").unwrap_or_else(|| "unknown".into()),
            address: text(&e.detail, "address"),
            evidence: text(&e.detail, "evidence"),
            post: e.detail.get("post").cloned().unwrap_or(Value::Null),
            at: when(&e.at, zone),
        });
    }
    let finished = later
        .iter()
        .rfind(|e| e.kind.as_str() == RunEventKind::SampleFinished.as_str());
    let verifier = text(d, "verifier").unwrap_or_default();
    Some(SampleSummary {
        independent: !verifier.trim().is_empty() && !same_person(&verifier, &record.run.operator),
        verifier,
        operator: text(d, "operator").unwrap_or_default(),
        percent: d.get("percent").cloned().unwrap_or(Value::Null),
        seed: text(d, "seed").unwrap_or_default(),
        population: d.get("population").cloned().unwrap_or(Value::Null),
        size: d.get("size").cloned().unwrap_or(Value::Null),
        devices,
        draw: d.get("draw").cloned().unwrap_or(Value::Null),
        drawn_at: when(&drawn.at, zone),
        checks,
        result: finished.and_then(|f| text(&f.detail, "result")),
        finished_at: finished.map(|f| when(&f.at, zone)),
    })
}

/// The verifier block of one device's certificate.
pub fn verifier(sample: Option<&SampleSummary>, asset_id: &str) -> Verifier {
    let none = |statement: String| Verifier {
        name: None,
        result: None,
        at: None,
        evidence: None,
        statement,
    };
    let Some(sample) = sample else {
        return none("not independently verified: no sample of this run was drawn".into());
    };
    if !sample.devices.iter().any(|d| d == asset_id) {
        return none("not independently verified: not drawn in the run's sample".into());
    }
    let Some(check) = sample.checks.iter().find(|c| c.asset_id == asset_id) else {
        return none(format!(
            "not independently verified: drawn in the sample of {}, not checked yet",
            sample.verifier
        ));
    };
    let independence = if sample.independent {
        "an independent verifier"
    } else {
        "NOT independent: the verifier is the run's operator"
    };
    let outcome = if check.result == "passed" {
        "passed".to_string()
    } else {
        format!(
            "{}: the outcome was NOT validated; review this device before relying on this certificate",
            check.result
        )
    };
    Verifier {
        name: Some(sample.verifier.clone()),
        result: Some(check.result.clone()),
        at: Some(check.at.clone()),
        evidence: check.evidence.clone(),
        statement: format!(
            "sampled and checked by {} ({independence}): {outcome}",
            sample.verifier
        ),
    }
}

/// The sample in one sentence, for the bundle's statement.
pub fn sentence(sample: &SampleSummary) -> String {
    let who = if sample.independent {
        format!("{} (independent)", sample.verifier)
    } else {
        format!("{} (NOT independent: the run's operator)", sample.verifier)
    };
    let failed: Vec<&str> = sample
        .checks
        .iter()
        .filter(|c| c.result != "passed")
        .map(|c| c.asset_id.as_str())
        .collect();
    let result = match sample.result.as_deref() {
        Some(r) => format!("result {r}"),
        None => "not finished".to_string(),
    };
    let mut text = format!(
        "Sample of {} device(s) ({}%) checked by {who}: {result}.",
        sample.devices.len(),
        sample.percent
    );
    if !failed.is_empty() {
        text.push_str(&format!(" Not passed: {}.", failed.join(", ")));
    }
    text
}
