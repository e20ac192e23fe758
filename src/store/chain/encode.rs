//! The canonical encoding of each chained record: the row as stored, as JSON with its object
//! keys sorted at every depth and no whitespace (`{"a":1,"b":[true,null]}`), numbers and
//! strings as serde_json writes them. The writer and `audit verify` both encode through these
//! functions, the writer from the values it stores and the verifier from the stored text, so a
//! row that was not changed encodes to the same bytes.
//!
//! Timestamps are the stored text (`2026-11-21T05:47:08.123Z`), JSON columns (`parameters`,
//! `detail`, `data`) their parsed value, absent values `null`.

use serde_json::{Value, json};

/// The run as created: what never changes after `create_run`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub id: String,
    pub action: String,
    pub inventory_path: String,
    pub inventory_sha256: String,
    pub parameters: Value,
    pub operator: String,
    pub tool_version: String,
    pub started_at: String,
}

/// `runs.status` and `runs.finished_at`, which change as the run ends and is resumed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Status {
    pub status: String,
    pub finished_at: Option<String>,
}

/// A job as the inventory described it when the run was created.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    pub device_id: String,
    /// The number; a value of another type read from a row edited by hand stays as read.
    pub seq: Value,
    pub host: String,
    pub model: Option<String>,
    pub mac: Option<String>,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub method: String,
}

/// A job's outcome columns. All `None` after `resume` reopened a skipped job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub device_id: String,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub finished_at: Option<String>,
}

/// `jobs.identity_verified`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identity {
    pub device_id: String,
    /// `true` or `false`; a value of another type read from an edited row stays as read.
    pub verified: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub id: i64,
    pub device_id: Option<String>,
    pub at: String,
    pub state: Option<String>,
    pub kind: String,
    pub detail: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub device_id: String,
    pub phase: String,
    pub taken_at: String,
    pub data: Value,
}

impl Run {
    pub fn encode(&self) -> String {
        canonical(&json!({
            "id": self.id,
            "action": self.action,
            "inventory_path": self.inventory_path,
            "inventory_sha256": self.inventory_sha256,
            "parameters": self.parameters,
            "operator": self.operator,
            "tool_version": self.tool_version,
            "started_at": self.started_at,
        }))
    }
}

impl Status {
    pub fn encode(&self) -> String {
        canonical(&json!({ "status": self.status, "finished_at": self.finished_at }))
    }
}

impl Job {
    pub fn encode(&self) -> String {
        canonical(&json!({
            "device_id": self.device_id,
            "seq": self.seq,
            "host": self.host,
            "model": self.model,
            "mac": self.mac,
            "site": self.site,
            "unit": self.unit,
            "method": self.method,
        }))
    }
}

impl Outcome {
    /// No outcome: a job not ended yet, or reopened by `resume`.
    pub fn none(device_id: &str) -> Outcome {
        Outcome {
            device_id: device_id.to_string(),
            outcome: None,
            reason: None,
            detail: None,
            finished_at: None,
        }
    }

    pub fn encode(&self) -> String {
        canonical(&json!({
            "device_id": self.device_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "finished_at": self.finished_at,
        }))
    }
}

impl Identity {
    pub fn encode(&self) -> String {
        canonical(&json!({ "device_id": self.device_id, "verified": self.verified }))
    }
}

impl Event {
    pub fn encode(&self) -> String {
        canonical(&json!({
            "id": self.id,
            "device_id": self.device_id,
            "at": self.at,
            "state": self.state,
            "kind": self.kind,
            "detail": self.detail,
        }))
    }
}

impl Snapshot {
    pub fn encode(&self) -> String {
        canonical(&json!({
            "device_id": self.device_id,
            "phase": self.phase,
            "taken_at": self.taken_at,
            "data": self.data,
        }))
    }
}

/// JSON with object keys sorted (by their UTF-8 bytes) at every depth, and no whitespace.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(out, value);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        // Scalars have one serde_json form; strings are escaped as JSON requires.
        scalar => out.push_str(&scalar.to_string()),
    }
}
