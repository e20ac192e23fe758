//! [`RunParameters`]: the validated settings a run stores in `runs.parameters` (and in its
//! `run_started` event), written and read back by this one type. `run` writes every field;
//! `resume` and the reports read them. Every field is optional and unknown keys are kept, so
//! the parameters of runs recorded by earlier versions (fewer keys) and by later ones (more)
//! still read: what is missing reads as `None`, and each reader says what that means.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunRow;
use crate::inventory::{Encoding, ReadOptions};
use crate::model::{Action, MethodChoice};

/// The parameters of a run, as stored. Keys are the JSON keys, unchanged since they shipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Jobs started per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Real seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_s: Option<f64>,
    /// Real seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_s: Option<f64>,
    /// Real seconds per device second; runs recorded without it ran in real time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// `--method`; runs recorded before it existed chose by the catalog, as `auto` does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<MethodChoice>,
    /// The device-time waits the run used (constants of the build that ran it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub away_budget_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leave_budget_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_budget_factor: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<SafetyParameters>,
    /// How the inventory was read, so `resume` reads it the same way; runs recorded before
    /// this was stored read with the defaults, as they did then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryRead>,
    /// Keys this build doesn't know (a newer fleetreset's, a hand-edited row): kept, so the
    /// reports can still show them.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The blast-radius limits (`parameters.safety`). The amounts and the window are kept as the
/// options are written (`25%`, `22:00-06:00`): `resume` checks them again by the same rules
/// as the command line's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SafetyParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<usize>,
    /// `None` (stored `null`): one batch.
    pub batch: Option<String>,
    /// `None` (stored `null`): no failure limit.
    pub max_fail: Option<String>,
    /// `None` (stored `null`): no window.
    pub window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_unverified_identity: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_auth_failures: Option<usize>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// How the inventory was read (`parameters.inventory`): [`ReadOptions`] as stored, each
/// option `None` where the run stored none, so a report says only what the run recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InventoryRead {
    /// `None` (stored `null`): detected from the header row.
    pub delimiter: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `None` (stored `null`): the workbook's first visible sheet.
    pub sheet: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl From<&ReadOptions> for InventoryRead {
    fn from(read: &ReadOptions) -> InventoryRead {
        InventoryRead {
            delimiter: read.delimiter,
            encoding: Some(read.encoding),
            sheet: read.sheet.clone(),
            other: BTreeMap::new(),
        }
    }
}

impl InventoryRead {
    /// The options to read the inventory again as the run did; what is missing is the default.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            delimiter: self.delimiter,
            encoding: self.encoding.unwrap_or_default(),
            sheet: self.sheet.clone(),
        }
    }
}

impl RunParameters {
    /// How the run read its inventory; runs recorded before this was stored read with the
    /// defaults, as they did then.
    pub fn read_options(&self) -> ReadOptions {
        self.inventory
            .as_ref()
            .map(InventoryRead::read_options)
            .unwrap_or_default()
    }

    /// The JSON `runs.parameters` holds. A map's keys come out sorted, as they always were.
    pub fn to_value(&self) -> Value {
        // Numbers, strings, words and maps of JSON values: serde_json can't fail on them.
        serde_json::to_value(self).expect("run parameters serialize to JSON")
    }

    /// Parameters as stored; an error says which key holds what this build can't read.
    pub fn from_value(stored: &Value) -> Result<RunParameters, serde_json::Error> {
        RunParameters::deserialize(stored)
    }

    /// `time_scale`, or 1 (real time) for a run that stored none.
    pub fn time_scale_or_real(&self) -> f64 {
        self.time_scale.unwrap_or(1.0)
    }

    /// Whether the run let a factory reset act on devices without a MAC to check.
    pub fn allows_unverified_identity(&self) -> bool {
        self.safety
            .as_ref()
            .and_then(|s| s.allow_unverified_identity)
            .unwrap_or(false)
    }
}

impl RunRow {
    /// The run's parameters, typed. `parameters` itself stays the stored JSON, so `run.json`
    /// shows exactly what the database holds.
    pub fn parameters(&self) -> Result<RunParameters, serde_json::Error> {
        RunParameters::from_value(&self.parameters)
    }
}

#[cfg(test)]
mod tests;
