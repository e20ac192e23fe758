//! The model catalog: one table from model strings to device family, the protocol the model
//! speaks, and the times our verification relies on.
//!
//! Times follow the vendor's guidance: a device needs about a minute to boot and rejoin Wi-Fi
//! after a power cycle (cameras and doorbells longer), and an upstream outlet is held off for
//! 10–15 s so the device fully discharges.

use std::time::Duration;

/// What kind of device a model is; decides commands and manual procedures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Plug,
    /// A power strip or multi-outlet plug whose outlets can be switched one by one.
    Strip,
    WallSwitch,
    Dimmer,
    Bulb,
    LightStrip,
    Camera,
    Doorbell,
    Unknown,
}

impl Family {
    /// Whether this device can power something else (and so be used as an upstream switch).
    pub fn has_relay(self) -> bool {
        matches!(self, Family::Plug | Family::Strip)
    }
}

/// The local protocol a model speaks out of the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Legacy IOT JSON, XOR cipher, TCP 9999, on every hardware version.
    Iot,
    /// Legacy on older hardware, IOT JSON over KLAP v1 on newer (HS100 hardware 4.1) or SMART
    /// on newer (EP25 hardware 2.6): discovery or the inventory must say.
    Mixed,
    /// SMART JSON over KLAP (current firmware) or AES (older firmware): discovery or the
    /// inventory must say which.
    Smart,
    /// Not known; discovery or the inventory must say.
    Unknown,
}

/// Everything the tool knows about one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model without its region suffix, e.g. `HS110` for `HS110(EU)`.
    pub model: &'static str,
    pub family: Family,
    pub protocol: Protocol,
    /// Number of switchable outlets for strips, 0 otherwise.
    pub outlets: u8,
    /// Typical time from power-on (or a reboot command) until the device answers on the network.
    pub boot_time: Duration,
}

/// Plugs, switches and bulbs: boot and rejoin Wi-Fi in about a minute (vendor guidance).
const BOOT_SMALL: Duration = Duration::from_secs(60);
/// Cameras restart in 30–60 s after a reset and then rejoin Wi-Fi; allow two minutes.
const BOOT_CAMERA: Duration = Duration::from_secs(120);
/// Doorbells take "a couple of minutes" per the vendor.
const BOOT_DOORBELL: Duration = Duration::from_secs(180);

const fn iot(model: &'static str, family: Family, outlets: u8) -> ModelInfo {
    ModelInfo {
        model,
        family,
        protocol: Protocol::Iot,
        outlets,
        boot_time: BOOT_SMALL,
    }
}

const fn smart(model: &'static str, family: Family, outlets: u8) -> ModelInfo {
    ModelInfo {
        model,
        family,
        protocol: Protocol::Smart,
        outlets,
        boot_time: BOOT_SMALL,
    }
}

const fn mixed(model: &'static str, family: Family, outlets: u8) -> ModelInfo {
    ModelInfo {
        model,
        family,
        protocol: Protocol::Mixed,
        outlets,
        boot_time: BOOT_SMALL,
    }
}

