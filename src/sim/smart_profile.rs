//! SMART (Tapo and current Kasa firmware) profiles: what each simulated model answers, taken
//! from real captures.
//!
//! Each file in `profiles/smart-*.json` is one capture: its UDP 20002 discovery result
//! (`discovery`), its answer to every method it was asked (`methods`, where a bare integer is
//! the error code the device gave), and for strips one outlet's answers (`child`) with every
//! outlet's captured state (`children`, by position). Captures are scrubbed (ids zeroed,
//! names masked), so identity is generated from the inventory row, as for IOT profiles.
//!
//! A few captures predate getters python-kasa 0.12.0 asks for (`get_emeter_data` and
//! `get_emeter_vgain_igain` on energy-monitoring v2, `get_homekit_info`). Left out, an outlet
//! loses every module queried after the gap, because a multipleRequest stops at its first
//! error and python-kasa does not ask outlets again. Those few answers are filled in from the
//! same capture's readings (another capture's shape for HomeKit) and listed in the file's
//! `_synthesized`.

use std::time::Duration;

use serde_json::Value;

use crate::catalog::{self, Family};

/// One row per SMART model: base model, capture, family. The model strings are the captures'
/// own; lookups ignore the region suffix, as the catalog's do.
const PROFILES: &[(&str, &str, Family)] = &[
    (
        "P100",
        include_str!("profiles/smart-P100.json"),
        Family::Plug,
    ),
    (
        "P110",
        include_str!("profiles/smart-P110.json"),
        Family::Plug,
    ),
    (
        "P115",
        include_str!("profiles/smart-P115.json"),
        Family::Plug,
    ),
    (
        "KP125M",
        include_str!("profiles/smart-KP125M.json"),
        Family::Plug,
    ),
    // Hardware 2.6; hardware 1.0 is the IOT EP25 in `profile.rs`.
    (
        "EP25",
        include_str!("profiles/smart-EP25.json"),
        Family::Plug,
    ),
    (
        "P300",
        include_str!("profiles/smart-P300.json"),
        Family::Strip,
    ),
    (
        "P304M",
        include_str!("profiles/smart-P304M.json"),
        Family::Strip,
    ),
];

/// Boot and Wi-Fi rejoin time of these plugs and strips: about a minute, the vendor's figure
/// for every plug (the catalog's IOT plugs use the same).
pub const BOOT_TIME: Duration = Duration::from_secs(60);

/// One SMART model's captured answers.
#[derive(Debug, Clone)]
pub struct SmartProfile {
    pub base_model: &'static str,
    pub family: Family,
    /// The capture's discovery result (`device_type`, `device_model`, `mgt_encrypt_schm`, …).
    pub discovery: Value,
    /// `{method: result or error code}` as captured.
    pub methods: Value,
    /// One outlet's `{method: result}`, for strips.
    pub child: Option<Value>,
    /// Each outlet's captured `(device_on, on_time)`, in position order.
    pub outlets: Vec<(bool, u64)>,
}

impl SmartProfile {
    /// The profile for a model string (region suffix and case ignored).
    pub fn for_model(model: &str) -> Option<SmartProfile> {
        let base = catalog::base_model(model);
        let (name, json, family) = PROFILES.iter().find(|(name, _, _)| *name == base)?;
        let doc: Value = serde_json::from_str(json).expect("embedded profiles are valid JSON");
        let outlets = doc["children"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|o| {
                        (
                            o["device_on"].as_bool().unwrap_or(false),
                            o["on_time"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(SmartProfile {
            base_model: name,
            family: *family,
            discovery: doc["discovery"].clone(),
            methods: doc["methods"].clone(),
            child: doc.get("child").cloned(),
            outlets,
        })
    }

    /// Names of every model that has a SMART profile.
    pub fn known_models() -> impl Iterator<Item = &'static str> {
        PROFILES.iter().map(|(name, _, _)| *name)
    }

    /// The captured `get_device_info`.
    pub fn device_info(&self) -> &Value {
        &self.methods["get_device_info"]
    }

    /// The model as the capture's discovery names it, with its region: `P110(UK)`.
    pub fn discovery_model(&self) -> &str {
        self.discovery["device_model"]
            .as_str()
            .unwrap_or(self.base_model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_smart_profile_names_its_model_and_has_what_python_kasa_reads_first() {
        for model in SmartProfile::known_models() {
            let p = SmartProfile::for_model(model).unwrap();
            assert_eq!(p.device_info()["model"], model, "{model}");
            assert!(p.discovery_model().starts_with(model), "{model}");
            for method in [
                "component_nego",
                "get_device_info",
                "get_connect_cloud_state",
            ] {
                assert!(p.methods.get(method).is_some(), "{model} lacks {method}");
            }
            assert!(
                p.device_info()["mac"].as_str().unwrap().contains('-'),
                "{model}: SMART MACs use dashes"
            );
            assert!(
                p.discovery["device_type"]
                    .as_str()
                    .unwrap()
                    .starts_with("SMART."),
                "{model}"
            );
        }
    }

    #[test]
    fn strips_have_an_outlet_template_and_every_outlets_state() {
        for (model, outlets) in [("P300", 3), ("P304M", 4)] {
            let p = SmartProfile::for_model(model).unwrap();
            assert_eq!(p.family, Family::Strip);
            assert_eq!(p.outlets.len(), outlets, "{model}");
            let child = p.child.as_ref().unwrap();
            assert_eq!(
                child["get_device_info"]["category"],
                "plug.powerstrip.sub-plug"
            );
        }
        assert!(SmartProfile::for_model("P110").unwrap().child.is_none());
    }

    #[test]
    fn lookups_ignore_region_and_case_and_know_only_smart_models() {
        assert_eq!(
            SmartProfile::for_model("p110(uk)").unwrap().base_model,
            "P110"
        );
        assert_eq!(
            SmartProfile::for_model("EP25(US)").unwrap().device_info()["hw_ver"],
            "2.6"
        );
        assert!(SmartProfile::for_model("HS100").is_none());
    }
}
