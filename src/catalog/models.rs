//! The table: every model the tool knows, with its family, protocol and outlets; the rest follows
//! from the family, with per-model exceptions spelled out where the guidance names the model.

use super::procedure::{self, Hold, Procedures};
use super::{
    APP_RESET, BOOT_CAMERA, BOOT_DOORBELL, BOOT_SMALL, Family, ModelInfo, OFF_LONG, OFF_SMALL,
    Protocol, Remote,
};

/// Both commands over IOT or SMART, as the tool sends them today.
const REMOTE_ALL: Remote = Remote {
    reboot: true,
    factory_reset: true,
};

/// Cameras and doorbells: a reboot over their protocol (Kasa `set_reboot`, Tapo `rebootDevice`),
/// and no local factory-reset command is known for any of them.
const REMOTE_REBOOT_ONLY: Remote = Remote {
    reboot: true,
    factory_reset: false,
};

/// A model's entry, everything but its name, protocol and outlets decided by its family.
const fn entry(model: &'static str, family: Family, protocol: Protocol, outlets: u8) -> ModelInfo {
    let (boot_time, off_time, remote, procedures, app_path): (_, _, _, Procedures, _) = match family
    {
        Family::Plug | Family::Strip | Family::WallSwitch | Family::Dimmer => (
            BOOT_SMALL,
            OFF_SMALL,
            REMOTE_ALL,
            procedure::button_device(BOOT_SMALL),
            // Given for plugs; strips, switches and dimmers get it as the nearest family.
            Some(APP_RESET),
        ),
        Family::Bulb | Family::LightStrip => {
            (BOOT_SMALL, OFF_SMALL, REMOTE_ALL, procedure::NONE, None)
        }
        Family::Camera => (
            BOOT_CAMERA,
            OFF_LONG,
            REMOTE_REBOOT_ONLY,
            procedure::camera(Hold::secs(15, 15), BOOT_CAMERA),
            // Only the models the guidance names; see `with_app`.
            None,
        ),
        Family::Doorbell => (
            BOOT_DOORBELL,
            OFF_LONG,
            REMOTE_REBOOT_ONLY,
            procedure::doorbell(BOOT_DOORBELL),
            None,
        ),
        Family::Unknown => return super::UNKNOWN,
    };
    ModelInfo {
        model,
        family,
        protocol,
        outlets,
        boot_time,
        remote,
        soft: procedures.soft,
        factory: procedures.factory,
        app_path,
        off_time,
    }
}

const fn iot(model: &'static str, family: Family, outlets: u8) -> ModelInfo {
    entry(model, family, Protocol::Iot, outlets)
}

const fn smart(model: &'static str, family: Family, outlets: u8) -> ModelInfo {
    entry(model, family, Protocol::Smart, outlets)
}

const fn mixed(model: &'static str, family: Family, outlets: u8) -> ModelInfo {
    entry(model, family, Protocol::Mixed, outlets)
}

/// A Kasa camera, over LINKIE2.
const fn kasa_camera(model: &'static str) -> ModelInfo {
    entry(model, Family::Camera, Protocol::Linkie2, 0)
}

/// A Tapo camera, over SslAes. Its physical procedures are the camera family's (the guidance
/// quoted is for Kasa cameras).
const fn tapo_camera(model: &'static str) -> ModelInfo {
    entry(model, Family::Camera, Protocol::SslAes, 0)
}

/// A camera the guidance says offers a reset in the app.
const fn with_app(info: ModelInfo) -> ModelInfo {
    ModelInfo {
        app_path: Some(APP_RESET),
        ..info
    }
}

/// The catalog. Order matters only for readability; lookups match the whole base model.
pub(super) const MODELS: &[ModelInfo] = &[
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
    // Kasa cameras. Physical procedures: the vendor's Kasa camera guidance, for all of them.
    kasa_camera("KC100"),
    kasa_camera("KC105"),
    kasa_camera("KC110"),
    kasa_camera("KC115"),
    kasa_camera("KC120"),
    kasa_camera("KC125"),
    // "Some KC200" offer the app's reset: try the app, then the button.
    with_app(kasa_camera("KC200")),
    with_app(kasa_camera("KC400")),
    kasa_camera("KC401"),
    kasa_camera("KC410S"),
    // The guidance says "KC420"; the KC420WS is the model sold under that name.
    with_app(kasa_camera("KC420WS")),
    kasa_camera("EC60"),
    kasa_camera("EC70"),
    // The Kasa doorbell: the doorbell guidance is its own.
    entry("KD110", Family::Doorbell, Protocol::Linkie2, 0),
    // Tapo cameras.
    tapo_camera("C100"),
    tapo_camera("C110"),
    tapo_camera("C200"),
    tapo_camera("C210"),
    tapo_camera("C220"),
    tapo_camera("C310"),
    tapo_camera("C320WS"),
    tapo_camera("C520WS"),
    tapo_camera("TC65"),
    tapo_camera("TC70"),
    // Tapo doorbells; physical procedures are the Kasa doorbell's, as family guidance.
    entry("D130", Family::Doorbell, Protocol::SslAes, 0),
    // The D230 has no IP of its own. Whether `rebootDevice` through `controlChild` reboots it
    // is unverified, so no remote reboot is claimed.
    ModelInfo {
        remote: Remote {
            reboot: false,
            factory_reset: false,
        },
        ..entry(
            "D230",
            Family::Doorbell,
            Protocol::HubChild { hub: "H200" },
            0,
        )
    },
];