/// The catalog. Order matters only for readability; lookups match the whole base model.
const MODELS: &[ModelInfo] = &[
    mixed("HS100", Family::Plug, 0),
    iot("HS103", Family::Plug, 0),
    iot("HS105", Family::Plug, 0),
    iot("HS110", Family::Plug, 0),
    iot("KP100", Family::Plug, 0),
    iot("KP105", Family::Plug, 0),
    iot("KP115", Family::Plug, 0),
    iot("KP125", Family::Plug, 0),
    iot("KP401", Family::Plug, 0),
    iot("EP10", Family::Plug, 0),
    mixed("EP25", Family::Plug, 0),
    smart("P100", Family::Plug, 0),
    smart("P105", Family::Plug, 0),
    smart("P110", Family::Plug, 0),
    smart("P110M", Family::Plug, 0),
    smart("P115", Family::Plug, 0),
    smart("P125M", Family::Plug, 0),
    smart("KP125M", Family::Plug, 0),
    smart("P300", Family::Strip, 3),
    smart("P304M", Family::Strip, 4),
    smart("P306", Family::Strip, 6),
    smart("EP40M", Family::Strip, 2),
    iot("HS107", Family::Strip, 2),
    iot("HS300", Family::Strip, 6),
    iot("KP200", Family::Strip, 2),
    iot("KP303", Family::Strip, 3),
    iot("KP400", Family::Strip, 2),
    iot("EP40", Family::Strip, 2),
    iot("HS200", Family::WallSwitch, 0),
    iot("HS210", Family::WallSwitch, 0),
    iot("KS200", Family::WallSwitch, 0),
    iot("KS200M", Family::WallSwitch, 0),
    iot("HS220", Family::Dimmer, 0),
    iot("KS220", Family::Dimmer, 0),
    iot("KS220M", Family::Dimmer, 0),
    iot("KS230", Family::Dimmer, 0),
    iot("ES20M", Family::Dimmer, 0),
    iot("KP405", Family::Dimmer, 0),
    iot("KL50", Family::Bulb, 0),
    iot("KL60", Family::Bulb, 0),
    iot("KL110", Family::Bulb, 0),
    iot("KL120", Family::Bulb, 0),
    iot("KL125", Family::Bulb, 0),
    iot("KL130", Family::Bulb, 0),
    iot("KL135", Family::Bulb, 0),
    iot("LB100", Family::Bulb, 0),
    iot("LB110", Family::Bulb, 0),
    iot("LB130", Family::Bulb, 0),
    iot("KL400L5", Family::LightStrip, 0),
    iot("KL400L10", Family::LightStrip, 0),
    iot("KL420L5", Family::LightStrip, 0),
    iot("KL430", Family::LightStrip, 0),
    ModelInfo {
        model: "C210",
        family: Family::Camera,
        protocol: Protocol::Unknown,
        outlets: 0,
        boot_time: BOOT_CAMERA,
    },
    ModelInfo {
        model: "D130",
        family: Family::Doorbell,
        protocol: Protocol::Unknown,
        outlets: 0,
        boot_time: BOOT_DOORBELL,
    },
];

/// The entry for models we don't know: conservative (longest boot time, no relay).
pub const UNKNOWN: ModelInfo = ModelInfo {
    model: "unknown",
    family: Family::Unknown,
    protocol: Protocol::Unknown,
    outlets: 0,
    boot_time: BOOT_DOORBELL,
};

/// Strips a region suffix: `HS110(EU)` → `HS110`, `kp303(uk) ` → `KP303`.
pub fn base_model(model: &str) -> String {
    let trimmed = model.trim();
    let base = trimmed.split('(').next().unwrap_or(trimmed);
    base.trim().to_ascii_uppercase()
}

/// Looks a model string up (with or without region); `UNKNOWN` when it isn't in the table.
pub fn lookup(model: &str) -> ModelInfo {
    let base = base_model(model);
    MODELS
        .iter()
        .find(|m| m.model == base)
        .copied()
        .unwrap_or(UNKNOWN)
}

/// All known models, for listings and tests.
pub fn models() -> &'static [ModelInfo] {
    MODELS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_suffix_and_case_do_not_change_the_lookup() {
        assert_eq!(lookup("HS110(EU)"), lookup("hs110"));
        assert_eq!(lookup(" HS300(US) ").family, Family::Strip);
    }

    #[test]
    fn strips_know_their_outlet_count() {
        for (model, outlets) in [
            ("HS300", 6),
            ("KP303", 3),
            ("KP400", 2),
            ("EP40", 2),
            ("P304M", 4),
        ] {
            let info = lookup(model);
            assert_eq!(info.family, Family::Strip, "{model}");
            assert_eq!(info.outlets, outlets, "{model}");
        }
    }

    #[test]
    fn families_of_the_issue_models() {
        assert_eq!(lookup("HS100").protocol, Protocol::Mixed);
        assert_eq!(lookup("EP25").protocol, Protocol::Mixed);
        assert_eq!(lookup("P110(UK)").protocol, Protocol::Smart);
        assert_eq!(lookup("P300").outlets, 3);
        let cases = [
            ("HS103", Family::Plug),
            ("HS105", Family::Plug),
            ("KP115", Family::Plug),
            ("KP125", Family::Plug),
            ("EP10", Family::Plug),
            ("EP25", Family::Plug),
            ("HS200", Family::WallSwitch),
            ("HS220", Family::Dimmer),
            ("KS230", Family::Dimmer),
            ("KL130", Family::Bulb),
        ];
        for (model, family) in cases {
            assert_eq!(lookup(model).family, family, "{model}");
            assert_ne!(lookup(model).protocol, Protocol::Unknown, "{model}");
        }
    }

    #[test]
    fn unknown_models_get_the_conservative_entry() {
        let info = lookup("ZZ9000(XX)");
        assert_eq!(info, UNKNOWN);
        assert!(info.boot_time >= lookup("HS100").boot_time);
        assert!(!info.family.has_relay());
    }

    #[test]
    fn every_model_appears_once() {
        let mut names: Vec<_> = MODELS.iter().map(|m| m.model).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
