//! The model catalog: one table from model strings to device family, the protocol the model
//! speaks, what can be done to it remotely, what a person does at it, and the times our
//! verification relies on.
//!
//! Times follow the vendor's guidance: a device needs about a minute to boot and rejoin Wi-Fi
//! after a power cycle (cameras and doorbells longer), and an upstream outlet is held off for
//! 10–15 s so the device fully discharges.
//!
//! The catalog is data: `plan` and the run read the family, protocol, outlets and boot time; the
//! remote capabilities, procedures, app path and off time are here for what comes next.
//!
//! - `models.rs`: the table.
//! - `procedure.rs`: the physical procedures, in closed words.

use std::time::Duration;

mod models;
mod procedure;
#[cfg(test)]
mod tests;

pub use procedure::{Button, Hold, Light, Procedure, Then, Tool};

use models::MODELS;

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
    /// Kasa cameras and the KD110 doorbell: XOR-autokey JSON, base64 in a form body, `POST
    /// https://<ip>:10443/data/LINKIE2.json` over TLS 1.2 with static-RSA suites only. They
    /// also answer legacy UDP 9999 discovery as `IOT.IPCAMERA`.
    Linkie2,
    /// Tapo cameras and doorbells: SMART JSON over HTTPS (SslAes), `multipleRequest` only. Newer
    /// firmware may announce TPAP instead (a C220 was seen to); discovery must say.
    SslAes,
    /// A hub child with no IP of its own: SslAes to the hub, each request wrapped in
    /// `controlChild` with the child's `device_id`.
    HubChild {
        /// The hub model the child is reached through.
        hub: &'static str,
    },
    /// Not known; discovery or the inventory must say.
    Unknown,
}

/// What the device does when asked over the LAN, by the protocol it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub reboot: bool,
    pub factory_reset: bool,
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
    /// What can be done remotely, over `protocol`.
    pub remote: Remote,
    /// The restart a person does at the device, keeping its settings; `None` when the guidance
    /// gives none for the family.
    pub soft: Option<Procedure>,
    /// The factory reset a person does at the device; `None` when the guidance gives none.
    pub factory: Option<Procedure>,
    /// Where the app offers a factory reset, when it does (the device must be online).
    pub app_path: Option<&'static str>,
    /// How long an upstream outlet stays off in a power cycle.
    pub off_time: Duration,
}

/// Plugs, switches and bulbs: boot and rejoin Wi-Fi in about a minute (vendor guidance).
const BOOT_SMALL: Duration = Duration::from_secs(60);
/// Cameras restart in 30–60 s after a reset and then rejoin Wi-Fi; allow two minutes.
const BOOT_CAMERA: Duration = Duration::from_secs(120);
/// Doorbells take "a couple of minutes" per the vendor.
const BOOT_DOORBELL: Duration = Duration::from_secs(180);

/// Off time for plugs, strips, switches and bulbs: the low end of the vendor's 10–15 s.
const OFF_SMALL: Duration = Duration::from_secs(10);
/// Off time for cameras, doorbells and unknown models: the high end of the vendor's 10–15 s, for
/// devices behind a power adapter or transformer and for devices we know nothing about.
const OFF_LONG: Duration = Duration::from_secs(15);

/// The app's reset, in the words. The vendor guidance offers it for plugs (while online)
/// and for the newer Kasa cameras (KC400, KC420, some KC200).
const APP_RESET: &str = "Device Settings > Advanced > Reset Device";

/// The entry for models we don't know: conservative timings (longest boot, long off time, no
/// relay, no procedure claimed). `remote` says both commands may be tried, because that is what
/// a run does today for an unknown model; the device's answer decides.
pub const UNKNOWN: ModelInfo = ModelInfo {
    model: "unknown",
    family: Family::Unknown,
    protocol: Protocol::Unknown,
    outlets: 0,
    boot_time: BOOT_DOORBELL,
    remote: Remote {
        reboot: true,
        factory_reset: true,
    },
    soft: None,
    factory: None,
    app_path: None,
    off_time: OFF_LONG,
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

/// The warning for a model the catalog doesn't know, `None` for a known one.
pub fn unknown_model_warning(model: &str) -> Option<String> {
    if lookup(model) != UNKNOWN {
        return None;
    }
    Some(format!(
        "unknown model {:?}: conservative defaults ({} s boot, {} s off); no physical or app \
         reset procedure known, see the device's manual",
        model.trim(),
        UNKNOWN.boot_time.as_secs(),
        UNKNOWN.off_time.as_secs()
    ))
}
