//! Device profiles: what each simulated model answers, taken from real captures.
//!
//! Each file in `profiles/` is one capture's response dict (`modules`), keyed by module and
//! method, with the capture it came from in `_capture`. Captures are scrubbed (MAC suffix and
//! ids zeroed, alias masked), so per-device identity is generated at start-up from the
//! inventory row; the MAC's vendor prefix comes from the capture.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::catalog;

/// Base model → profile JSON, embedded at build time so the binary needs no data files.
const PROFILES: &[(&str, &str)] = &[
    ("HS100", include_str!("profiles/HS100.json")),
    ("HS103", include_str!("profiles/HS103.json")),
    ("HS105", include_str!("profiles/HS105.json")),
    ("HS110", include_str!("profiles/HS110.json")),
    ("KP115", include_str!("profiles/KP115.json")),
    ("KP125", include_str!("profiles/KP125.json")),
    ("EP10", include_str!("profiles/EP10.json")),
    ("EP25", include_str!("profiles/EP25.json")),
    ("HS200", include_str!("profiles/HS200.json")),
    ("HS220", include_str!("profiles/HS220.json")),
    ("KS230", include_str!("profiles/KS230.json")),
    ("KL130", include_str!("profiles/KL130.json")),
    ("HS300", include_str!("profiles/HS300.json")),
    ("KP303", include_str!("profiles/KP303.json")),
    ("KP400", include_str!("profiles/KP400.json")),
    ("EP40", include_str!("profiles/EP40.json")),
];

/// IOT models whose KLAP hardware revision was captured, served instead of the XOR capture
/// when the row says `protocol=klap`: the HS100(UK) hardware 4.1 speaks IOT JSON over KLAP v1.
const KLAP_PROFILES: &[(&str, &str)] = &[("HS100", include_str!("profiles/HS100-klap.json"))];

/// The model served for a row that names none: a plain, common plug.
pub const DEFAULT_MODEL: &str = "HS103";

/// One model's captured answers. Parsed once per capture and shared: a fleet of 100,000 of
/// one model holds one copy.
#[derive(Debug, Clone)]
pub struct Profile {
    pub base_model: &'static str,
    /// `{module: {method: reply}}` as captured.
    pub modules: Arc<Value>,
}

/// The parsed `modules` of each capture, in the order of its table, parsed on first use.
static PARSED: [OnceLock<Arc<Value>>; PROFILES.len()] = [const { OnceLock::new() }; PROFILES.len()];
static PARSED_KLAP: [OnceLock<Arc<Value>>; KLAP_PROFILES.len()] =
    [const { OnceLock::new() }; KLAP_PROFILES.len()];

/// The capture of `base` in `table`, parsed into its cell of `parsed` the first time.
fn cached(
    table: &[(&'static str, &'static str)],
    parsed: &'static [OnceLock<Arc<Value>>],
    base: &str,
) -> Option<Profile> {
    let i = table.iter().position(|(name, _)| *name == base)?;
    let (name, json) = table[i];
    let modules = parsed[i].get_or_init(|| {
        let doc: Value = serde_json::from_str(json).expect("embedded profiles are valid JSON");
        Arc::new(doc["modules"].clone())
    });
    Some(Profile {
        base_model: name,
        modules: Arc::clone(modules),
    })
}

impl Profile {
    /// The profile for a model string (region suffix ignored).
    pub fn for_model(model: &str) -> Option<Profile> {
        cached(PROFILES, &PARSED, &catalog::base_model(model))
    }

    /// The profile of the model's KLAP hardware revision if one was captured, else its usual
    /// one (served over KLAP v1 all the same).
    pub fn for_model_over_klap(model: &str) -> Option<Profile> {
        cached(KLAP_PROFILES, &PARSED_KLAP, &catalog::base_model(model))
            .or_else(|| Profile::for_model(model))
    }

    /// Names of every model that has a profile.
    pub fn known_models() -> impl Iterator<Item = &'static str> {
        PROFILES.iter().map(|(name, _)| *name)
    }

    /// The captured sysinfo.
    pub fn sysinfo(&self) -> &Value {
        &self.modules["system"]["get_sysinfo"]
    }

    /// The captured reply for `module.method`, if the capture has it.
    pub fn reply(&self, module: &str, method: &str) -> Option<&Value> {
        self.modules.get(module)?.get(method)
    }

    pub fn has_module(&self, module: &str) -> bool {
        self.modules.get(module).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_MODELS: &[&str] = &[
        "HS100", "HS103", "HS105", "HS110", "KP115", "KP125", "EP10", "EP25", "HS200", "HS220",
        "KS230", "KL130", "HS300", "KP303", "KP400", "EP40",
    ];

    #[test]
    fn every_required_model_has_a_profile_whose_sysinfo_names_it() {
        for model in ISSUE_MODELS {
            let p = Profile::for_model(model).unwrap_or_else(|| panic!("{model} missing"));
            let sys = p.sysinfo();
            assert!(
                sys["model"].as_str().unwrap().starts_with(model),
                "{model}: {}",
                sys["model"]
            );
            for key in ["sw_ver", "hw_ver", "deviceId", "alias"] {
                assert!(sys.get(key).is_some(), "{model} lacks {key}");
            }
            assert!(
                sys.get("mac").or(sys.get("mic_mac")).is_some(),
                "{model} lacks a MAC"
            );
        }
    }

    #[test]
    fn strip_profiles_have_as_many_children_as_the_catalog_says() {
        for model in ["HS300", "KP303", "KP400", "EP40"] {
            let p = Profile::for_model(model).unwrap();
            let children = p.sysinfo()["children"].as_array().unwrap().len();
            assert_eq!(
                children,
                usize::from(catalog::lookup(model).outlets),
                "{model}"
            );
        }
    }

    #[test]
    fn every_profile_model_is_in_the_catalog() {
        for model in Profile::known_models() {
            assert_ne!(catalog::lookup(model), catalog::UNKNOWN, "{model}");
        }
    }

    #[test]
    fn the_hs100_over_klap_is_the_hardware_4_1_capture() {
        let p = Profile::for_model_over_klap("HS100(UK)").unwrap();
        assert_eq!(p.sysinfo()["hw_ver"], "4.1");
        assert_eq!(p.sysinfo()["mic_type"], "IOT.SMARTPLUGSWITCH");
        assert_eq!(
            Profile::for_model_over_klap("KP115").unwrap().sysinfo()["model"],
            "KP115(US)"
        );
    }

    #[test]
    fn devices_of_one_model_share_one_parsed_capture() {
        let (a, b) = (Profile::for_model("HS103(US)"), Profile::for_model("HS103"));
        assert!(Arc::ptr_eq(&a.unwrap().modules, &b.unwrap().modules));
        let (klap, xor) = (
            Profile::for_model_over_klap("HS100"),
            Profile::for_model("HS100"),
        );
        assert!(!Arc::ptr_eq(&klap.unwrap().modules, &xor.unwrap().modules));
    }

    #[test]
    fn region_suffix_is_ignored() {
        assert_eq!(Profile::for_model("kp303(uk)").unwrap().base_model, "KP303");
        assert!(Profile::for_model("ZZ1").is_none());
    }
}
